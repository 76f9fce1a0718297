/* blk_rpc_export.c — JSON-RPC methods for exports (export-add, export-remove,
 * export-list) and their save-config writer. Control thread. */
#include <errno.h>
#include <string.h>

#include "blk_internal.h"
#include "blk_nbd.h"
#include "blk_vhost_blk.h"
#include "vsl_config.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

struct add_params {
	const char *bdev;
	const char *type;
	const char *name;
	const char *socket;
	const char *tcp;
	bool readonly;
	bool allow_remote;
	uint32_t num_queues;
	bool pin_memory;
};

/* Answers an export-add of a vhost-user-blk export. */
/* An export is a shared user of its bdev: refused while a module owns the
 * bdev's contents with an exclusive claim (a RAID member, an LVM PV). */
static void reply_claimed(struct vsl_rpc_call *call, const char *bdev)
{
	struct blk_bdev *b = blk_bdev_find(bdev);
	const char *by = b ? blk_bdev_claimed_by(b) : NULL;

	vsl_rpc_reply_errno(call, -EBUSY, "bdev '%s' is claimed by %s: export what is built on it",
			    bdev, by ? by : "another user");
}

static int export_add_vub(struct vsl_rpc_call *call, const struct add_params *p, const char *name)
{
	struct blk_vub_export_opts o = { .name = name, .bdev = p->bdev, .socket = p->socket,
					 .readonly = p->readonly, .num_queues = p->num_queues,
					 .no_pin = !p->pin_memory };
	int ret;

	if (!p->socket || p->tcp) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
				    "a vhost-user-blk export needs 'socket' (and no 'tcp')");
		return -EINVAL;
	}
	if (p->allow_remote) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
				    "'allow_remote' applies to NBD exports only");
		return -EINVAL;
	}
	if (p->num_queues > BLK_VUB_MAX_QUEUES) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
				    "'num_queues' must be from 1 to %d", BLK_VUB_MAX_QUEUES);
		return -EINVAL;
	}
	if (blk_nbd_export_exists(name)) {
		vsl_rpc_reply_errno(call, -EEXIST, "export '%s' exists", name);
		return 0;
	}
	ret = blk_vub_export_add(&o);
	switch (ret) {
	case 0: {
		struct json_object *arr = json_object_new_array(), *r = NULL;

		blk_vub_export_list(arr);
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *e = json_object_array_get_idx(arr, i), *n;

			if (json_object_object_get_ex(e, "name", &n) &&
			    !strcmp(json_object_get_string(n), name))
				r = json_object_get(e);
		}
		json_object_put(arr);
		vsl_rpc_reply(call, r);
		return 0;
	}
	case -EEXIST:
		vsl_rpc_reply_errno(call, ret, "export '%s' exists (or %s is not a socket)", name,
				    p->socket);
		return 0;
	case -ENOENT:
		vsl_rpc_reply_errno(call, ret, "no bdev '%s'", p->bdev);
		return 0;
	case -EBUSY:
		reply_claimed(call, p->bdev);
		return 0;
	case -EINVAL:
		vsl_rpc_reply_errno(call, ret, "bad export name, socket path or bdev block size");
		return 0;
	case -EADDRINUSE:
		vsl_rpc_reply_errno(call, ret, "socket %s is in use", p->socket);
		return 0;
	case -ENODEV:
		vsl_rpc_reply_errno(call, ret, "cannot start DPDK for vhost-user (see the log)");
		return 0;
	default:
		vsl_rpc_reply_errno(call, ret, "cannot listen on %s: %s", p->socket, strerror(-ret));
		return 0;
	}
}

static int rpc_export_add(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("bdev", struct add_params, bdev, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("type", struct add_params, type, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("name", struct add_params, name, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("socket", struct add_params, socket, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("tcp", struct add_params, tcp, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("readonly", struct add_params, readonly, VSL_RPC_BOOL, true),
		VSL_RPC_PARAM("allow_remote", struct add_params, allow_remote, VSL_RPC_BOOL, true),
		VSL_RPC_PARAM("num_queues", struct add_params, num_queues, VSL_RPC_UINT32, true),
		VSL_RPC_PARAM("pin_memory", struct add_params, pin_memory, VSL_RPC_BOOL, true),
	};
	struct add_params p = { .type = "nbd", .pin_memory = true };
	struct blk_nbd_export_opts o;
	const char *name;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	name = p.name ? p.name : p.bdev;
	if (!strcmp(p.type, "vhost-user-blk"))
		return export_add_vub(call, &p, name);
	if (strcmp(p.type, "nbd")) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
				    "unknown export type '%s' (nbd, vhost-user-blk)", p.type);
		return -EINVAL;
	}
	if (p.num_queues || !p.pin_memory) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "'%s' applies to vhost-user-blk "
				    "exports only", p.num_queues ? "num_queues" : "pin_memory");
		return -EINVAL;
	}
	if (blk_vub_export_exists(name)) {
		vsl_rpc_reply_errno(call, -EEXIST, "export '%s' exists", name);
		return 0;
	}
	if (!p.socket == !p.tcp) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
				    "give exactly one of 'socket' and 'tcp'");
		return -EINVAL;
	}
	o = (struct blk_nbd_export_opts){ .name = name, .bdev = p.bdev, .socket = p.socket,
					  .tcp = p.tcp, .readonly = p.readonly,
					  .allow_remote = p.allow_remote };
	ret = blk_nbd_export_add(&o);
	switch (ret) {
	case 0: {
		struct json_object *arr = json_object_new_array(), *r = NULL;

		blk_nbd_export_list(arr);
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *e = json_object_array_get_idx(arr, i), *n;

			if (json_object_object_get_ex(e, "name", &n) &&
			    !strcmp(json_object_get_string(n), name))
				r = json_object_get(e);
		}
		json_object_put(arr);
		vsl_rpc_reply(call, r);
		return 0;
	}
	case -EEXIST:
		vsl_rpc_reply_errno(call, ret, "export '%s' exists", name);
		return 0;
	case -ENOENT:
		vsl_rpc_reply_errno(call, ret, "no bdev '%s'", p.bdev);
		return 0;
	case -EBUSY:
		reply_claimed(call, p.bdev);
		return 0;
	case -EPERM:
		vsl_rpc_reply_errno(call, ret,
				    "%s is not a loopback address (set allow_remote to permit it)",
				    p.tcp);
		return 0;
	case -EINVAL:
		vsl_rpc_reply_errno(call, ret, "bad export name or address");
		return 0;
	default:
		vsl_rpc_reply_errno(call, ret, "cannot listen on %s: %s", p.socket ? p.socket : p.tcp,
				    strerror(-ret));
		return 0;
	}
}
VSL_RPC_REGISTER("export-add", rpc_export_add,
		 "export a bdev over NBD: {bdev, type: nbd, socket | tcp: \"127.0.0.1:PORT\", "
		 "name, readonly, allow_remote}, or to vhost-user front ends: {bdev, type: "
		 "vhost-user-blk, socket, name, readonly, num_queues, pin_memory}")

struct remove_params {
	const char *name;
};

static void remove_done(void *arg)
{
	vsl_rpc_reply(arg, json_object_new_boolean(true));
}

static int rpc_export_remove(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct remove_params, name, VSL_RPC_STRING, false),
	};
	struct remove_params p = { 0 };
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	if (blk_vub_export_exists(p.name)) {
		/* Waits for the front end's requests to finish. */
		blk_vub_export_remove(p.name);
		vsl_rpc_reply(call, json_object_new_boolean(true));
		return 0;
	}
	/* Connections close on their reactors; the answer comes when the last
	 * one is gone (maybe right away). */
	vsl_rpc_defer(call);
	ret = blk_nbd_export_remove(p.name, remove_done, call);
	if (ret)
		vsl_rpc_reply_errno(call, ret, ret == -ENOENT ? "no export '%s'"
							      : "export '%s' is being removed",
				    p.name);
	return 0;
}
VSL_RPC_REGISTER("export-remove", rpc_export_remove,
		 "remove an export, closing its connections: {name}")

static int rpc_export_list(struct vsl_rpc_call *call, struct json_object *params)
{
	struct json_object *arr;

	if (vsl_rpc_decode(call, params, NULL, 0, NULL))
		return -EINVAL;
	arr = json_object_new_array();
	blk_nbd_export_list(arr);
	blk_vub_export_list(arr);
	vsl_rpc_reply(call, arr);
	return 0;
}
VSL_RPC_REGISTER("export-list", rpc_export_list, "list exports with their connections")

VSL_CONFIG_WRITER("exports", 20, blk_nbd_config)
VSL_CONFIG_WRITER("vhost-user-blk exports", 21, blk_vub_config)
