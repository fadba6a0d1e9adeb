// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "plugin.h"
#include "lib/system/clock.h"
#include "lib/system/util.h"

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
	struct timespec wall0;
	double t0, last; /* xcni_mono_msf */
	int n;
	const char *name[TRACE_MAX];
	double ms[TRACE_MAX];
} trace;

void trace_start(void)
{
	trace.file = getenv("XCNI_TRACE");
	if (!trace.file || !*trace.file) {
		trace.file = NULL;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &trace.wall0);
	trace.last = trace.t0 = xcni_mono_msf();
}

/* The time since the previous mark (or the start), under name. */
void trace_mark(const char *name)
{
	double now = xcni_mono_msf();

	if (!trace.file || trace.n >= TRACE_MAX)
		return;
	trace.name[trace.n] = name;
	trace.ms[trace.n++] = now - trace.last;
	trace.last = now;
}

void trace_write(const struct cni_ctx *c, int err)
{
	char line[1024];
	size_t n = 0;
	int fd;

	if (!trace.file)
		return;
	xcni_bufadd(line, sizeof(line), &n, "xcni %s %s pid=%d start=%jd.%09ld err=%d",
		    c->env.command, c->env.container_id ? c->env.container_id : "-", (int)getpid(),
		    (intmax_t)trace.wall0.tv_sec, trace.wall0.tv_nsec, err);
	for (int i = 0; i < trace.n; i++)
		xcni_bufadd(line, sizeof(line), &n, " %s=%.3f", trace.name[i], trace.ms[i]);
	xcni_bufadd(line, sizeof(line), &n, " total=%.3f\n", xcni_mono_msf() - trace.t0);
	if (n >= sizeof(line) - 1) /* cut: a line is whole or not written */
		return;
	fd = open(trace.file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, n) < 0) {
		/* a trace is best effort */
	}
	close(fd);
}
