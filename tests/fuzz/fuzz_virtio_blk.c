/* fuzz_virtio_blk.c — libFuzzer target for the vhost-user-blk request path:
 * descriptor chains (direct and indirect) walked against a fake guest memory
 * table whose contents come from the input, then decoded as virtio-blk
 * requests against a small device, as the export's reactors do per request.
 * Every iovec the parser produces is read and written in full and the status
 * byte is written, so a buffer outside guest memory shows up under ASan.
 *
 * Input layout: byte 0 the head index, byte 1 flags (bit 0: indirect
 * negotiated, bit 1: read-only device, bit 2: 4 KiB blocks, bits 3-7: queue
 * size - 1), the rest fills guest memory from address 0 (the descriptor table
 * sits at guest address 0). Guest memory is two separately allocated regions,
 * [0, 4 KiB) and [4 KiB, 8 KiB), so buffers across the edge and past the end
 * are both reachable.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blk_vhost_blk_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { REGION = 4096 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct blk_vub_chain chain;
	struct blk_vub_geom g = {
		.size = 1 << 20, .block_size = 512,
		.caps = BLK_CAP_FLUSH | BLK_CAP_DISCARD | BLK_CAP_WRITE_ZEROES,
		.serial = "fuzz", .max_discard_sectors = 256, .max_write_zeroes_sectors = 256,
	};
	struct rte_vhost_memory *mem;
	struct blk_vub_req r;
	uint8_t *region[2];
	uint16_t qsize, head;
	bool indirect;

	if (size < 2)
		return 0;
	head = data[0];
	indirect = data[1] & 1;
	g.readonly = data[1] & 2;
	if (data[1] & 4)
		g.block_size = 4096;
	qsize = (uint16_t)((data[1] >> 3) + 1);
	data += 2;
	size -= 2;

	region[0] = calloc(1, REGION);
	region[1] = calloc(1, REGION);
	mem = calloc(1, sizeof(*mem) + 2 * sizeof(mem->regions[0]));
	if (!region[0] || !region[1] || !mem)
		goto out;
	memcpy(region[0], data, size < REGION ? size : REGION);
	if (size > REGION)
		memcpy(region[1], data + REGION, size - REGION < REGION ? size - REGION : REGION);
	mem->nregions = 2;
	for (int i = 0; i < 2; i++) {
		mem->regions[i].guest_phys_addr = (uint64_t)i * REGION;
		mem->regions[i].size = REGION;
		mem->regions[i].host_user_addr = (uint64_t)(uintptr_t)region[i];
	}
	/* The table is guest memory too: qsize entries at address 0. */
	if (blk_vub_parse(mem, (const struct vring_desc *)region[0], qsize, head, indirect,
			  &chain))
		goto out;
	for (int i = 0; i < chain.iovcnt; i++) {
		volatile uint8_t sink = 0;
		uint8_t *p = chain.iov[i].iov_base;

		for (size_t k = 0; k < chain.iov[i].iov_len; k++)
			sink ^= p[k];
		(void)sink;
	}
	if (blk_vub_decode(&chain, &g, &r))
		goto out;
	*r.status_ptr = r.submit ? VIRTIO_BLK_S_OK : r.status;
	if (r.submit) {
		uint64_t total = 0;

		if (r.offset > g.size || r.len > g.size - r.offset || r.offset % g.block_size ||
		    r.len % g.block_size)
			abort();        /* the decoder let a bad range through */
		for (int i = 0; i < r.iovcnt; i++) {
			memset(r.iov[i].iov_base, 0xa5, r.iov[i].iov_len);
			total += r.iov[i].iov_len;
		}
		if ((r.io_type == BLK_IO_READ || r.io_type == BLK_IO_WRITE) && total != r.len)
			abort();
		if (r.io_type == BLK_IO_WRITE && g.readonly)
			abort();
	}
out:
	free(mem);
	free(region[0]);
	free(region[1]);
	return 0;
}
