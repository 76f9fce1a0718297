/* vmm_state.c — where a VM's runtime files live and its state.json record. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm_internal.h"
#include "vsl_util.h"

static const char *const state_names[] = {
	[VMM_ST_STOPPED] = "stopped",   [VMM_ST_STARTING] = "starting",
	[VMM_ST_RUNNING] = "running",   [VMM_ST_PAUSED] = "paused",
	[VMM_ST_STOPPING] = "stopping", [VMM_ST_CRASHED] = "crashed",
	[VMM_ST_UNSUPERVISED] = "unsupervised", [VMM_ST_LOST] = "lost",
};

const char *vmm_state_name(enum vmm_vm_state s)
{
	return (unsigned)s < VSL_ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

int vmm_state_parse(const char *s, enum vmm_vm_state *out)
{
	for (size_t i = 0; i < VSL_ARRAY_SIZE(state_names); i++) {
		if (!strcmp(s, state_names[i])) {
			*out = (enum vmm_vm_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

int vmm_vm_dir(const struct vmm_env *env, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", env->state_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int vmm_vm_file(const struct vmm_env *env, const char *name, const char *file, char *buf,
		size_t len)
{
	int n = snprintf(buf, len, "%s/%s/%s", env->state_dir, name, file);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int vmm_def_path(const struct vmm_env *env, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s.json", env->def_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int vmm_mkdirs(const char *path)
{
	char tmp[VMM_PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

void vmm_run_init(struct vmm_run *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->exit_code = -1;
	r->exit_signal = -1;
	r->accel = VMM_ACCEL_TCG;
}

struct json_object *vmm_run_to_json(const struct vmm_run *r)
{
	struct json_object *o = json_object_new_object(), *arr;

	json_object_object_add(o, "name", json_object_new_string(r->name));
	json_object_object_add(o, "state", json_object_new_string(vmm_state_name(r->state)));
	json_object_object_add(o, "supervisor_pid", json_object_new_int(r->supervisor_pid));
	json_object_object_add(o, "qemu_pid", json_object_new_int(r->qemu_pid));
	json_object_object_add(o, "started_ns", json_object_new_int64((int64_t)r->started_ns));
	json_object_object_add(o, "stopped_ns", json_object_new_int64((int64_t)r->stopped_ns));
	json_object_object_add(o, "accel", json_object_new_string(vmm_accel_name(r->accel)));
	json_object_object_add(o, "accel_reason", json_object_new_string(r->accel_reason));
	arr = json_object_new_array();
	for (unsigned i = 0; i < r->n_ports; i++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "port", json_object_new_string(r->ports[i].port));
		json_object_object_add(e, "socket", json_object_new_string(r->ports[i].socket));
		json_object_object_add(e, "added", json_object_new_boolean(r->ports[i].added));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "ports", arr);
	arr = json_object_new_array();
	for (unsigned i = 0; i < r->n_disks; i++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "export", json_object_new_string(r->disks[i].export_name));
		json_object_object_add(e, "bdev", json_object_new_string(r->disks[i].bdev));
		json_object_object_add(e, "socket", json_object_new_string(r->disks[i].socket));
		json_object_object_add(e, "bdev_created",
				       json_object_new_boolean(r->disks[i].bdev_created));
		json_object_object_add(e, "added", json_object_new_boolean(r->disks[i].added));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "disks", arr);
	arr = json_object_new_array();
	for (unsigned i = 0; i < r->n_vfs; i++)
		json_object_array_add(arr, vmm_vf_saved_to_json(&r->vfs[i]));
	json_object_object_add(o, "vfs", arr);
	json_object_object_add(o, "exit_code", json_object_new_int(r->exit_code));
	json_object_object_add(o, "exit_signal", json_object_new_int(r->exit_signal));
	json_object_object_add(o, "reason", json_object_new_string(r->reason));
	json_object_object_add(o, "reboots", json_object_new_int((int)r->reboots));
	json_object_object_add(o, "released", json_object_new_boolean(r->released));
	return o;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : "";
}

static int64_t jint(struct json_object *o, const char *k, int64_t dflt)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int)
		       ? json_object_get_int64(v) : dflt;
}

static bool jbool(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

int vmm_run_load(const struct vmm_env *env, const char *name, struct vmm_run *r)
{
	char path[VMM_PATH_MAX], *buf = NULL;
	struct json_object *o, *arr;
	int ret;

	vmm_run_init(r, name);
	ret = vmm_vm_file(env, name, "state.json", path, sizeof(path));
	if (ret)
		return ret;
	ret = vsl_read_file(path, 1 << 20, &buf, NULL);
	if (ret)
		return ret;
	o = json_tokener_parse(buf);
	free(buf);
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EBADMSG;
	}
	if (vmm_state_parse(jstr(o, "state"), &r->state))
		r->state = VMM_ST_LOST;
	r->supervisor_pid = (pid_t)jint(o, "supervisor_pid", 0);
	r->qemu_pid = (pid_t)jint(o, "qemu_pid", 0);
	r->started_ns = (uint64_t)jint(o, "started_ns", 0);
	r->stopped_ns = (uint64_t)jint(o, "stopped_ns", 0);
	r->accel = !strcmp(jstr(o, "accel"), "kvm") ? VMM_ACCEL_KVM : VMM_ACCEL_TCG;
	snprintf(r->accel_reason, sizeof(r->accel_reason), "%s", jstr(o, "accel_reason"));
	if (json_object_object_get_ex(o, "ports", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr) && i < VMM_MAX_NICS; i++) {
			struct json_object *e = json_object_array_get_idx(arr, i);

			snprintf(r->ports[i].port, sizeof(r->ports[i].port), "%s", jstr(e, "port"));
			snprintf(r->ports[i].socket, sizeof(r->ports[i].socket), "%s",
				 jstr(e, "socket"));
			r->ports[i].added = jbool(e, "added");
			r->n_ports = (unsigned)i + 1;
		}
	if (json_object_object_get_ex(o, "disks", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr) && i < VMM_MAX_DISKS; i++) {
			struct json_object *e = json_object_array_get_idx(arr, i);
			struct vmm_disk_att *a = &r->disks[i];

			snprintf(a->export_name, sizeof(a->export_name), "%s", jstr(e, "export"));
			snprintf(a->bdev, sizeof(a->bdev), "%s", jstr(e, "bdev"));
			snprintf(a->socket, sizeof(a->socket), "%s", jstr(e, "socket"));
			a->bdev_created = jbool(e, "bdev_created");
			a->added = jbool(e, "added");
			r->n_disks = (unsigned)i + 1;
		}
	if (json_object_object_get_ex(o, "vfs", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr) && i < VMM_MAX_VFS; i++) {
			if (vmm_vf_saved_from_json(json_object_array_get_idx(arr, i), &r->vfs[i],
						   NULL, 0))
				break;
			r->n_vfs = (unsigned)i + 1;
		}
	r->exit_code = (int)jint(o, "exit_code", -1);
	r->exit_signal = (int)jint(o, "exit_signal", -1);
	snprintf(r->reason, sizeof(r->reason), "%s", jstr(o, "reason"));
	r->reboots = (unsigned)jint(o, "reboots", 0);
	r->released = jbool(o, "released");
	json_object_put(o);
	return 0;
}

int vmm_run_save(const struct vmm_env *env, const struct vmm_run *r)
{
	char path[VMM_PATH_MAX];
	struct json_object *o;
	const char *s;
	size_t len;
	int ret;

	ret = vmm_vm_file(env, r->name, "state.json", path, sizeof(path));
	if (ret)
		return ret;
	o = vmm_run_to_json(r);
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PRETTY |
						 JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	ret = vsl_write_file_atomic(path, s, len, 0644);
	json_object_put(o);
	return ret;
}

bool vmm_pid_is(pid_t pid, const char *exe)
{
	char path[64], *buf = NULL, *base;
	bool ok;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (vsl_read_file(path, 1 << 16, &buf, NULL))
		return false;
	base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	ok = !strcmp(base, exe);
	free(buf);
	return ok;
}

void vmm_exit_describe(const struct vmm_run *r, char *buf, size_t len)
{
	if (r->exit_signal > 0)
		snprintf(buf, len, "killed by signal %d (SIG%s)", r->exit_signal,
			 sigabbrev_np(r->exit_signal) ? sigabbrev_np(r->exit_signal) : "?");
	else if (r->exit_code >= 0)
		snprintf(buf, len, "exited with status %d", r->exit_code);
	else
		snprintf(buf, len, "exit status unknown");
}

int vmm_pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
