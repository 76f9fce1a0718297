/* sw_rpc_bridge.c — JSON-RPC methods for the bridge and the PMDs: set-bridge,
 * fdb-show, fdb-flush, pmd-stats, and the save-config writer for the bridge
 * settings. Control thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>

#include "sw_fdb.h"
#include "sw_cls.h"
#include "sw_internal.h"
#include "sw_vxlan.h"
#include "vsl_config.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

enum { SW_AGEING_MAX_S = 1000000, SW_SLEEP_MAX_US = 10000 };

struct bridge_params {
	int64_t ageing;
	int64_t mac_limit;
	int64_t pmd_sleep_max_us;
	const char *fail_mode;
	int64_t flow_limit;
};

static int rpc_set_bridge(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("ageing", struct bridge_params, ageing, VSL_RPC_INT64, true),
		VSL_RPC_PARAM("mac_limit", struct bridge_params, mac_limit, VSL_RPC_INT64, true),
		VSL_RPC_PARAM("pmd_sleep_max_us", struct bridge_params, pmd_sleep_max_us,
			      VSL_RPC_INT64, true),
		VSL_RPC_PARAM("fail_mode", struct bridge_params, fail_mode, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("flow_limit", struct bridge_params, flow_limit, VSL_RPC_INT64, true),
	};
	struct bridge_params bp = { -1, -1, -1, NULL, -1 };

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &bp))
		return 0;
	if (bp.ageing != -1 && (bp.ageing < 1 || bp.ageing > SW_AGEING_MAX_S)) {
		vsl_rpc_reply_errno(call, -EINVAL, "ageing must be 1-%d seconds", SW_AGEING_MAX_S);
		return 0;
	}
	if (bp.mac_limit != -1 && (bp.mac_limit < 0 || bp.mac_limit > SW_FDB_DEFAULT_CAPACITY)) {
		vsl_rpc_reply_errno(call, -EINVAL, "mac_limit must be 0 (none) to %d",
				    SW_FDB_DEFAULT_CAPACITY);
		return 0;
	}
	if (bp.pmd_sleep_max_us != -1 &&
	    (bp.pmd_sleep_max_us < 0 || bp.pmd_sleep_max_us > SW_SLEEP_MAX_US)) {
		vsl_rpc_reply_errno(call, -EINVAL, "pmd_sleep_max_us must be 0 (pure polling) to %d",
				    SW_SLEEP_MAX_US);
		return 0;
	}
	if (bp.fail_mode && strcmp(bp.fail_mode, "secure") && strcmp(bp.fail_mode, "standalone")) {
		vsl_rpc_reply_errno(call, -EINVAL, "bad value '%s' for fail_mode (secure or standalone)",
				    bp.fail_mode);
		return 0;
	}
	if (bp.flow_limit != -1 && (bp.flow_limit < 0 || bp.flow_limit > SW_MAX_FLOWS)) {
		vsl_rpc_reply_errno(call, -EINVAL, "flow_limit must be 0 (only the switch's %d) to %d "
				    "flows per table", SW_MAX_FLOWS, SW_MAX_FLOWS);
		return 0;
	}
	if (bp.flow_limit != -1)
		sw_dp.table_limit = (uint32_t)bp.flow_limit;
	if (bp.fail_mode) {
		__atomic_store_n(&sw_dp.fail_secure, !strcmp(bp.fail_mode, "secure"),
				 __ATOMIC_RELAXED);
		sw_ofa_poll();
	}
	if (bp.ageing != -1) {
		sw_dp.ageing_s = (uint32_t)bp.ageing;
		/* A shorter ageing time applies now, not at the next tick. */
		sw_fdb_age(sw_dp.fdb, sw_now_s(), sw_dp.ageing_s);
	}
	if (bp.mac_limit != -1)
		sw_dp.default_mac_limit = (uint32_t)bp.mac_limit;
	if (bp.pmd_sleep_max_us != -1)
		__atomic_store_n(&sw_dp.sleep_max_us, (uint32_t)bp.pmd_sleep_max_us,
				 __ATOMIC_RELAXED);
	return 0;
}
VSL_RPC_REGISTER("set-bridge", rpc_set_bridge,
		 "set-bridge {ageing?: seconds, mac_limit?: default per-port MAC limit for new "
		 "ports (0 none), pmd_sleep_max_us?: idle PMD back-off (0 = pure polling), "
		 "fail_mode?: standalone (table miss = NORMAL; with controllers configured but none "
		 "connected, MAC learning only) or secure (table miss = drop; flows kept, none added, "
		 "without a controller), flow_limit?: flows per table (OFPFMFC_TABLE_FULL beyond; 0 = "
		 "no limit but the switch's)}")

static int write_bridge(struct json_object *calls)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "ageing", json_object_new_int64(sw_dp.ageing_s));
	json_object_object_add(p, "mac_limit", json_object_new_int64(sw_dp.default_mac_limit));
	json_object_object_add(p, "pmd_sleep_max_us", json_object_new_int64(
		__atomic_load_n(&sw_dp.sleep_max_us, __ATOMIC_RELAXED)));
	json_object_object_add(p, "flow_limit", json_object_new_int64(sw_dp.table_limit));
	json_object_object_add(p, "fail_mode", json_object_new_string(
		__atomic_load_n(&sw_dp.fail_secure, __ATOMIC_RELAXED) ? "secure" : "standalone"));
	return vsl_config_add_call(calls, "set-bridge", p);
}
VSL_CONFIG_WRITER("bridge", 10, write_bridge)

struct fdb_params {
	const char *port;
	int64_t vlan;
};

/* Resolves the optional port/vlan filter; replies and returns -EINVAL when bad. */
static int fdb_filter(struct vsl_rpc_call *call, struct json_object *params, uint16_t *ofport,
		      int *vlan)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("port", struct fdb_params, port, VSL_RPC_STRING, true),
		VSL_RPC_PARAM("vlan", struct fdb_params, vlan, VSL_RPC_INT64, true),
	};
	struct fdb_params fp = { NULL, -1 };

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &fp))
		return -EINVAL;
	*ofport = 0;
	if (fp.port) {
		struct sw_port *p = sw_port_find(fp.port);

		if (!p) {
			vsl_rpc_reply_errno(call, -ENOENT, "no port '%s'", fp.port);
			return -EINVAL;
		}
		*ofport = p->ofport;
	}
	if (fp.vlan < -1 || fp.vlan > SW_VLAN_MAX) {
		vsl_rpc_reply_errno(call, -EINVAL, "vlan must be 0-4095");
		return -EINVAL;
	}
	*vlan = (int)fp.vlan;
	return 0;
}

struct fdb_show_ctx {
	struct json_object *arr;
	uint16_t ofport;
	int vlan;
};

static void fdb_show_one(const uint8_t mac[6], uint16_t vlan, uint16_t ofport, uint32_t age_s,
			 void *arg)
{
	struct fdb_show_ctx *ctx = arg;
	struct sw_port *p = sw_port_find_ofport(ofport);
	struct json_object *o;
	char buf[18];

	if ((ctx->ofport && ctx->ofport != ofport) || (ctx->vlan >= 0 && ctx->vlan != vlan))
		return;
	o = json_object_new_object();
	snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	json_object_object_add(o, "port", json_object_new_string(p ? p->name : "?"));
	json_object_object_add(o, "ofport", json_object_new_int(ofport));
	if (sw_vx_is_seg(vlan)) {
		/* A VXLAN segment: show its VNI and, behind a vxlan port, the VTEP. */
		uint32_t vni = sw_vx_seg_to_vni(vlan), tun;
		char ips[16];

		if (vni != UINT32_MAX)
			json_object_object_add(o, "vni", json_object_new_int64(vni));
		tun = p && p->vtep ? sw_fdb_tun(sw_dp.fdb, mac, vlan) : 0;
		if (tun)
			json_object_object_add(o, "remote", json_object_new_string(
				vx_ip_format(tun, ips)));
	}
	json_object_object_add(o, "vlan", json_object_new_int(vlan));
	json_object_object_add(o, "mac", json_object_new_string(buf));
	json_object_object_add(o, "age", json_object_new_int64(age_s));
	json_object_array_add(ctx->arr, o);
}

static int rpc_fdb_show(struct vsl_rpc_call *call, struct json_object *params)
{
	struct fdb_show_ctx ctx;

	if (fdb_filter(call, params, &ctx.ofport, &ctx.vlan))
		return 0;
	ctx.arr = json_object_new_array();
	sw_fdb_foreach(sw_dp.fdb, sw_now_s(), fdb_show_one, &ctx);
	vsl_rpc_reply(call, ctx.arr);
	return 0;
}
VSL_RPC_REGISTER("fdb-show", rpc_fdb_show,
		 "fdb-show {port?, vlan?}: learned MACs with port, VLAN and age in seconds")

static int rpc_fdb_flush(struct vsl_rpc_call *call, struct json_object *params)
{
	struct json_object *res;
	uint16_t ofport;
	int vlan;
	unsigned n;

	if (fdb_filter(call, params, &ofport, &vlan))
		return 0;
	n = sw_fdb_flush(sw_dp.fdb, ofport, vlan);
	res = json_object_new_object();
	json_object_object_add(res, "flushed", json_object_new_int64(n));
	vsl_rpc_reply(call, res);
	return 0;
}
VSL_RPC_REGISTER("fdb-flush", rpc_fdb_flush, "fdb-flush {port?, vlan?}: forget learned MACs")

/* pmd-stats clear=true remembers the current counters; later reads subtract them. */
static struct sw_pmd_stats pmd_base[SW_MAX_PMDS];

struct pmd_params {
	bool clear;
};

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

/* A packet-weighted percentile of the busy iterations' cycles per packet (the
 * middle of its bucket; 0 without packets). The median is the usual figure;
 * the 10th percentile is the one least disturbed by other work on a shared
 * machine (an iteration can only be slowed down by interference, never sped
 * up). */
static uint64_t cpp_percentile(const struct sw_pmd_stats *d, unsigned pct)
{
	uint64_t total = 0, acc = 0;

	for (unsigned b = 0; b < SW_CPP_BUCKETS; b++)
		total += d->cpp_hist[b];
	for (unsigned b = 0; b < SW_CPP_BUCKETS && total; b++) {
		acc += d->cpp_hist[b];
		if (100 * acc >= pct * total)
			return (uint64_t)b * SW_CPP_BUCKET + SW_CPP_BUCKET / 2;
	}
	return 0;
}

static int rpc_pmd_stats(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("clear", struct pmd_params, clear, VSL_RPC_BOOL, true),
	};
	struct pmd_params pp = { false };
	const struct sw_view *v = sw_dp.view;
	struct json_object *arr;
	uint64_t hz = rte_get_tsc_hz();

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &pp))
		return 0;
	arr = json_object_new_array();
	for (unsigned i = 0; i < sw_dp.n_pmds; i++) {
		const struct sw_pmd_stats *s = &sw_dp.pmds[i]->stats;
		struct sw_pmd_stats d;
		struct json_object *o = json_object_new_object(), *rxqs = json_object_new_array();
		uint64_t total;

		/* Plain loads of counters a PMD writes: each is a naturally aligned
		 * 64-bit word, so a read is never torn, only a little stale. */
		d.iterations = s->iterations - pmd_base[i].iterations;
		d.busy_cycles = s->busy_cycles - pmd_base[i].busy_cycles;
		d.idle_cycles = s->idle_cycles - pmd_base[i].idle_cycles;
		d.sleep_us = s->sleep_us - pmd_base[i].sleep_us;
		d.packets = s->packets - pmd_base[i].packets;
		d.capture_lost = s->capture_lost - pmd_base[i].capture_lost;
		d.emc_lookups = s->emc_lookups - pmd_base[i].emc_lookups;
		d.emc_hits = s->emc_hits - pmd_base[i].emc_hits;
		d.mf_lookups = s->mf_lookups - pmd_base[i].mf_lookups;
		d.mf_hits = s->mf_hits - pmd_base[i].mf_hits;
		d.mf_probes = s->mf_probes - pmd_base[i].mf_probes;
		d.cls_lookups = s->cls_lookups - pmd_base[i].cls_lookups;
		d.cls_hits = s->cls_hits - pmd_base[i].cls_hits;
		d.subtable_probes = s->subtable_probes - pmd_base[i].subtable_probes;
		d.to_controller = s->to_controller - pmd_base[i].to_controller;
		d.to_local = s->to_local - pmd_base[i].to_local;
		d.to_group = s->to_group - pmd_base[i].to_group;
		d.ttl_expired = s->ttl_expired - pmd_base[i].ttl_expired;
		d.busy_iterations = s->busy_iterations - pmd_base[i].busy_iterations;
		for (unsigned b = 0; b < SW_CPP_BUCKETS; b++)
			d.cpp_hist[b] = s->cpp_hist[b] - pmd_base[i].cpp_hist[b];
		d.stage_packets = s->stage_packets - pmd_base[i].stage_packets;
		for (unsigned b = 0; b < SW_STAGE_N; b++)
			d.stage_cycles[b] = s->stage_cycles[b] - pmd_base[i].stage_cycles[b];
		if (pp.clear)
			pmd_base[i] = *s;
		total = d.busy_cycles + d.idle_cycles;
		add_u64(o, "pmd", i);
		add_u64(o, "lcore", sw_dp.pmds[i]->lcore);
		add_u64(o, "iterations", d.iterations);
		add_u64(o, "packets", d.packets);
		add_u64(o, "busy_cycles", d.busy_cycles);
		add_u64(o, "idle_cycles", d.idle_cycles);
		add_u64(o, "cycles_per_packet", d.packets ? d.busy_cycles / d.packets : 0);
		add_u64(o, "cycles_per_packet_median", cpp_percentile(&d, 50));
		add_u64(o, "cycles_per_packet_p10", cpp_percentile(&d, 10));
		json_object_object_add(o, "packets_per_busy_iteration", json_object_new_double(
			d.busy_iterations ? (double)d.packets / (double)d.busy_iterations : 0.0));
		{
			static const char *const names[SW_STAGE_N] = { "rx", "parse", "pipeline", "tx" };
			struct json_object *sc = json_object_new_object();

			for (unsigned b = 0; b < SW_STAGE_N; b++)
				json_object_object_add(sc, names[b], json_object_new_double(
					d.stage_packets ? (double)d.stage_cycles[b] /
							  (double)d.stage_packets : 0.0));
			json_object_object_add(o, "stage_cycles_per_packet", sc);
		}
		json_object_object_add(o, "busy_pct", json_object_new_double(
			total ? 100.0 * (double)d.busy_cycles / (double)total : 0.0));
		add_u64(o, "sleep_us", d.sleep_us);
		add_u64(o, "capture_lost", d.capture_lost);
		add_u64(o, "tsc_hz", hz);
		add_u64(o, "emc_lookups", d.emc_lookups);
		add_u64(o, "emc_hits", d.emc_hits);
		json_object_object_add(o, "emc_hit_pct", json_object_new_double(
			d.emc_lookups ? 100.0 * (double)d.emc_hits / (double)d.emc_lookups : 0.0));
		add_u64(o, "megaflow_lookups", d.mf_lookups);
		add_u64(o, "megaflow_hits", d.mf_hits);
		json_object_object_add(o, "megaflow_hit_pct", json_object_new_double(
			d.mf_lookups ? 100.0 * (double)d.mf_hits / (double)d.mf_lookups : 0.0));
		add_u64(o, "megaflow_probes", d.mf_probes);
		json_object_object_add(o, "megaflow_subtables_per_hit", json_object_new_double(
			d.mf_hits ? (double)d.mf_probes / (double)d.mf_hits : 0.0));
		{
			uint32_t nst;
			uint64_t nmf;

			sw_mfc_usage(sw_dp.pmds[i]->mfc, &nst, &nmf);
			add_u64(o, "megaflow_subtables", nst);
			add_u64(o, "megaflows", nmf);
		}
		add_u64(o, "cls_lookups", d.cls_lookups);
		add_u64(o, "cls_hits", d.cls_hits);
		add_u64(o, "subtable_probes", d.subtable_probes);
		json_object_object_add(o, "subtables_per_hit", json_object_new_double(
			d.cls_hits ? (double)d.subtable_probes / (double)d.cls_hits : 0.0));
		add_u64(o, "to_controller", d.to_controller);
		add_u64(o, "to_local", d.to_local);
		add_u64(o, "to_group", d.to_group);
		add_u64(o, "ttl_expired", d.ttl_expired);
		add_u64(o, "pin_dropped", s->pin_dropped - pmd_base[i].pin_dropped);
		add_u64(o, "group_drops", s->group_drops - pmd_base[i].group_drops);
		for (uint32_t q = 0; v && q < v->pmd[i].n_rxq; q++) {
			char buf[64];

			snprintf(buf, sizeof(buf), "%s:%u", v->ports[v->pmd[i].rxq[q].vidx].port->name,
				 v->pmd[i].rxq[q].qid);
			json_object_array_add(rxqs, json_object_new_string(buf));
		}
		json_object_object_add(o, "rxqs", rxqs);
		json_object_array_add(arr, o);
	}
	vsl_rpc_reply(call, arr);
	return 0;
}
VSL_RPC_REGISTER("pmd-stats", rpc_pmd_stats,
		 "pmd-stats {clear?}: per PMD busy/idle cycles, packets, cycles per packet, rx "
		 "queues")
