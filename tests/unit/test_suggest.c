// SPDX-License-Identifier: Apache-2.0
/*
 * policy suggest (lib/observe/suggest.h): the smallest selector of a peer
 * group, the policies built from flow records (peers, named ports, ipBlock,
 * namespaces by name, denials never allowed), the records read, and the
 * replay through the compiler that proves them. Clusters: polsim.h.
 */
#include "polsim.h"
#include "../../user/lib/observe/suggest.h"
#include "../../user/lib/observe/flows.h"

static char Msg[600];

static json_t *sel_of(const char *ns, const char *lbl)
{
	struct k8s_labels want = labels(lbl);
	struct cluster c = view();
	json_t *s = NULL;

	assert_int_equal(suggest_selector(&c, ns, &want, &s), 0);
	return s;
}

/* The selector as compact sorted JSON, to compare with a literal. */
static void assert_json(json_t *j, const char *want)
{
	char *got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	if (strcmp(got, want))
		fail_msg("got %s\nwant %s", got, want);
	free(got);
	json_decref(j);
}

/* ---- the selectors ---------------------------------------------------- */

static void selector_fewest_labels(void **state)
{
	(void)state;
	ns_add("shop", "");
	pod_add("shop", "fe", "n1", "10.244.0.30", "app=web,tier=fe");
	pod_add("shop", "be", "n1", "10.244.0.31", "app=web,tier=be");
	pod_add("shop", "db", "n1", "10.244.0.32", "app=db,tier=be");
	pod_add("shop", "db2", "n1", "10.244.0.33", "app=db,tier=be");
	/* app=db alone tells db's group (both replicas) from the rest. */
	assert_json(sel_of("shop", "app=db,tier=be"), "{\"matchLabels\":{\"app\":\"db\"}}");
	/* tier=fe alone: app=web is the backend's too. */
	assert_json(sel_of("shop", "app=web,tier=fe"), "{\"matchLabels\":{\"tier\":\"fe\"}}");
	/* Neither label alone: app=web is fe's, tier=be is db's. */
	assert_json(sel_of("shop", "app=web,tier=be"),
		    "{\"matchLabels\":{\"app\":\"web\",\"tier\":\"be\"}}");
	/* Other namespaces' pods do not count: prod's app=web is only one of shop's. */
	pod_add("prod", "web", "n1", "10.244.0.10", "app=web");
	assert_json(sel_of("shop", "app=web,tier=fe"), "{\"matchLabels\":{\"tier\":\"fe\"}}");
}

/*
 * Namespace shop of these pods alone (name, labels; addresses from
 * 10.244.0.30): the selector of each pod's group. A tie: either label alone
 * would do, the first key is taken, every time. The whole namespace: {}.
 * A superset: every subset of web's labels selects the canary too, so its
 * extra key must be absent; the canary itself needs one label.
 */
static void selector_cases(void **state)
{
	static const struct {
		const char *pods[2][2], *want[2];
	} cases[] = {
		{ { { "a", "app=a,name=a" }, { "b", "app=b,name=b" } },
		  { "{\"matchLabels\":{\"app\":\"a\"}}", "{\"matchLabels\":{\"app\":\"b\"}}" } },
		{ { { "w1", "app=web" }, { "w2", "app=web" } }, { "{}", "{}" } },
		{ { { "web", "app=web" }, { "canary", "app=web,track=canary" } },
		  { "{\"matchExpressions\":[{\"key\":\"track\",\"operator\":\"DoesNotExist\"}],"
		    "\"matchLabels\":{\"app\":\"web\"}}",
		    "{\"matchLabels\":{\"track\":\"canary\"}}" } },
	};
	char ip[16];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (i) {
			teardown(state);
			setup(state);
		}
		ns_add("shop", "");
		for (size_t k = 0; k < 2; k++) {
			snprintf(ip, sizeof(ip), "10.244.0.%zu", 30 + k);
			pod_add("shop", cases[i].pods[k][0], "n1", ip, cases[i].pods[k][1]);
		}
		for (size_t k = 0; k < 2; k++)
			assert_json(sel_of("shop", cases[i].pods[k][1]), cases[i].want[k]);
	}
}

/* ---- the records ------------------------------------------------------ */

static json_t *rec(const char *src, const char *sns, const char *spod, const char *dst,
		   const char *dns, const char *dpod, const char *proto, int port, const char *verdict)
{
	json_t *r = json_pack("{s:s,s:s,s:s,s:{s:s,s:i},s:{s:s,s:i}}", "family", "ipv4", "protocol",
			      proto, "verdict", verdict, "source", "ip", src, "port", 40000,
			      "destination", "ip", dst, "port", port);

	assert_non_null(r);
	if (spod) {
		json_object_set_new(json_object_get(r, "source"), "namespace", json_string(sns));
		json_object_set_new(json_object_get(r, "source"), "pod", json_string(spod));
	}
	if (dpod) {
		json_object_set_new(json_object_get(r, "destination"), "namespace", json_string(dns));
		json_object_set_new(json_object_get(r, "destination"), "pod", json_string(dpod));
	}
	return r;
}

static void add(struct sug_flows *fl, json_t *r, int want)
{
	assert_int_equal(suggest_flow_add(fl, r, Msg, sizeof(Msg)), want);
	json_decref(r);
}

static void records_merged_denial_wins(void **state)
{
	struct sug_flows fl = {};

	(void)state;
	add(&fl, rec(WEB, "prod", "web", DB, "prod", "db", "TCP", 5432, "allowed"), 0);
	/* The same flow from another node's window: one record, denied. */
	add(&fl, rec(WEB, "prod", "web", DB, "prod", "db", "TCP", 5432, "denied"), 0);
	add(&fl, rec(WEB, "prod", "web", DB, "prod", "db", "TCP", 5432, "allowed"), 0);
	assert_int_equal(fl.n, 1);
	assert_int_equal(fl.v[0].verdict, SUG_DENIED);
	/* Forwarded: not judged where it was seen. */
	add(&fl, rec(WEB, "prod", "web", DB, "prod", "db", "TCP", 80, "forwarded"), 1);
	/* audit passed: allowed. */
	add(&fl, rec(WEB, "prod", "web", DB, "prod", "db", "UDP", 53, "audit"), 0);
	assert_int_equal(fl.n, 2);
	assert_int_equal(fl.v[1].verdict, SUG_ALLOWED);
	assert_int_equal(fl.v[1].proto, UDP);
	assert_string_equal(fl.v[1].dst.pod, "db");
	/* Bad fields: named. */
	add(&fl, rec(WEB, NULL, NULL, "300.1.1.1", NULL, NULL, "TCP", 80, "allowed"), -EINVAL);
	assert_non_null(strstr(Msg, "destination.ip"));
	add(&fl, rec(WEB, NULL, NULL, DB, NULL, NULL, "GRE", 80, "allowed"), -EINVAL);
	assert_non_null(strstr(Msg, "protocol"));
	add(&fl, rec(WEB, NULL, NULL, DB, NULL, NULL, "TCP", 80, "maybe"), -EINVAL);
	assert_non_null(strstr(Msg, "verdict"));
	assert_int_equal(fl.n, 2);
	suggest_flows_free(&fl);
}

/*
 * Every word flows writes is read (issue 70 item 1): the fates past the
 * policy (refused, no-backend, timeout) and forwarded are no policy's
 * decision, so they are set aside and counted by word, never an error.
 */
static void records_every_verdict(void **state)
{
	static const char *const fates[] = { "refused", "no-backend", "timeout", "forwarded" };
	struct sug_flows fl = {};

	(void)state;
	for (size_t i = 0; i < sizeof(fates) / sizeof(fates[0]); i++)
		add(&fl, rec(WEB, "prod", "web", DB, "prod", "db", "TCP", 80 + (int)i, fates[i]), 1);
	add(&fl, rec(WEB, "prod", "web", DB, "prod", "db", "TCP", 81, "refused"), 1);
	assert_int_equal(fl.n, 0);
	assert_int_equal(fl.aside[FLOW_REFUSED], 2);
	assert_int_equal(fl.aside[FLOW_NO_BACKEND], 1);
	assert_int_equal(fl.aside[FLOW_TIMEOUT], 1);
	assert_int_equal(fl.aside[FLOW_FORWARDED], 1);
	add(&fl, rec(WEB, "prod", "web", DB, "prod", "db", "TCP", 80, "denied"), 0);
	assert_int_equal(fl.n, 1);
	suggest_flows_free(&fl);
}

/* ---- the policies ----------------------------------------------------- */

static json_t *policy_named(json_t *pols, const char *name)
{
	size_t i;
	json_t *p;

	json_array_foreach(pols, i, p)
		if (!strcmp(json_string_value(json_object_get(json_object_get(p, "metadata"), "name")),
			    name))
			return p;
	fail_msg("no policy %s", name);
	return NULL;
}

static void suggest_flows(struct sug_flows *fl)
{
	/* web -> db on db's named port; dev/client -> web 80; web -> the outside 443. */
	add(fl, rec(WEB, "prod", "web", DB, "prod", "db", "TCP", 5432, "allowed"), 0);
	add(fl, rec(DEVCLIENT, "dev", "client", WEB, "prod", "web", "TCP", 80, "allowed"), 0);
	add(fl, rec(WEB, "prod", "web", OUTSIDE, NULL, NULL, "TCP", 443, "allowed"), 0);
	/* Denied, and must stay so: other -> db, dev/web -> web. */
	add(fl, rec(OTHER, "prod", "other", DB, "prod", "db", "TCP", 5432, "denied"), 0);
	add(fl, rec(DEVWEB, "dev", "web", WEB, "prod", "web", "TCP", 80, "denied"), 0);
	/* Not prod's: neither suggested nor replayed. */
	add(fl, rec(DEVWEB, "dev", "web", DEVCLIENT, "dev", "client", "TCP", 80, "allowed"), 0);
}

/*
 * prod's policies suggested from fl over the cluster as it is (not audit),
 * skipped getting the rules left out; with fates, replayed too: both succeed.
 */
static json_t *suggested(struct sug_flows *fl, size_t *skipped, enum sug_fate *fates)
{
	struct cluster c = view();
	json_t *pols;
	size_t n;

	assert_int_equal(suggest_build(&c, "prod", fl, false, &pols, skipped ?: &n, Msg, sizeof(Msg)),
			 0);
	if (fates)
		assert_int_equal(suggest_replay(&c, "prod", pols, fl, fates, Msg, sizeof(Msg)), 0);
	return pols;
}

static void build_policies(void **state)
{
	struct sug_flows fl = {};
	struct cluster c;
	json_t *pols;
	size_t skipped;

	(void)state;
	cast();
	pod_port(&objs[K8S_POD][1]->pod, "pg", TCP, 5432);
	suggest_flows(&fl);
	pols = suggested(&fl, &skipped, NULL);
	assert_int_equal(skipped, 0);
	/* The default deny, db (in from web), web (in from dev/client, out to db and 443). */
	assert_int_equal(json_array_size(pols), 3);
	assert_json(json_incref(json_object_get(policy_named(pols, "suggest-default-deny"), "spec")),
		    "{\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"]}");
	assert_json(json_incref(json_object_get(policy_named(pols, "suggest-db"), "spec")),
		    "{\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}}}],"
		    "\"ports\":[{\"port\":\"pg\",\"protocol\":\"TCP\"}]}],"
		    "\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}},\"policyTypes\":[\"Ingress\"]}");
	/* dev by its name label; the outside by its address; egress to db by pg too. */
	assert_json(json_incref(json_object_get(policy_named(pols, "suggest-web"), "spec")),
		    "{\"egress\":[{\"ports\":[{\"port\":443,\"protocol\":\"TCP\"}],"
		    "\"to\":[{\"ipBlock\":{\"cidr\":\"192.0.2.1/32\"}}]},"
		    "{\"ports\":[{\"port\":\"pg\",\"protocol\":\"TCP\"}],"
		    "\"to\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}}}]}],"
		    "\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":"
		    "{\"kubernetes.io/metadata.name\":\"dev\"}},"
		    "\"podSelector\":{\"matchLabels\":{\"app\":\"client\"}}}],"
		    "\"ports\":[{\"port\":80,\"protocol\":\"TCP\"}]}],"
		    "\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
		    "\"policyTypes\":[\"Ingress\",\"Egress\"]}");
	json_decref(pols);
	/* --audit: every policy in audit mode. */
	c = view();
	assert_int_equal(suggest_build(&c, "prod", &fl, true, &pols, &skipped, Msg, sizeof(Msg)), 0);
	for (size_t i = 0; i < json_array_size(pols); i++)
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(json_object_get(json_array_get(pols, i),
									    "metadata"),
							    "annotations"),
					    K8S_POLICY_MODE_ANNOTATION)),
				    "audit");
	json_decref(pols);
	suggest_flows_free(&fl);
}

static void icmp_left_out(void **state)
{
	struct sug_flows fl = {};
	json_t *pols;
	size_t skipped;

	(void)state;
	cast();
	add(&fl, rec(WEB, "prod", "web", DB, "prod", "db", "ICMP", 0, "allowed"), 0);
	pols = suggested(&fl, &skipped, NULL);
	/* A rule without ports would allow every port: left out, said. */
	assert_int_equal(skipped, 1);
	assert_int_equal(json_array_size(pols), 1);
	json_decref(pols);
	suggest_flows_free(&fl);
}

/*
 * DNS seen on UDP alone: TCP 53 is allowed too (a truncated answer is asked
 * again over TCP, RFC 7766), both by the server's port names.
 */
static void dns_both_protocols(void **state)
{
	struct sug_flows fl = {};
	json_t *pols;

	(void)state;
	cast();
	pod_port(&objs[K8S_POD][1]->pod, "dns", UDP, 53);
	pod_port(&objs[K8S_POD][1]->pod, "dns-tcp", TCP, 53);
	add(&fl, rec(WEB, "prod", "web", DB, "prod", "db", "UDP", 53, "allowed"), 0);
	add(&fl, rec(WEB, "prod", "web", OUTSIDE, NULL, NULL, "UDP", 53, "allowed"), 0);
	pols = suggested(&fl, NULL, NULL);
	assert_json(json_incref(json_object_get(json_object_get(policy_named(pols, "suggest-web"),
								 "spec"), "egress")),
		    "[{\"ports\":[{\"port\":53,\"protocol\":\"TCP\"},"
		    "{\"port\":53,\"protocol\":\"UDP\"}],"
		    "\"to\":[{\"ipBlock\":{\"cidr\":\"192.0.2.1/32\"}}]},"
		    "{\"ports\":[{\"port\":\"dns-tcp\",\"protocol\":\"TCP\"},"
		    "{\"port\":\"dns\",\"protocol\":\"UDP\"}],"
		    "\"to\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}}}]}]");
	json_decref(pols);
	suggest_flows_free(&fl);
}

/* ---- the replay -------------------------------------------------------- */

static void replay_agrees(void **state)
{
	struct sug_flows fl = {};
	enum sug_fate fates[16];
	json_t *pols;

	(void)state;
	cast();
	/* prod's own policy, replaced by the suggestion in the replay: it allowed other -> db. */
	peer(ingress(np_add("prod", "old", sel("app=db"), IN)), sel("app=other"), NULL);
	suggest_flows(&fl);
	pols = suggested(&fl, NULL, fates);
	assert_int_equal(fates[0], SUG_FATE_ALLOWED);
	assert_int_equal(fates[1], SUG_FATE_ALLOWED);
	assert_int_equal(fates[2], SUG_FATE_ALLOWED);
	assert_int_equal(fates[3], SUG_FATE_DENIED); /* old's allow is gone */
	assert_int_equal(fates[4], SUG_FATE_DENIED);
	assert_int_equal(fates[5], SUG_FATE_SKIPPED);
	json_decref(pols);
	suggest_flows_free(&fl);
}

static void replay_catches_a_conflict(void **state)
{
	struct sug_flows fl = {};
	enum sug_fate fates[4];
	json_t *pols;

	(void)state;
	cast();
	/* Two pods of one label set: one let in, the other recorded denied. */
	pod_add("prod", "web2", "n1", "10.244.0.13", "app=web");
	add(&fl, rec(DEVCLIENT, "dev", "client", WEB, "prod", "web", "TCP", 80, "allowed"), 0);
	add(&fl, rec(DEVCLIENT, "dev", "client", "10.244.0.13", "prod", "web2", "TCP", 80, "denied"),
	    0);
	pols = suggested(&fl, NULL, fates);
	assert_int_equal(fates[0], SUG_FATE_ALLOWED);
	/* Labels cannot tell them apart: the replay says the denial would not hold. */
	assert_int_equal(fates[1], SUG_FATE_ALLOWED);
	json_decref(pols);
	suggest_flows_free(&fl);
}

static void replay_refuses_a_bad_policy(void **state)
{
	struct sug_flows fl = {};
	enum sug_fate fates[1];
	struct cluster c;
	json_t *pols = json_pack("[{s:s,s:s,s:{s:s,s:s},s:{s:{s:{s:s}},s:[s]}}]", "apiVersion",
				 "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata", "name",
				 "bad", "namespace", "prod", "spec", "podSelector", "matchLabels",
				 "app", "-bad-", "policyTypes", "Sideways");

	(void)state;
	cast();
	c = view();
	assert_int_equal(suggest_replay(&c, "prod", pols, &fl, fates, Msg, sizeof(Msg)), -EINVAL);
	assert_non_null(strstr(Msg, "prod/bad"));
	json_decref(pols);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(selector_fewest_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(selector_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(records_merged_denial_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(records_every_verdict, setup, teardown),
		cmocka_unit_test_setup_teardown(build_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(dns_both_protocols, setup, teardown),
		cmocka_unit_test_setup_teardown(icmp_left_out, setup, teardown),
		cmocka_unit_test_setup_teardown(replay_agrees, setup, teardown),
		cmocka_unit_test_setup_teardown(replay_catches_a_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(replay_refuses_a_bad_policy, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
