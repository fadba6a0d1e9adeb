/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnid --ui: the service map, a single page (web/ui.html, compiled in) and
 * the graph it polls (GET /api/graph, lib/observe/flowgraph.h) from the flow window,
 * on the HTTP server of lib/system/http.h. Read-only: nothing it serves
 * changes anything.
 */
#ifndef XCNID_UI_H
#define XCNID_UI_H

#include <stddef.h>

#include "agent/flows.h"
#include "lib/system/http.h"

struct ui;

/* Serves / and /api/graph on h from fd's window. 0 or -errno (logged). */
int ui_open(struct http *h, struct flowd *fd, const char *pin_dir, struct ui **out);
void ui_free(struct ui *u);

#endif
