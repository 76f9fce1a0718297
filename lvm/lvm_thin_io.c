/* lvm_thin_io.c — the data path of thin LVs (any reactor): reads, writes
 * in place, allocating writes with zero-fill, copy-on-write of shared
 * chunks, discard, and FLUSH handed to the control thread for a commit. See
 * lvm_thin.c for the rules these steps follow. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvm_thin_internal.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(lvm_thin_io);

enum thin_state {
	T_IDLE,
	T_READ,
	T_WRITE_INPLACE,
	T_READ_OLD,
	T_WRITE_NEW,
	T_FLUSH,
};

struct thin_io {
	struct blk_io *io;
	struct lvm_thin_pool *pool;
	struct lvm_thin_dev *dev;
	uint64_t pos;                /* request bytes done */
	uint64_t vc;
	uint32_t coff, clen;         /* within the chunk */
	uint32_t old_pc, new_pc;
	uint8_t state;
	uint8_t read_parity;
	bool locked, via_bounce, space_retried;
	int status;
	void *bounce;
	struct iovec iov[THIN_IOV];
	int iovcnt;
	struct thin_io *next;        /* prov list, a waiter list or a parked list */
	struct thin_io *waiters;
};
_Static_assert(sizeof(struct thin_io) <= BLK_IO_CTX_MAX, "thin context too large");

static struct lvm_thin_pool *pool_of_io(const struct blk_io *io)
{
	return ((struct lvm_lv *)io->bdev->priv)->pool;
}

static uint64_t slice(const struct blk_io *io, uint64_t skip, uint64_t len, struct iovec *v,
		      int *n)
{
	uint64_t got = 0;

	*n = 0;
	for (int i = 0; i < io->iovcnt && got < len; i++) {
		uint64_t l = io->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		if (*n == THIN_IOV)
			return got;
		l = VSL_MIN(l - skip, len - got);
		v[*n].iov_base = (char *)io->iov[i].iov_base + skip;
		v[*n].iov_len = l;
		(*n)++;
		got += l;
		skip = 0;
	}
	return got;
}

static void iov_zero_range(const struct blk_io *io, uint64_t skip, uint64_t len)
{
	for (int i = 0; i < io->iovcnt && len; i++) {
		uint64_t l = io->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l = VSL_MIN(l - skip, len);
		memset((char *)io->iov[i].iov_base + skip, 0, l);
		len -= l;
		skip = 0;
	}
}

static void thin_run(struct thin_io *t);
static int thin_issue(struct thin_io *t);

static void resume_msg(void *arg)
{
	thin_run(arg);
}

/* Sends each waiter back to its reactor to try again. */
void lvm_thin_io_wake(struct thin_io *w)
{
	while (w) {
		struct thin_io *next = w->next;

		w->next = NULL;
		if (blk_reactor_send(w->io->reactor, resume_msg, w)) {
			w->status = -ENOMEM;
			thin_run(w);
		}
		w = next;
	}
}

/* Under lock: drops t's chunk lock; returns its waiters. */
static struct thin_io *unlock_chunk(struct lvm_thin_pool *p, struct thin_io *t)
{
	struct thin_io *w;

	if (!t->locked)
		return NULL;
	for (struct thin_io **pp = &p->prov; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->next = NULL;
	t->locked = false;
	t->dev->inflight--;
	w = t->waiters;
	t->waiters = NULL;
	return w;
}

/* Ends the current chunk step with an error: frees a reserved chunk, drops
 * the chunk lock. */
static void thin_abort(struct thin_io *t, int err)
{
	struct lvm_thin_pool *p = t->pool;
	struct thin_io *w;

	pthread_mutex_lock(&p->lock);
	if ((t->state == T_READ_OLD || t->state == T_WRITE_NEW) && t->new_pc != THIN_NONE)
		lvm_thin_chunk_unreserve(p, t->new_pc);
	if (t->state == T_READ)
		p->reads[t->read_parity]--;
	w = unlock_chunk(p, t);
	pthread_mutex_unlock(&p->lock);
	lvm_thin_io_wake(w);
	lvm_thin_bounce_put(p, t->bounce);
	t->bounce = NULL;
	t->state = T_IDLE;
	if (!t->status)
		t->status = err;
}

static void thin_finish(struct thin_io *t)
{
	lvm_thin_bounce_put(t->pool, t->bounce);
	t->bounce = NULL;
	blk_io_complete(t->io, t->status);
}

/* Read step: 0 done synchronously, 1 in flight, <0 error. */
static int thin_read_chunk(struct thin_io *t)
{
	struct lvm_thin_pool *p = t->pool;
	uint32_t pc;

	pthread_mutex_lock(&p->lock);
	pc = lvm_thin_map_get(t->dev, t->vc);
	if (pc != THIN_NONE) {
		t->read_parity = p->read_epoch & 1;
		p->reads[t->read_parity]++;
	}
	pthread_mutex_unlock(&p->lock);
	if (pc == THIN_NONE) {
		iov_zero_range(t->io, t->pos, t->clen);
		t->pos += t->clen;
		return 0;
	}
	t->new_pc = pc;
	t->state = T_READ;
	return thin_issue(t);
}

static struct thin_io *prov_owner(struct lvm_thin_pool *p, const struct thin_io *t)
{
	for (struct thin_io *o = p->prov; o; o = o->next)
		if (o->dev == t->dev && o->vc == t->vc)
			return o;
	return NULL;
}

/* Control thread: the commit that makes pending frees allocatable, then
 * the writes that waited for it try again (once). */
static void space_commit_ctl(void *arg)
{
	struct lvm_thin_pool *p = arg;
	struct thin_io *w;

	lvm_thin_commit(p);
	pthread_mutex_lock(&p->lock);
	w = p->space_waiters;
	p->space_waiters = NULL;
	p->space_commit_queued = false;
	pthread_mutex_unlock(&p->lock);
	lvm_thin_io_wake(w);
}

/* Write or discard step. */
static int thin_write_chunk(struct thin_io *t)
{
	struct lvm_thin_pool *p = t->pool;
	struct lvm_thin_dev *d = t->dev;
	struct thin_io *owner, *w;
	bool whole = t->coff == 0 && t->clen == p->chunk_size;
	uint32_t pc, q;

	pthread_mutex_lock(&p->lock);
	if (d->frozen) {
		t->next = d->parked;
		d->parked = t;
		pthread_mutex_unlock(&p->lock);
		return 1;
	}
	owner = prov_owner(p, t);
	if (owner) {
		t->next = owner->waiters;
		owner->waiters = t;
		pthread_mutex_unlock(&p->lock);
		return 1;
	}
	t->next = p->prov;
	p->prov = t;
	t->locked = true;
	d->inflight++;
	pc = lvm_thin_map_get(d, t->vc);
	if (t->io->type == BLK_IO_DISCARD) {
		/* Whole chunks are unmapped (and freed at zero references);
		 * a partial discard is a hint we may ignore. */
		if (whole)
			lvm_thin_dev_unmap(p, d, t->vc);
		w = unlock_chunk(p, t);
		pthread_mutex_unlock(&p->lock);
		lvm_thin_io_wake(w);
		t->pos += t->clen;
		return 0;
	}
	if (pc != THIN_NONE && p->rc[pc] == 1) {
		pthread_mutex_unlock(&p->lock);
		t->new_pc = pc;
		t->state = T_WRITE_INPLACE;
		return thin_issue(t);
	}
	q = (pc == THIN_NONE && p->n_maps >= p->max_maps) ? THIN_NONE : lvm_thin_chunk_alloc(p);
	if (q == THIN_NONE && p->n_pending && !t->space_retried && blk_reactor_count()) {
		/* Chunks freed since the last commit (a discard, a removed
		 * LV) become usable once it is durable: commit, then retry. */
		w = unlock_chunk(p, t);
		t->space_retried = true;
		t->next = p->space_waiters;
		p->space_waiters = t;
		if (!p->space_commit_queued) {
			p->space_commit_queued = true;
			if (blk_ctl_send(space_commit_ctl, p)) {
				p->space_commit_queued = false;
				p->space_waiters = t->next;
				t->next = NULL;
				goto nospc;
			}
		}
		pthread_mutex_unlock(&p->lock);
		lvm_thin_io_wake(w);
		return 1;
	}
	if (q == THIN_NONE) {
nospc:
		p->enospc++;
		w = unlock_chunk(p, t);
		pthread_mutex_unlock(&p->lock);
		lvm_thin_io_wake(w);
		return -ENOSPC;
	}
	pthread_mutex_unlock(&p->lock);
	t->old_pc = pc;
	t->new_pc = q;
	t->state = T_WRITE_NEW;
	if (whole)
		return thin_issue(t);
	t->bounce = lvm_thin_bounce_get(p);
	if (!t->bounce) {
		t->state = T_WRITE_NEW;
		return -ENOMEM;
	}
	if (pc != THIN_NONE) {
		t->state = T_READ_OLD;
		return thin_issue(t);
	}
	memset(t->bounce, 0, p->chunk_size);
	blk_iov_to_buf(t->io->iov, t->io->iovcnt, t->pos, (char *)t->bounce + t->coff, t->clen);
	return thin_issue(t);
}

static void thin_done(void *arg, int status);

static void issue_msg(void *arg)
{
	struct thin_io *t = arg;
	int ret = thin_issue(t);

	if (ret < 0) {
		thin_abort(t, ret);
		thin_run(t);
	}
}

/* Submits the I/O of the current state to the data LV. 1 in flight (or
 * queued for retry), <0 error. */
static int thin_issue(struct thin_io *t)
{
	struct lvm_thin_pool *p = t->pool;
	struct blk_io *io = t->io;
	uint64_t base = (uint64_t)t->new_pc << p->chunk_shift, off = base + t->coff;
	uint64_t len = t->clen;
	enum blk_io_type type = BLK_IO_WRITE;
	int ret;

	t->via_bounce = false;
	switch (t->state) {
	case T_READ:
	case T_WRITE_INPLACE:
		type = t->state == T_READ ? BLK_IO_READ : BLK_IO_WRITE;
		if (slice(io, t->pos, len, t->iov, &t->iovcnt) < len) {
			/* Too fragmented for the context: go through a bounce buffer. */
			if (!t->bounce)
				t->bounce = lvm_thin_bounce_get(p);
			if (!t->bounce)
				return -ENOMEM;
			if (type == BLK_IO_WRITE)
				blk_iov_to_buf(io->iov, io->iovcnt, t->pos, t->bounce, len);
			t->iov[0] = (struct iovec){ t->bounce, len };
			t->iovcnt = 1;
			t->via_bounce = true;
		}
		break;
	case T_READ_OLD:
		type = BLK_IO_READ;
		off = (uint64_t)t->old_pc << p->chunk_shift;
		len = p->chunk_size;
		t->iov[0] = (struct iovec){ t->bounce, len };
		t->iovcnt = 1;
		break;
	case T_WRITE_NEW:
		if (t->bounce) {
			off = base;
			len = p->chunk_size;
			t->iov[0] = (struct iovec){ t->bounce, len };
			t->iovcnt = 1;
		} else if (slice(io, t->pos, len, t->iov, &t->iovcnt) < len) {
			t->bounce = lvm_thin_bounce_get(p);
			if (!t->bounce)
				return -ENOMEM;
			blk_iov_to_buf(io->iov, io->iovcnt, t->pos, t->bounce, len);
			t->iov[0] = (struct iovec){ t->bounce, len };
			t->iovcnt = 1;
		}
		break;
	default:
		return -EINVAL;
	}
	ret = blk_bdev_submit(p->data, io->reactor, type, 0, off, len, t->iov, t->iovcnt,
			      thin_done, t);
	if (ret == -ENOMEM && blk_reactor_send(io->reactor, issue_msg, t) == 0)
		return 1;
	return ret ? ret : 1;
}

static void thin_done(void *arg, int status)
{
	struct thin_io *t = arg;
	struct lvm_thin_pool *p = t->pool;
	struct thin_io *w = NULL;
	int ret;

	if (status) {
		thin_abort(t, status);
		thin_run(t);
		return;
	}
	switch (t->state) {
	case T_READ:
		if (t->via_bounce)
			blk_buf_to_iov(t->io->iov, t->io->iovcnt, t->pos, t->bounce, t->clen);
		pthread_mutex_lock(&p->lock);
		p->reads[t->read_parity]--;
		pthread_mutex_unlock(&p->lock);
		break;
	case T_WRITE_INPLACE:
		pthread_mutex_lock(&p->lock);
		w = unlock_chunk(p, t);
		pthread_mutex_unlock(&p->lock);
		break;
	case T_READ_OLD:
		blk_iov_to_buf(t->io->iov, t->io->iovcnt, t->pos, (char *)t->bounce + t->coff,
			       t->clen);
		t->state = T_WRITE_NEW;
		ret = thin_issue(t);
		if (ret < 0) {
			thin_abort(t, ret);
			thin_run(t);
		}
		return;
	case T_WRITE_NEW:
		pthread_mutex_lock(&p->lock);
		ret = lvm_thin_map_set(t->dev, t->vc, t->new_pc);
		if (ret) {
			lvm_thin_chunk_unreserve(p, t->new_pc);
			t->status = ret;
		} else if (t->old_pc != THIN_NONE) {
			lvm_thin_rc_put(p, t->old_pc);
		} else {
			t->dev->mapped++;
			p->n_maps++;
		}
		if (!ret)
			lvm_thin_note(p, t->dev, t->vc);
		p->gen++;
		w = unlock_chunk(p, t);
		pthread_mutex_unlock(&p->lock);
		break;
	default:
		break;
	}
	lvm_thin_io_wake(w);
	if (t->bounce) {
		lvm_thin_bounce_put(p, t->bounce);
		t->bounce = NULL;
	}
	t->state = T_IDLE;
	if (!t->status)
		t->pos += t->clen;
	thin_run(t);
}

static void flush_back(void *arg)
{
	struct thin_io *t = arg;

	t->pos = t->io->len;
	thin_finish(t);
}

static void flush_ctl(void *arg)
{
	struct thin_io *t = arg;
	int ret = lvm_thin_commit(t->pool);

	if (ret && !t->status)
		t->status = ret;
	if (blk_reactor_send(t->io->reactor, flush_back, t))
		VSL_ERR("thin pool %s: cannot complete a flush (out of memory)", t->pool->name);
}

/* Runs chunk steps until one goes asynchronous, then completes. */
static void thin_run(struct thin_io *t)
{
	struct blk_io *io = t->io;
	uint64_t cs = t->pool->chunk_size;

	while (!t->status && t->pos < io->len) {
		uint64_t off = io->offset + t->pos;
		int ret;

		t->vc = off >> t->pool->chunk_shift;
		t->coff = (uint32_t)(off & (cs - 1));
		t->clen = (uint32_t)VSL_MIN(cs - t->coff, io->len - t->pos);
		t->old_pc = t->new_pc = THIN_NONE;
		if (io->type == BLK_IO_READ)
			ret = thin_read_chunk(t);
		else
			ret = thin_write_chunk(t);
		if (ret > 0)
			return;
		if (ret < 0)
			thin_abort(t, ret);
	}
	thin_finish(t);
}

int lvm_thin_submit(struct blk_io *io)
{
	struct thin_io *t = blk_io_ctx(io);
	struct lvm_lv *lv = io->bdev->priv;
	struct lvm_map *m = atomic_load_explicit(&lv->map, memory_order_acquire);

	memset(t, 0, sizeof(*t));
	t->io = io;
	t->pool = pool_of_io(io);
	t->dev = lv->thin;
	t->old_pc = t->new_pc = THIN_NONE;
	if (io->type == BLK_IO_WRITE_ZEROES)
		return -ENOTSUP;
	if (io->type == BLK_IO_FLUSH) {
		int ret;

		t->state = T_FLUSH;
		if (blk_ctl_send(flush_ctl, t) == 0)
			return 0;
		/* No control thread (a test driving the reactor): commit here. */
		ret = lvm_thin_commit(t->pool);
		t->status = ret;
		t->pos = io->len;
		thin_finish(t);
		return 0;
	}
	if (io->offset > m->size || io->len > m->size - io->offset)
		return -ERANGE;
	if (blk_reactor_io_free(io->reactor) < 16)
		return -ENOMEM;
	thin_run(t);
	return 0;
}
