/* vsl_log.c — levelled per-module logging. See vsl_log.h. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "vsl_log.h"
#include "vsl_time.h"
#include "vsl_util.h"

enum { LOG_LINE_MAX = 2048, LOG_MAX_OVERRIDES = 64 };

struct log_override {
	char name[32];
	int level;
};

/* Configuration is written by the control thread and read by loggers on any
 * thread. The mutex guards it; the generation counter lets each module cache
 * its effective level and only take the lock when the configuration changed. */
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static unsigned log_generation = 1;
static int log_default_level = VSL_LOG_INFO;
static struct log_override log_overrides[LOG_MAX_OVERRIDES];
static size_t log_n_overrides;
static const char *log_program = "vessel";
static int log_fd = STDERR_FILENO;
static char log_path[4096];

static const char *const level_names[] = {
	[VSL_LOG_OFF] = "OFF", [VSL_LOG_ERR] = "ERR", [VSL_LOG_WARN] = "WARN",
	[VSL_LOG_INFO] = "INFO", [VSL_LOG_DBG] = "DBG",
};

const char *vsl_log_level_name(enum vsl_log_level level)
{
	if ((unsigned)level >= VSL_ARRAY_SIZE(level_names))
		return "?";
	return level_names[level];
}

int vsl_log_level_parse(const char *name)
{
	static const struct { const char *name; int level; } names[] = {
		{ "off", VSL_LOG_OFF },    { "err", VSL_LOG_ERR },     { "error", VSL_LOG_ERR },
		{ "warn", VSL_LOG_WARN },  { "warning", VSL_LOG_WARN }, { "info", VSL_LOG_INFO },
		{ "dbg", VSL_LOG_DBG },    { "debug", VSL_LOG_DBG },
	};
	for (size_t i = 0; i < VSL_ARRAY_SIZE(names); i++)
		if (!strcasecmp(name, names[i].name))
			return names[i].level;
	return -EINVAL;
}

static int effective_level_locked(const char *module)
{
	for (size_t i = 0; i < log_n_overrides; i++)
		if (!strcmp(log_overrides[i].name, module))
			return log_overrides[i].level;
	return log_default_level;
}

bool vsl_log_enabled(struct vsl_log_module *m, enum vsl_log_level level)
{
	unsigned gen = __atomic_load_n(&log_generation, __ATOMIC_ACQUIRE);

	if (__atomic_load_n(&m->generation, __ATOMIC_RELAXED) != gen) {
		pthread_mutex_lock(&log_mutex);
		__atomic_store_n(&m->level, effective_level_locked(m->name), __ATOMIC_RELAXED);
		__atomic_store_n(&m->generation, log_generation, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&log_mutex);
	}
	return level != VSL_LOG_OFF && (int)level <= __atomic_load_n(&m->level, __ATOMIC_RELAXED);
}

int vsl_log_set_level(const char *module, enum vsl_log_level level)
{
	int ret = 0;

	if ((unsigned)level > VSL_LOG_DBG)
		return -EINVAL;
	pthread_mutex_lock(&log_mutex);
	if (!module || !strcmp(module, "all")) {
		log_default_level = level;
		log_n_overrides = 0;
	} else if (strlen(module) >= sizeof(log_overrides[0].name)) {
		ret = -EINVAL;
	} else {
		size_t i;
		for (i = 0; i < log_n_overrides; i++)
			if (!strcmp(log_overrides[i].name, module))
				break;
		if (i == log_n_overrides) {
			if (log_n_overrides == LOG_MAX_OVERRIDES) {
				ret = -ENOMEM;
				goto out;
			}
			snprintf(log_overrides[i].name, sizeof(log_overrides[i].name), "%s", module);
			log_n_overrides++;
		}
		log_overrides[i].level = level;
	}
out:
	if (!ret)
		__atomic_add_fetch(&log_generation, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&log_mutex);
	return ret;
}

/* A spec is validated whole before anything changes, and its global part
 * ("LEVEL" or "all:LEVEL") is applied before its per-module parts, so that
 * "rpc:dbg,all:err" and "all:err,rpc:dbg" mean the same. */
int vsl_log_set_spec(const char *spec)
{
	enum { MAX_ITEMS = 32 };
	struct { const char *module; int level; } items[MAX_ITEMS];
	char buf[512], *save = NULL, *tok;
	size_t n = 0;
	int ret;

	if (!spec || strlen(spec) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		const char *module = NULL;

		if (n == MAX_ITEMS)
			return -EINVAL;
		if (colon) {
			*colon = '\0';
			module = tok;
			if (!*module || strlen(module) >= sizeof(log_overrides[0].name))
				return -EINVAL;
			if (!strcmp(module, "all"))
				module = NULL;
		}
		items[n].module = module;
		items[n].level = vsl_log_level_parse(colon ? colon + 1 : tok);
		if (items[n].level < 0)
			return -EINVAL;
		n++;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			if ((pass == 0) != (items[i].module == NULL))
				continue;
			ret = vsl_log_set_level(items[i].module, items[i].level);
			if (ret)
				return ret;
		}
	}
	return 0;
}

void vsl_log_set_program(const char *program)
{
	log_program = program ? program : "vessel";
}

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	return fd < 0 ? vsl_neg_errno() : fd;
}

int vsl_log_open_file(const char *path)
{
	int fd = STDERR_FILENO, old;

	if (path) {
		fd = open_log(path);
		if (fd < 0)
			return fd;
	}
	pthread_mutex_lock(&log_mutex);
	old = log_fd;
	log_fd = fd;
	snprintf(log_path, sizeof(log_path), "%s", path ? path : "");
	pthread_mutex_unlock(&log_mutex);
	if (old != STDERR_FILENO)
		close(old);
	return 0;
}

int vsl_log_reopen(void)
{
	char path[sizeof(log_path)];

	pthread_mutex_lock(&log_mutex);
	snprintf(path, sizeof(path), "%s", log_path);
	pthread_mutex_unlock(&log_mutex);
	return path[0] ? vsl_log_open_file(path) : 0;
}

void vsl_log_va(struct vsl_log_module *m, enum vsl_log_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX], ts[40];
	int n, fd;

	if (!vsl_log_enabled(m, level))
		return;
	vsl_time_format_iso(vsl_time_wall_ns(), ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "%s|%s|%s|%s|", ts, log_program, m->name,
		     vsl_log_level_name(level));
	if (n < 0)
		return;
	if (n > (int)sizeof(line) / 2)  /* absurd program or module name */
		n = sizeof(line) / 2;
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;  /* truncated: keep the newline */
	line[n++] = '\n';
	/* One write per line: lines from different threads never interleave. The
	 * fd is read without the lock; a concurrent reopen closes the old fd only
	 * after publishing the new one, and a lost line then is acceptable. */
	fd = __atomic_load_n(&log_fd, __ATOMIC_RELAXED);
	if (write(fd, line, n) < 0) {
		/* Nowhere left to report this. */
	}
}

void vsl_log(struct vsl_log_module *m, enum vsl_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsl_log_va(m, level, fmt, ap);
	va_end(ap);
}

/* Token bucket refill; returns true when a line may be written. Not atomic: a
 * rate limiter is meant to be per thread or per call site on one thread, and
 * a race only lets an extra line through. */
static bool ratelimit_take(struct vsl_ratelimit *rl, unsigned *suppressed)
{
	uint64_t now = vsl_time_mono_ns();

	if (!rl->initialized) {
		rl->initialized = true;
		rl->tokens = rl->burst ? rl->burst : 1;
		rl->last_ns = now;
	} else if (rl->rate_per_min) {
		uint64_t per_token = 60ULL * 1000000000ULL / rl->rate_per_min;
		uint64_t add = (now - rl->last_ns) / per_token;

		if (add) {
			uint64_t t = rl->tokens + add;
			rl->tokens = t > rl->burst ? (rl->burst ? rl->burst : 1) : (unsigned)t;
			rl->last_ns += add * per_token;
		}
	}
	if (!rl->tokens) {
		rl->suppressed++;
		return false;
	}
	rl->tokens--;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}

void vsl_log_rl(struct vsl_log_module *m, struct vsl_ratelimit *rl, enum vsl_log_level level,
		const char *fmt, ...)
{
	unsigned suppressed = 0;
	va_list ap;

	if (!vsl_log_enabled(m, level) || !ratelimit_take(rl, &suppressed))
		return;
	if (suppressed)
		vsl_log(m, level, "(%u similar messages suppressed)", suppressed);
	va_start(ap, fmt);
	vsl_log_va(m, level, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------- log streams */

struct log_stream {
	struct vsl_log_module *m;
	enum vsl_log_level (*level_fn)(void);
};

static ssize_t log_stream_write(void *cookie, const char *buf, size_t len)
{
	const struct log_stream *ls = cookie;
	size_t n = len;

	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n)
		vsl_log(ls->m, ls->level_fn ? ls->level_fn() : VSL_LOG_INFO, "%.*s", (int)n, buf);
	return (ssize_t)len;
}

static int log_stream_close(void *cookie)
{
	free(cookie);
	return 0;
}

FILE *vsl_log_stream(struct vsl_log_module *m, enum vsl_log_level (*level_fn)(void))
{
	static const cookie_io_functions_t fns = { .write = log_stream_write,
						   .close = log_stream_close };
	struct log_stream *ls = malloc(sizeof(*ls));
	FILE *f;

	if (!ls)
		return NULL;
	*ls = (struct log_stream){ .m = m, .level_fn = level_fn };
	f = fopencookie(ls, "w", fns);
	if (!f) {
		free(ls);
		return NULL;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	return f;
}
