/* vsl_util.c — number parsing and small file-descriptor helpers. */
#include "vsl_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parsed by hand rather than with strtoull(), which accepts leading blanks,
 * a sign (and silently negates "-1" into 2^64 - 1) and octal: none of those
 * belong in a config value. */
int vsl_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p;

	if (s == NULL || out == NULL)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		p = s + 2;
		if (*p == '\0')
			return -EINVAL;
		for (; *p; p++) {
			int d = hex_value(*p);

			if (d < 0)
				return -EINVAL;
			if (v > UINT64_MAX >> 4)
				return -ERANGE;
			v = v << 4 | (uint64_t)d;
		}
	} else {
		if (*s == '\0')
			return -EINVAL;
		for (p = s; *p; p++) {
			unsigned d = (unsigned)(*p - '0');

			if (!is_digit(*p))
				return -EINVAL;
			if (v > (UINT64_MAX - d) / 10)
				return -ERANGE;
			v = v * 10 + d;
		}
	}
	*out = v;
	return 0;
}

/* floor(num / den * 2^shift) for num < den, without 128-bit arithmetic:
 * binary long division, one quotient bit per step. den <= 10^18, so 2 * rem
 * never overflows. */
static uint64_t frac_scale(uint64_t num, uint64_t den, unsigned int shift)
{
	uint64_t q = 0, rem = num;

	for (unsigned int i = 0; i < shift; i++) {
		rem <<= 1;
		q <<= 1;
		if (rem >= den) {
			rem -= den;
			q |= 1;
		}
	}
	return q;
}

/* Grammar: digits [ "." digits ] [ K|M|G|T|P|E [ "i" ] ] [ "B" ], all letters
 * case-insensitive, nothing else (no blanks, no sign). Units are binary even
 * without "i": storage sizes are never meant in powers of ten here. A
 * fraction needs a unit and the result is rounded down to whole bytes. */
int vsl_parse_size(const char *s, uint64_t *bytes)
{
	static const char units[] = "KMGTPE";
	uint64_t whole = 0, frac = 0, frac_den = 1, result;
	unsigned int shift = 0;
	bool has_frac = false;
	const char *p = s;

	if (s == NULL || bytes == NULL)
		return -EINVAL;
	if (!is_digit(*p))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (whole > (UINT64_MAX - d) / 10)
			return -ERANGE;
		whole = whole * 10 + d;
	}
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return -EINVAL;
		has_frac = true;
		/* Digits past the 18th are validated but not accumulated, which
		 * keeps frac_den within 64 bits; they could move the rounded-down
		 * result by at most one byte, and nobody writes such sizes. */
		for (; is_digit(*p); p++) {
			if (frac_den < 1000000000000000000ull) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				frac_den *= 10;
			}
		}
	}
	if (*p != '\0') {
		const char *u = strchr(units, *p & ~0x20); /* ASCII upper case */

		if (u != NULL && *u != '\0') {
			shift = 10 * (unsigned int)(u - units + 1);
			p++;
			if (*p == 'i' || *p == 'I') {
				p++;
				if (*p != 'b' && *p != 'B')
					return -EINVAL; /* "4Ki" */
			}
		}
		if (*p == 'b' || *p == 'B')
			p++;
		if (*p != '\0')
			return -EINVAL;
	}
	if (has_frac && shift == 0)
		return -EINVAL; /* "1.5" bytes */

	if (shift > 0 && whole > UINT64_MAX >> shift)
		return -ERANGE;
	result = whole << shift;
	if (has_frac) {
		uint64_t extra = frac_scale(frac, frac_den, shift);

		if (result > UINT64_MAX - extra)
			return -ERANGE;
		result += extra;
	}
	*bytes = result;
	return 0;
}

int vsl_fd_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0)
		return -errno;
	if (!(fl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int vsl_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* cannot happen for len > 0; do not spin */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vsl_read_file(const char *path, size_t max_len, char **buf, size_t *len)
{
	struct stat st;
	size_t cap, used = 0;
	char *data;
	int fd, err;

	if (path == NULL || buf == NULL)
		return -EINVAL;
	/* Room for the NUL and for the one probe byte past max_len. */
	if (max_len > SIZE_MAX - 2)
		max_len = SIZE_MAX - 2;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto err_close;
	}
	if (S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		goto err_close;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_len) {
		err = -EFBIG;
		goto err_close;
	}
	/* st_size is only a hint (0 for /proc and pipes; files can grow), so
	 * read until EOF and probe one byte past max_len. */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	if (cap > max_len + 1)
		cap = max_len + 1;
	data = malloc(cap + 1);
	if (data == NULL) {
		err = -ENOMEM;
		goto err_close;
	}
	for (;;) {
		ssize_t n;

		if (used == cap) {
			size_t ncap;
			char *nd;

			if (cap == max_len + 1) {
				err = -EFBIG;
				goto err_free;
			}
			ncap = cap > (max_len + 1) / 2 ? max_len + 1 : cap * 2;
			nd = realloc(data, ncap + 1);
			if (nd == NULL) {
				err = -ENOMEM;
				goto err_free;
			}
			data = nd;
			cap = ncap;
		}
		n = read(fd, data + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto err_free;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > max_len) {
		err = -EFBIG;
		goto err_free;
	}
	close(fd);
	data[used] = '\0';
	*buf = data;
	if (len != NULL)
		*len = used;
	return 0;

err_free:
	free(data);
err_close:
	close(fd);
	return err;
}

/* Best effort: makes the rename itself durable. Some filesystems refuse
 * fsync on a directory; the data is already safe, so that is not an error. */
static void fsync_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL) {
		strcpy(dir, ".");
	} else if (slash == path) {
		strcpy(dir, "/");
	} else {
		size_t n = (size_t)(slash - path);

		if (n >= sizeof(dir))
			return;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)fsync(fd);
	close(fd);
}

int vsl_write_file_atomic(const char *path, const void *buf, size_t len, unsigned mode)
{
	char tmp[PATH_MAX];
	int fd, err, n;

	if (path == NULL || path[0] == '\0' || (buf == NULL && len > 0))
		return -EINVAL;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;

	/* A stale temp file from a crash would keep its old owner and mode
	 * under O_TRUNC; start from a fresh inode so `mode` (minus umask, as
	 * for open(2)) is what the final file gets. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		return -errno;
	err = vsl_write_all(fd, buf, len);
	if (err != 0)
		goto err_unlink;
	/* The data must be on disk before the rename publishes it, or a crash
	 * could leave `path` naming an empty file. */
	if (fsync(fd) < 0) {
		err = -errno;
		goto err_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = -errno;
		goto err_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err = -errno;
		goto err_unlink;
	}
	fsync_parent_dir(path);
	return 0;

err_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return err;
}

int vsl_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int vsl_rmdir_flat(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dp = opendir(dir);

	if (dp) {
		while ((de = readdir(dp))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) <
			    sizeof(path))
				unlink(path);
		}
		closedir(dp);
	}
	return rmdir(dir) ? -errno : 0;
}
