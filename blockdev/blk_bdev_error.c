/* blk_bdev_error.c — fault injection on top of any bdev.
 *
 * Injections (blk_error_inject(), RPC `error-inject`):
 *   - fail the Nth matching I/O from now, and the next fail_count-1 after it;
 *   - fail every matching I/O that touches a block range;
 *   - power cut, in three steps: ARM, any workload, CUT.
 *
 * Power cut, exactly. While armed, writes (and discards, write-zeroes) do not
 * reach the base: each written block becomes a new *version* in an in-memory
 * shadow, tagged with a sequence number taken at submission. Reads read the
 * base and then lay the newest version of each block over it. A FLUSH, when
 * submitted, makes every version submitted before it durable (durable_seq =
 * the last sequence number): since versions are stored before their write
 * completes, the flush covers at least every write completed before it was
 * issued, which is what NBD and virtio promise, and nothing submitted after it.
 * A FUA write's version is durable by itself. CUT then keeps, for each block,
 * the newest durable version (or the base when there is none) and forgets the
 * newer ones: the device shows exactly what a disk with a volatile cache shows
 * after losing power in the worst case. The device stays armed after a cut, so
 * the post-crash state can be read, checked and written again.
 *
 * To cut at an exact point of a workload, die_after_flush = N makes the device
 * "lose power" right after acknowledging the Nth flush from then on: every
 * later I/O fails with EIO until CUT, so nothing after that flush is accepted.
 *
 * Versions older than a block's newest durable one can never be needed again
 * and are freed when the block is next written, and all at once when the
 * shadow is full; a write that still does not fit fails with ENOSPC. The shadow
 * is preallocated at ARM (shadow_size bytes of blocks), so the armed data path
 * does not allocate either. DISARM needs an empty shadow: data written while
 * armed lives only in the shadow (copy it out through the bdev to keep it).
 *
 * Threading: one mutex guards the injection state and the shadow. This is a
 * test device; a lock per I/O is an accepted cost here, unlike in real bdevs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "blk_internal.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(bdev_error);

enum { SHADOW_DEFAULT = 64 << 20 };

struct err_ver {
	uint64_t lba;
	uint64_t seq;
	int32_t older;      /* older version of the same block, or -1 */
	int32_t hnext;      /* next block in the hash chain (newest versions), or free list */
	bool fua;
	bool zero;          /* reads as zeroes; data not stored */
};

struct blk_error {
	struct blk_bdev bdev;
	pthread_mutex_t lock;
	int err;                       /* positive errno injected */
	uint64_t nth_left, fail_left, fail_count;
	enum blk_error_io nth_io;
	bool range_on;
	enum blk_error_io range_io;
	uint64_t range_start, range_blocks;
	uint64_t injected;             /* failures returned so far */
	/* Power cut. */
	bool armed;
	uint64_t seq, durable_seq;
	struct err_ver *vers;
	unsigned char *data;           /* nvers * block_size */
	size_t data_size;
	uint32_t nvers, nfree;
	int32_t free_head;
	int32_t *buckets;
	uint32_t nbuckets;             /* power of two */
	uint64_t cuts, dropped;
	uint64_t die_after;            /* flushes left before the device dies; 0 off */
	bool dead;                     /* powered off: everything fails until CUT */
};

static bool io_matches(enum blk_error_io sel, enum blk_io_type t)
{
	switch (sel) {
	case BLK_ERR_IO_ANY:
		return true;
	case BLK_ERR_IO_READ:
		return t == BLK_IO_READ;
	case BLK_ERR_IO_WRITE:
		return t == BLK_IO_WRITE || t == BLK_IO_DISCARD || t == BLK_IO_WRITE_ZEROES;
	case BLK_ERR_IO_FLUSH:
		return t == BLK_IO_FLUSH;
	}
	return false;
}

/* Under e->lock: whether this I/O is to fail. */
static bool should_fail(struct blk_error *e, const struct blk_io *io)
{
	bool fail = false;

	if (io_matches(e->nth_io, io->type) && (e->nth_left || e->fail_left)) {
		if (e->nth_left && --e->nth_left == 0)
			e->fail_left = e->fail_count;
		if (e->fail_left) {
			e->fail_left--;
			fail = true;
		}
	}
	if (!fail && e->range_on && io->type != BLK_IO_FLUSH && io_matches(e->range_io, io->type)) {
		uint64_t first = io->offset >> e->bdev.block_shift;
		uint64_t last = first + (io->len >> e->bdev.block_shift);   /* exclusive */

		fail = first < e->range_start + e->range_blocks && e->range_start < last;
	}
	if (fail)
		e->injected++;
	return fail;
}

/* ------------------------------------------------------------ the shadow */

static inline uint32_t hash_lba(const struct blk_error *e, uint64_t lba)
{
	return (uint32_t)((lba * 0x9E3779B97F4A7C15ull) >> 32) & (e->nbuckets - 1);
}

static inline unsigned char *ver_data(struct blk_error *e, int32_t v)
{
	return e->data + (size_t)v * e->bdev.block_size;
}

static inline bool ver_durable(const struct blk_error *e, const struct err_ver *v)
{
	return v->fua || v->seq <= e->durable_seq;
}

/* The slot holding lba's newest version, or NULL; *pp is the link to it. */
static int32_t *shadow_find(struct blk_error *e, uint64_t lba)
{
	int32_t *pp = &e->buckets[hash_lba(e, lba)];

	while (*pp >= 0 && e->vers[*pp].lba != lba)
		pp = &e->vers[*pp].hnext;
	return *pp >= 0 ? pp : NULL;
}

static void ver_free(struct blk_error *e, int32_t v)
{
	e->vers[v].hnext = e->free_head;
	e->free_head = v;
	e->nfree++;
}

/* Frees the versions older than the newest durable one of the chain at v. */
static void chain_prune(struct blk_error *e, int32_t v)
{
	while (v >= 0 && !ver_durable(e, &e->vers[v]))
		v = e->vers[v].older;
	if (v < 0)
		return;
	for (int32_t o = e->vers[v].older; o >= 0;) {
		int32_t next = e->vers[o].older;

		ver_free(e, o);
		o = next;
	}
	e->vers[v].older = -1;
}

static void shadow_prune_all(struct blk_error *e)
{
	for (uint32_t b = 0; b < e->nbuckets; b++)
		for (int32_t v = e->buckets[b]; v >= 0; v = e->vers[v].hnext)
			chain_prune(e, v);
}

/* Adds a new newest version of lba; data NULL means zeroes. */
static void shadow_put(struct blk_error *e, uint64_t lba, const struct blk_io *io, size_t skip,
		       bool zero)
{
	int32_t *pp = shadow_find(e, lba), v = e->free_head;
	struct err_ver *nv = &e->vers[v];

	e->free_head = nv->hnext;
	e->nfree--;
	nv->lba = lba;
	nv->seq = e->seq;
	nv->fua = io->flags & BLK_IO_F_FUA;
	nv->zero = zero;
	if (!zero)
		blk_iov_to_buf(io->iov, io->iovcnt, skip, ver_data(e, v), e->bdev.block_size);
	if (pp) {
		/* Replace the chain head in place: the new version links to it. */
		int32_t old = *pp;

		nv->older = old;
		nv->hnext = e->vers[old].hnext;
		e->vers[old].hnext = -1;
		*pp = v;
		chain_prune(e, v);
	} else {
		uint32_t h = hash_lba(e, lba);

		nv->older = -1;
		nv->hnext = e->buckets[h];
		e->buckets[h] = v;
	}
}

/* Under the lock: stores a write-class I/O in the shadow. Returns 0 or -ENOSPC. */
static int shadow_write(struct blk_error *e, struct blk_io *io)
{
	uint64_t first = io->offset >> e->bdev.block_shift;
	uint64_t n = io->len >> e->bdev.block_shift;

	if (n > e->nfree)
		shadow_prune_all(e);
	if (n > e->nfree)
		return -ENOSPC;
	e->seq++;
	for (uint64_t i = 0; i < n; i++)
		shadow_put(e, first + i, io, (size_t)(i << e->bdev.block_shift),
			   io->type != BLK_IO_WRITE);
	return 0;
}

/* Under the lock: lays the newest versions over a read the base served. */
static void shadow_read_overlay(struct blk_error *e, struct blk_io *io)
{
	uint64_t first = io->offset >> e->bdev.block_shift;
	uint64_t n = io->len >> e->bdev.block_shift;
	uint32_t bs = e->bdev.block_size;

	if (e->nfree == e->nvers)
		return;
	for (uint64_t i = 0; i < n; i++) {
		int32_t *pp = shadow_find(e, first + i);
		int32_t v;

		if (!pp)
			continue;
		v = *pp;
		if (e->vers[v].zero) {
			static const unsigned char zeroes[4096];

			for (uint32_t done = 0; done < bs; done += sizeof(zeroes))
				blk_buf_to_iov(io->iov, io->iovcnt, (size_t)(i * bs) + done, zeroes,
					       VSL_MIN(sizeof(zeroes), bs - done));
		} else {
			blk_buf_to_iov(io->iov, io->iovcnt, (size_t)(i * bs), ver_data(e, v), bs);
		}
	}
}

/* Under the lock: forgets every version not covered by a completed flush. */
static void shadow_cut(struct blk_error *e)
{
	for (uint32_t b = 0; b < e->nbuckets; b++) {
		int32_t *pp = &e->buckets[b];

		while (*pp >= 0) {
			int32_t v = *pp, hnext = e->vers[v].hnext;

			while (v >= 0 && !ver_durable(e, &e->vers[v])) {
				int32_t older = e->vers[v].older;

				ver_free(e, v);
				e->dropped++;
				v = older;
			}
			if (v >= 0) {
				e->vers[v].hnext = hnext;
				*pp = v;
				pp = &e->vers[v].hnext;
			} else {
				*pp = hnext;
			}
		}
	}
	e->cuts++;
}

static void shadow_free(struct blk_error *e)
{
	if (e->data)
		munmap(e->data, e->data_size);
	free(e->vers);
	free(e->buckets);
	e->data = NULL;
	e->vers = NULL;
	e->buckets = NULL;
	e->nvers = e->nfree = e->nbuckets = 0;
	e->armed = false;
}

static int shadow_alloc(struct blk_error *e, uint64_t bytes)
{
	uint64_t n = (bytes ? bytes : SHADOW_DEFAULT) / e->bdev.block_size;

	if (n == 0 || n > INT32_MAX / 2)
		return -EINVAL;
	e->nvers = (uint32_t)n;
	e->nbuckets = 1;
	while (e->nbuckets < e->nvers)
		e->nbuckets <<= 1;
	e->vers = calloc(n, sizeof(*e->vers));
	e->buckets = malloc(sizeof(*e->buckets) * e->nbuckets);
	e->data_size = (size_t)n * e->bdev.block_size;
	e->data = mmap(NULL, e->data_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (e->data == MAP_FAILED)
		e->data = NULL;
	if (!e->vers || !e->buckets || !e->data) {
		shadow_free(e);
		return -ENOMEM;
	}
	memset(e->buckets, 0xff, sizeof(*e->buckets) * e->nbuckets);
	e->free_head = -1;
	e->nfree = 0;
	for (uint32_t i = e->nvers; i-- > 0;)
		ver_free(e, (int32_t)i);
	e->seq = e->durable_seq = 0;
	e->armed = true;
	return 0;
}

/* -------------------------------------------------------------- data path */

static void base_done(void *arg, int status)
{
	struct blk_io *io = arg;
	struct blk_error *e = io->bdev->priv;

	if (status == 0 && io->type == BLK_IO_READ) {
		pthread_mutex_lock(&e->lock);
		if (e->armed)
			shadow_read_overlay(e, io);
		pthread_mutex_unlock(&e->lock);
	}
	blk_io_complete(io, status);
}

static int error_submit(struct blk_io *io)
{
	struct blk_error *e = io->bdev->priv;
	struct blk_bdev *base = e->bdev.base;
	int ret = 0;

	pthread_mutex_lock(&e->lock);
	if (e->dead) {
		ret = -EIO;
		goto complete;
	}
	if (should_fail(e, io)) {
		ret = -e->err;
		goto complete;
	}
	if (e->armed && io->type != BLK_IO_READ) {
		if (io->type == BLK_IO_FLUSH) {
			e->durable_seq = e->seq;
			if (e->die_after && --e->die_after == 0)
				e->dead = true;
		} else
			ret = shadow_write(e, io);
		goto complete;
	}
	pthread_mutex_unlock(&e->lock);

	if (io->type == BLK_IO_FLUSH && !(base->caps & BLK_CAP_FLUSH)) {
		blk_io_complete(io, 0);
		return 0;
	}
	/* Same reactor, same contract: -ENOMEM goes straight back to our caller. */
	return blk_bdev_submit(base, io->reactor, io->type, io->flags, io->offset, io->len, io->iov,
			       io->iovcnt, base_done, io);

complete:
	pthread_mutex_unlock(&e->lock);
	blk_io_complete(io, ret);
	return 0;
}

/* -------------------------------------------------------------- control */

int blk_error_inject(struct blk_bdev *b, const struct blk_error_cfg *c)
{
	struct blk_error *e;
	int ret = 0;

	if (!b || strcmp(b->ops->type, "error"))
		return -EINVAL;
	e = b->priv;
	if (c->error < 0 || c->error > 4095 || c->fail_io > BLK_ERR_IO_FLUSH ||
	    c->range_io > BLK_ERR_IO_FLUSH || c->power_cut > BLK_ERR_PC_DISARM)
		return -EINVAL;
	if (c->range_set && c->range_blocks &&
	    (c->range_start >= b->block_count || c->range_blocks > b->block_count - c->range_start))
		return -ERANGE;
	pthread_mutex_lock(&e->lock);
	if (c->clear) {
		e->nth_left = e->fail_left = 0;
		e->range_on = false;
	}
	if (c->error)
		e->err = c->error;
	if (c->fail_nth) {
		e->nth_left = c->fail_nth;
		e->fail_left = 0;
		e->fail_count = c->fail_count ? c->fail_count : 1;
		e->nth_io = c->fail_io;
	}
	if (c->range_set) {
		e->range_on = c->range_blocks != 0;
		e->range_io = c->range_io;
		e->range_start = c->range_start;
		e->range_blocks = c->range_blocks;
	}
	switch (c->power_cut) {
	case BLK_ERR_PC_NONE:
		break;
	case BLK_ERR_PC_ARM:
		ret = e->armed ? -EALREADY : shadow_alloc(e, c->shadow_size);
		break;
	case BLK_ERR_PC_CUT:
		if (!e->armed) {
			ret = -EINVAL;
		} else {
			shadow_cut(e);
			e->dead = false;
			e->die_after = 0;
		}
		break;
	case BLK_ERR_PC_DISARM:
		if (e->armed && e->nfree != e->nvers)
			ret = -EBUSY;
		else
			shadow_free(e);
		break;
	}
	if (!ret && c->die_after_flush) {
		if (e->armed)
			e->die_after = c->die_after_flush;
		else
			ret = -EINVAL;
	}
	pthread_mutex_unlock(&e->lock);
	if (c->power_cut == BLK_ERR_PC_CUT && !ret)
		VSL_INFO("%s: power cut (%" PRIu64 " block versions dropped so far)", b->name,
			 e->dropped);
	return ret;
}

static void error_destroy(struct blk_bdev *b)
{
	struct blk_error *e = b->priv;

	shadow_free(e);
	pthread_mutex_destroy(&e->lock);
	blk_bdev_fini(b);
	free(e);
}

static void error_dump_config(const struct blk_bdev *b, struct json_object *params)
{
	json_object_object_add(params, "base", json_object_new_string(b->base->name));
}

static void error_dump_info(const struct blk_bdev *b, struct json_object *info)
{
	struct blk_error *e = b->priv;
	struct json_object *pc;

	pthread_mutex_lock(&e->lock);
	json_object_object_add(info, "errors_injected", json_object_new_int64((int64_t)e->injected));
	json_object_object_add(info, "fail_pending",
			       json_object_new_boolean(e->nth_left || e->fail_left));
	json_object_object_add(info, "range_active", json_object_new_boolean(e->range_on));
	pc = json_object_new_object();
	json_object_object_add(pc, "armed", json_object_new_boolean(e->armed));
	json_object_object_add(pc, "shadow_blocks", json_object_new_int64(e->nvers - e->nfree));
	json_object_object_add(pc, "shadow_capacity", json_object_new_int64(e->nvers));
	json_object_object_add(pc, "cuts", json_object_new_int64((int64_t)e->cuts));
	json_object_object_add(pc, "dropped_versions", json_object_new_int64((int64_t)e->dropped));
	json_object_object_add(pc, "dead", json_object_new_boolean(e->dead));
	json_object_object_add(pc, "flushes_to_death", json_object_new_int64((int64_t)e->die_after));
	json_object_object_add(info, "power_cut", pc);
	pthread_mutex_unlock(&e->lock);
}

static const struct blk_bdev_ops error_ops = {
	.type = "error",
	.ctx_size = 0,
	.submit = error_submit,
	.destroy = error_destroy,
	.dump_config = error_dump_config,
	.dump_info = error_dump_info,
};

int blk_error_create(const char *name, const char *base_name, struct blk_bdev **out)
{
	struct blk_error *e;
	struct blk_bdev *base;
	int ret;

	if (!blk_bdev_name_valid(name))
		return -EINVAL;
	if (blk_bdev_find(name))
		return -EEXIST;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	ret = blk_bdev_open(base_name, name, &base);
	if (ret)
		goto err_free;
	ret = blk_bdev_init(&e->bdev, name, &error_ops, base->block_size, base->block_count);
	if (ret)
		goto err_close;
	pthread_mutex_init(&e->lock, NULL);
	e->err = EIO;
	e->bdev.priv = e;
	e->bdev.base = base;
	/* Flush always: power-cut mode needs it even over a base without one. */
	e->bdev.caps = base->caps | BLK_CAP_FLUSH;
	ret = blk_bdev_register(&e->bdev);
	if (ret)
		goto err_fini;
	*out = &e->bdev;
	return 0;

err_fini:
	pthread_mutex_destroy(&e->lock);
	blk_bdev_fini(&e->bdev);
err_close:
	blk_bdev_close(base, true);
err_free:
	free(e);
	return ret;
}
