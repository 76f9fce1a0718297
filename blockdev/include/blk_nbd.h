/* blk_nbd.h — NBD exports of bdevs (fixed newstyle; simple and structured
 * replies).
 *
 * An export names a bdev and a listening address: a unix socket path or a TCP
 * "HOST:PORT" (loopback only unless allow_remote; port 0 picks a free one,
 * shown by blk_nbd_export_list()). Several exports may share one address: the
 * client picks one by name (NBD_OPT_GO/INFO/EXPORT_NAME; "" means the first).
 * Each export takes any number of connections.
 *
 * Threads: the handshake runs on the control thread (it is short and touches
 * the export table); a connection that reaches transmission is handed to a
 * reactor (round-robin), which serves it with non-blocking socket calls woken
 * by io_uring polls, and submits its requests to the bdev. Requests are
 * checked by blk_nbd_proto.c before anything is touched; a bad request gets
 * its NBD error and the connection carries on, a broken stream (bad magic) is
 * closed. Everything here is called on the control thread.
 */
#ifndef BLK_NBD_H
#define BLK_NBD_H

#include <stdbool.h>

#include <json-c/json.h>

struct blk_nbd_export_opts {
	const char *name;          /* export name; NULL: the bdev's name */
	const char *bdev;
	const char *socket;        /* unix socket path, or NULL */
	const char *tcp;           /* "127.0.0.1:10809", "[::1]:0", "localhost:PORT", or NULL */
	bool readonly;
	bool allow_remote;         /* allow a non-loopback TCP address */
};

/* Returns 0, -EEXIST (name taken), -ENOENT (no such bdev), -EINVAL (bad
 * name/address, both or neither of socket/tcp), -EPERM (non-loopback address
 * without allow_remote), -EADDRINUSE, or another -errno. */
int blk_nbd_export_add(const struct blk_nbd_export_opts *o);

/* Stops new connections to `name`, closes its connections on their reactors
 * and, once the last is gone, frees the export and calls done(arg) on the
 * control thread (possibly before this returns). Returns 0, or -ENOENT /
 * -EALREADY (then done is never called). */
int blk_nbd_export_remove(const char *name, void (*done)(void *arg), void *arg);

bool blk_nbd_export_exists(const char *name);
/* Appends one object per export to `arr`. */
void blk_nbd_export_list(struct json_object *arr);
/* Appends the export-add calls that rebuild the exports. */
int blk_nbd_config(struct json_object *calls);

struct vsl_loop;

/* Daemon shutdown, first step, while the reactors still run: removes every
 * export as export-remove does (no new request is read; those in flight
 * complete and are answered) and runs `loop` until they are all gone or
 * timeout_ms passed. Bdevs that keep state in memory (thin pools) are shut
 * down after this, so no write is acknowledged after their final commit.
 * Returns the number of exports still there. */
unsigned blk_nbd_quiesce(struct vsl_loop *loop, int timeout_ms);

/* Daemon shutdown, after blk_reactors_stop() and before blk_reactors_destroy():
 * frees every export and connection without waiting for anybody. */
void blk_nbd_fini(void);

#endif /* BLK_NBD_H */
