/* vswitchctl — command-line client of vswitchd's JSON-RPC socket. */
#include "vsl_cli.h"

int main(int argc, char **argv)
{
	static const struct vsl_cli cli = {
		.prog = "vswitchctl",
		.daemon = "vswitchd",
		.summary = "Control the Vessel virtual switch (vswitchd).",
		.cmds = NULL,
		.n_cmds = 0,
	};

	return vsl_cli_main(&cli, argc, argv);
}
