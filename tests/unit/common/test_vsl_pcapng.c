/* test_vsl_pcapng.c — write pcapng files and parse them back block by block.
 *
 * With VSL_TEST_PCAPNG_OUT=<path> in the environment, test_sample_capture also
 * leaves a capture there for tests/system/test_pcapng_tshark.py: 4 Ethernet/
 * IPv4/UDP frames on interface "vh0" then 1 ARP request on "dpdk0" (5 frames).
 * Keep that script's expectations in step when changing the sample.
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

#include "vsl_pcapng.h"

enum {
	BT_SHB = 0x0A0D0D0A,
	BT_IDB = 1,
	BT_EPB = 6,
	MAX_BLOCKS = 64,
	MAX_IFS = 4,
};

static char tmp_dir[] = "/tmp/vsl_pcapng_XXXXXX";

/* One parsed file: the blocks in order plus what the IDBs declared. */
struct block {
	uint32_t type;
	uint32_t len;
	const uint8_t *body; /* after type + length */
	size_t body_len;     /* up to, not including, the trailing length */
};

struct capture {
	uint8_t *data;
	size_t size;
	struct block blocks[MAX_BLOCKS];
	size_t n_blocks;
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmp_dir, name);
}

/* Reads `path` and walks its blocks, asserting the framing invariants every
 * block must satisfy: length >= 12, a multiple of 4, inside the file, and
 * repeated at the end. */
static void capture_load(const char *path, struct capture *c)
{
	FILE *f = fopen(path, "rb");
	long size;

	memset(c, 0, sizeof(*c));
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size > 0);
	rewind(f);
	c->size = (size_t)size;
	c->data = malloc(c->size);
	assert_non_null(c->data);
	assert_int_equal(fread(c->data, 1, c->size, f), c->size);
	fclose(f);

	assert_int_equal(c->size % 4, 0);
	for (size_t off = 0; off < c->size;) {
		struct block *b = &c->blocks[c->n_blocks];

		assert_true(c->n_blocks < MAX_BLOCKS);
		assert_true(c->size - off >= 12);
		b->type = rd32(c->data + off);
		b->len = rd32(c->data + off + 4);
		assert_true(b->len >= 12);
		assert_int_equal(b->len % 4, 0);
		assert_true(b->len <= c->size - off);
		assert_int_equal(rd32(c->data + off + b->len - 4), b->len);
		b->body = c->data + off + 8;
		b->body_len = b->len - 12;
		off += b->len;
		c->n_blocks++;
	}
	assert_true(c->n_blocks >= 1);
	assert_int_equal(c->blocks[0].type, BT_SHB);
}

static void capture_free(struct capture *c)
{
	free(c->data);
	c->data = NULL;
}

/* Finds option `code` in an option list; checks the list is well formed
 * (padded values, ends with opt_endofopt exactly at the end). Returns the
 * value or NULL, with its length in *len. */
static const uint8_t *opt_find(const uint8_t *opts, size_t opts_len, uint16_t code,
			       size_t *len)
{
	const uint8_t *found = NULL;
	size_t off = 0;
	int saw_end = 0;

	while (off < opts_len) {
		uint16_t c, l;

		assert_false(saw_end);
		assert_true(opts_len - off >= 4);
		c = rd16(opts + off);
		l = rd16(opts + off + 2);
		off += 4;
		if (c == 0) {
			assert_int_equal(l, 0);
			saw_end = 1;
			continue;
		}
		assert_true(((size_t)l + 3) / 4 * 4 <= opts_len - off);
		for (size_t i = l; i < ((size_t)l + 3) / 4 * 4; i++)
			assert_int_equal(opts[off + i], 0); /* zero padding */
		if (c == code) {
			found = opts + off;
			*len = l;
		}
		off += ((size_t)l + 3) / 4 * 4;
	}
	assert_true(saw_end || opts_len == 0);
	return found;
}

static void check_shb(const struct block *b, const char *app)
{
	const uint8_t *v;
	size_t vlen = 0;

	assert_int_equal(b->type, BT_SHB);
	assert_true(b->body_len >= 16);
	assert_int_equal(rd32(b->body), 0x1A2B3C4D);
	assert_int_equal(rd16(b->body + 4), 1);
	assert_int_equal(rd16(b->body + 6), 0);
	int64_t section_len;
	memcpy(&section_len, b->body + 8, sizeof(section_len));
	assert_true(section_len == -1);
	v = opt_find(b->body + 16, b->body_len - 16, 4, &vlen);
	if (app == NULL) {
		assert_null(v);
		assert_int_equal(b->len, 28);
	} else {
		assert_non_null(v);
		assert_int_equal(vlen, strlen(app));
		assert_memory_equal(v, app, vlen);
	}
}

static void check_idb(const struct block *b, const char *name, uint32_t snaplen)
{
	const uint8_t *v;
	size_t vlen = 0;

	assert_int_equal(b->type, BT_IDB);
	assert_true(b->body_len >= 8);
	assert_int_equal(rd16(b->body), VSL_PCAPNG_LINKTYPE_ETHERNET);
	assert_int_equal(rd16(b->body + 2), 0);
	assert_int_equal(rd32(b->body + 4), snaplen);
	v = opt_find(b->body + 8, b->body_len - 8, 9, &vlen);
	assert_non_null(v);
	assert_int_equal(vlen, 1);
	assert_int_equal(v[0], 9);
	v = opt_find(b->body + 8, b->body_len - 8, 2, &vlen);
	if (name == NULL) {
		assert_null(v);
	} else {
		assert_non_null(v);
		assert_int_equal(vlen, strlen(name));
		assert_memory_equal(v, name, vlen);
	}
}

/* Checks an EPB and returns its captured data. */
static const uint8_t *check_epb(const struct block *b, uint32_t ifid, uint64_t ts,
				uint32_t cap_len, uint32_t orig_len)
{
	assert_int_equal(b->type, BT_EPB);
	assert_int_equal(rd32(b->body), ifid);
	assert_int_equal(((uint64_t)rd32(b->body + 4) << 32) | rd32(b->body + 8), ts);
	assert_int_equal(rd32(b->body + 12), cap_len);
	assert_int_equal(rd32(b->body + 16), orig_len);
	/* Data padded to 32 bits with zeros, and no options follow. */
	assert_int_equal(b->body_len, 20 + ((size_t)cap_len + 3) / 4 * 4);
	for (size_t i = 20 + cap_len; i < b->body_len; i++)
		assert_int_equal(b->body[i], 0);
	return b->body + 20;
}

static void fill_pattern(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void test_roundtrip(void **state)
{
	/* Real timestamps exceed 2^32 ns, so the high word is exercised. */
	const uint64_t t0 = 1763705682123456789ull;
	static const struct {
		int ifid;
		size_t len, orig_len;
		uint32_t want_cap, want_orig;
	} pk[] = {
		{ 0, 60, 60, 60, 60 },
		{ 1, 61, 61, 61, 61 },       /* 3 bytes of padding */
		{ 1, 200, 200, 64, 200 },    /* larger than dpdk0's snaplen */
		{ 0, 1, 1500, 1, 1500 },     /* caller already truncated */
		{ 0, 0, 0, 0, 0 },           /* empty */
		{ 0, 1514, 0, 1514, 1514 },  /* orig_len raised to len */
		{ 1, 64, 9000, 64, 9000 },   /* exactly snaplen */
		{ 1, 65, 65, 64, 65 },
	};
	uint8_t pkt[2000];
	char path[256];
	struct capture c;
	struct vsl_pcapng *w;

	(void)state;
	tmp_path(path, sizeof(path), "roundtrip.pcapng");
	w = vsl_pcapng_open(path, "vessel-test");
	assert_non_null(w);
	assert_int_equal(vsl_pcapng_add_interface(w, "vh0", 0), 0);
	assert_int_equal(vsl_pcapng_add_interface(w, "dpdk0", 64), 1);
	for (size_t i = 0; i < sizeof(pk) / sizeof(pk[0]); i++) {
		fill_pattern(pkt, pk[i].len, (uint8_t)i);
		assert_int_equal(vsl_pcapng_write(w, pk[i].ifid, t0 + i * 1000, pkt, pk[i].len,
						  pk[i].orig_len),
				 0);
	}
	assert_int_equal(vsl_pcapng_flush(w), 0);
	assert_int_equal(vsl_pcapng_close(w), 0);

	capture_load(path, &c);
	assert_int_equal(c.n_blocks, 3 + sizeof(pk) / sizeof(pk[0]));
	check_shb(&c.blocks[0], "vessel-test");
	check_idb(&c.blocks[1], "vh0", VSL_PCAPNG_DEFAULT_SNAPLEN);
	check_idb(&c.blocks[2], "dpdk0", 64);
	for (size_t i = 0; i < sizeof(pk) / sizeof(pk[0]); i++) {
		const uint8_t *data = check_epb(&c.blocks[3 + i], (uint32_t)pk[i].ifid,
						t0 + i * 1000, pk[i].want_cap, pk[i].want_orig);

		fill_pattern(pkt, pk[i].len, (uint8_t)i);
		if (pk[i].want_cap > 0)
			assert_memory_equal(data, pkt, pk[i].want_cap);
	}
	capture_free(&c);
	unlink(path);
}

/* No application name, no interface name: the options are simply absent. */
static void test_optional_names(void **state)
{
	char path[256];
	struct capture c;
	struct vsl_pcapng *w;

	(void)state;
	tmp_path(path, sizeof(path), "noname.pcapng");
	w = vsl_pcapng_open(path, NULL);
	assert_non_null(w);
	assert_int_equal(vsl_pcapng_add_interface(w, NULL, 128), 0);
	assert_int_equal(vsl_pcapng_add_interface(w, "a-much-longer-interface-name", 0), 1);
	assert_int_equal(vsl_pcapng_write(w, 1, 5, "abc", 3, 3), 0);
	assert_int_equal(vsl_pcapng_close(w), 0);

	capture_load(path, &c);
	assert_int_equal(c.n_blocks, 4);
	check_shb(&c.blocks[0], NULL);
	check_idb(&c.blocks[1], NULL, 128);
	check_idb(&c.blocks[2], "a-much-longer-interface-name", VSL_PCAPNG_DEFAULT_SNAPLEN);
	assert_memory_equal(check_epb(&c.blocks[3], 1, 5, 3, 3), "abc", 3);
	capture_free(&c);
	unlink(path);
}

static void test_bad_arguments(void **state)
{
	char path[256];
	struct vsl_pcapng *w;
	uint8_t pkt[16] = { 0 };

	(void)state;
	errno = 0;
	assert_null(vsl_pcapng_open("/nonexistent-dir/x.pcapng", "t"));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(vsl_pcapng_open(NULL, "t"));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(vsl_pcapng_close(NULL), 0);
	assert_int_equal(vsl_pcapng_flush(NULL), -EINVAL);
	assert_int_equal(vsl_pcapng_add_interface(NULL, "x", 0), -EINVAL);
	assert_int_equal(vsl_pcapng_write(NULL, 0, 0, pkt, 1, 1), -EINVAL);

	tmp_path(path, sizeof(path), "bad.pcapng");
	w = vsl_pcapng_open(path, "t");
	assert_non_null(w);
	assert_int_equal(vsl_pcapng_write(w, 0, 0, pkt, sizeof(pkt), sizeof(pkt)), -EINVAL);
	assert_int_equal(vsl_pcapng_add_interface(w, "x", 0), 0);
	assert_int_equal(vsl_pcapng_write(w, 1, 0, pkt, sizeof(pkt), sizeof(pkt)), -EINVAL);
	assert_int_equal(vsl_pcapng_write(w, -1, 0, pkt, sizeof(pkt), sizeof(pkt)), -EINVAL);
	assert_int_equal(vsl_pcapng_write(w, 0, 0, NULL, 4, 4), -EINVAL);
	assert_int_equal(vsl_pcapng_write(w, 0, 0, NULL, 0, 0), 0);
	if (sizeof(size_t) > 4)
		assert_int_equal(vsl_pcapng_write(w, 0, 0, pkt, 4, (size_t)UINT32_MAX + 1),
				 -EINVAL);
	/* Argument errors are not I/O errors: they must not poison the writer. */
	assert_int_equal(vsl_pcapng_write(w, 0, 0, pkt, sizeof(pkt), sizeof(pkt)), 0);
	assert_int_equal(vsl_pcapng_close(w), 0);
	unlink(path);
}

/* /dev/full fails every write with ENOSPC: the error must surface, stick, and
 * be what close() returns. */
static void test_write_error_sticks(void **state)
{
	uint8_t pkt[1500];
	struct vsl_pcapng *w;
	int first_err = 0;

	(void)state;
	if (access("/dev/full", W_OK) != 0) {
		print_message("# /dev/full not available\n");
		skip();
	}
	memset(pkt, 0xab, sizeof(pkt));
	w = vsl_pcapng_open("/dev/full", "t");
	assert_non_null(w); /* the SHB is still in the stdio buffer */
	assert_int_equal(vsl_pcapng_add_interface(w, "x", 0), 0);
	for (int i = 0; i < 100; i++) {
		int rc = vsl_pcapng_write(w, 0, (uint64_t)i, pkt, sizeof(pkt), sizeof(pkt));

		if (first_err != 0)
			assert_int_equal(rc, first_err);
		else if (rc != 0)
			first_err = rc;
	}
	/* 150 KB cannot all sit in a stdio buffer. */
	assert_int_equal(first_err, -ENOSPC);
	assert_int_equal(vsl_pcapng_flush(w), -ENOSPC);
	assert_int_equal(vsl_pcapng_add_interface(w, "y", 0), -ENOSPC);
	assert_int_equal(vsl_pcapng_close(w), -ENOSPC);

	/* An error found only by the final flush is reported by close(). */
	w = vsl_pcapng_open("/dev/full", "t");
	assert_non_null(w);
	assert_int_equal(vsl_pcapng_add_interface(w, "x", 0), 0);
	assert_int_equal(vsl_pcapng_close(w), -ENOSPC);
}

/* ---- sample capture with real protocol headers ---- */

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* RFC 1071 one's-complement sum, folded; `sum` carries a pseudo-header. */
static uint16_t inet_csum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static const uint8_t mac_a[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t mac_b[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t ip_a[4] = { 10, 0, 0, 1 };
static const uint8_t ip_b[4] = { 10, 0, 0, 2 };

/* Ethernet + IPv4 (checksummed, DF) + UDP (checksummed) + text payload.
 * Returns the frame length (padded to the 60-byte Ethernet minimum). */
static size_t build_udp(uint8_t *f, uint16_t ip_id, const char *payload)
{
	size_t plen = strlen(payload), udp_len = 8 + plen, ip_len = 20 + udp_len;
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint32_t pseudo = 0;

	memcpy(f, mac_b, 6);
	memcpy(f + 6, mac_a, 6);
	put_be16(f + 12, 0x0800);

	memset(ip, 0, 20);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)ip_len);
	put_be16(ip + 4, ip_id);
	put_be16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, ip_a, 4);
	memcpy(ip + 16, ip_b, 4);
	put_be16(ip + 10, inet_csum(ip, 20, 0));

	put_be16(udp, 40000);
	put_be16(udp + 2, 9); /* discard */
	put_be16(udp + 4, (uint16_t)udp_len);
	put_be16(udp + 6, 0);
	memcpy(udp + 8, payload, plen);
	pseudo = (uint32_t)(ip_a[0] << 8 | ip_a[1]) + (uint32_t)(ip_a[2] << 8 | ip_a[3]) +
		 (uint32_t)(ip_b[0] << 8 | ip_b[1]) + (uint32_t)(ip_b[2] << 8 | ip_b[3]) + 17 +
		 (uint32_t)udp_len;
	uint16_t uc = inet_csum(udp, udp_len, pseudo);
	put_be16(udp + 6, uc == 0 ? 0xffff : uc);

	size_t len = 14 + ip_len;
	if (len < 60) {
		memset(f + len, 0, 60 - len);
		len = 60;
	}
	return len;
}

static size_t build_arp_request(uint8_t *f)
{
	uint8_t *arp = f + 14;

	memset(f, 0xff, 6);
	memcpy(f + 6, mac_a, 6);
	put_be16(f + 12, 0x0806);
	put_be16(arp, 1);      /* Ethernet */
	put_be16(arp + 2, 0x0800);
	arp[4] = 6;
	arp[5] = 4;
	put_be16(arp + 6, 1);  /* request */
	memcpy(arp + 8, mac_a, 6);
	memcpy(arp + 14, ip_a, 4);
	memset(arp + 18, 0, 6);
	memcpy(arp + 24, ip_b, 4);
	memset(f + 42, 0, 60 - 42);
	return 60;
}

static void test_sample_capture(void **state)
{
	static const char *payloads[] = {
		"hi",
		"hello from vessel",
		"an odd-length payload.",
		"a somewhat longer payload that pushes the frame well past the minimum size",
	};
	const char *out = getenv("VSL_TEST_PCAPNG_OUT");
	const uint64_t t0 = 1763705682000000001ull;
	char path[4096];
	uint8_t frame[256];
	struct capture c;
	struct vsl_pcapng *w;
	size_t len;
	int vh0, dpdk0;

	(void)state;
	if (out != NULL && out[0] != '\0')
		snprintf(path, sizeof(path), "%s", out);
	else
		tmp_path(path, sizeof(path), "sample.pcapng");

	w = vsl_pcapng_open(path, "vessel test_vsl_pcapng");
	assert_non_null(w);
	vh0 = vsl_pcapng_add_interface(w, "vh0", 0);
	dpdk0 = vsl_pcapng_add_interface(w, "dpdk0", 0);
	assert_int_equal(vh0, 0);
	assert_int_equal(dpdk0, 1);
	for (size_t i = 0; i < 4; i++) {
		len = build_udp(frame, (uint16_t)(0x100 + i), payloads[i]);
		assert_int_equal(vsl_pcapng_write(w, vh0, t0 + i * 1000000, frame, len, len), 0);
	}
	len = build_arp_request(frame);
	assert_int_equal(vsl_pcapng_write(w, dpdk0, t0 + 5000000, frame, len, len), 0);
	assert_int_equal(vsl_pcapng_close(w), 0);

	/* Parse back; the IPv4 header must sum to 0 including its checksum and
	 * the UDP checksum must verify against the pseudo-header. */
	capture_load(path, &c);
	assert_int_equal(c.n_blocks, 3 + 5);
	check_idb(&c.blocks[1], "vh0", VSL_PCAPNG_DEFAULT_SNAPLEN);
	check_idb(&c.blocks[2], "dpdk0", VSL_PCAPNG_DEFAULT_SNAPLEN);
	for (size_t i = 0; i < 4; i++) {
		const struct block *b = &c.blocks[3 + i];
		const uint8_t *f = b->body + 20, *ip = f + 14;
		size_t ip_len = (size_t)ip[2] << 8 | ip[3];

		assert_int_equal(rd32(b->body), 0);
		assert_int_equal(f[12] << 8 | f[13], 0x0800);
		assert_int_equal(inet_csum(ip, 20, 0), 0);
		uint32_t pseudo = (10 << 8) + 1 + (10 << 8) + 2 + 17 + (uint32_t)(ip_len - 20);
		assert_int_equal(inet_csum(ip + 20, ip_len - 20, pseudo), 0);
	}
	assert_int_equal(rd32(c.blocks[7].body), 1);
	assert_int_equal(c.blocks[7].body[20 + 12] << 8 | c.blocks[7].body[20 + 13], 0x0806);
	capture_free(&c);
	if (out == NULL || out[0] == '\0')
		unlink(path);
	else
		print_message("# sample capture written to %s\n", path);
}

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return rmdir(tmp_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_optional_names),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_write_error_sticks),
		cmocka_unit_test(test_sample_capture),
	};

	return cmocka_run_group_tests_name("vsl_pcapng", tests, group_setup, group_teardown);
}
