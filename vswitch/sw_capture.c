/* sw_capture.c — `capture PORT FILE count=N`: packets a port receives and
 * sends, written as pcapng by the control thread.
 *
 * A PMD never blocks on a capture: it claims one of the `remaining` slots
 * (atomic), copies the packet into the capture pool and enqueues the copy on
 * a multi-producer ring; a full ring or an empty pool costs the copy, which is
 * counted as lost (per capture and per PMD) and the slot given back. The control
 * thread drains the ring every few milliseconds into the pcapng writer and
 * answers the (deferred) RPC when `count` packets are written or the duration
 * is over. The port's capture pointer reaches the PMDs through the view, so
 * ending a capture is: unpublish → grace period → drain → free.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include "sw_internal.h"
#include "vsl_daemon.h"
#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_pcapng.h"
#include "vsl_rpc.h"
#include "vsl_time.h"
#include "vsl_util.h"

VSL_LOG_MODULE(capture);

enum {
	SW_CAP_RING = 1024,
	SW_CAP_DRAIN_MS = 5,
	SW_CAP_MAX_COUNT = 1000000,
	SW_CAP_SNAPLEN = 65535,
};

struct sw_capture {
	struct sw_port *port;
	struct rte_ring *ring;
	uint32_t remaining;           /* atomic: copies still wanted */
	uint64_t lost;                /* atomic */
	uint32_t count;
	uint64_t written;
	uint64_t deadline_ms;
	uint64_t tsc0, wall0, hz;
	struct vsl_pcapng *w;
	int ifid;
	int error;
	char path[4096];
	struct vsl_rpc_call *call;
	struct vsl_timer *timer;
};

struct cap_meta {
	uint64_t tsc;
	uint64_t tx;
};

static struct cap_meta *cap_meta(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, sw_dp.mbuf_ts_offset, struct cap_meta *);
}

void sw_capture_packet(struct sw_pmd *pmd, const struct sw_vport *vp, struct rte_mbuf *m, bool tx)
{
	struct sw_capture *c = vp->capture;
	uint32_t r = __atomic_load_n(&c->remaining, __ATOMIC_RELAXED);
	struct rte_mbuf *copy;

	do {
		if (!r)
			return;
	} while (!__atomic_compare_exchange_n(&c->remaining, &r, r - 1, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	copy = rte_pktmbuf_copy(m, sw_dp.cap_pool, 0, SW_CAP_SNAPLEN);
	if (copy) {
		cap_meta(copy)->tsc = rte_rdtsc();
		cap_meta(copy)->tx = tx;
		if (rte_ring_mp_enqueue(c->ring, copy) == 0)
			return;
		rte_pktmbuf_free(copy);
	}
	__atomic_fetch_add(&c->remaining, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->lost, 1, __ATOMIC_RELAXED);
	pmd->stats.capture_lost++;
}

static void cap_drain(struct sw_capture *c)
{
	struct rte_mbuf *pkts[64];
	uint8_t buf[SW_CAP_SNAPLEN];
	unsigned n;

	while ((n = rte_ring_sc_dequeue_burst(c->ring, (void **)pkts, 64, NULL)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct rte_mbuf *m = pkts[i];
			const void *data = rte_pktmbuf_read(m, 0, m->pkt_len, buf);
			uint64_t dt = cap_meta(m)->tsc - c->tsc0;
			uint64_t ns = c->wall0 + dt / c->hz * 1000000000ull +
				      dt % c->hz * 1000000000ull / c->hz;

			if (!c->error && data && c->written < c->count) {
				int ret = vsl_pcapng_write(c->w, c->ifid, ns, data, m->pkt_len,
							   m->pkt_len);
				if (ret)
					c->error = ret;
				else
					c->written++;
			}
			rte_pktmbuf_free(m);
		}
	}
}

static void cap_finish(struct sw_capture *c)
{
	struct vsl_daemon *d = vsl_daemon_get();
	struct json_object *res;
	int ret;

	c->port->capture = NULL;
	while (sw_view_publish())
		sw_dp_sync();
	cap_drain(c);
	ret = vsl_pcapng_close(c->w);
	if (!c->error)
		c->error = ret;
	if (c->timer)
		vsl_timer_cancel(d->loop, c->timer);
	if (c->error) {
		vsl_rpc_reply_errno(c->call, c->error, "capture on %s: writing %s: %s", c->port->name,
				    c->path, strerror(-c->error));
	} else {
		res = json_object_new_object();
		json_object_object_add(res, "port", json_object_new_string(c->port->name));
		json_object_object_add(res, "path", json_object_new_string(c->path));
		json_object_object_add(res, "packets", json_object_new_int64((int64_t)c->written));
		json_object_object_add(res, "lost", json_object_new_int64(
			(int64_t)__atomic_load_n(&c->lost, __ATOMIC_RELAXED)));
		vsl_rpc_reply(c->call, res);
	}
	VSL_INFO("capture on %s: %llu packets to %s", c->port->name,
		 (unsigned long long)c->written, c->path);
	rte_ring_free(c->ring);
	free(c);
}

static void cap_timer_fn(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct sw_capture *c = arg;

	(void)loop;
	(void)t;
	cap_drain(c);
	if (c->error || c->written >= c->count || vsl_time_mono_ms() >= c->deadline_ms) {
		c->timer = NULL;   /* cancelled by cap_finish from its own callback */
		vsl_timer_cancel(loop, t);
		cap_finish(c);
	}
}

void sw_capture_stop_all(void)
{
	for (unsigned i = 0; i < SW_MAX_PORTS; i++)
		if (sw_dp.ports[i] && sw_dp.ports[i]->capture)
			cap_finish(sw_dp.ports[i]->capture);
}

struct capture_params {
	const char *port;
	const char *path;
	uint32_t count;
	uint32_t duration;
};

static int rpc_capture(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("port", struct capture_params, port, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("path", struct capture_params, path, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("count", struct capture_params, count, VSL_RPC_UINT32, true),
		VSL_RPC_PARAM("duration", struct capture_params, duration, VSL_RPC_UINT32, true),
	};
	struct capture_params cp = { .count = 100, .duration = 10 };
	struct vsl_daemon *d = vsl_daemon_get();
	struct sw_capture *c;
	struct sw_port *p;
	char ring_name[64];
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &cp))
		return 0;
	p = sw_port_find(cp.port);
	if (!p) {
		vsl_rpc_reply_errno(call, -ENOENT, "no port '%s'", cp.port);
		return 0;
	}
	if (cp.path[0] != '/') {
		vsl_rpc_reply_errno(call, -EINVAL, "path must be absolute");
		return 0;
	}
	if (!cp.count || cp.count > SW_CAP_MAX_COUNT || !cp.duration || cp.duration > 3600) {
		vsl_rpc_reply_errno(call, -EINVAL, "count must be 1-%d and duration 1-3600 s",
				    SW_CAP_MAX_COUNT);
		return 0;
	}
	if (p->capture) {
		vsl_rpc_reply_errno(call, -EBUSY, "port '%s' is already being captured", p->name);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->port = p;
	c->count = cp.count;
	c->remaining = cp.count;
	snprintf(c->path, sizeof(c->path), "%s", cp.path);
	snprintf(ring_name, sizeof(ring_name), "sw_cap_%u_%llu", p->ofport,
		 (unsigned long long)vsl_time_mono_ns());
	c->ring = rte_ring_create(ring_name, SW_CAP_RING, SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (!c->ring) {
		ret = -rte_errno;
		goto err_free;
	}
	c->w = vsl_pcapng_open(c->path, "Vessel vswitchd " VSL_VERSION);
	if (!c->w) {
		ret = vsl_neg_errno();
		vsl_rpc_reply_errno(call, ret, "cannot create %s: %s", c->path, strerror(-ret));
		ret = 0;
		goto err_ring;
	}
	c->ifid = vsl_pcapng_add_interface(c->w, p->name, SW_CAP_SNAPLEN);
	if (c->ifid < 0) {
		ret = c->ifid;
		goto err_pcap;
	}
	c->hz = rte_get_tsc_hz();
	c->tsc0 = rte_rdtsc();
	c->wall0 = vsl_time_wall_ns();
	c->deadline_ms = vsl_time_mono_ms() + cp.duration * 1000ull;
	c->timer = vsl_timer_add(d->loop, SW_CAP_DRAIN_MS, SW_CAP_DRAIN_MS, cap_timer_fn, c);
	if (!c->timer) {
		ret = vsl_neg_errno();
		goto err_pcap;
	}
	c->call = call;
	p->capture = c;
	ret = sw_view_publish();
	if (ret) {
		p->capture = NULL;
		vsl_timer_cancel(d->loop, c->timer);
		goto err_pcap;
	}
	vsl_rpc_defer(call);
	return 0;

err_pcap:
	vsl_pcapng_close(c->w);
	unlink(c->path);
err_ring:
	rte_ring_free(c->ring);
err_free:
	free(c);
	return ret;
}
VSL_RPC_REGISTER("capture", rpc_capture,
		 "capture {port, path, count?=100, duration?=10}: write what a port receives "
		 "and sends to a pcapng file; answers when done");
