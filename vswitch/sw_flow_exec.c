/* sw_flow_exec.c — the OpenFlow pipeline on the PMD: lookup (EMC, then the
 * classifier), instructions and actions on the packet.
 *
 * Packet ownership. The pipeline holds one reference on the packet. An output
 * is kept pending until the next action: when nothing follows, the packet
 * itself is sent (no copy, no reference); when more actions follow, the
 * pending port gets an extra reference. An action that writes the packet
 * first makes it exclusive (rte_pktmbuf_copy when it is shared), so a packet
 * already queued on a port never changes. NORMAL hands an exclusive packet to
 * the bridge (sw_bridge_normal_burst, once per burst for every packet that
 * chose NORMAL or missed in standalone mode).
 *
 * The flow key follows the packet: push/pop VLAN and set_field update it, so
 * goto-table lookups and NORMAL see the packet as it now is.
 *
 * Per burst: first every packet's table-0 signature and a prefetch of its EMC
 * entry; then every table-0 EMC compare and a prefetch of the hit flow's
 * counters and instructions; then each packet through the pipeline (a
 * table-0 EMC miss tries the megaflow cache, then the classifier, whose
 * answer is cached in both; see sw_cls.h). Later tables hash as they go.
 *
 * Checksums: IPv4 header, TCP and UDP (pseudo-header included) and ICMP are
 * updated incrementally (RFC 1624). SCTP's CRC32c is not recomputed.
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <rte_ring.h>

#include "sw_cls.h"
#include "sw_internal.h"
#include "sw_vxlan.h"

enum { PENDING_NONE = 0xffff, ASET_MAX = SW_MAX_ACTIONS };

struct pctx {
	struct sw_pmd *pmd;
	const struct sw_view *v;
	const struct sw_vport *in;
	struct rte_mbuf *m;            /* NULL once consumed or dropped */
	struct sw_flow_key *key;
	uint16_t pending;              /* vidx of an output not yet sent */
	bool pending_normal;
	bool output;                   /* some output or NORMAL was taken */
	struct rte_mbuf **normal_pkts;
	struct sw_flow_key *normal_keys;
	uint16_t *n_normal;
	const struct sw_flow *flow;    /* the flow whose actions run (packet-in) */
	uint8_t table;
	uint8_t group_depth;
};

static void group_run(struct pctx *c, uint32_t id);

static bool pkt_exclusive(struct pctx *c)
{
	struct rte_mbuf *copy;

	if (rte_mbuf_refcnt_read(c->m) == 1 && RTE_MBUF_DIRECT(c->m))
		return true;
	copy = rte_pktmbuf_copy(c->m, sw_dp.pool, 0, UINT32_MAX);
	if (!copy)
		return false;
	rte_pktmbuf_free(c->m);
	c->m = copy;
	return true;
}

/* Sends the pending output with its own reference (more actions follow). */
static void pending_flush(struct pctx *c)
{
	if (c->pending != PENDING_NONE) {
		rte_mbuf_refcnt_update(c->m, 1);
		sw_pmd_tx(c->pmd, c->v, (uint8_t)c->pending, c->m);
		c->pending = PENDING_NONE;
	}
	if (c->pending_normal) {
		struct rte_mbuf *copy = rte_pktmbuf_copy(c->m, sw_dp.pool, 0, UINT32_MAX);

		c->pending_normal = false;
		if (copy && *c->n_normal >= SW_BURST) {
			rte_pktmbuf_free(copy);
			copy = NULL;
		}
		if (!copy) {
			sw_count_drop(c->pmd, c->in, SW_DROP_NOMEM);
			return;
		}
		c->normal_pkts[*c->n_normal] = copy;
		c->normal_keys[(*c->n_normal)++] = *c->key;
	}
}

/* The packet leaves the pipeline: the pending output takes our reference. */
static void pipeline_end(struct pctx *c)
{
	if (!c->m)
		return;
	if (c->pending_normal && c->pending != PENDING_NONE) {
		uint16_t p = c->pending;

		c->pending = PENDING_NONE;
		rte_mbuf_refcnt_update(c->m, 1);
		sw_pmd_tx(c->pmd, c->v, (uint8_t)p, c->m);
	}
	if (c->pending_normal) {
		if (*c->n_normal < SW_BURST && pkt_exclusive(c)) {
			c->normal_pkts[*c->n_normal] = c->m;
			c->normal_keys[(*c->n_normal)++] = *c->key;
		} else {
			sw_count_drop(c->pmd, c->in, SW_DROP_NOMEM);
			rte_pktmbuf_free(c->m);
		}
	} else if (c->pending != PENDING_NONE) {
		sw_pmd_tx(c->pmd, c->v, (uint8_t)c->pending, c->m);
	} else {
		rte_pktmbuf_free(c->m);
	}
	c->m = NULL;
	c->pending = PENDING_NONE;
	c->pending_normal = false;
}

static void output_vidx(struct pctx *c, uint8_t vidx)
{
	const struct sw_vport *op = &c->v->ports[vidx];

	if (!op->cfg.admin_up) {
		op->port->stats[c->pmd->idx].drops[SW_DROP_ADMIN_DOWN]++;
		return;
	}
	if (op->vtep) {
		/* VXLAN: encapsulated now, with the VNI the key has at this point
		 * (tunnel_id, possibly set by set_field). */
		rte_mbuf_refcnt_update(c->m, 1);
		sw_vx_tx(c->pmd, c->v, vidx, c->m, c->key->tunnel_id, 0);
		c->output = true;
		return;
	}
	if (c->pending != PENDING_NONE) {
		rte_mbuf_refcnt_update(c->m, 1);
		sw_pmd_tx(c->pmd, c->v, (uint8_t)c->pending, c->m);
	}
	c->pending = vidx;
	c->output = true;
}

/* The table-miss flow: priority 0, matching everything (OpenFlow 1.3 §5.4). */
static bool table_miss_flow(const struct sw_flow *f)
{
	static const struct sw_flow_key zero;

	return f && f->priority == 0 && !memcmp(&f->match.mask, &zero, sizeof(zero));
}

/* Queues a copy of the packet (at most max_len bytes) for the control
 * thread, which sends the PACKET_IN. Never blocks: a full ring or an empty
 * pool loses the packet-in and counts it. */
static void pin_queue(struct pctx *c, uint8_t reason, uint16_t max_len)
{
	struct rte_mbuf *copy;
	struct sw_pin_meta *md;
	uint32_t len = c->m->pkt_len;

	c->pmd->stats.to_controller++;
	if (!__atomic_load_n(&sw_dp.pin_enabled, __ATOMIC_RELAXED) || !sw_dp.pin_ring)
		return;
	if (max_len != 0xffff && max_len < len)
		len = max_len;
	copy = rte_pktmbuf_copy(c->m, sw_dp.pool, 0, len);
	if (!copy) {
		c->pmd->stats.pin_dropped++;
		return;
	}
	md = (struct sw_pin_meta *)rte_pktmbuf_prepend(copy, sizeof(*md));
	if (!md) {
		rte_pktmbuf_free(copy);
		c->pmd->stats.pin_dropped++;
		return;
	}
	md->cookie = c->flow ? c->flow->cookie : UINT64_MAX;
	md->metadata = c->key->metadata;
	md->tunnel_id = c->key->tunnel_id;
	md->in_port = c->in->ofport;
	md->max_len = max_len;
	md->reason = reason;
	md->table_id = c->table;
	if (rte_ring_mp_enqueue(sw_dp.pin_ring, copy)) {
		rte_pktmbuf_free(copy);
		c->pmd->stats.pin_dropped++;
	}
}

static void do_output(struct pctx *c, const struct sw_action *a)
{
	uint8_t in_vidx = c->v->vidx_by_ofport[c->in->ofport];

	switch (a->arg) {
	case SW_OFPP_IN_PORT:
		output_vidx(c, in_vidx);
		return;
	case SW_OFPP_ALL:
	case SW_OFPP_FLOOD:
		for (uint32_t i = 0; i < c->v->n_ports; i++)
			if (i != in_vidx)
				output_vidx(c, (uint8_t)i);
		return;
	case SW_OFPP_NORMAL:
		if (c->pending_normal)
			pending_flush(c);
		c->pending_normal = true;
		c->output = true;
		return;
	case SW_OFPP_CONTROLLER:
		pin_queue(c, table_miss_flow(c->flow) ? SW_PIN_NO_MATCH : SW_PIN_ACTION,
			  a->ethertype);
		c->output = true;
		return;
	case SW_OFPP_LOCAL:
		c->pmd->stats.to_local++;
		c->output = true;
		return;
	default:
		if (a->arg <= SW_OFPORT_MAX) {
			uint8_t vidx = c->v->vidx_by_ofport[a->arg];

			/* OpenFlow: only IN_PORT sends a packet back where it came from. */
			if (vidx != SW_VIDX_NONE && vidx != in_vidx)
				output_vidx(c, vidx);
		}
		return;
	}
}

/* ------------------------------------------------------- header rewriting */

static inline uint32_t csum_add16(uint32_t s, const uint8_t *p)
{
	return s + (uint32_t)(p[0] << 8 | p[1]);
}

/* Adjusts the 16-bit checksum at csum for the region old → new (even length,
 * 16-bit aligned relative to the checksummed header). RFC 1624 eqn. 3. */
static void csum_replace(uint8_t *csum, const uint8_t *old, const uint8_t *nw, unsigned len,
			 bool udp)
{
	uint32_t s;
	uint16_t c = (uint16_t)(csum[0] << 8 | csum[1]);

	if (udp && c == 0)
		return;                 /* UDP over IPv4 without a checksum */
	s = (uint16_t)~c;
	for (unsigned i = 0; i < len; i += 2) {
		s += (uint16_t)~(old[i] << 8 | old[i + 1]);
		s = csum_add16(s, nw + i);
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)~s;
	if (udp && c == 0)
		c = 0xffff;
	csum[0] = (uint8_t)(c >> 8);
	csum[1] = (uint8_t)c;
}

/* Offset of the L4 checksum for the key's protocol, or -1. */
static int l4_csum_ofs(const struct sw_flow_key *k, bool *udp)
{
	*udp = false;
	if (!k->l4_ofs || (k->flags & (SW_KEY_F_L4_TRUNC | SW_KEY_F_LATER_FRAG)))
		return -1;
	switch (k->nw_proto) {
	case 6: return k->l4_ofs + 16;
	case 17: *udp = k->dl_type == SW_ETH_TYPE_IPV4; return k->l4_ofs + 6;
	case 1: case 58: return k->l4_ofs + 2;
	default: return -1;
	}
}

/* Writes len bytes at frame offset ofs, fixing the checksum at csum1 (a
 * header checksum, -1: none) and the L4 checksum when l4 is set. */
static void pkt_write(struct pctx *c, unsigned ofs, const uint8_t *val, unsigned len, int csum1,
		      bool l4)
{
	uint8_t *p = rte_pktmbuf_mtod(c->m, uint8_t *);
	unsigned lo = ofs & ~1u, hi = (ofs + len + 1) & ~1u, dl = c->m->data_len;
	uint8_t old[20], nw[20];
	bool udp;
	int c4;

	if (hi > dl || hi - lo > sizeof(old))
		return;
	memcpy(old, p + lo, hi - lo);
	memcpy(nw, old, hi - lo);
	memcpy(nw + (ofs - lo), val, len);
	if (csum1 >= 0 && (unsigned)csum1 + 2 <= dl)
		csum_replace(p + csum1, old, nw, hi - lo, false);
	c4 = l4 ? l4_csum_ofs(c->key, &udp) : -1;
	if (c4 >= 0 && (unsigned)c4 + 2 <= dl)
		csum_replace(p + c4, old, nw, hi - lo, udp);
	memcpy(p + lo, nw, hi - lo);
}

static bool do_pop_vlan(struct pctx *c)
{
	struct sw_flow_key *k = c->key;
	uint8_t *p;

	if (!k->n_vlans)
		return true;
	if (!pkt_exclusive(c))
		return false;
	p = rte_pktmbuf_mtod(c->m, uint8_t *);
	memmove(p + SW_VLAN_HLEN, p, 2 * SW_ETH_ALEN);
	rte_pktmbuf_adj(c->m, SW_VLAN_HLEN);
	k->vlan_tci = k->cvlan_tci;
	k->vlan_tpid = k->cvlan_tci ? SW_ETH_TYPE_VLAN : 0;
	k->cvlan_tci = 0;
	k->n_vlans--;
	k->l3_ofs -= SW_VLAN_HLEN;
	if (k->l4_ofs)
		k->l4_ofs -= SW_VLAN_HLEN;
	return true;
}

static bool do_push_vlan(struct pctx *c, uint16_t tpid)
{
	struct sw_flow_key *k = c->key;
	uint16_t tci = k->n_vlans ? (uint16_t)(k->vlan_tci & ~SW_VLAN_PRESENT) : 0;
	uint16_t be_tpid = rte_cpu_to_be_16(tpid), be_tci = rte_cpu_to_be_16(tci);
	uint8_t *p;

	if (k->n_vlans >= SW_MAX_VLAN_TAGS || !pkt_exclusive(c))
		return false;
	p = (uint8_t *)rte_pktmbuf_prepend(c->m, SW_VLAN_HLEN);
	if (!p)
		return false;
	memmove(p, p + SW_VLAN_HLEN, 2 * SW_ETH_ALEN);
	memcpy(p + 12, &be_tpid, 2);
	memcpy(p + 14, &be_tci, 2);
	k->cvlan_tci = k->n_vlans ? k->vlan_tci : 0;
	k->vlan_tci = tci | SW_VLAN_PRESENT;
	k->vlan_tpid = tpid;
	k->n_vlans++;
	k->l3_ofs += SW_VLAN_HLEN;
	if (k->l4_ofs)
		k->l4_ofs += SW_VLAN_HLEN;
	return true;
}

static bool do_dec_ttl(struct pctx *c)
{
	struct sw_flow_key *k = c->key;
	uint8_t ttl;

	if ((k->dl_type != SW_ETH_TYPE_IPV4 && k->dl_type != SW_ETH_TYPE_IPV6) ||
	    (k->flags & (SW_KEY_F_L3_TRUNC | SW_KEY_F_L3_BAD)))
		return true;
	if (k->nw_ttl <= 1) {
		c->pmd->stats.ttl_expired++;
		pin_queue(c, SW_PIN_INVALID_TTL, 0xffff);
		return false;
	}
	if (!pkt_exclusive(c))
		return false;
	ttl = --k->nw_ttl;
	if (k->dl_type == SW_ETH_TYPE_IPV4)
		pkt_write(c, k->l3_ofs + 8u, &ttl, 1, k->l3_ofs + 10, false);
	else
		pkt_write(c, k->l3_ofs + 7u, &ttl, 1, -1, false);
	return true;
}

static bool do_set_field(struct pctx *c, const struct sw_action *a)
{
	struct sw_flow_key *k = c->key;
	unsigned l3 = k->l3_ofs, l4 = k->l4_ofs;
	bool v4 = k->dl_type == SW_ETH_TYPE_IPV4, v6 = k->dl_type == SW_ETH_TYPE_IPV6;
	bool arp = k->dl_type == SW_ETH_TYPE_ARP;
	bool l3ok = !(k->flags & (SW_KEY_F_L3_TRUNC | SW_KEY_F_L3_BAD));
	bool l4ok = l3ok && l4 && !(k->flags & (SW_KEY_F_L4_TRUNC | SW_KEY_F_LATER_FRAG));
	union sw_value v = a->value;
	uint8_t b[16];

	switch (a->field) {
	case SW_F_METADATA:
	case SW_F_TUNNEL_ID:
		sw_field_store(k, a->field, &v);
		return true;
	case SW_F_VLAN_VID:
	case SW_F_VLAN_PCP:
	case SW_F_VLAN_TCI: {
		uint16_t be;

		if (!k->n_vlans && (!(a->flags & SW_ACTF_PUSH) || !do_push_vlan(c, SW_ETH_TYPE_VLAN)))
			return k->n_vlans == 0;    /* set on an untagged frame: no-op */
		if (a->field == SW_F_VLAN_VID)
			v.u64 &= SW_VLAN_VID_MASK;
		sw_field_store(k, a->field, &v);
		k->vlan_tci |= SW_VLAN_PRESENT;
		if (!pkt_exclusive(c))
			return false;
		be = rte_cpu_to_be_16((uint16_t)(k->vlan_tci & ~SW_VLAN_PRESENT));
		pkt_write(c, 14, (const uint8_t *)&be, 2, -1, false);
		return true;
	}
	default:
		break;
	}
	if (!pkt_exclusive(c))
		return false;
	sw_field_store(k, a->field, &v);
	switch (a->field) {
	case SW_F_ETH_DST:
		pkt_write(c, 0, k->dl_dst, 6, -1, false);
		break;
	case SW_F_ETH_SRC:
		pkt_write(c, 6, k->dl_src, 6, -1, false);
		break;
	case SW_F_IPV4_SRC:
	case SW_F_IPV4_DST:
	case SW_F_ARP_SPA:
	case SW_F_ARP_TPA: {
		bool src = a->field == SW_F_IPV4_SRC || a->field == SW_F_ARP_SPA;

		memcpy(b, src ? &k->nw_src : &k->nw_dst, 4);
		if (v4 && l3ok)
			pkt_write(c, l3 + (src ? 12u : 16u), b, 4, (int)l3 + 10, true);
		else if (arp && l3ok)
			pkt_write(c, l3 + (src ? 14u : 24u), b, 4, -1, false);
		break;
	}
	case SW_F_ARP_SHA:
		if (arp && l3ok)
			pkt_write(c, l3 + 8, k->arp_sha, 6, -1, false);
		break;
	case SW_F_ARP_THA:
		if (arp && l3ok)
			pkt_write(c, l3 + 18, k->arp_tha, 6, -1, false);
		break;
	case SW_F_ARP_OP:
		if (arp && l3ok) {
			uint16_t be = rte_cpu_to_be_16(k->arp_op);

			pkt_write(c, l3 + 6, (const uint8_t *)&be, 2, -1, false);
		}
		break;
	case SW_F_IP_DSCP:
	case SW_F_NW_TOS:
		if (v4 && l3ok) {
			pkt_write(c, l3 + 1, &k->nw_tos, 1, (int)l3 + 10, false);
		} else if (v6 && l3ok) {
			uint8_t *p = rte_pktmbuf_mtod(c->m, uint8_t *) + l3;

			if (l3 + 2 <= c->m->data_len) {
				b[0] = (uint8_t)((p[0] & 0xf0) | (k->nw_tos >> 4));
				b[1] = (uint8_t)((p[1] & 0x0f) | (k->nw_tos << 4));
				pkt_write(c, l3, b, 2, -1, false);
			}
		}
		break;
	case SW_F_IPV6_SRC:
		if (v6 && l3ok)
			pkt_write(c, l3 + 8, k->ipv6_src, 16, -1, true);
		break;
	case SW_F_IPV6_DST:
		if (v6 && l3ok)
			pkt_write(c, l3 + 24, k->ipv6_dst, 16, -1, true);
		break;
	case SW_F_TCP_SRC: case SW_F_UDP_SRC: case SW_F_SCTP_SRC: case SW_F_TP_SRC:
		if (l4ok)
			pkt_write(c, l4, (const uint8_t *)&k->tp_src, 2, -1, true);
		break;
	case SW_F_TCP_DST: case SW_F_UDP_DST: case SW_F_SCTP_DST: case SW_F_TP_DST:
		if (l4ok)
			pkt_write(c, l4 + 2, (const uint8_t *)&k->tp_dst, 2, -1, true);
		break;
	case SW_F_ICMPV4_TYPE: case SW_F_ICMPV6_TYPE:
		if (l4ok) {
			b[0] = (uint8_t)k->tp_src;
			pkt_write(c, l4, b, 1, -1, true);
		}
		break;
	case SW_F_ICMPV4_CODE: case SW_F_ICMPV6_CODE:
		if (l4ok) {
			b[0] = (uint8_t)k->tp_dst;
			pkt_write(c, l4 + 1, b, 1, -1, true);
		}
		break;
	default:
		break;
	}
	return true;
}

/* Runs one action; false when the packet is gone (dropped or no memory). */
static bool action_run(struct pctx *c, const struct sw_action *a)
{
	bool ok;

	if (a->type == SW_ACT_OUTPUT) {
		do_output(c, a);
		return true;
	}
	if (a->type == SW_ACT_GROUP) {
		group_run(c, a->arg);
		c->output = true;
		return c->m != NULL;
	}
	/* A write follows: earlier outputs keep the packet as it was. */
	pending_flush(c);
	switch (a->type) {
	case SW_ACT_POP_VLAN: ok = do_pop_vlan(c); break;
	case SW_ACT_PUSH_VLAN: ok = do_push_vlan(c, a->ethertype); break;
	case SW_ACT_DEC_TTL: ok = do_dec_ttl(c); break;
	case SW_ACT_SET_FIELD: ok = do_set_field(c, a); break;
	default: ok = true; break;
	}
	if (!ok) {
		sw_count_drop(c->pmd, c->in, SW_DROP_FLOW);
		rte_pktmbuf_free(c->m);
		c->m = NULL;
	}
	return ok;
}

/* The action set: one action per type (per field for set_field). */
struct aset {
	uint8_t n;
	const struct sw_action *a[ASET_MAX];
};

static void aset_write(struct aset *s, const struct sw_action *a)
{
	for (unsigned i = 0; i < s->n; i++) {
		if (s->a[i]->type == a->type &&
		    (a->type != SW_ACT_SET_FIELD || s->a[i]->field == a->field)) {
			s->a[i] = a;
			return;
		}
	}
	if (s->n < ASET_MAX)
		s->a[s->n++] = a;
}

static void aset_run(struct pctx *c, const struct aset *s)
{
	/* OpenFlow 1.3 §5.10 order; a group makes the output moot. */
	static const uint8_t order[] = { SW_ACT_POP_VLAN, SW_ACT_PUSH_VLAN, SW_ACT_DEC_TTL,
					 SW_ACT_SET_FIELD, SW_ACT_GROUP, SW_ACT_OUTPUT };
	bool group = false;

	for (unsigned o = 0; o < sizeof(order) && c->m; o++) {
		for (unsigned i = 0; i < s->n && c->m; i++) {
			if (s->a[i]->type != order[o])
				continue;
			if (order[o] == SW_ACT_GROUP)
				group = true;
			if (order[o] == SW_ACT_OUTPUT && group)
				continue;
			action_run(c, s->a[i]);
		}
	}
}

static struct sw_flow *lookup(struct sw_pmd *pmd, const struct sw_cls *cls, uint8_t table,
			      const struct sw_flow_key *key, uint32_t h)
{
	uint64_t wc[SW_KEY_WORDS];
	uint32_t probes = 0;
	struct sw_flow *f;

	pmd->stats.emc_lookups++;
	if (sw_emc_lookup(pmd->emc, cls->version, h, table, key, &f)) {
		pmd->stats.emc_hits++;
		return f;
	}
	/* EMC miss: the megaflows, then the rules themselves. */
	pmd->stats.mf_lookups++;
	if (sw_mfc_lookup(pmd->mfc, cls->version, table, key, &f, &probes)) {
		pmd->stats.mf_hits++;
		pmd->stats.mf_probes += probes;
		sw_emc_insert(pmd->emc, cls->version, h, table, key, f);
		return f;
	}
	pmd->stats.mf_probes += probes;
	probes = 0;
	memset(wc, 0, sizeof(wc));
	pmd->stats.cls_lookups++;
	f = sw_cls_lookup_wc(cls, table, key, &probes, wc);
	pmd->stats.subtable_probes += probes;
	if (f)
		pmd->stats.cls_hits++;
	sw_mfc_insert(pmd->mfc, table, wc, key, f);
	sw_emc_insert(pmd->emc, cls->version, h, table, key, f);
	return f;
}

/* h0: the key's hash for table 0, computed by the burst's first stage; hit0:
 * that stage's table-0 EMC compare found f0. */
static void pipeline(struct pctx *c, const struct sw_cls *cls, uint32_t h0, bool hit0,
		     struct sw_flow *f0, uint32_t now_s)
{
	struct sw_flow_key *k = c->key;
	struct aset set;             /* only .n initialised: no 256-byte memset per packet */
	uint8_t table = 0;
	uint32_t len = c->m->pkt_len;

	set.n = 0;
	for (;;) {
		struct sw_flow *f;
		const struct sw_insts *in;
		struct sw_flow_pmd_stats *fs;

		if (table == 0 && hit0) {
			c->pmd->stats.emc_lookups++;
			c->pmd->stats.emc_hits++;
			f = f0;
		} else {
			f = lookup(c->pmd, cls, table, k, table ? sw_flow_key_hash(k, table) : h0);
		}
		c->pmd->tables[table].lookups++;
		if (!f) {
			if (__atomic_load_n(&sw_dp.fail_secure, __ATOMIC_RELAXED))
				sw_count_drop(c->pmd, c->in, SW_DROP_TABLE_MISS);
			else
				c->pending_normal = true;
			break;
		}
		c->pmd->tables[table].matches++;
		c->flow = f;
		c->table = table;
		fs = &f->stats[c->pmd->idx];
		fs->packets++;
		fs->bytes += len;
		if (fs->used_s != now_s)
			fs->used_s = now_s;
		in = __atomic_load_n(&f->insts, __ATOMIC_ACQUIRE);
		for (unsigned i = 0; i < in->n_apply && c->m; i++)
			action_run(c, &in->acts[i]);
		if (!c->m)
			return;
		if (in->clear_actions)
			set.n = 0;
		for (unsigned i = 0; i < in->n_write; i++)
			aset_write(&set, &in->acts[in->n_apply + i]);
		if (in->write_md)
			k->metadata = (k->metadata & ~in->md_mask) | (in->md & in->md_mask);
		if (!in->has_goto || in->goto_table <= table)
			break;
		table = in->goto_table;
	}
	aset_run(c, &set);
	if (!c->m)
		return;
	if (!c->output && !c->pending_normal)
		sw_count_drop(c->pmd, c->in, SW_DROP_FLOW);
	pipeline_end(c);
}

void sw_flow_exec_burst(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_vport *in,
			const struct sw_cls *cls, struct rte_mbuf **pkts, struct sw_flow_key *keys,
			uint16_t n, uint32_t now_s)
{
	struct rte_mbuf *npkts[SW_BURST];
	struct sw_flow_key nkeys[SW_BURST];
	uint32_t h0[SW_BURST];
	struct sw_flow *f0[SW_BURST];
	bool hit0[SW_BURST];
	uint16_t nn = 0;

	/* Stage 1: every key's table-0 signature, and a prefetch of its EMC
	 * entry, so that the entries are in cache when stage 2 compares. */
	for (uint16_t i = 0; i < n; i++) {
		const struct sw_emc_entry *e;

		if (!pkts[i])
			continue;
		h0[i] = sw_flow_key_hash(&keys[i], 0);
		e = &pmd->emc->e[h0[i] & (SW_EMC_ENTRIES - 1)];
		rte_prefetch0(e);
		rte_prefetch0((const uint8_t *)e + RTE_CACHE_LINE_SIZE);
	}
	/* Stage 2: the table-0 EMC compares of the whole burst, and a prefetch
	 * of what executing a hit touches: the line of the flow holding its
	 * instructions pointer, this PMD's counters, then the instructions. */
	for (uint16_t i = 0; i < n; i++) {
		hit0[i] = pkts[i] && sw_emc_lookup(pmd->emc, cls->version, h0[i], 0, &keys[i], &f0[i]);
		if (hit0[i] && f0[i]) {
			rte_prefetch0(&f0[i]->insts);
			rte_prefetch0(&f0[i]->stats[pmd->idx]);
		}
	}
	for (uint16_t i = 0; i < n; i++)
		if (hit0[i] && f0[i])
			rte_prefetch0(__atomic_load_n(&f0[i]->insts, __ATOMIC_RELAXED));
	/* Stage 3: the rest of the lookups (EMC, megaflows, classifier),
	 * instructions, actions. */
	for (uint16_t i = 0; i < n; i++) {
		struct pctx c = {
			.pmd = pmd, .v = v, .in = in, .m = pkts[i], .key = &keys[i],
			.pending = PENDING_NONE, .normal_pkts = npkts, .normal_keys = nkeys,
			.n_normal = &nn,
		};

		if (!pkts[i])
			continue;
		/* One NORMAL per packet at most reaches the bridge (the rest are
		 * copies made by pending_flush); keep the burst bounded. */
		if (nn >= SW_BURST - 1) {
			sw_bridge_normal_burst(pmd, v, in, npkts, nkeys, nn, now_s);
			nn = 0;
		}
		pipeline(&c, cls, h0[i], hit0[i], f0[i], now_s);
	}
	if (nn)
		sw_bridge_normal_burst(pmd, v, in, npkts, nkeys, nn, now_s);
}

/* ------------------------------------------------------------- groups */

static bool bucket_live(const struct sw_view *v, const struct sw_groups *gs,
			const struct sw_bucket *b)
{
	if (b->watch_port <= SW_OFPORT_MAX) {
		uint8_t vidx = v->vidx_by_ofport[b->watch_port];

		if (vidx == SW_VIDX_NONE || !v->ports[vidx].poll)
			return false;
	}
	if (b->watch_group <= 0xffffff00u && !sw_groups_find(gs, b->watch_group))
		return false;
	return true;
}

/* Runs one bucket on its own reference of the packet (written only after a
 * copy, see pkt_exclusive) and its own copy of the key. */
static void bucket_run(struct pctx *c, const struct sw_bucket *b)
{
	struct sw_flow_key key = *c->key;
	struct pctx bc = *c;

	rte_mbuf_refcnt_update(c->m, 1);
	bc.key = &key;
	bc.pending = PENDING_NONE;
	bc.pending_normal = false;
	bc.output = false;
	bc.group_depth = (uint8_t)(c->group_depth + 1);
	for (unsigned i = 0; i < b->n_acts && bc.m; i++)
		action_run(&bc, &b->acts[i]);
	if (bc.m)
		pipeline_end(&bc);
}

static void group_run(struct pctx *c, uint32_t id)
{
	const struct sw_groups *gs = __atomic_load_n(&sw_dp.groups, __ATOMIC_ACQUIRE);
	const struct sw_group *g = sw_groups_find(gs, id);
	const struct sw_bucket *pick = NULL;

	c->pmd->stats.to_group++;
	if (!g || c->group_depth >= SW_GROUP_MAX_DEPTH || !g->n_buckets) {
		c->pmd->stats.group_drops++;
		return;
	}
	/* Earlier outputs leave with the packet as it is now. */
	pending_flush(c);
	switch (g->type) {
	case 0: /* OFPGT_ALL */
		for (unsigned i = 0; i < g->n_buckets && c->m; i++)
			bucket_run(c, &g->buckets[i]);
		return;
	case 1: { /* OFPGT_SELECT: by flow hash, weighted */
		uint32_t h = sw_flow_key_hash(c->key, 0xff) % g->total_weight;

		for (unsigned i = 0; i < g->n_buckets; i++) {
			if (h < g->buckets[i].weight) {
				pick = &g->buckets[i];
				break;
			}
			h -= g->buckets[i].weight;
		}
		break;
	}
	case 2: /* OFPGT_INDIRECT */
		pick = &g->buckets[0];
		break;
	default: /* OFPGT_FF: the first live bucket */
		for (unsigned i = 0; i < g->n_buckets && !pick; i++)
			if (bucket_live(c->v, gs, &g->buckets[i]))
				pick = &g->buckets[i];
		break;
	}
	if (!pick) {
		c->pmd->stats.group_drops++;
		return;
	}
	bucket_run(c, pick);
}

/* ------------------------------------------------------------- PACKET_OUT */

/* The pipeline from table 0 for a PACKET_OUT's output:TABLE (m consumed). */
static void table_run(struct pctx *parent, const struct sw_cls *cls, struct rte_mbuf *m,
		      struct sw_flow_key *key, uint32_t now_s)
{
	struct pctx c = *parent;

	c.m = m;
	c.key = key;
	c.pending = PENDING_NONE;
	c.pending_normal = false;
	c.output = false;
	c.flow = NULL;
	c.table = 0;
	if (!cls || !cls->n_flows || __atomic_load_n(&sw_dp.flows_bypass, __ATOMIC_RELAXED)) {
		if (__atomic_load_n(&sw_dp.fail_secure, __ATOMIC_RELAXED) &&
		    !__atomic_load_n(&sw_dp.flows_bypass, __ATOMIC_RELAXED)) {
			sw_count_drop(c.pmd, c.in, SW_DROP_TABLE_MISS);
			rte_pktmbuf_free(m);
			return;
		}
		c.pending_normal = true;
		pipeline_end(&c);
		return;
	}
	pipeline(&c, cls, sw_flow_key_hash(key, 0), false, NULL, now_s);
}

void sw_flow_exec_actions(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_vport *in,
			  const struct sw_cls *cls, struct rte_mbuf *m, struct sw_flow_key *key,
			  const struct sw_insts *acts, uint32_t now_s)
{
	struct rte_mbuf *npkts[SW_BURST];
	struct sw_flow_key nkeys[SW_BURST];
	uint16_t nn = 0;
	struct pctx c = {
		.pmd = pmd, .v = v, .in = in, .m = m, .key = key, .pending = PENDING_NONE,
		.normal_pkts = npkts, .normal_keys = nkeys, .n_normal = &nn, .table = 0xff,
	};

	for (unsigned i = 0; i < acts->n_apply && c.m; i++) {
		const struct sw_action *a = &acts->acts[i];

		if (a->type == SW_ACT_OUTPUT && a->arg == SW_OFPP_TABLE) {
			struct sw_flow_key k2 = *c.key;
			struct rte_mbuf *copy;

			pending_flush(&c);
			copy = rte_pktmbuf_copy(c.m, sw_dp.pool, 0, UINT32_MAX);
			if (!copy) {
				sw_count_drop(pmd, in, SW_DROP_NOMEM);
				continue;
			}
			table_run(&c, cls, copy, &k2, now_s);
			c.output = true;
			if (nn >= SW_BURST - 2) {
				sw_bridge_normal_burst(pmd, v, in, npkts, nkeys, nn, now_s);
				nn = 0;
			}
			continue;
		}
		action_run(&c, a);
	}
	if (c.m) {
		if (!c.output && !c.pending_normal)
			rte_pktmbuf_free(c.m), c.m = NULL;
		else
			pipeline_end(&c);
	}
	if (nn)
		sw_bridge_normal_burst(pmd, v, in, npkts, nkeys, nn, now_s);
}
