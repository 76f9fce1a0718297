/* fuzz_flow_parse.c — libFuzzer target for the ovs-ofctl flow syntax
 * (vswitch/sw_flow_parse.c).
 *
 * The input is one flow string, parsed as add-flow and as del-flows. The
 * parser must never read outside it (ASan), must fill a message naming the
 * problem whenever it refuses, and whatever it accepts must format to a
 * string that parses back to the same match and the same text (the round
 * trip the unit tests check on hand-written flows).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sw_flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sw_flow_mod fm, fm2;

static void check(const char *s, enum sw_flow_cmd cmd)
{
	static char buf[8192], buf2[8192];
	char err[256];
	int ret = sw_flow_parse(s, cmd, &fm, err, sizeof(err));

	if (ret) {
		if (ret != -EINVAL || !err[0])
			abort();
		return;
	}
	if (cmd != SW_FC_ADD)
		return;
	sw_flow_mod_format(&fm, buf, sizeof(buf));
	if (sw_flow_parse(buf, cmd, &fm2, err, sizeof(err)))
		abort();
	sw_match_normalize(&fm.match);
	sw_match_normalize(&fm2.match);
	if (!sw_match_equal(&fm.match, &fm2.match) || fm.priority != fm2.priority ||
	    fm.table_id != fm2.table_id)
		abort();
	sw_flow_mod_format(&fm2, buf2, sizeof(buf2));
	if (strcmp(buf, buf2))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 4096)
		return 0;
	/* An exact-size NUL-terminated copy: a read past the end is caught. */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check(s, SW_FC_ADD);
	check(s, SW_FC_DELETE);
	free(s);
	return 0;
}
