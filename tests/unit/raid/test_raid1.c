/* test_raid1.c — RAID1 on a reactor driven by the test, over malloc and
 * error bdevs: mirrored writes, member failure on a write error (superblock
 * event bump on the others before the write completes), read retry after a
 * read error, EIO with no healthy member, the write-intent bitmap (set before
 * writes, cleared lazily), resync of dirty regions only after an unclean stop,
 * rebuild onto a replacement with I/O running, stale and corrupt members at
 * assembly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "raid_test_util.h"

enum { MB = 1 << 20 };


static int setup(void **state)
{
	(void)state;
	return reactor_up();
}

static int teardown(void **state)
{
	(void)state;
	reactor_down();
	return 0;
}

static int cleanup(void **state)
{
	(void)state;
	poll_some(R, 5);
	/* Nothing may stay counted in flight on any member once I/O is done. */
	for (struct raid_set *s = raid_set_next(NULL); s; s = raid_set_next(s)) {
		for (unsigned i = 0; i < s->n; i++)
			if (atomic_load(&s->m[i].outstanding))
				fail_msg("member %u of %s: %u outstanding", i, s->bdev.name,
					 atomic_load(&s->m[i].outstanding));
		if (s->meta.phase != RAID_META_IDLE)
			fail_msg("metadata writer of %s not idle", s->bdev.name);
	}
	blk_bdev_delete_all();
	return 0;
}

static int inject(struct blk_bdev *e, const struct blk_error_cfg *c)
{
	return blk_error_inject(e, c);
}

static struct raid_set *mirror(const char *name, const char *a, const char *b)
{
	const char *m[] = { a, b };
	struct raid_set *s = mkset(name, RAID_LEVEL_1, 0, MB, m, 2, NULL);

	wait_rebuild(s);        /* the initial resync */
	return s;
}

static void test_mirror_and_superblock(void **state)
{
	struct blk_bdev *m0 = mkmalloc("m0", 8 * MB), *m1 = mkmalloc("m1", 8 * MB), *b;
	struct raid_set *s;
	struct raid_sb sb;

	(void)state;
	s = mirror("r", "m0", "m1");
	b = raid_set_bdev(s);
	assert_string_equal(blk_bdev_type(b), "raid1");
	assert_int_equal(blk_bdev_size(b), 7 * MB);
	assert_int_equal(s->rb.resynced_bytes, 7 * MB);
	raid_set_tick(s);
	raid_set_tick(s);        /* the initial resync's bits, cleared when idle */
	assert_int_equal(fill(b, 100 * 1024, 64 * 1024, 0x3c), 0);
	assert_true(holds(b, 100 * 1024, 64 * 1024, 0x3c));
	assert_true(holds(m0, RAID_DATA_OFFSET + 100 * 1024, 64 * 1024, 0x3c));
	assert_true(holds(m1, RAID_DATA_OFFSET + 100 * 1024, 64 * 1024, 0x3c));
	assert_int_equal(io(b, BLK_IO_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(member_sb(m1, &sb), 0);
	assert_int_equal(sb.slot, 1);
	assert_int_equal(sb.level, 1);
	assert_int_equal(sb.state[0], RAID_MEMBER_ACTIVE);
	assert_int_equal(sb.state[1], RAID_MEMBER_ACTIVE);
	assert_int_equal(sb.n_regions, 7);
	assert_true(raid_sb_bit(sb.bitmap, 0));      /* region 0 was written */
	assert_false(raid_sb_bit(sb.bitmap, 6));
}

static void test_write_error_fails_member(void **state)
{
	struct blk_bdev *e1, *b, *m1;
	struct raid_set *s;
	struct raid_sb sb0, sb1;
	struct blk_error_cfg c = { .fail_nth = 1, .fail_io = BLK_ERR_IO_WRITE };
	uint64_t events;

	(void)state;
	mkmalloc("m0", 8 * MB);
	m1 = mkmalloc("m1", 8 * MB);
	e1 = mkerror("e1", "m1");
	s = mirror("r", "m0", "e1");
	b = raid_set_bdev(s);
	events = s->events;
	assert_int_equal(inject(e1, &c), 0);
	assert_int_equal(fill(b, 0, 4096, 0x11), 0);          /* survives on m0 */
	assert_int_equal(state_of(s, 1), RAID_MEMBER_FAILED);
	assert_int_equal(s->events, events + 1);
	/* Durable before the write completed: m0's superblock says so. */
	assert_int_equal(member_sb(blk_bdev_find("m0"), &sb0), 0);
	assert_int_equal(sb0.events, events + 1);
	assert_int_equal(sb0.state[1], RAID_MEMBER_FAILED);
	/* ...while the failed member keeps the old one. */
	assert_int_equal(member_sb(m1, &sb1), 0);
	assert_int_equal(sb1.events, events);
	/* Degraded writes skip it. */
	assert_int_equal(fill(b, 8192, 4096, 0x22), 0);
	assert_true(holds(m1, RAID_DATA_OFFSET + 8192, 4096, 0));
	assert_true(holds(b, 8192, 4096, 0x22));
	assert_true(atomic_load(&s->degraded_writes) >= 1);
	assert_int_equal(atomic_load(&s->m[1].write_errors), 1);
	/* The last active member cannot be failed by hand. */
	assert_int_equal(raid_member_fail(s, "m0"), -EBUSY);
	assert_int_equal(raid_member_fail(s, "e1"), -EINVAL);
	assert_int_equal(raid_member_fail(s, "zz"), -ENOENT);
}

static void test_read_error_retries(void **state)
{
	struct blk_bdev *e0, *b;
	struct raid_set *s;
	struct blk_error_cfg c = { .range_set = true, .range_io = BLK_ERR_IO_READ,
				   .range_start = 0, .range_blocks = 16 * 1024 };

	(void)state;
	mkmalloc("m0", 8 * MB);
	mkmalloc("m1", 8 * MB);
	e0 = mkerror("e0", "m0");
	s = mirror("r", "e0", "m1");
	b = raid_set_bdev(s);
	assert_int_equal(fill(b, 0, 64 * 1024, 0x44), 0);
	assert_int_equal(inject(e0, &c), 0);
	for (int i = 0; i < 4; i++)
		assert_true(holds(b, 0, 64 * 1024, 0x44));
	assert_int_equal(state_of(s, 0), RAID_MEMBER_FAILED);
	assert_int_equal(atomic_load(&s->read_retries), 1);
	assert_int_equal(atomic_load(&s->m[0].read_errors), 1);
}

static void test_no_healthy_member_eio(void **state)
{
	struct blk_bdev *e0, *e1, *b;
	struct raid_set *s;
	struct blk_error_cfg c = { .fail_nth = 1, .fail_count = 100, .fail_io = BLK_ERR_IO_ANY };
	char buf[4096];

	(void)state;
	mkmalloc("m0", 8 * MB);
	mkmalloc("m1", 8 * MB);
	e0 = mkerror("e0", "m0");
	e1 = mkerror("e1", "m1");
	s = mirror("r", "e0", "e1");
	b = raid_set_bdev(s);
	assert_int_equal(inject(e0, &c), 0);
	/* e1: its data area fails, its superblocks can still be written. */
	c = (struct blk_error_cfg){ .range_set = true, .range_io = BLK_ERR_IO_ANY,
				    .range_start = RAID_DATA_OFFSET / 512,
				    .range_blocks = 7 * MB / 512 };
	assert_int_equal(inject(e1, &c), 0);
	assert_int_equal(fill(b, 0, 4096, 1), -EIO);
	/* e0 failed; e1, the last active member, stays but its errors come back. */
	assert_int_equal(state_of(s, 0), RAID_MEMBER_FAILED);
	assert_int_equal(state_of(s, 1), RAID_MEMBER_ACTIVE);
	assert_int_equal(io(b, BLK_IO_READ, 0, buf, sizeof(buf)), -EIO);
	assert_int_equal(fill(b, 0, 4096, 1), -EIO);
	/* Once e1 works again the set serves it; e0 is never read (stale). */
	c = (struct blk_error_cfg){ .clear = true };
	assert_int_equal(inject(e1, &c), 0);
	assert_int_equal(fill(b, 0, 4096, 2), 0);
	assert_true(holds(b, 0, 4096, 2));
	/* Failing the last member by hand is refused; with no active member left
	 * (a rebuilding one does not count) every request fails with EIO. */
	assert_int_equal(raid_member_fail(s, "e1"), -EBUSY);
}

static void test_bitmap_lazy_clear(void **state)
{
	struct blk_bdev *m0, *b;
	struct raid_set *s;
	struct raid_sb sb;

	(void)state;
	m0 = mkmalloc("m0", 8 * MB);
	mkmalloc("m1", 8 * MB);
	s = mirror("r", "m0", "m1");
	b = raid_set_bdev(s);
	/* The resync left every region dirty; two idle ticks clean them. */
	assert_int_equal(raid_set_tick(s), 0);
	assert_int_equal(raid_set_tick(s), 0);
	assert_int_equal(raid_bitmap_dirty_count_locked(s), 0);
	assert_int_equal(fill(b, 3 * MB + 512, 4096, 5), 0);
	assert_int_equal(member_sb(m0, &sb), 0);
	assert_true(raid_sb_bit(sb.bitmap, 3));
	assert_false(raid_sb_bit(sb.bitmap, 2));
	assert_int_equal(raid_set_tick(s), 0);      /* written since the last tick: kept */
	assert_int_equal(member_sb(m0, &sb), 0);
	assert_true(raid_sb_bit(sb.bitmap, 3));
	assert_int_equal(raid_set_tick(s), 0);      /* idle for a whole tick: cleared */
	assert_int_equal(member_sb(m0, &sb), 0);
	assert_false(raid_sb_bit(sb.bitmap, 3));
	assert_int_equal(raid_bitmap_dirty_count_locked(s), 0);
	assert_int_equal(s->bm.sets, 1);
}

static void test_unclean_stop_resyncs_dirty_only(void **state)
{
	struct blk_bdev *m0, *m1;
	struct raid_set *s;

	(void)state;
	m0 = mkmalloc("m0", 8 * MB);
	m1 = mkmalloc("m1", 8 * MB);
	s = mirror("r", "m0", "m1");
	raid_set_tick(s);
	raid_set_tick(s);
	assert_int_equal(fill(raid_set_bdev(s), 2 * MB, 8192, 0x66), 0);
	assert_int_equal(fill(raid_set_bdev(s), 5 * MB, 4096, 0x67), 0);
	/* "Crash": no tick, so regions 2 and 5 stay dirty on disk; the members
	 * differ there (a write that reached only m0), and elsewhere too (a
	 * change that no bitmap bit covers must not be "repaired"). */
	assert_int_equal(raid_set_stop(s), 0);
	assert_int_equal(fill(m0, RAID_DATA_OFFSET + 2 * MB + 8192, 4096, 0x99), 0);
	assert_int_equal(fill(m1, RAID_DATA_OFFSET + 4 * MB, 4096, 0x98), 0);
	s = mkset("r", RAID_LEVEL_1, 0, 0, (const char *[]){ "m0", "m1" }, 2, NULL);
	assert_int_equal(s->rb.resync_pending, 2);
	wait_rebuild(s);
	assert_int_equal(s->rb.resynced_bytes, 2 * MB);
	assert_true(same_data(m0, m1, RAID_DATA_OFFSET + 2 * MB, MB));
	assert_true(holds(m1, RAID_DATA_OFFSET + 2 * MB + 8192, 4096, 0x99));
	assert_true(holds(m1, RAID_DATA_OFFSET + 4 * MB, 4096, 0x98));   /* not a dirty region */
}

static void test_rebuild_with_io(void **state)
{
	struct blk_bdev *m0, *m2, *b;
	struct raid_set *s;
	char err[256];
	int writes = 0;

	(void)state;
	m0 = mkmalloc("m0", 8 * MB);
	mkmalloc("m1", 8 * MB);
	m2 = mkmalloc("m2", 8 * MB);
	s = mirror("r", "m0", "m1");
	b = raid_set_bdev(s);
	for (int i = 0; i < 7; i++)
		assert_int_equal(fill(b, (uint64_t)i * MB, 64 * 1024, 0x10 + i), 0);
	assert_int_equal(raid_member_fail(s, "m1"), 0);
	assert_int_equal(fill(b, 6 * MB + 512 * 1024, 4096, 0x77), 0);   /* degraded */
	assert_int_equal(raid_member_add(s, "m2", false, err, sizeof(err)), -ENOSPC);
	assert_int_equal(raid_member_remove(s, "m1", err, sizeof(err)), 0);
	assert_null(blk_bdev_claimed_by(blk_bdev_find("m1")));
	raid_set_rebuild_rate(s, 8 * MB);      /* slow enough to write during it */
	assert_int_equal(raid_member_add(s, "m2", false, err, sizeof(err)), 0);
	assert_int_equal(state_of(s, 1), RAID_MEMBER_REBUILDING);
	while (raid_set_rebuilding(s)) {
		/* Writes land everywhere, also in and around the window. */
		uint64_t off = ((uint64_t)writes * 331 * 1024) % (7 * MB - 8192);

		assert_int_equal(fill(b, off & ~511ull, 8192, 0xa0 + writes % 16), 0);
		writes++;
		blk_reactor_poll(R, 1);
	}
	poll_some(R, 5);
	assert_true(writes > 3);
	assert_int_equal(state_of(s, 1), RAID_MEMBER_ACTIVE);
	assert_int_equal(s->rb.rebuilt_bytes, 7 * MB);
	assert_true(same_data(m0, m2, RAID_DATA_OFFSET, 7 * MB));
	/* Reads may now use m2. */
	assert_true(holds(b, 6 * MB + 512 * 1024, 4096, 0x77) || writes);
}

/* A spare waits in a new slot, takes no I/O, and is promoted and rebuilt
 * when a member fails; the set wants `width` copies, not one per slot. */
static void test_spare_promoted(void **state)
{
	struct blk_bdev *m0, *m2, *b;
	struct raid_set *s;
	struct raid_sb sb;
	char err[256];

	(void)state;
	m0 = mkmalloc("m0", 8 * MB);
	mkmalloc("m1", 8 * MB);
	m2 = mkmalloc("m2", 8 * MB);
	s = mirror("r", "m0", "m1");
	b = raid_set_bdev(s);
	assert_int_equal(fill(b, 0, 7 * MB, 0x5c), 0);
	assert_int_equal(raid_member_add(s, "m2", true, err, sizeof(err)), 0);
	assert_int_equal(s->n, 3);
	assert_int_equal(s->width, 2);
	assert_int_equal(state_of(s, 2), RAID_MEMBER_SPARE);
	assert_false(raid_set_rebuilding(s));
	/* It carries the superblock, but no data. */
	assert_int_equal(member_sb(m2, &sb), 0);
	assert_int_equal(sb.state[2], RAID_MEMBER_SPARE);
	assert_int_equal(sb.width, 2);
	assert_true(holds(m2, RAID_DATA_OFFSET, 4096, 0));
	assert_int_equal(fill(b, 0, 4096, 0x5d), 0);
	assert_true(holds(m2, RAID_DATA_OFFSET, 4096, 0));
	assert_int_equal(atomic_load(&s->degraded_writes), 0);
	/* A member fails: the spare takes over at once. */
	assert_int_equal(raid_member_fail(s, "m1"), 0);
	assert_int_equal(state_of(s, 2), RAID_MEMBER_REBUILDING);
	wait_rebuild(s);
	assert_int_equal(state_of(s, 2), RAID_MEMBER_ACTIVE);
	assert_int_equal(state_of(s, 1), RAID_MEMBER_FAILED);
	assert_true(same_data(m0, m2, RAID_DATA_OFFSET, 7 * MB));
	assert_int_equal(fill(b, MB, 4096, 0x5e), 0);
	assert_int_equal(atomic_load(&s->degraded_writes), 0);   /* 2 of width 2 */
	/* No second spare: another failure leaves it degraded. */
	assert_int_equal(raid_member_fail(s, "m0"), 0);
	assert_false(raid_set_rebuilding(s));
	assert_true(holds(b, MB, 4096, 0x5e));
	assert_int_equal(fill(b, 2 * MB, 4096, 0x5f), 0);
	assert_int_equal(atomic_load(&s->degraded_writes), 1);
}

static void test_stale_and_corrupt_members(void **state)
{
	struct blk_bdev *m0, *m1, *m2;
	const char *three[] = { "m0", "m1", "m2" };
	struct raid_set *s;
	struct json_object *st;

	(void)state;
	m0 = mkmalloc("m0", 8 * MB);
	m1 = mkmalloc("m1", 8 * MB);
	m2 = mkmalloc("m2", 8 * MB);
	s = mkset("r", RAID_LEVEL_1, 0, MB, three, 3, NULL);
	wait_rebuild(s);
	assert_int_equal(raid_member_fail(s, "m2"), 0);
	assert_int_equal(fill(raid_set_bdev(s), 0, 4096, 0x5e), 0);   /* m2 misses it */
	assert_int_equal(raid_set_stop(s), 0);
	/* m1's superblocks destroyed: it is ignored, with the reason kept. */
	assert_int_equal(fill(m1, 0, 4096, 0x13), 0);
	{
		char buf[2 * RAID_SB_SIZE];

		assert_int_equal(io(m1, BLK_IO_READ, 0, buf, sizeof(buf)), 0);
		buf[0] = 'V'; buf[1] = 'R'; buf[2] = 'A'; buf[3] = 'I';
		buf[RAID_SB_SIZE + 100] ^= 1;
		assert_int_equal(io(m1, BLK_IO_WRITE, 0, buf, sizeof(buf)), 0);
	}
	s = mkset("r", RAID_LEVEL_1, 0, 0, three, 3, NULL);
	assert_non_null(s->ignored);
	assert_int_equal(json_object_array_length(s->ignored), 1);
	assert_null(blk_bdev_claimed_by(m1));
	/* m2 is stale (older events): rebuilt from m0, never read before that. */
	assert_int_equal(state_of(s, 2), RAID_MEMBER_REBUILDING);
	wait_rebuild(s);
	assert_int_equal(state_of(s, 2), RAID_MEMBER_ACTIVE);
	assert_true(holds(m2, RAID_DATA_OFFSET, 4096, 0x5e));
	assert_true(same_data(m0, m2, RAID_DATA_OFFSET, 7 * MB));
	st = json_object_new_object();
	raid_set_status(s, st);
	assert_string_equal(json_object_get_string(json_object_object_get(st, "raid_state")),
			    "degraded");
	json_object_put(st);
}

static void test_scrub_reports_and_repairs(void **state)
{
	struct blk_bdev *m0, *m1;
	struct raid_set *s;

	(void)state;
	m0 = mkmalloc("m0", 8 * MB);
	m1 = mkmalloc("m1", 8 * MB);
	s = mirror("r", "m0", "m1");
	assert_int_equal(fill(raid_set_bdev(s), 0, MB, 0x21), 0);
	/* Silent corruption on m1 in regions 2 and 5. */
	assert_int_equal(fill(m1, RAID_DATA_OFFSET + 2 * MB + 4096, 8192, 0x66), 0);
	assert_int_equal(fill(m1, RAID_DATA_OFFSET + 5 * MB, 512, 0x67), 0);
	assert_int_equal(raid_set_scrub(s, false), 0);
	wait_rebuild(s);
	assert_int_equal(s->rb.scrubs, 1);
	assert_true(raid_sb_bit(s->rb.mismatch, 2) && raid_sb_bit(s->rb.mismatch, 5));
	assert_false(raid_sb_bit(s->rb.mismatch, 0));
	assert_int_equal(s->rb.mismatch_bytes, 3 * 4096);
	assert_int_equal(s->rb.repaired_bytes, 0);
	assert_false(same_data(m0, m1, RAID_DATA_OFFSET, 7 * MB));
	assert_int_equal(raid_set_scrub(s, true), 0);
	wait_rebuild(s);
	assert_true(s->rb.repaired_bytes > 0);
	assert_true(same_data(m0, m1, RAID_DATA_OFFSET, 7 * MB));
	assert_int_equal(raid_set_scrub(s, false), 0);
	wait_rebuild(s);
	assert_int_equal(s->rb.mismatch_bytes, 0);
}

/* A reactor with 8 I/O contexts: RAID1 writes need 3 each (the set's and one
 * per member), so submissions hit -ENOMEM (the caller retries) and member
 * submissions hit it too (parked, retried): every write still lands, once. */
static void test_out_of_contexts(void **state)
{
	struct blk_reactor *small = blk_reactor_create(1, 8, 8);
	struct blk_bdev *m0, *m1, *b;
	struct raid_set *s;
	enum { N = 24 };
	static char bufs[N][4096];
	struct iovec iov[N];
	struct done d[N];
	int submitted = 0, enomem = 0;
	uint64_t end = vsl_time_mono_ms() + 5000;

	(void)state;
	assert_non_null(small);
	m0 = mkmalloc("m0", 8 * MB);
	m1 = mkmalloc("m1", 8 * MB);
	s = mirror("r", "m0", "m1");
	b = raid_set_bdev(s);
	raid_set_tick(s);
	raid_set_tick(s);
	memset(d, 0, sizeof(d));
	for (int i = 0; i < N; i++) {
		memset(bufs[i], 0x30 + i, sizeof(bufs[i]));
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
	}
	while (vsl_time_mono_ms() < end) {
		int done = 0;

		while (submitted < N) {
			int ret = blk_bdev_submit(b, small, BLK_IO_WRITE, 0,
						  (uint64_t)submitted * 256 * 1024, 4096,
						  &iov[submitted], 1, done_cb, &d[submitted]);

			if (ret == -ENOMEM) {
				enomem++;
				break;
			}
			assert_int_equal(ret, 0);
			submitted++;
		}
		blk_reactor_poll(small, 1);
		blk_reactor_poll(R, 0);      /* the home reactor (metadata) */
		for (int i = 0; i < N; i++)
			done += d[i].calls;
		if (done == N && submitted == N)
			break;
	}
	blk_reactor_poll(R, 0);              /* this thread drives R again */
	assert_true(enomem > 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(d[i].calls, 1);
		assert_int_equal(d[i].status, 0);
		assert_true(holds(m0, RAID_DATA_OFFSET + (uint64_t)i * 256 * 1024, 4096, 0x30 + i));
		assert_true(holds(m1, RAID_DATA_OFFSET + (uint64_t)i * 256 * 1024, 4096, 0x30 + i));
	}
	assert_int_equal(state_of(s, 0), RAID_MEMBER_ACTIVE);
	assert_int_equal(state_of(s, 1), RAID_MEMBER_ACTIVE);
	assert_int_equal(blk_reactor_io_free(small), 8);
	blk_reactor_destroy(small);
	blk_reactor_poll(R, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_mirror_and_superblock, cleanup),
		cmocka_unit_test_teardown(test_write_error_fails_member, cleanup),
		cmocka_unit_test_teardown(test_read_error_retries, cleanup),
		cmocka_unit_test_teardown(test_no_healthy_member_eio, cleanup),
		cmocka_unit_test_teardown(test_bitmap_lazy_clear, cleanup),
		cmocka_unit_test_teardown(test_unclean_stop_resyncs_dirty_only, cleanup),
		cmocka_unit_test_teardown(test_rebuild_with_io, cleanup),
		cmocka_unit_test_teardown(test_spare_promoted, cleanup),
		cmocka_unit_test_teardown(test_stale_and_corrupt_members, cleanup),
		cmocka_unit_test_teardown(test_scrub_reports_and_repairs, cleanup),
		cmocka_unit_test_teardown(test_out_of_contexts, cleanup),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
