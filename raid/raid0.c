/* raid0.c — RAID0 (striping) data path.
 *
 * Address map: set offset o lies in strip k = o / strip_size, on member
 * k % n, at member offset data_offset + (k / n) * strip_size + o % strip_size.
 *
 * A request is cut on strip boundaries into segments; up to RAID0_SLOTS
 * segments are in flight at once (each slot holds the segment's slice of the
 * caller's iovec), and every completion refills its slot, so a large request
 * streams through all members in parallel without allocating. Discard and
 * write-zeroes are cut the same way; flush goes to every member. The first
 * error stops issuing and is the request's status.
 */
#include <errno.h>
#include <string.h>

#include "raid_internal.h"
#include "vsl_util.h"

enum {
	RAID0_SLOTS = 4,
	RAID0_SEG_IOV = 2,
};

struct raid0_seg {
	struct iovec iov[RAID0_SEG_IOV];
	int iovcnt;
	uint8_t member;
};

struct raid0_io {
	struct blk_io *io;
	struct raid_set *set;
	uint64_t next;           /* request bytes issued so far */
	unsigned pending;
	int status;
	uint32_t busy;           /* slots in use */
	uint8_t idx[RAID_MAX_MEMBERS];
	struct raid0_seg seg[RAID0_SLOTS];
};
_Static_assert(sizeof(struct raid0_io) <= BLK_IO_CTX_MAX, "RAID0 context too large");

/* The map, exposed for tests. */
void raid0_map(const struct raid_set *s, uint64_t off, unsigned *member, uint64_t *member_off,
	       uint64_t *seg_max);
void raid0_map(const struct raid_set *s, uint64_t off, unsigned *member, uint64_t *member_off,
	       uint64_t *seg_max)
{
	uint64_t strip = off >> s->strip_shift, in = off & (s->strip_size - 1);

	*member = (unsigned)(strip % s->n);
	*member_off = s->data_offset + ((strip / s->n) << s->strip_shift) + in;
	*seg_max = s->strip_size - in;
}

static struct raid0_io *rio_of_idx(void *arg, unsigned *i)
{
	uint8_t *p = arg;

	*i = *p;
	return VSL_CONTAINER_OF(p - *p, struct raid0_io, idx[0]);
}

/* Fills seg->iov with the request's bytes [skip, skip + len), at most
 * RAID0_SEG_IOV entries; returns the bytes covered, a block multiple. */
static uint64_t slice_iov(const struct blk_io *io, uint64_t skip, uint64_t len,
			  struct raid0_seg *seg, uint32_t block_size)
{
	uint64_t got = 0;

	seg->iovcnt = 0;
	for (int i = 0; i < io->iovcnt && got < len && seg->iovcnt < RAID0_SEG_IOV; i++) {
		uint64_t n = io->iov[i].iov_len;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		n = VSL_MIN(n - skip, len - got);
		seg->iov[seg->iovcnt].iov_base = (char *)io->iov[i].iov_base + skip;
		seg->iov[seg->iovcnt].iov_len = n;
		seg->iovcnt++;
		got += n;
		skip = 0;
	}
	if (got < len) {
		/* Out of entries: stop at a block boundary, trimming the last one. */
		uint64_t keep = got & ~(uint64_t)(block_size - 1), cut = got - keep;

		while (cut && seg->iovcnt) {
			struct iovec *v = &seg->iov[seg->iovcnt - 1];

			if (v->iov_len > cut) {
				v->iov_len -= cut;
				cut = 0;
			} else {
				cut -= v->iov_len;
				seg->iovcnt--;
			}
		}
		got = keep;
	}
	return got;
}

static void raid0_done(void *arg, int status);

/* Issues segments into free slots. Returns -ENOMEM when a member is out of
 * contexts (the caller decides whether to retry), else 0. */
static int raid0_pump(struct raid0_io *rio)
{
	struct blk_io *io = rio->io;
	struct raid_set *s = rio->set;
	bool rw = io->type == BLK_IO_READ || io->type == BLK_IO_WRITE;

	while (!rio->status && rio->next < io->len && rio->busy != (1u << RAID0_SLOTS) - 1) {
		unsigned slot = (unsigned)__builtin_ctz(~rio->busy), member;
		struct raid0_seg *seg = &rio->seg[slot];
		uint64_t moff, max, len;
		int ret;

		raid0_map(s, io->offset + rio->next, &member, &moff, &max);
		len = VSL_MIN(max, io->len - rio->next);
		if (rw) {
			len = slice_iov(io, rio->next, len, seg, s->bdev.block_size);
			if (!len) {
				rio->status = -EINVAL;    /* iovec entries below a block */
				break;
			}
		}
		seg->member = (uint8_t)member;
		ret = blk_bdev_submit(s->m[member].bdev, io->reactor, io->type, 0, moff, len,
				      rw ? seg->iov : NULL, rw ? seg->iovcnt : 0, raid0_done,
				      &rio->idx[slot]);
		if (ret == -ENOMEM)
			return -ENOMEM;
		if (ret) {
			rio->status = ret;
			break;
		}
		atomic_fetch_add(&s->m[member].outstanding, 1);
		rio->busy |= 1u << slot;
		rio->pending++;
		rio->next += len;
	}
	return 0;
}

static void raid0_retry(void *arg)
{
	struct raid0_io *rio = arg;

	if (raid0_pump(rio) == -ENOMEM && !rio->pending && blk_reactor_send(rio->io->reactor,
									  raid0_retry, rio)) {
		rio->status = -ENOMEM;
	}
	if (!rio->pending && (rio->status || rio->next >= rio->io->len))
		blk_io_complete(rio->io, rio->status);
}

static void raid0_done(void *arg, int status)
{
	unsigned slot;
	struct raid0_io *rio = rio_of_idx(arg, &slot);
	struct raid_set *s = rio->set;
	unsigned member = rio->io->type == BLK_IO_FLUSH ? slot : rio->seg[slot].member;

	atomic_fetch_sub(&s->m[member].outstanding, 1);
	rio->pending--;
	if (rio->io->type == BLK_IO_FLUSH) {
		if (status && !rio->status)
			rio->status = status;
		if (!rio->pending)
			blk_io_complete(rio->io, rio->status);
		return;
	}
	rio->busy &= ~(1u << slot);
	if (status) {
		atomic_fetch_add(rio->io->type == BLK_IO_READ ? &s->m[member].read_errors
							       : &s->m[member].write_errors, 1);
		if (!rio->status)
			rio->status = status;
	}
	if (raid0_pump(rio) == -ENOMEM && !rio->pending) {
		/* Nothing in flight to call us back: retry from a message. */
		if (blk_reactor_send(rio->io->reactor, raid0_retry, rio) == 0)
			return;
		rio->status = -ENOMEM;
	}
	if (!rio->pending && (rio->status || rio->next >= rio->io->len))
		blk_io_complete(rio->io, rio->status);
}

static int raid0_flush(struct raid0_io *rio)
{
	struct raid_set *s = rio->set;

	rio->pending = 1;
	for (unsigned i = 0; i < s->n; i++) {
		int ret;

		if (!(s->m[i].bdev->caps & BLK_CAP_FLUSH))
			continue;
		ret = blk_bdev_flush(s->m[i].bdev, rio->io->reactor, raid0_done, &rio->idx[i]);
		if (ret == -ENOMEM && rio->pending == 1)
			return -ENOMEM;
		if (ret) {
			rio->status = ret;
			break;
		}
		atomic_fetch_add(&s->m[i].outstanding, 1);
		rio->pending++;
	}
	if (--rio->pending == 0) {
		if (rio->status)
			return rio->status;
		blk_io_complete(rio->io, 0);
	}
	return 0;
}

static int raid0_submit(struct blk_io *io)
{
	struct raid0_io *rio = blk_io_ctx(io);
	int ret;

	rio->io = io;
	rio->set = raid_set_of(io->bdev);
	rio->next = 0;
	rio->pending = 0;
	rio->status = 0;
	rio->busy = 0;
	for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++)
		rio->idx[i] = (uint8_t)i;
	/* A request that cannot finish issuing holds its context while it waits
	 * for its children's: keep a reserve so those always exist (see raid1.c). */
	if (blk_reactor_io_free(io->reactor) < 2 * RAID0_SLOTS + 2)
		return -ENOMEM;
	if (io->type == BLK_IO_FLUSH)
		return raid0_flush(rio);
	ret = raid0_pump(rio);
	/* Nothing started: refuse, the callback never fires. With segments in
	 * flight, their completions refill the slots (also after -ENOMEM). */
	if (!rio->pending)
		return ret ? ret : (rio->status ? rio->status : -EIO);
	return 0;
}

static uint64_t raid0_capacity(const struct raid_set *s)
{
	return s->data_size * s->n;
}

static const struct blk_bdev_ops raid0_bdev_ops = {
	.type = "raid0",
	.ctx_size = sizeof(struct raid0_io),
	.submit = raid0_submit,
	.destroy = raid_set_destroy_bdev,
	.dump_info = raid_set_dump_info,
	.save_config = raid_set_save_config,
	.busy = raid_set_busy_bdev,
};

const struct raid_level_ops raid0_ops = {
	.level = RAID_LEVEL_0,
	.bdev_ops = &raid0_bdev_ops,
	.capacity = raid0_capacity,
};
