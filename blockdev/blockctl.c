/* blockctl — command-line client of blockd's JSON-RPC socket. */
#include "vsl_cli.h"

int main(int argc, char **argv)
{
	static const struct vsl_cli cli = {
		.prog = "blockctl",
		.daemon = "blockd",
		.summary = "Control the Vessel block daemon (blockd).",
		.cmds = NULL,
		.n_cmds = 0,
	};

	return vsl_cli_main(&cli, argc, argv);
}
