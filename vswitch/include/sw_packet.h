/* sw_packet.h — packet parsing into a flow key.
 *
 * Every frame a PMD receives is parsed once into a struct sw_flow_key; later
 * stages (today the NORMAL bridge, later the OpenFlow classifier) look only at
 * the key. The parser is pure: no allocation, no state, no logging, so it is
 * safe on any thread and is the target of tests/fuzz/fuzz_packet.c.
 *
 * Untrusted input: every length is checked against the bytes given. A frame
 * too short for its Ethernet header or its VLAN tags cannot be switched and is
 * refused; anything wrong above L2 (truncated or bad IPv4/IPv6/L4 headers, bad
 * IHL) leaves the L2 part of the key valid, marks the problem in key->flags and
 * stops parsing there, so the bridge still forwards the frame and the PMD
 * counts the anomaly.
 *
 * Byte order: addresses and ports are kept in network order (as on the wire,
 * so OpenFlow matches compare bytes); dl_type, vlan_tci and offsets are in host
 * order.
 */
#ifndef SW_PACKET_H
#define SW_PACKET_H

#include <stdbool.h>
#include <stdint.h>

enum {
	SW_ETH_ALEN = 6,
	SW_ETH_HLEN = 14,
	SW_VLAN_HLEN = 4,
	SW_ETH_MIN_FRAME = 14,      /* shorter is a runt: refused */
	SW_MAX_VLAN_TAGS = 2,       /* outer (802.1Q or 802.1ad) and one inner 802.1Q */
};

enum {
	SW_ETH_TYPE_IPV4 = 0x0800,
	SW_ETH_TYPE_ARP = 0x0806,
	SW_ETH_TYPE_VLAN = 0x8100,
	SW_ETH_TYPE_QINQ = 0x88a8,
	SW_ETH_TYPE_IPV6 = 0x86dd,
};

/* vlan_tci as in OpenFlow: PCP(3) | CFI/present(1) | VID(12). SW_VLAN_PRESENT is
 * set when the frame carried a tag, so VID 0 (priority tag) is distinguishable
 * from "untagged". */
enum {
	SW_VLAN_VID_MASK = 0x0fff,
	SW_VLAN_PRESENT = 0x1000,
	SW_VLAN_PCP_SHIFT = 13,
};

/* key->flags: what the parser found wrong above L2 (the frame is still valid at L2). */
enum sw_key_flags {
	SW_KEY_F_L3_TRUNC = 1u << 0,   /* IPv4/IPv6/ARP header truncated */
	SW_KEY_F_L3_BAD = 1u << 1,     /* bad IPv4 version/IHL/total length, IPv6 version */
	SW_KEY_F_L4_TRUNC = 1u << 2,   /* TCP/UDP/SCTP/ICMP header truncated */
	SW_KEY_F_FRAG = 1u << 3,       /* IP fragment: L4 present only in the first */
	SW_KEY_F_LATER_FRAG = 1u << 4, /* not the first fragment: no L4 fields */
	SW_KEY_F_VLAN_DEEP = 1u << 5,  /* more tags than SW_MAX_VLAN_TAGS: L3 not parsed */
};

/* Every member is set by sw_packet_parse() (fields absent in the frame are 0). */
struct sw_flow_key {
	uint16_t in_port;                /* OpenFlow port number of the ingress port */
	uint16_t dl_type;                /* ethertype after the VLAN tags */
	uint8_t dl_dst[SW_ETH_ALEN];
	uint8_t dl_src[SW_ETH_ALEN];
	uint16_t vlan_tci;               /* outer tag, SW_VLAN_PRESENT when tagged */
	uint16_t vlan_tpid;              /* 0x8100 or 0x88a8 when tagged */
	uint16_t cvlan_tci;              /* inner 802.1Q tag under an outer one */
	uint8_t n_vlans;                 /* tags parsed (0..SW_MAX_VLAN_TAGS) */
	uint8_t nw_proto;                /* IP protocol / next header; ARP: opcode low byte */
	uint8_t nw_tos;                  /* DSCP + ECN */
	uint8_t nw_ttl;
	uint16_t flags;                  /* enum sw_key_flags */
	uint16_t l3_ofs;                 /* offset of the L3 header (after tags) */
	uint16_t l4_ofs;                 /* offset of the L4 header; 0 when none */
	uint16_t arp_op;                 /* host order */
	uint32_t nw_src, nw_dst;         /* IPv4 or ARP spa/tpa, network order */
	uint8_t ipv6_src[16], ipv6_dst[16];
	uint8_t arp_sha[SW_ETH_ALEN], arp_tha[SW_ETH_ALEN];
	uint16_t tp_src, tp_dst;         /* L4 ports (network order); ICMP: type, code */
	uint32_t pad_;                   /* zero: keys are compared and hashed as 64-bit words */
	uint64_t metadata;               /* OpenFlow pipeline metadata (0 from the parser) */
	uint64_t tunnel_id;              /* VNI of a decapsulated frame (0 from the parser) */
};
_Static_assert(sizeof(struct sw_flow_key) % 16 == 0, "flow key is whole 16-byte words");

/* A key's 16-byte words, for code that zeroes or compares whole keys with
 * vector instructions (GCC's -O2 leaves word loops scalar). */
typedef uint64_t sw_key_vec __attribute__((vector_size(16), may_alias, aligned(8)));
enum { SW_KEY_VECS = sizeof(struct sw_flow_key) / sizeof(sw_key_vec) };

/* Parses `len` bytes of the frame at `data` (contiguous: the first mbuf
 * segment) into *key. Returns 0 when the L2 header (and every VLAN tag) is
 * complete, else -EINVAL (runt or truncated tag: the frame must be dropped).
 * Never reads outside [data, data+len). */
int sw_packet_parse(const void *data, uint32_t len, uint16_t in_port, struct sw_flow_key *key);

static inline bool sw_eth_addr_is_multicast(const uint8_t *mac)
{
	return mac[0] & 1;   /* includes broadcast */
}

static inline bool sw_eth_addr_is_zero(const uint8_t *mac)
{
	return !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

static inline uint16_t sw_vlan_vid(uint16_t tci)
{
	return tci & SW_VLAN_VID_MASK;
}

#endif /* SW_PACKET_H */
