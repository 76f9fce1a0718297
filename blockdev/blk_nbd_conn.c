/* blk_nbd_conn.c — NBD transmission phase on a reactor.
 *
 * A connection owns NBD_SLOTS request slots. Receiving: headers are read into
 * a 64 KiB input buffer and parsed in place; a WRITE's payload goes into its
 * slot's buffer (copied from the input buffer, then received directly). A
 * request that fails its checks gets its NBD error without touching the bdev;
 * a bad WRITE still has its payload read and dropped so the stream stays in
 * step. When every slot is busy the connection stops reading (TCP pushes back
 * on the client) until a reply has been sent.
 *
 * Replies are simple, except READs when the client negotiated structured
 * replies: those get one OFFSET_DATA (or ERROR) chunk marked DONE.
 *
 * Sending: replies queue in completion order (NBD allows any order) and leave
 * with one sendmsg() per reactor iteration; a short send arms an io_uring
 * POLLOUT.
 *
 * Waking: the socket is never polled by spinning. An io_uring POLL_ADD (one
 * shot) is armed whenever a recv() or send() would block; its CQE wakes the
 * reactor. -ENOMEM from the bdev parks the slot on a retry list that the
 * connection's poller drains on following iterations.
 *
 * Buffers: a slot's buffer grows to the largest request it has carried (page
 * aligned, for O_DIRECT bdevs) and is kept, so steady I/O allocates nothing;
 * buffers above SLOT_KEEP are released after their request, bounding a
 * connection's memory.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blk_nbd_internal.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(nbd);

enum {
	NBD_SLOTS = 64,
	INBUF_SIZE = 64 << 10,
	SLOT_KEEP = 1 << 20,
	RX_BUDGET = 256,        /* requests parsed per call before yielding */
	TX_IOV = 64,
};

enum rx_state { RX_HDR, RX_PAYLOAD, RX_DISCARD };

struct nbd_conn;

struct nbd_slot {
	struct nbd_conn *c;
	struct blk_nbd_req req;
	void *buf;
	size_t cap;
	struct iovec iov;
	uint32_t err;                  /* NBD error to answer */
	bool flush_after;              /* WRITE_ZEROES with FUA: flush before answering */
	uint8_t hlen;                  /* reply header bytes in hdr */
	uint8_t hdr[BLK_NBD_REPLY_HDR_MAX];
	uint32_t data_len;             /* bytes of buf sent after the header */
	bool fixed;                    /* buf is registered with the reactor's io_uring */
	struct nbd_slot *next;         /* free list, retry list or tx queue */
};

struct nbd_conn {
	int fd;
	struct blk_reactor *r;
	struct nbd_export *ex;
	struct blk_bdev *bdev;
	struct blk_uring_op pin_op, pout_op, cancel_op;
	bool pin_armed, pout_armed;
	bool pin_cancel_sent;          /* cancel_op in flight */
	bool rx_drained;               /* the last recv() came back short: wait for the poll */
	bool want_rx, want_tx, rx_blocked;
	bool disc, closing;
	bool structured;               /* structured replies negotiated */
	struct blk_poller poller;
	uint8_t *inbuf;
	size_t in_len, in_off;
	enum rx_state rx;
	struct nbd_slot *rx_slot;
	uint64_t rx_left;
	struct nbd_slot *free;
	struct nbd_slot *retry_head, *retry_tail;
	struct nbd_slot *tx_head, *tx_tail;
	size_t tx_off;                 /* bytes of tx_head already sent */
	unsigned inflight;             /* slots inside the bdev */
	struct nbd_conn *next;         /* this reactor's connections */
	struct nbd_slot slots[NBD_SLOTS];
};

/* Connections per reactor: touched only by that reactor (and by fini once the
 * reactors have stopped). */
static struct nbd_conn *rconns[BLK_MAX_REACTORS];

static struct vsl_ratelimit proto_rl = VSL_RATELIMIT_INIT(10, 5);

static void conn_rx(struct nbd_conn *c);
static void conn_tx(struct nbd_conn *c);
static void slot_submit(struct nbd_slot *s);

/* ----------------------------------------------------------------- slots */

static void slot_put(struct nbd_slot *s)
{
	struct nbd_conn *c = s->c;

	if (s->cap > SLOT_KEEP) {
		/* Never registered (see slot_reserve). */
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
	s->next = c->free;
	c->free = s;
	if (c->rx_blocked) {
		c->rx_blocked = false;
		c->want_rx = true;
	}
}

/* Reactor thread. Buffers that are kept (up to SLOT_KEEP) are registered with
 * the reactor's io_uring, so file I/O into them skips pinning their pages. */
static int slot_reserve(struct nbd_slot *s, size_t len)
{
	struct nbd_conn *c = s->c;
	void *p;

	if (len <= s->cap)
		return 0;
	if (posix_memalign(&p, 4096, len))
		return -ENOMEM;
	if (s->fixed) {
		blk_reactor_buf_del(c->r, s);
		s->fixed = false;
	}
	free(s->buf);
	s->buf = p;
	s->cap = len;
	if (len <= SLOT_KEEP)
		s->fixed = blk_reactor_buf_add(c->r, s, &(struct iovec){ p, len }, 1) == 0;
	return 0;
}

static inline void stat_add(_Atomic uint64_t *p, uint64_t v)
{
	atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static void slot_count(struct nbd_slot *s, uint32_t err)
{
	struct nbd_export_stats *st = &s->c->ex->stats[blk_reactor_id(s->c->r)];

	if (err) {
		stat_add(&st->errors, 1);
		return;
	}
	if (s->req.type < NBD_STAT_CMDS)
		stat_add(&st->cmds[s->req.type], 1);
	if (s->req.type == NBD_CMD_READ)
		stat_add(&st->bytes_read, s->req.len);
	else if (s->req.type == NBD_CMD_WRITE)
		stat_add(&st->bytes_written, s->req.len);
}

static void slot_reply(struct nbd_slot *s, uint32_t err, uint32_t data_len)
{
	struct nbd_conn *c = s->c;

	slot_count(s, err);
	if (c->closing) {
		slot_put(s);
		return;
	}
	s->hlen = (uint8_t)blk_nbd_reply_build(s->hdr, c->structured, &s->req, err);
	s->data_len = err ? 0 : data_len;
	s->next = NULL;
	if (c->tx_tail)
		c->tx_tail->next = s;
	else
		c->tx_head = s;
	c->tx_tail = s;
	/* Sent by the poller at the start of the next iteration, together with
	 * every other reply completed in this one: one sendmsg() per batch. */
	c->want_tx = true;
}

static void slot_done(void *arg, int status)
{
	struct nbd_slot *s = arg;
	struct nbd_conn *c = s->c;

	c->inflight--;
	if (!status && s->flush_after) {
		s->flush_after = false;
		s->req.type = NBD_CMD_FLUSH;   /* second step of a FUA write-zeroes */
		slot_submit(s);
		return;
	}
	slot_reply(s, blk_nbd_errno(status), s->req.type == NBD_CMD_READ ? s->req.len : 0);
}

static void retry_park(struct nbd_slot *s)
{
	struct nbd_conn *c = s->c;

	s->next = NULL;
	if (c->retry_tail)
		c->retry_tail->next = s;
	else
		c->retry_head = s;
	c->retry_tail = s;
}

/* Returns the blk_bdev_submit() result. */
static int slot_issue(struct nbd_slot *s)
{
	struct nbd_conn *c = s->c;
	const struct blk_nbd_req *q = &s->req;
	uint32_t fua = (q->flags & NBD_CMD_FLAG_FUA) ? BLK_IO_F_FUA : 0;

	switch (q->type) {
	case NBD_CMD_READ:
		s->iov.iov_base = s->buf;
		s->iov.iov_len = q->len;
		return blk_bdev_readv(c->bdev, c->r, &s->iov, 1, q->offset, q->len, slot_done, s);
	case NBD_CMD_WRITE:
		s->iov.iov_base = s->buf;
		s->iov.iov_len = q->len;
		if (fua && !(blk_bdev_caps(c->bdev) & BLK_CAP_FUA))
			fua = 0;   /* not advertised: the client should not have asked */
		return blk_bdev_writev(c->bdev, c->r, &s->iov, 1, q->offset, q->len, fua, slot_done,
				       s);
	case NBD_CMD_FLUSH:
		return blk_bdev_flush(c->bdev, c->r, slot_done, s);
	case NBD_CMD_TRIM:
		return blk_bdev_submit(c->bdev, c->r, BLK_IO_DISCARD, 0, q->offset, q->len, NULL, 0,
				       slot_done, s);
	case NBD_CMD_WRITE_ZEROES:
		s->flush_after = fua && (blk_bdev_caps(c->bdev) & BLK_CAP_FLUSH);
		return blk_bdev_submit(c->bdev, c->r, BLK_IO_WRITE_ZEROES, 0, q->offset, q->len,
				       NULL, 0, slot_done, s);
	default:
		return -EINVAL;
	}
}

static void slot_submit(struct nbd_slot *s)
{
	int ret = slot_issue(s);

	if (ret == 0)
		s->c->inflight++;
	else if (ret == -ENOMEM)
		retry_park(s);
	else
		slot_reply(s, blk_nbd_errno(ret), 0);
}

/* A request whose header (and payload, for WRITE) is in. */
static void slot_dispatch(struct nbd_slot *s)
{
	const struct blk_nbd_req *q = &s->req;

	if (s->err) {
		slot_reply(s, s->err, 0);
		return;
	}
	/* Zero-length data commands are no-ops the protocol allows. */
	if (q->len == 0 && q->type != NBD_CMD_FLUSH) {
		slot_reply(s, NBD_OK, 0);
		return;
	}
	if (q->type == NBD_CMD_READ && slot_reserve(s, q->len)) {
		slot_reply(s, NBD_ENOMEM, 0);
		return;
	}
	s->flush_after = false;
	slot_submit(s);
}

/* ---------------------------------------------------------------- socket */

static void arm(struct nbd_conn *c, bool out)
{
	struct blk_uring_op *op = out ? &c->pout_op : &c->pin_op;
	bool *armed = out ? &c->pout_armed : &c->pin_armed;
	struct io_uring_sqe *sqe;

	if (*armed || c->closing)
		return;
	sqe = blk_reactor_sqe(c->r, op);
	if (!sqe) {
		/* Ring full: the poller tries again next iteration. */
		if (!out)
			c->want_rx = true;
		return;
	}
	/* Input is watched by a multishot poll that stays armed: every arrival
	 * of data wakes the reactor, with no new SQE per wait. Output waits are
	 * rare (a full socket buffer): one shot. */
	if (out)
		io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
	else
		io_uring_prep_poll_multishot(sqe, c->fd, POLLIN);
	*armed = true;
}

static void conn_close(struct nbd_conn *c)
{
	struct nbd_slot *s;

	if (c->closing)
		return;
	c->closing = true;
	/* Wakes the armed polls; their CQEs come back before the memory goes. */
	shutdown(c->fd, SHUT_RDWR);
	while ((s = c->retry_head)) {
		c->retry_head = s->next;
		slot_put(s);
	}
	c->retry_tail = NULL;
	while ((s = c->tx_head)) {
		c->tx_head = s->next;
		slot_put(s);
	}
	c->tx_tail = NULL;
	if (c->rx_slot) {
		slot_put(c->rx_slot);
		c->rx_slot = NULL;
	}
}

static void conn_tx(struct nbd_conn *c)
{
	while (c->tx_head && !c->closing) {
		struct iovec iov[TX_IOV];
		struct msghdr msg = { .msg_iov = iov };
		size_t skip = c->tx_off;
		int n = 0;
		ssize_t sent;

		for (struct nbd_slot *s = c->tx_head; s && n + 2 <= TX_IOV; s = s->next) {
			size_t hlen = s->hlen;

			if (skip < hlen) {
				iov[n].iov_base = (char *)s->hdr + skip;
				iov[n++].iov_len = hlen - skip;
				skip = 0;
			} else {
				skip -= hlen;
			}
			if (s->data_len) {
				iov[n].iov_base = (char *)s->buf + skip;
				iov[n++].iov_len = s->data_len - skip;
			}
			skip = 0;
		}
		msg.msg_iovlen = (size_t)n;
		sent = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				arm(c, true);
			else if (errno != EINTR)
				conn_close(c);
			return;
		}
		c->tx_off += (size_t)sent;
		while (c->tx_head) {
			struct nbd_slot *s = c->tx_head;
			size_t total = s->hlen + (size_t)s->data_len;

			if (c->tx_off < total)
				break;
			c->tx_off -= total;
			c->tx_head = s->next;
			if (!c->tx_head)
				c->tx_tail = NULL;
			slot_put(s);
		}
	}
}

/* Returns bytes received, 0 after arming a poll (would block), or -1 when the
 * connection is finished (peer closed or error; conn_close done). */
static ssize_t conn_recv(struct nbd_conn *c, void *buf, size_t len)
{
	ssize_t n;

	/* A short read emptied the socket: rather than a recv() that would
	 * only say EAGAIN, wait for the (armed) poll to report new data. */
	if (c->rx_drained && c->pin_armed)
		return 0;
	n = recv(c->fd, buf, len, MSG_DONTWAIT);
	if (n > 0) {
		c->rx_drained = (size_t)n < len;
		if (c->rx_drained)
			arm(c, false);
		return n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		arm(c, false);
		return 0;
	}
	conn_close(c);
	return -1;
}

/* Parses one header from the input buffer. Returns false to stop reading. */
static bool rx_header(struct nbd_conn *c)
{
	struct nbd_slot *s = c->free;
	struct blk_nbd_req req;
	uint32_t payload;

	if (!s) {
		c->rx_blocked = true;
		return false;
	}
	if (blk_nbd_req_parse(c->inbuf + c->in_off, &req)) {
		VSL_WARN_RL(&proto_rl, "export %s: bad request magic, closing", c->ex->name);
		conn_close(c);
		return false;
	}
	c->in_off += sizeof(struct nbd_request);
	if (req.type == NBD_CMD_DISC) {
		/* Replies still owed go out; no more requests are read. */
		c->disc = true;
		return false;
	}
	c->free = s->next;
	s->req = req;
	s->err = blk_nbd_req_check(&req, &c->ex->info);
	payload = blk_nbd_req_payload(&req);
	if (!payload) {
		slot_dispatch(s);
		return true;
	}
	if (!s->err && slot_reserve(s, payload))
		s->err = NBD_ENOMEM;
	c->rx = s->err ? RX_DISCARD : RX_PAYLOAD;
	c->rx_slot = s;
	c->rx_left = payload;
	return true;
}

/* Reads a payload (or drops a bad one). Returns false to stop reading. */
static bool rx_payload(struct nbd_conn *c)
{
	struct nbd_slot *s = c->rx_slot;
	size_t avail = c->in_len - c->in_off;
	size_t pos = s->req.len - c->rx_left;
	ssize_t n;

	if (avail) {
		n = (ssize_t)VSL_MIN((uint64_t)avail, c->rx_left);
		if (c->rx == RX_PAYLOAD)
			memcpy((char *)s->buf + pos, c->inbuf + c->in_off, (size_t)n);
		c->in_off += (size_t)n;
	} else if (c->rx == RX_PAYLOAD) {
		n = conn_recv(c, (char *)s->buf + pos, c->rx_left);
		if (n <= 0)
			return false;
	} else {
		n = conn_recv(c, c->inbuf, VSL_MIN(c->rx_left, (uint64_t)INBUF_SIZE));
		if (n <= 0)
			return false;
	}
	c->rx_left -= (uint64_t)n;
	if (c->rx_left == 0) {
		c->rx = RX_HDR;
		c->rx_slot = NULL;
		slot_dispatch(s);
	}
	return true;
}

static void conn_rx(struct nbd_conn *c)
{
	for (int budget = RX_BUDGET; budget > 0; budget--) {
		if (c->closing || c->disc)
			return;
		if (c->rx != RX_HDR) {
			if (!rx_payload(c))
				return;
			continue;
		}
		if (c->in_len - c->in_off >= sizeof(struct nbd_request)) {
			if (!rx_header(c))
				return;
			continue;
		}
		if (c->in_off) {
			memmove(c->inbuf, c->inbuf + c->in_off, c->in_len - c->in_off);
			c->in_len -= c->in_off;
			c->in_off = 0;
		}
		ssize_t n = conn_recv(c, c->inbuf + c->in_len, INBUF_SIZE - c->in_len);

		if (n <= 0)
			return;
		c->in_len += (size_t)n;
	}
	c->want_rx = true;   /* budget spent: let the other connections run */
}

/* ------------------------------------------------------------- lifecycle */

/* on_reactor: called by c's reactor (else the reactors have stopped and
 * their rings are about to close, which unregisters everything). */
static void conn_free(struct nbd_conn *c, bool on_reactor)
{
	struct nbd_conn **pp = &rconns[blk_reactor_id(c->r)];

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	close(c->fd);
	for (int i = 0; i < NBD_SLOTS; i++) {
		if (c->slots[i].fixed && on_reactor)
			blk_reactor_buf_del(c->r, &c->slots[i]);
		free(c->slots[i].buf);
	}
	free(c->inbuf);
	atomic_fetch_sub(&c->ex->conns, 1);
	blk_nbd_export_put(c->ex);
	free(c);
}

static bool conn_try_free(struct nbd_conn *c)
{
	if (!c->closing || c->pin_armed || c->pout_armed || c->pin_cancel_sent || c->inflight)
		return false;
	blk_poller_del(c->r, &c->poller);
	conn_free(c, true);
	return true;
}

static int conn_poll(void *arg)
{
	struct nbd_conn *c = arg;
	int work = 0;

	while (c->retry_head && !c->closing) {
		struct nbd_slot *s = c->retry_head;
		int ret = slot_issue(s);

		if (ret == -ENOMEM)
			break;
		c->retry_head = s->next;
		if (!c->retry_head)
			c->retry_tail = NULL;
		work++;
		if (ret == 0)
			c->inflight++;
		else
			slot_reply(s, blk_nbd_errno(ret), 0);
	}
	if (c->want_tx && !c->closing) {
		c->want_tx = false;
		conn_tx(c);
		work++;
	}
	if (c->want_rx && !c->closing) {
		c->want_rx = false;
		conn_rx(c);
		work++;
	}
	if (c->disc && !c->inflight && !c->tx_head && !c->retry_head)
		conn_close(c);
	if (c->closing && c->pin_armed && !c->pin_cancel_sent) {
		/* The multishot poll ends only when cancelled. */
		struct io_uring_sqe *sqe = blk_reactor_sqe(c->r, &c->cancel_op);

		if (sqe) {
			io_uring_prep_poll_remove(sqe, (uint64_t)(uintptr_t)&c->pin_op);
			c->pin_cancel_sent = true;
		}
	}
	if (c->closing && conn_try_free(c))
		return 1;
	return work;
}

static void pin_fired(struct blk_uring_op *op, int res)
{
	struct nbd_conn *c = VSL_CONTAINER_OF(op, struct nbd_conn, pin_op);

	(void)res;
	if (!(op->cqe_flags & IORING_CQE_F_MORE))
		c->pin_armed = false;   /* ended (error, cancel): armed again when needed */
	c->rx_drained = false;
	if (!c->closing)
		conn_rx(c);
}

/* The poll removal's own completion: one that found the poll busy (it was
 * firing) is sent again by the poller while the poll is still armed. */
static void cancel_fired(struct blk_uring_op *op, int res)
{
	struct nbd_conn *c = VSL_CONTAINER_OF(op, struct nbd_conn, cancel_op);

	(void)res;
	c->pin_cancel_sent = false;
}

static void pout_fired(struct blk_uring_op *op, int res)
{
	struct nbd_conn *c = VSL_CONTAINER_OF(op, struct nbd_conn, pout_op);

	(void)res;
	c->pout_armed = false;
	if (!c->closing)
		conn_tx(c);
}

static void conn_begin(void *arg)
{
	struct nbd_conn *c = arg;
	unsigned id = blk_reactor_id(c->r);

	c->next = rconns[id];
	rconns[id] = c;
	blk_poller_add(c->r, &c->poller);
	conn_rx(c);
}

int blk_nbd_conn_start(struct blk_reactor *r, int fd, struct nbd_export *ex, bool structured,
		       const uint8_t *pre, size_t pre_len)
{
	struct nbd_conn *c;
	int ret;

	if (pre_len > INBUF_SIZE)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->inbuf = malloc(INBUF_SIZE);
	if (!c->inbuf) {
		free(c);
		return -ENOMEM;
	}
	memcpy(c->inbuf, pre, pre_len);
	c->in_len = pre_len;
	c->fd = fd;
	c->r = r;
	c->ex = ex;
	c->structured = structured;
	c->bdev = ex->bdev;
	c->pin_op.fn = pin_fired;
	c->pout_op.fn = pout_fired;
	c->cancel_op.fn = cancel_fired;
	c->poller.fn = conn_poll;
	c->poller.arg = c;
	for (int i = NBD_SLOTS; i-- > 0;) {
		c->slots[i].c = c;
		c->slots[i].next = c->free;
		c->free = &c->slots[i];
	}
	atomic_fetch_add(&ex->refs, 1);
	atomic_fetch_add(&ex->conns, 1);
	ret = blk_reactor_send(r, conn_begin, c);
	if (ret) {
		atomic_fetch_sub(&ex->conns, 1);
		atomic_fetch_sub(&ex->refs, 1);
		free(c->inbuf);
		free(c);
	}
	return ret;
}

static void close_export_on_reactor(void *arg)
{
	struct nbd_export *ex = arg;
	struct blk_reactor *r = blk_reactor_self();

	for (struct nbd_conn *c = rconns[blk_reactor_id(r)]; c; c = c->next)
		if (c->ex == ex)
			conn_close(c);
	/* The poller of each connection frees it once its I/O and polls are in.
	 * This message held a reference so that ex outlived it. */
	blk_nbd_export_put(ex);
}

void blk_nbd_conn_close_export(struct nbd_export *ex)
{
	for (unsigned i = 0; i < blk_reactor_count(); i++) {
		atomic_fetch_add(&ex->refs, 1);
		if (blk_reactor_send(blk_reactor_get(i), close_export_on_reactor, ex)) {
			atomic_fetch_sub(&ex->refs, 1);
			VSL_ERR("export %s: cannot reach reactor %u", ex->name, i);
		}
	}
}

void blk_nbd_conn_fini(void)
{
	for (unsigned i = 0; i < BLK_MAX_REACTORS; i++) {
		while (rconns[i]) {
			struct nbd_conn *c = rconns[i];

			/* Reactors are stopped and their rings drained: nothing
			 * can still touch c. */
			conn_free(c, false);
		}
	}
}
