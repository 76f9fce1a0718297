/* sw_rpc_group.c — JSON-RPC methods for the OpenFlow group table in
 * ovs-ofctl syntax: add-group, del-groups, dump-groups, and the save-config
 * writer. Control thread only. Groups are the same whether a controller
 * (GROUP_MOD) or these methods made them; the checks are sw_group_mod()'s.
 *
 *   group_id=1,type=all,bucket=output:1,bucket=output:2
 *   group_id=2,type=select,bucket=weight:5,actions=output:1,bucket=weight:5,output:2
 *   group_id=3,type=fast_failover,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ofa.h"
#include "sw_internal.h"
#include "vsl_config.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

static const char *const type_names[] = { "all", "select", "indirect", "fast_failover" };

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || !*s || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* One bucket: "weight:N,watch_port:N,watch_group:N,actions=..." (the
 * actions= prefix is optional). */
static int parse_bucket(char *s, struct ofa_bucket *b, char *err, size_t errlen)
{
	struct sw_flow_mod *fm;
	char *acts = s, *buf;
	int ret;

	b->watch_port = OFPP_ANY;
	b->watch_group = OFPG_ANY;
	for (;;) {
		char *comma = strchr(acts, ','), *colon;
		uint32_t *dst = NULL;
		uint32_t v;

		if (!strncmp(acts, "weight", 6) || !strncmp(acts, "watch_port", 10) ||
		    !strncmp(acts, "watch_group", 11)) {
			colon = strpbrk(acts, ":=");
			if (!colon)
				break;
			if (comma)
				*comma = '\0';
			if (parse_u32(colon + 1, &v)) {
				snprintf(err, errlen, "bad value '%s' in bucket", acts);
				return -EINVAL;
			}
			if (!strncmp(acts, "weight", 6)) {
				if (v > UINT16_MAX) {
					snprintf(err, errlen, "bad weight %u", v);
					return -EINVAL;
				}
				b->weight = (uint16_t)v;
			} else {
				dst = !strncmp(acts, "watch_port", 10) ? &b->watch_port : &b->watch_group;
				*dst = v;
			}
			if (!comma) {
				acts = (char *)"";
				break;
			}
			acts = comma + 1;
			continue;
		}
		break;
	}
	if (!strncmp(acts, "actions=", 8))
		acts += 8;
	fm = malloc(sizeof(*fm));
	buf = malloc(strlen(acts) + 16);
	if (!fm || !buf) {
		free(fm);
		free(buf);
		return -ENOMEM;
	}
	snprintf(buf, strlen(acts) + 16, "actions=%s", *acts ? acts : "drop");
	ret = sw_flow_parse(buf, SW_FC_ADD, fm, err, errlen);
	free(buf);
	if (!ret && (fm->insts.n_write || fm->insts.has_goto || fm->insts.write_md ||
		     fm->insts.clear_actions)) {
		snprintf(err, errlen, "a bucket takes actions, not instructions");
		ret = -EINVAL;
	}
	if (!ret && fm->insts.n_apply) {
		b->actions.actions = calloc(fm->insts.n_apply, sizeof(*b->actions.actions));
		if (!b->actions.actions)
			ret = -ENOMEM;
		for (unsigned i = 0; !ret && i < fm->insts.n_apply; i++)
			sw_ofa_action_to(&fm->insts.acts[i], &b->actions.actions[i]);
		if (!ret)
			b->actions.n = fm->insts.n_apply;
	}
	free(fm);
	return ret;
}

int sw_group_parse(const char *spec, bool need_buckets, struct ofa_group_mod *gm, char *err,
		   size_t errlen)
{
	char *s = strdup(spec), *p, *next;
	bool have_id = false, have_type = false;
	int ret = 0;

	if (!s)
		return -ENOMEM;
	memset(gm, 0, sizeof(*gm));
	p = s;
	while (p && *p && strncmp(p, "bucket=", 7)) {
		char *comma = strchr(p, ',');

		if (comma)
			*comma = '\0';
		if (!strncmp(p, "group_id=", 9)) {
			if (parse_u32(p + 9, &gm->group_id) ||
			    (gm->group_id > OFPG_MAX && gm->group_id != OFPG_ALL)) {
				snprintf(err, errlen, "bad value '%s' for group_id", p + 9);
				ret = -EINVAL;
				goto out;
			}
			have_id = true;
		} else if (!strncmp(p, "type=", 5)) {
			unsigned t;

			for (t = 0; t < 4; t++)
				if (!strcmp(p + 5, type_names[t]) || (t == 3 && !strcmp(p + 5, "ff")))
					break;
			if (t == 4) {
				snprintf(err, errlen, "bad value '%s' for type (all, select, indirect, "
					 "fast_failover)", p + 5);
				ret = -EINVAL;
				goto out;
			}
			gm->type = (uint8_t)t;
			have_type = true;
		} else {
			snprintf(err, errlen, "unknown field '%s'", p);
			ret = -EINVAL;
			goto out;
		}
		p = comma ? comma + 1 : NULL;
	}
	if (!have_id) {
		snprintf(err, errlen, "missing group_id");
		ret = -EINVAL;
		goto out;
	}
	if (need_buckets && !have_type) {
		snprintf(err, errlen, "missing type");
		ret = -EINVAL;
		goto out;
	}
	while (need_buckets && p && !strncmp(p, "bucket=", 7)) {
		struct ofa_bucket *nb;

		p += 7;
		next = strstr(p, ",bucket=");
		if (next)
			*next = '\0';
		nb = realloc(gm->buckets, (gm->n_buckets + 1) * sizeof(*nb));
		if (!nb) {
			ret = -ENOMEM;
			goto out;
		}
		gm->buckets = nb;
		memset(&nb[gm->n_buckets], 0, sizeof(nb[0]));
		gm->n_buckets++;
		ret = parse_bucket(p, &nb[gm->n_buckets - 1], err, errlen);
		if (ret)
			goto out;
		p = next ? next + 1 : NULL;
	}
	if (p && *p) {
		snprintf(err, errlen, "unexpected '%s'", p);
		ret = -EINVAL;
		goto out;
	}
	/* The checks the OpenFlow decoder makes on a GROUP_MOD. */
	for (size_t i = 0; need_buckets && i < gm->n_buckets; i++) {
		const struct ofa_bucket *b = &gm->buckets[i];

		if (gm->type != OFPGT_SELECT && b->weight) {
			snprintf(err, errlen, "bucket %zu: weight is for select groups", i + 1);
			ret = -EINVAL;
			goto out;
		}
		if (gm->type == OFPGT_SELECT && !b->weight)
			gm->buckets[i].weight = 1;
		if (gm->type == OFPGT_FF && b->watch_port == OFPP_ANY && b->watch_group == OFPG_ANY) {
			snprintf(err, errlen, "bucket %zu: fast_failover needs watch_port or "
				 "watch_group", i + 1);
			ret = -EINVAL;
			goto out;
		}
	}
	if (need_buckets && gm->type == OFPGT_INDIRECT && gm->n_buckets != 1) {
		snprintf(err, errlen, "an indirect group has exactly one bucket");
		ret = -EINVAL;
	}
out:
	free(s);
	return ret;
}

void sw_group_parse_fini(struct ofa_group_mod *gm)
{
	for (size_t i = 0; i < gm->n_buckets; i++)
		free(gm->buckets[i].actions.actions);
	free(gm->buckets);
	gm->buckets = NULL;
	gm->n_buckets = 0;
}

static int reply_group_err(struct vsl_rpc_call *call, int ret)
{
	char name[64];

	if (ofa_err_is_ofp(ret))
		vsl_rpc_reply_errno(call, -EINVAL, "%s", ofa_err_name(ret, name, sizeof(name)));
	else
		vsl_rpc_reply_errno(call, ret, "cannot change the group table");
	return 0;
}

struct group_params {
	const char *group;
};

static const struct vsl_rpc_param group_table[] = {
	VSL_RPC_PARAM("group", struct group_params, group, VSL_RPC_STRING, true),
};

static int group_call(struct vsl_rpc_call *call, struct json_object *params, uint16_t command)
{
	struct group_params gp = { NULL };
	struct ofa_group_mod gm;
	char err[256];
	int ret;

	if (vsl_rpc_decode(call, params, group_table, VSL_ARRAY_SIZE(group_table), &gp))
		return 0;
	if (!gp.group && command != OFPGC_DELETE) {
		vsl_rpc_reply_errno(call, -EINVAL, "missing 'group'");
		return 0;
	}
	ret = sw_group_parse(gp.group ? gp.group : "group_id=0xfffffffc", command != OFPGC_DELETE,
			  &gm, err, sizeof(err));
	if (ret) {
		sw_group_parse_fini(&gm);
		vsl_rpc_reply_errno(call, ret, "%s", err);
		return 0;
	}
	gm.command = command;
	ret = sw_group_mod(&gm);
	sw_group_parse_fini(&gm);
	if (ret)
		return reply_group_err(call, ret);
	vsl_rpc_reply(call, json_object_new_object());
	return 0;
}

static int rpc_add_group(struct vsl_rpc_call *call, struct json_object *params)
{
	return group_call(call, params, OFPGC_ADD);
}
VSL_RPC_REGISTER("add-group", rpc_add_group,
		 "add-group {group: \"group_id=1,type=all,bucket=output:1,bucket=output:2\"}")

static int rpc_mod_group(struct vsl_rpc_call *call, struct json_object *params)
{
	return group_call(call, params, OFPGC_MODIFY);
}
VSL_RPC_REGISTER("mod-group", rpc_mod_group, "mod-group {group: \"group_id=1,type=...\"}")

static int rpc_del_groups(struct vsl_rpc_call *call, struct json_object *params)
{
	return group_call(call, params, OFPGC_DELETE);
}
VSL_RPC_REGISTER("del-groups", rpc_del_groups,
		 "del-groups {group?: \"group_id=N\"}: delete a group (all without group) and "
		 "the flows that send to it")

/* The group in add-group syntax. */
static char *group_format(const struct sw_group *g, char *buf, size_t len)
{
	size_t off = 0;

	off += (size_t)snprintf(buf, len, "group_id=%u,type=%s", g->id,
				type_names[g->type < 4 ? g->type : 0]);
	for (unsigned i = 0; i < g->n_buckets && off < len; i++) {
		const struct sw_bucket *b = &g->buckets[i];
		struct sw_insts *in = calloc(1, sizeof(*in));
		char acts[1024];

		if (!in)
			break;
		in->n_apply = b->n_acts;
		memcpy(in->acts, b->acts, b->n_acts * sizeof(b->acts[0]));
		off += (size_t)snprintf(buf + off, len - off, ",bucket=");
		if (g->type == OFPGT_SELECT && off < len)
			off += (size_t)snprintf(buf + off, len - off, "weight:%u,", b->weight);
		if (b->watch_port != OFPP_ANY && off < len)
			off += (size_t)snprintf(buf + off, len - off, "watch_port:%u,", b->watch_port);
		if (b->watch_group != OFPG_ANY && off < len)
			off += (size_t)snprintf(buf + off, len - off, "watch_group:%u,", b->watch_group);
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "actions=%s",
						sw_insts_format(in, acts, sizeof(acts)));
		free(in);
	}
	return buf;
}

static int rpc_dump_groups(struct vsl_rpc_call *call, struct json_object *params)
{
	const struct sw_groups *gs = sw_dp.groups;
	struct json_object *arr;
	char buf[8192];

	if (vsl_rpc_decode(call, params, NULL, 0, NULL))
		return 0;
	arr = json_object_new_array();
	for (uint32_t i = 0; gs && i < gs->n; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "group_id", json_object_new_int64(gs->g[i]->id));
		json_object_object_add(o, "type", json_object_new_string(
			type_names[gs->g[i]->type < 4 ? gs->g[i]->type : 0]));
		json_object_object_add(o, "buckets", json_object_new_int(gs->g[i]->n_buckets));
		json_object_object_add(o, "group", json_object_new_string(
			group_format(gs->g[i], buf, sizeof(buf))));
		json_object_array_add(arr, o);
	}
	vsl_rpc_reply(call, arr);
	return 0;
}
VSL_RPC_REGISTER("dump-groups", rpc_dump_groups, "dump-groups: the group table (add-group syntax)")

/* Before the flows (30) that send to the groups; a chained group after the
 * group it sends to (retried until every group is in). */
static int write_groups(struct json_object *calls)
{
	const struct sw_groups *gs = sw_dp.groups;
	char buf[8192];
	bool *done;
	uint32_t left;

	if (!gs || !gs->n)
		return 0;
	done = calloc(gs->n, sizeof(*done));
	if (!done)
		return -ENOMEM;
	left = gs->n;
	while (left) {
		uint32_t before = left;

		for (uint32_t i = 0; i < gs->n; i++) {
			const struct sw_group *g = gs->g[i];
			bool ready = true;
			struct json_object *p;

			if (done[i])
				continue;
			for (unsigned b = 0; b < g->n_buckets; b++)
				for (unsigned a = 0; a < g->buckets[b].n_acts; a++)
					if (g->buckets[b].acts[a].type == SW_ACT_GROUP)
						for (uint32_t j = 0; j < gs->n; j++)
							if (gs->g[j]->id == g->buckets[b].acts[a].arg &&
							    !done[j])
								ready = false;
			if (!ready)
				continue;
			p = json_object_new_object();
			json_object_object_add(p, "group", json_object_new_string(
				group_format(g, buf, sizeof(buf))));
			vsl_config_add_call(calls, "add-group", p);
			done[i] = true;
			left--;
		}
		if (left == before)
			break;   /* cannot happen: loops are refused */
	}
	free(done);
	return 0;
}
VSL_CONFIG_WRITER("groups", 25, write_groups)
