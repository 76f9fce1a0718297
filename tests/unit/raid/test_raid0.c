/* test_raid0.c — RAID0: the strip map, data placed on the members as the
 * map says (read back from the members directly), requests split across
 * strips and members, flush/discard fan-out, assembly refusals and bad input
 * that must leave every member untouched. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "raid_test_util.h"

void raid0_map(const struct raid_set *s, uint64_t off, unsigned *member, uint64_t *member_off,
	       uint64_t *seg_max);

enum { MB = 1 << 20, STRIP = 64 << 10 };

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

static void test_map(void **state)
{
	struct raid_set s = { .n = 3, .strip_size = 4096, .strip_shift = 12,
			      .data_offset = RAID_DATA_OFFSET };
	unsigned m;
	uint64_t off, max;

	(void)state;
	raid0_map(&s, 0, &m, &off, &max);
	assert_int_equal(m, 0);
	assert_int_equal(off, RAID_DATA_OFFSET);
	assert_int_equal(max, 4096);
	raid0_map(&s, 4096 + 512, &m, &off, &max);
	assert_int_equal(m, 1);
	assert_int_equal(off, RAID_DATA_OFFSET + 512);
	assert_int_equal(max, 4096 - 512);
	/* strip 7 = member 1, third strip on it */
	raid0_map(&s, 7 * 4096 + 5 * 512, &m, &off, &max);
	assert_int_equal(m, 1);
	assert_int_equal(off, RAID_DATA_OFFSET + 2 * 4096 + 5 * 512);
	/* every offset maps inside the member's data area, strips round-robin */
	for (uint64_t strip = 0; strip < 1000; strip++) {
		raid0_map(&s, strip * 4096, &m, &off, &max);
		assert_int_equal(m, strip % 3);
		assert_int_equal(off, RAID_DATA_OFFSET + (strip / 3) * 4096);
	}
}

static void test_data_layout(void **state)
{
	const char *names[] = { "a0", "a1", "a2" };
	struct blk_bdev *m[3];
	struct raid_set *s;
	struct blk_bdev *b;
	uint64_t data;
	char *buf, *back;

	(void)state;
	for (int i = 0; i < 3; i++)
		m[i] = mkmalloc(names[i], 8 * MB);
	s = mkset("z0", RAID_LEVEL_0, STRIP, 0, names, 3, NULL);
	b = raid_set_bdev(s);
	data = s->data_size;
	assert_int_equal(data, 7 * MB);
	assert_int_equal(blk_bdev_size(b), 3 * data);
	assert_string_equal(blk_bdev_type(b), "raid0");
	assert_string_equal(blk_bdev_claimed_by(m[1]), "z0");
	/* One request over 2.5 strips on every member, starting mid-strip. */
	buf = malloc(20 * STRIP);
	back = malloc(20 * STRIP);
	for (size_t i = 0; i < 20 * STRIP; i++)
		buf[i] = (char)(i / 512 + 1);
	assert_int_equal(io(b, BLK_IO_WRITE, STRIP / 2, buf, 20 * STRIP), 0);
	memset(back, 0, 20 * STRIP);
	assert_int_equal(io(b, BLK_IO_READ, STRIP / 2, back, 20 * STRIP), 0);
	assert_memory_equal(buf, back, 20 * STRIP);
	/* Each strip is where the map puts it. */
	for (uint64_t o = STRIP / 2; o < STRIP / 2 + 20 * STRIP; o += 512) {
		unsigned mem;
		uint64_t moff, max;
		char blk[512];

		raid0_map(s, o, &mem, &moff, &max);
		assert_int_equal(io(m[mem], BLK_IO_READ, moff, blk, 512), 0);
		assert_memory_equal(blk, buf + (o - STRIP / 2), 512);
	}
	/* A two-piece iovec whose pieces straddle strips. */
	{
		struct iovec iov[2] = { { back, 3 * 512 }, { back + 3 * 512, 2 * STRIP } };
		struct done d = { 0, 0 };

		assert_int_equal(blk_bdev_submit(b, R, BLK_IO_READ, 0, STRIP - 1024,
						 3 * 512 + 2 * STRIP, iov, 2, done_cb, &d), 0);
		assert_int_equal(poll_until(R, &d.calls, 1), 1);
		assert_int_equal(d.status, 0);
		assert_memory_equal(back, buf + STRIP - 1024 - STRIP / 2, 3 * 512 + 2 * STRIP);
	}
	/* Flush and discard fan out; the last block of the set works. */
	assert_int_equal(io(b, BLK_IO_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(io(b, BLK_IO_DISCARD, 0, NULL, 4 * STRIP), 0);
	assert_true(holds(b, 0, 4 * STRIP, 0));
	assert_int_equal(fill(b, blk_bdev_size(b) - 512, 512, 0x5a), 0);
	assert_true(holds(b, blk_bdev_size(b) - 512, 512, 0x5a));
	assert_int_equal(fill(b, blk_bdev_size(b), 512, 1), -ERANGE);
	free(buf);
	free(back);
	/* Superblocks: same set, own slot each. */
	for (unsigned i = 0; i < 3; i++) {
		struct raid_sb sb;

		assert_int_equal(member_sb(m[i], &sb), 0);
		assert_int_equal(sb.slot, i);
		assert_int_equal(sb.level, 0);
		assert_int_equal(sb.strip_size, STRIP);
		assert_memory_equal(sb.set_uuid, s->uuid, 16);
	}
	/* Stop and assemble again, members in another order: same data. */
	assert_int_equal(raid_set_stop(s), 0);
	assert_null(blk_bdev_claimed_by(m[0]));
	{
		const char *order[] = { "a2", "a0", "a1" };

		s = mkset("z0", RAID_LEVEL_0, 0, 0, order, 3, NULL);
		assert_true(holds(raid_set_bdev(s), blk_bdev_size(raid_set_bdev(s)) - 512, 512, 0x5a));
		assert_int_equal(raid_set_stop(s), 0);
	}
	/* A missing member refuses the start. */
	{
		const char *two[] = { "a0", "a1" };
		int ret;

		assert_null(mkset("z0", RAID_LEVEL_0, 0, 0, two, 2, &ret));
		assert_int_equal(ret, -ENODEV);
	}
	blk_bdev_delete_all();
}

static bool untouched(struct blk_bdev *b)
{
	return holds(b, 0, 2 * RAID_SB_SIZE, 0);
}

static void test_bad_input(void **state)
{
	const char *twice[] = { "b0", "b0" }, *mixed[] = { "b0", "big" }, *ok[] = { "b0", "b1" },
		   *nobdev[] = { "b0", "nope" };
	struct blk_bdev *b0 = mkmalloc("b0", 8 * MB), *b1 = mkmalloc("b1", 8 * MB);
	struct blk_bdev *big = mkmalloc("big", 16 * MB);
	struct raid_set *s;
	int ret;

	(void)state;
	assert_null(mkset("x", RAID_LEVEL_0, 0, 0, twice, 2, &ret));
	assert_int_equal(ret, -EINVAL);
	assert_null(mkset("x", RAID_LEVEL_0, 0, 0, mixed, 2, &ret));
	assert_int_equal(ret, -EINVAL);
	assert_null(mkset("x", RAID_LEVEL_0, 0, 0, nobdev, 2, &ret));
	assert_int_equal(ret, -ENOENT);
	assert_null(mkset("x", RAID_LEVEL_0, 3000, 0, ok, 2, &ret));
	assert_int_equal(ret, -EINVAL);
	assert_null(mkset("x", RAID_LEVEL_0, 32 << 20, 0, ok, 2, &ret));
	assert_int_equal(ret, -EINVAL);
	assert_null(mkset("x", 3, 0, 0, ok, 2, &ret));
	assert_int_equal(ret, -EINVAL);
	assert_null(mkset("x", RAID_LEVEL_1, 4096, 0, ok, 2, &ret));
	assert_int_equal(ret, -EINVAL);
	assert_null(mkset("x", RAID_LEVEL_0, 0, 0, ok, 1, &ret));
	assert_int_equal(ret, -EINVAL);
	assert_null(mkset("b0", RAID_LEVEL_0, 0, 0, ok, 2, &ret));
	assert_int_equal(ret, -EEXIST);
	assert_true(untouched(b0) && untouched(b1) && untouched(big));
	assert_null(blk_bdev_claimed_by(b0));
	/* A member of another set is refused, naming it; nothing written. */
	s = mkset("first", RAID_LEVEL_0, 0, 0, ok, 2, NULL);
	assert_int_equal(raid_set_stop(s), 0);
	{
		const char *other[] = { "b0", "big" };

		assert_null(mkset("second", RAID_LEVEL_0, 0, 0, other, 2, &ret));
		assert_int_equal(ret, -EINVAL);
		assert_true(untouched(big));
	}
	/* A corrupt superblock on a would-be new set: refused, nothing written. */
	assert_int_equal(fill(b0, 0, 2 * RAID_SB_SIZE, 0x77), 0);
	assert_int_equal(fill(b1, 0, 2 * RAID_SB_SIZE, 0), 0);
	{
		struct raid_sb sb;

		assert_int_equal(member_sb(b0, &sb), -ENODATA);   /* garbage without magic */
	}
	blk_bdev_delete_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_data_layout),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
