/* test_sw_flow_parse.c — the ovs-ofctl flow syntax: every field family and
 * action parses, formats and parses back to the same flow-mod; every error
 * names the token it refused; prerequisites are enforced.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sw_flow.h"

static struct sw_flow_mod fm, fm2;

static void round_trip(const char *s)
{
	char err[256], buf[4096], buf2[4096];
	int ret = sw_flow_parse(s, SW_FC_ADD, &fm, err, sizeof(err));

	if (ret)
		fail_msg("'%s': %s", s, err);
	sw_flow_mod_format(&fm, buf, sizeof(buf));
	ret = sw_flow_parse(buf, SW_FC_ADD, &fm2, err, sizeof(err));
	if (ret)
		fail_msg("re-parse of '%s' (from '%s'): %s", buf, s, err);
	sw_match_normalize(&fm.match);
	sw_match_normalize(&fm2.match);
	if (!sw_match_equal(&fm.match, &fm2.match))
		fail_msg("match differs after round trip: '%s' -> '%s'", s, buf);
	assert_int_equal(fm.priority, fm2.priority);
	assert_int_equal(fm.table_id, fm2.table_id);
	assert_true(fm.cookie == fm2.cookie);
	assert_int_equal(fm.idle_timeout, fm2.idle_timeout);
	assert_int_equal(fm.hard_timeout, fm2.hard_timeout);
	assert_int_equal(sw_insts_size(&fm.insts), sw_insts_size(&fm2.insts));
	sw_flow_mod_format(&fm2, buf2, sizeof(buf2));
	assert_string_equal(buf, buf2);
}

static void test_round_trips(void **state)
{
	static const char *const flows[] = {
		"table=0,priority=100,in_port=1,dl_vlan=10,actions=strip_vlan,output:2",
		"actions=NORMAL",
		"priority=0,actions=drop",
		"dl_src=02:00:00:00:00:01,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=FLOOD",
		"dl_type=0x88cc,actions=CONTROLLER:65535",
		"dl_vlan_pcp=5,actions=output:3",
		"vlan_tci=0x0000/0x1000,actions=mod_vlan_vid:20,output:2",
		"ip,nw_src=10.0.0.0/8,nw_dst=192.168.1.1,actions=dec_ttl,output:1",
		"ip,nw_src=10.0.0.0/255.0.255.0,actions=output:1",
		"tcp,tp_src=1234,tp_dst=80,actions=set_field:8080->tcp_dst,output:2",
		"udp,tp_dst=0x1000/0xf000,actions=mod_tp_dst:53,output:2",
		"sctp6,tp_dst=9,actions=output:2",
		"ip,ip_dscp=46,actions=mod_nw_tos:32,output:2",
		"icmp,icmp_type=8,icmp_code=0,actions=output:2",
		"icmp6,icmpv6_type=135,actions=output:2",
		"arp,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/24,arp_sha=02:00:00:00:00:01,"
		"arp_tha=00:00:00:00:00:00,actions=ALL",
		"ipv6,ipv6_src=2001:db8::/32,ipv6_dst=fe80::1,actions=set_field:2001:db8::2->ipv6_dst,"
		"output:1",
		"table=1,metadata=0x5/0xff,tun_id=0x1234,actions=output:2",
		"table=0,cookie=0xabc,idle_timeout=10,hard_timeout=20,priority=7,actions="
		"write_metadata:0x5/0xff,goto_table:1",
		"in_port=1,actions=push_vlan:0x8100,set_field:4106->vlan_vid,output:2",
		"in_port=1,actions=clear_actions,write_actions(set_field:02:00:00:00:00:09->eth_dst,"
		"output:2),goto_table:3",
		"in_port=1,actions=group:7",
		"in_port=2,actions=IN_PORT,LOCAL",
		"ip,actions=set_field:10.1.1.1->ipv4_src,set_field:3->vlan_pcp,output:2",
		"arp,actions=set_field:2->arp_op,output:1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++)
		round_trip(flows[i]);
}

static void test_fields_land_in_the_key(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(sw_flow_parse("in_port=3,dl_vlan=10,tcp,tp_dst=80,nw_src=10.0.0.0/24,"
				       "actions=output:2", SW_FC_ADD, &fm, err, sizeof(err)), 0);
	assert_int_equal(fm.match.key.in_port, 3);
	assert_int_equal(fm.match.mask.in_port, 0xffff);
	assert_int_equal(fm.match.key.vlan_tci, SW_VLAN_PRESENT | 10);
	assert_int_equal(fm.match.mask.vlan_tci, 0x1fff);
	assert_int_equal(fm.match.key.dl_type, SW_ETH_TYPE_IPV4);
	assert_int_equal(fm.match.key.nw_proto, 6);
	assert_int_equal(fm.match.key.tp_dst, __builtin_bswap16(80));
	assert_int_equal(fm.match.key.nw_src, __builtin_bswap32(0x0a000000));
	assert_int_equal(fm.match.mask.nw_src, __builtin_bswap32(0xffffff00));
	assert_int_equal(fm.insts.n_apply, 1);
	assert_int_equal(fm.insts.acts[0].type, SW_ACT_OUTPUT);
	assert_int_equal(fm.insts.acts[0].arg, 2);

	assert_int_equal(sw_flow_parse("dl_vlan=0xffff,actions=drop", SW_FC_ADD, &fm, err,
				       sizeof(err)), 0);
	assert_int_equal(fm.match.key.vlan_tci, 0);
	assert_int_equal(fm.match.mask.vlan_tci, 0xffff);
	assert_int_equal(fm.insts.n_apply, 0);

	/* Delete/dump: no table means all tables; cookie exact by default. */
	assert_int_equal(sw_flow_parse("cookie=0x5,in_port=1", SW_FC_DELETE, &fm, err, sizeof(err)), 0);
	assert_int_equal(fm.table_id, SW_TABLE_ALL);
	assert_true(fm.cookie_mask == UINT64_MAX);
	assert_int_equal(sw_flow_parse("", SW_FC_DELETE, &fm, err, sizeof(err)), 0);
}

struct bad {
	const char *flow;
	const char *needle;
};

static void test_errors_name_the_token(void **state)
{
	static const struct bad bad[] = {
		{ "nw_scr=10.0.0.1,actions=drop", "unknown field 'nw_scr'" },
		{ "dl_vlan=300x,actions=drop", "bad value '300x' for dl_vlan" },
		{ "dl_vlan=5000,actions=drop", "bad value '5000' for dl_vlan" },
		{ "dl_vlan_pcp=8,actions=drop", "bad value '8' for dl_vlan_pcp" },
		{ "priority=70000,actions=drop", "bad value '70000' for priority" },
		{ "table=64,actions=drop", "bad value '64' for table" },
		{ "in_port=x,actions=drop", "bad value 'x' for in_port" },
		{ "dl_src=02:00:00:00:00,actions=drop", "bad value '02:00:00:00:00' for dl_src" },
		{ "ip,nw_src=10.0.0.256,actions=drop", "bad value '10.0.0.256' for nw_src" },
		{ "ip,nw_src=10.0.0.0/33,actions=drop", "bad mask '33' for nw_src" },
		{ "tp_dst=80,actions=drop", "field 'tp_dst' requires tcp, udp or sctp" },
		{ "tcp_dst=80,actions=drop", "field 'tcp_dst' requires tcp" },
		{ "nw_src=10.0.0.1,actions=drop", "field 'nw_src' requires ip or arp" },
		{ "ipv6_src=::1,actions=drop", "field 'ipv6_src' requires ipv6" },
		{ "in_port=1/1,actions=drop", "bad value '1/1' for in_port" },
		{ "dl_type=0x800/0xff,actions=drop", "field 'dl_type' cannot be masked" },
		{ "in_port=1,in_port=2,actions=drop", "field 'in_port' given twice" },
		{ "in_port=1", "missing 'actions='" },
		{ "in_port=1,actions=", "empty actions" },
		{ "actions=output:0", "bad value '0' for output" },
		{ "actions=outptu:2", "unknown action 'outptu:2'" },
		{ "actions=goto_table:0", "bad value '0' for goto_table" },
		{ "table=3,actions=goto_table:2", "bad value '2' for goto_table" },
		{ "actions=goto_table:2,output:1", "after goto_table" },
		{ "actions=output:1,drop", "'drop' must be the only action" },
		{ "actions=set_field:1->nw_scr", "unknown field 'nw_scr'" },
		{ "actions=set_field:80->tcp_dst", "requires tcp" },
		{ "actions=push_vlan:0x0800", "bad value '0x0800' for push_vlan" },
		{ "actions=mod_vlan_vid:4096", "bad value '4096' for mod_vlan_vid" },
		{ "ip=1,actions=drop", "'ip' takes no value" },
		{ "bogus,actions=drop", "unknown field 'bogus'" },
		{ "idle_timeout=-1,actions=drop", "bad value '-1' for idle_timeout" },
		{ "cookie=zz,actions=drop", "bad value 'zz' for cookie" },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = sw_flow_parse(bad[i].flow, SW_FC_ADD, &fm, err, sizeof(err));

		if (ret != -EINVAL || !strstr(err, bad[i].needle))
			fail_msg("'%s': got %d '%s', want '%s'", bad[i].flow, ret, err, bad[i].needle);
	}
	assert_int_equal(sw_flow_parse("in_port=1,actions=drop", SW_FC_DELETE, &fm, err,
				       sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unexpected 'actions='"));
}

static void test_too_many_actions(void **state)
{
	char s[2048] = "actions=";
	char err[256];

	(void)state;
	for (int i = 0; i < SW_MAX_ACTIONS + 1; i++)
		strcat(s, "output:1,");
	assert_int_equal(sw_flow_parse(s, SW_FC_ADD, &fm, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too many actions"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_fields_land_in_the_key),
		cmocka_unit_test(test_errors_name_the_token),
		cmocka_unit_test(test_too_many_actions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
