/* lvm_pv.c — physical volumes: label and slot I/O, probing, pvcreate, pvs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvm_internal.h"
#include "vsl_log.h"

VSL_LOG_MODULE(lvm_pv);

bool lvm_pv_usable(const struct blk_bdev *b, char *err, size_t errlen)
{
	if (blk_bdev_block_size(b) > LVM_BLOCK) {
		lvm_errf(err, errlen, -EINVAL, "%s: block size %u is above 4096", blk_bdev_name(b),
			 blk_bdev_block_size(b));
		return false;
	}
	if (blk_bdev_size(b) < LVM_DATA_OFFSET + LVM_EXTENT_MIN) {
		lvm_errf(err, errlen, -EINVAL, "%s is too small for a PV", blk_bdev_name(b));
		return false;
	}
	return true;
}

void lvm_pv_probe_fini(struct lvm_pv_probe *p)
{
	lvm_md_free(p->md);
	p->md = NULL;
}

int lvm_pv_probe(struct blk_bdev *b, struct lvm_pv_probe *p)
{
	unsigned char *buf = lvm_buf_alloc(LVM_SLOT_SIZE);
	char why[160];
	int ret;

	memset(p, 0, sizeof(*p));
	p->bdev = b;
	p->md_status = -ENODATA;
	if (!buf)
		return -ENOMEM;
	if (blk_bdev_size(b) < LVM_DATA_OFFSET || blk_bdev_block_size(b) > LVM_BLOCK) {
		ret = 0;
		goto out;
	}
	ret = lvm_sync_io(b, BLK_IO_READ, LVM_LABEL_OFFSET, buf, LVM_BLOCK);
	if (ret)
		goto out;
	if (lvm_label_decode(buf, LVM_BLOCK, &p->label, why, sizeof(why)))
		goto out;
	p->labelled = true;
	for (unsigned s = 0; s < 2; s++) {
		struct lvm_md *md;
		int r;

		ret = lvm_sync_io(b, BLK_IO_READ, LVM_SLOT0_OFFSET + (uint64_t)s * LVM_SLOT_SIZE, buf,
				  LVM_SLOT_SIZE);
		if (ret)
			goto out;
		r = lvm_md_decode(buf, LVM_SLOT_SIZE, &md, why, sizeof(why));
		if (r == -EBADMSG) {
			VSL_WARN("PV %s slot %u: %s", blk_bdev_name(b), s, why);
			if (p->md_status == -ENODATA)
				p->md_status = -EBADMSG;
		}
		if (r)
			continue;
		if (!p->md || md->seq > p->md->seq) {
			lvm_md_free(p->md);
			p->md = md;
			p->md_status = 0;
		} else {
			lvm_md_free(md);
		}
	}
out:
	free(buf);
	return ret;
}

int lvm_pv_write_label(struct blk_bdev *b, struct lvm_label *l)
{
	unsigned char *buf = lvm_buf_alloc(LVM_BLOCK);
	int ret;

	if (!buf)
		return -ENOMEM;
	lvm_label_encode(l, buf);
	ret = lvm_sync_io(b, BLK_IO_WRITE, LVM_LABEL_OFFSET, buf, LVM_BLOCK);
	if (!ret && (blk_bdev_caps(b) & BLK_CAP_FLUSH))
		ret = lvm_sync_io(b, BLK_IO_FLUSH, 0, NULL, 0);
	free(buf);
	return ret;
}

int lvm_pv_wipe_slots(struct blk_bdev *b)
{
	unsigned char *buf = lvm_buf_alloc(LVM_SLOT_SIZE);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (unsigned s = 0; s < 2 && !ret; s++)
		ret = lvm_sync_io(b, BLK_IO_WRITE, LVM_SLOT0_OFFSET + (uint64_t)s * LVM_SLOT_SIZE, buf,
				  LVM_SLOT_SIZE);
	if (!ret && (blk_bdev_caps(b) & BLK_CAP_FLUSH))
		ret = lvm_sync_io(b, BLK_IO_FLUSH, 0, NULL, 0);
	free(buf);
	return ret;
}

int lvm_pv_create(const char *name, char *err, size_t errlen)
{
	struct lvm_pv_probe p;
	struct lvm_label l;
	struct blk_bdev *b;
	int ret;

	/* The claim is refused while anyone else uses the bdev's contents (a
	 * claim, an export); internal references (a RAID set's own rebuild) do
	 * not count. */
	ret = blk_bdev_open(name, "lvm:pvcreate", &b);
	if (ret)
		return lvm_in_use_err(name, ret, err, errlen);
	if (!lvm_pv_usable(b, err, errlen)) {
		ret = -EINVAL;
		goto out;
	}
	ret = lvm_pv_probe(b, &p);
	if (ret) {
		lvm_errf(err, errlen, ret, "reading %s: %s", name, strerror(-ret));
		goto out;
	}
	if (p.md) {
		ret = lvm_errf(err, errlen, -EBUSY, "%s belongs to VG %s", name, p.md->vg_name);
		lvm_pv_probe_fini(&p);
		goto out;
	}
	if (p.labelled) {
		l = p.label;    /* an orphan PV: keep its UUID */
	} else {
		lvm_uuid_gen(l.pv_uuid);
	}
	l.dev_size = blk_bdev_size(b);
	ret = lvm_pv_wipe_slots(b);
	if (!ret)
		ret = lvm_pv_write_label(b, &l);
	if (ret)
		lvm_errf(err, errlen, ret, "writing the label of %s: %s", name, strerror(-ret));
	else
		VSL_INFO("PV %s created", name);
out:
	blk_bdev_close(b, true);
	return ret;
}

static void pv_json(struct json_object *arr, const char *pv, const char *vg,
		    const struct lvm_md *md, uint32_t i, const uint8_t *uuid, uint64_t size,
		    bool missing)
{
	struct json_object *o = json_object_new_object();
	char u[37];

	lvm_uuid_str(uuid, u);
	json_object_object_add(o, "pv", json_object_new_string(pv));
	json_object_object_add(o, "vg", json_object_new_string(vg));
	json_object_object_add(o, "uuid", json_object_new_string(u));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)size));
	if (md) {
		json_object_object_add(o, "pe_size", json_object_new_int64((int64_t)md->extent_size));
		json_object_object_add(o, "pe_count",
				       json_object_new_int64((int64_t)md->pvs[i].pe_count));
		json_object_object_add(o, "pe_free",
				       json_object_new_int64((int64_t)lvm_md_pv_free(md, i)));
	}
	json_object_object_add(o, "missing", json_object_new_boolean(missing));
	json_object_array_add(arr, o);
}

int lvm_pv_list(struct json_object *arr)
{
	for (struct lvm_vg *vg = lvm_vg_next(NULL); vg; vg = lvm_vg_next(vg))
		for (uint32_t i = 0; i < vg->md->n_pvs; i++)
			pv_json(arr, vg->pv[i] ? blk_bdev_name(vg->pv[i]) : vg->md->pvs[i].name_hint,
				vg->md->vg_name, vg->md, i, vg->md->pvs[i].uuid,
				vg->md->pvs[i].dev_size, !vg->pv[i]);
	/* Orphans: unclaimed bdevs that carry a label. */
	for (struct blk_bdev *b = blk_bdev_next(NULL); b; b = blk_bdev_next(b)) {
		struct lvm_pv_probe p;

		if (blk_bdev_claimed_by(b) || !strcmp(blk_bdev_type(b), "lvm") ||
		    !strcmp(blk_bdev_type(b), "lvm-vg"))
			continue;
		if (lvm_pv_probe(b, &p) || !p.labelled) {
			lvm_pv_probe_fini(&p);
			continue;
		}
		pv_json(arr, blk_bdev_name(b), p.md ? p.md->vg_name : "", NULL, 0, p.label.pv_uuid,
			p.label.dev_size, false);
		lvm_pv_probe_fini(&p);
	}
	return 0;
}
