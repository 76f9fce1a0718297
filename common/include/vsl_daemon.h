/* vsl_daemon.h — what every Vessel daemon shares: options, pid file, signals,
 * the control loop, the JSON-RPC socket, config replay and clean shutdown.
 *
 *     struct vsl_daemon d;
 *     ret = vsl_daemon_parse_args(&args, "vswitchd", summary, extra, argc, argv);
 *     vsl_daemon_init(&d, &args);     // log, pid file, signals blocked -> signalfd, loop
 *     ... start threads (DPDK EAL) only now: they inherit the blocked signal mask
 *     vsl_daemon_start(&d);           // JSON-RPC socket, then replay -c FILE
 *     vsl_daemon_run(&d);             // until SIGTERM/SIGINT or the `shutdown` call
 *     ... stop threads
 *     vsl_daemon_fini(&d);            // closes the socket, removes socket and pid file
 *
 * Built-in methods: `version`, `shutdown`, `save-config` (and `rpc.methods`).
 * SIGHUP reopens the log file. Everything runs on the control thread.
 */
#ifndef VSL_DAEMON_H
#define VSL_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

struct vsl_loop;
struct vsl_rpc_server;

struct vsl_daemon_args {
	const char *name;          /* "vswitchd" */
	const char *sock_path;     /* default <rundir>/<name>.sock */
	const char *pidfile;       /* default <rundir>/<name>.pid; "" for none */
	const char *config;        /* -c FILE, or NULL */
	const char *log_file;      /* NULL: stderr */
	const char *log_level;     /* NULL: info */
	int extra_argc;            /* arguments after "--" (for vswitchd: the EAL's) */
	char **extra_argv;
};

/* Default run directory: $VESSEL_RUNDIR, else /run/vessel. */
const char *vsl_daemon_rundir(void);

/* Parses the options every daemon takes:
 *   -s, --socket PATH  -c, --config FILE  -p, --pidfile PATH  --no-pidfile
 *   -l, --log-file PATH  -v, --log-level SPEC  -h, --help  -V, --version  [-- EXTRA...]
 * `extra_usage` is appended to --help (may be NULL). Returns 0 to go on, 1 when
 * --help or --version was answered (exit 0), 2 after printing a usage error to
 * stderr (exit 2). Paths in `a` point into argv or static storage. */
int vsl_daemon_parse_args(struct vsl_daemon_args *a, const char *name, const char *summary,
			  const char *extra_usage, int argc, char **argv);

/* Adds daemon-specific members to the `version` answer. */
typedef void (*vsl_daemon_info_fn)(struct json_object *info);

struct vsl_daemon {
	struct vsl_daemon_args args;
	char sock_path[108];
	char pidfile[4096];
	struct vsl_loop *loop;
	struct vsl_rpc_server *rpc;
	int pid_fd;
	int sig_fd;
	uint64_t start_ns;
	vsl_daemon_info_fn info_fn;
	void *app;                 /* the daemon's own state, for its RPC handlers */
};

/* Sets up logging, the pid file (refusing to start when another instance holds
 * it: -EALREADY), blocks SIGTERM/SIGINT/SIGHUP/SIGPIPE for all threads created
 * later and watches them through a signalfd, and creates the loop. Returns 0 or
 * -errno after logging why; on failure nothing is left behind. */
int vsl_daemon_init(struct vsl_daemon *d, const struct vsl_daemon_args *a);
/* Opens the JSON-RPC socket and replays the config file. Returns 0 or -errno
 * after logging why. */
int vsl_daemon_start(struct vsl_daemon *d);
/* Serves until a stop signal or `shutdown`. Returns 0 or -errno. */
int vsl_daemon_run(struct vsl_daemon *d);
/* Asks the loop to stop (from the control thread). */
void vsl_daemon_stop(struct vsl_daemon *d);
/* Releases everything init/start acquired. Safe after a failed init/start. */
void vsl_daemon_fini(struct vsl_daemon *d);

/* The daemon of this process (set by init), for RPC handlers. */
struct vsl_daemon *vsl_daemon_get(void);

#endif /* VSL_DAEMON_H */
