/* raid_rebuild.c — background resync and rebuild for RAID1.
 *
 * A poller on the set's home reactor runs passes, one at a time:
 *   - resync: after an unclean shutdown (or a new set), copies the regions
 *     dirty in the bitmap from the source (the first active member) to the
 *     other active members;
 *   - rebuild: copies the whole data area from the source to every member in
 *     the "rebuilding" state, which then becomes active (events + 1).
 *
 * Each chunk (1 MiB, inside one region) goes through an explicit state machine:
 *
 *   NEXT   pick the chunk; rate limit; open the window [pos, pos + len) — new
 *          writes to it park until it closes
 *   DRAIN  wait until no admitted write overlaps the window
 *   READ   read it from the source (an error fails the source, try another)
 *   WRITE  write it to every target (an error fails that target; a target
 *          out of I/O contexts is written again from the poller: WRITE_RETRY)
 *          -> close the window, wake parked writes, NEXT
 *
 * So a chunk is never copied while a write to it is in flight and no write
 * lands between the copy's read and its write: writes outside the window go
 * to the targets directly (they are written like active members), so the copy
 * and the writes never race. The pass runs while I/O continues.
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
	s->rb.buf = aligned_alloc(4096, RAID_REBUILD_CHUNK);
	if (!s->rb.buf)
		return -ENOMEM;
	for (unsigned i = 0; i < RAID_MAX_MEMBERS; i++)
		s->rb.idx[i] = (uint8_t)i;
	s->rb.poller.fn = rb_poll;
	s->rb.poller.arg = s;
	s->rb.phase = RAID_RB_IDLE;
	return 0;
}

void raid_rebuild_fini(struct raid_set *s)
{
	free(s->rb.buf);
	free(s->rb.buf2);
	s->rb.buf = s->rb.buf2 = NULL;
}

bool raid_rebuild_window_overlaps_locked(const struct raid_set *s, uint64_t off, uint64_t len)
{
	return s->rb.win_end && off < s->rb.win_end && s->rb.win_start < off + len;
}

static int first_active(const struct raid_set *s)
{
	for (unsigned i = 0; i < s->n; i++)
		if (raid_member_state(s, i) == RAID_MEMBER_ACTIVE)
			return (int)i;
	return -1;
}

static struct raid_set *set_of_idx(void *arg, unsigned *i)
{
	uint8_t *p = arg;
	struct raid_rebuild *rb = VSL_CONTAINER_OF(p - *p, struct raid_rebuild, idx[0]);

	*i = *p;
	return VSL_CONTAINER_OF(rb, struct raid_set, rb);
}

static void window_close(struct raid_set *s)
{
	pthread_mutex_lock(&s->lock);
	s->rb.win_start = s->rb.win_end = 0;
	pthread_mutex_unlock(&s->lock);
	raid_chans_kick(s);
}

static void rb_release(void *arg)
{
	struct raid_set *s = arg;

	blk_bdev_close(&s->bdev, false);
}

/* ------------------------------------------------------------ one chunk */

/* Drops one pending write of the chunk; the last closes the window, unless
 * a target was out of I/O contexts: the poller then writes to it again. */
static void rb_chunk_put(struct raid_set *s)
{
	if (--s->rb.pending)
		return;
	if (s->rb.to_write) {
		s->rb.phase = RAID_RB_WRITE_RETRY;
		return;
	}
	window_close(s);
	s->rb.done_bytes += s->rb.chunk_len;
	s->rb.pos += s->rb.chunk_len;
	s->rb.phase = RAID_RB_NEXT;
}

static void rb_write_done(void *arg, int status);

/* Writes the chunk to the targets in to_write (the chunk's bias held). */
static void rb_write_issue(struct raid_set *s, struct blk_reactor *r)
{
	s->rb.pending++;
	for (unsigned i = 0; i < s->n; i++) {
		int ret;

		if (!(s->rb.to_write & (1u << i)))
			continue;
		if (!(atomic_load(&s->rb.targets) & (1u << i)) ||
		    !raid_member_get(s, i, raid_state_bit(RAID_MEMBER_ACTIVE) |
					   raid_state_bit(RAID_MEMBER_REBUILDING))) {
			s->rb.to_write &= ~(1u << i);
			atomic_fetch_and(&s->rb.targets, ~(1u << i));
			continue;
		}
		ret = blk_bdev_writev(s->m[i].bdev, r, &s->rb.iov, 1, s->data_offset + s->rb.pos,
				      s->rb.chunk_len, 0, rb_write_done, &s->rb.idx[i]);
		if (ret == -ENOMEM) {
			atomic_fetch_sub(&s->m[i].outstanding, 1);
			break;                   /* stays in to_write: the poller retries */
		}
		s->rb.to_write &= ~(1u << i);
		if (ret) {
			atomic_fetch_sub(&s->m[i].outstanding, 1);
			atomic_fetch_and(&s->rb.targets, ~(1u << i));
			raid_member_io_failed(s, i, r, true, ret);
			continue;
		}
		s->rb.pending++;
	}
	rb_chunk_put(s);                     /* the bias */
}

static void rb_write_done(void *arg, int status)
{
	unsigned i;
	struct raid_set *s = set_of_idx(arg, &i);

	atomic_fetch_sub(&s->m[i].outstanding, 1);
	if (status) {
		atomic_fetch_and(&s->rb.targets, ~(1u << i));
		raid_member_io_failed(s, i, blk_reactor_self(), true, status);
	}
	rb_chunk_put(s);
}

/* Scrub: compares the source's chunk (buf) with each target's in turn, and
 * with repair writes the source's over a target that differs. */
static void scrub_step(struct raid_set *s);

static void scrub_write_done(void *arg, int status)
{
	unsigned i;
	struct raid_set *s = set_of_idx(arg, &i);

	atomic_fetch_sub(&s->m[i].outstanding, 1);
	if (status)
		raid_member_io_failed(s, i, blk_reactor_self(), true, status);
	else
		s->rb.repaired_bytes += s->rb.chunk_len;
	scrub_step(s);
}

static void scrub_read_done(void *arg, int status)
{
	unsigned i;
	struct raid_set *s = set_of_idx(arg, &i);
	uint64_t bad = 0;
	int ret;

	atomic_fetch_sub(&s->m[i].outstanding, 1);
	if (status) {
		raid_member_io_failed(s, i, blk_reactor_self(), false, status);
		scrub_step(s);
		return;
	}
	for (uint64_t o = 0; o < s->rb.chunk_len; o += 4096) {
		uint64_t n = VSL_MIN((uint64_t)4096, s->rb.chunk_len - o);

		if (memcmp(s->rb.buf + o, s->rb.buf2 + o, n))
			bad += n;
	}
	if (!bad) {
		scrub_step(s);
		return;
	}
	s->rb.mismatch_bytes += bad;
	raid_sb_bit_set(s->rb.mismatch, raid_bitmap_region_of(s, s->rb.pos), true);
	if (!s->rb.scrub_repair ||
	    !raid_member_get(s, i, raid_state_bit(RAID_MEMBER_ACTIVE))) {
		scrub_step(s);
		return;
	}
	ret = blk_bdev_writev(s->m[i].bdev, blk_reactor_self(), &s->rb.iov, 1,
			      s->data_offset + s->rb.pos, s->rb.chunk_len, 0, scrub_write_done,
			      &s->rb.idx[i]);
	if (ret) {
		atomic_fetch_sub(&s->m[i].outstanding, 1);
		if (ret == -ENOMEM)
			s->rb.scrub_skipped += s->rb.chunk_len;    /* not repaired this time */
		else
			raid_member_io_failed(s, i, blk_reactor_self(), true, ret);
		scrub_step(s);
	}
}

static void scrub_step(struct raid_set *s)
{
	for (int i = s->rb.scrub_t + 1; i < (int)s->n; i++) {
		int ret;

		if (!(atomic_load(&s->rb.targets) & (1u << i)) ||
		    !raid_member_get(s, (unsigned)i, raid_state_bit(RAID_MEMBER_ACTIVE)))
			continue;
		s->rb.scrub_t = i;
		s->rb.iov2.iov_base = s->rb.buf2;
		s->rb.iov2.iov_len = s->rb.chunk_len;
		ret = blk_bdev_readv(s->m[i].bdev, blk_reactor_self(), &s->rb.iov2, 1,
				     s->data_offset + s->rb.pos, s->rb.chunk_len, scrub_read_done,
				     &s->rb.idx[i]);
		if (!ret)
			return;
		atomic_fetch_sub(&s->m[i].outstanding, 1);
		if (ret == -ENOMEM)
			s->rb.scrub_skipped += s->rb.chunk_len;    /* not compared this time */
		else
			raid_member_io_failed(s, (unsigned)i, blk_reactor_self(), false, ret);
	}
	rb_chunk_put(s);
}

static void rb_read_done(void *arg, int status)
{
	unsigned src;
	struct raid_set *s = set_of_idx(arg, &src);
	struct blk_reactor *r = blk_reactor_self();

	atomic_fetch_sub(&s->m[src].outstanding, 1);
	if (status) {
		raid_member_io_failed(s, src, r, false, status);
		s->rb.phase = RAID_RB_DRAIN;      /* again, from another source */
		return;
	}
	s->rb.phase = RAID_RB_WRITE;
	if (s->rb.kind == RAID_PASS_SCRUB) {
		s->rb.pending = 1;
		s->rb.scrub_t = -1;
		scrub_step(s);
		return;
	}
	s->rb.to_write = atomic_load(&s->rb.targets);
	s->rb.pending = 0;
	rb_write_issue(s, r);
}

/* ------------------------------------------------------------- a pass */

static uint64_t region_end(const struct raid_set *s, uint64_t pos)
{
	return VSL_MIN(((pos >> s->bm.region_shift) + 1) << s->bm.region_shift, s->data_size);
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
		VSL_INFO("raid %s: rebuild done: %" PRIu64 " bytes in %" PRIu64 " ms", s->bdev.name,
			 s->rb.done_bytes, ms);
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
	if (src < 0 || s->failed) {
		go = false;
	} else if (s->rb.resync_pending && raid_active_count(s) >= 2) {
		s->rb.kind = RAID_PASS_RESYNC;
		for (unsigned i = 0; i < s->n; i++)
			if ((int)i != src && raid_member_state(s, i) == RAID_MEMBER_ACTIVE)
				atomic_fetch_or(&s->rb.targets, 1u << i);
		s->rb.pass_total = 0;
		for (uint32_t r = 0; r < s->bm.n_regions; r++)
			if (raid_sb_bit(s->rb.regions, r))
				s->rb.pass_total += region_end(s, (uint64_t)r << s->bm.region_shift) -
						    ((uint64_t)r << s->bm.region_shift);
	} else {
		s->rb.resync_pending = 0;    /* one active member: nothing to compare */
		s->rb.kind = RAID_PASS_REBUILD;
		for (unsigned i = 0; i < s->n; i++)
			if (raid_member_state(s, i) == RAID_MEMBER_REBUILDING)
				atomic_fetch_or(&s->rb.targets, 1u << i);
		s->rb.pass_total = s->data_size;
		if (!atomic_load(&s->rb.targets) && s->rb.scrub_pending && s->rb.buf2 &&
		    raid_active_count(s) >= 2) {
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
		s->rb.pos = 0;
		s->rb.done_bytes = 0;
		s->rb.pass_start_ns = vsl_time_mono_ns();
		s->rb.phase = RAID_RB_NEXT;
	} else {
		s->rb.running = false;
	}
	pthread_mutex_unlock(&s->lock);
	if (go)
		VSL_INFO("raid %s: %s started: %" PRIu64 " bytes from %s", s->bdev.name,
			 kind_name(s->rb.kind), s->rb.pass_total, s->m[src].name);
	return go;
}

static bool rate_allows(struct raid_set *s)
{
	uint64_t rate = s->rb.rate, elapsed_ns;

	if (!rate)
		return true;
	elapsed_ns = vsl_time_mono_ns() - s->rb.pass_start_ns;
	return s->rb.done_bytes <= (uint64_t)((double)rate * (double)elapsed_ns / 1e9);
}

static int rb_next(struct raid_set *s, struct blk_reactor *r)
{
	uint64_t pos = s->rb.pos;

	if (s->rb.kind == RAID_PASS_RESYNC) {
		while (pos < s->data_size && !raid_sb_bit(s->rb.regions, (uint32_t)(pos >> s->bm.region_shift)))
			pos = region_end(s, pos);
	}
	if (pos >= s->data_size || !atomic_load(&s->rb.targets)) {
		pass_end(s, r);
		return 1;
	}
	if (!rate_allows(s)) {
		blk_reactor_wake_in(r, 10000);     /* look again in 10 ms */
		return 0;
	}
	s->rb.pos = pos;
	s->rb.chunk_len = VSL_MIN((uint64_t)RAID_REBUILD_CHUNK, region_end(s, pos) - pos);
	pthread_mutex_lock(&s->lock);
	s->rb.win_start = pos;
	s->rb.win_end = pos + s->rb.chunk_len;
	pthread_mutex_unlock(&s->lock);
	s->rb.phase = RAID_RB_DRAIN;
	return 1;
}

static int rb_drain(struct raid_set *s, struct blk_reactor *r)
{
	bool busy = false;
	int src, ret;

	pthread_mutex_lock(&s->lock);
	for (struct raid_io *w = s->inflight; w && !busy; w = w->fnext)
		busy = w->io->offset < s->rb.win_end && s->rb.win_start < w->io->offset + w->io->len;
	src = first_active(s);
	pthread_mutex_unlock(&s->lock);
	if (busy)
		return 0;
	if (src < 0) {
		window_close(s);
		atomic_store(&s->rb.targets, 0);
		s->rb.phase = RAID_RB_NEXT;
		return 1;
	}
	s->rb.source = (unsigned)src;
	atomic_fetch_and(&s->rb.targets, ~(1u << src));
	if (!raid_member_get(s, (unsigned)src, raid_state_bit(RAID_MEMBER_ACTIVE)))
		return 1;                          /* failed meanwhile: pick again */
	s->rb.iov.iov_base = s->rb.buf;
	s->rb.iov.iov_len = s->rb.chunk_len;
	ret = blk_bdev_readv(s->m[src].bdev, r, &s->rb.iov, 1, s->data_offset + s->rb.pos,
			     s->rb.chunk_len, rb_read_done, &s->rb.idx[src]);
	if (ret) {
		atomic_fetch_sub(&s->m[src].outstanding, 1);
		if (ret != -ENOMEM)
			raid_member_io_failed(s, (unsigned)src, r, false, ret);
		return 0;
	}
	s->rb.phase = RAID_RB_READ;
	return 1;
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
	case RAID_RB_NEXT:
		return rb_next(s, r);
	case RAID_RB_DRAIN:
		return rb_drain(s, r);
	case RAID_RB_WRITE_RETRY:
		s->rb.phase = RAID_RB_WRITE;
		rb_write_issue(s, r);
		return 1;
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
	struct blk_bdev *self_ref;
	bool work = false;

	if (s->level != RAID_LEVEL_1)
		return;
	pthread_mutex_lock(&s->lock);
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
	if (blk_bdev_open(s->bdev.name, NULL, &self_ref)) {
		pthread_mutex_lock(&s->lock);
		s->rb.running = false;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (blk_reactor_self() == s->home) {
		rb_begin(s);
	} else if (blk_reactor_send(s->home, rb_begin, s)) {
		pthread_mutex_lock(&s->lock);
		s->rb.running = false;
		pthread_mutex_unlock(&s->lock);
		blk_bdev_close(self_ref, false);
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
