/* test_ofa_host.c — hosts the OpenFlow agent on an in-memory datapath, for
 * interop tests with real OpenFlow peers (tests/system/test_sdn_*.py).
 *
 *   test_ofa_host                      cmocka self-checks of the datapath
 *   test_ofa_host --serve PORT [...]   agent listening on ptcp:PORT (0: any)
 *   test_ofa_host --connect tcp:IP:PORT [...]   agent connecting actively
 *     --max-flows N     per-table limit (OFPFMFC_TABLE_FULL beyond; 100000)
 *     --echo-ms N       keep-alive interval (5000)
 *     --quiet           do not print one line per flow_mod
 *
 * stdout gets JSON lines: {"event":"listening","port":N} first, then one
 * line per datapath op ({"op":"flow_mod",...}). stdin takes commands, one a
 * line: "port_add N", "port_del N", "packet_in PORT HEX", "stats" (prints
 * {"event":"stats",...}), "quit".
 *
 * The datapath is a recording model, not a switch: a flat list of flows per
 * table with the FLOW_MOD semantics of the spec (strict and non-strict
 * selection, cookies, out_port/out_group, overlap, limits, timeouts), groups
 * with chaining checks, and three ports. A PACKET_OUT whose actions output to
 * CONTROLLER comes back as a PACKET_IN (reason ACTION), which lets a test see
 * packet-ins without a data path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ofa.h"
#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_time.h"

enum { HOST_N_TABLES = 4, HOST_MAX_PORTS = 16, HOST_MAX_GROUPS = 256 };

struct host_flow {
	struct ofa_flow_mod fm;  /* owns its action arrays */
	uint64_t packets, bytes;
	uint64_t installed_ms, used_ms;
};

struct host_group {
	uint32_t id;
	uint8_t type;
	struct ofa_bucket *buckets;
	size_t n_buckets;
};

struct host_dp {
	struct host_flow *flows;
	size_t n_flows, cap_flows;
	size_t per_table[HOST_N_TABLES];
	size_t max_flows;
	struct ofa_port ports[HOST_MAX_PORTS];
	size_t n_ports;
	struct host_group groups[HOST_MAX_GROUPS];
	size_t n_groups;
	struct ofa_agent *agent;
	bool quiet;
	uint64_t n_flow_mods, n_barriers, n_packet_outs;
};

static void host_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void host_print(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* ---- deep copies ---- */

static int host_actions_dup(struct ofa_actions *dst, const struct ofa_actions *src)
{
	dst->n = 0;
	dst->actions = NULL;
	if (!src->n)
		return 0;
	dst->actions = malloc(src->n * sizeof(*dst->actions));
	if (!dst->actions)
		return -ENOMEM;
	memcpy(dst->actions, src->actions, src->n * sizeof(*dst->actions));
	dst->n = src->n;
	return 0;
}

static int host_insts_dup(struct ofa_instructions *dst, const struct ofa_instructions *src)
{
	*dst = *src;
	dst->apply.actions = dst->write.actions = NULL;
	dst->apply.n = dst->write.n = 0;
	if (host_actions_dup(&dst->apply, &src->apply) || host_actions_dup(&dst->write, &src->write)) {
		ofa_instructions_fini(dst);
		return -ENOMEM;
	}
	return 0;
}

static void host_actions_format(const struct ofa_actions *a, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < a->n && off < len; i++) {
		const struct ofa_action *x = &a->actions[i];
		int n;

		if (x->type == OFPAT_OUTPUT)
			n = snprintf(buf + off, len - off, "%soutput:%u", i ? "," : "",
				     x->u.output.port);
		else if (x->type == OFPAT_GROUP)
			n = snprintf(buf + off, len - off, "%sgroup:%u", i ? "," : "", x->u.group_id);
		else if (x->type == OFPAT_SET_FIELD)
			n = snprintf(buf + off, len - off, "%sset_field:%s", i ? "," : "",
				     ofa_field_info(x->u.set_field.field)->name);
		else
			n = snprintf(buf + off, len - off, "%sat%u", i ? "," : "", x->type);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static void host_insts_format(const struct ofa_instructions *in, char *buf, size_t len)
{
	char apply[512], write[512];

	host_actions_format(&in->apply, apply, sizeof(apply));
	host_actions_format(&in->write, write, sizeof(write));
	snprintf(buf, len, "apply=[%s] clear=%d write=[%s] meta=0x%llx/0x%llx goto=%d", apply,
		 !!(in->present & (1u << OFPIT_CLEAR_ACTIONS)), write,
		 (unsigned long long)in->metadata, (unsigned long long)in->metadata_mask,
		 (in->present & (1u << OFPIT_GOTO_TABLE)) ? in->goto_table : -1);
}

/* ---- ports ---- */

static void host_port_init(struct ofa_port *p, uint32_t no)
{
	memset(p, 0, sizeof(*p));
	p->port_no = no;
	p->hw_addr[0] = 0x02;
	p->hw_addr[5] = (uint8_t)no;
	snprintf(p->name, sizeof(p->name), "p%u", no);
	p->curr = p->advertised = p->supported = OFPPF_10GB_FD | OFPPF_COPPER;
	p->curr_speed = p->max_speed = 10000000;
}

static struct ofa_port *host_port_find(struct host_dp *h, uint32_t no)
{
	size_t i;

	for (i = 0; i < h->n_ports; i++)
		if (h->ports[i].port_no == no)
			return &h->ports[i];
	return NULL;
}

/* ---- flows ---- */

static bool host_flow_selected(const struct host_flow *f, uint8_t table, bool strict,
			       uint16_t priority, const struct ofa_match *match, uint64_t cookie,
			       uint64_t cookie_mask, uint32_t out_port, uint32_t out_group)
{
	const struct ofa_flow_mod *x = &f->fm;

	if (table != OFPTT_ALL && x->table_id != table)
		return false;
	if ((x->cookie & cookie_mask) != (cookie & cookie_mask))
		return false;
	if (strict && (x->priority != priority || !ofa_match_equal(&x->match, match)))
		return false;
	if (!strict && !ofa_match_covers(match, &x->match))
		return false;
	return ofa_instructions_output_to(&x->insts, out_port) &&
	       ofa_instructions_group_to(&x->insts, out_group);
}

/* Two matches overlap when some packet matches both: every field both
 * constrain agrees on the bits both masks cover. */
static bool host_match_overlap(const struct ofa_match *a, const struct ofa_match *b)
{
	uint64_t bits = a->present & b->present;
	size_t i;

	for (; bits; bits &= bits - 1) {
		unsigned f = (unsigned)__builtin_ctzll(bits);
		const uint8_t *av = (const uint8_t *)&a->value[f], *am = (const uint8_t *)&a->mask[f];
		const uint8_t *bv = (const uint8_t *)&b->value[f], *bm = (const uint8_t *)&b->mask[f];

		for (i = 0; i < sizeof(union ofa_value); i++)
			if ((av[i] & am[i] & bm[i]) != (bv[i] & am[i] & bm[i]))
				return false;
	}
	return true;
}

static void host_flow_remove(struct host_dp *h, size_t i, uint8_t reason)
{
	struct host_flow *f = &h->flows[i];
	uint64_t age = vsl_time_mono_ms() - f->installed_ms;

	if ((f->fm.flags & OFPFF_SEND_FLOW_REM) && h->agent) {
		struct ofa_flow_removed fr = {
			.cookie = f->fm.cookie, .priority = f->fm.priority, .reason = reason,
			.table_id = f->fm.table_id, .duration_sec = (uint32_t)(age / 1000),
			.duration_nsec = (uint32_t)(age % 1000 * 1000000),
			.idle_timeout = f->fm.idle_timeout, .hard_timeout = f->fm.hard_timeout,
			.packet_count = f->packets, .byte_count = f->bytes, .match = f->fm.match,
		};

		ofa_agent_flow_removed(h->agent, &fr);
	}
	h->per_table[f->fm.table_id]--;
	ofa_flow_mod_fini(&f->fm);
	h->flows[i] = h->flows[--h->n_flows];
}

static int host_flow_add(struct host_dp *h, const struct ofa_flow_mod *fm)
{
	struct host_flow *f;
	size_t i;

	if (fm->table_id >= HOST_N_TABLES)
		return ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_TABLE_ID);
	for (i = 0; i < h->n_flows; i++) {
		f = &h->flows[i];
		if (f->fm.table_id != fm->table_id || f->fm.priority != fm->priority)
			continue;
		if (ofa_match_equal(&f->fm.match, &fm->match)) {
			struct ofa_instructions in;

			/* Identical match and priority: replace (spec 6.4). */
			if (host_insts_dup(&in, &fm->insts))
				return -ENOMEM;
			ofa_instructions_fini(&f->fm.insts);
			f->fm = *fm;
			f->fm.insts = in;
			if (fm->flags & OFPFF_RESET_COUNTS)
				f->packets = f->bytes = 0;
			return 0;
		}
		if ((fm->flags & OFPFF_CHECK_OVERLAP) && host_match_overlap(&f->fm.match, &fm->match))
			return ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_OVERLAP);
	}
	if (h->per_table[fm->table_id] >= h->max_flows)
		return ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_TABLE_FULL);
	if (h->n_flows == h->cap_flows) {
		size_t cap = h->cap_flows ? h->cap_flows * 2 : 64;
		struct host_flow *p = realloc(h->flows, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		h->flows = p;
		h->cap_flows = cap;
	}
	f = &h->flows[h->n_flows];
	memset(f, 0, sizeof(*f));
	f->fm = *fm;
	if (host_insts_dup(&f->fm.insts, &fm->insts))
		return -ENOMEM;
	f->installed_ms = f->used_ms = vsl_time_mono_ms();
	h->n_flows++;
	h->per_table[fm->table_id]++;
	return 0;
}

static int host_flow_mod(void *dp, const struct ofa_flow_mod *fm)
{
	struct host_dp *h = dp;
	bool strict = fm->command == OFPFC_MODIFY_STRICT || fm->command == OFPFC_DELETE_STRICT;
	char m[1024], in[1200];
	size_t i;
	int err = 0;

	h->n_flow_mods++;
	if (!h->quiet) {
		ofa_match_format(&fm->match, m, sizeof(m));
		host_insts_format(&fm->insts, in, sizeof(in));
		host_print("{\"op\":\"flow_mod\",\"command\":%u,\"table\":%u,\"priority\":%u,"
			   "\"cookie\":%llu,\"cookie_mask\":%llu,\"idle\":%u,\"hard\":%u,"
			   "\"flags\":%u,\"out_port\":%u,\"match\":\"%s\",\"insts\":\"%s\"}",
			   fm->command, fm->table_id, fm->priority, (unsigned long long)fm->cookie,
			   (unsigned long long)fm->cookie_mask, fm->idle_timeout, fm->hard_timeout,
			   fm->flags, fm->out_port, m, in);
	}
	switch (fm->command) {
	case OFPFC_ADD:
		return host_flow_add(h, fm);
	case OFPFC_MODIFY:
	case OFPFC_MODIFY_STRICT:
		/* MODIFY never matches on out_port/out_group (spec 6.4). */
		for (i = 0; i < h->n_flows && !err; i++) {
			struct host_flow *f = &h->flows[i];
			struct ofa_instructions nin;

			if (!host_flow_selected(f, fm->table_id, strict, fm->priority, &fm->match,
						fm->cookie, fm->cookie_mask, OFPP_ANY, OFPG_ANY))
				continue;
			err = host_insts_dup(&nin, &fm->insts);
			if (err)
				break;
			ofa_instructions_fini(&f->fm.insts);
			f->fm.insts = nin;
			if (fm->flags & OFPFF_RESET_COUNTS)
				f->packets = f->bytes = 0;
		}
		return err;
	case OFPFC_DELETE:
	case OFPFC_DELETE_STRICT:
		for (i = h->n_flows; i-- > 0;)
			if (host_flow_selected(&h->flows[i], fm->table_id, strict, fm->priority,
					       &fm->match, fm->cookie, fm->cookie_mask, fm->out_port,
					       fm->out_group))
				host_flow_remove(h, i, OFPRR_DELETE);
		return 0;
	}
	return ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_COMMAND);
}

static int host_flow_stats(void *dp, const struct ofa_flow_stats_request *req,
			   ofa_flow_stats_fn fn, void *ctx)
{
	struct host_dp *h = dp;
	uint64_t now = vsl_time_mono_ms();
	size_t i;
	int err;

	for (i = 0; i < h->n_flows; i++) {
		struct host_flow *f = &h->flows[i];
		struct ofa_flow_stats fs;
		uint64_t age = now - f->installed_ms;

		if (!host_flow_selected(f, req->table_id, false, 0, &req->match, req->cookie,
					req->cookie_mask, req->out_port, req->out_group))
			continue;
		memset(&fs, 0, sizeof(fs));
		fs.table_id = f->fm.table_id;
		fs.duration_sec = (uint32_t)(age / 1000);
		fs.duration_nsec = (uint32_t)(age % 1000 * 1000000);
		fs.priority = f->fm.priority;
		fs.idle_timeout = f->fm.idle_timeout;
		fs.hard_timeout = f->fm.hard_timeout;
		fs.flags = f->fm.flags;
		fs.cookie = f->fm.cookie;
		fs.packet_count = f->packets;
		fs.byte_count = f->bytes;
		fs.match = &f->fm.match;
		fs.insts = &f->fm.insts;
		err = fn(ctx, &fs);
		if (err)
			return err;
	}
	return 0;
}

static int host_aggregate(void *dp, const struct ofa_flow_stats_request *req,
			  struct ofa_aggregate_stats *out)
{
	struct host_dp *h = dp;
	size_t i;

	for (i = 0; i < h->n_flows; i++) {
		struct host_flow *f = &h->flows[i];

		if (!host_flow_selected(f, req->table_id, false, 0, &req->match, req->cookie,
					req->cookie_mask, req->out_port, req->out_group))
			continue;
		out->flow_count++;
		out->packet_count += f->packets;
		out->byte_count += f->bytes;
	}
	return 0;
}

static int host_table_stats(void *dp, ofa_table_stats_fn fn, void *ctx)
{
	struct host_dp *h = dp;
	unsigned t;
	int err;

	for (t = 0; t < HOST_N_TABLES; t++) {
		struct ofa_table_stats ts = { .table_id = (uint8_t)t,
					      .active_count = (uint32_t)h->per_table[t] };

		err = fn(ctx, &ts);
		if (err)
			return err;
	}
	return 0;
}

/* ---- ports, packets, groups, misc ---- */

static void host_features(void *dp, struct ofa_features *out)
{
	(void)dp;
	out->datapath_id = 0xabc;
	out->n_buffers = 0;
	out->n_tables = HOST_N_TABLES;
	out->capabilities = OFPC_FLOW_STATS | OFPC_TABLE_STATS | OFPC_PORT_STATS |
			    OFPC_GROUP_STATS;
}

static int host_port_desc(void *dp, ofa_port_fn fn, void *ctx)
{
	struct host_dp *h = dp;
	size_t i;
	int err;

	for (i = 0; i < h->n_ports; i++) {
		err = fn(ctx, &h->ports[i]);
		if (err)
			return err;
	}
	return 0;
}

static int host_port_stats(void *dp, uint32_t port_no, ofa_port_stats_fn fn, void *ctx)
{
	struct host_dp *h = dp;
	size_t i;
	int err;

	if (port_no != OFPP_ANY && !host_port_find(h, port_no))
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_PORT);
	for (i = 0; i < h->n_ports; i++) {
		struct ofa_port_stats ps = { .port_no = h->ports[i].port_no,
					     .rx_packets = 10 * h->ports[i].port_no };

		if (port_no != OFPP_ANY && port_no != ps.port_no)
			continue;
		err = fn(ctx, &ps);
		if (err)
			return err;
	}
	return 0;
}

static int host_packet_out(void *dp, const struct ofa_packet_out *po)
{
	struct host_dp *h = dp;
	size_t i;

	h->n_packet_outs++;
	if (!h->quiet)
		host_print("{\"op\":\"packet_out\",\"in_port\":%u,\"n_actions\":%zu,\"len\":%zu}",
			   po->in_port, po->actions.n, po->data_len);
	for (i = 0; i < po->actions.n; i++) {
		const struct ofa_action *a = &po->actions.actions[i];

		if (a->type == OFPAT_OUTPUT && a->u.output.port == OFPP_CONTROLLER && h->agent) {
			struct ofa_packet_in pi = { .reason = OFPR_ACTION, .max_len = a->u.output.max_len,
						    .data = po->data, .len = po->data_len };

			ofa_match_init(&pi.match);
			ofa_match_set_u64(&pi.match, OFPXMT_OFB_IN_PORT, po->in_port, NULL);
			ofa_agent_packet_in(h->agent, &pi);
		}
	}
	return 0;
}

static struct host_group *host_group_find(struct host_dp *h, uint32_t id)
{
	size_t i;

	for (i = 0; i < h->n_groups; i++)
		if (h->groups[i].id == id)
			return &h->groups[i];
	return NULL;
}

/* Does a chain starting in `buckets` reach group `target`? depth bounds it. */
static bool host_group_reaches(struct host_dp *h, const struct ofa_bucket *bk, size_t n,
			       uint32_t target, int depth)
{
	size_t i, j;

	if (depth > 16)
		return true;
	for (i = 0; i < n; i++)
		for (j = 0; j < bk[i].actions.n; j++) {
			const struct ofa_action *a = &bk[i].actions.actions[j];
			struct host_group *g;

			if (a->type != OFPAT_GROUP)
				continue;
			if (a->u.group_id == target)
				return true;
			g = host_group_find(h, a->u.group_id);
			if (g && host_group_reaches(h, g->buckets, g->n_buckets, target, depth + 1))
				return true;
		}
	return false;
}

static int host_group_store(struct host_group *g, const struct ofa_group_mod *gm)
{
	size_t i;

	g->id = gm->group_id;
	g->type = gm->type;
	g->n_buckets = 0;
	g->buckets = calloc(gm->n_buckets ? gm->n_buckets : 1, sizeof(*g->buckets));
	if (!g->buckets)
		return -ENOMEM;
	for (i = 0; i < gm->n_buckets; i++) {
		g->buckets[i] = gm->buckets[i];
		if (host_actions_dup(&g->buckets[i].actions, &gm->buckets[i].actions))
			return -ENOMEM;
		g->n_buckets++;
	}
	return 0;
}

static int host_group_mod(void *dp, const struct ofa_group_mod *gm)
{
	struct host_dp *h = dp;
	struct host_group *g = host_group_find(h, gm->group_id);
	size_t i, j;

	if (!h->quiet)
		host_print("{\"op\":\"group_mod\",\"command\":%u,\"type\":%u,\"group\":%u,"
			   "\"buckets\":%zu}", gm->command, gm->type, gm->group_id, gm->n_buckets);
	if (gm->command != OFPGC_DELETE) {
		for (i = 0; i < gm->n_buckets; i++)
			for (j = 0; j < gm->buckets[i].actions.n; j++) {
				const struct ofa_action *a = &gm->buckets[i].actions.actions[j];

				if (a->type == OFPAT_GROUP && !host_group_find(h, a->u.group_id))
					return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_UNKNOWN_GROUP);
			}
		if (host_group_reaches(h, gm->buckets, gm->n_buckets, gm->group_id, 0))
			return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_LOOP);
	}
	switch (gm->command) {
	case OFPGC_ADD:
		if (g)
			return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_GROUP_EXISTS);
		if (h->n_groups == HOST_MAX_GROUPS)
			return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_OUT_OF_GROUPS);
		return host_group_store(&h->groups[h->n_groups++], gm);
	case OFPGC_MODIFY:
		if (!g)
			return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_UNKNOWN_GROUP);
		ofa_buckets_free(g->buckets, g->n_buckets);
		return host_group_store(g, gm);
	default:
		for (i = h->n_groups; i-- > 0;) {
			if (gm->group_id != OFPG_ALL && h->groups[i].id != gm->group_id)
				continue;
			ofa_buckets_free(h->groups[i].buckets, h->groups[i].n_buckets);
			h->groups[i] = h->groups[--h->n_groups];
		}
		return 0;
	}
}

static int host_group_desc(void *dp, ofa_group_desc_fn fn, void *ctx)
{
	struct host_dp *h = dp;
	size_t i;
	int err;

	for (i = 0; i < h->n_groups; i++) {
		struct ofa_group_desc gd = { h->groups[i].type, h->groups[i].id, h->groups[i].buckets,
					     h->groups[i].n_buckets };

		err = fn(ctx, &gd);
		if (err)
			return err;
	}
	return 0;
}

static void host_group_features(void *dp, struct ofa_group_features *out)
{
	(void)dp;
	out->types = (1u << OFPGT_ALL) | (1u << OFPGT_SELECT) | (1u << OFPGT_INDIRECT) |
		     (1u << OFPGT_FF);
	out->capabilities = OFPGFC_SELECT_WEIGHT | OFPGFC_CHAINING | OFPGFC_CHAINING_CHECKS;
	out->max_groups[0] = out->max_groups[1] = out->max_groups[2] = out->max_groups[3] =
		HOST_MAX_GROUPS;
	out->actions[0] = out->actions[1] = out->actions[2] = out->actions[3] =
		(1u << OFPAT_OUTPUT) | (1u << OFPAT_GROUP) | (1u << OFPAT_SET_FIELD);
}

static int host_port_mod(void *dp, const struct ofa_port_mod *pm)
{
	struct host_dp *h = dp;
	struct ofa_port *p = host_port_find(h, pm->port_no);

	if (!p)
		return ofa_err(OFPET_PORT_MOD_FAILED, OFPPMFC_BAD_PORT);
	if (memcmp(p->hw_addr, pm->hw_addr, 6))
		return ofa_err(OFPET_PORT_MOD_FAILED, OFPPMFC_BAD_HW_ADDR);
	p->config = (p->config & ~pm->mask) | (pm->config & pm->mask);
	return 0;
}

static int host_barrier(void *dp)
{
	struct host_dp *h = dp;

	h->n_barriers++;
	if (!h->quiet)
		host_print("{\"op\":\"barrier\",\"flows\":%zu}", h->n_flows);
	return 0;
}

static uint32_t host_table_max(void *dp, uint8_t table)
{
	(void)table;
	return (uint32_t)((struct host_dp *)dp)->max_flows;
}

static const struct ofa_datapath_ops host_ops = {
	.features = host_features,
	.port_desc = host_port_desc,
	.flow_mod = host_flow_mod,
	.flow_stats = host_flow_stats,
	.aggregate_stats = host_aggregate,
	.table_stats = host_table_stats,
	.port_stats = host_port_stats,
	.packet_out = host_packet_out,
	.group_mod = host_group_mod,
	.group_desc = host_group_desc,
	.group_features = host_group_features,
	.port_mod = host_port_mod,
	.barrier = host_barrier,
	.table_max_entries = host_table_max,
};

static void host_init(struct host_dp *h, size_t max_flows)
{
	uint32_t i;

	memset(h, 0, sizeof(*h));
	h->max_flows = max_flows;
	for (i = 1; i <= 3; i++)
		host_port_init(&h->ports[h->n_ports++], i);
}

static void host_fini(struct host_dp *h)
{
	while (h->n_flows)
		ofa_flow_mod_fini(&h->flows[--h->n_flows].fm);
	free(h->flows);
	while (h->n_groups) {
		h->n_groups--;
		ofa_buckets_free(h->groups[h->n_groups].buckets, h->groups[h->n_groups].n_buckets);
	}
}

/* Expires flows on their idle (no traffic here, so: time since the last
 * modification) and hard timeouts. */
static void host_on_expire(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct host_dp *h = arg;
	uint64_t now = vsl_time_mono_ms();
	size_t i;

	(void)loop;
	(void)t;
	for (i = h->n_flows; i-- > 0;) {
		struct host_flow *f = &h->flows[i];

		if (f->fm.hard_timeout && now - f->installed_ms >= f->fm.hard_timeout * 1000ull)
			host_flow_remove(h, i, OFPRR_HARD_TIMEOUT);
		else if (f->fm.idle_timeout && now - f->used_ms >= f->fm.idle_timeout * 1000ull)
			host_flow_remove(h, i, OFPRR_IDLE_TIMEOUT);
	}
}

/* ---- serving mode ---- */

struct host_srv {
	struct vsl_loop *loop;
	struct host_dp *h;
	char line[70000];
	size_t len;
};

static size_t host_unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	unsigned v;

	while (s[0] && s[1] && n < max && sscanf(s, "%2x", &v) == 1) {
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static void host_command(struct host_srv *s, char *cmd)
{
	struct host_dp *h = s->h;
	unsigned no;
	char hex[65536 * 2 + 1];

	if (sscanf(cmd, "port_add %u", &no) == 1 && h->n_ports < HOST_MAX_PORTS) {
		host_port_init(&h->ports[h->n_ports], no);
		ofa_agent_port_status(h->agent, OFPPR_ADD, &h->ports[h->n_ports++]);
	} else if (sscanf(cmd, "port_del %u", &no) == 1 && host_port_find(h, no)) {
		struct ofa_port *p = host_port_find(h, no), gone = *p;

		*p = h->ports[--h->n_ports];
		ofa_agent_port_status(h->agent, OFPPR_DELETE, &gone);
	} else if (sscanf(cmd, "packet_in %u %131072s", &no, hex) == 2) {
		static uint8_t pkt[65536];
		struct ofa_packet_in pi = { .reason = OFPR_NO_MATCH, .max_len = OFPCML_NO_BUFFER,
					    .data = pkt };

		pi.len = host_unhex(hex, pkt, sizeof(pkt));
		ofa_match_init(&pi.match);
		ofa_match_set_u64(&pi.match, OFPXMT_OFB_IN_PORT, no, NULL);
		ofa_agent_packet_in(h->agent, &pi);
	} else if (!strncmp(cmd, "stats", 5)) {
		host_print("{\"event\":\"stats\",\"flows\":%zu,\"flow_mods\":%llu,\"barriers\":%llu,"
			   "\"active\":%zu}",
			   h->n_flows, (unsigned long long)h->n_flow_mods,
			   (unsigned long long)h->n_barriers, ofa_agent_n_active(h->agent));
	} else if (!strncmp(cmd, "quit", 4)) {
		vsl_loop_stop(s->loop);
	}
}

static void host_on_stdin(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct host_srv *s = arg;
	ssize_t n;
	char *nl;

	(void)events;
	n = read(fd, s->line + s->len, sizeof(s->line) - 1 - s->len);
	if (n <= 0) {
		vsl_loop_del_fd(loop, fd);
		return;  /* stdin closed: keep serving until killed */
	}
	s->len += (size_t)n;
	s->line[s->len] = '\0';
	while ((nl = strchr(s->line, '\n'))) {
		*nl = '\0';
		host_command(s, s->line);
		s->len -= (size_t)(nl + 1 - s->line);
		memmove(s->line, nl + 1, s->len + 1);
	}
	if (s->len == sizeof(s->line) - 1)
		s->len = 0;
}

static int host_serve(int argc, char **argv)
{
	static struct host_srv srv;
	struct ofa_agent_config cfg;
	struct host_dp h;
	char target[80] = "";
	size_t max_flows = 100000;
	int i, port = -1, rc = 1;
	bool quiet = false;

	ofa_agent_config_default(&cfg);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--serve") && i + 1 < argc)
			snprintf(target, sizeof(target), "ptcp:%s", argv[++i]);
		else if (!strcmp(argv[i], "--connect") && i + 1 < argc)
			snprintf(target, sizeof(target), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--max-flows") && i + 1 < argc)
			max_flows = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--echo-ms") && i + 1 < argc)
			cfg.echo_interval_ms = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--quiet"))
			quiet = true;
		else {
			fprintf(stderr, "usage: %s [--serve PORT|--connect tcp:IP:PORT] "
					"[--max-flows N] [--echo-ms N] [--quiet]\n", argv[0]);
			return 2;
		}
	}
	vsl_log_set_program("ofa-host");
	host_init(&h, max_flows);
	h.quiet = quiet;
	srv.h = &h;
	srv.loop = vsl_loop_create();
	if (!srv.loop)
		return 1;
	h.agent = ofa_agent_create(srv.loop, &host_ops, &h, &cfg);
	if (!h.agent || ofa_agent_add_target(h.agent, target)) {
		fprintf(stderr, "cannot start the agent on %s\n", target);
		goto out;
	}
	if (!strncmp(target, "ptcp:", 5))
		port = ofa_agent_listen_port(h.agent, target);
	if (!vsl_timer_add(srv.loop, 200, 200, host_on_expire, &h))
		goto out;
	vsl_loop_add_fd(srv.loop, 0, 0x001 /* EPOLLIN */, host_on_stdin, &srv);
	host_print("{\"event\":\"listening\",\"port\":%d,\"target\":\"%s\"}", port, target);
	vsl_loop_run(srv.loop);
	rc = 0;
out:
	ofa_agent_destroy(h.agent);
	host_fini(&h);
	vsl_loop_destroy(srv.loop);
	return rc;
}

/* ---- self-checks (cmocka, when run without arguments) ---- */

static void fm_init(struct ofa_flow_mod *fm, uint8_t cmd, uint16_t prio, uint32_t ipv4_dst)
{
	memset(fm, 0, sizeof(*fm));
	fm->command = cmd;
	fm->priority = prio;
	fm->buffer_id = OFP_NO_BUFFER;
	fm->out_port = OFPP_ANY;
	fm->out_group = OFPG_ANY;
	ofa_match_init(&fm->match);
	ofa_match_set_u64(&fm->match, OFPXMT_OFB_ETH_TYPE, 0x0800, NULL);
	if (ipv4_dst)
		ofa_match_set_u64(&fm->match, OFPXMT_OFB_IPV4_DST, ipv4_dst, NULL);
}

static void test_host_add_delete_semantics(void **state)
{
	struct host_dp h;
	struct ofa_flow_mod fm;

	(void)state;
	host_init(&h, 2);
	h.quiet = true;
	fm_init(&fm, OFPFC_ADD, 10, 0x0a000001);
	assert_int_equal(host_flow_mod(&h, &fm), 0);
	assert_int_equal(host_flow_mod(&h, &fm), 0);  /* identical: replaced */
	assert_int_equal(h.n_flows, 1);
	fm_init(&fm, OFPFC_ADD, 10, 0x0a000002);
	assert_int_equal(host_flow_mod(&h, &fm), 0);
	fm_init(&fm, OFPFC_ADD, 10, 0x0a000003);
	assert_int_equal(host_flow_mod(&h, &fm),
			 ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_TABLE_FULL));
	/* Strict delete with a wider match removes nothing; non-strict both. */
	fm_init(&fm, OFPFC_DELETE_STRICT, 10, 0);
	fm.table_id = OFPTT_ALL;
	assert_int_equal(host_flow_mod(&h, &fm), 0);
	assert_int_equal(h.n_flows, 2);
	fm_init(&fm, OFPFC_DELETE, 10, 0);
	fm.table_id = OFPTT_ALL;
	assert_int_equal(host_flow_mod(&h, &fm), 0);
	assert_int_equal(h.n_flows, 0);
	host_fini(&h);
}

static void test_host_overlap_and_group_loop(void **state)
{
	struct host_dp h;
	struct ofa_flow_mod fm;
	struct ofa_action act = { .type = OFPAT_GROUP };
	struct ofa_bucket bk = { 0 };
	struct ofa_group_mod gm = { .command = OFPGC_ADD, .type = OFPGT_ALL, .buckets = &bk,
				    .n_buckets = 1 };

	(void)state;
	host_init(&h, 100);
	h.quiet = true;
	fm_init(&fm, OFPFC_ADD, 5, 0x0a000001);
	assert_int_equal(host_flow_mod(&h, &fm), 0);
	fm_init(&fm, OFPFC_ADD, 5, 0);
	fm.flags = OFPFF_CHECK_OVERLAP;
	assert_int_equal(host_flow_mod(&h, &fm), ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_OVERLAP));

	/* 1 -> (nothing); 2 -> 1; then modify 1 -> 2 closes a loop. */
	gm.group_id = 1;
	assert_int_equal(host_group_mod(&h, &gm), 0);
	act.u.group_id = 1;
	assert_int_equal(ofa_actions_add(&bk.actions, &act), 0);
	gm.group_id = 2;
	assert_int_equal(host_group_mod(&h, &gm), 0);
	bk.actions.actions[0].u.group_id = 2;
	gm.group_id = 1;
	gm.command = OFPGC_MODIFY;
	assert_int_equal(host_group_mod(&h, &gm), ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_LOOP));
	ofa_actions_fini(&bk.actions);
	host_fini(&h);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_add_delete_semantics),
		cmocka_unit_test(test_host_overlap_and_group_loop),
	};

	if (argc > 1)
		return host_serve(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
