/* vsl_rpc_server.c — JSON-RPC 2.0 server on a unix stream socket. See vsl_rpc.h.
 *
 * Life of a request: bytes read from a client are fed to that client's json-c
 * tokener; each complete JSON value becomes a request (or a batch), dispatched
 * through the method table to its handler, which answers through a
 * struct vsl_rpc_call. Answers are serialised into the client's output buffer
 * and written as the socket allows. A call holds a reference on its connection,
 * so a deferred answer to a client that has gone away is simply dropped.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

VSL_LOG_MODULE(rpc);

enum { RPC_READ_CHUNK = 65536, RPC_ACCEPT_PAUSE_MS = 100 };

struct rpc_batch;

struct rpc_conn {
	struct vsl_rpc_server *srv;  /* NULL once closed */
	int fd;                      /* -1: in-memory (local call or feed) */
	unsigned refs;
	struct json_tokener *tok;
	size_t msg_bytes;            /* bytes of the message being parsed */
	char *out;
	size_t out_len, out_off, out_cap;
	bool closing;                /* stop reading, close once flushed */
	bool closed;
	uint32_t events;             /* epoll mask registered now */
	unsigned responses;          /* answers produced (feed) */
	vsl_rpc_local_fn local_fn;   /* local call completion */
	void *local_arg;
	struct rpc_conn *prev, *next;
};

struct rpc_batch {
	struct json_object *responses;  /* array */
	unsigned outstanding;           /* calls not yet answered, +1 while dispatching */
	struct rpc_conn *conn;
};

struct vsl_rpc_call {
	struct rpc_conn *conn;       /* holds a reference */
	struct rpc_batch *batch;     /* NULL for a single request */
	struct json_object *id;      /* NULL also stands for JSON null */
	char *method;
	void *ctx;
	bool notification;           /* no "id": never answered */
	bool replied;
	bool deferred;
	bool in_handler;
};

struct vsl_rpc_server {
	struct vsl_loop *loop;
	int listen_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	void *ctx;
	struct rpc_conn *conns;
	struct vsl_timer *accept_timer;   /* re-enables accept after EMFILE */
	struct vsl_rpc_server_stats stats;
};

static struct vsl_ratelimit rl_drop = VSL_RATELIMIT_INIT(20, 10);

/* ------------------------------------------------------------ connections */

static void conn_io(struct vsl_loop *loop, int fd, uint32_t events, void *arg);

static struct rpc_conn *conn_new(struct vsl_rpc_server *srv, int fd)
{
	struct rpc_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	if (!c->tok) {
		free(c);
		return NULL;
	}
	json_tokener_set_flags(c->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
				       JSON_TOKENER_VALIDATE_UTF8);
	c->srv = srv;
	c->fd = fd;
	c->refs = 1;
	if (fd >= 0) {
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
		srv->stats.clients++;
	}
	return c;
}

static void conn_put(struct rpc_conn *c)
{
	if (--c->refs)
		return;
	json_tokener_free(c->tok);
	free(c->out);
	free(c);
}

/* Ends the connection: unregisters and closes the socket now; the memory goes
 * when the last deferred call drops its reference. */
static void conn_close(struct rpc_conn *c)
{
	struct vsl_rpc_server *srv = c->srv;

	if (c->closed)
		return;
	c->closed = true;
	if (c->fd >= 0 && srv) {
		vsl_loop_del_fd(srv->loop, c->fd);
		close(c->fd);
		if (c->prev)
			c->prev->next = c->next;
		else
			srv->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		srv->stats.clients--;
	}
	c->fd = -1;
	c->srv = NULL;
	conn_put(c);
}

/* Drops a misbehaving client after whatever error answer is already queued. */
static void conn_drop(struct rpc_conn *c, const char *why)
{
	if (c->srv) {
		c->srv->stats.dropped++;
		if (c->fd >= 0)
			VSL_WARN_RL(&rl_drop, "dropping client fd %d: %s", c->fd, why);
	}
	c->closing = true;
}

/* Reads while the client is in good standing, writes while output is queued. A
 * closing client is not read any more (its input would wake us for nothing). */
static void conn_update_events(struct rpc_conn *c)
{
	uint32_t ev = (c->closing ? 0 : EPOLLIN) | (c->out_len > c->out_off ? EPOLLOUT : 0);

	if (c->fd < 0 || c->closed || ev == c->events)
		return;
	c->events = ev;
	vsl_loop_mod_fd(c->srv->loop, c->fd, ev);
}

/* Writes as much queued output as the socket takes. Returns 0, or -errno when
 * the connection is broken. */
static int conn_flush(struct rpc_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return vsl_neg_errno();
		}
		c->out_off += n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	conn_update_events(c);
	return 0;
}

static void conn_send(struct rpc_conn *c, struct json_object *msg)
{
	const char *s;
	size_t len;

	c->responses++;
	if (c->closed)
		return;
	if (c->local_fn) {
		struct json_object *err = json_object_object_get(msg, "error");
		c->local_fn(err ? NULL : json_object_object_get(msg, "result"), err, c->local_arg);
		return;
	}
	if (c->fd < 0)  /* feed(): answers are counted and discarded */
		return;
	s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (c->out_len - c->out_off + len + 1 > VSL_RPC_MAX_OUTBUF) {
		if (!c->closing)
			conn_drop(c, "too many unread responses");
		return;
	}
	if (c->out_off && c->out_len + len + 1 > c->out_cap) {
		/* Compact before growing. */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + len + 1 > c->out_cap) {
		size_t cap = VSL_MAX(VSL_MAX(c->out_cap * 2, c->out_len + len + 1), (size_t)4096);
		char *p = realloc(c->out, cap);

		if (!p) {
			conn_drop(c, "out of memory");
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, len);
	c->out_len += len;
	c->out[c->out_len++] = '\n';
	if (conn_flush(c) < 0)
		conn_drop(c, "write failed");
}

/* ---------------------------------------------------------------- answers */

static struct json_object *make_response(struct json_object *id)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(r, "id", id ? json_object_get(id) : NULL);
	return r;
}

static struct json_object *make_error(int code, const char *message, struct json_object *data)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	if (data)
		json_object_object_add(e, "data", data);
	return e;
}

static void batch_put(struct rpc_batch *b)
{
	if (--b->outstanding)
		return;
	if (json_object_array_length(b->responses))
		conn_send(b->conn, b->responses);
	json_object_put(b->responses);
	conn_put(b->conn);
	free(b);
}

static void call_free(struct vsl_rpc_call *call)
{
	struct rpc_batch *b = call->batch;

	json_object_put(call->id);
	conn_put(call->conn);
	free(call->method);
	free(call);
	if (b)
		batch_put(b);
}

/* Sends `msg` (consumed) for this call, or nothing for a notification. */
static void call_answer(struct vsl_rpc_call *call, struct json_object *msg, bool is_error)
{
	struct rpc_conn *c = call->conn;
	bool notification = call->notification;

	if (call->replied) {
		VSL_ERR("method '%s' answered twice", call->method);
		json_object_put(msg);
		return;
	}
	call->replied = true;
	if (is_error && !notification && c->srv)
		c->srv->stats.errors++;
	if (notification) {
		json_object_put(msg);
	} else if (call->batch) {
		json_object_array_add(call->batch->responses, msg);
	} else {
		conn_send(c, msg);
		json_object_put(msg);
	}
	if (call->deferred && !call->in_handler)
		call_free(call);  /* a deferred answer: nothing else holds the call */
}

void vsl_rpc_reply(struct vsl_rpc_call *call, struct json_object *result)
{
	struct json_object *r = make_response(call->id);

	json_object_object_add(r, "result", result);
	call_answer(call, r, false);
}

static void reply_error_data(struct vsl_rpc_call *call, int code, struct json_object *data,
			     const char *fmt, va_list ap)
{
	char msg[512];
	struct json_object *r = make_response(call->id);

	vsnprintf(msg, sizeof(msg), fmt, ap);
	json_object_object_add(r, "error", make_error(code, msg, data));
	call_answer(call, r, true);
}

void vsl_rpc_reply_error(struct vsl_rpc_call *call, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_error_data(call, code, NULL, fmt, ap);
	va_end(ap);
}

static const char *errno_name(int err)
{
	const char *n = strerrorname_np(err);
	return n ? n : "EUNKNOWN";
}

static void reply_errno_va(struct vsl_rpc_call *call, int neg_errno, const char *fmt, va_list ap)
{
	int err = neg_errno < 0 ? -neg_errno : neg_errno;
	struct json_object *data = json_object_new_object();

	if (err <= 0 || err > 999)
		err = EIO;
	json_object_object_add(data, "errno", json_object_new_string(errno_name(err)));
	if (fmt) {
		reply_error_data(call, VSL_RPC_ERRNO_BASE - err, data, fmt, ap);
	} else {
		char msg[256];
		struct json_object *r = make_response(call->id);

		snprintf(msg, sizeof(msg), "%s", strerror(err));
		json_object_object_add(r, "error", make_error(VSL_RPC_ERRNO_BASE - err, msg, data));
		call_answer(call, r, true);
	}
}

void vsl_rpc_reply_errno(struct vsl_rpc_call *call, int neg_errno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_errno_va(call, neg_errno, fmt, ap);
	va_end(ap);
}

void vsl_rpc_defer(struct vsl_rpc_call *call)
{
	call->deferred = true;
}

bool vsl_rpc_replied(const struct vsl_rpc_call *call)
{
	return call->replied;
}

void *vsl_rpc_call_ctx(const struct vsl_rpc_call *call)
{
	return call->ctx;
}

const char *vsl_rpc_call_method(const struct vsl_rpc_call *call)
{
	return call->method;
}

/* --------------------------------------------------------------- dispatch */

/* Sends an error that is not tied to a call (bad request shape, parse error). */
static void send_error(struct rpc_conn *c, struct rpc_batch *b, struct json_object *id, int code,
		       const char *msg)
{
	struct json_object *r = make_response(id);

	json_object_object_add(r, "error", make_error(code, msg, NULL));
	if (c->srv)
		c->srv->stats.errors++;
	if (b) {
		json_object_array_add(b->responses, r);
	} else {
		conn_send(c, r);
		json_object_put(r);
	}
}

/* json-c clamps integers beyond 64 bits to INT64_MIN / UINT64_MAX; such an id
 * could not be echoed back faithfully, so it is refused. */
static bool valid_id(struct json_object *id)
{
	switch (json_object_get_type(id)) {
	case json_type_null:
	case json_type_string:
		return true;
	case json_type_int:
		return json_object_get_int64(id) != INT64_MIN && json_object_get_uint64(id) != UINT64_MAX;
	default:
		return false;
	}
}

static void dispatch_request(struct rpc_conn *c, struct rpc_batch *b, struct json_object *req)
{
	struct json_object *ver, *id = NULL, *method, *params = NULL;
	const struct vsl_rpc_method *m;
	struct vsl_rpc_call *call;
	bool has_id;
	int ret;

	if (c->srv)
		c->srv->stats.requests++;
	if (!json_object_is_type(req, json_type_object)) {
		send_error(c, b, NULL, VSL_RPC_INVALID_REQUEST, "request must be a JSON object");
		return;
	}
	has_id = json_object_object_get_ex(req, "id", &id);
	if (has_id && !valid_id(id)) {
		send_error(c, b, NULL, VSL_RPC_INVALID_REQUEST,
			   "\"id\" must be a string, an integer or null");
		return;
	}
	if (!json_object_object_get_ex(req, "jsonrpc", &ver) ||
	    !json_object_is_type(ver, json_type_string) ||
	    strcmp(json_object_get_string(ver), "2.0")) {
		send_error(c, b, id, VSL_RPC_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
		return;
	}
	if (!json_object_object_get_ex(req, "method", &method) ||
	    !json_object_is_type(method, json_type_string)) {
		send_error(c, b, id, VSL_RPC_INVALID_REQUEST, "\"method\" must be a string");
		return;
	}
	if (json_object_object_get_ex(req, "params", &params) &&
	    !json_object_is_type(params, json_type_object) &&
	    !json_object_is_type(params, json_type_array)) {
		send_error(c, b, id, VSL_RPC_INVALID_REQUEST,
			   "\"params\" must be an object or an array");
		return;
	}

	if (strlen(json_object_get_string(method)) != (size_t)json_object_get_string_len(method)) {
		send_error(c, b, id, VSL_RPC_INVALID_REQUEST, "\"method\" contains a NUL character");
		return;
	}
	call = calloc(1, sizeof(*call));
	if (!call || !(call->method = strdup(json_object_get_string(method)))) {
		free(call);
		send_error(c, b, id, VSL_RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	call->conn = c;
	c->refs++;
	/* json-c's JSON null is a NULL pointer: "id": null is answered with null,
	 * while a request with no "id" at all is a notification. */
	call->id = json_object_get(id);
	call->notification = !has_id;
	call->ctx = c->srv ? c->srv->ctx : NULL;
	if (b) {
		call->batch = b;
		b->outstanding++;
	}

	m = vsl_rpc_method_find(call->method);
	if (!m) {
		vsl_rpc_reply_error(call, VSL_RPC_METHOD_NOT_FOUND, "method not found: %.200s",
				    call->method);
		call_free(call);
		return;
	}
	call->in_handler = true;
	ret = m->fn(call, params);
	call->in_handler = false;
	if (call->deferred && !call->replied && ret >= 0)
		return;  /* freed when the handler answers */
	if (!call->replied) {
		if (ret < 0)
			vsl_rpc_reply_errno(call, ret, NULL);
		else
			vsl_rpc_reply(call, json_object_new_boolean(true));
	}
	call->deferred = false;
	call_free(call);
}

static void dispatch_value(struct rpc_conn *c, struct json_object *v)
{
	struct rpc_batch *b;
	size_t n;

	if (!json_object_is_type(v, json_type_array)) {
		dispatch_request(c, NULL, v);
		return;
	}
	n = json_object_array_length(v);
	if (!n) {
		send_error(c, NULL, NULL, VSL_RPC_INVALID_REQUEST, "empty batch");
		return;
	}
	b = calloc(1, sizeof(*b));
	if (!b || !(b->responses = json_object_new_array())) {
		free(b);
		send_error(c, NULL, NULL, VSL_RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	b->conn = c;
	c->refs++;
	b->outstanding = 1;  /* held while dispatching */
	for (size_t i = 0; i < n && !c->closed; i++)
		dispatch_request(c, b, json_object_array_get_idx(v, i));
	batch_put(b);
}

/* Feeds bytes to the connection's parser and dispatches every complete value.
 * Returns 0, or -EPROTO / -EMSGSIZE when the connection must end. */
static int conn_input(struct rpc_conn *c, const char *buf, size_t len)
{
	while (len && !c->closing && !c->closed) {
		struct json_object *v = json_tokener_parse_ex(c->tok, buf, (int)VSL_MIN(len, (size_t)INT32_MAX));
		enum json_tokener_error e = json_tokener_get_error(c->tok);
		size_t used;

		if (!v && e == json_tokener_continue) {
			c->msg_bytes += len;
			if (c->msg_bytes > VSL_RPC_MAX_MSG) {
				send_error(c, NULL, NULL, VSL_RPC_INVALID_REQUEST,
					   "request larger than 1048576 bytes");
				conn_drop(c, "request too large");
				return -EMSGSIZE;
			}
			return 0;
		}
		if (e != json_tokener_success) {
			char msg[160];

			snprintf(msg, sizeof(msg), "parse error: %s", json_tokener_error_desc(e));
			send_error(c, NULL, NULL, VSL_RPC_PARSE_ERROR, msg);
			conn_drop(c, "malformed JSON");
			return -EPROTO;
		}
		used = json_tokener_get_parse_end(c->tok);
		/* 0 is legitimate: a bare scalar ("5") completes only when the next
		 * byte arrives, and that byte belongs to the next message. */
		if (used > len)
			used = len;
		if (c->msg_bytes + used > VSL_RPC_MAX_MSG) {
			json_object_put(v);
			send_error(c, NULL, NULL, VSL_RPC_INVALID_REQUEST,
				   "request larger than 1048576 bytes");
			conn_drop(c, "request too large");
			return -EMSGSIZE;
		}
		json_tokener_reset(c->tok);
		c->msg_bytes = 0;
		buf += used;
		len -= used;
		/* Hold the connection across dispatch: a handler may close it. */
		c->refs++;
		dispatch_value(c, v);
		json_object_put(v);
		conn_put(c);
	}
	return 0;
}

static void conn_io(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct rpc_conn *c = arg;
	char buf[RPC_READ_CHUNK];

	(void)loop;
	(void)fd;
	c->refs++;
	if ((events & EPOLLOUT) && conn_flush(c) < 0)
		goto close;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		while (!c->closing && !c->closed) {
			ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n < 0)
				goto close;
			if (n == 0) {
				/* EOF. A client that half-closed (nc -N, socat) still gets
				 * every answer already queued: close once they are out. */
				if (c->out_len == c->out_off)
					goto close;
				c->closing = true;
				break;
			}
			conn_input(c, buf, n);
		}
	}
	if (c->closing && !c->closed) {
		/* The error answer goes out before we hang up; until then only EPOLLOUT
		 * is watched (see conn_update_events()). */
		if (conn_flush(c) < 0 || c->out_len == c->out_off || (events & (EPOLLHUP | EPOLLERR)))
			goto close;
	}
	conn_put(c);
	return;
close:
	conn_close(c);
	conn_put(c);
}

/* ------------------------------------------------------------------ server */

static void server_resume_accept(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct vsl_rpc_server *srv = arg;

	(void)t;
	srv->accept_timer = NULL;  /* one-shot: freed by the loop */
	vsl_loop_mod_fd(loop, srv->listen_fd, EPOLLIN);
}

static void server_accept(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct vsl_rpc_server *srv = arg;

	(void)events;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct rpc_conn *c;

		if (cfd < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* The pending client stays in the backlog and the listener
				 * stays readable: stop watching it for a while instead of
				 * spinning. */
				VSL_WARN_RL(&rl_drop, "accept: %s; pausing for %d ms", strerror(errno),
					    RPC_ACCEPT_PAUSE_MS);
				vsl_loop_mod_fd(loop, fd, 0);
				if (!srv->accept_timer)
					srv->accept_timer = vsl_timer_add(loop, RPC_ACCEPT_PAUSE_MS, 0,
									 server_resume_accept, srv);
				return;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				VSL_WARN_RL(&rl_drop, "accept: %s", strerror(errno));
			return;
		}
		srv->stats.accepted++;
		if (srv->stats.clients >= VSL_RPC_MAX_CLIENTS) {
			static const char busy[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,"
						   "\"message\":\"too many clients\"}}\n";
			(void)!send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(cfd);
			srv->stats.dropped++;
			continue;
		}
		c = conn_new(srv, cfd);
		if (!c) {
			close(cfd);
			continue;
		}
		c->events = EPOLLIN;
		if (vsl_loop_add_fd(loop, cfd, EPOLLIN, conn_io, c) < 0)
			conn_close(c);
	}
}

/* A socket file nobody listens on is stale (a daemon that died); a live one
 * belongs to a running daemon and must not be taken over. */
static int claim_socket_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : vsl_neg_errno();
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vsl_neg_errno();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (ret == 0)
		return -EADDRINUSE;
	return unlink(path) < 0 ? vsl_neg_errno() : 0;
}

static int make_parent_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return vsl_neg_errno();
	return 0;
}

struct vsl_rpc_server *vsl_rpc_server_create(struct vsl_loop *loop, const char *path, void *ctx)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsl_rpc_server *srv;
	int ret;

	if (!path || strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->loop = loop;
	srv->ctx = ctx;
	snprintf(srv->path, sizeof(srv->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);

	ret = make_parent_dir(path);
	if (!ret)
		ret = claim_socket_path(path);
	if (ret)
		goto err_free;
	srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->listen_fd < 0) {
		ret = vsl_neg_errno();
		goto err_free;
	}
	if (bind(srv->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = vsl_neg_errno();
		goto err_close;
	}
	if (chmod(path, 0660) < 0 || listen(srv->listen_fd, 512) < 0) {
		ret = vsl_neg_errno();
		goto err_unlink;
	}
	ret = vsl_loop_add_fd(loop, srv->listen_fd, EPOLLIN, server_accept, srv);
	if (ret)
		goto err_unlink;
	VSL_INFO("listening on %s", path);
	return srv;

err_unlink:
	unlink(path);
err_close:
	close(srv->listen_fd);
err_free:
	free(srv);
	errno = -ret;
	return NULL;
}

void vsl_rpc_server_destroy(struct vsl_rpc_server *srv)
{
	if (!srv)
		return;
	while (srv->conns) {
		struct rpc_conn *c = srv->conns;
		conn_flush(c);
		conn_close(c);
	}
	if (srv->accept_timer)
		vsl_timer_cancel(srv->loop, srv->accept_timer);
	vsl_loop_del_fd(srv->loop, srv->listen_fd);
	close(srv->listen_fd);
	unlink(srv->path);
	free(srv);
}

void vsl_rpc_server_get_stats(const struct vsl_rpc_server *srv, struct vsl_rpc_server_stats *st)
{
	*st = srv->stats;
}

int vsl_rpc_server_call(struct vsl_rpc_server *srv, const char *method,
			struct json_object *params, vsl_rpc_local_fn fn, void *arg)
{
	struct json_object *req = json_object_new_object();
	struct rpc_conn *c;

	c = req ? conn_new(srv, -1) : NULL;
	if (!c) {
		json_object_put(req);
		json_object_put(params);
		return -ENOMEM;
	}
	c->local_fn = fn;
	c->local_arg = arg;
	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int(1));
	json_object_object_add(req, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(req, "params", params);
	dispatch_value(c, req);
	json_object_put(req);
	/* The connection stays alive through the call's reference if deferred. */
	c->srv = NULL;
	conn_put(c);
	return 0;
}

int vsl_rpc_server_feed(struct vsl_rpc_server *srv, const void *buf, size_t len)
{
	struct rpc_conn *c = conn_new(srv, -1);
	int ret;

	if (!c)
		return -ENOMEM;
	ret = conn_input(c, buf, len);
	if (!ret)
		ret = (int)c->responses;
	c->srv = NULL;
	conn_put(c);
	return ret;
}
