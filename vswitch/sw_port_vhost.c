/* sw_port_vhost.c — port type `vhost-user`: a guest's virtio-net through the
 * DPDK net_vhost PMD (see docs/vswitch.md for why the PMD and not rte_vhost).
 *
 *   path=/run/vessel/vh0.sock     the vhost-user socket
 *   vhost_mode=client (default)   vswitchd connects to the socket QEMU (or a
 *                                 virtio_user front end) listens on, and keeps
 *                                 reconnecting: the guest survives a switch restart
 *   vhost_mode=server             vswitchd creates the socket and listens
 *   n_rxq=N                       queue pairs offered to the guest (multiqueue)
 *
 * Link state follows the front end (the PMD raises link up/down when the
 * virtio device starts and stops).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sw_internal.h"
#include "vsl_util.h"

static int vhost_prepare(struct sw_port *p, const struct sw_port_opts *o, char *err, size_t errlen)
{
	unsigned queues;
	int n;

	if (!o->path || o->path[0] != '/') {
		snprintf(err, errlen, "type vhost-user needs path= (an absolute socket path)");
		return -EINVAL;
	}
	if (strlen(o->path) >= sizeof(p->path) || strchr(o->path, ',')) {
		snprintf(err, errlen, "path must be shorter than %zu bytes and have no comma",
			 sizeof(p->path));
		return -EINVAL;
	}
	if (o->devargs) {
		snprintf(err, errlen, "devargs= belongs to type dpdk");
		return -EINVAL;
	}
	if (o->vhost_mode && strcmp(o->vhost_mode, "client") && strcmp(o->vhost_mode, "server")) {
		snprintf(err, errlen, "vhost_mode must be client or server, not '%s'", o->vhost_mode);
		return -EINVAL;
	}
	p->vhost_server = o->vhost_mode && !strcmp(o->vhost_mode, "server");
	snprintf(p->path, sizeof(p->path), "%s", o->path);
	/* One tx queue per PMD plus the rx queues asked for: the PMD's queue
	 * pairs are the larger of the two. */
	queues = VSL_MAX(o->n_rxq ? o->n_rxq : 1u, VSL_MAX(sw_dp.n_pmds, 1u));
	n = snprintf(p->devargs, sizeof(p->devargs), "net_vhost_%s,iface=%s,queues=%u,client=%d",
		     p->name, p->path, queues, p->vhost_server ? 0 : 1);
	if (n < 0 || (size_t)n >= sizeof(p->devargs)) {
		snprintf(err, errlen, "device arguments too long");
		return -EINVAL;
	}
	return 0;
}

static void vhost_describe(const struct sw_port *p, struct json_object *o)
{
	json_object_object_add(o, "path", json_object_new_string(p->path));
	if (p->vhost_server)
		json_object_object_add(o, "vhost_mode", json_object_new_string("server"));
}

const struct sw_port_ops sw_port_vhost_ops = {
	.type = "vhost-user",
	.prepare = vhost_prepare,
	.describe = vhost_describe,
};
