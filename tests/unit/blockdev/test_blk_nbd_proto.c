/* test_blk_nbd_proto.c — the NBD handshake state machine and request checks
 * on crafted byte strings: greeting, client flags, LIST, GO/INFO (known,
 * unknown, malformed), EXPORT_NAME, ABORT, unknown and oversized options, bad
 * magic, byte-at-a-time feeding, and every request check. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "blk_nbd_proto.h"

static const struct blk_nbd_export_info exports[] = {
	{ .name = "disk0", .description = "first", .size = 1 << 20,
	  .tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_TRIM |
		    NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FUA,
	  .min_block = 512, .pref_block = 4096, .max_block = BLK_NBD_MAX_REQUEST },
	{ .name = "ro", .size = 4096, .tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY,
	  .min_block = 512, .pref_block = 4096, .max_block = BLK_NBD_MAX_REQUEST },
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

/* ------------------------------------------------------------- builders */

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return be16toh(v);
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

struct bytes {
	uint8_t b[20000];
	size_t n;
};

static void put(struct bytes *o, const void *p, size_t n)
{
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void put32(struct bytes *o, uint32_t v)
{
	v = htobe32(v);
	put(o, &v, 4);
}

static void put16(struct bytes *o, uint16_t v)
{
	v = htobe16(v);
	put(o, &v, 2);
}

static void put_opt(struct bytes *o, uint32_t opt, const void *data, uint32_t len)
{
	uint64_t m = htobe64(NBD_IHAVEOPT);

	put(o, &m, 8);
	put32(o, opt);
	put32(o, len);
	if (len)
		put(o, data, len);
}

static void put_go(struct bytes *o, uint32_t opt, const char *name, int nreq,
		   const uint16_t *reqs)
{
	struct bytes d = { .n = 0 };

	put32(&d, (uint32_t)strlen(name));
	put(&d, name, strlen(name));
	put16(&d, (uint16_t)nreq);
	for (int i = 0; i < nreq; i++)
		put16(&d, reqs[i]);
	put_opt(o, opt, d.b, (uint32_t)d.n);
}

/* Option replies in hs->out after the greeting: returns the type of reply k. */
struct reply {
	uint32_t opt, type, len;
	const uint8_t *data;
};

static int replies(const struct blk_nbd_hs *hs, size_t start, struct reply *r, int max)
{
	size_t off = start;
	int n = 0;

	while (off + 20 <= hs->out_len && n < max) {
		uint64_t magic;

		memcpy(&magic, hs->out + off, 8);
		assert_int_equal(be64toh(magic), NBD_REP_MAGIC);
		memcpy(&r[n].opt, hs->out + off + 8, 4);
		memcpy(&r[n].type, hs->out + off + 12, 4);
		memcpy(&r[n].len, hs->out + off + 16, 4);
		r[n].opt = be32toh(r[n].opt);
		r[n].type = be32toh(r[n].type);
		r[n].len = be32toh(r[n].len);
		r[n].data = hs->out + off + 20;
		off += 20 + r[n].len;
		n++;
	}
	assert_int_equal(off, hs->out_len);
	return n;
}

static void start(struct blk_nbd_hs *hs, uint32_t cflags)
{
	struct bytes in = { .n = 0 };

	assert_int_equal(blk_nbd_hs_init(hs, lookup, list, NULL), 0);
	assert_int_equal(hs->out_len, 18);
	assert_memory_equal(hs->out, "NBDMAGICIHAVEOPT\x00\x03", 18);
	blk_nbd_hs_consume(hs, 18);
	put32(&in, cflags);
	assert_int_equal(blk_nbd_hs_feed(hs, in.b, in.n), 4);
}

/* ---------------------------------------------------------------- tests */

static void test_client_flags(void **state)
{
	struct blk_nbd_hs hs;
	uint8_t f[4] = { 0, 0, 0, 0 };

	(void)state;
	assert_int_equal(blk_nbd_hs_init(&hs, lookup, list, NULL), 0);
	assert_int_equal(blk_nbd_hs_feed(&hs, f, 4), -EPROTO);   /* not fixed newstyle */
	blk_nbd_hs_fini(&hs);
	assert_int_equal(blk_nbd_hs_init(&hs, lookup, list, NULL), 0);
	f[0] = 0x80;
	f[3] = 1;
	assert_int_equal(blk_nbd_hs_feed(&hs, f, 4), -EPROTO);   /* unknown bit */
	blk_nbd_hs_fini(&hs);
}

static void test_list_and_unknown_options(void **state)
{
	struct blk_nbd_hs hs;
	struct bytes in = { .n = 0 };
	struct reply r[8];

	(void)state;
	start(&hs, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	put_opt(&in, NBD_OPT_LIST, NULL, 0);
	put_opt(&in, NBD_OPT_STARTTLS, NULL, 0);
	put_opt(&in, 0x7777, "abc", 3);
	put_opt(&in, NBD_OPT_LIST, "x", 1);
	assert_int_equal(blk_nbd_hs_feed(&hs, in.b, in.n), (ssize_t)in.n);
	assert_int_equal(replies(&hs, 0, r, 8), 6);
	assert_int_equal(r[0].type, NBD_REP_SERVER);
	assert_int_equal(rd32(r[0].data), 5);
	assert_memory_equal(r[0].data + 4, "disk0", 5);
	assert_int_equal(r[1].type, NBD_REP_SERVER);
	assert_int_equal(r[2].type, NBD_REP_ACK);
	assert_int_equal(r[3].type, NBD_REP_ERR_UNSUP);
	assert_int_equal(r[4].type, NBD_REP_ERR_UNSUP);
	assert_int_equal(r[4].opt, 0x7777);
	assert_int_equal(r[5].type, NBD_REP_ERR_INVALID);
	assert_int_equal(hs.state, BLK_NBD_HS_OPT_HDR);
	blk_nbd_hs_fini(&hs);
}

static void test_go_known(void **state)
{
	static const uint16_t reqs[] = { NBD_INFO_NAME, NBD_INFO_BLOCK_SIZE, NBD_INFO_DESCRIPTION,
					 999 };
	struct blk_nbd_hs hs;
	struct bytes in = { .n = 0 };
	struct reply r[8];
	uint64_t size;
	uint8_t extra[3] = { 1, 2, 3 };

	(void)state;
	start(&hs, NBD_FLAG_C_FIXED_NEWSTYLE);
	put_go(&in, NBD_OPT_INFO, "disk0", 0, NULL);
	put_go(&in, NBD_OPT_GO, "disk0", 4, reqs);
	put(&in, extra, 3);    /* transmission bytes sent right behind */
	assert_int_equal(blk_nbd_hs_feed(&hs, in.b, in.n), (ssize_t)in.n - 3);
	assert_int_equal(hs.state, BLK_NBD_HS_DONE);
	assert_ptr_equal(hs.chosen, &exports[0]);
	assert_int_equal(replies(&hs, 0, r, 8), 8);
	/* INFO: export, block size, ack. */
	assert_int_equal(r[0].type, NBD_REP_INFO);
	assert_int_equal(r[0].len, 12);
	memcpy(&size, r[0].data + 2, 8);
	assert_int_equal(be64toh(size), 1 << 20);
	assert_int_equal(r[1].type, NBD_REP_INFO);
	assert_int_equal(rd16(r[1].data), NBD_INFO_BLOCK_SIZE);
	assert_int_equal(r[2].type, NBD_REP_ACK);
	assert_int_equal(r[2].opt, NBD_OPT_INFO);
	/* GO: export, block size, name, description, ack. */
	assert_int_equal(rd16(r[5].data), NBD_INFO_NAME);
	assert_memory_equal(r[5].data + 2, "disk0", 5);
	assert_int_equal(rd16(r[6].data), NBD_INFO_DESCRIPTION);
	assert_int_equal(r[7].type, NBD_REP_ACK);
	assert_int_equal(r[7].opt, NBD_OPT_GO);
	/* Nothing more is consumed once done. */
	assert_int_equal(blk_nbd_hs_feed(&hs, extra, 3), 0);
	blk_nbd_hs_fini(&hs);
}

static void test_go_errors(void **state)
{
	struct blk_nbd_hs hs;
	struct bytes in = { .n = 0 }, bad = { .n = 0 };
	struct reply r[8];

	(void)state;
	start(&hs, NBD_FLAG_C_FIXED_NEWSTYLE);
	put_go(&in, NBD_OPT_GO, "nope", 0, NULL);
	/* Name length larger than the option. */
	put32(&bad, 100);
	put(&bad, "ab", 2);
	put16(&bad, 0);
	put_opt(&in, NBD_OPT_GO, bad.b, (uint32_t)bad.n);
	/* Request count that does not match the length. */
	bad.n = 0;
	put32(&bad, 2);
	put(&bad, "ro", 2);
	put16(&bad, 5);
	put_opt(&in, NBD_OPT_INFO, bad.b, (uint32_t)bad.n);
	/* Too short, and a name with a NUL in it. */
	put_opt(&in, NBD_OPT_GO, "abc", 3);
	bad.n = 0;
	put32(&bad, 3);
	put(&bad, "r\0o", 3);
	put16(&bad, 0);
	put_opt(&in, NBD_OPT_GO, bad.b, (uint32_t)bad.n);
	assert_int_equal(blk_nbd_hs_feed(&hs, in.b, in.n), (ssize_t)in.n);
	assert_int_equal(replies(&hs, 0, r, 8), 5);
	assert_int_equal(r[0].type, NBD_REP_ERR_UNKNOWN);
	for (int i = 1; i < 5; i++)
		assert_int_equal(r[i].type, NBD_REP_ERR_INVALID);
	assert_int_equal(hs.state, BLK_NBD_HS_OPT_HDR);
	/* The connection still works: GO on the read-only export. */
	blk_nbd_hs_consume(&hs, hs.out_len);
	in.n = 0;
	put_go(&in, NBD_OPT_GO, "ro", 0, NULL);
	assert_int_equal(blk_nbd_hs_feed(&hs, in.b, in.n), (ssize_t)in.n);
	assert_int_equal(hs.state, BLK_NBD_HS_DONE);
	assert_ptr_equal(hs.chosen, &exports[1]);
	blk_nbd_hs_fini(&hs);
}

static void test_export_name(void **state)
{
	struct blk_nbd_hs hs;
	struct bytes in = { .n = 0 };
	uint64_t size;
	uint16_t flags;

	(void)state;
	start(&hs, NBD_FLAG_C_FIXED_NEWSTYLE);
	put_opt(&in, NBD_OPT_EXPORT_NAME, "ro", 2);
	assert_int_equal(blk_nbd_hs_feed(&hs, in.b, in.n), (ssize_t)in.n);
	assert_int_equal(hs.state, BLK_NBD_HS_DONE);
	assert_int_equal(hs.out_len, 8 + 2 + 124);   /* zeroes: client did not opt out */
	memcpy(&size, hs.out, 8);
	memcpy(&flags, hs.out + 8, 2);
	assert_int_equal(be64toh(size), 4096);
	assert_int_equal(be16toh(flags), NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY);
	blk_nbd_hs_fini(&hs);

	start(&hs, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	in.n = 0;
	put_opt(&in, NBD_OPT_EXPORT_NAME, "", 0);
	assert_int_equal(blk_nbd_hs_feed(&hs, in.b, in.n), (ssize_t)in.n);
	assert_int_equal(hs.out_len, 10);
	assert_ptr_equal(hs.chosen, &exports[0]);
	blk_nbd_hs_fini(&hs);

	/* Unknown name: the protocol has no error reply, so the caller closes. */
	start(&hs, NBD_FLAG_C_FIXED_NEWSTYLE);
	in.n = 0;
	put_opt(&in, NBD_OPT_EXPORT_NAME, "zzz", 3);
	assert_int_equal(blk_nbd_hs_feed(&hs, in.b, in.n), -ENOENT);
	blk_nbd_hs_fini(&hs);
}

static void test_abort_bad_magic_oversize(void **state)
{
	struct blk_nbd_hs hs;
	struct bytes in = { .n = 0 };
	struct reply r[4];
	static uint8_t big[BLK_NBD_OPT_MAX + 100];
	uint8_t junk[16];

	(void)state;
	start(&hs, NBD_FLAG_C_FIXED_NEWSTYLE);
	put_opt(&in, NBD_OPT_GO, big, sizeof(big));   /* skipped, TOO_BIG */
	put_opt(&in, NBD_OPT_ABORT, NULL, 0);
	assert_int_equal(blk_nbd_hs_feed(&hs, in.b, in.n), (ssize_t)in.n);
	assert_int_equal(replies(&hs, 0, r, 4), 2);
	assert_int_equal(r[0].type, NBD_REP_ERR_TOO_BIG);
	assert_int_equal(r[1].type, NBD_REP_ACK);
	assert_int_equal(hs.state, BLK_NBD_HS_CLOSE);
	blk_nbd_hs_fini(&hs);

	start(&hs, NBD_FLAG_C_FIXED_NEWSTYLE);
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(blk_nbd_hs_feed(&hs, junk, sizeof(junk)), -EPROTO);
	blk_nbd_hs_fini(&hs);
}

static void test_byte_at_a_time(void **state)
{
	struct blk_nbd_hs a, b;
	struct bytes in = { .n = 0 };
	static const uint16_t reqs[] = { NBD_INFO_NAME };

	(void)state;
	start(&a, NBD_FLAG_C_FIXED_NEWSTYLE);
	start(&b, NBD_FLAG_C_FIXED_NEWSTYLE);
	put_opt(&in, NBD_OPT_LIST, NULL, 0);
	put_opt(&in, 42, "hello", 5);
	put_go(&in, NBD_OPT_INFO, "nope", 1, reqs);
	put_go(&in, NBD_OPT_GO, "disk0", 1, reqs);
	assert_int_equal(blk_nbd_hs_feed(&a, in.b, in.n), (ssize_t)in.n);
	for (size_t i = 0; i < in.n; i++)
		assert_int_equal(blk_nbd_hs_feed(&b, in.b + i, 1), 1);
	assert_int_equal(a.state, BLK_NBD_HS_DONE);
	assert_int_equal(b.state, BLK_NBD_HS_DONE);
	assert_int_equal(a.out_len, b.out_len);
	assert_memory_equal(a.out, b.out, a.out_len);
	blk_nbd_hs_fini(&a);
	blk_nbd_hs_fini(&b);
}

static void test_structured_replies(void **state)
{
	struct blk_nbd_hs hs;
	struct bytes in = { .n = 0 };
	struct reply r[4];
	struct blk_nbd_req q = { .type = NBD_CMD_READ, .cookie = 0x1234, .offset = 4096,
				 .len = 512 };
	uint8_t h[BLK_NBD_REPLY_HDR_MAX];

	(void)state;
	start(&hs, NBD_FLAG_C_FIXED_NEWSTYLE);
	put_opt(&in, NBD_OPT_STRUCTURED_REPLY, "x", 1);   /* must be empty */
	put_opt(&in, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	put_opt(&in, NBD_OPT_STRUCTURED_REPLY, NULL, 0);  /* duplicate */
	assert_int_equal(blk_nbd_hs_feed(&hs, in.b, in.n), (ssize_t)in.n);
	assert_int_equal(replies(&hs, 0, r, 4), 3);
	assert_int_equal(r[0].type, NBD_REP_ERR_INVALID);
	assert_int_equal(r[1].type, NBD_REP_ACK);
	assert_int_equal(r[2].type, NBD_REP_ERR_INVALID);
	assert_true(hs.structured);
	blk_nbd_hs_fini(&hs);

	/* READ: one OFFSET_DATA chunk, DONE, offset then the data. */
	assert_int_equal(blk_nbd_reply_build(h, true, &q, NBD_OK), 28);
	assert_int_equal(rd32(h), NBD_STRUCTURED_REPLY_MAGIC);
	assert_int_equal(rd16(h + 4), NBD_REPLY_FLAG_DONE);
	assert_int_equal(rd16(h + 6), NBD_REPLY_TYPE_OFFSET_DATA);
	assert_memory_equal(h + 8, &q.cookie, 8);
	assert_int_equal(rd32(h + 16), 8 + 512);
	assert_int_equal(rd32(h + 24), 4096);     /* low half of the be64 offset */
	/* READ error: ERROR chunk with the errno and an empty message. */
	assert_int_equal(blk_nbd_reply_build(h, true, &q, NBD_EIO), 26);
	assert_int_equal(rd16(h + 6), NBD_REPLY_TYPE_ERROR);
	assert_int_equal(rd32(h + 16), 6);
	assert_int_equal(rd32(h + 20), NBD_EIO);
	assert_int_equal(rd16(h + 24), 0);
	/* Zero-length READ: NONE. */
	q.len = 0;
	assert_int_equal(blk_nbd_reply_build(h, true, &q, NBD_OK), 20);
	assert_int_equal(rd16(h + 6), NBD_REPLY_TYPE_NONE);
	assert_int_equal(rd32(h + 16), 0);
	/* Other commands, and anything without structured replies: simple. */
	q.type = NBD_CMD_WRITE;
	assert_int_equal(blk_nbd_reply_build(h, true, &q, NBD_ENOSPC), 16);
	assert_int_equal(rd32(h), NBD_SIMPLE_REPLY_MAGIC);
	assert_int_equal(rd32(h + 4), NBD_ENOSPC);
	q.type = NBD_CMD_READ;
	assert_int_equal(blk_nbd_reply_build(h, false, &q, NBD_OK), 16);
}

static void mkreq(uint8_t *h, uint32_t magic, uint16_t flags, uint16_t type, uint64_t off,
		  uint32_t len)
{
	struct nbd_request r = { htobe32(magic), htobe16(flags), htobe16(type), 0x1122334455667788ull,
				 htobe64(off), htobe32(len) };

	memcpy(h, &r, sizeof(r));
}

static uint32_t check(uint16_t flags, uint16_t type, uint64_t off, uint32_t len, int ex)
{
	uint8_t h[28];
	struct blk_nbd_req q;

	mkreq(h, NBD_REQUEST_MAGIC, flags, type, off, len);
	assert_int_equal(blk_nbd_req_parse(h, &q), 0);
	assert_int_equal(q.cookie, 0x1122334455667788ull);
	return blk_nbd_req_check(&q, &exports[ex]);
}

static void test_requests(void **state)
{
	uint8_t h[28];
	struct blk_nbd_req q;
	struct nbd_simple_reply rep;
	const uint64_t size = 1 << 20;

	(void)state;
	mkreq(h, 0x12345678, 0, NBD_CMD_READ, 0, 512);
	assert_int_equal(blk_nbd_req_parse(h, &q), -EPROTO);

	assert_int_equal(check(0, NBD_CMD_READ, 0, 4096, 0), NBD_OK);
	assert_int_equal(check(0, NBD_CMD_READ, size - 512, 512, 0), NBD_OK);
	assert_int_equal(check(0, NBD_CMD_READ, size - 512, 1024, 0), NBD_EINVAL);   /* past end */
	assert_int_equal(check(0, NBD_CMD_READ, UINT64_MAX - 511, 1024, 0), NBD_EINVAL); /* wrap */
	assert_int_equal(check(0, NBD_CMD_READ, 100, 512, 0), NBD_EINVAL);   /* misaligned */
	assert_int_equal(check(0, NBD_CMD_READ, 0, BLK_NBD_MAX_REQUEST + 512, 0), NBD_EINVAL);
	assert_int_equal(check(0, NBD_CMD_WRITE, size, 512, 0), NBD_ENOSPC);
	assert_int_equal(check(NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 0, 512, 0), NBD_OK);
	assert_int_equal(check(0, NBD_CMD_WRITE, 0, 0xffffffffu & ~511u, 0), NBD_EINVAL);
	assert_int_equal(check(0x100, NBD_CMD_WRITE, 0, 512, 0), NBD_EINVAL);   /* unknown flag */
	assert_int_equal(check(0, NBD_CMD_WRITE, 0, 512, 1), NBD_EPERM);        /* read-only */
	assert_int_equal(check(0, NBD_CMD_TRIM, 0, 512, 1), NBD_EPERM);
	assert_int_equal(check(0, NBD_CMD_TRIM, size - 512, 1024, 0), NBD_EINVAL);
	assert_int_equal(check(0, NBD_CMD_WRITE_ZEROES, size - 512, 1024, 0), NBD_ENOSPC);
	assert_int_equal(check(0, NBD_CMD_WRITE_ZEROES, 0, 512 * 1024, 0), NBD_OK);
	assert_int_equal(check(0, NBD_CMD_FLUSH, 0, 0, 0), NBD_OK);
	assert_int_equal(check(0, NBD_CMD_FLUSH, 0, 0, 1), NBD_EINVAL);   /* not advertised */
	assert_int_equal(check(0, NBD_CMD_CACHE, 0, 512, 0), NBD_EINVAL);
	assert_int_equal(check(0, NBD_CMD_BLOCK_STATUS, 0, 512, 0), NBD_EINVAL);
	assert_int_equal(check(0, 99, 0, 512, 0), NBD_EINVAL);
	assert_int_equal(check(0, NBD_CMD_DISC, 0, 0, 0), NBD_OK);

	/* Only WRITE carries a payload, valid or not. */
	mkreq(h, NBD_REQUEST_MAGIC, 0, NBD_CMD_WRITE, size * 2, 4096);
	assert_int_equal(blk_nbd_req_parse(h, &q), 0);
	assert_int_equal(blk_nbd_req_payload(&q), 4096);
	mkreq(h, NBD_REQUEST_MAGIC, 0, NBD_CMD_READ, 0, 4096);
	assert_int_equal(blk_nbd_req_parse(h, &q), 0);
	assert_int_equal(blk_nbd_req_payload(&q), 0);

	blk_nbd_reply_simple(&rep, NBD_EIO, q.cookie);
	assert_int_equal(be32toh(rep.magic), NBD_SIMPLE_REPLY_MAGIC);
	assert_int_equal(be32toh(rep.error), 5);
	assert_memory_equal(&rep.cookie, h + 8, 8);

	assert_int_equal(blk_nbd_errno(0), NBD_OK);
	assert_int_equal(blk_nbd_errno(-EIO), NBD_EIO);
	assert_int_equal(blk_nbd_errno(-ENOSPC), NBD_ENOSPC);
	assert_int_equal(blk_nbd_errno(-ERANGE), NBD_EINVAL);
	assert_int_equal(blk_nbd_errno(-EROFS), NBD_EPERM);
	assert_int_equal(blk_nbd_errno(-ENOTSUP), NBD_ENOTSUP);
	assert_int_equal(blk_nbd_errno(-ETIMEDOUT), NBD_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_flags),
		cmocka_unit_test(test_list_and_unknown_options),
		cmocka_unit_test(test_go_known),
		cmocka_unit_test(test_go_errors),
		cmocka_unit_test(test_export_name),
		cmocka_unit_test(test_abort_bad_magic_oversize),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_structured_replies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
