/* fuzz_qcow2.c — libFuzzer target for the qcow2 metadata parser: the input is
 * an image held in memory. It goes through header parsing and validation at
 * several apparent file sizes and for reading and writing, and through the
 * whole-image check (L1 table, refcount table, every L2 table and refcount
 * block, refcounts of every referenced cluster). Every offset and size in it
 * is attacker-controlled; nothing may be read outside the buffer or sized
 * from an unchecked field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blk_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blk_qcow2_hdr h;
	char err[BLK_QCOW2_ERR_LEN];
	/* A private copy sized exactly: ASan catches any overread. */
	uint8_t *img = malloc(size ? size : 1);
	uint8_t rb[512];

	if (!img)
		return 0;
	memcpy(img, data, size);
	blk_qcow2_hdr_parse(img, size, size, true, &h, err, sizeof(err));
	blk_qcow2_hdr_parse(img, size, (uint64_t)size << 20, false, &h, err, sizeof(err));
	if (blk_qcow2_hdr_parse(img, size, size, false, &h, err, sizeof(err)) == 0) {
		/* Entry checks and refcount arithmetic on the image's own words. */
		for (size_t off = 0; off + 8 <= size && off < 4096; off += 8) {
			uint64_t e;

			memcpy(&e, img + off, 8);
			blk_qcow2_l1_entry_check(&h, e, size, err, sizeof(err));
			blk_qcow2_l2_entry_check(&h, e, size, err, sizeof(err));
			blk_qcow2_reft_entry_check(&h, e, size, err, sizeof(err));
		}
		memset(rb, 0, sizeof(rb));
		memcpy(rb, img, size < sizeof(rb) ? size : sizeof(rb));
		for (uint64_t i = 0; i < (sizeof(rb) * 8 >> h.refcount_order); i += 13)
			blk_qcow2_refcount_add(rb, h.refcount_order, i, (int64_t)(i % 3) - 1);
	}
	blk_qcow2_image_check_mem(img, size, err, sizeof(err));
	free(img);
	return 0;
}
