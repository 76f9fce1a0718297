/* vmm_internal.h — pieces of the vmm program: where state lives, the runtime
 * record of a VM, attaching to vswitchd/blockd, the QMP client, QEMU's command
 * line, the KVM probe and the per-VM supervisor.
 *
 * Processes: `vmm` is a CLI. `vmm start` creates the switch ports and block
 * exports, then forks a supervisor per VM (session leader, stdio on its log).
 * The supervisor launches QEMU as its child, holds the QMP socket (QEMU serves
 * one QMP client at a time), watches QEMU through a pidfd and serves JSON-RPC
 * on <vmdir>/supervisor.sock for the CLI (vm-status, vm-pause, vm-resume,
 * vm-reboot, vm-stop). When QEMU exits — asked to, or not — the supervisor
 * releases the ports and exports, writes the final state and exits. The CLI
 * keeps nothing in memory: every invocation reads state.json and asks the
 * supervisor, so a new vmm finds running VMs again; if the supervisor died,
 * the CLI talks QMP to QEMU itself.
 */
#ifndef VMM_INTERNAL_H
#define VMM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "vmm_def.h"
#include "vmm_vf.h"

enum { VMM_SOCK_MAX = 108 };

/* Where things are; filled by the CLI from options and the environment. */
struct vmm_env {
	char state_dir[VMM_PATH_MAX];       /* runtime state: <rundir>/vmm */
	char def_dir[VMM_PATH_MAX];         /* definitions: /var/lib/vessel/vmm */
	char vswitchd_sock[VMM_SOCK_MAX];
	char blockd_sock[VMM_SOCK_MAX];
	char qemu[VMM_PATH_MAX];            /* qemu-system-x86_64 */
	char sysfs_root[VMM_PATH_MAX];      /* "" = /sys (SR-IOV VFs) */
	int rpc_timeout_ms;
};

enum vmm_vm_state {
	VMM_ST_STOPPED,       /* defined, not running (or shut down cleanly) */
	VMM_ST_STARTING,
	VMM_ST_RUNNING,
	VMM_ST_PAUSED,
	VMM_ST_STOPPING,
	VMM_ST_CRASHED,       /* QEMU died without being asked to */
	VMM_ST_UNSUPERVISED,  /* the supervisor died; QEMU still runs */
	VMM_ST_LOST,          /* supervisor and QEMU gone, resources not released */
};

const char *vmm_state_name(enum vmm_vm_state s);
int vmm_state_parse(const char *s, enum vmm_vm_state *out);

struct vmm_port_att {
	char port[VMM_PORT_NAME_MAX + 1];
	char socket[VMM_SOCK_MAX];
	bool added;
};

struct vmm_disk_att {
	char export_name[VMM_BDEV_NAME_MAX + 1];
	char bdev[VMM_BDEV_NAME_MAX + 1];
	char socket[VMM_SOCK_MAX];
	bool bdev_created;                  /* vmm opened an image: delete the bdev too */
	bool added;
};

/* The runtime record of one VM: <vmdir>/state.json. */
struct vmm_run {
	char name[VMM_NAME_MAX + 1];
	enum vmm_vm_state state;
	pid_t supervisor_pid;
	pid_t qemu_pid;
	uint64_t started_ns;                /* wall clock, QEMU launch */
	uint64_t stopped_ns;
	enum vmm_accel accel;               /* resolved: kvm or tcg */
	char accel_reason[256];
	struct vmm_port_att ports[VMM_MAX_NICS];
	unsigned n_ports;
	struct vmm_disk_att disks[VMM_MAX_DISKS];
	unsigned n_disks;
	struct vmm_vf_saved vfs[VMM_MAX_VFS]; /* what attaching each VF changed */
	unsigned n_vfs;                     /* VFs attached (bound to vfio-pci) */
	int exit_code;                      /* -1: none */
	int exit_signal;                    /* -1: none */
	char reason[256];                   /* why it stopped */
	unsigned reboots;
	bool released;                      /* ports and exports given back */
};

/* ------------------------------------------------------------ vmm_state.c */

/* <state_dir>/<name> and files in it. Return 0 or -ENAMETOOLONG. */
int vmm_vm_dir(const struct vmm_env *env, const char *name, char *buf, size_t len);
int vmm_vm_file(const struct vmm_env *env, const char *name, const char *file, char *buf,
		size_t len);
int vmm_def_path(const struct vmm_env *env, const char *name, char *buf, size_t len);

void vmm_run_init(struct vmm_run *r, const char *name);
struct json_object *vmm_run_to_json(const struct vmm_run *r);
/* Reads <vmdir>/state.json. -ENOENT when the VM never ran here. */
int vmm_run_load(const struct vmm_env *env, const char *name, struct vmm_run *r);
int vmm_run_save(const struct vmm_env *env, const struct vmm_run *r);

/* True when pid is alive and its command line's first word ends in `exe`. */
bool vmm_pid_is(pid_t pid, const char *exe);
/* "exited with status N" / "killed by signal 9 (SIGKILL)". */
void vmm_exit_describe(const struct vmm_run *r, char *buf, size_t len);
/* snprintf that reports truncation as -ENAMETOOLONG (for paths). */
int vmm_pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* mkdir -p with mode 0755. */
int vmm_mkdirs(const char *path);

/* ----------------------------------------------------------- vmm_attach.c */

/* Creates one vhost-user port per NIC on vswitchd (client mode; QEMU listens)
 * and fills r->ports. On failure every port this call added is deleted again
 * and err names the NIC ("nics[1].port: ..."). */
int vmm_attach_ports(const struct vmm_env *env, const struct vmm_def *d, struct vmm_run *r,
		     char *err, size_t errlen);
/* Creates a vhost-user-blk export per disk on blockd (opening image files as
 * bdevs first) and fills r->disks; rolls back like vmm_attach_ports. */
int vmm_attach_disks(const struct vmm_env *env, const struct vmm_def *d, struct vmm_run *r,
		     char *err, size_t errlen);
/* Binds one VF per definition entry to vfio-pci with the entry's settings
 * (vmm_vf_attach) and fills r->vfs; rolls back like vmm_attach_ports. */
int vmm_attach_vfs(const struct vmm_env *env, const struct vmm_def *d, struct vmm_run *r,
		   char *err, size_t errlen);
/* Gives every port, export and VF of r back (idempotent: what is already gone
 * counts as released). Returns 0, or -errno when something could not be
 * released (r->released stays false; problems are logged). */
int vmm_release(const struct vmm_env *env, struct vmm_run *r);

/* One JSON-RPC call to a daemon socket. Returns 0 with *result (may be NULL),
 * or -errno with err filled ("vswitchd: <message>"). */
int vmm_rpc(const char *sock, const char *daemon, int timeout_ms, const char *method,
	    struct json_object *params, struct json_object **result, char *err, size_t errlen);

/* -------------------------------------------------------------- vmm_qmp.c */

struct vmm_qmp;
typedef void (*vmm_qmp_event_fn)(void *arg, const char *event, struct json_object *data);

/* Connects to QEMU's QMP socket, retrying until timeout_ms (QEMU may still be
 * creating it), reads the greeting and negotiates capabilities. Returns NULL
 * with err filled. */
struct vmm_qmp *vmm_qmp_connect(const char *path, int timeout_ms, vmm_qmp_event_fn fn,
				void *arg, char *err, size_t errlen);
void vmm_qmp_close(struct vmm_qmp *q);
int vmm_qmp_fd(const struct vmm_qmp *q);
/* Runs one command; events read meanwhile go to the callback. Returns 0 with
 * *ret (the "return" member, caller frees; ret may be NULL), -EREMOTEIO with the
 * QEMU error in err, -ETIMEDOUT, or -ECONNRESET when QEMU closed the socket. */
int vmm_qmp_exec(struct vmm_qmp *q, const char *cmd, struct json_object *args,
		 struct json_object **ret, int timeout_ms, char *err, size_t errlen);
/* Reads what is available without blocking and dispatches events. Returns 0,
 * or -ECONNRESET once QEMU closed the socket. */
int vmm_qmp_poll(struct vmm_qmp *q);
/* Reads and dispatches everything QEMU has written so far (until EAGAIN or
 * end of stream). 0, or -errno (-ECONNRESET at end of stream). */
int vmm_qmp_drain(struct vmm_qmp *q);

/* ------------------------------------------------------------ vmm_qemu.c */

/* QEMU's argument vector for d (NULL-terminated; free with vmm_argv_free()).
 * Sockets and logs live in vmdir. Returns 0 or -ENOMEM. */
int vmm_qemu_argv(const struct vmm_env *env, const struct vmm_def *d, const struct vmm_run *r,
		  const char *vmdir, char ***argv);
void vmm_argv_free(char **argv);

/* ----------------------------------------------------------- vmm_accel.c */

/* Resolves d->accel: kvm/tcg as asked (kvm needs /dev/kvm), auto from the
 * answer remembered in <state_dir>/accel.json, else by probing once: QEMU with
 * KVM boots the VM's kernel with no root filesystem and must reach the
 * kernel's "VFS: Unable to mount root" panic within a timeout; a KVM that
 * cannot run a Linux guest (hangs, QEMU aborts) means TCG. Returns 0 or -errno
 * with err filled; *out is kvm or tcg and reason says why. */
int vmm_accel_resolve(const struct vmm_env *env, const struct vmm_def *d, enum vmm_accel *out,
		      char *reason, size_t reasonlen, char *err, size_t errlen);

/* ----------------------------------------------------------- vmm_super.c */

/* Runs in the forked child: becomes the VM's supervisor. Launches QEMU, writes
 * "OK\n" or "ERR message\n" to notify_fd (then closes it) and serves until QEMU
 * is gone. Owns r's ports and exports from now on. Returns the exit status. */
int vmm_super_main(const struct vmm_env *env, const struct vmm_def *d, struct vmm_run *r,
		   int notify_fd);

#endif /* VMM_INTERNAL_H */
