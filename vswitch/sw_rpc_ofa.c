/* sw_rpc_ofa.c — JSON-RPC methods for the OpenFlow agent: set-controller,
 * del-controller, list-controllers, and the save-config writer that
 * reconnects the controllers. Control thread only.
 */
#include <errno.h>
#include <string.h>

#include "sw_internal.h"
#include "vsl_config.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

enum { MAX_TARGETS = 16 };

static void reply_conns(struct vsl_rpc_call *call)
{
	struct json_object *res = json_object_new_object();

	json_object_object_add(res, "controllers", sw_ofa_show_json());
	vsl_rpc_reply(call, res);
}

static int rpc_set_controller(struct vsl_rpc_call *call, struct json_object *params)
{
	struct json_object *arr = NULL;
	const char *targets[MAX_TARGETS];
	char err[256];
	size_t n;
	int ret;

	if (!params || !json_object_object_get_ex(params, "targets", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		vsl_rpc_reply_errno(call, -EINVAL, "'targets' must be an array of strings "
				    "(tcp:IP:PORT, ptcp:PORT[:IP])");
		return 0;
	}
	n = json_object_array_length(arr);
	if (n > MAX_TARGETS) {
		vsl_rpc_reply_errno(call, -E2BIG, "at most %d controllers", MAX_TARGETS);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(e, json_type_string)) {
			vsl_rpc_reply_errno(call, -EINVAL, "targets[%zu]: not a string", i);
			return 0;
		}
		targets[i] = json_object_get_string(e);
	}
	ret = sw_ofa_set_controllers(targets, (unsigned)n, err, sizeof(err));
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "%s", err);
		return 0;
	}
	reply_conns(call);
	return 0;
}
VSL_RPC_REGISTER("set-controller", rpc_set_controller,
		 "set-controller {targets: [\"tcp:IP:PORT\" | \"ptcp:PORT[:IP]\", ...]}: the "
		 "OpenFlow controllers (replaces the list)")

static int rpc_del_controller(struct vsl_rpc_call *call, struct json_object *params)
{
	char err[256];
	int ret;

	if (vsl_rpc_decode(call, params, NULL, 0, NULL))
		return 0;
	ret = sw_ofa_set_controllers(NULL, 0, err, sizeof(err));
	if (ret) {
		vsl_rpc_reply_errno(call, ret, "%s", err);
		return 0;
	}
	reply_conns(call);
	return 0;
}
VSL_RPC_REGISTER("del-controller", rpc_del_controller,
		 "del-controller: remove every OpenFlow controller")

static int rpc_list_controllers(struct vsl_rpc_call *call, struct json_object *params)
{
	if (vsl_rpc_decode(call, params, NULL, 0, NULL))
		return 0;
	reply_conns(call);
	return 0;
}
VSL_RPC_REGISTER("list-controllers", rpc_list_controllers,
		 "list-controllers: targets and connections (state, role, peer, counters)")

/* After the flows (30): a controller that connects finds them in place. */
static int write_controllers(struct json_object *calls)
{
	const char *const *t;
	unsigned n = sw_ofa_targets(&t);
	struct json_object *p, *arr;

	if (!n)
		return 0;
	arr = json_object_new_array();
	for (unsigned i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(t[i]));
	p = json_object_new_object();
	json_object_object_add(p, "targets", arr);
	return vsl_config_add_call(calls, "set-controller", p);
}
VSL_CONFIG_WRITER("controllers", 40, write_controllers)
