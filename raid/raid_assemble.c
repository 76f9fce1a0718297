/* raid_assemble.c — creating a set, or assembling it from its members'
 * superblocks. Everything is checked before anything is written: a refusal
 * leaves every member as it was.
 *
 *   1. options (name, level, member count, strip size)
 *   2. open the members with the set's claim (all or nothing)
 *   3. read both superblock copies of each: valid, blank or corrupt
 *   4. no valid superblock: a new set (refused when any is corrupt); else
 *      assemble: the freshest superblock (events, then seq) is the reference;
 *      members of another set refuse; older events = stale = rebuilt; corrupt
 *      ones are ignored (RAID1) or refuse (RAID0); blank ones fill free slots
 *   5. geometry, bdev, bitmap, rebuild state; superblocks written when new or
 *      changed; register; start the resync or rebuild
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "raid_internal.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(raid);

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

int raid_probe_members(struct raid_set *s, struct raid_probe *p, unsigned n, char *err,
			 size_t errlen)
{
	unsigned char *buf = aligned_alloc(4096, RAID_SB_COPIES * RAID_SB_SIZE);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		if (blk_bdev_size(p[i].bdev) < RAID_DATA_OFFSET + 4096) {
			ret = errf(err, errlen, -EINVAL, "member %s is too small (%" PRIu64 " bytes)",
				   p[i].bdev->name, blk_bdev_size(p[i].bdev));
			break;
		}
		ret = raid_sync_io(s, p[i].bdev, BLK_IO_READ, 0, buf, RAID_SB_COPIES * RAID_SB_SIZE);
		if (ret) {
			ret = errf(err, errlen, -EIO, "cannot read the superblock of %s: %s",
				   p[i].bdev->name, strerror(-ret));
			break;
		}
		p[i].ret = raid_sb_read_copies(buf, RAID_SB_COPIES * RAID_SB_SIZE, &p[i].sb, p[i].err,
					       sizeof(p[i].err));
	}
	free(buf);
	return ret;
}

static uint64_t round_down(uint64_t v, uint64_t a)
{
	return v / a * a;
}

static int geometry_new(struct raid_set *s, const struct raid_create_opts *o,
			struct raid_probe *p, unsigned n, uint64_t *region, char *err,
			size_t errlen)
{
	uint64_t size = blk_bdev_size(p[0].bdev), unit;

	for (unsigned i = 1; i < n; i++)
		if (blk_bdev_size(p[i].bdev) != size)
			return errf(err, errlen, -EINVAL,
				    "members differ in size: %s has %" PRIu64 " bytes, %s %" PRIu64,
				    p[0].bdev->name, size, p[i].bdev->name, blk_bdev_size(p[i].bdev));
	s->data_offset = RAID_DATA_OFFSET;
	unit = s->level == RAID_LEVEL_0 ? s->strip_size : VSL_MAX(s->bdev.block_size, 4096u);
	s->data_size = round_down(size - RAID_DATA_OFFSET, unit);
	if (s->data_size == 0)
		return errf(err, errlen, -EINVAL, "members are too small for one strip");
	*region = o->region_size ? o->region_size : RAID_REGION_DEFAULT;
	if (*region < RAID_REGION_MIN || (*region & (*region - 1)))
		return errf(err, errlen, -EINVAL, "region_size must be a power of two >= 1M");
	while ((s->data_size + *region - 1) / *region > RAID_BITMAP_BITS)
		*region <<= 1;
	return 0;
}

static int check_opts(const struct raid_create_opts *o, char *err, size_t errlen)
{
	if (!blk_bdev_name_valid(o->name))
		return errf(err, errlen, -EINVAL, "bad set name '%s'", o->name ? o->name : "");
	if (blk_bdev_find(o->name))
		return errf(err, errlen, -EEXIST, "bdev '%s' exists", o->name);
	if (o->level != RAID_LEVEL_0 && o->level != RAID_LEVEL_1)
		return errf(err, errlen, -EINVAL, "level must be 0 or 1");
	if (o->n_members < 2 || o->n_members > RAID_MAX_MEMBERS)
		return errf(err, errlen, -EINVAL, "a set needs 2 to %d members", RAID_MAX_MEMBERS);
	if (o->level == RAID_LEVEL_1 && o->strip_size)
		return errf(err, errlen, -EINVAL, "strip_size applies to RAID0 only");
	if (o->level == RAID_LEVEL_0 && o->strip_size &&
	    (o->strip_size < RAID_STRIP_MIN || o->strip_size > RAID_STRIP_MAX ||
	     (o->strip_size & (o->strip_size - 1))))
		return errf(err, errlen, -EINVAL,
			    "strip_size must be a power of two from 4K to 16M (got %u)", o->strip_size);
	return 0;
}

/* Assembles from existing superblocks: picks the freshest as the reference,
 * refuses members of other sets, places members in their slots. */
static int assemble(struct raid_set *s, const struct raid_create_opts *o, struct raid_probe *p,
		    unsigned n, struct raid_sb *ref_out, uint8_t *bitmap, bool *changed, char *err,
		    size_t errlen)
{
	const struct raid_sb *ref = NULL;
	unsigned blanks = 0, ref_i = 0;

	for (unsigned i = 0; i < n; i++) {
		if (p[i].ret)
			continue;
		if (!ref || p[i].sb.events > ref->events ||
		    (p[i].sb.events == ref->events && p[i].sb.seq > ref->seq)) {
			ref = &p[i].sb;
			ref_i = i;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (p[i].ret)
			continue;
		if (memcmp(p[i].sb.set_uuid, ref->set_uuid, 16) || strcmp(p[i].sb.name, ref->name))
			return errf(err, errlen, -EINVAL,
				    "members disagree on the set: %s belongs to set '%s', %s to "
				    "another set '%s'; nothing written", p[ref_i].bdev->name,
				    ref->name, p[i].bdev->name, p[i].sb.name);
	}
	if (strcmp(ref->name, o->name))
		return errf(err, errlen, -EINVAL, "members belong to set '%s', not '%s'", ref->name,
			    o->name);
	if (ref->level != o->level)
		return errf(err, errlen, -EINVAL, "set '%s' is RAID%u, not RAID%u", ref->name,
			    ref->level, o->level);
	if (o->level == RAID_LEVEL_0 && o->strip_size && o->strip_size != ref->strip_size)
		return errf(err, errlen, -EINVAL, "set '%s' has strip size %u, not %u", ref->name,
			    ref->strip_size, o->strip_size);
	if (ref->block_size != s->bdev.block_size)
		return errf(err, errlen, -EINVAL, "set '%s' has block size %u, members %u", ref->name,
			    ref->block_size, s->bdev.block_size);
	s->n = ref->n_members;
	s->width = ref->width;
	s->strip_size = ref->strip_size;
	s->data_offset = ref->data_offset;
	s->data_size = ref->data_size;
	s->events = ref->events;
	memcpy(s->uuid, ref->set_uuid, 16);
	for (unsigned k = 0; k < s->n; k++)
		atomic_store(&s->m[k].state, ref->state[k]);
	/* Members in their slots; stale ones get rebuilt. */
	for (unsigned i = 0; i < n; i++) {
		unsigned slot;

		if (p[i].ret == -ENODATA) {
			blanks++;
			continue;
		}
		if (p[i].ret) {
			if (o->level == RAID_LEVEL_0)
				return errf(err, errlen, -EBADMSG, "member %s: %s", p[i].bdev->name,
					    p[i].err);
			continue;
		}
		slot = p[i].sb.slot;
		if (slot >= s->n || s->m[slot].bdev)
			return errf(err, errlen, -EINVAL, "member %s claims slot %u, which is %s",
				    p[i].bdev->name, slot, slot >= s->n ? "out of range" : "taken");
		if (blk_bdev_size(p[i].bdev) < s->data_offset + s->data_size)
			return errf(err, errlen, -EINVAL, "member %s is smaller than the set's data area",
				    p[i].bdev->name);
		s->m[slot].bdev = p[i].bdev;
		snprintf(s->m[slot].name, sizeof(s->m[slot].name), "%s", p[i].bdev->name);
		s->m[slot].events = p[i].sb.events;
		if (p[i].sb.events < ref->events && ref->state[slot] != RAID_MEMBER_EMPTY) {
			if (o->level == RAID_LEVEL_0)
				return errf(err, errlen, -EINVAL, "member %s is stale (events %" PRIu64
					    " < %" PRIu64 ")", p[i].bdev->name, p[i].sb.events, ref->events);
			VSL_WARN("raid %s: member %s is stale (events %" PRIu64 " < %" PRIu64
				 "): it will be rebuilt, not read", o->name, p[i].bdev->name,
				 p[i].sb.events, ref->events);
			atomic_store(&s->m[slot].state, RAID_MEMBER_REBUILDING);
			*changed = true;
		} else if (p[i].sb.events == ref->events && (ref->rebuild_mask & (1u << slot))) {
			/* Rebuilt up to the checkpoint before the set stopped. */
			for (unsigned b = 0; b < RAID_BITMAP_BYTES; b++)
				bitmap[b] |= p[i].sb.bitmap[b];
			s->rb.ckpt_mask |= 1u << slot;
			s->rb.ckpt_pos = ref->rebuild_pos;
		} else if (ref->state[slot] == RAID_MEMBER_EMPTY) {
			/* Removed from the set after this superblock was written. */
			VSL_WARN("raid %s: member %s was removed from the set: rebuilding it",
				 o->name, p[i].bdev->name);
			atomic_store(&s->m[slot].state, RAID_MEMBER_REBUILDING);
			*changed = true;
		} else if (p[i].sb.events == ref->events) {
			for (unsigned b = 0; b < RAID_BITMAP_BYTES; b++)
				bitmap[b] |= p[i].sb.bitmap[b];
		}
	}
	for (unsigned k = 0; k < s->n; k++) {
		int st = raid_member_state(s, k);

		if (!s->m[k].bdev && st != RAID_MEMBER_EMPTY && st != RAID_MEMBER_FAILED) {
			if (o->level == RAID_LEVEL_0)
				return errf(err, errlen, -ENODEV,
					    "RAID0 set '%s': the member of slot %u is missing; "
					    "refusing to start", o->name, k);
			VSL_WARN("raid %s: the member of slot %u is missing", o->name, k);
			atomic_store(&s->m[k].state, RAID_MEMBER_FAILED);
			*changed = true;
		}
	}
	/* Blank members fill empty (or failed, memberless) slots as replacements. */
	for (unsigned i = 0; i < n && blanks; i++) {
		unsigned k;

		if (p[i].ret != -ENODATA)
			continue;
		if (o->level == RAID_LEVEL_0)
			return errf(err, errlen, -EINVAL, "member %s has no superblock of set '%s'",
				    p[i].bdev->name, o->name);
		for (k = 0; k < s->n && s->m[k].bdev; k++)
			;
		if (k == s->n)
			return errf(err, errlen, -ENOSPC, "no free slot for member %s", p[i].bdev->name);
		if (blk_bdev_size(p[i].bdev) < s->data_offset + s->data_size)
			return errf(err, errlen, -EINVAL, "member %s is smaller than the set's data area",
				    p[i].bdev->name);
		s->m[k].bdev = p[i].bdev;
		snprintf(s->m[k].name, sizeof(s->m[k].name), "%s", p[i].bdev->name);
		atomic_store(&s->m[k].state, RAID_MEMBER_REBUILDING);
		*changed = true;
	}
	if (o->level == RAID_LEVEL_1 && !raid_active_count(s))
		return errf(err, errlen, -ENODEV, "set '%s' has no active member", o->name);
	/* A failed or missing member with a spare waiting: the spare takes over. */
	for (unsigned k = 0, have = 0; k <= s->n && o->level == RAID_LEVEL_1; k++) {
		if (k == s->n) {
			for (unsigned j = 0; j < s->n && have < s->width; j++) {
				if (!s->m[j].bdev || raid_member_state(s, j) != RAID_MEMBER_SPARE)
					continue;
				VSL_WARN("raid %s: spare %s replaces a missing or failed member",
					 o->name, s->m[j].name);
				atomic_store(&s->m[j].state, RAID_MEMBER_REBUILDING);
				have++;
				*changed = true;
			}
			break;
		}
		have += raid_member_state(s, k) == RAID_MEMBER_ACTIVE ||
			raid_member_state(s, k) == RAID_MEMBER_REBUILDING;
	}
	*ref_out = *ref;
	return 0;
}

int raid_set_create(const struct raid_create_opts *o, struct raid_set **out, char *err,
		    size_t errlen)
{
	struct blk_bdev *bdevs[RAID_MAX_MEMBERS] = { 0 };
	struct raid_probe *p = NULL;
	struct raid_set *s;
	struct raid_sb ref = { 0 };
	uint8_t bitmap[RAID_BITMAP_BYTES] = { 0 };
	uint64_t region = RAID_REGION_DEFAULT;
	bool fresh, changed = false;
	unsigned bad = 0, valid = 0, corrupt = 0;
	int ret;

	ret = check_opts(o, err, errlen);
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	p = calloc(o->n_members, sizeof(*p));
	if (!s || !p) {
		ret = -ENOMEM;
		goto err_free;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->level = o->level;
	s->lops = o->level == RAID_LEVEL_0 ? &raid0_ops : &raid1_ops;
	s->home = o->home ? o->home : blk_reactor_get(0);
	if (!s->home) {
		ret = errf(err, errlen, -ENXIO, "no reactor to run the set on");
		goto err_free;
	}
	ret = blk_bdev_open_claimed(o->members, o->n_members, o->name, bdevs, &bad);
	if (ret) {
		struct blk_bdev *b = blk_bdev_find(o->members[bad]);
		const char *by = b && blk_bdev_claimed_by(b) ? blk_bdev_claimed_by(b) : "?";

		if (ret == -EINVAL)
			errf(err, errlen, ret, "member '%s' is listed twice", o->members[bad]);
		else if (ret == -ENOENT)
			errf(err, errlen, ret, "no bdev '%s'", o->members[bad]);
		else
			errf(err, errlen, ret, "member '%s' is claimed by %s", o->members[bad], by);
		goto err_free;
	}
	s->bdev.block_size = bdevs[0]->block_size;
	for (unsigned i = 0; i < o->n_members; i++) {
		p[i].bdev = bdevs[i];
		if (bdevs[i]->block_size != s->bdev.block_size) {
			ret = errf(err, errlen, -EINVAL, "members differ in block size (%s: %u, %s: %u)",
				   bdevs[0]->name, bdevs[0]->block_size, bdevs[i]->name,
				   bdevs[i]->block_size);
			goto err_close;
		}
	}
	ret = raid_meta_init(s);
	if (ret)
		goto err_close;
	ret = raid_probe_members(s, p, o->n_members, err, errlen);
	if (ret)
		goto err_meta;
	for (unsigned i = 0; i < o->n_members; i++) {
		valid += p[i].ret == 0;
		corrupt += p[i].ret && p[i].ret != -ENODATA;
	}
	fresh = valid == 0;
	if (fresh && corrupt) {
		for (unsigned i = 0; i < o->n_members; i++)
			if (p[i].ret && p[i].ret != -ENODATA) {
				ret = errf(err, errlen, p[i].ret == -EPROTONOSUPPORT ? -EPROTONOSUPPORT
						    : -EBADMSG, "member %s: %s; nothing written",
					   p[i].bdev->name, p[i].err);
				break;
			}
		goto err_meta;
	}
	if (fresh) {
		s->n = o->n_members;
		s->strip_size = o->level == RAID_LEVEL_0
					? (o->strip_size ? o->strip_size : RAID_STRIP_DEFAULT) : 0;
		if (s->strip_size && s->strip_size < s->bdev.block_size) {
			ret = errf(err, errlen, -EINVAL, "strip size below the block size");
			goto err_meta;
		}
		ret = geometry_new(s, o, p, o->n_members, &region, err, errlen);
		if (ret)
			goto err_meta;
		if (getrandom(s->uuid, sizeof(s->uuid), 0) != sizeof(s->uuid)) {
			ret = -EIO;
			goto err_meta;
		}
		for (unsigned i = 0; i < s->n; i++) {
			s->m[i].bdev = bdevs[i];
			snprintf(s->m[i].name, sizeof(s->m[i].name), "%s", bdevs[i]->name);
			atomic_store(&s->m[i].state, RAID_MEMBER_ACTIVE);
		}
		s->events = 1;
		s->width = s->n;
		if (o->level == RAID_LEVEL_1 && !o->assume_clean)
			memset(bitmap, 0xff, sizeof(bitmap));   /* initial resync; trimmed below */
	} else {
		ret = assemble(s, o, p, o->n_members, &ref, bitmap, &changed, err, errlen);
		if (ret)
			goto err_meta;
		region = ref.region_size;
		for (unsigned i = 0; i < o->n_members; i++) {
			if (!p[i].ret || p[i].ret == -ENODATA)
				continue;
			VSL_WARN("raid %s: ignoring member %s: %s", o->name, p[i].bdev->name, p[i].err);
			if (!s->ignored)
				s->ignored = json_object_new_array();
			struct json_object *ig = json_object_new_object();

			json_object_object_add(ig, "name", json_object_new_string(p[i].bdev->name));
			json_object_object_add(ig, "reason", json_object_new_string(p[i].err));
			json_object_array_add(s->ignored, ig);
			blk_bdev_close(p[i].bdev, true);
			bdevs[i] = NULL;
		}
		s->meta.seq = 0;
		for (unsigned i = 0; i < o->n_members; i++)
			if (!p[i].ret && p[i].sb.seq > s->meta.seq)
				s->meta.seq = p[i].sb.seq;
	}
	s->strip_shift = s->strip_size ? (uint32_t)__builtin_ctz(s->strip_size) : 0;
	ret = blk_bdev_init(&s->bdev, o->name, s->lops->bdev_ops, s->bdev.block_size,
			    s->lops->capacity(s) / s->bdev.block_size);
	if (ret) {
		errf(err, errlen, ret, "bad geometry");
		goto err_meta;
	}
	s->bdev.priv = s;
	s->bdev.caps = BLK_CAP_FLUSH | BLK_CAP_DISCARD | BLK_CAP_WRITE_ZEROES;
	for (unsigned i = 0; i < s->n; i++)
		if (s->m[i].bdev)
			s->bdev.caps &= s->m[i].bdev->caps | BLK_CAP_FLUSH;
	if (s->level == RAID_LEVEL_1 && raid_active_count(s) < 2 && fresh)
		memset(bitmap, 0, sizeof(bitmap));
	ret = raid_bitmap_init(s, region, bitmap);
	if (ret)
		goto err_fini;
	/* A resumed rebuild copies again the regions dirty at the crash. */
	memcpy(s->rb.resume_dirty, s->bm.bits, sizeof(s->rb.resume_dirty));
	if (s->rb.ckpt_mask)
		VSL_INFO("raid %s: rebuild checkpoint at %" PRIu64 " MiB: the rebuild resumes there",
			 o->name, s->rb.ckpt_pos >> 20);
	ret = raid_rebuild_init(s);
	if (ret)
		goto err_fini;
	s->rb.rate = o->rebuild_rate;
	if (s->level == RAID_LEVEL_1 && raid_bitmap_dirty_count_locked(s) && raid_active_count(s) > 1) {
		memcpy(s->rb.regions, s->bm.bits, sizeof(s->rb.regions));
		s->rb.resync_pending = raid_bitmap_dirty_count_locked(s);
		if (!fresh)
			VSL_WARN("raid %s: %" PRIu64 " dirty bitmap regions to resync (unclean shutdown)",
				 o->name, s->rb.resync_pending);
	}
	if (fresh || changed) {
		s->meta.gen++;
		if (changed)
			s->events++;
		ret = raid_meta_sync(s);
		if (ret) {
			errf(err, errlen, ret, "cannot write the superblocks: %s", strerror(-ret));
			goto err_fini;
		}
	}
	ret = blk_bdev_register(&s->bdev);
	if (ret) {
		errf(err, errlen, ret, "cannot register");
		goto err_fini;
	}
	raid_set_link(s);
	pthread_mutex_lock(&s->lock);
	s->registered = true;
	pthread_mutex_unlock(&s->lock);
	VSL_INFO("raid %s: RAID%u %s, %u members, %" PRIu64 " bytes, events %" PRIu64, o->name,
		 s->level, fresh ? "created" : "assembled", s->n, blk_bdev_size(&s->bdev), s->events);
	free(p);
	raid_rebuild_start(s);
	*out = s;
	return 0;

err_fini:
	blk_bdev_fini(&s->bdev);
err_meta:
	raid_rebuild_fini(s);
	raid_bitmap_fini(s);
	raid_meta_fini(s);
err_close:
	blk_bdev_close_claimed(bdevs, o->n_members);
err_free:
	json_object_put(s ? s->ignored : NULL);
	if (s)
		pthread_mutex_destroy(&s->lock);
	free(s);
	free(p);
	return ret;
}

