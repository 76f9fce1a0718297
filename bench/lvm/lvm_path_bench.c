/* lvm_path_bench.c — CPU cost per I/O of a linear LV against the bdev under
 * it, measured in the process's own CPU time (not wall time), so that other
 * load on the machine changes the figure little.
 *
 *     build/bench/lvm_path_bench [--base null|file] [--dir /dev/shm] [--ios N] [--rounds R]
 *
 * One thread drives one reactor (as blockd's reactor thread does) and keeps
 * 32 4K random reads in flight, resubmitting from each completion, first on
 * the base bdev (null: completes at once, so only the bdev layers count;
 * file: O_DIRECT on a file under --dir through io_uring), then on a linear
 * LV of a VG on that base covering the same bytes, alternating for --rounds
 * rounds. Prints one JSON line per round and a summary: ns of CPU per I/O
 * for each, the LV's added ns, and the LV's I/O per CPU second over the
 * base's (the IOPS ratio a CPU-bound server would see). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blk_module.h"
#include "blockdev.h"
#include "lvm.h"

enum { QD = 32, BS = 4096 };

struct slot {
	struct iovec iov;
	int idx;
};

static struct blk_reactor *R;
static struct blk_bdev *target;
static struct slot slots[QD];
static uint64_t done, want, rng = 88172645463325252ull, nblocks;
static int failed;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void cb(void *arg, int status);

static void issue(struct slot *s)
{
	uint64_t off = (next_rand() % nblocks) * BS;
	int ret = blk_bdev_submit(target, R, BLK_IO_READ, 0, off, BS, &s->iov, 1, cb, s);

	if (ret) {
		fprintf(stderr, "submit: %s\n", strerror(-ret));
		failed = 1;
	}
}

static void cb(void *arg, int status)
{
	if (status && !failed) {
		fprintf(stderr, "read: %s\n", strerror(-status));
		failed = 1;
	}
	done++;
	if (done + QD <= want && !failed)
		issue(arg);
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ns of CPU per I/O for `ios` reads on b. */
static double run(struct blk_bdev *b, uint64_t ios)
{
	double t0;

	target = b;
	nblocks = blk_bdev_size(b) / BS;
	done = 0;
	want = ios;
	t0 = cpu_now();
	for (int i = 0; i < QD; i++)
		issue(&slots[i]);
	while (done < want && !failed)
		blk_reactor_poll(R, 0);
	return failed ? -1 : (cpu_now() - t0) * 1e9 / (double)ios;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *base = "null", *dir = "/dev/shm";
	uint64_t ios = 400000, size = 256ull << 20;
	unsigned rounds = 7;
	struct blk_bdev *pv, *lv;
	struct lvm_vg *vg = NULL;
	char err[256], path[512] = "";
	double *b_ns, *l_ns, *ratio;
	int ret;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--base"))
			base = argv[i + 1];
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--ios"))
			ios = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--rounds"))
			rounds = (unsigned)strtoul(argv[i + 1], NULL, 0);
	}
	if (ios < 4 * QD || !rounds || (strcmp(base, "null") && strcmp(base, "file"))) {
		fprintf(stderr, "usage: %s [--base null|file] [--dir DIR] [--ios N] [--rounds R]\n",
			argv[0]);
		return 2;
	}
	R = blk_reactor_create(0, 1024, 256);
	if (!R)
		return 1;
	blk_reactor_poll(R, 0);
	for (int i = 0; i < QD; i++) {
		slots[i].iov.iov_len = BS;
		slots[i].iov.iov_base = aligned_alloc(BS, BS);
		if (!slots[i].iov.iov_base)
			return 1;
	}
	if (!strcmp(base, "null")) {
		ret = blk_null_create("pv", size, 512, &pv);
	} else {
		int fd;

		snprintf(path, sizeof(path), "%s/vessel-lvm-path-bench-%d.img", dir, (int)getpid());
		fd = open(path, O_CREAT | O_RDWR | O_EXCL, 0600);
		if (fd < 0 || ftruncate(fd, (off_t)size)) {
			perror(path);
			return 1;
		}
		close(fd);
		ret = blk_file_create("pv", &(struct blk_file_opts){ .path = path, .direct = true },
				      &pv);
	}
	if (ret) {
		fprintf(stderr, "base bdev: %s\n", strerror(-ret));
		goto out;
	}
	ret = lvm_vg_create("bv", (const char *const[]){ "pv" }, 1, 4 << 20, &vg, err,
			    sizeof(err));
	if (!ret)
		ret = lvm_lv_create(vg, &(struct lvm_lv_opts){ .name = "lin",
							       .size = size - (8ull << 20) },
				    err, sizeof(err));
	lv = blk_bdev_find("bv-lin");
	if (ret || !lv) {
		fprintf(stderr, "LV: %s\n", err);
		ret = ret ? ret : -ENOENT;
		goto out;
	}
	b_ns = calloc(rounds, sizeof(double));
	l_ns = calloc(rounds, sizeof(double));
	ratio = calloc(rounds, sizeof(double));
	if (!b_ns || !l_ns || !ratio)
		return 1;
	run(lv, ios / 4);      /* warm up both paths */
	run(pv, ios / 4);
	for (unsigned r = 0; r < rounds && !failed; r++) {
		/* Alternate the order: neither side always runs second. */
		if (r % 2) {
			l_ns[r] = run(lv, ios);
			b_ns[r] = run(pv, ios);
		} else {
			b_ns[r] = run(pv, ios);
			l_ns[r] = run(lv, ios);
		}
		ratio[r] = b_ns[r] / l_ns[r];
		printf("{\"bench\": \"lvm_path\", \"base\": \"%s\", \"round\": %u, \"base_ns_per_io\": "
		       "%.0f, \"lv_ns_per_io\": %.0f, \"lv_added_ns\": %.0f, "
		       "\"lv_over_base_io_per_cpu_s\": %.3f}\n",
		       base, r, b_ns[r], l_ns[r], l_ns[r] - b_ns[r], ratio[r]);
	}
	if (!failed) {
		double lo[3];

		qsort(b_ns, rounds, sizeof(double), cmp_double);
		qsort(l_ns, rounds, sizeof(double), cmp_double);
		qsort(ratio, rounds, sizeof(double), cmp_double);
		lo[0] = b_ns[rounds / 2];
		lo[1] = l_ns[rounds / 2];
		lo[2] = ratio[rounds / 2];
		printf("{\"bench\": \"lvm_path\", \"base\": \"%s\", \"case\": \"median\", "
		       "\"rounds\": %u, \"ios_per_round\": %llu, \"qd\": %d, \"base_ns_per_io\": %.0f, "
		       "\"lv_ns_per_io\": %.0f, \"lv_added_ns\": %.0f, "
		       "\"lv_over_base_io_per_cpu_s\": %.3f}\n",
		       base, rounds, (unsigned long long)ios, QD, lo[0], lo[1], lo[1] - lo[0], lo[2]);
	}
	ret = failed ? -EIO : 0;
	lvm_lv_remove(vg, "lin", err, sizeof(err));
	lvm_vg_remove(vg, err, sizeof(err));
out:
	blk_bdev_delete_all();
	blk_reactor_destroy(R);
	if (path[0])
		unlink(path);
	return ret ? 1 : 0;
}
