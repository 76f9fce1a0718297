/* blk_qcow2_open.c — opening, describing, growing and closing a qcow2 bdev
 * (control thread).
 *
 * Open reads and validates, synchronously through the container bdev: the
 * header (blk_qcow2_hdr_parse), the L1 table and the refcount table (every
 * entry checked), and every refcount block, to find the end of the image (the
 * allocation point). All sizes come from the validated header and are bounded
 * (L1 <= 32 MiB, refcount table <= 8 MiB). Then the backing image is opened:
 * the bdev named by `backing`, or the file the header names, opened read-only
 * as "<name>-backing" (qcow2 or raw, from the header's format extension or by
 * probing), with a depth limit and a loop check on the real paths.
 *
 * A container that is a regular file (a `file` bdev) grows as the image
 * allocates, in steps of at least 64 MiB, and is cut back to the image's end
 * when the image closes; other containers have a fixed size (ENOSPC when full).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_image_internal.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(qcow2);

enum { BACKING_DEPTH_MAX = 16 };

/* Real paths of the images being opened (control thread): a loop check. */
static char chain[BACKING_DEPTH_MAX][PATH_MAX];
static unsigned chain_depth;

/* The path of a `file` bdev (from its config), or "" for other types. */
static void file_bdev_path(struct blk_bdev *b, char *out, size_t len)
{
	struct json_object *p, *v;

	out[0] = '\0';
	if (strcmp(blk_bdev_type(b), "file") || !b->ops->dump_config)
		return;
	p = json_object_new_object();
	b->ops->dump_config(b, p);
	if (json_object_object_get_ex(p, "path", &v))
		snprintf(out, len, "%s", json_object_get_string(v));
	json_object_put(p);
}

static void blk_qcow2_free(struct blk_qcow2 *q)
{
	blk_qcow2_cache_fini(q);
	free(q->l1);
	free(q->reft);
	free(q->bounce);
	free(q->bounce_free);
	free(q->inflight);
	free(q->zeroes);
	if (q->grow_fd >= 0)
		close(q->grow_fd);
	free(q);
}

static void close_deps(struct blk_qcow2 *q)
{
	char name[BLK_NAME_MAX];

	if (q->backing) {
		snprintf(name, sizeof(name), "%s", q->backing->name);
		blk_bdev_close(q->backing, true);
		if (q->own_backing)
			blk_bdev_delete(name);
		q->backing = NULL;
	}
	if (q->file) {
		snprintf(name, sizeof(name), "%s", q->file->name);
		blk_bdev_close(q->file, true);
		if (q->own_file)
			blk_bdev_delete(name);
		q->file = NULL;
	}
}

int blk_qcow2_writeback_sync(struct blk_qcow2 *q)
{
	struct blk_img_io io = { .fd = -1, .bdev = q->file, .size = blk_bdev_size(q->file) };
	int ret;

	ret = 0;
	if (q->broken)
		return 0;
	/* Same order as the data path: refcount blocks, flush, L2 tables, flush,
	 * L1 entries, flush. */
	for (unsigned i = 0; !ret && i < Q2_RB_SLOTS; i++) {
		if (!q->rbs[i].dirty)
			continue;
		ret = blk_img_io_rw(&io, true, be64toh(q->reft[q->rbs[i].ri]), q->rbs[i].buf, q->cs);
		if (!ret)
			q->rbs[i].dirty = false;
	}
	if (!ret && !q->ndirty && q->l1_dirty_hi <= q->l1_dirty_lo)
		return blk_img_io_flush(&io);
	if (!ret)
		ret = blk_img_io_flush(&io);
	for (uint32_t i = 0; !ret && i < q->nslots; i++) {
		struct q2_slot *s = &q->slots[i];

		if (!s->dirty)
			continue;
		ret = blk_img_io_rw(&io, true, be64toh(q->l1[s->l1i]) & BLK_QCOW2_OFFSET_MASK,
				    s->tbl, q->cs);
		if (!ret)
			blk_qcow2_slot_clean(q, s);
	}
	if (!ret)
		ret = blk_img_io_flush(&io);
	if (!ret && q->l1_dirty_hi > q->l1_dirty_lo) {
		uint64_t lo = q->l1_dirty_lo & ~(uint64_t)(q->meta_bs - 1);
		uint64_t hi = (q->l1_dirty_hi + q->meta_bs - 1) & ~(uint64_t)(q->meta_bs - 1);

		ret = blk_img_io_rw(&io, true, q->h.l1_offset + lo, (uint8_t *)q->l1 + lo, hi - lo);
		if (!ret)
			ret = blk_img_io_flush(&io);
		if (!ret)
			q->l1_dirty_lo = q->l1_dirty_hi = 0;
	}
	if (ret)
		VSL_WARN("%s: cannot write back metadata: %s (unflushed writes are lost)",
			 q->bdev.name, strerror(-ret));
	return ret;
}

static void blk_qcow2_destroy(struct blk_bdev *b)
{
	struct blk_qcow2 *q = b->priv;

	blk_qcow2_writeback_sync(q);

	/* Give back the growth reserve: the file ends where the image ends. */
	if (q->grow_fd >= 0 && q->end && q->file &&
	    ftruncate(q->grow_fd, (off_t)VSL_MAX(q->end, q->cs)) == 0 &&
	    q->end >= q->file->block_size)
		q->file->block_count = q->end >> q->file->block_shift;
	close_deps(q);
	blk_bdev_fini(b);
	blk_qcow2_free(q);
}

static void blk_qcow2_dump_config(const struct blk_bdev *b, struct json_object *p)
{
	const struct blk_qcow2 *q = b->priv;

	json_object_object_add(p, "base", json_object_new_string(q->file->name));
	if (q->backing)
		json_object_object_add(p, "backing", json_object_new_string(q->backing->name));
	if (q->l2_cache_set)
		json_object_object_add(p, "l2_cache_size",
				       json_object_new_int64((int64_t)q->l2_cache_bytes));
	if (q->read_only)
		json_object_object_add(p, "read_only", json_object_new_boolean(true));
}

static void blk_qcow2_dump_info(const struct blk_bdev *b, struct json_object *o)
{
	const struct blk_qcow2 *q = b->priv;
	struct json_object *c = json_object_new_object();

	json_object_object_add(o, "file", json_object_new_string(q->file->name));
	if (q->path[0])
		json_object_object_add(o, "path", json_object_new_string(q->path));
	json_object_object_add(o, "backing",
			       q->backing ? json_object_new_string(q->backing->name) : NULL);
	if (q->h.backing[0])
		json_object_object_add(o, "backing_file", json_object_new_string(q->h.backing));
	json_object_object_add(o, "cluster_size", json_object_new_int64((int64_t)q->cs));
	json_object_object_add(o, "image_end", json_object_new_int64((int64_t)q->end));
	json_object_object_add(o, "l2_cache_tables", json_object_new_int64(q->nslots));
	json_object_object_add(o, "read_only", json_object_new_boolean(q->read_only));
	json_object_object_add(o, "broken", json_object_new_boolean(q->broken));
#define CNT(name, field) \
	json_object_object_add(c, name, json_object_new_int64((int64_t)atomic_load(&q->field)))
	CNT("clusters_allocated", n_alloc);
	CNT("clusters_freed", n_freed);
	CNT("copy_on_write", n_cow);
	CNT("l2_cache_hits", n_l2_hit);
	CNT("l2_cache_misses", n_l2_miss);
	CNT("forwarded", n_forwarded);
#undef CNT
	/* A racy snapshot of the home reactor's state, for diagnosis. */
	json_object_object_add(c, "dirty_tables", json_object_new_int64(q->ndirty));
	json_object_object_add(c, "allocator_busy", json_object_new_boolean(q->alloc_owner != NULL));
	json_object_object_add(c, "writeback_active", json_object_new_boolean(q->wb_active));
	json_object_object_add(c, "writeback_pending", json_object_new_boolean(q->wb_pending));
	json_object_object_add(c, "bounce_free", json_object_new_int64(q->bounce_nfree));
	{
		int pinned = 0, loading = 0, waiting = 0;

		for (uint32_t i = 0; i < q->nslots; i++) {
			pinned += q->slots[i].pins > 0;
			loading += q->slots[i].state == Q2_SLOT_LOADING;
		}
		for (struct q2_req *w = q->slot_waiters; w; w = w->wnext)
			waiting++;
		json_object_object_add(c, "slots_pinned", json_object_new_int(pinned));
		json_object_object_add(c, "slots_loading", json_object_new_int(loading));
		json_object_object_add(c, "slot_waiters", json_object_new_int(waiting));
		if (q->alloc_owner)
			json_object_object_add(c, "allocator_state",
					       json_object_new_int(q->alloc_owner->state));
	}
	json_object_object_add(o, "qcow2", c);
}

static const struct blk_bdev_ops qcow2_ops = {
	.type = "qcow2",
	.ctx_size = sizeof(struct q2_req),
	.submit = blk_qcow2_submit,
	.destroy = blk_qcow2_destroy,
	.dump_config = blk_qcow2_dump_config,
	.dump_info = blk_qcow2_dump_info,
};

/* qemu-img ends a fresh image right after its L1 table, so the file size is
 * rarely a whole number of blocks and the file bdev would not see the table's
 * last bytes. Pad the file to a 4 KiB multiple (what qemu's own next write
 * does anyway); the container is claimed and idle, so its size may change. */
static void pad_file(struct blk_qcow2 *q)
{
	struct stat st;
	uint64_t want;
	int fd;

	if (!q->file_path[0] || stat(q->file_path, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size % 4096 == 0)
		return;
	want = ((uint64_t)st.st_size + 4095) & ~4095ull;
	fd = open(q->file_path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (ftruncate(fd, (off_t)want) == 0)
		q->file->block_count = want >> q->file->block_shift;
	close(fd);
}

/* Opens the container: a new file bdev "<name>-file" on path, or base. */
static int open_file(struct blk_qcow2 *q, const char *name, const struct blk_image_bdev_opts *o,
		     char *err, size_t errlen)
{
	char fname[BLK_NAME_MAX + 8];
	struct blk_bdev *f;
	int ret;

	if (o->path && o->base)
		return blk_image_err(err, errlen, -EINVAL, "give 'path' or 'base', not both");
	if (o->path) {
		struct blk_file_opts fo = { .path = o->path, .direct = o->direct };

		snprintf(fname, sizeof(fname), "%s-file", name);
		if (!blk_bdev_name_valid(fname))
			return blk_image_err(err, errlen, -EINVAL, "name too long");
		ret = blk_file_create(fname, &fo, &f);
		if (ret)
			return blk_image_err(err, errlen, ret, "cannot open %s: %s", o->path,
					     strerror(-ret));
		q->own_file = true;
		snprintf(q->path, sizeof(q->path), "%s", o->path);
	} else if (o->base) {
		snprintf(fname, sizeof(fname), "%s", o->base);
	} else {
		return blk_image_err(err, errlen, -EINVAL, "'path' or 'base' is required");
	}
	ret = blk_bdev_open(fname, name, &q->file);
	if (ret) {
		if (q->own_file)
			blk_bdev_delete(fname);
		q->own_file = false;
		return blk_image_err(err, errlen, ret, ret == -ENOENT ? "no bdev '%s'"
								      : "bdev '%s' is claimed",
				     fname);
	}
	file_bdev_path(q->file, q->file_path, sizeof(q->file_path));
	if (!q->path[0] && q->file_path[0])
		snprintf(q->path, sizeof(q->path), "%s", q->file_path);
	pad_file(q);
	return 0;
}

static int load_tables(struct blk_qcow2 *q, char *err, size_t errlen)
{
	struct blk_img_io io = { .fd = -1, .bdev = q->file, .size = blk_bdev_size(q->file) };
	struct blk_qcow2_hdr *h = &q->h;
	uint64_t end, t_end;
	char why[160];
	int ret;

	ret = blk_img_read_hdr(&io, !q->read_only, h, err, errlen);
	if (ret)
		return ret;
	q->cs = h->cluster_size;
	q->meta_bs = VSL_MAX(512u, q->file->block_size);
	if (q->meta_bs > q->cs || q->file->block_size > 4096)
		return blk_image_err(err, errlen, -EINVAL,
				     "cluster size %" PRIu64 " below the container's block size %u",
				     q->cs, q->file->block_size);
	ret = blk_img_load_table(&io, h->l1_offset, (uint64_t)h->l1_size * 8, &q->l1);
	if (!ret)
		ret = blk_img_load_table(&io, h->reftable_offset,
					 (uint64_t)h->reftable_clusters * q->cs, &q->reft);
	if (ret)
		return blk_image_err(err, errlen, ret, "cannot read the L1/refcount tables: %s",
				     strerror(-ret));
	q->reft_entries = (uint64_t)h->reftable_clusters * q->cs / 8;
	for (uint64_t i = 0; i < q->reft_entries; i++)
		if (blk_qcow2_reft_entry_check(h, be64toh(q->reft[i]), io.size, why, sizeof(why)))
			return blk_image_err(err, errlen, -EINVAL, "refcount table entry %" PRIu64
					     ": %s", i, why);
	ret = blk_img_scan_end(&io, h, q->reft, &end);
	if (ret)
		return blk_image_err(err, errlen, ret, "cannot read refcount blocks: %s",
				     strerror(-ret));
	/* The end is at least past the header and the tables, refcounted or not. */
	t_end = h->l1_offset + (uint64_t)h->l1_size * 8;
	end = VSL_MAX(end, t_end);
	end = VSL_MAX(end, h->reftable_offset + (uint64_t)h->reftable_clusters * q->cs);
	end = VSL_MAX(end, q->cs);
	q->end = (end + q->cs - 1) & ~(q->cs - 1);
	for (uint64_t i = 0; i < h->l1_size; i++) {
		uint64_t e = be64toh(q->l1[i]);

		if (blk_qcow2_l1_entry_check(h, e, q->end, why, sizeof(why)))
			return blk_image_err(err, errlen, -EINVAL, "L1 entry %" PRIu64 ": %s", i, why);
		if ((e & BLK_QCOW2_OFFSET_MASK) && i >= h->l1_needed)
			return blk_image_err(err, errlen, -EINVAL,
					     "L1 entry %" PRIu64 " maps past the virtual size", i);
	}
	if (h->autoclear && !q->read_only) {
		/* Clear what we do not maintain (bitmaps), as the spec requires. */
		uint64_t zero = 0;

		ret = blk_img_io_rw(&io, true, 88, &zero, 8);
		if (!ret)
			ret = blk_img_io_flush(&io);
		if (ret)
			return blk_image_err(err, errlen, ret, "cannot update the header");
		h->autoclear = 0;
	}
	return 0;
}

static int open_backing(struct blk_qcow2 *q, const char *name,
			const struct blk_image_bdev_opts *o, char *err, size_t errlen)
{
	char bname[BLK_NAME_MAX + 16], bpath[PATH_MAX];
	struct blk_image_bdev_opts bo = { .read_only = true };
	struct blk_image_info info;
	struct blk_bdev *b;
	const char *fmt = q->h.backing_fmt;
	int ret;

	if (o->backing) {
		snprintf(bname, sizeof(bname), "%s", o->backing);
	} else if (q->h.backing[0]) {
		if (q->h.backing[0] != '/' && !q->path[0])
			return blk_image_err(err, errlen, -EINVAL,
					     "relative backing file '%s' needs the image's path",
					     q->h.backing);
		blk_image_backing_path(q->path, q->h.backing, bpath, sizeof(bpath));
		snprintf(bname, sizeof(bname), "%s-backing", name);
		if (!blk_bdev_name_valid(bname))
			return blk_image_err(err, errlen, -EINVAL,
					     "backing chain too deep for the name '%s'", name);
		if (!fmt[0]) {
			ret = blk_image_info_path(bpath, &info, err, errlen);
			if (ret)
				return ret;
			fmt = info.format;
		}
		bo.path = bpath;
		if (!strcmp(fmt, "qcow2"))
			ret = blk_qcow2_create(bname, &bo, err, errlen, &b);
		else if (!strcmp(fmt, "raw"))
			ret = blk_raw_create(bname, &bo, err, errlen, &b);
		else
			ret = blk_image_err(err, errlen, -ENOTSUP,
					    "backing format '%s' is not supported", fmt);
		if (ret)
			return ret;
		q->own_backing = true;
	} else {
		return 0;
	}
	ret = blk_bdev_open(bname, name, &q->backing);
	if (ret) {
		if (q->own_backing)
			blk_bdev_delete(bname);
		q->own_backing = false;
		return blk_image_err(err, errlen, ret, ret == -ENOENT ? "no bdev '%s'"
								      : "bdev '%s' is claimed",
				     bname);
	}
	/* Chunk reads of the backing image are 512-byte aligned. */
	if (q->backing->block_size != 512)
		return blk_image_err(err, errlen, -EINVAL,
				     "backing bdev '%s' must have 512-byte blocks", bname);
	q->backing_size = blk_bdev_size(q->backing);
	return 0;
}

/* Pushes the real path of the image on the chain; refuses a loop. */
static int chain_push(const char *path, char *err, size_t errlen)
{
	char real[PATH_MAX];

	if (chain_depth == BACKING_DEPTH_MAX)
		return blk_image_err(err, errlen, -ELOOP, "backing chain longer than %d images",
				     BACKING_DEPTH_MAX);
	if (!path[0] || !realpath(path, real))
		snprintf(real, sizeof(real), "%s", path);
	for (unsigned i = 0; i < chain_depth && real[0]; i++)
		if (!strcmp(chain[i], real))
			return blk_image_err(err, errlen, -ELOOP, "backing chain loops at %s", real);
	snprintf(chain[chain_depth++], PATH_MAX, "%s", real);
	return 0;
}

int blk_qcow2_create(const char *name, const struct blk_image_bdev_opts *o, char *err,
		     size_t errlen, struct blk_bdev **out)
{
	struct blk_qcow2 *q;
	uint64_t cover, tables, bytes;
	uint32_t bs;
	bool pushed = false;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!blk_bdev_name_valid(name))
		return blk_image_err(err, errlen, -EINVAL, "bad bdev name '%s'", name);
	if (blk_bdev_find(name))
		return blk_image_err(err, errlen, -EEXIST, "bdev '%s' exists", name);
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->grow_fd = -1;
	q->read_only = o->read_only;
	ret = open_file(q, name, o, err, errlen);
	if (ret)
		goto err_free;
	ret = chain_push(q->path, err, errlen);
	if (ret)
		goto err_deps;
	pushed = true;
	ret = load_tables(q, err, errlen);
	if (ret)
		goto err_deps;
	ret = open_backing(q, name, o, err, errlen);
	if (ret)
		goto err_deps;
	if (!q->read_only && q->file_path[0]) {
		struct stat st;

		if (stat(q->file_path, &st) == 0 && S_ISREG(st.st_mode))
			q->grow_fd = open(q->file_path, O_RDWR | O_CLOEXEC);
	}
	/* Default L2 cache: the whole image up to 64 GiB, at most 32 MiB. */
	cover = q->cs << q->h.l2_bits;
	tables = (VSL_MIN(q->h.size, 64ull << 30) + cover - 1) / cover;
	bytes = o->l2_cache_size ? o->l2_cache_size : VSL_MIN(tables * q->cs, 32ull << 20);
	q->l2_cache_set = o->l2_cache_size != 0;
	q->l2_cache_bytes = bytes;
	ret = blk_qcow2_cache_init(q, bytes);
	if (ret)
		goto err_deps;
	/* Bounce buffers bound the allocations in flight: 4 MiB of them. */
	q->nbounce = (uint32_t)VSL_MAX(2, VSL_MIN(32, (4ull << 20) / q->cs));
	q->bounce = blk_img_alloc((uint64_t)q->nbounce * VSL_MAX(q->cs, 4096));
	q->bounce_free = calloc(q->nbounce, sizeof(*q->bounce_free));
	q->inflight = calloc(q->nbounce, sizeof(*q->inflight));
	q->zeroes = aligned_alloc(4096, VSL_MAX(q->cs, 4096));
	if (!q->bounce || !q->zeroes || !q->bounce_free || !q->inflight) {
		ret = -ENOMEM;
		goto err_deps;
	}
	for (uint32_t i = 0; i < q->nbounce; i++)
		q->bounce_free[q->bounce_nfree++] = q->bounce + (uint64_t)i * VSL_MAX(q->cs, 4096);
	memset(q->zeroes, 0, VSL_MAX(q->cs, 4096));
	bs = VSL_MAX(512u, q->file->block_size);
	if (q->h.size % bs) {
		ret = blk_image_err(err, errlen, -EINVAL,
				    "virtual size is not a multiple of the block size %u", bs);
		goto err_deps;
	}
	ret = blk_bdev_init(&q->bdev, name, &qcow2_ops, bs, q->h.size / bs);
	if (ret)
		goto err_deps;
	q->bdev.priv = q;
	q->bdev.caps = q->read_only ? BLK_CAP_FLUSH
				    : BLK_CAP_FLUSH | BLK_CAP_DISCARD | BLK_CAP_WRITE_ZEROES |
					      BLK_CAP_FUA;
	ret = blk_bdev_register(&q->bdev);
	if (ret)
		goto err_fini;
	chain_depth--;
	VSL_INFO("qcow2 %s: %" PRIu64 " bytes, %" PRIu64 "-byte clusters, end 0x%" PRIx64
		 ", L2 cache %u tables%s%s",
		 name, q->h.size, q->cs, q->end, q->nslots, q->backing ? ", backing " : "",
		 q->backing ? q->backing->name : "");
	*out = &q->bdev;
	return 0;

err_fini:
	blk_bdev_fini(&q->bdev);
err_deps:
	if (pushed)
		chain_depth--;
	close_deps(q);
err_free:
	blk_qcow2_free(q);
	if (err && !err[0])
		blk_image_err(err, errlen, ret, "%s", strerror(-ret));
	return ret;
}

/* ----------------------------------------------------------------- resize */

int blk_qcow2_resize(struct blk_bdev *b, uint64_t size, char *err, size_t errlen)
{
	struct blk_qcow2 *q = b->priv;
	struct blk_img_io io = { .fd = -1, .bdev = q->file };
	uint64_t old_l1 = q->h.l1_size;
	struct q2_slot **nb;
	int ret;

	if (q->read_only)
		return blk_image_err(err, errlen, -EPERM, "read-only image");
	ret = blk_qcow2_writeback_sync(q);
	if (ret)
		return blk_image_err(err, errlen, ret, "cannot write back metadata");
	if (size % b->block_size)
		return blk_image_err(err, errlen, -EINVAL, "size must be a multiple of %u",
				     b->block_size);
	/* Room for a new L1 table and a refcount block beside it. */
	if (q->grow_fd >= 0) {
		uint64_t need = q->end + (size / (q->cs << q->h.l2_bits) * 8 / q->cs + 4) * q->cs;

		if (need > blk_bdev_size(q->file) && ftruncate(q->grow_fd, (off_t)need) == 0)
			q->file->block_count = need >> q->file->block_shift;
	}
	io.size = blk_bdev_size(q->file);
	if (err)
		err[0] = '\0';
	ret = blk_img_qcow2_grow(&io, &q->h, &q->l1, q->reft, &q->end, size, err, errlen);
	blk_qcow2_rb_drop_all(q);
	if (ret)
		return ret;
	if (q->h.l1_size != old_l1) {
		nb = realloc(q->by_l1, sizeof(*nb) * q->h.l1_size);
		if (!nb) {
			q->broken = true;
			return -ENOMEM;
		}
		memset(nb + old_l1, 0, sizeof(*nb) * (q->h.l1_size - old_l1));
		q->by_l1 = nb;
	}
	b->block_count = size / b->block_size;
	return 0;
}
