/* vsl_loop.c — epoll + timer event loop for control threads. See vsl_loop.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vsl_loop.h"
#include "vsl_time.h"
#include "vsl_util.h"

enum { LOOP_MAX_EVENTS = 64 };

struct loop_handler {
	vsl_loop_fd_fn fn;   /* NULL: slot free */
	void *arg;
	uint32_t gen;        /* bumped on every add, so stale events are recognised */
};

struct vsl_timer {
	uint64_t deadline_ms;
	uint64_t period_ms;
	vsl_loop_timer_fn fn;
	void *arg;
	struct vsl_timer *next;  /* sorted by deadline */
	bool armed;
	bool running;
	bool cancelled;
};

struct vsl_loop {
	int epfd;
	struct loop_handler *handlers;   /* indexed by fd */
	size_t n_handlers;
	struct vsl_timer *timers;
	bool stop;
};

struct vsl_loop *vsl_loop_create(void)
{
	struct vsl_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	return loop;
}

void vsl_loop_destroy(struct vsl_loop *loop)
{
	struct vsl_timer *t, *next;

	if (!loop)
		return;
	for (t = loop->timers; t; t = next) {
		next = t->next;
		free(t);
	}
	close(loop->epfd);
	free(loop->handlers);
	free(loop);
}

static int handler_slot(struct vsl_loop *loop, int fd)
{
	size_t n;
	struct loop_handler *h;

	if (fd < 0)
		return -EBADF;
	if ((size_t)fd < loop->n_handlers)
		return 0;
	n = VSL_MAX((size_t)fd + 1, loop->n_handlers * 2);
	n = VSL_MAX(n, (size_t)64);
	h = realloc(loop->handlers, n * sizeof(*h));
	if (!h)
		return -ENOMEM;
	memset(h + loop->n_handlers, 0, (n - loop->n_handlers) * sizeof(*h));
	loop->handlers = h;
	loop->n_handlers = n;
	return 0;
}

int vsl_loop_add_fd(struct vsl_loop *loop, int fd, uint32_t events, vsl_loop_fd_fn fn, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct loop_handler *h;
	int ret = handler_slot(loop, fd);

	if (ret)
		return ret;
	h = &loop->handlers[fd];
	if (h->fn)
		return -EEXIST;
	h->gen++;
	ev.data.u64 = (uint64_t)h->gen << 32 | (uint32_t)fd;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return vsl_neg_errno();
	h->fn = fn;
	h->arg = arg;
	return 0;
}

int vsl_loop_mod_fd(struct vsl_loop *loop, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events };

	if (fd < 0 || (size_t)fd >= loop->n_handlers || !loop->handlers[fd].fn)
		return -ENOENT;
	ev.data.u64 = (uint64_t)loop->handlers[fd].gen << 32 | (uint32_t)fd;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return vsl_neg_errno();
	return 0;
}

int vsl_loop_del_fd(struct vsl_loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->n_handlers || !loop->handlers[fd].fn)
		return -ENOENT;
	loop->handlers[fd].fn = NULL;
	loop->handlers[fd].arg = NULL;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
		return vsl_neg_errno();
	return 0;
}

static void timer_unlink(struct vsl_loop *loop, struct vsl_timer *t)
{
	struct vsl_timer **pp;

	for (pp = &loop->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->next = NULL;
	t->armed = false;
}

static void timer_link(struct vsl_loop *loop, struct vsl_timer *t)
{
	struct vsl_timer **pp = &loop->timers;

	while (*pp && (*pp)->deadline_ms <= t->deadline_ms)
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
	t->armed = true;
}

struct vsl_timer *vsl_timer_add(struct vsl_loop *loop, uint64_t delay_ms, uint64_t period_ms,
				vsl_loop_timer_fn fn, void *arg)
{
	struct vsl_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->deadline_ms = vsl_time_mono_ms() + delay_ms;
	t->period_ms = period_ms;
	t->fn = fn;
	t->arg = arg;
	timer_link(loop, t);
	return t;
}

void vsl_timer_rearm(struct vsl_loop *loop, struct vsl_timer *t, uint64_t delay_ms)
{
	if (t->armed)
		timer_unlink(loop, t);
	t->deadline_ms = vsl_time_mono_ms() + delay_ms;
	timer_link(loop, t);
}

void vsl_timer_cancel(struct vsl_loop *loop, struct vsl_timer *t)
{
	if (!t)
		return;
	if (t->armed)
		timer_unlink(loop, t);
	if (t->running)
		t->cancelled = true;  /* freed by run_timers() when the callback returns */
	else
		free(t);
}

static int run_timers(struct vsl_loop *loop)
{
	uint64_t now = vsl_time_mono_ms();
	int ran = 0, due = 0;

	/* Run only the timers due when we started: one that re-arms itself with
	 * delay 0 waits for the next iteration instead of starving the fds. */
	for (struct vsl_timer *t = loop->timers; t && t->deadline_ms <= now; t = t->next)
		due++;
	while (due-- > 0 && loop->timers && loop->timers->deadline_ms <= now && !loop->stop) {
		struct vsl_timer *t = loop->timers;

		timer_unlink(loop, t);
		if (t->period_ms) {
			t->deadline_ms += t->period_ms;
			if (t->deadline_ms <= now)  /* fell behind: do not fire in a burst */
				t->deadline_ms = now + t->period_ms;
			timer_link(loop, t);
		}
		t->running = true;
		t->fn(loop, t, t->arg);
		t->running = false;
		ran++;
		if (t->cancelled || !t->armed)
			free(t);
	}
	return ran;
}

static int next_timeout(const struct vsl_loop *loop, int timeout_ms)
{
	uint64_t now, wait;

	if (!loop->timers)
		return timeout_ms;
	now = vsl_time_mono_ms();
	wait = loop->timers->deadline_ms > now ? loop->timers->deadline_ms - now : 0;
	if (timeout_ms >= 0 && (uint64_t)timeout_ms < wait)
		return timeout_ms;
	return wait > 60000 ? 60000 : (int)wait;
}

int vsl_loop_run_once(struct vsl_loop *loop, int timeout_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int n, ran;

	n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, next_timeout(loop, timeout_ms));
	if (n < 0) {
		if (errno != EINTR)
			return vsl_neg_errno();
		n = 0;
	}
	ran = 0;
	for (int i = 0; i < n; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64;
		uint32_t gen = evs[i].data.u64 >> 32;
		struct loop_handler *h;

		/* A callback earlier in this batch may have removed (or replaced) this
		 * fd's handler; the generation tells a stale event from a live one. */
		if ((size_t)fd >= loop->n_handlers)
			continue;
		h = &loop->handlers[fd];
		if (!h->fn || h->gen != gen)
			continue;
		h->fn(loop, fd, evs[i].events, h->arg);
		ran++;
		if (loop->stop)
			break;
	}
	return ran + run_timers(loop);
}

int vsl_loop_run(struct vsl_loop *loop)
{
	loop->stop = false;
	while (!loop->stop) {
		int ret = vsl_loop_run_once(loop, -1);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void vsl_loop_stop(struct vsl_loop *loop)
{
	loop->stop = true;
}

bool vsl_loop_stopping(const struct vsl_loop *loop)
{
	return loop->stop;
}
