/* ofa_oxm.c — OXM match fields: the field table, TLV decode/encode with mask
 * and value checks, prerequisites, and match comparison and formatting.
 *
 * Every field of the OpenFlow basic class is described once in ofa_fields[];
 * decode, encode, prerequisite checks and formatting are driven by it, so a
 * field added there is handled everywhere. Values live in union ofa_value:
 * integers in host order in u64, addresses as bytes in network order. Both
 * representations are compared bytewise over the whole union (unused bytes are
 * always zero), which lets covers()/equal() ignore the field kind.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ofa_internal.h"

enum ofa_field_kind {
	OFA_KIND_INT,   /* `bits` significant bits in `len` wire bytes */
	OFA_KIND_MAC,
	OFA_KIND_IPV4,  /* an integer, formatted dotted */
	OFA_KIND_IPV6,
};

enum ofa_prereq {
	PRE_NONE,
	PRE_IN_PORT,
	PRE_VLAN,       /* vlan_vid present with OFPVID_PRESENT set */
	PRE_IP_ANY,     /* eth_type 0x0800 or 0x86dd */
	PRE_IPV4,
	PRE_IPV6,
	PRE_ARP,
	PRE_TCP,
	PRE_UDP,
	PRE_SCTP,
	PRE_ICMPV4,
	PRE_ICMPV6,
	PRE_ND_TARGET,  /* icmpv6_type 135 or 136 */
	PRE_ND_SLL,     /* icmpv6_type 135 */
	PRE_ND_TLL,     /* icmpv6_type 136 */
	PRE_MPLS,
	PRE_PBB,
};

struct ofa_field_desc {
	struct ofa_field_info info;
	enum ofa_field_kind kind;
	uint8_t bits;
	enum ofa_prereq prereq;
	bool hex;  /* format integers in hex */
};

#define INT(NAME, LEN, BITS, MASKABLE, PRE, HEX) \
	{ { NAME, LEN, MASKABLE }, OFA_KIND_INT, BITS, PRE, HEX }
#define MAC(NAME, PRE) { { NAME, 6, true }, OFA_KIND_MAC, 48, PRE, false }
#define IP4(NAME, PRE) { { NAME, 4, true }, OFA_KIND_IPV4, 32, PRE, false }
#define IP6(NAME, MASKABLE, PRE) { { NAME, 16, MASKABLE }, OFA_KIND_IPV6, 128, PRE, false }

static const struct ofa_field_desc ofa_fields[OFA_N_FIELDS] = {
	[OFPXMT_OFB_IN_PORT] = INT("in_port", 4, 32, false, PRE_NONE, false),
	[OFPXMT_OFB_IN_PHY_PORT] = INT("in_phy_port", 4, 32, false, PRE_IN_PORT, false),
	[OFPXMT_OFB_METADATA] = INT("metadata", 8, 64, true, PRE_NONE, true),
	[OFPXMT_OFB_ETH_DST] = MAC("eth_dst", PRE_NONE),
	[OFPXMT_OFB_ETH_SRC] = MAC("eth_src", PRE_NONE),
	[OFPXMT_OFB_ETH_TYPE] = INT("eth_type", 2, 16, false, PRE_NONE, true),
	[OFPXMT_OFB_VLAN_VID] = INT("vlan_vid", 2, 13, true, PRE_NONE, false),
	[OFPXMT_OFB_VLAN_PCP] = INT("vlan_pcp", 1, 3, false, PRE_VLAN, false),
	[OFPXMT_OFB_IP_DSCP] = INT("ip_dscp", 1, 6, false, PRE_IP_ANY, false),
	[OFPXMT_OFB_IP_ECN] = INT("ip_ecn", 1, 2, false, PRE_IP_ANY, false),
	[OFPXMT_OFB_IP_PROTO] = INT("ip_proto", 1, 8, false, PRE_IP_ANY, false),
	[OFPXMT_OFB_IPV4_SRC] = IP4("ipv4_src", PRE_IPV4),
	[OFPXMT_OFB_IPV4_DST] = IP4("ipv4_dst", PRE_IPV4),
	[OFPXMT_OFB_TCP_SRC] = INT("tcp_src", 2, 16, false, PRE_TCP, false),
	[OFPXMT_OFB_TCP_DST] = INT("tcp_dst", 2, 16, false, PRE_TCP, false),
	[OFPXMT_OFB_UDP_SRC] = INT("udp_src", 2, 16, false, PRE_UDP, false),
	[OFPXMT_OFB_UDP_DST] = INT("udp_dst", 2, 16, false, PRE_UDP, false),
	[OFPXMT_OFB_SCTP_SRC] = INT("sctp_src", 2, 16, false, PRE_SCTP, false),
	[OFPXMT_OFB_SCTP_DST] = INT("sctp_dst", 2, 16, false, PRE_SCTP, false),
	[OFPXMT_OFB_ICMPV4_TYPE] = INT("icmpv4_type", 1, 8, false, PRE_ICMPV4, false),
	[OFPXMT_OFB_ICMPV4_CODE] = INT("icmpv4_code", 1, 8, false, PRE_ICMPV4, false),
	[OFPXMT_OFB_ARP_OP] = INT("arp_op", 2, 16, false, PRE_ARP, false),
	[OFPXMT_OFB_ARP_SPA] = IP4("arp_spa", PRE_ARP),
	[OFPXMT_OFB_ARP_TPA] = IP4("arp_tpa", PRE_ARP),
	[OFPXMT_OFB_ARP_SHA] = MAC("arp_sha", PRE_ARP),
	[OFPXMT_OFB_ARP_THA] = MAC("arp_tha", PRE_ARP),
	[OFPXMT_OFB_IPV6_SRC] = IP6("ipv6_src", true, PRE_IPV6),
	[OFPXMT_OFB_IPV6_DST] = IP6("ipv6_dst", true, PRE_IPV6),
	[OFPXMT_OFB_IPV6_FLABEL] = INT("ipv6_label", 4, 20, true, PRE_IPV6, true),
	[OFPXMT_OFB_ICMPV6_TYPE] = INT("icmpv6_type", 1, 8, false, PRE_ICMPV6, false),
	[OFPXMT_OFB_ICMPV6_CODE] = INT("icmpv6_code", 1, 8, false, PRE_ICMPV6, false),
	[OFPXMT_OFB_IPV6_ND_TARGET] = IP6("nd_target", false, PRE_ND_TARGET),
	[OFPXMT_OFB_IPV6_ND_SLL] = { { "nd_sll", 6, false }, OFA_KIND_MAC, 48, PRE_ND_SLL, false },
	[OFPXMT_OFB_IPV6_ND_TLL] = { { "nd_tll", 6, false }, OFA_KIND_MAC, 48, PRE_ND_TLL, false },
	[OFPXMT_OFB_MPLS_LABEL] = INT("mpls_label", 4, 20, false, PRE_MPLS, false),
	[OFPXMT_OFB_MPLS_TC] = INT("mpls_tc", 1, 3, false, PRE_MPLS, false),
	[OFPXMT_OFB_MPLS_BOS] = INT("mpls_bos", 1, 1, false, PRE_MPLS, false),
	[OFPXMT_OFB_PBB_ISID] = INT("pbb_isid", 3, 24, true, PRE_PBB, false),
	[OFPXMT_OFB_TUNNEL_ID] = INT("tunnel_id", 8, 64, true, PRE_NONE, true),
	[OFPXMT_OFB_IPV6_EXTHDR] = INT("ipv6_exthdr", 2, 9, true, PRE_IPV6, true),
};

const struct ofa_field_info *ofa_field_info(unsigned field)
{
	return field < OFA_N_FIELDS ? &ofa_fields[field].info : NULL;
}

static bool ofa_field_is_int(unsigned field)
{
	return ofa_fields[field].kind == OFA_KIND_INT || ofa_fields[field].kind == OFA_KIND_IPV4;
}

/* The mask of an exactly matched field. */
static void ofa_field_full_mask(unsigned field, union ofa_value *m)
{
	const struct ofa_field_desc *d = &ofa_fields[field];

	memset(m, 0, sizeof(*m));
	if (d->kind == OFA_KIND_INT || d->kind == OFA_KIND_IPV4)
		m->u64 = d->bits == 64 ? UINT64_MAX : (UINT64_C(1) << d->bits) - 1;
	else
		memset(m->ipv6, 0xff, d->info.len);
}

static bool ofa_value_is_full(unsigned field, const union ofa_value *mask)
{
	union ofa_value full;

	ofa_field_full_mask(field, &full);
	return memcmp(&full, mask, sizeof(full)) == 0;
}

/* ---- match object ---- */

void ofa_match_init(struct ofa_match *m)
{
	memset(m, 0, sizeof(*m));
}

int ofa_match_set_u64(struct ofa_match *m, unsigned field, uint64_t value, const uint64_t *mask)
{
	union ofa_value full;

	if (field >= OFA_N_FIELDS || !ofa_field_is_int(field))
		return -EINVAL;
	ofa_field_full_mask(field, &full);
	memset(&m->value[field], 0, sizeof(m->value[field]));
	memset(&m->mask[field], 0, sizeof(m->mask[field]));
	m->mask[field].u64 = (mask ? *mask : UINT64_MAX) & full.u64;
	m->value[field].u64 = value & m->mask[field].u64;
	m->present |= UINT64_C(1) << field;
	if (mask && m->mask[field].u64 != full.u64)
		m->masked |= UINT64_C(1) << field;
	else
		m->masked &= ~(UINT64_C(1) << field);
	return 0;
}

int ofa_match_set_bytes(struct ofa_match *m, unsigned field, const uint8_t *value,
			const uint8_t *mask)
{
	size_t n, i;

	if (field >= OFA_N_FIELDS || ofa_field_is_int(field))
		return -EINVAL;
	n = ofa_fields[field].info.len;
	memset(&m->value[field], 0, sizeof(m->value[field]));
	memset(&m->mask[field], 0, sizeof(m->mask[field]));
	for (i = 0; i < n; i++) {
		m->mask[field].ipv6[i] = mask ? mask[i] : 0xff;
		m->value[field].ipv6[i] = value[i] & m->mask[field].ipv6[i];
	}
	m->present |= UINT64_C(1) << field;
	if (mask && !ofa_value_is_full(field, &m->mask[field]))
		m->masked |= UINT64_C(1) << field;
	else
		m->masked &= ~(UINT64_C(1) << field);
	return 0;
}

bool ofa_match_equal(const struct ofa_match *a, const struct ofa_match *b)
{
	uint64_t bits = a->present;
	unsigned f;

	if (a->present != b->present)
		return false;
	for (; bits; bits &= bits - 1) {
		f = (unsigned)__builtin_ctzll(bits);
		if (memcmp(&a->value[f], &b->value[f], sizeof(a->value[f])) ||
		    memcmp(&a->mask[f], &b->mask[f], sizeof(a->mask[f])))
			return false;
	}
	return true;
}

bool ofa_match_covers(const struct ofa_match *wide, const struct ofa_match *narrow)
{
	uint64_t bits = wide->present;
	unsigned f;
	size_t i;

	if ((wide->present & narrow->present) != wide->present)
		return false;
	for (; bits; bits &= bits - 1) {
		const uint8_t *wv, *wm, *nv, *nm;

		f = (unsigned)__builtin_ctzll(bits);
		wv = (const uint8_t *)&wide->value[f];
		wm = (const uint8_t *)&wide->mask[f];
		nv = (const uint8_t *)&narrow->value[f];
		nm = (const uint8_t *)&narrow->mask[f];
		for (i = 0; i < sizeof(union ofa_value); i++)
			if ((nm[i] & wm[i]) != wm[i] || (nv[i] & wm[i]) != wv[i])
				return false;
	}
	return true;
}

/* ---- prerequisites ---- */

static bool ofa_exact_is(const struct ofa_match *m, unsigned field, uint64_t v)
{
	return ofa_match_has(m, field) && !(m->masked >> field & 1) && m->value[field].u64 == v;
}

static bool ofa_eth_is(const struct ofa_match *m, uint16_t t)
{
	return ofa_exact_is(m, OFPXMT_OFB_ETH_TYPE, t);
}

static bool ofa_ip_any(const struct ofa_match *m)
{
	return ofa_eth_is(m, 0x0800) || ofa_eth_is(m, 0x86dd);
}

static bool ofa_proto_is(const struct ofa_match *m, uint8_t proto)
{
	return ofa_ip_any(m) && ofa_exact_is(m, OFPXMT_OFB_IP_PROTO, proto);
}

static bool ofa_icmpv6_is(const struct ofa_match *m, uint8_t type)
{
	return ofa_proto_is(m, 58) && ofa_eth_is(m, 0x86dd) &&
	       ofa_exact_is(m, OFPXMT_OFB_ICMPV6_TYPE, type);
}

bool ofa_oxm_prereq_ok(const struct ofa_match *m, unsigned field)
{
	switch (ofa_fields[field].prereq) {
	case PRE_NONE:
		return true;
	case PRE_IN_PORT:
		return ofa_match_has(m, OFPXMT_OFB_IN_PORT);
	case PRE_VLAN:
		/* Any tagged packet: value and mask both carry OFPVID_PRESENT. */
		return ofa_match_has(m, OFPXMT_OFB_VLAN_VID) &&
		       (m->value[OFPXMT_OFB_VLAN_VID].u64 & OFPVID_PRESENT) &&
		       (m->mask[OFPXMT_OFB_VLAN_VID].u64 & OFPVID_PRESENT);
	case PRE_IP_ANY:
		return ofa_ip_any(m);
	case PRE_IPV4:
		return ofa_eth_is(m, 0x0800);
	case PRE_IPV6:
		return ofa_eth_is(m, 0x86dd);
	case PRE_ARP:
		return ofa_eth_is(m, 0x0806);
	case PRE_TCP:
		return ofa_proto_is(m, 6);
	case PRE_UDP:
		return ofa_proto_is(m, 17);
	case PRE_SCTP:
		return ofa_proto_is(m, 132);
	case PRE_ICMPV4:
		return ofa_eth_is(m, 0x0800) && ofa_proto_is(m, 1);
	case PRE_ICMPV6:
		return ofa_eth_is(m, 0x86dd) && ofa_proto_is(m, 58);
	case PRE_ND_TARGET:
		return ofa_icmpv6_is(m, 135) || ofa_icmpv6_is(m, 136);
	case PRE_ND_SLL:
		return ofa_icmpv6_is(m, 135);
	case PRE_ND_TLL:
		return ofa_icmpv6_is(m, 136);
	case PRE_MPLS:
		return ofa_eth_is(m, 0x8847) || ofa_eth_is(m, 0x8848);
	case PRE_PBB:
		return ofa_eth_is(m, 0x88e7);
	}
	return false;
}

int ofa_match_check_prereqs(const struct ofa_match *m)
{
	uint64_t bits;

	for (bits = m->present; bits; bits &= bits - 1)
		if (!ofa_oxm_prereq_ok(m, (unsigned)__builtin_ctzll(bits)))
			return ofa_err(OFPET_BAD_MATCH, OFPBMC_BAD_PREREQ);
	return 0;
}

/* ---- one TLV ---- */

static uint64_t ofa_get_uint(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void ofa_put_uint(uint8_t *p, size_t n, uint64_t v)
{
	while (n--) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

bool ofa_oxm_value_ok(unsigned field, const union ofa_value *v)
{
	union ofa_value full;

	if (!ofa_field_is_int(field))
		return true;
	ofa_field_full_mask(field, &full);
	return (v->u64 & ~full.u64) == 0;
}

int ofa_oxm_get(const uint8_t *p, size_t avail, unsigned *field, bool *hasmask,
		union ofa_value *v, union ofa_value *mask)
{
	const struct ofa_field_desc *d;
	uint32_t h;
	size_t len, n, i;
	const uint8_t *pv, *pm;

	if (avail < 4)
		return -EMSGSIZE;
	h = ofa_get32(p);
	len = ofp_oxm_length(h);
	if (len + 4 > avail)
		return -EMSGSIZE;
	if (ofp_oxm_class(h) == OFPXMC_EXPERIMENTER && len < 4)
		return -EMSGSIZE;
	if (ofp_oxm_class(h) != OFPXMC_OPENFLOW_BASIC || ofp_oxm_field(h) >= OFA_N_FIELDS)
		return -ENOENT;
	*field = ofp_oxm_field(h);
	*hasmask = ofp_oxm_hasmask(h);
	d = &ofa_fields[*field];
	n = d->info.len;
	if (len != (*hasmask ? 2 * n : n))
		return -EMSGSIZE;
	if (*hasmask && !d->info.maskable)
		return -EINVAL;
	pv = p + 4;
	pm = p + 4 + n;
	memset(v, 0, sizeof(*v));
	if (ofa_field_is_int(*field))
		v->u64 = ofa_get_uint(pv, n);
	else
		memcpy(v->ipv6, pv, n);
	if (!ofa_oxm_value_ok(*field, v))
		return -EDOM;
	if (!*hasmask) {
		ofa_field_full_mask(*field, mask);
		return (int)(len + 4);
	}
	memset(mask, 0, sizeof(*mask));
	if (ofa_field_is_int(*field)) {
		mask->u64 = ofa_get_uint(pm, n);
		if (!ofa_oxm_value_ok(*field, mask) || (v->u64 & ~mask->u64))
			return -EDOM;
	} else {
		memcpy(mask->ipv6, pm, n);
		for (i = 0; i < n; i++)
			if (v->ipv6[i] & ~mask->ipv6[i])
				return -EDOM;
	}
	return (int)(len + 4);
}

int ofa_oxm_put(struct ofa_buf *b, unsigned field, const union ofa_value *v,
		const union ofa_value *mask)
{
	const struct ofa_field_desc *d = &ofa_fields[field];
	size_t n = d->info.len;
	uint8_t *p = ofa_buf_put(b, NULL, 4 + (mask ? 2 * n : n));

	if (!p)
		return -ENOMEM;
	ofa_put32(p, ofp_oxm_header(OFPXMC_OPENFLOW_BASIC, (uint8_t)field, mask != NULL,
				    (uint8_t)(mask ? 2 * n : n)));
	if (ofa_field_is_int(field)) {
		ofa_put_uint(p + 4, n, v->u64);
		if (mask)
			ofa_put_uint(p + 4 + n, n, mask->u64);
	} else {
		memcpy(p + 4, v->ipv6, n);
		if (mask)
			memcpy(p + 4 + n, mask->ipv6, n);
	}
	return 0;
}

/* ---- whole match ---- */

static int ofa_oxm_match_err(int reason)
{
	switch (reason) {
	case -EMSGSIZE:
		return ofa_err(OFPET_BAD_MATCH, OFPBMC_BAD_LEN);
	case -ENOENT:
		return ofa_err(OFPET_BAD_MATCH, OFPBMC_BAD_FIELD);
	case -EINVAL:
		return ofa_err(OFPET_BAD_MATCH, OFPBMC_BAD_MASK);
	default:
		return ofa_err(OFPET_BAD_MATCH, OFPBMC_BAD_VALUE);
	}
}

int ofa_match_decode(const uint8_t *p, size_t avail, struct ofa_match *m, size_t *consumed)
{
	size_t len, off;
	unsigned field = 0;
	bool hasmask = false;
	union ofa_value v, mask;
	int n;

	ofa_match_init(m);
	if (avail < sizeof(struct ofp_match))
		return OFA_BAD_LEN;
	if (ofa_get16(p) != OFPMT_OXM)
		return ofa_err(OFPET_BAD_MATCH, OFPBMC_BAD_TYPE);
	len = ofa_get16(p + 2);
	if (len < 4)
		return ofa_err(OFPET_BAD_MATCH, OFPBMC_BAD_LEN);
	if (ofa_pad8(len) > avail)
		return OFA_BAD_LEN;
	for (off = 4; off < len; off += (size_t)n) {
		n = ofa_oxm_get(p + off, len - off, &field, &hasmask, &v, &mask);
		if (n < 0) {
			/* A value outside the mask is a wildcard error, not a bad
			 * value: the spec's OFPBMC_BAD_WILDCARDS. */
			if (n == -EDOM && hasmask && ofa_oxm_value_ok(field, &v))
				return ofa_err(OFPET_BAD_MATCH, OFPBMC_BAD_WILDCARDS);
			return ofa_oxm_match_err(n);
		}
		if (ofa_match_has(m, field))
			return ofa_err(OFPET_BAD_MATCH, OFPBMC_DUP_FIELD);
		m->present |= UINT64_C(1) << field;
		if (hasmask && !ofa_value_is_full(field, &mask))
			m->masked |= UINT64_C(1) << field;
		m->value[field] = v;
		m->mask[field] = mask;
	}
	*consumed = ofa_pad8(len);
	return ofa_match_check_prereqs(m);
}

int ofa_match_encode(const struct ofa_match *m, struct ofa_buf *b)
{
	size_t start = b->len;
	uint64_t bits;
	uint8_t *p;

	p = ofa_buf_put(b, NULL, 4);
	if (!p)
		return -ENOMEM;
	ofa_put16(p, OFPMT_OXM);
	/* Field-number order puts every prerequisite before its dependants. */
	for (bits = m->present; bits; bits &= bits - 1) {
		unsigned f = (unsigned)__builtin_ctzll(bits);
		bool masked = m->masked >> f & 1;

		if (ofa_oxm_put(b, f, &m->value[f], masked ? &m->mask[f] : NULL))
			return -ENOMEM;
	}
	ofa_put16(b->data + start + 2, (uint16_t)(b->len - start));
	return ofa_buf_pad8(b, start);
}

/* ---- formatting ---- */

static size_t ofa_fmt_value(char *buf, size_t len, unsigned f, const union ofa_value *v)
{
	const struct ofa_field_desc *d = &ofa_fields[f];
	char tmp[INET6_ADDRSTRLEN];
	struct in_addr a4;
	int n = 0;

	switch (d->kind) {
	case OFA_KIND_INT:
		n = snprintf(buf, len, d->hex ? "0x%llx" : "%llu", (unsigned long long)v->u64);
		break;
	case OFA_KIND_IPV4:
		a4.s_addr = htonl((uint32_t)v->u64);
		n = snprintf(buf, len, "%s", inet_ntop(AF_INET, &a4, tmp, sizeof(tmp)));
		break;
	case OFA_KIND_MAC:
		n = snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", v->mac[0], v->mac[1],
			     v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
		break;
	case OFA_KIND_IPV6:
		n = snprintf(buf, len, "%s", inet_ntop(AF_INET6, v->ipv6, tmp, sizeof(tmp)));
		break;
	}
	return n < 0 ? 0 : (size_t)n;
}

char *ofa_match_format(const struct ofa_match *m, char *buf, size_t len)
{
	size_t off = 0;
	uint64_t bits;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (bits = m->present; bits && off < len; bits &= bits - 1) {
		unsigned f = (unsigned)__builtin_ctzll(bits);
		int n = snprintf(buf + off, len - off, "%s%s=", off ? "," : "",
				 ofa_fields[f].info.name);

		if (n < 0)
			break;
		off += (size_t)n;
		if (off >= len)
			break;
		off += ofa_fmt_value(buf + off, len - off, f, &m->value[f]);
		if (off < len && (m->masked >> f & 1)) {
			buf[off++] = '/';
			if (off < len)
				off += ofa_fmt_value(buf + off, len - off, f, &m->mask[f]);
		}
	}
	buf[len - 1] = '\0';
	return buf;
}
