/* fuzz_nbd_request.c — libFuzzer target for the NBD server's protocol code:
 * the fixed newstyle handshake state machine fed in chunks of varying size,
 * then, once an export is chosen, transmission request headers parsed and
 * checked with their WRITE payloads skipped, as blk_nbd_conn.c does.
 *
 * Input layout: byte 0 picks the chunk size (1..256) used to feed the rest;
 * the rest is the client's byte stream.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "blk_nbd_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct blk_nbd_export_info exports[] = {
	{ .name = "disk", .description = "fuzz", .size = 1 << 20,
	  .tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_TRIM |
		    NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FUA,
	  .min_block = 512, .pref_block = 4096, .max_block = BLK_NBD_MAX_REQUEST },
	{ .name = "ro", .size = 4096, .tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY,
	  .min_block = 4096, .pref_block = 4096, .max_block = BLK_NBD_MAX_REQUEST },
};

static const struct blk_nbd_export_info *lookup(void *arg, const char *name)
{
	(void)arg;
	if (!name[0])
		return &exports[0];
	for (size_t i = 0; i < 2; i++)
		if (!strcmp(exports[i].name, name))
			return &exports[i];
	return NULL;
}

static const struct blk_nbd_export_info *list(void *arg, unsigned idx)
{
	(void)arg;
	return idx < 2 ? &exports[idx] : NULL;
}

static void transmission(const struct blk_nbd_export_info *ex, bool structured, const uint8_t *p,
			 size_t n)
{
	while (n >= sizeof(struct nbd_request)) {
		struct blk_nbd_req req;
		uint8_t rep[BLK_NBD_REPLY_HDR_MAX];
		uint32_t err, payload;

		if (blk_nbd_req_parse(p, &req))
			return;          /* the server closes */
		p += sizeof(struct nbd_request);
		n -= sizeof(struct nbd_request);
		if (req.type == 2)
			return;          /* NBD_CMD_DISC */
		err = blk_nbd_req_check(&req, ex);
		payload = blk_nbd_req_payload(&req);
		/* What the server trusts after a successful check. */
		if (!err && (req.type == NBD_CMD_READ || req.type == NBD_CMD_WRITE)) {
			if (req.len > ex->max_block || req.offset + req.len > ex->size ||
			    req.offset + req.len < req.offset)
				__builtin_trap();
		}
		if (blk_nbd_reply_build(rep, structured, &req, err) > sizeof(rep))
			__builtin_trap();
		if (payload > n)
			return;
		p += payload;
		n -= payload;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blk_nbd_hs hs;
	size_t chunk, off = 1;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	if (blk_nbd_hs_init(&hs, lookup, list, NULL))
		return 0;
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		ssize_t used = blk_nbd_hs_feed(&hs, data + off, n);

		if (used < 0)
			break;
		/* The server sends and drops its replies as it goes. */
		blk_nbd_hs_consume(&hs, hs.out_len / 2);
		off += (size_t)used;
		if (hs.state == BLK_NBD_HS_DONE) {
			transmission(hs.chosen, hs.structured, data + off, size - off);
			break;
		}
		if (hs.state == BLK_NBD_HS_CLOSE || (size_t)used < n)
			break;
	}
	blk_nbd_hs_fini(&hs);
	return 0;
}
