/* test_lvm_thin.c — thin pools, thin LVs and snapshots over malloc/error
 * bdevs, with a reactor driven by the test thread (also the control thread):
 * mapping and zero-fill, persistence across deactivate/activate, snapshot
 * isolation and reference counts, over-commit to ENOSPC with earlier data
 * intact, discard freeing chunks, reused chunks reading zeroes, extend, and a
 * power cut at every write and after every flush of a pool commit (the pool
 * opens consistent and every flushed write reads back). */
#include <endian.h>
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
#include "lvm_thin_internal.h"
#include "lvm_thin_meta.h"
#include "vsl_crc32c.h"

enum { CS = 64 * 1024 };

static struct blk_reactor *R;
static char err[256];

static int setup(void **state)
{
	struct blk_bdev *b;

	(void)state;
	R = blk_reactor_create(0, 512, 64);
	if (!R)
		return -1;
	blk_reactor_poll(R, 0);
	for (int i = 0; i < 2; i++) {
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

static int io(const char *bdev, enum blk_io_type t, uint64_t off, void *buf, uint64_t len)
{
	struct blk_bdev *b = blk_bdev_find(bdev);

	if (!b)
		fail_msg("no bdev %s", bdev);
	return sync_io(b, R, t, 0, off, buf, len);
}

static void pattern(unsigned char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)((i / 512) * 31 + seed * 7 + i + 1);
}

static struct lvm_vg *mkvg(const char *name, const char *pv)
{
	struct lvm_vg *vg = NULL;
	int ret = lvm_vg_create(name, (const char *const[]){ pv }, 1, 1 << 20, &vg, err,
				sizeof(err));

	if (ret)
		fail_msg("vg_create: %d %s", ret, err);
	return vg;
}

static void mkpool(struct lvm_vg *vg, const char *name, uint64_t size)
{
	struct lvm_lv_opts o = { .name = name, .size = size, .pool = true };
	int ret = lvm_lv_create(vg, &o, err, sizeof(err));

	if (ret)
		fail_msg("pool %s: %d %s", name, ret, err);
}

static void mkthin(struct lvm_vg *vg, const char *pool, const char *name, uint64_t size)
{
	struct lvm_lv_opts o = { .name = name, .size = size, .thin_pool = pool };
	int ret = lvm_lv_create(vg, &o, err, sizeof(err));

	if (ret)
		fail_msg("thin %s: %d %s", name, ret, err);
}

static void mksnap(struct lvm_vg *vg, const char *origin, const char *name)
{
	struct lvm_lv_opts o = { .name = name, .origin = origin };
	int ret = lvm_lv_create(vg, &o, err, sizeof(err));

	if (ret)
		fail_msg("snapshot %s: %d %s", name, ret, err);
}

static int64_t pool_num(struct lvm_vg *vg, const char *pool, const char *key)
{
	struct json_object *arr = json_object_new_array(), *v;
	int64_t n = -1;

	lvm_lv_list(vg, arr);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *name;

		if (json_object_object_get_ex(o, "lv", &name) &&
		    !strcmp(json_object_get_string(name), pool) &&
		    json_object_object_get_ex(o, key, &v) && v)
			n = json_object_get_int64(v);
	}
	json_object_put(arr);
	return n;
}

static void reopen(struct lvm_vg **vg, const char *name, const char *pv)
{
	assert_int_equal(lvm_vg_deactivate(*vg, err, sizeof(err)), 0);
	*vg = NULL;
	if (lvm_vg_activate(name, (const char *const[]){ pv }, 1, false, vg, err, sizeof(err)))
		fail_msg("activate %s: %s", name, err);
}

static void test_map_zero_fill_persist(void **state)
{
	struct lvm_vg *vg = mkvg("tv", "m0");
	unsigned char *w = malloc(4 * CS), *r = malloc(4 * CS);

	(void)state;
	mkpool(vg, "pool", 16 << 20);
	/* Over-committed: 64 MiB virtual on a 16 MiB pool. */
	mkthin(vg, "pool", "t", 64 << 20);
	assert_non_null(blk_bdev_find("tv-t"));
	assert_non_null(blk_bdev_find("tv-pool_tdata"));
	assert_int_equal(blk_bdev_size(blk_bdev_find("tv-t")), 64 << 20);
	/* Unmapped reads zeroes, anywhere. */
	memset(r, 0xee, 4 * CS);
	assert_int_equal(io("tv-t", BLK_IO_READ, 60 << 20, r, 4 * CS), 0);
	assert_true(all_bytes(r, 0, 4 * CS));
	/* Partial chunk write: the rest of the chunk reads zeroes. */
	pattern(w, 4096, 1);
	assert_int_equal(io("tv-t", BLK_IO_WRITE, 3 * CS + 8192, w, 4096), 0);
	assert_int_equal(io("tv-t", BLK_IO_READ, 3 * CS, r, CS), 0);
	assert_true(all_bytes(r, 0, 8192));
	assert_memory_equal(r + 8192, w, 4096);
	assert_true(all_bytes(r + 12288, 0, CS - 12288));
	/* Across chunks, unaligned to them; whole chunks. */
	pattern(w, 4 * CS, 2);
	assert_int_equal(io("tv-t", BLK_IO_WRITE, 10 * CS + 4096, w, 2 * CS), 0);
	assert_int_equal(io("tv-t", BLK_IO_WRITE, (40 << 20), w, 4 * CS), 0);
	assert_int_equal(io("tv-t", BLK_IO_READ, 10 * CS + 4096, r, 2 * CS), 0);
	assert_memory_equal(r, w, 2 * CS);
	assert_int_equal(io("tv-t", BLK_IO_READ, 10 * CS, r, 4096), 0);
	assert_true(all_bytes(r, 0, 4096));
	/* Overwrite in place. */
	pattern(w, CS, 3);
	assert_int_equal(io("tv-t", BLK_IO_WRITE, (40 << 20) + CS, w, CS), 0);
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 1 + 3 + 4);
	assert_int_equal(io("tv-t", BLK_IO_FLUSH, 0, NULL, 0), 0);
	/* Persists across deactivate/activate. */
	reopen(&vg, "tv", "m0");
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 8);
	assert_int_equal(io("tv-t", BLK_IO_READ, (40 << 20) + CS, r, CS), 0);
	assert_memory_equal(r, w, CS);
	pattern(w, 4096, 1);
	assert_int_equal(io("tv-t", BLK_IO_READ, 3 * CS + 8192, r, 4096), 0);
	assert_memory_equal(r, w, 4096);
	/* Extend the thin LV and the pool online. */
	assert_int_equal(lvm_lv_resize(vg, "t", 128 << 20, false, err, sizeof(err)), 0);
	assert_int_equal(blk_bdev_size(blk_bdev_find("tv-t")), 128 << 20);
	assert_int_equal(io("tv-t", BLK_IO_WRITE, (127 << 20), w, 4096), 0);
	assert_int_equal(lvm_lv_resize(vg, "pool", 20 << 20, false, err, sizeof(err)), 0);
	assert_int_equal(pool_num(vg, "pool", "data_chunks"), 20 * 16);
	assert_int_equal(lvm_lv_resize(vg, "pool", 8 << 20, true, err, sizeof(err)), -ENOTSUP);
	/* Shrink with force: the chunks past the end go, and growing again
	 * shows zeroes there, not the old data. */
	assert_int_equal(lvm_lv_resize(vg, "t", 40 << 20, false, err, sizeof(err)), -EPERM);
	assert_int_equal(lvm_lv_resize(vg, "t", 40 << 20, true, err, sizeof(err)), 0);
	assert_int_equal(blk_bdev_size(blk_bdev_find("tv-t")), 40 << 20);
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 4);
	assert_int_equal(lvm_lv_resize(vg, "t", 64 << 20, false, err, sizeof(err)), 0);
	assert_int_equal(io("tv-t", BLK_IO_READ, (40 << 20), r, 4 * CS), 0);
	assert_true(all_bytes(r, 0, 4 * CS));
	assert_int_equal(io("tv-t", BLK_IO_READ, 3 * CS + 8192, r, 4096), 0);
	assert_memory_equal(r, w, 4096);
	/* Refusals: pool with thin LVs, hidden LVs. */
	assert_int_equal(lvm_lv_remove(vg, "pool", err, sizeof(err)), -EBUSY);
	assert_int_equal(lvm_lv_remove(vg, "pool_tdata", err, sizeof(err)), -EINVAL);
	assert_int_equal(lvm_lv_rename(vg, "pool", "p2", err, sizeof(err)), -ENOTSUP);
	assert_int_equal(lvm_lv_create(vg, &(struct lvm_lv_opts){ .name = "x", .size = 1 << 20,
								   .thin_pool = "t" },
				       err, sizeof(err)), -EINVAL);
	assert_int_equal(lvm_lv_remove(vg, "t", err, sizeof(err)), 0);
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 0);
	assert_int_equal(lvm_lv_remove(vg, "pool", err, sizeof(err)), 0);
	assert_null(blk_bdev_find("tv-pool_tdata"));
	assert_int_equal(vg->md->n_lvs, 0);
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), 0);
	free(w);
	free(r);
}

static void test_snapshot_isolation(void **state)
{
	struct lvm_vg *vg = mkvg("ts", "m0");
	unsigned char *a = malloc(CS), *b = malloc(CS), *c = malloc(CS), *r = malloc(CS);

	(void)state;
	mkpool(vg, "pool", 8 << 20);
	mkthin(vg, "pool", "o", 16 << 20);
	pattern(a, CS, 10);
	pattern(b, CS, 11);
	pattern(c, CS, 12);
	for (int k = 0; k < 4; k++)
		assert_int_equal(io("ts-o", BLK_IO_WRITE, (uint64_t)k * CS, a, CS), 0);
	mksnap(vg, "o", "s");
	assert_non_null(blk_bdev_find("ts-s"));
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 4);    /* all shared */
	/* Partial write to a shared chunk on the origin: copy, then write. */
	assert_int_equal(io("ts-o", BLK_IO_WRITE, 4096, b, 4096), 0);
	/* Whole-chunk write on the snapshot. */
	assert_int_equal(io("ts-s", BLK_IO_WRITE, 2 * CS, c, CS), 0);
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 6);
	assert_int_equal(io("ts-o", BLK_IO_READ, 0, r, CS), 0);
	assert_memory_equal(r, a, 4096);
	assert_memory_equal(r + 4096, b, 4096);
	assert_memory_equal(r + 8192, a + 8192, CS - 8192);
	assert_int_equal(io("ts-s", BLK_IO_READ, 0, r, CS), 0);
	assert_memory_equal(r, a, CS);
	assert_int_equal(io("ts-o", BLK_IO_READ, 2 * CS, r, CS), 0);
	assert_memory_equal(r, a, CS);
	assert_int_equal(io("ts-s", BLK_IO_READ, 2 * CS, r, CS), 0);
	assert_memory_equal(r, c, CS);
	/* Snapshot of a snapshot, then the origin goes: the shared chunks stay. */
	mksnap(vg, "s", "s2");
	assert_int_equal(io("ts-o", BLK_IO_FLUSH, 0, NULL, 0), 0);
	reopen(&vg, "ts", "m0");
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 6);
	assert_int_equal(lvm_lv_remove(vg, "o", err, sizeof(err)), 0);
	/* o alone held its copy of chunk 0 and the old chunk 2: both freed. */
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 4);
	assert_int_equal(io("ts-s2", BLK_IO_READ, 2 * CS, r, CS), 0);
	assert_memory_equal(r, c, CS);
	assert_int_equal(io("ts-s2", BLK_IO_READ, 3 * CS, r, CS), 0);
	assert_memory_equal(r, a, CS);
	/* Discard on s2 frees nothing shared... */
	assert_int_equal(io("ts-s2", BLK_IO_DISCARD, 0, NULL, 4 * CS), 0);
	assert_int_equal(io("ts-s2", BLK_IO_READ, 3 * CS, r, CS), 0);
	assert_true(all_bytes(r, 0, CS));
	assert_int_equal(io("ts-s", BLK_IO_READ, 3 * CS, r, CS), 0);
	assert_memory_equal(r, a, CS);
	assert_int_equal(io("ts-s2", BLK_IO_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 4);
	/* ...but on s it frees (after the commit) what only s holds. */
	assert_int_equal(io("ts-s", BLK_IO_DISCARD, 0, NULL, 4 * CS), 0);
	assert_int_equal(io("ts-s", BLK_IO_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 0);
	assert_int_equal(lvm_lv_remove(vg, "s", err, sizeof(err)), 0);
	assert_int_equal(lvm_lv_remove(vg, "s2", err, sizeof(err)), 0);
	assert_int_equal(lvm_lv_remove(vg, "pool", err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), 0);
	free(a);
	free(b);
	free(c);
	free(r);
}

static void test_enospc(void **state)
{
	struct lvm_vg *vg = mkvg("te", "m0");
	unsigned char *w = malloc(CS), *r = malloc(CS);
	uint64_t k, nchunks = (2 << 20) / CS;

	(void)state;
	mkpool(vg, "pool", 2 << 20);
	mkthin(vg, "pool", "a", 8 << 20);
	mkthin(vg, "pool", "b", 8 << 20);
	for (k = 0; k < nchunks; k++) {
		pattern(w, CS, (unsigned)k);
		assert_int_equal(io("te-a", BLK_IO_WRITE, k * CS, w, CS), 0);
	}
	assert_int_equal(pool_num(vg, "pool", "low_water"), 1);
	/* Full: a writer needing a new chunk gets ENOSPC, on either LV. */
	assert_int_equal(io("te-a", BLK_IO_WRITE, k * CS, w, 4096), -ENOSPC);
	assert_int_equal(io("te-b", BLK_IO_WRITE, 0, w, CS), -ENOSPC);
	assert_true(pool_num(vg, "pool", "enospc_errors") >= 2);
	/* Overwrites of owned chunks still work; everything reads back. */
	pattern(w, CS, 99);
	assert_int_equal(io("te-a", BLK_IO_WRITE, 0, w, CS), 0);
	for (k = 1; k < nchunks; k++) {
		pattern(w, CS, (unsigned)k);
		assert_int_equal(io("te-a", BLK_IO_READ, k * CS, r, CS), 0);
		assert_memory_equal(r, w, CS);
	}
	/* Discard returns chunks once committed; b then gets them, zero-filled. */
	assert_int_equal(io("te-a", BLK_IO_DISCARD, 4 * CS, NULL, 4 * CS), 0);
	assert_int_equal(io("te-b", BLK_IO_WRITE, 0, w, 4096), -ENOSPC);
	assert_int_equal(io("te-a", BLK_IO_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), nchunks - 4);
	pattern(w, 4096, 7);
	assert_int_equal(io("te-b", BLK_IO_WRITE, 4096, w, 4096), 0);
	assert_int_equal(io("te-b", BLK_IO_READ, 0, r, CS), 0);
	assert_true(all_bytes(r, 0, 4096));
	assert_memory_equal(r + 4096, w, 4096);
	assert_true(all_bytes(r + 8192, 0, CS - 8192));
	/* A new thin LV on reused chunks reads zeroes. */
	assert_int_equal(lvm_lv_remove(vg, "a", err, sizeof(err)), 0);
	mkthin(vg, "pool", "c", 8 << 20);
	for (k = 0; k < nchunks - 1; k++) {
		assert_int_equal(io("te-c", BLK_IO_WRITE, k * CS + 512, w, 512), 0);
		assert_int_equal(io("te-c", BLK_IO_READ, k * CS, r, CS), 0);
		assert_true(all_bytes(r, 0, 512));
		assert_true(all_bytes(r + 1024, 0, CS - 1024));
	}
	assert_int_equal(lvm_lv_remove(vg, "b", err, sizeof(err)), 0);
	assert_int_equal(lvm_lv_remove(vg, "c", err, sizeof(err)), 0);
	assert_int_equal(lvm_lv_remove(vg, "pool", err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), 0);
	free(w);
	free(r);
}

/* Power cut during a pool commit: at the k-th write or right after the k-th
 * flush. Every write acknowledged before a completed flush reads back; the
 * write of the interrupted round reads as itself or as zeroes (never other
 * data); a chunk never written reads zeroes. */
static void test_power_cut(void **state)
{
	struct blk_bdev *e;
	struct lvm_vg *vg;
	unsigned char *w = malloc(CS), *r = malloc(CS);
	unsigned seen_old = 0, seen_new = 0, round = 0;

	(void)state;
	assert_int_equal(blk_error_create("e1", "m1", &e), 0);
	vg = mkvg("tp", "e1");
	mkpool(vg, "pool", 8 << 20);
	mkthin(vg, "pool", "t", 16 << 20);
	mksnap(vg, "t", "s");
	assert_int_equal(blk_error_inject(e, &(struct blk_error_cfg){
		.power_cut = BLK_ERR_PC_ARM }), 0);
	/* Modes 0/1: the usual commit (one log record); 2/3: a checkpoint and
	 * superblock flip (forced, as after a device-table change). */
	for (unsigned mode = 0; mode < 4; mode++) {
		for (uint64_t k = 1; k <= (mode % 2 ? 4 : 3); k++, round++) {
			struct blk_error_cfg inj = { 0 };
			struct blk_error_cfg cut = { .clear = true, .power_cut = BLK_ERR_PC_CUT };
			uint64_t vc_ok = round, vc_new = 50 + round;

			/* Acknowledged and flushed. */
			pattern(w, CS, round);
			assert_int_equal(io("tp-t", BLK_IO_WRITE, vc_ok * CS, w, CS), 0);
			assert_int_equal(io("tp-t", BLK_IO_WRITE, (100 + round) * CS + 4096, w, 4096), 0);
			assert_int_equal(io("tp-t", BLK_IO_FLUSH, 0, NULL, 0), 0);
			/* The round that gets cut (a write and a copy-on-write). */
			pattern(w, CS, 1000 + round);
			assert_int_equal(io("tp-t", BLK_IO_WRITE, vc_new * CS, w, CS), 0);
			if (mode >= 2)
				vg->pools->need_ckpt = true;
			if (mode % 2 == 0) {
				inj.fail_nth = k;
				inj.fail_count = 1000;
				inj.fail_io = BLK_ERR_IO_WRITE;
			} else {
				inj.die_after_flush = k;
			}
			assert_int_equal(blk_error_inject(e, &inj), 0);
			io("tp-t", BLK_IO_FLUSH, 0, NULL, 0);
			assert_int_equal(blk_error_inject(e, &cut), 0);
			/* The crash: nothing more is committed from memory. */
			vg->broken = true;
			reopen(&vg, "tp", "e1");
			for (uint64_t j = 0; j <= round; j++) {
				pattern(w, CS, (unsigned)j);
				assert_int_equal(io("tp-t", BLK_IO_READ, j * CS, r, CS), 0);
				if (memcmp(r, w, CS))
					fail_msg("mode %u k %llu: flushed chunk %llu lost", mode,
						 (unsigned long long)k, (unsigned long long)j);
				assert_int_equal(io("tp-t", BLK_IO_READ, (100 + j) * CS, r, CS), 0);
				assert_true(all_bytes(r, 0, 4096));
				assert_memory_equal(r + 4096, w, 4096);
				assert_true(all_bytes(r + 8192, 0, CS - 8192));
				/* The snapshot never changes. */
				assert_int_equal(io("tp-s", BLK_IO_READ, j * CS, r, CS), 0);
				assert_true(all_bytes(r, 0, CS));
			}
			pattern(w, CS, 1000 + round);
			assert_int_equal(io("tp-t", BLK_IO_READ, vc_new * CS, r, CS), 0);
			if (!memcmp(r, w, CS))
				seen_new++;
			else if (all_bytes(r, 0, CS))
				seen_old++;
			else
				fail_msg("mode %u k %llu: chunk %llu holds other data", mode,
					 (unsigned long long)k, (unsigned long long)vc_new);
			assert_int_equal(io("tp-t", BLK_IO_READ, 200 * CS, r, CS), 0);
			assert_true(all_bytes(r, 0, CS));
		}
	}
	assert_true(seen_old > 0);
	assert_true(seen_new > 0);
	assert_int_equal(lvm_vg_deactivate(vg, err, sizeof(err)), 0);
	assert_int_equal(blk_bdev_delete("e1"), 0);
	free(w);
	free(r);
}

/* The checkpoint parser: round trip, and impossible contents with a valid
 * CRC refused by message. */
static void test_meta_parser(void **state)
{
	struct lvm_thin_dev_md devs[] = { { 1, 0 }, { 2, 1 }, { 7, 2 } };
	struct lvm_thin_map_md maps[] = { { 1, 0, 0 }, { 1, 3, 9 }, { 2, 0, 0 }, { 7, 5, 1 } };
	struct lvm_thin_md md = { .seq = 9, .chunk_size = CS, .data_chunks = 16, .n_devs = 3,
				  .n_maps = 4, .devs = devs, .maps = maps };
	unsigned char *buf = calloc(1, 2 * LVM_BLOCK);
	struct lvm_thin_md *out;
	char why[200];
	size_t len;

	(void)state;
	memset(md.pool_uuid, 0xab, 16);
	assert_int_equal(lvm_thin_md_check(&md, why, sizeof(why)), 0);
	len = lvm_thin_md_len(&md);
	assert_int_equal(len, LVM_BLOCK);
	lvm_thin_md_encode(&md, buf);
	assert_int_equal(lvm_thin_md_decode(buf, len, &out, why, sizeof(why)), 0);
	assert_int_equal(out->n_maps, 4);
	assert_memory_equal(out->maps, maps, sizeof(maps));
	lvm_thin_md_free(out);
#define REFUSED(what, expect)                                                                 \
	do {                                                                                    \
		lvm_thin_md_encode(&md, buf);                                                   \
		why[0] = 0;                                                                     \
		assert_int_equal(lvm_thin_md_decode(buf, len, &out, why, sizeof(why)), -EBADMSG); \
		if (!strstr(why, expect))                                                       \
			fail_msg("%s: '%s' lacks '%s'", what, why, expect);                     \
	} while (0)
	maps[1].vchunk = 0;
	REFUSED("duplicate", "not sorted");
	maps[1].vchunk = 9;
	maps[3].dev = 5;
	REFUSED("unknown device", "unknown device 5");
	maps[3].dev = 7;
	maps[3].pchunk = 16;
	REFUSED("past the end", "past the data LV");
	maps[3].pchunk = 5;
	devs[1].origin = 2;
	REFUSED("own origin", "bad origin");
	devs[1].origin = 1;
	devs[2].id = 2;
	REFUSED("device order", "not sorted");
	devs[2].id = 7;
	md.chunk_size = 48 * 1024;
	REFUSED("chunk size", "chunk size");
	md.chunk_size = CS;
	md.data_chunks = 0;
	REFUSED("no chunks", "data chunk count");
	md.data_chunks = 16;
	maps[0].vchunk = LVM_THIN_VCHUNK_MAX;
	maps[1].vchunk = LVM_THIN_VCHUNK_MAX + 1;
	REFUSED("huge vchunk", "impossible");
	maps[0].vchunk = 0;
	maps[1].vchunk = 9;
	/* Raw damage: CRC, length, junk after the tables (CRC fixed up). */
	lvm_thin_md_encode(&md, buf);
	buf[100] ^= 1;
	assert_int_equal(lvm_thin_md_decode(buf, len, &out, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "CRC"));
	lvm_thin_md_encode(&md, buf);
	assert_int_equal(lvm_thin_md_decode(buf, 100, &out, why, sizeof(why)), -EBADMSG);
	buf[len - 1] = 1;
	memset(buf + offsetof(struct lvm_thin_disk_hdr, crc), 0, 4);
	{
		uint32_t c = htole32(vsl_crc32c(0, buf, len));

		memcpy(buf + offsetof(struct lvm_thin_disk_hdr, crc), &c, 4);
	}
	assert_int_equal(lvm_thin_md_decode(buf, len, &out, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "junk"));
	memset(buf, 0, len);
	assert_int_equal(lvm_thin_md_decode(buf, len, &out, why, sizeof(why)), -ENODATA);
	/* Superblock. */
	{
		struct lvm_thin_sb sb = { .seq = 3, .chunk_size = CS, .slot = 1,
					  .meta_size = 1 << 20,
					  .slot_size = lvm_thin_slot_size(1 << 20),
					  .ckpt_len = LVM_BLOCK }, got;

		memset(sb.pool_uuid, 1, 16);
		lvm_thin_sb_encode(&sb, buf);
		assert_int_equal(lvm_thin_sb_decode(buf, LVM_BLOCK, &got, why, sizeof(why)), 0);
		assert_int_equal(got.seq, 3);
		sb.slot = 2;
		lvm_thin_sb_encode(&sb, buf);
		assert_int_equal(lvm_thin_sb_decode(buf, LVM_BLOCK, &got, why, sizeof(why)), -EBADMSG);
		sb.slot = 1;
		sb.ckpt_len = (uint32_t)sb.slot_size + LVM_BLOCK;
		lvm_thin_sb_encode(&sb, buf);
		assert_int_equal(lvm_thin_sb_decode(buf, LVM_BLOCK, &got, why, sizeof(why)), -EBADMSG);
	}
	free(buf);
}

/* VG metadata rules for thin kinds. */
static void test_vg_md_thin_rules(void **state)
{
	struct lvm_vg *vg = mkvg("tr", "m0");
	struct lvm_md *md;
	int t;

	(void)state;
	mkpool(vg, "pool", 4 << 20);
	mkthin(vg, "pool", "t", 8 << 20);
	mkthin(vg, "pool", "u", 8 << 20);
	t = lvm_md_lv_find(vg->md, "t");
	assert_int_equal(lvm_md_check(vg->md, err, sizeof(err)), 0);
#define MD_REFUSED(change, expect)                                                            \
	do {                                                                                    \
		md = lvm_md_clone(vg->md);                                                      \
		change;                                                                         \
		err[0] = 0;                                                                     \
		assert_int_equal(lvm_md_check(md, err, sizeof(err)), -EINVAL);                  \
		if (!strstr(err, expect))                                                       \
			fail_msg("'%s' lacks '%s'", err, expect);                               \
		lvm_md_free(md);                                                                \
	} while (0)
	MD_REFUSED(md->lvs[t].link[0] ^= 1, "unknown pool");
	MD_REFUSED(md->lvs[t].thin_id = md->lvs[lvm_md_lv_find(md, "u")].thin_id, "used twice");
	MD_REFUSED(md->lvs[t].thin_id = 0, "bad device id");
	MD_REFUSED(md->lvs[t].n_segs = 1, "segment range");
	MD_REFUSED(md->lvs[lvm_md_lv_find(md, "pool")].chunk_size = 3 << 16, "chunk size");
	MD_REFUSED(md->lvs[lvm_md_lv_find(md, "pool")].le_count++, "size is not");
	MD_REFUSED(md->lvs[lvm_md_lv_find(md, "pool_tdata")].kind = LVM_LV_LINEAR,
		   "no data or metadata LV");
	MD_REFUSED(md->lvs[lvm_md_lv_find(md, "pool_tmeta")].name[0] = 'q', "no data or metadata LV");
	MD_REFUSED(md->lvs[t].kind = 9, "unknown kind");
	/* Encoded and decoded, the thin fields survive. */
	{
		unsigned char *buf = calloc(1, LVM_SLOT_SIZE);

		lvm_md_encode(vg->md, buf);
		assert_int_equal(lvm_md_decode(buf, LVM_SLOT_SIZE, &md, err, sizeof(err)), 0);
		assert_memory_equal(md->lvs, vg->md->lvs, vg->md->n_lvs * sizeof(*md->lvs));
		lvm_md_free(md);
		free(buf);
	}
	assert_int_equal(lvm_lv_remove(vg, "t", err, sizeof(err)), 0);
	assert_int_equal(lvm_lv_remove(vg, "u", err, sizeof(err)), 0);
	assert_int_equal(lvm_lv_remove(vg, "pool", err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), 0);
}

/* Eight 4K writes in flight at once into one unmapped chunk (and eight into
 * a chunk shared with a snapshot): the first allocates, the others wait for
 * it, none is lost. */
static void test_concurrent_same_chunk(void **state)
{
	struct lvm_vg *vg = mkvg("tc", "m0");
	struct blk_bdev *b;
	unsigned char *w = malloc(16 * 4096), *r = malloc(CS), *base = malloc(CS);
	struct iovec iov[16];
	struct done d[16];

	(void)state;
	mkpool(vg, "pool", 4 << 20);
	mkthin(vg, "pool", "t", 8 << 20);
	pattern(base, CS, 40);
	assert_int_equal(io("tc-t", BLK_IO_WRITE, CS, base, CS), 0);
	mksnap(vg, "t", "s");
	b = blk_bdev_find("tc-t");
	for (int i = 0; i < 16; i++) {
		memset(w + i * 4096, 0x30 + i, 4096);
		iov[i] = (struct iovec){ w + i * 4096, 4096 };
		d[i] = (struct done){ 0, 0 };
		/* 0..7 into chunk 0 (unmapped), 8..15 into chunk 1 (shared). */
		assert_int_equal(blk_bdev_submit(b, R, BLK_IO_WRITE, 0,
						 (uint64_t)(i < 8 ? 0 : CS) + (i % 8) * 8192, 4096,
						 &iov[i], 1, done_cb, &d[i]), 0);
	}
	for (int i = 0; i < 16; i++) {
		assert_int_equal(poll_until(R, &d[i].calls, 1), 1);
		assert_int_equal(d[i].status, 0);
	}
	assert_int_equal(io("tc-t", BLK_IO_READ, 0, r, CS), 0);
	for (int i = 0; i < 8; i++) {
		assert_true(all_bytes(r + i * 8192, 0x30 + i, 4096));
		assert_true(all_bytes(r + i * 8192 + 4096, 0, 4096));
	}
	assert_int_equal(io("tc-t", BLK_IO_READ, CS, r, CS), 0);
	for (int i = 0; i < 8; i++) {
		assert_true(all_bytes(r + i * 8192, 0x38 + i, 4096));
		assert_memory_equal(r + i * 8192 + 4096, base + i * 8192 + 4096, 4096);
	}
	assert_int_equal(io("tc-s", BLK_IO_READ, CS, r, CS), 0);
	assert_memory_equal(r, base, CS);
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 3);
	assert_int_equal(lvm_lv_remove(vg, "s", err, sizeof(err)), 0);
	assert_int_equal(lvm_lv_remove(vg, "t", err, sizeof(err)), 0);
	assert_int_equal(lvm_lv_remove(vg, "pool", err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), 0);
	free(w);
	free(r);
	free(base);
}

/* A crash between the pool's commit and the VG's (lvcreate -s): the pool
 * holds a device no LV names. Opening the pool frees it. */
static void test_orphan_device_freed(void **state)
{
	struct lvm_vg *vg = mkvg("to", "m0");
	unsigned char *w = malloc(CS);
	struct lvm_thin_pool *p;
	int t;

	(void)state;
	mkpool(vg, "pool", 4 << 20);
	mkthin(vg, "pool", "t", 8 << 20);
	pattern(w, CS, 5);
	assert_int_equal(io("to-t", BLK_IO_WRITE, 0, w, CS), 0);
	assert_int_equal(io("to-t", BLK_IO_WRITE, 5 * CS, w, CS), 0);
	t = lvm_md_lv_find(vg->md, "t");
	p = lvm_thin_pool_get(vg, vg->md->lvs[lvm_md_lv_find(vg->md, "pool")].uuid);
	assert_non_null(p);
	assert_int_equal(lvm_thin_dev_snapshot(p, vg->md->lvs[t].thin_id, 77, 128), 0);
	assert_int_equal(lvm_thin_commit(p), 0);
	assert_int_equal(io("to-t", BLK_IO_WRITE, 0, w, 4096), 0);    /* copy-on-write */
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 3);
	assert_int_equal(pool_num(vg, "pool", "thin_count"), 2);
	assert_int_equal(io("to-t", BLK_IO_FLUSH, 0, NULL, 0), 0);
	reopen(&vg, "to", "m0");
	assert_int_equal(pool_num(vg, "pool", "thin_count"), 1);
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 2);
	reopen(&vg, "to", "m0");
	assert_int_equal(pool_num(vg, "pool", "thin_count"), 1);
	assert_int_equal(pool_num(vg, "pool", "used_chunks"), 2);
	assert_int_equal(lvm_lv_remove(vg, "t", err, sizeof(err)), 0);
	assert_int_equal(lvm_lv_remove(vg, "pool", err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), 0);
	free(w);
}

static uint64_t writes_of(const char *bdev, uint64_t *bytes)
{
	struct blk_bdev *b = blk_bdev_find(bdev);
	uint64_t n = 0;

	if (!b)
		fail_msg("no bdev %s", bdev);
	*bytes = 0;
	for (unsigned i = 0; i < BLK_MAX_REACTORS; i++) {
		n += atomic_load(&b->stats[i].ops[BLK_IO_WRITE]);
		*bytes += atomic_load(&b->stats[i].bytes[BLK_IO_WRITE]);
	}
	return n;
}

/* A commit writes what changed, not the mapping: after one allocating write
 * the FLUSH writes one 4 KiB block to the metadata LV (counted by the LV's
 * own I/O counters, not by the pool), after 300 it writes two, whatever
 * the size of the whole mapping. Then the log fills and a
 * checkpoint starts it over; a crash (no deactivate) and the open replays
 * the records behind the newest checkpoint. */
static void test_commit_writes_only_changes(void **state)
{
	struct lvm_vg *vg = mkvg("tc", "m0");
	unsigned char *w = malloc(CS), *r = malloc(CS);
	uint64_t n0, b0, n1, b1, ck;
	unsigned k;

	(void)state;
	mkpool(vg, "pool", 24 << 20);           /* 384 chunks */
	mkthin(vg, "pool", "t", 4096ull << 20);  /* 65536 virtual chunks */
	pattern(w, CS, 5);
	for (k = 0; k < 50; k++)
		assert_int_equal(io("tc-t", BLK_IO_WRITE, (uint64_t)k * 7 * CS, w, 4096), 0);
	assert_int_equal(io("tc-t", BLK_IO_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(pool_num(vg, "pool", "mappings"), 50);
	/* One write, one commit: one block. */
	n0 = writes_of("tc-pool_tmeta", &b0);
	assert_int_equal(io("tc-t", BLK_IO_WRITE, 5000 * CS, w, 4096), 0);
	assert_int_equal(io("tc-t", BLK_IO_FLUSH, 0, NULL, 0), 0);
	n1 = writes_of("tc-pool_tmeta", &b1);
	assert_int_equal(n1 - n0, 1);
	assert_int_equal(b1 - b0, 4096);
	assert_int_equal(pool_num(vg, "pool", "last_commit_blocks"), 1);
	/* An overwrite in place changes no mapping: no metadata write. */
	assert_int_equal(io("tc-t", BLK_IO_WRITE, 5000 * CS + 4096, w, 4096), 0);
	assert_int_equal(io("tc-t", BLK_IO_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(writes_of("tc-pool_tmeta", &b0), n1);
	/* 300 new chunks: 64 + 300 * 16 bytes, two blocks. */
	for (k = 0; k < 300; k++)
		assert_int_equal(io("tc-t", BLK_IO_WRITE, (uint64_t)(10000 + k) * CS, w, 4096), 0);
	assert_int_equal(io("tc-t", BLK_IO_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(writes_of("tc-pool_tmeta", &b1) - n1, 1);
	assert_int_equal(b1 - b0, 2 * 4096);
	assert_int_equal(pool_num(vg, "pool", "last_commit_blocks"), 2);
	/* Commit until the log is full: a checkpoint starts it over. */
	ck = (uint64_t)pool_num(vg, "pool", "checkpoints");
	for (k = 0; pool_num(vg, "pool", "checkpoints") == (int64_t)ck; k++) {
		assert_true(k < 2000);
		/* Map, and every 20 commits discard (unmap) the 20 again. */
		assert_int_equal(io("tc-t", BLK_IO_WRITE, (uint64_t)(20000 + k % 20) * CS, w, 4096),
				 0);
		if (k % 20 == 19)
			assert_int_equal(io("tc-t", BLK_IO_DISCARD, 20000ull * CS, NULL, 20 * CS), 0);
		assert_int_equal(io("tc-t", BLK_IO_FLUSH, 0, NULL, 0), 0);
	}
	assert_true(pool_num(vg, "pool", "log_records") > 10);
	/* After the checkpoint, a few records; then the crash. */
	pattern(w, CS, 6);
	for (k = 0; k < 3; k++) {
		assert_int_equal(io("tc-t", BLK_IO_WRITE, (uint64_t)(30000 + k) * CS, w, CS), 0);
		assert_int_equal(io("tc-t", BLK_IO_FLUSH, 0, NULL, 0), 0);
	}
	ck = (uint64_t)pool_num(vg, "pool", "mappings");
	vg->broken = true;
	reopen(&vg, "tc", "m0");
	assert_int_equal(pool_num(vg, "pool", "mappings"), (int64_t)ck);
	assert_false(pool_num(vg, "pool", "clean_at_open"));
	for (k = 0; k < 3; k++) {
		assert_int_equal(io("tc-t", BLK_IO_READ, (uint64_t)(30000 + k) * CS, r, CS), 0);
		assert_memory_equal(r, w, CS);
	}
	pattern(w, CS, 5);
	assert_int_equal(io("tc-t", BLK_IO_READ, 5000 * CS, r, CS), 0);
	assert_memory_equal(r, w, 4096);
	assert_memory_equal(r + 4096, w, 4096);
	assert_true(all_bytes(r + 8192, 0, CS - 8192));
	assert_int_equal(lvm_lv_remove(vg, "t", err, sizeof(err)), 0);
	assert_int_equal(lvm_lv_remove(vg, "pool", err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), 0);
	free(w);
	free(r);
}

/* A clean stop (blk_bdev_shutdown_all(), what blockd runs on SIGTERM)
 * commits writes that were never flushed; the next open finds the
 * clean-stop record. Without it, the same writes are gone after a crash. */
static void test_clean_stop_commits(void **state)
{
	struct lvm_vg *vg = mkvg("ts", "m0");
	unsigned char *w = malloc(CS), *r = malloc(CS);

	(void)state;
	mkpool(vg, "pool", 8 << 20);
	mkthin(vg, "pool", "t", 16 << 20);
	pattern(w, CS, 9);
	/* Crash with an unflushed write: lost, and the open says so. */
	assert_int_equal(io("ts-t", BLK_IO_WRITE, 3 * CS, w, CS), 0);
	vg->broken = true;
	reopen(&vg, "ts", "m0");
	assert_false(pool_num(vg, "pool", "clean_at_open"));
	assert_int_equal(io("ts-t", BLK_IO_READ, 3 * CS, r, CS), 0);
	assert_true(all_bytes(r, 0, CS));
	/* The same with a clean stop in between: kept. */
	assert_int_equal(io("ts-t", BLK_IO_WRITE, 3 * CS, w, CS), 0);
	blk_bdev_shutdown_all();
	vg->broken = true;      /* nothing more from memory after the stop */
	reopen(&vg, "ts", "m0");
	assert_true(pool_num(vg, "pool", "clean_at_open"));
	assert_int_equal(io("ts-t", BLK_IO_READ, 3 * CS, r, CS), 0);
	assert_memory_equal(r, w, CS);
	/* Deactivate is a clean stop too. */
	reopen(&vg, "ts", "m0");
	assert_true(pool_num(vg, "pool", "clean_at_open"));
	assert_int_equal(lvm_lv_remove(vg, "t", err, sizeof(err)), 0);
	assert_int_equal(lvm_lv_remove(vg, "pool", err, sizeof(err)), 0);
	assert_int_equal(lvm_vg_remove(vg, err, sizeof(err)), 0);
	free(w);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_zero_fill_persist),
		cmocka_unit_test(test_snapshot_isolation),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_power_cut),
		cmocka_unit_test(test_meta_parser),
		cmocka_unit_test(test_vg_md_thin_rules),
		cmocka_unit_test(test_orphan_device_freed),
		cmocka_unit_test(test_concurrent_same_chunk),
		cmocka_unit_test(test_commit_writes_only_changes),
		cmocka_unit_test(test_clean_stop_commits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
