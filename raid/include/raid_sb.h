/* raid_sb.h — the RAID superblock: on-disk format, encoder and parser.
 *
 * Every member of a set starts with two 4 KiB superblock copies, at byte 0 and
 * at byte 4096. Each metadata update writes the copy chosen by the new
 * sequence number (seq & 1) on every healthy member and flushes it, so a torn
 * write destroys at most the copy being written and the other one, one update
 * older, stays valid: the reader takes the valid copy with the higher seq.
 * Data starts at data_offset (1 MiB) on every member.
 *
 * Layout of one copy (all integers big-endian; "struct raid_sb_disk"):
 *
 *   off  size  field
 *     0     4  magic          0x56524149 ("VRAI")
 *     4     4  version        2 (1 is read: the fields at 192..207 are zero there)
 *     8     4  crc            CRC32C of the 4096 bytes with this field zero
 *    12     4  flags          0 (no flag is defined; non-zero is refused)
 *    16     8  seq            metadata update sequence number
 *    24     8  events         bumped on every member state change
 *    32    16  set_uuid       the set's identity (random at creation)
 *    48    64  name           the set's bdev name, NUL-terminated
 *   112     4  level          0 or 1
 *   116     4  n_members      slots in the set, 1..32
 *   120     4  strip_size     bytes; a power of two 4 KiB..16 MiB (RAID0), 0 (RAID1)
 *   124     4  block_size     the set's block size (512..65536, power of two)
 *   128     4  slot           this member's slot, < n_members
 *   132     4  n_regions      bits used in the write-intent bitmap
 *   136     8  data_offset    where data starts on every member (bytes, 4 KiB multiple)
 *   144     8  data_size      bytes of data on every member (block multiple)
 *   152     8  region_size    bytes per bitmap bit (power of two >= 1 MiB)
 *   160    32  state[32]      each slot's state (enum raid_member_state); slots
 *                             >= n_members are 0
 *   192     8  rebuild_pos    rebuild checkpoint: bytes [0, rebuild_pos) of the
 *                             data area are copied onto the slots in rebuild_mask
 *   200     4  rebuild_mask   slots (bit i = slot i, each "rebuilding") the
 *                             checkpoint covers; 0: none (rebuild_pos is 0 then)
 *   204     4  width          copies wanted (RAID1: 1..n_members; spares and
 *                             failed slots replaced by one do not count; RAID0:
 *                             n_members). Version 1: n_members
 *   208   304  reserved       zero
 *   512  3584  bitmap         write-intent bitmap, bit r = byte r/8, bit r%8;
 *                             bits >= n_regions are zero
 *
 * The parser trusts nothing it has not checked: lengths, magic, CRC, version,
 * flags, every field's range and the relations between them (slot < members,
 * region count against data size, sizes that overflow), reserved bytes and
 * unused slots and bits. It is pure (no I/O, no allocation, no globals), so it
 * is fuzzed on its own (tests/fuzz/fuzz_raid_sb.c).
 */
#ifndef RAID_SB_H
#define RAID_SB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	RAID_SB_MAGIC = 0x56524149,
	RAID_SB_VERSION = 2,
	RAID_SB_VERSION_MIN = 1,
	RAID_SB_SIZE = 4096,
	RAID_SB_COPIES = 2,
	RAID_MAX_MEMBERS = 32,
	RAID_DATA_OFFSET = 1 << 20,
	RAID_BITMAP_OFF = 512,
	RAID_BITMAP_BYTES = RAID_SB_SIZE - RAID_BITMAP_OFF,
	RAID_BITMAP_BITS = RAID_BITMAP_BYTES * 8,
	RAID_STRIP_MIN = 4096,
	RAID_STRIP_MAX = 16 << 20,
	RAID_STRIP_DEFAULT = 128 << 10,
	RAID_REGION_MIN = 1 << 20,
	RAID_REGION_DEFAULT = 64 << 20,
};

enum raid_level {
	RAID_LEVEL_0 = 0,
	RAID_LEVEL_1 = 1,
};

enum raid_member_state {
	RAID_MEMBER_EMPTY = 0,       /* slot without a member (removed) */
	RAID_MEMBER_ACTIVE = 1,      /* in sync, read and written */
	RAID_MEMBER_FAILED = 2,      /* an I/O error or raid-fail: not used */
	RAID_MEMBER_SPARE = 3,       /* waits for a failed slot (not used by I/O) */
	RAID_MEMBER_REBUILDING = 4,  /* written, not read, being copied to */
	RAID_MEMBER_STATE_COUNT,
};

/* One superblock copy, as on disk. Integer fields are big-endian. */
struct raid_sb_disk {
	uint32_t magic;
	uint32_t version;
	uint32_t crc;
	uint32_t flags;
	uint64_t seq;
	uint64_t events;
	uint8_t set_uuid[16];
	char name[64];
	uint32_t level;
	uint32_t n_members;
	uint32_t strip_size;
	uint32_t block_size;
	uint32_t slot;
	uint32_t n_regions;
	uint64_t data_offset;
	uint64_t data_size;
	uint64_t region_size;
	uint8_t state[RAID_MAX_MEMBERS];
	uint64_t rebuild_pos;
	uint32_t rebuild_mask;
	uint32_t width;
	uint8_t reserved[RAID_BITMAP_OFF - 208];
	uint8_t bitmap[RAID_BITMAP_BYTES];
};
_Static_assert(__builtin_offsetof(struct raid_sb_disk, rebuild_pos) == 192, "layout");
_Static_assert(__builtin_offsetof(struct raid_sb_disk, width) == 204, "layout");
_Static_assert(sizeof(struct raid_sb_disk) == RAID_SB_SIZE, "superblock is 4 KiB");
_Static_assert(__builtin_offsetof(struct raid_sb_disk, level) == 112, "layout");
_Static_assert(__builtin_offsetof(struct raid_sb_disk, data_offset) == 136, "layout");
_Static_assert(__builtin_offsetof(struct raid_sb_disk, state) == 160, "layout");
_Static_assert(__builtin_offsetof(struct raid_sb_disk, bitmap) == RAID_BITMAP_OFF, "layout");

/* A decoded superblock, host byte order. */
struct raid_sb {
	uint64_t seq;
	uint64_t events;
	uint8_t set_uuid[16];
	char name[64];
	uint32_t level;
	uint32_t n_members;
	uint32_t strip_size;
	uint32_t block_size;
	uint32_t slot;
	uint32_t n_regions;
	uint64_t data_offset;
	uint64_t data_size;
	uint64_t region_size;
	uint8_t state[RAID_MAX_MEMBERS];
	uint64_t rebuild_pos;
	uint32_t rebuild_mask;
	uint32_t width;
	uint8_t bitmap[RAID_BITMAP_BYTES];
};

/* Checks a decoded superblock's fields and their relations (the parser runs it
 * on everything it decodes; the encoder's callers run it before writing).
 * Returns 0 or -EINVAL with the reason in err. */
int raid_sb_check(const struct raid_sb *sb, char *err, size_t errlen);

/* Encodes sb into buf (RAID_SB_SIZE bytes), CRC included. Pure. */
void raid_sb_encode(const struct raid_sb *sb, void *buf);

/* Decodes one copy. Returns 0; -ENODATA when there is no superblock (no magic:
 * a blank or foreign device); -EBADMSG for a bad CRC; -EPROTONOSUPPORT for an
 * unknown version or flags; -EINVAL for impossible fields. err (may be NULL)
 * says why in words. Pure. */
int raid_sb_decode(const void *buf, size_t len, struct raid_sb *sb, char *err, size_t errlen);

/* Decodes both copies (RAID_SB_COPIES * RAID_SB_SIZE bytes from the start of a
 * member) and returns the valid one with the higher seq. When neither is
 * valid: -ENODATA if neither has a magic, else the first copy's error (or the
 * second's when the first has no magic). Pure. */
int raid_sb_read_copies(const void *buf, size_t len, struct raid_sb *sb, char *err,
			size_t errlen);

/* Names for logs and JSON ("active", ...; "invalid" out of range). */
const char *raid_member_state_name(unsigned state);

/* Bitmap helpers (bit r of a RAID_BITMAP_BYTES map). */
static inline bool raid_sb_bit(const uint8_t *map, uint32_t r)
{
	return map[r >> 3] & (1u << (r & 7));
}

static inline void raid_sb_bit_set(uint8_t *map, uint32_t r, bool on)
{
	if (on)
		map[r >> 3] |= (uint8_t)(1u << (r & 7));
	else
		map[r >> 3] &= (uint8_t)~(1u << (r & 7));
}

#endif /* RAID_SB_H */
