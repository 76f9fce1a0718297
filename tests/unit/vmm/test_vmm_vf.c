/* test_vmm_vf.c — SR-IOV on a fake sysfs tree with a fake kernel behind it:
 * listing, sriov_numvfs, vf-set, attach/detach to vfio-pci with the exact
 * sysfs writes, the CLI, the JSON forms; and the real kernel's answer for a
 * device without SR-IOV (a veth).
 *
 * The fake kernel (struct fake) reacts to sysfs writes as the PCI core does
 * (unbind removes the driver link, drivers_probe binds the override or the
 * native driver, sriov_numvfs creates/removes VFs and refuses N -> M) and
 * answers rtnetlink through the real message code: get_link encodes a
 * kernel-style reply that vmm_vf_nl_parse_link() decodes; set_vf builds the
 * request with vmm_vf_nl_build_set() and applies what the message carries. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vf_test_util.h"
#include "vmm_vf_internal.h"
#include "vsl_util.h"

#define PF_ADDR "0000:03:00.0"

struct fake {
	char root[64];
	char pf[16];
	int ifindex;
	uint32_t numvfs;
	struct fake_vf_cfg vf[8];
	char log[64][2][128];         /* (path under root, value) of every write */
	int nlog;
	const char *fail_write;       /* writes to a path containing this fail */
	int fail_err;
	int set_err;                  /* set_vf fails with this */
	int sets;
};

static struct fake F;

static void vf_addr(uint32_t i, char buf[16])
{
	snprintf(buf, 16, "0000:03:10.%u", i & 7);
}

static void pathr(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	size_t n = (size_t)snprintf(buf, len, "%s/", F.root);

	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

static void mkdirs(const char *rel)
{
	char p[PATH_MAX];

	pathr(p, sizeof(p), "%s", rel);
	for (char *s = p + strlen(F.root) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
}

static void put(const char *rel, const char *content)
{
	char p[PATH_MAX];
	FILE *f;

	pathr(p, sizeof(p), "%s", rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void lnk(const char *target, const char *rel)
{
	char p[PATH_MAX];

	pathr(p, sizeof(p), "%s", rel);
	unlink(p);
	assert_int_equal(symlink(target, p), 0);
}

static bool exists(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	pathr(p, sizeof(p), "%s", rel);
	return lstat(p, &st) == 0;
}

static void get(const char *rel, char *out, size_t len)
{
	char p[PATH_MAX];
	FILE *f;
	size_t n;

	pathr(p, sizeof(p), "%s", rel);
	f = fopen(p, "r");
	assert_non_null(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
}

/* The driver bound to a VF ("" none). */
static const char *vf_driver(uint32_t i)
{
	static char out[64];
	char p[PATH_MAX], t[PATH_MAX], a[16];
	ssize_t n;

	vf_addr(i, a);
	pathr(p, sizeof(p), "bus/pci/devices/%s/driver", a);
	n = readlink(p, t, sizeof(t) - 1);
	if (n < 0)
		return "";
	t[n] = '\0';
	snprintf(out, sizeof(out), "%s", strrchr(t, '/') + 1);
	return out;
}

static void fake_set_numvfs(uint32_t n)
{
	char rel[128], tgt[128], a[16], v[16];
	static const struct fake_vf_cfg fresh = { .spoofchk = 1, .trust = 0, .link_state = 0 };

	for (uint32_t i = 0; i < F.numvfs; i++) {
		char cmd[PATH_MAX + 16];

		vf_addr(i, a);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s/devices/pci0000:00/%s'", F.root, a);
		assert_int_equal(system(cmd), 0);
		snprintf(rel, sizeof(rel), "%s/bus/pci/devices/%s", F.root, a);
		unlink(rel);
		snprintf(rel, sizeof(rel), "%s/devices/pci0000:00/%s/virtfn%u", F.root, PF_ADDR, i);
		unlink(rel);
	}
	for (uint32_t i = 0; i < n; i++) {
		vf_addr(i, a);
		snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/net/fvf%u", a, i);
		mkdirs(rel);
		snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/driver_override", a);
		put(rel, "(null)\n");
		snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/driver", a);
		lnk("../../../bus/pci/drivers/ixgbevf", rel);
		snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/physfn", a);
		lnk("../" PF_ADDR, rel);
		snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/iommu_group", a);
		snprintf(tgt, sizeof(tgt), "../../../kernel/iommu_groups/%u", 20 + i);
		lnk(tgt, rel);
		snprintf(rel, sizeof(rel), "bus/pci/devices/%s", a);
		snprintf(tgt, sizeof(tgt), "../../../devices/pci0000:00/%s", a);
		lnk(tgt, rel);
		snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/virtfn%u", PF_ADDR, i);
		snprintf(tgt, sizeof(tgt), "../%s", a);
		lnk(tgt, rel);
		F.vf[i] = fresh;
		F.vf[i].index = i;
	}
	F.numvfs = n;
	snprintf(v, sizeof(v), "%u\n", n);
	put("devices/pci0000:00/" PF_ADDR "/sriov_numvfs", v);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* The PCI core, as far as Vessel writes to it. */
static int fake_write(void *arg, const char *path, const char *val)
{
	size_t rl = strlen(F.root);
	const char *rel;
	char p[PATH_MAX], buf[128];
	int fd;

	(void)arg;
	assert_true(strncmp(path, F.root, rl) == 0 && path[rl] == '/');
	rel = path + rl + 1;
	assert_true(F.nlog < 64);
	snprintf(F.log[F.nlog][0], sizeof(F.log[0][0]), "%s", rel);
	snprintf(F.log[F.nlog][1], sizeof(F.log[0][1]), "%s", val);
	F.nlog++;
	if (F.fail_write && strstr(rel, F.fail_write))
		return F.fail_err;
	if (ends_with(rel, "/sriov_numvfs")) {
		uint32_t n = (uint32_t)atoi(val);

		if (F.numvfs && n)
			return -EBUSY;      /* the kernel: "N VFs already enabled" */
		fake_set_numvfs(n);
		return 0;
	}
	if (ends_with(rel, "/driver_override")) {
		fd = open(path, O_WRONLY | O_TRUNC);
		if (fd < 0)
			return -errno;
		snprintf(buf, sizeof(buf), "%s\n", strcmp(val, "\n") ? val : "(null)");
		assert_true(write(fd, buf, strlen(buf)) > 0);
		close(fd);
		return 0;
	}
	if (ends_with(rel, "/unbind")) {
		char drv[64];

		snprintf(p, sizeof(p), "%s/bus/pci/devices/%s/driver", F.root, val);
		snprintf(drv, sizeof(drv), "%s", vf_driver((uint32_t)(val[strlen(val) - 1] - '0')));
		/* Written to bus/pci/devices/ADDR/driver/unbind: the bound driver's. */
		if (!drv[0])
			return -ENODEV;
		return unlink(p) == 0 ? 0 : -errno;
	}
	if (!strcmp(rel, "bus/pci/drivers_probe")) {
		char ovr[PATH_MAX], drv[128], d[PATH_MAX], tgt[PATH_MAX];
		uint32_t i = (uint32_t)(val[strlen(val) - 1] - '0');

		if (vf_driver(i)[0])
			return 0;
		snprintf(ovr, sizeof(ovr), "devices/pci0000:00/%s/driver_override", val);
		get(ovr, buf, sizeof(buf));
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(drv, sizeof(drv), "%s", strcmp(buf, "(null)") ? buf : "ixgbevf");
		snprintf(d, sizeof(d), "bus/pci/drivers/%s", drv);
		if (!exists(d))
			return 0;           /* no driver matched: still success */
		snprintf(tgt, sizeof(tgt), "../../../bus/pci/drivers/%s", drv);
		snprintf(d, sizeof(d), "devices/pci0000:00/%s/driver", val);
		lnk(tgt, d);
		return 0;
	}
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	assert_true(write(fd, val, strlen(val)) >= 0);
	close(fd);
	return 0;
}

static int fake_get_link(void *arg, const char *pf, struct vmm_vf_link *out, char *err,
			 size_t errlen)
{
	struct nl_msg *m;
	int ret;

	(void)arg;
	if (strcmp(pf, F.pf))
		return vsl_errf(err, errlen, -ENODEV, "no network device %s", pf);
	m = fake_link_reply(F.ifindex, F.pf, F.numvfs, F.vf, F.numvfs);
	ret = vmm_vf_nl_parse_link(nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len, out, err, errlen);
	nlmsg_free(m);
	return ret;
}

static int fake_set_vf(void *arg, int ifindex, uint32_t vf, const struct vmm_vf_settings *s,
		       char *err, size_t errlen)
{
	struct vmm_vf_link l;
	struct nl_msg *m;
	struct fake_vf_cfg *c;
	const struct vmm_vf_settings *g;
	char e[128];

	(void)arg;
	F.sets++;
	if (F.set_err)
		return vsl_errf(err, errlen, F.set_err, "rtnetlink: %s", strerror(-F.set_err));
	assert_int_equal(ifindex, F.ifindex);
	assert_true(vf < F.numvfs);
	/* What reaches the kernel is the message: decode it, apply it. */
	assert_int_equal(vmm_vf_nl_build_set(ifindex, vf, s, &m), 0);
	if (vmm_vf_nl_parse_link(nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len, &l, e, sizeof(e)) < 0)
		fail_msg("set message does not parse: %s", e);
	nlmsg_free(m);
	assert_int_equal(l.n_vfs, 1);
	assert_int_equal(l.vfs[0].index, vf);
	g = &l.vfs[0].cfg;
	assert_int_equal(g->fields & ~(uint32_t)VMM_VF_MIN_RATE,
			 s->fields & ~(uint32_t)VMM_VF_MIN_RATE);
	c = &F.vf[vf];
	if (g->fields & VMM_VF_MAC)
		memcpy(c->mac, g->mac, 6);
	if (g->fields & VMM_VF_VLAN) {
		c->vlan = g->vlan;
		c->qos = g->qos;
	}
	if (g->fields & VMM_VF_SPOOFCHK)
		c->spoofchk = g->spoofchk;
	if (g->fields & VMM_VF_TRUST)
		c->trust = g->trust;
	if (g->fields & VMM_VF_MAX_RATE) {
		c->max_rate = g->max_rate;
		c->min_rate = g->min_rate;
	}
	if (g->fields & VMM_VF_LINK_STATE)
		c->link_state = g->link_state;
	vmm_vf_link_fini(&l);
	return 0;
}

static const struct vmm_vf_ops fake_ops = {
	.get_link = fake_get_link,
	.set_vf = fake_set_vf,
	.write_file = fake_write,
};

static struct vmm_vf_env env(void)
{
	return (struct vmm_vf_env){ .sysfs_root = F.root, .ops = &fake_ops };
}

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	snprintf(F.root, sizeof(F.root), "/tmp/vmm_vf_XXXXXX");
	assert_non_null(mkdtemp(F.root));
	snprintf(F.pf, sizeof(F.pf), "fpf0");
	F.ifindex = 31;
	mkdirs("devices/pci0000:00/" PF_ADDR "/net/fpf0");
	put("devices/pci0000:00/" PF_ADDR "/sriov_totalvfs", "8\n");
	put("devices/pci0000:00/" PF_ADDR "/sriov_numvfs", "0\n");
	mkdirs("class/net");
	lnk("../../../" PF_ADDR, "devices/pci0000:00/" PF_ADDR "/net/fpf0/device");
	lnk("../../devices/pci0000:00/" PF_ADDR "/net/fpf0", "class/net/fpf0");
	/* A PCI NIC without SR-IOV, and a virtual device. */
	mkdirs("devices/pci0000:00/0000:04:00.0/net/fnosr");
	lnk("../../../0000:04:00.0", "devices/pci0000:00/0000:04:00.0/net/fnosr/device");
	lnk("../../devices/pci0000:00/0000:04:00.0/net/fnosr", "class/net/fnosr");
	mkdirs("class/net/fveth");
	mkdirs("bus/pci/devices");
	for (int i = 0; i < 3; i++) {
		static const char *const drv[] = { "ixgbe", "ixgbevf", "vfio-pci" };
		char rel[96];

		snprintf(rel, sizeof(rel), "bus/pci/drivers/%s", drv[i]);
		mkdirs(rel);
		snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/bind", drv[i]);
		put(rel, "");
		snprintf(rel, sizeof(rel), "bus/pci/drivers/%s/unbind", drv[i]);
		put(rel, "");
	}
	put("bus/pci/drivers_probe", "");
	lnk("../../../bus/pci/drivers/ixgbe", "devices/pci0000:00/" PF_ADDR "/driver");
	lnk("../../devices/pci0000:00/" PF_ADDR, "bus/pci/devices/" PF_ADDR);
	fake_set_numvfs(4);
	return 0;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(p);
}

static int teardown(void **state)
{
	(void)state;
	nftw(F.root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void expect_log(int from, const char *const *want, int n)
{
	if (F.nlog - from != n) {
		for (int i = from; i < F.nlog; i++)
			print_message("# wrote %s <- '%s'\n", F.log[i][0], F.log[i][1]);
		fail_msg("%d writes, expected %d", F.nlog - from, n);
	}
	for (int i = 0; i < n; i++) {
		char exp[256];

		snprintf(exp, sizeof(exp), "%s <- %s", F.log[from + i][0], F.log[from + i][1]);
		assert_string_equal(exp, want[i]);
	}
}

/* ---- listing ---- */

static void test_list(void **state)
{
	struct vmm_vf_env e = env();
	struct vmm_vf_pf *pfs;
	struct json_object *j, *pf, *vfs, *v, *x;
	size_t n;
	char err[256];

	(void)state;
	F.vf[2].vlan = 300;
	F.vf[2].qos = 2;
	F.vf[2].trust = 1;
	F.vf[2].max_rate = 400;
	memcpy(F.vf[2].mac, (uint8_t[]){ 2, 0xaa, 0, 0, 0, 2 }, 6);
	assert_int_equal(vmm_vf_list(&e, NULL, &pfs, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);                         /* fnosr and fveth are not PFs */
	assert_string_equal(pfs[0].name, "fpf0");
	assert_string_equal(pfs[0].pci_addr, PF_ADDR);
	assert_string_equal(pfs[0].driver, "ixgbe");
	assert_int_equal(pfs[0].total_vfs, 8);
	assert_int_equal(pfs[0].num_vfs, 4);
	assert_int_equal(pfs[0].ifindex, 31);
	assert_string_equal(pfs[0].nl_error, "");
	assert_int_equal(pfs[0].n_vfs, 4);
	assert_string_equal(pfs[0].vfs[3].pci_addr, "0000:03:10.3");
	assert_string_equal(pfs[0].vfs[3].driver, "ixgbevf");
	assert_string_equal(pfs[0].vfs[3].netdev, "fvf3");
	assert_false(pfs[0].vfs[3].in_use);
	assert_true(pfs[0].vfs[2].has_cfg);
	assert_int_equal(pfs[0].vfs[2].cfg.vlan, 300);

	j = vmm_vf_list_to_json(pfs, n);
	pf = json_object_array_get_idx(json_object_object_get(j, "pfs"), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(pf, "name")), "fpf0");
	assert_int_equal(json_object_get_int(json_object_object_get(pf, "num_vfs")), 4);
	assert_false(json_object_object_get_ex(pf, "rtnetlink_error", NULL));
	vfs = json_object_object_get(pf, "vfs");
	assert_int_equal(json_object_array_length(vfs), 4);
	v = json_object_array_get_idx(vfs, 2);
	assert_string_equal(json_object_get_string(json_object_object_get(v, "pci")), "0000:03:10.2");
	assert_string_equal(json_object_get_string(json_object_object_get(v, "mac")),
			    "02:aa:00:00:00:02");
	assert_int_equal(json_object_get_int(json_object_object_get(v, "vlan")), 300);
	assert_int_equal(json_object_get_int(json_object_object_get(v, "qos")), 2);
	assert_true(json_object_get_boolean(json_object_object_get(v, "trust")));
	assert_true(json_object_get_boolean(json_object_object_get(v, "spoofchk")));
	assert_int_equal(json_object_get_int(json_object_object_get(v, "max_rate")), 400);
	assert_string_equal(json_object_get_string(json_object_object_get(v, "link_state")), "auto");
	assert_true(json_object_object_get_ex(v, "driver_override", &x));
	assert_null(x);
	json_object_put(j);
	vmm_vf_list_free(pfs, n);

	/* A PF rtnetlink does not know is still listed from sysfs. */
	snprintf(F.pf, sizeof(F.pf), "other");
	assert_int_equal(vmm_vf_list(&e, "fpf0", &pfs, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pfs[0].n_vfs, 4);
	assert_false(pfs[0].vfs[0].has_cfg);
	assert_string_equal(pfs[0].nl_error, "no network device fpf0");
	vmm_vf_list_free(pfs, n);

	assert_int_equal(vmm_vf_list(&e, "fveth", &pfs, &n, err, sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(err, "no SR-IOV support on fveth");
	assert_int_equal(vmm_vf_list(&e, "fnosr", &pfs, &n, err, sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(err, "no SR-IOV support on fnosr");
	assert_int_equal(vmm_vf_list(&e, "nosuch", &pfs, &n, err, sizeof(err)), -ENODEV);
	assert_string_equal(err, "no network device nosuch");
	assert_int_equal(vmm_vf_list(&e, "../x", &pfs, &n, err, sizeof(err)), -EINVAL);
	assert_int_equal(F.nlog, 0);
}

/* ---- vf-enable ---- */

static void test_enable(void **state)
{
	struct vmm_vf_env e = env();
	char err[256];
	static const char *const via0[] = {
		"class/net/fpf0/device/sriov_numvfs <- 0",
		"class/net/fpf0/device/sriov_numvfs <- 6",
	};
	static const char *const off[] = { "class/net/fpf0/device/sriov_numvfs <- 0" };
	static const char *const on[] = { "class/net/fpf0/device/sriov_numvfs <- 2" };

	(void)state;
	assert_int_equal(vmm_vf_enable(&e, "fpf0", 6, err, sizeof(err)), 0);
	expect_log(0, via0, 2);
	assert_int_equal(F.numvfs, 6);
	assert_true(exists("devices/pci0000:00/" PF_ADDR "/virtfn5"));

	assert_int_equal(vmm_vf_enable(&e, "fpf0", 6, err, sizeof(err)), 0);   /* no change */
	assert_int_equal(F.nlog, 2);
	assert_int_equal(vmm_vf_enable(&e, "fpf0", 9, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "fpf0 supports at most 8 VFs, 9 requested");
	assert_int_equal(F.nlog, 2);
	assert_int_equal(vmm_vf_enable(&e, "fveth", 2, err, sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(err, "no SR-IOV support on fveth");

	assert_int_equal(vmm_vf_enable(&e, "fpf0", 0, err, sizeof(err)), 0);
	expect_log(2, off, 1);
	assert_false(exists("devices/pci0000:00/" PF_ADDR "/virtfn0"));
	assert_int_equal(vmm_vf_enable(&e, "fpf0", 2, err, sizeof(err)), 0);
	expect_log(3, on, 1);

	/* A VF with a VM keeps the count where it is. */
	put("devices/pci0000:00/0000:03:10.1/driver_override", "vfio-pci\n");
	assert_int_equal(vmm_vf_enable(&e, "fpf0", 4, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "VF 1 of fpf0 (0000:03:10.1) is bound to vfio-pci"));
	assert_int_equal(F.nlog, 4);
	put("devices/pci0000:00/0000:03:10.1/driver_override", "(null)\n");

	/* The kernel's refusal is reported with the file and the reason. */
	F.fail_write = "sriov_numvfs";
	F.fail_err = -ENOMEM;
	assert_int_equal(vmm_vf_enable(&e, "fpf0", 4, err, sizeof(err)), -ENOMEM);
	assert_non_null(strstr(err, "writing '0' to "));
	assert_non_null(strstr(err, "sriov_numvfs: Cannot allocate memory"));
}

/* ---- vf-set ---- */

static void test_set(void **state)
{
	struct vmm_vf_env e = env();
	struct vmm_vf_settings s = { 0 };
	char err[256];

	(void)state;
	F.vf[1].min_rate = 50;
	F.vf[1].max_rate = 500;
	assert_int_equal(vmm_vf_settings_parse_kv("mac=02:12:34:56:78:9A", &s, err, sizeof(err)), 0);
	assert_int_equal(vmm_vf_settings_parse_kv("vlan=42", &s, err, sizeof(err)), 0);
	assert_int_equal(vmm_vf_settings_parse_kv("qos=6", &s, err, sizeof(err)), 0);
	assert_int_equal(vmm_vf_settings_parse_kv("spoofchk=off", &s, err, sizeof(err)), 0);
	assert_int_equal(vmm_vf_settings_parse_kv("trust=on", &s, err, sizeof(err)), 0);
	assert_int_equal(vmm_vf_settings_parse_kv("max_rate=1000", &s, err, sizeof(err)), 0);
	assert_int_equal(vmm_vf_settings_parse_kv("state=enable", &s, err, sizeof(err)), 0);
	assert_int_equal(vmm_vf_set(&e, "fpf0", 1, &s, err, sizeof(err)), 0);
	assert_memory_equal(F.vf[1].mac, ((uint8_t[]){ 2, 0x12, 0x34, 0x56, 0x78, 0x9a }), 6);
	assert_int_equal(F.vf[1].vlan, 42);
	assert_int_equal(F.vf[1].qos, 6);
	assert_int_equal(F.vf[1].spoofchk, 0);
	assert_int_equal(F.vf[1].trust, 1);
	assert_int_equal(F.vf[1].max_rate, 1000);
	assert_int_equal(F.vf[1].min_rate, 50);     /* kept: only max_rate was given */
	assert_int_equal(F.vf[1].link_state, 1);
	assert_int_equal(F.vf[0].vlan, 0);          /* the neighbour is untouched */
	assert_int_equal(F.nlog, 0);                /* no sysfs writes for settings */

	assert_int_equal(vmm_vf_set(&e, "fpf0", 4, &s, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "fpf0 has 4 VFs enabled, no VF 4");
	assert_int_equal(vmm_vf_set(&e, "fveth", 0, &s, err, sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(err, "no SR-IOV support on fveth");
	s = (struct vmm_vf_settings){ .fields = VMM_VF_VLAN, .qos = 3 };
	assert_int_equal(vmm_vf_set(&e, "fpf0", 0, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "qos 3 needs a vlan");
	s = (struct vmm_vf_settings){ .fields = VMM_VF_MAC, .mac = { 1, 0, 0x5e, 0, 0, 1 } };
	assert_int_equal(vmm_vf_set(&e, "fpf0", 0, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "mac 01:00:5e:00:00:01 is a multicast address");
	s = (struct vmm_vf_settings){ .fields = VMM_VF_MAX_RATE | VMM_VF_MIN_RATE,
				      .max_rate = 100, .min_rate = 200 };
	assert_int_equal(vmm_vf_set(&e, "fpf0", 0, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "min_rate 200 above max_rate 100");

	F.set_err = -EOPNOTSUPP;
	s = (struct vmm_vf_settings){ .fields = VMM_VF_TRUST, .trust = true };
	assert_int_equal(vmm_vf_set(&e, "fpf0", 2, &s, err, sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(err, "setting VF 2 of fpf0: rtnetlink: Operation not supported");
}

static void test_settings_kv(void **state)
{
	static const struct {
		const char *kv;
		const char *err;
	} bad[] = {
		{ "mac=02:00:00:00:00", "bad mac '02:00:00:00:00'" },
		{ "mac=02-00-00-00-00-01", "bad mac" },
		{ "mac=0g:00:00:00:00:01", "bad mac" },
		{ "vlan=4096", "bad vlan '4096': expected 0..4095" },
		{ "vlan=-1", "bad vlan" },
		{ "vlan=", "bad vlan" },
		{ "qos=8", "bad qos '8'" },
		{ "spoofchk=maybe", "bad spoofchk 'maybe': expected on or off" },
		{ "trust=1", "bad trust" },
		{ "max_rate=10G", "bad max_rate '10G'" },
		{ "min_rate=4294967296", "bad min_rate" },
		{ "state=up", "bad state 'up'" },
		{ "speed=10", "unknown setting 'speed'" },
		{ "mac", "'mac' is not key=value" },
		{ "=1", "'=1' is not key=value" },
	};
	struct vmm_vf_settings s;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 0, sizeof(s));
		err[0] = '\0';
		assert_int_equal(vmm_vf_settings_parse_kv(bad[i].kv, &s, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].err))
			fail_msg("'%s': error '%s' lacks '%s'", bad[i].kv, err, bad[i].err);
		assert_int_equal(s.fields, 0);
	}
	memset(&s, 0, sizeof(s));
	assert_int_equal(vmm_vf_settings_parse_kv("max_rate=0", &s, err, sizeof(err)), 0);
	assert_int_equal(s.fields, VMM_VF_MAX_RATE);
	assert_int_equal(vmm_vf_settings_parse_kv("state=disable", &s, err, sizeof(err)), 0);
	assert_int_equal(s.link_state, VMM_VF_LINK_DISABLE);
}

/* ---- attach / detach ---- */

static void test_attach_detach(void **state)
{
	struct vmm_vf_env e = env();
	struct vmm_vf_settings vm = { .fields = VMM_VF_MAC | VMM_VF_VLAN | VMM_VF_SPOOFCHK |
					      VMM_VF_MAX_RATE,
				      .mac = { 2, 0x56, 0, 0, 0, 1 }, .vlan = 100, .spoofchk = true,
				      .max_rate = 1000 };
	struct vmm_vf_saved a, b, c, back;
	struct json_object *j;
	char err[256], buf[64];
	static const char *const bind0[] = {
		"bus/pci/devices/0000:03:10.0/driver_override <- vfio-pci",
		"bus/pci/devices/0000:03:10.0/driver/unbind <- 0000:03:10.0",
		"bus/pci/drivers_probe <- 0000:03:10.0",
	};
	static const char *const unbind0[] = {
		"bus/pci/devices/0000:03:10.0/driver/unbind <- 0000:03:10.0",
		"bus/pci/devices/0000:03:10.0/driver_override <- \n",
		"bus/pci/drivers_probe <- 0000:03:10.0",
	};

	(void)state;
	memcpy(F.vf[0].mac, (uint8_t[]){ 2, 0, 0, 0, 0xee, 0 }, 6);
	F.vf[0].vlan = 7;
	F.vf[0].spoofchk = 0;
	F.vf[0].trust = 1;
	F.vf[0].min_rate = 5;

	assert_int_equal(vmm_vf_attach(&e, "fpf0", -1, &vm, &a, err, sizeof(err)), 0);
	assert_int_equal(a.index, 0);
	assert_string_equal(a.pci_addr, "0000:03:10.0");
	assert_string_equal(a.driver, "ixgbevf");
	assert_string_equal(a.driver_override, "");
	assert_string_equal(a.pf, "fpf0");
	expect_log(0, bind0, 3);
	assert_string_equal(vf_driver(0), "vfio-pci");
	get("bus/pci/devices/0000:03:10.0/driver_override", buf, sizeof(buf));
	assert_string_equal(buf, "vfio-pci\n");
	/* The VM's settings are on the VF; the old ones are saved. */
	assert_int_equal(F.vf[0].vlan, 100);
	assert_int_equal(F.vf[0].spoofchk, 1);
	assert_int_equal(F.vf[0].max_rate, 1000);
	assert_int_equal(F.vf[0].min_rate, 5);      /* not asked for: kept */
	assert_int_equal(F.vf[0].trust, 1);
	assert_memory_equal(F.vf[0].mac, vm.mac, 6);
	assert_int_equal(a.settings.vlan, 7);
	assert_false(a.settings.spoofchk);
	assert_true(a.settings.trust);
	assert_memory_equal(a.settings.mac, ((uint8_t[]){ 2, 0, 0, 0, 0xee, 0 }), 6);

	/* The next "any" takes VF 1; a named VF in use is refused. */
	assert_int_equal(vmm_vf_attach(&e, "fpf0", -1, NULL, &b, err, sizeof(err)), 0);
	assert_int_equal(b.index, 1);
	assert_int_equal(vmm_vf_attach(&e, "fpf0", 0, NULL, &c, err, sizeof(err)), -EBUSY);
	assert_string_equal(err, "VF 0 of fpf0 (0000:03:10.0) is in use (bound to vfio-pci)");
	assert_int_equal(vmm_vf_attach(&e, "fpf0", 9, NULL, &c, err, sizeof(err)), -ENOENT);
	assert_int_equal(vmm_vf_attach(&e, "fpf0", 2, NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(vmm_vf_attach(&e, "fpf0", -1, NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(c.index, 3);
	assert_int_equal(vmm_vf_attach(&e, "fpf0", -1, NULL, &c, err, sizeof(err)), -EBUSY);
	assert_string_equal(err, "all 4 VFs of fpf0 are in use");

	/* The saved state survives a vmm restart as JSON. */
	j = vmm_vf_saved_to_json(&a);
	assert_int_equal(vmm_vf_saved_from_json(j, &back, err, sizeof(err)), 0);
	json_object_put(j);
	assert_memory_equal(&back.settings, &a.settings, sizeof(a.settings));
	assert_string_equal(back.pci_addr, a.pci_addr);
	assert_string_equal(back.driver, a.driver);

	F.nlog = 0;
	assert_int_equal(vmm_vf_detach(&e, &back, err, sizeof(err)), 0);
	expect_log(0, unbind0, 3);
	assert_string_equal(vf_driver(0), "ixgbevf");
	get("bus/pci/devices/0000:03:10.0/driver_override", buf, sizeof(buf));
	assert_string_equal(buf, "(null)\n");
	assert_int_equal(F.vf[0].vlan, 7);
	assert_int_equal(F.vf[0].spoofchk, 0);
	assert_int_equal(F.vf[0].max_rate, 0);
	assert_int_equal(F.vf[0].min_rate, 5);
	assert_memory_equal(F.vf[0].mac, ((uint8_t[]){ 2, 0, 0, 0, 0xee, 0 }), 6);

	/* Detaching again only finds everything in place. */
	F.nlog = 0;
	assert_int_equal(vmm_vf_detach(&e, &back, err, sizeof(err)), 0);
	assert_int_equal(F.nlog, 1);                /* the override is rewritten */
	assert_string_equal(vf_driver(0), "ixgbevf");

	/* Now VF 0 is the free one again. */
	assert_int_equal(vmm_vf_attach(&e, "fpf0", -1, NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(c.index, 0);

	/* A VF that went away with SR-IOV is reported as such. */
	fake_set_numvfs(0);
	assert_int_equal(vmm_vf_detach(&e, &b, err, sizeof(err)), -ENODEV);
	assert_string_equal(err, "VF 1 of fpf0 (0000:03:10.1) no longer exists (SR-IOV disabled?)");
}

/* A VF that was unbound before the VM stays unbound after it. */
static void test_attach_unbound_vf(void **state)
{
	struct vmm_vf_env e = env();
	struct vmm_vf_saved s;
	char err[256];
	static const char *const bind[] = {
		"bus/pci/devices/0000:03:10.2/driver_override <- vfio-pci",
		"bus/pci/drivers_probe <- 0000:03:10.2",
	};
	static const char *const unbind[] = {
		"bus/pci/devices/0000:03:10.2/driver/unbind <- 0000:03:10.2",
		"bus/pci/devices/0000:03:10.2/driver_override <- \n",
	};

	(void)state;
	{
		char p[PATH_MAX];

		pathr(p, sizeof(p), "devices/pci0000:00/0000:03:10.2/driver");
		assert_int_equal(unlink(p), 0);
	}
	assert_int_equal(vmm_vf_attach(&e, "fpf0", 2, NULL, &s, err, sizeof(err)), 0);
	expect_log(0, bind, 2);
	assert_string_equal(s.driver, "");
	assert_string_equal(vf_driver(2), "vfio-pci");
	F.nlog = 0;
	assert_int_equal(vmm_vf_detach(&e, &s, err, sizeof(err)), 0);
	expect_log(0, unbind, 2);
	assert_string_equal(vf_driver(2), "");
}

/* vfio-pci missing: the attach fails with the reason and leaves the VF as it
 * was (driver, override, settings). */
static void test_attach_rollback(void **state)
{
	struct vmm_vf_env e = env();
	struct vmm_vf_settings vm = { .fields = VMM_VF_VLAN, .vlan = 55 };
	struct vmm_vf_saved s;
	char err[256], buf[64], cmd[PATH_MAX + 32];

	(void)state;
	F.vf[0].vlan = 9;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/bus/pci/drivers/vfio-pci'", F.root);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(vmm_vf_attach(&e, "fpf0", -1, &vm, &s, err, sizeof(err)), -ENXIO);
	assert_string_equal(err, "VF 0 of fpf0 (0000:03:10.0) did not bind to vfio-pci: the "
			    "vfio-pci driver is not loaded (modprobe vfio-pci)");
	assert_string_equal(vf_driver(0), "ixgbevf");
	get("bus/pci/devices/0000:03:10.0/driver_override", buf, sizeof(buf));
	assert_string_equal(buf, "(null)\n");
	assert_int_equal(F.vf[0].vlan, 9);
	assert_int_equal(F.sets, 2);                /* applied, then restored */

	/* No IOMMU group: said so. */
	mkdirs("bus/pci/drivers/vfio-pci");
	F.fail_write = "drivers_probe";
	F.fail_err = 0;
	F.nlog = 0;
	{
		char p[PATH_MAX];

		pathr(p, sizeof(p), "devices/pci0000:00/0000:03:10.1/iommu_group");
		assert_int_equal(unlink(p), 0);
	}
	/* fail_err 0: the probe "succeeds" but binds nothing. */
	assert_int_equal(vmm_vf_attach(&e, "fpf0", 1, NULL, &s, err, sizeof(err)), -ENXIO);
	assert_non_null(strstr(err, "it has no IOMMU group"));

	/* A failing write is reported and undone too. */
	F.fail_err = -EIO;
	assert_int_equal(vmm_vf_attach(&e, "fpf0", 3, NULL, &s, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "drivers_probe: Input/output error"));
	get("bus/pci/devices/0000:03:10.3/driver_override", buf, sizeof(buf));
	assert_string_equal(buf, "(null)\n");

	/* Settings the driver refuses stop the attach before any bind. */
	F.fail_write = NULL;
	F.set_err = -EOPNOTSUPP;
	F.nlog = 0;
	vm.fields = VMM_VF_TRUST;
	assert_int_equal(vmm_vf_attach(&e, "fpf0", 2, &vm, &s, err, sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(err, "setting VF 2 of fpf0: rtnetlink: Operation not supported");
	assert_int_equal(F.nlog, 0);
	assert_string_equal(vf_driver(2), "ixgbevf");

	/* No VFs enabled. */
	F.set_err = 0;
	fake_set_numvfs(0);
	assert_int_equal(vmm_vf_attach(&e, "fpf0", -1, NULL, &s, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "fpf0 has no VFs enabled (vmm vf-enable fpf0 COUNT)");
}

/* ---- JSON forms ---- */

static void test_spec_json(void **state)
{
	static const struct {
		const char *json;
		const char *err;
	} bad[] = {
		{ "{\"vf\": 1}", "pf: missing" },
		{ "{\"pf\": \"eth0\", \"vlan\": 5000}", "vlan: 5000 out of range 0..4095" },
		{ "{\"pf\": \"eth0\", \"vlan\": \"5\"}", "vlan: expected an integer" },
		{ "{\"pf\": \"eth0\", \"mac\": \"02:00\"}", "mac: expected" },
		{ "{\"pf\": \"eth0\", \"mac\": \"03:00:00:00:00:01\"}", "multicast" },
		{ "{\"pf\": \"eth0\", \"spoofchk\": \"on\"}", "spoofchk: expected true or false" },
		{ "{\"pf\": \"eth0\", \"vf\": -1}", "vf: -1 out of range" },
		{ "{\"pf\": \"eth0\", \"vf\": \"first\"}", "vf: expected a VF number or \"any\"" },
		{ "{\"pf\": \"eth0\", \"colour\": 1}", "unknown key 'colour' in vf" },
		{ "{\"pf\": \"a/b\"}", "pf: 'a/b' is not a network device name" },
		{ "{\"pf\": \"eth0\", \"qos\": 2}", "qos 2 needs a vlan" },
		{ "{\"pf\": \"eth0\", \"link_state\": \"up\"}", "link_state: expected" },
		{ "[1]", "vf: expected an object" },
	};
	struct vmm_vf_spec sp;
	struct json_object *j, *o;
	char err[256];

	(void)state;
	j = json_tokener_parse("{\"pf\": \"eth2\", \"vf\": 3, \"mac\": \"02:00:00:00:00:07\", "
			       "\"vlan\": 100, \"qos\": 1, \"spoofchk\": true, \"trust\": false, "
			       "\"max_rate\": 1000, \"link_state\": \"enable\"}");
	assert_int_equal(vmm_vf_spec_from_json(j, &sp, err, sizeof(err)), 0);
	json_object_put(j);
	assert_string_equal(sp.pf, "eth2");
	assert_int_equal(sp.index, 3);
	assert_int_equal(sp.settings.fields, VMM_VF_MAC | VMM_VF_VLAN | VMM_VF_SPOOFCHK |
			 VMM_VF_TRUST | VMM_VF_MAX_RATE | VMM_VF_LINK_STATE);
	assert_int_equal(sp.settings.vlan, 100);
	assert_int_equal(sp.settings.qos, 1);
	assert_int_equal(sp.settings.max_rate, 1000);
	o = vmm_vf_spec_to_json(&sp);
	assert_int_equal(vmm_vf_spec_from_json(o, &sp, err, sizeof(err)), 0);
	json_object_put(o);
	assert_int_equal(sp.index, 3);
	assert_int_equal(sp.settings.link_state, VMM_VF_LINK_ENABLE);

	j = json_tokener_parse("{\"pf\": \"eth2\", \"vf\": \"any\"}");
	assert_int_equal(vmm_vf_spec_from_json(j, &sp, err, sizeof(err)), 0);
	json_object_put(j);
	assert_int_equal(sp.index, -1);
	assert_int_equal(sp.settings.fields, 0);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_tokener_parse(bad[i].json);
		assert_non_null(j);
		err[0] = '\0';
		assert_true(vmm_vf_spec_from_json(j, &sp, err, sizeof(err)) < 0);
		json_object_put(j);
		if (!strstr(err, bad[i].err))
			fail_msg("%s: error '%s' lacks '%s'", bad[i].json, err, bad[i].err);
	}
}

static void test_saved_json_bad(void **state)
{
	static const struct {
		const char *json;
		const char *err;
	} bad[] = {
		{ "{\"pf\": \"p\", \"vf\": 1}", "pci: missing" },
		{ "{\"pf\": \"p\", \"pci\": \"0000:03:10.1\"}", "vf: missing" },
		{ "{\"pf\": \"p\", \"vf\": 1, \"pci\": \"../../x\"}", "pci: '../../x' invalid" },
		{ "{\"pf\": \"p\", \"vf\": 1, \"pci\": \"a\", \"x\": 1}", "unknown key 'x'" },
		{ "{\"pf\": \"p\", \"vf\": 1, \"pci\": \"a\", \"settings\": {\"vlan\": true}}",
		  "settings.vlan: expected an integer" },
		{ "{\"pf\": \"p\", \"vf\": 1, \"pci\": \"a\", \"settings\": {\"z\": 1}}",
		  "unknown key 'settings.z'" },
	};
	struct vmm_vf_saved sv;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *j = json_tokener_parse(bad[i].json);

		assert_non_null(j);
		err[0] = '\0';
		assert_int_equal(vmm_vf_saved_from_json(j, &sv, err, sizeof(err)), -EINVAL);
		json_object_put(j);
		if (!strstr(err, bad[i].err))
			fail_msg("%s: error '%s' lacks '%s'", bad[i].json, err, bad[i].err);
	}
}

/* ---- CLI ---- */

static char cli_out[16384], cli_err[4096];

static int run_cli(const struct vmm_vf_cli_opts *o, int argc, ...)
{
	char *argv[16];
	va_list ap;
	FILE *fo = tmpfile(), *fe = tmpfile();
	int so = dup(1), se = dup(2), rc;
	size_t n;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	if (!getenv("VF_TEST_NO_CAPTURE")) {    /* debugging: see a failing fake's message */
		dup2(fileno(fo), 1);
		dup2(fileno(fe), 2);
	}
	rc = vmm_vf_cli(argc, argv, o);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	rewind(fo);
	n = fread(cli_out, 1, sizeof(cli_out) - 1, fo);
	cli_out[n] = '\0';
	rewind(fe);
	n = fread(cli_err, 1, sizeof(cli_err) - 1, fe);
	cli_err[n] = '\0';
	fclose(fo);
	fclose(fe);
	return rc;
}

static void expect_in(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not in output:\n%s", needle, hay);
}

static void test_cli(void **state)
{
	struct vmm_vf_cli_opts o = { .env = env() };
	struct vmm_vf_cli_opts oj = { .env = env(), .json = true };
	struct json_object *j, *vf;

	(void)state;
	assert_true(vmm_vf_cli_is_command("vf-set"));
	assert_false(vmm_vf_cli_is_command("start"));

	assert_int_equal(run_cli(&o, 1, "vf-list"), 0);
	expect_in(cli_out, "fpf0  pci 0000:03:00.0  driver ixgbe  VFs 4/8");
	expect_in(cli_out, "0000:03:10.3");
	expect_in(cli_out, "fvf3");

	assert_int_equal(run_cli(&o, 7, "vf-set", "fpf0", "2", "mac=02:00:00:00:02:02", "vlan=12",
				 "trust=on", "max_rate=300"), 0);
	expect_in(cli_out, "fpf0: VF 2 configured");
	assert_int_equal(F.vf[2].vlan, 12);

	assert_int_equal(run_cli(&oj, 2, "vf-list", "fpf0"), 0);
	j = json_tokener_parse(cli_out);
	assert_non_null(j);
	vf = json_object_array_get_idx(json_object_object_get(
		json_object_array_get_idx(json_object_object_get(j, "pfs"), 0), "vfs"), 2);
	assert_string_equal(json_object_get_string(json_object_object_get(vf, "mac")),
			    "02:00:00:00:02:02");
	assert_int_equal(json_object_get_int(json_object_object_get(vf, "vlan")), 12);
	assert_int_equal(json_object_get_int(json_object_object_get(vf, "max_rate")), 300);
	assert_true(json_object_get_boolean(json_object_object_get(vf, "trust")));
	json_object_put(j);

	assert_int_equal(run_cli(&o, 4, "vf-enable", "fpf0", "2", "--json"), 0);
	j = json_tokener_parse(cli_out);
	assert_int_equal(json_object_get_int(json_object_object_get(j, "num_vfs")), 2);
	json_object_put(j);
	assert_int_equal(F.numvfs, 2);

	/* Usage errors (2) name the bad argument; failures (1) say why. */
	assert_int_equal(run_cli(&o, 4, "vf-set", "fpf0", "1", "vlan=5000"), 2);
	expect_in(cli_err, "vmm: vf-set: bad vlan '5000': expected 0..4095");
	assert_int_equal(run_cli(&o, 4, "vf-set", "fpf0", "x", "vlan=5"), 2);
	expect_in(cli_err, "bad VF number 'x'");
	assert_int_equal(run_cli(&o, 3, "vf-set", "fpf0", "1"), 2);
	expect_in(cli_err, "vf-set: missing arguments");
	assert_int_equal(run_cli(&o, 4, "vf-set", "fpf0", "1", "colour=red"), 2);
	expect_in(cli_err, "unknown setting 'colour'");
	assert_int_equal(run_cli(&o, 3, "vf-enable", "fpf0", "lots"), 2);
	expect_in(cli_err, "bad COUNT 'lots'");
	assert_int_equal(run_cli(&o, 3, "vf-list", "a", "b"), 2);
	assert_int_equal(run_cli(&o, 2, "vf-list", "--frobnicate"), 2);
	expect_in(cli_err, "unknown option '--frobnicate'");
	assert_int_equal(run_cli(&o, 1, "vf-nothing"), 2);

	assert_int_equal(run_cli(&o, 4, "vf-set", "fveth", "0", "mac=02:00:00:00:00:01"), 1);
	expect_in(cli_err, "vmm: vf-set: no SR-IOV support on fveth");
	assert_int_equal(run_cli(&o, 3, "vf-enable", "fnosr", "2"), 1);
	expect_in(cli_err, "no SR-IOV support on fnosr");
	assert_int_equal(run_cli(&o, 4, "vf-set", "fpf0", "3", "vlan=1"), 1);
	expect_in(cli_err, "fpf0 has 2 VFs enabled, no VF 3");

	assert_int_equal(run_cli(&o, 2, "vf-set", "--help"), 0);
	expect_in(cli_out, "usage: vmm [--json] vf-set PF N KEY=VALUE...");
	expect_in(cli_out, "spoofchk=on|off");
	assert_int_equal(F.nlog, 2);   /* only vf-enable wrote to sysfs */
}

/* vf-bind/vf-unbind: a VF for a DPDK port of the switch, and back. */
static void test_cli_bind(void **state)
{
	struct vmm_vf_cli_opts o = { .env = env() };
	struct vmm_vf_cli_opts oj = { .env = env(), .json = true };
	struct json_object *j;
	static const char *const bind[] = {
		"bus/pci/devices/0000:03:10.1/driver_override <- vfio-pci",
		"bus/pci/devices/0000:03:10.1/driver/unbind <- 0000:03:10.1",
		"bus/pci/drivers_probe <- 0000:03:10.1",
	};
	static const char *const unbind[] = {
		"bus/pci/devices/0000:03:10.1/driver/unbind <- 0000:03:10.1",
		"bus/pci/devices/0000:03:10.1/driver_override <- \n",
		"bus/pci/drivers_probe <- 0000:03:10.1",
	};

	(void)state;
	assert_int_equal(run_cli(&oj, 3, "vf-bind", "fpf0", "1"), 0);
	expect_log(0, bind, 3);
	j = json_tokener_parse(cli_out);
	assert_string_equal(json_object_get_string(json_object_object_get(j, "pci")), "0000:03:10.1");
	assert_string_equal(json_object_get_string(json_object_object_get(j, "driver")), "ixgbevf");
	json_object_put(j);
	assert_string_equal(vf_driver(1), "vfio-pci");
	assert_int_equal(run_cli(&o, 3, "vf-bind", "fpf0", "1"), 1);
	expect_in(cli_err, "vmm: vf-bind: VF 1 of fpf0 (0000:03:10.1) is in use (bound to vfio-pci)");
	assert_int_equal(run_cli(&o, 2, "vf-list", "fpf0"), 0);
	expect_in(cli_out, "(in use: vfio-pci)");

	F.nlog = 0;
	assert_int_equal(run_cli(&o, 3, "vf-unbind", "fpf0", "1"), 0);
	expect_in(cli_out, "fpf0: VF 1 released to the host");
	expect_log(0, unbind, 3);
	assert_string_equal(vf_driver(1), "ixgbevf");
	/* A VF that is not with vfio-pci is left alone. */
	assert_int_equal(run_cli(&o, 3, "vf-unbind", "fpf0", "1"), 0);
	assert_int_equal(F.nlog, 3);
	assert_int_equal(run_cli(&o, 3, "vf-unbind", "fpf0", "7"), 1);
	expect_in(cli_err, "fpf0 has 4 VFs enabled, no VF 7");
}

/* ---- the real kernel: a veth has no SR-IOV ---- */

static char g_veth[16];

static int veth_teardown(void **state)
{
	(void)state;
	if (g_veth[0])
		veth_del(g_veth);
	g_veth[0] = '\0';
	return 0;
}

static void test_real_kernel_no_sriov(void **state)
{
	struct vmm_vf_cli_opts o = { .env = { .sysfs_root = NULL } };
	struct vmm_vf_env e = { 0 };
	struct vmm_vf_settings s = { .fields = VMM_VF_MAC, .mac = { 2, 0, 0, 0, 0, 1 } };
	struct vmm_vf_saved sv;
	char name[16], want[96], err[256];
	bool ok;

	(void)state;
	veth_add(name, &ok);
	if (!ok) {
		print_message("# needs root to create a veth pair\n");
		skip();
	}
	memcpy(g_veth, name, sizeof(g_veth));
	snprintf(want, sizeof(want), "vmm: vf-list: no SR-IOV support on %s\n", name);
	assert_int_equal(run_cli(&o, 2, "vf-list", name), 1);
	assert_string_equal(cli_err, want);
	snprintf(want, sizeof(want), "vmm: vf-set: no SR-IOV support on %s\n", name);
	assert_int_equal(run_cli(&o, 5, "vf-set", name, "0", "mac=02:00:00:00:00:01", "vlan=3"), 1);
	assert_string_equal(cli_err, want);
	snprintf(want, sizeof(want), "vmm: vf-enable: no SR-IOV support on %s\n", name);
	assert_int_equal(run_cli(&o, 3, "vf-enable", name, "2"), 1);
	assert_string_equal(cli_err, want);
	snprintf(want, sizeof(want), "no SR-IOV support on %s", name);
	assert_int_equal(vmm_vf_set(&e, name, 0, &s, err, sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(err, want);
	assert_int_equal(vmm_vf_attach(&e, name, -1, &s, &sv, err, sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(err, want);
	/* The host's list has none of this veth (nor errors). */
	assert_int_equal(run_cli(&o, 1, "vf-list"), 0);
	assert_null(strstr(cli_out, name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set, setup, teardown),
		cmocka_unit_test(test_settings_kv),
		cmocka_unit_test_setup_teardown(test_attach_detach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_unbound_vf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_rollback, setup, teardown),
		cmocka_unit_test(test_spec_json),
		cmocka_unit_test(test_saved_json_bad),
		cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_bind, setup, teardown),
		cmocka_unit_test_teardown(test_real_kernel_no_sriov, veth_teardown),
	};

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
