/* vmm_vf_cfg.c — VF settings: key=value and JSON forms, validation, and the
 * JSON of a VM's VF spec and of what an attach saved. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_ether.h>

#include "vmm_vf_internal.h"
#include "vsl_util.h"

static const char *const settings_keys =
	"mac, vlan, qos, spoofchk, trust, max_rate, min_rate, state";

int vmm_vf_mac_parse(const char *s, uint8_t mac[6])
{
	uint8_t out[6];

	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;

		for (int j = 0; j < 2; j++) {
			char c = s[i * 3 + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return -EINVAL;
		}
		if (i < 5 && s[i * 3 + 2] != ':')
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	memcpy(mac, out, 6);
	return 0;
}

void vmm_vf_mac_format(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

const char *vmm_vf_link_state_name(enum vmm_vf_link_state st)
{
	switch (st) {
	case VMM_VF_LINK_AUTO: return "auto";
	case VMM_VF_LINK_ENABLE: return "enable";
	case VMM_VF_LINK_DISABLE: return "disable";
	}
	return "?";
}

static int link_state_parse(const char *s, enum vmm_vf_link_state *st)
{
	if (!strcmp(s, "auto"))
		*st = VMM_VF_LINK_AUTO;
	else if (!strcmp(s, "enable"))
		*st = VMM_VF_LINK_ENABLE;
	else if (!strcmp(s, "disable"))
		*st = VMM_VF_LINK_DISABLE;
	else
		return -EINVAL;
	return 0;
}

static int onoff_parse(const char *s, bool *b)
{
	if (!strcmp(s, "on") || !strcmp(s, "true"))
		*b = true;
	else if (!strcmp(s, "off") || !strcmp(s, "false"))
		*b = false;
	else
		return -EINVAL;
	return 0;
}

static int num_parse(const char *s, uint64_t max, uint64_t *v)
{
	if (vsl_parse_u64(s, v) < 0 || *v > max)
		return -EINVAL;
	return 0;
}

int vmm_vf_settings_check(const struct vmm_vf_settings *s, char *err, size_t errlen)
{
	if (s->fields & VMM_VF_MAC) {
		char m[18];

		vmm_vf_mac_format(s->mac, m);
		if (s->mac[0] & 1)
			return vsl_errf(err, errlen, -EINVAL, "mac %s is a multicast address", m);
	}
	if (s->fields & VMM_VF_VLAN) {
		if (s->vlan > 4095)
			return vsl_errf(err, errlen, -EINVAL, "vlan %u out of range 0..4095", s->vlan);
		if (s->qos > 7)
			return vsl_errf(err, errlen, -EINVAL, "qos %u out of range 0..7", s->qos);
		if (s->qos && !s->vlan)
			return vsl_errf(err, errlen, -EINVAL, "qos %u needs a vlan", s->qos);
		if (s->vlan_proto && s->vlan_proto != ETH_P_8021Q)
			return vsl_errf(err, errlen, -EOPNOTSUPP,
					"vlan_proto 0x%04x: only 802.1Q VF VLANs are supported",
					s->vlan_proto);
	}
	if ((s->fields & VMM_VF_MAX_RATE) && (s->fields & VMM_VF_MIN_RATE) && s->max_rate &&
	    s->min_rate > s->max_rate)
		return vsl_errf(err, errlen, -EINVAL, "min_rate %u above max_rate %u", s->min_rate,
				s->max_rate);
	if ((s->fields & VMM_VF_LINK_STATE) && (unsigned)s->link_state > VMM_VF_LINK_DISABLE)
		return vsl_errf(err, errlen, -EINVAL, "link state %u invalid", (unsigned)s->link_state);
	return 0;
}

int vmm_vf_settings_parse_kv(const char *kv, struct vmm_vf_settings *s, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	char key[32];
	const char *val;
	uint64_t v;
	size_t kl;

	if (!eq || eq == kv)
		return vsl_errf(err, errlen, -EINVAL, "'%s' is not key=value (keys: %s)", kv,
				settings_keys);
	kl = (size_t)(eq - kv);
	if (kl >= sizeof(key))
		return vsl_errf(err, errlen, -EINVAL, "unknown setting '%.*s' (keys: %s)", 31, kv,
				settings_keys);
	memcpy(key, kv, kl);
	key[kl] = '\0';
	val = eq + 1;
	if (!strcmp(key, "mac")) {
		if (vmm_vf_mac_parse(val, s->mac) < 0)
			return vsl_errf(err, errlen, -EINVAL,
					"bad mac '%s': expected xx:xx:xx:xx:xx:xx", val);
		s->fields |= VMM_VF_MAC;
	} else if (!strcmp(key, "vlan")) {
		if (num_parse(val, 4095, &v) < 0)
			return vsl_errf(err, errlen, -EINVAL, "bad vlan '%s': expected 0..4095", val);
		s->vlan = (uint16_t)v;
		s->vlan_proto = ETH_P_8021Q;
		s->fields |= VMM_VF_VLAN;
	} else if (!strcmp(key, "qos")) {
		if (num_parse(val, 7, &v) < 0)
			return vsl_errf(err, errlen, -EINVAL, "bad qos '%s': expected 0..7", val);
		s->qos = (uint8_t)v;
		s->fields |= VMM_VF_VLAN;
	} else if (!strcmp(key, "spoofchk") || !strcmp(key, "trust")) {
		bool b;

		if (onoff_parse(val, &b) < 0)
			return vsl_errf(err, errlen, -EINVAL, "bad %s '%s': expected on or off", key,
					val);
		if (key[0] == 's') {
			s->spoofchk = b;
			s->fields |= VMM_VF_SPOOFCHK;
		} else {
			s->trust = b;
			s->fields |= VMM_VF_TRUST;
		}
	} else if (!strcmp(key, "max_rate") || !strcmp(key, "min_rate")) {
		if (num_parse(val, UINT32_MAX, &v) < 0)
			return vsl_errf(err, errlen, -EINVAL,
					"bad %s '%s': expected a rate in Mbps (0: no limit)", key, val);
		if (key[1] == 'a') {
			s->max_rate = (uint32_t)v;
			s->fields |= VMM_VF_MAX_RATE;
		} else {
			s->min_rate = (uint32_t)v;
			s->fields |= VMM_VF_MIN_RATE;
		}
	} else if (!strcmp(key, "state") || !strcmp(key, "link_state")) {
		if (link_state_parse(val, &s->link_state) < 0)
			return vsl_errf(err, errlen, -EINVAL,
					"bad %s '%s': expected auto, enable or disable", key, val);
		s->fields |= VMM_VF_LINK_STATE;
	} else {
		return vsl_errf(err, errlen, -EINVAL, "unknown setting '%s' (keys: %s)", key,
				settings_keys);
	}
	return 0;
}

/* ---- JSON ---- */

void vmm_vf_settings_to_json(const struct vmm_vf_settings *s, struct json_object *o)
{
	if (s->fields & VMM_VF_MAC) {
		char m[18];

		vmm_vf_mac_format(s->mac, m);
		json_object_object_add(o, "mac", json_object_new_string(m));
	}
	if (s->fields & VMM_VF_VLAN) {
		json_object_object_add(o, "vlan", json_object_new_int(s->vlan));
		json_object_object_add(o, "qos", json_object_new_int(s->qos));
		if (s->vlan_proto == ETH_P_8021AD)
			json_object_object_add(o, "vlan_proto", json_object_new_string("802.1ad"));
	}
	if (s->fields & VMM_VF_SPOOFCHK)
		json_object_object_add(o, "spoofchk", json_object_new_boolean(s->spoofchk));
	if (s->fields & VMM_VF_TRUST)
		json_object_object_add(o, "trust", json_object_new_boolean(s->trust));
	if (s->fields & VMM_VF_MAX_RATE)
		json_object_object_add(o, "max_rate", json_object_new_int64(s->max_rate));
	if (s->fields & VMM_VF_MIN_RATE)
		json_object_object_add(o, "min_rate", json_object_new_int64(s->min_rate));
	if (s->fields & VMM_VF_LINK_STATE)
		json_object_object_add(o, "link_state",
				       json_object_new_string(vmm_vf_link_state_name(s->link_state)));
}

static int json_uint(struct json_object *v, const char *key, uint64_t max, uint64_t *out,
		     char *err, size_t errlen)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return vsl_errf(err, errlen, -EINVAL, "%s: expected an integer", key);
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max)
		return vsl_errf(err, errlen, -EINVAL, "%s: %lld out of range 0..%llu", key,
				(long long)n, (unsigned long long)max);
	*out = (uint64_t)n;
	return 0;
}

/* Parses one settings key of a JSON object. Returns 1 when key is not a
 * settings key, 0 when parsed, -EINVAL with err set when its value is bad. */
static int settings_json_key(const char *key, struct json_object *v, struct vmm_vf_settings *s,
			     const char *ctx, char *err, size_t errlen)
{
	char name[96];
	uint64_t n;
	int ret;

	snprintf(name, sizeof(name), "%s%s", ctx, key);
	if (!strcmp(key, "mac")) {
		if (!json_object_is_type(v, json_type_string) ||
		    vmm_vf_mac_parse(json_object_get_string(v), s->mac) < 0)
			return vsl_errf(err, errlen, -EINVAL, "%s: expected \"xx:xx:xx:xx:xx:xx\"",
					name);
		s->fields |= VMM_VF_MAC;
	} else if (!strcmp(key, "vlan") || !strcmp(key, "qos")) {
		bool vlan = key[0] == 'v';

		if ((ret = json_uint(v, name, vlan ? 4095 : 7, &n, err, errlen)) < 0)
			return ret;
		if (vlan)
			s->vlan = (uint16_t)n;
		else
			s->qos = (uint8_t)n;
		if (!s->vlan_proto)
			s->vlan_proto = ETH_P_8021Q;
		s->fields |= VMM_VF_VLAN;
	} else if (!strcmp(key, "vlan_proto")) {
		const char *p = json_object_is_type(v, json_type_string) ?
			json_object_get_string(v) : "";

		if (!strcasecmp(p, "802.1Q"))
			s->vlan_proto = ETH_P_8021Q;
		else if (!strcasecmp(p, "802.1ad"))
			s->vlan_proto = ETH_P_8021AD;
		else
			return vsl_errf(err, errlen, -EINVAL, "%s: expected \"802.1Q\" or \"802.1ad\"",
					name);
	} else if (!strcmp(key, "spoofchk") || !strcmp(key, "trust")) {
		if (!json_object_is_type(v, json_type_boolean))
			return vsl_errf(err, errlen, -EINVAL, "%s: expected true or false", name);
		if (key[0] == 's') {
			s->spoofchk = json_object_get_boolean(v);
			s->fields |= VMM_VF_SPOOFCHK;
		} else {
			s->trust = json_object_get_boolean(v);
			s->fields |= VMM_VF_TRUST;
		}
	} else if (!strcmp(key, "max_rate") || !strcmp(key, "min_rate")) {
		if ((ret = json_uint(v, name, UINT32_MAX, &n, err, errlen)) < 0)
			return ret;
		if (key[1] == 'a') {
			s->max_rate = (uint32_t)n;
			s->fields |= VMM_VF_MAX_RATE;
		} else {
			s->min_rate = (uint32_t)n;
			s->fields |= VMM_VF_MIN_RATE;
		}
	} else if (!strcmp(key, "link_state")) {
		if (!json_object_is_type(v, json_type_string) ||
		    link_state_parse(json_object_get_string(v), &s->link_state) < 0)
			return vsl_errf(err, errlen, -EINVAL,
					"%s: expected \"auto\", \"enable\" or \"disable\"", name);
		s->fields |= VMM_VF_LINK_STATE;
	} else {
		return 1;
	}
	return 0;
}

static int ifname_copy(struct json_object *v, const char *key, char out[VMM_VF_IFNAME_LEN],
		       char *err, size_t errlen)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return vsl_errf(err, errlen, -EINVAL, "%s: expected a network device name", key);
	s = json_object_get_string(v);
	if (!*s || strlen(s) >= VMM_VF_IFNAME_LEN || strchr(s, '/') || !strcmp(s, ".") ||
	    !strcmp(s, ".."))
		return vsl_errf(err, errlen, -EINVAL, "%s: '%s' is not a network device name", key,
				s);
	snprintf(out, VMM_VF_IFNAME_LEN, "%s", s);
	return 0;
}

int vmm_vf_spec_from_json(struct json_object *obj, struct vmm_vf_spec *spec, char *err,
			  size_t errlen)
{
	struct vmm_vf_spec sp = { .index = -1 };
	bool have_pf = false;
	int ret;

	if (!json_object_is_type(obj, json_type_object))
		return vsl_errf(err, errlen, -EINVAL, "vf: expected an object");
	json_object_object_foreach(obj, key, v) {
		if (!strcmp(key, "pf")) {
			if ((ret = ifname_copy(v, "pf", sp.pf, err, errlen)) < 0)
				return ret;
			have_pf = true;
		} else if (!strcmp(key, "vf")) {
			uint64_t n;

			if (json_object_is_type(v, json_type_string) &&
			    !strcmp(json_object_get_string(v), "any")) {
				sp.index = -1;
				continue;
			}
			if (!json_object_is_type(v, json_type_int))
				return vsl_errf(err, errlen, -EINVAL,
						"vf: expected a VF number or \"any\"");
			if ((ret = json_uint(v, "vf", 65535, &n, err, errlen)) < 0)
				return ret;
			sp.index = (int)n;
		} else if (!strcmp(key, "vlan_proto")) {
			return vsl_errf(err, errlen, -EINVAL,
					"vlan_proto: only 802.1Q VF VLANs are supported");
		} else {
			ret = settings_json_key(key, v, &sp.settings, "", err, errlen);
			if (ret < 0)
				return ret;
			if (ret > 0)
				return vsl_errf(err, errlen, -EINVAL,
						"unknown key '%s' in vf (pf, vf, %s)", key,
						"mac, vlan, qos, spoofchk, trust, max_rate, min_rate, link_state");
		}
	}
	if (!have_pf)
		return vsl_errf(err, errlen, -EINVAL, "pf: missing (the physical function's netdev)");
	if ((ret = vmm_vf_settings_check(&sp.settings, err, errlen)) < 0)
		return ret;
	*spec = sp;
	return 0;
}

struct json_object *vmm_vf_spec_to_json(const struct vmm_vf_spec *spec)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "pf", json_object_new_string(spec->pf));
	if (spec->index >= 0)
		json_object_object_add(o, "vf", json_object_new_int(spec->index));
	else
		json_object_object_add(o, "vf", json_object_new_string("any"));
	vmm_vf_settings_to_json(&spec->settings, o);
	return o;
}

struct json_object *vmm_vf_saved_to_json(const struct vmm_vf_saved *sv)
{
	struct json_object *o = json_object_new_object();
	struct json_object *s = json_object_new_object();

	json_object_object_add(o, "pf", json_object_new_string(sv->pf));
	json_object_object_add(o, "vf", json_object_new_int64(sv->index));
	json_object_object_add(o, "pci", json_object_new_string(sv->pci_addr));
	json_object_object_add(o, "driver", json_object_new_string(sv->driver));
	json_object_object_add(o, "driver_override", json_object_new_string(sv->driver_override));
	vmm_vf_settings_to_json(&sv->settings, s);
	json_object_object_add(o, "settings", s);
	return o;
}

static int str_copy(struct json_object *v, const char *key, char *out, size_t outlen,
		    bool allow_empty, char *err, size_t errlen)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return vsl_errf(err, errlen, -EINVAL, "%s: expected a string", key);
	s = json_object_get_string(v);
	if ((!allow_empty && !*s) || strlen(s) >= outlen || strchr(s, '/') || strchr(s, '\n'))
		return vsl_errf(err, errlen, -EINVAL, "%s: '%s' invalid", key, s);
	snprintf(out, outlen, "%s", s);
	return 0;
}

int vmm_vf_saved_from_json(struct json_object *obj, struct vmm_vf_saved *saved, char *err,
			   size_t errlen)
{
	struct vmm_vf_saved sv = { 0 };
	unsigned seen = 0;
	uint64_t n;
	int ret;

	if (!json_object_is_type(obj, json_type_object))
		return vsl_errf(err, errlen, -EINVAL, "saved VF: expected an object");
	json_object_object_foreach(obj, key, v) {
		if (!strcmp(key, "pf")) {
			ret = ifname_copy(v, "pf", sv.pf, err, errlen);
			seen |= 1;
		} else if (!strcmp(key, "vf")) {
			ret = json_uint(v, "vf", 65535, &n, err, errlen);
			sv.index = (uint32_t)n;
			seen |= 2;
		} else if (!strcmp(key, "pci")) {
			ret = str_copy(v, "pci", sv.pci_addr, sizeof(sv.pci_addr), false, err, errlen);
			seen |= 4;
		} else if (!strcmp(key, "driver")) {
			ret = str_copy(v, "driver", sv.driver, sizeof(sv.driver), true, err, errlen);
		} else if (!strcmp(key, "driver_override")) {
			ret = str_copy(v, "driver_override", sv.driver_override,
				       sizeof(sv.driver_override), true, err, errlen);
		} else if (!strcmp(key, "settings")) {
			if (!json_object_is_type(v, json_type_object))
				return vsl_errf(err, errlen, -EINVAL, "settings: expected an object");
			ret = 0;
			json_object_object_foreach(v, skey, sval) {
				ret = settings_json_key(skey, sval, &sv.settings, "settings.", err,
							errlen);
				if (ret > 0)
					return vsl_errf(err, errlen, -EINVAL,
							"unknown key 'settings.%s'", skey);
				if (ret < 0)
					return ret;
			}
		} else {
			return vsl_errf(err, errlen, -EINVAL, "unknown key '%s' in saved VF", key);
		}
		if (ret < 0)
			return ret;
	}
	if ((seen & 7) != 7)
		return vsl_errf(err, errlen, -EINVAL, "%s: missing",
				!(seen & 1) ? "pf" : !(seen & 2) ? "vf" : "pci");
	*saved = sv;
	return 0;
}
