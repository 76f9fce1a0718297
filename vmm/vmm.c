/* vmm — the Vessel VM manager's command line.
 *
 *   vmm [OPTIONS] COMMAND [ARGS...]        (vmm --help, vmm COMMAND --help)
 *
 * Stateless: each invocation reads the definitions directory and the runtime
 * state directory, and talks to the VM's supervisor (vmm_super.c) over its
 * JSON-RPC socket — or, when the supervisor is gone, to QEMU's QMP socket
 * directly. See docs/vmm.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm_internal.h"
#include "vsl_daemon.h"
#include "vsl_log.h"
#include "vsl_rpc.h"
#include "vsl_time.h"
#include "vsl_util.h"

enum { EXIT_ERR = 1, EXIT_USAGE = 2 };
enum { START_TIMEOUT_MS = 120000 };

static const char prog[] = "vmm";
static bool opt_json;
static struct vmm_env env;

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	exit(EXIT_USAGE);
}

static int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int error(const char *fmt, ...)
{
	va_list ap;
	char msg[2048];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", prog, msg);
	if (opt_json) {
		struct json_object *o = json_object_new_object(), *e = json_object_new_object();

		json_object_object_add(e, "message", json_object_new_string(msg));
		json_object_object_add(o, "error", e);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	return EXIT_ERR;
}

static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_SPACED |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static int64_t jint(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

/* ------------------------------------------------------------ VM lookup */

/* QEMU's program name, to recognise its process by pid. */
static const char *qemu_exe(void)
{
	const char *slash = strrchr(env.qemu, '/');

	return slash ? slash + 1 : env.qemu;
}

static bool is_live(enum vmm_vm_state s)
{
	return s == VMM_ST_STARTING || s == VMM_ST_RUNNING || s == VMM_ST_PAUSED ||
	       s == VMM_ST_STOPPING || s == VMM_ST_UNSUPERVISED;
}

static bool supervisor_alive(const char *name, pid_t *pid)
{
	char path[VMM_PATH_MAX], *buf = NULL;
	long p;

	*pid = 0;
	if (vmm_vm_file(&env, name, "supervisor.pid", path, sizeof(path)) ||
	    vsl_read_file(path, 64, &buf, NULL))
		return false;
	p = strtol(buf, NULL, 10);
	free(buf);
	*pid = (pid_t)p;
	/* The supervisor is a fork of vmm: its command line is ours. */
	return p > 0 && vmm_pid_is((pid_t)p, "vmm");
}

static struct vsl_rpc_client *super_connect(const char *name, int timeout_ms)
{
	char path[VMM_PATH_MAX];

	if (vmm_vm_file(&env, name, "supervisor.sock", path, sizeof(path)))
		return NULL;
	return vsl_rpc_client_connect(path, timeout_ms);
}

/* One call to the VM's supervisor. -ENOTCONN when there is none. */
static int super_call(const char *name, const char *method, struct json_object *params,
		      int timeout_ms, struct json_object **res, char *err, size_t errlen)
{
	struct vsl_rpc_client *c = super_connect(name, timeout_ms);
	struct vsl_rpc_error e = { 0 };
	int ret;

	*res = NULL;
	if (!c) {
		json_object_put(params);
		return vsl_errf(err, errlen, -ENOTCONN, "no supervisor for %s", name);
	}
	ret = vsl_rpc_client_call(c, method, params, res, &e);
	vsl_rpc_client_close(c);
	if (ret == -EREMOTEIO)
		return vsl_errf(err, errlen, e.code <= VSL_RPC_ERRNO_BASE ? e.code - VSL_RPC_ERRNO_BASE
				: -EINVAL, "%s", e.message);
	if (ret)
		return vsl_errf(err, errlen, ret, "the supervisor of %s did not answer: %s", name,
				strerror(-ret));
	return 0;
}

/* QMP straight to QEMU, for a VM whose supervisor died. */
static int qmp_direct(const char *name, const char *cmd, struct json_object **res, char *err,
		      size_t errlen)
{
	char path[VMM_PATH_MAX];
	struct vmm_qmp *q;
	int ret;

	vmm_vm_file(&env, name, "qmp.sock", path, sizeof(path));
	q = vmm_qmp_connect(path, 5000, NULL, NULL, err, errlen);
	if (!q)
		return -ECONNREFUSED;
	ret = vmm_qmp_exec(q, cmd, NULL, res, 10000, err, errlen);
	vmm_qmp_close(q);
	return ret;
}

/* The VM's state as seen now: the supervisor's answer when it lives, else the
 * record in state.json checked against the processes. Caller frees. */
static struct json_object *vm_status(const char *name, struct vmm_run *r)
{
	struct json_object *o = NULL, *res = NULL;
	char err[512];
	pid_t spid;
	int ret;

	ret = vmm_run_load(&env, name, r);
	if (ret) {
		vmm_run_init(r, name);
		r->state = VMM_ST_STOPPED;
	}
	if (supervisor_alive(name, &spid)) {
		if (super_call(name, "vm-status", NULL, env.rpc_timeout_ms, &o, err,
			       sizeof(err)) == 0) {
			enum vmm_vm_state st;

			if (!vmm_state_parse(jstr(o, "state"), &st))
				r->state = st;
			return o;
		}
		/* Starting: the socket is not there yet. */
		o = vmm_run_to_json(r);
		json_object_object_add(o, "supervisor", json_object_new_string("alive"));
		return o;
	}
	if (is_live(r->state)) {
		if (vmm_pid_is(r->qemu_pid, qemu_exe())) {
			r->state = VMM_ST_UNSUPERVISED;
			snprintf(r->reason, sizeof(r->reason), "the supervisor (pid %d) died; QEMU "
				 "pid %d still runs", (int)r->supervisor_pid, (int)r->qemu_pid);
		} else {
			r->state = VMM_ST_LOST;
			snprintf(r->reason, sizeof(r->reason), "the supervisor (pid %d) and QEMU "
				 "(pid %d) died; ports and exports are still held (vmm stop releases "
				 "them)", (int)r->supervisor_pid, (int)r->qemu_pid);
		}
	}
	o = vmm_run_to_json(r);
	json_object_object_add(o, "supervisor", json_object_new_string(
		is_live(r->state) || r->state == VMM_ST_LOST ? "dead" : "none"));
	if (r->state == VMM_ST_UNSUPERVISED &&
	    qmp_direct(name, "query-status", &res, err, sizeof(err)) == 0) {
		json_object_object_add(o, "qmp_status", json_object_new_string(jstr(res, "status")));
		json_object_put(res);
	}
	return o;
}

/* -------------------------------------------------------------- define */

static int cmd_define(int argc, char **argv)
{
	struct vmm_def d, other;
	struct vmm_run r;
	char err[1024], path[VMM_PATH_MAX];
	struct json_object *o;
	const char *s;
	size_t len;
	DIR *dir;
	int ret;

	if (argc != 1)
		die_usage("define: needs FILE");
	if (vmm_def_load(argv[0], &d, err, sizeof(err)))
		return error("%s", err);
	if (vmm_def_check_host(&d, NULL, err, sizeof(err)))
		return error("%s: %s", argv[0], err);
	ret = vmm_mkdirs(env.def_dir);
	if (ret)
		return error("cannot create %s: %s", env.def_dir, strerror(-ret));
	/* Ports and MACs are unique across every defined VM. */
	dir = opendir(env.def_dir);
	for (struct dirent *de; dir && (de = readdir(dir));) {
		size_t n = strlen(de->d_name);
		char file[VMM_PATH_MAX + 300], m[18];

		if (n < 6 || strcmp(de->d_name + n - 5, ".json"))
			continue;
		snprintf(file, sizeof(file), "%s/%s", env.def_dir, de->d_name);
		if (vmm_def_load(file, &other, NULL, 0) || !strcmp(other.name, d.name))
			continue;
		for (unsigned i = 0; i < d.n_nics; i++)
			for (unsigned j = 0; j < other.n_nics; j++) {
				if (!memcmp(d.nics[i].mac, other.nics[j].mac, 6)) {
					closedir(dir);
					return error("%s: nics[%u].mac: %s is already used by VM '%s'",
						     argv[0], i, vmm_mac_format(d.nics[i].mac, m,
										sizeof(m)), other.name);
				}
				if (!strcmp(d.nics[i].port, other.nics[j].port)) {
					closedir(dir);
					return error("%s: nics[%u].port: '%s' is already used by VM '%s'",
						     argv[0], i, d.nics[i].port, other.name);
				}
			}
	}
	if (dir)
		closedir(dir);
	o = vm_status(d.name, &r);
	json_object_put(o);
	if (is_live(r.state))
		return error("%s is %s: stop it before redefining it", d.name,
			     vmm_state_name(r.state));
	vmm_def_path(&env, d.name, path, sizeof(path));
	o = vmm_def_to_json(&d);
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PRETTY |
						 JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	ret = vsl_write_file_atomic(path, s, len, 0644);
	if (ret) {
		json_object_put(o);
		return error("cannot write %s: %s", path, strerror(-ret));
	}
	if (opt_json)
		print_json(o);
	else
		printf("defined %s (%s)\n", d.name, path);
	json_object_put(o);
	return 0;
}

static int load_def(const char *name, struct vmm_def *d)
{
	char path[VMM_PATH_MAX], err[1024];
	int ret;

	if (!vmm_name_valid(name))
		return error("'%s' is not a valid VM name", name);
	vmm_def_path(&env, name, path, sizeof(path));
	if (access(path, F_OK) < 0)
		return error("no VM named '%s' in %s (vmm define FILE first)", name, env.def_dir);
	ret = vmm_def_load(path, d, err, sizeof(err));
	if (ret)
		return error("%s", err);
	return 0;
}

static void rm_tree_files(const char *dir)
{
	DIR *d = opendir(dir);

	for (struct dirent *de; d && (de = readdir(d));) {
		char p[VMM_PATH_MAX + 300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static int cmd_undefine(int argc, char **argv)
{
	struct vmm_def d;
	struct vmm_run r;
	struct json_object *o;
	char path[VMM_PATH_MAX];

	if (argc != 1)
		die_usage("undefine: needs NAME");
	if (load_def(argv[0], &d))
		return EXIT_ERR;
	o = vm_status(d.name, &r);
	json_object_put(o);
	if (is_live(r.state) || r.state == VMM_ST_LOST)
		return error("%s is %s: stop it first", d.name, vmm_state_name(r.state));
	vmm_def_path(&env, d.name, path, sizeof(path));
	if (unlink(path) < 0)
		return error("cannot remove %s: %s", path, strerror(errno));
	vmm_vm_dir(&env, d.name, path, sizeof(path));
	rm_tree_files(path);
	if (!opt_json)
		printf("undefined %s\n", d.name);
	else
		printf("true\n");
	return 0;
}

/* --------------------------------------------------------------- start */

static int cmd_start(int argc, char **argv)
{
	struct vmm_def d;
	struct vmm_run r, old;
	struct json_object *o;
	char err[1024], reason[256], vmdir[VMM_PATH_MAX], buf[1100];
	enum vmm_accel accel;
	int fds[2], ret;
	size_t got = 0;
	pid_t pid;

	if (argc != 1)
		die_usage("start: needs NAME");
	if (load_def(argv[0], &d))
		return EXIT_ERR;
	if (vmm_def_check_host(&d, NULL, err, sizeof(err)))
		return error("%s: %s", d.name, err);
	o = vm_status(d.name, &old);
	json_object_put(o);
	if (is_live(old.state))
		return error("%s is already %s", d.name, vmm_state_name(old.state));
	/* A run that ended without giving everything back (a daemon was
	 * unreachable then, or the supervisor died): try again now. */
	if ((old.state == VMM_ST_LOST || !old.released) && (old.n_ports || old.n_disks) &&
	    vmm_release(&env, &old))
		return error("%s: the ports and exports of its previous run cannot be released "
			     "(see above)", d.name);
	ret = vmm_mkdirs(env.state_dir);
	if (!ret)
		ret = vmm_accel_resolve(&env, &d, &accel, reason, sizeof(reason), err, sizeof(err));
	if (ret)
		return error("%s: %s", d.name, ret == -EINVAL || ret == -ENODEV ? err :
			     strerror(-ret));
	vmm_vm_dir(&env, d.name, vmdir, sizeof(vmdir));
	ret = vmm_mkdirs(vmdir);
	if (ret)
		return error("cannot create %s: %s", vmdir, strerror(-ret));
	/* A fresh console log per start (reboots inside one run append). */
	snprintf(buf, sizeof(buf), "%s/console.log", vmdir);
	unlink(buf);

	vmm_run_init(&r, d.name);
	r.accel = accel;
	snprintf(r.accel_reason, sizeof(r.accel_reason), "%s", reason);
	ret = vmm_attach_ports(&env, &d, &r, err, sizeof(err));
	if (ret)
		return error("%s: %s", d.name, err);
	ret = vmm_attach_disks(&env, &d, &r, err, sizeof(err));
	if (!ret)
		ret = vmm_attach_vfs(&env, &d, &r, err, sizeof(err));
	if (ret) {
		vmm_release(&env, &r);
		return error("%s: %s", d.name, err);
	}
	r.state = VMM_ST_STARTING;
	vmm_run_save(&env, &r);

	if (pipe2(fds, O_CLOEXEC) < 0) {
		ret = errno;
		vmm_release(&env, &r);
		return error("pipe: %s", strerror(ret));
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ret = errno;
		vmm_release(&env, &r);
		return error("fork: %s", strerror(ret));
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		/* The supervisor outlives this command: its own session, no
		 * inherited terminal or pipes (a caller waiting for our stdout
		 * to close must not wait for the VM). */
		setsid();
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		dup2(fds[1], 3);
		syscall(SYS_close_range, 4u, ~0u, 0u);
		_exit(vmm_super_main(&env, &d, &r, 3));
	}
	close(fds[1]);
	{
		uint64_t deadline = vsl_time_mono_ms() + START_TIMEOUT_MS;

		for (;;) {
			struct pollfd p = { .fd = fds[0], .events = POLLIN };
			uint64_t now = vsl_time_mono_ms();
			ssize_t n;

			if (now >= deadline || poll(&p, 1, (int)(deadline - now)) == 0) {
				close(fds[0]);
				return error("%s: the supervisor (pid %d) did not report within %d s; "
					     "see %s/supervisor.log", d.name, (int)pid,
					     START_TIMEOUT_MS / 1000, vmdir);
			}
			n = read(fds[0], buf + got, sizeof(buf) - 1 - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
			if (got == sizeof(buf) - 1)
				break;
		}
	}
	close(fds[0]);
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strncmp(buf, "OK ", 3)) {
		if (!strncmp(buf, "ERR ", 4))
			return error("%s: %s", d.name, buf + 4);
		return error("%s: the supervisor (pid %d) died during start; see %s/supervisor.log",
			     d.name, (int)pid, vmdir);
	}
	if (opt_json) {
		o = vm_status(d.name, &r);
		print_json(o);
		json_object_put(o);
	} else {
		printf("started %s: QEMU pid %s, supervisor pid %d, accel %s (%s)\n", d.name, buf + 3,
		       (int)pid, vmm_accel_name(accel), reason);
	}
	return 0;
}

/* ---------------------------------------------------------------- stop */

/* Without a supervisor: stop QEMU ourselves and release what it held. */
static int stop_unsupervised(struct vmm_run *r, bool force, uint32_t timeout_ms)
{
	char err[512];
	uint64_t end;

	if (r->state == VMM_ST_UNSUPERVISED) {
		if (!force) {
			if (qmp_direct(r->name, "system_powerdown", NULL, err, sizeof(err)))
				return error("%s: %s", r->name, err);
			end = vsl_time_mono_ms() + timeout_ms;
			while (vmm_pid_is(r->qemu_pid, qemu_exe()) &&
			       vsl_time_mono_ms() < end)
				usleep(100000);
			if (vmm_pid_is(r->qemu_pid, qemu_exe()))
				return error("%s did not power off in time (the guest ignored the ACPI "
					     "power button?); it is still running: use stop --force",
					     r->name);
		} else {
			qmp_direct(r->name, "quit", NULL, err, sizeof(err));
			end = vsl_time_mono_ms() + 5000;
			while (vmm_pid_is(r->qemu_pid, qemu_exe()) &&
			       vsl_time_mono_ms() < end)
				usleep(50000);
			if (vmm_pid_is(r->qemu_pid, qemu_exe()))
				kill(r->qemu_pid, SIGKILL);
			end = vsl_time_mono_ms() + 5000;
			while (vmm_pid_is(r->qemu_pid, qemu_exe()) &&
			       vsl_time_mono_ms() < end)
				usleep(50000);
		}
	}
	if (vmm_release(&env, r))
		return error("%s: could not release every port and export (see above)", r->name);
	snprintf(r->reason, sizeof(r->reason), "%s by vmm stop%s (its supervisor had died)",
		 r->state == VMM_ST_LOST ? "resources released" : "stopped",
		 force ? " --force" : "");
	r->state = VMM_ST_STOPPED;
	r->stopped_ns = vsl_time_wall_ns();
	vmm_run_save(&env, r);
	return 0;
}

static void print_stopped(struct json_object *o)
{
	if (opt_json)
		print_json(o);
	else
		printf("%s %s: %s\n", jstr(o, "name"), jstr(o, "state"), jstr(o, "reason"));
}

static int cmd_stop(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	bool force = false;
	uint64_t timeout_s = 60;
	struct vmm_run r;
	struct json_object *o, *p, *res;
	char err[1024];
	int c, ret;

	optind = 0;
	while ((c = getopt_long(argc, argv, "ft:", opts, NULL)) != -1) {
		if (c == 'f')
			force = true;
		else if (c == 't') {
			if (vsl_parse_u64(optarg, &timeout_s) || !timeout_s || timeout_s > 3600)
				die_usage("stop: --timeout needs 1-3600 seconds");
		} else
			die_usage("stop: unknown option");
	}
	if (argc - optind != 1)
		die_usage("stop: needs NAME");
	if (!vmm_name_valid(argv[optind]))
		return error("'%s' is not a valid VM name", argv[optind]);
	o = vm_status(argv[optind], &r);
	json_object_put(o);
	if (r.state == VMM_ST_UNSUPERVISED || r.state == VMM_ST_LOST) {
		ret = stop_unsupervised(&r, force, (uint32_t)timeout_s * 1000);
		if (!ret) {
			o = vmm_run_to_json(&r);
			print_stopped(o);
			json_object_put(o);
		}
		return ret;
	}
	if (!is_live(r.state))
		return error("%s is not running (%s)", r.name, vmm_state_name(r.state));
	p = json_object_new_object();
	json_object_object_add(p, "force", json_object_new_boolean(force));
	json_object_object_add(p, "timeout_ms", json_object_new_int64((int64_t)timeout_s * 1000));
	ret = super_call(r.name, "vm-stop", p, (int)(timeout_s * 1000 + 30000), &res, err,
			 sizeof(err));
	if (ret)
		return error("%s: %s", r.name, err);
	print_stopped(res);
	json_object_put(res);
	return 0;
}

/* ------------------------------------------------- pause, resume, reboot */

static int cmd_simple(const char *what, const char *method, const char *qmp_cmd, int argc,
		      char **argv)
{
	struct vmm_run r;
	struct json_object *o, *res = NULL;
	char err[1024];

	if (argc != 1)
		die_usage("%s: needs NAME", what);
	if (!vmm_name_valid(argv[0]))
		return error("'%s' is not a valid VM name", argv[0]);
	o = vm_status(argv[0], &r);
	json_object_put(o);
	if (r.state == VMM_ST_UNSUPERVISED) {
		if (qmp_direct(r.name, qmp_cmd, NULL, err, sizeof(err)))
			return error("%s: %s", r.name, err);
		if (!strcmp(qmp_cmd, "system_reset"))
			qmp_direct(r.name, "cont", NULL, err, sizeof(err));
		printf("%s: %s done over QMP (the supervisor is dead)\n", r.name, what);
		return 0;
	}
	if (!is_live(r.state))
		return error("%s is not running (%s)", r.name, vmm_state_name(r.state));
	if (super_call(r.name, method, NULL, env.rpc_timeout_ms, &res, err, sizeof(err)))
		return error("%s: %s", r.name, err);
	if (opt_json)
		print_json(res);
	else
		printf("%s: %s\n", r.name, jstr(res, "state"));
	json_object_put(res);
	return 0;
}

/* ------------------------------------------------------- list and status */

static void fmt_uptime(struct json_object *o, char *buf, size_t len)
{
	int64_t started = jint(o, "started_ns");
	const char *st = jstr(o, "state");
	uint64_t s;

	if (!started || (strcmp(st, "running") && strcmp(st, "paused") && strcmp(st, "stopping") &&
			 strcmp(st, "unsupervised"))) {
		snprintf(buf, len, "-");
		return;
	}
	s = (vsl_time_wall_ns() - (uint64_t)started) / 1000000000ull;
	if (s >= 3600)
		snprintf(buf, len, "%luh%02lum", (unsigned long)(s / 3600),
			 (unsigned long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, len, "%lum%02lus", (unsigned long)(s / 60), (unsigned long)(s % 60));
	else
		snprintf(buf, len, "%lus", (unsigned long)s);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names from the definitions and the runtime directory, sorted, unique. */
static size_t collect_names(char ***out)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	const char *dirs[2] = { env.def_dir, env.state_dir };

	for (int k = 0; k < 2; k++) {
		DIR *d = opendir(dirs[k]);

		for (struct dirent *de; d && (de = readdir(d));) {
			char name[300];
			size_t l = strlen(de->d_name);

			if (k == 0) {
				if (l < 6 || strcmp(de->d_name + l - 5, ".json"))
					continue;
				snprintf(name, sizeof(name), "%.*s", (int)(l - 5), de->d_name);
			} else {
				char p[VMM_PATH_MAX + 300];

				snprintf(p, sizeof(p), "%s/%s/state.json", env.state_dir, de->d_name);
				if (access(p, F_OK) < 0)
					continue;
				snprintf(name, sizeof(name), "%s", de->d_name);
			}
			if (!vmm_name_valid(name))
				continue;
			bool dup = false;
			for (size_t i = 0; i < n; i++)
				dup |= !strcmp(names[i], name);
			if (dup)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				names = realloc(names, cap * sizeof(*names));
				if (!names)
					abort();
			}
			names[n++] = strdup(name);
		}
		if (d)
			closedir(d);
	}
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	*out = names;
	return n;
}

static int cmd_list(int argc, char **argv)
{
	struct json_object *arr = json_object_new_array();
	char **names;
	size_t n;

	(void)argv;
	if (argc)
		die_usage("list: takes no arguments");
	n = collect_names(&names);
	if (!opt_json)
		printf("%-20s %-13s %8s %5s %7s %8s %s\n", "NAME", "STATE", "QEMU-PID", "VCPUS",
		       "MEMORY", "UPTIME", "PORTS");
	for (size_t i = 0; i < n; i++) {
		struct vmm_def d;
		struct vmm_run r;
		char path[VMM_PATH_MAX], up[32], ports[256] = "";
		struct json_object *o = vm_status(names[i], &r);
		bool defined;

		vmm_def_path(&env, names[i], path, sizeof(path));
		defined = vmm_def_load(path, &d, NULL, 0) == 0;
		json_object_object_add(o, "defined", json_object_new_boolean(defined));
		if (defined) {
			json_object_object_add(o, "vcpus", json_object_new_int((int)d.vcpus));
			json_object_object_add(o, "memory_mb",
					       json_object_new_int64((int64_t)d.memory_mb));
			for (unsigned k = 0; k < d.n_nics; k++)
				snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports), "%s%s",
					 k ? "," : "", d.nics[k].port);
		}
		if (!opt_json) {
			fmt_uptime(o, up, sizeof(up));
			printf("%-20s %-13s %8s %5s %7s %8s %s\n", names[i], jstr(o, "state"),
			       is_live(r.state) ? jstr(o, "qemu_pid") : "-",
			       defined ? jstr(o, "vcpus") : "-",
			       defined ? (snprintf(path, sizeof(path), "%" PRIu64 "M", d.memory_mb),
					  path) : "-",
			       up, ports[0] ? ports : "-");
		}
		json_object_array_add(arr, o);
		free(names[i]);
	}
	free(names);
	if (opt_json)
		print_json(arr);
	json_object_put(arr);
	return 0;
}

static void print_port_counters(const char *port)
{
	struct json_object *p = json_object_new_object(), *res = NULL, *e, *v;
	char err[256];

	json_object_object_add(p, "name", json_object_new_string(port));
	if (vmm_rpc(env.vswitchd_sock, "vswitchd", env.rpc_timeout_ms, "dump-ports", p, &res, err,
		    sizeof(err)) || !json_object_is_type(res, json_type_array) ||
	    !json_object_array_length(res)) {
		printf("  (vswitchd: %s)\n", err[0] ? err : "no such port");
		json_object_put(res);
		return;
	}
	e = json_object_array_get_idx(res, 0);
	printf("  link %s", jstr(e, "link"));
	if (json_object_object_get_ex(e, "stats", &v))
		printf("  rx %" PRId64 " pkts  tx %" PRId64 " pkts", jint(v, "rx_packets"),
		       jint(v, "tx_packets"));
	printf("\n");
	json_object_put(res);
}

static int cmd_status(int argc, char **argv)
{
	struct vmm_def d;
	struct vmm_run r;
	struct json_object *o, *arr;
	char path[VMM_PATH_MAX], up[32], how[128], m[18];
	bool defined;

	if (argc != 1)
		die_usage("status: needs NAME");
	if (!vmm_name_valid(argv[0]))
		return error("'%s' is not a valid VM name", argv[0]);
	vmm_def_path(&env, argv[0], path, sizeof(path));
	defined = vmm_def_load(path, &d, NULL, 0) == 0;
	vmm_vm_file(&env, argv[0], "state.json", path, sizeof(path));
	if (!defined && access(path, F_OK) < 0)
		return error("no VM named '%s'", argv[0]);
	o = vm_status(argv[0], &r);
	if (defined)
		json_object_object_add(o, "definition", vmm_def_to_json(&d));
	vmm_vm_file(&env, argv[0], "console.log", path, sizeof(path));
	json_object_object_add(o, "console_log", json_object_new_string(path));
	if (opt_json) {
		print_json(o);
		json_object_put(o);
		return 0;
	}
	fmt_uptime(o, up, sizeof(up));
	printf("name:        %s\n", r.name);
	printf("state:       %s", jstr(o, "state"));
	if (json_object_object_get_ex(o, "qmp_status", NULL))
		printf(" (QEMU: %s)", jstr(o, "qmp_status"));
	printf("\n");
	if (r.reason[0])
		printf("reason:      %s\n", r.reason);
	if (r.state == VMM_ST_CRASHED) {
		vmm_exit_describe(&r, how, sizeof(how));
		printf("exit:        QEMU %s\n", how);
	}
	printf("uptime:      %s\n", up);
	if (r.qemu_pid)
		printf("qemu pid:    %d%s\n", (int)r.qemu_pid, is_live(r.state) ? "" : " (exited)");
	if (r.supervisor_pid)
		printf("supervisor:  pid %d (%s)\n", (int)r.supervisor_pid, jstr(o, "supervisor"));
	printf("accel:       %s (%s)\n", vmm_accel_name(r.accel), r.accel_reason);
	printf("reboots:     %u\n", r.reboots);
	if (defined) {
		printf("vcpus:       %u\nmemory:      %" PRIu64 "M (%s)\n", d.vcpus, d.memory_mb,
		       d.mem_backend == VMM_MEM_HUGEPAGES ? "hugepages" : "memfd");
		for (unsigned i = 0; i < d.n_nics; i++) {
			printf("nic%u:        port %s  mac %s", i, d.nics[i].port,
			       vmm_mac_format(d.nics[i].mac, m, sizeof(m)));
			if (d.nics[i].vlan >= 0)
				printf("  vlan %d", d.nics[i].vlan);
			if (d.nics[i].vni >= 0)
				printf("  vni %" PRId64, d.nics[i].vni);
			if (is_live(r.state))
				print_port_counters(d.nics[i].port);
			else
				printf("\n");
		}
		for (unsigned i = 0; i < d.n_disks; i++)
			printf("disk%u:       %s%s  bdev %s%s%s\n", i, d.disks[i].source,
			       d.disks[i].readonly ? " (read-only)" : "", d.disks[i].bdev,
			       i < r.n_disks && is_live(r.state) ? "  export " : "",
			       i < r.n_disks && is_live(r.state) ? r.disks[i].export_name : "");
	}
	for (unsigned i = 0; defined && i < d.n_vfs; i++) {
		printf("vf%u:         pf %s  vf %s", i, d.vfs[i].pf,
		       d.vfs[i].index >= 0 ? (snprintf(up, sizeof(up), "%d", d.vfs[i].index), up)
					   : "any");
		if (i < r.n_vfs && is_live(r.state))
			printf("  -> VF %u at %s (vfio-pci)", r.vfs[i].index, r.vfs[i].pci_addr);
		printf("\n");
	}
	if (json_object_object_get_ex(o, "ports", &arr) && !defined)
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			printf("port:        %s\n", jstr(json_object_array_get_idx(arr, i), "port"));
	printf("console:     %s\n", path);
	json_object_put(o);
	return 0;
}

/* -------------------------------------------------------------- console */

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int cmd_console(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	bool follow = false;
	char path[VMM_PATH_MAX], buf[65536];
	int fd, c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (c == 'f')
			follow = true;
		else
			die_usage("console: unknown option");
	}
	if (argc - optind != 1)
		die_usage("console: needs NAME");
	if (!vmm_name_valid(argv[optind]))
		return error("'%s' is not a valid VM name", argv[optind]);
	vmm_vm_file(&env, argv[optind], "console.log", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && !follow)
		return error("%s has no console log (%s): %s", argv[optind], path, strerror(errno));
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	for (;;) {
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : 0;
		pid_t spid;

		if (n > 0) {
			if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
				break;
			continue;
		}
		fflush(stdout);
		if (!follow || interrupted)
			break;
		/* Following ends once the VM's supervisor is gone and all is read. */
		if (!supervisor_alive(argv[optind], &spid)) {
			if (fd < 0)
				break;
			n = read(fd, buf, sizeof(buf));
			if (n > 0) {
				fwrite(buf, 1, (size_t)n, stdout);
				continue;
			}
			break;
		}
		usleep(200000);
		if (fd < 0)
			fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd >= 0)
		close(fd);
	fflush(stdout);
	return 0;
}

/* ----------------------------------------------------------------- main */

struct command {
	const char *name;
	const char *args;
	const char *help;
	int (*fn)(int argc, char **argv);
	const char *method;         /* for pause/resume/reboot */
	const char *qmp;
};

static int cmd_pause(int argc, char **argv)
{
	return cmd_simple("pause", "vm-pause", "stop", argc, argv);
}
static int cmd_resume(int argc, char **argv)
{
	return cmd_simple("resume", "vm-resume", "cont", argc, argv);
}
static int cmd_reboot(int argc, char **argv)
{
	return cmd_simple("reboot", "vm-reboot", "system_reset", argc, argv);
}

static const struct command commands[] = {
	{ "define", "FILE", "validate a VM definition (JSON) and store it", cmd_define, NULL, NULL },
	{ "undefine", "NAME", "forget a stopped VM's definition and runtime files", cmd_undefine,
	  NULL, NULL },
	{ "start", "NAME", "create its switch ports and disk exports, start QEMU under a "
	  "supervisor", cmd_start, NULL, NULL },
	{ "stop", "NAME [--force] [--timeout SECS]", "ACPI power-off (default timeout 60 s), or "
	  "--force: QMP quit, then SIGKILL; releases ports and exports", cmd_stop, NULL, NULL },
	{ "pause", "NAME", "pause the guest's CPUs (QMP stop)", cmd_pause, NULL, NULL },
	{ "resume", "NAME", "resume a paused guest (QMP cont)", cmd_resume, NULL, NULL },
	{ "reboot", "NAME", "reset the guest (QMP system_reset)", cmd_reboot, NULL, NULL },
	{ "list", "", "every defined or running VM with its state", cmd_list, NULL, NULL },
	{ "status", "NAME", "state, uptime, QEMU pid, ports (with counters), disks", cmd_status,
	  NULL, NULL },
	{ "console", "NAME [--follow]", "print the serial console log (--follow: until the VM "
	  "stops or Ctrl-C)", cmd_console, NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTIONS] COMMAND [ARGS...]\n"
		"Vessel VM manager: QEMU guests with NICs on vswitchd and disks from blockd.\n\n"
		"Options:\n"
		"  --state-dir DIR        runtime state (default $VESSEL_RUNDIR/vmm: %s/vmm)\n"
		"  --def-dir DIR          VM definitions (default $VESSEL_VMM_DEFS or "
		"/var/lib/vessel/vmm)\n"
		"  --vswitchd-socket PATH (default %s/vswitchd.sock)\n"
		"  --blockd-socket PATH   (default %s/blockd.sock)\n"
		"  --qemu PATH            QEMU binary (default $VESSEL_QEMU or qemu-system-x86_64)\n"
		"  --sysfs-root DIR       sysfs for SR-IOV (default /sys; tests use a fake tree)\n"
		"  -j, --json             print results as JSON\n"
		"  -t, --timeout SECS     daemon RPC timeout (default 30)\n"
		"  -h, --help             this help (COMMAND --help for one command)\n"
		"  -V, --version\n\n"
		"Commands:\n",
		prog, vsl_daemon_rundir(), vsl_daemon_rundir(), vsl_daemon_rundir());
	for (size_t i = 0; i < VSL_ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-9s %-34s %s\n", commands[i].name, commands[i].args, commands[i].help);
	fprintf(f, "\nSR-IOV (docs/sriov.md; --sysfs-root DIR reads another sysfs tree):\n");
	vmm_vf_cli_usage(f);
	fprintf(f, "\nExit status: 0 success, 1 error, 2 usage error. See docs/vmm.md.\n");
}

static int find_in_path(const char *exe, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL;

	if (strchr(exe, '/')) {
		snprintf(out, len, "%s", exe);
		return access(out, X_OK) == 0 ? 0 : -ENOENT;
	}
	copy = strdup(path ? path : "/usr/bin:/bin");
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", d, exe);
		if (access(out, X_OK) == 0) {
			free(copy);
			return 0;
		}
	}
	free(copy);
	snprintf(out, len, "%s", exe);
	return -ENOENT;
}

static int set_sock(char *dst, const char *src, const char *what)
{
	if (strlen(src) >= VMM_SOCK_MAX)
		die_usage("%s: path longer than %d bytes", what, VMM_SOCK_MAX - 1);
	snprintf(dst, VMM_SOCK_MAX, "%s", src);
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_STATE = 256, O_DEFS, O_VSW, O_BLK, O_QEMU, O_SYSFS };
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "def-dir", required_argument, NULL, O_DEFS },
		{ "vswitchd-socket", required_argument, NULL, O_VSW },
		{ "blockd-socket", required_argument, NULL, O_BLK },
		{ "qemu", required_argument, NULL, O_QEMU },
		{ "sysfs-root", required_argument, NULL, O_SYSFS },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *rundir = vsl_daemon_rundir(), *qemu = getenv("VESSEL_QEMU");
	uint64_t t = 30;
	int c;

	signal(SIGPIPE, SIG_IGN);
	vsl_log_set_program(prog);
	vsl_log_set_level(NULL, VSL_LOG_WARN);
	snprintf(env.state_dir, sizeof(env.state_dir), "%s/vmm", rundir);
	snprintf(env.def_dir, sizeof(env.def_dir), "%s",
		 getenv("VESSEL_VMM_DEFS") ? getenv("VESSEL_VMM_DEFS") : "/var/lib/vessel/vmm");
	snprintf(env.vswitchd_sock, sizeof(env.vswitchd_sock), "%.90s/vswitchd.sock", rundir);
	snprintf(env.blockd_sock, sizeof(env.blockd_sock), "%.90s/blockd.sock", rundir);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:jt:hV", opts, NULL)) != -1) {
		switch (c) {
		case O_STATE:
			snprintf(env.state_dir, sizeof(env.state_dir), "%s", optarg);
			break;
		case O_DEFS:
			snprintf(env.def_dir, sizeof(env.def_dir), "%s", optarg);
			break;
		case O_VSW: set_sock(env.vswitchd_sock, optarg, "--vswitchd-socket"); break;
		case O_BLK: set_sock(env.blockd_sock, optarg, "--blockd-socket"); break;
		case O_QEMU: qemu = optarg; break;
		case O_SYSFS:
			snprintf(env.sysfs_root, sizeof(env.sysfs_root), "%s", optarg);
			break;
		case 'j': opt_json = true; break;
		case 't':
			if (vsl_parse_u64(optarg, &t) || !t || t > 3600)
				die_usage("--timeout needs 1-3600 seconds");
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s (Vessel) %s\n", prog, VSL_VERSION);
			return 0;
		case ':':
			die_usage("option '%s' needs an argument", argv[optind - 1]);
		default:
			die_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	env.rpc_timeout_ms = (int)t * 1000;
	find_in_path(qemu ? qemu : "qemu-system-x86_64", env.qemu, sizeof(env.qemu));
	if (optind >= argc) {
		fprintf(stderr, "%s: missing command\n", prog);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (vmm_vf_cli_is_command(argv[optind])) {
		struct vmm_vf_cli_opts vo = { .json = opt_json, .prog = prog };

		vo.env.sysfs_root = env.sysfs_root[0] ? env.sysfs_root : NULL;
		return vmm_vf_cli(argc - optind, argv + optind, &vo);
	}
	for (size_t i = 0; i < VSL_ARRAY_SIZE(commands); i++) {
		const struct command *cmd = &commands[i];
		int sub_argc = argc - optind - 1;
		char **sub_argv = argv + optind + 1;

		if (strcmp(argv[optind], cmd->name))
			continue;
		if (sub_argc >= 1 && (!strcmp(sub_argv[0], "--help") || !strcmp(sub_argv[0], "-h"))) {
			printf("Usage: %s [OPTIONS] %s %s\n%s\n", prog, cmd->name, cmd->args, cmd->help);
			return 0;
		}
		/* getopt in the command sees its own argv[0]. */
		if (cmd->fn == cmd_stop || cmd->fn == cmd_console)
			return cmd->fn(sub_argc + 1, sub_argv - 1);
		for (int k = 0; k < sub_argc; k++)
			if (sub_argv[k][0] == '-' && sub_argv[k][1])
				die_usage("%s: unknown option '%s'", cmd->name, sub_argv[k]);
		return cmd->fn(sub_argc, sub_argv);
	}
	die_usage("unknown command '%s'", argv[optind]);
}
