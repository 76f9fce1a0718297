/* lvm_meta.h — LVM on-disk format: PV label and VG metadata records.
 *
 * Layout of every physical volume (byte offsets, all little-endian):
 *
 *     0          PV label, one 4 KiB record (written by pvcreate only)
 *     256 KiB    metadata slot 0 (LVM_SLOT_SIZE = 256 KiB)
 *     512 KiB    metadata slot 1
 *     1 MiB      extent 0 (LVM_DATA_OFFSET); extent i at 1 MiB + i * extent_size
 *
 * A slot holds one VG metadata record: a 4 KiB-aligned run of bytes that
 * starts with struct lvm_disk_md_hdr (magic "VSLLVMMD", CRC32C of the whole
 * record with the crc field zeroed, sequence number), followed by the PV, LV
 * and segment tables. Free space is not stored: it is whatever no segment
 * maps. A commit writes sequence seq+1 into slot (seq+1) & 1 on every PV,
 * flushes, and is then durable: the other slot keeps the previous copy, so a
 * torn write loses at most the update in progress. Reading picks the valid
 * slot with the highest sequence number (the "newest valid wins" rule, with
 * the slot index as the flipping header), on each PV and then across PVs.
 *
 * Everything in this file is pure: no I/O, no global state; lvm_md_decode()
 * allocates the parsed tables (free with lvm_md_free()). The parser refuses
 * (-EBADMSG, with a message in err) anything it cannot prove consistent:
 * bad magic/version/CRC, counts or sizes out of range, names with characters
 * outside [A-Za-z0-9_.] (VG) or [A-Za-z0-9_.-] (LV), segments past the end of
 * their PV, overlapping extents, LVs referencing unknown PVs, impossible
 * striping. lvm_md_check() applies the same rules to an in-memory copy, so
 * nothing that would be refused when read is ever written.
 */
#ifndef LVM_META_H
#define LVM_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	LVM_BLOCK = 4096,                      /* record alignment */
	LVM_LABEL_OFFSET = 0,
	LVM_SLOT_SIZE = 256 * 1024,
	LVM_SLOT0_OFFSET = 256 * 1024,
	LVM_DATA_OFFSET = 1024 * 1024,
	LVM_VERSION = 1,
	LVM_NAME_MAX = 64,                     /* VG/LV names, NUL included */
	LVM_MAX_PVS = 64,
	LVM_MAX_LVS = 256,
	LVM_MAX_SEGS = 1024,
	LVM_MAX_STRIPES = 8,
};

#define LVM_LABEL_MAGIC "VSLLVMPV"
#define LVM_MD_MAGIC "VSLLVMMD"
#define LVM_EXTENT_MIN (64ull * 1024)
#define LVM_EXTENT_MAX (1ull << 30)
#define LVM_EXTENT_DEFAULT (4ull << 20)
#define LVM_SIZE_MAX (1ull << 62)              /* any byte size beyond is absurd */
#define LVM_THIN_CHUNK_MIN (64ull * 1024)
#define LVM_THIN_CHUNK_DEFAULT (64ull * 1024)
#define LVM_THIN_ID_MAX 0xffffffu              /* thin device ids 1..2^24-1 */

/* ------------------------------------------------------------ on disk */

struct lvm_disk_label {
	char magic[8];
	uint32_t version;
	uint32_t crc;              /* CRC32C of the 4 KiB block, this field zero */
	uint8_t pv_uuid[16];
	uint64_t dev_size;         /* bytes of the bdev at pvcreate */
	uint64_t slot_offset[2];
	uint32_t slot_size;
	uint32_t pad;
	uint64_t data_offset;
} __attribute__((packed));
_Static_assert(sizeof(struct lvm_disk_label) == 72, "label size");

struct lvm_disk_md_hdr {
	char magic[8];
	uint32_t version;
	uint32_t crc;              /* CRC32C of hdr.len bytes, this field zero */
	uint64_t seq;
	uint32_t len;              /* record bytes, a multiple of 4 KiB */
	uint32_t n_pvs;
	uint32_t n_lvs;
	uint32_t n_segs;
	uint8_t vg_uuid[16];
	char vg_name[LVM_NAME_MAX];
	uint64_t extent_size;
	uint8_t pad[32];
} __attribute__((packed));
_Static_assert(sizeof(struct lvm_disk_md_hdr) == 160, "md header size");

struct lvm_disk_pv {
	uint8_t uuid[16];
	uint64_t dev_size;
	uint64_t pe_start;         /* == LVM_DATA_OFFSET */
	uint64_t pe_count;
	char name_hint[LVM_NAME_MAX];   /* bdev name at the last commit */
	uint8_t pad[24];
} __attribute__((packed));
_Static_assert(sizeof(struct lvm_disk_pv) == 128, "pv entry size");

/* LV kinds. Linear/striped LVs and a thin pool's hidden data ("POOL_tdata")
 * and metadata ("POOL_tmeta") LVs own segments; a thin pool and its thin
 * volumes own none: a pool's le_count equals its data LV's, a thin volume's
 * le_count is its virtual size. Zero in every field a kind does not use. */
enum lvm_lv_kind {
	LVM_LV_LINEAR = 0,         /* linear or striped */
	LVM_LV_THIN_POOL = 1,      /* chunk_size set; link zero */
	LVM_LV_THIN = 2,           /* thin_id, origin_id (0: none), link = pool's UUID */
	LVM_LV_POOL_DATA = 3,      /* "POOL_tdata" */
	LVM_LV_POOL_META = 4,      /* "POOL_tmeta" */
	LVM_LV_KIND_MAX = 4,
};

struct lvm_disk_lv {
	char name[LVM_NAME_MAX];
	uint8_t uuid[16];
	uint64_t le_count;
	uint32_t first_seg;
	uint32_t n_segs;
	uint32_t kind;             /* enum lvm_lv_kind (version 1 records: 0) */
	uint32_t thin_id;          /* thin: device id in its pool */
	uint32_t origin_id;        /* thin snapshot: the origin's device id at creation */
	uint32_t chunk_size;       /* thin pool: bytes */
	uint8_t link[16];          /* thin: the pool LV's UUID */
} __attribute__((packed));
_Static_assert(sizeof(struct lvm_disk_lv) == 128, "lv entry size");

struct lvm_disk_area {
	uint32_t pv;               /* index into the PV table */
	uint32_t pad;
	uint64_t pe_start;
} __attribute__((packed));

struct lvm_disk_seg {
	uint64_t le_start;
	uint64_t le_count;
	uint32_t stripes;
	uint32_t stripe_size;      /* bytes; 0 when stripes == 1 */
	struct lvm_disk_area area[LVM_MAX_STRIPES];
} __attribute__((packed));
_Static_assert(sizeof(struct lvm_disk_seg) == 152, "segment size");

/* ---------------------------------------------------------- in memory */

struct lvm_pv_md {
	uint8_t uuid[16];
	uint64_t dev_size;
	uint64_t pe_count;
	char name_hint[LVM_NAME_MAX];
};

struct lvm_area_md {
	uint32_t pv;
	uint64_t pe_start;
};

struct lvm_seg_md {
	uint64_t le_start;
	uint64_t le_count;         /* LV extents in the segment (all stripes) */
	uint32_t stripes;
	uint32_t stripe_size;
	struct lvm_area_md area[LVM_MAX_STRIPES];   /* le_count / stripes each */
};

struct lvm_lv_md {
	char name[LVM_NAME_MAX];
	uint8_t uuid[16];
	uint64_t le_count;
	uint32_t first_seg;
	uint32_t n_segs;
	uint32_t kind;             /* enum lvm_lv_kind */
	uint32_t thin_id;
	uint32_t origin_id;
	uint32_t chunk_size;
	uint8_t link[16];
};

/* One VG's metadata. Segments of LV i are segs[first_seg .. +n_segs), in LV
 * order, the LVs' runs back to back. Owned by whoever made it: free with
 * lvm_md_free() (arrays are sized to their LVM_MAX_* capacity). */
struct lvm_md {
	uint64_t seq;
	uint8_t vg_uuid[16];
	char vg_name[LVM_NAME_MAX];
	uint64_t extent_size;
	uint32_t n_pvs, n_lvs, n_segs;
	struct lvm_pv_md *pvs;
	struct lvm_lv_md *lvs;
	struct lvm_seg_md *segs;
};

struct lvm_label {
	uint8_t pv_uuid[16];
	uint64_t dev_size;
};

/* Allocates empty tables at full capacity. Returns NULL on ENOMEM. */
struct lvm_md *lvm_md_alloc(void);
void lvm_md_free(struct lvm_md *md);
/* Deep copy, or NULL. */
struct lvm_md *lvm_md_clone(const struct lvm_md *md);

/* Bytes the record of md takes (4 KiB multiple, <= LVM_SLOT_SIZE after check). */
size_t lvm_md_record_len(const struct lvm_md *md);
/* Encodes md into buf (LVM_SLOT_SIZE bytes, zeroed past the record). md must
 * pass lvm_md_check(). Returns the record length. */
size_t lvm_md_encode(const struct lvm_md *md, void *buf);
/* Parses one slot. Returns 0 and *out (free with lvm_md_free()), -ENODATA for
 * a slot without the magic (never written or wiped), -EBADMSG for anything
 * corrupt or impossible (err says what), -ENOMEM. */
int lvm_md_decode(const void *buf, size_t len, struct lvm_md **out, char *err, size_t errlen);
/* Semantic validation (the same rules the parser applies): 0 or -EINVAL. */
int lvm_md_check(const struct lvm_md *md, char *err, size_t errlen);

/* PV label: encode into a zeroed 4 KiB block; decode: 0, -ENODATA (no magic)
 * or -EBADMSG. */
void lvm_label_encode(const struct lvm_label *l, void *block);
int lvm_label_decode(const void *block, size_t len, struct lvm_label *out, char *err,
		     size_t errlen);

/* Names: VG 1..LVM_NAME_MAX-1 chars of [A-Za-z0-9_.] not starting with '.';
 * LV the same plus '-' (not first). The LV's bdev is "VG-LV" (VG names
 * have no '-', so the split is unique); it must fit in a bdev name. */
bool lvm_vg_name_valid(const char *name);
bool lvm_lv_name_valid(const char *name);

/* Extents of PV i no segment maps: fills used[] (pe_count bits, caller's
 * buffer of (pe_count + 7) / 8 bytes). */
void lvm_md_pv_used(const struct lvm_md *md, uint32_t pv, uint8_t *used);
/* Free extents of PV i. */
uint64_t lvm_md_pv_free(const struct lvm_md *md, uint32_t pv);
/* Index of the LV called name, or -1. */
int lvm_md_lv_find(const struct lvm_md *md, const char *name);
/* Index of the LV with that UUID, or -1. */
int lvm_md_lv_find_uuid(const struct lvm_md *md, const uint8_t *uuid);
/* Index of thin pool `pool`'s hidden data (meta false) or metadata LV, or -1. */
int lvm_md_pool_sub(const struct lvm_md *md, uint32_t pool, bool meta);
/* Suffixes of a pool's hidden LVs. */
#define LVM_TDATA_SUFFIX "_tdata"
#define LVM_TMETA_SUFFIX "_tmeta"

/* Maps LV byte offset off to (area, PV byte offset) within segment seg;
 * *max is how many bytes from off stay contiguous on that PV. */
void lvm_seg_map(const struct lvm_seg_md *seg, uint64_t extent_size, uint64_t off,
		 uint32_t *pv, uint64_t *pv_off, uint64_t *max);

#endif /* LVM_META_H */
