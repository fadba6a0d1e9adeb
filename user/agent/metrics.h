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
#include "agent/metrics_text.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics;
struct bpf_map_info;

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
