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

struct blk_io;

struct blk_bdev_ops {
	const char *type;           /* "malloc", "file", ... */
	size_t ctx_size;            /* per-I/O context bytes, <= BLK_IO_CTX_MAX */
	int (*submit)(struct blk_io *io);
	/* Frees the type's state (control thread, no I/O in flight, no opener). */
	void (*destroy)(struct blk_bdev *b);
	/* Adds the bdev-create params that rebuild this bdev (besides type, name). */
	void (*dump_config)(const struct blk_bdev *b, struct json_object *params);
	/* Adds type-specific members to bdev-list (optional). */
	void (*dump_info)(const struct blk_bdev *b, struct json_object *info);
};

/* Latency histogram in TSC cycles (converted to ns when read): 4 linear
 * sub-buckets per power of two. */
enum { BLK_LAT_BUCKETS = 160 };

/* One reactor's counters for one bdev, written only by that reactor (relaxed
 * atomics so the control thread reads whole values), on its own cache lines. */
struct blk_bdev_stats {
	_Atomic uint64_t ops[BLK_IO_TYPE_COUNT];
	_Atomic uint64_t bytes[BLK_IO_TYPE_COUNT];
	_Atomic uint64_t errors;
	_Atomic uint64_t lat[BLK_LAT_BUCKETS];
} __attribute__((aligned(64)));

struct blk_bdev {
	char name[BLK_NAME_MAX];
	const struct blk_bdev_ops *ops;
	uint32_t block_size;
	uint32_t block_shift;
	uint64_t block_count;
	uint32_t caps;
	uint8_t uuid[16];
	struct blk_bdev *base;          /* stacked on (opened with a claim), or NULL */
	void *priv;                     /* the type's state */
	/* Control thread only. */
	unsigned refs;
	char claimed_by[BLK_NAME_MAX + 16];
	struct blk_bdev *next;          /* registry, creation order */
	uint64_t created_ns;
	uint64_t last_stats_ns;         /* bdev-stats rate window */
	uint64_t last_stats_ops;
	struct blk_bdev_stats *stats;   /* [BLK_MAX_REACTORS] */
};

/* A request in flight. Preallocated by the reactor; ctx[] is the type's. */
struct blk_io {
	struct blk_bdev *bdev;
	struct blk_reactor *reactor;
	enum blk_io_type type;
	uint32_t flags;
	uint64_t offset;
	uint64_t len;
	const struct iovec *iov;
	int iovcnt;
	int status;
	blk_io_cb cb;
	void *cb_arg;
	uint64_t start_tsc;
	struct blk_io *next;            /* free list / completion queue */
	_Alignas(16) unsigned char ctx[];
};

static inline void *blk_io_ctx(struct blk_io *io)
{
	return io->ctx;
}

/* Queues io's completion with status (0 or -errno); the callback runs on the
 * next reactor iteration. Exactly once per successful submit. */
void blk_io_complete(struct blk_io *io, int status);

/* Prepares the common part; the type sets size, caps and priv after. */
int blk_bdev_init(struct blk_bdev *b, const char *name, const struct blk_bdev_ops *ops,
		  uint32_t block_size, uint64_t block_count);
/* Adds to the registry (control thread). On failure the caller still owns b
 * and must blk_bdev_fini() it. */
int blk_bdev_register(struct blk_bdev *b);
void blk_bdev_fini(struct blk_bdev *b);
bool blk_bdev_name_valid(const char *name);
bool blk_block_size_valid(uint32_t bs);

/* Copies between an iovec list and a flat buffer, starting `skip` bytes into
 * the iovec list. Returns bytes copied. */
size_t blk_iov_to_buf(const struct iovec *iov, int iovcnt, size_t skip, void *buf, size_t len);
size_t blk_buf_to_iov(const struct iovec *iov, int iovcnt, size_t skip, const void *buf,
		      size_t len);
void blk_iov_zero(const struct iovec *iov, int iovcnt);

/* ------------------------------------------------------- reactor internals */

struct blk_uring_op {
	void (*fn)(struct blk_uring_op *op, int res);
};

/* A free SQE with user_data set to op, or NULL when the ring is full even after
 * a submit (the caller returns -ENOMEM). Reactor thread only. */
struct io_uring_sqe *blk_reactor_sqe(struct blk_reactor *r, struct blk_uring_op *op);

/* Called every iteration until removed; returns the work it did (0: idle). A
 * reactor with only idle pollers still sleeps in io_uring, so a poller must not
 * rely on being called when nothing else happens (arm an io_uring poll). */
struct blk_poller {
	int (*fn)(void *arg);
	void *arg;
	struct blk_poller *prev, *next;
};
void blk_poller_add(struct blk_reactor *r, struct blk_poller *p);
void blk_poller_del(struct blk_reactor *r, struct blk_poller *p);

/* Between the core and the reactor (reactor thread only): take a context from
 * the pool (NULL when empty), return one, queue one for completion. */
struct blk_io *blk_reactor_io_get(struct blk_reactor *r);
void blk_reactor_io_put(struct blk_reactor *r, struct blk_io *io);
void blk_reactor_io_done(struct blk_reactor *r, struct blk_io *io);
/* Adds a completed I/O to its bdev's counters (reactor thread). */
void blk_io_account(struct blk_io *io);
/* Contexts free in r's pool (tests). */
unsigned blk_reactor_io_free(const struct blk_reactor *r);

/* Latency bucket helpers (shared by stats and tests). */
unsigned blk_lat_bucket(uint64_t cycles);
/* Lower bound of a bucket, in the histogram's unit (cycles). */
uint64_t blk_lat_bucket_low(unsigned bucket);

#endif /* BLK_INTERNAL_H */
