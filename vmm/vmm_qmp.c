/* vmm_qmp.c — a small blocking QMP client (QEMU Machine Protocol): one JSON
 * object per line, a greeting, qmp_capabilities, then commands answered with
 * {"return"} or {"error"}, interleaved with {"event"} messages. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm_internal.h"
#include "vsl_time.h"
#include "vsl_util.h"

enum { QMP_BUF = 1 << 20 };

struct vmm_qmp {
	int fd;
	vmm_qmp_event_fn fn;
	void *arg;
	size_t len;
	char buf[QMP_BUF];
};

int vmm_qmp_fd(const struct vmm_qmp *q)
{
	return q->fd;
}

void vmm_qmp_close(struct vmm_qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	free(q);
}

/* Takes one complete line out of the buffer, parsed; NULL when there is none. */
static struct json_object *take_line(struct vmm_qmp *q, bool *have)
{
	char *nl = memchr(q->buf, '\n', q->len);
	struct json_object *o;
	size_t n;

	*have = nl != NULL;
	if (!nl)
		return NULL;
	*nl = '\0';
	o = json_tokener_parse(q->buf);
	n = (size_t)(nl - q->buf) + 1;
	memmove(q->buf, q->buf + n, q->len - n);
	q->len -= n;
	return o;
}

/* Reads more bytes; waits up to deadline (0: do not wait). */
static int fill(struct vmm_qmp *q, uint64_t deadline)
{
	for (;;) {
		ssize_t n;

		if (q->len == sizeof(q->buf))
			return -EMSGSIZE;
		n = recv(q->fd, q->buf + q->len, sizeof(q->buf) - q->len, MSG_DONTWAIT);
		if (n > 0) {
			q->len += (size_t)n;
			return 0;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return vsl_neg_errno();
		if (!deadline)
			return -EAGAIN;
		{
			struct pollfd p = { .fd = q->fd, .events = POLLIN };
			uint64_t now = vsl_time_mono_ms();
			int r;

			if (now >= deadline)
				return -ETIMEDOUT;
			r = poll(&p, 1, (int)(deadline - now));
			if (r == 0)
				return -ETIMEDOUT;
			if (r < 0 && errno != EINTR)
				return vsl_neg_errno();
		}
	}
}

static void dispatch_event(struct vmm_qmp *q, struct json_object *o)
{
	struct json_object *ev, *data = NULL;

	if (!json_object_object_get_ex(o, "event", &ev))
		return;
	json_object_object_get_ex(o, "data", &data);
	if (q->fn)
		q->fn(q->arg, json_object_get_string(ev), data);
}

/* Waits for the next non-event message. */
static int read_reply(struct vmm_qmp *q, uint64_t deadline, struct json_object **out)
{
	for (;;) {
		bool have;
		struct json_object *o = take_line(q, &have);

		if (have) {
			if (!o)
				continue;       /* not JSON: ignore the line */
			if (json_object_object_get_ex(o, "event", NULL)) {
				dispatch_event(q, o);
				json_object_put(o);
				continue;
			}
			*out = o;
			return 0;
		}
		int ret = fill(q, deadline);
		if (ret)
			return ret;
	}
}

static int send_cmd(struct vmm_qmp *q, const char *cmd, struct json_object *args)
{
	struct json_object *o = json_object_new_object();
	const char *s;
	size_t len;
	int ret;

	json_object_object_add(o, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(o, "arguments", args);
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	ret = vsl_write_all(q->fd, s, len);
	if (!ret)
		ret = vsl_write_all(q->fd, "\n", 1);
	json_object_put(o);
	return ret == -EPIPE ? -ECONNRESET : ret;
}

int vmm_qmp_exec(struct vmm_qmp *q, const char *cmd, struct json_object *args,
		 struct json_object **retv, int timeout_ms, char *err, size_t errlen)
{
	uint64_t deadline = vsl_time_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 10000);
	struct json_object *o = NULL, *v;
	int ret;

	if (retv)
		*retv = NULL;
	ret = send_cmd(q, cmd, args);
	if (ret)
		return vsl_errf(err, errlen, ret, "QMP %s: %s", cmd, strerror(-ret));
	ret = read_reply(q, deadline, &o);
	if (ret)
		return vsl_errf(err, errlen, ret, "QMP %s: %s", cmd,
				ret == -ECONNRESET ? "QEMU closed the connection" : strerror(-ret));
	if (json_object_object_get_ex(o, "error", &v)) {
		struct json_object *desc = NULL;

		json_object_object_get_ex(v, "desc", &desc);
		ret = vsl_errf(err, errlen, -EREMOTEIO, "QMP %s: %s", cmd,
			       desc ? json_object_get_string(desc) : "error");
	} else if (json_object_object_get_ex(o, "return", &v)) {
		if (retv)
			*retv = json_object_get(v);
		ret = 0;
	} else {
		ret = vsl_errf(err, errlen, -EPROTO, "QMP %s: unexpected answer", cmd);
	}
	json_object_put(o);
	return ret;
}

static void dispatch_lines(struct vmm_qmp *q)
{
	for (;;) {
		bool have;
		struct json_object *o = take_line(q, &have);

		if (!have)
			break;
		if (o)
			dispatch_event(q, o);   /* stray replies are ignored */
		json_object_put(o);
	}
}

int vmm_qmp_poll(struct vmm_qmp *q)
{
	int ret = fill(q, 0);

	dispatch_lines(q);
	return ret == -EAGAIN ? 0 : ret;
}

int vmm_qmp_drain(struct vmm_qmp *q)
{
	int ret;

	do {
		ret = fill(q, 0);
		dispatch_lines(q);
	} while (ret == 0);
	return ret == -EAGAIN ? 0 : ret;
}

struct vmm_qmp *vmm_qmp_connect(const char *path, int timeout_ms, vmm_qmp_event_fn fn,
				void *arg, char *err, size_t errlen)
{
	uint64_t deadline = vsl_time_mono_ms() + (uint64_t)timeout_ms;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct json_object *greeting = NULL;
	struct vmm_qmp *q;
	int ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		vsl_errf(err, errlen, -ENAMETOOLONG, "QMP socket path too long: %s", path);
		return NULL;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	q = calloc(1, sizeof(*q));
	if (!q) {
		vsl_errf(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	q->fn = fn;
	q->arg = arg;
	for (;;) {
		q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (q->fd < 0) {
			vsl_errf(err, errlen, vsl_neg_errno(), "socket: %s", strerror(errno));
			goto fail;
		}
		if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		ret = errno;
		close(q->fd);
		q->fd = -1;
		if (vsl_time_mono_ms() >= deadline) {
			vsl_errf(err, errlen, -ret, "cannot connect to QMP socket %s: %s", path,
				 strerror(ret));
			goto fail;
		}
		usleep(20000);
	}
	/* QEMU sends the greeting once its main loop runs; with a vhost-user NIC
	 * that is after the switch has connected to the NIC's socket. */
	ret = read_reply(q, deadline, &greeting);
	if (ret || !json_object_object_get_ex(greeting, "QMP", NULL)) {
		vsl_errf(err, errlen, ret ? ret : -EPROTO, "no QMP greeting on %s: %s", path,
			 ret == -ETIMEDOUT ? "timed out" : ret ? strerror(-ret) : "not QMP");
		json_object_put(greeting);
		goto fail;
	}
	json_object_put(greeting);
	ret = vmm_qmp_exec(q, "qmp_capabilities", NULL, NULL,
			   (int)(deadline > vsl_time_mono_ms() ? deadline - vsl_time_mono_ms() : 1000),
			   err, errlen);
	if (ret)
		goto fail;
	return q;
fail:
	vmm_qmp_close(q);
	return NULL;
}
