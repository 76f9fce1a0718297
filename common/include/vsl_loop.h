/* vsl_loop.h — the control thread's event loop: epoll for file descriptors plus
 * one-shot and periodic timers.
 *
 * Every daemon's control thread runs one loop; the JSON-RPC server, signal
 * handling, OpenFlow connections and vhost-user events hang off it. A loop is
 * used by one thread only. Callbacks may add, modify or delete any handler or
 * timer, including their own, and may call vsl_loop_stop().
 */
#ifndef VSL_LOOP_H
#define VSL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct vsl_loop;
struct vsl_timer;

/* `events` is the EPOLLIN/EPOLLOUT/... mask that fired. */
typedef void (*vsl_loop_fd_fn)(struct vsl_loop *loop, int fd, uint32_t events, void *arg);
typedef void (*vsl_loop_timer_fn)(struct vsl_loop *loop, struct vsl_timer *t, void *arg);

/* Returns NULL with errno set on failure. Free with vsl_loop_destroy(). */
struct vsl_loop *vsl_loop_create(void);
/* Frees the loop and its timers; does not close registered fds. */
void vsl_loop_destroy(struct vsl_loop *loop);

/* Watches fd for `events` (EPOLLIN, EPOLLOUT, ...). The caller keeps ownership of
 * fd and must vsl_loop_del_fd() it before closing. Returns 0 or -errno
 * (-EEXIST when fd is already watched). */
int vsl_loop_add_fd(struct vsl_loop *loop, int fd, uint32_t events, vsl_loop_fd_fn fn, void *arg);
int vsl_loop_mod_fd(struct vsl_loop *loop, int fd, uint32_t events);
int vsl_loop_del_fd(struct vsl_loop *loop, int fd);

/* Arms a timer that fires after `delay_ms`, then every `period_ms` when that is
 * non-zero. Returns NULL with errno set on failure. A one-shot timer is freed
 * after its callback returns unless the callback re-armed it; any timer can be
 * cancelled (and freed) with vsl_timer_cancel(), also from its own callback. */
struct vsl_timer *vsl_timer_add(struct vsl_loop *loop, uint64_t delay_ms, uint64_t period_ms,
				vsl_loop_timer_fn fn, void *arg);
void vsl_timer_cancel(struct vsl_loop *loop, struct vsl_timer *t);
/* Re-arms `t` (also from its own callback) to fire after delay_ms. */
void vsl_timer_rearm(struct vsl_loop *loop, struct vsl_timer *t, uint64_t delay_ms);

/* Runs one iteration: waits up to timeout_ms (-1: until the next timer or event),
 * dispatches what is ready. Returns the number of callbacks run or -errno. */
int vsl_loop_run_once(struct vsl_loop *loop, int timeout_ms);
/* Runs until vsl_loop_stop(). Returns 0 or -errno. */
int vsl_loop_run(struct vsl_loop *loop);
void vsl_loop_stop(struct vsl_loop *loop);
bool vsl_loop_stopping(const struct vsl_loop *loop);

#endif /* VSL_LOOP_H */
