// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "plugin.h"

/*
 * XCNI_TRACE=FILE: each ADD appends one line to FILE, its steps' times in
 * ms, to see where an ADD's time goes under a real runtime (the runtime's
 * environment reaches the plugin: containerd passes its own on). One
 * O_APPEND write per line, so concurrent ADDs do not interleave. Nothing is
 * traced, and nothing is read but the variable, without it.
 */
#define TRACE_MAX 16
static struct {
	const char *file;
	struct timespec wall0, t0, last;
	int n;
	const char *name[TRACE_MAX];
	double ms[TRACE_MAX];
} trace;

static double ts_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

void trace_start(void)
{
	trace.file = getenv("XCNI_TRACE");
	if (!trace.file || !*trace.file) {
		trace.file = NULL;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &trace.wall0);
	clock_gettime(CLOCK_MONOTONIC, &trace.t0);
	trace.last = trace.t0;
}

/* The time since the previous mark (or the start), under name. */
void trace_mark(const char *name)
{
	struct timespec now;

	if (!trace.file || trace.n >= TRACE_MAX)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	trace.name[trace.n] = name;
	trace.ms[trace.n++] = ts_ms(&trace.last, &now);
	trace.last = now;
}

void trace_write(const struct cni_ctx *c, int err)
{
	char line[1024];
	struct timespec now;
	int n, i, fd;

	if (!trace.file)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	n = snprintf(line, sizeof(line), "xcni %s %s pid=%d start=%jd.%09ld err=%d", c->env.command,
		     c->env.container_id ? c->env.container_id : "-", (int)getpid(),
		     (intmax_t)trace.wall0.tv_sec, trace.wall0.tv_nsec, err);
	for (i = 0; i < trace.n && n > 0 && (size_t)n < sizeof(line); i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%.3f", trace.name[i],
			      trace.ms[i]);
	if (n > 0 && (size_t)n < sizeof(line) - 32)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " total=%.3f\n",
			      ts_ms(&trace.t0, &now));
	if (n <= 0 || (size_t)n >= sizeof(line))
		return;
	fd = open(trace.file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0) {
		/* a trace is best effort */
	}
	close(fd);
}
