/* blk_rpc_bdev.c — JSON-RPC methods for bdevs (bdev-create, bdev-delete,
 * bdev-list, bdev-stats, error-inject) and the save-config writer that
 * rebuilds the bdev graph. All run on the control thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blk_image_internal.h"
#include "blk_internal.h"
#include "vsl_config.h"
#include "vsl_rpc.h"
#include "vsl_time.h"
#include "vsl_util.h"

static const char *const io_names[BLK_IO_TYPE_COUNT] = {
	[BLK_IO_READ] = "read",
	[BLK_IO_WRITE] = "write",
	[BLK_IO_FLUSH] = "flush",
	[BLK_IO_DISCARD] = "discard",
	[BLK_IO_WRITE_ZEROES] = "write_zeroes",
};

/* ----------------------------------------------------------- bdev-create */

struct create_params {
	const char *type;
	const char *name;
	uint64_t size;
	uint32_t block_size;
	const char *path;
	bool direct;
	const char *base;
};

static bool has(struct json_object *params, const char *key)
{
	return params && json_object_object_get_ex(params, key, NULL);
}

/* Members that do not apply to the type are refused, not ignored: a typo in a
 * config file should not create a different device than the one meant. */
static int check_members(struct vsl_rpc_call *call, struct json_object *params,
			 const char *const *allowed)
{
	json_object_object_foreach(params, key, val) {
		bool ok = !strcmp(key, "type") || !strcmp(key, "name");

		(void)val;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = !strcmp(key, *a);
		if (!ok) {
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
					    "'%s' does not apply to this bdev type", key);
			return -EINVAL;
		}
	}
	return 0;
}

static int rpc_bdev_create(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("type", struct create_params, type, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("name", struct create_params, name, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("size", struct create_params, size, VSL_RPC_SIZE, true),
		VSL_RPC_PARAM("block_size", struct create_params, block_size, VSL_RPC_UINT32, true),
		VSL_RPC_PARAM("path", struct create_params, path, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("direct", struct create_params, direct, VSL_RPC_BOOL, true),
		VSL_RPC_PARAM("base", struct create_params, base, VSL_RPC_STRING, true),
	};
	static const char *const sized[] = { "size", "block_size", NULL };
	static const char *const file[] = { "path", "direct", "block_size", NULL };
	static const char *const error[] = { "base", NULL };
	struct create_params p = { 0 };
	struct blk_bdev *b = NULL;
	int ret;

	/* Image types (raw, qcow2) decode their own parameters. */
	if (blk_rpc_image_bdev_type(params))
		return blk_rpc_image_bdev_create(call, params);
	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	if (!blk_bdev_name_valid(p.name)) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
				    "bad bdev name '%s' (1-63 of A-Z a-z 0-9 _ - . :)", p.name);
		return -EINVAL;
	}
	if (blk_bdev_find(p.name)) {
		vsl_rpc_reply_errno(call, -EEXIST, "bdev '%s' exists", p.name);
		return 0;
	}
	if (!strcmp(p.type, "malloc") || !strcmp(p.type, "null")) {
		if (check_members(call, params, sized))
			return -EINVAL;
		if (!has(params, "size")) {
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "'size' is required");
			return -EINVAL;
		}
		ret = p.type[0] == 'm' ? blk_malloc_create(p.name, p.size, p.block_size, &b)
				       : blk_null_create(p.name, p.size, p.block_size, &b);
	} else if (!strcmp(p.type, "file")) {
		struct blk_file_opts o = { .path = p.path, .block_size = p.block_size,
					   .direct = p.direct };

		if (check_members(call, params, file))
			return -EINVAL;
		if (!p.path) {
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "'path' is required");
			return -EINVAL;
		}
		ret = blk_file_create(p.name, &o, &b);
		if (ret && ret != -EINVAL) {
			vsl_rpc_reply_errno(call, ret, "cannot open %s: %s", p.path, strerror(-ret));
			return 0;
		}
	} else if (!strcmp(p.type, "error")) {
		if (check_members(call, params, error))
			return -EINVAL;
		if (!p.base) {
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "'base' is required");
			return -EINVAL;
		}
		ret = blk_error_create(p.name, p.base, &b);
		if (ret == -ENOENT || ret == -EBUSY) {
			vsl_rpc_reply_errno(call, ret, ret == -ENOENT ? "no bdev '%s'"
								       : "bdev '%s' is claimed",
					    p.base);
			return 0;
		}
	} else {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
				    "unknown bdev type '%s' (malloc, null, file, error, raw, qcow2)",
				    p.type);
		return -EINVAL;
	}
	if (ret == -EINVAL) {
		vsl_rpc_reply_errno(call, ret,
				    "invalid size or block size (a power of two 512..65536 "
				    "that divides the size)");
		return 0;
	}
	if (ret)
		return ret;
	vsl_rpc_reply(call, json_object_new_string(blk_bdev_name(b)));
	return 0;
}
VSL_RPC_REGISTER("bdev-create", rpc_bdev_create,
		 "create a bdev: {type: malloc|null|file|error|raw|qcow2, name, size, block_size, "
		 "path, direct, base, backing, l2_cache_size}")

/* ----------------------------------------------------------- bdev-delete */

struct name_params {
	const char *name;
};

static int rpc_bdev_delete(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct name_params, name, VSL_RPC_STRING, false),
	};
	struct name_params p = { 0 };
	struct blk_bdev *b;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	b = blk_bdev_find(p.name);
	if (b && b->refs) {
		vsl_rpc_reply_errno(call, -EBUSY, "bdev '%s' is in use (%u holders%s%s)", p.name,
				    b->refs, b->claimed_by[0] ? ", claimed by " : "", b->claimed_by);
		return 0;
	}
	ret = blk_bdev_delete(p.name);
	if (ret == -ENOENT) {
		vsl_rpc_reply_errno(call, ret, "no bdev '%s'", p.name);
		return 0;
	}
	return ret;
}
VSL_RPC_REGISTER("bdev-delete", rpc_bdev_delete, "delete an unused bdev: {name}")

/* ------------------------------------------------------------ bdev-list */

struct bdev_totals {
	uint64_t ops[BLK_IO_TYPE_COUNT];
	uint64_t bytes[BLK_IO_TYPE_COUNT];
	uint64_t errors;
	uint64_t lat[BLK_LAT_BUCKETS];
};

static void bdev_totals(const struct blk_bdev *b, struct bdev_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned r = 0; r < BLK_MAX_REACTORS; r++) {
		const struct blk_bdev_stats *s = &b->stats[r];

		for (int i = 0; i < BLK_IO_TYPE_COUNT; i++) {
			t->ops[i] += atomic_load_explicit(&s->ops[i], memory_order_relaxed);
			t->bytes[i] += atomic_load_explicit(&s->bytes[i], memory_order_relaxed);
		}
		t->errors += atomic_load_explicit(&s->errors, memory_order_relaxed);
		for (int i = 0; i < BLK_LAT_BUCKETS; i++)
			t->lat[i] += atomic_load_explicit(&s->lat[i], memory_order_relaxed);
	}
}

static struct json_object *counters_json(const struct bdev_totals *t)
{
	struct json_object *o = json_object_new_object();

	for (int i = 0; i < BLK_IO_TYPE_COUNT; i++) {
		char key[32];

		json_object_object_add(o, io_names[i], json_object_new_int64((int64_t)t->ops[i]));
		if (i == BLK_IO_READ || i == BLK_IO_WRITE) {
			snprintf(key, sizeof(key), "bytes_%s", i == BLK_IO_READ ? "read" : "written");
			json_object_object_add(o, key, json_object_new_int64((int64_t)t->bytes[i]));
		}
	}
	json_object_object_add(o, "errors", json_object_new_int64((int64_t)t->errors));
	return o;
}

static struct json_object *bdev_json(const struct blk_bdev *b)
{
	struct json_object *o = json_object_new_object(), *caps = json_object_new_array();
	struct bdev_totals t;
	char uuid[40];

	json_object_object_add(o, "name", json_object_new_string(b->name));
	json_object_object_add(o, "type", json_object_new_string(b->ops->type));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)blk_bdev_size(b)));
	json_object_object_add(o, "block_size", json_object_new_int((int)b->block_size));
	json_object_object_add(o, "block_count", json_object_new_int64((int64_t)b->block_count));
	json_object_object_add(o, "uuid", json_object_new_string(blk_bdev_uuid_str(b, uuid)));
	json_object_object_add(o, "base", b->base ? json_object_new_string(b->base->name) : NULL);
	json_object_object_add(o, "claimed_by",
			       b->claimed_by[0] ? json_object_new_string(b->claimed_by) : NULL);
	json_object_object_add(o, "users", json_object_new_int((int)b->users));
	json_object_object_add(o, "refs", json_object_new_int((int)b->refs));
	if (b->caps & BLK_CAP_FLUSH)
		json_object_array_add(caps, json_object_new_string("flush"));
	if (b->caps & BLK_CAP_DISCARD)
		json_object_array_add(caps, json_object_new_string("discard"));
	if (b->caps & BLK_CAP_WRITE_ZEROES)
		json_object_array_add(caps, json_object_new_string("write_zeroes"));
	if (b->caps & BLK_CAP_FUA)
		json_object_array_add(caps, json_object_new_string("fua"));
	json_object_object_add(o, "capabilities", caps);
	bdev_totals(b, &t);
	json_object_object_add(o, "counters", counters_json(&t));
	if (b->ops->dump_info)
		b->ops->dump_info(b, o);
	return o;
}

static int rpc_bdev_list(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct name_params, name, VSL_RPC_STRING, true),
	};
	struct name_params p = { 0 };
	struct json_object *arr;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	if (p.name && !blk_bdev_find(p.name)) {
		vsl_rpc_reply_errno(call, -ENOENT, "no bdev '%s'", p.name);
		return 0;
	}
	arr = json_object_new_array();
	for (struct blk_bdev *b = blk_bdev_next(NULL); b; b = blk_bdev_next(b))
		if (!p.name || !strcmp(p.name, b->name))
			json_object_array_add(arr, bdev_json(b));
	vsl_rpc_reply(call, arr);
	return 0;
}
VSL_RPC_REGISTER("bdev-list", rpc_bdev_list,
		 "the bdev graph: type, size, base, claims, capabilities, counters [{name}]")

/* ------------------------------------------------------------ bdev-stats */

static double lat_percentile_us(const struct bdev_totals *t, uint64_t total, double pct)
{
	uint64_t want = (uint64_t)((double)total * pct / 100.0 + 0.5), seen = 0;

	if (!total)
		return 0;
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < BLK_LAT_BUCKETS; i++) {
		seen += t->lat[i];
		if (seen >= want) {
			/* The bucket's upper bound: a percentile is never understated. */
			uint64_t hi = i + 1 < BLK_LAT_BUCKETS ? blk_lat_bucket_low(i + 1)
							      : blk_lat_bucket_low(i);

			return (double)vsl_cycles_to_ns(hi) / 1000.0;
		}
	}
	return 0;
}

static struct json_object *stats_json(struct blk_bdev *b, uint64_t now)
{
	struct json_object *o = json_object_new_object(), *lat = json_object_new_object();
	static const struct {
		const char *name;
		double pct;
	} pcts[] = { { "p50", 50 }, { "p90", 90 }, { "p99", 99 }, { "p999", 99.9 } };
	struct bdev_totals t;
	uint64_t ops = 0, lat_total = 0;
	double secs;

	bdev_totals(b, &t);
	for (int i = 0; i < BLK_IO_TYPE_COUNT; i++)
		ops += t.ops[i];
	for (int i = 0; i < BLK_LAT_BUCKETS; i++)
		lat_total += t.lat[i];
	json_object_object_add(o, "name", json_object_new_string(b->name));
	json_object_object_add(o, "counters", counters_json(&t));
	/* IOPS over the window since the previous bdev-stats of this bdev. */
	secs = (double)(now - b->last_stats_ns) / 1e9;
	json_object_object_add(o, "interval_s", json_object_new_double(secs));
	json_object_object_add(o, "iops",
			       json_object_new_double(secs > 0 ? (double)(ops - b->last_stats_ops) /
									 secs
							       : 0));
	b->last_stats_ns = now;
	b->last_stats_ops = ops;
	for (size_t i = 0; i < VSL_ARRAY_SIZE(pcts); i++)
		json_object_object_add(lat, pcts[i].name,
				       json_object_new_double(
					       lat_percentile_us(&t, lat_total, pcts[i].pct)));
	json_object_object_add(o, "latency_us", lat);
	return o;
}

static int rpc_bdev_stats(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct name_params, name, VSL_RPC_STRING, true),
	};
	struct name_params p = { 0 };
	struct json_object *arr;
	uint64_t now = vsl_time_mono_ns();

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	if (p.name && !blk_bdev_find(p.name)) {
		vsl_rpc_reply_errno(call, -ENOENT, "no bdev '%s'", p.name);
		return 0;
	}
	arr = json_object_new_array();
	for (struct blk_bdev *b = blk_bdev_next(NULL); b; b = blk_bdev_next(b))
		if (!p.name || !strcmp(p.name, b->name))
			json_object_array_add(arr, stats_json(b, now));
	vsl_rpc_reply(call, arr);
	return 0;
}
VSL_RPC_REGISTER("bdev-stats", rpc_bdev_stats,
		 "per-bdev counters, IOPS since the last call, latency percentiles [{name}]")

/* ---------------------------------------------------------- error-inject */

struct inject_params {
	const char *name;
	bool clear;
	uint64_t fail_nth;
	uint64_t fail_count;
	const char *io;
	int64_t range_start;
	uint64_t range_blocks;
	const char *range_io;
	const char *error;
	const char *power_cut;
	uint64_t shadow_size;
	uint64_t die_after_flush;
};

static int parse_io(const char *s, enum blk_error_io *out)
{
	static const char *const names[] = { "any", "read", "write", "flush" };

	for (size_t i = 0; i < VSL_ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum blk_error_io)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_errno(const char *s)
{
	static const struct {
		const char *name;
		int err;
	} errs[] = { { "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EPERM", EPERM },
		     { "EINVAL", EINVAL }, { "ENOMEM", ENOMEM }, { "ENOTSUP", ENOTSUP } };

	for (size_t i = 0; i < VSL_ARRAY_SIZE(errs); i++)
		if (!strcasecmp(s, errs[i].name))
			return errs[i].err;
	return -EINVAL;
}

static int rpc_error_inject(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct inject_params, name, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("clear", struct inject_params, clear, VSL_RPC_BOOL, true),
		VSL_RPC_PARAM("fail_nth", struct inject_params, fail_nth, VSL_RPC_UINT64, true),
		VSL_RPC_PARAM("fail_count", struct inject_params, fail_count, VSL_RPC_UINT64, true),
		VSL_RPC_PARAM("io", struct inject_params, io, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("range_start", struct inject_params, range_start, VSL_RPC_INT64, true),
		VSL_RPC_PARAM("range_blocks", struct inject_params, range_blocks, VSL_RPC_UINT64,
			      true),
		VSL_RPC_PARAM("range_io", struct inject_params, range_io, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("error", struct inject_params, error, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("power_cut", struct inject_params, power_cut, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("shadow_size", struct inject_params, shadow_size, VSL_RPC_SIZE, true),
		VSL_RPC_PARAM("die_after_flush", struct inject_params, die_after_flush,
			      VSL_RPC_UINT64, true),
	};
	struct inject_params p = { .range_start = -1 };
	struct blk_error_cfg cfg = { 0 };
	struct blk_bdev *b;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	b = blk_bdev_find(p.name);
	if (!b || strcmp(b->ops->type, "error")) {
		vsl_rpc_reply_errno(call, -ENOENT, "no error bdev '%s'", p.name);
		return 0;
	}
	cfg.clear = p.clear;
	cfg.fail_nth = p.fail_nth;
	cfg.fail_count = p.fail_count;
	if ((p.io && parse_io(p.io, &cfg.fail_io)) ||
	    (p.range_io && parse_io(p.range_io, &cfg.range_io))) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
				    "'io'/'range_io' must be any, read, write or flush");
		return -EINVAL;
	}
	if (p.range_start >= 0 || has(params, "range_blocks")) {
		if (p.range_start < 0) {
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
					    "'range_blocks' needs 'range_start'");
			return -EINVAL;
		}
		cfg.range_set = true;
		cfg.range_start = (uint64_t)p.range_start;
		cfg.range_blocks = has(params, "range_blocks") ? p.range_blocks : 1;
	}
	if (p.error) {
		cfg.error = parse_errno(p.error);
		if (cfg.error < 0) {
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
					    "'error' must be EIO, ENOSPC, EPERM, EINVAL, ENOMEM or "
					    "ENOTSUP");
			return -EINVAL;
		}
	}
	if (p.power_cut) {
		static const char *const pcs[] = { "none", "arm", "cut", "disarm" };
		size_t i;

		for (i = 0; i < VSL_ARRAY_SIZE(pcs) && strcmp(pcs[i], p.power_cut); i++)
			;
		if (i == VSL_ARRAY_SIZE(pcs)) {
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
					    "'power_cut' must be arm, cut or disarm");
			return -EINVAL;
		}
		cfg.power_cut = (enum blk_error_pc)i;
	}
	cfg.shadow_size = p.shadow_size;
	cfg.die_after_flush = p.die_after_flush;
	ret = blk_error_inject(b, &cfg);
	if (ret == -EBUSY) {
		vsl_rpc_reply_errno(call, ret, "writes made while armed are still in the shadow");
		return 0;
	}
	if (ret == -EALREADY) {
		vsl_rpc_reply_errno(call, ret, "power-cut tracking is already armed");
		return 0;
	}
	if (ret == -EINVAL && (cfg.power_cut == BLK_ERR_PC_CUT || cfg.die_after_flush)) {
		vsl_rpc_reply_errno(call, ret, "power-cut tracking is not armed");
		return 0;
	}
	if (ret == -ERANGE) {
		vsl_rpc_reply_errno(call, ret, "range beyond the end of '%s'", p.name);
		return 0;
	}
	if (ret)
		return ret;
	vsl_rpc_reply(call, bdev_json(b));
	return 0;
}
VSL_RPC_REGISTER("error-inject", rpc_error_inject,
		 "fault injection on an error bdev: {name, fail_nth, fail_count, io, range_start, "
		 "range_blocks, range_io, error, power_cut: arm|cut|disarm, shadow_size, die_after_flush, "
		 "clear}")

/* ---------------------------------------------------------- save-config */

static int bdev_config(struct json_object *calls)
{
	for (struct blk_bdev *b = blk_bdev_next(NULL); b; b = blk_bdev_next(b)) {
		struct json_object *p;

		if (b->ops->save_config) {
			int ret = b->ops->save_config(b, calls);

			if (ret)
				return ret;
			continue;
		}
		p = json_object_new_object();
		json_object_object_add(p, "type", json_object_new_string(b->ops->type));
		json_object_object_add(p, "name", json_object_new_string(b->name));
		if (b->ops->dump_config)
			b->ops->dump_config(b, p);
		if (vsl_config_add_call(calls, "bdev-create", p))
			return -ENOMEM;
	}
	return 0;
}
VSL_CONFIG_WRITER("bdevs", 10, bdev_config)
