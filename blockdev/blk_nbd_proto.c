/* blk_nbd_proto.c — NBD handshake state machine and request checks, no I/O.
 * See blk_nbd_proto.h. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk_nbd_proto.h"

/* ------------------------------------------------------------ out buffer */

static int out_put(struct blk_nbd_hs *hs, const void *data, size_t n)
{
	if (n > BLK_NBD_HS_OUT_MAX - hs->out_len)
		return -ENOBUFS;
	if (hs->out_len + n > hs->out_cap) {
		size_t cap = hs->out_cap ? hs->out_cap : 1024;
		uint8_t *p;

		while (cap < hs->out_len + n)
			cap *= 2;
		p = realloc(hs->out, cap);
		if (!p)
			return -ENOMEM;
		hs->out = p;
		hs->out_cap = cap;
	}
	if (n)
		memcpy(hs->out + hs->out_len, data, n);
	hs->out_len += n;
	return 0;
}

void blk_nbd_hs_consume(struct blk_nbd_hs *hs, size_t n)
{
	if (n >= hs->out_len) {
		hs->out_len = 0;
		return;
	}
	memmove(hs->out, hs->out + n, hs->out_len - n);
	hs->out_len -= n;
}

/* An option reply whose payload is a (possibly empty) head followed by tail. */
static int opt_reply(struct blk_nbd_hs *hs, uint32_t type, const void *head, size_t hlen,
		     const void *tail, size_t tlen)
{
	struct nbd_opt_reply r = {
		.magic = htobe64(NBD_REP_MAGIC),
		.option = htobe32(hs->opt),
		.type = htobe32(type),
		.length = htobe32((uint32_t)(hlen + tlen)),
	};
	int ret = out_put(hs, &r, sizeof(r));

	if (!ret)
		ret = out_put(hs, head, hlen);
	if (!ret)
		ret = out_put(hs, tail, tlen);
	return ret;
}

static int opt_error(struct blk_nbd_hs *hs, uint32_t type, const char *msg)
{
	return opt_reply(hs, type, msg, strlen(msg), NULL, 0);
}

/* ------------------------------------------------------------ handshake */

int blk_nbd_hs_init(struct blk_nbd_hs *hs, blk_nbd_lookup_fn lookup, blk_nbd_list_fn list,
		    void *arg)
{
	struct __attribute__((packed)) {
		be64 magic;
		be64 opt_magic;
		be16 flags;
	} greeting = {
		.magic = htobe64(NBD_MAGIC),
		.opt_magic = htobe64(NBD_IHAVEOPT),
		.flags = htobe16(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES),
	};

	memset(hs, 0, sizeof(*hs));
	hs->state = BLK_NBD_HS_CLIENT_FLAGS;
	hs->lookup = lookup;
	hs->list = list;
	hs->arg = arg;
	return out_put(hs, &greeting, sizeof(greeting));
}

void blk_nbd_hs_fini(struct blk_nbd_hs *hs)
{
	free(hs->out);
	hs->out = NULL;
	hs->out_len = hs->out_cap = 0;
}

static int hs_export_name(struct blk_nbd_hs *hs)
{
	char name[BLK_NBD_MAX_NAME + 1];
	const struct blk_nbd_export_info *ex;
	struct __attribute__((packed)) {
		be64 size;
		be16 flags;
		uint8_t zeroes[124];
	} r;

	/* No error reply exists for EXPORT_NAME: a bad name closes. */
	if (hs->optlen > BLK_NBD_MAX_NAME || memchr(hs->optbuf, 0, hs->optlen))
		return -ENOENT;
	memcpy(name, hs->optbuf, hs->optlen);
	name[hs->optlen] = '\0';
	ex = hs->lookup(hs->arg, name);
	if (!ex)
		return -ENOENT;
	memset(&r, 0, sizeof(r));
	r.size = htobe64(ex->size);
	r.flags = htobe16(ex->tflags);
	hs->chosen = ex;
	hs->state = BLK_NBD_HS_DONE;
	return out_put(hs, &r, hs->no_zeroes ? 10 : sizeof(r));
}

static int hs_list(struct blk_nbd_hs *hs)
{
	const struct blk_nbd_export_info *ex;
	int ret = 0;

	if (hs->optlen)
		return opt_error(hs, NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
	for (unsigned i = 0; !ret && (ex = hs->list(hs->arg, i)); i++) {
		be32 len = htobe32((uint32_t)strlen(ex->name));

		ret = opt_reply(hs, NBD_REP_SERVER, &len, sizeof(len), ex->name, strlen(ex->name));
	}
	return ret ? ret : opt_reply(hs, NBD_REP_ACK, NULL, 0, NULL, 0);
}

static int info_reply(struct blk_nbd_hs *hs, uint16_t type, const void *data, size_t len)
{
	be16 t = htobe16(type);

	return opt_reply(hs, NBD_REP_INFO, &t, sizeof(t), data, len);
}

/* INFO and GO: u32 name length, name, u16 number of requests, u16 each. */
static int hs_info_go(struct blk_nbd_hs *hs)
{
	const struct blk_nbd_export_info *ex;
	char name[BLK_NBD_MAX_NAME + 1];
	uint32_t namelen;
	uint16_t nreq;
	bool want_name = false, want_desc = false;
	int ret;

	if (hs->optlen < 6)
		return opt_error(hs, NBD_REP_ERR_INVALID, "option too short");
	memcpy(&namelen, hs->optbuf, 4);
	namelen = be32toh(namelen);
	if (namelen > hs->optlen - 6 || namelen > BLK_NBD_MAX_NAME)
		return opt_error(hs, NBD_REP_ERR_INVALID, "name length out of range");
	memcpy(&nreq, hs->optbuf + 4 + namelen, 2);
	nreq = be16toh(nreq);
	if (4 + namelen + 2 + 2 * (uint32_t)nreq != hs->optlen)
		return opt_error(hs, NBD_REP_ERR_INVALID, "option length does not match its contents");
	if (memchr(hs->optbuf + 4, 0, namelen))
		return opt_error(hs, NBD_REP_ERR_INVALID, "export name contains NUL");
	memcpy(name, hs->optbuf + 4, namelen);
	name[namelen] = '\0';
	for (uint16_t i = 0; i < nreq; i++) {
		uint16_t t;

		memcpy(&t, hs->optbuf + 4 + namelen + 2 + 2 * i, 2);
		t = be16toh(t);
		want_name |= t == NBD_INFO_NAME;
		want_desc |= t == NBD_INFO_DESCRIPTION;
	}
	ex = hs->lookup(hs->arg, name);
	if (!ex)
		return opt_error(hs, NBD_REP_ERR_UNKNOWN, "no such export");

	{
		struct __attribute__((packed)) {
			be64 size;
			be16 flags;
		} e = { htobe64(ex->size), htobe16(ex->tflags) };
		struct __attribute__((packed)) {
			be32 min, pref, max;
		} bs = { htobe32(ex->min_block), htobe32(ex->pref_block), htobe32(ex->max_block) };

		ret = info_reply(hs, NBD_INFO_EXPORT, &e, sizeof(e));
		/* Always sent: clients that did not ask may ignore it, and the
		 * ones that did (qemu) align their requests to it. */
		if (!ret)
			ret = info_reply(hs, NBD_INFO_BLOCK_SIZE, &bs, sizeof(bs));
	}
	if (!ret && want_name)
		ret = info_reply(hs, NBD_INFO_NAME, ex->name, strlen(ex->name));
	if (!ret && want_desc && ex->description)
		ret = info_reply(hs, NBD_INFO_DESCRIPTION, ex->description, strlen(ex->description));
	if (!ret)
		ret = opt_reply(hs, NBD_REP_ACK, NULL, 0, NULL, 0);
	if (!ret && hs->opt == NBD_OPT_GO) {
		hs->chosen = ex;
		hs->state = BLK_NBD_HS_DONE;
	}
	return ret;
}

static int hs_structured(struct blk_nbd_hs *hs)
{
	if (hs->optlen)
		return opt_error(hs, NBD_REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
	if (hs->structured)
		return opt_error(hs, NBD_REP_ERR_INVALID, "structured replies already negotiated");
	hs->structured = true;
	return opt_reply(hs, NBD_REP_ACK, NULL, 0, NULL, 0);
}

/* One message-type table, as for every protocol in Vessel. */
static const struct {
	uint32_t opt;
	int (*fn)(struct blk_nbd_hs *hs);
} opt_handlers[] = {
	{ NBD_OPT_EXPORT_NAME, hs_export_name },
	{ NBD_OPT_LIST, hs_list },
	{ NBD_OPT_INFO, hs_info_go },
	{ NBD_OPT_GO, hs_info_go },
	{ NBD_OPT_STRUCTURED_REPLY, hs_structured },
};

static int hs_option(struct blk_nbd_hs *hs)
{
	hs->state = BLK_NBD_HS_OPT_HDR;
	hs->options++;
	if (hs->opt == NBD_OPT_ABORT) {
		hs->state = BLK_NBD_HS_CLOSE;
		return opt_reply(hs, NBD_REP_ACK, NULL, 0, NULL, 0);
	}
	for (size_t i = 0; i < sizeof(opt_handlers) / sizeof(opt_handlers[0]); i++)
		if (opt_handlers[i].opt == hs->opt)
			return opt_handlers[i].fn(hs);
	/* STARTTLS, meta contexts, extended headers and anything newer. */
	return opt_error(hs, NBD_REP_ERR_UNSUP, "option not supported");
}

static size_t take(uint8_t *dst, uint32_t *have, uint32_t want, const uint8_t *in, size_t len)
{
	size_t n = want - *have;

	if (n > len)
		n = len;
	memcpy(dst + *have, in, n);
	*have += (uint32_t)n;
	return n;
}

ssize_t blk_nbd_hs_feed(struct blk_nbd_hs *hs, const uint8_t *in, size_t len)
{
	size_t used = 0;
	int ret = 0;

	while (used < len && !ret) {
		switch (hs->state) {
		case BLK_NBD_HS_CLIENT_FLAGS: {
			uint32_t flags;

			used += take(hs->hdr, &hs->have, 4, in + used, len - used);
			if (hs->have < 4)
				break;
			memcpy(&flags, hs->hdr, 4);
			flags = be32toh(flags);
			if (flags & ~(uint32_t)(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES) ||
			    !(flags & NBD_FLAG_C_FIXED_NEWSTYLE))
				return -EPROTO;
			hs->no_zeroes = flags & NBD_FLAG_C_NO_ZEROES;
			hs->have = 0;
			hs->state = BLK_NBD_HS_OPT_HDR;
			break;
		}
		case BLK_NBD_HS_OPT_HDR: {
			struct nbd_opt_hdr h;

			used += take(hs->hdr, &hs->have, sizeof(h), in + used, len - used);
			if (hs->have < sizeof(h))
				break;
			memcpy(&h, hs->hdr, sizeof(h));
			hs->have = 0;
			if (be64toh(h.magic) != NBD_IHAVEOPT)
				return -EPROTO;
			hs->opt = be32toh(h.option);
			hs->optlen = be32toh(h.length);
			if (hs->optlen > BLK_NBD_OPT_MAX) {
				hs->skip = hs->optlen;
				hs->state = BLK_NBD_HS_OPT_SKIP;
			} else if (hs->optlen == 0) {
				ret = hs_option(hs);
			} else {
				hs->state = BLK_NBD_HS_OPT_DATA;
			}
			break;
		}
		case BLK_NBD_HS_OPT_DATA:
			used += take(hs->optbuf, &hs->have, hs->optlen, in + used, len - used);
			if (hs->have == hs->optlen) {
				hs->have = 0;
				ret = hs_option(hs);
			}
			break;
		case BLK_NBD_HS_OPT_SKIP: {
			size_t n = len - used < hs->skip ? len - used : (size_t)hs->skip;

			used += n;
			hs->skip -= n;
			if (hs->skip)
				break;
			hs->state = BLK_NBD_HS_OPT_HDR;
			if (hs->opt == NBD_OPT_EXPORT_NAME)
				return -ENOENT;
			hs->options++;
			ret = opt_error(hs, NBD_REP_ERR_TOO_BIG, "option too large");
			break;
		}
		case BLK_NBD_HS_DONE:
		case BLK_NBD_HS_CLOSE:
			return (ssize_t)used;
		}
		if (hs->state == BLK_NBD_HS_DONE || hs->state == BLK_NBD_HS_CLOSE)
			break;
	}
	return ret ? ret : (ssize_t)used;
}

/* ------------------------------------------------------------ transmission */

int blk_nbd_req_parse(const uint8_t hdr[sizeof(struct nbd_request)], struct blk_nbd_req *req)
{
	struct nbd_request r;

	memcpy(&r, hdr, sizeof(r));
	if (be32toh(r.magic) != NBD_REQUEST_MAGIC)
		return -EPROTO;
	req->flags = be16toh(r.flags);
	req->type = be16toh(r.type);
	req->cookie = r.cookie;   /* opaque: echoed back as sent */
	req->offset = be64toh(r.offset);
	req->len = be32toh(r.length);
	return 0;
}

uint32_t blk_nbd_req_payload(const struct blk_nbd_req *req)
{
	return req->type == NBD_CMD_WRITE ? req->len : 0;
}

uint32_t blk_nbd_req_check(const struct blk_nbd_req *req, const struct blk_nbd_export_info *ex)
{
	const uint16_t known = NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_DF |
			       NBD_CMD_FLAG_REQ_ONE | NBD_CMD_FLAG_FAST_ZERO;
	bool ro = ex->tflags & NBD_FLAG_READ_ONLY;
	uint64_t mask = ex->min_block ? ex->min_block - 1 : 0;
	bool past_end = req->offset > ex->size || req->len > ex->size - req->offset;
	bool misaligned = (req->offset | req->len) & mask;

	if (req->flags & ~known)
		return NBD_EINVAL;
	switch (req->type) {
	case NBD_CMD_READ:
		if (req->len > ex->max_block || misaligned || past_end)
			return NBD_EINVAL;
		return NBD_OK;
	case NBD_CMD_WRITE:
		if (ro)
			return NBD_EPERM;
		if (req->len > ex->max_block || misaligned)
			return NBD_EINVAL;
		return past_end ? NBD_ENOSPC : NBD_OK;
	case NBD_CMD_FLUSH:
		return ex->tflags & NBD_FLAG_SEND_FLUSH ? NBD_OK : NBD_EINVAL;
	case NBD_CMD_TRIM:
		if (ro)
			return NBD_EPERM;
		if (!(ex->tflags & NBD_FLAG_SEND_TRIM))
			return NBD_EINVAL;
		return misaligned || past_end ? NBD_EINVAL : NBD_OK;
	case NBD_CMD_WRITE_ZEROES:
		if (ro)
			return NBD_EPERM;
		if (!(ex->tflags & NBD_FLAG_SEND_WRITE_ZEROES) || misaligned)
			return NBD_EINVAL;
		return past_end ? NBD_ENOSPC : NBD_OK;
	case NBD_CMD_DISC:
		return NBD_OK;
	default:
		/* CACHE, BLOCK_STATUS (needs structured replies), unknown. */
		return NBD_EINVAL;
	}
}

void blk_nbd_reply_simple(struct nbd_simple_reply *r, uint32_t nbd_error, uint64_t cookie)
{
	r->magic = htobe32(NBD_SIMPLE_REPLY_MAGIC);
	r->error = htobe32(nbd_error);
	r->cookie = cookie;
}

size_t blk_nbd_reply_build(uint8_t *buf, bool structured, const struct blk_nbd_req *req,
			   uint32_t nbd_error)
{
	struct nbd_structured_reply h;
	uint16_t type = nbd_error ? NBD_REPLY_TYPE_ERROR : NBD_REPLY_TYPE_OFFSET_DATA;
	uint32_t extra = nbd_error ? 6 : 8;

	if (!structured || req->type != NBD_CMD_READ) {
		struct nbd_simple_reply r;

		blk_nbd_reply_simple(&r, nbd_error, req->cookie);
		memcpy(buf, &r, sizeof(r));
		return sizeof(r);
	}
	if (!nbd_error && req->len == 0) {
		/* No data chunk may be empty: a zero-length read gets NONE. */
		type = NBD_REPLY_TYPE_NONE;
		extra = 0;
	}
	h.magic = htobe32(NBD_STRUCTURED_REPLY_MAGIC);
	h.flags = htobe16(NBD_REPLY_FLAG_DONE);
	h.type = htobe16(type);
	h.cookie = req->cookie;
	h.length = htobe32(nbd_error ? extra : extra + req->len);
	memcpy(buf, &h, sizeof(h));
	if (nbd_error) {
		/* u32 error, u16 message length (no message). */
		be32 e = htobe32(nbd_error);
		be16 mlen = 0;

		memcpy(buf + sizeof(h), &e, 4);
		memcpy(buf + sizeof(h) + 4, &mlen, 2);
	} else if (extra) {
		be64 off = htobe64(req->offset);

		memcpy(buf + sizeof(h), &off, 8);
	}
	return sizeof(h) + extra;
}

uint32_t blk_nbd_errno(int neg_errno)
{
	switch (-neg_errno) {
	case 0:
		return NBD_OK;
	case EPERM:
	case EROFS:
		return NBD_EPERM;
	case ENOMEM:
		return NBD_ENOMEM;
	case EINVAL:
	case ERANGE:
		return NBD_EINVAL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return NBD_ENOSPC;
	case EOVERFLOW:
		return NBD_EOVERFLOW;
	case ENOTSUP:
		return NBD_ENOTSUP;
	case ESHUTDOWN:
		return NBD_ESHUTDOWN;
	default:
		return NBD_EIO;
	}
}
