/* vsl_util.h — small helpers shared by every Vessel component.
 *
 * Conventions used throughout Vessel: actions return 0 or -errno, predicates
 * return bool. Nothing here allocates unless it says so.
 */
#ifndef VSL_UTIL_H
#define VSL_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define VSL_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define VSL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VSL_MAX(a, b) ((a) > (b) ? (a) : (b))

#define VSL_VERSION "0.1.0"

/* Returns -errno for the current errno (never 0: -EIO when errno is 0). */
static inline int vsl_neg_errno(void)
{
	return errno ? -errno : -EIO;
}

static inline bool vsl_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* For parsers that explain a refusal: formats the reason into err (when err is
 * not NULL and errlen is not 0) and returns ret, so a check reads
 * "return vsl_errf(err, len, -EINVAL, "cluster_bits %u out of range", b);". */
int vsl_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Parses a size such as "512", "4K", "1.5G", "10T" (binary units K M G T P E,
 * case-insensitive, optional "iB"/"B" suffix, so "4KB" == "4KiB" == 4096) into
 * bytes. No blanks or sign. A fraction needs a unit and is rounded down to whole
 * bytes. Returns 0 or -EINVAL (malformed) / -ERANGE (above UINT64_MAX); *bytes
 * is written only on success. */
int vsl_parse_size(const char *s, uint64_t *bytes);

/* Parses a whole decimal (or 0x hex) unsigned number: no blanks, no sign; a
 * leading 0 is still decimal. Returns 0 or -EINVAL/-ERANGE; *out is written only
 * on success. */
int vsl_parse_u64(const char *s, uint64_t *out);

/* Sets O_NONBLOCK (and FD_CLOEXEC) on fd. Returns 0 or -errno. */
int vsl_fd_set_nonblock(int fd);

/* Writes all of buf to a blocking fd, retrying on EINTR and short writes.
 * Returns 0 or -errno (some bytes may have been written then). */
int vsl_write_all(int fd, const void *buf, size_t len);

/* Reads a whole file into a NUL-terminated heap buffer (free with free()); *len
 * (may be NULL) gets the byte count, not counting the NUL. Works for files whose
 * st_size is 0 (/proc, pipes). Refuses files larger than max_len with -EFBIG.
 * Returns 0 or -errno; on error *buf and *len are untouched. */
int vsl_read_file(const char *path, size_t max_len, char **buf, size_t *len);

/* Writes a file atomically: to a fresh "<path>.tmp" created with `mode` (minus
 * the umask, as for open(2)), fsync, rename over `path`, then fsync of the
 * directory (best effort). Readers see the old or the new contents, never a mix.
 * Returns 0 or -errno; on failure the temporary file is removed and `path` is
 * unchanged. */
int vsl_write_file_atomic(const char *path, const void *buf, size_t len, unsigned mode);

/* Removes a directory and the files directly in it (not recursive: a
 * subdirectory makes the final rmdir fail). Returns 0 or -errno of rmdir. */
int vsl_rmdir_flat(const char *dir);

#endif /* VSL_UTIL_H */
