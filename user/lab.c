// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>

#include "lab.h"

int lab_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "xcnictl lab: being written\n");
	return 2;
}
