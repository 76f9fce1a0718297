/* blk_image.c — image files from the control thread: image-create (raw and
 * qcow2), image-info, offline image-resize, and synchronous bdev I/O for the
 * image bdevs' open and resize paths.
 *
 * All of this is control path: plain pread/pwrite on files, or blocking waits
 * for I/O run on reactor 0. The data path never comes here.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_image.h"
#include "blk_image_internal.h"
#include "blk_internal.h"
#include "vsl_log.h"
#include "vsl_time.h"
#include "vsl_util.h"

VSL_LOG_MODULE(image);

/* aligned_alloc wants a size that is a multiple of the alignment. */
void *blk_img_alloc(uint64_t size)
{
	return aligned_alloc(4096, (size + 4095) & ~4095ull);
}

int blk_image_err(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* ------------------------------------------------------------ sync I/O */

struct sync_req {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int status;
	struct blk_bdev *b;
	struct blk_reactor *r;
	enum blk_io_type type;
	uint64_t off, len;
	struct iovec iov;
};

static void sync_done(void *arg, int status)
{
	struct sync_req *s = arg;

	pthread_mutex_lock(&s->lock);
	s->status = status;
	s->done = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void sync_submit_msg(void *arg)
{
	struct sync_req *s = arg;
	int ret = blk_bdev_submit(s->b, s->r, s->type, 0, s->off, s->len,
				  s->iov.iov_base ? &s->iov : NULL, s->iov.iov_base ? 1 : 0,
				  sync_done, s);

	/* Out of slots: try again on a later pass of the reactor's queue. */
	if (ret == -ENOMEM && blk_reactor_send(s->r, sync_submit_msg, s) == 0)
		return;
	if (ret)
		sync_done(s, ret);
}

int blk_image_sync_io(struct blk_bdev *b, enum blk_io_type type, uint64_t offset, void *buf,
		      uint64_t len)
{
	struct sync_req s = { .b = b, .type = type, .off = offset, .len = len,
			      .iov = { buf, len } };
	struct blk_reactor *self = blk_reactor_self();
	int ret;

	if (type != BLK_IO_READ && type != BLK_IO_WRITE)
		s.iov.iov_base = NULL;
	if (blk_reactor_count() && !self) {
		/* The control thread: run it on reactor 0 and wait. */
		pthread_mutex_init(&s.lock, NULL);
		pthread_cond_init(&s.cond, NULL);
		s.r = blk_reactor_get(0);
		ret = blk_reactor_send(s.r, sync_submit_msg, &s);
		if (!ret) {
			pthread_mutex_lock(&s.lock);
			while (!s.done)
				pthread_cond_wait(&s.cond, &s.lock);
			pthread_mutex_unlock(&s.lock);
			ret = s.status;
		}
		pthread_cond_destroy(&s.cond);
		pthread_mutex_destroy(&s.lock);
		return ret;
	}
	if (!self) {
		/* No reactor at all (blockd's shutdown deletes bdevs after the
		 * reactors are gone): a temporary one on this thread. */
		struct blk_reactor *tmp = blk_reactor_create(BLK_MAX_REACTORS - 1, 16, 16);

		if (!tmp)
			return -ENOMEM;
		blk_reactor_poll(tmp, 0);
		ret = blk_image_sync_io(b, type, offset, buf, len);
		blk_reactor_destroy(tmp);
		return ret;
	}
	/* No reactor threads (unit tests): drive the caller's reactor. */
	s.r = self;
	do {
		ret = blk_bdev_submit(b, self, type, 0, offset, len, s.iov.iov_base ? &s.iov : NULL,
				      s.iov.iov_base ? 1 : 0, sync_done, &s);
		if (ret == -ENOMEM)
			blk_reactor_poll(self, 1);
	} while (ret == -ENOMEM);
	if (ret)
		return ret;
	while (!s.done)
		blk_reactor_poll(self, 10);
	return s.status;
}

/* ------------------------------------------------------ image I/O adapters */

static int fd_rw(struct blk_img_io *io, bool wr, uint64_t off, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = wr ? pwrite(io->fd, (char *)buf + done, len - done, (off_t)(off + done))
			       : pread(io->fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0)
			return vsl_neg_errno();
		if (n == 0) {
			if (wr)
				return -EIO;
			memset((char *)buf + done, 0, len - done);   /* past EOF reads zeroes */
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

static int bdev_rw(struct blk_img_io *io, bool wr, uint64_t off, void *buf, size_t len)
{
	uint64_t bs = blk_bdev_block_size(io->bdev);
	uint64_t a = off & ~(bs - 1), e = (off + len + bs - 1) & ~(bs - 1);
	void *tmp;
	int ret;

	if (a == off && e == off + len && ((uintptr_t)buf & 4095) == 0)
		return blk_image_sync_io(io->bdev, wr ? BLK_IO_WRITE : BLK_IO_READ, off, buf, len);
	tmp = blk_img_alloc((e - a + 4095) & ~4095ull);
	if (!tmp)
		return -ENOMEM;
	ret = blk_image_sync_io(io->bdev, BLK_IO_READ, a, tmp, e - a);
	if (!ret) {
		if (wr) {
			memcpy((char *)tmp + (off - a), buf, len);
			ret = blk_image_sync_io(io->bdev, BLK_IO_WRITE, a, tmp, e - a);
		} else {
			memcpy(buf, (char *)tmp + (off - a), len);
		}
	}
	free(tmp);
	return ret;
}

int blk_img_io_rw(struct blk_img_io *io, bool wr, uint64_t off, void *buf, size_t len)
{
	return io->bdev ? bdev_rw(io, wr, off, buf, len) : fd_rw(io, wr, off, buf, len);
}

int blk_img_io_flush(struct blk_img_io *io)
{
	if (io->bdev)
		return (blk_bdev_caps(io->bdev) & BLK_CAP_FLUSH)
			       ? blk_image_sync_io(io->bdev, BLK_IO_FLUSH, 0, NULL, 0)
			       : 0;
	return fdatasync(io->fd) < 0 ? vsl_neg_errno() : 0;
}

/* ------------------------------------------------------- offline qcow2 */

/* Reads and parses the header (whole first cluster) through io. */
int blk_img_read_hdr(struct blk_img_io *io, bool for_write, struct blk_qcow2_hdr *h, char *err,
		     size_t errlen)
{
	size_t len = 4096;
	void *buf = NULL;
	int ret;

	for (int pass = 0; pass < 2; pass++) {
		free(buf);
		buf = blk_img_alloc(len);
		if (!buf)
			return -ENOMEM;
		if (len > io->size) {
			memset(buf, 0, len);
		}
		ret = blk_img_io_rw(io, false, 0, buf, VSL_MIN(len, io->size & ~511ull));
		if (ret) {
			blk_image_err(err, errlen, ret, "cannot read the header: %s", strerror(-ret));
			break;
		}
		ret = blk_qcow2_hdr_parse(buf, VSL_MIN(len, io->size), io->size, for_write, h, err,
					  errlen);
		if (ret != -EAGAIN || pass)
			break;
		len = (size_t)h->cluster_size;    /* validated: at most 2 MiB */
	}
	if (ret == -EAGAIN)
		ret = blk_image_err(err, errlen, -EINVAL, "header extends past the end of the file");
	free(buf);
	return ret;
}

/* Reads a refcount block, or zeroes for a missing one. */
static int rb_load(struct blk_img_io *io, const struct blk_qcow2_hdr *h, uint64_t rb, void *buf)
{
	if (!rb) {
		memset(buf, 0, h->cluster_size);
		return 0;
	}
	return blk_img_io_rw(io, false, rb, buf, h->cluster_size);
}

/* Allocates one cluster at *end (sequentially, creating self-describing
 * refcount blocks as needed) and gives it refcount 1. reft is the in-memory
 * refcount table in disk order. Returns 0 and *out, or -errno. */
int blk_img_alloc_cluster(struct blk_img_io *io, const struct blk_qcow2_hdr *h, uint64_t *reft,
			  uint64_t *end, uint64_t *out)
{
	uint64_t nreft = (uint64_t)h->reftable_clusters * h->cluster_size / 8;
	uint64_t cs = h->cluster_size, c, ri, rb;
	void *buf = blk_img_alloc(cs);
	int ret;

	if (!buf)
		return -ENOMEM;
	c = *end;
	ri = blk_qcow2_reft_index(h, c);
	if (ri >= nreft) {
		ret = -ENOSPC;
		goto out;
	}
	rb = be64toh(reft[ri]);
	if (!rb) {
		/* The new refcount block describes itself. */
		memset(buf, 0, cs);
		blk_qcow2_refcount_set(buf, h->refcount_order, blk_qcow2_rb_index(h, c), 1);
		ret = blk_img_io_rw(io, true, c, buf, cs);
		if (!ret)
			ret = blk_img_io_flush(io);
		if (ret)
			goto out;
		reft[ri] = htobe64(c);
		ret = blk_img_io_rw(io, true, h->reftable_offset + ri * 8, &reft[ri], 8);
		if (!ret)
			ret = blk_img_io_flush(io);
		if (ret)
			goto out;
		rb = c;
		c += cs;
		*end = c;
		if (blk_qcow2_reft_index(h, c) != ri) {
			ret = -ENOSPC;
			goto out;
		}
	}
	ret = rb_load(io, h, rb, buf);
	if (ret)
		goto out;
	if (blk_qcow2_refcount_get(buf, h->refcount_order, blk_qcow2_rb_index(h, c))) {
		ret = -EIO;     /* a cluster past the end that is in use: corrupt */
		goto out;
	}
	blk_qcow2_refcount_set(buf, h->refcount_order, blk_qcow2_rb_index(h, c), 1);
	ret = blk_img_io_rw(io, true, rb, buf, cs);
	if (ret)
		goto out;
	*end = c + cs;
	*out = c;
out:
	free(buf);
	return ret;
}

/* Sets a cluster's refcount to 0 (freeing the old L1 after a resize). */
static int free_cluster(struct blk_img_io *io, const struct blk_qcow2_hdr *h, const uint64_t *reft,
			uint64_t c)
{
	uint64_t rb = be64toh(reft[blk_qcow2_reft_index(h, c)]);
	void *buf;
	int ret;

	if (!rb)
		return 0;
	buf = blk_img_alloc(h->cluster_size);
	if (!buf)
		return -ENOMEM;
	ret = rb_load(io, h, rb, buf);
	if (!ret) {
		blk_qcow2_refcount_set(buf, h->refcount_order, blk_qcow2_rb_index(h, c), 0);
		ret = blk_img_io_rw(io, true, rb, buf, h->cluster_size);
	}
	free(buf);
	return ret;
}

/* The end of the used part of a qcow2 image: past the last cluster with a
 * non-zero refcount. */
int blk_img_scan_end(struct blk_img_io *io, const struct blk_qcow2_hdr *h, const uint64_t *reft,
		     uint64_t *end)
{
	uint64_t nreft = (uint64_t)h->reftable_clusters * h->cluster_size / 8;
	uint64_t last = 0;
	void *buf = blk_img_alloc(h->cluster_size);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t i = 0; i < nreft && !ret; i++) {
		uint64_t rb = be64toh(reft[i]);

		if (!rb)
			continue;
		ret = rb_load(io, h, rb, buf);
		for (uint64_t j = 0; !ret && j < (1ull << h->rb_bits); j++)
			if (blk_qcow2_refcount_get(buf, h->refcount_order, j))
				last = ((i << h->rb_bits) + j + 1) << h->cluster_bits;
	}
	free(buf);
	*end = last;
	return ret;
}

int blk_img_load_table(struct blk_img_io *io, uint64_t off, uint64_t bytes, uint64_t **out)
{
	uint64_t alloc = (bytes + 4095) & ~4095ull;
	uint64_t *t = blk_img_alloc(alloc ? alloc : 4096);
	int ret;

	if (!t)
		return -ENOMEM;
	memset(t, 0, alloc ? alloc : 4096);
	ret = bytes ? blk_img_io_rw(io, false, off, t, bytes) : 0;
	if (ret) {
		free(t);
		return ret;
	}
	*out = t;
	return 0;
}

/* Grows a qcow2 image through io: the header's size, and when the L1 table
 * must grow, a new table written beside the old one first and the header
 * flipped to it (one 512-byte write), then the old table freed. *h is
 * updated. l1/reft: in-memory tables in disk order (*l1 replaced on growth). */
int blk_img_qcow2_grow(struct blk_img_io *io, struct blk_qcow2_hdr *h, uint64_t **l1,
		       uint64_t *reft, uint64_t *end, uint64_t size, char *err, size_t errlen)
{
	uint64_t cs = h->cluster_size, cover = 1ull << (h->cluster_bits + h->l2_bits);
	uint64_t need = (size + cover - 1) / cover, new_l1_off = h->l1_offset;
	uint64_t old_clusters = ((uint64_t)h->l1_size * 8 + cs - 1) / cs, new_clusters;
	uint64_t *nl1 = NULL;
	uint8_t sec[512];
	uint32_t l1_size = h->l1_size;
	int ret;

	if (size < h->size)
		return blk_image_err(err, errlen, -ENOTSUP, "shrinking an image is not supported");
	if (size % 512 || size > BLK_QCOW2_MAX_SIZE)
		return blk_image_err(err, errlen, -EINVAL, "size must be a multiple of 512");
	if (need > BLK_QCOW2_MAX_L1_ENTRIES)
		return blk_image_err(err, errlen, -EINVAL, "size too large for the cluster size");
	if (need > h->l1_size) {
		new_clusters = (need * 8 + cs - 1) / cs;
		nl1 = blk_img_alloc(new_clusters * cs);
		if (!nl1)
			return -ENOMEM;
		memset(nl1, 0, new_clusters * cs);
		memcpy(nl1, *l1, (uint64_t)h->l1_size * 8);
		for (uint64_t i = 0; i < new_clusters; i++) {
			uint64_t c;

			ret = blk_img_alloc_cluster(io, h, reft, end, &c);
			if (ret)
				goto err;
			if (i == 0)
				new_l1_off = c;
			else if (c != new_l1_off + i * cs) {
				/* A refcount block landed inside: start the table after it. */
				ret = blk_image_err(err, errlen, -ENOSPC,
						    "cannot place a contiguous L1 table; retry");
				goto err;
			}
		}
		ret = blk_img_io_rw(io, true, new_l1_off, nl1, new_clusters * cs);
		if (!ret)
			ret = blk_img_io_flush(io);
		if (ret)
			goto err;
		l1_size = (uint32_t)need;
	}
	/* The flip: size, l1_size and l1_offset live in the first 512 bytes. */
	ret = blk_img_io_rw(io, false, 0, sec, sizeof(sec));
	if (ret)
		goto err;
	{
		uint64_t v64 = htobe64(size), o64 = htobe64(new_l1_off);
		uint32_t v32 = htobe32(l1_size);

		memcpy(sec + 24, &v64, 8);
		memcpy(sec + 36, &v32, 4);
		memcpy(sec + 40, &o64, 8);
	}
	ret = blk_img_io_rw(io, true, 0, sec, sizeof(sec));
	if (!ret)
		ret = blk_img_io_flush(io);
	if (ret)
		goto err;
	if (new_l1_off != h->l1_offset) {
		/* A crash before this leaks the old table, nothing worse. */
		for (uint64_t i = 0; i < old_clusters; i++)
			free_cluster(io, h, reft, h->l1_offset + i * cs);
		blk_img_io_flush(io);
		free(*l1);
		*l1 = nl1;
		nl1 = NULL;
	}
	h->size = size;
	h->l1_size = l1_size;
	h->l1_offset = new_l1_off;
	h->l1_needed = need;
	return 0;
err:
	free(nl1);
	if (err && !err[0])
		blk_image_err(err, errlen, ret, "resize failed: %s", strerror(-ret));
	return ret;
}

/* ----------------------------------------------------------- image-info */

int blk_image_info_path(const char *path, struct blk_image_info *info, char *err, size_t errlen)
{
	struct blk_img_io io = { .fd = -1 };
	struct stat st;
	uint32_t magic = 0;
	int ret;

	memset(info, 0, sizeof(*info));
	io.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (io.fd < 0)
		return blk_image_err(err, errlen, vsl_neg_errno(), "cannot open %s: %s", path,
				     strerror(errno));
	if (fstat(io.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = blk_image_err(err, errlen, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	io.size = info->file_size = (uint64_t)st.st_size;
	if (pread(io.fd, &magic, 4, 0) == 4 && be32toh(magic) == BLK_QCOW2_MAGIC) {
		ret = blk_img_read_hdr(&io, false, &info->q, err, errlen);
		if (ret)
			goto out;
		snprintf(info->format, sizeof(info->format), "qcow2");
		info->is_qcow2 = true;
		info->size = info->q.size;
	} else {
		snprintf(info->format, sizeof(info->format), "raw");
		info->size = info->file_size;
		ret = 0;
	}
out:
	close(io.fd);
	return ret;
}

/* --------------------------------------------------------- image-create */

/* A backing path relative to the overlay's directory, as qemu resolves it. */
void blk_image_backing_path(const char *image, const char *backing, char *out, size_t len)
{
	char dir[PATH_MAX];

	if (backing[0] == '/') {
		snprintf(out, len, "%s", backing);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", image);
	snprintf(out, len, "%s/%s", dirname(dir), backing);
}

int blk_image_create(const struct blk_image_create_opts *o, char *err, size_t errlen)
{
	bool qcow2;
	void *buf = NULL;
	size_t len = 0;
	uint64_t size = o->size;
	const char *bfmt = o->backing_fmt;
	int fd, ret;

	if (!o->path || !o->path[0])
		return blk_image_err(err, errlen, -EINVAL, "'path' is required");
	if (!o->format || (strcmp(o->format, "raw") && strcmp(o->format, "qcow2")))
		return blk_image_err(err, errlen, -EINVAL, "format must be raw or qcow2");
	qcow2 = !strcmp(o->format, "qcow2");
	if (!qcow2 && (o->backing || o->cluster_size))
		return blk_image_err(err, errlen, -EINVAL,
				     "'backing' and 'cluster_size' apply to qcow2 only");
	if (qcow2 && o->preallocate)
		return blk_image_err(err, errlen, -ENOTSUP,
				     "preallocation applies to raw images only");
	if (o->cluster_size && (o->cluster_size & (o->cluster_size - 1)))
		return blk_image_err(err, errlen, -EINVAL, "cluster_size must be a power of two");
	if (o->backing) {
		struct blk_image_info bi;
		char bpath[PATH_MAX];

		blk_image_backing_path(o->path, o->backing, bpath, sizeof(bpath));
		ret = blk_image_info_path(bpath, &bi, err, errlen);
		if (ret)
			return ret;
		if (!size)
			size = bi.size;
		if (!bfmt)
			bfmt = bi.is_qcow2 ? "qcow2" : "raw";
	}
	if (!size || size % 512)
		return blk_image_err(err, errlen, -EINVAL,
				     "size must be a non-zero multiple of 512 (got %" PRIu64 ")",
				     size);
	if (qcow2) {
		struct blk_qcow2_new n = {
			.size = size,
			.cluster_bits = o->cluster_size ? (uint32_t)__builtin_ctz(o->cluster_size) : 0,
			.backing = o->backing,
			.backing_fmt = bfmt,
		};

		if (o->cluster_size && (o->cluster_size < 512 || o->cluster_size > (2u << 20)))
			return blk_image_err(err, errlen, -EINVAL,
					     "cluster_size must be 512..2M");
		ret = blk_qcow2_layout(&n, &buf, &len, err, errlen);
		if (ret)
			return ret;
	}
	fd = open(o->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = blk_image_err(err, errlen, vsl_neg_errno(), "cannot create %s: %s", o->path,
				    strerror(errno));
		free(buf);
		return ret;
	}
	if (qcow2) {
		struct blk_img_io io = { .fd = fd, .size = len };

		ret = blk_img_io_rw(&io, true, 0, buf, len);
	} else {
		ret = ftruncate(fd, (off_t)size) < 0 ? vsl_neg_errno() : 0;
		if (!ret && o->preallocate && (ret = posix_fallocate(fd, 0, (off_t)size)) != 0)
			ret = -ret;
	}
	if (!ret && fsync(fd) < 0)
		ret = vsl_neg_errno();
	close(fd);
	free(buf);
	if (ret) {
		unlink(o->path);
		return blk_image_err(err, errlen, ret, "cannot write %s: %s", o->path,
				     strerror(-ret));
	}
	VSL_INFO("image %s created: %s, %" PRIu64 " bytes", o->path, o->format, size);
	return 0;
}

/* --------------------------------------------------------- image-resize */

int blk_image_resize_path(const char *path, uint64_t size, char *err, size_t errlen)
{
	struct blk_image_info info;
	struct blk_img_io io = { .fd = -1 };
	uint64_t *l1 = NULL, *reft = NULL, end;
	int ret;

	ret = blk_image_info_path(path, &info, err, errlen);
	if (ret)
		return ret;
	io.fd = open(path, O_RDWR | O_CLOEXEC);
	if (io.fd < 0)
		return blk_image_err(err, errlen, vsl_neg_errno(), "cannot open %s", path);
	io.size = info.file_size;
	if (!info.is_qcow2) {
		if (size < info.size)
			ret = blk_image_err(err, errlen, -ENOTSUP,
					    "shrinking an image is not supported");
		else if (ftruncate(io.fd, (off_t)size) < 0)
			ret = blk_image_err(err, errlen, vsl_neg_errno(), "truncate: %s",
					    strerror(errno));
		goto out;
	}
	ret = blk_img_read_hdr(&io, true, &info.q, err, errlen);
	if (ret)
		goto out;
	ret = blk_img_load_table(&io, info.q.l1_offset, (uint64_t)info.q.l1_size * 8, &l1);
	if (!ret)
		ret = blk_img_load_table(&io, info.q.reftable_offset,
					 (uint64_t)info.q.reftable_clusters * info.q.cluster_size,
					 &reft);
	if (!ret)
		ret = blk_img_scan_end(&io, &info.q, reft, &end);
	if (ret) {
		blk_image_err(err, errlen, ret, "cannot read the image's tables");
		goto out;
	}
	if (err)
		err[0] = '\0';
	ret = blk_img_qcow2_grow(&io, &info.q, &l1, reft, &end, size, err, errlen);
out:
	free(l1);
	free(reft);
	close(io.fd);
	return ret;
}
