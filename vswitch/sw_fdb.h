/* sw_fdb.h — the bridge's forwarding database: (MAC, VLAN) → OpenFlow port.
 *
 * Bounded: at most `capacity` entries (an rte_hash sized once, never grown),
 * so a MAC flood costs failed inserts (counted) and no memory.
 *
 * Concurrency. Lookups are lock-free (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF)
 * and may run on any number of PMDs. Learning (sw_fdb_learn) may also run on
 * any PMD: inserting a new key takes the hash's internal writer lock
 * (MULTI_WRITER_ADD) — only for a MAC not yet known, never for the common
 * refresh of a known one. Per-entry data (port, last-seen second) lives in an
 * array indexed by the key's hash position and is updated with atomics: a MAC
 * move is a compare-and-swap of the port, so two PMDs seeing the same new MAC
 * count it once. Deletion (ageing, flush) runs on the control thread only: the
 * key is removed from the hash, then after an RCU grace period (no PMD can
 * still hold its position) the entry is cleared and the key slot freed.
 *
 * Writers (learn, age, flush) must be EAL threads — PMD lcores, the main lcore
 * or threads registered with rte_thread_register() — because a multi-writer
 * rte_hash keeps per-lcore caches of free slots.
 *
 * Per-port MAC counts are kept here (index: OpenFlow port number) so the MAC
 * limit is checked without touching the port.
 */
#ifndef SW_FDB_H
#define SW_FDB_H

#include <stdbool.h>
#include <stdint.h>

struct rte_rcu_qsbr;
struct sw_fdb;

/* The key: 8 bytes, compared as one word. */
struct sw_fdb_key {
	uint8_t mac[6];
	uint16_t vlan;
} __attribute__((packed, aligned(8)));
_Static_assert(sizeof(struct sw_fdb_key) == 8, "fdb key is 8 bytes");

static inline void sw_fdb_key_set(struct sw_fdb_key *k, const uint8_t mac[6], uint16_t vlan)
{
	__builtin_memcpy(k->mac, mac, 6);
	k->vlan = vlan;
}

enum {
	SW_FDB_DEFAULT_CAPACITY = 65536,
	SW_FDB_DEFAULT_AGEING_S = 300,
};

struct sw_fdb_stats {
	uint64_t learned;       /* new entries */
	uint64_t moved;         /* entries that changed port */
	uint64_t aged;          /* removed by ageing */
	uint64_t full;          /* inserts refused: table full */
	uint32_t entries;       /* now */
};

/* `qsbr` is the PMDs' RCU variable (NULL: the caller promises no concurrent
 * readers, as in unit tests). `name` must be unique per process. Returns NULL
 * with rte_errno/errno set. Free with sw_fdb_destroy(). */
struct sw_fdb *sw_fdb_create(const char *name, uint32_t capacity, struct rte_rcu_qsbr *qsbr);
void sw_fdb_destroy(struct sw_fdb *fdb);

/* ---- any thread (PMDs) ---- */

/* Returns the port of (mac, vlan), or 0 when unknown. */
uint16_t sw_fdb_lookup(const struct sw_fdb *fdb, const uint8_t mac[6], uint16_t vlan);

enum { SW_FDB_BULK_MAX = 64 };

/* Looks up n (<= SW_FDB_BULK_MAX) keys at once (hashes staged and prefetched
 * by rte_hash_lookup_bulk); pos[i] is an opaque hint for sw_fdb_pos_port() and
 * sw_fdb_learn_hint(), negative when the key is unknown. */
void sw_fdb_lookup_bulk(const struct sw_fdb *fdb, const struct sw_fdb_key **keys, unsigned n,
			int32_t *pos);
/* The port behind a hint from sw_fdb_lookup_bulk(), 0 when none. */
uint16_t sw_fdb_pos_port(const struct sw_fdb *fdb, int32_t pos);

/* Learns or refreshes mac on vlan at ofport at time now_s. Returns 0 (learned,
 * refreshed or moved), -EDQUOT when the port already has mac_limit MACs
 * (0 = no limit; the MAC is not learned), -ENOSPC when the table is full. */
int sw_fdb_learn(struct sw_fdb *fdb, const uint8_t mac[6], uint16_t vlan, uint16_t ofport,
		 uint32_t mac_limit, uint32_t now_s);
/* As sw_fdb_learn() for key k, with pos from a lookup of k in this PMD
 * iteration (saves the hash lookup). */
int sw_fdb_learn_hint(struct sw_fdb *fdb, const struct sw_fdb_key *k, int32_t pos,
		      uint16_t ofport, uint32_t mac_limit, uint32_t now_s);

/* The removal generation: changes (before the grace period) whenever ageing
 * or a flush removes entries, so positions cached under another generation
 * may be stale. */
uint32_t sw_fdb_generation(const struct sw_fdb *fdb);

/* A PMD's private cache of positions (key -> pos) of known MACs, so that a
 * burst looks up only the keys it has not seen since the last removal. A
 * position stays valid for as long as its key is in the table (a move
 * changes the entry's port, read at use, not its position), and removals
 * change the generation; unknown keys are never cached (a learn would not
 * be seen). Direct-mapped, one per PMD, used by that PMD only. */
enum { SW_FDB_CACHE_ENTRIES = 4096 };   /* 2^12: the slot is the hash's top 12 bits */

struct sw_fdb_cache_entry {
	uint64_t key;            /* struct sw_fdb_key as a word */
	int32_t pos;
	uint32_t gen;            /* generation + 1 when filled; 0: empty */
};

struct sw_fdb_cache {
	struct sw_fdb_cache_entry e[SW_FDB_CACHE_ENTRIES];
};

static inline uint64_t sw_fdb_key_word(const struct sw_fdb_key *k)
{
	uint64_t w;

	__builtin_memcpy(&w, k, 8);
	return w;
}

static inline struct sw_fdb_cache_entry *sw_fdb_cache_slot(struct sw_fdb_cache *c, uint64_t w)
{
	uint64_t h = w * 0x9e3779b97f4a7c15ull;

	return &c->e[h >> 52];          /* the top 12 bits mix every key bit */
}

/* True and *pos set when k was cached under generation gen. */
static inline bool sw_fdb_cache_get(struct sw_fdb_cache *c, uint32_t gen,
				    const struct sw_fdb_key *k, int32_t *pos)
{
	uint64_t w = sw_fdb_key_word(k);
	const struct sw_fdb_cache_entry *e = sw_fdb_cache_slot(c, w);

	if (e->gen != gen + 1 || e->key != w)
		return false;
	*pos = e->pos;
	return true;
}

static inline void sw_fdb_cache_put(struct sw_fdb_cache *c, uint32_t gen,
				    const struct sw_fdb_key *k, int32_t pos)
{
	uint64_t w = sw_fdb_key_word(k);
	struct sw_fdb_cache_entry *e = sw_fdb_cache_slot(c, w);

	e->key = w;
	e->pos = pos;
	e->gen = gen + 1;
}

/* As sw_fdb_learn(), and records `tun` (a VXLAN remote VTEP's IPv4 address,
 * network order) as where the MAC lives behind ofport. With a PMD's position
 * cache `c` (or NULL) the common case — a known MAC, same port and remote —
 * costs no hash lookup. */
int sw_fdb_learn_tun(struct sw_fdb *fdb, struct sw_fdb_cache *c, const uint8_t mac[6],
		     uint16_t vlan, uint16_t ofport, uint32_t mac_limit, uint32_t now_s,
		     uint32_t tun);
/* The remote VTEP behind a hint from sw_fdb_lookup_bulk() (0: none). */
uint32_t sw_fdb_pos_tun(const struct sw_fdb *fdb, int32_t pos);
/* The remote VTEP recorded for (mac, vlan), 0 when none (control thread). */
uint32_t sw_fdb_tun(const struct sw_fdb *fdb, const uint8_t mac[6], uint16_t vlan);

/* MACs learned on ofport (approximate while PMDs learn). */
uint32_t sw_fdb_port_count(const struct sw_fdb *fdb, uint16_t ofport);

/* ---- control thread only ---- */

/* Removes entries not seen for ageing_s seconds. Returns how many. */
unsigned sw_fdb_age(struct sw_fdb *fdb, uint32_t now_s, uint32_t ageing_s);

/* Removes entries of ofport (0: any) on vlan (-1: any). Returns how many. */
unsigned sw_fdb_flush(struct sw_fdb *fdb, uint16_t ofport, int vlan);

typedef void (*sw_fdb_entry_fn)(const uint8_t mac[6], uint16_t vlan, uint16_t ofport,
				uint32_t age_s, void *arg);
/* Calls fn for every entry (order unspecified). */
void sw_fdb_foreach(const struct sw_fdb *fdb, uint32_t now_s, sw_fdb_entry_fn fn, void *arg);

void sw_fdb_get_stats(const struct sw_fdb *fdb, struct sw_fdb_stats *st);

#endif /* SW_FDB_H */
