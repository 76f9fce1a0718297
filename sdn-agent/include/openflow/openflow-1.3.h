/* openflow-1.3.h — OpenFlow 1.3 (wire version 0x04) message layouts and constants.
 *
 * Written from the OpenFlow Switch Specification 1.3.x. Struct names, field
 * order and sizes follow the specification and libfluid's of13 header, so a
 * libfluid-based controller and Vessel agree byte for byte. Every struct size
 * is checked with _Static_assert.
 *
 * All multi-byte fields are big-endian (ofp_be16/32/64: plain integers holding
 * network byte order, in the manner of OVS's ovs_be32). Variable-length tails
 * are not declared as members; the comment after each struct says what
 * follows it on the wire.
 *
 * These layouts describe bytes on the wire. Never dereference a received
 * buffer through them: received data may be misaligned. Copy into a local
 * struct (memcpy) first, as the codec in ofa_*.c does.
 */
#ifndef OPENFLOW_OPENFLOW_13_H
#define OPENFLOW_OPENFLOW_13_H

#include <stdint.h>

typedef uint16_t ofp_be16;
typedef uint32_t ofp_be32;
typedef uint64_t ofp_be64;

#define OFP_ASSERT(EXPR) _Static_assert(EXPR, #EXPR)

enum {
	OFP13_VERSION = 0x04,
	OFP_MAX_TABLE_NAME_LEN = 32,
	OFP_MAX_PORT_NAME_LEN = 16,
	OFP_ETH_ALEN = 6,
	OFP_TCP_PORT = 6653,
	OFP_DEFAULT_MISS_SEND_LEN = 128,
	DESC_STR_LEN = 256,
	SERIAL_NUM_LEN = 32,
	OFP_MAX_MSG_LEN = 65535,
};

/* buffer_id meaning "the packet is in the message, not buffered". */
enum ofp_buffer_id {
	OFP_NO_BUFFER = 0xffffffff,
};

enum ofp_type {
	OFPT_HELLO = 0,
	OFPT_ERROR = 1,
	OFPT_ECHO_REQUEST = 2,
	OFPT_ECHO_REPLY = 3,
	OFPT_EXPERIMENTER = 4,
	OFPT_FEATURES_REQUEST = 5,
	OFPT_FEATURES_REPLY = 6,
	OFPT_GET_CONFIG_REQUEST = 7,
	OFPT_GET_CONFIG_REPLY = 8,
	OFPT_SET_CONFIG = 9,
	OFPT_PACKET_IN = 10,
	OFPT_FLOW_REMOVED = 11,
	OFPT_PORT_STATUS = 12,
	OFPT_PACKET_OUT = 13,
	OFPT_FLOW_MOD = 14,
	OFPT_GROUP_MOD = 15,
	OFPT_PORT_MOD = 16,
	OFPT_TABLE_MOD = 17,
	OFPT_MULTIPART_REQUEST = 18,
	OFPT_MULTIPART_REPLY = 19,
	OFPT_BARRIER_REQUEST = 20,
	OFPT_BARRIER_REPLY = 21,
	OFPT_QUEUE_GET_CONFIG_REQUEST = 22,
	OFPT_QUEUE_GET_CONFIG_REPLY = 23,
	OFPT_ROLE_REQUEST = 24,
	OFPT_ROLE_REPLY = 25,
	OFPT_GET_ASYNC_REQUEST = 26,
	OFPT_GET_ASYNC_REPLY = 27,
	OFPT_SET_ASYNC = 28,
	OFPT_METER_MOD = 29,
};

/* ---- Common header and HELLO ---- */

struct ofp_header {
	uint8_t version;  /* OFP13_VERSION */
	uint8_t type;     /* enum ofp_type */
	ofp_be16 length;  /* whole message, header included */
	ofp_be32 xid;     /* a reply carries the xid of its request */
};
OFP_ASSERT(sizeof(struct ofp_header) == 8);

struct ofp_hello_elem_header {
	ofp_be16 type;    /* OFPHET_* */
	ofp_be16 length;  /* element length without padding */
};
OFP_ASSERT(sizeof(struct ofp_hello_elem_header) == 4);

enum ofp_hello_elem_type {
	OFPHET_VERSIONBITMAP = 1,
};

/* Followed by (length - 4) bytes of 32-bit bitmaps, then padding to 8. */
struct ofp_hello_elem_versionbitmap {
	ofp_be16 type;
	ofp_be16 length;
};
OFP_ASSERT(sizeof(struct ofp_hello_elem_versionbitmap) == 4);

/* Followed by hello elements. */
struct ofp_hello {
	struct ofp_header header;
};
OFP_ASSERT(sizeof(struct ofp_hello) == 8);

/* ---- Switch configuration ---- */

enum ofp_config_flags {
	OFPC_FRAG_NORMAL = 0,
	OFPC_FRAG_DROP = 1 << 0,
	OFPC_FRAG_REASM = 1 << 1,
	OFPC_FRAG_MASK = 3,
};

struct ofp_switch_config {
	struct ofp_header header;
	ofp_be16 flags;          /* OFPC_* */
	ofp_be16 miss_send_len;  /* bytes of a packet sent to the controller */
};
OFP_ASSERT(sizeof(struct ofp_switch_config) == 12);

enum ofp_table {
	OFPTT_MAX = 0xfe,
	OFPTT_ALL = 0xff,
};

struct ofp_table_mod {
	struct ofp_header header;
	uint8_t table_id;
	uint8_t pad[3];
	ofp_be32 config;
};
OFP_ASSERT(sizeof(struct ofp_table_mod) == 16);

/* ---- Ports ---- */

enum ofp_port_no {
	OFPP_MAX = 0xffffff00,
	OFPP_IN_PORT = 0xfffffff8,
	OFPP_TABLE = 0xfffffff9,
	OFPP_NORMAL = 0xfffffffa,
	OFPP_FLOOD = 0xfffffffb,
	OFPP_ALL = 0xfffffffc,
	OFPP_CONTROLLER = 0xfffffffd,
	OFPP_LOCAL = 0xfffffffe,
	OFPP_ANY = 0xffffffff,
};

enum ofp_port_config {
	OFPPC_PORT_DOWN = 1 << 0,
	OFPPC_NO_RECV = 1 << 2,
	OFPPC_NO_FWD = 1 << 5,
	OFPPC_NO_PACKET_IN = 1 << 6,
};

enum ofp_port_state {
	OFPPS_LINK_DOWN = 1 << 0,
	OFPPS_BLOCKED = 1 << 1,
	OFPPS_LIVE = 1 << 2,
};

enum ofp_port_features {
	OFPPF_10MB_HD = 1 << 0,
	OFPPF_10MB_FD = 1 << 1,
	OFPPF_100MB_HD = 1 << 2,
	OFPPF_100MB_FD = 1 << 3,
	OFPPF_1GB_HD = 1 << 4,
	OFPPF_1GB_FD = 1 << 5,
	OFPPF_10GB_FD = 1 << 6,
	OFPPF_40GB_FD = 1 << 7,
	OFPPF_100GB_FD = 1 << 8,
	OFPPF_1TB_FD = 1 << 9,
	OFPPF_OTHER = 1 << 10,
	OFPPF_COPPER = 1 << 11,
	OFPPF_FIBER = 1 << 12,
	OFPPF_AUTONEG = 1 << 13,
	OFPPF_PAUSE = 1 << 14,
	OFPPF_PAUSE_ASYM = 1 << 15,
};

struct ofp_port {
	ofp_be32 port_no;
	uint8_t pad[4];
	uint8_t hw_addr[OFP_ETH_ALEN];
	uint8_t pad2[2];
	char name[OFP_MAX_PORT_NAME_LEN];  /* NUL-terminated */
	ofp_be32 config;      /* OFPPC_* */
	ofp_be32 state;       /* OFPPS_* */
	ofp_be32 curr;        /* OFPPF_* bitmaps */
	ofp_be32 advertised;
	ofp_be32 supported;
	ofp_be32 peer;
	ofp_be32 curr_speed;  /* kbps */
	ofp_be32 max_speed;   /* kbps */
};
OFP_ASSERT(sizeof(struct ofp_port) == 64);

enum ofp_capabilities {
	OFPC_FLOW_STATS = 1 << 0,
	OFPC_TABLE_STATS = 1 << 1,
	OFPC_PORT_STATS = 1 << 2,
	OFPC_GROUP_STATS = 1 << 3,
	OFPC_IP_REASM = 1 << 5,
	OFPC_QUEUE_STATS = 1 << 6,
	OFPC_PORT_BLOCKED = 1 << 8,
};

struct ofp_switch_features {
	struct ofp_header header;
	ofp_be64 datapath_id;
	ofp_be32 n_buffers;
	uint8_t n_tables;
	uint8_t auxiliary_id;
	uint8_t pad[2];
	ofp_be32 capabilities;  /* OFPC_* */
	ofp_be32 reserved;
};
OFP_ASSERT(sizeof(struct ofp_switch_features) == 32);

enum ofp_port_reason {
	OFPPR_ADD = 0,
	OFPPR_DELETE = 1,
	OFPPR_MODIFY = 2,
};

struct ofp_port_status {
	struct ofp_header header;
	uint8_t reason;  /* OFPPR_* */
	uint8_t pad[7];
	struct ofp_port desc;
};
OFP_ASSERT(sizeof(struct ofp_port_status) == 80);

struct ofp_port_mod {
	struct ofp_header header;
	ofp_be32 port_no;
	uint8_t pad[4];
	uint8_t hw_addr[OFP_ETH_ALEN];
	uint8_t pad2[2];
	ofp_be32 config;
	ofp_be32 mask;
	ofp_be32 advertise;
	uint8_t pad3[4];
};
OFP_ASSERT(sizeof(struct ofp_port_mod) == 40);

/* ---- Match (OXM) ---- */

enum ofp_match_type {
	OFPMT_STANDARD = 0,
	OFPMT_OXM = 1,
};

/* Followed by (length - 4) bytes of OXM TLVs, then zero padding to a multiple
 * of 8. `length` excludes that padding; the 4 bytes below are the first OXM
 * bytes or padding. */
struct ofp_match {
	ofp_be16 type;    /* OFPMT_OXM */
	ofp_be16 length;
	uint8_t oxm_fields[4];
};
OFP_ASSERT(sizeof(struct ofp_match) == 8);

enum ofp_oxm_class {
	OFPXMC_NXM_0 = 0x0000,
	OFPXMC_NXM_1 = 0x0001,
	OFPXMC_OPENFLOW_BASIC = 0x8000,
	OFPXMC_EXPERIMENTER = 0xffff,
};

/* OXM header: class (16) | field (7) | hasmask (1) | length (8). */
static inline uint32_t ofp_oxm_header(uint16_t cls, uint8_t field, int hasmask, uint8_t len)
{
	return ((uint32_t)cls << 16) | ((uint32_t)field << 9) | ((uint32_t)!!hasmask << 8) | len;
}
static inline uint16_t ofp_oxm_class(uint32_t h) { return (uint16_t)(h >> 16); }
static inline uint8_t ofp_oxm_field(uint32_t h) { return (uint8_t)((h >> 9) & 0x7f); }
static inline int ofp_oxm_hasmask(uint32_t h) { return (h >> 8) & 1; }
static inline uint8_t ofp_oxm_length(uint32_t h) { return (uint8_t)(h & 0xff); }

enum oxm_ofb_match_fields {
	OFPXMT_OFB_IN_PORT = 0,
	OFPXMT_OFB_IN_PHY_PORT = 1,
	OFPXMT_OFB_METADATA = 2,
	OFPXMT_OFB_ETH_DST = 3,
	OFPXMT_OFB_ETH_SRC = 4,
	OFPXMT_OFB_ETH_TYPE = 5,
	OFPXMT_OFB_VLAN_VID = 6,
	OFPXMT_OFB_VLAN_PCP = 7,
	OFPXMT_OFB_IP_DSCP = 8,
	OFPXMT_OFB_IP_ECN = 9,
	OFPXMT_OFB_IP_PROTO = 10,
	OFPXMT_OFB_IPV4_SRC = 11,
	OFPXMT_OFB_IPV4_DST = 12,
	OFPXMT_OFB_TCP_SRC = 13,
	OFPXMT_OFB_TCP_DST = 14,
	OFPXMT_OFB_UDP_SRC = 15,
	OFPXMT_OFB_UDP_DST = 16,
	OFPXMT_OFB_SCTP_SRC = 17,
	OFPXMT_OFB_SCTP_DST = 18,
	OFPXMT_OFB_ICMPV4_TYPE = 19,
	OFPXMT_OFB_ICMPV4_CODE = 20,
	OFPXMT_OFB_ARP_OP = 21,
	OFPXMT_OFB_ARP_SPA = 22,
	OFPXMT_OFB_ARP_TPA = 23,
	OFPXMT_OFB_ARP_SHA = 24,
	OFPXMT_OFB_ARP_THA = 25,
	OFPXMT_OFB_IPV6_SRC = 26,
	OFPXMT_OFB_IPV6_DST = 27,
	OFPXMT_OFB_IPV6_FLABEL = 28,
	OFPXMT_OFB_ICMPV6_TYPE = 29,
	OFPXMT_OFB_ICMPV6_CODE = 30,
	OFPXMT_OFB_IPV6_ND_TARGET = 31,
	OFPXMT_OFB_IPV6_ND_SLL = 32,
	OFPXMT_OFB_IPV6_ND_TLL = 33,
	OFPXMT_OFB_MPLS_LABEL = 34,
	OFPXMT_OFB_MPLS_TC = 35,
	OFPXMT_OFB_MPLS_BOS = 36,
	OFPXMT_OFB_PBB_ISID = 37,
	OFPXMT_OFB_TUNNEL_ID = 38,
	OFPXMT_OFB_IPV6_EXTHDR = 39,
	OFPXMT_OFB_N_FIELDS = 40,
};

enum ofp_vlan_id {
	OFPVID_NONE = 0x0000,
	OFPVID_PRESENT = 0x1000,
};

enum ofp_ipv6exthdr_flags {
	OFPIEH_NONEXT = 1 << 0,
	OFPIEH_ESP = 1 << 1,
	OFPIEH_AUTH = 1 << 2,
	OFPIEH_DEST = 1 << 3,
	OFPIEH_FRAG = 1 << 4,
	OFPIEH_ROUTER = 1 << 5,
	OFPIEH_HOP = 1 << 6,
	OFPIEH_UNREP = 1 << 7,
	OFPIEH_UNSEQ = 1 << 8,
};

struct ofp_oxm_experimenter_header {
	ofp_be32 oxm_header;
	ofp_be32 experimenter;
};
OFP_ASSERT(sizeof(struct ofp_oxm_experimenter_header) == 8);

/* ---- Instructions ---- */

enum ofp_instruction_type {
	OFPIT_GOTO_TABLE = 1,
	OFPIT_WRITE_METADATA = 2,
	OFPIT_WRITE_ACTIONS = 3,
	OFPIT_APPLY_ACTIONS = 4,
	OFPIT_CLEAR_ACTIONS = 5,
	OFPIT_METER = 6,
	OFPIT_EXPERIMENTER = 0xffff,
};

struct ofp_instruction {
	ofp_be16 type;
	ofp_be16 len;
};
OFP_ASSERT(sizeof(struct ofp_instruction) == 4);

struct ofp_instruction_goto_table {
	ofp_be16 type;
	ofp_be16 len;  /* 8 */
	uint8_t table_id;
	uint8_t pad[3];
};
OFP_ASSERT(sizeof(struct ofp_instruction_goto_table) == 8);

struct ofp_instruction_write_metadata {
	ofp_be16 type;
	ofp_be16 len;  /* 24 */
	uint8_t pad[4];
	ofp_be64 metadata;
	ofp_be64 metadata_mask;
};
OFP_ASSERT(sizeof(struct ofp_instruction_write_metadata) == 24);

/* WRITE_ACTIONS, APPLY_ACTIONS, CLEAR_ACTIONS; followed by actions. */
struct ofp_instruction_actions {
	ofp_be16 type;
	ofp_be16 len;
	uint8_t pad[4];
};
OFP_ASSERT(sizeof(struct ofp_instruction_actions) == 8);

struct ofp_instruction_meter {
	ofp_be16 type;
	ofp_be16 len;  /* 8 */
	ofp_be32 meter_id;
};
OFP_ASSERT(sizeof(struct ofp_instruction_meter) == 8);

struct ofp_instruction_experimenter {
	ofp_be16 type;
	ofp_be16 len;
	ofp_be32 experimenter;
};
OFP_ASSERT(sizeof(struct ofp_instruction_experimenter) == 8);

/* ---- Actions ---- */

enum ofp_action_type {
	OFPAT_OUTPUT = 0,
	OFPAT_COPY_TTL_OUT = 11,
	OFPAT_COPY_TTL_IN = 12,
	OFPAT_SET_MPLS_TTL = 15,
	OFPAT_DEC_MPLS_TTL = 16,
	OFPAT_PUSH_VLAN = 17,
	OFPAT_POP_VLAN = 18,
	OFPAT_PUSH_MPLS = 19,
	OFPAT_POP_MPLS = 20,
	OFPAT_SET_QUEUE = 21,
	OFPAT_GROUP = 22,
	OFPAT_SET_NW_TTL = 23,
	OFPAT_DEC_NW_TTL = 24,
	OFPAT_SET_FIELD = 25,
	OFPAT_PUSH_PBB = 26,
	OFPAT_POP_PBB = 27,
	OFPAT_EXPERIMENTER = 0xffff,
};

struct ofp_action_header {
	ofp_be16 type;
	ofp_be16 len;  /* multiple of 8, header included */
	uint8_t pad[4];
};
OFP_ASSERT(sizeof(struct ofp_action_header) == 8);

enum ofp_controller_max_len {
	OFPCML_MAX = 0xffe5,
	OFPCML_NO_BUFFER = 0xffff,
};

struct ofp_action_output {
	ofp_be16 type;
	ofp_be16 len;  /* 16 */
	ofp_be32 port;
	ofp_be16 max_len;  /* bytes to the controller, OFPCML_* */
	uint8_t pad[6];
};
OFP_ASSERT(sizeof(struct ofp_action_output) == 16);

/* COPY_TTL_OUT/IN, DEC_MPLS_TTL, POP_VLAN, DEC_NW_TTL, POP_PBB. */
struct ofp_action_generic {
	ofp_be16 type;
	ofp_be16 len;  /* 8 */
	uint8_t pad[4];
};
OFP_ASSERT(sizeof(struct ofp_action_generic) == 8);

struct ofp_action_mpls_ttl {
	ofp_be16 type;
	ofp_be16 len;  /* 8 */
	uint8_t mpls_ttl;
	uint8_t pad[3];
};
OFP_ASSERT(sizeof(struct ofp_action_mpls_ttl) == 8);

/* PUSH_VLAN, PUSH_MPLS, PUSH_PBB. */
struct ofp_action_push {
	ofp_be16 type;
	ofp_be16 len;  /* 8 */
	ofp_be16 ethertype;
	uint8_t pad[2];
};
OFP_ASSERT(sizeof(struct ofp_action_push) == 8);

struct ofp_action_pop_mpls {
	ofp_be16 type;
	ofp_be16 len;  /* 8 */
	ofp_be16 ethertype;
	uint8_t pad[2];
};
OFP_ASSERT(sizeof(struct ofp_action_pop_mpls) == 8);

struct ofp_action_group {
	ofp_be16 type;
	ofp_be16 len;  /* 8 */
	ofp_be32 group_id;
};
OFP_ASSERT(sizeof(struct ofp_action_group) == 8);

struct ofp_action_nw_ttl {
	ofp_be16 type;
	ofp_be16 len;  /* 8 */
	uint8_t nw_ttl;
	uint8_t pad[3];
};
OFP_ASSERT(sizeof(struct ofp_action_nw_ttl) == 8);

/* Followed by one OXM TLV (no mask), then zero padding to a multiple of 8.
 * The 4 bytes below are the OXM header. */
struct ofp_action_set_field {
	ofp_be16 type;
	ofp_be16 len;
	uint8_t field[4];
};
OFP_ASSERT(sizeof(struct ofp_action_set_field) == 8);

struct ofp_action_set_queue {
	ofp_be16 type;
	ofp_be16 len;  /* 8 */
	ofp_be32 queue_id;
};
OFP_ASSERT(sizeof(struct ofp_action_set_queue) == 8);

struct ofp_action_experimenter_header {
	ofp_be16 type;
	ofp_be16 len;
	ofp_be32 experimenter;
};
OFP_ASSERT(sizeof(struct ofp_action_experimenter_header) == 8);

/* ---- Flow modification ---- */

enum ofp_flow_mod_command {
	OFPFC_ADD = 0,
	OFPFC_MODIFY = 1,
	OFPFC_MODIFY_STRICT = 2,
	OFPFC_DELETE = 3,
	OFPFC_DELETE_STRICT = 4,
};

enum ofp_flow_mod_flags {
	OFPFF_SEND_FLOW_REM = 1 << 0,
	OFPFF_CHECK_OVERLAP = 1 << 1,
	OFPFF_RESET_COUNTS = 1 << 2,
	OFPFF_NO_PKT_COUNTS = 1 << 3,
	OFPFF_NO_BYT_COUNTS = 1 << 4,
};

enum {
	OFP_DEFAULT_PRIORITY = 0x8000,
	OFP_FLOW_PERMANENT = 0,
};

/* Followed by the rest of the match (ofp_match is variable), then
 * instructions. */
struct ofp_flow_mod {
	struct ofp_header header;
	ofp_be64 cookie;
	ofp_be64 cookie_mask;
	uint8_t table_id;
	uint8_t command;  /* OFPFC_* */
	ofp_be16 idle_timeout;
	ofp_be16 hard_timeout;
	ofp_be16 priority;
	ofp_be32 buffer_id;
	ofp_be32 out_port;
	ofp_be32 out_group;
	ofp_be16 flags;   /* OFPFF_* */
	uint8_t pad[2];
	struct ofp_match match;
};
OFP_ASSERT(sizeof(struct ofp_flow_mod) == 56);

/* ---- Groups ---- */

enum ofp_group {
	OFPG_MAX = 0xffffff00,
	OFPG_ALL = 0xfffffffc,
	OFPG_ANY = 0xffffffff,
};

enum ofp_group_mod_command {
	OFPGC_ADD = 0,
	OFPGC_MODIFY = 1,
	OFPGC_DELETE = 2,
};

enum ofp_group_type {
	OFPGT_ALL = 0,
	OFPGT_SELECT = 1,
	OFPGT_INDIRECT = 2,
	OFPGT_FF = 3,
};

/* Followed by actions up to `len`. */
struct ofp_bucket {
	ofp_be16 len;
	ofp_be16 weight;      /* SELECT only */
	ofp_be32 watch_port;  /* FF only */
	ofp_be32 watch_group; /* FF only */
	uint8_t pad[4];
};
OFP_ASSERT(sizeof(struct ofp_bucket) == 16);

/* Followed by buckets. */
struct ofp_group_mod {
	struct ofp_header header;
	ofp_be16 command;  /* OFPGC_* */
	uint8_t type;      /* OFPGT_* */
	uint8_t pad;
	ofp_be32 group_id;
};
OFP_ASSERT(sizeof(struct ofp_group_mod) == 16);

/* ---- Packet out / in ---- */

/* Followed by actions (actions_len bytes), then the packet. */
struct ofp_packet_out {
	struct ofp_header header;
	ofp_be32 buffer_id;
	ofp_be32 in_port;
	ofp_be16 actions_len;
	uint8_t pad[6];
};
OFP_ASSERT(sizeof(struct ofp_packet_out) == 24);

enum ofp_packet_in_reason {
	OFPR_NO_MATCH = 0,
	OFPR_ACTION = 1,
	OFPR_INVALID_TTL = 2,
};

/* Followed by the rest of the match, 2 bytes of zero padding, then the
 * (possibly truncated) packet. */
struct ofp_packet_in {
	struct ofp_header header;
	ofp_be32 buffer_id;
	ofp_be16 total_len;
	uint8_t reason;   /* OFPR_* */
	uint8_t table_id;
	ofp_be64 cookie;
	struct ofp_match match;
};
OFP_ASSERT(sizeof(struct ofp_packet_in) == 32);

enum ofp_flow_removed_reason {
	OFPRR_IDLE_TIMEOUT = 0,
	OFPRR_HARD_TIMEOUT = 1,
	OFPRR_DELETE = 2,
	OFPRR_GROUP_DELETE = 3,
};

/* Followed by the rest of the match. */
struct ofp_flow_removed {
	struct ofp_header header;
	ofp_be64 cookie;
	ofp_be16 priority;
	uint8_t reason;   /* OFPRR_* */
	uint8_t table_id;
	ofp_be32 duration_sec;
	ofp_be32 duration_nsec;
	ofp_be16 idle_timeout;
	ofp_be16 hard_timeout;
	ofp_be64 packet_count;
	ofp_be64 byte_count;
	struct ofp_match match;
};
OFP_ASSERT(sizeof(struct ofp_flow_removed) == 56);

/* ---- Meters (decoded only to refuse them) ---- */

struct ofp_meter_band_header {
	ofp_be16 type;
	ofp_be16 len;
	ofp_be32 rate;
	ofp_be32 burst_size;
};
OFP_ASSERT(sizeof(struct ofp_meter_band_header) == 12);

struct ofp_meter_mod {
	struct ofp_header header;
	ofp_be16 command;
	ofp_be16 flags;
	ofp_be32 meter_id;
};
OFP_ASSERT(sizeof(struct ofp_meter_mod) == 16);

/* ---- Errors ---- */

enum ofp_error_type {
	OFPET_HELLO_FAILED = 0,
	OFPET_BAD_REQUEST = 1,
	OFPET_BAD_ACTION = 2,
	OFPET_BAD_INSTRUCTION = 3,
	OFPET_BAD_MATCH = 4,
	OFPET_FLOW_MOD_FAILED = 5,
	OFPET_GROUP_MOD_FAILED = 6,
	OFPET_PORT_MOD_FAILED = 7,
	OFPET_TABLE_MOD_FAILED = 8,
	OFPET_QUEUE_OP_FAILED = 9,
	OFPET_SWITCH_CONFIG_FAILED = 10,
	OFPET_ROLE_REQUEST_FAILED = 11,
	OFPET_METER_MOD_FAILED = 12,
	OFPET_TABLE_FEATURES_FAILED = 13,
	OFPET_EXPERIMENTER = 0xffff,
};

enum ofp_hello_failed_code {
	OFPHFC_INCOMPATIBLE = 0,
	OFPHFC_EPERM = 1,
};

enum ofp_bad_request_code {
	OFPBRC_BAD_VERSION = 0,
	OFPBRC_BAD_TYPE = 1,
	OFPBRC_BAD_MULTIPART = 2,
	OFPBRC_BAD_EXPERIMENTER = 3,
	OFPBRC_BAD_EXP_TYPE = 4,
	OFPBRC_EPERM = 5,
	OFPBRC_BAD_LEN = 6,
	OFPBRC_BUFFER_EMPTY = 7,
	OFPBRC_BUFFER_UNKNOWN = 8,
	OFPBRC_BAD_TABLE_ID = 9,
	OFPBRC_IS_SLAVE = 10,
	OFPBRC_BAD_PORT = 11,
	OFPBRC_BAD_PACKET = 12,
	OFPBRC_MULTIPART_BUFFER_OVERFLOW = 13,
};

enum ofp_bad_action_code {
	OFPBAC_BAD_TYPE = 0,
	OFPBAC_BAD_LEN = 1,
	OFPBAC_BAD_EXPERIMENTER = 2,
	OFPBAC_BAD_EXP_TYPE = 3,
	OFPBAC_BAD_OUT_PORT = 4,
	OFPBAC_BAD_ARGUMENT = 5,
	OFPBAC_EPERM = 6,
	OFPBAC_TOO_MANY = 7,
	OFPBAC_BAD_QUEUE = 8,
	OFPBAC_BAD_OUT_GROUP = 9,
	OFPBAC_MATCH_INCONSISTENT = 10,
	OFPBAC_UNSUPPORTED_ORDER = 11,
	OFPBAC_BAD_TAG = 12,
	OFPBAC_BAD_SET_TYPE = 13,
	OFPBAC_BAD_SET_LEN = 14,
	OFPBAC_BAD_SET_ARGUMENT = 15,
};

enum ofp_bad_instruction_code {
	OFPBIC_UNKNOWN_INST = 0,
	OFPBIC_UNSUP_INST = 1,
	OFPBIC_BAD_TABLE_ID = 2,
	OFPBIC_UNSUP_METADATA = 3,
	OFPBIC_UNSUP_METADATA_MASK = 4,
	OFPBIC_BAD_EXPERIMENTER = 5,
	OFPBIC_BAD_EXP_TYPE = 6,
	OFPBIC_BAD_LEN = 7,
	OFPBIC_EPERM = 8,
};

enum ofp_bad_match_code {
	OFPBMC_BAD_TYPE = 0,
	OFPBMC_BAD_LEN = 1,
	OFPBMC_BAD_TAG = 2,
	OFPBMC_BAD_DL_ADDR_MASK = 3,
	OFPBMC_BAD_NW_ADDR_MASK = 4,
	OFPBMC_BAD_WILDCARDS = 5,
	OFPBMC_BAD_FIELD = 6,
	OFPBMC_BAD_VALUE = 7,
	OFPBMC_BAD_MASK = 8,
	OFPBMC_BAD_PREREQ = 9,
	OFPBMC_DUP_FIELD = 10,
	OFPBMC_EPERM = 11,
};

enum ofp_flow_mod_failed_code {
	OFPFMFC_UNKNOWN = 0,
	OFPFMFC_TABLE_FULL = 1,
	OFPFMFC_BAD_TABLE_ID = 2,
	OFPFMFC_OVERLAP = 3,
	OFPFMFC_EPERM = 4,
	OFPFMFC_BAD_TIMEOUT = 5,
	OFPFMFC_BAD_COMMAND = 6,
	OFPFMFC_BAD_FLAGS = 7,
};

enum ofp_group_mod_failed_code {
	OFPGMFC_GROUP_EXISTS = 0,
	OFPGMFC_INVALID_GROUP = 1,
	OFPGMFC_WEIGHT_UNSUPPORTED = 2,
	OFPGMFC_OUT_OF_GROUPS = 3,
	OFPGMFC_OUT_OF_BUCKETS = 4,
	OFPGMFC_CHAINING_UNSUPPORTED = 5,
	OFPGMFC_WATCH_UNSUPPORTED = 6,
	OFPGMFC_LOOP = 7,
	OFPGMFC_UNKNOWN_GROUP = 8,
	OFPGMFC_CHAINED_GROUP = 9,
	OFPGMFC_BAD_TYPE = 10,
	OFPGMFC_BAD_COMMAND = 11,
	OFPGMFC_BAD_BUCKET = 12,
	OFPGMFC_BAD_WATCH = 13,
	OFPGMFC_EPERM = 14,
};

enum ofp_port_mod_failed_code {
	OFPPMFC_BAD_PORT = 0,
	OFPPMFC_BAD_HW_ADDR = 1,
	OFPPMFC_BAD_CONFIG = 2,
	OFPPMFC_BAD_ADVERTISE = 3,
	OFPPMFC_EPERM = 4,
};

enum ofp_table_mod_failed_code {
	OFPTMFC_BAD_TABLE = 0,
	OFPTMFC_BAD_CONFIG = 1,
	OFPTMFC_EPERM = 2,
};

enum ofp_queue_op_failed_code {
	OFPQOFC_BAD_PORT = 0,
	OFPQOFC_BAD_QUEUE = 1,
	OFPQOFC_EPERM = 2,
};

enum ofp_switch_config_failed_code {
	OFPSCFC_BAD_FLAGS = 0,
	OFPSCFC_BAD_LEN = 1,
	OFPSCFC_EPERM = 2,
};

enum ofp_role_request_failed_code {
	OFPRRFC_STALE = 0,
	OFPRRFC_UNSUP = 1,
	OFPRRFC_BAD_ROLE = 2,
};

enum ofp_meter_mod_failed_code {
	OFPMMFC_UNKNOWN = 0,
	OFPMMFC_METER_EXISTS = 1,
	OFPMMFC_INVALID_METER = 2,
	OFPMMFC_UNKNOWN_METER = 3,
	OFPMMFC_BAD_COMMAND = 4,
	OFPMMFC_BAD_FLAGS = 5,
	OFPMMFC_BAD_RATE = 6,
	OFPMMFC_BAD_BURST = 7,
	OFPMMFC_BAD_BAND = 8,
	OFPMMFC_BAD_BAND_VALUE = 9,
	OFPMMFC_OUT_OF_METERS = 10,
	OFPMMFC_OUT_OF_BANDS = 11,
};

enum ofp_table_features_failed_code {
	OFPTFFC_BAD_TABLE = 0,
	OFPTFFC_BAD_METADATA = 1,
	OFPTFFC_BAD_TYPE = 2,
	OFPTFFC_BAD_LEN = 3,
	OFPTFFC_BAD_ARGUMENT = 4,
	OFPTFFC_EPERM = 5,
};

/* Followed by data: for most errors, at least the first 64 bytes of the
 * offending message; for HELLO_FAILED an ASCII explanation. */
struct ofp_error_msg {
	struct ofp_header header;
	ofp_be16 type;
	ofp_be16 code;
};
OFP_ASSERT(sizeof(struct ofp_error_msg) == 12);

struct ofp_error_experimenter_msg {
	struct ofp_header header;
	ofp_be16 type;  /* OFPET_EXPERIMENTER */
	ofp_be16 exp_type;
	ofp_be32 experimenter;
};
OFP_ASSERT(sizeof(struct ofp_error_experimenter_msg) == 16);

/* ---- Multipart ---- */

enum ofp_multipart_type {
	OFPMP_DESC = 0,
	OFPMP_FLOW = 1,
	OFPMP_AGGREGATE = 2,
	OFPMP_TABLE = 3,
	OFPMP_PORT_STATS = 4,
	OFPMP_QUEUE = 5,
	OFPMP_GROUP = 6,
	OFPMP_GROUP_DESC = 7,
	OFPMP_GROUP_FEATURES = 8,
	OFPMP_METER = 9,
	OFPMP_METER_CONFIG = 10,
	OFPMP_METER_FEATURES = 11,
	OFPMP_TABLE_FEATURES = 12,
	OFPMP_PORT_DESC = 13,
	OFPMP_EXPERIMENTER = 0xffff,
};

enum ofp_multipart_request_flags {
	OFPMPF_REQ_MORE = 1 << 0,
};

enum ofp_multipart_reply_flags {
	OFPMPF_REPLY_MORE = 1 << 0,
};

/* Followed by the request body. */
struct ofp_multipart_request {
	struct ofp_header header;
	ofp_be16 type;   /* OFPMP_* */
	ofp_be16 flags;  /* OFPMPF_REQ_* */
	uint8_t pad[4];
};
OFP_ASSERT(sizeof(struct ofp_multipart_request) == 16);

/* Followed by the reply body. */
struct ofp_multipart_reply {
	struct ofp_header header;
	ofp_be16 type;
	ofp_be16 flags;  /* OFPMPF_REPLY_* */
	uint8_t pad[4];
};
OFP_ASSERT(sizeof(struct ofp_multipart_reply) == 16);

struct ofp_desc {
	char mfr_desc[DESC_STR_LEN];
	char hw_desc[DESC_STR_LEN];
	char sw_desc[DESC_STR_LEN];
	char serial_num[SERIAL_NUM_LEN];
	char dp_desc[DESC_STR_LEN];
};
OFP_ASSERT(sizeof(struct ofp_desc) == 1056);

/* Followed by the rest of the match. Body of OFPMP_FLOW requests. */
struct ofp_flow_stats_request {
	uint8_t table_id;  /* or OFPTT_ALL */
	uint8_t pad[3];
	ofp_be32 out_port;
	ofp_be32 out_group;
	uint8_t pad2[4];
	ofp_be64 cookie;
	ofp_be64 cookie_mask;
	struct ofp_match match;
};
OFP_ASSERT(sizeof(struct ofp_flow_stats_request) == 40);

/* Followed by the rest of the match, then instructions, up to `length`. */
struct ofp_flow_stats {
	ofp_be16 length;
	uint8_t table_id;
	uint8_t pad;
	ofp_be32 duration_sec;
	ofp_be32 duration_nsec;
	ofp_be16 priority;
	ofp_be16 idle_timeout;
	ofp_be16 hard_timeout;
	ofp_be16 flags;
	uint8_t pad2[4];
	ofp_be64 cookie;
	ofp_be64 packet_count;
	ofp_be64 byte_count;
	struct ofp_match match;
};
OFP_ASSERT(sizeof(struct ofp_flow_stats) == 56);

/* Same layout as ofp_flow_stats_request. */
struct ofp_aggregate_stats_request {
	uint8_t table_id;
	uint8_t pad[3];
	ofp_be32 out_port;
	ofp_be32 out_group;
	uint8_t pad2[4];
	ofp_be64 cookie;
	ofp_be64 cookie_mask;
	struct ofp_match match;
};
OFP_ASSERT(sizeof(struct ofp_aggregate_stats_request) == 40);

struct ofp_aggregate_stats_reply {
	ofp_be64 packet_count;
	ofp_be64 byte_count;
	ofp_be32 flow_count;
	uint8_t pad[4];
};
OFP_ASSERT(sizeof(struct ofp_aggregate_stats_reply) == 24);

enum ofp_table_feature_prop_type {
	OFPTFPT_INSTRUCTIONS = 0,
	OFPTFPT_INSTRUCTIONS_MISS = 1,
	OFPTFPT_NEXT_TABLES = 2,
	OFPTFPT_NEXT_TABLES_MISS = 3,
	OFPTFPT_WRITE_ACTIONS = 4,
	OFPTFPT_WRITE_ACTIONS_MISS = 5,
	OFPTFPT_APPLY_ACTIONS = 6,
	OFPTFPT_APPLY_ACTIONS_MISS = 7,
	OFPTFPT_MATCH = 8,
	OFPTFPT_WILDCARDS = 10,
	OFPTFPT_WRITE_SETFIELD = 12,
	OFPTFPT_WRITE_SETFIELD_MISS = 13,
	OFPTFPT_APPLY_SETFIELD = 14,
	OFPTFPT_APPLY_SETFIELD_MISS = 15,
	OFPTFPT_EXPERIMENTER = 0xfffe,
	OFPTFPT_EXPERIMENTER_MISS = 0xffff,
};

/* Followed by property data up to `length`, then zero padding to 8. */
struct ofp_table_feature_prop_header {
	ofp_be16 type;
	ofp_be16 length;
};
OFP_ASSERT(sizeof(struct ofp_table_feature_prop_header) == 4);

/* Followed by properties up to `length`. */
struct ofp_table_features {
	ofp_be16 length;
	uint8_t table_id;
	uint8_t pad[5];
	char name[OFP_MAX_TABLE_NAME_LEN];
	ofp_be64 metadata_match;
	ofp_be64 metadata_write;
	ofp_be32 config;
	ofp_be32 max_entries;
};
OFP_ASSERT(sizeof(struct ofp_table_features) == 64);

struct ofp_table_stats {
	uint8_t table_id;
	uint8_t pad[3];
	ofp_be32 active_count;
	ofp_be64 lookup_count;
	ofp_be64 matched_count;
};
OFP_ASSERT(sizeof(struct ofp_table_stats) == 24);

struct ofp_port_stats_request {
	ofp_be32 port_no;  /* or OFPP_ANY */
	uint8_t pad[4];
};
OFP_ASSERT(sizeof(struct ofp_port_stats_request) == 8);

struct ofp_port_stats {
	ofp_be32 port_no;
	uint8_t pad[4];
	ofp_be64 rx_packets;
	ofp_be64 tx_packets;
	ofp_be64 rx_bytes;
	ofp_be64 tx_bytes;
	ofp_be64 rx_dropped;
	ofp_be64 tx_dropped;
	ofp_be64 rx_errors;
	ofp_be64 tx_errors;
	ofp_be64 rx_frame_err;
	ofp_be64 rx_over_err;
	ofp_be64 rx_crc_err;
	ofp_be64 collisions;
	ofp_be32 duration_sec;
	ofp_be32 duration_nsec;
};
OFP_ASSERT(sizeof(struct ofp_port_stats) == 112);

struct ofp_group_stats_request {
	ofp_be32 group_id;
	uint8_t pad[4];
};
OFP_ASSERT(sizeof(struct ofp_group_stats_request) == 8);

struct ofp_bucket_counter {
	ofp_be64 packet_count;
	ofp_be64 byte_count;
};
OFP_ASSERT(sizeof(struct ofp_bucket_counter) == 16);

/* Followed by bucket counters up to `length`. */
struct ofp_group_stats {
	ofp_be16 length;
	uint8_t pad[2];
	ofp_be32 group_id;
	ofp_be32 ref_count;
	uint8_t pad2[4];
	ofp_be64 packet_count;
	ofp_be64 byte_count;
	ofp_be32 duration_sec;
	ofp_be32 duration_nsec;
};
OFP_ASSERT(sizeof(struct ofp_group_stats) == 40);

/* Followed by buckets up to `length`. Body of OFPMP_GROUP_DESC replies. */
struct ofp_group_desc {
	ofp_be16 length;
	uint8_t type;
	uint8_t pad;
	ofp_be32 group_id;
};
OFP_ASSERT(sizeof(struct ofp_group_desc) == 8);

enum ofp_group_capabilities {
	OFPGFC_SELECT_WEIGHT = 1 << 0,
	OFPGFC_SELECT_LIVENESS = 1 << 1,
	OFPGFC_CHAINING = 1 << 2,
	OFPGFC_CHAINING_CHECKS = 1 << 3,
};

struct ofp_group_features {
	ofp_be32 types;         /* bitmap of 1 << OFPGT_* */
	ofp_be32 capabilities;  /* OFPGFC_* */
	ofp_be32 max_groups[4];
	ofp_be32 actions[4];    /* bitmaps of 1 << OFPAT_* */
};
OFP_ASSERT(sizeof(struct ofp_group_features) == 40);

struct ofp_queue_stats_request {
	ofp_be32 port_no;
	ofp_be32 queue_id;
};
OFP_ASSERT(sizeof(struct ofp_queue_stats_request) == 8);

struct ofp_queue_stats {
	ofp_be32 port_no;
	ofp_be32 queue_id;
	ofp_be64 tx_bytes;
	ofp_be64 tx_packets;
	ofp_be64 tx_errors;
	ofp_be32 duration_sec;
	ofp_be32 duration_nsec;
};
OFP_ASSERT(sizeof(struct ofp_queue_stats) == 40);

struct ofp_experimenter_multipart_header {
	ofp_be32 experimenter;
	ofp_be32 exp_type;
};
OFP_ASSERT(sizeof(struct ofp_experimenter_multipart_header) == 8);

/* ---- Queues ---- */

struct ofp_queue_prop_header {
	ofp_be16 property;
	ofp_be16 len;
	uint8_t pad[4];
};
OFP_ASSERT(sizeof(struct ofp_queue_prop_header) == 8);

struct ofp_packet_queue {
	ofp_be32 queue_id;
	ofp_be32 port;
	ofp_be16 len;
	uint8_t pad[6];
};
OFP_ASSERT(sizeof(struct ofp_packet_queue) == 16);

struct ofp_queue_get_config_request {
	struct ofp_header header;
	ofp_be32 port;
	uint8_t pad[4];
};
OFP_ASSERT(sizeof(struct ofp_queue_get_config_request) == 16);

struct ofp_queue_get_config_reply {
	struct ofp_header header;
	ofp_be32 port;
	uint8_t pad[4];
};
OFP_ASSERT(sizeof(struct ofp_queue_get_config_reply) == 16);

/* ---- Roles and asynchronous configuration ---- */

enum ofp_controller_role {
	OFPCR_ROLE_NOCHANGE = 0,
	OFPCR_ROLE_EQUAL = 1,
	OFPCR_ROLE_MASTER = 2,
	OFPCR_ROLE_SLAVE = 3,
};

struct ofp_role_request {
	struct ofp_header header;
	ofp_be32 role;  /* OFPCR_ROLE_* */
	uint8_t pad[4];
	ofp_be64 generation_id;
};
OFP_ASSERT(sizeof(struct ofp_role_request) == 24);

/* [0] is for MASTER/EQUAL connections, [1] for SLAVE. */
struct ofp_async_config {
	struct ofp_header header;
	ofp_be32 packet_in_mask[2];     /* bitmaps of 1 << OFPR_* */
	ofp_be32 port_status_mask[2];   /* bitmaps of 1 << OFPPR_* */
	ofp_be32 flow_removed_mask[2];  /* bitmaps of 1 << OFPRR_* */
};
OFP_ASSERT(sizeof(struct ofp_async_config) == 32);

/* ---- Experimenter ---- */

struct ofp_experimenter_header {
	struct ofp_header header;
	ofp_be32 experimenter;
	ofp_be32 exp_type;
};
OFP_ASSERT(sizeof(struct ofp_experimenter_header) == 16);

#endif /* OPENFLOW_OPENFLOW_13_H */
