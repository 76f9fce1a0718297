/* fuzz_rpc_request.c — libFuzzer target for the JSON-RPC request path.
 *
 * Each input is fed, as the bytes one client sent, to a fresh in-memory
 * connection of one long-lived server (vsl_rpc_server_feed()): the json-c
 * tokener loop, framing of back-to-back values, batches, notifications,
 * request validation, dispatch, the built-in methods (rpc.methods, version,
 * shutdown and save-config, from vsl_daemon.c) and answer serialisation.
 *
 * The extra method `fuzz.decode` takes one parameter of every vsl_rpc_type, so
 * the fuzzer reaches vsl_rpc_decode() and the size parser with arbitrary
 * values. With "defer": true it answers only after the feed returned, when its
 * connection is already gone, which is the deferred-answer path.
 *
 * Safety: save-config writes where "path" says, and the fuzzer runs as whoever
 * runs it. The handler is wrapped so that any absolute path becomes one file in
 * this process's private directory under /tmp.
 *
 * Build: make fuzz (build/fuzz/fuzz_rpc_request), or by hand with clang
 * -fsanitize=fuzzer,address,undefined. Seeds: tests/fuzz/corpus/rpc_request/.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vsl_log.h"
#include "vsl_loop.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_MAX_DEFERRED = 64 };

static struct vsl_loop *fuzz_loop;
static struct vsl_rpc_server *fuzz_srv;
static char fuzz_dir[64];
static char fuzz_sock[108];
static char fuzz_save_path[128];

/* Calls `fuzz.decode` deferred during the current input; answered after it. */
static struct vsl_rpc_call *fuzz_deferred[FUZZ_MAX_DEFERRED];
static size_t fuzz_n_deferred;

/* ------------------------------------------------------------ fuzz.decode */

struct fuzz_decode_params {
	const char *name;
	bool flag;
	int64_t i64;
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	struct json_object *obj;
	struct json_object *arr;
	uint64_t size;
	bool defer;
};

static int rpc_fuzz_decode(struct vsl_rpc_call *call, struct json_object *params)
{
	/* One required member, so that "missing" is reachable, then every type. */
	static const struct vsl_rpc_param table[] = {
		VSL_RPC_PARAM("name", struct fuzz_decode_params, name, VSL_RPC_STRING, false),
		VSL_RPC_PARAM("flag", struct fuzz_decode_params, flag, VSL_RPC_BOOL, true),
		VSL_RPC_PARAM("i64", struct fuzz_decode_params, i64, VSL_RPC_INT64, true),
		VSL_RPC_PARAM("u64", struct fuzz_decode_params, u64, VSL_RPC_UINT64, true),
		VSL_RPC_PARAM("u32", struct fuzz_decode_params, u32, VSL_RPC_UINT32, true),
		VSL_RPC_PARAM("u16", struct fuzz_decode_params, u16, VSL_RPC_UINT16, true),
		VSL_RPC_PARAM("obj", struct fuzz_decode_params, obj, VSL_RPC_OBJECT, true),
		VSL_RPC_PARAM("arr", struct fuzz_decode_params, arr, VSL_RPC_ARRAY, true),
		VSL_RPC_PARAM("size", struct fuzz_decode_params, size, VSL_RPC_SIZE, true),
		VSL_RPC_PARAM("defer", struct fuzz_decode_params, defer, VSL_RPC_BOOL, true),
	};
	struct fuzz_decode_params p = { .name = NULL };
	struct json_object *r;

	if (vsl_rpc_decode(call, params, table, VSL_ARRAY_SIZE(table), &p))
		return -EINVAL;

	/* Use every decoded value, so that a bad pointer or a wrong width shows
	 * up under ASan/UBSan here rather than in some later handler. */
	r = json_object_new_object();
	json_object_object_add(r, "name", json_object_new_string(p.name));
	json_object_object_add(r, "flag", json_object_new_boolean(p.flag));
	json_object_object_add(r, "i64", json_object_new_int64(p.i64));
	json_object_object_add(r, "u64", json_object_new_uint64(p.u64));
	json_object_object_add(r, "u32", json_object_new_uint64(p.u32));
	json_object_object_add(r, "u16", json_object_new_int(p.u16));
	/* json-c asserts on the length of a NULL (absent) object or array. */
	json_object_object_add(r, "obj",
			       json_object_new_int(p.obj ? json_object_object_length(p.obj) : -1));
	json_object_object_add(r, "arr",
			       json_object_new_int(p.arr ? (int)json_object_array_length(p.arr) : -1));
	json_object_object_add(r, "size", json_object_new_uint64(p.size));

	if (p.defer && fuzz_n_deferred < FUZZ_MAX_DEFERRED) {
		/* `r` must not point into params, which die with the request. */
		json_object_put(r);
		vsl_rpc_defer(call);
		fuzz_deferred[fuzz_n_deferred++] = call;
		return 0;
	}
	/* Names starting with 'e' take the domain-error paths, errno 0..1199
	 * included (out of range maps to EIO), with and without a message. */
	if (p.name[0] == 'e') {
		json_object_put(r);
		if (p.name[1])
			vsl_rpc_reply_errno(call, -(int)(p.u16 % 1200), "%s", p.name);
		else
			vsl_rpc_reply_errno(call, -(int)(p.u16 % 1200), NULL);
		return 0;
	}
	vsl_rpc_reply(call, r);
	return 0;
}
VSL_RPC_REGISTER("fuzz.decode", rpc_fuzz_decode,
		 "decode one parameter of every type (fuzz target only)")

/* Answers the calls deferred during the last input: their connection has
 * been released by vsl_rpc_server_feed() already. */
static void answer_deferred(void)
{
	for (size_t i = 0; i < fuzz_n_deferred; i++) {
		if (i % 2)
			vsl_rpc_reply(fuzz_deferred[i], json_object_new_int((int)i));
		else
			vsl_rpc_reply_error(fuzz_deferred[i], VSL_RPC_INTERNAL_ERROR, "late %zu", i);
	}
	fuzz_n_deferred = 0;
}

/* ---------------------------------------------------- save-config sandbox */

static vsl_rpc_handler_fn real_save_config;

static int sandboxed_save_config(struct vsl_rpc_call *call, struct json_object *params)
{
	struct json_object *path;

	if (json_object_is_type(params, json_type_object) &&
	    json_object_object_get_ex(params, "path", &path) &&
	    json_object_is_type(path, json_type_string) && json_object_get_string(path)[0] == '/')
		json_object_object_add(params, "path", json_object_new_string(fuzz_save_path));
	return real_save_config(call, params);
}

static void sandbox_save_config(void)
{
	/* The method objects live in writable static storage in vsl_daemon.c;
	 * the table hands them out const only to keep handlers from editing it. */
	struct vsl_rpc_method *m = (struct vsl_rpc_method *)vsl_rpc_method_find("save-config");

	if (m) {
		real_save_config = m->fn;
		m->fn = sandboxed_save_config;
	}
}

/* ------------------------------------------------------------------ setup */

static void fuzz_cleanup(void)
{
	vsl_rpc_server_destroy(fuzz_srv);   /* removes the socket file */
	fuzz_srv = NULL;
	vsl_loop_destroy(fuzz_loop);
	fuzz_loop = NULL;
	unlink(fuzz_save_path);
	rmdir(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	vsl_log_set_level(NULL, VSL_LOG_OFF);   /* no log line per input */
	snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/vsl-fuzz-rpc-%d", (int)getpid());
	snprintf(fuzz_sock, sizeof(fuzz_sock), "%s/rpc.sock", fuzz_dir);
	snprintf(fuzz_save_path, sizeof(fuzz_save_path), "%s/saved.json", fuzz_dir);
	if (mkdir(fuzz_dir, 0700) < 0 && errno != EEXIST) {
		perror(fuzz_dir);
		abort();
	}
	fuzz_loop = vsl_loop_create();
	if (!fuzz_loop) {
		perror("vsl_loop_create");
		abort();
	}
	/* ctx NULL: `version` answers program "?", `shutdown` -ENOTSUP. */
	fuzz_srv = vsl_rpc_server_create(fuzz_loop, fuzz_sock, NULL);
	if (!fuzz_srv) {
		perror("vsl_rpc_server_create");
		abort();
	}
	sandbox_save_config();
	atexit(fuzz_cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int ret;

	if (!fuzz_srv)
		LLVMFuzzerInitialize(NULL, NULL);
	ret = vsl_rpc_server_feed(fuzz_srv, data, size);
	/* The documented results: a count of answers, or the connection dropped
	 * for malformed JSON or an oversized request. */
	if (ret < 0 && ret != -EPROTO && ret != -EMSGSIZE) {
		fprintf(stderr, "vsl_rpc_server_feed returned %d\n", ret);
		abort();
	}
	answer_deferred();
	return 0;
}
