/* fuzz_vxlan_decap.c — libFuzzer target for the VXLAN decap parser and the
 * ARP decoder (vxlan/vx_proto.c), the code that reads underlay frames from
 * any host on the underlay network.
 *
 * The input is one frame. The parser must never read outside it (ASan, on an
 * exact-size heap copy), and what it reports must be consistent: an accepted
 * datagram's inner frame lies inside the input, is at least an Ethernet header
 * long, and re-encapsulating it gives back the same VNI and lengths.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vxlan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	const uint32_t local = htonl(0x0a010101);
	struct vx_decap_info info;
	struct vx_arp arp;
	uint8_t *copy;
	enum vx_rx r;

	if (size > 65535)
		return 0;
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	r = vx_decap_parse(copy, (uint32_t)size, local, htons(VX_UDP_PORT), &info);
	switch (r) {
	case VX_RX_VXLAN: {
		struct vx_encap_tmpl t;
		struct vx_decap_info again;
		uint8_t *re;

		if ((uint32_t)info.inner_ofs + info.inner_len > size || info.inner_len < 14 ||
		    info.vni > VX_VNI_MAX || info.dst_ip != local)
			abort();
		vx_flow_src_port(copy + info.inner_ofs, info.inner_len);
		re = malloc((size_t)VX_OUTER_LEN + info.inner_len);
		if (!re)
			break;
		memcpy(re + VX_OUTER_LEN, copy + info.inner_ofs, info.inner_len);
		vx_encap_init(&t, mac, mac, info.src_ip, local, htons(VX_UDP_PORT), 64, info.vni);
		vx_encap_write(re, &t, info.inner_len, 50000);
		if (vx_decap_parse(re, VX_OUTER_LEN + info.inner_len, local, htons(VX_UDP_PORT),
				   &again) != VX_RX_VXLAN || again.vni != info.vni ||
		    again.inner_len != info.inner_len || again.inner_ofs != VX_OUTER_LEN)
			abort();
		free(re);
		break;
	}
	case VX_RX_ARP:
		vx_arp_parse(copy, (uint32_t)size, &arp);
		break;
	case VX_RX_DROP:
		if ((unsigned)info.drop >= VX_DROP_N)
			abort();
		break;
	default:
		abort();
	}
	free(copy);
	return 0;
}
