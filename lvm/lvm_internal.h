/* lvm_internal.h — liblvm internals shared by lvm_*.c. */
#ifndef LVM_INTERNAL_H
#define LVM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "blk_module.h"
#include "blockdev.h"
#include "lvm.h"

/* The extent map an LV's data path reads: immutable once published. A
 * resize publishes a new one; old ones stay on `retired` until the LV is
 * destroyed (I/O in flight may still use them; resizes are rare). */
struct lvm_map {
	uint64_t size;                          /* bytes */
	uint64_t extent_size;
	uint32_t n_segs;
	uint64_t pv_mask;                       /* PVs the segments use (flush) */
	struct blk_bdev *pv[LVM_MAX_PVS];
	struct lvm_map *retired;
	struct lvm_seg_md segs[];
};

struct lvm_lv {
	struct blk_bdev bdev;                   /* "VG-LV", type "lvm" */
	struct lvm_vg *vg;                      /* NULL once the VG let go (shutdown) */
	struct blk_bdev *vg_bdev;               /* the reference the LV holds */
	char name[LVM_NAME_MAX];
	_Atomic(struct lvm_map *) map;
	bool removing;                          /* lvm deletes it: bdev-delete allowed */
	struct lvm_lv *next;                    /* vg->lvs, control thread */
};

struct lvm_vg {
	struct blk_bdev bdev;                   /* the VG name, type "lvm-vg" */
	struct lvm_md *md;                      /* committed metadata (control thread) */
	struct blk_bdev *pv[LVM_MAX_PVS];       /* by md->pvs index; NULL: missing */
	bool partial;
	bool broken;                            /* a commit failed: read-only */
	struct lvm_lv *lvs;
	struct lvm_vg *next;
};

static inline struct lvm_vg *lvm_vg_of(const struct blk_bdev *b)
{
	return b->priv;
}

/* lvm_io.c: synchronous I/O for the control thread (see lvm.h, Threads). */
int lvm_sync_io(struct blk_bdev *b, enum blk_io_type t, uint64_t off, void *buf, uint64_t len);
void *lvm_buf_alloc(size_t len);          /* 4 KiB aligned, zeroed; free() */
void lvm_uuid_gen(uint8_t *uuid);
void lvm_uuid_str(const uint8_t *uuid, char *buf);   /* 37 bytes */
int lvm_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* lvm_pv.c */
struct lvm_pv_probe {
	struct blk_bdev *bdev;
	bool labelled;
	struct lvm_label label;
	struct lvm_md *md;                      /* newest valid copy, or NULL */
	int md_status;                          /* 0, -ENODATA, -EBADMSG */
};
/* Reads bdev's label and both slots. Returns 0 or an I/O -errno. */
int lvm_pv_probe(struct blk_bdev *b, struct lvm_pv_probe *p);
void lvm_pv_probe_fini(struct lvm_pv_probe *p);
int lvm_pv_write_label(struct blk_bdev *b, struct lvm_label *l);
int lvm_pv_wipe_slots(struct blk_bdev *b);
bool lvm_pv_usable(const struct blk_bdev *b, char *err, size_t errlen);

/* lvm_vg.c */
/* Commits md (seq already advanced) to pvs[0..md->n_pvs-1] (NULL skipped),
 * first zeroing the extents listed in `zero` (pv, pe_start, count triples).
 * The explicit state machine; returns 0 or -errno (some PVs may then hold
 * the new copy: the caller marks the VG broken). */
struct lvm_zero {
	uint32_t pv;
	uint64_t pe_start, count;
};
int lvm_commit(struct blk_bdev *const *pvs, const struct lvm_md *md, const struct lvm_zero *zero,
	       unsigned n_zero);
/* Commits md as vg's new metadata and brings the LV bdevs in line. */
int lvm_vg_commit(struct lvm_vg *vg, struct lvm_md *md, const struct lvm_zero *zero,
		  unsigned n_zero, char *err, size_t errlen);
uint32_t lvm_vg_block_size(const struct lvm_vg *vg);

/* lvm_lv.c */
/* Registers, updates or unregisters LV bdevs so that they match vg->md.
 * Returns 0 or the first -errno (registration). */
int lvm_lv_sync(struct lvm_vg *vg);
struct lvm_map *lvm_map_build(const struct lvm_vg *vg, uint32_t lv);
void lvm_lv_detach_all(struct lvm_vg *vg);

/* lvm_alloc.c: allocation over md (pure). */
int lvm_alloc_extend(struct lvm_md *md, uint32_t lv, uint64_t add, uint32_t stripes,
		     uint32_t stripe_size, struct lvm_zero *zero, unsigned *n_zero,
		     unsigned zero_cap, char *err, size_t errlen);
int lvm_alloc_shrink(struct lvm_md *md, uint32_t lv, uint64_t le_count);
void lvm_md_lv_delete(struct lvm_md *md, uint32_t lv);

#endif /* LVM_INTERNAL_H */
