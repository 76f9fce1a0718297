/* raid_internal.h — what the RAID levels, metadata writer, bitmap and rebuild
 * share inside raid/.
 *
 * Threads and locking.
 *   - Control thread: create, stop, fail/add/remove, status, tick. It owns the
 *     member bdev pointers (claims) and blocks while the home reactor performs
 *     metadata I/O for it (raid_ctl_run()).
 *   - Reactors: I/O on any reactor; the metadata writer runs on one reactor at
 *     a time (the one that found it idle); rebuild runs on the home reactor.
 *   - set->lock guards member states, the event counter, metadata generations,
 *     the bitmap, the in-flight write list, the rebuild window and the waiter
 *     lists. RAID1 takes it once per write admission and once per completion;
 *     reads and RAID0 take it never (member state is read with an atomic load).
 *
 * Parking. A RAID1 request that must wait (for the bitmap or a failure to be
 * durable, for the rebuild window, for an I/O context) is put on its reactor's
 * channel with the condition it waits for; whoever changes the condition
 * kicks the channels (a message to each reactor with parked requests), and the
 * channel re-evaluates and resumes them on their own reactor.
 */
#ifndef RAID_INTERNAL_H
#define RAID_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "blk_module.h"
#include "raid.h"
#include "raid_sb.h"

enum {
	RAID_REBUILD_CHUNK = 2 << 20,   /* bytes copied per rebuild step (at most) */
	RAID_RB_SLOTS = 4,              /* chunks in flight with no foreground I/O */
	RAID_RB_CKPT_NS = 1000000000,   /* rebuild checkpoint interval */
	RAID_RB_FG_NS = 100000000,      /* foreground I/O this recent: one chunk in flight */
};

struct raid_set;
struct raid_io;

/* Why a request is parked. */
enum raid_wait {
	RAID_WAIT_NONE,
	RAID_WAIT_META,      /* until disk_gen >= wait_gen */
	RAID_WAIT_WINDOW,    /* until its range is out of the rebuild window */
	RAID_WAIT_RETRY,     /* an I/O context: try again next iteration */
};

/* The head of every RAID1 per-I/O context. */
struct raid_io {
	struct blk_io *io;
	struct raid_set *set;
	struct raid_io *wnext;           /* channel list */
	enum raid_wait wait;
	uint64_t wait_gen;
	void (*resume)(struct raid_io *rio);
	struct raid_io *fprev, *fnext;   /* in-flight writes (set->inflight) */
	bool in_flight_list;
};

/* Per reactor: parked requests and whether a kick message is on its way. */
struct raid_chan {
	struct raid_io *head, *tail;     /* under set->lock */
	atomic_bool kicked;
};

struct raid_member {
	struct blk_bdev *bdev;           /* NULL: empty slot */
	char name[BLK_NAME_MAX];
	_Atomic int state;               /* enum raid_member_state; changed under lock */
	atomic_uint outstanding;         /* requests in flight to it */
	_Atomic uint64_t read_errors, write_errors;
	uint64_t events;                 /* from its superblock at assembly */
};

/* Metadata writer: one state machine per set (raid_meta.c). */
enum raid_meta_phase {
	RAID_META_IDLE,
	RAID_META_WRITE,                 /* superblock copy to every target */
	RAID_META_FLUSH,                 /* flush every target that took it */
};

struct raid_meta {
	enum raid_meta_phase phase;      /* under lock */
	struct blk_reactor *reactor;     /* where it runs while not idle */
	uint64_t gen;                    /* in-memory metadata generation */
	uint64_t disk_gen;               /* durable generation */
	uint64_t write_gen;              /* generation being written */
	uint64_t seq;                    /* superblock seq of the last write */
	uint64_t writes;                 /* completed metadata updates */
	unsigned pending;
	bool restart;                    /* out of contexts: write the pass again */
	uint32_t targets;                /* members in this pass (each counted in
					  * its outstanding until flushed or dropped) */
	uint32_t submitted;              /* writes submitted in this pass */
	uint32_t to_flush;               /* flushes not yet submitted */
	uint8_t idx[RAID_MAX_MEMBERS];
	unsigned char *bufs;             /* RAID_MAX_MEMBERS x 4 KiB, aligned */
	struct iovec iov[RAID_MAX_MEMBERS];   /* kept until the writes complete */
};

/* Write-intent bitmap (raid_bitmap.c). Under set->lock. */
struct raid_bitmap {
	uint64_t region_size;
	uint32_t region_shift;
	uint32_t n_regions;
	uint8_t bits[RAID_BITMAP_BYTES]; /* wanted on disk */
	uint8_t touched[RAID_BITMAP_BYTES];   /* written since the last tick */
	uint32_t *inflight;              /* writes in flight per region */
	uint64_t set_gen;                /* metadata gen of the newest bit set */
	uint64_t sets, clears;           /* bit transitions (status) */
};

/* Rebuild and resync (raid_rebuild.c). */
enum raid_rb_phase {
	RAID_RB_IDLE,        /* between passes */
	RAID_RB_RUN,         /* a pass: the slots copy chunks */
	RAID_RB_DONE,
};

/* One chunk in flight. */
enum raid_rb_slot_phase {
	RAID_RBS_FREE,
	RAID_RBS_DRAIN,      /* window set; waiting for overlapping writes */
	RAID_RBS_READ,
	RAID_RBS_WRITE,
	RAID_RBS_WRITE_RETRY,/* a target was out of I/O contexts */
};

struct raid_rb_slot {
	enum raid_rb_slot_phase phase;   /* home reactor only */
	uint64_t pos, len;               /* the chunk (member data offsets) */
	uint64_t win_start, win_end;     /* under lock; win_end == 0: no window */
	unsigned source;
	uint32_t to_write;               /* targets the chunk still goes to */
	unsigned pending;
	unsigned char *buf;              /* RAID_REBUILD_CHUNK, aligned */
	struct iovec iov;                /* over buf, kept until the I/O completes */
};

enum raid_pass_kind {
	RAID_PASS_REBUILD,   /* whole data area onto rebuilding members */
	RAID_PASS_RESYNC,    /* bitmap-dirty regions onto the other active members */
	RAID_PASS_SCRUB,     /* compare active members; repair copies from the source */
};

struct raid_rebuild {
	enum raid_rb_phase phase;        /* home reactor only */
	struct blk_poller poller;
	bool running;                    /* under lock: poller registered */
	enum raid_pass_kind kind;        /* the current (or last) pass */
	uint8_t regions[RAID_BITMAP_BYTES];   /* resync: regions to copy */
	uint64_t resync_pending;         /* regions still to resync (set at assembly) */
	atomic_uint targets;             /* members written by this pass; a member
					  * failed or removed leaves it at once */
	unsigned source;                 /* status: the pass's first source */
	struct raid_rb_slot slot[RAID_RB_SLOTS];
	uint16_t idx[RAID_RB_SLOTS * RAID_MAX_MEMBERS];   /* callback args: slot * 32 + member */
	uint8_t ck_idx[RAID_MAX_MEMBERS];
	uint64_t next_pos;               /* where the next chunk starts */
	uint64_t end_pos;                /* the pass stops here */
	uint64_t rate;                   /* bytes/s, 0 unlimited */
	uint64_t pass_start_ns, pass_total;
	uint64_t issued_bytes;           /* chunks started this pass (rate limit) */
	uint64_t done_bytes;             /* copied this pass */
	uint64_t resynced_bytes, rebuilt_bytes;   /* totals */
	uint64_t passes;
	/* Foreground priority: requests seen, and when they last changed. */
	unsigned fg_seen;
	uint64_t fg_last_ns;
	uint64_t fg_yields;              /* chunks copied one at a time for foreground I/O */
	/* Checkpoint (rebuild passes): [0, ckpt_pos) is on the slots of ckpt_mask,
	 * durable; written in the superblock. Under lock. */
	uint64_t ckpt_pos;
	uint32_t ckpt_mask;
	uint64_t ckpt_writes;
	bool ck_busy;                    /* flushes before a checkpoint in flight */
	unsigned ck_pending;
	uint64_t ck_cand;                /* the position those flushes make durable */
	uint64_t ck_last_ns;
	/* Resume after a restart: rebuild from resume_pos; below it only the
	 * regions dirty in resume_dirty (writes maybe in flight at the crash). */
	uint64_t resume_pos;
	uint64_t resumed_from;           /* status: where the last pass resumed */
	uint8_t resume_dirty[RAID_BITMAP_BYTES];
	/* Scrub (one chunk at a time, in slot 0). */
	bool scrub_pending, scrub_repair;     /* under lock */
	int scrub_t;                     /* member being compared */
	unsigned char *buf2;             /* its copy of the chunk (allocated on demand) */
	struct iovec iov2;
	uint8_t mismatch[RAID_BITMAP_BYTES];  /* regions that differed in the last scrub */
	uint64_t mismatch_bytes, repaired_bytes, scrubs;
	uint64_t scrub_skipped;          /* bytes not compared: out of I/O contexts */
};

struct raid_level_ops {
	unsigned level;
	const struct blk_bdev_ops *bdev_ops;
	/* The set's size in bytes from the per-member data size. */
	uint64_t (*capacity)(const struct raid_set *s);
};

struct raid_set {
	struct blk_bdev bdev;
	const struct raid_level_ops *lops;
	struct raid_set *next;           /* control thread list */
	uint8_t uuid[16];
	unsigned level;
	_Atomic unsigned n;              /* slots; grows (under lock) when a spare
					  * gets a new slot, never shrinks */
	unsigned width;                  /* copies wanted (RAID1), under lock */
	bool promote_pending;            /* under lock: a spare was promoted on a
					  * reactor; the control thread starts it */
	bool registered;                 /* under lock: in the registry (a promotion
					  * may message the control thread) */
	uint32_t strip_size, strip_shift;
	uint64_t data_offset, data_size;
	struct blk_reactor *home;
	struct raid_member m[RAID_MAX_MEMBERS];
	pthread_mutex_t lock;
	uint64_t events;                 /* under lock */
	bool failed;                     /* no active member: everything fails with EIO */
	struct raid_meta meta;
	struct raid_bitmap bm;
	struct raid_rebuild rb;
	struct raid_io *inflight;        /* RAID1 writes in flight, under lock */
	struct raid_chan chan[BLK_MAX_REACTORS];
	atomic_uint rr;                  /* RAID1 read tie-break (and reads seen) */
	atomic_uint fg_writes;           /* RAID1 writes admitted (rebuild priority) */
	_Atomic uint64_t degraded_writes, read_retries, failures;
	struct json_object *ignored;     /* members ignored at assembly (control thread) */
};

extern const struct raid_level_ops raid0_ops;
extern const struct raid_level_ops raid1_ops;

static inline struct raid_set *raid_set_of(const struct blk_bdev *b)
{
	return b->priv;
}

/* Sequentially consistent, as is every state store: a data path that counts
 * itself in `outstanding` and then checks the state, and raid-remove that sets
 * the state and then checks `outstanding`, cannot both miss each other. */
static inline int raid_member_state(const struct raid_set *s, unsigned i)
{
	return atomic_load(&s->m[i].state);
}

static inline unsigned raid_state_bit(int state)
{
	return 1u << state;
}

static inline unsigned raid_active_count(const struct raid_set *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->n; i++)
		n += raid_member_state(s, i) == RAID_MEMBER_ACTIVE;
	return n;
}

/* raid_set.c */
/* Under lock: changes a member's state, bumps events and the metadata gen,
 * logs. Returns the generation to wait for. */
uint64_t raid_set_member_state_locked(struct raid_set *s, unsigned i, int state,
				      const char *why);
/* Under lock: turns spares into rebuilding members while fewer than `width`
 * members are active or rebuilding; asks the control thread to start the
 * rebuild. Returns how many were promoted. */
unsigned raid_promote_spares_locked(struct raid_set *s);
/* Counts an I/O to member i in its `outstanding` when its state is in
 * state_mask (raid_state_bit()s); false (nothing counted) otherwise. Takes the
 * lock: for the rebuild and metadata paths, not per request. */
bool raid_member_get(struct raid_set *s, unsigned i, unsigned state_mask);
/* Reactor: fails member i after an I/O error (RAID1) and starts the metadata
 * write. Returns the generation that records it. */
uint64_t raid_member_io_failed(struct raid_set *s, unsigned i, struct blk_reactor *r, bool write,
			       int status);
/* Parks rio on its reactor's channel (under lock). */
void raid_chan_park_locked(struct raid_set *s, struct raid_io *rio, enum raid_wait w,
			   uint64_t gen);
/* Kicks every channel with parked requests (any thread, not under lock). */
void raid_chans_kick(struct raid_set *s);
/* Runs fn(s) on the home reactor and waits for it to call raid_ctl_done()
 * (control thread; in tests the caller polls its own reactor). */
int raid_ctl_run(struct raid_set *s, void (*fn)(void *arg), void *arg, bool *done,
		 int *status);
void raid_ctl_done(struct raid_set *s, bool *done, int *status, int value);
/* Synchronous I/O on a member from the control thread (metadata at create). */
int raid_sync_io(struct raid_set *s, struct blk_bdev *b, enum blk_io_type t, uint64_t off,
		 void *buf, uint64_t len);

/* The bdev ops every level shares (raid_set.c). */
void raid_set_destroy_bdev(struct blk_bdev *b);
void raid_set_dump_info(const struct blk_bdev *b, struct json_object *info);
int raid_set_save_config(const struct blk_bdev *b, struct json_object *calls);
bool raid_set_busy_bdev(const struct blk_bdev *b);

/* raid_set.c */
void raid_set_link(struct raid_set *s);

/* raid_assemble.c: what a member's superblock area says. */
struct raid_probe {
	struct blk_bdev *bdev;
	int ret;                  /* 0 valid, -ENODATA blank, else corrupt (see raid_sb.h) */
	struct raid_sb sb;
	char err[128];
};
/* Reads the superblock copies of n members (control thread). Returns 0 (each
 * p[i].ret says what was found) or -errno with err set for a member that is
 * too small or cannot be read. */
int raid_probe_members(struct raid_set *s, struct raid_probe *p, unsigned n, char *err,
		       size_t errlen);

/* raid_meta.c */
int raid_meta_init(struct raid_set *s);
void raid_meta_fini(struct raid_set *s);
/* Reactor r: starts the writer when idle and behind. */
void raid_meta_kick(struct raid_set *s, struct blk_reactor *r);
/* Control thread: makes the current metadata durable. Returns 0 or -EIO when
 * no member took it. */
int raid_meta_sync(struct raid_set *s);
/* Whether a metadata write is running or due (control thread, stop). */
bool raid_meta_busy(struct raid_set *s);
/* Fills sb with the set's current metadata for member slot (under lock). */
void raid_meta_fill_locked(struct raid_set *s, unsigned slot, uint64_t seq, struct raid_sb *sb);

/* raid_bitmap.c (all under lock) */
int raid_bitmap_init(struct raid_set *s, uint64_t region_size, const uint8_t *bits);
void raid_bitmap_fini(struct raid_set *s);
/* Accounts a write to [off, off+len) (member data offsets): counts it in
 * flight and sets clean bits. Returns true when bits were set (the caller waits
 * for the metadata generation it bumped). */
bool raid_bitmap_start_write_locked(struct raid_set *s, uint64_t off, uint64_t len);
void raid_bitmap_end_write_locked(struct raid_set *s, uint64_t off, uint64_t len);
/* Clears bits of regions not written since the previous call and idle now.
 * Returns the number cleared. */
unsigned raid_bitmap_clean_locked(struct raid_set *s);
unsigned raid_bitmap_dirty_count_locked(const struct raid_set *s);
uint32_t raid_bitmap_region_of(const struct raid_set *s, uint64_t off);

/* raid_rebuild.c */
int raid_rebuild_init(struct raid_set *s);
void raid_rebuild_fini(struct raid_set *s);
/* Control thread: starts the background pass when there is work. */
void raid_rebuild_start(struct raid_set *s);
/* Under lock: whether [off, off+len) overlaps the rebuild window. */
bool raid_rebuild_window_overlaps_locked(const struct raid_set *s, uint64_t off, uint64_t len);
void raid_rebuild_status(struct raid_set *s, struct json_object *o);

#endif /* RAID_INTERNAL_H */
