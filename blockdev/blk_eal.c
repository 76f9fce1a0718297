/* blk_eal.c — DPDK's EAL for blockd, started on the first vhost-user-blk
 * export. rte_vhost needs the EAL for its heap (device and virtqueue state)
 * and its control threads; blockd's data path does not use DPDK otherwise, so
 * the EAL gets the least it runs with: --in-memory with hugepages when at least
 * a few are free, else --no-huge --no-shconf with a small heap, --no-pci, --no-telemetry,
 * a file prefix unique to this process, and -l listing the reactors' CPUs.
 *
 * rte_eal_init() pins the calling thread to its main lcore; the control thread
 * gets its old affinity back afterwards. DPDK's log lines go through vsl_log
 * (module "dpdk"), as in vswitchd.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_version.h>

#include "blk_vhost_blk.h"
#include "blockdev.h"
#include "vsl_dpdk.h"
#include "vsl_log.h"

VSL_LOG_MODULE(eal);

enum { MIN_FREE_HUGEPAGES = 128, DEFAULT_MEM_MB = 256 };

static bool eal_running;
static FILE *eal_log;       /* DPDK's log stream, closed after rte_eal_cleanup() */
static bool cfg_no_huge;
static unsigned cfg_mem_mb = DEFAULT_MEM_MB;

void blk_eal_configure(bool no_huge, unsigned mem_mb)
{
	cfg_no_huge = no_huge;
	cfg_mem_mb = mem_mb ? mem_mb : DEFAULT_MEM_MB;
}

bool blk_eal_running(void)
{
	return eal_running;
}

static long free_hugepages(void)
{
	char line[256];
	long n = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* "-l" list: the reactors' CPUs, or the first CPU we may use. */
static void lcore_list(char *buf, size_t len)
{
	size_t off = 0;
	cpu_set_t seen, set;

	CPU_ZERO(&seen);
	buf[0] = '\0';
	for (unsigned i = 0; i < blk_reactor_count(); i++) {
		int cpu = blk_reactor_cpu(blk_reactor_get(i));

		if (cpu < 0 || cpu >= CPU_SETSIZE || CPU_ISSET(cpu, &seen))
			continue;
		CPU_SET(cpu, &seen);
		off += (size_t)snprintf(buf + off, len - off, "%s%d", off ? "," : "", cpu);
		if (off >= len)
			break;
	}
	if (buf[0] && off < len)
		return;
	snprintf(buf, len, "0");
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set)) {
				snprintf(buf, len, "%d", c);
				break;
			}
}

int blk_eal_init(void)
{
	char lcores[256], prefix[64], mem[16];
	char *argv[16];
	cpu_set_t saved;
	bool have_affinity;
	bool huge;
	int argc = 0, ret;

	if (eal_running)
		return 0;
	huge = !cfg_no_huge && free_hugepages() >= MIN_FREE_HUGEPAGES;
	lcore_list(lcores, sizeof(lcores));
	snprintf(prefix, sizeof(prefix), "--file-prefix=vessel-blockd-%d", (int)getpid());
	snprintf(mem, sizeof(mem), "%u", cfg_mem_mb);
	argv[argc++] = "blockd";
	argv[argc++] = "-l";
	argv[argc++] = lcores;
	argv[argc++] = prefix;
	if (huge) {
		argv[argc++] = "--in-memory";
	} else {
		/* DPDK 22.11 counts --no-huge as legacy memory, which it refuses
		 * together with --in-memory: no shared config files instead. */
		argv[argc++] = "--no-shconf";
		argv[argc++] = "--no-huge";
		argv[argc++] = "-m";
		argv[argc++] = mem;
	}
	argv[argc++] = "--no-pci";
	argv[argc++] = "--no-telemetry";
	argv[argc++] = "--log-level=lib.eal:warning";
	/* rte_vhost logs every vhost-user message at INFO. */
	argv[argc++] = "--log-level=lib.vhost.*:warning";
	argv[argc] = NULL;

	have_affinity = sched_getaffinity(0, sizeof(saved), &saved) == 0;
	eal_log = vsl_dpdk_log_redirect();
	ret = rte_eal_init(argc, argv);
	if (have_affinity && sched_setaffinity(0, sizeof(saved), &saved))
		VSL_WARN("cannot restore the control thread's CPU affinity");
	if (ret < 0) {
		VSL_ERR("DPDK EAL initialisation failed: %s", rte_strerror(rte_errno));
		vsl_dpdk_remove_runtime_dir("/vessel-blockd-");
		vsl_dpdk_log_close(eal_log);
		eal_log = NULL;
		return -ENODEV;
	}
	eal_running = true;
	VSL_INFO("%s for vhost-user-blk: lcores %s, %s", rte_version(), lcores,
		 huge ? "hugepages" : "no hugepages");
	return 0;
}

void blk_eal_info(struct json_object *info)
{
	if (!eal_running)
		return;
	json_object_object_add(info, "dpdk", json_object_new_string(rte_version()));
	json_object_object_add(info, "hugepages", json_object_new_boolean(rte_eal_has_hugepages()));
}

void blk_eal_fini(void)
{
	if (!eal_running)
		return;
	rte_eal_cleanup();
	vsl_dpdk_remove_runtime_dir("/vessel-blockd-");
	vsl_dpdk_log_close(eal_log);
	eal_log = NULL;
	eal_running = false;
}
