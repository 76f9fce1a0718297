/* test_blk_bdev_error.c — the error bdev: fail the Nth I/O (and a run of
 * them), fail a block range by I/O kind and errno, and power-cut tracking:
 * flush and FUA durability, versions overwritten around a flush, discards,
 * shadow capacity, arm/disarm rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "blk_internal.h"
#include "blk_test_util.h"
#include "vsl_log.h"

enum { BS = 512 };

static struct blk_reactor *R;
static struct blk_bdev *M, *E;

static int setup(void **state)
{
	(void)state;
	R = blk_reactor_create(0, 64, 32);
	if (!R || blk_malloc_create("m", 1 << 20, BS, &M) || blk_error_create("e", "m", &E))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	blk_bdev_delete_all();
	blk_reactor_destroy(R);
	return 0;
}

static int rd(uint64_t lba, void *buf)
{
	return sync_io(E, R, BLK_IO_READ, 0, lba * BS, buf, BS);
}

static int wr(uint64_t lba, int pattern, uint32_t flags)
{
	char buf[BS];

	memset(buf, pattern, sizeof(buf));
	return sync_io(E, R, BLK_IO_WRITE, flags, lba * BS, buf, BS);
}

static int flush(void)
{
	return sync_io(E, R, BLK_IO_FLUSH, 0, 0, NULL, 0);
}

static int inject(const struct blk_error_cfg *c)
{
	return blk_error_inject(E, c);
}

static void expect_block(uint64_t lba, int pattern)
{
	char buf[BS];

	assert_int_equal(rd(lba, buf), 0);
	if (!all_bytes(buf, pattern, BS))
		fail_msg("block %llu: 0x%02x, expected 0x%02x", (unsigned long long)lba,
			 (unsigned char)buf[0], pattern);
}

static void test_fail_nth(void **state)
{
	char buf[BS];
	struct blk_error_cfg c = { .fail_nth = 3, .fail_io = BLK_ERR_IO_READ };

	(void)state;
	assert_int_equal(inject(&c), 0);
	assert_int_equal(rd(0, buf), 0);
	assert_int_equal(wr(0, 1, 0), 0);     /* writes do not count */
	assert_int_equal(rd(0, buf), 0);
	assert_int_equal(rd(0, buf), -EIO);
	assert_int_equal(rd(0, buf), 0);

	c = (struct blk_error_cfg){ .fail_nth = 1, .fail_count = 2, .error = ENOSPC,
				    .fail_io = BLK_ERR_IO_WRITE };
	assert_int_equal(inject(&c), 0);
	assert_int_equal(wr(1, 1, 0), -ENOSPC);
	assert_int_equal(sync_io(E, R, BLK_IO_DISCARD, 0, 0, NULL, BS), -ENOSPC);
	assert_int_equal(wr(1, 1, 0), 0);

	c = (struct blk_error_cfg){ .fail_nth = 1, .fail_io = BLK_ERR_IO_FLUSH, .error = EIO };
	assert_int_equal(inject(&c), 0);
	assert_int_equal(flush(), -EIO);
	assert_int_equal(flush(), 0);
}

static void test_fail_range(void **state)
{
	char buf[4 * BS];
	struct blk_error_cfg c = { .range_set = true, .range_io = BLK_ERR_IO_WRITE,
				   .range_start = 10, .range_blocks = 2 };

	(void)state;
	assert_int_equal(inject(&c), 0);
	assert_int_equal(wr(9, 1, 0), 0);
	assert_int_equal(wr(10, 1, 0), -EIO);
	assert_int_equal(wr(11, 1, 0), -EIO);
	assert_int_equal(wr(12, 1, 0), 0);
	/* A request overlapping the range by one block fails as a whole. */
	memset(buf, 2, sizeof(buf));
	assert_int_equal(sync_io(E, R, BLK_IO_WRITE, 0, 7 * BS, buf, sizeof(buf)), -EIO);
	/* Reads are not selected. */
	assert_int_equal(sync_io(E, R, BLK_IO_READ, 0, 9 * BS, buf, sizeof(buf)), 0);
	/* A range past the end is refused; clear removes everything. */
	c.range_start = (1 << 20) / BS;
	assert_int_equal(inject(&c), -ERANGE);
	c = (struct blk_error_cfg){ .clear = true };
	assert_int_equal(inject(&c), 0);
	assert_int_equal(wr(10, 1, 0), 0);
	/* Not an error bdev. */
	assert_int_equal(blk_error_inject(M, &c), -EINVAL);
}

static void test_power_cut_exact(void **state)
{
	struct blk_error_cfg arm = { .power_cut = BLK_ERR_PC_ARM };
	struct blk_error_cfg cut = { .power_cut = BLK_ERR_PC_CUT };

	(void)state;
	assert_int_equal(wr(0, 0x10, 0), 0);   /* before arming: in the base */
	assert_int_equal(inject(&arm), 0);
	assert_int_equal(inject(&arm), -EALREADY);

	assert_int_equal(wr(0, 0x11, 0), 0);
	assert_int_equal(wr(1, 0x21, 0), 0);
	assert_int_equal(flush(), 0);          /* covers 0x11 and 0x21 */
	assert_int_equal(wr(0, 0x12, 0), 0);
	assert_int_equal(wr(2, 0x31, BLK_IO_F_FUA), 0);   /* durable by itself */
	assert_int_equal(wr(3, 0x41, 0), 0);   /* never covered */
	/* Before the cut the device shows the newest data. */
	expect_block(0, 0x12);
	expect_block(3, 0x41);
	/* The base never saw any of it. */
	{
		char buf[BS];

		assert_int_equal(sync_io(M, R, BLK_IO_READ, 0, 0, buf, BS), 0);
		assert_true(all_bytes(buf, 0x10, BS));
	}
	assert_int_equal(inject(&cut), 0);
	expect_block(0, 0x11);                 /* 0x12 was not covered by a flush */
	expect_block(1, 0x21);
	expect_block(2, 0x31);
	expect_block(3, 0);                    /* back to the base */

	/* Still armed after a cut. A flush covers everything before it; a
	 * discard is a write like any other. */
	assert_int_equal(wr(0, 0x13, 0), 0);
	assert_int_equal(wr(4, 0x51, 0), 0);
	assert_int_equal(sync_io(E, R, BLK_IO_DISCARD, 0, 4 * BS, NULL, BS), 0);
	assert_int_equal(flush(), 0);
	assert_int_equal(wr(4, 0x52, 0), 0);
	assert_int_equal(wr(0, 0x14, 0), 0);
	assert_int_equal(sync_io(E, R, BLK_IO_WRITE_ZEROES, 0, 1 * BS, NULL, BS), 0);
	expect_block(1, 0);
	assert_int_equal(inject(&cut), 0);
	expect_block(0, 0x13);
	expect_block(1, 0x21);
	expect_block(4, 0);
}

static void test_power_cut_multi_block_reads(void **state)
{
	struct blk_error_cfg arm = { .power_cut = BLK_ERR_PC_ARM };
	struct blk_error_cfg cut = { .power_cut = BLK_ERR_PC_CUT };
	char buf[8 * BS];

	(void)state;
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(sync_io(M, R, BLK_IO_WRITE, 0, 0, buf, sizeof(buf)), 0);
	assert_int_equal(inject(&arm), 0);
	assert_int_equal(wr(2, 0x01, 0), 0);
	assert_int_equal(flush(), 0);
	assert_int_equal(wr(5, 0x02, 0), 0);
	assert_int_equal(sync_io(E, R, BLK_IO_READ, 0, 0, buf, sizeof(buf)), 0);
	for (int i = 0; i < 8; i++)
		assert_true(all_bytes(buf + i * BS, i == 2 ? 0x01 : i == 5 ? 0x02 : 0x77, BS));
	assert_int_equal(inject(&cut), 0);
	assert_int_equal(sync_io(E, R, BLK_IO_READ, 0, 0, buf, sizeof(buf)), 0);
	for (int i = 0; i < 8; i++)
		assert_true(all_bytes(buf + i * BS, i == 2 ? 0x01 : 0x77, BS));
}

static void test_shadow_capacity(void **state)
{
	struct blk_error_cfg arm = { .power_cut = BLK_ERR_PC_ARM, .shadow_size = 8 * BS };
	struct blk_error_cfg disarm = { .power_cut = BLK_ERR_PC_DISARM };
	struct blk_error_cfg cut = { .power_cut = BLK_ERR_PC_CUT };

	(void)state;
	/* DISARM of an empty shadow works; so does re-arming. */
	assert_int_equal(inject(&arm), 0);
	assert_int_equal(inject(&disarm), 0);
	assert_int_equal(inject(&arm), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(wr(0, i + 1, 0), 0);   /* one block, many versions */
	/* Full of unflushed versions of block 0: nothing can be freed. */
	assert_int_equal(wr(1, 9, 0), -ENOSPC);
	assert_int_equal(flush(), 0);
	/* After the flush only the newest version of block 0 is needed. */
	for (int i = 1; i < 8; i++)
		assert_int_equal(wr((uint64_t)i, 0x40 + i, 0), 0);
	expect_block(0, 8);
	assert_int_equal(inject(&disarm), -EBUSY);
	assert_int_equal(inject(&cut), 0);
	expect_block(0, 8);
	expect_block(1, 0);
	/* CUT without ARM is refused. */
	assert_int_equal(blk_error_inject(E, &(struct blk_error_cfg){ .clear = true }), 0);
}

/* Power lost right after the 2nd flush: nothing later is accepted, and the
 * cut leaves exactly what that flush covered. */
static void test_die_after_flush(void **state)
{
	struct blk_error_cfg arm = { .power_cut = BLK_ERR_PC_ARM, .die_after_flush = 2 };
	struct blk_error_cfg cut = { .power_cut = BLK_ERR_PC_CUT };
	char buf[BS];

	(void)state;
	assert_int_equal(inject(&(struct blk_error_cfg){ .die_after_flush = 1 }), -EINVAL);
	assert_int_equal(inject(&arm), 0);
	assert_int_equal(wr(0, 1, 0), 0);
	assert_int_equal(flush(), 0);
	assert_int_equal(wr(1, 2, 0), 0);
	assert_int_equal(flush(), 0);          /* the 2nd: acknowledged, then dead */
	assert_int_equal(wr(2, 3, 0), -EIO);
	assert_int_equal(rd(0, buf), -EIO);
	assert_int_equal(flush(), -EIO);
	assert_int_equal(inject(&cut), 0);
	expect_block(0, 1);
	expect_block(1, 2);
	expect_block(2, 0);
	assert_int_equal(wr(2, 4, 0), 0);      /* alive again */
}

/* Random workloads against a model of the power-cut rules: writes (single
 * and multi-block, some FUA), discards, flushes, reads and cuts, with a shadow
 * small enough that pruning and ENOSPC happen. After every cut the device
 * must equal the model exactly. */
enum { MB = 32, MAXV = 4096 };

struct mver {
	uint64_t seq;
	int val;
	bool fua;
};

struct model {
	struct mver v[MB][64];
	int n[MB];
	uint64_t seq, durable;
};

static int model_val(const struct model *m, int b)
{
	return m->n[b] ? m->v[b][m->n[b] - 1].val : 0;
}

static void model_cut(struct model *m)
{
	for (int b = 0; b < MB; b++) {
		int keep = 0;

		for (int i = m->n[b] - 1; i >= 0; i--) {
			if (m->v[b][i].fua || m->v[b][i].seq <= m->durable) {
				keep = i + 1;
				break;
			}
		}
		m->n[b] = keep;
	}
}

/* Versions the model holds that the device may still need (an upper bound on
 * what it keeps after pruning): from the newest durable one up. */
static void model_prune(struct model *m, int b)
{
	for (int i = m->n[b] - 1; i > 0; i--) {
		if (m->v[b][i].fua || m->v[b][i].seq <= m->durable) {
			memmove(&m->v[b][0], &m->v[b][i], sizeof(m->v[b][0]) * (size_t)(m->n[b] - i));
			m->n[b] -= i;
			return;
		}
	}
}

static void check_all(const struct model *m)
{
	static char buf[MB * BS];

	assert_int_equal(sync_io(E, R, BLK_IO_READ, 0, 0, buf, sizeof(buf)), 0);
	for (int b = 0; b < MB; b++)
		if (!all_bytes(buf + b * BS, model_val(m, b), BS))
			fail_msg("block %d: 0x%02x, model 0x%02x", b, (unsigned char)buf[b * BS],
				 model_val(m, b));
}

static void test_power_cut_model(void **state)
{
	struct blk_error_cfg arm = { .power_cut = BLK_ERR_PC_ARM, .shadow_size = 48 * BS };
	struct blk_error_cfg cut = { .power_cut = BLK_ERR_PC_CUT };
	static struct model m;
	static char buf[4 * BS];
	unsigned seed = 12345;
	int cuts = 0, enospc = 0;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(inject(&arm), 0);
	for (int op = 0; op < 6000; op++) {
		int r = (int)(rand_r(&seed) % 100), b = (int)(rand_r(&seed) % MB);
		int nb = 1 + (int)(rand_r(&seed) % 4), val = 1 + (int)(rand_r(&seed) % 255), ret;
		bool fua = rand_r(&seed) % 8 == 0;

		if (b + nb > MB)
			nb = MB - b;
		if (r < 65) {
			bool discard = r >= 55;

			memset(buf, val, sizeof(buf));
			ret = discard ? sync_io(E, R, BLK_IO_DISCARD, 0, (uint64_t)b * BS, NULL,
						(uint64_t)nb * BS)
				      : sync_io(E, R, BLK_IO_WRITE, fua ? BLK_IO_F_FUA : 0,
						(uint64_t)b * BS, buf, (uint64_t)nb * BS);
			if (ret == -ENOSPC) {
				enospc++;
				continue;
			}
			assert_int_equal(ret, 0);
			m.seq++;
			for (int i = b; i < b + nb; i++) {
				model_prune(&m, i);
				assert_true(m.n[i] < 64);
				m.v[i][m.n[i]++] = (struct mver){ m.seq, discard ? 0 : val,
								  fua && !discard };
			}
		} else if (r < 80) {
			assert_int_equal(flush(), 0);
			m.durable = m.seq;
		} else if (r < 97) {
			assert_int_equal(sync_io(E, R, BLK_IO_READ, 0, (uint64_t)b * BS, buf,
						 (uint64_t)nb * BS),
					 0);
			for (int i = 0; i < nb; i++)
				if (!all_bytes(buf + i * BS, model_val(&m, b + i), BS))
					fail_msg("op %d: block %d reads 0x%02x, model 0x%02x", op, b + i,
						 (unsigned char)buf[i * BS], model_val(&m, b + i));
		} else {
			assert_int_equal(inject(&cut), 0);
			model_cut(&m);
			check_all(&m);
			cuts++;
		}
	}
	assert_int_equal(inject(&cut), 0);
	model_cut(&m);
	check_all(&m);
	assert_true(cuts > 50);
	assert_true(enospc > 0);   /* the shadow did fill up */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fail_nth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_multi_block_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shadow_capacity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_die_after_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_model, setup, teardown),
	};

	vsl_log_set_level(NULL, VSL_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
