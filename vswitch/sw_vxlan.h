/* sw_vxlan.h — VXLAN in the switch: VTEPs (one per `vxlan` port), VNI
 * segments, remote VTEPs, underlay neighbours, and the PMD hooks for decap
 * (underlay rx) and encap (tx toward a vxlan port). The wire format is the
 * vxlan library's (vxlan/include/vxlan.h). Documented in docs/vxlan.md.
 *
 * Segments. A VNI known to the switch has a slot i; inside the bridge its
 * frames belong to "VLAN" SW_VX_SEG_BASE + i (above 802.1Q's 4095), so the
 * FDB, learning and flooding of the NORMAL bridge work per VNI unchanged: an
 * access port bound to VNI N (`vni=N`) is an access port of that segment, and
 * the vxlan port carries every segment (it encapsulates with the segment's
 * VNI). The same MAC in two VNIs is two FDB keys.
 *
 * Threads. The VNI/remote tables are one immutable struct published by the
 * control thread (release store, RCU grace period before the old copy is
 * freed), like the view. A struct sw_vtep never changes after the port is
 * added, except its per-PMD counters and the underlay MTU (atomic). The
 * neighbour table is lock-free: PMDs learn from ARP (CAS to claim a slot,
 * atomic store of the MAC); the control thread adds and removes static ones.
 */
#ifndef SW_VXLAN_H
#define SW_VXLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "sw_internal.h"
#include "vxlan.h"

enum {
	SW_VX_SEG_BASE = 4096,
	SW_VX_MAX_VNIS = 1024,          /* segments 4096..5119 */
	SW_VX_MAX_REMOTES = 256,        /* distinct remote VTEPs with counters */
	SW_VX_VNI_REMOTES = 128,        /* remote VTEPs per VNI (head-end replication) */
	SW_VX_NEIGH = 256,              /* underlay neighbours */
};

struct sw_vtep_stats {
	uint64_t decap_packets, decap_bytes;   /* inner frames handed to the bridge */
	uint64_t encap_packets, encap_bytes;   /* outer frames queued on the underlay */
	uint64_t flood_copies;                 /* head-end replicated copies */
	uint64_t arp_replies, arp_requests;    /* sent by the VTEP */
	uint64_t neigh_held;                   /* packets parked awaiting ARP */
	uint64_t drops[VX_DROP_N];
} __rte_cache_aligned;

/* A PMD's encap cache: per (remote VTEP, VNI) the complete outer header of
 * the resolved next hop, and the counter slots of the VNI and the remote, in
 * one cache line, so that a unicast encap does no table or neighbour lookup.
 * The key is in the header itself (destination IP, VNI); an entry is valid
 * under the VXLAN generation it was built in (t.spare = generation + 1),
 * which changes whenever the VNI/remote tables are republished or an
 * underlay neighbour's MAC or state changes (see sw_vxlan.c). Only resolved
 * neighbours are cached. */
struct sw_vtep_tcache {
	struct vx_encap_tmpl t;
	uint16_t vslot;               /* VNI counter slot, UINT16_MAX: VNI not known */
	uint16_t rslot;               /* remote counter slot */
} __rte_cache_aligned;

enum {
	SW_VX_TCACHE_SETS_LOG2 = 8,
	SW_VX_TCACHE = 2 << SW_VX_TCACHE_SETS_LOG2,   /* entries per PMD and VTEP, two-way */
};

/* One per vxlan port; immutable once the port is published (see above). */
struct sw_vtep {
	uint32_t local_ip;            /* network order */
	uint16_t udp_port;            /* network order */
	uint16_t udp_port_h;          /* host order */
	uint8_t ttl;
	uint32_t remote_ip;           /* 0: remote_ip=flow (per VNI / learned) */
	bool vni_fixed;
	uint32_t vni;                 /* when vni_fixed */
	uint16_t ofport;              /* the vxlan port */
	char underlay[SW_NAME_MAX];
	uint16_t underlay_ofport;
	uint8_t mac[6];               /* the underlay port's MAC */
	uint32_t underlay_mtu;        /* atomic: refreshed when the view is rebuilt */
	struct sw_vtep_stats stats[SW_MAX_PMDS];
	struct sw_vtep_tcache tcache[SW_MAX_PMDS][SW_VX_TCACHE];   /* each PMD its own row */
};

/* ---- control thread ---- */

/* Tables are created on first use; sw_vx_fini() frees them at shutdown. */
void sw_vx_fini(void);
/* The segment of VNI, created when `create` (-ENOSPC when full). */
int sw_vx_vni_get(uint32_t vni, bool create, uint16_t *seg);
uint32_t sw_vx_seg_to_vni(uint16_t seg);       /* UINT32_MAX when not a segment */
int sw_vx_remote_add(uint32_t vni, uint32_t ip, char *err, size_t errlen);
int sw_vx_remote_del(uint32_t vni, uint32_t ip, char *err, size_t errlen);
int sw_vx_neigh_add(uint32_t ip, const uint8_t mac[6], char *err, size_t errlen);
int sw_vx_neigh_del(uint32_t ip);
/* Called by sw_view_publish() on the view being built: links underlay ports
 * and vxlan ports. */
void sw_vx_view_fixup(struct sw_view *v);
/* True when the port is the underlay of a vxlan port. */
bool sw_vx_port_is_underlay(const struct sw_port *p);
struct json_object *sw_vx_show_json(void);
int sw_vx_config_write(struct json_object *calls);
void sw_vx_stats_sum(const struct sw_vtep *t, struct sw_vtep_stats *sum);

/* ---- PMD ---- */

/* A burst received on underlay port `ul`: ARP for the VTEP is answered and
 * teaches neighbours, VXLAN for the VTEP is decapsulated and goes through the
 * pipeline from the vxlan port with tunnel_id = VNI, the rest is dropped and
 * counted by reason. Counts rx on `ul`. Consumes every packet. */
void sw_vx_rx_burst(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_cls *cls,
		    const struct sw_vport *ul, struct rte_mbuf **pkts, uint16_t n, uint32_t now_s);

/* Encapsulates m toward vxlan port vidx with VNI `vni` (the port's own when it
 * has vni=N) to `remote` (IPv4, network order), or when remote is 0 to the
 * port's remote_ip, else to every remote VTEP of the VNI (head-end
 * replication). Consumes one reference of m. */
void sw_vx_tx(struct sw_pmd *pmd, const struct sw_view *v, uint8_t vidx, struct rte_mbuf *m,
	      uint64_t vni, uint32_t remote);

/* As sw_vx_tx() for each of the n packets in turn, with a unicast `remote`
 * (or the port's remote_ip): the lookups and counters are done once. */
void sw_vx_tx_bulk(struct sw_pmd *pmd, const struct sw_view *v, uint8_t vidx,
		   struct rte_mbuf **pkts, uint16_t n, uint64_t vni, uint32_t remote);

/* The segment of a VNI as PMDs see it; 0 when the VNI is unknown. */
uint16_t sw_vx_seg(uint64_t vni);

static inline bool sw_vx_is_seg(uint16_t vlan)
{
	return vlan >= SW_VX_SEG_BASE;
}

#endif /* SW_VXLAN_H */
