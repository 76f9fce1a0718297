/* lvm_alloc.c — extent allocation over a VG's metadata (pure: no I/O).
 *
 * Linear LVs take free runs first-fit, PV by PV in VG order, and a run that
 * continues the LV's last segment on the same PV extends that segment.
 * Striped LVs take one contiguous run of add/stripes extents on each of
 * `stripes` distinct PVs (first fit) and get one new segment. Every run
 * handed out is reported in `zero` so the caller zeroes it before the
 * metadata that maps it is committed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvm_internal.h"

static int seg_insert(struct lvm_md *md, uint32_t lv, struct lvm_seg_md *seg)
{
	uint32_t pos = md->lvs[lv].first_seg + md->lvs[lv].n_segs;

	if (md->n_segs >= LVM_MAX_SEGS)
		return -ENOSPC;
	memmove(&md->segs[pos + 1], &md->segs[pos], (md->n_segs - pos) * sizeof(*md->segs));
	md->segs[pos] = *seg;
	md->n_segs++;
	md->lvs[lv].n_segs++;
	for (uint32_t i = lv + 1; i < md->n_lvs; i++)
		md->lvs[i].first_seg++;
	return 0;
}

static void seg_remove(struct lvm_md *md, uint32_t lv, uint32_t pos)
{
	memmove(&md->segs[pos], &md->segs[pos + 1], (md->n_segs - pos - 1) * sizeof(*md->segs));
	md->n_segs--;
	memset(&md->segs[md->n_segs], 0, sizeof(*md->segs));
	md->lvs[lv].n_segs--;
	for (uint32_t i = lv + 1; i < md->n_lvs; i++)
		md->lvs[i].first_seg--;
}

/* First free run on PV pv of at least `min` extents (0: any), from `from`.
 * Returns its start and length in *len, or false. */
static bool free_run(const uint8_t *used, uint64_t pe_count, uint64_t min, uint64_t *start,
		     uint64_t *len)
{
	uint64_t e = 0;

	while (e < pe_count) {
		uint64_t s;

		while (e < pe_count && (used[e / 8] & (1u << (e % 8))))
			e++;
		s = e;
		while (e < pe_count && !(used[e / 8] & (1u << (e % 8))))
			e++;
		if (e > s && e - s >= (min ? min : 1)) {
			*start = s;
			*len = e - s;
			return true;
		}
	}
	return false;
}

static int add_zero(struct lvm_zero *zero, unsigned *n_zero, unsigned cap, uint32_t pv,
		    uint64_t start, uint64_t count)
{
	if (*n_zero >= cap)
		return -ENOSPC;
	zero[(*n_zero)++] = (struct lvm_zero){ pv, start, count };
	return 0;
}

static void mark(uint8_t *used, uint64_t start, uint64_t count)
{
	for (uint64_t e = start; e < start + count; e++)
		used[e / 8] |= (uint8_t)(1u << (e % 8));
}

int lvm_alloc_extend(struct lvm_md *md, uint32_t lv, uint64_t add, uint32_t stripes,
		     uint32_t stripe_size, struct lvm_zero *zero, unsigned *n_zero,
		     unsigned zero_cap, char *err, size_t errlen)
{
	uint8_t *used[LVM_MAX_PVS] = { 0 };
	uint64_t avail = 0;
	int ret = 0;

	if (stripes < 1 || stripes > LVM_MAX_STRIPES || add % stripes)
		return lvm_errf(err, errlen, -EINVAL, "bad stripe count %u", stripes);
	if (stripes > md->n_pvs)
		return lvm_errf(err, errlen, -EINVAL, "%u stripes need %u PVs; the VG has %u",
				stripes, stripes, md->n_pvs);
	for (uint32_t p = 0; p < md->n_pvs; p++) {
		used[p] = malloc(md->pvs[p].pe_count / 8 + 1);
		if (!used[p]) {
			ret = -ENOMEM;
			goto out;
		}
		lvm_md_pv_used(md, p, used[p]);
		avail += lvm_md_pv_free(md, p);
	}
	if (avail < add) {
		ret = lvm_errf(err, errlen, -ENOSPC,
			       "VG %s has %llu free extents; %llu needed", md->vg_name,
			       (unsigned long long)avail, (unsigned long long)add);
		goto out;
	}
	if (stripes == 1) {
		uint64_t left = add;

		for (uint32_t p = 0; p < md->n_pvs && left; p++) {
			uint64_t s, n;

			while (left && free_run(used[p], md->pvs[p].pe_count, 0, &s, &n)) {
				struct lvm_lv_md *l = &md->lvs[lv];
				struct lvm_seg_md *last = l->n_segs ? &md->segs[l->first_seg + l->n_segs - 1]
								    : NULL;

				n = n < left ? n : left;
				mark(used[p], s, n);
				ret = add_zero(zero, n_zero, zero_cap, p, s, n);
				if (ret)
					goto nospc;
				if (last && last->stripes == 1 && last->area[0].pv == p &&
				    last->area[0].pe_start + last->le_count == s) {
					last->le_count += n;
				} else {
					struct lvm_seg_md seg = { .le_start = l->le_count, .le_count = n,
								  .stripes = 1 };

					seg.area[0].pv = p;
					seg.area[0].pe_start = s;
					ret = seg_insert(md, lv, &seg);
					if (ret)
						goto nospc;
				}
				l->le_count += n;
				left -= n;
			}
		}
		if (left)
			ret = lvm_errf(err, errlen, -ENOSPC, "not enough free extents");
	} else {
		uint64_t k = add / stripes;
		struct lvm_seg_md seg = { .le_start = md->lvs[lv].le_count, .le_count = add,
					  .stripes = stripes, .stripe_size = stripe_size };
		uint32_t got = 0;

		for (uint32_t p = 0; p < md->n_pvs && got < stripes; p++) {
			uint64_t s, n;

			if (!free_run(used[p], md->pvs[p].pe_count, k, &s, &n))
				continue;
			seg.area[got].pv = p;
			seg.area[got].pe_start = s;
			got++;
		}
		if (got < stripes) {
			ret = lvm_errf(err, errlen, -ENOSPC,
				       "no %u PVs with %llu contiguous free extents each", stripes,
				       (unsigned long long)k);
			goto out;
		}
		for (uint32_t a = 0; a < stripes; a++) {
			ret = add_zero(zero, n_zero, zero_cap, seg.area[a].pv, seg.area[a].pe_start, k);
			if (ret)
				goto nospc;
		}
		ret = seg_insert(md, lv, &seg);
		if (ret)
			goto nospc;
		md->lvs[lv].le_count += add;
	}
	goto out;
nospc:
	ret = lvm_errf(err, errlen, -ENOSPC, "too many segments");
out:
	for (uint32_t p = 0; p < md->n_pvs; p++)
		free(used[p]);
	return ret;
}

int lvm_alloc_shrink(struct lvm_md *md, uint32_t lv, uint64_t le_count)
{
	struct lvm_lv_md *l = &md->lvs[lv];

	while (l->n_segs) {
		uint32_t pos = l->first_seg + l->n_segs - 1;
		struct lvm_seg_md *s = &md->segs[pos];

		if (s->le_start >= le_count) {
			seg_remove(md, lv, pos);
			continue;
		}
		if (s->le_start + s->le_count > le_count) {
			uint64_t keep = le_count - s->le_start;

			if (keep % s->stripes)
				return -EINVAL;
			s->le_count = keep;
		}
		break;
	}
	l->le_count = le_count;
	return 0;
}

void lvm_md_lv_delete(struct lvm_md *md, uint32_t lv)
{
	lvm_alloc_shrink(md, lv, 0);
	memmove(&md->lvs[lv], &md->lvs[lv + 1], (md->n_lvs - lv - 1) * sizeof(*md->lvs));
	md->n_lvs--;
	memset(&md->lvs[md->n_lvs], 0, sizeof(*md->lvs));
}
