/* test_vx_proto.c — VXLAN wire format: encap headers checked field by field
 * (against RFC 791's checksum computed independently), decap round trips,
 * every drop reason, every truncation point, the source-port hash, ARP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vxlan.h"

static const uint8_t DMAC[6] = { 0x02, 0xbb, 0, 0, 0, 0x02 };
static const uint8_t SMAC[6] = { 0x02, 0xaa, 0, 0, 0, 0x01 };

struct frame {
	uint8_t b[2048];
	uint32_t n;
};

static uint32_t ip4(const char *s)
{
	uint32_t v;

	assert_int_equal(vx_ip_parse(s, &v), 0);
	return v;
}

/* An inner Ethernet/IPv4/UDP frame of `len` bytes (>= 42). */
static uint32_t inner_frame(uint8_t *p, uint32_t len, uint16_t sport)
{
	static const uint8_t hdr[] = {
		0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00,
		0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
	};

	memset(p, 0x5a, len);
	memcpy(p, hdr, sizeof(hdr));
	p[34] = (uint8_t)(sport >> 8);
	p[35] = (uint8_t)sport;
	p[36] = 0;
	p[37] = 53;
	return len;
}

/* A complete VXLAN frame to 10.1.1.1:4789 from 10.1.1.2, VNI 100. */
static void build(struct frame *f, uint32_t vni, uint32_t inner_len)
{
	struct vx_encap_tmpl t;

	vx_encap_init(&t, DMAC, SMAC, ip4("10.1.1.2"), ip4("10.1.1.1"), htons(4789), 64, vni);
	inner_frame(f->b + VX_OUTER_LEN, inner_len, 1234);
	vx_encap_write(f->b, &t, inner_len, 50000);
	f->n = VX_OUTER_LEN + inner_len;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1071, the slow obvious way. */
static uint16_t ref_csum(const uint8_t *p, unsigned n)
{
	uint32_t s = 0;

	for (unsigned i = 0; i < n; i += 2)
		s += rd16(p + i);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void test_encap_fields(void **state)
{
	struct frame f;
	const uint8_t *ip = f.b + 14, *udp = ip + 20, *vx = udp + 8;
	uint8_t hdr[20];

	(void)state;
	for (uint32_t len = 60; len <= 1514; len += 227) {
		build(&f, 0xabcdef, len);
		assert_memory_equal(f.b, DMAC, 6);
		assert_memory_equal(f.b + 6, SMAC, 6);
		assert_int_equal(rd16(f.b + 12), 0x0800);
		assert_int_equal(ip[0], 0x45);
		assert_int_equal(rd16(ip + 2), len + 36);          /* total length */
		assert_int_equal(rd16(ip + 6), 0x4000);            /* DF, offset 0 */
		assert_int_equal(ip[8], 64);
		assert_int_equal(ip[9], 17);
		memcpy(hdr, ip, 20);
		hdr[10] = hdr[11] = 0;
		assert_int_equal(rd16(ip + 10), ref_csum(hdr, 20));
		assert_int_equal(ref_csum(ip, 20), 0);             /* verifies */
		assert_int_equal(rd16(udp), 50000);
		assert_int_equal(rd16(udp + 2), 4789);
		assert_int_equal(rd16(udp + 4), len + 16);
		assert_int_equal(rd16(udp + 6), 0);                /* no UDP checksum */
		assert_int_equal(vx[0], 0x08);                      /* I flag only */
		assert_int_equal(vx[1] | vx[2] | vx[3], 0);
		assert_int_equal(vx[4], 0xab);
		assert_int_equal(vx[5], 0xcd);
		assert_int_equal(vx[6], 0xef);
		assert_int_equal(vx[7], 0);
	}
}

/* The checksum patched into the template (one carry fold) against RFC 1071
 * for every length and templates whose base sum is near 0xffff; and the
 * decap parser's word-wise check against the reference for every one of
 * the header's 16-bit words off by one. */
static void test_encap_csum_every_length(void **state)
{
	static const char *const srcs[] = { "10.1.1.2", "255.255.255.254", "0.0.0.1", "254.255.255.255" };
	uint8_t b[VX_OUTER_LEN], hdr[20];
	struct vx_decap_info info;

	(void)state;
	for (unsigned s = 0; s < 4; s++) {
		for (unsigned ttl = 0; ttl < 256; ttl += 85) {
			struct vx_encap_tmpl t;

			vx_encap_init(&t, DMAC, SMAC, ip4(srcs[s]), ip4("255.255.255.255"),
				      htons(4789), (uint8_t)ttl, VX_VNI_MAX);
			for (uint32_t len = 14; len <= 65535 - 36; len++) {
				vx_encap_write(b, &t, len, 49152);
				memcpy(hdr, b + 14, 20);
				hdr[10] = hdr[11] = 0;
				if (rd16(b + 24) != ref_csum(hdr, 20))
					fail_msg("src %s ttl %u len %u: checksum %04x, want %04x",
						 srcs[s], ttl, len, rd16(b + 24), ref_csum(hdr, 20));
			}
		}
	}
	for (unsigned w = 0; w < 10; w++) {
		struct frame f;

		build(&f, 7, 60);
		assert_int_equal(vx_decap_parse(f.b, f.n, ip4("10.1.1.1"), htons(4789), &info),
				 VX_RX_VXLAN);
		f.b[14 + 2 * w + 1]++;
		if (!f.b[14 + 2 * w + 1])
			f.b[14 + 2 * w]++;
		assert_int_not_equal(ref_csum(f.b + 14, 20), 0);
		assert_int_equal(vx_decap_parse(f.b, f.n, ip4("10.1.1.1"), htons(4789), &info),
				 VX_RX_DROP);
	}
}

static void test_decap_round_trip(void **state)
{
	struct vx_decap_info info;
	struct frame f;

	(void)state;
	build(&f, 100, 98);
	assert_int_equal(vx_decap_parse(f.b, f.n, ip4("10.1.1.1"), htons(4789), &info),
			 VX_RX_VXLAN);
	assert_int_equal(info.vni, 100);
	assert_int_equal(info.src_ip, ip4("10.1.1.2"));
	assert_int_equal(info.inner_ofs, 50);
	assert_int_equal(info.inner_len, 98);
	assert_int_equal(ntohs(info.src_port), 50000);
	/* Ethernet padding after the datagram is not part of the inner frame. */
	memset(f.b + f.n, 0, 20);
	assert_int_equal(vx_decap_parse(f.b, f.n + 20, ip4("10.1.1.1"), htons(4789), &info),
			 VX_RX_VXLAN);
	assert_int_equal(info.inner_len, 98);
	/* Another UDP port configured. */
	assert_int_equal(vx_decap_parse(f.b, f.n, ip4("10.1.1.1"), htons(8472), &info),
			 VX_RX_DROP);
	assert_int_equal(info.drop, VX_DROP_UDP_PORT);
}

static void refresh_csum(struct frame *f)
{
	f->b[24] = f->b[25] = 0;
	f->b[24] = (uint8_t)(ref_csum(f->b + 14, 20) >> 8);
	f->b[25] = (uint8_t)ref_csum(f->b + 14, 20);
}

static enum vx_drop drop_of(struct frame *f)
{
	struct vx_decap_info info;

	assert_int_equal(vx_decap_parse(f->b, f->n, ip4("10.1.1.1"), htons(4789), &info),
			 VX_RX_DROP);
	return info.drop;
}

static void test_decap_drop_reasons(void **state)
{
	struct frame f;

	(void)state;
	build(&f, 100, 60);
	f.b[12] = 0x86;                      /* IPv6 */
	f.b[13] = 0xdd;
	assert_int_equal(drop_of(&f), VX_DROP_NOT_IP);

	build(&f, 100, 60);
	f.b[14] = 0x46;                      /* IHL 6 without options' checksum */
	assert_int_equal(drop_of(&f), VX_DROP_IP_HEADER);
	build(&f, 100, 60);
	f.b[14] = 0x44;                      /* IHL 4 */
	assert_int_equal(drop_of(&f), VX_DROP_IP_HEADER);
	build(&f, 100, 60);
	f.b[24] ^= 1;                        /* checksum */
	assert_int_equal(drop_of(&f), VX_DROP_IP_HEADER);
	build(&f, 100, 60);
	f.b[17] = 0xff;                      /* total length beyond the frame */
	refresh_csum(&f);
	assert_int_equal(drop_of(&f), VX_DROP_IP_HEADER);

	build(&f, 100, 60);
	f.b[33] = 9;                         /* 10.1.1.9: not our VTEP */
	refresh_csum(&f);
	assert_int_equal(drop_of(&f), VX_DROP_DST_IP);

	build(&f, 100, 60);
	f.b[20] = 0x20;                      /* MF */
	refresh_csum(&f);
	assert_int_equal(drop_of(&f), VX_DROP_FRAGMENT);
	build(&f, 100, 60);
	f.b[20] = 0x40;                      /* DF plus an offset */
	f.b[21] = 0x10;
	refresh_csum(&f);
	assert_int_equal(drop_of(&f), VX_DROP_FRAGMENT);

	build(&f, 100, 60);
	f.b[23] = 6;                         /* TCP */
	refresh_csum(&f);
	assert_int_equal(drop_of(&f), VX_DROP_NOT_UDP);

	build(&f, 100, 60);
	f.b[37] = 0xb6;                      /* port 4790 */
	assert_int_equal(drop_of(&f), VX_DROP_UDP_PORT);

	build(&f, 100, 60);
	f.b[38] = 0x10;                      /* UDP length 4096+ > datagram */
	assert_int_equal(drop_of(&f), VX_DROP_UDP_LENGTH);
	build(&f, 100, 60);
	f.b[38] = 0;
	f.b[39] = 7;                         /* UDP length < 8 */
	assert_int_equal(drop_of(&f), VX_DROP_UDP_LENGTH);
	build(&f, 100, 60);
	f.b[39] = 12;                        /* UDP length leaves half a VXLAN header */
	f.b[38] = 0;
	assert_int_equal(drop_of(&f), VX_DROP_TRUNCATED);
	build(&f, 100, 60);
	f.b[38] = 0;
	f.b[39] = 16 + 13;                   /* inner frame shorter than Ethernet */
	assert_int_equal(drop_of(&f), VX_DROP_INNER);

	build(&f, 100, 60);
	f.b[42] = 0x00;                      /* I flag clear */
	assert_int_equal(drop_of(&f), VX_DROP_I_FLAG);
	for (unsigned bit = 0; bit < 8; bit++) {
		if (bit == 3)
			continue;
		build(&f, 100, 60);
		f.b[42] |= (uint8_t)(1u << bit); /* reserved flag bits */
		assert_int_equal(drop_of(&f), VX_DROP_RESERVED);
	}
	for (unsigned byte = 43; byte <= 45; byte++) {
		build(&f, 100, 60);
		f.b[byte] = 0x80;                /* reserved 24 bits */
		assert_int_equal(drop_of(&f), VX_DROP_RESERVED);
	}
	build(&f, 100, 60);
	f.b[49] = 1;                         /* reserved byte after the VNI */
	assert_int_equal(drop_of(&f), VX_DROP_RESERVED);
}

/* The parser takes the common frame (no IPv4 options) on a branch-free fast
 * path and everything else through the checks one by one. The same frame
 * with a 4-byte option (IHL 6) always takes the checks: for random
 * corruptions of a good frame, both must give the same verdict, drop
 * reason and fields. */
static void with_option(const struct frame *a, struct frame *b)
{
	uint16_t tot = rd16(a->b + 16);

	memcpy(b->b, a->b, 34);
	memset(b->b + 34, 1, 4);                         /* four NOPs */
	memcpy(b->b + 38, a->b + 34, a->n - 34);
	b->n = a->n + 4;
	b->b[14] = 0x46;
	tot = (uint16_t)(tot + 4);
	b->b[16] = (uint8_t)(tot >> 8);
	b->b[17] = (uint8_t)tot;
	/* The checksum: right when a's was, wrong when a's was. */
	b->b[24] = b->b[25] = 0;
	tot = ref_csum(b->b + 14, 24);
	b->b[24] = (uint8_t)(tot >> 8);
	b->b[25] = (uint8_t)tot;
	if (ref_csum(a->b + 14, 20) != 0)
		b->b[25] ^= 1;
}

static void test_decap_fast_path_agrees(void **state)
{
	unsigned seed = 12345, runs = 0, vxlan = 0;

	(void)state;
	for (unsigned it = 0; it < 200000; it++) {
		struct vx_decap_info ia, ib;
		struct frame a, b;
		enum vx_rx ra, rb;
		unsigned nmut;

		seed = seed * 1103515245u + 12345u;
		build(&a, seed >> 8 & 0xffffff, 14 + (seed >> 4) % 80);
		nmut = (seed >> 28) % 3;
		for (unsigned k = 0; k < nmut; k++) {
			unsigned pos;

			seed = seed * 1103515245u + 12345u;
			pos = 12 + (seed >> 8) % 52;
			if (pos == 14)
				continue;
			a.b[pos] = (seed >> 20) & 1 ? (uint8_t)(seed >> 24) : (uint8_t)(a.b[pos] ^ (1u << (seed >> 25) % 8));
		}
		if ((seed >> 27) & 1)                      /* sometimes fix the checksum */
			refresh_csum(&a);
		if ((seed >> 26) & 1)                      /* sometimes cut the frame */
			a.n -= (seed >> 12) % (a.n - 34);  /* (keeping the IPv4 header) */
		with_option(&a, &b);
		ra = vx_decap_parse(a.b, a.n, ip4("10.1.1.1"), htons(4789), &ia);
		rb = vx_decap_parse(b.b, b.n, ip4("10.1.1.1"), htons(4789), &ib);
		runs++;
		if (ra != rb)
			fail_msg("iteration %u: %d without options, %d with", it, ra, rb);
		if (ra == VX_RX_DROP && ia.drop != ib.drop)
			fail_msg("iteration %u: drop %s without options, %s with", it,
				 vx_drop_name(ia.drop), vx_drop_name(ib.drop));
		if (ra == VX_RX_VXLAN) {
			vxlan++;
			assert_int_equal(ia.vni, ib.vni);
			assert_int_equal(ia.src_ip, ib.src_ip);
			assert_int_equal(ia.dst_ip, ib.dst_ip);
			assert_int_equal(ia.src_port, ib.src_port);
			assert_int_equal(ia.ttl, ib.ttl);
			assert_int_equal(ia.inner_len, ib.inner_len);
			assert_int_equal(ia.inner_ofs + 4, ib.inner_ofs);
		}
	}
	/* Both outcomes were exercised. */
	assert_true(vxlan > runs / 20 && vxlan < runs - runs / 20);
}

static void test_decap_every_truncation(void **state)
{
	struct vx_decap_info info;
	struct frame f;

	(void)state;
	build(&f, 7, 64);
	for (uint32_t n = 0; n < f.n; n++) {
		enum vx_rx r = vx_decap_parse(f.b, n, ip4("10.1.1.1"), htons(4789), &info);

		assert_int_equal(r, VX_RX_DROP);
		if (n < 14 + 20)
			assert_int_equal(info.drop, VX_DROP_TRUNCATED);
		else
			assert_int_equal(info.drop, VX_DROP_IP_HEADER);   /* total length > frame */
	}
	assert_int_equal(vx_decap_parse(f.b, f.n, ip4("10.1.1.1"), htons(4789), &info),
			 VX_RX_VXLAN);
	assert_int_equal(info.vni, 7);
}

static void test_src_port_hash(void **state)
{
	uint8_t a[128], b[128];
	uint16_t pa, pb, pc;
	unsigned distinct = 0;
	uint16_t seen[64];

	(void)state;
	inner_frame(a, 128, 1000);
	inner_frame(b, 128, 1000);
	b[100] ^= 0xff;                       /* payload does not matter */
	pa = vx_flow_src_port(a, 128);
	pb = vx_flow_src_port(b, 128);
	assert_int_equal(pa, pb);
	assert_true(pa >= VX_SPORT_MIN);
	inner_frame(b, 128, 1001);            /* another L4 flow */
	pc = vx_flow_src_port(b, 128);
	assert_int_not_equal(pa, pc);
	for (uint16_t s = 0; s < 64; s++) {
		bool dup = false;

		inner_frame(b, 128, (uint16_t)(2000 + s));
		seen[s] = vx_flow_src_port(b, 128);
		assert_true(seen[s] >= VX_SPORT_MIN);
		for (uint16_t k = 0; k < s; k++)
			dup |= seen[k] == seen[s];
		distinct += !dup;
	}
	assert_true(distinct > 56);          /* spreads flows */
	assert_int_equal(vx_flow_src_port(a, 10), VX_SPORT_MIN);   /* runt: no read past */
}

static void test_arp(void **state)
{
	static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct vx_arp a = { .op = VX_ARP_REQUEST }, b;
	struct vx_decap_info info;
	uint8_t buf[60] = { 0 };

	(void)state;
	memcpy(a.sha, SMAC, 6);
	a.spa = ip4("10.1.1.2");
	a.tpa = ip4("10.1.1.1");
	vx_arp_build(buf, bc, &a);
	assert_int_equal(vx_decap_parse(buf, 60, ip4("10.1.1.1"), htons(4789), &info), VX_RX_ARP);
	assert_int_equal(vx_arp_parse(buf, 60, &b), 0);
	assert_int_equal(b.op, VX_ARP_REQUEST);
	assert_memory_equal(b.sha, SMAC, 6);
	assert_int_equal(b.spa, a.spa);
	assert_int_equal(b.tpa, a.tpa);
	assert_int_equal(vx_arp_parse(buf, 41, &b), -EINVAL);
	buf[19] = 16;                         /* plen 16: not IPv4 */
	assert_int_equal(vx_arp_parse(buf, 60, &b), -EINVAL);
}

static void test_ip_text(void **state)
{
	char s[16];
	uint32_t v;

	(void)state;
	assert_int_equal(vx_ip_parse("192.168.77.1", &v), 0);
	assert_string_equal(vx_ip_format(v, s), "192.168.77.1");
	assert_int_equal(vx_ip_parse("192.168.77", &v), -EINVAL);
	assert_int_equal(vx_ip_parse("300.1.1.1", &v), -EINVAL);
	assert_int_equal(vx_ip_parse(NULL, &v), -EINVAL);
	assert_string_equal(vx_drop_name(VX_DROP_RESERVED), "reserved");
	assert_string_equal(vx_drop_name(VX_DROP_N), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encap_fields),
		cmocka_unit_test(test_encap_csum_every_length),
		cmocka_unit_test(test_decap_round_trip),
		cmocka_unit_test(test_decap_drop_reasons),
		cmocka_unit_test(test_decap_fast_path_agrees),
		cmocka_unit_test(test_decap_every_truncation),
		cmocka_unit_test(test_src_port_hash),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_ip_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
