/* test_vsl_rpc.c — the JSON-RPC server driven by vsl_loop_run_once() on the
 * test thread, talked to with raw non-blocking sockets, in-process calls,
 * vsl_rpc_server_feed() and the C client on a second thread. */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_rpc.h"
#include "vsl_time.h"
#include "vsl_util.h"

enum { WAIT_MS = 2000 };

/* Request and answer texts. */
#define RQ(ID, M) "{\"jsonrpc\":\"2.0\",\"id\":" #ID ",\"method\":\"" M "\"}"
#define RQP(ID, M, P) "{\"jsonrpc\":\"2.0\",\"id\":" #ID ",\"method\":\"" M "\",\"params\":" P "}"
#define NOTE(M) "{\"jsonrpc\":\"2.0\",\"method\":\"" M "\"}"
#define ANS(ID, R) "{\"jsonrpc\":\"2.0\",\"id\":" #ID ",\"result\":" R "}"

struct fixture {
	struct vsl_loop *loop;
	struct vsl_rpc_server *srv;
};

static char tmp_dir[] = "/tmp/vsl_rpc_XXXXXX";
static char sock_path[100];
static int deferred_fired;

/* ------------------------------------------------------- test methods
 * Registered in no particular order: rpc.methods must sort them. */

struct named_params {
	const char *name;
	uint16_t port;
};

static int m_named(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct named_params, name, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("port", struct named_params, port, VSL_RPC_UINT16, true),
	};
	struct named_params p = { .port = 4789 };

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	vsl_rpc_reply(call, json_object_new_int(p.port));
	return 0;
}
VSL_RPC_REGISTER("test.named", m_named, "required and optional params")

static int m_errno(struct vsl_rpc_call *call, struct json_object *params)
{
	if (params && json_object_object_length(params))
		vsl_rpc_reply_errno(call, -EEXIST, NULL);  /* strerror() text */
	else
		vsl_rpc_reply_errno(call, -EEXIST, "port '%s' exists", "p0");
	return 0;
}
VSL_RPC_REGISTER("test.errno", m_errno, "answers -EEXIST")

static int m_echo(struct vsl_rpc_call *call, struct json_object *params)
{
	vsl_rpc_reply(call, json_object_get(params));
	return 0;
}
VSL_RPC_REGISTER("test.echo", m_echo, "returns its params")

struct types_out {
	const char *s;
	bool b;
	int64_t i;
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	struct json_object *o, *a;
	uint64_t size;
};

static int m_types(struct vsl_rpc_call *call, struct json_object *params)
{
#define P(N, T) VSL_RPC_PARAM(#N, struct types_out, N, T, true)
	static const struct vsl_rpc_param table[] = {
		P(s, VSL_RPC_STRING), P(b, VSL_RPC_BOOL),     P(i, VSL_RPC_INT64),
		P(u64, VSL_RPC_UINT64), P(u32, VSL_RPC_UINT32), P(u16, VSL_RPC_UINT16),
		P(o, VSL_RPC_OBJECT), P(a, VSL_RPC_ARRAY),    P(size, VSL_RPC_SIZE),
	};
#undef P
	struct types_out t = { "dflt", true, -7, 7, 7, 7, NULL, NULL, 7 };  /* kept when absent */
	char buf[512];

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &t))
		return -EINVAL;
	snprintf(buf, sizeof(buf),
		 "{\"s\":\"%s\",\"b\":%s,\"i\":%" PRId64 ",\"u64\":%" PRIu64 ",\"u32\":%" PRIu32
		 ",\"u16\":%u,\"o\":%s,\"a\":%s,\"size\":%" PRIu64 "}",
		 t.s, t.b ? "true" : "false", t.i, t.u64, t.u32, t.u16, json_object_to_json_string(t.o),
		 json_object_to_json_string(t.a), t.size);
	vsl_rpc_reply(call, json_tokener_parse(buf));
	return 0;
}
VSL_RPC_REGISTER("test.types", m_types, "decodes every vsl_rpc_type")

static int m_enoent(struct vsl_rpc_call *call, struct json_object *params)
{
	(void)call, (void)params;
	return -ENOENT;
}
VSL_RPC_REGISTER("test.enoent", m_enoent, "returns -ENOENT without replying")

struct deferred {
	struct vsl_rpc_call *call;
	struct json_object *params;
};

static void deferred_answer(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct deferred *d = arg;

	(void)loop, (void)t;
	deferred_fired++;
	vsl_rpc_reply(d->call, d->params);  /* hands our reference over */
	free(d);
}

/* Answers its params after params.ms (default 20) milliseconds. */
static int m_defer(struct vsl_rpc_call *call, struct json_object *params)
{
	struct fixture *f = vsl_rpc_call_ctx(call);
	struct deferred *d = calloc(1, sizeof(*d));
	struct json_object *ms = NULL;

	if (!d)
		return -ENOMEM;
	d->call = call;
	d->params = json_object_get(params);
	json_object_object_get_ex(params, "ms", &ms);
	vsl_rpc_defer(call);
	assert_non_null(vsl_timer_add(f->loop, ms ? (uint64_t)json_object_get_int64(ms) : 20, 0,
				      deferred_answer, d));
	assert_false(vsl_rpc_replied(call));
	return 0;
}
VSL_RPC_REGISTER("test.defer", m_defer, "answers later from a timer")

static int m_true(struct vsl_rpc_call *call, struct json_object *params)
{
	(void)params;
	assert_string_equal(vsl_rpc_call_method(call), "test.true");
	return 0;
}
VSL_RPC_REGISTER("test.true", m_true, "returns 0 without replying")

static int m_twice(struct vsl_rpc_call *call, struct json_object *params)
{
	(void)params;
	vsl_rpc_reply(call, json_object_new_int(1));
	vsl_rpc_reply(call, json_object_new_int(2));  /* logged and dropped */
	assert_true(vsl_rpc_replied(call));
	return -EIO;                                  /* ignored: already answered */
}
VSL_RPC_REGISTER("test.twice", m_twice, "answers twice (a handler bug)")

/* ------------------------------------------------------------ helpers */

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || !(f->loop = vsl_loop_create()))
		return -1;
	f->srv = vsl_rpc_server_create(f->loop, sock_path, f);
	deferred_fired = 0;
	*state = f;
	return f->srv ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vsl_rpc_server_destroy(f->srv);
	for (int i = 0; i < 5; i++)  /* deferred answers left: into the void */
		vsl_loop_run_once(f->loop, 0);
	vsl_loop_destroy(f->loop);
	free(f);
	return 0;
}

static void spin(struct fixture *f, int ms)
{
	uint64_t end = vsl_time_mono_ms() + (uint64_t)ms;

	do
		assert_true(vsl_loop_run_once(f->loop, 5) >= 0);
	while (vsl_time_mono_ms() < end);
}

static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void raw_send(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Runs the loop until `nlines` answer lines arrived, or until EOF when nlines
 * is 0; returns the text (free with free()). *eof: the server hung up. */
static char *raw_recv(struct fixture *f, int fd, int nlines, bool *eof)
{
	uint64_t end = vsl_time_mono_ms() + WAIT_MS;
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	int got = 0;

	assert_non_null(buf);
	*eof = false;
	while (vsl_time_mono_ms() < end && (nlines == 0 || got < nlines)) {
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);

		if (n == 0) {
			*eof = true;
			break;
		}
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			assert_true(vsl_loop_run_once(f->loop, 5) >= 0);
			continue;
		}
		for (ssize_t i = 0; i < n; i++)
			got += buf[len + i] == '\n';
		len += n;
		assert_true(len + 1 < cap);
	}
	buf[len] = '\0';
	return buf;
}

/* Sends one request and returns the parsed answer, which must be one line. */
static struct json_object *raw_call(struct fixture *f, int fd, const char *req)
{
	struct json_object *v;
	bool eof;
	char *s;

	raw_send(fd, req);
	s = raw_recv(f, fd, 1, &eof);
	assert_ptr_equal(strchr(s, '\n'), s + strlen(s) - 1);
	v = json_tokener_parse(s);
	assert_non_null(v);
	free(s);
	return v;
}

static struct json_object *member(struct json_object *o, const char *path)
{
	char buf[64], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, k, &o))
			fail_msg("no member '%s' in %s", path, json_object_to_json_string(o));
	return o;
}

static void assert_json(struct json_object *got, const char *want)
{
	struct json_object *w = json_tokener_parse(want);
	bool same = json_object_equal(got, w);

	json_object_put(w);
	if (!same)
		fail_msg("got %s, want %s", json_object_to_json_string(got), want);
}

/* One request, whose answer must be exactly `want`. */
static void expect_call(struct fixture *f, int fd, const char *req, const char *want)
{
	struct json_object *r = raw_call(f, fd, req);

	assert_json(r, want);
	json_object_put(r);
}

/* `e` is an error object (or a response holding one when `in_resp`). */
static void assert_error(struct json_object *e, bool in_resp, int code, const char *msg_part,
			 const char *ctx)
{
	struct json_object *err = in_resp ? member(e, "error") : e;
	const char *m = json_object_get_string(member(err, "message"));

	if (json_object_get_int(member(err, "code")) != code || (msg_part && !strstr(m, msg_part)))
		fail_msg("%s: want %d '%s', got %s", ctx ? ctx : "", code, msg_part ? msg_part : "",
			 json_object_to_json_string(e));
	assert_false(in_resp && json_object_object_get_ex(e, "result", NULL));
}

struct local_rec {
	int fired;
	struct json_object *result, *error;
};

static void local_done(struct json_object *result, struct json_object *error, void *arg)
{
	struct local_rec *r = arg;

	r->fired++;
	assert_true(!result || !error);
	r->result = json_object_get(result);
	r->error = json_object_get(error);
}

static void rec_clear(struct local_rec *r)
{
	json_object_put(r->result);
	json_object_put(r->error);
	memset(r, 0, sizeof(*r));
}

/* vsl_rpc_server_call() with params from text (NULL: none). */
static void local_call(struct fixture *f, const char *method, const char *params,
		       struct local_rec *r)
{
	struct json_object *p = params ? json_tokener_parse(params) : NULL;

	rec_clear(r);
	assert_true(!params || p);
	assert_int_equal(vsl_rpc_server_call(f->srv, method, p, local_done, r), 0);
}

/* ================================================================ tests */

static void test_echo_and_ids(void **state)
{
	struct fixture *f = *state;
	int fd = raw_connect();

	expect_call(f, fd, RQP(7, "test.echo", "{\"a\":[1,2,\"/x\"]}"),
		    ANS(7, "{\"a\":[1,2,\"/x\"]}"));
	expect_call(f, fd, RQ("abc", "test.echo"), ANS("abc", "null"));
	/* "id": null is a call answered with a null id, not a notification. */
	expect_call(f, fd, RQ(null, "test.true"), ANS(null, "true"));
	close(fd);
}

static void test_back_to_back_and_split(void **state)
{
	struct fixture *f = *state;
	int fd = raw_connect();
	bool eof;
	char *s;

	/* No separator, then blanks and newlines between requests. */
	raw_send(fd, RQ(1, "test.true") RQ(2, "test.true") "\n \r\n\t" RQ(3, "test.true"));
	s = raw_recv(f, fd, 3, &eof);
	assert_string_equal(s, ANS(1, "true") "\n" ANS(2, "true") "\n" ANS(3, "true") "\n");
	free(s);

	/* One request in three pieces, with the loop running in between. */
	raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":4,\"me");
	spin(f, 5);
	raw_send(fd, "thod\":\"test.echo\",\"params\":[\"sp");
	spin(f, 5);
	expect_call(f, fd, "lit\"]}", ANS(4, "[\"split\"]"));

	/* `echo REQ | socat - UNIX-CONNECT:...`: write, shut down, read. */
	raw_send(fd, RQ(5, "test.true") "\n");
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	s = raw_recv(f, fd, 0, &eof);
	assert_true(eof);
	assert_string_equal(s, ANS(5, "true") "\n");
	free(s);
	close(fd);
}

static void test_types_decode(void **state)
{
	struct fixture *f = *state;
	struct local_rec r = { 0 };

	local_call(f, "test.types",
		   "{\"s\":\"str\",\"b\":false,\"i\":-9223372036854775808,"
		   "\"u64\":18446744073709551615,\"u32\":4294967295,\"u16\":65535,"
		   "\"o\":{\"k\":1},\"a\":[1],\"size\":\"10G\"}", &r);
	assert_int_equal(r.fired, 1);
	assert_json(r.result, "{\"s\":\"str\",\"b\":false,\"i\":-9223372036854775808,"
			      "\"u64\":18446744073709551615,\"u32\":4294967295,\"u16\":65535,"
			      "\"o\":{\"k\":1},\"a\":[1],\"size\":10737418240}");
	/* Absent optional members keep their prior values; no params is {}. */
	local_call(f, "test.types", NULL, &r);
	assert_json(r.result, "{\"s\":\"dflt\",\"b\":true,\"i\":-7,\"u64\":7,\"u32\":7,"
			      "\"u16\":7,\"o\":null,\"a\":null,\"size\":7}");
	local_call(f, "test.types", "{\"size\":4096,\"u64\":0,\"u16\":0,\"i\":5}", &r);
	assert_json(r.result, "{\"s\":\"dflt\",\"b\":true,\"i\":5,\"u64\":0,\"u32\":7,"
			      "\"u16\":0,\"o\":null,\"a\":null,\"size\":4096}");
	local_call(f, "test.types", "{\"size\":\"1.5K\"}", &r);
	assert_int_equal(json_object_get_int64(member(r.result, "size")), 1536);
	rec_clear(&r);
}

static void test_types_refused(void **state)
{
	static const struct {
		const char *params, *msg;
	} bad[] = {
		{ "{\"s\":1}", "'s' must be a string" },    { "{\"s\":null}", "'s'" },
		{ "{\"b\":\"true\"}", "'b' must be a boolean" }, { "{\"b\":1}", "'b'" },
		{ "{\"i\":1.5}", "'i' must be an integer" }, { "{\"i\":\"1\"}", "'i'" },
		{ "{\"u64\":-1}", "'u64' must be a non-negative integer" },
		{ "{\"u32\":-1}", "'u32'" },                { "{\"u32\":4294967296}", "'u32'" },
		{ "{\"u16\":-1}", "'u16'" },                { "{\"u16\":65536}", "'u16'" },
		{ "{\"u16\":1e3}", "'u16'" },               { "{\"o\":[]}", "'o' must be an object" },
		{ "{\"a\":{}}", "'a' must be an array" },   { "{\"size\":-1}", "'size' must be a size" },
		{ "{\"size\":\"10X\"}", "'size'" },         { "{\"size\":\"-1G\"}", "'size'" },
		{ "{\"size\":\"16E\"}", "'size'" },         { "{\"size\":1.5}", "'size'" },
		{ "{\"nope\":1}", "unknown parameter 'nope' for test.types" },
		{ "[1,2]", "test.types takes named parameters" },
	};
	struct fixture *f = *state;
	struct local_rec r = { 0 };

	for (size_t i = 0; i < VSL_ARRAY_SIZE(bad); i++) {
		local_call(f, "test.types", bad[i].params, &r);
		assert_int_equal(r.fired, 1);
		assert_non_null(r.error);
		assert_error(r.error, false, VSL_RPC_INVALID_PARAMS, bad[i].msg, bad[i].params);
	}
	/* Required members: absent (also with no params at all) is refused. */
	local_call(f, "test.named", "{\"name\":\"br0\"}", &r);
	assert_json(r.result, "4789");
	local_call(f, "test.named", NULL, &r);
	assert_error(r.error, false, -32602, "missing required parameter 'name'", NULL);
	local_call(f, "test.named", "{\"port\":1}", &r);
	assert_error(r.error, false, -32602, "missing required parameter 'name'", NULL);
	rec_clear(&r);
}

/* KNOWN FAILURE, reported to the lead: json-c keeps 9223372036854775808 as a
 * uint64, json_object_get_int64() saturates it to INT64_MAX without setting
 * errno, and VSL_RPC_INT64 accepts the clamped value. */
static void test_types_int64_overflow_refused(void **state)
{
	struct fixture *f = *state;
	struct local_rec r = { 0 };
	bool refused;

	local_call(f, "test.types", "{\"i\":9223372036854775808}", &r);
	refused = r.fired == 1 && r.error &&
		  json_object_get_int(member(r.error, "code")) == VSL_RPC_INVALID_PARAMS;
	if (!refused)
		print_message("# decoded as %s\n", json_object_to_json_string(r.result));
	rec_clear(&r);
	assert_true(refused);
}

static void test_errno_answers(void **state)
{
	struct fixture *f = *state;
	int fd = raw_connect();
	struct json_object *r;

	expect_call(f, fd, RQ(1, "test.errno"),
		    "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-33017,"
		    "\"message\":\"port 'p0' exists\",\"data\":{\"errno\":\"EEXIST\"}}}");
	r = raw_call(f, fd, RQP(2, "test.errno", "{\"plain\":1}"));
	assert_error(r, true, VSL_RPC_ERRNO_BASE - EEXIST, "File exists", NULL);
	json_object_put(r);
	/* -ENOENT returned without a reply: a domain error with strerror(). */
	expect_call(f, fd, RQ(3, "test.enoent"),
		    "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-33002,"
		    "\"message\":\"No such file or directory\",\"data\":{\"errno\":\"ENOENT\"}}}");
	/* Answered twice: only the first answer goes out. */
	expect_call(f, fd, RQ(4, "test.twice"), ANS(4, "1"));
	expect_call(f, fd, RQ(5, "test.true"), ANS(5, "true"));
	close(fd);
}

static void test_invalid_requests(void **state)
{
	static const struct {
		const char *req;
		int code;
		const char *msg;
	} cases[] = {
		{ "{\"id\":1,\"method\":\"test.true\"}", -32600, "\"jsonrpc\" must be \"2.0\"" },
		{ "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"test.true\"}", -32600, "jsonrpc" },
		{ "{\"jsonrpc\":2.0,\"id\":1,\"method\":\"test.true\"}", -32600, "jsonrpc" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1}", -32600, "\"method\" must be a string" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", -32600, "method" },
		{ RQP(1, "test.echo", "\"x\""), -32600, "\"params\" must be an object or an array" },
		{ RQ(1.5, "test.true"), -32600, "\"id\" must be a string, an integer or null" },
		{ RQ({}, "test.true"), -32600, "\"id\"" },
		{ "42\n", -32600, "request must be a JSON object" },
		{ "[]", -32600, "empty batch" },
		{ RQ(1, "no.such"), -32601, "method not found: no.such" },
		{ RQP(1, "rpc.methods", "{\"x\":1}"), -32602, "takes no parameters" },
	};
	struct fixture *f = *state;
	int fd = raw_connect();

	for (size_t i = 0; i < VSL_ARRAY_SIZE(cases); i++) {
		struct json_object *r = raw_call(f, fd, cases[i].req);

		assert_error(r, true, cases[i].code, cases[i].msg, cases[i].req);
		json_object_put(r);
	}
	close(fd);
}

static void test_notifications(void **state)
{
	struct fixture *f = *state;
	int fd = raw_connect();

	/* Never answered, not even errors; deferred ones complete silently. */
	raw_send(fd, NOTE("test.true") NOTE("test.errno") NOTE("no.such")
		     "{\"jsonrpc\":\"2.0\",\"method\":\"test.defer\",\"params\":{\"ms\":1}}");
	spin(f, 20);
	assert_int_equal(deferred_fired, 1);
	expect_call(f, fd, RQ(9, "test.true"), ANS(9, "true"));
	close(fd);
}

static void test_batches(void **state)
{
	struct fixture *f = *state;
	int fd = raw_connect();
	struct json_object *r;
	char c;

	r = raw_call(f, fd, "[" RQP(1, "test.echo", "[1]") "," NOTE("test.true") ", 5, "
			    RQ(3, "test.enoent") "]");
	assert_int_equal(json_object_array_length(r), 3);
	assert_json(json_object_array_get_idx(r, 0), ANS(1, "[1]"));
	assert_error(json_object_array_get_idx(r, 1), true, -32600, "JSON object", NULL);
	assert_error(json_object_array_get_idx(r, 2), true, -33002, NULL, NULL);
	json_object_put(r);

	/* A batch with a deferred call is answered as a whole once it completes,
	 * in completion order. */
	expect_call(f, fd, "[" RQP(1, "test.defer", "{\"ms\":30}") "," RQ(2, "test.true") "]",
		    "[" ANS(2, "true") "," ANS(1, "{\"ms\":30}") "]");
	assert_int_equal(deferred_fired, 1);

	/* Only notifications: nothing at all comes back. */
	raw_send(fd, "[" NOTE("test.true") "," NOTE("no.such") "]");
	spin(f, 20);
	assert_int_equal(recv(fd, &c, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	expect_call(f, fd, RQ(5, "test.true"), ANS(5, "true"));
	close(fd);
}

static void test_deferred_over_socket(void **state)
{
	struct fixture *f = *state;
	int fd = raw_connect();
	bool eof;
	char *s;

	/* The deferred answer comes after a later request's. */
	raw_send(fd, RQP(1, "test.defer", "{\"ms\":30}") RQ(2, "test.true"));
	s = raw_recv(f, fd, 2, &eof);
	assert_string_equal(s, ANS(2, "true") "\n" ANS(1, "{\"ms\":30}") "\n");
	free(s);

	/* The client leaves before the answer: it is dropped (ASan checks). */
	raw_send(fd, RQP(3, "test.defer", "{\"ms\":10}"));
	spin(f, 2);
	close(fd);
	spin(f, 30);
	assert_int_equal(deferred_fired, 2);

	/* The server goes away first: answered into the void. */
	fd = raw_connect();
	raw_send(fd, RQP(4, "test.defer", "{\"ms\":10}"));
	spin(f, 2);
	vsl_rpc_server_destroy(f->srv);
	f->srv = NULL;
	spin(f, 30);
	assert_int_equal(deferred_fired, 3);
	s = raw_recv(f, fd, 0, &eof);
	assert_true(eof);
	assert_string_equal(s, "");
	free(s);
	close(fd);
}

static void test_local_calls(void **state)
{
	struct fixture *f = *state;
	struct local_rec r = { 0 };
	uint64_t end;

	local_call(f, "test.echo", "{\"x\":1}", &r);
	assert_int_equal(r.fired, 1);  /* before server_call returned */
	assert_json(r.result, "{\"x\":1}");
	local_call(f, "test.true", NULL, &r);
	assert_json(r.result, "true");
	local_call(f, "test.errno", NULL, &r);
	assert_null(r.result);
	assert_error(r.error, false, -33017, "port 'p0' exists", NULL);
	local_call(f, "no.such", "[]", &r);
	assert_error(r.error, false, VSL_RPC_METHOD_NOT_FOUND, NULL, NULL);
	local_call(f, "test.echo", NULL, &r);
	assert_int_equal(r.fired, 1);
	assert_null(r.result);  /* JSON null */
	assert_null(r.error);

	/* Deferred: fires once, from the loop. */
	local_call(f, "test.defer", "{\"ms\":5,\"v\":\"later\"}", &r);
	assert_int_equal(r.fired, 0);
	end = vsl_time_mono_ms() + WAIT_MS;
	while (!r.fired && vsl_time_mono_ms() < end)
		vsl_loop_run_once(f->loop, 10);
	spin(f, 10);
	assert_int_equal(r.fired, 1);
	assert_json(r.result, "{\"ms\":5,\"v\":\"later\"}");
	rec_clear(&r);
}

static int feed(struct fixture *f, const char *s)
{
	return vsl_rpc_server_feed(f->srv, s, strlen(s));
}

static void test_feed(void **state)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.echo\",\"params\":[\"";
	struct fixture *f = *state;
	size_t big = VSL_RPC_MAX_MSG + 100, hl = strlen(head);
	char *buf = malloc(big);

	assert_non_null(buf);
	assert_int_equal(feed(f, RQ(1, "test.true")), 1);
	assert_int_equal(feed(f, RQ(1, "test.true") "\n" RQ(2, "test.true") " " RQ(3, "no.such")), 3);
	/* A batch is one answer; notifications none; half a request none yet. */
	assert_int_equal(feed(f, "[" RQ(1, "test.true") "," RQ(2, "test.true") "," NOTE("x") "]"), 1);
	assert_int_equal(feed(f, NOTE("x")), 0);
	assert_int_equal(feed(f, "{\"jsonrpc\":\"2.0\",\"id\":1"), 0);
	assert_int_equal(vsl_rpc_server_feed(f->srv, "", 0), 0);
	/* Malformed JSON: the connection would end. */
	assert_int_equal(feed(f, "{bad}"), -EPROTO);
	assert_int_equal(feed(f, "]"), -EPROTO);
	assert_int_equal(feed(f, RQ(1, "test.true") "{\"a\":tru}"), -EPROTO);
	assert_int_equal(feed(f, "\"\xff\""), -EPROTO);  /* not UTF-8 */
	assert_int_equal(vsl_rpc_server_feed(f->srv, NOTE("x"), sizeof(NOTE("x"))), -EPROTO); /* NUL */

	/* Past 1 MiB: complete in one buffer, and still incomplete. */
	memcpy(buf, head, hl);
	memset(buf + hl, 'x', big - hl - 3);
	memcpy(buf + big - 3, "\"]}", 3);
	assert_int_equal(vsl_rpc_server_feed(f->srv, buf, big), -EMSGSIZE);
	assert_int_equal(vsl_rpc_server_feed(f->srv, buf, big - 3), -EMSGSIZE);
	/* Just under the limit is fine. */
	memcpy(buf + VSL_RPC_MAX_MSG - 3, "\"]}", 3);
	assert_int_equal(vsl_rpc_server_feed(f->srv, buf, VSL_RPC_MAX_MSG), 1);
	free(buf);
}

static void test_drops_and_stats(void **state)
{
	struct fixture *f = *state;
	struct vsl_rpc_server_stats st;
	int bad = raw_connect(), good = raw_connect();
	struct json_object *r;
	bool eof;
	char *s;

	vsl_rpc_server_get_stats(f->srv, &st);
	assert_int_equal(st.accepted, 0);  /* not accepted until the loop runs */
	expect_call(f, good, "[" RQ(1, "test.true") "," RQ(2, "no.such") "]",
		    "[" ANS(1, "true") ",{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32601,"
		    "\"message\":\"method not found: no.such\"}}]");
	/* Malformed JSON ends that client's connection after the error answer. */
	raw_send(bad, RQ(3, "test.true") "{oops");
	raw_send(bad, "}");
	s = raw_recv(f, bad, 0, &eof);
	assert_true(eof);
	r = json_tokener_parse(strchr(s, '\n') + 1);  /* after the first, good answer */
	assert_error(r, true, VSL_RPC_PARSE_ERROR, "parse error", s);
	json_object_put(r);
	free(s);
	close(bad);

	expect_call(f, good, RQ(4, "test.errno"), "{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":"
		    "{\"code\":-33017,\"message\":\"port 'p0' exists\",\"data\":{\"errno\":\"EEXIST\"}}}");
	vsl_rpc_server_get_stats(f->srv, &st);
	assert_int_equal(st.accepted, 2);
	assert_int_equal(st.clients, 1);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.requests, 4);
	assert_int_equal(st.errors, 3);
	close(good);
	spin(f, 10);
	vsl_rpc_server_get_stats(f->srv, &st);
	assert_int_equal(st.clients, 0);
}

static void test_rpc_methods_sorted(void **state)
{
	static const char *const mine[] = { "rpc.methods", "test.defer", "test.echo", "test.enoent",
					    "test.errno", "test.named", "test.true", "test.twice",
					    "test.types" };
	struct fixture *f = *state;
	int fd = raw_connect();
	struct json_object *r, *list;
	const struct vsl_rpc_method *m = NULL;
	const char *prev = "";
	size_t found = 0;

	r = raw_call(f, fd, RQP(1, "rpc.methods", "{}"));
	list = member(r, "result");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		const char *name = json_object_get_string(member(e, "name"));

		assert_true(strcmp(prev, name) < 0);
		m = vsl_rpc_method_next(m);
		assert_non_null(m);
		assert_string_equal(m->name, name);
		assert_string_equal(m->help, json_object_get_string(member(e, "help")));
		for (size_t j = 0; j < VSL_ARRAY_SIZE(mine); j++)
			found += !strcmp(mine[j], name);
		prev = name;
	}
	assert_null(vsl_rpc_method_next(m));
	assert_int_equal(found, VSL_ARRAY_SIZE(mine));
	assert_ptr_equal(vsl_rpc_method_find("test.echo")->fn, m_echo);
	assert_null(vsl_rpc_method_find("test"));
	json_object_put(r);
	close(fd);
}

static void test_socket_path_claims(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[64], path[100], file[100], toolong[200];
	struct vsl_rpc_server *s2;
	struct stat st;
	int fd;

	assert_int_equal(stat(sock_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	/* Live: another server listens there. */
	errno = 0;
	assert_null(vsl_rpc_server_create(f->loop, sock_path, NULL));
	assert_int_equal(errno, EADDRINUSE);

	/* The parent directory is created when missing; destroy removes the file. */
	snprintf(dir, sizeof(dir), "%s/sub", tmp_dir);
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	assert_non_null(s2 = vsl_rpc_server_create(f->loop, path, NULL));
	vsl_rpc_server_destroy(s2);
	assert_int_equal(lstat(path, &st), -1);

	/* Stale: a socket file nobody listens on is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(lstat(path, &st), 0);
	assert_non_null(s2 = vsl_rpc_server_create(f->loop, path, NULL));
	vsl_rpc_server_destroy(s2);

	/* Anything else is not ours to remove. */
	snprintf(file, sizeof(file), "%s/plain", dir);
	assert_true((fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0);
	close(fd);
	errno = 0;
	assert_null(vsl_rpc_server_create(f->loop, file, NULL));
	assert_int_equal(errno, EEXIST);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(dir), 0);

	memset(toolong, 'a', sizeof(toolong) - 1);
	toolong[0] = '/';
	toolong[sizeof(toolong) - 1] = '\0';
	errno = 0;
	assert_null(vsl_rpc_server_create(f->loop, toolong, NULL));
	assert_int_equal(errno, ENAMETOOLONG);
}

struct client_job {
	const char *method, *params;
	int ret;
	struct json_object *result;
	struct vsl_rpc_error err;
	int done;
};

static void *client_thread(void *arg)
{
	struct client_job *j = arg;
	struct vsl_rpc_client *c = vsl_rpc_client_connect(sock_path, WAIT_MS);

	j->ret = -errno;
	if (c) {
		j->ret = vsl_rpc_client_call(c, j->method, j->params ? json_tokener_parse(j->params) : NULL,
					     &j->result, &j->err);
		vsl_rpc_client_close(c);
	}
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The client blocks on its own thread while this one runs the server. Returns
 * vsl_rpc_client_call()'s result; *j holds the rest (free j->result). */
static int run_client(struct fixture *f, struct client_job *j, const char *method,
		      const char *params)
{
	uint64_t end = vsl_time_mono_ms() + WAIT_MS + 500;
	pthread_t th;

	*j = (struct client_job){ .method = method, .params = params };
	assert_int_equal(pthread_create(&th, NULL, client_thread, j), 0);
	while (!__atomic_load_n(&j->done, __ATOMIC_ACQUIRE) && vsl_time_mono_ms() < end)
		vsl_loop_run_once(f->loop, 5);
	assert_int_equal(pthread_join(th, NULL), 0);
	return j->ret;
}

static void test_client_calls(void **state)
{
	struct fixture *f = *state;
	struct client_job j;

	assert_int_equal(run_client(f, &j, "test.echo", "{\"k\":[true]}"), 0);
	assert_json(j.result, "{\"k\":[true]}");
	json_object_put(j.result);
	assert_int_equal(run_client(f, &j, "test.echo", NULL), 0);
	assert_null(j.result);  /* JSON null */
	assert_int_equal(run_client(f, &j, "test.defer", "{\"ms\":10}"), 0);
	assert_json(j.result, "{\"ms\":10}");
	json_object_put(j.result);

	assert_int_equal(run_client(f, &j, "test.errno", NULL), -EREMOTEIO);
	assert_null(j.result);
	assert_int_equal(j.err.code, -33017);
	assert_string_equal(j.err.message, "port 'p0' exists");
	assert_int_equal(run_client(f, &j, "no.such", NULL), -EREMOTEIO);
	assert_int_equal(j.err.code, VSL_RPC_METHOD_NOT_FOUND);
	assert_string_equal(j.err.message, "method not found: no.such");
}

static void test_client_timeout_and_connect_errors(void **state)
{
	struct fixture *f = *state;
	struct json_object *result = (struct json_object *)1;
	struct vsl_rpc_client *c;
	uint64_t start;
	char path[200];

	/* The server's loop never runs: the call times out. */
	assert_non_null(c = vsl_rpc_client_connect(sock_path, 100));
	start = vsl_time_mono_ms();
	assert_int_equal(vsl_rpc_client_call(c, "test.true", NULL, &result, NULL), -ETIMEDOUT);
	assert_true(vsl_time_mono_ms() - start >= 99);
	assert_true(vsl_time_mono_ms() - start < 1500);
	assert_null(result);
	vsl_rpc_client_close(c);
	spin(f, 5);  /* the server answers into a closed socket */

	snprintf(path, sizeof(path), "%s/nobody.sock", tmp_dir);
	errno = 0;
	assert_null(vsl_rpc_client_connect(path, 100));
	assert_int_equal(errno, ENOENT);
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_null(vsl_rpc_client_connect(path, 100));
	assert_int_equal(errno, ENAMETOOLONG);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_echo_and_ids),           T(test_back_to_back_and_split),
		T(test_types_decode),           T(test_types_refused),
		T(test_types_int64_overflow_refused),
		T(test_errno_answers),
		T(test_invalid_requests),       T(test_notifications),
		T(test_batches),                T(test_deferred_over_socket),
		T(test_local_calls),            T(test_feed),
		T(test_drops_and_stats),
		T(test_rpc_methods_sorted),
		T(test_socket_path_claims),     T(test_client_calls),
		T(test_client_timeout_and_connect_errors),
	};
#undef T
	int ret;

	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/srv.sock", tmp_dir);
	vsl_log_set_level(NULL, VSL_LOG_OFF);  /* "listening on", "answered twice" */
	ret = cmocka_run_group_tests_name("vsl_rpc", tests, NULL, NULL);
	rmdir(tmp_dir);
	return ret;
}
