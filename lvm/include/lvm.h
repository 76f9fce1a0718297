/* lvm.h — physical volumes, volume groups and logical volumes (liblvm).
 *
 * A physical volume (PV) is any bdev with an LVM label (lvm_meta.h has the
 * on-disk layout). A volume group (VG) pools PVs into extents (default 4 MiB)
 * and is registered as a bdev of type "lvm-vg" named after the VG: it holds
 * the claim "lvm:VG" on every PV, refuses all I/O, and exists so that the
 * bdev graph shows what depends on what (its LVs stack on it). A logical
 * volume (LV) is a bdev of type "lvm" named "VG-LV" (VG names never contain
 * '-', so the split is unique): linear (extents from one or more PVs, split at
 * segment boundaries) or striped (stripes x stripe_size across PVs).
 *
 * Metadata discipline: every change builds a new copy of the VG metadata,
 * checks it with the parser's own rules (lvm_md_check()), zeroes newly
 * allocated extents (data before metadata: a new extent reads zeroes even if
 * another LV's data was there), then commits it to every PV as an explicit
 * state machine (ZERO -> WRITE -> FLUSH -> DONE, see lvm_vg.c). A refused
 * change writes nothing. A failed commit leaves the VG read-only ("broken")
 * until it is activated again, which picks the newest valid copy on disk.
 *
 * Threads: every function here runs on the control thread and waits for its
 * I/O (done on reactor 0, or by the calling thread when it drives a reactor,
 * as unit tests do). LV data-path I/O runs on any reactor; lvextend publishes
 * a new extent map atomically, so it is safe while I/O runs.
 *
 * Errors: -errno; where `err` is taken, a refusal is explained there.
 */
#ifndef LVM_H
#define LVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "lvm_meta.h"

struct lvm_vg;

/* Writes a PV label on bdev (and wipes both metadata slots). Refused with
 * -EBUSY when the bdev is claimed or already belongs to a VG, -EINVAL when it
 * is too small (under 1 MiB + 64 KiB) or its block size exceeds 4 KiB. */
int lvm_pv_create(const char *bdev, char *err, size_t errlen);
/* Appends a JSON object per PV (of active VGs, then unclaimed labelled bdevs)
 * to arr: pv, vg, size, pe_size, pe_count, pe_free, uuid, missing. */
int lvm_pv_list(struct json_object *arr);

/* Creates a VG on the PVs (unlabelled bdevs get a label first). extent_size
 * 0: 4 MiB. Returns 0 and *out (may be NULL). */
int lvm_vg_create(const char *name, const char *const *pvs, unsigned n, uint64_t extent_size,
		  struct lvm_vg **out, char *err, size_t errlen);
/* Activates a VG from its PVs: the newest valid metadata wins, PVs with
 * older copies are brought up to date. A PV the metadata lists but that is
 * not among pvs is missing: -ENODEV naming it, unless partial (then LVs with
 * extents on it are not registered and the VG refuses changes). */
int lvm_vg_activate(const char *name, const char *const *pvs, unsigned n, bool partial,
		    struct lvm_vg **out, char *err, size_t errlen);
int lvm_vg_extend(struct lvm_vg *vg, const char *bdev, char *err, size_t errlen);
/* Removes an empty PV from the VG (its metadata slots are wiped). */
int lvm_vg_reduce(struct lvm_vg *vg, const char *bdev, char *err, size_t errlen);
/* Removes a VG without LVs: wipes the metadata on every PV (labels stay). */
int lvm_vg_remove(struct lvm_vg *vg, char *err, size_t errlen);
/* Deactivates (closes) a VG without LVs open; nothing is written. */
int lvm_vg_deactivate(struct lvm_vg *vg, char *err, size_t errlen);

struct lvm_vg *lvm_vg_find(const char *name);
struct lvm_vg *lvm_vg_next(const struct lvm_vg *vg);   /* NULL: first */
const char *lvm_vg_name(const struct lvm_vg *vg);
/* vgs row: name, uuid, seq, extent_size, pv_count, lv_count, size, free,
 * partial, broken, pvs [...]. */
void lvm_vg_status(const struct lvm_vg *vg, struct json_object *out);
/* The vg-activate call that re-activates vg, for save-config. */
struct json_object *lvm_vg_config(const struct lvm_vg *vg);

/* lvm_lv_create() makes, by the fields set:
 *   thin_pool == NULL, origin == NULL, !pool: a linear or striped LV of size;
 *   pool: a thin pool of size bytes of data (hidden LV NAME_tdata) with
 *     chunk_size (0: 64 KiB) and a metadata LV NAME_tmeta of meta_size bytes
 *     (0: enough for every chunk mapped twice);
 *   thin_pool: a thin LV of virtual size bytes in that pool (over-commit
 *     allowed; rounded up to extents);
 *   origin: a snapshot of thin LV origin (same pool, same size). */
struct lvm_lv_opts {
	const char *name;
	uint64_t size;             /* bytes, rounded up to whole extents (x stripes) */
	uint32_t stripes;          /* 0 or 1: linear */
	uint32_t stripe_size;      /* bytes; 0: 64 KiB */
	bool pool;
	uint32_t chunk_size;
	uint64_t meta_size;
	const char *thin_pool;
	const char *origin;
};
int lvm_lv_create(struct lvm_vg *vg, const struct lvm_lv_opts *o, char *err, size_t errlen);
/* Grows (online) or, with force, shrinks an LV to size bytes (rounded up to
 * extents). Shrinking an open LV is refused with -EBUSY. */
int lvm_lv_resize(struct lvm_vg *vg, const char *lv, uint64_t size, bool force, char *err,
		  size_t errlen);
/* Renames an LV that no one has open (its bdev is registered anew). */
int lvm_lv_rename(struct lvm_vg *vg, const char *lv, const char *new_name, char *err,
		  size_t errlen);
/* Removes an LV that no one has open. */
int lvm_lv_remove(struct lvm_vg *vg, const char *lv, char *err, size_t errlen);
/* Appends a JSON object per LV of vg to arr: lv, vg, bdev, size, extents,
 * stripes, stripe_size, segments, active, type (linear, striped, thin-pool,
 * thin, thin-pool-data, thin-pool-metadata); pools add data_percent,
 * metadata_percent, chunk_size, low_water...; thin LVs add pool, origin,
 * data_percent, mapped_chunks. */
void lvm_lv_list(const struct lvm_vg *vg, struct json_object *arr);

#endif /* LVM_H */
