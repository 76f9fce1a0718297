/* blk_nbd.c — NBD exports: listeners, the handshake on the control thread,
 * handing connections to reactors, removal. See blk_nbd.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "blk_nbd_internal.h"
#include "vsl_config.h"
#include "vsl_daemon.h"
#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_time.h"
#include "vsl_util.h"

VSL_LOG_MODULE(nbd);

enum {
	MAX_HANDSHAKES = 256,
	HS_READ = 4096,
	HS_TIMEOUT_MS = 10000,     /* a client gets this long to reach transmission */
	MAX_CONNS = 256,           /* per export: each may pin up to 64 request buffers */
	ACCEPT_PAUSE_MS = 100,     /* after EMFILE and friends */
};

struct nbd_listener {
	char key[160];             /* "unix:PATH" or "tcp:HOST:PORT" as configured */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char bound[80];            /* tcp: the address actually bound */
	int fd;
	struct vsl_timer *pause;   /* accept() paused after running out of fds */
	unsigned exports;
	struct nbd_listener *next;
};

/* A client between accept() and transmission (control thread). */
struct nbd_hs_conn {
	int fd;
	struct nbd_listener *l;
	struct vsl_timer *timer;
	struct blk_nbd_hs hs;
	uint8_t pre[HS_READ];      /* transmission bytes read with the last option */
	size_t pre_len;
	struct nbd_hs_conn *next;
};

static struct nbd_export *exports;
static struct nbd_listener *listeners;
static struct nbd_hs_conn *handshakes;
static unsigned n_handshakes;
static unsigned next_reactor;
static bool shutting_down;

static struct vsl_ratelimit hs_rl = VSL_RATELIMIT_INIT(10, 5);

static struct vsl_loop *ctl_loop(void)
{
	struct vsl_daemon *d = vsl_daemon_get();

	return d ? d->loop : NULL;
}

static struct nbd_export *export_find(const char *name)
{
	for (struct nbd_export *ex = exports; ex; ex = ex->next)
		if (!strcmp(ex->name, name))
			return ex;
	return NULL;
}

/* ------------------------------------------------------------- handshake */

static const struct blk_nbd_export_info *hs_lookup(void *arg, const char *name)
{
	struct nbd_listener *l = arg;

	for (struct nbd_export *ex = exports; ex; ex = ex->next)
		if (ex->l == l && !ex->removing && (!name[0] || !strcmp(ex->name, name)))
			return &ex->info;
	return NULL;
}

static const struct blk_nbd_export_info *hs_list(void *arg, unsigned idx)
{
	struct nbd_listener *l = arg;

	for (struct nbd_export *ex = exports; ex; ex = ex->next)
		if (ex->l == l && !ex->removing && idx-- == 0)
			return &ex->info;
	return NULL;
}

static void hs_free(struct nbd_hs_conn *h, bool close_fd)
{
	struct nbd_hs_conn **pp = &handshakes;

	while (*pp && *pp != h)
		pp = &(*pp)->next;
	if (*pp)
		*pp = h->next;
	n_handshakes--;
	if (h->timer)
		vsl_timer_cancel(ctl_loop(), h->timer);
	vsl_loop_del_fd(ctl_loop(), h->fd);
	if (close_fd)
		close(h->fd);
	blk_nbd_hs_fini(&h->hs);
	free(h);
}

/* Transmission starts: hand the socket to a reactor. */
static void hs_finish(struct nbd_hs_conn *h)
{
	struct nbd_export *ex = VSL_CONTAINER_OF(h->hs.chosen, struct nbd_export, info);
	unsigned n = blk_reactor_count();
	int fd = h->fd, ret = -ENODEV;
	uint8_t pre[HS_READ];
	size_t pre_len = h->pre_len;
	bool structured = h->hs.structured;

	/* The export may have gone while the last reply was being sent. */
	for (struct nbd_export *e = exports; e != ex; e = e->next) {
		if (!e) {
			hs_free(h, true);
			return;
		}
	}
	if (ex->removing) {
		hs_free(h, true);
		return;
	}
	if (atomic_load(&ex->conns) >= MAX_CONNS) {
		VSL_WARN_RL(&hs_rl, "export %s: %d connections already; refusing one", ex->name,
			    MAX_CONNS);
		hs_free(h, true);
		return;
	}
	memcpy(pre, h->pre, pre_len);
	hs_free(h, false);
	if (n) {
		ret = blk_nbd_conn_start(blk_reactor_get(next_reactor++ % n), fd, ex, structured,
					 pre, pre_len);
		if (!ret) {
			ex->accepted++;
			return;
		}
	}
	VSL_WARN("export %s: cannot start connection: %s", ex->name, strerror(-ret));
	close(fd);
}

/* Sends what the handshake queued. Returns 0 when all is out, 1 when some is
 * left (EPOLLOUT armed), -1 when the connection is gone. */
static int hs_flush(struct nbd_hs_conn *h)
{
	while (h->hs.out_len) {
		ssize_t n = send(h->fd, h->hs.out, h->hs.out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			vsl_loop_mod_fd(ctl_loop(), h->fd, EPOLLOUT);
			return 1;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			hs_free(h, true);
			return -1;
		}
		blk_nbd_hs_consume(&h->hs, (size_t)n);
	}
	return 0;
}

static void hs_event(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct nbd_hs_conn *h = arg;
	uint8_t buf[HS_READ];
	ssize_t n, used = 0;

	(void)loop;
	(void)fd;
	if (events & EPOLLOUT) {
		if (hs_flush(h))
			return;
		if (h->hs.state == BLK_NBD_HS_DONE) {
			hs_finish(h);
			return;
		}
		if (h->hs.state == BLK_NBD_HS_CLOSE) {
			hs_free(h, true);
			return;
		}
		vsl_loop_mod_fd(ctl_loop(), h->fd, EPOLLIN);
		return;
	}
	n = recv(h->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		hs_free(h, true);
		return;
	}
	used = blk_nbd_hs_feed(&h->hs, buf, (size_t)n);
	if (used < 0) {
		VSL_INFO_RL(&hs_rl, "NBD handshake failed: %s", strerror((int)-used));
		/* Best effort: queued replies (an error) go out before the close. */
		if (hs_flush(h) >= 0)
			hs_free(h, true);
		return;
	}
	if (h->hs.state == BLK_NBD_HS_DONE) {
		h->pre_len = (size_t)(n - used);
		memcpy(h->pre, buf + used, h->pre_len);
	}
	if (hs_flush(h))
		return;
	if (h->hs.state == BLK_NBD_HS_DONE)
		hs_finish(h);
	else if (h->hs.state == BLK_NBD_HS_CLOSE)
		hs_free(h, true);
}

/* A handshake that stalls would hold a slot of MAX_HANDSHAKES forever. */
static void hs_timeout(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct nbd_hs_conn *h = arg;

	(void)loop;
	(void)t;
	VSL_INFO_RL(&hs_rl, "NBD handshake timed out after %d ms", HS_TIMEOUT_MS);
	hs_free(h, true);
}

static void accept_resume(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct nbd_listener *l = arg;

	(void)t;
	l->pause = NULL;   /* one-shot: the loop frees it */
	vsl_loop_mod_fd(loop, l->fd, EPOLLIN);
}

static void on_accept(struct vsl_loop *loop, int lfd, uint32_t events, void *arg)
{
	struct nbd_listener *l = arg;
	struct nbd_hs_conn *h;
	int fd;

	(void)events;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		/* The client stays in the backlog and the listener readable: stop
		 * watching it for a while rather than spin. */
		if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) &&
		    !l->pause) {
			VSL_WARN_RL(&hs_rl, "NBD accept: %s; pausing for %d ms", strerror(errno),
				    ACCEPT_PAUSE_MS);
			l->pause = vsl_timer_add(loop, ACCEPT_PAUSE_MS, 0, accept_resume, l);
			if (l->pause)
				vsl_loop_mod_fd(loop, lfd, 0);
		}
		return;
	}
	if (n_handshakes >= MAX_HANDSHAKES) {
		VSL_WARN_RL(&hs_rl, "too many NBD handshakes in progress; refusing a client");
		close(fd);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h || blk_nbd_hs_init(&h->hs, hs_lookup, hs_list, l)) {
		if (h)
			blk_nbd_hs_fini(&h->hs);
		free(h);
		close(fd);
		return;
	}
	h->fd = fd;
	h->l = l;
	if (vsl_loop_add_fd(loop, fd, EPOLLIN, hs_event, h)) {
		blk_nbd_hs_fini(&h->hs);
		free(h);
		close(fd);
		return;
	}
	h->timer = vsl_timer_add(loop, HS_TIMEOUT_MS, 0, hs_timeout, h);
	h->next = handshakes;
	handshakes = h;
	n_handshakes++;
	hs_flush(h);   /* the greeting */
}

/* ------------------------------------------------------------- listeners */

static bool addr_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) ==
		       127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}

static int listen_tcp(struct nbd_listener *l, const char *spec, bool allow_remote)
{
	char host[64], port[16];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t hl;
	int one = 1, ret;

	if (!colon || colon == spec || strlen(colon + 1) >= sizeof(port) || !colon[1])
		return -EINVAL;
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	if (getaddrinfo(host, port, &hints, &ai))
		return -EINVAL;
	if (!allow_remote && !addr_loopback(ai->ai_addr)) {
		freeaddrinfo(ai);
		return -EPERM;
	}
	l->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		ret = vsl_neg_errno();
		freeaddrinfo(ai);
		return ret;
	}
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(l->fd, 128) < 0) {
		ret = vsl_neg_errno();
		freeaddrinfo(ai);
		return ret;
	}
	freeaddrinfo(ai);
	if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) == 0) {
		char a[INET6_ADDRSTRLEN] = "?";
		int p = 0;

		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
			p = ntohs(s4->sin_port);
			snprintf(l->bound, sizeof(l->bound), "%s:%d", a, p);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			p = ntohs(s6->sin6_port);
			snprintf(l->bound, sizeof(l->bound), "[%s]:%d", a, p);
		}
	}
	return 0;
}

static int listen_unix(struct nbd_listener *l, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int ret;

	if (!path[0] || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return vsl_neg_errno();
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		/* A socket nobody listens on is stale: replace it. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return vsl_neg_errno();
	snprintf(l->path, sizeof(l->path), "%s", path);
	chmod(path, 0660);
	if (listen(l->fd, 128) < 0) {
		ret = vsl_neg_errno();
		return ret;
	}
	return 0;
}

static void listener_destroy(struct nbd_listener *l)
{
	struct nbd_listener **pp = &listeners;
	struct nbd_hs_conn *h, *next;

	for (h = handshakes; h; h = next) {
		next = h->next;
		if (h->l == l)
			hs_free(h, true);
	}
	while (*pp && *pp != l)
		pp = &(*pp)->next;
	if (*pp)
		*pp = l->next;
	if (l->pause && ctl_loop())
		vsl_timer_cancel(ctl_loop(), l->pause);
	if (l->fd >= 0) {
		if (ctl_loop())
			vsl_loop_del_fd(ctl_loop(), l->fd);
		close(l->fd);
	}
	if (l->path[0])
		unlink(l->path);
	free(l);
}

static int listener_get(const struct blk_nbd_export_opts *o, struct nbd_listener **out)
{
	struct nbd_listener *l;
	char key[sizeof(l->key)];
	int ret;

	if (!o->socket == !o->tcp)
		return -EINVAL;
	if (snprintf(key, sizeof(key), "%s:%s", o->socket ? "unix" : "tcp",
		     o->socket ? o->socket : o->tcp) >= (int)sizeof(key))
		return -EINVAL;
	for (l = listeners; l; l = l->next) {
		if (!strcmp(l->key, key)) {
			*out = l;
			return 0;
		}
	}
	if (!ctl_loop())
		return -ENOTCONN;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->fd = -1;
	snprintf(l->key, sizeof(l->key), "%s", key);
	ret = o->socket ? listen_unix(l, o->socket) : listen_tcp(l, o->tcp, o->allow_remote);
	if (!ret)
		ret = vsl_loop_add_fd(ctl_loop(), l->fd, EPOLLIN, on_accept, l);
	if (ret) {
		if (l->fd >= 0)
			close(l->fd);
		if (l->path[0])
			unlink(l->path);
		free(l);
		return ret;
	}
	l->next = listeners;
	listeners = l;
	*out = l;
	return 0;
}

/* --------------------------------------------------------------- exports */

int blk_nbd_export_add(const struct blk_nbd_export_opts *o)
{
	const char *name = o->name ? o->name : o->bdev;
	struct nbd_export *ex;
	uint32_t caps;
	int ret;

	if (!o->bdev || !blk_bdev_name_valid(name))
		return -EINVAL;
	if (export_find(name))
		return -EEXIST;
	ex = calloc(1, sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	snprintf(ex->name, sizeof(ex->name), "%s", name);
	ex->stats = aligned_alloc(64, sizeof(*ex->stats) * BLK_MAX_REACTORS);
	if (!ex->stats) {
		ret = -ENOMEM;
		goto err_free;
	}
	memset(ex->stats, 0, sizeof(*ex->stats) * BLK_MAX_REACTORS);
	ret = blk_bdev_open(o->bdev, NULL, &ex->bdev);
	if (ret)
		goto err_free;
	ret = listener_get(o, &ex->l);
	if (ret)
		goto err_close;
	ex->l->exports++;
	ex->readonly = o->readonly;
	ex->allow_remote = o->allow_remote;
	snprintf(ex->desc, sizeof(ex->desc), "Vessel bdev %s", blk_bdev_name(ex->bdev));
	caps = blk_bdev_caps(ex->bdev);
	ex->info.name = ex->name;
	ex->info.description = ex->desc;
	ex->info.size = blk_bdev_size(ex->bdev);
	ex->info.min_block = blk_bdev_block_size(ex->bdev);
	ex->info.pref_block = VSL_MAX(4096u, ex->info.min_block);
	ex->info.max_block = BLK_NBD_MAX_REQUEST;
	/* Every bdev's flush is device-wide, so several connections are safe. */
	ex->info.tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_CAN_MULTI_CONN;
	if (caps & BLK_CAP_FLUSH)
		ex->info.tflags |= NBD_FLAG_SEND_FLUSH;
	if (caps & BLK_CAP_FUA)
		ex->info.tflags |= NBD_FLAG_SEND_FUA;
	if (o->readonly)
		ex->info.tflags |= NBD_FLAG_READ_ONLY;
	else {
		if (caps & BLK_CAP_DISCARD)
			ex->info.tflags |= NBD_FLAG_SEND_TRIM;
		if (caps & BLK_CAP_WRITE_ZEROES)
			ex->info.tflags |= NBD_FLAG_SEND_WRITE_ZEROES;
	}
	atomic_init(&ex->refs, 1);
	ex->next = exports;
	exports = ex;
	VSL_INFO("export %s: bdev %s on %s%s", ex->name, blk_bdev_name(ex->bdev), ex->l->key,
		 o->readonly ? " (read-only)" : "");
	return 0;

err_close:
	blk_bdev_close(ex->bdev, false);
err_free:
	free(ex->stats);
	free(ex);
	return ret;
}

/* Control thread: the last reference is gone. */
static void export_finish(void *arg)
{
	struct nbd_export *ex = arg, **pp = &exports;
	void (*done)(void *) = ex->remove_done;
	void *done_arg = ex->remove_arg;

	while (*pp && *pp != ex)
		pp = &(*pp)->next;
	if (*pp)
		*pp = ex->next;
	if (--ex->l->exports == 0)
		listener_destroy(ex->l);
	blk_bdev_close(ex->bdev, false);
	VSL_INFO("export %s removed", ex->name);
	free(ex->stats);
	free(ex);
	if (done)
		done(done_arg);
}

void blk_nbd_export_put(struct nbd_export *ex)
{
	if (atomic_fetch_sub(&ex->refs, 1) != 1 || shutting_down)
		return;
	if (blk_reactor_self()) {
		if (blk_ctl_send(export_finish, ex))
			VSL_ERR("export %s: cannot reach the control thread", ex->name);
	} else {
		export_finish(ex);
	}
}

int blk_nbd_export_remove(const char *name, void (*done)(void *arg), void *arg)
{
	struct nbd_export *ex = export_find(name);

	if (!ex)
		return -ENOENT;
	if (ex->removing)
		return -EALREADY;
	ex->removing = true;      /* invisible to new handshakes from now on */
	ex->remove_done = done;
	ex->remove_arg = arg;
	blk_nbd_conn_close_export(ex);
	blk_nbd_export_put(ex);   /* the export's own reference */
	return 0;
}

bool blk_nbd_export_exists(const char *name)
{
	return export_find(name) != NULL;
}

static struct json_object *export_stats_json(const struct nbd_export *ex)
{
	static const char *const names[NBD_STAT_CMDS] = {
		"read", "write", "disc", "flush", "trim", "cache", "write_zeroes", "block_status"
	};
	uint64_t cmds[NBD_STAT_CMDS] = { 0 }, errors = 0, rd = 0, wr = 0;
	struct json_object *o = json_object_new_object();

	for (unsigned r = 0; r < BLK_MAX_REACTORS; r++) {
		const struct nbd_export_stats *st = &ex->stats[r];

		for (int i = 0; i < NBD_STAT_CMDS; i++)
			cmds[i] += atomic_load_explicit(&st->cmds[i], memory_order_relaxed);
		errors += atomic_load_explicit(&st->errors, memory_order_relaxed);
		rd += atomic_load_explicit(&st->bytes_read, memory_order_relaxed);
		wr += atomic_load_explicit(&st->bytes_written, memory_order_relaxed);
	}
	for (int i = 0; i < NBD_STAT_CMDS; i++)
		if (i != NBD_CMD_DISC && i != NBD_CMD_CACHE && i != NBD_CMD_BLOCK_STATUS)
			json_object_object_add(o, names[i], json_object_new_int64((int64_t)cmds[i]));
	json_object_object_add(o, "errors", json_object_new_int64((int64_t)errors));
	json_object_object_add(o, "bytes_read", json_object_new_int64((int64_t)rd));
	json_object_object_add(o, "bytes_written", json_object_new_int64((int64_t)wr));
	return o;
}

void blk_nbd_export_list(struct json_object *arr)
{
	for (struct nbd_export *ex = exports; ex; ex = ex->next) {
		struct json_object *o = json_object_new_object();
		struct nbd_listener *l = ex->l;

		json_object_object_add(o, "name", json_object_new_string(ex->name));
		json_object_object_add(o, "type", json_object_new_string("nbd"));
		json_object_object_add(o, "bdev", json_object_new_string(blk_bdev_name(ex->bdev)));
		if (l->path[0])
			json_object_object_add(o, "socket", json_object_new_string(l->path));
		else
			json_object_object_add(o, "tcp", json_object_new_string(l->bound));
		json_object_object_add(o, "readonly", json_object_new_boolean(ex->readonly));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)ex->info.size));
		json_object_object_add(o, "connections",
				       json_object_new_int((int)atomic_load(&ex->conns)));
		json_object_object_add(o, "accepted", json_object_new_int64((int64_t)ex->accepted));
		json_object_object_add(o, "removing", json_object_new_boolean(ex->removing));
		json_object_object_add(o, "stats", export_stats_json(ex));
		json_object_array_add(arr, o);
	}
}

/* The list is newest first; configs replay oldest first. */
static int config_add(struct nbd_export *ex, struct json_object *calls)
{
	struct json_object *p;
	const char *key;
	int ret;

	if (!ex)
		return 0;
	ret = config_add(ex->next, calls);
	if (ret || ex->removing)
		return ret;
	p = json_object_new_object();
	key = ex->l->key;
	json_object_object_add(p, "bdev", json_object_new_string(blk_bdev_name(ex->bdev)));
	json_object_object_add(p, "type", json_object_new_string("nbd"));
	json_object_object_add(p, "name", json_object_new_string(ex->name));
	if (!strncmp(key, "unix:", 5))
		json_object_object_add(p, "socket", json_object_new_string(key + 5));
	else
		json_object_object_add(p, "tcp", json_object_new_string(key + 4));
	if (ex->readonly)
		json_object_object_add(p, "readonly", json_object_new_boolean(true));
	if (ex->allow_remote)
		json_object_object_add(p, "allow_remote", json_object_new_boolean(true));
	return vsl_config_add_call(calls, "export-add", p);
}

int blk_nbd_config(struct json_object *calls)
{
	return config_add(exports, calls);
}

unsigned blk_nbd_quiesce(struct vsl_loop *loop, int timeout_ms)
{
	uint64_t deadline = vsl_time_mono_ms() + (uint64_t)timeout_ms;
	unsigned left = 0;

	for (struct nbd_export *ex = exports, *next; ex; ex = next) {
		next = ex->next;      /* the removal may finish (and free ex) at once */
		if (!ex->removing)
			blk_nbd_export_remove(ex->name, NULL, NULL);
	}
	while (exports && vsl_time_mono_ms() < deadline)
		vsl_loop_run_once(loop, 20);
	for (struct nbd_export *ex = exports; ex; ex = ex->next)
		left++;
	if (left)
		VSL_WARN("%u NBD export(s) still busy after %d ms at shutdown", left, timeout_ms);
	return left;
}

void blk_nbd_fini(void)
{
	shutting_down = true;
	blk_nbd_conn_fini();
	while (exports) {
		struct nbd_export *ex = exports;

		exports = ex->next;
		blk_bdev_close(ex->bdev, false);
		free(ex->stats);
		free(ex);
	}
	while (listeners)
		listener_destroy(listeners);
}
