// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/system/killpoint.h"

/* The first line of path, without its newline; "" when it cannot be read. */
static void first_line(const char *path, char *line, size_t len)
{
	FILE *f = fopen(path, "r");

	line[0] = '\0';
	if (!f)
		return;
	if (!fgets(line, (int)len, f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
}

/* spec names step ("step" or "step:ERRNO"): -ERRNO (EIO by default); else 0. */
static int spec_err(const char *spec, const char *step)
{
	size_t n = strlen(step);

	if (strncmp(spec, step, n) || (spec[n] != '\0' && spec[n] != ':'))
		return 0;
	return spec[n] == ':' && atoi(spec + n + 1) > 0 ? -atoi(spec + n + 1) : -EIO;
}

static int armed_by_file(const char *path, const char *step)
{
	char line[64];

	first_line(path, line, sizeof(line));
	return strcmp(line, step) == 0 && unlink(path) == 0;
}

void xcni_killpoint(const char *step)
{
	const char *at = getenv("XCNI_TEST_KILL_AT");
	const char *file = getenv("XCNI_TEST_KILL_FILE");

	if ((at && strcmp(at, step) == 0) || (file && armed_by_file(file, step)))
		raise(SIGKILL);
}

int (*xcni_inject_hook)(const char *step);

/* spec_err of the first line of path, which is removed when it names step: once. */
static int failed_by_file(const char *path, const char *step)
{
	char line[64];
	int err;

	first_line(path, line, sizeof(line));
	err = spec_err(line, step);
	return err && !unlink(path) ? err : 0;
}

int xcni_inject(const char *step)
{
	/* Read once: the apply passes a step per map write (200k at a start). */
	static const char *at, *file;
	static bool looked;
	int err;

	if (!step) /* a write no test names (the Service maps' batches) */
		return 0;
	if (xcni_inject_hook && (err = xcni_inject_hook(step)))
		return err;
	if (!looked) {
		at = getenv("XCNI_TEST_FAIL_AT");
		file = getenv("XCNI_TEST_FAIL_FILE");
		looked = true;
	}
	if (file && (err = failed_by_file(file, step)))
		return err;
	return at ? spec_err(at, step) : 0;
}
