/* sw_cls.c — tuple-space search classifier. See sw_cls.h for the design.
 *
 * A subtable stores its mask, the list of key words the mask touches (so
 * hashing and comparing skip the all-zero words), an open-addressing array
 * of buckets (hash, first node) at most half full, and the nodes: one per
 * flow, chained by `next` within a bucket in decreasing priority.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash_crc.h>

#include "sw_cls.h"

enum { NODE_NONE = UINT32_MAX };

struct cls_node {
	struct sw_flow *flow;
	uint32_t next;
};

struct cls_bucket {
	uint32_t hash;
	uint32_t node;               /* NODE_NONE: empty */
};

struct sw_cls_subtable {
	uint16_t max_priority;
	uint8_t n_words;
	uint8_t words[SW_KEY_WORDS];
	uint64_t mask[SW_KEY_WORDS];
	uint32_t n_flows;
	uint32_t bucket_mask;
	struct cls_bucket *buckets;
	struct cls_node *nodes;
};

static inline const uint64_t *kw(const struct sw_flow_key *k)
{
	return (const uint64_t *)(const void *)k;
}

uint32_t sw_crc64_sw(uint64_t w, uint32_t h);
uint32_t sw_crc64_sw(uint64_t w, uint32_t h)
{
	return rte_hash_crc_8byte(w, h);
}

/* The masked words of a key; `words` lists the mask's non-zero words. */
static inline uint32_t masked_hash(const uint8_t *words, unsigned n, const uint64_t *mask,
				   const uint64_t *w)
{
	uint32_t h = 0;

	for (unsigned i = 0; i < n; i++)
		h = sw_crc64(w[words[i]] & mask[words[i]], h);
	return h;
}

static inline uint32_t subtable_hash(const struct sw_cls_subtable *st, const uint64_t *w)
{
	return masked_hash(st->words, st->n_words, st->mask, w);
}

static inline bool subtable_hits(const struct sw_cls_subtable *st, const uint64_t *w,
				 const struct sw_flow *f)
{
	const uint64_t *fk = kw(&f->match.key);

	for (unsigned i = 0; i < st->n_words; i++) {
		unsigned j = st->words[i];

		if ((w[j] & st->mask[j]) != fk[j])
			return false;
	}
	return true;
}

static inline struct sw_flow *cls_lookup(const struct sw_cls *cls, uint8_t table,
					 const struct sw_flow_key *key, uint32_t *probes,
					 uint64_t *wc)
{
	const struct sw_cls_table *t = &cls->tables[table];
	const uint64_t *w = kw(key);
	struct sw_flow *best = NULL;
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->n_subtables; i++) {
		const struct sw_cls_subtable *st = t->subtables[i];
		uint32_t h, b;

		if (best && best->priority >= st->max_priority)
			break;
		n++;
		if (wc)
			for (unsigned j = 0; j < st->n_words; j++)
				wc[st->words[j]] |= st->mask[st->words[j]];
		h = subtable_hash(st, w);
		for (b = h & st->bucket_mask; st->buckets[b].node != NODE_NONE;
		     b = (b + 1) & st->bucket_mask) {
			const struct cls_bucket *bk = &st->buckets[b];
			struct sw_flow *f;

			if (bk->hash != h)
				continue;
			f = st->nodes[bk->node].flow;
			if (!subtable_hits(st, w, f))
				continue;
			/* The chain head has the highest priority of the chain. */
			if (!best || f->priority > best->priority)
				best = f;
			break;
		}
	}
	*probes += n;
	return best;
}

struct sw_flow *sw_cls_lookup(const struct sw_cls *cls, uint8_t table,
			      const struct sw_flow_key *key, uint32_t *probes)
{
	return cls_lookup(cls, table, key, probes, NULL);
}

struct sw_flow *sw_cls_lookup_wc(const struct sw_cls *cls, uint8_t table,
				 const struct sw_flow_key *key, uint32_t *probes, uint64_t *wc)
{
	return cls_lookup(cls, table, key, probes, wc);
}

static void subtable_free(struct sw_cls_subtable *st)
{
	if (!st)
		return;
	free(st->buckets);
	free(st->nodes);
	free(st);
}

static int cmp_prio_desc(const void *a, const void *b)
{
	const struct sw_flow *fa = *(struct sw_flow *const *)a, *fb = *(struct sw_flow *const *)b;

	return (int)fb->priority - (int)fa->priority;
}

static int cmp_subtable(const void *a, const void *b)
{
	const struct sw_cls_subtable *sa = *(struct sw_cls_subtable *const *)a;
	const struct sw_cls_subtable *sb = *(struct sw_cls_subtable *const *)b;

	if (sa->max_priority != sb->max_priority)
		return (int)sb->max_priority - (int)sa->max_priority;
	return sa->n_flows < sb->n_flows ? 1 : sa->n_flows > sb->n_flows ? -1 : 0;
}

/* Fills one subtable from its flows (already in decreasing priority). */
static int subtable_fill(struct sw_cls_subtable *st, struct sw_flow **flows, uint32_t n)
{
	uint32_t size = 16;

	while (size < 2 * n)
		size <<= 1;
	st->buckets = malloc(size * sizeof(*st->buckets));
	st->nodes = malloc((n ? n : 1) * sizeof(*st->nodes));
	if (!st->buckets || !st->nodes)
		return -ENOMEM;
	for (uint32_t i = 0; i < size; i++)
		st->buckets[i].node = NODE_NONE;
	st->bucket_mask = size - 1;
	for (unsigned i = 0; i < SW_KEY_WORDS; i++)
		if (st->mask[i])
			st->words[st->n_words++] = (uint8_t)i;
	for (uint32_t i = 0; i < n; i++) {
		const uint64_t *fk = kw(&flows[i]->match.key);
		uint32_t h = subtable_hash(st, fk), b;

		st->nodes[i].flow = flows[i];
		st->nodes[i].next = NODE_NONE;
		for (b = h & st->bucket_mask; st->buckets[b].node != NODE_NONE;
		     b = (b + 1) & st->bucket_mask) {
			struct cls_node *head = &st->nodes[st->buckets[b].node];

			if (st->buckets[b].hash == h && subtable_hits(st, fk, head->flow)) {
				/* Same masked key: append (flows come by priority). */
				while (head->next != NODE_NONE)
					head = &st->nodes[head->next];
				head->next = i;
				break;
			}
		}
		if (st->buckets[b].node == NODE_NONE) {
			st->buckets[b].hash = h;
			st->buckets[b].node = i;
		}
	}
	st->n_flows = n;
	st->max_priority = n ? flows[0]->priority : 0;
	return 0;
}

static int table_build(struct sw_cls_table *t, struct sw_flow *const *flows, uint32_t n)
{
	struct sw_flow **sorted = NULL, **grp = NULL;
	uint32_t cap = 0;
	int ret = -ENOMEM;

	t->n_flows = n;
	if (!n)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	grp = malloc(n * sizeof(*grp));
	if (!sorted || !grp)
		goto out;
	memcpy(sorted, flows, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_prio_desc);
	/* Group by mask: flows[] are visited once per distinct mask, which is
	 * cheap while masks are few (the premise of tuple-space search). */
	for (uint32_t done = 0, i; done < n;) {
		struct sw_cls_subtable *st;
		uint32_t ng = 0;

		for (i = 0; !sorted[i]; i++)
			;
		st = calloc(1, sizeof(*st));
		if (!st)
			goto out;
		memcpy(st->mask, &sorted[i]->match.mask, sizeof(st->mask));
		for (uint32_t j = i; j < n; j++) {
			if (sorted[j] && !memcmp(&sorted[j]->match.mask, st->mask, sizeof(st->mask))) {
				grp[ng++] = sorted[j];
				sorted[j] = NULL;
			}
		}
		done += ng;
		if (t->n_subtables == cap) {
			struct sw_cls_subtable **ns;

			cap = cap ? 2 * cap : 4;
			ns = realloc(t->subtables, cap * sizeof(*ns));
			if (!ns) {
				subtable_free(st);
				goto out;
			}
			t->subtables = ns;
		}
		t->subtables[t->n_subtables++] = st;
		if (subtable_fill(st, grp, ng))
			goto out;
	}
	qsort(t->subtables, t->n_subtables, sizeof(t->subtables[0]), cmp_subtable);
	ret = 0;
out:
	free(sorted);
	free(grp);
	return ret;
}

struct sw_cls *sw_cls_build(struct sw_flow *const *const flows[SW_N_TABLES],
			    const uint32_t n[SW_N_TABLES], uint32_t version)
{
	struct sw_cls *cls = calloc(1, sizeof(*cls));

	if (!cls)
		return NULL;
	cls->version = version;
	for (unsigned t = 0; t < SW_N_TABLES; t++) {
		if (table_build(&cls->tables[t], flows[t], n[t])) {
			sw_cls_destroy(cls);
			return NULL;
		}
		cls->n_flows += n[t];
	}
	return cls;
}

void sw_cls_destroy(struct sw_cls *cls)
{
	if (!cls)
		return;
	for (unsigned t = 0; t < SW_N_TABLES; t++) {
		for (uint32_t i = 0; i < cls->tables[t].n_subtables; i++)
			subtable_free(cls->tables[t].subtables[i]);
		free(cls->tables[t].subtables);
	}
	free(cls);
}

/* ------------------------------------------------------- megaflow cache */

static inline bool mfc_entry_hits(const struct sw_mfc_subtable *st, const struct sw_mfc_entry *e,
				  uint32_t h, const uint64_t *w)
{
	uint64_t d = 0;

	if (e->tag != st->tag || e->hash != h)
		return false;
	for (unsigned i = 0; i < st->n_words; i++) {
		unsigned j = st->words[i];

		d |= (w[j] & st->mask[j]) ^ e->key[j];
	}
	return d == 0;
}

/* Insertion sort by hits (at most SW_MFC_SUBTABLES), then the counts decay. */
static void mfc_resort(struct sw_mfc *mfc)
{
	for (uint32_t i = 1; i < mfc->n_subtables; i++) {
		struct sw_mfc_subtable *x = mfc->order[i];
		uint32_t j = i;

		for (; j > 0 && mfc->order[j - 1]->hits < x->hits; j--)
			mfc->order[j] = mfc->order[j - 1];
		mfc->order[j] = x;
	}
	for (uint32_t i = 0; i < mfc->n_subtables; i++)
		mfc->order[i]->hits >>= 1;
	mfc->since_sort = 0;
	mfc->resorts++;
}

void sw_mfc_init(struct sw_mfc *mfc)
{
	memset(mfc, 0, sizeof(*mfc));
	for (unsigned i = 0; i < SW_MFC_SUBTABLES; i++)
		mfc->order[i] = &mfc->st[i];
}

bool sw_mfc_lookup(struct sw_mfc *mfc, uint32_t version, uint8_t table,
		   const struct sw_flow_key *key, struct sw_flow **flow, uint32_t *probes)
{
	const uint64_t *w = kw(key);
	uint32_t n = 0;

	if (mfc->version != version) {
		/* Another classifier: none of our answers holds any more. */
		mfc->version = version;
		mfc->n_subtables = 0;
		return false;
	}
	if (++mfc->since_sort >= SW_MFC_RESORT)
		mfc_resort(mfc);
	for (uint32_t i = 0; i < mfc->n_subtables; i++) {
		struct sw_mfc_subtable *st = mfc->order[i];
		const struct sw_mfc_entry *e;
		uint32_t h, b;

		if (st->table != table)
			continue;
		n++;
		h = masked_hash(st->words, st->n_words, st->mask, w);
		b = h & (SW_MFC_ENTRIES - 2);
		e = &st->e[b];
		if (mfc_entry_hits(st, e, h, w) || mfc_entry_hits(st, ++e, h, w)) {
			st->hits++;
			*flow = e->flow;
			*probes += n;
			return true;
		}
	}
	*probes += n;
	return false;
}

static struct sw_mfc_subtable *mfc_subtable(struct sw_mfc *mfc, uint8_t table, const uint64_t *wc)
{
	struct sw_mfc_subtable *st;

	for (uint32_t i = 0; i < mfc->n_subtables; i++) {
		st = mfc->order[i];
		if (st->table == table && !memcmp(st->mask, wc, sizeof(st->mask)))
			return st;
	}
	/* order[] is a permutation of st[]: past n_subtables are the free ones. */
	if (mfc->n_subtables < SW_MFC_SUBTABLES)
		st = mfc->order[mfc->n_subtables++];
	else
		st = mfc->order[mfc->n_subtables - 1];   /* full: the least used makes room */
	if (++mfc->next_tag == 0)
		mfc->next_tag = 1;
	st->tag = mfc->next_tag;
	st->table = table;
	st->hits = 0;
	st->n_inserts = 0;
	st->n_words = 0;
	memcpy(st->mask, wc, sizeof(st->mask));
	for (unsigned i = 0; i < SW_KEY_WORDS; i++)
		if (wc[i])
			st->words[st->n_words++] = (uint8_t)i;
	return st;
}

void sw_mfc_insert(struct sw_mfc *mfc, uint8_t table, const uint64_t *wc,
		   const struct sw_flow_key *key, struct sw_flow *flow)
{
	struct sw_mfc_subtable *st = mfc_subtable(mfc, table, wc);
	const uint64_t *w = kw(key);
	uint32_t h = masked_hash(st->words, st->n_words, st->mask, w);
	struct sw_mfc_entry *e = &st->e[h & (SW_MFC_ENTRIES - 2)];

	/* 2-way bucket: a free (or stale) way, else the older way goes and the
	 * newest entry takes the first way. */
	if (e->tag == st->tag) {
		if (e[1].tag == st->tag)
			e[1] = e[0];
		else
			e++;
	}
	e->tag = st->tag;
	e->hash = h;
	e->flow = flow;
	for (unsigned i = 0; i < SW_KEY_WORDS; i++)
		e->key[i] = w[i] & wc[i];
	st->n_inserts++;
}

void sw_mfc_usage(const struct sw_mfc *mfc, uint32_t *subtables, uint64_t *entries)
{
	uint32_t n = __atomic_load_n(&mfc->n_subtables, __ATOMIC_RELAXED);
	uint64_t e = 0;

	if (n > SW_MFC_SUBTABLES)
		n = SW_MFC_SUBTABLES;
	for (uint32_t i = 0; i < n; i++) {
		const struct sw_mfc_subtable *st = mfc->order[i];

		if (st)
			e += st->n_inserts < SW_MFC_ENTRIES ? st->n_inserts : SW_MFC_ENTRIES;
	}
	*subtables = n;
	*entries = e;
}
