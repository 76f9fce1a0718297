/* test_raid_sb.c — the superblock codec: round trip, copy selection, and
 * every class of bad input the parser must refuse. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "raid_sb.h"
#include "vsl_crc32c.h"

static void good_sb(struct raid_sb *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->seq = 7;
	sb->events = 3;
	for (int i = 0; i < 16; i++)
		sb->set_uuid[i] = (uint8_t)(i * 17 + 1);
	strcpy(sb->name, "r0");
	sb->level = RAID_LEVEL_1;
	sb->n_members = 2;
	sb->strip_size = 0;
	sb->block_size = 512;
	sb->slot = 1;
	sb->data_offset = RAID_DATA_OFFSET;
	sb->data_size = 200ull << 20;
	sb->region_size = 64 << 20;
	sb->n_regions = 4;
	sb->state[0] = RAID_MEMBER_ACTIVE;
	sb->state[1] = RAID_MEMBER_REBUILDING;
	sb->width = 2;
	sb->rebuild_pos = 8 << 20;
	sb->rebuild_mask = 1u << 1;
	raid_sb_bit_set(sb->bitmap, 2, true);
}

static int roundtrip(const struct raid_sb *in, struct raid_sb *out)
{
	unsigned char buf[RAID_SB_SIZE];

	raid_sb_encode(in, buf);
	return raid_sb_decode(buf, sizeof(buf), out, NULL, 0);
}

static void test_roundtrip(void **state)
{
	struct raid_sb a, b;
	char err[128];

	(void)state;
	good_sb(&a);
	assert_int_equal(raid_sb_check(&a, err, sizeof(err)), 0);
	assert_int_equal(roundtrip(&a, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* RAID0 with a strip. */
	a.level = RAID_LEVEL_0;
	a.strip_size = 128 << 10;
	a.state[1] = RAID_MEMBER_ACTIVE;
	a.rebuild_pos = 0;
	a.rebuild_mask = 0;
	memset(a.bitmap, 0, sizeof(a.bitmap));
	assert_int_equal(roundtrip(&a, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_layout_is_big_endian(void **state)
{
	struct raid_sb a;
	unsigned char buf[RAID_SB_SIZE];
	uint32_t crc;

	(void)state;
	good_sb(&a);
	raid_sb_encode(&a, buf);
	assert_memory_equal(buf, "VRAI", 4);
	assert_int_equal(buf[7], 2);                       /* version */
	assert_int_equal(buf[31], 3);                      /* events */
	assert_int_equal(buf[131], 1);                     /* slot */
	assert_int_equal(buf[160], RAID_MEMBER_ACTIVE);    /* state[0] */
	assert_int_equal(buf[197], 0x80);                  /* rebuild_pos 8 MiB */
	assert_int_equal(buf[203], 2);                     /* rebuild_mask: slot 1 */
	assert_int_equal(buf[207], 2);                     /* width */
	assert_int_equal(buf[RAID_BITMAP_OFF], 1 << 2);    /* region 2 dirty */
	memcpy(&crc, buf + 8, 4);
	memset(buf + 8, 0, 4);
	assert_int_equal(be32toh(crc), vsl_crc32c(0, buf, sizeof(buf)));
}

/* Encodes sb, lets fix() damage the bytes (and re-CRC when asked), decodes. */
static int decode_damaged(const struct raid_sb *sb, void (*fix)(unsigned char *), bool recrc)
{
	unsigned char buf[RAID_SB_SIZE];
	struct raid_sb out;
	char err[128];
	int ret;

	raid_sb_encode(sb, buf);
	if (fix)
		fix(buf);
	if (recrc) {
		uint32_t crc;

		memset(buf + 8, 0, 4);
		crc = htobe32(vsl_crc32c(0, buf, sizeof(buf)));
		memcpy(buf + 8, &crc, 4);
	}
	ret = raid_sb_decode(buf, sizeof(buf), &out, err, sizeof(err));
	if (ret)
		assert_true(err[0] != '\0');     /* a refusal always says why */
	return ret;
}

static void flip_byte(unsigned char *b) { b[1000] ^= 0x40; }
static void bad_version(unsigned char *b) { b[7] = 3; }
static void version0(unsigned char *b) { b[7] = 0; }
/* Version 1: the checkpoint and width bytes were reserved. */
static void v1_with_ckpt(unsigned char *b) { b[7] = 1; }
static void v1_clean(unsigned char *b)
{
	b[7] = 1;
	memset(b + 192, 0, 16);
}
static void bad_flags(unsigned char *b) { b[15] = 1; }
static void reserved_byte(unsigned char *b) { b[300] = 1; }
static void no_magic(unsigned char *b) { b[0] = 0; }

static void test_bad_bytes(void **state)
{
	struct raid_sb sb;
	unsigned char zero[RAID_SB_SIZE] = { 0 };
	struct raid_sb out;

	(void)state;
	good_sb(&sb);
	assert_int_equal(decode_damaged(&sb, flip_byte, false), -EBADMSG);
	assert_int_equal(decode_damaged(&sb, bad_version, false), -EBADMSG);
	assert_int_equal(decode_damaged(&sb, bad_version, true), -EPROTONOSUPPORT);
	assert_int_equal(decode_damaged(&sb, version0, true), -EPROTONOSUPPORT);
	assert_int_equal(decode_damaged(&sb, v1_with_ckpt, true), -EINVAL);
	assert_int_equal(decode_damaged(&sb, v1_clean, true), 0);
	assert_int_equal(decode_damaged(&sb, bad_flags, true), -EPROTONOSUPPORT);
	assert_int_equal(decode_damaged(&sb, reserved_byte, true), -EINVAL);
	assert_int_equal(decode_damaged(&sb, no_magic, false), -ENODATA);
	assert_int_equal(raid_sb_decode(zero, sizeof(zero), &out, NULL, 0), -ENODATA);
	assert_int_equal(raid_sb_decode(zero, 100, &out, NULL, 0), -ENODATA);
	assert_int_equal(raid_sb_decode(NULL, 0, &out, NULL, 0), -ENODATA);
}

/* Each entry breaks one field of a good superblock. */
static void f_slot(struct raid_sb *s) { s->slot = 2; }
static void f_slot_huge(struct raid_sb *s) { s->slot = 0xffffffff; }
static void f_members0(struct raid_sb *s) { s->n_members = 0; }
static void f_members33(struct raid_sb *s) { s->n_members = 33; }
static void f_level(struct raid_sb *s) { s->level = 5; }
static void f_strip_raid1(struct raid_sb *s) { s->strip_size = 4096; }
static void f_strip0(struct raid_sb *s)
{
	s->level = 0;
	s->state[1] = 1;
	s->rebuild_pos = 0;
	s->rebuild_mask = 0;
	memset(s->bitmap, 0, sizeof(s->bitmap));
	s->strip_size = 0;
}
static void f_strip_odd(struct raid_sb *s) { f_strip0(s); s->strip_size = 3000; }
static void f_strip_huge(struct raid_sb *s) { f_strip0(s); s->strip_size = 32 << 20; }
static void f_bs(struct raid_sb *s) { s->block_size = 1000; }
static void f_bs0(struct raid_sb *s) { s->block_size = 0; }
static void f_off(struct raid_sb *s) { s->data_offset = 4096; }
static void f_off_odd(struct raid_sb *s) { s->data_offset = RAID_DATA_OFFSET + 512; }
static void f_size0(struct raid_sb *s) { s->data_size = 0; }
static void f_size_odd(struct raid_sb *s) { s->data_size += 100; }
static void f_size_huge(struct raid_sb *s) { s->data_size = UINT64_MAX - 4096; }
static void f_region(struct raid_sb *s) { s->region_size = 3 << 20; }
static void f_region_small(struct raid_sb *s) { s->region_size = 4096; s->n_regions = 51200; }
static void f_nregions(struct raid_sb *s) { s->n_regions = 5; }
static void f_bit_past(struct raid_sb *s) { raid_sb_bit_set(s->bitmap, 4, true); }
static void f_state(struct raid_sb *s) { s->state[1] = 9; }
static void f_state_unused(struct raid_sb *s) { s->state[5] = RAID_MEMBER_ACTIVE; }
static void f_own_empty(struct raid_sb *s) { s->state[1] = RAID_MEMBER_EMPTY; }
static void f_name_empty(struct raid_sb *s) { s->name[0] = '\0'; }
static void f_name_unterminated(struct raid_sb *s) { memset(s->name, 'a', sizeof(s->name)); }
static void f_name_chars(struct raid_sb *s) { strcpy(s->name, "a/b"); }
static void f_name_tail(struct raid_sb *s) { s->name[40] = 'x'; }
static void f_width0(struct raid_sb *s) { s->width = 0; }
static void f_width_big(struct raid_sb *s) { s->width = 3; }
static void f_width_raid0(struct raid_sb *s) { f_strip0(s); s->strip_size = 4096; s->width = 1; }
static void f_ckpt_slot(struct raid_sb *s) { s->rebuild_mask = 1u << 2; }
static void f_ckpt_active(struct raid_sb *s) { s->rebuild_mask = 1u << 0; }
static void f_ckpt_past(struct raid_sb *s) { s->rebuild_pos = s->data_size + 4096; }
static void f_ckpt_odd(struct raid_sb *s) { s->rebuild_pos = 1000; }
static void f_ckpt_nomask(struct raid_sb *s) { s->rebuild_mask = 0; }

static void test_bad_fields(void **state)
{
	static void (*const breakers[])(struct raid_sb *) = {
		f_slot, f_slot_huge, f_members0, f_members33, f_level, f_strip_raid1, f_strip0,
		f_strip_odd, f_strip_huge, f_bs, f_bs0, f_off, f_off_odd, f_size0, f_size_odd,
		f_size_huge, f_region, f_region_small, f_nregions, f_bit_past, f_state,
		f_state_unused, f_own_empty, f_name_empty, f_name_unterminated, f_name_chars,
		f_name_tail, f_width0, f_width_big, f_width_raid0, f_ckpt_slot, f_ckpt_active,
		f_ckpt_past, f_ckpt_odd, f_ckpt_nomask,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(breakers) / sizeof(breakers[0]); i++) {
		struct raid_sb sb;

		good_sb(&sb);
		breakers[i](&sb);
		if (decode_damaged(&sb, NULL, false) != -EINVAL)
			fail_msg("breaker %zu was accepted", i);
	}
}

static void test_copies(void **state)
{
	unsigned char buf[2 * RAID_SB_SIZE];
	struct raid_sb a, b, out;

	(void)state;
	good_sb(&a);
	b = a;
	b.seq = 8;
	b.events = 4;
	raid_sb_encode(&a, buf);
	raid_sb_encode(&b, buf + RAID_SB_SIZE);
	assert_int_equal(raid_sb_read_copies(buf, sizeof(buf), &out, NULL, 0), 0);
	assert_int_equal(out.seq, 8);
	/* The newer copy torn: the older one is used. */
	buf[RAID_SB_SIZE + 2000] ^= 1;
	assert_int_equal(raid_sb_read_copies(buf, sizeof(buf), &out, NULL, 0), 0);
	assert_int_equal(out.seq, 7);
	/* Both torn: the error of the first. */
	buf[2000] ^= 1;
	assert_int_equal(raid_sb_read_copies(buf, sizeof(buf), &out, NULL, 0), -EBADMSG);
	/* Blank device. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(raid_sb_read_copies(buf, sizeof(buf), &out, NULL, 0), -ENODATA);
	/* Copies of different sets. */
	b.set_uuid[0] ^= 1;
	raid_sb_encode(&a, buf);
	raid_sb_encode(&b, buf + RAID_SB_SIZE);
	assert_int_equal(raid_sb_read_copies(buf, sizeof(buf), &out, NULL, 0), -EINVAL);
	assert_int_equal(raid_sb_read_copies(buf, RAID_SB_SIZE, &out, NULL, 0), -ENODATA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_layout_is_big_endian),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_copies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
