/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnid's Prometheus page: GET /metrics on the agent's HTTP server answers the
 * text exposition format 0.0.4, read from the pinned maps at the time of the
 * scrape.
 */
#ifndef XCNID_METRICS_H
#define XCNID_METRICS_H

#include <linux/types.h>
#include <stdio.h>

#include "lib/system/http.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics;
struct bpf_map_info;

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

/*
 * Entry key of the per-CPU map fd summed over its ncpus values, word by
 * word (a value of size bytes, all __u64): into sum. 0 or -errno.
 */
int metrics_percpu_sum(int fd, __u32 key, int ncpus, size_t size, void *sum);


/* Serves /metrics on h, reading maps pinned under pin_dir. 0 or -errno (logged). */
int metrics_open(const char *pin_dir, struct http *h, struct metrics **out);
void metrics_free(struct metrics *m);
struct hooks;
struct flowd;
/*
 * What else the page shows (NULL: not shown): the hooks' order (agent/hooks.h)
 * and, from xcnid's flows, the families of its records (isolation drops,
 * verdicts, window) and of its flow log (xcni_flow_log_refused_total).
 */
void metrics_set_sources(struct metrics *m, const struct hooks *hk, struct flowd *fd);
/*
 * An HTTP server (lib/system/http.h) whose refusals are on the page as
 * xcni_http_refused_total{listener="NAME"}: "http" (metrics, UI, status),
 * "flows" (--flows-listen). At most METRICS_LISTENERS; NULL h: nothing.
 */
#define METRICS_LISTENERS 4
void metrics_set_listener(struct metrics *m, const char *name, const struct http *h);

#endif
