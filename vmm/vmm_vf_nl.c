/* vmm_vf_nl.c — the rtnetlink side of SR-IOV: reading a PF's VF list
 * (RTM_GETLINK with RTEXT_FILTER_VF) and configuring a VF through libnl-route-3.
 *
 * Requests are built by libnl (rtnl_link_build_get_request, rtnl_link_vf_* +
 * rtnl_link_build_change_request) and can be built without sending, so the
 * tests check the exact bytes. Replies are parsed here rather than by libnl's
 * object cache: every attribute length is checked against its struct, and a
 * bad one is named in the error (the fuzz target feeds this parser).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/sriov.h>
#include <netlink/socket.h>

#include "vmm_vf_internal.h"
#include "vsl_util.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

/* ---- parsing ---- */

struct vf_attr_desc {
	const char *name;
	size_t min_len;
};

static const struct vf_attr_desc vf_attrs[IFLA_VF_MAX + 1] = {
	[IFLA_VF_MAC] = { "IFLA_VF_MAC", sizeof(struct ifla_vf_mac) },
	[IFLA_VF_VLAN] = { "IFLA_VF_VLAN", sizeof(struct ifla_vf_vlan) },
	[IFLA_VF_TX_RATE] = { "IFLA_VF_TX_RATE", sizeof(struct ifla_vf_tx_rate) },
	[IFLA_VF_SPOOFCHK] = { "IFLA_VF_SPOOFCHK", sizeof(struct ifla_vf_spoofchk) },
	[IFLA_VF_LINK_STATE] = { "IFLA_VF_LINK_STATE", sizeof(struct ifla_vf_link_state) },
	[IFLA_VF_RATE] = { "IFLA_VF_RATE", sizeof(struct ifla_vf_rate) },
	[IFLA_VF_TRUST] = { "IFLA_VF_TRUST", sizeof(struct ifla_vf_trust) },
	[IFLA_VF_VLAN_LIST] = { "IFLA_VF_VLAN_LIST", 0 },
};

void vmm_vf_link_fini(struct vmm_vf_link *l)
{
	if (!l)
		return;
	free(l->vfs);
	memset(l, 0, sizeof(*l));
}

/* Every per-VF struct starts with the VF number; all of them must agree. */
static int vf_index_note(uint32_t v, const char *attr, bool *have, uint32_t *idx, char *err,
			 size_t errlen)
{
	if (*have && *idx != v)
		return vsl_errf(err, errlen, -EBADMSG,
				"%s names VF %u inside the IFLA_VF_INFO of VF %u", attr, v, *idx);
	*have = true;
	*idx = v;
	return 0;
}

static int parse_vlan_list(struct nlattr *list, struct vmm_vf_settings *cfg, bool *have,
			   uint32_t *idx, char *err, size_t errlen)
{
	struct nlattr *a;
	int rem;

	nla_for_each_nested(a, list, rem) {
		struct ifla_vf_vlan_info vi;
		int ret;

		if (nla_type(a) != IFLA_VF_VLAN_INFO)
			continue;
		if ((size_t)nla_len(a) < sizeof(vi))
			return vsl_errf(err, errlen, -EBADMSG,
					"IFLA_VF_VLAN_INFO is %d bytes, needs %zu", nla_len(a),
					sizeof(vi));
		memcpy(&vi, nla_data(a), sizeof(vi));
		ret = vf_index_note(vi.vf, "IFLA_VF_VLAN_INFO", have, idx, err, errlen);
		if (ret < 0)
			return ret;
		/* One entry per VF today (the kernel reports the 802.1Q or 802.1ad
		 * tag it inserts); the first one wins. */
		if (!(cfg->fields & VMM_VF_VLAN) || cfg->vlan_proto == 0) {
			cfg->vlan = (uint16_t)(vi.vlan & 0xfff);
			cfg->qos = (uint8_t)(vi.qos & 0x7);
			cfg->vlan_proto = ntohs(vi.vlan_proto);
			cfg->fields |= VMM_VF_VLAN;
		}
		return 0;
	}
	return 0;
}

static int parse_vf_info(struct nlattr *info, struct vmm_vf_nl_vf *vf, char *err, size_t errlen)
{
	struct nlattr *tb[IFLA_VF_MAX + 1];
	struct vmm_vf_settings *cfg = &vf->cfg;
	bool have = false;
	uint32_t idx = 0;
	int ret;

	memset(vf, 0, sizeof(*vf));
	if (nla_parse_nested(tb, IFLA_VF_MAX, info, NULL) < 0)
		return vsl_errf(err, errlen, -EBADMSG, "IFLA_VF_INFO: malformed attributes");
	for (int t = 1; t <= IFLA_VF_MAX; t++) {
		if (tb[t] && vf_attrs[t].name && (size_t)nla_len(tb[t]) < vf_attrs[t].min_len)
			return vsl_errf(err, errlen, -EBADMSG, "%s is %d bytes, needs %zu",
					vf_attrs[t].name, nla_len(tb[t]), vf_attrs[t].min_len);
	}
	if (tb[IFLA_VF_MAC]) {
		struct ifla_vf_mac m;

		memcpy(&m, nla_data(tb[IFLA_VF_MAC]), sizeof(m));
		if ((ret = vf_index_note(m.vf, "IFLA_VF_MAC", &have, &idx, err, errlen)) < 0)
			return ret;
		memcpy(cfg->mac, m.mac, 6);
		cfg->fields |= VMM_VF_MAC;
	}
	if (tb[IFLA_VF_VLAN]) {
		struct ifla_vf_vlan v;

		memcpy(&v, nla_data(tb[IFLA_VF_VLAN]), sizeof(v));
		if ((ret = vf_index_note(v.vf, "IFLA_VF_VLAN", &have, &idx, err, errlen)) < 0)
			return ret;
		cfg->vlan = (uint16_t)(v.vlan & 0xfff);
		cfg->qos = (uint8_t)(v.qos & 0x7);
		cfg->vlan_proto = ETH_P_8021Q;
		cfg->fields |= VMM_VF_VLAN;
	}
	if (tb[IFLA_VF_VLAN_LIST]) {
		cfg->vlan_proto = 0;    /* let the list's entry replace IFLA_VF_VLAN's */
		ret = parse_vlan_list(tb[IFLA_VF_VLAN_LIST], cfg, &have, &idx, err, errlen);
		if (ret < 0)
			return ret;
		if (cfg->vlan_proto == 0)
			cfg->vlan_proto = ETH_P_8021Q;
	}
	if (tb[IFLA_VF_RATE]) {
		struct ifla_vf_rate r;

		memcpy(&r, nla_data(tb[IFLA_VF_RATE]), sizeof(r));
		if ((ret = vf_index_note(r.vf, "IFLA_VF_RATE", &have, &idx, err, errlen)) < 0)
			return ret;
		cfg->max_rate = r.max_tx_rate;
		cfg->min_rate = r.min_tx_rate;
		cfg->fields |= VMM_VF_MAX_RATE | VMM_VF_MIN_RATE;
	} else if (tb[IFLA_VF_TX_RATE]) {
		struct ifla_vf_tx_rate r;

		memcpy(&r, nla_data(tb[IFLA_VF_TX_RATE]), sizeof(r));
		if ((ret = vf_index_note(r.vf, "IFLA_VF_TX_RATE", &have, &idx, err, errlen)) < 0)
			return ret;
		cfg->max_rate = r.rate;
		cfg->fields |= VMM_VF_MAX_RATE;
	}
	if (tb[IFLA_VF_SPOOFCHK]) {
		struct ifla_vf_spoofchk s;

		memcpy(&s, nla_data(tb[IFLA_VF_SPOOFCHK]), sizeof(s));
		if ((ret = vf_index_note(s.vf, "IFLA_VF_SPOOFCHK", &have, &idx, err, errlen)) < 0)
			return ret;
		if (s.setting != (uint32_t)-1) {   /* -1: the driver cannot tell */
			cfg->spoofchk = s.setting != 0;
			cfg->fields |= VMM_VF_SPOOFCHK;
		}
	}
	if (tb[IFLA_VF_TRUST]) {
		struct ifla_vf_trust s;

		memcpy(&s, nla_data(tb[IFLA_VF_TRUST]), sizeof(s));
		if ((ret = vf_index_note(s.vf, "IFLA_VF_TRUST", &have, &idx, err, errlen)) < 0)
			return ret;
		if (s.setting != (uint32_t)-1) {
			cfg->trust = s.setting != 0;
			cfg->fields |= VMM_VF_TRUST;
		}
	}
	if (tb[IFLA_VF_LINK_STATE]) {
		struct ifla_vf_link_state s;

		memcpy(&s, nla_data(tb[IFLA_VF_LINK_STATE]), sizeof(s));
		if ((ret = vf_index_note(s.vf, "IFLA_VF_LINK_STATE", &have, &idx, err, errlen)) < 0)
			return ret;
		if (s.link_state <= IFLA_VF_LINK_STATE_DISABLE) {
			cfg->link_state = (enum vmm_vf_link_state)s.link_state;
			cfg->fields |= VMM_VF_LINK_STATE;
		}
	}
	if (!have)
		return vsl_errf(err, errlen, -EBADMSG, "IFLA_VF_INFO without a VF number");
	vf->index = idx;
	return 0;
}

static int parse_vfinfo_list(struct nlattr *list, struct vmm_vf_link *out, char *err,
			     size_t errlen)
{
	struct nlattr *a;
	size_t n = 0;
	int rem, ret;

	nla_for_each_nested(a, list, rem) {
		if (nla_type(a) == IFLA_VF_INFO)
			n++;
	}
	if (n == 0)
		return 0;
	out->vfs = calloc(n, sizeof(*out->vfs));
	if (!out->vfs)
		return vsl_errf(err, errlen, -ENOMEM, "out of memory for %zu VFs", n);
	nla_for_each_nested(a, list, rem) {
		struct vmm_vf_nl_vf *vf = &out->vfs[out->n_vfs];

		if (nla_type(a) != IFLA_VF_INFO)
			continue;
		if ((ret = parse_vf_info(a, vf, err, errlen)) < 0)
			return ret;
		for (size_t i = 0; i < out->n_vfs; i++) {
			if (out->vfs[i].index == vf->index)
				return vsl_errf(err, errlen, -EBADMSG,
						"IFLA_VFINFO_LIST reports VF %u twice", vf->index);
		}
		out->n_vfs++;
	}
	return 0;
}

int vmm_vf_nl_parse_link(const void *buf, size_t len, struct vmm_vf_link *out, char *err,
			 size_t errlen)
{
	struct nlattr *tb[IFLA_MAX + 1];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct ifinfomsg ifi;
	int ret;

	memset(out, 0, sizeof(*out));
	if (len < NLMSG_HDRLEN || h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > len)
		return vsl_errf(err, errlen, -EBADMSG, "netlink message length %u invalid for %zu bytes",
				len < NLMSG_HDRLEN ? 0u : h->nlmsg_len, len);
	if (h->nlmsg_type != RTM_NEWLINK)
		return vsl_errf(err, errlen, -EBADMSG, "netlink message type %u is not RTM_NEWLINK",
				h->nlmsg_type);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifi)))
		return vsl_errf(err, errlen, -EBADMSG, "RTM_NEWLINK of %u bytes has no ifinfomsg",
				h->nlmsg_len);
	memcpy(&ifi, NLMSG_DATA(h), sizeof(ifi));
	if (nlmsg_parse(h, sizeof(ifi), tb, IFLA_MAX, NULL) < 0)
		return vsl_errf(err, errlen, -EBADMSG, "RTM_NEWLINK: malformed attributes");
	out->ifindex = ifi.ifi_index;
	if (tb[IFLA_IFNAME]) {
		size_t n = (size_t)nla_len(tb[IFLA_IFNAME]);
		const char *s = nla_data(tb[IFLA_IFNAME]);
		size_t l = strnlen(s, n);

		if (l == 0 || l >= sizeof(out->name))
			return vsl_errf(err, errlen, -EBADMSG, "IFLA_IFNAME of %zu bytes invalid", l);
		memcpy(out->name, s, l);
		out->name[l] = '\0';
	}
	if (tb[IFLA_NUM_VF]) {
		if (nla_len(tb[IFLA_NUM_VF]) < 4)
			return vsl_errf(err, errlen, -EBADMSG, "IFLA_NUM_VF is %d bytes, needs 4",
					nla_len(tb[IFLA_NUM_VF]));
		out->has_num_vf = true;
		out->num_vf = nla_get_u32(tb[IFLA_NUM_VF]);
	}
	if (tb[IFLA_VFINFO_LIST]) {
		ret = parse_vfinfo_list(tb[IFLA_VFINFO_LIST], out, err, errlen);
		if (ret < 0) {
			vmm_vf_link_fini(out);
			return ret;
		}
	}
	return 0;
}

int vmm_vf_nl_parse_error(const void *buf, size_t len, int *error, char *msg, size_t msglen)
{
	const struct nlmsghdr *h = buf;
	struct nlmsgerr e;
	size_t off;

	if (msg && msglen)
		msg[0] = '\0';
	if (len < NLMSG_HDRLEN || h->nlmsg_len > len || h->nlmsg_type != NLMSG_ERROR ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(e)))
		return -EBADMSG;
	memcpy(&e, NLMSG_DATA(h), sizeof(e));
	*error = e.error;
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return 0;
	/* The TLVs follow the echoed request: its header alone when capped. */
	off = NLMSG_HDRLEN + sizeof(e);
	if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
		if (e.msg.nlmsg_len < NLMSG_HDRLEN)
			return -EBADMSG;
		off += NLMSG_ALIGN(e.msg.nlmsg_len) - NLMSG_HDRLEN;
	}
	if (off > h->nlmsg_len)
		return -EBADMSG;
	{
		struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
		struct nlattr *head = (struct nlattr *)((char *)buf + off);

		if (nla_parse(tb, NLMSGERR_ATTR_MAX, head, (int)(h->nlmsg_len - off), NULL) < 0)
			return -EBADMSG;
		if (tb[NLMSGERR_ATTR_MSG] && msg && msglen) {
			size_t n = strnlen(nla_data(tb[NLMSGERR_ATTR_MSG]),
					   (size_t)nla_len(tb[NLMSGERR_ATTR_MSG]));

			n = VSL_MIN(n, msglen - 1);
			memcpy(msg, nla_data(tb[NLMSGERR_ATTR_MSG]), n);
			msg[n] = '\0';
		}
	}
	return 0;
}

/* ---- building ---- */

int vmm_vf_nl_build_get(const char *pf, struct nl_msg **msg)
{
	int ret = rtnl_link_build_get_request(0, pf, msg);

	return ret < 0 ? (ret == -NLE_NOMEM ? -ENOMEM : -EINVAL) : 0;
}

/* The two link objects rtnl_link_build_change_request() compares: orig names
 * the link, changes carries the one VF. Caller puts both. */
static int change_objs(int ifindex, uint32_t vf, const struct vmm_vf_settings *s,
		       struct rtnl_link **origp, struct rtnl_link **chgp)
{
	struct rtnl_link *orig = rtnl_link_alloc();
	struct rtnl_link *chg = rtnl_link_alloc();
	struct rtnl_link_vf *v = rtnl_link_vf_alloc();
	int ret = -ENOMEM;

	if (!orig || !chg || !v)
		goto err;
	rtnl_link_set_ifindex(orig, ifindex);
	rtnl_link_vf_set_index(v, vf);
	if (s->fields & VMM_VF_MAC) {
		struct nl_addr *a = nl_addr_build(AF_LLC, s->mac, 6);

		if (!a)
			goto err;
		rtnl_link_vf_set_addr(v, a);
		nl_addr_put(a);
	}
	if (s->fields & VMM_VF_VLAN) {
		nl_vf_vlans_t *vl;

		/* One 802.1Q VLAN: libnl sends it as IFLA_VF_VLAN, the full
		 * struct ifla_vf_vlan. (Its IFLA_VF_VLAN_LIST path, for 802.1ad,
		 * puts vlan_proto in host order, so Vessel does not use it.) */
		if (rtnl_link_vf_vlan_alloc(&vl, 1) < 0)
			goto err;
		vl->vlans[0].vf_vlan = s->vlan;
		vl->vlans[0].vf_vlan_qos = s->qos;
		vl->vlans[0].vf_vlan_proto = ETH_P_8021Q;
		rtnl_link_vf_set_vlans(v, vl);
		rtnl_link_vf_vlan_put(vl);    /* v holds its own reference */
	}
	if (s->fields & (VMM_VF_MAX_RATE | VMM_VF_MIN_RATE)) {
		struct nl_vf_rate r = {
			.api = RTNL_LINK_VF_RATE_API_NEW,
			.max_tx_rate = s->max_rate,
			.min_tx_rate = s->min_rate,
		};

		rtnl_link_vf_set_rate(v, &r);
	}
	if (s->fields & VMM_VF_SPOOFCHK)
		rtnl_link_vf_set_spoofchk(v, s->spoofchk);
	if (s->fields & VMM_VF_TRUST)
		rtnl_link_vf_set_trust(v, s->trust);
	if (s->fields & VMM_VF_LINK_STATE)
		rtnl_link_vf_set_linkstate(v, (uint32_t)s->link_state);
	if (rtnl_link_vf_add(chg, v) < 0)
		goto err;
	rtnl_link_vf_put(v);
	*origp = orig;
	*chgp = chg;
	return 0;
err:
	if (v)
		rtnl_link_vf_put(v);
	if (chg)
		rtnl_link_put(chg);
	if (orig)
		rtnl_link_put(orig);
	return ret;
}

int vmm_vf_nl_build_set(int ifindex, uint32_t vf, const struct vmm_vf_settings *s,
			struct nl_msg **msg)
{
	struct rtnl_link *orig, *chg;
	int ret = change_objs(ifindex, vf, s, &orig, &chg);

	if (ret < 0)
		return ret;
	ret = rtnl_link_build_change_request(orig, chg, 0, msg);
	rtnl_link_put(chg);
	rtnl_link_put(orig);
	return ret < 0 ? -ENOMEM : 0;
}

/* ---- talking to the kernel ---- */

struct nl_req {
	int error;              /* -errno from the kernel's NLMSG_ERROR */
	char ext[200];          /* its extended ACK message */
	struct vmm_vf_link *link;
	bool got_link;
	int parse_ret;
	char parse_err[160];
};

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nl_req *r = arg;
	const struct nlmsghdr *h = (const void *)((const char *)e - NLMSG_HDRLEN);
	int error;

	(void)who;
	if (vmm_vf_nl_parse_error(h, h->nlmsg_len, &error, r->ext, sizeof(r->ext)) == 0)
		r->error = error;
	else
		r->error = e->error;
	return NL_STOP;
}

static int on_link(struct nl_msg *msg, void *arg)
{
	struct nl_req *r = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);

	if (h->nlmsg_type != RTM_NEWLINK || r->got_link)
		return NL_SKIP;
	r->got_link = true;
	r->parse_ret = vmm_vf_nl_parse_link(h, h->nlmsg_len, r->link, r->parse_err,
					    sizeof(r->parse_err));
	return NL_OK;
}

/* libnl's codes for when the kernel's errno did not reach on_error(). */
static int nle_to_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_NOMEM: return -ENOMEM;
	case NLE_OBJ_NOTFOUND: case NLE_NODEV: return -ENODEV;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_PERM: return -EPERM;
	case NLE_INVAL: return -EINVAL;
	case NLE_RANGE: return -ERANGE;
	case NLE_BUSY: return -EBUSY;
	case NLE_AGAIN: return -EAGAIN;
	default: return -EIO;
	}
}

static int req_open(struct nl_sock **skp, struct nl_req *r, char *err, size_t errlen)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1, ret;

	if (!sk)
		return vsl_errf(err, errlen, -ENOMEM, "out of memory for a netlink socket");
	ret = nl_connect(sk, NETLINK_ROUTE);
	if (ret < 0) {
		nl_socket_free(sk);
		return vsl_errf(err, errlen, nle_to_errno(ret), "rtnetlink: %s", nl_geterror(ret));
	}
	/* Best effort: the kernel then says which attribute it refused. */
	(void)setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	nl_socket_enable_msg_peek(sk);
	nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, on_error, r);
	*skp = sk;
	return 0;
}

static int req_fail(const struct nl_req *r, int nlret, const char *what, char *err,
		    size_t errlen)
{
	int e = r->error < 0 ? r->error : nle_to_errno(nlret);

	if (r->ext[0])
		return vsl_errf(err, errlen, e, "%s: %s (%s)", what, strerror(-e), r->ext);
	return vsl_errf(err, errlen, e, "%s: %s", what, strerror(-e));
}

int vmm_vf_nl_get_link(void *arg, const char *pf, struct vmm_vf_link *out, char *err,
		       size_t errlen)
{
	struct nl_req r = { .link = out };
	struct nl_sock *sk;
	struct nl_msg *msg;
	char what[64];
	int ret;

	(void)arg;
	memset(out, 0, sizeof(*out));
	if ((ret = req_open(&sk, &r, err, errlen)) < 0)
		return ret;
	ret = vmm_vf_nl_build_get(pf, &msg);
	if (ret < 0) {
		nl_socket_free(sk);
		return vsl_errf(err, errlen, ret, "building RTM_GETLINK for %s failed", pf);
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_link, &r);
	ret = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (ret >= 0)
		ret = nl_wait_for_ack(sk);
	nl_socket_free(sk);
	snprintf(what, sizeof(what), "rtnetlink RTM_GETLINK %s", pf);
	if (ret < 0 || r.error < 0) {
		vmm_vf_link_fini(out);
		if (r.error == -ENODEV)
			return vsl_errf(err, errlen, -ENODEV, "no network device %s", pf);
		return req_fail(&r, ret, what, err, errlen);
	}
	if (!r.got_link)
		return vsl_errf(err, errlen, -EIO, "%s: no reply", what);
	if (r.parse_ret < 0)
		return vsl_errf(err, errlen, r.parse_ret, "%s: %s", what, r.parse_err);
	return 0;
}

int vmm_vf_nl_set_vf(void *arg, int ifindex, uint32_t vf, const struct vmm_vf_settings *s,
		     char *err, size_t errlen)
{
	struct rtnl_link *orig, *chg;
	struct nl_req r = { 0 };
	struct nl_sock *sk;
	int ret;

	(void)arg;
	if ((ret = req_open(&sk, &r, err, errlen)) < 0)
		return ret;
	ret = change_objs(ifindex, vf, s, &orig, &chg);
	if (ret < 0) {
		nl_socket_free(sk);
		return vsl_errf(err, errlen, ret, "out of memory");
	}
	ret = rtnl_link_change(sk, orig, chg, 0);
	rtnl_link_put(chg);
	rtnl_link_put(orig);
	nl_socket_free(sk);
	if (ret < 0 || r.error < 0)
		return req_fail(&r, ret, "rtnetlink", err, errlen);
	return 0;
}
