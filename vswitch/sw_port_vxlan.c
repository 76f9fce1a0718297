/* sw_port_vxlan.c — port type `vxlan`: a VTEP as an OpenFlow port.
 *
 *   add-port vx0 type=vxlan local_ip=A underlay=PORT [remote_ip=B|flow] [vni=N|flow]
 *                [dst_port=4789] [ttl=64]
 *
 * A logical port: no ethdev. What the bridge or a flow sends to it is
 * encapsulated and queued on the underlay (a `dpdk` port); what the underlay
 * receives for local_ip is decapsulated and enters the pipeline from here
 * (sw_vxlan.c). The underlay must exist first and serves one vxlan port.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "sw_vxlan.h"

static int vxlan_prepare(struct sw_port *p, const struct sw_port_opts *o, char *err,
			 size_t errlen)
{
	struct sw_port *ul;
	struct sw_vtep *t;
	struct rte_ether_addr mac;
	uint16_t seg;
	int ret;

	if (o->devargs || o->path || o->vhost_mode || o->n_rxq) {
		snprintf(err, errlen, "type vxlan takes no devargs=, path=, vhost_mode= or n_rxq=");
		return -EINVAL;
	}
	if (o->tag != UINT32_MAX || o->trunks || o->vlan_mode || o->native_vlan >= 0 || o->mtu) {
		snprintf(err, errlen, "type vxlan carries VNIs, not VLANs: no tag=, trunks=, "
			 "vlan_mode=, native_vlan= or mtu= (the underlay's MTU minus %d applies)",
			 VX_OVERHEAD);
		return -EINVAL;
	}
	if (!o->local_ip || !o->underlay) {
		snprintf(err, errlen, "type vxlan needs local_ip=ADDRESS and underlay=PORT");
		return -EINVAL;
	}
	t = rte_zmalloc("sw_vtep", sizeof(*t), RTE_CACHE_LINE_SIZE);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (vx_ip_parse(o->local_ip, &t->local_ip) || !t->local_ip ||
	    (ntohl(t->local_ip) >> 28) >= 14) {
		snprintf(err, errlen, "local_ip '%s' is not a unicast IPv4 address", o->local_ip);
		ret = -EINVAL;
		goto err;
	}
	if (o->remote_ip && strcmp(o->remote_ip, "flow") &&
	    (vx_ip_parse(o->remote_ip, &t->remote_ip) || !t->remote_ip ||
	     (ntohl(t->remote_ip) >> 28) >= 14)) {
		snprintf(err, errlen, "remote_ip '%s' is neither a unicast IPv4 address nor 'flow'",
			 o->remote_ip);
		ret = -EINVAL;
		goto err;
	}
	if (o->dst_port > 65535) {
		snprintf(err, errlen, "dst_port %u out of range 1-65535", o->dst_port);
		ret = -EINVAL;
		goto err;
	}
	t->udp_port_h = (uint16_t)(o->dst_port ? o->dst_port : VX_UDP_PORT);
	t->udp_port = htons(t->udp_port_h);
	if (o->ttl > 255) {
		snprintf(err, errlen, "ttl %u out of range 1-255", o->ttl);
		ret = -EINVAL;
		goto err;
	}
	t->ttl = (uint8_t)(o->ttl ? o->ttl : VX_TTL_DEFAULT);
	if (o->vni >= 0) {
		if (o->vni > VX_VNI_MAX) {
			snprintf(err, errlen, "vni %lld out of range 0-%u", (long long)o->vni,
				 VX_VNI_MAX);
			ret = -EINVAL;
			goto err;
		}
		t->vni_fixed = true;
		t->vni = (uint32_t)o->vni;
		/* The port's VNI is a segment of the bridge from now on. */
		ret = sw_vx_vni_get(t->vni, true, &seg);
		if (ret) {
			snprintf(err, errlen, "vni %u: %s", t->vni,
				 ret == -ENOSPC ? "too many VNIs" : strerror(-ret));
			goto err;
		}
	}
	ul = sw_port_find(o->underlay);
	if (!ul || ul->ops != &sw_port_dpdk_ops) {
		snprintf(err, errlen, "underlay '%s' is not a port of type dpdk", o->underlay);
		ret = -EINVAL;
		goto err;
	}
	if (sw_vx_port_is_underlay(ul)) {
		snprintf(err, errlen, "port '%s' is already the underlay of a vxlan port",
			 o->underlay);
		ret = -EBUSY;
		goto err;
	}
	if (rte_eth_macaddr_get(ul->port_id, &mac)) {
		snprintf(err, errlen, "underlay '%s' has no MAC address", o->underlay);
		ret = -ENODEV;
		goto err;
	}
	memcpy(t->mac, mac.addr_bytes, 6);
	snprintf(t->underlay, sizeof(t->underlay), "%s", ul->name);
	t->underlay_ofport = ul->ofport;
	t->underlay_mtu = ul->mtu;
	t->ofport = p->ofport;
	snprintf(p->devargs, sizeof(p->devargs), "vxlan:%s", p->name);
	p->vtep = t;
	p->mtu = ul->mtu > VX_OVERHEAD ? ul->mtu - VX_OVERHEAD : 0;
	return 0;
err:
	rte_free(t);
	return ret;
}

static void vxlan_describe(const struct sw_port *p, struct json_object *o)
{
	const struct sw_vtep *t = p->vtep;
	char ip[16];

	json_object_object_add(o, "local_ip", json_object_new_string(vx_ip_format(t->local_ip,
										   ip)));
	json_object_object_add(o, "underlay", json_object_new_string(t->underlay));
	json_object_object_add(o, "remote_ip", json_object_new_string(
		t->remote_ip ? vx_ip_format(t->remote_ip, ip) : "flow"));
	if (t->vni_fixed)
		json_object_object_add(o, "vni", json_object_new_int64(t->vni));
	else
		json_object_object_add(o, "vni", json_object_new_string("flow"));
	json_object_object_add(o, "dst_port", json_object_new_int(t->udp_port_h));
	json_object_object_add(o, "ttl", json_object_new_int(t->ttl));
}

static void vxlan_destroy(struct sw_port *p)
{
	rte_free(p->vtep);
	p->vtep = NULL;
}

const struct sw_port_ops sw_port_vxlan_ops = {
	.type = "vxlan",
	.prepare = vxlan_prepare,
	.describe = vxlan_describe,
	.logical = true,
	.destroy = vxlan_destroy,
};
