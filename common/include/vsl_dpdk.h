/* vsl_dpdk.h — what every DPDK-using daemon (vswitchd, blockd) does around the
 * EAL. Header-only on purpose: libcommon stays free of DPDK, and only the
 * components built with DPDK's flags include this. */
#ifndef VSL_DPDK_H
#define VSL_DPDK_H

#include <string.h>

#include <rte_eal.h>
#include <rte_log.h>

#include "vsl_log.h"
#include "vsl_util.h"

/* The level of the DPDK log line being written, in Vessel's terms. */
static inline enum vsl_log_level vsl_dpdk_log_level(void)
{
	uint32_t lvl = rte_log_cur_msg_loglevel();

	return lvl <= (uint32_t)RTE_LOG_ERR ? VSL_LOG_ERR
	       : lvl == (uint32_t)RTE_LOG_WARNING ? VSL_LOG_WARN
	       : lvl <= (uint32_t)RTE_LOG_INFO ? VSL_LOG_INFO : VSL_LOG_DBG;
}

/* DPDK's own log lines go through Vessel's logger (module "dpdk"), so they
 * land in --log-file with the same format and honour the same levels. Call
 * before rte_eal_init(); returns the stream (NULL: DPDK keeps stderr), which
 * vsl_dpdk_log_close() closes after rte_eal_cleanup() (the EAL does not). */
static inline FILE *vsl_dpdk_log_redirect(void)
{
	static struct vsl_log_module dpdk_module = { .name = "dpdk", .level = -1 };
	FILE *f = vsl_log_stream(&dpdk_module, vsl_dpdk_log_level);

	if (f)
		rte_openlog_stream(f);
	return f;
}

/* DPDK back on stderr, the stream from vsl_dpdk_log_redirect() closed. */
static inline void vsl_dpdk_log_close(FILE *f)
{
	if (!f)
		return;
	rte_openlog_stream(NULL);
	fclose(f);
}

/* The EAL leaves its (empty, with --in-memory) runtime directory behind.
 * Vessel names it after the daemon and its pid (--file-prefix
 * vessel-<daemon>-<pid>), so nobody else can be using it; a directory whose
 * name lacks `tag` is left alone. */
static inline void vsl_dpdk_remove_runtime_dir(const char *tag)
{
	const char *dir = rte_eal_get_runtime_dir();

	if (dir && strstr(dir, tag))
		vsl_rmdir_flat(dir);
}

#endif /* VSL_DPDK_H */
