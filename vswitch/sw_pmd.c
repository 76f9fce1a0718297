/* sw_pmd.c — the poll-mode threads: rx → parse → flow tables (sw_flow_exec.c) or NORMAL
 * → per-output-port tx batches.
 *
 * One PMD per EAL worker lcore. An iteration loads the current view, polls
 * every rx queue the view assigns to this PMD (one burst of SW_BURST each),
 * flushes the tx batches after each burst, and reports an RCU quiescent state:
 * from then on it holds nothing from that view. Nothing here allocates memory
 * (mbufs come from the pool's per-lcore cache), takes a lock (except a port's
 * tx lock when it has fewer tx queues than there are PMDs), makes a syscall or
 * logs — except the idle sleep, which happens only when a whole iteration
 * received nothing and pmd-sleep-max-us is set.
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_vhost.h>

#include "sw_cls.h"
#include "sw_fdb.h"
#include "sw_internal.h"
#include "sw_vxlan.h"
#include "vsl_log.h"

VSL_LOG_MODULE(pmd);

static void pmd_tx_flush(struct sw_pmd *pmd, const struct sw_view *v, uint8_t vidx)
{
	const struct sw_vport *vp = &v->ports[vidx];
	struct sw_port_stats *st = &vp->port->stats[pmd->idx];
	struct sw_txbuf *b = &pmd->tx[vidx];
	uint16_t qid, sent, n = b->n;
	uint64_t bytes = 0, t0;

	if (!n)
		return;
	t0 = pmd->timing ? rte_rdtsc() : 0;
	b->n = 0;
	if (vp->capture)
		for (uint16_t i = 0; i < n; i++)
			sw_capture_packet(pmd, vp, b->pkts[i], true);
	/* Sum before sending: the device may free the mbufs. */
	for (uint16_t i = 0; i < n; i++)
		bytes += b->pkts[i]->pkt_len;
	qid = (uint16_t)(pmd->idx % vp->n_txq);
	if (vp->vhost) {
		/* Straight into the guest's rx ring (virtqueue 2q): the copy is
		 * the only per-packet work; our mbufs go back in one bulk free.
		 * rte_vhost serialises enqueues on one virtqueue itself. */
		int vid = __atomic_load_n(&vp->port->vh_vid, __ATOMIC_ACQUIRE);
		uint16_t pairs = __atomic_load_n(&vp->port->vh_pairs, __ATOMIC_ACQUIRE);

		sent = vid < 0 || !pairs ? 0
		       : rte_vhost_enqueue_burst(vid, (uint16_t)(2 * (qid % pairs)), b->pkts, n);
		rte_pktmbuf_free_bulk(b->pkts, sent);
	} else if (vp->txq_shared) {
		rte_spinlock_lock(&vp->port->txq_lock[qid]);
		sent = rte_eth_tx_burst(vp->port_id, qid, b->pkts, n);
		rte_spinlock_unlock(&vp->port->txq_lock[qid]);
	} else {
		sent = rte_eth_tx_burst(vp->port_id, qid, b->pkts, n);
	}
	if (sent < n) {
		for (uint16_t i = sent; i < n; i++)
			bytes -= b->pkts[i]->pkt_len;
		rte_pktmbuf_free_bulk(&b->pkts[sent], n - sent);
		st->drops[SW_DROP_TX_FULL] += n - sent;
	}
	st->tx_packets += sent;
	st->tx_bytes += bytes;
	if (pmd->timing)
		pmd->tx_tsc += rte_rdtsc() - t0;
}

static void pmd_tx_flush_all(struct sw_pmd *pmd, const struct sw_view *v)
{
	for (uint32_t i = 0; i < pmd->n_dirty; i++)
		pmd_tx_flush(pmd, v, pmd->dirty[i]);
	pmd->n_dirty = 0;
}

void sw_pmd_tx(struct sw_pmd *pmd, const struct sw_view *v, uint8_t vidx, struct rte_mbuf *m)
{
	struct sw_txbuf *b = &pmd->tx[vidx];

	/* A vxlan port has no device: encapsulate toward its underlay (the VNI
	 * is the port's own; flows and the bridge call sw_vx_tx() directly). */
	if (unlikely(v->ports[vidx].vtep != NULL)) {
		sw_vx_tx(pmd, v, vidx, m, UINT64_MAX, 0);
		return;
	}
	/* A port gets at most one copy per input packet, so within one rx burst
	 * its batch fills at most once: the dirty list holds at most two entries
	 * per port. */
	if (b->n == 0) {
		/* Flows may send several copies to one port (output:2,output:2):
		 * make room rather than overflow the dirty list. */
		if (pmd->n_dirty == RTE_DIM(pmd->dirty))
			pmd_tx_flush_all(pmd, v);
		pmd->dirty[pmd->n_dirty++] = vidx;
	}
	b->pkts[b->n++] = m;
	if (b->n == SW_BURST)
		pmd_tx_flush(pmd, v, vidx);
}

/* One rx burst through the pipeline. Returns the number of packets received. */
static uint16_t pmd_poll_rxq(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_cls *cls,
			     const struct sw_rxq *q, uint32_t now_s)
{
	const struct sw_vport *in = &v->ports[q->vidx];
	struct sw_port_stats *st = &in->port->stats[pmd->idx];
	struct rte_mbuf *pkts[SW_BURST];
	struct sw_flow_key keys[SW_BURST];
	uint64_t bytes = 0, t0, t1 = 0, t2 = 0, t4, tx0 = pmd->tx_tsc;
	uint16_t n;

	t0 = pmd->timing ? rte_rdtsc() : 0;

	if (in->vhost) {
		/* The guest's tx ring is virtqueue 2q+1. */
		int vid = __atomic_load_n(&in->port->vh_vid, __ATOMIC_ACQUIRE);

		if (vid < 0 || q->qid >= __atomic_load_n(&in->port->vh_pairs, __ATOMIC_ACQUIRE))
			return 0;
		n = rte_vhost_dequeue_burst(vid, (uint16_t)(2 * q->qid + 1), in->rx_pool, pkts,
					    SW_BURST);
	} else {
		n = rte_eth_rx_burst(in->port_id, q->qid, pkts, SW_BURST);
	}
	if (!n)
		return 0;
	if (pmd->timing)
		t1 = rte_rdtsc();
	/* The underlay of a VTEP is not a bridge port: ARP and VXLAN only. */
	if (in->ul_vtep) {
		sw_vx_rx_burst(pmd, v, cls, in, pkts, n, now_s);
		pmd_tx_flush_all(pmd, v);
		t4 = pmd->timing ? rte_rdtsc() : 0;
		if (pmd->timing && t4 - t0 < SW_STAGE_MAX_CYCLES) {
			/* Decap parses outer and inner headers as it goes: all of
			 * it is "pipeline" here. */
			uint64_t tx = pmd->tx_tsc - tx0;

			pmd->stats.stage_packets += n;
			pmd->stats.stage_cycles[SW_STAGE_RX] += t1 - t0;
			pmd->stats.stage_cycles[SW_STAGE_PIPELINE] += t4 - t1 - tx;
			pmd->stats.stage_cycles[SW_STAGE_TX] += tx;
		}
		return n;
	}

	/* Stage 1: parse every packet into its flow key. */
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		bytes += m->pkt_len;
		if (in->capture)
			sw_capture_packet(pmd, in, m, false);
		if (sw_packet_parse(rte_pktmbuf_mtod(m, void *), m->data_len, in->ofport,
				    &keys[i])) {
			st->drops[SW_DROP_MALFORMED]++;
			rte_pktmbuf_free(m);
			pkts[i] = NULL;
			continue;
		}
		if (keys[i].flags & (SW_KEY_F_L3_TRUNC | SW_KEY_F_L3_BAD | SW_KEY_F_L4_TRUNC))
			st->rx_l3_anomalies++;
	}
	st->rx_packets += n;
	st->rx_bytes += bytes;
	if (pmd->timing)
		t2 = rte_rdtsc();

	/* Stage 2: the OpenFlow pipeline. With no flow at all the bridge is
	 * the plain NORMAL switch of fail-mode standalone (the whole burst in
	 * one go), or drops everything in fail-mode secure. */
	if (cls && cls->n_flows && !__atomic_load_n(&sw_dp.flows_bypass, __ATOMIC_RELAXED)) {
		sw_flow_exec_burst(pmd, v, in, cls, pkts, keys, n, now_s);
	} else if (__atomic_load_n(&sw_dp.fail_secure, __ATOMIC_RELAXED)) {
		for (uint16_t i = 0; i < n; i++) {
			if (pkts[i]) {
				st->drops[SW_DROP_TABLE_MISS]++;
				rte_pktmbuf_free(pkts[i]);
			}
		}
	} else {
		sw_bridge_normal_burst(pmd, v, in, pkts, keys, n, now_s);
	}
	pmd_tx_flush_all(pmd, v);
	t4 = pmd->timing ? rte_rdtsc() : 0;
	if (pmd->timing && t4 - t0 < SW_STAGE_MAX_CYCLES) {
		/* Batches that filled up were flushed inside the pipeline. */
		uint64_t tx = pmd->tx_tsc - tx0;

		pmd->stats.stage_packets += n;
		pmd->stats.stage_cycles[SW_STAGE_RX] += t1 - t0;
		pmd->stats.stage_cycles[SW_STAGE_PARSE] += t2 - t1;
		pmd->stats.stage_cycles[SW_STAGE_PIPELINE] += t4 - t2 - tx;
		pmd->stats.stage_cycles[SW_STAGE_TX] += tx;
	}
	return n;
}

static int pmd_main(void *arg)
{
	struct sw_pmd *pmd = arg;
	struct rte_rcu_qsbr *qsbr = sw_dp.qsbr;
	uint64_t hz = rte_get_tsc_hz();
	uint32_t sleep_us = 0;

	rte_rcu_qsbr_thread_register(qsbr, pmd->idx);
	rte_rcu_qsbr_thread_online(qsbr, pmd->idx);
	while (!__atomic_load_n(&sw_dp.stop, __ATOMIC_ACQUIRE)) {
		uint64_t t0 = rte_rdtsc(), t1;
		const struct sw_view *v = __atomic_load_n(&sw_dp.view, __ATOMIC_ACQUIRE);
		const struct sw_cls *cls = __atomic_load_n(&sw_dp.cls, __ATOMIC_ACQUIRE);
		uint32_t now_s = (uint32_t)(t0 / hz), rx = 0, max_us;

		/* Stage timings from one iteration in SW_STAGE_SAMPLE: rdtsc is
		 * not free in a VM (four to six per burst cost several cycles per
		 * packet). */
		pmd->timing = (++pmd->stage_tick & (SW_STAGE_SAMPLE - 1)) == 0;
		if (v)
			for (uint32_t i = 0; i < v->pmd[pmd->idx].n_rxq; i++)
				rx += pmd_poll_rxq(pmd, v, cls, &v->pmd[pmd->idx].rxq[i], now_s);
		rte_rcu_qsbr_quiescent(qsbr, pmd->idx);
		t1 = rte_rdtsc();
		pmd->stats.iterations++;
		if (rx) {
			uint64_t cpp = (t1 - t0) / rx / SW_CPP_BUCKET;

			pmd->stats.busy_cycles += t1 - t0;
			pmd->stats.packets += rx;
			pmd->stats.busy_iterations++;
			pmd->stats.cpp_hist[cpp < SW_CPP_BUCKETS ? cpp : SW_CPP_BUCKETS - 1] += rx;
			sleep_us = 0;
			continue;
		}
		pmd->stats.idle_cycles += t1 - t0;
		max_us = __atomic_load_n(&sw_dp.sleep_max_us, __ATOMIC_RELAXED);
		if (!max_us)
			continue;
		/* Back off exponentially up to the maximum; offline while asleep so
		 * the control thread's grace periods do not wait for us. */
		sleep_us = sleep_us ? RTE_MIN(sleep_us * 2, max_us) : 1;
		rte_rcu_qsbr_thread_offline(qsbr, pmd->idx);
		rte_delay_us_sleep(sleep_us);
		rte_rcu_qsbr_thread_online(qsbr, pmd->idx);
		pmd->stats.sleep_us += sleep_us;
	}
	rte_rcu_qsbr_thread_offline(qsbr, pmd->idx);
	rte_rcu_qsbr_thread_unregister(qsbr, pmd->idx);
	return 0;
}

/* A PMD context with its caches (EMC, megaflows, FDB positions) on a NUMA
 * socket; also used for the control thread's PACKET_OUT pipeline. */
struct sw_pmd *sw_pmd_alloc(int socket)
{
	struct sw_pmd *pmd = rte_zmalloc_socket("sw_pmd", sizeof(*pmd), RTE_CACHE_LINE_SIZE,
						socket);

	if (!pmd)
		return NULL;
	pmd->emc = rte_zmalloc_socket("sw_emc", sizeof(*pmd->emc), RTE_CACHE_LINE_SIZE, socket);
	pmd->mfc = rte_malloc_socket("sw_mfc", sizeof(*pmd->mfc), RTE_CACHE_LINE_SIZE, socket);
	pmd->fdbc = rte_zmalloc_socket("sw_fdbc", sizeof(*pmd->fdbc), RTE_CACHE_LINE_SIZE,
				       socket);
	if (!pmd->emc || !pmd->mfc || !pmd->fdbc) {
		sw_pmd_free(pmd);
		return NULL;
	}
	sw_mfc_init(pmd->mfc);
	return pmd;
}

void sw_pmd_free(struct sw_pmd *pmd)
{
	if (!pmd)
		return;
	rte_free(pmd->emc);
	rte_free(pmd->mfc);
	rte_free(pmd->fdbc);
	rte_free(pmd);
}

int sw_pmd_start_all(void)
{
	unsigned lcore;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct sw_pmd *pmd;
		int ret;

		if (sw_dp.n_pmds == SW_MAX_PMDS) {
			VSL_WARN("more than %d worker lcores: lcore %u stays idle", SW_MAX_PMDS, lcore);
			continue;
		}
		pmd = sw_pmd_alloc((int)rte_lcore_to_socket_id(lcore));
		if (!pmd)
			return -ENOMEM;
		pmd->idx = sw_dp.n_pmds;
		pmd->lcore = lcore;
		sw_dp.pmds[sw_dp.n_pmds++] = pmd;
		ret = rte_eal_remote_launch(pmd_main, pmd, lcore);
		if (ret) {
			VSL_ERR("cannot launch PMD on lcore %u: %d", lcore, ret);
			sw_dp.pmds[--sw_dp.n_pmds] = NULL;
			sw_pmd_free(pmd);
			return ret;
		}
		VSL_INFO("PMD %u polling on lcore %u", pmd->idx, lcore);
	}
	if (!sw_dp.n_pmds)
		VSL_WARN("no worker lcore (EAL -l): ports can be configured but nothing is "
			 "forwarded; give vswitchd at least two lcores");
	return 0;
}

void sw_pmd_stop_all(void)
{
	__atomic_store_n(&sw_dp.stop, true, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < sw_dp.n_pmds; i++) {
		rte_eal_wait_lcore(sw_dp.pmds[i]->lcore);
		sw_pmd_free(sw_dp.pmds[i]);
		sw_dp.pmds[i] = NULL;
	}
	sw_dp.n_pmds = 0;
}

/* For the control thread's pseudo-PMD (PACKET_OUT, sw_ofa.c). */
void sw_pmd_tx_flush_pending(struct sw_pmd *pmd, const struct sw_view *v)
{
	pmd_tx_flush_all(pmd, v);
}
