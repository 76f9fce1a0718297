/* blk_image.h — disk images: `raw` (fixed size) and `qcow2` (thin, version 3).
 *
 * Two layers:
 *
 * 1. Pure qcow2 metadata code (blk_qcow2_meta.c): header parsing and
 *    validation, L1/L2/refcount entry checks and refcount arithmetic, and the
 *    layout of a new image. No I/O, no allocation sized from the image: every
 *    function works on caller-provided buffers and checks every field against
 *    the buffer and the file size before use, so it is fuzzed directly
 *    (tests/fuzz/fuzz_qcow2.c) and unit-tested with crafted headers.
 *
 * 2. Bdevs (blk_image_raw.c, blk_qcow2*.c): `raw` passes I/O
 *    through to its base; `qcow2` maps guest clusters to host clusters of its
 *    base bdev (a file bdev or any other), reads unallocated clusters from a
 *    backing bdev or as zeroes, and allocates on write.
 *
 * On-disk decisions (qcow2, see QEMU's docs/interop/qcow2.txt):
 *   - Version 3 only; refcount_order 0..6 (1..64-bit refcounts; qemu-img's
 *     default is 4). Vessel never sets the dirty bit (no lazy refcounts): every
 *     allocation follows the crash-safety order, so an image is consistent
 *     (at most leaking clusters) at any instant.
 *   - Refused at open, each with a message naming it: the dirty and corrupt
 *     bits, compression (incompatible bit 3 or a compressed L2 entry), external
 *     data files, extended L2 entries, encryption (crypt_method != 0), internal
 *     snapshots (refcounts above 1 would need copy-on-write of shared clusters),
 *     and any unknown incompatible bit. Unknown autoclear bits are cleared on
 *     open, as the specification asks of a writer that does not understand them.
 *   - Allocation is append-only at the end of the image (the highest cluster
 *     with a non-zero refcount, found by a refcount scan at open). Freed clusters
 *     (discard) get refcount 0 and are punched in the base; they are not
 *     reused. A missing refcount block is created self-describing at the
 *     allocation point; the refcount table is never grown (an image that would
 *     need it fails writes with ENOSPC; images made by image-create and by
 *     qemu-img cover 16 TiB at 64 KiB clusters).
 *   - Crash-safety order of every allocation: the data cluster (with the rest
 *     of the cluster copied from the backing image or zeroed) is written and
 *     its refcount set; new refcount blocks are flushed before the refcount
 *     table names them; the L2 entry (and a new L2 table, then the L1 entry
 *     naming it) is changed in the cache and written back by the next flush:
 *     dirty refcount blocks, flush, L2 tables, flush, L1 entries, flush.
 *     Freeing is the reverse: L2 entry written back, then the refcount
 *     decremented. A crash leaks clusters, never points at unwritten data, and
 *     never loses a write acknowledged before a completed flush.
 *   - Every L1/L2/refcount-table entry read from disk is checked (alignment,
 *     reserved bits, inside the image) before use; a bad one fails the I/O with
 *     EIO and a rate-limited log line naming the table and index.
 *
 * Threading: the create/info/resize calls and the bdev creators run on the
 * control thread (they do synchronous I/O there, through a reactor when the
 * image is a bdev). The qcow2 data path runs on the image's home reactor; I/O
 * submitted on another reactor is forwarded there.
 *
 * Errors: -errno; where a `char *err` is taken, a human-readable reason is
 * written to it (always NUL-terminated) for every refusal.
 */
#ifndef BLK_IMAGE_H
#define BLK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blockdev.h"

struct blk_bdev;

enum {
	BLK_QCOW2_MAGIC = 0x514649fb,               /* "QFI\xfb" */
	BLK_QCOW2_V3_HDR_LEN = 104,
	BLK_QCOW2_MIN_CLUSTER_BITS = 9,
	BLK_QCOW2_MAX_CLUSTER_BITS = 21,
	BLK_QCOW2_MAX_BACKING_NAME = 1023,
	BLK_QCOW2_ERR_LEN = 256,
};

/* Largest L1 table (entries) and refcount table (bytes) accepted, as QEMU. */
#define BLK_QCOW2_MAX_L1_ENTRIES (32ull << 20 >> 3)
#define BLK_QCOW2_MAX_REFTABLE_BYTES (8ull << 20)
/* Largest virtual size accepted (QEMU's 2^61 limit minus nothing we need). */
#define BLK_QCOW2_MAX_SIZE (1ull << 56)

/* Incompatible feature bits. */
enum {
	BLK_QCOW2_INCOMPAT_DIRTY = 1u << 0,
	BLK_QCOW2_INCOMPAT_CORRUPT = 1u << 1,
	BLK_QCOW2_INCOMPAT_DATA_FILE = 1u << 2,
	BLK_QCOW2_INCOMPAT_COMPRESSION = 1u << 3,
	BLK_QCOW2_INCOMPAT_EXTL2 = 1u << 4,
};

/* Table entry bits. */
#define BLK_QCOW2_OFLAG_COPIED (1ull << 63)
#define BLK_QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define BLK_QCOW2_OFLAG_ZERO (1ull << 0)
#define BLK_QCOW2_OFFSET_MASK 0x00fffffffffffe00ull
#define BLK_QCOW2_L1_RESERVED 0x7f000000000001ffull
#define BLK_QCOW2_L2_RESERVED 0x3f000000000001feull
#define BLK_QCOW2_REFT_RESERVED 0x00000000000001ffull

/* A parsed, validated header (host byte order). */
struct blk_qcow2_hdr {
	uint32_t version;
	uint32_t cluster_bits;
	uint64_t size;                  /* virtual size, bytes */
	uint32_t l1_size;               /* entries */
	uint64_t l1_offset;
	uint64_t reftable_offset;
	uint32_t reftable_clusters;
	uint64_t incompat, compat, autoclear;
	uint32_t refcount_order;
	uint32_t header_length;
	uint64_t backing_offset;
	uint32_t backing_len;
	char backing[BLK_QCOW2_MAX_BACKING_NAME + 1];   /* "" when none */
	char backing_fmt[32];                           /* from the extension, or "" */
	uint32_t nb_snapshots;
	/* Derived. */
	uint64_t cluster_size;
	uint32_t l2_bits;               /* log2 of entries per L2 table */
	uint32_t rb_bits;               /* log2 of entries per refcount block */
	uint64_t l1_needed;             /* L1 entries the size needs */
};

/* Parses and validates the header in buf (the image's first len bytes; at
 * least 104, ideally the whole first cluster so extensions can be read) of a
 * file of file_size bytes. for_write additionally refuses what Vessel cannot
 * write safely (dirty bit). Returns 0, -EINVAL (not qcow2 or corrupt),
 * -ENOTSUP (a feature Vessel does not implement), -EAGAIN (len too short for the
 * header and its extensions: read the whole first cluster and call again). */
int blk_qcow2_hdr_parse(const void *buf, size_t len, uint64_t file_size, bool for_write,
			struct blk_qcow2_hdr *h, char *err, size_t errlen);

/* Entry checks: 0 or -EINVAL with a reason. `end` is the end of the image
 * (bytes): offsets at or past it are refused. */
int blk_qcow2_l1_entry_check(const struct blk_qcow2_hdr *h, uint64_t e, uint64_t end, char *err,
			     size_t errlen);
int blk_qcow2_l2_entry_check(const struct blk_qcow2_hdr *h, uint64_t e, uint64_t end, char *err,
			     size_t errlen);
int blk_qcow2_reft_entry_check(const struct blk_qcow2_hdr *h, uint64_t e, uint64_t end,
			       char *err, size_t errlen);

/* Refcount block access: entry idx of a refcount block of cluster_size bytes
 * (idx < 1 << rb_bits). set returns -ERANGE when v does not fit the width. */
uint64_t blk_qcow2_refcount_get(const void *block, uint32_t order, uint64_t idx);
int blk_qcow2_refcount_set(void *block, uint32_t order, uint64_t idx, uint64_t v);
/* Adds delta (may be negative) to a refcount: -ERANGE on overflow/underflow. */
int blk_qcow2_refcount_add(void *block, uint32_t order, uint64_t idx, int64_t delta);

/* Guest offset -> table indexes. */
static inline uint64_t blk_qcow2_l1_index(const struct blk_qcow2_hdr *h, uint64_t off)
{
	return off >> (h->cluster_bits + h->l2_bits);
}
static inline uint64_t blk_qcow2_l2_index(const struct blk_qcow2_hdr *h, uint64_t off)
{
	return (off >> h->cluster_bits) & ((1ull << h->l2_bits) - 1);
}
/* Host cluster offset -> refcount table index and index inside the block. */
static inline uint64_t blk_qcow2_reft_index(const struct blk_qcow2_hdr *h, uint64_t host)
{
	return host >> (h->cluster_bits + h->rb_bits);
}
static inline uint64_t blk_qcow2_rb_index(const struct blk_qcow2_hdr *h, uint64_t host)
{
	return (host >> h->cluster_bits) & ((1ull << h->rb_bits) - 1);
}

/* Validates a whole image held in memory (header, L1, refcount table, every L2
 * table and refcount block, and that every referenced cluster has a refcount
 * of at least 1). For the fuzzer and tests. 0 or -errno with a reason. */
int blk_qcow2_image_check_mem(const void *img, size_t len, char *err, size_t errlen);

/* Layout of a new image: header cluster, refcount table, one refcount block,
 * L1 table. Fills a buffer of *out_len bytes (caller frees) holding the first
 * clusters; refcounts of those clusters are 1. */
struct blk_qcow2_new {
	uint64_t size;
	uint32_t cluster_bits;          /* 0: 16 */
	const char *backing;            /* NULL or a path written into the header */
	const char *backing_fmt;        /* "qcow2", "raw" or NULL */
};
int blk_qcow2_layout(const struct blk_qcow2_new *n, void **out, size_t *out_len, char *err,
		     size_t errlen);

/* ----------------------------------------------------- control thread API */

struct blk_image_create_opts {
	const char *path;
	const char *format;             /* "raw" or "qcow2" */
	uint64_t size;                  /* bytes; 0 with a backing file: its size */
	uint32_t cluster_size;          /* qcow2: 512..2M, power of two; 0: 64K */
	const char *backing;            /* qcow2: backing file path */
	const char *backing_fmt;        /* qcow2: its format (probed when NULL) */
	bool preallocate;               /* raw: fallocate the whole file (the RPC's default) */
};
/* Creates a new image file (refuses an existing path: -EEXIST). */
int blk_image_create(const struct blk_image_create_opts *o, char *err, size_t errlen);

/* Reads an image file's header: format, size, and for qcow2 the parsed header.
 * Returns 0 or -errno with err. */
struct blk_image_info {
	char format[8];
	uint64_t size;
	uint64_t file_size;
	bool is_qcow2;
	struct blk_qcow2_hdr q;
};
int blk_image_info_path(const char *path, struct blk_image_info *info, char *err, size_t errlen);

/* Grows an image file that no bdev has open (raw: extends the file; qcow2:
 * rewrites the size, moving the L1 table to the end when it must grow).
 * Shrinking is refused (-ENOTSUP). */
int blk_image_resize_path(const char *path, uint64_t size, char *err, size_t errlen);
/* Grows a raw or qcow2 bdev that has no user (no export, nothing stacked). */
int blk_image_resize_bdev(struct blk_bdev *b, uint64_t size, char *err, size_t errlen);

/* Bdevs. Either path (a file bdev "<name>-file" is created and claimed, and
 * deleted with the image) or base (an existing bdev, claimed). */
struct blk_image_bdev_opts {
	const char *path;
	const char *base;
	const char *backing;            /* qcow2: a bdev to use as the backing image */
	bool direct;                    /* with path: O_DIRECT */
	uint64_t l2_cache_size;         /* qcow2: bytes of L2 tables cached; 0: default */
	bool read_only;                 /* qcow2: internal, for backing images */
};
int blk_raw_create(const char *name, const struct blk_image_bdev_opts *o, char *err,
		   size_t errlen, struct blk_bdev **out);
int blk_qcow2_create(const char *name, const struct blk_image_bdev_opts *o, char *err,
		     size_t errlen, struct blk_bdev **out);

/* Synchronous I/O on any bdev from the control thread: runs on reactor 0 (or,
 * without reactor threads, on the calling thread's reactor, polling it) and
 * waits. offset/len aligned to the bdev's block size; buf aligned to 4096. */
int blk_image_sync_io(struct blk_bdev *b, enum blk_io_type type, uint64_t offset, void *buf,
		      uint64_t len);

#endif /* BLK_IMAGE_H */
