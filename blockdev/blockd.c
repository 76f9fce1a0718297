/* blockd — the Vessel userspace block daemon.
 *
 * The control thread runs the JSON-RPC socket, the config replay and the NBD
 * handshakes; `--reactors N` data-path threads (default 1, pinned to the last
 * CPUs) each own an io_uring and serve the bdevs' I/O and the exports'
 * connections (blockdev/include/blockdev.h, blk_nbd.h, blk_vhost_blk.h).
 * DPDK's EAL starts only with the first vhost-user-blk export (blk_eal.c).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <liburing.h>

#include "blk_nbd.h"
#include "blk_vhost_blk.h"
#include "blockdev.h"
#include "vsl_daemon.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(blockd);

static int io_uring_status;   /* 0, or -errno from io_uring_queue_init */

static void blockd_info(struct json_object *info)
{
	struct json_object *u = json_object_new_object();

	json_object_object_add(u, "available", json_object_new_boolean(io_uring_status == 0));
	if (io_uring_status)
		json_object_object_add(u, "error", json_object_new_string(strerror(-io_uring_status)));
	json_object_object_add(info, "io_uring", u);
	json_object_object_add(info, "reactors", json_object_new_int((int)blk_reactor_count()));
	blk_eal_info(info);
}

/* Reactors need io_uring: find out at start, not at the first I/O. */
static int probe_io_uring(void)
{
	struct io_uring ring;
	int ret = io_uring_queue_init(8, &ring, 0);

	if (ret)
		return ret;
	io_uring_queue_exit(&ring);
	return 0;
}

/* Grows the fd table now, while the process has one thread. Once reactor
 * threads share it, every growth waits for an RCU grace period in the kernel
 * (expand_fdtable), which stalls the control thread's accept() in the middle
 * of a burst of clients long enough to overflow the listen backlog. */
static void fd_table_prealloc(void)
{
	struct rlimit rl;
	int fd, target;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < 64)
		return;
	target = (int)(rl.rlim_cur > 4096 ? 4095 : rl.rlim_cur - 1);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (dup2(fd, target) == target)
		close(target);
	close(fd);
}

struct blockd_opt {
	const char *name;
	uint64_t min, max;
	unsigned *value;
};

/* Takes blockd's own options ("--reactors N", "--io-contexts N", also with
 * "=") out of argv: the shared option parser does not know them. Returns 0,
 * or 2 after a usage message. */
static int take_options(int *argc, char **argv, const struct blockd_opt *opts, size_t n_opts)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const struct blockd_opt *o = NULL;
		const char *v = NULL;
		uint64_t u;

		if (!strcmp(argv[i], "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		for (size_t k = 0; k < n_opts && !o; k++) {
			size_t len = strlen(opts[k].name);

			if (!strcmp(argv[i], opts[k].name)) {
				if (i + 1 >= *argc) {
					fprintf(stderr, "blockd: option '%s' needs an argument\n",
						opts[k].name);
					return 2;
				}
				o = &opts[k];
				v = argv[++i];
			} else if (!strncmp(argv[i], opts[k].name, len) && argv[i][len] == '=') {
				o = &opts[k];
				v = argv[i] + len + 1;
			}
		}
		if (!o) {
			argv[out++] = argv[i];
			continue;
		}
		if (vsl_parse_u64(v, &u) || u < o->min || u > o->max) {
			fprintf(stderr, "blockd: %s needs a number from %" PRIu64 " to %" PRIu64 "\n",
				o->name, o->min, o->max);
			return 2;
		}
		*o->value = (unsigned)u;
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	struct vsl_daemon_args args;
	struct vsl_daemon d;
	unsigned reactors = 1, io_contexts = BLK_IO_POOL_DEFAULT, no_huge = 0, eal_mem = 256;
	const struct blockd_opt opts[] = {
		{ "--reactors", 1, BLK_MAX_REACTORS, &reactors },
		{ "--io-contexts", 1, 1 << 20, &io_contexts },
		{ "--eal-no-huge", 0, 1, &no_huge },
		{ "--eal-mem", 64, 1 << 16, &eal_mem },
	};
	int ret;

	if (take_options(&argc, argv, opts, VSL_ARRAY_SIZE(opts)))
		return 2;
	blk_eal_configure(no_huge, eal_mem);
	ret = vsl_daemon_parse_args(&args, "blockd", "Vessel block daemon (io_uring bdev layer).",
				    NULL, argc, argv);
	if (ret == 1 && argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		printf("\nblockd options:\n"
		       "  --reactors N        data-path threads, each with its own io_uring "
		       "(default 1)\n"
		       "  --io-contexts N     preallocated I/O contexts per reactor (default %d)\n"
		       "  --eal-no-huge 0|1   1: run DPDK (started with the first vhost-user-blk\n"
		       "                      export) without hugepages even when some are free\n"
		       "  --eal-mem MB        DPDK heap without hugepages (default 256)\n",
		       BLK_IO_POOL_DEFAULT);
	if (ret)
		return ret == 1 ? 0 : 2;
	ret = vsl_daemon_init(&d, &args);
	if (ret)
		return 1;
	d.info_fn = blockd_info;
	io_uring_status = probe_io_uring();
	if (io_uring_status) {
		VSL_ERR("io_uring unavailable: %s", strerror(-io_uring_status));
		vsl_daemon_fini(&d);
		return 1;
	}
	fd_table_prealloc();
	/* After init: the threads inherit the blocked signal mask. */
	ret = blk_reactors_start(reactors, io_contexts, d.loop);
	if (ret) {
		VSL_ERR("cannot start %u reactors: %s", reactors, strerror(-ret));
		vsl_daemon_fini(&d);
		return 1;
	}

	ret = vsl_daemon_start(&d);
	if (!ret)
		ret = vsl_daemon_run(&d);

	/* vhost-user front ends first: their requests drain on the reactors.
	 * Then NBD clients: requests in flight are answered, no new one is
	 * read. */
	blk_vub_fini();
	blk_nbd_quiesce(d.loop, 5000);
	/* Write back what bdevs keep in memory (thin pool mappings) while the
	 * reactors still run. */
	blk_bdev_shutdown_all();
	/* Threads and kernel first, then the memory they used. */
	blk_reactors_stop();
	blk_nbd_fini();
	blk_reactors_destroy();
	blk_bdev_delete_all();
	blk_eal_fini();
	vsl_daemon_fini(&d);
	return ret ? 1 : 0;
}
