/* vf_test_util.h — helpers for the SR-IOV unit tests: a kernel-style
 * RTM_NEWLINK reply encoder (written from the kernel's rtnl_fill_vfinfo
 * layout, independent of the code under test) and a veth pair on the real
 * kernel. */
#ifndef VF_TEST_UTIL_H
#define VF_TEST_UTIL_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <netlink/attr.h>
#include <netlink/msg.h>

#include "vmm_vf.h"

/* What one VF of a fake PF reports. */
struct fake_vf_cfg {
	uint32_t index;
	uint8_t mac[6];
	uint16_t vlan, vlan_proto;   /* proto host order; 0: 802.1Q */
	uint8_t qos;
	uint32_t spoofchk, trust;    /* (uint32_t)-1: "cannot tell" */
	uint32_t link_state;
	uint32_t min_rate, max_rate;
};

/* The reply the kernel sends to RTM_GETLINK with RTEXT_FILTER_VF: every VF
 * gets MAC, VLAN, VLAN_LIST{VLAN_INFO}, TX_RATE, RATE, SPOOFCHK, LINK_STATE,
 * RSS_QUERY_EN, TRUST and a STATS nest. */
static inline struct nl_msg *fake_link_reply(int ifindex, const char *name, uint32_t num_vf,
					     const struct fake_vf_cfg *vfs, size_t n)
{
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWLINK, 0);
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nlattr *list;

	if (!m || nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0)
		abort();
	nla_put_string(m, IFLA_IFNAME, name);
	nla_put_u32(m, IFLA_MTU, 1500);
	nla_put_u32(m, IFLA_NUM_VF, num_vf);
	list = nla_nest_start(m, IFLA_VFINFO_LIST);
	for (size_t i = 0; i < n; i++) {
		const struct fake_vf_cfg *c = &vfs[i];
		struct ifla_vf_mac mac = { .vf = c->index };
		struct ifla_vf_vlan vlan = { .vf = c->index, .vlan = c->vlan, .qos = c->qos };
		struct ifla_vf_vlan_info vi = {
			.vf = c->index, .vlan = c->vlan, .qos = c->qos,
			.vlan_proto = htons(c->vlan_proto ? c->vlan_proto : ETH_P_8021Q),
		};
		struct ifla_vf_tx_rate txr = { .vf = c->index, .rate = c->max_rate };
		struct ifla_vf_rate rate = { .vf = c->index, .min_tx_rate = c->min_rate,
					     .max_tx_rate = c->max_rate };
		struct ifla_vf_spoofchk sc = { .vf = c->index, .setting = c->spoofchk };
		struct ifla_vf_link_state ls = { .vf = c->index, .link_state = c->link_state };
		struct ifla_vf_rss_query_en rss = { .vf = c->index, .setting = (uint32_t)-1 };
		struct ifla_vf_trust tr = { .vf = c->index, .setting = c->trust };
		struct nlattr *info = nla_nest_start(m, IFLA_VF_INFO), *vl, *st;

		memcpy(mac.mac, c->mac, 6);
		nla_put(m, IFLA_VF_MAC, sizeof(mac), &mac);
		nla_put(m, IFLA_VF_VLAN, sizeof(vlan), &vlan);
		vl = nla_nest_start(m, IFLA_VF_VLAN_LIST);
		nla_put(m, IFLA_VF_VLAN_INFO, sizeof(vi), &vi);
		nla_nest_end(m, vl);
		nla_put(m, IFLA_VF_TX_RATE, sizeof(txr), &txr);
		nla_put(m, IFLA_VF_RATE, sizeof(rate), &rate);
		nla_put(m, IFLA_VF_SPOOFCHK, sizeof(sc), &sc);
		nla_put(m, IFLA_VF_LINK_STATE, sizeof(ls), &ls);
		nla_put(m, IFLA_VF_RSS_QUERY_EN, sizeof(rss), &rss);
		nla_put(m, IFLA_VF_TRUST, sizeof(tr), &tr);
		st = nla_nest_start(m, IFLA_VF_STATS);
		nla_put_u64(m, IFLA_VF_STATS_RX_PACKETS, 10);
		nla_put_u64(m, IFLA_VF_STATS_TX_PACKETS, 20);
		nla_nest_end(m, st);
		nla_nest_end(m, info);
	}
	nla_nest_end(m, list);
	return m;
}

/* A veth pair with a unique name on the real kernel; *ok false when it could
 * not be made (not root). Delete with veth_del(). */
static inline void veth_add(char name[16], bool *ok)
{
	char cmd[160];

	snprintf(name, 16, "vft%x%04x", (unsigned)getpid() & 0xfff, (unsigned)rand() & 0xffff);
	snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name %sp >/dev/null 2>&1", name,
		 name);
	*ok = geteuid() == 0 && system(cmd) == 0;
}

static inline void veth_del(const char *name)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "ip link del %s >/dev/null 2>&1", name);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not delete %s\n", name);
}

#endif /* VF_TEST_UTIL_H */
