/* lvm_meta.c — PV label and VG metadata encode, decode and validation (see
 * lvm_meta.h). Pure: no I/O, no global state. */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvm_meta.h"
#include "vsl_crc32c.h"
#include "vsl_util.h"

static bool name_chars_ok(const char *name, bool dash)
{
	size_t n = strnlen(name, LVM_NAME_MAX);

	if (n == 0 || n >= LVM_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || (dash && c == '-')))
			return false;
	}
	return true;
}

bool lvm_vg_name_valid(const char *name)
{
	return name && name_chars_ok(name, false);
}

bool lvm_lv_name_valid(const char *name)
{
	return name && name_chars_ok(name, true);
}

/* A fixed-size name field: valid, NUL-terminated, zero after the NUL. */
static bool name_field_ok(const char *f, bool lv)
{
	size_t n = strnlen(f, LVM_NAME_MAX);

	if (n >= LVM_NAME_MAX)
		return false;
	for (size_t i = n; i < LVM_NAME_MAX; i++)
		if (f[i])
			return false;
	return lv ? lvm_lv_name_valid(f) : lvm_vg_name_valid(f);
}

static bool uuid_zero(const uint8_t *u)
{
	for (int i = 0; i < 16; i++)
		if (u[i])
			return false;
	return true;
}

/* ------------------------------------------------------------- tables */

struct lvm_md *lvm_md_alloc(void)
{
	struct lvm_md *md = calloc(1, sizeof(*md));

	if (!md)
		return NULL;
	md->pvs = calloc(LVM_MAX_PVS, sizeof(*md->pvs));
	md->lvs = calloc(LVM_MAX_LVS, sizeof(*md->lvs));
	md->segs = calloc(LVM_MAX_SEGS, sizeof(*md->segs));
	if (!md->pvs || !md->lvs || !md->segs) {
		lvm_md_free(md);
		return NULL;
	}
	return md;
}

void lvm_md_free(struct lvm_md *md)
{
	if (!md)
		return;
	free(md->pvs);
	free(md->lvs);
	free(md->segs);
	free(md);
}

struct lvm_md *lvm_md_clone(const struct lvm_md *md)
{
	struct lvm_md *c = lvm_md_alloc();

	if (!c)
		return NULL;
	c->seq = md->seq;
	memcpy(c->vg_uuid, md->vg_uuid, 16);
	memcpy(c->vg_name, md->vg_name, LVM_NAME_MAX);
	c->extent_size = md->extent_size;
	c->n_pvs = md->n_pvs;
	c->n_lvs = md->n_lvs;
	c->n_segs = md->n_segs;
	memcpy(c->pvs, md->pvs, sizeof(*md->pvs) * LVM_MAX_PVS);
	memcpy(c->lvs, md->lvs, sizeof(*md->lvs) * LVM_MAX_LVS);
	memcpy(c->segs, md->segs, sizeof(*md->segs) * LVM_MAX_SEGS);
	return c;
}

int lvm_md_lv_find(const struct lvm_md *md, const char *name)
{
	for (uint32_t i = 0; i < md->n_lvs; i++)
		if (!strcmp(md->lvs[i].name, name))
			return (int)i;
	return -1;
}

int lvm_md_lv_find_uuid(const struct lvm_md *md, const uint8_t *uuid)
{
	for (uint32_t i = 0; i < md->n_lvs; i++)
		if (!memcmp(md->lvs[i].uuid, uuid, 16))
			return (int)i;
	return -1;
}

int lvm_md_pool_sub(const struct lvm_md *md, uint32_t pool, bool meta)
{
	char n[LVM_NAME_MAX + 8];

	snprintf(n, sizeof(n), "%s%s", md->lvs[pool].name, meta ? LVM_TMETA_SUFFIX : LVM_TDATA_SUFFIX);
	return lvm_md_lv_find(md, n);
}

/* Thin kinds: the cross-references between a pool, its hidden LVs and its
 * thin volumes. */
static int check_thin(const struct lvm_md *md, uint32_t i, char *err, size_t errlen)
{
	const struct lvm_lv_md *lv = &md->lvs[i];
	static const uint8_t zero[16];
	size_t n = strlen(lv->name);
	int k;

	switch (lv->kind) {
	case LVM_LV_LINEAR:
		if (lv->thin_id || lv->origin_id || lv->chunk_size || memcmp(lv->link, zero, 16))
			return vsl_errf(err, errlen, -EINVAL, "LV %s: thin fields set on a linear LV",
					lv->name);
		return 0;
	case LVM_LV_THIN_POOL: {
		int d = lvm_md_pool_sub(md, i, false), m = lvm_md_pool_sub(md, i, true);

		if (lv->thin_id || lv->origin_id || memcmp(lv->link, zero, 16))
			return vsl_errf(err, errlen, -EINVAL, "thin pool %s: junk in unused fields",
					lv->name);
		if (!vsl_is_pow2(lv->chunk_size) || lv->chunk_size < LVM_THIN_CHUNK_MIN ||
		    lv->chunk_size > md->extent_size)
			return vsl_errf(err, errlen, -EINVAL, "thin pool %s: bad chunk size %u",
					lv->name, lv->chunk_size);
		if (n + sizeof(LVM_TDATA_SUFFIX) > LVM_NAME_MAX)
			return vsl_errf(err, errlen, -EINVAL, "thin pool %s: name too long", lv->name);
		if (d < 0 || m < 0 || md->lvs[d].kind != LVM_LV_POOL_DATA ||
		    md->lvs[m].kind != LVM_LV_POOL_META)
			return vsl_errf(err, errlen, -EINVAL, "thin pool %s: no data or metadata LV",
					lv->name);
		if (md->lvs[d].le_count != lv->le_count)
			return vsl_errf(err, errlen, -EINVAL, "thin pool %s: size is not its data LV's",
					lv->name);
		return 0;
	}
	case LVM_LV_POOL_DATA:
	case LVM_LV_POOL_META: {
		const char *suf = lv->kind == LVM_LV_POOL_DATA ? LVM_TDATA_SUFFIX : LVM_TMETA_SUFFIX;
		char pool[LVM_NAME_MAX];

		if (lv->thin_id || lv->origin_id || lv->chunk_size || memcmp(lv->link, zero, 16))
			return vsl_errf(err, errlen, -EINVAL, "LV %s: junk in unused fields", lv->name);
		if (n <= strlen(suf) || strcmp(lv->name + n - strlen(suf), suf))
			return vsl_errf(err, errlen, -EINVAL, "LV %s: hidden pool LV misnamed", lv->name);
		snprintf(pool, sizeof(pool), "%.*s", (int)(n - strlen(suf)), lv->name);
		k = lvm_md_lv_find(md, pool);
		if (k < 0 || md->lvs[k].kind != LVM_LV_THIN_POOL)
			return vsl_errf(err, errlen, -EINVAL, "LV %s: no thin pool %s", lv->name, pool);
		return 0;
	}
	case LVM_LV_THIN:
		if (lv->chunk_size)
			return vsl_errf(err, errlen, -EINVAL, "thin LV %s: junk in unused fields",
					lv->name);
		if (lv->thin_id == 0 || lv->thin_id > LVM_THIN_ID_MAX)
			return vsl_errf(err, errlen, -EINVAL, "thin LV %s: bad device id %u", lv->name,
					lv->thin_id);
		if (lv->origin_id > LVM_THIN_ID_MAX || lv->origin_id == lv->thin_id)
			return vsl_errf(err, errlen, -EINVAL, "thin LV %s: bad origin id %u", lv->name,
					lv->origin_id);
		k = lvm_md_lv_find_uuid(md, lv->link);
		if (k < 0 || md->lvs[k].kind != LVM_LV_THIN_POOL)
			return vsl_errf(err, errlen, -EINVAL, "thin LV %s: unknown pool", lv->name);
		for (uint32_t j = 0; j < i; j++)
			if (md->lvs[j].kind == LVM_LV_THIN && md->lvs[j].thin_id == lv->thin_id &&
			    !memcmp(md->lvs[j].link, lv->link, 16))
				return vsl_errf(err, errlen, -EINVAL, "thin LV %s: device id %u used twice",
						lv->name, lv->thin_id);
		return 0;
	default:
		return vsl_errf(err, errlen, -EINVAL, "LV %s: unknown kind %u", lv->name, lv->kind);
	}
}

static uint64_t area_len(const struct lvm_seg_md *s)
{
	return s->le_count / s->stripes;
}

void lvm_md_pv_used(const struct lvm_md *md, uint32_t pv, uint8_t *used)
{
	memset(used, 0, (md->pvs[pv].pe_count + 7) / 8);
	for (uint32_t i = 0; i < md->n_segs; i++) {
		const struct lvm_seg_md *s = &md->segs[i];

		for (uint32_t a = 0; a < s->stripes; a++) {
			if (s->area[a].pv != pv)
				continue;
			for (uint64_t e = 0; e < area_len(s); e++) {
				uint64_t pe = s->area[a].pe_start + e;

				if (pe < md->pvs[pv].pe_count)
					used[pe / 8] |= (uint8_t)(1u << (pe % 8));
			}
		}
	}
}

uint64_t lvm_md_pv_free(const struct lvm_md *md, uint32_t pv)
{
	uint64_t used = 0;

	for (uint32_t i = 0; i < md->n_segs; i++)
		for (uint32_t a = 0; a < md->segs[i].stripes; a++)
			if (md->segs[i].area[a].pv == pv)
				used += area_len(&md->segs[i]);
	return used > md->pvs[pv].pe_count ? 0 : md->pvs[pv].pe_count - used;
}

void lvm_seg_map(const struct lvm_seg_md *seg, uint64_t extent_size, uint64_t off,
		 uint32_t *pv, uint64_t *pv_off, uint64_t *max)
{
	if (seg->stripes == 1) {
		*pv = seg->area[0].pv;
		*pv_off = LVM_DATA_OFFSET + seg->area[0].pe_start * extent_size + off;
		*max = seg->le_count * extent_size - off;
		return;
	}
	uint64_t ss = seg->stripe_size, chunk = off / ss, in = off % ss;
	uint32_t a = (uint32_t)(chunk % seg->stripes);

	*pv = seg->area[a].pv;
	*pv_off = LVM_DATA_OFFSET + seg->area[a].pe_start * extent_size +
		  (chunk / seg->stripes) * ss + in;
	*max = ss - in;
}

/* ----------------------------------------------------------- checking */

struct span {
	uint64_t start, len;
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int check_overlap(const struct lvm_md *md, char *err, size_t errlen)
{
	struct span *sp = malloc(sizeof(*sp) * LVM_MAX_SEGS * LVM_MAX_STRIPES);
	int ret = 0;

	if (!sp)
		return -ENOMEM;
	for (uint32_t pv = 0; pv < md->n_pvs && !ret; pv++) {
		size_t n = 0;

		for (uint32_t i = 0; i < md->n_segs; i++)
			for (uint32_t a = 0; a < md->segs[i].stripes; a++)
				if (md->segs[i].area[a].pv == pv)
					sp[n++] = (struct span){ md->segs[i].area[a].pe_start,
								 area_len(&md->segs[i]) };
		qsort(sp, n, sizeof(*sp), span_cmp);
		for (size_t i = 1; i < n; i++)
			if (sp[i - 1].start + sp[i - 1].len > sp[i].start) {
				ret = vsl_errf(err, errlen, -EINVAL,
					   "overlapping segments on PV %u at extent %llu", pv,
					   (unsigned long long)sp[i].start);
				break;
			}
	}
	free(sp);
	return ret;
}

static int check_seg(const struct lvm_md *md, uint32_t i, char *err, size_t errlen)
{
	const struct lvm_seg_md *s = &md->segs[i];

	if (s->stripes < 1 || s->stripes > LVM_MAX_STRIPES)
		return vsl_errf(err, errlen, -EINVAL, "segment %u: %u stripes", i, s->stripes);
	if (s->le_count == 0 || s->le_count > LVM_SIZE_MAX / md->extent_size ||
	    s->le_count % s->stripes)
		return vsl_errf(err, errlen, -EINVAL, "segment %u: bad extent count %llu", i,
			    (unsigned long long)s->le_count);
	if (s->stripes == 1 ? s->stripe_size != 0
			    : (!vsl_is_pow2(s->stripe_size) || s->stripe_size < LVM_BLOCK ||
			       s->stripe_size > md->extent_size))
		return vsl_errf(err, errlen, -EINVAL, "segment %u: bad stripe size %u", i,
			    s->stripe_size);
	for (uint32_t a = 0; a < s->stripes; a++) {
		const struct lvm_area_md *ar = &s->area[a];

		if (ar->pv >= md->n_pvs)
			return vsl_errf(err, errlen, -EINVAL, "segment %u references unknown PV %u", i,
				    ar->pv);
		if (ar->pe_start >= md->pvs[ar->pv].pe_count ||
		    area_len(s) > md->pvs[ar->pv].pe_count - ar->pe_start)
			return vsl_errf(err, errlen, -EINVAL, "segment %u: extents past the end of PV %u",
				    i, ar->pv);
		for (uint32_t b = 0; b < a; b++)
			if (s->area[b].pv == ar->pv)
				return vsl_errf(err, errlen, -EINVAL,
					    "segment %u: two stripes on PV %u", i, ar->pv);
	}
	return 0;
}

int lvm_md_check(const struct lvm_md *md, char *err, size_t errlen)
{
	uint32_t next_seg = 0;
	int ret;

	if (!name_field_ok(md->vg_name, false))
		return vsl_errf(err, errlen, -EINVAL, "bad VG name");
	if (uuid_zero(md->vg_uuid))
		return vsl_errf(err, errlen, -EINVAL, "VG UUID is zero");
	if (!vsl_is_pow2(md->extent_size) || md->extent_size < LVM_EXTENT_MIN ||
	    md->extent_size > LVM_EXTENT_MAX)
		return vsl_errf(err, errlen, -EINVAL, "bad extent size %llu",
			    (unsigned long long)md->extent_size);
	if (md->n_pvs < 1 || md->n_pvs > LVM_MAX_PVS || md->n_lvs > LVM_MAX_LVS ||
	    md->n_segs > LVM_MAX_SEGS)
		return vsl_errf(err, errlen, -EINVAL, "table counts out of range");
	for (uint32_t i = 0; i < md->n_pvs; i++) {
		const struct lvm_pv_md *p = &md->pvs[i];

		if (uuid_zero(p->uuid))
			return vsl_errf(err, errlen, -EINVAL, "PV %u: zero UUID", i);
		for (uint32_t j = 0; j < i; j++)
			if (!memcmp(md->pvs[j].uuid, p->uuid, 16))
				return vsl_errf(err, errlen, -EINVAL, "PV %u listed twice", i);
		if (p->dev_size > LVM_SIZE_MAX || p->dev_size < LVM_DATA_OFFSET + md->extent_size)
			return vsl_errf(err, errlen, -EINVAL, "PV %u: bad size %llu", i,
				    (unsigned long long)p->dev_size);
		if (p->pe_count != (p->dev_size - LVM_DATA_OFFSET) / md->extent_size)
			return vsl_errf(err, errlen, -EINVAL, "PV %u: extent count does not match its size",
				    i);
		if (strnlen(p->name_hint, LVM_NAME_MAX) >= LVM_NAME_MAX)
			return vsl_errf(err, errlen, -EINVAL, "PV %u: bad name", i);
		for (size_t c = 0; p->name_hint[c]; c++)
			if ((unsigned char)p->name_hint[c] < 0x20 || p->name_hint[c] == 0x7f ||
			    p->name_hint[c] == '/')
				return vsl_errf(err, errlen, -EINVAL, "PV %u: bad name", i);
	}
	for (uint32_t i = 0; i < md->n_lvs; i++) {
		const struct lvm_lv_md *lv = &md->lvs[i];
		uint64_t le = 0;

		if (!name_field_ok(lv->name, true))
			return vsl_errf(err, errlen, -EINVAL, "LV %u: bad name", i);
		if (strlen(md->vg_name) + 1 + strlen(lv->name) >= LVM_NAME_MAX)
			return vsl_errf(err, errlen, -EINVAL, "LV %s: VG-LV name too long", lv->name);
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(md->lvs[j].name, lv->name))
				return vsl_errf(err, errlen, -EINVAL, "LV %s listed twice", lv->name);
		if (lv->le_count == 0 || lv->le_count > LVM_SIZE_MAX / md->extent_size)
			return vsl_errf(err, errlen, -EINVAL, "LV %s: bad size", lv->name);
		if (lv->kind > LVM_LV_KIND_MAX)
			return vsl_errf(err, errlen, -EINVAL, "LV %s: unknown kind %u", lv->name,
					lv->kind);
		if (uuid_zero(lv->uuid))
			return vsl_errf(err, errlen, -EINVAL, "LV %s: zero UUID", lv->name);
		for (uint32_t j = 0; j < i; j++)
			if (!memcmp(md->lvs[j].uuid, lv->uuid, 16))
				return vsl_errf(err, errlen, -EINVAL, "LV %s: UUID used twice", lv->name);
		if (lv->kind == LVM_LV_THIN_POOL || lv->kind == LVM_LV_THIN) {
			/* No segments of their own. */
			if (lv->n_segs || lv->first_seg != next_seg)
				return vsl_errf(err, errlen, -EINVAL, "LV %s: bad segment range",
						lv->name);
			continue;
		}
		if (lv->n_segs == 0 || lv->first_seg != next_seg || lv->n_segs > md->n_segs ||
		    lv->first_seg > md->n_segs - lv->n_segs)
			return vsl_errf(err, errlen, -EINVAL, "LV %s: bad segment range", lv->name);
		for (uint32_t s = lv->first_seg; s < lv->first_seg + lv->n_segs; s++) {
			ret = check_seg(md, s, err, errlen);
			if (ret)
				return ret;
			if (md->segs[s].le_start != le)
				return vsl_errf(err, errlen, -EINVAL, "LV %s: segments not contiguous",
					    lv->name);
			le += md->segs[s].le_count;
		}
		if (le != lv->le_count)
			return vsl_errf(err, errlen, -EINVAL, "LV %s: segments do not cover its size",
				    lv->name);
		next_seg += lv->n_segs;
	}
	if (next_seg != md->n_segs)
		return vsl_errf(err, errlen, -EINVAL, "segments owned by no LV");
	for (uint32_t i = 0; i < md->n_lvs; i++) {
		ret = check_thin(md, i, err, errlen);
		if (ret)
			return ret;
	}
	return check_overlap(md, err, errlen);
}

/* ----------------------------------------------------------- encoding */

size_t lvm_md_record_len(const struct lvm_md *md)
{
	size_t n = sizeof(struct lvm_disk_md_hdr) + md->n_pvs * sizeof(struct lvm_disk_pv) +
		   md->n_lvs * sizeof(struct lvm_disk_lv) + md->n_segs * sizeof(struct lvm_disk_seg);

	return (n + LVM_BLOCK - 1) / LVM_BLOCK * LVM_BLOCK;
}

size_t lvm_md_encode(const struct lvm_md *md, void *buf)
{
	unsigned char *p = buf;
	struct lvm_disk_md_hdr *h = buf;
	size_t len = lvm_md_record_len(md), off = sizeof(*h);

	memset(buf, 0, LVM_SLOT_SIZE);
	memcpy(h->magic, LVM_MD_MAGIC, 8);
	h->version = htole32(LVM_VERSION);
	h->seq = htole64(md->seq);
	h->len = htole32((uint32_t)len);
	h->n_pvs = htole32(md->n_pvs);
	h->n_lvs = htole32(md->n_lvs);
	h->n_segs = htole32(md->n_segs);
	memcpy(h->vg_uuid, md->vg_uuid, 16);
	memcpy(h->vg_name, md->vg_name, LVM_NAME_MAX);
	h->extent_size = htole64(md->extent_size);
	for (uint32_t i = 0; i < md->n_pvs; i++, off += sizeof(struct lvm_disk_pv)) {
		struct lvm_disk_pv *d = (void *)(p + off);

		memcpy(d->uuid, md->pvs[i].uuid, 16);
		d->dev_size = htole64(md->pvs[i].dev_size);
		d->pe_start = htole64(LVM_DATA_OFFSET);
		d->pe_count = htole64(md->pvs[i].pe_count);
		memcpy(d->name_hint, md->pvs[i].name_hint, LVM_NAME_MAX);
	}
	for (uint32_t i = 0; i < md->n_lvs; i++, off += sizeof(struct lvm_disk_lv)) {
		struct lvm_disk_lv *d = (void *)(p + off);

		memcpy(d->name, md->lvs[i].name, LVM_NAME_MAX);
		memcpy(d->uuid, md->lvs[i].uuid, 16);
		d->le_count = htole64(md->lvs[i].le_count);
		d->first_seg = htole32(md->lvs[i].first_seg);
		d->n_segs = htole32(md->lvs[i].n_segs);
		d->kind = htole32(md->lvs[i].kind);
		d->thin_id = htole32(md->lvs[i].thin_id);
		d->origin_id = htole32(md->lvs[i].origin_id);
		d->chunk_size = htole32(md->lvs[i].chunk_size);
		memcpy(d->link, md->lvs[i].link, 16);
	}
	for (uint32_t i = 0; i < md->n_segs; i++, off += sizeof(struct lvm_disk_seg)) {
		struct lvm_disk_seg *d = (void *)(p + off);
		const struct lvm_seg_md *s = &md->segs[i];

		d->le_start = htole64(s->le_start);
		d->le_count = htole64(s->le_count);
		d->stripes = htole32(s->stripes);
		d->stripe_size = htole32(s->stripe_size);
		for (uint32_t a = 0; a < s->stripes && a < LVM_MAX_STRIPES; a++) {
			d->area[a].pv = htole32(s->area[a].pv);
			d->area[a].pe_start = htole64(s->area[a].pe_start);
		}
	}
	h->crc = htole32(vsl_crc32c(0, buf, len));
	return len;
}

int lvm_md_decode(const void *buf, size_t len, struct lvm_md **out, char *err, size_t errlen)
{
	const unsigned char *p = buf;
	struct lvm_disk_md_hdr h;
	struct lvm_md *md;
	uint32_t rlen, crc;
	size_t off = sizeof(h), need;
	unsigned char *tmp;
	char why[160];
	int ret;

	*out = NULL;
	if (len < sizeof(h) || memcmp(p, LVM_MD_MAGIC, 8))
		return -ENODATA;
	memcpy(&h, p, sizeof(h));
	if (le32toh(h.version) != LVM_VERSION)
		return vsl_errf(err, errlen, -EBADMSG, "metadata version %u unknown",
			    le32toh(h.version));
	rlen = le32toh(h.len);
	if (rlen < LVM_BLOCK || rlen % LVM_BLOCK || rlen > LVM_SLOT_SIZE || rlen > len)
		return vsl_errf(err, errlen, -EBADMSG, "metadata length %u impossible", rlen);
	tmp = malloc(rlen);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, p, rlen);
	memset(tmp + offsetof(struct lvm_disk_md_hdr, crc), 0, 4);
	crc = vsl_crc32c(0, tmp, rlen);
	free(tmp);
	if (crc != le32toh(h.crc))
		return vsl_errf(err, errlen, -EBADMSG, "metadata CRC mismatch");
	if (le32toh(h.n_pvs) > LVM_MAX_PVS || le32toh(h.n_lvs) > LVM_MAX_LVS ||
	    le32toh(h.n_segs) > LVM_MAX_SEGS)
		return vsl_errf(err, errlen, -EBADMSG, "metadata table counts out of range");
	need = sizeof(h) + le32toh(h.n_pvs) * sizeof(struct lvm_disk_pv) +
	       le32toh(h.n_lvs) * sizeof(struct lvm_disk_lv) +
	       le32toh(h.n_segs) * sizeof(struct lvm_disk_seg);
	if (need > rlen)
		return vsl_errf(err, errlen, -EBADMSG, "metadata tables exceed the record");
	md = lvm_md_alloc();
	if (!md)
		return -ENOMEM;
	md->seq = le64toh(h.seq);
	memcpy(md->vg_uuid, h.vg_uuid, 16);
	memcpy(md->vg_name, h.vg_name, LVM_NAME_MAX);
	md->extent_size = le64toh(h.extent_size);
	md->n_pvs = le32toh(h.n_pvs);
	md->n_lvs = le32toh(h.n_lvs);
	md->n_segs = le32toh(h.n_segs);
	ret = -EBADMSG;
	for (uint32_t i = 0; i < md->n_pvs; i++, off += sizeof(struct lvm_disk_pv)) {
		struct lvm_disk_pv d;

		memcpy(&d, p + off, sizeof(d));
		memcpy(md->pvs[i].uuid, d.uuid, 16);
		md->pvs[i].dev_size = le64toh(d.dev_size);
		md->pvs[i].pe_count = le64toh(d.pe_count);
		memcpy(md->pvs[i].name_hint, d.name_hint, LVM_NAME_MAX);
		if (le64toh(d.pe_start) != LVM_DATA_OFFSET) {
			vsl_errf(err, errlen, ret, "PV %u: data offset is not 1 MiB", i);
			goto err_md;
		}
	}
	for (uint32_t i = 0; i < md->n_lvs; i++, off += sizeof(struct lvm_disk_lv)) {
		struct lvm_disk_lv d;

		memcpy(&d, p + off, sizeof(d));
		memcpy(md->lvs[i].name, d.name, LVM_NAME_MAX);
		memcpy(md->lvs[i].uuid, d.uuid, 16);
		md->lvs[i].le_count = le64toh(d.le_count);
		md->lvs[i].first_seg = le32toh(d.first_seg);
		md->lvs[i].n_segs = le32toh(d.n_segs);
		md->lvs[i].kind = le32toh(d.kind);
		md->lvs[i].thin_id = le32toh(d.thin_id);
		md->lvs[i].origin_id = le32toh(d.origin_id);
		md->lvs[i].chunk_size = le32toh(d.chunk_size);
		memcpy(md->lvs[i].link, d.link, 16);
	}
	for (uint32_t i = 0; i < md->n_segs; i++, off += sizeof(struct lvm_disk_seg)) {
		struct lvm_disk_seg d;
		struct lvm_seg_md *s = &md->segs[i];

		memcpy(&d, p + off, sizeof(d));
		s->le_start = le64toh(d.le_start);
		s->le_count = le64toh(d.le_count);
		s->stripes = le32toh(d.stripes);
		s->stripe_size = le32toh(d.stripe_size);
		for (uint32_t a = 0; a < LVM_MAX_STRIPES; a++) {
			s->area[a].pv = le32toh(d.area[a].pv);
			s->area[a].pe_start = le64toh(d.area[a].pe_start);
		}
	}
	ret = lvm_md_check(md, why, sizeof(why));
	if (ret == -ENOMEM)
		goto err_md;
	if (ret) {
		ret = vsl_errf(err, errlen, -EBADMSG, "impossible metadata: %s", why);
		goto err_md;
	}
	/* Unused stripe slots are zero on disk: one encoding per value. */
	for (uint32_t i = 0; i < md->n_segs; i++)
		for (uint32_t a = md->segs[i].stripes; a < LVM_MAX_STRIPES; a++)
			if (md->segs[i].area[a].pv || md->segs[i].area[a].pe_start) {
				ret = vsl_errf(err, errlen, -EBADMSG, "segment %u: junk in unused stripes",
					   i);
				goto err_md;
			}
	*out = md;
	return 0;

err_md:
	lvm_md_free(md);
	return ret;
}

/* -------------------------------------------------------------- label */

void lvm_label_encode(const struct lvm_label *l, void *block)
{
	struct lvm_disk_label d = { 0 };

	memset(block, 0, LVM_BLOCK);
	memcpy(d.magic, LVM_LABEL_MAGIC, 8);
	d.version = htole32(LVM_VERSION);
	memcpy(d.pv_uuid, l->pv_uuid, 16);
	d.dev_size = htole64(l->dev_size);
	d.slot_offset[0] = htole64(LVM_SLOT0_OFFSET);
	d.slot_offset[1] = htole64(LVM_SLOT0_OFFSET + LVM_SLOT_SIZE);
	d.slot_size = htole32(LVM_SLOT_SIZE);
	d.data_offset = htole64(LVM_DATA_OFFSET);
	memcpy(block, &d, sizeof(d));
	d.crc = htole32(vsl_crc32c(0, block, LVM_BLOCK));
	memcpy(block, &d, sizeof(d));
}

int lvm_label_decode(const void *block, size_t len, struct lvm_label *out, char *err,
		     size_t errlen)
{
	unsigned char tmp[LVM_BLOCK];
	struct lvm_disk_label d;

	if (len < LVM_BLOCK || memcmp(block, LVM_LABEL_MAGIC, 8))
		return -ENODATA;
	memcpy(tmp, block, LVM_BLOCK);
	memcpy(&d, tmp, sizeof(d));
	memset(tmp + offsetof(struct lvm_disk_label, crc), 0, 4);
	if (vsl_crc32c(0, tmp, LVM_BLOCK) != le32toh(d.crc))
		return vsl_errf(err, errlen, -EBADMSG, "PV label CRC mismatch");
	if (le32toh(d.version) != LVM_VERSION || le64toh(d.slot_offset[0]) != LVM_SLOT0_OFFSET ||
	    le64toh(d.slot_offset[1]) != LVM_SLOT0_OFFSET + LVM_SLOT_SIZE ||
	    le32toh(d.slot_size) != LVM_SLOT_SIZE || le64toh(d.data_offset) != LVM_DATA_OFFSET)
		return vsl_errf(err, errlen, -EBADMSG, "PV label layout unknown");
	if (uuid_zero(d.pv_uuid) || le64toh(d.dev_size) > LVM_SIZE_MAX ||
	    le64toh(d.dev_size) <= LVM_DATA_OFFSET)
		return vsl_errf(err, errlen, -EBADMSG, "PV label impossible");
	memcpy(out->pv_uuid, d.pv_uuid, 16);
	out->dev_size = le64toh(d.dev_size);
	return 0;
}
