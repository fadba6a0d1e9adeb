/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service map behind xcnid --ui and xcnictl lab ui: flow records folded
 * into a graph of namespaces, pods, Services and the outside as nodes, and
 * who-talked-to-whom as edges with their counts by verdict, the decisions
 * behind them (the policy and rule, or what isolated the pod) and their most
 * recent flows, rendered as one JSON object the page draws.
 *
 * One connection seen by two nodes (the sender's and the receiver's records
 * of a cross-node flow) is one flow here: records with the same 5-tuple merge,
 * the more severe verdict winning (denied over audit over allowed over
 * forwarded: a node that sent it into the overlay did not judge it), so the
 * node that decided is the one the edge shows. A flow translated for a
 * Service makes two edges: client -> Service -> the backend pod.
 *
 * Pure: the agent feeds it its window's records, xcnictl the records of every
 * lab node's agent; both get the same JSON. Bounded: past FG_MAX_FLOWS flows
 * and FG_MAX_EDGES edges the rest is counted, not kept.
 */
#ifndef XCNI_FLOWGRAPH_H
#define XCNI_FLOWGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/observe/flows.h"

#define FG_MAX_FLOWS (1u << 20)
#define FG_MAX_EDGES 4096
#define FG_EDGE_RECENT 12 /* flows listed per edge, the most recently seen */
#define FG_EDGE_WHY 8 /* distinct decisions listed per edge */
#define FG_RECENT 200 /* flows listed for the whole graph (the page's flow table) */

/* One end of a flow, as a record names it (the strings are copied). */
struct fg_end {
	const char *kind; /* "pod", "world", "host", "remote-node", "unmanaged" */
	const char *ns, *pod; /* NULL: not known */
	const char *labels; /* the identity's label set ("k8s:app=web,..."); NULL: not known */
	const char *ip;
	uint16_t port;
};

struct fg_flow {
	const char *node; /* the node whose record it is */
	const char *family; /* "ipv4", "ipv6" */
	const char *proto; /* "TCP", "UDP", ... */
	struct fg_end src, dst; /* dst: the backend when translated */
	const char *service; /* "ns/name:port"; NULL: not translated */
	/* A NodePort flow a node SNATed: its outside client, "addr:port" (src
	 * is then that node's address, the translated source); NULL: none. */
	const char *client;
	int verdict; /* enum flow_verdict */
	const char *side; /* "ingress", "egress"; NULL: none decided */
	const char *policy; /* "ns/name" that allowed, denied or audited it; NULL none */
	int rule; /* -1: none */
	const char *reason; /* the drop reason's name; NULL none */
	/* Denied for isolation: the policies that isolate the pod ("x/p, x/q"). */
	const char *isolators;
	/* And their allow rules whose port took it but whose peer did not (the
	 * record's near_misses: lib/policy/nearmiss.h's sentences); NULL: none. */
	const char *near_misses;
	uint64_t pkts, bytes, reply_pkts, reply_bytes;
	double last_seen; /* seconds since the epoch */
	const char *point; /* the observation point of the verdict ("to-pod" ...); NULL: none said */
	/* Set by the merge (fg_add's copies): the node whose record decided, and
	 * every node's counts, "n1 3/3 packets, n2 3/3 packets". */
	const char *decider, *counts;
};

struct fgraph;

/* 0 or -ENOMEM. */
int fg_new(struct fgraph **out);
void fg_free(struct fgraph *g);
/* One record, merged with an earlier one of the same 5-tuple. 0, -ENOMEM, -E2BIG (counted). */
int fg_add(struct fgraph *g, const struct fg_flow *f);
/*
 * The graph as one JSON object and a newline:
 *   {"nodes":[{"id","kind","label","namespace","labels"}...],
 *    "edges":[{"id","from","to","verdict","flows","allowed","denied","audit",
 *              "packets","bytes","why":[{"verdict","text","policies":[..],"flows"}],
 *              "recent":[{...one flow...}]}...],
 *    "recent":[{...one flow..., "edges":[the ids of its one or two edges]}...],
 *    "flows":N,"dropped":N, ...extra}
 * A pod's "labels" are its identity's (the first record that named them), so
 * the page can draw the pods of one workload as one card; null when unknown.
 * The top-level "recent" is the FG_RECENT most recently seen flows, newest
 * first: the page's flow table.
 * extra: more members, ",\"name\":value..." (NULL: none). 0 or b->err.
 */
int fg_render(struct fgraph *g, const char *extra, struct fbuf *b);
/* A string as a JSON string literal; <, > and & as \u escapes (safe inside HTML). */
static inline void fg_json_str(struct fbuf *b, const char *s)
{
	flows_fbuf_json_esc(b, NULL, s, true);
}
/* A member: key (",\"name\":") and s as fg_json_str writes it. */
static inline void fg_kstr(struct fbuf *b, const char *key, const char *s)
{
	flows_fbuf_json_esc(b, key, s, true);
}

/*
 * What isolates the pod at ip (a local pod of the node whose maps these are)
 * for ingress or egress: its policies' names from xcni_polsel and
 * xcni_polname, "ns/a, ns/b", into buf (IPv6: through its policy key,
 * polsync_key6). Returns how many there are (0: none known). In
 * flowgraph_maps.c, the one part that reads maps.
 */
struct polkey6_maps;
unsigned int fg_isolators(int polsel_fd, int polname_fd, const struct polkey6_maps *k6,
			  const char *ip, bool ingress, char *buf, size_t len);

/* An http_render_fn (lib/system/http.h) answering the service map's page, web/ui.html
 * as it was at build time (fgpage.c): what xcnid --ui and xcnictl lab ui serve. */
struct http_args;
int fg_render_page(void *ctx, const struct http_args *a, char **body, size_t *len);

#endif
