/* lvm_lv.c — logical volumes as bdevs: the extent map, request splitting,
 * and lvcreate/lvextend/lvreduce/lvrename/lvremove.
 *
 * Data path. An LV offset o lies in the segment whose extents cover
 * o / extent_size (binary search over the map's segments); lvm_seg_map()
 * turns it into (PV, PV offset) and the length that stays contiguous there:
 * to the segment's end (linear) or to the stripe chunk's end (striped). A
 * request is cut at those boundaries; up to LV_SLOTS pieces are in flight at
 * once and every completion refills its slot, so nothing is allocated per
 * I/O. A request that fits one piece (the usual case) goes down with the
 * caller's iovec untouched. Flush goes to every PV the LV's segments use. The
 * first error is the request's status. The last child's completion completes
 * the LV request at once (blk_io_complete_now()): an LV adds no reactor
 * iteration to an I/O's path.
 *
 * Maps are immutable: a resize publishes a new one with an atomic store
 * (release) and the reactors pick it up on their next request (acquire);
 * the old ones are freed with the LV. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvm_internal.h"
#include "vsl_util.h"

enum {
	LV_SLOTS = 4,
	LV_PIECE_IOV = 2,
	LV_ZERO_MAX = 256,
	LV_STRIPE_DEFAULT = 64 * 1024,
};

struct lv_piece {
	struct iovec iov[LV_PIECE_IOV];
	int iovcnt;
};

struct lv_io {
	struct blk_io *io;
	struct lvm_map *map;
	uint64_t next;           /* request bytes issued */
	unsigned pending;
	int status;
	uint32_t busy;           /* slots in use */
	uint8_t idx[LV_SLOTS];
	struct lv_piece piece[LV_SLOTS];
};
_Static_assert(sizeof(struct lv_io) <= BLK_IO_CTX_MAX, "LV context too large");

/* "VG-LV" into buf (2 * LVM_NAME_MAX bytes): may exceed a bdev name; the
 * callers check the length. */
static const char *lv_bdev_name(char *buf, const char *vg, const char *lv)
{
	size_t n = strlen(vg);

	memcpy(buf, vg, n);
	buf[n] = '-';
	snprintf(buf + n + 1, LVM_NAME_MAX, "%s", lv);
	return buf;
}

static struct lvm_lv *lv_of(const struct blk_bdev *b)
{
	return b->priv;
}

/* Finds the piece of the map at LV offset off: PV, PV offset, max length. */
static int map_lookup(const struct lvm_map *m, uint64_t off, uint32_t *pv, uint64_t *pv_off,
		      uint64_t *max)
{
	uint64_t le = off >> m->extent_shift;    /* no 64-bit division per I/O */
	uint32_t lo = 0, hi = m->n_segs;

	while (hi - lo > 1) {
		uint32_t mid = (lo + hi) / 2;

		if (m->segs[mid].le_start <= le)
			lo = mid;
		else
			hi = mid;
	}
	if (!m->n_segs || off >= m->size)
		return -ERANGE;
	lvm_seg_map(&m->segs[lo], m->extent_size, off - m->segs[lo].le_start * m->extent_size, pv,
		    pv_off, max);
	return 0;
}

/* Fills p with the request's bytes [skip, skip + len), at most LV_PIECE_IOV
 * entries, trimmed to a block boundary; returns the bytes covered. */
static uint64_t slice_iov(const struct blk_io *io, uint64_t skip, uint64_t len,
			  struct lv_piece *p, uint32_t block_size)
{
	uint64_t got = 0;

	p->iovcnt = 0;
	for (int i = 0; i < io->iovcnt && got < len && p->iovcnt < LV_PIECE_IOV; i++) {
		uint64_t n = io->iov[i].iov_len;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		n = VSL_MIN(n - skip, len - got);
		p->iov[p->iovcnt].iov_base = (char *)io->iov[i].iov_base + skip;
		p->iov[p->iovcnt].iov_len = n;
		p->iovcnt++;
		got += n;
		skip = 0;
	}
	if (got < len) {
		uint64_t keep = got & ~(uint64_t)(block_size - 1), cut = got - keep;

		while (cut && p->iovcnt) {
			struct iovec *v = &p->iov[p->iovcnt - 1];

			if (v->iov_len > cut) {
				v->iov_len -= cut;
				cut = 0;
			} else {
				cut -= v->iov_len;
				p->iovcnt--;
			}
		}
		got = keep;
	}
	return got;
}

static void lv_done(void *arg, int status);

static int lv_pump(struct lv_io *lio)
{
	struct blk_io *io = lio->io;
	bool rw = io->type == BLK_IO_READ || io->type == BLK_IO_WRITE;

	while (!lio->status && lio->next < io->len && lio->busy != (1u << LV_SLOTS) - 1) {
		unsigned slot = (unsigned)__builtin_ctz(~lio->busy);
		struct lv_piece *p = &lio->piece[slot];
		uint64_t pv_off, max, len;
		uint32_t pv;
		int ret;

		ret = map_lookup(lio->map, io->offset + lio->next, &pv, &pv_off, &max);
		if (ret || !lio->map->pv[pv]) {
			lio->status = ret ? ret : -EIO;    /* a missing PV */
			break;
		}
		len = VSL_MIN(max, io->len - lio->next);
		if (rw && len == io->len) {
			/* The whole request in one piece (the usual case): the
			 * caller's iovec as it is. */
			p->iovcnt = 0;
		} else if (rw) {
			len = slice_iov(io, lio->next, len, p, io->bdev->block_size);
			if (!len) {
				lio->status = -EINVAL;
				break;
			}
		}
		ret = blk_bdev_submit(lio->map->pv[pv], io->reactor, io->type, io->flags, pv_off,
				      len, !rw ? NULL : p->iovcnt ? p->iov : io->iov,
				      !rw ? 0 : p->iovcnt ? p->iovcnt : io->iovcnt, lv_done,
				      &lio->idx[slot]);
		if (ret == -ENOMEM)
			return -ENOMEM;
		if (ret) {
			lio->status = ret;
			break;
		}
		lio->busy |= 1u << slot;
		lio->pending++;
		lio->next += len;
	}
	return 0;
}

static struct lv_io *lio_of_idx(void *arg, unsigned *slot)
{
	uint8_t *p = arg;

	*slot = *p;
	return VSL_CONTAINER_OF(p - *p, struct lv_io, idx[0]);
}

static void lv_retry(void *arg)
{
	struct lv_io *lio = arg;

	if (lv_pump(lio) == -ENOMEM && !lio->pending &&
	    blk_reactor_send(lio->io->reactor, lv_retry, lio))
		lio->status = -ENOMEM;
	if (!lio->pending && (lio->status || lio->next >= lio->io->len))
		blk_io_complete_now(lio->io, lio->status);
}

static void lv_done(void *arg, int status)
{
	unsigned slot;
	struct lv_io *lio = lio_of_idx(arg, &slot);

	lio->pending--;
	lio->busy &= ~(1u << slot);
	if (status && !lio->status)
		lio->status = status;
	if (lv_pump(lio) == -ENOMEM && !lio->pending) {
		if (blk_reactor_send(lio->io->reactor, lv_retry, lio) == 0)
			return;
		lio->status = -ENOMEM;
	}
	if (!lio->pending && (lio->status || lio->next >= lio->io->len))
		blk_io_complete_now(lio->io, lio->status);
}

static void lv_flush_done(void *arg, int status)
{
	struct lv_io *lio = arg;

	if (status && !lio->status)
		lio->status = status;
	if (--lio->pending == 0)
		blk_io_complete_now(lio->io, lio->status);
}

static int lv_flush(struct lv_io *lio)
{
	struct lvm_map *m = lio->map;

	lio->pending = 1;
	for (uint32_t i = 0; i < LVM_MAX_PVS; i++) {
		int ret;

		if (!(m->pv_mask & (1ull << i)) || !m->pv[i] ||
		    !(blk_bdev_caps(m->pv[i]) & BLK_CAP_FLUSH))
			continue;
		ret = blk_bdev_flush(m->pv[i], lio->io->reactor, lv_flush_done, lio);
		if (ret == -ENOMEM && lio->pending == 1)
			return -ENOMEM;
		if (ret) {
			lio->status = ret;
			break;
		}
		lio->pending++;
	}
	if (--lio->pending == 0) {
		if (lio->status)
			return lio->status;
		blk_io_complete(lio->io, 0);
	}
	return 0;
}

static int lv_submit(struct blk_io *io)
{
	struct lv_io *lio = blk_io_ctx(io);
	int ret;

	lio->io = io;
	lio->map = atomic_load_explicit(&lv_of(io->bdev)->map, memory_order_acquire);
	lio->next = 0;
	lio->pending = 0;
	lio->status = 0;
	lio->busy = 0;
	for (unsigned i = 0; i < LV_SLOTS; i++)
		lio->idx[i] = (uint8_t)i;
	if (lv_of(io->bdev)->thin)
		return lvm_thin_submit(io);
	if (blk_reactor_io_free(io->reactor) < 2 * LV_SLOTS + 2)
		return -ENOMEM;
	if (io->type == BLK_IO_FLUSH)
		return lv_flush(lio);
	if (io->offset > lio->map->size || io->len > lio->map->size - io->offset)
		return -ERANGE;    /* a shrink raced with this request */
	ret = lv_pump(lio);
	if (!lio->pending)
		return ret ? ret : (lio->status ? lio->status : -EIO);
	return 0;
}

/* ------------------------------------------------------------ the bdev */

static void map_free_chain(struct lvm_map *m)
{
	while (m) {
		struct lvm_map *next = m->retired;

		free(m);
		m = next;
	}
}

static void lv_unlink(struct lvm_lv *lv)
{
	if (!lv->vg)
		return;
	for (struct lvm_lv **pp = &lv->vg->lvs; *pp; pp = &(*pp)->next)
		if (*pp == lv) {
			*pp = lv->next;
			break;
		}
	lv->vg = NULL;
}

static void lv_destroy(struct blk_bdev *b)
{
	struct lvm_lv *lv = lv_of(b);

	lv_unlink(lv);
	if (lv->vg_bdev)
		blk_bdev_unref(lv->vg_bdev);
	map_free_chain(atomic_load(&lv->map));
	blk_bdev_fini(b);
	free(lv);
}

void lvm_lv_detach_all(struct lvm_vg *vg)
{
	while (vg->lvs)
		lv_unlink(vg->lvs);
}

static void lv_info(struct lvm_vg *lv_vg, struct lvm_lv *lv, const struct lvm_md *md, int i,
		    struct json_object *o)
{
	const struct lvm_lv_md *l = &md->lvs[i];
	const struct lvm_seg_md *last = l->n_segs ? &md->segs[l->first_seg + l->n_segs - 1] : NULL;
	static const char *const kinds[] = { "linear", "thin-pool", "thin", "thin-pool-data",
					     "thin-pool-metadata" };
	const char *type = l->kind <= LVM_LV_KIND_MAX ? kinds[l->kind] : "unknown";

	if (l->kind == LVM_LV_LINEAR && last && last->stripes > 1)
		type = "striped";
	json_object_object_add(o, "lv", json_object_new_string(l->name));
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "hidden", json_object_new_boolean(l->kind == LVM_LV_POOL_DATA ||
								    l->kind == LVM_LV_POOL_META));
	json_object_object_add(o, "vg", json_object_new_string(md->vg_name));
	json_object_object_add(o, "bdev", lv ? json_object_new_string(lv->bdev.name) : NULL);
	json_object_object_add(o, "size",
			       json_object_new_int64((int64_t)(l->le_count * md->extent_size)));
	json_object_object_add(o, "extents", json_object_new_int64((int64_t)l->le_count));
	json_object_object_add(o, "segments", json_object_new_int((int)l->n_segs));
	json_object_object_add(o, "stripes", json_object_new_int(last ? (int)last->stripes : 0));
	json_object_object_add(o, "stripe_size",
			       json_object_new_int(last ? (int)last->stripe_size : 0));
	if (l->kind == LVM_LV_THIN_POOL) {
		struct lvm_thin_pool *p = lv_vg ? lvm_thin_pool_get(lv_vg, l->uuid) : NULL;

		json_object_object_add(o, "active", json_object_new_boolean(p != NULL));
		if (p)
			lvm_thin_pool_status(p, o);
		else
			json_object_object_add(o, "chunk_size", json_object_new_int64(l->chunk_size));
		return;
	}
	json_object_object_add(o, "active", json_object_new_boolean(lv != NULL));
	if (l->kind == LVM_LV_THIN) {
		int k = lvm_md_lv_find_uuid(md, l->link);
		const char *origin = NULL;

		json_object_object_add(o, "pool", k >= 0 ? json_object_new_string(md->lvs[k].name)
							 : NULL);
		for (uint32_t j = 0; l->origin_id && j < md->n_lvs; j++)
			if (md->lvs[j].kind == LVM_LV_THIN && md->lvs[j].thin_id == l->origin_id &&
			    !memcmp(md->lvs[j].link, l->link, 16))
				origin = md->lvs[j].name;
		json_object_object_add(o, "origin", origin ? json_object_new_string(origin) : NULL);
		json_object_object_add(o, "thin_id", json_object_new_int64(l->thin_id));
		if (lv && lv->pool)
			lvm_thin_dev_status(lv->pool, l->thin_id, l->le_count * md->extent_size, o);
	}
}

static void lv_dump_info(const struct blk_bdev *b, struct json_object *info)
{
	struct lvm_lv *lv = lv_of(b);
	int i;

	if (!lv->vg)
		return;
	i = lvm_md_lv_find(lv->vg->md, lv->name);
	if (i >= 0)
		lv_info(lv->vg, lv, lv->vg->md, i, info);
}

static int lv_save_config(const struct blk_bdev *b, struct json_object *calls)
{
	(void)b;
	(void)calls;
	return 0;    /* vg-activate (the "lvm" config writer) brings LVs back */
}

static bool lv_busy(const struct blk_bdev *b)
{
	return !lv_of(b)->removing;    /* only lvremove/vg deactivation delete LVs */
}

static const struct blk_bdev_ops lv_ops = {
	.type = "lvm",
	.ctx_size = BLK_IO_CTX_MAX,    /* struct lv_io or struct thin_io */
	.submit = lv_submit,
	.destroy = lv_destroy,
	.dump_info = lv_dump_info,
	.save_config = lv_save_config,
	.busy = lv_busy,
};

struct lvm_map *lvm_map_build(const struct lvm_vg *vg, uint32_t i)
{
	const struct lvm_md *md = vg->md;
	const struct lvm_lv_md *l = &md->lvs[i];
	struct lvm_map *m = calloc(1, sizeof(*m) + l->n_segs * sizeof(m->segs[0]));

	if (!m)
		return NULL;
	m->size = l->le_count * md->extent_size;
	m->extent_size = md->extent_size;
	m->extent_shift = (uint32_t)__builtin_ctzll(md->extent_size);   /* a power of two */
	m->n_segs = l->n_segs;
	memcpy(m->segs, &md->segs[l->first_seg], l->n_segs * sizeof(m->segs[0]));
	memcpy(m->pv, vg->pv, sizeof(m->pv));
	for (uint32_t s = 0; s < m->n_segs; s++)
		for (uint32_t a = 0; a < m->segs[s].stripes; a++)
			m->pv_mask |= 1ull << m->segs[s].area[a].pv;
	return m;
}

static bool lv_available(const struct lvm_vg *vg, uint32_t i)
{
	const struct lvm_lv_md *l = &vg->md->lvs[i];

	if (l->kind == LVM_LV_THIN) {
		int k = lvm_md_lv_find_uuid(vg->md, l->link);

		return k >= 0 && lv_available(vg, (uint32_t)k);
	}
	if (l->kind == LVM_LV_THIN_POOL) {
		int d = lvm_md_pool_sub(vg->md, i, false), m = lvm_md_pool_sub(vg->md, i, true);

		return d >= 0 && m >= 0 && lv_available(vg, (uint32_t)d) &&
		       lv_available(vg, (uint32_t)m);
	}
	for (uint32_t s = l->first_seg; s < l->first_seg + l->n_segs; s++)
		for (uint32_t a = 0; a < vg->md->segs[s].stripes; a++)
			if (!vg->pv[vg->md->segs[s].area[a].pv])
				return false;
	return true;
}

static struct lvm_lv *lv_find(struct lvm_vg *vg, const char *name)
{
	for (struct lvm_lv *lv = vg->lvs; lv; lv = lv->next)
		if (!strcmp(lv->name, name))
			return lv;
	return NULL;
}

struct lvm_lv *lvm_lv_get(struct lvm_vg *vg, const char *name)
{
	return lv_find(vg, name);
}

static int lv_register(struct lvm_vg *vg, uint32_t i)
{
	struct lvm_lv *lv = calloc(1, sizeof(*lv));
	char name[2 * LVM_NAME_MAX];
	struct lvm_map *m;
	uint32_t caps = BLK_CAP_FLUSH | BLK_CAP_DISCARD | BLK_CAP_WRITE_ZEROES | BLK_CAP_FUA;
	int ret;

	if (!lv)
		return -ENOMEM;
	m = lvm_map_build(vg, i);
	if (!m) {
		ret = -ENOMEM;
		goto err_lv;
	}
	lv_bdev_name(name, vg->md->vg_name, vg->md->lvs[i].name);
	ret = blk_bdev_init(&lv->bdev, name, &lv_ops, vg->bdev.block_size,
			    m->size / vg->bdev.block_size);
	if (ret)
		goto err_map;
	for (uint32_t p = 0; p < vg->md->n_pvs; p++)
		if (vg->pv[p])
			caps &= blk_bdev_caps(vg->pv[p]);
	if (vg->md->lvs[i].kind == LVM_LV_THIN) {
		struct lvm_thin_pool *p = lvm_thin_pool_get(vg, vg->md->lvs[i].link);

		lv->pool = p;
		lv->thin = p ? lvm_thin_dev_get(p, vg->md->lvs[i].thin_id) : NULL;
		if (!lv->thin) {
			ret = -ENODEV;
			goto err_fini;
		}
		ret = lvm_thin_dev_resize(p, lv->thin, m->size / lvm_thin_chunk_size(p));
		if (ret)
			goto err_fini;
		caps = BLK_CAP_FLUSH | BLK_CAP_DISCARD;
	}
	lv->bdev.caps = caps;
	lv->bdev.priv = lv;
	memcpy(lv->bdev.uuid, vg->md->lvs[i].uuid, 16);
	snprintf(lv->name, sizeof(lv->name), "%s", vg->md->lvs[i].name);
	atomic_init(&lv->map, m);
	/* An internal reference: the VG bdev stays while an LV exists. */
	lv->vg_bdev = &vg->bdev;
	blk_bdev_ref(lv->vg_bdev);
	ret = blk_bdev_register(&lv->bdev);
	if (ret)
		goto err_vg;
	lv->vg = vg;
	lv->next = vg->lvs;
	vg->lvs = lv;
	return 0;

err_vg:
	blk_bdev_unref(lv->vg_bdev);
err_fini:
	blk_bdev_fini(&lv->bdev);
err_map:
	free(m);
err_lv:
	free(lv);
	return ret;
}

/* Registers or updates LV i (kind filter applied by the caller). */
static int lv_sync_one(struct lvm_vg *vg, uint32_t i)
{
	struct lvm_lv *lv = lv_find(vg, vg->md->lvs[i].name);
	struct lvm_map *m, *old;

	if (!lv_available(vg, i))
		return 0;
	if (!lv)
		return lv_register(vg, i);
	m = lvm_map_build(vg, i);
	if (!m)
		return -ENOMEM;
	if (lv->thin) {
		/* The table grows before the bdev does. */
		int ret = lvm_thin_dev_resize(lv->pool, lv->thin,
					      m->size / lvm_thin_chunk_size(lv->pool));

		if (ret) {
			free(m);
			return ret;
		}
	}
	old = atomic_load(&lv->map);
	m->retired = old;
	if (m->size < old->size)
		lv->bdev.block_count = m->size / lv->bdev.block_size;
	atomic_store_explicit(&lv->map, m, memory_order_release);
	lv->bdev.block_count = m->size / lv->bdev.block_size;
	return 0;
}

/* Order: LV bdevs no longer in the metadata go, then pools no longer in it;
 * LVs with extents (linear, striped, pools' hidden LVs) are registered, then
 * pools open on their hidden LVs, then thin LVs register on their pools. */
int lvm_lv_sync(struct lvm_vg *vg)
{
	int first = 0, ret;

	for (struct lvm_lv *lv = vg->lvs, *next; lv; lv = next) {
		next = lv->next;
		if (lvm_md_lv_find(vg->md, lv->name) < 0) {
			lv->removing = true;
			blk_bdev_delete(lv->bdev.name);
		}
	}
	lvm_thin_pools_sync(vg, false);
	for (uint32_t i = 0; i < vg->md->n_lvs; i++) {
		uint32_t k = vg->md->lvs[i].kind;

		if (k == LVM_LV_THIN || k == LVM_LV_THIN_POOL)
			continue;
		ret = lv_sync_one(vg, i);
		if (ret && !first)
			first = ret;
	}
	ret = lvm_thin_pools_sync(vg, true);
	if (ret && !first)
		first = ret;
	for (uint32_t i = 0; i < vg->md->n_lvs; i++) {
		if (vg->md->lvs[i].kind != LVM_LV_THIN)
			continue;
		ret = lv_sync_one(vg, i);
		if (ret && !first)
			first = ret;
	}
	return first;
}

/* ---------------------------------------------------------- operations */

static uint64_t size_to_le(const struct lvm_md *md, uint64_t size, uint32_t stripes)
{
	uint64_t le = size / md->extent_size + (size % md->extent_size != 0);

	return (le + stripes - 1) / stripes * stripes;
}

static int extend_commit(struct lvm_vg *vg, struct lvm_md *md, uint32_t i, uint64_t add,
			 uint32_t stripes, uint32_t stripe_size, char *err, size_t errlen)
{
	struct lvm_zero *zero = calloc(LV_ZERO_MAX, sizeof(*zero));
	unsigned n_zero = 0;
	int ret;

	if (!zero) {
		lvm_md_free(md);
		return -ENOMEM;
	}
	ret = lvm_alloc_extend(md, i, add, stripes, stripe_size, zero, &n_zero, LV_ZERO_MAX, err,
			       errlen);
	if (ret)
		lvm_md_free(md);
	else
		ret = lvm_vg_commit(vg, md, zero, n_zero, err, errlen);
	free(zero);
	return ret;
}

int lvm_lv_create(struct lvm_vg *vg, const struct lvm_lv_opts *o, char *err, size_t errlen)
{
	uint32_t stripes = o->stripes ? o->stripes : 1;
	uint32_t ss = stripes > 1 ? (o->stripe_size ? o->stripe_size : LV_STRIPE_DEFAULT) : 0;
	struct lvm_md *md;
	uint32_t i;

	if (!lvm_lv_name_valid(o->name))
		return lvm_errf(err, errlen, -EINVAL,
				"bad LV name '%s' (1-63 of [A-Za-z0-9_.-], not starting with '.' or '-')",
				o->name ? o->name : "");
	if (strlen(vg->md->vg_name) + 1 + strlen(o->name) >= BLK_NAME_MAX)
		return lvm_errf(err, errlen, -EINVAL, "'%s-%s' is too long for a bdev name",
				vg->md->vg_name, o->name);
	if (lvm_md_lv_find(vg->md, o->name) >= 0)
		return lvm_errf(err, errlen, -EEXIST, "LV %s/%s exists", vg->md->vg_name, o->name);
	if (vg->md->n_lvs >= LVM_MAX_LVS)
		return lvm_errf(err, errlen, -ENOSPC, "VG %s has %d LVs", vg->md->vg_name,
				LVM_MAX_LVS);
	if (!o->origin && (o->size == 0 || o->size > LVM_SIZE_MAX))
		return lvm_errf(err, errlen, -EINVAL, "bad LV size");
	if (stripes > LVM_MAX_STRIPES)
		return lvm_errf(err, errlen, -EINVAL, "at most %d stripes", LVM_MAX_STRIPES);
	if (stripes > 1 && ((ss & (ss - 1)) || ss < LVM_BLOCK || ss > vg->md->extent_size))
		return lvm_errf(err, errlen, -EINVAL,
				"stripe size must be a power of two from 4K to the extent size");
	{
		char n[2 * LVM_NAME_MAX];

		lv_bdev_name(n, vg->md->vg_name, o->name);
		if (blk_bdev_find(n))
			return lvm_errf(err, errlen, -EEXIST, "a bdev called '%s' exists", n);
	}
	if (o->pool)
		return lvm_thin_pool_create(vg, o, err, errlen);
	if (o->thin_pool || o->origin)
		return lvm_thin_lv_create(vg, o, err, errlen);
	md = lvm_md_clone(vg->md);
	if (!md)
		return -ENOMEM;
	i = md->n_lvs++;
	snprintf(md->lvs[i].name, LVM_NAME_MAX, "%s", o->name);
	lvm_uuid_gen(md->lvs[i].uuid);
	md->lvs[i].first_seg = md->n_segs;
	return extend_commit(vg, md, i, size_to_le(md, o->size, stripes), stripes, ss, err, errlen);
}

static int lv_lookup(struct lvm_vg *vg, const char *name, char *err, size_t errlen)
{
	int i = lvm_md_lv_find(vg->md, name);

	if (i < 0)
		return lvm_errf(err, errlen, -ENOENT, "no LV %s/%s", vg->md->vg_name, name);
	return i;
}

int lvm_lv_resize(struct lvm_vg *vg, const char *name, uint64_t size, bool force, char *err,
		  size_t errlen)
{
	const struct lvm_seg_md *last;
	struct lvm_lv *lv;
	struct lvm_md *md;
	uint64_t le;
	int i = lv_lookup(vg, name, err, errlen);

	if (i < 0)
		return i;
	if (size == 0 || size > LVM_SIZE_MAX)
		return lvm_errf(err, errlen, -EINVAL, "bad LV size");
	if (vg->md->lvs[i].kind != LVM_LV_LINEAR)
		return lvm_thin_resize(vg, (uint32_t)i, size, force, err, errlen);
	last = &vg->md->segs[vg->md->lvs[i].first_seg + vg->md->lvs[i].n_segs - 1];
	le = size_to_le(vg->md, size, last->stripes);
	if (le == vg->md->lvs[i].le_count)
		return 0;
	md = lvm_md_clone(vg->md);
	if (!md)
		return -ENOMEM;
	if (le > md->lvs[i].le_count)
		return extend_commit(vg, md, (uint32_t)i, le - md->lvs[i].le_count, last->stripes,
				     last->stripe_size, err, errlen);
	lv = lv_find(vg, name);
	if (!force) {
		lvm_md_free(md);
		return lvm_errf(err, errlen, -EPERM,
				"shrinking %s/%s loses the data past the new end: use --force",
				vg->md->vg_name, name);
	}
	if (lv && blk_bdev_refs(&lv->bdev)) {
		lvm_md_free(md);
		return lvm_errf(err, errlen, -EBUSY, "LV %s is open", lv->bdev.name);
	}
	if (lvm_alloc_shrink(md, (uint32_t)i, le)) {
		lvm_md_free(md);
		return lvm_errf(err, errlen, -EINVAL, "size must be a multiple of the stripes");
	}
	return lvm_vg_commit(vg, md, NULL, 0, err, errlen);
}

static int lv_closed(struct lvm_vg *vg, const char *name, char *err, size_t errlen)
{
	struct lvm_lv *lv = lv_find(vg, name);

	if (lv && blk_bdev_refs(&lv->bdev))
		return lvm_errf(err, errlen, -EBUSY, "LV %s is open (exported or stacked on)",
				lv->bdev.name);
	return 0;
}

int lvm_lv_rename(struct lvm_vg *vg, const char *name, const char *new_name, char *err,
		  size_t errlen)
{
	struct lvm_md *md;
	char n[2 * LVM_NAME_MAX];
	int i = lv_lookup(vg, name, err, errlen), ret;

	if (i < 0)
		return i;
	if (vg->md->lvs[i].kind != LVM_LV_LINEAR && vg->md->lvs[i].kind != LVM_LV_THIN)
		return lvm_errf(err, errlen, -ENOTSUP, "%s/%s is a thin pool or part of one: not renamed",
				vg->md->vg_name, name);
	if (!lvm_lv_name_valid(new_name) ||
	    strlen(vg->md->vg_name) + 1 + strlen(new_name) >= BLK_NAME_MAX)
		return lvm_errf(err, errlen, -EINVAL, "bad LV name '%s'", new_name);
	if (lvm_md_lv_find(vg->md, new_name) >= 0)
		return lvm_errf(err, errlen, -EEXIST, "LV %s/%s exists", vg->md->vg_name, new_name);
	lv_bdev_name(n, vg->md->vg_name, new_name);
	if (blk_bdev_find(n))
		return lvm_errf(err, errlen, -EEXIST, "a bdev called '%s' exists", n);
	ret = lv_closed(vg, name, err, errlen);
	if (ret)
		return ret;
	md = lvm_md_clone(vg->md);
	if (!md)
		return -ENOMEM;
	memset(md->lvs[i].name, 0, LVM_NAME_MAX);
	snprintf(md->lvs[i].name, LVM_NAME_MAX, "%s", new_name);
	return lvm_vg_commit(vg, md, NULL, 0, err, errlen);
}

int lvm_lv_remove(struct lvm_vg *vg, const char *name, char *err, size_t errlen)
{
	struct lvm_md *md;
	int i = lv_lookup(vg, name, err, errlen), ret;

	if (i < 0)
		return i;
	ret = lv_closed(vg, name, err, errlen);
	if (ret)
		return ret;
	if (vg->md->lvs[i].kind != LVM_LV_LINEAR)
		return lvm_thin_remove(vg, (uint32_t)i, err, errlen);
	md = lvm_md_clone(vg->md);
	if (!md)
		return -ENOMEM;
	lvm_md_lv_delete(md, (uint32_t)i);
	return lvm_vg_commit(vg, md, NULL, 0, err, errlen);
}

void lvm_lv_list(const struct lvm_vg *vg, struct json_object *arr)
{
	for (uint32_t i = 0; i < vg->md->n_lvs; i++) {
		struct json_object *o = json_object_new_object();
		struct lvm_lv *lv = lv_find((struct lvm_vg *)vg, vg->md->lvs[i].name);

		lv_info((struct lvm_vg *)vg, lv, vg->md, (int)i, o);
		json_object_array_add(arr, o);
	}
}
