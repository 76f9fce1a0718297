/* test_blk_bdev_file.c — the io_uring file bdev on a real file: read/write,
 * FUA, flush, discard and write-zeroes reading back as zeroes, O_DIRECT with
 * aligned buffers, many requests in flight, the refusals at create, and I/O
 * through registered (fixed) buffers. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "blk_internal.h"
#include "blk_test_util.h"
#include "vsl_log.h"

enum { FILE_SIZE = 4 << 20 };

static struct blk_reactor *R;
static char path[64];

static int setup(void **state)
{
	int fd;

	(void)state;
	R = blk_reactor_create(0, 256, 16);
	snprintf(path, sizeof(path), "/var/tmp/vessel-blk-XXXXXX");
	fd = mkstemp(path);
	if (!R || fd < 0 || ftruncate(fd, FILE_SIZE))
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	blk_bdev_delete_all();
	blk_reactor_destroy(R);
	unlink(path);
	return 0;
}

static void test_buffered_io(void **state)
{
	struct blk_file_opts o = { .path = path };
	struct blk_bdev *b;
	char *buf = malloc(1 << 20), *chk = malloc(1 << 20);
	int fd;

	(void)state;
	assert_int_equal(blk_file_create("f", &o, &b), 0);
	assert_int_equal(blk_bdev_size(b), FILE_SIZE);
	assert_int_equal(blk_bdev_block_size(b), 512);
	for (int i = 0; i < (1 << 20); i++)
		buf[i] = (char)(i * 7);
	assert_int_equal(sync_io(b, R, BLK_IO_WRITE, 0, 512, buf, 1 << 20), 0);
	assert_int_equal(sync_io(b, R, BLK_IO_WRITE, BLK_IO_F_FUA, 2 << 20, buf, 4096), 0);
	assert_int_equal(sync_io(b, R, BLK_IO_FLUSH, 0, 0, NULL, 0), 0);
	/* What the file holds, read behind the bdev's back. */
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, chk, 1 << 20, 512), 1 << 20);
	assert_memory_equal(chk, buf, 1 << 20);
	close(fd);

	assert_int_equal(sync_io(b, R, BLK_IO_DISCARD, 0, 4096, NULL, 65536), 0);
	assert_int_equal(sync_io(b, R, BLK_IO_WRITE_ZEROES, 0, 512 * 1024, NULL, 8192), 0);
	assert_int_equal(sync_io(b, R, BLK_IO_READ, 0, 512, chk, 1 << 20), 0);
	for (int i = 0; i < (1 << 20); i++) {
		uint64_t off = 512 + (uint64_t)i;
		bool zero = (off >= 4096 && off < 4096 + 65536) ||
			    (off >= 512 * 1024 && off < 512 * 1024 + 8192);

		if (chk[i] != (zero ? 0 : buf[i]))
			fail_msg("byte at %llu", (unsigned long long)off);
	}
	free(buf);
	free(chk);
}

static void test_many_in_flight(void **state)
{
	struct blk_file_opts o = { .path = path };
	struct blk_bdev *b;
	static char bufs[200][4096];
	struct iovec iov[200];
	struct done d[200];
	int total = 0;

	(void)state;
	memset(d, 0, sizeof(d));
	assert_int_equal(blk_file_create("f", &o, &b), 0);
	/* More requests than ring entries: the reactor submits as it goes. */
	for (int i = 0; i < 200; i++) {
		memset(bufs[i], i, 4096);
		iov[i] = (struct iovec){ bufs[i], 4096 };
		assert_int_equal(blk_bdev_writev(b, R, &iov[i], 1, (uint64_t)i * 4096, 4096, 0,
						 done_cb, &d[i]),
				 0);
	}
	for (uint64_t end = vsl_time_mono_ms() + 5000; total < 200 && vsl_time_mono_ms() < end;) {
		blk_reactor_poll(R, 10);
		total = 0;
		for (int i = 0; i < 200; i++)
			total += d[i].calls;
	}
	assert_int_equal(total, 200);
	for (int i = 0; i < 200; i++)
		assert_int_equal(d[i].status, 0);
	assert_int_equal(sync_io(b, R, BLK_IO_READ, 0, 199 * 4096, bufs[0], 4096), 0);
	assert_true(all_bytes(bufs[0], 199, 4096));
}

static void test_direct(void **state)
{
	struct blk_file_opts o = { .path = path, .direct = true };
	struct blk_bdev *b;
	void *buf = NULL;

	(void)state;
	assert_int_equal(blk_file_create("d", &o, &b), 0);
	assert_int_equal(blk_bdev_block_size(b), 4096);
	assert_int_equal(posix_memalign(&buf, 4096, 65536), 0);
	memset(buf, 0x3c, 65536);
	assert_int_equal(sync_io(b, R, BLK_IO_WRITE, 0, 8192, buf, 65536), 0);
	memset(buf, 0, 65536);
	assert_int_equal(sync_io(b, R, BLK_IO_READ, 0, 8192, buf, 65536), 0);
	assert_true(all_bytes(buf, 0x3c, 65536));
	/* 512-byte I/O is refused up front on a 4 KiB bdev. */
	assert_int_equal(sync_io(b, R, BLK_IO_READ, 0, 512, buf, 512), -EINVAL);
	free(buf);
}

/* A file that shrinks under the bdev: the short read is continued, hits the
 * end of the file and fails with EIO instead of returning stale bytes. */
static void test_short_read_at_eof(void **state)
{
	struct blk_file_opts o = { .path = path };
	struct blk_bdev *b;
	char buf[8192];
	struct iovec iov[3] = { { buf, 1000 }, { buf + 1000, 3096 }, { buf + 4096, 4096 } };
	struct done d = { 0, 0 };

	(void)state;
	assert_int_equal(blk_file_create("f", &o, &b), 0);
	assert_int_equal(truncate(path, FILE_SIZE - 3000), 0);
	assert_int_equal(blk_bdev_readv(b, R, iov, 3, FILE_SIZE - 8192, 8192, done_cb, &d), 0);
	assert_int_equal(poll_until(R, &d.calls, 1), 1);
	assert_int_equal(d.status, -EIO);
	/* Below the new end all is well. */
	assert_int_equal(sync_io(b, R, BLK_IO_READ, 0, FILE_SIZE - 16384, buf, 8192), 0);
}

static void test_create_refusals(void **state)
{
	struct blk_file_opts o = { .path = "/nonexistent/x" };
	struct blk_bdev *b;
	char empty[64];
	int fd;

	(void)state;
	assert_int_equal(blk_file_create("f", &o, &b), -ENOENT);
	o.path = "/var/tmp";
	assert_true(blk_file_create("f", &o, &b) < 0);     /* a directory */
	snprintf(empty, sizeof(empty), "/var/tmp/vessel-blk0-XXXXXX");
	fd = mkstemp(empty);
	assert_true(fd >= 0);
	close(fd);
	o.path = empty;
	assert_int_equal(blk_file_create("f", &o, &b), -EINVAL);   /* empty */
	unlink(empty);
	o.path = path;
	o.block_size = 3000;
	assert_int_equal(blk_file_create("f", &o, &b), -EINVAL);
	o.block_size = 0;
	assert_int_equal(blk_file_create("f", &o, &b), 0);
	assert_int_equal(blk_file_create("f", &o, &b), -EEXIST);
}

/* Registered (fixed) buffers: lookups by range, reference counting per
 * owner, and I/O through READ_FIXED/WRITE_FIXED that lands where it should,
 * buffered and O_DIRECT. */
static void test_fixed_buffers(void **state)
{
	struct blk_file_opts o = { .path = path };
	struct blk_bdev *b;
	char *a = NULL, *c = NULL, *chk = malloc(1 << 20);
	int owner_a, owner_c, fd, ret;

	(void)state;
	assert_int_equal(posix_memalign((void **)&a, 4096, 1 << 20), 0);
	assert_int_equal(posix_memalign((void **)&c, 4096, 65536), 0);
	ret = blk_reactor_buf_add(R, &owner_a, &(struct iovec){ a, 1 << 20 }, 1);
	if (ret) {
		/* A kernel without sparse buffer tables: I/O goes the plain way. */
		assert_int_equal(blk_reactor_buf_find(R, a, 4096), -1);
		free(a);
		free(c);
		free(chk);
		skip();
	}
	assert_int_equal(blk_reactor_buf_add(R, &owner_c, &(struct iovec){ c, 65536 }, 1), 0);
	assert_int_equal(blk_reactor_buf_count(R), 2);
	assert_true(blk_reactor_buf_find(R, a, 1 << 20) >= 0);
	assert_true(blk_reactor_buf_find(R, a + 4096, 8192) >= 0);
	assert_int_equal(blk_reactor_buf_find(R, a + (1 << 20) - 4096, 8192), -1);  /* runs off */
	assert_int_equal(blk_reactor_buf_find(R, a + (1 << 20), 512), -1);
	assert_int_equal(blk_reactor_buf_find(R, a - 512, 512), -1);
	assert_int_equal(blk_reactor_buf_find(R, chk, 512), -1);
	assert_true(blk_reactor_buf_find(R, c + 512, 512) >= 0);
	assert_int_not_equal(blk_reactor_buf_find(R, c, 512), blk_reactor_buf_find(R, a, 512));
	/* A second add by the same owner only counts. */
	assert_int_equal(blk_reactor_buf_add(R, &owner_a, &(struct iovec){ a, 1 << 20 }, 1), 0);
	assert_int_equal(blk_reactor_buf_count(R), 2);
	blk_reactor_buf_del(R, &owner_a);
	assert_true(blk_reactor_buf_find(R, a, 512) >= 0);

	/* Buffered: write from registered memory, read into it. */
	assert_int_equal(blk_file_create("f", &o, &b), 0);
	for (int i = 0; i < (1 << 20); i++)
		a[i] = (char)(i * 13 + 1);
	assert_int_equal(sync_io(b, R, BLK_IO_WRITE, 0, 4096, a, 1 << 20), 0);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, chk, 1 << 20, 4096), 1 << 20);
	assert_memory_equal(chk, a, 1 << 20);
	memset(c, 0, 65536);
	assert_int_equal(sync_io(b, R, BLK_IO_READ, 0, 4096 + 8192, c, 65536), 0);
	assert_memory_equal(c, a + 8192, 65536);
	assert_int_equal(blk_bdev_delete("f"), 0);

	/* O_DIRECT through the same buffers. */
	o.direct = true;
	assert_int_equal(blk_file_create("d", &o, &b), 0);
	memset(c, 0x5a, 65536);
	assert_int_equal(sync_io(b, R, BLK_IO_WRITE, 0, 65536, c, 65536), 0);
	memset(a, 0, 1 << 20);
	assert_int_equal(sync_io(b, R, BLK_IO_READ, 0, 0, a, 1 << 20), 0);
	assert_int_equal(pread(fd, chk, 1 << 20, 0), 1 << 20);
	assert_memory_equal(a, chk, 1 << 20);
	assert_true(all_bytes(a + 65536, 0x5a, 65536));
	close(fd);

	blk_reactor_buf_del(R, &owner_a);
	blk_reactor_buf_del(R, &owner_c);
	assert_int_equal(blk_reactor_buf_count(R), 0);
	assert_int_equal(blk_reactor_buf_find(R, a, 512), -1);
	/* Unregistered memory still works, the ordinary way. */
	assert_int_equal(sync_io(b, R, BLK_IO_READ, 0, 65536, c, 65536), 0);
	assert_true(all_bytes(c, 0x5a, 65536));
	free(a);
	free(c);
	free(chk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_buffered_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_read_at_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixed_buffers, setup, teardown),
	};

	vsl_log_set_level(NULL, VSL_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
