/* test_vsl_config.c — save-config writers in `order`, the file vsl_config_write()
 * produces, and vsl_config_replay() into an in-process server whose methods
 * record their calls, including every way a replay fails. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vsl_config.h"
#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

static char tmp_dir[] = "/tmp/vsl_config_XXXXXX";
static char cfg_path[128];

/* ------------------------------------------------------------- writers
 * Registered out of order on purpose: build must run them by `order`. */

static char writer_trace[32];
static int bridge_ret;  /* what the "bridges" writer returns */

static int w_flows(struct json_object *calls)
{
	strcat(writer_trace, "F");
	return vsl_config_add_call(calls, "cfg.add-flow",
				   json_tokener_parse("{\"bridge\":\"br0\",\"match\":\"in_port=1\","
						      "\"actions\":\"output:2\"}"));
}
VSL_CONFIG_WRITER("flows", 30, w_flows)

static int w_ports(struct json_object *calls)
{
	int ret;

	strcat(writer_trace, "P");
	ret = vsl_config_add_call(calls, "cfg.add-port",
				  json_tokener_parse("{\"name\":\"vh0\",\"type\":\"vhost-user\"}"));
	return ret ? ret
		   : vsl_config_add_call(calls, "cfg.add-port", json_tokener_parse("{\"name\":\"vh1\"}"));
}
VSL_CONFIG_WRITER("ports", 20, w_ports)

static int w_bridges(struct json_object *calls)
{
	strcat(writer_trace, "B");
	if (vsl_config_add_call(calls, "cfg.add-bridge", NULL))  /* no params at all */
		return -ENOMEM;
	return bridge_ret;
}
VSL_CONFIG_WRITER("bridges", 10, w_bridges)

static int w_nothing(struct json_object *calls)
{
	(void)calls;
	strcat(writer_trace, "0");
	return 0;
}
VSL_CONFIG_WRITER("nothing", -1, w_nothing)

static const char expected_calls[] =
	"[{\"method\":\"cfg.add-bridge\"},"
	" {\"method\":\"cfg.add-port\",\"params\":{\"name\":\"vh0\",\"type\":\"vhost-user\"}},"
	" {\"method\":\"cfg.add-port\",\"params\":{\"name\":\"vh1\"}},"
	" {\"method\":\"cfg.add-flow\",\"params\":{\"bridge\":\"br0\",\"match\":\"in_port=1\","
	"\"actions\":\"output:2\"}}]";

/* ------------------------------------------------------------- methods */

struct fixture {
	struct vsl_loop *loop;
	struct vsl_rpc_server *srv;
};

/* Every call a method saw: [{"method": ..., "params": ...}, ...]. */
static struct json_object *recorded;

static void record(struct vsl_rpc_call *call, struct json_object *params)
{
	struct json_object *c = json_object_new_object();

	json_object_object_add(c, "method", json_object_new_string(vsl_rpc_call_method(call)));
	if (params)
		json_object_object_add(c, "params", json_object_get(params));
	json_object_array_add(recorded, c);
}

static int m_add_bridge(struct vsl_rpc_call *call, struct json_object *params)
{
	record(call, params);
	return 0;
}
VSL_RPC_REGISTER("cfg.add-bridge", m_add_bridge, "records")

static int m_add_port(struct vsl_rpc_call *call, struct json_object *params)
{
	record(call, params);
	return 0;
}
VSL_RPC_REGISTER("cfg.add-port", m_add_port, "records")

static int m_add_flow(struct vsl_rpc_call *call, struct json_object *params)
{
	record(call, params);
	vsl_rpc_reply(call, json_object_new_int(1));
	return 0;
}
VSL_RPC_REGISTER("cfg.add-flow", m_add_flow, "records")

static int m_fail(struct vsl_rpc_call *call, struct json_object *params)
{
	struct json_object *name = NULL;

	record(call, params);
	json_object_object_get_ex(params, "name", &name);
	vsl_rpc_reply_errno(call, -EEXIST, "port '%s' exists", json_object_get_string(name));
	return 0;
}
VSL_RPC_REGISTER("cfg.fail", m_fail, "fails with EEXIST")

static void defer_done(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct vsl_rpc_call *call = arg;

	(void)loop;
	(void)t;
	record(call, NULL);
	vsl_rpc_reply(call, NULL);
}

static int m_defer(struct vsl_rpc_call *call, struct json_object *params)
{
	struct fixture *f = vsl_rpc_call_ctx(call);

	(void)params;
	vsl_rpc_defer(call);
	return vsl_timer_add(f->loop, 10, 0, defer_done, call) ? 0 : -ENOMEM;
}
VSL_RPC_REGISTER("cfg.defer", m_defer, "answers 10 ms later")

/* ------------------------------------------------------------- fixture */

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char sock[160];

	if (!f || !(f->loop = vsl_loop_create()))
		return -1;
	snprintf(sock, sizeof(sock), "%s/cfg.sock", tmp_dir);
	f->srv = vsl_rpc_server_create(f->loop, sock, f);
	recorded = json_object_new_array();
	writer_trace[0] = '\0';
	bridge_ret = 0;
	*state = f;
	return f->srv && recorded ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vsl_rpc_server_destroy(f->srv);
	vsl_loop_destroy(f->loop);
	free(f);
	json_object_put(recorded);
	recorded = NULL;
	unlink(cfg_path);
	return 0;
}

static void assert_json(struct json_object *got, const char *want)
{
	struct json_object *w = json_tokener_parse(want);

	assert_non_null(w);
	if (!json_object_equal(got, w))
		fail_msg("got %s, want %s", json_object_to_json_string(got), want);
	json_object_put(w);
}

static void put_file(const char *text)
{
	assert_int_equal(vsl_write_file_atomic(cfg_path, text, strlen(text), 0644), 0);
}

/* Replays cfg_path expecting `want`; errbuf gets the message. */
static void replay(struct fixture *f, int want, char *errbuf, size_t len)
{
	errbuf[0] = '\0';
	assert_int_equal(vsl_config_replay(f->srv, f->loop, cfg_path, errbuf, len), want);
}

/* ================================================================ tests */

static void test_build_runs_writers_in_order(void **state)
{
	struct json_object *calls = NULL;

	(void)state;
	assert_int_equal(vsl_config_build(&calls), 0);
	assert_string_equal(writer_trace, "0BPF");
	assert_json(calls, expected_calls);
	json_object_put(calls);
}

static void test_build_stops_at_failing_writer(void **state)
{
	struct json_object *calls = (struct json_object *)&calls;

	(void)state;
	bridge_ret = -EIO;
	assert_int_equal(vsl_config_build(&calls), -EIO);
	assert_ptr_equal(calls, (struct json_object *)&calls);  /* untouched */
	assert_string_equal(writer_trace, "0B");
}

static void test_add_call(void **state)
{
	struct json_object *calls = json_object_new_array();

	(void)state;
	assert_int_equal(vsl_config_add_call(calls, "m1", NULL), 0);
	assert_int_equal(vsl_config_add_call(calls, "m2", json_object_new_array()), 0);
	assert_json(calls, "[{\"method\":\"m1\"},{\"method\":\"m2\",\"params\":[]}]");
	json_object_put(calls);
}

static void test_write_then_replay(void **state)
{
	struct fixture *f = *state;
	struct json_object *calls = NULL, *back;
	char errbuf[256], *text = NULL;
	struct stat st;
	size_t len;

	assert_int_equal(vsl_config_build(&calls), 0);
	assert_int_equal(vsl_config_write(cfg_path, calls), 0);

	/* Pretty-printed, newline-terminated, slashes not escaped, 0640. */
	assert_int_equal(vsl_read_file(cfg_path, 1 << 20, &text, &len), 0);
	assert_true(len > 2);
	assert_int_equal(text[len - 1], '\n');
	assert_true(strchr(text, '\n') < text + len - 1);  /* several lines */
	assert_non_null(strstr(text, "\"actions\": \"output:2\""));
	back = json_tokener_parse(text);
	assert_true(json_object_equal(back, calls));
	json_object_put(back);
	free(text);
	assert_int_equal(stat(cfg_path, &st), 0);
	assert_int_equal(st.st_mode & 0137, 0);

	replay(f, 0, errbuf, sizeof(errbuf));
	/* Same calls, same order, params passed through unchanged. */
	assert_true(json_object_equal(recorded, calls));
	json_object_put(calls);
}

static void test_write_error(void **state)
{
	struct json_object *calls = json_object_new_array();

	(void)state;
	assert_int_equal(vsl_config_write("/nonexistent-vsl-dir/x.json", calls), -ENOENT);
	json_object_put(calls);
}

static void test_replay_waits_for_deferred_calls(void **state)
{
	struct fixture *f = *state;
	char errbuf[256];

	put_file("[{\"method\":\"cfg.defer\"},{\"method\":\"cfg.add-port\",\"params\":{\"n\":1}},"
		 " {\"method\":\"cfg.defer\"}, {\"method\":\"rpc.methods\",\"params\":[]}]\n");
	replay(f, 0, errbuf, sizeof(errbuf));
	assert_json(recorded, "[{\"method\":\"cfg.defer\"},"
			      "{\"method\":\"cfg.add-port\",\"params\":{\"n\":1}},"
			      "{\"method\":\"cfg.defer\"}]");
}

static void test_replay_empty_list(void **state)
{
	struct fixture *f = *state;
	char errbuf[256];

	put_file("[]");
	replay(f, 0, errbuf, sizeof(errbuf));
	put_file(" \n[\n]\n\n");
	replay(f, 0, errbuf, sizeof(errbuf));
	assert_int_equal(json_object_array_length(recorded), 0);
}

static void test_replay_missing_file(void **state)
{
	struct fixture *f = *state;
	char errbuf[256], want[300];

	replay(f, -ENOENT, errbuf, sizeof(errbuf));
	snprintf(want, sizeof(want), "config %s: No such file or directory", cfg_path);
	assert_string_equal(errbuf, want);
}

static void test_replay_malformed_files(void **state)
{
	static const struct {
		const char *text;
		const char *msg;  /* after "config PATH: " (NULL: any) */
	} cases[] = {
		{ "not json", NULL },
		{ "[{\"method\":\"cfg.add-port\"},]", NULL },  /* strict: no trailing comma */
		{ "[] trailing", NULL },
		{ "{\"method\":\"cfg.add-port\"}", "must be a JSON array of calls" },
		{ "\"cfg.add-port\"", "must be a JSON array of calls" },
		{ "[{\"params\":{}}]", "call 1: needs a \"method\" string" },
		{ "[{\"method\":\"cfg.add-port\"},5]", "call 2: needs a \"method\" string" },
		{ "[{\"method\":\"cfg.add-port\"},{\"method\":7}]", "call 2: needs a \"method\" string" },
	};
	struct fixture *f = *state;
	char errbuf[512], prefix[200];

	snprintf(prefix, sizeof(prefix), "config %s: ", cfg_path);
	for (size_t i = 0; i < VSL_ARRAY_SIZE(cases); i++) {
		put_file(cases[i].text);
		replay(f, -EINVAL, errbuf, sizeof(errbuf));
		if (strncmp(errbuf, prefix, strlen(prefix)) ||
		    (cases[i].msg && strcmp(errbuf + strlen(prefix), cases[i].msg)))
			fail_msg("file '%s': errbuf '%s'", cases[i].text, errbuf);
	}
	/* The call before the bad element did run. */
	assert_true(json_object_array_length(recorded) >= 1);
}

static void test_replay_failing_call(void **state)
{
	struct fixture *f = *state;
	char errbuf[512], want[512];

	put_file("[{\"method\":\"cfg.add-bridge\"},\n"
		 " {\"method\":\"cfg.add-port\",\"params\":{\"name\":\"vh0\"}},\n"
		 " {\"method\":\"cfg.fail\",\"params\":{\"name\":\"vh0\"}},\n"
		 " {\"method\":\"cfg.add-flow\"}]\n");
	replay(f, -EINVAL, errbuf, sizeof(errbuf));
	snprintf(want, sizeof(want), "config %s: call 3 (cfg.fail): port 'vh0' exists", cfg_path);
	assert_string_equal(errbuf, want);
	/* Stopped at the failure: the flow was never added. */
	assert_json(recorded, "[{\"method\":\"cfg.add-bridge\"},"
			      "{\"method\":\"cfg.add-port\",\"params\":{\"name\":\"vh0\"}},"
			      "{\"method\":\"cfg.fail\",\"params\":{\"name\":\"vh0\"}}]");

	put_file("[{\"method\":\"cfg.nope\"}]");
	replay(f, -EINVAL, errbuf, sizeof(errbuf));
	snprintf(want, sizeof(want), "config %s: call 1 (cfg.nope): method not found: cfg.nope",
		 cfg_path);
	assert_string_equal(errbuf, want);

	put_file("[{\"method\":\"cfg.add-port\",\"params\":\"vh0\"}]");
	replay(f, -EINVAL, errbuf, sizeof(errbuf));
	assert_non_null(strstr(errbuf, ": call 1 (cfg.add-port): \"params\" must be"));

	/* A short errbuf is truncated, never overrun. */
	put_file("[{\"method\":\"cfg.fail\",\"params\":{\"name\":\"x\"}}]");
	memset(errbuf, 'Z', sizeof(errbuf));
	assert_int_equal(vsl_config_replay(f->srv, f->loop, cfg_path, errbuf, 8), -EINVAL);
	assert_int_equal(strlen(errbuf), 7);
	assert_int_equal(errbuf[8], 'Z');
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_build_runs_writers_in_order),
		T(test_build_stops_at_failing_writer),
		T(test_add_call),
		T(test_write_then_replay),
		T(test_write_error),
		T(test_replay_waits_for_deferred_calls),
		T(test_replay_empty_list),
		T(test_replay_missing_file),
		T(test_replay_malformed_files),
		T(test_replay_failing_call),
	};
#undef T
	int ret;

	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(cfg_path, sizeof(cfg_path), "%s/vessel.json", tmp_dir);
	vsl_log_set_level(NULL, VSL_LOG_OFF);  /* the failures are expected */
	ret = cmocka_run_group_tests_name("vsl_config", tests, NULL, NULL);
	rmdir(tmp_dir);
	return ret;
}
