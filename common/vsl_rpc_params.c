/* vsl_rpc_params.c — the process-wide method table and parameter decoding. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vsl_rpc.h"
#include "vsl_util.h"

/* Sorted by name; filled by constructors before main(), read-only afterwards. */
static struct vsl_rpc_method *rpc_methods;

void vsl_rpc_method_register(struct vsl_rpc_method *m)
{
	struct vsl_rpc_method **pp = &rpc_methods;

	while (*pp && strcmp((*pp)->name, m->name) < 0)
		pp = &(*pp)->next;
	if (*pp && !strcmp((*pp)->name, m->name)) {
		fprintf(stderr, "BUG: JSON-RPC method '%s' registered twice\n", m->name);
		abort();
	}
	m->next = *pp;
	*pp = m;
}

const struct vsl_rpc_method *vsl_rpc_method_find(const char *name)
{
	for (const struct vsl_rpc_method *m = rpc_methods; m; m = m->next)
		if (!strcmp(m->name, name))
			return m;
	return NULL;
}

const struct vsl_rpc_method *vsl_rpc_method_next(const struct vsl_rpc_method *m)
{
	return m ? m->next : rpc_methods;
}

/* rpc.methods: the names and one-line help of every method this daemon serves. */
static int rpc_methods_handler(struct vsl_rpc_call *call, struct json_object *params)
{
	struct json_object *list;

	if (params && !(json_object_is_type(params, json_type_object) &&
			json_object_object_length(params) == 0) &&
	    !(json_object_is_type(params, json_type_array) && json_object_array_length(params) == 0)) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS, "rpc.methods takes no parameters");
		return -EINVAL;
	}
	list = json_object_new_array();
	for (const struct vsl_rpc_method *m = rpc_methods; m; m = m->next) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(m->name));
		json_object_object_add(o, "help", json_object_new_string(m->help ? m->help : ""));
		json_object_array_add(list, o);
	}
	vsl_rpc_reply(call, list);
	return 0;
}
VSL_RPC_REGISTER("rpc.methods", rpc_methods_handler, "list the methods this daemon serves")

static const char *type_name(enum vsl_rpc_type t)
{
	switch (t) {
	case VSL_RPC_STRING: return "a string";
	case VSL_RPC_BOOL: return "a boolean";
	case VSL_RPC_INT64: return "an integer";
	case VSL_RPC_UINT64:
	case VSL_RPC_UINT32:
	case VSL_RPC_UINT16: return "a non-negative integer";
	case VSL_RPC_OBJECT: return "an object";
	case VSL_RPC_ARRAY: return "an array";
	case VSL_RPC_SIZE: return "a size (bytes, or a string such as \"10G\")";
	}
	return "?";
}

/* Reads an unsigned integer from a JSON integer, refusing negatives. json-c
 * keeps values above INT64_MAX as unsigned, for which get_int64 saturates
 * positive, so the sign test is exact. */
static bool get_uint(struct json_object *v, uint64_t max, uint64_t *out)
{
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return false;
	*out = json_object_get_uint64(v);
	return *out <= max;
}

static bool decode_one(const struct vsl_rpc_param *p, struct json_object *v, void *out)
{
	char *dst = (char *)out + p->offset;
	uint64_t u;

	switch (p->type) {
	case VSL_RPC_STRING:
		if (!json_object_is_type(v, json_type_string))
			return false;
		*(const char **)dst = json_object_get_string(v);
		return true;
	case VSL_RPC_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return false;
		*(bool *)dst = json_object_get_boolean(v);
		return true;
	case VSL_RPC_INT64:
		if (!json_object_is_type(v, json_type_int))
			return false;
		/* json-c keeps 2^63 and above as unsigned and clamps get_int64 to
		 * INT64_MAX without setting errno: refuse those explicitly. */
		if (json_object_get_int64(v) >= 0 && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
			return false;
		*(int64_t *)dst = json_object_get_int64(v);
		return true;
	case VSL_RPC_UINT64:
		return get_uint(v, UINT64_MAX, (uint64_t *)dst);
	case VSL_RPC_UINT32:
		if (!get_uint(v, UINT32_MAX, &u))
			return false;
		*(uint32_t *)dst = (uint32_t)u;
		return true;
	case VSL_RPC_UINT16:
		if (!get_uint(v, UINT16_MAX, &u))
			return false;
		*(uint16_t *)dst = (uint16_t)u;
		return true;
	case VSL_RPC_OBJECT:
	case VSL_RPC_ARRAY:
		if (!json_object_is_type(v, p->type == VSL_RPC_OBJECT ? json_type_object
								      : json_type_array))
			return false;
		*(struct json_object **)dst = v;
		return true;
	case VSL_RPC_SIZE:
		if (json_object_is_type(v, json_type_string))
			return vsl_parse_size(json_object_get_string(v), (uint64_t *)dst) == 0;
		return get_uint(v, UINT64_MAX, (uint64_t *)dst);
	}
	return false;
}

int vsl_rpc_decode(struct vsl_rpc_call *call, struct json_object *params,
		   const struct vsl_rpc_param *table, size_t n, void *out)
{
	if (params && !json_object_is_type(params, json_type_object)) {
		vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
				    "%s takes named parameters (an object)", vsl_rpc_call_method(call));
		return -EINVAL;
	}
	if (params) {
		json_object_object_foreach(params, key, val) {
			size_t i;

			(void)val;
			for (i = 0; i < n; i++)
				if (!strcmp(table[i].name, key))
					break;
			if (i == n) {
				vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
						    "unknown parameter '%.100s' for %s", key,
						    vsl_rpc_call_method(call));
				return -EINVAL;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = NULL;
		bool present = params && json_object_object_get_ex(params, table[i].name, &v);

		if (!present) {
			if (table[i].optional)
				continue;
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
					    "missing required parameter '%s'", table[i].name);
			return -EINVAL;
		}
		if (!decode_one(&table[i], v, out)) {
			vsl_rpc_reply_error(call, VSL_RPC_INVALID_PARAMS,
					    "parameter '%s' must be %s", table[i].name,
					    type_name(table[i].type));
			return -EINVAL;
		}
	}
	return 0;
}
