/* vmm_def.h — VM definitions: the JSON a user writes, parsed and validated.
 *
 * A definition (schema in docs/vmm.md) names a VM, its CPUs and memory, how it
 * boots (kernel + initrd + command line, or a disk marked "boot"), its NICs
 * (switch ports vmm creates on vswitchd), its disks (exports vmm asks blockd
 * for) and its SR-IOV VFs.
 *
 * Two stages, so that the parser stays pure (and fuzzable):
 *   vmm_def_parse()       text -> struct vmm_def; strict: unknown keys, wrong
 *                         types, out-of-range values, duplicate MACs/ports are
 *                         refused with a message naming the field
 *                         ("nics[1].mac: ...").
 *   vmm_def_check_host()  what only the host can answer: the kernel and initrd
 *                         exist and are readable, image files exist, memory fits
 *                         in the host's RAM (or its free hugepages).
 *
 * struct vmm_def is plain data (fixed arrays, no heap): copy it freely.
 */
#ifndef VMM_DEF_H
#define VMM_DEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

enum {
	VMM_NAME_MAX = 32,          /* VM name: [A-Za-z0-9_.-], not starting with '.' or '-' */
	VMM_PORT_NAME_MAX = 31,     /* switch port names */
	VMM_MAX_NICS = 8,
	VMM_MAX_DISKS = 8,
	VMM_MAX_VFS = 8,
	VMM_MAX_VCPUS = 64,
	VMM_MAX_QUEUES = 16,
	VMM_MIN_MEMORY_MB = 32,
	VMM_PATH_MAX = 1024,
	VMM_CMDLINE_MAX = 2048,
	VMM_BDEV_NAME_MAX = 63,
};

enum vmm_mem_backend { VMM_MEM_MEMFD, VMM_MEM_HUGEPAGES };
enum vmm_accel { VMM_ACCEL_AUTO, VMM_ACCEL_KVM, VMM_ACCEL_TCG };
enum vmm_disk_kind { VMM_DISK_VOLUME, VMM_DISK_IMAGE, VMM_DISK_BDEV };

struct vmm_nic {
	char port[VMM_PORT_NAME_MAX + 1];   /* the switch port vmm creates */
	int vlan;                           /* 1..4094 access VLAN, or -1 */
	int64_t vni;                        /* 1..16777215 VXLAN VNI, or -1 */
	uint8_t mac[6];                     /* always set (generated when absent) */
	unsigned queues;                    /* queue pairs, 1..VMM_MAX_QUEUES */
};

struct vmm_disk {
	enum vmm_disk_kind kind;
	char source[VMM_PATH_MAX];          /* "vg0/lv1", an image path, or a bdev name */
	char bdev[VMM_BDEV_NAME_MAX + 1];   /* blockd's bdev name ("vg0-lv1"); for an
					     * image, the bdev vmm creates for it */
	bool readonly;
	bool boot;
	unsigned queues;
};

struct vmm_vf {
	char pf[16];                        /* the PF's netdev name */
	int index;                          /* VF number, or -1 for any free one */
	bool has_mac;
	uint8_t mac[6];
	int vlan;                           /* 0..4094, -1 unset */
	int spoofchk;                       /* 0/1, -1 unset */
	int trust;                          /* 0/1, -1 unset */
	uint32_t max_rate;                  /* Mbit/s, 0 unset */
};

struct vmm_def {
	char name[VMM_NAME_MAX + 1];
	unsigned vcpus;
	uint64_t memory_mb;
	enum vmm_mem_backend mem_backend;
	char hugepage_dir[VMM_PATH_MAX];    /* hugetlbfs mount (default /dev/hugepages) */
	enum vmm_accel accel;
	char kernel[VMM_PATH_MAX];          /* "" when booting from a disk */
	char initrd[VMM_PATH_MAX];
	char cmdline[VMM_CMDLINE_MAX];
	struct vmm_nic nics[VMM_MAX_NICS];
	unsigned n_nics;
	struct vmm_disk disks[VMM_MAX_DISKS];
	unsigned n_disks;
	struct vmm_vf vfs[VMM_MAX_VFS];
	unsigned n_vfs;
};

/* Parses and validates a definition from `len` bytes of JSON (need not be
 * NUL-terminated). Returns 0, or -EINVAL with a message naming the field in err
 * (e.g. "nics[0].vlan: must be 1..4094, got 5000"). On error *def is zeroed. */
int vmm_def_parse(const char *text, size_t len, struct vmm_def *def, char *err, size_t errlen);

/* Reads and parses a definition file (at most 1 MiB). Returns 0 or -errno with
 * err filled ("FILE: ..."). */
int vmm_def_load(const char *path, struct vmm_def *def, char *err, size_t errlen);

/* Host checks: kernel/initrd/image files exist and are readable, the memory fits
 * in MemTotal of `meminfo_path` (NULL: /proc/meminfo), hugepages: the directory
 * is a hugetlbfs mount and enough hugepages are free. Returns 0 or -errno with
 * the field named in err. */
int vmm_def_check_host(const struct vmm_def *def, const char *meminfo_path, char *err,
		       size_t errlen);

/* The canonical JSON form of a definition (every field, MACs included, so a
 * generated MAC stays stable once defined). Caller frees with json_object_put(). */
struct json_object *vmm_def_to_json(const struct vmm_def *def);

/* "52:54:00:12:34:56" into buf (at least 18 bytes). Returns buf. */
char *vmm_mac_format(const uint8_t mac[6], char *buf, size_t len);
/* Parses "aa:bb:cc:dd:ee:ff". Returns 0 or -EINVAL. */
int vmm_mac_parse(const char *s, uint8_t mac[6]);

/* True when `name` is a valid VM name. */
bool vmm_name_valid(const char *name);

const char *vmm_accel_name(enum vmm_accel a);

#endif /* VMM_DEF_H */
