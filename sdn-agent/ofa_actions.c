/* ofa_actions.c — actions, instructions and group buckets: decode with every
 * length checked, encode, and the out_port/out_group filters.
 *
 * Lists are decoded into one heap array sized from the wire length (an action
 * is at least 8 bytes, so len / 8 bounds the count): one allocation per list,
 * and a hostile message cannot make the decoder allocate more than it sent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ofa_internal.h"

#define BAC(CODE) ofa_err(OFPET_BAD_ACTION, (CODE))
#define BIC(CODE) ofa_err(OFPET_BAD_INSTRUCTION, (CODE))
#define GMFC(CODE) ofa_err(OFPET_GROUP_MOD_FAILED, (CODE))

void ofa_actions_fini(struct ofa_actions *a)
{
	free(a->actions);
	a->actions = NULL;
	a->n = 0;
}

int ofa_actions_add(struct ofa_actions *a, const struct ofa_action *act)
{
	struct ofa_action *p = realloc(a->actions, (a->n + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	a->actions = p;
	a->actions[a->n++] = *act;
	return 0;
}

/* Expected wire length of fixed-size actions; 0 for variable ones. */
static size_t ofa_action_fixed_len(uint16_t type)
{
	switch (type) {
	case OFPAT_OUTPUT:
		return sizeof(struct ofp_action_output);
	case OFPAT_COPY_TTL_OUT:
	case OFPAT_COPY_TTL_IN:
	case OFPAT_SET_MPLS_TTL:
	case OFPAT_DEC_MPLS_TTL:
	case OFPAT_PUSH_VLAN:
	case OFPAT_POP_VLAN:
	case OFPAT_PUSH_MPLS:
	case OFPAT_POP_MPLS:
	case OFPAT_SET_QUEUE:
	case OFPAT_GROUP:
	case OFPAT_SET_NW_TTL:
	case OFPAT_DEC_NW_TTL:
	case OFPAT_PUSH_PBB:
	case OFPAT_POP_PBB:
		return 8;
	default:
		return 0;
	}
}

static int ofa_set_field_decode(const uint8_t *p, size_t len, const struct ofa_match *match,
				bool vlan_pushed, struct ofa_action *act)
{
	union ofa_value v, mask;
	unsigned field = 0;
	bool hasmask = false;
	int n;

	n = ofa_oxm_get(p + 4, len - 4, &field, &hasmask, &v, &mask);
	switch (n) {
	case -EMSGSIZE:
		return BAC(OFPBAC_BAD_SET_LEN);
	case -ENOENT:
		return BAC(OFPBAC_BAD_SET_TYPE);
	case -EINVAL:
	case -EDOM:
		return BAC(OFPBAC_BAD_SET_ARGUMENT);
	}
	/* The TLV plus the action header, padded to 8, is the whole action. */
	if (ofa_pad8(4 + (size_t)n) != len)
		return BAC(OFPBAC_BAD_SET_LEN);
	if (hasmask)
		return BAC(OFPBAC_BAD_SET_ARGUMENT);
	if (match && !ofa_oxm_prereq_ok(match, field) &&
	    !(vlan_pushed && field == OFPXMT_OFB_VLAN_PCP))
		return BAC(OFPBAC_MATCH_INCONSISTENT);
	act->u.set_field.field = (uint8_t)field;
	act->u.set_field.value = v;
	return 0;
}

static int ofa_action_decode(const uint8_t *p, size_t len, const struct ofa_match *match,
			     bool *vlan_pushed, struct ofa_action *act)
{
	uint16_t type = ofa_get16(p);
	size_t fixed = ofa_action_fixed_len(type);
	uint16_t et;

	memset(act, 0, sizeof(*act));
	act->type = type;
	if (fixed && len != fixed)
		return BAC(OFPBAC_BAD_LEN);
	switch (type) {
	case OFPAT_OUTPUT:
		act->u.output.port = ofa_get32(p + 4);
		act->u.output.max_len = ofa_get16(p + 8);
		if (!ofa_port_is_valid_output(act->u.output.port))
			return BAC(OFPBAC_BAD_OUT_PORT);
		return 0;
	case OFPAT_COPY_TTL_OUT:
	case OFPAT_COPY_TTL_IN:
	case OFPAT_DEC_MPLS_TTL:
	case OFPAT_POP_VLAN:
	case OFPAT_DEC_NW_TTL:
	case OFPAT_POP_PBB:
		return 0;
	case OFPAT_SET_MPLS_TTL:
	case OFPAT_SET_NW_TTL:
		act->u.ttl = p[4];
		return 0;
	case OFPAT_PUSH_VLAN:
	case OFPAT_PUSH_MPLS:
	case OFPAT_PUSH_PBB:
	case OFPAT_POP_MPLS:
		et = ofa_get16(p + 4);
		act->u.ethertype = et;
		if ((type == OFPAT_PUSH_VLAN && et != 0x8100 && et != 0x88a8) ||
		    (type == OFPAT_PUSH_MPLS && et != 0x8847 && et != 0x8848) ||
		    (type == OFPAT_PUSH_PBB && et != 0x88e7))
			return BAC(OFPBAC_BAD_ARGUMENT);
		if (type == OFPAT_PUSH_VLAN)
			*vlan_pushed = true;
		return 0;
	case OFPAT_SET_QUEUE:
		act->u.queue_id = ofa_get32(p + 4);
		return 0;
	case OFPAT_GROUP:
		act->u.group_id = ofa_get32(p + 4);
		if (act->u.group_id > OFPG_MAX)
			return BAC(OFPBAC_BAD_OUT_GROUP);
		return 0;
	case OFPAT_SET_FIELD:
		return ofa_set_field_decode(p, len, match, *vlan_pushed, act);
	case OFPAT_EXPERIMENTER:
		return BAC(OFPBAC_BAD_EXPERIMENTER);
	default:
		return BAC(OFPBAC_BAD_TYPE);
	}
}

int ofa_actions_decode(const uint8_t *p, size_t len, const struct ofa_match *match,
		       struct ofa_actions *out)
{
	bool vlan_pushed = false;
	size_t off, alen;
	int err;

	out->actions = NULL;
	out->n = 0;
	if (len % 8)
		return BAC(OFPBAC_BAD_LEN);
	if (!len)
		return 0;
	out->actions = calloc(len / 8, sizeof(*out->actions));
	if (!out->actions)
		return -ENOMEM;
	for (off = 0; off < len; off += alen) {
		if (len - off < sizeof(struct ofp_action_header))
			return BAC(OFPBAC_BAD_LEN);
		alen = ofa_get16(p + off + 2);
		if (alen < sizeof(struct ofp_action_header) || alen % 8 || alen > len - off)
			return BAC(OFPBAC_BAD_LEN);
		err = ofa_action_decode(p + off, alen, match, &vlan_pushed,
					&out->actions[out->n]);
		if (err)
			return err;
		out->n++;
	}
	return 0;
}

static int ofa_action_encode(const struct ofa_action *a, struct ofa_buf *b)
{
	size_t start = b->len;
	uint8_t *p;

	if (a->type == OFPAT_SET_FIELD) {
		if (!ofa_buf_put(b, NULL, 4) ||
		    ofa_oxm_put(b, a->u.set_field.field, &a->u.set_field.value, NULL) ||
		    ofa_buf_pad8(b, start))
			return -ENOMEM;
		p = b->data + start;
		ofa_put16(p, OFPAT_SET_FIELD);
		ofa_put16(p + 2, (uint16_t)(b->len - start));
		return 0;
	}
	if (!ofa_action_fixed_len(a->type))
		return -EINVAL;
	p = ofa_buf_put(b, NULL, ofa_action_fixed_len(a->type));
	if (!p)
		return -ENOMEM;
	ofa_put16(p, a->type);
	ofa_put16(p + 2, (uint16_t)ofa_action_fixed_len(a->type));
	switch (a->type) {
	case OFPAT_OUTPUT:
		ofa_put32(p + 4, a->u.output.port);
		ofa_put16(p + 8, a->u.output.max_len);
		break;
	case OFPAT_SET_MPLS_TTL:
	case OFPAT_SET_NW_TTL:
		p[4] = a->u.ttl;
		break;
	case OFPAT_PUSH_VLAN:
	case OFPAT_PUSH_MPLS:
	case OFPAT_PUSH_PBB:
	case OFPAT_POP_MPLS:
		ofa_put16(p + 4, a->u.ethertype);
		break;
	case OFPAT_SET_QUEUE:
		ofa_put32(p + 4, a->u.queue_id);
		break;
	case OFPAT_GROUP:
		ofa_put32(p + 4, a->u.group_id);
		break;
	}
	return 0;
}

int ofa_actions_encode(const struct ofa_actions *a, struct ofa_buf *b)
{
	size_t i;
	int err;

	for (i = 0; i < a->n; i++) {
		err = ofa_action_encode(&a->actions[i], b);
		if (err)
			return err;
	}
	return 0;
}

/* ---- instructions ---- */

void ofa_instructions_fini(struct ofa_instructions *in)
{
	ofa_actions_fini(&in->apply);
	ofa_actions_fini(&in->write);
	in->present = 0;
}

/* Position of each instruction in the pipeline's execution order (spec 5.9). */
static int ofa_inst_rank(uint16_t type)
{
	switch (type) {
	case OFPIT_METER:
		return 0;
	case OFPIT_APPLY_ACTIONS:
		return 1;
	case OFPIT_CLEAR_ACTIONS:
		return 2;
	case OFPIT_WRITE_ACTIONS:
		return 3;
	case OFPIT_WRITE_METADATA:
		return 4;
	case OFPIT_GOTO_TABLE:
		return 5;
	default:
		return -1;
	}
}

static int ofa_inst_decode(const uint8_t *p, size_t len, uint16_t type, uint8_t table_id,
			   const struct ofa_match *match, struct ofa_instructions *out)
{
	switch (type) {
	case OFPIT_GOTO_TABLE:
		if (len != sizeof(struct ofp_instruction_goto_table))
			return BIC(OFPBIC_BAD_LEN);
		out->goto_table = p[4];
		/* Goto must move forward, so a pipeline always terminates. */
		if (out->goto_table <= table_id || out->goto_table > OFPTT_MAX)
			return BIC(OFPBIC_BAD_TABLE_ID);
		return 0;
	case OFPIT_WRITE_METADATA:
		if (len != sizeof(struct ofp_instruction_write_metadata))
			return BIC(OFPBIC_BAD_LEN);
		out->metadata = ofa_get64(p + 8);
		out->metadata_mask = ofa_get64(p + 16);
		return 0;
	case OFPIT_METER:
		if (len != sizeof(struct ofp_instruction_meter))
			return BIC(OFPBIC_BAD_LEN);
		out->meter_id = ofa_get32(p + 4);
		return 0;
	case OFPIT_CLEAR_ACTIONS:
		if (len != sizeof(struct ofp_instruction_actions))
			return BIC(OFPBIC_BAD_LEN);
		return 0;
	case OFPIT_APPLY_ACTIONS:
	case OFPIT_WRITE_ACTIONS:
		if (len < sizeof(struct ofp_instruction_actions))
			return BIC(OFPBIC_BAD_LEN);
		return ofa_actions_decode(p + 8, len - 8, match,
					  type == OFPIT_APPLY_ACTIONS ? &out->apply : &out->write);
	case OFPIT_EXPERIMENTER:
		return BIC(OFPBIC_BAD_EXPERIMENTER);
	default:
		return BIC(OFPBIC_UNKNOWN_INST);
	}
}

static bool ofa_actions_output_table(const struct ofa_actions *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->actions[i].type == OFPAT_OUTPUT && a->actions[i].u.output.port == OFPP_TABLE)
			return true;
	return false;
}

int ofa_instructions_decode(const uint8_t *p, size_t len, uint8_t table_id,
			    const struct ofa_match *match, struct ofa_instructions *out)
{
	size_t off, ilen;
	int rank, last_rank = -1, err;
	uint16_t type;

	memset(out, 0, sizeof(*out));
	for (off = 0; off < len; off += ilen) {
		if (len - off < sizeof(struct ofp_instruction))
			return BIC(OFPBIC_BAD_LEN);
		type = ofa_get16(p + off);
		ilen = ofa_get16(p + off + 2);
		if (ilen < 8 || ilen % 8 || ilen > len - off)
			return BIC(OFPBIC_BAD_LEN);
		rank = ofa_inst_rank(type);
		if (rank >= 0 && (out->present >> type & 1))
			return BIC(OFPBIC_UNSUP_INST);
		if (rank >= 0 && rank < last_rank)
			return BAC(OFPBAC_UNSUPPORTED_ORDER);
		err = ofa_inst_decode(p + off, ilen, type, table_id, match, out);
		if (err)
			return err;
		out->present |= UINT32_C(1) << type;
		last_rank = rank;
	}
	/* OFPP_TABLE is an output for PACKET_OUT only (spec 4.5). */
	if (ofa_actions_output_table(&out->apply) || ofa_actions_output_table(&out->write))
		return BAC(OFPBAC_BAD_OUT_PORT);
	return 0;
}

static int ofa_inst_actions_encode(uint16_t type, const struct ofa_actions *a, struct ofa_buf *b)
{
	size_t start = b->len;
	uint8_t *p = ofa_buf_put(b, NULL, 8);

	if (!p)
		return -ENOMEM;
	if (a && ofa_actions_encode(a, b))
		return -ENOMEM;
	p = b->data + start;
	ofa_put16(p, type);
	ofa_put16(p + 2, (uint16_t)(b->len - start));
	return 0;
}

int ofa_instructions_encode(const struct ofa_instructions *in, struct ofa_buf *b)
{
	uint8_t *p;

	if (in->present & (1u << OFPIT_METER)) {
		p = ofa_buf_put(b, NULL, 8);
		if (!p)
			return -ENOMEM;
		ofa_put16(p, OFPIT_METER);
		ofa_put16(p + 2, 8);
		ofa_put32(p + 4, in->meter_id);
	}
	if ((in->present & (1u << OFPIT_APPLY_ACTIONS)) &&
	    ofa_inst_actions_encode(OFPIT_APPLY_ACTIONS, &in->apply, b))
		return -ENOMEM;
	if ((in->present & (1u << OFPIT_CLEAR_ACTIONS)) &&
	    ofa_inst_actions_encode(OFPIT_CLEAR_ACTIONS, NULL, b))
		return -ENOMEM;
	if ((in->present & (1u << OFPIT_WRITE_ACTIONS)) &&
	    ofa_inst_actions_encode(OFPIT_WRITE_ACTIONS, &in->write, b))
		return -ENOMEM;
	if (in->present & (1u << OFPIT_WRITE_METADATA)) {
		p = ofa_buf_put(b, NULL, 24);
		if (!p)
			return -ENOMEM;
		ofa_put16(p, OFPIT_WRITE_METADATA);
		ofa_put16(p + 2, 24);
		ofa_put32(p + 8, (uint32_t)(in->metadata >> 32));
		ofa_put32(p + 12, (uint32_t)in->metadata);
		ofa_put32(p + 16, (uint32_t)(in->metadata_mask >> 32));
		ofa_put32(p + 20, (uint32_t)in->metadata_mask);
	}
	if (in->present & (1u << OFPIT_GOTO_TABLE)) {
		p = ofa_buf_put(b, NULL, 8);
		if (!p)
			return -ENOMEM;
		ofa_put16(p, OFPIT_GOTO_TABLE);
		ofa_put16(p + 2, 8);
		p[4] = in->goto_table;
	}
	return 0;
}

static bool ofa_actions_match_port(const struct ofa_actions *a, uint32_t port)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->actions[i].type == OFPAT_OUTPUT && a->actions[i].u.output.port == port)
			return true;
	return false;
}

static bool ofa_actions_match_group(const struct ofa_actions *a, uint32_t group)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->actions[i].type == OFPAT_GROUP && a->actions[i].u.group_id == group)
			return true;
	return false;
}

bool ofa_instructions_output_to(const struct ofa_instructions *in, uint32_t port)
{
	return port == OFPP_ANY || ofa_actions_match_port(&in->apply, port) ||
	       ofa_actions_match_port(&in->write, port);
}

bool ofa_instructions_group_to(const struct ofa_instructions *in, uint32_t group)
{
	return group == OFPG_ANY || ofa_actions_match_group(&in->apply, group) ||
	       ofa_actions_match_group(&in->write, group);
}

/* ---- buckets ---- */

void ofa_buckets_free(struct ofa_bucket *bk, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ofa_actions_fini(&bk[i].actions);
	free(bk);
}

int ofa_buckets_decode(const uint8_t *p, size_t len, uint8_t type, uint32_t group_id,
		       struct ofa_bucket **out, size_t *n_out)
{
	struct ofa_bucket *bk;
	size_t off, blen, n = 0, i;
	int err;

	*out = NULL;
	*n_out = 0;
	if (!len)
		return 0;
	bk = calloc(len / sizeof(struct ofp_bucket) + 1, sizeof(*bk));
	if (!bk)
		return -ENOMEM;
	for (off = 0; off < len; off += blen) {
		struct ofa_bucket *b = &bk[n];

		if (len - off < sizeof(struct ofp_bucket))
			goto bad_bucket;
		blen = ofa_get16(p + off);
		if (blen < sizeof(struct ofp_bucket) || blen % 8 || blen > len - off)
			goto bad_bucket;
		b->weight = ofa_get16(p + off + 2);
		b->watch_port = ofa_get32(p + off + 4);
		b->watch_group = ofa_get32(p + off + 8);
		n++;
		err = ofa_actions_decode(p + off + 16, blen - 16, NULL, &b->actions);
		if (err)
			goto err_free;
		if (type == OFPGT_FF && b->watch_port == OFPP_ANY && b->watch_group == OFPG_ANY) {
			err = GMFC(OFPGMFC_BAD_WATCH);
			goto err_free;
		}
		for (i = 0; i < b->actions.n; i++)
			if (b->actions.actions[i].type == OFPAT_GROUP &&
			    b->actions.actions[i].u.group_id == group_id) {
				err = GMFC(OFPGMFC_LOOP);
				goto err_free;
			}
	}
	*out = bk;
	*n_out = n;
	return 0;

bad_bucket:
	err = GMFC(OFPGMFC_BAD_BUCKET);
err_free:
	ofa_buckets_free(bk, n);
	return err;
}

int ofa_buckets_encode(const struct ofa_bucket *bk, size_t n, struct ofa_buf *b)
{
	size_t i, start;
	uint8_t *p;

	for (i = 0; i < n; i++) {
		start = b->len;
		if (!ofa_buf_put(b, NULL, sizeof(struct ofp_bucket)) ||
		    ofa_actions_encode(&bk[i].actions, b))
			return -ENOMEM;
		p = b->data + start;
		ofa_put16(p, (uint16_t)(b->len - start));
		ofa_put16(p + 2, bk[i].weight);
		ofa_put32(p + 4, bk[i].watch_port);
		ofa_put32(p + 8, bk[i].watch_group);
	}
	return 0;
}
