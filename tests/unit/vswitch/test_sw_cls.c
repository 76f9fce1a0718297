/* test_sw_cls.c — the tuple-space classifier: priorities across and within
 * subtables, masks, overlapping rules, agreement with a linear scan on random
 * rule sets, EMC invalidation by version, and the megaflow cache (agreement
 * with a linear scan, wildcards, invalidation).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sw_cls.h"

enum { MAXF = 4096 };

static struct sw_flow *flows[SW_N_TABLES][MAXF];
static uint32_t nflows[SW_N_TABLES];

static struct sw_flow *add(uint8_t table, const char *s)
{
	struct sw_flow_mod fm;
	char err[256];
	struct sw_flow *f;

	if (sw_flow_parse(s, SW_FC_ADD, &fm, err, sizeof(err)))
		fail_msg("%s: %s", s, err);
	fm.table_id = table;
	f = sw_flow_alloc(&fm, 1, 0);
	assert_non_null(f);
	flows[table][nflows[table]++] = f;
	return f;
}

static struct sw_cls *build(uint32_t version)
{
	struct sw_flow *const *fp[SW_N_TABLES];

	for (unsigned t = 0; t < SW_N_TABLES; t++)
		fp[t] = flows[t];
	return sw_cls_build(fp, nflows, version);
}

static void clear(void)
{
	for (unsigned t = 0; t < SW_N_TABLES; t++) {
		for (uint32_t i = 0; i < nflows[t]; i++)
			sw_flow_free(flows[t][i]);
		nflows[t] = 0;
	}
}

static void ipkey(struct sw_flow_key *k, uint16_t in_port, uint32_t src, uint32_t dst,
		  uint8_t proto, uint16_t sport, uint16_t dport)
{
	memset(k, 0, sizeof(*k));
	k->in_port = in_port;
	k->dl_type = SW_ETH_TYPE_IPV4;
	k->nw_src = __builtin_bswap32(src);
	k->nw_dst = __builtin_bswap32(dst);
	k->nw_proto = proto;
	k->tp_src = __builtin_bswap16(sport);
	k->tp_dst = __builtin_bswap16(dport);
}

static struct sw_flow *look(const struct sw_cls *c, uint8_t t, const struct sw_flow_key *k)
{
	uint32_t probes = 0;

	return sw_cls_lookup(c, t, k, &probes);
}

static void test_priorities_and_masks(void **state)
{
	struct sw_flow *all, *net, *host, *tcp80, *in1;
	struct sw_flow_key k;
	struct sw_cls *c;

	(void)state;
	all = add(0, "priority=1,actions=drop");
	net = add(0, "priority=10,ip,nw_dst=10.0.0.0/8,actions=output:1");
	host = add(0, "priority=20,ip,nw_dst=10.1.2.3,actions=output:2");
	tcp80 = add(0, "priority=30,tcp,tp_dst=80,actions=output:3");
	in1 = add(0, "priority=5,in_port=1,actions=output:4");
	add(1, "priority=100,actions=output:9");
	c = build(1);
	assert_non_null(c);
	assert_int_equal(c->n_flows, 6);
	assert_int_equal(c->tables[0].n_subtables, 5);

	ipkey(&k, 1, 0xc0a80001, 0x0a010203, 6, 1000, 80);
	assert_ptr_equal(look(c, 0, &k), tcp80);
	ipkey(&k, 1, 0xc0a80001, 0x0a010203, 17, 1000, 80);
	assert_ptr_equal(look(c, 0, &k), host);
	ipkey(&k, 1, 0xc0a80001, 0x0a090203, 17, 1000, 80);
	assert_ptr_equal(look(c, 0, &k), net);
	ipkey(&k, 1, 0xc0a80001, 0x0b090203, 17, 1000, 80);
	assert_ptr_equal(look(c, 0, &k), in1);
	ipkey(&k, 2, 0xc0a80001, 0x0b090203, 17, 1000, 80);
	assert_ptr_equal(look(c, 0, &k), all);
	assert_ptr_equal(look(c, 1, &k), flows[1][0]);
	assert_null(look(c, 2, &k));
	sw_cls_destroy(c);
	clear();
}

static void test_same_mask_different_priorities(void **state)
{
	struct sw_flow *lo, *hi;
	struct sw_flow_key k;
	struct sw_cls *c;
	uint32_t probes = 0;

	(void)state;
	lo = add(0, "priority=10,in_port=1,actions=output:1");
	hi = add(0, "priority=20,in_port=1,actions=output:2");
	add(0, "priority=5,in_port=2,actions=output:3");
	add(0, "priority=1,dl_src=02:00:00:00:00:01,actions=output:3");
	c = build(1);
	assert_int_equal(c->tables[0].n_subtables, 2);
	ipkey(&k, 1, 1, 2, 6, 1, 2);
	assert_ptr_equal(sw_cls_lookup(c, 0, &k, &probes), hi);
	/* The in_port subtable (max 20) answers; the dl_src one (max 1) is skipped. */
	assert_int_equal(probes, 1);
	(void)lo;
	sw_cls_destroy(c);
	clear();
}

static struct sw_flow *linear(uint8_t t, const struct sw_flow_key *k)
{
	struct sw_flow *best = NULL;

	for (uint32_t i = 0; i < nflows[t]; i++)
		if (sw_match_hits(&flows[t][i]->match, k) &&
		    (!best || flows[t][i]->priority > best->priority))
			best = flows[t][i];
	return best;
}

static void test_random_rules_agree_with_linear_scan(void **state)
{
	static const char *const masks[] = { "/8", "/16", "/24", "" };
	struct sw_cls *c;
	char s[256];

	(void)state;
	srandom(42);
	/* Unique priorities, so the answer is defined even when rules overlap. */
	for (int i = 0; i < 2000; i++) {
		unsigned a = (unsigned)random() % 4, b = (unsigned)random() % 4;

		snprintf(s, sizeof(s), "priority=%d,tcp,nw_src=10.%u.%u.%u%s,nw_dst=10.0.%u.0%s%s,"
			 "actions=output:1", i + 1, (unsigned)random() % 4, (unsigned)random() % 4,
			 (unsigned)random() % 4, masks[a], (unsigned)random() % 4, masks[b],
			 random() % 3 ? "" : ",tp_dst=80");
		add(0, s);
	}
	c = build(7);
	assert_non_null(c);
	for (int i = 0; i < 20000; i++) {
		struct sw_flow_key k;

		ipkey(&k, 1, 0x0a000000u | (uint32_t)(random() % 4) << 16 |
			     (uint32_t)(random() % 4) << 8 | (uint32_t)(random() % 4),
		      0x0a000000u | (uint32_t)(random() % 4) << 8, 6, 1, random() % 2 ? 80 : 81);
		assert_ptr_equal(look(c, 0, &k), linear(0, &k));
	}
	sw_cls_destroy(c);
	clear();
}

static void test_emc_versioning(void **state)
{
	static struct sw_emc emc;
	struct sw_flow *f1, *f2, *got = NULL;
	struct sw_flow_key k;
	struct sw_cls *c1, *c2;
	uint32_t h;

	(void)state;
	f1 = add(0, "priority=10,in_port=1,actions=output:1");
	c1 = build(1);
	ipkey(&k, 1, 1, 2, 6, 1, 2);
	h = sw_flow_key_hash(&k, 0);
	assert_int_equal(h, sw_flow_key_hash(&k, 0));
	assert_int_not_equal(h, sw_flow_key_hash(&k, 1));
	assert_false(sw_emc_lookup(&emc, c1->version, h, 0, &k, &got));
	sw_emc_insert(&emc, c1->version, h, 0, &k, look(c1, 0, &k));
	assert_true(sw_emc_lookup(&emc, c1->version, h, 0, &k, &got));
	assert_ptr_equal(got, f1);
	assert_false(sw_emc_lookup(&emc, c1->version, h, 1, &k, &got));   /* other table */
	k.in_port = 2;
	assert_false(sw_emc_lookup(&emc, c1->version, h, 0, &k, &got));   /* other key */
	k.in_port = 1;

	/* A rule change bumps the version: the cached answer is a miss now, and
	 * the new lookup finds the new rule. */
	f2 = add(0, "priority=20,in_port=1,actions=output:2");
	c2 = build(2);
	assert_false(sw_emc_lookup(&emc, c2->version, h, 0, &k, &got));
	assert_ptr_equal(look(c2, 0, &k), f2);
	sw_cls_destroy(c1);
	sw_cls_destroy(c2);
	clear();
}

/* Through the megaflow cache as a PMD does it: megaflow, else the classifier
 * with its wildcards, cached. */
static struct sw_flow *mf_look(struct sw_mfc *mfc, const struct sw_cls *c, uint8_t t,
			       const struct sw_flow_key *k, bool *hit)
{
	uint64_t wc[SW_KEY_WORDS] = { 0 };
	uint32_t probes = 0;
	struct sw_flow *f;

	*hit = sw_mfc_lookup(mfc, c->version, t, k, &f, &probes);
	if (*hit)
		return f;
	f = sw_cls_lookup_wc(c, t, k, &probes, wc);
	sw_mfc_insert(mfc, t, wc, k, f);
	return f;
}

static void test_megaflows_agree_with_linear_scan(void **state)
{
	static const char *const masks[] = { "/8", "/16", "/24", "" };
	static struct sw_mfc mfc;
	unsigned hits = 0;
	struct sw_cls *c;
	char s[256];

	(void)state;
	srandom(7);
	sw_mfc_init(&mfc);
	for (int i = 0; i < 500; i++) {
		unsigned a = (unsigned)random() % 4, b = (unsigned)random() % 4;

		snprintf(s, sizeof(s), "priority=%d,%s,nw_src=10.%u.%u.%u%s,nw_dst=10.0.%u.0%s%s,"
			 "actions=output:1", i + 1, random() % 2 ? "tcp" : "udp",
			 (unsigned)random() % 4, (unsigned)random() % 4, (unsigned)random() % 4,
			 masks[a], (unsigned)random() % 4, masks[b],
			 random() % 3 ? "" : ",tp_dst=80");
		add(0, s);
	}
	add(0, "priority=3000,in_port=7,actions=drop");
	add(1, "priority=5,ip,nw_dst=10.0.0.0/16,actions=drop");
	c = build(11);
	for (int i = 0; i < 50000; i++) {
		struct sw_flow_key k;
		uint8_t t = random() % 8 ? 0 : 1;
		bool hit;

		ipkey(&k, random() % 16 ? 1 : 7, 0x0a000000u | (uint32_t)(random() % 4) << 16 |
			     (uint32_t)(random() % 4) << 8 | (uint32_t)(random() % 6),
		      0x0a000000u | (uint32_t)(random() % 4) << 8 | (uint32_t)(random() % 3),
		      random() % 2 ? 6 : 17, (uint16_t)(random() % 3), random() % 2 ? 80 : 81);
		assert_ptr_equal(mf_look(&mfc, c, t, &k, &hit), linear(t, &k));
		hits += hit;
	}
	/* Far fewer distinct megaflows than packets: most hit. */
	assert_true(hits > 25000);

	/* A new version drops every megaflow: the new rule answers at once. */
	{
		struct sw_flow_key k;
		struct sw_flow *top;
		struct sw_cls *c2;
		bool hit;

		ipkey(&k, 1, 0x0a000001, 0x0a000001, 6, 1, 80);
		mf_look(&mfc, c, 0, &k, &hit);
		mf_look(&mfc, c, 0, &k, &hit);
		assert_true(hit);
		top = add(0, "priority=4000,tcp,actions=output:5");
		c2 = build(12);
		assert_ptr_equal(mf_look(&mfc, c2, 0, &k, &hit), top);
		assert_false(hit);
		assert_ptr_equal(mf_look(&mfc, c2, 0, &k, &hit), top);
		assert_true(hit);
		sw_cls_destroy(c2);
	}
	sw_cls_destroy(c);
	clear();
}

static void test_megaflow_wildcards(void **state)
{
	static struct sw_mfc mfc;
	struct sw_flow *net, *got;
	struct sw_flow_key k;
	uint32_t nst, probes = 0;
	uint64_t nmf;
	struct sw_cls *c;
	bool hit;

	(void)state;
	sw_mfc_init(&mfc);
	net = add(0, "priority=10,ip,nw_dst=10.0.0.0/8,actions=output:1");
	add(0, "priority=20,tcp,tp_dst=80,actions=output:2");
	c = build(3);
	/* UDP to 10/8: both subtables consulted (tcp first, it has the higher
	 * priority), so the megaflow keeps dl_type, nw_proto, tp_dst, nw_dst/8 —
	 * and wildcards in_port, MACs, nw_src and tp_src. */
	ipkey(&k, 1, 0xc0a80001, 0x0a010203, 17, 1000, 53);
	assert_ptr_equal(mf_look(&mfc, c, 0, &k, &hit), net);
	for (unsigned i = 0; i < 100; i++) {
		ipkey(&k, (uint16_t)(i % 5), 0xc0a80000 + i, 0x0a000000 + i * 77, 17,
		      (uint16_t)(2000 + i), 53);
		k.dl_src[5] = (uint8_t)i;
		assert_true(sw_mfc_lookup(&mfc, c->version, 0, &k, &got, &probes));
		assert_ptr_equal(got, net);
	}
	sw_mfc_usage(&mfc, &nst, &nmf);
	assert_int_equal(nst, 1);
	assert_int_equal(nmf, 1);
	/* Another tp_dst is another megaflow (tp_dst was consulted). */
	k.tp_dst = __builtin_bswap16(54);
	assert_false(sw_mfc_lookup(&mfc, c->version, 0, &k, &got, &probes));
	/* Table 1 has no rule: a cached miss with an empty mask. */
	assert_null(mf_look(&mfc, c, 1, &k, &hit));
	assert_null(mf_look(&mfc, c, 1, &k, &hit));
	assert_true(hit);
	sw_cls_destroy(c);
	clear();
}

/* Commits as the control thread makes them: random adds (some replacing,
 * some added and deleted before the commit) and deletes, each classifier
 * built by sw_cls_update() from the previous one, checked against a linear
 * scan and against a full build. */
static void test_incremental_updates_agree(void **state)
{
	static const char *const masks[] = { "/8", "/16", "/24", "" };
	struct sw_flow *added[400], *removed[400];
	struct sw_cls *c, *n;
	int prio = 1;
	char s[256];

	(void)state;
	srandom(99);
	for (int i = 0; i < 300; i++) {
		snprintf(s, sizeof(s), "priority=%d,tcp,nw_src=10.%u.%u.0%s,actions=output:1", prio++,
			 (unsigned)random() % 4, (unsigned)random() % 4, masks[random() % 4]);
		add(0, s);
	}
	c = build(1);
	for (uint32_t round = 0; round < 40; round++) {
		uint32_t na = 0, nr = 0;

		for (int i = 0, k = (int)(random() % 200); i < k && nflows[0] < MAXF - 1; i++) {
			snprintf(s, sizeof(s), "priority=%d,tcp,nw_src=10.%u.%u.0%s,nw_dst=10.0.%u.0/24%s,"
				 "actions=output:2", prio++, (unsigned)random() % 4, (unsigned)random() % 4,
				 masks[random() % 4], (unsigned)random() % 4,
				 random() % 2 ? "" : ",tp_dst=80");
			added[na++] = add(round % 3 ? 0 : 1, s);
		}
		/* Delete some flows of table 0, old and just added ones alike. */
		for (int i = 0, k = (int)(random() % 150); i < k && nflows[0] > 1; i++) {
			uint32_t j = (uint32_t)random() % nflows[0];

			flows[0][j]->dead = true;
			removed[nr++] = flows[0][j];
			flows[0][j] = flows[0][--nflows[0]];
		}
		n = sw_cls_update(c, added, na, removed, nr, round + 2);
		assert_non_null(n);
		assert_int_equal(n->n_flows, nflows[0] + nflows[1]);
		sw_cls_destroy(c);
		for (uint32_t i = 0; i < nr; i++)
			sw_flow_free(removed[i]);
		c = n;
		for (int i = 0; i < 2000; i++) {
			struct sw_flow_key k;
			uint8_t t = (uint8_t)(random() % 2);

			ipkey(&k, 1, 0x0a000000u | (uint32_t)(random() % 4) << 16 |
				     (uint32_t)(random() % 4) << 8 | (uint32_t)(random() % 3),
			      0x0a000000u | (uint32_t)(random() % 4) << 8, 6, 1, random() % 2 ? 80 : 81);
			assert_ptr_equal(look(c, t, &k), linear(t, &k));
		}
	}
	/* The same rules built from scratch give the same subtables. */
	n = build(100);
	for (unsigned t = 0; t < 2; t++) {
		assert_int_equal(n->tables[t].n_subtables, c->tables[t].n_subtables);
		assert_int_equal(n->tables[t].n_flows, c->tables[t].n_flows);
	}
	sw_cls_destroy(n);
	sw_cls_destroy(c);
	clear();
}

/* Megaflow subtables whose mask holds in_port are skipped by packets of
 * ports they have no megaflow for. */
static void test_megaflow_in_port_partitioning(void **state)
{
	static struct sw_mfc mfc;
	struct sw_flow *p1, *net, *got;
	struct sw_flow_key k;
	uint32_t probes;
	struct sw_cls *c;
	bool hit;

	(void)state;
	sw_mfc_init(&mfc);
	p1 = add(0, "priority=20,in_port=1,actions=output:2");
	net = add(0, "priority=10,ip,nw_dst=10.0.0.0/8,actions=output:1");
	c = build(5);
	/* Port 1: the in_port subtable answers alone (megaflow mask: in_port).
	 * Port 2: both consulted (in_port, dl_type, nw_dst/8). */
	ipkey(&k, 1, 1, 0x0a000001, 17, 1, 2);
	assert_ptr_equal(mf_look(&mfc, c, 0, &k, &hit), p1);
	ipkey(&k, 2, 1, 0x0a000001, 17, 1, 2);
	assert_ptr_equal(mf_look(&mfc, c, 0, &k, &hit), net);
	assert_false(hit);
	/* Port 2 again: the port-1 subtable is skipped, one probe. */
	probes = 0;
	assert_true(sw_mfc_lookup(&mfc, c->version, 0, &k, &got, &probes));
	assert_ptr_equal(got, net);
	assert_int_equal(probes, 1);
	/* Port 3: nothing cached for it; no subtable is even probed. */
	ipkey(&k, 3, 1, 0x0a000001, 17, 1, 2);
	probes = 0;
	assert_false(sw_mfc_lookup(&mfc, c->version, 0, &k, &got, &probes));
	assert_int_equal(probes, 0);
	assert_ptr_equal(mf_look(&mfc, c, 0, &k, &hit), net);
	assert_ptr_equal(mf_look(&mfc, c, 0, &k, &hit), net);
	assert_true(hit);
	/* Port 65 shares port 1's summary bit: probed, and still right. */
	ipkey(&k, 65, 1, 0x0a000001, 17, 1, 2);
	assert_ptr_equal(mf_look(&mfc, c, 0, &k, &hit), net);
	ipkey(&k, 1, 7, 0x0b000001, 6, 1, 2);
	assert_ptr_equal(mf_look(&mfc, c, 0, &k, &hit), p1);
	assert_true(hit);
	sw_cls_destroy(c);
	clear();
}

static void test_covers_and_equal(void **state)
{
	struct sw_flow_mod a, b;
	char err[256];

	(void)state;
	assert_int_equal(sw_flow_parse("ip,nw_dst=10.0.0.0/8", SW_FC_DELETE, &a, err, sizeof(err)), 0);
	assert_int_equal(sw_flow_parse("tcp,nw_dst=10.1.0.0/16,tp_dst=80", SW_FC_DELETE, &b, err,
				       sizeof(err)), 0);
	assert_true(sw_match_covers(&a.match, &b.match));
	assert_false(sw_match_covers(&b.match, &a.match));
	assert_false(sw_match_equal(&a.match, &b.match));
	assert_int_equal(sw_flow_parse("", SW_FC_DELETE, &b, err, sizeof(err)), 0);
	assert_true(sw_match_covers(&b.match, &a.match));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priorities_and_masks),
		cmocka_unit_test(test_same_mask_different_priorities),
		cmocka_unit_test(test_random_rules_agree_with_linear_scan),
		cmocka_unit_test(test_emc_versioning),
		cmocka_unit_test(test_megaflows_agree_with_linear_scan),
		cmocka_unit_test(test_megaflow_wildcards),
		cmocka_unit_test(test_incremental_updates_agree),
		cmocka_unit_test(test_megaflow_in_port_partitioning),
		cmocka_unit_test(test_covers_and_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
