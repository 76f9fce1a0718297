/* test_sw_packet.c — the packet parser on hand-built frames: every header it
 * knows, every truncation point, bad IHL, stacked and deep VLAN tags.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sw_packet.h"

static const uint8_t DST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t SRC[6] = { 0x02, 0, 0, 0, 0, 0x01 };

struct frame {
	uint8_t b[256];
	uint32_t n;
};

static void put(struct frame *f, const void *p, uint32_t n)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(f, b, 2);
}

static void eth(struct frame *f, uint16_t type)
{
	f->n = 0;
	put(f, DST, 6);
	put(f, SRC, 6);
	put16(f, type);
}

static void ipv4(struct frame *f, uint8_t proto, uint16_t tot_len)
{
	uint8_t ip[20] = { 0x45, 0x2e, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2 };

	ip[2] = (uint8_t)(tot_len >> 8);
	ip[3] = (uint8_t)tot_len;
	put(f, ip, sizeof(ip));
}

static void udp(struct frame *f, uint16_t sport, uint16_t dport)
{
	put16(f, sport);
	put16(f, dport);
	put16(f, 8);
	put16(f, 0);
}

static void test_runt_refused(void **state)
{
	struct sw_flow_key k;
	struct frame f;

	(void)state;
	eth(&f, 0x0800);
	for (uint32_t n = 0; n < SW_ETH_HLEN; n++)
		assert_int_equal(sw_packet_parse(f.b, n, 1, &k), -EINVAL);
	assert_int_equal(sw_packet_parse(f.b, SW_ETH_HLEN, 1, &k), 0);
	assert_int_equal(k.dl_type, 0x0800);
	assert_int_equal(k.flags, SW_KEY_F_L3_TRUNC);
}

static void test_ipv4_udp(void **state)
{
	struct sw_flow_key k;
	struct frame f;

	(void)state;
	eth(&f, 0x0800);
	ipv4(&f, 17, 28);
	udp(&f, 1000, 53);
	assert_int_equal(sw_packet_parse(f.b, f.n, 7, &k), 0);
	assert_int_equal(k.in_port, 7);
	assert_memory_equal(k.dl_src, SRC, 6);
	assert_memory_equal(k.dl_dst, DST, 6);
	assert_int_equal(k.nw_proto, 17);
	assert_int_equal(k.nw_tos, 0x2e);
	assert_int_equal(k.nw_ttl, 64);
	assert_int_equal(__builtin_bswap32(k.nw_src), 0x0a000001);
	assert_int_equal(__builtin_bswap16(k.tp_src), 1000);
	assert_int_equal(__builtin_bswap16(k.tp_dst), 53);
	assert_int_equal(k.l3_ofs, 14);
	assert_int_equal(k.l4_ofs, 34);
	assert_int_equal(k.flags, 0);
	/* Every cut inside the UDP header is an L4 truncation, inside IPv4 an L3 one. */
	for (uint32_t n = 14; n < f.n; n++) {
		assert_int_equal(sw_packet_parse(f.b, n, 7, &k), 0);
		assert_int_equal(k.flags, n < 34 ? SW_KEY_F_L3_TRUNC : SW_KEY_F_L4_TRUNC);
	}
}

static void test_ipv4_udp_short_total_length(void **state)
{
	struct sw_flow_key k;
	struct frame f;

	(void)state;
	/* Total length says only 2 bytes of UDP: the rest is Ethernet padding. */
	eth(&f, 0x0800);
	ipv4(&f, 17, 22);
	udp(&f, 1, 2);
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.flags, SW_KEY_F_L4_TRUNC);
}

static void test_ipv4_bad_ihl_and_version(void **state)
{
	struct sw_flow_key k;
	struct frame f;

	(void)state;
	eth(&f, 0x0800);
	ipv4(&f, 6, 40);
	f.b[14] = 0x41;
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.flags, SW_KEY_F_L3_BAD);
	f.b[14] = 0x65;
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.flags, SW_KEY_F_L3_BAD);
	/* IHL 15 (60 bytes) with only 20 present. */
	f.b[14] = 0x4f;
	f.b[16] = 0;
	f.b[17] = 60;
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.flags, SW_KEY_F_L3_TRUNC);
	/* Total length below the header length. */
	f.b[14] = 0x45;
	f.b[17] = 10;
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.flags, SW_KEY_F_L3_BAD);
}

static void test_ipv4_fragments(void **state)
{
	struct sw_flow_key k;
	struct frame f;

	(void)state;
	eth(&f, 0x0800);
	ipv4(&f, 17, 28);
	udp(&f, 5, 6);
	f.b[14 + 6] = 0x20;   /* MF, offset 0: first fragment, ports present */
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.flags, SW_KEY_F_FRAG);
	assert_int_equal(__builtin_bswap16(k.tp_src), 5);
	f.b[14 + 7] = 0x10;   /* offset 16: later fragment, no ports */
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.flags, SW_KEY_F_FRAG | SW_KEY_F_LATER_FRAG);
	assert_int_equal(k.tp_src, 0);
}

static void test_vlan_tags(void **state)
{
	struct sw_flow_key k;
	struct frame f;

	(void)state;
	eth(&f, 0x8100);
	put16(&f, (uint16_t)(5 << 13 | 10));
	put16(&f, 0x0800);
	ipv4(&f, 1, 24);
	put16(&f, 0x0800);   /* ICMP echo request: type 8 code 0 */
	put16(&f, 0);
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.n_vlans, 1);
	assert_int_equal(k.vlan_tpid, 0x8100);
	assert_int_equal(k.vlan_tci, 5 << 13 | SW_VLAN_PRESENT | 10);
	assert_int_equal(sw_vlan_vid(k.vlan_tci), 10);
	assert_int_equal(k.dl_type, 0x0800);
	assert_int_equal(k.l3_ofs, 18);
	assert_int_equal(k.nw_proto, 1);
	assert_int_equal(k.tp_src, 8);
	assert_int_equal(k.tp_dst, 0);
	/* A tag cut anywhere is refused. */
	for (uint32_t n = 14; n < 18; n++)
		assert_int_equal(sw_packet_parse(f.b, n, 1, &k), -EINVAL);

	/* 802.1ad outer + 802.1Q inner. */
	eth(&f, 0x88a8);
	put16(&f, 100);
	put16(&f, 0x8100);
	put16(&f, 200);
	put16(&f, 0x0806);
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.n_vlans, 2);
	assert_int_equal(k.vlan_tpid, 0x88a8);
	assert_int_equal(sw_vlan_vid(k.vlan_tci), 100);
	assert_int_equal(sw_vlan_vid(k.cvlan_tci), 200);
	assert_int_equal(k.dl_type, 0x0806);
	assert_int_equal(k.flags, SW_KEY_F_L3_TRUNC);

	/* Three tags: the third is not parsed. */
	eth(&f, 0x8100);
	for (int i = 0; i < 3; i++) {
		put16(&f, (uint16_t)(i + 1));
		put16(&f, 0x8100);
	}
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.n_vlans, 2);
	assert_true(k.flags & SW_KEY_F_VLAN_DEEP);
	assert_int_equal(k.dl_type, 0x8100);
}

static void test_arp(void **state)
{
	static const uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1,
					 2, 0, 0, 0, 0, 2, 10, 0, 0, 2 };
	struct sw_flow_key k;
	struct frame f;

	(void)state;
	eth(&f, 0x0806);
	put(&f, arp, sizeof(arp));
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.arp_op, 2);
	assert_int_equal(__builtin_bswap32(k.nw_src), 0x0a000001);
	assert_int_equal(__builtin_bswap32(k.nw_dst), 0x0a000002);
	assert_int_equal(k.arp_sha[5], 1);
	assert_int_equal(k.arp_tha[5], 2);
	assert_int_equal(sw_packet_parse(f.b, f.n - 1, 1, &k), 0);
	assert_int_equal(k.flags, SW_KEY_F_L3_TRUNC);
	f.b[14 + 4] = 8;      /* hlen 8: not Ethernet/IPv4 ARP */
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.flags, SW_KEY_F_L3_BAD);
}

static void test_ipv6_tcp_and_extension_headers(void **state)
{
	uint8_t ip6[40] = { 0x60, 0xb0, 0, 0, 0, 28, 0, 64 };
	uint8_t hop[8] = { 44, 0 };                 /* hop-by-hop → fragment */
	uint8_t frag[8] = { 6, 0, 0, 0 };           /* → TCP, offset 0 */
	uint8_t tcp[20] = { 0x1f, 0x90, 0, 80 };
	struct sw_flow_key k;
	struct frame f;

	(void)state;
	ip6[6] = 0;           /* next: hop-by-hop */
	ip6[8] = 0x20;        /* src 2000:: */
	ip6[24] = 0xfe;       /* dst fe00:: */
	eth(&f, 0x86dd);
	put(&f, ip6, sizeof(ip6));
	put(&f, hop, sizeof(hop));
	put(&f, frag, sizeof(frag));
	put(&f, tcp, sizeof(tcp));
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.nw_proto, 6);
	assert_int_equal(k.nw_tos, 0x0b);
	assert_int_equal(k.nw_ttl, 64);
	assert_int_equal(k.ipv6_src[0], 0x20);
	assert_int_equal(k.ipv6_dst[0], 0xfe);
	assert_int_equal(__builtin_bswap16(k.tp_src), 8080);
	assert_int_equal(__builtin_bswap16(k.tp_dst), 80);
	assert_int_equal(k.l4_ofs, 14 + 56);
	assert_int_equal(k.flags, SW_KEY_F_FRAG);
	for (uint32_t n = 14; n < f.n; n++) {
		assert_int_equal(sw_packet_parse(f.b, n, 1, &k), 0);
		assert_int_equal(k.flags & ~SW_KEY_F_FRAG,
				 n < 14 + 56 ? SW_KEY_F_L3_TRUNC : SW_KEY_F_L4_TRUNC);
	}
	f.b[14] = 0x40;
	assert_int_equal(sw_packet_parse(f.b, f.n, 1, &k), 0);
	assert_int_equal(k.flags, SW_KEY_F_L3_BAD);
}

static void test_random_frames_stay_in_bounds(void **state)
{
	uint64_t x = 0x243F6A8885A308D3ull;
	struct sw_flow_key k;
	uint8_t buf[128];

	(void)state;
	/* Under ASan a read past `len` is caught: parse random prefixes of random
	 * frames whose type fields are biased toward the interesting values. */
	for (int iter = 0; iter < 200000; iter++) {
		static const uint16_t types[] = { 0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8 };
		uint32_t len;

		for (size_t i = 0; i < sizeof(buf); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		buf[12] = (uint8_t)(types[x % 5] >> 8);
		buf[13] = (uint8_t)types[x % 5];
		buf[14] = (x >> 8) & 1 ? 0x45 : 0x60;
		len = (uint32_t)(x >> 20) % sizeof(buf);
		sw_packet_parse(buf, len, 1, &k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runt_refused),
		cmocka_unit_test(test_ipv4_udp),
		cmocka_unit_test(test_ipv4_udp_short_total_length),
		cmocka_unit_test(test_ipv4_bad_ihl_and_version),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_vlan_tags),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_ipv6_tcp_and_extension_headers),
		cmocka_unit_test(test_random_frames_stay_in_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
