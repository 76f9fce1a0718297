/* vx_proto.c — VXLAN wire format: decap parser, encap header, flow hash, ARP.
 * See vxlan.h. Every read is bounds-checked against the length given; the
 * code never assumes alignment (memcpy for every multi-byte field).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include <rte_branch_prediction.h>
#include <rte_hash_crc.h>

#include "vxlan.h"

static const char *const drop_names[VX_DROP_N] = {
	[VX_DROP_TRUNCATED] = "truncated",
	[VX_DROP_NOT_IP] = "not_ip",
	[VX_DROP_IP_HEADER] = "ip_header",
	[VX_DROP_DST_IP] = "dst_ip",
	[VX_DROP_FRAGMENT] = "fragment",
	[VX_DROP_NOT_UDP] = "not_udp",
	[VX_DROP_UDP_PORT] = "udp_port",
	[VX_DROP_UDP_LENGTH] = "udp_length",
	[VX_DROP_I_FLAG] = "i_flag",
	[VX_DROP_RESERVED] = "reserved",
	[VX_DROP_UNKNOWN_VNI] = "unknown_vni",
	[VX_DROP_INNER] = "inner",
	[VX_DROP_ARP] = "arp",
	[VX_DROP_MTU] = "mtu",
	[VX_DROP_NO_NEIGHBOR] = "no_neighbor",
	[VX_DROP_NO_REMOTE] = "no_remote",
	[VX_DROP_NOMEM] = "nomem",
	[VX_DROP_UNDERLAY] = "underlay",
};

const char *vx_drop_name(enum vx_drop d)
{
	return (unsigned)d < VX_DROP_N ? drop_names[d] : "?";
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += rd16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The folded one's complement sum of an IPv4 header (hlen a multiple of 4,
 * as IHL makes it) in 32-bit words: byte order does not matter for a check
 * that the sum is 0xffff. */
static inline uint32_t csum_hdr_words(const uint8_t *p, uint32_t hlen)
{
	uint64_t s = 0;
	uint32_t w[5];

	if (hlen == VX_IP_HLEN) {
		/* No options (every VTEP we know of): five loads, no loop. */
		memcpy(w, p, sizeof(w));
		s = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
	} else {
		for (uint32_t i = 0; i < hlen; i += 4) {
			memcpy(w, p + i, 4);
			s += w[0];
		}
	}
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint32_t)((s & 0xffff) + (s >> 16));
}

uint16_t vx_ip_csum(const void *hdr, uint32_t hlen)
{
	return htons(csum_fold(csum_add(0, hdr, hlen)));
}

static enum vx_rx drop(struct vx_decap_info *info, enum vx_drop d)
{
	info->drop = d;
	return VX_RX_DROP;
}

enum vx_rx vx_decap_parse(const void *data, uint32_t len, uint32_t local_ip, uint16_t udp_port,
			  struct vx_decap_info *info)
{
	const uint8_t *p = data, *ip, *udp, *vx;
	uint32_t ihl, tot, udp_len, w0, w1;
	uint16_t type, frag;

	/* The common case first, branch-free: an IPv4 header without options,
	 * a VXLAN datagram for us with an inner Ethernet header. Anything this
	 * refuses takes the checks below, one by one, for the reason. */
	if (likely(len >= VX_OUTER_LEN + VX_ETH_HLEN)) {
		uint16_t type16, tot16, frag16, dport, ulen16, sport;
		uint32_t dst, src, vw0, vw1, t, u;
		bool ok;

		memcpy(&type16, p + 12, 2);
		memcpy(&tot16, p + 16, 2);
		memcpy(&frag16, p + 20, 2);
		memcpy(&src, p + 26, 4);
		memcpy(&dst, p + 30, 4);
		memcpy(&sport, p + 34, 2);
		memcpy(&dport, p + 36, 2);
		memcpy(&ulen16, p + 38, 2);
		memcpy(&vw0, p + 42, 4);
		memcpy(&vw1, p + 46, 4);
		t = __builtin_bswap16(tot16);
		u = __builtin_bswap16(ulen16);
		ok = (type16 == htons(0x0800)) & (p[14] == 0x45) & (p[23] == 17) &
		     (t >= VX_IP_HLEN + VX_UDP_HLEN + VX_HLEN + VX_ETH_HLEN) & (t <= len - VX_ETH_HLEN) &
		     ((frag16 & htons(0x3fff)) == 0) & (dst == local_ip) & (dport == udp_port) &
		     (u >= VX_UDP_HLEN + VX_HLEN + VX_ETH_HLEN) & (u <= t - VX_IP_HLEN) &
		     (vw0 == htonl(VX_FLAG_I)) & ((vw1 & htonl(0xff)) == 0);
		if (likely(ok && csum_hdr_words(p + VX_ETH_HLEN, VX_IP_HLEN) == 0xffff)) {
			*info = (struct vx_decap_info){
				.vni = ntohl(vw1) >> 8,
				.src_ip = src,
				.dst_ip = dst,
				.src_port = sport,
				.inner_ofs = VX_OUTER_LEN,
				.inner_len = (uint16_t)(u - VX_UDP_HLEN - VX_HLEN),
				.ttl = p[22],
			};
			return VX_RX_VXLAN;
		}
	}
	memset(info, 0, sizeof(*info));
	if (len < VX_ETH_HLEN)
		return drop(info, VX_DROP_TRUNCATED);
	type = rd16(p + 12);
	if (type == 0x0806)
		return VX_RX_ARP;
	if (type != 0x0800)
		return drop(info, VX_DROP_NOT_IP);
	ip = p + VX_ETH_HLEN;
	if (len < VX_ETH_HLEN + VX_IP_HLEN)
		return drop(info, VX_DROP_TRUNCATED);
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if (ip[0] >> 4 != 4 || ihl < VX_IP_HLEN)
		return drop(info, VX_DROP_IP_HEADER);
	if (len < VX_ETH_HLEN + ihl)
		return drop(info, VX_DROP_TRUNCATED);
	tot = rd16(ip + 2);
	if (tot < ihl || tot > len - VX_ETH_HLEN)
		return drop(info, VX_DROP_IP_HEADER);
	if (csum_hdr_words(ip, ihl) != 0xffff)
		return drop(info, VX_DROP_IP_HEADER);
	memcpy(&info->src_ip, ip + 12, 4);
	memcpy(&info->dst_ip, ip + 16, 4);
	info->ttl = ip[8];
	if (info->dst_ip != local_ip)
		return drop(info, VX_DROP_DST_IP);
	frag = rd16(ip + 6);
	if (frag & 0x3fff)               /* MF or a fragment offset */
		return drop(info, VX_DROP_FRAGMENT);
	if (ip[9] != 17)
		return drop(info, VX_DROP_NOT_UDP);
	if (tot < ihl + VX_UDP_HLEN)
		return drop(info, VX_DROP_TRUNCATED);
	udp = ip + ihl;
	if (memcmp(udp + 2, &udp_port, 2))
		return drop(info, VX_DROP_UDP_PORT);
	memcpy(&info->src_port, udp, 2);
	udp_len = rd16(udp + 4);
	if (udp_len > tot - ihl || udp_len < VX_UDP_HLEN)
		return drop(info, VX_DROP_UDP_LENGTH);
	if (udp_len < VX_UDP_HLEN + VX_HLEN)
		return drop(info, VX_DROP_TRUNCATED);
	vx = udp + VX_UDP_HLEN;
	w0 = rd32(vx);
	w1 = rd32(vx + 4);
	if (!(w0 & VX_FLAG_I))
		return drop(info, VX_DROP_I_FLAG);
	if ((w0 & ~VX_FLAG_I) || (w1 & 0xff))
		return drop(info, VX_DROP_RESERVED);
	info->vni = w1 >> 8;
	if (udp_len - VX_UDP_HLEN - VX_HLEN < VX_ETH_HLEN)
		return drop(info, VX_DROP_INNER);
	info->inner_ofs = (uint16_t)(VX_ETH_HLEN + ihl + VX_UDP_HLEN + VX_HLEN);
	info->inner_len = (uint16_t)(udp_len - VX_UDP_HLEN - VX_HLEN);
	return VX_RX_VXLAN;
}

void vx_encap_init(struct vx_encap_tmpl *t, const uint8_t dst_mac[6], const uint8_t src_mac[6],
		   uint32_t src_ip, uint32_t dst_ip, uint16_t udp_port, uint8_t ttl, uint32_t vni)
{
	uint8_t *h = t->hdr, *ip = h + VX_ETH_HLEN, *udp = ip + VX_IP_HLEN, *vx = udp + VX_UDP_HLEN;
	uint32_t sum;

	memset(t, 0, sizeof(*t));
	memcpy(h, dst_mac, 6);
	memcpy(h + 6, src_mac, 6);
	wr16(h + 12, 0x0800);
	ip[0] = 0x45;
	wr16(ip + 6, 0x4000);            /* DF */
	ip[8] = ttl;
	ip[9] = 17;
	memcpy(ip + 12, &src_ip, 4);
	memcpy(ip + 16, &dst_ip, 4);
	memcpy(udp + 2, &udp_port, 2);
	wr32(vx, VX_FLAG_I);
	wr32(vx + 4, (vni & VX_VNI_MAX) << 8);
	/* tot_len and checksum are zero here: the sum covers the rest. */
	sum = csum_add(0, ip, VX_IP_HLEN);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	t->csum_base = (uint16_t)sum;
}

/* CRC32-C (one instruction per word with SSE4.2) over the flow fields, then
 * folded into the port range. Fields are read with memcpy: no alignment is
 * assumed. */
uint16_t vx_flow_src_port(const void *inner, uint32_t len)
{
	const uint8_t *p = inner;
	uint64_t macs;
	uint32_t h, w;

	if (len < VX_ETH_HLEN)
		return VX_SPORT_MIN;
	memcpy(&macs, p, 8);
	memcpy(&w, p + 8, 4);
	h = rte_hash_crc_8byte(macs, 0x5f3759dfu);
	h = rte_hash_crc_4byte(w, h);
	memcpy(&w, p + 10, 4);                  /* last source MAC bytes + type */
	h = rte_hash_crc_4byte(w, h);
	if (rd16(p + 12) == 0x0800 && len >= VX_ETH_HLEN + VX_IP_HLEN) {
		const uint8_t *ip = p + VX_ETH_HLEN;
		uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
		uint64_t addrs;

		memcpy(&addrs, ip + 12, 8);
		h = rte_hash_crc_8byte(addrs, h);
		h = rte_hash_crc_1byte(ip[9], h);
		if ((ip[9] == 6 || ip[9] == 17) && !(rd16(ip + 6) & 0x3fff) && ihl >= VX_IP_HLEN &&
		    len >= VX_ETH_HLEN + ihl + 4) {
			memcpy(&w, ip + ihl, 4);
			h = rte_hash_crc_4byte(w, h);
		}
	}
	h ^= h >> 16;
	return (uint16_t)(VX_SPORT_MIN + (h & 0x3fff));
}

int vx_arp_parse(const void *data, uint32_t len, struct vx_arp *a)
{
	const uint8_t *p = data, *arp;

	if (len < VX_ARP_LEN || rd16(p + 12) != 0x0806)
		return -EINVAL;
	arp = p + VX_ETH_HLEN;
	/* htype Ethernet, ptype IPv4, hlen 6, plen 4 */
	if (rd16(arp) != 1 || rd16(arp + 2) != 0x0800 || arp[4] != 6 || arp[5] != 4)
		return -EINVAL;
	a->op = rd16(arp + 6);
	memcpy(a->sha, arp + 8, 6);
	memcpy(&a->spa, arp + 14, 4);
	memcpy(a->tha, arp + 18, 6);
	memcpy(&a->tpa, arp + 24, 4);
	return 0;
}

void vx_arp_build(void *buf, const uint8_t eth_dst[6], const struct vx_arp *a)
{
	uint8_t *p = buf, *arp = p + VX_ETH_HLEN;

	memcpy(p, eth_dst, 6);
	memcpy(p + 6, a->sha, 6);
	wr16(p + 12, 0x0806);
	wr16(arp, 1);
	wr16(arp + 2, 0x0800);
	arp[4] = 6;
	arp[5] = 4;
	wr16(arp + 6, a->op);
	memcpy(arp + 8, a->sha, 6);
	memcpy(arp + 14, &a->spa, 4);
	memcpy(arp + 18, a->tha, 6);
	memcpy(arp + 24, &a->tpa, 4);
}

int vx_ip_parse(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ip = a.s_addr;
	return 0;
}

const char *vx_ip_format(uint32_t ip, char *buf)
{
	const uint8_t *b = (const uint8_t *)&ip;

	snprintf(buf, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	return buf;
}
