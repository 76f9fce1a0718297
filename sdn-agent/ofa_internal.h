/* ofa_internal.h — helpers shared by the sdn-agent sources (not public).
 *
 * Received bytes may sit at any alignment, so wire fields are read and
 * written through memcpy, never through a cast pointer.
 */
#ifndef OFA_INTERNAL_H
#define OFA_INTERNAL_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "ofa_msg.h"
#include "vsl_util.h"

static inline uint16_t ofa_get16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return be16toh(v);
}

static inline uint32_t ofa_get32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static inline uint64_t ofa_get64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static inline void ofa_put16(void *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, 2);
}

static inline void ofa_put32(void *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static inline size_t ofa_pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

#define OFA_BAD_LEN ofa_err(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN)

/* A valid output port for actions: a switch port or a reserved port other than
 * ANY (OFPP_TABLE only in PACKET_OUT, checked by the caller). */
static inline bool ofa_port_is_valid_output(uint32_t port)
{
	return (port > 0 && port <= OFPP_MAX) ||
	       (port >= OFPP_IN_PORT && port <= OFPP_LOCAL);
}

/* Encodes a single OXM TLV for `field` with value v (no mask) — shared by the
 * match encoder and SET_FIELD. Returns 0 or -ENOMEM. */
int ofa_oxm_put(struct ofa_buf *b, unsigned field, const union ofa_value *v,
		const union ofa_value *mask);
/* Decodes one OXM TLV at p (avail bytes) into host order (mask all ones when
 * the TLV has none). Returns the TLV's total length (> 0) or a negative
 * reason the caller maps into its own error space (match or set-field):
 * -EMSGSIZE bad or overflowing length, -ENOENT unknown class or field,
 * -EINVAL mask on a field that has none, -EDOM value bits outside the mask
 * or a value out of range. */
int ofa_oxm_get(const uint8_t *p, size_t avail, unsigned *field, bool *hasmask,
		union ofa_value *v, union ofa_value *mask);
/* True when `m` satisfies the prerequisites of `field`. */
bool ofa_oxm_prereq_ok(const struct ofa_match *m, unsigned field);
/* Validates a value against field-specific ranges (vlan_pcp <= 7 ...). */
bool ofa_oxm_value_ok(unsigned field, const union ofa_value *v);

/* ---- agent and connections (ofa_agent.c, ofa_conn.c, ofa_handler.c) ---- */

#include <netinet/in.h>

#include "ofa.h"

struct vsl_timer;

enum ofa_conn_state {
	OFA_CONN_CONNECTING,  /* active: non-blocking connect in progress */
	OFA_CONN_HELLO,       /* our HELLO sent, waiting for the peer's */
	OFA_CONN_ACTIVE,      /* version 1.3 agreed */
};

/* A "tcp:" (active) or "ptcp:" (passive) controller target. */
struct ofa_target {
	struct ofa_agent *agent;
	struct ofa_target *next;
	char name[64];
	bool passive;
	struct sockaddr_in addr;
	int listen_fd;             /* passive: the listener, else -1 */
	struct ofa_conn *conn;     /* active: the current connection or NULL */
	struct vsl_timer *retry;   /* active: pending reconnect */
	unsigned backoff_ms;       /* active: next reconnect delay */
};

enum { OFA_RX_CAP = 2 * OFP_MAX_MSG_LEN + 1 };

struct ofa_conn {
	struct ofa_agent *agent;
	struct ofa_conn *next;
	struct ofa_target *target;  /* NULL once its target is deleted */
	int fd;
	enum ofa_conn_state state;
	char peer[64];
	uint8_t *rx;                /* OFA_RX_CAP bytes; rx_len used */
	size_t rx_len;
	struct ofa_buf tx;          /* queued output; tx_off bytes already sent */
	size_t tx_off;
	bool want_out;              /* output queued: EPOLLOUT wanted */
	uint32_t armed;             /* events registered with the loop */
	bool rx_paused;             /* output above the high-water mark */
	bool close_after_flush;     /* HELLO_FAILED sent */
	bool failed;                /* I/O error or drop: destroy at a safe point */
	uint32_t role;              /* OFPCR_ROLE_* */
	uint16_t config_flags;
	uint16_t miss_send_len;
	uint32_t async[6];          /* ofp_async_config masks, host order */
	uint64_t last_rx_ms;
	uint64_t last_probe_ms;
	unsigned missed_echo;
	struct vsl_timer *echo;
	uint64_t rx_msgs, tx_msgs, tx_dropped;
};

struct ofa_agent {
	struct vsl_loop *loop;
	const struct ofa_datapath_ops *ops;
	void *dp;
	struct ofa_agent_config cfg;
	struct ofa_target *targets;
	struct ofa_conn *conns;
	bool generation_valid;
	uint64_t generation_id;
	uint32_t next_xid;
};

/* ofa_conn.c */
struct ofa_conn *ofa_conn_create(struct ofa_agent *agent, struct ofa_target *t, int fd,
				 bool connecting);
void ofa_conn_destroy(struct ofa_conn *c);
/* Queues one encoded message (or several back to back). `async` messages are
 * dropped (and counted) when the queue is over its bound; replies are always
 * queued (the connection stops reading instead). Returns 0 or -ENOMEM. */
int ofa_conn_send(struct ofa_conn *c, const void *msg, size_t len, bool async);
/* Writes what the socket takes; arms EPOLLOUT for the rest. Never destroys c:
 * sets c->failed on error. */
void ofa_conn_flush(struct ofa_conn *c);
/* Sends an ERROR for the message at req (req_len bytes). */
void ofa_conn_send_error(struct ofa_conn *c, int err, const uint8_t *req, size_t req_len);
const char *ofa_conn_state_name(const struct ofa_conn *c);

/* ofa_handler.c: handles one framed message of an ACTIVE connection. */
void ofa_handle_msg(struct ofa_conn *c, const uint8_t *msg, size_t len);

/* ofa_agent.c */
void ofa_agent_conn_closed(struct ofa_agent *agent, struct ofa_conn *c);
void ofa_agent_conn_active(struct ofa_agent *agent, struct ofa_conn *c);
int ofa_agent_role_request(struct ofa_conn *c, const struct ofa_role *req, struct ofa_role *reply);

#endif /* OFA_INTERNAL_H */
