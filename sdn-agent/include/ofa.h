/* ofa.h — the OpenFlow 1.3 switch agent: controller connections, roles, and
 * the interface to the switch that owns the flow tables.
 *
 * Shape.
 *
 *     controller(s) ──TCP── struct ofa_conn ──► dispatch table (ofa_handler.c)
 *                                                    │ decoded, host-order
 *                                                    ▼
 *                                  struct ofa_datapath_ops (the switch)
 *                                                    │
 *     controller(s) ◄── ofa_agent_packet_in/flow_removed/port_status ◄──┘
 *
 * The agent owns sockets, framing, HELLO negotiation, echo keep-alive, roles
 * and the codec (ofa_msg.h). The switch owns every table and implements
 * struct ofa_datapath_ops; it never sees wire bytes, and the agent never sees
 * a flow table. Validation that needs only the message (lengths, OXM
 * prerequisites, instruction order, action arguments) is done before an op is
 * called; validation that needs switch state (does the port exist, is the
 * table full, would a group chain loop) is the op's, which answers with an
 * OpenFlow error made with ofa_err().
 *
 * Threading. One agent lives on one vsl_loop, i.e. on the switch's control
 * thread: every ofa_agent_* function and every op is called on that thread
 * only. The switch's PMD threads must not call into the agent; they hand
 * packet-ins and flow expiries to the control thread (a ring drained by a
 * loop handler) which then calls ofa_agent_packet_in() etc. Ops may not
 * re-enter the agent except through the three ofa_agent_* notification
 * functions.
 *
 * Ordering. Ops are called in the order messages arrive on a connection, and
 * an op returns only after the change is accepted: BARRIER_REPLY is sent when
 * ops->barrier() returns, so that op must wait until every earlier change is
 * visible to the data path (e.g. an RCU grace period).
 *
 * Errors. Ops return 0, an OpenFlow error ofa_err(OFPET_*, code) sent to the
 * controller as is, or -errno (sent as OFPET_BAD_REQUEST/OFPBRC_EPERM and
 * logged). Agent functions return 0 or -errno.
 */
#ifndef OFA_H
#define OFA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ofa_msg.h"

struct vsl_loop;
struct ofa_agent;

/* Callbacks a dump op calls once per entry; they copy what they need, so the
 * entry may live on the op's stack. Non-zero return: stop and return it. */
typedef int (*ofa_flow_stats_fn)(void *ctx, const struct ofa_flow_stats *fs);
typedef int (*ofa_port_fn)(void *ctx, const struct ofa_port *p);
typedef int (*ofa_port_stats_fn)(void *ctx, const struct ofa_port_stats *ps);
typedef int (*ofa_table_stats_fn)(void *ctx, const struct ofa_table_stats *ts);
typedef int (*ofa_group_desc_fn)(void *ctx, const struct ofa_group_desc *gd);

/* What the switch implements. `dp` is the opaque pointer given to
 * ofa_agent_create(). Every op is required unless marked optional (NULL: the
 * agent answers the request with the error named there). Input structs are
 * borrowed for the duration of the call. */
struct ofa_datapath_ops {
	/* FEATURES_REPLY contents (datapath id, n_tables, capabilities). */
	void (*features)(void *dp, struct ofa_features *out);
	/* MULTIPART DESC strings (optional: defaults are used). */
	void (*desc)(void *dp, struct ofa_desc *out);
	/* Every port, for PORT_DESC. */
	int (*port_desc)(void *dp, ofa_port_fn fn, void *ctx);
	/* FLOW_MOD: add/modify/delete with the spec's semantics (strict
	 * variants, cookie masks, out_port/out_group filters for deletes,
	 * CHECK_OVERLAP -> OFPFMFC_OVERLAP, table limit -> OFPFMFC_TABLE_FULL,
	 * SEND_FLOW_REM remembered for ofa_agent_flow_removed()). */
	int (*flow_mod)(void *dp, const struct ofa_flow_mod *fm);
	/* Flows selected by the request (table, out_port/group, cookie/mask,
	 * non-strict match), one fn call each. */
	int (*flow_stats)(void *dp, const struct ofa_flow_stats_request *req,
			  ofa_flow_stats_fn fn, void *ctx);
	int (*aggregate_stats)(void *dp, const struct ofa_flow_stats_request *req,
			       struct ofa_aggregate_stats *out);
	int (*table_stats)(void *dp, ofa_table_stats_fn fn, void *ctx);
	/* port_no is a port or OFPP_ANY; unknown port -> OFPBRC_BAD_PORT. */
	int (*port_stats)(void *dp, uint32_t port_no, ofa_port_stats_fn fn, void *ctx);
	/* PACKET_OUT: run the actions on the packet (output to OFPP_TABLE runs
	 * the pipeline from table 0). */
	int (*packet_out)(void *dp, const struct ofa_packet_out *po);
	/* GROUP_MOD (optional: OFPBRC_BAD_TYPE); chains and loops are checked
	 * here (OFPGMFC_LOOP, CHAINING_UNSUPPORTED, UNKNOWN_GROUP). */
	int (*group_mod)(void *dp, const struct ofa_group_mod *gm);
	int (*group_desc)(void *dp, ofa_group_desc_fn fn, void *ctx);          /* optional */
	void (*group_features)(void *dp, struct ofa_group_features *out);      /* optional */
	int (*port_mod)(void *dp, const struct ofa_port_mod *pm);              /* optional */
	/* Returns when every earlier op's effect is visible to the data path. */
	int (*barrier)(void *dp);
	/* Per-table flow limit reported in TABLE_FEATURES (optional: 0). */
	uint32_t (*table_max_entries)(void *dp, uint8_t table_id);
};

struct ofa_agent_config {
	unsigned echo_interval_ms;  /* idle time before an ECHO_REQUEST; 5000 */
	unsigned echo_max_missed;   /* probes without answer before dropping; 3 */
	unsigned backoff_min_ms;    /* first reconnect delay; 1000 */
	unsigned backoff_max_ms;    /* cap of the doubling delay; 8000 */
	size_t txq_max_bytes;       /* per-connection output bound; 4 MiB */
	uint16_t miss_send_len;     /* initial miss_send_len; 128 */
};

/* Fills the defaults above. */
void ofa_agent_config_default(struct ofa_agent_config *cfg);

/* Creates an agent on `loop` (borrowed; must outlive the agent). `ops` and
 * `dp` are borrowed too. cfg may be NULL for defaults. Returns NULL with
 * errno set. Free with ofa_agent_destroy(), which closes every connection. */
struct ofa_agent *ofa_agent_create(struct vsl_loop *loop, const struct ofa_datapath_ops *ops,
				   void *dp, const struct ofa_agent_config *cfg);
void ofa_agent_destroy(struct ofa_agent *agent);

/* Adds a controller target:
 *   "tcp:IP:PORT"     connect, reconnect with back-off (min .. max, doubling)
 *   "ptcp:PORT[:IP]"  listen (IP defaults to 127.0.0.1; PORT 0 picks one)
 * Returns 0, -EINVAL (syntax), -EEXIST (already there) or the socket error of
 * a listener (connect errors are retried, not returned). */
int ofa_agent_add_target(struct ofa_agent *agent, const char *target);
/* Removes a target and closes its connections. Returns 0 or -ENOENT. */
int ofa_agent_del_target(struct ofa_agent *agent, const char *target);
/* The bound port of a "ptcp:" target (useful with port 0), or -ENOENT. */
int ofa_agent_listen_port(struct ofa_agent *agent, const char *target);

/* One line per connection for `show`. */
struct ofa_conn_info {
	char target[64];
	char peer[64];
	const char *state;  /* "connecting", "hello", "active", "backoff", "listening" */
	uint32_t role;      /* OFPCR_ROLE_* */
	uint64_t rx_msgs, tx_msgs, tx_dropped;
};
/* Fills up to max entries; returns how many exist (may exceed max). */
size_t ofa_agent_get_conns(struct ofa_agent *agent, struct ofa_conn_info *out, size_t max);
/* Number of connections past the HELLO exchange. */
size_t ofa_agent_n_active(struct ofa_agent *agent);

/* Notifications from the switch, sent to every connection whose role and
 * asynchronous configuration want them (by default MASTER and EQUAL get all
 * three, SLAVE only port status). Data are copied; the caller keeps
 * ownership. A connection whose output queue is full drops the message and
 * counts it (tx_dropped). Return 0 or -ENOMEM. */
int ofa_agent_packet_in(struct ofa_agent *agent, const struct ofa_packet_in *pi);
int ofa_agent_flow_removed(struct ofa_agent *agent, const struct ofa_flow_removed *fr);
int ofa_agent_port_status(struct ofa_agent *agent, uint8_t reason, const struct ofa_port *p);

#endif /* OFA_H */
