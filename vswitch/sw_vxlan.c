/* sw_vxlan.c — VTEPs in the switch: VNI segments, remote VTEPs, underlay
 * neighbours (ARP), and the PMD paths for decap and encap. See sw_vxlan.h
 * for the threading rules and docs/vxlan.md for the behaviour.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>

#include "sw_cls.h"
#include "sw_fdb.h"
#include "sw_vlan_vni.h"
#include "sw_vxlan.h"
#include "vsl_config.h"
#include "vsl_log.h"

VSL_LOG_MODULE(vxlan);

enum {
	VX_VHASH = 4096,                 /* VNI hash buckets (power of two, > 2x VNIs) */
	VX_RHASH = 1024,                 /* remote hash buckets */
	VX_REMOTE_OTHER = SW_VX_MAX_REMOTES,   /* counters of remotes not configured */
	VX_FRAME_MIN = 60,
};

struct vx_vni {
	uint32_t vni;
	uint16_t n_remotes;
	uint32_t remotes[SW_VX_VNI_REMOTES];    /* IPv4, network order */
	uint16_t rslot[SW_VX_VNI_REMOTES];      /* their counter slots */
};

/* Immutable once published. */
struct vx_tables {
	uint32_t n_vnis;                         /* slots 0..n_vnis-1 in use */
	struct vx_vni vnis[SW_VX_MAX_VNIS];
	uint16_t vhash[VX_VHASH];                /* slot + 1; 0 = empty */
	uint32_t rip[SW_VX_MAX_REMOTES];         /* remote slot → IPv4; 0 = free */
	uint16_t rhash[VX_RHASH];                /* remote slot + 1 */
};

struct vx_cnt {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
};

/* Neighbour state word: MAC in the low 48 bits. */
enum {
	VX_N_VALID = 48,
	VX_N_STATIC = 49,
};

struct vx_neigh {
	uint32_t ip;                     /* 0 = free; claimed by CAS, never reset */
	uint32_t req_s;                  /* last ARP request (rate limit: 1/s) */
	uint64_t st;                     /* MAC | VALID | STATIC, atomic */
	struct rte_mbuf *held;           /* one packet awaiting resolution, atomic */
	uint64_t updated_s;
} __rte_cache_aligned;

static struct {
	bool ready;
	/* The encap caches' generation (struct sw_vtep_tcache): bumped after
	 * every table publish and every change of a neighbour's state word, by
	 * the control thread or a PMD learning from ARP. Readers load it before
	 * the tables and the neighbour they build an entry from, so an entry
	 * built from state older than a change carries a generation older than
	 * the change's bump. */
	uint32_t gen;
	struct vx_tables *tab;                   /* RCU */
	struct vx_cnt *vni_cnt;                  /* [pmd][SW_VX_MAX_VNIS] */
	struct vx_cnt *rem_cnt;                  /* [pmd][SW_VX_MAX_REMOTES + 1] */
	struct vx_neigh *neigh;                  /* [SW_VX_NEIGH] */
} vx;

static inline void gen_bump(void)
{
	__atomic_fetch_add(&vx.gen, 1, __ATOMIC_RELEASE);
}

static inline uint32_t hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

static inline int tab_vni_slot(const struct vx_tables *t, uint32_t vni)
{
	for (uint32_t i = 0, h = hash32(vni); i < VX_VHASH; i++) {
		uint16_t s = t->vhash[(h + i) & (VX_VHASH - 1)];

		if (!s)
			return -1;
		if (t->vnis[s - 1].vni == vni)
			return s - 1;
	}
	return -1;
}

static inline int tab_remote_slot(const struct vx_tables *t, uint32_t ip)
{
	for (uint32_t i = 0, h = hash32(ip); i < VX_RHASH; i++) {
		uint16_t s = t->rhash[(h + i) & (VX_RHASH - 1)];

		if (!s)
			return -1;
		if (t->rip[s - 1] == ip)
			return s - 1;
	}
	return -1;
}

static void tab_rehash(struct vx_tables *t)
{
	memset(t->vhash, 0, sizeof(t->vhash));
	memset(t->rhash, 0, sizeof(t->rhash));
	for (uint32_t s = 0; s < t->n_vnis; s++) {
		uint32_t h = hash32(t->vnis[s].vni);

		while (t->vhash[h & (VX_VHASH - 1)])
			h++;
		t->vhash[h & (VX_VHASH - 1)] = (uint16_t)(s + 1);
	}
	for (uint32_t s = 0; s < SW_VX_MAX_REMOTES; s++) {
		uint32_t h;

		if (!t->rip[s])
			continue;
		h = hash32(t->rip[s]);
		while (t->rhash[h & (VX_RHASH - 1)])
			h++;
		t->rhash[h & (VX_RHASH - 1)] = (uint16_t)(s + 1);
	}
}

static int vx_ensure(void)
{
	if (vx.ready)
		return 0;
	vx.tab = rte_zmalloc("vx_tab", sizeof(*vx.tab), RTE_CACHE_LINE_SIZE);
	vx.vni_cnt = rte_zmalloc("vx_vni_cnt",
				 sizeof(struct vx_cnt) * SW_MAX_PMDS * SW_VX_MAX_VNIS,
				 RTE_CACHE_LINE_SIZE);
	vx.rem_cnt = rte_zmalloc("vx_rem_cnt",
				 sizeof(struct vx_cnt) * SW_MAX_PMDS * (SW_VX_MAX_REMOTES + 1),
				 RTE_CACHE_LINE_SIZE);
	vx.neigh = rte_zmalloc("vx_neigh", sizeof(struct vx_neigh) * SW_VX_NEIGH,
			       RTE_CACHE_LINE_SIZE);
	if (!vx.tab || !vx.vni_cnt || !vx.rem_cnt || !vx.neigh) {
		rte_free(vx.tab);
		rte_free(vx.vni_cnt);
		rte_free(vx.rem_cnt);
		rte_free(vx.neigh);
		memset(&vx, 0, sizeof(vx));
		return -ENOMEM;
	}
	vx.ready = true;
	return 0;
}

void sw_vx_fini(void)
{
	if (!vx.ready)
		return;
	for (unsigned i = 0; i < SW_VX_NEIGH; i++)
		rte_pktmbuf_free(__atomic_exchange_n(&vx.neigh[i].held, NULL, __ATOMIC_ACQ_REL));
	rte_free(vx.tab);
	rte_free(vx.vni_cnt);
	rte_free(vx.rem_cnt);
	rte_free(vx.neigh);
	memset(&vx, 0, sizeof(vx));
}

static inline struct vx_cnt *vni_cnt(unsigned pmd, unsigned slot)
{
	return &vx.vni_cnt[pmd * SW_VX_MAX_VNIS + slot];
}

static inline struct vx_cnt *rem_cnt(unsigned pmd, unsigned slot)
{
	return &vx.rem_cnt[pmd * (SW_VX_MAX_REMOTES + 1) + slot];
}

/* ------------------------------------------------------------ control: tables */

static struct vx_tables *tab_copy(void)
{
	struct vx_tables *t = rte_malloc("vx_tab", sizeof(*t), RTE_CACHE_LINE_SIZE);

	if (t)
		memcpy(t, vx.tab, sizeof(*t));
	return t;
}

static void tab_publish(struct vx_tables *t)
{
	struct vx_tables *old = vx.tab;

	tab_rehash(t);
	__atomic_store_n(&vx.tab, t, __ATOMIC_RELEASE);
	gen_bump();
	sw_dp_sync();
	rte_free(old);
}

int sw_vx_vni_get(uint32_t vni, bool create, uint16_t *seg)
{
	struct vx_tables *t;
	int s;

	if (vni > VX_VNI_MAX)
		return -EINVAL;
	if (vx_ensure())
		return -ENOMEM;
	s = tab_vni_slot(vx.tab, vni);
	if (s >= 0) {
		*seg = (uint16_t)(SW_VX_SEG_BASE + s);
		return 0;
	}
	if (!create)
		return -ENOENT;
	if (vx.tab->n_vnis == SW_VX_MAX_VNIS)
		return -ENOSPC;
	t = tab_copy();
	if (!t)
		return -ENOMEM;
	s = (int)t->n_vnis++;
	memset(&t->vnis[s], 0, sizeof(t->vnis[s]));
	t->vnis[s].vni = vni;
	for (unsigned p = 0; p < SW_MAX_PMDS; p++)
		memset(vni_cnt(p, (unsigned)s), 0, sizeof(struct vx_cnt));
	tab_publish(t);
	*seg = (uint16_t)(SW_VX_SEG_BASE + s);
	return 0;
}

uint32_t sw_vx_seg_to_vni(uint16_t seg)
{
	const struct vx_tables *t = __atomic_load_n(&vx.tab, __ATOMIC_ACQUIRE);

	if (!t || seg < SW_VX_SEG_BASE || seg - SW_VX_SEG_BASE >= (int)t->n_vnis)
		return UINT32_MAX;
	return t->vnis[seg - SW_VX_SEG_BASE].vni;
}

int sw_vx_remote_add(uint32_t vni, uint32_t ip, char *err, size_t errlen)
{
	struct vx_tables *t;
	struct vx_vni *e;
	char ips[16];
	uint16_t seg;
	int ret, rs;

	if (!ip || (ntohl(ip) >> 28) >= 14 || ip == 0xffffffffu) {
		snprintf(err, errlen, "remote %s is not a unicast IPv4 address", vx_ip_format(ip, ips));
		return -EINVAL;
	}
	ret = sw_vx_vni_get(vni, true, &seg);
	if (ret) {
		snprintf(err, errlen, ret == -ENOSPC ? "too many VNIs (%d)" : "VNI %u: %s",
			 ret == -ENOSPC ? SW_VX_MAX_VNIS : (int)vni, strerror(-ret));
		return ret;
	}
	e = &vx.tab->vnis[seg - SW_VX_SEG_BASE];
	for (unsigned i = 0; i < e->n_remotes; i++) {
		if (e->remotes[i] == ip) {
			snprintf(err, errlen, "VNI %u already has remote %s", vni, vx_ip_format(ip, ips));
			return -EEXIST;
		}
	}
	if (e->n_remotes == SW_VX_VNI_REMOTES) {
		snprintf(err, errlen, "VNI %u has the maximum of %d remote VTEPs", vni,
			 SW_VX_VNI_REMOTES);
		return -ENOSPC;
	}
	t = tab_copy();
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rs = tab_remote_slot(t, ip);
	if (rs < 0) {
		for (unsigned s = 0; s < SW_VX_MAX_REMOTES; s++) {
			if (!t->rip[s]) {
				rs = (int)s;
				break;
			}
		}
		if (rs < 0) {
			rte_free(t);
			snprintf(err, errlen, "too many remote VTEPs (%d)", SW_VX_MAX_REMOTES);
			return -ENOSPC;
		}
		t->rip[rs] = ip;
		for (unsigned p = 0; p < SW_MAX_PMDS; p++)
			memset(rem_cnt(p, (unsigned)rs), 0, sizeof(struct vx_cnt));
	}
	e = &t->vnis[seg - SW_VX_SEG_BASE];
	e->remotes[e->n_remotes] = ip;
	e->rslot[e->n_remotes++] = (uint16_t)rs;
	tab_publish(t);
	VSL_INFO("VNI %u: remote VTEP %s", vni, vx_ip_format(ip, ips));
	return 0;
}

int sw_vx_remote_del(uint32_t vni, uint32_t ip, char *err, size_t errlen)
{
	struct vx_tables *t;
	struct vx_vni *e;
	char ips[16];
	uint16_t seg;
	bool used = false;
	int idx = -1;

	if (sw_vx_vni_get(vni, false, &seg)) {
		snprintf(err, errlen, "no VNI %u", vni);
		return -ENOENT;
	}
	e = &vx.tab->vnis[seg - SW_VX_SEG_BASE];
	for (unsigned i = 0; i < e->n_remotes; i++)
		if (e->remotes[i] == ip)
			idx = (int)i;
	if (idx < 0) {
		snprintf(err, errlen, "VNI %u has no remote %s", vni, vx_ip_format(ip, ips));
		return -ENOENT;
	}
	t = tab_copy();
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e = &t->vnis[seg - SW_VX_SEG_BASE];
	e->n_remotes--;
	e->remotes[idx] = e->remotes[e->n_remotes];
	e->rslot[idx] = e->rslot[e->n_remotes];
	for (unsigned s = 0; s < t->n_vnis && !used; s++)
		for (unsigned i = 0; i < t->vnis[s].n_remotes; i++)
			if (t->vnis[s].remotes[i] == ip)
				used = true;
	if (!used) {
		int rs = tab_remote_slot(t, ip);

		if (rs >= 0)
			t->rip[rs] = 0;
	}
	tab_publish(t);
	return 0;
}

/* ------------------------------------------------------------ neighbours */

static inline uint64_t mac_to_u64(const uint8_t mac[6])
{
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
	/* Two loads, not a loop of six (it was a quarter of decap's own time). */
	uint32_t lo;
	uint16_t hi;

	memcpy(&lo, mac, 4);
	memcpy(&hi, mac + 4, 2);
	return lo | (uint64_t)hi << 32;
#else
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v |= (uint64_t)mac[i] << (8 * i);
	return v;
#endif
}

static inline void u64_to_mac(uint64_t v, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(v >> (8 * i));
}

/* Finds ip's slot; with `claim`, takes a free one for it (any thread). */
static struct vx_neigh *neigh_find(uint32_t ip, bool claim)
{
	uint32_t h = hash32(ip);

	if (!ip)
		return NULL;
	for (unsigned i = 0; i < SW_VX_NEIGH; i++) {
		struct vx_neigh *e = &vx.neigh[(h + i) & (SW_VX_NEIGH - 1)];
		uint32_t cur = __atomic_load_n(&e->ip, __ATOMIC_ACQUIRE);

		if (cur == ip)
			return e;
		if (cur)
			continue;
		if (!claim)
			return NULL;
		if (__atomic_compare_exchange_n(&e->ip, &cur, ip, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE) || cur == ip)
			return e;
	}
	return NULL;
}

int sw_vx_neigh_add(uint32_t ip, const uint8_t mac[6], char *err, size_t errlen)
{
	struct vx_neigh *e;

	if (vx_ensure()) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!ip) {
		snprintf(err, errlen, "neighbour IP 0.0.0.0");
		return -EINVAL;
	}
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])) {
		snprintf(err, errlen, "neighbour MAC must be unicast and not zero");
		return -EINVAL;
	}
	e = neigh_find(ip, true);
	if (!e) {
		snprintf(err, errlen, "neighbour table full (%d)", SW_VX_NEIGH);
		return -ENOSPC;
	}
	__atomic_store_n(&e->st, mac_to_u64(mac) | 1ull << VX_N_VALID | 1ull << VX_N_STATIC,
			 __ATOMIC_RELEASE);
	gen_bump();
	return 0;
}

int sw_vx_neigh_del(uint32_t ip)
{
	struct vx_neigh *e = vx.ready ? neigh_find(ip, false) : NULL;

	if (!e || !__atomic_load_n(&e->st, __ATOMIC_ACQUIRE))
		return -ENOENT;
	/* The slot keeps its IP (a tombstone another learn of it reuses). */
	__atomic_store_n(&e->st, 0, __ATOMIC_RELEASE);
	gen_bump();
	return 0;
}

/* ------------------------------------------------------------ view */

void sw_vx_view_fixup(struct sw_view *v)
{
	for (uint32_t i = 0; i < v->n_ports; i++) {
		v->ports[i].ul_vtep = NULL;
		v->ports[i].vx_vidx = SW_VIDX_NONE;
	}
	for (uint32_t i = 0; i < v->n_ports; i++) {
		struct sw_vport *vp = &v->ports[i];
		struct sw_vtep *t = vp->vtep;
		uint8_t u;

		if (!t)
			continue;
		vp->poll = false;
		u = v->vidx_by_ofport[t->underlay_ofport];
		vp->vx_vidx = u;         /* for a vxlan port: its underlay */
		if (u == SW_VIDX_NONE)
			continue;
		v->ports[u].ul_vtep = t;
		v->ports[u].vx_vidx = (uint8_t)i;
		__atomic_store_n(&t->underlay_mtu, v->ports[u].port->mtu, __ATOMIC_RELAXED);
	}
}

bool sw_vx_port_is_underlay(const struct sw_port *p)
{
	for (unsigned i = 0; i < SW_MAX_PORTS; i++) {
		const struct sw_port *q = sw_dp.ports[i];

		if (q && q->vtep && q->vtep->underlay_ofport == p->ofport)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ PMD: encap */

uint16_t sw_vx_seg(uint64_t vni)
{
	const struct vx_tables *t = __atomic_load_n(&vx.tab, __ATOMIC_ACQUIRE);
	int s;

	if (!t || vni > VX_VNI_MAX)
		return 0;
	s = tab_vni_slot(t, (uint32_t)vni);
	return s < 0 ? 0 : (uint16_t)(SW_VX_SEG_BASE + s);
}

static void arp_request(struct sw_pmd *pmd, const struct sw_view *v, struct sw_vtep *t,
			uint8_t ul_vidx, uint32_t ip)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct rte_mbuf *m = rte_pktmbuf_alloc(sw_dp.pool);
	struct vx_arp a = { .op = VX_ARP_REQUEST, .spa = t->local_ip, .tpa = ip };
	uint8_t *p;

	if (!m)
		return;
	p = (uint8_t *)rte_pktmbuf_append(m, VX_FRAME_MIN);
	if (!p) {
		rte_pktmbuf_free(m);
		return;
	}
	memset(p, 0, VX_FRAME_MIN);
	memcpy(a.sha, t->mac, 6);
	vx_arp_build(p, bcast, &a);
	t->stats[pmd->idx].arp_requests++;
	sw_pmd_tx(pmd, v, ul_vidx, m);
}

/* The encap cache entry of (remote, vni) for this PMD, filled under
 * generation `gen` when it is stale; NULL when the neighbour of `remote` is
 * not resolved (never cached: the slow path parks the packet and asks). */
static inline bool tcache_hit(const struct sw_vtep_tcache *tc, uint32_t remote, uint32_t vni_be,
			      uint32_t gen)
{
	uint32_t kr, kv;

	memcpy(&kr, tc->t.hdr + VX_OFS_IP_DST, 4);
	memcpy(&kv, tc->t.hdr + VX_OFS_VNI, 4);
	return tc->t.spare == gen + 1 && kr == remote && kv == vni_be;
}

static inline struct sw_vtep_tcache *tcache_get(struct sw_pmd *pmd, struct sw_vtep *t,
						uint32_t vni, uint32_t remote, uint32_t gen)
{
	/* Two-way: the pair of entries at an even index (one 128-byte pair).
	 * Fibonacci hashing of the host-order address spreads the usual
	 * numbering of VTEPs (consecutive addresses) without collisions. */
	uint32_t h = (rte_be_to_cpu_32(remote) ^ vni * 0x85ebca6bu) * 0x9e3779b1u;
	struct sw_vtep_tcache *tc =
		&t->tcache[pmd->idx][(h >> (32 - SW_VX_TCACHE_SETS_LOG2)) * 2];
	uint32_t vni_be = rte_cpu_to_be_32(vni << 8);
	const struct vx_tables *tab;
	const struct vx_neigh *ne;
	uint64_t st;
	uint8_t dmac[6];
	int vs, rs;

	_Static_assert(sizeof(struct sw_vtep_tcache) == RTE_CACHE_LINE_SIZE, "one line per entry");
	if (likely(tcache_hit(tc, remote, vni_be, gen)))
		return tc;
	if (likely(tcache_hit(tc + 1, remote, vni_be, gen)))
		return tc + 1;
	/* Replace a stale entry of the pair, else the second one. */
	if (tc->t.spare == gen + 1)
		tc++;
	/* gen was loaded before these (sw_vx_tx): a change after this point
	 * bumps it past the entry's tag. */
	ne = neigh_find(remote, false);
	st = ne ? __atomic_load_n(&ne->st, __ATOMIC_ACQUIRE) : 0;
	if (!(st >> VX_N_VALID & 1))
		return NULL;
	tab = __atomic_load_n(&vx.tab, __ATOMIC_ACQUIRE);
	vs = tab ? tab_vni_slot(tab, vni) : -1;
	rs = tab ? tab_remote_slot(tab, remote) : -1;
	u64_to_mac(st, dmac);
	vx_encap_init(&tc->t, dmac, t->mac, t->local_ip, remote, t->udp_port, t->ttl, vni);
	tc->vslot = vs < 0 ? UINT16_MAX : (uint16_t)vs;
	tc->rslot = rs < 0 ? VX_REMOTE_OTHER : (uint16_t)rs;
	tc->t.spare = gen + 1;
	return tc;
}

/* Counts n packets of `bytes` inner bytes sent on the vxlan port, its VNI
 * and remote. */
static inline void encap_count(struct sw_pmd *pmd, const struct sw_vport *vxp, unsigned vslot,
			       unsigned rslot, uint32_t n, uint64_t bytes)
{
	struct sw_port_stats *ps = &vxp->port->stats[pmd->idx];
	struct vx_cnt *rc = rem_cnt(pmd->idx, rslot);

	if (vslot != UINT16_MAX) {
		struct vx_cnt *vc = vni_cnt(pmd->idx, vslot);

		vc->tx_packets += n;
		vc->tx_bytes += bytes;
	}
	rc->tx_packets += n;
	rc->tx_bytes += bytes;
	ps->tx_packets += n;
	ps->tx_bytes += bytes;
}

/* The inner frame must be ours to prepend to: a flood or a multi-output
 * flow shares it (reference counts), so the other copies get a copy.
 * Returns the frame to encapsulate, NULL (counted) when out of mbufs. */
static inline struct rte_mbuf *encap_own(struct sw_vtep_stats *ts, struct rte_mbuf *m)
{
	struct rte_mbuf *c;

	if (likely(rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m) &&
		   rte_pktmbuf_headroom(m) >= VX_OUTER_LEN))
		return m;
	c = rte_pktmbuf_copy(m, sw_dp.pool, 0, UINT32_MAX);
	rte_pktmbuf_free(m);
	if (!c)
		ts->drops[VX_DROP_NOMEM]++;
	return c;
}

/* encap_one() for a remote whose next hop is not resolved: counted as sent
 * on the VNI and the remote (as a resolved one), then parked (one packet
 * per neighbour: the queue is bounded) while an ARP request goes out, at
 * most one a second. */
static void __rte_noinline encap_unresolved(struct sw_pmd *pmd, const struct sw_view *v,
					    const struct sw_vport *vxp, struct rte_mbuf *m,
					    uint32_t vni, uint32_t remote)
{
	static const uint8_t zero[6];
	struct sw_vtep *t = vxp->vtep;
	struct sw_vtep_stats *ts = &t->stats[pmd->idx];
	const struct vx_tables *tab = __atomic_load_n(&vx.tab, __ATOMIC_ACQUIRE);
	uint32_t inner_len = m->pkt_len, now_s = sw_now_s(), req;
	int vs = tab ? tab_vni_slot(tab, vni) : -1, rs = tab ? tab_remote_slot(tab, remote) : -1;
	struct vx_encap_tmpl tmpl;
	struct rte_mbuf *old;
	struct vx_neigh *ne;
	uint64_t st;

	vx_encap_init(&tmpl, zero, t->mac, t->local_ip, remote, t->udp_port, t->ttl, vni);
	vx_encap_write(rte_pktmbuf_prepend(m, VX_OUTER_LEN), &tmpl, inner_len,
		       vx_flow_src_port(rte_pktmbuf_mtod_offset(m, void *, VX_OUTER_LEN),
					m->data_len - VX_OUTER_LEN));
	encap_count(pmd, vxp, vs < 0 ? UINT16_MAX : (unsigned)vs,
		    rs < 0 ? VX_REMOTE_OTHER : (unsigned)rs, 1, inner_len);
	ne = neigh_find(remote, true);
	if (!ne) {
		ts->drops[VX_DROP_NO_NEIGHBOR]++;
		rte_pktmbuf_free(m);
		return;
	}
	old = __atomic_exchange_n(&ne->held, m, __ATOMIC_ACQ_REL);
	ts->neigh_held++;
	if (old) {
		ts->drops[VX_DROP_NO_NEIGHBOR]++;
		rte_pktmbuf_free(old);
	}
	req = __atomic_load_n(&ne->req_s, __ATOMIC_RELAXED);
	if (req != now_s && __atomic_compare_exchange_n(&ne->req_s, &req, now_s, false,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		arp_request(pmd, v, t, vxp->vx_vidx, remote);
	/* Resolved meanwhile? Then send it now rather than wait. */
	st = __atomic_load_n(&ne->st, __ATOMIC_ACQUIRE);
	if (st >> VX_N_VALID & 1) {
		m = __atomic_exchange_n(&ne->held, NULL, __ATOMIC_ACQ_REL);
		if (m) {
			u64_to_mac(st, rte_pktmbuf_mtod(m, uint8_t *));
			ts->encap_packets++;
			ts->encap_bytes += m->pkt_len;
			sw_pmd_tx(pmd, v, vxp->vx_vidx, m);
		}
	}
}

/* Encapsulates one reference of m to `remote` and queues it on the underlay.
 * gen: the VXLAN generation, loaded before anything else of this packet. */
static inline void encap_one(struct sw_pmd *pmd, const struct sw_view *v,
			     const struct sw_vport *vxp, struct rte_mbuf *m, uint32_t vni,
			     uint32_t remote, uint32_t gen)
{
	struct sw_vtep *t = vxp->vtep;
	struct sw_vtep_stats *ts = &t->stats[pmd->idx];
	uint32_t inner_len = m->pkt_len;
	struct sw_vtep_tcache *tc;
	uint16_t sport;

	if (unlikely(vxp->vx_vidx == SW_VIDX_NONE || !v->ports[vxp->vx_vidx].cfg.admin_up)) {
		ts->drops[VX_DROP_UNDERLAY]++;
		goto drop;
	}
	if (unlikely(inner_len + VX_IP_OVERHEAD > __atomic_load_n(&t->underlay_mtu,
								    __ATOMIC_RELAXED))) {
		ts->drops[VX_DROP_MTU]++;
		goto drop;
	}
	m = encap_own(ts, m);
	if (unlikely(!m))
		return;
	tc = tcache_get(pmd, t, vni, remote, gen);
	if (unlikely(!tc)) {
		encap_unresolved(pmd, v, vxp, m, vni, remote);
		return;
	}
	/* The outer headers differ per packet only in the lengths, the
	 * checksum and the source port: the entry's copy, patched. */
	sport = vx_flow_src_port(rte_pktmbuf_mtod(m, void *), m->data_len);
	vx_encap_write(rte_pktmbuf_prepend(m, VX_OUTER_LEN), &tc->t, inner_len, sport);
	encap_count(pmd, vxp, tc->vslot, tc->rslot, 1, inner_len);
	ts->encap_packets++;
	ts->encap_bytes += m->pkt_len;
	sw_pmd_tx(pmd, v, vxp->vx_vidx, m);
	return;
drop:
	rte_pktmbuf_free(m);
}

void sw_vx_tx(struct sw_pmd *pmd, const struct sw_view *v, uint8_t vidx, struct rte_mbuf *m,
	      uint64_t vni64, uint32_t remote)
{
	const struct sw_vport *vxp = &v->ports[vidx];
	struct sw_vtep *t = vxp->vtep;
	uint32_t gen = __atomic_load_n(&vx.gen, __ATOMIC_ACQUIRE);
	const struct vx_tables *tab;
	const struct vx_vni *e;
	uint32_t vni;
	int vs;

	if (t->vni_fixed)
		vni = t->vni;
	else if (likely(vni64 <= VX_VNI_MAX))
		vni = (uint32_t)vni64;
	else {
		t->stats[pmd->idx].drops[VX_DROP_UNKNOWN_VNI]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (!remote)
		remote = t->remote_ip;
	if (remote) {
		/* Unicast: the entry of (remote, VNI) has all it needs. */
		encap_one(pmd, v, vxp, m, vni, remote, gen);
		return;
	}
	tab = __atomic_load_n(&vx.tab, __ATOMIC_ACQUIRE);
	vs = tab ? tab_vni_slot(tab, vni) : -1;
	e = vs >= 0 ? &tab->vnis[vs] : NULL;
	if (!e || !e->n_remotes) {
		t->stats[pmd->idx].drops[VX_DROP_NO_REMOTE]++;
		rte_pktmbuf_free(m);
		return;
	}
	/* Head-end replication: one copy per remote VTEP of the VNI. */
	if (e->n_remotes > 1) {
		rte_mbuf_refcnt_update(m, (int16_t)(e->n_remotes - 1));
		t->stats[pmd->idx].flood_copies += e->n_remotes;
	}
	for (unsigned i = 0; i < e->n_remotes; i++)
		encap_one(pmd, v, vxp, m, vni, e->remotes[i], gen);
}

void sw_vx_tx_bulk(struct sw_pmd *pmd, const struct sw_view *v, uint8_t vidx,
		   struct rte_mbuf **pkts, uint16_t n, uint64_t vni64, uint32_t remote)
{
	const struct sw_vport *vxp = &v->ports[vidx];
	struct sw_vtep *t = vxp->vtep;
	struct sw_vtep_stats *ts = &t->stats[pmd->idx];
	uint32_t gen = __atomic_load_n(&vx.gen, __ATOMIC_ACQUIRE), vni, mtu, sent = 0;
	const struct sw_vtep_tcache *tc = NULL;
	uint64_t ibytes = 0, obytes = 0;
	uint16_t vslot, rslot;

	if (!remote)
		remote = t->remote_ip;
	vni = t->vni_fixed ? t->vni : vni64 <= VX_VNI_MAX ? (uint32_t)vni64 : UINT32_MAX;
	if (likely(remote && vni != UINT32_MAX && vxp->vx_vidx != SW_VIDX_NONE &&
		   v->ports[vxp->vx_vidx].cfg.admin_up))
		tc = tcache_get(pmd, t, vni, remote, gen);
	if (unlikely(!tc)) {
		/* Anything but a resolved unicast: one at a time. */
		for (uint16_t i = 0; i < n; i++)
			sw_vx_tx(pmd, v, vidx, pkts[i], vni64, remote);
		return;
	}
	vslot = tc->vslot;
	rslot = tc->rslot;
	mtu = __atomic_load_n(&t->underlay_mtu, __ATOMIC_RELAXED);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t inner_len = m->pkt_len;

		if (unlikely(inner_len + VX_IP_OVERHEAD > mtu)) {
			ts->drops[VX_DROP_MTU]++;
			rte_pktmbuf_free(m);
			continue;
		}
		m = encap_own(ts, m);
		if (unlikely(!m))
			continue;
		vx_encap_write(rte_pktmbuf_prepend(m, VX_OUTER_LEN), &tc->t, inner_len,
			       vx_flow_src_port(rte_pktmbuf_mtod_offset(m, void *, VX_OUTER_LEN),
						m->data_len - VX_OUTER_LEN));
		sent++;
		ibytes += inner_len;
		obytes += m->pkt_len;
		sw_pmd_tx(pmd, v, vxp->vx_vidx, m);
	}
	encap_count(pmd, vxp, vslot, rslot, sent, ibytes);
	ts->encap_packets += sent;
	ts->encap_bytes += obytes;
}

/* ------------------------------------------------------------ PMD: decap */

static void arp_in(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_vport *ul,
		   struct sw_vtep *t, struct rte_mbuf *m, uint32_t now_s)
{
	struct sw_vtep_stats *ts = &t->stats[pmd->idx];
	uint8_t ul_vidx = v->vidx_by_ofport[ul->ofport];
	struct vx_arp a, r;
	struct vx_neigh *ne;

	if (vx_arp_parse(rte_pktmbuf_mtod(m, void *), m->data_len, &a) ||
	    (a.tpa != t->local_ip && a.spa != a.tpa) || !a.spa || (a.sha[0] & 1)) {
		ts->drops[VX_DROP_ARP]++;
		goto drop;
	}
	/* Learn the sender (RFC 826: merge when we are the target; a
	 * gratuitous ARP only refreshes a neighbour we already know). */
	ne = neigh_find(a.spa, a.tpa == t->local_ip);
	if (ne) {
		uint64_t st = __atomic_load_n(&ne->st, __ATOMIC_ACQUIRE);
		uint64_t want = mac_to_u64(a.sha) | 1ull << VX_N_VALID;
		struct rte_mbuf *held;

		if (!(st >> VX_N_STATIC & 1)) {
			if (st != want) {
				__atomic_store_n(&ne->st, want, __ATOMIC_RELEASE);
				gen_bump();
			}
			__atomic_store_n(&ne->updated_s, now_s, __ATOMIC_RELAXED);
			held = __atomic_exchange_n(&ne->held, NULL, __ATOMIC_ACQ_REL);
			if (held) {
				memcpy(rte_pktmbuf_mtod(held, uint8_t *), a.sha, 6);
				ts->encap_packets++;
				ts->encap_bytes += held->pkt_len;
				sw_pmd_tx(pmd, v, ul_vidx, held);
			}
		}
	}
	if (a.op != VX_ARP_REQUEST || a.tpa != t->local_ip)
		goto drop;
	/* Answer in place: the request's buffer becomes the reply. */
	r.op = VX_ARP_REPLY;
	memcpy(r.sha, t->mac, 6);
	r.spa = t->local_ip;
	memcpy(r.tha, a.sha, 6);
	r.tpa = a.spa;
	if (rte_mbuf_refcnt_read(m) != 1 || m->data_len < VX_ARP_LEN) {
		ts->drops[VX_DROP_NOMEM]++;
		goto drop;
	}
	vx_arp_build(rte_pktmbuf_mtod(m, void *), a.sha, &r);
	ts->arp_replies++;
	sw_pmd_tx(pmd, v, ul_vidx, m);
	return;
drop:
	rte_pktmbuf_free(m);
}

/* A decap burst's counters for a run of frames of one VNI from one remote,
 * added to the shared per-PMD lines when the run ends. */
struct rx_run {
	int vs, rs;
	uint64_t packets, bytes;
};

static inline void rx_run_flush(unsigned pmd, const struct rx_run *r)
{
	struct vx_cnt *vc, *rc;

	if (!r->packets)
		return;
	vc = vni_cnt(pmd, (unsigned)r->vs);
	rc = rem_cnt(pmd, (unsigned)r->rs);
	vc->rx_packets += r->packets;
	vc->rx_bytes += r->bytes;
	rc->rx_packets += r->packets;
	rc->rx_bytes += r->bytes;
}

void sw_vx_rx_burst(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_cls *cls,
		    const struct sw_vport *ul, struct rte_mbuf **pkts, uint16_t n, uint32_t now_s)
{
	struct sw_port_stats *st = &ul->port->stats[pmd->idx];
	struct sw_vtep *t = ul->ul_vtep;
	struct sw_vtep_stats *ts = &t->stats[pmd->idx];
	const struct sw_vport *vxp = &v->ports[ul->vx_vidx];
	struct sw_port_stats *vst = &vxp->port->stats[pmd->idx];
	const struct vx_tables *tab = __atomic_load_n(&vx.tab, __ATOMIC_ACQUIRE);
	struct rte_mbuf *in[SW_BURST];
	struct sw_flow_key keys[SW_BURST];
	uint16_t nd = 0;
	uint64_t bytes = 0, dbytes = 0;
	/* Frames of a burst mostly share their VNI, remote and inner source:
	 * the last lookups' results are reused while they match, and a
	 * (source MAC, VNI, remote) is learned once per burst. */
	uint32_t last_vni = UINT32_MAX, last_ip = 0, learned_ip = 0;
	uint64_t learned_mac = UINT64_MAX;
	int last_vs = -1, learned_vs = -1;
	struct rx_run run = { .vs = -1, .rs = -1 };

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct vx_decap_info info;
		enum vx_rx r;
		uint64_t mac;
		int vs;

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		bytes += m->pkt_len;
		if (ul->capture)
			sw_capture_packet(pmd, ul, m, false);
		r = vx_decap_parse(rte_pktmbuf_mtod(m, void *), m->data_len, t->local_ip, t->udp_port,
				   &info);
		if (unlikely(r == VX_RX_ARP)) {
			arp_in(pmd, v, ul, t, m, now_s);
			continue;
		}
		if (unlikely(r == VX_RX_DROP)) {
			ts->drops[info.drop]++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (info.vni != last_vni) {
			last_vs = tab ? tab_vni_slot(tab, info.vni) : -1;
			last_vni = info.vni;
		}
		vs = last_vs;
		if (unlikely(vs < 0 || (t->vni_fixed && info.vni != t->vni))) {
			ts->drops[VX_DROP_UNKNOWN_VNI]++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (unlikely(!vxp->cfg.admin_up)) {
			vst->drops[SW_DROP_ADMIN_DOWN]++;
			rte_pktmbuf_free(m);
			continue;
		}
		rte_pktmbuf_adj(m, info.inner_ofs);
		if (m->pkt_len > info.inner_len)
			rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - info.inner_len));
		if (unlikely(sw_packet_parse(rte_pktmbuf_mtod(m, void *), m->data_len, t->ofport,
					     &keys[nd]))) {
			ts->drops[VX_DROP_INNER]++;
			rte_pktmbuf_free(m);
			continue;
		}
		keys[nd].tunnel_id = info.vni;
		/* Flood-and-learn: the inner source lives behind the outer source. */
		mac = mac_to_u64(keys[nd].dl_src);
		if ((mac != learned_mac || vs != learned_vs || info.src_ip != learned_ip) &&
		    !sw_eth_addr_is_multicast(keys[nd].dl_src) && !sw_eth_addr_is_zero(keys[nd].dl_src)) {
			sw_fdb_learn_tun(sw_dp.fdb, pmd->fdbc, keys[nd].dl_src,
					 (uint16_t)(SW_VX_SEG_BASE + vs), t->ofport,
					 vxp->cfg.mac_limit, now_s, info.src_ip);
			learned_mac = mac;
			learned_vs = vs;
			learned_ip = info.src_ip;
		}
		if (vs != run.vs || info.src_ip != last_ip) {
			int rs;

			rx_run_flush(pmd->idx, &run);
			if (info.src_ip != last_ip || run.rs < 0) {
				rs = tab_remote_slot(tab, info.src_ip);
				run.rs = rs < 0 ? VX_REMOTE_OTHER : rs;
				last_ip = info.src_ip;
			}
			run.vs = vs;
			run.packets = run.bytes = 0;
		}
		run.packets++;
		run.bytes += m->pkt_len;
		dbytes += m->pkt_len;
		in[nd++] = m;
	}
	rx_run_flush(pmd->idx, &run);
	ts->decap_packets += nd;
	ts->decap_bytes += dbytes;
	vst->rx_packets += nd;
	vst->rx_bytes += dbytes;
	st->rx_packets += n;
	st->rx_bytes += bytes;
	if (!nd)
		return;
	/* The decapsulated burst continues as if received on the vxlan port. */
	if (cls && cls->n_flows) {
		sw_flow_exec_burst(pmd, v, vxp, cls, in, keys, nd, now_s);
	} else if (__atomic_load_n(&sw_dp.fail_secure, __ATOMIC_RELAXED)) {
		vst->drops[SW_DROP_TABLE_MISS] += nd;
		rte_pktmbuf_free_bulk(in, nd);
	} else {
		sw_bridge_normal_burst(pmd, v, vxp, in, keys, nd, now_s);
	}
}

/* ------------------------------------------------------------ show, config */

void sw_vx_stats_sum(const struct sw_vtep *t, struct sw_vtep_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned p = 0; p < SW_MAX_PMDS; p++) {
		const struct sw_vtep_stats *s = &t->stats[p];

		sum->decap_packets += s->decap_packets;
		sum->decap_bytes += s->decap_bytes;
		sum->encap_packets += s->encap_packets;
		sum->encap_bytes += s->encap_bytes;
		sum->flood_copies += s->flood_copies;
		sum->arp_replies += s->arp_replies;
		sum->arp_requests += s->arp_requests;
		sum->neigh_held += s->neigh_held;
		for (unsigned d = 0; d < VX_DROP_N; d++)
			sum->drops[d] += s->drops[d];
	}
}

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void cnt_json(struct json_object *o, struct vx_cnt *(*get)(unsigned, unsigned), unsigned slot)
{
	struct vx_cnt s = { 0 };

	for (unsigned p = 0; p < SW_MAX_PMDS; p++) {
		const struct vx_cnt *c = get(p, slot);

		s.rx_packets += c->rx_packets;
		s.rx_bytes += c->rx_bytes;
		s.tx_packets += c->tx_packets;
		s.tx_bytes += c->tx_bytes;
	}
	add_u64(o, "rx_packets", s.rx_packets);
	add_u64(o, "rx_bytes", s.rx_bytes);
	add_u64(o, "tx_packets", s.tx_packets);
	add_u64(o, "tx_bytes", s.tx_bytes);
}

static void fmt_mac(const uint8_t m[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

struct learned_ctx {
	struct json_object *arr[SW_VX_MAX_VNIS];
};

static void learned_one(const uint8_t mac[6], uint16_t vlan, uint16_t ofport, uint32_t age_s,
			void *arg)
{
	struct learned_ctx *c = arg;
	const struct sw_port *p = sw_port_find_ofport(ofport);
	struct json_object *o;
	char buf[18], ips[16];
	uint32_t tun;

	if (!sw_vx_is_seg(vlan) || vlan - SW_VX_SEG_BASE >= SW_VX_MAX_VNIS ||
	    !c->arr[vlan - SW_VX_SEG_BASE])
		return;
	o = json_object_new_object();
	fmt_mac(mac, buf);
	add_str(o, "mac", buf);
	add_str(o, "port", p ? p->name : "?");
	tun = p && p->vtep ? sw_fdb_tun(sw_dp.fdb, mac, vlan) : 0;
	if (tun)
		add_str(o, "remote", vx_ip_format(tun, ips));
	add_u64(o, "age", age_s);
	json_object_array_add(c->arr[vlan - SW_VX_SEG_BASE], o);
}

/* Trunk VLANs bound to the VNI (sw_vlan_vni.h), with their counters. */
static struct json_object *vni_vlans_json(uint32_t vni)
{
	struct json_object *arr = json_object_new_array();

	for (uint16_t of = 1; of <= SW_OFPORT_MAX; of++) {
		struct sw_port *p = sw_port_find_ofport(of);
		const struct sw_vv_map *m = p ? p->cfg.vv : NULL;

		for (unsigned s = 0; m && s < SW_VV_MAX; s++) {
			struct json_object *o;
			struct sw_vv_stats c;

			if (!m->b[s].vlan || m->b[s].vni != vni)
				continue;
			sw_vv_stats_sum(m, s, &c);
			o = json_object_new_object();
			add_str(o, "port", p->name);
			add_u64(o, "vlan", m->b[s].vlan);
			add_u64(o, "rx_packets", c.rx_packets);
			add_u64(o, "rx_bytes", c.rx_bytes);
			add_u64(o, "tx_packets", c.tx_packets);
			add_u64(o, "tx_bytes", c.tx_bytes);
			json_object_array_add(arr, o);
		}
	}
	return arr;
}

struct json_object *sw_vx_show_json(void)
{
	struct json_object *res = json_object_new_object(), *vteps = json_object_new_array();
	struct json_object *vnis = json_object_new_array(), *rems = json_object_new_array();
	struct json_object *neighs = json_object_new_array();
	const struct vx_tables *tab = vx.ready ? vx.tab : NULL;
	struct learned_ctx lc;
	char ips[16], buf[18];

	memset(&lc, 0, sizeof(lc));
	for (uint16_t of = 1; of <= SW_OFPORT_MAX; of++) {
		struct sw_port *p = sw_port_find_ofport(of);
		struct sw_vtep_stats s;
		struct json_object *o, *drops;

		if (!p || !p->vtep)
			continue;
		o = json_object_new_object();
		drops = json_object_new_object();
		add_str(o, "port", p->name);
		add_u64(o, "ofport", p->ofport);
		add_str(o, "local_ip", vx_ip_format(p->vtep->local_ip, ips));
		add_str(o, "underlay", p->vtep->underlay);
		fmt_mac(p->vtep->mac, buf);
		add_str(o, "mac", buf);
		add_u64(o, "dst_port", p->vtep->udp_port_h);
		add_u64(o, "ttl", p->vtep->ttl);
		if (p->vtep->remote_ip)
			add_str(o, "remote_ip", vx_ip_format(p->vtep->remote_ip, ips));
		else
			add_str(o, "remote_ip", "flow");
		if (p->vtep->vni_fixed)
			add_u64(o, "vni", p->vtep->vni);
		else
			add_str(o, "vni", "flow");
		add_u64(o, "underlay_mtu", p->vtep->underlay_mtu);
		add_u64(o, "tenant_mtu", p->vtep->underlay_mtu > VX_OVERHEAD ?
				p->vtep->underlay_mtu - VX_OVERHEAD : 0);
		sw_vx_stats_sum(p->vtep, &s);
		add_u64(o, "decap_packets", s.decap_packets);
		add_u64(o, "decap_bytes", s.decap_bytes);
		add_u64(o, "encap_packets", s.encap_packets);
		add_u64(o, "encap_bytes", s.encap_bytes);
		add_u64(o, "flood_copies", s.flood_copies);
		add_u64(o, "arp_replies", s.arp_replies);
		add_u64(o, "arp_requests", s.arp_requests);
		add_u64(o, "neigh_held", s.neigh_held);
		for (unsigned d = 0; d < VX_DROP_N; d++)
			add_u64(drops, vx_drop_name((enum vx_drop)d), s.drops[d]);
		json_object_object_add(o, "drops", drops);
		json_object_array_add(vteps, o);
	}
	for (uint32_t s = 0; tab && s < tab->n_vnis; s++) {
		const struct vx_vni *e = &tab->vnis[s];
		struct json_object *o = json_object_new_object(), *ra = json_object_new_array();
		struct json_object *pa = json_object_new_array();

		add_u64(o, "vni", e->vni);
		add_u64(o, "segment", SW_VX_SEG_BASE + s);
		for (unsigned i = 0; i < e->n_remotes; i++)
			json_object_array_add(ra, json_object_new_string(vx_ip_format(e->remotes[i],
										       ips)));
		json_object_object_add(o, "remotes", ra);
		for (uint16_t of = 1; of <= SW_OFPORT_MAX; of++) {
			struct sw_port *p = sw_port_find_ofport(of);

			if (p && p->vni == e->vni)
				json_object_array_add(pa, json_object_new_string(p->name));
		}
		json_object_object_add(o, "ports", pa);
		json_object_object_add(o, "vlans", vni_vlans_json(e->vni));
		cnt_json(o, vni_cnt, s);
		lc.arr[s] = json_object_new_array();
		json_object_object_add(o, "macs", lc.arr[s]);
		json_object_array_add(vnis, o);
	}
	if (tab)
		sw_fdb_foreach(sw_dp.fdb, sw_now_s(), learned_one, &lc);
	for (unsigned r = 0; tab && r <= SW_VX_MAX_REMOTES; r++) {
		struct json_object *o, *va;

		if (r < SW_VX_MAX_REMOTES && !tab->rip[r])
			continue;
		o = json_object_new_object();
		add_str(o, "remote", r < SW_VX_MAX_REMOTES ? vx_ip_format(tab->rip[r], ips)
							   : "other");
		va = json_object_new_array();
		for (uint32_t s = 0; r < SW_VX_MAX_REMOTES && s < tab->n_vnis; s++)
			for (unsigned i = 0; i < tab->vnis[s].n_remotes; i++)
				if (tab->vnis[s].rslot[i] == r)
					json_object_array_add(va,
						json_object_new_int64(tab->vnis[s].vni));
		json_object_object_add(o, "vnis", va);
		cnt_json(o, rem_cnt, r);
		json_object_array_add(rems, o);
	}
	for (unsigned i = 0; vx.ready && i < SW_VX_NEIGH; i++) {
		const struct vx_neigh *e = &vx.neigh[i];
		uint32_t ip = __atomic_load_n(&e->ip, __ATOMIC_ACQUIRE);
		uint64_t st = __atomic_load_n(&e->st, __ATOMIC_ACQUIRE);
		struct json_object *o;
		uint8_t mac[6];

		if (!ip || (!st && !__atomic_load_n(&e->held, __ATOMIC_RELAXED) &&
			    !__atomic_load_n(&e->req_s, __ATOMIC_RELAXED)))
			continue;
		o = json_object_new_object();
		add_str(o, "ip", vx_ip_format(ip, ips));
		if (st >> VX_N_VALID & 1) {
			u64_to_mac(st, mac);
			fmt_mac(mac, buf);
			add_str(o, "mac", buf);
			add_str(o, "state", st >> VX_N_STATIC & 1 ? "static" : "reachable");
		} else {
			add_str(o, "state", "incomplete");
		}
		json_object_array_add(neighs, o);
	}
	json_object_object_add(res, "vteps", vteps);
	json_object_object_add(res, "vnis", vnis);
	json_object_object_add(res, "remotes", rems);
	json_object_object_add(res, "neighbors", neighs);
	return res;
}

int sw_vx_config_write(struct json_object *calls)
{
	char ips[16], buf[18];
	int ret;

	if (!vx.ready)
		return 0;
	for (unsigned i = 0; i < SW_VX_NEIGH; i++) {
		uint64_t st = __atomic_load_n(&vx.neigh[i].st, __ATOMIC_ACQUIRE);
		struct json_object *o;
		uint8_t mac[6];

		if (!(st >> VX_N_STATIC & 1))
			continue;
		u64_to_mac(st, mac);
		fmt_mac(mac, buf);
		o = json_object_new_object();
		add_str(o, "ip", vx_ip_format(vx.neigh[i].ip, ips));
		add_str(o, "mac", buf);
		ret = vsl_config_add_call(calls, "vtep-add-neighbor", o);
		if (ret)
			return ret;
	}
	for (uint32_t s = 0; s < vx.tab->n_vnis; s++) {
		for (unsigned i = 0; i < vx.tab->vnis[s].n_remotes; i++) {
			struct json_object *o = json_object_new_object();

			add_u64(o, "vni", vx.tab->vnis[s].vni);
			add_str(o, "remote", vx_ip_format(vx.tab->vnis[s].remotes[i], ips));
			ret = vsl_config_add_call(calls, "vtep-add-remote", o);
			if (ret)
				return ret;
		}
	}
	return 0;
}
