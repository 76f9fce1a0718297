/* lvm_io.c — synchronous I/O for control-thread operations, UUIDs, errors.
 *
 * The control thread never touches a ring: it sends the request to reactor 0
 * and waits on a condition variable. A thread that drives a reactor itself
 * (unit tests) submits directly and polls until the request completes. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lvm_internal.h"

static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t io_cond = PTHREAD_COND_INITIALIZER;

struct sync_req {
	struct blk_bdev *b;
	enum blk_io_type t;
	uint64_t off, len;
	struct iovec iov;
	bool done;
	int status;
};

static void sync_finish(struct sync_req *q, int status)
{
	pthread_mutex_lock(&io_lock);
	q->status = status;
	q->done = true;
	pthread_cond_broadcast(&io_cond);
	pthread_mutex_unlock(&io_lock);
}

static void sync_cb(void *arg, int status)
{
	sync_finish(arg, status);
}

static void sync_submit(void *arg)
{
	struct sync_req *q = arg;
	struct blk_reactor *r = blk_reactor_self();
	bool rw = q->t == BLK_IO_READ || q->t == BLK_IO_WRITE;
	int ret = blk_bdev_submit(q->b, r, q->t, 0, q->off, q->len, rw ? &q->iov : NULL,
				  rw ? 1 : 0, sync_cb, q);

	if (ret == -ENOMEM && blk_reactor_send(r, sync_submit, q) == 0)
		return;
	if (ret)
		sync_finish(q, ret);
}

static bool sync_done(struct sync_req *q)
{
	bool d;

	pthread_mutex_lock(&io_lock);
	d = q->done;
	pthread_mutex_unlock(&io_lock);
	return d;
}

int lvm_sync_io(struct blk_bdev *b, enum blk_io_type t, uint64_t off, void *buf, uint64_t len)
{
	struct sync_req q = { .b = b, .t = t, .off = off, .len = len, .iov = { buf, len } };
	struct blk_reactor *self = blk_reactor_self();
	int ret;

	if (self) {
		sync_submit(&q);
		while (!sync_done(&q))
			blk_reactor_poll(self, 10);
		return q.status;
	}
	if (!blk_reactor_count())
		return -ENODEV;
	ret = blk_reactor_send(blk_reactor_get(0), sync_submit, &q);
	if (ret)
		return ret;
	pthread_mutex_lock(&io_lock);
	while (!q.done)
		pthread_cond_wait(&io_cond, &io_lock);
	pthread_mutex_unlock(&io_lock);
	return q.status;
}

void *lvm_buf_alloc(size_t len)
{
	void *p = aligned_alloc(LVM_BLOCK, (len + LVM_BLOCK - 1) / LVM_BLOCK * LVM_BLOCK);

	if (p)
		memset(p, 0, len);
	return p;
}

void lvm_uuid_gen(uint8_t *uuid)
{
	if (getrandom(uuid, 16, 0) != 16) {
		for (int i = 0; i < 16; i++)
			uuid[i] = (uint8_t)rand();
	}
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
	uuid[15] |= 1;    /* never all zero */
}

void lvm_uuid_str(const uint8_t *u, char *buf)
{
	snprintf(buf, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
		 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

int lvm_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int lvm_in_use_err(const char *name, int ret, char *err, size_t errlen)
{
	struct blk_bdev *b = blk_bdev_find(name);

	if (ret == -ENOENT || !b)
		return lvm_errf(err, errlen, -ENOENT, "no bdev '%s'", name);
	if (ret != -EBUSY)
		return lvm_errf(err, errlen, ret, "bdev '%s': %s", name, strerror(-ret));
	if (blk_bdev_claimed_by(b))
		return lvm_errf(err, errlen, ret, "bdev '%s' is in use (claimed by %s)", name,
				blk_bdev_claimed_by(b));
	return lvm_errf(err, errlen, ret, "bdev '%s' is open (%u export%s)", name,
			blk_bdev_users(b), blk_bdev_users(b) == 1 ? "" : "s");
}
