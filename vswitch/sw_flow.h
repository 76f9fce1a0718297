/* sw_flow.h — OpenFlow-style flow tables: matches, instructions, actions,
 * flows and flow-mods, the internal API that vswitchctl (through JSON-RPC and
 * the ovs-ofctl syntax of sw_flow_parse.c) and the OpenFlow agent use.
 *
 * Matches. A struct sw_match is a (key, mask) pair of struct sw_flow_key: a
 * packet matches when (packet_key & mask) == key, word by word, and key has no
 * bit outside mask (sw_match_normalize()). Fields are described once, in the
 * table of sw_flow.c (enum sw_field, numbered like the OXM basic class so an
 * ofa_match translates field by field: for each present OFPXMT_OFB_f call
 * sw_match_set(m, f, value, mask)). Sub-byte fields (vlan_vid, vlan_pcp,
 * ip_dscp) are bit ranges of a key member.
 *
 * Instructions and actions follow OpenFlow 1.3 (struct ofa_instructions /
 * struct ofa_action map one to one): apply-actions run in order as the
 * pipeline passes; write-actions merge into the packet's action set (one
 * action per type, one set_field per field), which runs when the pipeline
 * ends in the OpenFlow order (pop, push, dec_ttl, set_field, group, output);
 * clear-actions empties it; write-metadata and goto-table go to the next
 * table. Output ports use the OFPP_* numbers of OpenFlow.
 *
 * Flows. A struct sw_flow is owned by the flow tables (sw_flow_table.c) on the
 * control thread and read by PMDs through the published classifier (sw_cls.h):
 * it is freed only after an RCU grace period that follows its removal from a
 * published classifier. Its instructions (flow->insts) are replaced as a
 * whole by MODIFY, under RCU too. Counters are per PMD, each on its own cache
 * line, written by that PMD only and summed on read.
 *
 * Errors are -errno; the text variants fill `err` with a message that names
 * the offending token.
 */
#ifndef SW_FLOW_H
#define SW_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw_packet.h"

enum {
	SW_N_TABLES = 64,
	SW_TABLE_ALL = 0xff,              /* del/mod/dump: every table */
	SW_PRIO_DEFAULT = 32768,
	SW_MAX_ACTIONS = 32,              /* apply + write per flow */
	SW_MAX_FLOWS = 200000,
	SW_KEY_WORDS = sizeof(struct sw_flow_key) / 8,
};

/* OpenFlow reserved ports (OFPP_*), usable in output actions. */
enum {
	SW_OFPP_MAX = 0xffffff00,
	SW_OFPP_IN_PORT = 0xfffffff8,
	SW_OFPP_TABLE = 0xfffffff9,
	SW_OFPP_NORMAL = 0xfffffffa,
	SW_OFPP_FLOOD = 0xfffffffb,
	SW_OFPP_ALL = 0xfffffffc,
	SW_OFPP_CONTROLLER = 0xfffffffd,
	SW_OFPP_LOCAL = 0xfffffffe,
	SW_OFPP_ANY = 0xffffffff,
};

/* Flow-mod flags (OFPFF_*). */
enum { SW_OFPFF_SEND_FLOW_REM = 1, SW_OFPFF_CHECK_OVERLAP = 2, SW_OFPFF_RESET_COUNTS = 4 };

/* Matchable fields, numbered as OXM OFPXMT_OFB_* (40 and up: extensions). */
enum sw_field {
	SW_F_IN_PORT = 0,
	SW_F_METADATA = 2,
	SW_F_ETH_DST = 3,
	SW_F_ETH_SRC = 4,
	SW_F_ETH_TYPE = 5,
	SW_F_VLAN_VID = 6,                /* OXM: value carries 0x1000 when tagged */
	SW_F_VLAN_PCP = 7,
	SW_F_IP_DSCP = 8,
	SW_F_IP_PROTO = 10,
	SW_F_IPV4_SRC = 11,
	SW_F_IPV4_DST = 12,
	SW_F_TCP_SRC = 13,
	SW_F_TCP_DST = 14,
	SW_F_UDP_SRC = 15,
	SW_F_UDP_DST = 16,
	SW_F_SCTP_SRC = 17,
	SW_F_SCTP_DST = 18,
	SW_F_ICMPV4_TYPE = 19,
	SW_F_ICMPV4_CODE = 20,
	SW_F_ARP_OP = 21,
	SW_F_ARP_SPA = 22,
	SW_F_ARP_TPA = 23,
	SW_F_ARP_SHA = 24,
	SW_F_ARP_THA = 25,
	SW_F_IPV6_SRC = 26,
	SW_F_IPV6_DST = 27,
	SW_F_ICMPV6_TYPE = 29,
	SW_F_ICMPV6_CODE = 30,
	SW_F_TUNNEL_ID = 38,
	SW_F_VLAN_TCI = 40,               /* OVS's vlan_tci (PCP|present|VID) */
	SW_F_NW_TOS = 41,                 /* OVS's nw_tos: the DSCP bits in place */
	SW_F_TP_SRC = 42,                 /* OVS's tp_src/tp_dst: any of TCP/UDP/SCTP */
	SW_F_TP_DST = 43,
	SW_F_N = 44,
};

enum sw_field_kind { SW_FK_INT, SW_FK_BE, SW_FK_MAC, SW_FK_IPV6 };

/* Prerequisites of a field (checked when a match or a set_field is built). */
enum sw_prereq {
	SW_PRQ_NONE, SW_PRQ_VLAN, SW_PRQ_IP, SW_PRQ_IPV4, SW_PRQ_IPV6, SW_PRQ_ARP,
	SW_PRQ_IPV4_ARP, SW_PRQ_TCP, SW_PRQ_UDP, SW_PRQ_SCTP, SW_PRQ_TP, SW_PRQ_ICMP4,
	SW_PRQ_ICMP6,
};

struct sw_field_info {
	const char *name;                 /* ovs-ofctl spelling */
	const char *oxm_name;             /* OXM spelling (or NULL when the same) */
	enum sw_field_kind kind;
	uint16_t ofs;                     /* offset in struct sw_flow_key */
	uint8_t size;                     /* bytes of the key member */
	uint8_t shift;                    /* INT/BE: value = (member & bits) >> shift */
	uint64_t bits;
	bool maskable;
	enum sw_prereq prereq;
};

/* NULL for an unknown field id. */
const struct sw_field_info *sw_field_info(unsigned f);
/* By ovs-ofctl or OXM name; NULL when unknown. */
const struct sw_field_info *sw_field_by_name(const char *name, unsigned *f);

/* A field's value: integers in host order, addresses in network order. */
union sw_value {
	uint64_t u64;
	uint8_t mac[6];
	uint8_t ipv6[16];
};

struct sw_match {
	struct sw_flow_key key;
	struct sw_flow_key mask;
};

void sw_match_init_catchall(struct sw_match *m);
/* Sets field f (mask NULL: exact). Integer values outside the field's range
 * give -ERANGE; masks on unmaskable fields -EINVAL. */
int sw_match_set(struct sw_match *m, unsigned f, const union sw_value *v,
		 const union sw_value *mask);
/* Reads field f of the match: *v and *mask; false when the field is not
 * matched at all (zero mask). */
bool sw_match_get(const struct sw_match *m, unsigned f, union sw_value *v, union sw_value *mask);
/* Clears key bits outside the mask. */
void sw_match_normalize(struct sw_match *m);
bool sw_match_equal(const struct sw_match *a, const struct sw_match *b);
/* True when every packet `narrow` matches is matched by `wide`. */
bool sw_match_covers(const struct sw_match *wide, const struct sw_match *narrow);
bool sw_match_hits(const struct sw_match *m, const struct sw_flow_key *k);
/* True when f's prerequisites hold in m; *why names them when they do not. */
bool sw_match_prereq_ok(const struct sw_match *m, enum sw_prereq p, const char **why);

/* Writes field f of a key (set_field on the key; sw_flow_exec.c writes the packet). */
void sw_field_store(struct sw_flow_key *k, unsigned f, const union sw_value *v);
void sw_field_load(const struct sw_flow_key *k, unsigned f, union sw_value *v);

enum sw_action_type {
	SW_ACT_OUTPUT = 0,       /* port, max_len (CONTROLLER) */
	SW_ACT_POP_VLAN = 1,
	SW_ACT_PUSH_VLAN = 2,    /* ethertype */
	SW_ACT_DEC_TTL = 3,
	SW_ACT_SET_FIELD = 4,    /* field, value; flags & SW_ACTF_PUSH: mod_vlan_vid */
	SW_ACT_GROUP = 5,        /* group_id (groups are a stub: counted, dropped) */
	SW_ACT_N,
};

enum { SW_ACTF_PUSH = 1 };

struct sw_action {
	uint8_t type;
	uint8_t field;
	uint8_t flags;
	uint16_t ethertype;
	uint32_t arg;            /* output port, group id, max_len */
	union sw_value value;
};

/* Instructions; a flow holds a truncated copy (only its n_apply + n_write
 * actions are allocated, see sw_insts_size()). */
struct sw_insts {
	uint8_t n_apply, n_write;
	bool clear_actions;
	bool has_goto;
	uint8_t goto_table;
	bool write_md;
	uint64_t md, md_mask;
	struct sw_action acts[SW_MAX_ACTIONS];   /* apply, then write */
};

static inline size_t sw_insts_size(const struct sw_insts *in)
{
	return offsetof(struct sw_insts, acts) +
	       (size_t)(in->n_apply + in->n_write) * sizeof(struct sw_action);
}

struct sw_flow_pmd_stats {
	uint64_t packets, bytes;
	uint32_t used_s;                  /* sw_now_s() of the last hit; 0 = never */
} __attribute__((aligned(64)));

struct sw_flow {
	struct sw_match match;            /* normalized */
	uint64_t cookie;
	uint16_t priority;
	uint8_t table_id;
	uint16_t idle_timeout, hard_timeout;
	uint16_t flags;                   /* OFPFF_* (kept, reported) */
	struct sw_insts *insts;           /* RCU: replaced by MODIFY */
	uint64_t created_tsc;
	uint32_t created_s;
	uint32_t modified_s;
	bool dead;                        /* removed, waiting for its grace period */
	uint32_t hash;                    /* of (priority, match): the table's index */
	struct sw_flow *hnext;            /* control thread: index chain */
	unsigned n_stats;
	struct sw_flow_pmd_stats stats[]; /* one per PMD (at least one) */
};

enum sw_flow_cmd { SW_FC_ADD, SW_FC_MODIFY, SW_FC_MODIFY_STRICT, SW_FC_DELETE, SW_FC_DELETE_STRICT };

/* One flow-table change (an OpenFlow FLOW_MOD): table_id SW_TABLE_ALL for
 * delete/modify in every table; cookie_mask selects on cookie for
 * modify/delete; out_port (SW_OFPP_ANY: none) filters deletes. */
struct sw_flow_mod {
	enum sw_flow_cmd cmd;
	uint8_t table_id;
	uint16_t priority;
	uint16_t idle_timeout, hard_timeout;
	uint16_t flags;
	uint64_t cookie, cookie_mask;
	uint32_t out_port;
	struct sw_match match;
	struct sw_insts insts;
};

void sw_flow_mod_init(struct sw_flow_mod *fm, enum sw_flow_cmd cmd);

/* Allocates a flow from fm (ADD): n_pmds stats blocks (at least one).
 * Returns NULL on -ENOMEM. Free with sw_flow_free(). */
struct sw_flow *sw_flow_alloc(const struct sw_flow_mod *fm, unsigned n_pmds, uint32_t now_s);
void sw_flow_free(struct sw_flow *f);
struct sw_insts *sw_insts_dup(const struct sw_insts *in);
/* Sums the per-PMD counters; *used_s the last hit (0: never). */
void sw_flow_stats_sum(const struct sw_flow *f, uint64_t *packets, uint64_t *bytes,
		       uint32_t *used_s);
/* True when the instructions output to `port` (SW_OFPP_ANY: always). */
bool sw_insts_output_to(const struct sw_insts *in, uint32_t port);

/* ---- ovs-ofctl syntax (sw_flow_parse.c; pure, any thread) ---- */

/* Parses "table=0,priority=100,in_port=1,dl_vlan=10,actions=strip_vlan,output:2"
 * for `cmd` (delete/dump take a match only: no actions=). Returns 0 or
 * -EINVAL with err naming the bad token. */
int sw_flow_parse(const char *s, enum sw_flow_cmd cmd, struct sw_flow_mod *fm, char *err,
		  size_t errlen);
/* Match as "priority=100,tcp,in_port=1,tp_dst=80" (empty when catch-all and
 * default priority); returns buf. */
char *sw_match_format(const struct sw_match *m, uint16_t priority, char *buf, size_t len);
/* "strip_vlan,output:2" / "drop"; returns buf. */
char *sw_insts_format(const struct sw_insts *in, char *buf, size_t len);
/* The whole flow as add-flow takes it (table, priority, cookie, timeouts,
 * match, actions); sw_flow_parse() of the result gives the same flow-mod. */
char *sw_flow_mod_format(const struct sw_flow_mod *fm, char *buf, size_t len);

#endif /* SW_FLOW_H */
