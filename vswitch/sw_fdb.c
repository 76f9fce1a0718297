/* sw_fdb.c — the bridge's MAC table. See sw_fdb.h for the concurrency rules.
 *
 * Memory ordering: an entry's `ofport` is the publication point. A learner
 * stores `seen` first, then CAS-es `ofport` from 0 with release; readers load
 * `ofport` with acquire. 0 means "no entry" (or one being removed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "sw_fdb.h"
#include "sw_internal.h"

struct sw_fdb_entry {
	uint16_t ofport;     /* 0: free or being removed */
	uint32_t seen_s;     /* last second the MAC was a source */
	uint32_t tun;        /* VXLAN: remote VTEP (IPv4, network order) behind the MAC */
};

struct sw_fdb {
	struct rte_hash *hash;
	struct rte_rcu_qsbr *qsbr;
	uint32_t n_slots;
	struct sw_fdb_entry *entries;       /* indexed by hash position */
	uint32_t port_count[SW_OFPORT_MAX + 1];
	uint64_t learned, moved, aged, full;   /* atomics */
	uint32_t del_gen;                   /* atomic: bumped by every removal */
};

static inline void fdb_key(struct sw_fdb_key *k, const uint8_t mac[6], uint16_t vlan)
{
	sw_fdb_key_set(k, mac, vlan);
}

/* 8-byte keys compare as one word (rte_hash would call memcmp). */
static int fdb_key_cmp(const void *a, const void *b, size_t len)
{
	uint64_t x, y;

	(void)len;
	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	return x != y;
}

/* CRC32 of the 8 bytes in one instruction. */
static uint32_t fdb_hash(const void *key, uint32_t len, uint32_t init)
{
	uint64_t v;

	(void)len;
	memcpy(&v, key, 8);
	return rte_hash_crc_8byte(v, init);
}

struct sw_fdb *sw_fdb_create(const char *name, uint32_t capacity, struct rte_rcu_qsbr *qsbr)
{
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = capacity,
		.key_len = sizeof(struct sw_fdb_key),
		.hash_func = fdb_hash,
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD,
	};
	struct sw_fdb *fdb;

	fdb = calloc(1, sizeof(*fdb));
	if (!fdb)
		return NULL;
	fdb->hash = rte_hash_create(&hp);
	if (!fdb->hash) {
		errno = rte_errno ? rte_errno : ENOMEM;
		goto err_fdb;
	}
	/* Positions run 0..max_key_id-1 (plus the per-lcore caches of a
	 * multi-writer table, which max_key_id includes). */
	fdb->n_slots = (uint32_t)rte_hash_max_key_id(fdb->hash) + 1;
	fdb->entries = calloc(fdb->n_slots, sizeof(*fdb->entries));
	if (!fdb->entries) {
		errno = ENOMEM;
		goto err_hash;
	}
	rte_hash_set_cmp_func(fdb->hash, fdb_key_cmp);
	fdb->qsbr = qsbr;
	return fdb;

err_hash:
	rte_hash_free(fdb->hash);
err_fdb:
	free(fdb);
	return NULL;
}

void sw_fdb_destroy(struct sw_fdb *fdb)
{
	if (!fdb)
		return;
	rte_hash_free(fdb->hash);
	free(fdb->entries);
	free(fdb);
}

uint16_t sw_fdb_lookup(const struct sw_fdb *fdb, const uint8_t mac[6], uint16_t vlan)
{
	struct sw_fdb_key k;
	int32_t pos;

	fdb_key(&k, mac, vlan);
	pos = rte_hash_lookup(fdb->hash, &k);
	if (pos < 0 || (uint32_t)pos >= fdb->n_slots)
		return 0;
	return __atomic_load_n(&fdb->entries[pos].ofport, __ATOMIC_ACQUIRE);
}

static bool over_limit(struct sw_fdb *fdb, uint16_t ofport, uint32_t limit)
{
	return limit && __atomic_load_n(&fdb->port_count[ofport], __ATOMIC_RELAXED) >= limit;
}

void sw_fdb_lookup_bulk(const struct sw_fdb *fdb, const struct sw_fdb_key **keys, unsigned n,
			int32_t *pos)
{
	if (n)
		rte_hash_lookup_bulk(fdb->hash, (const void **)keys, n, pos);
}

uint16_t sw_fdb_pos_port(const struct sw_fdb *fdb, int32_t pos)
{
	if (pos < 0 || (uint32_t)pos >= fdb->n_slots)
		return 0;
	return __atomic_load_n(&fdb->entries[pos].ofport, __ATOMIC_ACQUIRE);
}

int sw_fdb_learn(struct sw_fdb *fdb, const uint8_t mac[6], uint16_t vlan, uint16_t ofport,
		 uint32_t mac_limit, uint32_t now_s)
{
	struct sw_fdb_key k;

	fdb_key(&k, mac, vlan);
	return sw_fdb_learn_hint(fdb, &k, rte_hash_lookup(fdb->hash, &k), ofport, mac_limit,
				 now_s);
}

static int fdb_learn(struct sw_fdb *fdb, const struct sw_fdb_key *kp, int32_t pos,
		     uint16_t ofport, uint32_t mac_limit, uint32_t now_s, int32_t *out_pos);

int sw_fdb_learn_hint(struct sw_fdb *fdb, const struct sw_fdb_key *kp, int32_t pos,
		      uint16_t ofport, uint32_t mac_limit, uint32_t now_s)
{
	int32_t out;

	return fdb_learn(fdb, kp, pos, ofport, mac_limit, now_s, &out);
}

int sw_fdb_learn_tun(struct sw_fdb *fdb, struct sw_fdb_cache *c, const uint8_t mac[6],
		     uint16_t vlan, uint16_t ofport, uint32_t mac_limit, uint32_t now_s,
		     uint32_t tun)
{
	uint32_t gen = sw_fdb_generation(fdb);
	struct sw_fdb_key k;
	int32_t pos, hint;
	bool hit;
	int ret;

	fdb_key(&k, mac, vlan);
	hit = c && sw_fdb_cache_get(c, gen, &k, &hint);
	if (!hit)
		hint = rte_hash_lookup(fdb->hash, &k);
	ret = fdb_learn(fdb, &k, hint, ofport, mac_limit, now_s, &pos);
	if (c && pos >= 0 && (!hit || pos != hint))
		sw_fdb_cache_put(c, gen, &k, pos);
	/* Readers take the port first, then this: a MAC that just moved between
	 * remotes may go to the old one for a packet or two. */
	if (!ret && pos >= 0 && __atomic_load_n(&fdb->entries[pos].tun, __ATOMIC_RELAXED) != tun)
		__atomic_store_n(&fdb->entries[pos].tun, tun, __ATOMIC_RELAXED);
	return ret;
}

uint32_t sw_fdb_pos_tun(const struct sw_fdb *fdb, int32_t pos)
{
	if (pos < 0 || (uint32_t)pos >= fdb->n_slots)
		return 0;
	return __atomic_load_n(&fdb->entries[pos].tun, __ATOMIC_RELAXED);
}

uint32_t sw_fdb_tun(const struct sw_fdb *fdb, const uint8_t mac[6], uint16_t vlan)
{
	struct sw_fdb_key k;

	fdb_key(&k, mac, vlan);
	return sw_fdb_pos_tun(fdb, rte_hash_lookup(fdb->hash, &k));
}

static int fdb_learn(struct sw_fdb *fdb, const struct sw_fdb_key *kp, int32_t pos,
		     uint16_t ofport, uint32_t mac_limit, uint32_t now_s, int32_t *out_pos)
{
	struct sw_fdb_entry *e;
	uint16_t cur;

	*out_pos = -1;
	if (ofport == 0 || ofport > SW_OFPORT_MAX)
		return -EINVAL;
	if (pos >= 0 && (uint32_t)pos < fdb->n_slots) {
		*out_pos = pos;
		e = &fdb->entries[pos];
		cur = __atomic_load_n(&e->ofport, __ATOMIC_ACQUIRE);
		if (cur == ofport) {
			/* The common case: a refresh, written only when the second changes
			 * so that a busy MAC does not bounce the line between PMDs. */
			if (__atomic_load_n(&e->seen_s, __ATOMIC_RELAXED) != now_s)
				__atomic_store_n(&e->seen_s, now_s, __ATOMIC_RELAXED);
			return 0;
		}
		if (cur != 0) {
			if (over_limit(fdb, ofport, mac_limit))
				return -EDQUOT;
			__atomic_store_n(&e->seen_s, now_s, __ATOMIC_RELAXED);
			if (__atomic_compare_exchange_n(&e->ofport, &cur, ofport, false,
							__ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
				__atomic_fetch_sub(&fdb->port_count[cur], 1, __ATOMIC_RELAXED);
				__atomic_fetch_add(&fdb->port_count[ofport], 1, __ATOMIC_RELAXED);
				__atomic_fetch_add(&fdb->moved, 1, __ATOMIC_RELAXED);
			}
			return 0;
		}
		/* cur == 0: being removed by the control thread, or a learner that
		 * added the key has not published yet; fall through to claim it. */
	} else {
		if (over_limit(fdb, ofport, mac_limit))
			return -EDQUOT;
		pos = rte_hash_add_key(fdb->hash, kp);
		if (pos < 0 || (uint32_t)pos >= fdb->n_slots) {
			__atomic_fetch_add(&fdb->full, 1, __ATOMIC_RELAXED);
			return -ENOSPC;
		}
	}
	if (over_limit(fdb, ofport, mac_limit))
		return -EDQUOT;
	*out_pos = pos;
	e = &fdb->entries[pos];
	cur = 0;
	__atomic_store_n(&e->tun, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->seen_s, now_s, __ATOMIC_RELAXED);
	if (__atomic_compare_exchange_n(&e->ofport, &cur, ofport, false, __ATOMIC_RELEASE,
					__ATOMIC_RELAXED)) {
		__atomic_fetch_add(&fdb->port_count[ofport], 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&fdb->learned, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

uint32_t sw_fdb_generation(const struct sw_fdb *fdb)
{
	return __atomic_load_n(&fdb->del_gen, __ATOMIC_ACQUIRE);
}

uint32_t sw_fdb_port_count(const struct sw_fdb *fdb, uint16_t ofport)
{
	if (ofport > SW_OFPORT_MAX)
		return 0;
	return __atomic_load_n(&fdb->port_count[ofport], __ATOMIC_RELAXED);
}

typedef bool (*fdb_match_fn)(const struct sw_fdb_key *k, const struct sw_fdb_entry *e,
			     const void *arg);

/* Removes every entry `match` selects: keys leave the hash first, then after
 * one grace period the entries are cleared and the slots freed. */
static unsigned fdb_remove(struct sw_fdb *fdb, fdb_match_fn match, const void *arg)
{
	int32_t *gone;
	unsigned n = 0;
	uint32_t next = 0;
	const void *kp;
	void *data;
	int32_t pos;

	gone = malloc(sizeof(*gone) * fdb->n_slots);
	if (!gone)
		return 0;
	while ((pos = rte_hash_iterate(fdb->hash, &kp, &data, &next)) >= 0) {
		const struct sw_fdb_key *k = kp;

		if ((uint32_t)pos >= fdb->n_slots || !match(k, &fdb->entries[pos], arg))
			continue;
		gone[n++] = pos;
	}
	for (unsigned i = 0; i < n; i++) {
		struct sw_fdb_key k;

		if (rte_hash_get_key_with_position(fdb->hash, gone[i], (void **)&kp) == 0) {
			memcpy(&k, kp, sizeof(k));
			rte_hash_del_key(fdb->hash, &k);
		}
	}
	/* Positions PMDs cached (struct sw_fdb_cache) die with their keys:
	 * the new generation is visible to every PMD iteration that starts after
	 * the grace period below, before any slot is freed. */
	if (n)
		__atomic_add_fetch(&fdb->del_gen, 1, __ATOMIC_RELEASE);
	if (n && fdb->qsbr)
		rte_rcu_qsbr_synchronize(fdb->qsbr, RTE_QSBR_THRID_INVALID);
	for (unsigned i = 0; i < n; i++) {
		struct sw_fdb_entry *e = &fdb->entries[gone[i]];
		uint16_t port = __atomic_exchange_n(&e->ofport, 0, __ATOMIC_ACQ_REL);

		if (port)
			__atomic_fetch_sub(&fdb->port_count[port], 1, __ATOMIC_RELAXED);
		rte_hash_free_key_with_position(fdb->hash, gone[i]);
	}
	free(gone);
	return n;
}

struct age_arg {
	uint32_t now_s, ageing_s;
};

static bool match_aged(const struct sw_fdb_key *k, const struct sw_fdb_entry *e, const void *arg)
{
	const struct age_arg *a = arg;
	uint32_t seen = __atomic_load_n(&e->seen_s, __ATOMIC_RELAXED);

	(void)k;
	/* Unsigned difference: a second stored after now_s was read is "fresh". */
	return (int32_t)(a->now_s - seen) >= (int32_t)a->ageing_s;
}

unsigned sw_fdb_age(struct sw_fdb *fdb, uint32_t now_s, uint32_t ageing_s)
{
	struct age_arg a = { now_s, ageing_s };
	unsigned n = fdb_remove(fdb, match_aged, &a);

	__atomic_fetch_add(&fdb->aged, n, __ATOMIC_RELAXED);
	return n;
}

struct flush_arg {
	uint16_t ofport;
	int vlan;
};

static bool match_flush(const struct sw_fdb_key *k, const struct sw_fdb_entry *e, const void *arg)
{
	const struct flush_arg *a = arg;
	uint16_t port = __atomic_load_n(&e->ofport, __ATOMIC_RELAXED);

	return (a->ofport == 0 || port == a->ofport) && (a->vlan < 0 || k->vlan == a->vlan);
}

unsigned sw_fdb_flush(struct sw_fdb *fdb, uint16_t ofport, int vlan)
{
	struct flush_arg a = { ofport, vlan };

	return fdb_remove(fdb, match_flush, &a);
}

void sw_fdb_foreach(const struct sw_fdb *fdb, uint32_t now_s, sw_fdb_entry_fn fn, void *arg)
{
	uint32_t next = 0;
	const void *kp;
	void *data;
	int32_t pos;

	while ((pos = rte_hash_iterate(fdb->hash, &kp, &data, &next)) >= 0) {
		const struct sw_fdb_key *k = kp;
		const struct sw_fdb_entry *e;
		uint16_t port;

		if ((uint32_t)pos >= fdb->n_slots)
			continue;
		e = &fdb->entries[pos];
		port = __atomic_load_n(&e->ofport, __ATOMIC_ACQUIRE);
		if (port)
			fn(k->mac, k->vlan, port, now_s - __atomic_load_n(&e->seen_s, __ATOMIC_RELAXED),
			   arg);
	}
}

void sw_fdb_get_stats(const struct sw_fdb *fdb, struct sw_fdb_stats *st)
{
	st->learned = __atomic_load_n(&fdb->learned, __ATOMIC_RELAXED);
	st->moved = __atomic_load_n(&fdb->moved, __ATOMIC_RELAXED);
	st->aged = __atomic_load_n(&fdb->aged, __ATOMIC_RELAXED);
	st->full = __atomic_load_n(&fdb->full, __ATOMIC_RELAXED);
	st->entries = rte_hash_count(fdb->hash) < 0 ? 0 : (uint32_t)rte_hash_count(fdb->hash);
}
