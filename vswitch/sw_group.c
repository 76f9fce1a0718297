/* sw_group.c — the OpenFlow group table (ALL, SELECT, INDIRECT,
 * FAST_FAILOVER). Control thread; the PMDs execute groups in sw_flow_exec.c.
 *
 * RCU. What the PMDs read is one immutable struct sw_groups (sorted by id)
 * published in sw_dp.groups with a release store. A GROUP_MOD builds a new
 * array, publishes it, waits one grace period (sw_dp_sync) and then frees the
 * old array and any replaced or deleted group, so a PMD holding a group
 * pointer within an iteration never sees it freed. Group mods are rare; the
 * grace period per mod is the price of never locking on the fast path.
 *
 * Chains. A bucket may send to another group; a change that would make a
 * chain come back to the group changed is refused with OFPGMFC_LOOP, a bucket
 * naming an unknown group with OFPBAC_BAD_OUT_GROUP, and deleting a group
 * another group sends to with OFPGMFC_CHAINED_GROUP. Deleting a group also
 * deletes the flows that send to it (OpenFlow 1.3 §6.5).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ofa.h"
#include "sw_flow.h"
#include "sw_internal.h"

static struct sw_groups *groups_get(void)
{
	return sw_dp.groups;
}

static void group_free(struct sw_group *g)
{
	if (!g)
		return;
	ofa_buckets_free(g->ofa_buckets, g->n_ofa_buckets);
	free(g);
}

static long find_idx(const struct sw_groups *gs, uint32_t id)
{
	long lo = 0, hi = gs ? (long)gs->n - 1 : -1;

	while (lo <= hi) {
		long mid = (lo + hi) / 2;

		if (gs->g[mid]->id == id)
			return mid;
		if (gs->g[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

bool sw_group_exists(uint32_t id)
{
	return find_idx(groups_get(), id) >= 0;
}

/* Does following group `from` (as defined in gs, with `id` replaced by
 * `nw`) reach `target`? depth bounds the walk. */
static bool reaches(const struct sw_groups *gs, const struct sw_group *nw, uint32_t from,
		    uint32_t target, unsigned depth)
{
	const struct sw_group *g;
	long i;

	if (from == target)
		return true;
	if (depth > SW_GROUP_MAX_DEPTH)
		return true;              /* too deep counts as a loop */
	if (nw && from == nw->id) {
		g = nw;
	} else {
		i = find_idx(gs, from);
		if (i < 0)
			return false;
		g = gs->g[i];
	}
	for (unsigned b = 0; b < g->n_buckets; b++)
		for (unsigned a = 0; a < g->buckets[b].n_acts; a++)
			if (g->buckets[b].acts[a].type == SW_ACT_GROUP &&
			    reaches(gs, nw, g->buckets[b].acts[a].arg, target, depth + 1))
				return true;
	return false;
}

static int group_build(const struct ofa_group_mod *gm, struct sw_group **out)
{
	struct sw_group *g;
	int err;

	if (gm->n_buckets > SW_GROUP_MAX_BUCKETS)
		return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_OUT_OF_BUCKETS);
	g = calloc(1, sizeof(*g) + gm->n_buckets * sizeof(g->buckets[0]));
	if (!g)
		return -ENOMEM;
	g->id = gm->group_id;
	g->type = gm->type;
	g->n_buckets = (uint16_t)gm->n_buckets;
	for (size_t i = 0; i < gm->n_buckets; i++) {
		const struct ofa_bucket *ob = &gm->buckets[i];
		struct sw_bucket *b = &g->buckets[i];
		unsigned n;

		b->weight = gm->type == OFPGT_SELECT ? (ob->weight ? ob->weight : 0) : 1;
		b->watch_port = ob->watch_port;
		b->watch_group = ob->watch_group;
		err = sw_ofa_actions_from(&ob->actions, b->acts, SW_MAX_ACTIONS, &n);
		if (err)
			goto err_free;
		b->n_acts = (uint8_t)n;
		g->total_weight += b->weight;
		for (unsigned a = 0; a < n; a++) {
			if (b->acts[a].type == SW_ACT_GROUP && b->acts[a].arg != g->id &&
			    !sw_group_exists(b->acts[a].arg)) {
				err = ofa_err(OFPET_BAD_ACTION, OFPBAC_BAD_OUT_GROUP);
				goto err_free;
			}
		}
	}
	if (gm->type == OFPGT_SELECT && gm->n_buckets && !g->total_weight) {
		err = ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_WEIGHT_UNSUPPORTED);
		goto err_free;
	}
	/* Keep the wire form for GROUP_DESC. */
	if (gm->n_buckets) {
		struct ofa_buf b;

		ofa_buf_init(&b);
		err = ofa_buckets_encode(gm->buckets, gm->n_buckets, &b);
		if (!err)
			err = ofa_buckets_decode(b.data, b.len, gm->type, gm->group_id,
						 &g->ofa_buckets, &g->n_ofa_buckets);
		ofa_buf_fini(&b);
		if (err)
			goto err_free;
	}
	*out = g;
	return 0;

err_free:
	group_free(g);
	return err;
}

/* Publishes a new table: the current one without index `drop` (-1: none),
 * with `add` (NULL: none) inserted or replacing the same id. Frees what is
 * replaced after a grace period. */
static int cmp_group(const void *a, const void *b)
{
	const struct sw_group *ga = *(struct sw_group *const *)a, *gb = *(struct sw_group *const *)b;

	return ga->id < gb->id ? -1 : ga->id > gb->id;
}

static int publish(long drop, struct sw_group *add)
{
	struct sw_groups *old = groups_get(), *nw;
	uint32_t n = old ? old->n : 0, k = 0;
	struct sw_group *gone = NULL;

	nw = malloc(sizeof(*nw) + (n + 1) * sizeof(nw->g[0]));
	if (!nw)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct sw_group *g = old->g[i];

		if ((long)i == drop || (add && g->id == add->id))
			gone = g;
		else
			nw->g[k++] = g;
	}
	if (add)
		nw->g[k++] = add;
	nw->n = k;
	qsort(nw->g, k, sizeof(nw->g[0]), cmp_group);
	__atomic_store_n(&sw_dp.groups, nw, __ATOMIC_RELEASE);
	sw_dp_sync();
	free(old);
	group_free(gone);
	return 0;
}

static void delete_flows_to(uint32_t group)
{
	struct ofa_flow_mod fm;

	memset(&fm, 0, sizeof(fm));
	fm.command = OFPFC_DELETE;
	fm.table_id = OFPTT_ALL;
	fm.out_port = OFPP_ANY;
	fm.out_group = group;
	ofa_match_init(&fm.match);
	sw_ofa_delete_flows(&fm);
}

int sw_group_mod(const struct ofa_group_mod *gm)
{
	struct sw_groups *gs = groups_get();
	struct sw_group *g = NULL;
	long idx;
	int err;

	switch (gm->command) {
	case OFPGC_ADD:
	case OFPGC_MODIFY:
		if (gm->type > OFPGT_FF)
			return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_BAD_TYPE);
		idx = find_idx(gs, gm->group_id);
		if (gm->command == OFPGC_ADD && idx >= 0)
			return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_GROUP_EXISTS);
		if (gm->command == OFPGC_MODIFY && idx < 0)
			return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_UNKNOWN_GROUP);
		if (idx < 0 && gs && gs->n >= SW_MAX_GROUPS)
			return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_OUT_OF_GROUPS);
		err = group_build(gm, &g);
		if (err)
			return err;
		for (unsigned b = 0; b < g->n_buckets; b++)
			for (unsigned a = 0; a < g->buckets[b].n_acts; a++)
				if (g->buckets[b].acts[a].type == SW_ACT_GROUP &&
				    reaches(gs, g, g->buckets[b].acts[a].arg, g->id, 1)) {
					group_free(g);
					return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_LOOP);
				}
		err = publish(-1, g);
		if (err)
			group_free(g);
		return err;
	case OFPGC_DELETE:
		if (gm->group_id == OFPG_ALL) {
			while ((gs = groups_get()) && gs->n) {
				uint32_t id = gs->g[gs->n - 1]->id;

				delete_flows_to(id);
				err = publish((long)gs->n - 1, NULL);
				if (err)
					return err;
			}
			return 0;
		}
		idx = find_idx(gs, gm->group_id);
		if (idx < 0)
			return 0;
		for (uint32_t i = 0; i < gs->n; i++)
			if ((long)i != idx && reaches(gs, NULL, gs->g[i]->id, gm->group_id, 1) &&
			    gs->g[i]->id != gm->group_id) {
				/* reaches() counts a group as reaching itself: check a bucket. */
				const struct sw_group *o = gs->g[i];

				for (unsigned b = 0; b < o->n_buckets; b++)
					for (unsigned a = 0; a < o->buckets[b].n_acts; a++)
						if (o->buckets[b].acts[a].type == SW_ACT_GROUP &&
						    o->buckets[b].acts[a].arg == gm->group_id)
							return ofa_err(OFPET_GROUP_MOD_FAILED,
								       OFPGMFC_CHAINED_GROUP);
			}
		delete_flows_to(gm->group_id);
		return publish(idx, NULL);
	default:
		return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_BAD_COMMAND);
	}
}

int sw_group_foreach(ofa_group_desc_fn fn, void *ctx)
{
	const struct sw_groups *gs = groups_get();

	for (uint32_t i = 0; gs && i < gs->n; i++) {
		const struct sw_group *g = gs->g[i];
		struct ofa_group_desc d = { .type = g->type, .group_id = g->id,
					    .buckets = g->ofa_buckets, .n_buckets = g->n_ofa_buckets };
		int err = fn(ctx, &d);

		if (err)
			return err;
	}
	return 0;
}

uint32_t sw_group_count(void)
{
	const struct sw_groups *gs = groups_get();

	return gs ? gs->n : 0;
}

void sw_group_fini(void)
{
	struct sw_groups *gs = groups_get();

	/* PMDs are stopped. */
	for (uint32_t i = 0; gs && i < gs->n; i++)
		group_free(gs->g[i]);
	free(gs);
	sw_dp.groups = NULL;
}
