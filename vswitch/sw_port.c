/* sw_port.c — the port registry: add/remove/reconfigure ports at run time,
 * bring their ethdevs up and down, and publish what the PMDs see (the view).
 *
 * Everything here runs on the control thread. A port type (sw_port_<type>.c)
 * only turns its options into devargs; the ethdev life cycle is common.
 * Ordering on removal: unpublish (new view without the port) → grace period →
 * stop/close the device → free. On add: start the device → publish.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "sw_fdb.h"
#include "sw_internal.h"
#include "sw_vlan_vni.h"
#include "sw_vxlan.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(port);

static const char *const drop_names[SW_DROP_N] = {
	[SW_DROP_MALFORMED] = "malformed",
	[SW_DROP_VLAN] = "vlan",
	[SW_DROP_SRC_MAC] = "src_mac",
	[SW_DROP_MAC_LIMIT] = "mac_limit",
	[SW_DROP_HAIRPIN] = "hairpin",
	[SW_DROP_ADMIN_DOWN] = "admin_down",
	[SW_DROP_VLAN_EGRESS] = "vlan_egress",
	[SW_DROP_TX_FULL] = "tx_full",
	[SW_DROP_NOMEM] = "nomem",
	[SW_DROP_TABLE_MISS] = "table_miss",
	[SW_DROP_FLOW] = "flow",
};

const char *sw_drop_reason_name(enum sw_drop_reason r)
{
	return r < SW_DROP_N ? drop_names[r] : "?";
}

static const char *const mode_names[] = {
	[SW_VLAN_TRUNK] = "trunk",
	[SW_VLAN_ACCESS] = "access",
	[SW_VLAN_NATIVE_TAGGED] = "native-tagged",
	[SW_VLAN_NATIVE_UNTAGGED] = "native-untagged",
};

const char *sw_vlan_mode_name(enum sw_vlan_mode m)
{
	return (unsigned)m < VSL_ARRAY_SIZE(mode_names) ? mode_names[m] : "?";
}

int sw_vlan_mode_parse(const char *s, enum sw_vlan_mode *m)
{
	for (unsigned i = 0; i < VSL_ARRAY_SIZE(mode_names); i++) {
		if (!strcmp(s, mode_names[i])) {
			*m = (enum sw_vlan_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

static inline void bit_set(uint64_t *bm, unsigned b)
{
	bm[b / 64] |= 1ull << (b % 64);
}

static inline bool bit_test(const uint64_t *bm, unsigned b)
{
	return bm[b / 64] >> (b % 64) & 1;
}

int sw_vlan_list_parse(const char *s, uint64_t *bitmap, char *err, size_t errlen)
{
	const char *p = s;

	memset(bitmap, 0, (SW_VLAN_MAX + 1) / 8);
	while (*p) {
		char *end;
		unsigned long lo, hi;

		lo = strtoul(p, &end, 10);
		if (end == p || lo > SW_VLAN_MAX)
			goto bad;
		hi = lo;
		if (*end == '-') {
			p = end + 1;
			hi = strtoul(p, &end, 10);
			if (end == p || hi > SW_VLAN_MAX || hi < lo)
				goto bad;
		}
		for (unsigned long v = lo; v <= hi; v++)
			bit_set(bitmap, (unsigned)v);
		if (*end == ',')
			end++;
		else if (*end)
			goto bad;
		p = end;
	}
	return 0;
bad:
	snprintf(err, errlen, "bad VLAN list '%s' (expected e.g. 10,20,30-40 within 0-4095)", s);
	return -EINVAL;
}

/* Formats a bitmap as "10,20,30-40". */
static void vlan_list_format(const uint64_t *bm, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned v = 0; v <= SW_VLAN_MAX && n < len; v++) {
		unsigned end = v;

		if (!bit_test(bm, v))
			continue;
		while (end < SW_VLAN_MAX && bit_test(bm, end + 1))
			end++;
		n += (size_t)snprintf(buf + n, len - n, end > v ? "%s%u-%u" : "%s%u", n ? "," : "",
				      v, end);
		v = end;
	}
}

bool sw_port_carries_vlan(const struct sw_port_cfg *c, uint16_t vid)
{
	/* VXLAN segments (sw_vxlan.h) live above 4095: an access port bound
	 * to the VNI carries one, and a trunk with a VLAN bound to it. */
	if (vid > SW_VLAN_MAX)
		return c->vlan_mode == SW_VLAN_ACCESS ? c->tag == vid
						      : c->vv && sw_vv_slot_by_seg(c->vv, vid) >= 0;
	switch (c->vlan_mode) {
	case SW_VLAN_ACCESS:
		return vid == c->tag;
	case SW_VLAN_NATIVE_TAGGED:
	case SW_VLAN_NATIVE_UNTAGGED:
		if (vid == c->native_vlan)
			return true;
		/* fall through */
	case SW_VLAN_TRUNK:
	default:
		return c->trunks_all || bit_test(c->trunks, vid);
	}
}

struct sw_port *sw_port_find(const char *name)
{
	for (unsigned i = 0; i < SW_MAX_PORTS; i++)
		if (sw_dp.ports[i] && !strcmp(sw_dp.ports[i]->name, name))
			return sw_dp.ports[i];
	return NULL;
}

struct sw_port *sw_port_find_ofport(uint16_t ofport)
{
	for (unsigned i = 0; i < SW_MAX_PORTS; i++)
		if (sw_dp.ports[i] && sw_dp.ports[i]->ofport == ofport)
			return sw_dp.ports[i];
	return NULL;
}

static const struct sw_port_ops *port_type_find(const char *type)
{
	static const struct sw_port_ops *const types[] = {
		&sw_port_dpdk_ops, &sw_port_vhost_ops, &sw_port_internal_ops, &sw_port_vxlan_ops,
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(types[i]->type, type))
			return types[i];
	return NULL;
}

/* ------------------------------------------------------------------ view */

void sw_dp_sync(void)
{
	if (sw_dp.qsbr && sw_dp.n_pmds)
		rte_rcu_qsbr_synchronize(sw_dp.qsbr, RTE_QSBR_THRID_INVALID);
}

int sw_view_publish(void)
{
	struct sw_view *v, *old;
	unsigned rr = 0;

	v = rte_zmalloc("sw_view", sizeof(*v), RTE_CACHE_LINE_SIZE);
	if (!v)
		return -ENOMEM;
	memset(v->vidx_by_ofport, SW_VIDX_NONE, sizeof(v->vidx_by_ofport));
	for (unsigned i = 0; i < SW_MAX_PORTS; i++) {
		struct sw_port *p = sw_dp.ports[i];
		struct sw_vport *vp;
		uint8_t vidx;

		if (!p || !p->started)
			continue;
		vidx = (uint8_t)v->n_ports++;
		vp = &v->ports[vidx];
		vp->port = p;
		vp->port_id = p->port_id;
		vp->ofport = p->ofport;
		vp->n_txq = p->n_txq;
		vp->txq_shared = p->n_txq < sw_dp.n_pmds + 1;
		vp->vhost = p->vhost;
		vp->rx_pool = p->rx_pool;
		vp->poll = p->cfg.admin_up;
		vp->capture = p->capture;
		vp->vtep = p->vtep;
		vp->vx_vidx = SW_VIDX_NONE;
		vp->cfg = p->cfg;
		if (p->cfg.vv)
			sw_vv_view_mask(&vp->cfg);
		v->vidx_by_ofport[p->ofport] = vidx;
		if (!vp->poll || !sw_dp.n_pmds)
			continue;
		/* Round-robin rx queues over PMDs, so queue q of every port does
		 * not land on the same PMD. */
		for (uint16_t q = 0; q < p->n_rxq; q++) {
			unsigned pmd = rr++ % sw_dp.n_pmds;

			if (v->pmd[pmd].n_rxq < SW_MAX_PMD_RXQS)
				v->pmd[pmd].rxq[v->pmd[pmd].n_rxq++] =
					(struct sw_rxq){ .vidx = vidx, .qid = q };
		}
	}
	sw_vx_view_fixup(v);
	old = sw_dp.view;
	__atomic_store_n(&sw_dp.view, v, __ATOMIC_RELEASE);
	sw_dp_sync();
	rte_free(old);
	return 0;
}

/* ------------------------------------------------------------- ethdev life */

/* The largest frame one mbuf of the shared pool holds, and the largest MTU
 * that fits it (with two VLAN tags). */
static uint32_t pool_frame_max(void)
{
	return rte_pktmbuf_data_room_size(sw_dp.pool) - RTE_PKTMBUF_HEADROOM;
}

enum { SW_MTU_POOL_MAX = RTE_MBUF_DEFAULT_DATAROOM - RTE_ETHER_HDR_LEN - RTE_ETHER_CRC_LEN -
			 2 * SW_VLAN_HLEN };

static int port_eth_start(struct sw_port *p, uint16_t n_rxq, char *err, size_t errlen)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info = { 0 };
	struct rte_dev_iterator it;
	uint16_t pid, nrx, ntx, nb_rxd = SW_RX_DESC, nb_txd = SW_TX_DESC;
	struct rte_mempool *mp = sw_dp.pool;
	uint32_t frame = p->mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 2 * SW_VLAN_HLEN;
	bool found = false;
	int ret;

	ret = rte_dev_probe(p->devargs);
	if (ret) {
		/* Most vdev drivers fail with a bare -1, which is not -EPERM: their
		 * reason is in DPDK's log (ours, module "dpdk"). */
		if (ret == -1)
			snprintf(err, errlen, "cannot probe '%s': the driver refused it "
				 "(its reason is in vswitchd's log)", p->devargs);
		else
			snprintf(err, errlen, "cannot probe '%s': %s", p->devargs, rte_strerror(-ret));
		return ret == -EEXIST ? -EBUSY : (ret < -1 ? ret : -ENODEV);
	}
	RTE_ETH_FOREACH_MATCHING_DEV(pid, p->devargs, &it) {
		if (!found) {
			p->port_id = pid;
			found = true;
		}
	}
	if (!found) {
		snprintf(err, errlen, "'%s' probed but gave no ethernet port", p->devargs);
		return -ENODEV;
	}
	ret = rte_eth_dev_info_get(p->port_id, &info);
	if (ret) {
		snprintf(err, errlen, "device info: %s", rte_strerror(-ret));
		goto err_close;
	}
	/* Jumbo ports receive into a pool of 9 KiB mbufs (as OVS keeps a pool per
	 * MTU), so no driver needs multi-segment receive. */
	if (frame > pool_frame_max()) {
		mp = sw_dp_jumbo_pool();
		if (!mp) {
			snprintf(err, errlen, "no memory for the jumbo frame pool");
			ret = -ENOMEM;
			goto err_close;
		}
	}
	if (info.max_rx_pktlen && frame - 2 * SW_VLAN_HLEN > info.max_rx_pktlen) {
		snprintf(err, errlen, "MTU %u needs %u-byte frames; driver %s receives at most %u",
			 p->mtu, frame - 2 * SW_VLAN_HLEN, info.driver_name, info.max_rx_pktlen);
		ret = -EOPNOTSUPP;
		goto err_close;
	}
	if (info.max_mtu && p->mtu > info.max_mtu) {
		snprintf(err, errlen, "MTU %u above what driver %s allows (%u)", p->mtu,
			 info.driver_name, info.max_mtu);
		ret = -EINVAL;
		goto err_close;
	}
	nrx = RTE_MIN(n_rxq, info.max_rx_queues);
	/* One tx queue per PMD plus one for the control thread (PACKET_OUT). */
	ntx = (uint16_t)VSL_MIN(sw_dp.n_pmds + 1u, (unsigned)info.max_tx_queues);
	if (!nrx || !ntx) {
		snprintf(err, errlen, "driver %s offers no queues", info.driver_name);
		ret = -ENODEV;
		goto err_close;
	}
	conf.rxmode.mtu = p->mtu;
	ret = rte_eth_dev_configure(p->port_id, nrx, ntx, &conf);
	if (ret && ntx > nrx) {
		/* Some drivers (net_tap) want as many tx queues as rx queues: the
		 * control thread then shares a PMD's queue under its lock. */
		ntx = (uint16_t)VSL_MAX(nrx, VSL_MIN(VSL_MAX(sw_dp.n_pmds, 1u),
						     (unsigned)info.max_tx_queues));
		ret = rte_eth_dev_configure(p->port_id, nrx, ntx, &conf);
	}
	if (ret) {
		snprintf(err, errlen, "configure: %s", rte_strerror(-ret));
		goto err_close;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nb_rxd, &nb_txd);
	for (uint16_t q = 0; q < nrx; q++) {
		ret = rte_eth_rx_queue_setup(p->port_id, q, nb_rxd, rte_eth_dev_socket_id(p->port_id),
					     NULL, mp);
		if (ret) {
			snprintf(err, errlen, "rx queue %u: %s", q, rte_strerror(-ret));
			goto err_close;
		}
	}
	for (uint16_t q = 0; q < ntx; q++) {
		ret = rte_eth_tx_queue_setup(p->port_id, q, nb_txd, rte_eth_dev_socket_id(p->port_id),
					     NULL);
		if (ret) {
			snprintf(err, errlen, "tx queue %u: %s", q, rte_strerror(-ret));
			goto err_close;
		}
	}
	ret = rte_eth_dev_set_mtu(p->port_id, (uint16_t)p->mtu);
	if (ret && ret != -ENOTSUP && !(ret == -EINVAL && p->mtu == SW_MTU_DEFAULT)) {
		snprintf(err, errlen, "MTU %u: %s", p->mtu, rte_strerror(-ret));
		goto err_close;
	}
	ret = rte_eth_dev_start(p->port_id);
	if (ret) {
		snprintf(err, errlen, "start: %s", rte_strerror(-ret));
		goto err_close;
	}
	/* A switch port must see frames for every MAC. */
	rte_eth_promiscuous_enable(p->port_id);
	p->n_rxq = nrx;
	p->n_txq = ntx;
	p->rx_pool = mp;
	if (!strcmp(info.driver_name, "net_vhost")) {
		p->vhost = true;
		sw_port_vhost_attach(p);
	}
	p->started = true;
	return 0;

err_close:
	{
		struct rte_device *dev = info.device;

		rte_eth_dev_close(p->port_id);
		if (dev)
			rte_dev_remove(dev);
	}
	return ret < 0 ? ret : -EIO;
}

static void port_eth_stop(struct sw_port *p)
{
	struct rte_eth_dev_info info;
	struct rte_device *dev = NULL;
	int ret;

	if (!p->started)
		return;
	if (p->ops->logical) {
		p->started = false;
		return;
	}
	if (p->vhost) {
		sw_port_vhost_detach(p);
		p->vhost = false;
	}
	if (!rte_eth_dev_info_get(p->port_id, &info))
		dev = info.device;
	rte_eth_dev_stop(p->port_id);
	rte_eth_dev_close(p->port_id);
	if (dev) {
		ret = rte_dev_remove(dev);
		if (ret)
			VSL_WARN("port %s: removing device: %s", p->name, rte_strerror(-ret));
	}
	p->started = false;
}

/* ------------------------------------------------------------ configuration */

/* Applies VLAN and forwarding options from o onto cfg (a copy of the port's)
 * and leaves in vl the VLAN-to-VNI bindings the port is to have (given in o,
 * or its current ones), checked against the result; returns 0 or -EINVAL with
 * err. The bindings' map is built by the caller (port_vv_build). */
static int port_cfg_apply(struct sw_port *p, struct sw_port_cfg *cfg, const struct sw_port_opts *o,
			  struct sw_vv_list *vl, char *err, size_t errlen)
{
	enum sw_vlan_mode mode;
	bool mode_given = o->vlan_mode != NULL;
	int vret;

	if (o->tag != UINT32_MAX && o->tag > SW_VLAN_MAX) {
		snprintf(err, errlen, "tag %u out of range 1-4095", o->tag);
		return -EINVAL;
	}
	if (o->tag != UINT32_MAX)
		cfg->tag = (uint16_t)o->tag;
	if (o->vni != -1) {
		/* An access port of the VNI's segment (sw_vxlan.h). */
		uint16_t seg;
		int ret;

		if (p->vtep || (o->type && !strcmp(o->type, "vxlan")))
			goto vni_done;
		if (o->tag != UINT32_MAX) {
			snprintf(err, errlen, "give tag= (a VLAN) or vni= (a VXLAN segment), not both");
			return -EINVAL;
		}
		if (o->vni == -2 || o->vni < 0 || o->vni > VX_VNI_MAX) {
			snprintf(err, errlen, "vni must be 1-%u (0 clears)", VX_VNI_MAX);
			return -EINVAL;
		}
		if (o->vni == 0) {
			if (p->vni)
				cfg->tag = 0;
		} else {
			ret = sw_vx_vni_get((uint32_t)o->vni, true, &seg);
			if (ret) {
				snprintf(err, errlen, "vni %lld: %s", (long long)o->vni,
					 ret == -ENOSPC ? "too many VNIs" : strerror(-ret));
				return ret;
			}
			cfg->tag = seg;
		}
	}
vni_done:
	if (o->native_vlan >= 0) {
		if (o->native_vlan > SW_VLAN_MAX) {
			snprintf(err, errlen, "native_vlan %lld out of range 1-4095",
				 (long long)o->native_vlan);
			return -EINVAL;
		}
		cfg->native_vlan = (uint16_t)o->native_vlan;
	}
	if (o->trunks) {
		int ret = sw_vlan_list_parse(o->trunks, cfg->trunks, err, errlen);

		if (ret)
			return ret;
		p->trunks_given = o->trunks[0] != '\0';
	}
	cfg->trunks_all = !p->trunks_given;
	if (mode_given) {
		if (sw_vlan_mode_parse(o->vlan_mode, &mode)) {
			snprintf(err, errlen, "vlan_mode '%s' is not one of access, trunk, "
				 "native-tagged, native-untagged", o->vlan_mode);
			return -EINVAL;
		}
	} else if (cfg->tag) {
		mode = SW_VLAN_ACCESS;
	} else if (cfg->native_vlan) {
		mode = cfg->vlan_mode == SW_VLAN_NATIVE_TAGGED ? SW_VLAN_NATIVE_TAGGED
							       : SW_VLAN_NATIVE_UNTAGGED;
	} else {
		mode = SW_VLAN_TRUNK;
	}
	if (mode == SW_VLAN_ACCESS && !cfg->tag) {
		snprintf(err, errlen, "vlan_mode access needs tag=VLAN");
		return -EINVAL;
	}
	if (mode == SW_VLAN_ACCESS && p->trunks_given) {
		snprintf(err, errlen, "an access port (tag=%u) takes no trunks", cfg->tag);
		return -EINVAL;
	}
	if (mode != SW_VLAN_ACCESS && cfg->tag) {
		if (mode == SW_VLAN_TRUNK || cfg->native_vlan) {
			snprintf(err, errlen, "tag=%u makes an access port; use native_vlan= for a "
				 "trunk's native VLAN (or tag=0 to clear)", cfg->tag);
			return -EINVAL;
		}
		/* OVS style: vlan_mode=native-* with tag= names the native VLAN. */
		cfg->native_vlan = cfg->tag;
		cfg->tag = 0;
	}
	if ((mode == SW_VLAN_NATIVE_TAGGED || mode == SW_VLAN_NATIVE_UNTAGGED) && !cfg->native_vlan) {
		snprintf(err, errlen, "vlan_mode %s needs native_vlan=VLAN", sw_vlan_mode_name(mode));
		return -EINVAL;
	}
	if (mode == SW_VLAN_TRUNK && cfg->native_vlan) {
		snprintf(err, errlen, "native_vlan needs vlan_mode native-untagged or native-tagged");
		return -EINVAL;
	}
	cfg->vlan_mode = mode;
	if (o->vlan_vni) {
		if (p->vtep || (o->type && !strcmp(o->type, "vxlan"))) {
			snprintf(err, errlen, "vlan_vni binds VLANs of a trunk port: a vxlan port "
				 "carries VNIs itself");
			return -EINVAL;
		}
		vret = sw_vv_parse(o->vlan_vni, vl, err, errlen);
		if (vret)
			return vret;
	} else {
		sw_vv_map_list(cfg->vv, vl);
	}
	vret = sw_vv_check(vl, cfg, !o->vlan_vni, err, errlen);
	if (vret)
		return vret;
	if (o->admin) {
		if (strcmp(o->admin, "up") && strcmp(o->admin, "down")) {
			snprintf(err, errlen, "admin must be up or down, not '%s'", o->admin);
			return -EINVAL;
		}
		cfg->admin_up = !strcmp(o->admin, "up");
	}
	if (o->mac_limit >= 0) {
		if (o->mac_limit > (int64_t)SW_FDB_DEFAULT_CAPACITY) {
			snprintf(err, errlen, "mac_limit above the FDB size (%u)",
				 SW_FDB_DEFAULT_CAPACITY);
			return -EINVAL;
		}
		cfg->mac_limit = (uint32_t)o->mac_limit;
	}
	return 0;
}

/* Builds the lookup map of the bindings vl for port p (NULL when vl is empty),
 * creating their VNIs' segments. late: see sw_vv_map_build. */
static int port_vv_build(struct sw_port *p, const struct sw_vv_list *vl, struct sw_vv_map **out,
			 uint64_t *late, char *err, size_t errlen)
{
	uint16_t segs[SW_VV_MAX];
	int ret;

	*out = NULL;
	memset(late, 0, SW_VV_MAX / 8);
	if (!vl->n)
		return 0;
	for (unsigned i = 0; i < vl->n; i++) {
		ret = sw_vx_vni_get(vl->b[i].vni, true, &segs[i]);
		if (ret) {
			snprintf(err, errlen, "vlan_vni entry '%u:%u': %s", vl->b[i].vlan,
				 vl->b[i].vni, ret == -ENOSPC ? "too many VNIs" : strerror(-ret));
			return ret;
		}
	}
	if (!p->vv_stats) {
		p->vv_stats = sw_vv_stats_alloc();
		if (!p->vv_stats)
			goto nomem;
	}
	*out = sw_vv_map_build(p->cfg.vv, vl, segs, p->vv_stats, late);
	if (!*out)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

static int ofport_pick(uint32_t want, uint16_t *out, char *err, size_t errlen)
{
	if (want) {
		if (want > SW_OFPORT_MAX) {
			snprintf(err, errlen, "ofport %u out of range 1-%u", want, SW_OFPORT_MAX);
			return -EINVAL;
		}
		if (sw_port_find_ofport((uint16_t)want)) {
			snprintf(err, errlen, "ofport %u is taken by port '%s'", want,
				 sw_port_find_ofport((uint16_t)want)->name);
			return -EEXIST;
		}
		*out = (uint16_t)want;
		return 0;
	}
	for (uint16_t n = 1; n <= SW_OFPORT_MAX; n++) {
		if (!sw_port_find_ofport(n)) {
			*out = n;
			return 0;
		}
	}
	snprintf(err, errlen, "no free ofport");
	return -ENOSPC;
}

int sw_port_add(const struct sw_port_opts *o, char *err, size_t errlen)
{
	struct sw_port *p;
	struct sw_vv_list vl;
	uint64_t late[SW_VV_MAX / 64];
	int slot = -1, ret;

	if (!sw_dp.initialised) {
		snprintf(err, errlen, "the data path is not running");
		return -ENODEV;
	}
	if (!o->name[0] || strlen(o->name) >= SW_NAME_MAX ||
	    strspn(o->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
		    strlen(o->name)) {
		snprintf(err, errlen, "port name '%s' must be 1-%d characters of [A-Za-z0-9_.-]",
			 o->name, SW_NAME_MAX - 1);
		return -EINVAL;
	}
	if (sw_port_find(o->name)) {
		snprintf(err, errlen, "port '%s' already exists", o->name);
		return -EEXIST;
	}
	for (int i = 0; i < SW_MAX_PORTS; i++) {
		if (!sw_dp.ports[i]) {
			slot = i;
			break;
		}
	}
	if (slot < 0) {
		snprintf(err, errlen, "too many ports (%d)", SW_MAX_PORTS);
		return -ENOSPC;
	}
	p = rte_zmalloc("sw_port", sizeof(*p), RTE_CACHE_LINE_SIZE);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(p->name, sizeof(p->name), "%s", o->name);
	p->vh_vid = -1;
	for (int i = 0; i < SW_MAX_PMDS; i++)
		rte_spinlock_init(&p->txq_lock[i]);
	p->ops = port_type_find(o->type);
	if (!p->ops) {
		snprintf(err, errlen, "unknown port type '%s' (dpdk, vhost-user, internal)", o->type);
		ret = -EINVAL;
		goto err_free;
	}
	p->cfg.admin_up = true;
	p->cfg.mac_limit = sw_dp.default_mac_limit;
	p->mtu = o->mtu ? o->mtu : SW_MTU_DEFAULT;
	if (p->mtu < 68 || p->mtu > SW_MTU_MAX) {
		snprintf(err, errlen, "mtu %u out of range 68-%u", p->mtu, SW_MTU_MAX);
		ret = -EINVAL;
		goto err_free;
	}
	ret = port_cfg_apply(p, &p->cfg, o, &vl, err, errlen);
	if (ret)
		goto err_free;
	ret = port_vv_build(p, &vl, &p->cfg.vv, late, err, errlen);
	if (ret)
		goto err_free;
	if (o->n_rxq > SW_MAX_RXQ) {
		snprintf(err, errlen, "n_rxq %u above %u", o->n_rxq, SW_MAX_RXQ);
		ret = -EINVAL;
		goto err_free;
	}
	ret = ofport_pick(o->ofport, &p->ofport, err, errlen);
	if (ret)
		goto err_free;
	ret = p->ops->prepare(p, o, err, errlen);
	if (ret)
		goto err_free;
	for (int i = 0; i < SW_MAX_PORTS && !p->ops->logical; i++) {
		if (sw_dp.ports[i] && !strcmp(sw_dp.ports[i]->devargs, p->devargs)) {
			snprintf(err, errlen, "device '%s' is already port '%s'", p->devargs,
				 sw_dp.ports[i]->name);
			ret = -EBUSY;
			goto err_free;
		}
	}
	if (p->ops->logical) {
		p->started = true;
		p->n_rxq = 0;
		p->n_txq = 1;
		p->port_id = UINT16_MAX;
	} else {
		ret = port_eth_start(p, o->n_rxq ? (uint16_t)o->n_rxq : 1, err, errlen);
		if (ret)
			goto err_destroy;
		if (!p->cfg.admin_up)
			rte_eth_dev_set_link_down(p->port_id);
	}
	if (o->vni > 0 && !p->vtep)
		p->vni = (uint32_t)o->vni;
	sw_dp.ports[slot] = p;
	ret = sw_view_publish();
	if (ret) {
		snprintf(err, errlen, "out of memory publishing the port");
		goto err_unlink;
	}
	VSL_INFO("port %s: %s ofport %u ethdev %u (%s), %u rxq, %u txq, mtu %u", p->name,
		 p->ops->type, p->ofport, p->port_id, p->devargs, p->n_rxq, p->n_txq, p->mtu);
	return 0;

err_unlink:
	sw_dp.ports[slot] = NULL;
	port_eth_stop(p);
err_destroy:
	if (p->ops->destroy)
		p->ops->destroy(p);
err_free:
	sw_vv_map_free(p->cfg.vv);
	sw_vv_stats_free(p->vv_stats);
	rte_free(p);
	return ret;
}

static void port_free(struct sw_port *p)
{
	port_eth_stop(p);
	if (p->ops->destroy)
		p->ops->destroy(p);
	sw_vv_map_free(p->cfg.vv);
	sw_vv_stats_free(p->vv_stats);
	rte_free(p);
}

int sw_port_del(const char *name)
{
	struct sw_port *p = NULL;
	uint16_t ofport;
	unsigned slot;

	for (slot = 0; slot < SW_MAX_PORTS; slot++) {
		if (sw_dp.ports[slot] && !strcmp(sw_dp.ports[slot]->name, name)) {
			p = sw_dp.ports[slot];
			break;
		}
	}
	if (!p)
		return -ENOENT;
	if (p->capture || sw_vx_port_is_underlay(p))
		return -EBUSY;
	sw_dp.ports[slot] = NULL;
	ofport = p->ofport;
	/* If publishing fails the old view (with p) stays: p must stay alive. */
	while (sw_view_publish())
		sw_dp_sync();
	sw_fdb_flush(sw_dp.fdb, ofport, -1);
	VSL_INFO("port %s (ofport %u) removed", p->name, ofport);
	port_free(p);
	return 0;
}

void sw_port_del_all(void)
{
	/* vxlan ports first: an underlay cannot go while its VTEP exists. */
	for (unsigned i = 0; i < SW_MAX_PORTS; i++)
		if (sw_dp.ports[i] && sw_dp.ports[i]->vtep)
			sw_port_del(sw_dp.ports[i]->name);
	for (unsigned i = 0; i < SW_MAX_PORTS; i++)
		if (sw_dp.ports[i])
			sw_port_del(sw_dp.ports[i]->name);
}

int sw_port_set(struct sw_port *p, const struct sw_port_opts *o, char *err, size_t errlen)
{
	struct sw_port_cfg cfg = p->cfg;
	struct sw_vv_map *vv_old = p->cfg.vv, *vv_new = NULL;
	struct sw_vv_list vl, cur;
	uint64_t late[SW_VV_MAX / 64];
	bool trunks_given = p->trunks_given;
	bool vlan_changed, vv_changed = false;
	int ret;

	/* Validate everything before changing anything. */
	ret = port_cfg_apply(p, &cfg, o, &vl, err, errlen);
	if (ret) {
		p->trunks_given = trunks_given;
		return ret;
	}
	if (p->vtep && (o->mtu || o->vni != -1)) {
		snprintf(err, errlen, "a vxlan port's MTU follows its underlay's, and its VNI is "
			 "fixed when it is added");
		ret = -EINVAL;
		goto err_restore;
	}
	sw_vv_map_list(vv_old, &cur);
	if (!sw_vv_list_equal(&cur, &vl)) {
		ret = port_vv_build(p, &vl, &vv_new, late, err, errlen);
		if (ret)
			goto err_restore;
		cfg.vv = vv_new;
		vv_changed = true;
	}
	if (o->mtu && o->mtu != p->mtu) {
		if (o->mtu < 68 || o->mtu > SW_MTU_MAX) {
			snprintf(err, errlen, "mtu %u out of range 68-%u", o->mtu, SW_MTU_MAX);
			ret = -EINVAL;
			goto err_restore;
		}
		if (o->mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 2 * SW_VLAN_HLEN >
		    pool_frame_max() && p->mtu <= SW_MTU_POOL_MAX) {
			snprintf(err, errlen, "MTU %u needs jumbo receive buffers, chosen when the "
				 "port is added: give mtu= to add-port", o->mtu);
			ret = -EOPNOTSUPP;
			goto err_restore;
		}
		ret = rte_eth_dev_set_mtu(p->port_id, (uint16_t)o->mtu);
		if (ret) {
			snprintf(err, errlen, "MTU %u: %s", o->mtu, rte_strerror(-ret));
			goto err_restore;
		}
		p->mtu = o->mtu;
	}
	vlan_changed = cfg.vlan_mode != p->cfg.vlan_mode || cfg.tag != p->cfg.tag ||
		       cfg.native_vlan != p->cfg.native_vlan ||
		       memcmp(cfg.trunks, p->cfg.trunks, sizeof(cfg.trunks)) ||
		       cfg.trunks_all != p->cfg.trunks_all || vv_changed;
	if (cfg.admin_up != p->cfg.admin_up) {
		if (cfg.admin_up)
			rte_eth_dev_set_link_up(p->port_id);
		else
			rte_eth_dev_set_link_down(p->port_id);
	}
	p->cfg = cfg;
	if (o->vni >= 0)
		p->vni = (uint32_t)o->vni;
	else if (o->tag != UINT32_MAX)
		p->vni = 0;
	ret = sw_view_publish();
	if (ret) {
		/* The published view still points at the old map: keep it. */
		p->cfg.vv = vv_old;
		sw_vv_map_free(vv_new);
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	/* The grace period has passed: no PMD reads the old map any more. */
	if (vv_changed) {
		sw_vv_map_free(vv_old);
		sw_vv_stats_zero(p->vv_stats, late);
	}
	/* Entries learned under the old VLAN layout would forward into VLANs the
	 * port no longer carries. */
	if (vlan_changed)
		sw_fdb_flush(sw_dp.fdb, p->ofport, -1);
	return 0;

err_restore:
	sw_vv_map_free(vv_new);
	p->trunks_given = trunks_given;
	return ret;
}

void sw_port_stats_sum(const struct sw_port *p, struct sw_port_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < SW_MAX_PMDS; i++) {
		const struct sw_port_stats *s = &p->stats[i];

		sum->rx_packets += s->rx_packets;
		sum->rx_bytes += s->rx_bytes;
		sum->tx_packets += s->tx_packets;
		sum->tx_bytes += s->tx_bytes;
		sum->rx_l3_anomalies += s->rx_l3_anomalies;
		sum->flood_packets += s->flood_packets;
		for (unsigned r = 0; r < SW_DROP_N; r++)
			sum->drops[r] += s->drops[r];
	}
}

static void json_add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

/* vlan_vni (what set-port takes) and, unless saving, each binding's counters. */
static void port_vv_json(const struct sw_port *p, struct json_object *o, bool save)
{
	struct sw_vv_list l;
	struct json_object *arr;
	char *text = malloc(SW_VV_TEXT_MAX);

	sw_vv_map_list(p->cfg.vv, &l);
	if (text) {
		sw_vv_format(&l, text, SW_VV_TEXT_MAX);
		json_object_object_add(o, "vlan_vni", json_object_new_string(text));
		free(text);
	}
	if (save)
		return;
	arr = json_object_new_array();
	for (unsigned i = 0; i < l.n; i++) {
		struct json_object *b = json_object_new_object();
		int slot = sw_vv_slot_by_vid(p->cfg.vv, l.b[i].vlan);
		struct sw_vv_stats s;

		sw_vv_stats_sum(p->cfg.vv, (unsigned)slot, &s);
		json_add_u64(b, "vlan", l.b[i].vlan);
		json_add_u64(b, "vni", l.b[i].vni);
		json_add_u64(b, "rx_packets", s.rx_packets);
		json_add_u64(b, "rx_bytes", s.rx_bytes);
		json_add_u64(b, "tx_packets", s.tx_packets);
		json_add_u64(b, "tx_bytes", s.tx_bytes);
		json_object_array_add(arr, b);
	}
	json_object_object_add(o, "vlan_vni_bindings", arr);
}

struct json_object *sw_port_to_json(const struct sw_port *p, bool save)
{
	struct json_object *o = json_object_new_object();
	char trunks[4096 * 5];

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "type", json_object_new_string(p->ops->type));
	p->ops->describe(p, o);
	json_add_u64(o, "ofport", p->ofport);
	switch (p->cfg.vlan_mode) {
	case SW_VLAN_ACCESS:
		if (p->vni)
			json_add_u64(o, "vni", p->vni);
		else
			json_add_u64(o, "tag", p->cfg.tag);
		break;
	case SW_VLAN_NATIVE_TAGGED:
	case SW_VLAN_NATIVE_UNTAGGED:
		json_object_object_add(o, "vlan_mode",
				       json_object_new_string(sw_vlan_mode_name(p->cfg.vlan_mode)));
		json_add_u64(o, "native_vlan", p->cfg.native_vlan);
		/* fall through */
	case SW_VLAN_TRUNK:
		if (p->trunks_given) {
			vlan_list_format(p->cfg.trunks, trunks, sizeof(trunks));
			json_object_object_add(o, "trunks", json_object_new_string(trunks));
		}
		if (p->cfg.vv)
			port_vv_json(p, o, save);
		break;
	}
	if ((p->mtu != SW_MTU_DEFAULT || !save) && !p->ops->logical)
		json_add_u64(o, "mtu", p->mtu);
	if (p->n_rxq > 1 || !save)
		json_add_u64(o, "n_rxq", p->n_rxq);
	if (p->cfg.mac_limit != sw_dp.default_mac_limit || !save)
		json_add_u64(o, "mac_limit", p->cfg.mac_limit);
	if (!p->cfg.admin_up || !save)
		json_object_object_add(o, "admin",
				       json_object_new_string(p->cfg.admin_up ? "up" : "down"));
	if (save)
		return o;

	{
		struct rte_eth_link link = { 0 };
		struct rte_eth_stats es = { 0 };
		struct sw_port_stats st;
		struct json_object *drops = json_object_new_object();
		struct rte_ether_addr mac;
		char macs[RTE_ETHER_ADDR_FMT_SIZE] = "";
		uint64_t total = 0;

		if (p->ops->logical) {
			/* No device: link, MAC and device counters are the type's. */
			sw_port_stats_sum(p, &st);
			json_add_u64(o, "rx_packets", st.rx_packets);
			json_add_u64(o, "rx_bytes", st.rx_bytes);
			json_add_u64(o, "tx_packets", st.tx_packets);
			json_add_u64(o, "tx_bytes", st.tx_bytes);
			json_add_u64(o, "flood_packets", st.flood_packets);
			json_add_u64(o, "rx_l3_anomalies", st.rx_l3_anomalies);
			for (unsigned r = 0; r < SW_DROP_N; r++) {
				json_add_u64(drops, drop_names[r], st.drops[r]);
				total += st.drops[r];
			}
			json_add_u64(o, "drops_total", total);
			json_object_object_add(o, "drops", drops);
			json_add_u64(o, "macs_learned", sw_fdb_port_count(sw_dp.fdb, p->ofport));
			json_object_object_add(o, "vlan_mode", json_object_new_string("vxlan"));
			json_object_object_add(o, "link", json_object_new_string(
				p->cfg.admin_up ? "up" : "down"));
			json_object_object_add(o, "capture", json_object_new_boolean(false));
			/* What a tenant frame may be: the underlay's MTU minus the
			 * encapsulation; the MAC the VTEP sends from. */
			if (p->vtep) {
				uint32_t ul = __atomic_load_n(&p->vtep->underlay_mtu,
							      __ATOMIC_RELAXED);

				json_add_u64(o, "mtu", ul > VX_OVERHEAD ? ul - VX_OVERHEAD : 0);
				rte_ether_format_addr(macs, sizeof(macs),
						      (const struct rte_ether_addr *)p->vtep->mac);
				json_object_object_add(o, "mac", json_object_new_string(macs));
			}
			return o;
		}
		if (!save && p->cfg.vlan_mode == SW_VLAN_TRUNK && !p->trunks_given)
			json_object_object_add(o, "trunks", json_object_new_string("all"));
		json_object_object_add(o, "vlan_mode",
				       json_object_new_string(sw_vlan_mode_name(p->cfg.vlan_mode)));
		rte_eth_link_get_nowait(p->port_id, &link);
		json_object_object_add(o, "link", json_object_new_string(link.link_status ? "up"
											   : "down"));
		json_add_u64(o, "link_speed_mbps", link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN
							   ? 0 : link.link_speed);
		if (!rte_eth_macaddr_get(p->port_id, &mac))
			rte_ether_format_addr(macs, sizeof(macs), &mac);
		json_object_object_add(o, "mac", json_object_new_string(macs));
		json_add_u64(o, "ethdev", p->port_id);
		json_add_u64(o, "n_txq", p->n_txq);
		json_add_u64(o, "macs_learned", sw_fdb_port_count(sw_dp.fdb, p->ofport));
		sw_port_stats_sum(p, &st);
		json_add_u64(o, "rx_packets", st.rx_packets);
		json_add_u64(o, "rx_bytes", st.rx_bytes);
		json_add_u64(o, "tx_packets", st.tx_packets);
		json_add_u64(o, "tx_bytes", st.tx_bytes);
		json_add_u64(o, "flood_packets", st.flood_packets);
		json_add_u64(o, "rx_l3_anomalies", st.rx_l3_anomalies);
		for (unsigned r = 0; r < SW_DROP_N; r++) {
			json_add_u64(drops, drop_names[r], st.drops[r]);
			total += st.drops[r];
		}
		/* What the device itself dropped (no descriptor, errors). */
		if (!rte_eth_stats_get(p->port_id, &es)) {
			json_add_u64(drops, "rx_missed", es.imissed);
			json_add_u64(drops, "rx_errors", es.ierrors);
			json_add_u64(drops, "rx_nombuf", es.rx_nombuf);
			total += es.imissed + es.ierrors + es.rx_nombuf;
		}
		json_add_u64(o, "drops_total", total);
		json_object_object_add(o, "drops", drops);
		json_object_object_add(o, "capture", json_object_new_boolean(p->capture != NULL));
	}
	return o;
}
