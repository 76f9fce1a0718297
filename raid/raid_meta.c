/* raid_meta.c — the metadata writer: makes the set's superblock (member
 * states, event counter, write-intent bitmap) durable on every member that
 * is not failed.
 *
 * One state machine per set, running on one reactor at a time:
 *
 *   IDLE --kick, gen > disk_gen--> WRITE --all written--> FLUSH --all flushed-->
 *        (disk_gen = write_gen; parked requests and control waiters released)
 *        --gen still ahead--> WRITE   |   --else--> IDLE
 *
 * WRITE snapshots the metadata under the lock (write_gen = gen, seq + 1) and
 * writes copy (seq & 1) on every target; the other copy keeps the previous
 * update, so a torn write loses at most this one. A member that fails its
 * write or flush is failed right there (gen moves on, so the loop writes again
 * without it). When no member takes the update the set is failed and waiters
 * get EIO. -ENOMEM from a member (no I/O context) restarts the pass from a
 * message on the same reactor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raid_internal.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(raid_meta);

struct meta_sync_req {
	struct raid_set *s;
	uint64_t target;
	bool done;
	int status;
	struct meta_sync_req *next;
};

/* Control-thread waiters of every set: rare and short. */
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;
static struct meta_sync_req *sync_waiters;

int raid_meta_init(struct raid_set *s)
{
	s->meta.bufs = aligned_alloc(4096, (size_t)RAID_MAX_MEMBERS * RAID_SB_SIZE);
	if (!s->meta.bufs)
		return -ENOMEM;
	for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++)
		s->meta.idx[i] = (uint8_t)i;
	s->meta.phase = RAID_META_IDLE;
	return 0;
}

void raid_meta_fini(struct raid_set *s)
{
	free(s->meta.bufs);
	s->meta.bufs = NULL;
}

void raid_meta_fill_locked(struct raid_set *s, unsigned slot, uint64_t seq, struct raid_sb *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->seq = seq;
	sb->events = s->events;
	memcpy(sb->set_uuid, s->uuid, sizeof(sb->set_uuid));
	snprintf(sb->name, sizeof(sb->name), "%s", s->bdev.name);
	sb->level = s->level;
	sb->n_members = s->n;
	sb->strip_size = s->strip_size;
	sb->block_size = s->bdev.block_size;
	sb->slot = slot;
	sb->n_regions = s->bm.n_regions;
	sb->data_offset = s->data_offset;
	sb->data_size = s->data_size;
	sb->region_size = s->bm.region_size;
	for (unsigned i = 0; i < s->n; i++)
		sb->state[i] = (uint8_t)raid_member_state(s, i);
	sb->width = s->width;
	/* The checkpoint covers rebuilding slots only (raid_sb_check). */
	for (unsigned i = 0; i < s->n; i++)
		if ((s->rb.ckpt_mask & (1u << i)) && sb->state[i] == RAID_MEMBER_REBUILDING)
			sb->rebuild_mask |= 1u << i;
	sb->rebuild_pos = sb->rebuild_mask ? s->rb.ckpt_pos : 0;
	memcpy(sb->bitmap, s->bm.bits, sizeof(sb->bitmap));
}

static struct raid_set *set_of_idx(void *arg)
{
	uint8_t *p = arg;
	struct raid_meta *m = VSL_CONTAINER_OF(p - *p, struct raid_meta, idx[0]);

	return VSL_CONTAINER_OF(m, struct raid_set, meta);
}

static void meta_start(struct raid_set *s, struct blk_reactor *r);
static void meta_flush_done(void *arg, int status);

static void meta_member_error(struct raid_set *s, unsigned i, int status, const char *what)
{
	char why[80];

	atomic_fetch_add(&s->m[i].write_errors, 1);
	snprintf(why, sizeof(why), "superblock %s error: %s", what, strerror(-status));
	pthread_mutex_lock(&s->lock);
	if (raid_member_state(s, i) != RAID_MEMBER_FAILED)
		raid_set_member_state_locked(s, i, RAID_MEMBER_FAILED, why);
	pthread_mutex_unlock(&s->lock);
}

/* Member i is no longer written by this pass: its count goes back. With
 * flush-capable members the count is dropped when their flush completes. */
static void meta_drop(struct raid_set *s, unsigned i)
{
	s->meta.targets &= ~(1u << i);
	atomic_fetch_sub(&s->m[i].outstanding, 1);
}

static void meta_restart(void *arg)
{
	struct raid_set *s = arg;

	meta_start(s, blk_reactor_self());
}

/* The end of a pass. Order matters for the set's lifetime: parked requests
 * are kicked first; then, under the lock, the machine goes IDLE unless the
 * generation moved on; after that only the control-thread waiters are
 * signalled, which touches nothing of the set. So once raid_meta_busy() is
 * false, no reactor touches the set any more (raid-stop relies on it). */
static void meta_finish(struct raid_set *s, struct blk_reactor *r)
{
	struct meta_sync_req **pp, *done = NULL;
	const struct raid_set *key = s;
	uint64_t disk_gen;
	bool again, failed;

	pthread_mutex_lock(&s->lock);
	if (!s->meta.targets) {
		if (!s->failed)
			VSL_ERR("raid %s: no member took the metadata update: the set fails",
				s->bdev.name);
		s->failed = true;
	}
	s->meta.disk_gen = s->meta.write_gen;
	s->meta.writes++;
	pthread_mutex_unlock(&s->lock);
	raid_chans_kick(s);
	pthread_mutex_lock(&s->lock);
	again = s->meta.gen > s->meta.disk_gen && !s->failed;
	if (!again) {
		s->meta.phase = RAID_META_IDLE;
		s->meta.reactor = NULL;
	}
	disk_gen = s->meta.disk_gen;
	failed = s->failed;
	pthread_mutex_unlock(&s->lock);
	if (again)
		meta_start(s, r);
	/* From here on, `s` is only compared, never dereferenced. */
	pthread_mutex_lock(&sync_lock);
	for (pp = &sync_waiters; *pp;) {
		struct meta_sync_req *q = *pp;

		if (q->s == key && (disk_gen >= q->target || failed)) {
			*pp = q->next;
			q->next = done;
			done = q;
		} else {
			pp = &q->next;
		}
	}
	pthread_mutex_unlock(&sync_lock);
	while (done) {
		struct meta_sync_req *q = done;

		done = q->next;
		raid_ctl_done(NULL, &q->done, &q->status, failed ? -EIO : 0);
	}
}

bool raid_meta_busy(struct raid_set *s)
{
	bool busy;

	pthread_mutex_lock(&s->lock);
	busy = s->meta.phase != RAID_META_IDLE || s->meta.disk_gen < s->meta.gen;
	pthread_mutex_unlock(&s->lock);
	return busy;
}

static void meta_put(struct raid_set *s);

/* Submits the flushes still to do; a member out of I/O contexts keeps its
 * bit and is flushed from a message once the pass's other flushes are done. */
static void meta_flush_issue(struct raid_set *s, struct blk_reactor *r)
{
	s->meta.pending++;     /* held across the loop */
	for (unsigned i = 0; i < s->n; i++) {
		int ret;

		if (!(s->meta.to_flush & (1u << i)))
			continue;
		s->meta.pending++;
		ret = blk_bdev_flush(s->m[i].bdev, r, meta_flush_done, &s->meta.idx[i]);
		if (ret == -ENOMEM) {
			s->meta.pending--;
			break;
		}
		s->meta.to_flush &= ~(1u << i);
		if (ret) {
			s->meta.pending--;
			meta_drop(s, i);
			meta_member_error(s, i, ret, "flush");
		}
	}
	meta_put(s);
}

static void meta_flush_resume(void *arg)
{
	struct raid_set *s = arg;

	meta_flush_issue(s, blk_reactor_self());
}

static void meta_phase_done(struct raid_set *s, struct blk_reactor *r)
{
	if (s->meta.phase == RAID_META_WRITE) {
		s->meta.phase = RAID_META_FLUSH;
		s->meta.to_flush = 0;
		for (unsigned i = 0; i < s->n; i++) {
			if (!(s->meta.targets & (1u << i)))
				continue;
			if (s->m[i].bdev->caps & BLK_CAP_FLUSH)
				s->meta.to_flush |= 1u << i;
			else
				atomic_fetch_sub(&s->m[i].outstanding, 1);   /* nothing to flush */
		}
		meta_flush_issue(s, r);
		return;
	}
	meta_finish(s, r);
}

/* Drops one pending count; the last one moves the machine on. */
static void meta_put(struct raid_set *s)
{
	struct blk_reactor *r = blk_reactor_self();

	if (--s->meta.pending)
		return;
	if (s->meta.phase == RAID_META_FLUSH && s->meta.to_flush) {
		/* Out of contexts: flush the rest once this iteration freed some. */
		if (blk_reactor_send(r, meta_flush_resume, s) == 0)
			return;
		for (unsigned i = 0; i < s->n; i++)
			if (s->meta.to_flush & (1u << i)) {
				meta_drop(s, i);
				meta_member_error(s, i, -ENOMEM, "flush");
			}
		s->meta.to_flush = 0;
	}
	if (s->meta.restart) {
		s->meta.restart = false;
		for (unsigned i = 0; i < s->n; i++)
			if (s->meta.targets & (1u << i))
				meta_drop(s, i);      /* the next pass counts them again */
		if (blk_reactor_send(r, meta_restart, s) == 0)
			return;
		meta_start(s, r);
		return;
	}
	meta_phase_done(s, r);
}

static void meta_write_done(void *arg, int status)
{
	struct raid_set *s = set_of_idx(arg);
	unsigned i = *(uint8_t *)arg;

	if (status) {
		meta_drop(s, i);
		meta_member_error(s, i, status, "write");
	}
	meta_put(s);
}

static void meta_flush_done(void *arg, int status)
{
	struct raid_set *s = set_of_idx(arg);
	unsigned i = *(uint8_t *)arg;

	if (status) {
		meta_drop(s, i);
		meta_member_error(s, i, status, "flush");
	} else {
		atomic_fetch_sub(&s->m[i].outstanding, 1);   /* done; still a target */
	}
	meta_put(s);
}

static void meta_start(struct raid_set *s, struct blk_reactor *r)
{
	struct raid_sb sb;
	uint64_t seq;
	bool retry = false;

	pthread_mutex_lock(&s->lock);
	s->meta.phase = RAID_META_WRITE;
	s->meta.reactor = r;
	s->meta.write_gen = s->meta.gen;
	seq = ++s->meta.seq;
	s->meta.targets = 0;
	s->meta.submitted = 0;
	for (unsigned i = 0; i < s->n; i++) {
		int st = raid_member_state(s, i);

		if (!s->m[i].bdev || st == RAID_MEMBER_FAILED || st == RAID_MEMBER_EMPTY)
			continue;
		s->meta.targets |= 1u << i;
		/* Held through the write and the flush: raid-remove waits for it. */
		atomic_fetch_add(&s->m[i].outstanding, 1);
		raid_meta_fill_locked(s, i, seq, &sb);
		raid_sb_encode(&sb, s->meta.bufs + (size_t)i * RAID_SB_SIZE);
	}
	pthread_mutex_unlock(&s->lock);
	s->meta.pending = 1;
	for (unsigned i = 0; i < s->n; i++) {
		struct iovec *iov = &s->meta.iov[i];
		int ret;

		if (!(s->meta.targets & (1u << i)))
			continue;
		s->meta.pending++;
		s->meta.submitted |= 1u << i;
		iov->iov_base = s->meta.bufs + (size_t)i * RAID_SB_SIZE;
		iov->iov_len = RAID_SB_SIZE;
		ret = blk_bdev_writev(s->m[i].bdev, r, iov, 1, (seq & 1) * RAID_SB_SIZE,
				      RAID_SB_SIZE, 0, meta_write_done, &s->meta.idx[i]);
		if (ret) {
			s->meta.pending--;
			if (ret == -ENOMEM) {
				retry = true;
				break;
			}
			meta_drop(s, i);
			meta_member_error(s, i, ret, "write");
		}
	}
	if (retry) {
		/* The targets not submitted to give their count back. */
		for (unsigned i = 0; i < s->n; i++)
			if ((s->meta.targets & (1u << i)) && !(s->meta.submitted & (1u << i)))
				meta_drop(s, i);
	}
	if (retry) {
		/* Let what was submitted finish, then write the pass again (same seq). */
		s->meta.restart = true;
		s->meta.seq--;
	}
	meta_put(s);
}

void raid_meta_kick(struct raid_set *s, struct blk_reactor *r)
{
	pthread_mutex_lock(&s->lock);
	if (s->meta.phase != RAID_META_IDLE || s->meta.gen <= s->meta.disk_gen) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->meta.phase = RAID_META_WRITE;
	pthread_mutex_unlock(&s->lock);
	meta_start(s, r);
}

static void sync_kick(void *arg)
{
	struct meta_sync_req *q = arg;
	struct raid_set *s = q->s;
	bool now;

	/* Registered before the check, so a finish in between cannot miss it. */
	pthread_mutex_lock(&sync_lock);
	q->next = sync_waiters;
	sync_waiters = q;
	pthread_mutex_unlock(&sync_lock);
	pthread_mutex_lock(&s->lock);
	now = s->meta.disk_gen >= q->target || s->failed;
	pthread_mutex_unlock(&s->lock);
	if (now) {
		pthread_mutex_lock(&sync_lock);
		for (struct meta_sync_req **pp = &sync_waiters; *pp; pp = &(*pp)->next) {
			if (*pp == q) {
				*pp = q->next;
				break;
			}
		}
		pthread_mutex_unlock(&sync_lock);
	}
	if (now)
		raid_ctl_done(s, &q->done, &q->status, s->failed ? -EIO : 0);
	else
		raid_meta_kick(s, blk_reactor_self());
}

int raid_meta_sync(struct raid_set *s)
{
	struct meta_sync_req q = { .s = s };

	pthread_mutex_lock(&s->lock);
	q.target = s->meta.gen;
	pthread_mutex_unlock(&s->lock);
	return raid_ctl_run(s, sync_kick, &q, &q.done, &q.status);
}
