/* sw_port_vhost.c — port type `vhost-user`: a guest's virtio-net.
 *
 * Split between the net_vhost PMD and rte_vhost (docs/vswitch.md says why;
 * the same holds for a `dpdk` port whose devargs name net_vhost):
 * the PMD owns the control side — the socket, client reconnects, multiqueue
 * negotiation, link state — and the PMDs move packets with
 * rte_vhost_dequeue_burst()/rte_vhost_enqueue_burst() on the device id
 * directly, skipping the ethdev wrapper's per-packet statistics loops and
 * one-by-one frees. The device id is published in port->vh_vid when the link
 * comes up and withdrawn when it goes down: net_vhost raises the link-state
 * event from inside its destroy_device callback, before rte_vhost frees the
 * device, and the withdrawal waits for an RCU grace period, so no PMD is
 * still inside a burst on that device when it goes away.
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
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eth_vhost.h>
#include <rte_vhost.h>
#include <rte_ethdev.h>

#include "sw_internal.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(port);

/* Serialises vid updates between the vhost events thread (link-state
 * callback) and the control thread (start, stop). */
static pthread_mutex_t vh_lock = PTHREAD_MUTEX_INITIALIZER;

/* Publishes the device id the link state says is attached (or -1). */
static void vhost_vid_update(struct sw_port *p, bool detach)
{
	struct rte_eth_link link = { 0 };
	int vid = -1, old;

	pthread_mutex_lock(&vh_lock);
	if (!detach && rte_eth_link_get_nowait(p->port_id, &link) == 0 && link.link_status)
		vid = rte_eth_vhost_get_vid_from_port_id(p->port_id);
	old = __atomic_load_n(&p->vh_vid, __ATOMIC_RELAXED);
	/* A different device: withdraw the old id and wait until no PMD uses
	 * it before the new device's queue-pair count is published, so that a
	 * PMD never pairs one device's id with another's count. */
	if (vid != old && old >= 0) {
		__atomic_store_n(&p->vh_vid, -1, __ATOMIC_RELEASE);
		sw_dp_sync();
	}
	/* Queue pairs only grow while a device stays attached (the front end
	 * enables more vrings); PMDs never touch a virtqueue past them. */
	if (vid >= 0)
		__atomic_store_n(&p->vh_pairs, (uint16_t)(rte_vhost_get_vring_num(vid) / 2),
				 __ATOMIC_RELEASE);
	if (vid != old) {
		__atomic_store_n(&p->vh_vid, vid < 0 ? -1 : vid, __ATOMIC_RELEASE);
		VSL_DBG("port %s: vhost device %d %s", p->name, vid < 0 ? old : vid,
			  vid < 0 ? "detached" : "attached");
	}
	pthread_mutex_unlock(&vh_lock);
}

static int vhost_lsc(uint16_t port_id, enum rte_eth_event_type ev, void *arg, void *ret_param)
{
	(void)port_id;
	(void)ev;
	(void)ret_param;
	vhost_vid_update(arg, false);
	return 0;
}

void sw_port_vhost_attach(struct sw_port *p)
{
	int ret = rte_eth_dev_callback_register(p->port_id, RTE_ETH_EVENT_INTR_LSC, vhost_lsc, p);

	if (!ret)
		ret = rte_eth_dev_callback_register(p->port_id, RTE_ETH_EVENT_QUEUE_STATE, vhost_lsc,
						    p);
	if (ret)
		VSL_ERR("port %s: link-state callback: %s (the port will not forward)", p->name,
			rte_strerror(-ret));
	vhost_vid_update(p, false);
}

void sw_port_vhost_detach(struct sw_port *p)
{
	int ret;

	/* -EAGAIN while the callback runs on the vhost thread: wait it out. */
	while ((ret = rte_eth_dev_callback_unregister(p->port_id, RTE_ETH_EVENT_INTR_LSC,
						      vhost_lsc, p)) == -EAGAIN)
		rte_delay_us_sleep(100);
	while ((ret = rte_eth_dev_callback_unregister(p->port_id, RTE_ETH_EVENT_QUEUE_STATE,
						      vhost_lsc, p)) == -EAGAIN)
		rte_delay_us_sleep(100);
	vhost_vid_update(p, true);
}

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
