/* vsl_cli.c — shared CLI front end. See vsl_cli.h. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsl_cli.h"
#include "vsl_daemon.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

enum { EXIT_DAEMON_ERROR = 1, EXIT_USAGE = 2 };

static int build_call(int argc, char **argv, struct json_object **params);
static int build_save_config(int argc, char **argv, struct json_object **params);
static void print_methods(struct json_object *result);
static void print_version(struct json_object *result);

static const struct vsl_cli_cmd builtin_cmds[] = {
	{ "version", "", "show the daemon's program, version, pid and uptime", 0, 0, "version", NULL,
	  print_version },
	{ "methods", "", "list the JSON-RPC methods the daemon serves", 0, 0, "rpc.methods", NULL,
	  print_methods },
	{ "save-config", "[FILE]", "print the configuration, or have the daemon write it to FILE",
	  0, 1, "save-config", build_save_config, NULL },
	{ "shutdown", "", "stop the daemon cleanly", 0, 0, "shutdown", NULL, NULL },
	{ "call", "METHOD [PARAMS-JSON]", "call any JSON-RPC method with raw JSON params", 1, 2, NULL,
	  build_call, NULL },
};

static const char *cli_prog = "vessel";

/* A command whose synopsis names options ("-L SIZE -n NAME VG", "[--watch]")
 * parses them in its build(); any other refuses arguments that look like
 * options, so a typo is a usage error rather than a name sent to the daemon. */
static bool cmd_has_options(const struct vsl_cli_cmd *cmd)
{
	const char *a = cmd->args;

	return cmd->build && a && (a[0] == '-' || strstr(a, " -") || strstr(a, "[-"));
}

static void usage(FILE *f, const struct vsl_cli *cli)
{
	fprintf(f,
		"Usage: %s [OPTIONS] COMMAND [ARGS...]\n"
		"%s\n\n"
		"Options:\n"
		"  -s, --socket PATH   %s socket (default %s/%s.sock)\n"
		"  -j, --json          print results as JSON\n"
		"  -t, --timeout SECS  give up waiting for the daemon after SECS (default 30)\n"
		"  -h, --help          show this help (COMMAND --help for one command)\n"
		"  -V, --version       show this program's version\n\n"
		"Commands:\n",
		cli->prog, cli->summary, cli->daemon, vsl_daemon_rundir(), cli->daemon);
	for (int i = 0; i < cli->n_cmds; i++)
		fprintf(f, "  %-14s %-28s %s\n", cli->cmds[i].name, cli->cmds[i].args,
			cli->cmds[i].help);
	for (size_t i = 0; i < VSL_ARRAY_SIZE(builtin_cmds); i++)
		fprintf(f, "  %-14s %-28s %s\n", builtin_cmds[i].name, builtin_cmds[i].args,
			builtin_cmds[i].help);
	fprintf(f, "\nExit status: 0 success, 1 error from (or no answer by) %s, 2 usage error.\n",
		cli->daemon);
}

static void usage_hint(const struct vsl_cli *cli)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", cli->prog);
}

static const struct vsl_cli_cmd *find_cmd(const struct vsl_cli *cli, const char *name)
{
	for (int i = 0; i < cli->n_cmds; i++)
		if (!strcmp(cli->cmds[i].name, name))
			return &cli->cmds[i];
	for (size_t i = 0; i < VSL_ARRAY_SIZE(builtin_cmds); i++)
		if (!strcmp(builtin_cmds[i].name, name))
			return &builtin_cmds[i];
	return NULL;
}

static int build_call(int argc, char **argv, struct json_object **params)
{
	enum json_tokener_error e;

	(void)argv[0];
	if (argc < 2) {
		*params = NULL;
		return 0;
	}
	*params = json_tokener_parse_verbose(argv[1], &e);
	if (!*params || (!json_object_is_type(*params, json_type_object) &&
			 !json_object_is_type(*params, json_type_array))) {
		fprintf(stderr, "%s: PARAMS-JSON must be a JSON object or array%s%s\n", cli_prog,
			*params ? "" : ": ", *params ? "" : json_tokener_error_desc(e));
		json_object_put(*params);
		*params = NULL;
		return -EINVAL;
	}
	return 0;
}

static int build_save_config(int argc, char **argv, struct json_object **params)
{
	char path[PATH_MAX], cwd[PATH_MAX];

	*params = NULL;
	if (argc < 1)
		return 0;
	/* The daemon writes the file: give it an absolute path. */
	if (argv[0][0] == '/') {
		snprintf(path, sizeof(path), "%s", argv[0]);
	} else {
		if (!getcwd(cwd, sizeof(cwd)) ||
		    snprintf(path, sizeof(path), "%s/%s", cwd, argv[0]) >= (int)sizeof(path)) {
			fprintf(stderr, "%s: path too long: %s\n", cli_prog, argv[0]);
			return -EINVAL;
		}
	}
	*params = json_object_new_object();
	json_object_object_add(*params, "path", json_object_new_string(path));
	return 0;
}

static void print_methods(struct json_object *result)
{
	size_t n = json_object_array_length(result);

	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(result, i), *name, *help;

		if (json_object_object_get_ex(m, "name", &name) &&
		    json_object_object_get_ex(m, "help", &help))
			printf("%-24s %s\n", json_object_get_string(name), json_object_get_string(help));
	}
}

static void print_version(struct json_object *result)
{
	json_object_object_foreach(result, key, val)
		printf("%-10s %s\n", key, json_object_get_string(val));
}

int vsl_cli_kv_params(const char *prog, int argc, char **argv, struct json_object *params)
{
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		struct json_object *v;
		char key[128];
		uint64_t u;

		if (!eq || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof(key)) {
			fprintf(stderr, "%s: expected key=value, got '%s'\n", prog, argv[i]);
			return -EINVAL;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		if (!strcmp(eq + 1, "true") || !strcmp(eq + 1, "false"))
			v = json_object_new_boolean(eq[1] == 't');
		else if (eq[1] && eq[1] != '0' && !vsl_parse_u64(eq + 1, &u) && u <= INT64_MAX)
			v = json_object_new_int64((int64_t)u);
		else if (!strcmp(eq + 1, "0"))
			v = json_object_new_int(0);
		else
			v = json_object_new_string(eq + 1);
		json_object_object_add(params, key, v);
	}
	return 0;
}

int vsl_cli_main(const struct vsl_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char default_sock[PATH_MAX];
	const char *sock = NULL;
	const struct vsl_cli_cmd *cmd;
	struct json_object *params = NULL, *result = NULL;
	struct vsl_rpc_client *client;
	struct vsl_rpc_error err = { 0 };
	const char *method;
	bool json = false;
	uint64_t timeout_s = 30;
	int c, nargs, ret;

	cli_prog = cli->prog;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:s:jt:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'j': json = true; break;
		case 't':
			if (vsl_parse_u64(optarg, &timeout_s) || timeout_s == 0 || timeout_s > 86400) {
				fprintf(stderr, "%s: --timeout needs a number of seconds (1-86400)\n",
					cli->prog);
				usage_hint(cli);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout, cli);
			return 0;
		case 'V':
			printf("%s (Vessel) %s\n", cli->prog, VSL_VERSION);
			return 0;
		case ':':
			fprintf(stderr, "%s: option '%s' needs an argument\n", cli->prog, argv[optind - 1]);
			usage_hint(cli);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "%s: unknown option '%s'\n", cli->prog, argv[optind - 1]);
			usage_hint(cli);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s: missing command\n", cli->prog);
		usage(stderr, cli);
		return EXIT_USAGE;
	}
	cmd = find_cmd(cli, argv[optind]);
	if (!cmd) {
		fprintf(stderr, "%s: unknown command '%s'\n", cli->prog, argv[optind]);
		usage_hint(cli);
		return EXIT_USAGE;
	}
	argv += optind + 1;
	nargs = argc - optind - 1;
	if (nargs >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		printf("Usage: %s [OPTIONS] %s %s\n%s\n", cli->prog, cmd->name, cmd->args, cmd->help);
		return 0;
	}
	if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args)) {
		fprintf(stderr, "%s: %s: wrong number of arguments\nUsage: %s %s %s\n", cli->prog,
			cmd->name, cli->prog, cmd->name, cmd->args);
		return EXIT_USAGE;
	}
	for (int i = 0; i < nargs; i++) {
		if (argv[i][0] == '-' && argv[i][1] && !cmd_has_options(cmd)) {
			fprintf(stderr, "%s: %s: unknown option '%s'\nUsage: %s %s %s\n", cli->prog,
				cmd->name, argv[i], cli->prog, cmd->name, cmd->args);
			return EXIT_USAGE;
		}
	}
	if (cmd->build && cmd->build(nargs, argv, &params))
		return EXIT_USAGE;
	method = cmd->method ? cmd->method : argv[0];

	if (!sock) {
		snprintf(default_sock, sizeof(default_sock), "%s/%s.sock", vsl_daemon_rundir(),
			 cli->daemon);
		sock = default_sock;
	}
	client = vsl_rpc_client_connect(sock, (int)timeout_s * 1000);
	if (!client) {
		fprintf(stderr, "%s: cannot connect to %s at %s: %s\n", cli->prog, cli->daemon, sock,
			strerror(errno));
		json_object_put(params);
		return EXIT_DAEMON_ERROR;
	}
	ret = vsl_rpc_client_call(client, method, params, &result, &err);
	vsl_rpc_client_close(client);
	if (ret == -EREMOTEIO) {
		fprintf(stderr, "%s: %s\n", cli->prog, err.message);
		if (json) {
			struct json_object *o = json_object_new_object(), *e = json_object_new_object();

			json_object_object_add(e, "code", json_object_new_int(err.code));
			json_object_object_add(e, "message", json_object_new_string(err.message));
			json_object_object_add(o, "error", e);
			printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
									     JSON_C_TO_STRING_SPACED));
			json_object_put(o);
		}
		return EXIT_DAEMON_ERROR;
	}
	if (ret) {
		fprintf(stderr, "%s: %s did not answer: %s\n", cli->prog, cli->daemon, strerror(-ret));
		return EXIT_DAEMON_ERROR;
	}
	if (json || !cmd->print) {
		if (json || !json_object_is_type(result, json_type_boolean) ||
		    !json_object_get_boolean(result))
			printf("%s\n", json_object_to_json_string_ext(
					       result, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		cmd->print(result);
	}
	json_object_put(result);
	return 0;
}
