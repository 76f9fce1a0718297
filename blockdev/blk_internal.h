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
