/* ofa_handler.c — the message dispatch table and one handler per message type
 * a controller may send, in the manner of OVS's ofp-msgs: the table gives the
 * handler, the minimum (or exact) length and whether the message changes
 * switch state (refused to a SLAVE with OFPBRC_IS_SLAVE). The dispatcher
 * checks those before a handler runs; handlers decode with ofa_msg.h, call
 * the datapath ops and queue the reply. A handler's non-zero return is sent
 * back as OFPT_ERROR carrying the first 64 bytes of the request.
 */
#include <errno.h>
#include <string.h>

#include "ofa_internal.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(ofa_handler);

typedef int (*ofa_handler_fn)(struct ofa_conn *c, const uint8_t *msg, size_t len);

struct ofa_handler {
	ofa_handler_fn fn;       /* NULL: a type a controller must not send */
	uint16_t min_len;
	bool fixed;              /* the length must be exactly min_len */
	bool modifies;           /* changes switch state: denied to SLAVE */
};

static uint32_t ofa_xid(const uint8_t *msg)
{
	return ofa_get32(msg + 4);
}

/* Queues an encoded reply; replies are never dropped (see ofa_conn_send()). */
static int ofa_reply(struct ofa_conn *c, const struct ofa_buf *b)
{
	return ofa_conn_send(c, b->data, b->len, false);
}

/* Maps an op's -errno to the error the controller sees. */
static int ofa_op_err(const char *op, int err)
{
	if (err >= 0)
		return err;
	VSL_WARN("datapath %s failed: %s", op, strerror(-err));
	return ofa_err(OFPET_BAD_REQUEST, OFPBRC_EPERM);
}

/* ---- symmetric and configuration messages ---- */

static int ofa_on_hello(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	(void)c, (void)msg, (void)len;
	return 0;  /* a repeated HELLO changes nothing */
}

static int ofa_on_error(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	VSL_INFO("%s: controller sent error type %u code %u", c->peer, ofa_get16(msg + 8),
		 ofa_get16(msg + 10));
	(void)len;
	return 0;
}

static int ofa_on_echo_request(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	struct ofa_buf b;
	int err;

	ofa_buf_init(&b);
	err = ofa_simple_encode(OFPT_ECHO_REPLY, ofa_xid(msg), msg + 8, len - 8, &b);
	if (!err)
		err = ofa_reply(c, &b);
	ofa_buf_fini(&b);
	return err;
}

static int ofa_on_echo_reply(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	(void)c, (void)msg, (void)len;
	return 0;  /* the dispatcher already reset the keep-alive */
}

static int ofa_on_experimenter(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	(void)c, (void)msg, (void)len;
	return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_EXPERIMENTER);
}

static int ofa_on_features_request(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	struct ofa_features f = { 0 };
	struct ofa_buf b;
	int err;

	(void)len;
	c->agent->ops->features(c->agent->dp, &f);
	ofa_buf_init(&b);
	err = ofa_features_reply_encode(&f, ofa_xid(msg), &b);
	if (!err)
		err = ofa_reply(c, &b);
	ofa_buf_fini(&b);
	return err;
}

static int ofa_on_get_config(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	struct ofa_switch_config cfg = { c->config_flags, c->miss_send_len };
	struct ofa_buf b;
	int err;

	(void)len;
	ofa_buf_init(&b);
	err = ofa_switch_config_encode(OFPT_GET_CONFIG_REPLY, &cfg, ofa_xid(msg), &b);
	if (!err)
		err = ofa_reply(c, &b);
	ofa_buf_fini(&b);
	return err;
}

/* miss_send_len is kept per connection: it only shapes what this controller
 * receives, so it is not switch state (and a SLAVE may set it). */
static int ofa_on_set_config(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	struct ofa_switch_config cfg;
	int err = ofa_switch_config_decode(msg, len, &cfg);

	if (err)
		return err;
	c->config_flags = cfg.flags;
	c->miss_send_len = cfg.miss_send_len;
	return 0;
}

/* ---- state changes ---- */

static int ofa_on_packet_out(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	struct ofa_packet_out po;
	int err = ofa_packet_out_decode(msg, len, &po);

	if (!err)
		err = ofa_op_err("packet_out", c->agent->ops->packet_out(c->agent->dp, &po));
	ofa_packet_out_fini(&po);
	return err;
}

static int ofa_on_flow_mod(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	struct ofa_flow_mod fm;
	int err = ofa_flow_mod_decode(msg, len, &fm);

	if (!err)
		err = ofa_op_err("flow_mod", c->agent->ops->flow_mod(c->agent->dp, &fm));
	ofa_flow_mod_fini(&fm);
	return err;
}

static int ofa_on_group_mod(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	struct ofa_group_mod gm;
	int err;

	if (!c->agent->ops->group_mod)
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE);
	err = ofa_group_mod_decode(msg, len, &gm);
	if (!err)
		err = ofa_op_err("group_mod", c->agent->ops->group_mod(c->agent->dp, &gm));
	ofa_group_mod_fini(&gm);
	return err;
}

static int ofa_on_port_mod(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	struct ofa_port_mod pm;
	int err;

	if (!c->agent->ops->port_mod)
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE);
	err = ofa_port_mod_decode(msg, len, &pm);
	if (!err)
		err = ofa_op_err("port_mod", c->agent->ops->port_mod(c->agent->dp, &pm));
	return err;
}

/* 1.3 defines no table configuration bits (the 1.1 miss bits are
 * deprecated): accept 0 for a real table or OFPTT_ALL, refuse the rest. */
static int ofa_on_table_mod(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	struct ofa_features f = { 0 };
	uint8_t table = msg[8];

	(void)len;
	c->agent->ops->features(c->agent->dp, &f);
	if (table != OFPTT_ALL && table >= f.n_tables)
		return ofa_err(OFPET_TABLE_MOD_FAILED, OFPTMFC_BAD_TABLE);
	if (ofa_get32(msg + 12) & ~3u)
		return ofa_err(OFPET_TABLE_MOD_FAILED, OFPTMFC_BAD_CONFIG);
	return 0;
}

static int ofa_on_meter_mod(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	(void)c, (void)msg, (void)len;
	return ofa_err(OFPET_METER_MOD_FAILED, OFPMMFC_OUT_OF_METERS);
}

/* ---- multipart ---- */

static int ofa_mp_flow_cb(void *ctx, const struct ofa_flow_stats *fs)
{
	return ofa_mp_flow_stats_add(ctx, fs);
}

static int ofa_mp_port_cb(void *ctx, const struct ofa_port *p)
{
	return ofa_mp_port_desc_add(ctx, p);
}

static int ofa_mp_port_stats_cb(void *ctx, const struct ofa_port_stats *ps)
{
	return ofa_mp_port_stats_add(ctx, ps);
}

static int ofa_mp_table_cb(void *ctx, const struct ofa_table_stats *ts)
{
	return ofa_mp_table_stats_add(ctx, ts);
}

static int ofa_mp_group_desc_cb(void *ctx, const struct ofa_group_desc *gd)
{
	return ofa_mp_group_desc_add(ctx, gd);
}

static int ofa_mp_fill(struct ofa_conn *c, const struct ofa_multipart_request *mp,
		       struct ofa_mp_reply *r)
{
	const struct ofa_datapath_ops *ops = c->agent->ops;
	void *dp = c->agent->dp;

	switch (mp->type) {
	case OFPMP_DESC: {
		struct ofa_desc d = { "Vessel", "Vessel vswitch", VSL_VERSION, "None", "vessel" };

		if (ops->desc)
			ops->desc(dp, &d);
		return ofa_mp_desc_add(r, &d);
	}
	case OFPMP_FLOW:
		return ofa_op_err("flow_stats", ops->flow_stats(dp, &mp->u.flow, ofa_mp_flow_cb, r));
	case OFPMP_AGGREGATE: {
		struct ofa_aggregate_stats a = { 0 };
		int err = ofa_op_err("aggregate_stats", ops->aggregate_stats(dp, &mp->u.flow, &a));

		return err ? err : ofa_mp_aggregate_add(r, &a);
	}
	case OFPMP_TABLE:
		return ofa_op_err("table_stats", ops->table_stats(dp, ofa_mp_table_cb, r));
	case OFPMP_PORT_STATS:
		return ofa_op_err("port_stats",
				  ops->port_stats(dp, mp->u.port_no, ofa_mp_port_stats_cb, r));
	case OFPMP_PORT_DESC:
		return ofa_op_err("port_desc", ops->port_desc(dp, ofa_mp_port_cb, r));
	case OFPMP_GROUP_DESC:
		if (!ops->group_desc)
			return 0;
		return ofa_op_err("group_desc", ops->group_desc(dp, ofa_mp_group_desc_cb, r));
	case OFPMP_GROUP_FEATURES: {
		struct ofa_group_features g = { 0 };

		if (ops->group_features)
			ops->group_features(dp, &g);
		return ofa_mp_group_features_add(r, &g);
	}
	case OFPMP_TABLE_FEATURES: {
		struct ofa_features f = { 0 };
		unsigned t;
		int err = 0;

		/* Setting table features would reshape the pipeline; the
		 * tables are fixed. */
		if (mp->body_len)
			return ofa_err(OFPET_TABLE_FEATURES_FAILED, OFPTFFC_EPERM);
		ops->features(dp, &f);
		for (t = 0; t < f.n_tables && !err; t++)
			err = ofa_mp_table_features_add(
				r, (uint8_t)t, f.n_tables,
				ops->table_max_entries ? ops->table_max_entries(dp, (uint8_t)t) : 0);
		return err;
	}
	default:
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_MULTIPART);
	}
}

static int ofa_on_multipart(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	struct ofa_multipart_request mp;
	struct ofa_mp_reply r;
	struct ofa_buf b;
	int err;

	err = ofa_multipart_request_decode(msg, len, &mp);
	if (err)
		return err;
	/* Requests spread over several messages are not needed for any type
	 * this switch answers (only TABLE_FEATURES sets may be that big). */
	if (mp.flags & OFPMPF_REQ_MORE)
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_MULTIPART_BUFFER_OVERFLOW);
	ofa_buf_init(&b);
	ofa_mp_reply_init(&r, &b, mp.type, ofa_xid(msg));
	err = ofa_mp_fill(c, &mp, &r);
	if (!err)
		err = r.err ? r.err : ofa_mp_reply_finish(&r);
	if (!err)
		err = ofa_reply(c, &b);
	ofa_buf_fini(&b);
	return err;
}

/* ---- barrier, queues, roles, async config ---- */

static int ofa_on_barrier(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	struct ofa_buf b;
	int err;

	(void)len;
	err = ofa_op_err("barrier", c->agent->ops->barrier(c->agent->dp));
	if (err)
		return err;
	ofa_buf_init(&b);
	err = ofa_simple_encode(OFPT_BARRIER_REPLY, ofa_xid(msg), NULL, 0, &b);
	if (!err)
		err = ofa_reply(c, &b);
	ofa_buf_fini(&b);
	return err;
}

/* No port has queues: the reply lists none. */
static int ofa_on_queue_get_config(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	uint8_t body[8] = { 0 };
	struct ofa_buf b;
	int err;

	(void)len;
	memcpy(body, msg + 8, 4);
	ofa_buf_init(&b);
	err = ofa_simple_encode(OFPT_QUEUE_GET_CONFIG_REPLY, ofa_xid(msg), body, sizeof(body), &b);
	if (!err)
		err = ofa_reply(c, &b);
	ofa_buf_fini(&b);
	return err;
}

static int ofa_on_role_request(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	struct ofa_role req, reply;
	struct ofa_buf b;
	int err = ofa_role_decode(msg, len, &req);

	if (!err)
		err = ofa_agent_role_request(c, &req, &reply);
	if (err)
		return err;
	ofa_buf_init(&b);
	err = ofa_role_encode(OFPT_ROLE_REPLY, &reply, ofa_xid(msg), &b);
	if (!err)
		err = ofa_reply(c, &b);
	ofa_buf_fini(&b);
	return err;
}

static int ofa_on_get_async(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	uint8_t body[24];
	struct ofa_buf b;
	int i, err;

	(void)len;
	for (i = 0; i < 6; i++)
		ofa_put32(body + 4 * i, c->async[i]);
	ofa_buf_init(&b);
	err = ofa_simple_encode(OFPT_GET_ASYNC_REPLY, ofa_xid(msg), body, sizeof(body), &b);
	if (!err)
		err = ofa_reply(c, &b);
	ofa_buf_fini(&b);
	return err;
}

static int ofa_on_set_async(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	int i;

	(void)len;
	for (i = 0; i < 6; i++)
		c->async[i] = ofa_get32(msg + 8 + 4 * i);
	return 0;
}

/* ---- the table ---- */

#define H(TYPE, FN, MIN, FIXED, MOD) [TYPE] = { FN, MIN, FIXED, MOD }

static const struct ofa_handler ofa_handlers[] = {
	H(OFPT_HELLO, ofa_on_hello, 8, false, false),
	H(OFPT_ERROR, ofa_on_error, sizeof(struct ofp_error_msg), false, false),
	H(OFPT_ECHO_REQUEST, ofa_on_echo_request, 8, false, false),
	H(OFPT_ECHO_REPLY, ofa_on_echo_reply, 8, false, false),
	H(OFPT_EXPERIMENTER, ofa_on_experimenter, sizeof(struct ofp_experimenter_header), false,
	  false),
	H(OFPT_FEATURES_REQUEST, ofa_on_features_request, 8, true, false),
	H(OFPT_GET_CONFIG_REQUEST, ofa_on_get_config, 8, true, false),
	H(OFPT_SET_CONFIG, ofa_on_set_config, sizeof(struct ofp_switch_config), true, false),
	H(OFPT_PACKET_OUT, ofa_on_packet_out, sizeof(struct ofp_packet_out), false, true),
	H(OFPT_FLOW_MOD, ofa_on_flow_mod, sizeof(struct ofp_flow_mod), false, true),
	H(OFPT_GROUP_MOD, ofa_on_group_mod, sizeof(struct ofp_group_mod), false, true),
	H(OFPT_PORT_MOD, ofa_on_port_mod, sizeof(struct ofp_port_mod), true, true),
	H(OFPT_TABLE_MOD, ofa_on_table_mod, sizeof(struct ofp_table_mod), true, true),
	H(OFPT_MULTIPART_REQUEST, ofa_on_multipart, sizeof(struct ofp_multipart_request), false,
	  false),
	H(OFPT_BARRIER_REQUEST, ofa_on_barrier, 8, true, false),
	H(OFPT_QUEUE_GET_CONFIG_REQUEST, ofa_on_queue_get_config,
	  sizeof(struct ofp_queue_get_config_request), true, false),
	H(OFPT_ROLE_REQUEST, ofa_on_role_request, sizeof(struct ofp_role_request), true, false),
	H(OFPT_GET_ASYNC_REQUEST, ofa_on_get_async, 8, true, false),
	H(OFPT_SET_ASYNC, ofa_on_set_async, sizeof(struct ofp_async_config), true, false),
	H(OFPT_METER_MOD, ofa_on_meter_mod, sizeof(struct ofp_meter_mod), false, true),
};

void ofa_handle_msg(struct ofa_conn *c, const uint8_t *msg, size_t len)
{
	const struct ofa_handler *h = NULL;
	int err;

	err = ofa_msg_check_header(msg, len);
	if (!err) {
		if (msg[1] < VSL_ARRAY_SIZE(ofa_handlers))
			h = &ofa_handlers[msg[1]];
		if (!h || !h->fn)
			err = ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE);
		else if (len < h->min_len || (h->fixed && len != h->min_len))
			err = ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN);
		else if (h->modifies && c->role == OFPCR_ROLE_SLAVE)
			err = ofa_err(OFPET_BAD_REQUEST, OFPBRC_IS_SLAVE);
		else
			err = h->fn(c, msg, len);
	}
	if (err > 0)
		ofa_conn_send_error(c, err, msg, len);
	else if (err < 0)
		ofa_conn_send_error(c, ofa_op_err("reply", err), msg, len);
}
