/* vmm_vf.h — SR-IOV virtual functions for the VM manager.
 *
 * A physical function (PF) is a network device whose PCI function can spawn
 * virtual functions (VFs). This library:
 *
 *   - lists PFs and their VFs from sysfs (device/sriov_totalvfs, sriov_numvfs,
 *     virtfnN links to the VFs' PCI directories, the bound driver, the VF's
 *     netdev) and each VF's MAC, VLAN/qos, spoof check, trust, link state and
 *     rates from rtnetlink (RTM_GETLINK with IFLA_EXT_MASK = RTEXT_FILTER_VF);
 *   - enables VFs (writes sriov_numvfs, through 0 when the count changes);
 *   - configures a VF through the PF with libnl-route-3's rtnl_link_vf_* API
 *     (one RTM_NEWLINK carrying IFLA_VFINFO_LIST/IFLA_VF_INFO);
 *   - attaches a VF to a VM: picks a free one, saves its settings and driver,
 *     applies the VM's settings and binds it to vfio-pci through
 *     driver_override + unbind + drivers_probe; detach undoes all of it;
 *   - implements the `vmm vf-list`, `vf-enable` and `vf-set` commands.
 *
 * Every sysfs path is taken under env->sysfs_root ("/sys" by default), so
 * tests run on a fake PF/VF tree. env->ops replaces the kernel side (the
 * rtnetlink get/set and the sysfs writes) for such tests; NULL means the real
 * kernel.
 *
 * Conventions: functions return 0 or -errno; on failure they write a one-line
 * reason naming the device, VF or field into err (when err is not NULL and
 * errlen > 0), e.g. "no SR-IOV support on eth0". A device without
 * sriov_totalvfs gives -EOPNOTSUPP and that message; a name that is not a
 * network device gives -ENODEV.
 *
 * Threading: no global state; calls may run from any thread. attach/detach
 * hold an flock on the PF's PCI directory while they choose and bind a VF, so
 * two processes cannot take the same free VF.
 */
#ifndef VMM_VF_H
#define VMM_VF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

enum {
	VMM_VF_IFNAME_LEN = 16,   /* IFNAMSIZ */
	VMM_VF_PCI_LEN = 32,      /* "0000:03:02.0" and wider domains */
	VMM_VF_DRIVER_LEN = 64,
};

/* Which fields of struct vmm_vf_settings are meaningful (bit mask). For a
 * request: which to change. For state read from the kernel: which the driver
 * reported. */
enum vmm_vf_field {
	VMM_VF_MAC = 1u << 0,
	VMM_VF_VLAN = 1u << 1,        /* vlan and qos together */
	VMM_VF_SPOOFCHK = 1u << 2,
	VMM_VF_TRUST = 1u << 3,
	VMM_VF_MAX_RATE = 1u << 4,
	VMM_VF_MIN_RATE = 1u << 5,
	VMM_VF_LINK_STATE = 1u << 6,
};

enum vmm_vf_link_state {
	VMM_VF_LINK_AUTO = 0,         /* IFLA_VF_LINK_STATE_AUTO: follows the PF */
	VMM_VF_LINK_ENABLE = 1,
	VMM_VF_LINK_DISABLE = 2,
};

struct vmm_vf_settings {
	uint32_t fields;              /* enum vmm_vf_field bits */
	uint8_t mac[6];
	uint16_t vlan;                /* 0..4095, 0: no VLAN (802.1Q only) */
	uint8_t qos;                  /* 0..7, needs vlan != 0 */
	uint16_t vlan_proto;          /* as reported (0x8100 802.1Q, 0x88a8 802.1ad);
				       * requests always use 802.1Q */
	bool spoofchk;
	bool trust;
	uint32_t max_rate;            /* Mbps, 0: unlimited */
	uint32_t min_rate;            /* Mbps, 0: no guarantee */
	enum vmm_vf_link_state link_state;
};

/* One VF as rtnetlink reports it. */
struct vmm_vf_nl_vf {
	uint32_t index;
	struct vmm_vf_settings cfg;   /* cfg.fields: what the kernel reported */
};

/* A PF as rtnetlink reports it (RTM_NEWLINK reply to a RTEXT_FILTER_VF get). */
struct vmm_vf_link {
	int ifindex;
	char name[VMM_VF_IFNAME_LEN];
	bool has_num_vf;              /* IFLA_NUM_VF present */
	uint32_t num_vf;
	struct vmm_vf_nl_vf *vfs;     /* heap, n_vfs entries; vmm_vf_link_fini() */
	size_t n_vfs;
};

void vmm_vf_link_fini(struct vmm_vf_link *l);

/* The kernel side, replaceable for tests (a fake device). Each returns 0 or
 * -errno with a reason in err. NULL members fall back to the kernel. */
struct vmm_vf_ops {
	/* Reads the PF's link and VF list (default: rtnetlink with RTEXT_FILTER_VF).
	 * On success the caller owns *out (vmm_vf_link_fini). */
	int (*get_link)(void *arg, const char *pf, struct vmm_vf_link *out, char *err,
			size_t errlen);
	/* Applies s (only s->fields) to VF `vf` of the PF with that ifindex
	 * (default: rtnl_link_change with one IFLA_VF_INFO). */
	int (*set_vf)(void *arg, int ifindex, uint32_t vf, const struct vmm_vf_settings *s,
		      char *err, size_t errlen);
	/* Writes val (no newline added) to an existing sysfs file
	 * (default: open O_WRONLY, one write). */
	int (*write_file)(void *arg, const char *path, const char *val);
};

struct vmm_vf_env {
	const char *sysfs_root;       /* NULL or "": "/sys" */
	const struct vmm_vf_ops *ops; /* NULL: the real kernel */
	void *ops_arg;
};

/* ---- Listing ---- */

struct vmm_vf_dev {
	uint32_t index;               /* N of virtfnN */
	char pci_addr[VMM_VF_PCI_LEN];
	char driver[VMM_VF_DRIVER_LEN];          /* "" when no driver is bound */
	char driver_override[VMM_VF_DRIVER_LEN]; /* "" when none */
	char netdev[VMM_VF_IFNAME_LEN];          /* "" when the VF has no netdev */
	bool in_use;                  /* bound to (or overridden to) vfio-pci */
	bool has_cfg;                 /* rtnetlink reported this VF */
	struct vmm_vf_settings cfg;
};

struct vmm_vf_pf {
	char name[VMM_VF_IFNAME_LEN];
	char pci_addr[VMM_VF_PCI_LEN];
	char driver[VMM_VF_DRIVER_LEN];
	uint32_t total_vfs;
	uint32_t num_vfs;
	int ifindex;                  /* 0 when rtnetlink did not answer */
	char nl_error[192];           /* why rtnetlink gave nothing ("" when it did) */
	struct vmm_vf_dev *vfs;           /* num_vfs entries (virtfn links found) */
	size_t n_vfs;
};

/* Lists one PF (pf != NULL) or every SR-IOV-capable network device under
 * <root>/class/net (pf == NULL; none is not an error). A PF that rtnetlink
 * cannot read is still listed from sysfs with nl_error set. On success the
 * caller frees the array with vmm_vf_list_free(). */
int vmm_vf_list(const struct vmm_vf_env *env, const char *pf, struct vmm_vf_pf **pfs,
		size_t *n_pfs, char *err, size_t errlen);
void vmm_vf_list_free(struct vmm_vf_pf *pfs, size_t n_pfs);

/* {"pfs": [{name, pci, driver, ifindex, total_vfs, num_vfs, [rtnetlink_error],
 *  vfs: [{index, pci, driver, driver_override, netdev, in_use, mac, vlan, qos,
 *  spoofchk, trust, link_state, max_rate, min_rate}]}]} (new reference). */
struct json_object *vmm_vf_list_to_json(const struct vmm_vf_pf *pfs, size_t n_pfs);

/* ---- Configuration ---- */

/* Sets the PF's VF count: count 0 disables; a change between two non-zero
 * counts writes 0 first (the kernel requires it). Refuses a count above
 * sriov_totalvfs (-ERANGE) and, when VFs would be removed, any VF bound to
 * vfio-pci (-EBUSY: a VM or DPDK uses it). */
int vmm_vf_enable(const struct vmm_vf_env *env, const char *pf, uint32_t count, char *err,
		  size_t errlen);

/* Applies s->fields of s to VF `index` of pf through rtnetlink. Checks that
 * the PF has SR-IOV and that index < sriov_numvfs first. A max_rate without
 * min_rate (or the reverse) keeps the VF's current other rate. */
int vmm_vf_set(const struct vmm_vf_env *env, const char *pf, uint32_t index,
	       const struct vmm_vf_settings *s, char *err, size_t errlen);

/* Validates s: vlan <= 4095, qos <= 7 and only with a VLAN, unicast MAC,
 * min_rate <= max_rate when both are non-zero. */
int vmm_vf_settings_check(const struct vmm_vf_settings *s, char *err, size_t errlen);

/* Parses one "key=value" (mac=02:00:00:00:00:01, vlan=N, qos=N,
 * spoofchk=on|off, trust=on|off, max_rate=MBPS, min_rate=MBPS,
 * state=auto|enable|disable) into s and sets its field bit. */
int vmm_vf_settings_parse_kv(const char *kv, struct vmm_vf_settings *s, char *err,
			     size_t errlen);

/* ---- VFs of a VM ---- */

/* A VF as a VM definition names it:
 *   {"pf": "eth2", "vf": 3 (optional; absent or "any": any free VF),
 *    "mac": "02:..", "vlan": 100, "qos": 0, "spoofchk": true, "trust": false,
 *    "max_rate": 1000, "min_rate": 0, "link_state": "auto"}
 * Unknown keys are refused, naming the key. */
struct vmm_vf_spec {
	char pf[VMM_VF_IFNAME_LEN];
	int index;                    /* -1: any free VF */
	struct vmm_vf_settings settings;
};

int vmm_vf_spec_from_json(struct json_object *obj, struct vmm_vf_spec *spec, char *err,
			  size_t errlen);
struct json_object *vmm_vf_spec_to_json(const struct vmm_vf_spec *spec);

/* What vmm_vf_attach() changed, so that vmm_vf_detach() can undo it (persist
 * it with the VM's runtime state: vmm_vf_saved_to_json/_from_json). */
struct vmm_vf_saved {
	char pf[VMM_VF_IFNAME_LEN];
	uint32_t index;
	char pci_addr[VMM_VF_PCI_LEN];           /* for -device vfio-pci,host=ADDR */
	char driver[VMM_VF_DRIVER_LEN];          /* bound before attach ("" none) */
	char driver_override[VMM_VF_DRIVER_LEN]; /* before attach ("" none) */
	struct vmm_vf_settings settings;         /* before attach (fields: reported) */
};

/* Attaches VF `index` of pf (index -1: the lowest-numbered free VF: one not
 * bound or overridden to vfio-pci) for a VM: saves its driver,
 * driver_override and settings into *saved, applies s (s may be NULL or have
 * no fields), writes "vfio-pci" to driver_override, unbinds the current
 * driver, writes the address to bus/pci/drivers_probe and checks the VF is now
 * bound to vfio-pci. On failure everything done is undone and *saved is
 * meaningless. -EBUSY: the VF (or every VF) is in use; -ENOENT: pf has no VFs
 * enabled; -ENXIO: vfio-pci did not take the VF (module not loaded?). */
int vmm_vf_attach(const struct vmm_vf_env *env, const char *pf, int index,
		  const struct vmm_vf_settings *s, struct vmm_vf_saved *saved, char *err,
		  size_t errlen);

/* Undoes vmm_vf_attach(): unbinds vfio-pci, restores driver_override, re-probes
 * the VF (so its previous driver takes it back) and restores the saved
 * settings. Best effort: carries on after a failed step and returns the first
 * error. A VF already released (not bound to vfio-pci) is only re-probed and
 * re-configured. */
int vmm_vf_detach(const struct vmm_vf_env *env, const struct vmm_vf_saved *saved, char *err,
		  size_t errlen);

/* Hands VF `index` back to the host without saved state (the `vf-unbind`
 * command, after `vf-bind` or a DPDK user): unbinds vfio-pci, clears a
 * vfio-pci driver_override and re-probes, so the VF's own driver (if any
 * matches) takes it. Settings are left as they are. */
int vmm_vf_release(const struct vmm_vf_env *env, const char *pf, uint32_t index, char *err,
		   size_t errlen);

struct json_object *vmm_vf_saved_to_json(const struct vmm_vf_saved *saved);
int vmm_vf_saved_from_json(struct json_object *obj, struct vmm_vf_saved *saved, char *err,
			   size_t errlen);

/* ---- CLI ---- */

struct vmm_vf_cli_opts {
	struct vmm_vf_env env;
	bool json;                    /* --json given to vmm */
	const char *prog;             /* for messages; NULL: "vmm" */
};

/* True for the commands vmm_vf_cli() implements: vf-list, vf-enable, vf-set,
 * vf-bind, vf-unbind. */
bool vmm_vf_cli_is_command(const char *name);

/* Runs one command; argv[0] is the command name ("vf-set", "eth2", "3",
 * "mac=...", ...). Each command takes --help (usage on stdout, exit 0) and
 * --json/-j (as opts->json). Output goes to stdout, errors to stderr as
 * "PROG: CMD: message". Returns the exit code: 0 success, 1 failure,
 * 2 usage error (the message names the bad argument). */
int vmm_vf_cli(int argc, char **argv, const struct vmm_vf_cli_opts *opts);

/* Prints one synopsis line per command, for vmm --help. */
void vmm_vf_cli_usage(FILE *f);

#endif /* VMM_VF_H */
