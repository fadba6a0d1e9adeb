/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnid's Prometheus endpoint: a small HTTP/1.1 server on non-blocking
 * sockets, driven from the agent's own poll loop through one fd. GET /metrics
 * answers the text exposition format 0.0.4, read from the pinned maps at the
 * time of the scrape; every other path is a 404. One request per connection.
 */
#ifndef XCNID_METRICS_H
#define XCNID_METRICS_H

struct metrics;

/* "HOST:PORT" (IPv4, [IPv6], or ":PORT" for every address): 0 or -EINVAL. */
int metrics_check_addr(const char *addr);
/* Listens on addr, reading maps pinned under pin_dir. 0 or -errno (logged). */
int metrics_open(const char *addr, const char *pin_dir, struct metrics **out);
/*
 * One fd for the caller's poll(2) (POLLIN): readable whenever a client or the
 * listener needs attention. -1 for a NULL server, which poll(2) ignores.
 */
int metrics_fd(const struct metrics *m);
/* Serves whatever is ready without ever waiting on a client. */
void metrics_dispatch(struct metrics *m);
void metrics_free(struct metrics *m);

#endif
