/* sw_bridge.c — the NORMAL action: a MAC-learning bridge with 802.1Q VLANs.
 *
 * Ingress: the port's VLAN mode decides the frame's VLAN (access: the port's
 * tag, tagged frames refused; trunk: the tag, untagged = VLAN 0; native modes:
 * untagged = the native VLAN); a frame on a VLAN the port does not carry is
 * dropped and counted. The 802.1Q tag is stripped here, so inside the bridge a
 * frame is untagged plus (vlan, pcp); each output decides whether it leaves
 * tagged (trunks, except VLAN 0 and a native-untagged native VLAN) or not.
 *
 * Learning: the source MAC is learned on (vlan, in_port) — refused beyond the
 * port's MAC limit (the frame is dropped: port security, so a MAC flood on one
 * port cannot fill the table for everyone). Forwarding: a known unicast
 * destination goes to its port; broadcast, multicast and unknown unicast are
 * flooded to every other up port carrying the VLAN.
 *
 * Flood copies: all outputs that want the frame untagged share the one mbuf
 * (reference counts), all that want it tagged share one copy with the tag
 * pushed — at most one copy per flooded frame.
 *
 * VXLAN segments (sw_vxlan.h) are "VLANs" above 4095. A trunk VLAN bound to
 * a VNI (sw_vlan_vni.h) maps, on that port only, tagged VLAN V <-> the VNI's
 * segment: ingress looks the tag up in the port's map (one pointer test for
 * ports without bindings), egress of a segment to a trunk pushes the port's
 * VLAN for it. A segment flood to trunks makes one copy per distinct VLAN.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include "sw_fdb.h"
#include "sw_internal.h"
#include "sw_vlan_vni.h"
#include "sw_vxlan.h"

/* Removes the outer 802.1Q tag (the parser checked it is in the first segment). */
static inline void vlan_pop(struct rte_mbuf *m)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);

	memmove(p + SW_VLAN_HLEN, p, 2 * SW_ETH_ALEN);
	rte_pktmbuf_adj(m, SW_VLAN_HLEN);
}

/* Inserts an 802.1Q tag; m must not be shared. Returns false without headroom. */
static inline bool vlan_push(struct rte_mbuf *m, uint16_t vid, uint8_t pcp)
{
	uint8_t *p = (uint8_t *)rte_pktmbuf_prepend(m, SW_VLAN_HLEN);
	uint16_t tpid = rte_cpu_to_be_16(SW_ETH_TYPE_VLAN);
	uint16_t tci = rte_cpu_to_be_16((uint16_t)(pcp << SW_VLAN_PCP_SHIFT | vid));

	if (!p)
		return false;
	memmove(p, p + SW_VLAN_HLEN, 2 * SW_ETH_ALEN);
	memcpy(p + 12, &tpid, 2);
	memcpy(p + 14, &tci, 2);
	return true;
}

static inline bool egress_tagged(const struct sw_port_cfg *c, uint16_t vlan)
{
	switch (c->vlan_mode) {
	case SW_VLAN_ACCESS:
		return false;
	case SW_VLAN_NATIVE_UNTAGGED:
		return vlan != 0 && vlan != c->native_vlan;
	case SW_VLAN_NATIVE_TAGGED:
	case SW_VLAN_TRUNK:
	default:
		return vlan != 0;
	}
}

/* The VLAN a segment's frame leaves trunk `op` with (op carries the segment
 * through a binding: sw_port_carries_vlan checked it); counts it. */
static uint16_t vv_egress(struct sw_pmd *pmd, const struct sw_vport *op, const struct rte_mbuf *m,
			  uint16_t seg)
{
	const struct sw_vv_map *vv = op->cfg.vv;
	int s = vv ? sw_vv_slot_by_seg(vv, seg) : -1;
	struct sw_vv_stats *c;

	if (s < 0)
		return 0;
	c = &vv->stats[pmd->idx * SW_VV_MAX + (unsigned)s];
	c->tx_packets++;
	c->tx_bytes += m->pkt_len;
	return vv->b[s].vlan;
}

/* Adds `delta` references to every segment (rte_pktmbuf_free walks them all). */
static inline void mbuf_ref_add(struct rte_mbuf *m, int16_t delta)
{
	for (; m; m = m->next)
		rte_mbuf_refcnt_update(m, delta);
}

/* Floods a segment's frame to the trunks in out[] (which carry the segment
 * through VLAN bindings), each with its own VLAN: one copy per distinct VLAN,
 * or m itself for the last one when `may_consume` and m is exclusively ours.
 * Returns true when it consumed m. */
static bool flood_vv(struct sw_pmd *pmd, const struct sw_view *v, struct sw_port_stats *st,
		     struct rte_mbuf *m, uint16_t seg, uint8_t pcp, const uint8_t *out, unsigned n,
		     bool may_consume)
{
	uint16_t vid[SW_MAX_PORTS];
	bool done[SW_MAX_PORTS];
	bool consumed = false;

	for (unsigned i = 0; i < n; i++) {
		vid[i] = vv_egress(pmd, &v->ports[out[i]], m, seg);
		done[i] = false;
	}
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *c;
		unsigned k = 0;
		bool last = true;

		if (done[i])
			continue;
		for (unsigned j = i + 1; j < n && last; j++)
			if (!done[j] && vid[j] != vid[i])
				last = false;
		if (last && may_consume && rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m)) {
			c = m;
			consumed = true;
		} else {
			c = rte_pktmbuf_copy(m, sw_dp.pool, 0, UINT32_MAX);
		}
		for (unsigned j = i; j < n; j++) {
			if (!done[j] && vid[j] == vid[i]) {
				done[j] = true;
				k++;
			}
		}
		if (c && !vlan_push(c, vid[i], pcp)) {
			rte_pktmbuf_free(c);
			c = NULL;
		}
		if (!c) {
			st->drops[SW_DROP_NOMEM] += k;
			continue;
		}
		mbuf_ref_add(c, (int16_t)(k - 1));
		for (unsigned j = i; j < n; j++)
			if (vid[j] == vid[i])
				sw_pmd_tx(pmd, v, out[j], c);
	}
	st->flood_packets += n;
	return consumed;
}

static void flood(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_vport *in,
		  struct rte_mbuf *m, uint16_t vlan, uint8_t pcp)
{
	struct sw_port_stats *st = &in->port->stats[pmd->idx];
	uint8_t untagged[SW_MAX_PORTS], tagged[SW_MAX_PORTS];
	unsigned nu = 0, nt = 0;
	struct rte_mbuf *mt = NULL;

	for (uint32_t i = 0; i < v->n_ports; i++) {
		const struct sw_vport *op = &v->ports[i];

		/* A VTEP's underlay is no bridge port; a vxlan port takes every
		 * VXLAN segment (head-end replication, sw_vx_tx) and never a frame
		 * that came from a remote VTEP (split horizon). */
		if (op == in || !op->cfg.admin_up || op->ul_vtep)
			continue;
		if (op->vtep) {
			uint32_t vni = sw_vx_is_seg(vlan) ? sw_vx_seg_to_vni(vlan) : UINT32_MAX;

			/* A port with vni=N carries only that VNI. */
			if (vni != UINT32_MAX && !in->vtep &&
			    (!op->vtep->vni_fixed || op->vtep->vni == vni)) {
				rte_mbuf_refcnt_update(m, 1);
				sw_vx_tx(pmd, v, (uint8_t)i, m, vni, 0);
				st->flood_packets++;
			}
			continue;
		}
		if (!sw_port_carries_vlan(&op->cfg, vlan))
			continue;
		if (egress_tagged(&op->cfg, vlan))
			tagged[nt++] = (uint8_t)i;
		else
			untagged[nu++] = (uint8_t)i;
	}
	if (nt && sw_vx_is_seg(vlan)) {
		/* Trunks with this VNI bound, each to its own VLAN. */
		if (flood_vv(pmd, v, st, m, vlan, pcp, tagged, nt, !nu))
			m = NULL;
		nt = 0;
	}
	if (nt && nu) {
		mt = rte_pktmbuf_copy(m, sw_dp.pool, 0, UINT32_MAX);
		if (mt && !vlan_push(mt, vlan, pcp)) {
			rte_pktmbuf_free(mt);
			mt = NULL;
		}
		if (!mt) {
			st->drops[SW_DROP_NOMEM] += nt;
			nt = 0;
		}
	} else if (nt) {
		if (!vlan_push(m, vlan, pcp)) {
			st->drops[SW_DROP_NOMEM] += nt;
			rte_pktmbuf_free(m);
			return;
		}
		mt = m;
		m = NULL;
	}
	if (nu) {
		mbuf_ref_add(m, (int16_t)(nu - 1));
		for (unsigned i = 0; i < nu; i++)
			sw_pmd_tx(pmd, v, untagged[i], m);
	} else if (m) {
		rte_pktmbuf_free(m);
	}
	if (nt) {
		mbuf_ref_add(mt, (int16_t)(nt - 1));
		for (unsigned i = 0; i < nt; i++)
			sw_pmd_tx(pmd, v, tagged[i], mt);
	}
	st->flood_packets += nu + nt;
}

/* The frame's VLAN from the ingress port's mode; false (counted) when the
 * frame must be dropped before learning. */
static inline bool bridge_ingress(struct sw_pmd *pmd, const struct sw_vport *in,
				  struct sw_port_stats *st, const struct rte_mbuf *m,
				  const struct sw_flow_key *key, uint16_t *vlan)
{
	bool tagged = key->n_vlans && key->vlan_tpid == SW_ETH_TYPE_VLAN;
	uint16_t vid = tagged ? sw_vlan_vid(key->vlan_tci) : 0;

	if (in->vtep) {
		/* Decapsulated: the segment of its VNI (tunnel_id). */
		*vlan = sw_vx_seg(key->tunnel_id);
		if (!*vlan || tagged) {
			st->drops[SW_DROP_VLAN]++;
			return false;
		}
		goto src_check;
	}
	switch (in->cfg.vlan_mode) {
	case SW_VLAN_ACCESS:
		/* A priority tag (VID 0) is the access VLAN; any other tag is foreign. */
		if (vid) {
			st->drops[SW_DROP_VLAN]++;
			return false;
		}
		*vlan = in->cfg.tag;
		break;
	case SW_VLAN_NATIVE_TAGGED:
	case SW_VLAN_NATIVE_UNTAGGED:
		*vlan = vid ? vid : in->cfg.native_vlan;
		break;
	case SW_VLAN_TRUNK:
	default:
		*vlan = vid;
		break;
	}
	/* A tagged VLAN of this trunk bound to a VNI joins the VNI's segment
	 * (the view's trunk bitmap no longer has it). */
	if (in->cfg.vv && vid) {
		int s = sw_vv_slot_by_vid(in->cfg.vv, vid);

		if (s >= 0) {
			struct sw_vv_stats *c = &in->cfg.vv->stats[pmd->idx * SW_VV_MAX + (unsigned)s];

			*vlan = in->cfg.vv->seg[s];
			c->rx_packets++;
			c->rx_bytes += m->pkt_len - SW_VLAN_HLEN;
			goto src_check;
		}
	}
	if (!sw_port_carries_vlan(&in->cfg, *vlan)) {
		st->drops[SW_DROP_VLAN]++;
		return false;
	}
src_check:
	if (sw_eth_addr_is_multicast(key->dl_src) || sw_eth_addr_is_zero(key->dl_src)) {
		st->drops[SW_DROP_SRC_MAC]++;
		return false;
	}
	return true;
}

/* What bridge_output() did with a frame, so that the frames after it in the
 * burst with the same addresses and tag can take the same path without the
 * checks: valid only for a unicast to a plain (device) port or to a remote
 * VTEP behind a vxlan port. */
struct l2_out {
	bool valid;
	bool vx;                 /* to vxlan port vidx: sw_vx_tx(vni, tun) */
	uint8_t vidx;
	int32_t push;            /* the VLAN pushed on egress, or -1 */
	uint32_t vni, tun;
};

/* Sends m (already untagged, in `vlan`) to port `out`, or floods when out is 0;
 * *dec tells how a unicast went (dec->valid false for anything else). */
static void bridge_output(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_vport *in,
			  struct rte_mbuf *m, uint16_t vlan, uint8_t pcp, uint16_t out, uint32_t tun,
			  struct l2_out *dec)
{
	struct sw_port_stats *st = &in->port->stats[pmd->idx];
	const struct sw_vport *op;
	int32_t push = -1;
	uint8_t vidx;

	dec->valid = false;
	if (!out)
		goto flood;
	if (out == in->ofport) {
		st->drops[SW_DROP_HAIRPIN]++;
		goto drop;
	}
	vidx = v->vidx_by_ofport[out];
	if (vidx == SW_VIDX_NONE)
		goto flood;           /* the port went away; its entries are being flushed */
	op = &v->ports[vidx];
	if (!op->cfg.admin_up) {
		op->port->stats[pmd->idx].drops[SW_DROP_ADMIN_DOWN]++;
		goto drop;
	}
	if (op->vtep) {
		/* Learned behind a remote VTEP: unicast to it. */
		if (!sw_vx_is_seg(vlan)) {
			op->port->stats[pmd->idx].drops[SW_DROP_VLAN_EGRESS]++;
			goto drop;
		}
		dec->vni = sw_vx_seg_to_vni(vlan);
		if (tun) {
			dec->valid = dec->vx = true;
			dec->vidx = vidx;
			dec->tun = tun;
		}
		sw_vx_tx(pmd, v, vidx, m, dec->vni, tun);
		return;
	}
	if (op->ul_vtep)
		goto drop;
	if (!sw_port_carries_vlan(&op->cfg, vlan)) {
		op->port->stats[pmd->idx].drops[SW_DROP_VLAN_EGRESS]++;
		goto drop;
	}
	if (egress_tagged(&op->cfg, vlan)) {
		if (sw_vx_is_seg(vlan)) {
			/* Per-binding counters: no shortcut for the next frames. */
			if (!vlan_push(m, vv_egress(pmd, op, m, vlan), pcp)) {
				st->drops[SW_DROP_NOMEM]++;
				goto drop;
			}
			sw_pmd_tx(pmd, v, vidx, m);
			return;
		}
		if (!vlan_push(m, vlan, pcp)) {
			st->drops[SW_DROP_NOMEM]++;
			goto drop;
		}
		push = vlan;
	}
	dec->valid = true;
	dec->vx = false;
	dec->vidx = vidx;
	dec->push = push;
	sw_pmd_tx(pmd, v, vidx, m);
	return;

flood:
	flood(pmd, v, in, m, vlan, pcp);
	return;
drop:
	rte_pktmbuf_free(m);
}

/* True when key b's frame takes the same path through the bridge as key a's:
 * the same addresses and outer tag (bytes dl_dst..vlan_tpid, compared as
 * two words). */
static inline bool l2_same(const struct sw_flow_key *a, const struct sw_flow_key *b)
{
	enum { OFS = offsetof(struct sw_flow_key, dl_dst) };
	uint64_t a0, a1, b0, b1;

	_Static_assert(offsetof(struct sw_flow_key, dl_src) == OFS + 6 &&
		       offsetof(struct sw_flow_key, vlan_tci) == OFS + 12 &&
		       offsetof(struct sw_flow_key, vlan_tpid) == OFS + 14, "l2_same layout");
	memcpy(&a0, (const uint8_t *)a + OFS, 8);
	memcpy(&a1, (const uint8_t *)a + OFS + 8, 8);
	memcpy(&b0, (const uint8_t *)b + OFS, 8);
	memcpy(&b1, (const uint8_t *)b + OFS + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

void sw_bridge_normal_burst(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_vport *in,
			    struct rte_mbuf **pkts, const struct sw_flow_key *keys, uint16_t n,
			    uint32_t now_s)
{
	struct sw_port_stats *st = &in->port->stats[pmd->idx];
	struct sw_fdb_key src[SW_BURST], dst[SW_BURST];
	const struct sw_fdb_key *srcp[SW_BURST], *dstp[SW_BURST];
	int32_t spos[SW_BURST], dpos[SW_BURST];
	uint16_t vlan[SW_BURST];
	uint8_t idx[SW_BURST], dslot[SW_BURST];
	bool same[SW_BURST];
	/* Runs of frames with the same addresses and tag (the common case of a
	 * burst from one guest) are checked, looked up and learned once: the
	 * frames after the first of a run reuse its VLAN, FDB positions and
	 * output decision. Ports with per-binding VLAN counters take every
	 * frame through the whole path; frames decapsulated by a VTEP also
	 * need the same VNI (tunnel_id) to share a run. */
	const bool runs = !in->cfg.vv;
	struct l2_out dec = { .valid = false };
	struct rte_mbuf *vxq[SW_BURST];
	bool learned = false;
	unsigned m = 0, nd = 0, nvx = 0;

	_Static_assert(2 * (int)SW_BURST <= (int)SW_FDB_BULK_MAX, "one bulk FDB lookup per burst");
	/* Stage 1: VLAN and source checks; collect the FDB keys. */
	for (uint16_t i = 0; i < n; i++) {
		if (!pkts[i])
			continue;
		if (runs && m && l2_same(&keys[idx[m - 1]], &keys[i]) &&
		    (!in->vtep || keys[idx[m - 1]].tunnel_id == keys[i].tunnel_id)) {
			idx[m] = (uint8_t)i;
			vlan[m] = vlan[m - 1];
			dslot[m] = dslot[m - 1];
			same[m++] = true;
			continue;
		}
		if (!bridge_ingress(pmd, in, st, pkts[i], &keys[i], &vlan[m])) {
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		idx[m] = (uint8_t)i;
		same[m] = false;
		sw_fdb_key_set(&src[m], keys[i].dl_src, vlan[m]);
		srcp[m] = &src[m];
		if (sw_eth_addr_is_multicast(keys[i].dl_dst)) {
			dslot[m] = UINT8_MAX;
		} else {
			sw_fdb_key_set(&dst[nd], keys[i].dl_dst, vlan[m]);
			dstp[nd] = &dst[nd];
			dslot[m] = (uint8_t)nd++;
		}
		m++;
	}
	/* Stage 2: positions from this PMD's cache; what it lacks in one staged
	 * bulk lookup (sources and destinations together). */
	{
		const struct sw_fdb_key *miss[2 * SW_BURST];
		int32_t *mpos[2 * SW_BURST], got[2 * SW_BURST];
		struct sw_fdb_cache *fc = pmd->fdbc;
		uint32_t gen = sw_fdb_generation(sw_dp.fdb);
		unsigned nm = 0;

		for (unsigned j = 0; j < m; j++) {
			if (same[j])
				continue;
			if (!sw_fdb_cache_get(fc, gen, srcp[j], &spos[j])) {
				miss[nm] = srcp[j];
				mpos[nm++] = &spos[j];
			}
		}
		for (unsigned j = 0; j < nd; j++) {
			if (!sw_fdb_cache_get(fc, gen, dstp[j], &dpos[j])) {
				miss[nm] = dstp[j];
				mpos[nm++] = &dpos[j];
			}
		}
		if (nm) {
			sw_fdb_lookup_bulk(sw_dp.fdb, miss, nm, got);
			for (unsigned j = 0; j < nm; j++) {
				*mpos[j] = got[j];
				if (got[j] >= 0)
					sw_fdb_cache_put(fc, gen, miss[j], got[j]);
			}
		}
	}

	/* Stage 3: learn, strip the tag, forward. A run's frames to a remote
	 * VTEP are encapsulated together (sw_vx_tx_bulk) when the run ends. */
	for (unsigned j = 0; j < m; j++) {
		const struct sw_flow_key *key = &keys[idx[j]];
		struct rte_mbuf *mb = pkts[idx[j]];
		bool tagged = key->n_vlans && key->vlan_tpid == SW_ETH_TYPE_VLAN;
		uint8_t pcp = tagged ? (uint8_t)(key->vlan_tci >> SW_VLAN_PCP_SHIFT) : 0;
		uint16_t out;
		uint32_t tun = 0;

		if (same[j] && learned && dec.valid && dec.vx) {
			if (tagged)
				vlan_pop(mb);
			vxq[nvx++] = mb;
			continue;
		}
		if (nvx) {
			sw_vx_tx_bulk(pmd, v, dec.vidx, vxq, nvx, dec.vni, dec.tun);
			nvx = 0;
		}
		if (same[j]) {
			/* The run's first frame was learned (or refused: then so
			 * is this one) and decided; a unicast repeats its path. */
			if (!learned) {
				st->drops[SW_DROP_MAC_LIMIT]++;
				rte_pktmbuf_free(mb);
				continue;
			}
			if (dec.valid) {
				if (tagged)
					vlan_pop(mb);
				if (dec.push >= 0 && !vlan_push(mb, (uint16_t)dec.push, pcp)) {
					st->drops[SW_DROP_NOMEM]++;
					rte_pktmbuf_free(mb);
					continue;
				}
				sw_pmd_tx(pmd, v, dec.vidx, mb);
				continue;
			}
		} else {
			learned = sw_fdb_learn_hint(sw_dp.fdb, &src[j], spos[j], in->ofport,
						    in->cfg.mac_limit, now_s) != -EDQUOT;
			if (!learned) {
				st->drops[SW_DROP_MAC_LIMIT]++;
				rte_pktmbuf_free(mb);
				dec.valid = false;
				continue;
			}
		}
		if (tagged)
			vlan_pop(mb);
		out = dslot[j] == UINT8_MAX ? 0 : sw_fdb_pos_port(sw_dp.fdb, dpos[dslot[j]]);
		if (out && sw_vx_is_seg(vlan[j]))
			tun = sw_fdb_pos_tun(sw_dp.fdb, dpos[dslot[j]]);
		bridge_output(pmd, v, in, mb, vlan[j], pcp, out, tun, &dec);
	}
	if (nvx)
		sw_vx_tx_bulk(pmd, v, dec.vidx, vxq, nvx, dec.vni, dec.tun);
}
