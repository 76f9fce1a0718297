/* fuzz_lvm_thin.c — libFuzzer target for the thin pool metadata parser
 * (lvm/lvm_thin_meta.c): a checkpoint (lvm_thin_md_decode) and a superblock
 * (lvm_thin_sb_decode) on arbitrary bytes. Whatever the parser accepts must
 * pass lvm_thin_md_check() and survive an encode/decode round trip
 * unchanged; the reference counts derived from its mappings (what the pool
 * rebuilds at open) must stay within the mapping count.
 *
 * Input: the bytes of one checkpoint slot; the first 4 KiB are also tried
 * as a superblock, and the whole as a log record (lvm_thin_log_decode). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lvm_thin_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const struct lvm_thin_md *md)
{
	size_t len = lvm_thin_md_len(md);
	unsigned char *buf = malloc(len);
	struct lvm_thin_md *again;
	uint64_t total = 0;
	uint32_t *rc;

	if (!buf || lvm_thin_md_check(md, NULL, 0))
		abort();
	lvm_thin_md_encode(md, buf);
	if (lvm_thin_md_decode(buf, len, &again, NULL, 0))
		abort();
	if (again->seq != md->seq || again->n_devs != md->n_devs || again->n_maps != md->n_maps ||
	    again->data_chunks != md->data_chunks || again->chunk_size != md->chunk_size ||
	    memcmp(again->devs, md->devs, md->n_devs * sizeof(*md->devs)) ||
	    memcmp(again->maps, md->maps, md->n_maps * sizeof(*md->maps)))
		abort();
	/* Derived reference counts: every mapping names a chunk in range. */
	rc = calloc(md->data_chunks < 4096 ? md->data_chunks : 4096, sizeof(*rc));
	for (uint64_t i = 0; rc && i < md->n_maps; i++) {
		if (md->maps[i].pchunk >= md->data_chunks)
			abort();
		if (md->maps[i].pchunk < 4096) {
			rc[md->maps[i].pchunk]++;
			total++;
		}
	}
	if (total > md->n_maps)
		abort();
	free(rc);
	lvm_thin_md_free(again);
	free(buf);
}

/* A log record: what the parser accepts is sorted, in range, and survives
 * an encode/decode round trip unchanged. */
static void log_try(const uint8_t *data, size_t size)
{
	struct lvm_thin_log *l, *again;
	char err[200];
	unsigned char *buf;
	size_t len;

	if (lvm_thin_log_len_of(data, size) > size)
		return;
	if (lvm_thin_log_decode(data, size, &l, err, sizeof(err)))
		return;
	len = lvm_thin_log_len(l->n_maps);
	if (len != lvm_thin_log_len_of(data, size) || l->seq <= l->base)
		abort();
	for (uint64_t i = 0; i < l->n_maps; i++)
		if (l->maps[i].vchunk >= LVM_THIN_VCHUNK_MAX ||
		    (i && (l->maps[i].dev < l->maps[i - 1].dev ||
			   (l->maps[i].dev == l->maps[i - 1].dev &&
			    l->maps[i].vchunk <= l->maps[i - 1].vchunk))))
			abort();
	buf = malloc(len);
	if (!buf)
		abort();
	lvm_thin_log_encode(l, buf);
	if (lvm_thin_log_decode(buf, len, &again, NULL, 0) || again->n_maps != l->n_maps ||
	    again->seq != l->seq || again->base != l->base || again->flags != l->flags ||
	    memcmp(again->maps, l->maps, l->n_maps * sizeof(*l->maps)) || memcmp(buf, data, len))
		abort();
	lvm_thin_log_free(again);
	lvm_thin_log_free(l);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lvm_thin_md *md;
	struct lvm_thin_sb sb;
	char err[200];

	if (lvm_thin_md_decode(data, size, &md, err, sizeof(err)) == 0) {
		roundtrip(md);
		lvm_thin_md_free(md);
	}
	(void)lvm_thin_sb_decode(data, size, &sb, err, sizeof(err));
	log_try(data, size);
	return 0;
}
