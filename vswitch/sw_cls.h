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
 * pointer once per iteration and never waits. A commit builds the new
 * classifier incrementally from the previous one (sw_cls_update: untouched
 * subtables are shared, touched ones copied or rebuilt), so its cost follows
 * the change and the size of the subtables it touches.
 *
 * Versioning and the EMC. Each classifier carries a version, bumped on every
 * commit. Each PMD keeps an exact-match cache (struct sw_emc, per PMD, no
 * sharing) of (table, full flow key) → flow (or miss), tagged with the
 * version it was filled under; an entry of another version is a miss, so a
 * rule change is visible to the very next packet, and the flow pointer of a
 * stale entry is never dereferenced (it may be freed).
 *
 * Megaflows (struct sw_mfc, per PMD). What a subtable search consulted is
 * the union U of the masks of the subtables it probed (the early exit makes
 * that fewer than all of them): every packet that agrees with this one on U
 * gets the same answer, because each probe's outcome depends only on the bits
 * of its mask. sw_cls_lookup_wc() returns U with the flow, and the PMD caches
 * (table, U, key & U) -> flow (or miss) as a *megaflow*, as OVS's dpcls caches
 * the wildcards ofproto's classifier un-wildcarded. Megaflows of one version
 * never disagree (they are answers of one deterministic classifier), so the
 * first one found is right. They are grouped by (table, U) into megaflow
 * subtables, each a fixed array of 2-way buckets (bounded memory, overwrite on
 * conflict), probed in decreasing order of hits: every SW_MFC_RESORT lookups
 * the PMD re-sorts them and halves the counts. A subtable whose mask holds
 * all of in_port keeps a 64-bit summary of the ports it has megaflows for, and
 * a lookup from a port not in it skips the subtable (OVS keeps one dpcls per
 * in_port; this is the same effect without splitting the cache). The cache belongs to one
 * classifier version: the first lookup under a new version drops every
 * subtable at once (O(1): entries carry their subtable's tag, and a subtable
 * gets a fresh tag when it is reused), so a rule change is seen by the next
 * packet, and a stale flow pointer is never dereferenced.
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
/* The classifier of `old` plus the flows added and minus the flows removed
 * since it was built (removed flows are marked dead; an added flow that is
 * dead by now is ignored). Subtables the change does not touch are shared
 * with `old`, which stays valid and must be destroyed separately. Returns
 * NULL on -ENOMEM (old unchanged). Control thread. */
struct sw_cls *sw_cls_update(const struct sw_cls *old, struct sw_flow *const *added,
			     uint32_t n_added, struct sw_flow *const *removed, uint32_t n_removed,
			     uint32_t version);
void sw_cls_destroy(struct sw_cls *cls);

/* The highest-priority flow of `table` matching `key`, or NULL; *probes gets
 * the number of subtables probed added. Any thread (read only). */
struct sw_flow *sw_cls_lookup(const struct sw_cls *cls, uint8_t table,
			      const struct sw_flow_key *key, uint32_t *probes);
/* The same, and ORs into wc[] (SW_KEY_WORDS words, caller-initialised) the
 * masks of the subtables it probed: the bits the answer depends on. */
struct sw_flow *sw_cls_lookup_wc(const struct sw_cls *cls, uint8_t table,
				 const struct sw_flow_key *key, uint32_t *probes, uint64_t *wc);

/* ---- exact-match cache: one per PMD, used by that PMD only ---- */

enum { SW_EMC_ENTRIES = 8192 };

/* Two cache lines exactly (a PMD prefetches both for every packet of a
 * burst: a third line per packet filled the CPU's miss buffers); no stored
 * hash — the slot comes from it, the key compare decides. */
struct sw_emc_entry {
	struct sw_flow_key key;
	struct sw_flow *flow;                  /* NULL: a cached miss */
	uint32_t version;                      /* 0: empty (versions start at 1) */
	uint8_t table;
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct sw_emc_entry) == 128, "EMC entry is two cache lines");

struct sw_emc {
	struct sw_emc_entry e[SW_EMC_ENTRIES];
};

/* 32-bit CRC32-C step on one 64-bit word (the SSE4.2 instruction DPDK's
 * -march gives us; rte_hash_crc otherwise). */
static inline uint32_t sw_crc64(uint64_t w, uint32_t h)
{
#ifdef __SSE4_2__
	return (uint32_t)__builtin_ia32_crc32di(h, w);
#else
	extern uint32_t sw_crc64_sw(uint64_t w, uint32_t h);

	return sw_crc64_sw(w, h);
#endif
}

/* The whole key and the table: two independent CRC chains (half the
 * latency of one), folded. */
static inline uint32_t sw_flow_key_hash(const struct sw_flow_key *key, uint8_t table)
{
	const uint64_t *w = (const uint64_t *)(const void *)key;
	uint32_t a = table, b = 0x9e3779b9u;
	unsigned i;

	for (i = 0; i + 1 < SW_KEY_WORDS; i += 2) {
		a = sw_crc64(w[i], a);
		b = sw_crc64(w[i + 1], b);
	}
	if (i < SW_KEY_WORDS)
		a = sw_crc64(w[i], a);
	return a ^ (b << 15 | b >> 17);
}

/* Whole-key compare in 16-byte vectors, unrolled: the scalar word loop was a
 * third of the EMC hit path (perf annotate, scenario 2). */
static inline bool sw_flow_key_equal(const struct sw_flow_key *x, const struct sw_flow_key *y)
{
	const sw_key_vec *a = (const sw_key_vec *)(const void *)x;
	const sw_key_vec *b = (const sw_key_vec *)(const void *)y;
	sw_key_vec d = { 0, 0 };

#pragma GCC unroll 16
	for (unsigned i = 0; i < SW_KEY_VECS; i++)
		d |= a[i] ^ b[i];
	return (d[0] | d[1]) == 0;
}

/* True and *flow set on a hit of `version`. */
static inline bool sw_emc_lookup(const struct sw_emc *emc, uint32_t version, uint32_t hash,
				 uint8_t table, const struct sw_flow_key *key, struct sw_flow **flow)
{
	const struct sw_emc_entry *e = &emc->e[hash & (SW_EMC_ENTRIES - 1)];

	if (e->version != version || e->table != table || !sw_flow_key_equal(&e->key, key))
		return false;
	*flow = e->flow;
	return true;
}

static inline void sw_emc_insert(struct sw_emc *emc, uint32_t version, uint32_t hash,
				 uint8_t table, const struct sw_flow_key *key, struct sw_flow *flow)
{
	struct sw_emc_entry *e = &emc->e[hash & (SW_EMC_ENTRIES - 1)];

	e->version = version;
	e->table = table;
	e->flow = flow;
	e->key = *key;
}

/* ---- megaflow cache: one per PMD, used by that PMD only ---- */

enum {
	SW_MFC_SUBTABLES = 16,        /* distinct (table, mask) at a time */
	SW_MFC_ENTRIES = 2048,        /* per subtable: 1024 buckets of 2 */
	SW_MFC_RESORT = 1u << 14,     /* lookups between two re-sorts by hits */
};

struct sw_mfc_entry {
	uint32_t tag;                 /* the subtable's tag when filled; 0: empty */
	uint32_t hash;
	struct sw_flow *flow;         /* NULL: a cached miss */
	uint64_t key[SW_KEY_WORDS];   /* key & mask */
} __attribute__((aligned(64)));

struct sw_mfc_subtable {
	uint32_t tag;                 /* fresh (never 0) each time it is (re)used */
	uint8_t table;
	uint8_t n_words;
	uint8_t words[SW_KEY_WORDS];  /* the words the mask touches */
	uint64_t mask[SW_KEY_WORDS];
	uint64_t hits;                /* since the last re-sort (halved then) */
	uint64_t n_inserts;
	/* Per-in_port partitioning: when the mask holds all of in_port, every
	 * megaflow here is for one port, and in_ports has bit (port % 64) of each
	 * port inserted; a lookup from another port skips the subtable. */
	bool by_port;
	uint64_t in_ports;
	struct sw_mfc_entry e[SW_MFC_ENTRIES];
};

struct sw_mfc {
	uint32_t version;             /* of the classifier the megaflows belong to */
	uint32_t next_tag;
	uint32_t n_subtables;
	uint32_t since_sort;
	uint64_t resorts;
	struct sw_mfc_subtable *order[SW_MFC_SUBTABLES];   /* by hits, descending */
	struct sw_mfc_subtable st[SW_MFC_SUBTABLES];
};

/* Empties a cache (any memory of sizeof(struct sw_mfc)). */
void sw_mfc_init(struct sw_mfc *mfc);
/* Looks key up among the megaflows of `table` under classifier `version`
 * (dropping every megaflow first when the version changed). True and *flow
 * set on a hit; *probes gets the subtables probed added. */
bool sw_mfc_lookup(struct sw_mfc *mfc, uint32_t version, uint8_t table,
		   const struct sw_flow_key *key, struct sw_flow **flow, uint32_t *probes);
/* Caches (table, wc, key & wc) -> flow, the answer of sw_cls_lookup_wc() under
 * `version` (the version of the preceding sw_mfc_lookup()). */
void sw_mfc_insert(struct sw_mfc *mfc, uint8_t table, const uint64_t *wc,
		   const struct sw_flow_key *key, struct sw_flow *flow);
/* Megaflow subtables in use and cached megaflows (approximate: overwritten
 * entries are counted), for pmd-stats. Any thread: racy reads. */
void sw_mfc_usage(const struct sw_mfc *mfc, uint32_t *subtables, uint64_t *entries);

#endif /* SW_CLS_H */
