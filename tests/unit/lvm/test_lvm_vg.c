/* test_lvm_vg.c — VGs and LVs over malloc/error bdevs, with a reactor driven
 * by the test thread (also the control thread): create, LV I/O across
 * segments and stripes, extend/reduce/rename/remove, zeroes on reuse,
 * activation (newest copy wins, stale PVs updated, missing PV by name,
 * partial), refusals writing nothing, and a power cut at every write of a
 * commit (the VG opens with the old or the new metadata, never neither). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "blockdev/blk_test_util.h"
#include "lvm_internal.h"

static struct blk_reactor *R;
static const char *const PV2[] = { "m0", "m1" };
static char err[256];

static int setup(void **state)
{
	struct blk_bdev *b;

	(void)state;
	R = blk_reactor_create(0, 512, 64);
	if (!R)
		return -1;
	blk_reactor_poll(R, 0);
	for (int i = 0; i < 3; i++) {
		char n[8];

		snprintf(n, sizeof(n), "m%d", i);
		if (blk_malloc_create(n, 34ull << 20, 512, &b))
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	blk_bdev_delete_all();
	blk_reactor_destroy(R);
	return 0;
}

static int io(struct blk_bdev *b, enum blk_io_type t, uint64_t off, void *buf, uint64_t len)
{
	return sync_io(b, R, t, 0, off, buf, len);
}

static void pattern(unsigned char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)((i / 512) * 31 + seed + i);
}

static struct lvm_vg *mkvg(const char *name, const char *const *pvs, unsigned n)
{
	struct lvm_vg *vg = NULL;
	int ret = lvm_vg_create(name, pvs, n, 1 << 20, &vg, err, sizeof(err));

	if (ret)
		fail_msg("vg_create: %d %s", ret, err);
	return vg;
}

static void mklv(struct lvm_vg *vg, const char *name, uint64_t size, uint32_t stripes)
{
	struct lvm_lv_opts o = { .name = name, .size = size, .stripes = stripes,
				 .stripe_size = stripes > 1 ? 8192 : 0 };
	int ret = lvm_lv_create(vg, &o, err, sizeof(err));

	if (ret)
		fail_msg("lv_create %s: %d %s", name, ret, err);
}

static void test_linear_striped_io(void **state)
{
	struct lvm_vg *vg = mkvg("vg", PV2, 2);
	struct blk_bdev *a, *s;
	size_t len = 3 << 20;
	unsigned char *w = malloc(len), *r = malloc(len);

	(void)state;
	/* Striped first (4 extents on each PV), then 40 MiB linear over the
	 * rest: 29 extents on m0, 11 on m1. */
	mklv(vg, "st", 8 << 20, 2);
	mklv(vg, "big", 40 << 20, 1);
	a = blk_bdev_find("vg-big");
	s = blk_bdev_find("vg-st");
	assert_non_null(a);
	assert_non_null(s);
	assert_int_equal(blk_bdev_size(a), 40 << 20);
	assert_int_equal(vg->md->lvs[1].n_segs, 2);
	pattern(w, len, 1);
	/* Across the segment (and PV) boundary at 29 MiB. */
	assert_int_equal(io(a, BLK_IO_WRITE, (29ull << 20) - 4096, w, len), 0);
	assert_int_equal(io(a, BLK_IO_READ, (29ull << 20) - 4096, r, len), 0);
	assert_memory_equal(w, r, len);
	pattern(w, len, 2);
	assert_int_equal(io(s, BLK_IO_WRITE, 4096, w, len), 0);
	memset(r, 0, len);
	assert_int_equal(io(s, BLK_IO_READ, 4096, r, len), 0);
	assert_memory_equal(w, r, len);
	/* Striping: LV bytes [8K,16K) live on the second stripe's PV. */
	{
		uint32_t pv;
		uint64_t off, max;
		const struct lvm_seg_md *seg = &vg->md->segs[vg->md->lvs[0].first_seg];

		lvm_seg_map(seg, vg->md->extent_size, 8192, &pv, &off, &max);
		assert_int_equal(io(vg->pv[pv], BLK_IO_READ, off, r, 4096), 0);
		assert_memory_equal(r, w + 4096, 4096);
	}
	assert_int_equal(io(a, BLK_IO_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(io(a, BLK_IO_READ, 40 << 20, r, 4096), -ERANGE);
	assert_int_equal(lvm_lv_remove(vg, "big", err, sizeof(err)), 0);
	assert_int_equal(lvm_lv_remove(vg, "st", err, sizeof(err)), 0);
	assert_null(blk_bdev_find("vg-big"));
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), 0);
	assert_null(lvm_vg_find("vg"));
	free(w);
	free(r);
}

static void test_reuse_reads_zeroes(void **state)
{
	struct lvm_vg *vg = mkvg("vz", PV2, 2);
	size_t len = 1 << 20;
	unsigned char *w = malloc(len), *r = malloc(len);

	(void)state;
	mklv(vg, "a", 8 << 20, 1);
	memset(w, 0xab, len);
	for (uint64_t off = 0; off < (8 << 20); off += len)
		assert_int_equal(io(blk_bdev_find("vz-a"), BLK_IO_WRITE, off, w, len), 0);
	assert_int_equal(lvm_lv_remove(vg, "a", err, sizeof(err)), 0);
	mklv(vg, "b", 8 << 20, 1);
	for (uint64_t off = 0; off < (8 << 20); off += len) {
		assert_int_equal(io(blk_bdev_find("vz-b"), BLK_IO_READ, off, r, len), 0);
		assert_true(all_bytes(r, 0, len));
	}
	/* Extend, rename, shrink needs force. */
	assert_int_equal(lvm_lv_resize(vg, "b", 12 << 20, false, err, sizeof(err)), 0);
	assert_int_equal(blk_bdev_size(blk_bdev_find("vz-b")), 12 << 20);
	assert_int_equal(lvm_lv_resize(vg, "b", 4 << 20, false, err, sizeof(err)), -EPERM);
	assert_int_equal(lvm_lv_resize(vg, "b", 4 << 20, true, err, sizeof(err)), 0);
	assert_int_equal(blk_bdev_size(blk_bdev_find("vz-b")), 4 << 20);
	assert_int_equal(lvm_lv_rename(vg, "b", "c", err, sizeof(err)), 0);
	assert_null(blk_bdev_find("vz-b"));
	assert_non_null(blk_bdev_find("vz-c"));
	/* bdev-delete of an LV is refused; lvremove of an open LV too. */
	assert_int_equal(blk_bdev_delete("vz-c"), -EBUSY);
	{
		struct blk_bdev *h;

		assert_int_equal(blk_bdev_open("vz-c", NULL, &h), 0);
		assert_int_equal(lvm_lv_remove(vg, "c", err, sizeof(err)), -EBUSY);
		blk_bdev_close(h, false);
	}
	assert_int_equal(lvm_lv_remove(vg, "c", err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), 0);
	free(w);
	free(r);
}

static void test_activate(void **state)
{
	struct lvm_vg *vg = mkvg("va", PV2, 2);
	const char *const one[] = { "m0" };
	const char *const third[] = { "m2" };
	unsigned char buf[4096];

	(void)state;
	mklv(vg, "a", 2 << 20, 1);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(io(blk_bdev_find("va-a"), BLK_IO_WRITE, 0, buf, sizeof(buf)), 0);
	assert_int_equal(lvm_vg_extend(vg, "m2", err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_reduce(vg, "m2", err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_deactivate(vg, err, sizeof(err)), 0);
	assert_null(lvm_vg_find("va"));
	/* Missing PV: named. */
	assert_int_equal(lvm_vg_activate("va", one, 1, false, &vg, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "m1"));
	/* m2 left the VG: refused by name. */
	assert_int_equal(lvm_vg_activate("va", third, 1, false, &vg, err, sizeof(err)), -ENOENT);
	/* Partial: "a" lives on m0 only, so it is there; no changes allowed. */
	assert_int_equal(lvm_vg_activate("va", one, 1, true, &vg, err, sizeof(err)), 0);
	assert_true(vg->partial);
	assert_non_null(blk_bdev_find("va-a"));
	assert_int_equal(lvm_lv_remove(vg, "a", err, sizeof(err)), -EROFS);
	assert_int_equal(lvm_vg_deactivate(vg, err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_activate("va", PV2, 2, false, &vg, err, sizeof(err)), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(io(blk_bdev_find("va-a"), BLK_IO_READ, 0, buf, sizeof(buf)), 0);
	assert_true(all_bytes(buf, 0x5a, sizeof(buf)));
	assert_int_equal(lvm_lv_remove(vg, "a", err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), 0);
}

static void snapshot(unsigned char *out)
{
	for (int i = 0; i < 3; i++) {
		char n[8];

		snprintf(n, sizeof(n), "m%d", i);
		assert_int_equal(io(blk_bdev_find(n), BLK_IO_READ, 0, out + (size_t)i * LVM_DATA_OFFSET,
				    LVM_DATA_OFFSET), 0);
	}
}

static void test_refusals_write_nothing(void **state)
{
	struct lvm_vg *vg = mkvg("vr", PV2, 2);
	unsigned char *before = malloc(3 * LVM_DATA_OFFSET), *after = malloc(3 * LVM_DATA_OFFSET);
	struct lvm_lv_opts bad[] = {
		{ .name = "a/b", .size = 1 << 20 }, { .name = "a\n", .size = 1 << 20 },
		{ .name = "z", .size = 0 },        { .name = "z", .size = 1ull << 63 },
		{ .name = "z", .size = 1ull << 40 }, { .name = "z", .size = 4 << 20, .stripes = 3 },
		{ .name = "z", .size = 4 << 20, .stripes = 2, .stripe_size = 1000 },
	};
	const char *const dup[] = { "m0", "m0" };
	struct lvm_vg *x = NULL;

	(void)state;
	mklv(vg, "a", 2 << 20, 1);
	snapshot(before);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_true(lvm_lv_create(vg, &bad[i], err, sizeof(err)) < 0);
		assert_true(err[0] != 0);
	}
	assert_int_equal(lvm_lv_create(vg, &(struct lvm_lv_opts){ .name = "a", .size = 1 << 20 },
				       err, sizeof(err)), -EEXIST);
	assert_true(lvm_vg_create("v-x", (const char *const[]){ "m2" }, 1, 0, &x, err,
				  sizeof(err)) < 0);
	assert_true(lvm_vg_create("vx", dup, 2, 0, &x, err, sizeof(err)) < 0);
	assert_true(lvm_vg_create("vx", (const char *const[]){ "m2" }, 1, 3 << 20, &x, err,
				  sizeof(err)) < 0);
	assert_int_equal(lvm_vg_reduce(vg, "m0", err, sizeof(err)), -EBUSY);
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), -EBUSY);
	assert_int_equal(lvm_lv_rename(vg, "a", "b/c", err, sizeof(err)), -EINVAL);
	snapshot(after);
	assert_memory_equal(before, after, 3 * LVM_DATA_OFFSET);
	assert_int_equal(lvm_lv_remove(vg, "a", err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), 0);
	free(before);
	free(after);
}

/* Power cut at the k-th write (or right after the k-th flush) of a commit on
 * one PV: after the cut the VG activates with the old or the new copy. */
static const char *lv_bdev(const char *lv)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "vp-%s", lv);
	return buf;
}

static void test_power_cut(void **state)
{
	const char *const epv[] = { "e0", "e1" };
	struct blk_bdev *e[2];
	struct lvm_vg *vg;
	unsigned seen_old = 0, seen_new = 0;

	(void)state;
	assert_int_equal(blk_error_create("e0", "m0", &e[0]), 0);
	assert_int_equal(blk_error_create("e1", "m1", &e[1]), 0);
	vg = mkvg("vp", epv, 2);
	/* Armed for the whole test: data written while armed lives in the
	 * shadow, and DISARM would need it empty. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(blk_error_inject(e[i], &(struct blk_error_cfg){
			.power_cut = BLK_ERR_PC_ARM }), 0);
	for (unsigned mode = 0; mode < 2; mode++) {
		for (unsigned victim = 0; victim < 2; victim++) {
			for (uint64_t k = 1; k <= 6; k++) {
				struct blk_error_cfg inj = { 0 };
				struct blk_error_cfg cut = { .clear = true, .power_cut = BLK_ERR_PC_CUT };
				uint64_t old_seq = vg->md->seq;
				char name[16];
				int ret;

				snprintf(name, sizeof(name), "l%u%u%llu", mode, victim,
					 (unsigned long long)k);
				if (mode == 0) {
					inj.fail_nth = k;
					inj.fail_count = 1000;
					inj.fail_io = BLK_ERR_IO_WRITE;
				} else {
					inj.die_after_flush = k;
				}
				assert_int_equal(blk_error_inject(e[victim], &inj), 0);
				ret = lvm_lv_create(vg, &(struct lvm_lv_opts){ .name = name,
									.size = 1 << 20 },
						    err, sizeof(err));
				for (int i = 0; i < 2; i++)
					assert_int_equal(blk_error_inject(e[i], &cut), 0);
				assert_int_equal(lvm_vg_deactivate(vg, err, sizeof(err)), 0);
				vg = NULL;
				ret = lvm_vg_activate("vp", epv, 2, false, &vg, err, sizeof(err));
				if (ret)
					fail_msg("mode %u victim %u k %llu: activate %d %s", mode, victim,
						 (unsigned long long)k, ret, err);
				assert_true(vg->md->seq == old_seq || vg->md->seq == old_seq + 1);
				if (vg->md->seq == old_seq) {
					seen_old++;
					assert_true(lvm_md_lv_find(vg->md, name) < 0);
				} else {
					seen_new++;
					assert_true(lvm_md_lv_find(vg->md, name) >= 0);
					assert_non_null(blk_bdev_find(lv_bdev(name)));
				}
				(void)ret;
			}
		}
	}
	assert_true(seen_old > 0);
	assert_true(seen_new > 0);
	assert_int_equal(lvm_vg_deactivate(vg, err, sizeof(err)), 0);
	assert_int_equal(blk_bdev_delete("e0"), 0);
	assert_int_equal(blk_bdev_delete("e1"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_striped_io),
		cmocka_unit_test(test_reuse_reads_zeroes),
		cmocka_unit_test(test_activate),
		cmocka_unit_test(test_refusals_write_nothing),
		cmocka_unit_test(test_power_cut),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
