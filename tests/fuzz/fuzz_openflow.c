/* fuzz_openflow.c — libFuzzer target for the OpenFlow 1.3 message decoder.
 *
 * Each input is a byte stream as a controller would send it after the HELLO.
 * It is framed the way ofa_conn.c frames it (a length below 8 ends the
 * stream, as it closes a connection) and every message goes twice through
 * the decoder:
 *
 *  1. the codec directly (ofa_<message>_decode() for every type a controller
 *     sends, and the controller-side decoders of switch messages); whatever
 *     decodes is encoded again and must decode to the same thing;
 *  2. the agent's dispatch (ofa_handle_msg()) on a connection over a
 *     socketpair, with a datapath whose ops accept everything and report a
 *     few flows, ports and groups, so that handlers and reply encoders run
 *     (including REPLY_MORE splitting) on what the decoders let through.
 *
 * Set FUZZ_OPENFLOW_VERBOSE=1 to print the decode result of each message
 * (useful to check that the seed corpus decodes cleanly).
 *
 * Build: make fuzz (build/fuzz/fuzz_openflow). Seeds: tests/fuzz/corpus/openflow/
 * (messages ovs-ofctl sends, captured from a real session, plus hand-made ones).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The dispatch path is internal to the library (no -I for it here). */
#include "ofa_internal.h"
#include "vsl_log.h"
#include "vsl_loop.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vsl_loop *fz_loop;
static struct ofa_agent *fz_agent;
static struct ofa_conn *fz_conn;
static int fz_peer = -1;
static bool fz_verbose;

/* ---- a datapath that says yes ---- */

static void fz_features(void *dp, struct ofa_features *out)
{
	(void)dp;
	out->datapath_id = 1;
	out->n_tables = 3;
}

static int fz_port_desc(void *dp, ofa_port_fn fn, void *ctx)
{
	struct ofa_port p = { .port_no = 1, .name = "p1" };

	(void)dp;
	return fn(ctx, &p);
}

static int fz_flow_mod(void *dp, const struct ofa_flow_mod *fm)
{
	(void)dp;
	(void)fm;
	return 0;
}

/* Echoes the request's own match back, 700 times: enough to split. */
static int fz_flow_stats(void *dp, const struct ofa_flow_stats_request *req,
			 ofa_flow_stats_fn fn, void *ctx)
{
	struct ofa_flow_stats fs = { .match = &req->match };
	int i, err;

	(void)dp;
	for (i = 0; i < 700; i++) {
		fs.priority = (uint16_t)i;
		err = fn(ctx, &fs);
		if (err)
			return err;
	}
	return 0;
}

static int fz_aggregate(void *dp, const struct ofa_flow_stats_request *req,
			struct ofa_aggregate_stats *out)
{
	(void)dp;
	(void)req;
	out->flow_count = 1;
	return 0;
}

static int fz_table_stats(void *dp, ofa_table_stats_fn fn, void *ctx)
{
	struct ofa_table_stats ts = { 0 };

	(void)dp;
	return fn(ctx, &ts);
}

static int fz_port_stats(void *dp, uint32_t port, ofa_port_stats_fn fn, void *ctx)
{
	struct ofa_port_stats ps = { .port_no = port };

	(void)dp;
	return fn(ctx, &ps);
}

static int fz_packet_out(void *dp, const struct ofa_packet_out *po)
{
	(void)dp;
	(void)po;
	return 0;
}

static int fz_group_mod(void *dp, const struct ofa_group_mod *gm)
{
	(void)dp;
	(void)gm;
	return 0;
}

static int fz_group_desc(void *dp, ofa_group_desc_fn fn, void *ctx)
{
	struct ofa_group_desc gd = { OFPGT_ALL, 1, NULL, 0 };

	(void)dp;
	return fn(ctx, &gd);
}

static int fz_port_mod(void *dp, const struct ofa_port_mod *pm)
{
	(void)dp;
	(void)pm;
	return 0;
}

static int fz_barrier(void *dp)
{
	(void)dp;
	return 0;
}

static const struct ofa_datapath_ops fz_ops = {
	.features = fz_features,
	.port_desc = fz_port_desc,
	.flow_mod = fz_flow_mod,
	.flow_stats = fz_flow_stats,
	.aggregate_stats = fz_aggregate,
	.table_stats = fz_table_stats,
	.port_stats = fz_port_stats,
	.packet_out = fz_packet_out,
	.group_mod = fz_group_mod,
	.group_desc = fz_group_desc,
	.port_mod = fz_port_mod,
	.barrier = fz_barrier,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int sv[2];

	(void)argc;
	(void)argv;
	fz_verbose = getenv("FUZZ_OPENFLOW_VERBOSE") != NULL;
	if (!fz_verbose)
		vsl_log_set_level(NULL, VSL_LOG_OFF);
	fz_loop = vsl_loop_create();
	fz_agent = fz_loop ? ofa_agent_create(fz_loop, &fz_ops, NULL, NULL) : NULL;
	if (!fz_agent || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	fz_conn = ofa_conn_create(fz_agent, NULL, sv[0], false);
	if (!fz_conn)
		abort();
	fz_conn->state = OFA_CONN_ACTIVE;
	fz_peer = sv[1];
	return 0;
}

/* ---- 1: the codec with round trips ---- */

static void fz_check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "round trip broke: %s\n", what);
		abort();
	}
}

static int fz_codec_flow_mod(const uint8_t *m, size_t len)
{
	struct ofa_flow_mod fm, again;
	struct ofa_buf b;
	int err = ofa_flow_mod_decode(m, len, &fm);

	if (!err) {
		ofa_buf_init(&b);
		fz_check(ofa_flow_mod_encode(&fm, 1, &b) == 0, "flow_mod encode");
		fz_check(ofa_flow_mod_decode(b.data, b.len, &again) == 0, "flow_mod re-decode");
		fz_check(ofa_match_equal(&fm.match, &again.match), "flow_mod match");
		fz_check(fm.insts.present == again.insts.present &&
			 fm.insts.apply.n == again.insts.apply.n &&
			 fm.insts.write.n == again.insts.write.n, "flow_mod instructions");
		fz_check(!fm.insts.apply.n ||
			 !memcmp(fm.insts.apply.actions, again.insts.apply.actions,
				 fm.insts.apply.n * sizeof(struct ofa_action)), "flow_mod actions");
		ofa_flow_mod_fini(&again);
		ofa_buf_fini(&b);
	}
	ofa_flow_mod_fini(&fm);
	return err;
}

static int fz_codec_group_mod(const uint8_t *m, size_t len)
{
	struct ofa_group_mod gm, again;
	struct ofa_buf b;
	int err = ofa_group_mod_decode(m, len, &gm);

	if (!err) {
		ofa_buf_init(&b);
		fz_check(ofa_group_mod_encode(&gm, 1, &b) == 0, "group_mod encode");
		fz_check(ofa_group_mod_decode(b.data, b.len, &again) == 0, "group_mod re-decode");
		fz_check(again.n_buckets == gm.n_buckets, "group_mod buckets");
		ofa_group_mod_fini(&again);
		ofa_buf_fini(&b);
	}
	ofa_group_mod_fini(&gm);
	return err;
}

static int fz_codec(const uint8_t *m, size_t len)
{
	int err = ofa_msg_check_header(m, len);

	if (err)
		return err;
	switch (m[1]) {
	case OFPT_FLOW_MOD:
		return fz_codec_flow_mod(m, len);
	case OFPT_GROUP_MOD:
		return fz_codec_group_mod(m, len);
	case OFPT_PACKET_OUT: {
		struct ofa_packet_out po;

		err = ofa_packet_out_decode(m, len, &po);
		ofa_packet_out_fini(&po);
		return err;
	}
	case OFPT_PORT_MOD: {
		struct ofa_port_mod pm;

		return ofa_port_mod_decode(m, len, &pm);
	}
	case OFPT_ROLE_REQUEST:
	case OFPT_ROLE_REPLY: {
		struct ofa_role r;

		return ofa_role_decode(m, len, &r);
	}
	case OFPT_SET_CONFIG:
	case OFPT_GET_CONFIG_REPLY: {
		struct ofa_switch_config c;

		return ofa_switch_config_decode(m, len, &c);
	}
	case OFPT_MULTIPART_REQUEST: {
		struct ofa_multipart_request mp;
		struct ofa_multipart_request again;
		struct ofa_buf b;

		err = ofa_multipart_request_decode(m, len, &mp);
		if (!err && (mp.type == OFPMP_FLOW || mp.type == OFPMP_AGGREGATE)) {
			ofa_buf_init(&b);
			fz_check(ofa_multipart_request_encode(&mp, 1, &b) == 0, "mp encode");
			fz_check(ofa_multipart_request_decode(b.data, b.len, &again) == 0,
				 "mp re-decode");
			fz_check(ofa_match_equal(&mp.u.flow.match, &again.u.flow.match), "mp match");
			ofa_buf_fini(&b);
		}
		return err;
	}
	case OFPT_MULTIPART_REPLY: {
		size_t off = sizeof(struct ofp_multipart_reply);

		if (len < off || ofa_get16(m + 8) != OFPMP_FLOW)
			return 0;
		while (off < len) {
			struct ofa_flow_stats fs;
			struct ofa_match match;
			struct ofa_instructions in;
			size_t used = 0;

			err = ofa_flow_stats_decode(m + off, len - off, &fs, &match, &in, &used);
			ofa_instructions_fini(&in);
			if (err)
				return err;
			off += used;
		}
		return 0;
	}
	case OFPT_PACKET_IN: {
		struct ofa_packet_in pi;

		return ofa_packet_in_decode(m, len, &pi);
	}
	default:
		return 0;
	}
}

/* ---- 2: the agent's dispatch ---- */

static void fz_dispatch(const uint8_t *m, size_t len)
{
	fz_conn->role = OFPCR_ROLE_EQUAL;
	ofa_handle_msg(fz_conn, m, len);
	/* The replies are not read by anyone: drop them. */
	fz_conn->tx.len = 0;
	fz_conn->tx_off = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (size - off >= sizeof(struct ofp_header)) {
		size_t len = ofa_get16(data + off + 2);
		uint8_t *msg;
		int err;

		if (len < sizeof(struct ofp_header) || len > size - off)
			break;
		/* A private copy: ASan then sees any read past the message. */
		msg = malloc(len);
		if (!msg)
			break;
		memcpy(msg, data + off, len);
		err = fz_codec(msg, len);
		if (fz_verbose) {
			char name[96];

			fprintf(stderr, "type %u len %zu: %s\n", msg[1], len,
				err ? ofa_err_name(err, name, sizeof(name)) : "ok");
		}
		fz_dispatch(msg, len);
		free(msg);
		off += len;
	}
	return 0;
}
