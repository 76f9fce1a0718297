/* raid.h — RAID0 and RAID1 sets as bdevs (libraid).
 *
 * A set is a bdev of type "raid0" or "raid1" built from member bdevs that it
 * opens with a claim (bdev-list shows each member "claimed_by" the set). Every
 * member carries the set's superblock (raid_sb.h) in its first 8 KiB; data
 * starts at 1 MiB.
 *
 *   RAID0: n members, data striped in strip_size units (a power of two,
 *   4 KiB..16 MiB, default 128 KiB); capacity n x the members' data area.
 *   Requests are split on strip boundaries and the pieces run in parallel;
 *   flush and discard go to every member. A member error fails the request.
 *
 *   RAID1: an n-way mirror. Writes go to every active or rebuilding member and
 *   complete when all have; reads go to the active member with the fewest
 *   outstanding requests and are retried on another member after an error. A
 *   member that fails a write or a read is failed: the superblock (event
 *   counter +1) is written to the others before the request completes, the
 *   set runs degraded, and with no active member left every request fails
 *   with EIO. A write-intent bitmap (one bit per region, default 64 MiB) is set
 *   and made durable before a write to a clean region, and cleared lazily once
 *   the region is idle; after a crash only dirty regions are resynced. A new,
 *   replaced or stale member is rebuilt in the background on the set's home
 *   reactor, rate-limited, while I/O continues (writes reach it at once).
 *
 * Assembly. raid_set_create() reads every member's superblock. No superblock
 * anywhere: a new set (RAID1 then resyncs from the first member, unless
 * assume_clean). Otherwise the set is assembled: members of another set or
 * another name are refused by name; a member with an older event counter is
 * stale and is rebuilt, never read; a member with a corrupt superblock is
 * ignored with a log line (RAID1) or refuses the start (RAID0, which also
 * refuses a missing member). A refusal writes nothing to any member.
 *
 * Threads. Every function here runs on the control thread; those that update
 * metadata wait for the write to be durable (the home reactor does the I/O).
 * Errors are -errno; where a char *err is taken, a refusal is explained there.
 */
#ifndef RAID_H
#define RAID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "raid_sb.h"

struct blk_bdev;
struct blk_reactor;
struct raid_set;

struct raid_create_opts {
	const char *name;               /* the set's bdev name */
	unsigned level;                 /* RAID_LEVEL_0 or RAID_LEVEL_1 */
	uint32_t strip_size;            /* RAID0 bytes; 0: 128 KiB. RAID1: must be 0 */
	uint64_t region_size;           /* RAID1 bitmap region; 0: 64 MiB (grown to fit) */
	const char *const *members;     /* bdev names; caller keeps ownership */
	unsigned n_members;
	uint64_t rebuild_rate;          /* bytes/s for rebuild and resync; 0: unlimited */
	bool assume_clean;              /* new RAID1: skip the initial resync */
	struct blk_reactor *home;       /* metadata and rebuild reactor; NULL: reactor 0 */
};

/* Creates or assembles a set and registers its bdev (owned by the registry;
 * raid_set_stop() or bdev-delete destroys it). Returns 0 and *out, or -errno
 * with err explaining: -EEXIST name taken, -EINVAL bad options or members,
 * -ENOENT/-EBUSY a member missing or claimed, -EBADMSG corrupt superblocks,
 * -ENODEV a RAID0 member missing, -EIO reading or writing metadata. */
int raid_set_create(const struct raid_create_opts *o, struct raid_set **out, char *err,
		    size_t errlen);

struct raid_set *raid_set_find(const char *name);
/* Iteration in creation order; NULL gives the first. */
struct raid_set *raid_set_next(const struct raid_set *s);
struct blk_bdev *raid_set_bdev(struct raid_set *s);

/* Stops the set: -EBUSY while it is open (exported, stacked on) or rebuilding. */
int raid_set_stop(struct raid_set *s);

/* Marks a member failed (RAID1): -ENOENT not a member, -EINVAL RAID0 or
 * already failed, -EBUSY it is the last active member. */
int raid_member_fail(struct raid_set *s, const char *member);
/* Takes a failed or spare member out of its slot and releases its claim:
 * -ENOENT, -EBUSY active/rebuilding or I/O still in flight to it. */
int raid_member_remove(struct raid_set *s, const char *member, char *err, size_t errlen);
/* Adds a bdev into an empty slot (RAID1) and starts rebuilding it. A member
 * of another set is refused; a former member of this set is rebuilt. With
 * spare, it waits as a spare (in an empty slot, else a new one): it is
 * promoted and rebuilt onto when fewer than `width` members are active or
 * rebuilding (at once if the set is degraded already). */
int raid_member_add(struct raid_set *s, const char *member, bool spare, char *err, size_t errlen);
/* Queues a scrub (RAID1): the active members are compared chunk by chunk with
 * the first one, mismatching regions are reported in the status ("scrub"), and
 * with repair the first active member's data is copied over the others'. Runs
 * after any resync or rebuild. -EINVAL RAID0, -ENODEV fewer than 2 active. */
int raid_set_scrub(struct raid_set *s, bool repair);
/* Rebuild/resync rate in bytes/s (0: unlimited). */
void raid_set_rebuild_rate(struct raid_set *s, uint64_t bytes_per_s);

/* Status for raid-status and bdev-list: level, state, members (state, events,
 * errors), counters, bitmap, rebuild progress. Adds to `out`. */
void raid_set_status(struct raid_set *s, struct json_object *out);

/* Lazy bitmap clearing: clears the bits of regions idle since the previous
 * call and writes the bitmap. blockd calls it from a timer; tests by hand. */
int raid_set_tick(struct raid_set *s);
/* True while a rebuild or resync runs (tests and raid-stop). */
bool raid_set_rebuilding(struct raid_set *s);

#endif /* RAID_H */
