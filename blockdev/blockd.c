/* blockd — the Vessel userspace block daemon.
 *
 * The process skeleton: options, the control loop with the JSON-RPC socket,
 * a check that io_uring works here, and clean shutdown. The bdev layer, volumes
 * and exports hang off it (blockdev/include/).
 */
#include <string.h>

#include <liburing.h>

#include "vsl_daemon.h"
#include "vsl_log.h"

VSL_LOG_MODULE(blockd);

static int io_uring_status;   /* 0, or -errno from io_uring_queue_init */

static void blockd_info(struct json_object *info)
{
	struct json_object *u = json_object_new_object();

	json_object_object_add(u, "available", json_object_new_boolean(io_uring_status == 0));
	if (io_uring_status)
		json_object_object_add(u, "error", json_object_new_string(strerror(-io_uring_status)));
	json_object_object_add(info, "io_uring", u);
}

/* Reactors need io_uring: find out at start, not at the first I/O. */
static int probe_io_uring(void)
{
	struct io_uring ring;
	int ret = io_uring_queue_init(8, &ring, 0);

	if (ret)
		return ret;
	io_uring_queue_exit(&ring);
	return 0;
}

int main(int argc, char **argv)
{
	struct vsl_daemon_args args;
	struct vsl_daemon d;
	int ret;

	ret = vsl_daemon_parse_args(&args, "blockd", "Vessel block daemon (io_uring bdev layer).",
				    NULL, argc, argv);
	if (ret)
		return ret == 1 ? 0 : 2;
	ret = vsl_daemon_init(&d, &args);
	if (ret)
		return 1;
	d.info_fn = blockd_info;
	io_uring_status = probe_io_uring();
	if (io_uring_status)
		VSL_WARN("io_uring unavailable: %s", strerror(-io_uring_status));

	ret = vsl_daemon_start(&d);
	if (!ret)
		ret = vsl_daemon_run(&d);
	vsl_daemon_fini(&d);
	return ret ? 1 : 0;
}
