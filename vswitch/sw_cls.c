/* sw_cls.c — tuple-space search classifier. See sw_cls.h for the design.
 *
 * A subtable stores its mask, the list of key words the mask touches (so
 * hashing and comparing skip the all-zero words), an open-addressing array
 * of buckets (hash, first node) at most half full, and the nodes: one per
 * flow, chained by `next` within a bucket in decreasing priority.
 *
 * Commits are incremental (sw_cls_update): the new classifier shares every
 * subtable the commit did not touch with the old one (reference counts, on
 * the control thread only); a subtable that only gains flows is copied
 * (two memcpy while its arrays have room, which they keep for as many flows
 * again) and the new flows inserted; one that loses flows is rebuilt from its
 * survivors. Installing 100,000 flows in batches costs O(batch) per commit
 * plus a copy of the one subtable they land in, not a rebuild of everything.
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
	uint32_t refs;               /* classifiers sharing it (control thread) */
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

/* Subtables are shared by the classifiers of consecutive commits (those a
 * commit did not touch); the control thread counts the references. */
static void subtable_put(struct sw_cls_subtable *st)
{
	if (st && --st->refs == 0)
		subtable_free(st);
}

static int cmp_subtable(const void *a, const void *b)
{
	const struct sw_cls_subtable *sa = *(struct sw_cls_subtable *const *)a;
	const struct sw_cls_subtable *sb = *(struct sw_cls_subtable *const *)b;

	if (sa->max_priority != sb->max_priority)
		return (int)sb->max_priority - (int)sa->max_priority;
	return sa->n_flows < sb->n_flows ? 1 : sa->n_flows > sb->n_flows ? -1 : 0;
}

/* An empty subtable for `mask` with room for `n` flows (buckets at most half
 * full, nodes for half the buckets: later commits add in place of a copy
 * while there is room). */
static struct sw_cls_subtable *subtable_new(const uint64_t *mask, uint32_t n)
{
	struct sw_cls_subtable *st = calloc(1, sizeof(*st));
	uint32_t size = 16;

	if (!st)
		return NULL;
	while (size < 2 * n)
		size <<= 1;
	st->refs = 1;
	st->buckets = malloc(size * sizeof(*st->buckets));
	st->nodes = malloc(size / 2 * sizeof(*st->nodes));
	if (!st->buckets || !st->nodes) {
		subtable_free(st);
		return NULL;
	}
	for (uint32_t i = 0; i < size; i++)
		st->buckets[i].node = NODE_NONE;
	st->bucket_mask = size - 1;
	memcpy(st->mask, mask, sizeof(st->mask));
	for (unsigned i = 0; i < SW_KEY_WORDS; i++)
		if (st->mask[i])
			st->words[st->n_words++] = (uint8_t)i;
	return st;
}

static inline uint32_t subtable_room(const struct sw_cls_subtable *st)
{
	return (st->bucket_mask + 1) / 2 - st->n_flows;
}

/* Adds f (there is room). Flows with the same masked key chain in one bucket
 * in decreasing priority, so the chain head is the best of the chain. */
static void subtable_insert(struct sw_cls_subtable *st, struct sw_flow *f)
{
	const uint64_t *fk = kw(&f->match.key);
	uint32_t h = subtable_hash(st, fk), b, i = st->n_flows++;

	st->nodes[i].flow = f;
	st->nodes[i].next = NODE_NONE;
	if (i == 0 || f->priority > st->max_priority)
		st->max_priority = f->priority;
	for (b = h & st->bucket_mask; st->buckets[b].node != NODE_NONE;
	     b = (b + 1) & st->bucket_mask) {
		uint32_t *link = &st->buckets[b].node;

		if (st->buckets[b].hash != h || !subtable_hits(st, fk, st->nodes[*link].flow))
			continue;
		while (*link != NODE_NONE && st->nodes[*link].flow->priority >= f->priority)
			link = &st->nodes[*link].next;
		st->nodes[i].next = *link;
		*link = i;
		return;
	}
	st->buckets[b].hash = h;
	st->buckets[b].node = i;
}

/* A copy of `old` that can take `extra` more flows: the arrays copied as
 * they are when they have room, else rebuilt larger. */
static struct sw_cls_subtable *subtable_cow(const struct sw_cls_subtable *old, uint32_t extra)
{
	struct sw_cls_subtable *st;

	if (subtable_room(old) >= extra) {
		size_t size = old->bucket_mask + 1;

		st = subtable_new(old->mask, (uint32_t)(size / 2));     /* the same size */
		if (!st)
			return NULL;
		memcpy(st->buckets, old->buckets, size * sizeof(*st->buckets));
		memcpy(st->nodes, old->nodes, old->n_flows * sizeof(*st->nodes));
		st->n_flows = old->n_flows;
		st->max_priority = old->max_priority;
		return st;
	}
	st = subtable_new(old->mask, 2 * (old->n_flows + extra));
	if (!st)
		return NULL;
	for (uint32_t i = 0; i < old->n_flows; i++)
		subtable_insert(st, old->nodes[i].flow);
	return st;
}

static int table_add_subtable(struct sw_cls_table *t, uint32_t *cap, struct sw_cls_subtable *st)
{
	if (t->n_subtables == *cap) {
		struct sw_cls_subtable **ns;
		uint32_t c = *cap ? 2 * *cap : 4;

		ns = realloc(t->subtables, c * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		t->subtables = ns;
		*cap = c;
	}
	t->subtables[t->n_subtables++] = st;
	return 0;
}

static int table_build(struct sw_cls_table *t, struct sw_flow *const *flows, uint32_t n)
{
	struct sw_flow **left = NULL, **grp = NULL;
	uint32_t cap = 0;
	int ret = -ENOMEM;

	t->n_flows = n;
	if (!n)
		return 0;
	left = malloc(n * sizeof(*left));
	grp = malloc(n * sizeof(*grp));
	if (!left || !grp)
		goto out;
	memcpy(left, flows, n * sizeof(*left));
	/* Group by mask: flows[] are visited once per distinct mask, which is
	 * cheap while masks are few (the premise of tuple-space search). */
	for (uint32_t nleft = n; nleft;) {
		const struct sw_match *m = &left[0]->match;
		struct sw_cls_subtable *st;
		uint32_t ng = 0, keep = 0;

		for (uint32_t j = 0; j < nleft; j++) {
			if (!memcmp(&left[j]->match.mask, &m->mask, sizeof(m->mask)))
				grp[ng++] = left[j];
			else
				left[keep++] = left[j];
		}
		st = subtable_new((const uint64_t *)(const void *)&grp[0]->match.mask, ng);
		if (!st || table_add_subtable(t, &cap, st)) {
			subtable_free(st);
			goto out;
		}
		for (uint32_t j = 0; j < ng; j++)
			subtable_insert(st, grp[j]);
		nleft = keep;
	}
	qsort(t->subtables, t->n_subtables, sizeof(t->subtables[0]), cmp_subtable);
	ret = 0;
out:
	free(left);
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

/* One subtable a commit touches: its mask, the subtable it replaces (NULL:
 * a new mask), the flows it gains, and whether it loses some. */
struct st_change {
	uint8_t table;
	bool removals;
	const uint64_t *mask;
	struct sw_cls_subtable *old;
	uint32_t n_add, cap_add;
	struct sw_flow **add;
};

struct changes {
	struct st_change *c;
	uint32_t n, cap;
	uint32_t last;
};

static struct st_change *change_for(struct changes *ch, const struct sw_cls *old,
				    const struct sw_flow *f)
{
	const uint64_t *mask = (const uint64_t *)(const void *)&f->match.mask;
	const struct sw_cls_table *t = &old->tables[f->table_id];
	struct st_change *c;

	/* Consecutive flows mostly share a mask. */
	if (ch->last < ch->n) {
		c = &ch->c[ch->last];
		if (c->table == f->table_id && !memcmp(c->mask, mask, sizeof(f->match.mask)))
			return c;
	}
	for (uint32_t i = 0; i < ch->n; i++) {
		c = &ch->c[i];
		if (c->table == f->table_id && !memcmp(c->mask, mask, sizeof(f->match.mask))) {
			ch->last = i;
			return c;
		}
	}
	if (ch->n == ch->cap) {
		uint32_t cap = ch->cap ? 2 * ch->cap : 8;
		struct st_change *nc = realloc(ch->c, cap * sizeof(*nc));

		if (!nc)
			return NULL;
		ch->c = nc;
		ch->cap = cap;
	}
	c = &ch->c[ch->n];
	memset(c, 0, sizeof(*c));
	c->table = f->table_id;
	c->mask = mask;
	for (uint32_t i = 0; i < t->n_subtables; i++)
		if (!memcmp(t->subtables[i]->mask, mask, sizeof(f->match.mask)))
			c->old = t->subtables[i];
	ch->last = ch->n++;
	return c;
}

/* The new subtable for one change: NULL with *err = 0 when it ends empty. */
static struct sw_cls_subtable *change_apply(const struct st_change *c, int *err)
{
	struct sw_cls_subtable *st;
	uint32_t n = c->n_add;

	*err = 0;
	if (c->old && !c->removals) {
		st = subtable_cow(c->old, n);
		if (!st)
			goto nomem;
	} else {
		/* Removals: the survivors and the additions, in a fresh subtable. */
		uint32_t live = 0;

		for (uint32_t i = 0; c->old && i < c->old->n_flows; i++)
			live += !c->old->nodes[i].flow->dead;
		if (!live && !n)
			return NULL;
		st = subtable_new(c->mask, 2 * (live + n));
		if (!st)
			goto nomem;
		for (uint32_t i = 0; c->old && i < c->old->n_flows; i++)
			if (!c->old->nodes[i].flow->dead)
				subtable_insert(st, c->old->nodes[i].flow);
	}
	for (uint32_t i = 0; i < n; i++)
		subtable_insert(st, c->add[i]);
	return st;
nomem:
	*err = -ENOMEM;
	return NULL;
}

struct sw_cls *sw_cls_update(const struct sw_cls *old, struct sw_flow *const *added,
			     uint32_t n_added, struct sw_flow *const *removed, uint32_t n_removed,
			     uint32_t version)
{
	struct changes ch = { .c = NULL };
	struct sw_cls *cls = calloc(1, sizeof(*cls));
	bool touched[SW_N_TABLES] = { false };

	if (!cls)
		return NULL;
	cls->version = version;
	/* What changes, per (table, mask). A flow both added and removed since
	 * the last commit is dead: skipped here, absent from the old classifier. */
	for (uint32_t i = 0; i < n_added; i++) {
		struct st_change *c;

		if (added[i]->dead)
			continue;
		c = change_for(&ch, old, added[i]);
		if (!c)
			goto nomem;
		if (c->n_add == c->cap_add) {
			uint32_t cap = c->cap_add ? 2 * c->cap_add : 16;
			struct sw_flow **na = realloc(c->add, cap * sizeof(*na));

			if (!na)
				goto nomem;
			c->add = na;
			c->cap_add = cap;
		}
		c->add[c->n_add++] = added[i];
		touched[c->table] = true;
	}
	for (uint32_t i = 0; i < n_removed; i++) {
		struct st_change *c = change_for(&ch, old, removed[i]);

		if (!c)
			goto nomem;
		c->removals = true;
		touched[c->table] = true;
	}
	for (unsigned t = 0; t < SW_N_TABLES; t++) {
		const struct sw_cls_table *ot = &old->tables[t];
		struct sw_cls_table *nt = &cls->tables[t];
		uint32_t cap = 0;

		if (touched[t]) {
			/* Subtables no change names carry over (shared). */
			for (uint32_t i = 0; i < ot->n_subtables; i++) {
				bool changed = false;

				for (uint32_t j = 0; j < ch.n && !changed; j++)
					changed = ch.c[j].old == ot->subtables[i];
				if (changed)
					continue;
				if (table_add_subtable(nt, &cap, ot->subtables[i]))
					goto nomem;
				ot->subtables[i]->refs++;
			}
			for (uint32_t j = 0; j < ch.n; j++) {
				struct sw_cls_subtable *st;
				int err;

				if (ch.c[j].table != t)
					continue;
				st = change_apply(&ch.c[j], &err);
				if (err)
					goto nomem;
				if (st && table_add_subtable(nt, &cap, st)) {
					subtable_free(st);
					goto nomem;
				}
			}
			qsort(nt->subtables, nt->n_subtables, sizeof(nt->subtables[0]), cmp_subtable);
		} else if (ot->n_subtables) {
			nt->subtables = malloc(ot->n_subtables * sizeof(*nt->subtables));
			if (!nt->subtables)
				goto nomem;
			memcpy(nt->subtables, ot->subtables, ot->n_subtables * sizeof(*nt->subtables));
			nt->n_subtables = ot->n_subtables;
			for (uint32_t i = 0; i < ot->n_subtables; i++)
				ot->subtables[i]->refs++;
		}
		for (uint32_t i = 0; i < nt->n_subtables; i++)
			nt->n_flows += nt->subtables[i]->n_flows;
		cls->n_flows += nt->n_flows;
	}
	for (uint32_t j = 0; j < ch.n; j++)
		free(ch.c[j].add);
	free(ch.c);
	return cls;
nomem:
	for (uint32_t j = 0; j < ch.n; j++)
		free(ch.c[j].add);
	free(ch.c);
	sw_cls_destroy(cls);
	return NULL;
}

void sw_cls_destroy(struct sw_cls *cls)
{
	if (!cls)
		return;
	for (unsigned t = 0; t < SW_N_TABLES; t++) {
		for (uint32_t i = 0; i < cls->tables[t].n_subtables; i++)
			subtable_put(cls->tables[t].subtables[i]);
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
	uint64_t pbit = 1ull << (key->in_port & 63);
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

		if (st->table != table || (st->by_port && !(st->in_ports & pbit)))
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
	st->by_port = ((const struct sw_flow_key *)(const void *)wc)->in_port == UINT16_MAX;
	st->in_ports = 0;
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
	if (st->by_port)
		st->in_ports |= 1ull << (key->in_port & 63);
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
