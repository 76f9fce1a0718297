/* test_vsl_time.c — clocks, ISO formatting, TSC calibration. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "vsl_time.h"

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void test_mono_advances(void **state)
{
	uint64_t prev = vsl_time_mono_ns();

	(void)state;
	for (int i = 0; i < 100000; i++) {
		uint64_t now = vsl_time_mono_ns();

		assert_true(now >= prev);
		prev = now;
	}

	uint64_t t0 = vsl_time_mono_ns();
	sleep_ms(20);
	uint64_t dt = vsl_time_mono_ns() - t0;
	/* The sleep is a lower bound; the upper bound is loose for busy CI. */
	assert_true(dt >= 20000000u);
	assert_true(dt < 5000000000u);
}

static void test_mono_ms_matches_ns(void **state)
{
	(void)state;
	uint64_t ns0 = vsl_time_mono_ns();
	uint64_t ms = vsl_time_mono_ms();
	uint64_t ns1 = vsl_time_mono_ns();

	assert_true(ms >= ns0 / 1000000);
	assert_true(ms <= ns1 / 1000000);
}

static void test_wall_is_epoch_ns(void **state)
{
	(void)state;
	time_t before = time(NULL);
	uint64_t wall = vsl_time_wall_ns();
	time_t after = time(NULL);

	/* time() may lag the fine clock by up to a tick; allow a second. */
	assert_true(wall / 1000000000u + 1 >= (uint64_t)before);
	assert_true(wall / 1000000000u <= (uint64_t)after + 1);
	/* After 2020-01-01: catches a seconds-vs-ns or mono-vs-wall mix-up. */
	assert_true(wall > 1577836800ull * 1000000000ull);
}

static void test_format_iso_known(void **state)
{
	static const struct {
		uint64_t ns;
		const char *want;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 999999, "1970-01-01T00:00:00.000Z" },  /* truncates, not rounds */
		{ 1000000, "1970-01-01T00:00:00.001Z" },
		{ 1234567890123456789ull, "2009-02-13T23:31:30.123Z" },
		{ 951782400ull * 1000000000ull + 999999999ull, "2000-02-29T00:00:00.999Z" },
		{ 4102444799ull * 1000000000ull + 500000000ull, "2099-12-31T23:59:59.500Z" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'x', sizeof(buf));
		assert_ptr_equal(vsl_time_format_iso(cases[i].ns, buf, sizeof(buf)), buf);
		assert_string_equal(buf, cases[i].want);
	}
}

static void test_format_iso_now(void **state)
{
	char buf[32];
	char year[16];
	time_t now = time(NULL);
	struct tm tm;

	(void)state;
	gmtime_r(&now, &tm);
	snprintf(year, sizeof(year), "%04d-", tm.tm_year + 1900);
	vsl_time_format_iso(vsl_time_wall_ns(), buf, sizeof(buf));
	assert_int_equal(strlen(buf), 24);
	assert_int_equal(buf[10], 'T');
	assert_int_equal(buf[23], 'Z');
	/* Run within a second of New Year and this could flake; accept. */
	assert_memory_equal(buf, year, 5);
}

/* A short buffer is truncated and still NUL-terminated, never overrun. */
static void test_format_iso_short_buffer(void **state)
{
	char buf[16];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(vsl_time_format_iso(0, buf, 8), buf);
	assert_string_equal(buf, "1970-01");
	assert_int_equal(buf[8], 'x');

	memset(buf, 'x', sizeof(buf));
	vsl_time_format_iso(0, buf, 1);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'x');

	memset(buf, 'x', sizeof(buf));
	vsl_time_format_iso(0, buf, 0);
	assert_int_equal(buf[0], 'x');
}

static void test_cycles_hz(void **state)
{
	uint64_t hz = vsl_cycles_hz();

	(void)state;
	print_message("# vsl_cycles_hz = %llu\n", (unsigned long long)hz);
	/* Any real TSC (or the 1 GHz ns clock on non-x86) is in this range. */
	assert_true(hz >= 100000000ull);
	assert_true(hz <= 20000000000ull);
	assert_int_equal(vsl_cycles_hz(), hz); /* cached */
}

static void test_cycles_to_ns(void **state)
{
	uint64_t hz = vsl_cycles_hz();

	(void)state;
	assert_int_equal(vsl_cycles_to_ns(0), 0);
	assert_int_equal(vsl_cycles_to_ns(hz), 1000000000ull);
	assert_int_equal(vsl_cycles_to_ns(hz * 3600), 3600ull * 1000000000ull);
	assert_int_equal(vsl_cycles_to_ns(hz / 2), 1000000000ull * (hz / 2) / hz);
	/* Large inputs must not overflow: a 50-year cycle count (fits in 64 bits
	 * for clocks up to ~11 GHz). */
	uint64_t years = hz * 3600ull * 24 * 365 * 50;
	assert_int_equal(vsl_cycles_to_ns(years), 3600ull * 24 * 365 * 50 * 1000000000ull);
	/* Monotonic in its argument. */
	uint64_t prev = 0;
	for (uint64_t c = 0; c < 100000; c += 7) {
		uint64_t ns = vsl_cycles_to_ns(c);

		assert_true(ns >= prev);
		prev = ns;
	}
}

/* Cycle deltas converted to ns agree with the monotonic clock. */
static void test_cycles_track_mono(void **state)
{
	(void)state;
	vsl_cycles_hz(); /* calibrate outside the measured window */
	uint64_t t0 = vsl_time_mono_ns();
	uint64_t c0 = vsl_cycles();
	sleep_ms(50);
	uint64_t c1 = vsl_cycles();
	uint64_t t1 = vsl_time_mono_ns();

	uint64_t by_cycles = vsl_cycles_to_ns(c1 - c0);
	uint64_t by_clock = t1 - t0;
	print_message("# 50 ms sleep: %llu ns by cycles, %llu ns by clock\n",
		      (unsigned long long)by_cycles, (unsigned long long)by_clock);
	/* 10 % tolerance: the 10 ms calibration is coarse on a loaded VM. */
	assert_true(by_cycles > by_clock - by_clock / 10);
	assert_true(by_cycles < by_clock + by_clock / 10);
}

static void *hz_thread(void *arg)
{
	*(uint64_t *)arg = vsl_cycles_hz();
	return NULL;
}

/* The header promises a thread-safe one-time calibration; in a fresh process
 * this test alone would race the first call, so it also runs first. */
static void test_cycles_hz_threads(void **state)
{
	pthread_t th[4];
	uint64_t got[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hz_thread, &got[i]), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (int i = 1; i < 4; i++)
		assert_int_equal(got[i], got[0]);
	assert_int_equal(vsl_cycles_hz(), got[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cycles_hz_threads),
		cmocka_unit_test(test_mono_advances),
		cmocka_unit_test(test_mono_ms_matches_ns),
		cmocka_unit_test(test_wall_is_epoch_ns),
		cmocka_unit_test(test_format_iso_known),
		cmocka_unit_test(test_format_iso_now),
		cmocka_unit_test(test_format_iso_short_buffer),
		cmocka_unit_test(test_cycles_hz),
		cmocka_unit_test(test_cycles_to_ns),
		cmocka_unit_test(test_cycles_track_mono),
	};

	return cmocka_run_group_tests_name("vsl_time", tests, NULL, NULL);
}
