/* raid_bitmap.c — the RAID1 write-intent bitmap.
 *
 * One bit per region of the members' data area (default 64 MiB, doubled until
 * the map fits RAID_BITMAP_BITS). A write to a region whose bit is clear sets
 * it and bumps the metadata generation; raid1.c parks the write until the
 * metadata writer has made that generation durable, so a bit is on disk
 * before any write it covers reaches a member. Bits are cleared lazily by
 * raid_set_tick() (a 1 s timer in blockd): a region not written since the
 * previous tick and with no write in flight is clean again. After a crash the
 * union of the members' bitmaps names the regions that may differ: only those
 * are resynced.
 *
 * Everything here runs under set->lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raid_internal.h"

int raid_bitmap_init(struct raid_set *s, uint64_t region_size, const uint8_t *bits)
{
	struct raid_bitmap *bm = &s->bm;

	bm->region_size = region_size;
	bm->region_shift = (uint32_t)__builtin_ctzll(region_size);
	bm->n_regions = (uint32_t)((s->data_size + region_size - 1) >> bm->region_shift);
	if (bm->n_regions == 0 || bm->n_regions > RAID_BITMAP_BITS)
		return -EINVAL;
	bm->inflight = calloc(bm->n_regions, sizeof(*bm->inflight));
	if (!bm->inflight)
		return -ENOMEM;
	memset(bm->bits, 0, sizeof(bm->bits));
	if (s->level == RAID_LEVEL_1 && bits)
		for (uint32_t r = 0; r < bm->n_regions; r++)
			raid_sb_bit_set(bm->bits, r, raid_sb_bit(bits, r));
	return 0;
}

void raid_bitmap_fini(struct raid_set *s)
{
	free(s->bm.inflight);
	s->bm.inflight = NULL;
}

uint32_t raid_bitmap_region_of(const struct raid_set *s, uint64_t off)
{
	return (uint32_t)(off >> s->bm.region_shift);
}

bool raid_bitmap_start_write_locked(struct raid_set *s, uint64_t off, uint64_t len)
{
	struct raid_bitmap *bm = &s->bm;
	uint32_t first = raid_bitmap_region_of(s, off), last = raid_bitmap_region_of(s, off + len - 1);
	bool set = false;

	for (uint32_t r = first; r <= last; r++) {
		bm->inflight[r]++;
		raid_sb_bit_set(bm->touched, r, true);
		if (!raid_sb_bit(bm->bits, r)) {
			raid_sb_bit_set(bm->bits, r, true);
			bm->sets++;
			set = true;
		}
	}
	if (set)
		bm->set_gen = ++s->meta.gen;
	return set;
}

void raid_bitmap_end_write_locked(struct raid_set *s, uint64_t off, uint64_t len)
{
	uint32_t first = raid_bitmap_region_of(s, off), last = raid_bitmap_region_of(s, off + len - 1);

	for (uint32_t r = first; r <= last; r++)
		s->bm.inflight[r]--;
}

unsigned raid_bitmap_clean_locked(struct raid_set *s)
{
	struct raid_bitmap *bm = &s->bm;
	unsigned cleared = 0;

	/* Never while degraded or resyncing: the bits say what a returning or
	 * resyncing member may miss. */
	if (raid_active_count(s) < 2 || s->rb.resync_pending || s->failed)
		return 0;
	for (uint32_t r = 0; r < bm->n_regions; r++) {
		if (raid_sb_bit(bm->bits, r) && !raid_sb_bit(bm->touched, r) && !bm->inflight[r]) {
			raid_sb_bit_set(bm->bits, r, false);
			bm->clears++;
			cleared++;
		}
	}
	memset(bm->touched, 0, sizeof(bm->touched));
	return cleared;
}

unsigned raid_bitmap_dirty_count_locked(const struct raid_set *s)
{
	unsigned n = 0;

	for (uint32_t r = 0; r < s->bm.n_regions; r++)
		n += raid_sb_bit(s->bm.bits, r);
	return n;
}
