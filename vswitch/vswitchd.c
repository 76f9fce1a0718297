/* vswitchd — the Vessel DPDK virtual switch daemon.
 *
 * This is the process skeleton: options, DPDK EAL initialisation, the control
 * thread's loop with the JSON-RPC socket, and clean shutdown. Ports, bridge and
 * flow tables hang off it (vswitch/include/).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_lcore.h>
#include <rte_version.h>

#include "vsl_daemon.h"
#include "vsl_dpdk.h"
#include "vsl_log.h"
#include "vsl_util.h"
#include "vswitch.h"

VSL_LOG_MODULE(vswitchd);

enum { EAL_MAX_ARGS = 128, MIN_FREE_HUGEPAGES = 64 };

static const char extra_usage[] =
	"DPDK EAL arguments may follow \"--\". By default vswitchd runs the EAL with\n"
	"  -l 0,1 --file-prefix vessel-vswitchd-<pid> --no-telemetry --no-pci\n"
	"(-l 0,1 means the control thread on the first CPU and one PMD on the second,\n"
	"taken from the CPUs this process may run on; -l 0 when there is only one)\n"
	"and --in-memory when at least 64 free hugepages exist, else --no-huge -m 512.\n"
	"Giving --file-prefix, --in-memory, --no-huge, -m or --socket-mem, -l/-c/--lcores,\n"
	"or -a/--allow (PCI devices to use) replaces the corresponding default. PCI devices\n"
	"are never probed unless allowed with -a: the host's own NICs stay with the kernel.\n";

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

static bool has_arg(int argc, char **argv, const char *const *names)
{
	for (int i = 0; i < argc; i++)
		for (const char *const *n = names; *n; n++)
			if (!strncmp(argv[i], *n, strlen(*n)))
				return true;
	return false;
}

/* "A,B": the first two CPUs we may run on (control thread, PMD), or "A" alone. */
static void default_lcores(char *buf, size_t len)
{
	cpu_set_t set;
	int first = -1, second = -1;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		for (int c = 0; c < CPU_SETSIZE && second < 0; c++) {
			if (!CPU_ISSET(c, &set))
				continue;
			if (first < 0)
				first = c;
			else
				second = c;
		}
	}
	if (first < 0)
		snprintf(buf, len, "0");
	else if (second < 0)
		snprintf(buf, len, "%d", first);
	else
		snprintf(buf, len, "%d,%d", first, second);
}

/* Builds the EAL argv: our defaults, then the user's arguments after "--". */
static int eal_args(const struct vsl_daemon_args *a, char **out, char *prefix, size_t prefix_len)
{
	static char lcores[32];
	static const char *const mem_opts[] = { "--in-memory", "--no-huge", "-m", "--socket-mem", NULL };
	static const char *const prefix_opts[] = { "--file-prefix", NULL };
	static const char *const core_opts[] = { "-l", "-c", "--lcores", NULL };
	static const char *const pci_opts[] = { "-a", "--allow", "-b", "--block", "--no-pci", NULL };
	int n = 0;

	out[n++] = (char *)a->name;
	if (!has_arg(a->extra_argc, a->extra_argv, core_opts)) {
		default_lcores(lcores, sizeof(lcores));
		out[n++] = "-l";
		out[n++] = lcores;
	}
	if (!has_arg(a->extra_argc, a->extra_argv, prefix_opts)) {
		snprintf(prefix, prefix_len, "--file-prefix=vessel-vswitchd-%d", (int)getpid());
		out[n++] = prefix;
	}
	if (!has_arg(a->extra_argc, a->extra_argv, mem_opts)) {
		if (free_hugepages() >= MIN_FREE_HUGEPAGES) {
			out[n++] = "--in-memory";
		} else {
			VSL_INFO("fewer than %d free hugepages: running the EAL with --no-huge",
				 MIN_FREE_HUGEPAGES);
			out[n++] = "--no-huge";
			out[n++] = "-m";
			out[n++] = "512";
		}
	}
	if (!has_arg(a->extra_argc, a->extra_argv, pci_opts))
		out[n++] = "--no-pci";
	out[n++] = "--no-telemetry";
	if (a->extra_argc + n >= EAL_MAX_ARGS)
		return -E2BIG;
	for (int i = 0; i < a->extra_argc; i++)
		out[n++] = a->extra_argv[i];
	out[n] = NULL;
	return n;
}

static void vswitchd_info(struct json_object *info)
{
	json_object_object_add(info, "dpdk", json_object_new_string(rte_version()));
	json_object_object_add(info, "lcores", json_object_new_int((int)rte_lcore_count()));
	json_object_object_add(info, "hugepages",
			       json_object_new_boolean(rte_eal_has_hugepages()));
}

int main(int argc, char **argv)
{
	struct vsl_daemon_args args;
	struct vsl_daemon d;
	char *eal_argv[EAL_MAX_ARGS + 1];
	char prefix[64];
	FILE *eal_log;
	int eal_argc, ret;

	ret = vsl_daemon_parse_args(&args, "vswitchd", "Vessel virtual switch (DPDK data path).",
				    extra_usage, argc, argv);
	if (ret)
		return ret == 1 ? 0 : 2;
	ret = vsl_daemon_init(&d, &args);
	if (ret)
		return 1;
	d.info_fn = vswitchd_info;

	eal_argc = eal_args(&args, eal_argv, prefix, sizeof(prefix));
	if (eal_argc < 0) {
		VSL_ERR("too many EAL arguments");
		goto err_daemon;
	}
	eal_log = vsl_dpdk_log_redirect();
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		VSL_ERR("DPDK EAL initialisation failed: %s", rte_strerror(rte_errno));
		vsl_dpdk_remove_runtime_dir("/vessel-");  /* the EAL may have created it before failing */
		vsl_dpdk_log_close(eal_log);
		goto err_daemon;
	}
	VSL_INFO("%s: %u lcore(s), %s", rte_version(), rte_lcore_count(),
		 rte_eal_has_hugepages() ? "hugepages" : "no hugepages");

	ret = sw_dp_init();
	if (ret) {
		VSL_ERR("cannot start the data path: %s", strerror(-ret));
		goto err_eal;
	}
	ret = vsl_daemon_start(&d);
	if (!ret)
		ret = vsl_daemon_run(&d);

	/* Before the daemon's loop goes: the data path has timers on it. */
	sw_dp_fini();
	vsl_daemon_fini(&d);
	rte_eal_cleanup();
	vsl_dpdk_remove_runtime_dir("/vessel-");
	vsl_dpdk_log_close(eal_log);
	return ret ? 1 : 0;

err_eal:
	vsl_daemon_fini(&d);
	rte_eal_cleanup();
	vsl_dpdk_remove_runtime_dir("/vessel-");
	vsl_dpdk_log_close(eal_log);
	return 1;
err_daemon:
	vsl_daemon_fini(&d);
	return 1;
}
