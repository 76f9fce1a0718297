/* ofa_msg.h — the OpenFlow 1.3 codec: wire messages <-> host-order structs.
 *
 * Decoders turn one received message into an abstract representation in host
 * byte order (struct ofa_flow_mod, struct ofa_match, ...); encoders append
 * wire messages to a struct ofa_buf. The agent (ofa.h) uses both directions
 * of the switch side; the controller-side encoders (ofa_flow_mod_encode(), ...)
 * exist so that tests and tools can round-trip.
 *
 * Errors. OpenFlow errors are positive ints made with ofa_err(type, code)
 * from the OFPET_* / OFP*C_* constants of openflow-1.3.h, exactly as the
 * specification names them (ofa_err_type()/ofa_err_code() take them apart);
 * system errors are -errno (-ENOMEM). 0 is success. A decoder validates every
 * length against the buffer before it reads, and leaves its output in a state
 * that its _fini() accepts whether or not it succeeded.
 *
 * Ownership. Decoded structs may own heap arrays (action lists, buckets);
 * release them with the matching *_fini(). Packet data in decoded PACKET_OUT
 * points into the caller's buffer (borrowed: valid as long as that buffer).
 *
 * Threading. Everything here is pure and reentrant; no global state.
 */
#ifndef OFA_MSG_H
#define OFA_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openflow/openflow-1.3.h"

/* ---- Errors ---- */

enum { OFA_ERR_FLAG = 1 << 30 };

static inline int ofa_err(uint16_t type, uint16_t code)
{
	return OFA_ERR_FLAG | ((int)(type & 0x3fff) << 16) | code;
}
static inline bool ofa_err_is_ofp(int err)
{
	return err > 0 && (err & OFA_ERR_FLAG);
}
static inline uint16_t ofa_err_type(int err)
{
	uint16_t t = (uint16_t)((err >> 16) & 0x3fff);

	return t == 0x3fff ? OFPET_EXPERIMENTER : t;
}
static inline uint16_t ofa_err_code(int err)
{
	return (uint16_t)(err & 0xffff);
}
/* "OFPET_BAD_MATCH/OFPBMC_BAD_PREREQ" or "errno N"; returns a static string
 * or buf (at least 64 bytes). */
const char *ofa_err_name(int err, char *buf, size_t len);

/* ---- Growable output buffer ---- */

struct ofa_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

void ofa_buf_init(struct ofa_buf *b);
void ofa_buf_fini(struct ofa_buf *b);
/* Appends n bytes (zeroed when src is NULL); returns a pointer to them in the
 * buffer (valid until the next append) or NULL on -ENOMEM. */
void *ofa_buf_put(struct ofa_buf *b, const void *src, size_t n);
/* Appends zero bytes until (len - start) is a multiple of 8. */
int ofa_buf_pad8(struct ofa_buf *b, size_t start);
/* Opens a message at the end of b: writes an ofp_header with a zero length.
 * Returns its offset, or -ENOMEM. Close it with ofa_msg_finish(). */
long ofa_msg_start(struct ofa_buf *b, uint8_t type, uint32_t xid);
/* Sets the length of the message opened at `start` to everything appended
 * since. Returns 0, or -EMSGSIZE when it exceeds 65535 bytes. */
int ofa_msg_finish(struct ofa_buf *b, long start);

/* ---- Matches ---- */

#define OFA_N_FIELDS OFPXMT_OFB_N_FIELDS

/* One field value: integers in host order in u64 (MPLS label, flow label,
 * PBB I-SID included); Ethernet addresses in mac[] and IPv6 addresses in
 * ipv6[] in network order. */
union ofa_value {
	uint64_t u64;
	uint8_t mac[6];
	uint8_t ipv6[16];
};

/* A match: OXM_OF_* fields of the OpenFlow basic class, indexed by
 * OFPXMT_OFB_*. Bit f of `present` says field f is matched; bit f of `masked`
 * says the TLV carried a mask. For a present field mask[f] always holds the
 * effective mask (all ones when the TLV had none) and value[f] has no bit
 * outside it. Absent fields have zero value and mask. */
struct ofa_match {
	uint64_t present;
	uint64_t masked;
	union ofa_value value[OFA_N_FIELDS];
	union ofa_value mask[OFA_N_FIELDS];
};

/* Static description of one OXM field. */
struct ofa_field_info {
	const char *name;   /* "ipv4_src" (the ovs-ofctl spelling where one exists) */
	uint8_t len;        /* value bytes on the wire */
	bool maskable;
};
/* NULL for field numbers the codec does not know. */
const struct ofa_field_info *ofa_field_info(unsigned field);

void ofa_match_init(struct ofa_match *m);
static inline bool ofa_match_has(const struct ofa_match *m, unsigned field)
{
	return field < OFA_N_FIELDS && (m->present >> field & 1);
}
/* Sets an exact (mask NULL) or masked integer field. Returns 0 or -EINVAL for
 * an unknown or non-integer field. */
int ofa_match_set_u64(struct ofa_match *m, unsigned field, uint64_t value, const uint64_t *mask);
/* Sets an address field (6 bytes for MACs, 16 for IPv6) in network order. */
int ofa_match_set_bytes(struct ofa_match *m, unsigned field, const uint8_t *value,
			const uint8_t *mask);
/* True when both matches are identical (same fields, masks and values). */
bool ofa_match_equal(const struct ofa_match *a, const struct ofa_match *b);
/* True when every packet `narrow` matches is also matched by `wide` (the
 * non-strict FLOW_MOD/DELETE and flow-stats selection rule). */
bool ofa_match_covers(const struct ofa_match *wide, const struct ofa_match *narrow);
/* Writes "in_port=1,eth_type=0x800,ipv4_src=10.0.0.0/255.0.0.0" (empty for
 * match-all) into buf, truncating; returns buf. */
char *ofa_match_format(const struct ofa_match *m, char *buf, size_t len);

/* Decodes an ofp_match at p[0..avail): checks the type, the length against
 * avail, every TLV (class, field, length, mask, value, duplicates) and the
 * prerequisites. *consumed gets the padded length. Errors: OFPET_BAD_MATCH
 * with OFPBMC_BAD_TYPE, BAD_LEN, BAD_FIELD, BAD_MASK, BAD_WILDCARDS,
 * BAD_VALUE, DUP_FIELD, BAD_PREREQ; OFPET_BAD_REQUEST/OFPBRC_BAD_LEN when the
 * match does not fit in avail. */
int ofa_match_decode(const uint8_t *p, size_t avail, struct ofa_match *m, size_t *consumed);
/* Appends m as an OXM ofp_match, padded to 8. Returns 0 or -ENOMEM. */
int ofa_match_encode(const struct ofa_match *m, struct ofa_buf *b);
/* Prerequisite check alone (decode already does it). */
int ofa_match_check_prereqs(const struct ofa_match *m);

/* ---- Actions and instructions ---- */

struct ofa_action {
	uint16_t type;  /* OFPAT_* */
	union {
		struct {
			uint32_t port;
			uint16_t max_len;
		} output;
		uint32_t group_id;   /* GROUP */
		uint32_t queue_id;   /* SET_QUEUE */
		uint8_t ttl;         /* SET_MPLS_TTL, SET_NW_TTL */
		uint16_t ethertype;  /* PUSH_VLAN/MPLS/PBB, POP_MPLS */
		struct {
			uint8_t field;   /* OFPXMT_OFB_* */
			union ofa_value value;
		} set_field;
	} u;
};

/* A list of actions; `actions` is heap-owned (free with ofa_actions_fini()). */
struct ofa_actions {
	struct ofa_action *actions;
	size_t n;
};

void ofa_actions_fini(struct ofa_actions *a);
/* Appends one action; returns 0 or -ENOMEM. */
int ofa_actions_add(struct ofa_actions *a, const struct ofa_action *act);
/* Decodes `len` bytes of actions. `match` (may be NULL) is the flow's match,
 * used to check SET_FIELD prerequisites. Errors: OFPET_BAD_ACTION with
 * OFPBAC_BAD_TYPE, BAD_LEN, BAD_OUT_PORT, BAD_ARGUMENT, BAD_OUT_GROUP,
 * BAD_EXPERIMENTER, BAD_SET_TYPE, BAD_SET_LEN, BAD_SET_ARGUMENT,
 * MATCH_INCONSISTENT. */
int ofa_actions_decode(const uint8_t *p, size_t len, const struct ofa_match *match,
		       struct ofa_actions *out);
int ofa_actions_encode(const struct ofa_actions *a, struct ofa_buf *b);

/* An instruction set: at most one of each type (bit 1 << OFPIT_* in present). */
struct ofa_instructions {
	uint32_t present;
	uint8_t goto_table;
	uint32_t meter_id;
	uint64_t metadata;
	uint64_t metadata_mask;
	struct ofa_actions apply;
	struct ofa_actions write;
};

void ofa_instructions_fini(struct ofa_instructions *in);
/* Decodes `len` bytes of instructions of a flow in table `table_id`.
 * Instructions must appear at most once each (OFPBIC_UNSUP_INST otherwise:
 * 1.3 has no DUP_INST code) and in the order the pipeline executes them
 * (meter, apply, clear, write, write-metadata, goto: OFPET_BAD_ACTION/
 * OFPBAC_UNSUPPORTED_ORDER otherwise, as Open vSwitch answers). Other
 * errors: OFPET_BAD_INSTRUCTION with OFPBIC_UNKNOWN_INST, BAD_LEN,
 * BAD_TABLE_ID (goto to the same or an earlier table), BAD_EXPERIMENTER;
 * action errors as above. */
int ofa_instructions_decode(const uint8_t *p, size_t len, uint8_t table_id,
			    const struct ofa_match *match, struct ofa_instructions *out);
int ofa_instructions_encode(const struct ofa_instructions *in, struct ofa_buf *b);
/* True when the instruction set outputs to `port` (OFPP_ANY: always) /
 * sends to `group` (OFPG_ANY: always) — the out_port/out_group filters. */
bool ofa_instructions_output_to(const struct ofa_instructions *in, uint32_t port);
bool ofa_instructions_group_to(const struct ofa_instructions *in, uint32_t group);

/* ---- Messages ---- */

/* Checks a message header: p holds `len` >= 8 bytes, a whole message.
 * Errors: OFPBRC_BAD_VERSION, OFPBRC_BAD_LEN (length field != len). */
int ofa_msg_check_header(const uint8_t *p, size_t len);

struct ofa_flow_mod {
	uint64_t cookie;
	uint64_t cookie_mask;
	uint8_t table_id;
	uint8_t command;  /* OFPFC_* */
	uint16_t idle_timeout;
	uint16_t hard_timeout;
	uint16_t priority;
	uint32_t buffer_id;
	uint32_t out_port;
	uint32_t out_group;
	uint16_t flags;   /* OFPFF_* */
	struct ofa_match match;
	struct ofa_instructions insts;
};

void ofa_flow_mod_fini(struct ofa_flow_mod *fm);
/* Errors besides match/instruction ones: OFPBRC_BAD_LEN, OFPFMFC_BAD_COMMAND,
 * OFPFMFC_BAD_TABLE_ID (ADD/MODIFY to OFPTT_ALL or > OFPTT_MAX),
 * OFPFMFC_BAD_FLAGS, OFPBRC_BUFFER_UNKNOWN (buffer_id other than NO_BUFFER:
 * this switch buffers nothing). */
int ofa_flow_mod_decode(const uint8_t *msg, size_t len, struct ofa_flow_mod *fm);
int ofa_flow_mod_encode(const struct ofa_flow_mod *fm, uint32_t xid, struct ofa_buf *b);

struct ofa_packet_out {
	uint32_t buffer_id;
	uint32_t in_port;
	struct ofa_actions actions;
	const uint8_t *data;  /* borrowed from the message */
	size_t data_len;
};

void ofa_packet_out_fini(struct ofa_packet_out *po);
/* Errors: OFPBRC_BAD_LEN, OFPBRC_BUFFER_UNKNOWN, OFPBRC_BAD_PORT (in_port not
 * a port, CONTROLLER or ANY), action errors. */
int ofa_packet_out_decode(const uint8_t *msg, size_t len, struct ofa_packet_out *po);
int ofa_packet_out_encode(const struct ofa_packet_out *po, uint32_t xid, struct ofa_buf *b);

struct ofa_bucket {
	uint16_t weight;
	uint32_t watch_port;
	uint32_t watch_group;
	struct ofa_actions actions;
};

struct ofa_group_mod {
	uint16_t command;  /* OFPGC_* */
	uint8_t type;      /* OFPGT_* */
	uint32_t group_id;
	struct ofa_bucket *buckets;  /* heap-owned */
	size_t n_buckets;
};

void ofa_group_mod_fini(struct ofa_group_mod *gm);
/* Errors: OFPBRC_BAD_LEN, OFPGMFC_BAD_COMMAND, BAD_TYPE, INVALID_GROUP
 * (group_id above OFPG_MAX; INDIRECT without exactly one bucket), BAD_BUCKET
 * (bucket length), BAD_WATCH (FF bucket watching nothing), LOOP (a bucket
 * that sends to its own group), WEIGHT_UNSUPPORTED (weight outside SELECT),
 * action errors. Deeper loops need the group table: the datapath checks. */
int ofa_group_mod_decode(const uint8_t *msg, size_t len, struct ofa_group_mod *gm);
int ofa_group_mod_encode(const struct ofa_group_mod *gm, uint32_t xid, struct ofa_buf *b);
/* Appends the buckets of a group (also the body of GROUP_DESC entries). */
int ofa_buckets_encode(const struct ofa_bucket *bk, size_t n, struct ofa_buf *b);
/* Decodes `len` bytes of buckets into a heap array. */
int ofa_buckets_decode(const uint8_t *p, size_t len, uint8_t type, uint32_t group_id,
		       struct ofa_bucket **out, size_t *n_out);
void ofa_buckets_free(struct ofa_bucket *bk, size_t n);

struct ofa_port_mod {
	uint32_t port_no;
	uint8_t hw_addr[6];
	uint32_t config;
	uint32_t mask;
	uint32_t advertise;
};
int ofa_port_mod_decode(const uint8_t *msg, size_t len, struct ofa_port_mod *pm);

struct ofa_role {
	uint32_t role;  /* OFPCR_ROLE_* */
	uint64_t generation_id;
};
/* Errors: OFPBRC_BAD_LEN, OFPRRFC_BAD_ROLE. */
int ofa_role_decode(const uint8_t *msg, size_t len, struct ofa_role *r);
/* ROLE_REQUEST (controller) and ROLE_REPLY (switch). */
int ofa_role_encode(uint8_t type, const struct ofa_role *r, uint32_t xid, struct ofa_buf *b);

struct ofa_switch_config {
	uint16_t flags;
	uint16_t miss_send_len;
};
/* SET_CONFIG or GET_CONFIG_REPLY. Errors: OFPBRC_BAD_LEN, OFPSCFC_BAD_FLAGS. */
int ofa_switch_config_decode(const uint8_t *msg, size_t len, struct ofa_switch_config *c);
int ofa_switch_config_encode(uint8_t type, const struct ofa_switch_config *c, uint32_t xid,
			     struct ofa_buf *b);

/* Flow and aggregate stats requests share one body. */
struct ofa_flow_stats_request {
	uint8_t table_id;  /* or OFPTT_ALL */
	uint32_t out_port;
	uint32_t out_group;
	uint64_t cookie;
	uint64_t cookie_mask;
	struct ofa_match match;
};

struct ofa_multipart_request {
	uint16_t type;   /* OFPMP_* */
	uint16_t flags;
	union {
		struct ofa_flow_stats_request flow;  /* FLOW, AGGREGATE */
		uint32_t port_no;   /* PORT_STATS */
		uint32_t group_id;  /* GROUP */
	} u;
	const uint8_t *body;  /* borrowed: the raw body (TABLE_FEATURES) */
	size_t body_len;
};
/* Errors: OFPBRC_BAD_LEN, OFPBRC_BAD_MULTIPART (unknown type), match errors.
 * OFPBRC_BAD_TABLE_ID for a flow request on a table above OFPTT_MAX. */
int ofa_multipart_request_decode(const uint8_t *msg, size_t len,
				 struct ofa_multipart_request *mp);
int ofa_multipart_request_encode(const struct ofa_multipart_request *mp, uint32_t xid,
				 struct ofa_buf *b);

/* ---- What the switch reports (used by the agent's encoders, ofa.h) ---- */

struct ofa_features {
	uint64_t datapath_id;
	uint32_t n_buffers;
	uint8_t n_tables;
	uint32_t capabilities;  /* OFPC_* */
};

struct ofa_port {
	uint32_t port_no;
	uint8_t hw_addr[6];
	char name[OFP_MAX_PORT_NAME_LEN];
	uint32_t config;   /* OFPPC_* */
	uint32_t state;    /* OFPPS_* */
	uint32_t curr, advertised, supported, peer;  /* OFPPF_* */
	uint32_t curr_speed, max_speed;  /* kbps */
};

struct ofa_desc {
	const char *mfr, *hw, *sw, *serial, *dp;
};

struct ofa_flow_stats {
	uint8_t table_id;
	uint32_t duration_sec;
	uint32_t duration_nsec;
	uint16_t priority;
	uint16_t idle_timeout;
	uint16_t hard_timeout;
	uint16_t flags;
	uint64_t cookie;
	uint64_t packet_count;
	uint64_t byte_count;
	const struct ofa_match *match;         /* borrowed */
	const struct ofa_instructions *insts;  /* borrowed */
};

struct ofa_aggregate_stats {
	uint64_t packet_count;
	uint64_t byte_count;
	uint32_t flow_count;
};

struct ofa_table_stats {
	uint8_t table_id;
	uint32_t active_count;
	uint64_t lookup_count;
	uint64_t matched_count;
};

struct ofa_port_stats {
	uint32_t port_no;
	uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes;
	uint64_t rx_dropped, tx_dropped, rx_errors, tx_errors;
	uint64_t rx_frame_err, rx_over_err, rx_crc_err, collisions;
	uint32_t duration_sec, duration_nsec;
};

struct ofa_group_desc {
	uint8_t type;
	uint32_t group_id;
	const struct ofa_bucket *buckets;  /* borrowed */
	size_t n_buckets;
};

struct ofa_group_features {
	uint32_t types;
	uint32_t capabilities;
	uint32_t max_groups[4];
	uint32_t actions[4];
};

struct ofa_packet_in {
	uint8_t reason;     /* OFPR_* */
	uint8_t table_id;
	uint64_t cookie;
	struct ofa_match match;  /* pipeline fields: in_port at least */
	/* Bytes the output action asked for (OFPCML_NO_BUFFER: all); the agent
	 * uses the connection's miss_send_len for OFPR_INVALID_TTL instead. */
	uint16_t max_len;
	const uint8_t *data;  /* borrowed: the whole packet */
	size_t len;
};

struct ofa_flow_removed {
	uint64_t cookie;
	uint16_t priority;
	uint8_t reason;   /* OFPRR_* */
	uint8_t table_id;
	uint32_t duration_sec;
	uint32_t duration_nsec;
	uint16_t idle_timeout;
	uint16_t hard_timeout;
	uint64_t packet_count;
	uint64_t byte_count;
	struct ofa_match match;
};

/* ---- Switch-side encoders (ofa_reply.c) ---- */

/* HELLO with a version bitmap element announcing 1.3 only. */
int ofa_hello_encode(uint32_t xid, struct ofa_buf *b);
/* ERROR carrying data (the first 64 bytes of the offending message are the
 * caller's choice: ofa_error_encode_for() does that). */
int ofa_error_encode(int err, uint32_t xid, const void *data, size_t len, struct ofa_buf *b);
int ofa_error_encode_for(int err, const uint8_t *request, size_t req_len, struct ofa_buf *b);
/* A header-only message (BARRIER_REPLY, FEATURES_REQUEST, ...) or one with an
 * opaque payload (ECHO_REQUEST/REPLY). */
int ofa_simple_encode(uint8_t type, uint32_t xid, const void *payload, size_t len,
		      struct ofa_buf *b);
int ofa_features_reply_encode(const struct ofa_features *f, uint32_t xid, struct ofa_buf *b);
int ofa_packet_in_encode(const struct ofa_packet_in *pi, uint16_t max_len,
			 struct ofa_buf *b);
int ofa_flow_removed_encode(const struct ofa_flow_removed *fr, struct ofa_buf *b);
int ofa_port_status_encode(uint8_t reason, const struct ofa_port *p, struct ofa_buf *b);
void ofa_port_to_wire(const struct ofa_port *p, struct ofp_port *w);

/* Multipart reply builder: appends entries to reply messages of one type and
 * starts a new message (setting REPLY_MORE on the previous one) whenever the
 * next entry would push a message past `max_msg` bytes. */
struct ofa_mp_reply {
	struct ofa_buf *b;
	uint16_t type;
	uint32_t xid;
	size_t max_msg;     /* OFP_MAX_MSG_LEN unless a test shrinks it */
	long start;         /* offset of the open message, -1 when none */
	long entry_start;   /* offset of the entry being built */
	int err;            /* first error, sticky */
};
void ofa_mp_reply_init(struct ofa_mp_reply *r, struct ofa_buf *b, uint16_t type, uint32_t xid);
/* Begins an entry; append its bytes to r->b and close it with
 * ofa_mp_reply_entry_end(), which moves it into a new message if needed. */
void ofa_mp_reply_entry_begin(struct ofa_mp_reply *r);
void ofa_mp_reply_entry_end(struct ofa_mp_reply *r);
/* Closes the last message (an empty reply if nothing was added). Returns
 * r->err. */
int ofa_mp_reply_finish(struct ofa_mp_reply *r);

int ofa_mp_desc_add(struct ofa_mp_reply *r, const struct ofa_desc *d);
int ofa_mp_flow_stats_add(struct ofa_mp_reply *r, const struct ofa_flow_stats *fs);
int ofa_mp_aggregate_add(struct ofa_mp_reply *r, const struct ofa_aggregate_stats *a);
int ofa_mp_table_stats_add(struct ofa_mp_reply *r, const struct ofa_table_stats *t);
int ofa_mp_port_stats_add(struct ofa_mp_reply *r, const struct ofa_port_stats *ps);
int ofa_mp_port_desc_add(struct ofa_mp_reply *r, const struct ofa_port *p);
int ofa_mp_group_desc_add(struct ofa_mp_reply *r, const struct ofa_group_desc *g);
int ofa_mp_group_features_add(struct ofa_mp_reply *r, const struct ofa_group_features *g);
/* One TABLE_FEATURES entry describing what this codec accepts. */
int ofa_mp_table_features_add(struct ofa_mp_reply *r, uint8_t table_id, uint8_t n_tables,
			      uint32_t max_entries);

/* ---- Controller-side decoders of switch messages (tests, tools) ---- */

/* Flow stats entries: calls fn for each entry of a FLOW multipart reply
 * body. Errors as for flow mods. */
int ofa_flow_stats_decode(const uint8_t *p, size_t len, struct ofa_flow_stats *fs,
			  struct ofa_match *match, struct ofa_instructions *insts,
			  size_t *consumed);
int ofa_packet_in_decode(const uint8_t *msg, size_t len, struct ofa_packet_in *pi);

#endif /* OFA_MSG_H */
