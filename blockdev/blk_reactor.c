/* blk_reactor.c — reactor threads: one io_uring each, a per-I/O context pool,
 * a completion queue, pollers, and message channels to and from the control
 * thread.
 *
 * An iteration: messages -> pollers -> queued completions -> one io_uring
 * submit (and, when nothing happened, a bounded sleep inside the same
 * io_uring_enter) -> reap at most BLK_REAP_MAX CQEs -> queued completions.
 * Everything that can wake a reactor arrives as a CQE: file I/O, the socket
 * polls of its NBD connections and the poll on its message eventfd. So an idle
 * reactor sleeps in the kernel instead of spinning, which matters on a 2-core
 * box that also runs QEMU and the tests.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "blk_internal.h"
#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_time.h"
#include "vsl_util.h"

VSL_LOG_MODULE(reactor);

struct blk_msg {
	void (*fn)(void *arg);
	void *arg;
	struct blk_msg *next;
};

/* A mutex-protected queue plus an eventfd: control path only, never per I/O. */
struct blk_msgq {
	pthread_mutex_t lock;
	struct blk_msg *head, *tail;
	atomic_uint count;
	int evfd;
};

enum {
	BUF_SLOTS = 1024,                     /* sparse fixed-buffer table */
	BUF_OWNERS = BUF_SLOTS,
	BUF_CHUNK = 1u << 30,                 /* the kernel's limit per buffer */
};

struct blk_fixed_buf {
	uintptr_t start, end;
	const void *owner;
	unsigned slot;
};

struct blk_reactor {
	unsigned id;
	/* Registered buffers: the active ones in bufs[0..nbufs), sorted by
	 * start (binary search per I/O), owners reference-counted. */
	struct blk_fixed_buf bufs[BUF_SLOTS];
	unsigned nbufs;
	int bufs_state;                       /* 0 untried, 1 table registered, <0 -errno */
	struct {
		const void *owner;
		unsigned refs;
	} buf_owners[BUF_OWNERS];
	bool slot_used[BUF_SLOTS];
	struct io_uring ring;
	struct blk_msgq mq;
	struct blk_uring_op ev_op;
	bool ev_armed;
	struct blk_uring_op wake_op;    /* blk_reactor_wake_in() */
	struct __kernel_timespec wake_ts;
	bool wake_armed;
	unsigned char *io_mem;
	size_t io_stride;
	struct blk_io *io_free;
	unsigned io_total, io_nfree;
	struct blk_io *done_head, *done_tail;
	struct blk_poller *pollers;
	unsigned inflight;          /* SQEs handed out and not reaped */
	uint64_t sleep_cap_us;      /* set by pollers for this iteration; 0: none */
	bool ring_dead;             /* quiesced: no more SQEs */
	bool defer_taskrun;         /* completions are posted only when we ask */
	bool disabled;              /* created R_DISABLED: its thread enables it */
	pthread_t thread;
	bool has_thread;
	atomic_bool stop;
	int cpu;
};

static __thread struct blk_reactor *tls_reactor;

static struct blk_reactor *reactors[BLK_MAX_REACTORS];
static unsigned n_reactors;

/* Reactor -> control thread. */
static struct blk_msgq ctl_mq = { .lock = PTHREAD_MUTEX_INITIALIZER, .evfd = -1 };
static struct vsl_loop *ctl_loop;

/* ---------------------------------------------------------- message queue */

static int msgq_init(struct blk_msgq *q)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	q->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return q->evfd < 0 ? vsl_neg_errno() : 0;
}

static void msgq_fini(struct blk_msgq *q)
{
	struct blk_msg *m = q->head;

	while (m) {
		struct blk_msg *next = m->next;

		free(m);
		m = next;
	}
	q->head = q->tail = NULL;
	if (q->evfd >= 0)
		close(q->evfd);
	q->evfd = -1;
	pthread_mutex_destroy(&q->lock);
}

static int msgq_send(struct blk_msgq *q, void (*fn)(void *), void *arg)
{
	struct blk_msg *m = malloc(sizeof(*m));
	uint64_t one = 1;

	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->arg = arg;
	m->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	atomic_fetch_add_explicit(&q->count, 1, memory_order_release);
	pthread_mutex_unlock(&q->lock);
	/* Cannot fail but for a counter overflow, which needs 2^64 wake-ups. */
	if (write(q->evfd, &one, sizeof(one)) < 0)
		VSL_WARN("eventfd write: %s", strerror(errno));
	return 0;
}

static int msgq_run(struct blk_msgq *q)
{
	struct blk_msg *m;
	int n = 0;

	if (!atomic_load_explicit(&q->count, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&q->lock);
	m = q->head;
	q->head = q->tail = NULL;
	atomic_store_explicit(&q->count, 0, memory_order_relaxed);
	pthread_mutex_unlock(&q->lock);
	while (m) {
		struct blk_msg *next = m->next;

		m->fn(m->arg);
		free(m);
		m = next;
		n++;
	}
	return n;
}

/* ---------------------------------------------------------------- pool */

struct blk_io *blk_reactor_io_get(struct blk_reactor *r)
{
	struct blk_io *io = r->io_free;

	if (io) {
		r->io_free = io->next;
		r->io_nfree--;
	}
	return io;
}

void blk_reactor_io_put(struct blk_reactor *r, struct blk_io *io)
{
	io->next = r->io_free;
	r->io_free = io;
	r->io_nfree++;
}

void blk_reactor_io_done(struct blk_reactor *r, struct blk_io *io)
{
	io->next = NULL;
	if (r->done_tail)
		r->done_tail->next = io;
	else
		r->done_head = io;
	r->done_tail = io;
}

unsigned blk_reactor_io_free(const struct blk_reactor *r)
{
	return r->io_nfree;
}

/* Runs the completions queued so far; ones queued by these callbacks wait for
 * the next pass, so a callback that resubmits to a synchronous bdev cannot
 * keep this loop going forever. */
static int run_done(struct blk_reactor *r)
{
	struct blk_io *io = r->done_head;
	int n = 0;

	r->done_head = r->done_tail = NULL;
	while (io) {
		struct blk_io *next = io->next;
		blk_io_cb cb = io->cb;
		void *arg = io->cb_arg;
		int status = io->status;

		blk_io_account(io);
		/* Back in the pool before the callback, which may submit again. */
		blk_reactor_io_put(r, io);
		cb(arg, status);
		io = next;
		n++;
	}
	return n;
}

void blk_io_complete_now(struct blk_io *io, int status)
{
	struct blk_reactor *r = io->reactor;
	blk_io_cb cb = io->cb;
	void *arg = io->cb_arg;

	io->status = status;
	blk_io_account(io);
	blk_reactor_io_put(r, io);
	cb(arg, status);
}

/* --------------------------------------------------------------- pollers */

void blk_poller_add(struct blk_reactor *r, struct blk_poller *p)
{
	p->prev = NULL;
	p->next = r->pollers;
	if (r->pollers)
		r->pollers->prev = p;
	r->pollers = p;
}

void blk_poller_del(struct blk_reactor *r, struct blk_poller *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else if (r->pollers == p)
		r->pollers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

static int run_pollers(struct blk_reactor *r)
{
	struct blk_poller *p = r->pollers;
	int n = 0;

	while (p) {
		/* A poller may delete itself. */
		struct blk_poller *next = p->next;

		n += p->fn(p->arg);
		p = next;
	}
	return n;
}

/* ------------------------------------------------------- fixed buffers */

int blk_reactor_buf_find(const struct blk_reactor *r, const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr;
	unsigned lo = 0, hi = r->nbufs;

	/* The last buffer starting at or before addr. */
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (r->bufs[mid].start <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -1;
	const struct blk_fixed_buf *b = &r->bufs[lo - 1];

	return a < b->end && len <= b->end - a ? (int)b->slot : -1;
}

unsigned blk_reactor_buf_count(const struct blk_reactor *r)
{
	return r->nbufs;
}

static int buf_owner(struct blk_reactor *r, const void *owner)
{
	for (int i = 0; i < BUF_OWNERS; i++)
		if (r->buf_owners[i].refs && r->buf_owners[i].owner == owner)
			return i;
	return -1;
}

/* Empties the slots of owner's buffers. */
static void buf_drop(struct blk_reactor *r, const void *owner)
{
	for (unsigned i = 0; i < r->nbufs;) {
		struct iovec none = { 0 };
		struct blk_fixed_buf *b = &r->bufs[i];

		if (b->owner != owner) {
			i++;
			continue;
		}
		if (io_uring_register_buffers_update_tag(&r->ring, b->slot, &none, NULL, 1) != 1)
			VSL_WARN("reactor %u: cannot unregister buffer %u", r->id, b->slot);
		r->slot_used[b->slot] = false;
		memmove(b, b + 1, (r->nbufs - i - 1) * sizeof(*b));
		r->nbufs--;
	}
}

int blk_reactor_buf_add(struct blk_reactor *r, const void *owner, const struct iovec *iov,
			unsigned n)
{
	int o = buf_owner(r, owner), ret = 0;

	if (o >= 0) {
		r->buf_owners[o].refs++;
		return 0;
	}
	if (r->bufs_state == 0) {
		ret = io_uring_register_buffers_sparse(&r->ring, BUF_SLOTS);
		r->bufs_state = ret < 0 ? ret : 1;
		if (ret < 0)
			VSL_INFO("reactor %u: no registered buffers (%s): I/O pins its pages each time",
				 r->id, strerror(-ret));
	}
	if (r->bufs_state < 0)
		return r->bufs_state;
	for (o = 0; o < BUF_OWNERS && r->buf_owners[o].refs; o++)
		;
	if (o == BUF_OWNERS)
		return -ENOSPC;
	for (unsigned i = 0; i < n && !ret; i++) {
		uintptr_t p = (uintptr_t)iov[i].iov_base, end = p + iov[i].iov_len;

		while (p < end && !ret) {
			struct iovec one = { (void *)p, VSL_MIN(end - p, (uintptr_t)BUF_CHUNK) };
			unsigned slot = 0;

			while (slot < BUF_SLOTS && r->slot_used[slot])
				slot++;
			if (slot == BUF_SLOTS) {
				ret = -ENOSPC;
				break;
			}
			ret = io_uring_register_buffers_update_tag(&r->ring, slot, &one, NULL, 1);
			if (ret != 1) {
				ret = ret < 0 ? ret : -EIO;
				break;
			}
			ret = 0;
			r->slot_used[slot] = true;
			unsigned at = r->nbufs;

			while (at && r->bufs[at - 1].start > p)
				at--;
			memmove(&r->bufs[at + 1], &r->bufs[at], (r->nbufs - at) * sizeof(r->bufs[0]));
			r->nbufs++;
			r->bufs[at] = (struct blk_fixed_buf){
				.start = p, .end = p + one.iov_len, .owner = owner, .slot = slot,
			};
			p += one.iov_len;
		}
	}
	if (ret) {
		buf_drop(r, owner);
		return ret;
	}
	r->buf_owners[o].owner = owner;
	r->buf_owners[o].refs = 1;
	return 0;
}

void blk_reactor_buf_del(struct blk_reactor *r, const void *owner)
{
	int o = buf_owner(r, owner);

	if (o < 0 || --r->buf_owners[o].refs)
		return;
	buf_drop(r, owner);
}

/* ---------------------------------------------------------------- uring */

struct io_uring_sqe *blk_reactor_sqe(struct blk_reactor *r, struct blk_uring_op *op)
{
	struct io_uring_sqe *sqe;

	if (r->ring_dead)
		return NULL;
	sqe = io_uring_get_sqe(&r->ring);
	if (!sqe) {
		io_uring_submit(&r->ring);
		sqe = io_uring_get_sqe(&r->ring);
		if (!sqe)
			return NULL;
	}
	io_uring_sqe_set_data(sqe, op);
	r->inflight++;
	return sqe;
}

static void ev_arm(struct blk_reactor *r)
{
	struct io_uring_sqe *sqe;

	if (r->ev_armed)
		return;
	sqe = blk_reactor_sqe(r, &r->ev_op);
	if (!sqe)
		return;     /* retried next iteration */
	io_uring_prep_poll_add(sqe, r->mq.evfd, POLLIN);
	r->ev_armed = true;
}

static void ev_fired(struct blk_uring_op *op, int res)
{
	struct blk_reactor *r = VSL_CONTAINER_OF(op, struct blk_reactor, ev_op);
	uint64_t v;

	(void)res;
	r->ev_armed = false;
	/* Reset before draining: a message sent after the read re-triggers. */
	if (read(r->mq.evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		VSL_WARN("reactor %u: eventfd read: %s", r->id, strerror(errno));
	ev_arm(r);
	msgq_run(&r->mq);
}

static void wake_fired(struct blk_uring_op *op, int res)
{
	struct blk_reactor *r = VSL_CONTAINER_OF(op, struct blk_reactor, wake_op);

	(void)res;      /* -ETIME: the timer expired */
	r->wake_armed = false;
}

void blk_reactor_sleep_cap(struct blk_reactor *r, uint64_t us)
{
	if (!us)
		us = 1;
	if (!r->sleep_cap_us || us < r->sleep_cap_us)
		r->sleep_cap_us = us;
}

void blk_reactor_wake_in(struct blk_reactor *r, uint64_t us)
{
	struct io_uring_sqe *sqe;

	if (r->wake_armed)
		return;
	sqe = blk_reactor_sqe(r, &r->wake_op);
	if (!sqe)
		return;     /* the ring is busy: it wakes us anyway */
	/* The kernel reads the timespec at submission: it lives in r. */
	r->wake_ts.tv_sec = (long long)(us / 1000000);
	r->wake_ts.tv_nsec = (long long)(us % 1000000) * 1000;
	io_uring_prep_timeout(sqe, &r->wake_ts, 0, 0);
	r->wake_armed = true;
}

static int reap(struct blk_reactor *r)
{
	struct io_uring_cqe *cqes[BLK_REAP_MAX];
	struct blk_uring_op *ops[BLK_REAP_MAX];
	int res[BLK_REAP_MAX];
	uint32_t flags[BLK_REAP_MAX];
	unsigned n = io_uring_peek_batch_cqe(&r->ring, cqes, BLK_REAP_MAX), done = 0;

	/* Copy out and release the CQ slots before running callbacks. */
	for (unsigned i = 0; i < n; i++) {
		ops[i] = io_uring_cqe_get_data(cqes[i]);
		res[i] = cqes[i]->res;
		flags[i] = cqes[i]->flags;
		/* A multishot request stays in flight until its last CQE. */
		done += !(flags[i] & IORING_CQE_F_MORE);
	}
	io_uring_cq_advance(&r->ring, n);
	r->inflight -= done;
	for (unsigned i = 0; i < n; i++) {
		if (ops[i]) {
			ops[i]->cqe_flags = flags[i];
			ops[i]->fn(ops[i], res[i]);
		}
	}
	return (int)n;
}

int blk_reactor_poll(struct blk_reactor *r, int timeout_ms)
{
	int work = 0;

	tls_reactor = r;
	r->sleep_cap_us = 0;
	work += msgq_run(&r->mq);
	work += run_pollers(r);
	work += run_done(r);
	ev_arm(r);
	/* The one io_uring_enter of the iteration. SQEs queued by the callbacks
	 * below go out with the next one, which comes at once: this iteration did
	 * work, so the next does not sleep before submitting. */
	if (!work && timeout_ms != 0 && !r->done_head && !io_uring_cq_ready(&r->ring)) {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ms / 1000,
			.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
		};
		struct io_uring_cqe *cqe;
		bool timed = timeout_ms >= 0;

		if (r->sleep_cap_us && (!timed || r->sleep_cap_us < (uint64_t)timeout_ms * 1000)) {
			ts.tv_sec = (long long)(r->sleep_cap_us / 1000000);
			ts.tv_nsec = (long long)(r->sleep_cap_us % 1000000) * 1000;
			timed = true;
		}
		io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, timed ? &ts : NULL, NULL);
	} else if (r->defer_taskrun) {
		/* Completions are only posted when we enter the kernel asking. */
		io_uring_submit_and_get_events(&r->ring);
	} else if (io_uring_sq_ready(&r->ring)) {
		io_uring_submit(&r->ring);
	}
	work += reap(r);
	work += run_done(r);
	return work;
}

unsigned blk_reactor_id(const struct blk_reactor *r)
{
	return r->id;
}

int blk_reactor_cpu(const struct blk_reactor *r)
{
	return r->cpu;
}

struct blk_reactor *blk_reactor_self(void)
{
	return tls_reactor;
}

/* -------------------------------------------------------------- lifecycle */

static struct blk_reactor *reactor_create(unsigned id, unsigned io_pool, unsigned ring_depth,
				      bool threaded)
{
	/* Best first: one issuer with deferred task work (completion work runs
	 * when the reactor asks, not by interrupting it); cooperative task work
	 * on older kernels; plain last. A reactor that gets its own thread is
	 * created disabled and enabled by that thread, its single issuer. */
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	struct blk_reactor *r;
	int ret;

	if (id >= BLK_MAX_REACTORS) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->id = id;
	r->cpu = -1;
	r->ev_op.fn = ev_fired;
	r->wake_op.fn = wake_fired;
	io_pool = io_pool ? io_pool : BLK_IO_POOL_DEFAULT;
	ring_depth = ring_depth ? ring_depth : BLK_RING_DEPTH_DEFAULT;

	ret = msgq_init(&r->mq);
	if (ret)
		goto err_free;
	ret = -EINVAL;
	for (size_t i = 0; i < VSL_ARRAY_SIZE(flag_sets) && ret == -EINVAL; i++) {
		memset(&p, 0, sizeof(p));
		/* A CQ four times the SQ: completions of earlier submits must not
		 * overflow while a full SQ of new ones is in flight. */
		p.flags = IORING_SETUP_CQSIZE | flag_sets[i];
		if (threaded && (flag_sets[i] & IORING_SETUP_SINGLE_ISSUER))
			p.flags |= IORING_SETUP_R_DISABLED;
		p.cq_entries = ring_depth * 4;
		ret = io_uring_queue_init_params(ring_depth, &r->ring, &p);
		if (!ret) {
			r->defer_taskrun = p.flags & IORING_SETUP_DEFER_TASKRUN;
			r->disabled = p.flags & IORING_SETUP_R_DISABLED;
		}
	}
	if (ret)
		goto err_mq;
	r->io_stride = (sizeof(struct blk_io) + BLK_IO_CTX_MAX + 63) & ~(size_t)63;
	r->io_mem = aligned_alloc(64, r->io_stride * io_pool);
	if (!r->io_mem) {
		ret = -ENOMEM;
		goto err_ring;
	}
	r->io_total = io_pool;
	for (unsigned i = io_pool; i-- > 0;)
		blk_reactor_io_put(r, (struct blk_io *)(void *)(r->io_mem + i * r->io_stride));
	return r;

err_ring:
	io_uring_queue_exit(&r->ring);
err_mq:
	msgq_fini(&r->mq);
err_free:
	free(r);
	errno = -ret;
	return NULL;
}

/* Cancels everything in the ring (socket polls never complete by themselves)
 * and waits, up to a few seconds, until the kernel has finished with every
 * buffer it was given. Callbacks are not run: their owners are being torn down.
 * Only then may connection and bdev memory be freed: closing a ring does not
 * wait for requests already handed to io-wq. */
static void reactor_quiesce(struct blk_reactor *r)
{
	uint64_t deadline = vsl_time_mono_ms() + 5000;
	struct io_uring_sqe *sqe;

	if (r->ring_dead)
		return;
	if (r->disabled) {
		/* Never enabled: nothing was ever submitted. */
		r->ring_dead = true;
		return;
	}
	sqe = blk_reactor_sqe(r, NULL);
	if (sqe)
		io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
	io_uring_submit(&r->ring);
	r->ring_dead = true;
	while (r->inflight && vsl_time_mono_ms() < deadline) {
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 };
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts) == 0) {
			bool more = cqe->flags & IORING_CQE_F_MORE;

			io_uring_cqe_seen(&r->ring, cqe);
			if (!more)
				r->inflight--;
		}
	}
	if (r->inflight)
		VSL_WARN("reactor %u: %u requests did not finish", r->id, r->inflight);
}

struct blk_reactor *blk_reactor_create(unsigned id, unsigned io_pool, unsigned ring_depth)
{
	return reactor_create(id, io_pool, ring_depth, false);
}

void blk_reactor_destroy(struct blk_reactor *r)
{
	if (!r)
		return;
	reactor_quiesce(r);
	io_uring_queue_exit(&r->ring);
	msgq_fini(&r->mq);
	free(r->io_mem);
	if (tls_reactor == r)
		tls_reactor = NULL;
	free(r);
}

int blk_reactor_send(struct blk_reactor *r, void (*fn)(void *arg), void *arg)
{
	return msgq_send(&r->mq, fn, arg);
}

/* ----------------------------------------------------------- the threads */

/* io_uring_enable_rings() is declared by liburing 2.3's header but missing
 * from Debian's shared library: call the kernel directly. */
static int ring_enable(struct io_uring *ring)
{
	return syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
		       0) < 0 ? vsl_neg_errno() : 0;
}

static void *reactor_main(void *arg)
{
	struct blk_reactor *r = arg;
	char name[16];

	snprintf(name, sizeof(name), "reactor%u", r->id);
	pthread_setname_np(pthread_self(), name);
	tls_reactor = r;
	if (r->disabled && ring_enable(&r->ring) == 0)
		r->disabled = false;
	if (r->disabled) {
		VSL_ERR("reactor %u: cannot enable its io_uring", r->id);
		return NULL;
	}
	/* Registered with this thread: io_uring_enter skips the fd lookup. */
	bool registered = io_uring_register_ring_fd(&r->ring) == 1;

	/* Everything wakes us through the ring; the timeout is only a backstop. */
	while (!atomic_load_explicit(&r->stop, memory_order_acquire))
		blk_reactor_poll(r, 1000);
	/* The single issuer drains its own ring. */
	reactor_quiesce(r);
	if (registered)
		io_uring_unregister_ring_fd(&r->ring);
	return NULL;
}

static void ctl_on_event(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	uint64_t v;

	(void)loop;
	(void)events;
	(void)arg;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		VSL_WARN("control eventfd read: %s", strerror(errno));
	msgq_run(&ctl_mq);
}

int blk_ctl_send(void (*fn)(void *arg), void *arg)
{
	if (ctl_mq.evfd < 0)
		return -ENOTCONN;
	return msgq_send(&ctl_mq, fn, arg);
}

/* The last n CPUs of our affinity mask: the first ones are left to the control
 * thread and the rest of the system. */
static void pick_cpus(unsigned n, int *cpus)
{
	cpu_set_t set;
	int allowed[CPU_SETSIZE], count = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set))
				allowed[count++] = c;
	for (unsigned i = 0; i < n; i++) {
		if (!count) {
			cpus[i] = -1;
			continue;
		}
		int k = count - (int)n + (int)i;

		cpus[i] = allowed[((k % count) + count) % count];
	}
}

int blk_reactors_start(unsigned n, unsigned io_pool, struct vsl_loop *loop)
{
	int cpus[BLK_MAX_REACTORS];
	int ret;

	if (n == 0 || n > BLK_MAX_REACTORS || n_reactors)
		return -EINVAL;
	if (loop) {
		ret = msgq_init(&ctl_mq);
		if (ret)
			return ret;
		ret = vsl_loop_add_fd(loop, ctl_mq.evfd, EPOLLIN, ctl_on_event, NULL);
		if (ret) {
			msgq_fini(&ctl_mq);
			return ret;
		}
		ctl_loop = loop;
	}
	/* Measure the TSC now, not inside the first I/O's completion. */
	vsl_cycles_hz();
	pick_cpus(n, cpus);
	for (unsigned i = 0; i < n; i++) {
		struct blk_reactor *r = reactor_create(i, io_pool, 0, true);

		if (!r) {
			ret = vsl_neg_errno();
			VSL_ERR("reactor %u: %s", i, strerror(-ret));
			goto err;
		}
		r->cpu = cpus[i];
		reactors[i] = r;
		n_reactors = i + 1;
		ret = -pthread_create(&r->thread, NULL, reactor_main, r);
		if (ret) {
			VSL_ERR("reactor %u: cannot start thread: %s", i, strerror(-ret));
			goto err;
		}
		r->has_thread = true;
		if (r->cpu >= 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(r->cpu, &set);
			if (pthread_setaffinity_np(r->thread, sizeof(set), &set))
				VSL_WARN("reactor %u: cannot pin to CPU %d", i, r->cpu);
		}
		VSL_INFO("reactor %u started on CPU %d (io_uring %s)", i, r->cpu,
			 r->defer_taskrun ? "single issuer, deferred task work" : "shared");
	}
	return 0;
err:
	blk_reactors_destroy();
	return ret;
}

void blk_reactors_stop(void)
{
	for (unsigned i = 0; i < n_reactors; i++) {
		struct blk_reactor *r = reactors[i];
		uint64_t one = 1;

		if (!r || !r->has_thread)
			continue;
		atomic_store_explicit(&r->stop, true, memory_order_release);
		if (write(r->mq.evfd, &one, sizeof(one)) < 0)
			VSL_WARN("reactor %u: eventfd write: %s", i, strerror(errno));
		pthread_join(r->thread, NULL);
		r->has_thread = false;
	}
	for (unsigned i = 0; i < n_reactors; i++)
		if (reactors[i])
			reactor_quiesce(reactors[i]);
}

void blk_reactors_destroy(void)
{
	blk_reactors_stop();
	/* Messages never delivered are dropped with their queues. */
	for (unsigned i = 0; i < n_reactors; i++) {
		blk_reactor_destroy(reactors[i]);
		reactors[i] = NULL;
	}
	n_reactors = 0;
	if (ctl_loop) {
		/* Run what reactors sent us before they stopped. */
		msgq_run(&ctl_mq);
		vsl_loop_del_fd(ctl_loop, ctl_mq.evfd);
		msgq_fini(&ctl_mq);
		ctl_loop = NULL;
	}
}

unsigned blk_reactor_count(void)
{
	return n_reactors;
}

struct blk_reactor *blk_reactor_get(unsigned i)
{
	return i < n_reactors ? reactors[i] : NULL;
}
