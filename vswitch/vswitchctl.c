/* vswitchctl — command-line client of vswitchd's JSON-RPC socket.
 *
 * Syntax follows ovs-vsctl/ovs-appctl where it can: `add-port NAME type=...
 * key=value...`, `set-port NAME key=value...`, `show`, `dump-ports`, `fdb-show`.
 * Every command is one JSON-RPC call; the key=value pairs become its params
 * (numbers and booleans typed, see vsl_cli_kv_params). Options of a command are
 * key=value too (`capture PORT FILE count=N`): the shared CLI front end
 * refuses arguments that start with '-'.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "vsl_cli.h"

static const char prog[] = "vswitchctl";

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

static const char *str(struct json_object *o, const char *k)
{
	struct json_object *v = get(o, k);

	return v ? json_object_get_string(v) : "";
}

static int64_t num(struct json_object *o, const char *k)
{
	struct json_object *v = get(o, k);

	return v ? json_object_get_int64(v) : 0;
}

/* NAME key=value... → {"name": NAME, key: value...} */
static int build_name_kv(int argc, char **argv, struct json_object **params)
{
	*params = json_object_new_object();
	json_object_object_add(*params, "name", json_object_new_string(argv[0]));
	if (vsl_cli_kv_params(prog, argc - 1, argv + 1, *params)) {
		json_object_put(*params);
		*params = NULL;
		return -EINVAL;
	}
	return 0;
}

static int build_kv(int argc, char **argv, struct json_object **params)
{
	*params = json_object_new_object();
	if (vsl_cli_kv_params(prog, argc, argv, *params)) {
		json_object_put(*params);
		*params = NULL;
		return -EINVAL;
	}
	return 0;
}

static int build_name(int argc, char **argv, struct json_object **params)
{
	*params = json_object_new_object();
	if (argc > 0)
		json_object_object_add(*params, "name", json_object_new_string(argv[0]));
	return 0;
}

/* PORT FILE [count=N] [duration=S] */
static int build_capture(int argc, char **argv, struct json_object **params)
{
	char path[PATH_MAX], cwd[PATH_MAX];

	if (argv[1][0] == '/') {
		snprintf(path, sizeof(path), "%s", argv[1]);
	} else if (!getcwd(cwd, sizeof(cwd)) ||
		   snprintf(path, sizeof(path), "%s/%s", cwd, argv[1]) >= (int)sizeof(path)) {
		fprintf(stderr, "%s: path too long: %s\n", prog, argv[1]);
		return -EINVAL;
	}
	*params = json_object_new_object();
	json_object_object_add(*params, "port", json_object_new_string(argv[0]));
	json_object_object_add(*params, "path", json_object_new_string(path));
	if (vsl_cli_kv_params(prog, argc - 2, argv + 2, *params)) {
		json_object_put(*params);
		*params = NULL;
		return -EINVAL;
	}
	return 0;
}

static void print_port_line(struct json_object *p)
{
	const char *type = str(p, "type");

	printf("        Port \"%s\"  (ofport %" PRId64 ")\n", str(p, "name"), num(p, "ofport"));
	printf("            type: %s", type);
	if (get(p, "devargs"))
		printf("  devargs: %s", str(p, "devargs"));
	if (get(p, "path"))
		printf("  path: %s%s", str(p, "path"),
		       !strcmp(str(p, "vhost_mode"), "server") ? " (server)" : " (client)");
	if (get(p, "local_ip"))
		printf("  local_ip: %s  underlay: %s  remote_ip: %s  dst_port: %" PRId64
		       "  ttl: %" PRId64, str(p, "local_ip"), str(p, "underlay"),
		       str(p, "remote_ip"), num(p, "dst_port"), num(p, "ttl"));
	printf("\n            vlan_mode: %s", str(p, "vlan_mode"));
	if (get(p, "vni"))
		printf("  vni: %s", str(p, "vni"));
	if (get(p, "tag"))
		printf("  tag: %" PRId64, num(p, "tag"));
	if (get(p, "native_vlan"))
		printf("  native_vlan: %" PRId64, num(p, "native_vlan"));
	if (get(p, "trunks"))
		printf("  trunks: %s", str(p, "trunks"));
	if (get(p, "vlan_vni"))
		printf("  vlan_vni: %s", str(p, "vlan_vni"));
	printf("\n            admin: %s  link: %s  mtu: %" PRId64 "  mac: %s  macs learned: %" PRId64
	       "\n", str(p, "admin"), str(p, "link"), num(p, "mtu"), str(p, "mac"),
	       num(p, "macs_learned"));
}

/* TARGET... → {"targets": [TARGET...]} */
static int build_targets(int argc, char **argv, struct json_object **params)
{
	struct json_object *arr = json_object_new_array();

	for (int i = 0; i < argc; i++)
		json_object_array_add(arr, json_object_new_string(argv[i]));
	*params = json_object_new_object();
	json_object_object_add(*params, "targets", arr);
	return 0;
}

/* GROUP → {"group": GROUP} (none: {}) */
static int build_group(int argc, char **argv, struct json_object **params)
{
	*params = json_object_new_object();
	if (argc > 0)
		json_object_object_add(*params, "group", json_object_new_string(argv[0]));
	return 0;
}

static void print_groups(struct json_object *res)
{
	for (size_t i = 0; i < json_object_array_length(res); i++)
		printf(" %s\n", str(json_object_array_get_idx(res, i), "group"));
}

static void print_controllers(struct json_object *arr)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		struct json_object *c = json_object_array_get_idx(arr, i);

		printf("    Controller \"%s\"\n        state: %s", str(c, "target"), str(c, "state"));
		if (get(c, "port"))
			printf("  port: %" PRId64, num(c, "port"));
		if (get(c, "peer"))
			printf("  peer: %s  role: %s  is_connected: %s", str(c, "peer"), str(c, "role"),
			       json_object_get_boolean(get(c, "connected")) ? "true" : "false");
		printf("\n");
	}
}

static void print_list_controllers(struct json_object *res)
{
	print_controllers(get(res, "controllers"));
}

static void print_show(struct json_object *res)
{
	struct json_object *br = get(res, "bridge"), *ports = get(res, "ports");

	printf("Bridge (fail_mode %s, %" PRId64 " PMD%s)\n", str(br, "fail_mode"), num(br, "pmds"),
	       num(br, "pmds") == 1 ? "" : "s");
	printf("    ageing: %" PRId64 " s  mac_limit: %" PRId64 "  fdb: %" PRId64 "/%" PRId64
	       "  pmd_sleep_max_us: %" PRId64 "\n", num(br, "ageing"), num(br, "mac_limit"),
	       num(br, "fdb_entries"), num(br, "fdb_capacity"), num(br, "pmd_sleep_max_us"));
	print_controllers(get(res, "controllers"));
	if (json_object_get_boolean(get(br, "fail_mode_active")))
		printf("    (no controller connected: fail-mode standalone, MAC learning)\n");
	for (size_t i = 0; ports && i < json_object_array_length(ports); i++)
		print_port_line(json_object_array_get_idx(ports, i));
}

static void print_cnt(struct json_object *o)
{
	printf("rx %" PRId64 " pkts %" PRId64 " bytes, tx %" PRId64 " pkts %" PRId64 " bytes",
	       num(o, "rx_packets"), num(o, "rx_bytes"), num(o, "tx_packets"), num(o, "tx_bytes"));
}

/* A trunk's VLAN-to-VNI bindings with their counters. */
static void print_bindings(struct json_object *a)
{
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *b = json_object_array_get_idx(a, i);

		printf("                         vlan %" PRId64 " -> vni %" PRId64 ": ",
		       num(b, "vlan"), num(b, "vni"));
		print_cnt(b);
		printf("\n");
	}
}

static void print_dump_ports(struct json_object *res)
{
	for (size_t i = 0; i < json_object_array_length(res); i++) {
		struct json_object *p = json_object_array_get_idx(res, i), *drops = get(p, "drops");
		bool any = false;

		printf("  port %2" PRId64 " %-12s link %-4s rx pkts=%" PRId64 " bytes=%" PRId64
		       "\n                         tx pkts=%" PRId64 " bytes=%" PRId64
		       " flood=%" PRId64 " l3_anomalies=%" PRId64 "\n",
		       num(p, "ofport"), str(p, "name"), str(p, "link"), num(p, "rx_packets"),
		       num(p, "rx_bytes"), num(p, "tx_packets"), num(p, "tx_bytes"),
		       num(p, "flood_packets"), num(p, "rx_l3_anomalies"));
		printf("                         drops=%" PRId64, num(p, "drops_total"));
		json_object_object_foreach(drops, k, v) {
			if (json_object_get_int64(v)) {
				printf("%s%s=%" PRId64, any ? " " : " (", k, json_object_get_int64(v));
				any = true;
			}
		}
		printf("%s\n", any ? ")" : "");
		print_bindings(get(p, "vlan_vni_bindings"));
	}
}

static void print_fdb(struct json_object *res)
{
	printf(" port  VLAN  MAC                Age\n");
	for (size_t i = 0; i < json_object_array_length(res); i++) {
		struct json_object *e = json_object_array_get_idx(res, i);

		if (get(e, "vni"))
			printf("%5" PRId64 "  vni %" PRId64 "  %s  %3" PRId64 "   %s%s%s\n",
			       num(e, "ofport"), num(e, "vni"), str(e, "mac"), num(e, "age"),
			       str(e, "port"), get(e, "remote") ? " via " : "", str(e, "remote"));
		else
			printf("%5" PRId64 "  %4" PRId64 "  %s  %3" PRId64 "   %s\n", num(e, "ofport"),
			       num(e, "vlan"), str(e, "mac"), num(e, "age"), str(e, "port"));
	}
}

/* VNI IP → {"vni": VNI, "remote": IP} */
static int build_vni_remote(int argc, char **argv, struct json_object **params)
{
	char *end;
	long long vni = strtoll(argv[0], &end, 10);

	(void)argc;
	if (!*argv[0] || *end || vni < 0) {
		fprintf(stderr, "%s: '%s' is not a VNI\n", prog, argv[0]);
		return -EINVAL;
	}
	*params = json_object_new_object();
	json_object_object_add(*params, "vni", json_object_new_int64(vni));
	json_object_object_add(*params, "remote", json_object_new_string(argv[1]));
	return 0;
}

/* PORT VLAN [VNI] → {"port": PORT, "vlan": VLAN, "vni": VNI} */
static int build_bind(int argc, char **argv, struct json_object **params)
{
	long long n[2] = { 0, 0 };

	for (int i = 1; i < argc; i++) {
		char *end;

		n[i - 1] = strtoll(argv[i], &end, 10);
		if (!*argv[i] || *end || n[i - 1] < 0) {
			fprintf(stderr, "%s: '%s' is not a %s\n", prog, argv[i], i == 1 ? "VLAN"
											  : "VNI");
			return -EINVAL;
		}
	}
	*params = json_object_new_object();
	json_object_object_add(*params, "port", json_object_new_string(argv[0]));
	json_object_object_add(*params, "vlan", json_object_new_int64(n[0]));
	if (argc > 2)
		json_object_object_add(*params, "vni", json_object_new_int64(n[1]));
	return 0;
}

/* IP [MAC] → {"ip": IP, "mac": MAC} */
static int build_neigh(int argc, char **argv, struct json_object **params)
{
	*params = json_object_new_object();
	json_object_object_add(*params, "ip", json_object_new_string(argv[0]));
	if (argc > 1)
		json_object_object_add(*params, "mac", json_object_new_string(argv[1]));
	return 0;
}

static void print_vtep_show(struct json_object *res)
{
	struct json_object *a = get(res, "vteps");

	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *t = json_object_array_get_idx(a, i), *drops = get(t, "drops");
		bool any = false;

		printf("VTEP %s (ofport %" PRId64 "): local_ip %s on %s (%s), dst_port %" PRId64
		       ", ttl %" PRId64 ", remote_ip %s, vni %s\n", str(t, "port"), num(t, "ofport"),
		       str(t, "local_ip"), str(t, "underlay"), str(t, "mac"), num(t, "dst_port"),
		       num(t, "ttl"), str(t, "remote_ip"), str(t, "vni"));
		printf("    underlay mtu %" PRId64 ", tenant mtu %" PRId64 "\n", num(t, "underlay_mtu"),
		       num(t, "tenant_mtu"));
		printf("    decap %" PRId64 " pkts, encap %" PRId64 " pkts, flood copies %" PRId64
		       ", arp replies %" PRId64 ", arp requests %" PRId64 ", held %" PRId64 "\n",
		       num(t, "decap_packets"), num(t, "encap_packets"), num(t, "flood_copies"),
		       num(t, "arp_replies"), num(t, "arp_requests"), num(t, "neigh_held"));
		printf("    drops:");
		json_object_object_foreach(drops, k, v) {
			if (json_object_get_int64(v)) {
				printf(" %s=%" PRId64, k, json_object_get_int64(v));
				any = true;
			}
		}
		printf("%s\n", any ? "" : " none");
	}
	a = get(res, "vnis");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i), *l;

		printf("VNI %" PRId64 ": ", num(e, "vni"));
		print_cnt(e);
		printf("\n    ports: %s\n    remotes: %s\n",
		       json_object_to_json_string_ext(get(e, "ports"), JSON_C_TO_STRING_PLAIN),
		       json_object_to_json_string_ext(get(e, "remotes"), JSON_C_TO_STRING_PLAIN));
		l = get(e, "vlans");
		for (size_t j = 0; l && j < json_object_array_length(l); j++) {
			struct json_object *b = json_object_array_get_idx(l, j);

			printf("    vlan %" PRId64 " of %s: ", num(b, "vlan"), str(b, "port"));
			print_cnt(b);
			printf("\n");
		}
		l = get(e, "macs");
		for (size_t j = 0; l && j < json_object_array_length(l); j++) {
			struct json_object *m = json_object_array_get_idx(l, j);

			printf("    mac %s on %s%s%s age %" PRId64 "\n", str(m, "mac"), str(m, "port"),
			       get(m, "remote") ? " via " : "", str(m, "remote"), num(m, "age"));
		}
	}
	a = get(res, "remotes");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *r = json_object_array_get_idx(a, i);

		printf("remote %s: ", str(r, "remote"));
		print_cnt(r);
		printf("  vnis %s\n", json_object_to_json_string_ext(get(r, "vnis"),
								     JSON_C_TO_STRING_PLAIN));
	}
	a = get(res, "neighbors");
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		struct json_object *nb = json_object_array_get_idx(a, i);

		printf("neighbor %s %s %s\n", str(nb, "ip"), get(nb, "mac") ? str(nb, "mac") : "-",
		       str(nb, "state"));
	}
}

static void print_flush(struct json_object *res)
{
	printf("flushed %" PRId64 " entr%s\n", num(res, "flushed"),
	       num(res, "flushed") == 1 ? "y" : "ies");
}

static void print_pmd_stats(struct json_object *res)
{
	for (size_t i = 0; i < json_object_array_length(res); i++) {
		struct json_object *p = json_object_array_get_idx(res, i), *q = get(p, "rxqs");

		printf("pmd thread %" PRId64 " (lcore %" PRId64 "):\n", num(p, "pmd"), num(p, "lcore"));
		printf("  packets received: %" PRId64 "\n", num(p, "packets"));
		printf("  iterations: %" PRId64 "\n", num(p, "iterations"));
		printf("  busy cycles: %" PRId64 " (%.1f%%)\n", num(p, "busy_cycles"),
		       json_object_get_double(get(p, "busy_pct")));
		printf("  idle cycles: %" PRId64 "\n", num(p, "idle_cycles"));
		printf("  processing cycles per packet: %" PRId64 " (median of busy iterations: %" PRId64
		       ", %.1f packets per busy iteration)\n", num(p, "cycles_per_packet"),
		       num(p, "cycles_per_packet_median"),
		       json_object_get_double(get(p, "packets_per_busy_iteration")));
		printf("  idle sleep: %" PRId64 " us\n", num(p, "sleep_us"));
		printf("  emc hits: %" PRId64 " of %" PRId64 " (%.1f%%)\n", num(p, "emc_hits"),
		       num(p, "emc_lookups"), json_object_get_double(get(p, "emc_hit_pct")));
		printf("  megaflow hits: %" PRId64 " of %" PRId64 " (%.1f%%), subtable lookups per hit: "
		       "%.2f, %" PRId64 " megaflows in %" PRId64 " subtables\n", num(p, "megaflow_hits"),
		       num(p, "megaflow_lookups"), json_object_get_double(get(p, "megaflow_hit_pct")),
		       json_object_get_double(get(p, "megaflow_subtables_per_hit")),
		       num(p, "megaflows"), num(p, "megaflow_subtables"));
		printf("  classifier hits: %" PRId64 " of %" PRId64 ", subtable lookups per hit: %.2f\n",
		       num(p, "cls_hits"), num(p, "cls_lookups"),
		       json_object_get_double(get(p, "subtables_per_hit")));
		printf("  to controller: %" PRId64 "  to local: %" PRId64 "  groups: %" PRId64
		       "  ttl expired: %" PRId64 "\n", num(p, "to_controller"), num(p, "to_local"),
		       num(p, "to_group"), num(p, "ttl_expired"));
		printf("  rx queues:");
		for (size_t j = 0; q && j < json_object_array_length(q); j++)
			printf(" %s", json_object_get_string(json_object_array_get_idx(q, j)));
		printf("\n");
	}
}

static void print_capture(struct json_object *res)
{
	printf("%" PRId64 " packets from %s written to %s (%" PRId64 " lost)\n",
	       num(res, "packets"), str(res, "port"), str(res, "path"), num(res, "lost"));
}

/* FLOW → {"flow": FLOW} */
static int build_flow(int argc, char **argv, struct json_object **params)
{
	(void)argc;
	*params = json_object_new_object();
	json_object_object_add(*params, "flow", json_object_new_string(argv[0]));
	return 0;
}

/* [MATCH] [strict=true|false] (ovs-ofctl's --strict; the CLI refuses dashes) */
static int build_match(int argc, char **argv, struct json_object **params)
{
	bool have_match = false;

	*params = json_object_new_object();
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "strict=true") || !strcmp(argv[i], "strict=false")) {
			json_object_object_add(*params, "strict",
					       json_object_new_boolean(argv[i][7] == 't'));
		} else if (!have_match) {
			json_object_object_add(*params, "match", json_object_new_string(argv[i]));
			have_match = true;
		} else {
			fprintf(stderr, "%s: more than one match: '%s'\n", prog, argv[i]);
			json_object_put(*params);
			*params = NULL;
			return -EINVAL;
		}
	}
	return 0;
}

/* FLOW [strict=true] */
static int build_mod(int argc, char **argv, struct json_object **params)
{
	int ret = build_match(argc, argv, params);
	struct json_object *m;

	if (ret)
		return ret;
	if (!json_object_object_get_ex(*params, "match", &m)) {
		fprintf(stderr, "%s: mod-flows needs a flow with actions=\n", prog);
		json_object_put(*params);
		*params = NULL;
		return -EINVAL;
	}
	json_object_object_add(*params, "flow", json_object_get(m));
	json_object_object_del(*params, "match");
	return 0;
}

/* FILE: one flow per line; blank lines and '#' comments skipped. */
static int build_flows_file(int argc, char **argv, struct json_object **params)
{
	FILE *f = strcmp(argv[0], "-") ? fopen(argv[0], "r") : stdin;
	struct json_object *arr;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	(void)argc;
	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, argv[0], strerror(errno));
		return -EINVAL;
	}
	arr = json_object_new_array();
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *p = line;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		json_object_array_add(arr, json_object_new_string(p));
	}
	free(line);
	if (f != stdin)
		fclose(f);
	*params = json_object_new_object();
	json_object_object_add(*params, "flows", arr);
	return 0;
}

static void print_flow_count(struct json_object *res)
{
	(void)res;
}

static void print_dump_flows(struct json_object *res)
{
	for (size_t i = 0; i < json_object_array_length(res); i++) {
		struct json_object *f = json_object_array_get_idx(res, i);
		const char *match = str(f, "match");

		printf(" cookie=0x%" PRIx64 ", duration=%.3fs, table=%" PRId64 ", n_packets=%" PRId64
		       ", n_bytes=%" PRId64 ",", (uint64_t)num(f, "cookie"),
		       json_object_get_double(get(f, "duration")), num(f, "table"),
		       num(f, "n_packets"), num(f, "n_bytes"));
		if (num(f, "idle_timeout"))
			printf(" idle_timeout=%" PRId64 ",", num(f, "idle_timeout"));
		if (num(f, "hard_timeout"))
			printf(" hard_timeout=%" PRId64 ",", num(f, "hard_timeout"));
		if (num(f, "idle_age") >= 0)
			printf(" idle_age=%" PRId64 ",", num(f, "idle_age"));
		printf(" %s%sactions=%s\n", match, *match ? " " : "", str(f, "actions"));
	}
}

static void print_dump_tables(struct json_object *res)
{
	for (size_t i = 0; i < json_object_array_length(res); i++) {
		struct json_object *t = json_object_array_get_idx(res, i);

		printf("  %" PRId64 ": active=%" PRId64 ", lookup=%" PRId64 ", matched=%" PRId64 "\n",
		       num(t, "table"), num(t, "active"), num(t, "lookups"), num(t, "matches"));
	}
}

static void print_port_cfg(struct json_object *res)
{
	(void)res;
}

int main(int argc, char **argv)
{
	static const struct vsl_cli_cmd cmds[] = {
		{ "add-port", "NAME type=TYPE [key=value...]",
		  "add a port (dpdk devargs=, vhost-user path=, internal, vxlan local_ip= underlay=); "
		  "options in docs/vswitch.md and docs/vxlan.md",
		  1, -1, "add-port", build_name_kv, print_port_cfg },
		{ "del-port", "NAME", "remove a port", 1, 1, "del-port", build_name, NULL },
		{ "set-port", "NAME key=value...",
		  "change a port: tag, trunks, vlan_mode, native_vlan, vlan_vni, vni, mtu, admin, "
		  "mac_limit", 2, -1,
		  "set-port", build_name_kv, print_port_cfg },
		{ "show", "", "show the bridge and its ports", 0, 0, "show", NULL, print_show },
		{ "dump-ports", "[NAME]", "port counters and drops by reason", 0, 1, "dump-ports",
		  build_name, print_dump_ports },
		{ "fdb-show", "[port=NAME] [vlan=V]", "show learned MAC addresses", 0, 2, "fdb-show",
		  build_kv, print_fdb },
		{ "fdb-flush", "[port=NAME] [vlan=V]", "forget learned MAC addresses", 0, 2,
		  "fdb-flush", build_kv, print_flush },
		{ "set-bridge", "key=value...",
		  "bridge settings: ageing=SECONDS mac_limit=N pmd_sleep_max_us=US "
		  "fail_mode=standalone|secure flow_limit=N", 1, 5, "set-bridge", build_kv, NULL },
		{ "set-controller", "TARGET...",
		  "OpenFlow controllers: tcp:IP:PORT (connect), ptcp:PORT[:IP] (listen); replaces the "
		  "list", 1, 16, "set-controller", build_targets, print_list_controllers },
		{ "del-controller", "", "remove every OpenFlow controller", 0, 0, "del-controller",
		  NULL, NULL },
		{ "list-controllers", "", "OpenFlow controllers and their connections", 0, 0,
		  "list-controllers", NULL, print_list_controllers },
		{ "add-group", "GROUP", "add an OpenFlow group (ovs-ofctl syntax: \"group_id=1,"
		  "type=all,bucket=output:1,bucket=output:2\")", 1, 1, "add-group", build_group,
		  print_port_cfg },
		{ "mod-group", "GROUP", "replace a group's type and buckets", 1, 1, "mod-group",
		  build_group, print_port_cfg },
		{ "del-groups", "[group_id=N]", "delete a group (all without one) and its flows", 0, 1,
		  "del-groups", build_group, print_port_cfg },
		{ "dump-groups", "", "the group table", 0, 0, "dump-groups", NULL, print_groups },
		{ "add-flow", "FLOW", "add a flow (ovs-ofctl syntax: \"table=0,priority=100,in_port=1,"
		  "actions=output:2\")", 1, 1, "add-flow", build_flow, print_flow_count },
		{ "add-flows", "FILE", "add the flows of FILE (one per line, - for stdin) at once", 1, 1,
		  "add-flows", build_flows_file, print_flow_count },
		{ "mod-flows", "FLOW [strict=true]", "replace the actions of matching flows", 1, 2,
		  "mod-flows", build_mod, print_flow_count },
		{ "del-flows", "[MATCH] [strict=true]", "delete matching flows (all without MATCH)", 0, 2,
		  "del-flows", build_match, print_flow_count },
		{ "dump-flows", "[MATCH] [strict=true]", "flows with counters, duration and cookies", 0,
		  2, "dump-flows", build_match, print_dump_flows },
		{ "dump-tables", "", "flows, lookups and matches per table", 0, 0, "dump-tables", NULL,
		  print_dump_tables },
		{ "pmd-stats", "[clear=true]", "PMD busy/idle cycles, cycles per packet, rx queues", 0,
		  1, "pmd-stats", build_kv, print_pmd_stats },
		{ "vtep-show", "", "VTEPs, VNIs, remote VTEPs, learned MACs, neighbours, counters", 0,
		  0, "vtep-show", NULL, print_vtep_show },
		{ "vtep-add-remote", "VNI IP", "add a remote VTEP to a VNI", 2, 2, "vtep-add-remote",
		  build_vni_remote, print_port_cfg },
		{ "vtep-del-remote", "VNI IP", "remove a remote VTEP from a VNI", 2, 2,
		  "vtep-del-remote", build_vni_remote, print_port_cfg },
		{ "vtep-bind-vlan", "PORT VLAN VNI", "VLAN of trunk PORT joins VNI (as vlan_vni=)", 3,
		  3, "vtep-bind-vlan", build_bind, print_port_cfg },
		{ "vtep-unbind-vlan", "PORT VLAN", "VLAN of trunk PORT leaves its VNI", 2, 2,
		  "vtep-unbind-vlan", build_bind, print_port_cfg },
		{ "vtep-add-neighbor", "IP MAC", "a static underlay neighbour", 2, 2,
		  "vtep-add-neighbor", build_neigh, print_port_cfg },
		{ "vtep-del-neighbor", "IP", "forget an underlay neighbour", 1, 1,
		  "vtep-del-neighbor", build_neigh, print_port_cfg },
		{ "capture", "PORT FILE [count=N] [duration=S]",
		  "write what PORT receives and sends to pcapng (count=100, duration=10)", 2, 4, "capture", build_capture, print_capture },
	};
	static const struct vsl_cli cli = {
		.prog = prog,
		.daemon = "vswitchd",
		.summary = "Control the Vessel virtual switch (vswitchd).",
		.cmds = cmds,
		.n_cmds = (int)(sizeof(cmds) / sizeof(cmds[0])),
	};

	return vsl_cli_main(&cli, argc, argv);
}
