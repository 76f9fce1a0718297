/* fuzz_packet.c — libFuzzer target for the packet parser (vswitch/sw_packet.c).
 *
 * The input is one frame. The parser must never read outside it (ASan), and
 * what it reports must be consistent: a refused frame is shorter than its L2
 * header, an accepted one has its L3/L4 offsets inside the frame.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sw_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sw_flow_key key;
	uint8_t *copy;
	int ret;

	if (size > 65535)
		return 0;
	/* An exact-size heap copy: a read one byte past the end is caught. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	ret = sw_packet_parse(copy, (uint32_t)size, 1, &key);
	if (ret == 0) {
		if (size < SW_ETH_HLEN || key.l3_ofs > size || key.n_vlans > SW_MAX_VLAN_TAGS)
			abort();
		if (key.l4_ofs && (key.l4_ofs < key.l3_ofs || key.l4_ofs > size))
			abort();
	} else if (ret != -EINVAL) {
		abort();
	}
	free(copy);
	return 0;
}
