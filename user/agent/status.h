/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What xcnid says about itself: its status socket (lib/observe/agentstatus.h:
 * one JSON object per connection, read by `xcnictl status`), the HTTP
 * server's /healthz and /readyz, and the build and process facts of the
 * metrics page (xcni_build_info, process_*).
 *
 *   /healthz  200 "ok" whenever the agent's loop answers (it is the loop that
 *             renders it: a loop stuck in a sync answers nothing);
 *   /readyz   200 once the programs and maps are pinned, the hooks attached
 *             and the first generation of cluster state applied; else 503
 *             naming what is missing.
 *
 * Drops of the last minute: every AGENT_DROP_STEP_S the drop counters of
 * xcni_metrics are sampled; the answer is now minus the oldest sample of the
 * window (since the agent started when it is younger than that).
 */
#ifndef XCNID_STATUS_H
#define XCNID_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct agent_status;
struct cs_backend;
struct http;
struct probe_result;

/* The build: its version, git commit, and the map ABI. */

/* The status answer as one JSON line (the caller's to free; NULL: out of memory): the
 * socket's, and the flows relay's request=status (xcnictl status --kubeconfig). */
char *status_text(struct agent_status *s);
/* The status socket for pin_dir (made and listened on now). 0 or -errno (logged). */
int status_open(const char *pin_dir, const char *node, struct agent_status **out);
/* /healthz and /readyz on h (NULL: none). 0 or -errno. */
int status_route(struct agent_status *s, struct http *h);
/* One fd for poll(2) (POLLIN): a client, or a sample due. -1 for NULL. */
int status_fd(const struct agent_status *s);
void status_dispatch(struct agent_status *s);
void status_free(struct agent_status *s);

/* What the agent learnt, for the answers. The pointers must outlive s. */
void status_set_probe(struct agent_status *s, const struct probe_result *pr, bool sock_lb_wanted);
void status_set_cluster(struct agent_status *s, const char *source, struct cs_backend *b);
void status_set_flows(struct agent_status *s, bool on, size_t window, const char *ipfix);
struct http;
/* The HTTP servers (NULL: none) whose refusals at accept status reports ("listeners"). */
void status_set_listeners(struct agent_status *s, const struct http *hs, const struct http *flows);
struct svcsync;
/* The Service map writer: the namespaces it closed for room in the answer and the metrics. */
void status_set_services(const struct svcsync *ss);
/*
 * The namespaces closed for DNS-pattern room (fqdn_sync: xcni_fqdn_pat could
 * not hold every pod's patterns, they brought the most): n of them, each
 * with the pairs not written; copied. The status answer ("fqdn_closed") and
 * xcni_fqdn_pairs_closed.
 */
void status_set_fqdn_closed(const char *const *ns, const size_t *pairs, size_t n);
/* Attached and pinned (readiness's first two conditions). */
void status_set_attached(struct agent_status *s);
/* A sync of cluster state into the maps: ok or not, its generation. */
void status_synced(struct agent_status *s, bool ok, uint64_t gen);
/* The policy compiler's whole compiles so far and why the last one ran (static
 * text or NULL): xcnictl status's Cluster line, xcni_policy_whole_compiles_total. */
void status_policy(struct agent_status *s, size_t whole, const char *why);

/*
 * The Service externalIPs refused (lib/services/svc.h, svc_ext_refused and
 * the frontends another Service keeps): n of them, the first nmsg (at most
 * STATUS_SVC_REFUSED_MAX) in words; copied. For the status answer
 * ("services") and xcni_svc_external_ips_refused.
 */
#define STATUS_SVC_REFUSED_MAX 32
void status_set_svc_refused(size_t n, const char *const *msg, size_t nmsg);
/*
 * The Services refused whole for a size bound (svc_incr_refusals): cleared,
 * then one at a time, its namespace, the bound's word and its words (the
 * first STATUS_SVC_REFUSED_MAX kept); copied. For the status answer
 * ("services"."bounded") and xcni_services_refused{namespace,reason}.
 */
void status_svc_bounded_clear(void);
void status_svc_bounded_add(const char *ns, const char *reason, const char *msg);

/* The Prometheus lines xcni_build_info, process_* and the agent's own counts onto f. */
void status_metrics_render(FILE *f);
/* This process's resident memory in bytes (/proc/self/statm), or 0. */
unsigned long long status_self_rss(void);

#endif
