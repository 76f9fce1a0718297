/* vsl_config.h — daemon configuration as a replayable list of RPC calls.
 *
 * A daemon's configuration file is a JSON array of calls:
 *
 *     [ {"method": "add-port", "params": {"name": "vh0", "type": "vhost-user"}},
 *       {"method": "add-flow", "params": {...}} ]
 *
 * `-c FILE` replays it at start through the same dispatch as socket clients, so
 * anything a file can do a client can do and vice versa. `save-config` asks every
 * registered writer, in ascending `order`, to append the calls that rebuild its
 * part of the state, and returns or writes the list. Writers run on the control
 * thread.
 */
#ifndef VSL_CONFIG_H
#define VSL_CONFIG_H

#include <stddef.h>

#include <json-c/json.h>

struct vsl_loop;
struct vsl_rpc_server;

/* Appends calls to `calls` (an array) with vsl_config_add_call(). Returns 0 or -errno. */
typedef int (*vsl_config_write_fn)(struct json_object *calls);

struct vsl_config_writer {
	const char *name;
	int order;       /* lower first: ports before the flows that name them */
	vsl_config_write_fn fn;
	struct vsl_config_writer *next;
};

void vsl_config_writer_register(struct vsl_config_writer *w);

#define VSL_CONFIG_WRITER(NAME, ORDER, FN)                                           \
	static struct vsl_config_writer vsl_cfgw_##FN = { .name = (NAME), .order = (ORDER), \
							  .fn = (FN) };                    \
	static void __attribute__((constructor)) vsl_cfgw_reg_##FN(void)                   \
	{                                                                                  \
		vsl_config_writer_register(&vsl_cfgw_##FN);                                 \
	}

/* Appends {"method": method, "params": params} to calls; params is consumed
 * (NULL: no params). Returns 0 or -ENOMEM. */
int vsl_config_add_call(struct json_object *calls, const char *method, struct json_object *params);

/* Builds the whole list into *calls (free with json_object_put). Returns 0 or -errno. */
int vsl_config_build(struct json_object **calls);

/* Writes `calls` to path atomically, pretty-printed. Returns 0 or -errno. */
int vsl_config_write(const char *path, struct json_object *calls);

/* Replays the calls in `path` one by one, each completing (running `loop` for
 * deferred answers) before the next starts. Stops at the first failure and
 * describes it in errbuf ("config FILE: call 3 (add-port): port 'x' exists").
 * Returns 0, -EINVAL for a malformed file or a failed call, or -errno reading it. */
int vsl_config_replay(struct vsl_rpc_server *srv, struct vsl_loop *loop, const char *path,
		      char *errbuf, size_t errlen);

#endif /* VSL_CONFIG_H */
