/* sw_cls.h — the flow classifier: tuple-space search behind a per-PMD
 * exact-match cache.
 *
 * Design. A flow matches on a set of bits of the flow key (its mask). Flows
 * that share a mask form a *subtable*: a hash table keyed by the masked key,
 * so finding the flows of one subtable that match a packet is one hash of
 * (key & mask) and one probe, whatever the number of flows. A lookup probes
 * the subtables of one OpenFlow table in decreasing order of the highest
 * priority they hold and stops as soon as the best match found has a
 * priority no lower than the next subtable's maximum: with a few distinct
 * masks (the common case: "exact 5-tuple", "dst IP /24", "in_port") a lookup
 * costs a few hash probes. Flows with the same mask and the same masked key
 * (different priorities) chain in one bucket, highest priority first.
 * Subtables are ranked by priority first (that is what makes the early exit
 * correct); among equal maxima the one with more flows goes first.
 *
 * Immutability and RCU. A struct sw_cls is built whole on the control thread
 * from the flow tables (sw_cls_build) and never changes afterwards; the
 * control thread publishes it with a release store (sw_dp.cls), and frees
 * the previous one — and any flow no longer in the new one — after an RCU
 * grace period (rte_rcu_qsbr, the same as the port view). A PMD loads the
 * pointer once per iteration and never waits. Rebuilding costs O(flows) per
 * commit; batched changes (add-flows) pay it once.
 *
 * Versioning and the EMC. Each classifier carries a version, bumped on every
 * commit. Each PMD keeps an exact-match cache (struct sw_emc, per PMD, no
 * sharing) of (table, full flow key) → flow (or miss), tagged with the
 * version it was filled under; an entry of another version is a miss, so a
 * rule change is visible to the very next packet, and the flow pointer of a
 * stale entry is never dereferenced (it may be freed).
 *
 * Megaflows (caching the union of the masks a lookup consulted) are not
 * implemented: the EMC absorbs repeated flows and subtable search the rest.
 */
#ifndef SW_CLS_H
#define SW_CLS_H

#include <stdbool.h>
#include <stdint.h>

#include "sw_flow.h"

struct sw_cls_subtable;

struct sw_cls_table {
	uint32_t n_subtables;
	uint32_t n_flows;
	struct sw_cls_subtable **subtables;   /* by max priority, descending */
};

struct sw_cls {
	uint32_t version;
	uint32_t n_flows;                      /* in all tables */
	struct sw_cls_table tables[SW_N_TABLES];
};

/* Builds a classifier over flows[t][0..n[t]) of every table t (borrowed: the
 * flows must outlive the classifier). Returns NULL on -ENOMEM. Control thread. */
struct sw_cls *sw_cls_build(struct sw_flow *const *const flows[SW_N_TABLES],
			    const uint32_t n[SW_N_TABLES], uint32_t version);
void sw_cls_destroy(struct sw_cls *cls);

/* The highest-priority flow of `table` matching `key`, or NULL; *probes gets
 * the number of subtables probed added. Any thread (read only). */
struct sw_flow *sw_cls_lookup(const struct sw_cls *cls, uint8_t table,
			      const struct sw_flow_key *key, uint32_t *probes);

/* ---- exact-match cache: one per PMD, used by that PMD only ---- */

enum { SW_EMC_ENTRIES = 8192 };

struct sw_emc_entry {
	uint32_t version;                      /* 0: empty (versions start at 1) */
	uint32_t hash;
	uint8_t table;
	struct sw_flow *flow;                  /* NULL: a cached miss */
	struct sw_flow_key key;
};

struct sw_emc {
	struct sw_emc_entry e[SW_EMC_ENTRIES];
};

uint32_t sw_flow_key_hash(const struct sw_flow_key *key, uint8_t table);

/* True and *flow set on a hit of `version`. */
static inline bool sw_emc_lookup(const struct sw_emc *emc, uint32_t version, uint32_t hash,
				 uint8_t table, const struct sw_flow_key *key, struct sw_flow **flow)
{
	const struct sw_emc_entry *e = &emc->e[hash & (SW_EMC_ENTRIES - 1)];

	if (e->version != version || e->hash != hash || e->table != table ||
	    __builtin_memcmp(&e->key, key, sizeof(*key)))
		return false;
	*flow = e->flow;
	return true;
}

static inline void sw_emc_insert(struct sw_emc *emc, uint32_t version, uint32_t hash,
				 uint8_t table, const struct sw_flow_key *key, struct sw_flow *flow)
{
	struct sw_emc_entry *e = &emc->e[hash & (SW_EMC_ENTRIES - 1)];

	e->version = version;
	e->hash = hash;
	e->table = table;
	e->flow = flow;
	e->key = *key;
}

#endif /* SW_CLS_H */
