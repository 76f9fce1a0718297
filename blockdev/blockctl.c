/* blockctl — command-line client of blockd's JSON-RPC socket.
 *
 * Every command is one JSON-RPC call; results print as tables for people and
 * as raw JSON with --json. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vsl_cli.h"

static const char *prog = "blockctl";

/* ---------------------------------------------------------------- helpers */

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return "-";
	return json_object_get_string(v);
}

static int64_t num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_int64(v) : 0;
}

static double dbl(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_double(v) : 0;
}

static struct json_object *obj(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* 67108864 -> "64M"; exact multiples only, else bytes. */
static const char *human_size(int64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	while (v && v % 1024 == 0 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRId64, v);
	else
		snprintf(buf, len, "%" PRId64 "%c", v, units[u]);
	return buf;
}

/* --------------------------------------------------------------- builders */

static int build_create(int argc, char **argv, struct json_object **params)
{
	*params = json_object_new_object();
	json_object_object_add(*params, "type", json_object_new_string(argv[0]));
	json_object_object_add(*params, "name", json_object_new_string(argv[1]));
	if (vsl_cli_kv_params(prog, argc - 2, argv + 2, *params)) {
		json_object_put(*params);
		*params = NULL;
		return -EINVAL;
	}
	return 0;
}

static int build_name(int argc, char **argv, struct json_object **params)
{
	*params = NULL;
	if (argc < 1)
		return 0;
	*params = json_object_new_object();
	json_object_object_add(*params, "name", json_object_new_string(argv[0]));
	return 0;
}

static int build_inject(int argc, char **argv, struct json_object **params)
{
	*params = json_object_new_object();
	json_object_object_add(*params, "name", json_object_new_string(argv[0]));
	if (vsl_cli_kv_params(prog, argc - 1, argv + 1, *params)) {
		json_object_put(*params);
		*params = NULL;
		return -EINVAL;
	}
	return 0;
}

static int build_export_add(int argc, char **argv, struct json_object **params)
{
	if (strcmp(argv[1], "nbd")) {
		fprintf(stderr, "%s: export-add: unknown export type '%s' (nbd)\n", prog, argv[1]);
		return -EINVAL;
	}
	*params = json_object_new_object();
	json_object_object_add(*params, "bdev", json_object_new_string(argv[0]));
	json_object_object_add(*params, "type", json_object_new_string(argv[1]));
	if (vsl_cli_kv_params(prog, argc - 2, argv + 2, *params)) {
		json_object_put(*params);
		*params = NULL;
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------- printers */

static void print_bdevs(struct json_object *r)
{
	size_t n = json_object_array_length(r);

	printf("%-16s %-7s %9s %6s %-16s %-16s %s\n", "NAME", "TYPE", "SIZE", "BS", "BASE",
	       "CLAIMED-BY", "CAPABILITIES");
	for (size_t i = 0; i < n; i++) {
		struct json_object *b = json_object_array_get_idx(r, i), *caps = obj(b, "capabilities");
		char size[32], capstr[64] = "";

		for (size_t k = 0; caps && k < json_object_array_length(caps); k++) {
			if (k)
				strncat(capstr, ",", sizeof(capstr) - strlen(capstr) - 1);
			strncat(capstr, json_object_get_string(json_object_array_get_idx(caps, k)),
				sizeof(capstr) - strlen(capstr) - 1);
		}
		printf("%-16s %-7s %9s %6" PRId64 " %-16s %-16s %s\n", str(b, "name"), str(b, "type"),
		       human_size(num(b, "size"), size, sizeof(size)), num(b, "block_size"),
		       str(b, "base"), str(b, "claimed_by"), capstr);
	}
}

static void print_exports(struct json_object *r)
{
	size_t n = json_object_array_length(r);

	printf("%-16s %-4s %-16s %-36s %-3s %5s %10s %7s\n", "NAME", "TYPE", "BDEV", "ADDRESS",
	       "RO", "CONNS", "REQUESTS", "ERRORS");
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(r, i);
		char addr[160];

		if (obj(e, "socket"))
			snprintf(addr, sizeof(addr), "unix:%s", str(e, "socket"));
		else
			snprintf(addr, sizeof(addr), "tcp:%s", str(e, "tcp"));
		struct json_object *st = obj(e, "stats");
		int64_t reqs = 0;

		if (st) {
			json_object_object_foreach(st, key, val) {
				if (strcmp(key, "errors") && strncmp(key, "bytes_", 6))
					reqs += json_object_get_int64(val);
			}
		}
		printf("%-16s %-4s %-16s %-36s %-3s %5" PRId64 " %10" PRId64 " %7" PRId64 "\n",
		       str(e, "name"), str(e, "type"), str(e, "bdev"), addr,
		       num(e, "readonly") ? "yes" : "no", num(e, "connections"), reqs,
		       st ? num(st, "errors") : 0);
	}
}

static void print_export(struct json_object *e)
{
	printf("export %s: bdev %s on %s%s\n", str(e, "name"), str(e, "bdev"),
	       obj(e, "socket") ? str(e, "socket") : str(e, "tcp"),
	       num(e, "readonly") ? " (read-only)" : "");
}

static void print_stats(struct json_object *r)
{
	size_t n = json_object_array_length(r);

	printf("%-16s %10s %10s %8s %8s %10s %10s %9s %9s %9s\n", "NAME", "READS", "WRITES",
	       "FLUSHES", "ERRORS", "READ-MB", "WRITE-MB", "IOPS", "P50-US", "P99-US");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(r, i), *c = obj(s, "counters"),
				   *l = obj(s, "latency_us");

		printf("%-16s %10" PRId64 " %10" PRId64 " %8" PRId64 " %8" PRId64 " %10.1f %10.1f "
		       "%9.0f %9.1f %9.1f\n",
		       str(s, "name"), num(c, "read"), num(c, "write"), num(c, "flush"),
		       num(c, "errors"), (double)num(c, "bytes_read") / 1e6,
		       (double)num(c, "bytes_written") / 1e6, dbl(s, "iops"), dbl(l, "p50"),
		       dbl(l, "p99"));
	}
}

static void print_created(struct json_object *r)
{
	printf("%s\n", json_object_get_string(r));
}

int main(int argc, char **argv)
{
	static const struct vsl_cli_cmd cmds[] = {
		{ "bdev-create", "TYPE NAME [key=value...]",
		  "create a bdev (malloc|null size=64M; file path=F [direct=true]; error base=B)", 2,
		  -1, "bdev-create", build_create, print_created },
		{ "bdev-delete", "NAME", "delete an unused bdev", 1, 1, "bdev-delete", build_name,
		  NULL },
		{ "bdev-list", "[NAME]", "show the bdev graph", 0, 1, "bdev-list", build_name,
		  print_bdevs },
		{ "error-inject", "NAME key=value...",
		  "fault injection (fail_nth= io= range_start= range_blocks= error= power_cut=)", 2,
		  -1, "error-inject", build_inject, NULL },
		{ "export-add", "BDEV nbd key=value...",
		  "export over NBD (socket=PATH | tcp=127.0.0.1:PORT, name=, readonly=)", 3, -1,
		  "export-add", build_export_add, print_export },
		{ "export-remove", "NAME", "remove an export and close its connections", 1, 1,
		  "export-remove", build_name, NULL },
		{ "export-list", "", "list exports", 0, 0, "export-list", NULL, print_exports },
		{ "stats", "[NAME]", "per-bdev I/O counters, IOPS and latency", 0, 1, "bdev-stats",
		  build_name, print_stats },
	};
	static const struct vsl_cli cli = {
		.prog = "blockctl",
		.daemon = "blockd",
		.summary = "Control the Vessel block daemon (blockd).",
		.cmds = cmds,
		.n_cmds = sizeof(cmds) / sizeof(cmds[0]),
	};

	return vsl_cli_main(&cli, argc, argv);
}
