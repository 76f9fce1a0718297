/* fuzz_vmm_def.c — libFuzzer target for the VM definition parser
 * (vmm/vmm_def.c). Arbitrary bytes go to vmm_def_parse(); whatever it accepts
 * must be self-consistent (names valid, counts in range, unicast MACs, one
 * boot source) and survive a round trip through vmm_def_to_json() unchanged.
 * A refusal must come with a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_def.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vmm_def d, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct json_object *o;
	const char *s;
	unsigned boots = 0;

	if (vmm_def_parse((const char *)data, size, &d, err, sizeof(err))) {
		if (!err[0])
			abort();
		return 0;
	}
	if (!vmm_name_valid(d.name) || d.vcpus < 1 || d.vcpus > VMM_MAX_VCPUS ||
	    d.memory_mb < VMM_MIN_MEMORY_MB || d.n_nics > VMM_MAX_NICS ||
	    d.n_disks > VMM_MAX_DISKS || d.n_vfs > VMM_MAX_VFS)
		abort();
	for (unsigned i = 0; i < d.n_nics; i++) {
		if ((d.nics[i].mac[0] & 1) || (d.nics[i].vlan >= 0 && d.nics[i].vni >= 0) ||
		    d.nics[i].queues < 1 || d.nics[i].queues > VMM_MAX_QUEUES)
			abort();
		for (unsigned j = 0; j < i; j++)
			if (!memcmp(d.nics[i].mac, d.nics[j].mac, 6))
				abort();
	}
	for (unsigned i = 0; i < d.n_disks; i++)
		boots += d.disks[i].boot;
	if (boots > 1 || (!d.kernel[0]) == (boots == 0))
		abort();
	o = vmm_def_to_json(&d);
	s = json_object_to_json_string(o);
	if (vmm_def_parse(s, strlen(s), &again, err, sizeof(err)) ||
	    memcmp(&d, &again, sizeof(d)))
		abort();
	json_object_put(o);
	return 0;
}
