/* vswitch.h — the switch data path as vswitchd's main() sees it.
 *
 * One datapath per process: a mbuf pool, the port registry, the FDB and one PMD
 * thread per EAL worker lcore. Its configuration and introspection go through
 * the JSON-RPC methods registered by vswitch/sw_rpc_*.c (see docs/vswitch.md);
 * nothing else is public yet. The flow tables (vswitch/sw_flow.h, the API the
 * OpenFlow agent will use) sit between the parser and the NORMAL action, see
 * sw_pmd.c and sw_flow_exec.c.
 *
 * Threading: sw_dp_init() and sw_dp_fini() run on the main lcore (the control
 * thread) after rte_eal_init() and before/after the daemon loop.
 */
#ifndef VSWITCH_H
#define VSWITCH_H

/* Creates the mbuf pool, FDB and RCU state and launches a PMD on every worker
 * lcore. With no worker lcore the switch has no data path and says so in the
 * log (ports can be configured, nothing is forwarded). Returns 0 or -errno
 * after logging why; on failure nothing is left running. */
int sw_dp_init(void);

/* Stops the PMDs, removes every port (closing its ethdev) and frees the rest.
 * Safe after a failed or absent sw_dp_init(). */
void sw_dp_fini(void);

#endif /* VSWITCH_H */
