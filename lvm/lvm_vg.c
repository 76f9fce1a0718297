/* lvm_vg.c — volume groups: the commit state machine, create, activate,
 * extend, reduce, remove (control thread; see lvm.h).
 *
 * Commit (lvm_commit()), one step per state, each step one synchronous I/O:
 *
 *   ZERO --every new extent zeroed--> ZERO_FLUSH --PVs flushed--> WRITE
 *   WRITE --record in slot (seq & 1) of every PV--> FLUSH --every PV--> DONE
 *
 * Zeroing and its flush come first (data before the metadata that maps it).
 * The record goes into the slot the previous copy is not in, so a crash at
 * any point leaves every PV with either the old or the new copy valid, and
 * activation picks the newest valid one. Any error stops the machine; the VG
 * then refuses further changes ("broken") until activated again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvm_internal.h"
#include "vsl_log.h"

VSL_LOG_MODULE(lvm_vg);

enum { ZERO_CHUNK = 1024 * 1024 };

static struct lvm_vg *vg_head;

/* ------------------------------------------------------------- commit */

enum lvm_commit_state {
	LVM_COMMIT_ZERO,
	LVM_COMMIT_ZERO_FLUSH,
	LVM_COMMIT_WRITE,
	LVM_COMMIT_FLUSH,
	LVM_COMMIT_DONE,
};

struct lvm_commit {
	enum lvm_commit_state state;
	unsigned idx;                   /* zero range or PV within the state */
	struct blk_bdev *const *pvs;
	const struct lvm_md *md;
	const struct lvm_zero *zero;
	unsigned n_zero;
	unsigned char *rec;
	size_t rec_len;
	unsigned char *zbuf;
};

static int zero_range(struct lvm_commit *c, const struct lvm_zero *z)
{
	struct blk_bdev *b = c->pvs[z->pv];
	uint64_t off = LVM_DATA_OFFSET + z->pe_start * c->md->extent_size;
	uint64_t len = z->count * c->md->extent_size;
	int ret = 0;

	if (!b)
		return -ENODEV;
	if (blk_bdev_caps(b) & BLK_CAP_WRITE_ZEROES)
		return lvm_sync_io(b, BLK_IO_WRITE_ZEROES, off, NULL, len);
	if (!c->zbuf) {
		c->zbuf = lvm_buf_alloc(ZERO_CHUNK);
		if (!c->zbuf)
			return -ENOMEM;
	}
	for (uint64_t done = 0; done < len && !ret; done += ZERO_CHUNK)
		ret = lvm_sync_io(b, BLK_IO_WRITE, off + done, c->zbuf,
				  len - done < ZERO_CHUNK ? len - done : ZERO_CHUNK);
	return ret;
}

static int flush_pv(struct blk_bdev *b)
{
	if (!b || !(blk_bdev_caps(b) & BLK_CAP_FLUSH))
		return 0;
	return lvm_sync_io(b, BLK_IO_FLUSH, 0, NULL, 0);
}

/* One step; returns 0 or -errno. */
static int commit_step(struct lvm_commit *c)
{
	uint64_t slot = LVM_SLOT0_OFFSET + (c->md->seq & 1) * (uint64_t)LVM_SLOT_SIZE;
	int ret = 0;

	switch (c->state) {
	case LVM_COMMIT_ZERO:
		if (c->idx < c->n_zero) {
			ret = zero_range(c, &c->zero[c->idx++]);
			break;
		}
		c->state = c->n_zero ? LVM_COMMIT_ZERO_FLUSH : LVM_COMMIT_WRITE;
		c->idx = 0;
		break;
	case LVM_COMMIT_ZERO_FLUSH:
	case LVM_COMMIT_FLUSH:
		if (c->idx < c->md->n_pvs) {
			ret = flush_pv(c->pvs[c->idx++]);
			break;
		}
		c->state = c->state == LVM_COMMIT_FLUSH ? LVM_COMMIT_DONE : LVM_COMMIT_WRITE;
		c->idx = 0;
		break;
	case LVM_COMMIT_WRITE:
		if (c->idx < c->md->n_pvs) {
			struct blk_bdev *b = c->pvs[c->idx++];

			if (b)
				ret = lvm_sync_io(b, BLK_IO_WRITE, slot, c->rec, c->rec_len);
			break;
		}
		c->state = LVM_COMMIT_FLUSH;
		c->idx = 0;
		break;
	case LVM_COMMIT_DONE:
		break;
	}
	return ret;
}

int lvm_commit(struct blk_bdev *const *pvs, const struct lvm_md *md, const struct lvm_zero *zero,
	       unsigned n_zero)
{
	struct lvm_commit c = { .state = LVM_COMMIT_ZERO, .pvs = pvs, .md = md, .zero = zero,
				.n_zero = n_zero };
	int ret = 0;

	if (lvm_md_check(md, NULL, 0))
		return -EINVAL;
	c.rec = lvm_buf_alloc(LVM_SLOT_SIZE);
	if (!c.rec)
		return -ENOMEM;
	c.rec_len = lvm_md_encode(md, c.rec);
	while (c.state != LVM_COMMIT_DONE && !ret)
		ret = commit_step(&c);
	free(c.zbuf);
	free(c.rec);
	return ret;
}

/* ------------------------------------------------------------ VG bdev */

static int vg_submit(struct blk_io *io)
{
	(void)io;
	return -ENOTSUP;    /* the VG is a container: use its LVs */
}

static void vg_destroy(struct blk_bdev *b)
{
	struct lvm_vg *vg = lvm_vg_of(b), **pp;

	for (pp = &vg_head; *pp; pp = &(*pp)->next)
		if (*pp == vg) {
			*pp = vg->next;
			break;
		}
	lvm_lv_detach_all(vg);
	for (struct lvm_thin_pool *p = vg->pools; p; p = lvm_thin_pool_next(p))
		if (!vg->broken && !vg->partial && lvm_thin_pool_dirty(p))
			VSL_WARN("VG %s: a thin pool changed after its last commit (a client still "
				 "writing during the stop): those mappings are lost", vg->md->vg_name);
	lvm_thin_pools_free(vg);
	for (uint32_t i = 0; i < LVM_MAX_PVS; i++) {
		/* At shutdown a PV created after the VG (vgextend) is gone already. */
		if (vg->pv[i] && blk_bdev_find(vg->md->pvs[i].name_hint) == vg->pv[i])
			blk_bdev_close(vg->pv[i], true);
	}
	lvm_md_free(vg->md);
	blk_bdev_fini(b);
	free(vg);
}

/* A clean stop: every thin pool commits what its LVs wrote and ends its log
 * with a clean-stop record. */
static void vg_shutdown(struct blk_bdev *b)
{
	struct lvm_vg *vg = lvm_vg_of(b);

	if (vg->broken || vg->partial)
		return;
	for (struct lvm_thin_pool *p = vg->pools; p; p = lvm_thin_pool_next(p))
		lvm_thin_commit_clean(p);
}

static void vg_dump_info(const struct blk_bdev *b, struct json_object *info)
{
	lvm_vg_status(lvm_vg_of(b), info);
}

static int vg_save_config(const struct blk_bdev *b, struct json_object *calls)
{
	(void)b;
	(void)calls;
	return 0;    /* written by the "lvm" config writer, after every bdev */
}

static const struct blk_bdev_ops vg_ops = {
	.type = "lvm-vg",
	.ctx_size = 0,
	.submit = vg_submit,
	.destroy = vg_destroy,
	.shutdown = vg_shutdown,
	.dump_info = vg_dump_info,
	.save_config = vg_save_config,
};

uint32_t lvm_vg_block_size(const struct lvm_vg *vg)
{
	return vg->bdev.block_size;
}

static uint64_t vg_bytes(const struct lvm_md *md)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < md->n_pvs; i++)
		n += md->pvs[i].pe_count;
	return n * md->extent_size;
}

/* The bdev names of present PVs go into the next commit (missing-PV reports). */
static void pv_names_refresh_md(struct lvm_md *md, struct blk_bdev *const *pvs)
{
	for (uint32_t i = 0; i < md->n_pvs; i++)
		if (pvs[i])
			snprintf(md->pvs[i].name_hint, LVM_NAME_MAX, "%s", blk_bdev_name(pvs[i]));
}

/* Takes md and the PV opens (claimed) whether or not it succeeds. */
static int vg_register(struct lvm_md *md, struct blk_bdev **pvs, bool partial,
		       struct lvm_vg **out, char *err, size_t errlen)
{
	struct lvm_vg *vg = calloc(1, sizeof(*vg));
	uint32_t bs = 512;
	int ret;

	if (!vg) {
		ret = -ENOMEM;
		goto err_pvs;
	}
	for (uint32_t i = 0; i < md->n_pvs; i++)
		if (pvs[i] && blk_bdev_block_size(pvs[i]) > bs)
			bs = blk_bdev_block_size(pvs[i]);
	ret = blk_bdev_init(&vg->bdev, md->vg_name, &vg_ops, bs, vg_bytes(md) / bs);
	if (ret) {
		lvm_errf(err, errlen, ret, "bad VG name '%s'", md->vg_name);
		goto err_vg;
	}
	vg->bdev.priv = vg;
	memcpy(vg->bdev.uuid, md->vg_uuid, 16);
	vg->md = md;
	memcpy(vg->pv, pvs, sizeof(*pvs) * md->n_pvs);
	vg->partial = partial;
	ret = blk_bdev_register(&vg->bdev);
	if (ret) {
		lvm_errf(err, errlen, ret, ret == -EEXIST ? "a bdev called '%s' exists"
			 : "registering '%s' failed", md->vg_name);
		blk_bdev_fini(&vg->bdev);
		goto err_vg;
	}
	vg->next = vg_head;
	vg_head = vg;
	ret = lvm_lv_sync(vg);
	if (ret)
		VSL_WARN("VG %s: some LVs could not be registered: %s", md->vg_name, strerror(-ret));
	if (out)
		*out = vg;
	VSL_INFO("VG %s active (seq %llu, %u PVs, %u LVs%s)", md->vg_name,
		 (unsigned long long)md->seq, md->n_pvs, md->n_lvs, partial ? ", partial" : "");
	return 0;

err_vg:
	free(vg);
err_pvs:
	for (uint32_t i = 0; i < md->n_pvs; i++)
		if (pvs[i])
			blk_bdev_close(pvs[i], true);
	lvm_md_free(md);
	return ret;
}

static int open_pvs(const char *vg, const char *const *names, unsigned n, struct blk_bdev **out,
		    char *err, size_t errlen)
{
	char claim[LVM_NAME_MAX + 8];
	unsigned bad = 0;
	int ret;

	if (n == 0 || n > LVM_MAX_PVS)
		return lvm_errf(err, errlen, -EINVAL, "a VG needs 1 to %d PVs", LVM_MAX_PVS);
	snprintf(claim, sizeof(claim), "lvm:%s", vg);
	/* The claims keep others out from now on, and are refused while a user
	 * (an export) holds a bdev: it must not see LVM metadata appear. */
	ret = blk_bdev_open_claimed(names, n, claim, out, &bad);
	if (ret == -ENOENT || ret == -EBUSY)
		return lvm_in_use_err(names[bad], ret, err, errlen);
	if (ret)
		return lvm_errf(err, errlen, ret, "bad PV list (a name listed twice?)");
	return 0;
}

/* --------------------------------------------------------- operations */

int lvm_vg_create(const char *name, const char *const *names, unsigned n, uint64_t extent_size,
		  struct lvm_vg **out, char *err, size_t errlen)
{
	struct blk_bdev *pvs[LVM_MAX_PVS] = { 0 };
	struct lvm_label labels[LVM_MAX_PVS];
	bool fresh[LVM_MAX_PVS] = { 0 };
	struct lvm_md *md;
	int ret;

	if (!lvm_vg_name_valid(name))
		return lvm_errf(err, errlen, -EINVAL,
				"bad VG name '%s' (1-63 of [A-Za-z0-9_.], not starting with '.')",
				name);
	if (lvm_vg_find(name) || blk_bdev_find(name))
		return lvm_errf(err, errlen, -EEXIST, "'%s' exists", name);
	if (!extent_size)
		extent_size = LVM_EXTENT_DEFAULT;
	if ((extent_size & (extent_size - 1)) || extent_size < LVM_EXTENT_MIN ||
	    extent_size > LVM_EXTENT_MAX)
		return lvm_errf(err, errlen, -EINVAL,
				"extent size must be a power of two from 64K to 1G");
	ret = open_pvs(name, names, n, pvs, err, errlen);
	if (ret)
		return ret;
	md = lvm_md_alloc();
	if (!md) {
		ret = -ENOMEM;
		goto err_pvs;
	}
	for (unsigned i = 0; i < n; i++) {
		struct lvm_pv_probe p;

		if (!lvm_pv_usable(pvs[i], err, errlen)) {
			ret = -EINVAL;
			goto err_md;
		}
		if (blk_bdev_size(pvs[i]) < LVM_DATA_OFFSET + extent_size) {
			ret = lvm_errf(err, errlen, -EINVAL, "%s is smaller than one extent", names[i]);
			goto err_md;
		}
		ret = lvm_pv_probe(pvs[i], &p);
		if (ret) {
			lvm_errf(err, errlen, ret, "reading %s: %s", names[i], strerror(-ret));
			goto err_md;
		}
		if (p.md) {
			ret = lvm_errf(err, errlen, -EBUSY, "%s belongs to VG %s", names[i],
				       p.md->vg_name);
			lvm_pv_probe_fini(&p);
			goto err_md;
		}
		if (p.labelled && p.label.dev_size <= blk_bdev_size(pvs[i])) {
			labels[i] = p.label;
		} else {
			lvm_uuid_gen(labels[i].pv_uuid);
			labels[i].dev_size = blk_bdev_size(pvs[i]);
			fresh[i] = true;
		}
		memcpy(md->pvs[i].uuid, labels[i].pv_uuid, 16);
		md->pvs[i].dev_size = labels[i].dev_size;
		md->pvs[i].pe_count = (labels[i].dev_size - LVM_DATA_OFFSET) / extent_size;
		snprintf(md->pvs[i].name_hint, LVM_NAME_MAX, "%s", names[i]);
	}
	md->seq = 1;
	lvm_uuid_gen(md->vg_uuid);
	snprintf(md->vg_name, LVM_NAME_MAX, "%s", name);
	md->extent_size = extent_size;
	md->n_pvs = n;
	ret = lvm_md_check(md, err, errlen);
	if (ret)
		goto err_md;
	for (unsigned i = 0; i < n && !ret; i++)
		if (fresh[i])
			ret = lvm_pv_write_label(pvs[i], &labels[i]);
	if (!ret)
		ret = lvm_commit(pvs, md, NULL, 0);
	if (ret) {
		lvm_errf(err, errlen, ret, "writing VG metadata: %s", strerror(-ret));
		goto err_md;
	}
	return vg_register(md, pvs, false, out, err, errlen);

err_md:
	lvm_md_free(md);
err_pvs:
	blk_bdev_close_claimed(pvs, n);
	return ret;
}

int lvm_vg_activate(const char *name, const char *const *names, unsigned n, bool partial,
		    struct lvm_vg **out, char *err, size_t errlen)
{
	struct blk_bdev *opened[LVM_MAX_PVS] = { 0 }, *pvs[LVM_MAX_PVS] = { 0 };
	struct blk_bdev *stale[LVM_MAX_PVS] = { 0 };
	struct lvm_pv_probe *probe;
	struct lvm_md *best = NULL;
	unsigned missing = 0, n_stale = 0;
	char miss[256] = "";
	int ret;

	if (!lvm_vg_name_valid(name))
		return lvm_errf(err, errlen, -EINVAL, "bad VG name '%s'", name);
	if (lvm_vg_find(name))
		return lvm_errf(err, errlen, -EEXIST, "VG %s is active", name);
	ret = open_pvs(name, names, n, opened, err, errlen);
	if (ret)
		return ret;
	probe = calloc(n, sizeof(*probe));
	if (!probe) {
		ret = -ENOMEM;
		goto err_open;
	}
	for (unsigned i = 0; i < n; i++) {
		ret = lvm_pv_probe(opened[i], &probe[i]);
		if (ret) {
			lvm_errf(err, errlen, ret, "reading %s: %s", names[i], strerror(-ret));
			goto err_probe;
		}
		if (probe[i].md && !strcmp(probe[i].md->vg_name, name) &&
		    (!best || probe[i].md->seq > best->seq))
			best = probe[i].md;
	}
	if (!best) {
		ret = lvm_errf(err, errlen, -ENOENT, "no valid metadata of VG %s on %s%s", name,
			       names[0], n > 1 ? " or the other PVs" : "");
		goto err_probe;
	}
	for (unsigned i = 0; i < n; i++) {
		uint32_t k;

		for (k = 0; k < best->n_pvs; k++)
			if (probe[i].labelled && !memcmp(probe[i].label.pv_uuid, best->pvs[k].uuid, 16))
				break;
		if (k == best->n_pvs || pvs[k]) {
			ret = lvm_errf(err, errlen, -EINVAL, "%s is not a PV of VG %s", names[i], name);
			goto err_probe;
		}
		if (blk_bdev_size(opened[i]) < best->pvs[k].dev_size) {
			ret = lvm_errf(err, errlen, -EINVAL, "%s is smaller than its PV label says",
				       names[i]);
			goto err_probe;
		}
		pvs[k] = opened[i];
		if (!probe[i].md || probe[i].md->seq != best->seq ||
		    memcmp(probe[i].md->vg_uuid, best->vg_uuid, 16))
			stale[k] = opened[i];
	}
	for (uint32_t k = 0; k < best->n_pvs; k++) {
		if (stale[k])
			n_stale++;
		if (pvs[k])
			continue;
		missing++;
		snprintf(miss + strlen(miss), sizeof(miss) - strlen(miss), "%s%s",
			 missing > 1 ? ", " : "", best->pvs[k].name_hint);
	}
	if (missing && !partial) {
		ret = lvm_errf(err, errlen, -ENODEV, "VG %s: missing PV%s %s (activate with partial)",
			       name, missing > 1 ? "s" : "", miss);
		goto err_probe;
	}
	best = lvm_md_clone(best);
	if (!best) {
		ret = -ENOMEM;
		goto err_probe;
	}
	if (n_stale && !missing) {
		VSL_INFO("VG %s: bringing %u PV(s) up to seq %llu", name, n_stale,
			 (unsigned long long)best->seq);
		ret = lvm_commit(stale, best, NULL, 0);
		if (ret) {
			lvm_errf(err, errlen, ret, "updating stale PVs: %s", strerror(-ret));
			lvm_md_free(best);
			goto err_probe;
		}
	}
	for (unsigned i = 0; i < n; i++)
		lvm_pv_probe_fini(&probe[i]);
	free(probe);
	if (missing)
		VSL_WARN("VG %s activated partially: missing %s", name, miss);
	pv_names_refresh_md(best, pvs);
	return vg_register(best, pvs, missing > 0, out, err, errlen);

err_probe:
	for (unsigned i = 0; i < n; i++)
		lvm_pv_probe_fini(&probe[i]);
	free(probe);
err_open:
	blk_bdev_close_claimed(opened, n);
	return ret;
}

static int vg_changeable(const struct lvm_vg *vg, char *err, size_t errlen)
{
	if (vg->broken)
		return lvm_errf(err, errlen, -EIO,
				"VG %s: a metadata write failed; deactivate and activate it again",
				vg->md->vg_name);
	if (vg->partial)
		return lvm_errf(err, errlen, -EROFS, "VG %s is partial: no changes", vg->md->vg_name);
	return 0;
}

int lvm_vg_commit(struct lvm_vg *vg, struct lvm_md *md, const struct lvm_zero *zero,
		  unsigned n_zero, char *err, size_t errlen)
{
	int ret = vg_changeable(vg, err, errlen);

	if (ret)
		goto err_md;
	md->seq = vg->md->seq + 1;
	pv_names_refresh_md(md, vg->pv);
	ret = lvm_md_check(md, err, errlen);
	if (ret)
		goto err_md;
	ret = lvm_commit(vg->pv, md, zero, n_zero);
	if (ret) {
		vg->broken = true;
		VSL_ERR("VG %s: metadata commit seq %llu failed: %s", md->vg_name,
			(unsigned long long)md->seq, strerror(-ret));
		lvm_errf(err, errlen, ret, "writing VG metadata: %s", strerror(-ret));
		goto err_md;
	}
	lvm_md_free(vg->md);
	vg->md = md;
	return lvm_lv_sync(vg);

err_md:
	lvm_md_free(md);
	return ret;
}

int lvm_vg_extend(struct lvm_vg *vg, const char *name, char *err, size_t errlen)
{
	struct lvm_pv_probe p;
	struct lvm_label l;
	struct lvm_md *md;
	struct blk_bdev *b;
	uint32_t k = vg->md->n_pvs;
	int ret = vg_changeable(vg, err, errlen);

	if (ret)
		return ret;
	if (k >= LVM_MAX_PVS)
		return lvm_errf(err, errlen, -ENOSPC, "VG %s has %d PVs already", vg->md->vg_name,
				LVM_MAX_PVS);
	ret = open_pvs(vg->md->vg_name, &name, 1, &b, err, errlen);
	if (ret)
		return ret;
	if (!lvm_pv_usable(b, err, errlen)) {
		ret = -EINVAL;
		goto err_b;
	}
	if (blk_bdev_block_size(b) > vg->bdev.block_size ||
	    blk_bdev_size(b) < LVM_DATA_OFFSET + vg->md->extent_size) {
		ret = lvm_errf(err, errlen, -EINVAL,
			       "%s: block size above the VG's or smaller than one extent", name);
		goto err_b;
	}
	ret = lvm_pv_probe(b, &p);
	if (ret) {
		lvm_errf(err, errlen, ret, "reading %s: %s", name, strerror(-ret));
		goto err_b;
	}
	if (p.md) {
		ret = lvm_errf(err, errlen, -EBUSY, "%s belongs to VG %s", name, p.md->vg_name);
		lvm_pv_probe_fini(&p);
		goto err_b;
	}
	if (p.labelled && p.label.dev_size <= blk_bdev_size(b)) {
		l = p.label;
	} else {
		lvm_uuid_gen(l.pv_uuid);
		l.dev_size = blk_bdev_size(b);
		ret = lvm_pv_write_label(b, &l);
		if (ret) {
			lvm_errf(err, errlen, ret, "writing the label of %s", name);
			goto err_b;
		}
	}
	md = lvm_md_clone(vg->md);
	if (!md) {
		ret = -ENOMEM;
		goto err_b;
	}
	memcpy(md->pvs[k].uuid, l.pv_uuid, 16);
	md->pvs[k].dev_size = l.dev_size;
	md->pvs[k].pe_count = (l.dev_size - LVM_DATA_OFFSET) / md->extent_size;
	md->n_pvs++;
	vg->pv[k] = b;    /* the commit writes it too */
	ret = lvm_vg_commit(vg, md, NULL, 0, err, errlen);
	if (ret) {
		if (vg->md->n_pvs <= k)
			vg->pv[k] = NULL;
		goto err_b;
	}
	vg->bdev.block_count = vg_bytes(vg->md) / vg->bdev.block_size;
	VSL_INFO("VG %s extended with %s", vg->md->vg_name, name);
	return 0;

err_b:
	blk_bdev_close(b, true);
	return ret;
}

static int pv_index(const struct lvm_vg *vg, const char *name)
{
	for (uint32_t i = 0; i < vg->md->n_pvs; i++)
		if (vg->pv[i] && !strcmp(blk_bdev_name(vg->pv[i]), name))
			return (int)i;
	return -1;
}

int lvm_vg_reduce(struct lvm_vg *vg, const char *name, char *err, size_t errlen)
{
	struct blk_bdev *b;
	struct lvm_md *md;
	int k = pv_index(vg, name), ret = vg_changeable(vg, err, errlen);

	if (ret)
		return ret;
	if (k < 0)
		return lvm_errf(err, errlen, -ENOENT, "%s is not a PV of VG %s", name,
				vg->md->vg_name);
	if (lvm_md_pv_free(vg->md, (uint32_t)k) != vg->md->pvs[k].pe_count)
		return lvm_errf(err, errlen, -EBUSY, "PV %s is in use by LVs", name);
	if (vg->md->n_pvs == 1)
		return lvm_errf(err, errlen, -EBUSY, "%s is the last PV (use vgremove)", name);
	md = lvm_md_clone(vg->md);
	if (!md)
		return -ENOMEM;
	memmove(&md->pvs[k], &md->pvs[k + 1], (md->n_pvs - k - 1) * sizeof(*md->pvs));
	md->n_pvs--;
	memset(&md->pvs[md->n_pvs], 0, sizeof(*md->pvs));
	for (uint32_t s = 0; s < md->n_segs; s++)
		for (uint32_t a = 0; a < md->segs[s].stripes; a++)
			if (md->segs[s].area[a].pv > (uint32_t)k)
				md->segs[s].area[a].pv--;
	/* Commit to the others first: the PV leaves only once they agree. */
	b = vg->pv[k];
	memmove(&vg->pv[k], &vg->pv[k + 1], (LVM_MAX_PVS - k - 1) * sizeof(vg->pv[0]));
	vg->pv[LVM_MAX_PVS - 1] = NULL;
	ret = lvm_vg_commit(vg, md, NULL, 0, err, errlen);
	if (ret) {
		memmove(&vg->pv[k + 1], &vg->pv[k], (LVM_MAX_PVS - k - 1) * sizeof(vg->pv[0]));
		vg->pv[k] = b;
		return ret;
	}
	vg->bdev.block_count = vg_bytes(vg->md) / vg->bdev.block_size;
	ret = lvm_pv_wipe_slots(b);
	if (ret)
		VSL_WARN("PV %s: wiping old metadata failed: %s", name, strerror(-ret));
	blk_bdev_close(b, true);
	VSL_INFO("VG %s reduced by %s", vg->md->vg_name, name);
	return 0;
}

int lvm_vg_deactivate(struct lvm_vg *vg, char *err, size_t errlen)
{
	char name[LVM_NAME_MAX];

	for (struct lvm_lv *lv = vg->lvs; lv; lv = lv->next)
		if (blk_bdev_refs(&lv->bdev))
			return lvm_errf(err, errlen, -EBUSY, "LV %s is open", lv->bdev.name);
	/* Thin pools commit what their LVs wrote since the last flush: a clean
	 * stop, the next activation has nothing to recover. */
	if (!vg->broken && !vg->partial)
		for (struct lvm_thin_pool *p = vg->pools; p; p = lvm_thin_pool_next(p))
			lvm_thin_commit_clean(p);
	while (vg->lvs) {
		struct lvm_lv *lv = vg->lvs;

		lv->removing = true;
		blk_bdev_delete(lv->bdev.name);    /* unlinks itself from vg->lvs */
	}
	snprintf(name, sizeof(name), "%s", vg->md->vg_name);
	if (blk_bdev_delete(name))
		return lvm_errf(err, errlen, -EBUSY, "VG %s is in use", name);
	return 0;
}

int lvm_vg_remove(struct lvm_vg *vg, char *err, size_t errlen)
{
	int ret;

	if (vg->md->n_lvs)
		return lvm_errf(err, errlen, -EBUSY, "VG %s has %u LVs", vg->md->vg_name,
				vg->md->n_lvs);
	if (vg->partial)
		return lvm_errf(err, errlen, -EROFS, "VG %s is partial: activate it whole first",
				vg->md->vg_name);
	if (blk_bdev_refs(&vg->bdev))
		return lvm_errf(err, errlen, -EBUSY, "VG %s is in use", vg->md->vg_name);
	for (uint32_t i = 0; i < vg->md->n_pvs; i++) {
		if (!vg->pv[i])
			continue;
		ret = lvm_pv_wipe_slots(vg->pv[i]);
		if (ret)
			return lvm_errf(err, errlen, ret, "wiping %s: %s", blk_bdev_name(vg->pv[i]),
					strerror(-ret));
	}
	return lvm_vg_deactivate(vg, err, errlen);
}

struct lvm_vg *lvm_vg_find(const char *name)
{
	for (struct lvm_vg *vg = vg_head; vg; vg = vg->next)
		if (!strcmp(vg->md->vg_name, name))
			return vg;
	return NULL;
}

struct lvm_vg *lvm_vg_next(const struct lvm_vg *vg)
{
	return vg ? vg->next : vg_head;
}

const char *lvm_vg_name(const struct lvm_vg *vg)
{
	return vg->md->vg_name;
}

void lvm_vg_status(const struct lvm_vg *vg, struct json_object *o)
{
	const struct lvm_md *md = vg->md;
	struct json_object *pvs = json_object_new_array();
	uint64_t free_pe = 0;
	char u[37];

	for (uint32_t i = 0; i < md->n_pvs; i++) {
		free_pe += lvm_md_pv_free(md, i);
		json_object_array_add(pvs, json_object_new_string(vg->pv[i] ? blk_bdev_name(vg->pv[i])
									    : md->pvs[i].name_hint));
	}
	lvm_uuid_str(md->vg_uuid, u);
	json_object_object_add(o, "vg", json_object_new_string(md->vg_name));
	json_object_object_add(o, "uuid", json_object_new_string(u));
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)md->seq));
	json_object_object_add(o, "extent_size", json_object_new_int64((int64_t)md->extent_size));
	json_object_object_add(o, "pv_count", json_object_new_int((int)md->n_pvs));
	json_object_object_add(o, "lv_count", json_object_new_int((int)md->n_lvs));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)vg_bytes(md)));
	json_object_object_add(o, "free", json_object_new_int64((int64_t)(free_pe * md->extent_size)));
	json_object_object_add(o, "partial", json_object_new_boolean(vg->partial));
	json_object_object_add(o, "broken", json_object_new_boolean(vg->broken));
	json_object_object_add(o, "pvs", pvs);
	{
		struct json_object *pools = json_object_new_array();

		for (uint32_t i = 0; i < md->n_lvs; i++) {
			struct lvm_thin_pool *p;
			struct json_object *j;

			if (md->lvs[i].kind != LVM_LV_THIN_POOL)
				continue;
			j = json_object_new_object();
			json_object_object_add(j, "lv", json_object_new_string(md->lvs[i].name));
			p = lvm_thin_pool_get((struct lvm_vg *)vg, md->lvs[i].uuid);
			if (p)
				lvm_thin_pool_status(p, j);
			json_object_object_add(j, "active", json_object_new_boolean(p != NULL));
			json_object_array_add(pools, j);
		}
		json_object_object_add(o, "thin_pools", pools);
	}
}

struct json_object *lvm_vg_config(const struct lvm_vg *vg)
{
	struct json_object *p = json_object_new_object(), *pvs = json_object_new_array();

	for (uint32_t i = 0; i < vg->md->n_pvs; i++)
		if (vg->pv[i])
			json_object_array_add(pvs, json_object_new_string(blk_bdev_name(vg->pv[i])));
	json_object_object_add(p, "name", json_object_new_string(vg->md->vg_name));
	json_object_object_add(p, "pvs", pvs);
	if (vg->partial)
		json_object_object_add(p, "partial", json_object_new_boolean(true));
	return p;
}
