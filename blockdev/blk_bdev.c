/* blk_bdev.c — the bdev core: registry, open/claim/close, submission checks,
 * completion accounting. See blockdev.h for the contract. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "blk_internal.h"
#include "vsl_log.h"
#include "vsl_time.h"
#include "vsl_util.h"

VSL_LOG_MODULE(bdev);

/* Control thread only. */
static struct blk_bdev *bdev_head, *bdev_tail;

/* ---------------------------------------------------------------- helpers */

bool blk_bdev_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= BLK_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == ':'))
			return false;
	}
	return true;
}

bool blk_block_size_valid(uint32_t bs)
{
	return bs >= 512 && bs <= 65536 && (bs & (bs - 1)) == 0;
}

size_t blk_iov_to_buf(const struct iovec *iov, int iovcnt, size_t skip, void *buf, size_t len)
{
	size_t done = 0;

	for (int i = 0; i < iovcnt && done < len; i++) {
		size_t n = iov[i].iov_len;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		n = VSL_MIN(n - skip, len - done);
		memcpy((char *)buf + done, (char *)iov[i].iov_base + skip, n);
		done += n;
		skip = 0;
	}
	return done;
}

size_t blk_buf_to_iov(const struct iovec *iov, int iovcnt, size_t skip, const void *buf,
		      size_t len)
{
	size_t done = 0;

	for (int i = 0; i < iovcnt && done < len; i++) {
		size_t n = iov[i].iov_len;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		n = VSL_MIN(n - skip, len - done);
		memcpy((char *)iov[i].iov_base + skip, (const char *)buf + done, n);
		done += n;
		skip = 0;
	}
	return done;
}

void blk_iov_zero(const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

/* Bucket b covers [lower(b), lower(b+1)): b < 4 is exact, then 4 linear steps
 * per power of two, so percentiles are within 25% — enough to compare runs. */
unsigned blk_lat_bucket(uint64_t v)
{
	unsigned msb, b;

	if (v < 4)
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	b = 4 * (msb - 1) + (unsigned)((v >> (msb - 2)) & 3);
	return b < BLK_LAT_BUCKETS ? b : BLK_LAT_BUCKETS - 1;
}

uint64_t blk_lat_bucket_low(unsigned b)
{
	if (b < 4)
		return b;
	return (uint64_t)(4 + b % 4) << (b / 4 - 1);
}

/* ------------------------------------------------------------- properties */

const char *blk_bdev_name(const struct blk_bdev *b) { return b->name; }
const char *blk_bdev_type(const struct blk_bdev *b) { return b->ops->type; }
uint32_t blk_bdev_block_size(const struct blk_bdev *b) { return b->block_size; }
uint64_t blk_bdev_block_count(const struct blk_bdev *b) { return b->block_count; }
uint64_t blk_bdev_size(const struct blk_bdev *b) { return b->block_count << b->block_shift; }
uint32_t blk_bdev_caps(const struct blk_bdev *b) { return b->caps; }
const uint8_t *blk_bdev_uuid(const struct blk_bdev *b) { return b->uuid; }
unsigned blk_bdev_refs(const struct blk_bdev *b) { return b->refs; }
unsigned blk_bdev_users(const struct blk_bdev *b) { return b->users; }
struct blk_bdev *blk_bdev_base(const struct blk_bdev *b) { return b->base; }

const char *blk_bdev_claimed_by(const struct blk_bdev *b)
{
	return b->claimed_by[0] ? b->claimed_by : NULL;
}

char *blk_bdev_uuid_str(const struct blk_bdev *b, char *buf)
{
	const uint8_t *u = b->uuid;

	sprintf(buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
		u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		u[14], u[15]);
	return buf;
}

/* --------------------------------------------------------------- registry */

int blk_bdev_init(struct blk_bdev *b, const char *name, const struct blk_bdev_ops *ops,
		  uint32_t block_size, uint64_t block_count)
{
	if (!blk_bdev_name_valid(name) || !blk_block_size_valid(block_size) || block_count == 0 ||
	    ops->ctx_size > BLK_IO_CTX_MAX)
		return -EINVAL;
	/* Sizes stay below 2^63 bytes so offset + len never wraps. */
	if (block_count > (UINT64_MAX >> 1) / block_size)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->ops = ops;
	b->block_size = block_size;
	b->block_shift = (uint32_t)__builtin_ctz(block_size);
	b->block_count = block_count;
	b->stats = aligned_alloc(64, sizeof(*b->stats) * BLK_MAX_REACTORS);
	if (!b->stats)
		return -ENOMEM;
	memset(b->stats, 0, sizeof(*b->stats) * BLK_MAX_REACTORS);
	if (getrandom(b->uuid, sizeof(b->uuid), 0) != sizeof(b->uuid)) {
		for (size_t i = 0; i < sizeof(b->uuid); i++)
			b->uuid[i] = (uint8_t)(vsl_time_mono_ns() >> (i % 8));
	}
	b->uuid[6] = (b->uuid[6] & 0x0f) | 0x40;
	b->uuid[8] = (b->uuid[8] & 0x3f) | 0x80;
	b->created_ns = b->last_stats_ns = vsl_time_mono_ns();
	return 0;
}

void blk_bdev_fini(struct blk_bdev *b)
{
	free(b->stats);
	b->stats = NULL;
}

struct blk_bdev *blk_bdev_find(const char *name)
{
	for (struct blk_bdev *b = bdev_head; b; b = b->next)
		if (!strcmp(b->name, name))
			return b;
	return NULL;
}

struct blk_bdev *blk_bdev_next(const struct blk_bdev *b)
{
	return b ? b->next : bdev_head;
}

int blk_bdev_register(struct blk_bdev *b)
{
	if (blk_bdev_find(b->name))
		return -EEXIST;
	b->next = NULL;
	if (bdev_tail)
		bdev_tail->next = b;
	else
		bdev_head = b;
	bdev_tail = b;
	VSL_INFO("bdev %s: %s, %" PRIu64 " blocks of %u bytes", b->name, b->ops->type,
		 b->block_count, b->block_size);
	return 0;
}

int blk_bdev_open(const char *name, const char *claim, struct blk_bdev **out)
{
	struct blk_bdev *b = blk_bdev_find(name);

	if (!b)
		return -ENOENT;
	/* A claim excludes every other consumer: another claim and the shared
	 * users (exports) alike. Internal references do not count. */
	if (b->claimed_by[0] || (claim && b->users))
		return -EBUSY;
	if (claim)
		snprintf(b->claimed_by, sizeof(b->claimed_by), "%s", claim);
	else
		b->users++;
	b->refs++;
	*out = b;
	return 0;
}

void blk_bdev_close(struct blk_bdev *b, bool claimed)
{
	if (claimed)
		b->claimed_by[0] = '\0';
	else
		b->users--;
	b->refs--;
}

void blk_bdev_ref(struct blk_bdev *b)
{
	b->refs++;
}

void blk_bdev_unref(struct blk_bdev *b)
{
	b->refs--;
}

int blk_bdev_open_claimed(const char *const *names, unsigned n, const char *claim,
			  struct blk_bdev **out, unsigned *bad)
{
	unsigned i;
	int ret = 0;

	if (n == 0 || !claim)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		for (unsigned k = 0; k < i; k++) {
			if (!strcmp(names[k], names[i])) {
				ret = -EINVAL;
				goto err_close;
			}
		}
		ret = blk_bdev_open(names[i], claim, &out[i]);
		if (ret)
			goto err_close;
	}
	return 0;

err_close:
	if (bad)
		*bad = i;
	while (i-- > 0) {
		blk_bdev_close(out[i], true);
		out[i] = NULL;
	}
	return ret;
}

void blk_bdev_close_claimed(struct blk_bdev **bdevs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (bdevs[i])
			blk_bdev_close(bdevs[i], true);
}

static void bdev_unlink(struct blk_bdev *b)
{
	struct blk_bdev **pp = &bdev_head, *prev = NULL;

	while (*pp && *pp != b) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = b->next;
	if (bdev_tail == b)
		bdev_tail = prev;
}

static void bdev_destroy(struct blk_bdev *b)
{
	struct blk_bdev *base = b->base;

	VSL_INFO("bdev %s deleted", b->name);
	bdev_unlink(b);
	b->ops->destroy(b);     /* frees b */
	if (base)
		blk_bdev_close(base, true);
}

int blk_bdev_delete(const char *name)
{
	struct blk_bdev *b = blk_bdev_find(name);

	if (!b)
		return -ENOENT;
	if (b->refs || (b->ops->busy && b->ops->busy(b)))
		return -EBUSY;
	bdev_destroy(b);
	return 0;
}

void blk_bdev_shutdown_all(void)
{
	unsigned n = 0, i = 0;
	struct blk_bdev **all;

	for (struct blk_bdev *b = bdev_head; b; b = b->next)
		n++;
	all = calloc(n ? n : 1, sizeof(*all));
	if (!all)
		return;
	for (struct blk_bdev *b = bdev_head; b; b = b->next)
		all[i++] = b;
	while (i-- > 0)
		if (all[i]->ops->shutdown)
			all[i]->ops->shutdown(all[i]);
	free(all);
}

void blk_bdev_delete_all(void)
{
	/* Newest first: what stacks on a bdev was created after it. */
	while (bdev_tail) {
		struct blk_bdev *b = bdev_tail;

		if (b->refs)
			VSL_WARN("bdev %s still has %u users at shutdown", b->name, b->refs);
		bdev_destroy(b);
	}
}

/* ------------------------------------------------------------------- I/O */

static int check_range(const struct blk_bdev *b, uint64_t offset, uint64_t len)
{
	uint64_t mask = b->block_size - 1;

	if ((offset | len) & mask)
		return -EINVAL;
	if (offset > blk_bdev_size(b) || len > blk_bdev_size(b) - offset)
		return -ERANGE;
	return 0;
}

int blk_bdev_submit(struct blk_bdev *b, struct blk_reactor *r, enum blk_io_type type,
		    uint32_t flags, uint64_t offset, uint64_t len, const struct iovec *iov,
		    int iovcnt, blk_io_cb cb, void *arg)
{
	struct blk_io *io;
	uint64_t total = 0;
	int ret;

	if (!b || !r || !cb || (flags & ~BLK_IO_F_FUA))
		return -EINVAL;
	switch (type) {
	case BLK_IO_READ:
	case BLK_IO_WRITE:
		if (!iov || iovcnt <= 0 || len == 0)
			return -EINVAL;
		for (int i = 0; i < iovcnt; i++)
			total += iov[i].iov_len;
		if (total != len)
			return -EINVAL;
		if ((flags & BLK_IO_F_FUA) && !(b->caps & BLK_CAP_FUA))
			return -ENOTSUP;
		break;
	case BLK_IO_FLUSH:
		if (!(b->caps & BLK_CAP_FLUSH))
			return -ENOTSUP;
		offset = len = 0;
		break;
	case BLK_IO_DISCARD:
	case BLK_IO_WRITE_ZEROES:
		if (!(b->caps & (type == BLK_IO_DISCARD ? BLK_CAP_DISCARD : BLK_CAP_WRITE_ZEROES)))
			return -ENOTSUP;
		if (len == 0)
			return -EINVAL;
		iov = NULL;
		iovcnt = 0;
		break;
	default:
		return -EINVAL;
	}
	if (type != BLK_IO_FLUSH) {
		ret = check_range(b, offset, len);
		if (ret)
			return ret;
	}
	io = blk_reactor_io_get(r);
	if (!io)
		return -ENOMEM;
	io->bdev = b;
	io->reactor = r;
	io->type = type;
	io->flags = flags;
	io->offset = offset;
	io->len = len;
	io->iov = iov;
	io->iovcnt = iovcnt;
	io->status = 0;
	io->cb = cb;
	io->cb_arg = arg;
	io->start_tsc = vsl_cycles();
	ret = b->ops->submit(io);
	if (ret)
		blk_reactor_io_put(r, io);
	return ret;
}

static inline void stat_add(_Atomic uint64_t *p, uint64_t v)
{
	/* Single writer (this reactor): a plain add published with a relaxed store
	 * is enough for the control thread's relaxed loads. */
	atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

void blk_io_account(struct blk_io *io)
{
	struct blk_bdev_stats *st = &io->bdev->stats[blk_reactor_id(io->reactor)];

	if (io->status) {
		stat_add(&st->errors, 1);
		return;
	}
	stat_add(&st->ops[io->type], 1);
	stat_add(&st->bytes[io->type], io->len);
	stat_add(&st->lat[blk_lat_bucket(vsl_cycles() - io->start_tsc)], 1);
}

void blk_io_complete(struct blk_io *io, int status)
{
	io->status = status;
	blk_reactor_io_done(io->reactor, io);
}
