/* blk_vhost_blk.h — vhost-user-blk exports of bdevs (DPDK rte_vhost).
 *
 * blockd is the vhost-user server: each export listens on a unix socket and a
 * front end (QEMU's vhost-user-blk-pci with `-chardev socket,path=P,
 * reconnect=1`, or bench/blockdev/vub_bench) connects, shares the guest memory
 * and hands over its virtqueues. The export serves the virtio-blk config space
 * itself (VHOST_USER_PROTOCOL_F_CONFIG through rte_vhost's external message
 * hook) and tracks requests in the front end's inflight area
 * (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD), so that after a blockd restart the
 * requests the guest had in flight are submitted again.
 *
 * Threads: the functions here run on the control thread. rte_vhost calls back
 * on its own thread ("vhost-events"): a device that becomes ready has its
 * queues spread over the reactors, which poll them (and sleep on the kick
 * eventfd through io_uring when idle); a device that goes away waits there
 * until its reactors have finished every request that points into guest
 * memory.
 *
 * DPDK's EAL is started the first time an export is added (blk_eal_init()),
 * so a blockd that only serves NBD never pays for it.
 */
#ifndef BLK_VHOST_BLK_H
#define BLK_VHOST_BLK_H

#include <stdbool.h>

#include <json-c/json.h>

enum { BLK_VUB_MAX_QUEUES = 64 };

struct blk_vub_export_opts {
	const char *name;          /* export name; NULL: the bdev's name */
	const char *bdev;
	const char *socket;        /* unix socket path (created; an old socket file is replaced) */
	bool readonly;
	unsigned num_queues;       /* 1..BLK_VUB_MAX_QUEUES; 0: 1 */
	bool no_pin;               /* do not register guest memory with the reactors' io_uring */
};

/* EAL settings, before the first export (blockd's options). mem_mb: heap size
 * without hugepages (0: 256); no_huge: never use hugepages. */
void blk_eal_configure(bool no_huge, unsigned mem_mb);
/* Starts DPDK's EAL for rte_vhost if it is not running. Returns 0 or -errno. */
int blk_eal_init(void);
bool blk_eal_running(void);
/* Adds {"dpdk": version, "hugepages": bool} when the EAL runs. */
void blk_eal_info(struct json_object *info);
/* Daemon exit, after the exports are gone. */
void blk_eal_fini(void);

/* Returns 0, -EEXIST (name taken), -ENOENT (no such bdev), -EINVAL (bad name,
 * socket path or num_queues), -EADDRINUSE (the socket belongs to another
 * export), -ENODEV (the EAL cannot start), or another -errno. */
int blk_vub_export_add(const struct blk_vub_export_opts *o);
/* Disconnects the front end (waiting for its requests) and frees the export.
 * Returns 0 or -ENOENT. */
int blk_vub_export_remove(const char *name);
bool blk_vub_export_exists(const char *name);
/* Appends one object per export to `arr`. */
void blk_vub_export_list(struct json_object *arr);
/* Appends the export-add calls that rebuild the exports. */
int blk_vub_config(struct json_object *calls);
/* Daemon shutdown, before blk_reactors_stop(): removes every export. */
void blk_vub_fini(void);

#endif /* BLK_VHOST_BLK_H */
