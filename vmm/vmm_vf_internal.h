/* vmm_vf_internal.h — pieces of the SR-IOV library shared by its files and
 * exposed to its unit tests and fuzz target (not part of the public API). */
#ifndef VMM_VF_INTERNAL_H
#define VMM_VF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vmm_vf.h"

struct nl_msg;

/* ---- rtnetlink (vmm_vf_nl.c) ---- */

/* Builds the RTM_GETLINK request for pf with IFLA_EXT_MASK = RTEXT_FILTER_VF
 * (libnl's rtnl_link_build_get_request). Free with nlmsg_free(). Returns 0 or
 * -ENOMEM/-EINVAL. */
int vmm_vf_nl_build_get(const char *pf, struct nl_msg **msg);

/* Builds, without sending, the RTM_NEWLINK that applies s->fields to VF vf of
 * the link ifindex: IFLA_VFINFO_LIST { IFLA_VF_INFO { IFLA_VF_MAC,
 * IFLA_VF_VLAN (struct ifla_vf_vlan, full size), IFLA_VF_RATE, IFLA_VF_SPOOFCHK,
 * IFLA_VF_TRUST, IFLA_VF_LINK_STATE } } through rtnl_link_vf_* and
 * rtnl_link_build_change_request(). A rate is sent as both min and max (the
 * kernel sets both): callers merge the one they keep (vmm_vf_set does).
 * Free with nlmsg_free(). Returns 0 or -errno. */
int vmm_vf_nl_build_set(int ifindex, uint32_t vf, const struct vmm_vf_settings *s,
			struct nl_msg **msg);

/* Parses one RTM_NEWLINK message (header included; len bytes available) into
 * out: ifindex, IFLA_IFNAME, IFLA_NUM_VF and every IFLA_VF_INFO of
 * IFLA_VFINFO_LIST. Every length is checked; a malformed message gives -EBADMSG
 * (or -ENOMEM) with the offending attribute named in err, and out is left
 * empty. On success free out with vmm_vf_link_fini(). */
int vmm_vf_nl_parse_link(const void *buf, size_t len, struct vmm_vf_link *out, char *err,
			 size_t errlen);

/* Parses an NLMSG_ERROR message: *error gets the (negative) errno, msg the
 * extended ACK text (NLMSGERR_ATTR_MSG) or "" when there is none. Returns 0 or
 * -EBADMSG when the message is malformed. */
int vmm_vf_nl_parse_error(const void *buf, size_t len, int *error, char *msg, size_t msglen);

/* The kernel implementations behind struct vmm_vf_ops. */
int vmm_vf_nl_get_link(void *arg, const char *pf, struct vmm_vf_link *out, char *err,
		       size_t errlen);
int vmm_vf_nl_set_vf(void *arg, int ifindex, uint32_t vf, const struct vmm_vf_settings *s,
		     char *err, size_t errlen);

/* ---- settings (vmm_vf_cfg.c) ---- */

/* "02:00:00:00:00:01" <-> bytes. */
int vmm_vf_mac_parse(const char *s, uint8_t mac[6]);
void vmm_vf_mac_format(const uint8_t mac[6], char buf[18]);
const char *vmm_vf_link_state_name(enum vmm_vf_link_state st);
/* Adds the settings in s->fields to obj (JSON keys as in vmm_vf_spec). */
void vmm_vf_settings_to_json(const struct vmm_vf_settings *s, struct json_object *obj);

#endif /* VMM_VF_INTERNAL_H */
