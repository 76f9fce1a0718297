/* test_vsl_cli.c — key=value typing, and vsl_cli_main()'s exit codes and output
 * against an in-process server whose loop runs on a second thread. */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vsl_cli.h"
#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

static char tmp_dir[] = "/tmp/vsl_cli_XXXXXX";
static char sock_path[128];
static char out_path[160], err_path[160];
static char out[8192], err[8192];  /* what the last run_cli() printed */

/* ---------------------------------------------------------- the daemon */

static int m_echo(struct vsl_rpc_call *call, struct json_object *params)
{
	vsl_rpc_reply(call, json_object_get(params));
	return 0;
}
VSL_RPC_REGISTER("cli.echo", m_echo, "returns its params")

static int m_fail(struct vsl_rpc_call *call, struct json_object *params)
{
	(void)params;
	vsl_rpc_reply_errno(call, -EEXIST, "port '%s' exists", "vh0");
	return 0;
}
VSL_RPC_REGISTER("cli.fail", m_fail, "always fails")

static int m_true(struct vsl_rpc_call *call, struct json_object *params)
{
	(void)call;
	(void)params;
	return 0;
}
VSL_RPC_REGISTER("cli.true", m_true, "answers true")

struct server {
	struct vsl_loop *loop;
	struct vsl_rpc_server *srv;
	pthread_t thread;
	int stop;
};

/* The loop belongs to this thread while it runs. */
static void *server_main(void *arg)
{
	struct server *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
		vsl_loop_run_once(s->loop, 10);
	return NULL;
}

static int group_setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s || !(s->loop = vsl_loop_create()))
		return -1;
	s->srv = vsl_rpc_server_create(s->loop, sock_path, NULL);  /* ctx NULL: no daemon */
	if (!s->srv || pthread_create(&s->thread, NULL, server_main, s))
		return -1;
	*state = s;
	return 0;
}

static int group_teardown(void **state)
{
	struct server *s = *state;

	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->thread, NULL);
	vsl_rpc_server_destroy(s->srv);
	vsl_loop_destroy(s->loop);
	free(s);
	return 0;
}

/* ------------------------------------------------------------- the CLI */

static int build_kv(int argc, char **argv, struct json_object **params)
{
	int ret;

	*params = json_object_new_object();
	ret = vsl_cli_kv_params("testctl", argc, argv, *params);
	if (ret) {
		json_object_put(*params);
		*params = NULL;
	}
	return ret;
}

static void print_name(struct json_object *result)
{
	struct json_object *n = NULL;

	json_object_object_get_ex(result, "name", &n);
	printf("name: %s\n", json_object_get_string(n));
}

static int build_name(int argc, char **argv, struct json_object **params)
{
	(void)argc;
	*params = json_object_new_object();
	json_object_object_add(*params, "name", json_object_new_string(argv[0]));
	return 0;
}

static const struct vsl_cli_cmd cmds[] = {
	{ "set", "KEY=VALUE...", "echo typed params", 1, -1, "cli.echo", build_kv, NULL },
	{ "show", "NAME", "show one thing", 1, 1, "cli.echo", build_name, print_name },
	{ "fail", "", "always fails", 0, 0, "cli.fail", NULL, NULL },
	{ "ok", "", "answers true", 0, 0, "cli.true", NULL, NULL },
};

static const struct vsl_cli cli = {
	.prog = "testctl",
	.daemon = "testd",
	.summary = "control the test daemon",
	.cmds = cmds,
	.n_cmds = VSL_ARRAY_SIZE(cmds),
};

static void slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* Runs `testctl ARGS...` (NULL-terminated) with stdout and stderr captured into
 * out[] and err[]; returns the exit code. */
static int run_cli(const char *arg0, ...)
{
	char *argv[16];
	int argc = 0, ret, saved_out, saved_err, fo, fe;
	va_list ap;

	argv[argc++] = (char *)"testctl";
	va_start(ap, arg0);
	for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
		assert_true(argc < 15);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	argv[argc] = NULL;

	fflush(stdout);
	fflush(stderr);
	saved_out = dup(STDOUT_FILENO);
	saved_err = dup(STDERR_FILENO);
	fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved_out >= 0 && saved_err >= 0 && fo >= 0 && fe >= 0);
	dup2(fo, STDOUT_FILENO);
	dup2(fe, STDERR_FILENO);
	optind = 0;  /* vsl_cli_main() leaves getopt's state behind: full reset */
	ret = vsl_cli_main(&cli, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	close(fo);
	close(fe);
	slurp(out_path, out, sizeof(out));
	slurp(err_path, err, sizeof(err));
	return ret;
}

/* The captured text on one line, for TAP-safe failure messages. */
static const char *one_line(const char *s)
{
	static char buf[2][512];
	static int which;
	char *b = buf[which ^= 1];
	size_t o = 0;

	for (; *s && o + 3 < sizeof(buf[0]); s++) {
		if (*s == '\n') {
			b[o++] = '\\';
			b[o++] = 'n';
		} else {
			b[o++] = *s;
		}
	}
	b[o] = '\0';
	return b;
}

static void expect(const char *in_out, const char *in_err)
{
	if ((in_out && !strstr(out, in_out)) || (in_err && !strstr(err, in_err)))
		fail_msg("stdout '%s' stderr '%s'; wanted '%s' / '%s'", one_line(out), one_line(err),
			 in_out ? in_out : "", in_err ? in_err : "");
}

/* stdout holds exactly the JSON value `want`. */
static void expect_json(const char *want)
{
	struct json_object *got = json_tokener_parse(out), *w = json_tokener_parse(want);
	bool same = json_object_equal(got, w);

	json_object_put(got);
	json_object_put(w);
	if (!same)
		fail_msg("stdout '%s', wanted %s", one_line(out), want);
}

/* ================================================================ tests */

static struct json_object *kv(int argc, const char **argv, int want_ret)
{
	struct json_object *p = json_object_new_object();
	int saved = dup(STDERR_FILENO), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	int ret;

	dup2(devnull, STDERR_FILENO);  /* the error text is checked in run_cli tests */
	ret = vsl_cli_kv_params("testctl", argc, (char **)argv, p);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(devnull);
	if (ret != want_ret)
		fail_msg("'%s'...: %d", argc ? argv[0] : "", ret);
	return p;
}

static void test_kv_typing(void **state)
{
	static const char *argv[] = {
		"n=42",     "zero=0",       "t=true",      "f=false",   "s=hello",
		"hex=0x10", "lead=007",     "neg=-5",      "frac=1.5",  "empty=",
		"eq=a=b",   "T=True",       "max=9223372036854775807",
		"over=9223372036854775808", "sz=10G",      "n=43",
	};
	struct json_object *p = kv(VSL_ARRAY_SIZE(argv), argv, 0), *want;

	(void)state;
	/* Numbers are plain decimals without a leading zero (so "007" and "0x10"
	 * stay strings); a later key replaces an earlier one. */
	want = json_tokener_parse("{\"n\":43,\"zero\":0,\"t\":true,\"f\":false,\"s\":\"hello\","
				  "\"hex\":\"0x10\",\"lead\":\"007\",\"neg\":\"-5\",\"frac\":\"1.5\","
				  "\"empty\":\"\",\"eq\":\"a=b\",\"T\":\"True\","
				  "\"max\":9223372036854775807,\"over\":\"9223372036854775808\","
				  "\"sz\":\"10G\"}");
	if (!json_object_equal(p, want))
		fail_msg("got %s", json_object_to_json_string(p));
	assert_true(json_object_is_type(json_object_object_get(p, "zero"), json_type_int));
	json_object_put(want);
	json_object_put(p);
}

static void test_kv_errors(void **state)
{
	static const char *bad[] = { "novalue", "=x", "=", "" };
	char key[200];
	const char *argv[2];
	struct json_object *p;

	(void)state;
	for (size_t i = 0; i < VSL_ARRAY_SIZE(bad); i++) {
		argv[0] = bad[i];
		json_object_put(kv(1, argv, -EINVAL));
	}
	/* Keys up to 127 bytes. */
	memset(key, 'k', sizeof(key));
	strcpy(key + 127, "=1");
	argv[0] = key;
	p = kv(1, argv, 0);
	assert_int_equal(json_object_object_length(p), 1);
	json_object_put(p);
	key[127] = 'k';
	strcpy(key + 128, "=1");
	json_object_put(kv(1, argv, -EINVAL));
	/* A bad argument after good ones still fails. */
	argv[0] = "a=1";
	argv[1] = "b";
	json_object_put(kv(2, argv, -EINVAL));
	json_object_put(kv(0, argv, 0));
}

static void test_usage_errors_exit_2(void **state)
{
	(void)state;
	assert_int_equal(run_cli(NULL), 2);
	expect(NULL, "testctl: missing command");
	assert_int_equal(run_cli("frob", NULL), 2);
	expect(NULL, "unknown command 'frob'");
	assert_int_equal(run_cli("-s", sock_path, "version", "extra", NULL), 2);
	expect(NULL, "version: wrong number of arguments");
	assert_int_equal(run_cli("show", NULL), 2);
	assert_int_equal(run_cli("show", "a", "b", NULL), 2);
	assert_int_equal(run_cli("call", NULL), 2);
	assert_int_equal(run_cli("-x", "version", NULL), 2);
	expect(NULL, "unknown option '-x'");
	assert_int_equal(run_cli("--bogus", "version", NULL), 2);
	assert_int_equal(run_cli("-t", "0", "version", NULL), 2);
	expect(NULL, "--timeout needs a number of seconds");
	assert_int_equal(run_cli("-t", "abc", "version", NULL), 2);
	assert_int_equal(run_cli("-t", "86401", "version", NULL), 2);
	assert_int_equal(run_cli("-s", NULL), 2);
	expect(NULL, "option '-s' needs an argument");
	assert_int_equal(run_cli("show", "-n", NULL), 2);
	expect(NULL, "show: unknown option '-n'");
	assert_int_equal(run_cli("-s", sock_path, "set", "novalue", NULL), 2);
	expect(NULL, "expected key=value, got 'novalue'");
	assert_int_equal(run_cli("-s", sock_path, "call", "cli.echo", "notjson", NULL), 2);
	expect(NULL, "PARAMS-JSON must be a JSON object or array");
	assert_int_equal(run_cli("-s", sock_path, "call", "cli.echo", "5", NULL), 2);
}

static void test_help_and_version_exit_0(void **state)
{
	(void)state;
	assert_int_equal(run_cli("--help", NULL), 0);
	expect("Usage: testctl [OPTIONS] COMMAND [ARGS...]", NULL);
	expect("  set ", NULL);
	expect("  save-config ", NULL);
	assert_int_equal(run_cli("-V", NULL), 0);
	expect("testctl (Vessel) " VSL_VERSION, NULL);
	assert_int_equal(run_cli("show", "--help", NULL), 0);
	expect("Usage: testctl [OPTIONS] show NAME\nshow one thing", NULL);
}

static void test_success_exit_0(void **state)
{
	(void)state;
	assert_int_equal(run_cli("-s", sock_path, "call", "cli.echo", "{\"a\":[1,\"/x\"]}", NULL), 0);
	expect_json("{\"a\":[1,\"/x\"]}");
	expect("\"/x\"", NULL);  /* slashes are not escaped */
	assert_int_equal(run_cli("-s", sock_path, "set", "port=4789", "up=true", "name=vh0", NULL), 0);
	expect_json("{\"port\":4789,\"up\":true,\"name\":\"vh0\"}");
	assert_int_equal(run_cli("-s", sock_path, "show", "br0", NULL), 0);
	assert_string_equal(out, "name: br0\n");
	/* `true` prints nothing for humans, "true" with --json. */
	assert_int_equal(run_cli("-s", sock_path, "ok", NULL), 0);
	assert_string_equal(out, "");
	assert_int_equal(run_cli("-s", sock_path, "--json", "ok", NULL), 0);
	assert_string_equal(out, "true\n");
	assert_int_equal(run_cli("-s", sock_path, "methods", NULL), 0);
	expect("cli.echo                 returns its params\n", NULL);
	expect("rpc.methods ", NULL);
	assert_int_equal(run_cli("-s", sock_path, "version", NULL), 0);
	expect("version    " VSL_VERSION "\n", NULL);
	assert_int_equal(run_cli("-s", sock_path, "-t", "5", "save-config", NULL), 0);
	expect_json("[]");  /* no config writers in this program */
	assert_string_equal(err, "");
}

static void test_default_socket_from_rundir(void **state)
{
	(void)state;
	assert_int_equal(setenv("VESSEL_RUNDIR", tmp_dir, 1), 0);
	assert_int_equal(run_cli("ok", NULL), 0);
	assert_int_equal(run_cli("--help", NULL), 0);
	expect(tmp_dir, NULL);
	unsetenv("VESSEL_RUNDIR");
}

static void test_daemon_errors_exit_1(void **state)
{
	char none[200];

	(void)state;
	assert_int_equal(run_cli("-s", sock_path, "call", "no.such", NULL), 1);
	assert_string_equal(err, "testctl: method not found: no.such\n");
	assert_int_equal(run_cli("-s", sock_path, "fail", NULL), 1);
	assert_string_equal(err, "testctl: port 'vh0' exists\n");
	assert_string_equal(out, "");
	assert_int_equal(run_cli("-s", sock_path, "-j", "fail", NULL), 1);
	expect_json("{\"error\":{\"code\":-33017,\"message\":\"port 'vh0' exists\"}}");
	expect(NULL, "testctl: port 'vh0' exists\n");
	assert_int_equal(run_cli("-s", sock_path, "call", "rpc.methods", "{\"x\":1}", NULL), 1);
	expect(NULL, "takes no parameters");
	/* `shutdown` without a vsl_daemon behind the server: not supported. */
	assert_int_equal(run_cli("-s", sock_path, "shutdown", NULL), 1);

	snprintf(none, sizeof(none), "%s/none.sock", tmp_dir);
	assert_int_equal(run_cli("-s", none, "version", NULL), 1);
	expect(NULL, "testctl: cannot connect to testd at ");
	expect(NULL, "none.sock: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_typing),
		cmocka_unit_test(test_kv_errors),
		cmocka_unit_test(test_usage_errors_exit_2),
		cmocka_unit_test(test_help_and_version_exit_0),
		cmocka_unit_test(test_success_exit_0),
		cmocka_unit_test(test_default_socket_from_rundir),
		cmocka_unit_test(test_daemon_errors_exit_1),
	};
	int ret;

	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/testd.sock", tmp_dir);
	snprintf(out_path, sizeof(out_path), "%s/stdout", tmp_dir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", tmp_dir);
	vsl_log_set_level(NULL, VSL_LOG_OFF);
	ret = cmocka_run_group_tests_name("vsl_cli", tests, group_setup, group_teardown);
	unlink(out_path);
	unlink(err_path);
	rmdir(tmp_dir);
	return ret;
}
