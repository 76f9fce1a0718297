/* test_sw_ofa.c — the translation between the OpenFlow codec's structs and
 * the switch's flow API (sw_ofa.c): every OXM field the data path matches
 * round-trips ofa_match -> sw_match -> ofa_match; fields sharing a key member
 * come back under the name the match's protocol gives them; instructions and
 * actions round-trip; what the data path cannot do gets the spec's error.
 *
 * Includes sw_ofa.c; no EAL is initialised and no agent is created (only the
 * pure translation functions are called).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../vswitch/sw_ofa.c"

static void round_trip(const struct ofa_match *in)
{
	struct sw_match m;
	struct ofa_match out;
	char a[512], b[512];

	assert_int_equal(match_from_ofa(in, &m), 0);
	match_to_ofa(&m, &out);
	ofa_match_format(in, a, sizeof(a));
	ofa_match_format(&out, b, sizeof(b));
	assert_string_equal(a, b);
	assert_true(ofa_match_equal(in, &out));
}

static void test_match_fields_round_trip(void **state)
{
	struct ofa_match m;
	uint64_t mask;
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 1 }, mmask[6] = { 0xff, 0xff, 0xff, 0, 0, 0 };
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 }, v6m[16] = { 0xff, 0xff, 0xff, 0xff };

	(void)state;
	ofa_match_init(&m);
	ofa_match_set_u64(&m, OFPXMT_OFB_IN_PORT, 3, NULL);
	mask = 0xff00;
	ofa_match_set_u64(&m, OFPXMT_OFB_METADATA, 0x1200, &mask);
	ofa_match_set_bytes(&m, OFPXMT_OFB_ETH_SRC, mac, NULL);
	mac[5] = 0;
	ofa_match_set_bytes(&m, OFPXMT_OFB_ETH_DST, mac, mmask);
	ofa_match_set_u64(&m, OFPXMT_OFB_ETH_TYPE, 0x0800, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_VLAN_VID, 0x1005, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_VLAN_PCP, 3, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_IP_DSCP, 46, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_IP_PROTO, 6, NULL);
	mask = 0xffff0000;
	ofa_match_set_u64(&m, OFPXMT_OFB_IPV4_SRC, 0x0a010000, &mask);
	ofa_match_set_u64(&m, OFPXMT_OFB_IPV4_DST, 0xc0a80107, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_TCP_SRC, 1024, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_TCP_DST, 80, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_TUNNEL_ID, 5000, NULL);
	round_trip(&m);

	/* UDP and SCTP ports share the key member with TCP: named by ip_proto. */
	ofa_match_init(&m);
	ofa_match_set_u64(&m, OFPXMT_OFB_ETH_TYPE, 0x86dd, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_IP_PROTO, 17, NULL);
	ofa_match_set_bytes(&m, OFPXMT_OFB_IPV6_SRC, v6, v6m);
	ofa_match_set_u64(&m, OFPXMT_OFB_UDP_DST, 4789, NULL);
	round_trip(&m);
	ofa_match_init(&m);
	ofa_match_set_u64(&m, OFPXMT_OFB_ETH_TYPE, 0x0800, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_IP_PROTO, 132, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_SCTP_SRC, 9, NULL);
	round_trip(&m);
	ofa_match_init(&m);
	ofa_match_set_u64(&m, OFPXMT_OFB_ETH_TYPE, 0x0800, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_IP_PROTO, 1, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_ICMPV4_TYPE, 8, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_ICMPV4_CODE, 0, NULL);
	round_trip(&m);
	ofa_match_init(&m);
	ofa_match_set_u64(&m, OFPXMT_OFB_ETH_TYPE, 0x86dd, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_IP_PROTO, 58, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_ICMPV6_TYPE, 128, NULL);
	round_trip(&m);
	/* ARP shares nw_src/nw_dst with IPv4. */
	ofa_match_init(&m);
	ofa_match_set_u64(&m, OFPXMT_OFB_ETH_TYPE, 0x0806, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_ARP_OP, 1, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_ARP_SPA, 0x0a000001, NULL);
	mask = 0xffffff00;
	ofa_match_set_u64(&m, OFPXMT_OFB_ARP_TPA, 0x0a000000, &mask);
	ofa_match_set_bytes(&m, OFPXMT_OFB_ARP_SHA, mac, NULL);
	round_trip(&m);
	/* Untagged only (OFPVID_NONE) and "any tag" (0x1000/0x1000). */
	ofa_match_init(&m);
	ofa_match_set_u64(&m, OFPXMT_OFB_VLAN_VID, 0, NULL);
	round_trip(&m);
	ofa_match_init(&m);
	mask = 0x1000;
	ofa_match_set_u64(&m, OFPXMT_OFB_VLAN_VID, 0x1000, &mask);
	round_trip(&m);
	/* Match-all. */
	ofa_match_init(&m);
	round_trip(&m);
}

static void test_unsupported_fields_refused(void **state)
{
	static const unsigned fields[] = { OFPXMT_OFB_IN_PHY_PORT, OFPXMT_OFB_IP_ECN,
					   OFPXMT_OFB_IPV6_FLABEL, OFPXMT_OFB_MPLS_LABEL,
					   OFPXMT_OFB_PBB_ISID, OFPXMT_OFB_IPV6_EXTHDR };
	struct sw_match sm;

	(void)state;
	for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		struct ofa_match m;

		ofa_match_init(&m);
		m.present = 1ull << fields[i];
		assert_int_equal(match_from_ofa(&m, &sm), ofa_err(OFPET_BAD_MATCH, OFPBMC_BAD_FIELD));
	}
}

static void test_instructions_round_trip(void **state)
{
	struct ofa_action apply[6], write[2], back[SW_MAX_ACTIONS];
	struct ofa_instructions in, out;
	struct sw_insts si;

	(void)state;
	memset(apply, 0, sizeof(apply));
	apply[0].type = OFPAT_POP_VLAN;
	apply[1].type = OFPAT_PUSH_VLAN;
	apply[1].u.ethertype = 0x88a8;
	apply[2].type = OFPAT_SET_FIELD;
	apply[2].u.set_field.field = OFPXMT_OFB_VLAN_VID;
	apply[2].u.set_field.value.u64 = 0x1000 | 100;
	apply[3].type = OFPAT_DEC_NW_TTL;
	apply[4].type = OFPAT_OUTPUT;
	apply[4].u.output.port = OFPP_CONTROLLER;
	apply[4].u.output.max_len = 64;
	apply[5].type = OFPAT_GROUP;
	apply[5].u.group_id = 7;
	memset(write, 0, sizeof(write));
	write[0].type = OFPAT_SET_FIELD;
	write[0].u.set_field.field = OFPXMT_OFB_IPV4_DST;
	write[0].u.set_field.value.u64 = 0x0a000002;
	write[1].type = OFPAT_OUTPUT;
	write[1].u.output.port = 2;
	memset(&in, 0, sizeof(in));
	in.present = 1u << OFPIT_APPLY_ACTIONS | 1u << OFPIT_CLEAR_ACTIONS |
		     1u << OFPIT_WRITE_ACTIONS | 1u << OFPIT_WRITE_METADATA | 1u << OFPIT_GOTO_TABLE;
	in.apply.actions = apply;
	in.apply.n = 6;
	in.write.actions = write;
	in.write.n = 2;
	in.metadata = 5;
	in.metadata_mask = 0xff;
	in.goto_table = 3;
	assert_int_equal(insts_from_ofa(&in, &si), 0);
	assert_int_equal(si.n_apply, 6);
	assert_int_equal(si.n_write, 2);
	assert_int_equal(si.acts[4].ethertype, 64);    /* CONTROLLER max_len */
	insts_to_ofa(&si, &out, back);
	assert_int_equal(out.present, in.present);
	assert_int_equal(out.apply.n, 6);
	assert_int_equal(out.write.n, 2);
	assert_memory_equal(out.apply.actions, apply, sizeof(apply));
	assert_memory_equal(out.write.actions, write, sizeof(write));
	assert_int_equal(out.goto_table, 3);
	assert_int_equal(out.metadata_mask, 0xff);
}

static void test_unsupported_actions_refused(void **state)
{
	struct ofa_action a;
	struct sw_action s;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.type = OFPAT_SET_QUEUE;
	assert_int_equal(action_from_ofa(&a, &s), ofa_err(OFPET_BAD_ACTION, OFPBAC_BAD_TYPE));
	a.type = OFPAT_PUSH_MPLS;
	assert_int_equal(action_from_ofa(&a, &s), ofa_err(OFPET_BAD_ACTION, OFPBAC_BAD_TYPE));
	a.type = OFPAT_SET_FIELD;
	a.u.set_field.field = OFPXMT_OFB_MPLS_LABEL;
	assert_int_equal(action_from_ofa(&a, &s), ofa_err(OFPET_BAD_ACTION, OFPBAC_BAD_SET_TYPE));
	a.type = OFPAT_OUTPUT;
	a.u.output.port = 5000;                     /* above the switch's port numbers */
	assert_int_equal(action_from_ofa(&a, &s), ofa_err(OFPET_BAD_ACTION, OFPBAC_BAD_OUT_PORT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_fields_round_trip),
		cmocka_unit_test(test_unsupported_fields_refused),
		cmocka_unit_test(test_instructions_round_trip),
		cmocka_unit_test(test_unsupported_actions_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
