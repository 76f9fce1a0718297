/* ofa_reply.c — encoders for what the switch sends: HELLO, ERROR, ECHO,
 * FEATURES_REPLY, PACKET_IN, FLOW_REMOVED, PORT_STATUS, and MULTIPART replies
 * split into REPLY_MORE pieces by struct ofa_mp_reply.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ofa_internal.h"

enum { OFA_ERROR_DATA_MAX = 64 };  /* bytes of the offending message echoed */

int ofa_hello_encode(uint32_t xid, struct ofa_buf *b)
{
	long start = ofa_msg_start(b, OFPT_HELLO, xid);
	uint8_t *p;

	if (start < 0)
		return (int)start;
	/* One VERSIONBITMAP element with one 32-bit bitmap: bit 4 = 1.3. */
	p = ofa_buf_put(b, NULL, 8);
	if (!p)
		return -ENOMEM;
	ofa_put16(p, OFPHET_VERSIONBITMAP);
	ofa_put16(p + 2, 8);
	ofa_put32(p + 4, 1u << OFP13_VERSION);
	return ofa_msg_finish(b, start);
}

int ofa_error_encode(int err, uint32_t xid, const void *data, size_t len, struct ofa_buf *b)
{
	long start = ofa_msg_start(b, OFPT_ERROR, xid);
	uint8_t *p;

	if (start < 0)
		return (int)start;
	if (!ofa_err_is_ofp(err))
		err = ofa_err(OFPET_BAD_REQUEST, OFPBRC_EPERM);
	p = ofa_buf_put(b, NULL, 4);
	if (!p)
		return -ENOMEM;
	ofa_put16(p, ofa_err_type(err));
	ofa_put16(p + 2, ofa_err_code(err));
	if (len && !ofa_buf_put(b, data, len))
		return -ENOMEM;
	return ofa_msg_finish(b, start);
}

int ofa_error_encode_for(int err, const uint8_t *request, size_t req_len, struct ofa_buf *b)
{
	uint32_t xid = req_len >= sizeof(struct ofp_header) ? ofa_get32(request + 4) : 0;

	return ofa_error_encode(err, xid, request, VSL_MIN(req_len, OFA_ERROR_DATA_MAX), b);
}

int ofa_simple_encode(uint8_t type, uint32_t xid, const void *payload, size_t len,
		      struct ofa_buf *b)
{
	long start = ofa_msg_start(b, type, xid);

	if (start < 0)
		return (int)start;
	if (len && !ofa_buf_put(b, payload, len))
		return -ENOMEM;
	return ofa_msg_finish(b, start);
}

int ofa_features_reply_encode(const struct ofa_features *f, uint32_t xid, struct ofa_buf *b)
{
	long start = ofa_msg_start(b, OFPT_FEATURES_REPLY, xid);
	struct ofp_switch_features w;

	if (start < 0)
		return (int)start;
	memset(&w, 0, sizeof(w));
	w.datapath_id = htobe64(f->datapath_id);
	w.n_buffers = htobe32(f->n_buffers);
	w.n_tables = f->n_tables;
	w.capabilities = htobe32(f->capabilities);
	if (!ofa_buf_put(b, (uint8_t *)&w + sizeof(w.header), sizeof(w) - sizeof(w.header)))
		return -ENOMEM;
	return ofa_msg_finish(b, start);
}

int ofa_packet_in_encode(const struct ofa_packet_in *pi, uint16_t max_len, struct ofa_buf *b)
{
	long start = ofa_msg_start(b, OFPT_PACKET_IN, 0);
	size_t n, room;
	uint8_t *p;

	if (start < 0)
		return (int)start;
	p = ofa_buf_put(b, NULL, 16);
	if (!p)
		return -ENOMEM;
	ofa_put32(p, OFP_NO_BUFFER);
	ofa_put16(p + 4, (uint16_t)VSL_MIN(pi->len, 0xffff));
	p[6] = pi->reason;
	p[7] = pi->table_id;
	ofa_put32(p + 8, (uint32_t)(pi->cookie >> 32));
	ofa_put32(p + 12, (uint32_t)pi->cookie);
	if (ofa_match_encode(&pi->match, b) || !ofa_buf_put(b, NULL, 2))
		return -ENOMEM;
	n = max_len == OFPCML_NO_BUFFER ? pi->len : VSL_MIN(pi->len, max_len);
	room = OFP_MAX_MSG_LEN - (b->len - (size_t)start);
	n = VSL_MIN(n, room);
	if (n && !ofa_buf_put(b, pi->data, n))
		return -ENOMEM;
	return ofa_msg_finish(b, start);
}

int ofa_flow_removed_encode(const struct ofa_flow_removed *fr, struct ofa_buf *b)
{
	long start = ofa_msg_start(b, OFPT_FLOW_REMOVED, 0);
	struct ofp_flow_removed w;

	if (start < 0)
		return (int)start;
	memset(&w, 0, sizeof(w));
	w.cookie = htobe64(fr->cookie);
	w.priority = htobe16(fr->priority);
	w.reason = fr->reason;
	w.table_id = fr->table_id;
	w.duration_sec = htobe32(fr->duration_sec);
	w.duration_nsec = htobe32(fr->duration_nsec);
	w.idle_timeout = htobe16(fr->idle_timeout);
	w.hard_timeout = htobe16(fr->hard_timeout);
	w.packet_count = htobe64(fr->packet_count);
	w.byte_count = htobe64(fr->byte_count);
	if (!ofa_buf_put(b, (uint8_t *)&w + sizeof(w.header),
			 offsetof(struct ofp_flow_removed, match) - sizeof(w.header)) ||
	    ofa_match_encode(&fr->match, b))
		return -ENOMEM;
	return ofa_msg_finish(b, start);
}

void ofa_port_to_wire(const struct ofa_port *p, struct ofp_port *w)
{
	memset(w, 0, sizeof(*w));
	w->port_no = htobe32(p->port_no);
	memcpy(w->hw_addr, p->hw_addr, sizeof(w->hw_addr));
	memcpy(w->name, p->name, sizeof(w->name));
	w->name[sizeof(w->name) - 1] = '\0';
	w->config = htobe32(p->config);
	w->state = htobe32(p->state);
	w->curr = htobe32(p->curr);
	w->advertised = htobe32(p->advertised);
	w->supported = htobe32(p->supported);
	w->peer = htobe32(p->peer);
	w->curr_speed = htobe32(p->curr_speed);
	w->max_speed = htobe32(p->max_speed);
}

int ofa_port_status_encode(uint8_t reason, const struct ofa_port *p, struct ofa_buf *b)
{
	long start = ofa_msg_start(b, OFPT_PORT_STATUS, 0);
	struct ofp_port w;
	uint8_t *q;

	if (start < 0)
		return (int)start;
	q = ofa_buf_put(b, NULL, 8);
	if (!q)
		return -ENOMEM;
	q[0] = reason;
	ofa_port_to_wire(p, &w);
	if (!ofa_buf_put(b, &w, sizeof(w)))
		return -ENOMEM;
	return ofa_msg_finish(b, start);
}

/* ---- multipart replies ---- */

static void ofa_mp_open(struct ofa_mp_reply *r)
{
	uint8_t *p;

	r->start = ofa_msg_start(r->b, OFPT_MULTIPART_REPLY, r->xid);
	if (r->start < 0) {
		r->err = (int)r->start;
		return;
	}
	p = ofa_buf_put(r->b, NULL, 8);
	if (!p) {
		r->err = -ENOMEM;
		r->start = -1;
		return;
	}
	ofa_put16(p, r->type);
}

void ofa_mp_reply_init(struct ofa_mp_reply *r, struct ofa_buf *b, uint16_t type, uint32_t xid)
{
	memset(r, 0, sizeof(*r));
	r->b = b;
	r->type = type;
	r->xid = xid;
	r->max_msg = OFP_MAX_MSG_LEN;
	r->start = -1;
	r->entry_start = -1;
}

void ofa_mp_reply_entry_begin(struct ofa_mp_reply *r)
{
	if (r->err)
		return;
	if (r->start < 0)
		ofa_mp_open(r);
	r->entry_start = (long)r->b->len;
}

void ofa_mp_reply_entry_end(struct ofa_mp_reply *r)
{
	const size_t hdr = sizeof(struct ofp_multipart_reply);
	size_t elen;
	uint8_t *tmp;

	if (r->err || r->entry_start < 0)
		return;
	elen = r->b->len - (size_t)r->entry_start;
	if (r->b->len - (size_t)r->start <= r->max_msg)
		goto done;
	if (elen + hdr > r->max_msg) {
		r->err = -EMSGSIZE;
		goto done;
	}
	/* The entry does not fit: close the message before it with REPLY_MORE
	 * and move the entry into a fresh one. */
	tmp = malloc(elen);
	if (!tmp) {
		r->err = -ENOMEM;
		goto done;
	}
	memcpy(tmp, r->b->data + r->entry_start, elen);
	r->b->len = (size_t)r->entry_start;
	ofa_put16(r->b->data + r->start + 10, OFPMPF_REPLY_MORE);
	ofa_msg_finish(r->b, r->start);
	ofa_mp_open(r);
	if (!r->err && !ofa_buf_put(r->b, tmp, elen))
		r->err = -ENOMEM;
	free(tmp);
done:
	r->entry_start = -1;
}

int ofa_mp_reply_finish(struct ofa_mp_reply *r)
{
	if (r->err)
		return r->err;
	if (r->start < 0)
		ofa_mp_open(r);
	if (r->err)
		return r->err;
	r->err = ofa_msg_finish(r->b, r->start);
	r->start = -1;
	return r->err;
}

static int ofa_mp_put(struct ofa_mp_reply *r, const void *src, size_t n)
{
	ofa_mp_reply_entry_begin(r);
	if (!r->err && !ofa_buf_put(r->b, src, n))
		r->err = -ENOMEM;
	ofa_mp_reply_entry_end(r);
	return r->err;
}

static void ofa_strlcpy(char *dst, const char *src, size_t len)
{
	size_t n = src ? strnlen(src, len - 1) : 0;

	memset(dst, 0, len);
	if (n)
		memcpy(dst, src, n);
}

int ofa_mp_desc_add(struct ofa_mp_reply *r, const struct ofa_desc *d)
{
	struct ofp_desc w;

	ofa_strlcpy(w.mfr_desc, d->mfr, sizeof(w.mfr_desc));
	ofa_strlcpy(w.hw_desc, d->hw, sizeof(w.hw_desc));
	ofa_strlcpy(w.sw_desc, d->sw, sizeof(w.sw_desc));
	ofa_strlcpy(w.serial_num, d->serial, sizeof(w.serial_num));
	ofa_strlcpy(w.dp_desc, d->dp, sizeof(w.dp_desc));
	return ofa_mp_put(r, &w, sizeof(w));
}

int ofa_mp_flow_stats_add(struct ofa_mp_reply *r, const struct ofa_flow_stats *fs)
{
	struct ofp_flow_stats w;
	size_t start;

	ofa_mp_reply_entry_begin(r);
	if (r->err)
		return r->err;
	start = r->b->len;
	memset(&w, 0, sizeof(w));
	w.table_id = fs->table_id;
	w.duration_sec = htobe32(fs->duration_sec);
	w.duration_nsec = htobe32(fs->duration_nsec);
	w.priority = htobe16(fs->priority);
	w.idle_timeout = htobe16(fs->idle_timeout);
	w.hard_timeout = htobe16(fs->hard_timeout);
	w.flags = htobe16(fs->flags);
	w.cookie = htobe64(fs->cookie);
	w.packet_count = htobe64(fs->packet_count);
	w.byte_count = htobe64(fs->byte_count);
	if (!ofa_buf_put(r->b, &w, offsetof(struct ofp_flow_stats, match)) ||
	    ofa_match_encode(fs->match, r->b) ||
	    (fs->insts && ofa_instructions_encode(fs->insts, r->b)))
		r->err = -ENOMEM;
	else
		ofa_put16(r->b->data + start, (uint16_t)(r->b->len - start));
	ofa_mp_reply_entry_end(r);
	return r->err;
}

int ofa_mp_aggregate_add(struct ofa_mp_reply *r, const struct ofa_aggregate_stats *a)
{
	struct ofp_aggregate_stats_reply w;

	memset(&w, 0, sizeof(w));
	w.packet_count = htobe64(a->packet_count);
	w.byte_count = htobe64(a->byte_count);
	w.flow_count = htobe32(a->flow_count);
	return ofa_mp_put(r, &w, sizeof(w));
}

int ofa_mp_table_stats_add(struct ofa_mp_reply *r, const struct ofa_table_stats *t)
{
	struct ofp_table_stats w;

	memset(&w, 0, sizeof(w));
	w.table_id = t->table_id;
	w.active_count = htobe32(t->active_count);
	w.lookup_count = htobe64(t->lookup_count);
	w.matched_count = htobe64(t->matched_count);
	return ofa_mp_put(r, &w, sizeof(w));
}

int ofa_mp_port_stats_add(struct ofa_mp_reply *r, const struct ofa_port_stats *ps)
{
	struct ofp_port_stats w;

	memset(&w, 0, sizeof(w));
	w.port_no = htobe32(ps->port_no);
	w.rx_packets = htobe64(ps->rx_packets);
	w.tx_packets = htobe64(ps->tx_packets);
	w.rx_bytes = htobe64(ps->rx_bytes);
	w.tx_bytes = htobe64(ps->tx_bytes);
	w.rx_dropped = htobe64(ps->rx_dropped);
	w.tx_dropped = htobe64(ps->tx_dropped);
	w.rx_errors = htobe64(ps->rx_errors);
	w.tx_errors = htobe64(ps->tx_errors);
	w.rx_frame_err = htobe64(ps->rx_frame_err);
	w.rx_over_err = htobe64(ps->rx_over_err);
	w.rx_crc_err = htobe64(ps->rx_crc_err);
	w.collisions = htobe64(ps->collisions);
	w.duration_sec = htobe32(ps->duration_sec);
	w.duration_nsec = htobe32(ps->duration_nsec);
	return ofa_mp_put(r, &w, sizeof(w));
}

int ofa_mp_port_desc_add(struct ofa_mp_reply *r, const struct ofa_port *p)
{
	struct ofp_port w;

	ofa_port_to_wire(p, &w);
	return ofa_mp_put(r, &w, sizeof(w));
}

int ofa_mp_group_desc_add(struct ofa_mp_reply *r, const struct ofa_group_desc *g)
{
	size_t start;
	uint8_t *p;

	ofa_mp_reply_entry_begin(r);
	if (r->err)
		return r->err;
	start = r->b->len;
	p = ofa_buf_put(r->b, NULL, sizeof(struct ofp_group_desc));
	if (!p || ofa_buckets_encode(g->buckets, g->n_buckets, r->b)) {
		r->err = -ENOMEM;
	} else {
		p = r->b->data + start;
		ofa_put16(p, (uint16_t)(r->b->len - start));
		p[2] = g->type;
		ofa_put32(p + 4, g->group_id);
	}
	ofa_mp_reply_entry_end(r);
	return r->err;
}

int ofa_mp_group_features_add(struct ofa_mp_reply *r, const struct ofa_group_features *g)
{
	struct ofp_group_features w;
	int i;

	w.types = htobe32(g->types);
	w.capabilities = htobe32(g->capabilities);
	for (i = 0; i < 4; i++) {
		w.max_groups[i] = htobe32(g->max_groups[i]);
		w.actions[i] = htobe32(g->actions[i]);
	}
	return ofa_mp_put(r, &w, sizeof(w));
}

/* ---- table features ---- */

static const uint16_t ofa_supported_insts[] = {
	OFPIT_GOTO_TABLE, OFPIT_WRITE_METADATA, OFPIT_WRITE_ACTIONS,
	OFPIT_APPLY_ACTIONS, OFPIT_CLEAR_ACTIONS,
};

static const uint16_t ofa_supported_actions[] = {
	OFPAT_OUTPUT, OFPAT_COPY_TTL_OUT, OFPAT_COPY_TTL_IN, OFPAT_SET_MPLS_TTL,
	OFPAT_DEC_MPLS_TTL, OFPAT_PUSH_VLAN, OFPAT_POP_VLAN, OFPAT_PUSH_MPLS,
	OFPAT_POP_MPLS, OFPAT_SET_QUEUE, OFPAT_GROUP, OFPAT_SET_NW_TTL,
	OFPAT_DEC_NW_TTL, OFPAT_SET_FIELD,
};

/* Property header, then the caller appends; ofa_tf_prop_end() sets the
 * length (without padding, as the spec says) and pads to 8. */
static size_t ofa_tf_prop_begin(struct ofa_buf *b, uint16_t type)
{
	size_t start = b->len;
	uint8_t *p = ofa_buf_put(b, NULL, 4);

	if (p)
		ofa_put16(p, type);
	return p ? start : SIZE_MAX;
}

static int ofa_tf_prop_end(struct ofa_buf *b, size_t start)
{
	if (start == SIZE_MAX)
		return -ENOMEM;
	ofa_put16(b->data + start + 2, (uint16_t)(b->len - start));
	return ofa_buf_pad8(b, start);
}

static int ofa_tf_prop_ids(struct ofa_buf *b, uint16_t type, const uint16_t *ids, size_t n)
{
	size_t start = ofa_tf_prop_begin(b, type), i;
	uint8_t *p;

	for (i = 0; i < n && start != SIZE_MAX; i++) {
		p = ofa_buf_put(b, NULL, 4);
		if (!p)
			return -ENOMEM;
		ofa_put16(p, ids[i]);
		ofa_put16(p + 2, 4);
	}
	return ofa_tf_prop_end(b, start);
}

static int ofa_tf_prop_oxms(struct ofa_buf *b, uint16_t type, bool with_masks)
{
	size_t start = ofa_tf_prop_begin(b, type);
	unsigned f;
	uint8_t *p;

	for (f = 0; f < OFA_N_FIELDS && start != SIZE_MAX; f++) {
		const struct ofa_field_info *fi = ofa_field_info(f);
		bool m = with_masks && fi->maskable;

		p = ofa_buf_put(b, NULL, 4);
		if (!p)
			return -ENOMEM;
		ofa_put32(p, ofp_oxm_header(OFPXMC_OPENFLOW_BASIC, (uint8_t)f, m,
					    (uint8_t)(m ? 2 * fi->len : fi->len)));
	}
	return ofa_tf_prop_end(b, start);
}

int ofa_mp_table_features_add(struct ofa_mp_reply *r, uint8_t table_id, uint8_t n_tables,
			      uint32_t max_entries)
{
	struct ofp_table_features w;
	size_t start, ps;
	uint8_t *p;
	unsigned t;
	int err = 0;

	ofa_mp_reply_entry_begin(r);
	if (r->err)
		return r->err;
	start = r->b->len;
	memset(&w, 0, sizeof(w));
	w.table_id = table_id;
	snprintf(w.name, sizeof(w.name), "table%u", table_id);
	w.metadata_match = UINT64_MAX;
	w.metadata_write = UINT64_MAX;
	w.max_entries = htobe32(max_entries);
	if (!ofa_buf_put(r->b, &w, sizeof(w)))
		err = -ENOMEM;
	err = err ?: ofa_tf_prop_ids(r->b, OFPTFPT_INSTRUCTIONS, ofa_supported_insts,
				     VSL_ARRAY_SIZE(ofa_supported_insts));
	if (!err) {
		ps = ofa_tf_prop_begin(r->b, OFPTFPT_NEXT_TABLES);
		for (t = table_id + 1u; t < n_tables && ps != SIZE_MAX; t++) {
			p = ofa_buf_put(r->b, NULL, 1);
			if (!p)
				break;
			*p = (uint8_t)t;
		}
		err = ofa_tf_prop_end(r->b, ps);
	}
	err = err ?: ofa_tf_prop_ids(r->b, OFPTFPT_WRITE_ACTIONS, ofa_supported_actions,
				     VSL_ARRAY_SIZE(ofa_supported_actions));
	err = err ?: ofa_tf_prop_ids(r->b, OFPTFPT_APPLY_ACTIONS, ofa_supported_actions,
				     VSL_ARRAY_SIZE(ofa_supported_actions));
	err = err ?: ofa_tf_prop_oxms(r->b, OFPTFPT_MATCH, true);
	err = err ?: ofa_tf_prop_oxms(r->b, OFPTFPT_WILDCARDS, false);
	err = err ?: ofa_tf_prop_oxms(r->b, OFPTFPT_WRITE_SETFIELD, false);
	err = err ?: ofa_tf_prop_oxms(r->b, OFPTFPT_APPLY_SETFIELD, false);
	if (err)
		r->err = err;
	else
		ofa_put16(r->b->data + start, (uint16_t)(r->b->len - start));
	ofa_mp_reply_entry_end(r);
	return r->err;
}
