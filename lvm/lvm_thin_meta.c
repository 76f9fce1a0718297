/* lvm_thin_meta.c — thin pool superblock and checkpoint encode, decode and
 * validation (see lvm_thin_meta.h). Pure: no I/O, no global state. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvm_meta.h"
#include "lvm_thin_meta.h"
#include "vsl_crc32c.h"
#include "vsl_util.h"

static bool zero16(const uint8_t *u)
{
	static const uint8_t z[16];

	return !memcmp(u, z, 16);
}

static uint64_t log_want(uint64_t meta_size)
{
	return VSL_MAX(meta_size / 8 / LVM_BLOCK * LVM_BLOCK, (uint64_t)LVM_THIN_LOG_MIN);
}

uint64_t lvm_thin_slot_size(uint64_t meta_size)
{
	if (meta_size < LVM_THIN_SLOT0 + 2 * LVM_BLOCK + log_want(meta_size))
		return 0;
	return (meta_size - LVM_THIN_SLOT0 - log_want(meta_size)) / 2 / LVM_BLOCK * LVM_BLOCK;
}

uint64_t lvm_thin_log_offset(uint64_t meta_size)
{
	return LVM_THIN_SLOT0 + 2 * lvm_thin_slot_size(meta_size);
}

uint64_t lvm_thin_log_size(uint64_t meta_size)
{
	uint64_t off = lvm_thin_log_offset(meta_size);

	return meta_size > off ? (meta_size - off) / LVM_BLOCK * LVM_BLOCK : 0;
}

uint64_t lvm_thin_max_maps(uint64_t slot_size, uint32_t n_devs)
{
	uint64_t fixed = sizeof(struct lvm_thin_disk_hdr) +
			 (uint64_t)n_devs * sizeof(struct lvm_thin_disk_dev);

	return slot_size > fixed ? (slot_size - fixed) / sizeof(struct lvm_thin_disk_map) : 0;
}

size_t lvm_thin_md_len(const struct lvm_thin_md *md)
{
	size_t n = sizeof(struct lvm_thin_disk_hdr) + md->n_devs * sizeof(struct lvm_thin_disk_dev) +
		   md->n_maps * sizeof(struct lvm_thin_disk_map);

	return (n + LVM_BLOCK - 1) / LVM_BLOCK * LVM_BLOCK;
}

void lvm_thin_md_free(struct lvm_thin_md *md)
{
	if (!md)
		return;
	free(md->devs);
	free(md->maps);
	free(md);
}

int lvm_thin_md_check(const struct lvm_thin_md *md, char *err, size_t errlen)
{
	if (zero16(md->pool_uuid))
		return vsl_errf(err, errlen, -EINVAL, "thin metadata: zero pool UUID");
	if (!vsl_is_pow2(md->chunk_size) || md->chunk_size < LVM_THIN_CHUNK_MIN ||
	    md->chunk_size > LVM_EXTENT_MAX)
		return vsl_errf(err, errlen, -EINVAL, "thin metadata: bad chunk size %u",
				md->chunk_size);
	if (md->data_chunks == 0 || md->data_chunks > LVM_THIN_CHUNKS_MAX)
		return vsl_errf(err, errlen, -EINVAL, "thin metadata: bad data chunk count %llu",
				(unsigned long long)md->data_chunks);
	if (md->n_devs > LVM_THIN_MAX_DEVS)
		return vsl_errf(err, errlen, -EINVAL, "thin metadata: %u devices", md->n_devs);
	for (uint32_t i = 0; i < md->n_devs; i++) {
		const struct lvm_thin_dev_md *d = &md->devs[i];

		if (d->id == 0 || d->id > LVM_THIN_ID_MAX || (i && d->id <= md->devs[i - 1].id))
			return vsl_errf(err, errlen, -EINVAL,
					"thin metadata: device %u: id %u zero, too big or not sorted", i,
					d->id);
		if (d->origin > LVM_THIN_ID_MAX || d->origin == d->id)
			return vsl_errf(err, errlen, -EINVAL, "thin metadata: device %u: bad origin %u",
					d->id, d->origin);
	}
	for (uint64_t i = 0, dev = 0; i < md->n_maps; i++) {
		const struct lvm_thin_map_md *m = &md->maps[i];

		if (i && (m->dev < md->maps[i - 1].dev ||
			  (m->dev == md->maps[i - 1].dev && m->vchunk <= md->maps[i - 1].vchunk)))
			return vsl_errf(err, errlen, -EINVAL,
					"thin metadata: mapping %llu not sorted (or twice)",
					(unsigned long long)i);
		while (dev < md->n_devs && md->devs[dev].id < m->dev)
			dev++;
		if (dev == md->n_devs || md->devs[dev].id != m->dev)
			return vsl_errf(err, errlen, -EINVAL,
					"thin metadata: mapping %llu names unknown device %u",
					(unsigned long long)i, m->dev);
		if (m->vchunk >= LVM_THIN_VCHUNK_MAX)
			return vsl_errf(err, errlen, -EINVAL,
					"thin metadata: mapping %llu: virtual chunk %llu impossible",
					(unsigned long long)i, (unsigned long long)m->vchunk);
		if (m->pchunk >= md->data_chunks)
			return vsl_errf(err, errlen, -EINVAL,
					"thin metadata: mapping %llu: pool chunk %u past the data LV",
					(unsigned long long)i, m->pchunk);
	}
	return 0;
}

uint32_t lvm_thin_md_encode(const struct lvm_thin_md *md, void *buf)
{
	size_t len = lvm_thin_md_len(md), off = sizeof(struct lvm_thin_disk_hdr);
	unsigned char *p = buf;
	struct lvm_thin_disk_hdr h = { 0 };
	uint32_t crc;

	memset(buf, 0, len);
	memcpy(h.magic, LVM_THIN_MD_MAGIC, 8);
	h.version = htole32(LVM_THIN_VERSION);
	h.seq = htole64(md->seq);
	memcpy(h.pool_uuid, md->pool_uuid, 16);
	h.chunk_size = htole32(md->chunk_size);
	h.len = htole32((uint32_t)len);
	h.data_chunks = htole64(md->data_chunks);
	h.n_devs = htole32(md->n_devs);
	h.n_maps = htole64(md->n_maps);
	memcpy(p, &h, sizeof(h));
	for (uint32_t i = 0; i < md->n_devs; i++, off += sizeof(struct lvm_thin_disk_dev)) {
		struct lvm_thin_disk_dev d = { htole32(md->devs[i].id), htole32(md->devs[i].origin) };

		memcpy(p + off, &d, sizeof(d));
	}
	for (uint64_t i = 0; i < md->n_maps; i++, off += sizeof(struct lvm_thin_disk_map)) {
		struct lvm_thin_disk_map d = { htole32(md->maps[i].dev), htole32(md->maps[i].pchunk),
					       htole64(md->maps[i].vchunk) };

		memcpy(p + off, &d, sizeof(d));
	}
	crc = vsl_crc32c(0, buf, len);
	h.crc = htole32(crc);
	memcpy(p, &h, sizeof(h));
	return crc;
}

int lvm_thin_md_decode(const void *buf, size_t len, struct lvm_thin_md **out, char *err,
		       size_t errlen)
{
	const unsigned char *p = buf;
	struct lvm_thin_disk_hdr h;
	struct lvm_thin_md *md;
	uint32_t rlen, crc;
	uint64_t need;
	size_t off = sizeof(h);
	unsigned char *tmp;
	char why[160];
	int ret;

	*out = NULL;
	if (len < sizeof(h) || memcmp(p, LVM_THIN_MD_MAGIC, 8))
		return -ENODATA;
	memcpy(&h, p, sizeof(h));
	if (le32toh(h.version) != LVM_THIN_VERSION)
		return vsl_errf(err, errlen, -EBADMSG, "thin metadata version %u unknown",
				le32toh(h.version));
	rlen = le32toh(h.len);
	if (rlen < LVM_BLOCK || rlen % LVM_BLOCK || rlen > len)
		return vsl_errf(err, errlen, -EBADMSG, "thin metadata length %u impossible", rlen);
	if (le32toh(h.n_devs) > LVM_THIN_MAX_DEVS || le64toh(h.n_maps) > rlen)
		return vsl_errf(err, errlen, -EBADMSG, "thin metadata table counts out of range");
	need = sizeof(h) + (uint64_t)le32toh(h.n_devs) * sizeof(struct lvm_thin_disk_dev) +
	       le64toh(h.n_maps) * sizeof(struct lvm_thin_disk_map);
	if (need > rlen || (need + LVM_BLOCK - 1) / LVM_BLOCK * LVM_BLOCK != rlen)
		return vsl_errf(err, errlen, -EBADMSG, "thin metadata tables do not fill the record");
	tmp = malloc(rlen);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, p, rlen);
	memset(tmp + offsetof(struct lvm_thin_disk_hdr, crc), 0, 4);
	crc = vsl_crc32c(0, tmp, rlen);
	free(tmp);
	if (crc != le32toh(h.crc))
		return vsl_errf(err, errlen, -EBADMSG, "thin metadata CRC mismatch");
	if (h.pad)
		return vsl_errf(err, errlen, -EBADMSG, "thin metadata: junk in the header");
	for (size_t i = need; i < rlen; i++)
		if (p[i])
			return vsl_errf(err, errlen, -EBADMSG, "thin metadata: junk after the tables");
	md = calloc(1, sizeof(*md));
	if (!md)
		return -ENOMEM;
	md->seq = le64toh(h.seq);
	memcpy(md->pool_uuid, h.pool_uuid, 16);
	md->chunk_size = le32toh(h.chunk_size);
	md->data_chunks = le64toh(h.data_chunks);
	md->n_devs = le32toh(h.n_devs);
	md->n_maps = le64toh(h.n_maps);
	md->devs = calloc(md->n_devs ? md->n_devs : 1, sizeof(*md->devs));
	md->maps = calloc(md->n_maps ? md->n_maps : 1, sizeof(*md->maps));
	if (!md->devs || !md->maps) {
		ret = -ENOMEM;
		goto err_md;
	}
	for (uint32_t i = 0; i < md->n_devs; i++, off += sizeof(struct lvm_thin_disk_dev)) {
		struct lvm_thin_disk_dev d;

		memcpy(&d, p + off, sizeof(d));
		md->devs[i].id = le32toh(d.id);
		md->devs[i].origin = le32toh(d.origin);
	}
	for (uint64_t i = 0; i < md->n_maps; i++, off += sizeof(struct lvm_thin_disk_map)) {
		struct lvm_thin_disk_map d;

		memcpy(&d, p + off, sizeof(d));
		md->maps[i].dev = le32toh(d.dev);
		md->maps[i].pchunk = le32toh(d.pchunk);
		md->maps[i].vchunk = le64toh(d.vchunk);
	}
	ret = lvm_thin_md_check(md, why, sizeof(why));
	if (ret) {
		ret = vsl_errf(err, errlen, -EBADMSG, "impossible %s", why);
		goto err_md;
	}
	*out = md;
	return 0;

err_md:
	lvm_thin_md_free(md);
	return ret;
}

/* -------------------------------------------------------------- the log */

size_t lvm_thin_log_len(uint64_t n_maps)
{
	size_t n = sizeof(struct lvm_thin_disk_log) + n_maps * sizeof(struct lvm_thin_disk_map);

	return (n + LVM_BLOCK - 1) / LVM_BLOCK * LVM_BLOCK;
}

uint64_t lvm_thin_log_max_maps(uint64_t len)
{
	len = len / LVM_BLOCK * LVM_BLOCK;
	return len > sizeof(struct lvm_thin_disk_log)
		       ? (len - sizeof(struct lvm_thin_disk_log)) / sizeof(struct lvm_thin_disk_map)
		       : 0;
}

void lvm_thin_log_free(struct lvm_thin_log *l)
{
	if (!l)
		return;
	free(l->maps);
	free(l);
}

void lvm_thin_log_encode(const struct lvm_thin_log *l, void *buf)
{
	size_t len = lvm_thin_log_len(l->n_maps), off = sizeof(struct lvm_thin_disk_log);
	unsigned char *p = buf;
	struct lvm_thin_disk_log h = { 0 };

	memset(buf, 0, len);
	memcpy(h.magic, LVM_THIN_LOG_MAGIC, 8);
	h.version = htole32(LVM_THIN_VERSION);
	h.seq = htole64(l->seq);
	h.base = htole64(l->base);
	memcpy(h.pool_uuid, l->pool_uuid, 16);
	h.len = htole32((uint32_t)len);
	h.flags = htole32(l->flags);
	h.n_maps = htole64(l->n_maps);
	memcpy(p, &h, sizeof(h));
	for (uint64_t i = 0; i < l->n_maps; i++, off += sizeof(struct lvm_thin_disk_map)) {
		struct lvm_thin_disk_map d = { htole32(l->maps[i].dev), htole32(l->maps[i].pchunk),
					       htole64(l->maps[i].vchunk) };

		memcpy(p + off, &d, sizeof(d));
	}
	h.crc = htole32(vsl_crc32c(0, buf, len));
	memcpy(p, &h, sizeof(h));
}

uint32_t lvm_thin_log_len_of(const void *block, size_t len)
{
	struct lvm_thin_disk_log h;

	if (len < sizeof(h) || memcmp(block, LVM_THIN_LOG_MAGIC, 8))
		return 0;
	memcpy(&h, block, sizeof(h));
	return le32toh(h.len);
}

int lvm_thin_log_decode(const void *buf, size_t len, struct lvm_thin_log **out, char *err,
			size_t errlen)
{
	const unsigned char *p = buf;
	struct lvm_thin_disk_log h;
	struct lvm_thin_log *l;
	unsigned char *tmp;
	uint64_t n;
	uint32_t rlen, crc;
	size_t off = sizeof(h);

	*out = NULL;
	if (len < sizeof(h) || memcmp(p, LVM_THIN_LOG_MAGIC, 8))
		return -ENODATA;
	memcpy(&h, p, sizeof(h));
	if (le32toh(h.version) != LVM_THIN_VERSION)
		return vsl_errf(err, errlen, -EBADMSG, "thin log record version %u unknown",
				le32toh(h.version));
	rlen = le32toh(h.len);
	if (rlen < LVM_BLOCK || rlen % LVM_BLOCK || rlen > len)
		return vsl_errf(err, errlen, -EBADMSG, "thin log record length %u impossible", rlen);
	n = le64toh(h.n_maps);
	if (n > lvm_thin_log_max_maps(rlen) || lvm_thin_log_len(n) != rlen)
		return vsl_errf(err, errlen, -EBADMSG,
				"thin log record: %llu entries do not fill %u bytes",
				(unsigned long long)n, rlen);
	tmp = malloc(rlen);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, p, rlen);
	memset(tmp + offsetof(struct lvm_thin_disk_log, crc), 0, 4);
	crc = vsl_crc32c(0, tmp, rlen);
	free(tmp);
	if (crc != le32toh(h.crc))
		return vsl_errf(err, errlen, -EBADMSG, "thin log record CRC mismatch");
	if (le32toh(h.flags) & ~(uint32_t)LVM_THIN_LOG_CLEAN)
		return vsl_errf(err, errlen, -EBADMSG, "thin log record: unknown flags %#x",
				le32toh(h.flags));
	if (zero16(h.pool_uuid) || le64toh(h.seq) <= le64toh(h.base))
		return vsl_errf(err, errlen, -EBADMSG,
				"thin log record: zero pool UUID or sequence not after its base");
	for (size_t i = sizeof(h) + n * sizeof(struct lvm_thin_disk_map); i < rlen; i++)
		if (p[i])
			return vsl_errf(err, errlen, -EBADMSG, "thin log record: junk after the entries");
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->maps = calloc(n ? n : 1, sizeof(*l->maps));
	if (!l->maps) {
		free(l);
		return -ENOMEM;
	}
	l->seq = le64toh(h.seq);
	l->base = le64toh(h.base);
	memcpy(l->pool_uuid, h.pool_uuid, 16);
	l->flags = le32toh(h.flags);
	l->n_maps = n;
	for (uint64_t i = 0; i < n; i++, off += sizeof(struct lvm_thin_disk_map)) {
		struct lvm_thin_disk_map d;
		struct lvm_thin_map_md *m = &l->maps[i];

		memcpy(&d, p + off, sizeof(d));
		m->dev = le32toh(d.dev);
		m->pchunk = le32toh(d.pchunk);
		m->vchunk = le64toh(d.vchunk);
		if (m->dev == 0 || m->dev > LVM_THIN_ID_MAX || m->vchunk >= LVM_THIN_VCHUNK_MAX ||
		    (m->pchunk > LVM_THIN_CHUNKS_MAX && m->pchunk != LVM_THIN_UNMAPPED) ||
		    (i && (m->dev < l->maps[i - 1].dev ||
			   (m->dev == l->maps[i - 1].dev && m->vchunk <= l->maps[i - 1].vchunk)))) {
			vsl_errf(err, errlen, -EBADMSG,
				 "impossible thin log entry %llu (device %u, virtual chunk %llu, "
				 "pool chunk %u): out of range or not sorted",
				 (unsigned long long)i, m->dev, (unsigned long long)m->vchunk, m->pchunk);
			lvm_thin_log_free(l);
			return -EBADMSG;
		}
	}
	*out = l;
	return 0;
}

void lvm_thin_sb_encode(const struct lvm_thin_sb *sb, void *block)
{
	struct lvm_thin_disk_sb d = { 0 };

	memset(block, 0, LVM_BLOCK);
	memcpy(d.magic, LVM_THIN_SB_MAGIC, 8);
	d.version = htole32(LVM_THIN_VERSION);
	d.seq = htole64(sb->seq);
	memcpy(d.pool_uuid, sb->pool_uuid, 16);
	d.chunk_size = htole32(sb->chunk_size);
	d.slot = htole32(sb->slot);
	d.meta_size = htole64(sb->meta_size);
	d.slot_size = htole64(sb->slot_size);
	d.ckpt_len = htole32(sb->ckpt_len);
	d.ckpt_crc = htole32(sb->ckpt_crc);
	memcpy(block, &d, sizeof(d));
	d.crc = htole32(vsl_crc32c(0, block, LVM_BLOCK));
	memcpy(block, &d, sizeof(d));
}

int lvm_thin_sb_decode(const void *block, size_t len, struct lvm_thin_sb *out, char *err,
		       size_t errlen)
{
	unsigned char tmp[LVM_BLOCK];
	struct lvm_thin_disk_sb d;

	if (len < LVM_BLOCK || memcmp(block, LVM_THIN_SB_MAGIC, 8))
		return -ENODATA;
	memcpy(tmp, block, LVM_BLOCK);
	memcpy(&d, tmp, sizeof(d));
	memset(tmp + offsetof(struct lvm_thin_disk_sb, crc), 0, 4);
	if (vsl_crc32c(0, tmp, LVM_BLOCK) != le32toh(d.crc))
		return vsl_errf(err, errlen, -EBADMSG, "thin superblock CRC mismatch");
	if (le32toh(d.version) != LVM_THIN_VERSION)
		return vsl_errf(err, errlen, -EBADMSG, "thin superblock version %u unknown",
				le32toh(d.version));
	out->seq = le64toh(d.seq);
	memcpy(out->pool_uuid, d.pool_uuid, 16);
	out->chunk_size = le32toh(d.chunk_size);
	out->slot = le32toh(d.slot);
	out->meta_size = le64toh(d.meta_size);
	out->slot_size = le64toh(d.slot_size);
	out->ckpt_len = le32toh(d.ckpt_len);
	out->ckpt_crc = le32toh(d.ckpt_crc);
	if (zero16(out->pool_uuid) || out->slot > 1 || !vsl_is_pow2(out->chunk_size) ||
	    out->chunk_size < LVM_THIN_CHUNK_MIN || out->chunk_size > LVM_EXTENT_MAX ||
	    out->meta_size > LVM_SIZE_MAX || out->slot_size != lvm_thin_slot_size(out->meta_size) ||
	    out->ckpt_len < LVM_BLOCK || out->ckpt_len % LVM_BLOCK ||
	    out->ckpt_len > out->slot_size)
		return vsl_errf(err, errlen, -EBADMSG, "thin superblock impossible");
	return 0;
}
