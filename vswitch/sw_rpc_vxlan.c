/* sw_rpc_vxlan.c — JSON-RPC methods for VTEPs (vtep-show, vtep-add-remote,
 * vtep-del-remote, vtep-add-neighbor, vtep-del-neighbor, vtep-bind-vlan,
 * vtep-unbind-vlan) and the save-config writer for remotes and static
 * neighbours. Control thread only. Parameters are documented in docs/vxlan.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_vlan_vni.h"
#include "sw_vxlan.h"
#include "vsl_config.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

struct remote_params {
	int64_t vni;
	const char *remote;
};

static int remote_decode(struct vsl_rpc_call *call, struct json_object *params,
			 struct remote_params *rp, uint32_t *ip)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("vni", struct remote_params, vni, VSL_RPC_INT64, false),
		VSL_RPC_PARAM("remote", struct remote_params, remote, VSL_RPC_STRING, false),
	};

	rp->vni = -1;
	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), rp))
		return -EINVAL;
	if (rp->vni < 0 || rp->vni > VX_VNI_MAX) {
		vsl_rpc_reply_errno(call, -EINVAL, "vni %lld out of range 0-%u", (long long)rp->vni,
				    VX_VNI_MAX);
		return -EINVAL;
	}
	if (vx_ip_parse(rp->remote, ip)) {
		vsl_rpc_reply_errno(call, -EINVAL, "remote '%s' is not an IPv4 address", rp->remote);
		return -EINVAL;
	}
	return 0;
}

static int rpc_vtep_add_remote(struct vsl_rpc_call *call, struct json_object *params)
{
	struct remote_params rp;
	char err[256] = "";
	uint32_t ip;
	int ret;

	if (remote_decode(call, params, &rp, &ip))
		return 0;
	ret = sw_vx_remote_add((uint32_t)rp.vni, ip, err, sizeof(err));
	if (ret)
		vsl_rpc_reply_errno(call, ret, "vtep-add-remote: %s", err);
	else
		vsl_rpc_reply(call, NULL);
	return 0;
}
VSL_RPC_REGISTER("vtep-add-remote", rpc_vtep_add_remote,
		 "vtep-add-remote {vni, remote}: a remote VTEP of the VNI (BUM traffic is "
		 "replicated to each)")

static int rpc_vtep_del_remote(struct vsl_rpc_call *call, struct json_object *params)
{
	struct remote_params rp;
	char err[256] = "";
	uint32_t ip;
	int ret;

	if (remote_decode(call, params, &rp, &ip))
		return 0;
	ret = sw_vx_remote_del((uint32_t)rp.vni, ip, err, sizeof(err));
	if (ret)
		vsl_rpc_reply_errno(call, ret, "vtep-del-remote: %s", err);
	else
		vsl_rpc_reply(call, NULL);
	return 0;
}
VSL_RPC_REGISTER("vtep-del-remote", rpc_vtep_del_remote,
		 "vtep-del-remote {vni, remote}: forget a remote VTEP of the VNI")

struct neigh_params {
	const char *ip;
	const char *mac;
};

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

static int rpc_vtep_add_neighbor(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("ip", struct neigh_params, ip, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("mac", struct neigh_params, mac, VSL_RPC_STRING, false),
	};
	struct neigh_params np = { 0 };
	char err[256] = "";
	uint8_t mac[6];
	uint32_t ip;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &np))
		return 0;
	if (vx_ip_parse(np.ip, &ip)) {
		vsl_rpc_reply_errno(call, -EINVAL, "ip '%s' is not an IPv4 address", np.ip);
		return 0;
	}
	if (parse_mac(np.mac, mac)) {
		vsl_rpc_reply_errno(call, -EINVAL, "mac '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)",
				    np.mac);
		return 0;
	}
	ret = sw_vx_neigh_add(ip, mac, err, sizeof(err));
	if (ret)
		vsl_rpc_reply_errno(call, ret, "vtep-add-neighbor: %s", err);
	else
		vsl_rpc_reply(call, NULL);
	return 0;
}
VSL_RPC_REGISTER("vtep-add-neighbor", rpc_vtep_add_neighbor,
		 "vtep-add-neighbor {ip, mac}: a static underlay neighbour (no ARP for it)")

static int rpc_vtep_del_neighbor(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("ip", struct neigh_params, ip, VSL_RPC_STRING, false),
	};
	struct neigh_params np = { 0 };
	uint32_t ip;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &np))
		return 0;
	if (vx_ip_parse(np.ip, &ip)) {
		vsl_rpc_reply_errno(call, -EINVAL, "ip '%s' is not an IPv4 address", np.ip);
		return 0;
	}
	if (sw_vx_neigh_del(ip))
		vsl_rpc_reply_errno(call, -ENOENT, "no neighbour %s", np.ip);
	else
		vsl_rpc_reply(call, NULL);
	return 0;
}
VSL_RPC_REGISTER("vtep-del-neighbor", rpc_vtep_del_neighbor,
		 "vtep-del-neighbor {ip}: forget an underlay neighbour (static or learned)")

static int rpc_vtep_show(struct vsl_rpc_call *call, struct json_object *params)
{
	if (vsl_rpc_decode(call, params, NULL, 0, NULL))
		return 0;
	vsl_rpc_reply(call, sw_vx_show_json());
	return 0;
}
VSL_RPC_REGISTER("vtep-show", rpc_vtep_show,
		 "vtep-show: VTEPs with counters and drops, VNIs with remotes, ports, learned "
		 "MACs and counters, remote VTEPs with counters, underlay neighbours")

/* After the ports (20): remotes and neighbours need no port, but a reader
 * of the file expects them after the VTEPs. */
VSL_CONFIG_WRITER("vxlan", 25, sw_vx_config_write)

/* vtep-bind-vlan / vtep-unbind-vlan: one binding of a trunk's VLAN to a VNI
 * added or removed, as vtep-ctl's bind-ls/unbind-ls do; both are set-port
 * vlan_vni= with the port's list changed by one (and are saved that way). */
struct bind_params {
	const char *port;
	int64_t vlan, vni;
};

static int bind_change(struct vsl_rpc_call *call, struct json_object *params, bool bind)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("port", struct bind_params, port, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("vlan", struct bind_params, vlan, VSL_RPC_INT64, false),
		VSL_RPC_PARAM("vni", struct bind_params, vni, VSL_RPC_INT64, true),
	};
	const char *method = bind ? "vtep-bind-vlan" : "vtep-unbind-vlan";
	struct bind_params bp = { .vlan = -1, .vni = -1 };
	struct sw_port_opts o;
	struct sw_vv_list *l = NULL;
	struct sw_port *p;
	char err[512] = "", *text = NULL;
	unsigned i;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &bp))
		return 0;
	p = sw_port_find(bp.port);
	if (!p) {
		vsl_rpc_reply_errno(call, -ENOENT, "%s: no port '%s'", method, bp.port);
		return 0;
	}
	if (bp.vlan < 1 || bp.vlan > SW_VLAN_MAX) {
		vsl_rpc_reply_errno(call, -EINVAL, "%s: vlan %lld is not 1-4095", method,
				    (long long)bp.vlan);
		return 0;
	}
	if (bind && (bp.vni < 1 || bp.vni > VX_VNI_MAX)) {
		vsl_rpc_reply_errno(call, -EINVAL, "%s: vni %lld is not 1-16777215", method,
				    (long long)bp.vni);
		return 0;
	}
	l = malloc(sizeof(*l));
	text = malloc(SW_VV_TEXT_MAX);
	if (!l || !text) {
		vsl_rpc_reply_errno(call, -ENOMEM, NULL);
		goto out;
	}
	sw_vv_map_list(p->cfg.vv, l);
	for (i = 0; i < l->n && l->b[i].vlan != bp.vlan; i++)
		;
	if (bind) {
		if (i < l->n) {
			vsl_rpc_reply_errno(call, -EEXIST, "%s: VLAN %lld of port '%s' is already "
					    "bound to VNI %u", method, (long long)bp.vlan, p->name,
					    l->b[i].vni);
			goto out;
		}
		for (i = 0; i < l->n; i++) {
			if (l->b[i].vni == bp.vni) {
				vsl_rpc_reply_errno(call, -EEXIST, "%s: VNI %lld is already bound "
						    "to VLAN %u of port '%s'", method,
						    (long long)bp.vni, l->b[i].vlan, p->name);
				goto out;
			}
		}
		if (l->n == SW_VV_MAX) {
			vsl_rpc_reply_errno(call, -ENOSPC, "%s: port '%s' has the maximum of %d "
					    "bindings", method, p->name, SW_VV_MAX);
			goto out;
		}
		l->b[l->n++] = (struct sw_vv_binding){ .vlan = (uint16_t)bp.vlan,
						       .vni = (uint32_t)bp.vni };
	} else {
		if (i == l->n) {
			vsl_rpc_reply_errno(call, -ENOENT, "%s: VLAN %lld of port '%s' is not bound "
					    "to a VNI", method, (long long)bp.vlan, p->name);
			goto out;
		}
		l->b[i] = l->b[--l->n];
	}
	/* Any order will do: the parser sorts it again. */
	sw_vv_format(l, text, SW_VV_TEXT_MAX);
	memset(&o, 0, sizeof(o));
	o.name = p->name;
	o.tag = UINT32_MAX;
	o.native_vlan = -1;
	o.mac_limit = -1;
	o.vni = -1;
	o.vlan_vni = text;
	ret = sw_port_set(p, &o, err, sizeof(err));
	if (ret)
		vsl_rpc_reply_errno(call, ret, "%s: port '%s': %s", method, p->name, err);
	else
		vsl_rpc_reply(call, sw_port_to_json(p, true));
out:
	free(l);
	free(text);
	return 0;
}

static int rpc_vtep_bind_vlan(struct vsl_rpc_call *call, struct json_object *params)
{
	return bind_change(call, params, true);
}
VSL_RPC_REGISTER("vtep-bind-vlan", rpc_vtep_bind_vlan,
		 "vtep-bind-vlan {port, vlan, vni}: VLAN of trunk port joins the VNI (tag stripped "
		 "before encap, pushed after decap); same as adding VLAN:VNI to its vlan_vni")

static int rpc_vtep_unbind_vlan(struct vsl_rpc_call *call, struct json_object *params)
{
	return bind_change(call, params, false);
}
VSL_RPC_REGISTER("vtep-unbind-vlan", rpc_vtep_unbind_vlan,
		 "vtep-unbind-vlan {port, vlan}: the trunk's VLAN leaves its VNI")
