/* test_vmm_vf_nl.c — the rtnetlink messages of the SR-IOV library: the
 * requests it builds (parsed back attribute by attribute), its reply and
 * error parsers, and the real kernel's verdict on its VF request. */
#include <errno.h>
#include <net/if.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "vf_test_util.h"
#include "vmm_vf_internal.h"

static int count_nested(struct nlattr *nest, int type)
{
	struct nlattr *a;
	int rem, n = 0;

	nla_for_each_nested(a, nest, rem) {
		if (nla_type(a) == type)
			n++;
	}
	return n;
}

/* Parses a built VF request down to its single IFLA_VF_INFO. */
static void parse_set_msg(struct nl_msg *msg, int ifindex, struct nlattr **vf)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[IFLA_MAX + 1], *a;
	struct ifinfomsg *ifi;
	int rem;

	assert_int_equal(h->nlmsg_type, RTM_NEWLINK);
	assert_true(h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifi)));
	ifi = nlmsg_data(h);
	assert_int_equal(ifi->ifi_index, ifindex);
	assert_int_equal(ifi->ifi_change, 0);    /* no flag changes ride along */
	assert_int_equal(nlmsg_parse(h, sizeof(*ifi), tb, IFLA_MAX, NULL), 0);
	assert_non_null(tb[IFLA_VFINFO_LIST]);
	assert_null(tb[IFLA_IFNAME]);            /* no rename */
	assert_null(tb[IFLA_ADDRESS]);
	assert_int_equal(count_nested(tb[IFLA_VFINFO_LIST], IFLA_VF_INFO), 1);
	nla_for_each_nested(a, tb[IFLA_VFINFO_LIST], rem) {
		assert_int_equal(nla_parse_nested(vf, IFLA_VF_MAX, a, NULL), 0);
	}
}

static void test_build_set_all(void **state)
{
	struct vmm_vf_settings s = {
		.fields = VMM_VF_MAC | VMM_VF_VLAN | VMM_VF_SPOOFCHK | VMM_VF_TRUST |
			  VMM_VF_MAX_RATE | VMM_VF_MIN_RATE | VMM_VF_LINK_STATE,
		.mac = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 },
		.vlan = 100, .qos = 5, .spoofchk = false, .trust = true,
		.max_rate = 2500, .min_rate = 100, .link_state = VMM_VF_LINK_DISABLE,
	};
	struct nlattr *vf[IFLA_VF_MAX + 1];
	struct nl_msg *msg;
	struct ifla_vf_mac mac;
	struct ifla_vf_vlan vlan;
	struct ifla_vf_rate rate;
	struct ifla_vf_spoofchk sc;
	struct ifla_vf_trust tr;
	struct ifla_vf_link_state ls;
	static const uint8_t zero[26];

	(void)state;
	assert_int_equal(vmm_vf_nl_build_set(42, 3, &s, &msg), 0);
	parse_set_msg(msg, 42, vf);

	assert_non_null(vf[IFLA_VF_MAC]);
	assert_int_equal(nla_len(vf[IFLA_VF_MAC]), sizeof(mac));
	memcpy(&mac, nla_data(vf[IFLA_VF_MAC]), sizeof(mac));
	assert_int_equal(mac.vf, 3);
	assert_memory_equal(mac.mac, s.mac, 6);
	assert_memory_equal(mac.mac + 6, zero, sizeof(zero));

	/* The VLAN goes as the full struct ifla_vf_vlan, never as a short or a
	 * list entry (kernels reject an IFLA_VF_VLAN_INFO not padded to size). */
	assert_non_null(vf[IFLA_VF_VLAN]);
	assert_int_equal(nla_len(vf[IFLA_VF_VLAN]), sizeof(vlan));
	assert_null(vf[IFLA_VF_VLAN_LIST]);
	memcpy(&vlan, nla_data(vf[IFLA_VF_VLAN]), sizeof(vlan));
	assert_int_equal(vlan.vf, 3);
	assert_int_equal(vlan.vlan, 100);
	assert_int_equal(vlan.qos, 5);

	assert_non_null(vf[IFLA_VF_RATE]);
	assert_int_equal(nla_len(vf[IFLA_VF_RATE]), sizeof(rate));
	assert_null(vf[IFLA_VF_TX_RATE]);
	memcpy(&rate, nla_data(vf[IFLA_VF_RATE]), sizeof(rate));
	assert_int_equal(rate.vf, 3);
	assert_int_equal(rate.max_tx_rate, 2500);
	assert_int_equal(rate.min_tx_rate, 100);

	assert_non_null(vf[IFLA_VF_SPOOFCHK]);
	assert_int_equal(nla_len(vf[IFLA_VF_SPOOFCHK]), sizeof(sc));
	memcpy(&sc, nla_data(vf[IFLA_VF_SPOOFCHK]), sizeof(sc));
	assert_int_equal(sc.vf, 3);
	assert_int_equal(sc.setting, 0);

	assert_non_null(vf[IFLA_VF_TRUST]);
	assert_int_equal(nla_len(vf[IFLA_VF_TRUST]), sizeof(tr));
	memcpy(&tr, nla_data(vf[IFLA_VF_TRUST]), sizeof(tr));
	assert_int_equal(tr.vf, 3);
	assert_int_equal(tr.setting, 1);

	assert_non_null(vf[IFLA_VF_LINK_STATE]);
	assert_int_equal(nla_len(vf[IFLA_VF_LINK_STATE]), sizeof(ls));
	memcpy(&ls, nla_data(vf[IFLA_VF_LINK_STATE]), sizeof(ls));
	assert_int_equal(ls.vf, 3);
	assert_int_equal(ls.link_state, IFLA_VF_LINK_STATE_DISABLE);

	assert_null(vf[IFLA_VF_RSS_QUERY_EN]);
	assert_null(vf[IFLA_VF_IB_NODE_GUID]);
	assert_null(vf[IFLA_VF_IB_PORT_GUID]);
	nlmsg_free(msg);
}

/* Only the requested fields travel: a MAC-only request must not reset the
 * VLAN, rates or checks of the VF. */
static void test_build_set_only_requested(void **state)
{
	struct vmm_vf_settings s = { .fields = VMM_VF_MAC, .mac = { 2, 0, 0, 0, 0, 9 } };
	struct vmm_vf_settings s2 = { .fields = VMM_VF_SPOOFCHK, .spoofchk = true };
	struct vmm_vf_settings s3 = { .fields = VMM_VF_VLAN, .vlan = 0, .qos = 0 };
	struct nlattr *vf[IFLA_VF_MAX + 1];
	struct ifla_vf_spoofchk sc;
	struct ifla_vf_vlan vlan;
	struct nl_msg *msg;

	(void)state;
	assert_int_equal(vmm_vf_nl_build_set(7, 0, &s, &msg), 0);
	parse_set_msg(msg, 7, vf);
	assert_non_null(vf[IFLA_VF_MAC]);
	for (int t = IFLA_VF_MAC + 1; t <= IFLA_VF_MAX; t++)
		assert_null(vf[t]);
	nlmsg_free(msg);

	assert_int_equal(vmm_vf_nl_build_set(7, 12, &s2, &msg), 0);
	parse_set_msg(msg, 7, vf);
	assert_null(vf[IFLA_VF_MAC]);
	assert_null(vf[IFLA_VF_VLAN]);
	assert_null(vf[IFLA_VF_RATE]);
	assert_null(vf[IFLA_VF_TRUST]);
	memcpy(&sc, nla_data(vf[IFLA_VF_SPOOFCHK]), sizeof(sc));
	assert_int_equal(sc.vf, 12);
	assert_int_equal(sc.setting, 1);
	nlmsg_free(msg);

	/* vlan 0 removes the VLAN: still a full-size IFLA_VF_VLAN. */
	assert_int_equal(vmm_vf_nl_build_set(7, 1, &s3, &msg), 0);
	parse_set_msg(msg, 7, vf);
	assert_int_equal(nla_len(vf[IFLA_VF_VLAN]), sizeof(vlan));
	memcpy(&vlan, nla_data(vf[IFLA_VF_VLAN]), sizeof(vlan));
	assert_int_equal(vlan.vf, 1);
	assert_int_equal(vlan.vlan, 0);
	nlmsg_free(msg);
}

static void test_build_get(void **state)
{
	struct nlattr *tb[IFLA_MAX + 1];
	struct nlmsghdr *h;
	struct nl_msg *msg;

	(void)state;
	assert_int_equal(vmm_vf_nl_build_get("eth7", &msg), 0);
	h = nlmsg_hdr(msg);
	assert_int_equal(h->nlmsg_type, RTM_GETLINK);
	assert_int_equal(nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL), 0);
	assert_non_null(tb[IFLA_IFNAME]);
	assert_string_equal(nla_get_string(tb[IFLA_IFNAME]), "eth7");
	/* Without RTEXT_FILTER_VF the kernel leaves the VF list out. */
	assert_non_null(tb[IFLA_EXT_MASK]);
	assert_int_equal(nla_len(tb[IFLA_EXT_MASK]), 4);
	assert_true(nla_get_u32(tb[IFLA_EXT_MASK]) & RTEXT_FILTER_VF);
	nlmsg_free(msg);
}

static void test_parse_link_reply(void **state)
{
	const struct fake_vf_cfg vfs[] = {
		{ .index = 0, .mac = { 2, 0, 0, 0, 0, 1 }, .vlan = 100, .qos = 3,
		  .spoofchk = 1, .trust = 0, .link_state = 0, .min_rate = 10, .max_rate = 1000 },
		{ .index = 1, .mac = { 2, 0, 0, 0, 0, 2 }, .vlan = 200, .vlan_proto = ETH_P_8021AD,
		  .spoofchk = (uint32_t)-1, .trust = 1, .link_state = 2 },
	};
	struct nl_msg *m = fake_link_reply(9, "enp3s0f0", 2, vfs, 2);
	struct nlmsghdr *h = nlmsg_hdr(m);
	struct vmm_vf_link l;
	char err[160];

	(void)state;
	assert_int_equal(vmm_vf_nl_parse_link(h, h->nlmsg_len, &l, err, sizeof(err)), 0);
	assert_int_equal(l.ifindex, 9);
	assert_string_equal(l.name, "enp3s0f0");
	assert_true(l.has_num_vf);
	assert_int_equal(l.num_vf, 2);
	assert_int_equal(l.n_vfs, 2);

	assert_int_equal(l.vfs[0].index, 0);
	assert_int_equal(l.vfs[0].cfg.fields,
			 VMM_VF_MAC | VMM_VF_VLAN | VMM_VF_SPOOFCHK | VMM_VF_TRUST |
			 VMM_VF_MAX_RATE | VMM_VF_MIN_RATE | VMM_VF_LINK_STATE);
	assert_memory_equal(l.vfs[0].cfg.mac, vfs[0].mac, 6);
	assert_int_equal(l.vfs[0].cfg.vlan, 100);
	assert_int_equal(l.vfs[0].cfg.qos, 3);
	assert_int_equal(l.vfs[0].cfg.vlan_proto, ETH_P_8021Q);
	assert_true(l.vfs[0].cfg.spoofchk);
	assert_false(l.vfs[0].cfg.trust);
	assert_int_equal(l.vfs[0].cfg.max_rate, 1000);
	assert_int_equal(l.vfs[0].cfg.min_rate, 10);
	assert_int_equal(l.vfs[0].cfg.link_state, VMM_VF_LINK_AUTO);

	assert_int_equal(l.vfs[1].index, 1);
	assert_false(l.vfs[1].cfg.fields & VMM_VF_SPOOFCHK);   /* -1: unknown */
	assert_true(l.vfs[1].cfg.trust);
	assert_int_equal(l.vfs[1].cfg.vlan, 200);
	assert_int_equal(l.vfs[1].cfg.vlan_proto, ETH_P_8021AD); /* from the list, network order */
	assert_int_equal(l.vfs[1].cfg.link_state, VMM_VF_LINK_DISABLE);
	vmm_vf_link_fini(&l);
	nlmsg_free(m);

	/* A device without SR-IOV: no IFLA_NUM_VF, no list. */
	m = nlmsg_alloc_simple(RTM_NEWLINK, 0);
	{
		struct ifinfomsg ifi = { .ifi_index = 4 };

		nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
		nla_put_string(m, IFLA_IFNAME, "veth0");
	}
	h = nlmsg_hdr(m);
	assert_int_equal(vmm_vf_nl_parse_link(h, h->nlmsg_len, &l, err, sizeof(err)), 0);
	assert_false(l.has_num_vf);
	assert_int_equal(l.n_vfs, 0);
	assert_null(l.vfs);
	nlmsg_free(m);
}

/* Malformed replies are refused with the offending attribute named. */
static void expect_bad(struct nl_msg *m, const char *needle)
{
	struct nlmsghdr *h = nlmsg_hdr(m);
	struct vmm_vf_link l;
	char err[160] = "";

	assert_int_equal(vmm_vf_nl_parse_link(h, h->nlmsg_len, &l, err, sizeof(err)), -EBADMSG);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
	assert_null(l.vfs);
	nlmsg_free(m);
}

static struct nl_msg *reply_with_vf_attr(int type, const void *data, size_t len)
{
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWLINK, 0);
	struct ifinfomsg ifi = { .ifi_index = 3 };
	struct nlattr *list, *info;

	nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
	list = nla_nest_start(m, IFLA_VFINFO_LIST);
	info = nla_nest_start(m, IFLA_VF_INFO);
	nla_put(m, type, (int)len, data);
	nla_nest_end(m, info);
	nla_nest_end(m, list);
	return m;
}

static void test_parse_link_malformed(void **state)
{
	struct ifla_vf_mac mac = { .vf = 0 };
	struct ifla_vf_rate rate = { .vf = 0 };
	struct ifla_vf_vlan_info vi = { .vf = 0, .vlan = 5 };
	struct fake_vf_cfg two[2] = { { .index = 4 }, { .index = 4 } };
	struct nl_msg *m;
	struct nlattr *list, *info, *vl;
	struct vmm_vf_link l;
	char err[160];
	uint8_t buf[64];

	(void)state;
	expect_bad(reply_with_vf_attr(IFLA_VF_MAC, &mac, 8), "IFLA_VF_MAC");
	expect_bad(reply_with_vf_attr(IFLA_VF_RATE, &rate, 8), "IFLA_VF_RATE");
	expect_bad(reply_with_vf_attr(IFLA_VF_VLAN, &mac, 4), "IFLA_VF_VLAN");
	expect_bad(reply_with_vf_attr(IFLA_VF_TRUST, &mac, 2), "IFLA_VF_TRUST");
	expect_bad(fake_link_reply(1, "p", 2, two, 2), "twice");

	/* A VF info whose attributes disagree on the VF number. */
	m = nlmsg_alloc_simple(RTM_NEWLINK, 0);
	nlmsg_append(m, &(struct ifinfomsg){ .ifi_index = 1 }, sizeof(struct ifinfomsg),
		     NLMSG_ALIGNTO);
	list = nla_nest_start(m, IFLA_VFINFO_LIST);
	info = nla_nest_start(m, IFLA_VF_INFO);
	mac.vf = 1;
	rate.vf = 2;
	nla_put(m, IFLA_VF_MAC, sizeof(mac), &mac);
	nla_put(m, IFLA_VF_RATE, sizeof(rate), &rate);
	nla_nest_end(m, info);
	nla_nest_end(m, list);
	expect_bad(m, "names VF 2");

	/* A short (unpadded) VLAN list entry. */
	m = nlmsg_alloc_simple(RTM_NEWLINK, 0);
	nlmsg_append(m, &(struct ifinfomsg){ .ifi_index = 1 }, sizeof(struct ifinfomsg),
		     NLMSG_ALIGNTO);
	list = nla_nest_start(m, IFLA_VFINFO_LIST);
	info = nla_nest_start(m, IFLA_VF_INFO);
	mac.vf = 0;
	nla_put(m, IFLA_VF_MAC, sizeof(mac), &mac);
	vl = nla_nest_start(m, IFLA_VF_VLAN_LIST);
	nla_put(m, IFLA_VF_VLAN_INFO, 12, &vi);
	nla_nest_end(m, vl);
	nla_nest_end(m, info);
	nla_nest_end(m, list);
	expect_bad(m, "IFLA_VF_VLAN_INFO");

	/* No VF number at all. */
	expect_bad(reply_with_vf_attr(IFLA_VF_STATS, buf, 0), "without a VF number");

	/* Header problems. */
	m = fake_link_reply(1, "p", 0, NULL, 0);
	nlmsg_hdr(m)->nlmsg_type = RTM_DELLINK;
	expect_bad(m, "RTM_NEWLINK");
	m = fake_link_reply(1, "p", 0, NULL, 0);
	assert_int_equal(vmm_vf_nl_parse_link(nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len - 1, &l, err,
					      sizeof(err)), -EBADMSG);
	assert_int_equal(vmm_vf_nl_parse_link(nlmsg_hdr(m), 10, &l, err, sizeof(err)), -EBADMSG);
	nlmsg_hdr(m)->nlmsg_len = NLMSG_LENGTH(4);
	assert_int_equal(vmm_vf_nl_parse_link(nlmsg_hdr(m), 64, &l, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "ifinfomsg"));
	nlmsg_free(m);
}

static size_t make_error(uint8_t *buf, size_t cap, int error, bool capped, const char *text)
{
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct nlmsgerr *e = NLMSG_DATA(h);
	size_t off, req_payload = capped ? 0 : 24;
	struct nlattr *a;

	memset(buf, 0, cap);
	h->nlmsg_type = NLMSG_ERROR;
	h->nlmsg_flags = (uint16_t)((text ? NLM_F_ACK_TLVS : 0) | (capped ? NLM_F_CAPPED : 0));
	e->error = error;
	e->msg.nlmsg_len = (uint32_t)(NLMSG_HDRLEN + (capped ? 64 : req_payload));
	e->msg.nlmsg_type = RTM_NEWLINK;
	off = NLMSG_HDRLEN + sizeof(*e) + req_payload;
	if (text) {
		a = (struct nlattr *)(buf + off);
		a->nla_type = NLMSGERR_ATTR_MSG;
		a->nla_len = (uint16_t)(NLA_HDRLEN + strlen(text) + 1);
		memcpy((char *)a + NLA_HDRLEN, text, strlen(text) + 1);
		off += NLA_ALIGN(a->nla_len);
	}
	h->nlmsg_len = (uint32_t)off;
	return off;
}

static void test_parse_error(void **state)
{
	uint8_t buf[256];
	char msg[64];
	int error = 0;
	size_t n;

	(void)state;
	n = make_error(buf, sizeof(buf), -EINVAL, false, "VF VLAN info invalid");
	assert_int_equal(vmm_vf_nl_parse_error(buf, n, &error, msg, sizeof(msg)), 0);
	assert_int_equal(error, -EINVAL);
	assert_string_equal(msg, "VF VLAN info invalid");

	n = make_error(buf, sizeof(buf), -EOPNOTSUPP, true, "nope");
	assert_int_equal(vmm_vf_nl_parse_error(buf, n, &error, msg, sizeof(msg)), 0);
	assert_int_equal(error, -EOPNOTSUPP);
	assert_string_equal(msg, "nope");

	n = make_error(buf, sizeof(buf), -EPERM, false, NULL);
	assert_int_equal(vmm_vf_nl_parse_error(buf, n, &error, msg, sizeof(msg)), 0);
	assert_int_equal(error, -EPERM);
	assert_string_equal(msg, "");

	/* An echoed request longer than the message. */
	n = make_error(buf, sizeof(buf), -EINVAL, false, "x");
	((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)buf))->msg.nlmsg_len = 4000;
	assert_int_equal(vmm_vf_nl_parse_error(buf, n, &error, msg, sizeof(msg)), -EBADMSG);
	assert_int_equal(vmm_vf_nl_parse_error(buf, 8, &error, msg, sizeof(msg)), -EBADMSG);
}

/* ---- the real kernel (root): a veth has no SR-IOV ---- */

static int raw_send(struct nl_msg *msg)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	assert_non_null(sk);
	assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
	ret = nl_send_auto(sk, msg);
	if (ret >= 0)
		ret = nl_wait_for_ack(sk);
	nl_socket_free(sk);
	return ret;
}

static char g_veth[16];

static int veth_teardown(void **state)
{
	(void)state;
	if (g_veth[0])
		veth_del(g_veth);
	g_veth[0] = '\0';
	return 0;
}

static void test_kernel_veth(void **state)
{
	struct vmm_vf_settings s = {
		.fields = VMM_VF_MAC | VMM_VF_VLAN | VMM_VF_SPOOFCHK | VMM_VF_TRUST |
			  VMM_VF_MAX_RATE | VMM_VF_MIN_RATE | VMM_VF_LINK_STATE,
		.mac = { 2, 0, 0, 0, 0, 0x42 }, .vlan = 10, .qos = 1, .max_rate = 100,
	};
	struct vmm_vf_link l;
	struct nl_msg *msg;
	char name[16], err[256];
	int ifindex, ret;
	bool ok;

	(void)state;
	veth_add(name, &ok);
	if (!ok) {
		print_message("# needs root to create a veth pair\n");
		skip();
	}
	memcpy(g_veth, name, sizeof(g_veth));
	ifindex = (int)if_nametoindex(name);
	assert_true(ifindex > 0);

	ret = vmm_vf_nl_get_link(NULL, name, &l, err, sizeof(err));
	if (ret != 0)
		fail_msg("get_link %s: %d %s", name, ret, err);
	assert_int_equal(l.ifindex, ifindex);
	assert_string_equal(l.name, name);
	assert_false(l.has_num_vf);       /* no parent device: no SR-IOV */
	assert_int_equal(l.n_vfs, 0);
	vmm_vf_link_fini(&l);

	/* The kernel parses the VF attributes against their sizes before asking
	 * the driver: EOPNOTSUPP (veth has no ndo_set_vf_*) means it accepted
	 * the message; a malformed one gets EINVAL/ERANGE instead (below). */
	ret = vmm_vf_nl_set_vf(NULL, ifindex, 0, &s, err, sizeof(err));
	if (ret != -EOPNOTSUPP)
		fail_msg("set_vf on veth: %d %s", ret, err);
	assert_non_null(strstr(err, "Operation not supported"));
	for (unsigned bit = 1; bit <= VMM_VF_LINK_STATE; bit <<= 1) {
		struct vmm_vf_settings one = s;

		one.fields = bit;
		ret = vmm_vf_nl_set_vf(NULL, ifindex, 0, &one, err, sizeof(err));
		if (ret != -EOPNOTSUPP)
			fail_msg("set_vf field %#x on veth: %d %s", bit, ret, err);
	}

	/* Control: the same request with IFLA_VF_VLAN cut to 8 bytes. */
	{
		struct ifla_vf_vlan v = { .vf = 0, .vlan = 10 };
		struct ifinfomsg ifi = { .ifi_index = ifindex };
		struct nlattr *list, *info;

		msg = nlmsg_alloc_simple(RTM_NEWLINK, 0);
		nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
		list = nla_nest_start(msg, IFLA_VFINFO_LIST);
		info = nla_nest_start(msg, IFLA_VF_INFO);
		nla_put(msg, IFLA_VF_VLAN, 8, &v);
		nla_nest_end(msg, info);
		nla_nest_end(msg, list);
		ret = raw_send(msg);
		nlmsg_free(msg);
		if (ret == 0 || ret == -NLE_OPNOTSUPP)
			fail_msg("kernel accepted a short IFLA_VF_VLAN (%d): the control is void", ret);
	}

	ret = vmm_vf_nl_get_link(NULL, "vftnonexist0", &l, err, sizeof(err));
	assert_int_equal(ret, -ENODEV);
	assert_string_equal(err, "no network device vftnonexist0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_set_all),
		cmocka_unit_test(test_build_set_only_requested),
		cmocka_unit_test(test_build_get),
		cmocka_unit_test(test_parse_link_reply),
		cmocka_unit_test(test_parse_link_malformed),
		cmocka_unit_test(test_parse_error),
		cmocka_unit_test_teardown(test_kernel_veth, veth_teardown),
	};

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
