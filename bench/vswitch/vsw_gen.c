/* vsw_gen — a DPDK traffic generator on virtio_user for vswitchd benchmarks.
 *
 *   vsw_gen EAL-ARGS -- --tx SOCK --rx SOCK [--seconds S] [--warmup S]
 *                       [--flows N] [--vlan V] [--rx-vlan V] [--size BYTES]
 *                       [--rate PPS] [--ready FILE] [--scenario N] [--ring DESCS]
 *                       [--vxlan encap|decap --vtep IP [--tunnels N]]
 *
 * Two virtio_user ports, each the vhost-user *server* (`server=1`) of one of
 * vswitchd's vhost-user ports (client mode). The generator learns the receive
 * side's MAC into the switch first (a few frames from --rx), then offers 64-byte
 * frames on --tx as fast as the ring takes them for S seconds and counts what
 * arrives on --rx. It prints one JSON line.
 *
 * It must not be what is measured: frames are refcounted template mbufs built
 * once, holding a large stock of references; each packet sent spends one (the
 * virtio PMD drops it when the device is done with it) and the stock is topped
 * up in bulk, so there is no allocation, copy or extra atomic per packet on the
 * transmit side. Received mbufs are freed in bulk.
 *
 * --rate PPS offers at most PPS packets per second (bursts released on the
 * TSC clock; when the next four bursts are due more than 15 us later, the
 * gap is slept rather than spun, so that the CPU is left to whoever shares it; 0, the default, is as fast as the ring
 * takes them). --vlan tags
 * what --tx sends, --rx-vlan what --rx sends (the learning frames: -1 means
 * the same as --vlan), for access-to-trunk runs. --ready FILE is created when
 * the measured interval starts (a script can then change rules under load);
 * SIGINT or SIGTERM ends the interval early (--seconds is then a maximum).
 * --ring sets the virtio rings' size (power of 2, 64-4096, default 1024): a
 * larger receive ring rides out the generator losing its CPU on a loaded
 * machine. Counts: `sent` is what the tx ring accepted, `received` what arrived during
 * the interval, `late` what arrived after it; loss = sent -
 * received - late. Ring-full is back-pressure, not loss. `late` is what
 * arrives after the interval until 0.3 s pass without a packet (at most 3 s).
 *
 * VXLAN (--vxlan): one side is the switch's VTEP underlay, the other a tenant
 * port of VNI 100; the N remote VTEPs are 192.168.0.10+t (t < N), remote t's
 * outer MAC 02:00:00:dd:t and its tenant MAC 02:00:00:cc:t. With `encap`, --tx
 * is the tenant port and --rx the underlay: instead of the receiver's learning
 * frames, each remote first sends one VXLAN frame (a broadcast from its tenant
 * MAC) so the switch learns that MAC behind its VTEP; the frames offered then
 * go to those MACs round robin, and what arrives encapsulated on the underlay
 * is counted. With `decap`, --tx is the underlay: the frames offered are VXLAN
 * datagrams (VNI 100, UDP 4789) from the N remotes round robin to --vtep,
 * whose inner frames go to the MAC the --rx tenant port announced. --size is
 * the inner frame's size either way (an outer 50 bytes more on the underlay);
 * --flows is raised to N if smaller, and --vlan/--rx-vlan do not apply.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

enum { BURST = 32, NB_DESC_DEF = 1024, MAX_FLOWS = 4096, REF_STOCK = 30000, REF_LOW = 2048 };
/* With --rate, gaps longer than this are slept (timer slack set to 1 ns), waking
 * this much early. */
static const double SLEEP_MIN_S = 15e-6, SLEEP_MARGIN_S = 5e-6;
enum { SLEEP_BURSTS = 4 };    /* a sleep lasts until this many bursts are due */

struct opts {
	const char *tx_sock, *rx_sock;
	double seconds, warmup;
	unsigned flows;
	int vlan, rx_vlan;
	unsigned size;
	double rate;
	const char *ready;
	int scenario;
	int vxlan;         /* 0: none, VX_ENCAP, VX_DECAP */
	uint32_t vtep;     /* the switch's VTEP address, host order */
	unsigned tunnels;
};

enum { VX_ENCAP = 1, VX_DECAP = 2, VX_MAX_TUNNELS = 1000, VX_VNI = 100, VX_HDR = 50 };

static const uint32_t REMOTE_BASE = 0xc0a8000a; /* 192.168.0.10 */

static volatile sig_atomic_t stop_early;

static void on_signal(int sig)
{
	(void)sig;
	stop_early = 1;
}

static const struct rte_ether_addr RX_MAC = { { 0x02, 0x00, 0x00, 0xbb, 0x00, 0x01 } };

static unsigned nb_desc = NB_DESC_DEF;

static int port_open(const char *name, const char *sock, struct rte_mempool *mp, uint16_t *pid)
{
	char devargs[512];
	struct rte_eth_conf conf = { 0 };
	int ret;

	const char *extra = getenv("VSW_GEN_DEVARGS");

	snprintf(devargs, sizeof(devargs), "%s,path=%s,server=1,queues=1,queue_size=%d%s%s", name,
		 sock, nb_desc, extra && *extra ? "," : "", extra ? extra : "");
	ret = rte_dev_probe(devargs);
	if (ret)
		return ret;
	ret = rte_eth_dev_get_port_by_name(name, pid);
	if (ret)
		return ret;
	if ((ret = rte_eth_dev_configure(*pid, 1, 1, &conf)) ||
	    (ret = rte_eth_rx_queue_setup(*pid, 0, (uint16_t)nb_desc, rte_socket_id(), NULL, mp)) ||
	    (ret = rte_eth_tx_queue_setup(*pid, 0, (uint16_t)nb_desc, rte_socket_id(), NULL)) ||
	    (ret = rte_eth_dev_start(*pid)))
		return ret;
	return 0;
}

/* Ethernet (+VLAN) / IPv4 / UDP of `size` bytes (without FCS). */
static struct rte_mbuf *frame_build(struct rte_mempool *mp, const struct rte_ether_addr *src,
				    const struct rte_ether_addr *dst, int vlan, unsigned size,
				    uint16_t sport)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	unsigned l2 = sizeof(struct rte_ether_hdr) + (vlan >= 0 ? sizeof(struct rte_vlan_hdr) : 0);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;
	char *p;

	if (!m)
		return NULL;
	p = rte_pktmbuf_append(m, (uint16_t)size);
	if (!p) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(p, 0, size);
	eth = (struct rte_ether_hdr *)p;
	eth->src_addr = *src;
	eth->dst_addr = *dst;
	if (vlan >= 0) {
		struct rte_vlan_hdr *vh = (struct rte_vlan_hdr *)(eth + 1);

		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
		vh->vlan_tci = rte_cpu_to_be_16((uint16_t)vlan);
		vh->eth_proto = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	} else {
		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	}
	ip = (struct rte_ipv4_hdr *)(p + l2);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(size - l2));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(0x0a000001);
	ip->dst_addr = rte_cpu_to_be_32(0x0a000002);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp = (struct rte_udp_hdr *)(ip + 1);
	udp->src_port = rte_cpu_to_be_16(sport);
	udp->dst_port = rte_cpu_to_be_16(9);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(size - l2 - sizeof(*ip)));
	return m;
}

/* Remote VTEP t's tenant MAC (the inner address behind it). */
static struct rte_ether_addr remote_mac(unsigned t)
{
	return (struct rte_ether_addr){ { 0x02, 0x00, 0x00, 0xcc, (uint8_t)(t >> 8), (uint8_t)t } };
}

/* Prepends Ethernet/IPv4/UDP/VXLAN (VNI 100) from remote VTEP t to `vtep`. */
static int vxlan_wrap(struct rte_mbuf *m, unsigned t, uint32_t vtep, uint16_t sport)
{
	uint16_t inner = (uint16_t)m->pkt_len;
	char *p = rte_pktmbuf_prepend(m, VX_HDR);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint8_t *vx = (uint8_t *)(udp + 1);

	if (!p)
		return -ENOMEM;
	memset(p, 0, VX_HDR);
	eth->src_addr = (struct rte_ether_addr){ { 0x02, 0x00, 0x00, 0xdd, (uint8_t)(t >> 8),
						   (uint8_t)t } };
	eth->dst_addr = (struct rte_ether_addr){ { 0x02, 0x00, 0x00, 0xee, 0x00, 0x01 } };
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(inner + VX_HDR - sizeof(*eth)));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(REMOTE_BASE + t);
	ip->dst_addr = rte_cpu_to_be_32(vtep);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16(sport);
	udp->dst_port = rte_cpu_to_be_16(4789);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(inner + VX_HDR - sizeof(*eth) - sizeof(*ip)));
	vx[0] = 0x08;                    /* I flag */
	vx[4] = (uint8_t)(VX_VNI >> 16); /* VNI in bytes 4-6 */
	vx[5] = (uint8_t)(VX_VNI >> 8);
	vx[6] = (uint8_t)VX_VNI;
	return 0;
}

static uint64_t drain(uint16_t pid, double seconds)
{
	struct rte_mbuf *pk[BURST];
	uint64_t n = 0, end = rte_rdtsc() + (uint64_t)(seconds * (double)rte_get_tsc_hz());

	while (rte_rdtsc() < end) {
		uint16_t k = rte_eth_rx_burst(pid, 0, pk, BURST);

		rte_pktmbuf_free_bulk(pk, k);
		n += k;
	}
	return n;
}

/* Receives until `quiet` seconds pass without a packet (at most `max`): a
 * starved generator (or switch) on a loaded machine may still have packets in
 * flight when the interval ends; they are late, not lost. */
static uint64_t drain_quiet(uint16_t pid, double quiet, double max)
{
	struct rte_mbuf *pk[BURST];
	uint64_t hz = rte_get_tsc_hz(), n = 0, now = rte_rdtsc();
	uint64_t end = now + (uint64_t)(max * (double)hz);
	uint64_t last = now, q = (uint64_t)(quiet * (double)hz);

	while ((now = rte_rdtsc()) < end && now - last < q) {
		uint16_t k = rte_eth_rx_burst(pid, 0, pk, BURST);

		rte_pktmbuf_free_bulk(pk, k);
		n += k;
		if (k)
			last = now;
	}
	return n;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "tx", required_argument, NULL, 't' }, { "rx", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' }, { "warmup", required_argument, NULL, 'w' },
		{ "flows", required_argument, NULL, 'f' }, { "vlan", required_argument, NULL, 'v' },
		{ "size", required_argument, NULL, 'z' }, { "rate", required_argument, NULL, 'R' },
		{ "rx-vlan", required_argument, NULL, 'V' }, { "ready", required_argument, NULL, 'y' },
		{ "scenario", required_argument, NULL, 'S' }, { "ring", required_argument, NULL, 'g' },
		{ "vxlan", required_argument, NULL, 'x' }, { "vtep", required_argument, NULL, 'e' },
		{ "tunnels", required_argument, NULL, 'n' }, { NULL, 0, NULL, 0 },
	};
	struct in_addr ia;
	int c;

	*o = (struct opts){ .seconds = 5, .warmup = 1, .flows = 1, .vlan = -1, .rx_vlan = -2,
			    .size = 60, .scenario = 1, .tunnels = 1 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 't': o->tx_sock = optarg; break;
		case 'r': o->rx_sock = optarg; break;
		case 's': o->seconds = atof(optarg); break;
		case 'w': o->warmup = atof(optarg); break;
		case 'f': o->flows = (unsigned)atoi(optarg); break;
		case 'v': o->vlan = atoi(optarg); break;
		case 'z': o->size = (unsigned)atoi(optarg); break;
		case 'R': o->rate = atof(optarg); break;
		case 'V': o->rx_vlan = atoi(optarg); break;
		case 'y': o->ready = optarg; break;
		case 'S': o->scenario = atoi(optarg); break;
		case 'g': nb_desc = (unsigned)atoi(optarg); break;
		case 'x':
			if (!strcmp(optarg, "encap")) {
				o->vxlan = VX_ENCAP;
			} else if (!strcmp(optarg, "decap")) {
				o->vxlan = VX_DECAP;
			} else {
				fprintf(stderr, "vsw_gen: --vxlan: '%s' is not encap or decap\n", optarg);
				return -EINVAL;
			}
			break;
		case 'e':
			if (inet_pton(AF_INET, optarg, &ia) != 1) {
				fprintf(stderr, "vsw_gen: --vtep: '%s' is not an IPv4 address\n", optarg);
				return -EINVAL;
			}
			o->vtep = ntohl(ia.s_addr);
			break;
		case 'n': o->tunnels = (unsigned)atoi(optarg); break;
		default: return -EINVAL;
		}
	}
	if (!o->tx_sock || !o->rx_sock || !o->flows || o->flows > MAX_FLOWS || o->size < 60 ||
	    o->size > 1500 || o->seconds <= 0 || o->rate < 0 || nb_desc < 64 || nb_desc > 4096 ||
	    (nb_desc & (nb_desc - 1)))
		return -EINVAL;
	if (o->vxlan && !o->vtep) {
		fprintf(stderr, "vsw_gen: --vxlan needs --vtep\n");
		return -EINVAL;
	}
	if (!o->tunnels || o->tunnels > VX_MAX_TUNNELS) {
		fprintf(stderr, "vsw_gen: --tunnels: 1-%d\n", VX_MAX_TUNNELS);
		return -EINVAL;
	}
	if (o->vxlan) {
		o->vlan = o->rx_vlan = -1;
		if (o->flows < o->tunnels)
			o->flows = o->tunnels;
	}
	if (o->rx_vlan == -2)
		o->rx_vlan = o->vlan;
	return 0;
}

int main(int argc, char **argv)
{
	static struct rte_mbuf *tmpl[MAX_FLOWS];
	struct rte_mbuf *pk[BURST];
	struct rte_mempool *mp;
	struct opts o;
	uint16_t ptx, prx;
	uint64_t sent = 0, recvd = 0, hz, t0, t1, late, now;
	unsigned next = 0;
	char rundir[4096];
	int n;

	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "vsw_gen: EAL init failed\n");
		return 1;
	}
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);   /* --rate's sleeps: wake on time */
	if (parse(argc - n, argv + n, &o)) {
		fprintf(stderr, "usage: vsw_gen EAL -- --tx SOCK --rx SOCK [--seconds S] [--warmup S] "
				"[--flows N] [--vlan V] [--rx-vlan V] [--size B] [--rate PPS] "
				"[--ready FILE] [--scenario N] [--ring DESCS] "
				"[--vxlan encap|decap --vtep IP [--tunnels N]]\n");
		return 2;
	}
	mp = rte_pktmbuf_pool_create("gen", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     (int)rte_socket_id());
	if (!mp || port_open("net_virtio_user0", o.tx_sock, mp, &ptx) ||
	    port_open("net_virtio_user1", o.rx_sock, mp, &prx)) {
		fprintf(stderr, "vsw_gen: cannot open the virtio_user ports\n");
		return 1;
	}
	hz = rte_get_tsc_hz();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* Wait for vswitchd's ports to connect (link up on both). */
	for (int i = 0; i < 300; i++) {
		struct rte_eth_link a, b;

		rte_eth_link_get_nowait(ptx, &a);
		rte_eth_link_get_nowait(prx, &b);
		if (a.link_status && b.link_status)
			break;
		rte_delay_ms(100);
	}
	/* The receiver announces its MAC so the switch forwards instead of flooding
	 * (VXLAN encap: each remote VTEP announces its tenant MAC through its
	 * tunnel, twice: a MAC not learned would turn its traffic into floods to
	 * every remote). Reading --tx meanwhile keeps the floods (head-end
	 * replicated to every remote in decap) from filling its ring. */
	for (unsigned i = 0; i < (o.vxlan == VX_ENCAP ? 2 * o.tunnels : 8); i++) {
		struct rte_ether_addr bc = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
		struct rte_ether_addr src = o.vxlan == VX_ENCAP ? remote_mac(i % o.tunnels) : RX_MAC;
		struct rte_mbuf *m = frame_build(mp, &src, &bc, o.rx_vlan, o.size, 1);

		if (m && o.vxlan == VX_ENCAP && vxlan_wrap(m, i % o.tunnels, o.vtep, 50000)) {
			rte_pktmbuf_free(m);
			m = NULL;
		}
		if (m && rte_eth_tx_burst(prx, 0, &m, 1) == 0)
			rte_pktmbuf_free(m);
		drain(ptx, o.vxlan == VX_ENCAP ? 0.002 : 0.01);
	}
	drain(ptx, 0.2);
	for (unsigned f = 0; f < o.flows; f++) {
		struct rte_ether_addr src = { { 0x02, 0x00, 0xaa, (uint8_t)(f >> 16),
					       (uint8_t)(f >> 8), (uint8_t)f } };
		struct rte_ether_addr dst = o.vxlan == VX_ENCAP ? remote_mac(f % o.tunnels) : RX_MAC;

		tmpl[f] = frame_build(mp, &src, &dst, o.vlan, o.size, (uint16_t)(1024 + f));
		if (tmpl[f] && o.vxlan == VX_DECAP &&
		    vxlan_wrap(tmpl[f], f % o.tunnels, o.vtep, (uint16_t)(49152 + f % 16384))) {
			rte_pktmbuf_free(tmpl[f]);
			tmpl[f] = NULL;
		}
		if (!tmpl[f]) {
			fprintf(stderr, "vsw_gen: no mbufs for templates\n");
			return 1;
		}
		rte_mbuf_refcnt_set(tmpl[f], REF_STOCK);
	}

	/* Warm-up (learning, caches), then the measured interval. */
	for (int phase = 0; phase < 2; phase++) {
		double secs = phase ? o.seconds : o.warmup;
		uint64_t end;

		sent = recvd = 0;
		t0 = rte_rdtsc();
		end = t0 + (uint64_t)(secs * (double)hz);
		if (phase && o.ready) {
			FILE *f = fopen(o.ready, "w");

			if (f)
				fclose(f);
		}
		while ((now = rte_rdtsc()) < end && !(phase && stop_early)) {
			uint16_t k;

			/* Rate: the packets due by now, in bursts of at most BURST. */
			if (o.rate > 0 && (double)sent >= o.rate * (double)(now - t0) / (double)hz) {
				/* Seconds until SLEEP_BURSTS bursts are due (sent
				 * back to back then: fewer wake-ups). */
				double gap = (double)(sent + (SLEEP_BURSTS - 1) * BURST) / o.rate -
					     (double)(now - t0) / (double)hz;

				k = rte_eth_rx_burst(prx, 0, pk, BURST);
				rte_pktmbuf_free_bulk(pk, k);
				recvd += k;
				/* Sleep through long gaps rather than spin: on a small
				 * machine this CPU is shared with the switch's control
				 * thread (scenario 5 times its flow installs). The TSC
				 * schedule makes up for oversleeping; the rx ring holds
				 * far more than a gap's worth of packets. */
				if (gap > SLEEP_MIN_S) {
					struct timespec ts = {
						.tv_nsec = (long)((gap - SLEEP_MARGIN_S) * 1e9),
					};

					nanosleep(&ts, NULL);
				}
				continue;
			}
			for (unsigned i = 0; i < BURST; i++) {
				pk[i] = tmpl[next];
				next = next + 1 == o.flows ? 0 : next + 1;
			}
			k = rte_eth_tx_burst(ptx, 0, pk, BURST);
			sent += k;
			/* The virtio PMD frees (decrements) only on this thread, inside
			 * tx_burst: topping the stock up here cannot race with it. */
			for (unsigned i = 0; i < k; i++)
				if (rte_mbuf_refcnt_read(pk[i]) < REF_LOW)
					rte_mbuf_refcnt_update(pk[i], REF_STOCK - REF_LOW);
			k = rte_eth_rx_burst(prx, 0, pk, BURST);
			rte_pktmbuf_free_bulk(pk, k);
			recvd += k;
		}
		t1 = rte_rdtsc();
	}
	late = drain_quiet(prx, 0.3, 3.0);
	printf("{\"bench\":\"vswitch\",\"scenario\":%d,\"frame_bytes\":%u,\"flows\":%u,",
	       o.scenario, o.size + 4, o.flows);
	if (o.vxlan)
		printf("\"vxlan\":\"%s\",\"tunnels\":%u,\"underlay_frame_bytes\":%u,",
		       o.vxlan == VX_ENCAP ? "encap" : "decap", o.tunnels, o.size + 4 + VX_HDR);
	printf("\"vlan\":%d,\"rx_vlan\":%d,\"offered_pps\":%.0f,\"seconds\":%.3f,\"sent\":%" PRIu64 ",\"received\":%" PRIu64
	       ",\"late\":%" PRIu64 ",\"loss_pct\":%.3f,\"tx_mpps\":%.3f,\"rx_mpps\":%.3f}\n",
	       o.vlan, o.rx_vlan, o.rate,
	       (double)(t1 - t0) / (double)hz, sent, recvd, late,
	       sent ? 100.0 * (double)(sent - RTE_MIN(sent, recvd + late)) / (double)sent : 0.0,
	       (double)sent / ((double)(t1 - t0) / (double)hz) / 1e6,
	       (double)recvd / ((double)(t1 - t0) / (double)hz) / 1e6);
	fflush(stdout);
	rte_eth_dev_stop(ptx);
	rte_eth_dev_stop(prx);
	rte_eth_dev_close(ptx);
	rte_eth_dev_close(prx);
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	/* --in-memory leaves an empty runtime directory named after our prefix. */
	if (strstr(rundir, "/vessel-"))
		rmdir(rundir);
	return 0;
}
