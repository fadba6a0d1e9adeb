// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

enum xlog_level xlog_max = XLOG_WARN;
static const char *xlog_prefix = "xcni";

void xlog_set_prefix(const char *prefix)
{
	xlog_prefix = prefix;
}

void xlog(enum xlog_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	va_list ap;

	if (lvl > xlog_max)
		return;
	fprintf(stderr, "%s: %s: ", xlog_prefix, names[lvl]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
