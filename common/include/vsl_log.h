/* vsl_log.h — levelled, per-module logging with a rate-limited variant.
 *
 * Each .c file that logs declares its module once:
 *
 *     VSL_LOG_MODULE(rpc);
 *     ...
 *     VSL_WARN("client %d sent %zu bytes", fd, n);
 *     static struct vsl_ratelimit rl = VSL_RATELIMIT_INIT(5, 10);
 *     VSL_WARN_RL(&rl, "dropping malformed frame");
 *
 * A line looks like "2026-11-21T06:14:42.123Z|vswitchd|rpc|WARN|message".
 * Output goes to stderr by default or to a file (vsl_log_open_file()). Lines are
 * written with one write(2) each, so concurrent threads never interleave within
 * a line. Levels are set globally or per module (vsl_log_set_level()).
 *
 * Thread safety: logging calls are safe from any thread. Configuration calls
 * (set_level, open_file, set_program) are meant for the control thread.
 * Never log per packet or per I/O on a fast path: count, or use the _RL variant.
 */
#ifndef VSL_LOG_H
#define VSL_LOG_H

#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

enum vsl_log_level {
	VSL_LOG_OFF = 0,
	VSL_LOG_ERR,
	VSL_LOG_WARN,
	VSL_LOG_INFO,
	VSL_LOG_DBG,
};

struct vsl_log_module {
	const char *name;
	int level;         /* effective level, refreshed when generation changes */
	unsigned generation;
};

/* Token bucket: at most `burst` lines, refilled at `rate` lines per minute. */
struct vsl_ratelimit {
	unsigned rate_per_min;
	unsigned burst;
	unsigned tokens;
	unsigned suppressed;
	uint64_t last_ns;
	bool initialized;
};

#define VSL_RATELIMIT_INIT(RATE_PER_MIN, BURST) \
	{ .rate_per_min = (RATE_PER_MIN), .burst = (BURST) }

#define VSL_LOG_MODULE(NAME) \
	static struct vsl_log_module vsl_this_module = { .name = #NAME, .level = -1 }

void vsl_log(struct vsl_log_module *m, enum vsl_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vsl_log_va(struct vsl_log_module *m, enum vsl_log_level level, const char *fmt,
		va_list ap) __attribute__((format(printf, 3, 0)));
/* As vsl_log() but drops the line when `rl` has no token; the next line that
 * passes reports how many were suppressed. */
void vsl_log_rl(struct vsl_log_module *m, struct vsl_ratelimit *rl, enum vsl_log_level level,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

bool vsl_log_enabled(struct vsl_log_module *m, enum vsl_log_level level);

#define VSL_ERR(...)  vsl_log(&vsl_this_module, VSL_LOG_ERR, __VA_ARGS__)
#define VSL_WARN(...) vsl_log(&vsl_this_module, VSL_LOG_WARN, __VA_ARGS__)
#define VSL_INFO(...) vsl_log(&vsl_this_module, VSL_LOG_INFO, __VA_ARGS__)
#define VSL_DBG(...)  vsl_log(&vsl_this_module, VSL_LOG_DBG, __VA_ARGS__)
#define VSL_ERR_RL(RL, ...)  vsl_log_rl(&vsl_this_module, (RL), VSL_LOG_ERR, __VA_ARGS__)
#define VSL_WARN_RL(RL, ...) vsl_log_rl(&vsl_this_module, (RL), VSL_LOG_WARN, __VA_ARGS__)
#define VSL_INFO_RL(RL, ...) vsl_log_rl(&vsl_this_module, (RL), VSL_LOG_INFO, __VA_ARGS__)

/* Names: "off", "err", "warn", "info", "dbg" (also "error", "warning", "debug").
 * Returns the level or -EINVAL. */
int vsl_log_level_parse(const char *name);
const char *vsl_log_level_name(enum vsl_log_level level);

/* Sets the level of one module, or of all modules when module is NULL or "all".
 * A per-module setting wins over the global one. Returns 0 or -EINVAL/-ENOMEM. */
int vsl_log_set_level(const char *module, enum vsl_log_level level);
/* Parses "LEVEL" or "MODULE:LEVEL[,MODULE:LEVEL...]" as given to --log-level. */
int vsl_log_set_spec(const char *spec);

/* Sets the program name that prefixes every line (not copied: keep it alive). */
void vsl_log_set_program(const char *program);
/* Appends to `path` from now on (created 0640). Returns 0 or -errno; on error the
 * previous destination stays. vsl_log_open_file(NULL) goes back to stderr. */
int vsl_log_open_file(const char *path);
/* Reopens the current log file (after rotation, on SIGHUP). */
int vsl_log_reopen(void);

/* A line-buffered stdio stream whose lines go to vsl_log() as module `m`, each
 * at the level level_fn() returns when the line is written (NULL: info).
 * Trailing newlines are dropped. For libraries that log to a FILE *, e.g.
 * DPDK's rte_openlog_stream(). NULL on failure (errno set). */
FILE *vsl_log_stream(struct vsl_log_module *m, enum vsl_log_level (*level_fn)(void));

#endif /* VSL_LOG_H */
