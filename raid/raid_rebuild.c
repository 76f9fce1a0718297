/* raid_rebuild.c — background resync, rebuild and scrub for RAID1.
 *
 * A poller on the set's home reactor runs passes, one at a time:
 *   - resync: after an unclean shutdown (or a new set), copies the regions
 *     dirty in the bitmap from the source (the first active member) to the
 *     other active members;
 *   - rebuild: copies the whole data area from the source to every member in
 *     the "rebuilding" state, which then becomes active (events + 1);
 *   - scrub: compares the active members (one chunk at a time).
 *
 * A pass keeps up to RAID_RB_SLOTS chunks (RAID_REBUILD_CHUNK each, inside one
 * bitmap region) in flight, so reads of the next chunks overlap the writes of
 * the previous ones. Each slot is a small state machine:
 *
 *   FREE   pick the next chunk; rate limit; open the slot's window
 *          [pos, pos + len) — new writes to it park until it closes
 *   DRAIN  wait until no admitted write overlaps the window
 *   READ   read it from the source (an error fails the source, try another)
 *   WRITE  write it to every target (an error fails that target; a target
 *          out of I/O contexts is written again from the poller: WRITE_RETRY)
 *          -> close the window, wake parked writes, FREE
 *
 * So a chunk is never copied while a write to it is in flight and no write
 * lands between the copy's read and its write: writes outside the windows go
 * to the targets directly (they are written like active members), so the copy
 * and the writes never race. The pass runs while I/O continues.
 *
 * Foreground I/O first: when the set saw requests in the last RAID_RB_FG_NS,
 * only one chunk is in flight (fg_yields counts the chunks copied that way);
 * the rate limit (bytes/s) holds chunk starts back on top of that.
 *
 * Checkpoints (rebuild passes): about once a second the targets are flushed
 * and then the position below which every chunk is copied goes into the
 * superblock (rebuild_pos, rebuild_mask). After a restart the pass resumes
 * there; below it, it copies again only the regions dirty in the bitmap
 * (writes that may have been in flight at the crash).
 *
 * The set is held open (one reference) while passes run, so it cannot be
 * stopped under the poller; the reference is dropped on the control thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "raid_internal.h"
#include "vsl_log.h"
#include "vsl_time.h"
#include "vsl_util.h"

VSL_LOG_MODULE(raid_rebuild);

static int rb_poll(void *arg);

static const char *kind_name(enum raid_pass_kind k)
{
	return k == RAID_PASS_RESYNC ? "resync" : k == RAID_PASS_SCRUB ? "scrub" : "rebuild";
}

int raid_rebuild_init(struct raid_set *s)
{
	for (unsigned i = 0; i < RAID_RB_SLOTS * RAID_MAX_MEMBERS; i++)
		s->rb.idx[i] = (uint16_t)i;
	for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++)
		s->rb.ck_idx[i] = (uint8_t)i;
	s->rb.poller.fn = rb_poll;
	s->rb.poller.arg = s;
	s->rb.phase = RAID_RB_IDLE;
	return 0;
}

void raid_rebuild_fini(struct raid_set *s)
{
	for (unsigned k = 0; k < RAID_RB_SLOTS; k++) {
		free(s->rb.slot[k].buf);
		s->rb.slot[k].buf = NULL;
	}
	free(s->rb.buf2);
	s->rb.buf2 = NULL;
}

/* Control thread, before a pass can run: the chunk buffers. */
static int rb_alloc(struct raid_set *s)
{
	for (unsigned k = 0; k < RAID_RB_SLOTS; k++) {
		if (s->rb.slot[k].buf)
			continue;
		s->rb.slot[k].buf = aligned_alloc(4096, RAID_REBUILD_CHUNK);
		if (!s->rb.slot[k].buf)
			return -ENOMEM;
	}
	return 0;
}

bool raid_rebuild_window_overlaps_locked(const struct raid_set *s, uint64_t off, uint64_t len)
{
	for (unsigned k = 0; k < RAID_RB_SLOTS; k++) {
		const struct raid_rb_slot *c = &s->rb.slot[k];

		if (c->win_end && off < c->win_end && c->win_start < off + len)
			return true;
	}
	return false;
}

static int first_active(const struct raid_set *s)
{
	for (unsigned i = 0; i < s->n; i++)
		if (raid_member_state(s, i) == RAID_MEMBER_ACTIVE)
			return (int)i;
	return -1;
}

/* Callback args: &rb.idx[slot * 32 + member]. */
static struct raid_set *set_of_idx(void *arg, struct raid_rb_slot **c, unsigned *i)
{
	uint16_t *p = arg;
	struct raid_rebuild *rb = VSL_CONTAINER_OF(p - *p, struct raid_rebuild, idx[0]);

	*i = *p % RAID_MAX_MEMBERS;
	*c = &rb->slot[*p / RAID_MAX_MEMBERS];
	return VSL_CONTAINER_OF(rb, struct raid_set, rb);
}

static void *cb_arg(struct raid_set *s, const struct raid_rb_slot *c, unsigned i)
{
	return &s->rb.idx[(unsigned)(c - s->rb.slot) * RAID_MAX_MEMBERS + i];
}

static void window_close(struct raid_set *s, struct raid_rb_slot *c)
{
	pthread_mutex_lock(&s->lock);
	c->win_start = c->win_end = 0;
	pthread_mutex_unlock(&s->lock);
	raid_chans_kick(s);
}

static void rb_release(void *arg)
{
	struct raid_set *s = arg;

	blk_bdev_unref(&s->bdev);
}

/* ------------------------------------------------------------ one chunk */

/* Drops one pending write of the chunk; the last closes the window, unless
 * a target was out of I/O contexts: the poller then writes to it again. */
static void rb_chunk_put(struct raid_set *s, struct raid_rb_slot *c)
{
	if (--c->pending)
		return;
	if (c->to_write) {
		c->phase = RAID_RBS_WRITE_RETRY;
		return;
	}
	window_close(s, c);
	s->rb.done_bytes += c->len;
	c->phase = RAID_RBS_FREE;
}

static void rb_write_done(void *arg, int status);

/* Writes the chunk to the targets in to_write (the chunk's bias held). */
static void rb_write_issue(struct raid_set *s, struct raid_rb_slot *c, struct blk_reactor *r)
{
	c->pending++;
	for (unsigned i = 0; i < s->n; i++) {
		int ret;

		if (!(c->to_write & (1u << i)))
			continue;
		if (!(atomic_load(&s->rb.targets) & (1u << i)) ||
		    !raid_member_get(s, i, raid_state_bit(RAID_MEMBER_ACTIVE) |
					   raid_state_bit(RAID_MEMBER_REBUILDING))) {
			c->to_write &= ~(1u << i);
			atomic_fetch_and(&s->rb.targets, ~(1u << i));
			continue;
		}
		ret = blk_bdev_writev(s->m[i].bdev, r, &c->iov, 1, s->data_offset + c->pos, c->len, 0,
				      rb_write_done, cb_arg(s, c, i));
		if (ret == -ENOMEM) {
			atomic_fetch_sub(&s->m[i].outstanding, 1);
			break;                   /* stays in to_write: the poller retries */
		}
		c->to_write &= ~(1u << i);
		if (ret) {
			atomic_fetch_sub(&s->m[i].outstanding, 1);
			atomic_fetch_and(&s->rb.targets, ~(1u << i));
			raid_member_io_failed(s, i, r, true, ret);
			continue;
		}
		c->pending++;
	}
	rb_chunk_put(s, c);                  /* the bias */
}

static void rb_write_done(void *arg, int status)
{
	struct raid_rb_slot *c;
	unsigned i;
	struct raid_set *s = set_of_idx(arg, &c, &i);

	atomic_fetch_sub(&s->m[i].outstanding, 1);
	if (status) {
		atomic_fetch_and(&s->rb.targets, ~(1u << i));
		raid_member_io_failed(s, i, blk_reactor_self(), true, status);
	}
	rb_chunk_put(s, c);
}

/* Scrub: compares the source's chunk (slot 0's buf) with each target's in
 * turn, and with repair writes the source's over a target that differs. */
static void scrub_step(struct raid_set *s, struct raid_rb_slot *c);

static void scrub_write_done(void *arg, int status)
{
	struct raid_rb_slot *c;
	unsigned i;
	struct raid_set *s = set_of_idx(arg, &c, &i);

	atomic_fetch_sub(&s->m[i].outstanding, 1);
	if (status)
		raid_member_io_failed(s, i, blk_reactor_self(), true, status);
	else
		s->rb.repaired_bytes += c->len;
	scrub_step(s, c);
}

static void scrub_read_done(void *arg, int status)
{
	struct raid_rb_slot *c;
	unsigned i;
	struct raid_set *s = set_of_idx(arg, &c, &i);
	uint64_t bad = 0;
	int ret;

	atomic_fetch_sub(&s->m[i].outstanding, 1);
	if (status) {
		raid_member_io_failed(s, i, blk_reactor_self(), false, status);
		scrub_step(s, c);
		return;
	}
	for (uint64_t o = 0; o < c->len; o += 4096) {
		uint64_t n = VSL_MIN((uint64_t)4096, c->len - o);

		if (memcmp(c->buf + o, s->rb.buf2 + o, n))
			bad += n;
	}
	if (!bad) {
		scrub_step(s, c);
		return;
	}
	s->rb.mismatch_bytes += bad;
	raid_sb_bit_set(s->rb.mismatch, raid_bitmap_region_of(s, c->pos), true);
	if (!s->rb.scrub_repair ||
	    !raid_member_get(s, i, raid_state_bit(RAID_MEMBER_ACTIVE))) {
		scrub_step(s, c);
		return;
	}
	ret = blk_bdev_writev(s->m[i].bdev, blk_reactor_self(), &c->iov, 1, s->data_offset + c->pos,
			      c->len, 0, scrub_write_done, cb_arg(s, c, i));
	if (ret) {
		atomic_fetch_sub(&s->m[i].outstanding, 1);
		if (ret == -ENOMEM)
			s->rb.scrub_skipped += c->len;     /* not repaired this time */
		else
			raid_member_io_failed(s, i, blk_reactor_self(), true, ret);
		scrub_step(s, c);
	}
}

static void scrub_step(struct raid_set *s, struct raid_rb_slot *c)
{
	for (int i = s->rb.scrub_t + 1; i < (int)s->n; i++) {
		int ret;

		if (!(atomic_load(&s->rb.targets) & (1u << i)) ||
		    !raid_member_get(s, (unsigned)i, raid_state_bit(RAID_MEMBER_ACTIVE)))
			continue;
		s->rb.scrub_t = i;
		s->rb.iov2.iov_base = s->rb.buf2;
		s->rb.iov2.iov_len = c->len;
		ret = blk_bdev_readv(s->m[i].bdev, blk_reactor_self(), &s->rb.iov2, 1,
				     s->data_offset + c->pos, c->len, scrub_read_done,
				     cb_arg(s, c, (unsigned)i));
		if (!ret)
			return;
		atomic_fetch_sub(&s->m[i].outstanding, 1);
		if (ret == -ENOMEM)
			s->rb.scrub_skipped += c->len;     /* not compared this time */
		else
			raid_member_io_failed(s, (unsigned)i, blk_reactor_self(), false, ret);
	}
	rb_chunk_put(s, c);
}

static void rb_read_done(void *arg, int status)
{
	struct raid_rb_slot *c;
	unsigned src;
	struct raid_set *s = set_of_idx(arg, &c, &src);
	struct blk_reactor *r = blk_reactor_self();

	atomic_fetch_sub(&s->m[src].outstanding, 1);
	if (status) {
		raid_member_io_failed(s, src, r, false, status);
		c->phase = RAID_RBS_DRAIN;       /* again, from another source */
		return;
	}
	c->phase = RAID_RBS_WRITE;
	if (s->rb.kind == RAID_PASS_SCRUB) {
		c->pending = 1;
		s->rb.scrub_t = -1;
		scrub_step(s, c);
		return;
	}
	c->to_write = atomic_load(&s->rb.targets);
	c->pending = 0;
	rb_write_issue(s, c, r);
}

/* ------------------------------------------------------------- a pass */

static uint64_t region_end(const struct raid_set *s, uint64_t pos)
{
	return VSL_MIN(((pos >> s->bm.region_shift) + 1) << s->bm.region_shift, s->data_size);
}

static uint32_t region_of(const struct raid_set *s, uint64_t pos)
{
	return (uint32_t)(pos >> s->bm.region_shift);
}

/* The next chunk at or after `pos` this pass copies; false past the end. */
static bool next_chunk(struct raid_set *s, uint64_t pos, uint64_t *start, uint64_t *len)
{
	for (;;) {
		if (pos >= s->rb.end_pos)
			return false;
		if (s->rb.kind == RAID_PASS_RESYNC && !raid_sb_bit(s->rb.regions, region_of(s, pos))) {
			pos = region_end(s, pos);
			continue;
		}
		if (s->rb.kind == RAID_PASS_REBUILD && pos < s->rb.resume_pos &&
		    !raid_sb_bit(s->rb.resume_dirty, region_of(s, pos))) {
			pos = VSL_MIN(region_end(s, pos), s->rb.resume_pos);
			continue;
		}
		break;
	}
	*start = pos;
	*len = VSL_MIN((uint64_t)RAID_REBUILD_CHUNK, region_end(s, pos) - pos);
	if (pos < s->rb.resume_pos)
		*len = VSL_MIN(*len, s->rb.resume_pos - pos);
	return true;
}

/* Bytes a pass will copy from 0 to end_pos. */
static uint64_t pass_bytes(struct raid_set *s)
{
	uint64_t pos = 0, start, len, total = 0;

	while (next_chunk(s, pos, &start, &len)) {
		/* Whole dirty runs at once: a region at a time. */
		uint64_t e = s->rb.kind == RAID_PASS_REBUILD && start >= s->rb.resume_pos
				     ? s->rb.end_pos : region_end(s, start);

		if (start < s->rb.resume_pos)
			e = VSL_MIN(e, s->rb.resume_pos);
		total += e - start;
		pos = e;
	}
	return total;
}

static void pass_end(struct raid_set *s, struct blk_reactor *r)
{
	uint64_t ms = (vsl_time_mono_ns() - s->rb.pass_start_ns) / 1000000;

	pthread_mutex_lock(&s->lock);
	if (s->rb.kind == RAID_PASS_SCRUB) {
		unsigned bad = 0;

		for (uint32_t i = 0; i < s->bm.n_regions; i++)
			bad += raid_sb_bit(s->rb.mismatch, i);
		s->rb.scrubs++;
		if (bad)
			VSL_WARN("raid %s: scrub found %u mismatching regions (%" PRIu64
				 " bytes)%s", s->bdev.name, bad, s->rb.mismatch_bytes,
				 s->rb.scrub_repair ? ", repaired from the first active member" : "");
		else
			VSL_INFO("raid %s: scrub done: members agree", s->bdev.name);
	} else if (s->rb.kind == RAID_PASS_RESYNC) {
		s->rb.resync_pending = 0;
		s->rb.resynced_bytes += s->rb.done_bytes;
		VSL_INFO("raid %s: resync done: %" PRIu64 " bytes resynced in %" PRIu64 " ms",
			 s->bdev.name, s->rb.done_bytes, ms);
	} else {
		for (unsigned i = 0; i < s->n; i++) {
			if (!(atomic_load(&s->rb.targets) & (1u << i)) ||
			    raid_member_state(s, i) != RAID_MEMBER_REBUILDING)
				continue;
			raid_set_member_state_locked(s, i, RAID_MEMBER_ACTIVE, "rebuild complete");
		}
		s->rb.rebuilt_bytes += s->rb.done_bytes;
		VSL_INFO("raid %s: rebuild done: %" PRIu64 " bytes in %" PRIu64 " ms (%.0f MiB/s)",
			 s->bdev.name, s->rb.done_bytes, ms,
			 ms ? (double)s->rb.done_bytes / 1048576.0 * 1000.0 / (double)ms : 0.0);
	}
	s->rb.passes++;
	pthread_mutex_unlock(&s->lock);
	raid_meta_kick(s, r);
	s->rb.phase = RAID_RB_IDLE;
}

/* Chooses the next pass; false when there is nothing left to do. */
static bool pass_begin(struct raid_set *s)
{
	int src;
	bool go = true;

	pthread_mutex_lock(&s->lock);
	src = first_active(s);
	atomic_store(&s->rb.targets, 0);
	s->rb.resume_pos = 0;
	s->rb.end_pos = s->data_size;
	if (src < 0 || s->failed) {
		go = false;
	} else if (s->rb.resync_pending && raid_active_count(s) >= 2) {
		s->rb.kind = RAID_PASS_RESYNC;
		for (unsigned i = 0; i < s->n; i++)
			if ((int)i != src && raid_member_state(s, i) == RAID_MEMBER_ACTIVE)
				atomic_fetch_or(&s->rb.targets, 1u << i);
	} else {
		uint32_t t = 0;

		s->rb.resync_pending = 0;    /* one active member: nothing to compare */
		s->rb.kind = RAID_PASS_REBUILD;
		for (unsigned i = 0; i < s->n; i++)
			if (raid_member_state(s, i) == RAID_MEMBER_REBUILDING)
				t |= 1u << i;
		atomic_store(&s->rb.targets, t);
		/* Resume from the checkpoint when it covers every target. */
		if (t && s->rb.ckpt_mask && !(t & ~s->rb.ckpt_mask)) {
			s->rb.resume_pos = s->rb.ckpt_pos;
		} else {
			s->rb.ckpt_pos = 0;
			s->rb.ckpt_mask = 0;
		}
		if (!t && s->rb.scrub_pending && s->rb.buf2 && raid_active_count(s) >= 2) {
			s->rb.kind = RAID_PASS_SCRUB;
			s->rb.scrub_pending = false;
			for (unsigned i = 0; i < s->n; i++)
				if ((int)i != src && raid_member_state(s, i) == RAID_MEMBER_ACTIVE)
					atomic_fetch_or(&s->rb.targets, 1u << i);
			memset(s->rb.mismatch, 0, sizeof(s->rb.mismatch));
			s->rb.mismatch_bytes = 0;
		}
		s->rb.scrub_pending = false;
		go = atomic_load(&s->rb.targets) != 0;
	}
	if (go) {
		s->rb.source = (unsigned)src;
		s->rb.next_pos = 0;
		s->rb.done_bytes = 0;
		s->rb.issued_bytes = 0;
		s->rb.resumed_from = s->rb.resume_pos;
		s->rb.pass_total = pass_bytes(s);
		s->rb.pass_start_ns = s->rb.ck_last_ns = vsl_time_mono_ns();
		/* Foreground requests counted from here: the counters moved by
		 * requests long before this pass must not throttle its start. */
		s->rb.fg_seen = atomic_load_explicit(&s->rr, memory_order_relaxed) +
				atomic_load_explicit(&s->fg_writes, memory_order_relaxed);
		s->rb.fg_last_ns = 0;
		s->rb.phase = RAID_RB_RUN;
	} else {
		s->rb.running = false;
	}
	pthread_mutex_unlock(&s->lock);
	if (go && s->rb.resume_pos)
		VSL_INFO("raid %s: rebuild resumes at %" PRIu64 " MiB of %" PRIu64
			 " (checkpoint); %" PRIu64 " bytes to copy from %s", s->bdev.name,
			 s->rb.resume_pos >> 20, s->data_size >> 20, s->rb.pass_total,
			 s->m[src].name);
	else if (go)
		VSL_INFO("raid %s: %s started: %" PRIu64 " bytes from %s", s->bdev.name,
			 kind_name(s->rb.kind), s->rb.pass_total, s->m[src].name);
	return go;
}

/* Whether the rate limit lets another chunk start now; if not, arms a wake-up
 * for when it will. */
static bool rate_allows(struct raid_set *s, struct blk_reactor *r, uint64_t now)
{
	uint64_t rate = s->rb.rate;
	double budget;

	if (!rate)
		return true;
	budget = (double)rate * (double)(now - s->rb.pass_start_ns) / 1e9;
	if ((double)s->rb.issued_bytes <= budget)
		return true;
	blk_reactor_wake_in(r, VSL_MAX((uint64_t)1000,
				       (uint64_t)(((double)s->rb.issued_bytes - budget) * 1e6 /
						  (double)rate)));
	return false;
}

/* Foreground requests since the last look: the pass yields to them. */
static bool foreground_busy(struct raid_set *s, uint64_t now)
{
	unsigned seen = atomic_load_explicit(&s->rr, memory_order_relaxed) +
			atomic_load_explicit(&s->fg_writes, memory_order_relaxed);

	if (seen != s->rb.fg_seen) {
		s->rb.fg_seen = seen;
		s->rb.fg_last_ns = now;
	}
	return now - s->rb.fg_last_ns < RAID_RB_FG_NS;
}

static bool slot_start(struct raid_set *s, struct raid_rb_slot *c)
{
	uint64_t pos, len;

	if (!atomic_load(&s->rb.targets) || !next_chunk(s, s->rb.next_pos, &pos, &len))
		return false;
	c->pos = pos;
	c->len = len;
	s->rb.next_pos = pos + len;
	s->rb.issued_bytes += len;
	pthread_mutex_lock(&s->lock);
	c->win_start = pos;
	c->win_end = pos + len;
	pthread_mutex_unlock(&s->lock);
	c->phase = RAID_RBS_DRAIN;
	return true;
}

/* DRAIN: reads the chunk once no admitted write overlaps its window. */
static int slot_drain(struct raid_set *s, struct raid_rb_slot *c, struct blk_reactor *r)
{
	bool busy = false;
	int src, ret;

	pthread_mutex_lock(&s->lock);
	for (struct raid_io *w = s->inflight; w && !busy; w = w->fnext)
		busy = w->io->offset < c->win_end && c->win_start < w->io->offset + w->io->len;
	src = first_active(s);
	pthread_mutex_unlock(&s->lock);
	if (busy)
		return 0;
	if (src < 0) {
		window_close(s, c);
		atomic_store(&s->rb.targets, 0);
		c->phase = RAID_RBS_FREE;
		return 1;
	}
	c->source = (unsigned)src;
	atomic_fetch_and(&s->rb.targets, ~(1u << src));
	if (!raid_member_get(s, (unsigned)src, raid_state_bit(RAID_MEMBER_ACTIVE)))
		return 1;                          /* failed meanwhile: pick again */
	c->iov.iov_base = c->buf;
	c->iov.iov_len = c->len;
	ret = blk_bdev_readv(s->m[src].bdev, r, &c->iov, 1, s->data_offset + c->pos, c->len,
			     rb_read_done, cb_arg(s, c, (unsigned)src));
	if (ret) {
		atomic_fetch_sub(&s->m[src].outstanding, 1);
		if (ret != -ENOMEM)
			raid_member_io_failed(s, (unsigned)src, r, false, ret);
		return 0;
	}
	c->phase = RAID_RBS_READ;
	return 1;
}

/* ------------------------------------------------------------ checkpoints */

/* Where every chunk below is copied: the lowest chunk in flight, else the
 * next one to start. */
static uint64_t copied_upto(const struct raid_set *s)
{
	uint64_t low = s->rb.next_pos;

	for (unsigned k = 0; k < RAID_RB_SLOTS; k++)
		if (s->rb.slot[k].phase != RAID_RBS_FREE && s->rb.slot[k].pos < low)
			low = s->rb.slot[k].pos;
	return VSL_MIN(low, s->data_size);
}

static void ck_put(struct raid_set *s, struct blk_reactor *r)
{
	uint32_t t;

	if (--s->rb.ck_pending)
		return;
	s->rb.ck_busy = false;
	pthread_mutex_lock(&s->lock);
	/* Only targets still rebuilding: a failed one left the pass (and the mask). */
	t = atomic_load(&s->rb.targets);
	for (unsigned i = 0; i < s->n; i++)
		if (raid_member_state(s, i) != RAID_MEMBER_REBUILDING)
			t &= ~(1u << i);
	if (t && s->rb.phase == RAID_RB_RUN && s->rb.kind == RAID_PASS_REBUILD) {
		s->rb.ckpt_pos = s->rb.ck_cand;
		s->rb.ckpt_mask = t;
		s->rb.ckpt_writes++;
		s->meta.gen++;
	}
	pthread_mutex_unlock(&s->lock);
	raid_meta_kick(s, r);
}

static void ck_flush_done(void *arg, int status)
{
	uint8_t *p = arg;
	unsigned i = *p;
	struct raid_rebuild *rb = VSL_CONTAINER_OF(p - i, struct raid_rebuild, ck_idx[0]);
	struct raid_set *s = VSL_CONTAINER_OF(rb, struct raid_set, rb);

	atomic_fetch_sub(&s->m[i].outstanding, 1);
	if (status) {
		atomic_fetch_and(&s->rb.targets, ~(1u << i));
		raid_member_io_failed(s, i, blk_reactor_self(), true, status);
	}
	ck_put(s, blk_reactor_self());
}

/* Rebuild passes, about once a second: flush the targets (the chunks below
 * copied_upto() are written), then record that position in the superblock. */
static void checkpoint_maybe(struct raid_set *s, struct blk_reactor *r, uint64_t now)
{
	uint64_t upto;
	uint32_t t;

	if (s->rb.kind != RAID_PASS_REBUILD || s->rb.ck_busy ||
	    now - s->rb.ck_last_ns < RAID_RB_CKPT_NS)
		return;
	upto = copied_upto(s);
	if (upto <= s->rb.ckpt_pos || upto >= s->rb.end_pos)
		return;
	s->rb.ck_last_ns = now;
	s->rb.ck_busy = true;
	s->rb.ck_cand = upto;
	s->rb.ck_pending = 1;
	t = atomic_load(&s->rb.targets);
	for (unsigned i = 0; i < s->n; i++) {
		int ret;

		if (!(t & (1u << i)) || !(s->m[i].bdev->caps & BLK_CAP_FLUSH) ||
		    !raid_member_get(s, i, raid_state_bit(RAID_MEMBER_REBUILDING)))
			continue;
		ret = blk_bdev_flush(s->m[i].bdev, r, ck_flush_done, &s->rb.ck_idx[i]);
		if (ret) {
			atomic_fetch_sub(&s->m[i].outstanding, 1);
			if (ret == -ENOMEM) {
				/* Out of contexts: this checkpoint is skipped. */
				s->rb.ck_cand = s->rb.ckpt_pos;
			} else {
				atomic_fetch_and(&s->rb.targets, ~(1u << i));
				raid_member_io_failed(s, i, r, true, ret);
			}
			continue;
		}
		s->rb.ck_pending++;
	}
	ck_put(s, r);
}

/* ------------------------------------------------------------- the poller */

static int rb_run(struct raid_set *s, struct blk_reactor *r)
{
	uint64_t now = vsl_time_mono_ns();
	unsigned busy = 0, depth;
	bool more = true, fg = false;
	int work = 0;

	for (unsigned k = 0; k < RAID_RB_SLOTS; k++) {
		struct raid_rb_slot *c = &s->rb.slot[k];

		if (c->phase == RAID_RBS_DRAIN)
			work += slot_drain(s, c, r);
		else if (c->phase == RAID_RBS_WRITE_RETRY) {
			c->phase = RAID_RBS_WRITE;
			rb_write_issue(s, c, r);
			work++;
		}
		busy += c->phase != RAID_RBS_FREE;
	}
	depth = s->rb.kind == RAID_PASS_SCRUB ? 1 : RAID_RB_SLOTS;
	if (depth > 1 && foreground_busy(s, now)) {
		depth = 1;
		fg = true;
	}
	for (unsigned k = 0; k < RAID_RB_SLOTS && busy < depth && more; k++) {
		struct raid_rb_slot *c = &s->rb.slot[k];

		if (c->phase != RAID_RBS_FREE)
			continue;
		if (!rate_allows(s, r, now))
			break;
		more = slot_start(s, c);
		if (more) {
			s->rb.fg_yields += fg;
			busy++;
			work += 1 + slot_drain(s, c, r);
		}
	}
	if (busy && s->rb.ck_busy == false)
		checkpoint_maybe(s, r, now);
	if (!busy && !s->rb.ck_busy) {
		uint64_t pos, len;

		if (!atomic_load(&s->rb.targets) || !next_chunk(s, s->rb.next_pos, &pos, &len)) {
			pass_end(s, r);
			return 1;
		}
	}
	return work;
}

static int rb_poll(void *arg)
{
	struct raid_set *s = arg;
	struct blk_reactor *r = blk_reactor_self();

	switch (s->rb.phase) {
	case RAID_RB_IDLE:
		/* The previous pass's state change is durable before the next pass
		 * or the end (which releases the set): nothing of ours stays in
		 * flight once raid-status says the rebuild is over. */
		if (raid_meta_busy(s)) {
			raid_meta_kick(s, r);
			return 0;
		}
		if (pass_begin(s))
			return 1;
		blk_poller_del(r, &s->rb.poller);
		s->rb.phase = RAID_RB_DONE;
		if (blk_ctl_send(rb_release, s))
			rb_release(s);       /* no control channel: tests, same thread */
		return 1;
	case RAID_RB_RUN:
		return rb_run(s, r);
	default:
		return 0;
	}
}

static void rb_begin(void *arg)
{
	struct raid_set *s = arg;

	s->rb.phase = RAID_RB_IDLE;
	blk_poller_add(blk_reactor_self(), &s->rb.poller);
}

void raid_rebuild_start(struct raid_set *s)
{
	bool work = false;

	if (s->level != RAID_LEVEL_1)
		return;
	pthread_mutex_lock(&s->lock);
	s->promote_pending = false;
	if (!s->rb.running) {
		work = s->rb.resync_pending != 0 || s->rb.scrub_pending;
		for (unsigned i = 0; i < s->n; i++)
			work |= raid_member_state(s, i) == RAID_MEMBER_REBUILDING;
		s->rb.running = work;
	}
	pthread_mutex_unlock(&s->lock);
	if (!work)
		return;
	/* Held until the last pass ends (rb_release). */
	if (rb_alloc(s)) {
		VSL_ERR("raid %s: cannot start the rebuild (out of memory)", s->bdev.name);
		pthread_mutex_lock(&s->lock);
		s->rb.running = false;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	/* An internal reference: it keeps the set alive, and unlike a user or
	 * a claim it does not make the set look in use to pvcreate/vgcreate. */
	blk_bdev_ref(&s->bdev);
	if (blk_reactor_self() == s->home) {
		rb_begin(s);
	} else if (blk_reactor_send(s->home, rb_begin, s)) {
		pthread_mutex_lock(&s->lock);
		s->rb.running = false;
		pthread_mutex_unlock(&s->lock);
		blk_bdev_unref(&s->bdev);
	}
}

void raid_rebuild_status(struct raid_set *s, struct json_object *o)
{
	struct json_object *rb = json_object_new_object();
	uint64_t now = vsl_time_mono_ns(), done, total, el_ns;
	bool running;
	double pct, mibs, eta;

	pthread_mutex_lock(&s->lock);
	running = s->rb.running && s->rb.phase != RAID_RB_IDLE;
	done = s->rb.done_bytes;
	total = s->rb.pass_total;
	el_ns = now - s->rb.pass_start_ns;
	json_object_object_add(rb, "running", json_object_new_boolean(s->rb.running));
	json_object_object_add(rb, "kind", json_object_new_string(
		!s->rb.running ? "none" : kind_name(s->rb.kind)));
	pct = total ? 100.0 * (double)done / (double)total : 0;
	mibs = el_ns ? (double)done / 1048576.0 / ((double)el_ns / 1e9) : 0;
	eta = mibs > 0 ? (double)(total - done) / 1048576.0 / mibs : -1;
	if (s->rb.running) {
		json_object_object_add(rb, "percent", json_object_new_double(running ? pct : 0));
		json_object_object_add(rb, "mib_per_s", json_object_new_double(mibs));
		json_object_object_add(rb, "eta_s", json_object_new_double(eta));
		json_object_object_add(rb, "done_bytes", json_object_new_int64((int64_t)done));
		json_object_object_add(rb, "total_bytes", json_object_new_int64((int64_t)total));
		json_object_object_add(rb, "source", json_object_new_string(s->m[s->rb.source].name));
	}
	if (s->rb.running && s->rb.kind == RAID_PASS_REBUILD)
		json_object_object_add(rb, "resumed_from",
				       json_object_new_int64((int64_t)s->rb.resumed_from));
	json_object_object_add(rb, "checkpoint", json_object_new_int64(
		(int64_t)(s->rb.ckpt_mask ? s->rb.ckpt_pos : 0)));
	json_object_object_add(rb, "checkpoints", json_object_new_int64((int64_t)s->rb.ckpt_writes));
	json_object_object_add(rb, "foreground_yields",
			       json_object_new_int64((int64_t)s->rb.fg_yields));
	json_object_object_add(rb, "rate_limit", json_object_new_int64((int64_t)s->rb.rate));
	json_object_object_add(rb, "passes", json_object_new_int64((int64_t)s->rb.passes));
	json_object_object_add(rb, "resynced_bytes", json_object_new_int64((int64_t)s->rb.resynced_bytes));
	json_object_object_add(rb, "rebuilt_bytes", json_object_new_int64((int64_t)s->rb.rebuilt_bytes));
	{
		struct json_object *sc = json_object_new_object(), *bad = json_object_new_array();

		for (uint32_t r = 0; r < s->bm.n_regions; r++)
			if (raid_sb_bit(s->rb.mismatch, r) && json_object_array_length(bad) < 256)
				json_object_array_add(bad, json_object_new_int((int)r));
		json_object_object_add(sc, "scrubs", json_object_new_int64((int64_t)s->rb.scrubs));
		json_object_object_add(sc, "mismatched_regions", bad);
		json_object_object_add(sc, "mismatch_bytes",
				       json_object_new_int64((int64_t)s->rb.mismatch_bytes));
		json_object_object_add(sc, "repaired_bytes",
				       json_object_new_int64((int64_t)s->rb.repaired_bytes));
		json_object_object_add(sc, "skipped_bytes",
				       json_object_new_int64((int64_t)s->rb.scrub_skipped));
		json_object_object_add(o, "scrub", sc);
	}
	pthread_mutex_unlock(&s->lock);
	json_object_object_add(o, "rebuild", rb);
}

int raid_set_scrub(struct raid_set *s, bool repair)
{
	if (s->level != RAID_LEVEL_1)
		return -EINVAL;
	if (raid_active_count(s) < 2)
		return -ENODEV;
	if (!s->rb.buf2) {
		/* Control thread; the pass that uses it starts after this. */
		s->rb.buf2 = aligned_alloc(4096, RAID_REBUILD_CHUNK);
		if (!s->rb.buf2)
			return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	s->rb.scrub_pending = true;
	s->rb.scrub_repair = repair;
	pthread_mutex_unlock(&s->lock);
	raid_rebuild_start(s);
	return 0;
}
