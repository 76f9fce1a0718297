/* sw_packet.c — frame → struct sw_flow_key. See sw_packet.h.
 *
 * The parser walks a cursor (p, left) and checks `left` before every header
 * read; headers are copied out with memcpy because frames carry no alignment
 * promise (an odd number of VLAN tags shifts IPv4 by 2 bytes on some PMDs).
 */
#include <errno.h>
#include <string.h>

#include "sw_packet.h"

struct sw_eth_hdr {
	uint8_t dst[SW_ETH_ALEN];
	uint8_t src[SW_ETH_ALEN];
	uint16_t type;                 /* be */
} __attribute__((packed));
_Static_assert(sizeof(struct sw_eth_hdr) == SW_ETH_HLEN, "ethernet header");

struct sw_vlan_hdr {
	uint16_t tci;                  /* be */
	uint16_t type;                 /* be: the next ethertype */
} __attribute__((packed));
_Static_assert(sizeof(struct sw_vlan_hdr) == SW_VLAN_HLEN, "vlan header");

struct sw_ipv4_hdr {
	uint8_t ver_ihl;
	uint8_t tos;
	uint16_t tot_len;
	uint16_t id;
	uint16_t frag_off;             /* flags(3) | offset(13), be */
	uint8_t ttl;
	uint8_t proto;
	uint16_t csum;
	uint32_t src, dst;
} __attribute__((packed));
_Static_assert(sizeof(struct sw_ipv4_hdr) == 20, "ipv4 header");

struct sw_ipv6_hdr {
	uint32_t vtc_flow;             /* version(4) | traffic class(8) | flow label(20), be */
	uint16_t payload_len;
	uint8_t next;
	uint8_t hop_limit;
	uint8_t src[16], dst[16];
} __attribute__((packed));
_Static_assert(sizeof(struct sw_ipv6_hdr) == 40, "ipv6 header");

struct sw_ipv6_ext {
	uint8_t next;
	uint8_t len;                   /* in 8-byte units, not counting the first 8 */
} __attribute__((packed));

struct sw_ipv6_frag {
	uint8_t next;
	uint8_t reserved;
	uint16_t off_flags;            /* offset(13) | res(2) | M(1), be */
	uint32_t id;
} __attribute__((packed));
_Static_assert(sizeof(struct sw_ipv6_frag) == 8, "ipv6 fragment header");

struct sw_arp_eth_ipv4 {
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[SW_ETH_ALEN];
	uint32_t spa;
	uint8_t tha[SW_ETH_ALEN];
	uint32_t tpa;
} __attribute__((packed));
_Static_assert(sizeof(struct sw_arp_eth_ipv4) == 28, "arp header");

enum {
	IPPROTO_HOPOPTS_ = 0, IPPROTO_ICMP_ = 1, IPPROTO_TCP_ = 6, IPPROTO_UDP_ = 17,
	IPPROTO_ROUTING_ = 43, IPPROTO_FRAGMENT_ = 44, IPPROTO_ICMPV6_ = 58,
	IPPROTO_DSTOPTS_ = 60, IPPROTO_SCTP_ = 132,
	IPV6_MAX_EXT_HDRS = 8,          /* bound on the extension-header walk */
	TCP_MIN_HLEN = 20, UDP_HLEN = 8, SCTP_HLEN = 12, ICMP_MIN_HLEN = 4,
};

static inline uint16_t be16(uint16_t v)
{
	return __builtin_bswap16(v);
}

static void parse_l4(const uint8_t *p, uint32_t left, struct sw_flow_key *key)
{
	uint32_t need;

	switch (key->nw_proto) {
	case IPPROTO_TCP_: need = TCP_MIN_HLEN; break;
	case IPPROTO_UDP_: need = UDP_HLEN; break;
	case IPPROTO_SCTP_: need = SCTP_HLEN; break;
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_: need = ICMP_MIN_HLEN; break;
	default: return;
	}
	if (left < need) {
		key->flags |= SW_KEY_F_L4_TRUNC;
		return;
	}
	if (key->nw_proto == IPPROTO_ICMP_ || key->nw_proto == IPPROTO_ICMPV6_) {
		/* OpenFlow convention: type and code ride in the port fields. */
		key->tp_src = p[0];
		key->tp_dst = p[1];
	} else {
		memcpy(&key->tp_src, p, 2);
		memcpy(&key->tp_dst, p + 2, 2);
	}
}

static void parse_ipv4(const uint8_t *p, uint32_t left, struct sw_flow_key *key)
{
	struct sw_ipv4_hdr ip;
	uint32_t ihl, tot;
	uint16_t frag;

	if (left < sizeof(ip)) {
		key->flags |= SW_KEY_F_L3_TRUNC;
		return;
	}
	memcpy(&ip, p, sizeof(ip));
	ihl = (ip.ver_ihl & 0x0f) * 4u;
	tot = be16(ip.tot_len);
	if ((ip.ver_ihl >> 4) != 4 || ihl < sizeof(ip) || tot < ihl) {
		key->flags |= SW_KEY_F_L3_BAD;
		return;
	}
	if (left < ihl) {
		key->flags |= SW_KEY_F_L3_TRUNC;
		return;
	}
	key->nw_src = ip.src;
	key->nw_dst = ip.dst;
	key->nw_proto = ip.proto;
	key->nw_tos = ip.tos;
	key->nw_ttl = ip.ttl;
	frag = be16(ip.frag_off);
	if (frag & 0x3fff) {               /* MF set or a non-zero offset */
		key->flags |= SW_KEY_F_FRAG;
		if (frag & 0x1fff) {
			key->flags |= SW_KEY_F_LATER_FRAG;
			return;
		}
	}
	/* Padding after the datagram (Ethernet minimum frame) is not L4 payload. */
	if (tot < left)
		left = tot;
	key->l4_ofs = (uint16_t)(key->l3_ofs + ihl);
	parse_l4(p + ihl, left - ihl, key);
}

static void parse_ipv6(const uint8_t *p, uint32_t left, struct sw_flow_key *key)
{
	struct sw_ipv6_hdr ip;
	uint32_t vtc, ofs = sizeof(ip);
	uint8_t next;

	if (left < sizeof(ip)) {
		key->flags |= SW_KEY_F_L3_TRUNC;
		return;
	}
	memcpy(&ip, p, sizeof(ip));
	vtc = __builtin_bswap32(ip.vtc_flow);
	if ((vtc >> 28) != 6) {
		key->flags |= SW_KEY_F_L3_BAD;
		return;
	}
	memcpy(key->ipv6_src, ip.src, 16);
	memcpy(key->ipv6_dst, ip.dst, 16);
	key->nw_tos = (uint8_t)(vtc >> 20);
	key->nw_ttl = ip.hop_limit;
	next = ip.next;
	for (int i = 0; i < IPV6_MAX_EXT_HDRS; i++) {
		if (next == IPPROTO_HOPOPTS_ || next == IPPROTO_ROUTING_ || next == IPPROTO_DSTOPTS_) {
			struct sw_ipv6_ext ext;

			if (left - ofs < sizeof(ext)) {
				key->flags |= SW_KEY_F_L3_TRUNC;
				return;
			}
			memcpy(&ext, p + ofs, sizeof(ext));
			if (left - ofs < (ext.len + 1u) * 8u) {
				key->flags |= SW_KEY_F_L3_TRUNC;
				return;
			}
			ofs += (ext.len + 1u) * 8u;
			next = ext.next;
		} else if (next == IPPROTO_FRAGMENT_) {
			struct sw_ipv6_frag fh;
			uint16_t off;

			if (left - ofs < sizeof(fh)) {
				key->flags |= SW_KEY_F_L3_TRUNC;
				return;
			}
			memcpy(&fh, p + ofs, sizeof(fh));
			off = be16(fh.off_flags);
			key->flags |= SW_KEY_F_FRAG;
			ofs += sizeof(fh);
			next = fh.next;
			if (off & 0xfff8) {
				key->nw_proto = next;
				key->flags |= SW_KEY_F_LATER_FRAG;
				return;
			}
		} else {
			break;
		}
	}
	key->nw_proto = next;
	key->l4_ofs = (uint16_t)(key->l3_ofs + ofs);
	parse_l4(p + ofs, left - ofs, key);
}

static void parse_arp(const uint8_t *p, uint32_t left, struct sw_flow_key *key)
{
	struct sw_arp_eth_ipv4 arp;

	if (left < sizeof(arp)) {
		key->flags |= SW_KEY_F_L3_TRUNC;
		return;
	}
	memcpy(&arp, p, sizeof(arp));
	/* Only Ethernet/IPv4 ARP carries the fields OpenFlow matches. */
	if (be16(arp.htype) != 1 || be16(arp.ptype) != SW_ETH_TYPE_IPV4 || arp.hlen != 6 ||
	    arp.plen != 4) {
		key->flags |= SW_KEY_F_L3_BAD;
		return;
	}
	key->arp_op = be16(arp.op);
	key->nw_proto = (uint8_t)key->arp_op;
	key->nw_src = arp.spa;
	key->nw_dst = arp.tpa;
	memcpy(key->arp_sha, arp.sha, SW_ETH_ALEN);
	memcpy(key->arp_tha, arp.tha, SW_ETH_ALEN);
}

/* memset() of a 112-byte key compiles to `rep stos`, whose start-up cost
 * was half of the parser's time (perf annotate, scenario 1): 16-byte stores
 * instead, unrolled before GCC's loop distribution could turn them back into
 * a memset (check with objdump after compiler upgrades). */
static inline void key_zero(struct sw_flow_key *key)
{
	sw_key_vec *w = (sw_key_vec *)(void *)key;
	const sw_key_vec zero = { 0, 0 };

#pragma GCC unroll 16
	for (unsigned i = 0; i < SW_KEY_VECS; i++)
		w[i] = zero;
}

int sw_packet_parse(const void *data, uint32_t len, uint16_t in_port, struct sw_flow_key *key)
{
	const uint8_t *p = data;
	struct sw_eth_hdr eth;
	uint32_t ofs = SW_ETH_HLEN;
	uint16_t type;

	key_zero(key);
	key->in_port = in_port;
	if (len < SW_ETH_MIN_FRAME)
		return -EINVAL;
	memcpy(&eth, p, sizeof(eth));
	memcpy(key->dl_dst, eth.dst, SW_ETH_ALEN);
	memcpy(key->dl_src, eth.src, SW_ETH_ALEN);
	type = be16(eth.type);

	/* Outer tag: 802.1Q or 802.1ad; inner: 802.1Q only. */
	while (type == SW_ETH_TYPE_VLAN || (type == SW_ETH_TYPE_QINQ && key->n_vlans == 0)) {
		struct sw_vlan_hdr vh;

		if (key->n_vlans == SW_MAX_VLAN_TAGS) {
			key->flags |= SW_KEY_F_VLAN_DEEP;
			break;
		}
		if (len - ofs < SW_VLAN_HLEN)
			return -EINVAL;
		memcpy(&vh, p + ofs, sizeof(vh));
		if (key->n_vlans == 0) {
			key->vlan_tpid = type;
			key->vlan_tci = (uint16_t)(be16(vh.tci) | SW_VLAN_PRESENT);
		} else {
			key->cvlan_tci = (uint16_t)(be16(vh.tci) | SW_VLAN_PRESENT);
		}
		key->n_vlans++;
		ofs += SW_VLAN_HLEN;
		type = be16(vh.type);
	}
	key->dl_type = type;
	key->l3_ofs = (uint16_t)ofs;
	if (key->flags & SW_KEY_F_VLAN_DEEP)
		return 0;

	switch (type) {
	case SW_ETH_TYPE_IPV4: parse_ipv4(p + ofs, len - ofs, key); break;
	case SW_ETH_TYPE_IPV6: parse_ipv6(p + ofs, len - ofs, key); break;
	case SW_ETH_TYPE_ARP: parse_arp(p + ofs, len - ofs, key); break;
	default: break;
	}
	return 0;
}
