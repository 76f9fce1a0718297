/* raid_sb.c — superblock encode, decode and validation (see raid_sb.h).
 * Pure functions: no I/O, no allocation, no global state. */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "raid_sb.h"
#include "vsl_crc32c.h"
#include "vsl_util.h"

static const char *const state_names[RAID_MEMBER_STATE_COUNT] = {
	[RAID_MEMBER_EMPTY] = "empty",
	[RAID_MEMBER_ACTIVE] = "active",
	[RAID_MEMBER_FAILED] = "failed",
	[RAID_MEMBER_SPARE] = "spare",
	[RAID_MEMBER_REBUILDING] = "rebuilding",
};

const char *raid_member_state_name(unsigned state)
{
	return state < RAID_MEMBER_STATE_COUNT ? state_names[state] : "invalid";
}

static bool name_ok(const char *name, size_t cap)
{
	size_t n = strnlen(name, cap);

	if (n == 0 || n >= cap)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == ':'))
			return false;
	}
	/* Bytes after the NUL are zero: one name, one encoding. */
	for (size_t i = n; i < cap; i++)
		if (name[i])
			return false;
	return true;
}

int raid_sb_check(const struct raid_sb *sb, char *err, size_t errlen)
{
	uint64_t regions;

	if (sb->level != RAID_LEVEL_0 && sb->level != RAID_LEVEL_1)
		return vsl_errf(err, errlen, -EINVAL, "unknown RAID level %u", sb->level);
	if (sb->n_members == 0 || sb->n_members > RAID_MAX_MEMBERS)
		return vsl_errf(err, errlen, -EINVAL, "impossible member count %u", sb->n_members);
	if (sb->slot >= sb->n_members)
		return vsl_errf(err, errlen, -EINVAL, "slot %u of a %u-member set", sb->slot,
			    sb->n_members);
	if (!name_ok(sb->name, sizeof(sb->name)))
		return vsl_errf(err, errlen, -EINVAL, "bad set name");
	if (sb->block_size < 512 || sb->block_size > 65536 || !vsl_is_pow2(sb->block_size))
		return vsl_errf(err, errlen, -EINVAL, "bad block size %u", sb->block_size);
	if (sb->level == RAID_LEVEL_0) {
		if (!vsl_is_pow2(sb->strip_size) || sb->strip_size < RAID_STRIP_MIN ||
		    sb->strip_size > RAID_STRIP_MAX || sb->strip_size < sb->block_size)
			return vsl_errf(err, errlen, -EINVAL, "bad strip size %u", sb->strip_size);
	} else if (sb->strip_size != 0) {
		return vsl_errf(err, errlen, -EINVAL, "RAID1 with a strip size");
	}
	if (sb->data_offset < RAID_SB_COPIES * RAID_SB_SIZE || sb->data_offset % RAID_SB_SIZE ||
	    sb->data_offset > (1ull << 40))
		return vsl_errf(err, errlen, -EINVAL, "bad data offset %llu",
			    (unsigned long long)sb->data_offset);
	if (sb->data_size == 0 || sb->data_size % sb->block_size ||
	    sb->data_size > (UINT64_MAX >> 2) - sb->data_offset ||
	    (sb->level == RAID_LEVEL_0 && sb->data_size % sb->strip_size))
		return vsl_errf(err, errlen, -EINVAL, "bad data size %llu",
			    (unsigned long long)sb->data_size);
	/* The set's size (n x data_size for RAID0) must not overflow either. */
	if (sb->level == RAID_LEVEL_0 && sb->data_size > (UINT64_MAX >> 2) / sb->n_members)
		return vsl_errf(err, errlen, -EINVAL, "set size overflows");
	if (!vsl_is_pow2(sb->region_size) || sb->region_size < RAID_REGION_MIN ||
	    sb->region_size > (1ull << 50))
		return vsl_errf(err, errlen, -EINVAL, "bad region size %llu",
			    (unsigned long long)sb->region_size);
	regions = (sb->data_size + sb->region_size - 1) / sb->region_size;
	if (regions > RAID_BITMAP_BITS || sb->n_regions != regions)
		return vsl_errf(err, errlen, -EINVAL, "%u bitmap regions for %llu bytes of %llu", sb->n_regions,
			    (unsigned long long)sb->data_size, (unsigned long long)sb->region_size);
	for (uint32_t i = 0; i < RAID_MAX_MEMBERS; i++) {
		if (i >= sb->n_members ? sb->state[i] != RAID_MEMBER_EMPTY
				       : sb->state[i] >= RAID_MEMBER_STATE_COUNT)
			return vsl_errf(err, errlen, -EINVAL, "slot %u has state %u", i, sb->state[i]);
	}
	if (sb->state[sb->slot] == RAID_MEMBER_EMPTY)
		return vsl_errf(err, errlen, -EINVAL, "own slot %u is empty", sb->slot);
	if (sb->width == 0 || sb->width > sb->n_members ||
	    (sb->level == RAID_LEVEL_0 && sb->width != sb->n_members))
		return vsl_errf(err, errlen, -EINVAL, "width %u of a %u-member RAID%u set", sb->width,
				sb->n_members, sb->level);
	if ((uint64_t)sb->rebuild_mask >> sb->n_members)
		return vsl_errf(err, errlen, -EINVAL, "rebuild checkpoint names slots past %u",
				sb->n_members - 1);
	for (uint32_t i = 0; i < sb->n_members; i++)
		if ((sb->rebuild_mask & (1u << i)) && sb->state[i] != RAID_MEMBER_REBUILDING)
			return vsl_errf(err, errlen, -EINVAL,
					"rebuild checkpoint for slot %u, which is not rebuilding", i);
	if (sb->rebuild_pos > sb->data_size || sb->rebuild_pos % sb->block_size ||
	    (!sb->rebuild_mask && sb->rebuild_pos) || (sb->level == RAID_LEVEL_0 && sb->rebuild_mask))
		return vsl_errf(err, errlen, -EINVAL, "bad rebuild checkpoint %llu (slots 0x%x)",
				(unsigned long long)sb->rebuild_pos, sb->rebuild_mask);
	for (uint32_t r = sb->n_regions; r < RAID_BITMAP_BITS; r++)
		if (raid_sb_bit(sb->bitmap, r))
			return vsl_errf(err, errlen, -EINVAL, "bitmap bit %u past the last region", r);
	return 0;
}

void raid_sb_encode(const struct raid_sb *sb, void *buf)
{
	struct raid_sb_disk *d = buf;

	memset(d, 0, sizeof(*d));
	d->magic = htobe32(RAID_SB_MAGIC);
	d->version = htobe32(RAID_SB_VERSION);
	d->seq = htobe64(sb->seq);
	d->events = htobe64(sb->events);
	memcpy(d->set_uuid, sb->set_uuid, sizeof(d->set_uuid));
	memcpy(d->name, sb->name, sizeof(d->name));
	d->level = htobe32(sb->level);
	d->n_members = htobe32(sb->n_members);
	d->strip_size = htobe32(sb->strip_size);
	d->block_size = htobe32(sb->block_size);
	d->slot = htobe32(sb->slot);
	d->n_regions = htobe32(sb->n_regions);
	d->data_offset = htobe64(sb->data_offset);
	d->data_size = htobe64(sb->data_size);
	d->region_size = htobe64(sb->region_size);
	memcpy(d->state, sb->state, sizeof(d->state));
	d->rebuild_pos = htobe64(sb->rebuild_pos);
	d->rebuild_mask = htobe32(sb->rebuild_mask);
	d->width = htobe32(sb->width);
	memcpy(d->bitmap, sb->bitmap, sizeof(d->bitmap));
	d->crc = htobe32(vsl_crc32c(0, d, sizeof(*d)));
}

int raid_sb_decode(const void *buf, size_t len, struct raid_sb *sb, char *err, size_t errlen)
{
	struct raid_sb_disk d;
	uint32_t crc, version;

	if (!buf || len < RAID_SB_SIZE)
		return vsl_errf(err, errlen, -ENODATA, "short superblock (%zu bytes)", len);
	memcpy(&d, buf, sizeof(d));      /* the caller's buffer may be unaligned */
	if (be32toh(d.magic) != RAID_SB_MAGIC)
		return vsl_errf(err, errlen, -ENODATA, "no RAID superblock");
	crc = be32toh(d.crc);
	d.crc = 0;
	if (vsl_crc32c(0, &d, sizeof(d)) != crc)
		return vsl_errf(err, errlen, -EBADMSG, "superblock CRC mismatch");
	version = be32toh(d.version);
	if (version < RAID_SB_VERSION_MIN || version > RAID_SB_VERSION)
		return vsl_errf(err, errlen, -EPROTONOSUPPORT, "unknown superblock version %u",
			    version);
	if (d.flags)
		return vsl_errf(err, errlen, -EPROTONOSUPPORT, "unknown superblock flags 0x%x",
			    be32toh(d.flags));
	for (size_t i = 0; i < sizeof(d.reserved); i++)
		if (d.reserved[i])
			return vsl_errf(err, errlen, -EINVAL, "reserved bytes are not zero");
	/* Version 1 had no checkpoint and no spares: those bytes were reserved. */
	if (version == 1 && (d.rebuild_pos || d.rebuild_mask || d.width))
		return vsl_errf(err, errlen, -EINVAL, "reserved bytes are not zero");
	memset(sb, 0, sizeof(*sb));
	sb->seq = be64toh(d.seq);
	sb->events = be64toh(d.events);
	memcpy(sb->set_uuid, d.set_uuid, sizeof(sb->set_uuid));
	memcpy(sb->name, d.name, sizeof(sb->name));
	sb->level = be32toh(d.level);
	sb->n_members = be32toh(d.n_members);
	sb->strip_size = be32toh(d.strip_size);
	sb->block_size = be32toh(d.block_size);
	sb->slot = be32toh(d.slot);
	sb->n_regions = be32toh(d.n_regions);
	sb->data_offset = be64toh(d.data_offset);
	sb->data_size = be64toh(d.data_size);
	sb->region_size = be64toh(d.region_size);
	memcpy(sb->state, d.state, sizeof(sb->state));
	sb->rebuild_pos = be64toh(d.rebuild_pos);
	sb->rebuild_mask = be32toh(d.rebuild_mask);
	sb->width = version == 1 ? sb->n_members : be32toh(d.width);
	memcpy(sb->bitmap, d.bitmap, sizeof(sb->bitmap));
	return raid_sb_check(sb, err, errlen);
}

int raid_sb_read_copies(const void *buf, size_t len, struct raid_sb *sb, char *err,
			size_t errlen)
{
	struct raid_sb a, b;
	char ea[128] = "", eb[128] = "";
	int ra, rb;

	if (!buf || len < RAID_SB_COPIES * RAID_SB_SIZE)
		return vsl_errf(err, errlen, -ENODATA, "short member (%zu bytes)", len);
	ra = raid_sb_decode(buf, RAID_SB_SIZE, &a, ea, sizeof(ea));
	rb = raid_sb_decode((const char *)buf + RAID_SB_SIZE, RAID_SB_SIZE, &b, eb, sizeof(eb));
	if (!ra && !rb) {
		/* Copies of two different sets cannot both be current. */
		if (memcmp(a.set_uuid, b.set_uuid, sizeof(a.set_uuid)) || a.slot != b.slot)
			return vsl_errf(err, errlen, -EINVAL, "the two superblock copies disagree");
		*sb = a.seq >= b.seq ? a : b;
		return 0;
	}
	if (!ra || !rb) {
		*sb = !ra ? a : b;
		return 0;
	}
	if (ra == -ENODATA && rb == -ENODATA)
		return vsl_errf(err, errlen, -ENODATA, "no RAID superblock");
	if (ra != -ENODATA)
		return vsl_errf(err, errlen, ra, "%s", ea);
	return vsl_errf(err, errlen, rb, "%s", eb);
}
