/* test_sw_flow_exec.c — the pipeline's actions on crafted mbufs: pop/push
 * VLAN, set_field with checksum fix-ups, dec_ttl, several outputs sharing
 * one packet, goto-table with metadata, table miss by fail mode.
 *
 * Includes sw_flow_exec.c and stubs its neighbours: sw_pmd_tx() and the
 * NORMAL bridge record what they are given. Mbufs live in static buffers (no
 * EAL, no mempool): tests keep them away from paths that would free them into
 * a pool.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../vswitch/sw_flow_exec.c"

struct sw_dp sw_dp;

static struct rte_mbuf *sent[16];
static uint8_t sent_vidx[16];
static unsigned n_sent, n_normal;

void sw_pmd_tx(struct sw_pmd *pmd, const struct sw_view *v, uint8_t vidx, struct rte_mbuf *m)
{
	(void)pmd;
	(void)v;
	sent_vidx[n_sent] = vidx;
	sent[n_sent++] = m;
}

/* No vxlan port in these views (sw_vxlan.c is covered by the system tests). */
void sw_vx_tx(struct sw_pmd *pmd, const struct sw_view *v, uint8_t vidx, struct rte_mbuf *m,
	      uint64_t vni, uint32_t remote)
{
	(void)pmd;
	(void)v;
	(void)vidx;
	(void)vni;
	(void)remote;
	rte_pktmbuf_free(m);
	fail_msg("sw_vx_tx called without a vxlan port");
}

void sw_bridge_normal_burst(struct sw_pmd *pmd, const struct sw_view *v, const struct sw_vport *in,
			    struct rte_mbuf **pkts, const struct sw_flow_key *keys, uint16_t n,
			    uint32_t now_s)
{
	(void)pmd;
	(void)v;
	(void)in;
	(void)pkts;
	(void)keys;
	(void)now_s;
	n_normal += n;
}

static struct sw_view view;
static struct sw_port ports[3];
static struct sw_pmd pmd;
static struct sw_emc emc;
static struct sw_mfc mfc;
static struct sw_flow *flows[SW_N_TABLES][16];
static uint32_t nflows[SW_N_TABLES];
static struct sw_cls *cls;
static uint32_t version;

static _Alignas(64) uint8_t mbuf_mem[sizeof(struct rte_mbuf) + 2048];

static int setup(void **state)
{
	(void)state;
	memset(&view, 0, sizeof(view));
	memset(view.vidx_by_ofport, SW_VIDX_NONE, sizeof(view.vidx_by_ofport));
	view.n_ports = 3;
	for (unsigned i = 0; i < 3; i++) {
		memset(&ports[i], 0, sizeof(ports[i]));
		view.ports[i].port = &ports[i];
		view.ports[i].ofport = (uint16_t)(i + 1);
		view.ports[i].cfg.admin_up = true;
		view.vidx_by_ofport[i + 1] = (uint8_t)i;
	}
	memset(&pmd, 0, sizeof(pmd));
	pmd.emc = &emc;
	pmd.mfc = &mfc;
	sw_mfc_init(&mfc);
	n_sent = n_normal = 0;
	sw_dp.fail_secure = true;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sw_cls_destroy(cls);
	cls = NULL;
	for (unsigned t = 0; t < SW_N_TABLES; t++) {
		for (uint32_t i = 0; i < nflows[t]; i++)
			sw_flow_free(flows[t][i]);
		nflows[t] = 0;
	}
	return 0;
}

static void install(const char *const *specs, unsigned n)
{
	struct sw_flow *const *fp[SW_N_TABLES];
	struct sw_flow_mod fm;
	char err[256];

	for (unsigned i = 0; i < n; i++) {
		if (sw_flow_parse(specs[i], SW_FC_ADD, &fm, err, sizeof(err)))
			fail_msg("%s: %s", specs[i], err);
		flows[fm.table_id][nflows[fm.table_id]++] = sw_flow_alloc(&fm, 1, 0);
	}
	for (unsigned t = 0; t < SW_N_TABLES; t++)
		fp[t] = flows[t];
	cls = sw_cls_build(fp, nflows, ++version);
	assert_non_null(cls);
}

static struct rte_mbuf *mbuf(const uint8_t *frame, uint16_t len)
{
	struct rte_mbuf *m = (struct rte_mbuf *)(void *)mbuf_mem;

	memset(mbuf_mem, 0, sizeof(mbuf_mem));
	m->buf_addr = mbuf_mem + sizeof(*m);
	m->buf_len = 2048;
	m->data_off = RTE_PKTMBUF_HEADROOM;
	rte_mbuf_refcnt_set(m, 1);
	m->nb_segs = 1;
	m->data_len = m->pkt_len = len;
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), frame, len);
	return m;
}

/* Ethernet [+ 802.1Q] + IPv4 + TCP, checksums valid. */
static uint16_t build_tcp(uint8_t *f, int vlan, uint8_t ttl)
{
	static const uint8_t eth[12] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1 };
	uint16_t n = 12, l3;
	uint32_t s;

	memcpy(f, eth, 12);
	if (vlan >= 0) {
		f[n++] = 0x81; f[n++] = 0x00;
		f[n++] = (uint8_t)(vlan >> 8); f[n++] = (uint8_t)vlan;
	}
	f[n++] = 0x08; f[n++] = 0x00;
	l3 = n;
	memset(f + n, 0, 20 + 20 + 4);
	f[n] = 0x45; f[n + 3] = 44; f[n + 8] = ttl; f[n + 9] = 6;
	f[n + 12] = 10; f[n + 15] = 1; f[n + 16] = 10; f[n + 19] = 2;
	n += 20;
	f[n] = 0x04; f[n + 1] = 0xd2; f[n + 3] = 80; f[n + 12] = 0x50; f[n + 13] = 0x02;
	memcpy(f + n + 20, "data", 4);
	n += 24;
	/* IP header checksum. */
	s = 0;
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)(f[l3 + i] << 8 | f[l3 + i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	f[l3 + 10] = (uint8_t)(~s >> 8); f[l3 + 11] = (uint8_t)~s;
	/* TCP checksum over the pseudo-header. */
	s = 6 + 24;
	for (int i = 12; i < 20; i += 2)
		s += (uint32_t)(f[l3 + i] << 8 | f[l3 + i + 1]);
	for (int i = 0; i < 24; i += 2)
		s += (uint32_t)(f[l3 + 20 + i] << 8 | f[l3 + 20 + i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	f[l3 + 36] = (uint8_t)(~s >> 8); f[l3 + 37] = (uint8_t)~s;
	return n;
}

static bool ip_csum_ok(const uint8_t *ip)
{
	uint32_t s = 0;

	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

static bool tcp_csum_ok(const uint8_t *ip, unsigned l4len)
{
	uint32_t s = 6 + l4len;

	for (int i = 12; i < 20; i += 2)
		s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	for (unsigned i = 0; i < l4len; i += 2)
		s += (uint32_t)(ip[20 + i] << 8 | ip[20 + i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

static void run(struct rte_mbuf *m, uint16_t in_ofport)
{
	struct sw_flow_key key;
	struct rte_mbuf *pkts[1] = { m };

	assert_int_equal(sw_packet_parse(rte_pktmbuf_mtod(m, void *), m->data_len, in_ofport, &key),
			 0);
	sw_flow_exec_burst(&pmd, &view, &view.ports[in_ofport - 1], cls, pkts, &key, 1, 100);
}

static void test_pop_vlan(void **state)
{
	static const char *const f[] = { "priority=100,in_port=1,dl_vlan=10,actions=strip_vlan,output:2" };
	uint8_t in[128], want[128];
	uint16_t n = build_tcp(in, 10, 64), wn = build_tcp(want, -1, 64);
	struct rte_mbuf *m;

	(void)state;
	install(f, 1);
	m = mbuf(in, n);
	run(m, 1);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent_vidx[0], 1);
	assert_int_equal(sent[0]->data_len, wn);
	assert_memory_equal(rte_pktmbuf_mtod(sent[0], uint8_t *), want, wn);
	assert_int_equal(flows[0][0]->stats[0].packets, 1);
	assert_int_equal(flows[0][0]->stats[0].bytes, n);
}

static void test_push_vlan_and_set_vid_pcp(void **state)
{
	static const char *const f[] = { "in_port=1,actions=push_vlan:0x8100,set_field:4116->vlan_vid,"
					 "set_field:5->vlan_pcp,output:3" };
	uint8_t in[128], want[128];
	uint16_t n = build_tcp(in, -1, 64), wn = build_tcp(want, 0xa014, 64);

	(void)state;
	install(f, 1);
	run(mbuf(in, n), 1);
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent_vidx[0], 2);
	assert_int_equal(sent[0]->data_len, wn);
	assert_memory_equal(rte_pktmbuf_mtod(sent[0], uint8_t *), want, wn);
}

static void test_set_fields_fix_checksums(void **state)
{
	static const char *const f[] = { "tcp,actions=set_field:192.168.9.7->ipv4_src,"
					 "set_field:8080->tcp_dst,mod_nw_tos:184,dec_ttl,"
					 "set_field:02:00:00:00:00:bb->eth_dst,output:2" };
	uint8_t in[128];
	uint16_t n = build_tcp(in, -1, 64);
	const uint8_t *p, *ip;

	(void)state;
	install(f, 1);
	run(mbuf(in, n), 1);
	assert_int_equal(n_sent, 1);
	p = rte_pktmbuf_mtod(sent[0], const uint8_t *);
	ip = p + 14;
	assert_int_equal(p[5], 0xbb);
	assert_int_equal(ip[12], 192);
	assert_int_equal(ip[15], 7);
	assert_int_equal(ip[1], 184);
	assert_int_equal(ip[8], 63);
	assert_int_equal(ip[20 + 2] << 8 | ip[20 + 3], 8080);
	assert_true(ip_csum_ok(ip));
	assert_true(tcp_csum_ok(ip, 24));
}

static void test_dec_ttl_expires(void **state)
{
	static const char *const f[] = { "ip,actions=dec_ttl,output:2" };
	uint8_t in[128];
	uint16_t n = build_tcp(in, -1, 1);
	struct rte_mbuf *m;

	(void)state;
	install(f, 1);
	m = mbuf(in, n);
	rte_mbuf_refcnt_set(m, 2);      /* the drop frees one reference, not into a pool */
	run(m, 1);
	assert_int_equal(n_sent, 0);
	assert_int_equal(pmd.stats.ttl_expired, 1);
	assert_int_equal(ports[0].stats[0].drops[SW_DROP_FLOW], 1);
	assert_int_equal(rte_mbuf_refcnt_read(m), 1);
}

static void test_two_outputs_share_the_packet(void **state)
{
	static const char *const f[] = { "in_port=1,actions=output:2,output:3" };
	uint8_t in[128];
	uint16_t n = build_tcp(in, -1, 64);
	struct rte_mbuf *m;

	(void)state;
	install(f, 1);
	m = mbuf(in, n);
	run(m, 1);
	assert_int_equal(n_sent, 2);
	assert_ptr_equal(sent[0], m);
	assert_ptr_equal(sent[1], m);
	assert_int_equal(rte_mbuf_refcnt_read(m), 2);
	assert_int_equal(sent_vidx[0], 1);
	assert_int_equal(sent_vidx[1], 2);
}

static void test_goto_metadata_and_action_set(void **state)
{
	static const char *const f[] = {
		"table=0,in_port=1,actions=write_metadata:0x7/0xf,write_actions(output:3),goto_table:2",
		"table=2,priority=10,metadata=0x7/0xf,actions=write_actions(output:2)",
		"table=2,priority=5,actions=drop",
	};
	uint8_t in[128];
	uint16_t n = build_tcp(in, -1, 64);

	(void)state;
	install(f, 3);
	run(mbuf(in, n), 1);
	/* The write in table 2 replaced the output of table 0 in the action set. */
	assert_int_equal(n_sent, 1);
	assert_int_equal(sent_vidx[0], 1);
	assert_int_equal(pmd.tables[0].lookups, 1);
	assert_int_equal(pmd.tables[2].matches, 1);
	/* The second packet is an EMC hit in both tables. */
	n_sent = 0;
	run(mbuf(in, n), 1);
	assert_int_equal(n_sent, 1);
	assert_int_equal(pmd.stats.emc_hits, 2);
}

static void test_table_miss_by_fail_mode(void **state)
{
	static const char *const f[] = { "in_port=3,actions=output:1" };
	uint8_t in[128];
	uint16_t n = build_tcp(in, -1, 64);
	struct rte_mbuf *m;

	(void)state;
	install(f, 1);
	sw_dp.fail_secure = false;
	run(mbuf(in, n), 1);
	assert_int_equal(n_normal, 1);
	sw_dp.fail_secure = true;
	m = mbuf(in, n);
	rte_mbuf_refcnt_set(m, 2);
	run(m, 1);
	assert_int_equal(n_normal, 1);
	assert_int_equal(ports[0].stats[0].drops[SW_DROP_TABLE_MISS], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pop_vlan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_vlan_and_set_vid_pcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_fields_fix_checksums, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dec_ttl_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_outputs_share_the_packet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_goto_metadata_and_action_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_miss_by_fail_mode, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
