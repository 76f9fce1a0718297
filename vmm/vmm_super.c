/* vmm_super.c — the per-VM supervisor (see vmm_internal.h).
 *
 * One process per running VM, forked by `vmm start`, a session leader whose
 * stdio is /dev/null (its log is <vmdir>/supervisor.log). It is a small Vessel
 * daemon (vsl_daemon: pid file with a lock, signals, loop, JSON-RPC socket):
 *
 *   QEMU         its child; watched through a pidfd, so its exit status is
 *                known exactly (a VM that dies is "crashed" with that status)
 *   QMP          the supervisor is QEMU's only QMP client; events (STOP,
 *                RESUME, RESET, SHUTDOWN, GUEST_PANICKED) update the state
 *   JSON-RPC     <vmdir>/supervisor.sock: vm-status, vm-pause, vm-resume,
 *                vm-reboot, vm-stop {force, timeout_ms}
 *   state.json   rewritten on every change; the CLI's source of truth when
 *                the supervisor is gone
 *
 * When QEMU exits the supervisor releases the VM's ports and exports, writes
 * the final state, answers pending vm-stop calls and exits. SIGTERM to the
 * supervisor stops the VM the hard way (QMP quit, then SIGKILL).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm_internal.h"
#include "vsl_daemon.h"
#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_rpc.h"
#include "vsl_time.h"
#include "vsl_util.h"

VSL_LOG_MODULE(super);

enum {
	QMP_START_TIMEOUT_MS = 60000,   /* QEMU start under TCG on a loaded host */
	QMP_CMD_TIMEOUT_MS = 10000,
	QUIT_GRACE_MS = 5000,           /* after QMP quit, before SIGKILL */
	MAX_WAITERS = 16,
};

struct super {
	const struct vmm_env *env;
	const struct vmm_def *def;
	struct vmm_run *run;
	char vmdir[VMM_PATH_MAX];
	struct vsl_daemon daemon;
	struct vmm_qmp *qmp;
	int pidfd;
	bool qemu_exited;
	int wait_status;
	bool stop_requested;            /* vm-stop asked: an exit is not a crash */
	bool force;
	char shutdown_reason[64];       /* from the QMP SHUTDOWN event */
	bool panicked;
	uint64_t last_reset_ms;
	struct vsl_timer *powerdown_timer;
	struct vsl_timer *kill_timer;
	struct vsl_rpc_call *waiters[MAX_WAITERS];   /* vm-stop calls awaiting the exit */
	unsigned n_waiters;
};

static struct super *S;

static void save(struct super *s)
{
	int ret = vmm_run_save(s->env, s->run);

	if (ret)
		VSL_WARN("cannot write state.json: %s", strerror(-ret));
}

/* ------------------------------------------------------------------- QEMU */

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int spawn_qemu(struct super *s, char *err, size_t errlen)
{
	char log[VMM_PATH_MAX + 16], **argv = NULL;
	int fd, ret;
	pid_t pid;

	ret = vmm_qemu_argv(s->env, s->def, s->run, s->vmdir, &argv);
	if (ret)
		return vsl_errf(err, errlen, ret, "cannot build QEMU's command line");
	vmm_pathf(log, sizeof(log), "%s/qemu.log", s->vmdir);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = vsl_neg_errno();
		vmm_argv_free(argv);
		return vsl_errf(err, errlen, ret, "%s: %s", log, strerror(-ret));
	}
	for (char **p = argv; *p; p++) {
		dprintf(fd, "%s%s", p == argv ? "" : " ", *p);
	}
	dprintf(fd, "\n");
	pid = fork();
	if (pid < 0) {
		ret = vsl_neg_errno();
		close(fd);
		vmm_argv_free(argv);
		return vsl_errf(err, errlen, ret, "fork: %s", strerror(-ret));
	}
	if (pid == 0) {
		sigset_t none;
		int nul = open("/dev/null", O_RDONLY);

		/* The supervisor blocks its signals for the signalfd; QEMU must
		 * not inherit that mask (SIGTERM has to reach it). */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		syscall(SYS_close_range, 3u, ~0u, 0u);
		execv(argv[0], argv);
		dprintf(2, "vmm: cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	vmm_argv_free(argv);
	s->run->qemu_pid = pid;
	s->run->started_ns = vsl_time_wall_ns();
	s->pidfd = pidfd_open_(pid);
	if (s->pidfd < 0) {
		ret = vsl_neg_errno();
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return vsl_errf(err, errlen, ret, "pidfd_open: %s", strerror(-ret));
	}
	VSL_INFO("%s: QEMU started (pid %d, %s)", s->def->name, (int)pid,
		 vmm_accel_name(s->run->accel));
	return 0;
}

/* Non-blocking reap; true once QEMU has exited. */
static bool reap(struct super *s)
{
	int status;

	if (s->qemu_exited)
		return true;
	if (waitpid(s->run->qemu_pid, &status, WNOHANG) == s->run->qemu_pid) {
		s->qemu_exited = true;
		s->wait_status = status;
		if (WIFSIGNALED(status))
			s->run->exit_signal = WTERMSIG(status);
		else
			s->run->exit_code = WEXITSTATUS(status);
		return true;
	}
	return false;
}

static void tail_of(const char *path, char *buf, size_t len)
{
	char *text = NULL;
	size_t n = 0;

	buf[0] = '\0';
	if (vsl_read_file(path, 1 << 20, &text, &n))
		return;
	/* The last line that is not QEMU's echoed command line. */
	while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
		text[--n] = '\0';
	{
		char *nl = strrchr(text, '\n');

		if (nl)
			snprintf(buf, len, "%s", nl + 1);
	}
	free(text);
}

/* ----------------------------------------------------------------- events */

static void set_state(struct super *s, enum vmm_vm_state st)
{
	if (s->run->state == st)
		return;
	VSL_INFO("%s: %s -> %s", s->def->name, vmm_state_name(s->run->state), vmm_state_name(st));
	s->run->state = st;
	save(s);
}

static void on_qmp_event(void *arg, const char *ev, struct json_object *data)
{
	struct super *s = arg;
	struct json_object *v;

	VSL_DBG("QMP event %s", ev);
	if (!strcmp(ev, "STOP")) {
		if (s->run->state == VMM_ST_RUNNING)
			set_state(s, VMM_ST_PAUSED);
	} else if (!strcmp(ev, "RESUME")) {
		if (s->run->state == VMM_ST_PAUSED)
			set_state(s, VMM_ST_RUNNING);
	} else if (!strcmp(ev, "RESET")) {
		const char *why = data && json_object_object_get_ex(data, "reason", &v)
					  ? json_object_get_string(v) : "?";

		/* A reboot from inside the guest or `vmm reboot`; not the
		 * resets QEMU does on its own. */
		uint64_t now = vsl_time_mono_ms();

		/* One reboot, from inside the guest or `vmm reboot`; the firmware
		 * resets the machine again while it restarts, which is not
		 * another reboot. */
		if ((!strcmp(why, "guest-reset") || !strcmp(why, "host-qmp-system-reset")) &&
		    (!s->last_reset_ms || now - s->last_reset_ms > 3000)) {
			s->run->reboots++;
			save(s);
		}
		s->last_reset_ms = now;
		VSL_INFO("%s: reset (%s), %u reboots so far", s->def->name, why, s->run->reboots);
	} else if (!strcmp(ev, "SHUTDOWN")) {
		if (data && json_object_object_get_ex(data, "reason", &v))
			snprintf(s->shutdown_reason, sizeof(s->shutdown_reason), "%s",
				 json_object_get_string(v));
		else
			snprintf(s->shutdown_reason, sizeof(s->shutdown_reason), "unknown");
		VSL_INFO("%s: QEMU shutting down (%s)", s->def->name, s->shutdown_reason);
	} else if (!strcmp(ev, "GUEST_PANICKED")) {
		s->panicked = true;
		VSL_WARN("%s: the guest kernel panicked", s->def->name);
	}
}

static void finish(struct super *s);

static void on_qmp_readable(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct super *s = arg;

	(void)events;
	if (vmm_qmp_poll(s->qmp) == 0)
		return;
	/* QEMU closed QMP: it is exiting; the pidfd says when it is gone. */
	vsl_loop_del_fd(loop, fd);
	vmm_qmp_close(s->qmp);
	s->qmp = NULL;
}

static void on_pidfd(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct super *s = arg;

	(void)events;
	if (!reap(s))
		return;
	vsl_loop_del_fd(loop, fd);
	/* The pidfd and QMP may become readable in the same loop iteration, the
	 * pidfd first: read the events QEMU wrote before exiting (SHUTDOWN and its
	 * reason) before deciding whether it stopped or crashed. */
	if (s->qmp) {
		vmm_qmp_drain(s->qmp);
		vsl_loop_del_fd(loop, vmm_qmp_fd(s->qmp));
		vmm_qmp_close(s->qmp);
		s->qmp = NULL;
	}
	finish(s);
	vsl_loop_stop(loop);
}

/* Decides stopped vs crashed, releases, answers vm-stop callers. */
static void finish(struct super *s)
{
	struct vmm_run *r = s->run;
	char how[128], tail[256], qlog[VMM_PATH_MAX + 16];

	if (s->powerdown_timer) {
		vsl_timer_cancel(s->daemon.loop, s->powerdown_timer);
		s->powerdown_timer = NULL;
	}
	if (s->kill_timer) {
		vsl_timer_cancel(s->daemon.loop, s->kill_timer);
		s->kill_timer = NULL;
	}
	vmm_exit_describe(r, how, sizeof(how));
	vmm_pathf(qlog, sizeof(qlog), "%s/qemu.log", s->vmdir);
	if (s->stop_requested) {
		r->state = VMM_ST_STOPPED;
		snprintf(r->reason, sizeof(r->reason), "%s (QEMU %s)",
			 s->force ? "stopped by vmm stop --force" : "powered off by vmm stop", how);
	} else if (!strcmp(s->shutdown_reason, "guest-shutdown") && r->exit_code == 0) {
		r->state = VMM_ST_STOPPED;
		snprintf(r->reason, sizeof(r->reason), "the guest powered off");
	} else if (s->panicked || !strcmp(s->shutdown_reason, "guest-panic")) {
		r->state = VMM_ST_CRASHED;
		snprintf(r->reason, sizeof(r->reason), "the guest kernel panicked (QEMU %s)", how);
	} else if (!strcmp(s->shutdown_reason, "host-signal")) {
		r->state = VMM_ST_CRASHED;
		snprintf(r->reason, sizeof(r->reason), "QEMU was terminated by a signal from the "
			 "host (QEMU %s)", how);
	} else {
		tail_of(qlog, tail, sizeof(tail));
		r->state = VMM_ST_CRASHED;
		vsl_errf(r->reason, sizeof(r->reason), 0, "QEMU %s%s%s", how,
			 tail[0] && r->exit_signal < 0 ? ": " : "", r->exit_signal < 0 ? tail : "");
	}
	r->stopped_ns = vsl_time_wall_ns();
	if (r->state == VMM_ST_CRASHED)
		VSL_WARN("%s: crashed: %s", s->def->name, r->reason);
	else
		VSL_INFO("%s: stopped: %s", s->def->name, r->reason);
	vmm_release(s->env, r);
	save(s);
	/* QEMU removes its listening sockets on a clean exit, not when killed. */
	for (unsigned i = 0; i < r->n_ports; i++)
		unlink(r->ports[i].socket);
	vmm_pathf(qlog, sizeof(qlog), "%s/qmp.sock", s->vmdir);
	unlink(qlog);
	for (unsigned i = 0; i < s->n_waiters; i++)
		vsl_rpc_reply(s->waiters[i], vmm_run_to_json(r));
	s->n_waiters = 0;
}

/* ------------------------------------------------------------- JSON-RPC */

static int qmp_simple(struct vsl_rpc_call *call, const char *cmd)
{
	char err[512];
	int ret;

	if (!S->qmp) {
		vsl_rpc_reply_errno(call, -ESRCH, "QEMU is exiting");
		return 0;
	}
	ret = vmm_qmp_exec(S->qmp, cmd, NULL, NULL, QMP_CMD_TIMEOUT_MS, err, sizeof(err));
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "%s", err);
		return 0;
	}
	return 1;
}

static const char *qmp_status(struct super *s, char *buf, size_t len)
{
	struct json_object *res = NULL, *v;

	snprintf(buf, len, "unknown");
	if (s->qmp && vmm_qmp_exec(s->qmp, "query-status", NULL, &res, QMP_CMD_TIMEOUT_MS, NULL,
				   0) == 0 && json_object_object_get_ex(res, "status", &v))
		snprintf(buf, len, "%s", json_object_get_string(v));
	json_object_put(res);
	return buf;
}

static int rpc_vm_status(struct vsl_rpc_call *call, struct json_object *params)
{
	struct json_object *o;
	char st[64];

	if (vsl_rpc_decode(call, params, NULL, 0, NULL))
		return 0;
	qmp_status(S, st, sizeof(st));
	/* QMP answered after a STOP/RESUME we have not polled yet: trust it. */
	if (!strcmp(st, "paused") && S->run->state == VMM_ST_RUNNING)
		set_state(S, VMM_ST_PAUSED);
	else if (!strcmp(st, "running") && S->run->state == VMM_ST_PAUSED)
		set_state(S, VMM_ST_RUNNING);
	o = vmm_run_to_json(S->run);
	json_object_object_add(o, "qmp_status", json_object_new_string(st));
	json_object_object_add(o, "supervisor", json_object_new_string("alive"));
	vsl_rpc_reply(call, o);
	return 0;
}
VSL_RPC_REGISTER("vm-status", rpc_vm_status, "the VM's state, QEMU pid, ports and disks")

/* pause, resume and reboot: a running or paused guest, one QMP command (and
 * `cont` after a reset of a paused guest: reboot means run it), new state. */
static int qmp_lifecycle(struct vsl_rpc_call *call, struct json_object *params,
			 const char *cmd, enum vmm_vm_state to)
{
	if (vsl_rpc_decode(call, params, NULL, 0, NULL))
		return 0;
	if (S->run->state != VMM_ST_RUNNING && S->run->state != VMM_ST_PAUSED) {
		vsl_rpc_reply_errno(call, -EBUSY, "%s is %s", S->def->name,
				    vmm_state_name(S->run->state));
		return 0;
	}
	if (qmp_simple(call, cmd) <= 0)
		return 0;
	if (!strcmp(cmd, "system_reset") && S->run->state == VMM_ST_PAUSED &&
	    qmp_simple(call, "cont") <= 0)
		return 0;
	set_state(S, to);
	vsl_rpc_reply(call, vmm_run_to_json(S->run));
	return 0;
}

static int rpc_vm_pause(struct vsl_rpc_call *call, struct json_object *params)
{
	return qmp_lifecycle(call, params, "stop", VMM_ST_PAUSED);
}
VSL_RPC_REGISTER("vm-pause", rpc_vm_pause, "pause the guest's CPUs (QMP stop)")

static int rpc_vm_resume(struct vsl_rpc_call *call, struct json_object *params)
{
	return qmp_lifecycle(call, params, "cont", VMM_ST_RUNNING);
}
VSL_RPC_REGISTER("vm-resume", rpc_vm_resume, "resume a paused guest (QMP cont)")

static int rpc_vm_reboot(struct vsl_rpc_call *call, struct json_object *params)
{
	return qmp_lifecycle(call, params, "system_reset", VMM_ST_RUNNING);
}
VSL_RPC_REGISTER("vm-reboot", rpc_vm_reboot, "reset the guest (QMP system_reset)")

static void on_kill_timer(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct super *s = arg;

	(void)loop;
	(void)t;
	s->kill_timer = NULL;
	if (!s->qemu_exited) {
		VSL_WARN("%s: QEMU did not quit within %d ms: SIGKILL", s->def->name, QUIT_GRACE_MS);
		kill(s->run->qemu_pid, SIGKILL);
	}
}

static void force_quit(struct super *s)
{
	char err[256];

	s->stop_requested = true;
	s->force = true;
	set_state(s, VMM_ST_STOPPING);
	if (s->qmp && vmm_qmp_exec(s->qmp, "quit", NULL, NULL, 2000, err, sizeof(err)))
		VSL_WARN("%s: %s", s->def->name, err);
	if (!s->kill_timer)
		s->kill_timer = vsl_timer_add(s->daemon.loop, QUIT_GRACE_MS, 0, on_kill_timer, s);
	if (!s->kill_timer)
		kill(s->run->qemu_pid, SIGKILL);
}

static void on_powerdown_timeout(struct vsl_loop *loop, struct vsl_timer *t, void *arg)
{
	struct super *s = arg;
	struct vsl_rpc_call *keep[MAX_WAITERS];
	unsigned n = s->n_waiters;
	char st[64];

	(void)loop;
	(void)t;
	s->powerdown_timer = NULL;
	if (s->qemu_exited || s->force)
		return;
	VSL_WARN("%s: the guest did not power off in time", s->def->name);
	s->stop_requested = false;
	qmp_status(s, st, sizeof(st));
	set_state(s, !strcmp(st, "paused") ? VMM_ST_PAUSED : VMM_ST_RUNNING);
	memcpy(keep, s->waiters, n * sizeof(keep[0]));
	s->n_waiters = 0;
	for (unsigned i = 0; i < n; i++)
		vsl_rpc_reply_errno(keep[i], -ETIMEDOUT, "%s did not power off in time (the guest "
				    "ignored the ACPI power button?); it is still running: use "
				    "stop --force", s->def->name);
}

struct stop_params {
	bool force;
	uint32_t timeout_ms;
};

static int rpc_vm_stop(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("force", struct stop_params, force, VSL_RPC_BOOL, true),
		VSL_RPC_PARAM("timeout_ms", struct stop_params, timeout_ms, VSL_RPC_UINT32, true),
	};
	struct stop_params p = { .force = false, .timeout_ms = 60000 };
	char err[256];

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return 0;
	if (S->n_waiters == MAX_WAITERS) {
		vsl_rpc_reply_errno(call, -EBUSY, "too many stop requests pending");
		return 0;
	}
	if (S->qemu_exited) {
		vsl_rpc_reply(call, vmm_run_to_json(S->run));
		return 0;
	}
	if (p.force) {
		if (S->powerdown_timer) {
			vsl_timer_cancel(S->daemon.loop, S->powerdown_timer);
			S->powerdown_timer = NULL;
		}
		force_quit(S);
	} else if (!S->stop_requested) {
		if (!S->qmp) {
			vsl_rpc_reply_errno(call, -ESRCH, "QEMU is exiting");
			return 0;
		}
		if (vmm_qmp_exec(S->qmp, "system_powerdown", NULL, NULL, QMP_CMD_TIMEOUT_MS, err,
				 sizeof(err))) {
			vsl_rpc_reply_errno(call, -EIO, "%s", err);
			return 0;
		}
		S->stop_requested = true;
		set_state(S, VMM_ST_STOPPING);
		S->powerdown_timer = vsl_timer_add(S->daemon.loop, p.timeout_ms ? p.timeout_ms : 1, 0,
						   on_powerdown_timeout, S);
	}
	vsl_rpc_defer(call);
	S->waiters[S->n_waiters++] = call;
	return 0;
}
VSL_RPC_REGISTER("vm-stop", rpc_vm_stop,
		 "stop the VM: {force?: QMP quit then SIGKILL, timeout_ms?: for the ACPI "
		 "power-off}; answers once QEMU has exited")

/* ------------------------------------------------------------------ main */

static void notify(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notify(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if (fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	vsl_write_all(fd, buf, (size_t)n);
	close(fd);
}

/* Waits until QEMU has created its QMP socket, or has exited. */
static int wait_qmp_socket(struct super *s, const char *path, uint64_t deadline)
{
	struct stat st;

	while (vsl_time_mono_ms() < deadline) {
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (reap(s))
			return -ECHILD;
		usleep(20000);
	}
	return -ETIMEDOUT;
}

int vmm_super_main(const struct vmm_env *env, const struct vmm_def *d, struct vmm_run *r,
		   int notify_fd)
{
	static struct super sup;
	struct super *s = &sup;
	struct vsl_daemon_args args = { 0 };
	char sock[VMM_PATH_MAX + 32], pidfile[VMM_PATH_MAX + 32], log[VMM_PATH_MAX + 32];
	char qmp[VMM_PATH_MAX + 32], err[1024], tail[256], st[64];
	uint64_t deadline;
	int ret;

	memset(s, 0, sizeof(*s));
	S = s;
	s->env = env;
	s->def = d;
	s->run = r;
	s->pidfd = -1;
	vmm_vm_dir(env, d->name, s->vmdir, sizeof(s->vmdir));
	vmm_pathf(sock, sizeof(sock), "%s/supervisor.sock", s->vmdir);
	vmm_pathf(pidfile, sizeof(pidfile), "%s/supervisor.pid", s->vmdir);
	vmm_pathf(log, sizeof(log), "%s/supervisor.log", s->vmdir);
	vmm_pathf(qmp, sizeof(qmp), "%s/qmp.sock", s->vmdir);
	args.name = "vmm-supervisor";
	args.sock_path = sock;
	args.pidfile = pidfile;
	args.log_file = log;
	r->supervisor_pid = getpid();

	vsl_log_set_level(NULL, VSL_LOG_INFO);
	ret = vsl_daemon_init(&s->daemon, &args);
	if (ret) {
		vmm_release(env, r);
		r->state = VMM_ST_STOPPED;
		snprintf(r->reason, sizeof(r->reason), "supervisor failed to start: %s",
			 strerror(-ret));
		save(s);
		notify(notify_fd, "ERR cannot start the supervisor: %s (see %s)\n", strerror(-ret),
		       log);
		return 1;
	}
	r->state = VMM_ST_STARTING;
	save(s);
	ret = spawn_qemu(s, err, sizeof(err));
	if (ret)
		goto fail;
	deadline = vsl_time_mono_ms() + QMP_START_TIMEOUT_MS;
	ret = wait_qmp_socket(s, qmp, deadline);
	if (ret == 0) {
		uint64_t now = vsl_time_mono_ms();

		s->qmp = vmm_qmp_connect(qmp, (int)(deadline > now ? deadline - now : 1),
					 on_qmp_event, s, err, sizeof(err));
		if (!s->qmp)
			ret = -EIO;
	} else {
		snprintf(err, sizeof(err), "QEMU did not create its QMP socket");
	}
	if (ret) {
		vmm_pathf(log, sizeof(log), "%s/qemu.log", s->vmdir);
		if (!reap(s)) {
			kill(r->qemu_pid, SIGKILL);
			waitpid(r->qemu_pid, NULL, 0);
			s->qemu_exited = true;
			if (r->n_ports)
				snprintf(err + strlen(err), sizeof(err) - strlen(err),
					 " (QEMU waits for vswitchd to connect to the NIC sockets "
					 "before it answers: is vswitchd running?)");
		} else {
			tail_of(log, tail, sizeof(tail));
			snprintf(err, sizeof(err), "QEMU exited at start: %s", tail);
		}
		goto fail;
	}
	ret = vsl_daemon_start(&s->daemon);
	if (ret) {
		vsl_errf(err, sizeof(err), ret, "cannot listen on %s: %s", sock, strerror(-ret));
		goto fail_kill;
	}
	if (vsl_loop_add_fd(s->daemon.loop, vmm_qmp_fd(s->qmp), EPOLLIN, on_qmp_readable, s) ||
	    vsl_loop_add_fd(s->daemon.loop, s->pidfd, EPOLLIN, on_pidfd, s)) {
		snprintf(err, sizeof(err), "cannot watch QEMU: %s", strerror(errno));
		goto fail_kill;
	}
	qmp_status(s, st, sizeof(st));
	set_state(s, !strcmp(st, "paused") ? VMM_ST_PAUSED : VMM_ST_RUNNING);
	notify(notify_fd, "OK %d\n", (int)r->qemu_pid);
	notify_fd = -1;

	vsl_daemon_run(&s->daemon);

	if (!s->qemu_exited) {
		/* SIGTERM or `shutdown`: stop QEMU the hard way, wait for it. */
		uint64_t end;

		VSL_INFO("%s: supervisor told to stop: quitting QEMU", d->name);
		s->stop_requested = true;
		s->force = true;
		if (s->qmp)
			vmm_qmp_exec(s->qmp, "quit", NULL, NULL, 2000, NULL, 0);
		end = vsl_time_mono_ms() + QUIT_GRACE_MS;
		while (!reap(s) && vsl_time_mono_ms() < end)
			usleep(20000);
		if (!reap(s)) {
			kill(r->qemu_pid, SIGKILL);
			while (!reap(s))
				usleep(10000);
		}
		finish(s);
		snprintf(r->reason, sizeof(r->reason), "the supervisor was told to stop; QEMU quit");
		save(s);
	}
	vmm_qmp_close(s->qmp);
	if (s->pidfd >= 0)
		close(s->pidfd);
	vsl_daemon_fini(&s->daemon);
	return 0;

fail_kill:
	if (s->qmp)
		vmm_qmp_exec(s->qmp, "quit", NULL, NULL, 2000, NULL, 0);
	if (!reap(s)) {
		kill(r->qemu_pid, SIGKILL);
		waitpid(r->qemu_pid, NULL, 0);
	}
fail:
	VSL_ERR("%s: start failed: %s", d->name, err);
	vmm_qmp_close(s->qmp);
	s->qmp = NULL;
	if (s->pidfd >= 0)
		close(s->pidfd);
	vmm_release(env, r);
	r->state = VMM_ST_STOPPED;
	r->stopped_ns = vsl_time_wall_ns();
	snprintf(r->reason, sizeof(r->reason), "start failed: %.200s", err);
	save(s);
	for (unsigned i = 0; i < r->n_ports; i++)
		unlink(r->ports[i].socket);
	unlink(qmp);
	notify(notify_fd, "ERR %s\n", err);
	vsl_daemon_fini(&s->daemon);
	return 1;
}
