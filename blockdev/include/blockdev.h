/* blockdev.h — Vessel's block device (bdev) layer: the public API.
 *
 * A bdev is a named block device: block size, block count, UUID and a set of
 * capabilities (BLK_CAP_*). Bdevs stack: an `error` bdev sits on any other,
 * and later RAID, LVM and qcow2 bdevs open their bases the same way
 * (blk_bdev_open() with a claim), so a base in use can never be deleted.
 *
 * Threads.
 *   - The control thread owns the bdev registry: create, open, close, delete,
 *     lookup and stats reads happen there (JSON-RPC handlers run there).
 *   - Reactors (blk_reactor_*) are the data-path threads. Each has its own
 *     io_uring, its own pool of per-I/O contexts and its pollers. I/O is always
 *     submitted on a reactor thread, and its completion runs on that same
 *     reactor, never on another thread and never inside the submit call.
 *
 * Submission contract (every bdev type honours it; SPDK's bdev.h is the model):
 *   blk_bdev_submit() returns 0 and the callback fires exactly once, later, on
 *   the same reactor; or it returns -errno and the callback never fires.
 *   -ENOMEM means "out of slots" (per-I/O contexts or ring entries): the request
 *   is not failed, the caller keeps it and retries on a later reactor iteration.
 *   Any other -errno is a real refusal (-EINVAL misaligned or malformed,
 *   -ERANGE beyond the end of the device, -ENOTSUP a capability the bdev lacks,
 *   -EPERM a write to a read-only bdev). Errors of the I/O itself arrive as
 *   the callback's negative status (io_uring's -errno passed straight through).
 *
 * No allocation per I/O: a reactor preallocates BLK_IO_POOL_DEFAULT contexts of
 * sizeof(struct blk_io) + BLK_IO_CTX_MAX bytes; a bdev type declares the context
 * size it needs and registration refuses more than BLK_IO_CTX_MAX.
 */
#ifndef BLOCKDEV_H
#define BLOCKDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct blk_bdev;
struct blk_reactor;
struct vsl_loop;

enum blk_io_type {
	BLK_IO_READ,
	BLK_IO_WRITE,
	BLK_IO_FLUSH,
	BLK_IO_DISCARD,
	BLK_IO_WRITE_ZEROES,
	BLK_IO_TYPE_COUNT,
};

/* Submission flags. */
enum {
	BLK_IO_F_FUA = 1u << 0,     /* write is durable when it completes */
};

/* Capabilities: what a bdev accepts beyond read and write. */
enum {
	BLK_CAP_FLUSH = 1u << 0,
	BLK_CAP_DISCARD = 1u << 1,
	BLK_CAP_WRITE_ZEROES = 1u << 2,
	BLK_CAP_FUA = 1u << 3,
};

enum {
	BLK_NAME_MAX = 64,              /* bdev and export names, NUL included */
	BLK_MAX_REACTORS = 64,
	BLK_IO_CTX_MAX = 256,           /* largest per-I/O context a bdev type may declare */
	BLK_IO_POOL_DEFAULT = 4096,     /* per-I/O contexts per reactor */
	BLK_RING_DEPTH_DEFAULT = 256,   /* io_uring SQ entries per reactor */
	BLK_REAP_MAX = 64,              /* completions reaped per reactor iteration */
};

/* Completion: status is 0 or -errno. Runs on the submitting reactor. */
typedef void (*blk_io_cb)(void *arg, int status);

/* ------------------------------------------------------------------ I/O */

/* Submits one request on reactor `r` (must be called on r's thread). offset and
 * len are bytes and must be multiples of the block size and inside the device;
 * iov/iovcnt describe exactly len bytes for READ/WRITE and are ignored
 * otherwise. The caller keeps ownership of the iovec array and the buffers, and
 * keeps both valid until the callback. See the contract above. */
int blk_bdev_submit(struct blk_bdev *bdev, struct blk_reactor *r, enum blk_io_type type,
		    uint32_t flags, uint64_t offset, uint64_t len, const struct iovec *iov,
		    int iovcnt, blk_io_cb cb, void *arg);

static inline int blk_bdev_readv(struct blk_bdev *b, struct blk_reactor *r, const struct iovec *iov,
				 int iovcnt, uint64_t offset, uint64_t len, blk_io_cb cb, void *arg)
{
	return blk_bdev_submit(b, r, BLK_IO_READ, 0, offset, len, iov, iovcnt, cb, arg);
}

static inline int blk_bdev_writev(struct blk_bdev *b, struct blk_reactor *r,
				  const struct iovec *iov, int iovcnt, uint64_t offset,
				  uint64_t len, uint32_t flags, blk_io_cb cb, void *arg)
{
	return blk_bdev_submit(b, r, BLK_IO_WRITE, flags, offset, len, iov, iovcnt, cb, arg);
}

static inline int blk_bdev_flush(struct blk_bdev *b, struct blk_reactor *r, blk_io_cb cb,
				 void *arg)
{
	return blk_bdev_submit(b, r, BLK_IO_FLUSH, 0, 0, 0, NULL, 0, cb, arg);
}

/* ---------------------------------------------------------- properties */

const char *blk_bdev_name(const struct blk_bdev *b);
const char *blk_bdev_type(const struct blk_bdev *b);
uint32_t blk_bdev_block_size(const struct blk_bdev *b);
uint64_t blk_bdev_block_count(const struct blk_bdev *b);
uint64_t blk_bdev_size(const struct blk_bdev *b);       /* bytes */
uint32_t blk_bdev_caps(const struct blk_bdev *b);
/* 16 bytes, random (version 4) unless the type keeps one on disk. */
const uint8_t *blk_bdev_uuid(const struct blk_bdev *b);
/* "xxxxxxxx-xxxx-..." into buf (at least 37 bytes). Returns buf. */
char *blk_bdev_uuid_str(const struct blk_bdev *b, char *buf);

/* ------------------------------------------------ registry (control thread) */

struct blk_bdev *blk_bdev_find(const char *name);
/* Iteration in creation order (a base always comes before what stacks on it):
 * pass NULL to get the first. */
struct blk_bdev *blk_bdev_next(const struct blk_bdev *b);

/* Holders. A bdev has three kinds, kept apart so that "is someone using
 * this bdev's contents?" never depends on who merely keeps it alive:
 *
 *   - an exclusive claim (blk_bdev_open() with a non-NULL `claim`): a module
 *     that owns the contents and writes its own layout there (a RAID set on
 *     its members, an LVM VG on its PVs, an error or image bdev on its base).
 *     At most one; refused (-EBUSY) while the bdev is claimed or has a shared
 *     user. `claim` is copied and shown by bdev-list as "claimed_by".
 *   - a shared user (blk_bdev_open() with claim NULL): a consumer of the
 *     whole bdev next to others of its kind (an export). Refused (-EBUSY)
 *     while the bdev is claimed; counted in bdev-list's "users".
 *   - an internal reference (blk_bdev_ref()): the bdev's own machinery or
 *     something stacked above it holding it alive (a RAID rebuild on its
 *     set, an LV on its VG). Conflicts with nothing.
 *
 * Every holder keeps the bdev from being deleted (blk_bdev_refs() counts
 * them all). Returns 0 and *out, -ENOENT or -EBUSY. Release with
 * blk_bdev_close(b, claimed) (claimed: this open made the claim). */
int blk_bdev_open(const char *name, const char *claim, struct blk_bdev **out);
void blk_bdev_close(struct blk_bdev *b, bool claimed);
/* Takes / drops an internal reference on b (control thread). */
void blk_bdev_ref(struct blk_bdev *b);
void blk_bdev_unref(struct blk_bdev *b);
/* All holders: claim, shared users and internal references. */
unsigned blk_bdev_refs(const struct blk_bdev *b);
/* Shared users only (exports). */
unsigned blk_bdev_users(const struct blk_bdev *b);
const char *blk_bdev_claimed_by(const struct blk_bdev *b);   /* NULL when unclaimed */
/* The bdev this one stacks on, or NULL. */
struct blk_bdev *blk_bdev_base(const struct blk_bdev *b);

/* Deletes an unused bdev: -ENOENT, or -EBUSY while anything holds it open. */
int blk_bdev_delete(const char *name);
/* A clean stop: runs every bdev's ops->shutdown, most recent first (daemon
 * shutdown, while the reactors still run). */
void blk_bdev_shutdown_all(void);
/* Deletes every bdev, most recent first (daemon shutdown, after the exports). */
void blk_bdev_delete_all(void);

/* Creators (control thread). Each returns 0 and the new bdev (owned by the
 * registry), or -errno: -EEXIST for a taken name, -EINVAL for a bad name,
 * size or block size (a power of two from 512 to 65536), others from the
 * system. Names: 1-63 characters of [A-Za-z0-9_.:-]. */
int blk_malloc_create(const char *name, uint64_t size, uint32_t block_size, struct blk_bdev **out);
int blk_null_create(const char *name, uint64_t size, uint32_t block_size, struct blk_bdev **out);

struct blk_file_opts {
	const char *path;        /* regular file or block device (opened read-write) */
	uint32_t block_size;     /* 0: 512 buffered, the device's logical block (or 4096) direct */
	bool direct;             /* O_DIRECT: buffers and offsets must then be aligned */
};
int blk_file_create(const char *name, const struct blk_file_opts *o, struct blk_bdev **out);

/* Error-injecting bdev on top of `base` (claimed). See blk_error_inject(). */
int blk_error_create(const char *name, const char *base, struct blk_bdev **out);

/* What an error bdev does; set with blk_error_inject(). Everything is off
 * until set. Counting and ranges apply to READ/WRITE-class I/O as selected. */
enum blk_error_io {
	BLK_ERR_IO_ANY,
	BLK_ERR_IO_READ,
	BLK_ERR_IO_WRITE,   /* writes, discards and write-zeroes */
	BLK_ERR_IO_FLUSH,
};

enum blk_error_pc {
	BLK_ERR_PC_NONE,      /* leave power-cut tracking as it is */
	BLK_ERR_PC_ARM,       /* start tracking: writes go to a shadow until flushed */
	BLK_ERR_PC_CUT,       /* drop every write not covered by a completed flush */
	BLK_ERR_PC_DISARM,    /* stop tracking; only allowed with an empty shadow */
};

struct blk_error_cfg {
	bool clear;                /* reset all injections (not the power-cut shadow) */
	uint64_t fail_nth;         /* fail the Nth matching I/O from now (1 = next); 0 off */
	uint64_t fail_count;       /* ...and this many after it (default 1) */
	enum blk_error_io fail_io; /* which I/O counts for fail_nth */
	bool range_set;            /* fail I/O touching [range_start, +range_blocks) */
	enum blk_error_io range_io;
	uint64_t range_start;      /* blocks */
	uint64_t range_blocks;     /* 0 removes the range */
	int error;                 /* errno to fail with (positive); 0 = EIO */
	enum blk_error_pc power_cut;
	uint64_t shadow_size;      /* ARM: shadow capacity in bytes (0: 64 MiB) */
	uint64_t die_after_flush;  /* armed: lose power right after the Nth flush from
				    * now (all I/O then fails with EIO until CUT) */
};

/* Applies cfg to an error bdev (any thread: the error bdev has its own lock).
 * Returns 0, -EINVAL for a bdev of another type or a bad cfg (CUT or
 * die_after_flush while not armed), -EBUSY to DISARM
 * with unflushed writes, -ENOMEM for the shadow. */
int blk_error_inject(struct blk_bdev *b, const struct blk_error_cfg *cfg);

/* -------------------------------------------------------------- reactors */

/* Creates a reactor without a thread: the calling thread drives it with
 * blk_reactor_poll() and is the only one that may submit I/O on it (its ring
 * is single-issuer where the kernel supports it). io_pool: per-I/O contexts
 * (0: default); ring_depth: io_uring entries (0: default). Returns NULL with
 * errno set. */
struct blk_reactor *blk_reactor_create(unsigned id, unsigned io_pool, unsigned ring_depth);
/* Frees a reactor that has no thread and nothing in flight. */
void blk_reactor_destroy(struct blk_reactor *r);
/* One iteration: messages, pollers, completions, one io_uring submit, reaping at
 * most BLK_REAP_MAX completions. Blocks up to timeout_ms (0: never, -1: until
 * something happens) when there was nothing to do. Returns the work done. */
int blk_reactor_poll(struct blk_reactor *r, int timeout_ms);
unsigned blk_reactor_id(const struct blk_reactor *r);
/* The CPU a started reactor is pinned to, or -1. */
int blk_reactor_cpu(const struct blk_reactor *r);
/* The reactor whose thread (or blk_reactor_poll() caller) this is, or NULL. */
struct blk_reactor *blk_reactor_self(void);

/* Starts n reactor threads (1..BLK_MAX_REACTORS), pinned to the last n CPUs
 * this process may use, each with io_pool per-I/O contexts (0: default), and
 * the reactor->control channel on `ctl_loop`. Returns 0 or -errno (nothing
 * left running). */
int blk_reactors_start(unsigned n, unsigned io_pool, struct vsl_loop *ctl_loop);
/* Stops and joins the threads, cancels what is in their rings and waits until
 * the kernel is done with every buffer; the reactors' memory stays, so exports
 * can then free their connections without racing a thread or the kernel. */
void blk_reactors_stop(void);
/* blk_reactors_stop() if needed, then frees the reactors and the channel. */
void blk_reactors_destroy(void);
unsigned blk_reactor_count(void);
struct blk_reactor *blk_reactor_get(unsigned i);

/* Runs fn(arg) on reactor r's thread, soon. Control path only (allocates).
 * Returns 0 or -ENOMEM. */
int blk_reactor_send(struct blk_reactor *r, void (*fn)(void *arg), void *arg);
/* Runs fn(arg) on the control thread (from any thread). Returns 0 or -ENOMEM
 * (or -ENOTCONN when blk_reactors_start() has not set the channel up). */
int blk_ctl_send(void (*fn)(void *arg), void *arg);

#endif /* BLOCKDEV_H */
