/* sw_flow_table.c — the flow tables on the control thread: flow-mods,
 * commit (publishing a classifier), selection for dump/delete, and the idle
 * and hard timeouts. See sw_internal.h and sw_cls.h.
 *
 * Ownership. The tables own their flows. A flow leaving the tables (DELETE,
 * replaced by ADD, expired) and the instructions MODIFY replaces go to the
 * garbage list: PMDs may still be using them through the published
 * classifier. A commit publishes the new classifier and retires the old one
 * with that garbage under an RCU token (rte_rcu_qsbr_start); retired sets
 * are freed once their grace period has passed — checked without waiting at
 * each commit and on the flow timer, waited for only by sw_flow_sync() and
 * when more than SW_RETIRED_MAX sets are pending. The control thread so never
 * spins on a PMD that the kernel has preempted (a grace period then lasts a
 * scheduler time slice: milliseconds per commit on a shared machine).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

#include "sw_cls.h"
#include "sw_internal.h"
#include "vsl_daemon.h"
#include "vsl_log.h"
#include "vsl_loop.h"

VSL_LOG_MODULE(flow);

enum { SW_FLOW_TIMER_MS = 500, SW_RETIRED_MAX = 64 };

/* What one commit replaced, freed after the grace period of `token`. */
struct retired {
	uint64_t token;
	struct sw_cls *cls;
	struct sw_flow **flows;
	uint32_t n_flows;
	struct sw_insts **insts;
	uint32_t n_insts;
};

struct ftable {
	struct sw_flow **flows;
	uint32_t n, cap;
};

static struct {
	struct ftable t[SW_N_TABLES];
	uint32_t n_flows;
	uint32_t version;
	bool dirty;
	/* Garbage waiting for a grace period. */
	struct sw_flow **dead_flows;
	uint32_t n_dead, cap_dead;
	struct sw_insts **dead_insts;
	uint32_t n_dead_insts, cap_dead_insts;
	/* Every flow by (table, priority, match): ADD finds the flow it replaces
	 * in O(1), not by a scan (100,000 adds would be quadratic). Open
	 * addressing, at most half full; rebuilt after deletions. */
	struct sw_flow **idx;
	uint32_t idx_mask, idx_n;
	/* Flows added since the last commit (sw_cls_update's input). */
	struct sw_flow **added;
	uint32_t n_added, cap_added;
	/* Retired sets, oldest first (tokens increase). */
	struct retired retired[SW_RETIRED_MAX];
	uint32_t n_retired;
} ft;

static void retired_free(struct retired *r)
{
	sw_cls_destroy(r->cls);
	for (uint32_t i = 0; i < r->n_flows; i++)
		sw_flow_free(r->flows[i]);
	for (uint32_t i = 0; i < r->n_insts; i++)
		free(r->insts[i]);
	free(r->flows);
	free(r->insts);
	memset(r, 0, sizeof(*r));
}

/* Frees the retired sets whose grace period has passed (all of them when
 * `wait`, or when no PMD runs); returns how many are left. */
static uint32_t reclaim(bool wait)
{
	uint32_t done = 0;

	while (done < ft.n_retired) {
		struct retired *r = &ft.retired[done];

		if (sw_dp.qsbr && sw_dp.n_pmds &&
		    rte_rcu_qsbr_check(sw_dp.qsbr, r->token, wait) != 1)
			break;
		retired_free(r);
		done++;
	}
	if (done) {
		memmove(ft.retired, ft.retired + done, (ft.n_retired - done) * sizeof(ft.retired[0]));
		ft.n_retired -= done;
	}
	return ft.n_retired;
}

static uint32_t flow_ident_hash(uint8_t table, uint16_t priority, const struct sw_match *m)
{
	const uint64_t *k = (const uint64_t *)(const void *)&m->key;
	const uint64_t *mk = (const uint64_t *)(const void *)&m->mask;
	uint32_t a = (uint32_t)table << 16 | priority, b = 0;

	for (unsigned i = 0; i < SW_KEY_WORDS; i++) {
		a = sw_crc64(k[i], a);
		b = sw_crc64(mk[i], b);
	}
	return a ^ (b << 11 | b >> 21);
}

static void idx_put(struct sw_flow *f)
{
	uint32_t b = flow_ident_hash(f->table_id, f->priority, &f->match) & ft.idx_mask;

	while (ft.idx[b])
		b = (b + 1) & ft.idx_mask;
	ft.idx[b] = f;
	ft.idx_n++;
}

/* Rebuilds the index for at least `need` flows. */
static int idx_rebuild(uint32_t need)
{
	uint32_t size = 1024;
	struct sw_flow **n;

	while (size < 2 * need)
		size <<= 1;
	n = calloc(size, sizeof(*n));
	if (!n)
		return -ENOMEM;
	free(ft.idx);
	ft.idx = n;
	ft.idx_mask = size - 1;
	ft.idx_n = 0;
	for (unsigned t = 0; t < SW_N_TABLES; t++)
		for (uint32_t i = 0; i < ft.t[t].n; i++)
			idx_put(ft.t[t].flows[i]);
	return 0;
}

/* The slot of the flow with this identity, or of the empty slot ending its chain. */
static uint32_t idx_find(uint8_t table, uint16_t priority, const struct sw_match *m)
{
	uint32_t b = flow_ident_hash(table, priority, m) & ft.idx_mask;

	for (; ft.idx[b]; b = (b + 1) & ft.idx_mask) {
		const struct sw_flow *f = ft.idx[b];

		if (f->table_id == table && f->priority == priority && sw_match_equal(&f->match, m))
			break;
	}
	return b;
}

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
	void *n;
	uint32_t c;

	if (need <= *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	while (c < need)
		c *= 2;
	n = realloc(*arr, c * elem);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = c;
	return 0;
}

static int bury_flow(struct sw_flow *f)
{
	if (grow((void **)&ft.dead_flows, &ft.cap_dead, ft.n_dead + 1, sizeof(f)))
		return -ENOMEM;
	f->dead = true;
	ft.dead_flows[ft.n_dead++] = f;
	return 0;
}

static int bury_insts(struct sw_insts *in)
{
	if (grow((void **)&ft.dead_insts, &ft.cap_dead_insts, ft.n_dead_insts + 1, sizeof(in)))
		return -ENOMEM;
	ft.dead_insts[ft.n_dead_insts++] = in;
	return 0;
}

static void timer_fn(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	unsigned n;

	(void)loop;
	(void)t;
	(void)arg;
	n = sw_flow_expire(sw_now_s());
	if (n)
		VSL_DBG("%u flows expired", n);
	reclaim(false);
}

int sw_flow_table_init(void)
{
	struct vsl_daemon *d = vsl_daemon_get();

	memset(&ft, 0, sizeof(ft));
	if (d && d->loop) {
		sw_dp.flow_timer = vsl_timer_add(d->loop, SW_FLOW_TIMER_MS, SW_FLOW_TIMER_MS, timer_fn,
						 NULL);
		if (!sw_dp.flow_timer)
			return -ENOMEM;
	}
	return 0;
}

void sw_flow_table_fini(void)
{
	struct vsl_daemon *d = vsl_daemon_get();

	if (sw_dp.flow_timer && d && d->loop)
		vsl_timer_cancel(d->loop, sw_dp.flow_timer);
	sw_dp.flow_timer = NULL;
	/* PMDs are stopped: nothing reads the classifier any more. */
	for (uint32_t i = 0; i < ft.n_retired; i++)
		retired_free(&ft.retired[i]);
	sw_cls_destroy(sw_dp.cls);
	sw_dp.cls = NULL;
	for (unsigned t = 0; t < SW_N_TABLES; t++) {
		for (uint32_t i = 0; i < ft.t[t].n; i++)
			sw_flow_free(ft.t[t].flows[i]);
		free(ft.t[t].flows);
	}
	for (uint32_t i = 0; i < ft.n_dead; i++)
		sw_flow_free(ft.dead_flows[i]);
	for (uint32_t i = 0; i < ft.n_dead_insts; i++)
		free(ft.dead_insts[i]);
	free(ft.dead_flows);
	free(ft.dead_insts);
	free(ft.idx);
	free(ft.added);
	memset(&ft, 0, sizeof(ft));
}

static bool selected(const struct sw_flow *f, const struct sw_flow_mod *sel,
		     const struct sw_match *norm, bool strict)
{
	if ((f->cookie & sel->cookie_mask) != (sel->cookie & sel->cookie_mask))
		return false;
	if (strict) {
		if (f->priority != sel->priority || !sw_match_equal(&f->match, norm))
			return false;
	} else if (!sw_match_covers(norm, &f->match)) {
		return false;
	}
	return sw_insts_output_to(f->insts, sel->out_port);
}

static int flow_add(const struct sw_flow_mod *fm, char *err, size_t errlen)
{
	struct ftable *t;
	struct sw_flow *f, *old;
	struct sw_match norm = fm->match;
	uint32_t slot;

	if (fm->table_id >= SW_N_TABLES) {
		snprintf(err, errlen, "bad table %u", fm->table_id);
		return -EINVAL;
	}
	t = &ft.t[fm->table_id];
	sw_match_normalize(&norm);
	if (!ft.idx && idx_rebuild(ft.n_flows + 1))
		goto nomem;
	slot = idx_find(fm->table_id, fm->priority, &norm);
	old = ft.idx[slot];
	/* Limits apply to new flows only: a replacement does not grow the table. */
	if (!old && sw_dp.table_limit && t->n >= sw_dp.table_limit) {
		snprintf(err, errlen, "table %u full (%u flows)", fm->table_id, sw_dp.table_limit);
		return -ENOSPC;
	}
	if (!old && ft.n_flows >= SW_MAX_FLOWS) {
		snprintf(err, errlen, "flow tables full (%d flows)", SW_MAX_FLOWS);
		return -ENOSPC;
	}
	/* One counter block per PMD, plus one for the control thread's
	 * PACKET_OUT pipeline (sw_ofa.c). */
	f = sw_flow_alloc(fm, sw_dp.n_pmds + 1, sw_now_s());
	if (!f)
		goto nomem;
	f->created_tsc = rte_rdtsc();
	/* An identical match and priority replaces the old flow (OpenFlow 1.3
	 * §6.4): the duration restarts, the counters carry over unless
	 * OFPFF_RESET_COUNTS (a PMD may still count a last burst on the old one). */
	if (grow((void **)&ft.added, &ft.cap_added, ft.n_added + 1, sizeof(f)))
		goto nomem_free;
	if (old) {
		for (uint32_t i = 0; i < t->n; i++) {
			if (t->flows[i] != old)
				continue;
			if (bury_flow(old))
				goto nomem_free;
			if (!(fm->flags & SW_OFPFF_RESET_COUNTS) && old->n_stats == f->n_stats)
				for (unsigned j = 0; j < f->n_stats; j++)
					f->stats[j] = old->stats[j];
			t->flows[i] = f;
			ft.idx[slot] = f;
			ft.added[ft.n_added++] = f;
			ft.dirty = true;
			return 1;
		}
	}
	if (grow((void **)&t->flows, &t->cap, t->n + 1, sizeof(f)))
		goto nomem_free;
	t->flows[t->n++] = f;
	ft.n_flows++;
	ft.added[ft.n_added++] = f;
	ft.dirty = true;
	if (2 * (ft.idx_n + 1) > ft.idx_mask + 1) {
		if (idx_rebuild(ft.n_flows)) {
			free(ft.idx);             /* rebuilt by the next add */
			ft.idx = NULL;
		}
	} else {
		ft.idx[slot] = f;
		ft.idx_n++;
	}
	return 1;
nomem_free:
	sw_flow_free(f);
nomem:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

int sw_flow_mod_exec(const struct sw_flow_mod *fm, char *err, size_t errlen)
{
	bool strict = fm->cmd == SW_FC_MODIFY_STRICT || fm->cmd == SW_FC_DELETE_STRICT;
	bool del = fm->cmd == SW_FC_DELETE || fm->cmd == SW_FC_DELETE_STRICT;
	struct sw_match norm = fm->match;
	int count = 0;

	if (fm->cmd == SW_FC_ADD)
		return flow_add(fm, err, errlen);
	sw_match_normalize(&norm);
	for (unsigned tid = 0; tid < SW_N_TABLES; tid++) {
		struct ftable *t = &ft.t[tid];
		uint32_t keep = 0;

		if (fm->table_id != SW_TABLE_ALL && fm->table_id != tid)
			continue;
		for (uint32_t i = 0; i < t->n; i++) {
			struct sw_flow *f = t->flows[i];

			if (!selected(f, fm, &norm, strict)) {
				t->flows[keep++] = f;
				continue;
			}
			if (del) {
				sw_ofa_flow_removed(f, 2 /* OFPRR_DELETE */);
				if (bury_flow(f)) {
					t->flows[keep++] = f;
					continue;
				}
				ft.n_flows--;
			} else {
				struct sw_insts *in = sw_insts_dup(&fm->insts), *old = f->insts;

				t->flows[keep++] = f;
				if (!in || bury_insts(old)) {
					free(in);
					snprintf(err, errlen, "out of memory");
					return -ENOMEM;
				}
				__atomic_store_n(&f->insts, in, __ATOMIC_RELEASE);
				f->modified_s = sw_now_s();
			}
			count++;
		}
		t->n = keep;
	}
	if (count) {
		ft.dirty = true;
		if (del) {
			free(ft.idx);         /* rebuilt by the next add */
			ft.idx = NULL;
		}
	}
	return count;
}

int sw_flow_commit(void)
{
	struct sw_flow *const *flows[SW_N_TABLES];
	uint32_t n[SW_N_TABLES];
	struct sw_cls *cls, *old;

	if (!ft.dirty)
		return 0;
	for (unsigned t = 0; t < SW_N_TABLES; t++) {
		flows[t] = ft.t[t].flows;
		n[t] = ft.t[t].n;
	}
	/* Version 0 marks an empty EMC entry: skip it on wrap-around. */
	if (++ft.version == 0)
		ft.version = 1;
	/* Incremental from the published classifier (see sw_cls.h); a first
	 * commit, or one that replaces most flows, builds from scratch. */
	if (sw_dp.cls && ft.n_added + ft.n_dead < ft.n_flows)
		cls = sw_cls_update(sw_dp.cls, ft.added, ft.n_added, ft.dead_flows, ft.n_dead,
				    ft.version);
	else
		cls = sw_cls_build(flows, n, ft.version);
	if (!cls)
		return -ENOMEM;
	old = sw_dp.cls;
	__atomic_store_n(&sw_dp.cls, cls, __ATOMIC_RELEASE);
	/* Retire what the new classifier replaced; the garbage arrays go with
	 * it (bury_* allocates new ones). */
	if (reclaim(false) == SW_RETIRED_MAX)
		reclaim(true);    /* the oldest's grace period, then a slot is free */
	{
		struct retired *r = &ft.retired[ft.n_retired++];

		r->token = sw_dp.qsbr ? rte_rcu_qsbr_start(sw_dp.qsbr) : 0;
		r->cls = old;
		r->flows = ft.dead_flows;
		r->n_flows = ft.n_dead;
		r->insts = ft.dead_insts;
		r->n_insts = ft.n_dead_insts;
	}
	ft.dead_flows = NULL;
	ft.dead_insts = NULL;
	ft.n_dead = ft.cap_dead = ft.n_dead_insts = ft.cap_dead_insts = 0;
	ft.n_added = 0;
	ft.dirty = false;
	reclaim(false);       /* no PMD (or all asleep): free it right away */
	return 0;
}

void sw_flow_sync(void)
{
	reclaim(true);
}

static int cmp_flow(const void *a, const void *b)
{
	const struct sw_flow *fa = *(struct sw_flow *const *)a, *fb = *(struct sw_flow *const *)b;

	if (fa->priority != fb->priority)
		return (int)fb->priority - (int)fa->priority;
	return fa->created_tsc < fb->created_tsc ? -1 : fa->created_tsc > fb->created_tsc;
}

unsigned sw_flow_foreach(const struct sw_flow_mod *sel, bool strict,
			 void (*fn)(const struct sw_flow *f, void *arg), void *arg)
{
	struct sw_match norm = sel->match;
	unsigned count = 0;

	sw_match_normalize(&norm);
	for (unsigned tid = 0; tid < SW_N_TABLES; tid++) {
		struct ftable *t = &ft.t[tid];

		if (sel->table_id != SW_TABLE_ALL && sel->table_id != tid)
			continue;
		/* Dump order: priority, then age (as ovs-ofctl --sort would not). */
		if (t->n > 1)
			qsort(t->flows, t->n, sizeof(t->flows[0]), cmp_flow);
		for (uint32_t i = 0; i < t->n; i++) {
			if (!selected(t->flows[i], sel, &norm, strict))
				continue;
			fn(t->flows[i], arg);
			count++;
		}
	}
	return count;
}

uint32_t sw_flow_count(uint8_t table)
{
	return table == SW_TABLE_ALL ? ft.n_flows : ft.t[table].n;
}

unsigned sw_flow_expire(uint32_t now_s)
{
	unsigned count = 0;

	for (unsigned tid = 0; tid < SW_N_TABLES; tid++) {
		struct ftable *t = &ft.t[tid];
		uint32_t keep = 0;

		for (uint32_t i = 0; i < t->n; i++) {
			struct sw_flow *f = t->flows[i];
			uint64_t p, b;
			uint32_t used, last;
			bool expire = false, hard = false;

			if (f->hard_timeout && now_s - f->created_s >= f->hard_timeout)
				expire = hard = true;
			if (!expire && f->idle_timeout) {
				sw_flow_stats_sum(f, &p, &b, &used);
				last = used > f->created_s ? used : f->created_s;
				expire = now_s - last >= f->idle_timeout;
			}
			if (expire)
				sw_ofa_flow_removed(f, hard ? 1 /* OFPRR_HARD_TIMEOUT */
							    : 0 /* OFPRR_IDLE_TIMEOUT */);
			if (expire && !bury_flow(f)) {
				ft.n_flows--;
				count++;
				continue;
			}
			t->flows[keep++] = f;
		}
		t->n = keep;
	}
	if (count) {
		ft.dirty = true;
		free(ft.idx);
		ft.idx = NULL;
		if (sw_flow_commit())
			VSL_WARN("cannot publish the flow tables after expiry: out of memory");
	}
	return count;
}
