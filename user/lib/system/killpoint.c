// SPDX-License-Identifier: GPL-2.0
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/system/killpoint.h"

static int armed_by_file(const char *path, const char *step)
{
	char line[64] = "";
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	return strcmp(line, step) == 0 && unlink(path) == 0;
}

void xcni_killpoint(const char *step)
{
	const char *at = getenv("XCNI_TEST_KILL_AT");
	const char *file = getenv("XCNI_TEST_KILL_FILE");

	if ((at && strcmp(at, step) == 0) || (file && armed_by_file(file, step)))
		raise(SIGKILL);
}
