/* bench_crc32c.c — CRC32C throughput, SSE4.2 instruction vs slicing-by-8.
 *
 * For each implementation and buffer size (4 KiB, 64 KiB) it checksums the
 * same buffer back to back for about 0.5 s and prints one JSON line:
 *
 *   {"bench":"crc32c","impl":"hw","size":4096,"gbps":12.3,"iters":...,
 *    "date":"2026-11-21T06:14:42.123Z","host":"vessel","commit":"abc123"}
 *
 * "gbps" is gigabytes (1e9 bytes) per second. "commit" appears only when the
 * bench runner sets VESSEL_COMMIT. The hw case is skipped (note on stderr)
 * on CPUs without SSE4.2. Usage: bench_crc32c [seconds-per-case]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsl_crc32c.h"
#include "vsl_time.h"

typedef uint32_t (*crc_fn)(uint32_t crc, const void *buf, size_t len);

/* Keeps the compiler from discarding the checksums it is asked to compute. */
static volatile uint32_t sink;

/* Prints s as a JSON string body (host names and commits are tame, but a
 * stray quote must not break the line for the parser downstream). */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void run_case(const char *impl, crc_fn fn, const uint8_t *buf, size_t size,
		     double seconds)
{
	uint64_t budget = (uint64_t)(seconds * 1e9), start, elapsed, iters = 0;
	const char *commit = getenv("VESSEL_COMMIT");
	char host[256], date[32];
	uint32_t crc = 0;

	/* Warm up caches, the branch predictor and the CPU clock. */
	for (int i = 0; i < 100; i++)
		crc = fn(crc, buf, size);

	start = vsl_time_mono_ns();
	do {
		/* Batches of 64 keep clock reads out of the measurement. */
		for (int i = 0; i < 64; i++)
			crc = fn(crc, buf, size);
		iters += 64;
		elapsed = vsl_time_mono_ns() - start;
	} while (elapsed < budget);
	sink = crc;

	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "unknown");
	host[sizeof(host) - 1] = '\0';
	vsl_time_format_iso(vsl_time_wall_ns(), date, sizeof(date));

	printf("{\"bench\":\"crc32c\",\"impl\":\"%s\",\"size\":%zu,\"gbps\":%.3f,"
	       "\"iters\":%llu,\"date\":\"%s\",\"host\":",
	       impl, size, (double)iters * (double)size / (double)elapsed,
	       (unsigned long long)iters, date);
	json_str(host);
	if (commit != NULL && commit[0] != '\0') {
		printf(",\"commit\":");
		json_str(commit);
	}
	printf("}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 4096, 65536 };
	double seconds = 0.5;
	uint8_t *buf;

	if (argc > 1) {
		seconds = atof(argv[1]);
		if (seconds <= 0) {
			fprintf(stderr, "usage: %s [seconds-per-case]\n", argv[0]);
			return 2;
		}
	}
	buf = aligned_alloc(64, sizes[1]);
	if (buf == NULL) {
		perror("aligned_alloc");
		return 1;
	}
	for (size_t i = 0; i < sizes[1]; i++)
		buf[i] = (uint8_t)(i * 131 + 7);

	/* Both must agree before their speed means anything. */
	if (vsl_crc32c_hw_available() &&
	    vsl_crc32c_hw(0, buf, sizes[1]) != vsl_crc32c_sw(0, buf, sizes[1])) {
		fprintf(stderr, "bench_crc32c: hw and sw disagree\n");
		free(buf);
		return 1;
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (vsl_crc32c_hw_available())
			run_case("hw", vsl_crc32c_hw, buf, sizes[i], seconds);
		else if (i == 0)
			fprintf(stderr, "bench_crc32c: no SSE4.2 crc32, hw cases skipped\n");
		run_case("sw", vsl_crc32c_sw, buf, sizes[i], seconds);
	}
	free(buf);
	return 0;
}
