/* blk_nbd_internal.h — shared by blk_nbd.c (exports, listeners, handshakes on
 * the control thread) and blk_nbd_conn.c (transmission on reactors). */
#ifndef BLK_NBD_INTERNAL_H
#define BLK_NBD_INTERNAL_H

#include <stdatomic.h>

#include "blk_internal.h"
#include "blk_nbd.h"
#include "blk_nbd_proto.h"

struct nbd_listener;

/* Per export and reactor, written only by that reactor (see blk_bdev_stats). */
enum { NBD_STAT_CMDS = 8 };   /* READ..BLOCK_STATUS; other commands count as errors */
struct nbd_export_stats {
	_Atomic uint64_t cmds[NBD_STAT_CMDS];
	_Atomic uint64_t errors;
	_Atomic uint64_t bytes_read;       /* sent to clients */
	_Atomic uint64_t bytes_written;    /* received from clients */
} __attribute__((aligned(64)));

struct nbd_export {
	char name[BLK_NAME_MAX];
	char desc[BLK_NAME_MAX + 32];
	struct blk_bdev *bdev;             /* opened (shared) for the export's life */
	struct nbd_listener *l;
	bool readonly;
	bool allow_remote;
	bool removing;                     /* control thread only */
	struct blk_nbd_export_info info;
	/* Connections in transmission, plus one held by the export itself until
	 * removal: whoever drops the count to zero finishes the removal, so the
	 * control thread and a reactor can never both do it. */
	atomic_uint refs;
	atomic_uint conns;                 /* for export-list */
	uint64_t accepted;                 /* control thread */
	struct nbd_export_stats *stats;    /* [BLK_MAX_REACTORS] */
	void (*remove_done)(void *arg);
	void *remove_arg;
	struct nbd_export *next;
};

/* Hands a connection that finished its handshake to reactor r; `pre` holds
 * bytes already read past the handshake; `structured`: the client negotiated
 * structured replies. Takes a reference on ex. Control
 * thread. Returns 0 or -errno (then the caller closes fd and the ref is not
 * taken). */
int blk_nbd_conn_start(struct blk_reactor *r, int fd, struct nbd_export *ex, bool structured,
		       const uint8_t *pre, size_t pre_len);
/* Asks every reactor to close ex's connections. Control thread. */
void blk_nbd_conn_close_export(struct nbd_export *ex);
/* Frees every connection (reactors stopped). */
void blk_nbd_conn_fini(void);
/* Drops a reference; the last one finishes the removal (on the control thread). */
void blk_nbd_export_put(struct nbd_export *ex);

#endif /* BLK_NBD_INTERNAL_H */
