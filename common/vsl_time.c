/* vsl_time.c — clocks, ISO-8601 formatting and TSC calibration. */
#include "vsl_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

enum { NSEC_PER_SEC = 1000000000, NSEC_PER_MSEC = 1000000 };

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	/* Cannot fail for these clock ids on Linux; a zero timespec is the least
	 * surprising answer if it ever did. */
	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t vsl_time_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t vsl_time_mono_ms(void)
{
	return vsl_time_mono_ns() / NSEC_PER_MSEC;
}

uint64_t vsl_time_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

char *vsl_time_format_iso(uint64_t wall_ns, char *buf, size_t len)
{
	time_t secs = (time_t)(wall_ns / NSEC_PER_SEC);
	unsigned int ms = (unsigned int)(wall_ns % NSEC_PER_SEC / NSEC_PER_MSEC);
	struct tm tm;

	if (len == 0)
		return buf;
	if (gmtime_r(&secs, &tm) == NULL) {
		buf[0] = '\0';
		return buf;
	}
	/* snprintf truncates and NUL-terminates if the caller's buffer is short. */
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	return buf;
}

#if defined(__x86_64__) || defined(__i386__)

static uint64_t cycles_hz_value;
static pthread_once_t cycles_hz_once = PTHREAD_ONCE_INIT;

/* Counts TSC ticks across ~10 ms of monotonic time. Modern x86 TSCs are
 * invariant (constant rate across P-states), so one measurement holds for the
 * life of the process. Sleeping instead of spinning is fine: both clocks keep
 * running, and only the ratio matters. */
static void cycles_hz_measure(void)
{
	struct timespec pause = { .tv_sec = 0, .tv_nsec = 10 * NSEC_PER_MSEC };
	uint64_t t0, t1, c0, c1;

	t0 = vsl_time_mono_ns();
	c0 = vsl_cycles();
	while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
		;
	c1 = vsl_cycles();
	t1 = vsl_time_mono_ns();

	if (t1 <= t0 || c1 <= c0) {
		/* Broken clock: fall back to a 1:1 mapping rather than dividing
		 * by zero later. */
		cycles_hz_value = NSEC_PER_SEC;
		return;
	}
	/* In double, not (c1 - c0) * 1e9 in 64 bits: a process stopped (SIGSTOP,
	 * VM pause) mid-measurement would overflow that. 53 bits of mantissa are
	 * plenty for a frequency. */
	cycles_hz_value = (uint64_t)((double)(c1 - c0) * NSEC_PER_SEC / (double)(t1 - t0));
	if (cycles_hz_value == 0)
		cycles_hz_value = 1;
}

uint64_t vsl_cycles_hz(void)
{
	/* pthread_once makes concurrent first callers wait for one measurement
	 * and publishes cycles_hz_value to all of them. */
	pthread_once(&cycles_hz_once, cycles_hz_measure);
	return cycles_hz_value;
}

#else

/* vsl_cycles() is the monotonic clock in ns here. */
uint64_t vsl_cycles_hz(void)
{
	return NSEC_PER_SEC;
}

#endif

uint64_t vsl_cycles_to_ns(uint64_t cycles)
{
	uint64_t hz = vsl_cycles_hz();

	/* Split into whole seconds and remainder so that no intermediate product
	 * overflows: (cycles % hz) < hz, and hz * 1e9 fits in 64 bits for any
	 * clock below ~18 GHz. */
	return cycles / hz * NSEC_PER_SEC + cycles % hz * NSEC_PER_SEC / hz;
}
