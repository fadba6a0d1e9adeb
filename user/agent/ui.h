/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnid --ui: the service map, a single page (web/ui.html, compiled in) and
 * the graph it polls (GET /api/graph, lib/observe/flowgraph.h) from the flow window,
 * on the agent's HTTP server (agent/http.h). Read-only: nothing it serves
 * changes anything.
 */
#ifndef XCNID_UI_H
#define XCNID_UI_H

#include <stddef.h>

#include "agent/flows.h"
#include "agent/http.h"

struct ui;

/* Serves / and /api/graph on h from fd's window. 0 or -errno (logged). */
int ui_open(struct http *h, struct flowd *fd, const char *pin_dir, struct ui **out);
void ui_free(struct ui *u);

/* The page, as web/ui.html was at build time (uipage.c). */
const unsigned char *ui_page(size_t *len);
/* An http_render_fn answering the page: what xcnictl lab ui serves too. */
int ui_render_page(void *ctx, const struct http_args *a, char **body, size_t *len);

#endif
