/* blk_bdev_malloc.c — a RAM bdev. Memory comes from an anonymous mapping, so a
 * large bdev costs only the pages actually written; discard gives whole pages
 * back with MADV_DONTNEED (they read as zeroes afterwards).
 *
 * I/O is a memcpy done inside submit; the completion is queued on the reactor
 * as for every bdev. Concurrent overlapping writes from two reactors give an
 * undefined mix, as on a real disk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blk_internal.h"
#include "vsl_util.h"

struct blk_malloc {
	struct blk_bdev bdev;
	unsigned char *mem;
	size_t size;
};

static void malloc_zero(struct blk_malloc *m, uint64_t off, uint64_t len, bool release)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = (off + page - 1) & ~(page - 1);
	uint64_t end = (off + len) & ~(page - 1);

	if (!release || end <= start) {
		memset(m->mem + off, 0, len);
		return;
	}
	/* Partial pages by hand, whole pages returned to the kernel. */
	memset(m->mem + off, 0, start - off);
	if (madvise(m->mem + start, end - start, MADV_DONTNEED))
		memset(m->mem + start, 0, end - start);
	memset(m->mem + end, 0, off + len - end);
}

static int malloc_submit(struct blk_io *io)
{
	struct blk_malloc *m = io->bdev->priv;

	switch (io->type) {
	case BLK_IO_READ:
		blk_buf_to_iov(io->iov, io->iovcnt, 0, m->mem + io->offset, io->len);
		break;
	case BLK_IO_WRITE:
		blk_iov_to_buf(io->iov, io->iovcnt, 0, m->mem + io->offset, io->len);
		break;
	case BLK_IO_FLUSH:
		break;
	case BLK_IO_DISCARD:
		malloc_zero(m, io->offset, io->len, true);
		break;
	case BLK_IO_WRITE_ZEROES:
		malloc_zero(m, io->offset, io->len, false);
		break;
	default:
		return -EINVAL;
	}
	blk_io_complete(io, 0);
	return 0;
}

static void malloc_destroy(struct blk_bdev *b)
{
	struct blk_malloc *m = b->priv;

	munmap(m->mem, m->size);
	blk_bdev_fini(b);
	free(m);
}

static void malloc_dump_config(const struct blk_bdev *b, struct json_object *params)
{
	json_object_object_add(params, "size", json_object_new_int64((int64_t)blk_bdev_size(b)));
	json_object_object_add(params, "block_size", json_object_new_int((int)b->block_size));
}

static const struct blk_bdev_ops malloc_ops = {
	.type = "malloc",
	.ctx_size = 0,
	.submit = malloc_submit,
	.destroy = malloc_destroy,
	.dump_config = malloc_dump_config,
};

int blk_malloc_create(const char *name, uint64_t size, uint32_t block_size, struct blk_bdev **out)
{
	struct blk_malloc *m;
	int ret;

	if (!block_size)
		block_size = 512;
	if (!blk_block_size_valid(block_size) || size == 0 || size % block_size ||
	    size > (uint64_t)SIZE_MAX / 2)
		return -EINVAL;
	if (blk_bdev_find(name))
		return -EEXIST;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	ret = blk_bdev_init(&m->bdev, name, &malloc_ops, block_size, size / block_size);
	if (ret)
		goto err_free;
	m->size = size;
	m->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		      -1, 0);
	if (m->mem == MAP_FAILED) {
		ret = vsl_neg_errno();
		goto err_fini;
	}
	m->bdev.priv = m;
	m->bdev.caps = BLK_CAP_FLUSH | BLK_CAP_DISCARD | BLK_CAP_WRITE_ZEROES | BLK_CAP_FUA;
	ret = blk_bdev_register(&m->bdev);
	if (ret)
		goto err_unmap;
	*out = &m->bdev;
	return 0;

err_unmap:
	munmap(m->mem, size);
err_fini:
	blk_bdev_fini(&m->bdev);
err_free:
	free(m);
	return ret;
}
