/* sw_rpc_port.c — JSON-RPC methods for ports (add-port, del-port, set-port,
 * show, dump-ports) and the save-config writer that re-creates them.
 * Control thread only. Parameters are documented in docs/vswitch.md.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_lcore.h>

#include "sw_fdb.h"
#include "sw_flow.h"
#include "sw_internal.h"
#include "vsl_config.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

#define PP(NAME, FIELD, TYPE) VSL_RPC_PARAM(NAME, struct sw_port_opts, FIELD, TYPE, true)

static const struct vsl_rpc_param port_table[] = {
	VSL_RPC_PARAM("name", struct sw_port_opts, name, VSL_RPC_STRING, false),
	PP("type", type, VSL_RPC_STRING),
	PP("devargs", devargs, VSL_RPC_STRING),
	PP("path", path, VSL_RPC_STRING),
	PP("vhost_mode", vhost_mode, VSL_RPC_STRING),
	PP("n_rxq", n_rxq, VSL_RPC_UINT32),
	PP("ofport", ofport, VSL_RPC_UINT32),
	PP("tag", tag, VSL_RPC_UINT32),
	PP("vlan_mode", vlan_mode, VSL_RPC_STRING),
	PP("native_vlan", native_vlan, VSL_RPC_INT64),
	PP("mtu", mtu, VSL_RPC_UINT32),
	PP("admin", admin, VSL_RPC_STRING),
	PP("mac_limit", mac_limit, VSL_RPC_INT64),
	PP("local_ip", local_ip, VSL_RPC_STRING),
	PP("underlay", underlay, VSL_RPC_STRING),
	PP("remote_ip", remote_ip, VSL_RPC_STRING),
	PP("dst_port", dst_port, VSL_RPC_UINT32),
	PP("ttl", ttl, VSL_RPC_UINT32),
};

/* Decodes add-port/set-port params. `trunks` is taken out first because it
 * may be a string ("10,20"), a number (10, as the CLI's key=value gives a lone
 * VLAN) or an array of numbers. Returns 0, or -EINVAL after replying. */
static int port_opts_decode(struct vsl_rpc_call *call, struct json_object *params,
			    struct sw_port_opts *o, char *trunks, size_t tlen)
{
	struct json_object *rest, *t = NULL, *vni = NULL, *vv = NULL;
	int ret;

	memset(o, 0, sizeof(*o));
	o->tag = UINT32_MAX;
	o->native_vlan = -1;
	o->mac_limit = -1;
	o->vni = -1;
	if (params && !json_object_is_type(params, json_type_object)) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "params must be an object");
		return -EINVAL;
	}
	rest = json_object_new_object();
	if (params) {
		json_object_object_foreach(params, k, v) {
			if (!strcmp(k, "trunks"))
				t = v;
			else if (!strcmp(k, "vni"))
				vni = v;
			else if (!strcmp(k, "vlan_vni"))
				vv = v;
			else
				json_object_object_add(rest, k, json_object_get(v));
		}
	}
	/* The members of `rest` are shared with params, which outlives this call,
	 * so the strings decoded into o stay valid after rest is put. */
	ret = vsl_rpc_decode(call, rest, port_table, VSL_ARRAY_SIZE(port_table), o);
	json_object_put(rest);
	if (ret)
		return ret;
	/* vni: a number, or "flow" (a vxlan port taking the VNI from tunnel_id). */
	if (vni) {
		if (json_object_is_type(vni, json_type_int) && json_object_get_int64(vni) >= 0 &&
		    json_object_get_int64(vni) <= 0xffffff) {
			o->vni = json_object_get_int64(vni);
		} else if (json_object_is_type(vni, json_type_string) &&
			   !strcmp(json_object_get_string(vni), "flow")) {
			o->vni = -2;
		} else {
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
					    "'vni' must be a VXLAN network identifier 0-16777215 "
					    "or \"flow\"");
			return -EINVAL;
		}
	}
	/* vlan_vni: "VLAN:VNI,..." (params outlive the call, so the string does). */
	if (vv) {
		if (!json_object_is_type(vv, json_type_string)) {
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
					    "'vlan_vni' must be a string of VLAN:VNI bindings "
					    "(\"100:5000,200:6000\"; \"\" clears them), not %s",
					    json_object_to_json_string(vv));
			return -EINVAL;
		}
		o->vlan_vni = json_object_get_string(vv);
	}
	if (!t)
		return 0;
	if (json_object_is_type(t, json_type_string)) {
		snprintf(trunks, tlen, "%s", json_object_get_string(t));
	} else if (json_object_is_type(t, json_type_int)) {
		snprintf(trunks, tlen, "%lld", (long long)json_object_get_int64(t));
	} else if (json_object_is_type(t, json_type_array)) {
		size_t n = 0;

		trunks[0] = '\0';
		for (size_t i = 0; i < json_object_array_length(t); i++) {
			struct json_object *e = json_object_array_get_idx(t, i);

			if (!json_object_is_type(e, json_type_int))
				goto bad;
			n += (size_t)snprintf(trunks + n, n < tlen ? tlen - n : 0, "%s%lld",
					      i ? "," : "", (long long)json_object_get_int64(e));
			if (n >= tlen)
				goto bad;
		}
	} else {
		goto bad;
	}
	o->trunks = trunks;
	return 0;
bad:
	vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
			    "'trunks' must be a VLAN list string (\"10,20,30-40\"), a number or "
			    "an array of numbers");
	return -EINVAL;
}

static int rpc_add_port(struct vsl_rpc_call *call, struct json_object *params)
{
	struct sw_port_opts o;
	char trunks[4096], err[512] = "";
	int ret;

	if (port_opts_decode(call, params, &o, trunks, sizeof(trunks)))
		return 0;
	if (!o.type) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "missing member 'type'");
		return 0;
	}
	ret = sw_port_add(&o, err, sizeof(err));
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "add-port %s: %s", o.name, err);
		return 0;
	}
	vsl_rpc_reply(call, sw_port_to_json(sw_port_find(o.name), true));
	return 0;
}
VSL_RPC_REGISTER("add-port", rpc_add_port,
		 "add-port {name, type: dpdk|vhost-user|internal|vxlan, devargs|path, ofport?, tag?, "
		 "trunks?, vlan_mode?, native_vlan?, vlan_vni?, mtu?, n_rxq?, admin?, mac_limit?, vni?; "
		 "vxlan: local_ip, underlay, remote_ip?, vni?, dst_port?, ttl?}")

static int rpc_del_port(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct sw_port_opts, name, VSL_RPC_STRING, false),
	};
	struct sw_port_opts o = { 0 };
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &o))
		return 0;
	ret = sw_port_del(o.name);
	if (ret == -ENOENT)
		vsl_rpc_reply_errno(call, ret, "no port '%s'", o.name);
	else if (ret == -EBUSY)
		vsl_rpc_reply_errno(call, ret, "port '%s' is being captured or is the underlay of "
				    "a vxlan port", o.name);
	else if (ret)
		vsl_rpc_reply_errno(call, ret, NULL);
	return 0;
}
VSL_RPC_REGISTER("del-port", rpc_del_port, "del-port {name}: remove a port at run time")

static int rpc_set_port(struct vsl_rpc_call *call, struct json_object *params)
{
	struct sw_port_opts o;
	struct sw_port *p;
	char trunks[4096], err[512] = "";
	int ret;

	if (port_opts_decode(call, params, &o, trunks, sizeof(trunks)))
		return 0;
	p = sw_port_find(o.name);
	if (!p) {
		vsl_rpc_reply_errno(call, -ENOENT, "no port '%s'", o.name);
		return 0;
	}
	if (o.type || o.devargs || o.path || o.vhost_mode || o.n_rxq || o.ofport || o.local_ip ||
	    o.underlay || o.remote_ip || o.dst_port || o.ttl) {
		vsl_rpc_reply_errno(call, -EINVAL, "set-port %s: type, devargs, path, vhost_mode, "
				    "n_rxq, ofport and the vxlan options are fixed when the port is "
				    "added", o.name);
		return 0;
	}
	ret = sw_port_set(p, &o, err, sizeof(err));
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "set-port %s: %s", o.name, err);
		return 0;
	}
	vsl_rpc_reply(call, sw_port_to_json(p, true));
	return 0;
}
VSL_RPC_REGISTER("set-port", rpc_set_port,
		 "set-port {name, tag?, trunks?, vlan_mode?, native_vlan?, vlan_vni?, mtu?, admin?, "
		 "mac_limit?, vni?}: change a port at run time")

/* Ports in OpenFlow port order. */
static struct json_object *ports_json(const char *only)
{
	struct json_object *arr = json_object_new_array();

	for (uint16_t of = 1; of <= SW_OFPORT_MAX; of++) {
		struct sw_port *p = sw_port_find_ofport(of);

		if (p && (!only || !strcmp(only, p->name)))
			json_object_array_add(arr, sw_port_to_json(p, false));
	}
	return arr;
}

struct name_param {
	const char *name;
};

static int rpc_dump_ports(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct name_param, name, VSL_RPC_STRING, true),
	};
	struct name_param np = { NULL };

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &np))
		return 0;
	if (np.name && !sw_port_find(np.name)) {
		vsl_rpc_reply_errno(call, -ENOENT, "no port '%s'", np.name);
		return 0;
	}
	vsl_rpc_reply(call, ports_json(np.name));
	return 0;
}
VSL_RPC_REGISTER("dump-ports", rpc_dump_ports,
		 "dump-ports {name?}: ports with link state and counters (drops by reason)")

static int rpc_show(struct vsl_rpc_call *call, struct json_object *params)
{
	struct json_object *res, *br;
	struct sw_fdb_stats fs;

	if (vsl_rpc_decode(call, params, NULL, 0, NULL))
		return 0;
	res = json_object_new_object();
	br = json_object_new_object();
	sw_fdb_get_stats(sw_dp.fdb, &fs);
	json_object_object_add(br, "fail_mode", json_object_new_string(
		__atomic_load_n(&sw_dp.fail_secure, __ATOMIC_RELAXED) ? "secure" : "standalone"));
	json_object_object_add(br, "flows", json_object_new_int64(sw_flow_count(SW_TABLE_ALL)));
	json_object_object_add(br, "ageing", json_object_new_int64(sw_dp.ageing_s));
	json_object_object_add(br, "mac_limit", json_object_new_int64(sw_dp.default_mac_limit));
	json_object_object_add(br, "pmd_sleep_max_us", json_object_new_int64(
		__atomic_load_n(&sw_dp.sleep_max_us, __ATOMIC_RELAXED)));
	json_object_object_add(br, "fdb_entries", json_object_new_int64(fs.entries));
	json_object_object_add(br, "fdb_capacity", json_object_new_int64(SW_FDB_DEFAULT_CAPACITY));
	json_object_object_add(br, "fdb_learned", json_object_new_int64((int64_t)fs.learned));
	json_object_object_add(br, "fdb_moved", json_object_new_int64((int64_t)fs.moved));
	json_object_object_add(br, "fdb_aged", json_object_new_int64((int64_t)fs.aged));
	json_object_object_add(br, "fdb_full", json_object_new_int64((int64_t)fs.full));
	json_object_object_add(br, "pmds", json_object_new_int64(sw_dp.n_pmds));
	json_object_object_add(br, "table_limit", json_object_new_int64(sw_dp.table_limit));
	json_object_object_add(br, "groups", json_object_new_int64(sw_group_count()));
	json_object_object_add(br, "fail_mode_active", json_object_new_boolean(
		__atomic_load_n(&sw_dp.flows_bypass, __ATOMIC_RELAXED)));
	json_object_object_add(res, "bridge", br);
	json_object_object_add(res, "controllers", sw_ofa_show_json());
	json_object_object_add(res, "ports", ports_json(NULL));
	vsl_rpc_reply(call, res);
	return 0;
}
VSL_RPC_REGISTER("show", rpc_show, "show: the bridge, its settings and its ports")

/* save-config: one add-port per port, in OpenFlow port order, after the bridge
 * settings (order 10) so that a port's default MAC limit is right. */
static int write_ports(struct json_object *calls)
{
	for (uint16_t of = 1; of <= SW_OFPORT_MAX; of++) {
		struct sw_port *p = sw_port_find_ofport(of);
		int ret;

		if (!p)
			continue;
		ret = vsl_config_add_call(calls, "add-port", sw_port_to_json(p, true));
		if (ret)
			return ret;
	}
	return 0;
}
VSL_CONFIG_WRITER("ports", 20, write_ports)
