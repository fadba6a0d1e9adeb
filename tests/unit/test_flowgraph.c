// SPDX-License-Identifier: Apache-2.0
/*
 * The service map's graph (user/lib/observe/flowgraph.c): flows folded into
 * namespace, pod, Service and outside nodes and edges with counts by verdict;
 * the same connection seen by two nodes is one flow whose denial wins; a
 * Service makes client -> Service -> backend; the decisions named as explain
 * says them; names escaped (quotes, backslashes, control characters, HTML);
 * the recent list bounded. The output is parsed back with jansson.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lib/observe/flowgraph.h"

static struct fg_flow pod_flow(const char *sns, const char *spod, const char *sip, uint16_t sport,
			       const char *dns, const char *dpod, const char *dip, uint16_t dport)
{
	return (struct fg_flow){
		.node = "n1", .family = "ipv4", .proto = "UDP",
		.src = { .kind = "pod", .ns = sns, .pod = spod, .ip = sip, .port = sport },
		.dst = { .kind = "pod", .ns = dns, .pod = dpod, .ip = dip, .port = dport },
		.rule = -1, .pkts = 1, .bytes = 100, .last_seen = 1000,
	};
}

static json_t *render(struct fgraph *g)
{
	struct fbuf b = {};
	json_error_t je;
	json_t *o;

	assert_int_equal(fg_render(g, ",\"extra\":1", &b), 0);
	o = json_loadb(b.p, b.len, 0, &je);
	if (!o)
		fail_msg("not JSON (%s): %.*s", je.text, (int)b.len, b.p);
	assert_int_equal(json_integer_value(json_object_get(o, "extra")), 1);
	flows_fbuf_free(&b);
	return o;
}

static json_t *find(json_t *arr, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (!strcmp(json_string_value(json_object_get(v, "id")), id))
			return v;
	return NULL;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void test_nodes_edges(void **state)
{
	struct fgraph *g;
	struct fg_flow f;
	json_t *o, *nodes, *edges, *e;

	(void)state;
	assert_int_equal(fg_new(&g), 0);
	/* b -> a twice (two connections), c -> a denied, a -> world. */
	f = pod_flow("x", "b", "10.0.0.2", 40001, "x", "a", "10.0.0.1", 81);
	f.policy = "x/web";
	f.rule = 0;
	f.side = "ingress";
	assert_int_equal(fg_add(g, &f), 0);
	f.src.port = 40002;
	assert_int_equal(fg_add(g, &f), 0);
	f = pod_flow("y", "c", "10.0.1.3", 40003, "x", "a", "10.0.0.1", 81);
	f.verdict = FLOW_DENIED;
	f.side = "ingress";
	f.reason = "drop-policy-ingress";
	f.isolators = "x/web, x/deny-all";
	assert_int_equal(fg_add(g, &f), 0);
	f = pod_flow("x", "a", "10.0.0.1", 5555, NULL, NULL, "1.1.1.1", 53);
	f.dst.kind = "world";
	assert_int_equal(fg_add(g, &f), 0);

	o = render(g);
	nodes = json_object_get(o, "nodes");
	edges = json_object_get(o, "edges");
	assert_int_equal(num(o, "flows"), 4);
	/* ns:x ns:y pod:x/a pod:x/b pod:y/c world */
	assert_int_equal(json_array_size(nodes), 6);
	assert_string_equal(str(find(nodes, "ns:x"), "kind"), "namespace");
	assert_string_equal(str(find(nodes, "pod:x/a"), "namespace"), "x");
	assert_string_equal(str(find(nodes, "pod:y/c"), "label"), "c");
	assert_string_equal(str(find(nodes, "world"), "kind"), "world");
	assert_int_equal(json_array_size(edges), 3);
	e = find(edges, "pod:x/b->pod:x/a");
	assert_non_null(e);
	assert_string_equal(str(e, "verdict"), "allowed");
	assert_int_equal(num(e, "flows"), 2);
	assert_int_equal(num(e, "allowed"), 2);
	assert_int_equal(num(e, "bytes"), 200);
	assert_int_equal(json_array_size(json_object_get(e, "why")), 1);
	assert_string_equal(str(json_array_get(json_object_get(e, "why"), 0), "text"),
			    "allowed by x/web rule 0 (ingress)");
	assert_int_equal(num(json_array_get(json_object_get(e, "why"), 0), "flows"), 2);
	e = find(edges, "pod:y/c->pod:x/a");
	assert_string_equal(str(e, "verdict"), "denied");
	assert_int_equal(num(e, "denied"), 1);
	assert_string_equal(str(json_array_get(json_object_get(e, "why"), 0), "text"),
			    "denied (drop-policy-ingress): x/a is isolated for ingress, nothing "
			    "allows; x/web, x/deny-all isolate it");
	/* The isolating policies, one by one. */
	assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(e, "why"), 0),
							 "policies")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_array_get(
				    json_object_get(e, "why"), 0), "policies"), 1)), "x/deny-all");
	assert_non_null(find(edges, "pod:x/a->world"));
	json_decref(o);
	fg_free(g);
}

/* n2's record (allowed out) and n1's (denied in) of one connection: one flow, denied. */
static void test_merge_two_nodes(void **state)
{
	struct fgraph *g;
	struct fg_flow f;
	json_t *o, *e, *r;

	(void)state;
	assert_int_equal(fg_new(&g), 0);
	f = pod_flow("x", "c", "10.0.1.3", 40002, "x", "a", "10.0.0.1", 81);
	f.node = "n2";
	f.pkts = 3;
	assert_int_equal(fg_add(g, &f), 0);
	f.node = "n1";
	f.verdict = FLOW_DENIED;
	f.reason = "drop-policy-ingress";
	f.side = "ingress";
	f.isolators = "x/web";
	f.pkts = 2;
	f.last_seen = 1001;
	assert_int_equal(fg_add(g, &f), 0);
	/* n2 again, allowed: the denial stays. */
	f.node = "n2";
	f.verdict = FLOW_ALLOWED;
	f.reason = f.side = f.isolators = NULL;
	assert_int_equal(fg_add(g, &f), 0);
	o = render(g);
	assert_int_equal(num(o, "flows"), 1);
	e = find(json_object_get(o, "edges"), "pod:x/c->pod:x/a");
	assert_string_equal(str(e, "verdict"), "denied");
	assert_int_equal(num(e, "flows"), 1);
	r = json_array_get(json_object_get(e, "recent"), 0);
	assert_string_equal(str(r, "node"), "n2,n1");
	assert_int_equal(num(r, "packets"), 3);
	assert_string_equal(str(r, "drop_reason"), "drop-policy-ingress");
	assert_string_equal(
		json_string_value(json_array_get(
			json_object_get(json_array_get(json_object_get(e, "why"), 0), "policies"), 0)),
		"x/web");
	json_decref(o);
	fg_free(g);
}

/* Through a Service: client -> Service node -> backend pod, both edges carry it. */
static void test_service(void **state)
{
	struct fgraph *g;
	struct fg_flow f;
	json_t *o, *nodes, *edges;

	(void)state;
	assert_int_equal(fg_new(&g), 0);
	f = pod_flow("x", "a", "10.0.0.1", 40000, "y", "b", "10.0.1.2", 80);
	f.service = "y/web:8080";
	f.verdict = FLOW_AUDIT;
	f.policy = "y/strict";
	f.rule = 2;
	f.side = "ingress";
	assert_int_equal(fg_add(g, &f), 0);
	o = render(g);
	nodes = json_object_get(o, "nodes");
	edges = json_object_get(o, "edges");
	assert_string_equal(str(find(nodes, "svc:y/web"), "kind"), "service");
	assert_string_equal(str(find(nodes, "svc:y/web"), "label"), "web");
	assert_string_equal(str(find(nodes, "svc:y/web"), "namespace"), "y");
	assert_int_equal(json_array_size(edges), 2);
	assert_string_equal(str(find(edges, "pod:x/a->svc:y/web"), "verdict"), "audit");
	assert_string_equal(str(find(edges, "svc:y/web->pod:y/b"), "verdict"), "audit");
	assert_string_equal(
		str(json_array_get(json_object_get(find(edges, "svc:y/web->pod:y/b"), "why"), 0),
		    "text"),
		"audit: y/strict rule 2 would deny it (ingress); passed (audit mode)");
	assert_string_equal(str(json_array_get(json_object_get(find(edges, "pod:x/a->svc:y/web"),
								"recent"), 0), "service"),
			    "y/web:8080");
	json_decref(o);
	fg_free(g);
}

/*
 * Each fate counted under its own word: a Service without endpoints is
 * no-backend, not denied, and its connection ends at the Service (no edge on
 * to the ClusterIP, drawn as the world); an edge of mixed fates takes the
 * policy's denial first.
 */
static void test_fates(void **state)
{
	struct fgraph *g;
	struct fg_flow f;
	json_t *o, *nodes, *edges, *e;

	(void)state;
	assert_int_equal(fg_new(&g), 0);
	f = pod_flow("x", "a", "10.0.0.1", 40000, "y", "b", "10.96.0.9", 25);
	f.dst = (struct fg_end){ .kind = "world", .ip = "10.96.0.9", .port = 25 };
	f.service = "y/outbox:25";
	f.verdict = FLOW_NO_BACKEND;
	assert_int_equal(fg_add(g, &f), 0);
	f = pod_flow("x", "a", "10.0.0.1", 40001, "y", "b", "10.0.1.2", 80);
	f.verdict = FLOW_TIMEOUT;
	assert_int_equal(fg_add(g, &f), 0);
	f.src.port = 40002;
	f.verdict = FLOW_DENIED;
	assert_int_equal(fg_add(g, &f), 0);
	o = render(g);
	nodes = json_object_get(o, "nodes");
	edges = json_object_get(o, "edges");
	assert_int_equal(json_array_size(edges), 2);
	assert_null(find(nodes, "world"));
	e = find(edges, "pod:x/a->svc:y/outbox");
	assert_string_equal(str(e, "verdict"), "no-backend");
	assert_int_equal(num(e, "no-backend"), 1);
	assert_int_equal(num(e, "denied"), 0);
	assert_int_equal(num(e, "flows"), 1);
	e = find(edges, "pod:x/a->pod:y/b");
	assert_string_equal(str(e, "verdict"), "denied");
	assert_int_equal(num(e, "denied"), 1);
	assert_int_equal(num(e, "timeout"), 1);
	assert_int_equal(num(e, "allowed"), 0);
	assert_int_equal(num(e, "flows"), 2);
	json_decref(o);
	fg_free(g);
}

/* Names with quotes, backslashes, control characters and markup come back as they were. */
static void test_escaping(void **state)
{
	static const char *const evil = "a\"b\\c\n\x01<script>&";
	struct fgraph *g;
	struct fg_flow f;
	struct fbuf b = {};
	json_t *o;

	(void)state;
	assert_int_equal(fg_new(&g), 0);
	f = pod_flow("ns\"q", evil, "10.0.0.2", 1, "x", "a", "10.0.0.1", 2);
	f.policy = evil;
	assert_int_equal(fg_add(g, &f), 0);
	assert_int_equal(fg_render(g, NULL, &b), 0);
	/* Nothing the HTML parser could take for markup, no raw control character. */
	assert_null(memchr(b.p, '<', b.len));
	assert_null(memchr(b.p, '\x01', b.len));
	assert_null(memchr(b.p, '\n', b.len - 1));
	flows_fbuf_free(&b);
	o = render(g);
	assert_string_equal(str(find(json_object_get(o, "nodes"), "ns:ns\"q"), "label"), "ns\"q");
	assert_string_equal(str(find(json_object_get(o, "nodes"),
				     "pod:ns\"q/a\"b\\c\n\x01<script>&"), "label"), evil);
	assert_string_equal(str(json_array_get(json_object_get(json_array_get(json_object_get(o, "edges"), 0), "recent"), 0), "policy"), evil);
	json_decref(o);
	fg_free(g);
}

/* An edge lists its FG_EDGE_RECENT most recent flows, newest first. */
static void test_recent_bound(void **state)
{
	struct fgraph *g;
	struct fg_flow f;
	json_t *o, *rec;

	(void)state;
	assert_int_equal(fg_new(&g), 0);
	for (int i = 0; i < 50; i++) {
		f = pod_flow("x", "b", "10.0.0.2", (uint16_t)(1000 + i), "x", "a", "10.0.0.1", 81);
		/* Out of order: 0, 49, 1, 48, ... */
		f.last_seen = i % 2 ? 1000 + 49 - i / 2 : 1000 + i / 2;
		assert_int_equal(fg_add(g, &f), 0);
	}
	o = render(g);
	rec = json_object_get(find(json_object_get(o, "edges"), "pod:x/b->pod:x/a"), "recent");
	assert_int_equal(json_array_size(rec), FG_EDGE_RECENT);
	for (size_t i = 0; i < FG_EDGE_RECENT; i++)
		assert_true(json_real_value(json_object_get(json_array_get(rec, i), "last_seen")) ==
			    1049.0 - (double)i);
	assert_int_equal(num(find(json_object_get(o, "edges"), "pod:x/b->pod:x/a"), "flows"), 50);
	json_decref(o);
	fg_free(g);
}

/*
 * A cross-node connection allowed at its destination: the source node's
 * record is forwarded (to-overlay), the destination's allowed (to-pod); the
 * merged flow is allowed, decided by the destination's node at to-pod, with
 * both nodes' counts. In either order.
 */
static void test_forwarded_merge(void **state)
{
	struct fgraph *g;
	struct fg_flow f;
	json_t *o, *e, *r;

	(void)state;
	for (int order = 0; order < 2; order++) {
		assert_int_equal(fg_new(&g), 0);
		for (int i = 0; i < 2; i++) {
			bool src = (i == 0) == (order == 0);

			f = pod_flow("z", "b", "10.0.1.2", 40100, "x", "a", "10.0.2.1", 80);
			f.node = src ? "n1" : "n2";
			f.verdict = src ? FLOW_FORWARDED : FLOW_ALLOWED;
			f.point = src ? "to-overlay" : "to-pod";
			f.pkts = src ? 4 : 3;
			f.reply_pkts = 3;
			assert_int_equal(fg_add(g, &f), 0);
		}
		o = render(g);
		e = find(json_object_get(o, "edges"), "pod:z/b->pod:x/a");
		assert_non_null(e);
		assert_string_equal(str(e, "verdict"), "allowed");
		assert_int_equal(num(e, "allowed"), 1);
		r = json_array_get(json_object_get(e, "recent"), 0);
		assert_string_equal(str(r, "verdict"), "allowed");
		assert_string_equal(str(r, "decided_by"), "n2");
		assert_string_equal(str(r, "observation_point"), "to-pod");
		assert_string_equal(str(r, "counts"), order == 0 ? "n1 4/3 packets, n2 3/3 packets" :
								    "n2 3/3 packets, n1 4/3 packets");
		json_decref(o);
		fg_free(g);
	}
	/* The sender's node alone (its own map): forwarded, not allowed. */
	assert_int_equal(fg_new(&g), 0);
	f = pod_flow("z", "b", "10.0.1.2", 40101, "x", "a", "10.0.2.1", 80);
	f.verdict = FLOW_FORWARDED;
	f.point = "to-overlay";
	assert_int_equal(fg_add(g, &f), 0);
	o = render(g);
	e = find(json_object_get(o, "edges"), "pod:z/b->pod:x/a");
	assert_string_equal(str(e, "verdict"), "forwarded");
	assert_int_equal(num(e, "forwarded"), 1);
	assert_int_equal(num(e, "allowed"), 0);
	assert_int_equal(num(e, "flows"), 1);
	assert_non_null(strstr(str(json_array_get(json_object_get(e, "why"), 0), "text"),
			       "forwarded into the overlay"));
	json_decref(o);
	fg_free(g);
}

/*
 * The page's flow table: the graph's FG_RECENT most recent flows, newest
 * first, each naming the edges it made (a Service flow two); a pod node
 * carries its identity's labels, taken from a later record when the first
 * had none (the sending node that could not name a remote pod's labels).
 */
static void test_graph_recent_labels(void **state)
{
	struct fgraph *g;
	struct fg_flow f;
	json_t *o, *rec, *ed, *nodes;
	int n = FG_RECENT + 40;

	(void)state;
	assert_int_equal(fg_new(&g), 0);
	for (int i = 0; i < n; i++) {
		f = pod_flow("x", "b", "10.0.0.2", (uint16_t)(2000 + i), "x", "a", "10.0.0.1", 81);
		f.last_seen = 3000 + (i * 7919) % n; /* each of 3000..3000+n-1 once, out of order */
		assert_int_equal(fg_add(g, &f), 0);
	}
	f = pod_flow("x", "b", "10.0.0.2", 9, "y", "c", "10.0.1.3", 80);
	f.service = "y/web:8080";
	f.last_seen = 9999;
	assert_int_equal(fg_add(g, &f), 0);
	f.node = "n2";
	f.dst.labels = "k8s:app=web,ns:kubernetes.io/metadata.name=y";
	assert_int_equal(fg_add(g, &f), 0); /* the same flow, its labels from n2 */
	o = render(g);
	rec = json_object_get(o, "recent");
	assert_int_equal(json_array_size(rec), FG_RECENT);
	ed = json_object_get(json_array_get(rec, 0), "edges");
	assert_int_equal(json_array_size(ed), 2);
	assert_string_equal(json_string_value(json_array_get(ed, 0)), "pod:x/b->svc:y/web");
	assert_string_equal(json_string_value(json_array_get(ed, 1)), "svc:y/web->pod:y/c");
	for (size_t i = 1; i < FG_RECENT; i++) {
		json_t *r = json_array_get(rec, i);

		assert_true(json_real_value(json_object_get(r, "last_seen")) ==
			    (double)(3000 + n - 1) - (double)(i - 1));
		ed = json_object_get(r, "edges");
		assert_int_equal(json_array_size(ed), 1);
		assert_string_equal(json_string_value(json_array_get(ed, 0)), "pod:x/b->pod:x/a");
	}
	/* Edges' own recent lists are as they were: no "edges" in them. */
	assert_null(json_object_get(json_array_get(json_object_get(find(json_object_get(o, "edges"),
			"pod:x/b->pod:x/a"), "recent"), 0), "edges"));
	nodes = json_object_get(o, "nodes");
	assert_string_equal(str(find(nodes, "pod:y/c"), "labels"),
			    "k8s:app=web,ns:kubernetes.io/metadata.name=y");
	assert_true(json_is_null(json_object_get(find(nodes, "pod:x/a"), "labels")));
	assert_null(json_object_get(find(nodes, "svc:y/web"), "labels"));
	json_decref(o);
	fg_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nodes_edges), cmocka_unit_test(test_merge_two_nodes),
		cmocka_unit_test(test_service),	    cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_recent_bound),
		cmocka_unit_test(test_forwarded_merge),
		cmocka_unit_test(test_graph_recent_labels),
		cmocka_unit_test(test_fates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
