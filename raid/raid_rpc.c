/* raid_rpc.c — JSON-RPC methods for RAID sets (control thread):
 * raid-create, raid-status, raid-fail, raid-remove, raid-add, raid-scrub, raid-stop.
 * The save-config call of a set (raid-create with its members) is written by
 * the bdev writer in creation order (raid_set_save_config()), so the members'
 * bdev-create calls come first. A 1 s timer clears idle bitmap regions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "raid_internal.h"
#include "vsl_daemon.h"
#include "vsl_loop.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

static struct vsl_timer *tick_timer;

static void tick_all(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	(void)arg;
	for (struct raid_set *s = raid_set_next(NULL); s; s = raid_set_next(s))
		raid_set_tick(s);
}

static void tick_ensure(void)
{
	struct vsl_daemon *d = vsl_daemon_get();

	if (tick_timer || !d || !d->loop)
		return;
	tick_timer = vsl_timer_add(d->loop, 1000, 1000, tick_all, NULL);
}

static struct json_object *status_json(struct raid_set *s)
{
	struct json_object *o = json_object_new_object();
	struct blk_bdev *b = raid_set_bdev(s);

	json_object_object_add(o, "name", json_object_new_string(blk_bdev_name(b)));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)blk_bdev_size(b)));
	raid_set_status(s, o);
	return o;
}

/* ----------------------------------------------------------- raid-create */

struct create_params {
	const char *name;
	uint32_t level;
	uint64_t strip_size;
	uint64_t region_size;
	struct json_object *members;
	uint64_t rebuild_rate;
	bool assume_clean;
};

static int rpc_raid_create(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct create_params, name, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("level", struct create_params, level, VSL_RPC_UINT32, false),
		VSL_RPC_PARAM("strip_size", struct create_params, strip_size, VSL_RPC_SIZE, true),
		VSL_RPC_PARAM("region_size", struct create_params, region_size, VSL_RPC_SIZE, true),
		VSL_RPC_PARAM("members", struct create_params, members, VSL_RPC_ARRAY, false),
		VSL_RPC_PARAM("rebuild_rate", struct create_params, rebuild_rate, VSL_RPC_SIZE, true),
		VSL_RPC_PARAM("assume_clean", struct create_params, assume_clean, VSL_RPC_BOOL, true),
	};
	struct create_params p = { 0 };
	const char *names[RAID_MAX_MEMBERS];
	struct raid_create_opts o = { 0 };
	struct raid_set *s;
	char err[256] = "";
	size_t n;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	n = json_object_array_length(p.members);
	if (n < 2 || n > RAID_MAX_MEMBERS) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "'members' needs 2 to %d bdev names",
				    RAID_MAX_MEMBERS);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(p.members, i);

		if (!json_object_is_type(v, json_type_string)) {
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "'members' must be strings");
			return -EINVAL;
		}
		names[i] = json_object_get_string(v);
	}
	if (p.strip_size > UINT32_MAX) {
		vsl_rpc_reply_errno(call, -EINVAL, "strip_size must be a power of two from 4K to 16M");
		return 0;
	}
	o.name = p.name;
	o.level = p.level;
	o.strip_size = (uint32_t)p.strip_size;
	if (json_object_object_get_ex(params, "strip_size", NULL) && p.strip_size == 0) {
		vsl_rpc_reply_errno(call, -EINVAL, "strip_size must be a power of two from 4K to 16M");
		return 0;
	}
	o.region_size = p.region_size;
	o.members = names;
	o.n_members = (unsigned)n;
	o.rebuild_rate = p.rebuild_rate;
	o.assume_clean = p.assume_clean;
	ret = raid_set_create(&o, &s, err, sizeof(err));
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "%s", err[0] ? err : strerror(-ret));
		return 0;
	}
	tick_ensure();
	vsl_rpc_reply(call, status_json(s));
	return 0;
}
VSL_RPC_REGISTER("raid-create", rpc_raid_create,
		 "create or assemble a RAID set: {name, level: 0|1, members: [bdev...], "
		 "strip_size, region_size, rebuild_rate, assume_clean}")

/* ----------------------------------------------------------- raid-status */

struct name_params {
	const char *name;
	const char *member;
	bool spare;
};

static struct raid_set *find_or_reply(struct vsl_rpc_call *call, const char *name)
{
	struct raid_set *s = raid_set_find(name);

	if (!s)
		vsl_rpc_reply_errno(call, -ENOENT, "no RAID set '%s'", name);
	return s;
}

static int rpc_raid_status(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct name_params, name, VSL_RPC_STRING, true),
	};
	struct name_params p = { 0 };
	struct json_object *arr;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	if (p.name && !find_or_reply(call, p.name))
		return 0;
	arr = json_object_new_array();
	for (struct raid_set *s = raid_set_next(NULL); s; s = raid_set_next(s))
		if (!p.name || !strcmp(p.name, blk_bdev_name(raid_set_bdev(s))))
			json_object_array_add(arr, status_json(s));
	vsl_rpc_reply(call, arr);
	return 0;
}
VSL_RPC_REGISTER("raid-status", rpc_raid_status,
		 "RAID sets: state, members, bitmap, rebuild progress, counters [{name}]")

/* ------------------------------------------------- member state changes */

static int member_call(struct vsl_rpc_call *call, struct json_object *params, int what)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct name_params, name, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("member", struct name_params, member, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("spare", struct name_params, spare, VSL_RPC_BOOL, true),
	};
	struct name_params p = { 0 };
	struct raid_set *s;
	char err[256] = "";
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	if (p.spare && what != 'a') {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "'spare' applies to raid-add only");
		return -EINVAL;
	}
	s = find_or_reply(call, p.name);
	if (!s)
		return 0;
	switch (what) {
	case 'f':
		ret = raid_member_fail(s, p.member);
		if (ret == -ENOENT)
			snprintf(err, sizeof(err), "%s is not a member of %s", p.member, p.name);
		else if (ret == -EBUSY)
			snprintf(err, sizeof(err), "%s is the last active member", p.member);
		else if (ret == -EINVAL)
			snprintf(err, sizeof(err), "%s cannot be failed (RAID0, or not in use)",
				 p.member);
		break;
	case 'r':
		ret = raid_member_remove(s, p.member, err, sizeof(err));
		break;
	default:
		ret = raid_member_add(s, p.member, p.spare, err, sizeof(err));
		break;
	}
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "%s", err[0] ? err : strerror(-ret));
		return 0;
	}
	vsl_rpc_reply(call, status_json(s));
	return 0;
}

static int rpc_raid_fail(struct vsl_rpc_call *call, struct json_object *params)
{
	return member_call(call, params, 'f');
}
VSL_RPC_REGISTER("raid-fail", rpc_raid_fail, "mark a RAID1 member failed: {name, member}")

static int rpc_raid_remove(struct vsl_rpc_call *call, struct json_object *params)
{
	return member_call(call, params, 'r');
}
VSL_RPC_REGISTER("raid-remove", rpc_raid_remove,
		 "take a failed member out of its set and release it: {name, member}")

static int rpc_raid_add(struct vsl_rpc_call *call, struct json_object *params)
{
	return member_call(call, params, 'a');
}
VSL_RPC_REGISTER("raid-add", rpc_raid_add,
		 "add a bdev to a RAID1 set and rebuild it, or keep it as a spare that is "
		 "promoted when a member fails: {name, member, spare}")

/* ------------------------------------------------------------ raid-scrub */

struct scrub_params {
	const char *name;
	bool repair;
};

static int rpc_raid_scrub(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct scrub_params, name, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("repair", struct scrub_params, repair, VSL_RPC_BOOL, true),
	};
	struct scrub_params p = { 0 };
	struct raid_set *s;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	s = find_or_reply(call, p.name);
	if (!s)
		return 0;
	ret = raid_set_scrub(s, p.repair);
	if (ret) {
		vsl_rpc_reply_errno(call, ret, ret == -EINVAL ? "scrub compares RAID1 members only"
				    : ret == -ENODEV ? "fewer than 2 active members" : "%s",
				    strerror(-ret));
		return 0;
	}
	vsl_rpc_reply(call, status_json(s));
	return 0;
}
VSL_RPC_REGISTER("raid-scrub", rpc_raid_scrub,
		 "compare a RAID1 set's members in the background; repair copies from the "
		 "first active member: {name, repair}")

/* ------------------------------------------------------------- raid-stop */

static int rpc_raid_stop(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct name_params, name, VSL_RPC_STRING, false),
	};
	struct name_params p = { 0 };
	struct raid_set *s;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	s = find_or_reply(call, p.name);
	if (!s)
		return 0;
	ret = raid_set_stop(s);
	if (ret == -EBUSY) {
		vsl_rpc_reply_errno(call, ret, "RAID set '%s' is in use or rebuilding", p.name);
		return 0;
	}
	if (ret)
		return ret;
	vsl_rpc_reply(call, json_object_new_boolean(true));
	return 0;
}
VSL_RPC_REGISTER("raid-stop", rpc_raid_stop,
		 "stop an unused RAID set and release its members (data stays): {name}")
