/* fuzz_vlan_vni.c — libFuzzer target for the vlan_vni= parser of set-port and
 * add-port (vswitch/sw_vlan_vni.c, sw_vv_parse).
 *
 * The input is one vlan_vni string. The parser must never read outside it
 * (ASan), must name the problem whenever it refuses, and what it accepts must
 * hold what the bridge relies on: at most SW_VV_MAX bindings sorted by VLAN,
 * every VLAN 1-4095 and VNI 1-16777215, no VLAN and no VNI twice. Formatting
 * the result and parsing that again gives the same list; the trunk checks
 * and the lookup map agree with it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sw_vlan_vni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sw_vv_list l, again;
	static char text[SW_VV_TEXT_MAX];
	uint16_t segs[SW_VV_MAX];
	struct sw_port_cfg cfg;
	uint64_t late[SW_VV_MAX / 64];
	struct sw_vv_stats *st;
	struct sw_vv_map *m;
	char err[512] = "";
	char *s = malloc(size + 1);
	int ret;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	ret = sw_vv_parse(s, &l, err, sizeof(err));
	free(s);
	if (ret) {
		if (ret != -EINVAL || !err[0])
			abort();
		return 0;
	}
	if (l.n > SW_VV_MAX)
		abort();
	for (unsigned i = 0; i < l.n; i++) {
		if (!l.b[i].vlan || l.b[i].vlan > SW_VLAN_MAX || !l.b[i].vni ||
		    l.b[i].vni > VX_VNI_MAX)
			abort();
		if (i && l.b[i - 1].vlan >= l.b[i].vlan)
			abort();
		for (unsigned j = 0; j < i; j++)
			if (l.b[j].vni == l.b[i].vni)
				abort();
	}
	sw_vv_format(&l, text, sizeof(text));
	if (sw_vv_parse(text, &again, err, sizeof(err)) || !sw_vv_list_equal(&l, &again))
		abort();
	/* A trunk of every VLAN takes any list; an access port none but the empty one. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.vlan_mode = SW_VLAN_TRUNK;
	cfg.trunks_all = true;
	if (sw_vv_check(&l, &cfg, false, err, sizeof(err)))
		abort();
	cfg.vlan_mode = SW_VLAN_ACCESS;
	if (!sw_vv_check(&l, &cfg, false, err, sizeof(err)) != !l.n)
		abort();
	/* The map finds every binding by VLAN and by segment. */
	st = sw_vv_stats_alloc();
	if (!st)
		return 0;
	for (unsigned i = 0; i < l.n; i++)
		segs[i] = (uint16_t)(SW_VX_SEG_BASE + i);
	m = sw_vv_map_build(NULL, &l, segs, st, late);
	if (m) {
		for (unsigned i = 0; i < l.n; i++) {
			int sl = sw_vv_slot_by_vid(m, l.b[i].vlan);

			if (sl < 0 || m->b[sl].vni != l.b[i].vni ||
			    sw_vv_slot_by_seg(m, segs[i]) != sl)
				abort();
		}
		sw_vv_map_list(m, &again);
		if (!sw_vv_list_equal(&l, &again))
			abort();
		sw_vv_map_free(m);
	}
	sw_vv_stats_free(st);
	return 0;
}
