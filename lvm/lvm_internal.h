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
	uint32_t extent_shift;                  /* log2(extent_size) */
	uint32_t n_segs;
	uint64_t pv_mask;                       /* PVs the segments use (flush) */
	struct blk_bdev *pv[LVM_MAX_PVS];
	struct lvm_map *retired;
	struct lvm_seg_md segs[];
};

struct lvm_thin_pool;
struct lvm_thin_dev;

struct lvm_lv {
	struct blk_bdev bdev;                   /* "VG-LV", type "lvm" */
	struct lvm_thin_pool *pool;             /* thin LVs: their pool and device */
	struct lvm_thin_dev *thin;
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
	struct lvm_thin_pool *pools;            /* open thin pools (control thread) */
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
/* The message for a refused claim on bdev `name` (-ENOENT or -EBUSY: who
 * holds it); returns ret. */
int lvm_in_use_err(const char *name, int ret, char *err, size_t errlen);
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
/* The registered LV bdev called name (LV name), or NULL. */
struct lvm_lv *lvm_lv_get(struct lvm_vg *vg, const char *name);

/* lvm_thin.c: thin pools (control thread unless said otherwise). */
/* Data path of a thin LV (any reactor). */
int lvm_thin_submit(struct blk_io *io);
/* open false: frees pools no longer in vg->md; true: opens pools of vg->md
 * not open yet (their _tdata/_tmeta LVs registered) and grows open ones to
 * their data LV. Returns 0 or the first -errno. */
int lvm_thin_pools_sync(struct lvm_vg *vg, bool open);
void lvm_thin_pools_free(struct lvm_vg *vg);
struct lvm_thin_pool *lvm_thin_pool_get(struct lvm_vg *vg, const uint8_t *uuid);
struct lvm_thin_pool *lvm_thin_pool_next(const struct lvm_thin_pool *p);
/* Commits the pool's mapping (data flush, checkpoint, superblock). */
int lvm_thin_commit(struct lvm_thin_pool *p);
/* A commit for a clean stop: also when nothing changed, and ending the log
 * with a clean-stop record (the next open needs no recovery). */
int lvm_thin_commit_clean(struct lvm_thin_pool *p);
/* Mapped or freed anything since the last commit? */
bool lvm_thin_pool_dirty(struct lvm_thin_pool *p);
uint32_t lvm_thin_chunk_size(const struct lvm_thin_pool *p);
uint32_t lvm_thin_next_id(struct lvm_thin_pool *p, const struct lvm_md *md);
struct lvm_thin_dev *lvm_thin_dev_get(struct lvm_thin_pool *p, uint32_t id);
int lvm_thin_dev_create(struct lvm_thin_pool *p, uint32_t id, uint64_t nvc);
/* Shares every chunk of origin with a new device id (waits for writes to
 * origin in flight; new ones wait for it). */
int lvm_thin_dev_snapshot(struct lvm_thin_pool *p, uint32_t origin, uint32_t id, uint64_t nvc);
/* Unmaps everything of device id and forgets it (no I/O: commit after). */
int lvm_thin_dev_delete(struct lvm_thin_pool *p, uint32_t id);
int lvm_thin_dev_resize(struct lvm_thin_pool *p, struct lvm_thin_dev *d, uint64_t nvc);
/* Unmaps device id's chunks from virtual chunk nvc on (no I/O: commit after). */
int lvm_thin_dev_truncate(struct lvm_thin_pool *p, uint32_t id, uint64_t nvc);
void lvm_thin_pool_status(struct lvm_thin_pool *p, struct json_object *o);
void lvm_thin_dev_status(struct lvm_thin_pool *p, uint32_t id, uint64_t size,
			 struct json_object *o);
/* lvcreate --thinpool / -V --thin / -s, lvremove and lvextend of thin kinds. */
int lvm_thin_pool_create(struct lvm_vg *vg, const struct lvm_lv_opts *o, char *err,
			 size_t errlen);
int lvm_thin_lv_create(struct lvm_vg *vg, const struct lvm_lv_opts *o, char *err, size_t errlen);
int lvm_thin_remove(struct lvm_vg *vg, uint32_t i, char *err, size_t errlen);
/* Grows a pool or a thin LV; shrinks a thin LV nobody has open with force. */
int lvm_thin_resize(struct lvm_vg *vg, uint32_t i, uint64_t size, bool force, char *err,
		    size_t errlen);

/* lvm_alloc.c: allocation over md (pure). */
int lvm_alloc_extend(struct lvm_md *md, uint32_t lv, uint64_t add, uint32_t stripes,
		     uint32_t stripe_size, struct lvm_zero *zero, unsigned *n_zero,
		     unsigned zero_cap, char *err, size_t errlen);
int lvm_alloc_shrink(struct lvm_md *md, uint32_t lv, uint64_t le_count);
void lvm_md_lv_delete(struct lvm_md *md, uint32_t lv);

#endif /* LVM_INTERNAL_H */
