/* vsl_cli.h — the shared front end of vswitchctl and blockctl.
 *
 *     PROG [-s SOCKET] [-j|--json] [-t SECONDS] COMMAND [ARGS...]
 *
 * Each CLI lists its commands; every one becomes one JSON-RPC call to the
 * daemon. Built-in commands every CLI has: `version`, `methods`, `save-config
 * [FILE]`, `shutdown` and `call METHOD [PARAMS-JSON]` (any method, raw).
 *
 * Exit codes a script can trust: 0 success, 1 the daemon answered an error or
 * could not be reached, 2 usage error (unknown command or option, wrong number
 * of arguments, a malformed argument) — usage goes to stderr.
 * With --json the result is printed as JSON on stdout; errors go to stderr as
 * "PROG: message" (and, with --json, as {"error": {...}} on stdout too).
 */
#ifndef VSL_CLI_H
#define VSL_CLI_H

#include <stdbool.h>

#include <json-c/json.h>

struct vsl_cli_cmd {
	const char *name;
	const char *args;        /* synopsis of the arguments, e.g. "NAME [key=value...]" */
	const char *help;        /* one line */
	int min_args;
	int max_args;            /* -1: unlimited */
	const char *method;      /* the JSON-RPC method */
	/* Builds params from the arguments; NULL: none. Returns 0, or -EINVAL after
	 * printing what is wrong to stderr (exit 2). Arguments starting with '-'
	 * are refused as unknown options before build() runs, unless `args` names
	 * options ("-L SIZE -n NAME VG", "[--watch]"): then build() parses them and
	 * must refuse unknown ones itself. */
	int (*build)(int argc, char **argv, struct json_object **params);
	/* Prints a result for humans; NULL prints nothing for `true`, else JSON. */
	void (*print)(struct json_object *result);
};

struct vsl_cli {
	const char *prog;        /* "vswitchctl" */
	const char *daemon;      /* "vswitchd": default socket <rundir>/<daemon>.sock */
	const char *summary;     /* one line for --help */
	const struct vsl_cli_cmd *cmds;
	int n_cmds;
};

/* Runs the CLI; returns the exit code (0, 1 or 2). */
int vsl_cli_main(const struct vsl_cli *cli, int argc, char **argv);

/* Helpers for build(): parse "key=value" arguments into params, with the value
 * typed as a number when it is a non-negative decimal without leading zeros (so
 * "0000:03:00.0" or "007" stay strings), a boolean for true/false, else a string.
 * Returns 0 or -EINVAL after printing the offending argument. */
int vsl_cli_kv_params(const char *prog, int argc, char **argv, struct json_object *params);

#endif /* VSL_CLI_H */
