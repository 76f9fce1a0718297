/* raid1.c — RAID1 (n-way mirror) data path.
 *
 * A write-class request (write, discard, write-zeroes) is a small state
 * machine in its per-I/O context:
 *
 *   ADMIT        outside the rebuild window? (else park WINDOW); count it in
 *                flight and set its bitmap bits; bits not yet durable: park META
 *   ISSUE        one child per active or rebuilding member (a member out of I/O
 *                contexts: park RETRY and issue the rest later)
 *   FINISH_WAIT  a child failed: its member was failed; wait until that is
 *                durable (park META) before answering, so that no acknowledged
 *                write can be lost by trusting the failed member after a crash
 *   complete     0 when at least one member took it, else the error (EIO)
 *
 * Reads go to the active member with the fewest requests outstanding (ties
 * round-robin); during a resync only to the resync source. A read error fails
 * the member and the read is retried on another active member. Flushes go to
 * every member that is written.
 */
#include <errno.h>
#include <string.h>

#include "raid_internal.h"
#include "vsl_util.h"

/* Free contexts a write needs to be admitted: two per member (a member may
 * itself stack on a base) and two for a metadata write. */
static inline unsigned ctx_reserve(const struct raid_set *s)
{
	return 2 * s->n + 2;
}

enum raid1_phase {
	R1_ADMIT,
	R1_BITMAP_WAIT,
	R1_ISSUE,
	R1_FINISH_WAIT,
};

struct raid1_io {
	struct raid_io h;
	uint32_t to_issue;       /* members still to submit to */
	uint32_t ok, failed;     /* members that completed, that failed */
	uint32_t active;         /* writes: members active when issued */
	uint32_t tried;          /* reads: members tried */
	unsigned pending;        /* children in flight (+1 while issuing) */
	int error;               /* first child error */
	uint64_t fail_gen;       /* metadata gen recording the failures */
	uint8_t phase;
	uint8_t member;          /* reads: the member being read */
	bool admitted;           /* counted in flight and in the bitmap */
	bool issued;
	uint8_t idx[RAID_MAX_MEMBERS];
};
_Static_assert(sizeof(struct raid1_io) <= BLK_IO_CTX_MAX, "RAID1 context too large");

static struct raid1_io *rio_of_idx(void *arg, unsigned *i)
{
	uint8_t *p = arg;

	*i = *p;
	return VSL_CONTAINER_OF(p - *p, struct raid1_io, idx[0]);
}

static bool member_writable(int st)
{
	return st == RAID_MEMBER_ACTIVE || st == RAID_MEMBER_REBUILDING;
}

/* --------------------------------------------------------------- reads */

static void read_done(void *arg, int status);

/* Reserves (outstanding + 1) and returns the member to read, or -1. */
static int read_pick(struct raid_set *s, uint32_t tried)
{
	unsigned best = ~0u, best_out = ~0u, start = atomic_fetch_add(&s->rr, 1);

	for (unsigned k = 0; k < s->n; k++) {
		unsigned i = (start + k) % s->n, out;

		if ((tried & (1u << i)) || raid_member_state(s, i) != RAID_MEMBER_ACTIVE)
			continue;
		if (s->rb.resync_pending) {
			/* Members may differ in dirty regions: read the resync source. */
			for (i = 0; i < s->n; i++)
				if (!(tried & (1u << i)) && raid_member_state(s, i) == RAID_MEMBER_ACTIVE)
					break;
			best = i < s->n ? i : ~0u;
			break;
		}
		out = atomic_load_explicit(&s->m[i].outstanding, memory_order_relaxed);
		if (out < best_out) {
			best = i;
			best_out = out;
		}
	}
	if (best == ~0u)
		return -1;
	atomic_fetch_add(&s->m[best].outstanding, 1);
	/* Failed (and maybe being removed) since we looked: give it back. */
	if (raid_member_state(s, best) != RAID_MEMBER_ACTIVE) {
		atomic_fetch_sub(&s->m[best].outstanding, 1);
		return read_pick(s, tried | (1u << best));
	}
	return (int)best;
}

/* Returns 0 (submitted or completed) or -ENOMEM when nothing was started. */
static int read_issue(struct raid1_io *rio)
{
	struct blk_io *io = rio->h.io;
	struct raid_set *s = rio->h.set;
	int i, ret;

	for (;;) {
		i = read_pick(s, rio->tried);
		if (i < 0) {
			blk_io_complete(io, rio->error ? rio->error : -EIO);
			return 0;
		}
		rio->member = (uint8_t)i;
		ret = blk_bdev_submit(s->m[i].bdev, io->reactor, BLK_IO_READ, 0,
				      s->data_offset + io->offset, io->len, io->iov, io->iovcnt,
				      read_done, &rio->idx[i]);
		if (!ret)
			return 0;
		atomic_fetch_sub(&s->m[i].outstanding, 1);
		if (ret == -ENOMEM)
			return -ENOMEM;
		rio->tried |= 1u << i;
		rio->error = ret;
	}
}

static void read_done(void *arg, int status)
{
	unsigned i;
	struct raid1_io *rio = rio_of_idx(arg, &i);
	struct raid_set *s = rio->h.set;

	atomic_fetch_sub(&s->m[i].outstanding, 1);
	if (!status) {
		blk_io_complete(rio->h.io, 0);
		return;
	}
	rio->tried |= 1u << i;
	if (!rio->error)
		rio->error = status;
	raid_member_io_failed(s, i, rio->h.io->reactor, false, status);
	atomic_fetch_add(&s->read_retries, 1);
	if (read_issue(rio) == -ENOMEM) {
		pthread_mutex_lock(&s->lock);
		raid_chan_park_locked(s, &rio->h, RAID_WAIT_RETRY, 0);
		pthread_mutex_unlock(&s->lock);
		raid_chans_kick(s);
	}
}

/* -------------------------------------------------------------- writes */

static void write_issue(struct raid1_io *rio);

static void write_complete(struct raid1_io *rio)
{
	struct raid_set *s = rio->h.set;
	struct blk_io *io = rio->h.io;
	/* Only an active member makes a write good: a rebuilding one is not read.
	 * A flush is good unless every active member that took one failed it. */
	bool good = (rio->ok & rio->active) ||
		    (io->type == BLK_IO_FLUSH && !(rio->failed & rio->active) && !s->failed);
	int status = good ? 0 : (rio->error ? rio->error : -EIO);

	if (rio->admitted) {
		pthread_mutex_lock(&s->lock);
		if (rio->h.fprev)
			rio->h.fprev->fnext = rio->h.fnext;
		else
			s->inflight = rio->h.fnext;
		if (rio->h.fnext)
			rio->h.fnext->fprev = rio->h.fprev;
		raid_bitmap_end_write_locked(s, io->offset, io->len);
		pthread_mutex_unlock(&s->lock);
	}
	blk_io_complete(io, status);
}

static void write_finish(struct raid1_io *rio)
{
	struct raid_set *s = rio->h.set;

	if (rio->failed) {
		pthread_mutex_lock(&s->lock);
		if (s->meta.disk_gen < rio->fail_gen && !s->failed) {
			rio->phase = R1_FINISH_WAIT;
			raid_chan_park_locked(s, &rio->h, RAID_WAIT_META, rio->fail_gen);
			pthread_mutex_unlock(&s->lock);
			return;
		}
		pthread_mutex_unlock(&s->lock);
	}
	write_complete(rio);
}

static void write_done(void *arg, int status)
{
	unsigned i;
	struct raid1_io *rio = rio_of_idx(arg, &i);
	struct raid_set *s = rio->h.set;

	atomic_fetch_sub(&s->m[i].outstanding, 1);
	if (status) {
		uint64_t gen = raid_member_io_failed(s, i, rio->h.io->reactor, true, status);

		rio->failed |= 1u << i;
		if (gen > rio->fail_gen)
			rio->fail_gen = gen;
		if (!rio->error)
			rio->error = status;
	} else {
		rio->ok |= 1u << i;
	}
	if (--rio->pending == 0 && !rio->to_issue)
		write_finish(rio);
}

static void write_issue(struct raid1_io *rio)
{
	struct raid_set *s = rio->h.set;
	struct blk_io *io = rio->h.io;
	bool flush = io->type == BLK_IO_FLUSH, retry = false;

	if (!rio->issued) {
		rio->issued = true;
		rio->phase = R1_ISSUE;
		rio->to_issue = 0;
		for (unsigned i = 0; i < s->n; i++) {
			int st = raid_member_state(s, i);

			if (st == RAID_MEMBER_ACTIVE)
				rio->active |= 1u << i;
			if (member_writable(st) && (!flush || (s->m[i].bdev->caps & BLK_CAP_FLUSH)))
				rio->to_issue |= 1u << i;
		}
		if (!flush && (unsigned)__builtin_popcount(rio->active) < s->width)
			atomic_fetch_add(&s->degraded_writes, 1);
	}
	rio->pending++;
	for (unsigned i = 0; i < s->n && !retry; i++) {
		int ret;

		if (!(rio->to_issue & (1u << i)))
			continue;
		/* Counted before the state check: raid-remove sees it in flight. */
		atomic_fetch_add(&s->m[i].outstanding, 1);
		if (!member_writable(raid_member_state(s, i))) {
			atomic_fetch_sub(&s->m[i].outstanding, 1);
			rio->to_issue &= ~(1u << i);
			continue;
		}
		ret = blk_bdev_submit(s->m[i].bdev, io->reactor, io->type, 0,
				      flush ? 0 : s->data_offset + io->offset, flush ? 0 : io->len,
				      io->iov, io->iovcnt, write_done, &rio->idx[i]);
		if (!ret) {
			rio->to_issue &= ~(1u << i);
			rio->pending++;
			continue;
		}
		atomic_fetch_sub(&s->m[i].outstanding, 1);
		if (ret == -ENOMEM) {
			retry = true;
			break;
		}
		rio->to_issue &= ~(1u << i);
		rio->failed |= 1u << i;
		if (!rio->error)
			rio->error = ret;
		{
			uint64_t gen = raid_member_io_failed(s, i, io->reactor, true, ret);

			if (gen > rio->fail_gen)
				rio->fail_gen = gen;
		}
	}
	if (retry) {
		pthread_mutex_lock(&s->lock);
		raid_chan_park_locked(s, &rio->h, RAID_WAIT_RETRY, 0);
		pthread_mutex_unlock(&s->lock);
		rio->pending--;
		raid_chans_kick(s);
		return;
	}
	if (--rio->pending == 0)
		write_finish(rio);
}

static void write_admit(struct raid1_io *rio)
{
	struct raid_set *s = rio->h.set;
	struct blk_io *io = rio->h.io;
	bool kick;

	pthread_mutex_lock(&s->lock);
	if (raid_rebuild_window_overlaps_locked(s, io->offset, io->len)) {
		raid_chan_park_locked(s, &rio->h, RAID_WAIT_WINDOW, 0);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	rio->admitted = true;
	atomic_fetch_add_explicit(&s->fg_writes, 1, memory_order_relaxed);
	rio->h.fprev = NULL;
	rio->h.fnext = s->inflight;
	if (s->inflight)
		s->inflight->fprev = &rio->h;
	s->inflight = &rio->h;
	raid_bitmap_start_write_locked(s, io->offset, io->len);
	/* Bits set by us or by a write still waiting for them must be durable. */
	if (s->meta.disk_gen < s->bm.set_gen && !s->failed) {
		rio->phase = R1_BITMAP_WAIT;
		raid_chan_park_locked(s, &rio->h, RAID_WAIT_META, s->bm.set_gen);
		kick = s->meta.phase == RAID_META_IDLE;
		pthread_mutex_unlock(&s->lock);
		if (kick)
			raid_meta_kick(s, io->reactor);
		return;
	}
	pthread_mutex_unlock(&s->lock);
	write_issue(rio);
}

static void raid1_resume(struct raid_io *h)
{
	struct raid1_io *rio = VSL_CONTAINER_OF(h, struct raid1_io, h);

	if (h->io->type == BLK_IO_READ) {
		if (read_issue(rio) == -ENOMEM) {
			pthread_mutex_lock(&h->set->lock);
			raid_chan_park_locked(h->set, h, RAID_WAIT_RETRY, 0);
			pthread_mutex_unlock(&h->set->lock);
			raid_chans_kick(h->set);
		}
		return;
	}
	switch (rio->phase) {
	case R1_ADMIT:
		write_admit(rio);
		break;
	case R1_BITMAP_WAIT:
	case R1_ISSUE:
		if (h->set->failed && !rio->issued) {
			write_complete(rio);
			break;
		}
		write_issue(rio);
		break;
	case R1_FINISH_WAIT:
		write_complete(rio);
		break;
	}
}

static int raid1_submit(struct blk_io *io)
{
	struct raid1_io *rio = blk_io_ctx(io);
	struct raid_set *s = raid_set_of(io->bdev);

	memset(rio, 0, sizeof(*rio));
	rio->h.io = io;
	rio->h.set = s;
	rio->h.resume = raid1_resume;
	for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++)
		rio->idx[i] = (uint8_t)i;
	if (s->failed) {
		blk_io_complete(io, -EIO);
		return 0;
	}
	/* Keep a reserve for the children of requests already admitted and for
	 * the metadata writer: a write parked for the bitmap holds its context,
	 * and if parked parents held the whole pool their children could never
	 * be submitted. Refused here, nothing is held: the caller retries. */
	if (io->type != BLK_IO_READ && blk_reactor_io_free(io->reactor) < ctx_reserve(s))
		return -ENOMEM;
	switch (io->type) {
	case BLK_IO_READ:
		return read_issue(rio);
	case BLK_IO_FLUSH:
		rio->phase = R1_ISSUE;
		write_issue(rio);
		return 0;
	default:
		write_admit(rio);
		return 0;
	}
}

static uint64_t raid1_capacity(const struct raid_set *s)
{
	return s->data_size;
}


static const struct blk_bdev_ops raid1_bdev_ops = {
	.type = "raid1",
	.ctx_size = sizeof(struct raid1_io),
	.submit = raid1_submit,
	.destroy = raid_set_destroy_bdev,
	.dump_info = raid_set_dump_info,
	.save_config = raid_set_save_config,
	.busy = raid_set_busy_bdev,
};

const struct raid_level_ops raid1_ops = {
	.level = RAID_LEVEL_1,
	.bdev_ops = &raid1_bdev_ops,
	.capacity = raid1_capacity,
};
