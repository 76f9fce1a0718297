/* lvm_rpc.c — JSON-RPC methods for PVs, VGs and LVs (control thread):
 * pv-create, pv-list, vg-create, vg-activate, vg-extend, vg-reduce, vg-list,
 * vg-remove, vg-deactivate, lv-create, lv-resize, lv-rename, lv-remove,
 * lv-list. The "lvm" config writer (order 15: after every bdev-create and
 * raid-create, before the exports) saves one vg-activate per active VG. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lvm_internal.h"
#include "vsl_config.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

static int reply_ret(struct vsl_rpc_call *call, int ret, const char *err)
{
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "%s", err[0] ? err : strerror(-ret));
		return 0;
	}
	vsl_rpc_reply(call, json_object_new_boolean(true));
	return 0;
}

static struct lvm_vg *vg_or_reply(struct vsl_rpc_call *call, const char *name)
{
	struct lvm_vg *vg = lvm_vg_find(name);

	if (!vg)
		vsl_rpc_reply_errno(call, -ENOENT, "no active VG '%s'", name);
	return vg;
}

/* Array of strings -> names[]; replies and returns -EINVAL when malformed. */
static int names_of(struct vsl_rpc_call *call, struct json_object *arr, const char **names,
		    unsigned *n)
{
	size_t len = json_object_array_length(arr);

	if (len < 1 || len > LVM_MAX_PVS) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "'pvs' needs 1 to %d bdev names",
				    LVM_MAX_PVS);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(v, json_type_string)) {
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "'pvs' must be strings");
			return -EINVAL;
		}
		names[i] = json_object_get_string(v);
	}
	*n = (unsigned)len;
	return 0;
}

/* ------------------------------------------------------------------ PVs */

struct pv_params {
	const char *bdev;
};

static int rpc_pv_create(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("bdev", struct pv_params, bdev, VSL_RPC_STRING, false),
	};
	struct pv_params p = { 0 };
	char err[256] = "";

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	return reply_ret(call, lvm_pv_create(p.bdev, err, sizeof(err)), err);
}
VSL_RPC_REGISTER("pv-create", rpc_pv_create, "write an LVM PV label on a bdev: {bdev}")

static int rpc_pv_list(struct vsl_rpc_call *call, struct json_object *params)
{
	struct json_object *arr = json_object_new_array();

	if (vsl_rpc_decode(call, params, NULL, 0, NULL)) {
		json_object_put(arr);
		return -EINVAL;
	}
	lvm_pv_list(arr);
	vsl_rpc_reply(call, arr);
	return 0;
}
VSL_RPC_REGISTER("pv-list", rpc_pv_list, "PVs of active VGs and unused labelled bdevs")

/* ------------------------------------------------------------------ VGs */

struct vg_params {
	const char *name;
	struct json_object *pvs;
	uint64_t extent_size;
	bool partial;
	const char *bdev;
};

static struct json_object *vg_json(struct lvm_vg *vg)
{
	struct json_object *o = json_object_new_object();

	lvm_vg_status(vg, o);
	return o;
}

static int rpc_vg_create(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct vg_params, name, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("pvs", struct vg_params, pvs, VSL_RPC_ARRAY, false),
		VSL_RPC_PARAM("extent_size", struct vg_params, extent_size, VSL_RPC_SIZE, true),
	};
	struct vg_params p = { 0 };
	const char *names[LVM_MAX_PVS];
	struct lvm_vg *vg = NULL;
	char err[256] = "";
	unsigned n;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	if (names_of(call, p.pvs, names, &n))
		return -EINVAL;
	if (json_object_object_get_ex(params, "extent_size", NULL) && p.extent_size == 0) {
		vsl_rpc_reply_errno(call, -EINVAL, "extent size must be a power of two from 64K to 1G");
		return 0;
	}
	ret = lvm_vg_create(p.name, names, n, p.extent_size, &vg, err, sizeof(err));
	if (ret || !vg)
		return reply_ret(call, ret, err);
	vsl_rpc_reply(call, vg_json(vg));
	return 0;
}
VSL_RPC_REGISTER("vg-create", rpc_vg_create,
		 "create a volume group: {name, pvs: [bdev...], extent_size (default 4M)}")

static int rpc_vg_activate(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct vg_params, name, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("pvs", struct vg_params, pvs, VSL_RPC_ARRAY, false),
		VSL_RPC_PARAM("partial", struct vg_params, partial, VSL_RPC_BOOL, true),
	};
	struct vg_params p = { 0 };
	const char *names[LVM_MAX_PVS];
	struct lvm_vg *vg = NULL;
	char err[256] = "";
	unsigned n;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	if (names_of(call, p.pvs, names, &n))
		return -EINVAL;
	ret = lvm_vg_activate(p.name, names, n, p.partial, &vg, err, sizeof(err));
	if (ret || !vg)
		return reply_ret(call, ret, err);
	vsl_rpc_reply(call, vg_json(vg));
	return 0;
}
VSL_RPC_REGISTER("vg-activate", rpc_vg_activate,
		 "activate a volume group from its PVs: {name, pvs: [bdev...], partial}")

static int vg_pv_call(struct vsl_rpc_call *call, struct json_object *params, bool extend)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct vg_params, name, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("bdev", struct vg_params, bdev, VSL_RPC_STRING, false),
	};
	struct vg_params p = { 0 };
	struct lvm_vg *vg;
	char err[256] = "";
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	vg = vg_or_reply(call, p.name);
	if (!vg)
		return 0;
	ret = extend ? lvm_vg_extend(vg, p.bdev, err, sizeof(err))
		     : lvm_vg_reduce(vg, p.bdev, err, sizeof(err));
	if (ret)
		return reply_ret(call, ret, err);
	vsl_rpc_reply(call, vg_json(vg));
	return 0;
}

static int rpc_vg_extend(struct vsl_rpc_call *call, struct json_object *params)
{
	return vg_pv_call(call, params, true);
}
VSL_RPC_REGISTER("vg-extend", rpc_vg_extend, "add a PV to a volume group: {name, bdev}")

static int rpc_vg_reduce(struct vsl_rpc_call *call, struct json_object *params)
{
	return vg_pv_call(call, params, false);
}
VSL_RPC_REGISTER("vg-reduce", rpc_vg_reduce, "remove an empty PV from a volume group: {name, bdev}")

static int rpc_vg_list(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct vg_params, name, VSL_RPC_STRING, true),
	};
	struct vg_params p = { 0 };
	struct json_object *arr;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	if (p.name && !vg_or_reply(call, p.name))
		return 0;
	arr = json_object_new_array();
	for (struct lvm_vg *vg = lvm_vg_next(NULL); vg; vg = lvm_vg_next(vg))
		if (!p.name || !strcmp(p.name, lvm_vg_name(vg)))
			json_object_array_add(arr, vg_json(vg));
	vsl_rpc_reply(call, arr);
	return 0;
}
VSL_RPC_REGISTER("vg-list", rpc_vg_list, "active volume groups [{name}]")

static int vg_name_call(struct vsl_rpc_call *call, struct json_object *params, bool remove)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct vg_params, name, VSL_RPC_STRING, false),
	};
	struct vg_params p = { 0 };
	struct lvm_vg *vg;
	char err[256] = "";

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	vg = vg_or_reply(call, p.name);
	if (!vg)
		return 0;
	return reply_ret(call, remove ? lvm_vg_remove(vg, err, sizeof(err))
				      : lvm_vg_deactivate(vg, err, sizeof(err)), err);
}

static int rpc_vg_remove(struct vsl_rpc_call *call, struct json_object *params)
{
	return vg_name_call(call, params, true);
}
VSL_RPC_REGISTER("vg-remove", rpc_vg_remove,
		 "remove a volume group without LVs (wipes its metadata): {name}")

static int rpc_vg_deactivate(struct vsl_rpc_call *call, struct json_object *params)
{
	return vg_name_call(call, params, false);
}
VSL_RPC_REGISTER("vg-deactivate", rpc_vg_deactivate,
		 "close a volume group whose LVs are unused (nothing written): {name}")

/* ------------------------------------------------------------------ LVs */

struct lv_params {
	const char *vg;
	const char *lv;
	uint64_t size;
	const char *type;
	uint64_t chunk_size;
	uint64_t meta_size;
	uint64_t virtual_size;
	const char *thin_pool;
	const char *origin;
	uint32_t stripes;
	uint64_t stripe_size;
	const char *mode;
	bool force;
	const char *new_name;
};

static int rpc_lv_create(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("vg", struct lv_params, vg, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("name", struct lv_params, lv, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("size", struct lv_params, size, VSL_RPC_SIZE, true),
		VSL_RPC_PARAM("stripes", struct lv_params, stripes, VSL_RPC_UINT32, true),
		VSL_RPC_PARAM("stripe_size", struct lv_params, stripe_size, VSL_RPC_SIZE, true),
		VSL_RPC_PARAM("type", struct lv_params, type, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("chunk_size", struct lv_params, chunk_size, VSL_RPC_SIZE, true),
		VSL_RPC_PARAM("pool_metadata_size", struct lv_params, meta_size, VSL_RPC_SIZE, true),
		VSL_RPC_PARAM("virtual_size", struct lv_params, virtual_size, VSL_RPC_SIZE, true),
		VSL_RPC_PARAM("thin_pool", struct lv_params, thin_pool, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("origin", struct lv_params, origin, VSL_RPC_STRING, true),
	};
	struct lv_params p = { 0 };
	struct lvm_lv_opts o = { 0 };
	struct lvm_vg *vg;
	char err[256] = "";
	struct json_object *arr;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	vg = vg_or_reply(call, p.vg);
	if (!vg)
		return 0;
	if (p.stripe_size > UINT32_MAX ||
	    (json_object_object_get_ex(params, "stripe_size", NULL) && !p.stripe_size)) {
		vsl_rpc_reply_errno(call, -EINVAL, "bad stripe size");
		return 0;
	}
	o.name = p.lv;
	o.size = p.size;
	o.stripes = p.stripes;
	o.stripe_size = (uint32_t)p.stripe_size;
	if (p.type && strcmp(p.type, "linear") && strcmp(p.type, "striped") &&
	    strcmp(p.type, "thin-pool") && strcmp(p.type, "thin") && strcmp(p.type, "snapshot")) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
				    "'type' is one of linear, striped, thin-pool, thin, snapshot");
		return -EINVAL;
	}
	o.pool = p.type && !strcmp(p.type, "thin-pool");
	if (p.chunk_size > UINT32_MAX ||
	    (json_object_object_get_ex(params, "chunk_size", NULL) && !p.chunk_size)) {
		vsl_rpc_reply_errno(call, -EINVAL, "bad chunk size");
		return 0;
	}
	o.chunk_size = (uint32_t)p.chunk_size;
	o.meta_size = p.meta_size;
	o.thin_pool = p.thin_pool;
	o.origin = p.origin;
	if (o.thin_pool && o.origin) {
		vsl_rpc_reply_errno(call, -EINVAL, "give 'thin_pool' (a thin LV) or 'origin' (a "
				    "snapshot), not both");
		return 0;
	}
	if ((o.thin_pool || o.origin) && (o.pool || p.stripes > 1)) {
		vsl_rpc_reply_errno(call, -EINVAL, "a thin LV is neither a pool nor striped");
		return 0;
	}
	if (o.thin_pool) {
		o.size = p.virtual_size ? p.virtual_size : p.size;
		if (!o.size) {
			vsl_rpc_reply_errno(call, -EINVAL, "a thin LV needs 'virtual_size'");
			return 0;
		}
	} else if (!o.origin && !p.size) {
		vsl_rpc_reply_errno(call, -EINVAL, "'size' is required (and not zero)");
		return 0;
	}
	ret = lvm_lv_create(vg, &o, err, sizeof(err));
	if (ret)
		return reply_ret(call, ret, err);
	arr = json_object_new_array();
	lvm_lv_list(vg, arr);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *l = json_object_array_get_idx(arr, i), *n;

		if (json_object_object_get_ex(l, "lv", &n) && !strcmp(json_object_get_string(n), p.lv)) {
			vsl_rpc_reply(call, json_object_get(l));
			break;
		}
	}
	json_object_put(arr);
	return 0;
}
VSL_RPC_REGISTER("lv-create", rpc_lv_create,
		 "create an LV (bdev VG-LV): linear or striped {vg, name, size, stripes, stripe_size}; "
		 "thin pool {type: thin-pool, size, chunk_size, pool_metadata_size}; thin LV "
		 "{thin_pool, virtual_size}; snapshot of a thin LV {origin}")

static int rpc_lv_resize(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("vg", struct lv_params, vg, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("name", struct lv_params, lv, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("size", struct lv_params, size, VSL_RPC_SIZE, false),
		VSL_RPC_PARAM("mode", struct lv_params, mode, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("force", struct lv_params, force, VSL_RPC_BOOL, true),
	};
	struct lv_params p = { 0 };
	struct lvm_vg *vg;
	char err[256] = "";
	int i;
	uint64_t cur, want;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	vg = vg_or_reply(call, p.vg);
	if (!vg)
		return 0;
	i = lvm_md_lv_find(vg->md, p.lv);
	if (i < 0) {
		vsl_rpc_reply_errno(call, -ENOENT, "no LV %s/%s", p.vg, p.lv);
		return 0;
	}
	cur = vg->md->lvs[i].le_count * vg->md->extent_size;
	want = p.size;
	if (p.mode && !strcmp(p.mode, "grow")) {
		want = cur + p.size;
		if (want < cur) {
			vsl_rpc_reply_errno(call, -EINVAL, "size overflows");
			return 0;
		}
	} else if (p.mode && !strcmp(p.mode, "shrink")) {
		if (p.size >= cur) {
			vsl_rpc_reply_errno(call, -EINVAL, "cannot reduce by %llu bytes",
					    (unsigned long long)p.size);
			return 0;
		}
		want = cur - p.size;
	} else if (p.mode && !strcmp(p.mode, "extend")) {
		if (want < cur) {
			vsl_rpc_reply_errno(call, -EINVAL, "lvextend cannot shrink %s/%s", p.vg, p.lv);
			return 0;
		}
	} else if (p.mode && !strcmp(p.mode, "reduce")) {
		if (want > cur) {
			vsl_rpc_reply_errno(call, -EINVAL, "lvreduce cannot grow %s/%s", p.vg, p.lv);
			return 0;
		}
	} else if (p.mode) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
				    "'mode' is one of set, extend, reduce, grow, shrink");
		return -EINVAL;
	}
	return reply_ret(call, lvm_lv_resize(vg, p.lv, want, p.force, err, sizeof(err)), err);
}
VSL_RPC_REGISTER("lv-resize", rpc_lv_resize,
		 "resize an LV: {vg, name, size, mode: extend|reduce|grow|shrink, force} "
		 "(shrinking needs force)")

static int rpc_lv_rename(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("vg", struct lv_params, vg, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("name", struct lv_params, lv, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("new_name", struct lv_params, new_name, VSL_RPC_STRING, false),
	};
	struct lv_params p = { 0 };
	struct lvm_vg *vg;
	char err[256] = "";

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	vg = vg_or_reply(call, p.vg);
	if (!vg)
		return 0;
	return reply_ret(call, lvm_lv_rename(vg, p.lv, p.new_name, err, sizeof(err)), err);
}
VSL_RPC_REGISTER("lv-rename", rpc_lv_rename, "rename an unused LV: {vg, name, new_name}")

static int rpc_lv_remove(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("vg", struct lv_params, vg, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("name", struct lv_params, lv, VSL_RPC_STRING, false),
	};
	struct lv_params p = { 0 };
	struct lvm_vg *vg;
	char err[256] = "";

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	vg = vg_or_reply(call, p.vg);
	if (!vg)
		return 0;
	return reply_ret(call, lvm_lv_remove(vg, p.lv, err, sizeof(err)), err);
}
VSL_RPC_REGISTER("lv-remove", rpc_lv_remove, "remove an unused LV: {vg, name}")

static int rpc_lv_list(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("vg", struct lv_params, vg, VSL_RPC_STRING, true),
	};
	struct lv_params p = { 0 };
	struct json_object *arr;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	if (p.vg && !vg_or_reply(call, p.vg))
		return 0;
	arr = json_object_new_array();
	for (struct lvm_vg *vg = lvm_vg_next(NULL); vg; vg = lvm_vg_next(vg))
		if (!p.vg || !strcmp(p.vg, lvm_vg_name(vg)))
			lvm_lv_list(vg, arr);
	vsl_rpc_reply(call, arr);
	return 0;
}
VSL_RPC_REGISTER("lv-list", rpc_lv_list, "logical volumes [{vg}]")

/* ---------------------------------------------------------- save-config */

static int lvm_config(struct json_object *calls)
{
	/* vg_head is newest first; replay oldest first. */
	struct lvm_vg *vgs[256];
	unsigned n = 0;

	for (struct lvm_vg *vg = lvm_vg_next(NULL); vg && n < VSL_ARRAY_SIZE(vgs);
	     vg = lvm_vg_next(vg))
		vgs[n++] = vg;
	while (n--) {
		int ret = vsl_config_add_call(calls, "vg-activate", lvm_vg_config(vgs[n]));

		if (ret)
			return ret;
	}
	return 0;
}
VSL_CONFIG_WRITER("lvm", 15, lvm_config)
