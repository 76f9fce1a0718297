/* test_sw_fdb.c — the MAC table: learning per VLAN, refresh, moves, the per-port
 * limit, ageing, flushing, a full table, and learning from two threads at once.
 *
 * rte_hash needs the EAL's memory: the EAL runs here with --no-huge and a
 * private file prefix, and its runtime directory is removed at the end.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <dirent.h>

#include <rte_eal.h>
#include <rte_lcore.h>

#include "sw_fdb.h"

static void mac_of(uint8_t mac[6], uint32_t i)
{
	mac[0] = 0x02;
	mac[1] = 0;
	mac[2] = (uint8_t)(i >> 24);
	mac[3] = (uint8_t)(i >> 16);
	mac[4] = (uint8_t)(i >> 8);
	mac[5] = (uint8_t)i;
}

static struct sw_fdb *fdb_new(uint32_t cap)
{
	static int n;
	char name[32];
	struct sw_fdb *f;

	snprintf(name, sizeof(name), "fdb_ut_%d", n++);
	f = sw_fdb_create(name, cap, NULL);
	assert_non_null(f);
	return f;
}

static void test_learn_lookup_per_vlan(void **state)
{
	struct sw_fdb *f = fdb_new(1024);
	struct sw_fdb_stats st;
	uint8_t m[6];

	(void)state;
	mac_of(m, 1);
	assert_int_equal(sw_fdb_lookup(f, m, 10), 0);
	assert_int_equal(sw_fdb_learn(f, m, 10, 3, 0, 100), 0);
	assert_int_equal(sw_fdb_learn(f, m, 20, 4, 0, 100), 0);
	assert_int_equal(sw_fdb_lookup(f, m, 10), 3);
	assert_int_equal(sw_fdb_lookup(f, m, 20), 4);
	assert_int_equal(sw_fdb_lookup(f, m, 30), 0);
	/* Refresh: no new entry. */
	assert_int_equal(sw_fdb_learn(f, m, 10, 3, 0, 150), 0);
	sw_fdb_get_stats(f, &st);
	assert_int_equal(st.learned, 2);
	assert_int_equal(st.entries, 2);
	assert_int_equal(sw_fdb_port_count(f, 3), 1);
	assert_int_equal(sw_fdb_port_count(f, 4), 1);
	assert_int_equal(sw_fdb_learn(f, m, 10, 0, 0, 150), -EINVAL);
	sw_fdb_destroy(f);
}

static void test_move(void **state)
{
	struct sw_fdb *f = fdb_new(1024);
	struct sw_fdb_stats st;
	uint8_t m[6];

	(void)state;
	mac_of(m, 7);
	assert_int_equal(sw_fdb_learn(f, m, 1, 1, 0, 10), 0);
	assert_int_equal(sw_fdb_learn(f, m, 1, 2, 0, 11), 0);
	assert_int_equal(sw_fdb_lookup(f, m, 1), 2);
	assert_int_equal(sw_fdb_port_count(f, 1), 0);
	assert_int_equal(sw_fdb_port_count(f, 2), 1);
	sw_fdb_get_stats(f, &st);
	assert_int_equal(st.moved, 1);
	assert_int_equal(st.entries, 1);
	sw_fdb_destroy(f);
}

/* A PMD's position cache: hits while the key lives (a move is seen through
 * the position), misses after a removal changed the generation. */
static void test_position_cache(void **state)
{
	static struct sw_fdb_cache c;
	struct sw_fdb *f = fdb_new(1024);
	struct sw_fdb_key k, k2;
	const struct sw_fdb_key *kp = &k;
	int32_t pos, got;
	uint32_t gen;
	uint8_t m[6];

	(void)state;
	memset(&c, 0, sizeof(c));
	mac_of(m, 9);
	sw_fdb_key_set(&k, m, 10);
	sw_fdb_key_set(&k2, m, 11);
	gen = sw_fdb_generation(f);
	assert_false(sw_fdb_cache_get(&c, gen, &k, &got));
	assert_int_equal(sw_fdb_learn(f, m, 10, 3, 0, 100), 0);
	sw_fdb_lookup_bulk(f, &kp, 1, &pos);
	assert_true(pos >= 0);
	sw_fdb_cache_put(&c, gen, &k, pos);
	assert_true(sw_fdb_cache_get(&c, gen, &k, &got));
	assert_int_equal(got, pos);
	assert_false(sw_fdb_cache_get(&c, gen, &k2, &got));     /* other VLAN */
	/* A move keeps the position: the cached one gives the new port. */
	assert_int_equal(sw_fdb_learn(f, m, 10, 4, 0, 101), 0);
	assert_int_equal(sw_fdb_generation(f), gen);
	assert_int_equal(sw_fdb_pos_port(f, got), 4);
	/* A flush that removes nothing keeps the generation; one that removes
	 * the key changes it, and the cached position no longer answers. */
	assert_int_equal(sw_fdb_flush(f, 7, -1), 0);
	assert_int_equal(sw_fdb_generation(f), gen);
	assert_int_equal(sw_fdb_flush(f, 4, -1), 1);
	assert_int_not_equal(sw_fdb_generation(f), gen);
	assert_false(sw_fdb_cache_get(&c, sw_fdb_generation(f), &k, &got));
	sw_fdb_destroy(f);
}

static void test_mac_limit(void **state)
{
	struct sw_fdb *f = fdb_new(1024);
	uint8_t m[6];

	(void)state;
	for (uint32_t i = 0; i < 3; i++) {
		mac_of(m, i);
		assert_int_equal(sw_fdb_learn(f, m, 1, 5, 3, 0), 0);
	}
	mac_of(m, 3);
	assert_int_equal(sw_fdb_learn(f, m, 1, 5, 3, 0), -EDQUOT);
	assert_int_equal(sw_fdb_lookup(f, m, 1), 0);
	/* Known MACs still refresh at the limit. */
	mac_of(m, 0);
	assert_int_equal(sw_fdb_learn(f, m, 1, 5, 3, 1), 0);
	/* A move onto a full port is refused too. */
	mac_of(m, 100);
	assert_int_equal(sw_fdb_learn(f, m, 1, 6, 0, 0), 0);
	assert_int_equal(sw_fdb_learn(f, m, 1, 5, 3, 0), -EDQUOT);
	assert_int_equal(sw_fdb_lookup(f, m, 1), 6);
	assert_int_equal(sw_fdb_port_count(f, 5), 3);
	sw_fdb_destroy(f);
}

static void test_ageing(void **state)
{
	struct sw_fdb *f = fdb_new(1024);
	uint8_t a[6], b[6];

	(void)state;
	mac_of(a, 1);
	mac_of(b, 2);
	sw_fdb_learn(f, a, 1, 1, 0, 1000);
	sw_fdb_learn(f, b, 1, 1, 0, 1000);
	sw_fdb_learn(f, b, 1, 1, 0, 1200);          /* b seen again later */
	assert_int_equal(sw_fdb_age(f, 1299, 300), 0);
	assert_int_equal(sw_fdb_age(f, 1300, 300), 1);
	assert_int_equal(sw_fdb_lookup(f, a, 1), 0);
	assert_int_equal(sw_fdb_lookup(f, b, 1), 1);
	assert_int_equal(sw_fdb_port_count(f, 1), 1);
	/* The freed slot is reusable. */
	assert_int_equal(sw_fdb_learn(f, a, 1, 2, 0, 1300), 0);
	assert_int_equal(sw_fdb_lookup(f, a, 1), 2);
	sw_fdb_destroy(f);
}

static void test_flush(void **state)
{
	struct sw_fdb *f = fdb_new(1024);
	uint8_t m[6];

	(void)state;
	for (uint32_t i = 0; i < 10; i++) {
		mac_of(m, i);
		sw_fdb_learn(f, m, (uint16_t)(i % 2 ? 10 : 20), (uint16_t)(1 + i % 3), 0, 0);
	}
	assert_int_equal(sw_fdb_flush(f, 1, -1), 4);      /* i = 0, 3, 6, 9 */
	assert_int_equal(sw_fdb_port_count(f, 1), 0);
	assert_int_equal(sw_fdb_flush(f, 0, 10), 3);      /* odd i left: 1, 5, 7 */
	assert_int_equal(sw_fdb_flush(f, 0, -1), 3);
	assert_int_equal(sw_fdb_flush(f, 0, -1), 0);
	sw_fdb_destroy(f);
}

static void test_full_table_is_bounded(void **state)
{
	struct sw_fdb *f = fdb_new(256);
	struct sw_fdb_stats st;
	uint32_t ok = 0, full = 0;
	uint8_t m[6];

	(void)state;
	for (uint32_t i = 0; i < 10000; i++) {
		mac_of(m, i);
		int ret = sw_fdb_learn(f, m, 1, 1, 0, 0);

		if (ret == 0)
			ok++;
		else if (ret == -ENOSPC)
			full++;
		else
			fail();
	}
	sw_fdb_get_stats(f, &st);
	assert_true(ok <= 256 + 64 && ok >= 128);
	assert_int_equal(ok + full, 10000);
	assert_int_equal(st.full, full);
	assert_int_equal(st.entries, ok);
	sw_fdb_destroy(f);
}

struct learner {
	struct sw_fdb *f;
	uint16_t port;
};

static void *learn_thread(void *arg)
{
	struct learner *l = arg;
	uint8_t m[6];

	/* A multi-writer rte_hash keeps per-lcore free-slot caches: writers must
	 * be EAL threads (in vswitchd they are the PMDs and the main lcore). */
	assert_int_equal(rte_thread_register(), 0);

	for (int round = 0; round < 20; round++) {
		for (uint32_t i = 0; i < 2000; i++) {
			mac_of(m, i);
			sw_fdb_learn(l->f, m, 1, l->port, 0, (uint32_t)round);
			sw_fdb_lookup(l->f, m, 1);
		}
	}
	rte_thread_unregister();
	return NULL;
}

static void test_two_threads_learn_the_same_macs(void **state)
{
	struct sw_fdb *f = fdb_new(8192);
	struct learner l[2] = { { f, 1 }, { f, 1 } };
	struct sw_fdb_stats st;
	pthread_t t[2];

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, learn_thread, &l[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	sw_fdb_get_stats(f, &st);
	/* Each MAC counted once although both threads raced to add it. */
	assert_int_equal(st.entries, 2000);
	assert_int_equal(st.learned, 2000);
	assert_int_equal(sw_fdb_port_count(f, 1), 2000);

	/* Two ports fighting over the same MACs: every move keeps counts whole. */
	l[1].port = 2;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, learn_thread, &l[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(sw_fdb_port_count(f, 1) + sw_fdb_port_count(f, 2), 2000);
	assert_int_equal(sw_fdb_flush(f, 0, -1), 2000);
	assert_int_equal(sw_fdb_port_count(f, 1) + sw_fdb_port_count(f, 2), 0);
	sw_fdb_destroy(f);
}

/* The EAL leaves its runtime directory (named after our pid) behind. */
static void remove_dir(const char *dir)
{
	char path[4096 + 256 + 2];
	struct dirent *de;
	DIR *dp;

	if (!strstr(dir, "/vessel-ut-"))
		return;
	dp = opendir(dir);
	if (dp) {
		while ((de = readdir(dp))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(dp);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learn_lookup_per_vlan),
		cmocka_unit_test(test_move),
		cmocka_unit_test(test_position_cache),
		cmocka_unit_test(test_mac_limit),
		cmocka_unit_test(test_ageing),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_full_table_is_bounded),
		cmocka_unit_test(test_two_threads_learn_the_same_macs),
	};
	char prefix[64], dir[4096];
	char *argv[] = { "test_sw_fdb", "--no-huge", "-m", "128", "--no-pci",
			 "-l", "0", "--no-telemetry", "--log-level", "error", prefix, NULL };
	int ret;

	snprintf(prefix, sizeof(prefix), "--file-prefix=vessel-ut-%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	remove_dir(dir);
	return ret;
}
