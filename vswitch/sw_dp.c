/* sw_dp.c — the datapath object: mbuf pools, RCU, FDB, PMD start/stop and
 * the FDB ageing timer. See vswitch.h and sw_internal.h.
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_rcu_qsbr.h>

#include "sw_fdb.h"
#include "sw_internal.h"
#include "sw_vxlan.h"
#include "vsl_daemon.h"
#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_util.h"
#include "vswitch.h"

VSL_LOG_MODULE(dp);

enum {
	SW_POOL_MBUFS = 32767,        /* 2^n - 1: the mempool ring's best size */
	SW_POOL_CACHE = 256,
	SW_CAP_POOL_MBUFS = 4095,
	SW_JUMBO_MBUFS = 4095,
	SW_JUMBO_DATA_ROOM = 9216 + 2 * 4 + 18 + RTE_PKTMBUF_HEADROOM,
	SW_AGE_PERIOD_MS = 1000,
};

struct sw_dp sw_dp;

uint32_t sw_now_s(void)
{
	return (uint32_t)(rte_rdtsc() / rte_get_tsc_hz());
}

struct rte_mempool *sw_dp_jumbo_pool(void)
{
	if (!sw_dp.jumbo_pool) {
		sw_dp.jumbo_pool = rte_pktmbuf_pool_create("sw_jumbo", SW_JUMBO_MBUFS, 64, 0,
							   SW_JUMBO_DATA_ROOM,
							   (int)rte_socket_id());
		if (!sw_dp.jumbo_pool)
			VSL_ERR("cannot create the jumbo mbuf pool: %s", rte_strerror(rte_errno));
	}
	return sw_dp.jumbo_pool;
}

static void age_timer_fn(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	unsigned n;

	(void)loop;
	(void)t;
	(void)arg;
	n = sw_fdb_age(sw_dp.fdb, sw_now_s(), sw_dp.ageing_s);
	if (n)
		VSL_DBG("aged out %u FDB entries", n);
}

int sw_dp_init(void)
{
	static const struct rte_mbuf_dynfield ts_field = {
		.name = "vessel_capture_ts",
		.size = 2 * sizeof(uint64_t),
		.align = __alignof__(uint64_t),
	};
	struct vsl_daemon *d = vsl_daemon_get();
	size_t qsz;
	int ret;

	memset(&sw_dp, 0, sizeof(sw_dp));
	sw_dp.ageing_s = SW_FDB_DEFAULT_AGEING_S;
	sw_dp.pool = rte_pktmbuf_pool_create("sw_mbufs", SW_POOL_MBUFS, SW_POOL_CACHE, 0,
					     RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!sw_dp.pool) {
		VSL_ERR("cannot create the mbuf pool: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	sw_dp.cap_pool = rte_pktmbuf_pool_create("sw_capture", SW_CAP_POOL_MBUFS, 64, 0,
						 RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!sw_dp.cap_pool) {
		VSL_ERR("cannot create the capture pool: %s", rte_strerror(rte_errno));
		ret = -ENOMEM;
		goto err_pool;
	}
	sw_dp.mbuf_ts_offset = rte_mbuf_dynfield_register(&ts_field);
	if (sw_dp.mbuf_ts_offset < 0) {
		VSL_ERR("cannot register the capture mbuf field: %s", rte_strerror(rte_errno));
		ret = -ENOMEM;
		goto err_cap_pool;
	}
	qsz = rte_rcu_qsbr_get_memsize(SW_MAX_PMDS);
	sw_dp.qsbr = rte_zmalloc("sw_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	if (!sw_dp.qsbr || rte_rcu_qsbr_init(sw_dp.qsbr, SW_MAX_PMDS)) {
		VSL_ERR("cannot set up RCU");
		ret = -ENOMEM;
		goto err_qsbr;
	}
	sw_dp.fdb = sw_fdb_create("sw_fdb", SW_FDB_DEFAULT_CAPACITY, sw_dp.qsbr);
	if (!sw_dp.fdb) {
		VSL_ERR("cannot create the FDB: %s", rte_strerror(rte_errno));
		ret = -ENOMEM;
		goto err_qsbr;
	}
	ret = sw_view_publish();
	if (ret)
		goto err_fdb;
	ret = sw_flow_table_init();
	if (ret)
		goto err_flows;
	ret = sw_pmd_start_all();
	if (ret)
		goto err_pmds;
	ret = sw_ofa_init();
	if (ret) {
		VSL_ERR("cannot start the OpenFlow agent: %s", strerror(-ret));
		goto err_pmds;
	}
	if (d && d->loop) {
		sw_dp.age_timer = vsl_timer_add(d->loop, SW_AGE_PERIOD_MS, SW_AGE_PERIOD_MS,
						age_timer_fn, NULL);
		if (!sw_dp.age_timer) {
			ret = vsl_neg_errno();
			goto err_pmds;
		}
	}
	sw_dp.initialised = true;
	VSL_INFO("data path up: %u PMD(s), %u mbufs, FDB of %u entries", sw_dp.n_pmds,
		 SW_POOL_MBUFS, SW_FDB_DEFAULT_CAPACITY);
	return 0;

err_pmds:
	sw_ofa_fini();
	sw_pmd_stop_all();
err_flows:
	sw_flow_table_fini();
	rte_free(sw_dp.view);
	sw_dp.view = NULL;
err_fdb:
	sw_fdb_destroy(sw_dp.fdb);
err_qsbr:
	rte_free(sw_dp.qsbr);
err_cap_pool:
	rte_mempool_free(sw_dp.cap_pool);
err_pool:
	rte_mempool_free(sw_dp.pool);
	memset(&sw_dp, 0, sizeof(sw_dp));
	return ret;
}

void sw_dp_fini(void)
{
	struct vsl_daemon *d = vsl_daemon_get();

	if (!sw_dp.initialised)
		return;
	if (sw_dp.age_timer && d && d->loop)
		vsl_timer_cancel(d->loop, sw_dp.age_timer);
	sw_capture_stop_all();
	sw_pmd_stop_all();
	sw_ofa_fini();
	sw_flow_table_fini();
	sw_group_fini();
	sw_port_del_all();
	sw_vx_fini();           /* after the ports, before the pool its parked packets use */
	rte_free(sw_dp.view);
	sw_fdb_destroy(sw_dp.fdb);
	rte_free(sw_dp.qsbr);
	rte_mempool_free(sw_dp.cap_pool);
	rte_mempool_free(sw_dp.jumbo_pool);
	rte_mempool_free(sw_dp.pool);
	memset(&sw_dp, 0, sizeof(sw_dp));
}
