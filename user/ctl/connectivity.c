// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl connectivity test: the lab's (user/lab/conntest.c). Its options are
 * its own (--test, --node), so xcnictl hands it the line as it does lab.
 */
#include "ctl.h"
#include "lab/conntest.h"

int ctl_connectivity_main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "test"))
		return lab_cmd_conntest(argc - 1, argv + 1);
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: xcnictl connectivity test [OPTIONS]  (connectivity test --help)\n");
		return 0;
	}
	fprintf(stderr, "xcnictl connectivity: %s%s (want: connectivity test; "
			"connectivity test --help)\n", argc > 1 ? "unknown subcommand " : "missing subcommand",
		argc > 1 ? argv[1] : "");
	return 2;
}
