/* sw_ofa.c — the OpenFlow 1.3 agent (sdn-agent, ofa.h) wired into the switch:
 * struct ofa_datapath_ops over the flow tables (sw_flow_table.c), the ports
 * and the group table (sw_group.c), and the notifications back to the
 * controllers. Control thread only.
 *
 * Translation. OXM basic fields and sw_field share their numbers, so a match
 * translates field by field (sw_match_set / sw_match_get); OpenFlow actions
 * map one to one onto struct sw_action (output max_len in `ethertype`).
 * Fields and actions the data path cannot do are refused with the error the
 * specification names (OFPBMC_BAD_FIELD, OFPBAC_BAD_TYPE, OFPBAC_BAD_SET_TYPE).
 *
 * Batching. A FLOW_MOD changes the control thread's tables at once (so the
 * next message, a dump, sees it), but publishing a classifier costs O(flows);
 * it happens at BARRIER, before a PACKET_OUT, and otherwise from a short timer
 * when something changed (SW_OFA_COMMIT_MS). So a burst of 100,000 FLOW_MODs
 * followed by a BARRIER pays a handful of rebuilds, and BARRIER_REPLY is sent
 * only after the rebuild and an RCU grace period: the PMDs use the new rules.
 *
 * Notifications. PMDs queue packet-ins on sw_dp.pin_ring (a multi-producer
 * rte_ring of mbuf copies with struct sw_pin_meta prepended; full = dropped
 * and counted per PMD as pin_dropped); SW_OFA_PIN_MS drains it. Flow removal
 * comes from sw_flow_table.c (sw_ofa_flow_removed). Port add/delete and link
 * or admin changes are found by comparing a snapshot of the ports every
 * SW_OFA_PORT_MS. The same timer applies the fail mode (see below).
 *
 * Fail modes. secure: without a controller the flows stay and nothing is
 * added (table misses drop). standalone: while controllers are configured but
 * none is connected, the bridge is the MAC-learning switch (sw_dp.flows_bypass:
 * every packet goes to NORMAL); the flows stay and apply again when a
 * controller connects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "ofa.h"
#include "sw_cls.h"
#include "sw_flow.h"
#include "sw_internal.h"
#include "vsl_daemon.h"
#include "vsl_log.h"
#include "vsl_loop.h"

VSL_LOG_MODULE(ofa);

enum {
	SW_OFA_COMMIT_MS = 50,
	SW_OFA_COMMIT_MAX_MS = 1000,
	SW_OFA_PIN_MS = 2,
	SW_OFA_PORT_MS = 200,
	SW_OFA_PIN_RING = 1024,
	SW_OFA_PIN_BURST = 64,
	SW_OFA_MAX_TARGETS = 16,
	SW_OFA_MAX_CONNS = 64,
};

struct port_snap {
	bool present;
	bool admin_up, link_up;
	struct ofa_port desc;
};

static struct {
	struct ofa_agent *agent;
	struct vsl_loop *loop;
	struct vsl_timer *commit_timer, *pin_timer, *port_timer;
	bool dirty;
	uint64_t dirty_since, last_mod;  /* TSC */
	char *targets[SW_OFA_MAX_TARGETS];
	unsigned n_targets;
	struct sw_pmd *ctl;              /* the control thread as a PMD (PACKET_OUT) */
	struct sw_port ctl_port;         /* in_port CONTROLLER/ANY of a PACKET_OUT */
	struct port_snap ports[SW_OFPORT_MAX + 1];
	uint64_t pin_sent;
	uint8_t pin_buf[65536];
} ofa;

/* ------------------------------------------------------------ translation */

static int match_from_ofa(const struct ofa_match *om, struct sw_match *m)
{
	sw_match_init_catchall(m);
	for (uint64_t bits = om->present; bits; bits &= bits - 1) {
		unsigned f = (unsigned)__builtin_ctzll(bits);
		const struct sw_field_info *fi = sw_field_info(f);
		union sw_value v, mk;
		bool masked = om->masked >> f & 1;

		if (!fi || f >= SW_F_VLAN_TCI)
			return ofa_err(OFPET_BAD_MATCH, OFPBMC_BAD_FIELD);
		memcpy(&v, &om->value[f], sizeof(v));
		memcpy(&mk, &om->mask[f], sizeof(mk));
		if (sw_match_set(m, f, &v, masked ? &mk : NULL))
			return ofa_err(OFPET_BAD_MATCH, masked ? OFPBMC_BAD_MASK : OFPBMC_BAD_VALUE);
	}
	sw_match_normalize(m);
	return 0;
}

static bool all_ones(const struct sw_field_info *fi, const union sw_value *mk)
{
	if (fi->kind == SW_FK_INT || fi->kind == SW_FK_BE)
		return mk->u64 == fi->bits >> fi->shift;
	for (unsigned i = 0; i < fi->size; i++)
		if (mk->ipv6[i] != 0xff)
			return false;
	return true;
}

/* Which of the fields sharing a key member the match means. */
static bool field_applies(const struct sw_match *m, unsigned f)
{
	union sw_value et, etm, pr, prm;
	bool has_et = sw_match_get(m, SW_F_ETH_TYPE, &et, &etm);
	bool has_pr = sw_match_get(m, SW_F_IP_PROTO, &pr, &prm);
	uint64_t type = has_et ? et.u64 : 0, proto = has_pr ? pr.u64 : 0;

	switch (f) {
	case SW_F_IPV4_SRC: case SW_F_IPV4_DST:
		return type == SW_ETH_TYPE_IPV4;
	case SW_F_ARP_SPA: case SW_F_ARP_TPA:
		return type == SW_ETH_TYPE_ARP;
	case SW_F_TCP_SRC: case SW_F_TCP_DST:
		return proto == 6;
	case SW_F_UDP_SRC: case SW_F_UDP_DST:
		return proto == 17;
	case SW_F_SCTP_SRC: case SW_F_SCTP_DST:
		return proto == 132;
	case SW_F_ICMPV4_TYPE: case SW_F_ICMPV4_CODE:
		return proto == 1 && type == SW_ETH_TYPE_IPV4;
	case SW_F_ICMPV6_TYPE: case SW_F_ICMPV6_CODE:
		return proto == 58 && type == SW_ETH_TYPE_IPV6;
	default:
		return true;
	}
}

static void match_to_ofa(const struct sw_match *m, struct ofa_match *om)
{
	ofa_match_init(om);
	for (unsigned f = 0; f < SW_F_VLAN_TCI; f++) {
		const struct sw_field_info *fi = sw_field_info(f);
		union sw_value v, mk;
		bool exact;

		if (!fi || !sw_match_get(m, f, &v, &mk) || !field_applies(m, f))
			continue;
		exact = all_ones(fi, &mk);
		if (fi->kind == SW_FK_INT || fi->kind == SW_FK_BE)
			ofa_match_set_u64(om, f, v.u64, exact || !fi->maskable ? NULL : &mk.u64);
		else
			ofa_match_set_bytes(om, f, v.ipv6, exact ? NULL : mk.ipv6);
	}
}

static int action_from_ofa(const struct ofa_action *a, struct sw_action *s)
{
	memset(s, 0, sizeof(*s));
	switch (a->type) {
	case OFPAT_OUTPUT:
		s->type = SW_ACT_OUTPUT;
		s->arg = a->u.output.port;
		if (s->arg == SW_OFPP_CONTROLLER)
			s->ethertype = a->u.output.max_len;
		else if (s->arg > SW_OFPORT_MAX && s->arg < SW_OFPP_MAX)
			return ofa_err(OFPET_BAD_ACTION, OFPBAC_BAD_OUT_PORT);
		return 0;
	case OFPAT_POP_VLAN:
		s->type = SW_ACT_POP_VLAN;
		return 0;
	case OFPAT_PUSH_VLAN:
		s->type = SW_ACT_PUSH_VLAN;
		s->ethertype = a->u.ethertype;
		return 0;
	case OFPAT_DEC_NW_TTL:
		s->type = SW_ACT_DEC_TTL;
		return 0;
	case OFPAT_GROUP:
		s->type = SW_ACT_GROUP;
		s->arg = a->u.group_id;
		return 0;
	case OFPAT_SET_FIELD: {
		const struct sw_field_info *fi = sw_field_info(a->u.set_field.field);

		if (!fi || a->u.set_field.field >= SW_F_VLAN_TCI ||
		    a->u.set_field.field == SW_F_IN_PORT)
			return ofa_err(OFPET_BAD_ACTION, OFPBAC_BAD_SET_TYPE);
		s->type = SW_ACT_SET_FIELD;
		s->field = a->u.set_field.field;
		memcpy(&s->value, &a->u.set_field.value, sizeof(s->value));
		return 0;
	}
	default:
		return ofa_err(OFPET_BAD_ACTION, OFPBAC_BAD_TYPE);
	}
}

int sw_ofa_actions_from(const struct ofa_actions *in, struct sw_action *out, unsigned max,
			unsigned *n)
{
	if (in->n > max)
		return ofa_err(OFPET_BAD_ACTION, OFPBAC_TOO_MANY);
	for (size_t i = 0; i < in->n; i++) {
		int err = action_from_ofa(&in->actions[i], &out[i]);

		if (err)
			return err;
	}
	*n = (unsigned)in->n;
	return 0;
}

static int insts_from_ofa(const struct ofa_instructions *oi, struct sw_insts *in)
{
	unsigned na = 0, nw = 0;
	int err;

	memset(in, 0, offsetof(struct sw_insts, acts));
	if (oi->present & (1u << OFPIT_METER))
		return ofa_err(OFPET_METER_MOD_FAILED, OFPMMFC_UNKNOWN_METER);
	if (oi->apply.n + oi->write.n > SW_MAX_ACTIONS)
		return ofa_err(OFPET_BAD_ACTION, OFPBAC_TOO_MANY);
	err = sw_ofa_actions_from(&oi->apply, in->acts, SW_MAX_ACTIONS, &na);
	if (!err)
		err = sw_ofa_actions_from(&oi->write, in->acts + na, SW_MAX_ACTIONS - na, &nw);
	if (err)
		return err;
	in->n_apply = (uint8_t)na;
	in->n_write = (uint8_t)nw;
	in->clear_actions = oi->present & (1u << OFPIT_CLEAR_ACTIONS);
	if (oi->present & (1u << OFPIT_GOTO_TABLE)) {
		if (oi->goto_table >= SW_N_TABLES)
			return ofa_err(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_TABLE_ID);
		in->has_goto = true;
		in->goto_table = oi->goto_table;
	}
	if (oi->present & (1u << OFPIT_WRITE_METADATA)) {
		in->write_md = true;
		in->md = oi->metadata;
		in->md_mask = oi->metadata_mask;
	}
	return 0;
}

void sw_ofa_action_to(const struct sw_action *s, struct ofa_action *a)
{
	memset(a, 0, sizeof(*a));
	switch (s->type) {
	case SW_ACT_OUTPUT:
		a->type = OFPAT_OUTPUT;
		a->u.output.port = s->arg;
		a->u.output.max_len = s->arg == SW_OFPP_CONTROLLER ? s->ethertype : 0;
		break;
	case SW_ACT_POP_VLAN:
		a->type = OFPAT_POP_VLAN;
		break;
	case SW_ACT_PUSH_VLAN:
		a->type = OFPAT_PUSH_VLAN;
		a->u.ethertype = s->ethertype;
		break;
	case SW_ACT_DEC_TTL:
		a->type = OFPAT_DEC_NW_TTL;
		break;
	case SW_ACT_GROUP:
		a->type = OFPAT_GROUP;
		a->u.group_id = s->arg;
		break;
	default: {
		unsigned f = s->field;

		a->type = OFPAT_SET_FIELD;
		/* Fields only vswitchctl spells (vlan_tci, nw_tos, tp_*) in OXM terms. */
		if (f == SW_F_VLAN_TCI)
			f = SW_F_VLAN_VID;
		else if (f == SW_F_NW_TOS)
			f = SW_F_IP_DSCP;
		a->u.set_field.field = (uint8_t)f;
		memcpy(&a->u.set_field.value, &s->value, sizeof(s->value));
		if (f == SW_F_VLAN_VID)
			a->u.set_field.value.u64 = (s->value.u64 & SW_VLAN_VID_MASK) | SW_VLAN_PRESENT;
		else if (s->field == SW_F_NW_TOS)
			a->u.set_field.value.u64 = s->value.u64 >> 2;
		break;
	}
	}
}

/* Fills oi with action arrays pointing into `acts` (SW_MAX_ACTIONS). */
static void insts_to_ofa(const struct sw_insts *in, struct ofa_instructions *oi,
			 struct ofa_action *acts)
{
	memset(oi, 0, sizeof(*oi));
	for (unsigned i = 0; i < (unsigned)(in->n_apply + in->n_write); i++)
		sw_ofa_action_to(&in->acts[i], &acts[i]);
	if (in->n_apply) {
		oi->present |= 1u << OFPIT_APPLY_ACTIONS;
		oi->apply.actions = acts;
		oi->apply.n = in->n_apply;
	}
	if (in->clear_actions)
		oi->present |= 1u << OFPIT_CLEAR_ACTIONS;
	if (in->n_write) {
		oi->present |= 1u << OFPIT_WRITE_ACTIONS;
		oi->write.actions = acts + in->n_apply;
		oi->write.n = in->n_write;
	}
	if (in->write_md) {
		oi->present |= 1u << OFPIT_WRITE_METADATA;
		oi->metadata = in->md;
		oi->metadata_mask = in->md_mask;
	}
	if (in->has_goto) {
		oi->present |= 1u << OFPIT_GOTO_TABLE;
		oi->goto_table = in->goto_table;
	}
}

static bool insts_group_to(const struct sw_insts *in, uint32_t group)
{
	if (group == OFPG_ANY)
		return true;
	for (unsigned i = 0; i < (unsigned)(in->n_apply + in->n_write); i++)
		if (in->acts[i].type == SW_ACT_GROUP && in->acts[i].arg == group)
			return true;
	return false;
}

/* ------------------------------------------------------------ flow mods */

static void mark_dirty(void)
{
	uint64_t now = rte_get_tsc_cycles();

	if (!ofa.dirty)
		ofa.dirty_since = now;
	ofa.last_mod = now;
	ofa.dirty = true;
}

static int commit_now(void)
{
	int ret;

	ret = sw_flow_commit();
	if (!ret)
		ofa.dirty = false;
	return ret;
}

static void commit_timer_fn(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	(void)arg;
	uint64_t now = rte_get_tsc_cycles(), ms = rte_get_tsc_hz() / 1000;

	if (!ofa.dirty)
		return;
	/* While FLOW_MODs stream in, publish at most every SW_OFA_COMMIT_MAX_MS
	 * (a rebuild is O(flows)); once they pause, at the next tick. */
	if (now - ofa.last_mod < SW_OFA_COMMIT_MS * ms / 2 &&
	    now - ofa.dirty_since < SW_OFA_COMMIT_MAX_MS * ms)
		return;
	if (commit_now())
		VSL_WARN("cannot publish the flow tables: out of memory (retrying)");
}

static bool match_overlap(const struct sw_match *a, const struct sw_match *b)
{
	const uint64_t *ak = (const uint64_t *)&a->key, *am = (const uint64_t *)&a->mask;
	const uint64_t *bk = (const uint64_t *)&b->key, *bm = (const uint64_t *)&b->mask;

	for (unsigned i = 0; i < SW_KEY_WORDS; i++)
		if ((ak[i] ^ bk[i]) & am[i] & bm[i])
			return false;
	return true;
}

struct overlap_ctx {
	const struct sw_flow_mod *fm;
	bool overlap;
};

static void overlap_one(const struct sw_flow *f, void *arg)
{
	struct overlap_ctx *c = arg;

	if (f->priority == c->fm->priority && !sw_match_equal(&f->match, &c->fm->match) &&
	    match_overlap(&f->match, &c->fm->match))
		c->overlap = true;
}

struct sel_ctx {
	uint32_t out_group;
	struct sw_flow **flows;
	size_t n, cap;
	bool nomem;
};

static void collect_one(const struct sw_flow *f, void *arg)
{
	struct sel_ctx *c = arg;

	if (!insts_group_to(f->insts, c->out_group))
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct sw_flow **p = realloc(c->flows, cap * sizeof(*p));

		if (!p) {
			c->nomem = true;
			return;
		}
		c->flows = p;
		c->cap = cap;
	}
	c->flows[c->n++] = (struct sw_flow *)f;
}

static int errno_to_ofa(int ret)
{
	switch (ret) {
	case -ENOSPC: return ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_TABLE_FULL);
	case -EINVAL: return ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_TABLE_ID);
	default: return ret;
	}
}

static int sw_ofa_flow_mod(void *dp, const struct ofa_flow_mod *ofm)
{
	struct sw_flow_mod *fm;
	bool strict = ofm->command == OFPFC_MODIFY_STRICT || ofm->command == OFPFC_DELETE_STRICT;
	bool del = ofm->command == OFPFC_DELETE || ofm->command == OFPFC_DELETE_STRICT;
	bool modify = ofm->command == OFPFC_MODIFY || ofm->command == OFPFC_MODIFY_STRICT;
	char err[128];
	int ret;

	(void)dp;
	fm = malloc(sizeof(*fm));
	if (!fm)
		return -ENOMEM;
	switch (ofm->command) {
	case OFPFC_ADD: sw_flow_mod_init(fm, SW_FC_ADD); break;
	case OFPFC_MODIFY: sw_flow_mod_init(fm, SW_FC_MODIFY); break;
	case OFPFC_MODIFY_STRICT: sw_flow_mod_init(fm, SW_FC_MODIFY_STRICT); break;
	case OFPFC_DELETE: sw_flow_mod_init(fm, SW_FC_DELETE); break;
	case OFPFC_DELETE_STRICT: sw_flow_mod_init(fm, SW_FC_DELETE_STRICT); break;
	default:
		free(fm);
		return ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_COMMAND);
	}
	if (ofm->table_id != OFPTT_ALL && ofm->table_id >= SW_N_TABLES) {
		free(fm);
		return ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_TABLE_ID);
	}
	fm->table_id = ofm->table_id;
	fm->priority = ofm->priority;
	fm->idle_timeout = ofm->idle_timeout;
	fm->hard_timeout = ofm->hard_timeout;
	fm->flags = ofm->flags;
	fm->cookie = ofm->cookie;
	fm->cookie_mask = ofm->command == OFPFC_ADD ? 0 : ofm->cookie_mask;
	/* MODIFY never filters on out_port (OpenFlow 1.3 §6.4). */
	fm->out_port = (ofm->command == OFPFC_DELETE || ofm->command == OFPFC_DELETE_STRICT)
		       ? ofm->out_port : SW_OFPP_ANY;
	ret = match_from_ofa(&ofm->match, &fm->match);
	if (!ret && !del)
		ret = insts_from_ofa(&ofm->insts, &fm->insts);
	for (unsigned i = 0; !ret && i < (unsigned)(fm->insts.n_apply + fm->insts.n_write); i++)
		if (fm->insts.acts[i].type == SW_ACT_GROUP && !sw_group_exists(fm->insts.acts[i].arg))
			ret = ofa_err(OFPET_BAD_ACTION, OFPBAC_BAD_OUT_GROUP);
	if (ret)
		goto out;

	if (ofm->command == OFPFC_ADD && (ofm->flags & OFPFF_CHECK_OVERLAP)) {
		struct sw_flow_mod *sel = malloc(sizeof(*sel));
		struct overlap_ctx oc = { fm, false };

		if (!sel) {
			ret = -ENOMEM;
			goto out;
		}
		sw_flow_mod_init(sel, SW_FC_DELETE);
		sel->table_id = fm->table_id;
		sw_flow_foreach(sel, false, overlap_one, &oc);
		free(sel);
		if (oc.overlap) {
			ret = ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_OVERLAP);
			goto out;
		}
	}
	if ((del && ofm->out_group != OFPG_ANY) || (modify && (ofm->flags & OFPFF_RESET_COUNTS))) {
		/* out_group filter (deletes) and RESET_COUNTS (modifies): select
		 * first, then act on the selected flows. */
		struct sel_ctx sc = { .out_group = del ? ofm->out_group : OFPG_ANY };

		sw_flow_foreach(fm, strict, collect_one, &sc);
		if (sc.nomem) {
			free(sc.flows);
			ret = -ENOMEM;
			goto out;
		}
		if (modify) {
			ret = sw_flow_mod_exec(fm, err, sizeof(err));
			/* Counters restart; a PMD may add its last burst to the old count. */
			for (size_t i = 0; ret >= 0 && i < sc.n; i++)
				for (unsigned j = 0; j < sc.flows[i]->n_stats; j++)
					memset(&sc.flows[i]->stats[j], 0, sizeof(sc.flows[i]->stats[j]));
		} else {
			ret = 0;
			for (size_t i = 0; i < sc.n && ret >= 0; i++) {
				struct sw_flow *f = sc.flows[i];

				fm->cmd = SW_FC_DELETE_STRICT;
				fm->table_id = f->table_id;
				fm->priority = f->priority;
				fm->match = f->match;
				fm->cookie = f->cookie;
				fm->cookie_mask = UINT64_MAX;
				fm->out_port = SW_OFPP_ANY;
				ret = sw_flow_mod_exec(fm, err, sizeof(err));
			}
		}
		free(sc.flows);
	} else {
		ret = sw_flow_mod_exec(fm, err, sizeof(err));
	}
	if (ret > 0 || ret == 0)
		mark_dirty();
	if (ret > 0)
		ret = 0;
	ret = errno_to_ofa(ret);
out:
	free(fm);
	return ret;
}

/* ------------------------------------------------------------ dumps */

static void sel_from_req(const struct ofa_flow_stats_request *req, struct sw_flow_mod *sel)
{
	sw_flow_mod_init(sel, SW_FC_DELETE);
	sel->table_id = req->table_id;
	sel->cookie = req->cookie;
	sel->cookie_mask = req->cookie_mask;
	sel->out_port = req->out_port;
}

struct stats_ctx {
	const struct ofa_flow_stats_request *req;
	ofa_flow_stats_fn fn;
	void *ctx;
	int err;
	struct ofa_aggregate_stats *agg;
};

static void stats_one(const struct sw_flow *f, void *arg)
{
	struct stats_ctx *c = arg;
	struct ofa_action acts[SW_MAX_ACTIONS];
	struct ofa_instructions oi;
	struct ofa_match om;
	struct ofa_flow_stats fs;
	uint64_t p, b, age;
	uint32_t used;

	if (c->err || !insts_group_to(f->insts, c->req->out_group))
		return;
	sw_flow_stats_sum(f, &p, &b, &used);
	if (c->agg) {
		c->agg->flow_count++;
		c->agg->packet_count += p;
		c->agg->byte_count += b;
		return;
	}
	age = (rte_rdtsc() - f->created_tsc) * 1000000000ull / rte_get_tsc_hz();
	match_to_ofa(&f->match, &om);
	insts_to_ofa(f->insts, &oi, acts);
	memset(&fs, 0, sizeof(fs));
	fs.table_id = f->table_id;
	fs.duration_sec = (uint32_t)(age / 1000000000ull);
	fs.duration_nsec = (uint32_t)(age % 1000000000ull);
	fs.priority = f->priority;
	fs.idle_timeout = f->idle_timeout;
	fs.hard_timeout = f->hard_timeout;
	fs.flags = f->flags;
	fs.cookie = f->cookie;
	fs.packet_count = p;
	fs.byte_count = b;
	fs.match = &om;
	fs.insts = &oi;
	c->err = c->fn(c->ctx, &fs);
}

static int sw_ofa_flow_stats(void *dp, const struct ofa_flow_stats_request *req,
			     ofa_flow_stats_fn fn, void *ctx)
{
	struct stats_ctx c = { req, fn, ctx, 0, NULL };
	struct sw_flow_mod *sel = malloc(sizeof(*sel));
	int ret;

	(void)dp;
	if (!sel)
		return -ENOMEM;
	sel_from_req(req, sel);
	ret = match_from_ofa(&req->match, &sel->match);
	if (!ret) {
		sw_flow_foreach(sel, false, stats_one, &c);
		ret = c.err;
	}
	free(sel);
	return ret;
}

static int sw_ofa_aggregate(void *dp, const struct ofa_flow_stats_request *req,
			    struct ofa_aggregate_stats *out)
{
	struct stats_ctx c = { req, NULL, NULL, 0, out };
	struct sw_flow_mod *sel = malloc(sizeof(*sel));
	int ret;

	(void)dp;
	if (!sel)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	sel_from_req(req, sel);
	ret = match_from_ofa(&req->match, &sel->match);
	if (!ret)
		sw_flow_foreach(sel, false, stats_one, &c);
	free(sel);
	return ret;
}

static int sw_ofa_table_stats(void *dp, ofa_table_stats_fn fn, void *ctx)
{
	(void)dp;
	for (unsigned t = 0; t < SW_N_TABLES; t++) {
		struct ofa_table_stats ts = { .table_id = (uint8_t)t,
					      .active_count = sw_flow_count((uint8_t)t) };
		int err;

		for (unsigned i = 0; i < sw_dp.n_pmds; i++) {
			ts.lookup_count += sw_dp.pmds[i]->tables[t].lookups;
			ts.matched_count += sw_dp.pmds[i]->tables[t].matches;
		}
		err = fn(ctx, &ts);
		if (err)
			return err;
	}
	return 0;
}

static uint32_t speed_bits(uint32_t mbps)
{
	switch (mbps) {
	case 10: return OFPPF_10MB_FD;
	case 100: return OFPPF_100MB_FD;
	case 1000: return OFPPF_1GB_FD;
	case 10000: return OFPPF_10GB_FD;
	case 40000: return OFPPF_40GB_FD;
	case 100000: return OFPPF_100GB_FD;
	case 1000000: return OFPPF_1TB_FD;
	default: return OFPPF_OTHER;
	}
}

static void port_describe(const struct sw_port *p, struct ofa_port *o, bool *link_up)
{
	struct rte_eth_link link = { 0 };
	struct rte_ether_addr mac = { 0 };
	uint32_t mbps;

	memset(o, 0, sizeof(*o));
	o->port_no = p->ofport;
	if (p->started) {
		rte_eth_macaddr_get(p->port_id, &mac);
		rte_eth_link_get_nowait(p->port_id, &link);
	}
	memcpy(o->hw_addr, mac.addr_bytes, 6);
	memcpy(o->name, p->name, strnlen(p->name, sizeof(o->name) - 1));
	o->config = p->cfg.admin_up ? 0 : OFPPC_PORT_DOWN;
	*link_up = link.link_status == RTE_ETH_LINK_UP;
	o->state = *link_up ? OFPPS_LIVE : OFPPS_LINK_DOWN;
	mbps = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed;
	o->curr = o->supported = o->advertised = speed_bits(mbps) | OFPPF_COPPER;
	o->curr_speed = o->max_speed = mbps * 1000;
}

static int sw_ofa_port_desc(void *dp, ofa_port_fn fn, void *ctx)
{
	(void)dp;
	for (unsigned i = 0; i < SW_MAX_PORTS; i++) {
		struct ofa_port o;
		bool up;
		int err;

		if (!sw_dp.ports[i])
			continue;
		port_describe(sw_dp.ports[i], &o, &up);
		err = fn(ctx, &o);
		if (err)
			return err;
	}
	return 0;
}

static int sw_ofa_port_stats(void *dp, uint32_t port_no, ofa_port_stats_fn fn, void *ctx)
{
	bool found = false;

	(void)dp;
	for (unsigned i = 0; i < SW_MAX_PORTS; i++) {
		const struct sw_port *p = sw_dp.ports[i];
		struct sw_port_stats s;
		struct rte_eth_stats es = { 0 };
		struct ofa_port_stats ps;
		uint64_t rx_drops = 0, tx_drops = 0;
		int err;

		if (!p || (port_no != OFPP_ANY && port_no != p->ofport))
			continue;
		found = true;
		sw_port_stats_sum(p, &s);
		if (p->started)
			rte_eth_stats_get(p->port_id, &es);
		for (unsigned r = 0; r < SW_DROP_N; r++) {
			if (r == SW_DROP_TX_FULL || r == SW_DROP_ADMIN_DOWN || r == SW_DROP_VLAN_EGRESS)
				tx_drops += s.drops[r];
			else
				rx_drops += s.drops[r];
		}
		memset(&ps, 0, sizeof(ps));
		ps.port_no = p->ofport;
		ps.rx_packets = s.rx_packets;
		ps.tx_packets = s.tx_packets;
		ps.rx_bytes = s.rx_bytes;
		ps.tx_bytes = s.tx_bytes;
		ps.rx_dropped = rx_drops + es.imissed;
		ps.tx_dropped = tx_drops;
		ps.rx_errors = es.ierrors + es.rx_nombuf;
		ps.tx_errors = es.oerrors;
		err = fn(ctx, &ps);
		if (err)
			return err;
	}
	if (!found && port_no != OFPP_ANY)
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_PORT);
	return 0;
}

static int sw_ofa_port_mod(void *dp, const struct ofa_port_mod *pm)
{
	struct sw_port *p = pm->port_no <= SW_OFPORT_MAX ? sw_port_find_ofport((uint16_t)pm->port_no)
							 : NULL;
	struct ofa_port o;
	struct sw_port_opts opts;
	char err[128];
	bool up;

	(void)dp;
	if (!p)
		return ofa_err(OFPET_PORT_MOD_FAILED, OFPPMFC_BAD_PORT);
	port_describe(p, &o, &up);
	if (memcmp(o.hw_addr, pm->hw_addr, 6))
		return ofa_err(OFPET_PORT_MOD_FAILED, OFPPMFC_BAD_HW_ADDR);
	if (pm->mask & ~(uint32_t)(OFPPC_PORT_DOWN))
		return ofa_err(OFPET_PORT_MOD_FAILED, OFPPMFC_BAD_CONFIG);
	if (!(pm->mask & OFPPC_PORT_DOWN))
		return 0;
	memset(&opts, 0, sizeof(opts));
	opts.tag = UINT32_MAX;
	opts.native_vlan = -1;
	opts.mac_limit = -1;
	opts.admin = (pm->config & OFPPC_PORT_DOWN) ? "down" : "up";
	if (sw_port_set(p, &opts, err, sizeof(err))) {
		VSL_WARN("PORT_MOD on %s: %s", p->name, err);
		return ofa_err(OFPET_PORT_MOD_FAILED, OFPPMFC_EPERM);
	}
	return 0;
}

static int sw_ofa_barrier(void *dp)
{
	(void)dp;
	/* Publishes what changed and waits for a grace period: every PMD now
	 * looks up in the new classifier (and group table). */
	int ret = commit_now();

	sw_flow_sync();
	return ret;
}

static uint32_t sw_ofa_table_max(void *dp, uint8_t table_id)
{
	(void)dp;
	(void)table_id;
	return sw_dp.table_limit ? sw_dp.table_limit : SW_MAX_FLOWS;
}

static uint64_t datapath_id(void)
{
	char host[256] = "vessel";
	uint64_t h = 1469598103934665603ull;
	struct vsl_daemon *d = vsl_daemon_get();

	gethostname(host, sizeof(host) - 1);
	for (const char *s = host; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	for (const char *s = d ? d->sock_path : ""; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h & 0x0000ffffffffffffull;    /* like a MAC-derived id: 48 bits */
}

static void sw_ofa_features(void *dp, struct ofa_features *out)
{
	(void)dp;
	memset(out, 0, sizeof(*out));
	out->datapath_id = datapath_id();
	out->n_buffers = 0;
	out->n_tables = SW_N_TABLES;
	out->capabilities = OFPC_FLOW_STATS | OFPC_TABLE_STATS | OFPC_PORT_STATS;
}

static void sw_ofa_desc(void *dp, struct ofa_desc *out)
{
	(void)dp;
	out->mfr = "Vessel";
	out->hw = "Vessel DPDK vSwitch";
	out->sw = "vswitchd (OpenFlow 1.3)";
	out->serial = "None";
	out->dp = "vswitchd";
}

/* ------------------------------------------------------------ PACKET_OUT */

static int sw_ofa_packet_out(void *dp, const struct ofa_packet_out *po)
{
	struct sw_insts *in;
	struct rte_mbuf *m;
	struct sw_flow_key key;
	const struct sw_view *v = sw_dp.view;
	const struct sw_vport *inp;
	struct sw_vport fake;
	unsigned n = 0;
	int ret;

	(void)dp;
	if (!ofa.ctl || !v)
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_EPERM);
	if (po->in_port != OFPP_CONTROLLER && po->in_port != OFPP_ANY &&
	    (po->in_port > SW_OFPORT_MAX || v->vidx_by_ofport[po->in_port] == SW_VIDX_NONE))
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_PORT);
	if (po->data_len < 14 || po->data_len > 2048 - RTE_PKTMBUF_HEADROOM + 128)
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN);
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	ret = sw_ofa_actions_from(&po->actions, in->acts, SW_MAX_ACTIONS, &n);
	if (ret) {
		free(in);
		return ret;
	}
	in->n_apply = (uint8_t)n;
	/* Rules before the PACKET_OUT apply to it (output:TABLE). */
	if (ofa.dirty)
		commit_now();
	m = rte_pktmbuf_alloc(sw_dp.pool);
	if (!m || !rte_pktmbuf_append(m, (uint16_t)po->data_len)) {
		rte_pktmbuf_free(m);
		free(in);
		return -ENOMEM;
	}
	memcpy(rte_pktmbuf_mtod(m, void *), po->data, po->data_len);
	if (po->in_port <= SW_OFPORT_MAX) {
		inp = &v->ports[v->vidx_by_ofport[po->in_port]];
	} else {
		memset(&fake, 0, sizeof(fake));
		fake.port = &ofa.ctl_port;
		fake.ofport = 0;
		fake.cfg.trunks_all = true;
		fake.cfg.admin_up = true;
		inp = &fake;
	}
	if (sw_packet_parse(rte_pktmbuf_mtod(m, void *), m->data_len, inp->ofport, &key)) {
		rte_pktmbuf_free(m);
		free(in);
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN);
	}
	sw_flow_exec_actions(ofa.ctl, v, inp, sw_dp.cls, m, &key, in, sw_now_s());
	sw_pmd_tx_flush_pending(ofa.ctl, v);
	free(in);
	return 0;
}

/* ------------------------------------------------------------ groups */

static int sw_ofa_group_mod(void *dp, const struct ofa_group_mod *gm)
{
	(void)dp;
	/* Published with its own grace period: visible when this returns. */
	return sw_group_mod(gm);
}

int sw_ofa_delete_flows(const struct ofa_flow_mod *fm)
{
	return sw_ofa_flow_mod(NULL, fm);
}

static int sw_ofa_group_desc(void *dp, ofa_group_desc_fn fn, void *ctx)
{
	(void)dp;
	return sw_group_foreach(fn, ctx);
}

static void sw_ofa_group_features(void *dp, struct ofa_group_features *out)
{
	(void)dp;
	memset(out, 0, sizeof(*out));
	out->types = 1u << OFPGT_ALL | 1u << OFPGT_SELECT | 1u << OFPGT_INDIRECT | 1u << OFPGT_FF;
	out->capabilities = OFPGFC_SELECT_WEIGHT | OFPGFC_SELECT_LIVENESS | OFPGFC_CHAINING |
			    OFPGFC_CHAINING_CHECKS;
	for (unsigned i = 0; i < 4; i++) {
		out->max_groups[i] = SW_MAX_GROUPS;
		out->actions[i] = 1u << OFPAT_OUTPUT | 1u << OFPAT_PUSH_VLAN | 1u << OFPAT_POP_VLAN |
				  1u << OFPAT_GROUP | 1u << OFPAT_DEC_NW_TTL | 1u << OFPAT_SET_FIELD;
	}
}

static const struct ofa_datapath_ops sw_ofa_ops = {
	.features = sw_ofa_features,
	.desc = sw_ofa_desc,
	.port_desc = sw_ofa_port_desc,
	.flow_mod = sw_ofa_flow_mod,
	.flow_stats = sw_ofa_flow_stats,
	.aggregate_stats = sw_ofa_aggregate,
	.table_stats = sw_ofa_table_stats,
	.port_stats = sw_ofa_port_stats,
	.packet_out = sw_ofa_packet_out,
	.group_mod = sw_ofa_group_mod,
	.group_desc = sw_ofa_group_desc,
	.group_features = sw_ofa_group_features,
	.port_mod = sw_ofa_port_mod,
	.barrier = sw_ofa_barrier,
	.table_max_entries = sw_ofa_table_max,
};

/* ------------------------------------------------------------ notifications */

void sw_ofa_flow_removed(const struct sw_flow *f, uint8_t reason)
{
	struct ofa_flow_removed fr;
	uint64_t p, b, age;
	uint32_t used;

	if (!ofa.agent || !(f->flags & SW_OFPFF_SEND_FLOW_REM) || !ofa_agent_n_active(ofa.agent))
		return;
	sw_flow_stats_sum(f, &p, &b, &used);
	age = (rte_rdtsc() - f->created_tsc) * 1000000000ull / rte_get_tsc_hz();
	memset(&fr, 0, sizeof(fr));
	fr.cookie = f->cookie;
	fr.priority = f->priority;
	fr.reason = reason;
	fr.table_id = f->table_id;
	fr.duration_sec = (uint32_t)(age / 1000000000ull);
	fr.duration_nsec = (uint32_t)(age % 1000000000ull);
	fr.idle_timeout = f->idle_timeout;
	fr.hard_timeout = f->hard_timeout;
	fr.packet_count = p;
	fr.byte_count = b;
	match_to_ofa(&f->match, &fr.match);
	ofa_agent_flow_removed(ofa.agent, &fr);
}

static void pin_drain(void)
{
	struct rte_mbuf *ms[SW_OFA_PIN_BURST];
	unsigned n;

	if (!sw_dp.pin_ring)
		return;
	do {
		n = rte_ring_sc_dequeue_burst(sw_dp.pin_ring, (void **)ms, SW_OFA_PIN_BURST, NULL);
		for (unsigned i = 0; i < n; i++) {
			struct sw_pin_meta md;
			struct ofa_packet_in pi;
			const void *data;
			uint32_t len;

			memcpy(&md, rte_pktmbuf_mtod(ms[i], void *), sizeof(md));
			rte_pktmbuf_adj(ms[i], sizeof(md));
			len = ms[i]->pkt_len;
			data = rte_pktmbuf_read(ms[i], 0, len, ofa.pin_buf);
			memset(&pi, 0, sizeof(pi));
			pi.reason = md.reason;
			pi.table_id = md.table_id;
			pi.cookie = md.cookie;
			ofa_match_init(&pi.match);
			ofa_match_set_u64(&pi.match, OFPXMT_OFB_IN_PORT,
					  md.in_port ? md.in_port : OFPP_CONTROLLER, NULL);
			if (md.metadata)
				ofa_match_set_u64(&pi.match, OFPXMT_OFB_METADATA, md.metadata, NULL);
			if (md.tunnel_id)
				ofa_match_set_u64(&pi.match, OFPXMT_OFB_TUNNEL_ID, md.tunnel_id, NULL);
			pi.max_len = md.max_len;
			pi.data = data;
			pi.len = data ? len : 0;
			if (ofa.agent && data)
				ofa_agent_packet_in(ofa.agent, &pi);
			ofa.pin_sent++;
			rte_pktmbuf_free(ms[i]);
		}
	} while (n == SW_OFA_PIN_BURST);
}

static void pin_timer_fn(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	(void)arg;
	pin_drain();
}

static void ports_scan(bool notify)
{
	bool seen[SW_OFPORT_MAX + 1] = { false };

	for (unsigned i = 0; i < SW_MAX_PORTS; i++) {
		const struct sw_port *p = sw_dp.ports[i];
		struct port_snap *s;
		struct ofa_port o;
		bool up;

		if (!p)
			continue;
		s = &ofa.ports[p->ofport];
		seen[p->ofport] = true;
		port_describe(p, &o, &up);
		if (!s->present) {
			if (notify && ofa.agent)
				ofa_agent_port_status(ofa.agent, OFPPR_ADD, &o);
		} else if (s->admin_up != p->cfg.admin_up || s->link_up != up ||
			   memcmp(s->desc.hw_addr, o.hw_addr, 6) || strcmp(s->desc.name, o.name)) {
			if (notify && ofa.agent)
				ofa_agent_port_status(ofa.agent, OFPPR_MODIFY, &o);
		}
		s->present = true;
		s->admin_up = p->cfg.admin_up;
		s->link_up = up;
		s->desc = o;
	}
	for (unsigned no = 1; no <= SW_OFPORT_MAX; no++) {
		if (!ofa.ports[no].present || seen[no])
			continue;
		ofa.ports[no].present = false;
		ofa.ports[no].desc.state = OFPPS_LINK_DOWN;
		if (notify && ofa.agent)
			ofa_agent_port_status(ofa.agent, OFPPR_DELETE, &ofa.ports[no].desc);
	}
}

/* The fail mode and whether PMDs should queue packet-ins. As in Open
 * vSwitch, only active ("tcp:") targets are controllers the fail mode is
 * about; passive ("ptcp:") ones serve tools such as ovs-ofctl. */
static void apply_connection_state(void)
{
	struct ofa_conn_info ci[SW_OFA_MAX_CONNS];
	size_t n = ofa.agent ? ofa_agent_get_conns(ofa.agent, ci, SW_OFA_MAX_CONNS) : 0;
	bool secure = __atomic_load_n(&sw_dp.fail_secure, __ATOMIC_RELAXED);
	bool have_primary = false, primary_up = false, any_up = false, bypass;

	for (unsigned i = 0; i < ofa.n_targets; i++)
		have_primary |= !strncmp(ofa.targets[i], "tcp:", 4);
	for (size_t i = 0; i < n && i < SW_OFA_MAX_CONNS; i++) {
		bool up = !strcmp(ci[i].state, "active");

		any_up |= up;
		primary_up |= up && !strncmp(ci[i].target, "tcp:", 4);
	}
	bypass = have_primary && !primary_up && !secure;
	if (__atomic_load_n(&sw_dp.flows_bypass, __ATOMIC_RELAXED) != bypass) {
		VSL_INFO("%s", bypass ? "no controller connected: fail-mode standalone, the bridge "
					"falls back to MAC learning"
				      : "controller connected (or fail-mode secure): the flow tables "
					"apply");
		__atomic_store_n(&sw_dp.flows_bypass, bypass, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&sw_dp.pin_enabled, any_up, __ATOMIC_RELAXED);
}

static void port_timer_fn(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	(void)arg;
	apply_connection_state();
	ports_scan(true);
}

void sw_ofa_poll(void)
{
	if (!ofa.agent)
		return;
	apply_connection_state();
	ports_scan(true);
}

/* ------------------------------------------------------------ life cycle */

int sw_ofa_init(void)
{
	struct vsl_daemon *d = vsl_daemon_get();

	memset(&ofa, 0, sizeof(ofa));
	if (!d || !d->loop)
		return 0;
	ofa.loop = d->loop;
	sw_dp.pin_ring = rte_ring_create("sw_pin", SW_OFA_PIN_RING, SOCKET_ID_ANY,
					 RING_F_SC_DEQ | RING_F_EXACT_SZ);
	if (!sw_dp.pin_ring)
		return -ENOMEM;
	if (sw_dp.n_pmds < SW_MAX_PMDS) {
		ofa.ctl = sw_pmd_alloc(SOCKET_ID_ANY);
		if (!ofa.ctl)
			goto nomem;
		ofa.ctl->idx = sw_dp.n_pmds;
		ofa.ctl->lcore = rte_lcore_id();
	}
	snprintf(ofa.ctl_port.name, sizeof(ofa.ctl_port.name), "CONTROLLER");
	ofa.agent = ofa_agent_create(d->loop, &sw_ofa_ops, NULL, NULL);
	if (!ofa.agent)
		goto nomem;
	ofa.commit_timer = vsl_timer_add(d->loop, SW_OFA_COMMIT_MS, SW_OFA_COMMIT_MS,
					 commit_timer_fn, NULL);
	ofa.pin_timer = vsl_timer_add(d->loop, SW_OFA_PIN_MS, SW_OFA_PIN_MS, pin_timer_fn, NULL);
	ofa.port_timer = vsl_timer_add(d->loop, SW_OFA_PORT_MS, SW_OFA_PORT_MS, port_timer_fn, NULL);
	if (!ofa.commit_timer || !ofa.pin_timer || !ofa.port_timer)
		goto nomem;
	ports_scan(false);
	return 0;

nomem:
	sw_ofa_fini();
	return -ENOMEM;
}

void sw_ofa_fini(void)
{
	if (ofa.loop) {
		if (ofa.commit_timer)
			vsl_timer_cancel(ofa.loop, ofa.commit_timer);
		if (ofa.pin_timer)
			vsl_timer_cancel(ofa.loop, ofa.pin_timer);
		if (ofa.port_timer)
			vsl_timer_cancel(ofa.loop, ofa.port_timer);
	}
	ofa_agent_destroy(ofa.agent);
	for (unsigned i = 0; i < ofa.n_targets; i++)
		free(ofa.targets[i]);
	if (sw_dp.pin_ring) {
		struct rte_mbuf *m;

		while (!rte_ring_dequeue(sw_dp.pin_ring, (void **)&m))
			rte_pktmbuf_free(m);
		rte_ring_free(sw_dp.pin_ring);
		sw_dp.pin_ring = NULL;
	}
	sw_pmd_free(ofa.ctl);
	memset(&ofa, 0, sizeof(ofa));
}

/* ------------------------------------------------------------ controllers */

int sw_ofa_set_controllers(const char *const *targets, unsigned n, char *err, size_t errlen)
{
	unsigned i, j;
	int ret;

	if (!ofa.agent) {
		snprintf(err, errlen, "the OpenFlow agent is not running");
		return -ENODEV;
	}
	if (n > SW_OFA_MAX_TARGETS) {
		snprintf(err, errlen, "at most %d controllers", SW_OFA_MAX_TARGETS);
		return -E2BIG;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(targets[i], targets[j])) {
				snprintf(err, errlen, "controller '%s' given twice", targets[i]);
				return -EINVAL;
			}
	/* Remove those not in the new list, then add the new ones. */
	for (i = 0; i < ofa.n_targets;) {
		bool keep = false;

		for (j = 0; j < n; j++)
			keep |= !strcmp(ofa.targets[i], targets[j]);
		if (keep) {
			i++;
			continue;
		}
		ofa_agent_del_target(ofa.agent, ofa.targets[i]);
		free(ofa.targets[i]);
		ofa.targets[i] = ofa.targets[--ofa.n_targets];
	}
	for (j = 0; j < n; j++) {
		bool have = false;

		for (i = 0; i < ofa.n_targets; i++)
			have |= !strcmp(ofa.targets[i], targets[j]);
		if (have)
			continue;
		ret = ofa_agent_add_target(ofa.agent, targets[j]);
		if (ret) {
			snprintf(err, errlen, ret == -EINVAL
				 ? "bad controller '%s' (tcp:IP:PORT or ptcp:PORT[:IP])"
				 : "controller '%s': %s", targets[j], strerror(-ret));
			return ret;
		}
		ofa.targets[ofa.n_targets] = strdup(targets[j]);
		if (!ofa.targets[ofa.n_targets]) {
			ofa_agent_del_target(ofa.agent, targets[j]);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		ofa.n_targets++;
	}
	apply_connection_state();
	return 0;
}

unsigned sw_ofa_targets(const char *const **out)
{
	*out = (const char *const *)ofa.targets;
	return ofa.n_targets;
}

int sw_ofa_listen_port(const char *target)
{
	return ofa.agent ? ofa_agent_listen_port(ofa.agent, target) : -ENOENT;
}

static const char *role_name(uint32_t role)
{
	switch (role) {
	case OFPCR_ROLE_MASTER: return "master";
	case OFPCR_ROLE_SLAVE: return "slave";
	case OFPCR_ROLE_EQUAL: return "equal";
	default: return "nochange";
	}
}

struct json_object *sw_ofa_show_json(void)
{
	struct json_object *arr = json_object_new_array();
	struct ofa_conn_info *ci;
	size_t n;

	if (!ofa.agent)
		return arr;
	ci = calloc(SW_OFA_MAX_CONNS, sizeof(*ci));
	if (!ci)
		return arr;
	n = ofa_agent_get_conns(ofa.agent, ci, SW_OFA_MAX_CONNS);
	for (size_t i = 0; i < n && i < SW_OFA_MAX_CONNS; i++) {
		struct json_object *o = json_object_new_object();
		bool listening = !strcmp(ci[i].state, "listening");

		json_object_object_add(o, "target", json_object_new_string(ci[i].target));
		json_object_object_add(o, "state", json_object_new_string(ci[i].state));
		json_object_object_add(o, "connected",
				       json_object_new_boolean(!strcmp(ci[i].state, "active")));
		if (listening)
			json_object_object_add(o, "port", json_object_new_int(
				ofa_agent_listen_port(ofa.agent, ci[i].target)));
		if (ci[i].peer[0]) {
			json_object_object_add(o, "peer", json_object_new_string(ci[i].peer));
			json_object_object_add(o, "role", json_object_new_string(role_name(ci[i].role)));
			json_object_object_add(o, "rx_msgs", json_object_new_int64((int64_t)ci[i].rx_msgs));
			json_object_object_add(o, "tx_msgs", json_object_new_int64((int64_t)ci[i].tx_msgs));
			json_object_object_add(o, "tx_dropped",
					       json_object_new_int64((int64_t)ci[i].tx_dropped));
		}
		json_object_array_add(arr, o);
	}
	free(ci);
	return arr;
}

uint64_t sw_ofa_packet_ins(void)
{
	return ofa.pin_sent;
}
