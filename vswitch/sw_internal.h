/* sw_internal.h — the switch's internal objects and how threads share them.
 *
 * Threads. One control thread (the EAL main lcore: JSON-RPC, timers) and one
 * PMD per worker lcore. The control thread owns every struct sw_port and is the
 * only writer of configuration. What a PMD may look at is one immutable
 * struct sw_view (ports, their VLAN settings, rx queue assignment), published
 * with a release store to sw_dp.view. A PMD loads the view once per iteration
 * and reports a quiescent state (rte_rcu_qsbr) at the end of the iteration,
 * when it holds no pointer into any view. The control thread builds a new view,
 * publishes it, waits for one grace period (sw_dp_sync) and only then frees the
 * old view, stops a removed port's device or frees the port. A PMD never waits
 * for the control thread.
 *
 * Counters. Each port keeps one struct sw_port_stats per PMD, each on its own
 * cache lines, written by that PMD only (plain stores; readers on the control
 * thread may see a value one burst old) and summed on read.
 *
 * FDB. See sw_fdb.h: lock-free lookups, learning from any PMD.
 */
#ifndef SW_INTERNAL_H
#define SW_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_spinlock.h>

#include "sw_flow.h"
#include "sw_packet.h"

struct rte_mempool;
struct rte_rcu_qsbr;
struct rte_ring;
struct ofa_group_mod;
struct ofa_actions;
struct ofa_flow_mod;
struct ofa_group_desc;
struct ofa_bucket;
struct sw_fdb;
struct sw_fdb_cache;
struct sw_capture;
struct sw_vv_map;
struct sw_vv_stats;
struct vsl_timer;

enum {
	SW_BURST = 32,               /* packets per rx burst and per tx batch */
	SW_MAX_PMDS = 8,
	SW_MAX_PORTS = 254,          /* dense view index fits a uint8_t; 255 = none */
	SW_VIDX_NONE = 255,
	SW_OFPORT_MAX = 4095,        /* OpenFlow port numbers 1..SW_OFPORT_MAX */
	SW_MAX_RXQ = 8,              /* rx queues per port */
	SW_MAX_PMD_RXQS = 256,       /* rx queues one PMD polls */
	SW_VLAN_MAX = 4095,
	SW_NAME_MAX = 32,
	SW_DEVARGS_MAX = 512,
	SW_MTU_DEFAULT = 1500,
	SW_MTU_MAX = 9000,
	SW_RX_DESC = 1024,
	SW_TX_DESC = 1024,
};

/* Why a packet was dropped; counted on the port named in the comment. */
enum sw_drop_reason {
	SW_DROP_MALFORMED,       /* in: runt or truncated VLAN tag */
	SW_DROP_VLAN,            /* in: tagged/untagged on a VLAN the port does not carry */
	SW_DROP_SRC_MAC,         /* in: multicast or zero source MAC */
	SW_DROP_MAC_LIMIT,       /* in: new source MAC beyond the port's MAC limit */
	SW_DROP_HAIRPIN,         /* in: destination learned on the ingress port */
	SW_DROP_ADMIN_DOWN,      /* in: received while down; out: unicast to a down port */
	SW_DROP_VLAN_EGRESS,     /* out: unicast to a port that no longer carries the VLAN */
	SW_DROP_TX_FULL,         /* out: the device did not take the packet */
	SW_DROP_NOMEM,           /* in: no mbuf for a flood copy or a VLAN tag */
	SW_DROP_TABLE_MISS,      /* in: no flow matched and fail_mode is secure */
	SW_DROP_FLOW,            /* in: a flow's actions dropped it (empty set, TTL, port gone) */
	SW_DROP_N,
};

const char *sw_drop_reason_name(enum sw_drop_reason r);

struct sw_port_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t tx_packets, tx_bytes;
	uint64_t rx_l3_anomalies;     /* forwarded at L2 despite a bad/truncated L3/L4 */
	uint64_t flood_packets;       /* copies sent by flooding */
	uint64_t drops[SW_DROP_N];
} __rte_cache_aligned;

enum sw_vlan_mode {
	SW_VLAN_TRUNK,             /* tagged frames of `trunks` (all VLANs when empty) */
	SW_VLAN_ACCESS,            /* untagged frames, all in VLAN `tag` */
	SW_VLAN_NATIVE_TAGGED,     /* trunk; untagged in = native_vlan; native tagged out */
	SW_VLAN_NATIVE_UNTAGGED,   /* trunk; untagged in = native_vlan; native untagged out */
};

const char *sw_vlan_mode_name(enum sw_vlan_mode m);
int sw_vlan_mode_parse(const char *s, enum sw_vlan_mode *m);

/* The VLAN and forwarding settings a PMD sees; copied into every view. */
struct sw_port_cfg {
	enum sw_vlan_mode vlan_mode;
	uint16_t tag;                 /* access VLAN (1..4095) */
	uint16_t native_vlan;         /* native modes (0..4095) */
	bool trunks_all;              /* trunk with no list: every VLAN */
	bool admin_up;
	uint32_t mac_limit;           /* learned MACs on this port; 0 = no limit */
	/* Trunk VLANs bound to VNIs (sw_vlan_vni.h), NULL when none. The port
	 * owns it; in a view, the bound VLANs are cleared from `trunks`. Beside
	 * vlan_mode: the ingress test reads both from one cache line. */
	struct sw_vv_map *vv;
	uint64_t trunks[(SW_VLAN_MAX + 1) / 64];   /* bitmap of allowed VLANs */
};

struct sw_port;
struct sw_port_opts;
struct sw_cls;
struct sw_emc;
struct sw_mfc;
struct sw_flow;
struct sw_flow_mod;

/* A port type: one file each (sw_port_dpdk.c, sw_port_vhost.c, sw_port_internal.c).
 * Runs on the control thread. */
struct sw_port_ops {
	const char *type;
	/* Builds the device arguments for rte_dev_probe() from the type options in
	 * `opts` (see struct sw_port_opts); fills port->devargs and the type's own
	 * fields. Returns 0 or -EINVAL with a message in err. */
	int (*prepare)(struct sw_port *p, const struct sw_port_opts *o, char *err, size_t errlen);
	/* Adds the type's options to a save-config/show object. */
	void (*describe)(const struct sw_port *p, struct json_object *o);
	/* A logical port (vxlan) has no ethdev of its own: it is not probed,
	 * started or polled, and `destroy` frees what prepare() made. */
	bool logical;
	void (*destroy)(struct sw_port *p);
};

/* add-port / set-port parameters (decoded from JSON-RPC; absent fields unset). */
struct sw_port_opts {
	const char *name;
	const char *type;
	const char *devargs;          /* dpdk */
	const char *path;             /* vhost-user socket */
	const char *vhost_mode;       /* "client" (default) or "server" */
	uint32_t n_rxq;               /* 0 = default (1) */
	uint32_t ofport;              /* 0 = lowest free */
	uint32_t tag;                 /* UINT32_MAX = not given; 0 clears */
	const char *trunks;           /* "10,20,30-40" or "" */
	struct json_object *trunks_arr;
	const char *vlan_mode;
	int64_t native_vlan;          /* -1 = not given; 0 clears */
	uint32_t mtu;                 /* 0 = not given */
	const char *admin;            /* "up"/"down" */
	int64_t mac_limit;            /* -1 = not given */
	/* VXLAN (docs/vxlan.md): an access port's segment, or a vxlan port's VNI. */
	int64_t vni;                  /* -1 = not given, -2 = "flow"; 0 clears (set-port) */
	const char *local_ip, *underlay, *remote_ip;   /* type vxlan */
	uint32_t dst_port, ttl;       /* type vxlan; 0 = default */
	const char *vlan_vni;         /* "100:5000,200:6000"; "" clears (sw_vlan_vni.h) */
};

struct sw_port {
	char name[SW_NAME_MAX];
	const struct sw_port_ops *ops;
	char devargs[SW_DEVARGS_MAX];
	char path[108];               /* vhost-user */
	bool vhost_server;
	uint16_t port_id;             /* ethdev */
	bool started;
	struct rte_mempool *rx_pool;  /* the pool its rx queues fill from */
	/* An ethdev of the net_vhost driver (type vhost-user, or type dpdk with
	 * net_vhost devargs): PMDs drive the rte_vhost device vh_vid directly,
	 * -1 while no front end is attached (sw_port_vhost.c). */
	bool vhost;
	int vh_vid;
	uint16_t vh_pairs;            /* the front end's queue pairs (set before vh_vid) */
	uint16_t ofport;
	uint16_t n_rxq, n_txq;
	uint32_t mtu;
	bool trunks_given;
	struct sw_port_cfg cfg;
	struct sw_capture *capture;   /* at most one capture at a time */
	struct sw_vtep *vtep;         /* type vxlan: its VTEP (sw_vxlan.h) */
	uint32_t vni;                 /* access port bound to this VNI (0: none) */
	struct sw_vv_stats *vv_stats; /* counters of cfg.vv's bindings (first binding on) */
	rte_spinlock_t txq_lock[SW_MAX_PMDS];   /* only when n_txq < PMDs */
	struct sw_port_stats stats[SW_MAX_PMDS];
};

/* A port as PMDs see it in one view. */
struct sw_vport {
	struct sw_port *port;         /* counters, tx locks */
	uint16_t port_id;
	uint16_t ofport;
	uint16_t n_txq;
	bool txq_shared;              /* n_txq < PMDs: take txq_lock around tx */
	bool vhost;                   /* rx/tx through rte_vhost on port->vh_vid */
	struct rte_mempool *rx_pool;
	bool poll;                    /* started and admin up */
	struct sw_capture *capture;
	struct sw_vtep *vtep;         /* a vxlan port (not polled; tx = encap) */
	struct sw_vtep *ul_vtep;      /* the underlay of this VTEP (rx = decap/ARP) */
	uint8_t vx_vidx;              /* vxlan port: its underlay; underlay: its vxlan port */
	struct sw_port_cfg cfg;
};

struct sw_rxq {
	uint8_t vidx;
	uint16_t qid;
};

struct sw_view {
	uint32_t n_ports;
	struct sw_vport ports[SW_MAX_PORTS];
	uint8_t vidx_by_ofport[SW_OFPORT_MAX + 1];
	struct {
		uint32_t n_rxq;
		struct sw_rxq rxq[SW_MAX_PMD_RXQS];
	} pmd[SW_MAX_PMDS];
};

enum { SW_CPP_BUCKETS = 256, SW_CPP_BUCKET = 8 };
enum { SW_STAGE_RX, SW_STAGE_PARSE, SW_STAGE_PIPELINE, SW_STAGE_TX, SW_STAGE_N };
enum { SW_STAGE_SAMPLE = 8 };    /* stage timings from one PMD iteration in 8 (power of 2) */
#define SW_STAGE_MAX_CYCLES (1ull << 20)

struct sw_pmd_stats {
	uint64_t iterations;
	uint64_t busy_cycles;         /* iterations that received packets */
	uint64_t idle_cycles;
	uint64_t sleep_us;            /* time asked of the kernel while idle */
	uint64_t packets;             /* received and processed */
	uint64_t l3_anomalies;
	uint64_t capture_lost;        /* copies the capture ring could not take */
	/* Flow tables (sw_flow_exec.c): */
	uint64_t emc_lookups, emc_hits;
	uint64_t mf_lookups, mf_hits;         /* megaflow lookups after an EMC miss */
	uint64_t mf_probes;                   /* megaflow subtables probed by those */
	uint64_t cls_lookups, cls_hits;       /* subtable searches after a megaflow miss */
	uint64_t subtable_probes;             /* subtables probed by those searches */
	uint64_t to_controller;               /* CONTROLLER outputs (queued for the agent) */
	uint64_t to_local;                    /* LOCAL outputs (no local port yet: dropped) */
	uint64_t to_group;                    /* group actions (groups are a stub) */
	uint64_t ttl_expired;                 /* dec_ttl on TTL <= 1 */
	/* Busy iterations by their cycles per packet (SW_CPP_BUCKET wide
	 * buckets, the last open-ended), weighted by packets: its median is the
	 * per-packet cost a preempted iteration (a shared machine) cannot skew. */
	uint64_t busy_iterations;
	uint64_t cpp_hist[SW_CPP_BUCKETS];
	/* Where a burst's cycles go (rdtsc between stages), over the bursts
	 * shorter than SW_STAGE_MAX_CYCLES (longer ones were preempted). */
	uint64_t stage_packets;
	uint64_t stage_cycles[SW_STAGE_N];
	uint64_t pin_dropped;                 /* packet-ins lost: ring full or no mbuf */
	uint64_t group_drops;                 /* group missing, too deep or no live bucket */
} __rte_cache_aligned;

/* Per OpenFlow table, per PMD: packets looked up and found a flow. */
struct sw_table_stats {
	uint64_t lookups, matches;
};

struct sw_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[SW_BURST];
};

struct sw_pmd {
	unsigned idx;
	unsigned lcore;
	struct sw_pmd_stats stats;
	struct sw_emc *emc;                   /* this PMD's exact-match cache */
	struct sw_mfc *mfc;                   /* and its megaflow cache */
	struct sw_fdb_cache *fdbc;            /* FDB positions it has seen (sw_fdb.h) */
	struct sw_table_stats tables[64] __rte_cache_aligned;
	uint64_t tx_tsc;                      /* cycles in tx flushes (stage accounting) */
	uint32_t stage_tick;                  /* iterations, for SW_STAGE_SAMPLE */
	bool timing;                          /* this iteration's stages are timed */
	uint32_t n_dirty;
	uint8_t dirty[2 * SW_MAX_PORTS];      /* view indexes with queued tx */
	struct sw_txbuf tx[SW_MAX_PORTS];
} __rte_cache_aligned;

struct sw_dp {
	bool initialised;
	struct rte_mempool *pool;
	struct rte_mempool *cap_pool;
	struct rte_mempool *jumbo_pool;       /* created by the first jumbo port */
	struct rte_rcu_qsbr *qsbr;
	struct sw_view *view;                 /* RCU: __atomic acquire/release */
	struct sw_fdb *fdb;
	struct sw_port *ports[SW_MAX_PORTS];  /* control thread only */
	unsigned n_pmds;
	struct sw_pmd *pmds[SW_MAX_PMDS];
	uint32_t sleep_max_us;                /* atomic; 0 = pure polling */
	bool stop;                            /* atomic */
	uint32_t ageing_s;
	uint32_t default_mac_limit;
	struct vsl_timer *age_timer;
	int mbuf_ts_offset;                   /* dynfield for capture timestamps */
	struct sw_cls *cls;                   /* RCU: flow classifier (sw_cls.h) */
	bool fail_secure;                     /* atomic: table miss drops (else NORMAL) */
	struct vsl_timer *flow_timer;         /* idle/hard timeouts */
	uint32_t table_limit;                 /* flows per table (0: only SW_MAX_FLOWS) */
	struct sw_groups *groups;             /* RCU: group table (sw_group.c) */
	struct rte_ring *pin_ring;            /* PMDs -> control thread: packet-ins */
	bool pin_enabled;                     /* atomic: a controller is connected */
	bool flows_bypass;                    /* atomic: standalone fallback, all NORMAL */
};

extern struct sw_dp sw_dp;

/* ----------------------------------------------------------- control thread */

/* The pool of 9 KiB mbufs for jumbo ports, created on first use; NULL when
 * there is no memory for it. */
struct rte_mempool *sw_dp_jumbo_pool(void);
/* Waits for every PMD to pass a quiescent state (no-op without PMDs). */
void sw_dp_sync(void);
/* Rebuilds the view from sw_dp.ports, publishes it and frees the old one after
 * a grace period. Returns 0 or -ENOMEM (the old view stays). */
int sw_view_publish(void);

struct sw_port *sw_port_find(const char *name);
struct sw_port *sw_port_find_ofport(uint16_t ofport);
/* Creates, opens and publishes a port. Returns 0 or -errno with err filled. */
int sw_port_add(const struct sw_port_opts *o, char *err, size_t errlen);
/* Unpublishes, stops and frees a port (its FDB entries are flushed). */
int sw_port_del(const char *name);
/* Applies the given (non-default) fields of `o` to a port. */
int sw_port_set(struct sw_port *p, const struct sw_port_opts *o, char *err, size_t errlen);
void sw_port_stats_sum(const struct sw_port *p, struct sw_port_stats *sum);
/* Describes a port: everything add-port needs to recreate it (save=true), or
 * that plus state and counters. */
struct json_object *sw_port_to_json(const struct sw_port *p, bool save);
bool sw_port_carries_vlan(const struct sw_port_cfg *c, uint16_t vid);
/* Parses "10,20,30-40" into the bitmap (VLANs 0..4095). */
int sw_vlan_list_parse(const char *s, uint64_t *bitmap, char *err, size_t errlen);
void sw_port_del_all(void);

extern const struct sw_port_ops sw_port_dpdk_ops;
extern const struct sw_port_ops sw_port_vhost_ops;
/* Starts/stops tracking a started net_vhost ethdev's device id (sw_port_vhost.c). */
void sw_port_vhost_attach(struct sw_port *p);
void sw_port_vhost_detach(struct sw_port *p);
extern const struct sw_port_ops sw_port_internal_ops;
extern const struct sw_port_ops sw_port_vxlan_ops;

/* Flow tables (sw_flow_table.c): the control thread's authoritative copy.
 * Changes accumulate until sw_flow_commit() publishes a new classifier. */
int sw_flow_table_init(void);
void sw_flow_table_fini(void);
/* Applies one flow-mod (not yet visible to PMDs). Returns the number of flows
 * added/modified/deleted, or -errno (-ENOSPC beyond SW_MAX_FLOWS) with err. */
int sw_flow_mod_exec(const struct sw_flow_mod *fm, char *err, size_t errlen);
/* Publishes the tables to the PMDs (new classifier version): each PMD uses
 * it from its next iteration on. What the commit replaced (the old
 * classifier, removed flows and instructions) is freed once a grace period
 * has passed, without waiting for it here. Returns 0 or -ENOMEM (retried on
 * the next commit; the PMDs keep the previous rules). */
int sw_flow_commit(void);
/* Waits until every PMD uses the last published classifier, and frees what
 * earlier commits replaced (OpenFlow BARRIER). */
void sw_flow_sync(void);
/* Calls fn for every flow the selection `sel` (a DELETE/DELETE_STRICT-style
 * flow-mod) picks, in table then priority order. Returns how many. */
unsigned sw_flow_foreach(const struct sw_flow_mod *sel, bool strict,
			 void (*fn)(const struct sw_flow *f, void *arg), void *arg);
uint32_t sw_flow_count(uint8_t table);
/* Removes flows whose idle or hard timeout passed; returns how many. */
unsigned sw_flow_expire(uint32_t now_s);

/* The OpenFlow agent (sw_ofa.c): created by sw_dp_init on the control loop. */
int sw_ofa_init(void);
void sw_ofa_fini(void);
/* A flow leaves the tables (reason OFPRR_*): FLOW_REMOVED when it asked. */
void sw_ofa_flow_removed(const struct sw_flow *f, uint8_t reason);
/* Replaces the controller targets ("tcp:IP:PORT", "ptcp:PORT[:IP]"). */
int sw_ofa_set_controllers(const char *const *targets, unsigned n, char *err, size_t errlen);
unsigned sw_ofa_targets(const char *const **out);
int sw_ofa_listen_port(const char *target);
/* Controller connections for `show`. */
struct json_object *sw_ofa_show_json(void);
uint64_t sw_ofa_packet_ins(void);
/* Re-evaluates the fail mode and the ports now (after a port or mode change). */
void sw_ofa_poll(void);
/* Translates OpenFlow actions; OpenFlow error when one cannot be done. */
int sw_ofa_actions_from(const struct ofa_actions *in, struct sw_action *out, unsigned max,
			unsigned *n);
struct ofa_action;
void sw_ofa_action_to(const struct sw_action *s, struct ofa_action *a);
/* A DELETE flow-mod from inside the switch (group deletion). */
int sw_ofa_delete_flows(const struct ofa_flow_mod *fm);

/* Groups (sw_group.c). The PMDs read sw_dp.groups under RCU. */
enum { SW_MAX_GROUPS = 4096, SW_GROUP_MAX_BUCKETS = 32, SW_GROUP_MAX_DEPTH = 8 };

struct sw_bucket {
	uint16_t weight;
	uint8_t n_acts;
	uint32_t watch_port, watch_group;
	struct sw_action acts[SW_MAX_ACTIONS];
};

struct sw_group {
	uint32_t id;
	uint8_t type;                 /* OFPGT_* */
	uint16_t n_buckets;
	uint32_t total_weight;
	struct ofa_bucket *ofa_buckets;   /* GROUP_DESC (control thread) */
	size_t n_ofa_buckets;
	struct sw_bucket buckets[];
};

struct sw_groups {
	uint32_t n;
	struct sw_group *g[];         /* sorted by id */
};

static inline const struct sw_group *sw_groups_find(const struct sw_groups *gs, uint32_t id)
{
	uint32_t lo = 0, hi = gs ? gs->n : 0;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (gs->g[mid]->id == id)
			return gs->g[mid];
		if (gs->g[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int sw_group_mod(const struct ofa_group_mod *gm);
/* ovs-ofctl group syntax ("group_id=N,type=T,bucket=...,bucket=...";
 * buckets only when need_buckets) into gm, whose buckets it allocates:
 * release with sw_group_parse_fini() whether or not it succeeded. Returns 0,
 * -EINVAL with err naming the bad token, or -ENOMEM. Pure, any thread. */
int sw_group_parse(const char *spec, bool need_buckets, struct ofa_group_mod *gm, char *err,
		   size_t errlen);
void sw_group_parse_fini(struct ofa_group_mod *gm);
int sw_group_foreach(int (*fn)(void *ctx, const struct ofa_group_desc *gd), void *ctx);
bool sw_group_exists(uint32_t id);
uint32_t sw_group_count(void);
void sw_group_fini(void);

/* Packet-in metadata, prepended to the copy a PMD queues on sw_dp.pin_ring. */
enum { SW_PIN_NO_MATCH = 0, SW_PIN_ACTION = 1, SW_PIN_INVALID_TTL = 2 };

struct sw_pin_meta {
	uint64_t cookie, metadata, tunnel_id;
	uint32_t in_port;
	uint16_t max_len;
	uint8_t reason, table_id;
};

/* Starts/stops the PMD threads (sw_pmd.c). */
struct sw_pmd *sw_pmd_alloc(int socket);
void sw_pmd_free(struct sw_pmd *pmd);
int sw_pmd_start_all(void);
void sw_pmd_stop_all(void);

/* ----------------------------------------------------------- PMD fast path */

/* Queues m for transmission on view port vidx; consumes m. Flushes the batch
 * when it is full. */
void sw_pmd_tx(struct sw_pmd *pmd, const struct sw_view *v, uint8_t vidx, struct rte_mbuf *m);

/* The NORMAL action on a burst from port `in`: VLAN ingress check, learning,
 * FDB lookup (bulk), flooding within the VLAN, VLAN push/pop toward each
 * output. Consumes every non-NULL pkts[i] (keys[i] is its flow key). */
void sw_bridge_normal_burst(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_vport *in,
			    struct rte_mbuf **pkts, const struct sw_flow_key *keys, uint16_t n,
			    uint32_t now_s);

/* The OpenFlow pipeline on a burst from port `in` (sw_flow_exec.c): EMC,
 * classifier, instructions, actions; table misses go to NORMAL (standalone)
 * or are dropped (secure). Consumes every non-NULL pkts[i]; keys[] are
 * scratch afterwards. */
void sw_flow_exec_burst(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_vport *in,
			const struct sw_cls *cls, struct rte_mbuf **pkts, struct sw_flow_key *keys,
			uint16_t n, uint32_t now_s);

/* Runs a PACKET_OUT's action list (acts->n_apply actions) on m, which it
 * consumes; output to SW_OFPP_TABLE runs the pipeline on a copy. `pmd` is the
 * control thread's pseudo-PMD. Call sw_pmd_tx_flush_pending() afterwards. */
void sw_flow_exec_actions(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_vport *in,
			  const struct sw_cls *cls, struct rte_mbuf *m, struct sw_flow_key *key,
			  const struct sw_insts *acts, uint32_t now_s);
/* Sends every queued tx batch of pmd. */
void sw_pmd_tx_flush_pending(struct sw_pmd *pmd, const struct sw_view *v);

/* Copies m for an active capture on `vp` (rx or tx side); never blocks. */
void sw_capture_packet(struct sw_pmd *pmd, const struct sw_vport *vp, struct rte_mbuf *m,
		       bool tx);
/* Stops every capture (at shutdown). */
void sw_capture_stop_all(void);

static inline void sw_count_drop(struct sw_pmd *pmd, const struct sw_vport *vp,
				 enum sw_drop_reason r)
{
	vp->port->stats[pmd->idx].drops[r]++;
}

/* Seconds on the TSC clock PMDs and the ageing timer share. */
uint32_t sw_now_s(void);

#endif /* SW_INTERNAL_H */
