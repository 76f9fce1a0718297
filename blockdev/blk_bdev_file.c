/* blk_bdev_file.c — a bdev on a regular file or a block device, through the
 * submitting reactor's io_uring: READV/WRITEV (RWF_DSYNC for FUA), FSYNC
 * (datasync) for flush, FALLOCATE for discard and write-zeroes.
 *
 * Write-zeroes tries FALLOC_FL_ZERO_RANGE, then FALLOC_FL_PUNCH_HOLE (which
 * also reads back as zeroes), then plain writes of a zero buffer; a step the
 * file system refused once is skipped for the rest of the bdev's life. Discard
 * is advisory: where punching holes is not supported it succeeds doing nothing.
 *
 * A single-buffer read or write into memory the reactor has registered (the
 * guest memory of a vhost-user-blk device) goes as READ_FIXED/WRITE_FIXED: the
 * kernel then neither copies an iovec in nor pins the pages per I/O. The file
 * is opened O_NOATIME where we own it.
 *
 * With O_DIRECT ("direct": true) the block size defaults to 4096 on a file (the
 * logical block size on a block device) and callers must use buffers aligned
 * to it; the NBD export's buffers are page-aligned.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_internal.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(bdev_file);

enum {
	ZERO_BUF_SIZE = 1 << 20,
	RESUBMIT_IOV = 12,           /* iovecs a short transfer can be continued with */
};

/* How write-zeroes is done; only ever moves down (control and reactors read it
 * racily, which at worst retries a refused step once more). */
enum zero_mode { ZERO_RANGE, ZERO_PUNCH, ZERO_WRITE };

struct blk_file {
	struct blk_bdev bdev;
	int fd;
	bool direct;
	bool blockdev;
	_Atomic int zero_mode;
	_Atomic bool no_punch;
	void *zero_buf;              /* ZERO_BUF_SIZE of zeroes, page-aligned */
	char path[4096];
};

struct file_ctx {
	struct blk_uring_op op;
	struct blk_io *io;
	enum zero_mode zmode;        /* step in progress for write-zeroes */
	uint64_t done;               /* bytes transferred so far (short I/O, ZERO_WRITE) */
	struct iovec ziov;
	struct iovec tiov[RESUBMIT_IOV];   /* the rest of a short read or write */
};

static struct vsl_ratelimit short_rl = VSL_RATELIMIT_INIT(10, 5);

static int zero_step(struct file_ctx *c);

/* A read or write that transferred less than asked (a signal, a network file
 * system, the end of a block device that shrank) continues with the rest. */
static int rw_continue(struct file_ctx *c)
{
	struct blk_io *io = c->io;
	struct blk_file *f = io->bdev->priv;
	struct io_uring_sqe *sqe;
	uint64_t skip = c->done;
	unsigned n = 0;

	for (int i = 0; i < io->iovcnt; i++) {
		size_t len = io->iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		if (n == RESUBMIT_IOV)
			return -EIO;
		c->tiov[n].iov_base = (char *)io->iov[i].iov_base + skip;
		c->tiov[n++].iov_len = len - skip;
		skip = 0;
	}
	sqe = blk_reactor_sqe(io->reactor, &c->op);
	if (!sqe)
		return -EAGAIN;
	if (io->type == BLK_IO_READ) {
		io_uring_prep_readv(sqe, f->fd, c->tiov, n, io->offset + c->done);
	} else {
		io_uring_prep_writev(sqe, f->fd, c->tiov, n, io->offset + c->done);
		if (io->flags & BLK_IO_F_FUA)
			sqe->rw_flags = RWF_DSYNC;
	}
	return 0;
}

static void file_done(struct blk_uring_op *op, int res)
{
	struct file_ctx *c = VSL_CONTAINER_OF(op, struct file_ctx, op);
	struct blk_io *io = c->io;
	struct blk_file *f = io->bdev->priv;
	int ret;

	switch (io->type) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		if (res > 0 && c->done + (uint64_t)res < io->len) {
			c->done += (uint64_t)res;
			ret = rw_continue(c);
			if (!ret)
				return;
			res = ret;
		} else if (res == 0) {
			/* End of file inside the device: the file shrank under us. */
			VSL_WARN_RL(&short_rl, "%s: end of file at %" PRIu64 " (%s)", f->bdev.name,
				    io->offset + c->done, f->path);
			res = -EIO;
		}
		break;
	case BLK_IO_DISCARD:
		if (res == -EOPNOTSUPP || res == -EINVAL) {
			atomic_store(&f->no_punch, true);
			res = 0;
		}
		break;
	case BLK_IO_WRITE_ZEROES:
		if (c->zmode == ZERO_WRITE && res >= 0) {
			c->done += (uint64_t)res;
			if (res == 0)
				res = -EIO;
			else if (c->done < io->len)
				goto next_step;
			else
				res = 0;
		} else if ((res == -EOPNOTSUPP || res == -EINVAL) && c->zmode != ZERO_WRITE) {
			c->zmode++;
			atomic_store(&f->zero_mode, (int)c->zmode);
			goto next_step;
		}
		break;
	default:
		break;
	}
	blk_io_complete(io, res < 0 ? res : 0);
	return;

next_step:
	ret = zero_step(c);
	if (ret)
		blk_io_complete(io, ret == -ENOMEM ? -EAGAIN : ret);
}

/* Submits the current write-zeroes step. A step after the first runs from a
 * completion, where -ENOMEM cannot be handed back: it then fails with EAGAIN
 * (rings are sized so that this does not happen in practice). */
static int zero_step(struct file_ctx *c)
{
	struct blk_io *io = c->io;
	struct blk_file *f = io->bdev->priv;
	struct io_uring_sqe *sqe = blk_reactor_sqe(io->reactor, &c->op);
	uint64_t n;

	if (!sqe)
		return -ENOMEM;
	switch (c->zmode) {
	case ZERO_RANGE:
		io_uring_prep_fallocate(sqe, f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					io->offset, io->len);
		break;
	case ZERO_PUNCH:
		io_uring_prep_fallocate(sqe, f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					io->offset, io->len);
		break;
	case ZERO_WRITE:
		n = VSL_MIN(io->len - c->done, (uint64_t)ZERO_BUF_SIZE);
		c->ziov.iov_base = f->zero_buf;
		c->ziov.iov_len = n;
		io_uring_prep_writev(sqe, f->fd, &c->ziov, 1, io->offset + c->done);
		break;
	}
	return 0;
}

static int file_submit(struct blk_io *io)
{
	struct blk_file *f = io->bdev->priv;
	struct file_ctx *c = blk_io_ctx(io);
	struct io_uring_sqe *sqe;
	int buf;

	c->op.fn = file_done;
	c->io = io;
	c->done = 0;
	if (io->type == BLK_IO_WRITE_ZEROES) {
		c->zmode = (enum zero_mode)atomic_load(&f->zero_mode);
		c->done = 0;
		return zero_step(c);
	}
	if (io->type == BLK_IO_DISCARD && atomic_load(&f->no_punch)) {
		blk_io_complete(io, 0);
		return 0;
	}
	sqe = blk_reactor_sqe(io->reactor, &c->op);
	if (!sqe)
		return -ENOMEM;
	switch (io->type) {
	case BLK_IO_READ:
		if (io->iovcnt == 1 &&
		    (buf = blk_reactor_buf_find(io->reactor, io->iov[0].iov_base,
						io->iov[0].iov_len)) >= 0)
			io_uring_prep_read_fixed(sqe, f->fd, io->iov[0].iov_base,
						 (unsigned)io->iov[0].iov_len, io->offset, buf);
		else
			io_uring_prep_readv(sqe, f->fd, io->iov, (unsigned)io->iovcnt, io->offset);
		break;
	case BLK_IO_WRITE:
		if (io->iovcnt == 1 &&
		    (buf = blk_reactor_buf_find(io->reactor, io->iov[0].iov_base,
						io->iov[0].iov_len)) >= 0)
			io_uring_prep_write_fixed(sqe, f->fd, io->iov[0].iov_base,
						  (unsigned)io->iov[0].iov_len, io->offset, buf);
		else
			io_uring_prep_writev(sqe, f->fd, io->iov, (unsigned)io->iovcnt, io->offset);
		if (io->flags & BLK_IO_F_FUA)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case BLK_IO_FLUSH:
		io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_IO_DISCARD:
		io_uring_prep_fallocate(sqe, f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					io->offset, io->len);
		break;
	default:
		/* The SQE is already taken: make it a harmless no-op. */
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, NULL);
		return -EINVAL;
	}
	return 0;
}

static void file_destroy(struct blk_bdev *b)
{
	struct blk_file *f = b->priv;

	close(f->fd);
	free(f->zero_buf);
	blk_bdev_fini(b);
	free(f);
}

static void file_dump_config(const struct blk_bdev *b, struct json_object *params)
{
	const struct blk_file *f = b->priv;

	json_object_object_add(params, "path", json_object_new_string(f->path));
	json_object_object_add(params, "block_size", json_object_new_int((int)b->block_size));
	json_object_object_add(params, "direct", json_object_new_boolean(f->direct));
}

static void file_dump_info(const struct blk_bdev *b, struct json_object *info)
{
	const struct blk_file *f = b->priv;

	json_object_object_add(info, "path", json_object_new_string(f->path));
	json_object_object_add(info, "direct", json_object_new_boolean(f->direct));
	json_object_object_add(info, "block_device", json_object_new_boolean(f->blockdev));
}

static const struct blk_bdev_ops file_ops = {
	.type = "file",
	.ctx_size = sizeof(struct file_ctx),
	.submit = file_submit,
	.destroy = file_destroy,
	.dump_config = file_dump_config,
	.dump_info = file_dump_info,
};

int blk_file_create(const char *name, const struct blk_file_opts *o, struct blk_bdev **out)
{
	uint32_t bs = o->block_size;
	struct blk_file *f;
	struct stat st;
	uint64_t size;
	int ret;

	if (!o->path || !o->path[0] || strlen(o->path) >= sizeof(f->path))
		return -EINVAL;
	if (!blk_bdev_name_valid(name))
		return -EINVAL;
	if (blk_bdev_find(name))
		return -EEXIST;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	snprintf(f->path, sizeof(f->path), "%s", o->path);
	f->direct = o->direct;
	/* No access-time updates: every read would otherwise go through
	 * touch_atime(). Only the owner (or CAP_FOWNER) may ask for that. */
	f->fd = open(o->path, O_RDWR | O_CLOEXEC | O_NOATIME | (o->direct ? O_DIRECT : 0));
	if (f->fd < 0 && errno == EPERM)
		f->fd = open(o->path, O_RDWR | O_CLOEXEC | (o->direct ? O_DIRECT : 0));
	if (f->fd < 0) {
		ret = vsl_neg_errno();
		VSL_WARN("%s: cannot open %s: %s", name, o->path, strerror(-ret));
		goto err_free;
	}
	if (fstat(f->fd, &st) < 0) {
		ret = vsl_neg_errno();
		goto err_close;
	}
	if (S_ISBLK(st.st_mode)) {
		int lbs = 512;

		f->blockdev = true;
		if (ioctl(f->fd, BLKGETSIZE64, &size) < 0) {
			ret = vsl_neg_errno();
			goto err_close;
		}
		if (ioctl(f->fd, BLKSSZGET, &lbs) < 0)
			lbs = 512;
		if (!bs)
			bs = o->direct ? (uint32_t)lbs : 512;
		if (bs < (uint32_t)lbs && o->direct) {
			ret = -EINVAL;
			goto err_close;
		}
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
		if (!bs)
			bs = o->direct ? 4096 : 512;
	} else {
		ret = -EINVAL;
		goto err_close;
	}
	if (!blk_block_size_valid(bs) || size < bs) {
		ret = -EINVAL;
		goto err_close;
	}
	if (size % bs)
		VSL_WARN("%s: %s: ignoring the last %" PRIu64 " bytes (not a whole block)", name,
			 o->path, size % bs);
	if (posix_memalign(&f->zero_buf, 4096, ZERO_BUF_SIZE)) {
		ret = -ENOMEM;
		goto err_close;
	}
	memset(f->zero_buf, 0, ZERO_BUF_SIZE);
	ret = blk_bdev_init(&f->bdev, name, &file_ops, bs, size / bs);
	if (ret)
		goto err_zero;
	f->bdev.priv = f;
	f->bdev.caps = BLK_CAP_FLUSH | BLK_CAP_DISCARD | BLK_CAP_WRITE_ZEROES | BLK_CAP_FUA;
	ret = blk_bdev_register(&f->bdev);
	if (ret)
		goto err_fini;
	*out = &f->bdev;
	return 0;

err_fini:
	blk_bdev_fini(&f->bdev);
err_zero:
	free(f->zero_buf);
err_close:
	close(f->fd);
err_free:
	free(f);
	return ret;
}
