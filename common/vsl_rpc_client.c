/* vsl_rpc_client.c — blocking JSON-RPC 2.0 client for CLIs and vmm. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vsl_rpc.h"
#include "vsl_time.h"
#include "vsl_util.h"

/* Responses can be much larger than requests (a flow dump); this only bounds a
 * daemon gone mad. */
enum { CLIENT_MAX_RESPONSE = 256 << 20 };

struct vsl_rpc_client {
	int fd;
	int timeout_ms;
	int64_t next_id;
	struct json_tokener *tok;
	char *pending;          /* bytes received after the last answer */
	size_t pending_len;
};

struct vsl_rpc_client *vsl_rpc_client_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsl_rpc_client *c;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	c->next_id = 1;
	c->tok = json_tokener_new();
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!c->tok || c->fd < 0)
		goto err;
	/* A unix-socket connect does not block on a listening peer except when its
	 * backlog is full; the call timeout covers that case through poll below. */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err;
	return c;
err:
	{
		int saved = errno;
		vsl_rpc_client_close(c);
		errno = saved;
	}
	return NULL;
}

void vsl_rpc_client_close(struct vsl_rpc_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->tok)
		json_tokener_free(c->tok);
	free(c->pending);
	free(c);
}

static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	uint64_t now = vsl_time_mono_ms();
	int n;

	if (now >= deadline_ms)
		return -ETIMEDOUT;
	n = poll(&p, 1, (int)(deadline_ms - now));
	if (n < 0)
		return errno == EINTR ? 0 : vsl_neg_errno();
	return n == 0 ? -ETIMEDOUT : 0;
}

static int send_all(struct vsl_rpc_client *c, const char *buf, size_t len, uint64_t deadline)
{
	while (len) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				int ret = wait_fd(c->fd, POLLOUT, deadline);
				if (ret)
					return ret;
				continue;
			}
			return vsl_neg_errno();
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/* Parses bytes into the tokener; returns a complete value (keeping any bytes
 * after it for the next call), NULL when more are needed, or sets *err. */
static struct json_object *parse_some(struct vsl_rpc_client *c, const char *buf, size_t len,
				      int *err)
{
	struct json_object *v = json_tokener_parse_ex(c->tok, buf, (int)len);
	enum json_tokener_error e = json_tokener_get_error(c->tok);
	size_t used;

	if (!v) {
		if (e != json_tokener_continue)
			*err = -EPROTO;
		return NULL;
	}
	used = json_tokener_get_parse_end(c->tok);
	json_tokener_reset(c->tok);
	if (used < len) {
		char *p = malloc(len - used);
		if (!p) {
			json_object_put(v);
			*err = -ENOMEM;
			return NULL;
		}
		memcpy(p, buf + used, len - used);
		c->pending = p;
		c->pending_len = len - used;
	}
	return v;
}

static int read_value(struct vsl_rpc_client *c, uint64_t deadline, struct json_object **out)
{
	char buf[65536];
	size_t total = 0;
	int err = 0;

	if (c->pending) {
		char *p = c->pending;
		size_t n = c->pending_len;

		c->pending = NULL;
		c->pending_len = 0;
		*out = parse_some(c, p, n, &err);
		free(p);
		if (*out || err)
			return err;
		total += n;
	}
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				int ret = wait_fd(c->fd, POLLIN, deadline);
				if (ret)
					return ret;
				continue;
			}
			return vsl_neg_errno();
		}
		if (n == 0)
			return -ECONNRESET;
		total += n;
		if (total > CLIENT_MAX_RESPONSE)
			return -EMSGSIZE;
		*out = parse_some(c, buf, n, &err);
		if (*out || err)
			return err;
	}
}

static void fill_error(struct json_object *e, struct vsl_rpc_error *err)
{
	struct json_object *code = NULL, *msg = NULL;

	if (!err)
		return;
	err->code = VSL_RPC_INTERNAL_ERROR;
	snprintf(err->message, sizeof(err->message), "malformed error answer");
	if (!json_object_is_type(e, json_type_object))
		return;
	if (json_object_object_get_ex(e, "code", &code) && json_object_is_type(code, json_type_int))
		err->code = json_object_get_int(code);
	if (json_object_object_get_ex(e, "message", &msg) && json_object_is_type(msg, json_type_string))
		snprintf(err->message, sizeof(err->message), "%s", json_object_get_string(msg));
}

int vsl_rpc_client_call(struct vsl_rpc_client *c, const char *method, struct json_object *params,
			struct json_object **result, struct vsl_rpc_error *err)
{
	uint64_t deadline = vsl_time_mono_ms() + c->timeout_ms;
	struct json_object *req = json_object_new_object();
	int64_t id = c->next_id++;
	const char *s;
	size_t len;
	int ret;

	*result = NULL;
	if (!req) {
		json_object_put(params);
		return -ENOMEM;
	}
	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int64(id));
	json_object_object_add(req, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(req, "params", params);
	s = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
	{
		/* One send: a daemon that stops right after answering (shutdown) must
		 * not see half a request. */
		char *msg = malloc(len + 1);

		if (!msg) {
			json_object_put(req);
			return -ENOMEM;
		}
		memcpy(msg, s, len);
		msg[len] = '\n';
		ret = send_all(c, msg, len + 1, deadline);
		free(msg);
	}
	json_object_put(req);
	if (ret)
		return ret;

	for (;;) {
		struct json_object *resp = NULL, *rid, *v;

		ret = read_value(c, deadline, &resp);
		if (ret)
			return ret;
		/* Skip answers that are not ours (there should be none). */
		if (!json_object_is_type(resp, json_type_object) ||
		    !json_object_object_get_ex(resp, "id", &rid) ||
		    !json_object_is_type(rid, json_type_int) || json_object_get_int64(rid) != id) {
			if (json_object_is_type(resp, json_type_object) &&
			    json_object_object_get_ex(resp, "error", &v)) {
				/* An error with a null id answers a request the daemon could
				 * not read at all: it is about us. */
				fill_error(v, err);
				json_object_put(resp);
				return -EREMOTEIO;
			}
			json_object_put(resp);
			continue;
		}
		if (json_object_object_get_ex(resp, "error", &v)) {
			fill_error(v, err);
			ret = -EREMOTEIO;
		} else if (json_object_object_get_ex(resp, "result", &v)) {
			*result = json_object_get(v);
			ret = 0;
		} else {
			ret = -EPROTO;
		}
		json_object_put(resp);
		return ret;
	}
}
