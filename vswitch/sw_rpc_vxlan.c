/* sw_rpc_vxlan.c — JSON-RPC methods for VTEPs (vtep-show, vtep-add-remote,
 * vtep-del-remote, vtep-add-neighbor, vtep-del-neighbor) and the save-config
 * writer for remotes and static neighbours. Control thread only. Parameters
 * are documented in docs/vxlan.md.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
