/* fuzz_lvm_meta.c — libFuzzer target for the LVM metadata parser
 * (lvm/lvm_meta.c): a VG metadata slot (lvm_md_decode) and a PV label
 * (lvm_label_decode) on arbitrary bytes. Whatever the parser accepts must
 * pass lvm_md_check(), survive an encode/decode round trip unchanged, and
 * keep the derived free-space math in range.
 *
 * Input: the bytes of one metadata slot (shorter inputs too); the first
 * 4 KiB are also tried as a PV label. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lvm_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char buf[LVM_SLOT_SIZE];

static void roundtrip(const struct lvm_md *md)
{
	struct lvm_md *again;

	if (lvm_md_check(md, NULL, 0))
		abort();
	lvm_md_encode(md, buf);
	if (lvm_md_decode(buf, sizeof(buf), &again, NULL, 0))
		abort();
	if (again->seq != md->seq || again->n_pvs != md->n_pvs || again->n_lvs != md->n_lvs ||
	    again->n_segs != md->n_segs ||
	    memcmp(again->segs, md->segs, md->n_segs * sizeof(*md->segs)) ||
	    memcmp(again->lvs, md->lvs, md->n_lvs * sizeof(*md->lvs)) ||
	    memcmp(again->pvs, md->pvs, md->n_pvs * sizeof(*md->pvs)))
		abort();
	for (uint32_t i = 0; i < md->n_pvs; i++)
		if (lvm_md_pv_free(md, i) > md->pvs[i].pe_count)
			abort();
	lvm_md_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lvm_label l;
	struct lvm_md *md;
	char err[160];

	if (lvm_md_decode(data, size, &md, err, sizeof(err)) == 0) {
		roundtrip(md);
		lvm_md_free(md);
	}
	(void)lvm_label_decode(data, size, &l, err, sizeof(err));
	return 0;
}
