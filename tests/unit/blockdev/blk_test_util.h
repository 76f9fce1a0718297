/* blk_test_util.h — helpers shared by the blockdev unit tests: a reactor
 * driven from the test thread and a completion recorder. */
#ifndef BLK_TEST_UTIL_H
#define BLK_TEST_UTIL_H

#include <stdint.h>
#include <string.h>

#include "blockdev.h"
#include "vsl_time.h"

struct done {
	int calls;
	int status;
};

static inline void done_cb(void *arg, int status)
{
	struct done *d = arg;

	d->calls++;
	d->status = status;
}

/* Polls r until *calls reaches want or 2 s pass; returns the final count. */
static inline int poll_until(struct blk_reactor *r, const int *calls, int want)
{
	uint64_t end = vsl_time_mono_ms() + 2000;

	while (*calls < want && vsl_time_mono_ms() < end)
		blk_reactor_poll(r, 10);
	return *calls;
}

static inline void poll_some(struct blk_reactor *r, int n)
{
	while (n-- > 0)
		blk_reactor_poll(r, 0);
}

/* Submits and waits; returns the completion status, or the submit error. */
static inline int sync_io(struct blk_bdev *b, struct blk_reactor *r, enum blk_io_type t,
			  uint32_t flags, uint64_t off, void *buf, uint64_t len)
{
	struct iovec iov = { buf, len };
	struct done d = { 0, 0 };
	int ret = blk_bdev_submit(b, r, t, flags, off, len, buf ? &iov : NULL, buf ? 1 : 0,
				  done_cb, &d);

	if (ret)
		return ret;
	if (poll_until(r, &d.calls, 1) != 1)
		return -ETIMEDOUT;
	return d.status;
}

static inline int all_bytes(const void *buf, int c, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)c)
			return 0;
	return 1;
}

#endif /* BLK_TEST_UTIL_H */
