/* vsl_rpc.h — JSON-RPC 2.0 over a unix stream socket (json-c).
 *
 * Server. One per daemon, driven by the control thread's vsl_loop: non-blocking,
 * any number of clients up to VSL_RPC_MAX_CLIENTS, each with its own input and
 * output buffer. Requests may be sent back to back, with or without whitespace
 * or newlines between them; every response ends with '\n'. Batches (arrays) and
 * notifications (no "id") follow the specification. A request larger than
 * VSL_RPC_MAX_MSG, malformed JSON (-32700) or a client whose unread responses pass
 * VSL_RPC_MAX_OUTBUF ends that client's connection after the error reply, never
 * anyone else's.
 *
 * Methods are registered once per process with VSL_RPC_REGISTER next to their
 * handler, and listed by the built-in `rpc.methods`. A handler runs on the control
 * thread, decodes its params with vsl_rpc_decode() and answers with exactly one
 * of vsl_rpc_reply(), vsl_rpc_reply_error() or vsl_rpc_reply_errno(), either
 * before it returns or later after vsl_rpc_defer(). A handler that returns 0
 * without replying or deferring answers `true`; one that returns -errno without
 * replying answers a domain error carrying strerror().
 *
 * Error codes: the standard ones below, and the Vessel domain range
 * VSL_RPC_ERRNO_BASE - errno (e.g. -33017 for EEXIST) whose "message" is a
 * readable sentence and whose "data" is {"errno": "EEXIST"}.
 *
 * Client. Blocking calls with a timeout; used by every CLI and by vmm.
 */
#ifndef VSL_RPC_H
#define VSL_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct vsl_loop;
struct vsl_rpc_server;
struct vsl_rpc_call;

enum {
	VSL_RPC_PARSE_ERROR = -32700,
	VSL_RPC_INVALID_REQUEST = -32600,
	VSL_RPC_METHOD_NOT_FOUND = -32601,
	VSL_RPC_INVALID_PARAMS = -32602,
	VSL_RPC_INTERNAL_ERROR = -32603,
	/* Domain errors: VSL_RPC_ERRNO_BASE - errno, down to VSL_RPC_ERRNO_BASE - 999. */
	VSL_RPC_ERRNO_BASE = -33000,
};

enum {
	VSL_RPC_MAX_MSG = 1 << 20,          /* largest request accepted */
	VSL_RPC_MAX_OUTBUF = 64 << 20,      /* unread responses before a client is dropped */
	VSL_RPC_MAX_CLIENTS = 1024,
};

/* ----------------------------------------------------------------- methods */

/* Must answer (see above). `params` is the request's params (object, array or
 * NULL when absent) and is valid until the handler returns; take a reference
 * (json_object_get) to keep it across vsl_rpc_defer(). */
typedef int (*vsl_rpc_handler_fn)(struct vsl_rpc_call *call, struct json_object *params);

struct vsl_rpc_method {
	const char *name;
	vsl_rpc_handler_fn fn;
	const char *help;          /* one line, shown by rpc.methods and CLIs */
	struct vsl_rpc_method *next;
};

/* Adds m to the process-wide table (m must stay alive). Duplicate names abort
 * at start-up: two handlers for one method is a build error, not a run-time one. */
void vsl_rpc_method_register(struct vsl_rpc_method *m);
const struct vsl_rpc_method *vsl_rpc_method_find(const char *name);
/* Iteration in name order: pass NULL to get the first. */
const struct vsl_rpc_method *vsl_rpc_method_next(const struct vsl_rpc_method *m);

#define VSL_RPC_REGISTER(NAME, FN, HELP)                                          \
	static struct vsl_rpc_method vsl_rpc_m_##FN = { .name = (NAME), .fn = (FN), \
							.help = (HELP) };            \
	static void __attribute__((constructor)) vsl_rpc_reg_##FN(void)            \
	{                                                                          \
		vsl_rpc_method_register(&vsl_rpc_m_##FN);                           \
	}

/* ----------------------------------------------------------------- replies */

/* Answers with `result` (consumed; NULL means JSON null). */
void vsl_rpc_reply(struct vsl_rpc_call *call, struct json_object *result);
/* Answers with an error `code` and a printf-style message. */
void vsl_rpc_reply_error(struct vsl_rpc_call *call, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Answers with the domain error for `neg_errno` (e.g. -EEXIST); fmt NULL uses
 * strerror(). */
void vsl_rpc_reply_errno(struct vsl_rpc_call *call, int neg_errno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The handler will answer later; `call` stays valid until it does, even if the
 * client goes away meanwhile (the answer is then dropped). */
void vsl_rpc_defer(struct vsl_rpc_call *call);
bool vsl_rpc_replied(const struct vsl_rpc_call *call);
/* The server's context pointer given to vsl_rpc_server_create(). */
void *vsl_rpc_call_ctx(const struct vsl_rpc_call *call);
const char *vsl_rpc_call_method(const struct vsl_rpc_call *call);

/* ------------------------------------------------------------------ params */

enum vsl_rpc_type {
	VSL_RPC_STRING,   /* const char *, points into params */
	VSL_RPC_BOOL,     /* bool */
	VSL_RPC_INT64,    /* int64_t */
	VSL_RPC_UINT64,   /* uint64_t; negative numbers are refused */
	VSL_RPC_UINT32,   /* uint32_t; range-checked */
	VSL_RPC_UINT16,   /* uint16_t; range-checked */
	VSL_RPC_OBJECT,   /* struct json_object * (borrowed) */
	VSL_RPC_ARRAY,    /* struct json_object * (borrowed) */
	VSL_RPC_SIZE,     /* uint64_t bytes from a number or a string such as "10G" */
};

struct vsl_rpc_param {
	const char *name;
	enum vsl_rpc_type type;
	size_t offset;       /* where in the output struct */
	bool optional;       /* absent: the output keeps its prior value */
};

#define VSL_RPC_PARAM(NAME, STRUCT, FIELD, TYPE, OPTIONAL) \
	{ (NAME), (TYPE), offsetof(STRUCT, FIELD), (OPTIONAL) }

/* Decodes an object `params` (NULL counts as {}) into `out` by table. Unknown
 * members, missing required members, wrong types and out-of-range numbers are
 * answered with VSL_RPC_INVALID_PARAMS naming the member; the function then
 * returns -EINVAL and the handler must just return. Returns 0 on success. */
int vsl_rpc_decode(struct vsl_rpc_call *call, struct json_object *params,
		   const struct vsl_rpc_param *table, size_t n, void *out);

/* ------------------------------------------------------------------ server */

/* Listens on `path` (mode 0660; parent directory created 0755 when missing). A
 * stale socket file nobody listens on is replaced; a live one gives -EADDRINUSE.
 * `ctx` is returned by vsl_rpc_call_ctx(). Returns NULL with errno set. */
struct vsl_rpc_server *vsl_rpc_server_create(struct vsl_loop *loop, const char *path, void *ctx);
/* Closes every client, removes the socket file and frees the server. Deferred
 * calls still outstanding are answered into the void when they complete. */
void vsl_rpc_server_destroy(struct vsl_rpc_server *srv);

/* Completion of an in-process call: exactly one of result/error is non-NULL
 * (both borrowed for the callback's duration). */
typedef void (*vsl_rpc_local_fn)(struct json_object *result, struct json_object *error,
				 void *arg);
/* Runs one request in-process through the same dispatch as socket clients (config
 * replay uses it). `params` is consumed. `fn` fires exactly once, possibly before
 * this returns. Returns 0 or -errno (then fn never fires). */
int vsl_rpc_server_call(struct vsl_rpc_server *srv, const char *method,
			struct json_object *params, vsl_rpc_local_fn fn, void *arg);

struct vsl_rpc_server_stats {
	uint64_t clients;        /* connected now */
	uint64_t accepted;
	uint64_t requests;
	uint64_t errors;         /* error responses sent */
	uint64_t dropped;        /* clients disconnected for misbehaving */
};
void vsl_rpc_server_get_stats(const struct vsl_rpc_server *srv, struct vsl_rpc_server_stats *st);

/* Feeds raw bytes to a fresh in-memory connection (no socket) and discards the
 * answers; returns the number of responses produced, or -errno once the
 * connection would have been dropped. For the fuzz target and tests only. */
int vsl_rpc_server_feed(struct vsl_rpc_server *srv, const void *buf, size_t len);

/* ------------------------------------------------------------------ client */

struct vsl_rpc_client;

struct vsl_rpc_error {
	int code;
	char message[512];
};

/* Connects to the daemon socket at `path`. Returns NULL with errno set. */
struct vsl_rpc_client *vsl_rpc_client_connect(const char *path, int timeout_ms);
void vsl_rpc_client_close(struct vsl_rpc_client *c);

/* Calls `method` with `params` (consumed; NULL for none) and waits up to the
 * connect timeout for the answer. Returns 0 and *result (caller frees with
 * json_object_put(); may be NULL for JSON null); -EREMOTEIO when the daemon
 * answered an error (filled into *err when err is not NULL); -ETIMEDOUT; or
 * another -errno for a transport failure. */
int vsl_rpc_client_call(struct vsl_rpc_client *c, const char *method, struct json_object *params,
			struct json_object **result, struct vsl_rpc_error *err);

#endif /* VSL_RPC_H */
