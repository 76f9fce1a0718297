/* fuzz_raid_sb.c — libFuzzer target for the RAID superblock parser
 * (raid/raid_sb.c): one copy (raid_sb_decode) and the two-copy reader
 * (raid_sb_read_copies) on arbitrary bytes. Whatever the parser accepts must
 * pass raid_sb_check() and survive an encode/decode round trip unchanged.
 *
 * Input: the bytes of a member's first 8 KiB (shorter inputs too). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raid_sb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const struct raid_sb *sb)
{
	static unsigned char buf[RAID_SB_SIZE];
	struct raid_sb again;

	if (raid_sb_check(sb, NULL, 0))
		abort();
	raid_sb_encode(sb, buf);
	if (raid_sb_decode(buf, sizeof(buf), &again, NULL, 0) ||
	    memcmp(&again, sb, sizeof(again)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raid_sb sb;
	char err[128];

	if (raid_sb_decode(data, size, &sb, err, sizeof(err)) == 0)
		roundtrip(&sb);
	if (raid_sb_read_copies(data, size, &sb, err, sizeof(err)) == 0)
		roundtrip(&sb);
	if (size > RAID_SB_SIZE && raid_sb_decode(data + RAID_SB_SIZE, size - RAID_SB_SIZE, &sb,
						  NULL, 0) == 0)
		roundtrip(&sb);
	return 0;
}
