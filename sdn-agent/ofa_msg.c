/* ofa_msg.c — decoders for the messages a controller sends (and their
 * encoders, for tests and tools): FLOW_MOD, PACKET_OUT, GROUP_MOD, PORT_MOD,
 * ROLE_REQUEST, SET_CONFIG, MULTIPART requests.
 *
 * Each decoder receives one whole message whose header the caller has
 * checked (ofa_msg_check_header()), copies the fixed part out of the buffer
 * only after checking it is there, and checks every inner length against
 * what is left.
 */
#include <errno.h>
#include <string.h>

#include "ofa_internal.h"

int ofa_msg_check_header(const uint8_t *p, size_t len)
{
	if (len < sizeof(struct ofp_header))
		return OFA_BAD_LEN;
	if (p[0] != OFP13_VERSION)
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_VERSION);
	if (ofa_get16(p + 2) != len)
		return OFA_BAD_LEN;
	return 0;
}

/* ---- FLOW_MOD ---- */

void ofa_flow_mod_fini(struct ofa_flow_mod *fm)
{
	ofa_instructions_fini(&fm->insts);
}

int ofa_flow_mod_decode(const uint8_t *msg, size_t len, struct ofa_flow_mod *fm)
{
	struct ofp_flow_mod w;
	size_t off = offsetof(struct ofp_flow_mod, match), mlen = 0;
	int err;

	memset(fm, 0, sizeof(*fm));
	if (len < sizeof(w))
		return OFA_BAD_LEN;
	memcpy(&w, msg, sizeof(w));
	fm->cookie = be64toh(w.cookie);
	fm->cookie_mask = be64toh(w.cookie_mask);
	fm->table_id = w.table_id;
	fm->command = w.command;
	fm->idle_timeout = be16toh(w.idle_timeout);
	fm->hard_timeout = be16toh(w.hard_timeout);
	fm->priority = be16toh(w.priority);
	fm->buffer_id = be32toh(w.buffer_id);
	fm->out_port = be32toh(w.out_port);
	fm->out_group = be32toh(w.out_group);
	fm->flags = be16toh(w.flags);

	if (fm->command > OFPFC_DELETE_STRICT)
		return ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_COMMAND);
	if (fm->table_id > OFPTT_MAX &&
	    !(fm->table_id == OFPTT_ALL &&
	      (fm->command == OFPFC_DELETE || fm->command == OFPFC_DELETE_STRICT)))
		return ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_TABLE_ID);
	if (fm->flags & ~(OFPFF_SEND_FLOW_REM | OFPFF_CHECK_OVERLAP | OFPFF_RESET_COUNTS |
			  OFPFF_NO_PKT_COUNTS | OFPFF_NO_BYT_COUNTS))
		return ofa_err(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_FLAGS);
	err = ofa_match_decode(msg + off, len - off, &fm->match, &mlen);
	if (err)
		return err;
	off += mlen;
	/* Deletes carry no instructions worth checking, but a malformed list
	 * is still a malformed message. */
	err = ofa_instructions_decode(msg + off, len - off,
				      fm->table_id == OFPTT_ALL ? 0 : fm->table_id,
				      &fm->match, &fm->insts);
	if (err)
		return err;
	if (fm->buffer_id != OFP_NO_BUFFER &&
	    fm->command != OFPFC_DELETE && fm->command != OFPFC_DELETE_STRICT)
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BUFFER_UNKNOWN);
	return 0;
}

int ofa_flow_mod_encode(const struct ofa_flow_mod *fm, uint32_t xid, struct ofa_buf *b)
{
	long start = ofa_msg_start(b, OFPT_FLOW_MOD, xid);
	struct ofp_flow_mod w;

	if (start < 0)
		return (int)start;
	memset(&w, 0, sizeof(w));
	w.cookie = htobe64(fm->cookie);
	w.cookie_mask = htobe64(fm->cookie_mask);
	w.table_id = fm->table_id;
	w.command = fm->command;
	w.idle_timeout = htobe16(fm->idle_timeout);
	w.hard_timeout = htobe16(fm->hard_timeout);
	w.priority = htobe16(fm->priority);
	w.buffer_id = htobe32(fm->buffer_id);
	w.out_port = htobe32(fm->out_port);
	w.out_group = htobe32(fm->out_group);
	w.flags = htobe16(fm->flags);
	/* The fixed part up to the match; the match encodes itself. */
	if (!ofa_buf_put(b, (const uint8_t *)&w + sizeof(struct ofp_header),
			 offsetof(struct ofp_flow_mod, match) - sizeof(struct ofp_header)) ||
	    ofa_match_encode(&fm->match, b) || ofa_instructions_encode(&fm->insts, b))
		return -ENOMEM;
	return ofa_msg_finish(b, start);
}

/* ---- PACKET_OUT ---- */

void ofa_packet_out_fini(struct ofa_packet_out *po)
{
	ofa_actions_fini(&po->actions);
}

int ofa_packet_out_decode(const uint8_t *msg, size_t len, struct ofa_packet_out *po)
{
	struct ofp_packet_out w;
	size_t alen;
	int err;

	memset(po, 0, sizeof(*po));
	if (len < sizeof(w))
		return OFA_BAD_LEN;
	memcpy(&w, msg, sizeof(w));
	po->buffer_id = be32toh(w.buffer_id);
	po->in_port = be32toh(w.in_port);
	alen = be16toh(w.actions_len);
	if (alen > len - sizeof(w))
		return OFA_BAD_LEN;
	if (po->buffer_id != OFP_NO_BUFFER)
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BUFFER_UNKNOWN);
	if (!((po->in_port > 0 && po->in_port <= OFPP_MAX) || po->in_port == OFPP_CONTROLLER ||
	      po->in_port == OFPP_LOCAL || po->in_port == OFPP_ANY))
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_PORT);
	err = ofa_actions_decode(msg + sizeof(w), alen, NULL, &po->actions);
	if (err)
		return err;
	po->data = msg + sizeof(w) + alen;
	po->data_len = len - sizeof(w) - alen;
	return 0;
}

int ofa_packet_out_encode(const struct ofa_packet_out *po, uint32_t xid, struct ofa_buf *b)
{
	long start = ofa_msg_start(b, OFPT_PACKET_OUT, xid);
	size_t body;
	uint8_t *p;

	if (start < 0)
		return (int)start;
	p = ofa_buf_put(b, NULL, sizeof(struct ofp_packet_out) - sizeof(struct ofp_header));
	if (!p)
		return -ENOMEM;
	ofa_put32(p, po->buffer_id);
	ofa_put32(p + 4, po->in_port);
	body = b->len;
	if (ofa_actions_encode(&po->actions, b))
		return -ENOMEM;
	ofa_put16(b->data + start + 16, (uint16_t)(b->len - body));
	if (po->data_len && !ofa_buf_put(b, po->data, po->data_len))
		return -ENOMEM;
	return ofa_msg_finish(b, start);
}

/* ---- GROUP_MOD ---- */

void ofa_group_mod_fini(struct ofa_group_mod *gm)
{
	ofa_buckets_free(gm->buckets, gm->n_buckets);
	gm->buckets = NULL;
	gm->n_buckets = 0;
}

int ofa_group_mod_decode(const uint8_t *msg, size_t len, struct ofa_group_mod *gm)
{
	struct ofp_group_mod w;
	int err;

	memset(gm, 0, sizeof(*gm));
	if (len < sizeof(w))
		return OFA_BAD_LEN;
	memcpy(&w, msg, sizeof(w));
	gm->command = be16toh(w.command);
	gm->type = w.type;
	gm->group_id = be32toh(w.group_id);
	if (gm->command > OFPGC_DELETE)
		return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_BAD_COMMAND);
	if (gm->type > OFPGT_FF && gm->command != OFPGC_DELETE)
		return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_BAD_TYPE);
	/* OFPG_ALL is only meaningful for DELETE. */
	if (gm->group_id > OFPG_MAX && !(gm->command == OFPGC_DELETE && gm->group_id == OFPG_ALL))
		return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_INVALID_GROUP);
	err = ofa_buckets_decode(msg + sizeof(w), len - sizeof(w), gm->type, gm->group_id,
				 &gm->buckets, &gm->n_buckets);
	if (err)
		return err;
	if (gm->command != OFPGC_DELETE && gm->type == OFPGT_INDIRECT && gm->n_buckets != 1)
		return ofa_err(OFPET_GROUP_MOD_FAILED, OFPGMFC_INVALID_GROUP);
	return 0;
}

int ofa_group_mod_encode(const struct ofa_group_mod *gm, uint32_t xid, struct ofa_buf *b)
{
	long start = ofa_msg_start(b, OFPT_GROUP_MOD, xid);
	uint8_t *p;

	if (start < 0)
		return (int)start;
	p = ofa_buf_put(b, NULL, sizeof(struct ofp_group_mod) - sizeof(struct ofp_header));
	if (!p)
		return -ENOMEM;
	ofa_put16(p, gm->command);
	p[2] = gm->type;
	ofa_put32(p + 4, gm->group_id);
	if (ofa_buckets_encode(gm->buckets, gm->n_buckets, b))
		return -ENOMEM;
	return ofa_msg_finish(b, start);
}

/* ---- PORT_MOD, ROLE, SET_CONFIG ---- */

int ofa_port_mod_decode(const uint8_t *msg, size_t len, struct ofa_port_mod *pm)
{
	struct ofp_port_mod w;

	memset(pm, 0, sizeof(*pm));
	if (len != sizeof(w))
		return OFA_BAD_LEN;
	memcpy(&w, msg, sizeof(w));
	pm->port_no = be32toh(w.port_no);
	memcpy(pm->hw_addr, w.hw_addr, sizeof(pm->hw_addr));
	pm->config = be32toh(w.config);
	pm->mask = be32toh(w.mask);
	pm->advertise = be32toh(w.advertise);
	if (pm->port_no == 0 || (pm->port_no > OFPP_MAX && pm->port_no != OFPP_LOCAL))
		return ofa_err(OFPET_PORT_MOD_FAILED, OFPPMFC_BAD_PORT);
	if ((pm->config | pm->mask) &
	    ~(uint32_t)(OFPPC_PORT_DOWN | OFPPC_NO_RECV | OFPPC_NO_FWD | OFPPC_NO_PACKET_IN))
		return ofa_err(OFPET_PORT_MOD_FAILED, OFPPMFC_BAD_CONFIG);
	return 0;
}

int ofa_role_decode(const uint8_t *msg, size_t len, struct ofa_role *r)
{
	struct ofp_role_request w;

	memset(r, 0, sizeof(*r));
	if (len != sizeof(w))
		return OFA_BAD_LEN;
	memcpy(&w, msg, sizeof(w));
	r->role = be32toh(w.role);
	r->generation_id = be64toh(w.generation_id);
	if (r->role > OFPCR_ROLE_SLAVE)
		return ofa_err(OFPET_ROLE_REQUEST_FAILED, OFPRRFC_BAD_ROLE);
	return 0;
}

int ofa_role_encode(uint8_t type, const struct ofa_role *r, uint32_t xid, struct ofa_buf *b)
{
	long start = ofa_msg_start(b, type, xid);
	uint8_t *p;

	if (start < 0)
		return (int)start;
	p = ofa_buf_put(b, NULL, sizeof(struct ofp_role_request) - sizeof(struct ofp_header));
	if (!p)
		return -ENOMEM;
	ofa_put32(p, r->role);
	ofa_put32(p + 8, (uint32_t)(r->generation_id >> 32));
	ofa_put32(p + 12, (uint32_t)r->generation_id);
	return ofa_msg_finish(b, start);
}

int ofa_switch_config_decode(const uint8_t *msg, size_t len, struct ofa_switch_config *c)
{
	memset(c, 0, sizeof(*c));
	if (len != sizeof(struct ofp_switch_config))
		return OFA_BAD_LEN;
	c->flags = ofa_get16(msg + 8);
	c->miss_send_len = ofa_get16(msg + 10);
	if (c->flags & ~(uint16_t)OFPC_FRAG_MASK)
		return ofa_err(OFPET_SWITCH_CONFIG_FAILED, OFPSCFC_BAD_FLAGS);
	return 0;
}

int ofa_switch_config_encode(uint8_t type, const struct ofa_switch_config *c, uint32_t xid,
			     struct ofa_buf *b)
{
	long start = ofa_msg_start(b, type, xid);
	uint8_t *p;

	if (start < 0)
		return (int)start;
	p = ofa_buf_put(b, NULL, 4);
	if (!p)
		return -ENOMEM;
	ofa_put16(p, c->flags);
	ofa_put16(p + 2, c->miss_send_len);
	return ofa_msg_finish(b, start);
}

/* ---- MULTIPART requests ---- */

/* Minimum body length of each request type this agent answers; -1 for types
 * it does not know. */
static int ofa_mp_request_min_body(uint16_t type)
{
	switch (type) {
	case OFPMP_DESC:
	case OFPMP_TABLE:
	case OFPMP_GROUP_DESC:
	case OFPMP_GROUP_FEATURES:
	case OFPMP_PORT_DESC:
	case OFPMP_TABLE_FEATURES:
	case OFPMP_METER_FEATURES:
		return 0;
	case OFPMP_FLOW:
	case OFPMP_AGGREGATE:
		return (int)sizeof(struct ofp_flow_stats_request);
	case OFPMP_PORT_STATS:
	case OFPMP_GROUP:
	case OFPMP_QUEUE:
	case OFPMP_METER:
	case OFPMP_METER_CONFIG:
		return 8;
	default:
		return -1;
	}
}

int ofa_multipart_request_decode(const uint8_t *msg, size_t len,
				 struct ofa_multipart_request *mp)
{
	const size_t hdr = sizeof(struct ofp_multipart_request);
	const uint8_t *body = msg + hdr;
	size_t blen, mlen = 0;
	int min;

	memset(mp, 0, sizeof(*mp));
	if (len < hdr)
		return OFA_BAD_LEN;
	mp->type = ofa_get16(msg + 8);
	mp->flags = ofa_get16(msg + 10);
	blen = len - hdr;
	mp->body = body;
	mp->body_len = blen;
	min = ofa_mp_request_min_body(mp->type);
	if (min < 0)
		return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_MULTIPART);
	if (blen < (size_t)min)
		return OFA_BAD_LEN;
	switch (mp->type) {
	case OFPMP_DESC:
	case OFPMP_TABLE:
	case OFPMP_GROUP_DESC:
	case OFPMP_GROUP_FEATURES:
	case OFPMP_PORT_DESC:
	case OFPMP_METER_FEATURES:
		/* These requests have no body: anything more is a length error. */
		return blen ? OFA_BAD_LEN : 0;
	case OFPMP_FLOW:
	case OFPMP_AGGREGATE: {
		struct ofa_flow_stats_request *fr = &mp->u.flow;
		size_t off = offsetof(struct ofp_flow_stats_request, match);
		int err;

		fr->table_id = body[0];
		fr->out_port = ofa_get32(body + 4);
		fr->out_group = ofa_get32(body + 8);
		fr->cookie = ofa_get64(body + 16);
		fr->cookie_mask = ofa_get64(body + 24);
		err = ofa_match_decode(body + off, blen - off, &fr->match, &mlen);
		if (err)
			return err;
		if (off + mlen != blen)
			return OFA_BAD_LEN;
		if (fr->table_id > OFPTT_MAX && fr->table_id != OFPTT_ALL)
			return ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_TABLE_ID);
		return 0;
	}
	case OFPMP_PORT_STATS:
		mp->u.port_no = ofa_get32(body);
		return blen == 8 ? 0 : OFA_BAD_LEN;
	case OFPMP_GROUP:
		mp->u.group_id = ofa_get32(body);
		return blen == 8 ? 0 : OFA_BAD_LEN;
	default:
		return 0;
	}
}

int ofa_multipart_request_encode(const struct ofa_multipart_request *mp, uint32_t xid,
				 struct ofa_buf *b)
{
	long start = ofa_msg_start(b, OFPT_MULTIPART_REQUEST, xid);
	uint8_t *p;

	if (start < 0)
		return (int)start;
	p = ofa_buf_put(b, NULL, 8);
	if (!p)
		return -ENOMEM;
	ofa_put16(p, mp->type);
	ofa_put16(p + 2, mp->flags);
	switch (mp->type) {
	case OFPMP_FLOW:
	case OFPMP_AGGREGATE: {
		const struct ofa_flow_stats_request *fr = &mp->u.flow;

		p = ofa_buf_put(b, NULL, offsetof(struct ofp_flow_stats_request, match));
		if (!p)
			return -ENOMEM;
		p[0] = fr->table_id;
		ofa_put32(p + 4, fr->out_port);
		ofa_put32(p + 8, fr->out_group);
		ofa_put32(p + 16, (uint32_t)(fr->cookie >> 32));
		ofa_put32(p + 20, (uint32_t)fr->cookie);
		ofa_put32(p + 24, (uint32_t)(fr->cookie_mask >> 32));
		ofa_put32(p + 28, (uint32_t)fr->cookie_mask);
		if (ofa_match_encode(&fr->match, b))
			return -ENOMEM;
		break;
	}
	case OFPMP_PORT_STATS:
	case OFPMP_GROUP:
		p = ofa_buf_put(b, NULL, 8);
		if (!p)
			return -ENOMEM;
		ofa_put32(p, mp->type == OFPMP_GROUP ? mp->u.group_id : mp->u.port_no);
		break;
	default:
		if (mp->body_len && !ofa_buf_put(b, mp->body, mp->body_len))
			return -ENOMEM;
		break;
	}
	return ofa_msg_finish(b, start);
}

/* ---- controller-side decoders of switch messages ---- */

int ofa_flow_stats_decode(const uint8_t *p, size_t len, struct ofa_flow_stats *fs,
			  struct ofa_match *match, struct ofa_instructions *insts,
			  size_t *consumed)
{
	struct ofp_flow_stats w;
	size_t flen, off = offsetof(struct ofp_flow_stats, match), mlen = 0;
	int err;

	memset(fs, 0, sizeof(*fs));
	memset(insts, 0, sizeof(*insts));
	if (len < sizeof(w))
		return OFA_BAD_LEN;
	memcpy(&w, p, sizeof(w));
	flen = be16toh(w.length);
	if (flen < sizeof(w) || flen > len)
		return OFA_BAD_LEN;
	fs->table_id = w.table_id;
	fs->duration_sec = be32toh(w.duration_sec);
	fs->duration_nsec = be32toh(w.duration_nsec);
	fs->priority = be16toh(w.priority);
	fs->idle_timeout = be16toh(w.idle_timeout);
	fs->hard_timeout = be16toh(w.hard_timeout);
	fs->flags = be16toh(w.flags);
	fs->cookie = be64toh(w.cookie);
	fs->packet_count = be64toh(w.packet_count);
	fs->byte_count = be64toh(w.byte_count);
	err = ofa_match_decode(p + off, flen - off, match, &mlen);
	if (err)
		return err;
	off += mlen;
	err = ofa_instructions_decode(p + off, flen - off, fs->table_id, match, insts);
	if (err)
		return err;
	fs->match = match;
	fs->insts = insts;
	*consumed = flen;
	return 0;
}

int ofa_packet_in_decode(const uint8_t *msg, size_t len, struct ofa_packet_in *pi)
{
	struct ofp_packet_in w;
	size_t off = offsetof(struct ofp_packet_in, match), mlen = 0;
	int err;

	memset(pi, 0, sizeof(*pi));
	if (len < sizeof(w))
		return OFA_BAD_LEN;
	memcpy(&w, msg, sizeof(w));
	pi->reason = w.reason;
	pi->table_id = w.table_id;
	pi->cookie = be64toh(w.cookie);
	err = ofa_match_decode(msg + off, len - off, &pi->match, &mlen);
	if (err)
		return err;
	off += mlen;
	if (len - off < 2)
		return OFA_BAD_LEN;
	off += 2;
	pi->data = msg + off;
	pi->len = len - off;
	pi->max_len = be16toh(w.total_len);  /* total_len: the original size */
	return 0;
}
