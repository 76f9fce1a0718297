/* vsl_daemon.c — shared daemon skeleton. See vsl_daemon.h. */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vsl_config.h"
#include "vsl_daemon.h"
#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_rpc.h"
#include "vsl_time.h"
#include "vsl_util.h"

VSL_LOG_MODULE(daemon);

static struct vsl_daemon *the_daemon;

const char *vsl_daemon_rundir(void)
{
	const char *d = getenv("VESSEL_RUNDIR");
	return d && *d ? d : "/run/vessel";
}

static void print_usage(FILE *f, const char *name, const char *summary, const char *extra)
{
	fprintf(f,
		"Usage: %s [OPTIONS]%s\n"
		"%s\n\n"
		"Options:\n"
		"  -s, --socket PATH     JSON-RPC socket (default %s/%s.sock)\n"
		"  -c, --config FILE     replay the RPC calls in FILE at start\n"
		"  -p, --pidfile PATH    pid file (default %s/%s.pid)\n"
		"      --no-pidfile      do not write a pid file\n"
		"  -l, --log-file PATH   log to PATH instead of stderr (SIGHUP reopens it)\n"
		"  -v, --log-level SPEC  LEVEL or MODULE:LEVEL,... (off, err, warn, info, dbg)\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n"
		"%s%s"
		"\nThe run directory is $VESSEL_RUNDIR, or /run/vessel when it is not set.\n",
		name, extra ? " [-- EXTRA...]" : "", summary, vsl_daemon_rundir(), name,
		vsl_daemon_rundir(), name, extra ? "\n" : "", extra ? extra : "");
}

int vsl_daemon_parse_args(struct vsl_daemon_args *a, const char *name, const char *summary,
			  const char *extra_usage, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "no-pidfile", no_argument, NULL, 'P' },
		{ "log-file", required_argument, NULL, 'l' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->name = name;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:s:c:p:l:v:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's': a->sock_path = optarg; break;
		case 'c': a->config = optarg; break;
		case 'p': a->pidfile = optarg; break;
		case 'P': a->pidfile = ""; break;
		case 'l': a->log_file = optarg; break;
		case 'v':
			if (vsl_log_set_spec(optarg)) {
				fprintf(stderr, "%s: invalid log level '%s'\n", name, optarg);
				goto usage;
			}
			a->log_level = optarg;
			break;
		case 'h':
			print_usage(stdout, name, summary, extra_usage);
			return 1;
		case 'V':
			printf("%s (Vessel) %s\n", name, VSL_VERSION);
			return 1;
		case ':':
			fprintf(stderr, "%s: option '%s' needs an argument\n", name, argv[optind - 1]);
			goto usage;
		default:
			fprintf(stderr, "%s: unknown option '%s'\n", name, argv[optind - 1]);
			goto usage;
		}
	}
	if (optind < argc && !extra_usage) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", name, argv[optind]);
		goto usage;
	}
	if (optind < argc && strcmp(argv[optind - 1], "--")) {
		fprintf(stderr, "%s: unexpected argument '%s' (extra arguments go after --)\n", name,
			argv[optind]);
		goto usage;
	}
	a->extra_argc = argc - optind;
	a->extra_argv = argv + optind;
	return 0;
usage:
	fprintf(stderr, "Try '%s --help' for more information.\n", name);
	return 2;
}

/* ----------------------------------------------------------------- pid file */

static int pidfile_create(struct vsl_daemon *d)
{
	char buf[32];
	int fd, len;

	fd = open(d->pidfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		VSL_ERR("cannot open pid file %s: %s", d->pidfile, strerror(errno));
		return vsl_neg_errno();
	}
	/* The lock, not the file's existence, says a daemon is running: a file
	 * left by a killed daemon is simply taken over. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		VSL_ERR("%s is already running (pid %s, pid file %s)", d->args.name,
			buf[0] ? buf : "?", d->pidfile);
		close(fd);
		return -EALREADY;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, len, 0) != len) {
		VSL_ERR("cannot write pid file %s: %s", d->pidfile, strerror(errno));
		close(fd);
		return -EIO;
	}
	d->pid_fd = fd;
	return 0;
}

/* ------------------------------------------------------------------ signals */

static void on_signal(struct vsl_loop *loop, int fd, uint32_t events, void *arg)
{
	struct vsl_daemon *d = arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			VSL_INFO("signal %d: shutting down", (int)si.ssi_signo);
			vsl_loop_stop(loop);
			break;
		case SIGHUP:
			VSL_INFO("SIGHUP: reopening log file");
			vsl_log_reopen();
			break;
		default:
			break;
		}
	}
	(void)d;
}

static int signals_init(struct vsl_daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked in this thread before any other is created, so every thread
	 * inherits the mask and only the signalfd sees these signals. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -EINVAL;
	signal(SIGPIPE, SIG_IGN);
	d->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sig_fd < 0)
		return vsl_neg_errno();
	return vsl_loop_add_fd(d->loop, d->sig_fd, EPOLLIN, on_signal, d);
}

/* -------------------------------------------------------------- lifecycle */

int vsl_daemon_init(struct vsl_daemon *d, const struct vsl_daemon_args *a)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->args = *a;
	d->pid_fd = -1;
	d->sig_fd = -1;
	d->start_ns = vsl_time_mono_ns();
	vsl_log_set_program(a->name);
	if (a->log_file) {
		ret = vsl_log_open_file(a->log_file);
		if (ret) {
			fprintf(stderr, "%s: cannot open log file %s: %s\n", a->name, a->log_file,
				strerror(-ret));
			return ret;
		}
	}
	if (a->sock_path)
		ret = snprintf(d->sock_path, sizeof(d->sock_path), "%s", a->sock_path);
	else
		ret = snprintf(d->sock_path, sizeof(d->sock_path), "%s/%s.sock", vsl_daemon_rundir(),
			       a->name);
	if (ret >= (int)sizeof(d->sock_path)) {
		VSL_ERR("socket path too long (at most %zu bytes)", sizeof(d->sock_path) - 1);
		return -ENAMETOOLONG;
	}
	if (a->pidfile)
		snprintf(d->pidfile, sizeof(d->pidfile), "%s", a->pidfile);
	else
		snprintf(d->pidfile, sizeof(d->pidfile), "%s/%s.pid", vsl_daemon_rundir(), a->name);

	if (d->pidfile[0]) {
		char dir[sizeof(d->pidfile)], *slash;

		snprintf(dir, sizeof(dir), "%s", d->pidfile);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0755) < 0 && errno != EEXIST)
				VSL_WARN("cannot create %s: %s", dir, strerror(errno));
		}
		ret = pidfile_create(d);
		if (ret)
			return ret;
	}
	d->loop = vsl_loop_create();
	if (!d->loop) {
		ret = vsl_neg_errno();
		goto err_pidfile;
	}
	ret = signals_init(d);
	if (ret) {
		VSL_ERR("cannot set up signal handling: %s", strerror(-ret));
		goto err_loop;
	}
	the_daemon = d;
	return 0;

err_loop:
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	vsl_loop_destroy(d->loop);
	d->loop = NULL;
err_pidfile:
	if (d->pid_fd >= 0) {
		unlink(d->pidfile);
		close(d->pid_fd);
		d->pid_fd = -1;
	}
	return ret;
}

int vsl_daemon_start(struct vsl_daemon *d)
{
	char err[1024];
	int ret;

	d->rpc = vsl_rpc_server_create(d->loop, d->sock_path, d);
	if (!d->rpc) {
		ret = vsl_neg_errno();
		VSL_ERR("cannot listen on %s: %s%s", d->sock_path, strerror(-ret),
			ret == -EADDRINUSE ? " (another daemon is serving it)" : "");
		return ret;
	}
	if (d->args.config) {
		ret = vsl_config_replay(d->rpc, d->loop, d->args.config, err, sizeof(err));
		if (ret) {
			VSL_ERR("%s", err);
			return ret;
		}
	}
	VSL_INFO("%s %s ready (pid %d)", d->args.name, VSL_VERSION, (int)getpid());
	return 0;
}

int vsl_daemon_run(struct vsl_daemon *d)
{
	return vsl_loop_run(d->loop);
}

void vsl_daemon_stop(struct vsl_daemon *d)
{
	vsl_loop_stop(d->loop);
}

void vsl_daemon_fini(struct vsl_daemon *d)
{
	if (d->rpc) {
		vsl_rpc_server_destroy(d->rpc);
		d->rpc = NULL;
	}
	if (d->sig_fd >= 0) {
		vsl_loop_del_fd(d->loop, d->sig_fd);
		close(d->sig_fd);
		d->sig_fd = -1;
	}
	vsl_loop_destroy(d->loop);
	d->loop = NULL;
	if (d->pid_fd >= 0) {
		unlink(d->pidfile);
		close(d->pid_fd);
		d->pid_fd = -1;
	}
	if (the_daemon == d)
		the_daemon = NULL;
	VSL_INFO("%s stopped", d->args.name);
}

struct vsl_daemon *vsl_daemon_get(void)
{
	return the_daemon;
}

/* ------------------------------------------------------------ built-in RPCs */

static int rpc_version(struct vsl_rpc_call *call, struct json_object *params)
{
	struct vsl_daemon *d = vsl_rpc_call_ctx(call);
	struct json_object *info;

	if (vsl_rpc_decode(call, params, NULL, 0, NULL))
		return -EINVAL;
	info = json_object_new_object();
	json_object_object_add(info, "program", json_object_new_string(d ? d->args.name : "?"));
	json_object_object_add(info, "version", json_object_new_string(VSL_VERSION));
	json_object_object_add(info, "pid", json_object_new_int(getpid()));
	if (d) {
		json_object_object_add(info, "uptime_ms",
				       json_object_new_int64((vsl_time_mono_ns() - d->start_ns) / 1000000));
		if (d->info_fn)
			d->info_fn(info);
	}
	vsl_rpc_reply(call, info);
	return 0;
}
VSL_RPC_REGISTER("version", rpc_version, "program name, version, pid and uptime")

static int rpc_shutdown(struct vsl_rpc_call *call, struct json_object *params)
{
	struct vsl_daemon *d = vsl_rpc_call_ctx(call);

	if (vsl_rpc_decode(call, params, NULL, 0, NULL))
		return -EINVAL;
	if (!d)
		return -ENOTSUP;
	VSL_INFO("shutdown requested over JSON-RPC");
	/* The answer is queued (and normally written) before the loop stops. */
	vsl_rpc_reply(call, json_object_new_boolean(true));
	vsl_loop_stop(d->loop);
	return 0;
}
VSL_RPC_REGISTER("shutdown", rpc_shutdown, "stop the daemon cleanly")

struct save_config_params {
	const char *path;
};

static int rpc_save_config(struct vsl_rpc_call *call, struct json_object *params)
{
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("path", struct save_config_params, path, VSL_RPC_STRING, true),
	};
	struct save_config_params p = { NULL };
	struct json_object *calls;
	int ret;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;
	ret = vsl_config_build(&calls);
	if (ret)
		return ret;
	if (!p.path) {
		vsl_rpc_reply(call, calls);
		return 0;
	}
	if (p.path[0] != '/') {
		json_object_put(calls);
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "path must be absolute");
		return -EINVAL;
	}
	ret = vsl_config_write(p.path, calls);
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "cannot write %s: %s", p.path, strerror(-ret));
	} else {
		struct json_object *r = json_object_new_object();

		json_object_object_add(r, "path", json_object_new_string(p.path));
		json_object_object_add(r, "calls",
				       json_object_new_int((int)json_object_array_length(calls)));
		vsl_rpc_reply(call, r);
	}
	json_object_put(calls);
	return 0;
}
VSL_RPC_REGISTER("save-config", rpc_save_config,
		 "return (or write to \"path\") the calls that rebuild the current state")
