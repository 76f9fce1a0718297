/* test_blk_vhost_blk_req.c — the virtio-blk request path of the vhost-user-blk
 * export against a fake guest memory table: good chains of every shape,
 * broken chains (loops, bad indices, buffers outside or across the edge of
 * guest memory, readable after writable, too long, indirect misuse), and bad
 * requests in good chains (out of range, misaligned, read-only, unknown type,
 * discard/write-zeroes segments). */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "blk_vhost_blk_internal.h"

/* Guest physical memory: two regions, contiguous in guest addresses
 * [0, 2 * REGION) and separate on the host, so a buffer across 0x40000 needs
 * two iovecs. */
enum { REGION = 0x40000, QSIZE = 256 };

static uint8_t *host[2];
static struct rte_vhost_memory *mem;
static struct vring_desc table[QSIZE];
static struct blk_vub_chain chain;

static const struct blk_vub_geom geom = {
	.size = 1 << 20, .block_size = 512,
	.caps = BLK_CAP_FLUSH | BLK_CAP_DISCARD | BLK_CAP_WRITE_ZEROES,
	.serial = "disk-serial", .max_discard_sectors = 1024, .max_write_zeroes_sectors = 1024,
};

static void *gpa_ptr(uint64_t gpa)
{
	return host[gpa / REGION] + gpa % REGION;
}

static int setup(void **state)
{
	(void)state;
	host[0] = calloc(1, REGION);
	host[1] = calloc(1, REGION);
	mem = calloc(1, sizeof(*mem) + 2 * sizeof(mem->regions[0]));
	mem->nregions = 2;
	for (int i = 0; i < 2; i++) {
		mem->regions[i].guest_phys_addr = (uint64_t)i * REGION;
		mem->regions[i].size = REGION;
		mem->regions[i].host_user_addr = (uint64_t)(uintptr_t)host[i];
	}
	memset(table, 0, sizeof(table));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(host[0]);
	free(host[1]);
	free(mem);
	return 0;
}

static void desc(struct vring_desc *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	t[i] = (struct vring_desc){ .addr = addr, .len = len, .flags = flags, .next = next };
}

static void hdr(uint64_t gpa, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = htole32(type), .sector = htole64(sector) };

	memcpy(gpa_ptr(gpa), &h, sizeof(h));
}

/* The classic 3-descriptor request: header, data, status. */
static void req3(uint32_t type, uint64_t sector, uint32_t len)
{
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;

	hdr(0x1000, type, sector);
	desc(table, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
	desc(table, 1, 0x2000, len, VRING_DESC_F_NEXT | (in ? VRING_DESC_F_WRITE : 0), 2);
	desc(table, 2, 0x3000, 1, VRING_DESC_F_WRITE, 0);
}

static int parse_decode(struct blk_vub_req *r, const struct blk_vub_geom *g)
{
	int ret = blk_vub_parse(mem, table, QSIZE, 0, true, &chain);

	if (ret)
		return ret;
	return blk_vub_decode(&chain, g, r);
}

static void test_read(void **state)
{
	struct blk_vub_req r;

	(void)state;
	req3(VIRTIO_BLK_T_IN, 8, 4096);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_true(r.submit);
	assert_int_equal(r.io_type, BLK_IO_READ);
	assert_int_equal(r.offset, 8 * 512);
	assert_int_equal(r.len, 4096);
	assert_int_equal(r.iovcnt, 1);
	assert_ptr_equal(r.iov[0].iov_base, gpa_ptr(0x2000));
	assert_ptr_equal(r.status_ptr, gpa_ptr(0x3000));
	assert_int_equal(r.used_len, 4097);
}

static void test_write(void **state)
{
	struct blk_vub_req r;

	(void)state;
	req3(VIRTIO_BLK_T_OUT, 0, 1024);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_true(r.submit);
	assert_int_equal(r.io_type, BLK_IO_WRITE);
	assert_int_equal(r.len, 1024);
	assert_int_equal(r.used_len, 1);
}

/* Header and data in one buffer; data and status in one buffer. */
static void test_any_layout(void **state)
{
	struct blk_vub_req r;

	(void)state;
	hdr(0x1000, VIRTIO_BLK_T_OUT, 2);
	desc(table, 0, 0x1000, 16 + 512, VRING_DESC_F_NEXT, 1);
	desc(table, 1, 0x3000, 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_true(r.submit);
	assert_int_equal(r.len, 512);
	assert_ptr_equal(r.iov[0].iov_base, gpa_ptr(0x1010));

	hdr(0x1000, VIRTIO_BLK_T_IN, 2);
	desc(table, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
	desc(table, 1, 0x2000, 512 + 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.len, 512);
	assert_ptr_equal(r.status_ptr, gpa_ptr(0x2000 + 512));

	/* A header split over two buffers. */
	hdr(0x1000, VIRTIO_BLK_T_IN, 3);
	desc(table, 0, 0x1000, 5, VRING_DESC_F_NEXT, 1);
	desc(table, 1, 0x1005, 11, VRING_DESC_F_NEXT, 2);
	desc(table, 2, 0x2000, 512 + 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.offset, 3 * 512);
}

static void test_region_split(void **state)
{
	struct blk_vub_req r;

	(void)state;
	req3(VIRTIO_BLK_T_IN, 0, 8192);
	table[1].addr = REGION - 4096;
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.iovcnt, 2);
	assert_ptr_equal(r.iov[0].iov_base, host[0] + REGION - 4096);
	assert_int_equal(r.iov[0].iov_len, 4096);
	assert_ptr_equal(r.iov[1].iov_base, host[1]);
	assert_int_equal(r.iov[1].iov_len, 4096);
}

static void test_outside_memory(void **state)
{
	(void)state;
	req3(VIRTIO_BLK_T_IN, 0, 4096);
	table[1].addr = 2 * REGION;                    /* past the end */
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EFAULT);
	table[1].addr = 2 * REGION - 100;              /* runs off the end */
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EFAULT);
	table[1].addr = UINT64_MAX - 10;               /* wraps */
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EFAULT);
	table[1].addr = 0x2000;
	table[1].len = UINT32_MAX;                     /* far too long */
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EFAULT);
}

static void test_loops_and_indices(void **state)
{
	(void)state;
	req3(VIRTIO_BLK_T_IN, 0, 512);
	table[2].flags |= VRING_DESC_F_NEXT;
	table[2].next = 0;                              /* 0 -> 1 -> 2 -> 0 */
	/* Back to the readable header after writable buffers. */
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EINVAL);
	table[2].next = 2;              /* runs out of iovecs before the visit count trips */
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -E2BIG);
	/* Empty buffers take no iovecs: only the visit count stops these. */
	table[1].len = 0;
	table[2].len = 0;
	table[2].next = 1;                              /* 1 -> 2 -> 1 */
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EINVAL);
	table[2].next = 2;                              /* self loop */
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EINVAL);
	table[2].len = 1;
	table[2].next = QSIZE;                          /* out of range */
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EINVAL);
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, QSIZE, true, &chain), -EINVAL);
}

static void test_order_and_length(void **state)
{
	struct blk_vub_req r;

	(void)state;
	/* Device-readable after device-writable. */
	req3(VIRTIO_BLK_T_IN, 0, 512);
	table[2].flags = 0;
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EINVAL);

	/* No status byte. */
	hdr(0x1000, VIRTIO_BLK_T_OUT, 0);
	desc(table, 0, 0x1000, 16 + 512, 0, 0);
	assert_int_equal(parse_decode(&r, &geom), -EINVAL);
	/* A header shorter than 16 bytes. */
	desc(table, 0, 0x1000, 8, VRING_DESC_F_NEXT, 1);
	desc(table, 1, 0x3000, 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(parse_decode(&r, &geom), -EINVAL);
	/* A zero-length writable buffer is no status byte either. */
	desc(table, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
	desc(table, 1, 0x3000, 0, VRING_DESC_F_WRITE, 0);
	assert_int_equal(parse_decode(&r, &geom), -EINVAL);

	/* More buffers than a request may have. */
	hdr(0x1000, VIRTIO_BLK_T_IN, 0);
	desc(table, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
	for (unsigned i = 1; i < 200; i++)
		desc(table, i, 0x4000 + i * 512, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, i + 1);
	desc(table, 200, 0x3000, 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -E2BIG);
}

static void test_indirect(void **state)
{
	struct vring_desc *ind = gpa_ptr(0x8000);
	struct blk_vub_req r;

	(void)state;
	hdr(0x1000, VIRTIO_BLK_T_IN, 4);
	desc(ind, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
	desc(ind, 1, 0x2000, 2048, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	desc(ind, 2, 0x3000, 1, VRING_DESC_F_WRITE, 0);
	desc(table, 0, 0x8000, 3 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.len, 2048);
	assert_int_equal(r.offset, 4 * 512);

	/* Not negotiated. */
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, false, &chain), -EINVAL);
	/* INDIRECT with NEXT. */
	table[0].flags |= VRING_DESC_F_NEXT;
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EINVAL);
	table[0].flags = VRING_DESC_F_INDIRECT;
	/* A length that is not whole descriptors, or zero. */
	table[0].len = 40;
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EINVAL);
	table[0].len = 0;
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EINVAL);
	/* A table outside guest memory, or across a region edge. */
	table[0].len = 3 * sizeof(struct vring_desc);
	table[0].addr = 2 * REGION;
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EFAULT);
	table[0].addr = REGION - 16;
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EFAULT);
	/* An indirect table inside an indirect table. */
	table[0].addr = 0x8000;
	desc(ind, 1, 0x9000, 16, VRING_DESC_F_INDIRECT, 0);
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EINVAL);
	/* A loop inside the indirect table. */
	desc(ind, 1, 0x2000, 2048, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	desc(ind, 2, 0x3000, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EINVAL);
	/* next past the indirect table's end. */
	desc(ind, 2, 0x3000, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EINVAL);
	/* INDIRECT after a direct buffer. */
	desc(table, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
	desc(table, 1, 0x8000, 48, VRING_DESC_F_INDIRECT, 0);
	assert_int_equal(blk_vub_parse(mem, table, QSIZE, 0, true, &chain), -EINVAL);
}

static void test_range_checks(void **state)
{
	struct blk_vub_geom g4k = geom;
	struct blk_vub_req r;

	(void)state;
	req3(VIRTIO_BLK_T_IN, geom.size / 512, 512);            /* starts at the end */
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_false(r.submit);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	req3(VIRTIO_BLK_T_IN, geom.size / 512 - 1, 1024);       /* runs past the end */
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	req3(VIRTIO_BLK_T_OUT, UINT64_MAX / 256, 512);          /* sector * 512 overflows */
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	req3(VIRTIO_BLK_T_IN, UINT64_MAX, 512);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	req3(VIRTIO_BLK_T_IN, 0, 100);                          /* not whole sectors */
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	req3(VIRTIO_BLK_T_IN, geom.size / 512 - 1, 512);        /* the last sector: fine */
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_true(r.submit);

	g4k.block_size = 4096;
	req3(VIRTIO_BLK_T_IN, 1, 4096);                         /* misaligned start */
	assert_int_equal(parse_decode(&r, &g4k), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	req3(VIRTIO_BLK_T_IN, 8, 512);                          /* part of a block */
	assert_int_equal(parse_decode(&r, &g4k), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	req3(VIRTIO_BLK_T_IN, 8, 4096);
	assert_int_equal(parse_decode(&r, &g4k), 0);
	assert_true(r.submit);

	/* No data: nothing to do. */
	desc(table, 1, 0x3000, 1, VRING_DESC_F_WRITE, 0);
	hdr(0x1000, VIRTIO_BLK_T_IN, 0);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_false(r.submit);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
}

static void test_types(void **state)
{
	struct blk_vub_geom ro = geom, noflush = geom;
	struct blk_vub_req r;
	char id[VIRTIO_BLK_ID_BYTES + 1] = { 0 };

	(void)state;
	ro.readonly = true;
	req3(VIRTIO_BLK_T_OUT, 0, 512);
	assert_int_equal(parse_decode(&r, &ro), 0);
	assert_false(r.submit);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	req3(VIRTIO_BLK_T_IN, 0, 512);
	assert_int_equal(parse_decode(&r, &ro), 0);
	assert_true(r.submit);

	req3(77, 0, 512);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);

	hdr(0x1000, VIRTIO_BLK_T_FLUSH, 0);
	desc(table, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
	desc(table, 1, 0x3000, 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_true(r.submit);
	assert_int_equal(r.io_type, BLK_IO_FLUSH);
	noflush.caps = 0;
	assert_int_equal(parse_decode(&r, &noflush), 0);
	assert_false(r.submit);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);

	req3(VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES);
	memset(gpa_ptr(0x2000), 'x', VIRTIO_BLK_ID_BYTES);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_false(r.submit);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	memcpy(id, gpa_ptr(0x2000), VIRTIO_BLK_ID_BYTES);
	assert_string_equal(id, "disk-serial");
	assert_int_equal(r.used_len, VIRTIO_BLK_ID_BYTES + 1);
	/* A short GET_ID buffer gets what fits. */
	req3(VIRTIO_BLK_T_GET_ID, 0, 4);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.used_len, 5);
}

static void range_req(uint32_t type, uint64_t sector, uint32_t num, uint32_t flags, int nseg)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(sector), .num_sectors = htole32(num), .flags = htole32(flags),
	};

	hdr(0x1000, type, 0);
	for (int i = 0; i < nseg; i++)
		memcpy((uint8_t *)gpa_ptr(0x2000) + i * sizeof(seg), &seg, sizeof(seg));
	desc(table, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
	desc(table, 1, 0x2000, (uint32_t)(nseg * sizeof(seg)), VRING_DESC_F_NEXT, 2);
	desc(table, 2, 0x3000, 1, VRING_DESC_F_WRITE, 0);
}

static void test_discard_write_zeroes(void **state)
{
	struct blk_vub_geom ro = geom, nocap = geom;
	struct blk_vub_req r;

	(void)state;
	range_req(VIRTIO_BLK_T_DISCARD, 16, 32, 0, 1);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_true(r.submit);
	assert_int_equal(r.io_type, BLK_IO_DISCARD);
	assert_int_equal(r.offset, 16 * 512);
	assert_int_equal(r.len, 32 * 512);

	range_req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, 1);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_true(r.submit);
	assert_int_equal(r.io_type, BLK_IO_WRITE_ZEROES);

	range_req(VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, 1);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
	range_req(VIRTIO_BLK_T_DISCARD, 0, 8, 0x80, 1);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
	range_req(VIRTIO_BLK_T_DISCARD, 0, 8, 0, 2);            /* max_discard_seg is 1 */
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
	range_req(VIRTIO_BLK_T_DISCARD, geom.size / 512 - 4, 8, 0, 1);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	range_req(VIRTIO_BLK_T_DISCARD, 0, 0, 0, 1);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	range_req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 2048, 0, 1);    /* over the advertised max */
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	range_req(VIRTIO_BLK_T_DISCARD, UINT64_MAX / 512, 8, 0, 1);
	assert_int_equal(parse_decode(&r, &geom), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);

	ro.readonly = true;
	range_req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0, 1);
	assert_int_equal(parse_decode(&r, &ro), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	nocap.caps = 0;
	assert_int_equal(parse_decode(&r, &nocap), 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_any_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loops_and_indices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_and_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_write_zeroes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
