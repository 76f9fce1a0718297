/* blk_nbd_proto.h — the NBD protocol without I/O: wire formats, the fixed
 * newstyle handshake as a byte-fed state machine, and transmission request
 * parsing and checking. blk_nbd.c drives it with sockets; the unit tests and the
 * fuzz target drive it with crafted bytes.
 *
 * Everything here treats its input as hostile: every length is checked before
 * it is used, nothing is allocated from a length the peer chose beyond the
 * fixed bounds below, and a violation either gets the NBD error the
 * specification names (the connection survives) or, where the protocol cannot
 * recover (bad magic, unknown client flags), a negative return that tells the
 * caller to close. Reference: https://github.com/NetworkBlockDevice/nbd
 * doc/proto.md.
 */
#ifndef BLK_NBD_PROTO_H
#define BLK_NBD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef uint16_t be16;
typedef uint32_t be32;
typedef uint64_t be64;

/* ---------------------------------------------------------- wire constants */

#define NBD_MAGIC            0x4e42444d41474943ull   /* "NBDMAGIC" */
#define NBD_IHAVEOPT         0x49484156454F5054ull   /* "IHAVEOPT" */
#define NBD_REP_MAGIC        0x0003e889045565a9ull
#define NBD_REQUEST_MAGIC    0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698u
#define NBD_STRUCTURED_REPLY_MAGIC 0x668e33efu

enum {
	NBD_FLAG_FIXED_NEWSTYLE = 1 << 0,    /* handshake flags (server) */
	NBD_FLAG_NO_ZEROES = 1 << 1,
	NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0,  /* client flags */
	NBD_FLAG_C_NO_ZEROES = 1 << 1,
};

enum {  /* transmission flags */
	NBD_FLAG_HAS_FLAGS = 1 << 0,
	NBD_FLAG_READ_ONLY = 1 << 1,
	NBD_FLAG_SEND_FLUSH = 1 << 2,
	NBD_FLAG_SEND_FUA = 1 << 3,
	NBD_FLAG_ROTATIONAL = 1 << 4,
	NBD_FLAG_SEND_TRIM = 1 << 5,
	NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6,
	NBD_FLAG_SEND_DF = 1 << 7,
	NBD_FLAG_CAN_MULTI_CONN = 1 << 8,
};

enum {  /* options */
	NBD_OPT_EXPORT_NAME = 1,
	NBD_OPT_ABORT = 2,
	NBD_OPT_LIST = 3,
	NBD_OPT_STARTTLS = 5,
	NBD_OPT_INFO = 6,
	NBD_OPT_GO = 7,
	NBD_OPT_STRUCTURED_REPLY = 8,
};

/* option replies */
#define NBD_REP_ACK          1u
#define NBD_REP_SERVER       2u
#define NBD_REP_INFO         3u
#define NBD_REP_FLAG_ERROR   (1u << 31)
#define NBD_REP_ERR_UNSUP    (NBD_REP_FLAG_ERROR | 1u)
#define NBD_REP_ERR_POLICY   (NBD_REP_FLAG_ERROR | 2u)
#define NBD_REP_ERR_INVALID  (NBD_REP_FLAG_ERROR | 3u)
#define NBD_REP_ERR_UNKNOWN  (NBD_REP_FLAG_ERROR | 6u)
#define NBD_REP_ERR_TOO_BIG  (NBD_REP_FLAG_ERROR | 9u)

enum {  /* NBD_REP_INFO types */
	NBD_INFO_EXPORT = 0,
	NBD_INFO_NAME = 1,
	NBD_INFO_DESCRIPTION = 2,
	NBD_INFO_BLOCK_SIZE = 3,
};

enum {  /* commands */
	NBD_CMD_READ = 0,
	NBD_CMD_WRITE = 1,
	NBD_CMD_DISC = 2,
	NBD_CMD_FLUSH = 3,
	NBD_CMD_TRIM = 4,
	NBD_CMD_CACHE = 5,
	NBD_CMD_WRITE_ZEROES = 6,
	NBD_CMD_BLOCK_STATUS = 7,
};

enum {  /* command flags */
	NBD_CMD_FLAG_FUA = 1 << 0,
	NBD_CMD_FLAG_NO_HOLE = 1 << 1,
	NBD_CMD_FLAG_DF = 1 << 2,
	NBD_CMD_FLAG_REQ_ONE = 1 << 3,
	NBD_CMD_FLAG_FAST_ZERO = 1 << 4,
};

enum {  /* structured reply chunks */
	NBD_REPLY_FLAG_DONE = 1 << 0,
	NBD_REPLY_TYPE_NONE = 0,
	NBD_REPLY_TYPE_OFFSET_DATA = 1,
	NBD_REPLY_TYPE_ERROR = (1 << 15) + 1,
};

enum {  /* errors on the wire (Linux values, as the protocol defines them) */
	NBD_OK = 0,
	NBD_EPERM = 1,
	NBD_EIO = 5,
	NBD_ENOMEM = 12,
	NBD_EINVAL = 22,
	NBD_ENOSPC = 28,
	NBD_EOVERFLOW = 75,
	NBD_ENOTSUP = 95,
	NBD_ESHUTDOWN = 108,
};

enum {
	BLK_NBD_MAX_REQUEST = 32 << 20,  /* largest READ/WRITE payload accepted */
	BLK_NBD_MAX_NAME = 4096,         /* the protocol's limit on names */
	BLK_NBD_OPT_MAX = 8192,          /* larger option payloads are skipped, ERR_TOO_BIG */
	BLK_NBD_HS_OUT_MAX = 1 << 20,    /* unread handshake replies before we give up */
};

/* ------------------------------------------------------------ wire structs */

struct nbd_request {
	be32 magic;
	be16 flags;
	be16 type;
	be64 cookie;
	be64 offset;
	be32 length;
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_request) == 28, "nbd_request is 28 bytes");

struct nbd_simple_reply {
	be32 magic;
	be32 error;
	be64 cookie;
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_simple_reply) == 16, "nbd_simple_reply is 16 bytes");

struct nbd_structured_reply {
	be32 magic;
	be16 flags;
	be16 type;
	be64 cookie;
	be32 length;
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_structured_reply) == 20, "nbd_structured_reply is 20 bytes");

/* The longest reply header blk_nbd_reply_build() writes: a structured chunk
 * and its 8-byte offset (OFFSET_DATA) or 6-byte error payload (ERROR). */
enum { BLK_NBD_REPLY_HDR_MAX = sizeof(struct nbd_structured_reply) + 8 };

struct nbd_opt_hdr {
	be64 magic;
	be32 option;
	be32 length;
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_opt_hdr) == 16, "nbd_opt_hdr is 16 bytes");

struct nbd_opt_reply {
	be64 magic;
	be32 option;
	be32 type;
	be32 length;
} __attribute__((packed));
_Static_assert(sizeof(struct nbd_opt_reply) == 20, "nbd_opt_reply is 20 bytes");

/* ------------------------------------------------------------------ exports */

/* What the handshake tells a client about an export. */
struct blk_nbd_export_info {
	const char *name;
	const char *description;     /* may be NULL */
	uint64_t size;               /* bytes */
	uint16_t tflags;             /* NBD_FLAG_* transmission flags */
	uint32_t min_block;          /* the bdev's block size */
	uint32_t pref_block;
	uint32_t max_block;          /* BLK_NBD_MAX_REQUEST */
};

/* Finds an export by name ("" is the default export) or returns NULL; lists
 * them by index (NULL past the end). Called from blk_nbd_hs_feed(); the info
 * must stay valid until the handshake is done with it (until fini). */
typedef const struct blk_nbd_export_info *(*blk_nbd_lookup_fn)(void *arg, const char *name);
typedef const struct blk_nbd_export_info *(*blk_nbd_list_fn)(void *arg, unsigned idx);

/* ---------------------------------------------------------------- handshake */

enum blk_nbd_hs_state {
	BLK_NBD_HS_CLIENT_FLAGS,
	BLK_NBD_HS_OPT_HDR,
	BLK_NBD_HS_OPT_DATA,
	BLK_NBD_HS_OPT_SKIP,
	BLK_NBD_HS_DONE,     /* transmission starts with the export in `chosen` */
	BLK_NBD_HS_CLOSE,    /* send what is in out, then close (ABORT) */
};

struct blk_nbd_hs {
	enum blk_nbd_hs_state state;
	bool no_zeroes;
	bool structured;             /* NBD_OPT_STRUCTURED_REPLY was acknowledged */
	uint32_t opt, optlen, have;
	uint64_t skip;
	uint8_t hdr[sizeof(struct nbd_opt_hdr)];
	uint8_t optbuf[BLK_NBD_OPT_MAX];
	uint8_t *out;                /* replies to send, out_len bytes */
	size_t out_len, out_cap;
	const struct blk_nbd_export_info *chosen;
	blk_nbd_lookup_fn lookup;
	blk_nbd_list_fn list;
	void *arg;
	unsigned options;            /* options handled (for stats and tests) */
};

/* Starts a server-side handshake: queues the greeting into out. Returns 0 or
 * -ENOMEM. Free with blk_nbd_hs_fini(). */
int blk_nbd_hs_init(struct blk_nbd_hs *hs, blk_nbd_lookup_fn lookup, blk_nbd_list_fn list,
		    void *arg);
void blk_nbd_hs_fini(struct blk_nbd_hs *hs);
/* Feeds len bytes from the client. Returns the bytes consumed: all of them
 * unless the handshake reached DONE or CLOSE, after which the rest belongs to
 * the transmission phase (or to nobody). Returns -EPROTO (bad magic, unknown
 * client flags, no fixed newstyle), -ENOENT (EXPORT_NAME of an unknown
 * export: the protocol's only answer is to close) or -ENOBUFS (the client does
 * not read its replies) when the connection must be closed. */
ssize_t blk_nbd_hs_feed(struct blk_nbd_hs *hs, const uint8_t *in, size_t len);
/* Drops the first n bytes of out (they were sent). */
void blk_nbd_hs_consume(struct blk_nbd_hs *hs, size_t n);

/* ------------------------------------------------------------- transmission */

struct blk_nbd_req {
	uint16_t flags;
	uint16_t type;
	uint64_t cookie;
	uint64_t offset;
	uint32_t len;
};

/* Decodes a 28-byte request header. Returns 0, or -EPROTO for a bad magic
 * (the stream cannot be resynchronised: close). */
int blk_nbd_req_parse(const uint8_t hdr[sizeof(struct nbd_request)], struct blk_nbd_req *req);
/* Bytes of payload that follow this request on the wire (WRITE: its length,
 * whether or not the request is valid; the caller must read or skip them). */
uint32_t blk_nbd_req_payload(const struct blk_nbd_req *req);
/* Checks a request against the export. Returns NBD_OK or the NBD error to
 * answer with: EINVAL (unknown command or flag, misaligned, too long, read or
 * trim past the end), ENOSPC (write or write-zeroes past the end), EPERM (write
 * to a read-only export), ENOTSUP (a command the export did not advertise). */
uint32_t blk_nbd_req_check(const struct blk_nbd_req *req, const struct blk_nbd_export_info *ex);
/* Builds a simple reply. */
void blk_nbd_reply_simple(struct nbd_simple_reply *r, uint32_t nbd_error, uint64_t cookie);
/* Builds the reply header to `req` into buf (BLK_NBD_REPLY_HDR_MAX bytes) and
 * returns its length. With structured replies negotiated a READ is answered
 * with one chunk (OFFSET_DATA + DONE, followed by req->len bytes of data when
 * nbd_error is 0 — NONE for a zero-length read —; ERROR + DONE otherwise),
 * as the protocol requires; every
 * other command gets a simple reply, which it allows. Without, all simple. */
size_t blk_nbd_reply_build(uint8_t *buf, bool structured, const struct blk_nbd_req *req,
			   uint32_t nbd_error);
/* Maps a -errno from the bdev layer to the NBD error to send. */
uint32_t blk_nbd_errno(int neg_errno);

#endif /* BLK_NBD_PROTO_H */
