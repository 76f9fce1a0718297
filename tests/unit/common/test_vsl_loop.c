/* test_vsl_loop.c — fd handlers, one-shot and periodic timers, changes made
 * from callbacks (cancel, rearm, deleting another handler of the same batch),
 * stop and the run_once timeout. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "vsl_loop.h"
#include "vsl_time.h"
#include "vsl_util.h"

/* Upper bound on any wait in these tests; a hang fails instead of blocking. */
enum { WAIT_MS = 2000 };

struct fixture {
	struct vsl_loop *loop;
	int pa[2], pb[2];  /* two pipes: [0] read end watched, [1] written by tests */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->loop = vsl_loop_create();
	if (!f->loop || pipe2(f->pa, O_CLOEXEC | O_NONBLOCK) || pipe2(f->pb, O_CLOEXEC | O_NONBLOCK))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vsl_loop_destroy(f->loop);
	close(f->pa[0]);
	close(f->pa[1]);
	close(f->pb[0]);
	close(f->pb[1]);
	free(f);
	return 0;
}

static void poke(int fd)
{
	assert_int_equal(write(fd, "x", 1), 1);
}

static void drain(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* ---- fd handlers ---- */

struct fd_rec {
	int calls;
	int last_fd;
	uint32_t last_events;
	void *last_arg;
};

static void on_fd(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct fd_rec *r = arg;

	(void)loop;
	r->calls++;
	r->last_fd = fd;
	r->last_events = events;
	r->last_arg = arg;
	drain(fd);
}

static void test_fd_pipe_event(void **state)
{
	struct fixture *f = *state;
	struct fd_rec r = { 0 };

	assert_int_equal(vsl_loop_add_fd(f->loop, f->pa[0], EPOLLIN, on_fd, &r), 0);
	assert_int_equal(vsl_loop_run_once(f->loop, 0), 0);  /* nothing ready */
	assert_int_equal(r.calls, 0);

	poke(f->pa[1]);
	assert_int_equal(vsl_loop_run_once(f->loop, WAIT_MS), 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.last_fd, f->pa[0]);
	assert_true(r.last_events & EPOLLIN);
	assert_ptr_equal(r.last_arg, &r);
	/* Drained: level-triggered, so no further event. */
	assert_int_equal(vsl_loop_run_once(f->loop, 0), 0);

	/* Not watched for input any more. */
	assert_int_equal(vsl_loop_mod_fd(f->loop, f->pa[0], 0), 0);
	poke(f->pa[1]);
	assert_int_equal(vsl_loop_run_once(f->loop, 10), 0);
	assert_int_equal(vsl_loop_mod_fd(f->loop, f->pa[0], EPOLLIN), 0);
	assert_int_equal(vsl_loop_run_once(f->loop, WAIT_MS), 1);
	assert_int_equal(r.calls, 2);

	assert_int_equal(vsl_loop_del_fd(f->loop, f->pa[0]), 0);
	poke(f->pa[1]);
	assert_int_equal(vsl_loop_run_once(f->loop, 10), 0);
	assert_int_equal(r.calls, 2);
	drain(f->pa[0]);
}

static void test_fd_eventfd_and_epollout(void **state)
{
	struct fixture *f = *state;
	struct fd_rec r = { 0 }, w = { 0 };
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	uint64_t one = 1;

	assert_true(efd >= 0);
	assert_int_equal(vsl_loop_add_fd(f->loop, efd, EPOLLIN, on_fd, &r), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
	assert_int_equal(vsl_loop_run_once(f->loop, WAIT_MS), 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.last_fd, efd);

	/* A pipe's write end is writable at once. */
	assert_int_equal(vsl_loop_add_fd(f->loop, f->pb[1], EPOLLOUT, on_fd, &w), 0);
	assert_int_equal(vsl_loop_run_once(f->loop, WAIT_MS), 1);
	assert_int_equal(w.calls, 1);
	assert_true(w.last_events & EPOLLOUT);
	assert_int_equal(vsl_loop_del_fd(f->loop, f->pb[1]), 0);
	assert_int_equal(vsl_loop_del_fd(f->loop, efd), 0);
	close(efd);
}

static void test_fd_errors(void **state)
{
	struct fixture *f = *state;
	struct fd_rec r = { 0 };

	assert_int_equal(vsl_loop_add_fd(f->loop, -1, EPOLLIN, on_fd, &r), -EBADF);
	assert_int_equal(vsl_loop_add_fd(f->loop, f->pa[0], EPOLLIN, on_fd, &r), 0);
	assert_int_equal(vsl_loop_add_fd(f->loop, f->pa[0], EPOLLIN, on_fd, &r), -EEXIST);
	assert_int_equal(vsl_loop_mod_fd(f->loop, f->pb[0], EPOLLIN), -ENOENT);
	assert_int_equal(vsl_loop_mod_fd(f->loop, 100000, EPOLLIN), -ENOENT);
	assert_int_equal(vsl_loop_del_fd(f->loop, f->pb[0]), -ENOENT);
	assert_int_equal(vsl_loop_del_fd(f->loop, -1), -ENOENT);
	assert_int_equal(vsl_loop_del_fd(f->loop, f->pa[0]), 0);
	assert_int_equal(vsl_loop_del_fd(f->loop, f->pa[0]), -ENOENT);
	/* A regular file cannot be polled: epoll's error comes back. */
	{
		FILE *tf = tmpfile();

		assert_non_null(tf);
		assert_int_equal(vsl_loop_add_fd(f->loop, fileno(tf), EPOLLIN, on_fd, &r), -EPERM);
		fclose(tf);
	}
}

/* Each handler deletes the other one's fd: whichever runs first, the other's
 * event from the same epoll_wait batch must not be delivered. */
struct del_ctx {
	struct fixture *f;
	int calls;
	bool readd;  /* re-add the deleted fd with a new handler */
	int new_calls;
};

static void on_new(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct del_ctx *d = arg;

	(void)loop;
	(void)events;
	d->new_calls++;
	drain(fd);
}

static void on_del_other(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct del_ctx *d = arg;
	int other = fd == d->f->pa[0] ? d->f->pb[0] : d->f->pa[0];

	(void)events;
	d->calls++;
	drain(fd);
	assert_int_equal(vsl_loop_del_fd(loop, other), 0);
	if (d->readd)
		assert_int_equal(vsl_loop_add_fd(loop, other, EPOLLIN, on_new, d), 0);
}

static void test_delete_other_in_batch(void **state)
{
	struct fixture *f = *state;
	struct del_ctx d = { .f = f };

	assert_int_equal(vsl_loop_add_fd(f->loop, f->pa[0], EPOLLIN, on_del_other, &d), 0);
	assert_int_equal(vsl_loop_add_fd(f->loop, f->pb[0], EPOLLIN, on_del_other, &d), 0);
	poke(f->pa[1]);
	poke(f->pb[1]);
	assert_int_equal(vsl_loop_run_once(f->loop, WAIT_MS), 1);
	assert_int_equal(d.calls, 1);
	/* The survivor drained its pipe; the other fd is no longer watched. */
	assert_int_equal(vsl_loop_run_once(f->loop, 10), 0);
	assert_int_equal(d.calls, 1);
	drain(f->pa[0]);
	drain(f->pb[0]);
}

static void test_delete_and_readd_other_in_batch(void **state)
{
	struct fixture *f = *state;
	struct del_ctx d = { .f = f, .readd = true };

	assert_int_equal(vsl_loop_add_fd(f->loop, f->pa[0], EPOLLIN, on_del_other, &d), 0);
	assert_int_equal(vsl_loop_add_fd(f->loop, f->pb[0], EPOLLIN, on_del_other, &d), 0);
	poke(f->pa[1]);
	poke(f->pb[1]);
	/* The stale event of the replaced handler is skipped in this batch ... */
	assert_int_equal(vsl_loop_run_once(f->loop, WAIT_MS), 1);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.new_calls, 0);
	/* ... and the new handler sees the still-pending data on the next run. */
	assert_int_equal(vsl_loop_run_once(f->loop, WAIT_MS), 1);
	assert_int_equal(d.new_calls, 1);
	assert_int_equal(d.calls, 1);
}

/* ---- timers ---- */

struct tick_log {
	int order[16];
	int n;
	int fires;
	int limit;           /* cancel self after this many fires (0: never) */
	int rearm_times;     /* rearm a one-shot this many times from its callback */
	struct vsl_timer *self;
	struct vsl_timer *victim;  /* cancel this other timer when firing */
};

static void on_tick(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct tick_log *l = arg;

	(void)loop;
	(void)t;
	l->fires++;
}

struct ordered {
	struct tick_log *log;
	int id;
};

static void on_ordered(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct ordered *o = arg;

	(void)loop;
	(void)t;
	if (o->log->n < (int)VSL_ARRAY_SIZE(o->log->order))
		o->log->order[o->log->n++] = o->id;
}

static void run_until(struct vsl_loop *loop, const int *flag, int value)
{
	uint64_t end = vsl_time_mono_ms() + WAIT_MS;

	while (*flag < value && vsl_time_mono_ms() < end)
		assert_true(vsl_loop_run_once(loop, 50) >= 0);
	assert_true(*flag >= value);
}

static void test_oneshot_timers_in_order(void **state)
{
	struct fixture *f = *state;
	struct tick_log l = { 0 };
	struct ordered o[4] = { { &l, 30 }, { &l, 10 }, { &l, 20 }, { &l, 0 } };
	uint64_t start = vsl_time_mono_ms();

	assert_non_null(vsl_timer_add(f->loop, 30, 0, on_ordered, &o[0]));
	assert_non_null(vsl_timer_add(f->loop, 10, 0, on_ordered, &o[1]));
	assert_non_null(vsl_timer_add(f->loop, 20, 0, on_ordered, &o[2]));
	assert_non_null(vsl_timer_add(f->loop, 0, 0, on_ordered, &o[3]));
	run_until(f->loop, &l.n, 4);
	assert_true(vsl_time_mono_ms() - start >= 30);
	assert_int_equal(l.order[0], 0);
	assert_int_equal(l.order[1], 10);
	assert_int_equal(l.order[2], 20);
	assert_int_equal(l.order[3], 30);
	/* One-shots are gone (ASan would report a leak otherwise): nothing fires. */
	assert_int_equal(vsl_loop_run_once(f->loop, 20), 0);
	assert_int_equal(l.n, 4);
}

static void test_run_once_waits_for_timer(void **state)
{
	struct fixture *f = *state;
	struct tick_log l = { 0 };
	uint64_t start = vsl_time_mono_ms();

	/* -1 waits for the next timer, not forever. */
	assert_non_null(vsl_timer_add(f->loop, 20, 0, on_tick, &l));
	while (!l.fires)
		assert_true(vsl_loop_run_once(f->loop, -1) >= 0);
	assert_true(vsl_time_mono_ms() - start >= 20);
	assert_true(vsl_time_mono_ms() - start < WAIT_MS);
}

static void on_periodic(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct tick_log *l = arg;

	l->fires++;
	if (l->limit && l->fires == l->limit)
		vsl_timer_cancel(loop, t);  /* frees t once this returns */
	if (l->victim) {
		vsl_timer_cancel(loop, l->victim);
		l->victim = NULL;
	}
}

static void test_periodic_cancel_from_callback(void **state)
{
	struct fixture *f = *state;
	struct tick_log l = { .limit = 3 };
	uint64_t start = vsl_time_mono_ms();

	assert_non_null(vsl_timer_add(f->loop, 0, 5, on_periodic, &l));
	run_until(f->loop, &l.fires, 3);
	assert_true(vsl_time_mono_ms() - start >= 10);  /* 0, 5, 10 */
	/* Cancelled: no more fires. */
	for (int i = 0; i < 3; i++)
		vsl_loop_run_once(f->loop, 10);
	assert_int_equal(l.fires, 3);
}

static void test_cancel_other_timer_from_callback(void **state)
{
	struct fixture *f = *state;
	struct tick_log victim_log = { 0 };
	struct tick_log l = { .limit = 1 };

	/* Same deadline neighbourhood: the victim is due right after. */
	l.victim = vsl_timer_add(f->loop, 10, 0, on_tick, &victim_log);
	assert_non_null(l.victim);
	assert_non_null(vsl_timer_add(f->loop, 5, 0, on_periodic, &l));
	run_until(f->loop, &l.fires, 1);
	vsl_loop_run_once(f->loop, 30);
	assert_int_equal(victim_log.fires, 0);
}

static void test_cancel_pending_and_null(void **state)
{
	struct fixture *f = *state;
	struct tick_log l = { 0 };
	struct vsl_timer *t = vsl_timer_add(f->loop, 5, 5, on_tick, &l);

	assert_non_null(t);
	vsl_timer_cancel(f->loop, t);
	vsl_timer_cancel(f->loop, NULL);
	assert_int_equal(vsl_loop_run_once(f->loop, 20), 0);
	assert_int_equal(l.fires, 0);
}

static void on_rearm(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct tick_log *l = arg;

	l->fires++;
	if (l->rearm_times-- > 0)
		vsl_timer_rearm(loop, t, 5);  /* keeps the one-shot alive */
}

static void test_rearm_oneshot_from_callback(void **state)
{
	struct fixture *f = *state;
	struct tick_log l = { .rearm_times = 2 };

	assert_non_null(vsl_timer_add(f->loop, 0, 0, on_rearm, &l));
	run_until(f->loop, &l.fires, 3);
	for (int i = 0; i < 3; i++)
		vsl_loop_run_once(f->loop, 10);
	assert_int_equal(l.fires, 3);  /* then freed */
}

static void test_rearm_pending_timer(void **state)
{
	struct fixture *f = *state;
	struct tick_log l = { 0 };
	struct ordered a = { &l, 1 }, b = { &l, 2 };
	struct vsl_timer *ta = vsl_timer_add(f->loop, 10, 0, on_ordered, &a);

	assert_non_null(ta);
	assert_non_null(vsl_timer_add(f->loop, 20, 0, on_ordered, &b));
	vsl_timer_rearm(f->loop, ta, 40);  /* now after b */
	run_until(f->loop, &l.n, 2);
	assert_int_equal(l.order[0], 2);
	assert_int_equal(l.order[1], 1);
}

static void test_destroy_frees_pending_timers(void **state)
{
	struct fixture *f = *state;
	struct tick_log l = { 0 };

	/* Left armed on purpose: teardown's vsl_loop_destroy() frees them. */
	assert_non_null(vsl_timer_add(f->loop, 60000, 0, on_tick, &l));
	assert_non_null(vsl_timer_add(f->loop, 60000, 1000, on_tick, &l));
	assert_int_equal(vsl_loop_run_once(f->loop, 0), 0);
}

/* ---- stop and timeouts ---- */

struct stop_ctx {
	int calls;
	int stop_at;
};

static void on_stop_fd(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct stop_ctx *s = arg;

	(void)fd;
	(void)events;
	if (++s->calls == s->stop_at)
		vsl_loop_stop(loop);
}

static void on_stop_timer(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct stop_ctx *s = arg;

	(void)t;
	if (++s->calls == s->stop_at)
		vsl_loop_stop(loop);
}

static void test_stop_from_timer(void **state)
{
	struct fixture *f = *state;
	struct stop_ctx s = { .stop_at = 3 };

	assert_false(vsl_loop_stopping(f->loop));
	assert_non_null(vsl_timer_add(f->loop, 1, 2, on_stop_timer, &s));
	assert_int_equal(vsl_loop_run(f->loop), 0);
	assert_int_equal(s.calls, 3);
	assert_true(vsl_loop_stopping(f->loop));
	/* run() starts afresh: it clears the stop request. */
	s.stop_at = 5;
	assert_int_equal(vsl_loop_run(f->loop), 0);
	assert_int_equal(s.calls, 5);
}

static void test_stop_from_fd_ends_batch(void **state)
{
	struct fixture *f = *state;
	struct stop_ctx s = { .stop_at = 1 };
	struct tick_log l = { 0 };

	/* Both fds ready and a timer due: the first callback stops the loop, and
	 * nothing else runs in that iteration. */
	assert_int_equal(vsl_loop_add_fd(f->loop, f->pa[0], EPOLLIN, on_stop_fd, &s), 0);
	assert_int_equal(vsl_loop_add_fd(f->loop, f->pb[0], EPOLLIN, on_stop_fd, &s), 0);
	assert_non_null(vsl_timer_add(f->loop, 0, 0, on_tick, &l));
	poke(f->pa[1]);
	poke(f->pb[1]);
	assert_int_equal(vsl_loop_run(f->loop), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(l.fires, 0);
	drain(f->pa[0]);
	drain(f->pb[0]);
}

static void test_run_once_timeout(void **state)
{
	struct fixture *f = *state;
	struct tick_log l = { 0 };
	uint64_t start = vsl_time_mono_ms(), el;

	assert_int_equal(vsl_loop_run_once(f->loop, 30), 0);
	el = vsl_time_mono_ms() - start;
	assert_true(el >= 29);
	assert_true(el < 1000);

	/* A far timer does not extend the caller's timeout. */
	assert_non_null(vsl_timer_add(f->loop, 5000, 0, on_tick, &l));
	start = vsl_time_mono_ms();
	assert_int_equal(vsl_loop_run_once(f->loop, 20), 0);
	el = vsl_time_mono_ms() - start;
	assert_true(el >= 19);
	assert_true(el < 1000);

	/* A near timer shortens it. */
	assert_non_null(vsl_timer_add(f->loop, 10, 0, on_tick, &l));
	start = vsl_time_mono_ms();
	while (!l.fires)
		assert_true(vsl_loop_run_once(f->loop, 1000) >= 0);
	assert_true(vsl_time_mono_ms() - start < 500);
	assert_int_equal(l.fires, 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_fd_pipe_event),
		T(test_fd_eventfd_and_epollout),
		T(test_fd_errors),
		T(test_delete_other_in_batch),
		T(test_delete_and_readd_other_in_batch),
		T(test_oneshot_timers_in_order),
		T(test_run_once_waits_for_timer),
		T(test_periodic_cancel_from_callback),
		T(test_cancel_other_timer_from_callback),
		T(test_cancel_pending_and_null),
		T(test_rearm_oneshot_from_callback),
		T(test_rearm_pending_timer),
		T(test_destroy_frees_pending_timers),
		T(test_stop_from_timer),
		T(test_stop_from_fd_ends_batch),
		T(test_run_once_timeout),
	};
#undef T
	return cmocka_run_group_tests_name("vsl_loop", tests, NULL, NULL);
}
