/* test_blk_bdev.c — the bdev core: submission contract (completion later and
 * exactly once, -errno and never), -ENOMEM when the reactor's contexts run out
 * and the retry that follows, argument checks, malloc and null semantics,
 * stacking and claims, registry rules, counters. */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "blk_internal.h"
#include "blk_test_util.h"
#include "vsl_log.h"

static struct blk_reactor *R;

static int setup(void **state)
{
	(void)state;
	R = blk_reactor_create(0, 8, 32);
	return R ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	blk_bdev_delete_all();
	blk_reactor_destroy(R);
	return 0;
}

static void test_completion_is_deferred_and_once(void **state)
{
	struct blk_bdev *b;
	char buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct done d = { 0, -1 };

	(void)state;
	assert_int_equal(blk_malloc_create("m", 1 << 20, 512, &b), 0);
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(blk_bdev_writev(b, R, &iov, 1, 8192, sizeof(buf), 0, done_cb, &d), 0);
	/* Never inside submit, even for a synchronous bdev. */
	assert_int_equal(d.calls, 0);
	assert_int_equal(poll_until(R, &d.calls, 1), 1);
	assert_int_equal(d.status, 0);
	poll_some(R, 5);
	assert_int_equal(d.calls, 1);

	memset(buf, 0, sizeof(buf));
	assert_int_equal(sync_io(b, R, BLK_IO_READ, 0, 8192, buf, sizeof(buf)), 0);
	assert_true(all_bytes(buf, 0xab, sizeof(buf)));
	assert_int_equal(blk_reactor_io_free(R), 8);
}

static void test_refusals_never_complete(void **state)
{
	struct blk_bdev *b;
	char buf[1024];
	struct iovec iov = { buf, 512 };
	struct done d = { 0, 0 };

	(void)state;
	assert_int_equal(blk_malloc_create("m", 1 << 20, 512, &b), 0);
	/* Misaligned offset and length. */
	assert_int_equal(blk_bdev_readv(b, R, &iov, 1, 100, 512, done_cb, &d), -EINVAL);
	iov.iov_len = 100;
	assert_int_equal(blk_bdev_readv(b, R, &iov, 1, 0, 100, done_cb, &d), -EINVAL);
	/* iovec total differs from len. */
	iov.iov_len = 1024;
	assert_int_equal(blk_bdev_readv(b, R, &iov, 1, 0, 512, done_cb, &d), -EINVAL);
	/* Past the end, and offset + len wrapping around. */
	iov.iov_len = 1024;
	assert_int_equal(blk_bdev_readv(b, R, &iov, 1, (1 << 20) - 512, 1024, done_cb, &d),
			 -ERANGE);
	assert_int_equal(blk_bdev_submit(b, R, BLK_IO_DISCARD, 0, UINT64_MAX - 511, 1024, NULL, 0,
					 done_cb, &d),
			 -ERANGE);
	/* Zero length, unknown flag, unknown type. */
	assert_int_equal(blk_bdev_submit(b, R, BLK_IO_DISCARD, 0, 0, 0, NULL, 0, done_cb, &d),
			 -EINVAL);
	assert_int_equal(blk_bdev_readv(b, R, &iov, 1, 0, 1024, done_cb, &d), 0);
	assert_int_equal(blk_bdev_submit(b, R, BLK_IO_WRITE, 0x80, 0, 1024, &iov, 1, done_cb, &d),
			 -EINVAL);
	assert_int_equal(blk_bdev_submit(b, R, BLK_IO_TYPE_COUNT, 0, 0, 1024, &iov, 1, done_cb, &d),
			 -EINVAL);
	poll_some(R, 10);
	/* Only the one accepted read completed. */
	assert_int_equal(d.calls, 1);
	assert_int_equal(blk_reactor_io_free(R), 8);
}

static void test_enomem_then_retry(void **state)
{
	struct blk_bdev *b;
	static char bufs[10][512];
	struct iovec iov[10];
	struct done d[10];
	int ret;

	(void)state;
	memset(d, 0, sizeof(d));
	assert_int_equal(blk_null_create("n", 1 << 20, 512, &b), 0);
	for (int i = 0; i < 10; i++) {
		iov[i] = (struct iovec){ bufs[i], 512 };
		ret = blk_bdev_readv(b, R, &iov[i], 1, 512 * (uint64_t)i, 512, done_cb, &d[i]);
		/* The pool holds 8 contexts. */
		assert_int_equal(ret, i < 8 ? 0 : -ENOMEM);
	}
	assert_int_equal(blk_reactor_io_free(R), 0);
	poll_until(R, &d[7].calls, 1);
	for (int i = 0; i < 8; i++)
		assert_int_equal(d[i].calls, 1);
	/* A refused request never completes; retried, it does. */
	assert_int_equal(d[8].calls, 0);
	assert_int_equal(d[9].calls, 0);
	for (int i = 8; i < 10; i++)
		assert_int_equal(blk_bdev_readv(b, R, &iov[i], 1, 0, 512, done_cb, &d[i]), 0);
	poll_until(R, &d[9].calls, 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(d[i].calls, 1);
	assert_int_equal(blk_reactor_io_free(R), 8);
}

static int resubmits;
static struct blk_bdev *chain_bdev;

static void chain_cb(void *arg, int status)
{
	static char buf[512];
	static struct iovec iov = { buf, 512 };

	assert_int_equal(status, 0);
	if (++resubmits < 100)
		assert_int_equal(blk_bdev_readv(chain_bdev, R, &iov, 1, 0, 512, chain_cb, arg), 0);
}

/* A callback that resubmits to a synchronous bdev must not recurse or loop
 * forever inside one iteration. */
static void test_resubmit_from_callback(void **state)
{
	static char buf[512];
	struct iovec iov = { buf, 512 };
	int iterations = 0;

	(void)state;
	assert_int_equal(blk_malloc_create("m", 1 << 20, 512, &chain_bdev), 0);
	resubmits = 0;
	assert_int_equal(blk_bdev_readv(chain_bdev, R, &iov, 1, 0, 512, chain_cb, NULL), 0);
	while (resubmits < 100 && iterations++ < 1000)
		blk_reactor_poll(R, 0);
	assert_int_equal(resubmits, 100);
	assert_true(iterations >= 50);  /* at most a couple of completions per iteration */
}

static void test_malloc_discard_write_zeroes(void **state)
{
	struct blk_bdev *b;
	char *buf = malloc(64 << 10);

	(void)state;
	assert_int_equal(blk_malloc_create("m", 1 << 20, 4096, &b), 0);
	memset(buf, 0x5a, 64 << 10);
	assert_int_equal(sync_io(b, R, BLK_IO_WRITE, BLK_IO_F_FUA, 0, buf, 64 << 10), 0);
	assert_int_equal(sync_io(b, R, BLK_IO_DISCARD, 0, 4096, NULL, 16384), 0);
	assert_int_equal(sync_io(b, R, BLK_IO_WRITE_ZEROES, 0, 32768, NULL, 8192), 0);
	assert_int_equal(sync_io(b, R, BLK_IO_FLUSH, 0, 0, NULL, 0), 0);
	assert_int_equal(sync_io(b, R, BLK_IO_READ, 0, 0, buf, 64 << 10), 0);
	assert_true(all_bytes(buf, 0x5a, 4096));
	assert_true(all_bytes(buf + 4096, 0, 16384));
	assert_true(all_bytes(buf + 20480, 0x5a, 12288));
	assert_true(all_bytes(buf + 32768, 0, 8192));
	assert_true(all_bytes(buf + 40960, 0x5a, 24576));
	free(buf);
}

static void test_null_reads_zeroes(void **state)
{
	struct blk_bdev *b;
	char buf[4096];

	(void)state;
	assert_int_equal(blk_null_create("n", 1 << 30, 512, &b), 0);
	assert_int_equal(blk_bdev_size(b), 1 << 30);
	memset(buf, 0x11, sizeof(buf));
	assert_int_equal(sync_io(b, R, BLK_IO_WRITE, 0, 0, buf, sizeof(buf)), 0);
	assert_int_equal(sync_io(b, R, BLK_IO_READ, 0, 0, buf, sizeof(buf)), 0);
	assert_true(all_bytes(buf, 0, sizeof(buf)));
}

static void test_registry_and_claims(void **state)
{
	struct blk_bdev *m, *e, *x, *o;

	(void)state;
	assert_int_equal(blk_malloc_create("base", 1 << 20, 512, &m), 0);
	assert_int_equal(blk_malloc_create("base", 1 << 20, 512, &x), -EEXIST);
	assert_int_equal(blk_malloc_create("bad name", 1 << 20, 512, &x), -EINVAL);
	assert_int_equal(blk_malloc_create("", 1 << 20, 512, &x), -EINVAL);
	assert_int_equal(blk_malloc_create("odd", 1000, 512, &x), -EINVAL);
	assert_int_equal(blk_malloc_create("bs", 1 << 20, 1000, &x), -EINVAL);
	assert_int_equal(blk_error_create("err", "nope", &x), -ENOENT);

	assert_int_equal(blk_error_create("err", "base", &e), 0);
	assert_ptr_equal(blk_bdev_base(e), m);
	assert_string_equal(blk_bdev_claimed_by(m), "err");
	assert_int_equal(blk_bdev_size(e), blk_bdev_size(m));
	/* A claimed base takes no second claim and cannot be deleted. */
	assert_int_equal(blk_error_create("err2", "base", &x), -EBUSY);
	assert_int_equal(blk_bdev_delete("base"), -EBUSY);
	/* A shared user (an export) of a claimed bdev is refused. */
	assert_int_equal(blk_bdev_open("base", NULL, &o), -EBUSY);
	/* A shared open of an unclaimed bdev is allowed and also pins it. */
	assert_int_equal(blk_bdev_open("err", NULL, &o), 0);
	assert_int_equal(blk_bdev_users(e), 1);
	assert_int_equal(blk_bdev_delete("err"), -EBUSY);
	/* ... and keeps a claim out (LVM on an exported bdev), while a second
	 * shared user is fine. */
	assert_int_equal(blk_bdev_open("err", "lvm:x", &x), -EBUSY);
	assert_int_equal(blk_bdev_open("err", NULL, &x), 0);
	assert_int_equal(blk_bdev_users(e), 2);
	blk_bdev_close(x, false);
	blk_bdev_close(o, false);
	assert_int_equal(blk_bdev_users(e), 0);
	/* An internal reference (a RAID rebuild on its own set) pins the bdev
	 * but neither blocks a claim nor counts as a user. */
	blk_bdev_ref(e);
	assert_int_equal(blk_bdev_refs(e), 1);
	assert_int_equal(blk_bdev_users(e), 0);
	assert_int_equal(blk_bdev_delete("err"), -EBUSY);
	assert_int_equal(blk_bdev_open("err", "lvm:x", &x), 0);
	assert_string_equal(blk_bdev_claimed_by(e), "lvm:x");
	assert_int_equal(blk_bdev_refs(e), 2);
	blk_bdev_close(x, true);
	blk_bdev_unref(e);
	assert_int_equal(blk_bdev_refs(e), 0);
	assert_null(blk_bdev_claimed_by(e));
	/* Creation order is base first. */
	assert_ptr_equal(blk_bdev_next(NULL), m);
	assert_ptr_equal(blk_bdev_next(m), e);

	assert_int_equal(blk_bdev_delete("err"), 0);
	assert_null(blk_bdev_claimed_by(m));
	assert_int_equal(blk_bdev_delete("base"), 0);
	assert_int_equal(blk_bdev_delete("base"), -ENOENT);
	assert_null(blk_bdev_next(NULL));
}

static void test_counters_and_histogram(void **state)
{
	struct blk_bdev *b;
	char buf[4096];
	uint64_t lat = 0;

	(void)state;
	assert_int_equal(blk_malloc_create("m", 1 << 20, 512, &b), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sync_io(b, R, BLK_IO_READ, 0, 0, buf, sizeof(buf)), 0);
	assert_int_equal(sync_io(b, R, BLK_IO_WRITE, 0, 0, buf, 1024), 0);
	assert_int_equal(b->stats[0].ops[BLK_IO_READ], 5);
	assert_int_equal(b->stats[0].bytes[BLK_IO_READ], 5 * 4096);
	assert_int_equal(b->stats[0].ops[BLK_IO_WRITE], 1);
	assert_int_equal(b->stats[0].bytes[BLK_IO_WRITE], 1024);
	for (int i = 0; i < BLK_LAT_BUCKETS; i++)
		lat += b->stats[0].lat[i];
	assert_int_equal(lat, 6);

	/* Buckets are monotonic and their lower bounds map back to themselves. */
	for (unsigned i = 0; i < BLK_LAT_BUCKETS; i++) {
		assert_int_equal(blk_lat_bucket(blk_lat_bucket_low(i)), i);
		if (i)
			assert_true(blk_lat_bucket_low(i) > blk_lat_bucket_low(i - 1));
	}
	assert_int_equal(blk_lat_bucket(UINT64_MAX), BLK_LAT_BUCKETS - 1);
}

static int msg_runs;
static struct blk_reactor *msg_ran_on;

static void msg_fn(void *arg)
{
	(void)arg;
	msg_runs++;
	msg_ran_on = blk_reactor_self();
}

static void *sender(void *arg)
{
	usleep(50000);
	blk_reactor_send(arg, msg_fn, NULL);
	return NULL;
}

/* A message from another thread wakes a reactor sleeping in io_uring. */
static void test_reactor_messages(void **state)
{
	pthread_t t;
	uint64_t start;

	(void)state;
	msg_runs = 0;
	assert_int_equal(blk_reactor_send(R, msg_fn, NULL), 0);
	blk_reactor_poll(R, 0);
	assert_int_equal(msg_runs, 1);
	assert_ptr_equal(msg_ran_on, R);
	assert_int_equal(pthread_create(&t, NULL, sender, R), 0);
	start = vsl_time_mono_ms();
	while (msg_runs < 2 && vsl_time_mono_ms() - start < 5000)
		blk_reactor_poll(R, 5000);
	pthread_join(t, NULL);
	assert_int_equal(msg_runs, 2);
	assert_true(vsl_time_mono_ms() - start < 2000);
	/* No control channel outside a daemon. */
	assert_int_equal(blk_ctl_send(msg_fn, NULL), -ENOTCONN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_completion_is_deferred_and_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_never_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enomem_then_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resubmit_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malloc_discard_write_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_reads_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_and_claims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters_and_histogram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reactor_messages, setup, teardown),
	};

	vsl_log_set_level(NULL, VSL_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
