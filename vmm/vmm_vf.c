/* vmm_vf.c — SR-IOV PFs and VFs through sysfs: listing, enabling, configuring
 * and handing VFs to VMs (vfio-pci through driver_override).
 *
 * Layout read (all under the sysfs root):
 *   class/net/PF/device              -> the PF's PCI directory
 *   class/net/PF/device/sriov_totalvfs, sriov_numvfs
 *   class/net/PF/device/virtfnN      -> the VF's PCI directory (basename: address)
 *   bus/pci/devices/ADDR/driver      -> bus/pci/drivers/NAME (absent: unbound)
 *   bus/pci/devices/ADDR/driver_override ("(null)" when none)
 *   bus/pci/devices/ADDR/net/IFNAME  (a netdev driver is bound)
 *   bus/pci/devices/ADDR/physfn      -> the PF's PCI directory
 * Written: sriov_numvfs, driver_override, driver/unbind, bus/pci/drivers_probe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/if_ether.h>

#include "vmm_vf_internal.h"
#include "vsl_log.h"
#include "vsl_util.h"

VSL_LOG_MODULE(vf);

static const char vfio_driver[] = "vfio-pci";

/* ---- sysfs helpers ---- */

static const char *root_of(const struct vmm_vf_env *env)
{
	return env && env->sysfs_root && env->sysfs_root[0] ? env->sysfs_root : "/sys";
}

static int __attribute__((format(printf, 3, 4)))
pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Reads a small sysfs file, without its trailing newline/blanks. */
static int read_trim(const char *path, char *out, size_t outlen)
{
	char *buf;
	size_t len;
	int ret = vsl_read_file(path, 4096, &buf, &len);

	if (ret < 0)
		return ret;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = '\0';
	if (len >= outlen) {
		free(buf);
		return -EOVERFLOW;
	}
	memcpy(out, buf, len + 1);
	free(buf);
	return 0;
}

static int read_u32(const char *path, uint32_t *v)
{
	char buf[32];
	uint64_t n;
	int ret = read_trim(path, buf, sizeof(buf));

	if (ret < 0)
		return ret;
	if (vsl_parse_u64(buf, &n) < 0 || n > UINT32_MAX)
		return -EINVAL;
	*v = (uint32_t)n;
	return 0;
}

/* The last component of a symlink's target ("" and 0 when there is no link). */
static int link_base(const char *path, char *out, size_t outlen)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *b;

	out[0] = '\0';
	if (n < 0)
		return errno == ENOENT ? 0 : vsl_neg_errno();
	target[n] = '\0';
	b = strrchr(target, '/');
	b = b ? b + 1 : target;
	if (strlen(b) >= outlen)
		return -EOVERFLOW;
	snprintf(out, outlen, "%s", b);
	return 0;
}

static int default_write(const char *path, const char *val)
{
	size_t len = strlen(val);
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;
	int ret = 0;

	if (fd < 0)
		return vsl_neg_errno();
	n = write(fd, val, len);
	if (n < 0)
		ret = vsl_neg_errno();
	else if ((size_t)n != len)
		ret = -EIO;
	if (close(fd) < 0 && ret == 0)
		ret = vsl_neg_errno();
	return ret;
}

static int sysfs_write(const struct vmm_vf_env *env, const char *path, const char *val,
		       char *err, size_t errlen)
{
	int ret;

	if (env && env->ops && env->ops->write_file)
		ret = env->ops->write_file(env->ops_arg, path, val);
	else
		ret = default_write(path, val);
	if (ret < 0) {
		char shown[64];
		size_t l = strcspn(val, "\n");

		snprintf(shown, sizeof(shown), "%.*s", (int)VSL_MIN(l, sizeof(shown) - 1), val);
		return vsl_errf(err, errlen, ret, "writing '%s' to %s: %s", shown, path,
				strerror(-ret));
	}
	VSL_DBG("wrote '%s' to %s", val, path);
	return 0;
}

static int get_link(const struct vmm_vf_env *env, const char *pf, struct vmm_vf_link *l,
		    char *err, size_t errlen)
{
	if (env && env->ops && env->ops->get_link)
		return env->ops->get_link(env->ops_arg, pf, l, err, errlen);
	return vmm_vf_nl_get_link(NULL, pf, l, err, errlen);
}

static int set_vf(const struct vmm_vf_env *env, int ifindex, uint32_t vf,
		  const struct vmm_vf_settings *s, char *err, size_t errlen)
{
	if (env && env->ops && env->ops->set_vf)
		return env->ops->set_vf(env->ops_arg, ifindex, vf, s, err, errlen);
	return vmm_vf_nl_set_vf(NULL, ifindex, vf, s, err, errlen);
}

static bool ifname_ok(const char *s)
{
	return s && *s && strlen(s) < VMM_VF_IFNAME_LEN && !strchr(s, '/') && strcmp(s, ".") &&
	       strcmp(s, "..");
}

/* ---- PF and VF discovery ---- */

struct pf_info {
	char dev[PATH_MAX];           /* <root>/class/net/PF/device */
	uint32_t total, num;
};

static int pf_open(const struct vmm_vf_env *env, const char *pf, struct pf_info *pi, char *err,
		   size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	int ret;

	if (!ifname_ok(pf))
		return vsl_errf(err, errlen, -EINVAL, "'%s' is not a network device name",
				pf ? pf : "(null)");
	if (pathf(path, sizeof(path), "%s/class/net/%s", root_of(env), pf) < 0 ||
	    pathf(pi->dev, sizeof(pi->dev), "%s/device", path) < 0)
		return vsl_errf(err, errlen, -ENAMETOOLONG, "sysfs path too long for %s", pf);
	if (stat(path, &st) < 0)
		return vsl_errf(err, errlen, -ENODEV, "no network device %s", pf);
	if (pathf(path, sizeof(path), "%s/sriov_totalvfs", pi->dev) < 0)
		return vsl_errf(err, errlen, -ENAMETOOLONG, "sysfs path too long for %s", pf);
	ret = read_u32(path, &pi->total);
	if (ret == -ENOENT || ret == -ENOTDIR)
		return vsl_errf(err, errlen, -EOPNOTSUPP, "no SR-IOV support on %s", pf);
	if (ret < 0)
		return vsl_errf(err, errlen, ret, "reading %s: %s", path, strerror(-ret));
	if (pi->total == 0)
		return vsl_errf(err, errlen, -EOPNOTSUPP, "no SR-IOV support on %s (sriov_totalvfs is 0)",
				pf);
	if (pathf(path, sizeof(path), "%s/sriov_numvfs", pi->dev) < 0)
		return vsl_errf(err, errlen, -ENAMETOOLONG, "sysfs path too long for %s", pf);
	ret = read_u32(path, &pi->num);
	if (ret < 0)
		return vsl_errf(err, errlen, ret, "reading %s: %s", path, strerror(-ret));
	return 0;
}

static int vf_dir(const struct vmm_vf_env *env, const char *addr, char *buf, size_t len)
{
	return pathf(buf, len, "%s/bus/pci/devices/%s", root_of(env), addr);
}

/* Fills the sysfs part of vf (address, driver, override, netdev) for a VF whose
 * address is known. */
static int vf_read_dev(const struct vmm_vf_env *env, struct vmm_vf_dev *vf)
{
	char dir[PATH_MAX], path[PATH_MAX];
	DIR *d;
	int ret;

	if (vf_dir(env, vf->pci_addr, dir, sizeof(dir)) < 0 ||
	    pathf(path, sizeof(path), "%s/driver", dir) < 0)
		return -ENAMETOOLONG;
	if ((ret = link_base(path, vf->driver, sizeof(vf->driver))) < 0)
		return ret;
	if (pathf(path, sizeof(path), "%s/driver_override", dir) < 0)
		return -ENAMETOOLONG;
	if (read_trim(path, vf->driver_override, sizeof(vf->driver_override)) < 0 ||
	    !strcmp(vf->driver_override, "(null)"))
		vf->driver_override[0] = '\0';
	vf->netdev[0] = '\0';
	if (pathf(path, sizeof(path), "%s/net", dir) < 0)
		return -ENAMETOOLONG;
	d = opendir(path);
	if (d) {
		struct dirent *de;

		while ((de = readdir(d))) {
			if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(vf->netdev))
				continue;
			snprintf(vf->netdev, sizeof(vf->netdev), "%s", de->d_name);
			break;
		}
		closedir(d);
	}
	vf->in_use = !strcmp(vf->driver, vfio_driver) || !strcmp(vf->driver_override, vfio_driver);
	return 0;
}

static int vf_read(const struct vmm_vf_env *env, const struct pf_info *pi, uint32_t index,
		   struct vmm_vf_dev *vf)
{
	char path[PATH_MAX];
	int ret;

	memset(vf, 0, sizeof(*vf));
	vf->index = index;
	if (pathf(path, sizeof(path), "%s/virtfn%u", pi->dev, index) < 0)
		return -ENAMETOOLONG;
	if ((ret = link_base(path, vf->pci_addr, sizeof(vf->pci_addr))) < 0)
		return ret;
	if (!vf->pci_addr[0])
		return -ENOENT;
	return vf_read_dev(env, vf);
}

/* Takes the PF's lock: an flock on its PCI directory (reached through the PF's
 * netdev or through a VF's physfn link: the same inode). Returns the fd. */
static int pf_lock(const char *pcidir, char *err, size_t errlen)
{
	int fd = open(pcidir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return vsl_errf(err, errlen, vsl_neg_errno(), "opening %s: %s", pcidir,
				strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int ret = vsl_neg_errno();

			close(fd);
			return vsl_errf(err, errlen, ret, "locking %s: %s", pcidir, strerror(-ret));
		}
	}
	return fd;
}

static void pf_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* ---- listing ---- */

static int pf_fill(const struct vmm_vf_env *env, const char *name, struct vmm_vf_pf *p,
		   char *err, size_t errlen)
{
	struct pf_info pi;
	struct vmm_vf_link l;
	char path[PATH_MAX];
	char nlerr[sizeof(p->nl_error)];
	int ret;

	memset(p, 0, sizeof(*p));
	if ((ret = pf_open(env, name, &pi, err, errlen)) < 0)
		return ret;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->total_vfs = pi.total;
	p->num_vfs = pi.num;
	(void)link_base(pi.dev, p->pci_addr, sizeof(p->pci_addr));
	if (pathf(path, sizeof(path), "%s/driver", pi.dev) == 0)
		(void)link_base(path, p->driver, sizeof(p->driver));
	if (pi.num) {
		p->vfs = calloc(pi.num, sizeof(*p->vfs));
		if (!p->vfs)
			return vsl_errf(err, errlen, -ENOMEM, "out of memory");
	}
	for (uint32_t i = 0; i < pi.num; i++) {
		if (vf_read(env, &pi, i, &p->vfs[p->n_vfs]) == 0)
			p->n_vfs++;
	}
	ret = get_link(env, name, &l, nlerr, sizeof(nlerr));
	if (ret < 0) {
		snprintf(p->nl_error, sizeof(p->nl_error), "%s", nlerr);
		return 0;
	}
	p->ifindex = l.ifindex;
	for (size_t i = 0; i < l.n_vfs; i++) {
		for (size_t j = 0; j < p->n_vfs; j++) {
			if (p->vfs[j].index == l.vfs[i].index) {
				p->vfs[j].has_cfg = true;
				p->vfs[j].cfg = l.vfs[i].cfg;
			}
		}
	}
	vmm_vf_link_fini(&l);
	return 0;
}

void vmm_vf_list_free(struct vmm_vf_pf *pfs, size_t n_pfs)
{
	if (!pfs)
		return;
	for (size_t i = 0; i < n_pfs; i++)
		free(pfs[i].vfs);
	free(pfs);
}

int vmm_vf_list(const struct vmm_vf_env *env, const char *pf, struct vmm_vf_pf **pfs,
		size_t *n_pfs, char *err, size_t errlen)
{
	struct vmm_vf_pf *out = NULL;
	struct dirent **names = NULL;
	char path[PATH_MAX];
	size_t n = 0;
	int cnt, ret;

	if (pf) {
		out = calloc(1, sizeof(*out));
		if (!out)
			return vsl_errf(err, errlen, -ENOMEM, "out of memory");
		ret = pf_fill(env, pf, out, err, errlen);
		if (ret < 0) {
			vmm_vf_list_free(out, 1);
			return ret;
		}
		*pfs = out;
		*n_pfs = 1;
		return 0;
	}
	if (pathf(path, sizeof(path), "%s/class/net", root_of(env)) < 0)
		return vsl_errf(err, errlen, -ENAMETOOLONG, "sysfs root too long");
	cnt = scandir(path, &names, NULL, alphasort);
	if (cnt < 0)
		return vsl_errf(err, errlen, vsl_neg_errno(), "reading %s: %s", path,
				strerror(errno));
	if (cnt)
		out = calloc((size_t)cnt, sizeof(*out));
	if (cnt && !out) {
		ret = vsl_errf(err, errlen, -ENOMEM, "out of memory");
		goto done;
	}
	for (int i = 0; i < cnt; i++) {
		char ignored[160];

		if (names[i]->d_name[0] == '.')
			continue;
		/* Devices without SR-IOV are not PFs: skipped, not errors. */
		if (pf_fill(env, names[i]->d_name, &out[n], ignored, sizeof(ignored)) == 0)
			n++;
	}
	*pfs = out;
	*n_pfs = n;
	out = NULL;
	ret = 0;
done:
	for (int i = 0; i < cnt; i++)
		free(names[i]);
	free(names);
	free(out);
	return ret;
}

struct json_object *vmm_vf_list_to_json(const struct vmm_vf_pf *pfs, size_t n_pfs)
{
	struct json_object *root = json_object_new_object();
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n_pfs; i++) {
		const struct vmm_vf_pf *p = &pfs[i];
		struct json_object *o = json_object_new_object();
		struct json_object *vfs = json_object_new_array();

		json_object_object_add(o, "name", json_object_new_string(p->name));
		json_object_object_add(o, "pci", json_object_new_string(p->pci_addr));
		json_object_object_add(o, "driver", json_object_new_string(p->driver));
		json_object_object_add(o, "ifindex", json_object_new_int(p->ifindex));
		json_object_object_add(o, "total_vfs", json_object_new_int64(p->total_vfs));
		json_object_object_add(o, "num_vfs", json_object_new_int64(p->num_vfs));
		if (p->nl_error[0])
			json_object_object_add(o, "rtnetlink_error",
					       json_object_new_string(p->nl_error));
		for (size_t j = 0; j < p->n_vfs; j++) {
			const struct vmm_vf_dev *vf = &p->vfs[j];
			struct json_object *v = json_object_new_object();

			json_object_object_add(v, "index", json_object_new_int64(vf->index));
			json_object_object_add(v, "pci", json_object_new_string(vf->pci_addr));
			json_object_object_add(v, "driver", vf->driver[0] ?
					       json_object_new_string(vf->driver) : NULL);
			json_object_object_add(v, "driver_override", vf->driver_override[0] ?
					       json_object_new_string(vf->driver_override) : NULL);
			json_object_object_add(v, "netdev", vf->netdev[0] ?
					       json_object_new_string(vf->netdev) : NULL);
			json_object_object_add(v, "in_use", json_object_new_boolean(vf->in_use));
			if (vf->has_cfg)
				vmm_vf_settings_to_json(&vf->cfg, v);
			json_object_array_add(vfs, v);
		}
		json_object_object_add(o, "vfs", vfs);
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "pfs", arr);
	return root;
}

/* ---- enable ---- */

int vmm_vf_enable(const struct vmm_vf_env *env, const char *pf, uint32_t count, char *err,
		  size_t errlen)
{
	struct pf_info pi;
	char path[PATH_MAX], val[16];
	uint32_t now;
	int ret, lock;

	if ((ret = pf_open(env, pf, &pi, err, errlen)) < 0)
		return ret;
	if (count > pi.total)
		return vsl_errf(err, errlen, -ERANGE, "%s supports at most %u VFs, %u requested", pf,
				pi.total, count);
	if (count == pi.num)
		return 0;
	if ((lock = pf_lock(pi.dev, err, errlen)) < 0)
		return lock;
	/* The kernel only goes 0 -> N -> 0, so a change removes every current
	 * VF: refuse while one of them is with a VM (or DPDK). */
	for (uint32_t i = 0; i < pi.num; i++) {
		struct vmm_vf_dev vf;

		if (vf_read(env, &pi, i, &vf) == 0 && vf.in_use) {
			ret = vsl_errf(err, errlen, -EBUSY,
				       "VF %u of %s (%s) is bound to vfio-pci (a VM or DPDK uses it); "
				       "detach it first", i, pf, vf.pci_addr);
			goto out;
		}
	}
	if (pathf(path, sizeof(path), "%s/sriov_numvfs", pi.dev) < 0) {
		ret = vsl_errf(err, errlen, -ENAMETOOLONG, "sysfs path too long");
		goto out;
	}
	if (pi.num && (ret = sysfs_write(env, path, "0", err, errlen)) < 0)
		goto out;
	if (count) {
		snprintf(val, sizeof(val), "%u", count);
		if ((ret = sysfs_write(env, path, val, err, errlen)) < 0)
			goto out;
	}
	ret = read_u32(path, &now);
	if (ret < 0 || now != count) {
		ret = vsl_errf(err, errlen, -EIO, "%s reads %u after writing %u", path,
			       ret < 0 ? 0 : now, count);
		goto out;
	}
	VSL_DBG("%s: %u VFs enabled (was %u)", pf, count, pi.num);
	ret = 0;
out:
	pf_unlock(lock);
	return ret;
}

/* ---- configure ---- */

/* Fills the rate the request leaves out from the VF's current one: the kernel
 * sets min and max together. */
static void merge_rates(struct vmm_vf_settings *s, const struct vmm_vf_settings *cur)
{
	bool has_max = s->fields & VMM_VF_MAX_RATE, has_min = s->fields & VMM_VF_MIN_RATE;

	if (has_max == has_min)
		return;
	if (!has_max)
		s->max_rate = cur && (cur->fields & VMM_VF_MAX_RATE) ? cur->max_rate : 0;
	if (!has_min)
		s->min_rate = cur && (cur->fields & VMM_VF_MIN_RATE) ? cur->min_rate : 0;
	s->fields |= VMM_VF_MAX_RATE | VMM_VF_MIN_RATE;
}

static const struct vmm_vf_settings *link_vf_cfg(const struct vmm_vf_link *l, uint32_t index)
{
	for (size_t i = 0; i < l->n_vfs; i++) {
		if (l->vfs[i].index == index)
			return &l->vfs[i].cfg;
	}
	return NULL;
}

/* Applies s to VF index of pf; cur_out (may be NULL) gets the VF's settings
 * before the change. */
static int apply(const struct vmm_vf_env *env, const char *pf, uint32_t index,
		 const struct vmm_vf_settings *s, struct vmm_vf_settings *cur_out, char *err,
		 size_t errlen)
{
	struct vmm_vf_settings req = s ? *s : (struct vmm_vf_settings){ 0 };
	const struct vmm_vf_settings *cur;
	struct vmm_vf_link l;
	char e[192];
	int ret;

	if ((ret = get_link(env, pf, &l, e, sizeof(e))) < 0)
		return vsl_errf(err, errlen, ret, "%s", e);
	if (l.has_num_vf && index >= l.num_vf) {
		ret = vsl_errf(err, errlen, -ENOENT, "%s reports %u VFs over rtnetlink, no VF %u", pf,
			       l.num_vf, index);
		goto out;
	}
	cur = link_vf_cfg(&l, index);
	if (cur_out)
		*cur_out = cur ? *cur : (struct vmm_vf_settings){ 0 };
	merge_rates(&req, cur);
	if (req.fields && (ret = set_vf(env, l.ifindex, index, &req, e, sizeof(e))) < 0) {
		ret = vsl_errf(err, errlen, ret, "setting VF %u of %s: %s", index, pf, e);
		goto out;
	}
	ret = 0;
out:
	vmm_vf_link_fini(&l);
	return ret;
}

int vmm_vf_set(const struct vmm_vf_env *env, const char *pf, uint32_t index,
	       const struct vmm_vf_settings *s, char *err, size_t errlen)
{
	struct pf_info pi;
	int ret;

	if ((ret = pf_open(env, pf, &pi, err, errlen)) < 0)
		return ret;
	if (index >= pi.num)
		return vsl_errf(err, errlen, -ENOENT, "%s has %u VFs enabled, no VF %u", pf, pi.num,
				index);
	if (!s->fields)
		return vsl_errf(err, errlen, -EINVAL, "no setting given");
	if ((ret = vmm_vf_settings_check(s, err, errlen)) < 0)
		return ret;
	return apply(env, pf, index, s, NULL, err, errlen);
}

/* ---- attach / detach ---- */

static int bind_probe(const struct vmm_vf_env *env, const char *addr, char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (pathf(path, sizeof(path), "%s/bus/pci/drivers_probe", root_of(env)) < 0)
		return vsl_errf(err, errlen, -ENAMETOOLONG, "sysfs root too long");
	return sysfs_write(env, path, addr, err, errlen);
}

static int unbind(const struct vmm_vf_env *env, const char *addr, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX];

	if (vf_dir(env, addr, dir, sizeof(dir)) < 0 ||
	    pathf(path, sizeof(path), "%s/driver/unbind", dir) < 0)
		return vsl_errf(err, errlen, -ENAMETOOLONG, "sysfs path too long");
	return sysfs_write(env, path, addr, err, errlen);
}

static int set_override(const struct vmm_vf_env *env, const char *addr, const char *drv,
			char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX];

	if (vf_dir(env, addr, dir, sizeof(dir)) < 0 ||
	    pathf(path, sizeof(path), "%s/driver_override", dir) < 0)
		return vsl_errf(err, errlen, -ENAMETOOLONG, "sysfs path too long");
	/* "\n" clears an override (an empty write would not reach the kernel). */
	return sysfs_write(env, path, drv[0] ? drv : "\n", err, errlen);
}

static int current_driver(const struct vmm_vf_env *env, const char *addr, char *drv,
			  size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX];

	if (vf_dir(env, addr, dir, sizeof(dir)) < 0 ||
	    pathf(path, sizeof(path), "%s/driver", dir) < 0)
		return -ENAMETOOLONG;
	return link_base(path, drv, len);
}

/* Puts the VF back with its previous driver and override (the undo of the
 * bind). Returns the first error. */
static int unbind_restore(const struct vmm_vf_env *env, const struct vmm_vf_saved *sv,
			  char *err, size_t errlen)
{
	char drv[VMM_VF_DRIVER_LEN], e[256];
	int ret, first = 0;

	ret = current_driver(env, sv->pci_addr, drv, sizeof(drv));
	if (ret == 0 && drv[0] && strcmp(drv, sv->driver) &&
	    (ret = unbind(env, sv->pci_addr, e, sizeof(e))) < 0 && !first)
		first = vsl_errf(err, errlen, ret, "%s", e);
	ret = set_override(env, sv->pci_addr, sv->driver_override, e, sizeof(e));
	if (ret < 0 && !first)
		first = vsl_errf(err, errlen, ret, "%s", e);
	if (!sv->driver[0])
		return first;
	ret = current_driver(env, sv->pci_addr, drv, sizeof(drv));
	if (ret == 0 && !strcmp(drv, sv->driver))
		return first;
	ret = bind_probe(env, sv->pci_addr, e, sizeof(e));
	if (ret < 0 && !first)
		first = vsl_errf(err, errlen, ret, "%s", e);
	if (ret == 0 && current_driver(env, sv->pci_addr, drv, sizeof(drv)) == 0 &&
	    strcmp(drv, sv->driver) && !first)
		first = vsl_errf(err, errlen, -EIO, "VF %s came back with driver '%s', not '%s'",
				 sv->pci_addr, drv[0] ? drv : "(none)", sv->driver);
	return first;
}

/* The saved settings that can be sent back (the kernel reports more than a
 * request can carry). */
static struct vmm_vf_settings restorable(const struct vmm_vf_settings *saved)
{
	struct vmm_vf_settings s = *saved;

	if ((s.fields & VMM_VF_VLAN) && s.vlan_proto && s.vlan_proto != ETH_P_8021Q) {
		VSL_WARN("VF had an 802.1ad VLAN %u; restoring is not supported", s.vlan);
		s.fields &= ~(uint32_t)VMM_VF_VLAN;
	}
	s.vlan_proto = ETH_P_8021Q;
	return s;
}

static int vfio_bind(const struct vmm_vf_env *env, const char *addr, const char *pf,
		     uint32_t index, bool had_driver, char *err, size_t errlen)
{
	char drv[VMM_VF_DRIVER_LEN], dir[PATH_MAX], path[PATH_MAX];
	struct stat st;
	int ret;

	if ((ret = set_override(env, addr, vfio_driver, err, errlen)) < 0)
		return ret;
	if (had_driver && (ret = unbind(env, addr, err, errlen)) < 0)
		return ret;
	if ((ret = bind_probe(env, addr, err, errlen)) < 0)
		return ret;
	if ((ret = current_driver(env, addr, drv, sizeof(drv))) < 0)
		return vsl_errf(err, errlen, ret, "reading the driver of %s: %s", addr,
				strerror(-ret));
	if (!strcmp(drv, vfio_driver))
		return 0;
	/* Say why, when it can be told: no vfio-pci driver, or no IOMMU group. */
	if (pathf(path, sizeof(path), "%s/bus/pci/drivers/%s", root_of(env), vfio_driver) == 0 &&
	    stat(path, &st) < 0)
		return vsl_errf(err, errlen, -ENXIO,
				"VF %u of %s (%s) did not bind to vfio-pci: the vfio-pci driver is "
				"not loaded (modprobe vfio-pci)", index, pf, addr);
	if (vf_dir(env, addr, dir, sizeof(dir)) == 0 &&
	    pathf(path, sizeof(path), "%s/iommu_group", dir) == 0 && lstat(path, &st) < 0)
		return vsl_errf(err, errlen, -ENXIO,
				"VF %u of %s (%s) did not bind to vfio-pci: it has no IOMMU group "
				"(enable the IOMMU, e.g. intel_iommu=on)", index, pf, addr);
	return vsl_errf(err, errlen, -ENXIO, "VF %u of %s (%s) did not bind to vfio-pci (driver: %s)",
			index, pf, addr, drv[0] ? drv : "none");
}

int vmm_vf_attach(const struct vmm_vf_env *env, const char *pf, int index,
		  const struct vmm_vf_settings *s, struct vmm_vf_saved *saved, char *err,
		  size_t errlen)
{
	struct vmm_vf_saved sv = { 0 };
	struct pf_info pi;
	struct vmm_vf_dev vf;
	char e[256];
	int ret, lock;
	bool applied = false;

	if ((ret = pf_open(env, pf, &pi, err, errlen)) < 0)
		return ret;
	if (s && (ret = vmm_vf_settings_check(s, err, errlen)) < 0)
		return ret;
	if (pi.num == 0)
		return vsl_errf(err, errlen, -ENOENT,
				"%s has no VFs enabled (vmm vf-enable %s COUNT)", pf, pf);
	if (index >= 0 && (uint32_t)index >= pi.num)
		return vsl_errf(err, errlen, -ENOENT, "%s has %u VFs enabled, no VF %d", pf, pi.num,
				index);
	if ((lock = pf_lock(pi.dev, err, errlen)) < 0)
		return lock;
	if (index >= 0) {
		ret = vf_read(env, &pi, (uint32_t)index, &vf);
		if (ret < 0) {
			ret = vsl_errf(err, errlen, ret, "VF %d of %s: no virtfn%d link", index, pf,
				       index);
			goto out;
		}
		if (vf.in_use) {
			ret = vsl_errf(err, errlen, -EBUSY, "VF %d of %s (%s) is in use (%s vfio-pci)",
				       index, pf, vf.pci_addr,
				       strcmp(vf.driver, vfio_driver) ? "overridden to" : "bound to");
			goto out;
		}
	} else {
		uint32_t i;

		for (i = 0; i < pi.num; i++) {
			if (vf_read(env, &pi, i, &vf) == 0 && !vf.in_use)
				break;
		}
		if (i == pi.num) {
			ret = vsl_errf(err, errlen, -EBUSY, "all %u VFs of %s are in use", pi.num, pf);
			goto out;
		}
	}
	snprintf(sv.pf, sizeof(sv.pf), "%s", pf);
	sv.index = vf.index;
	snprintf(sv.pci_addr, sizeof(sv.pci_addr), "%s", vf.pci_addr);
	snprintf(sv.driver, sizeof(sv.driver), "%s", vf.driver);
	snprintf(sv.driver_override, sizeof(sv.driver_override), "%s", vf.driver_override);

	/* Settings go first, through the PF, while the VF's own driver (if any)
	 * still holds it; vfio-pci then resets the VF into them. Reading the
	 * current ones is required: without them detach could not restore. */
	ret = apply(env, pf, vf.index, s, &sv.settings, err, errlen);
	if (ret < 0)
		goto out;
	applied = s && s->fields;
	ret = vfio_bind(env, vf.pci_addr, pf, vf.index, vf.driver[0] != '\0', err, errlen);
	if (ret < 0)
		goto undo;
	VSL_INFO("VF %u of %s (%s) bound to vfio-pci (was %s)", vf.index, pf, vf.pci_addr,
		 vf.driver[0] ? vf.driver : "unbound");
	*saved = sv;
	ret = 0;
	goto out;
undo:
	if (unbind_restore(env, &sv, e, sizeof(e)) < 0)
		VSL_WARN("undoing the attach of %s: %s", sv.pci_addr, e);
	if (applied) {
		struct vmm_vf_settings r = restorable(&sv.settings);

		if (apply(env, pf, sv.index, &r, NULL, e, sizeof(e)) < 0)
			VSL_WARN("restoring the settings of VF %u of %s: %s", sv.index, pf, e);
	}
out:
	pf_unlock(lock);
	return ret;
}

int vmm_vf_detach(const struct vmm_vf_env *env, const struct vmm_vf_saved *sv, char *err,
		  size_t errlen)
{
	char dir[PATH_MAX], physfn[PATH_MAX], e[256];
	struct vmm_vf_settings r;
	int ret, first = 0, lock;

	if (!ifname_ok(sv->pf) || !sv->pci_addr[0] || strchr(sv->pci_addr, '/'))
		return vsl_errf(err, errlen, -EINVAL, "saved VF has no valid pf/pci address");
	if (vf_dir(env, sv->pci_addr, dir, sizeof(dir)) < 0 ||
	    pathf(physfn, sizeof(physfn), "%s/physfn", dir) < 0)
		return vsl_errf(err, errlen, -ENAMETOOLONG, "sysfs path too long");
	if (access(dir, F_OK) < 0)
		return vsl_errf(err, errlen, -ENODEV,
				"VF %u of %s (%s) no longer exists (SR-IOV disabled?)", sv->index,
				sv->pf, sv->pci_addr);
	/* The same lock as attach, so a VF being released is never picked. */
	if ((lock = pf_lock(physfn, err, errlen)) < 0)
		return lock;
	ret = unbind_restore(env, sv, e, sizeof(e));
	if (ret < 0)
		first = vsl_errf(err, errlen, ret, "%s", e);
	r = restorable(&sv->settings);
	if (r.fields) {
		ret = apply(env, sv->pf, sv->index, &r, NULL, e, sizeof(e));
		if (ret < 0 && !first)
			first = vsl_errf(err, errlen, ret, "restoring the settings: %s", e);
	}
	pf_unlock(lock);
	if (!first)
		VSL_INFO("VF %u of %s (%s) released to %s", sv->index, sv->pf, sv->pci_addr,
			 sv->driver[0] ? sv->driver : "no driver");
	return first;
}

int vmm_vf_release(const struct vmm_vf_env *env, const char *pf, uint32_t index, char *err,
		   size_t errlen)
{
	struct pf_info pi;
	struct vmm_vf_dev vf;
	char drv[VMM_VF_DRIVER_LEN];
	int ret, lock;

	if ((ret = pf_open(env, pf, &pi, err, errlen)) < 0)
		return ret;
	if (index >= pi.num)
		return vsl_errf(err, errlen, -ENOENT, "%s has %u VFs enabled, no VF %u", pf, pi.num,
				index);
	if ((lock = pf_lock(pi.dev, err, errlen)) < 0)
		return lock;
	if ((ret = vf_read(env, &pi, index, &vf)) < 0) {
		ret = vsl_errf(err, errlen, ret, "VF %u of %s: no virtfn%u link", index, pf, index);
		goto out;
	}
	if (!vf.in_use) {
		ret = 0;                /* not ours: nothing to release */
		goto out;
	}
	if (!strcmp(vf.driver, vfio_driver) && (ret = unbind(env, vf.pci_addr, err, errlen)) < 0)
		goto out;
	if (!strcmp(vf.driver_override, vfio_driver) &&
	    (ret = set_override(env, vf.pci_addr, "", err, errlen)) < 0)
		goto out;
	if ((ret = bind_probe(env, vf.pci_addr, err, errlen)) < 0)
		goto out;
	if (current_driver(env, vf.pci_addr, drv, sizeof(drv)) == 0)
		VSL_INFO("VF %u of %s (%s) released to %s", index, pf, vf.pci_addr,
			 drv[0] ? drv : "no driver");
	ret = 0;
out:
	pf_unlock(lock);
	return ret;
}
