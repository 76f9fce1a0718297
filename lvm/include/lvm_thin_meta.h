/* lvm_thin_meta.h — on-disk format of a thin pool's metadata LV (pure).
 *
 * A thin pool keeps its data in chunks (64 KiB .. extent size, a power of
 * two) on the hidden LV "POOL_tdata" and its mappings on "POOL_tmeta":
 *
 *     0        superblock copy 0 (4 KiB)
 *     4 KiB    superblock copy 1
 *     8 KiB    checkpoint slot 0 (slot_size bytes, a 4 KiB multiple)
 *     8 KiB + slot_size       checkpoint slot 1
 *     8 KiB + 2 * slot_size   the log (log_size bytes, to the end)
 *
 * log_size is an eighth of the metadata LV (at least 16 KiB); slot_size is
 * half of what remains. Both follow from meta_size alone.
 *
 * A checkpoint is the whole mapping state: a header (magic "VSLTHNMD",
 * CRC32C over the record, sequence number, pool UUID, chunk size, data
 * chunks), the device table (id, origin id; sorted by id) and the mapping
 * table (device id, virtual chunk, pool chunk; sorted by device then virtual
 * chunk). Reference counts and free space are not stored: a pool chunk's
 * reference count is the number of mappings that name it, free chunks are
 * those no mapping names. So a crash can never leave a count wrong; at worst
 * a chunk written but never committed is free again (a leak of nothing).
 *
 * A log record (magic "VSLTHNLG") holds the mappings that changed since the
 * previous commit: (device id, virtual chunk, pool chunk or 0xffffffff for
 * "unmapped"), sorted, with the sequence number of this commit, the
 * sequence of the checkpoint it follows ("base"), the pool UUID and a CRC32C
 * over the record (a 4 KiB multiple). Records follow each other from the
 * start of the log; a reader applies, after the checkpoint with sequence S,
 * the records with base S and sequences S+1, S+2, ... in order and stops at
 * the first block that is not such a record (a torn or stale one).
 *
 * Commits. The usual one, for mappings changed by writes and discards,
 * appends one record (as many 4 KiB blocks as its entries need: 252 in the
 * first block, 256 in each further one) and flushes: that write is the
 * commit's atomic step, the state before it (checkpoint + earlier records)
 * stays intact until it is complete. A change of the device table (thin LV
 * created, snapshot, removed), a full log or a dirty list too long for it
 * writes a checkpoint instead: into the slot the newest superblock does not
 * point at, flush, then the superblock (sequence, slot, record length and
 * CRC) into the copy that does not hold the newest superblock, flush (the
 * "superblock flip"); the log then starts over behind it. Reading takes the
 * valid superblock with the highest sequence whose checkpoint is valid and
 * matches it (length, CRC, sequence), else the other, then replays the log.
 *
 * A record with the CLEAN flag (and no entries, or the last entries) is
 * written by a clean shutdown; a pool whose log ends with it was stopped
 * cleanly: nothing was in flight and nothing written before the stop is
 * missing.
 *
 * Everything here is pure (no I/O); the parser refuses anything it cannot
 * prove consistent (-EBADMSG with a message) and is fuzzed by
 * tests/fuzz/fuzz_lvm_thin.c.
 */
#ifndef LVM_THIN_META_H
#define LVM_THIN_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	LVM_THIN_SB_SIZE = 4096,
	LVM_THIN_SLOT0 = 8192,
	LVM_THIN_VERSION = 2,          /* 2: the log after the slots */
	LVM_THIN_LOG_MIN = 16384,
	LVM_THIN_LOG_CLEAN = 1u << 0,  /* log record flag: written by a clean stop */
	LVM_THIN_MAX_DEVS = 65536,
};

#define LVM_THIN_SB_MAGIC "VSLTHNSB"
#define LVM_THIN_MD_MAGIC "VSLTHNMD"
#define LVM_THIN_LOG_MAGIC "VSLTHNLG"
#define LVM_THIN_UNMAPPED 0xffffffffu      /* log entry: the mapping was removed */
#define LVM_THIN_VCHUNK_MAX (1ull << 46)   /* 2^62 bytes / 64 KiB */
#define LVM_THIN_CHUNKS_MAX 0xfffffffeull  /* pool chunks are 32-bit */

struct lvm_thin_disk_sb {
	char magic[8];
	uint32_t version;
	uint32_t crc;              /* CRC32C of the 4 KiB block, this field zero */
	uint64_t seq;
	uint8_t pool_uuid[16];
	uint32_t chunk_size;
	uint32_t slot;             /* 0 or 1: where this sequence's checkpoint is */
	uint64_t meta_size;        /* bytes of the metadata LV at format */
	uint64_t slot_size;
	uint32_t ckpt_len;
	uint32_t ckpt_crc;
} __attribute__((packed));
_Static_assert(sizeof(struct lvm_thin_disk_sb) == 72, "thin superblock size");

struct lvm_thin_disk_hdr {
	char magic[8];
	uint32_t version;
	uint32_t crc;              /* CRC32C of len bytes, this field zero */
	uint64_t seq;
	uint8_t pool_uuid[16];
	uint32_t chunk_size;
	uint32_t len;              /* record bytes, a multiple of 4 KiB */
	uint64_t data_chunks;
	uint32_t n_devs;
	uint32_t pad;
	uint64_t n_maps;
} __attribute__((packed));
_Static_assert(sizeof(struct lvm_thin_disk_hdr) == 72, "thin checkpoint header size");

struct lvm_thin_disk_dev {
	uint32_t id;
	uint32_t origin;
} __attribute__((packed));
_Static_assert(sizeof(struct lvm_thin_disk_dev) == 8, "thin device entry size");

struct lvm_thin_disk_map {
	uint32_t dev;
	uint32_t pchunk;
	uint64_t vchunk;
} __attribute__((packed));
_Static_assert(sizeof(struct lvm_thin_disk_map) == 16, "thin mapping size");

struct lvm_thin_disk_log {
	char magic[8];
	uint32_t version;
	uint32_t crc;              /* CRC32C of len bytes, this field zero */
	uint64_t seq;
	uint64_t base;             /* sequence of the checkpoint this record follows */
	uint8_t pool_uuid[16];
	uint32_t len;              /* record bytes, a multiple of 4 KiB */
	uint32_t flags;
	uint64_t n_maps;
} __attribute__((packed));
_Static_assert(sizeof(struct lvm_thin_disk_log) == 64, "thin log header size");

struct lvm_thin_sb {
	uint64_t seq;
	uint8_t pool_uuid[16];
	uint32_t chunk_size;
	uint32_t slot;
	uint64_t meta_size;
	uint64_t slot_size;
	uint32_t ckpt_len;
	uint32_t ckpt_crc;
};

struct lvm_thin_dev_md {
	uint32_t id;
	uint32_t origin;
};

struct lvm_thin_map_md {
	uint32_t dev;
	uint32_t pchunk;
	uint64_t vchunk;
};

/* One checkpoint. Arrays owned by it: free with lvm_thin_md_free(). */
struct lvm_thin_md {
	uint64_t seq;
	uint8_t pool_uuid[16];
	uint32_t chunk_size;
	uint64_t data_chunks;
	uint32_t n_devs;
	uint64_t n_maps;
	struct lvm_thin_dev_md *devs;
	struct lvm_thin_map_md *maps;
};

/* Slot size for a metadata LV of meta_size bytes (0 when too small). */
uint64_t lvm_thin_slot_size(uint64_t meta_size);
/* Where the log starts and how long it is, for a metadata LV of meta_size
 * bytes (with a non-zero slot size). */
uint64_t lvm_thin_log_offset(uint64_t meta_size);
uint64_t lvm_thin_log_size(uint64_t meta_size);
/* Mappings a checkpoint of slot_size bytes holds with n_devs devices. */
uint64_t lvm_thin_max_maps(uint64_t slot_size, uint32_t n_devs);
/* Bytes the checkpoint of md takes (a 4 KiB multiple). */
size_t lvm_thin_md_len(const struct lvm_thin_md *md);

/* Encodes md (which must pass lvm_thin_md_check()) into buf of
 * lvm_thin_md_len(md) bytes; returns the CRC of the record. */
uint32_t lvm_thin_md_encode(const struct lvm_thin_md *md, void *buf);
/* Parses a checkpoint from len bytes: 0 and *out (free with
 * lvm_thin_md_free()), -ENODATA (no magic), -EBADMSG (err says what),
 * -ENOMEM. */
int lvm_thin_md_decode(const void *buf, size_t len, struct lvm_thin_md **out, char *err,
		       size_t errlen);
/* The parser's rules on an in-memory copy: 0 or -EINVAL. */
int lvm_thin_md_check(const struct lvm_thin_md *md, char *err, size_t errlen);
void lvm_thin_md_free(struct lvm_thin_md *md);

/* One log record. maps[] (owned) are sorted by device then virtual chunk,
 * no pair twice; pchunk LVM_THIN_UNMAPPED: removed. */
struct lvm_thin_log {
	uint64_t seq, base;
	uint8_t pool_uuid[16];
	uint32_t flags;
	uint64_t n_maps;
	struct lvm_thin_map_md *maps;
};

/* Bytes a record of n_maps entries takes (a 4 KiB multiple). */
size_t lvm_thin_log_len(uint64_t n_maps);
/* Entries that fit a record of at most len bytes. */
uint64_t lvm_thin_log_max_maps(uint64_t len);
/* Encodes l into buf of lvm_thin_log_len(l->n_maps) bytes. */
void lvm_thin_log_encode(const struct lvm_thin_log *l, void *buf);
/* The record length a block starting a record declares (0: not a record). */
uint32_t lvm_thin_log_len_of(const void *block, size_t len);
/* Parses a record from len bytes: 0 and *out (free with
 * lvm_thin_log_free()), -ENODATA (no magic), -EBADMSG (err says what),
 * -ENOMEM. Checks the record alone; the reader checks base, sequence, UUID
 * and that the devices and pool chunks exist. */
int lvm_thin_log_decode(const void *buf, size_t len, struct lvm_thin_log **out, char *err,
			size_t errlen);
void lvm_thin_log_free(struct lvm_thin_log *l);

/* Superblock: encode into a zeroed 4 KiB block; decode: 0, -ENODATA,
 * -EBADMSG. */
void lvm_thin_sb_encode(const struct lvm_thin_sb *sb, void *block);
int lvm_thin_sb_decode(const void *block, size_t len, struct lvm_thin_sb *out, char *err,
		       size_t errlen);

#endif /* LVM_THIN_META_H */
