/* test_ofa_codec.c — the OpenFlow 1.3 codec: round trips of every message
 * the agent decodes or encodes, REPLY_MORE splitting, and one test per class
 * of malformed input with the exact (type, code) the specification names. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ofa_internal.h"

#define ERR(T, C) ofa_err((T), (C))

static void assert_err(int got, int want)
{
	char a[96], b[96];

	if (got != want)
		fail_msg("got %s, want %s", ofa_err_name(got, a, sizeof(a)),
			 ofa_err_name(want, b, sizeof(b)));
}

/* ---- raw message builders ---- */

static void put_be16(struct ofa_buf *b, uint16_t v)
{
	uint8_t p[2];

	ofa_put16(p, v);
	assert_non_null(ofa_buf_put(b, p, 2));
}

static void put_be32(struct ofa_buf *b, uint32_t v)
{
	uint8_t p[4];

	ofa_put32(p, v);
	assert_non_null(ofa_buf_put(b, p, 4));
}

static void put_oxm(struct ofa_buf *b, unsigned field, bool hasmask, uint8_t len, const void *val)
{
	put_be32(b, ofp_oxm_header(OFPXMC_OPENFLOW_BASIC, (uint8_t)field, hasmask, len));
	assert_non_null(ofa_buf_put(b, val, len));
}

/* A FLOW_MOD ADD to table 0 with the given OXM bytes and instruction bytes. */
static void raw_flow_mod(struct ofa_buf *b, const struct ofa_buf *oxms, const struct ofa_buf *insts)
{
	long start;
	size_t m;
	uint8_t *p;

	ofa_buf_init(b);
	start = ofa_msg_start(b, OFPT_FLOW_MOD, 7);
	assert_true(start >= 0);
	p = ofa_buf_put(b, NULL, 40);
	assert_non_null(p);
	ofa_put16(b->data + 30, 100);               /* priority */
	ofa_put32(b->data + 32, OFP_NO_BUFFER);     /* buffer_id */
	ofa_put32(b->data + 36, OFPP_ANY);
	ofa_put32(b->data + 40, OFPG_ANY);
	m = b->len;
	put_be16(b, OFPMT_OXM);
	put_be16(b, (uint16_t)(4 + (oxms ? oxms->len : 0)));
	if (oxms && oxms->len)
		assert_non_null(ofa_buf_put(b, oxms->data, oxms->len));
	assert_int_equal(ofa_buf_pad8(b, m), 0);
	if (insts && insts->len)
		assert_non_null(ofa_buf_put(b, insts->data, insts->len));
	assert_int_equal(ofa_msg_finish(b, start), 0);
}

static int decode_fm(const struct ofa_buf *b)
{
	struct ofa_flow_mod fm;
	int err = ofa_msg_check_header(b->data, b->len);

	if (!err)
		err = ofa_flow_mod_decode(b->data, b->len, &fm);
	ofa_flow_mod_fini(&fm);
	return err;
}

/* Match bytes: eth_type=0x0800 (+ more appended by the caller). */
static void oxm_ipv4(struct ofa_buf *o)
{
	uint8_t et[2] = { 0x08, 0x00 };

	ofa_buf_init(o);
	put_oxm(o, OFPXMT_OFB_ETH_TYPE, false, 2, et);
}

static int decode_match_oxms(const struct ofa_buf *o)
{
	struct ofa_buf b;
	int err;

	raw_flow_mod(&b, o, NULL);
	err = decode_fm(&b);
	ofa_buf_fini(&b);
	return err;
}

static int decode_insts(const struct ofa_buf *insts)
{
	struct ofa_buf b, o;
	int err;

	oxm_ipv4(&o);
	raw_flow_mod(&b, &o, insts);
	err = decode_fm(&b);
	ofa_buf_fini(&b);
	ofa_buf_fini(&o);
	return err;
}

/* One APPLY_ACTIONS instruction around the given action bytes. */
static int decode_actions(const void *acts, size_t len)
{
	struct ofa_buf in;
	int err;

	ofa_buf_init(&in);
	put_be16(&in, OFPIT_APPLY_ACTIONS);
	put_be16(&in, (uint16_t)(8 + len));
	put_be32(&in, 0);
	if (len)
		assert_non_null(ofa_buf_put(&in, acts, len));
	err = decode_insts(&in);
	ofa_buf_fini(&in);
	return err;
}

/* ---- round trips ---- */

static void build_rich_flow_mod(struct ofa_flow_mod *fm)
{
	static const uint8_t mac[6] = { 0, 0x11, 0x22, 0x33, 0x44, 0x55 };
	static const uint8_t macmask[6] = { 0xff, 0xff, 0xff, 0, 0, 0 };
	struct ofa_action a;
	uint64_t vmask = OFPVID_PRESENT;

	memset(fm, 0, sizeof(*fm));
	fm->cookie = 0x1122334455667788ull;
	fm->cookie_mask = UINT64_MAX;
	fm->table_id = 1;
	fm->command = OFPFC_ADD;
	fm->idle_timeout = 30;
	fm->hard_timeout = 300;
	fm->priority = 1234;
	fm->buffer_id = OFP_NO_BUFFER;
	fm->out_port = OFPP_ANY;
	fm->out_group = OFPG_ANY;
	fm->flags = OFPFF_SEND_FLOW_REM | OFPFF_CHECK_OVERLAP;
	ofa_match_init(&fm->match);
	ofa_match_set_u64(&fm->match, OFPXMT_OFB_IN_PORT, 7, NULL);
	ofa_match_set_bytes(&fm->match, OFPXMT_OFB_ETH_SRC, mac, macmask);
	ofa_match_set_u64(&fm->match, OFPXMT_OFB_ETH_TYPE, 0x0800, NULL);
	ofa_match_set_u64(&fm->match, OFPXMT_OFB_VLAN_VID, OFPVID_PRESENT, &vmask);
	ofa_match_set_u64(&fm->match, OFPXMT_OFB_IP_PROTO, 17, NULL);
	{
		uint64_t m24 = 0xffffff00;

		ofa_match_set_u64(&fm->match, OFPXMT_OFB_IPV4_DST, 0x0a000100, &m24);
	}
	ofa_match_set_u64(&fm->match, OFPXMT_OFB_UDP_DST, 4789, NULL);
	ofa_match_set_u64(&fm->match, OFPXMT_OFB_TUNNEL_ID, 5000, NULL);
	fm->insts.present = (1u << OFPIT_APPLY_ACTIONS) | (1u << OFPIT_CLEAR_ACTIONS) |
			    (1u << OFPIT_WRITE_ACTIONS) | (1u << OFPIT_WRITE_METADATA) |
			    (1u << OFPIT_GOTO_TABLE);
	memset(&a, 0, sizeof(a));
	a.type = OFPAT_PUSH_VLAN;
	a.u.ethertype = 0x8100;
	ofa_actions_add(&fm->insts.apply, &a);
	memset(&a, 0, sizeof(a));
	a.type = OFPAT_SET_FIELD;
	a.u.set_field.field = OFPXMT_OFB_IPV4_DST;
	a.u.set_field.value.u64 = 0x0a000202;
	ofa_actions_add(&fm->insts.apply, &a);
	memset(&a, 0, sizeof(a));
	a.type = OFPAT_OUTPUT;
	a.u.output.port = OFPP_CONTROLLER;
	a.u.output.max_len = 64;
	ofa_actions_add(&fm->insts.apply, &a);
	memset(&a, 0, sizeof(a));
	a.type = OFPAT_GROUP;
	a.u.group_id = 9;
	ofa_actions_add(&fm->insts.write, &a);
	fm->insts.metadata = 0xabcd;
	fm->insts.metadata_mask = 0xffff;
	fm->insts.goto_table = 3;
}

static void test_flow_mod_round_trip(void **state)
{
	struct ofa_flow_mod in, out;
	struct ofa_buf b;
	char s[512];
	size_t i;

	(void)state;
	build_rich_flow_mod(&in);
	ofa_buf_init(&b);
	assert_int_equal(ofa_flow_mod_encode(&in, 42, &b), 0);
	assert_int_equal(b.len % 8, 0);
	assert_int_equal(ofa_msg_check_header(b.data, b.len), 0);
	assert_int_equal(ofa_get32(b.data + 4), 42);
	assert_int_equal(ofa_flow_mod_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.cookie, in.cookie);
	assert_int_equal(out.table_id, 1);
	assert_int_equal(out.priority, 1234);
	assert_int_equal(out.idle_timeout, 30);
	assert_int_equal(out.hard_timeout, 300);
	assert_int_equal(out.flags, in.flags);
	assert_true(ofa_match_equal(&in.match, &out.match));
	assert_int_equal(out.match.masked, in.match.masked);
	assert_int_equal(out.insts.present, in.insts.present);
	assert_int_equal(out.insts.apply.n, 3);
	for (i = 0; i < 3; i++)
		assert_memory_equal(&out.insts.apply.actions[i], &in.insts.apply.actions[i],
				    sizeof(struct ofa_action));
	assert_int_equal(out.insts.write.n, 1);
	assert_int_equal(out.insts.write.actions[0].u.group_id, 9);
	assert_int_equal(out.insts.metadata, 0xabcd);
	assert_int_equal(out.insts.metadata_mask, 0xffff);
	assert_int_equal(out.insts.goto_table, 3);
	assert_true(ofa_instructions_output_to(&out.insts, OFPP_CONTROLLER));
	assert_false(ofa_instructions_output_to(&out.insts, 2));
	assert_true(ofa_instructions_group_to(&out.insts, 9));
	ofa_match_format(&out.match, s, sizeof(s));
	assert_string_equal(s, "in_port=7,eth_src=00:11:22:00:00:00/ff:ff:ff:00:00:00,"
			       "eth_type=0x800,vlan_vid=4096/4096,ip_proto=17,"
			       "ipv4_dst=10.0.1.0/255.255.255.0,udp_dst=4789,tunnel_id=0x1388");
	/* Re-encoding the decoded form gives the same bytes. */
	{
		struct ofa_buf b2;

		ofa_buf_init(&b2);
		assert_int_equal(ofa_flow_mod_encode(&out, 42, &b2), 0);
		assert_int_equal(b2.len, b.len);
		assert_memory_equal(b2.data, b.data, b.len);
		ofa_buf_fini(&b2);
	}
	ofa_flow_mod_fini(&in);
	ofa_flow_mod_fini(&out);
	ofa_buf_fini(&b);
}

static void test_match_all_fields_round_trip(void **state)
{
	struct ofa_match m, out;
	struct ofa_buf b;
	size_t used = 0;
	uint8_t v6[16];

	(void)state;
	ofa_match_init(&m);
	inet_pton(AF_INET6, "2001:db8::1", v6);
	ofa_match_set_u64(&m, OFPXMT_OFB_ETH_TYPE, 0x86dd, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_IP_PROTO, 58, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_ICMPV6_TYPE, 135, NULL);
	ofa_match_set_bytes(&m, OFPXMT_OFB_IPV6_ND_TARGET, v6, NULL);
	ofa_match_set_bytes(&m, OFPXMT_OFB_IPV6_SRC, v6, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_IPV6_FLABEL, 0xfffff, NULL);
	ofa_match_set_u64(&m, OFPXMT_OFB_IP_DSCP, 46, NULL);
	ofa_buf_init(&b);
	assert_int_equal(ofa_match_encode(&m, &b), 0);
	assert_int_equal(b.len % 8, 0);
	assert_int_equal(ofa_match_decode(b.data, b.len, &out, &used), 0);
	assert_int_equal(used, b.len);
	assert_true(ofa_match_equal(&m, &out));
	/* An empty match is 4 bytes of header plus 4 of padding. */
	b.len = 0;
	ofa_match_init(&m);
	assert_int_equal(ofa_match_encode(&m, &b), 0);
	assert_int_equal(b.len, 8);
	assert_int_equal(ofa_match_decode(b.data, b.len, &out, &used), 0);
	assert_int_equal(out.present, 0);
	ofa_buf_fini(&b);
}

static void test_match_covers(void **state)
{
	struct ofa_match wide, narrow, other;
	uint64_t m8 = 0xff000000;

	(void)state;
	ofa_match_init(&wide);
	ofa_match_set_u64(&wide, OFPXMT_OFB_ETH_TYPE, 0x0800, NULL);
	ofa_match_set_u64(&wide, OFPXMT_OFB_IPV4_DST, 0x0a000000, &m8);
	ofa_match_init(&narrow);
	ofa_match_set_u64(&narrow, OFPXMT_OFB_ETH_TYPE, 0x0800, NULL);
	ofa_match_set_u64(&narrow, OFPXMT_OFB_IPV4_DST, 0x0a010203, NULL);
	ofa_match_set_u64(&narrow, OFPXMT_OFB_IP_PROTO, 6, NULL);
	other = narrow;
	other.value[OFPXMT_OFB_IPV4_DST].u64 = 0x0b010203;
	assert_true(ofa_match_covers(&wide, &narrow));
	assert_false(ofa_match_covers(&narrow, &wide));
	assert_false(ofa_match_covers(&wide, &other));
	ofa_match_init(&other);
	assert_true(ofa_match_covers(&other, &wide));  /* match-all covers all */
}

static void test_packet_out_round_trip(void **state)
{
	static const uint8_t pkt[60] = { 1, 2, 3 };
	struct ofa_packet_out po = { .buffer_id = OFP_NO_BUFFER, .in_port = OFPP_CONTROLLER,
				     .data = pkt, .data_len = sizeof(pkt) }, out;
	struct ofa_action a = { .type = OFPAT_OUTPUT, .u.output = { OFPP_TABLE, 0 } };
	struct ofa_buf b;

	(void)state;
	ofa_actions_add(&po.actions, &a);
	ofa_buf_init(&b);
	assert_int_equal(ofa_packet_out_encode(&po, 1, &b), 0);
	assert_int_equal(ofa_msg_check_header(b.data, b.len), 0);
	assert_int_equal(ofa_packet_out_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.in_port, OFPP_CONTROLLER);
	assert_int_equal(out.actions.n, 1);
	assert_int_equal(out.actions.actions[0].u.output.port, OFPP_TABLE);
	assert_int_equal(out.data_len, sizeof(pkt));
	assert_memory_equal(out.data, pkt, sizeof(pkt));
	/* actions_len beyond the message. */
	ofa_put16(b.data + 16, 200);
	ofa_packet_out_fini(&out);
	assert_err(ofa_packet_out_decode(b.data, b.len, &out), ERR(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN));
	ofa_packet_out_fini(&out);
	ofa_packet_out_fini(&po);
	ofa_buf_fini(&b);
}

static void test_group_mod_round_trip(void **state)
{
	struct ofa_bucket bk[2] = { { .weight = 10, .watch_port = OFPP_ANY, .watch_group = OFPG_ANY },
				    { .weight = 20, .watch_port = OFPP_ANY, .watch_group = OFPG_ANY } };
	struct ofa_group_mod gm = { .command = OFPGC_ADD, .type = OFPGT_SELECT, .group_id = 5,
				    .buckets = bk, .n_buckets = 2 }, out;
	struct ofa_action a = { .type = OFPAT_OUTPUT, .u.output = { 1, 0 } };
	struct ofa_buf b;

	(void)state;
	ofa_actions_add(&bk[0].actions, &a);
	a.u.output.port = 2;
	ofa_actions_add(&bk[1].actions, &a);
	ofa_buf_init(&b);
	assert_int_equal(ofa_group_mod_encode(&gm, 3, &b), 0);
	assert_int_equal(ofa_msg_check_header(b.data, b.len), 0);
	assert_int_equal(ofa_group_mod_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.type, OFPGT_SELECT);
	assert_int_equal(out.group_id, 5);
	assert_int_equal(out.n_buckets, 2);
	assert_int_equal(out.buckets[1].weight, 20);
	assert_int_equal(out.buckets[1].actions.actions[0].u.output.port, 2);
	ofa_group_mod_fini(&out);
	ofa_actions_fini(&bk[0].actions);
	ofa_actions_fini(&bk[1].actions);
	ofa_buf_fini(&b);
}

static void test_small_messages_round_trip(void **state)
{
	struct ofa_role r = { OFPCR_ROLE_MASTER, 0x8000000000000001ull }, ro;
	struct ofa_switch_config c = { OFPC_FRAG_DROP, 200 }, co;
	struct ofa_multipart_request mp = { .type = OFPMP_FLOW }, mo;
	uint64_t m = 0xffff0000;
	struct ofa_buf b;

	(void)state;
	ofa_buf_init(&b);
	assert_int_equal(ofa_role_encode(OFPT_ROLE_REQUEST, &r, 1, &b), 0);
	assert_int_equal(b.len, sizeof(struct ofp_role_request));
	assert_int_equal(ofa_role_decode(b.data, b.len, &ro), 0);
	assert_int_equal(ro.role, OFPCR_ROLE_MASTER);
	assert_int_equal(ro.generation_id, r.generation_id);

	b.len = 0;
	assert_int_equal(ofa_switch_config_encode(OFPT_SET_CONFIG, &c, 1, &b), 0);
	assert_int_equal(ofa_switch_config_decode(b.data, b.len, &co), 0);
	assert_int_equal(co.miss_send_len, 200);
	assert_int_equal(co.flags, OFPC_FRAG_DROP);

	b.len = 0;
	mp.u.flow.table_id = OFPTT_ALL;
	mp.u.flow.out_port = 3;
	mp.u.flow.out_group = OFPG_ANY;
	mp.u.flow.cookie = 5;
	mp.u.flow.cookie_mask = 7;
	ofa_match_init(&mp.u.flow.match);
	ofa_match_set_u64(&mp.u.flow.match, OFPXMT_OFB_METADATA, 0x12340000, &m);
	assert_int_equal(ofa_multipart_request_encode(&mp, 9, &b), 0);
	assert_int_equal(ofa_msg_check_header(b.data, b.len), 0);
	assert_int_equal(ofa_multipart_request_decode(b.data, b.len, &mo), 0);
	assert_int_equal(mo.type, OFPMP_FLOW);
	assert_int_equal(mo.u.flow.table_id, OFPTT_ALL);
	assert_int_equal(mo.u.flow.out_port, 3);
	assert_int_equal(mo.u.flow.cookie_mask, 7);
	assert_true(ofa_match_equal(&mo.u.flow.match, &mp.u.flow.match));
	ofa_buf_fini(&b);
}

static void test_hello_and_error_encoding(void **state)
{
	uint8_t req[100];
	struct ofa_buf b;

	(void)state;
	ofa_buf_init(&b);
	assert_int_equal(ofa_hello_encode(1, &b), 0);
	assert_int_equal(b.len, 16);
	assert_int_equal(ofa_get16(b.data + 8), OFPHET_VERSIONBITMAP);
	assert_int_equal(ofa_get32(b.data + 12), 1u << 4);

	b.len = 0;
	memset(req, 0xab, sizeof(req));
	req[0] = 4;
	req[1] = OFPT_FLOW_MOD;
	ofa_put16(req + 2, sizeof(req));
	ofa_put32(req + 4, 0x01020304);
	assert_int_equal(ofa_error_encode_for(ERR(OFPET_BAD_MATCH, OFPBMC_BAD_PREREQ), req,
					      sizeof(req), &b), 0);
	/* Header, type, code, and exactly the first 64 bytes of the request. */
	assert_int_equal(b.len, 12 + 64);
	assert_int_equal(b.data[1], OFPT_ERROR);
	assert_int_equal(ofa_get32(b.data + 4), 0x01020304);
	assert_int_equal(ofa_get16(b.data + 8), OFPET_BAD_MATCH);
	assert_int_equal(ofa_get16(b.data + 10), OFPBMC_BAD_PREREQ);
	assert_memory_equal(b.data + 12, req, 64);
	ofa_buf_fini(&b);
}

static void test_packet_in_truncation(void **state)
{
	uint8_t pkt[300];
	struct ofa_packet_in pi = { .reason = OFPR_ACTION, .table_id = 2, .cookie = 77,
				    .data = pkt, .len = sizeof(pkt) }, out;
	struct ofa_buf b;

	(void)state;
	memset(pkt, 0x5a, sizeof(pkt));
	ofa_match_init(&pi.match);
	ofa_match_set_u64(&pi.match, OFPXMT_OFB_IN_PORT, 3, NULL);
	ofa_buf_init(&b);
	assert_int_equal(ofa_packet_in_encode(&pi, 128, &b), 0);
	assert_int_equal(ofa_msg_check_header(b.data, b.len), 0);
	assert_int_equal(ofa_packet_in_decode(b.data, b.len, &out), 0);
	assert_int_equal(ofa_get32(b.data + 8), OFP_NO_BUFFER);
	assert_int_equal(out.max_len, 300);  /* total_len */
	assert_int_equal(out.len, 128);
	assert_int_equal(out.reason, OFPR_ACTION);
	assert_int_equal(out.cookie, 77);
	assert_int_equal(out.match.value[OFPXMT_OFB_IN_PORT].u64, 3);
	b.len = 0;
	assert_int_equal(ofa_packet_in_encode(&pi, OFPCML_NO_BUFFER, &b), 0);
	assert_int_equal(ofa_packet_in_decode(b.data, b.len, &out), 0);
	assert_int_equal(out.len, 300);
	ofa_buf_fini(&b);
}

static void test_multipart_reply_more_split(void **state)
{
	struct ofa_mp_reply r;
	struct ofa_table_stats ts = { 0 };
	struct ofa_buf b;
	size_t off, n_msgs = 0, n_entries = 0;
	unsigned i;

	(void)state;
	ofa_buf_init(&b);
	ofa_mp_reply_init(&r, &b, OFPMP_TABLE, 5);
	r.max_msg = 16 + 3 * 24;  /* three entries per message */
	for (i = 0; i < 10; i++) {
		ts.table_id = (uint8_t)i;
		assert_int_equal(ofa_mp_table_stats_add(&r, &ts), 0);
	}
	assert_int_equal(ofa_mp_reply_finish(&r), 0);
	for (off = 0; off < b.len; n_msgs++) {
		uint16_t len = ofa_get16(b.data + off + 2);
		bool more = ofa_get16(b.data + off + 10) & OFPMPF_REPLY_MORE;

		assert_int_equal(ofa_msg_check_header(b.data + off, len), 0);
		assert_int_equal(b.data[off + 1], OFPT_MULTIPART_REPLY);
		assert_int_equal(ofa_get32(b.data + off + 4), 5);
		assert_int_equal((len - 16) % 24, 0);
		n_entries += (len - 16) / 24;
		assert_int_equal(b.data[off + 16], n_entries - (len - 16) / 24);
		off += len;
		assert_true(more == (off < b.len));
	}
	assert_int_equal(n_msgs, 4);
	assert_int_equal(n_entries, 10);

	/* No entry at all: one empty reply. */
	b.len = 0;
	ofa_mp_reply_init(&r, &b, OFPMP_FLOW, 6);
	assert_int_equal(ofa_mp_reply_finish(&r), 0);
	assert_int_equal(b.len, 16);
	ofa_buf_fini(&b);
}

/* ---- bad input: headers ---- */

static void test_bad_headers(void **state)
{
	uint8_t m[16] = { 4, OFPT_ECHO_REQUEST, 0, 16 };

	(void)state;
	assert_err(ofa_msg_check_header(m, 4), ERR(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN));
	assert_err(ofa_msg_check_header(m, 12), ERR(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN));
	assert_int_equal(ofa_msg_check_header(m, 16), 0);
	m[3] = 8;  /* length smaller than the message */
	assert_err(ofa_msg_check_header(m, 16), ERR(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN));
	m[3] = 16;
	m[0] = 1;
	assert_err(ofa_msg_check_header(m, 16), ERR(OFPET_BAD_REQUEST, OFPBRC_BAD_VERSION));
}

static void test_bad_flow_mod_fixed_part(void **state)
{
	struct ofa_buf b, o;

	(void)state;
	oxm_ipv4(&o);
	raw_flow_mod(&b, &o, NULL);
	assert_int_equal(decode_fm(&b), 0);
	b.data[25] = 9;  /* command */
	assert_err(decode_fm(&b), ERR(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_COMMAND));
	b.data[25] = OFPFC_ADD;
	b.data[24] = OFPTT_ALL;
	assert_err(decode_fm(&b), ERR(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_TABLE_ID));
	b.data[25] = OFPFC_DELETE;  /* delete from all tables is fine */
	assert_int_equal(decode_fm(&b), 0);
	b.data[24] = 0;
	b.data[25] = OFPFC_ADD;
	ofa_put16(b.data + 44, 0x80);  /* unknown flag */
	assert_err(decode_fm(&b), ERR(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_FLAGS));
	ofa_put16(b.data + 44, 0);
	ofa_put32(b.data + 32, 5);  /* a buffer id: nothing is buffered */
	assert_err(decode_fm(&b), ERR(OFPET_BAD_REQUEST, OFPBRC_BUFFER_UNKNOWN));
	ofa_put32(b.data + 32, OFP_NO_BUFFER);
	/* Truncated below the fixed part. */
	ofa_put16(b.data + 2, 48);
	assert_err(ofa_flow_mod_decode(b.data, 48, &(struct ofa_flow_mod){ 0 }),
		   ERR(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN));
	ofa_buf_fini(&b);
	ofa_buf_fini(&o);
}

/* ---- bad input: matches ---- */

static void test_bad_match_type_and_lengths(void **state)
{
	struct ofa_buf b, o;

	(void)state;
	oxm_ipv4(&o);
	raw_flow_mod(&b, &o, NULL);
	ofa_put16(b.data + 48, OFPMT_STANDARD);
	assert_err(decode_fm(&b), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_TYPE));
	ofa_put16(b.data + 48, OFPMT_OXM);
	ofa_put16(b.data + 50, 2);  /* shorter than its own header */
	assert_err(decode_fm(&b), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_LEN));
	ofa_put16(b.data + 50, 200);  /* match overflows the message */
	assert_err(decode_fm(&b), ERR(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN));
	ofa_put16(b.data + 50, 6);  /* match ends inside the TLV */
	assert_err(decode_fm(&b), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_LEN));
	ofa_buf_fini(&b);
	ofa_buf_fini(&o);
}

static void test_bad_oxm_tlvs(void **state)
{
	uint8_t ip[4] = { 10, 0, 0, 1 }, ipm[8] = { 10, 0, 0, 1, 255, 0, 0, 0 };
	uint8_t et[4] = { 8, 0, 0xff, 0xff }, pcp = 9, three[3] = { 1, 2, 3 };
	struct ofa_buf o;

	(void)state;
	/* OXM TLV length longer than what is left of the match. */
	oxm_ipv4(&o);
	put_be32(&o, ofp_oxm_header(OFPXMC_OPENFLOW_BASIC, OFPXMT_OFB_IPV4_SRC, false, 40));
	assert_non_null(ofa_buf_put(&o, ip, 4));
	assert_err(decode_match_oxms(&o), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_LEN));
	ofa_buf_fini(&o);
	/* Wrong length for the field. */
	oxm_ipv4(&o);
	put_oxm(&o, OFPXMT_OFB_IPV4_SRC, false, 3, three);
	assert_err(decode_match_oxms(&o), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_LEN));
	ofa_buf_fini(&o);
	/* Duplicate field. */
	oxm_ipv4(&o);
	put_oxm(&o, OFPXMT_OFB_IPV4_SRC, false, 4, ip);
	put_oxm(&o, OFPXMT_OFB_IPV4_SRC, false, 4, ip);
	assert_err(decode_match_oxms(&o), ERR(OFPET_BAD_MATCH, OFPBMC_DUP_FIELD));
	ofa_buf_fini(&o);
	/* Missing prerequisite: ipv4_src without eth_type. */
	ofa_buf_init(&o);
	put_oxm(&o, OFPXMT_OFB_IPV4_SRC, false, 4, ip);
	assert_err(decode_match_oxms(&o), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_PREREQ));
	ofa_buf_fini(&o);
	/* tcp_dst with eth_type but no ip_proto. */
	oxm_ipv4(&o);
	put_oxm(&o, OFPXMT_OFB_TCP_DST, false, 2, ip);
	assert_err(decode_match_oxms(&o), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_PREREQ));
	ofa_buf_fini(&o);
	/* vlan_pcp without a VLAN. */
	oxm_ipv4(&o);
	pcp = 3;
	put_oxm(&o, OFPXMT_OFB_VLAN_PCP, false, 1, &pcp);
	assert_err(decode_match_oxms(&o), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_PREREQ));
	ofa_buf_fini(&o);
	/* Mask on a field that has none. */
	ofa_buf_init(&o);
	put_oxm(&o, OFPXMT_OFB_ETH_TYPE, true, 4, et);
	assert_err(decode_match_oxms(&o), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_MASK));
	ofa_buf_fini(&o);
	/* Value bits outside the mask. */
	oxm_ipv4(&o);
	put_oxm(&o, OFPXMT_OFB_IPV4_SRC, true, 8, ipm);
	assert_err(decode_match_oxms(&o), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_WILDCARDS));
	ofa_buf_fini(&o);
	/* Out-of-range value. */
	ofa_buf_init(&o);
	{
		uint8_t vid[2] = { 0x10, 0x05 }, big = 9;

		put_oxm(&o, OFPXMT_OFB_VLAN_VID, false, 2, vid);
		put_oxm(&o, OFPXMT_OFB_VLAN_PCP, false, 1, &big);
	}
	assert_err(decode_match_oxms(&o), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_VALUE));
	ofa_buf_fini(&o);
	/* Unknown field and unknown class. */
	ofa_buf_init(&o);
	put_oxm(&o, 50, false, 4, ip);
	assert_err(decode_match_oxms(&o), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_FIELD));
	ofa_buf_fini(&o);
	ofa_buf_init(&o);
	put_be32(&o, ofp_oxm_header(OFPXMC_NXM_1, 1, false, 4));
	assert_non_null(ofa_buf_put(&o, ip, 4));
	assert_err(decode_match_oxms(&o), ERR(OFPET_BAD_MATCH, OFPBMC_BAD_FIELD));
	ofa_buf_fini(&o);
}

/* ---- bad input: actions and instructions ---- */

static void test_bad_actions(void **state)
{
	uint8_t a[24];

	(void)state;
	memset(a, 0, sizeof(a));
	/* Length not a multiple of 8. */
	ofa_put16(a, OFPAT_OUTPUT);
	ofa_put16(a + 2, 12);
	assert_err(decode_actions(a, 16), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_LEN));
	/* Zero length (would loop forever without the check). */
	ofa_put16(a + 2, 0);
	assert_err(decode_actions(a, 16), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_LEN));
	/* Longer than the list. */
	ofa_put16(a + 2, 24);
	assert_err(decode_actions(a, 16), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_LEN));
	/* Wrong fixed length for the type. */
	ofa_put16(a + 2, 8);
	assert_err(decode_actions(a, 8), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_LEN));
	/* Unknown type. */
	ofa_put16(a, 99);
	assert_err(decode_actions(a, 8), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_TYPE));
	/* Output to port 0. */
	ofa_put16(a, OFPAT_OUTPUT);
	ofa_put16(a + 2, 16);
	ofa_put32(a + 4, 0);
	assert_err(decode_actions(a, 16), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_OUT_PORT));
	/* OFPP_TABLE only in PACKET_OUT. */
	ofa_put32(a + 4, OFPP_TABLE);
	assert_err(decode_actions(a, 16), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_OUT_PORT));
	ofa_put32(a + 4, 2);
	assert_int_equal(decode_actions(a, 16), 0);
	/* push_vlan with a non-VLAN ethertype. */
	memset(a, 0, sizeof(a));
	ofa_put16(a, OFPAT_PUSH_VLAN);
	ofa_put16(a + 2, 8);
	ofa_put16(a + 4, 0x0800);
	assert_err(decode_actions(a, 8), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_ARGUMENT));
	/* group beyond OFPG_MAX. */
	ofa_put16(a, OFPAT_GROUP);
	ofa_put32(a + 4, OFPG_ALL);
	assert_err(decode_actions(a, 8), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_OUT_GROUP));
	/* Experimenter actions are not supported. */
	ofa_put16(a, OFPAT_EXPERIMENTER);
	assert_err(decode_actions(a, 8), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_EXPERIMENTER));
}

static void test_bad_set_field(void **state)
{
	uint8_t a[24];

	(void)state;
	memset(a, 0, sizeof(a));
	ofa_put16(a, OFPAT_SET_FIELD);
	ofa_put16(a + 2, 16);
	ofa_put32(a + 4, ofp_oxm_header(OFPXMC_OPENFLOW_BASIC, OFPXMT_OFB_IPV4_DST, false, 4));
	assert_int_equal(decode_actions(a, 16), 0);  /* the match has eth_type=ip */
	ofa_put32(a + 4, ofp_oxm_header(OFPXMC_OPENFLOW_BASIC, OFPXMT_OFB_TCP_DST, false, 2));
	assert_err(decode_actions(a, 16), ERR(OFPET_BAD_ACTION, OFPBAC_MATCH_INCONSISTENT));
	ofa_put32(a + 4, ofp_oxm_header(OFPXMC_OPENFLOW_BASIC, 60, false, 4));
	assert_err(decode_actions(a, 16), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_SET_TYPE));
	ofa_put32(a + 4, ofp_oxm_header(OFPXMC_OPENFLOW_BASIC, OFPXMT_OFB_IPV4_DST, true, 8));
	assert_err(decode_actions(a, 16), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_SET_ARGUMENT));
	ofa_put32(a + 4, ofp_oxm_header(OFPXMC_OPENFLOW_BASIC, OFPXMT_OFB_IPV4_DST, false, 12));
	assert_err(decode_actions(a, 16), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_SET_LEN));
	/* Padding that makes the action longer than its TLV needs. */
	ofa_put16(a + 2, 24);
	ofa_put32(a + 4, ofp_oxm_header(OFPXMC_OPENFLOW_BASIC, OFPXMT_OFB_IPV4_DST, false, 4));
	assert_err(decode_actions(a, 24), ERR(OFPET_BAD_ACTION, OFPBAC_BAD_SET_LEN));
}

static void put_inst(struct ofa_buf *b, uint16_t type, uint16_t len, uint32_t arg)
{
	put_be16(b, type);
	put_be16(b, len);
	put_be32(b, arg);
	if (len > 8)
		assert_non_null(ofa_buf_put(b, NULL, len - 8u));
}

static void test_bad_instructions(void **state)
{
	struct ofa_buf in;

	(void)state;
	/* Goto before apply: out of execution order. */
	ofa_buf_init(&in);
	put_inst(&in, OFPIT_GOTO_TABLE, 8, 0x02000000);
	put_inst(&in, OFPIT_APPLY_ACTIONS, 8, 0);
	assert_err(decode_insts(&in), ERR(OFPET_BAD_ACTION, OFPBAC_UNSUPPORTED_ORDER));
	ofa_buf_fini(&in);
	/* The same instruction twice. */
	ofa_buf_init(&in);
	put_inst(&in, OFPIT_APPLY_ACTIONS, 8, 0);
	put_inst(&in, OFPIT_APPLY_ACTIONS, 8, 0);
	assert_err(decode_insts(&in), ERR(OFPET_BAD_INSTRUCTION, OFPBIC_UNSUP_INST));
	ofa_buf_fini(&in);
	/* Bad lengths: not a multiple of 8, beyond the message, wrong for
	 * the type. */
	ofa_buf_init(&in);
	put_inst(&in, OFPIT_APPLY_ACTIONS, 12, 0);
	assert_err(decode_insts(&in), ERR(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_LEN));
	ofa_buf_fini(&in);
	ofa_buf_init(&in);
	put_inst(&in, OFPIT_APPLY_ACTIONS, 8, 0);
	ofa_put16(in.data + 2, 64);
	assert_err(decode_insts(&in), ERR(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_LEN));
	ofa_buf_fini(&in);
	ofa_buf_init(&in);
	put_inst(&in, OFPIT_WRITE_METADATA, 16, 0);
	assert_err(decode_insts(&in), ERR(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_LEN));
	ofa_buf_fini(&in);
	/* Unknown instruction; experimenter. */
	ofa_buf_init(&in);
	put_inst(&in, 9, 8, 0);
	assert_err(decode_insts(&in), ERR(OFPET_BAD_INSTRUCTION, OFPBIC_UNKNOWN_INST));
	ofa_buf_fini(&in);
	ofa_buf_init(&in);
	put_inst(&in, OFPIT_EXPERIMENTER, 8, 0);
	assert_err(decode_insts(&in), ERR(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_EXPERIMENTER));
	ofa_buf_fini(&in);
	/* Goto to the same table (the flow is in table 0). */
	ofa_buf_init(&in);
	put_inst(&in, OFPIT_GOTO_TABLE, 8, 0);
	assert_err(decode_insts(&in), ERR(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_TABLE_ID));
	ofa_buf_fini(&in);
	/* A trailing fragment shorter than an instruction header. */
	ofa_buf_init(&in);
	put_inst(&in, OFPIT_CLEAR_ACTIONS, 8, 0);
	put_be16(&in, OFPIT_CLEAR_ACTIONS);
	assert_err(decode_insts(&in), ERR(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_LEN));
	ofa_buf_fini(&in);
}

/* ---- bad input: groups, multipart, roles, config, port mod ---- */

static int decode_group(uint16_t cmd, uint8_t type, uint32_t id, const struct ofa_buf *buckets)
{
	struct ofa_group_mod gm;
	struct ofa_buf b;
	long start;
	uint8_t *p;
	int err;

	ofa_buf_init(&b);
	start = ofa_msg_start(&b, OFPT_GROUP_MOD, 1);
	p = ofa_buf_put(&b, NULL, 8);
	ofa_put16(p, cmd);
	p[2] = type;
	ofa_put32(p + 4, id);
	if (buckets && buckets->len)
		ofa_buf_put(&b, buckets->data, buckets->len);
	ofa_msg_finish(&b, start);
	err = ofa_group_mod_decode(b.data, b.len, &gm);
	ofa_group_mod_fini(&gm);
	ofa_buf_fini(&b);
	return err;
}

static void put_bucket(struct ofa_buf *b, uint16_t len, uint32_t watch_port, uint32_t group_act)
{
	put_be16(b, len);
	put_be16(b, 0);
	put_be32(b, watch_port);
	put_be32(b, OFPG_ANY);
	put_be32(b, 0);
	if (group_act) {
		put_be16(b, OFPAT_GROUP);
		put_be16(b, 8);
		put_be32(b, group_act);
	}
}

static void test_bad_group_mods(void **state)
{
	struct ofa_buf bk;

	(void)state;
	ofa_buf_init(&bk);
	put_bucket(&bk, 16, OFPP_ANY, 0);
	assert_int_equal(decode_group(OFPGC_ADD, OFPGT_ALL, 1, &bk), 0);
	assert_err(decode_group(7, OFPGT_ALL, 1, &bk),
		   ERR(OFPET_GROUP_MOD_FAILED, OFPGMFC_BAD_COMMAND));
	assert_err(decode_group(OFPGC_ADD, 9, 1, &bk), ERR(OFPET_GROUP_MOD_FAILED, OFPGMFC_BAD_TYPE));
	assert_err(decode_group(OFPGC_ADD, OFPGT_ALL, OFPG_ALL, &bk),
		   ERR(OFPET_GROUP_MOD_FAILED, OFPGMFC_INVALID_GROUP));
	/* FF bucket watching nothing. */
	assert_err(decode_group(OFPGC_ADD, OFPGT_FF, 1, &bk),
		   ERR(OFPET_GROUP_MOD_FAILED, OFPGMFC_BAD_WATCH));
	/* INDIRECT needs exactly one bucket. */
	put_bucket(&bk, 16, OFPP_ANY, 0);
	assert_err(decode_group(OFPGC_ADD, OFPGT_INDIRECT, 1, &bk),
		   ERR(OFPET_GROUP_MOD_FAILED, OFPGMFC_INVALID_GROUP));
	ofa_buf_fini(&bk);
	/* Bucket lengths: short, beyond the message. */
	ofa_buf_init(&bk);
	put_bucket(&bk, 8, OFPP_ANY, 0);
	assert_err(decode_group(OFPGC_ADD, OFPGT_ALL, 1, &bk),
		   ERR(OFPET_GROUP_MOD_FAILED, OFPGMFC_BAD_BUCKET));
	ofa_put16(bk.data, 64);
	assert_err(decode_group(OFPGC_ADD, OFPGT_ALL, 1, &bk),
		   ERR(OFPET_GROUP_MOD_FAILED, OFPGMFC_BAD_BUCKET));
	ofa_buf_fini(&bk);
	/* A group that sends to itself. */
	ofa_buf_init(&bk);
	put_bucket(&bk, 24, OFPP_ANY, 4);
	assert_err(decode_group(OFPGC_ADD, OFPGT_ALL, 4, &bk), ERR(OFPET_GROUP_MOD_FAILED, OFPGMFC_LOOP));
	assert_int_equal(decode_group(OFPGC_ADD, OFPGT_ALL, 5, &bk), 0);
	ofa_buf_fini(&bk);
}

static void test_bad_multipart_and_small(void **state)
{
	struct ofa_multipart_request mp;
	struct ofa_switch_config sc;
	struct ofa_port_mod pm;
	struct ofa_role r;
	uint8_t m[64];

	(void)state;
	memset(m, 0, sizeof(m));
	m[0] = 4;
	m[1] = OFPT_MULTIPART_REQUEST;
	ofa_put16(m + 8, 77);
	assert_err(ofa_multipart_request_decode(m, 16, &mp), ERR(OFPET_BAD_REQUEST, OFPBRC_BAD_MULTIPART));
	ofa_put16(m + 8, OFPMP_FLOW);  /* no body */
	assert_err(ofa_multipart_request_decode(m, 16, &mp), ERR(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN));
	ofa_put16(m + 8, OFPMP_DESC);  /* a body where none belongs */
	assert_err(ofa_multipart_request_decode(m, 24, &mp), ERR(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN));
	assert_int_equal(ofa_multipart_request_decode(m, 16, &mp), 0);
	ofa_put16(m + 8, OFPMP_PORT_STATS);
	assert_err(ofa_multipart_request_decode(m, 20, &mp), ERR(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN));

	ofa_put32(m + 8, 7);  /* role */
	assert_err(ofa_role_decode(m, 24, &r), ERR(OFPET_ROLE_REQUEST_FAILED, OFPRRFC_BAD_ROLE));
	assert_err(ofa_role_decode(m, 20, &r), ERR(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN));

	memset(m + 8, 0, 8);
	ofa_put16(m + 8, 0x10);  /* config flags */
	assert_err(ofa_switch_config_decode(m, 12, &sc),
		   ERR(OFPET_SWITCH_CONFIG_FAILED, OFPSCFC_BAD_FLAGS));

	memset(m + 8, 0, 32);
	assert_err(ofa_port_mod_decode(m, 40, &pm), ERR(OFPET_PORT_MOD_FAILED, OFPPMFC_BAD_PORT));
	ofa_put32(m + 8, 1);
	ofa_put32(m + 24, 0x100);
	assert_err(ofa_port_mod_decode(m, 40, &pm), ERR(OFPET_PORT_MOD_FAILED, OFPPMFC_BAD_CONFIG));
}

static void test_err_names(void **state)
{
	char buf[96];

	(void)state;
	assert_string_equal(ofa_err_name(ERR(OFPET_BAD_MATCH, OFPBMC_BAD_PREREQ), buf, sizeof(buf)),
			    "OFPET_BAD_MATCH/OFPBMC_BAD_PREREQ");
	assert_string_equal(ofa_err_name(ERR(OFPET_BAD_REQUEST, OFPBRC_IS_SLAVE), buf, sizeof(buf)),
			    "OFPET_BAD_REQUEST/OFPBRC_IS_SLAVE");
	assert_int_equal(ofa_err_type(ERR(OFPET_EXPERIMENTER, 3)), OFPET_EXPERIMENTER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_mod_round_trip),
		cmocka_unit_test(test_match_all_fields_round_trip),
		cmocka_unit_test(test_match_covers),
		cmocka_unit_test(test_packet_out_round_trip),
		cmocka_unit_test(test_group_mod_round_trip),
		cmocka_unit_test(test_small_messages_round_trip),
		cmocka_unit_test(test_hello_and_error_encoding),
		cmocka_unit_test(test_packet_in_truncation),
		cmocka_unit_test(test_multipart_reply_more_split),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_bad_flow_mod_fixed_part),
		cmocka_unit_test(test_bad_match_type_and_lengths),
		cmocka_unit_test(test_bad_oxm_tlvs),
		cmocka_unit_test(test_bad_actions),
		cmocka_unit_test(test_bad_set_field),
		cmocka_unit_test(test_bad_instructions),
		cmocka_unit_test(test_bad_group_mods),
		cmocka_unit_test(test_bad_multipart_and_small),
		cmocka_unit_test(test_err_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
