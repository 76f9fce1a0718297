/* fuzz_group_parse.c — libFuzzer target for the ovs-ofctl group syntax of
 * add-group/mod-group/del-groups (vswitch/sw_rpc_group.c, sw_group_parse).
 *
 * The input is one group string, parsed with and without buckets. The parser
 * must never read outside it (ASan), must name the problem whenever it
 * refuses, never leak (LSan: the result is always released), and what it
 * accepts must respect the limits the group table relies on (at most 32
 * actions per bucket, a valid type, a group id in range, one bucket for
 * INDIRECT, a watch for FAST_FAILOVER buckets).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ofa.h"
#include "sw_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *s, bool buckets)
{
	struct ofa_group_mod gm;
	char err[256] = "";
	int ret = sw_group_parse(s, buckets, &gm, err, sizeof(err));

	if (ret) {
		if ((ret != -EINVAL && ret != -ENOMEM) || (ret == -EINVAL && !err[0]))
			abort();
		sw_group_parse_fini(&gm);
		return;
	}
	if (gm.type > OFPGT_FF || (gm.group_id > OFPG_MAX && gm.group_id != OFPG_ALL))
		abort();
	if (buckets && gm.type == OFPGT_INDIRECT && gm.n_buckets != 1)
		abort();
	for (size_t i = 0; i < gm.n_buckets; i++) {
		const struct ofa_bucket *b = &gm.buckets[i];

		if (b->actions.n > SW_MAX_ACTIONS)
			abort();
		if (gm.type == OFPGT_FF && b->watch_port == OFPP_ANY && b->watch_group == OFPG_ANY)
			abort();
		if (gm.type == OFPGT_SELECT && !b->weight)
			abort();
	}
	sw_group_parse_fini(&gm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check(s, true);
	check(s, false);
	free(s);
	return 0;
}
