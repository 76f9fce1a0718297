/* ofa_agent.c — the agent: controller targets (active with back-off, passive
 * listeners), the set of connections, roles with generation ids, and the
 * asynchronous messages the switch raises.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ofa_internal.h"
#include "vsl_log.h"
#include "vsl_loop.h"

VSL_LOG_MODULE(ofa_agent);

void ofa_agent_config_default(struct ofa_agent_config *cfg)
{
	cfg->echo_interval_ms = 5000;
	cfg->echo_max_missed = 3;
	cfg->backoff_min_ms = 1000;
	cfg->backoff_max_ms = 8000;
	cfg->txq_max_bytes = 4u << 20;
	cfg->miss_send_len = OFP_DEFAULT_MISS_SEND_LEN;
}

struct ofa_agent *ofa_agent_create(struct vsl_loop *loop, const struct ofa_datapath_ops *ops,
				   void *dp, const struct ofa_agent_config *cfg)
{
	struct ofa_agent *a;

	if (!loop || !ops) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->loop = loop;
	a->ops = ops;
	a->dp = dp;
	if (cfg)
		a->cfg = *cfg;
	else
		ofa_agent_config_default(&a->cfg);
	/* A zero in any knob would disable a safety property; refuse it. */
	if (!a->cfg.echo_interval_ms || !a->cfg.backoff_min_ms ||
	    a->cfg.backoff_max_ms < a->cfg.backoff_min_ms || a->cfg.txq_max_bytes < 65536) {
		free(a);
		errno = EINVAL;
		return NULL;
	}
	a->next_xid = 1;
	return a;
}

static void ofa_target_free(struct ofa_target *t);

void ofa_agent_destroy(struct ofa_agent *a)
{
	if (!a)
		return;
	while (a->targets) {
		struct ofa_target *t = a->targets;

		a->targets = t->next;
		ofa_target_free(t);
	}
	while (a->conns)
		ofa_conn_destroy(a->conns);
	free(a);
}

/* ---- targets ---- */

static int ofa_parse_ipv4(const char *s, struct in_addr *out)
{
	return inet_pton(AF_INET, s, out) == 1 ? 0 : -EINVAL;
}

static int ofa_parse_port(const char *s, bool allow_zero, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535 || (!v && !allow_zero))
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* "tcp:IP:PORT" or "ptcp:PORT[:IP]". */
static int ofa_target_parse(const char *spec, bool *passive, struct sockaddr_in *sa)
{
	char buf[64], *port, *ip;
	uint16_t p;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (!strncmp(spec, "tcp:", 4)) {
		snprintf(buf, sizeof(buf), "%s", spec + 4);
		port = strrchr(buf, ':');
		if (!port)
			return -EINVAL;
		*port++ = '\0';
		if (ofa_parse_ipv4(buf, &sa->sin_addr) || ofa_parse_port(port, false, &p))
			return -EINVAL;
		*passive = false;
	} else if (!strncmp(spec, "ptcp:", 5)) {
		snprintf(buf, sizeof(buf), "%s", spec + 5);
		ip = strchr(buf, ':');
		if (ip)
			*ip++ = '\0';
		if (ofa_parse_port(buf, true, &p))
			return -EINVAL;
		if (ofa_parse_ipv4(ip ? ip : "127.0.0.1", &sa->sin_addr))
			return -EINVAL;
		*passive = true;
	} else {
		return -EINVAL;
	}
	sa->sin_port = htons(p);
	return 0;
}

static void ofa_target_connect(struct ofa_target *t);

static void ofa_target_on_retry(struct vsl_loop *loop, struct vsl_timer *timer, void *arg)
{
	struct ofa_target *t = arg;

	(void)loop;
	(void)timer;
	t->retry = NULL;  /* one-shot: freed by the loop after this returns */
	ofa_target_connect(t);
}

static void ofa_target_schedule(struct ofa_target *t)
{
	struct ofa_agent *a = t->agent;

	if (t->retry)
		return;
	VSL_DBG("%s: reconnecting in %u ms", t->name, t->backoff_ms);
	t->retry = vsl_timer_add(a->loop, t->backoff_ms, 0, ofa_target_on_retry, t);
	if (!t->retry)
		VSL_ERR("%s: cannot arm the reconnect timer", t->name);
	t->backoff_ms = VSL_MIN(t->backoff_ms * 2, a->cfg.backoff_max_ms);
}

static void ofa_target_connect(struct ofa_target *t)
{
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto retry;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&t->addr, sizeof(t->addr)) && errno != EINPROGRESS) {
		VSL_DBG("%s: connect: %s", t->name, strerror(errno));
		close(fd);
		goto retry;
	}
	t->conn = ofa_conn_create(t->agent, t, fd, true);
	if (!t->conn) {
		close(fd);
		goto retry;
	}
	return;
retry:
	ofa_target_schedule(t);
}

static void ofa_target_on_accept(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ofa_target *t = arg;
	int cfd, one = 1;

	(void)loop;
	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!ofa_conn_create(t->agent, t, cfd, false)) {
		VSL_WARN("%s: cannot accept a connection: out of memory", t->name);
		close(cfd);
	}
}

static int ofa_target_listen(struct ofa_target *t)
{
	int fd, one = 1, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&t->addr, sizeof(t->addr)) || listen(fd, 16)) {
		err = -errno;
		close(fd);
		return err;
	}
	err = vsl_loop_add_fd(t->agent->loop, fd, EPOLLIN, ofa_target_on_accept, t);
	if (err) {
		close(fd);
		return err;
	}
	t->listen_fd = fd;
	return 0;
}

static struct ofa_target *ofa_target_find(struct ofa_agent *a, const char *name)
{
	struct ofa_target *t;

	for (t = a->targets; t; t = t->next)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

int ofa_agent_add_target(struct ofa_agent *a, const char *spec)
{
	struct ofa_target *t;
	int err;

	if (ofa_target_find(a, spec))
		return -EEXIST;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->agent = a;
	t->listen_fd = -1;
	t->backoff_ms = a->cfg.backoff_min_ms;
	err = ofa_target_parse(spec, &t->passive, &t->addr);
	if (err)
		goto err_free;
	snprintf(t->name, sizeof(t->name), "%s", spec);
	if (t->passive) {
		err = ofa_target_listen(t);
		if (err)
			goto err_free;
	}
	t->next = a->targets;
	a->targets = t;
	if (!t->passive)
		ofa_target_connect(t);
	VSL_INFO("controller target %s added", spec);
	return 0;

err_free:
	free(t);
	return err;
}

/* Frees a target already unlinked from the agent, closing its connection
 * (active) or every connection its listener accepted (passive). */
static void ofa_target_free(struct ofa_target *t)
{
	struct ofa_agent *a = t->agent;
	struct ofa_conn *c, *next;

	for (c = a->conns; c; c = next) {
		next = c->next;
		if (c->target == t) {
			c->target = NULL;
			ofa_conn_destroy(c);
		}
	}
	if (t->retry)
		vsl_timer_cancel(a->loop, t->retry);
	if (t->listen_fd >= 0) {
		vsl_loop_del_fd(a->loop, t->listen_fd);
		close(t->listen_fd);
	}
	free(t);
}

int ofa_agent_del_target(struct ofa_agent *a, const char *spec)
{
	struct ofa_target **pp, *t;

	for (pp = &a->targets; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, spec))
			break;
	t = *pp;
	if (!t)
		return -ENOENT;
	*pp = t->next;
	ofa_target_free(t);
	VSL_INFO("controller target %s removed", spec);
	return 0;
}

int ofa_agent_listen_port(struct ofa_agent *a, const char *spec)
{
	struct ofa_target *t = ofa_target_find(a, spec);
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	if (!t || t->listen_fd < 0)
		return -ENOENT;
	if (getsockname(t->listen_fd, (struct sockaddr *)&sa, &sl))
		return -errno;
	return ntohs(sa.sin_port);
}

/* ---- connection events ---- */

void ofa_agent_conn_closed(struct ofa_agent *a, struct ofa_conn *c)
{
	struct ofa_target *t = c->target;

	if (t && !t->passive && t->conn == c) {
		t->conn = NULL;
		ofa_target_schedule(t);
	}
	(void)a;
}

void ofa_agent_conn_active(struct ofa_agent *a, struct ofa_conn *c)
{
	/* A completed handshake proves the path: start the next back-off
	 * from the minimum again. */
	if (c->target && !c->target->passive)
		c->target->backoff_ms = a->cfg.backoff_min_ms;
}

int ofa_agent_role_request(struct ofa_conn *c, const struct ofa_role *req, struct ofa_role *reply)
{
	struct ofa_agent *a = c->agent;
	struct ofa_conn *o;

	if (req->role == OFPCR_ROLE_MASTER || req->role == OFPCR_ROLE_SLAVE) {
		/* Generation ids are compared as a circular 64-bit sequence
		 * (spec 6.3.5): older than the newest seen is stale. */
		if (a->generation_valid && (int64_t)(req->generation_id - a->generation_id) < 0)
			return ofa_err(OFPET_ROLE_REQUEST_FAILED, OFPRRFC_STALE);
		a->generation_id = req->generation_id;
		a->generation_valid = true;
	}
	if (req->role == OFPCR_ROLE_MASTER)
		for (o = a->conns; o; o = o->next)
			if (o != c && o->role == OFPCR_ROLE_MASTER)
				o->role = OFPCR_ROLE_SLAVE;
	if (req->role != OFPCR_ROLE_NOCHANGE)
		c->role = req->role;
	reply->role = c->role;
	reply->generation_id = a->generation_valid ? a->generation_id : 0;
	return 0;
}

/* ---- introspection ---- */

size_t ofa_agent_get_conns(struct ofa_agent *a, struct ofa_conn_info *out, size_t max)
{
	struct ofa_target *t;
	struct ofa_conn *c;
	size_t n = 0;

	for (t = a->targets; t; t = t->next) {
		if (n < max && (t->passive || !t->conn)) {
			memset(&out[n], 0, sizeof(out[n]));
			snprintf(out[n].target, sizeof(out[n].target), "%s", t->name);
			out[n].state = t->passive ? "listening" : "backoff";
		}
		if (t->passive || !t->conn)
			n++;
	}
	for (c = a->conns; c; c = c->next, n++) {
		if (n >= max)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].target, sizeof(out[n].target), "%s", c->target ? c->target->name : "");
		snprintf(out[n].peer, sizeof(out[n].peer), "%s", c->peer);
		out[n].state = ofa_conn_state_name(c);
		out[n].role = c->role;
		out[n].rx_msgs = c->rx_msgs;
		out[n].tx_msgs = c->tx_msgs;
		out[n].tx_dropped = c->tx_dropped;
	}
	return n;
}

size_t ofa_agent_n_active(struct ofa_agent *a)
{
	struct ofa_conn *c;
	size_t n = 0;

	for (c = a->conns; c; c = c->next)
		n += c->state == OFA_CONN_ACTIVE;
	return n;
}

/* ---- asynchronous messages ---- */

/* async[] index: 0/1 packet-in, 2/3 port status, 4/5 flow removed; odd for
 * SLAVE connections. */
static bool ofa_conn_wants(const struct ofa_conn *c, unsigned kind, unsigned reason)
{
	unsigned idx = kind * 2 + (c->role == OFPCR_ROLE_SLAVE);

	return c->state == OFA_CONN_ACTIVE && reason < 32 && (c->async[idx] >> reason & 1);
}

/* Sends b to every connection that wants it. A connection whose socket fails
 * here is only marked: the switch may be calling from inside a handler of
 * that very connection (a PACKET_OUT that raises a PACKET_IN), so it is
 * destroyed later by its fd event or its timer, never under a caller. */
static void ofa_agent_broadcast(struct ofa_agent *a, unsigned kind, unsigned reason,
				const struct ofa_buf *b)
{
	struct ofa_conn *c;

	for (c = a->conns; c; c = c->next) {
		if (!ofa_conn_wants(c, kind, reason) || c->failed)
			continue;
		if (ofa_conn_send(c, b->data, b->len, true) == 0)
			ofa_conn_flush(c);
	}
}

int ofa_agent_packet_in(struct ofa_agent *a, const struct ofa_packet_in *pi)
{
	struct ofa_conn *c;
	struct ofa_buf b;
	int err = 0;

	/* The truncation length is per connection for INVALID_TTL
	 * (miss_send_len), so each connection gets its own encoding. */
	ofa_buf_init(&b);
	for (c = a->conns; c; c = c->next) {
		uint16_t max_len = pi->reason == OFPR_INVALID_TTL ? c->miss_send_len : pi->max_len;

		if (!ofa_conn_wants(c, 0, pi->reason) || c->failed)
			continue;
		b.len = 0;
		err = ofa_packet_in_encode(pi, max_len, &b);
		if (err)
			break;
		if (ofa_conn_send(c, b.data, b.len, true) == 0)
			ofa_conn_flush(c);
	}
	ofa_buf_fini(&b);
	return err;  /* failed connections: see ofa_agent_broadcast() */
}

int ofa_agent_flow_removed(struct ofa_agent *a, const struct ofa_flow_removed *fr)
{
	struct ofa_buf b;
	int err;

	ofa_buf_init(&b);
	err = ofa_flow_removed_encode(fr, &b);
	if (!err)
		ofa_agent_broadcast(a, 2, fr->reason, &b);
	ofa_buf_fini(&b);
	return err;
}

int ofa_agent_port_status(struct ofa_agent *a, uint8_t reason, const struct ofa_port *p)
{
	struct ofa_buf b;
	int err;

	ofa_buf_init(&b);
	err = ofa_port_status_encode(reason, p, &b);
	if (!err)
		ofa_agent_broadcast(a, 1, reason, &b);
	ofa_buf_fini(&b);
	return err;
}
