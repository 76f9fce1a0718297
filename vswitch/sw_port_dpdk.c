/* sw_port_dpdk.c — port type `dpdk`: any ethdev named by DPDK device arguments.
 *
 *   devargs=0000:00:04.0                       a NIC or SR-IOV VF bound to vfio-pci
 *                                              (vswitchd must run with -a for it)
 *   devargs=net_af_packet0,iface=veth0         a kernel interface through AF_PACKET
 *   devargs=net_tap0,iface=tap0 / net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap / net_ring0
 *
 * The devargs are passed to rte_dev_probe() unchanged; the first ethdev the
 * device creates becomes the port.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sw_internal.h"

static int dpdk_prepare(struct sw_port *p, const struct sw_port_opts *o, char *err, size_t errlen)
{
	if (!o->devargs || !o->devargs[0]) {
		snprintf(err, errlen, "type dpdk needs devargs= (a PCI address or a vdev such as "
			 "net_af_packet0,iface=veth0)");
		return -EINVAL;
	}
	if (o->path || o->vhost_mode) {
		snprintf(err, errlen, "path= and vhost_mode= belong to type vhost-user");
		return -EINVAL;
	}
	if (strlen(o->devargs) >= sizeof(p->devargs)) {
		snprintf(err, errlen, "devargs longer than %zu bytes", sizeof(p->devargs) - 1);
		return -EINVAL;
	}
	snprintf(p->devargs, sizeof(p->devargs), "%s", o->devargs);
	return 0;
}

static void dpdk_describe(const struct sw_port *p, struct json_object *o)
{
	json_object_object_add(o, "devargs", json_object_new_string(p->devargs));
}

const struct sw_port_ops sw_port_dpdk_ops = {
	.type = "dpdk",
	.prepare = dpdk_prepare,
	.describe = dpdk_describe,
};
