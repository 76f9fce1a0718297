/* sw_flow_parse.c — ovs-ofctl flow syntax <-> struct sw_flow_mod. See sw_flow.h.
 *
 * A flow is a list of tokens separated by commas or blanks (outside
 * parentheses): header keys (table, priority, cookie, idle_timeout,
 * hard_timeout, out_port), protocol shorthands (ip, tcp, arp, ...), match
 * fields "name=value[/mask]", and last "actions=..." which takes the rest of
 * the string. Every error names the token it refused. The formatter writes
 * the canonical form, which the parser reads back to the same flow-mod (the
 * round trip the unit tests and the fuzz target check). Pure: no global state.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sw_flow.h"

enum { TOK_MAX = 256 };

struct perr {
	char *buf;
	size_t len;
};

static int fail(struct perr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct perr *e, const char *fmt, ...)
{
	va_list ap;

	if (e->len) {
		va_start(ap, fmt);
		vsnprintf(e->buf, e->len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Splits s at top-level separators; returns the next token in tok (NUL-
 * terminated, at most TOK_MAX-1 chars) and advances *s. False at the end. */
static bool next_token(const char **s, char *tok, bool *too_long)
{
	const char *p = *s;
	size_t n = 0;
	int depth = 0;

	*too_long = false;
	while (*p == ',' || isspace((unsigned char)*p))
		p++;
	if (!*p)
		return false;
	for (; *p && (depth || (*p != ',' && !isspace((unsigned char)*p))); p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth)
			depth--;
		if (n + 1 < TOK_MAX)
			tok[n++] = *p;
		else
			*too_long = true;
	}
	tok[n] = '\0';
	*s = p;
	return true;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-' || isspace((unsigned char)*s))
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && !*end;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	int n = 0;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &n) !=
	    6 || s[n] || n != 17)
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return true;
}

static bool parse_ipv4(const char *s, uint32_t *host)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*host = ntohl(a.s_addr);
	return true;
}

/* "V" or "V/M" for field f; M may be a prefix length for IP addresses. */
static int parse_value(const struct sw_field_info *fi, const char *name, const char *val,
		       union sw_value *v, union sw_value *m, bool *masked, struct perr *e)
{
	char buf[TOK_MAX], *slash;

	snprintf(buf, sizeof(buf), "%s", val);
	slash = strchr(buf, '/');
	*masked = slash != NULL;
	if (slash)
		*slash++ = '\0';
	if (slash && !fi->maskable)
		return fail(e, "field '%s' cannot be masked: '%s'", name, val);
	memset(v, 0, sizeof(*v));
	memset(m, 0, sizeof(*m));
	switch (fi->kind) {
	case SW_FK_MAC:
		if (!parse_mac(buf, v->mac) || (slash && !parse_mac(slash, m->mac)))
			return fail(e, "bad value '%s' for %s", val, name);
		return 0;
	case SW_FK_IPV6: {
		uint64_t len;

		if (inet_pton(AF_INET6, buf, v->ipv6) != 1)
			return fail(e, "bad value '%s' for %s", val, name);
		if (!slash)
			return 0;
		if (strchr(slash, ':')) {
			if (inet_pton(AF_INET6, slash, m->ipv6) != 1)
				return fail(e, "bad mask '%s' for %s", slash, name);
		} else {
			if (!parse_u64(slash, &len) || len > 128)
				return fail(e, "bad mask '%s' for %s", slash, name);
			for (unsigned i = 0; i < len; i++)
				m->ipv6[i / 8] |= (uint8_t)(0x80 >> (i % 8));
		}
		return 0;
	}
	case SW_FK_BE:
	case SW_FK_INT:
		if (fi->kind == SW_FK_BE && fi->size == 4) {
			uint32_t a;

			if (!parse_ipv4(buf, &a))
				return fail(e, "bad value '%s' for %s", val, name);
			v->u64 = a;
			if (slash) {
				uint64_t len;

				if (strchr(slash, '.')) {
					if (!parse_ipv4(slash, &a))
						return fail(e, "bad mask '%s' for %s", slash, name);
					m->u64 = a;
				} else if (parse_u64(slash, &len) && len <= 32) {
					m->u64 = len ? (0xffffffffull << (32 - len)) & 0xffffffffull : 0;
				} else {
					return fail(e, "bad mask '%s' for %s", slash, name);
				}
			}
			return 0;
		}
		if (!parse_u64(buf, &v->u64) || v->u64 > (fi->bits >> fi->shift))
			return fail(e, "bad value '%s' for %s", val, name);
		if (slash && (!parse_u64(slash, &m->u64) || m->u64 > (fi->bits >> fi->shift)))
			return fail(e, "bad mask '%s' for %s", slash, name);
		return 0;
	}
	return fail(e, "bad value '%s' for %s", val, name);
}

static const struct {
	const char *name;
	uint16_t dl_type;
	int nw_proto;   /* -1: none */
} shorthands[] = {
	{ "ip", SW_ETH_TYPE_IPV4, -1 }, { "ipv6", SW_ETH_TYPE_IPV6, -1 },
	{ "arp", SW_ETH_TYPE_ARP, -1 }, { "icmp", SW_ETH_TYPE_IPV4, 1 },
	{ "tcp", SW_ETH_TYPE_IPV4, 6 }, { "udp", SW_ETH_TYPE_IPV4, 17 },
	{ "sctp", SW_ETH_TYPE_IPV4, 132 }, { "icmp6", SW_ETH_TYPE_IPV6, 58 },
	{ "tcp6", SW_ETH_TYPE_IPV6, 6 }, { "udp6", SW_ETH_TYPE_IPV6, 17 },
	{ "sctp6", SW_ETH_TYPE_IPV6, 132 },
};

static void set_int(struct sw_match *m, unsigned f, uint64_t v)
{
	union sw_value x = { .u64 = v };

	sw_match_set(m, f, &x, NULL);
}

static int parse_port(const char *s, uint32_t *port)
{
	static const struct { const char *n; uint32_t p; } names[] = {
		{ "in_port", SW_OFPP_IN_PORT }, { "normal", SW_OFPP_NORMAL },
		{ "flood", SW_OFPP_FLOOD }, { "all", SW_OFPP_ALL },
		{ "controller", SW_OFPP_CONTROLLER }, { "local", SW_OFPP_LOCAL },
		{ "any", SW_OFPP_ANY }, { "none", SW_OFPP_ANY },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].n)) {
			*port = names[i].p;
			return 0;
		}
	if (!parse_u64(s, &v) || v == 0 || (v > SW_OFPP_MAX && v < SW_OFPP_IN_PORT) ||
	    v > 0xffffffffull)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}

static int add_action(struct sw_insts *in, bool write, const struct sw_action *a, const char *tok,
		      struct perr *e)
{
	unsigned n = in->n_apply + in->n_write;

	if (n >= SW_MAX_ACTIONS)
		return fail(e, "too many actions at '%s' (at most %d)", tok, SW_MAX_ACTIONS);
	if (write) {
		in->acts[n] = *a;
		in->n_write++;
	} else {
		/* Apply actions come first: slide the write list up by one. */
		memmove(&in->acts[in->n_apply + 1], &in->acts[in->n_apply],
			in->n_write * sizeof(in->acts[0]));
		in->acts[in->n_apply++] = *a;
	}
	return 0;
}

static int parse_set_field(const char *tok, const char *arg, const struct sw_match *match,
			   struct sw_action *a, struct perr *e)
{
	char buf[TOK_MAX], *arrow;
	const struct sw_field_info *fi;
	union sw_value m;
	unsigned f;
	bool masked;
	const char *why = "";
	int ret;

	snprintf(buf, sizeof(buf), "%s", arg);
	arrow = strstr(buf, "->");
	if (!arrow)
		return fail(e, "bad action '%s' (set_field:VALUE->FIELD)", tok);
	*arrow = '\0';
	fi = sw_field_by_name(arrow + 2, &f);
	if (!fi || f == SW_F_IN_PORT)
		return fail(e, "unknown field '%s' in '%s'", arrow + 2, tok);
	if (strchr(buf, '/'))
		return fail(e, "bad value '%s' for %s (no mask in set_field)", buf, arrow + 2);
	ret = parse_value(fi, arrow + 2, buf, &a->value, &m, &masked, e);
	if (ret)
		return ret;
	if (fi->prereq != SW_PRQ_VLAN && !sw_match_prereq_ok(match, fi->prereq, &why))
		return fail(e, "set_field on '%s' requires %s in the match", arrow + 2, why);
	a->type = SW_ACT_SET_FIELD;
	a->field = (uint8_t)f;
	return 0;
}

static int parse_actions(const char *s, const struct sw_match *match, struct sw_insts *in,
			 bool write, struct perr *e);

static int parse_one_action(const char *tok, const struct sw_match *match, struct sw_insts *in,
			    bool write, struct perr *e)
{
	char name[TOK_MAX];
	const char *arg = "";
	struct sw_action a;
	uint64_t v;
	size_t n = strcspn(tok, ":(=");

	memset(&a, 0, sizeof(a));
	snprintf(name, sizeof(name), "%.*s", (int)n, tok);
	if (tok[n] == ':' || tok[n] == '=')
		arg = tok + n + 1;
	if (in->has_goto)
		return fail(e, "action '%s' after goto_table (it must be last)", tok);

	if (!strcmp(name, "write_actions") && tok[n] == '(') {
		char inner[TOK_MAX];
		size_t len = strlen(tok);

		if (write || tok[len - 1] != ')')
			return fail(e, "bad action '%s'", tok);
		snprintf(inner, sizeof(inner), "%.*s", (int)(len - n - 2), tok + n + 1);
		return parse_actions(inner, match, in, true, e);
	}
	if (!strcmp(name, "clear_actions") && !write && !*arg) {
		in->clear_actions = true;
		return 0;
	}
	if (!strcmp(name, "goto_table") && !write) {
		if (!parse_u64(arg, &v) || v >= SW_N_TABLES)
			return fail(e, "bad value '%s' for goto_table", arg);
		in->has_goto = true;
		in->goto_table = (uint8_t)v;
		return 0;
	}
	if (!strcmp(name, "write_metadata") && !write) {
		const struct sw_field_info *fi = sw_field_info(SW_F_METADATA);
		union sw_value val, mk;
		bool masked;
		int ret = parse_value(fi, "write_metadata", arg, &val, &mk, &masked, e);

		if (ret)
			return ret;
		in->write_md = true;
		in->md_mask = masked ? mk.u64 : UINT64_MAX;
		in->md = val.u64 & in->md_mask;
		return 0;
	}
	if (!strcmp(name, "output")) {
		a.type = SW_ACT_OUTPUT;
		if (parse_port(arg, &a.arg) || a.arg == SW_OFPP_ANY)
			return fail(e, "bad value '%s' for output", arg);
		if (a.arg == SW_OFPP_CONTROLLER)
			a.ethertype = 0xffff;   /* max_len */
	} else if (parse_u64(tok, &v) || (!*arg && !parse_port(tok, &a.arg) &&
					     strcasecmp(tok, "any") && strcasecmp(tok, "none"))) {
		a.type = SW_ACT_OUTPUT;
		if (parse_port(tok, &a.arg))
			return fail(e, "bad output port '%s'", tok);
		if (a.arg == SW_OFPP_CONTROLLER)
			a.ethertype = 0xffff;
	} else if (!strcasecmp(name, "controller")) {
		a.type = SW_ACT_OUTPUT;
		a.arg = SW_OFPP_CONTROLLER;
		if (!parse_u64(arg, &v) || v > 0xffff)
			return fail(e, "bad value '%s' for controller", arg);
		a.ethertype = (uint16_t)v;
	} else if ((!strcmp(name, "strip_vlan") || !strcmp(name, "pop_vlan")) && !*arg) {
		a.type = SW_ACT_POP_VLAN;
	} else if (!strcmp(name, "push_vlan")) {
		if (!parse_u64(arg, &v) || (v != SW_ETH_TYPE_VLAN && v != SW_ETH_TYPE_QINQ))
			return fail(e, "bad value '%s' for push_vlan (0x8100 or 0x88a8)", arg);
		a.type = SW_ACT_PUSH_VLAN;
		a.ethertype = (uint16_t)v;
	} else if (!strcmp(name, "dec_ttl") && !*arg) {
		a.type = SW_ACT_DEC_TTL;
	} else if (!strcmp(name, "group")) {
		if (!parse_u64(arg, &v) || v > 0xffffff00u)
			return fail(e, "bad value '%s' for group", arg);
		a.type = SW_ACT_GROUP;
		a.arg = (uint32_t)v;
	} else if (!strcmp(name, "set_field")) {
		int ret = parse_set_field(tok, arg, match, &a, e);

		if (ret)
			return ret;
	} else if (!strcmp(name, "mod_vlan_vid") || !strcmp(name, "mod_vlan_pcp")) {
		bool vid = name[9] == 'v';

		if (!parse_u64(arg, &v) || v > (vid ? 4095u : 7u))
			return fail(e, "bad value '%s' for %s", arg, name);
		a.type = SW_ACT_SET_FIELD;
		a.flags = SW_ACTF_PUSH;
		a.field = vid ? SW_F_VLAN_VID : SW_F_VLAN_PCP;
		a.value.u64 = vid ? (v | SW_VLAN_PRESENT) : v;
	} else if (!strncmp(name, "mod_", 4)) {
		static const struct { const char *n; unsigned f; } mods[] = {
			{ "mod_dl_src", SW_F_ETH_SRC }, { "mod_dl_dst", SW_F_ETH_DST },
			{ "mod_nw_src", SW_F_IPV4_SRC }, { "mod_nw_dst", SW_F_IPV4_DST },
			{ "mod_nw_tos", SW_F_NW_TOS }, { "mod_tp_src", SW_F_TP_SRC },
			{ "mod_tp_dst", SW_F_TP_DST },
		};
		char sf[TOK_MAX * 2];
		size_t i;

		for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
			if (!strcmp(name, mods[i].n))
				break;
		if (i == sizeof(mods) / sizeof(mods[0]))
			return fail(e, "unknown action '%s'", tok);
		snprintf(sf, sizeof(sf), "%s->%s", arg, sw_field_info(mods[i].f)->name);
		return parse_set_field(tok, sf, match, &a, e) ?: add_action(in, write, &a, tok, e);
	} else {
		return fail(e, "unknown action '%s'", tok);
	}
	return add_action(in, write, &a, tok, e);
}

static int parse_actions(const char *s, const struct sw_match *match, struct sw_insts *in,
			 bool write, struct perr *e)
{
	char tok[TOK_MAX];
	bool too_long;
	int n = 0, ret;

	while (next_token(&s, tok, &too_long)) {
		if (too_long)
			return fail(e, "action too long: '%.40s...'", tok);
		if (!strcmp(tok, "drop")) {
			if (n || (*s && strspn(s, ", \t") != strlen(s)))
				return fail(e, "'drop' must be the only action");
			return 0;
		}
		ret = parse_one_action(tok, match, in, write, e);
		if (ret)
			return ret;
		n++;
	}
	if (!n && !write)
		return fail(e, "empty actions (use actions=drop)");
	return 0;
}

/* dl_vlan=VID (0xffff: untagged), dl_vlan_pcp=P: OVS's spellings on vlan_tci. */
static int parse_vlan(struct sw_match *m, const char *key, const char *val, struct perr *e)
{
	uint64_t v;
	union sw_value x, mk;

	if (!parse_u64(val, &v))
		return fail(e, "bad value '%s' for %s", val, key);
	if (!strcmp(key, "dl_vlan")) {
		if (v == 0xffff) {
			x.u64 = 0;
			mk.u64 = 0xffff;
		} else if (v <= SW_VLAN_VID_MASK) {
			sw_field_load(&m->key, SW_F_VLAN_TCI, &x);
			sw_field_load(&m->mask, SW_F_VLAN_TCI, &mk);
			x.u64 = (x.u64 & 0xe000) | SW_VLAN_PRESENT | v;
			mk.u64 |= 0x1fff;
		} else {
			return fail(e, "bad value '%s' for dl_vlan", val);
		}
	} else {
		if (v > 7)
			return fail(e, "bad value '%s' for %s", val, key);
		sw_field_load(&m->key, SW_F_VLAN_TCI, &x);
		sw_field_load(&m->mask, SW_F_VLAN_TCI, &mk);
		x.u64 = (x.u64 & 0x1fff) | SW_VLAN_PRESENT | v << SW_VLAN_PCP_SHIFT;
		mk.u64 |= 0xf000;
	}
	return sw_match_set(m, SW_F_VLAN_TCI, &x, &mk) ? fail(e, "bad value '%s' for %s", val, key)
						       : 0;
}

int sw_flow_parse(const char *s, enum sw_flow_cmd cmd, struct sw_flow_mod *fm, char *err,
		  size_t errlen)
{
	struct perr e = { err, errlen };
	bool with_actions = cmd == SW_FC_ADD || cmd == SW_FC_MODIFY || cmd == SW_FC_MODIFY_STRICT;
	bool seen[SW_F_N] = { false }, seen_table = false, proto_shorthand = false;
	const char *actions = NULL;
	char tok[TOK_MAX];
	bool too_long;
	int ret;

	sw_flow_mod_init(fm, cmd);
	if (err && errlen)
		err[0] = '\0';
	while (next_token(&s, tok, &too_long)) {
		char *eq = strchr(tok, '=');
		const char *key = tok, *val = "";
		const struct sw_field_info *fi;
		union sw_value v, m;
		uint64_t u;
		unsigned f;
		bool masked;
		size_t i;

		if (too_long)
			return fail(&e, "token too long: '%.40s...'", tok);
		if (!strncmp(tok, "actions=", 8) || !strncmp(tok, "actions:", 8)) {
			/* The rest of the string, whatever separators it holds. */
			actions = s - strlen(tok) + 8;
			break;
		}
		if (eq) {
			*eq = '\0';
			val = eq + 1;
		}
		for (i = 0; i < sizeof(shorthands) / sizeof(shorthands[0]); i++)
			if (!strcmp(key, shorthands[i].name))
				break;
		if (i < sizeof(shorthands) / sizeof(shorthands[0])) {
			if (eq)
				return fail(&e, "'%s' takes no value", key);
			set_int(&fm->match, SW_F_ETH_TYPE, shorthands[i].dl_type);
			if (shorthands[i].nw_proto >= 0) {
				set_int(&fm->match, SW_F_IP_PROTO, (uint64_t)shorthands[i].nw_proto);
				proto_shorthand = true;
			}
			continue;
		}
		if (!eq)
			return fail(&e, "unknown field '%s'", key);
		if (!strcmp(key, "table")) {
			if (!parse_u64(val, &u) || (u >= SW_N_TABLES && !(u == 255 && !with_actions)))
				return fail(&e, "bad value '%s' for table (0-%d)", val, SW_N_TABLES - 1);
			fm->table_id = (uint8_t)u;
			seen_table = true;
		} else if (!strcmp(key, "priority")) {
			if (!parse_u64(val, &u) || u > 0xffff)
				return fail(&e, "bad value '%s' for priority (0-65535)", val);
			fm->priority = (uint16_t)u;
		} else if (!strcmp(key, "idle_timeout") || !strcmp(key, "hard_timeout")) {
			if (!parse_u64(val, &u) || u > 0xffff)
				return fail(&e, "bad value '%s' for %s (0-65535 s)", val, key);
			if (key[0] == 'i')
				fm->idle_timeout = (uint16_t)u;
			else
				fm->hard_timeout = (uint16_t)u;
		} else if (!strcmp(key, "cookie")) {
			char buf[TOK_MAX], *sl;

			snprintf(buf, sizeof(buf), "%s", val);
			sl = strchr(buf, '/');
			if (sl)
				*sl++ = '\0';
			if (!parse_u64(buf, &fm->cookie) || (sl && !parse_u64(sl, &fm->cookie_mask)))
				return fail(&e, "bad value '%s' for cookie", val);
			if (!sl)
				fm->cookie_mask = with_actions ? 0 : UINT64_MAX;
			else if (cmd == SW_FC_ADD)
				return fail(&e, "bad value '%s' for cookie (no mask when adding)", val);
		} else if (!strcmp(key, "out_port")) {
			if (parse_port(val, &fm->out_port))
				return fail(&e, "bad value '%s' for out_port", val);
		} else if (!strcmp(key, "dl_vlan") || !strcmp(key, "dl_vlan_pcp") ||
			   !strcmp(key, "vlan_pcp")) {
			ret = parse_vlan(&fm->match, !strcmp(key, "dl_vlan") ? key : "dl_vlan_pcp", val,
					 &e);
			if (ret)
				return ret;
		} else {
			fi = sw_field_by_name(key, &f);
			if (!fi)
				return fail(&e, "unknown field '%s'", key);
			if (seen[f])
				return fail(&e, "field '%s' given twice", key);
			seen[f] = true;
			if (f == SW_F_IN_PORT) {
				uint32_t p;

				if (parse_port(val, &p) || (p > SW_OFPP_MAX && p != SW_OFPP_LOCAL) ||
				    p > 0xffff)
					return fail(&e, "bad value '%s' for in_port", val);
				v.u64 = p;
				ret = sw_match_set(&fm->match, f, &v, NULL);
			} else {
				ret = parse_value(fi, key, val, &v, &m, &masked, &e);
				if (ret)
					return ret;
				ret = sw_match_set(&fm->match, f, &v, masked ? &m : NULL);
			}
			if (ret)
				return fail(&e, "bad value '%s' for %s", val, key);
		}
	}
	if (!seen_table && !with_actions)
		fm->table_id = SW_TABLE_ALL;
	/* Prerequisites, whatever order the fields came in. */
	for (unsigned f = 0; f < SW_F_N; f++) {
		const struct sw_field_info *fi = sw_field_info(f);
		const char *why = "";

		if ((seen[f] || (f == SW_F_IP_PROTO && proto_shorthand)) &&
		    !sw_match_prereq_ok(&fm->match, fi->prereq, &why))
			return fail(&e, "field '%s' requires %s (e.g. '%s,%s=...')", fi->name, why,
				    why, fi->name);
	}
	if (!with_actions) {
		if (actions)
			return fail(&e, "unexpected 'actions=' (this command takes a match only)");
		return 0;
	}
	if (!actions)
		return fail(&e, "missing 'actions=' (e.g. actions=drop)");
	ret = parse_actions(actions, &fm->match, &fm->insts, false, &e);
	if (ret)
		return ret;
	if (fm->insts.has_goto && fm->insts.goto_table <= fm->table_id && fm->table_id != SW_TABLE_ALL)
		return fail(&e, "bad value '%u' for goto_table (must be after table %u)",
			    fm->insts.goto_table, fm->table_id);
	return 0;
}

/* ---------------------------------------------------------------- format */

struct out {
	char *buf;
	size_t len, n;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (o->n >= o->len)
		return;
	va_start(ap, fmt);
	r = vsnprintf(o->buf + o->n, o->len - o->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		o->n = o->n + (size_t)r < o->len ? o->n + (size_t)r : o->len - 1;
}

static void sep(struct out *o)
{
	if (o->n)
		put(o, ",");
}

static void put_value(struct out *o, const struct sw_field_info *fi, const union sw_value *v)
{
	char a[INET6_ADDRSTRLEN];

	switch (fi->kind) {
	case SW_FK_MAC:
		put(o, "%02x:%02x:%02x:%02x:%02x:%02x", v->mac[0], v->mac[1], v->mac[2], v->mac[3],
		    v->mac[4], v->mac[5]);
		return;
	case SW_FK_IPV6:
		put(o, "%s", inet_ntop(AF_INET6, v->ipv6, a, sizeof(a)));
		return;
	case SW_FK_BE:
		if (fi->size == 4) {
			uint32_t be = htonl((uint32_t)v->u64);

			put(o, "%s", inet_ntop(AF_INET, &be, a, sizeof(a)));
			return;
		}
		/* fall through */
	case SW_FK_INT:
		if (fi->size == 8)
			put(o, "0x%" PRIx64, v->u64);
		else
			put(o, "%" PRIu64, v->u64);
		return;
	}
}

static int prefix_len(const uint8_t *m, unsigned n)
{
	unsigned bits = 0, i = 0;

	while (i < n && m[i] == 0xff)
		i++, bits += 8;
	if (i < n) {
		uint8_t b = m[i];

		while (b & 0x80)
			b = (uint8_t)(b << 1), bits++;
		if (b)
			return -1;
		for (i++; i < n; i++)
			if (m[i])
				return -1;
	}
	return (int)bits;
}

static void put_field(struct out *o, const char *name, unsigned f, const struct sw_match *m)
{
	const struct sw_field_info *fi = sw_field_info(f);
	union sw_value v, mk, full;
	bool exact;

	if (!sw_match_get(m, f, &v, &mk))
		return;
	memset(&full, 0, sizeof(full));
	if (fi->kind == SW_FK_INT || fi->kind == SW_FK_BE)
		full.u64 = fi->bits >> fi->shift;
	else
		memset(full.ipv6, 0xff, fi->size);
	exact = !memcmp(&mk, &full, sizeof(mk));
	sep(o);
	put(o, "%s=", name);
	put_value(o, fi, &v);
	if (exact)
		return;
	put(o, "/");
	if (fi->kind == SW_FK_IPV6 || (fi->kind == SW_FK_BE && fi->size == 4)) {
		uint8_t b[16];
		int pl;

		if (fi->kind == SW_FK_IPV6) {
			memcpy(b, mk.ipv6, 16);
		} else {
			uint32_t be = htonl((uint32_t)mk.u64);

			memcpy(b, &be, 4);
		}
		pl = prefix_len(b, fi->size);
		if (pl >= 0) {
			put(o, "%d", pl);
			return;
		}
	}
	if (fi->kind == SW_FK_BE && fi->size == 2)
		put(o, "0x%" PRIx64, mk.u64);
	else
		put_value(o, fi, &mk);
}

char *sw_match_format(const struct sw_match *m, uint16_t priority, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	uint16_t type = m->mask.dl_type == 0xffff ? m->key.dl_type : 0;
	bool proto_done = false, v4 = type == SW_ETH_TYPE_IPV4, v6 = type == SW_ETH_TYPE_IPV6;
	uint16_t tci = m->key.vlan_tci, tcim = m->mask.vlan_tci;
	uint8_t proto = m->key.nw_proto;

	if (len)
		buf[0] = '\0';
	if (priority != SW_PRIO_DEFAULT)
		put(&o, "priority=%u", priority);
	if (m->mask.dl_type == 0xffff) {
		const char *sh = NULL;

		for (size_t i = 0; i < sizeof(shorthands) / sizeof(shorthands[0]); i++) {
			if (shorthands[i].dl_type != type)
				continue;
			if (shorthands[i].nw_proto < 0 && !sh)
				sh = shorthands[i].name;
			else if (m->mask.nw_proto == 0xff && shorthands[i].nw_proto == proto) {
				sh = shorthands[i].name;
				proto_done = true;
				break;
			}
		}
		sep(&o);
		if (sh)
			put(&o, "%s", sh);
		else
			put(&o, "dl_type=0x%04x", type);
	} else if (m->mask.dl_type) {
		put_field(&o, "dl_type", SW_F_ETH_TYPE, m);
	}
	put_field(&o, "in_port", SW_F_IN_PORT, m);
	put_field(&o, "metadata", SW_F_METADATA, m);
	put_field(&o, "tun_id", SW_F_TUNNEL_ID, m);
	if (tcim == 0x1fff && (tci & SW_VLAN_PRESENT)) {
		sep(&o);
		put(&o, "dl_vlan=%u", tci & SW_VLAN_VID_MASK);
	} else if (tcim == 0xf000 && (tci & SW_VLAN_PRESENT)) {
		sep(&o);
		put(&o, "dl_vlan_pcp=%u", tci >> SW_VLAN_PCP_SHIFT);
	} else if (tcim == 0xffff && (tci & SW_VLAN_PRESENT)) {
		sep(&o);
		put(&o, "dl_vlan=%u,dl_vlan_pcp=%u", tci & SW_VLAN_VID_MASK, tci >> SW_VLAN_PCP_SHIFT);
	} else if (tcim) {
		sep(&o);
		put(&o, "vlan_tci=0x%04x/0x%04x", tci, tcim);
	}
	put_field(&o, "dl_src", SW_F_ETH_SRC, m);
	put_field(&o, "dl_dst", SW_F_ETH_DST, m);
	if (type == SW_ETH_TYPE_ARP) {
		put_field(&o, "arp_spa", SW_F_ARP_SPA, m);
		put_field(&o, "arp_tpa", SW_F_ARP_TPA, m);
		put_field(&o, "arp_op", SW_F_ARP_OP, m);
		put_field(&o, "arp_sha", SW_F_ARP_SHA, m);
		put_field(&o, "arp_tha", SW_F_ARP_THA, m);
	} else {
		put_field(&o, "nw_src", SW_F_IPV4_SRC, m);
		put_field(&o, "nw_dst", SW_F_IPV4_DST, m);
	}
	put_field(&o, "ipv6_src", SW_F_IPV6_SRC, m);
	put_field(&o, "ipv6_dst", SW_F_IPV6_DST, m);
	if (!proto_done)
		put_field(&o, "nw_proto", SW_F_IP_PROTO, m);
	put_field(&o, "nw_tos", SW_F_NW_TOS, m);
	if (m->mask.nw_proto == 0xff && (proto == 1 || proto == 58) && (v4 || v6)) {
		put_field(&o, proto == 1 ? "icmp_type" : "icmpv6_type", SW_F_ICMPV4_TYPE, m);
		put_field(&o, proto == 1 ? "icmp_code" : "icmpv6_code", SW_F_ICMPV4_CODE, m);
	} else {
		put_field(&o, "tp_src", SW_F_TP_SRC, m);
		put_field(&o, "tp_dst", SW_F_TP_DST, m);
	}
	return buf;
}

static void put_action(struct out *o, const struct sw_action *a)
{
	const struct sw_field_info *fi;

	sep(o);
	switch (a->type) {
	case SW_ACT_OUTPUT:
		switch (a->arg) {
		case SW_OFPP_IN_PORT: put(o, "IN_PORT"); break;
		case SW_OFPP_NORMAL: put(o, "NORMAL"); break;
		case SW_OFPP_FLOOD: put(o, "FLOOD"); break;
		case SW_OFPP_ALL: put(o, "ALL"); break;
		case SW_OFPP_LOCAL: put(o, "LOCAL"); break;
		case SW_OFPP_CONTROLLER: put(o, "CONTROLLER:%u", a->ethertype); break;
		default: put(o, "output:%u", a->arg); break;
		}
		break;
	case SW_ACT_POP_VLAN: put(o, "strip_vlan"); break;
	case SW_ACT_PUSH_VLAN: put(o, "push_vlan:0x%04x", a->ethertype); break;
	case SW_ACT_DEC_TTL: put(o, "dec_ttl"); break;
	case SW_ACT_GROUP: put(o, "group:%u", a->arg); break;
	case SW_ACT_SET_FIELD:
		if (a->flags & SW_ACTF_PUSH) {
			if (a->field == SW_F_VLAN_VID)
				put(o, "mod_vlan_vid:%u", (unsigned)(a->value.u64 & SW_VLAN_VID_MASK));
			else
				put(o, "mod_vlan_pcp:%u", (unsigned)a->value.u64);
			break;
		}
		fi = sw_field_info(a->field);
		put(o, "set_field:");
		put_value(o, fi, &a->value);
		put(o, "->%s", fi->oxm_name && a->field < SW_F_VLAN_TCI ? fi->oxm_name : fi->name);
		break;
	default:
		put(o, "?");
	}
}

char *sw_insts_format(const struct sw_insts *in, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };

	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < in->n_apply; i++)
		put_action(&o, &in->acts[i]);
	if (in->clear_actions) {
		sep(&o);
		put(&o, "clear_actions");
	}
	if (in->n_write) {
		struct out w;
		char tmp[2048];

		w = (struct out){ tmp, sizeof(tmp), 0 };
		tmp[0] = '\0';
		for (unsigned i = 0; i < in->n_write; i++)
			put_action(&w, &in->acts[in->n_apply + i]);
		sep(&o);
		put(&o, "write_actions(%s)", tmp);
	}
	if (in->write_md) {
		sep(&o);
		if (in->md_mask == UINT64_MAX)
			put(&o, "write_metadata:0x%" PRIx64, in->md);
		else
			put(&o, "write_metadata:0x%" PRIx64 "/0x%" PRIx64, in->md, in->md_mask);
	}
	if (in->has_goto) {
		sep(&o);
		put(&o, "goto_table:%u", in->goto_table);
	}
	if (!o.n)
		put(&o, "drop");
	return buf;
}

char *sw_flow_mod_format(const struct sw_flow_mod *fm, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	char m[1024], a[2048];

	if (len)
		buf[0] = '\0';
	put(&o, "table=%u", fm->table_id);
	if (fm->cookie)
		put(&o, ",cookie=0x%" PRIx64, fm->cookie);
	if (fm->idle_timeout)
		put(&o, ",idle_timeout=%u", fm->idle_timeout);
	if (fm->hard_timeout)
		put(&o, ",hard_timeout=%u", fm->hard_timeout);
	sw_match_format(&fm->match, fm->priority, m, sizeof(m));
	if (m[0])
		put(&o, ",%s", m);
	put(&o, ",actions=%s", sw_insts_format(&fm->insts, a, sizeof(a)));
	return buf;
}
