// SPDX-License-Identifier: Apache-2.0
/*
 * The service map's graph (flowgraph.h): records deduplicated by 5-tuple in
 * one hash, then folded into nodes and edges when rendered. Nodes and edges
 * are sorted by id, so the same flows always give the same JSON (and the page
 * the same layout).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/observe/flowgraph.h"
#include "lib/system/hmap.h"
#include "lib/system/util.h"

struct fgf {
	char *key;
	struct fg_flow f; /* its strings owned */
};

struct fgraph {
	struct hmap idx; /* the flows by key */
	struct fgf **all;
	size_t n, cap;
	uint64_t dropped; /* flows past FG_MAX_FLOWS */
};

int fg_new(struct fgraph **out)
{
	*out = calloc(1, sizeof(**out));
	if (*out && hmap_init(&(*out)->idx, true, 1024)) {
		free(*out);
		*out = NULL;
	}
	return *out ? 0 : -ENOMEM;
}

static void end_free(struct fg_end *e)
{
	free((char *)e->kind);
	free((char *)e->ns);
	free((char *)e->pod);
	free((char *)e->labels);
	free((char *)e->ip);
}

static void flow_free(struct fg_flow *f)
{
	end_free(&f->src);
	end_free(&f->dst);
	free((char *)f->node);
	free((char *)f->family);
	free((char *)f->proto);
	free((char *)f->service);
	free((char *)f->client);
	free((char *)f->side);
	free((char *)f->policy);
	free((char *)f->reason);
	free((char *)f->isolators);
	free((char *)f->near_misses);
	free((char *)f->point);
	free((char *)f->decider);
	free((char *)f->counts);
}

void fg_free(struct fgraph *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++) {
		flow_free(&g->all[i]->f);
		free(g->all[i]->key);
		free(g->all[i]);
	}
	free(g->all);
	hmap_free(&g->idx);
	free(g);
}

/* *slot = a copy of s (NULL stays NULL); false when out of memory. */
static bool sdup(const char **slot, const char *s)
{
	char *c = NULL;

	if (s && !(c = strdup(s)))
		return false;
	free((char *)*slot);
	*slot = c;
	return true;
}

static bool end_copy(struct fg_end *d, const struct fg_end *s)
{
	d->port = s->port;
	return sdup(&d->kind, s->kind ?: "world") && sdup(&d->ns, s->ns) && sdup(&d->pod, s->pod) &&
	       sdup(&d->labels, s->labels) && sdup(&d->ip, s->ip ?: "?");
}

/*
 * Severity: forwarded (not judged) < allowed (refused, timeout: passed the
 * policy, nothing listens or answers) < audit < denied (no-backend: dropped too).
 */
static int severity(int verdict)
{
	return flow_verdict_dropped(verdict) ? 3 : verdict == FLOW_AUDIT ? 2 :
	       verdict == FLOW_FORWARDED ? 0 : 1;
}

static bool decision_copy(struct fg_flow *d, const struct fg_flow *s)
{
	d->verdict = s->verdict;
	d->rule = s->rule;
	return sdup(&d->side, s->side) && sdup(&d->policy, s->policy) && sdup(&d->reason, s->reason) &&
	       sdup(&d->isolators, s->isolators) && sdup(&d->near_misses, s->near_misses) &&
	       sdup(&d->point, s->point) &&
	       sdup(&d->decider, s->node);
}

/* One node's counts, appended to *counts ("n1 3/3 packets"). */
static bool counts_add(const char **counts, const struct fg_flow *s)
{
	char *c;

	if (asprintf(&c, "%s%s%s %llu/%llu packets", *counts ?: "", *counts ? ", " : "",
		     s->node ?: "?", (unsigned long long)s->pkts,
		     (unsigned long long)s->reply_pkts) < 0)
		return false;
	free((char *)*counts);
	*counts = c;
	return true;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* Another node's record of the same connection. */
static int merge(struct fg_flow *d, const struct fg_flow *s)
{
	char *nodes;

	if (severity(s->verdict) > severity(d->verdict) ||
	    (s->verdict == d->verdict && !d->policy && s->policy)) {
		if (!decision_copy(d, s))
			return -ENOMEM;
	}
	if (!counts_add(&d->counts, s))
		return -ENOMEM;
	if ((!d->service && s->service && !sdup(&d->service, s->service)) ||
	    (!d->client && s->client && !sdup(&d->client, s->client)))
		return -ENOMEM;
	if (s->node && (!d->node || !strstr(d->node, s->node))) {
		if (asprintf(&nodes, "%s%s%s", d->node ?: "", d->node ? "," : "", s->node) < 0)
			return -ENOMEM;
		free((char *)d->node);
		d->node = nodes;
	}
	/* The ends as the node that knows them names them (a pod's own node knows its name). */
	if (!d->src.pod && s->src.pod && !end_copy(&d->src, &s->src))
		return -ENOMEM;
	if (!d->dst.pod && s->dst.pod && !end_copy(&d->dst, &s->dst))
		return -ENOMEM;
	if ((!d->src.labels && s->src.labels && !sdup(&d->src.labels, s->src.labels)) ||
	    (!d->dst.labels && s->dst.labels && !sdup(&d->dst.labels, s->dst.labels)))
		return -ENOMEM;
	d->pkts = max64(d->pkts, s->pkts);
	d->bytes = max64(d->bytes, s->bytes);
	d->reply_pkts = max64(d->reply_pkts, s->reply_pkts);
	d->reply_bytes = max64(d->reply_bytes, s->reply_bytes);
	if (s->last_seen > d->last_seen)
		d->last_seen = s->last_seen;
	return 0;
}

int fg_add(struct fgraph *g, const struct fg_flow *f)
{
	struct fgf *e;
	uint64_t h;
	char *key;

	if (asprintf(&key, "%s|%s|%s|%u|%s|%u", f->family ?: "", f->proto ?: "", f->src.ip ?: "",
		     f->src.port, f->dst.ip ?: "", f->dst.port) < 0)
		return -ENOMEM;
	h = hstr(key);
	if ((e = hmap_get(&g->idx, h, (uintptr_t)key))) {
		free(key);
		return merge(&e->f, f);
	}
	if (g->n >= FG_MAX_FLOWS) {
		free(key);
		g->dropped++;
		return -E2BIG;
	}
	if (XCNI_GROW(g->all, g->n, g->cap))
		goto nomem;
	e = calloc(1, sizeof(*e));
	if (!e)
		goto nomem;
	e->key = key;
	e->f.verdict = f->verdict;
	e->f.rule = f->rule;
	e->f.src.port = f->src.port;
	e->f.pkts = f->pkts;
	e->f.bytes = f->bytes;
	e->f.reply_pkts = f->reply_pkts;
	e->f.reply_bytes = f->reply_bytes;
	e->f.last_seen = f->last_seen;
	if (!end_copy(&e->f.src, &f->src) || !end_copy(&e->f.dst, &f->dst) ||
	    !sdup(&e->f.node, f->node) || !sdup(&e->f.family, f->family) ||
	    !sdup(&e->f.proto, f->proto) || !sdup(&e->f.service, f->service) ||
	    !sdup(&e->f.client, f->client) ||
	    !decision_copy(&e->f, f) || !counts_add(&e->f.counts, f) ||
	    hmap_put(&g->idx, h, (uintptr_t)key, e)) {
		flow_free(&e->f);
		free(e);
		goto nomem;
	}
	g->all[g->n++] = e;
	return 0;
nomem:
	free(key);
	return -ENOMEM;
}

/* ---- rendering ---------------------------------------------------------------- */

struct node {
	char *id, *kind, *label, *ns;
	char *labels; /* a pod's identity labels, NULL: none known */
};

struct why {
	int verdict;
	char *text, *policies; /* policies: a JSON array's members */
	uint64_t flows;
};

struct edge {
	char *id;
	const struct node *from, *to;
	uint64_t counts[FLOW_NR_VERDICTS], pkts, bytes; /* flows by fate (flow_verdict_name) */
	struct why why[FG_EDGE_WHY];
	unsigned int nwhy;
	uint64_t why_more;
	const struct fg_flow *recent[FG_EDGE_RECENT]; /* most recent first */
	unsigned int nrecent;
};

struct fold {
	struct hmap nb, eb; /* the nodes and edges by id */
	struct node **nodes;
	size_t nn, ncap;
	struct edge **edges;
	size_t ne, ecap;
	/* The graph's most recent flows (newest first) and the edges each made. */
	const struct fg_flow *recent[FG_RECENT];
	const struct edge *recent_edges[FG_RECENT][2];
	unsigned int nrecent;
	uint64_t edges_dropped;
	int err;
};

/* The node id, made with its kind, label and namespace when new; NULL: out of memory. */
static struct node *node_get(struct fold *fo, const char *id, const char *kind, const char *label,
			     const char *ns)
{
	uint64_t h = hstr(id);
	struct node *n = hmap_get(&fo->nb, h, (uintptr_t)id);

	if (n)
		return n;
	if (XCNI_GROW(fo->nodes, fo->nn, fo->ncap) || !(n = calloc(1, sizeof(*n))))
		return NULL;
	n->id = strdup(id);
	n->kind = strdup(kind);
	n->label = strdup(label);
	n->ns = ns ? strdup(ns) : NULL;
	if (!n->id || !n->kind || !n->label || (ns && !n->ns) ||
	    hmap_put(&fo->nb, h, (uintptr_t)n->id, n)) {
		free(n->id);
		free(n->kind);
		free(n->label);
		free(n->ns);
		free(n);
		return NULL;
	}
	fo->nodes[fo->nn++] = n;
	return n;
}

static struct node *ns_node(struct fold *fo, const char *ns)
{
	char id[300];

	snprintf(id, sizeof(id), "ns:%s", ns);
	return node_get(fo, id, "namespace", ns, NULL);
}

/* A flow's end as a node: a pod by namespace and name, else by address; the outside by kind. */
static struct node *end_node(struct fold *fo, const struct fg_end *e)
{
	struct node *n;
	char id[400];

	if (strcmp(e->kind, "pod"))
		return node_get(fo, e->kind, e->kind, e->kind, NULL);
	if (e->ns && !ns_node(fo, e->ns))
		return NULL;
	snprintf(id, sizeof(id), "pod:%s%s%s", e->ns ?: "", e->ns ? "/" : "", e->pod ?: e->ip);
	n = node_get(fo, id, "pod", e->pod ?: e->ip, e->ns);
	if (n && !n->labels && e->labels && !(n->labels = strdup(e->labels)))
		return NULL;
	return n;
}

/* "ns/name:port" -> the Service's node (its port is the flow's, not the node's). */
static struct node *svc_node(struct fold *fo, const char *svc)
{
	char id[400], ns[128], name[200];
	const char *slash = strchr(svc, '/');
	size_t nl;

	if (!slash || (size_t)(slash - svc) >= sizeof(ns)) {
		snprintf(id, sizeof(id), "svc:%s", svc);
		return node_get(fo, id, "service", svc, NULL);
	}
	memcpy(ns, svc, (size_t)(slash - svc));
	ns[slash - svc] = '\0';
	nl = strcspn(slash + 1, ":");
	snprintf(name, sizeof(name), "%.*s", (int)nl, slash + 1);
	if (!ns_node(fo, ns))
		return NULL;
	snprintf(id, sizeof(id), "svc:%s/%s", ns, name);
	return node_get(fo, id, "service", name, ns);
}

static void end_name(const struct fg_end *e, char *buf, size_t len)
{
	if (e->pod)
		snprintf(buf, len, "%s/%s", e->ns ?: "?", e->pod);
	else
		snprintf(buf, len, "%s", strcmp(e->kind, "pod") ? e->kind : e->ip);
}

/* What decided f, in words as xcnictl explain puts them, and the policies it names. */
static int decision(const struct fg_flow *f, char **text, char **policies)
{
	char who[400], rule[32] = "", side[32] = "";
	struct fbuf pb = {};
	int n;

	if (f->rule >= 0)
		snprintf(rule, sizeof(rule), " rule %d", f->rule);
	if (f->side)
		snprintf(side, sizeof(side), " (%s)", f->side);
	if (f->verdict == FLOW_DENIED && f->policy)
		n = asprintf(text, "denied by %s%s%s%s%s", f->policy, rule, side,
			     f->reason ? ": " : "", f->reason ?: "");
	else if (f->verdict == FLOW_DENIED && f->isolators) {
		bool in = f->side && !strcmp(f->side, "ingress");

		end_name(in ? &f->dst : &f->src, who, sizeof(who));
		n = asprintf(text, "denied (%s): %s is isolated for %s, nothing allows; %s %s it%s%s",
			     f->reason ?: "policy", who, f->side ?: "?", f->isolators,
			     strchr(f->isolators, ',') ? "isolate" : "isolates",
			     f->near_misses ? "; near miss: " : "", f->near_misses ?: "");
	} else if (f->verdict == FLOW_DENIED)
		n = asprintf(text, "denied (%s)%s", f->reason ?: "policy", side);
	else if (f->verdict == FLOW_DROPPED)
		n = asprintf(text, "dropped (%s)%s: no policy's doing", f->reason ?: "?", side);
	else if (f->verdict == FLOW_NO_BACKEND)
		n = asprintf(text, "no-backend: Service backend not found (%s), refused to the client",
			     f->reason ?: "drop-no-backend");
	else if (f->verdict == FLOW_REFUSED || f->verdict == FLOW_TIMEOUT)
		n = asprintf(text, "%s%s%s%s%s",
			     f->verdict == FLOW_REFUSED ?
				     "refused: the destination answered RST, nothing listens" :
				     "timeout: nothing answered the SYN, no drop seen",
			     f->policy ? " (allowed by " : "", f->policy ?: "", f->policy ? rule : "",
			     f->policy ? ")" : "");
	else if (f->verdict == FLOW_AUDIT)
		n = asprintf(text, "audit: %s%s would deny it%s; passed (audit mode)",
			     f->policy ?: "a policy", rule, side);
	else if (f->verdict == FLOW_FORWARDED)
		n = asprintf(text, "forwarded into the overlay%s%s, not judged by the destination's "
				   "node (its record missing)", f->policy ? " after egress " : "",
			     f->policy ?: "");
	else if (f->policy)
		n = asprintf(text, "allowed by %s%s%s", f->policy, rule, side);
	else
		n = asprintf(text, "allowed: no policy isolates either end");
	if (n < 0)
		return -ENOMEM;
	/* The policies named: the deciding one, or those that isolate. */
	if (f->policy) {
		fg_json_str(&pb, f->policy);
	} else if (f->verdict == FLOW_DENIED && f->isolators) {
		const char *p = f->isolators;

		while (*p) {
			size_t l = strcspn(p, ",");
			char one[400];

			snprintf(one, sizeof(one), "%.*s", (int)l, p);
			fg_kstr(&pb, pb.len ? "," : "", one);
			p += l;
			p += strspn(p, ", ");
		}
	}
	if (pb.err) {
		flows_fbuf_free(&pb);
		free(*text);
		return pb.err;
	}
	*policies = pb.p ? pb.p : strdup("");
	return *policies ? 0 : -ENOMEM;
}

static void why_add(struct edge *e, const struct fg_flow *f, struct fold *fo)
{
	char *text, *pol;

	if (decision(f, &text, &pol)) {
		fo->err = -ENOMEM;
		return;
	}
	for (unsigned int i = 0; i < e->nwhy; i++)
		if (e->why[i].verdict == f->verdict && !strcmp(e->why[i].text, text)) {
			e->why[i].flows++;
			free(text);
			free(pol);
			return;
		}
	if (e->nwhy == FG_EDGE_WHY) {
		e->why_more++;
		free(text);
		free(pol);
		return;
	}
	e->why[e->nwhy++] = (struct why){ .verdict = f->verdict, .text = text, .policies = pol,
					  .flows = 1 };
}

static void recent_add(struct edge *e, const struct fg_flow *f)
{
	unsigned int i = e->nrecent < FG_EDGE_RECENT ? e->nrecent++ : FG_EDGE_RECENT;

	/* Insertion by last_seen, most recent first; the oldest falls off the end. */
	while (i > 0 && e->recent[i - 1]->last_seen < f->last_seen) {
		if (i < FG_EDGE_RECENT)
			e->recent[i] = e->recent[i - 1];
		i--;
	}
	if (i < FG_EDGE_RECENT)
		e->recent[i] = f;
}

/* The edge from -> to with f counted in it; NULL when out of memory or past FG_MAX_EDGES. */
static const struct edge *edge_add(struct fold *fo, const struct node *from,
				   const struct node *to, const struct fg_flow *f)
{
	char *id;
	uint64_t h;
	struct edge *e;

	if (!from || !to) {
		fo->err = -ENOMEM;
		return NULL;
	}
	if (asprintf(&id, "%s->%s", from->id, to->id) < 0) {
		fo->err = -ENOMEM;
		return NULL;
	}
	h = hstr(id);
	if ((e = hmap_get(&fo->eb, h, (uintptr_t)id))) {
		free(id);
	} else {
		if (fo->ne >= FG_MAX_EDGES) {
			free(id);
			fo->edges_dropped++;
			return NULL;
		}
		if (XCNI_GROW(fo->edges, fo->ne, fo->ecap) || !(e = calloc(1, sizeof(*e))) ||
		    hmap_put(&fo->eb, h, (uintptr_t)id, e)) {
			free(e);
			free(id);
			fo->err = -ENOMEM;
			return NULL;
		}
		e->id = id;
		e->from = from;
		e->to = to;
		fo->edges[fo->ne++] = e;
	}
	e->counts[f->verdict >= 0 && f->verdict < FLOW_NR_VERDICTS ? f->verdict : FLOW_ALLOWED]++;
	e->pkts += f->pkts + f->reply_pkts;
	e->bytes += f->bytes + f->reply_bytes;
	why_add(e, f, fo);
	recent_add(e, f);
	return e;
}

/* f among the graph's most recent flows, with the edges it made (insertion by last_seen). */
static void graph_recent_add(struct fold *fo, const struct fg_flow *f, const struct edge *a,
			     const struct edge *b)
{
	unsigned int i = fo->nrecent < FG_RECENT ? fo->nrecent++ : FG_RECENT;

	while (i > 0 && fo->recent[i - 1]->last_seen < f->last_seen) {
		if (i < FG_RECENT) {
			fo->recent[i] = fo->recent[i - 1];
			memcpy(fo->recent_edges[i], fo->recent_edges[i - 1], sizeof(fo->recent_edges[i]));
		}
		i--;
	}
	if (i < FG_RECENT) {
		fo->recent[i] = f;
		fo->recent_edges[i][0] = a;
		fo->recent_edges[i][1] = b;
	}
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp((*(struct node *const *)a)->id, (*(struct node *const *)b)->id);
}

static int edge_cmp(const void *a, const void *b)
{
	return strcmp((*(struct edge *const *)a)->id, (*(struct edge *const *)b)->id);
}

static void json_end(struct fbuf *b, const struct fg_end *e)
{
	char name[400];

	end_name(e, name, sizeof(name));
	fg_kstr(b, "{\"name\":", name);
	fg_kstr(b, ",\"ip\":", e->ip);
	flows_fbuf_printf(b, ",\"port\":%u}", e->port);
}

/* One flow; edges (the graph's recent list): the ids of the edges it made, NULL: none said. */
static void json_flow(struct fbuf *b, const struct fg_flow *f, const struct edge *const *edges)
{
	fg_kstr(b, "{\"node\":", f->node);
	fg_kstr(b, ",\"protocol\":", f->proto);
	flows_fbuf_printf(b, ",\"source\":");
	json_end(b, &f->src);
	flows_fbuf_printf(b, ",\"destination\":");
	json_end(b, &f->dst);
	fg_kstr(b, ",\"service\":", f->service);
	fg_kstr(b, ",\"client\":", f->client);
	flows_fbuf_printf(b, ",\"verdict\":\"%s\",\"policy\":", flow_verdict_name(f->verdict));
	fg_json_str(b, f->policy);
	if (f->rule >= 0)
		flows_fbuf_printf(b, ",\"rule\":%d", f->rule);
	else
		flows_fbuf_printf(b, ",\"rule\":null");
	fg_kstr(b, ",\"policy_side\":", f->side);
	fg_kstr(b, ",\"drop_reason\":", f->reason);
	fg_kstr(b, ",\"near_misses\":", f->near_misses);
	fg_kstr(b, ",\"observation_point\":", f->point);
	fg_kstr(b, ",\"decided_by\":", f->decider);
	fg_kstr(b, ",\"counts\":", f->counts);
	flows_fbuf_printf(
		b,
		",\"packets\":%llu,\"bytes\":%llu,\"reply_packets\":%llu,\"reply_bytes\":%llu,"
		"\"last_seen\":%.3f",
		(unsigned long long)f->pkts, (unsigned long long)f->bytes,
		(unsigned long long)f->reply_pkts, (unsigned long long)f->reply_bytes,
		f->last_seen);
	if (edges) {
		flows_fbuf_printf(b, ",\"edges\":[");
		for (int i = 0, n = 0; i < 2; i++)
			if (edges[i])
				fg_kstr(b, n++ ? "," : "", edges[i]->id);
		flows_fbuf_printf(b, "]");
	}
	flows_fbuf_printf(b, "}");
}

static void fold_free(struct fold *fo)
{
	for (size_t i = 0; i < fo->nn; i++) {
		free(fo->nodes[i]->id);
		free(fo->nodes[i]->kind);
		free(fo->nodes[i]->label);
		free(fo->nodes[i]->ns);
		free(fo->nodes[i]->labels);
		free(fo->nodes[i]);
	}
	for (size_t i = 0; i < fo->ne; i++) {
		for (unsigned int w = 0; w < fo->edges[i]->nwhy; w++) {
			free(fo->edges[i]->why[w].text);
			free(fo->edges[i]->why[w].policies);
		}
		free(fo->edges[i]->id);
		free(fo->edges[i]);
	}
	free(fo->nodes);
	free(fo->edges);
	hmap_free(&fo->nb);
	hmap_free(&fo->eb);
	free(fo);
}

int fg_render(struct fgraph *g, const char *extra, struct fbuf *b)
{
	struct fold *fo = calloc(1, sizeof(*fo));
	int err;

	if (!fo || hmap_init(&fo->nb, true, 64) || hmap_init(&fo->eb, true, 64)) {
		if (fo)
			fold_free(fo);
		return -ENOMEM;
	}
	for (size_t i = 0; i < g->n && !fo->err; i++) {
		const struct fg_flow *f = &g->all[i]->f;
		/* A NodePort flow a node SNATed: drawn from its outside client (the
		 * world), not from the node whose address the backend saw. */
		struct node *src = f->client ? end_node(fo, &(struct fg_end){ .kind = "world" }) :
					       end_node(fo, &f->src);
		const struct edge *a, *z = NULL;

		if (f->service) {
			struct node *svc = svc_node(fo, f->service);

			a = edge_add(fo, src, svc, f);
			/* No backend: the connection ends at the Service (no edge on to
			 * its ClusterIP, which would be drawn as the world). */
			if (f->verdict != FLOW_NO_BACKEND)
				z = edge_add(fo, svc, end_node(fo, &f->dst), f);
		} else {
			a = edge_add(fo, src, end_node(fo, &f->dst), f);
		}
		if (a || z)
			graph_recent_add(fo, f, a, z);
	}
	if (fo->err) {
		err = fo->err;
		fold_free(fo);
		return err;
	}
	qsort(fo->nodes, fo->nn, sizeof(*fo->nodes), node_cmp);
	qsort(fo->edges, fo->ne, sizeof(*fo->edges), edge_cmp);
	flows_fbuf_printf(b, "{\"nodes\":[");
	for (size_t i = 0; i < fo->nn; i++) {
		const struct node *n = fo->nodes[i];

		fg_kstr(b, i ? ",{\"id\":" : "{\"id\":", n->id);
		flows_fbuf_printf(b, ",\"kind\":\"%s\",\"label\":", n->kind);
		fg_json_str(b, n->label);
		fg_kstr(b, ",\"namespace\":", n->ns);
		if (!strcmp(n->kind, "pod")) {
			fg_kstr(b, ",\"labels\":", n->labels);
		}
		flows_fbuf_printf(b, "}");
	}
	flows_fbuf_printf(b, "],\"edges\":[");
	for (size_t i = 0; i < fo->ne; i++) {
		const struct edge *e = fo->edges[i];
		/* The edge's fate: its most telling flow's. A policy's denial is what the
		 * user hunts, then another reason it failed; forwarded alone: the node that
		 * judged it is not among those asked. */
		static const int telling[] = { FLOW_DENIED,  FLOW_NO_BACKEND, FLOW_DROPPED,
					       FLOW_REFUSED, FLOW_TIMEOUT,    FLOW_AUDIT,
					       FLOW_ALLOWED, FLOW_FORWARDED };
		uint64_t total = 0;
		int v = FLOW_FORWARDED;

		for (int k = FLOW_NR_VERDICTS - 1; k >= 0; k--) {
			total += e->counts[telling[k]];
			v = e->counts[telling[k]] ? telling[k] : v;
		}

		fg_kstr(b, i ? ",{\"id\":" : "{\"id\":", e->id);
		fg_kstr(b, ",\"from\":", e->from->id);
		fg_kstr(b, ",\"to\":", e->to->id);
		flows_fbuf_printf(b, ",\"verdict\":\"%s\",\"flows\":%llu", flow_verdict_name(v),
		                  (unsigned long long)total);
		for (int k = 0; k < FLOW_NR_VERDICTS; k++)
			flows_fbuf_printf(b, ",\"%s\":%llu", flow_verdict_name(k),
			                  (unsigned long long)e->counts[k]);
		flows_fbuf_printf(b, ",\"packets\":%llu,\"bytes\":%llu,\"why\":[",
		                  (unsigned long long)e->pkts, (unsigned long long)e->bytes);
		for (unsigned int w = 0; w < e->nwhy; w++) {
			flows_fbuf_printf(b, "%s{\"verdict\":\"%s\",\"text\":", w ? "," : "",
			                  flow_verdict_name(e->why[w].verdict));
			fg_json_str(b, e->why[w].text);
			flows_fbuf_printf(b, ",\"policies\":[%s],\"flows\":%llu}",
			                  e->why[w].policies, (unsigned long long)e->why[w].flows);
		}
		flows_fbuf_printf(b, "],\"why_more\":%llu,\"recent\":[",
		                  (unsigned long long)e->why_more);
		for (unsigned int r = 0; r < e->nrecent; r++) {
			flows_fbuf_printf(b, "%s", r ? "," : "");
			json_flow(b, e->recent[r], NULL);
		}
		flows_fbuf_printf(b, "]}");
	}
	flows_fbuf_printf(b, "],\"recent\":[");
	for (unsigned int r = 0; r < fo->nrecent; r++) {
		flows_fbuf_printf(b, "%s", r ? "," : "");
		json_flow(b, fo->recent[r], fo->recent_edges[r]);
	}
	flows_fbuf_printf(b, "],\"flows\":%zu,\"dropped\":%llu,\"edges_dropped\":%llu%s}\n", g->n,
	                  (unsigned long long)g->dropped, (unsigned long long)fo->edges_dropped,
	                  extra ?: "");
	fold_free(fo);
	return b->err;
}
