/* vxlan.h — VXLAN (RFC 7348) on the wire: the decapsulation parser, the
 * encapsulation header builder, the inner-flow hash for the UDP source port,
 * and the ARP codec a VTEP needs to resolve and answer for its underlay
 * address.
 *
 * Everything here is pure: no allocation, no state, no logging, no DPDK
 * object. The switch (vswitch/sw_vxlan.c) owns VTEPs, VNIs, remotes and
 * neighbours and calls these on its PMD threads; the decap parser is also the
 * target of tests/fuzz/fuzz_vxlan_decap.c.
 *
 * Byte order: IPv4 addresses and UDP ports are in network order (as on the
 * wire, compared as bytes); VNIs, lengths and offsets in host order.
 *
 * Underlay: untagged Ethernet + IPv4 (options allowed, checksum verified).
 * Outer header on transmit: 14 + 20 + 8 + 8 = 50 bytes; the IPv4 header has
 * DF set, ID 0 (RFC 6864: an atomic datagram needs no ID), the configured TTL
 * and a correct checksum; the UDP checksum is 0 (allowed for IPv4, RFC 7348
 * section 5, and what the Linux VXLAN device sends by default).
 */
#ifndef VXLAN_H
#define VXLAN_H

#include <stdbool.h>
#include <stdint.h>

enum {
	VX_UDP_PORT = 4789,          /* IANA */
	VX_HLEN = 8,                 /* the VXLAN header */
	VX_ETH_HLEN = 14,
	VX_IP_HLEN = 20,
	VX_UDP_HLEN = 8,
	VX_OUTER_LEN = 50,           /* Ethernet + IPv4 + UDP + VXLAN */
	VX_OVERHEAD = 50,            /* what the underlay MTU needs beyond the tenant's */
	VX_IP_OVERHEAD = 36,         /* IPv4 + UDP + VXLAN: an inner frame of N bytes makes
				      * an outer IPv4 datagram of N + 36 (<= underlay MTU) */
	VX_VNI_MAX = 0xffffff,
	VX_TTL_DEFAULT = 64,
	VX_ARP_LEN = 42,             /* Ethernet + ARP for IPv4 over Ethernet */
	VX_SPORT_MIN = 49152,        /* UDP source ports 49152-65535 (RFC 7348 5.) */
};

/* The first VXLAN word: flags (8 bits: only I = 0x08), 24 reserved bits. */
enum { VX_FLAG_I = 0x08000000u };

/* Why a frame received on an underlay port is not decapsulated. */
enum vx_drop {
	VX_DROP_TRUNCATED,       /* shorter than its Ethernet/IPv4/UDP/VXLAN headers */
	VX_DROP_NOT_IP,          /* neither IPv4 nor ARP (IPv6, LLDP, tagged...) */
	VX_DROP_IP_HEADER,       /* bad version, IHL, total length or header checksum */
	VX_DROP_DST_IP,          /* IPv4 not addressed to the local VTEP */
	VX_DROP_FRAGMENT,        /* an IPv4 fragment (VXLAN is never fragmented here) */
	VX_DROP_NOT_UDP,         /* to the VTEP but not UDP */
	VX_DROP_UDP_PORT,        /* UDP to another destination port */
	VX_DROP_UDP_LENGTH,      /* UDP length shorter than its headers or beyond the datagram */
	VX_DROP_I_FLAG,          /* VXLAN I flag clear */
	VX_DROP_RESERVED,        /* reserved flag or field bits set (as Linux: refused) */
	VX_DROP_UNKNOWN_VNI,     /* no segment for this VNI (decided by the switch) */
	VX_DROP_INNER,           /* inner frame shorter than an Ethernet header */
	VX_DROP_ARP,             /* ARP not for the VTEP, or malformed */
	VX_DROP_MTU,             /* encap: the frame would exceed the underlay MTU */
	VX_DROP_NO_NEIGHBOR,     /* encap: next hop MAC unresolved (and the queue full) */
	VX_DROP_NO_REMOTE,       /* encap: no remote VTEP for the VNI */
	VX_DROP_NOMEM,           /* encap: no mbuf for a copy */
	VX_DROP_UNDERLAY,        /* encap: underlay port missing or down */
	VX_DROP_N,
};

const char *vx_drop_name(enum vx_drop d);

/* What vx_decap_parse() found. */
enum vx_rx {
	VX_RX_VXLAN,             /* a VXLAN datagram for the VTEP: *info is filled */
	VX_RX_ARP,               /* an ARP frame: decode it with vx_arp_parse() */
	VX_RX_DROP,              /* info->drop says why */
};

struct vx_decap_info {
	uint32_t vni;
	uint32_t src_ip, dst_ip;     /* outer, network order */
	uint16_t src_port;           /* outer UDP source port, network order */
	uint16_t inner_ofs;          /* offset of the inner Ethernet header */
	uint16_t inner_len;          /* its length (UDP length - 16; padding excluded) */
	uint8_t ttl;
	enum vx_drop drop;           /* VX_RX_DROP only */
};

/* Classifies `len` bytes at `data`, a frame received on the underlay of a VTEP
 * whose address is `local_ip` and UDP port `udp_port` (both network order).
 * Checks, in order: Ethernet, IPv4 header (version, IHL, total length against
 * the frame, checksum), destination = local_ip, not a fragment, UDP, the UDP
 * destination port, the UDP length against the datagram, then the VXLAN
 * header (I flag set, reserved bits clear) and an inner Ethernet header.
 * Never reads outside [data, data+len). The VNI is not checked here. */
enum vx_rx vx_decap_parse(const void *data, uint32_t len, uint32_t local_ip, uint16_t udp_port,
			  struct vx_decap_info *info);

/* Outer headers as a template: vx_encap_init() once per (VTEP, remote, VNI,
 * next-hop MAC), vx_encap_write() per packet, which copies the 50 bytes and
 * patches only the lengths, the IPv4 checksum (from the sum precomputed
 * here: the template's sum plus tot_len) and the UDP source port. */
struct vx_encap_tmpl {
	uint8_t hdr[VX_OUTER_LEN];   /* lengths, checksum and source port zero */
	uint16_t csum_base;          /* folded one's complement sum of the IPv4 header
				      * without tot_len (host order) */
	uint32_t spare;              /* free for the user (the switch keeps a tag here) */
};

/* Offsets in the outer header of the fields a user may want to compare. */
enum {
	VX_OFS_IP_DST = VX_ETH_HLEN + 16,                          /* 30 */
	VX_OFS_VNI = VX_ETH_HLEN + VX_IP_HLEN + VX_UDP_HLEN + 4,   /* 46: VNI << 8, big endian */
};

void vx_encap_init(struct vx_encap_tmpl *t, const uint8_t dst_mac[6], const uint8_t src_mac[6],
		   uint32_t src_ip, uint32_t dst_ip, uint16_t udp_port, uint8_t ttl, uint32_t vni);

/* Writes the 50 outer bytes at dst for an inner frame of inner_len bytes
 * (at most 65535 - 36) with UDP source port src_port (host order). */
static inline void vx_encap_write(void *dst, const struct vx_encap_tmpl *t, uint32_t inner_len,
				  uint16_t src_port)
{
	uint8_t *h = (uint8_t *)dst;
	uint16_t tot = (uint16_t)(inner_len + VX_IP_OVERHEAD);
	uint32_t s = (uint32_t)t->csum_base + tot;
	uint16_t w;

	__builtin_memcpy(h, t->hdr, VX_OUTER_LEN);
	s = (s & 0xffff) + (s >> 16);          /* both <= 0xffff: one carry at most */
	w = __builtin_bswap16(tot);
	__builtin_memcpy(h + VX_ETH_HLEN + 2, &w, 2);
	w = __builtin_bswap16((uint16_t)~s);
	__builtin_memcpy(h + VX_ETH_HLEN + 10, &w, 2);
	w = __builtin_bswap16(src_port);
	__builtin_memcpy(h + VX_ETH_HLEN + VX_IP_HLEN, &w, 2);
	w = __builtin_bswap16((uint16_t)(tot - VX_IP_HLEN));
	__builtin_memcpy(h + VX_ETH_HLEN + VX_IP_HLEN + 4, &w, 2);
}

/* A hash of the inner frame's flow (Ethernet addresses and type; IPv4
 * addresses, protocol and TCP/UDP ports when present) mapped into the UDP
 * source port range 49152-65535, so ECMP in the underlay spreads tenants'
 * flows while each flow stays on one path. */
uint16_t vx_flow_src_port(const void *inner, uint32_t len);

/* IPv4 header checksum (network-order result as stored in the header). */
uint16_t vx_ip_csum(const void *hdr, uint32_t hlen);

/* ARP for IPv4 over Ethernet. */
enum { VX_ARP_REQUEST = 1, VX_ARP_REPLY = 2 };

struct vx_arp {
	uint16_t op;
	uint8_t sha[6], tha[6];
	uint32_t spa, tpa;           /* network order */
};

/* Decodes an untagged Ethernet ARP frame. Returns 0, or -EINVAL when it is
 * not Ethernet/IPv4 ARP or is truncated. */
int vx_arp_parse(const void *data, uint32_t len, struct vx_arp *a);
/* Writes a 42-byte ARP frame (eth dst, eth src = sha). */
void vx_arp_build(void *buf, const uint8_t eth_dst[6], const struct vx_arp *a);

/* "a.b.c.d" → network order; -EINVAL when not a dotted quad. */
int vx_ip_parse(const char *s, uint32_t *ip);
/* network order → "a.b.c.d" into buf (at least 16 bytes). */
const char *vx_ip_format(uint32_t ip, char *buf);

#endif /* VXLAN_H */
