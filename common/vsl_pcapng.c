/* vsl_pcapng.c — minimal pcapng writer (SHB, IDB, EPB).
 *
 * Block layout (draft-ietf-opsawg-pcapng): 32-bit type, 32-bit total length,
 * body, options, total length again. Every field is in host byte order; the
 * byte-order magic in the SHB tells readers which order that is. Option values
 * and packet data are zero-padded to 32 bits, so every block length is a
 * multiple of 4.
 */
#include "vsl_pcapng.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	PCAPNG_BT_SHB = 0x0A0D0D0A,
	PCAPNG_BT_IDB = 0x00000001,
	PCAPNG_BT_EPB = 0x00000006,
	PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D,
	PCAPNG_VERSION_MAJOR = 1,
	PCAPNG_VERSION_MINOR = 0,

	PCAPNG_OPT_ENDOFOPT = 0,
	PCAPNG_OPT_SHB_USERAPPL = 4,
	PCAPNG_OPT_IF_NAME = 2,
	PCAPNG_OPT_IF_TSRESOL = 9,

	/* if_tsresol value: 10^-9 s, i.e. timestamps in nanoseconds. */
	PCAPNG_TSRESOL_NS = 9,

	/* Leading type + length and trailing length. */
	PCAPNG_BLOCK_OVERHEAD = 12,
	PCAPNG_OPT_HDR_LEN = 4,
	/* Option lengths are 16-bit; keep room for padding. */
	PCAPNG_OPT_MAX_LEN = 0xFFFC,
};

struct pcapng_shb_body {
	uint32_t magic;
	uint16_t major;
	uint16_t minor;
	int64_t section_len;
};
_Static_assert(sizeof(struct pcapng_shb_body) == 16, "SHB body");

struct pcapng_idb_body {
	uint16_t linktype;
	uint16_t reserved;
	uint32_t snaplen;
};
_Static_assert(sizeof(struct pcapng_idb_body) == 8, "IDB body");

struct pcapng_epb_body {
	uint32_t ifid;
	uint32_t ts_high;
	uint32_t ts_low;
	uint32_t cap_len;
	uint32_t orig_len;
};
_Static_assert(sizeof(struct pcapng_epb_body) == 20, "EPB body");

struct vsl_pcapng {
	FILE *f;
	int err;           /* first -errno seen; sticky: later writes refuse */
	uint32_t *snaplen; /* per interface id */
	size_t n_if;
	size_t cap_if;
};

static const uint8_t pcapng_zeros[4];

static inline size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* Records the first failure so that close() can report it. */
static int pcapng_fail(struct vsl_pcapng *w, int err)
{
	if (w->err == 0)
		w->err = err;
	return err;
}

static int pcapng_put(struct vsl_pcapng *w, const void *p, size_t n)
{
	if (n == 0 || w->err != 0)
		return w->err;
	if (fwrite(p, 1, n, w->f) != n)
		return pcapng_fail(w, errno ? -errno : -EIO);
	return 0;
}

static int pcapng_put_u32(struct vsl_pcapng *w, uint32_t v)
{
	return pcapng_put(w, &v, sizeof(v));
}

static int pcapng_put_padded(struct vsl_pcapng *w, const void *p, size_t n)
{
	pcapng_put(w, p, n);
	return pcapng_put(w, pcapng_zeros, pad4(n) - n);
}

static size_t pcapng_opt_size(size_t value_len)
{
	return PCAPNG_OPT_HDR_LEN + pad4(value_len);
}

static int pcapng_put_opt(struct vsl_pcapng *w, uint16_t code, const void *val, size_t len)
{
	uint16_t hdr[2] = { code, (uint16_t)len };

	pcapng_put(w, hdr, sizeof(hdr));
	return pcapng_put_padded(w, val, len);
}

static int pcapng_put_endofopt(struct vsl_pcapng *w)
{
	return pcapng_put_u32(w, PCAPNG_OPT_ENDOFOPT);
}

static int pcapng_put_shb(struct vsl_pcapng *w, const char *app)
{
	struct pcapng_shb_body shb = {
		.magic = PCAPNG_BYTE_ORDER_MAGIC,
		.major = PCAPNG_VERSION_MAJOR,
		.minor = PCAPNG_VERSION_MINOR,
		.section_len = -1, /* unknown: we stream */
	};
	size_t app_len = app ? strlen(app) : 0;
	size_t total = PCAPNG_BLOCK_OVERHEAD + sizeof(shb);

	if (app_len > PCAPNG_OPT_MAX_LEN)
		app_len = PCAPNG_OPT_MAX_LEN; /* a label; truncating it is harmless */
	if (app_len > 0)
		total += pcapng_opt_size(app_len) + PCAPNG_OPT_HDR_LEN;

	pcapng_put_u32(w, PCAPNG_BT_SHB);
	pcapng_put_u32(w, (uint32_t)total);
	pcapng_put(w, &shb, sizeof(shb));
	if (app_len > 0) {
		pcapng_put_opt(w, PCAPNG_OPT_SHB_USERAPPL, app, app_len);
		pcapng_put_endofopt(w);
	}
	return pcapng_put_u32(w, (uint32_t)total);
}

struct vsl_pcapng *vsl_pcapng_open(const char *path, const char *app)
{
	struct vsl_pcapng *w;
	int err;

	if (path == NULL) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	/* "e": O_CLOEXEC, so daemons forking helpers do not leak the capture. */
	w->f = fopen(path, "wbe");
	if (w->f == NULL) {
		err = errno;
		goto err_free;
	}
	errno = 0;
	if (pcapng_put_shb(w, app) != 0) {
		err = -w->err;
		goto err_close;
	}
	return w;

err_close:
	fclose(w->f);
err_free:
	free(w);
	errno = err;
	return NULL;
}

int vsl_pcapng_add_interface(struct vsl_pcapng *w, const char *name, uint32_t snaplen)
{
	struct pcapng_idb_body idb = { .linktype = VSL_PCAPNG_LINKTYPE_ETHERNET };
	uint8_t tsresol = PCAPNG_TSRESOL_NS;
	size_t name_len, total;

	if (w == NULL)
		return -EINVAL;
	if (w->err != 0)
		return w->err;
	name_len = name ? strlen(name) : 0;
	if (name_len > PCAPNG_OPT_MAX_LEN)
		return -ENAMETOOLONG;
	if (w->n_if >= INT_MAX) /* ids are returned as int */
		return -ENOSPC;
	if (snaplen == 0)
		snaplen = VSL_PCAPNG_DEFAULT_SNAPLEN;

	if (w->n_if == w->cap_if) {
		size_t cap = w->cap_if ? w->cap_if * 2 : 4;
		uint32_t *p = realloc(w->snaplen, cap * sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		w->snaplen = p;
		w->cap_if = cap;
	}

	idb.snaplen = snaplen;
	total = PCAPNG_BLOCK_OVERHEAD + sizeof(idb) + pcapng_opt_size(sizeof(tsresol)) +
		PCAPNG_OPT_HDR_LEN;
	if (name_len > 0)
		total += pcapng_opt_size(name_len);

	errno = 0;
	pcapng_put_u32(w, PCAPNG_BT_IDB);
	pcapng_put_u32(w, (uint32_t)total);
	pcapng_put(w, &idb, sizeof(idb));
	if (name_len > 0)
		pcapng_put_opt(w, PCAPNG_OPT_IF_NAME, name, name_len);
	pcapng_put_opt(w, PCAPNG_OPT_IF_TSRESOL, &tsresol, sizeof(tsresol));
	pcapng_put_endofopt(w);
	if (pcapng_put_u32(w, (uint32_t)total) != 0)
		return w->err;

	w->snaplen[w->n_if] = snaplen;
	return (int)w->n_if++;
}

int vsl_pcapng_write(struct vsl_pcapng *w, int ifid, uint64_t wall_ns, const void *pkt,
		     size_t len, size_t orig_len)
{
	struct pcapng_epb_body epb;
	size_t cap_len, total;

	if (w == NULL || ifid < 0 || (size_t)ifid >= w->n_if || (pkt == NULL && len > 0))
		return -EINVAL;
	if (w->err != 0)
		return w->err;
	/* A packet is never shorter on the wire than what we hold of it. */
	if (orig_len < len)
		orig_len = len;
	if (orig_len > UINT32_MAX)
		return -EINVAL;

	cap_len = len < w->snaplen[ifid] ? len : w->snaplen[ifid];
	total = PCAPNG_BLOCK_OVERHEAD + sizeof(epb) + pad4(cap_len);
	epb = (struct pcapng_epb_body){
		.ifid = (uint32_t)ifid,
		.ts_high = (uint32_t)(wall_ns >> 32),
		.ts_low = (uint32_t)wall_ns,
		.cap_len = (uint32_t)cap_len,
		.orig_len = (uint32_t)orig_len,
	};

	errno = 0;
	pcapng_put_u32(w, PCAPNG_BT_EPB);
	pcapng_put_u32(w, (uint32_t)total);
	pcapng_put(w, &epb, sizeof(epb));
	pcapng_put_padded(w, pkt, cap_len);
	return pcapng_put_u32(w, (uint32_t)total);
}

int vsl_pcapng_flush(struct vsl_pcapng *w)
{
	if (w == NULL)
		return -EINVAL;
	if (w->err != 0)
		return w->err;
	errno = 0;
	if (fflush(w->f) != 0)
		return pcapng_fail(w, errno ? -errno : -EIO);
	return 0;
}

int vsl_pcapng_close(struct vsl_pcapng *w)
{
	int err;

	if (w == NULL)
		return 0;
	/* fclose flushes; its error matters only if nothing failed earlier. */
	errno = 0;
	if (fclose(w->f) != 0)
		pcapng_fail(w, errno ? -errno : -EIO);
	err = w->err;
	free(w->snaplen);
	free(w);
	return err;
}
