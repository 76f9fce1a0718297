/* blk_module.h — the bdev module API: what a bdev *type* needs from the core.
 *
 * blockdev.h is the API of bdev *users* (submit, open, the registry); this
 * header is for code that implements a bdev type outside blockdev/ (RAID, LVM,
 * images) as well as inside it. It is public so that such libraries include it
 * instead of blockdev's internals.
 *
 * Writing a type:
 *   - Allocate a structure that embeds a struct blk_bdev, call blk_bdev_init()
 *     first, set caps and priv, then blk_bdev_register() (control thread). On a
 *     failed register the caller still owns it and must blk_bdev_fini() it.
 *   - ops->submit(io) follows the contract of blockdev.h: return 0 and call
 *     blk_io_complete(io, status) exactly once later (it may be called inside
 *     submit: the callback still runs on a later reactor iteration), or return
 *     -errno and never complete (-ENOMEM: out of slots, the caller retries).
 *   - Per-I/O state lives in blk_io_ctx(io), ops->ctx_size bytes (at most
 *     BLK_IO_CTX_MAX), preallocated by the reactor: no malloc per I/O.
 *   - Bases: a type opens the bdevs it stacks on with a claim (blk_bdev_open()
 *     with a non-NULL claim, or blk_bdev_open_claimed() for several at once) and
 *     submits to them with blk_bdev_submit() on io->reactor, from submit() or
 *     from a completion. A type with one base may set b->base: the core then
 *     closes it (with its claim) after ops->destroy. A type with several bases
 *     keeps them itself and closes them in ops->destroy
 *     (blk_bdev_close_claimed()).
 *   - ops->destroy runs on the control thread when nothing holds the bdev open
 *     and no I/O is in flight; it frees everything, b included.
 *
 * Threads: struct blk_bdev fields marked "control thread only" are read and
 * written on the control thread; name, ops, sizes, caps, uuid and priv never
 * change after register and may be read anywhere.
 */
#ifndef BLK_MODULE_H
#define BLK_MODULE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

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
	/* Optional: appends the calls that rebuild this bdev to the save-config
	 * list (vsl_config_add_call()) instead of the default bdev-create call,
	 * for types created by their own method (raid-create). Returns 0 or
	 * -errno. Runs in creation order, so bases come first. */
	int (*save_config)(const struct blk_bdev *b, struct json_object *calls);
	/* Optional: true while the type still has work of its own in flight on a
	 * reactor (a metadata write, a rebuild); blk_bdev_delete() then answers
	 * -EBUSY instead of destroying it. Not asked at shutdown, when the
	 * reactors are stopped. Control thread. */
	bool (*busy)(const struct blk_bdev *b);
	/* Optional: a clean daemon stop is under way (control thread, the
	 * reactors still run, the vhost-user exports are gone): write back what
	 * the type keeps only in memory (a thin pool's uncommitted mappings), so
	 * that the next start has nothing to recover. */
	void (*shutdown)(struct blk_bdev *b);
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
	struct blk_bdev *base;          /* the one base the core closes, or NULL */
	void *priv;                     /* the type's state */
	/* Control thread only. */
	unsigned refs;                  /* every holder (see blk_bdev_open()) */
	unsigned users;                 /* shared users (exports) */
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

/* Completes io at once: accounts it, returns its context to the pool and runs
 * its callback before returning. For a stacked type completing a request from
 * the completion callback of its last child (or from a message), where
 * blk_io_complete() would cost one more reactor iteration per level of
 * stacking: the child's completion already waited for its iteration. Never
 * from inside ops->submit() of io itself (the submitter must see submit
 * return before its callback runs): use blk_io_complete() there. Reactor
 * thread of io. */
void blk_io_complete_now(struct blk_io *io, int status);

/* Prepares the common part; the type sets size, caps and priv after. */
int blk_bdev_init(struct blk_bdev *b, const char *name, const struct blk_bdev_ops *ops,
		  uint32_t block_size, uint64_t block_count);
/* Adds to the registry (control thread). On failure the caller still owns b
 * and must blk_bdev_fini() it. */
int blk_bdev_register(struct blk_bdev *b);
void blk_bdev_fini(struct blk_bdev *b);
bool blk_bdev_name_valid(const char *name);
bool blk_block_size_valid(uint32_t bs);

/* Opens n bdevs with the same claim, all or nothing (control thread). Returns
 * 0 and out[0..n-1]; or -EINVAL (a name listed twice, n == 0), -ENOENT or
 * -EBUSY with *bad set to the index of the offending name and nothing left
 * open. Close with blk_bdev_close_claimed(). */
int blk_bdev_open_claimed(const char *const *names, unsigned n, const char *claim,
			  struct blk_bdev **out, unsigned *bad);
/* Closes n bdevs opened with a claim; NULL entries are skipped. */
void blk_bdev_close_claimed(struct blk_bdev **bdevs, unsigned n);

/* Copies between an iovec list and a flat buffer, starting `skip` bytes into
 * the iovec list. Returns bytes copied. */
size_t blk_iov_to_buf(const struct iovec *iov, int iovcnt, size_t skip, void *buf, size_t len);
size_t blk_buf_to_iov(const struct iovec *iov, int iovcnt, size_t skip, const void *buf,
		      size_t len);
void blk_iov_zero(const struct iovec *iov, int iovcnt);

/* Per-I/O contexts free in r's pool (reactor thread). A type that fans one
 * request out to several bases can refuse it with -ENOMEM up front when the
 * pool is nearly empty, instead of holding its context while its children
 * wait for contexts that only its own kind holds. */
unsigned blk_reactor_io_free(const struct blk_reactor *r);

/* Called every iteration until removed; returns the work it did (0: idle). A
 * reactor with only idle pollers still sleeps in io_uring (up to a second), so
 * a poller must not rely on being called when nothing else happens: kick the
 * reactor with blk_reactor_send() when there is new work. Reactor thread only. */
struct blk_poller {
	int (*fn)(void *arg);
	void *arg;
	struct blk_poller *prev, *next;
};
void blk_poller_add(struct blk_reactor *r, struct blk_poller *p);
void blk_poller_del(struct blk_reactor *r, struct blk_poller *p);
/* Wakes reactor r (reactor thread only) after `us` microseconds with a
 * one-shot io_uring timeout, so that a poller waiting for time (a rate
 * limiter) runs again then even when no I/O completes. At most one is armed
 * per reactor; a call while one is armed does nothing. */
void blk_reactor_wake_in(struct blk_reactor *r, uint64_t us);
/* From a poller (reactor thread): if this iteration ends up sleeping, sleep
 * at most `us` microseconds (no SQE, no timer unless it does sleep). For a
 * poller that relies on completions to wake it but wants a bound. */
void blk_reactor_sleep_cap(struct blk_reactor *r, uint64_t us);

#endif /* BLK_MODULE_H */
