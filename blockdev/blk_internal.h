/* blk_internal.h — what bdev types, exports and the core share inside blockdev/.
 *
 * A bdev type provides a struct blk_bdev_ops and fills a struct blk_bdev it
 * allocated (blk_bdev_init() first, blk_bdev_register() last). Its submit()
 * follows the contract of blockdev.h: 0 and exactly one blk_io_complete()
 * later, or -errno and no completion (-ENOMEM: retry later). blk_io_complete()
 * never runs the callback inline: it queues the I/O on its reactor, which runs
 * the callbacks on its next iteration, so a synchronous type (malloc, null) may
 * complete inside submit() without re-entering its caller.
 *
 * io_uring users embed a struct blk_uring_op in their context and pass it to
 * blk_reactor_sqe(); the reactor calls op->fn with the CQE's result.
 */
#ifndef BLK_INTERNAL_H
#define BLK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/uio.h>

#include <liburing.h>
#include <json-c/json.h>

#include "blockdev.h"

/* The bdev module API (ops table, struct blk_bdev, struct blk_io, init and
 * register, completion, iovec helpers, pollers) is public: blk_module.h. */
#include "blk_module.h"

/* ------------------------------------------------------- reactor internals */

struct blk_uring_op {
	void (*fn)(struct blk_uring_op *op, int res);
	uint32_t cqe_flags;     /* the CQE's flags, set before fn runs (IORING_CQE_F_MORE) */
};

/* A free SQE with user_data set to op, or NULL when the ring is full even after
 * a submit (the caller returns -ENOMEM). Reactor thread only. */
struct io_uring_sqe *blk_reactor_sqe(struct blk_reactor *r, struct blk_uring_op *op);

/* Registered (fixed) buffers: memory that stays mapped for as long as it is
 * registered — the guest memory of a running vhost-user-blk device — is
 * pinned once in the reactor's io_uring, so that file I/O into it skips the
 * per-I/O page pinning and iovec copy-in (READ_FIXED / WRITE_FIXED).
 * blk_reactor_buf_add() registers the ranges of `owner` (reference-counted
 * per owner: a second add by the same owner only counts); it returns 0, or
 * -errno when the kernel refuses (no sparse tables, memory that cannot be
 * pinned, RLIMIT_MEMLOCK, the table full), and then nothing is registered and
 * I/O simply goes the ordinary way. blk_reactor_buf_del() drops a reference;
 * the last one unregisters, after which the memory may be unmapped (the kernel
 * keeps the pages of requests still in flight). blk_reactor_buf_find() gives
 * the index of a registered buffer holding [addr, addr+len), or -1.
 * Reactor thread only. */
int blk_reactor_buf_add(struct blk_reactor *r, const void *owner, const struct iovec *iov,
			unsigned n);
void blk_reactor_buf_del(struct blk_reactor *r, const void *owner);
int blk_reactor_buf_find(const struct blk_reactor *r, const void *addr, size_t len);
/* Buffers registered in r now (for statistics and tests). */
unsigned blk_reactor_buf_count(const struct blk_reactor *r);

/* Between the core and the reactor (reactor thread only): take a context from
 * the pool (NULL when empty), return one, queue one for completion. */
struct blk_io *blk_reactor_io_get(struct blk_reactor *r);
void blk_reactor_io_put(struct blk_reactor *r, struct blk_io *io);
void blk_reactor_io_done(struct blk_reactor *r, struct blk_io *io);
/* Adds a completed I/O to its bdev's counters (reactor thread). */
void blk_io_account(struct blk_io *io);

/* Latency bucket helpers (shared by stats and tests). */
unsigned blk_lat_bucket(uint64_t cycles);
/* Lower bound of a bucket, in the histogram's unit (cycles). */
uint64_t blk_lat_bucket_low(unsigned bucket);

#endif /* BLK_INTERNAL_H */
