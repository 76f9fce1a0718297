/* blk_qcow2_cache.c — the qcow2 L2 table cache and refcount block cache.
 *
 * L2 cache: a fixed array of cluster-sized slots, found by L1 index through a
 * direct map (by_l1[], as long as the L1 table: its size is a validated header
 * field). New entries are written back in order at the next flush (see
 * blk_qcow2.c); a dirty slot stays pinned until then, so eviction never writes:
 * the least recently used READY slot that nothing pins is reused. A miss starts one read of
 * the table; requests that need the same table wait on the slot and are run
 * again when it lands. When every slot is loading or pinned, requests wait for
 * one to be released.
 *
 * Refcount blocks: only the allocator (one job at a time per image) reads and
 * changes them, so a handful of slots replaced round-robin is enough; a block
 * with increments not yet written back is not replaced.
 *
 * Home reactor only.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "blk_image_internal.h"
#include "vsl_log.h"

VSL_LOG_MODULE(qcow2);

static void lru_del(struct blk_qcow2 *q, struct q2_slot *s)
{
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else if (q->lru_head == s)
		q->lru_head = s->lru_next;
	else
		return;     /* not on the list */
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		q->lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
}

static void lru_add(struct blk_qcow2 *q, struct q2_slot *s)
{
	s->lru_prev = q->lru_tail;
	s->lru_next = NULL;
	if (q->lru_tail)
		q->lru_tail->lru_next = s;
	else
		q->lru_head = s;
	q->lru_tail = s;
}

int blk_qcow2_cache_init(struct blk_qcow2 *q, uint64_t bytes)
{
	uint64_t n = bytes / q->cs;

	if (n < 4)
		n = 4;
	if (n > q->h.l1_size)
		n = q->h.l1_size ? q->h.l1_size : 1;
	if (n < 2)
		n = 2;
	q->slots = calloc(n, sizeof(*q->slots));
	q->by_l1 = calloc(q->h.l1_size ? q->h.l1_size : 1, sizeof(*q->by_l1));
	if (!q->slots || !q->by_l1)
		goto err;
	q->nslots = (uint32_t)n;
	for (uint32_t i = 0; i < n; i++) {
		q->slots[i].tbl = aligned_alloc(4096, q->cs < 4096 ? 4096 : q->cs);
		if (!q->slots[i].tbl)
			goto err;
		q->slots[i].state = Q2_SLOT_EMPTY;
		q->slots[i].q = q;
		lru_add(q, &q->slots[i]);
	}
	for (unsigned i = 0; i < Q2_RB_SLOTS; i++) {
		q->rbs[i].ri = UINT64_MAX;
		q->rbs[i].buf = aligned_alloc(4096, q->cs < 4096 ? 4096 : q->cs);
		if (!q->rbs[i].buf)
			goto err;
	}
	return 0;
err:
	blk_qcow2_cache_fini(q);
	return -ENOMEM;
}

void blk_qcow2_cache_fini(struct blk_qcow2 *q)
{
	if (q->slots)
		for (uint32_t i = 0; i < q->nslots; i++)
			free(q->slots[i].tbl);
	for (unsigned i = 0; i < Q2_RB_SLOTS; i++)
		free(q->rbs[i].buf);
	free(q->slots);
	free(q->by_l1);
	q->slots = NULL;
	q->by_l1 = NULL;
	q->nslots = 0;
}

/* Runs every request of a wait list (each re-enters its state machine and
 * either progresses or queues itself again). */
static void wake_all(struct q2_req **list)
{
	struct q2_req *r = *list;

	*list = NULL;
	while (r) {
		struct q2_req *next = r->wnext;

		r->wnext = NULL;
		blk_qcow2_req_run(r);
		r = next;
	}
}

void blk_qcow2_wait_slot(struct blk_qcow2 *q, struct q2_req *r)
{
	r->wnext = q->slot_waiters;
	q->slot_waiters = r;
}

static void wait_on(struct q2_req **list, struct q2_req *r)
{
	r->wnext = *list;
	*list = r;
}

static void slot_submit(void *arg);

static void slot_loaded(void *arg, int status)
{
	struct q2_slot *s = arg;
	struct blk_qcow2 *q = s->q;

	if (status) {
		static struct vsl_ratelimit rl = VSL_RATELIMIT_INIT(10, 5);

		VSL_WARN_RL(&rl, "%s: L2 table %" PRIu64 " read failed: %s", q->bdev.name, s->l1i,
			    strerror(-status));
		q->by_l1[s->l1i] = NULL;
		s->state = Q2_SLOT_EMPTY;
		for (struct q2_req *w = s->waiters; w; w = w->wnext)
			if (!w->status)
				w->status = status;
	} else {
		s->state = Q2_SLOT_READY;
	}
	if (!s->pins)
		lru_add(q, s);
	wake_all(&s->waiters);
	wake_all(&q->slot_waiters);
}

static void slot_submit(void *arg)
{
	struct q2_slot *s = arg;
	struct blk_qcow2 *q = s->q;
	uint64_t off = be64toh(q->l1[s->l1i]) & BLK_QCOW2_OFFSET_MASK;
	struct blk_reactor *home = atomic_load(&q->home);
	int ret;

	s->iov.iov_base = s->tbl;
	s->iov.iov_len = q->cs;
	ret = blk_bdev_submit(q->file, home, BLK_IO_READ, 0, off, q->cs, &s->iov, 1,
			      slot_loaded, s);
	/* Out of I/O contexts: try again from the reactor's message queue (an
	 * allocation, but only on this exceptional path). */
	if (ret == -ENOMEM && blk_reactor_send(home, slot_submit, s) == 0)
		return;
	if (ret)
		slot_loaded(s, ret);
}

static struct q2_slot *slot_take(struct blk_qcow2 *q)
{
	struct q2_slot *s = q->lru_head;

	if (!s)
		return NULL;     /* every slot loading, pinned or dirty */
	lru_del(q, s);
	if (s->state == Q2_SLOT_READY && q->by_l1[s->l1i] == s)
		q->by_l1[s->l1i] = NULL;
	s->state = Q2_SLOT_EMPTY;
	s->q = q;
	return s;
}

struct q2_slot *blk_qcow2_l2_get(struct blk_qcow2 *q, struct q2_req *r, uint64_t l1i, int *err)
{
	struct q2_slot *s = q->by_l1[l1i];

	*err = 0;
	if (s && s->state == Q2_SLOT_READY) {
		if (!s->pins) {
			lru_del(q, s);
			lru_add(q, s);
		}
		atomic_fetch_add_explicit(&q->n_l2_hit, 1, memory_order_relaxed);
		return s;
	}
	if (s) {
		wait_on(&s->waiters, r);
		return NULL;
	}
	s = slot_take(q);
	if (!s) {
		*err = -EAGAIN;
		return NULL;
	}
	s->l1i = l1i;
	s->state = Q2_SLOT_LOADING;
	q->by_l1[l1i] = s;
	wait_on(&s->waiters, r);
	atomic_fetch_add_explicit(&q->n_l2_miss, 1, memory_order_relaxed);
	slot_submit(s);
	return NULL;
}

struct q2_slot *blk_qcow2_l2_new(struct blk_qcow2 *q, uint64_t l1i)
{
	struct q2_slot *s = q->by_l1[l1i];

	if (s && s->state == Q2_SLOT_READY) {
		lru_del(q, s);
	} else {
		if (s) {
			/* Cannot be loading: its L1 entry is zero. */
			return NULL;
		}
		s = slot_take(q);
		if (!s)
			return NULL;
	}
	memset(s->tbl, 0, q->cs);
	s->l1i = l1i;
	s->state = Q2_SLOT_READY;
	q->by_l1[l1i] = s;
	lru_add(q, s);
	return s;
}

void blk_qcow2_slot_dirty(struct blk_qcow2 *q, struct q2_slot *s)
{
	if (s->dirty)
		return;
	s->dirty = true;
	q->ndirty++;
	blk_qcow2_slot_pin(q, s);
	/* A slot pinned by an allocation may just have become pinned by its
	 * dirtiness instead, without ever being unpinned: let slot waiters see
	 * that a writeback can now free slots. */
	wake_all(&q->slot_waiters);
}

void blk_qcow2_slot_clean(struct blk_qcow2 *q, struct q2_slot *s)
{
	if (!s->dirty)
		return;
	s->dirty = false;
	q->ndirty--;
	blk_qcow2_slot_unpin(q, s);
}

void blk_qcow2_slot_pin(struct blk_qcow2 *q, struct q2_slot *s)
{
	if (s->pins++ == 0)
		lru_del(q, s);
}

void blk_qcow2_slot_unpin(struct blk_qcow2 *q, struct q2_slot *s)
{
	if (--s->pins == 0) {
		lru_add(q, s);
		wake_all(&q->slot_waiters);
	}
}

/* ------------------------------------------------------ refcount blocks */

uint8_t *blk_qcow2_rb_find(struct blk_qcow2 *q, uint64_t ri)
{
	for (unsigned i = 0; i < Q2_RB_SLOTS; i++)
		if (q->rbs[i].ri == ri)
			return q->rbs[i].buf;
	return NULL;
}

uint8_t *blk_qcow2_rb_slot(struct blk_qcow2 *q, uint64_t ri)
{
	/* Round robin over the clean slots: a dirty block stays until the
	 * writeback has written it. */
	for (unsigned n = 0; n < Q2_RB_SLOTS; n++) {
		struct q2_rb *rb = &q->rbs[q->rb_next++ % Q2_RB_SLOTS];

		if (rb->dirty)
			continue;
		rb->ri = ri;
		return rb->buf;
	}
	return NULL;
}

void blk_qcow2_rb_dirty(struct blk_qcow2 *q, uint64_t ri)
{
	for (unsigned i = 0; i < Q2_RB_SLOTS; i++)
		if (q->rbs[i].ri == ri)
			q->rbs[i].dirty = true;
}

void blk_qcow2_rb_drop_all(struct blk_qcow2 *q)
{
	for (unsigned i = 0; i < Q2_RB_SLOTS; i++) {
		q->rbs[i].ri = UINT64_MAX;
		q->rbs[i].dirty = false;
	}
}
