/* blk_image_raw.c — the `raw` image bdev: a thin pass-through layer over a
 * container bdev, so that an image is a first-class node of the graph whatever
 * holds it.
 *
 * With `path` the container is a new `file` bdev "<name>-file" (created and
 * deleted with the image); with `base`, any bdev. The file bdev machinery does
 * the I/O (io_uring, O_DIRECT, discard as punch-hole, write-zeroes as
 * zero-range); this layer adds the image's identity (`image-resize` grows it,
 * `bdev-list` shows the path) at the cost of one extra completion hop.
 * Creating a fixed, fully allocated image is image-create's job (fallocate).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk_image_internal.h"
#include "vsl_log.h"
#include "vsl_util.h"


struct blk_raw {
	struct blk_bdev bdev;
	struct blk_bdev *file;       /* claimed */
	bool own_file;
	char path[4096];
};

static void raw_done(void *arg, int status)
{
	blk_io_complete(arg, status);
}

static int raw_submit(struct blk_io *io)
{
	struct blk_raw *w = io->bdev->priv;

	/* Same reactor, same contract: -ENOMEM goes straight back up. */
	return blk_bdev_submit(w->file, io->reactor, io->type, io->flags, io->offset, io->len,
			       io->iov, io->iovcnt, raw_done, io);
}

static void raw_destroy(struct blk_bdev *b)
{
	struct blk_raw *w = b->priv;
	char name[BLK_NAME_MAX];

	snprintf(name, sizeof(name), "%s", w->file->name);
	blk_bdev_close(w->file, true);
	if (w->own_file)
		blk_bdev_delete(name);
	blk_bdev_fini(b);
	free(w);
}

static void raw_dump_config(const struct blk_bdev *b, struct json_object *p)
{
	const struct blk_raw *w = b->priv;

	json_object_object_add(p, "base", json_object_new_string(w->file->name));
}

static void raw_dump_info(const struct blk_bdev *b, struct json_object *o)
{
	const struct blk_raw *w = b->priv;

	json_object_object_add(o, "file", json_object_new_string(w->file->name));
	if (w->path[0])
		json_object_object_add(o, "path", json_object_new_string(w->path));
}

static const struct blk_bdev_ops raw_ops = {
	.type = "raw",
	.ctx_size = 0,
	.submit = raw_submit,
	.destroy = raw_destroy,
	.dump_config = raw_dump_config,
	.dump_info = raw_dump_info,
};

int blk_raw_create(const char *name, const struct blk_image_bdev_opts *o, char *err,
		   size_t errlen, struct blk_bdev **out)
{
	char fname[BLK_NAME_MAX + 8];
	struct blk_raw *w;
	struct blk_bdev *f;
	int ret;

	if (!blk_bdev_name_valid(name))
		return blk_image_err(err, errlen, -EINVAL, "bad bdev name '%s'", name);
	if (blk_bdev_find(name))
		return blk_image_err(err, errlen, -EEXIST, "bdev '%s' exists", name);
	if (!!o->path == !!o->base)
		return blk_image_err(err, errlen, -EINVAL, "give one of 'path' or 'base'");
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	if (o->path) {
		struct blk_file_opts fo = { .path = o->path, .direct = o->direct };

		snprintf(fname, sizeof(fname), "%s-file", name);
		if (!blk_bdev_name_valid(fname)) {
			ret = blk_image_err(err, errlen, -EINVAL, "name too long");
			goto err_free;
		}
		ret = blk_file_create(fname, &fo, &f);
		if (ret) {
			blk_image_err(err, errlen, ret, "cannot open %s: %s", o->path, strerror(-ret));
			goto err_free;
		}
		w->own_file = true;
		snprintf(w->path, sizeof(w->path), "%s", o->path);
	} else {
		snprintf(fname, sizeof(fname), "%s", o->base);
	}
	ret = blk_bdev_open(fname, name, &w->file);
	if (ret) {
		blk_image_err(err, errlen, ret, ret == -ENOENT ? "no bdev '%s'" : "bdev '%s' is claimed",
			      fname);
		goto err_own;
	}
	ret = blk_bdev_init(&w->bdev, name, &raw_ops, w->file->block_size, w->file->block_count);
	if (ret)
		goto err_close;
	w->bdev.priv = w;
	w->bdev.caps = w->file->caps;
	ret = blk_bdev_register(&w->bdev);
	if (ret)
		goto err_fini;
	*out = &w->bdev;
	return 0;

err_fini:
	blk_bdev_fini(&w->bdev);
err_close:
	blk_bdev_close(w->file, true);
err_own:
	if (w->own_file)
		blk_bdev_delete(fname);
err_free:
	free(w);
	return ret;
}

int blk_image_resize_bdev(struct blk_bdev *b, uint64_t size, char *err, size_t errlen)
{
	struct blk_raw *w;
	int fd;

	if (b->refs)
		return blk_image_err(err, errlen, -EBUSY,
				     "bdev '%s' is in use (remove its export first)", b->name);
	if (!strcmp(b->ops->type, "qcow2"))
		return blk_qcow2_resize(b, size, err, errlen);
	if (strcmp(b->ops->type, "raw"))
		return blk_image_err(err, errlen, -EINVAL, "'%s' is not an image bdev", b->name);
	w = b->priv;
	if (size < blk_bdev_size(b))
		return blk_image_err(err, errlen, -ENOTSUP, "shrinking an image is not supported");
	if (size % b->block_size)
		return blk_image_err(err, errlen, -EINVAL, "size must be a multiple of %u",
				     b->block_size);
	if (!w->path[0])
		return blk_image_err(err, errlen, -ENOTSUP,
				     "only a raw image opened by path can grow");
	fd = open(w->path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		int ret = vsl_neg_errno();

		if (fd >= 0)
			close(fd);
		return blk_image_err(err, errlen, ret, "cannot grow %s: %s", w->path, strerror(-ret));
	}
	close(fd);
	/* Nothing uses either bdev (no users), so no I/O races these. */
	w->file->block_count = size >> w->file->block_shift;
	b->block_count = size >> b->block_shift;
	return 0;
}
