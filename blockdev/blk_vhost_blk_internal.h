/* blk_vhost_blk_internal.h — the virtio-blk request path of the vhost-user-blk
 * export, separated from the export's life cycle so that unit tests and the
 * fuzz target can drive it against a fake guest memory table.
 *
 * Everything a guest writes is untrusted: descriptor indices, flags, addresses
 * and lengths, chains (loops, length), indirect tables, the request header and
 * the discard/write-zeroes segments. The parser reads each descriptor exactly
 * once (the guest may change it under us), translates every buffer with
 * rte_vhost_va_from_guest_pa() with its full length (a buffer that crosses a
 * region boundary becomes several iovecs; one that leaves guest memory is
 * refused), and only then decodes the request against the device size.
 *
 * Two kinds of failure:
 *   - a broken chain (bad index, loop, too long, address outside guest memory,
 *     device-readable after device-writable, no status byte, bad indirect
 *     table): the queue cannot even answer, so it is marked broken
 *     (blk_vub_parse() returns -EINVAL / -E2BIG / -EFAULT);
 *   - a bad request in a good chain (unknown type, sector past the end,
 *     misaligned, write to a read-only device): it completes with
 *     VIRTIO_BLK_S_IOERR or VIRTIO_BLK_S_UNSUPP.
 */
#ifndef BLK_VHOST_BLK_INTERNAL_H
#define BLK_VHOST_BLK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <rte_vhost.h>

#include "blockdev.h"

enum {
	BLK_VUB_SEG_MAX = 126,        /* advertised seg_max (data segments per request) */
	BLK_VUB_SIZE_MAX = 1u << 20,  /* advertised size_max (bytes per segment) */
	/* Header, data, status, plus room for buffers split at region edges. */
	BLK_VUB_MAX_IOV = BLK_VUB_SEG_MAX + 34,
	BLK_VUB_MAX_CHAIN = 1024,     /* descriptors per chain, indirect included */
	BLK_VUB_MAX_QSIZE = 1024,     /* largest virtqueue accepted */
	BLK_VUB_ID_BYTES = VIRTIO_BLK_ID_BYTES,
	BLK_VUB_SECTOR = 512,         /* virtio-blk sectors are always 512 bytes */
};

/* A descriptor chain turned into host iovecs: the first n_out are
 * device-readable, the rest device-writable. */
struct blk_vub_chain {
	struct iovec iov[BLK_VUB_MAX_IOV];
	int iovcnt;
	int n_out;
	uint64_t out_bytes;
	uint64_t in_bytes;
};

/* Walks the chain starting at `head` in the descriptor table `desc` of `qsize`
 * entries (already mapped by the vhost library; its contents are the guest's),
 * following one level of indirect table when `indirect` was negotiated.
 * Returns 0, or -EINVAL (bad index, loop, order, indirect misuse), -E2BIG (too
 * many buffers), -EFAULT (a buffer outside guest memory). */
int blk_vub_parse(struct rte_vhost_memory *mem, const struct vring_desc *desc, uint16_t qsize,
		  uint16_t head, bool indirect, struct blk_vub_chain *c);

/* What the device looks like to the decoder. */
struct blk_vub_geom {
	uint64_t size;               /* bytes */
	uint32_t block_size;
	uint32_t caps;               /* BLK_CAP_* of the bdev */
	bool readonly;
	const char *serial;          /* GET_ID answer, at most 20 bytes used */
	uint32_t max_discard_sectors;
	uint32_t max_write_zeroes_sectors;
};

/* A decoded request. */
struct blk_vub_req {
	uint32_t type;               /* VIRTIO_BLK_T_* from the header */
	uint8_t status;              /* VIRTIO_BLK_S_* when submit is false */
	bool submit;                 /* true: send io_type/offset/len/iov to the bdev */
	enum blk_io_type io_type;
	uint64_t offset, len;        /* bytes */
	struct iovec *iov;           /* into the chain's array */
	int iovcnt;
	uint8_t *status_ptr;         /* the guest's status byte */
	uint32_t used_len;           /* bytes written to the guest when it succeeds */
};

/* Decodes a parsed chain. Consumes the chain's iovecs (trims the header and the
 * status byte off them). GET_ID is answered here (data copied to the guest,
 * submit false, status OK). Returns 0 with *r filled (r->status says how to
 * complete a request that is not submitted), or -EINVAL when the chain has no
 * room for a header or a status byte (the queue is then broken). */
int blk_vub_decode(struct blk_vub_chain *c, const struct blk_vub_geom *g, struct blk_vub_req *r);

#endif /* BLK_VHOST_BLK_INTERNAL_H */
