/* blk_qcow2_meta.c — pure qcow2 metadata code: header parsing and validation,
 * table entry checks, refcount arithmetic, the layout of a new image, and an
 * in-memory whole-image check (fuzzed).
 *
 * Every field is checked before it sizes or addresses anything (the lesson of
 * CVE-2014-0143..0148 and qemu-iotests 080): sizes against their maxima,
 * offsets for alignment and against the file size, tables against each other
 * and the header cluster, and all arithmetic for overflow.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk_image.h"
#include "vsl_util.h"

/* Extension types. */
enum {
	EXT_END = 0,
	EXT_BACKING_FMT = 0xe2792aca,
	EXT_FEATURES = 0x6803f857,
	EXT_BITMAPS = 0x23852875,
	EXT_CRYPTO = 0x0537be77,
	EXT_DATA_FILE = 0x44415441,
};

static inline uint32_t be32_at(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return be32toh(v);
}

static inline uint64_t be64_at(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, 8);
	return be64toh(v);
}

/* [a, a+alen) and [b, b+blen) intersect (lengths > 0, no wrap: checked before). */
static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static const char *incompat_name(unsigned bit)
{
	static const char *const names[] = { "dirty bit (image was not closed cleanly; run "
					     "'qemu-img check -r all')",
					     "corrupt bit (run 'qemu-img check -r all')",
					     "external data file", "compression type",
					     "extended L2 entries (subclusters)" };

	return bit < 5 ? names[bit] : NULL;
}

static int parse_extensions(const uint8_t *p, size_t len, struct blk_qcow2_hdr *h, char *err,
			    size_t errlen)
{
	uint64_t off = h->header_length;
	uint64_t limit = h->cluster_size;

	/* Extensions end before the backing file name when there is one. */
	if (h->backing_offset && h->backing_offset < limit)
		limit = h->backing_offset;
	while (off + 8 <= limit) {
		uint32_t type, elen;

		if (off + 8 > len)
			return -EAGAIN;
		type = be32_at(p, off);
		elen = be32_at(p, off + 4);
		off += 8;
		if (type == EXT_END)
			return 0;
		if (elen > limit - off)
			return vsl_errf(err, errlen, -EINVAL,
				    "header extension 0x%08x: length %u beyond the header cluster",
				    type, elen);
		if (off + elen > len)
			return -EAGAIN;
		switch (type) {
		case EXT_BACKING_FMT:
			if (elen >= sizeof(h->backing_fmt))
				return vsl_errf(err, errlen, -EINVAL, "backing format name too long (%u)",
					    elen);
			memcpy(h->backing_fmt, p + off, elen);
			h->backing_fmt[elen] = '\0';
			if (strlen(h->backing_fmt) != elen)
				return vsl_errf(err, errlen, -EINVAL, "backing format name has a NUL");
			break;
		case EXT_CRYPTO:
			return vsl_errf(err, errlen, -ENOTSUP, "encryption is not supported");
		case EXT_DATA_FILE:
			return vsl_errf(err, errlen, -ENOTSUP, "external data file is not supported");
		default:
			break;      /* feature names, bitmaps (autoclear), unknown: skipped */
		}
		off += ((uint64_t)elen + 7) & ~7ull;
	}
	return 0;
}

int blk_qcow2_hdr_parse(const void *buf, size_t len, uint64_t file_size, bool for_write,
			struct blk_qcow2_hdr *h, char *err, size_t errlen)
{
	const uint8_t *p = buf;
	uint64_t cs, l2_cover, l1_bytes, reft_bytes, known;
	int ret;

	memset(h, 0, sizeof(*h));
	if (len < 72 || be32_at(p, 0) != BLK_QCOW2_MAGIC)
		return vsl_errf(err, errlen, -EINVAL, "not a qcow2 image (bad magic)");
	h->version = be32_at(p, 4);
	if (h->version != 3)
		return vsl_errf(err, errlen, -ENOTSUP,
			    "qcow2 version %u is not supported (version 3 only; convert with "
			    "'qemu-img amend -o compat=1.1')",
			    h->version);
	if (len < BLK_QCOW2_V3_HDR_LEN)
		return vsl_errf(err, errlen, -EINVAL, "truncated qcow2 header");
	h->backing_offset = be64_at(p, 8);
	h->backing_len = be32_at(p, 16);
	h->cluster_bits = be32_at(p, 20);
	h->size = be64_at(p, 24);
	h->l1_size = be32_at(p, 36);
	h->l1_offset = be64_at(p, 40);
	h->reftable_offset = be64_at(p, 48);
	h->reftable_clusters = be32_at(p, 56);
	h->nb_snapshots = be32_at(p, 60);
	h->incompat = be64_at(p, 72);
	h->compat = be64_at(p, 80);
	h->autoclear = be64_at(p, 88);
	h->refcount_order = be32_at(p, 96);
	h->header_length = be32_at(p, 100);

	if (h->cluster_bits < BLK_QCOW2_MIN_CLUSTER_BITS ||
	    h->cluster_bits > BLK_QCOW2_MAX_CLUSTER_BITS)
		return vsl_errf(err, errlen, -EINVAL, "cluster_bits %u out of range (%u..%u)",
			    h->cluster_bits, BLK_QCOW2_MIN_CLUSTER_BITS,
			    BLK_QCOW2_MAX_CLUSTER_BITS);
	cs = h->cluster_size = 1ull << h->cluster_bits;
	h->l2_bits = h->cluster_bits - 3;
	if (h->header_length < BLK_QCOW2_V3_HDR_LEN || h->header_length % 8 ||
	    h->header_length > cs)
		return vsl_errf(err, errlen, -EINVAL, "header_length %u invalid", h->header_length);
	if (be32_at(p, 32) != 0)
		return vsl_errf(err, errlen, -ENOTSUP, "encryption is not supported (crypt_method %u)",
			    be32_at(p, 32));
	/* Incompatible features: name every one we refuse. */
	known = BLK_QCOW2_INCOMPAT_DIRTY | BLK_QCOW2_INCOMPAT_CORRUPT |
		BLK_QCOW2_INCOMPAT_DATA_FILE | BLK_QCOW2_INCOMPAT_COMPRESSION |
		BLK_QCOW2_INCOMPAT_EXTL2;
	if (h->incompat & ~known) {
		unsigned bit = (unsigned)__builtin_ctzll(h->incompat & ~known);

		return vsl_errf(err, errlen, -ENOTSUP, "unknown incompatible feature bit %u", bit);
	}
	for (unsigned bit = 1; bit < 5; bit++)
		if (h->incompat & (1ull << bit))
			return vsl_errf(err, errlen, -ENOTSUP, "unsupported qcow2 feature: %s",
				    incompat_name(bit));
	if ((h->incompat & BLK_QCOW2_INCOMPAT_DIRTY) && for_write)
		return vsl_errf(err, errlen, -ENOTSUP, "unsupported qcow2 feature: %s",
			    incompat_name(0));
	if (h->header_length > 104 && len >= 105 && p[104] != 0)
		return vsl_errf(err, errlen, -ENOTSUP, "compression type %u is not supported", p[104]);
	if (h->refcount_order > 6)
		return vsl_errf(err, errlen, -EINVAL, "refcount_order %u out of range (0..6)",
			    h->refcount_order);
	h->rb_bits = h->cluster_bits + 3 - h->refcount_order;
	if (h->nb_snapshots)
		return vsl_errf(err, errlen, -ENOTSUP,
			    "internal snapshots are not supported (%u in the image)",
			    h->nb_snapshots);

	/* Size and L1. */
	if (h->size == 0 || h->size % 512 || h->size > BLK_QCOW2_MAX_SIZE)
		return vsl_errf(err, errlen, -EINVAL,
			    "virtual size %" PRIu64 " invalid (a non-zero multiple of 512 up to "
			    "2^56)",
			    h->size);
	l2_cover = 1ull << (h->cluster_bits + h->l2_bits);
	h->l1_needed = (h->size + l2_cover - 1) / l2_cover;
	if (h->l1_size > BLK_QCOW2_MAX_L1_ENTRIES)
		return vsl_errf(err, errlen, -EINVAL, "L1 table too large (%u entries)", h->l1_size);
	if (h->l1_size < h->l1_needed)
		return vsl_errf(err, errlen, -EINVAL,
			    "L1 table too small for the image size (%u < %" PRIu64 " entries)",
			    h->l1_size, h->l1_needed);
	l1_bytes = (uint64_t)h->l1_size * 8;
	if (h->l1_offset % cs)
		return vsl_errf(err, errlen, -EINVAL, "L1 table offset 0x%" PRIx64 " not cluster-aligned",
			    h->l1_offset);
	if (h->l1_size && h->l1_offset < cs)
		return vsl_errf(err, errlen, -EINVAL, "L1 table overlaps the header");
	if (h->l1_offset > file_size || l1_bytes > file_size - h->l1_offset)
		return vsl_errf(err, errlen, -EINVAL, "L1 table beyond the end of the file");

	/* Refcount table. */
	if (h->reftable_clusters == 0)
		return vsl_errf(err, errlen, -EINVAL, "refcount table is empty");
	if ((uint64_t)h->reftable_clusters > BLK_QCOW2_MAX_REFTABLE_BYTES / cs)
		return vsl_errf(err, errlen, -EINVAL, "refcount table too large (%u clusters)",
			    h->reftable_clusters);
	reft_bytes = (uint64_t)h->reftable_clusters * cs;
	if (h->reftable_offset % cs)
		return vsl_errf(err, errlen, -EINVAL,
			    "refcount table offset 0x%" PRIx64 " not cluster-aligned",
			    h->reftable_offset);
	if (h->reftable_offset < cs)
		return vsl_errf(err, errlen, -EINVAL, "refcount table overlaps the header");
	if (h->reftable_offset > file_size || reft_bytes > file_size - h->reftable_offset)
		return vsl_errf(err, errlen, -EINVAL, "refcount table beyond the end of the file");
	if (h->l1_size && overlaps(h->l1_offset, l1_bytes, h->reftable_offset, reft_bytes))
		return vsl_errf(err, errlen, -EINVAL, "L1 table overlaps the refcount table");

	/* Backing file name: inside the header cluster, after the header. */
	if (h->backing_offset) {
		if (h->backing_len == 0 || h->backing_len > BLK_QCOW2_MAX_BACKING_NAME)
			return vsl_errf(err, errlen, -EINVAL, "backing file name length %u invalid",
				    h->backing_len);
		if (h->backing_offset < h->header_length || h->backing_offset > cs ||
		    h->backing_len > cs - h->backing_offset)
			return vsl_errf(err, errlen, -EINVAL, "backing file name outside the header");
		if (h->backing_offset + h->backing_len > len)
			return -EAGAIN;
		memcpy(h->backing, p + h->backing_offset, h->backing_len);
		h->backing[h->backing_len] = '\0';
		if (strlen(h->backing) != h->backing_len)
			return vsl_errf(err, errlen, -EINVAL, "backing file name has a NUL");
	}
	ret = parse_extensions(p, len, h, err, errlen);
	if (ret)
		return ret;
	return 0;
}

int blk_qcow2_l1_entry_check(const struct blk_qcow2_hdr *h, uint64_t e, uint64_t end, char *err,
			     size_t errlen)
{
	uint64_t off = e & BLK_QCOW2_OFFSET_MASK;

	if (e & BLK_QCOW2_L1_RESERVED)
		return vsl_errf(err, errlen, -EINVAL, "L1 entry 0x%016" PRIx64 " has reserved bits", e);
	if (!off)
		return e & BLK_QCOW2_OFLAG_COPIED
			       ? vsl_errf(err, errlen, -EINVAL, "L1 entry copied flag without table")
			       : 0;
	if (off % h->cluster_size)
		return vsl_errf(err, errlen, -EINVAL, "L2 table offset 0x%" PRIx64 " not aligned", off);
	if (off < h->cluster_size || off >= end || h->cluster_size > end - off)
		return vsl_errf(err, errlen, -EINVAL, "L2 table offset 0x%" PRIx64 " outside the image",
			    off);
	return 0;
}

int blk_qcow2_l2_entry_check(const struct blk_qcow2_hdr *h, uint64_t e, uint64_t end, char *err,
			     size_t errlen)
{
	uint64_t off = e & BLK_QCOW2_OFFSET_MASK;

	if (e & BLK_QCOW2_OFLAG_COMPRESSED)
		return vsl_errf(err, errlen, -ENOTSUP, "compressed clusters are not supported");
	if (e & BLK_QCOW2_L2_RESERVED)
		return vsl_errf(err, errlen, -EINVAL, "L2 entry 0x%016" PRIx64 " has reserved bits", e);
	if (!off)
		return 0;
	if (off % h->cluster_size)
		return vsl_errf(err, errlen, -EINVAL, "data cluster offset 0x%" PRIx64 " not aligned",
			    off);
	if (off < h->cluster_size || off >= end || h->cluster_size > end - off)
		return vsl_errf(err, errlen, -EINVAL,
			    "data cluster offset 0x%" PRIx64 " past the end of the image", off);
	return 0;
}

int blk_qcow2_reft_entry_check(const struct blk_qcow2_hdr *h, uint64_t e, uint64_t end,
			       char *err, size_t errlen)
{
	if (e & BLK_QCOW2_REFT_RESERVED)
		return vsl_errf(err, errlen, -EINVAL,
			    "refcount table entry 0x%016" PRIx64 " has reserved bits", e);
	if (!e)
		return 0;
	if (e % h->cluster_size)
		return vsl_errf(err, errlen, -EINVAL, "refcount block offset 0x%" PRIx64 " not aligned",
			    e);
	if (e < h->cluster_size || e >= end || h->cluster_size > end - e)
		return vsl_errf(err, errlen, -EINVAL,
			    "refcount block offset 0x%" PRIx64 " outside the image", e);
	return 0;
}

/* ------------------------------------------------------------- refcounts */

uint64_t blk_qcow2_refcount_get(const void *block, uint32_t order, uint64_t idx)
{
	const uint8_t *p = block;
	unsigned bits = 1u << order;

	switch (order) {
	case 0:
	case 1:
	case 2:
		/* Sub-byte widths: the first entry in the least significant bits. */
		return (p[idx * bits / 8] >> (idx * bits % 8)) & ((1u << bits) - 1);
	case 3:
		return p[idx];
	case 4:
		return ((uint64_t)p[idx * 2] << 8) | p[idx * 2 + 1];
	case 5:
		return be32_at(p, idx * 4);
	default:
		return be64_at(p, idx * 8);
	}
}

int blk_qcow2_refcount_set(void *block, uint32_t order, uint64_t idx, uint64_t v)
{
	uint8_t *p = block;
	unsigned bits = 1u << order;
	uint32_t v32;

	if (order > 6 || (bits < 64 && v >> bits))
		return -ERANGE;
	switch (order) {
	case 0:
	case 1:
	case 2: {
		unsigned shift = (unsigned)(idx * bits % 8);
		uint8_t mask = (uint8_t)(((1u << bits) - 1) << shift);

		p[idx * bits / 8] = (uint8_t)((p[idx * bits / 8] & ~mask) | (v << shift));
		break;
	}
	case 3:
		p[idx] = (uint8_t)v;
		break;
	case 4:
		p[idx * 2] = (uint8_t)(v >> 8);
		p[idx * 2 + 1] = (uint8_t)v;
		break;
	case 5:
		v32 = htobe32((uint32_t)v);
		memcpy(p + idx * 4, &v32, 4);
		break;
	default:
		v = htobe64(v);
		memcpy(p + idx * 8, &v, 8);
		break;
	}
	return 0;
}

int blk_qcow2_refcount_add(void *block, uint32_t order, uint64_t idx, int64_t delta)
{
	uint64_t cur = blk_qcow2_refcount_get(block, order, idx);
	uint64_t max = order >= 6 ? UINT64_MAX : (1ull << (1u << order)) - 1;

	if (delta < 0 && (uint64_t)(-delta) > cur)
		return -ERANGE;
	if (delta > 0 && (uint64_t)delta > max - cur)
		return -ERANGE;
	return blk_qcow2_refcount_set(block, order, idx, cur + (uint64_t)delta);
}

/* ---------------------------------------------------------------- layout */

int blk_qcow2_layout(const struct blk_qcow2_new *n, void **out, size_t *out_len, char *err,
		     size_t errlen)
{
	uint32_t cb = n->cluster_bits ? n->cluster_bits : 16;
	uint64_t cs, l1_entries, l1_clusters, reft_clusters = 1, total, hdr_len = 112;
	uint64_t reft_cover;
	size_t blen = n->backing ? strlen(n->backing) : 0;
	size_t flen = n->backing_fmt ? strlen(n->backing_fmt) : 0;
	uint8_t *p;
	uint64_t off;

	if (cb < BLK_QCOW2_MIN_CLUSTER_BITS || cb > BLK_QCOW2_MAX_CLUSTER_BITS)
		return vsl_errf(err, errlen, -EINVAL, "cluster size must be a power of two, 512..2M");
	cs = 1ull << cb;
	if (n->size == 0 || n->size % 512 || n->size > BLK_QCOW2_MAX_SIZE)
		return vsl_errf(err, errlen, -EINVAL, "size must be a non-zero multiple of 512");
	if (blen > BLK_QCOW2_MAX_BACKING_NAME || flen >= 32)
		return vsl_errf(err, errlen, -EINVAL, "backing file name too long");
	if (hdr_len + (flen ? 8 + ((flen + 7) & ~7u) : 0) + 8 + blen > cs)
		return vsl_errf(err, errlen, -EINVAL, "backing file name does not fit the header");
	l1_entries = (n->size + (cs << (cb - 3)) - 1) / (cs << (cb - 3));
	if (l1_entries > BLK_QCOW2_MAX_L1_ENTRIES)
		return vsl_errf(err, errlen, -EINVAL, "size too large for this cluster size");
	l1_clusters = (l1_entries * 8 + cs - 1) / cs;
	/* One refcount block (16-bit: cs/2 clusters) covers the first clusters; the
	 * table covers the metadata for the full size and the data twice over
	 * (appends after discards), bounded by the maximum table size. */
	reft_cover = (cs / 2) * cs;
	{
		uint64_t want = 2 * n->size + 4 * l1_entries * cs + 16 * cs;
		uint64_t blocks = want / reft_cover + 1;

		reft_clusters = (blocks * 8 + cs - 1) / cs;
		if (reft_clusters * cs > BLK_QCOW2_MAX_REFTABLE_BYTES)
			reft_clusters = BLK_QCOW2_MAX_REFTABLE_BYTES / cs;
	}
	/* header | refcount table | refcount block | L1 table */
	total = (1 + reft_clusters + 1 + l1_clusters) * cs;
	if (1 + reft_clusters + 1 + l1_clusters > cs / 2)
		return vsl_errf(err, errlen, -EINVAL, "metadata does not fit one refcount block");
	p = aligned_alloc(4096, (total + 4095) & ~4095ull);
	if (!p)
		return -ENOMEM;
	memset(p, 0, total);
#define PUT32(o, v) do { uint32_t t_ = htobe32((uint32_t)(v)); memcpy(p + (o), &t_, 4); } while (0)
#define PUT64(o, v) do { uint64_t t_ = htobe64((uint64_t)(v)); memcpy(p + (o), &t_, 8); } while (0)
	PUT32(0, BLK_QCOW2_MAGIC);
	PUT32(4, 3);
	PUT32(20, cb);
	PUT64(24, n->size);
	PUT32(36, l1_entries);
	PUT64(40, (2 + reft_clusters) * cs);
	PUT64(48, cs);
	PUT32(56, reft_clusters);
	PUT32(96, 4);
	PUT32(100, hdr_len);
	off = hdr_len;
	if (flen) {
		PUT32(off, EXT_BACKING_FMT);
		PUT32(off + 4, flen);
		memcpy(p + off + 8, n->backing_fmt, flen);
		off += 8 + ((flen + 7) & ~7u);
	}
	off += 8;   /* end of extensions: type 0, length 0 */
	if (blen) {
		PUT64(8, off);
		PUT32(16, blen);
		memcpy(p + off, n->backing, blen);
	}
	/* Refcount table entry 0 -> the refcount block; refcounts of the metadata. */
	PUT64(cs, (1 + reft_clusters) * cs);
	for (uint64_t c = 0; c < 2 + reft_clusters + l1_clusters; c++)
		blk_qcow2_refcount_set(p + (1 + reft_clusters) * cs, 4, c, 1);
#undef PUT32
#undef PUT64
	*out = p;
	*out_len = total;
	return 0;
}

/* ------------------------------------------------- in-memory image check */

static int check_refcount_of(const struct blk_qcow2_hdr *h, const uint8_t *img, size_t len,
			     const uint8_t *reft, uint64_t host, char *err, size_t errlen)
{
	uint64_t ri = blk_qcow2_reft_index(h, host), rb;

	if (ri >= (uint64_t)h->reftable_clusters * h->cluster_size / 8)
		return vsl_errf(err, errlen, -EINVAL, "cluster 0x%" PRIx64 " beyond the refcount table",
			    host);
	rb = be64_at(reft, ri * 8);
	if (!rb || rb + h->cluster_size > len)
		return vsl_errf(err, errlen, -EINVAL, "cluster 0x%" PRIx64 " has no refcount block",
			    host);
	if (blk_qcow2_refcount_get(img + rb, h->refcount_order, blk_qcow2_rb_index(h, host)) == 0)
		return vsl_errf(err, errlen, -EINVAL, "cluster 0x%" PRIx64 " in use with refcount 0",
			    host);
	return 0;
}

int blk_qcow2_image_check_mem(const void *buf, size_t len, char *err, size_t errlen)
{
	const uint8_t *img = buf;
	struct blk_qcow2_hdr h;
	const uint8_t *l1, *reft;
	uint64_t reft_entries;
	int ret;

	ret = blk_qcow2_hdr_parse(img, len, len, false, &h, err, errlen);
	if (ret == -EAGAIN)
		return vsl_errf(err, errlen, -EINVAL, "image shorter than its header");
	if (ret)
		return ret;
	l1 = img + h.l1_offset;
	reft = img + h.reftable_offset;
	reft_entries = (uint64_t)h.reftable_clusters * h.cluster_size / 8;
	for (uint64_t i = 0; i < reft_entries; i++) {
		ret = blk_qcow2_reft_entry_check(&h, be64_at(reft, i * 8), len, err, errlen);
		if (ret)
			return ret;
	}
	ret = check_refcount_of(&h, img, len, reft, 0, err, errlen);
	if (ret)
		return ret;
	for (uint64_t i = 0; i < h.l1_size; i++) {
		uint64_t e = be64_at(l1, i * 8), l2;

		ret = blk_qcow2_l1_entry_check(&h, e, len, err, errlen);
		if (ret)
			return ret;
		l2 = e & BLK_QCOW2_OFFSET_MASK;
		if (!l2)
			continue;
		if (i >= h.l1_needed)
			return vsl_errf(err, errlen, -EINVAL, "L1 entry %" PRIu64 " beyond the size", i);
		ret = check_refcount_of(&h, img, len, reft, l2, err, errlen);
		if (ret)
			return ret;
		for (uint64_t j = 0; j < (1ull << h.l2_bits); j++) {
			uint64_t d = be64_at(img + l2, j * 8);

			ret = blk_qcow2_l2_entry_check(&h, d, len, err, errlen);
			if (ret)
				return ret;
			if (d & BLK_QCOW2_OFFSET_MASK) {
				ret = check_refcount_of(&h, img, len, reft, d & BLK_QCOW2_OFFSET_MASK,
							err, errlen);
				if (ret)
					return ret;
			}
		}
	}
	return 0;
}
