/* test_vsl_log.c — levels, per-module overrides, --log-level specs, the line
 * format in a log file, truncation, rate limiting and reopen after rotation. */
#include <ctype.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(testmod);
/* A second module, declared by hand: VSL_LOG_MODULE names one per file. */
static struct vsl_log_module mod_rpc = { .name = "rpc", .level = -1 };

static char tmp_dir[] = "/tmp/vsl_log_XXXXXX";
static char log_file[256];

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* Reads the whole log file; free with free(). Not inlined: GCC 12 then
 * mistakes the result for a pointer to the local `buf` (-Wdangling-pointer). */
static __attribute__((noinline)) char *slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;

	assert_int_equal(vsl_read_file(path, 1 << 20, &buf, &n), 0);
	if (len)
		*len = n;
	return buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Returns the start of line `idx` (0-based) in s, or NULL. */
static const char *nth_line(const char *s, size_t idx)
{
	while (idx--) {
		s = strchr(s, '\n');
		if (!s)
			return NULL;
		s++;
	}
	return *s ? s : NULL;
}

/* Each test starts from a fresh, empty log file and the default levels. */
static int setup_file(void **state)
{
	(void)state;
	unlink(log_file);
	if (vsl_log_open_file(log_file))
		return -1;
	vsl_log_set_program("testprog");
	return vsl_log_set_level(NULL, VSL_LOG_INFO);
}

static int teardown_file(void **state)
{
	(void)state;
	vsl_log_open_file(NULL);
	unlink(log_file);
	return 0;
}

/* ---- level names ---- */

static void test_level_parse(void **state)
{
	static const struct {
		const char *name;
		int level;
	} cases[] = {
		{ "off", VSL_LOG_OFF },   { "err", VSL_LOG_ERR },     { "error", VSL_LOG_ERR },
		{ "warn", VSL_LOG_WARN }, { "warning", VSL_LOG_WARN }, { "info", VSL_LOG_INFO },
		{ "dbg", VSL_LOG_DBG },   { "debug", VSL_LOG_DBG },   { "WARN", VSL_LOG_WARN },
		{ "Debug", VSL_LOG_DBG }, { "", -EINVAL },            { "warnx", -EINVAL },
		{ "verbose", -EINVAL },   { " info", -EINVAL },       { "3", -EINVAL },
	};

	(void)state;
	for (size_t i = 0; i < VSL_ARRAY_SIZE(cases); i++)
		if (vsl_log_level_parse(cases[i].name) != cases[i].level)
			fail_msg("'%s': %d", cases[i].name, vsl_log_level_parse(cases[i].name));
}

static void test_level_name(void **state)
{
	(void)state;
	assert_string_equal(vsl_log_level_name(VSL_LOG_OFF), "OFF");
	assert_string_equal(vsl_log_level_name(VSL_LOG_ERR), "ERR");
	assert_string_equal(vsl_log_level_name(VSL_LOG_WARN), "WARN");
	assert_string_equal(vsl_log_level_name(VSL_LOG_INFO), "INFO");
	assert_string_equal(vsl_log_level_name(VSL_LOG_DBG), "DBG");
	assert_string_equal(vsl_log_level_name((enum vsl_log_level)5), "?");
	assert_string_equal(vsl_log_level_name((enum vsl_log_level)-1), "?");
}

/* ---- levels and overrides ---- */

static void test_default_level_is_info(void **state)
{
	(void)state;
	assert_true(vsl_log_enabled(&vsl_this_module, VSL_LOG_ERR));
	assert_true(vsl_log_enabled(&vsl_this_module, VSL_LOG_INFO));
	assert_false(vsl_log_enabled(&vsl_this_module, VSL_LOG_DBG));
	/* OFF is a threshold, never a level a line is logged at. */
	assert_false(vsl_log_enabled(&vsl_this_module, VSL_LOG_OFF));
}

static void test_module_override_wins(void **state)
{
	(void)state;
	assert_int_equal(vsl_log_set_level("all", VSL_LOG_ERR), 0);
	assert_int_equal(vsl_log_set_level("rpc", VSL_LOG_DBG), 0);
	assert_true(vsl_log_enabled(&mod_rpc, VSL_LOG_DBG));
	assert_false(vsl_log_enabled(&vsl_this_module, VSL_LOG_WARN));
	assert_true(vsl_log_enabled(&vsl_this_module, VSL_LOG_ERR));

	/* Changing the same override again updates it in place. */
	assert_int_equal(vsl_log_set_level("rpc", VSL_LOG_OFF), 0);
	assert_false(vsl_log_enabled(&mod_rpc, VSL_LOG_ERR));
	assert_true(vsl_log_enabled(&vsl_this_module, VSL_LOG_ERR));

	/* NULL sets every module, clearing the overrides. */
	assert_int_equal(vsl_log_set_level(NULL, VSL_LOG_WARN), 0);
	assert_true(vsl_log_enabled(&mod_rpc, VSL_LOG_WARN));
	assert_false(vsl_log_enabled(&mod_rpc, VSL_LOG_INFO));
	assert_true(vsl_log_enabled(&vsl_this_module, VSL_LOG_WARN));
}

static void test_set_level_errors(void **state)
{
	char name[64];

	(void)state;
	assert_int_equal(vsl_log_set_level("rpc", (enum vsl_log_level)5), -EINVAL);
	assert_int_equal(vsl_log_set_level(NULL, (enum vsl_log_level)-1), -EINVAL);
	/* 31 characters fit, 32 do not. */
	memset(name, 'm', sizeof(name));
	name[31] = '\0';
	assert_int_equal(vsl_log_set_level(name, VSL_LOG_DBG), 0);
	name[31] = 'm';
	name[32] = '\0';
	assert_int_equal(vsl_log_set_level(name, VSL_LOG_DBG), -EINVAL);

	/* The override table is bounded; "all" empties it. */
	assert_int_equal(vsl_log_set_level(NULL, VSL_LOG_INFO), 0);
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "mod%d", i);
		assert_int_equal(vsl_log_set_level(name, VSL_LOG_DBG), 0);
	}
	assert_int_equal(vsl_log_set_level("one-too-many", VSL_LOG_DBG), -ENOMEM);
	assert_int_equal(vsl_log_set_level("mod7", VSL_LOG_ERR), 0);  /* existing: fine */
	assert_int_equal(vsl_log_set_level("all", VSL_LOG_INFO), 0);
	assert_int_equal(vsl_log_set_level("one-too-many", VSL_LOG_DBG), 0);
	assert_int_equal(vsl_log_set_level(NULL, VSL_LOG_INFO), 0);
}

static void test_set_spec(void **state)
{
	(void)state;
	assert_int_equal(vsl_log_set_spec("warn"), 0);
	assert_true(vsl_log_enabled(&vsl_this_module, VSL_LOG_WARN));
	assert_false(vsl_log_enabled(&vsl_this_module, VSL_LOG_INFO));
	assert_false(vsl_log_enabled(&mod_rpc, VSL_LOG_INFO));

	assert_int_equal(vsl_log_set_spec("rpc:dbg"), 0);
	assert_true(vsl_log_enabled(&mod_rpc, VSL_LOG_DBG));
	assert_false(vsl_log_enabled(&vsl_this_module, VSL_LOG_INFO));  /* global kept */

	assert_int_equal(vsl_log_set_spec("all:err,rpc:dbg,testmod:info"), 0);
	assert_true(vsl_log_enabled(&mod_rpc, VSL_LOG_DBG));
	assert_true(vsl_log_enabled(&vsl_this_module, VSL_LOG_INFO));
	assert_false(vsl_log_enabled(&vsl_this_module, VSL_LOG_DBG));

	/* A bare level in a list is the global one, like "all:LEVEL". */
	assert_int_equal(vsl_log_set_spec("DEBUG"), 0);
	assert_true(vsl_log_enabled(&vsl_this_module, VSL_LOG_DBG));
	assert_true(vsl_log_enabled(&mod_rpc, VSL_LOG_DBG));

	assert_int_equal(vsl_log_set_spec("info"), 0);
}

static void test_set_spec_errors(void **state)
{
	static const char *const bad[] = {
		"bogus", "rpc:", "rpc:loud", "rpc:dbg:x", "warn,nope", "all", "x:err,all",
	};
	char big[600];

	(void)state;
	for (size_t i = 0; i < VSL_ARRAY_SIZE(bad); i++) {
		int ret = vsl_log_set_spec(bad[i]);

		if (ret != -EINVAL)
			fail_msg("spec '%s': %d", bad[i], ret);
	}
	assert_int_equal(vsl_log_set_spec("all:err,"), 0);  /* empty tokens are skipped */
	assert_int_equal(vsl_log_set_spec(NULL), -EINVAL);
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(vsl_log_set_spec(big), -EINVAL);
	assert_int_equal(vsl_log_set_spec(""), 0);  /* nothing to change */
	assert_int_equal(vsl_log_set_spec("info"), 0);
}

/* ---- output ---- */

/* "2026-11-21T06:14:42.123Z" */
static void assert_timestamp(const char *ts, size_t len)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";

	assert_int_equal(len, sizeof(pat) - 1);
	for (size_t i = 0; i < len; i++) {
		if (pat[i] == 'd')
			assert_true(isdigit((unsigned char)ts[i]));
		else
			assert_int_equal(ts[i], pat[i]);
	}
}

static void test_line_format(void **state)
{
	struct stat st;
	const char *bar;
	char *text;
	size_t len;

	(void)state;
	VSL_WARN("hello %d %s", 42, "world");
	text = slurp(log_file, &len);
	assert_int_equal(count_lines(text), 1);
	assert_int_equal(text[len - 1], '\n');
	bar = strchr(text, '|');
	assert_non_null(bar);
	assert_timestamp(text, (size_t)(bar - text));
	assert_string_equal(bar, "|testprog|testmod|WARN|hello 42 world\n");
	free(text);

	assert_int_equal(stat(log_file, &st), 0);
	assert_int_equal(st.st_mode & 0137, 0);  /* created 0640 (minus umask) */
}

static enum vsl_log_level stream_level;

static enum vsl_log_level stream_level_fn(void)
{
	return stream_level;
}

/* A FILE * from vsl_log_stream: one log line per written line, at the level
 * the callback gives when the line is flushed, trailing newlines dropped, and
 * lines below the module's level filtered like any other. */
static void test_log_stream(void **state)
{
	static struct vsl_log_module lib = { .name = "lib", .level = -1 };
	FILE *f = vsl_log_stream(&lib, stream_level_fn);
	char *text;

	(void)state;
	assert_non_null(f);
	stream_level = VSL_LOG_ERR;
	fprintf(f, "first %d\n", 1);
	stream_level = VSL_LOG_DBG;          /* below the default level: dropped */
	fprintf(f, "hidden\n");
	stream_level = VSL_LOG_WARN;
	fprintf(f, "second\r\n");
	fclose(f);
	text = slurp(log_file, NULL);
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(nth_line(text, 0), "|lib|ERR|first 1\n"));
	assert_non_null(strstr(nth_line(text, 1), "|lib|WARN|second\n"));
	free(text);
}

static void test_line_per_call(void **state)
{
	char *text;

	(void)state;
	VSL_ERR("one");
	VSL_DBG("hidden at info");
	vsl_log(&mod_rpc, VSL_LOG_INFO, "two");
	VSL_WARN("multi\nline");  /* the message is not split, one newline added */
	text = slurp(log_file, NULL);
	assert_int_equal(count_lines(text), 4);
	assert_non_null(strstr(nth_line(text, 0), "|testprog|testmod|ERR|one\n"));
	assert_true(strncmp(strstr(nth_line(text, 1), "|"), "|testprog|rpc|INFO|two\n", 23) == 0);
	assert_non_null(strstr(text, "|testmod|WARN|multi\nline\n"));
	assert_null(strstr(text, "hidden"));
	free(text);

	vsl_log_set_program(NULL);  /* back to the default name */
	VSL_ERR("three");
	text = slurp(log_file, NULL);
	assert_non_null(strstr(text, "|vessel|testmod|ERR|three\n"));
	free(text);
}

static void test_long_message_truncated(void **state)
{
	char *msg = malloc(5000), *text;
	size_t len;

	(void)state;
	assert_non_null(msg);
	memset(msg, 'x', 4999);
	msg[4999] = '\0';
	VSL_INFO("%s", msg);
	VSL_INFO("after");
	free(msg);

	text = slurp(log_file, &len);
	assert_int_equal(count_lines(text), 2);
	/* One line of the buffer's size (2048) minus the NUL, newline-terminated. */
	assert_int_equal(strchr(text, '\n') - text + 1, 2047);
	assert_int_equal(text[2045], 'x');
	assert_non_null(strstr(nth_line(text, 1), "|INFO|after\n"));
	free(text);
}

/* ---- rate limiting ---- */

static void test_ratelimit_burst_then_suppress(void **state)
{
	/* 600 per minute: one token per 100 ms, so the burst below is not refilled
	 * while it runs, however slow the machine. */
	struct vsl_ratelimit rl = VSL_RATELIMIT_INIT(600, 3);
	char *text;

	(void)state;
	for (int i = 0; i < 10; i++)
		VSL_WARN_RL(&rl, "burst %d", i);
	text = slurp(log_file, NULL);
	assert_int_equal(count_lines(text), 3);
	assert_non_null(strstr(text, "burst 2\n"));
	assert_null(strstr(text, "burst 3"));
	free(text);
	assert_int_equal(rl.suppressed, 7);

	sleep_ms(120);
	VSL_WARN_RL(&rl, "after refill");
	text = slurp(log_file, NULL);
	assert_int_equal(count_lines(text), 5);
	assert_non_null(strstr(nth_line(text, 3), "|testmod|WARN|(7 similar messages suppressed)\n"));
	assert_non_null(strstr(nth_line(text, 4), "|testmod|WARN|after refill\n"));
	free(text);
	assert_int_equal(rl.suppressed, 0);
}

static void test_ratelimit_refill_rate(void **state)
{
	/* 6000 per minute: one token per 10 ms, burst 2. */
	struct vsl_ratelimit rl = VSL_RATELIMIT_INIT(6000, 2);
	char *text;

	(void)state;
	VSL_ERR_RL(&rl, "a");
	VSL_ERR_RL(&rl, "b");
	VSL_ERR_RL(&rl, "c");  /* suppressed (unless 10 ms passed) */
	/* Long enough for several tokens: the bucket still holds only `burst`. */
	sleep_ms(100);
	for (int i = 0; i < 5; i++)
		VSL_ERR_RL(&rl, "d%d", i);
	text = slurp(log_file, NULL);
	assert_non_null(strstr(text, "|ERR|a\n"));
	assert_non_null(strstr(text, "|ERR|d0\n"));
	assert_non_null(strstr(text, "|ERR|d1\n"));
	/* c was dropped, so d0 is preceded by the count (unless 10 ms passed
	 * between a and c and c got a fresh token). */
	if (!strstr(text, "|ERR|c\n"))
		assert_non_null(strstr(text, "|ERR|(1 similar messages suppressed)\n"));
	/* d2..d4 only pass when the loop took 10 ms or more per refill. */
	assert_true(count_lines(text) <= 2 + 1 + 1 + 5);
	assert_true(count_lines(text) >= 2 + 2);
	free(text);
}

static void test_ratelimit_disabled_level_keeps_tokens(void **state)
{
	struct vsl_ratelimit rl = VSL_RATELIMIT_INIT(1, 2);
	char *text;

	(void)state;
	/* Lines below the module's level are filtered, not rate-limited: they
	 * neither take tokens nor count as suppressed. */
	assert_int_equal(vsl_log_set_level("testmod", VSL_LOG_ERR), 0);
	for (int i = 0; i < 5; i++)
		VSL_WARN_RL(&rl, "filtered");
	assert_int_equal(rl.suppressed, 0);
	assert_int_equal(vsl_log_set_level(NULL, VSL_LOG_INFO), 0);
	VSL_WARN_RL(&rl, "x");
	VSL_WARN_RL(&rl, "y");
	VSL_WARN_RL(&rl, "z");
	text = slurp(log_file, NULL);
	assert_int_equal(count_lines(text), 2);
	assert_null(strstr(text, "filtered"));
	assert_non_null(strstr(text, "|WARN|x\n"));
	assert_non_null(strstr(text, "|WARN|y\n"));
	free(text);
	assert_int_equal(rl.suppressed, 1);
}

static void test_ratelimit_zero_burst_and_rate(void **state)
{
	/* burst 0 behaves as 1; rate 0 never refills. */
	struct vsl_ratelimit rl = VSL_RATELIMIT_INIT(0, 0);
	char *text;

	(void)state;
	VSL_WARN_RL(&rl, "first");
	VSL_WARN_RL(&rl, "second");
	sleep_ms(5);
	VSL_WARN_RL(&rl, "third");
	text = slurp(log_file, NULL);
	assert_int_equal(count_lines(text), 1);
	assert_non_null(strstr(text, "|first\n"));
	free(text);
	assert_int_equal(rl.suppressed, 2);
}

/* ---- files ---- */

static void test_open_file_error_keeps_destination(void **state)
{
	char *text;

	(void)state;
	assert_int_equal(vsl_log_open_file("/nonexistent-dir-vsl/x.log"), -ENOENT);
	VSL_ERR("still here");
	text = slurp(log_file, NULL);
	assert_non_null(strstr(text, "|ERR|still here\n"));
	free(text);
}

static void test_open_file_appends(void **state)
{
	char *text;

	(void)state;
	VSL_ERR("first");
	assert_int_equal(vsl_log_open_file(log_file), 0);  /* same file again */
	VSL_ERR("second");
	text = slurp(log_file, NULL);
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(nth_line(text, 1), "|second\n"));
	free(text);
}

static void test_reopen_after_rotation(void **state)
{
	char rotated[300], *text;

	(void)state;
	snprintf(rotated, sizeof(rotated), "%s.1", log_file);
	VSL_ERR("before rotation");
	assert_int_equal(rename(log_file, rotated), 0);
	VSL_ERR("into the rotated file");
	assert_int_equal(vsl_log_reopen(), 0);
	VSL_ERR("after reopen");

	text = slurp(rotated, NULL);
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(text, "|before rotation\n"));
	assert_non_null(strstr(text, "|into the rotated file\n"));
	free(text);
	text = slurp(log_file, NULL);
	assert_int_equal(count_lines(text), 1);
	assert_non_null(strstr(text, "|after reopen\n"));
	free(text);
	unlink(rotated);

	/* On stderr, reopen has nothing to do. */
	assert_int_equal(vsl_log_open_file(NULL), 0);
	assert_int_equal(vsl_log_reopen(), 0);
	assert_int_equal(vsl_log_open_file(log_file), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test_setup_teardown(test_log_stream, setup_file, teardown_file),
		cmocka_unit_test(test_level_name),
		cmocka_unit_test_setup_teardown(test_default_level_is_info, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_module_override_wins, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_set_level_errors, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_set_spec, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_set_spec_errors, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_line_format, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_line_per_call, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_long_message_truncated, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_ratelimit_burst_then_suppress, setup_file,
						teardown_file),
		cmocka_unit_test_setup_teardown(test_ratelimit_refill_rate, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_ratelimit_disabled_level_keeps_tokens, setup_file,
						teardown_file),
		cmocka_unit_test_setup_teardown(test_ratelimit_zero_burst_and_rate, setup_file,
						teardown_file),
		cmocka_unit_test_setup_teardown(test_open_file_error_keeps_destination, setup_file,
						teardown_file),
		cmocka_unit_test_setup_teardown(test_open_file_appends, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_reopen_after_rotation, setup_file, teardown_file),
	};
	int ret;

	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(log_file, sizeof(log_file), "%s/test.log", tmp_dir);
	ret = cmocka_run_group_tests_name("vsl_log", tests, NULL, NULL);
	vsl_log_open_file(NULL);
	rmdir(tmp_dir);
	return ret;
}
