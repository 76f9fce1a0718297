/* test_sw_vlan_vni.c — trunk VLAN-to-VNI bindings: the vlan_vni= parser and
 * its error messages, the checks against a port's VLAN settings, the
 * formatter, the lookup map (slots kept across rebuilds, counters zeroed
 * for new bindings only) and the view's trunk mask.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sw_vlan_vni.h"

static struct sw_vv_list list;
static char err[512];

static int parse(const char *s)
{
	err[0] = '\0';
	return sw_vv_parse(s, &list, err, sizeof(err));
}

static void assert_refused(const char *s, const char *w1, const char *w2)
{
	if (parse(s) != -EINVAL)
		fail_msg("'%s' accepted", s);
	if (!strstr(err, w1) || (w2 && !strstr(err, w2)))
		fail_msg("'%s': error '%s' lacks '%s' / '%s'", s, err, w1, w2 ? w2 : "");
}

static void test_parse_good(void **state)
{
	char buf[SW_VV_TEXT_MAX];

	(void)state;
	assert_int_equal(parse(""), 0);
	assert_int_equal(list.n, 0);
	assert_int_equal(parse("200:6000,100:5000"), 0);
	assert_int_equal(list.n, 2);
	assert_int_equal(list.b[0].vlan, 100);       /* sorted by VLAN */
	assert_int_equal(list.b[0].vni, 5000);
	assert_int_equal(list.b[1].vlan, 200);
	assert_int_equal(list.b[1].vni, 6000);
	sw_vv_format(&list, buf, sizeof(buf));
	assert_string_equal(buf, "100:5000,200:6000");
	assert_int_equal(parse("1:1,4095:16777215"), 0);
	sw_vv_format(&list, buf, sizeof(buf));
	assert_string_equal(buf, "1:1,4095:16777215");
	assert_int_equal(parse("0010:00000007"), 0);  /* leading zeros are decimal */
	assert_int_equal(list.b[0].vlan, 10);
	assert_int_equal(list.b[0].vni, 7);
}

static void test_parse_bad(void **state)
{
	(void)state;
	assert_refused("100:5000,100:6000", "'100:6000'", "VLAN 100 is already bound to VNI 5000");
	assert_refused("100:5000,200:5000", "'200:5000'", "VNI 5000 is already bound to VLAN 100");
	assert_refused("0:5000", "'0:5000'", "VLAN '0' is not a number 1-4095");
	assert_refused("4096:5000", "VLAN '4096'", NULL);
	assert_refused("100:0", "'100:0'", "VNI '0' is not a number 1-16777215");
	assert_refused("100:16777216", "VNI '16777216'", NULL);
	assert_refused("100:999999999999", "VNI '999999999999'", NULL);
	assert_refused("-1:5", "VLAN '-1'", NULL);
	assert_refused("+1:5", "VLAN '+1'", NULL);
	assert_refused(" 1:5", "VLAN ' 1'", NULL);
	assert_refused("1:5 ", "VNI '5 '", NULL);
	assert_refused("100", "'100' is not VLAN:VNI", NULL);
	assert_refused("100:", "VNI ''", NULL);
	assert_refused(":5", "VLAN ''", NULL);
	assert_refused("1:2:3", "VNI '2:3'", NULL);
	assert_refused(",", "empty entry", NULL);
	assert_refused("1:2,,3:4", "empty entry", NULL);
	assert_refused("1:2,", "ends with ','", NULL);
	assert_refused("abc", "'abc' is not VLAN:VNI", NULL);
}

static void test_parse_limit(void **state)
{
	char *s = malloc(SW_VV_TEXT_MAX + 32);
	size_t n = 0;

	(void)state;
	for (unsigned i = 1; i <= SW_VV_MAX; i++)
		n += (size_t)sprintf(s + n, "%s%u:%u", i > 1 ? "," : "", i, 100000 + i);
	assert_int_equal(parse(s), 0);
	assert_int_equal(list.n, SW_VV_MAX);
	sprintf(s + n, ",%u:%u", SW_VV_MAX + 1, 1);
	assert_refused(s, "more than 256 bindings", NULL);
	free(s);
}

static void trunk_cfg(struct sw_port_cfg *c, const unsigned *vids, unsigned n)
{
	memset(c, 0, sizeof(*c));
	c->vlan_mode = SW_VLAN_TRUNK;
	c->trunks_all = n == 0;
	for (unsigned i = 0; i < n; i++)
		c->trunks[vids[i] / 64] |= 1ull << (vids[i] % 64);
}

static void test_check(void **state)
{
	static const unsigned vids[] = { 100, 200 };
	struct sw_port_cfg c;

	(void)state;
	assert_int_equal(parse("100:5000,200:6000"), 0);
	trunk_cfg(&c, NULL, 0);                        /* every VLAN */
	assert_int_equal(sw_vv_check(&list, &c, false, err, sizeof(err)), 0);
	trunk_cfg(&c, vids, 2);
	assert_int_equal(sw_vv_check(&list, &c, false, err, sizeof(err)), 0);
	assert_int_equal(parse("100:5000,300:7000"), 0);
	assert_int_equal(sw_vv_check(&list, &c, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'300:7000': VLAN 300 is not in the port's trunks"));
	assert_null(strstr(err, "vlan_vni="));
	assert_int_equal(sw_vv_check(&list, &c, true, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "vlan_vni="));     /* existing bindings: how to change */
	c.vlan_mode = SW_VLAN_NATIVE_UNTAGGED;
	c.native_vlan = 100;
	assert_int_equal(parse("100:5000"), 0);
	assert_int_equal(sw_vv_check(&list, &c, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "native VLAN"));
	c.vlan_mode = SW_VLAN_ACCESS;
	c.tag = 10;
	assert_int_equal(sw_vv_check(&list, &c, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "access port"));
	assert_int_equal(parse(""), 0);                /* no bindings: anything goes */
	assert_int_equal(sw_vv_check(&list, &c, false, err, sizeof(err)), 0);
}

static struct sw_vv_map *build(const struct sw_vv_map *old, const char *s,
			       struct sw_vv_stats *st, uint64_t *late)
{
	uint16_t segs[SW_VV_MAX];

	assert_int_equal(parse(s), 0);
	/* Segment = 4096 + VNI % 1000 (any distinct numbers will do). */
	for (unsigned i = 0; i < list.n; i++)
		segs[i] = (uint16_t)(SW_VX_SEG_BASE + list.b[i].vni % 1000);
	return sw_vv_map_build(old, &list, segs, st, late);
}

static void test_map(void **state)
{
	struct sw_vv_stats *st = sw_vv_stats_alloc(), sum;
	uint64_t late[SW_VV_MAX / 64];
	struct sw_vv_map *m1, *m2;
	struct sw_vv_list l;
	int s100, s200, s300;

	(void)state;
	assert_non_null(st);
	m1 = build(NULL, "100:5000,200:6000", st, late);
	assert_non_null(m1);
	assert_int_equal(m1->n, 2);
	s100 = sw_vv_slot_by_vid(m1, 100);
	s200 = sw_vv_slot_by_vid(m1, 200);
	assert_true(s100 >= 0 && s200 >= 0 && s100 != s200);
	assert_int_equal(sw_vv_slot_by_vid(m1, 300), -1);
	assert_int_equal(sw_vv_slot_by_vid(m1, 0), -1);
	assert_int_equal(m1->seg[s100], SW_VX_SEG_BASE + 0);     /* 5000 % 1000 */
	sw_vv_map_free(m1);

	m1 = build(NULL, "100:5001,200:6002", st, late);
	s100 = sw_vv_slot_by_vid(m1, 100);
	s200 = sw_vv_slot_by_vid(m1, 200);
	assert_int_equal(sw_vv_slot_by_seg(m1, SW_VX_SEG_BASE + 1), s100);
	assert_int_equal(sw_vv_slot_by_seg(m1, SW_VX_SEG_BASE + 2), s200);
	assert_int_equal(sw_vv_slot_by_seg(m1, SW_VX_SEG_BASE + 3), -1);
	assert_int_equal(sw_vv_slot_by_seg(m1, 100), -1);          /* a plain VLAN */
	assert_int_equal(sw_vv_slot_by_seg(m1, SW_VX_SEG_BASE + SW_VX_MAX_VNIS), -1);
	sw_vv_map_list(m1, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.b[0].vlan, 100);
	assert_int_equal(l.b[1].vni, 6002);

	/* PMD 3 counts on both; a rebuild that keeps 100 and drops 200 for 300
	 * keeps 100's slot and counters and gives 300 fresh ones. */
	st[3 * SW_VV_MAX + s100].rx_packets = 7;
	st[3 * SW_VV_MAX + s200].tx_packets = 9;
	m2 = build(m1, "100:5001,300:6003", st, late);
	assert_int_equal(sw_vv_slot_by_vid(m2, 100), s100);
	s300 = sw_vv_slot_by_vid(m2, 300);
	assert_true(s300 >= 0 && s300 != s100 && s300 != s200);   /* not the one just freed */
	assert_int_equal(sw_vv_slot_by_vid(m2, 200), -1);
	assert_int_equal(sw_vv_slot_by_seg(m2, SW_VX_SEG_BASE + 2), -1);
	for (unsigned i = 0; i < SW_VV_MAX / 64; i++)
		assert_int_equal(late[i], 0);
	sw_vv_stats_sum(m2, (unsigned)s100, &sum);
	assert_int_equal(sum.rx_packets, 7);
	sw_vv_stats_sum(m2, (unsigned)s300, &sum);
	assert_int_equal(sum.rx_packets + sum.tx_packets, 0);
	sw_vv_map_free(m1);
	sw_vv_map_free(m2);

	/* Changing a binding's VNI is a new binding: new slot. */
	m1 = build(NULL, "100:5001", st, late);
	s100 = sw_vv_slot_by_vid(m1, 100);
	m2 = build(m1, "100:5004", st, late);
	assert_int_not_equal(sw_vv_slot_by_vid(m2, 100), s100);
	assert_int_equal(sw_vv_slot_by_seg(m2, SW_VX_SEG_BASE + 4), sw_vv_slot_by_vid(m2, 100));
	sw_vv_map_free(m1);
	sw_vv_map_free(m2);
	sw_vv_stats_free(st);
}

static void test_map_full_reuses_late(void **state)
{
	struct sw_vv_stats *st = sw_vv_stats_alloc();
	uint64_t late[SW_VV_MAX / 64];
	char *a = malloc(SW_VV_TEXT_MAX), *b = malloc(SW_VV_TEXT_MAX);
	struct sw_vv_map *m1, *m2;
	size_t na = 0, nb = 0;
	unsigned marked = 0;
	int s;

	(void)state;
	/* Every slot used; the new list swaps VLAN 1's VNI: the only slot left
	 * is the one VLAN 1's old binding frees, zeroed only after the grace
	 * period (late). */
	for (unsigned i = 1; i <= SW_VV_MAX; i++) {
		na += (size_t)sprintf(a + na, "%s%u:%u", i > 1 ? "," : "", i, i);
		nb += (size_t)sprintf(b + nb, "%s%u:%u", i > 1 ? "," : "", i, i == 1 ? 999 : i);
	}
	m1 = build(NULL, a, st, late);
	s = sw_vv_slot_by_vid(m1, 1);
	st[s].rx_packets = 5;
	m2 = build(m1, b, st, late);
	assert_int_equal(sw_vv_slot_by_vid(m2, 1), s);
	assert_int_equal(m2->b[s].vni, 999);
	for (unsigned i = 0; i < SW_VV_MAX; i++)
		marked += (unsigned)(late[i / 64] >> (i % 64) & 1);
	assert_int_equal(marked, 1);
	assert_true(late[s / 64] >> (s % 64) & 1);
	assert_int_equal(st[s].rx_packets, 5);          /* a PMD may still be writing */
	sw_vv_stats_zero(st, late);
	assert_int_equal(st[s].rx_packets, 0);
	sw_vv_map_free(m1);
	sw_vv_map_free(m2);
	sw_vv_stats_free(st);
	free(a);
	free(b);
}

static void test_view_mask(void **state)
{
	static const unsigned vids[] = { 100, 200, 300 };
	struct sw_vv_stats *st = sw_vv_stats_alloc();
	uint64_t late[SW_VV_MAX / 64];
	struct sw_port_cfg c;

	(void)state;
	trunk_cfg(&c, NULL, 0);
	c.vv = build(NULL, "100:5000,200:6000", st, late);
	sw_vv_view_mask(&c);
	assert_false(c.trunks_all);
	assert_false(c.trunks[100 / 64] >> (100 % 64) & 1);
	assert_false(c.trunks[200 / 64] >> (200 % 64) & 1);
	assert_true(c.trunks[0] & 1);                  /* VLAN 0: untagged stays */
	assert_true(c.trunks[300 / 64] >> (300 % 64) & 1);
	assert_true(c.trunks[4095 / 64] >> (4095 % 64) & 1);
	sw_vv_map_free(c.vv);

	trunk_cfg(&c, vids, 3);
	c.vv = build(NULL, "300:5000", st, late);
	sw_vv_view_mask(&c);
	assert_true(c.trunks[100 / 64] >> (100 % 64) & 1);
	assert_false(c.trunks[300 / 64] >> (300 % 64) & 1);
	assert_false(c.trunks[0] & 1);
	sw_vv_map_free(c.vv);
	sw_vv_stats_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_limit),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_map_full_reuses_late),
		cmocka_unit_test(test_view_mask),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
