/* test_vsl_util.c — parsers and fd/file helpers. */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vsl_util.h"

static char tmp_dir[] = "/tmp/vsl_util_XXXXXX";

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmp_dir, name);
}

/* Names the failing case on a TAP-safe single line (escapes control bytes). */
static void note_case(const char *s)
{
	char out[128];
	size_t o = 0;

	for (; *s && o + 5 < sizeof(out); s++) {
		if ((unsigned char)*s < 0x20)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", (unsigned)*s);
		else
			out[o++] = *s;
	}
	out[o] = '\0';
	print_message("# case '%s'\n", out);
}

/* ---- vsl_parse_size ---- */

static void test_parse_size_valid(void **state)
{
	static const struct {
		const char *s;
		uint64_t want;
	} cases[] = {
		{ "0", 0 },
		{ "512", 512 },
		{ "4K", 4096 },
		{ "4k", 4096 },
		{ "4KiB", 4096 },
		{ "4kib", 4096 },
		{ "4KB", 4096 },  /* binary, not 4000 */
		{ "4kb", 4096 },
		{ "512B", 512 },
		{ "512b", 512 },
		{ "1M", 1ull << 20 },
		{ "1.5G", 1610612736ull },
		{ "1.5GiB", 1610612736ull },
		{ "10T", 10ull << 40 },
		{ "2P", 2ull << 50 },
		{ "1E", 1ull << 60 },
		{ "15E", 15ull << 60 },
		{ "0.5K", 512 },
		{ "0.25M", 262144 },
		{ "1.1K", 1126 },   /* 1126.4 rounded down */
		{ "0.001K", 1 },    /* 1.024 */
		{ "007K", 7168 },
		{ "1.000000000000000000000001K", 1024 }, /* long fractions accepted */
		{ "18446744073709551615", UINT64_MAX },
		{ "17179869183G", 17179869183ull << 30 },
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		v = 0xdeadbeef;
		rc = vsl_parse_size(cases[i].s, &v);
		if (rc != 0 || v != cases[i].want)
			note_case(cases[i].s);
		assert_int_equal(rc, 0);
		assert_int_equal(v, cases[i].want);
	}
}

static void test_parse_size_invalid(void **state)
{
	static const char *bad[] = {
		"", "-1", "+1", " 1", "1 ", "\t4K", "K", "KiB", "4X", "4KiBx", "4Ki", "4iB",
		"4KK", "4BB", "1.", ".5K", "1..5K", "1.5.K", "1,5K", "0.5", "1.5", "1.5B",
		"0x10", "4 K", "1e3", "1E1", "4K\n",
	};
	uint64_t v = 12345;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = vsl_parse_size(bad[i], &v);

		if (rc != -EINVAL)
			note_case(bad[i]);
		assert_int_equal(rc, -EINVAL);
		assert_int_equal(v, 12345); /* untouched on error */
	}
	assert_int_equal(vsl_parse_size(NULL, &v), -EINVAL);
	assert_int_equal(vsl_parse_size("1", NULL), -EINVAL);
}

static void test_parse_size_range(void **state)
{
	static const char *big[] = {
		"18446744073709551616", "99999999999999999999999", "16E", "16.0E", "16384P",
		"17179869184G",
	};
	uint64_t v = 12345;

	(void)state;
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		int rc = vsl_parse_size(big[i], &v);

		if (rc != -ERANGE)
			note_case(big[i]);
		assert_int_equal(rc, -ERANGE);
		assert_int_equal(v, 12345);
	}
	/* Just below the limit, with a fraction. */
	assert_int_equal(vsl_parse_size("15.5E", &v), 0);
	assert_int_equal(v, 31ull << 59);
	assert_int_equal(vsl_parse_size("15.999999999999999999E", &v), 0);
	assert_true(v > (15ull << 60) && v < UINT64_MAX);
}

/* ---- vsl_parse_u64 ---- */

static void test_parse_u64(void **state)
{
	static const struct {
		const char *s;
		uint64_t want;
	} ok[] = {
		{ "0", 0 },
		{ "42", 42 },
		{ "007", 7 }, /* decimal, not octal */
		{ "0x0", 0 },
		{ "0xff", 255 },
		{ "0XFF", 255 },
		{ "0xDeadBeef", 0xdeadbeef },
		{ "0x0000000000000000000001", 1 },
		{ "18446744073709551615", UINT64_MAX },
		{ "0xFFFFFFFFFFFFFFFF", UINT64_MAX },
	};
	static const char *bad[] = {
		"", "0x", "-1", "+1", " 1", "1 ", "12a", "0x1g", "1e3", "x10", "0b101", "1.0",
		"1K", "0x-1", "\n",
	};
	static const char *range[] = {
		"18446744073709551616", "99999999999999999999", "0x10000000000000000",
		"0x1FFFFFFFFFFFFFFFF",
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 12345;
		assert_int_equal(vsl_parse_u64(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		v = 12345;
		rc = vsl_parse_u64(bad[i], &v);
		if (rc != -EINVAL)
			note_case(bad[i]);
		assert_int_equal(rc, -EINVAL);
		assert_int_equal(v, 12345);
	}
	for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
		v = 12345;
		assert_int_equal(vsl_parse_u64(range[i], &v), -ERANGE);
		assert_int_equal(v, 12345);
	}
	assert_int_equal(vsl_parse_u64(NULL, &v), -EINVAL);
	assert_int_equal(vsl_parse_u64("1", NULL), -EINVAL);
}

/* ---- fd helpers ---- */

static void test_fd_set_nonblock(void **state)
{
	int p[2];
	char c;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_false(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_false(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(vsl_fd_set_nonblock(p[0]), 0);
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
	/* Idempotent, and it really does not block. */
	assert_int_equal(vsl_fd_set_nonblock(p[0]), 0);
	assert_int_equal(read(p[0], &c, 1), -1);
	assert_int_equal(errno, EAGAIN);
	/* The other end is untouched. */
	assert_false(fcntl(p[1], F_GETFL) & O_NONBLOCK);
	close(p[0]);
	close(p[1]);
	assert_int_equal(vsl_fd_set_nonblock(p[0]), -EBADF);
	assert_int_equal(vsl_fd_set_nonblock(-1), -EBADF);
}

struct reader {
	int fd;
	uint8_t *buf;
	size_t len;
	size_t got;
};

/* Reads in small pieces so the writer sees a full pipe and short writes. */
static void *reader_main(void *arg)
{
	struct reader *r = arg;

	for (;;) {
		size_t want = r->len - r->got < 1000 ? r->len - r->got : 1000;
		ssize_t n = read(r->fd, r->buf + r->got, want ? want : 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		r->got += (size_t)n;
	}
	return NULL;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* 4 MiB through a 64 KiB pipe while a 1 ms interval timer interrupts the
 * writer: exercises both short writes and EINTR. */
static void test_write_all_pipe(void **state)
{
	const size_t len = 4u << 20;
	uint8_t *src = malloc(len), *dst = malloc(len);
	struct sigaction sa = { .sa_handler = on_alarm }, old_sa;
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct reader r;
	pthread_t th;
	sigset_t block;
	int p[2];

	(void)state;
	assert_non_null(src);
	assert_non_null(dst);
	for (size_t i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_int_equal(pipe(p), 0);
	r = (struct reader){ .fd = p[0], .buf = dst, .len = len };

	/* Only the writing (main) thread takes SIGALRM. */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &block, NULL), 0);
	assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);
	assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &block, NULL), 0);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: write() must see EINTR */
	assert_int_equal(sigaction(SIGALRM, &sa, &old_sa), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);

	int rc = vsl_write_all(p[1], src, len);

	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old_sa, NULL);
	close(p[1]);
	assert_int_equal(pthread_join(th, NULL), 0);
	close(p[0]);
	assert_int_equal(rc, 0);
	assert_int_equal(r.got, len);
	assert_memory_equal(dst, src, len);
	free(src);
	free(dst);
}

static void test_write_all_errors(void **state)
{
	int p[2];
	void (*old)(int);

	(void)state;
	assert_int_equal(vsl_write_all(-1, "x", 1), -EBADF);
	assert_int_equal(vsl_write_all(-1, NULL, 0), 0); /* nothing to do */
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	old = signal(SIGPIPE, SIG_IGN);
	assert_int_equal(vsl_write_all(p[1], "x", 1), -EPIPE);
	signal(SIGPIPE, old);
	close(p[1]);
}

/* ---- vsl_read_file ---- */

static void write_raw(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_read_file(void **state)
{
	char path[256];
	char *buf = NULL;
	size_t len = 0;
	static const char text[] = "hello\nworld\n";

	(void)state;
	tmp_path(path, sizeof(path), "read.txt");
	write_raw(path, text, strlen(text));
	assert_int_equal(vsl_read_file(path, 1024, &buf, &len), 0);
	assert_int_equal(len, strlen(text));
	assert_string_equal(buf, text);
	free(buf);

	/* Exactly max_len is fine, one byte more is not. */
	assert_int_equal(vsl_read_file(path, strlen(text), &buf, NULL), 0);
	assert_string_equal(buf, text);
	free(buf);
	buf = (char *)0x1;
	len = 777;
	assert_int_equal(vsl_read_file(path, strlen(text) - 1, &buf, &len), -EFBIG);
	assert_ptr_equal(buf, (char *)0x1);
	assert_int_equal(len, 777);

	/* Empty file: an empty string, not NULL. */
	write_raw(path, "", 0);
	assert_int_equal(vsl_read_file(path, 0, &buf, &len), 0);
	assert_non_null(buf);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], '\0');
	free(buf);

	/* Binary content with NULs survives; len tells the real size. */
	uint8_t *big = malloc(300000);
	assert_non_null(big);
	for (size_t i = 0; i < 300000; i++)
		big[i] = (uint8_t)(i % 251);
	write_raw(path, big, 300000);
	assert_int_equal(vsl_read_file(path, 300000, &buf, &len), 0);
	assert_int_equal(len, 300000);
	assert_memory_equal(buf, big, 300000);
	assert_int_equal(buf[300000], '\0');
	free(buf);
	free(big);
	unlink(path);

	buf = (char *)0x1;
	assert_int_equal(vsl_read_file("/nonexistent/file", 10, &buf, &len), -ENOENT);
	assert_ptr_equal(buf, (char *)0x1);
	assert_int_equal(vsl_read_file(tmp_dir, 10, &buf, &len), -EISDIR);
	assert_int_equal(vsl_read_file(NULL, 10, &buf, &len), -EINVAL);
}

/* /proc files report st_size 0: the size must come from reading. */
static void test_read_file_proc(void **state)
{
	char *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(vsl_read_file("/proc/self/status", 1 << 20, &buf, &len), 0);
	assert_true(len > 100);
	assert_int_equal(strlen(buf), len);
	assert_non_null(strstr(buf, "Name:"));
	free(buf);
	/* Larger than max_len, found only while reading. */
	assert_int_equal(vsl_read_file("/proc/self/status", 10, &buf, &len), -EFBIG);
}

/* ---- vsl_write_file_atomic ---- */

static void check_file(const char *path, const char *want, mode_t mode)
{
	struct stat st;
	char *buf;
	size_t len;

	assert_int_equal(vsl_read_file(path, 1 << 20, &buf, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(buf, want);
	free(buf);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, mode);
}

static void test_write_file_atomic(void **state)
{
	char path[256], tmp[300];
	mode_t old_umask = umask(022);

	(void)state;
	tmp_path(path, sizeof(path), "cfg.json");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	assert_int_equal(vsl_write_file_atomic(path, "{\"a\":1}\n", 8, 0640), 0);
	check_file(path, "{\"a\":1}\n", 0640);
	assert_int_equal(access(tmp, F_OK), -1);

	/* Replaces existing content entirely (shorter than before). */
	assert_int_equal(vsl_write_file_atomic(path, "{}", 2, 0640), 0);
	check_file(path, "{}", 0640);

	/* A stale temp file (crash leftover, wrong mode) does not leak its mode. */
	write_raw(tmp, "garbage", 7);
	assert_int_equal(chmod(tmp, 0600), 0);
	assert_int_equal(vsl_write_file_atomic(path, "new", 3, 0644), 0);
	check_file(path, "new", 0644);
	assert_int_equal(access(tmp, F_OK), -1);

	/* umask applies as for open(2). */
	assert_int_equal(vsl_write_file_atomic(path, "", 0, 0666), 0);
	check_file(path, "", 0644);
	unlink(path);

	/* Failure paths leave no temp file behind. */
	assert_int_equal(vsl_write_file_atomic("/nonexistent-dir/x", "a", 1, 0644), -ENOENT);
	tmp_path(path, sizeof(path), "adir");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(vsl_write_file_atomic(path, "a", 1, 0644), -EISDIR);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(rmdir(path), 0);

	assert_int_equal(vsl_write_file_atomic(NULL, "a", 1, 0644), -EINVAL);
	assert_int_equal(vsl_write_file_atomic("", "a", 1, 0644), -EINVAL);
	char longp[PATH_MAX + 8];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(vsl_write_file_atomic(longp, "a", 1, 0644), -ENAMETOOLONG);
	umask(old_umask);
}

/* A bare file name lives in the current directory (the dir fsync uses "."). */
static void test_write_file_atomic_relative(void **state)
{
	char cwd[PATH_MAX];

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmp_dir), 0);
	int rc = vsl_write_file_atomic("rel.txt", "rel", 3, 0600);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);

	char path[256];
	tmp_path(path, sizeof(path), "rel.txt");
	check_file(path, "rel", 0600);
	unlink(path);
}

static void test_macros(void **state)
{
	struct outer {
		int a;
		long b;
	} o;
	int arr[7];

	(void)state;
	assert_int_equal(VSL_ARRAY_SIZE(arr), 7);
	assert_ptr_equal(VSL_CONTAINER_OF(&o.b, struct outer, b), &o);
	assert_int_equal(VSL_MIN(3, 5), 3);
	assert_int_equal(VSL_MAX(3, 5), 5);
	errno = 0;
	assert_int_equal(vsl_neg_errno(), -EIO);
	errno = ENOENT;
	assert_int_equal(vsl_neg_errno(), -ENOENT);
}

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

/* vsl_rmdir_flat removes the files in a directory, then the directory; a
 * subdirectory makes it fail with rmdir's errno, a missing one with ENOENT. */
static void test_rmdir_flat(void **state)
{
	char dir[256], path[300];

	(void)state;
	tmp_path(dir, sizeof(dir), "flat");
	assert_int_equal(mkdir(dir, 0700), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		assert_int_equal(vsl_write_file_atomic(path, "x", 1, 0600), 0);
	}
	assert_int_equal(vsl_rmdir_flat(dir), 0);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(vsl_rmdir_flat(dir), -ENOENT);

	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(vsl_rmdir_flat(dir), -ENOTEMPTY);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(vsl_rmdir_flat(dir), 0);
}

static int group_teardown(void **state)
{
	(void)state;
	return rmdir(tmp_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_valid),
		cmocka_unit_test(test_parse_size_invalid),
		cmocka_unit_test(test_parse_size_range),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_fd_set_nonblock),
		cmocka_unit_test(test_write_all_pipe),
		cmocka_unit_test(test_write_all_errors),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_read_file_proc),
		cmocka_unit_test(test_write_file_atomic),
		cmocka_unit_test(test_write_file_atomic_relative),
		cmocka_unit_test(test_macros),
		cmocka_unit_test(test_rmdir_flat),
	};

	return cmocka_run_group_tests_name("vsl_util", tests, group_setup, group_teardown);
}
