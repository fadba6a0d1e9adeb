/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnid's flow records inside (flows.h is the agent's interface): the state
 * flows.c (conntrack walks, events, the log, IPFIX, the agent's side) and
 * flows_serve.c (the Unix socket and the HTTPS listener) share. Not an
 * interface.
 */
#ifndef XCNID_FLOWD_H
#define XCNID_FLOWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "xcni_shared.h"
#include "lib/observe/flows.h"
#include "agent/flows.h"
#include "lib/policy/nearmiss.h"
#include "lib/policy/polsync.h"
#include "lib/system/hmap.h"

#define FLOWD_REQ_MAX 4096
/* An answer larger than this is cut (the client says so): 16k records are ~15 MB. */
#define FLOWD_ANSWER_MAX (256u << 20)
/* Ends of evicted records waiting for a TCP collector: ~0.5 MB at most. */
#define FLOWD_IPFIX_ENDS_MAX 1024
/* The drop records' near-miss walks: at most 50 ms of the loop a second (5 % of
 * a CPU; a walk is ~12 ms at 10,000 pods, docs/security.md). */
#define FLOWD_NM_BUDGET_NS (50ull * 1000 * 1000)
/*
 * Peers named within the current tick, by address (a power of two): naming
 * one takes two or three map lookups, a system call each, and the records of
 * a busy pair of pods are many where their peers are two. A tick's names are
 * at most a second old when a record gets them.
 */
#define PEER_CACHE 256

enum { TAG_TIMER, TAG_RING, TAG_LOCAL, TAG_EVFAN, TAG_TLS };

/* A namespace's part of the flow log (flows.c, log_rotate). */
struct log_owner {
	char *ns;
	uint64_t total; /* bytes in the kept files */
	uint64_t carried; /* lines carried into a new file at a rotation */
	uint64_t refused; /* lines not written: the carried left no room */
};
/* Where each line of a kept file is, and whose. */
struct log_line {
	uint64_t off;
	uint32_t len;
	bool carry; /* log_rotate's: kept at this rotation */
	struct log_owner *o;
};
struct log_index {
	struct log_line *l;
	size_t n, cap;
};

struct flowd {
	struct flows *fl;
	char pin_dir[256], node[64], sock[108];
	int epfd, tfd;
	struct ring_buffer *rb;
	int ct_fd, ct6_fd, podname_fd, identity_fd, ipcache_fd, ipcache6_fd, polname_fd,
		svcname_fd, rulename_fd, sockflow_fd, sockflow6_fd, snat6_fd, metrics_fd,
		ctstat_fd, polsel_fd, fqdn_fd, fqdn_pat_fd;
	struct polkey6_maps k6;
	/* What the previous walk saw, so that a walk costs what changed since. */
	struct ct_seen {
		bool valid; /* a walk read every live entry since the agent started */
		uint64_t packets; /* xcni_metrics' packets, summed: the programs ran */
		struct xcni_ctstat st; /* created, deleted */
		uint64_t evicted; /* created - deleted - present at that walk */
		uint64_t since_ns; /* entries stamped before it are as that walk read them */
		uint64_t all_read_ns; /* when a walk last read them all */
		uint64_t walk_ns; /* when the last walk began */
		uint64_t present; /* the entries it read (flows_ct_walk_due) */
		uint64_t copy_ns; /* the agent's CPU time in its map reads (flows_ct_walk_due) */
		bool all_next; /* the next walk reads them all (an eviction was seen) */
	} seen;
	struct xcni_metric *mvals; /* XCNI_NR_METRICS x CPUs */
	__u32 *mkeys;
	int ncpus;
	unsigned int ticks;
	/* The flow log. */
	char log_path[512];
	int log_fd;
	uint64_t log_max, log_bytes;
	unsigned int log_files, log_interval;
	uint64_t log_lines[FLOWD_LOG_FILES_MAX]; /* [0] the file written, [i] path.i */
	uint64_t log_written, log_rotated_out, log_errors, log_rotations;
	/* The log's shares (log_rotate): each namespace's part of the kept
	 * files, by the namespace (struct log_owner), how many hold any of it,
	 * and each kept file's lines ([0] the file written, [i] path.i). */
	struct hmap log_owners;
	size_t log_holding;
	struct log_index log_idx[FLOWD_LOG_FILES_MAX];
	uint64_t log_carried, log_refused;
	struct fbuf line;
	struct ipfix *ipx; /* --ipfix: NULL none */
	bool ipfix_all; /* --ipfix-all-nodes */
	uint64_t ipfix_active_ns, ipfix_idle_ns;
	uint64_t ipfix_skipped; /* records another node exports (ipfix_ours) */
	/* Records pushed out of the window whose IPFIX end a TCP collector could
	 * not take yet (flows_keep): sent first on the next ticks, oldest first;
	 * at most FLOWD_IPFIX_ENDS_MAX, a ring. Lost past it, or at the end. */
	struct flow_rec *ends[FLOWD_IPFIX_ENDS_MAX];
	unsigned int ends_head, nends;
	uint64_t ipfix_evicted_lost; /* evicted records whose end never reached the collector */
	struct evfan *fan; /* monitor's subscribers to the ring this reads */
	struct http *local; /* the Unix socket d->sock: xcnictl flows, the lab, status */
	/* The agent's own status (request=status), as status_text (given, so this
	 * room needs no arrow to status.c); NULL: none. */
	struct agent_status *status;
	char *(*status_text)(struct agent_status *s);
	struct http *tls; /* --flows-listen: the same queries over HTTPS, clients with certificates */
	char *pem[3]; /* its tls.crt, tls.key, ca.crt, kept while it runs */
	struct peer_slot {
		uint32_t gen; /* named in tick gen; 0: never */
		uint8_t family, addr[16];
		struct flow_peer p; /* holds its strings */
	} peers[PEER_CACHE];
	uint32_t peer_gen; /* the tick's, from 1 */
	/* Entries created before this (ktime) have no socket LB record to ask
	 * for: both xcni_sock_flow maps were empty then. 0: ask for each. */
	uint64_t sock_none_before;
	/* flowd_set_store's, and the drop records' near misses: the last answer
	 * (a burst of one pair's flows costs one walk) and the walks' time
	 * bounded a second (FLOWD_NM_BUDGET_NS). */
	struct store *st;
	struct pol_nm_budget nm;
};

/* flows_serve.c */
/*
 * A drop by isolation at pod self_ns/self_pod (in: ingress, from the other
 * pod; else egress, to it; other_pod NULL: no pod), proto/port host order:
 * the allow rules of the isolating policies whose port took the flow but
 * whose peer did not (pol_nm_near_misses over this agent's store), "; "-joined
 * into buf ("" when none). 0 or -errno.
 */
int flowd_near_misses(struct flowd *d, const char *self_ns, const char *self_pod,
		      const char *other_ns, const char *other_pod, bool in, uint8_t proto,
		      uint16_t port, char *buf, size_t len);
/* The times and the trailer's counts (extra, len: NULL, 0 for none) of an answer. */
void flowd_render_ctx(const struct flowd *d, struct flow_render_ctx *rc, char *extra,
		      size_t len);
/* The Unix socket (d->sock): its server and route, in the agent's epoll set. 0 or -errno. */
int flowd_listen_unix(struct flowd *d);
/* --flows-listen: the same queries over HTTPS from clients with certificates; 0 or -errno. */
int flowd_listen_tls(struct flowd *d, const struct flowd_opts *o);

#endif
