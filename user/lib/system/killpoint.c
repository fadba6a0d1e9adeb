// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
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

static const char *armed_step;
static unsigned armed_nth, passed;
static int armed_err;

void xcni_inject_arm(const char *step, unsigned nth, int err)
{
	armed_step = step;
	armed_nth = nth;
	armed_err = err;
	passed = 0;
}

unsigned xcni_inject_passed(void)
{
	return passed;
}

/* "step" or "step:ERRNO" in the first line of path, which is removed: -errno, once. */
static int failed_by_file(const char *path, const char *step)
{
	char line[64] = "";
	size_t n = strlen(step);
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	if (strncmp(line, step, n) || (line[n] != '\0' && line[n] != ':') || unlink(path))
		return 0;
	return line[n] == ':' && atoi(line + n + 1) > 0 ? -atoi(line + n + 1) : -EIO;
}

int xcni_inject(const char *step)
{
	/* Read once: the apply passes a step per map write (200k at a start). */
	static const char *at, *file;
	static bool looked;
	size_t n;
	int err;

	passed++;
	if (armed_step && armed_nth && (!strcmp(armed_step, "*") || !strcmp(armed_step, step)) &&
	    !--armed_nth)
		return armed_err ? -armed_err : -EIO;
	if (!looked) {
		at = getenv("XCNI_TEST_FAIL_AT");
		file = getenv("XCNI_TEST_FAIL_FILE");
		looked = true;
	}
	if (file && (err = failed_by_file(file, step)))
		return err;
	if (!at)
		return 0;
	n = strlen(step);
	if (!strncmp(at, step, n) && (at[n] == '\0' || at[n] == ':'))
		return at[n] == ':' && atoi(at + n + 1) > 0 ? -atoi(at + n + 1) : -EIO;
	return 0;
}
