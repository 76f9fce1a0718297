/* test_lvm_meta.c — the metadata codec: round trip, PV label, extent-map
 * math, allocation, and every class of bad input the parser must refuse. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lvm_internal.h"
#include "vsl_crc32c.h"

static struct lvm_md *good_md(void)
{
	struct lvm_md *md = lvm_md_alloc();

	assert_non_null(md);
	md->seq = 9;
	for (int i = 0; i < 16; i++)
		md->vg_uuid[i] = (uint8_t)(i + 1);
	strcpy(md->vg_name, "vg0");
	md->extent_size = 4 << 20;
	md->n_pvs = 2;
	for (int p = 0; p < 2; p++) {
		memset(md->pvs[p].uuid, 0x10 + p, 16);
		md->pvs[p].dev_size = (64ull << 20) + LVM_DATA_OFFSET;
		md->pvs[p].pe_count = 16;
		strcpy(md->pvs[p].name_hint, p ? "f1" : "f0");
	}
	/* lv a: linear 3 extents on pv0 [0,3) + 2 on pv1 [0,2); lv b: striped 4 on both. */
	md->n_lvs = 2;
	strcpy(md->lvs[0].name, "a");
	memset(md->lvs[0].uuid, 0xaa, 16);
	md->lvs[0].le_count = 5;
	md->lvs[0].first_seg = 0;
	md->lvs[0].n_segs = 2;
	strcpy(md->lvs[1].name, "b-2");
	memset(md->lvs[1].uuid, 0xbb, 16);
	md->lvs[1].le_count = 4;
	md->lvs[1].first_seg = 2;
	md->lvs[1].n_segs = 1;
	md->n_segs = 3;
	md->segs[0] = (struct lvm_seg_md){ .le_start = 0, .le_count = 3, .stripes = 1,
					   .area = { { 0, 0 } } };
	md->segs[1] = (struct lvm_seg_md){ .le_start = 3, .le_count = 2, .stripes = 1,
					   .area = { { 1, 0 } } };
	md->segs[2] = (struct lvm_seg_md){ .le_start = 0, .le_count = 4, .stripes = 2,
					   .stripe_size = 64 << 10,
					   .area = { { 0, 3 }, { 1, 2 } } };
	assert_int_equal(lvm_md_check(md, NULL, 0), 0);
	return md;
}

static unsigned char slot[LVM_SLOT_SIZE];

static int reparse(const struct lvm_md *md, struct lvm_md **out)
{
	lvm_md_encode(md, slot);
	return lvm_md_decode(slot, sizeof(slot), out, NULL, 0);
}

static void test_roundtrip(void **state)
{
	struct lvm_md *md = good_md(), *back;
	size_t len;

	(void)state;
	len = lvm_md_encode(md, slot);
	assert_int_equal(len % LVM_BLOCK, 0);
	assert_int_equal(lvm_md_decode(slot, sizeof(slot), &back, NULL, 0), 0);
	assert_int_equal(back->seq, 9);
	assert_string_equal(back->vg_name, "vg0");
	assert_int_equal(back->n_lvs, 2);
	assert_string_equal(back->lvs[1].name, "b-2");
	assert_memory_equal(back->segs, md->segs, sizeof(*md->segs) * md->n_segs);
	assert_memory_equal(back->pvs, md->pvs, sizeof(*md->pvs) * md->n_pvs);
	assert_int_equal(lvm_md_pv_free(back, 0), 16 - 3 - 2);
	assert_int_equal(lvm_md_pv_free(back, 1), 16 - 2 - 2);
	lvm_md_free(back);
	lvm_md_free(md);
}

static void test_empty_and_crc(void **state)
{
	struct lvm_md *md = good_md(), *back;
	char err[160];

	(void)state;
	memset(slot, 0, sizeof(slot));
	assert_int_equal(lvm_md_decode(slot, sizeof(slot), &back, NULL, 0), -ENODATA);
	lvm_md_encode(md, slot);
	slot[200] ^= 1;
	assert_int_equal(lvm_md_decode(slot, sizeof(slot), &back, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "CRC"));
	assert_null(back);
	/* Short buffers and absurd lengths. */
	lvm_md_encode(md, slot);
	assert_int_equal(lvm_md_decode(slot, 100, &back, NULL, 0), -ENODATA);
	assert_int_equal(lvm_md_decode(slot, 4096 - 1, &back, NULL, 0), -EBADMSG);
	lvm_md_free(md);
}

/* Re-signs a tampered record so only the semantic checks can refuse it. */
static void resign(void)
{
	struct lvm_disk_md_hdr *h = (void *)slot;
	uint32_t len = le32toh(h->len);

	h->crc = 0;
	h->crc = htole32(vsl_crc32c(0, slot, len));
}

typedef void (*mutate_fn)(struct lvm_md *md);

static void m_overlap(struct lvm_md *md) { md->segs[2].area[0].pe_start = 2; }
static void m_past_end(struct lvm_md *md) { md->segs[1].area[0].pe_start = 15; }
static void m_unknown_pv(struct lvm_md *md) { md->segs[1].area[0].pv = 7; }
static void m_zero_size(struct lvm_md *md) { md->lvs[0].le_count = 0; }
static void m_huge_size(struct lvm_md *md) { md->pvs[0].dev_size = 1ull << 63; }
static void m_slash(struct lvm_md *md) { strcpy(md->lvs[0].name, "a/b"); }
static void m_ctrl(struct lvm_md *md) { strcpy(md->lvs[0].name, "a\nb"); }
static void m_vg_dash(struct lvm_md *md) { strcpy(md->vg_name, "v-g"); }
static void m_extent(struct lvm_md *md) { md->extent_size = 3 << 20; }
static void m_gap(struct lvm_md *md) { md->segs[1].le_start = 4; }
static void m_dup_lv(struct lvm_md *md) { strcpy(md->lvs[1].name, "a"); }
static void m_stripes(struct lvm_md *md) { md->segs[2].stripes = 9; }
static void m_stripe_same_pv(struct lvm_md *md) { md->segs[2].area[1].pv = 0; md->segs[2].area[1].pe_start = 10; }
static void m_stripe_size(struct lvm_md *md) { md->segs[2].stripe_size = 1000; }
static void m_pe_count(struct lvm_md *md) { md->pvs[1].pe_count = 17; }
static void m_dup_pv(struct lvm_md *md) { memcpy(md->pvs[1].uuid, md->pvs[0].uuid, 16); }
static void m_zero_uuid(struct lvm_md *md) { memset(md->vg_uuid, 0, 16); }
static void m_seg_range(struct lvm_md *md) { md->lvs[1].first_seg = 1; }
static void m_no_pvs(struct lvm_md *md) { md->n_pvs = 0; }
static void m_seg_cover(struct lvm_md *md) { md->lvs[0].le_count = 6; }

static void test_refusals(void **state)
{
	static const mutate_fn fns[] = {
		m_overlap, m_past_end, m_unknown_pv, m_zero_size, m_huge_size, m_slash, m_ctrl,
		m_vg_dash, m_extent, m_gap, m_dup_lv, m_stripes, m_stripe_same_pv, m_stripe_size,
		m_pe_count, m_dup_pv, m_zero_uuid, m_seg_range, m_no_pvs, m_seg_cover,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		struct lvm_md *md = good_md(), *back = NULL;
		char err[160] = "";

		fns[i](md);
		assert_int_equal(lvm_md_check(md, NULL, 0), -EINVAL);
		/* Write it anyway (bypassing check) with a valid CRC: the parser refuses. */
		lvm_md_encode(md, slot);
		resign();
		assert_int_equal(lvm_md_decode(slot, sizeof(slot), &back, err, sizeof(err)), -EBADMSG);
		assert_null(back);
		assert_true(err[0] != 0);
		lvm_md_free(md);
	}
}

static void test_raw_tamper(void **state)
{
	struct lvm_md *md = good_md(), *back = NULL;
	struct lvm_disk_md_hdr *h = (void *)slot;

	(void)state;
	lvm_md_encode(md, slot);
	h->n_segs = htole32(5000);
	resign();
	assert_int_equal(lvm_md_decode(slot, sizeof(slot), &back, NULL, 0), -EBADMSG);
	lvm_md_encode(md, slot);
	h->version = htole32(2);
	resign();
	assert_int_equal(lvm_md_decode(slot, sizeof(slot), &back, NULL, 0), -EBADMSG);
	lvm_md_encode(md, slot);
	h->len = htole32(LVM_SLOT_SIZE + 4096);
	assert_int_equal(lvm_md_decode(slot, sizeof(slot), &back, NULL, 0), -EBADMSG);
	/* Junk in an unused stripe slot. */
	lvm_md_encode(md, slot);
	{
		struct lvm_disk_seg *s = (void *)(slot + sizeof(*h) + 2 * sizeof(struct lvm_disk_pv) +
						  2 * sizeof(struct lvm_disk_lv));
		s->area[3].pe_start = htole64(1);
	}
	resign();
	assert_int_equal(lvm_md_decode(slot, sizeof(slot), &back, NULL, 0), -EBADMSG);
	lvm_md_free(md);
}

static void test_label(void **state)
{
	unsigned char block[LVM_BLOCK];
	struct lvm_label l = { .dev_size = 100 << 20 }, back;

	(void)state;
	memset(l.pv_uuid, 7, 16);
	lvm_label_encode(&l, block);
	assert_int_equal(lvm_label_decode(block, sizeof(block), &back, NULL, 0), 0);
	assert_memory_equal(back.pv_uuid, l.pv_uuid, 16);
	assert_int_equal(back.dev_size, 100 << 20);
	block[40] ^= 4;
	assert_int_equal(lvm_label_decode(block, sizeof(block), &back, NULL, 0), -EBADMSG);
	memset(block, 0, sizeof(block));
	assert_int_equal(lvm_label_decode(block, sizeof(block), &back, NULL, 0), -ENODATA);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(lvm_vg_name_valid("vg_0.x"));
	assert_false(lvm_vg_name_valid("vg-0"));
	assert_false(lvm_vg_name_valid(".vg"));
	assert_false(lvm_vg_name_valid(""));
	assert_true(lvm_lv_name_valid("lv-0"));
	assert_false(lvm_lv_name_valid("-lv"));
	assert_false(lvm_lv_name_valid("a/b"));
	assert_false(lvm_lv_name_valid("a\tb"));
}

static void test_seg_map(void **state)
{
	struct lvm_seg_md lin = { .le_start = 0, .le_count = 3, .stripes = 1,
				  .area = { { 1, 5 } } };
	struct lvm_seg_md str = { .le_start = 0, .le_count = 4, .stripes = 2,
				  .stripe_size = 64 << 10, .area = { { 0, 3 }, { 1, 2 } } };
	uint64_t es = 4 << 20, off, max;
	uint32_t pv;

	(void)state;
	lvm_seg_map(&lin, es, 4096, &pv, &off, &max);
	assert_int_equal(pv, 1);
	assert_int_equal(off, LVM_DATA_OFFSET + 5 * es + 4096);
	assert_int_equal(max, 3 * es - 4096);
	lvm_seg_map(&str, es, 0, &pv, &off, &max);
	assert_int_equal(pv, 0);
	assert_int_equal(off, LVM_DATA_OFFSET + 3 * es);
	assert_int_equal(max, 64 << 10);
	lvm_seg_map(&str, es, (64 << 10) + 512, &pv, &off, &max);
	assert_int_equal(pv, 1);
	assert_int_equal(off, LVM_DATA_OFFSET + 2 * es + 512);
	assert_int_equal(max, (64 << 10) - 512);
	lvm_seg_map(&str, es, 3 * (64 << 10), &pv, &off, &max);
	assert_int_equal(pv, 1);
	assert_int_equal(off, LVM_DATA_OFFSET + 2 * es + (64 << 10));
}

static void test_alloc(void **state)
{
	struct lvm_md *md = good_md();
	struct lvm_zero zero[16];
	unsigned n_zero = 0;
	char err[160];

	(void)state;
	/* Extend lv a by 20 extents: fills pv0's holes then pv1's. */
	assert_int_equal(lvm_alloc_extend(md, 0, 20, 1, 0, zero, &n_zero, 16, err, sizeof(err)),
			 0);
	assert_int_equal(md->lvs[0].le_count, 25);
	assert_int_equal(lvm_md_check(md, err, sizeof(err)), 0);
	assert_true(n_zero >= 2);
	/* Only 16+16-25-4 = 3 extents left. */
	n_zero = 0;
	assert_int_equal(lvm_alloc_extend(md, 1, 4, 2, 65536, zero, &n_zero, 16, err, sizeof(err)),
			 -ENOSPC);
	assert_int_equal(lvm_alloc_shrink(md, 0, 2), 0);
	assert_int_equal(lvm_md_check(md, err, sizeof(err)), 0);
	assert_int_equal(md->lvs[0].n_segs, 1);
	lvm_md_lv_delete(md, 0);
	assert_int_equal(lvm_md_check(md, err, sizeof(err)), 0);
	assert_int_equal(md->n_lvs, 1);
	assert_int_equal(md->lvs[0].first_seg, 0);
	lvm_md_free(md);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),   cmocka_unit_test(test_empty_and_crc),
		cmocka_unit_test(test_refusals),    cmocka_unit_test(test_raw_tamper),
		cmocka_unit_test(test_label),       cmocka_unit_test(test_names),
		cmocka_unit_test(test_seg_map),     cmocka_unit_test(test_alloc),
	};

	(void)reparse;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
