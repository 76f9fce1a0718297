/* lvm_thin.c — thin pools and thin volumes: the in-memory mapping, the data
 * path and the metadata commit (see lvm_thin_meta.h for the format).
 *
 * State. A pool keeps, under its mutex: per thin device a two-level table
 * virtual chunk -> pool chunk + 1 (0: unmapped; pages of 1024 entries made
 * on first use), a reference count per pool chunk (how many mappings name
 * it, plus one while a write fills a freshly allocated chunk), and the
 * "pending free" list: chunks whose count dropped to zero since the last
 * commit. Those stay unallocatable until a commit that no longer maps them is
 * durable, so a crash can never bring back a mapping to a chunk that was
 * meanwhile handed to someone else.
 *
 * Writes. A write to a chunk the device owns alone (count 1) goes in place.
 * A write to an unmapped or shared chunk allocates a new chunk and fills it
 * whole: the write's bytes, and around them zeroes (unmapped) or the shared
 * chunk's old contents (copy-on-write, read first); only when that write has
 * completed is the mapping switched (and the old chunk's count dropped). So a
 * fresh chunk never shows old data and the other sharer never sees the
 * change. One write or discard per (device, virtual chunk) at a time: later
 * ones wait on the first ("chunk lock", the pool's `prov` list), and writes
 * to a device being snapshotted wait until the snapshot is taken.
 *
 * Commit (FLUSH, lvcreate/lvremove of thin volumes, a 1 s timer when dirty):
 * under the mutex the whole mapping is serialised, then without it: flush the
 * data LV (every mapping in the copy points at data whose write completed
 * before the flush was sent), write the checkpoint into the inactive slot,
 * flush the metadata LV, write the superblock, flush again. Then the pending
 * frees captured with the copy become free. Commits run on the control
 * thread with synchronous I/O (lvm_sync_io); a FLUSH arriving on a reactor is
 * handed to the control thread and completed back on its reactor. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lvm_thin_internal.h"
#include "lvm_thin_meta.h"
#include "vsl_daemon.h"
#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_util.h"

VSL_LOG_MODULE(lvm_thin);

/* ------------------------------------------------------------ the table */

int lvm_thin_map_set(struct lvm_thin_dev *d, uint64_t vc, uint32_t pc)
{
	uint64_t pg = vc >> PAGE_SHIFT_ENTRIES;

	if (pg >= d->ndir)
		return -ERANGE;
	if (!d->dir[pg]) {
		if (pc == THIN_NONE)
			return 0;
		d->dir[pg] = calloc(PAGE_ENTRIES, sizeof(uint32_t));
		if (!d->dir[pg])
			return -ENOMEM;
	}
	d->dir[pg][vc & (PAGE_ENTRIES - 1)] = pc + 1;
	return 0;
}

static int dev_resize(struct lvm_thin_dev *d, uint64_t nvc)
{
	uint64_t ndir = (nvc + PAGE_ENTRIES - 1) >> PAGE_SHIFT_ENTRIES;
	uint32_t **dir;

	if (ndir <= d->ndir) {
		if (nvc > d->nvc)
			d->nvc = nvc;
		return 0;
	}
	dir = realloc(d->dir, ndir * sizeof(*dir));
	if (!dir)
		return -ENOMEM;
	memset(dir + d->ndir, 0, (ndir - d->ndir) * sizeof(*dir));
	d->dir = dir;
	d->ndir = ndir;
	d->nvc = nvc;
	return 0;
}

static struct lvm_thin_dev *dev_new(uint32_t id, uint32_t origin, uint64_t nvc)
{
	struct lvm_thin_dev *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->id = id;
	d->origin = origin;
	if (dev_resize(d, nvc ? nvc : 1)) {
		free(d);
		return NULL;
	}
	return d;
}

static void dev_free(struct lvm_thin_dev *d)
{
	for (uint64_t i = 0; i < d->ndir; i++)
		free(d->dir[i]);
	free(d->dir);
	free(d);
}

static void dev_link(struct lvm_thin_pool *p, struct lvm_thin_dev *d)
{
	struct lvm_thin_dev **pp = &p->devs;

	while (*pp && (*pp)->id < d->id)
		pp = &(*pp)->next;
	d->next = *pp;
	*pp = d;
}

static struct lvm_thin_dev *dev_find(struct lvm_thin_pool *p, uint32_t id)
{
	for (struct lvm_thin_dev *d = p->devs; d; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

/* ------------------------------------------------------- chunk accounting */

static int pend_add(struct lvm_thin_pool *p, uint32_t pc)
{
	if (p->n_pending == p->cap_pending) {
		uint64_t cap = p->cap_pending ? 2 * p->cap_pending : 256;
		uint32_t *n = realloc(p->pending, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->pending = n;
		p->cap_pending = cap;
	}
	p->pending[p->n_pending++] = pc;
	p->pend[pc] = 1;
	return 0;
}

/* Drops one reference; at zero the chunk waits for the next commit. */
void lvm_thin_rc_put(struct lvm_thin_pool *p, uint32_t pc)
{
	if (pc >= p->nchunks || !p->rc[pc])
		return;
	if (--p->rc[pc] == 0 && pend_add(p, pc)) {
		/* Out of memory for the list: keep the chunk referenced (a leak
		 * until restart) rather than risk handing it out early. */
		p->rc[pc] = 1;
	}
}

static void low_water_check(struct lvm_thin_pool *p)
{
	bool low = (p->nchunks - p->nfree) * 100 >= p->nchunks * LOW_WATER_PCT;

	if (low && !p->low_water)
		VSL_WARN("thin pool %s: %llu of %llu chunks used, past the low-water mark (%d%%)",
			 p->name, (unsigned long long)(p->nchunks - p->nfree),
			 (unsigned long long)p->nchunks, LOW_WATER_PCT);
	p->low_water = low;
}

uint32_t lvm_thin_chunk_alloc(struct lvm_thin_pool *p)
{
	if (!p->nfree)
		return THIN_NONE;
	for (uint64_t n = 0; n < p->nchunks; n++) {
		uint64_t c = (p->cursor + n) % p->nchunks;

		if (!p->rc[c] && !p->pend[c]) {
			p->rc[c] = 1;
			p->nfree--;
			p->cursor = c + 1;
			low_water_check(p);
			return (uint32_t)c;
		}
	}
	return THIN_NONE;
}

/* A reserved chunk whose fill failed: never mapped, free again at once. */
void lvm_thin_chunk_unreserve(struct lvm_thin_pool *p, uint32_t pc)
{
	if (pc < p->nchunks && p->rc[pc] == 1) {
		p->rc[pc] = 0;
		p->nfree++;
		low_water_check(p);
	}
}

void lvm_thin_note(struct lvm_thin_pool *p, const struct lvm_thin_dev *d, uint64_t vc)
{
	if (p->need_ckpt)
		return;     /* a checkpoint writes everything anyway */
	if (p->n_dirty == p->cap_dirty) {
		uint64_t cap = p->cap_dirty ? 2 * p->cap_dirty : 256;
		struct lvm_thin_dirty *n = p->n_dirty < p->max_dirty
						   ? realloc(p->dirty, cap * sizeof(*n))
						   : NULL;

		if (!n) {
			/* More than one record can hold (or no memory): the next
			 * commit writes a checkpoint. */
			p->need_ckpt = true;
			p->n_dirty = 0;
			return;
		}
		p->dirty = n;
		p->cap_dirty = cap;
	}
	p->dirty[p->n_dirty++] = (struct lvm_thin_dirty){ d->id, vc };
}

void lvm_thin_dev_unmap(struct lvm_thin_pool *p, struct lvm_thin_dev *d, uint64_t vc)
{
	uint32_t pc = lvm_thin_map_get(d, vc);

	if (pc == THIN_NONE)
		return;
	lvm_thin_map_set(d, vc, THIN_NONE);
	lvm_thin_note(p, d, vc);
	d->mapped--;
	p->n_maps--;
	p->gen++;
	lvm_thin_rc_put(p, pc);
}

/* ------------------------------------------------------------ bounce */

void *lvm_thin_bounce_get(struct lvm_thin_pool *p)
{
	void *b = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->n_bounce)
		b = p->bounce[--p->n_bounce];
	pthread_mutex_unlock(&p->lock);
	return b ? b : aligned_alloc(LVM_BLOCK, p->chunk_size);
}

void lvm_thin_bounce_put(struct lvm_thin_pool *p, void *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->n_bounce < BOUNCE_KEEP) {
		p->bounce[p->n_bounce++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	free(b);
}

/* ------------------------------------------------------------- commit */

/* Waits (control thread) until no read begun before now is in flight. */
static void reads_drain(struct lvm_thin_pool *p)
{
	struct blk_reactor *self = blk_reactor_self();
	unsigned old;

	pthread_mutex_lock(&p->lock);
	old = p->read_epoch & 1;
	p->read_epoch++;
	pthread_mutex_unlock(&p->lock);
	for (;;) {
		unsigned n;

		pthread_mutex_lock(&p->lock);
		n = p->reads[old];
		pthread_mutex_unlock(&p->lock);
		if (!n)
			return;
		if (self)
			blk_reactor_poll(self, 1);
		else
			usleep(50);
	}
}

static int build_md(struct lvm_thin_pool *p, struct lvm_thin_md *md)
{
	uint64_t k = 0;
	uint32_t nd = 0;

	memset(md, 0, sizeof(*md));
	for (struct lvm_thin_dev *d = p->devs; d; d = d->next)
		nd++;
	md->devs = calloc(nd ? nd : 1, sizeof(*md->devs));
	md->maps = calloc(p->n_maps ? p->n_maps : 1, sizeof(*md->maps));
	if (!md->devs || !md->maps)
		return -ENOMEM;
	md->seq = p->seq + 1;
	memcpy(md->pool_uuid, p->uuid, 16);
	md->chunk_size = p->chunk_size;
	md->data_chunks = p->nchunks;
	for (struct lvm_thin_dev *d = p->devs; d; d = d->next) {
		md->devs[md->n_devs++] = (struct lvm_thin_dev_md){ d->id, d->origin };
		for (uint64_t pg = 0; pg < d->ndir; pg++) {
			if (!d->dir[pg])
				continue;
			for (uint32_t e = 0; e < PAGE_ENTRIES; e++) {
				if (!d->dir[pg][e])
					continue;
				if (k == p->n_maps)
					return -EIO;    /* counts out of step: a bug */
				md->maps[k++] = (struct lvm_thin_map_md){
					d->id, d->dir[pg][e] - 1, (pg << PAGE_SHIFT_ENTRIES) | e };
			}
		}
	}
	md->n_maps = k;
	return k == p->n_maps ? 0 : -EIO;
}

static int dirty_cmp(const void *a, const void *b)
{
	const struct lvm_thin_dirty *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->vc < y->vc ? -1 : x->vc > y->vc;
}

/* The log record of what changed since the last commit (under the lock):
 * 0, or -EAGAIN when it cannot be one (a checkpoint is needed). Empties the
 * dirty list either way. */
static int build_log(struct lvm_thin_pool *p, struct lvm_thin_log *l, uint32_t flags)
{
	uint64_t n = 0;
	int ret = 0;

	memset(l, 0, sizeof(*l));
	if (p->n_dirty)
		qsort(p->dirty, p->n_dirty, sizeof(*p->dirty), dirty_cmp);
	l->maps = calloc(p->n_dirty ? p->n_dirty : 1, sizeof(*l->maps));
	if (!l->maps) {
		ret = -EAGAIN;
		goto out;
	}
	for (uint64_t i = 0; i < p->n_dirty; i++) {
		const struct lvm_thin_dirty *e = &p->dirty[i];
		struct lvm_thin_dev *d;
		uint32_t pc;

		if (n && l->maps[n - 1].dev == e->dev && l->maps[n - 1].vchunk == e->vc)
			continue;       /* changed twice: its value now is what counts */
		d = dev_find(p, e->dev);
		if (!d) {
			ret = -EAGAIN;  /* cannot happen: deleting a device needs a checkpoint */
			goto out;
		}
		pc = lvm_thin_map_get(d, e->vc);
		l->maps[n++] = (struct lvm_thin_map_md){ e->dev,
							 pc == THIN_NONE ? LVM_THIN_UNMAPPED : pc,
							 e->vc };
	}
	l->n_maps = n;
	l->seq = p->seq + 1;
	l->base = p->ckpt_seq;
	l->flags = flags;
	memcpy(l->pool_uuid, p->uuid, 16);
	if (p->log_head + lvm_thin_log_len(n) > p->log_size)
		ret = -EAGAIN;  /* the log is full: a checkpoint starts it over */
out:
	p->n_dirty = 0;
	return ret;
}

/* Writes a checkpoint of md and flips the superblock (data already flushed). */
static int write_ckpt(struct lvm_thin_pool *p, const struct lvm_thin_md *md)
{
	size_t len = lvm_thin_md_len(md);
	uint32_t slot = 1 - p->slot, copy = 1 - p->sb_copy, crc;
	unsigned char *buf, *sbb;
	struct lvm_thin_sb sb;
	int ret;

	if (len > p->slot_size) {
		VSL_ERR("thin pool %s: metadata full (%zu bytes needed, slot %llu)", p->name, len,
			(unsigned long long)p->slot_size);
		return -ENOSPC;
	}
	buf = lvm_buf_alloc(len);
	sbb = lvm_buf_alloc(LVM_BLOCK);
	if (!buf || !sbb) {
		ret = -ENOMEM;
		goto out;
	}
	crc = lvm_thin_md_encode(md, buf);
	ret = lvm_sync_io(p->meta, BLK_IO_WRITE, LVM_THIN_SLOT0 + slot * p->slot_size, buf, len);
	if (!ret)
		ret = lvm_sync_io(p->meta, BLK_IO_FLUSH, 0, NULL, 0);
	if (ret)
		goto out;
	sb = (struct lvm_thin_sb){ .seq = md->seq, .chunk_size = p->chunk_size, .slot = slot,
				   .meta_size = p->meta_size, .slot_size = p->slot_size,
				   .ckpt_len = (uint32_t)len, .ckpt_crc = crc };
	memcpy(sb.pool_uuid, p->uuid, 16);
	lvm_thin_sb_encode(&sb, sbb);
	/* Never over the newest superblock: a torn write there would leave
	 * only the copy naming the slot just overwritten. */
	ret = lvm_sync_io(p->meta, BLK_IO_WRITE, (uint64_t)copy * LVM_THIN_SB_SIZE, sbb, LVM_BLOCK);
	if (!ret)
		ret = lvm_sync_io(p->meta, BLK_IO_FLUSH, 0, NULL, 0);
	if (ret)
		goto out;
	p->slot = slot;
	p->sb_copy = copy;
	p->ckpt_seq = md->seq;
	p->log_head = 0;
	p->n_ckpts++;
	p->last_commit_blocks = len / LVM_BLOCK + 1;
	p->meta_blocks += p->last_commit_blocks;
out:
	free(buf);
	free(sbb);
	return ret;
}

/* Appends a log record (data already flushed). */
static int write_log(struct lvm_thin_pool *p, const struct lvm_thin_log *l)
{
	size_t len = lvm_thin_log_len(l->n_maps);
	unsigned char *buf = lvm_buf_alloc(len);
	int ret;

	if (!buf)
		return -ENOMEM;
	lvm_thin_log_encode(l, buf);
	ret = lvm_sync_io(p->meta, BLK_IO_WRITE, p->log_off + p->log_head, buf, len);
	if (!ret)
		ret = lvm_sync_io(p->meta, BLK_IO_FLUSH, 0, NULL, 0);
	free(buf);
	if (ret)
		return ret;
	p->log_head += len;
	p->n_records++;
	p->last_commit_blocks = len / LVM_BLOCK;
	p->meta_blocks += p->last_commit_blocks;
	return 0;
}

static int commit(struct lvm_thin_pool *p, uint32_t flags)
{
	struct lvm_thin_md md = { 0 };
	struct lvm_thin_log l = { 0 };
	uint64_t n_rel, gen, seq;
	bool full;
	int ret;

	pthread_mutex_lock(&p->lock);
	if (!flags && p->gen == p->committed_gen && !p->n_pending && p->seq && !p->last_error) {
		/* Nothing mapped or freed since the last commit: a FLUSH only
		 * needs the data (in-place overwrites) on stable storage. */
		pthread_mutex_unlock(&p->lock);
		return lvm_sync_io(p->data, BLK_IO_FLUSH, 0, NULL, 0);
	}
	/* Usually only what changed, as a log record; a checkpoint when the
	 * device table changed, the log is full, or the list outgrew it. */
	full = p->need_ckpt || !p->seq;
	if (!full)
		full = build_log(p, &l, flags) != 0;
	p->n_dirty = 0;
	ret = full ? build_md(p, &md) : 0;
	if (full)
		p->need_ckpt = false;
	n_rel = p->n_pending;
	gen = p->gen;
	pthread_mutex_unlock(&p->lock);
	if (ret)
		goto out;
	/* Data before the mappings that point at it. */
	ret = lvm_sync_io(p->data, BLK_IO_FLUSH, 0, NULL, 0);
	if (ret)
		goto out;
	seq = full ? md.seq : l.seq;
	ret = full ? write_ckpt(p, &md) : write_log(p, &l);
	if (ret)
		goto out;
	p->seq = seq;
	p->committed_gen = gen;
	/* The frees captured with the copy are durable now; a read that began
	 * before them may still be on its way to such a chunk. */
	reads_drain(p);
	pthread_mutex_lock(&p->lock);
	for (uint64_t i = 0; i < n_rel; i++) {
		uint32_t c = p->pending[i];

		p->pend[c] = 0;
		if (!p->rc[c])
			p->nfree++;
	}
	if (n_rel) {
		memmove(p->pending, p->pending + n_rel,
			(p->n_pending - n_rel) * sizeof(*p->pending));
		p->n_pending -= n_rel;
	}
	low_water_check(p);
	pthread_mutex_unlock(&p->lock);
	if (full && flags) {
		/* The clean-stop marker goes into the log behind the checkpoint. */
		free(md.devs);
		free(md.maps);
		free(l.maps);
		return commit(p, flags);
	}
out:
	if (ret) {
		/* What the failed commit took from the dirty list is lost: the
		 * next one writes everything. */
		pthread_mutex_lock(&p->lock);
		p->need_ckpt = true;
		pthread_mutex_unlock(&p->lock);
	}
	if (ret && ret != p->last_error)
		VSL_ERR("thin pool %s: commit seq %llu failed: %s", p->name,
			(unsigned long long)(p->seq + 1), strerror(-ret));
	p->last_error = ret;
	free(md.devs);
	free(md.maps);
	free(l.maps);
	return ret;
}

int lvm_thin_commit(struct lvm_thin_pool *p)
{
	return commit(p, 0);
}

int lvm_thin_commit_clean(struct lvm_thin_pool *p)
{
	return commit(p, LVM_THIN_LOG_CLEAN);
}

bool lvm_thin_pool_dirty(struct lvm_thin_pool *p)
{
	bool d;

	pthread_mutex_lock(&p->lock);
	d = p->gen != p->committed_gen || p->n_pending;
	pthread_mutex_unlock(&p->lock);
	return d;
}

/* ---------------------------------------------------- the periodic commit */

static struct vsl_timer *commit_timer;

static void commit_tick(struct vsl_loop *loop, struct vsl_timer *tm, void *arg)
{
	(void)loop;
	(void)tm;
	(void)arg;
	for (struct lvm_vg *vg = lvm_vg_next(NULL); vg; vg = lvm_vg_next(vg))
		for (struct lvm_thin_pool *p = vg->pools; p; p = p->next)
			if (!vg->broken && !vg->partial && lvm_thin_pool_dirty(p))
				lvm_thin_commit(p);
}

static void commit_timer_start(void)
{
	struct vsl_daemon *d = vsl_daemon_get();

	/* Only in the daemon, whose control loop runs (not in unit tests). */
	if (commit_timer || !d || !d->loop || !blk_reactor_count())
		return;
	commit_timer = vsl_timer_add(d->loop, COMMIT_PERIOD_MS, COMMIT_PERIOD_MS, commit_tick, NULL);
}

/* ------------------------------------------------------- open and close */

static void pool_free(struct lvm_thin_pool *p)
{
	while (p->devs) {
		struct lvm_thin_dev *d = p->devs;

		p->devs = d->next;
		dev_free(d);
	}
	for (unsigned i = 0; i < p->n_bounce; i++)
		free(p->bounce[i]);
	free(p->rc);
	free(p->pend);
	free(p->pending);
	free(p->dirty);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int pool_size_chunks(struct lvm_thin_pool *p, uint64_t nchunks)
{
	uint32_t *rc;
	uint8_t *pend;

	if (nchunks <= p->nchunks)
		return 0;
	if (nchunks > LVM_THIN_CHUNKS_MAX)
		return -EFBIG;
	rc = realloc(p->rc, nchunks * sizeof(*rc));
	if (!rc)
		return -ENOMEM;
	p->rc = rc;
	pend = realloc(p->pend, nchunks);
	if (!pend)
		return -ENOMEM;
	p->pend = pend;
	memset(rc + p->nchunks, 0, (nchunks - p->nchunks) * sizeof(*rc));
	memset(pend + p->nchunks, 0, nchunks - p->nchunks);
	if (p->nchunks)
		p->need_ckpt = true;    /* log records only name chunks a checkpoint counts */
	p->nfree += nchunks - p->nchunks;
	p->nchunks = nchunks;
	return 0;
}

/* Virtual chunks of thin LV i. */
static uint64_t lv_vchunks(const struct lvm_md *md, uint32_t i, uint32_t chunk_size)
{
	return md->lvs[i].le_count * (md->extent_size / chunk_size);
}

static bool all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Reads the newest valid checkpoint: 0 and *out, -ENODATA when the
 * metadata LV was never written, -EBADMSG (err says why). */
static int pool_read(struct lvm_thin_pool *p, struct lvm_thin_md **out, char *err, size_t errlen)
{
	struct lvm_thin_sb sb[2];
	int ok[2];
	unsigned char *blk = lvm_buf_alloc(2 * LVM_BLOCK);
	bool blank;
	int ret;

	*out = NULL;
	if (!blk)
		return -ENOMEM;
	ret = lvm_sync_io(p->meta, BLK_IO_READ, 0, blk, 2 * LVM_BLOCK);
	if (ret) {
		free(blk);
		return vsl_errf(err, errlen, ret, "reading the metadata LV: %s", strerror(-ret));
	}
	blank = all_zero(blk, 2 * LVM_BLOCK);
	for (int i = 0; i < 2; i++) {
		ok[i] = lvm_thin_sb_decode(blk + i * LVM_BLOCK, LVM_BLOCK, &sb[i], NULL, 0) == 0 &&
			!memcmp(sb[i].pool_uuid, p->uuid, 16) && sb[i].chunk_size == p->chunk_size &&
			sb[i].meta_size <= blk_bdev_size(p->meta);
	}
	free(blk);
	if (blank)
		return -ENODATA;
	int order[2], n = 0;

	if (ok[0] && ok[1]) {
		order[0] = sb[0].seq > sb[1].seq ? 0 : 1;
		order[1] = 1 - order[0];
		n = 2;
	} else if (ok[0] || ok[1]) {
		order[0] = ok[0] ? 0 : 1;
		n = 1;
	}
	for (int k = 0; k < n; k++) {
		int i = order[k];
		unsigned char *buf;
		struct lvm_thin_md *md;
		uint32_t crc;

		buf = lvm_buf_alloc(sb[i].ckpt_len);
		if (!buf)
			return -ENOMEM;
		ret = lvm_sync_io(p->meta, BLK_IO_READ, LVM_THIN_SLOT0 + sb[i].slot * sb[i].slot_size,
				  buf, sb[i].ckpt_len);
		if (ret) {
			free(buf);
			return vsl_errf(err, errlen, ret, "reading thin metadata: %s", strerror(-ret));
		}
		memcpy(&crc, buf + offsetof(struct lvm_thin_disk_hdr, crc), 4);
		ret = lvm_thin_md_decode(buf, sb[i].ckpt_len, &md, err, errlen);
		free(buf);
		if (ret == -ENOMEM)
			return ret;
		if (ret)
			continue;
		if (md->seq != sb[i].seq || le32toh(crc) != sb[i].ckpt_crc ||
		    memcmp(md->pool_uuid, p->uuid, 16) || md->chunk_size != p->chunk_size) {
			lvm_thin_md_free(md);
			continue;
		}
		p->seq = p->ckpt_seq = sb[i].seq;
		p->slot = sb[i].slot;
		p->sb_copy = (uint32_t)i;
		*out = md;
		return 0;
	}
	return vsl_errf(err, errlen, -EBADMSG, "no valid thin metadata on the metadata LV");
}

/* Maps vchunk of d to pchunk (both checked by the metadata decoder) while a
 * pool is loaded: the reference count, free count and mapping counts follow. */
static int map_add(struct lvm_thin_pool *p, struct lvm_thin_dev *d, uint64_t vchunk,
		   uint32_t pchunk)
{
	int ret = lvm_thin_map_set(d, vchunk, pchunk);

	if (ret)
		return ret;
	if (!p->rc[pchunk]++)
		p->nfree--;
	d->mapped++;
	p->n_maps++;
	return 0;
}

static int pool_load(struct lvm_thin_pool *p, const struct lvm_thin_md *md,
		     const struct lvm_md *vmd)
{
	int ret = pool_size_chunks(p, md->data_chunks);

	if (ret)
		return ret;
	for (uint32_t i = 0; i < md->n_devs; i++) {
		uint64_t nvc = 0;
		struct lvm_thin_dev *d;

		for (uint32_t k = 0; k < vmd->n_lvs; k++)
			if (vmd->lvs[k].kind == LVM_LV_THIN && vmd->lvs[k].thin_id == md->devs[i].id &&
			    !memcmp(vmd->lvs[k].link, p->uuid, 16))
				nvc = lv_vchunks(vmd, k, p->chunk_size);
		d = dev_new(md->devs[i].id, md->devs[i].origin, nvc);
		if (!d)
			return -ENOMEM;
		dev_link(p, d);
	}
	for (uint64_t k = 0; k < md->n_maps; k++) {
		const struct lvm_thin_map_md *m = &md->maps[k];
		struct lvm_thin_dev *d = dev_find(p, m->dev);

		if (m->vchunk >= d->nvc) {
			ret = dev_resize(d, m->vchunk + 1);
			if (ret)
				return ret;
		}
		ret = map_add(p, d, m->vchunk, m->pchunk);
		if (ret)
			return ret;
	}
	return 0;
}

/* Applies one log entry to the tables (open, under no contention). */
static int replay_entry(struct lvm_thin_pool *p, const struct lvm_thin_map_md *m)
{
	struct lvm_thin_dev *d = dev_find(p, m->dev);
	uint32_t old;
	int ret;

	if (!d || (m->pchunk != LVM_THIN_UNMAPPED && m->pchunk >= p->nchunks))
		return -EBADMSG;
	if (m->vchunk >= d->nvc) {
		ret = dev_resize(d, m->vchunk + 1);
		if (ret)
			return ret;
	}
	old = lvm_thin_map_get(d, m->vchunk);
	if (old != THIN_NONE) {
		lvm_thin_map_set(d, m->vchunk, THIN_NONE);
		if (--p->rc[old] == 0)
			p->nfree++;
		d->mapped--;
		p->n_maps--;
	}
	if (m->pchunk == LVM_THIN_UNMAPPED)
		return 0;
	return map_add(p, d, m->vchunk, m->pchunk);
}

/* Replays the log behind the checkpoint just loaded: the records with its
 * sequence as base and consecutive sequences, up to the first block that is
 * not one (a torn or stale record: the end). A record with a valid CRC that
 * names a device or chunk the pool does not have is corruption: refused. */
static int log_replay(struct lvm_thin_pool *p, unsigned *n_rec, char *err, size_t errlen)
{
	unsigned char *buf = lvm_buf_alloc(LVM_BLOCK);
	uint64_t pos = 0;
	int ret = 0;

	*n_rec = 0;
	p->clean_open = false;
	if (!buf)
		return -ENOMEM;
	while (pos + LVM_BLOCK <= p->log_size) {
		struct lvm_thin_log *l = NULL;
		uint32_t len;

		ret = lvm_sync_io(p->meta, BLK_IO_READ, p->log_off + pos, buf, LVM_BLOCK);
		if (ret) {
			vsl_errf(err, errlen, ret, "reading the thin log: %s", strerror(-ret));
			break;
		}
		len = lvm_thin_log_len_of(buf, LVM_BLOCK);
		if (!len || len % LVM_BLOCK || len > p->log_size - pos)
			break;
		if (len > LVM_BLOCK) {
			unsigned char *big = lvm_buf_alloc(len);

			if (!big) {
				ret = -ENOMEM;
				break;
			}
			free(buf);
			buf = big;
			ret = lvm_sync_io(p->meta, BLK_IO_READ, p->log_off + pos, buf, len);
			if (ret) {
				vsl_errf(err, errlen, ret, "reading the thin log: %s", strerror(-ret));
				break;
			}
		}
		ret = lvm_thin_log_decode(buf, len, &l, NULL, 0);
		if (ret == -ENOMEM)
			break;
		ret = 0;
		if (!l || l->base != p->ckpt_seq || l->seq != p->seq + 1 ||
		    memcmp(l->pool_uuid, p->uuid, 16)) {
			lvm_thin_log_free(l);
			break;      /* the end of this checkpoint's log */
		}
		for (uint64_t i = 0; i < l->n_maps && !ret; i++) {
			ret = replay_entry(p, &l->maps[i]);
			if (ret == -EBADMSG)
				vsl_errf(err, errlen, ret,
					 "thin log record %llu names device %u / pool chunk %u that "
					 "the pool does not have",
					 (unsigned long long)l->seq, l->maps[i].dev, l->maps[i].pchunk);
		}
		if (!ret) {
			p->seq = l->seq;
			p->clean_open = l->flags & LVM_THIN_LOG_CLEAN;
			(*n_rec)++;
			pos += len;
		}
		lvm_thin_log_free(l);
		if (ret)
			break;
		if (len > LVM_BLOCK) {
			free(buf);
			buf = lvm_buf_alloc(LVM_BLOCK);
			if (!buf)
				return -ENOMEM;
		}
	}
	free(buf);
	p->log_head = pos;
	return ret;
}

static bool vg_has_thin_of(const struct lvm_md *md, const uint8_t *pool_uuid)
{
	for (uint32_t k = 0; k < md->n_lvs; k++)
		if (md->lvs[k].kind == LVM_LV_THIN && !memcmp(md->lvs[k].link, pool_uuid, 16))
			return true;
	return false;
}

static int pool_open(struct lvm_vg *vg, uint32_t i, struct lvm_thin_pool **out)
{
	const struct lvm_md *vmd = vg->md;
	struct lvm_thin_pool *p = calloc(1, sizeof(*p));
	struct lvm_thin_md *md = NULL;
	struct lvm_lv *dl, *ml;
	char err[200] = "", n[LVM_NAME_MAX + 8];
	bool gc = false;
	int ret;

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	snprintf(p->name, sizeof(p->name), "%s", vmd->lvs[i].name);
	memcpy(p->uuid, vmd->lvs[i].uuid, 16);
	p->chunk_size = vmd->lvs[i].chunk_size;
	p->chunk_shift = (uint32_t)__builtin_ctz(p->chunk_size);
	p->slot = 1;
	snprintf(n, sizeof(n), "%s%s", p->name, LVM_TDATA_SUFFIX);
	dl = lvm_lv_get(vg, n);
	snprintf(n, sizeof(n), "%s%s", p->name, LVM_TMETA_SUFFIX);
	ml = lvm_lv_get(vg, n);
	if (!dl || !ml) {
		ret = -ENODEV;
		goto err_p;
	}
	p->data = &dl->bdev;
	p->meta = &ml->bdev;
	p->meta_size = blk_bdev_size(p->meta);
	p->slot_size = lvm_thin_slot_size(p->meta_size);
	p->max_maps = lvm_thin_max_maps(p->slot_size, LVM_MAX_LVS);
	p->log_off = lvm_thin_log_offset(p->meta_size);
	p->log_size = lvm_thin_log_size(p->meta_size);
	p->max_dirty = lvm_thin_log_max_maps(p->log_size);
	ret = pool_read(p, &md, err, sizeof(err));
	if (ret == -ENODATA && !vg_has_thin_of(vmd, p->uuid)) {
		/* A new pool (its metadata LV was zeroed when allocated). */
		VSL_INFO("thin pool %s/%s: formatting its metadata", vmd->vg_name, p->name);
		ret = pool_size_chunks(p, blk_bdev_size(p->data) >> p->chunk_shift);
		if (!ret)
			ret = lvm_thin_commit(p);
		if (ret)
			goto err_p;
		*out = p;
		return 0;
	}
	if (ret) {
		VSL_ERR("thin pool %s/%s: %s", vmd->vg_name, p->name,
			err[0] ? err : "no valid thin metadata");
		goto err_p;
	}
	ret = pool_load(p, md, vmd);
	if (!ret) {
		unsigned n_rec;

		ret = log_replay(p, &n_rec, err, sizeof(err));
		if (ret) {
			VSL_ERR("thin pool %s/%s: %s", vmd->vg_name, p->name,
				err[0] ? err : strerror(-ret));
			goto err_md;
		}
		if (p->clean_open)
			VSL_INFO("thin pool %s/%s: stopped cleanly (checkpoint %llu + %u log records)",
				 vmd->vg_name, p->name, (unsigned long long)p->ckpt_seq, n_rec);
		else
			VSL_WARN("thin pool %s/%s: not stopped cleanly: recovered checkpoint %llu + "
				 "%u log records; mappings not committed before the stop are lost "
				 "(their chunks are free)", vmd->vg_name, p->name,
				 (unsigned long long)p->ckpt_seq, n_rec);
		ret = pool_size_chunks(p, blk_bdev_size(p->data) >> p->chunk_shift);
	}
	if (ret)
		goto err_md;
	p->committed_gen = p->gen;    /* what is on disk */
	/* Devices no thin LV names: a crash between the pool's commit and the
	 * VG's (lvcreate) or the other way round (lvremove). Free them. */
	for (struct lvm_thin_dev *d = p->devs, *next; d; d = next) {
		bool used = false;

		next = d->next;
		for (uint32_t k = 0; k < vmd->n_lvs; k++)
			if (vmd->lvs[k].kind == LVM_LV_THIN && vmd->lvs[k].thin_id == d->id &&
			    !memcmp(vmd->lvs[k].link, p->uuid, 16))
				used = true;
		if (!used) {
			VSL_WARN("thin pool %s/%s: device %u has no LV: freeing it", vmd->vg_name,
				 p->name, d->id);
			lvm_thin_dev_delete(p, d->id);
			gc = true;
		}
	}
	if (gc) {
		ret = lvm_thin_commit(p);
		if (ret)
			goto err_md;
	}
	lvm_thin_md_free(md);
	*out = p;
	return 0;

err_md:
	lvm_thin_md_free(md);
err_p:
	pool_free(p);
	return ret;
}

void lvm_thin_pools_free(struct lvm_vg *vg)
{
	while (vg->pools) {
		struct lvm_thin_pool *p = vg->pools;

		vg->pools = p->next;
		pool_free(p);
	}
}

struct lvm_thin_pool *lvm_thin_pool_next(const struct lvm_thin_pool *p)
{
	return p->next;
}

struct lvm_thin_pool *lvm_thin_pool_get(struct lvm_vg *vg, const uint8_t *uuid)
{
	for (struct lvm_thin_pool *p = vg->pools; p; p = p->next)
		if (!memcmp(p->uuid, uuid, 16))
			return p;
	return NULL;
}

int lvm_thin_pools_sync(struct lvm_vg *vg, bool open)
{
	int first = 0;

	if (!open) {
		for (struct lvm_thin_pool **pp = &vg->pools; *pp;) {
			struct lvm_thin_pool *p = *pp;
			int k = lvm_md_lv_find_uuid(vg->md, p->uuid);

			if (k >= 0 && vg->md->lvs[k].kind == LVM_LV_THIN_POOL) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			pool_free(p);
		}
		return 0;
	}
	for (uint32_t i = 0; i < vg->md->n_lvs; i++) {
		struct lvm_thin_pool *p = NULL;
		int ret;

		if (vg->md->lvs[i].kind != LVM_LV_THIN_POOL)
			continue;
		p = lvm_thin_pool_get(vg, vg->md->lvs[i].uuid);
		if (p) {
			pthread_mutex_lock(&p->lock);
			ret = pool_size_chunks(p, blk_bdev_size(p->data) >> p->chunk_shift);
			low_water_check(p);
			pthread_mutex_unlock(&p->lock);
		} else {
			ret = pool_open(vg, i, &p);
			if (!ret) {
				p->next = vg->pools;
				vg->pools = p;
			}
		}
		if (ret && !first)
			first = ret;
	}
	if (vg->pools)
		commit_timer_start();
	return first;
}

/* ------------------------------------------------------------ devices */

struct lvm_thin_dev *lvm_thin_dev_get(struct lvm_thin_pool *p, uint32_t id)
{
	return dev_find(p, id);
}

int lvm_thin_dev_resize(struct lvm_thin_pool *p, struct lvm_thin_dev *d, uint64_t nvc)
{
	int ret;

	pthread_mutex_lock(&p->lock);
	ret = dev_resize(d, nvc);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

uint32_t lvm_thin_chunk_size(const struct lvm_thin_pool *p)
{
	return p->chunk_size;
}

uint32_t lvm_thin_next_id(struct lvm_thin_pool *p, const struct lvm_md *md)
{
	uint32_t id = 0;

	for (struct lvm_thin_dev *d = p->devs; d; d = d->next)
		id = VSL_MAX(id, d->id);
	for (uint32_t k = 0; k < md->n_lvs; k++)
		if (md->lvs[k].kind == LVM_LV_THIN && !memcmp(md->lvs[k].link, p->uuid, 16))
			id = VSL_MAX(id, md->lvs[k].thin_id);
	return id + 1;
}

int lvm_thin_dev_create(struct lvm_thin_pool *p, uint32_t id, uint64_t nvc)
{
	struct lvm_thin_dev *d;

	if (id == 0 || id > LVM_THIN_ID_MAX)
		return -ENOSPC;
	d = dev_new(id, 0, nvc);
	if (!d)
		return -ENOMEM;
	pthread_mutex_lock(&p->lock);
	dev_link(p, d);
	p->gen++;
	p->need_ckpt = true;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* Waits (control thread) until no write holds a chunk lock on d. */
static void drain(struct lvm_thin_pool *p, struct lvm_thin_dev *d)
{
	struct blk_reactor *self = blk_reactor_self();

	for (;;) {
		unsigned n;

		pthread_mutex_lock(&p->lock);
		n = d->inflight;
		pthread_mutex_unlock(&p->lock);
		if (!n)
			return;
		if (self)
			blk_reactor_poll(self, 1);
		else
			usleep(100);
	}
}

int lvm_thin_dev_snapshot(struct lvm_thin_pool *p, uint32_t origin, uint32_t id, uint64_t nvc)
{
	struct lvm_thin_dev *o = dev_find(p, origin), *d;
	struct thin_io *parked;
	int ret = 0;

	if (!o)
		return -ENOENT;
	if (id == 0 || id > LVM_THIN_ID_MAX)
		return -ENOSPC;
	d = dev_new(id, origin, VSL_MAX(nvc, o->nvc));
	if (!d)
		return -ENOMEM;
	pthread_mutex_lock(&p->lock);
	o->frozen = true;
	pthread_mutex_unlock(&p->lock);
	drain(p, o);
	pthread_mutex_lock(&p->lock);
	if (p->n_maps + o->mapped > p->max_maps) {
		ret = -ENOSPC;
		goto out;
	}
	for (uint64_t pg = 0; pg < o->ndir && !ret; pg++) {
		if (!o->dir[pg])
			continue;
		d->dir[pg] = malloc(PAGE_ENTRIES * sizeof(uint32_t));
		if (!d->dir[pg]) {
			ret = -ENOMEM;
			break;
		}
		memcpy(d->dir[pg], o->dir[pg], PAGE_ENTRIES * sizeof(uint32_t));
	}
	if (ret)
		goto out;
	for (uint64_t pg = 0; pg < d->ndir; pg++)
		for (uint32_t e = 0; d->dir[pg] && e < PAGE_ENTRIES; e++)
			if (d->dir[pg][e])
				p->rc[d->dir[pg][e] - 1]++;
	d->mapped = o->mapped;
	p->n_maps += o->mapped;
	p->gen++;
	p->need_ckpt = true;
	dev_link(p, d);
	d = NULL;
out:
	o->frozen = false;
	parked = o->parked;
	o->parked = NULL;
	pthread_mutex_unlock(&p->lock);
	lvm_thin_io_wake(parked);
	if (d)
		dev_free(d);
	return ret;
}

int lvm_thin_dev_delete(struct lvm_thin_pool *p, uint32_t id)
{
	struct lvm_thin_dev *d;

	pthread_mutex_lock(&p->lock);
	d = dev_find(p, id);
	if (!d) {
		pthread_mutex_unlock(&p->lock);
		return -ENOENT;
	}
	for (uint64_t pg = 0; pg < d->ndir; pg++)
		for (uint32_t e = 0; d->dir[pg] && e < PAGE_ENTRIES; e++)
			if (d->dir[pg][e])
				lvm_thin_dev_unmap(p, d, (pg << PAGE_SHIFT_ENTRIES) | e);
	for (struct lvm_thin_dev **pp = &p->devs; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	p->gen++;
	p->need_ckpt = true;
	pthread_mutex_unlock(&p->lock);
	dev_free(d);
	return 0;
}

int lvm_thin_dev_truncate(struct lvm_thin_pool *p, uint32_t id, uint64_t nvc)
{
	struct lvm_thin_dev *d;

	pthread_mutex_lock(&p->lock);
	d = dev_find(p, id);
	if (!d) {
		pthread_mutex_unlock(&p->lock);
		return -ENOENT;
	}
	for (uint64_t pg = nvc >> PAGE_SHIFT_ENTRIES; pg < d->ndir; pg++)
		for (uint32_t e = 0; d->dir[pg] && e < PAGE_ENTRIES; e++) {
			uint64_t vc = (pg << PAGE_SHIFT_ENTRIES) | e;

			if (vc >= nvc && d->dir[pg][e])
				lvm_thin_dev_unmap(p, d, vc);
		}
	p->gen++;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* ------------------------------------------------------------- status */

void lvm_thin_pool_status(struct lvm_thin_pool *p, struct json_object *o)
{
	uint64_t used, nchunks, maps, enospc, devs = 0;
	bool low;

	pthread_mutex_lock(&p->lock);
	nchunks = p->nchunks;
	used = p->nchunks - p->nfree;
	maps = p->n_maps;
	low = p->low_water;
	enospc = p->enospc;
	for (struct lvm_thin_dev *d = p->devs; d; d = d->next)
		devs++;
	pthread_mutex_unlock(&p->lock);
	json_object_object_add(o, "chunk_size", json_object_new_int64(p->chunk_size));
	json_object_object_add(o, "data_chunks", json_object_new_int64((int64_t)nchunks));
	json_object_object_add(o, "used_chunks", json_object_new_int64((int64_t)used));
	json_object_object_add(o, "data_percent",
			       json_object_new_double(nchunks ? 100.0 * (double)used / (double)nchunks
							      : 0));
	json_object_object_add(o, "metadata_percent",
			       json_object_new_double(100.0 * (double)(sizeof(struct lvm_thin_disk_hdr) +
								       devs * 8 + maps * 16) /
						      (double)p->slot_size));
	json_object_object_add(o, "metadata_size", json_object_new_int64((int64_t)p->meta_size));
	json_object_object_add(o, "mappings", json_object_new_int64((int64_t)maps));
	json_object_object_add(o, "thin_count", json_object_new_int64((int64_t)devs));
	json_object_object_add(o, "low_water", json_object_new_boolean(low));
	json_object_object_add(o, "low_water_percent", json_object_new_int(LOW_WATER_PCT));
	json_object_object_add(o, "enospc_errors", json_object_new_int64((int64_t)enospc));
	json_object_object_add(o, "transaction", json_object_new_int64((int64_t)p->seq));
	json_object_object_add(o, "checkpoints", json_object_new_int64((int64_t)p->n_ckpts));
	json_object_object_add(o, "log_records", json_object_new_int64((int64_t)p->n_records));
	json_object_object_add(o, "metadata_blocks_written",
			       json_object_new_int64((int64_t)p->meta_blocks));
	json_object_object_add(o, "last_commit_blocks",
			       json_object_new_int64((int64_t)p->last_commit_blocks));
	json_object_object_add(o, "log_percent",
			       json_object_new_double(p->log_size ? 100.0 * (double)p->log_head /
								    (double)p->log_size : 0));
	json_object_object_add(o, "clean_at_open", json_object_new_boolean(p->clean_open));
}

void lvm_thin_dev_status(struct lvm_thin_pool *p, uint32_t id, uint64_t size,
			 struct json_object *o)
{
	struct lvm_thin_dev *d;
	uint64_t mapped = 0;

	pthread_mutex_lock(&p->lock);
	d = dev_find(p, id);
	if (d)
		mapped = d->mapped;
	pthread_mutex_unlock(&p->lock);
	json_object_object_add(o, "mapped_chunks", json_object_new_int64((int64_t)mapped));
	json_object_object_add(o, "data_percent",
			       json_object_new_double(size ? 100.0 * (double)(mapped * p->chunk_size) /
							     (double)size : 0));
}
