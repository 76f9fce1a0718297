/* bench_rpc — JSON-RPC round-trip latency and rate against a running daemon.
 *
 *   bench_rpc SOCKET [CALLS]
 *
 * Calls `version` CALLS times (default 20000) over one connection with the C
 * client every CLI uses, and prints one JSON line with calls/s and latency
 * percentiles in microseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsl_rpc.h"
#include "vsl_time.h"
#include "vsl_util.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct vsl_rpc_client *c;
	uint64_t calls = 20000, *lat, t0, total;
	char date[40], host[256] = "?";
	const char *commit = getenv("VESSEL_COMMIT");

	if (argc < 2 || (argc > 2 && vsl_parse_u64(argv[2], &calls)) || !calls) {
		fprintf(stderr, "usage: bench_rpc SOCKET [CALLS]\n");
		return 2;
	}
	c = vsl_rpc_client_connect(argv[1], 10000);
	if (!c) {
		perror("connect");
		return 1;
	}
	lat = calloc(calls, sizeof(*lat));
	if (!lat)
		return 1;
	t0 = vsl_time_mono_ns();
	for (uint64_t i = 0; i < calls; i++) {
		struct json_object *res = NULL;
		uint64_t s = vsl_time_mono_ns();
		int ret = vsl_rpc_client_call(c, "version", NULL, &res, NULL);

		if (ret) {
			fprintf(stderr, "call %lu failed: %s\n", (unsigned long)i, strerror(-ret));
			return 1;
		}
		json_object_put(res);
		lat[i] = vsl_time_mono_ns() - s;
	}
	total = vsl_time_mono_ns() - t0;
	vsl_rpc_client_close(c);
	qsort(lat, calls, sizeof(*lat), cmp_u64);
	gethostname(host, sizeof(host) - 1);
	vsl_time_format_iso(vsl_time_wall_ns(), date, sizeof(date));
	printf("{\"bench\":\"rpc_roundtrip\",\"method\":\"version\",\"calls\":%lu,"
	       "\"calls_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
	       "\"date\":\"%s\",\"host\":\"%s\"%s%s%s}\n",
	       (unsigned long)calls, calls / (total / 1e9), lat[calls / 2] / 1e3,
	       lat[calls * 99 / 100] / 1e3, lat[calls - 1] / 1e3, date, host,
	       commit ? ",\"commit\":\"" : "", commit ? commit : "", commit ? "\"" : "");
	free(lat);
	return 0;
}
