/* test_blk_qcow2.c — the qcow2 bdev on RAM and on a file, driven from the test
 * thread's reactor: reads of unallocated clusters, allocation, many writers of
 * one unallocated cluster at once (one allocation, every write kept), copy on
 * write from a backing bdev, discard and write-zeroes, a failed metadata write
 * (the image refuses further writes, reads go on), the allocation order seen
 * by a power cut after every flush, and image-create/resize on a file. */
#include <endian.h>
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

#include "blk_image.h"
#include "blk_image_internal.h"
#include "blk_internal.h"
#include "blk_test_util.h"
#include "vsl_log.h"

enum { CS = 4096, IMG = 8 << 20, BASE = 16 << 20 };

static struct blk_reactor *R;
static struct blk_bdev *M, *Q;
static char err[BLK_QCOW2_ERR_LEN];

/* Writes a fresh image layout into bdev b. */
static void format(struct blk_bdev *b, uint64_t size, uint32_t cbits)
{
	struct blk_qcow2_new n = { .size = size, .cluster_bits = cbits };
	void *p;
	size_t len;

	assert_int_equal(blk_qcow2_layout(&n, &p, &len, err, sizeof(err)), 0);
	assert_int_equal(blk_image_sync_io(b, BLK_IO_WRITE, 0, p, len), 0);
	free(p);
}

static struct blk_bdev *open_q(const char *name, const char *base, const char *backing)
{
	struct blk_image_bdev_opts o = { .base = base, .backing = backing };
	struct blk_bdev *b = NULL;
	int ret = blk_qcow2_create(name, &o, err, sizeof(err), &b);

	if (ret)
		fail_msg("qcow2 open: %s", err);
	return b;
}

static int setup(void **state)
{
	(void)state;
	R = blk_reactor_create(0, 256, 64);
	if (!R)
		return -1;
	blk_reactor_poll(R, 0);     /* makes it this thread's reactor */
	if (blk_malloc_create("m", BASE, 512, &M))
		return -1;
	format(M, IMG, 12);
	Q = open_q("q", "m", NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	blk_bdev_delete_all();
	blk_reactor_destroy(R);
	return 0;
}

static int rw(struct blk_bdev *b, enum blk_io_type t, uint64_t off, void *buf, uint64_t len)
{
	return sync_io(b, R, t, 0, off, buf, len);
}

static struct blk_qcow2 *qof(struct blk_bdev *b)
{
	return b->priv;
}

static void test_unallocated_reads_zero(void **state)
{
	char buf[8192];

	(void)state;
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(rw(Q, BLK_IO_READ, 4096 * 10 + 512, buf, sizeof(buf)), 0);
	assert_true(all_bytes(buf, 0, sizeof(buf)));
	assert_int_equal(atomic_load(&qof(Q)->n_alloc), 0);
	assert_int_equal(blk_bdev_size(Q), IMG);
}

static void test_write_read_allocate(void **state)
{
	static char buf[3 * CS], back[3 * CS];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 1);
	/* Unaligned to the cluster: three clusters, two partial. */
	assert_int_equal(rw(Q, BLK_IO_WRITE, CS + 1024, buf, 2 * CS), 0);
	assert_int_equal(rw(Q, BLK_IO_READ, CS + 1024, back, 2 * CS), 0);
	assert_memory_equal(buf, back, 2 * CS);
	assert_int_equal(atomic_load(&qof(Q)->n_alloc), 3);
	/* The rest of a partially written cluster reads as zeroes. */
	assert_int_equal(rw(Q, BLK_IO_READ, CS, back, 1024), 0);
	assert_true(all_bytes(back, 0, 1024));
	/* An overwrite does not allocate. */
	assert_int_equal(rw(Q, BLK_IO_WRITE, CS, buf, CS), 0);
	assert_int_equal(atomic_load(&qof(Q)->n_alloc), 3);
	/* The last sector of the device. */
	assert_int_equal(rw(Q, BLK_IO_WRITE, IMG - 512, buf, 512), 0);
	assert_int_equal(rw(Q, BLK_IO_READ, IMG - 512, back, 512), 0);
	assert_memory_equal(buf, back, 512);
	/* Past the end is refused by the core. */
	assert_int_equal(rw(Q, BLK_IO_READ, IMG, back, 512), -ERANGE);
	/* Reopen: the mapping is on disk. */
	assert_int_equal(blk_bdev_delete("q"), 0);
	Q = open_q("q", "m", NULL);
	assert_int_equal(rw(Q, BLK_IO_READ, CS, back, CS), 0);
	assert_memory_equal(buf, back, CS);
	assert_int_equal(rw(Q, BLK_IO_READ, CS + CS, back, CS), 0);
	assert_memory_equal(buf + CS - 1024, back, CS);
}

enum { NW = 8 };

static void test_concurrent_writers_one_cluster(void **state)
{
	static char bufs[NW][512], back[CS];
	struct iovec iov[NW];
	struct done d[NW];
	uint64_t base = 40 * CS;

	(void)state;
	for (int i = 0; i < NW; i++) {
		memset(bufs[i], 0x30 + i, sizeof(bufs[i]));
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		d[i] = (struct done){ 0, 0 };
		assert_int_equal(blk_bdev_submit(Q, R, BLK_IO_WRITE, 0, base + (uint64_t)i * 512,
						 512, &iov[i], 1, done_cb, &d[i]),
				 0);
	}
	for (int i = 0; i < NW; i++) {
		assert_int_equal(poll_until(R, &d[i].calls, 1), 1);
		assert_int_equal(d[i].status, 0);
	}
	/* One cluster was allocated (the others found it under the allocator). */
	assert_int_equal(atomic_load(&qof(Q)->n_alloc), 1);
	assert_int_equal(rw(Q, BLK_IO_READ, base, back, CS), 0);
	for (int i = 0; i < NW; i++)
		assert_true(all_bytes(back + i * 512, 0x30 + i, 512));
}

static void test_backing_copy_on_write(void **state)
{
	static char buf[CS], back[2 * CS];
	struct blk_bdev *bk, *o;

	(void)state;
	assert_int_equal(blk_malloc_create("bk", 4 * CS, 512, &bk), 0);
	memset(buf, 0xbb, sizeof(buf));
	for (int i = 0; i < 4; i++)
		assert_int_equal(rw(bk, BLK_IO_WRITE, (uint64_t)i * CS, buf, CS), 0);
	assert_int_equal(blk_malloc_create("m2", BASE, 512, &M), 0);
	format(M, IMG, 12);
	o = open_q("o", "m2", "bk");
	assert_string_equal(blk_bdev_claimed_by(bk), "o");
	/* Falls through to the backing image; zeroes past its end. */
	assert_int_equal(rw(o, BLK_IO_READ, 3 * CS, back, 2 * CS), 0);
	assert_true(all_bytes(back, 0xbb, CS));
	assert_true(all_bytes(back + CS, 0, CS));
	/* A partial write copies the rest of the cluster from the backing. */
	memset(buf, 0x11, 512);
	assert_int_equal(rw(o, BLK_IO_WRITE, CS + 1024, buf, 512), 0);
	assert_int_equal(atomic_load(&qof(o)->n_cow), 1);
	assert_int_equal(rw(o, BLK_IO_READ, CS, back, CS), 0);
	assert_true(all_bytes(back, 0xbb, 1024));
	assert_true(all_bytes(back + 1024, 0x11, 512));
	assert_true(all_bytes(back + 1536, 0xbb, CS - 1536));
	/* The backing image itself is untouched. */
	assert_int_equal(rw(bk, BLK_IO_READ, CS, back, CS), 0);
	assert_true(all_bytes(back, 0xbb, CS));
	/* Discard over a backing image leaves zeroes, not the backing data. */
	assert_int_equal(rw(o, BLK_IO_DISCARD, CS, NULL, CS), 0);
	assert_int_equal(rw(o, BLK_IO_READ, CS, back, CS), 0);
	assert_true(all_bytes(back, 0, CS));
	assert_int_equal(rw(o, BLK_IO_WRITE_ZEROES, 2 * CS, NULL, CS), 0);
	assert_int_equal(rw(o, BLK_IO_READ, 2 * CS, back, CS), 0);
	assert_true(all_bytes(back, 0, CS));
	assert_int_equal(rw(o, BLK_IO_READ, 0, back, CS), 0);
	assert_true(all_bytes(back, 0xbb, CS));
}

static void test_discard_write_zeroes(void **state)
{
	static char buf[4 * CS], back[4 * CS];

	(void)state;
	memset(buf, 0x5e, sizeof(buf));
	assert_int_equal(rw(Q, BLK_IO_WRITE, 100 * CS, buf, sizeof(buf)), 0);
	assert_int_equal(rw(Q, BLK_IO_DISCARD, 100 * CS, NULL, CS), 0);
	assert_int_equal(atomic_load(&qof(Q)->n_freed), 1);
	/* Partial write-zeroes writes zeroes; whole clusters are deallocated. */
	assert_int_equal(rw(Q, BLK_IO_WRITE_ZEROES, 101 * CS + 512, NULL, CS + 1024), 0);
	assert_int_equal(rw(Q, BLK_IO_READ, 100 * CS, back, sizeof(back)), 0);
	assert_true(all_bytes(back, 0, CS));
	assert_true(all_bytes(back + CS, 0x5e, 512));
	assert_true(all_bytes(back + CS + 512, 0, CS + 1024));
	assert_true(all_bytes(back + 2 * CS + 1536, 0x5e, CS - 1536));
	assert_true(all_bytes(back + 3 * CS, 0x5e, CS));
}

static void test_metadata_error_breaks_image(void **state)
{
	static char buf[CS];
	struct blk_bdev *e, *q;
	struct blk_error_cfg c = { .fail_nth = 1, .fail_io = BLK_ERR_IO_WRITE };

	(void)state;
	assert_int_equal(blk_malloc_create("m3", BASE, 512, &M), 0);
	format(M, IMG, 12);
	assert_int_equal(blk_error_create("e3", "m3", &e), 0);
	q = open_q("q3", "e3", NULL);
	memset(buf, 0x42, sizeof(buf));
	assert_int_equal(rw(q, BLK_IO_WRITE, 0, buf, CS), 0);
	assert_int_equal(rw(q, BLK_IO_FLUSH, 0, NULL, 0), 0);
	/* The allocation's data write goes through; its metadata is written back
	 * by the flush, whose first write (the refcount block) fails. */
	assert_int_equal(rw(q, BLK_IO_WRITE, 50 * CS, buf, CS), 0);
	assert_int_equal(blk_error_inject(e, &c), 0);
	assert_int_equal(rw(q, BLK_IO_FLUSH, 0, NULL, 0), -EIO);
	assert_true(qof(q)->broken);
	assert_int_equal(rw(q, BLK_IO_WRITE, 60 * CS, buf, CS), -EIO);
	assert_int_equal(rw(q, BLK_IO_READ, 0, buf, CS), 0);
	assert_true(all_bytes(buf, 0x42, CS));
	/* Reopened, it works again; the unflushed allocation is gone (its
	 * mapping never reached the disk), the flushed one is there. */
	assert_int_equal(blk_bdev_delete("q3"), 0);
	q = open_q("q3", "e3", NULL);
	assert_int_equal(rw(q, BLK_IO_READ, 50 * CS, buf, CS), 0);
	assert_true(all_bytes(buf, 0, CS));
	assert_int_equal(rw(q, BLK_IO_READ, 0, buf, CS), 0);
	assert_true(all_bytes(buf, 0x42, CS));
	assert_int_equal(rw(q, BLK_IO_WRITE, 50 * CS, buf, CS), 0);
}

/* Power cut after each flush of a workload that allocates L2 tables, data
 * clusters and refcount blocks: every state must open and hold every write
 * completed before the flush. */
static void test_power_cut_every_flush(void **state)
{
	static char buf[CS], back[CS];
	struct blk_bdev *e, *q, *m;

	(void)state;
	for (uint64_t die = 1; die < 60; die += 4) {
		struct blk_error_cfg arm = { .power_cut = BLK_ERR_PC_ARM, .die_after_flush = die };
		struct blk_error_cfg cut = { .power_cut = BLK_ERR_PC_CUT };
		int done = 0;

		assert_int_equal(blk_malloc_create("m4", BASE, 512, &m), 0);
		format(m, IMG, 9);      /* 512-byte clusters: an L2 table maps 32 KiB */
		assert_int_equal(blk_error_create("e4", "m4", &e), 0);
		assert_int_equal(blk_error_inject(e, &arm), 0);
		q = open_q("q4", "e4", NULL);
		for (int i = 0; i < 16; i++) {
			memset(buf, 0x60 + i, 512);
			/* Far apart: new L2 tables and, past 128 KiB of clusters, new
			 * refcount blocks. */
			if (rw(q, BLK_IO_WRITE, (uint64_t)i * 40960 * 5, buf, 512))
				break;
			if (rw(q, BLK_IO_FLUSH, 0, NULL, 0))
				break;
			done = i + 1;
		}
		assert_int_equal(blk_bdev_delete("q4"), 0);
		assert_int_equal(blk_error_inject(e, &cut), 0);
		q = open_q("q4", "e4", NULL);
		for (int i = 0; i < done; i++) {
			assert_int_equal(rw(q, BLK_IO_READ, (uint64_t)i * 40960 * 5, back, 512), 0);
			assert_true(all_bytes(back, 0x60 + i, 512));
		}
		/* And the crashed image takes new writes. */
		assert_int_equal(rw(q, BLK_IO_WRITE, 7 << 20, buf, 512), 0);
		assert_int_equal(blk_bdev_delete("q4"), 0);
		assert_int_equal(blk_bdev_delete("e4"), 0);
		assert_int_equal(blk_bdev_delete("m4"), 0);
	}
}

static void test_file_image_create_resize(void **state)
{
	char path[64] = "/tmp/vsl-q2-XXXXXX";
	struct blk_image_create_opts co = { .path = path, .format = "qcow2", .size = 1 << 20,
					    .cluster_size = 4096 };
	struct blk_image_bdev_opts o = { .path = path };
	struct blk_image_info info;
	static char buf[CS], back[CS];
	struct blk_bdev *f;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	assert_int_equal(blk_image_create(&co, err, sizeof(err)), 0);
	assert_int_equal(blk_image_create(&co, err, sizeof(err)), -EEXIST);
	assert_int_equal(blk_image_info_path(path, &info, err, sizeof(err)), 0);
	assert_true(info.is_qcow2);
	assert_int_equal(info.size, 1 << 20);
	/* Offline growth that needs a bigger L1 table (1 MiB = 2 L2 tables). */
	assert_int_equal(blk_image_resize_path(path, 64 << 20, err, sizeof(err)), 0);
	assert_int_equal(blk_image_resize_path(path, 1 << 20, err, sizeof(err)), -ENOTSUP);
	assert_int_equal(blk_qcow2_create("fq", &o, err, sizeof(err), &f), 0);
	assert_int_equal(blk_bdev_size(f), 64 << 20);
	memset(buf, 0x9c, sizeof(buf));
	assert_int_equal(rw(f, BLK_IO_WRITE, (60 << 20) + 512, buf, CS), 0);
	assert_int_equal(blk_image_resize_bdev(f, 128 << 20, err, sizeof(err)), 0);
	assert_int_equal(rw(f, BLK_IO_WRITE, (127 << 20), buf, CS), 0);
	assert_int_equal(rw(f, BLK_IO_READ, (60 << 20) + 512, back, CS), 0);
	assert_memory_equal(buf, back, CS);
	assert_int_equal(blk_bdev_delete("fq"), 0);
	assert_null(blk_bdev_find("fq-file"));
	assert_int_equal(blk_qcow2_create("fq", &o, err, sizeof(err), &f), 0);
	assert_int_equal(rw(f, BLK_IO_READ, 127 << 20, back, CS), 0);
	assert_memory_equal(buf, back, CS);
	assert_int_equal(blk_bdev_delete("fq"), 0);
	unlink(path);
}


/* Random concurrent writes (many to the same clusters), discards and flushes
 * against a RAM model, with a 2-table L2 cache (eviction, dirty pressure, waits for slots) and 512-byte
 * clusters (many L2 tables and refcount blocks), then a reopen. */
enum { MODEL = 2 << 20, BATCH = 24 };

static void random_model_run(unsigned seed, uint64_t cache)
{
	struct blk_image_bdev_opts o = { .base = "m5", .l2_cache_size = cache };
	static unsigned char model[MODEL], back[MODEL], bufs[BATCH][8192];
	struct iovec iov[BATCH];
	struct done d[BATCH];
	struct blk_bdev *q, *m;

	assert_int_equal(blk_malloc_create("m5", BASE, 512, &m), 0);
	format(m, MODEL, 9);
	assert_int_equal(blk_qcow2_create("q5", &o, err, sizeof(err), &q), 0);
	memset(model, 0, sizeof(model));
	for (int round = 0; round < 60; round++) {
		int n = 0;

		for (int i = 0; i < BATCH; i++) {
			uint64_t len = (uint64_t)(1 + rand_r(&seed) % 16) * 512;
			uint64_t off = (uint64_t)(rand_r(&seed) % (MODEL / 512)) * 512;
			enum blk_io_type t = rand_r(&seed) % 10 ? BLK_IO_WRITE : BLK_IO_DISCARD;
			int pat = rand_r(&seed) & 0xff;
			bool clash = false;

			if (off + len > MODEL)
				off = MODEL - len;
			/* Overlapping requests in one batch have no defined order:
			 * back[] marks the bytes this batch already touches. */
			for (uint64_t b = off; b < off + len && !clash; b += 512)
				clash = back[b] == 1;
			if (clash)
				continue;
			memset(back + off, 1, len);
			if (t == BLK_IO_WRITE) {
				memset(bufs[n], pat, len);
				memcpy(model + off, bufs[n], len);
			} else {
				/* Whole clusters read back as zeroes; partial ones are
				 * left as they are. */
				memset(model + off, 0, len);
			}
			iov[n] = (struct iovec){ bufs[n], len };
			d[n] = (struct done){ 0, 0 };
			assert_int_equal(blk_bdev_submit(q, R, t, 0, off, len,
							 t == BLK_IO_WRITE ? &iov[n] : NULL,
							 t == BLK_IO_WRITE ? 1 : 0, done_cb, &d[n]),
					 0);
			n++;
		}
		for (int i = 0; i < n; i++) {
			assert_int_equal(poll_until(R, &d[i].calls, 1), 1);
			assert_int_equal(d[i].status, 0);
		}
		memset(back, 0, sizeof(back));
		if (round % 7 == 3)
			assert_int_equal(rw(q, BLK_IO_FLUSH, 0, NULL, 0), 0);
	}
	assert_int_equal(rw(q, BLK_IO_READ, 0, back, MODEL), 0);
	assert_memory_equal(model, back, MODEL);
	assert_int_equal(blk_bdev_delete("q5"), 0);
	assert_int_equal(blk_qcow2_create("q5", &o, err, sizeof(err), &q), 0);
	memset(back, 0x55, sizeof(back));
	assert_int_equal(rw(q, BLK_IO_READ, 0, back, MODEL), 0);
	assert_memory_equal(model, back, MODEL);
	memset(back, 0, sizeof(back));
	assert_int_equal(blk_bdev_delete("q5"), 0);
	assert_int_equal(blk_bdev_delete("m5"), 0);
}

static void test_random_against_model(void **state)
{
	(void)state;
	random_model_run(12345, 1024);          /* 2 L2 tables' worth: 4 slots */
	random_model_run(777, 1024);
	random_model_run(4242, 0);              /* default cache: the whole image */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unallocated_reads_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_allocate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers_one_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backing_copy_on_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_write_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata_error_breaks_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_every_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_image_create_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
	};

	vsl_log_set_level(NULL, VSL_LOG_OFF);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
