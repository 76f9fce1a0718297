/* fuzz_vmm_vf_nl.c — libFuzzer target for the SR-IOV parsers (vmm/vmm_vf_nl.c,
 * vmm/vmm_vf_cfg.c).
 *
 * Input: one mode byte, then the payload:
 *   mode % 4 == 0: an RTM_NEWLINK reply (vmm_vf_nl_parse_link). Whatever it
 *                  accepts must be in range, have unique VF numbers, and
 *                  survive a round trip through the request builder (libnl's
 *                  rtnl_link_vf_*) and the parser unchanged;
 *   mode % 4 == 1: an NLMSG_ERROR with extended ACK (vmm_vf_nl_parse_error);
 *   mode % 4 == 2: a VM definition's VF object, JSON (vmm_vf_spec_from_json),
 *                  round-tripped through vmm_vf_spec_to_json;
 *   mode % 4 == 3: a saved attach state, JSON (vmm_vf_saved_from_json),
 *                  round-tripped through vmm_vf_saved_to_json. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_ether.h>

#include <netlink/msg.h>

#include "vmm_vf_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cfg(const struct vmm_vf_settings *c)
{
	if (c->vlan > 4095 || c->qos > 7 || (unsigned)c->link_state > VMM_VF_LINK_DISABLE)
		abort();
}

/* Equal in every field the mask says is set (structs have padding). */
static bool settings_eq(const struct vmm_vf_settings *a, const struct vmm_vf_settings *b)
{
	uint32_t f = a->fields;

	return f == b->fields && (!(f & VMM_VF_MAC) || !memcmp(a->mac, b->mac, 6)) &&
	       (!(f & VMM_VF_VLAN) || (a->vlan == b->vlan && a->qos == b->qos &&
				       a->vlan_proto == b->vlan_proto)) &&
	       (!(f & VMM_VF_SPOOFCHK) || a->spoofchk == b->spoofchk) &&
	       (!(f & VMM_VF_TRUST) || a->trust == b->trust) &&
	       (!(f & VMM_VF_MAX_RATE) || a->max_rate == b->max_rate) &&
	       (!(f & VMM_VF_MIN_RATE) || a->min_rate == b->min_rate) &&
	       (!(f & VMM_VF_LINK_STATE) || a->link_state == b->link_state);
}

static void roundtrip_vf(const struct vmm_vf_nl_vf *vf)
{
	struct vmm_vf_settings s = vf->cfg;
	const struct vmm_vf_settings *g;
	struct vmm_vf_link l;
	struct nl_msg *m;
	char err[160];

	s.vlan_proto = ETH_P_8021Q;        /* requests carry 802.1Q only */
	if (!s.fields)
		return;                    /* nothing to send */
	if (vmm_vf_nl_build_set(5, vf->index, &s, &m) < 0)
		abort();
	if (vmm_vf_nl_parse_link(nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len, &l, err, sizeof(err)))
		abort();
	nlmsg_free(m);
	if (l.n_vfs != 1 || l.vfs[0].index != vf->index || l.ifindex != 5)
		abort();
	g = &l.vfs[0].cfg;
	if ((g->fields & s.fields) != s.fields)
		abort();
	if ((s.fields & VMM_VF_MAC) && memcmp(g->mac, s.mac, 6))
		abort();
	if ((s.fields & VMM_VF_VLAN) && (g->vlan != s.vlan || g->qos != s.qos))
		abort();
	if ((s.fields & VMM_VF_SPOOFCHK) && g->spoofchk != s.spoofchk)
		abort();
	if ((s.fields & VMM_VF_TRUST) && g->trust != s.trust)
		abort();
	if ((s.fields & VMM_VF_MAX_RATE) && g->max_rate != s.max_rate)
		abort();
	if ((s.fields & VMM_VF_MIN_RATE) && g->min_rate != s.min_rate)
		abort();
	if ((s.fields & VMM_VF_LINK_STATE) && g->link_state != s.link_state)
		abort();
	vmm_vf_link_fini(&l);
}

static void fuzz_link(const void *buf, size_t len)
{
	struct vmm_vf_link l;
	char err[160];

	if (vmm_vf_nl_parse_link(buf, len, &l, err, sizeof(err)) < 0) {
		if (l.vfs || l.n_vfs || !err[0])
			abort();
		return;
	}
	for (size_t i = 0; i < l.n_vfs; i++) {
		check_cfg(&l.vfs[i].cfg);
		for (size_t j = 0; j < i; j++)
			if (l.vfs[j].index == l.vfs[i].index)
				abort();
		roundtrip_vf(&l.vfs[i]);
	}
	if (l.name[sizeof(l.name) - 1])
		abort();
	vmm_vf_link_fini(&l);
}

static struct json_object *parse_json(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	struct json_object *j;

	if (!tok)
		return NULL;
	j = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	return j;
}

static void fuzz_spec(const uint8_t *data, size_t size)
{
	struct json_object *j = parse_json(data, size), *again;
	struct vmm_vf_spec a, b;
	char err[256];

	if (!j)
		return;
	if (vmm_vf_spec_from_json(j, &a, err, sizeof(err)) == 0) {
		check_cfg(&a.settings);
		again = vmm_vf_spec_to_json(&a);
		if (vmm_vf_spec_from_json(again, &b, err, sizeof(err)) || strcmp(a.pf, b.pf) ||
		    a.index != b.index || !settings_eq(&a.settings, &b.settings))
			abort();
		json_object_put(again);
	} else if (!err[0]) {
		abort();
	}
	json_object_put(j);
}

static void fuzz_saved(const uint8_t *data, size_t size)
{
	struct json_object *j = parse_json(data, size), *again;
	struct vmm_vf_saved a, b;
	char err[256];

	if (!j)
		return;
	if (vmm_vf_saved_from_json(j, &a, err, sizeof(err)) == 0) {
		check_cfg(&a.settings);
		again = vmm_vf_saved_to_json(&a);
		if (vmm_vf_saved_from_json(again, &b, err, sizeof(err)) || strcmp(a.pf, b.pf) ||
		    a.index != b.index || strcmp(a.pci_addr, b.pci_addr) ||
		    strcmp(a.driver, b.driver) || strcmp(a.driver_override, b.driver_override) ||
		    !settings_eq(&a.settings, &b.settings))
			abort();
		json_object_put(again);
	} else if (!err[0]) {
		abort();
	}
	json_object_put(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;
	int error;
	char msg[64];

	if (size < 1 || size > 65536)
		return 0;
	/* Netlink messages are 4-byte aligned in a receive buffer: so here. */
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		fuzz_link(buf, size - 1);
		break;
	case 1:
		if (vmm_vf_nl_parse_error(buf, size - 1, &error, msg, sizeof(msg)) == 0 &&
		    strlen(msg) >= sizeof(msg))
			abort();
		break;
	case 2:
		fuzz_spec(buf, size - 1);
		break;
	default:
		fuzz_saved(buf, size - 1);
		break;
	}
	free(buf);
	return 0;
}
