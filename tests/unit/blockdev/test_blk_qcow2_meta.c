/* test_blk_qcow2_meta.c — the pure qcow2 metadata code: the layout of a new
 * image, header validation against crafted corrupt headers (every class of the
 * issue's bad-input list and of CVE-2014-0143..0148 / qemu-iotests 080: sizes,
 * cluster_bits, table offsets and sizes beyond the file or overlapping the
 * header or each other, feature bits, refcount order, backing name and
 * extension lengths), table entry checks, refcount arithmetic at every width
 * (overflow and underflow), index math, and the in-memory image check. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "blk_image.h"

static uint8_t *img;
static size_t img_len;
static char err[BLK_QCOW2_ERR_LEN];

static void put32(size_t off, uint32_t v)
{
	v = htobe32(v);
	memcpy(img + off, &v, 4);
}

static void put64(size_t off, uint64_t v)
{
	v = htobe64(v);
	memcpy(img + off, &v, 8);
}

static int setup(void **state)
{
	struct blk_qcow2_new n = { .size = 64 << 20 };
	void *p;

	(void)state;
	if (blk_qcow2_layout(&n, &p, &img_len, err, sizeof(err)))
		return -1;
	img = p;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(img);
	img = NULL;
	return 0;
}

static int parse(bool for_write, struct blk_qcow2_hdr *h)
{
	err[0] = '\0';
	return blk_qcow2_hdr_parse(img, img_len, img_len, for_write, h, err, sizeof(err));
}

static void expect_refused(int ret, const char *fragment)
{
	struct blk_qcow2_hdr h;

	assert_int_equal(parse(true, &h), ret);
	if (!strstr(err, fragment))
		fail_msg("message '%s' lacks '%s'", err, fragment);
}

static void test_layout_valid(void **state)
{
	struct blk_qcow2_hdr h;

	(void)state;
	assert_int_equal(parse(true, &h), 0);
	assert_int_equal(h.version, 3);
	assert_int_equal(h.cluster_bits, 16);
	assert_int_equal(h.size, 64 << 20);
	assert_int_equal(h.refcount_order, 4);
	assert_int_equal(h.l2_bits, 13);
	assert_int_equal(h.rb_bits, 15);
	assert_int_equal(h.l1_size, 1);     /* 64 MiB < 512 MiB per L2 table */
	assert_int_equal(h.l1_needed, 1);
	assert_int_equal(h.backing[0], '\0');
	assert_int_equal(blk_qcow2_image_check_mem(img, img_len, err, sizeof(err)), 0);
}

static void test_layout_backing(void **state)
{
	struct blk_qcow2_new n = { .size = 1 << 20, .cluster_bits = 12, .backing = "../base.img",
				   .backing_fmt = "raw" };
	struct blk_qcow2_hdr h;
	void *p;
	size_t len;

	(void)state;
	assert_int_equal(blk_qcow2_layout(&n, &p, &len, err, sizeof(err)), 0);
	assert_int_equal(blk_qcow2_hdr_parse(p, len, len, true, &h, err, sizeof(err)), 0);
	assert_string_equal(h.backing, "../base.img");
	assert_string_equal(h.backing_fmt, "raw");
	assert_int_equal(h.cluster_size, 4096);
	assert_int_equal(blk_qcow2_image_check_mem(p, len, err, sizeof(err)), 0);
	free(p);
	/* Refused layouts. */
	n.cluster_bits = 8;
	assert_int_equal(blk_qcow2_layout(&n, &p, &len, err, sizeof(err)), -EINVAL);
	n.cluster_bits = 16;
	n.size = 1000;
	assert_int_equal(blk_qcow2_layout(&n, &p, &len, err, sizeof(err)), -EINVAL);
}

static void test_bad_magic_version(void **state)
{
	(void)state;
	put32(0, 0x51464900);
	expect_refused(-EINVAL, "not a qcow2");
	put32(0, BLK_QCOW2_MAGIC);
	put32(4, 2);
	expect_refused(-ENOTSUP, "version 2");
	put32(4, 4);
	expect_refused(-ENOTSUP, "version 4");
}

static void test_bad_cluster_bits(void **state)
{
	static const uint32_t bad[] = { 0, 8, 22, 31, 32, 63, 64, 0xffffffff };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put32(20, bad[i]);
		expect_refused(-EINVAL, "cluster_bits");
	}
}

static void test_bad_size(void **state)
{
	(void)state;
	put64(24, 0);
	expect_refused(-EINVAL, "virtual size");
	put64(24, 1000);
	expect_refused(-EINVAL, "virtual size");
	put64(24, UINT64_MAX & ~511ull);   /* would overflow the L1 computation */
	expect_refused(-EINVAL, "virtual size");
	put64(24, 1ull << 57);
	expect_refused(-EINVAL, "virtual size");
	/* Growing the size without the L1 table (CVE-2014-0143 class). */
	put64(24, 1ull << 40);
	expect_refused(-EINVAL, "L1 table too small");
}

static void test_bad_l1(void **state)
{
	uint64_t cs = 65536;

	(void)state;
	put32(36, 0x7fffffff);                 /* huge l1_size: no allocation from it */
	expect_refused(-EINVAL, "L1 table too large");
	put32(36, (uint32_t)(BLK_QCOW2_MAX_L1_ENTRIES));
	expect_refused(-EINVAL, "beyond the end of the file");
	put32(36, 1);
	put64(40, 0);
	expect_refused(-EINVAL, "overlaps the header");
	put64(40, cs + 512);
	expect_refused(-EINVAL, "not cluster-aligned");
	put64(40, 1ull << 50);
	expect_refused(-EINVAL, "beyond the end of the file");
	put64(40, UINT64_MAX & ~(cs - 1));     /* offset + size would wrap */
	expect_refused(-EINVAL, "beyond the end of the file");
	put64(40, cs);                          /* on the refcount table */
	expect_refused(-EINVAL, "overlaps the refcount table");
}

static void test_bad_reftable(void **state)
{
	(void)state;
	put32(56, 0);
	expect_refused(-EINVAL, "refcount table is empty");
	put32(56, 0xffffffff);                  /* CVE-2014-0144 class */
	expect_refused(-EINVAL, "refcount table too large");
	put32(56, 1);
	put64(48, 0);
	expect_refused(-EINVAL, "overlaps the header");
	put64(48, 4096);
	expect_refused(-EINVAL, "not cluster-aligned");
	put64(48, 1ull << 45);
	expect_refused(-EINVAL, "refcount table beyond");
	put64(48, UINT64_MAX & ~65535ull);
	expect_refused(-EINVAL, "refcount table beyond");
}

static void test_feature_bits(void **state)
{
	static const struct {
		uint64_t bits;
		const char *msg;
	} cases[] = {
		{ 1, "dirty" },
		{ 2, "corrupt" },
		{ 4, "external data file" },
		{ 8, "compression type" },
		{ 16, "extended L2" },
		{ 1ull << 5, "unknown incompatible feature bit 5" },
		{ 1ull << 63, "unknown incompatible feature bit 63" },
	};
	struct blk_qcow2_hdr h;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put64(72, cases[i].bits);
		expect_refused(-ENOTSUP, cases[i].msg);
	}
	/* A dirty image may be inspected (image-info), not written. */
	put64(72, 1);
	assert_int_equal(parse(false, &h), 0);
	put64(72, 0);
	put32(32, 1);
	expect_refused(-ENOTSUP, "encryption");
	put32(32, 0);
	put32(60, 2);
	expect_refused(-ENOTSUP, "snapshots");
	put32(60, 0);
	/* Compatible and autoclear bits are fine. */
	put64(80, ~0ull);
	put64(88, ~0ull);
	assert_int_equal(parse(true, &h), 0);
}

static void test_refcount_order_and_header_length(void **state)
{
	struct blk_qcow2_hdr h;

	(void)state;
	put32(96, 7);
	expect_refused(-EINVAL, "refcount_order");
	for (uint32_t o = 0; o <= 6; o++) {
		put32(96, o);
		assert_int_equal(parse(true, &h), 0);
		assert_int_equal(h.rb_bits, 16 + 3 - o);
	}
	put32(96, 4);
	put32(100, 100);
	expect_refused(-EINVAL, "header_length");
	put32(100, 105);
	expect_refused(-EINVAL, "header_length");
	put32(100, 1u << 20);
	expect_refused(-EINVAL, "header_length");
	put32(100, 112);
	img[104] = 1;                           /* zstd */
	expect_refused(-ENOTSUP, "compression type 1");
}

static void test_backing_name_and_extensions(void **state)
{
	struct blk_qcow2_hdr h;

	(void)state;
	put64(8, 200);
	put32(16, 0);
	expect_refused(-EINVAL, "backing file name length");
	put32(16, 5000);
	expect_refused(-EINVAL, "backing file name length");
	put32(16, 10);
	put64(8, 65530);                        /* runs past the header cluster */
	expect_refused(-EINVAL, "outside the header");
	put64(8, 50);                           /* inside the header fields */
	expect_refused(-EINVAL, "outside the header");
	put64(8, 1ull << 62);
	expect_refused(-EINVAL, "outside the header");
	put64(8, 0);
	put32(16, 0);
	/* An extension whose length runs past the cluster (and a huge one). */
	put32(112, 0x6803f857);
	put32(116, 70000);
	expect_refused(-EINVAL, "beyond the header cluster");
	put32(116, 0xffffffff);
	expect_refused(-EINVAL, "beyond the header cluster");
	put32(112, 0x44415441);                 /* external data file name */
	put32(116, 8);
	expect_refused(-ENOTSUP, "external data file");
	put32(112, 0x0537be77);
	expect_refused(-ENOTSUP, "encryption");
	put32(112, 0xe2792aca);                 /* backing format, too long */
	put32(116, 40);
	expect_refused(-EINVAL, "backing format");
	put32(112, 0x12345678);                 /* unknown: skipped */
	put32(116, 3);
	assert_int_equal(parse(true, &h), 0);
	/* A header truncated before its extensions asks for more. */
	assert_int_equal(blk_qcow2_hdr_parse(img, 112, img_len, true, &h, err, sizeof(err)),
			 -EAGAIN);
	assert_int_equal(blk_qcow2_hdr_parse(img, 60, img_len, true, &h, err, sizeof(err)),
			 -EINVAL);
}

static void test_entry_checks(void **state)
{
	struct blk_qcow2_hdr h;
	uint64_t end = 1 << 20, cs = 65536;

	(void)state;
	assert_int_equal(parse(true, &h), 0);
	assert_int_equal(blk_qcow2_l1_entry_check(&h, 0, end, err, sizeof(err)), 0);
	assert_int_equal(blk_qcow2_l1_entry_check(&h, BLK_QCOW2_OFLAG_COPIED | 4 * cs, end, err,
						  sizeof(err)), 0);
	assert_int_equal(blk_qcow2_l1_entry_check(&h, 4 * cs + 512, end, err, sizeof(err)), -EINVAL);
	assert_int_equal(blk_qcow2_l1_entry_check(&h, 1, end, err, sizeof(err)), -EINVAL);
	assert_int_equal(blk_qcow2_l1_entry_check(&h, 16 * cs, end, err, sizeof(err)), -EINVAL);
	assert_int_equal(blk_qcow2_l1_entry_check(&h, 1ull << 60 | cs, end, err, sizeof(err)),
			 -EINVAL);
	/* L2: past the end, unaligned, reserved bits, compressed. */
	assert_int_equal(blk_qcow2_l2_entry_check(&h, BLK_QCOW2_OFLAG_COPIED | 15 * cs, end, err,
						  sizeof(err)), 0);
	assert_int_equal(blk_qcow2_l2_entry_check(&h, BLK_QCOW2_OFLAG_ZERO, end, err, sizeof(err)),
			 0);
	assert_int_equal(blk_qcow2_l2_entry_check(&h, 16 * cs, end, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "past the end"));
	assert_int_equal(blk_qcow2_l2_entry_check(&h, 3 * cs + 4096, end, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(blk_qcow2_l2_entry_check(&h, 3 * cs | 2, end, err, sizeof(err)), -EINVAL);
	assert_int_equal(blk_qcow2_l2_entry_check(&h, BLK_QCOW2_OFLAG_COMPRESSED | 3 * cs, end, err,
						  sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "compressed"));
	/* Refcount table entries. */
	assert_int_equal(blk_qcow2_reft_entry_check(&h, 2 * cs, end, err, sizeof(err)), 0);
	assert_int_equal(blk_qcow2_reft_entry_check(&h, 2 * cs + 1, end, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(blk_qcow2_reft_entry_check(&h, end, end, err, sizeof(err)), -EINVAL);
}

static void test_refcounts_every_width(void **state)
{
	uint8_t block[4096];

	(void)state;
	for (uint32_t order = 0; order <= 6; order++) {
		uint64_t max = order == 6 ? UINT64_MAX : (1ull << (1u << order)) - 1;
		uint64_t n = sizeof(block) * 8 >> order;

		memset(block, 0, sizeof(block));
		for (uint64_t i = 0; i < n; i += 7)
			assert_int_equal(blk_qcow2_refcount_set(block, order, i, i & max), 0);
		for (uint64_t i = 0; i < n; i += 7)
			assert_int_equal(blk_qcow2_refcount_get(block, order, i), i & max);
		/* Neighbours untouched. */
		if (n > 1)
			assert_int_equal(blk_qcow2_refcount_get(block, order, 1), 0);
		/* Overflow and underflow (the "refcount overflow" class). */
		memset(block, 0, sizeof(block));
		assert_int_equal(blk_qcow2_refcount_set(block, order, 3, max), 0);
		assert_int_equal(blk_qcow2_refcount_add(block, order, 3, 1), -ERANGE);
		assert_int_equal(blk_qcow2_refcount_get(block, order, 3), max);
		assert_int_equal(blk_qcow2_refcount_add(block, order, 4, -1), -ERANGE);
		assert_int_equal(blk_qcow2_refcount_add(block, order, 4, 1), 0);
		assert_int_equal(blk_qcow2_refcount_get(block, order, 4), 1);
		if (order < 6)
			assert_int_equal(blk_qcow2_refcount_set(block, order, 5, max + 1), -ERANGE);
	}
	/* 16-bit is big-endian on disk. */
	memset(block, 0, sizeof(block));
	blk_qcow2_refcount_set(block, 4, 1, 0x1234);
	assert_int_equal(block[2], 0x12);
	assert_int_equal(block[3], 0x34);
	/* 1-bit: least significant bit first. */
	memset(block, 0, sizeof(block));
	blk_qcow2_refcount_set(block, 0, 1, 1);
	assert_int_equal(block[0], 0x02);
}

static void test_index_math(void **state)
{
	struct blk_qcow2_hdr h;

	(void)state;
	assert_int_equal(parse(true, &h), 0);
	/* 64 KiB clusters: an L2 table maps 512 MiB, a refcount block 2 GiB. */
	assert_int_equal(blk_qcow2_l1_index(&h, (512ull << 20) - 1), 0);
	assert_int_equal(blk_qcow2_l1_index(&h, 512ull << 20), 1);
	assert_int_equal(blk_qcow2_l2_index(&h, 65536 * 5 + 17), 5);
	assert_int_equal(blk_qcow2_l2_index(&h, (512ull << 20) + 65536), 1);
	assert_int_equal(blk_qcow2_reft_index(&h, (2ull << 30) - 65536), 0);
	assert_int_equal(blk_qcow2_reft_index(&h, 2ull << 30), 1);
	assert_int_equal(blk_qcow2_rb_index(&h, (2ull << 30) + 3 * 65536), 3);
}

static void test_image_check_mem(void **state)
{
	uint64_t cs = 65536;
	uint8_t *big;
	size_t len = img_len + 2 * cs;

	(void)state;
	/* Map one L2 table and one data cluster, with and without refcounts. */
	big = calloc(1, len);
	assert_non_null(big);
	memcpy(big, img, img_len);
	free(img);
	img = big;
	img_len = len;
	{
		struct blk_qcow2_hdr h;
		uint64_t l2 = len - 2 * cs, data = len - cs, rb;

		assert_int_equal(parse(true, &h), 0);
		put64(h.l1_offset, BLK_QCOW2_OFLAG_COPIED | l2);
		put64(l2 + 8, BLK_QCOW2_OFLAG_COPIED | data);
		assert_int_equal(blk_qcow2_image_check_mem(img, img_len, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "refcount 0"));
		memcpy(&rb, img + h.reftable_offset, 8);
		rb = be64toh(rb);
		blk_qcow2_refcount_set(img + rb, 4, l2 / cs, 1);
		blk_qcow2_refcount_set(img + rb, 4, data / cs, 1);
		assert_int_equal(blk_qcow2_image_check_mem(img, img_len, err, sizeof(err)), 0);
		put64(l2 + 16, BLK_QCOW2_OFLAG_COPIED | (len + cs));
		assert_int_equal(blk_qcow2_image_check_mem(img, img_len, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "past the end"));
	}
	/* Truncated images never read out of bounds. */
	for (size_t cut = 0; cut < 300; cut += 7)
		assert_int_not_equal(blk_qcow2_image_check_mem(img, cut, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layout_backing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_magic_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_cluster_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_l1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_reftable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feature_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refcount_order_and_header_length, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_backing_name_and_extensions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refcounts_every_width, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_math, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_check_mem, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
