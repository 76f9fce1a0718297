/* sw_flow.c — the field table, match operations and flow objects. See sw_flow.h.
 *
 * Every field is a bit range of one struct sw_flow_key member, so matches are
 * plain (key, mask) word vectors: the classifier never needs to know what a
 * field is, only the formatter, the parser and set_field do.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sw_flow.h"

#define KOFS(m) ((uint16_t)offsetof(struct sw_flow_key, m))
#define KSZ(m) ((uint8_t)sizeof(((struct sw_flow_key *)0)->m))
#define INT_F(n, o, m, sh, b, mk, p) { n, o, SW_FK_INT, KOFS(m), KSZ(m), sh, b, mk, p }
#define BE_F(n, o, m, mk, p) { n, o, SW_FK_BE, KOFS(m), KSZ(m), 0, (1ull << (8 * KSZ(m))) - 1, mk, p }

static const struct sw_field_info fields[SW_F_N] = {
	[SW_F_IN_PORT] = INT_F("in_port", NULL, in_port, 0, 0xffff, false, SW_PRQ_NONE),
	[SW_F_METADATA] = INT_F("metadata", NULL, metadata, 0, UINT64_MAX, true, SW_PRQ_NONE),
	[SW_F_ETH_DST] = { "dl_dst", "eth_dst", SW_FK_MAC, KOFS(dl_dst), 6, 0, 0, true, SW_PRQ_NONE },
	[SW_F_ETH_SRC] = { "dl_src", "eth_src", SW_FK_MAC, KOFS(dl_src), 6, 0, 0, true, SW_PRQ_NONE },
	[SW_F_ETH_TYPE] = INT_F("dl_type", "eth_type", dl_type, 0, 0xffff, false, SW_PRQ_NONE),
	[SW_F_VLAN_VID] = INT_F("vlan_vid", NULL, vlan_tci, 0, 0x1fff, true, SW_PRQ_NONE),
	[SW_F_VLAN_PCP] = INT_F("dl_vlan_pcp", "vlan_pcp", vlan_tci, 13, 0xe000, false, SW_PRQ_VLAN),
	[SW_F_IP_DSCP] = INT_F("ip_dscp", NULL, nw_tos, 2, 0xfc, false, SW_PRQ_IP),
	[SW_F_IP_PROTO] = INT_F("nw_proto", "ip_proto", nw_proto, 0, 0xff, false, SW_PRQ_IP),
	[SW_F_IPV4_SRC] = BE_F("nw_src", "ipv4_src", nw_src, true, SW_PRQ_IPV4_ARP),
	[SW_F_IPV4_DST] = BE_F("nw_dst", "ipv4_dst", nw_dst, true, SW_PRQ_IPV4_ARP),
	[SW_F_TCP_SRC] = BE_F("tcp_src", NULL, tp_src, true, SW_PRQ_TCP),
	[SW_F_TCP_DST] = BE_F("tcp_dst", NULL, tp_dst, true, SW_PRQ_TCP),
	[SW_F_UDP_SRC] = BE_F("udp_src", NULL, tp_src, true, SW_PRQ_UDP),
	[SW_F_UDP_DST] = BE_F("udp_dst", NULL, tp_dst, true, SW_PRQ_UDP),
	[SW_F_SCTP_SRC] = BE_F("sctp_src", NULL, tp_src, true, SW_PRQ_SCTP),
	[SW_F_SCTP_DST] = BE_F("sctp_dst", NULL, tp_dst, true, SW_PRQ_SCTP),
	[SW_F_ICMPV4_TYPE] = INT_F("icmp_type", "icmpv4_type", tp_src, 0, 0xff, false, SW_PRQ_ICMP4),
	[SW_F_ICMPV4_CODE] = INT_F("icmp_code", "icmpv4_code", tp_dst, 0, 0xff, false, SW_PRQ_ICMP4),
	[SW_F_ARP_OP] = INT_F("arp_op", NULL, arp_op, 0, 0xffff, false, SW_PRQ_ARP),
	[SW_F_ARP_SPA] = BE_F("arp_spa", NULL, nw_src, true, SW_PRQ_ARP),
	[SW_F_ARP_TPA] = BE_F("arp_tpa", NULL, nw_dst, true, SW_PRQ_ARP),
	[SW_F_ARP_SHA] = { "arp_sha", NULL, SW_FK_MAC, KOFS(arp_sha), 6, 0, 0, true, SW_PRQ_ARP },
	[SW_F_ARP_THA] = { "arp_tha", NULL, SW_FK_MAC, KOFS(arp_tha), 6, 0, 0, true, SW_PRQ_ARP },
	[SW_F_IPV6_SRC] = { "ipv6_src", NULL, SW_FK_IPV6, KOFS(ipv6_src), 16, 0, 0, true, SW_PRQ_IPV6 },
	[SW_F_IPV6_DST] = { "ipv6_dst", NULL, SW_FK_IPV6, KOFS(ipv6_dst), 16, 0, 0, true, SW_PRQ_IPV6 },
	[SW_F_ICMPV6_TYPE] = INT_F("icmpv6_type", NULL, tp_src, 0, 0xff, false, SW_PRQ_ICMP6),
	[SW_F_ICMPV6_CODE] = INT_F("icmpv6_code", NULL, tp_dst, 0, 0xff, false, SW_PRQ_ICMP6),
	[SW_F_TUNNEL_ID] = INT_F("tun_id", "tunnel_id", tunnel_id, 0, UINT64_MAX, true, SW_PRQ_NONE),
	[SW_F_VLAN_TCI] = INT_F("vlan_tci", NULL, vlan_tci, 0, 0xffff, true, SW_PRQ_NONE),
	[SW_F_NW_TOS] = INT_F("nw_tos", NULL, nw_tos, 0, 0xfc, false, SW_PRQ_IP),
	[SW_F_TP_SRC] = BE_F("tp_src", NULL, tp_src, true, SW_PRQ_TP),
	[SW_F_TP_DST] = BE_F("tp_dst", NULL, tp_dst, true, SW_PRQ_TP),
};

const struct sw_field_info *sw_field_info(unsigned f)
{
	return f < SW_F_N && fields[f].name ? &fields[f] : NULL;
}

const struct sw_field_info *sw_field_by_name(const char *name, unsigned *f)
{
	for (unsigned i = 0; i < SW_F_N; i++) {
		if (!fields[i].name)
			continue;
		/* First letters first: add-flows parses 100,000s of fields. */
		if ((fields[i].name[0] == name[0] && !strcmp(fields[i].name, name)) ||
		    (fields[i].oxm_name && fields[i].oxm_name[0] == name[0] &&
		     !strcmp(fields[i].oxm_name, name))) {
			*f = i;
			return &fields[i];
		}
	}
	return NULL;
}

/* Integer members are host order (INT) or network order (BE) of 1..8 bytes. */
static uint64_t member_load(const struct sw_flow_key *k, const struct sw_field_info *fi)
{
	const uint8_t *p = (const uint8_t *)k + fi->ofs;
	uint64_t v = 0;

	if (fi->kind == SW_FK_BE) {
		for (unsigned i = 0; i < fi->size; i++)
			v = v << 8 | p[i];
		return v;
	}
	switch (fi->size) {
	case 1: v = *p; break;
	case 2: { uint16_t x; memcpy(&x, p, 2); v = x; break; }
	case 4: { uint32_t x; memcpy(&x, p, 4); v = x; break; }
	default: memcpy(&v, p, 8); break;
	}
	return v;
}

static void member_store(struct sw_flow_key *k, const struct sw_field_info *fi, uint64_t v)
{
	uint8_t *p = (uint8_t *)k + fi->ofs;

	if (fi->kind == SW_FK_BE) {
		for (int i = fi->size - 1; i >= 0; i--, v >>= 8)
			p[i] = (uint8_t)v;
		return;
	}
	switch (fi->size) {
	case 1: *p = (uint8_t)v; break;
	case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
	default: memcpy(p, &v, 8); break;
	}
}

void sw_field_load(const struct sw_flow_key *k, unsigned f, union sw_value *v)
{
	const struct sw_field_info *fi = &fields[f];

	memset(v, 0, sizeof(*v));
	if (fi->kind == SW_FK_INT || fi->kind == SW_FK_BE)
		v->u64 = (member_load(k, fi) & fi->bits) >> fi->shift;
	else
		memcpy(v->ipv6, (const uint8_t *)k + fi->ofs, fi->size);
}

void sw_field_store(struct sw_flow_key *k, unsigned f, const union sw_value *v)
{
	const struct sw_field_info *fi = &fields[f];

	if (fi->kind == SW_FK_INT || fi->kind == SW_FK_BE) {
		uint64_t old = member_load(k, fi);

		member_store(k, fi, (old & ~fi->bits) | ((v->u64 << fi->shift) & fi->bits));
	} else {
		memcpy((uint8_t *)k + fi->ofs, v->ipv6, fi->size);
	}
}

void sw_match_init_catchall(struct sw_match *m)
{
	memset(m, 0, sizeof(*m));
}

int sw_match_set(struct sw_match *m, unsigned f, const union sw_value *v,
		 const union sw_value *mask)
{
	const struct sw_field_info *fi = sw_field_info(f);

	if (!fi || (mask && !fi->maskable))
		return -EINVAL;
	if (fi->kind == SW_FK_INT || fi->kind == SW_FK_BE) {
		uint64_t max = fi->bits >> fi->shift;
		uint64_t mk = mask ? mask->u64 : max;
		uint64_t kv = member_load(&m->key, fi), km = member_load(&m->mask, fi);

		if (v->u64 > max || mk > max)
			return -ERANGE;
		km = (km & ~fi->bits) | ((mk << fi->shift) & fi->bits);
		kv = (kv & ~fi->bits) | (((v->u64 & mk) << fi->shift) & fi->bits);
		member_store(&m->mask, fi, km);
		member_store(&m->key, fi, kv);
	} else {
		uint8_t *kp = (uint8_t *)&m->key + fi->ofs, *mp = (uint8_t *)&m->mask + fi->ofs;

		for (unsigned i = 0; i < fi->size; i++) {
			mp[i] = mask ? mask->ipv6[i] : 0xff;
			kp[i] = v->ipv6[i] & mp[i];
		}
	}
	return 0;
}

bool sw_match_get(const struct sw_match *m, unsigned f, union sw_value *v, union sw_value *mask)
{
	bool any = false;

	sw_field_load(&m->key, f, v);
	sw_field_load(&m->mask, f, mask);
	for (unsigned i = 0; i < sizeof(mask->ipv6); i++)
		any |= mask->ipv6[i] != 0;
	return any;
}

static inline const uint64_t *words(const struct sw_flow_key *k)
{
	return (const uint64_t *)(const void *)k;
}

void sw_match_normalize(struct sw_match *m)
{
	uint64_t *k = (uint64_t *)(void *)&m->key;
	const uint64_t *mk = words(&m->mask);

	for (unsigned i = 0; i < SW_KEY_WORDS; i++)
		k[i] &= mk[i];
}

bool sw_match_equal(const struct sw_match *a, const struct sw_match *b)
{
	return !memcmp(a, b, sizeof(*a));
}

bool sw_match_covers(const struct sw_match *wide, const struct sw_match *narrow)
{
	const uint64_t *wk = words(&wide->key), *wm = words(&wide->mask);
	const uint64_t *nk = words(&narrow->key), *nm = words(&narrow->mask);

	for (unsigned i = 0; i < SW_KEY_WORDS; i++)
		if ((wm[i] & ~nm[i]) || ((wk[i] ^ nk[i]) & wm[i]))
			return false;
	return true;
}

bool sw_match_hits(const struct sw_match *m, const struct sw_flow_key *k)
{
	const uint64_t *mk = words(&m->key), *mm = words(&m->mask), *pk = words(k);

	for (unsigned i = 0; i < SW_KEY_WORDS; i++)
		if ((pk[i] & mm[i]) != mk[i])
			return false;
	return true;
}

/* Is `member` matched exactly to one of the values? */
static bool exact16(uint16_t mkey, uint16_t mmask, uint16_t a, uint16_t b)
{
	return mmask == 0xffff && (mkey == a || mkey == b);
}

bool sw_match_prereq_ok(const struct sw_match *m, enum sw_prereq p, const char **why)
{
	uint16_t t = m->key.dl_type, tm = m->mask.dl_type;
	bool v4 = exact16(t, tm, SW_ETH_TYPE_IPV4, SW_ETH_TYPE_IPV4);
	bool v6 = exact16(t, tm, SW_ETH_TYPE_IPV6, SW_ETH_TYPE_IPV6);
	bool pr = m->mask.nw_proto == 0xff;
	uint8_t proto = m->key.nw_proto;

	switch (p) {
	case SW_PRQ_NONE: return true;
	case SW_PRQ_VLAN:
		*why = "a VLAN tag (dl_vlan or vlan_tci with the present bit)";
		return (m->mask.vlan_tci & SW_VLAN_PRESENT) && (m->key.vlan_tci & SW_VLAN_PRESENT);
	case SW_PRQ_IP: *why = "ip or ipv6"; return v4 || v6;
	case SW_PRQ_IPV4: *why = "ip"; return v4;
	case SW_PRQ_IPV6: *why = "ipv6"; return v6;
	case SW_PRQ_ARP: *why = "arp"; return exact16(t, tm, SW_ETH_TYPE_ARP, SW_ETH_TYPE_ARP);
	case SW_PRQ_IPV4_ARP:
		*why = "ip or arp";
		return v4 || exact16(t, tm, SW_ETH_TYPE_ARP, SW_ETH_TYPE_ARP);
	case SW_PRQ_TCP: *why = "tcp or tcp6"; return (v4 || v6) && pr && proto == 6;
	case SW_PRQ_UDP: *why = "udp or udp6"; return (v4 || v6) && pr && proto == 17;
	case SW_PRQ_SCTP: *why = "sctp or sctp6"; return (v4 || v6) && pr && proto == 132;
	case SW_PRQ_TP:
		*why = "tcp, udp or sctp";
		return (v4 || v6) && pr && (proto == 6 || proto == 17 || proto == 132);
	case SW_PRQ_ICMP4: *why = "icmp"; return v4 && pr && proto == 1;
	case SW_PRQ_ICMP6: *why = "icmp6"; return v6 && pr && proto == 58;
	}
	*why = "?";
	return false;
}

void sw_flow_mod_init(struct sw_flow_mod *fm, enum sw_flow_cmd cmd)
{
	memset(fm, 0, sizeof(*fm));
	fm->cmd = cmd;
	fm->priority = SW_PRIO_DEFAULT;
	fm->out_port = SW_OFPP_ANY;
	fm->table_id = (cmd == SW_FC_ADD) ? 0 : SW_TABLE_ALL;
}

struct sw_insts *sw_insts_dup(const struct sw_insts *in)
{
	size_t sz = sw_insts_size(in);
	struct sw_insts *c = malloc(sz);

	if (c)
		memcpy(c, in, sz);
	return c;
}

struct sw_flow *sw_flow_alloc(const struct sw_flow_mod *fm, unsigned n_pmds, uint32_t now_s)
{
	unsigned n = n_pmds ? n_pmds : 1;
	size_t sz = sizeof(struct sw_flow) + n * sizeof(struct sw_flow_pmd_stats);
	struct sw_flow *f;

	sz = (sz + 63) & ~(size_t)63;
	f = aligned_alloc(64, sz);
	if (!f)
		return NULL;
	memset(f, 0, sz);
	f->insts = sw_insts_dup(&fm->insts);
	if (!f->insts) {
		free(f);
		return NULL;
	}
	f->match = fm->match;
	sw_match_normalize(&f->match);
	f->cookie = fm->cookie;
	f->priority = fm->priority;
	f->table_id = fm->table_id;
	f->idle_timeout = fm->idle_timeout;
	f->hard_timeout = fm->hard_timeout;
	f->flags = fm->flags;
	f->created_s = f->modified_s = now_s;
	f->n_stats = n;
	return f;
}

void sw_flow_free(struct sw_flow *f)
{
	if (!f)
		return;
	free(f->insts);
	free(f);
}

void sw_flow_stats_sum(const struct sw_flow *f, uint64_t *packets, uint64_t *bytes,
		       uint32_t *used_s)
{
	uint64_t p = 0, b = 0;
	uint32_t u = 0;

	/* Plain loads of words a PMD writes: never torn, at most a burst stale. */
	for (unsigned i = 0; i < f->n_stats; i++) {
		p += __atomic_load_n(&f->stats[i].packets, __ATOMIC_RELAXED);
		b += __atomic_load_n(&f->stats[i].bytes, __ATOMIC_RELAXED);
		uint32_t x = __atomic_load_n(&f->stats[i].used_s, __ATOMIC_RELAXED);

		u = x > u ? x : u;
	}
	*packets = p;
	*bytes = b;
	*used_s = u;
}

bool sw_insts_output_to(const struct sw_insts *in, uint32_t port)
{
	if (port == SW_OFPP_ANY)
		return true;
	for (unsigned i = 0; i < (unsigned)(in->n_apply + in->n_write); i++)
		if (in->acts[i].type == SW_ACT_OUTPUT && in->acts[i].arg == port)
			return true;
	return false;
}
