// SPDX-License-Identifier: Apache-2.0
/* The exposition format's writers (metrics_text.h). */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agent/metrics_text.h"

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static void label(FILE *b, const char *s)
{
	for (; *s; s++)
		if (*s == '\n')
			fputs("\\n", b);
		else
			fprintf(b, "%s%c", *s == '\\' || *s == '"' ? "\\" : "", *s);
}

void metrics_family(FILE *b, const char *name, const char *type, const char *help)
{
	fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_series(FILE *b, const char *name, unsigned long long v, ...)
{
	const char *sep = "{", *k;
	va_list ap;

	fputs(name, b);
	va_start(ap, v);
	while ((k = va_arg(ap, const char *))) {
		fprintf(b, "%s%s=\"", sep, k);
		label(b, va_arg(ap, const char *));
		fputc('"', b);
		sep = ",";
	}
	va_end(ap);
	fprintf(b, "%s %llu\n", *sep == ',' ? "}" : "", v);
}

void metrics_family1(FILE *b, const char *name, const char *type, const char *help,
		     unsigned long long v)
{
	metrics_family(b, name, type, help);
	metrics_series(b, name, v, NULL);
}
