/* raid_set.c — a RAID set's life: create or assemble from the members'
 * superblocks, member state changes (fail, add, remove), parking of requests,
 * control-thread helpers, status, stop. The levels' data paths are in
 * raid0.c/raid1.c, the metadata writer in raid_meta.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "raid_internal.h"
#include "vsl_config.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(raid);

/* Control thread only. */
static struct raid_set *sets;

/* Control-thread waits for work done on a reactor. */
static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ctl_cond = PTHREAD_COND_INITIALIZER;

static int errf(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int errf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

struct raid_set *raid_set_find(const char *name)
{
	for (struct raid_set *s = sets; s; s = s->next)
		if (!strcmp(s->bdev.name, name))
			return s;
	return NULL;
}

struct raid_set *raid_set_next(const struct raid_set *s)
{
	return s ? s->next : sets;
}

struct blk_bdev *raid_set_bdev(struct raid_set *s)
{
	return &s->bdev;
}

static int member_find(const struct raid_set *s, const char *name)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->m[i].bdev && !strcmp(s->m[i].name, name))
			return (int)i;
	return -1;
}

/* ------------------------------------------------------ control helpers */

void raid_ctl_done(struct raid_set *s, bool *done, int *status, int value)
{
	(void)s;
	pthread_mutex_lock(&ctl_lock);
	*status = value;
	*done = true;
	pthread_cond_broadcast(&ctl_cond);
	pthread_mutex_unlock(&ctl_lock);
}

static bool ctl_is_done(bool *done)
{
	bool d;

	pthread_mutex_lock(&ctl_lock);
	d = *done;
	pthread_mutex_unlock(&ctl_lock);
	return d;
}

int raid_ctl_run(struct raid_set *s, void (*fn)(void *arg), void *arg, bool *done, int *status)
{
	struct blk_reactor *self = blk_reactor_self();
	int ret;

	if (self) {
		/* Tests: this thread drives the reactor. */
		fn(arg);
		while (!ctl_is_done(done))
			blk_reactor_poll(self, 10);
		return *status;
	}
	ret = blk_reactor_send(s->home, fn, arg);
	if (ret)
		return ret;
	pthread_mutex_lock(&ctl_lock);
	while (!*done)
		pthread_cond_wait(&ctl_cond, &ctl_lock);
	pthread_mutex_unlock(&ctl_lock);
	return *status;
}

struct sync_req {
	struct raid_set *s;
	struct blk_bdev *b;
	enum blk_io_type t;
	uint64_t off, len;
	struct iovec iov;
	bool done;
	int status;
};

static void sync_cb(void *arg, int status)
{
	struct sync_req *q = arg;

	raid_ctl_done(q->s, &q->done, &q->status, status);
}

static void sync_submit(void *arg)
{
	struct sync_req *q = arg;
	struct blk_reactor *r = blk_reactor_self();
	int ret = blk_bdev_submit(q->b, r, q->t, 0, q->off, q->len, q->iov.iov_base ? &q->iov : NULL,
				  q->iov.iov_base ? 1 : 0, sync_cb, q);

	if (ret == -ENOMEM && blk_reactor_send(r, sync_submit, q) == 0)
		return;
	if (ret)
		raid_ctl_done(q->s, &q->done, &q->status, ret);
}

int raid_sync_io(struct raid_set *s, struct blk_bdev *b, enum blk_io_type t, uint64_t off,
		 void *buf, uint64_t len)
{
	struct sync_req q = { .s = s, .b = b, .t = t, .off = off, .len = len,
			      .iov = { buf, len } };

	return raid_ctl_run(s, sync_submit, &q, &q.done, &q.status);
}

/* ------------------------------------------------------ parking, kicks */

void raid_chan_park_locked(struct raid_set *s, struct raid_io *rio, enum raid_wait w,
			   uint64_t gen)
{
	struct raid_chan *c = &s->chan[blk_reactor_id(rio->io->reactor)];

	rio->wait = w;
	rio->wait_gen = gen;
	rio->wnext = NULL;
	if (c->tail)
		c->tail->wnext = rio;
	else
		c->head = rio;
	c->tail = rio;
}

static bool wait_over_locked(struct raid_set *s, struct raid_io *rio)
{
	switch (rio->wait) {
	case RAID_WAIT_META:
		return s->meta.disk_gen >= rio->wait_gen || s->failed;
	case RAID_WAIT_WINDOW:
		return !raid_rebuild_window_overlaps_locked(s, rio->io->offset, rio->io->len);
	default:
		return true;
	}
}

static void chan_run(void *arg)
{
	struct raid_set *s = arg;
	struct blk_reactor *r = blk_reactor_self();
	struct raid_chan *c = &s->chan[blk_reactor_id(r)];
	struct raid_io *ready = NULL, **tail = &ready, *keep = NULL, *keep_tail = NULL;

	atomic_store(&c->kicked, false);
	pthread_mutex_lock(&s->lock);
	for (struct raid_io *rio = c->head, *next; rio; rio = next) {
		next = rio->wnext;
		rio->wnext = NULL;
		if (wait_over_locked(s, rio)) {
			rio->wait = RAID_WAIT_NONE;
			*tail = rio;
			tail = &rio->wnext;
		} else {
			if (keep_tail)
				keep_tail->wnext = rio;
			else
				keep = rio;
			keep_tail = rio;
		}
	}
	c->head = keep;
	c->tail = keep_tail;
	pthread_mutex_unlock(&s->lock);
	for (struct raid_io *rio = ready, *next; rio; rio = next) {
		next = rio->wnext;
		rio->wnext = NULL;
		rio->resume(rio);
	}
}

void raid_chans_kick(struct raid_set *s)
{
	struct blk_reactor *todo[BLK_MAX_REACTORS];
	unsigned ids[BLK_MAX_REACTORS], n = 0;

	pthread_mutex_lock(&s->lock);
	for (unsigned id = 0; id < BLK_MAX_REACTORS; id++) {
		if (s->chan[id].head) {
			todo[n] = s->chan[id].head->io->reactor;
			ids[n++] = id;
		}
	}
	pthread_mutex_unlock(&s->lock);
	for (unsigned k = 0; k < n; k++) {
		struct raid_chan *c = &s->chan[ids[k]];

		if (atomic_exchange(&c->kicked, true))
			continue;
		/* A message allocates: this runs once per metadata update or rebuild
		 * chunk with requests parked, not per request. */
		if (blk_reactor_send(todo[k], chan_run, s))
			atomic_store(&c->kicked, false);
	}
}

/* --------------------------------------------------------- member state */

uint64_t raid_set_member_state_locked(struct raid_set *s, unsigned i, int state, const char *why)
{
	int old = raid_member_state(s, i);

	atomic_store(&s->m[i].state, state);
	if (state == RAID_MEMBER_FAILED || state == RAID_MEMBER_EMPTY)
		atomic_fetch_and(&s->rb.targets, ~(1u << i));   /* never promoted by this pass */
	if (state != RAID_MEMBER_REBUILDING) {
		s->rb.ckpt_mask &= ~(1u << i);
		if (!s->rb.ckpt_mask)
			s->rb.ckpt_pos = 0;
	}
	s->events++;
	s->meta.gen++;
	if (state == RAID_MEMBER_FAILED)
		atomic_fetch_add(&s->failures, 1);
	if (s->level == RAID_LEVEL_1 && !raid_active_count(s) && !s->failed) {
		s->failed = true;
		VSL_ERR("raid %s: no active member left: the set fails all I/O", s->bdev.name);
	}
	VSL_WARN("raid %s: member %s (slot %u) %s -> %s (%s), events %" PRIu64 ", %u of %u active%s",
		 s->bdev.name, s->m[i].name[0] ? s->m[i].name : "-", i, raid_member_state_name((unsigned)old),
		 raid_member_state_name((unsigned)state), why, s->events, raid_active_count(s), s->width,
		 raid_active_count(s) < s->width ? ", degraded" : "");
	if (state == RAID_MEMBER_FAILED || state == RAID_MEMBER_EMPTY)
		raid_promote_spares_locked(s);
	return s->meta.gen;
}

static void promote_start(void *arg)
{
	raid_rebuild_start(arg);
}

unsigned raid_promote_spares_locked(struct raid_set *s)
{
	unsigned n = 0, have = 0;

	if (s->level != RAID_LEVEL_1 || s->failed)
		return 0;
	for (unsigned i = 0; i < s->n; i++) {
		int st = raid_member_state(s, i);

		have += st == RAID_MEMBER_ACTIVE || st == RAID_MEMBER_REBUILDING;
	}
	for (unsigned i = 0; i < s->n && have < s->width; i++) {
		if (!s->m[i].bdev || raid_member_state(s, i) != RAID_MEMBER_SPARE)
			continue;
		raid_set_member_state_locked(s, i, RAID_MEMBER_REBUILDING,
					     "spare promoted: the set is degraded");
		have++;
		n++;
	}
	/* The control thread starts the pass (a running one takes it next). */
	if (n && !s->rb.running && !s->promote_pending && s->registered) {
		s->promote_pending = true;
		if (blk_ctl_send(promote_start, s))
			s->promote_pending = false;     /* no control thread: the caller starts it */
	}
	return n;
}

bool raid_member_get(struct raid_set *s, unsigned i, unsigned state_mask)
{
	bool ok;

	pthread_mutex_lock(&s->lock);
	ok = s->m[i].bdev && (raid_state_bit(raid_member_state(s, i)) & state_mask);
	if (ok)
		atomic_fetch_add(&s->m[i].outstanding, 1);
	pthread_mutex_unlock(&s->lock);
	return ok;
}

uint64_t raid_member_io_failed(struct raid_set *s, unsigned i, struct blk_reactor *r, bool write,
			       int status)
{
	uint64_t gen;
	int st;

	atomic_fetch_add(write ? &s->m[i].write_errors : &s->m[i].read_errors, 1);
	pthread_mutex_lock(&s->lock);
	st = raid_member_state(s, i);
	/* The last active member stays: its requests fail with the error (as md
	 * does), but the set keeps serving what it can; failing it would turn one
	 * bad sector into a dead set. */
	if (st == RAID_MEMBER_ACTIVE && raid_active_count(s) == 1) {
		VSL_ERR("raid %s: %s error on %s, the last active member: %s", s->bdev.name,
			write ? "write" : "read", s->m[i].name, strerror(-status));
		gen = s->meta.gen;
	} else if (st == RAID_MEMBER_ACTIVE || st == RAID_MEMBER_REBUILDING) {
		char why[64];

		snprintf(why, sizeof(why), "%s error: %s", write ? "write" : "read",
			 strerror(-status));
		gen = raid_set_member_state_locked(s, i, RAID_MEMBER_FAILED, why);
	} else {
		gen = s->meta.gen;
	}
	pthread_mutex_unlock(&s->lock);
	raid_meta_kick(s, r);
	return gen;
}

/* ---------------------------------------------------------------- status */

static const char *set_state(struct raid_set *s)
{
	unsigned active = raid_active_count(s);

	if (s->failed || (s->level == RAID_LEVEL_0 && active < s->n))
		return "failed";
	if (raid_set_rebuilding(s))
		return s->rb.resync_pending ? "resyncing"
		       : s->rb.kind == RAID_PASS_SCRUB ? "scrubbing" : "rebuilding";
	return active < s->width ? "degraded" : "online";
}

void raid_set_status(struct raid_set *s, struct json_object *o)
{
	struct json_object *arr = json_object_new_array(), *bm, *ctr;
	char uuid[40];
	const uint8_t *u = s->uuid;

	snprintf(uuid, sizeof(uuid),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
		 u[15]);
	json_object_object_add(o, "raid_level", json_object_new_int((int)s->level));
	json_object_object_add(o, "raid_state", json_object_new_string(set_state(s)));
	json_object_object_add(o, "set_uuid", json_object_new_string(uuid));
	json_object_object_add(o, "strip_size", json_object_new_int64(s->strip_size));
	json_object_object_add(o, "width", json_object_new_int((int)s->width));
	json_object_object_add(o, "data_offset", json_object_new_int64((int64_t)s->data_offset));
	json_object_object_add(o, "member_data_size", json_object_new_int64((int64_t)s->data_size));
	pthread_mutex_lock(&s->lock);
	json_object_object_add(o, "events", json_object_new_int64((int64_t)s->events));
	json_object_object_add(o, "metadata_writes", json_object_new_int64((int64_t)s->meta.writes));
	for (unsigned i = 0; i < s->n; i++) {
		struct json_object *m = json_object_new_object();
		struct raid_member *mb = &s->m[i];

		json_object_object_add(m, "slot", json_object_new_int((int)i));
		json_object_object_add(m, "name", mb->bdev ? json_object_new_string(mb->name) : NULL);
		json_object_object_add(m, "state",
				       json_object_new_string(raid_member_state_name(
					       (unsigned)raid_member_state(s, i))));
		json_object_object_add(m, "read_errors",
				       json_object_new_int64((int64_t)atomic_load(&mb->read_errors)));
		json_object_object_add(m, "write_errors",
				       json_object_new_int64((int64_t)atomic_load(&mb->write_errors)));
		json_object_object_add(m, "outstanding",
				       json_object_new_int((int)atomic_load(&mb->outstanding)));
		json_object_array_add(arr, m);
	}
	json_object_object_add(o, "members", arr);
	if (s->level == RAID_LEVEL_1) {
		bm = json_object_new_object();
		json_object_object_add(bm, "region_size", json_object_new_int64((int64_t)s->bm.region_size));
		json_object_object_add(bm, "regions", json_object_new_int((int)s->bm.n_regions));
		json_object_object_add(bm, "dirty",
				       json_object_new_int((int)raid_bitmap_dirty_count_locked(s)));
		json_object_object_add(bm, "bits_set", json_object_new_int64((int64_t)s->bm.sets));
		json_object_object_add(bm, "bits_cleared", json_object_new_int64((int64_t)s->bm.clears));
		json_object_object_add(o, "bitmap", bm);
	}
	pthread_mutex_unlock(&s->lock);
	ctr = json_object_new_object();
	json_object_object_add(ctr, "member_failures",
			       json_object_new_int64((int64_t)atomic_load(&s->failures)));
	json_object_object_add(ctr, "degraded_writes",
			       json_object_new_int64((int64_t)atomic_load(&s->degraded_writes)));
	json_object_object_add(ctr, "read_retries",
			       json_object_new_int64((int64_t)atomic_load(&s->read_retries)));
	json_object_object_add(o, "raid_counters", ctr);
	if (s->level == RAID_LEVEL_1)
		raid_rebuild_status(s, o);
	if (s->ignored)
		json_object_object_add(o, "ignored_members", json_object_get(s->ignored));
}

/* ------------------------------------------------------------ bdev glue */

static void set_free(struct raid_set *s)
{
	raid_rebuild_fini(s);
	raid_bitmap_fini(s);
	raid_meta_fini(s);
	json_object_put(s->ignored);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void set_unlink(struct raid_set *s)
{
	for (struct raid_set **pp = &sets; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			return;
		}
	}
}

void raid_set_destroy_bdev(struct blk_bdev *b)
{
	struct raid_set *s = raid_set_of(b);
	struct blk_bdev *bdevs[RAID_MAX_MEMBERS];

	VSL_INFO("raid %s stopped", b->name);
	set_unlink(s);
	for (unsigned i = 0; i < s->n; i++)
		bdevs[i] = s->m[i].bdev;
	blk_bdev_close_claimed(bdevs, s->n);
	blk_bdev_fini(b);
	set_free(s);
}

void raid_set_dump_info(const struct blk_bdev *b, struct json_object *info)
{
	raid_set_status(raid_set_of(b), info);
}

int raid_set_save_config(const struct blk_bdev *b, struct json_object *calls)
{
	struct raid_set *s = raid_set_of(b);
	struct json_object *p = json_object_new_object(), *m = json_object_new_array();

	json_object_object_add(p, "name", json_object_new_string(b->name));
	json_object_object_add(p, "level", json_object_new_int((int)s->level));
	if (s->level == RAID_LEVEL_0)
		json_object_object_add(p, "strip_size", json_object_new_int64(s->strip_size));
	else
		json_object_object_add(p, "region_size", json_object_new_int64((int64_t)s->bm.region_size));
	if (s->rb.rate)
		json_object_object_add(p, "rebuild_rate", json_object_new_int64((int64_t)s->rb.rate));
	for (unsigned i = 0; i < s->n; i++)
		if (s->m[i].bdev)
			json_object_array_add(m, json_object_new_string(s->m[i].name));
	json_object_object_add(p, "members", m);
	return vsl_config_add_call(calls, "raid-create", p);
}

/* Adds a registered set to the list (creation order). */
void raid_set_link(struct raid_set *s)
{
	struct raid_set **pp = &sets;

	while (*pp)
		pp = &(*pp)->next;
	s->next = NULL;
	*pp = s;
}

/* ------------------------------------------------------ control actions */

bool raid_set_rebuilding(struct raid_set *s)
{
	bool r;

	pthread_mutex_lock(&s->lock);
	r = s->rb.running || s->promote_pending;
	pthread_mutex_unlock(&s->lock);
	return r;
}

int raid_set_stop(struct raid_set *s)
{
	if (raid_set_rebuilding(s) || s->bdev.refs || raid_meta_busy(s))
		return -EBUSY;
	return blk_bdev_delete(s->bdev.name);
}

bool raid_set_busy_bdev(const struct blk_bdev *b)
{
	struct raid_set *s = raid_set_of(b);

	return raid_set_rebuilding(s) || raid_meta_busy(s);
}

int raid_member_fail(struct raid_set *s, const char *member)
{
	int i = member_find(s, member), st, ret;

	if (i < 0)
		return -ENOENT;
	if (s->level != RAID_LEVEL_1)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	st = raid_member_state(s, (unsigned)i);
	if (st == RAID_MEMBER_FAILED || st == RAID_MEMBER_EMPTY) {
		pthread_mutex_unlock(&s->lock);
		return -EINVAL;
	}
	if (st == RAID_MEMBER_ACTIVE && raid_active_count(s) == 1) {
		pthread_mutex_unlock(&s->lock);
		return -EBUSY;
	}
	raid_set_member_state_locked(s, (unsigned)i, RAID_MEMBER_FAILED, "raid-fail");
	pthread_mutex_unlock(&s->lock);
	ret = raid_meta_sync(s);
	raid_rebuild_start(s);          /* a spare promoted in its place */
	return ret;
}

int raid_member_remove(struct raid_set *s, const char *member, char *err, size_t errlen)
{
	int i = member_find(s, member), st;
	struct blk_bdev *b;

	if (i < 0)
		return errf(err, errlen, -ENOENT, "%s is not a member of %s", member, s->bdev.name);
	pthread_mutex_lock(&s->lock);
	st = raid_member_state(s, (unsigned)i);
	if (st == RAID_MEMBER_ACTIVE || st == RAID_MEMBER_REBUILDING) {
		pthread_mutex_unlock(&s->lock);
		return errf(err, errlen, -EBUSY, "member %s is %s: fail it first", member,
			    raid_member_state_name((unsigned)st));
	}
	if (atomic_load(&s->m[i].outstanding)) {
		pthread_mutex_unlock(&s->lock);
		return errf(err, errlen, -EBUSY, "member %s still has I/O in flight", member);
	}
	raid_set_member_state_locked(s, (unsigned)i, RAID_MEMBER_EMPTY, "raid-remove");
	b = s->m[i].bdev;
	s->m[i].bdev = NULL;
	s->m[i].name[0] = '\0';
	pthread_mutex_unlock(&s->lock);
	blk_bdev_close(b, true);
	return raid_meta_sync(s);
}

int raid_member_add(struct raid_set *s, const char *member, bool spare, char *err,
		    size_t errlen)
{
	struct raid_probe p = { 0 };
	struct blk_bdev *b;
	unsigned k;
	int ret;

	if (s->level != RAID_LEVEL_1)
		return errf(err, errlen, -EINVAL, "members are added to RAID1 sets only");
	for (k = 0; k < s->n && s->m[k].bdev; k++)
		;
	if (k == s->n && (!spare || s->n == RAID_MAX_MEMBERS))
		return errf(err, errlen, -ENOSPC, "set %s has no empty slot: remove a member first",
			    s->bdev.name);
	ret = blk_bdev_open(member, s->bdev.name, &b);
	if (ret)
		return errf(err, errlen, ret, ret == -ENOENT ? "no bdev '%s'" : "bdev '%s' is claimed",
			    member);
	p.bdev = b;
	if (b->block_size != s->bdev.block_size || blk_bdev_size(b) < s->data_offset + s->data_size) {
		ret = errf(err, errlen, -EINVAL, "%s is smaller than the set's data area or has "
			   "another block size", member);
		goto err_close;
	}
	ret = raid_probe_members(s, &p, 1, err, errlen);
	if (ret)
		goto err_close;
	if (p.ret == 0 && memcmp(p.sb.set_uuid, s->uuid, 16)) {
		ret = errf(err, errlen, -EINVAL, "%s belongs to another set ('%s'); nothing written",
			   member, p.sb.name);
		goto err_close;
	}
	if (p.ret == 0)
		VSL_INFO("raid %s: %s was a member (events %" PRIu64 ", set %" PRIu64 "): %s",
			 s->bdev.name, member, p.sb.events, s->events,
			 spare ? "a spare now, not read" : "rebuilding, not read");
	pthread_mutex_lock(&s->lock);
	s->m[k].bdev = b;
	snprintf(s->m[k].name, sizeof(s->m[k].name), "%s", member);
	atomic_store(&s->m[k].read_errors, 0);
	atomic_store(&s->m[k].write_errors, 0);
	atomic_store(&s->m[k].outstanding, 0);
	if (k == s->n) {
		/* A new slot: everything about it is set before the data path can
		 * see it through n (spares take no I/O but the metadata writes). */
		atomic_store(&s->m[k].state, RAID_MEMBER_EMPTY);
		atomic_store(&s->n, k + 1);
	}
	if (spare) {
		raid_set_member_state_locked(s, k, RAID_MEMBER_SPARE, "raid-add --spare");
		raid_promote_spares_locked(s);
	} else {
		raid_set_member_state_locked(s, k, RAID_MEMBER_REBUILDING, "raid-add");
	}
	pthread_mutex_unlock(&s->lock);
	ret = raid_meta_sync(s);
	if (ret)
		return errf(err, errlen, ret, "cannot write the superblocks");
	raid_rebuild_start(s);
	return 0;

err_close:
	blk_bdev_close(b, true);
	return ret;
}

void raid_set_rebuild_rate(struct raid_set *s, uint64_t bytes_per_s)
{
	pthread_mutex_lock(&s->lock);
	s->rb.rate = bytes_per_s;
	pthread_mutex_unlock(&s->lock);
}

int raid_set_tick(struct raid_set *s)
{
	unsigned cleared;

	if (s->level != RAID_LEVEL_1)
		return 0;
	pthread_mutex_lock(&s->lock);
	cleared = raid_bitmap_clean_locked(s);
	if (cleared)
		s->meta.gen++;
	pthread_mutex_unlock(&s->lock);
	return cleared ? raid_meta_sync(s) : 0;
}
