/* lvm_thin_internal.h — thin pool state shared by lvm_thin.c (tables,
 * accounting, commit, open) and lvm_thin_io.c (the data path). The locking
 * rules are in lvm_thin.c's opening comment. */
#ifndef LVM_THIN_INTERNAL_H
#define LVM_THIN_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lvm_internal.h"

enum {
	PAGE_SHIFT_ENTRIES = 10,
	PAGE_ENTRIES = 1 << PAGE_SHIFT_ENTRIES,
	THIN_IOV = 4,
	BOUNCE_KEEP = 32,
	LOW_WATER_PCT = 80,          /* warn when this much of the data is used */
	COMMIT_PERIOD_MS = 1000,
};

#define THIN_NONE UINT32_MAX    /* no pool chunk */

struct thin_io;

/* A mapping changed since the last commit: goes into its log record. */
struct lvm_thin_dirty {
	uint32_t dev;
	uint64_t vc;
};

struct lvm_thin_dev {
	uint32_t id, origin;
	uint64_t nvc;                /* virtual chunks */
	uint32_t **dir;              /* ndir pages of PAGE_ENTRIES */
	uint64_t ndir;
	uint64_t mapped;
	bool frozen;                 /* a snapshot is being taken: writes wait */
	unsigned inflight;           /* writes/discards holding chunk locks */
	struct thin_io *parked;
	struct lvm_thin_dev *next;   /* sorted by id */
};

struct lvm_thin_pool {
	char name[LVM_NAME_MAX];
	uint8_t uuid[16];
	struct blk_bdev *data, *meta;
	uint32_t chunk_size, chunk_shift;
	pthread_mutex_t lock;
	/* Under lock. */
	uint64_t nchunks, nfree, cursor;
	uint32_t *rc;
	uint8_t *pend;
	uint32_t *pending;
	uint64_t n_pending, cap_pending;
	uint64_t n_maps, max_maps;
	uint64_t gen;                /* bumped by every mapping change */
	struct lvm_thin_dev *devs;
	struct thin_io *prov;
	void *bounce[BOUNCE_KEEP];
	unsigned n_bounce;
	bool low_water;
	uint64_t enospc;
	struct thin_io *space_waiters;   /* wait for a commit to free chunks */
	bool space_commit_queued;
	/* Reads in flight by epoch parity: a commit frees chunks only once the
	 * reads that may still target them (begun before it) are done. */
	uint64_t read_epoch;
	unsigned reads[2];
	/* Mappings changed since the last commit, and whether the next commit
	 * must write a checkpoint instead of a log record (the device table or
	 * the data size changed, the list outgrew the log, a commit failed). */
	struct lvm_thin_dirty *dirty;
	uint64_t n_dirty, cap_dirty, max_dirty;
	bool need_ckpt;
	/* Control thread. */
	uint64_t seq, committed_gen;
	uint64_t ckpt_seq;           /* the checkpoint the log follows */
	uint32_t slot;               /* its slot */
	uint32_t sb_copy;            /* the superblock copy naming it */
	uint64_t meta_size, slot_size;
	uint64_t log_off, log_size, log_head;
	bool clean_open;             /* the log ended with a clean-stop record */
	uint64_t n_ckpts, n_records, meta_blocks, last_commit_blocks;
	int last_error;
	struct lvm_thin_pool *next;
};

/* Pool chunk of virtual chunk vc, or THIN_NONE (under the pool lock). */
static inline uint32_t lvm_thin_map_get(const struct lvm_thin_dev *d, uint64_t vc)
{
	uint64_t pg = vc >> PAGE_SHIFT_ENTRIES;

	if (pg >= d->ndir || !d->dir[pg])
		return THIN_NONE;
	return d->dir[pg][vc & (PAGE_ENTRIES - 1)] - 1;    /* 0 - 1 == THIN_NONE */
}

/* lvm_thin.c, under the pool lock unless said otherwise. */
int lvm_thin_map_set(struct lvm_thin_dev *d, uint64_t vc, uint32_t pc);
/* Records that the mapping of (d, vc) changed, for the next commit's log
 * record (under the pool lock, after the change). */
void lvm_thin_note(struct lvm_thin_pool *p, const struct lvm_thin_dev *d, uint64_t vc);
/* Drops a reference; at zero the chunk waits for the next commit. */
void lvm_thin_rc_put(struct lvm_thin_pool *p, uint32_t pc);
/* A free chunk with one reference (the write filling it), or THIN_NONE. */
uint32_t lvm_thin_chunk_alloc(struct lvm_thin_pool *p);
/* A chunk from lvm_thin_chunk_alloc() whose fill failed: free again. */
void lvm_thin_chunk_unreserve(struct lvm_thin_pool *p, uint32_t pc);
void lvm_thin_dev_unmap(struct lvm_thin_pool *p, struct lvm_thin_dev *d, uint64_t vc);
/* A chunk-sized buffer (takes the lock itself); NULL on ENOMEM. */
void *lvm_thin_bounce_get(struct lvm_thin_pool *p);
void lvm_thin_bounce_put(struct lvm_thin_pool *p, void *b);

/* lvm_thin_io.c: sends each I/O of the list back to its reactor to run
 * again (any thread, lock not held). */
void lvm_thin_io_wake(struct thin_io *w);

#endif /* LVM_THIN_INTERNAL_H */
