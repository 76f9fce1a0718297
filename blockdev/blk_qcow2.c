/* blk_qcow2.c — the qcow2 bdev's data path: one explicit state machine per
 * request (struct q2_req, the per-I/O context), run on the image's home
 * reactor.
 *
 * A request is cut into cluster chunks, handled one after the other:
 *
 *   READ    map (L1 -> cached L2 table) -> host read | backing read (+ zero
 *           tail past the backing image's end) | zeroes
 *   WRITE   map -> allocated: write in place; otherwise the allocator
 *   DISCARD, WRITE_ZEROES of whole clusters -> the allocator (L2 entry cleared
 *           or set to the zero flag, then the host cluster freed); partial
 *           clusters: write-zeroes writes zeroes, discard skips them.
 *
 * The allocator (alloc_owner, FIFO) hands out clusters one job at a time, so
 * only one request ever changes L1/L2/refcount metadata and two writes of one
 * metadata block never race. A job:
 *
 *   ALLOC_MAP    re-map under the allocator: allocated now -> write in place;
 *                being allocated by another job (in-flight table) -> wait for
 *                it and map again; else take a bounce buffer, put a new zeroed
 *                L2 table in the cache (and its L1 entry) when needed, and
 *                reserve clusters at the end (a new refcount block describes
 *                itself)
 *   ALLOC_RB     refcount blocks loaded and entries set to 1 in the cache (a
 *                new refcount block is written whole). The allocator is then
 *                released: data writes of different clusters run concurrently,
 *                bounded by the bounce buffers (4 MiB)
 *   ALLOC_FILL   data cluster built in the bounce buffer: the rest of the
 *                cluster from the backing image (copy-on-write) or zeroes;
 *                then written
 *   ALLOC_FLUSH1, ALLOC_REFT   only for a new refcount block, which keeps the
 *                allocator: flush, its refcount table entry, flush
 *   ALLOC_L2E    the new L2 entry set in the cache (the table becomes dirty);
 *                readers see the cluster from now on
 *
 * Dirty refcount blocks, L2 tables and L1 entries are written back by the next
 * flush, under the allocator, in the crash-safety order (WB_* states): the
 * dirty refcount blocks, a flush (every completed job's data and refcounts
 * durable), the dirty L2 tables, a flush, the dirty L1 entries, a flush. No
 * entry is published into the cache while a writeback runs. So an L2 entry reaches the disk only after the data and
 * refcount it depends on, a new L2 table before the L1 entry naming it, and a
 * crash leaks clusters at worst; a write acknowledged before a completed flush
 * is in the image. A FUA allocating write, a discard, and a cache more than
 * half dirty write back at once; closing the image writes back too. Freeing
 * (discard, write-zeroes of a whole cluster) changes the entry, writes back,
 * and only then drops the refcount.
 *
 * Reads and in-place writes do not take the allocator: a reader of a cluster
 * being allocated sees it unallocated until its entry is in the cache, which
 * happens only after the data is written.
 *
 * A metadata write error marks the image broken: later writes fail with EIO
 * (reads go on) until it is reopened, because the cached tables may no longer
 * match the disk.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk_image_internal.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(qcow2);

static struct vsl_ratelimit corrupt_rl = VSL_RATELIMIT_INIT(10, 5);


/* ---------------------------------------------------------------- helpers */

static int iov_slice(const struct iovec *iov, int cnt, uint64_t skip, uint64_t len,
		     struct iovec *out, int max)
{
	int n = 0;

	for (int i = 0; i < cnt && len; i++) {
		uint64_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		if (n == max)
			return -EINVAL;
		out[n].iov_base = (char *)iov[i].iov_base + skip;
		out[n].iov_len = VSL_MIN(l - skip, len);
		len -= out[n].iov_len;
		skip = 0;
		n++;
	}
	return len ? -EINVAL : n;
}

/* The longest prefix of [skip, skip + len) of the iovec list that fits in `max`
 * entries, rounded down to `align` bytes (0 when not even one unit fits). */
static uint64_t iov_span(const struct iovec *iov, int cnt, uint64_t skip, uint64_t len, int max,
			 uint64_t align)
{
	uint64_t got = 0;
	int n = 0;

	for (int i = 0; i < cnt && got < len && n < max; i++) {
		uint64_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		got += l - skip;
		skip = 0;
		n++;
	}
	if (got >= len)
		return len;
	return got - got % align;
}

static void iov_zero_range(const struct iovec *iov, int cnt, uint64_t skip, uint64_t len)
{
	for (int i = 0; i < cnt && len; i++) {
		uint64_t l = iov[i].iov_len, n;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		n = VSL_MIN(l - skip, len);
		memset((char *)iov[i].iov_base + skip, 0, n);
		len -= n;
		skip = 0;
	}
}

static void sub_done(void *arg, int status)
{
	struct q2_req *r = arg;

	if (status && !r->status)
		r->status = status;
	r->state = r->next;
	blk_qcow2_req_run(r);
}

static void sub_submit(void *arg)
{
	struct q2_req *r = arg;
	struct blk_reactor *home = atomic_load(&r->q->home);
	int ret;

	ret = blk_bdev_submit(r->sub_bdev, home, (enum blk_io_type)r->sub_type, r->sub_flags,
			      r->sub_off, r->sub_len, r->sub_iovcnt ? r->siov : NULL,
			      r->sub_iovcnt, sub_done, r);
	/* Out of I/O contexts: retry from the reactor's queue (allocates, but
	 * only on this exceptional path; the pool is sized for the load). */
	if (ret == -ENOMEM && blk_reactor_send(home, sub_submit, r) == 0)
		return;
	if (ret)
		sub_done(r, ret);
}

/* Starts one sub-I/O; the request continues in state `next`. For READ and
 * WRITE the iovecs are in r->siov[0..iovcnt). */
static void sub_io(struct q2_req *r, struct blk_bdev *b, enum blk_io_type t, uint32_t flags,
		   uint64_t off, uint64_t len, int iovcnt, enum q2_state next)
{
	r->sub_bdev = b;
	r->sub_type = (uint8_t)t;
	r->sub_flags = flags;
	r->sub_off = off;
	r->sub_len = len;
	r->sub_iovcnt = iovcnt;
	r->next = (uint8_t)next;
	if (t == BLK_IO_FLUSH && !(blk_bdev_caps(b) & BLK_CAP_FLUSH)) {
		r->state = (uint8_t)next;
		blk_qcow2_req_run(r);
		return;
	}
	sub_submit(r);
}

void blk_qcow2_sub_buf(struct q2_req *r, struct blk_bdev *b, enum blk_io_type t, uint64_t off,
		    void *buf, uint64_t len, enum q2_state next)
{
	r->siov[0].iov_base = buf;
	r->siov[0].iov_len = len;
	sub_io(r, b, t, 0, off, len, 1, next);
}

/* Writes the meta_bs-sized piece of an in-memory table (disk order) that holds
 * byte `at` of it; the table starts at disk offset `disk`. */
static void meta_write(struct q2_req *r, void *table, uint64_t disk, uint64_t at,
		       enum q2_state next)
{
	uint64_t a = at & ~(uint64_t)(r->q->meta_bs - 1);

	blk_qcow2_sub_buf(r, r->q->file, BLK_IO_WRITE, disk + a, (uint8_t *)table + a, r->q->meta_bs,
		next);
}

/* Maps the chunk's guest offset: 1 with *e (0 when unallocated), 0 when r was
 * queued for a table load, -errno. */
static int map(struct q2_req *r, uint64_t *e)
{
	struct blk_qcow2 *q = r->q;
	uint64_t off = blk_qcow2_req_off(r), l1i = blk_qcow2_l1_index(&q->h, off);
	uint64_t l1e = be64toh(q->l1[l1i]);
	struct q2_slot *s;
	char why[128];
	int err;

	*e = 0;
	if (!(l1e & BLK_QCOW2_OFFSET_MASK))
		return 1;
	s = blk_qcow2_l2_get(q, r, l1i, &err);
	if (!s)
		return err;
	*e = be64toh(s->tbl[blk_qcow2_l2_index(&q->h, off)]);
	if (blk_qcow2_l2_entry_check(&q->h, *e, q->end, why, sizeof(why))) {
		VSL_WARN_RL(&corrupt_rl, "%s: L2 table %" PRIu64 " entry %" PRIu64 ": %s",
			    q->bdev.name, l1i, blk_qcow2_l2_index(&q->h, off), why);
		return -EIO;
	}
	return 1;
}

static void l1_dirty(struct blk_qcow2 *q, uint64_t l1i)
{
	if (q->l1_dirty_hi <= q->l1_dirty_lo) {
		q->l1_dirty_lo = l1i * 8;
		q->l1_dirty_hi = l1i * 8 + 8;
	} else {
		q->l1_dirty_lo = VSL_MIN(q->l1_dirty_lo, l1i * 8);
		q->l1_dirty_hi = VSL_MAX(q->l1_dirty_hi, l1i * 8 + 8);
	}
}

static bool allocated(uint64_t e)
{
	return (e & BLK_QCOW2_OFFSET_MASK) && !(e & BLK_QCOW2_OFLAG_ZERO) &&
	       (e & BLK_QCOW2_OFLAG_COPIED);
}

/* ------------------------------------------------------------ completion */

static void complete_msg(void *arg)
{
	struct q2_req *r = arg;

	blk_io_complete(r->io, r->status);
}

static void finish(struct q2_req *r)
{
	struct blk_qcow2 *q = r->q;

	if (q->alloc_owner == r && r->status && r->state > S_ALLOC_FILL2 && r->state != S_FLUSH) {
		/* A metadata write (or the flush ordering one) failed. */
		q->broken = true;
		blk_qcow2_rb_drop_all(q);
		VSL_ERR("%s: metadata update failed (%s): further writes refused until reopened",
			q->bdev.name, strerror(-r->status));
	}
	if (q->alloc_owner == r && q->wb_active)
		blk_qcow2_wb_end(q);
	blk_qcow2_bounce_put(r);
	blk_qcow2_inflight_end(r);
	blk_qcow2_alloc_release(r);
	if (r->io->reactor != atomic_load(&q->home) &&
	    blk_reactor_send(r->io->reactor, complete_msg, r) == 0)
		return;
	blk_io_complete(r->io, r->status);
}

/* ------------------------------------------------------------ the machine */

static bool run_chunk_start(struct q2_req *r)
{
	struct blk_io *io = r->io;
	uint64_t off, inc;

	if (r->pos >= io->len) {
		r->state = S_FINISH;
		return true;
	}
	off = blk_qcow2_req_off(r);
	inc = off & (r->q->cs - 1);
	r->clen = VSL_MIN(r->q->cs - inc, io->len - r->pos);
	/* A chunk's data goes out as at most Q2_SIOV iovecs: a request with many
	 * small segments (a guest's 4 KiB pages) is served in shorter chunks. */
	if (io->type == BLK_IO_READ || io->type == BLK_IO_WRITE) {
		uint64_t span = iov_span(io->iov, io->iovcnt, r->pos, r->clen, Q2_SIOV,
					 r->q->bdev.block_size);

		if (span)
			r->clen = span;
	}
	r->new_l2 = r->new_data = 0;
	r->n_new_rb = 0;
	r->upd = 0;
	switch (io->type) {
	case BLK_IO_READ:
		r->state = S_READ_MAP;
		break;
	case BLK_IO_WRITE:
		r->zero_src = false;
		r->state = S_WRITE_MAP;
		break;
	case BLK_IO_DISCARD:
	case BLK_IO_WRITE_ZEROES:
		r->zero_src = io->type == BLK_IO_WRITE_ZEROES;
		if (r->clen == r->q->cs) {
			r->state = S_ALLOC_LOCK;
			r->lock_next = S_ALLOC_MAP;
		}
		else if (io->type == BLK_IO_WRITE_ZEROES)
			r->state = S_WRITE_MAP;
		else
			r->pos += r->clen;     /* partial discard: advisory, skipped */
		break;
	default:
		r->status = -EINVAL;
	}
	return true;
}

/* Chunk data iovecs: the request's, or zeroes. Returns the count or -EINVAL. */
static int chunk_iov(struct q2_req *r)
{
	if (r->zero_src) {
		r->siov[0].iov_base = r->q->zeroes;
		r->siov[0].iov_len = r->clen;
		return 1;
	}
	return iov_slice(r->io->iov, r->io->iovcnt, r->pos, r->clen, r->siov, Q2_SIOV);
}

void blk_qcow2_req_run(struct q2_req *r)
{
	struct blk_qcow2 *q = r->q;
	uint64_t e, inc, l1i, l2i;
	struct q2_slot *s;
	int n, ret;

	for (;;) {
		if (r->status) {
			finish(r);
			return;
		}
		inc = blk_qcow2_req_off(r) & (q->cs - 1);
		switch ((enum q2_state)r->state) {
		case S_NEXT:
			run_chunk_start(r);
			continue;

		case S_READ_MAP:
			ret = map(r, &e);
			if (ret == -EAGAIN) {
				if (blk_qcow2_no_slot(r))
					continue;
				return;
			}
			if (ret <= 0) {
				r->status = ret;
				if (!ret)
					return;
				continue;
			}
			if (e & BLK_QCOW2_OFLAG_ZERO) {
				iov_zero_range(r->io->iov, r->io->iovcnt, r->pos, r->clen);
			} else if (e & BLK_QCOW2_OFFSET_MASK) {
				n = chunk_iov(r);
				if (n < 0) {
					r->status = n;
					continue;
				}
				sub_io(r, q->file, BLK_IO_READ, 0,
				       (e & BLK_QCOW2_OFFSET_MASK) + inc, r->clen, n, S_CHUNK_DONE);
				return;
			} else if (q->backing && blk_qcow2_req_off(r) < q->backing_size) {
				uint64_t nb = VSL_MIN(r->clen, q->backing_size - blk_qcow2_req_off(r));

				n = iov_slice(r->io->iov, r->io->iovcnt, r->pos, nb, r->siov, Q2_SIOV);
				if (n < 0) {
					r->status = n;
					continue;
				}
				sub_io(r, q->backing, BLK_IO_READ, 0, blk_qcow2_req_off(r), nb, n,
				       S_READ_BTAIL);
				return;
			} else {
				iov_zero_range(r->io->iov, r->io->iovcnt, r->pos, r->clen);
			}
			r->state = S_CHUNK_DONE;
			continue;

		case S_READ_BTAIL:
			/* sub_len is what the backing image had; the rest is zeroes. */
			if (r->sub_len < r->clen)
				iov_zero_range(r->io->iov, r->io->iovcnt, r->pos + r->sub_len,
					       r->clen - r->sub_len);
			r->state = S_CHUNK_DONE;
			continue;

		case S_WRITE_MAP:
			if (q->broken) {
				r->status = -EIO;
				continue;
			}
			ret = map(r, &e);
			if (ret == -EAGAIN) {
				if (blk_qcow2_no_slot(r))
					continue;
				return;
			}
			if (ret <= 0) {
				r->status = ret;
				if (!ret)
					return;
				continue;
			}
			if (!allocated(e)) {
				r->state = S_ALLOC_LOCK;
				r->lock_next = S_ALLOC_MAP;
				continue;
			}
			n = chunk_iov(r);
			if (n < 0) {
				r->status = n;
				continue;
			}
			{
				bool fua = r->io->flags & BLK_IO_F_FUA;
				bool base_fua = blk_bdev_caps(q->file) & BLK_CAP_FUA;

				sub_io(r, q->file, BLK_IO_WRITE, fua && base_fua ? BLK_IO_F_FUA : 0,
				       (e & BLK_QCOW2_OFFSET_MASK) + inc, r->clen, n,
				       fua && !base_fua ? S_FUA_FLUSH : S_CHUNK_DONE);
			}
			return;

		case S_FUA_FLUSH:
			sub_io(r, q->file, BLK_IO_FLUSH, 0, 0, 0, 0, S_CHUNK_DONE);
			return;

		case S_CHUNK_DONE:
			r->pos += r->clen;
			r->state = S_NEXT;
			continue;

		case S_ALLOC_LOCK:
			if (q->broken && r->lock_next == S_ALLOC_MAP) {
				r->status = -EIO;
				continue;
			}
			r->state = r->lock_next;
			if (q->alloc_owner && q->alloc_owner != r) {
				r->wnext = NULL;
				if (q->alloc_tail)
					q->alloc_tail->wnext = r;
				else
					q->alloc_head = r;
				q->alloc_tail = r;
				return;     /* resumed by blk_qcow2_lock_release() */
			}
			q->alloc_owner = r;
			continue;

		case S_ALLOC_MAP:
			q->alloc_owner = r;
			ret = map(r, &e);
			if (ret == -EAGAIN) {
				if (blk_qcow2_no_slot(r))
					continue;
				return;     /* still the owner: others keep waiting */
			}
			if (ret <= 0) {
				r->status = ret;
				if (!ret)
					return;     /* still the owner: others keep waiting */
				continue;
			}
			r->l2e = e;
			l1i = blk_qcow2_l1_index(&q->h, blk_qcow2_req_off(r));
			if (!r->pinned && q->by_l1[l1i] && be64toh(q->l1[l1i])) {
				blk_qcow2_slot_pin(q, q->by_l1[l1i]);
				r->pinned = true;
			}
			if (r->io->type == BLK_IO_DISCARD ||
			    (r->io->type == BLK_IO_WRITE_ZEROES && r->clen == q->cs &&
			     (be64toh(q->l1[l1i]) || !q->backing))) {
				/* Whole-cluster discard or write-zeroes: change the entry. */
				uint64_t ne = q->backing ? BLK_QCOW2_OFLAG_ZERO : 0;

				if (!be64toh(q->l1[l1i]) || e == ne ||
				    (!(e & BLK_QCOW2_OFFSET_MASK) && !q->backing)) {
					blk_qcow2_alloc_release(r);
					r->state = S_CHUNK_DONE;
					continue;
				}
				/* The entry changes now and is written back at once:
				 * the refcount may drop only when it is durable. */
				r->host = e & BLK_QCOW2_OFFSET_MASK;
				s = q->by_l1[l1i];
				l2i = blk_qcow2_l2_index(&q->h, blk_qcow2_req_off(r));
				s->tbl[l2i] = htobe64(ne);
				blk_qcow2_slot_dirty(q, s);
				r->wb_next = r->host ? S_ZERO_RB : S_ALLOC_END;
				r->state = S_WB_START;
				continue;
			}
			if (allocated(e)) {
				blk_qcow2_alloc_release(r);
				r->state = S_WRITE_MAP;
				continue;
			}
			{
				struct q2_inflight *f =
					blk_qcow2_inflight_find(q, blk_qcow2_req_off(r) >> q->h.cluster_bits);

				if (f && f->owner != r) {
					/* Being allocated: map again when it is published. */
					blk_qcow2_alloc_release(r);
					r->wnext = f->waiters;
					f->waiters = r;
					return;
				}
			}
			if (!blk_qcow2_bounce_get(r))
				return;     /* still the owner: a buffer frees up soon */
			if (!be64toh(q->l1[l1i]) && !r->pinned) {
				/* A new L2 table: in the cache (zeroed, dirty) before the
				 * reservation, as taking a slot may wait. */
				s = blk_qcow2_l2_new(q, l1i);
				if (!s) {
					if (blk_qcow2_no_slot(r))
						continue;
					return;
				}
				blk_qcow2_slot_pin(q, s);
				r->pinned = true;
			}
			ret = be64toh(q->l1[l1i]) ? 0 : blk_qcow2_reserve(r, &r->new_l2);
			if (!ret && r->new_l2) {
				/* Readers now find an empty table; the writeback writes it
				 * before the L1 entry. */
				q->l1[l1i] = htobe64(r->new_l2 | BLK_QCOW2_OFLAG_COPIED);
				l1_dirty(q, l1i);
				blk_qcow2_slot_dirty(q, q->by_l1[l1i]);
			}
			if (!ret)
				ret = blk_qcow2_reserve(r, &r->new_data);
			if (ret) {
				if (ret == -ENOSPC)
					VSL_WARN_RL(&corrupt_rl, "%s: no space to allocate a cluster",
						    q->bdev.name);
				r->status = ret;
				continue;
			}
			r->host = e & BLK_QCOW2_OFFSET_MASK;
			r->upd = 0;
			r->state = S_ALLOC_RB;
			continue;

		case S_ALLOC_RB:
			if (blk_qcow2_alloc_rb_step(r))
				return;
			continue;   /* S_ALLOC_FILL, S_WB_START or an error */

		case S_ALLOC_FILL: {
			uint64_t cstart = blk_qcow2_req_off(r) - inc;

			if (r->clen == q->cs) {
				r->state = S_ALLOC_FILL2;
				continue;
			}
			if (r->host && !(r->l2e & BLK_QCOW2_OFLAG_ZERO)) {
				/* Allocated but shared: copy the old cluster. */
				blk_qcow2_sub_buf(r, q->file, BLK_IO_READ, r->host, r->bounce, q->cs,
					S_ALLOC_FILL2);
				return;
			}
			if (q->backing && !(r->l2e & BLK_QCOW2_OFLAG_ZERO) &&
			    cstart < q->backing_size) {
				uint64_t nb = VSL_MIN(q->cs, q->backing_size - cstart);

				memset(r->bounce + nb, 0, q->cs - nb);
				atomic_fetch_add_explicit(&q->n_cow, 1, memory_order_relaxed);
				blk_qcow2_sub_buf(r, q->backing, BLK_IO_READ, cstart, r->bounce, nb,
					S_ALLOC_FILL2);
				return;
			}
			memset(r->bounce, 0, q->cs);
			r->state = S_ALLOC_FILL2;
			continue;
		}

		case S_ALLOC_FILL2:
			if (r->zero_src)
				memset(r->bounce + inc, 0, r->clen);
			else
				blk_iov_to_buf(r->io->iov, r->io->iovcnt, r->pos, r->bounce + inc,
					       r->clen);
			blk_qcow2_sub_buf(r, q->file, BLK_IO_WRITE, r->new_data, r->bounce, q->cs,
				r->n_new_rb ? S_ALLOC_FLUSH1 : S_ALLOC_L2E);
			return;

		case S_ALLOC_FLUSH1:
			/* New refcount blocks are durable before the table names them. */
			r->upd = 0;
			sub_io(r, q->file, BLK_IO_FLUSH, 0, 0, 0, 0, S_ALLOC_REFT);
			return;

		case S_ALLOC_REFT:
			if (r->upd < r->n_new_rb) {
				uint64_t ri = blk_qcow2_reft_index(&q->h, r->new_rb[r->upd]);

				q->reft[ri] = htobe64(r->new_rb[r->upd]);
				r->upd++;
				meta_write(r, q->reft, q->h.reftable_offset, ri * 8, S_ALLOC_REFT);
				return;
			}
			r->new_rb[0] = r->new_rb[1] = 0;
			r->n_new_rb = 0;
			sub_io(r, q->file, BLK_IO_FLUSH, 0, 0, 0, 0, S_ALLOC_L2E);
			return;

		case S_ALLOC_L2E:
			/* The data is written: publish the mapping in the cache —
			 * but not while a writeback is writing the tables. */
			if (q->wb_active && q->alloc_owner != r) {
				r->wnext = q->wb_waiters;
				q->wb_waiters = r;
				return;
			}
			l1i = blk_qcow2_l1_index(&q->h, blk_qcow2_req_off(r));
			l2i = blk_qcow2_l2_index(&q->h, blk_qcow2_req_off(r));
			s = q->by_l1[l1i];     /* pinned since ALLOC_MAP */
			s->tbl[l2i] = htobe64(r->new_data | BLK_QCOW2_OFLAG_COPIED);
			blk_qcow2_slot_dirty(q, s);
			atomic_fetch_add_explicit(&q->n_alloc, 1, memory_order_relaxed);
			blk_qcow2_bounce_put(r);
			blk_qcow2_inflight_end(r);
			blk_qcow2_alloc_release(r);
			/* FUA, or much of the cache dirty: write back now. */
			if ((r->io->flags & BLK_IO_F_FUA) ||
			    (q->ndirty * 2 > q->nslots && !q->wb_pending)) {
				q->wb_pending = true;
				r->wb_release = true;
				r->wb_next = S_CHUNK_DONE;
				r->lock_next = S_WB_START;
				r->state = S_ALLOC_LOCK;
				continue;
			}
			r->state = S_CHUNK_DONE;
			continue;

		case S_ALLOC_END:
			blk_qcow2_alloc_release(r);
			r->state = S_CHUNK_DONE;
			continue;

		case S_ZERO_RB: {
			uint64_t ri = blk_qcow2_reft_index(&q->h, r->host), host;
			uint8_t *rb;

			if (ri >= q->reft_entries || !(host = be64toh(q->reft[ri]))) {
				r->state = S_ALLOC_END;
				continue;
			}
			rb = blk_qcow2_rb_find(q, ri);
			if (!rb) {
				uint8_t *buf = blk_qcow2_rb_slot(q, ri);

				if (!buf) {
					r->wb_next = S_ZERO_RB;
					r->state = S_WB_START;
					continue;
				}
				blk_qcow2_sub_buf(r, q->file, BLK_IO_READ, host, buf, q->cs, S_ZERO_RB);
				return;
			}
			if (blk_qcow2_refcount_add(rb, q->h.refcount_order,
						   blk_qcow2_rb_index(&q->h, r->host), -1)) {
				VSL_WARN_RL(&corrupt_rl, "%s: refcount underflow at 0x%" PRIx64,
					    q->bdev.name, r->host);
				r->state = S_ALLOC_END;
				continue;
			}
			atomic_fetch_add_explicit(&q->n_freed, 1, memory_order_relaxed);
			meta_write(r, rb, host,
				   (blk_qcow2_rb_index(&q->h, r->host) << q->h.refcount_order) / 8,
				   S_ZERO_PUNCH);
			return;
		}

		case S_ZERO_PUNCH:
			if (blk_bdev_caps(q->file) & BLK_CAP_DISCARD) {
				/* Advisory: returns the space; its error does not matter. */
				r->next = S_ALLOC_END;
				sub_io(r, q->file, BLK_IO_DISCARD, 0, r->host, q->cs, 0,
				       S_ALLOC_END);
				return;
			}
			r->state = S_ALLOC_END;
			continue;

		/* Metadata writeback, holding the allocator: flush (data and
		 * refcounts of every completed allocation are durable), dirty L2
		 * tables, flush, dirty L1 entries, flush. Nothing changes the
		 * tables meanwhile: every change is made by the allocator's owner. */
		case S_WB_START:
			q->alloc_owner = r;
			q->wb_active = true;
			r->upd = 0;
			if (!q->broken) {
				/* Refcount increments first: before the flush. */
				for (unsigned i = 0; i < Q2_RB_SLOTS; i++) {
					struct q2_rb *b = &q->rbs[i];

					if (!b->dirty)
						continue;
					b->dirty = false;
					blk_qcow2_sub_buf(r, q->file, BLK_IO_WRITE, be64toh(q->reft[b->ri]), b->buf,
						q->cs, S_WB_START);
					return;
				}
			}
			/* A broken image's tables may not match the disk: never
			 * write them; a flush still flushes the data. */
			sub_io(r, q->file, BLK_IO_FLUSH, 0, 0, 0, 0,
			       !q->broken && (q->ndirty || q->l1_dirty_hi > q->l1_dirty_lo)
				       ? S_WB_L2
				       : S_WB_END);
			return;

		case S_WB_L2: {
			uint32_t i = r->upd;

			while (i < q->nslots && !q->slots[i].dirty)
				i++;
			if (i < q->nslots) {
				struct q2_slot *ws = &q->slots[i];

				/* Clean now, unpinned when written: a change made after
				 * this point dirties it again. */
				ws->dirty = false;
				q->ndirty--;
				r->upd = i;
				blk_qcow2_sub_buf(r, q->file, BLK_IO_WRITE,
					be64toh(q->l1[ws->l1i]) & BLK_QCOW2_OFFSET_MASK, ws->tbl, q->cs,
					S_WB_L2_DONE);
				return;
			}
			sub_io(r, q->file, BLK_IO_FLUSH, 0, 0, 0, 0, S_WB_L1);
			return;
		}

		case S_WB_L2_DONE:
			blk_qcow2_slot_unpin(q, &q->slots[r->upd]);
			r->upd++;
			r->state = S_WB_L2;
			continue;

		case S_WB_L1:
			if (q->l1_dirty_hi > q->l1_dirty_lo) {
				uint64_t lo = q->l1_dirty_lo & ~(uint64_t)(q->meta_bs - 1);
				uint64_t hi = (q->l1_dirty_hi + q->meta_bs - 1) &
					      ~(uint64_t)(q->meta_bs - 1);

				q->l1_dirty_lo = q->l1_dirty_hi = 0;
				r->siov[0].iov_base = (uint8_t *)q->l1 + lo;
				r->siov[0].iov_len = hi - lo;
				r->next = S_WB_L1;
				sub_io(r, q->file, BLK_IO_WRITE, 0, q->h.l1_offset + lo, hi - lo, 1,
				       S_WB_L1);
				return;
			}
			sub_io(r, q->file, BLK_IO_FLUSH, 0, 0, 0, 0, S_WB_END);
			return;

		case S_WB_END:
			r->state = r->wb_next;
			blk_qcow2_wb_end(q);
			if (r->wb_release) {
				r->wb_release = false;
				blk_qcow2_lock_release(r);
			}
			continue;

		case S_FLUSH:
			/* A flush makes every completed write durable, mappings too. */
			r->wb_next = S_FINISH;
			r->lock_next = S_WB_START;
			r->state = S_ALLOC_LOCK;
			continue;

		case S_FINISH:
			finish(r);
			return;
		}
	}
}

/* ----------------------------------------------------------------- submit */

static void start_msg(void *arg)
{
	blk_qcow2_req_run(arg);
}

int blk_qcow2_submit(struct blk_io *io)
{
	struct blk_qcow2 *q = io->bdev->priv;
	struct q2_req *r = blk_io_ctx(io);
	struct blk_reactor *home = NULL;

	if (q->read_only && io->type != BLK_IO_READ && io->type != BLK_IO_FLUSH)
		return -EPERM;
	memset(r, 0, sizeof(*r));
	r->io = io;
	r->q = q;
	r->state = io->type == BLK_IO_FLUSH ? S_FLUSH : S_NEXT;
	/* The first reactor to submit becomes the image's home; on failure the
	 * exchange loads the current home into `home`. */
	if (atomic_compare_exchange_strong(&q->home, &home, io->reactor))
		home = io->reactor;
	if (home != io->reactor) {
		atomic_fetch_add_explicit(&q->n_forwarded, 1, memory_order_relaxed);
		return blk_reactor_send(home, start_msg, r);
	}
	blk_qcow2_req_run(r);
	return 0;
}
