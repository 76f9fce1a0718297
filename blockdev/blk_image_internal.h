/* blk_image_internal.h — what the image files (blk_image*.c, blk_qcow2*.c)
 * share: offline image I/O adapters and the qcow2 bdev's state.
 *
 * qcow2 state ownership: struct blk_qcow2 is written only on the image's home
 * reactor once I/O has started (the first reactor that submits; others forward
 * to it), and by the control thread only while no I/O can be in flight (open,
 * destroy, resize of an unused bdev).
 */
#ifndef BLK_IMAGE_INTERNAL_H
#define BLK_IMAGE_INTERNAL_H

#include <stdatomic.h>

#include "blk_image.h"
#include "blk_internal.h"

/* 4096-aligned buffer of at least size bytes (free()). */
void *blk_img_alloc(uint64_t size);
int blk_image_err(char *err, size_t len, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Offline I/O on an image: a file descriptor or (bdev != NULL) a bdev through
 * blk_image_sync_io(). size: the file's or bdev's size. */
struct blk_img_io {
	int fd;
	struct blk_bdev *bdev;
	uint64_t size;
};
int blk_img_io_rw(struct blk_img_io *io, bool wr, uint64_t off, void *buf, size_t len);
int blk_img_io_flush(struct blk_img_io *io);
int blk_img_read_hdr(struct blk_img_io *io, bool for_write, struct blk_qcow2_hdr *h, char *err,
		     size_t errlen);
/* Loads `bytes` at off into a new 4096-aligned buffer (free()). */
int blk_img_load_table(struct blk_img_io *io, uint64_t off, uint64_t bytes, uint64_t **out);
int blk_img_scan_end(struct blk_img_io *io, const struct blk_qcow2_hdr *h, const uint64_t *reft,
		     uint64_t *end);
int blk_img_alloc_cluster(struct blk_img_io *io, const struct blk_qcow2_hdr *h, uint64_t *reft,
			  uint64_t *end, uint64_t *out);
int blk_img_qcow2_grow(struct blk_img_io *io, struct blk_qcow2_hdr *h, uint64_t **l1,
		       uint64_t *reft, uint64_t *end, uint64_t size, char *err, size_t errlen);
void blk_image_backing_path(const char *image, const char *backing, char *out, size_t len);

/* ------------------------------------------------------------ qcow2 bdev */

struct q2_req;

/* One cached L2 table (entries in disk byte order, so slices of it are
 * written as they are). */
enum q2_slot_state { Q2_SLOT_EMPTY, Q2_SLOT_LOADING, Q2_SLOT_READY };

struct q2_slot {
	struct blk_qcow2 *q;
	uint64_t l1i;                   /* which L1 entry it caches */
	uint64_t *tbl;                  /* cluster_size bytes, 4096-aligned */
	enum q2_slot_state state;
	unsigned pins;                  /* allocator holding it, or dirty */
	bool dirty;                     /* entries not yet written (see blk_qcow2.c) */
	struct q2_req *waiters;         /* waiting for the load */
	struct q2_slot *lru_prev, *lru_next;   /* READY and unpinned, oldest first */
	struct iovec iov;               /* of the load */
};

/* One cached refcount block (only the allocator uses these, one at a time). */
struct q2_rb {
	uint64_t ri;                    /* refcount table index; UINT64_MAX empty */
	uint8_t *buf;
	bool dirty;                     /* increments not yet written (writeback) */
};

/* A cluster allocation whose data write is in flight: later writers of the
 * same guest cluster wait for it. */
struct q2_inflight {
	uint64_t gc;                    /* guest cluster index */
	struct q2_req *owner;           /* NULL: free entry */
	struct q2_req *waiters;
};

enum { Q2_RB_SLOTS = 8 };

struct blk_qcow2 {
	struct blk_bdev bdev;
	struct blk_qcow2_hdr h;
	uint64_t cs;                    /* cluster size */
	uint64_t *l1;                   /* disk order, l1_size entries (4096-aligned) */
	uint64_t *reft;                 /* disk order */
	uint64_t reft_entries;
	uint64_t end;                   /* next cluster to allocate (bytes) */
	/* The image's container and backing image, both claimed. Not bdev.base:
	 * the image closes (and, when it created them, deletes) them itself. */
	struct blk_bdev *file;
	struct blk_bdev *backing;       /* or NULL */
	uint64_t backing_size;
	bool own_file, own_backing;     /* created by us: deleted with us */
	bool read_only;
	bool l2_cache_set;              /* l2_cache_size given (saved in the config) */
	uint64_t l2_cache_bytes;
	bool broken;                    /* a metadata write failed: writes refused */
	int grow_fd;                    /* base is a regular file we may extend, or -1 */
	uint32_t meta_bs;               /* granularity of table-entry writes */
	_Atomic(struct blk_reactor *) home;
	/* L2 cache. */
	struct q2_slot *slots;
	uint32_t nslots;
	struct q2_slot **by_l1;         /* [l1_size] */
	struct q2_slot *lru_head, *lru_tail;
	struct q2_req *slot_waiters;    /* waiting for any slot to free up */
	uint32_t ndirty;                /* dirty slots */
	uint64_t l1_dirty_lo, l1_dirty_hi;   /* bytes of the L1 table to write; lo == hi: clean */
	/* Allocator: one job at a time. */
	struct q2_req *alloc_owner;
	struct q2_req *alloc_head, *alloc_tail;
	struct q2_rb rbs[Q2_RB_SLOTS];
	unsigned rb_next;
	/* Allocations whose data is being written, outside the allocator. */
	uint8_t *bounce;                /* nbounce clusters, 4096-aligned */
	uint8_t **bounce_free;
	uint32_t nbounce, bounce_nfree;
	struct q2_req *bounce_waiters;
	struct q2_inflight *inflight;   /* [nbounce] */
	/* Metadata writeback. */
	bool wb_active, wb_pending;
	struct q2_req *wb_waiters;      /* allocations waiting to publish a mapping */
	uint8_t *zeroes;                /* cluster_size of zeroes */
	/* Counters (home reactor writes; bdev-list reads racily). */
	_Atomic uint64_t n_alloc, n_l2_miss, n_l2_hit, n_cow, n_freed, n_forwarded;
	char path[4096];                /* for info; "" in base mode */
	char file_path[4096];           /* the base file's path when growable */
};

/* Per-request state machine context (the bdev's per-I/O context). */
enum { Q2_SIOV = 6 };
struct q2_req {
	struct blk_io *io;
	struct blk_qcow2 *q;
	struct q2_req *wnext;           /* on one wait list at a time */
	uint64_t pos;                   /* bytes of io done */
	uint64_t clen;                  /* current chunk */
	uint64_t host;                  /* host offset of the chunk's cluster */
	uint64_t l2e;                   /* the chunk's L2 entry */
	uint64_t new_l2, new_data;      /* clusters reserved by the allocator */
	uint64_t new_rb[2];             /* new refcount blocks (host offsets) */
	uint64_t sub_off, sub_len;      /* the sub-I/O to (re)submit */
	struct blk_bdev *sub_bdev;
	uint32_t sub_flags;
	uint8_t sub_type;
	uint8_t state;
	uint8_t next;                   /* state after the sub-I/O */
	uint8_t wb_next;                /* state after a metadata writeback */
	uint8_t lock_next;              /* state once the allocator is ours */
	bool in_flight;                 /* owns a q2_inflight entry */
	bool wb_release;                /* took the allocator only to write back */
	uint8_t *bounce;                /* from the pool, or NULL */
	bool pinned;                    /* holds the pin of by_l1[l1 index] */
	uint8_t n_new_rb;
	uint8_t upd;                    /* refcount updates done so far */
	bool zero_src;                  /* chunk's data is zeroes (write-zeroes) */
	int status;
	int sub_iovcnt;
	struct iovec siov[Q2_SIOV];
};

/* blk_qcow2_cache.c */
int blk_qcow2_cache_init(struct blk_qcow2 *q, uint64_t bytes);
void blk_qcow2_cache_fini(struct blk_qcow2 *q);
/* Looks up the L2 table of L1 index l1i (whose L1 entry is non-zero): returns
 * the READY slot; or NULL after queueing r on the load (it is run again when
 * the table lands); or NULL with *err = -EAGAIN when no slot is free (nothing
 * queued: see no_slot() in blk_qcow2.c) or another -errno. */
struct q2_slot *blk_qcow2_l2_get(struct blk_qcow2 *q, struct q2_req *r, uint64_t l1i, int *err);
/* A zeroed READY slot for a new L2 table (allocator), or NULL: none free. */
struct q2_slot *blk_qcow2_l2_new(struct blk_qcow2 *q, uint64_t l1i);
/* Queues r until a slot is unpinned. */
void blk_qcow2_wait_slot(struct blk_qcow2 *q, struct q2_req *r);
/* Marks a READY slot dirty (pinned until written) / written. */
void blk_qcow2_slot_dirty(struct blk_qcow2 *q, struct q2_slot *s);
void blk_qcow2_slot_clean(struct blk_qcow2 *q, struct q2_slot *s);
void blk_qcow2_slot_pin(struct blk_qcow2 *q, struct q2_slot *s);
void blk_qcow2_slot_unpin(struct blk_qcow2 *q, struct q2_slot *s);
/* Refcount block cache: q2_rb_find returns the cached block of refcount table
 * index ri or NULL; q2_rb_slot claims a slot for ri (its previous block is
 * forgotten) and returns the buffer to read or build it in. */
uint8_t *blk_qcow2_rb_find(struct blk_qcow2 *q, uint64_t ri);
uint8_t *blk_qcow2_rb_slot(struct blk_qcow2 *q, uint64_t ri);   /* NULL: all dirty */
void blk_qcow2_rb_dirty(struct blk_qcow2 *q, uint64_t ri);
void blk_qcow2_rb_drop_all(struct blk_qcow2 *q);

_Static_assert(sizeof(struct q2_req) <= BLK_IO_CTX_MAX, "qcow2 context too large");

/* The request state machine's states (blk_qcow2.c documents them). */
enum q2_state {
	S_NEXT,
	S_READ_MAP,
	S_READ_BTAIL,
	S_WRITE_MAP,
	S_FUA_FLUSH,
	S_CHUNK_DONE,
	S_ALLOC_LOCK,
	S_ALLOC_MAP,
	S_ALLOC_RB,
	S_ALLOC_FILL,
	S_ALLOC_FILL2,
	S_ALLOC_FLUSH1,
	S_ALLOC_REFT,
	S_ALLOC_L2E,
	S_ALLOC_END,
	S_ZERO_RB,
	S_ZERO_PUNCH,
	S_WB_START,
	S_WB_L2,
	S_WB_L2_DONE,
	S_WB_L1,
	S_WB_END,
	S_FLUSH,
	S_FINISH,
};

static inline uint64_t blk_qcow2_req_off(const struct q2_req *r)
{
	return r->io->offset + r->pos;
}

/* blk_qcow2.c */
void blk_qcow2_sub_buf(struct q2_req *r, struct blk_bdev *b, enum blk_io_type t, uint64_t off,
		void *buf, uint64_t len, enum q2_state next);

/* blk_qcow2_alloc.c (home reactor) */
void blk_qcow2_unpin(struct q2_req *r);                 /* drops r's pin on its L2 slot */
void blk_qcow2_lock_release(struct q2_req *r);          /* the next job, if any, runs */
void blk_qcow2_alloc_release(struct q2_req *r);         /* both */
bool blk_qcow2_bounce_get(struct q2_req *r);            /* false: r queued for one */
void blk_qcow2_bounce_put(struct q2_req *r);
struct q2_inflight *blk_qcow2_inflight_find(struct blk_qcow2 *q, uint64_t gc);
void blk_qcow2_inflight_add(struct q2_req *r);
void blk_qcow2_inflight_end(struct q2_req *r);          /* its waiters map again */
void blk_qcow2_wb_end(struct blk_qcow2 *q);             /* wakes allocations waiting to publish */
bool blk_qcow2_no_slot(struct q2_req *r);               /* false: r queued */
int blk_qcow2_reserve(struct q2_req *r, uint64_t *out);  /* next cluster at the end */
bool blk_qcow2_alloc_rb_step(struct q2_req *r);         /* true: a sub-I/O is running */


/* blk_qcow2.c */
void blk_qcow2_req_run(struct q2_req *r);
int blk_qcow2_submit(struct blk_io *io);

/* blk_rpc_image.c: bdev-create for the image types (decodes its own params). */
struct vsl_rpc_call;
struct json_object;
int blk_rpc_image_bdev_create(struct vsl_rpc_call *call, struct json_object *params);
bool blk_rpc_image_bdev_type(struct json_object *params);

/* blk_qcow2_open.c: writes dirty L2 tables and L1 entries synchronously
 * (control thread, no I/O in flight: close and resize). */
int blk_qcow2_writeback_sync(struct blk_qcow2 *q);
/* blk_qcow2_open.c: grows an unused qcow2 bdev (blk_image_resize_bdev). */
int blk_qcow2_resize(struct blk_bdev *b, uint64_t size, char *err, size_t errlen);

#endif /* BLK_IMAGE_INTERNAL_H */
