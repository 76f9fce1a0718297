/* raid_test_util.h — helpers for the RAID unit tests: a reactor driven from
 * the test thread (also the "control thread"), sets over malloc/error bdevs,
 * direct member reads. */
#ifndef RAID_TEST_UTIL_H
#define RAID_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "blockdev/blk_test_util.h"
#include "raid_internal.h"

static struct blk_reactor *R;

static inline int reactor_up(void)
{
	R = blk_reactor_create(0, 512, 64);
	if (!R)
		return -1;
	blk_reactor_poll(R, 0);      /* this thread is now R's */
	return 0;
}

static inline void reactor_down(void)
{
	blk_bdev_delete_all();
	blk_reactor_destroy(R);
	R = NULL;
}

static inline struct raid_set *mkset(const char *name, unsigned level, uint32_t strip,
				     uint64_t region, const char *const *members, unsigned n,
				     int *ret_out)
{
	struct raid_create_opts o = { .name = name, .level = level, .strip_size = strip,
				      .region_size = region, .members = members, .n_members = n,
				      .home = R };
	struct raid_set *s = NULL;
	char err[256] = "";
	int ret = raid_set_create(&o, &s, err, sizeof(err));

	if (ret_out)
		*ret_out = ret;
	if (ret && !ret_out)
		fail_msg("raid_set_create %s: %d %s", name, ret, err);
	return ret ? NULL : s;
}

static inline void wait_rebuild(struct raid_set *s)
{
	uint64_t end = vsl_time_mono_ms() + 10000;

	while (raid_set_rebuilding(s) && vsl_time_mono_ms() < end)
		blk_reactor_poll(R, 1);
	assert_false(raid_set_rebuilding(s));
	poll_some(R, 5);
}

static inline int io(struct blk_bdev *b, enum blk_io_type t, uint64_t off, void *buf, uint64_t len)
{
	return sync_io(b, R, t, 0, off, buf, len);
}

static inline int fill(struct blk_bdev *b, uint64_t off, uint64_t len, int pattern)
{
	char *buf = malloc(len);
	int ret;

	memset(buf, pattern, len);
	ret = io(b, BLK_IO_WRITE, off, buf, len);
	free(buf);
	return ret;
}

static inline bool holds(struct blk_bdev *b, uint64_t off, uint64_t len, int pattern)
{
	char *buf = malloc(len);
	bool ok = io(b, BLK_IO_READ, off, buf, len) == 0 && all_bytes(buf, pattern, len);

	free(buf);
	return ok;
}

static inline int member_sb(struct blk_bdev *b, struct raid_sb *sb)
{
	static unsigned char buf[2 * RAID_SB_SIZE];
	int ret = io(b, BLK_IO_READ, 0, buf, sizeof(buf));

	return ret ? ret : raid_sb_read_copies(buf, sizeof(buf), sb, NULL, 0);
}

/* Compares the data areas of two members. */
static inline bool same_data(struct blk_bdev *a, struct blk_bdev *b, uint64_t off, uint64_t len)
{
	char *x = malloc(len), *y = malloc(len);
	bool same = io(a, BLK_IO_READ, off, x, len) == 0 && io(b, BLK_IO_READ, off, y, len) == 0 &&
		    memcmp(x, y, len) == 0;

	free(x);
	free(y);
	return same;
}

static inline struct blk_bdev *mkmalloc(const char *name, uint64_t size)
{
	struct blk_bdev *b;

	if (blk_malloc_create(name, size, 512, &b))
		fail_msg("malloc %s", name);
	return b;
}

static inline struct blk_bdev *mkerror(const char *name, const char *base)
{
	struct blk_bdev *b;

	if (blk_error_create(name, base, &b))
		fail_msg("error %s", name);
	return b;
}

static inline int state_of(struct raid_set *s, unsigned slot)
{
	return raid_member_state(s, slot);
}

#endif /* RAID_TEST_UTIL_H */
