/* blk_qcow2_alloc.c — the qcow2 allocator's pieces, used by the request state
 * machine in blk_qcow2.c: the allocator lock (one job at a time, FIFO), L2
 * slot pins, the bounce buffer pool that bounds allocations in flight, the
 * in-flight table that makes later writers of a cluster being allocated wait,
 * writeback bookkeeping, cluster reservation at the end of the image (growing
 * a file container), and the refcount updates of a job. Home reactor only;
 * see blk_qcow2.c for the order of a job and of a writeback.
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

/* ------------------------------------------------------------- allocator */

void blk_qcow2_unpin(struct q2_req *r)
{
	struct blk_qcow2 *q = r->q;
	struct q2_slot *s;

	if (!r->pinned)
		return;
	r->pinned = false;
	s = q->by_l1[blk_qcow2_l1_index(&q->h, blk_qcow2_req_off(r))];
	if (s)
		blk_qcow2_slot_unpin(q, s);
}

void blk_qcow2_lock_release(struct q2_req *r)
{
	struct blk_qcow2 *q = r->q;
	struct q2_req *next;

	if (q->alloc_owner != r)
		return;
	next = q->alloc_head;
	q->alloc_owner = next;
	if (next) {
		q->alloc_head = next->wnext;
		if (!q->alloc_head)
			q->alloc_tail = NULL;
		next->wnext = NULL;
		blk_qcow2_req_run(next);
	}
}

void blk_qcow2_alloc_release(struct q2_req *r)
{
	blk_qcow2_unpin(r);
	blk_qcow2_lock_release(r);
}

/* A bounce buffer for the job's cluster, or false after queueing r. */
bool blk_qcow2_bounce_get(struct q2_req *r)
{
	struct blk_qcow2 *q = r->q;

	if (r->bounce)
		return true;
	if (!q->bounce_nfree) {
		r->wnext = q->bounce_waiters;
		q->bounce_waiters = r;
		return false;
	}
	r->bounce = q->bounce_free[--q->bounce_nfree];
	return true;
}

void blk_qcow2_bounce_put(struct q2_req *r)
{
	struct blk_qcow2 *q = r->q;
	struct q2_req *w;

	if (!r->bounce)
		return;
	q->bounce_free[q->bounce_nfree++] = r->bounce;
	r->bounce = NULL;
	w = q->bounce_waiters;
	if (w) {
		q->bounce_waiters = w->wnext;
		w->wnext = NULL;
		blk_qcow2_req_run(w);
	}
}

struct q2_inflight *blk_qcow2_inflight_find(struct blk_qcow2 *q, uint64_t gc)
{
	for (uint32_t i = 0; i < q->nbounce; i++)
		if (q->inflight[i].owner && q->inflight[i].gc == gc)
			return &q->inflight[i];
	return NULL;
}

/* Registers r's allocation (it holds a bounce buffer, so an entry is free). */
void blk_qcow2_inflight_add(struct q2_req *r)
{
	struct blk_qcow2 *q = r->q;

	for (uint32_t i = 0; i < q->nbounce; i++) {
		if (!q->inflight[i].owner) {
			q->inflight[i].owner = r;
			q->inflight[i].gc = blk_qcow2_req_off(r) >> q->h.cluster_bits;
			q->inflight[i].waiters = NULL;
			r->in_flight = true;
			return;
		}
	}
}

/* The allocation is published (or failed): its waiters map again. */
void blk_qcow2_inflight_end(struct q2_req *r)
{
	struct blk_qcow2 *q = r->q;
	struct q2_req *w = NULL;

	if (!r->in_flight)
		return;
	r->in_flight = false;
	for (uint32_t i = 0; i < q->nbounce; i++) {
		if (q->inflight[i].owner == r) {
			q->inflight[i].owner = NULL;
			w = q->inflight[i].waiters;
			q->inflight[i].waiters = NULL;
			break;
		}
	}
	while (w) {
		struct q2_req *next = w->wnext;

		w->wnext = NULL;
		w->state = w->io->type == BLK_IO_WRITE || w->clen != q->cs ? S_WRITE_MAP
									  : S_ALLOC_LOCK;
		w->lock_next = S_ALLOC_MAP;
		blk_qcow2_req_run(w);
		w = next;
	}
}

void blk_qcow2_wb_end(struct blk_qcow2 *q)
{
	struct q2_req *w = q->wb_waiters;

	q->wb_active = false;
	q->wb_pending = false;
	q->wb_waiters = NULL;
	while (w) {
		struct q2_req *next = w->wnext;

		w->wnext = NULL;
		blk_qcow2_req_run(w);
		w = next;
	}
}

/* No L2 slot is free for r (which stays in its current state). Dirty tables
 * are what pins them: write back — at once when r owns the allocator, else by
 * taking it for that — or wait for an unpin. Returns true to go on running. */
bool blk_qcow2_no_slot(struct q2_req *r)
{
	struct blk_qcow2 *q = r->q;

	if (q->alloc_owner == r && q->ndirty && !q->wb_active) {
		r->wb_next = r->state;
		r->state = S_WB_START;
		return true;
	}
	if (q->alloc_owner != r && q->ndirty && !q->wb_pending) {
		q->wb_pending = true;
		r->wb_release = true;
		r->wb_next = r->state;
		r->lock_next = S_WB_START;
		r->state = S_ALLOC_LOCK;
		return true;
	}
	blk_qcow2_wait_slot(q, r);
	return false;
}

static int ensure_room(struct blk_qcow2 *q, uint64_t need)
{
	struct blk_bdev *base = q->file;
	uint64_t size = blk_bdev_size(base), grow;

	if (need <= size)
		return 0;
	if (q->grow_fd < 0)
		return -ENOSPC;
	grow = VSL_MAX(need, size + VSL_MAX(64ull << 20, size / 8));
	grow = (grow + q->cs - 1) & ~(q->cs - 1);
	grow &= ~(uint64_t)(base->block_size - 1);
	/* The base is claimed by this image alone and only used from this
	 * reactor, so its size may change here. */
	if (ftruncate(q->grow_fd, (off_t)grow) < 0)
		return -ENOSPC;
	base->block_count = grow >> base->block_shift;
	return 0;
}

/* Reserves the next cluster at the end of the image. */
int blk_qcow2_reserve(struct q2_req *r, uint64_t *out)
{
	struct blk_qcow2 *q = r->q;
	uint64_t c = q->end, ri = blk_qcow2_reft_index(&q->h, c);
	bool pending_rb = false;
	int ret;

	if (ri >= q->reft_entries)
		return -ENOSPC;
	for (unsigned k = 0; k < r->n_new_rb; k++)
		pending_rb |= blk_qcow2_reft_index(&q->h, r->new_rb[k]) == ri;
	if (!q->reft[ri] && !pending_rb) {
		uint8_t *rb;

		if (r->n_new_rb == 2)
			return -ENOSPC;
		ret = ensure_room(q, c + 2 * q->cs);
		if (ret)
			return ret;
		rb = blk_qcow2_rb_slot(q, ri);
		memset(rb, 0, q->cs);
		blk_qcow2_refcount_set(rb, q->h.refcount_order, blk_qcow2_rb_index(&q->h, c), 1);
		r->new_rb[r->n_new_rb++] = c;
		c += q->cs;
		if (blk_qcow2_reft_index(&q->h, c) != ri)
			return -ENOSPC;
	}
	ret = ensure_room(q, c + q->cs);
	if (ret)
		return ret;
	q->end = c + q->cs;
	*out = c;
	return 0;
}

static uint64_t rb_host(struct q2_req *r, uint64_t ri)
{
	for (unsigned k = 0; k < r->n_new_rb; k++)
		if (blk_qcow2_reft_index(&r->q->h, r->new_rb[k]) == ri)
			return r->new_rb[k];
	return be64toh(r->q->reft[ri]);
}

/* ALLOC_RB: step `upd` over the refcount updates then the new blocks. Returns
 * true when a sub-I/O was started. */
bool blk_qcow2_alloc_rb_step(struct q2_req *r)
{
	struct blk_qcow2 *q = r->q;
	uint64_t list[2];
	unsigned n = 0;

	if (r->new_l2)
		list[n++] = r->new_l2;
	list[n++] = r->new_data;
	while (r->upd < n) {
		uint64_t c = list[r->upd], ri = blk_qcow2_reft_index(&q->h, c);
		uint8_t *rb = blk_qcow2_rb_find(q, ri);

		if (!rb) {
			uint8_t *buf = blk_qcow2_rb_slot(q, ri);

			if (!buf) {
				/* Every cached block is dirty: write them back first. */
				r->wb_next = S_ALLOC_RB;
				r->state = S_WB_START;
				return false;
			}
			blk_qcow2_sub_buf(r, q->file, BLK_IO_READ, rb_host(r, ri), buf, q->cs, S_ALLOC_RB);
			return true;
		}
		if (blk_qcow2_refcount_get(rb, q->h.refcount_order, blk_qcow2_rb_index(&q->h, c))) {
			VSL_WARN_RL(&corrupt_rl,
				    "%s: cluster 0x%" PRIx64 " past the image end has a refcount",
				    q->bdev.name, c);
			r->status = -EIO;
			return false;
		}
		/* In memory only: the writeback writes it before its first flush,
		 * so before any L2 entry that points at the cluster. */
		blk_qcow2_refcount_set(rb, q->h.refcount_order, blk_qcow2_rb_index(&q->h, c), 1);
		if (rb_host(r, ri) == be64toh(q->reft[ri]))
			blk_qcow2_rb_dirty(q, ri);
		r->upd++;
	}
	if (r->upd < n + r->n_new_rb) {
		uint64_t h = r->new_rb[r->upd - n];
		uint8_t *rb = blk_qcow2_rb_find(q, blk_qcow2_reft_index(&q->h, h));

		r->upd++;
		if (!rb) {
			r->status = -EIO;
			return false;
		}
		blk_qcow2_sub_buf(r, q->file, BLK_IO_WRITE, h, rb, q->cs, S_ALLOC_RB);
		return true;
	}
	r->state = S_ALLOC_FILL;
	if (!r->n_new_rb) {
		/* The rest runs outside the allocator; writers of this cluster wait
		 * on the in-flight entry. Jobs that made a refcount block keep the
		 * allocator until its table entry is durable. */
		blk_qcow2_inflight_add(r);
		blk_qcow2_lock_release(r);
	}
	return false;
}
