/* sw_vlan_vni.h — VLANs of a trunk port bound to VXLAN VNIs
 * (`set-port up1 vlan_vni=100:5000,200:6000`; docs/vxlan.md, "VLANs of a trunk
 * in a VNI").
 *
 * A binding VLAN:VNI on a trunk port puts that VLAN *of that port* into the
 * VNI's bridge segment (sw_vxlan.h): a frame received tagged VLAN 100 loses
 * its tag and is switched in VNI 5000's segment (so it is encapsulated
 * untagged), and a frame of the segment sent out of the port leaves tagged
 * 100. The port's VLAN 100 stops being a plain VLAN: the view's copy of the
 * trunk bitmap has it cleared (sw_vv_view_mask), so the plain-VLAN fast path
 * needs no extra test. Bindings are per port: two trunks may bind different
 * VLANs to one VNI, and access ports with vni= share the same segment.
 *
 * Threads. The parser, the checker and the formatter are pure (any thread).
 * A struct sw_vv_map is immutable once published: the control thread builds a
 * new map for every change, publishes it in the port's cfg with the view and
 * frees the old one after the grace period (sw_view_publish waits for it).
 * Counters live in the port (struct sw_vv_stats, one row of SW_VV_MAX per PMD,
 * written by that PMD only) at the binding's slot, which a binding keeps for
 * its whole life, so counters survive unrelated changes of the list.
 * Maps and counters are plain heap memory: they are read-mostly, need no
 * hugepages, and the unit tests then need no EAL.
 */
#ifndef SW_VLAN_VNI_H
#define SW_VLAN_VNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw_vxlan.h"

enum {
	SW_VV_MAX = 256,              /* bindings per port */
	SW_VV_TEXT_MAX = SW_VV_MAX * 15 + 1,   /* "4095:16777215," each */
};

struct sw_vv_binding {
	uint16_t vlan;                /* 1..4095 */
	uint32_t vni;                 /* 1..VX_VNI_MAX */
};

/* A list of bindings, sorted by VLAN (what the parser returns). */
struct sw_vv_list {
	unsigned n;
	struct sw_vv_binding b[SW_VV_MAX];
};

/* Frames (inner, untagged bytes) that entered the VNI from the VLAN (rx) and
 * that left the port into the VLAN (tx). */
struct sw_vv_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t tx_packets, tx_bytes;
};

/* What the PMDs read. Slots index b[], seg[] and the counters. */
struct sw_vv_map {
	struct sw_vv_stats *stats;                 /* the port's, [pmd * SW_VV_MAX + slot] */
	uint16_t n;                                /* bindings */
	uint16_t slot_by_vid[SW_VLAN_MAX + 1];     /* slot + 1; 0 = not bound */
	uint16_t slot_by_seg[SW_VX_MAX_VNIS];      /* by segment - SW_VX_SEG_BASE: slot + 1 */
	uint16_t seg[SW_VV_MAX];                   /* by slot */
	struct sw_vv_binding b[SW_VV_MAX];         /* by slot; vlan 0 = free */
};

/* Parses "VLAN:VNI[,VLAN:VNI...]" ("" = no binding) into l, sorted by VLAN.
 * Refuses (-EINVAL, err names the bad entry) a malformed entry, a VLAN out of
 * 1-4095, a VNI out of 1-16777215, a VLAN given twice, a VNI given for two
 * VLANs, and more than SW_VV_MAX entries. Pure. */
int sw_vv_parse(const char *s, struct sw_vv_list *l, char *err, size_t errlen);

/* Checks the bindings against the port's final VLAN settings: a trunk
 * (vlan_mode trunk or native-*), every VLAN among its trunks, none its native
 * VLAN. `existing`: the bindings were not given in this call (the message
 * then says how to change them). Returns 0 or -EINVAL with err. Pure. */
int sw_vv_check(const struct sw_vv_list *l, const struct sw_port_cfg *cfg, bool existing,
		char *err, size_t errlen);

/* "100:5000,200:6000" (sorted by VLAN); "" when empty. */
void sw_vv_format(const struct sw_vv_list *l, char *buf, size_t len);

/* The bindings of a map (sorted by VLAN); l->n = 0 for NULL. */
void sw_vv_map_list(const struct sw_vv_map *m, struct sw_vv_list *l);
bool sw_vv_list_equal(const struct sw_vv_list *a, const struct sw_vv_list *b);

/* Counter rows for a port: free with sw_vv_stats_free(). NULL without memory. */
struct sw_vv_stats *sw_vv_stats_alloc(void);
void sw_vv_stats_free(struct sw_vv_stats *s);
/* One binding's counters summed over the PMDs. */
void sw_vv_stats_sum(const struct sw_vv_map *m, unsigned slot, struct sw_vv_stats *sum);

/* Builds the map for l (segs[i]: the segment of l->b[i].vni) over the
 * counters `stats`. A binding also in `old` keeps its slot and counters; a new
 * one takes a slot free in old and new alike when there is one, its counters
 * zeroed now (no PMD can be writing them); otherwise a slot `old` used for a
 * binding that goes away, marked in *late_zero (bit per slot, SW_VV_MAX bits)
 * for the caller to zero after the grace period. Returns NULL without memory.
 * Free with sw_vv_map_free(). Control thread. */
struct sw_vv_map *sw_vv_map_build(const struct sw_vv_map *old, const struct sw_vv_list *l,
				  const uint16_t *segs, struct sw_vv_stats *stats,
				  uint64_t *late_zero);
void sw_vv_map_free(struct sw_vv_map *m);
/* Zeroes the counters of the slots marked in late_zero (after a grace period). */
void sw_vv_stats_zero(struct sw_vv_stats *stats, const uint64_t *late_zero);

/* The view's copy of a port's cfg: the bound VLANs leave the trunk bitmap. */
void sw_vv_view_mask(struct sw_port_cfg *cfg);

/* ---- PMD ---- */

/* The binding slot of a VLAN (0..4095) on a port, or -1. */
static inline int sw_vv_slot_by_vid(const struct sw_vv_map *m, uint16_t vid)
{
	return (int)m->slot_by_vid[vid & SW_VLAN_MAX] - 1;
}

/* The binding slot of a segment on a port, or -1. */
static inline int sw_vv_slot_by_seg(const struct sw_vv_map *m, uint16_t seg)
{
	unsigned i = (unsigned)seg - SW_VX_SEG_BASE;

	return i < SW_VX_MAX_VNIS ? (int)m->slot_by_seg[i] - 1 : -1;
}

#endif /* SW_VLAN_VNI_H */
