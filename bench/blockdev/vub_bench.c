/* vub_bench — a minimal vhost-user-blk front end for benchmarks and tests.
 *
 * It does what QEMU does for a vhost-user-blk-pci device, without a VM: shares
 * a memfd as "guest memory", speaks the vhost-user protocol over the unix
 * socket (GET_FEATURES, GET/SET_PROTOCOL_FEATURES, SET_OWNER, GET_CONFIG,
 * SET_FEATURES, SET_MEM_TABLE with the memfd, SET_VRING_NUM/ADDR/BASE/KICK/
 * CALL/ENABLE), builds split virtqueues in that memory and drives virtio-blk
 * requests through them. Completions are polled on the used ring (the guest
 * side never sleeps, as with a polling guest driver), so what is measured is
 * the back end.
 *
 * One JSON line per run: IOPS, bandwidth, p50/p99 latency, and, with --pid,
 * the back end's CPU time per I/O from /proc/PID/stat (utime + stime), which
 * is robust on a shared machine where wall-clock figures are not.
 *
 *   vub_bench --socket PATH --rw randread|randwrite|read|write [--bs 4096]
 *             [--qd 32] [--queues 1] [--runtime 5] [--pid PID] [--label NAME]
 *             [--verify]   (write a pattern, read it back, compare; exit 1 on mismatch)
 *   vub_bench --socket PATH --bad addr|range|loop
 *             sends one malformed request (a buffer outside the shared memory,
 *             a sector past the end, a descriptor loop) and reports what came
 *             back within 2 s (--wait S): {"bad": ..., "completed": bool, "status": N}.
 *   vub_bench --socket PATH --replay [--qd 32] [--bs 4096] [--wait 60]
 *             back-end restart with requests in flight (inflight tracking, as
 *             QEMU does it): negotiates VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
 *             gets the inflight area (GET_INFLIGHT_FD) and hands it back
 *             (SET_INFLIGHT_FD), then writes continuously, each slot to its
 *             own blocks, printing {"phase":"running"} once I/O flows. When the
 *             back end goes away it reconnects (retrying up to --wait s), sets
 *             up the ring again from the used index with the same inflight
 *             area, and waits until every request outstanding at the
 *             disconnect has completed, exactly once; then reads every block
 *             back and checks it holds the last write submitted to it. One
 *             JSON line; exit 1 on a lost or duplicated request or bad data.
 */
#include <stddef.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
	VU_GET_FEATURES = 1, VU_SET_FEATURES = 2, VU_SET_OWNER = 3, VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8, VU_SET_VRING_ADDR = 9, VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11, VU_SET_VRING_KICK = 12, VU_SET_VRING_CALL = 13,
	VU_GET_PROTOCOL_FEATURES = 15, VU_SET_PROTOCOL_FEATURES = 16, VU_SET_VRING_ENABLE = 18,
	VU_GET_CONFIG = 24, VU_GET_INFLIGHT_FD = 31, VU_SET_INFLIGHT_FD = 32,
	VU_VERSION = 1, VU_REPLY = 1 << 2,
	F_PROTOCOL_FEATURES = 30, F_VERSION_1 = 32,
	PF_MQ = 0, PF_CONFIG = 9, PF_INFLIGHT_SHMFD = 12,
	QSIZE = 256, MAX_QUEUES = 16, LAT_BUCKETS = 200000,  /* 0.1 us each: up to 20 ms */
};

struct vu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	union {
		uint64_t u64;
		struct { uint32_t index, num; } state;
		struct {
			uint32_t index, flags;
			uint64_t desc, used, avail, log;
		} addr;
		struct {
			uint32_t nregions, padding;
			struct { uint64_t gpa, size, uaddr, offset; } r[8];
		} mem;
		struct { uint32_t offset, size, flags; uint8_t region[256]; } cfg;
		struct {
			uint64_t mmap_size, mmap_offset;
			uint16_t num_queues, queue_size;
		} inflight;
	} p;
} __attribute__((packed));

struct req {
	struct virtio_blk_outhdr hdr;
	uint8_t status;
	uint64_t t0;
	uint64_t off;
};

struct vq {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx, used_seen;
	int kick, call;
	struct req *reqs;           /* [qd], in shared memory */
	uint8_t *bufs;              /* [qd * bs], in shared memory */
};

static int sock_fd;
static uint64_t dev_size;
static unsigned bs = 4096, qd = 32, nq = 1, runtime = 5;
static bool rnd, write_io, verify;
static uint64_t lat_hist[LAT_BUCKETS];
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void die(const char *what)
{
	fprintf(stderr, "vub_bench: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void vu_send(uint32_t req, const void *payload, uint32_t size, const int *fds, int nfds)
{
	struct vu_msg m = { .request = req, .flags = VU_VERSION, .size = size };
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = { .iov_base = &m, .iov_len = 12 + size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (size)
		memcpy(&m.p, payload, size);
	if (nfds) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	if (sendmsg(sock_fd, &mh, 0) != (ssize_t)iov.iov_len)
		die("sendmsg");
}

static void vu_recv(uint32_t req, struct vu_msg *m)
{
	ssize_t n = recv(sock_fd, m, 12, MSG_WAITALL);

	if (n != 12)
		die("recv header");
	if (m->size > sizeof(m->p) || (m->size && recv(sock_fd, &m->p, m->size, MSG_WAITALL) !=
						       (ssize_t)m->size))
		die("recv payload");
	if (m->request != req || !(m->flags & VU_REPLY)) {
		fprintf(stderr, "vub_bench: unexpected reply %u to %u\n", m->request, req);
		exit(2);
	}
}

/* A reply carrying one file descriptor (GET_INFLIGHT_FD). */
static int vu_recv_fd(uint32_t req, struct vu_msg *m)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = m, .iov_len = 12 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(sock_fd, &mh, MSG_WAITALL) != 12)
		die("recvmsg header");
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	if (m->size > sizeof(m->p) || (m->size && recv(sock_fd, &m->p, m->size, MSG_WAITALL) !=
						       (ssize_t)m->size))
		die("recv payload");
	if (m->request != req || !(m->flags & VU_REPLY) || fd < 0) {
		fprintf(stderr, "vub_bench: bad reply %u to %u (fd %d)\n", m->request, req, fd);
		exit(2);
	}
	return fd;
}

static uint64_t vu_get_u64(uint32_t req)
{
	struct vu_msg m;

	vu_send(req, NULL, 0, NULL, 0);
	vu_recv(req, &m);
	return m.p.u64;
}

static void lat_add(uint64_t ns)
{
	uint64_t b = ns / 100;

	lat_hist[b < LAT_BUCKETS ? b : LAT_BUCKETS - 1]++;
}

static double lat_pct(double pct, uint64_t total)
{
	uint64_t want = (uint64_t)(pct / 100.0 * (double)total), seen = 0;

	for (unsigned i = 0; i < LAT_BUCKETS; i++) {
		seen += lat_hist[i];
		if (seen > want)
			return (double)i / 10.0;
	}
	return (double)LAT_BUCKETS / 10.0;
}

static uint64_t proc_cpu_ticks(int pid)
{
	char path[64], buf[4096], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* After "comm)": state is field 3; utime and stime are fields 14, 15. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

/* Fills slot i of queue q with a request and makes it available. */
static void submit(struct vq *q, unsigned i, uint64_t seq_pos, bool wr, uint64_t t)
{
	struct req *r = &q->reqs[i];
	uint16_t head = (uint16_t)(i * 3);
	uint64_t blocks = dev_size / bs;

	r->off = rnd ? (rng() % blocks) * bs : (seq_pos % blocks) * bs;
	r->hdr.type = wr ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	r->hdr.sector = r->off / 512;
	r->status = 0xff;
	r->t0 = t;
	if (verify && wr)
		for (unsigned k = 0; k < bs; k += 8)
			memcpy(q->bufs + (size_t)i * bs + k, &(uint64_t){ r->off + k }, 8);
	q->desc[head + 1].flags = VRING_DESC_F_NEXT | (wr ? 0 : VRING_DESC_F_WRITE);
	q->avail->ring[q->avail_idx % QSIZE] = head;
	q->avail_idx++;
}

static void publish(struct vq *q)
{
	uint64_t one = 1;

	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!(__atomic_load_n(&q->used->flags, __ATOMIC_ACQUIRE) & VRING_USED_F_NO_NOTIFY))
		if (write(q->kick, &one, sizeof(one)) < 0)
			die("kick");
}

/* ------------------------------------------------------------ --replay */

struct replay {
	const char *path;
	double wait_s;
	uint8_t *mem;
	size_t total;
	int memfd, inflight_fd;
	uint64_t inflight_size;
	uint64_t features;
	struct vq q;
	uint64_t nblk;              /* blocks per slot */
	uint64_t *gen;              /* [qd * nblk]: generation of the last write submitted */
	uint64_t *slot_blk;         /* [qd]: block index (within the slot) in flight */
	bool *busy;                 /* [qd] */
	uint64_t next_gen;
};

static int replay_connect(const char *path, double wait_s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t end = now_ns() + (uint64_t)(wait_s * 1e9);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			die("socket");
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		close(fd);
		if (now_ns() > end)
			die("reconnect");
		usleep(50000);
	}
}

/* The vhost-user set-up as QEMU does it for vhost-user-blk; `base` is the
 * ring position to start from (the used index after a back-end restart). */
static void replay_handshake(struct replay *rp, bool first, uint16_t base)
{
	struct vq *q = &rp->q;
	struct vu_msg m;
	uint64_t features = vu_get_u64(VU_GET_FEATURES), pf, idx = 0;
	struct { uint32_t index, num; } st = { 0, QSIZE };

	pf = vu_get_u64(VU_GET_PROTOCOL_FEATURES);
	if (!(pf & (1ull << PF_INFLIGHT_SHMFD)) || !(pf & (1ull << PF_CONFIG))) {
		fprintf(stderr, "vub_bench: back end lacks INFLIGHT_SHMFD or CONFIG\n");
		exit(2);
	}
	pf &= (1ull << PF_CONFIG) | (1ull << PF_INFLIGHT_SHMFD);
	vu_send(VU_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0);
	vu_send(VU_SET_OWNER, NULL, 0, NULL, 0);
	memset(&m.p.cfg, 0, sizeof(m.p.cfg));
	m.p.cfg.size = 60;
	vu_send(VU_GET_CONFIG, &m.p.cfg, 12 + m.p.cfg.size, NULL, 0);
	vu_recv(VU_GET_CONFIG, &m);
	{
		struct virtio_blk_config cfg;

		memcpy(&cfg, m.p.cfg.region, sizeof(cfg));
		dev_size = cfg.capacity * 512;
	}
	if (first) {
		memset(&m.p.inflight, 0, sizeof(m.p.inflight));
		m.p.inflight.num_queues = 1;
		m.p.inflight.queue_size = QSIZE;
		vu_send(VU_GET_INFLIGHT_FD, &m.p.inflight, sizeof(m.p.inflight), NULL, 0);
		rp->inflight_fd = vu_recv_fd(VU_GET_INFLIGHT_FD, &m);
		rp->inflight_size = m.p.inflight.mmap_size;
	}
	/* Handed back on every start: after a restart the new back end finds
	 * in it the requests the old one had in flight. */
	memset(&m.p.inflight, 0, sizeof(m.p.inflight));
	m.p.inflight.mmap_size = rp->inflight_size;
	m.p.inflight.num_queues = 1;
	m.p.inflight.queue_size = QSIZE;
	vu_send(VU_SET_INFLIGHT_FD, &m.p.inflight, sizeof(m.p.inflight), &rp->inflight_fd, 1);
	features &= (1ull << F_VERSION_1) | (1ull << F_PROTOCOL_FEATURES) |
		    (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
		    (1ull << VIRTIO_BLK_F_FLUSH);
	vu_send(VU_SET_FEATURES, &features, 8, NULL, 0);
	memset(&m.p.mem, 0, sizeof(m.p.mem));
	m.p.mem.nregions = 1;
	m.p.mem.r[0].size = rp->total;
	m.p.mem.r[0].uaddr = (uint64_t)(uintptr_t)rp->mem;
	vu_send(VU_SET_MEM_TABLE, &m.p.mem, 8 + 32, &rp->memfd, 1);
	if (first)
		q->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vu_send(VU_SET_VRING_CALL, &idx, 8, &q->call, 1);
	vu_send(VU_SET_VRING_NUM, &st, 8, NULL, 0);
	st.num = base;
	vu_send(VU_SET_VRING_BASE, &st, 8, NULL, 0);
	memset(&m.p.addr, 0, sizeof(m.p.addr));
	m.p.addr.desc = (uint64_t)(uintptr_t)q->desc;
	m.p.addr.avail = (uint64_t)(uintptr_t)q->avail;
	m.p.addr.used = (uint64_t)(uintptr_t)q->used;
	vu_send(VU_SET_VRING_ADDR, &m.p.addr, sizeof(m.p.addr), NULL, 0);
	if (first)
		q->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vu_send(VU_SET_VRING_KICK, &idx, 8, &q->kick, 1);
	st.num = 1;
	vu_send(VU_SET_VRING_ENABLE, &st, 8, NULL, 0);
}

static uint64_t word(uint64_t off, uint64_t gen)
{
	return (gen << 40) ^ off;
}

/* Slot i's request for block b of the slot (device block i + qd * b). */
static void replay_submit(struct replay *rp, unsigned i, uint64_t b, bool wr)
{
	struct vq *q = &rp->q;
	struct req *r = &q->reqs[i];
	uint64_t blk = i + (uint64_t)qd * b, off = blk * bs;

	r->off = off;
	r->hdr.type = wr ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	r->hdr.sector = off / 512;
	r->status = 0xff;
	if (wr) {
		rp->gen[blk] = ++rp->next_gen;
		for (unsigned k = 0; k < bs; k += 8)
			memcpy(q->bufs + (size_t)i * bs + k, &(uint64_t){ word(off + k, rp->gen[blk]) }, 8);
	}
	rp->slot_blk[i] = b;
	rp->busy[i] = true;
	q->desc[i * 3 + 1].flags = VRING_DESC_F_NEXT | (wr ? 0 : VRING_DESC_F_WRITE);
	q->avail->ring[q->avail_idx % QSIZE] = (uint16_t)(i * 3);
	q->avail_idx++;
}

/* The back end closed the socket? */
static bool peer_gone(void)
{
	struct pollfd p = { .fd = sock_fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, 0) <= 0)
		return false;
	return recv(sock_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

static int replay_main(const char *path, double wait_s)
{
	struct replay rp = { .path = path, .wait_s = wait_s };
	struct vq *q = &rp.q;
	size_t used_off, ring_bytes;
	uint64_t ios = 0, outstanding, after = 0, dups = 0, bad = 0, errors = 0, verified = 0;
	uint64_t end;
	bool announced = false;

	used_off = (16 * QSIZE + 6 + 2 * QSIZE + 4095) & ~4095ul;
	ring_bytes = (used_off + 6 + 8 * QSIZE + 4095) & ~4095ul;
	rp.total = ring_bytes + ((sizeof(struct req) * qd + 4095) & ~4095ul) + (size_t)bs * qd;
	rp.total = (rp.total + 4095) & ~4095ul;
	rp.memfd = memfd_create("vub-replay", MFD_CLOEXEC);
	if (rp.memfd < 0 || ftruncate(rp.memfd, (off_t)rp.total))
		die("memfd");
	rp.mem = mmap(NULL, rp.total, PROT_READ | PROT_WRITE, MAP_SHARED, rp.memfd, 0);
	if (rp.mem == MAP_FAILED)
		die("mmap");
	memset(rp.mem, 0, rp.total);
	q->desc = (struct vring_desc *)rp.mem;
	q->avail = (struct vring_avail *)(rp.mem + 16 * QSIZE);
	q->used = (struct vring_used *)(rp.mem + used_off);
	q->reqs = (struct req *)(rp.mem + ring_bytes);
	q->bufs = rp.mem + ring_bytes + ((sizeof(struct req) * qd + 4095) & ~4095ul);
	q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	for (unsigned i = 0; i < qd; i++) {
		uint64_t rq = (uint64_t)((uint8_t *)&q->reqs[i] - rp.mem);

		q->desc[i * 3] = (struct vring_desc){ rq, 16, VRING_DESC_F_NEXT, (uint16_t)(i * 3 + 1) };
		q->desc[i * 3 + 1] = (struct vring_desc){ (uint64_t)(q->bufs - rp.mem) + (uint64_t)i * bs,
							  bs, VRING_DESC_F_NEXT, (uint16_t)(i * 3 + 2) };
		q->desc[i * 3 + 2] = (struct vring_desc){ rq + offsetof(struct req, status), 1,
							  VRING_DESC_F_WRITE, 0 };
	}
	sock_fd = replay_connect(path, wait_s);
	replay_handshake(&rp, true, 0);
	rp.nblk = dev_size / bs / qd;
	if (rp.nblk > 256)
		rp.nblk = 256;
	if (!rp.nblk) {
		fprintf(stderr, "vub_bench: device too small\n");
		return 2;
	}
	rp.gen = calloc(qd * rp.nblk, sizeof(*rp.gen));
	rp.slot_blk = calloc(qd, sizeof(*rp.slot_blk));
	rp.busy = calloc(qd, sizeof(*rp.busy));
	if (!rp.gen || !rp.slot_blk || !rp.busy)
		die("calloc");

	/* Phase 1: write until the back end goes away. */
	for (unsigned i = 0; i < qd; i++)
		replay_submit(&rp, i, 0, true);
	publish(q);
	end = now_ns() + (uint64_t)(wait_s * 1e9);
	for (unsigned polls = 0;; polls++) {
		uint16_t uidx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
		bool any = false;

		while (q->used_seen != uidx) {
			unsigned i = q->used->ring[q->used_seen % QSIZE].id / 3;

			q->used_seen++;
			errors += q->reqs[i].status != VIRTIO_BLK_S_OK;
			rp.busy[i] = false;
			ios++;
			replay_submit(&rp, i, (rp.slot_blk[i] + 1) % rp.nblk, true);
			any = true;
		}
		if (any)
			publish(q);
		if (!announced && ios >= 1000) {
			printf("{\"phase\":\"running\",\"ios\":%" PRIu64 "}\n", ios);
			fflush(stdout);
			announced = true;
		}
		if (!(polls % 64) && peer_gone())
			break;
		if (now_ns() > end) {
			fprintf(stderr, "vub_bench: the back end did not go away\n");
			return 2;
		}
		if (!any)
			usleep(20);
	}
	close(sock_fd);
	/* What the old back end completed before it died counts as done. */
	while (q->used_seen != __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE)) {
		unsigned i = q->used->ring[q->used_seen++ % QSIZE].id / 3;

		errors += q->reqs[i].status != VIRTIO_BLK_S_OK;
		rp.busy[i] = false;
		ios++;
	}
	outstanding = (uint16_t)(q->avail_idx - q->used_seen);

	/* Phase 2: reconnect; the outstanding requests must complete once. */
	sock_fd = replay_connect(path, wait_s);
	replay_handshake(&rp, false, q->used_seen);
	publish(q);
	end = now_ns() + (uint64_t)(wait_s * 1e9);
	while (after < outstanding && now_ns() < end) {
		uint16_t uidx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);

		while (q->used_seen != uidx) {
			unsigned i = q->used->ring[q->used_seen++ % QSIZE].id / 3;

			if (!rp.busy[i]) {
				dups++;
				continue;
			}
			errors += q->reqs[i].status != VIRTIO_BLK_S_OK;
			rp.busy[i] = false;
			after++;
		}
		usleep(100);
	}
	/* Nothing more may come back. */
	usleep(200000);
	dups += (uint16_t)(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) - q->used_seen);
	q->used_seen = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);

	/* Phase 3: every block holds the last write submitted to it. */
	if (after == outstanding && !dups) {
		for (uint64_t b = 0; b < rp.nblk; b++) {
			for (unsigned i = 0; i < qd; i++)
				replay_submit(&rp, i, b, false);
			publish(q);
			end = now_ns() + (uint64_t)(wait_s * 1e9);
			while (q->used_seen != q->avail_idx && now_ns() < end) {
				uint16_t uidx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);

				while (q->used_seen != uidx) {
					unsigned i = q->used->ring[q->used_seen++ % QSIZE].id / 3;
					uint64_t blk = i + (uint64_t)qd * b, off = blk * bs;

					errors += q->reqs[i].status != VIRTIO_BLK_S_OK;
					for (unsigned k = 0; k < bs; k += 8) {
						uint64_t v;

						memcpy(&v, q->bufs + (size_t)i * bs + k, 8);
						if (rp.gen[blk] && v != word(off + k, rp.gen[blk])) {
							bad++;
							break;
						}
					}
					verified++;
				}
				if (q->used_seen != uidx || q->used_seen != q->avail_idx)
					usleep(50);
			}
			if (q->used_seen != q->avail_idx) {
				fprintf(stderr, "vub_bench: reads did not complete\n");
				return 1;
			}
		}
	}
	printf("{\"replay\":true,\"ios_before\":%" PRIu64 ",\"outstanding\":%" PRIu64
	       ",\"completed_after\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"errors\":%" PRIu64
	       ",\"blocks_verified\":%" PRIu64 ",\"verify_errors\":%" PRIu64 "}\n",
	       ios, outstanding, after, dups, errors, verified, bad);
	close(sock_fd);
	free(rp.gen);
	free(rp.slot_blk);
	free(rp.busy);
	return after == outstanding && !dups && !errors && !bad &&
	       verified == qd * rp.nblk ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: vub_bench --socket PATH --rw randread|randwrite|read|write "
			"[--bs N] [--qd N] [--queues N] [--runtime S] [--pid PID] [--label L] "
			"[--verify] | --bad addr|range|loop [--wait S] | --replay [--wait S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", 1, NULL, 's' }, { "rw", 1, NULL, 'w' }, { "bs", 1, NULL, 'b' },
		{ "qd", 1, NULL, 'q' }, { "queues", 1, NULL, 'Q' }, { "runtime", 1, NULL, 't' },
		{ "pid", 1, NULL, 'p' }, { "label", 1, NULL, 'l' }, { "verify", 0, NULL, 'v' },
		{ "bad", 1, NULL, 'B' }, { "wait", 1, NULL, 'W' }, { "replay", 0, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *rw = NULL, *label = "server", *bad = NULL;
	double bad_wait_s = 2;
	bool replay = false;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vq vqs[MAX_QUEUES] = { 0 };
	size_t ring_bytes, used_off, per_q, total;
	uint64_t features, pf, ios = 0, bytes = 0, errors = 0, seq = 0, t_start, t_end;
	uint64_t cpu0 = 0, cpu1 = 0;
	int pid = 0, c, memfd;
	uint8_t *mem;
	struct vu_msg m;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'w': rw = optarg; break;
		case 'b': bs = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'q': qd = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'Q': nq = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': runtime = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'p': pid = atoi(optarg); break;
		case 'l': label = optarg; break;
		case 'v': verify = true; break;
		case 'B': bad = optarg; rw = "read"; break;
		case 'W': bad_wait_s = atof(optarg); break;
		case 'R': replay = true; rw = "write"; break;
		default: usage();
		}
	}
	if (!path || !rw || !bs || bs % 512 || !qd || qd > QSIZE / 3 || !nq || nq > MAX_QUEUES)
		usage();
	if (replay)
		return replay_main(path, bad_wait_s == 2 ? 60 : bad_wait_s);
	rnd = !strncmp(rw, "rand", 4);
	write_io = strstr(rw, "write") != NULL;

	sock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (sock_fd < 0 || connect(sock_fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");

	features = vu_get_u64(VU_GET_FEATURES);
	if (!(features & (1ull << F_PROTOCOL_FEATURES)) || !(features & (1ull << F_VERSION_1))) {
		fprintf(stderr, "vub_bench: back end lacks VERSION_1 or PROTOCOL_FEATURES\n");
		return 2;
	}
	pf = vu_get_u64(VU_GET_PROTOCOL_FEATURES);
	if (!(pf & (1ull << PF_CONFIG))) {
		fprintf(stderr, "vub_bench: back end lacks the CONFIG protocol feature\n");
		return 2;
	}
	pf &= (1ull << PF_CONFIG) | (1ull << PF_MQ);
	vu_send(VU_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0);
	vu_send(VU_SET_OWNER, NULL, 0, NULL, 0);
	memset(&m.p.cfg, 0, sizeof(m.p.cfg));
	/* Up to write_zeroes_may_unmap: older back ends (QEMU 7.2) refuse more. */
	m.p.cfg.size = 60;
	vu_send(VU_GET_CONFIG, &m.p.cfg, 12 + m.p.cfg.size, NULL, 0);
	vu_recv(VU_GET_CONFIG, &m);
	{
		struct virtio_blk_config cfg;

		memcpy(&cfg, m.p.cfg.region, sizeof(cfg));
		dev_size = cfg.capacity * 512;
		if ((features & (1ull << VIRTIO_BLK_F_MQ)) && cfg.num_queues < nq) {
			fprintf(stderr, "vub_bench: the back end offers %u queues\n", cfg.num_queues);
			return 2;
		}
	}
	if (dev_size < (uint64_t)bs * qd * nq) {
		fprintf(stderr, "vub_bench: device too small (%" PRIu64 " bytes)\n", dev_size);
		return 2;
	}
	features &= (1ull << F_VERSION_1) | (1ull << F_PROTOCOL_FEATURES) |
		    (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
		    (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_MQ);
	vu_send(VU_SET_FEATURES, &features, 8, NULL, 0);

	/* Shared memory: per queue the rings (4 KiB aligned), requests, buffers. */
	used_off = (16 * QSIZE + 6 + 2 * QSIZE + 4095) & ~4095ul;
	ring_bytes = (used_off + 6 + 8 * QSIZE + 4095) & ~4095ul;
	per_q = ring_bytes + ((sizeof(struct req) * qd + 4095) & ~4095ul) + (size_t)bs * qd;
	per_q = (per_q + 4095) & ~4095ul;
	total = per_q * nq;
	memfd = memfd_create("vub-bench", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)total))
		die("memfd");
	mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	memset(mem, 0, total);
	memset(&m.p.mem, 0, sizeof(m.p.mem));
	m.p.mem.nregions = 1;
	m.p.mem.r[0].gpa = 0;
	m.p.mem.r[0].size = total;
	m.p.mem.r[0].uaddr = (uint64_t)(uintptr_t)mem;
	m.p.mem.r[0].offset = 0;
	vu_send(VU_SET_MEM_TABLE, &m.p.mem, 8 + 32, &memfd, 1);

	/* QEMU announces every queue (SET_VRING_CALL) before it sets any up;
	 * rte_vhost starts a device once all announced queues are ready. */
	for (unsigned qi = 0; qi < nq; qi++) {
		uint64_t idx = qi;

		vqs[qi].call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vqs[qi].call < 0)
			die("eventfd");
		vu_send(VU_SET_VRING_CALL, &idx, 8, &vqs[qi].call, 1);
	}
	for (unsigned qi = 0; qi < nq; qi++) {
		struct vq *q = &vqs[qi];
		uint8_t *base = mem + per_q * qi;
		uint64_t gbase = per_q * qi;     /* guest physical = offset in the memfd */
		struct { uint32_t index, num; } st = { qi, QSIZE };
		uint64_t idx = qi;

		q->desc = (struct vring_desc *)base;
		q->avail = (struct vring_avail *)(base + 16 * QSIZE);
		q->used = (struct vring_used *)(base + used_off);
		q->reqs = (struct req *)(base + ring_bytes);
		q->bufs = base + ring_bytes + ((sizeof(struct req) * qd + 4095) & ~4095ul);
		q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
		for (unsigned i = 0; i < qd; i++) {
			uint64_t rq = gbase + (uint64_t)((uint8_t *)&q->reqs[i] - base);

			q->desc[i * 3] = (struct vring_desc){ rq, 16, VRING_DESC_F_NEXT,
							      (uint16_t)(i * 3 + 1) };
			q->desc[i * 3 + 1] = (struct vring_desc){
				gbase + (uint64_t)(q->bufs - base) + (uint64_t)i * bs, bs,
				VRING_DESC_F_NEXT, (uint16_t)(i * 3 + 2) };
			q->desc[i * 3 + 2] = (struct vring_desc){
				rq + offsetof(struct req, status), 1, VRING_DESC_F_WRITE, 0 };
		}
		q->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vu_send(VU_SET_VRING_NUM, &st, 8, NULL, 0);
		st.num = 0;
		vu_send(VU_SET_VRING_BASE, &st, 8, NULL, 0);
		memset(&m.p.addr, 0, sizeof(m.p.addr));
		m.p.addr.index = qi;
		/* Ring addresses are in the front end's address space (QEMU's). */
		m.p.addr.desc = (uint64_t)(uintptr_t)q->desc;
		m.p.addr.avail = (uint64_t)(uintptr_t)q->avail;
		m.p.addr.used = (uint64_t)(uintptr_t)q->used;
		vu_send(VU_SET_VRING_ADDR, &m.p.addr, sizeof(m.p.addr), NULL, 0);
		vu_send(VU_SET_VRING_KICK, &idx, 8, &q->kick, 1);
		st.num = 1;
		vu_send(VU_SET_VRING_ENABLE, &st, 8, NULL, 0);
	}

	if (bad) {
		struct vq *q = &vqs[0];
		uint64_t end = now_ns() + (uint64_t)(bad_wait_s * 1e9);
		bool completed = false;

		submit(q, 0, 0, false, now_ns());
		if (!strcmp(bad, "addr"))
			q->desc[1].addr = total + 4096;
		else if (!strcmp(bad, "range"))
			q->reqs[0].hdr.sector = dev_size / 512;
		else if (!strcmp(bad, "loop"))
			q->desc[2].flags |= VRING_DESC_F_NEXT, q->desc[2].next = 0;
		else
			usage();
		publish(q);
		while (now_ns() < end && !completed) {
			completed = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) != 0;
			if (!completed)
				usleep(200);    /* leave the CPU to the back end */
		}
		printf("{\"bad\":\"%s\",\"completed\":%s,\"status\":%d}\n", bad,
		       completed ? "true" : "false", completed ? q->reqs[0].status : -1);
		return 0;
	}
	/* Verify: fill the first qd * nq blocks with a pattern, then read them. */
	for (int phase = verify ? 0 : 2; phase < 3; phase++) {
		bool wr = phase == 0 ? true : phase == 1 ? false : write_io;
		bool timed = phase == 2;
		uint64_t deadline, done_target = (uint64_t)qd * nq;
		uint64_t done = 0;

		if (phase == 1)
			for (unsigned qi = 0; qi < nq; qi++)
				memset(vqs[qi].bufs, 0, (size_t)bs * qd);
		if (timed && pid)
			cpu0 = proc_cpu_ticks(pid);
		t_start = now_ns();
		deadline = t_start + (uint64_t)runtime * 1000000000ull;
		seq = 0;
		for (unsigned qi = 0; qi < nq; qi++) {
			for (unsigned i = 0; i < qd; i++) {
				bool save = rnd;

				if (!timed)
					rnd = false;
				submit(&vqs[qi], i, seq++, wr, t_start);
				rnd = save;
			}
			publish(&vqs[qi]);
		}
		for (;;) {
			uint64_t t = now_ns();
			bool stop = timed ? t >= deadline : done >= done_target;
			unsigned outstanding = 0;

			for (unsigned qi = 0; qi < nq; qi++) {
				struct vq *q = &vqs[qi];
				uint16_t uidx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
				bool any = false;

				while (q->used_seen != uidx) {
					struct vring_used_elem *e = &q->used->ring[q->used_seen % QSIZE];
					unsigned i = e->id / 3;
					struct req *r = &q->reqs[i];

					q->used_seen++;
					if (r->status != VIRTIO_BLK_S_OK)
						errors++;
					if (!timed && !wr) {
						for (unsigned k = 0; k < bs; k += 8) {
							uint64_t v;

							memcpy(&v, q->bufs + (size_t)i * bs + k, 8);
							if (v != r->off + k) {
								fprintf(stderr, "vub_bench: verify mismatch at %" PRIu64 "\n", r->off + k);
								return 1;
							}
						}
					}
					done++;
					if (timed) {
						lat_add(t - r->t0);
						ios++;
						bytes += bs;
					}
					if (!stop && timed) {
						submit(q, i, seq++, wr, t);
						any = true;
					}
				}
				if (any)
					publish(q);
				outstanding += (uint16_t)(q->avail_idx - q->used_seen);
			}
			if (stop && !outstanding)
				break;
		}
		t_end = now_ns();
		if (timed && pid)
			cpu1 = proc_cpu_ticks(pid);
	}
	{
		double secs = (double)(t_end - t_start) / 1e9;
		double cpu_us = pid ? (double)(cpu1 - cpu0) * 1e6 / (double)sysconf(_SC_CLK_TCK) : 0;
		char ts[32];
		time_t now = time(NULL);

		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
		printf("{\"bench\":\"vhost-user-blk\",\"server\":\"%s\",\"rw\":\"%s\",\"bs\":%u,"
		       "\"qd\":%u,\"queues\":%u,\"runtime_s\":%.2f,\"ios\":%" PRIu64 ",\"errors\":%" PRIu64 ","
		       "\"iops\":%.0f,\"bw_mib_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
		       "\"server_cpu_us_per_io\":%.2f,\"date\":\"%s\"}\n",
		       label, rw, bs, qd, nq, secs, ios, errors, (double)ios / secs,
		       (double)bytes / secs / 1048576.0, lat_pct(50, ios), lat_pct(99, ios),
		       pid && ios ? cpu_us / (double)ios : -1.0, ts);
	}
	close(sock_fd);
	return errors ? 1 : 0;
}
