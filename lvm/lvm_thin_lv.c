/* lvm_thin_lv.c — lvcreate --thinpool / -V --thin / -s, lvremove and
 * lvextend of thin pools and thin LVs (control thread).
 *
 * Two metadata sets change together here, the VG's and the pool's, and a
 * crash may come between their commits. The order keeps the pool's a
 * superset: a new thin device (or snapshot) is committed to the pool before
 * the VG names it; a removed one leaves the VG before the pool forgets it.
 * A device the VG does not name is freed when the pool is next opened
 * (lvm_thin.c, pool_open), so the crash leaks nothing for long and never
 * leaves an LV without its device. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvm_internal.h"
#include "lvm_thin_meta.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(lvm_thin_lv);

enum { ZERO_CAP = 256 };

static uint64_t bytes_to_le(const struct lvm_md *md, uint64_t size)
{
	return size / md->extent_size + (size % md->extent_size != 0);
}

static int changeable(const struct lvm_vg *vg, char *err, size_t errlen)
{
	if (vg->broken || vg->partial)
		return lvm_errf(err, errlen, vg->broken ? -EIO : -EROFS,
				"VG %s refuses changes (%s)", vg->md->vg_name,
				vg->broken ? "a metadata write failed" : "partial");
	return 0;
}

static void new_entry(struct lvm_md *md, uint32_t i, const char *name, uint32_t kind)
{
	memset(&md->lvs[i], 0, sizeof(md->lvs[i]));
	snprintf(md->lvs[i].name, LVM_NAME_MAX, "%s", name);
	lvm_uuid_gen(md->lvs[i].uuid);
	md->lvs[i].kind = kind;
	md->lvs[i].first_seg = md->n_segs;
}

int lvm_thin_pool_create(struct lvm_vg *vg, const struct lvm_lv_opts *o, char *err,
			 size_t errlen)
{
	const struct lvm_md *cur = vg->md;
	uint64_t cs = o->chunk_size ? o->chunk_size : LVM_THIN_CHUNK_DEFAULT;
	uint64_t data_le, meta_le, chunks, meta;
	char dn[LVM_NAME_MAX + 8], mn[LVM_NAME_MAX + 8];
	struct lvm_zero *zero = NULL, *scratch = NULL;
	unsigned nz = 0, ns = 0;
	struct lvm_md *md;
	uint32_t i;
	int ret = changeable(vg, err, errlen);

	if (ret)
		return ret;
	if (strlen(o->name) + sizeof(LVM_TDATA_SUFFIX) > LVM_NAME_MAX ||
	    strlen(cur->vg_name) + 1 + strlen(o->name) + strlen(LVM_TDATA_SUFFIX) >= BLK_NAME_MAX)
		return lvm_errf(err, errlen, -EINVAL, "thin pool name '%s' too long (its hidden LVs "
				"add %s)", o->name, LVM_TDATA_SUFFIX);
	if (o->stripes > 1)
		return lvm_errf(err, errlen, -EINVAL, "striped thin pools are not supported");
	if (!vsl_is_pow2(cs) || cs < LVM_THIN_CHUNK_MIN || cs > cur->extent_size)
		return lvm_errf(err, errlen, -EINVAL,
				"chunk size must be a power of two from 64K to the extent size (%llu)",
				(unsigned long long)cur->extent_size);
	if (cur->n_lvs + 3 > LVM_MAX_LVS)
		return lvm_errf(err, errlen, -ENOSPC, "VG %s has no room for 3 more LVs",
				cur->vg_name);
	snprintf(dn, sizeof(dn), "%s%s", o->name, LVM_TDATA_SUFFIX);
	snprintf(mn, sizeof(mn), "%s%s", o->name, LVM_TMETA_SUFFIX);
	if (lvm_md_lv_find(cur, dn) >= 0 || lvm_md_lv_find(cur, mn) >= 0)
		return lvm_errf(err, errlen, -EEXIST, "LV %s or %s exists", dn, mn);
	data_le = bytes_to_le(cur, o->size);
	chunks = data_le * (cur->extent_size / cs);
	if (chunks > LVM_THIN_CHUNKS_MAX)
		return lvm_errf(err, errlen, -EINVAL, "%llu chunks: use a bigger chunk size",
				(unsigned long long)chunks);
	/* Default: room for every chunk mapped twice (snapshots) plus devices. */
	meta = o->meta_size ? o->meta_size
			    : LVM_THIN_SLOT0 + 2 * (LVM_BLOCK + LVM_MAX_LVS * 8 + chunks * 2 * 16);
	if (meta > LVM_SIZE_MAX)
		return lvm_errf(err, errlen, -EINVAL, "bad pool metadata size");
	meta_le = bytes_to_le(cur, meta);
	if (lvm_thin_max_maps(lvm_thin_slot_size(meta_le * cur->extent_size), LVM_MAX_LVS) < 1)
		return lvm_errf(err, errlen, -EINVAL, "pool metadata size too small");
	md = lvm_md_clone(cur);
	zero = calloc(ZERO_CAP, sizeof(*zero));
	scratch = calloc(ZERO_CAP, sizeof(*scratch));
	if (!md || !zero || !scratch) {
		ret = -ENOMEM;
		goto out;
	}
	i = md->n_lvs;
	new_entry(md, i, o->name, LVM_LV_THIN_POOL);
	md->lvs[i].chunk_size = (uint32_t)cs;
	new_entry(md, i + 1, dn, LVM_LV_POOL_DATA);
	new_entry(md, i + 2, mn, LVM_LV_POOL_META);
	md->n_lvs += 3;
	/* The data LV is not zeroed: no chunk is ever read before it is
	 * written whole. The metadata LV is: a blank one means "format me". */
	ret = lvm_alloc_extend(md, i + 1, data_le, 1, 0, scratch, &ns, ZERO_CAP, err, errlen);
	if (!ret)
		ret = lvm_alloc_extend(md, i + 2, meta_le, 1, 0, zero, &nz, ZERO_CAP, err, errlen);
	if (ret)
		goto out;
	md->lvs[i].le_count = md->lvs[i + 1].le_count;
	{
		uint8_t uuid[16];

		memcpy(uuid, md->lvs[i].uuid, 16);
		ret = lvm_vg_commit(vg, md, zero, nz, err, errlen);
		md = NULL;
		if (!ret && !lvm_thin_pool_get(vg, uuid))
			ret = lvm_errf(err, errlen, -EIO, "thin pool %s created but its metadata "
				       "could not be written (see the log)", o->name);
	}
	if (!ret)
		VSL_INFO("thin pool %s/%s: %llu chunks of %llu KiB, metadata %llu KiB",
			 vg->md->vg_name, o->name, (unsigned long long)chunks,
			 (unsigned long long)(cs >> 10),
			 (unsigned long long)(meta_le * vg->md->extent_size >> 10));
out:
	lvm_md_free(md);
	free(zero);
	free(scratch);
	return ret;
}

int lvm_thin_lv_create(struct lvm_vg *vg, const struct lvm_lv_opts *o, char *err, size_t errlen)
{
	const struct lvm_md *cur = vg->md;
	const char *src = o->origin ? o->origin : o->thin_pool;
	int k = lvm_md_lv_find(cur, src), pk;
	struct lvm_thin_pool *p;
	uint32_t id, origin = 0, i;
	uint64_t le;
	struct lvm_md *md;
	int ret = changeable(vg, err, errlen);

	if (ret)
		return ret;
	if (k < 0)
		return lvm_errf(err, errlen, -ENOENT, "no LV %s/%s", cur->vg_name, src);
	if (o->origin && cur->lvs[k].kind != LVM_LV_THIN)
		return lvm_errf(err, errlen, -EINVAL,
				"%s/%s is not a thin LV (snapshots are of thin LVs)", cur->vg_name, src);
	if (!o->origin && cur->lvs[k].kind != LVM_LV_THIN_POOL)
		return lvm_errf(err, errlen, -EINVAL, "%s/%s is not a thin pool", cur->vg_name, src);
	pk = o->origin ? lvm_md_lv_find_uuid(cur, cur->lvs[k].link) : k;
	p = pk >= 0 ? lvm_thin_pool_get(vg, cur->lvs[pk].uuid) : NULL;
	if (!p)
		return lvm_errf(err, errlen, -EIO, "thin pool of %s/%s is not active", cur->vg_name,
				src);
	if (o->origin) {
		le = cur->lvs[k].le_count;
		origin = cur->lvs[k].thin_id;
	} else {
		le = bytes_to_le(cur, o->size);
	}
	if (le > LVM_SIZE_MAX / cur->extent_size)
		return lvm_errf(err, errlen, -EINVAL, "bad LV size");
	id = lvm_thin_next_id(p, cur);
	if (id > LVM_THIN_ID_MAX)
		return lvm_errf(err, errlen, -ENOSPC, "thin pool %s: out of device ids",
				cur->lvs[pk].name);
	{
		uint64_t nvc = le * (cur->extent_size / lvm_thin_chunk_size(p));

		ret = o->origin ? lvm_thin_dev_snapshot(p, origin, id, nvc)
				: lvm_thin_dev_create(p, id, nvc);
	}
	if (ret)
		return lvm_errf(err, errlen, ret, "thin pool %s: %s", cur->lvs[pk].name,
				ret == -ENOSPC ? "metadata full" : strerror(-ret));
	/* The pool names the device before the VG does. */
	ret = lvm_thin_commit(p);
	if (ret) {
		lvm_thin_dev_delete(p, id);
		return lvm_errf(err, errlen, ret, "thin pool %s: metadata commit failed: %s",
				cur->lvs[pk].name, strerror(-ret));
	}
	md = lvm_md_clone(cur);
	if (!md) {
		lvm_thin_dev_delete(p, id);
		return -ENOMEM;
	}
	i = md->n_lvs++;
	new_entry(md, i, o->name, LVM_LV_THIN);
	md->lvs[i].le_count = le;
	md->lvs[i].thin_id = id;
	md->lvs[i].origin_id = origin;
	memcpy(md->lvs[i].link, cur->lvs[pk].uuid, 16);
	ret = lvm_vg_commit(vg, md, NULL, 0, err, errlen);
	if (ret && lvm_md_lv_find(vg->md, o->name) < 0) {
		/* Freed now in memory; on disk at the next commit or opening. */
		lvm_thin_dev_delete(p, id);
	}
	return ret;
}

int lvm_thin_remove(struct lvm_vg *vg, uint32_t i, char *err, size_t errlen)
{
	struct lvm_lv_md l = vg->md->lvs[i];
	struct lvm_md *md;
	int ret = changeable(vg, err, errlen);

	if (ret)
		return ret;
	if (l.kind == LVM_LV_POOL_DATA || l.kind == LVM_LV_POOL_META)
		return lvm_errf(err, errlen, -EINVAL, "%s/%s is part of a thin pool: remove the pool",
				vg->md->vg_name, l.name);
	if (l.kind == LVM_LV_THIN) {
		struct lvm_thin_pool *p = lvm_thin_pool_get(vg, l.link);

		md = lvm_md_clone(vg->md);
		if (!md)
			return -ENOMEM;
		lvm_md_lv_delete(md, i);
		/* The VG forgets the LV before the pool frees its chunks. */
		ret = lvm_vg_commit(vg, md, NULL, 0, err, errlen);
		if (ret || !p)
			return ret;
		lvm_thin_dev_delete(p, l.thin_id);
		ret = lvm_thin_commit(p);
		if (ret)
			VSL_WARN("thin pool of %s: commit after removing %s failed (%s): its chunks are "
				 "freed when the pool is next opened", vg->md->vg_name, l.name,
				 strerror(-ret));
		return 0;
	}
	/* A pool: only without thin LVs, and its hidden LVs unused. */
	for (uint32_t k = 0; k < vg->md->n_lvs; k++)
		if (vg->md->lvs[k].kind == LVM_LV_THIN && !memcmp(vg->md->lvs[k].link, l.uuid, 16))
			return lvm_errf(err, errlen, -EBUSY, "thin pool %s/%s still has thin LV %s",
					vg->md->vg_name, l.name, vg->md->lvs[k].name);
	for (int sub = 0; sub < 2; sub++) {
		int k = lvm_md_pool_sub(vg->md, i, sub);
		struct lvm_lv *lv = k >= 0 ? lvm_lv_get(vg, vg->md->lvs[k].name) : NULL;

		if (lv && blk_bdev_refs(&lv->bdev))
			return lvm_errf(err, errlen, -EBUSY, "LV %s is open", lv->bdev.name);
	}
	md = lvm_md_clone(vg->md);
	if (!md)
		return -ENOMEM;
	for (int sub = 1; sub >= 0; sub--) {
		int k = lvm_md_pool_sub(md, lvm_md_lv_find(md, l.name), sub);

		if (k >= 0)
			lvm_md_lv_delete(md, (uint32_t)k);
	}
	lvm_md_lv_delete(md, (uint32_t)lvm_md_lv_find(md, l.name));
	return lvm_vg_commit(vg, md, NULL, 0, err, errlen);
}

int lvm_thin_resize(struct lvm_vg *vg, uint32_t i, uint64_t size, char *err, size_t errlen)
{
	const struct lvm_lv_md *l = &vg->md->lvs[i];
	uint64_t le = bytes_to_le(vg->md, size);
	struct lvm_md *md;
	int ret = changeable(vg, err, errlen);

	if (ret)
		return ret;
	if (l->kind == LVM_LV_POOL_DATA || l->kind == LVM_LV_POOL_META)
		return lvm_errf(err, errlen, -EINVAL, "%s/%s is part of a thin pool: resize the pool",
				vg->md->vg_name, l->name);
	if (le < l->le_count)
		return lvm_errf(err, errlen, -ENOTSUP, "%s/%s: thin pools and thin LVs only grow",
				vg->md->vg_name, l->name);
	if (le == l->le_count)
		return 0;
	md = lvm_md_clone(vg->md);
	if (!md)
		return -ENOMEM;
	if (l->kind == LVM_LV_THIN) {
		md->lvs[i].le_count = le;    /* over-commit: no extents */
	} else {
		struct lvm_zero *scratch = calloc(ZERO_CAP, sizeof(*scratch));
		int d = lvm_md_pool_sub(md, i, false);
		unsigned ns = 0;

		if (!scratch || d < 0) {
			free(scratch);
			lvm_md_free(md);
			return scratch ? -EIO : -ENOMEM;
		}
		ret = lvm_alloc_extend(md, (uint32_t)d, le - l->le_count, 1, 0, scratch, &ns,
				       ZERO_CAP, err, errlen);
		free(scratch);
		if (ret) {
			lvm_md_free(md);
			return ret;
		}
		md->lvs[i].le_count = md->lvs[d].le_count;
	}
	return lvm_vg_commit(vg, md, NULL, 0, err, errlen);
}
