/* sw_port_internal.c — port type `internal`: a TAP interface named after the
 * port, through which the host's own stack reaches the bridge (net_tap PMD).
 * Admin down also takes the TAP interface down.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "sw_internal.h"

static int internal_prepare(struct sw_port *p, const struct sw_port_opts *o, char *err,
			    size_t errlen)
{
	if (o->devargs || o->path || o->vhost_mode) {
		snprintf(err, errlen, "type internal takes no devargs=, path= or vhost_mode=");
		return -EINVAL;
	}
	if (strlen(p->name) >= IFNAMSIZ) {
		snprintf(err, errlen, "an internal port's name is its interface name: at most %d "
			 "characters", IFNAMSIZ - 1);
		return -EINVAL;
	}
	snprintf(p->devargs, sizeof(p->devargs), "net_tap_%s,iface=%s", p->name, p->name);
	return 0;
}

static void internal_describe(const struct sw_port *p, struct json_object *o)
{
	(void)p;
	(void)o;
}

const struct sw_port_ops sw_port_internal_ops = {
	.type = "internal",
	.prepare = internal_prepare,
	.describe = internal_describe,
};
