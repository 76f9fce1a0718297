/* test_ofa_agent.c — the agent over real loopback TCP on one thread: HELLO
 * negotiation and HELLO_FAILED, errors that keep the connection, framing
 * loss that closes it, echo keep-alive, roles and generation ids, SLAVE
 * refusals, async messages by role, barrier ordering, REPLY_MORE through the
 * agent, active reconnect with capped back-off, and the output bound. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ofa_internal.h"
#include "vsl_loop.h"
#include "vsl_time.h"

enum { WAIT_MS = 3000 };

/* ---- fake datapath: records the order of calls ---- */

struct fake_dp {
	char log[4096];
	size_t n_flow_mods;
	size_t n_dump;  /* flows flow_stats reports */
	int flow_mod_ret;
	struct ofa_agent *agent;  /* set: PACKET_OUT comes back as a PACKET_IN */
};

static void fake_log(struct fake_dp *d, const char *what)
{
	size_t n = strlen(d->log);

	snprintf(d->log + n, sizeof(d->log) - n, "%s%s", n ? "," : "", what);
}

static void fake_features(void *dp, struct ofa_features *out)
{
	(void)dp;
	out->datapath_id = 0x1234;
	out->n_tables = 2;
}

static int fake_port_desc(void *dp, ofa_port_fn fn, void *ctx)
{
	struct ofa_port p = { .port_no = 1, .name = "p1" };

	(void)dp;
	return fn(ctx, &p);
}

static int fake_flow_mod(void *dp, const struct ofa_flow_mod *fm)
{
	struct fake_dp *d = dp;
	char s[32];

	d->n_flow_mods++;
	snprintf(s, sizeof(s), "fm%u", fm->priority);
	fake_log(d, s);
	return d->flow_mod_ret;
}

static int fake_flow_stats(void *dp, const struct ofa_flow_stats_request *req,
			   ofa_flow_stats_fn fn, void *ctx)
{
	struct fake_dp *d = dp;
	struct ofa_match m;
	struct ofa_flow_stats fs = { .match = &m };
	size_t i;
	int err;

	(void)req;
	ofa_match_init(&m);
	ofa_match_set_u64(&m, OFPXMT_OFB_IN_PORT, 1, NULL);
	for (i = 0; i < d->n_dump; i++) {
		fs.priority = (uint16_t)i;
		err = fn(ctx, &fs);
		if (err)
			return err;
	}
	return 0;
}

static int fake_aggregate(void *dp, const struct ofa_flow_stats_request *req,
			  struct ofa_aggregate_stats *out)
{
	(void)dp, (void)req;
	out->flow_count = 3;
	return 0;
}

static int fake_table_stats(void *dp, ofa_table_stats_fn fn, void *ctx)
{
	struct ofa_table_stats ts = { 0 };

	(void)dp;
	return fn(ctx, &ts);
}

static int fake_port_stats(void *dp, uint32_t port, ofa_port_stats_fn fn, void *ctx)
{
	struct ofa_port_stats ps = { .port_no = 1 };

	(void)dp;
	if (port != OFPP_ANY && port != 1)
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_PORT);
	return fn(ctx, &ps);
}

static int fake_packet_out(void *dp, const struct ofa_packet_out *po)
{
	struct fake_dp *d = dp;

	fake_log(dp, "po");
	if (d->agent) {
		/* Re-enters the agent from inside a handler, as a switch whose
		 * pipeline sends to the controller does. */
		struct ofa_packet_in pi = { .reason = OFPR_ACTION, .max_len = OFPCML_NO_BUFFER,
					    .data = po->data, .len = po->data_len };

		ofa_match_init(&pi.match);
		ofa_match_set_u64(&pi.match, OFPXMT_OFB_IN_PORT, po->in_port, NULL);
		return ofa_agent_packet_in(d->agent, &pi);
	}
	return 0;
}

static int fake_barrier(void *dp)
{
	fake_log(dp, "barrier");
	return 0;
}

static const struct ofa_datapath_ops fake_ops = {
	.features = fake_features,
	.port_desc = fake_port_desc,
	.flow_mod = fake_flow_mod,
	.flow_stats = fake_flow_stats,
	.aggregate_stats = fake_aggregate,
	.table_stats = fake_table_stats,
	.port_stats = fake_port_stats,
	.packet_out = fake_packet_out,
	.barrier = fake_barrier,
};

/* ---- fixture: a loop, an agent on ptcp:0, client sockets ---- */

struct fx {
	struct vsl_loop *loop;
	struct ofa_agent *agent;
	struct fake_dp dp;
	int port;
};

struct client {
	int fd;
	uint8_t buf[1 << 18];
	size_t len;
};

static int fx_setup_cfg(void **state, const struct ofa_agent_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->loop = vsl_loop_create();
	f->agent = ofa_agent_create(f->loop, &fake_ops, &f->dp, cfg);
	if (!f->agent || ofa_agent_add_target(f->agent, "ptcp:0"))
		return -1;
	f->port = ofa_agent_listen_port(f->agent, "ptcp:0");
	f->dp.agent = f->agent;
	*state = f;
	return f->port > 0 ? 0 : -1;
}

static int fx_setup(void **state)
{
	return fx_setup_cfg(state, NULL);
}

static int fx_setup_fast_echo(void **state)
{
	struct ofa_agent_config cfg;

	ofa_agent_config_default(&cfg);
	cfg.echo_interval_ms = 100;
	cfg.echo_max_missed = 2;
	return fx_setup_cfg(state, &cfg);
}

static int fx_setup_small_queue(void **state)
{
	struct ofa_agent_config cfg;

	ofa_agent_config_default(&cfg);
	cfg.txq_max_bytes = 65536;
	return fx_setup_cfg(state, &cfg);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	ofa_agent_destroy(f->agent);
	vsl_loop_destroy(f->loop);
	free(f);
	return 0;
}

static void pump(struct fx *f, int ms)
{
	uint64_t end = vsl_time_mono_ms() + (uint64_t)ms;

	while (vsl_time_mono_ms() < end)
		vsl_loop_run_once(f->loop, 5);
}

static struct client *client_connect(struct fx *f)
{
	struct client *c = calloc(1, sizeof(*c));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->port) };

	assert_non_null(c);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return c;
}

static void client_close(struct client *c)
{
	close(c->fd);
	free(c);
}

static void client_send(struct client *c, const void *p, size_t n)
{
	assert_int_equal(send(c->fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void client_send_buf(struct client *c, struct ofa_buf *b)
{
	client_send(c, b->data, b->len);
	b->len = 0;
}

/* Runs the loop until a whole message arrived; returns its length (the
 * message is at c->buf) or 0 when the agent closed the connection. */
static size_t client_recv(struct fx *f, struct client *c)
{
	uint64_t end = vsl_time_mono_ms() + WAIT_MS;

	if (c->len >= 8 && ofa_get16(c->buf + 2) <= c->len) {
		size_t used = ofa_get16(c->buf + 2);

		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
	while (vsl_time_mono_ms() < end) {
		ssize_t n;

		if (c->len >= 8 && ofa_get16(c->buf + 2) <= c->len)
			return ofa_get16(c->buf + 2);
		vsl_loop_run_once(f->loop, 5);
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n > 0)
			c->len += (size_t)n;
	}
	fail_msg("no message from the agent within %d ms", WAIT_MS);
	return 0;
}

/* Receives until a message of `type` (skipping others, e.g. echo requests). */
static size_t client_expect(struct fx *f, struct client *c, uint8_t type)
{
	size_t n;

	do {
		n = client_recv(f, c);
		assert_true(n > 0);
	} while (c->buf[1] != type);
	return n;
}

static void client_expect_error(struct fx *f, struct client *c, uint16_t type, uint16_t code)
{
	client_expect(f, c, OFPT_ERROR);
	assert_int_equal(ofa_get16(c->buf + 8), type);
	assert_int_equal(ofa_get16(c->buf + 10), code);
}

static void client_expect_closed(struct fx *f, struct client *c)
{
	size_t n;

	do
		n = client_recv(f, c);
	while (n > 0);
}

static void send_simple(struct client *c, uint8_t type, uint32_t xid, const void *body, size_t n);

static struct client *client_handshake(struct fx *f)
{
	struct client *c = client_connect(f);
	struct ofa_buf b;

	ofa_buf_init(&b);
	assert_int_equal(ofa_hello_encode(1, &b), 0);
	client_send_buf(c, &b);
	ofa_buf_fini(&b);
	client_expect(f, c, OFPT_HELLO);
	/* An echo round trip proves the agent processed our HELLO. */
	send_simple(c, OFPT_ECHO_REQUEST, 0, NULL, 0);
	client_expect(f, c, OFPT_ECHO_REPLY);
	return c;
}

static void send_simple(struct client *c, uint8_t type, uint32_t xid, const void *body, size_t n)
{
	struct ofa_buf b;

	ofa_buf_init(&b);
	assert_int_equal(ofa_simple_encode(type, xid, body, n, &b), 0);
	client_send_buf(c, &b);
	ofa_buf_fini(&b);
}

static void send_flow_mod(struct client *c, uint16_t prio)
{
	struct ofa_flow_mod fm = { .command = OFPFC_ADD, .priority = prio,
				   .buffer_id = OFP_NO_BUFFER };
	struct ofa_buf b;

	ofa_match_init(&fm.match);
	ofa_buf_init(&b);
	assert_int_equal(ofa_flow_mod_encode(&fm, prio, &b), 0);
	client_send_buf(c, &b);
	ofa_buf_fini(&b);
}

static void send_role(struct client *c, uint32_t role, uint64_t gen)
{
	struct ofa_role r = { role, gen };
	struct ofa_buf b;

	ofa_buf_init(&b);
	assert_int_equal(ofa_role_encode(OFPT_ROLE_REQUEST, &r, 3, &b), 0);
	client_send_buf(c, &b);
	ofa_buf_fini(&b);
}

/* ---- tests ---- */

static void test_handshake_and_features(void **state)
{
	struct fx *f = *state;
	struct client *c = client_handshake(f);
	struct ofa_conn_info info[4];

	send_simple(c, OFPT_FEATURES_REQUEST, 77, NULL, 0);
	assert_int_equal(client_expect(f, c, OFPT_FEATURES_REPLY), 32);
	assert_int_equal(ofa_get32(c->buf + 4), 77);
	assert_int_equal(ofa_get32(c->buf + 12), 0x1234);
	assert_int_equal(c->buf[20], 2);
	send_simple(c, OFPT_ECHO_REQUEST, 78, "ping", 4);
	assert_int_equal(client_expect(f, c, OFPT_ECHO_REPLY), 12);
	assert_memory_equal(c->buf + 8, "ping", 4);
	assert_int_equal(ofa_agent_n_active(f->agent), 1);
	assert_int_equal(ofa_agent_get_conns(f->agent, info, 4), 2);  /* listener + conn */
	client_close(c);
}

static void test_hello_failed_old_version(void **state)
{
	struct fx *f = *state;
	struct client *c = client_connect(f);
	uint8_t hello10[8] = { 1, OFPT_HELLO, 0, 8, 0, 0, 0, 9 };

	client_send(c, hello10, sizeof(hello10));
	client_expect(f, c, OFPT_HELLO);
	client_expect_error(f, c, OFPET_HELLO_FAILED, OFPHFC_INCOMPATIBLE);
	assert_int_equal(c->buf[0], 1);  /* readable by the 1.0 peer */
	client_expect_closed(f, c);
	client_close(c);
}

static void test_hello_failed_bitmap_without_13(void **state)
{
	struct fx *f = *state;
	struct client *c = client_connect(f);
	/* Version 0x05 header, bitmap offering 1.0 and 1.4 only. */
	uint8_t hello[16] = { 5, OFPT_HELLO, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 0x22 };

	client_send(c, hello, sizeof(hello));
	client_expect_error(f, c, OFPET_HELLO_FAILED, OFPHFC_INCOMPATIBLE);
	client_expect_closed(f, c);
	client_close(c);
}

static void test_errors_keep_connection(void **state)
{
	struct fx *f = *state;
	struct client *c = client_handshake(f);
	uint8_t m[16] = { 4, 99, 0, 8, 0, 0, 0, 1 };
	uint8_t bad_oxm[64];
	struct ofa_buf b;

	client_send(c, m, 8);  /* unknown type */
	client_expect_error(f, c, OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE);
	m[0] = 3;
	m[1] = OFPT_ECHO_REQUEST;  /* bad version */
	client_send(c, m, 8);
	client_expect_error(f, c, OFPET_BAD_REQUEST, OFPBRC_BAD_VERSION);
	m[0] = 4;
	m[1] = OFPT_FEATURES_REQUEST;  /* a fixed-size message that is too long */
	m[3] = 16;
	client_send(c, m, 16);
	client_expect_error(f, c, OFPET_BAD_REQUEST, OFPBRC_BAD_LEN);
	m[1] = OFPT_FEATURES_REPLY;  /* a switch-to-controller type */
	m[3] = 8;
	client_send(c, m, 8);
	client_expect_error(f, c, OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE);
	/* A flow mod with a malformed OXM: error, and the datapath never
	 * sees it. The error carries the first 64 bytes. */
	ofa_buf_init(&b);
	{
		struct ofa_flow_mod fm = { .command = OFPFC_ADD, .buffer_id = OFP_NO_BUFFER };

		ofa_match_init(&fm.match);
		ofa_match_set_u64(&fm.match, OFPXMT_OFB_IN_PORT, 1, NULL);
		ofa_match_set_u64(&fm.match, OFPXMT_OFB_METADATA, 2, NULL);
		assert_int_equal(ofa_flow_mod_encode(&fm, 5, &b), 0);
	}
	/* Give the metadata TLV an in_port header with metadata's length:
	 * a TLV whose length is wrong for its field. */
	ofa_put32(b.data + 60, ofp_oxm_header(OFPXMC_OPENFLOW_BASIC, OFPXMT_OFB_IN_PORT, false, 8));
	memcpy(bad_oxm, b.data, 64);
	client_send_buf(c, &b);
	client_expect_error(f, c, OFPET_BAD_MATCH, OFPBMC_BAD_LEN);
	assert_int_equal(ofa_get16(c->buf + 2), 12 + 64);
	assert_memory_equal(c->buf + 12, bad_oxm, 64);
	assert_int_equal(f->dp.n_flow_mods, 0);
	/* Datapath errors pass through. */
	f->dp.flow_mod_ret = ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_TABLE_FULL);
	send_flow_mod(c, 1);
	client_expect_error(f, c, OFPET_FLOW_MOD_FAILED, OFPFMFC_TABLE_FULL);
	/* Still up. */
	send_simple(c, OFPT_ECHO_REQUEST, 1, NULL, 0);
	client_expect(f, c, OFPT_ECHO_REPLY);
	ofa_buf_fini(&b);
	client_close(c);
}

static void test_framing_loss_closes(void **state)
{
	struct fx *f = *state;
	struct client *c = client_handshake(f);
	uint8_t m[8] = { 4, OFPT_ECHO_REQUEST, 0, 4, 0, 0, 0, 1 };

	client_send(c, m, sizeof(m));
	client_expect_closed(f, c);
	assert_int_equal(ofa_agent_n_active(f->agent), 0);
	client_close(c);
}

static void test_message_before_hello(void **state)
{
	struct fx *f = *state;
	struct client *c = client_connect(f);

	send_simple(c, OFPT_FEATURES_REQUEST, 4, NULL, 0);
	client_expect_error(f, c, OFPET_HELLO_FAILED, OFPHFC_EPERM);
	client_expect_closed(f, c);
	client_close(c);
}

static void test_echo_keepalive_drops_silent_peer(void **state)
{
	struct fx *f = *state;
	struct client *c = client_handshake(f);
	uint64_t t0 = vsl_time_mono_ms();
	size_t n, echoes = 0;

	while ((n = client_recv(f, c)) > 0)
		echoes += c->buf[1] == OFPT_ECHO_REQUEST;
	/* Two unanswered probes, then the drop: about 3 intervals. */
	assert_int_equal(echoes, 2);
	assert_true(vsl_time_mono_ms() - t0 < 2000);
	client_close(c);
}

static void test_echo_answered_keeps_peer(void **state)
{
	struct fx *f = *state;
	struct client *c = client_handshake(f);
	int i;

	for (i = 0; i < 5; i++) {
		client_expect(f, c, OFPT_ECHO_REQUEST);
		send_simple(c, OFPT_ECHO_REPLY, ofa_get32(c->buf + 4), NULL, 0);
	}
	assert_int_equal(ofa_agent_n_active(f->agent), 1);
	client_close(c);
}

static void test_roles_generation_and_slave(void **state)
{
	struct fx *f = *state;
	struct client *a = client_handshake(f), *b = client_handshake(f);

	send_role(a, OFPCR_ROLE_MASTER, 5);
	client_expect(f, a, OFPT_ROLE_REPLY);
	assert_int_equal(ofa_get32(a->buf + 8), OFPCR_ROLE_MASTER);
	assert_int_equal(ofa_get32(a->buf + 20), 5);
	send_role(b, OFPCR_ROLE_MASTER, 3);  /* older generation */
	client_expect_error(f, b, OFPET_ROLE_REQUEST_FAILED, OFPRRFC_STALE);
	send_role(b, OFPCR_ROLE_SLAVE, 6);
	client_expect(f, b, OFPT_ROLE_REPLY);
	assert_int_equal(ofa_get32(b->buf + 8), OFPCR_ROLE_SLAVE);
	/* A SLAVE may read but not change state. */
	send_flow_mod(b, 9);
	client_expect_error(f, b, OFPET_BAD_REQUEST, OFPBRC_IS_SLAVE);
	send_simple(b, OFPT_FEATURES_REQUEST, 1, NULL, 0);
	client_expect(f, b, OFPT_FEATURES_REPLY);
	/* B becomes MASTER: A is demoted to SLAVE. */
	send_role(b, OFPCR_ROLE_MASTER, 7);
	client_expect(f, b, OFPT_ROLE_REPLY);
	send_flow_mod(a, 10);
	client_expect_error(f, a, OFPET_BAD_REQUEST, OFPBRC_IS_SLAVE);
	send_role(a, OFPCR_ROLE_NOCHANGE, 0);
	client_expect(f, a, OFPT_ROLE_REPLY);
	assert_int_equal(ofa_get32(a->buf + 8), OFPCR_ROLE_SLAVE);
	assert_int_equal(ofa_get32(a->buf + 20), 7);
	/* Generation ids wrap: 2^63 + 8 is "newer" than 7 only by the
	 * circular rule if the distance is below 2^63. */
	send_role(a, OFPCR_ROLE_EQUAL, 0);
	client_expect(f, a, OFPT_ROLE_REPLY);
	send_flow_mod(a, 11);
	send_simple(a, OFPT_BARRIER_REQUEST, 2, NULL, 0);
	client_expect(f, a, OFPT_BARRIER_REPLY);
	assert_int_equal(f->dp.n_flow_mods, 1);
	client_close(a);
	client_close(b);
}

static void test_async_by_role(void **state)
{
	struct fx *f = *state;
	struct client *m = client_handshake(f), *s = client_handshake(f);
	uint8_t pkt[200];
	struct ofa_packet_in pi = { .reason = OFPR_NO_MATCH, .max_len = 64, .data = pkt,
				    .len = sizeof(pkt) };
	struct ofa_port port = { .port_no = 4, .name = "p4" };

	memset(pkt, 1, sizeof(pkt));
	ofa_match_init(&pi.match);
	ofa_match_set_u64(&pi.match, OFPXMT_OFB_IN_PORT, 2, NULL);
	send_role(s, OFPCR_ROLE_SLAVE, 1);
	client_expect(f, s, OFPT_ROLE_REPLY);
	assert_int_equal(ofa_agent_packet_in(f->agent, &pi), 0);
	assert_int_equal(ofa_agent_port_status(f->agent, OFPPR_ADD, &port), 0);
	/* The EQUAL connection gets the packet-in (truncated) first... */
	client_expect(f, m, OFPT_PACKET_IN);
	{
		struct ofa_packet_in out;

		assert_int_equal(ofa_packet_in_decode(m->buf, ofa_get16(m->buf + 2), &out), 0);
		assert_int_equal(out.len, 64);
		assert_int_equal(out.max_len, 200);
	}
	client_expect(f, m, OFPT_PORT_STATUS);
	/* ...the SLAVE only the port status. */
	client_expect(f, s, OFPT_PORT_STATUS);
	assert_int_equal(ofa_get32(s->buf + 16), 4);
	send_simple(s, OFPT_BARRIER_REQUEST, 1, NULL, 0);
	client_expect(f, s, OFPT_BARRIER_REPLY);
	client_close(m);
	client_close(s);
}

static void test_barrier_orders_after_earlier_ops(void **state)
{
	struct fx *f = *state;
	struct client *c = client_handshake(f);

	send_flow_mod(c, 1);
	send_flow_mod(c, 2);
	send_flow_mod(c, 3);
	send_simple(c, OFPT_BARRIER_REQUEST, 99, NULL, 0);
	client_expect(f, c, OFPT_BARRIER_REPLY);
	assert_int_equal(ofa_get32(c->buf + 4), 99);
	assert_string_equal(f->dp.log, "fm1,fm2,fm3,barrier");
	client_close(c);
}

static void test_flow_dump_reply_more(void **state)
{
	struct fx *f = *state;
	struct client *c = client_handshake(f);
	struct ofa_multipart_request mp = { .type = OFPMP_FLOW };
	struct ofa_buf b;
	size_t entries = 0, msgs = 0;
	bool more = true;

	f->dp.n_dump = 5000;  /* 5000 x 64 bytes: several 64 KiB messages */
	mp.u.flow.table_id = OFPTT_ALL;
	mp.u.flow.out_port = OFPP_ANY;
	mp.u.flow.out_group = OFPG_ANY;
	ofa_match_init(&mp.u.flow.match);
	ofa_buf_init(&b);
	assert_int_equal(ofa_multipart_request_encode(&mp, 8, &b), 0);
	client_send_buf(c, &b);
	while (more) {
		size_t len = client_expect(f, c, OFPT_MULTIPART_REPLY), off = 16;

		msgs++;
		more = ofa_get16(c->buf + 10) & OFPMPF_REPLY_MORE;
		while (off < len) {
			struct ofa_flow_stats fs;
			struct ofa_match m;
			struct ofa_instructions in;
			size_t used;

			assert_int_equal(ofa_flow_stats_decode(c->buf + off, len - off, &fs, &m, &in,
							       &used), 0);
			assert_int_equal(fs.priority, entries);
			ofa_instructions_fini(&in);
			off += used;
			entries++;
		}
	}
	assert_int_equal(entries, 5000);
	assert_true(msgs >= 5);
	ofa_buf_fini(&b);
	client_close(c);
}

static void test_other_requests(void **state)
{
	struct fx *f = *state;
	struct client *c = client_handshake(f);
	struct ofa_multipart_request mp = { .type = OFPMP_PORT_STATS };
	struct ofa_buf b;
	uint8_t cfg[4] = { 0, 0, 0x01, 0x00 };

	ofa_buf_init(&b);
	mp.u.port_no = 7;
	assert_int_equal(ofa_multipart_request_encode(&mp, 8, &b), 0);
	client_send_buf(c, &b);
	client_expect_error(f, c, OFPET_BAD_REQUEST, OFPBRC_BAD_PORT);
	mp.type = OFPMP_TABLE_FEATURES;
	assert_int_equal(ofa_multipart_request_encode(&mp, 9, &b), 0);
	client_send_buf(c, &b);
	client_expect(f, c, OFPT_MULTIPART_REPLY);
	assert_int_equal(ofa_get16(c->buf + 8), OFPMP_TABLE_FEATURES);
	send_simple(c, OFPT_SET_CONFIG, 1, cfg, 4);
	send_simple(c, OFPT_GET_CONFIG_REQUEST, 2, NULL, 0);
	client_expect(f, c, OFPT_GET_CONFIG_REPLY);
	assert_int_equal(ofa_get16(c->buf + 10), 256);
	/* No group support in this datapath: GROUP_MOD is a bad type. */
	{
		struct ofa_group_mod gm = { .command = OFPGC_ADD, .group_id = 1 };

		assert_int_equal(ofa_group_mod_encode(&gm, 3, &b), 0);
		client_send_buf(c, &b);
		client_expect_error(f, c, OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE);
	}
	ofa_buf_fini(&b);
	client_close(c);
}

static void test_output_queue_is_bounded(void **state)
{
	struct fx *f = *state;
	struct client *c = client_handshake(f);
	uint8_t big[60000];
	struct ofa_packet_in pi = { .reason = OFPR_ACTION, .max_len = OFPCML_NO_BUFFER,
				    .data = big, .len = sizeof(big) };
	struct ofa_conn *conn = f->agent->conns;
	int i, rcv = 4096;

	/* The client never reads; shrink its receive buffer so the kernel
	 * soaks up little. */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	memset(big, 0, sizeof(big));
	ofa_match_init(&pi.match);
	/* The kernel's socket buffers take some megabytes first. */
	for (i = 0; i < 2000 && !conn->tx_dropped; i++)
		ofa_agent_packet_in(f->agent, &pi);
	assert_true(conn->tx.len - conn->tx_off <= 65536);
	assert_true(conn->tx_dropped > 0);
	/* Requests keep coming while nobody reads: the agent stops reading. */
	{
		struct ofa_buf b;

		ofa_buf_init(&b);
		assert_int_equal(ofa_simple_encode(OFPT_ECHO_REQUEST, 1, big, 30000, &b), 0);
		/* Non-blocking, and never a partial message (it would break
		 * the framing of the next). */
		for (i = 0; i < 200; i++) {
			ssize_t n = send(c->fd, b.data, b.len, MSG_DONTWAIT | MSG_NOSIGNAL);

			pump(f, 2);
			if (n != (ssize_t)b.len)
				break;
		}
		ofa_buf_fini(&b);
	}
	pump(f, 200);
	assert_true(conn->rx_paused);
	assert_true(conn->tx.len - conn->tx_off <= 65536 / 2 + 65535);
	client_close(c);
	pump(f, 50);
}

static void test_packet_out_raising_packet_in(void **state)
{
	struct fx *f = *state;
	struct client *c = client_handshake(f);
	static const uint8_t pkt[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3 };
	struct ofa_packet_out po = { .buffer_id = OFP_NO_BUFFER, .in_port = 2, .data = pkt,
				     .data_len = sizeof(pkt) };
	struct ofa_action a = { .type = OFPAT_OUTPUT, .u.output = { OFPP_CONTROLLER, 0xffff } };
	struct ofa_packet_in pi;
	struct ofa_buf b;

	ofa_actions_add(&po.actions, &a);
	ofa_buf_init(&b);
	assert_int_equal(ofa_packet_out_encode(&po, 5, &b), 0);
	client_send_buf(c, &b);
	client_expect(f, c, OFPT_PACKET_IN);
	assert_int_equal(ofa_packet_in_decode(c->buf, ofa_get16(c->buf + 2), &pi), 0);
	assert_int_equal(pi.len, sizeof(pkt));
	assert_memory_equal(pi.data, pkt, sizeof(pkt));
	assert_int_equal(pi.match.value[OFPXMT_OFB_IN_PORT].u64, 2);
	ofa_packet_out_fini(&po);
	ofa_buf_fini(&b);
	client_close(c);
}

/* An active target retries with doubling back-off capped at the maximum,
 * and connects once a controller listens. */
static void test_active_reconnect_backoff(void **state)
{
	struct ofa_agent_config cfg;
	struct vsl_loop *loop = vsl_loop_create();
	struct fake_dp dp = { 0 };
	struct ofa_agent *agent;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int lfd, cfd, one = 1;
	char target[64];
	uint8_t buf[64];
	uint64_t end;
	unsigned prev = 0;

	(void)state;
	/* Reserve a port, then close it so that connects are refused. */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	snprintf(target, sizeof(target), "tcp:127.0.0.1:%u", ntohs(sa.sin_port));

	ofa_agent_config_default(&cfg);
	cfg.backoff_min_ms = 10;
	cfg.backoff_max_ms = 40;
	agent = ofa_agent_create(loop, &fake_ops, &dp, &cfg);
	assert_non_null(agent);
	assert_int_equal(ofa_agent_add_target(agent, "tcp:1.2.3"), -EINVAL);
	assert_int_equal(ofa_agent_add_target(agent, "udp:1.2.3.4:5"), -EINVAL);
	assert_int_equal(ofa_agent_add_target(agent, target), 0);
	assert_int_equal(ofa_agent_add_target(agent, target), -EEXIST);
	end = vsl_time_mono_ms() + 300;
	while (vsl_time_mono_ms() < end) {
		vsl_loop_run_once(loop, 5);
		assert_true(agent->targets->backoff_ms <= 40);
		assert_true(agent->targets->backoff_ms >= prev);
		prev = agent->targets->backoff_ms;
	}
	assert_int_equal(prev, 40);
	assert_int_equal(ofa_agent_n_active(agent), 0);

	assert_int_equal(listen(lfd, 4), 0);
	end = vsl_time_mono_ms() + WAIT_MS;
	cfd = -1;
	while (cfd < 0 && vsl_time_mono_ms() < end) {
		vsl_loop_run_once(loop, 5);
		cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	}
	assert_true(cfd >= 0);
	/* The agent speaks first: its HELLO. */
	end = vsl_time_mono_ms() + WAIT_MS;
	while (vsl_time_mono_ms() < end && recv(cfd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT) < 16)
		vsl_loop_run_once(loop, 5);
	assert_int_equal(recv(cfd, buf, 16, 0), 16);
	assert_int_equal(buf[1], OFPT_HELLO);
	assert_int_equal(ofa_agent_del_target(agent, target), 0);
	assert_int_equal(ofa_agent_del_target(agent, target), -ENOENT);
	close(cfd);
	close(lfd);
	ofa_agent_destroy(agent);
	vsl_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_and_features, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hello_failed_old_version, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hello_failed_bitmap_without_13, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_errors_keep_connection, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_framing_loss_closes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_message_before_hello, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_echo_keepalive_drops_silent_peer,
						fx_setup_fast_echo, fx_teardown),
		cmocka_unit_test_setup_teardown(test_echo_answered_keeps_peer, fx_setup_fast_echo,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_roles_generation_and_slave, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_async_by_role, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_barrier_orders_after_earlier_ops, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_flow_dump_reply_more, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_other_requests, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_packet_out_raising_packet_in, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_output_queue_is_bounded, fx_setup_small_queue,
						fx_teardown),
		cmocka_unit_test(test_active_reconnect_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
