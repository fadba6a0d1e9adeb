/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Prometheus text exposition format's writers: what every page of xcnid's /metrics (metrics.c, and the parts
 * hooks.c and status.c render into it) writes with. Below the page: the page
 * calls its parts, the parts call these.
 */
#ifndef XCNID_METRICS_TEXT_H
#define XCNID_METRICS_TEXT_H

#include <linux/types.h>
#include <stddef.h>
#include <stdio.h>

/* A family's # HELP and # TYPE lines. */
void metrics_family(FILE *f, const char *name, const char *type, const char *help);
/*
 * One series, NAME{K="V",...} V: the labels as NULL-terminated pairs of
 * strings (K, V), each value escaped as the exposition format wants it.
 */
void metrics_series(FILE *f, const char *name, unsigned long long v, ...);
/* A family of one unlabelled series. */
void metrics_family1(FILE *f, const char *name, const char *type, const char *help,
		     unsigned long long v);

#endif
