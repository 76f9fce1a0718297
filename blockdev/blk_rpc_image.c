/* blk_rpc_image.c — JSON-RPC methods for images: image-create, image-info,
 * image-resize, and bdev-create for the `raw` and `qcow2` types (called by
 * bdev-create in blk_rpc_bdev.c). Control thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blk_image_internal.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

/* ---------------------------------------------------------- image-create */

struct create_params {
	const char *path;
	const char *format;
	uint64_t size;
	uint32_t cluster_size;
	const char *backing;
	const char *backing_fmt;
	bool preallocate;
};

static int rpc_image_create(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("path", struct create_params, path, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("format", struct create_params, format, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("size", struct create_params, size, VSL_RPC_SIZE, true),
		VSL_RPC_PARAM("cluster_size", struct create_params, cluster_size, VSL_RPC_UINT32,
			      true),
		VSL_RPC_PARAM("backing", struct create_params, backing, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("backing_fmt", struct create_params, backing_fmt, VSL_RPC_STRING,
			      true),
		VSL_RPC_PARAM("preallocate", struct create_params, preallocate, VSL_RPC_BOOL, true),
	};
	struct create_params p = { 0 };
	struct blk_image_create_opts o;
	char err[BLK_QCOW2_ERR_LEN] = "";
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	/* Raw images are fixed size: fully allocated unless asked otherwise. */
	if (!strcmp(p.format, "raw") && !json_object_object_get_ex(params, "preallocate", NULL))
		p.preallocate = true;
	o = (struct blk_image_create_opts){ .path = p.path, .format = p.format, .size = p.size,
					    .cluster_size = p.cluster_size, .backing = p.backing,
					    .backing_fmt = p.backing_fmt,
					    .preallocate = p.preallocate };
	ret = blk_image_create(&o, err, sizeof(err));
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "%s", err);
		return 0;
	}
	vsl_rpc_reply(call, json_object_new_string(p.path));
	return 0;
}
VSL_RPC_REGISTER("image-create", rpc_image_create,
		 "create an image file: {path, format: raw|qcow2, size, cluster_size, backing, "
		 "backing_fmt, preallocate}")

/* ------------------------------------------------------------ image-info */

static struct json_object *info_json(const char *path, const struct blk_image_info *i)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "format", json_object_new_string(i->format));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)i->size));
	json_object_object_add(o, "file_size", json_object_new_int64((int64_t)i->file_size));
	if (i->is_qcow2) {
		const struct blk_qcow2_hdr *h = &i->q;

		json_object_object_add(o, "version", json_object_new_int((int)h->version));
		json_object_object_add(o, "cluster_size",
				       json_object_new_int64((int64_t)h->cluster_size));
		json_object_object_add(o, "refcount_bits",
				       json_object_new_int(1 << h->refcount_order));
		json_object_object_add(o, "l1_size", json_object_new_int64(h->l1_size));
		json_object_object_add(o, "l1_offset", json_object_new_int64((int64_t)h->l1_offset));
		json_object_object_add(o, "refcount_table_offset",
				       json_object_new_int64((int64_t)h->reftable_offset));
		json_object_object_add(o, "refcount_table_clusters",
				       json_object_new_int64(h->reftable_clusters));
		json_object_object_add(o, "backing_file",
				       h->backing[0] ? json_object_new_string(h->backing) : NULL);
		json_object_object_add(o, "backing_format",
				       h->backing_fmt[0] ? json_object_new_string(h->backing_fmt)
							 : NULL);
		json_object_object_add(o, "incompatible_features",
				       json_object_new_int64((int64_t)h->incompat));
		json_object_object_add(o, "compatible_features",
				       json_object_new_int64((int64_t)h->compat));
		json_object_object_add(o, "autoclear_features",
				       json_object_new_int64((int64_t)h->autoclear));
		json_object_object_add(o, "lazy_refcounts", json_object_new_boolean(h->compat & 1));
	}
	return o;
}

struct path_params {
	const char *path;
	const char *bdev;
	uint64_t size;
};

static int rpc_image_info(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("path", struct path_params, path, VSL_RPC_STRING, false),
	};
	struct path_params p = { 0 };
	struct blk_image_info info;
	char err[BLK_QCOW2_ERR_LEN] = "";
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	ret = blk_image_info_path(p.path, &info, err, sizeof(err));
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "%s", err);
		return 0;
	}
	vsl_rpc_reply(call, info_json(p.path, &info));
	return 0;
}
VSL_RPC_REGISTER("image-info", rpc_image_info,
		 "an image file's format and parsed header: {path}")

/* ---------------------------------------------------------- image-resize */

static int rpc_image_resize(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("path", struct path_params, path, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("bdev", struct path_params, bdev, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("size", struct path_params, size, VSL_RPC_SIZE, false),
	};
	struct path_params p = { 0 };
	char err[BLK_QCOW2_ERR_LEN] = "";
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	if (!p.path == !p.bdev) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "give 'path' or 'bdev'");
		return -EINVAL;
	}
	if (p.bdev) {
		struct blk_bdev *b = blk_bdev_find(p.bdev);

		if (!b) {
			vsl_rpc_reply_errno(call, -ENOENT, "no bdev '%s'", p.bdev);
			return 0;
		}
		ret = blk_image_resize_bdev(b, p.size, err, sizeof(err));
	} else {
		ret = blk_image_resize_path(p.path, p.size, err, sizeof(err));
	}
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "%s", err[0] ? err : strerror(-ret));
		return 0;
	}
	vsl_rpc_reply(call, json_object_new_int64((int64_t)p.size));
	return 0;
}
VSL_RPC_REGISTER("image-resize", rpc_image_resize,
		 "grow an image: {bdev|path, size} (a bdev must have no export)")

/* ------------------------------------------------ bdev-create raw / qcow2 */

struct bdev_params {
	const char *type;
	const char *name;
	const char *path;
	const char *base;
	const char *backing;
	bool direct;
	bool read_only;
	uint64_t l2_cache_size;
};

int blk_rpc_image_bdev_create(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("type", struct bdev_params, type, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("name", struct bdev_params, name, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("path", struct bdev_params, path, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("base", struct bdev_params, base, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("backing", struct bdev_params, backing, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("direct", struct bdev_params, direct, VSL_RPC_BOOL, true),
		VSL_RPC_PARAM("read_only", struct bdev_params, read_only, VSL_RPC_BOOL, true),
		VSL_RPC_PARAM("l2_cache_size", struct bdev_params, l2_cache_size, VSL_RPC_SIZE,
			      true),
	};
	struct bdev_params p = { 0 };
	struct blk_image_bdev_opts o;
	char err[BLK_QCOW2_ERR_LEN] = "";
	struct blk_bdev *b = NULL;
	bool qcow2;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	qcow2 = !strcmp(p.type, "qcow2");
	if (!qcow2 && (p.backing || p.l2_cache_size || p.read_only)) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
				    "'backing', 'l2_cache_size' and 'read_only' apply to qcow2 only");
		return -EINVAL;
	}
	if (!p.path == !p.base) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "give 'path' or 'base'");
		return -EINVAL;
	}
	o = (struct blk_image_bdev_opts){ .path = p.path, .base = p.base, .backing = p.backing,
					  .direct = p.direct, .read_only = p.read_only,
					  .l2_cache_size = p.l2_cache_size };
	ret = qcow2 ? blk_qcow2_create(p.name, &o, err, sizeof(err), &b)
		    : blk_raw_create(p.name, &o, err, sizeof(err), &b);
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "%s", err[0] ? err : strerror(-ret));
		return 0;
	}
	vsl_rpc_reply(call, json_object_new_string(blk_bdev_name(b)));
	return 0;
}

bool blk_rpc_image_bdev_type(struct json_object *params)
{
	struct json_object *t;
	const char *s;

	if (!params || !json_object_object_get_ex(params, "type", &t) ||
	    !json_object_is_type(t, json_type_string))
		return false;
	s = json_object_get_string(t);
	return !strcmp(s, "raw") || !strcmp(s, "qcow2");
}
