/* vmm_vf_cli.c — the `vmm vf-list`, `vf-enable` and `vf-set` commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_vf_internal.h"
#include "vsl_util.h"

struct vf_cmd {
	const char *name;
	const char *args;
	const char *help;
	int min_args, max_args;       /* positional, after the command name */
	int (*run)(int argc, char **argv, const struct vmm_vf_cli_opts *o, bool json);
};

static const char *prog_of(const struct vmm_vf_cli_opts *o)
{
	return o && o->prog ? o->prog : "vmm";
}

static void print_json(struct json_object *j)
{
	printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void fail_msg(const struct vmm_vf_cli_opts *o, const char *cmd, const char *msg)
{
	fprintf(stderr, "%s: %s: %s\n", prog_of(o), cmd, msg);
}

static int run_list(int argc, char **argv, const struct vmm_vf_cli_opts *o, bool json)
{
	struct vmm_vf_pf *pfs = NULL;
	size_t n = 0;
	char err[256];
	int ret = vmm_vf_list(&o->env, argc > 0 ? argv[0] : NULL, &pfs, &n, err, sizeof(err));

	if (ret < 0) {
		fail_msg(o, "vf-list", err);
		return 1;
	}
	if (json) {
		struct json_object *j = vmm_vf_list_to_json(pfs, n);

		print_json(j);
		json_object_put(j);
		vmm_vf_list_free(pfs, n);
		return 0;
	}
	if (n == 0)
		printf("no SR-IOV capable network devices under %s/class/net\n",
		       o->env.sysfs_root && *o->env.sysfs_root ? o->env.sysfs_root : "/sys");
	for (size_t i = 0; i < n; i++) {
		const struct vmm_vf_pf *p = &pfs[i];

		printf("%s  pci %s  driver %s  VFs %u/%u\n", p->name, p->pci_addr[0] ? p->pci_addr : "-",
		       p->driver[0] ? p->driver : "-", p->num_vfs, p->total_vfs);
		if (p->nl_error[0])
			printf("  (no rtnetlink VF settings: %s)\n", p->nl_error);
		if (!p->n_vfs)
			continue;
		printf("  %-3s %-13s %-10s %-10s %-17s %-4s %-3s %-8s %-5s %-7s %-8s %s\n", "VF", "PCI",
		       "DRIVER", "NETDEV", "MAC", "VLAN", "QOS", "SPOOFCHK", "TRUST", "STATE",
		       "MAX_RATE", "MIN_RATE");
		for (size_t j = 0; j < p->n_vfs; j++) {
			const struct vmm_vf_dev *vf = &p->vfs[j];
			const struct vmm_vf_settings *c = &vf->cfg;
			char mac[18] = "-", vlan[8] = "-", qos[4] = "-", maxr[12] = "-", minr[12] = "-";
			uint32_t f = vf->has_cfg ? c->fields : 0;

			if (f & VMM_VF_MAC)
				vmm_vf_mac_format(c->mac, mac);
			if (f & VMM_VF_VLAN) {
				snprintf(vlan, sizeof(vlan), "%u", c->vlan);
				snprintf(qos, sizeof(qos), "%u", c->qos);
			}
			if (f & VMM_VF_MAX_RATE)
				snprintf(maxr, sizeof(maxr), "%u", c->max_rate);
			if (f & VMM_VF_MIN_RATE)
				snprintf(minr, sizeof(minr), "%u", c->min_rate);
			printf("  %-3u %-13s %-10s %-10s %-17s %-4s %-3s %-8s %-5s %-7s %-8s %s%s\n",
			       vf->index, vf->pci_addr, vf->driver[0] ? vf->driver : "-",
			       vf->netdev[0] ? vf->netdev : "-", mac, vlan, qos,
			       f & VMM_VF_SPOOFCHK ? (c->spoofchk ? "on" : "off") : "-",
			       f & VMM_VF_TRUST ? (c->trust ? "on" : "off") : "-",
			       f & VMM_VF_LINK_STATE ? vmm_vf_link_state_name(c->link_state) : "-",
			       maxr, minr, vf->in_use ? "  (in use: vfio-pci)" : "");
		}
	}
	vmm_vf_list_free(pfs, n);
	return 0;
}

static int parse_index(const struct vmm_vf_cli_opts *o, const char *cmd, const char *what,
		       const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (vsl_parse_u64(s, &v) < 0 || v > max) {
		fprintf(stderr, "%s: %s: bad %s '%s': expected a number 0..%u\n", prog_of(o), cmd, what,
			s, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int run_enable(int argc, char **argv, const struct vmm_vf_cli_opts *o, bool json)
{
	uint32_t count;
	char err[256];

	(void)argc;
	if (parse_index(o, "vf-enable", "COUNT", argv[1], 65535, &count) < 0)
		return 2;
	if (vmm_vf_enable(&o->env, argv[0], count, err, sizeof(err)) < 0) {
		fail_msg(o, "vf-enable", err);
		return 1;
	}
	if (json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "pf", json_object_new_string(argv[0]));
		json_object_object_add(j, "num_vfs", json_object_new_int64(count));
		print_json(j);
		json_object_put(j);
	} else {
		printf("%s: %u VFs enabled\n", argv[0], count);
	}
	return 0;
}

static int run_set(int argc, char **argv, const struct vmm_vf_cli_opts *o, bool json)
{
	struct vmm_vf_settings s = { 0 };
	uint32_t index;
	char err[256];

	if (parse_index(o, "vf-set", "VF number", argv[1], 65535, &index) < 0)
		return 2;
	for (int i = 2; i < argc; i++) {
		if (vmm_vf_settings_parse_kv(argv[i], &s, err, sizeof(err)) < 0) {
			fail_msg(o, "vf-set", err);
			return 2;
		}
	}
	if (vmm_vf_settings_check(&s, err, sizeof(err)) < 0) {
		fail_msg(o, "vf-set", err);
		return 2;
	}
	if (vmm_vf_set(&o->env, argv[0], index, &s, err, sizeof(err)) < 0) {
		fail_msg(o, "vf-set", err);
		return 1;
	}
	if (json) {
		struct json_object *j = json_object_new_object();
		struct json_object *a = json_object_new_object();

		json_object_object_add(j, "pf", json_object_new_string(argv[0]));
		json_object_object_add(j, "vf", json_object_new_int64(index));
		vmm_vf_settings_to_json(&s, a);
		json_object_object_add(j, "applied", a);
		print_json(j);
		json_object_put(j);
	} else {
		printf("%s: VF %u configured\n", argv[0], index);
	}
	return 0;
}

static int run_bind(int argc, char **argv, const struct vmm_vf_cli_opts *o, bool json)
{
	struct vmm_vf_saved sv;
	uint32_t index;
	char err[256];

	(void)argc;
	if (parse_index(o, "vf-bind", "VF number", argv[1], 65535, &index) < 0)
		return 2;
	if (vmm_vf_attach(&o->env, argv[0], (int)index, NULL, &sv, err, sizeof(err)) < 0) {
		fail_msg(o, "vf-bind", err);
		return 1;
	}
	if (json) {
		struct json_object *j = vmm_vf_saved_to_json(&sv);

		print_json(j);
		json_object_put(j);
	} else {
		printf("%s: VF %u (%s) bound to vfio-pci (was %s)\n", argv[0], index, sv.pci_addr,
		       sv.driver[0] ? sv.driver : "unbound");
	}
	return 0;
}

static int run_unbind(int argc, char **argv, const struct vmm_vf_cli_opts *o, bool json)
{
	uint32_t index;
	char err[256];

	(void)argc;
	if (parse_index(o, "vf-unbind", "VF number", argv[1], 65535, &index) < 0)
		return 2;
	if (vmm_vf_release(&o->env, argv[0], index, err, sizeof(err)) < 0) {
		fail_msg(o, "vf-unbind", err);
		return 1;
	}
	if (json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "pf", json_object_new_string(argv[0]));
		json_object_object_add(j, "vf", json_object_new_int64(index));
		print_json(j);
		json_object_put(j);
	} else {
		printf("%s: VF %u released to the host\n", argv[0], index);
	}
	return 0;
}

static const struct vf_cmd cmds[] = {
	{ "vf-list", "[PF]",
	  "list SR-IOV PFs and their VFs (sysfs + rtnetlink settings)", 0, 1, run_list },
	{ "vf-enable", "PF COUNT",
	  "set the number of VFs of PF (0 disables; changes go through 0)", 2, 2, run_enable },
	{ "vf-set", "PF N KEY=VALUE...",
	  "configure VF N: mac=MAC vlan=ID qos=0..7 spoofchk=on|off trust=on|off "
	  "max_rate=MBPS min_rate=MBPS state=auto|enable|disable", 3, -1, run_set },
	{ "vf-bind", "PF N",
	  "bind VF N to vfio-pci (for a DPDK port: vswitchctl add-port ... devargs=PCI)", 2, 2,
	  run_bind },
	{ "vf-unbind", "PF N", "give VF N back to its host driver", 2, 2, run_unbind },
};

bool vmm_vf_cli_is_command(const char *name)
{
	for (size_t i = 0; i < VSL_ARRAY_SIZE(cmds); i++) {
		if (name && !strcmp(name, cmds[i].name))
			return true;
	}
	return false;
}

void vmm_vf_cli_usage(FILE *f)
{
	for (size_t i = 0; i < VSL_ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-10s %-18s %s\n", cmds[i].name, cmds[i].args, cmds[i].help);
}

static void cmd_help(const struct vmm_vf_cli_opts *o, const struct vf_cmd *c, FILE *f)
{
	fprintf(f, "usage: %s [--json] %s %s\n  %s\n", prog_of(o), c->name, c->args, c->help);
	if (!strcmp(c->name, "vf-set"))
		fprintf(f, "  rates are in Mbps (0: no limit); vlan=0 removes the VLAN; qos needs a vlan\n");
	fprintf(f, "  sysfs root: %s\n",
		o->env.sysfs_root && *o->env.sysfs_root ? o->env.sysfs_root : "/sys");
}

int vmm_vf_cli(int argc, char **argv, const struct vmm_vf_cli_opts *o)
{
	const struct vf_cmd *c = NULL;
	char **pos;
	int npos = 0, ret;
	bool json = o->json;

	if (argc < 1 || !argv[0])
		return 2;
	for (size_t i = 0; i < VSL_ARRAY_SIZE(cmds); i++) {
		if (!strcmp(argv[0], cmds[i].name))
			c = &cmds[i];
	}
	if (!c) {
		fprintf(stderr, "%s: unknown command '%s'\n", prog_of(o), argv[0]);
		return 2;
	}
	pos = calloc((size_t)argc, sizeof(*pos));
	if (!pos) {
		fail_msg(o, c->name, "out of memory");
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			cmd_help(o, c, stdout);
			free(pos);
			return 0;
		}
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) {
			json = true;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "%s: %s: unknown option '%s'\n", prog_of(o), c->name, argv[i]);
			free(pos);
			return 2;
		}
		pos[npos++] = argv[i];
	}
	if (npos < c->min_args || (c->max_args >= 0 && npos > c->max_args)) {
		fprintf(stderr, "%s: %s: %s arguments\n", prog_of(o), c->name,
			npos < c->min_args ? "missing" : "too many");
		cmd_help(o, c, stderr);
		free(pos);
		return 2;
	}
	ret = c->run(npos, pos, o, json);
	free(pos);
	return ret;
}
