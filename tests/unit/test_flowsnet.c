// SPDX-License-Identifier: Apache-2.0
/*
 * The client side of agents' flows over the network (user/lib/observe/flowsnet.c):
 * --agent's address parsed; a request split into what each node judges of
 * its own part (the 5-tuple's, times) and what the merged record must match
 * (ends, verdict, reason, Service); the merged record's match; two nodes'
 * records of one connection merged, the deciding node's verdict and the ends
 * as the node that knows them names them.
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

#include "lib/observe/flows.h"
#include "lib/observe/flowsnet.h"

/* explain's request: the lines an agent reads back as arguments, and what it refuses. */
static void test_explain_req(void **state)
{
	char buf[1200], err[300];

	(void)state;
	assert_int_equal(flows_explain_req("x/a", "fd00::5", "80/tcp", 6, 4321, buf, sizeof(buf),
					   err, sizeof(err)), 0);
	assert_string_equal(buf, "request=explain\nsrc=x/a\ndst=fd00::5\nport=80/tcp\n"
				 "family=6\nsport=4321\n");
	assert_int_equal(flows_explain_req("10.0.0.1", "y/b-0", "icmp", 0, 0, buf, sizeof(buf), err,
					   sizeof(err)), 0);
	assert_string_equal(buf, "request=explain\nsrc=10.0.0.1\ndst=y/b-0\nport=icmp\n");
	/* An argv word of the agent's xcnictl: no option, no newline, no shell. */
	assert_int_equal(flows_explain_req("--pin-dir=/", "y/b", "80/tcp", 0, 0, buf, sizeof(buf),
					   err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "explain's src"));
	assert_int_equal(flows_explain_req("x/a", "y/b\nlast=1", "80/tcp", 0, 0, buf, sizeof(buf),
					   err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "explain's dst"));
	assert_int_equal(flows_explain_req("x/a", "y/b", "80/tcp;id", 0, 0, buf, sizeof(buf), err,
					   sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "explain's port"));
	assert_int_equal(flows_explain_req("x/a", "", "80/tcp", 0, 0, buf, sizeof(buf), err,
					   sizeof(err)), -EINVAL);
	assert_int_equal(flows_explain_req("x/a", "y/b", "80/tcp", 0, 0, buf, 20, err, sizeof(err)),
			 -E2BIG);
	/* The agent's side: the same check on each argument it runs. */
	assert_int_equal(flows_explain_arg("family", "6", err, sizeof(err)), 0);
	assert_int_equal(flows_explain_arg("sport", "-1", err, sizeof(err)), -EINVAL);
	assert_int_equal(flows_explain_arg("src", NULL, err, sizeof(err)), -EINVAL);
}

/*
 * explain's answers of two nodes as one: the egress side from the source
 * pod's node, the ingress side from the destination pod's, one verdict.
 */
static void test_explain_merge(void **state)
{
	/* As the agents answered in tests/lab/relay.sh: x/c on n2 -> x/a on n1. */
	json_t *n1 = json_pack("{s:s,s:s,s:n,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
			       "src_node", "n2", "dst_node", "n1", "egress", "egress_reason",
			       "remote", "egress_node", "n2", "egress_text", "not decided here",
			       "ingress", "deny", "ingress_reason", "isolated", "ingress_node", "n1",
			       "ingress_isolated_by", "x/web-ingress", "ingress_text",
			       "deny: x/a is isolated", "verdict_text", "unknown: the egress side",
			       "verdict", "unknown");
	json_t *n2 = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:n,s:s,s:s,s:s,s:s,s:s}", "src_node", "n2",
			       "dst_node", "n1", "egress", "allow", "egress_reason", "default",
			       "egress_node", "n2", "egress_text", "allow: no policy selects x/c",
			       "ingress", "ingress_reason", "remote", "ingress_node", "n1",
			       "ingress_text", "not decided here", "verdict_text",
			       "unknown: the ingress side", "verdict", "unknown");
	json_t *n3 = json_pack("{s:s,s:s,s:n,s:s,s:n,s:s}", "src_node", "n2", "dst_node", "n1",
			       "egress", "egress_reason", "remote", "ingress", "ingress_reason",
			       "remote");
	void *recs[3] = { n3, n1, n2 };
	json_t *m;

	(void)state;
	m = flows_explain_merge(recs, 3);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "verdict")), "denied");
	assert_string_equal(json_string_value(json_object_get(m, "verdict_text")),
			    "denied: by ingress at the destination");
	assert_string_equal(json_string_value(json_object_get(m, "egress_text")),
			    "allow: no policy selects x/c");
	assert_string_equal(json_string_value(json_object_get(m, "ingress_isolated_by")),
			    "x/web-ingress");
	json_decref(m);
	/* n1 did not answer: the ingress side stays n2's "remote", unknown, n1 named. */
	m = flows_explain_merge((void *[]){ n2, n3 }, 2);
	assert_string_equal(json_string_value(json_object_get(m, "verdict")), "unknown");
	assert_string_equal(json_string_value(json_object_get(m, "verdict_text")),
			    "unknown: the ingress side is decided on node n1, whose agent did not "
			    "answer");
	json_decref(m);
	/* Both sides allow. */
	json_object_set_new(n1, "ingress", json_string("allow"));
	json_object_set_new(n1, "ingress_reason", json_string("rule"));
	m = flows_explain_merge((void *[]){ n1, n2 }, 2);
	assert_string_equal(json_string_value(json_object_get(m, "verdict")), "allowed");
	assert_string_equal(json_string_value(json_object_get(m, "ingress_reason")), "rule");
	json_decref(m);
	assert_null(flows_explain_merge(NULL, 0));
	json_decref(n1);
	json_decref(n2);
	json_decref(n3);
}

static void test_agent_parse(void **state)
{
	struct flows_agent a;
	char err[300];

	(void)state;
	assert_int_equal(flows_agent_parse("192.0.2.1", &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "192.0.2.1");
	assert_int_equal(a.port, FLOWS_TLS_PORT);
	assert_string_equal(a.node, "192.0.2.1:4244");
	assert_int_equal(flows_agent_parse("[fd00::1]:99", &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "[fd00::1]");
	assert_int_equal(a.port, 99);
	assert_int_equal(flows_agent_parse("fd00::2", &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "[fd00::2]");
	assert_int_equal(flows_agent_parse("node-1.example:4245", &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "node-1.example");
	assert_int_equal(flows_agent_parse("1.2.3.4:99999", &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--agent 1.2.3.4:99999"));
	assert_int_equal(flows_agent_parse("[fd00::1", &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(flows_agent_parse("a b", &a, err, sizeof(err)), -EINVAL);
}

static void test_split(void **state)
{
	char node[4096], merged[4096];

	(void)state;
	assert_int_equal(flows_req_split("from-pod=x/c\nprotocol=udp\nfrom=10.0.0.0/8\nto=x/a\n"
					 "not.namespace=y\nnot.port=53\nverdict=denied\nlast=5\n"
					 "to-ip=fd00::1\nlabel=app=web\nservice=x/web\nreason="
					 "drop-policy-ingress\nsince=5m\nto=ip:10.1.0.0/16\n",
					 node, sizeof(node), merged, sizeof(merged)),
			 0);
	/* The addresses too are the merged record's: a NodePort flow's client is
	 * in one node's part (test_client_match). */
	assert_string_equal(node, "protocol=udp\nnot.port=53\nlast=5\nsince=5m\n");
	assert_string_equal(merged, "from-pod=x/c\nfrom=10.0.0.0/8\nto=x/a\nnot.namespace=y\n"
				    "verdict=denied\nto-ip=fd00::1\nlabel=app=web\nservice=x/web\n"
				    "reason=drop-policy-ingress\nto=ip:10.1.0.0/16\n");
	assert_int_equal(flows_req_split("", node, sizeof(node), merged, sizeof(merged)), 0);
	assert_string_equal(node, "");
	assert_string_equal(merged, "");
	assert_int_equal(flows_req_split("from-pod=x/c\n", node, sizeof(node), merged, 8), -E2BIG);
}

/* Two nodes' records of one IPv6 connection x/c (n2) -> x/a (n1): n1 names no source. */
static const char n2rec[] =
	"{\"node\":\"n2\",\"family\":\"ipv6\",\"protocol\":\"UDP\","
	"\"source\":{\"ip\":\"fd00:10:244:2::5\",\"port\":41002,\"identity\":300,\"kind\":\"pod\","
	"\"namespace\":\"x\",\"pod\":\"c\",\"labels\":\"k8s:role=stranger\"},"
	"\"destination\":{\"ip\":\"fd00:10:244:1::7\",\"port\":81,\"identity\":301,\"kind\":\"pod\","
	"\"namespace\":\"x\",\"pod\":\"a\",\"labels\":\"k8s:app=web\"},"
	"\"verdict\":\"forwarded\",\"observation_point\":\"to-overlay\",\"policy\":null,"
	"\"drop_reason\":null,\"service\":null,\"packets\":2,\"last_seen\":\"2026-11-26T10:00:01.000000Z\"}";
static const char n1rec[] =
	"{\"node\":\"n1\",\"family\":\"ipv6\",\"protocol\":\"UDP\","
	"\"source\":{\"ip\":\"fd00:10:244:2::5\",\"port\":41002,\"identity\":2,\"kind\":\"world\","
	"\"namespace\":null,\"pod\":null,\"labels\":null},"
	"\"destination\":{\"ip\":\"fd00:10:244:1::7\",\"port\":81,\"identity\":301,\"kind\":\"pod\","
	"\"namespace\":\"x\",\"pod\":\"a\",\"labels\":\"k8s:app=web\"},"
	"\"verdict\":\"denied\",\"observation_point\":\"to-pod\",\"policy\":null,"
	"\"drop_reason\":\"drop-policy-ingress\",\"isolated_by\":\"x/web-ingress\",\"service\":null,"
	"\"packets\":2,\"last_seen\":\"2026-11-26T10:00:02.000000Z\"}";

static json_t *merged_rec(void)
{
	json_t *per = json_object(), *a = json_loads(n2rec, 0, NULL), *b = json_loads(n1rec, 0, NULL);
	json_t *m;
	char k1[300], k2[300];

	assert_non_null(a);
	assert_non_null(b);
	flows_conn_key(a, k1, sizeof(k1));
	flows_conn_key(b, k2, sizeof(k2));
	assert_string_equal(k1, k2);
	json_object_set_new(per, "n2", a);
	json_object_set_new(per, "n1", b);
	m = flows_merge_conn(per);
	json_decref(per);
	assert_non_null(m);
	return m;
}

static void test_merge(void **state)
{
	json_t *m = merged_rec();

	(void)state;
	assert_string_equal(json_string_value(json_object_get(m, "verdict")), "denied");
	assert_string_equal(json_string_value(json_object_get(m, "decided_by")), "n1");
	assert_string_equal(json_string_value(json_object_get(m, "observation_point")), "to-pod");
	/* The source as n2 names it. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(m, "source"), "pod")), "c");
	assert_int_equal(json_array_size(json_object_get(m, "nodes")), 2);
	assert_string_equal(json_string_value(json_object_get(m, "last_seen")),
			    "2026-11-26T10:00:02.000000Z");
	json_decref(m);
}

/* The merged verdict of two nodes' records: a drop, then RST, then silence, then a pass. */
static const char *merged_verdict(const char *v1, const char *v2)
{
	static char out[32];
	json_t *per = json_pack("{s{ss}s{ss}}", "n1", "verdict", v1, "n2", "verdict", v2), *m;

	assert_non_null(per);
	m = flows_merge_conn(per);
	json_decref(per);
	assert_non_null(m);
	snprintf(out, sizeof(out), "%s", json_string_value(json_object_get(m, "verdict")));
	json_decref(m);
	return out;
}

static void test_merge_fates(void **state)
{
	(void)state;
	/* The source's node heard nothing; the destination's dropped it. */
	assert_string_equal(merged_verdict("timeout", "denied"), "denied");
	assert_string_equal(merged_verdict("forwarded", "timeout"), "timeout");
	assert_string_equal(merged_verdict("timeout", "refused"), "refused");
	assert_string_equal(merged_verdict("allowed", "timeout"), "timeout");
	assert_string_equal(merged_verdict("no-backend", "timeout"), "no-backend");
}

/* Whether the merged record matches the request's merged-view filters. */
static bool matches(json_t *m, const char *req)
{
	struct flow_filter ff;
	char node[4096], merged[4096], err[300];
	bool ok;

	assert_int_equal(flows_req_split(req, node, sizeof(node), merged, sizeof(merged)), 0);
	flow_filter_init(&ff);
	assert_int_equal(flow_filter_parse(&ff, merged, err, sizeof(err)), 0);
	ok = flows_json_match(&ff, m);
	flow_filter_free(&ff);
	return ok;
}

static void test_match(void **state)
{
	json_t *m = merged_rec(), *n1 = json_loads(n1rec, 0, NULL);

	(void)state;
	assert_true(matches(m, "from-pod=x/c\n"));
	/* n1's own record does not name the source: asked of n1 alone, it was lost. */
	assert_false(matches(n1, "from-pod=x/c\n"));
	assert_true(matches(m, "to-pod=x/a\nverdict=denied\n"));
	assert_true(matches(m, "verdict=DROPPED\n"));
	assert_false(matches(m, "verdict=allowed\n"));
	assert_false(matches(m, "verdict=FORWARDED\n"));
	assert_true(matches(m, "namespace=x\n"));
	assert_false(matches(m, "namespace=y\n"));
	assert_true(matches(m, "from-label=role=stranger\nto-label=app=web\n"));
	assert_true(matches(m, "from-identity=300\n"));
	assert_true(matches(m, "reason=drop-policy-ingress\n"));
	assert_false(matches(m, "reason=drop-policy-egress\n"));
	assert_false(matches(m, "service=x/web\n"));
	assert_true(matches(m, "pod=fd00:10:244:2::5\n"));
	assert_false(matches(m, "not.from-pod=x/c\n"));
	assert_true(matches(m, "not.namespace=y\n"));
	/* The node-judged ones are not judged again here. */
	assert_true(matches(m, "protocol=tcp\nport=9\n"));
	json_object_set_new(m, "service", json_string("x/web:http"));
	assert_true(matches(m, "service=x/web\n"));
	assert_true(matches(m, "service=x/web:http\n"));
	assert_false(matches(m, "service=x/web:grpc\n"));
	json_decref(n1);
	json_decref(m);
}

/*
 * A NodePort flow SNATed by n1 to a backend on n2: n2's part names n1's
 * address only, n1's the outside client; merged, --from-ip and --ip find it
 * by either, --to-ip by neither.
 */
static void test_client_match(void **state)
{
	json_t *per = json_pack("{s:{s:s,s:s,s:s,s:{s:s,s:i},s:{s:s,s:i},s:n},"
				"s:{s:s,s:s,s:s,s:{s:s,s:i},s:{s:s,s:i},s:s}}",
				"n2", "node", "n2", "family", "ipv4", "verdict", "allowed", "source",
				"ip", "192.168.77.1", "port", 50123, "destination", "ip", "10.0.2.5",
				"port", 81, "client",
				"n1", "node", "n1", "family", "ipv4", "verdict", "forwarded", "source",
				"ip", "192.168.77.1", "port", 50123, "destination", "ip", "10.0.2.5",
				"port", 81, "client", "198.51.100.1:42001");
	json_t *m = flows_merge_conn(per), *v6;
	struct flow_rec r = { 0 };

	(void)state;
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "client")), "198.51.100.1:42001");
	assert_string_equal(json_string_value(json_object_get(m, "decided_by")), "n2");
	assert_true(matches(m, "from-ip=198.51.100.1\n"));
	assert_true(matches(m, "ip=198.51.100.0/24\n"));
	assert_true(matches(m, "from=198.51.100.1\n"));
	assert_true(matches(m, "from-ip=192.168.77.1\n"));
	assert_false(matches(m, "to-ip=198.51.100.1\n"));
	assert_false(matches(m, "from-ip=198.51.100.2\n"));
	assert_false(matches(json_object_get(per, "n2"), "from-ip=198.51.100.1\n"));
	v6 = json_pack("{s:s,s:s,s:{s:s,s:i},s:{s:s,s:i},s:s}", "family", "ipv6", "verdict",
		       "allowed", "source", "ip", "fd00:77::1", "port", 50123, "destination", "ip",
		       "fd00:10:244:2::5", "port", 81, "client", "[2001:db8:100::1]:42011");
	assert_true(matches(v6, "from-ip=2001:db8:100::1\n"));
	assert_false(matches(v6, "from-ip=2001:db8:100::2\n"));
	assert_int_equal(flow_client_parse("[2001:db8:100::1]:42011", &r), 0);
	assert_int_equal(r.client_family, 6);
	assert_int_equal(r.client_port, 42011);
	assert_int_equal(flow_client_parse("198.51.100.1", &r), -EINVAL);
	assert_int_equal(flow_client_parse("[2001:db8::1:5", &r), -EINVAL);
	assert_int_equal(flow_client_parse(NULL, &r), -EINVAL);
	json_decref(v6);
	json_decref(m);
	json_decref(per);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_parse),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_client_match),
		cmocka_unit_test(test_explain_req),
		cmocka_unit_test(test_explain_merge),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_fates),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
