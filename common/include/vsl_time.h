/* vsl_time.h — time and cycle helpers.
 *
 * Monotonic time for timeouts and ageing, wall-clock time for logs and
 * captures, and the TSC for per-packet cycle accounting on PMD threads.
 */
#ifndef VSL_TIME_H
#define VSL_TIME_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds / milliseconds. */
uint64_t vsl_time_mono_ns(void);
uint64_t vsl_time_mono_ms(void);
/* CLOCK_REALTIME in nanoseconds since the epoch. */
uint64_t vsl_time_wall_ns(void);

/* Formats a wall-clock time (ns since epoch) as "2026-11-21T06:14:42.123Z" into
 * buf (at least 32 bytes). Returns buf. */
char *vsl_time_format_iso(uint64_t wall_ns, char *buf, size_t len);

/* Reads the time-stamp counter (rdtsc; on non-x86 the monotonic clock in ns). */
static inline uint64_t vsl_cycles(void)
{
#if defined(__x86_64__) || defined(__i386__)
	uint32_t lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
#else
	return vsl_time_mono_ns();
#endif
}

/* Cycles per second, measured once against the monotonic clock (about 10 ms on
 * first call) and cached. Thread-safe. */
uint64_t vsl_cycles_hz(void);
/* Converts a cycle count to nanoseconds using vsl_cycles_hz(). */
uint64_t vsl_cycles_to_ns(uint64_t cycles);

#endif /* VSL_TIME_H */
