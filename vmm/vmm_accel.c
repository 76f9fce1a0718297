/* vmm_accel.c — choosing KVM or TCG.
 *
 * /dev/kvm existing is not enough: on some hosts (nested virtualisation with a
 * broken hypervisor) QEMU aborts with -cpu host or a Linux guest spins forever
 * under KVM. So `auto` boots the VM's own kernel under KVM once, without a
 * root file system, with panic=-1 and -no-reboot: a working KVM reaches the
 * kernel's "Kernel panic" (cannot mount root) and QEMU exits within a second
 * or two; a broken one hangs or aborts. The answer is remembered in
 * <state_dir>/accel.json; delete it to probe again.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm_internal.h"
#include "vsl_log.h"
#include "vsl_time.h"
#include "vsl_util.h"

VSL_LOG_MODULE(accel);

enum { PROBE_TIMEOUT_MS = 10000 };

static bool kvm_usable(char *why, size_t len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, len, "/dev/kvm: %s", strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

/* Boots `kernel` under KVM; true when it reached a kernel panic in time. */
static bool probe_kvm(const struct vmm_env *env, const char *kernel, char *why, size_t len)
{
	char log[VMM_PATH_MAX + 32], serial[VMM_PATH_MAX + 48], *out = NULL;
	uint64_t deadline = vsl_time_mono_ms() + PROBE_TIMEOUT_MS, t0 = vsl_time_mono_ms();
	int status = 0;
	bool exited = false, ok;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/accel-probe.log", env->state_dir);
	snprintf(serial, sizeof(serial), "file:%s", log);
	unlink(log);
	pid = fork();
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return false;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		execl(env->qemu, env->qemu, "-accel", "kvm", "-cpu", "host", "-m", "128M",
		      "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		      "-serial", serial, "-kernel", kernel, "-append",
		      "console=ttyS0 panic=-1 loglevel=7", (char *)NULL);
		_exit(127);
	}
	while (vsl_time_mono_ms() < deadline) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid) {
			exited = true;
			break;
		}
		usleep(50000);
	}
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	vsl_read_file(log, 4 << 20, &out, NULL);
	ok = exited && out && strstr(out, "Kernel panic");
	if (ok)
		snprintf(why, len, "KVM booted the guest kernel in %.1f s",
			 (double)(vsl_time_mono_ms() - t0) / 1000);
	else if (!exited)
		snprintf(why, len, "a Linux guest did not boot under KVM within %d s%s",
			 PROBE_TIMEOUT_MS / 1000, out && strstr(out, "Linux version")
			 ? "" : " (no kernel output at all)");
	else
		snprintf(why, len, "QEMU with KVM %s before the guest kernel ran",
			 WIFSIGNALED(status) ? "crashed" : "failed");
	free(out);
	unlink(log);
	return ok;
}

int vmm_accel_resolve(const struct vmm_env *env, const struct vmm_def *d, enum vmm_accel *out,
		      char *reason, size_t reasonlen, char *err, size_t errlen)
{
	char path[VMM_PATH_MAX + 16], *buf = NULL, why[256];
	struct json_object *o, *v;
	bool kvm;

	if (d->accel == VMM_ACCEL_TCG) {
		*out = VMM_ACCEL_TCG;
		snprintf(reason, reasonlen, "accel tcg in the definition");
		return 0;
	}
	if (d->accel == VMM_ACCEL_KVM) {
		if (!kvm_usable(why, sizeof(why)))
			return vsl_errf(err, errlen, -ENODEV, "accel: kvm asked for, but %s", why);
		*out = VMM_ACCEL_KVM;
		snprintf(reason, reasonlen, "accel kvm in the definition");
		return 0;
	}
	snprintf(path, sizeof(path), "%s/accel.json", env->state_dir);
	if (vsl_read_file(path, 1 << 16, &buf, NULL) == 0) {
		o = json_tokener_parse(buf);
		free(buf);
		if (json_object_object_get_ex(o, "accel", &v)) {
			kvm = !strcmp(json_object_get_string(v), "kvm");
			*out = kvm ? VMM_ACCEL_KVM : VMM_ACCEL_TCG;
			snprintf(reason, reasonlen, "auto: %s (remembered in %s)",
				 json_object_object_get_ex(o, "reason", &v)
					 ? json_object_get_string(v) : "?", path);
			json_object_put(o);
			return 0;
		}
		json_object_put(o);
	}
	if (!kvm_usable(why, sizeof(why)))
		kvm = false;
	else if (!d->kernel[0])
		return vsl_errf(err, errlen, -EINVAL, "accel: auto needs a kernel to probe KVM with "
				"(this VM boots from a disk): set \"accel\" to kvm or tcg");
	else
		kvm = probe_kvm(env, d->kernel, why, sizeof(why));
	*out = kvm ? VMM_ACCEL_KVM : VMM_ACCEL_TCG;
	VSL_INFO("accel auto: %s (%s)", kvm ? "kvm" : "tcg", why);
	o = json_object_new_object();
	json_object_object_add(o, "accel", json_object_new_string(kvm ? "kvm" : "tcg"));
	json_object_object_add(o, "reason", json_object_new_string(why));
	json_object_object_add(o, "probed_at", json_object_new_int64((int64_t)time(NULL)));
	{
		size_t len;
		const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PRETTY, &len);

		vsl_write_file_atomic(path, s, len, 0644);
	}
	json_object_put(o);
	snprintf(reason, reasonlen, "auto: %s (probed now)", why);
	return 0;
}
