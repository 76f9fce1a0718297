/* ofa_buf.c — the growable byte buffer every encoder appends to, and the
 * open/finish pair that writes a message's length once its body is known. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ofa_internal.h"

void ofa_buf_init(struct ofa_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void ofa_buf_fini(struct ofa_buf *b)
{
	free(b->data);
	ofa_buf_init(b);
}

void *ofa_buf_put(struct ofa_buf *b, const void *src, size_t n)
{
	uint8_t *p;

	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2)
				return NULL;
			cap *= 2;
		}
		p = realloc(b->data, cap);
		if (!p)
			return NULL;
		b->data = p;
		b->cap = cap;
	}
	p = b->data + b->len;
	if (src)
		memcpy(p, src, n);
	else if (n)
		memset(p, 0, n);
	b->len += n;
	return p;
}

int ofa_buf_pad8(struct ofa_buf *b, size_t start)
{
	size_t used = b->len - start;

	if (ofa_pad8(used) == used)
		return 0;
	return ofa_buf_put(b, NULL, ofa_pad8(used) - used) ? 0 : -ENOMEM;
}

long ofa_msg_start(struct ofa_buf *b, uint8_t type, uint32_t xid)
{
	size_t start = b->len;
	struct ofp_header h = { .version = OFP13_VERSION, .type = type, .xid = htobe32(xid) };

	if (!ofa_buf_put(b, &h, sizeof(h)))
		return -ENOMEM;
	return (long)start;
}

int ofa_msg_finish(struct ofa_buf *b, long start)
{
	size_t len = b->len - (size_t)start;

	if (len > OFP_MAX_MSG_LEN)
		return -EMSGSIZE;
	ofa_put16(b->data + start + 2, (uint16_t)len);
	return 0;
}
