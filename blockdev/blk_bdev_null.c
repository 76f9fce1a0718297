/* blk_bdev_null.c — a bdev that stores nothing: writes, discards and flushes
 * succeed at once, reads return zeroes. For benchmarks of the layers above and
 * as a harmless base in tests. */
#include <errno.h>
#include <stdlib.h>

#include "blk_internal.h"

struct blk_null {
	struct blk_bdev bdev;
};

static int null_submit(struct blk_io *io)
{
	/* Zeroes rather than untouched buffers: a client must never see memory
	 * it did not write (an NBD buffer may hold another request's data). */
	if (io->type == BLK_IO_READ)
		blk_iov_zero(io->iov, io->iovcnt);
	blk_io_complete(io, 0);
	return 0;
}

static void null_destroy(struct blk_bdev *b)
{
	blk_bdev_fini(b);
	free(b->priv);
}

static void null_dump_config(const struct blk_bdev *b, struct json_object *params)
{
	json_object_object_add(params, "size", json_object_new_int64((int64_t)blk_bdev_size(b)));
	json_object_object_add(params, "block_size", json_object_new_int((int)b->block_size));
}

static const struct blk_bdev_ops null_ops = {
	.type = "null",
	.ctx_size = 0,
	.submit = null_submit,
	.destroy = null_destroy,
	.dump_config = null_dump_config,
};

int blk_null_create(const char *name, uint64_t size, uint32_t block_size, struct blk_bdev **out)
{
	struct blk_null *n;
	int ret;

	if (!block_size)
		block_size = 512;
	if (!blk_block_size_valid(block_size) || size == 0 || size % block_size)
		return -EINVAL;
	if (blk_bdev_find(name))
		return -EEXIST;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	ret = blk_bdev_init(&n->bdev, name, &null_ops, block_size, size / block_size);
	if (ret)
		goto err_free;
	n->bdev.priv = n;
	n->bdev.caps = BLK_CAP_FLUSH | BLK_CAP_DISCARD | BLK_CAP_WRITE_ZEROES | BLK_CAP_FUA;
	ret = blk_bdev_register(&n->bdev);
	if (ret)
		goto err_fini;
	*out = &n->bdev;
	return 0;

err_fini:
	blk_bdev_fini(&n->bdev);
err_free:
	free(n);
	return ret;
}
