/* sw_rpc_flow.c — JSON-RPC methods for the flow tables: add-flow, add-flows,
 * mod-flows, del-flows, dump-flows, dump-tables, and the save-config writer
 * that re-creates the flows. Control thread only. Flows are given in
 * ovs-ofctl syntax (sw_flow_parse.c); parse errors name the bad token.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>

#include "sw_flow.h"
#include "sw_internal.h"
#include "vsl_config.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

struct flow_params {
	const char *flow;
	struct json_object *flows;
	bool strict;
};

static const struct vsl_rpc_param flow_table[] = {
	VSL_RPC_PARAM("flow", struct flow_params, flow, VSL_RPC_STRING, true),
	VSL_RPC_PARAM("match", struct flow_params, flow, VSL_RPC_STRING, true),
	VSL_RPC_PARAM("strict", struct flow_params, strict, VSL_RPC_BOOL, true),
};

static int reply_commit(struct vsl_rpc_call *call, int count)
{
	struct json_object *res;
	int ret = sw_flow_commit();

	if (ret) {
		vsl_rpc_reply_errno(call, ret, "cannot publish the flow tables");
		return 0;
	}
	res = json_object_new_object();
	json_object_object_add(res, "flows", json_object_new_int(count));
	json_object_object_add(res, "total", json_object_new_int64(sw_flow_count(SW_TABLE_ALL)));
	vsl_rpc_reply(call, res);
	return 0;
}

/* Parses and applies one flow string; replies with the error and returns it. */
static int apply_one(struct vsl_rpc_call *call, const char *s, enum sw_flow_cmd cmd, int *count,
		     const char *prefix)
{
	struct sw_flow_mod *fm = malloc(sizeof(*fm));
	char err[256];
	int ret;

	if (!fm) {
		vsl_rpc_reply_errno(call, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	ret = sw_flow_parse(s, cmd, fm, err, sizeof(err));
	if (!ret) {
		ret = sw_flow_mod_exec(fm, err, sizeof(err));
		if (ret >= 0) {
			*count += ret;
			ret = 0;
		}
	}
	free(fm);
	if (ret) {
		/* Whatever was applied before stays; publish it. */
		sw_flow_commit();
		vsl_rpc_reply_errno(call, ret, "%s%s", prefix, err);
	}
	return ret;
}

static int rpc_add_flow(struct vsl_rpc_call *call, struct json_object *params)
{
	struct flow_params fp = { 0 };
	int count = 0;

	if (vsl_rpc_decode(call, params, flow_table, VSL_ARRAY_SIZE(flow_table), &fp))
		return 0;
	if (!fp.flow) {
		vsl_rpc_reply_errno(call, -EINVAL, "missing 'flow'");
		return 0;
	}
	if (apply_one(call, fp.flow, SW_FC_ADD, &count, ""))
		return 0;
	return reply_commit(call, count);
}
VSL_RPC_REGISTER("add-flow", rpc_add_flow,
		 "add-flow {flow: \"table=0,priority=100,in_port=1,actions=output:2\"} (ovs-ofctl syntax)")

static int rpc_add_flows(struct vsl_rpc_call *call, struct json_object *params)
{
	struct json_object *arr = NULL;
	int count = 0;

	if (!params || !json_object_object_get_ex(params, "flows", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		vsl_rpc_reply_errno(call, -EINVAL, "'flows' must be an array of strings");
		return 0;
	}
	/* All or what came before the first error; one publication either way. */
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		char prefix[32];

		if (!json_object_is_type(e, json_type_string)) {
			sw_flow_commit();
			vsl_rpc_reply_errno(call, -EINVAL, "flow %zu: not a string", i + 1);
			return 0;
		}
		snprintf(prefix, sizeof(prefix), "flow %zu: ", i + 1);
		if (apply_one(call, json_object_get_string(e), SW_FC_ADD, &count, prefix))
			return 0;
	}
	return reply_commit(call, count);
}
VSL_RPC_REGISTER("add-flows", rpc_add_flows, "add-flows {flows: [\"flow\", ...]}: one commit")

static int rpc_mod_flows(struct vsl_rpc_call *call, struct json_object *params)
{
	struct flow_params fp = { 0 };
	int count = 0;

	if (vsl_rpc_decode(call, params, flow_table, VSL_ARRAY_SIZE(flow_table), &fp))
		return 0;
	if (!fp.flow) {
		vsl_rpc_reply_errno(call, -EINVAL, "missing 'flow'");
		return 0;
	}
	if (apply_one(call, fp.flow, fp.strict ? SW_FC_MODIFY_STRICT : SW_FC_MODIFY, &count, ""))
		return 0;
	return reply_commit(call, count);
}
VSL_RPC_REGISTER("mod-flows", rpc_mod_flows,
		 "mod-flows {flow: \"match,actions=...\", strict?}: replace the actions")

static int rpc_del_flows(struct vsl_rpc_call *call, struct json_object *params)
{
	struct flow_params fp = { 0 };
	int count = 0;

	if (vsl_rpc_decode(call, params, flow_table, VSL_ARRAY_SIZE(flow_table), &fp))
		return 0;
	if (apply_one(call, fp.flow ? fp.flow : "",
		      fp.strict ? SW_FC_DELETE_STRICT : SW_FC_DELETE, &count, ""))
		return 0;
	return reply_commit(call, count);
}
VSL_RPC_REGISTER("del-flows", rpc_del_flows,
		 "del-flows {match?: \"...\", strict?}: delete matching flows (all without match)")

static void dump_one(const struct sw_flow *f, void *arg)
{
	struct json_object *arr = arg, *o = json_object_new_object();
	uint64_t p, b, hz = rte_get_tsc_hz();
	uint32_t used;
	char m[1024], a[2048];
	struct sw_flow_mod fm;

	sw_flow_stats_sum(f, &p, &b, &used);
	sw_flow_mod_init(&fm, SW_FC_ADD);
	fm.table_id = f->table_id;
	fm.priority = f->priority;
	fm.cookie = f->cookie;
	fm.idle_timeout = f->idle_timeout;
	fm.hard_timeout = f->hard_timeout;
	fm.match = f->match;
	memcpy(&fm.insts, f->insts, sw_insts_size(f->insts));
	json_object_object_add(o, "table", json_object_new_int(f->table_id));
	json_object_object_add(o, "priority", json_object_new_int(f->priority));
	json_object_object_add(o, "cookie", json_object_new_int64((int64_t)f->cookie));
	json_object_object_add(o, "duration", json_object_new_double(
		(double)(rte_rdtsc() - f->created_tsc) / (double)hz));
	json_object_object_add(o, "n_packets", json_object_new_int64((int64_t)p));
	json_object_object_add(o, "n_bytes", json_object_new_int64((int64_t)b));
	json_object_object_add(o, "idle_timeout", json_object_new_int(f->idle_timeout));
	json_object_object_add(o, "hard_timeout", json_object_new_int(f->hard_timeout));
	json_object_object_add(o, "idle_age", json_object_new_int64(
		used ? (int64_t)(sw_now_s() - used) : -1));
	json_object_object_add(o, "match", json_object_new_string(
		sw_match_format(&f->match, f->priority, m, sizeof(m))));
	json_object_object_add(o, "actions", json_object_new_string(
		sw_insts_format(f->insts, a, sizeof(a))));
	json_object_object_add(o, "flow", json_object_new_string(
		sw_flow_mod_format(&fm, a, sizeof(a))));
	json_object_array_add(arr, o);
}

static int rpc_dump_flows(struct vsl_rpc_call *call, struct json_object *params)
{
	struct flow_params fp = { 0 };
	struct sw_flow_mod *fm;
	struct json_object *arr;
	char err[256];
	int ret;

	if (vsl_rpc_decode(call, params, flow_table, VSL_ARRAY_SIZE(flow_table), &fp))
		return 0;
	fm = malloc(sizeof(*fm));
	if (!fm) {
		vsl_rpc_reply_errno(call, -ENOMEM, "out of memory");
		return 0;
	}
	ret = sw_flow_parse(fp.flow ? fp.flow : "",
			    fp.strict ? SW_FC_DELETE_STRICT : SW_FC_DELETE, fm, err, sizeof(err));
	if (ret) {
		free(fm);
		vsl_rpc_reply_errno(call, ret, "%s", err);
		return 0;
	}
	arr = json_object_new_array();
	sw_flow_foreach(fm, fp.strict, dump_one, arr);
	free(fm);
	vsl_rpc_reply(call, arr);
	return 0;
}
VSL_RPC_REGISTER("dump-flows", rpc_dump_flows,
		 "dump-flows {match?, strict?}: flows with counters, duration and cookies")

static int rpc_dump_tables(struct vsl_rpc_call *call, struct json_object *params)
{
	struct json_object *arr;

	if (vsl_rpc_decode(call, params, NULL, 0, NULL))
		return 0;
	arr = json_object_new_array();
	for (unsigned t = 0; t < SW_N_TABLES; t++) {
		struct json_object *o;
		uint64_t lookups = 0, matches = 0;

		for (unsigned i = 0; i < sw_dp.n_pmds; i++) {
			lookups += sw_dp.pmds[i]->tables[t].lookups;
			matches += sw_dp.pmds[i]->tables[t].matches;
		}
		if (!lookups && !sw_flow_count((uint8_t)t) && t)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "table", json_object_new_int((int)t));
		json_object_object_add(o, "active", json_object_new_int64(sw_flow_count((uint8_t)t)));
		json_object_object_add(o, "lookups", json_object_new_int64((int64_t)lookups));
		json_object_object_add(o, "matches", json_object_new_int64((int64_t)matches));
		json_object_array_add(arr, o);
	}
	vsl_rpc_reply(call, arr);
	return 0;
}
VSL_RPC_REGISTER("dump-tables", rpc_dump_tables,
		 "dump-tables: flows, lookups and matches per table (tables in use)")

static void save_one(const struct sw_flow *f, void *arg)
{
	struct json_object *arr = arg;
	struct sw_flow_mod fm;
	char buf[4096];

	sw_flow_mod_init(&fm, SW_FC_ADD);
	fm.table_id = f->table_id;
	fm.priority = f->priority;
	fm.cookie = f->cookie;
	fm.idle_timeout = f->idle_timeout;
	fm.hard_timeout = f->hard_timeout;
	fm.match = f->match;
	memcpy(&fm.insts, f->insts, sw_insts_size(f->insts));
	json_object_array_add(arr, json_object_new_string(sw_flow_mod_format(&fm, buf, sizeof(buf))));
}

static int write_flows(struct json_object *calls)
{
	struct json_object *p, *arr;
	struct sw_flow_mod sel;

	if (!sw_flow_count(SW_TABLE_ALL))
		return 0;
	sw_flow_mod_init(&sel, SW_FC_DELETE);
	sel.cookie_mask = 0;
	arr = json_object_new_array();
	sw_flow_foreach(&sel, false, save_one, arr);
	p = json_object_new_object();
	json_object_object_add(p, "flows", arr);
	return vsl_config_add_call(calls, "add-flows", p);
}
VSL_CONFIG_WRITER("flows", 30, write_flows)
