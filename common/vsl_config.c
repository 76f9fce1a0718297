/* vsl_config.c — save-config writers and -c replay. See vsl_config.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vsl_config.h"
#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_rpc.h"
#include "vsl_time.h"
#include "vsl_util.h"

VSL_LOG_MODULE(config);

enum { CONFIG_MAX_FILE = 64 << 20, CONFIG_CALL_TIMEOUT_MS = 120000 };

static struct vsl_config_writer *config_writers;

void vsl_config_writer_register(struct vsl_config_writer *w)
{
	struct vsl_config_writer **pp = &config_writers;

	while (*pp && (*pp)->order <= w->order)
		pp = &(*pp)->next;
	w->next = *pp;
	*pp = w;
}

int vsl_config_add_call(struct json_object *calls, const char *method, struct json_object *params)
{
	struct json_object *c = json_object_new_object();

	if (!c) {
		json_object_put(params);
		return -ENOMEM;
	}
	json_object_object_add(c, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(c, "params", params);
	return json_object_array_add(calls, c) ? -ENOMEM : 0;
}

int vsl_config_build(struct json_object **calls)
{
	struct json_object *list = json_object_new_array();

	if (!list)
		return -ENOMEM;
	for (struct vsl_config_writer *w = config_writers; w; w = w->next) {
		int ret = w->fn(list);
		if (ret) {
			VSL_ERR("save-config: writer '%s' failed: %s", w->name, strerror(-ret));
			json_object_put(list);
			return ret;
		}
	}
	*calls = list;
	return 0;
}

int vsl_config_write(const char *path, struct json_object *calls)
{
	size_t len;
	const char *s = json_object_to_json_string_length(
		calls, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE,
		&len);
	char *buf = malloc(len + 2);
	int ret;

	if (!buf)
		return -ENOMEM;
	memcpy(buf, s, len);
	buf[len] = '\n';
	ret = vsl_write_file_atomic(path, buf, len + 1, 0640);
	free(buf);
	return ret;
}

struct replay_wait {
	bool done;
	bool failed;
	char message[512];
};

static void replay_done(struct json_object *result, struct json_object *error, void *arg)
{
	struct replay_wait *w = arg;
	struct json_object *msg;

	(void)result;
	w->done = true;
	if (error) {
		w->failed = true;
		if (json_object_object_get_ex(error, "message", &msg))
			snprintf(w->message, sizeof(w->message), "%s", json_object_get_string(msg));
		else
			snprintf(w->message, sizeof(w->message), "failed");
	}
}

int vsl_config_replay(struct vsl_rpc_server *srv, struct vsl_loop *loop, const char *path,
		      char *errbuf, size_t errlen)
{
	struct json_tokener *tok = NULL;
	struct json_object *calls = NULL;
	char *text = NULL;
	size_t len, n;
	int ret;

	ret = vsl_read_file(path, CONFIG_MAX_FILE, &text, &len);
	if (ret) {
		snprintf(errbuf, errlen, "config %s: %s", path, strerror(-ret));
		return ret;
	}
	tok = json_tokener_new();
	if (!tok) {
		ret = -ENOMEM;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	calls = json_tokener_parse_ex(tok, text, (int)len);
	if (!calls || !json_object_is_type(calls, json_type_array)) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		snprintf(errbuf, errlen, "config %s: %s", path,
			 e == json_tokener_continue ? "unexpected end of file"
			 : e != json_tokener_success ? json_tokener_error_desc(e)
						     : "must be a JSON array of calls");
		ret = -EINVAL;
		goto out;
	}
	n = json_object_array_length(calls);
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(calls, i), *m, *p = NULL;
		struct replay_wait w = { 0 };
		uint64_t deadline;

		if (!json_object_is_type(c, json_type_object) ||
		    !json_object_object_get_ex(c, "method", &m) ||
		    !json_object_is_type(m, json_type_string)) {
			snprintf(errbuf, errlen, "config %s: call %zu: needs a \"method\" string", path,
				 i + 1);
			ret = -EINVAL;
			goto out;
		}
		json_object_object_get_ex(c, "params", &p);
		ret = vsl_rpc_server_call(srv, json_object_get_string(m), json_object_get(p),
					  replay_done, &w);
		deadline = vsl_time_mono_ms() + CONFIG_CALL_TIMEOUT_MS;
		while (!ret && !w.done) {
			ret = vsl_loop_run_once(loop, 100) < 0 ? -EIO : 0;
			if (!ret && !w.done && vsl_time_mono_ms() > deadline)
				ret = -ETIMEDOUT;
		}
		if (ret || w.failed) {
			snprintf(errbuf, errlen, "config %s: call %zu (%s): %s", path, i + 1,
				 json_object_get_string(m), ret ? strerror(-ret) : w.message);
			ret = -EINVAL;
			goto out;
		}
	}
	VSL_INFO("replayed %zu call(s) from %s", n, path);
out:
	json_object_put(calls);
	if (tok)
		json_tokener_free(tok);
	free(text);
	return ret;
}
