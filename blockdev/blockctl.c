/* blockctl — command-line client of blockd's JSON-RPC socket.
 *
 * Every command is one JSON-RPC call; results print as tables for people and
 * as raw JSON with --json. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vsl_cli.h"
#include "vsl_util.h"

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
	if (strcmp(argv[1], "nbd") && strcmp(argv[1], "vhost-user-blk")) {
		fprintf(stderr, "%s: export-add: unknown export type '%s' (nbd, vhost-user-blk)\n",
			prog, argv[1]);
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

static int build_image_create(int argc, char **argv, struct json_object **params)
{
	*params = json_object_new_object();
	json_object_object_add(*params, "path", json_object_new_string(argv[0]));
	json_object_object_add(*params, "format", json_object_new_string(argv[1]));
	if (vsl_cli_kv_params(prog, argc - 2, argv + 2, *params)) {
		json_object_put(*params);
		*params = NULL;
		return -EINVAL;
	}
	return 0;
}

static int build_image_info(int argc, char **argv, struct json_object **params)
{
	(void)argc;
	*params = json_object_new_object();
	json_object_object_add(*params, "path", json_object_new_string(argv[0]));
	return 0;
}

/* A target with a '/' is an image file, else a bdev name. */
static int build_image_resize(int argc, char **argv, struct json_object **params)
{
	(void)argc;
	*params = json_object_new_object();
	json_object_object_add(*params, strchr(argv[0], '/') ? "path" : "bdev",
			       json_object_new_string(argv[0]));
	json_object_object_add(*params, "size", json_object_new_string(argv[1]));
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

	printf("%-16s %-14s %-16s %-36s %-3s %5s %10s %7s\n", "NAME", "TYPE", "BDEV", "ADDRESS",
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
				if (strcmp(key, "errors") && strcmp(key, "unsupported") &&
				    strcmp(key, "resubmitted") && strncmp(key, "bytes_", 6))
					reqs += json_object_get_int64(val);
			}
		}
		printf("%-16s %-14s %-16s %-36s %-3s %5" PRId64 " %10" PRId64 " %7" PRId64 "\n",
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

static void print_image_info(struct json_object *r)
{
	char size[32];

	printf("%s: %s, virtual size %s (%" PRId64 " bytes), file %" PRId64 " bytes\n",
	       str(r, "path"), str(r, "format"), human_size(num(r, "size"), size, sizeof(size)),
	       num(r, "size"), num(r, "file_size"));
	if (!strcmp(str(r, "format"), "qcow2"))
		printf("  version %" PRId64 ", cluster size %" PRId64 ", refcount bits %" PRId64
		       ", L1 %" PRId64 " entries, backing %s (%s)\n",
		       num(r, "version"), num(r, "cluster_size"), num(r, "refcount_bits"),
		       num(r, "l1_size"), str(r, "backing_file"), str(r, "backing_format"));
}

static void print_created(struct json_object *r)
{
	printf("%s\n", json_object_get_string(r));
}

/* ------------------------------------------------------------------ raid */

/* raid-create in either form:
 *   raid-create --level 0|1 [--strip-size S] [--region-size S] [--rebuild-rate R]
 *               [--assume-clean] NAME MEMBER...            (mdadm-like)
 *   raid-create NAME level=0|1 members=A,B[,...] [key=value...]
 * Both become {name, level, members: [...], ...}. */
static int build_raid_create(int argc, char **argv, struct json_object **params)
{
	static const struct { const char *opt, *key; bool flag; } opts[] = {
		{ "--level", "level", false },         { "--strip-size", "strip_size", false },
		{ "--region-size", "region_size", false }, { "--rebuild-rate", "rebuild_rate", false },
		{ "--assume-clean", "assume_clean", true },
	};
	char *kv[32], kvbuf[32][128];
	const char *name = NULL;
	struct json_object *m, *arr = NULL;
	int nkv = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		size_t k;

		if (a[0] == '-') {
			for (k = 0; k < VSL_ARRAY_SIZE(opts) && strcmp(a, opts[k].opt); k++)
				;
			if (k == VSL_ARRAY_SIZE(opts)) {
				fprintf(stderr, "%s: raid-create: unknown option '%s'\n", prog, a);
				return -EINVAL;
			}
			if (!opts[k].flag && i + 1 >= argc) {
				fprintf(stderr, "%s: raid-create: %s needs a value\n", prog, a);
				return -EINVAL;
			}
			if (nkv == (int)VSL_ARRAY_SIZE(kv))
				return -E2BIG;
			snprintf(kvbuf[nkv], sizeof(kvbuf[nkv]), "%s=%s", opts[k].key,
				 opts[k].flag ? "true" : argv[++i]);
			kv[nkv] = kvbuf[nkv];
			nkv++;
		} else if (strchr(a, '=')) {
			if (nkv == (int)VSL_ARRAY_SIZE(kv))
				return -E2BIG;
			kv[nkv++] = argv[i];
		} else if (!name) {
			name = a;
		} else {
			if (!arr)
				arr = json_object_new_array();
			json_object_array_add(arr, json_object_new_string(a));
		}
	}
	if (!name) {
		fprintf(stderr, "%s: raid-create: missing NAME\n", prog);
		json_object_put(arr);
		return -EINVAL;
	}
	*params = json_object_new_object();
	json_object_object_add(*params, "name", json_object_new_string(name));
	if (vsl_cli_kv_params(prog, nkv, kv, *params))
		goto err;
	if (json_object_object_get_ex(*params, "members", &m)) {
		if (arr) {
			fprintf(stderr, "%s: raid-create: give members either as MEMBER... or "
				"members=A,B, not both\n", prog);
			goto err;
		}
		if (json_object_is_type(m, json_type_string)) {
			char buf[1024], *save = NULL;

			snprintf(buf, sizeof(buf), "%s", json_object_get_string(m));
			arr = json_object_new_array();
			for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
				json_object_array_add(arr, json_object_new_string(t));
		}
	}
	if (arr)
		json_object_object_add(*params, "members", arr);
	return 0;
err:
	json_object_put(arr);
	json_object_put(*params);
	*params = NULL;
	return -EINVAL;
}

static int build_raid_member(int argc, char **argv, struct json_object **params)
{
	(void)argc;
	*params = json_object_new_object();
	json_object_object_add(*params, "name", json_object_new_string(argv[0]));
	json_object_object_add(*params, "member", json_object_new_string(argv[1]));
	return 0;
}

/* raid-add NAME MEMBER [--spare]. */
static int build_raid_add(int argc, char **argv, struct json_object **params)
{
	char *rest[2];
	int n = 0;
	bool spare = false;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--spare") || !strcmp(argv[i], "spare=true")) {
			spare = true;
		} else if (argv[i][0] == '-' || n == 2) {
			fprintf(stderr, "%s: raid-add: unexpected argument '%s'\n"
				"Usage: %s raid-add NAME MEMBER [--spare]\n", prog, argv[i], prog);
			return -EINVAL;
		} else {
			rest[n++] = argv[i];
		}
	}
	if (n != 2) {
		fprintf(stderr, "%s: raid-add: NAME and MEMBER are needed\n", prog);
		return -EINVAL;
	}
	build_raid_member(2, rest, params);
	if (spare)
		json_object_object_add(*params, "spare", json_object_new_boolean(true));
	return 0;
}

static void print_raid_one(struct json_object *r)
{
	struct json_object *members = obj(r, "members"), *bm = obj(r, "bitmap"),
			   *rb = obj(r, "rebuild"), *ctr = obj(r, "raid_counters"),
			   *ig = obj(r, "ignored_members");
	char size[32];

	printf("%s: RAID%" PRId64 " %s, %s, events %" PRId64, str(r, "name"), num(r, "raid_level"),
	       str(r, "raid_state"), human_size(num(r, "size"), size, sizeof(size)),
	       num(r, "events"));
	if (num(r, "raid_level") == 0)
		printf(", strip %s", human_size(num(r, "strip_size"), size, sizeof(size)));
	if (bm)
		printf(", bitmap %" PRId64 "/%" PRId64 " dirty (%s regions)", num(bm, "dirty"),
		       num(bm, "regions"), human_size(num(bm, "region_size"), size, sizeof(size)));
	printf("\n  %-4s %-16s %-10s %9s %9s %6s\n", "SLOT", "MEMBER", "STATE", "READ-ERR",
	       "WRITE-ERR", "QUEUE");
	for (size_t i = 0; members && i < json_object_array_length(members); i++) {
		struct json_object *m = json_object_array_get_idx(members, i);

		printf("  %-4" PRId64 " %-16s %-10s %9" PRId64 " %9" PRId64 " %6" PRId64 "\n",
		       num(m, "slot"), str(m, "name"), str(m, "state"), num(m, "read_errors"),
		       num(m, "write_errors"), num(m, "outstanding"));
	}
	if (rb && num(rb, "running")) {
		double pct = dbl(rb, "percent");
		char bar[41];
		int fill = (int)(pct * 40 / 100);

		for (int i = 0; i < 40; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[40] = '\0';
		printf("  %s: [%s] %.1f%% at %.1f MiB/s, %.0f s left\n", str(rb, "kind"), bar, pct,
		       dbl(rb, "mib_per_s"), dbl(rb, "eta_s"));
	}
	if (rb)
		printf("  resynced %" PRId64 " bytes, rebuilt %" PRId64 " bytes\n",
		       num(rb, "resynced_bytes"), num(rb, "rebuilt_bytes"));
	if (obj(r, "scrub") && num(obj(r, "scrub"), "scrubs"))
		printf("  scrubs %" PRId64 ": %zu mismatching regions, %" PRId64 " bytes differ, %"
		       PRId64 " bytes repaired\n", num(obj(r, "scrub"), "scrubs"),
		       json_object_array_length(obj(obj(r, "scrub"), "mismatched_regions")),
		       num(obj(r, "scrub"), "mismatch_bytes"), num(obj(r, "scrub"), "repaired_bytes"));
	if (ctr)
		printf("  member failures %" PRId64 ", degraded writes %" PRId64 ", read retries %"
		       PRId64 "\n", num(ctr, "member_failures"), num(ctr, "degraded_writes"),
		       num(ctr, "read_retries"));
	for (size_t i = 0; ig && i < json_object_array_length(ig); i++) {
		struct json_object *m = json_object_array_get_idx(ig, i);

		printf("  ignored %s: %s\n", str(m, "name"), str(m, "reason"));
	}
}

static void print_raid(struct json_object *r)
{
	if (json_object_is_type(r, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(r); i++)
			print_raid_one(json_object_array_get_idx(r, i));
	} else if (json_object_is_type(r, json_type_object)) {
		print_raid_one(r);
	}
}

/* `raid-status [NAME] --watch`: redraws the status (and the rebuild progress
 * bar) every second until interrupted; everything else runs once. */
static int raid_watch_or_run(const struct vsl_cli *cli, int argc, char **argv)
{
	char *args[64];
	bool watch = false, status = false;
	int n = 0, ret;

	for (int i = 0; i < argc && n < 63; i++) {
		if (!strcmp(argv[i], "raid-status"))
			status = true;
		if (status && !strcmp(argv[i], "--watch"))
			watch = true;
		else
			args[n++] = argv[i];
	}
	if (!watch)
		return vsl_cli_main(cli, argc, argv);
	for (;;) {
		char *copy[64];

		memcpy(copy, args, sizeof(char *) * (size_t)n);
		copy[n] = NULL;
		optind = 0;             /* getopt may have permuted the last copy */
		printf("\033[H\033[J");
		ret = vsl_cli_main(cli, n, copy);
		fflush(stdout);
		if (ret)
			return ret;
		sleep(1);
	}
}

/* ------------------------------------------------------------------- lvm */

/* "10G", "512K", "4096": bytes into *out (K/M/G/T, powers of 1024). */
static int lvm_size_arg(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	uint64_t v = 0;
	const char *p = s, *u;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p) {
		u = strchr(units, *p >= 'a' ? *p - 32 : *p);
		if (!u || p[1])
			return -EINVAL;
		for (long i = 0; i <= u - units; i++) {
			if (v > UINT64_MAX / 1024)
				return -EINVAL;
			v *= 1024;
		}
	}
	*out = v;
	return 0;
}

static int lvm_usage(const char *what, const char *arg)
{
	fprintf(stderr, "%s: %s '%s'\n", prog, what, arg);
	return -EINVAL;
}

/* "VG/LV" into params vg, name. */
static int lvm_vg_lv(const char *arg, struct json_object *p)
{
	const char *slash = strchr(arg, '/');

	if (!slash || slash == arg || !slash[1] || strchr(slash + 1, '/'))
		return lvm_usage("expected VG/LV, got", arg);
	json_object_object_add(p, "vg", json_object_new_string_len(arg, (int)(slash - arg)));
	json_object_object_add(p, "name", json_object_new_string(slash + 1));
	return 0;
}

/* Parses "-X VALUE" options (letters in `with_arg`) and `--force`,
 * `--partial`; collects the rest as positionals. */
struct lvm_opts {
	const char *val[128];
	bool force, partial, thin, snapshot;
	int npos;
	char *pos[16];
};

/* Long options with a value, stored under a letter no short option uses. */
static const struct {
	const char *name;
	char key;
} lvm_long[] = {
	{ "--thinpool", 'P' },
	{ "--chunksize", 'c' },
	{ "--poolmetadatasize", 'M' },
	{ "--virtualsize", 'V' },
	{ "--size", 'L' },
	{ "--name", 'n' },
};

static int lvm_parse(int argc, char **argv, const char *with_arg, struct lvm_opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		size_t l;

		for (l = 0; l < (sizeof(lvm_long) / sizeof(lvm_long[0])); l++)
			if (!strcmp(a, lvm_long[l].name) && strchr(with_arg, lvm_long[l].key))
				break;
		if (l < (sizeof(lvm_long) / sizeof(lvm_long[0]))) {
			if (i + 1 >= argc)
				return lvm_usage("option needs a value:", a);
			o->val[(unsigned char)lvm_long[l].key] = argv[++i];
		} else if (!strcmp(a, "--force") || !strcmp(a, "-f")) {
			o->force = true;
		} else if (!strcmp(a, "--partial")) {
			o->partial = true;
		} else if (!strchr(with_arg, 'T') && (!strcmp(a, "--thin") || !strcmp(a, "-T"))) {
			o->thin = true;
		} else if (!strchr(with_arg, 's') && (!strcmp(a, "--snapshot") || !strcmp(a, "-s"))) {
			o->snapshot = true;
		} else if (a[0] == '-' && a[1] && !a[2] && strchr(with_arg, a[1])) {
			if (i + 1 >= argc)
				return lvm_usage("option needs a value:", a);
			o->val[(unsigned char)a[1]] = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			return lvm_usage("unknown option", a);
		} else if (o->npos < 16) {
			o->pos[o->npos++] = argv[i];
		} else {
			return lvm_usage("too many arguments at", a);
		}
	}
	return 0;
}

static int lvm_add_size(struct json_object *p, const char *key, const char *s)
{
	uint64_t v;

	if (lvm_size_arg(s, &v) || v > INT64_MAX)
		return lvm_usage("bad size", s);
	json_object_object_add(p, key, json_object_new_int64((int64_t)v));
	return 0;
}

static int lvm_done(int ret, struct json_object **params)
{
	if (ret) {
		json_object_put(*params);
		*params = NULL;
	}
	return ret;
}

static int build_pvcreate(int argc, char **argv, struct json_object **params)
{
	(void)argc;
	*params = json_object_new_object();
	json_object_object_add(*params, "bdev", json_object_new_string(argv[0]));
	return 0;
}

static int build_vgcreate(int argc, char **argv, struct json_object **params)
{
	struct lvm_opts o;
	struct json_object *pvs;
	int ret = lvm_parse(argc, argv, "s", &o);

	*params = json_object_new_object();
	if (!ret && o.npos < 2)
		ret = lvm_usage("usage: vgcreate [-s SIZE] VG BDEV..., got", argc ? argv[0] : "");
	if (!ret && o.val['s'])
		ret = lvm_add_size(*params, "extent_size", o.val['s']);
	if (ret)
		return lvm_done(ret, params);
	json_object_object_add(*params, "name", json_object_new_string(o.pos[0]));
	pvs = json_object_new_array();
	for (int i = 1; i < o.npos; i++)
		json_object_array_add(pvs, json_object_new_string(o.pos[i]));
	json_object_object_add(*params, "pvs", pvs);
	if (o.partial)
		json_object_object_add(*params, "partial", json_object_new_boolean(true));
	return 0;
}

static int build_vg_bdev(int argc, char **argv, struct json_object **params)
{
	(void)argc;
	*params = json_object_new_object();
	json_object_object_add(*params, "name", json_object_new_string(argv[0]));
	json_object_object_add(*params, "bdev", json_object_new_string(argv[1]));
	return 0;
}

/* lvcreate [-i N [-I SIZE]] -L SIZE -n NAME VG
 * lvcreate --thinpool POOL -L SIZE [--chunksize C] [--poolmetadatasize S] VG
 * lvcreate -V SIZE --thin VG/POOL -n NAME   (also -T, or --thinpool POOL VG)
 * lvcreate -s VG/LV -n NAME */
static int build_lvcreate(int argc, char **argv, struct json_object **params)
{
	static const char usage[] =
		"usage: lvcreate [-i N [-I SIZE]] -L SIZE -n NAME VG | --thinpool POOL -L SIZE "
		"[--chunksize C] [--poolmetadatasize S] VG | -V SIZE --thin VG/POOL -n NAME | "
		"-s VG/LV -n NAME, got";
	struct lvm_opts o;
	int ret = lvm_parse(argc, argv, "LniIVPcM", &o);
	uint64_t n;

	*params = json_object_new_object();
	if (ret)
		return lvm_done(ret, params);
	if (o.snapshot) {
		if (o.npos != 1 || !o.val['n'] || o.val['L'] || o.val['V'] || o.val['P'])
			return lvm_done(lvm_usage(usage, argc ? argv[0] : ""), params);
		ret = lvm_vg_lv(o.pos[0], *params);
		if (ret)
			return lvm_done(ret, params);
		json_object_object_add(*params, "origin",
				       json_object_get(json_object_object_get(*params, "name")));
		json_object_object_add(*params, "name", json_object_new_string(o.val['n']));
		json_object_object_add(*params, "type", json_object_new_string("snapshot"));
		return 0;
	}
	if (o.val['V']) {
		/* A thin LV: the pool is VG/POOL, or --thinpool POOL VG. */
		if (o.npos != 1 || !o.val['n'] || o.val['L'])
			return lvm_done(lvm_usage(usage, argc ? argv[0] : ""), params);
		ret = lvm_add_size(*params, "virtual_size", o.val['V']);
		if (ret)
			return lvm_done(ret, params);
		if (o.val['P']) {
			json_object_object_add(*params, "vg", json_object_new_string(o.pos[0]));
			json_object_object_add(*params, "thin_pool", json_object_new_string(o.val['P']));
		} else {
			ret = lvm_vg_lv(o.pos[0], *params);
			if (ret)
				return lvm_done(ret, params);
			json_object_object_add(*params, "thin_pool",
					       json_object_get(json_object_object_get(*params, "name")));
		}
		json_object_object_add(*params, "name", json_object_new_string(o.val['n']));
		json_object_object_add(*params, "type", json_object_new_string("thin"));
		return 0;
	}
	if (o.val['P']) {
		if (o.npos != 1 || !o.val['L'] || o.val['n'] || o.val['i'])
			return lvm_done(lvm_usage(usage, argc ? argv[0] : ""), params);
		ret = lvm_add_size(*params, "size", o.val['L']);
		if (!ret && o.val['c'])
			ret = lvm_add_size(*params, "chunk_size", o.val['c']);
		if (!ret && o.val['M'])
			ret = lvm_add_size(*params, "pool_metadata_size", o.val['M']);
		if (ret)
			return lvm_done(ret, params);
		json_object_object_add(*params, "vg", json_object_new_string(o.pos[0]));
		json_object_object_add(*params, "name", json_object_new_string(o.val['P']));
		json_object_object_add(*params, "type", json_object_new_string("thin-pool"));
		return 0;
	}
	if (o.thin || o.val['c'] || o.val['M'] || o.npos != 1 || !o.val['L'] || !o.val['n'])
		return lvm_done(lvm_usage(usage, argc ? argv[0] : ""), params);
	ret = lvm_add_size(*params, "size", o.val['L']);
	if (!ret && o.val['i']) {
		if (lvm_size_arg(o.val['i'], &n) || n == 0 || n > 64 || strpbrk(o.val['i'], "KMGTkmgt"))
			ret = lvm_usage("bad stripe count", o.val['i']);
		else
			json_object_object_add(*params, "stripes", json_object_new_int((int)n));
	}
	if (!ret && o.val['I'])
		ret = lvm_add_size(*params, "stripe_size", o.val['I']);
	if (ret)
		return lvm_done(ret, params);
	json_object_object_add(*params, "vg", json_object_new_string(o.pos[0]));
	json_object_object_add(*params, "name", json_object_new_string(o.val['n']));
	return 0;
}

static int build_lvresize(int argc, char **argv, struct json_object **params, bool extend)
{
	struct lvm_opts o;
	int ret = lvm_parse(argc, argv, "L", &o);
	const char *size;
	char sign;

	*params = json_object_new_object();
	if (!ret && (o.npos != 1 || !o.val['L']))
		ret = lvm_usage(extend ? "usage: lvextend -L [+]SIZE VG/LV, got"
				       : "usage: lvreduce --force -L [-]SIZE VG/LV, got",
				argc ? argv[0] : "");
	if (ret)
		return lvm_done(ret, params);
	size = o.val['L'];
	sign = size[0];
	if (sign == '+' || sign == '-') {
		if ((sign == '+') != extend)
			return lvm_done(lvm_usage("bad relative size", size), params);
		size++;
	}
	ret = lvm_add_size(*params, "size", size);
	if (!ret)
		ret = lvm_vg_lv(o.pos[0], *params);
	if (ret)
		return lvm_done(ret, params);
	json_object_object_add(*params, "mode",
			       json_object_new_string(sign == '+' ? "grow" : sign == '-' ? "shrink"
							    : extend ? "extend" : "reduce"));
	if (o.force)
		json_object_object_add(*params, "force", json_object_new_boolean(true));
	return 0;
}

static int build_lvextend(int argc, char **argv, struct json_object **params)
{
	return build_lvresize(argc, argv, params, true);
}

static int build_lvreduce(int argc, char **argv, struct json_object **params)
{
	return build_lvresize(argc, argv, params, false);
}

static int build_lvrename(int argc, char **argv, struct json_object **params)
{
	*params = json_object_new_object();
	if (argc == 3) {    /* lvrename VG OLD NEW */
		json_object_object_add(*params, "vg", json_object_new_string(argv[0]));
		json_object_object_add(*params, "name", json_object_new_string(argv[1]));
		json_object_object_add(*params, "new_name", json_object_new_string(argv[2]));
		return 0;
	}
	if (lvm_vg_lv(argv[0], *params))
		return lvm_done(-EINVAL, params);
	/* NEW may repeat the VG: "vg/new". */
	json_object_object_add(*params, "new_name", json_object_new_string(
				       strchr(argv[1], '/') ? strchr(argv[1], '/') + 1 : argv[1]));
	return 0;
}

static int build_lvremove(int argc, char **argv, struct json_object **params)
{
	(void)argc;
	*params = json_object_new_object();
	return lvm_done(lvm_vg_lv(argv[0], *params), params);
}

static int build_vg_opt(int argc, char **argv, struct json_object **params)
{
	*params = json_object_new_object();
	if (argc)
		json_object_object_add(*params, "vg", json_object_new_string(argv[0]));
	return 0;
}

static void print_pvs(struct json_object *r)
{
	char a[32], b[32];

	printf("%-20s %-12s %10s %10s\n", "PV", "VG", "PSize", "PFree");
	for (size_t i = 0; i < json_object_array_length(r); i++) {
		struct json_object *p = json_object_array_get_idx(r, i);

		printf("%-20s %-12s %10s %10s%s\n", str(p, "pv"), str(p, "vg"),
		       human_size(num(p, "size"), a, sizeof(a)),
		       human_size(num(p, "pe_free") * num(p, "pe_size"), b, sizeof(b)),
		       num(p, "missing") ? " missing" : "");
	}
}

static void print_vg_one(struct json_object *v)
{
	char a[32], b[32], c[32];

	printf("%-12s %4" PRId64 " %4" PRId64 " %10s %10s %8s seq %" PRId64 "%s%s\n", str(v, "vg"),
	       num(v, "pv_count"), num(v, "lv_count"), human_size(num(v, "size"), a, sizeof(a)),
	       human_size(num(v, "free"), b, sizeof(b)),
	       human_size(num(v, "extent_size"), c, sizeof(c)), num(v, "seq"),
	       num(v, "partial") ? " partial" : "", num(v, "broken") ? " broken" : "");
}

static void print_vgs(struct json_object *r)
{
	printf("%-12s %4s %4s %10s %10s %8s\n", "VG", "#PV", "#LV", "VSize", "VFree", "Extent");
	if (json_object_is_type(r, json_type_array))
		for (size_t i = 0; i < json_object_array_length(r); i++)
			print_vg_one(json_object_array_get_idx(r, i));
	else
		print_vg_one(r);
}

static void print_lv_one(struct json_object *r)
{
	struct json_object *v;
	char a[32], data[16] = "", meta[16] = "", name[72];
	const char *type = str(r, "type");

	if (json_object_object_get_ex(r, "data_percent", &v) && v)
		snprintf(data, sizeof(data), "%.2f", json_object_get_double(v));
	if (json_object_object_get_ex(r, "metadata_percent", &v) && v)
		snprintf(meta, sizeof(meta), "%.2f", json_object_get_double(v));
	snprintf(name, sizeof(name), num(r, "hidden") ? "[%s]" : "%s", str(r, "lv"));
	printf("%-18s %-10s %-18s %10s %-10s %-10s %6s %6s %-24s%s\n", name, str(r, "vg"),
	       type[0] ? type : "linear", human_size(num(r, "size"), a, sizeof(a)), str(r, "pool"),
	       str(r, "origin"), data, meta, str(r, "bdev"),
	       num(r, "low_water") ? " low-water" : "");
}

static void print_lvs(struct json_object *r)
{
	printf("%-18s %-10s %-18s %10s %-10s %-10s %6s %6s %-24s\n", "LV", "VG", "Type", "LSize",
	       "Pool", "Origin", "Data%", "Meta%", "Bdev");
	if (!json_object_is_type(r, json_type_array)) {
		print_lv_one(r);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(r); i++)
		print_lv_one(json_object_array_get_idx(r, i));
}

int main(int argc, char **argv)
{
	static const struct vsl_cli_cmd cmds[] = {
		{ "bdev-create", "TYPE NAME [key=value...]",
		  "create a bdev (malloc|null size=64M; file path=F [direct=true]; error base=B; "
		  "raw|qcow2 path=F|base=B [backing=B])", 2,
		  -1, "bdev-create", build_create, print_created },
		{ "bdev-delete", "NAME", "delete an unused bdev", 1, 1, "bdev-delete", build_name,
		  NULL },
		{ "bdev-list", "[NAME]", "show the bdev graph", 0, 1, "bdev-list", build_name,
		  print_bdevs },
		{ "error-inject", "NAME key=value...",
		  "fault injection (fail_nth= io= range_start= range_blocks= error= power_cut=)", 2,
		  -1, "error-inject", build_inject, NULL },
		{ "export-add", "BDEV nbd|vhost-user-blk key=value...",
		  "export over NBD (socket=PATH | tcp=127.0.0.1:PORT, name=, readonly=) or "
		  "vhost-user-blk (socket=PATH, num_queues=N, name=, readonly=)", 3, -1,
		  "export-add", build_export_add, print_export },
		{ "export-remove", "NAME", "remove an export and close its connections", 1, 1,
		  "export-remove", build_name, NULL },
		{ "export-list", "", "list exports", 0, 0, "export-list", NULL, print_exports },
		{ "image-create", "PATH raw|qcow2 [key=value...]",
		  "create an image file (size= cluster_size= backing= backing_fmt= preallocate=)", 2,
		  -1, "image-create", build_image_create, print_created },
		{ "image-info", "PATH", "show an image file's format and header", 1, 1, "image-info",
		  build_image_info, print_image_info },
		{ "image-resize", "BDEV|PATH SIZE", "grow an image (a bdev must not be exported)", 2,
		  2, "image-resize", build_image_resize, NULL },
		{ "raid-create", "--level 0|1 [--strip-size S] [--region-size S] [--rebuild-rate R] "
		  "[--assume-clean] NAME MEMBER... | NAME level=0|1 members=A,B[,...] [key=value...]",
		  "create or assemble a RAID set (defaults: strip size 128K, bitmap region 64M, "
		  "rebuild rate 100M/s)", 2, -1, "raid-create", build_raid_create, print_raid },
		{ "raid-status", "[NAME]", "RAID sets, members, bitmap and rebuild progress", 0, 1,
		  "raid-status", build_name, print_raid },
		{ "raid-fail", "NAME MEMBER", "mark a RAID1 member failed", 2, 2, "raid-fail",
		  build_raid_member, print_raid },
		{ "raid-remove", "NAME MEMBER", "take a failed member out of its set", 2, 2,
		  "raid-remove", build_raid_member, print_raid },
		{ "raid-add", "NAME MEMBER [--spare]",
		  "add a member to a RAID1 set and rebuild it (--spare: keep it as a hot spare)", 2, 3,
		  "raid-add", build_raid_add, print_raid },
		{ "raid-scrub", "NAME [repair=true]",
		  "compare RAID1 members (repair copies from the first active one)", 1, 2,
		  "raid-scrub", build_inject, print_raid },
		{ "raid-stop", "NAME", "stop an unused RAID set (data stays on the members)", 1, 1,
		  "raid-stop", build_name, NULL },
		{ "pvcreate", "BDEV", "label a bdev as an LVM physical volume", 1, 1, "pv-create",
		  build_pvcreate, NULL },
		{ "pvs", "", "physical volumes", 0, 0, "pv-list", NULL, print_pvs },
		{ "vgcreate", "[-s EXTENT_SIZE] VG BDEV...", "create a volume group (extent 4M)", 2,
		  -1, "vg-create", build_vgcreate, print_vgs },
		{ "vgactivate", "[--partial] VG BDEV...", "activate a volume group from its PVs", 2,
		  -1, "vg-activate", build_vgcreate, print_vgs },
		{ "vgextend", "VG BDEV", "add a PV to a volume group", 2, 2, "vg-extend",
		  build_vg_bdev, print_vgs },
		{ "vgreduce", "VG BDEV", "remove an empty PV from a volume group", 2, 2, "vg-reduce",
		  build_vg_bdev, print_vgs },
		{ "vgs", "[VG]", "volume groups", 0, 1, "vg-list", build_name, print_vgs },
		{ "vgremove", "VG", "remove a volume group without LVs", 1, 1, "vg-remove",
		  build_name, NULL },
		{ "vgdeactivate", "VG", "close a volume group (nothing written)", 1, 1,
		  "vg-deactivate", build_name, NULL },
		{ "lvcreate", "[-i STRIPES [-I SIZE]] -L SIZE -n NAME VG | --thinpool POOL -L SIZE "
		  "[--chunksize C] [--poolmetadatasize S] VG | -V SIZE --thin VG/POOL -n NAME | "
		  "-s VG/LV -n NAME",
		  "create a linear, striped or thin logical volume (bdev VG-NAME), a thin pool or a "
		  "snapshot of a thin LV", 4, 10, "lv-create",
		  build_lvcreate, print_lvs },
		{ "lvextend", "-L [+]SIZE VG/LV", "grow a logical volume (online)", 3, 3, "lv-resize",
		  build_lvextend, NULL },
		{ "lvreduce", "--force -L [-]SIZE VG/LV", "shrink an unused logical volume", 3, 4,
		  "lv-resize", build_lvreduce, NULL },
		{ "lvrename", "VG/LV NEW", "rename an unused logical volume", 2, 3, "lv-rename",
		  build_lvrename, NULL },
		{ "lvremove", "VG/LV", "remove an unused logical volume", 1, 1, "lv-remove",
		  build_lvremove, NULL },
		{ "lvs", "[VG]", "logical volumes", 0, 1, "lv-list", build_vg_opt, print_lvs },
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

	return raid_watch_or_run(&cli, argc, argv);
}
