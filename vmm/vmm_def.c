/* vmm_def.c — VM definition parser and validator. See vmm_def.h and the schema
 * in docs/vmm.md. Every refusal names the field, JSON-path style. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "vmm_def.h"
#include "vsl_util.h"

#define HUGETLBFS_MAGIC_ 0x958458f6

enum { DEF_MAX_FILE = 1 << 20 };

const char *vmm_accel_name(enum vmm_accel a)
{
	switch (a) {
	case VMM_ACCEL_KVM: return "kvm";
	case VMM_ACCEL_TCG: return "tcg";
	default: return "auto";
	}
}

char *vmm_mac_format(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
	return buf;
}

int vmm_mac_parse(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -EINVAL;
		char h[3] = { s[0], s[1], 0 };
		mac[i] = (uint8_t)strtoul(h, NULL, 16);
		s += 2;
		if (i < 5) {
			if (*s != ':')
				return -EINVAL;
			s++;
		}
	}
	return *s ? -EINVAL : 0;
}

static bool name_chars_ok(const char *s, size_t max, bool allow_slash)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '_' && c != '-' && c != '.' && !(allow_slash && c == '/'))
			return false;
	}
	return true;
}

bool vmm_name_valid(const char *name)
{
	return name_chars_ok(name, VMM_NAME_MAX, false);
}

/* ------------------------------------------------------------------ parsing */

struct ctx {
	char *err;
	size_t errlen;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *type_name(struct json_object *v)
{
	return json_type_to_name(json_object_get_type(v));
}

/* Refuses members of `o` not in the NULL-terminated `known`. */
static int check_keys(struct ctx *c, const char *where, struct json_object *o,
		      const char *const *known)
{
	json_object_object_foreach(o, k, v) {
		bool ok = false;

		(void)v;
		for (const char *const *p = known; *p; p++)
			if (!strcmp(k, *p))
				ok = true;
		if (!ok)
			return fail(c, "%s%s%s: unknown key", where, where[0] ? "." : "", k);
	}
	return 0;
}

static int get_string(struct ctx *c, const char *path, struct json_object *v, char *out,
		      size_t outlen)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return fail(c, "%s: must be a string, got %s", path, type_name(v));
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s))
		return fail(c, "%s: contains a NUL byte", path);
	if (strlen(s) >= outlen)
		return fail(c, "%s: longer than %zu characters", path, outlen - 1);
	snprintf(out, outlen, "%s", s);
	return 0;
}

static int get_int(struct ctx *c, const char *path, struct json_object *v, int64_t min,
		   int64_t max, int64_t *out)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return fail(c, "%s: must be an integer, got %s", path, type_name(v));
	errno = 0;
	n = json_object_get_int64(v);
	if (errno || n < min || n > max)
		return fail(c, "%s: must be %" PRId64 "..%" PRId64 ", got %s", path, min, max,
			    json_object_to_json_string(v));
	*out = n;
	return 0;
}

static int get_bool(struct ctx *c, const char *path, struct json_object *v, bool *out)
{
	if (!json_object_is_type(v, json_type_boolean))
		return fail(c, "%s: must be true or false, got %s", path, type_name(v));
	*out = json_object_get_boolean(v);
	return 0;
}

static int get_path(struct ctx *c, const char *path, struct json_object *v, char *out,
		    size_t outlen)
{
	int ret = get_string(c, path, v, out, outlen);

	if (ret)
		return ret;
	if (out[0] != '/')
		return fail(c, "%s: must be an absolute path, got '%s'", path, out);
	/* QEMU's option syntax splits on ','; a path with one would be misparsed. */
	if (strchr(out, ','))
		return fail(c, "%s: a path with a comma cannot be passed to QEMU", path);
	return 0;
}

static int parse_memory(struct ctx *c, struct json_object *v, uint64_t *mb)
{
	uint64_t bytes;

	if (json_object_is_type(v, json_type_int)) {
		int64_t n;
		int ret = get_int(c, "memory", v, VMM_MIN_MEMORY_MB, 16 << 20, &n);

		if (ret)
			return ret;
		*mb = (uint64_t)n;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return fail(c, "memory: must be MiB (integer) or a size string such as \"512M\", "
			    "got %s", type_name(v));
	if (vsl_parse_size(json_object_get_string(v), &bytes))
		return fail(c, "memory: cannot parse size '%s'", json_object_get_string(v));
	if (bytes % (1 << 20))
		return fail(c, "memory: must be a whole number of MiB, got '%s'",
			    json_object_get_string(v));
	if (bytes >> 20 < VMM_MIN_MEMORY_MB || bytes >> 20 > (16ull << 20))
		return fail(c, "memory: must be %dM..16T, got '%s'", VMM_MIN_MEMORY_MB,
			    json_object_get_string(v));
	*mb = bytes >> 20;
	return 0;
}

/* A locally administered unicast MAC derived from the VM name and NIC index:
 * stable across define/start, distinct per NIC. */
static void mac_generate(const char *name, unsigned idx, uint8_t mac[6])
{
	uint32_t h = 2166136261u;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ idx) * 16777619u;
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)((h & 0xf0) | (idx & 0x0f));
}

static int parse_mac(struct ctx *c, const char *path, struct json_object *v, uint8_t mac[6])
{
	char s[32];
	int ret = get_string(c, path, v, s, sizeof(s));

	if (ret)
		return ret;
	if (vmm_mac_parse(s, mac))
		return fail(c, "%s: '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)", path, s);
	if (mac[0] & 1)
		return fail(c, "%s: %s is a multicast address", path, s);
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return fail(c, "%s: the all-zero MAC is not usable", path);
	return 0;
}

static int parse_nic(struct ctx *c, unsigned i, struct json_object *o, struct vmm_nic *n)
{
	static const char *const keys[] = { "port", "vlan", "vni", "mac", "queues", NULL };
	struct json_object *v;
	char where[32], path[64];
	bool has_mac = false;
	int64_t x;
	int ret;

	snprintf(where, sizeof(where), "nics[%u]", i);
	if (!json_object_is_type(o, json_type_object))
		return fail(c, "%s: must be an object, got %s", where, type_name(o));
	ret = check_keys(c, where, o, keys);
	if (ret)
		return ret;
	n->vlan = -1;
	n->vni = -1;
	n->queues = 1;
	if (!json_object_object_get_ex(o, "port", &v))
		return fail(c, "%s.port: missing (the switch port to create)", where);
	snprintf(path, sizeof(path), "%s.port", where);
	ret = get_string(c, path, v, n->port, sizeof(n->port));
	if (ret)
		return ret;
	if (!name_chars_ok(n->port, VMM_PORT_NAME_MAX, false))
		return fail(c, "%s: '%s' must be 1-%d characters of [A-Za-z0-9_.-], not starting "
			    "with '-' or '.'", path, n->port, VMM_PORT_NAME_MAX);
	if (json_object_object_get_ex(o, "vlan", &v)) {
		snprintf(path, sizeof(path), "%s.vlan", where);
		ret = get_int(c, path, v, 1, 4094, &x);
		if (ret)
			return ret;
		n->vlan = (int)x;
	}
	if (json_object_object_get_ex(o, "vni", &v)) {
		snprintf(path, sizeof(path), "%s.vni", where);
		ret = get_int(c, path, v, 1, (1 << 24) - 1, &x);
		if (ret)
			return ret;
		n->vni = x;
	}
	if (n->vlan >= 0 && n->vni >= 0)
		return fail(c, "%s: give vlan or vni, not both", where);
	if (json_object_object_get_ex(o, "mac", &v)) {
		snprintf(path, sizeof(path), "%s.mac", where);
		ret = parse_mac(c, path, v, n->mac);
		if (ret)
			return ret;
		has_mac = true;
	}
	if (json_object_object_get_ex(o, "queues", &v)) {
		snprintf(path, sizeof(path), "%s.queues", where);
		ret = get_int(c, path, v, 1, VMM_MAX_QUEUES, &x);
		if (ret)
			return ret;
		n->queues = (unsigned)x;
	}
	if (!has_mac)
		memset(n->mac, 0, sizeof(n->mac));   /* generated once the name is known */
	return 0;
}

static int parse_disk(struct ctx *c, unsigned i, struct json_object *o, struct vmm_disk *d)
{
	static const char *const keys[] = { "volume", "image", "bdev", "readonly", "boot",
					    "queues", NULL };
	struct json_object *v;
	char where[32], path[64];
	int sources = 0, ret;
	int64_t x;

	snprintf(where, sizeof(where), "disks[%u]", i);
	if (!json_object_is_type(o, json_type_object))
		return fail(c, "%s: must be an object, got %s", where, type_name(o));
	ret = check_keys(c, where, o, keys);
	if (ret)
		return ret;
	d->queues = 1;
	if (json_object_object_get_ex(o, "volume", &v)) {
		char *slash;

		sources++;
		d->kind = VMM_DISK_VOLUME;
		snprintf(path, sizeof(path), "%s.volume", where);
		ret = get_string(c, path, v, d->source, sizeof(d->source));
		if (ret)
			return ret;
		/* LVM's VG/LV; blockd names the LV's bdev VG-LV (docs/lvm.md). VG
		 * names have no '-', so the split is unique. */
		slash = strchr(d->source, '/');
		if (!slash || slash == d->source || !slash[1] || strchr(slash + 1, '/') ||
		    !name_chars_ok(d->source, VMM_BDEV_NAME_MAX, true) ||
		    memchr(d->source, '-', (size_t)(slash - d->source)))
			return fail(c, "%s: '%s' must be VG/LV (VG without '-')", path, d->source);
		if (strlen(d->source) > VMM_BDEV_NAME_MAX)
			return fail(c, "%s: '%s' is longer than %d characters", path, d->source,
				    VMM_BDEV_NAME_MAX);
		/* Built by hand: snprintf between members of one struct trips
		 * GCC's -Wrestrict under ASan. Lengths were checked above. */
		{
			size_t vg = (size_t)(slash - d->source);

			memcpy(d->bdev, d->source, vg);
			d->bdev[vg] = '-';
			memcpy(d->bdev + vg + 1, slash + 1, strlen(slash + 1) + 1);
		}
	}
	if (json_object_object_get_ex(o, "image", &v)) {
		sources++;
		d->kind = VMM_DISK_IMAGE;
		snprintf(path, sizeof(path), "%s.image", where);
		ret = get_path(c, path, v, d->source, sizeof(d->source));
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(o, "bdev", &v)) {
		sources++;
		d->kind = VMM_DISK_BDEV;
		snprintf(path, sizeof(path), "%s.bdev", where);
		ret = get_string(c, path, v, d->source, sizeof(d->source));
		if (ret)
			return ret;
		if (!d->source[0])
			return fail(c, "%s: empty bdev name", path);
		for (const char *p = d->source; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("_.:-", *p))
				return fail(c, "%s: '%s' is not a bdev name", path, d->source);
		if (strlen(d->source) > VMM_BDEV_NAME_MAX)
			return fail(c, "%s: longer than %d characters", path, VMM_BDEV_NAME_MAX);
		memcpy(d->bdev, d->source, strlen(d->source) + 1);
	}
	if (sources != 1)
		return fail(c, "%s: give exactly one of volume, image and bdev", where);
	if (json_object_object_get_ex(o, "readonly", &v)) {
		snprintf(path, sizeof(path), "%s.readonly", where);
		ret = get_bool(c, path, v, &d->readonly);
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(o, "boot", &v)) {
		snprintf(path, sizeof(path), "%s.boot", where);
		ret = get_bool(c, path, v, &d->boot);
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(o, "queues", &v)) {
		snprintf(path, sizeof(path), "%s.queues", where);
		ret = get_int(c, path, v, 1, VMM_MAX_QUEUES, &x);
		if (ret)
			return ret;
		d->queues = (unsigned)x;
	}
	return 0;
}

static int parse_onoff(struct ctx *c, const char *path, struct json_object *v, int *out)
{
	bool b;
	int ret = get_bool(c, path, v, &b);

	if (!ret)
		*out = b;
	return ret;
}

static int parse_vf(struct ctx *c, unsigned i, struct json_object *o, struct vmm_vf *f)
{
	static const char *const keys[] = { "pf", "vf", "mac", "vlan", "spoofchk", "trust",
					    "max_rate", NULL };
	struct json_object *v;
	char where[32], path[64];
	int64_t x;
	int ret;

	snprintf(where, sizeof(where), "vfs[%u]", i);
	if (!json_object_is_type(o, json_type_object))
		return fail(c, "%s: must be an object, got %s", where, type_name(o));
	ret = check_keys(c, where, o, keys);
	if (ret)
		return ret;
	f->index = -1;
	f->vlan = -1;
	f->spoofchk = -1;
	f->trust = -1;
	if (!json_object_object_get_ex(o, "pf", &v))
		return fail(c, "%s.pf: missing (the physical function's interface name)", where);
	snprintf(path, sizeof(path), "%s.pf", where);
	ret = get_string(c, path, v, f->pf, sizeof(f->pf));
	if (ret)
		return ret;
	if (!name_chars_ok(f->pf, sizeof(f->pf) - 1, false))
		return fail(c, "%s: '%s' is not an interface name", path, f->pf);
	if (json_object_object_get_ex(o, "vf", &v)) {
		snprintf(path, sizeof(path), "%s.vf", where);
		if (json_object_is_type(v, json_type_string)) {
			if (strcmp(json_object_get_string(v), "any"))
				return fail(c, "%s: must be a VF number or \"any\"", path);
		} else {
			ret = get_int(c, path, v, 0, 255, &x);
			if (ret)
				return ret;
			f->index = (int)x;
		}
	}
	if (json_object_object_get_ex(o, "mac", &v)) {
		snprintf(path, sizeof(path), "%s.mac", where);
		ret = parse_mac(c, path, v, f->mac);
		if (ret)
			return ret;
		f->has_mac = true;
	}
	if (json_object_object_get_ex(o, "vlan", &v)) {
		snprintf(path, sizeof(path), "%s.vlan", where);
		ret = get_int(c, path, v, 0, 4094, &x);
		if (ret)
			return ret;
		f->vlan = (int)x;
	}
	if (json_object_object_get_ex(o, "spoofchk", &v)) {
		snprintf(path, sizeof(path), "%s.spoofchk", where);
		ret = parse_onoff(c, path, v, &f->spoofchk);
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(o, "trust", &v)) {
		snprintf(path, sizeof(path), "%s.trust", where);
		ret = parse_onoff(c, path, v, &f->trust);
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(o, "max_rate", &v)) {
		snprintf(path, sizeof(path), "%s.max_rate", where);
		ret = get_int(c, path, v, 0, UINT32_MAX, &x);
		if (ret)
			return ret;
		f->max_rate = (uint32_t)x;
	}
	return 0;
}

static int parse_array(struct ctx *c, struct json_object *root, const char *key, unsigned max,
		       struct json_object **arr, unsigned *n)
{
	*n = 0;
	*arr = NULL;
	if (!json_object_object_get_ex(root, key, arr))
		return 0;
	if (!json_object_is_type(*arr, json_type_array))
		return fail(c, "%s: must be an array, got %s", key, type_name(*arr));
	if (json_object_array_length(*arr) > max)
		return fail(c, "%s: at most %u entries, got %zu", key, max,
			    json_object_array_length(*arr));
	*n = (unsigned)json_object_array_length(*arr);
	return 0;
}

static int parse_root(struct ctx *c, struct json_object *root, struct vmm_def *d)
{
	static const char *const keys[] = { "name", "vcpus", "memory", "memory_backend",
					    "hugepage_dir", "accel", "kernel", "initrd", "cmdline",
					    "nics", "disks", "vfs", NULL };
	struct json_object *v, *arr;
	char s[32];
	unsigned boot_disks = 0;
	int64_t x;
	int ret;

	if (!json_object_is_type(root, json_type_object))
		return fail(c, "definition: must be a JSON object, got %s", type_name(root));
	ret = check_keys(c, "", root, keys);
	if (ret)
		return ret;

	if (!json_object_object_get_ex(root, "name", &v))
		return fail(c, "name: missing");
	ret = get_string(c, "name", v, d->name, sizeof(d->name));
	if (ret)
		return ret;
	if (!vmm_name_valid(d->name))
		return fail(c, "name: '%s' must be 1-%d characters of [A-Za-z0-9_.-], not starting "
			    "with '-' or '.'", d->name, VMM_NAME_MAX);

	d->vcpus = 1;
	if (json_object_object_get_ex(root, "vcpus", &v)) {
		ret = get_int(c, "vcpus", v, 1, VMM_MAX_VCPUS, &x);
		if (ret)
			return ret;
		d->vcpus = (unsigned)x;
	}
	if (!json_object_object_get_ex(root, "memory", &v))
		return fail(c, "memory: missing (MiB, or a size such as \"512M\")");
	ret = parse_memory(c, v, &d->memory_mb);
	if (ret)
		return ret;

	d->mem_backend = VMM_MEM_MEMFD;
	if (json_object_object_get_ex(root, "memory_backend", &v)) {
		ret = get_string(c, "memory_backend", v, s, sizeof(s));
		if (ret)
			return ret;
		if (!strcmp(s, "memfd"))
			d->mem_backend = VMM_MEM_MEMFD;
		else if (!strcmp(s, "hugepages"))
			d->mem_backend = VMM_MEM_HUGEPAGES;
		else
			return fail(c, "memory_backend: must be \"memfd\" or \"hugepages\", got '%s'", s);
	}
	snprintf(d->hugepage_dir, sizeof(d->hugepage_dir), "/dev/hugepages");
	if (json_object_object_get_ex(root, "hugepage_dir", &v)) {
		if (d->mem_backend != VMM_MEM_HUGEPAGES)
			return fail(c, "hugepage_dir: only with \"memory_backend\": \"hugepages\"");
		ret = get_path(c, "hugepage_dir", v, d->hugepage_dir, sizeof(d->hugepage_dir));
		if (ret)
			return ret;
	}
	if (d->mem_backend == VMM_MEM_HUGEPAGES && d->memory_mb % 2)
		return fail(c, "memory: must be a multiple of the 2 MiB hugepage size with "
			    "hugepages, got %" PRIu64 "M", d->memory_mb);

	d->accel = VMM_ACCEL_AUTO;
	if (json_object_object_get_ex(root, "accel", &v)) {
		ret = get_string(c, "accel", v, s, sizeof(s));
		if (ret)
			return ret;
		if (!strcmp(s, "auto"))
			d->accel = VMM_ACCEL_AUTO;
		else if (!strcmp(s, "kvm"))
			d->accel = VMM_ACCEL_KVM;
		else if (!strcmp(s, "tcg"))
			d->accel = VMM_ACCEL_TCG;
		else
			return fail(c, "accel: must be \"auto\", \"kvm\" or \"tcg\", got '%s'", s);
	}

	if (json_object_object_get_ex(root, "kernel", &v)) {
		ret = get_path(c, "kernel", v, d->kernel, sizeof(d->kernel));
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(root, "initrd", &v)) {
		if (!d->kernel[0])
			return fail(c, "initrd: needs \"kernel\"");
		ret = get_path(c, "initrd", v, d->initrd, sizeof(d->initrd));
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(root, "cmdline", &v)) {
		if (!d->kernel[0])
			return fail(c, "cmdline: needs \"kernel\"");
		ret = get_string(c, "cmdline", v, d->cmdline, sizeof(d->cmdline));
		if (ret)
			return ret;
		for (const char *p = d->cmdline; *p; p++)
			if ((unsigned char)*p < 0x20)
				return fail(c, "cmdline: contains a control character");
	}

	ret = parse_array(c, root, "nics", VMM_MAX_NICS, &arr, &d->n_nics);
	if (ret)
		return ret;
	for (unsigned i = 0; i < d->n_nics; i++) {
		ret = parse_nic(c, i, json_object_array_get_idx(arr, i), &d->nics[i]);
		if (ret)
			return ret;
	}
	ret = parse_array(c, root, "disks", VMM_MAX_DISKS, &arr, &d->n_disks);
	if (ret)
		return ret;
	for (unsigned i = 0; i < d->n_disks; i++) {
		ret = parse_disk(c, i, json_object_array_get_idx(arr, i), &d->disks[i]);
		if (ret)
			return ret;
		if (d->disks[i].boot)
			boot_disks++;
		/* blockd's name for the bdev vmm opens on an image file. */
		if (d->disks[i].kind == VMM_DISK_IMAGE) {
			char b[VMM_BDEV_NAME_MAX + 1];

			snprintf(b, sizeof(b), "vmm.%s.d%u", d->name, i);
			memcpy(d->disks[i].bdev, b, strlen(b) + 1);
		}
	}
	ret = parse_array(c, root, "vfs", VMM_MAX_VFS, &arr, &d->n_vfs);
	if (ret)
		return ret;
	for (unsigned i = 0; i < d->n_vfs; i++) {
		ret = parse_vf(c, i, json_object_array_get_idx(arr, i), &d->vfs[i]);
		if (ret)
			return ret;
	}

	if (boot_disks > 1)
		return fail(c, "disks: only one disk can have \"boot\": true");
	if (!d->kernel[0] && !boot_disks)
		return fail(c, "kernel: missing (give a kernel, or mark a disk \"boot\": true)");
	if (d->kernel[0] && boot_disks)
		return fail(c, "kernel: give a kernel or a boot disk, not both");

	/* Cross-entry checks: MACs and port names are unique. */
	for (unsigned i = 0; i < d->n_nics; i++) {
		static const uint8_t zero[6];

		if (!memcmp(d->nics[i].mac, zero, 6))
			mac_generate(d->name, i, d->nics[i].mac);
	}
	for (unsigned i = 0; i < d->n_nics; i++) {
		char m[18];

		for (unsigned j = 0; j < i; j++) {
			if (!memcmp(d->nics[i].mac, d->nics[j].mac, 6))
				return fail(c, "nics[%u].mac: %s is already used by nics[%u]", i,
					    vmm_mac_format(d->nics[i].mac, m, sizeof(m)), j);
			if (!strcmp(d->nics[i].port, d->nics[j].port))
				return fail(c, "nics[%u].port: '%s' is already used by nics[%u]", i,
					    d->nics[i].port, j);
		}
		for (unsigned j = 0; j < d->n_vfs; j++)
			if (d->vfs[j].has_mac && !memcmp(d->vfs[j].mac, d->nics[i].mac, 6))
				return fail(c, "vfs[%u].mac: %s is already used by nics[%u]", j,
					    vmm_mac_format(d->nics[i].mac, m, sizeof(m)), i);
	}
	for (unsigned i = 0; i < d->n_vfs; i++) {
		char m[18];

		for (unsigned j = 0; j < i; j++) {
			if (d->vfs[i].has_mac && d->vfs[j].has_mac &&
			    !memcmp(d->vfs[i].mac, d->vfs[j].mac, 6))
				return fail(c, "vfs[%u].mac: %s is already used by vfs[%u]", i,
					    vmm_mac_format(d->vfs[i].mac, m, sizeof(m)), j);
			if (d->vfs[i].index >= 0 && d->vfs[i].index == d->vfs[j].index &&
			    !strcmp(d->vfs[i].pf, d->vfs[j].pf))
				return fail(c, "vfs[%u].vf: %s VF %d is already used by vfs[%u]", i,
					    d->vfs[i].pf, d->vfs[i].index, j);
		}
	}
	for (unsigned i = 0; i < d->n_disks; i++)
		for (unsigned j = 0; j < i; j++)
			if (d->disks[i].kind == d->disks[j].kind &&
			    !strcmp(d->disks[i].source, d->disks[j].source))
				return fail(c, "disks[%u]: '%s' is already attached as disks[%u]", i,
					    d->disks[i].source, j);
	return 0;
}

int vmm_def_parse(const char *text, size_t len, struct vmm_def *def, char *err, size_t errlen)
{
	struct ctx c = { err, errlen };
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error je;
	int ret;

	memset(def, 0, sizeof(*def));
	if (err && errlen)
		err[0] = '\0';
	if (len > DEF_MAX_FILE)
		return fail(&c, "definition: larger than %d bytes", DEF_MAX_FILE);
	if (memchr(text, '\0', len))
		return fail(&c, "definition: contains a NUL byte");
	tok = json_tokener_new_ex(32);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	je = json_tokener_get_error(tok);
	if (!root || je != json_tokener_success) {
		ret = fail(&c, "definition: not valid JSON (%s at offset %zu)",
			   je == json_tokener_continue ? "unexpected end of input"
							: json_tokener_error_desc(je),
			   json_tokener_get_parse_end(tok));
		json_object_put(root);
		json_tokener_free(tok);
		return ret;
	}
	/* Anything but whitespace after the object is an error too. */
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
		if (!isspace((unsigned char)text[i])) {
			json_object_put(root);
			json_tokener_free(tok);
			return fail(&c, "definition: trailing data at offset %zu", i);
		}
	}
	json_tokener_free(tok);
	ret = parse_root(&c, root, def);
	json_object_put(root);
	if (ret)
		memset(def, 0, sizeof(*def));
	return ret;
}

int vmm_def_load(const char *path, struct vmm_def *def, char *err, size_t errlen)
{
	char *buf = NULL, sub[512];
	size_t len = 0;
	int ret;

	ret = vsl_read_file(path, DEF_MAX_FILE, &buf, &len);
	if (ret) {
		memset(def, 0, sizeof(*def));
		return vsl_errf(err, errlen, ret, "%s: %s", path, strerror(-ret));
	}
	ret = vmm_def_parse(buf, len, def, sub, sizeof(sub));
	free(buf);
	if (ret)
		return vsl_errf(err, errlen, ret, "%s: %s", path, sub);
	return 0;
}

/* ------------------------------------------------------------- host checks */

static int check_file(const char *field, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return vsl_errf(err, errlen, -errno, "%s: %s: %s", field, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return vsl_errf(err, errlen, -EINVAL, "%s: %s is not a regular file", field, path);
	if (access(path, R_OK) < 0)
		return vsl_errf(err, errlen, -errno, "%s: %s: %s", field, path, strerror(errno));
	return 0;
}

static int meminfo_kb(const char *path, const char *key, uint64_t *kb)
{
	char *buf = NULL, *p;
	size_t klen = strlen(key);
	int ret = vsl_read_file(path, 1 << 20, &buf, NULL);

	if (ret)
		return ret;
	ret = -ENOENT;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			*kb = strtoull(p + klen + 1, NULL, 10);
			ret = 0;
			break;
		}
	}
	free(buf);
	return ret;
}

int vmm_def_check_host(const struct vmm_def *d, const char *meminfo_path, char *err,
		       size_t errlen)
{
	const char *mi = meminfo_path ? meminfo_path : "/proc/meminfo";
	uint64_t kb;
	int ret;

	if (d->kernel[0]) {
		ret = check_file("kernel", d->kernel, err, errlen);
		if (ret)
			return ret;
	}
	if (d->initrd[0]) {
		ret = check_file("initrd", d->initrd, err, errlen);
		if (ret)
			return ret;
	}
	for (unsigned i = 0; i < d->n_disks; i++) {
		char field[32];

		if (d->disks[i].kind != VMM_DISK_IMAGE)
			continue;
		snprintf(field, sizeof(field), "disks[%u].image", i);
		ret = check_file(field, d->disks[i].source, err, errlen);
		if (ret)
			return ret;
	}
	if (meminfo_kb(mi, "MemTotal", &kb) == 0 && d->memory_mb * 1024 > kb)
		return vsl_errf(err, errlen, -ENOMEM,
				"memory: %" PRIu64 "M is more than the host's %" PRIu64 "M", d->memory_mb,
				kb / 1024);
	if (d->mem_backend == VMM_MEM_HUGEPAGES) {
		struct statfs sf;
		uint64_t free_pages = 0, page_kb = 0;

		if (statfs(d->hugepage_dir, &sf) < 0)
			return vsl_errf(err, errlen, -errno, "hugepage_dir: %s: %s", d->hugepage_dir,
					strerror(errno));
		if ((unsigned long)sf.f_type != HUGETLBFS_MAGIC_)
			return vsl_errf(err, errlen, -EINVAL, "hugepage_dir: %s is not a hugetlbfs "
					"mount", d->hugepage_dir);
		if (meminfo_kb(mi, "HugePages_Free", &free_pages) == 0 &&
		    meminfo_kb(mi, "Hugepagesize", &page_kb) == 0 && page_kb &&
		    d->memory_mb * 1024 > free_pages * page_kb)
			return vsl_errf(err, errlen, -ENOMEM,
					"memory: %" PRIu64 "M is more than the %" PRIu64
					"M of free hugepages", d->memory_mb, free_pages * page_kb / 1024);
	}
	return 0;
}

/* -------------------------------------------------------------------- JSON */

struct json_object *vmm_def_to_json(const struct vmm_def *d)
{
	struct json_object *o = json_object_new_object(), *arr;
	char m[18];

	json_object_object_add(o, "name", json_object_new_string(d->name));
	json_object_object_add(o, "vcpus", json_object_new_int((int)d->vcpus));
	json_object_object_add(o, "memory", json_object_new_int64((int64_t)d->memory_mb));
	json_object_object_add(o, "memory_backend", json_object_new_string(
		d->mem_backend == VMM_MEM_HUGEPAGES ? "hugepages" : "memfd"));
	if (d->mem_backend == VMM_MEM_HUGEPAGES)
		json_object_object_add(o, "hugepage_dir", json_object_new_string(d->hugepage_dir));
	json_object_object_add(o, "accel", json_object_new_string(vmm_accel_name(d->accel)));
	if (d->kernel[0])
		json_object_object_add(o, "kernel", json_object_new_string(d->kernel));
	if (d->initrd[0])
		json_object_object_add(o, "initrd", json_object_new_string(d->initrd));
	if (d->kernel[0])
		json_object_object_add(o, "cmdline", json_object_new_string(d->cmdline));
	arr = json_object_new_array();
	for (unsigned i = 0; i < d->n_nics; i++) {
		const struct vmm_nic *n = &d->nics[i];
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "port", json_object_new_string(n->port));
		if (n->vlan >= 0)
			json_object_object_add(e, "vlan", json_object_new_int(n->vlan));
		if (n->vni >= 0)
			json_object_object_add(e, "vni", json_object_new_int64(n->vni));
		json_object_object_add(e, "mac", json_object_new_string(
			vmm_mac_format(n->mac, m, sizeof(m))));
		json_object_object_add(e, "queues", json_object_new_int((int)n->queues));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "nics", arr);
	arr = json_object_new_array();
	for (unsigned i = 0; i < d->n_disks; i++) {
		const struct vmm_disk *k = &d->disks[i];
		struct json_object *e = json_object_new_object();
		static const char *const kinds[] = { "volume", "image", "bdev" };

		json_object_object_add(e, kinds[k->kind], json_object_new_string(k->source));
		json_object_object_add(e, "readonly", json_object_new_boolean(k->readonly));
		if (k->boot)
			json_object_object_add(e, "boot", json_object_new_boolean(true));
		json_object_object_add(e, "queues", json_object_new_int((int)k->queues));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "disks", arr);
	arr = json_object_new_array();
	for (unsigned i = 0; i < d->n_vfs; i++) {
		const struct vmm_vf *f = &d->vfs[i];
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "pf", json_object_new_string(f->pf));
		if (f->index >= 0)
			json_object_object_add(e, "vf", json_object_new_int(f->index));
		else
			json_object_object_add(e, "vf", json_object_new_string("any"));
		if (f->has_mac)
			json_object_object_add(e, "mac", json_object_new_string(
				vmm_mac_format(f->mac, m, sizeof(m))));
		if (f->vlan >= 0)
			json_object_object_add(e, "vlan", json_object_new_int(f->vlan));
		if (f->spoofchk >= 0)
			json_object_object_add(e, "spoofchk", json_object_new_boolean(f->spoofchk));
		if (f->trust >= 0)
			json_object_object_add(e, "trust", json_object_new_boolean(f->trust));
		if (f->max_rate)
			json_object_object_add(e, "max_rate", json_object_new_int64(f->max_rate));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "vfs", arr);
	return o;
}
