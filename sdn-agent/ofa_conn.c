/* ofa_conn.c — one controller connection: non-blocking socket I/O on the
 * control thread's loop, framing, HELLO negotiation, echo keep-alive and the
 * bounded output queue.
 *
 * Framing: a header whose length is below 8 bytes loses the framing (the next
 * message boundary is unknowable), so the connection is closed. Anything else
 * that is wrong with a message is answered with OFPT_ERROR and the next
 * message is read from `length` bytes further on.
 *
 * Back-pressure: replies are always queued, but once the queue passes half
 * its bound the connection stops reading (and stops processing what it has
 * read) until the peer drains it, so a controller that sends requests without
 * reading the answers cannot grow the queue without limit. Asynchronous
 * messages (PACKET_IN, FLOW_REMOVED, PORT_STATUS) are dropped and counted
 * when the queue is at its bound.
 *
 * Lifetime: handlers never free a connection; an error sets c->failed and
 * the fd callback, the echo timer or the agent destroys it at a point where
 * nothing else holds it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "ofa_internal.h"
#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_time.h"

VSL_LOG_MODULE(ofa_conn);

static struct vsl_ratelimit ofa_conn_rl = VSL_RATELIMIT_INIT(60, 20);

static void ofa_conn_on_event(struct vsl_loop *loop, int fd, uint32_t events, void *arg);
static void ofa_conn_on_echo(struct vsl_loop *loop, struct vsl_timer *t, void *arg);

const char *ofa_conn_state_name(const struct ofa_conn *c)
{
	switch (c->state) {
	case OFA_CONN_CONNECTING:
		return "connecting";
	case OFA_CONN_HELLO:
		return "hello";
	case OFA_CONN_ACTIVE:
		return "active";
	}
	return "?";
}

static uint32_t ofa_conn_events(const struct ofa_conn *c)
{
	uint32_t ev = 0;

	if (c->state == OFA_CONN_CONNECTING)
		return EPOLLOUT;
	if (!c->rx_paused && !c->close_after_flush)
		ev |= EPOLLIN;
	if (c->want_out)
		ev |= EPOLLOUT;
	return ev;
}

/* Re-arms the fd only when the wanted events changed. */
static void ofa_conn_update_events(struct ofa_conn *c)
{
	uint32_t ev = ofa_conn_events(c);

	if (ev == c->armed)
		return;
	if (vsl_loop_mod_fd(c->agent->loop, c->fd, ev))
		c->failed = true;
	c->armed = ev;
}

static void ofa_conn_start_hello(struct ofa_conn *c)
{
	struct ofa_buf b;

	c->state = OFA_CONN_HELLO;
	c->last_rx_ms = vsl_time_mono_ms();
	ofa_buf_init(&b);
	if (ofa_hello_encode(c->agent->next_xid++, &b) || ofa_conn_send(c, b.data, b.len, false))
		c->failed = true;
	ofa_buf_fini(&b);
	ofa_conn_flush(c);
}

struct ofa_conn *ofa_conn_create(struct ofa_agent *agent, struct ofa_target *t, int fd,
				 bool connecting)
{
	struct ofa_conn *c = calloc(1, sizeof(*c));
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	unsigned tick;

	if (!c)
		return NULL;
	c->rx = malloc(OFA_RX_CAP);
	if (!c->rx)
		goto err_free;
	c->agent = agent;
	c->target = t;
	c->fd = fd;
	c->role = OFPCR_ROLE_EQUAL;
	c->miss_send_len = agent->cfg.miss_send_len;
	/* Default asynchronous configuration (spec 6.1.1): MASTER/EQUAL get
	 * packet-ins for no-match and action, every port status and flow
	 * removal; SLAVE gets port status only. */
	c->async[0] = (1u << OFPR_NO_MATCH) | (1u << OFPR_ACTION);
	c->async[1] = 0;
	c->async[2] = c->async[3] = (1u << OFPPR_ADD) | (1u << OFPPR_DELETE) | (1u << OFPPR_MODIFY);
	c->async[4] = (1u << OFPRR_IDLE_TIMEOUT) | (1u << OFPRR_HARD_TIMEOUT) |
		      (1u << OFPRR_DELETE) | (1u << OFPRR_GROUP_DELETE);
	c->async[5] = 0;
	ofa_buf_init(&c->tx);
	if (getpeername(fd, (struct sockaddr *)&sa, &sl) == 0) {
		char ip[INET_ADDRSTRLEN];

		snprintf(c->peer, sizeof(c->peer), "%s:%u",
			 inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip)), ntohs(sa.sin_port));
	} else if (t) {
		snprintf(c->peer, sizeof(c->peer), "%s", t->name);
	}
	c->state = connecting ? OFA_CONN_CONNECTING : OFA_CONN_HELLO;
	c->last_rx_ms = vsl_time_mono_ms();
	c->armed = ofa_conn_events(c);
	if (vsl_loop_add_fd(agent->loop, fd, c->armed, ofa_conn_on_event, c))
		goto err_rx;
	tick = VSL_MIN(agent->cfg.echo_interval_ms, 1000u);
	c->echo = vsl_timer_add(agent->loop, tick, tick, ofa_conn_on_echo, c);
	if (!c->echo)
		goto err_del;
	c->next = agent->conns;
	agent->conns = c;
	if (!connecting)
		ofa_conn_start_hello(c);
	return c;

err_del:
	vsl_loop_del_fd(agent->loop, fd);
err_rx:
	free(c->rx);
err_free:
	free(c);
	return NULL;
}

void ofa_conn_destroy(struct ofa_conn *c)
{
	struct ofa_agent *agent = c->agent;
	struct ofa_conn **pp;

	for (pp = &agent->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	vsl_timer_cancel(agent->loop, c->echo);
	vsl_loop_del_fd(agent->loop, c->fd);
	close(c->fd);
	/* A refused connect is retried quietly; a real session is worth a line. */
	vsl_log(&vsl_this_module, c->state == OFA_CONN_CONNECTING ? VSL_LOG_DBG : VSL_LOG_INFO,
		"%s: connection closed (rx %llu, tx %llu, dropped %llu)", c->peer,
		(unsigned long long)c->rx_msgs, (unsigned long long)c->tx_msgs,
		(unsigned long long)c->tx_dropped);
	ofa_agent_conn_closed(agent, c);
	ofa_buf_fini(&c->tx);
	free(c->rx);
	free(c);
}

int ofa_conn_send(struct ofa_conn *c, const void *msg, size_t len, bool async)
{
	size_t queued = c->tx.len - c->tx_off;

	if (async && queued + len > c->agent->cfg.txq_max_bytes) {
		c->tx_dropped++;
		return 0;
	}
	/* Reclaim the sent prefix before growing. */
	if (c->tx_off && c->tx_off == c->tx.len) {
		c->tx.len = 0;
		c->tx_off = 0;
	} else if (c->tx_off > c->tx.cap / 2) {
		memmove(c->tx.data, c->tx.data + c->tx_off, queued);
		c->tx.len = queued;
		c->tx_off = 0;
	}
	if (!ofa_buf_put(&c->tx, msg, len))
		return -ENOMEM;
	c->tx_msgs++;
	return 0;
}

void ofa_conn_send_error(struct ofa_conn *c, int err, const uint8_t *req, size_t req_len)
{
	struct ofa_buf b;
	char name[96];

	VSL_INFO_RL(&ofa_conn_rl, "%s: answering type %u with %s", c->peer,
		    req_len > 1 ? req[1] : 0, ofa_err_name(err, name, sizeof(name)));
	ofa_buf_init(&b);
	if (ofa_error_encode_for(err, req, req_len, &b) == 0)
		ofa_conn_send(c, b.data, b.len, false);
	ofa_buf_fini(&b);
}

void ofa_conn_flush(struct ofa_conn *c)
{
	while (c->tx_off < c->tx.len && !c->failed) {
		ssize_t n = send(c->fd, c->tx.data + c->tx_off, c->tx.len - c->tx_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->tx_off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		} else {
			VSL_INFO("%s: send: %s", c->peer, n < 0 ? strerror(errno) : "closed");
			c->failed = true;
			return;
		}
	}
	if (c->tx_off == c->tx.len) {
		c->tx.len = 0;
		c->tx_off = 0;
		if (c->close_after_flush)
			c->failed = true;
	}
	c->want_out = c->tx_off < c->tx.len;
	if (c->state != OFA_CONN_CONNECTING)
		ofa_conn_update_events(c);
}

/* The peer's HELLO: agree on 1.3 or fail. With a version bitmap, 1.3 must be
 * in it; without one, the peer's header version must be 1.3 or later (it
 * then speaks the lower of both, which is ours). */
static void ofa_conn_on_hello(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	bool ok = msg[0] >= OFP13_VERSION;
	size_t off = sizeof(struct ofp_header), elen;
	struct ofa_buf b;
	char text[96];

	while (len - off >= 4) {
		uint16_t type = ofa_get16(msg + off);

		elen = ofa_get16(msg + off + 2);
		if (elen < 4 || elen > len - off)
			break;
		if (type == OFPHET_VERSIONBITMAP)
			ok = elen >= 8 && (ofa_get32(msg + off + 4) >> OFP13_VERSION & 1);
		off += ofa_pad8(elen);
		if (off > len)
			break;
	}
	if (ok) {
		c->state = OFA_CONN_ACTIVE;
		VSL_INFO("%s: OpenFlow 1.3 agreed", c->peer);
		ofa_agent_conn_active(c->agent, c);
		return;
	}
	snprintf(text, sizeof(text), "this switch speaks OpenFlow 1.3 (0x04) only; peer offered 0x%02x",
		 msg[0]);
	VSL_WARN("%s: %s", c->peer, text);
	ofa_buf_init(&b);
	if (ofa_error_encode(ofa_err(OFPET_HELLO_FAILED, OFPHFC_INCOMPATIBLE), ofa_get32(msg + 4),
			     text, strlen(text), &b) == 0) {
		/* An older peer parses the error with its own version. */
		b.data[0] = VSL_MIN(msg[0], (uint8_t)OFP13_VERSION);
		ofa_conn_send(c, b.data, b.len, false);
	}
	ofa_buf_fini(&b);
	c->close_after_flush = true;
}

/* Handles complete messages in rx; returns false when framing is lost. */
static bool ofa_conn_process(struct ofa_conn *c)
{
	size_t off = 0, half = c->agent->cfg.txq_max_bytes / 2;

	while (c->rx_len - off >= sizeof(struct ofp_header) && !c->failed &&
	       !c->close_after_flush) {
		const uint8_t *msg = c->rx + off;
		size_t len = ofa_get16(msg + 2);

		if (len < sizeof(struct ofp_header)) {
			VSL_WARN("%s: message length %zu lost the framing; closing", c->peer, len);
			return false;
		}
		if (c->rx_len - off < len)
			break;
		if (c->tx.len - c->tx_off > half) {
			c->rx_paused = true;
			break;
		}
		c->rx_msgs++;
		c->last_rx_ms = vsl_time_mono_ms();
		c->missed_echo = 0;
		if (c->state == OFA_CONN_HELLO) {
			if (msg[1] == OFPT_HELLO)
				ofa_conn_on_hello(c, msg, len);
			else {
				/* The spec's first message is HELLO; without it
				 * there is no agreed version to answer in. */
				ofa_conn_send_error(c, ofa_err(OFPET_HELLO_FAILED, OFPHFC_EPERM),
						    msg, len);
				c->close_after_flush = true;
			}
		} else {
			ofa_handle_msg(c, msg, len);
		}
		off += len;
	}
	if (off) {
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= off;
	}
	return true;
}

static void ofa_conn_on_connected(struct ofa_conn *c)
{
	int err = 0;
	socklen_t sl = sizeof(err);
	struct sockaddr_in sa;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) || err) {
		VSL_DBG("%s: connect: %s", c->peer, strerror(err ? err : errno));
		c->failed = true;
		return;
	}
	sl = sizeof(sa);
	if (getpeername(c->fd, (struct sockaddr *)&sa, &sl) == 0) {
		char ip[INET_ADDRSTRLEN];

		snprintf(c->peer, sizeof(c->peer), "%s:%u",
			 inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip)), ntohs(sa.sin_port));
	}
	VSL_INFO("%s: connected", c->peer);
	ofa_conn_start_hello(c);
	ofa_conn_update_events(c);
}

static void ofa_conn_on_event(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ofa_conn *c = arg;

	(void)loop;
	(void)fd;
	if (c->state == OFA_CONN_CONNECTING) {
		ofa_conn_on_connected(c);
		goto out;
	}
	if (events & EPOLLOUT)
		ofa_conn_flush(c);
	/* Output drained below the mark: go on with what was already read. */
	if (c->rx_paused && !c->failed &&
	    c->tx.len - c->tx_off <= c->agent->cfg.txq_max_bytes / 2) {
		c->rx_paused = false;
		if (!ofa_conn_process(c))
			goto fail;
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->rx_paused && !c->failed &&
	    !c->close_after_flush) {
		ssize_t n = recv(c->fd, c->rx + c->rx_len, OFA_RX_CAP - c->rx_len, MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			VSL_INFO("%s: %s", c->peer, n == 0 ? "peer closed" : strerror(errno));
			goto fail;
		}
		if (n > 0) {
			c->rx_len += (size_t)n;
			if (!ofa_conn_process(c))
				goto fail;
		}
	}
	ofa_conn_flush(c);
out:
	if (c->failed)
		ofa_conn_destroy(c);
	return;
fail:
	ofa_conn_destroy(c);
}

static void ofa_conn_on_echo(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct ofa_conn *c = arg;
	const struct ofa_agent_config *cfg = &c->agent->cfg;
	uint64_t now = vsl_time_mono_ms();
	struct ofa_buf b;

	(void)loop;
	(void)t;
	/* Marked by a send from outside the fd callback (an async message). */
	if (c->failed) {
		ofa_conn_destroy(c);
		return;
	}
	if (c->state == OFA_CONN_CONNECTING) {
		/* A black-holed SYN would otherwise wait for the kernel's
		 * connect timeout (minutes) before the next try. */
		if (now - c->last_rx_ms >= (uint64_t)cfg->echo_interval_ms * (cfg->echo_max_missed + 1)) {
			VSL_DBG("%s: connect timed out", c->peer);
			ofa_conn_destroy(c);
		}
		return;
	}
	if (now - c->last_rx_ms < cfg->echo_interval_ms ||
	    now - c->last_probe_ms < cfg->echo_interval_ms)
		return;
	if (c->missed_echo >= cfg->echo_max_missed) {
		VSL_WARN("%s: %u echo requests unanswered; dropping", c->peer, c->missed_echo);
		ofa_conn_destroy(c);
		return;
	}
	ofa_buf_init(&b);
	if (ofa_simple_encode(OFPT_ECHO_REQUEST, c->agent->next_xid++, NULL, 0, &b) == 0)
		ofa_conn_send(c, b.data, b.len, false);
	ofa_buf_fini(&b);
	c->missed_echo++;
	c->last_probe_ms = now;
	ofa_conn_flush(c);
	if (c->failed)
		ofa_conn_destroy(c);
}
