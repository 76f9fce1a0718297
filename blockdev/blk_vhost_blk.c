/* blk_vhost_blk.c — vhost-user-blk exports: rte_vhost sockets and callbacks,
 * the config space, virtqueues polled by the reactors. See blk_vhost_blk.h.
 *
 * Threads and lifetimes.
 *   - Exports are created and removed on the control thread. The export list
 *     and each export's connections are also read by rte_vhost's thread, so
 *     both sides take vub_lock (never held while waiting for a reactor).
 *   - A connection (struct vub_dev) lives from new_connection to
 *     destroy_connection (or export removal). new_device maps its queues and
 *     sends each to a reactor; destroy_device (also called by rte_vhost before
 *     it changes the memory table or the rings) asks the reactors to stop
 *     them and waits until every request that points into guest memory has
 *     completed: only then may rte_vhost unmap that memory.
 *   - A queue (struct vub_queue) belongs to one reactor while started: only
 *     that reactor touches its rings, tasks and counters.
 *
 * Request life: avail ring -> task (one per descriptor head, preallocated
 * with the queue) -> blk_vub_parse()/blk_vub_decode() -> blk_bdev_submit() ->
 * completion writes the status byte and a used-ring entry -> the next poll of
 * the queue publishes used->idx and notifies the guest once for the batch.
 * With the inflight area negotiated every head is marked in flight before it
 * is submitted and cleared after its used entry is visible.
 *
 * Notifications: while a queue has work it runs with VRING_USED_F_NO_NOTIFY
 * set and is polled every reactor iteration; when it finds its avail ring
 * empty it clears the flag, re-checks the ring, and leaves an io_uring poll on
 * the kick eventfd armed, so an idle reactor sleeps until the guest kicks.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_vhost.h>

#include "blk_internal.h"
#include "blk_vhost_blk.h"
#include "blk_vhost_blk_internal.h"
#include "vsl_config.h"
#include "vsl_log.h"
#include "vsl_time.h"
#include "vsl_util.h"

VSL_LOG_MODULE(vhost_blk);

enum {
	FETCH_BATCH = 64,                  /* avail entries taken per poll */
	QUIET_MIN_INFLIGHT = 2,            /* kicks stay off while this many are in flight... */
	QUIET_US = 100,                    /* ... and the last completion is this recent */
	STOP_WAIT_WARN_S = 10,             /* complain while a queue drains longer */
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_CONFIG_HDR = 12,        /* offset, size, flags */
	VHOST_USER_MAX_CONFIG = 256,
	MAX_RANGE_SECTORS = (1u << 30) / BLK_VUB_SECTOR,   /* 1 GiB per discard/zeroes */
};

/* The vhost-user message as rte_vhost hands it to the external hooks (its
 * struct vhu_msg_context starts with it). Only what GET/SET_CONFIG use. */
struct vub_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	union {
		uint64_t u64;
		struct {
			uint32_t offset;
			uint32_t size;
			uint32_t flags;
			uint8_t region[VHOST_USER_MAX_CONFIG];
		} cfg;
	} payload;
} __attribute__((packed));

/* Per export and reactor, written only by that reactor. */
enum { ST_READ, ST_WRITE, ST_FLUSH, ST_DISCARD, ST_WRITE_ZEROES, ST_GET_ID, ST_OPS };
struct vub_stats {
	_Atomic uint64_t ops[ST_OPS];
	_Atomic uint64_t bytes_read;       /* to the guest */
	_Atomic uint64_t bytes_written;    /* from the guest */
	_Atomic uint64_t errors;           /* IOERR answers */
	_Atomic uint64_t unsupported;      /* UNSUPP answers */
	_Atomic uint64_t resubmitted;      /* inflight requests replayed after a reconnect */
} __attribute__((aligned(64)));

struct vub_queue;

struct vub_task {
	struct vub_queue *q;
	uint16_t head;
	bool busy;
	struct vub_task *next;             /* retry list */
	struct blk_vub_req req;
	struct blk_vub_chain chain;
};

struct vub_dev;

struct vub_queue {
	struct vub_dev *dev;
	uint16_t qid;
	uint16_t size;
	struct blk_reactor *r;
	struct blk_poller poller;
	struct blk_uring_op kick_op;
	struct blk_uring_op cancel_op;     /* removal of the kick poll */
	struct rte_vhost_vring vring;
	uint16_t last_avail;
	uint16_t last_used;                /* written to the used ring, maybe not published */
	unsigned inflight;                 /* tasks taken from the ring and not completed */
	unsigned pending;                  /* used entries not yet published */
	uint16_t *pending_heads;           /* [size]: to clear from the inflight area */
	uint64_t last_publish;             /* vsl_cycles() of the last used->idx update */
	uint64_t quiet_cycles;             /* QUIET_US in cycles */
	uint64_t cycles_us;                /* cycles per microsecond */
	struct vub_task *retry_head, *retry_tail;
	struct vub_task *tasks;            /* [size], indexed by descriptor head */
	struct rte_vhost_resubmit_info *resubmit;
	bool inflight_on;
	bool indirect;
	bool notify_on;
	bool kick_armed;
	bool kick_cancel_sent;             /* cancel_op in flight */
	bool stopping;
	bool broken;
	bool pinned;                       /* guest memory registered with q->r */
};

struct vub_export;

struct vub_dev {
	int vid;
	struct vub_export *ex;
	struct rte_vhost_memory *mem;
	uint64_t features;
	unsigned nq;
	struct vub_queue *q[BLK_VUB_MAX_QUEUES];
	sem_t stopped;
	bool running;
	bool resubmitted;                  /* the inflight replay happens once per connection */
	struct vub_dev *next;
};

struct vub_export {
	char name[BLK_NAME_MAX];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char serial[BLK_VUB_ID_BYTES + 1];
	struct blk_bdev *bdev;
	bool readonly;
	bool no_pin;
	unsigned num_queues;
	uint64_t features;
	struct virtio_blk_config cfg;
	struct blk_vub_geom geom;
	struct vub_stats *stats;           /* [BLK_MAX_REACTORS] */
	struct vub_dev *devs;              /* vub_lock */
	uint64_t connects;                 /* vub_lock */
	_Atomic unsigned broken_queues;
	_Atomic unsigned pinned_queues;    /* running queues whose reactor registered the memory */
	struct vub_export *next;
};

static pthread_mutex_t vub_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vub_export *exports;     /* vub_lock for readers off the control thread */
static unsigned next_reactor;          /* vhost thread */
static struct vsl_ratelimit bad_rl = VSL_RATELIMIT_INIT(5, 10);

static const struct rte_vhost_device_ops vub_ops;

/* Caller holds vub_lock. */
static struct vub_export *export_by_path(const char *path)
{
	for (struct vub_export *ex = exports; ex; ex = ex->next)
		if (!strcmp(ex->path, path))
			return ex;
	return NULL;
}

static struct vub_export *export_by_name(const char *name)
{
	for (struct vub_export *ex = exports; ex; ex = ex->next)
		if (!strcmp(ex->name, name))
			return ex;
	return NULL;
}

/* Caller holds vub_lock. */
static struct vub_dev *dev_by_vid(int vid)
{
	for (struct vub_export *ex = exports; ex; ex = ex->next)
		for (struct vub_dev *d = ex->devs; d; d = d->next)
			if (d->vid == vid)
				return d;
	return NULL;
}

/* ------------------------------------------------------------ data path */

static struct vub_stats *qstats(struct vub_queue *q)
{
	return &q->dev->ex->stats[blk_reactor_id(q->r)];
}

static void stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static void queue_broken(struct vub_queue *q, uint16_t head, const char *why)
{
	if (!q->broken) {
		q->broken = true;
		atomic_fetch_add(&q->dev->ex->broken_queues, 1);
	}
	VSL_WARN_RL(&bad_rl, "export %s: queue %u: %s (head %u); queue stopped",
		    q->dev->ex->name, q->qid, why, head);
}

static void notify_set(struct vub_queue *q, bool on)
{
	volatile uint16_t *flags = &q->vring.used->flags;

	*flags = on ? 0 : VRING_USED_F_NO_NOTIFY;
	q->notify_on = on;
}

/* Makes completed entries visible, then tells the guest once. */
static int queue_publish(struct vub_queue *q)
{
	if (!q->pending)
		return 0;
	if (q->inflight_on) {
		/* One entry at a time: the inflight area can repair only one
		 * entry that was published but not yet cleared when the back
		 * end died (last_inflight_io); a whole batch published before
		 * its flags are cleared would be replayed, completing requests
		 * twice. The guest is still notified once for the batch. */
		uint16_t idx = (uint16_t)(q->last_used - q->pending);

		for (unsigned i = 0; i < q->pending; i++) {
			rte_vhost_set_last_inflight_io_split(q->dev->vid, q->qid,
							     q->pending_heads[i]);
			__atomic_store_n(&q->vring.used->idx, ++idx, __ATOMIC_RELEASE);
			rte_vhost_clr_inflight_desc_split(q->dev->vid, q->qid, idx,
							  q->pending_heads[i]);
		}
	} else {
		__atomic_store_n(&q->vring.used->idx, q->last_used, __ATOMIC_RELEASE);
	}
	q->pending = 0;
	rte_vhost_vring_call(q->dev->vid, q->qid);
	q->last_publish = vsl_cycles();
	return 1;
}

static void task_complete(struct vub_task *t, uint8_t status)
{
	struct vub_queue *q = t->q;
	struct vring_used_elem *e;
	struct vub_stats *st = qstats(q);

	*(volatile uint8_t *)t->req.status_ptr = status;
	if (status == VIRTIO_BLK_S_IOERR)
		stat_add(&st->errors, 1);
	else if (status == VIRTIO_BLK_S_UNSUPP)
		stat_add(&st->unsupported, 1);
	e = &q->vring.used->ring[q->last_used % q->size];
	e->id = t->head;
	e->len = status == VIRTIO_BLK_S_OK ? t->req.used_len : 1;
	q->last_used++;
	q->pending_heads[q->pending++] = t->head;
	t->busy = false;
	q->inflight--;
}

static void task_done(void *arg, int status)
{
	struct vub_task *t = arg;
	struct vub_stats *st = qstats(t->q);

	if (!status) {
		switch (t->req.io_type) {
		case BLK_IO_READ:
			stat_add(&st->ops[ST_READ], 1);
			stat_add(&st->bytes_read, t->req.len);
			break;
		case BLK_IO_WRITE:
			stat_add(&st->ops[ST_WRITE], 1);
			stat_add(&st->bytes_written, t->req.len);
			break;
		case BLK_IO_FLUSH:
			stat_add(&st->ops[ST_FLUSH], 1);
			break;
		case BLK_IO_DISCARD:
			stat_add(&st->ops[ST_DISCARD], 1);
			break;
		default:
			stat_add(&st->ops[ST_WRITE_ZEROES], 1);
			break;
		}
	}
	else
		VSL_WARN_RL(&bad_rl, "export %s: queue %u: %s at %llu+%llu failed: %s",
			    t->q->dev->ex->name, t->q->qid,
			    t->req.io_type == BLK_IO_READ ? "read" : "request",
			    (unsigned long long)t->req.offset, (unsigned long long)t->req.len,
			    strerror(-status));
	task_complete(t, status ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

/* Returns false when the bdev is out of slots (the task waits for retry). */
static bool task_submit(struct vub_task *t)
{
	struct vub_queue *q = t->q;
	int ret = blk_bdev_submit(q->dev->ex->bdev, q->r, t->req.io_type, 0, t->req.offset,
				  t->req.len, t->req.iov, t->req.iovcnt, task_done, t);

	if (ret == -ENOMEM)
		return false;
	if (ret) {
		VSL_WARN_RL(&bad_rl, "export %s: queue %u: bdev refused a request at %llu+%llu: %s",
			    q->dev->ex->name, q->qid, (unsigned long long)t->req.offset,
			    (unsigned long long)t->req.len, strerror(-ret));
		task_complete(t, ret == -ENOTSUP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR);
	}
	return true;
}

static void task_start(struct vub_queue *q, uint16_t head)
{
	struct vub_task *t = &q->tasks[head];
	int ret;

	t->busy = true;
	q->inflight++;
	ret = blk_vub_parse(q->dev->mem, q->vring.desc, q->size, head, q->indirect, &t->chain);
	if (!ret)
		ret = blk_vub_decode(&t->chain, &q->dev->ex->geom, &t->req);
	if (ret) {
		/* No status byte we can trust: the head is never returned. */
		q->inflight--;
		queue_broken(q, head, ret == -EFAULT ? "buffer outside guest memory"
				      : ret == -E2BIG ? "chain too long" : "malformed descriptor chain");
		return;
	}
	if (!t->req.submit) {
		if (t->req.type == VIRTIO_BLK_T_GET_ID)
			stat_add(&qstats(q)->ops[ST_GET_ID], 1);
		if (t->req.status != VIRTIO_BLK_S_OK)
			VSL_INFO_RL(&bad_rl, "export %s: queue %u: request type %u refused (%s)",
				    q->dev->ex->name, q->qid, t->req.type,
				    t->req.status == VIRTIO_BLK_S_UNSUPP ? "unsupported"
									 : "I/O error");
		task_complete(t, t->req.status);
		return;
	}
	if (q->retry_head || !task_submit(t)) {
		t->next = NULL;
		if (q->retry_tail)
			q->retry_tail->next = t;
		else
			q->retry_head = t;
		q->retry_tail = t;
	}
}

static int queue_retry(struct vub_queue *q)
{
	int n = 0;

	while (q->retry_head) {
		struct vub_task *t = q->retry_head;

		if (!task_submit(t))
			break;
		q->retry_head = t->next;
		if (!q->retry_head)
			q->retry_tail = NULL;
		n++;
	}
	return n;
}

/* The kick eventfd is watched with a multishot poll: every write by the
 * front end wakes the reactor, with no read() and no new SQE per kick. The
 * eventfd's counter is never drained while the queue runs (it would take
 * 2^64 kicks to fill it); a new poll is armed only when the kernel ends the
 * old one. */
static void kick_fired(struct blk_uring_op *op, int res)
{
	struct vub_queue *q = VSL_CONTAINER_OF(op, struct vub_queue, kick_op);

	if (op->cqe_flags & IORING_CQE_F_MORE)
		return;
	q->kick_armed = false;
	if (res < 0 && res != -ECANCELED && res != -ENOENT)
		VSL_WARN_RL(&bad_rl, "export %s: queue %u: kick poll: %s", q->dev->ex->name,
			    q->qid, strerror(-res));
}

/* A removal that found the poll firing (-EALREADY) is sent again by the
 * next poll of the stopping queue while the kick poll is still armed. */
static void cancel_fired(struct blk_uring_op *op, int res)
{
	struct vub_queue *q = VSL_CONTAINER_OF(op, struct vub_queue, cancel_op);

	(void)res;
	q->kick_cancel_sent = false;
}

static void kick_arm(struct vub_queue *q)
{
	struct io_uring_sqe *sqe;

	if (q->kick_armed || q->stopping || q->vring.kickfd < 0)
		return;
	sqe = blk_reactor_sqe(q->r, &q->kick_op);
	if (!sqe)
		return;     /* the ring is busy: its completions wake us anyway */
	io_uring_prep_poll_multishot(sqe, q->vring.kickfd, POLLIN);
	q->kick_armed = true;
}

/* Takes new requests from the avail ring. */
static int queue_fetch(struct vub_queue *q)
{
	struct vring_avail *avail = q->vring.avail;
	uint16_t avail_idx = __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE);
	int n = 0;

	if (avail_idx == q->last_avail) {
		/* With requests in flight whose completions come often, their
		 * completions wake the reactor anyway: the guest need not kick
		 * (each kick is a syscall for it and a wake-up for us), new
		 * requests are picked up with the next completion. A bounded
		 * sleep keeps a request from waiting longer than QUIET_US when
		 * the completions stop; then kicks are turned on again. */
		if (!q->notify_on && q->inflight >= QUIET_MIN_INFLIGHT) {
			uint64_t since = vsl_cycles() - q->last_publish;

			if (since < q->quiet_cycles) {
				blk_reactor_sleep_cap(q->r, (q->quiet_cycles - since) / q->cycles_us + 1);
				return 0;
			}
		}
		if (!q->notify_on) {
			notify_set(q, true);
			/* The flag must be visible before we look again, or a
			 * request added meanwhile would wait for a kick that
			 * the guest does not send. */
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			avail_idx = __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE);
		}
		if (avail_idx == q->last_avail) {
			kick_arm(q);
			return 0;
		}
	}
	if (q->notify_on)
		notify_set(q, false);
	if ((uint16_t)(avail_idx - q->last_avail) > q->size) {
		queue_broken(q, 0, "avail index moved by more than the queue size");
		return 1;
	}
	while (q->last_avail != avail_idx && n < FETCH_BATCH && !q->broken) {
		uint16_t head = ((volatile uint16_t *)avail->ring)[q->last_avail % q->size];

		q->last_avail++;
		if (head >= q->size || q->tasks[head].busy) {
			queue_broken(q, head, head >= q->size ? "head index out of range"
							      : "head already in flight");
			break;
		}
		if (q->inflight_on)
			rte_vhost_set_inflight_desc_split(q->dev->vid, q->qid, head);
		task_start(q, head);
		n++;
	}
	return n ? n : 1;
}

/* Requests the previous back end had in flight, oldest first (rte_vhost sorts
 * the list newest first). They are already counted in last_avail. */
static int queue_resubmit(struct vub_queue *q)
{
	struct rte_vhost_resubmit_info *ri = q->resubmit;
	int n = 0;

	q->resubmit = NULL;
	for (int i = (int)ri->resubmit_num - 1; i >= 0; i--) {
		uint16_t head = ri->resubmit_list[i].index;

		if (head >= q->size || q->tasks[head].busy) {
			queue_broken(q, head, "bad inflight entry");
			break;
		}
		task_start(q, head);
		n++;
	}
	stat_add(&qstats(q)->resubmitted, (uint64_t)n);
	if (n)
		VSL_INFO("export %s: queue %u: %d inflight requests submitted again",
			 q->dev->ex->name, q->qid, n);
	return n;
}

static void queue_stopped(struct vub_queue *q)
{
	blk_poller_del(q->r, &q->poller);
	if (q->pinned) {
		/* Every request into guest memory has completed: rte_vhost may
		 * unmap it once all queues report stopped. */
		blk_reactor_buf_del(q->r, q->dev);
		q->pinned = false;
		atomic_fetch_sub(&q->dev->ex->pinned_queues, 1);
	}
	sem_post(&q->dev->stopped);
}

static int queue_poll(void *arg)
{
	struct vub_queue *q = arg;
	int work = queue_publish(q);

	if (q->retry_head)
		work += queue_retry(q);
	if (q->resubmit && !q->stopping && !q->broken)
		work += queue_resubmit(q);
	if (!q->stopping && !q->broken && !q->retry_head)
		work += queue_fetch(q);
	if (q->stopping) {
		if (q->kick_armed && !q->kick_cancel_sent) {
			struct io_uring_sqe *sqe = blk_reactor_sqe(q->r, &q->cancel_op);

			if (sqe) {
				io_uring_prep_poll_remove(sqe, (uint64_t)(uintptr_t)&q->kick_op);
				q->kick_cancel_sent = true;
			}
		}
		work += queue_publish(q);
		if (!q->inflight && !q->kick_armed && !q->kick_cancel_sent && !q->pending) {
			queue_stopped(q);
			return 1;
		}
	}
	return work;
}

/* Registers the guest memory with the reactor's io_uring (once per device
 * and reactor): file I/O into it then goes as READ_FIXED/WRITE_FIXED. */
static void queue_pin(struct vub_queue *q)
{
	static struct vsl_ratelimit pin_rl = VSL_RATELIMIT_INIT(1, 60);
	const struct rte_vhost_memory *mem = q->dev->mem;
	struct iovec iov[16];
	unsigned n = 0;
	int ret;

	if (q->dev->ex->no_pin)
		return;
	for (uint32_t i = 0; i < mem->nregions && n < VSL_ARRAY_SIZE(iov); i++)
		if (mem->regions[i].host_user_addr && mem->regions[i].size)
			iov[n++] = (struct iovec){ (void *)(uintptr_t)mem->regions[i].host_user_addr,
						   mem->regions[i].size };
	ret = blk_reactor_buf_add(q->r, q->dev, iov, n);
	if (ret) {
		VSL_INFO_RL(&pin_rl, "export %s: queue %u: guest memory not registered (%s): "
			    "I/O pins its pages each time", q->dev->ex->name, q->qid,
			    strerror(-ret));
		return;
	}
	q->pinned = true;
	atomic_fetch_add(&q->dev->ex->pinned_queues, 1);
}

static void queue_start_msg(void *arg)
{
	struct vub_queue *q = arg;

	queue_pin(q);
	q->poller.fn = queue_poll;
	q->poller.arg = q;
	blk_poller_add(q->r, &q->poller);
}

static void queue_stop_msg(void *arg)
{
	struct vub_queue *q = arg;

	q->stopping = true;
}

/* -------------------------------------------------- rte_vhost callbacks */

static enum rte_vhost_msg_result vub_pre_msg(int vid, void *msg_)
{
	struct vub_msg *msg = msg_;
	struct vub_dev *d;
	uint32_t off, len;

	if (msg->request == VHOST_USER_SET_CONFIG)
		return RTE_VHOST_MSG_RESULT_OK;   /* nothing in our config is writable */
	if (msg->request != VHOST_USER_GET_CONFIG)
		return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
	off = msg->payload.cfg.offset;
	len = msg->payload.cfg.size;
	if (msg->size < VHOST_USER_CONFIG_HDR || len > VHOST_USER_MAX_CONFIG ||
	    off > VHOST_USER_MAX_CONFIG - len) {
		VSL_WARN_RL(&bad_rl, "vhost device %d: bad GET_CONFIG (offset %u size %u)", vid,
			    off, len);
		return RTE_VHOST_MSG_RESULT_ERR;
	}
	memset(msg->payload.cfg.region, 0, len);
	pthread_mutex_lock(&vub_lock);
	d = dev_by_vid(vid);
	if (d && off < sizeof(d->ex->cfg))
		memcpy(msg->payload.cfg.region, (const uint8_t *)&d->ex->cfg + off,
		       VSL_MIN((size_t)len, sizeof(d->ex->cfg) - off));
	pthread_mutex_unlock(&vub_lock);
	msg->size = VHOST_USER_CONFIG_HDR + len;
	return d ? RTE_VHOST_MSG_RESULT_REPLY : RTE_VHOST_MSG_RESULT_ERR;
}

static const struct rte_vhost_user_extern_ops vub_extern_ops = {
	.pre_msg_handle = vub_pre_msg,
};

static int vub_new_connection(int vid)
{
	char path[PATH_MAX];
	struct vub_export *ex;
	struct vub_dev *d;

	if (rte_vhost_get_ifname(vid, path, sizeof(path)))
		return -1;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -1;
	d->vid = vid;
	sem_init(&d->stopped, 0, 0);
	pthread_mutex_lock(&vub_lock);
	ex = export_by_path(path);
	if (ex) {
		d->ex = ex;
		d->next = ex->devs;
		ex->devs = d;
		ex->connects++;
	}
	pthread_mutex_unlock(&vub_lock);
	if (!ex || rte_vhost_extern_callback_register(vid, &vub_extern_ops, NULL)) {
		if (ex) {
			pthread_mutex_lock(&vub_lock);
			ex->devs = d->next;
			pthread_mutex_unlock(&vub_lock);
		}
		sem_destroy(&d->stopped);
		free(d);
		return -1;
	}
	VSL_INFO("export %s: front end connected (vhost device %d)", ex->name, vid);
	return 0;
}

static void queue_free(struct vub_queue *q)
{
	if (!q)
		return;
	free(q->tasks);
	free(q->pending_heads);
	free(q);
}

static void dev_teardown(struct vub_dev *d)
{
	for (unsigned i = 0; i < d->nq; i++) {
		queue_free(d->q[i]);
		d->q[i] = NULL;
	}
	d->nq = 0;
	free(d->mem);
	d->mem = NULL;
}

static int queue_setup(struct vub_dev *d, uint16_t qid)
{
	struct vub_queue *q = calloc(1, sizeof(*q));
	struct rte_vhost_ring_inflight ri;
	uint16_t last_avail, last_used;

	if (!q)
		return -ENOMEM;
	d->q[qid] = q;
	q->dev = d;
	q->qid = qid;
	q->kick_op.fn = kick_fired;
	q->cancel_op.fn = cancel_fired;
	if (rte_vhost_get_vhost_vring(d->vid, qid, &q->vring) || !q->vring.desc ||
	    !q->vring.avail || !q->vring.used)
		return -EINVAL;
	if (!q->vring.size || q->vring.size > BLK_VUB_MAX_QSIZE) {
		VSL_WARN("export %s: queue %u: size %u not supported (1..%d)", d->ex->name, qid,
			 q->vring.size, BLK_VUB_MAX_QSIZE);
		return -EINVAL;
	}
	q->size = q->vring.size;
	if (rte_vhost_get_vring_base(d->vid, qid, &last_avail, &last_used))
		return -EINVAL;
	q->last_avail = last_avail;
	/* What the guest has seen is what counts. */
	q->last_used = __atomic_load_n(&q->vring.used->idx, __ATOMIC_ACQUIRE);
	q->tasks = calloc(q->size, sizeof(*q->tasks));
	q->pending_heads = calloc(q->size, sizeof(*q->pending_heads));
	if (!q->tasks || !q->pending_heads)
		return -ENOMEM;
	for (uint16_t i = 0; i < q->size; i++) {
		q->tasks[i].q = q;
		q->tasks[i].head = i;
	}
	q->indirect = d->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	q->notify_on = true;
	q->cycles_us = VSL_MAX(vsl_cycles_hz() / 1000000, (uint64_t)1);
	q->quiet_cycles = q->cycles_us * QUIET_US;
	memset(&ri, 0, sizeof(ri));
	if (rte_vhost_get_vhost_ring_inflight(d->vid, qid, &ri) == 0 && ri.inflight_split) {
		q->inflight_on = true;
		if (!d->resubmitted && ri.resubmit_inflight && ri.resubmit_inflight->resubmit_num &&
		    ri.resubmit_inflight->resubmit_list)
			q->resubmit = ri.resubmit_inflight;
	}
	return 0;
}

static int vub_new_device(int vid)
{
	struct vub_dev *d;
	uint16_t nvr;
	unsigned nr = blk_reactor_count();
	int ret = -EINVAL;

	pthread_mutex_lock(&vub_lock);
	d = dev_by_vid(vid);
	pthread_mutex_unlock(&vub_lock);
	if (!d || d->running || !nr)
		return -1;
	if (rte_vhost_get_negotiated_features(vid, &d->features))
		return -1;
	if (d->features & (1ULL << VIRTIO_F_RING_PACKED)) {
		VSL_WARN("export %s: packed rings are not supported", d->ex->name);
		return -1;
	}
	nvr = rte_vhost_get_vring_num(vid);
	if (!nvr || nvr > d->ex->num_queues) {
		VSL_WARN("export %s: front end set up %u queues; the export has %u", d->ex->name,
			 nvr, d->ex->num_queues);
		return -1;
	}
	if (rte_vhost_get_mem_table(vid, &d->mem))
		return -1;
	d->nq = nvr;
	for (uint16_t i = 0; i < nvr; i++) {
		ret = queue_setup(d, i);
		if (ret) {
			VSL_WARN("export %s: queue %u: %s", d->ex->name, i, strerror(-ret));
			dev_teardown(d);
			return -1;
		}
	}
	d->resubmitted = true;
	d->running = true;
	for (unsigned i = 0; i < d->nq; i++) {
		struct vub_queue *q = d->q[i];

		q->r = blk_reactor_get(next_reactor++ % nr);
		if (blk_reactor_send(q->r, queue_start_msg, q))
			VSL_ERR("export %s: queue %u: cannot reach reactor", d->ex->name, i);
	}
	VSL_INFO("export %s: vhost device %d running: %u queue(s), features 0x%llx%s",
		 d->ex->name, vid, d->nq, (unsigned long long)d->features,
		 d->nq && d->q[0]->inflight_on ? ", inflight tracking" : "");
	return 0;
}

/* Stops the queues on their reactors and waits until no request points into
 * guest memory any more; hands the ring positions back to rte_vhost. */
static void dev_stop(struct vub_dev *d)
{
	if (!d->running)
		return;
	for (unsigned i = 0; i < d->nq; i++)
		if (blk_reactor_send(d->q[i]->r, queue_stop_msg, d->q[i]))
			VSL_ERR("export %s: queue %u: cannot reach reactor", d->ex->name, i);
	for (unsigned i = 0; i < d->nq; i++) {
		unsigned waited = 0;
		struct timespec ts;

		for (;;) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (!sem_timedwait(&d->stopped, &ts))
				break;
			if (++waited % STOP_WAIT_WARN_S == 0)
				VSL_WARN("export %s: still waiting for requests to finish",
					 d->ex->name);
		}
	}
	for (unsigned i = 0; i < d->nq; i++) {
		struct vub_queue *q = d->q[i];

		rte_vhost_set_vring_base(d->vid, q->qid, q->last_avail, q->last_used);
	}
	dev_teardown(d);
	d->running = false;
}

static void vub_destroy_device(int vid)
{
	struct vub_dev *d;

	pthread_mutex_lock(&vub_lock);
	d = dev_by_vid(vid);
	pthread_mutex_unlock(&vub_lock);
	if (!d)
		return;
	dev_stop(d);
	VSL_INFO("export %s: vhost device %d stopped", d->ex->name, vid);
}

static void vub_destroy_connection(int vid)
{
	struct vub_dev *d, **pp;

	pthread_mutex_lock(&vub_lock);
	d = dev_by_vid(vid);
	pthread_mutex_unlock(&vub_lock);
	if (!d)
		return;
	dev_stop(d);
	pthread_mutex_lock(&vub_lock);
	for (pp = &d->ex->devs; *pp && *pp != d; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = d->next;
	pthread_mutex_unlock(&vub_lock);
	VSL_INFO("export %s: front end disconnected (vhost device %d)", d->ex->name, vid);
	sem_destroy(&d->stopped);
	free(d);
}

static const struct rte_vhost_device_ops vub_ops = {
	.new_device = vub_new_device,
	.destroy_device = vub_destroy_device,
	.new_connection = vub_new_connection,
	.destroy_connection = vub_destroy_connection,
};

/* ---------------------------------------------------------- the exports */

static void export_config_init(struct vub_export *ex)
{
	struct virtio_blk_config *c = &ex->cfg;
	uint32_t bs = blk_bdev_block_size(ex->bdev);
	uint32_t caps = blk_bdev_caps(ex->bdev);
	uint32_t align = bs / BLK_VUB_SECTOR ? bs / BLK_VUB_SECTOR : 1;
	uint32_t range = MAX_RANGE_SECTORS - MAX_RANGE_SECTORS % align;

	memset(c, 0, sizeof(*c));
	c->capacity = htole64(blk_bdev_size(ex->bdev) / BLK_VUB_SECTOR);
	c->size_max = htole32(BLK_VUB_SIZE_MAX);
	c->seg_max = htole32(BLK_VUB_SEG_MAX);
	c->blk_size = htole32(bs);
	c->num_queues = htole16((uint16_t)ex->num_queues);
	ex->features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES) |
		       (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_BLK_F_SIZE_MAX) |
		       (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		       (1ULL << VIRTIO_BLK_F_MQ);
	if (caps & BLK_CAP_FLUSH)
		ex->features |= 1ULL << VIRTIO_BLK_F_FLUSH;
	if (ex->readonly) {
		ex->features |= 1ULL << VIRTIO_BLK_F_RO;
	} else {
		if (caps & BLK_CAP_DISCARD) {
			ex->features |= 1ULL << VIRTIO_BLK_F_DISCARD;
			c->max_discard_sectors = htole32(range);
			c->max_discard_seg = htole32(1);
			c->discard_sector_alignment = htole32(align);
		}
		if (caps & BLK_CAP_WRITE_ZEROES) {
			ex->features |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
			c->max_write_zeroes_sectors = htole32(range);
			c->max_write_zeroes_seg = htole32(1);
		}
	}
	snprintf(ex->serial, sizeof(ex->serial), "%.20s", ex->name);
	ex->geom = (struct blk_vub_geom){
		.size = blk_bdev_size(ex->bdev),
		.block_size = bs,
		.caps = caps,
		.readonly = ex->readonly,
		.serial = ex->serial,
		.max_discard_sectors = range,
		.max_write_zeroes_sectors = range,
	};
}

/* Removes a socket file left by a previous process; refuses anything else. */
static int stale_socket_remove(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	return unlink(path) ? -errno : 0;
}

static int driver_start(struct vub_export *ex)
{
	const uint64_t proto = (1ULL << VHOST_USER_PROTOCOL_F_MQ) |
			       (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			       (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |
			       (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);

	if (rte_vhost_driver_register(ex->path, 0))
		return -EADDRINUSE;
	if (rte_vhost_driver_set_features(ex->path, ex->features) ||
	    rte_vhost_driver_set_protocol_features(ex->path, proto) ||
	    rte_vhost_driver_callback_register(ex->path, &vub_ops) ||
	    rte_vhost_driver_start(ex->path)) {
		rte_vhost_driver_unregister(ex->path);
		return -EIO;
	}
	return 0;
}

int blk_vub_export_add(const struct blk_vub_export_opts *o)
{
	const char *name = o->name ? o->name : o->bdev;
	unsigned nq = o->num_queues ? o->num_queues : 1;
	struct vub_export *ex;
	int ret;

	if (!o->bdev || !name || !blk_bdev_name_valid(name) || !o->socket || !o->socket[0] ||
	    strlen(o->socket) >= sizeof(ex->path) || nq > BLK_VUB_MAX_QUEUES)
		return -EINVAL;
	if (export_by_name(name))
		return -EEXIST;
	if (export_by_path(o->socket))
		return -EADDRINUSE;
	ret = blk_eal_init();
	if (ret)
		return ret;
	ex = calloc(1, sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	snprintf(ex->name, sizeof(ex->name), "%s", name);
	snprintf(ex->path, sizeof(ex->path), "%s", o->socket);
	ex->readonly = o->readonly;
	ex->no_pin = o->no_pin;
	ex->num_queues = nq;
	ex->stats = aligned_alloc(64, sizeof(*ex->stats) * BLK_MAX_REACTORS);
	if (!ex->stats) {
		ret = -ENOMEM;
		goto err_free;
	}
	memset(ex->stats, 0, sizeof(*ex->stats) * BLK_MAX_REACTORS);
	ret = blk_bdev_open(o->bdev, NULL, &ex->bdev);
	if (ret)
		goto err_free;
	if (blk_bdev_block_size(ex->bdev) < BLK_VUB_SECTOR) {
		ret = -EINVAL;
		goto err_close;
	}
	export_config_init(ex);
	ret = stale_socket_remove(ex->path);
	if (ret)
		goto err_close;
	/* Visible to the callbacks before the socket accepts. */
	pthread_mutex_lock(&vub_lock);
	ex->next = exports;
	exports = ex;
	pthread_mutex_unlock(&vub_lock);
	ret = driver_start(ex);
	if (ret)
		goto err_unlink;
	VSL_INFO("export %s: bdev %s on vhost-user-blk socket %s, %u queue(s)%s", ex->name,
		 blk_bdev_name(ex->bdev), ex->path, nq, ex->readonly ? " (read-only)" : "");
	return 0;

err_unlink:
	pthread_mutex_lock(&vub_lock);
	exports = ex->next;
	pthread_mutex_unlock(&vub_lock);
err_close:
	blk_bdev_close(ex->bdev, false);
err_free:
	free(ex->stats);
	free(ex);
	return ret;
}

static void export_destroy(struct vub_export *ex)
{
	struct vub_export **pp;

	/* Disconnects every front end: destroy_device waits for the reactors. */
	rte_vhost_driver_unregister(ex->path);
	pthread_mutex_lock(&vub_lock);
	for (pp = &exports; *pp && *pp != ex; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = ex->next;
	pthread_mutex_unlock(&vub_lock);
	/* rte_vhost does not call destroy_connection when it unregisters. */
	while (ex->devs) {
		struct vub_dev *d = ex->devs;

		ex->devs = d->next;
		dev_stop(d);
		sem_destroy(&d->stopped);
		free(d);
	}
	unlink(ex->path);
	blk_bdev_close(ex->bdev, false);
	VSL_INFO("export %s removed", ex->name);
	free(ex->stats);
	free(ex);
}

int blk_vub_export_remove(const char *name)
{
	struct vub_export *ex = export_by_name(name);

	if (!ex)
		return -ENOENT;
	export_destroy(ex);
	return 0;
}

bool blk_vub_export_exists(const char *name)
{
	return export_by_name(name) != NULL;
}

static struct json_object *stats_json(const struct vub_export *ex)
{
	static const char *const names[ST_OPS] = {
		"read", "write", "flush", "discard", "write_zeroes", "get_id"
	};
	uint64_t ops[ST_OPS] = { 0 }, rd = 0, wr = 0, err = 0, unsupp = 0, resub = 0;
	struct json_object *o = json_object_new_object();

	for (unsigned r = 0; r < BLK_MAX_REACTORS; r++) {
		const struct vub_stats *st = &ex->stats[r];

		for (int i = 0; i < ST_OPS; i++)
			ops[i] += atomic_load_explicit(&st->ops[i], memory_order_relaxed);
		rd += atomic_load_explicit(&st->bytes_read, memory_order_relaxed);
		wr += atomic_load_explicit(&st->bytes_written, memory_order_relaxed);
		err += atomic_load_explicit(&st->errors, memory_order_relaxed);
		unsupp += atomic_load_explicit(&st->unsupported, memory_order_relaxed);
		resub += atomic_load_explicit(&st->resubmitted, memory_order_relaxed);
	}
	for (int i = 0; i < ST_OPS; i++)
		json_object_object_add(o, names[i], json_object_new_int64((int64_t)ops[i]));
	json_object_object_add(o, "errors", json_object_new_int64((int64_t)err));
	json_object_object_add(o, "unsupported", json_object_new_int64((int64_t)unsupp));
	json_object_object_add(o, "resubmitted", json_object_new_int64((int64_t)resub));
	json_object_object_add(o, "bytes_read", json_object_new_int64((int64_t)rd));
	json_object_object_add(o, "bytes_written", json_object_new_int64((int64_t)wr));
	return o;
}

void blk_vub_export_list(struct json_object *arr)
{
	pthread_mutex_lock(&vub_lock);
	for (struct vub_export *ex = exports; ex; ex = ex->next) {
		struct json_object *o = json_object_new_object();
		unsigned conns = 0, running = 0;

		for (struct vub_dev *d = ex->devs; d; d = d->next) {
			conns++;
			running += d->running;
		}
		json_object_object_add(o, "name", json_object_new_string(ex->name));
		json_object_object_add(o, "type", json_object_new_string("vhost-user-blk"));
		json_object_object_add(o, "bdev", json_object_new_string(blk_bdev_name(ex->bdev)));
		json_object_object_add(o, "socket", json_object_new_string(ex->path));
		json_object_object_add(o, "readonly", json_object_new_boolean(ex->readonly));
		json_object_object_add(o, "num_queues", json_object_new_int((int)ex->num_queues));
		json_object_object_add(o, "size",
				       json_object_new_int64((int64_t)blk_bdev_size(ex->bdev)));
		json_object_object_add(o, "connections", json_object_new_int((int)conns));
		json_object_object_add(o, "running", json_object_new_int((int)running));
		json_object_object_add(o, "accepted", json_object_new_int64((int64_t)ex->connects));
		json_object_object_add(o, "broken_queues",
				       json_object_new_int((int)atomic_load(&ex->broken_queues)));
		json_object_object_add(o, "pin_memory", json_object_new_boolean(!ex->no_pin));
		json_object_object_add(o, "pinned_queues",
				       json_object_new_int((int)atomic_load(&ex->pinned_queues)));
		json_object_object_add(o, "stats", stats_json(ex));
		json_object_array_add(arr, o);
	}
	pthread_mutex_unlock(&vub_lock);
}

static int config_add(struct vub_export *ex, struct json_object *calls)
{
	struct json_object *p;
	int ret;

	if (!ex)
		return 0;
	ret = config_add(ex->next, calls);
	if (ret)
		return ret;
	p = json_object_new_object();
	json_object_object_add(p, "bdev", json_object_new_string(blk_bdev_name(ex->bdev)));
	json_object_object_add(p, "type", json_object_new_string("vhost-user-blk"));
	json_object_object_add(p, "name", json_object_new_string(ex->name));
	json_object_object_add(p, "socket", json_object_new_string(ex->path));
	json_object_object_add(p, "num_queues", json_object_new_int((int)ex->num_queues));
	if (ex->readonly)
		json_object_object_add(p, "readonly", json_object_new_boolean(true));
	if (ex->no_pin)
		json_object_object_add(p, "pin_memory", json_object_new_boolean(false));
	return vsl_config_add_call(calls, "export-add", p);
}

int blk_vub_config(struct json_object *calls)
{
	return config_add(exports, calls);
}

void blk_vub_fini(void)
{
	while (exports)
		export_destroy(exports);
}
