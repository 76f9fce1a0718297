/* blk_vhost_blk_req.c — descriptor chains and virtio-blk requests from an
 * untrusted guest. See blk_vhost_blk_internal.h. No allocation, no syscall:
 * runs on reactors per request and under the fuzzer. */
#include <errno.h>
#include <string.h>

#include "blk_vhost_blk_internal.h"

/* One read of each field: the guest may rewrite the descriptor while we look. */
static void desc_read(const struct vring_desc *d, struct vring_desc *out)
{
	const volatile struct vring_desc *v = d;

	out->addr = v->addr;
	out->len = v->len;
	out->flags = v->flags;
	out->next = v->next;
}

static int chain_add(struct rte_vhost_memory *mem, struct blk_vub_chain *c, uint64_t gpa,
		     uint32_t len, bool writable)
{
	if (!writable && c->in_bytes)
		return -EINVAL;     /* device-readable after device-writable */
	while (len) {
		uint64_t l = len;
		uint64_t va = rte_vhost_va_from_guest_pa(mem, gpa, &l);

		if (!va || !l)
			return -EFAULT;
		if (c->iovcnt >= BLK_VUB_MAX_IOV)
			return -E2BIG;
		c->iov[c->iovcnt].iov_base = (void *)(uintptr_t)va;
		c->iov[c->iovcnt].iov_len = (size_t)l;
		c->iovcnt++;
		if (writable) {
			c->in_bytes += l;
		} else {
			c->out_bytes += l;
			c->n_out = c->iovcnt;
		}
		gpa += l;
		len -= (uint32_t)l;
	}
	return 0;
}

int blk_vub_parse(struct rte_vhost_memory *mem, const struct vring_desc *desc, uint16_t qsize,
		  uint16_t head, bool indirect, struct blk_vub_chain *c)
{
	const struct vring_desc *table = desc;
	uint32_t num = qsize, idx = head, seen = 0;
	bool in_indirect = false;
	struct vring_desc d;
	int ret;

	c->iovcnt = 0;
	c->n_out = 0;
	c->out_bytes = c->in_bytes = 0;
	for (;;) {
		if (idx >= num)
			return -EINVAL;
		/* A chain visits each entry of its table at most once; anything
		 * longer loops. */
		if (++seen > num || seen > BLK_VUB_MAX_CHAIN)
			return -EINVAL;
		desc_read(&table[idx], &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			uint64_t l = d.len;
			uint64_t va;

			/* Only as the whole chain: not inside an indirect table,
			 * not chained, not after other buffers. */
			if (!indirect || in_indirect || (d.flags & VRING_DESC_F_NEXT) || seen != 1)
				return -EINVAL;
			if (!d.len || d.len % sizeof(struct vring_desc) ||
			    d.len / sizeof(struct vring_desc) > BLK_VUB_MAX_CHAIN)
				return -EINVAL;
			if (d.addr % _Alignof(struct vring_desc))
				return -EINVAL;
			va = rte_vhost_va_from_guest_pa(mem, d.addr, &l);
			if (!va || l != d.len)
				return -EFAULT;   /* the table must be contiguous in one region */
			table = (const struct vring_desc *)(uintptr_t)va;
			num = d.len / sizeof(struct vring_desc);
			idx = 0;
			seen = 0;
			in_indirect = true;
			continue;
		}
		ret = chain_add(mem, c, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
		if (ret)
			return ret;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		idx = d.next;
	}
}

/* ------------------------------------------------------------- decoding */

/* Drops `n` bytes from the front of iov[0..*cnt), copying them to buf. Returns
 * false when there are fewer. */
static bool iov_pull_front(struct iovec **iov, int *cnt, void *buf, size_t n)
{
	uint8_t *out = buf;

	while (n) {
		size_t l;

		if (!*cnt)
			return false;
		l = (*iov)->iov_len < n ? (*iov)->iov_len : n;
		memcpy(out, (*iov)->iov_base, l);
		out += l;
		n -= l;
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + l;
		(*iov)->iov_len -= l;
		if (!(*iov)->iov_len) {
			(*iov)++;
			(*cnt)--;
		}
	}
	return true;
}

static uint64_t iov_bytes(const struct iovec *iov, int cnt)
{
	uint64_t n = 0;

	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

static void iov_copy_to(const struct iovec *iov, int cnt, const void *buf, size_t n)
{
	const uint8_t *in = buf;

	for (int i = 0; i < cnt && n; i++) {
		size_t l = iov[i].iov_len < n ? iov[i].iov_len : n;

		memcpy(iov[i].iov_base, in, l);
		in += l;
		n -= l;
	}
}

static bool range_ok(const struct blk_vub_geom *g, uint64_t sector, uint64_t bytes)
{
	uint64_t max_sector = g->size / BLK_VUB_SECTOR;

	if (sector > max_sector || bytes > g->size - sector * BLK_VUB_SECTOR)
		return false;
	return (sector * BLK_VUB_SECTOR) % g->block_size == 0 && bytes % g->block_size == 0;
}

static void finish(struct blk_vub_req *r, uint8_t status)
{
	r->submit = false;
	r->status = status;
}

/* DISCARD and WRITE_ZEROES carry one segment (max_*_seg is 1). */
static void decode_range(struct blk_vub_req *r, struct iovec *data, int ndata,
			 const struct blk_vub_geom *g, bool zeroes)
{
	struct virtio_blk_discard_write_zeroes seg;
	uint32_t flags, num;
	uint64_t sector;

	if (g->readonly) {
		finish(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	if (!(g->caps & (zeroes ? BLK_CAP_WRITE_ZEROES : BLK_CAP_DISCARD))) {
		finish(r, VIRTIO_BLK_S_UNSUPP);
		return;
	}
	if (iov_bytes(data, ndata) != sizeof(seg) || !iov_pull_front(&data, &ndata, &seg, sizeof(seg))) {
		finish(r, VIRTIO_BLK_S_UNSUPP);    /* only one segment is offered */
		return;
	}
	sector = le64toh(seg.sector);
	num = le32toh(seg.num_sectors);
	flags = le32toh(seg.flags);
	/* Unknown flags, and UNMAP on a discard, are not ours to accept. */
	if (flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
	    (!zeroes && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))) {
		finish(r, VIRTIO_BLK_S_UNSUPP);
		return;
	}
	if (!num || num > (zeroes ? g->max_write_zeroes_sectors : g->max_discard_sectors) ||
	    !range_ok(g, sector, (uint64_t)num * BLK_VUB_SECTOR)) {
		finish(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	r->submit = true;
	r->io_type = zeroes ? BLK_IO_WRITE_ZEROES : BLK_IO_DISCARD;
	r->offset = sector * BLK_VUB_SECTOR;
	r->len = (uint64_t)num * BLK_VUB_SECTOR;
	r->iov = NULL;
	r->iovcnt = 0;
}

int blk_vub_decode(struct blk_vub_chain *c, const struct blk_vub_geom *g, struct blk_vub_req *r)
{
	struct virtio_blk_outhdr hdr;
	struct iovec *out = c->iov, *in = c->iov + c->n_out, *last;
	int n_out = c->n_out, n_in = c->iovcnt - c->n_out;
	uint64_t sector;

	memset(r, 0, sizeof(*r));
	if (!c->in_bytes || !iov_pull_front(&out, &n_out, &hdr, sizeof(hdr)))
		return -EINVAL;
	/* The status byte: the last writable byte. Zero-length entries at the
	 * end do not count. */
	while (n_in && !in[n_in - 1].iov_len)
		n_in--;
	if (!n_in)
		return -EINVAL;
	last = &in[n_in - 1];
	r->status_ptr = (uint8_t *)last->iov_base + last->iov_len - 1;
	if (!--last->iov_len)
		n_in--;
	r->type = le32toh(hdr.type);
	r->used_len = 1;
	sector = le64toh(hdr.sector);

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool write = r->type == VIRTIO_BLK_T_OUT;
		struct iovec *data = write ? out : in;
		int ndata = write ? n_out : n_in;
		uint64_t len = iov_bytes(data, ndata);

		if (write && g->readonly) {
			finish(r, VIRTIO_BLK_S_IOERR);
			break;
		}
		if (len % BLK_VUB_SECTOR || !range_ok(g, sector, len)) {
			finish(r, VIRTIO_BLK_S_IOERR);
			break;
		}
		if (!len) {
			finish(r, VIRTIO_BLK_S_OK);
			break;
		}
		/* Drop empty entries: a bdev may not expect them. */
		int k = 0;

		for (int i = 0; i < ndata; i++)
			if (data[i].iov_len)
				data[k++] = data[i];
		r->submit = true;
		r->io_type = write ? BLK_IO_WRITE : BLK_IO_READ;
		r->offset = sector * BLK_VUB_SECTOR;
		r->len = len;
		r->iov = data;
		r->iovcnt = k;
		if (!write)
			r->used_len = (uint32_t)len + 1;
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		if (!(g->caps & BLK_CAP_FLUSH)) {
			/* Not offered: nothing is cached, so nothing to do. */
			finish(r, VIRTIO_BLK_S_OK);
			break;
		}
		r->submit = true;
		r->io_type = BLK_IO_FLUSH;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		char id[BLK_VUB_ID_BYTES];
		uint64_t room = iov_bytes(in, n_in);
		size_t n = room < sizeof(id) ? (size_t)room : sizeof(id);

		memset(id, 0, sizeof(id));
		if (g->serial)
			memcpy(id, g->serial, strnlen(g->serial, sizeof(id)));
		iov_copy_to(in, n_in, id, n);
		r->used_len = (uint32_t)n + 1;
		finish(r, VIRTIO_BLK_S_OK);
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
		decode_range(r, out, n_out, g, false);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		decode_range(r, out, n_out, g, true);
		break;
	default:
		finish(r, VIRTIO_BLK_S_UNSUPP);
		break;
	}
	return 0;
}
