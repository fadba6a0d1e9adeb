// SPDX-License-Identifier: Apache-2.0
/*
 * The NetworkPolicy compiler, what a policy selects and admits: isolation and
 * policyTypes, ports (numbers, protocols, ranges, named ports) and several
 * policies together. Clusters and the simulated data plane: polsim.h.
 */
#include "polsim.h"

/* ---- selection and isolation ------------------------------------------- */

static void unselected_pod_not_isolated(void **state)
{
	(void)state;
	cast();
	np_add("prod", "db-deny", sel("app=db"), IN | EG);
	compile();
	assert_int_equal(ep(DB)->state.isolated, XCNI_ISOLATED(XCNI_DIR_FROM_POD) |
							 XCNI_ISOLATED(XCNI_DIR_TO_POD));
	assert_int_equal(ep(WEB)->state.isolated, 0);
	assert_int_equal(ep(WEB)->nentries, 0);
	/* Same labels, other namespace: a policy selects in its own namespace only. */
	np_add("prod", "web-deny", sel("app=web"), IN);
	compile();
	assert_int_equal(ep(WEB)->state.isolated, XCNI_ISOLATED(XCNI_DIR_TO_POD));
	assert_int_equal(ep(DEVWEB)->state.isolated, 0);
	assert_true(allowed(WEB, DEVWEB, TCP, 80));
	assert_false(allowed(DEVWEB, WEB, TCP, 80));
}

static void policy_types(void **state)
{
	struct k8s_netpol *np;

	(void)state;
	cast();
	/* Ingress only, with egress rules that must not count. */
	np = np_add("prod", "in-only", sel("app=web"), IN);
	peer(egress(np), sel("app=db"), NULL);
	compile();
	assert_int_equal(ep(WEB)->state.isolated, XCNI_ISOLATED(XCNI_DIR_TO_POD));
	assert_false(allowed(DB, WEB, TCP, 80));
	assert_true(allowed(WEB, OTHER, TCP, 80));
	assert_true(allowed(WEB, OUTSIDE, UDP, 53));

	np->type_ingress = false;
	np->type_egress = true;
	compile();
	assert_int_equal(ep(WEB)->state.isolated, XCNI_ISOLATED(XCNI_DIR_FROM_POD));
	assert_true(allowed(OTHER, WEB, TCP, 80));
	assert_true(allowed(WEB, DB, TCP, 5432));
	assert_false(allowed(WEB, OTHER, TCP, 80));
	assert_false(allowed(WEB, OUTSIDE, UDP, 53));
}

static void empty_ingress_denies_all(void **state)
{
	struct pol_opts o = { .gateway_ip = ip4("10.244.0.1") };

	(void)state;
	cast();
	np_add("prod", "deny", sel(""), IN);
	assert_int_equal(compile_opts(&R, &o), 0);
	for (const char *const *p = (const char *const[]){ WEB, DB, OTHER, NULL }; *p; p++) {
		assert_int_equal(ep(*p)->state.isolated, XCNI_ISOLATED(XCNI_DIR_TO_POD));
		assert_int_equal(ep(*p)->nentries, 0);
		assert_int_equal(ep(*p)->ncidrs, 0);
	}
	assert_false(allowed(DB, WEB, TCP, 80));
	assert_false(allowed(DEVCLIENT, WEB, ICMP, 0));
	assert_false(allowed(OUTSIDE, WEB, UDP, 53));
	/* The node (here through the pods' gateway) is always let in: kubelet probes. */
	assert_true(allowed("10.244.0.1", WEB, TCP, 80));
	assert_true(allowed(WEB, DEVWEB, TCP, 80));
}

static void empty_rule_allows_all(void **state)
{
	const struct pol_ep *e;
	struct k8s_netpol *np;

	(void)state;
	cast();
	np = np_add("prod", "allow-all", sel("app=web"), IN | EG);
	ingress(np);
	egress(np);
	compile();
	e = ep(WEB);
	assert_int_equal(e->nentries, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(e->entries[i].key.peer, XCNI_ID_ANY);
		assert_int_equal(e->entries[i].key.prefixlen, POL_PREFIX_ANY_PROTO);
		assert_int_equal(e->entries[i].val.policy_id, policy_id("prod", "allow-all"));
		assert_int_equal(e->entries[i].val.rule, 0);
	}
	assert_true(allowed(OUTSIDE, WEB, TCP, 443));
	assert_true(allowed(DEVCLIENT, WEB, ICMP, 0));
	assert_true(allowed(WEB, OUTSIDE, UDP, 53));
	assert_true(allowed(WEB, DB, SCTP, 9));
}

/* ---- ports ------------------------------------------------------------- */

static void numeric_port(void **state)
{
	const struct pol_ep *e;
	struct k8s_np_rule *r;

	(void)state;
	cast();
	r = ingress(np_add("prod", "db-5432", sel("app=db"), IN));
	peer(r, sel("app=web"), NULL);
	port(r, TCP, 5432, 0);
	compile();
	e = ep(DB);
	assert_int_equal(e->nentries, 1);
	assert_int_equal(e->entries[0].key.prefixlen, POL_PREFIX_FULL);
	assert_int_equal(e->entries[0].key.port, htons(5432));
	assert_int_equal(e->entries[0].key.proto, TCP);
	assert_int_equal(e->entries[0].key.peer, pod_identity(&R, WEB));
	assert_true(allowed(WEB, DB, TCP, 5432));
	assert_false(allowed(WEB, DB, TCP, 5433));
	assert_false(allowed(WEB, DB, UDP, 5432));
	assert_false(allowed(WEB, DB, ICMP, 0));
}

static void protocols(void **state)
{
	struct k8s_np_rule *r;

	(void)state;
	cast();
	r = ingress(np_add("prod", "protos", sel("app=db"), IN));
	port(r, UDP, 53, 0);
	port(r, SCTP, 9999, 0);
	port_proto(r, TCP); /* protocol alone: every port of it */
	compile();
	assert_true(allowed(WEB, DB, UDP, 53));
	assert_false(allowed(WEB, DB, UDP, 54));
	assert_true(allowed(WEB, DB, SCTP, 9999));
	assert_false(allowed(WEB, DB, SCTP, 53));
	assert_true(allowed(WEB, DB, TCP, 1));
	assert_true(allowed(WEB, DB, TCP, 8080));
	assert_true(allowed(WEB, DB, TCP, 65535));
	assert_false(allowed(WEB, DB, ICMP, 0));
	assert_int_equal(count_entries(ep(DB), XCNI_DIR_TO_POD, POL_PREFIX_ANY_PORT), 1);
}

static void port_without_protocol_is_tcp(void **state)
{
	struct k8s_np_rule *r;

	(void)state;
	cast();
	r = ingress(np_add("prod", "p", sel("app=db"), IN));
	/* What the parser makes of `ports: [{port: 80}]`. */
	r->ports[r->nports++] = (struct k8s_np_port){ .proto = IPPROTO_TCP, .has_port = true,
						      .port = 80 };
	compile();
	assert_true(allowed(WEB, DB, TCP, 80));
	assert_false(allowed(WEB, DB, UDP, 80));
}

/* Ports [lo, hi] admitted by the entries of e (TCP, ingress, from any peer). */
static size_t ports_admitted(const struct pol_ep *e, uint32_t *lo, uint32_t *hi)
{
	size_t n = 0;

	*lo = 65536;
	*hi = 0;
	for (uint32_t p = 0; p <= 65535; p++) {
		if (!pol_entry_lookup(e, XCNI_DIR_TO_POD, XCNI_ID_ANY, TCP, p))
			continue;
		n++;
		*lo = p < *lo ? p : *lo;
		*hi = p > *hi ? p : *hi;
	}
	return n;
}

static void port_ranges(void **state)
{
	static const struct {
		uint16_t lo, hi;
		size_t nentries;
	} cases[] = {
		{ 80, 90, 3 }, /* 80-87/13 bits, 88-89/15, 90/16 */
		{ 1, 65535, 16 },
		{ 8080, 8080, 1 },
		{ 0x8000, 0xffff, 1 },
		{ 1024, 2047, 1 },
		{ 1023, 1024, 2 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct k8s_np_rule *r;
		uint32_t lo, hi;

		teardown(state);
		setup(state);
		ns_add("x", "");
		pod_add("x", "srv", NULL, "10.0.0.1", "app=srv");
		r = ingress(np_add("x", "range", sel("app=srv"), IN));
		port(r, TCP, cases[i].lo, cases[i].hi);
		compile();
		assert_int_equal(ep("10.0.0.1")->nentries, cases[i].nentries);
		assert_int_equal(ports_admitted(ep("10.0.0.1"), &lo, &hi),
				 cases[i].hi - cases[i].lo + 1);
		assert_int_equal(lo, cases[i].lo);
		assert_int_equal(hi, cases[i].hi);
	}
	/* 80-90 exactly: prefixes 96 + 13, 96 + 15, 96 + 16. */
	teardown(state);
	setup(state);
	ns_add("x", "");
	pod_add("x", "srv", NULL, "10.0.0.1", "app=srv");
	port(ingress(np_add("x", "range", sel("app=srv"), IN)), TCP, 80, 90);
	compile();
	assert_int_equal(ep("10.0.0.1")->entries[0].key.port, htons(80));
	assert_int_equal(ep("10.0.0.1")->entries[0].key.prefixlen, POL_PREFIX_ANY_PORT + 13);
	assert_int_equal(ep("10.0.0.1")->entries[1].key.port, htons(88));
	assert_int_equal(ep("10.0.0.1")->entries[1].key.prefixlen, POL_PREFIX_ANY_PORT + 15);
	assert_int_equal(ep("10.0.0.1")->entries[2].key.port, htons(90));
	assert_int_equal(ep("10.0.0.1")->entries[2].key.prefixlen, POL_PREFIX_FULL);
}

static void named_port_ingress(void **state)
{
	struct k8s_pod *a, *b;
	struct k8s_np_rule *r;

	(void)state;
	ns_add("x", "");
	a = pod_add("x", "a", NULL, "10.0.0.1", "app=srv,v=1");
	b = pod_add("x", "b", NULL, "10.0.0.2", "app=srv,v=2");
	pod_add("x", "cli", NULL, "10.0.0.9", "app=cli");
	pod_port(a, "http", TCP, 8080);
	pod_port(b, "http", TCP, 9090);
	pod_port(b, "dns", TCP, 53); /* wrong protocol for the rule below */
	r = ingress(np_add("x", "named", sel("app=srv"), IN));
	port_named(r, TCP, "http");
	port_named(r, UDP, "dns");
	port_named(r, TCP, "nope");
	compile();
	/* Resolved per destination pod: each pod gets its own number. */
	assert_true(allowed("10.0.0.9", "10.0.0.1", TCP, 8080));
	assert_false(allowed("10.0.0.9", "10.0.0.1", TCP, 9090));
	assert_true(allowed("10.0.0.9", "10.0.0.2", TCP, 9090));
	assert_false(allowed("10.0.0.9", "10.0.0.2", TCP, 8080));
	assert_false(allowed("10.0.0.9", "10.0.0.2", UDP, 53));
	assert_false(allowed("10.0.0.9", "10.0.0.2", TCP, 53));
	assert_int_equal(ep("10.0.0.1")->nentries, 1);
	assert_int_equal(ep("10.0.0.2")->nentries, 1);
}

static void named_port_egress(void **state)
{
	struct k8s_pod *a, *b, *c;
	struct k8s_netpol *np;
	struct k8s_np_rule *r;

	(void)state;
	ns_add("x", "");
	a = pod_add("x", "a", NULL, "10.0.0.1", "app=srv");
	b = pod_add("x", "b", NULL, "10.0.0.2", "app=db");
	c = pod_add("x", "c", NULL, "10.9.0.3", "app=cache");
	pod_add("x", "cli", NULL, "10.0.0.9", "app=cli");
	pod_port(a, "http", TCP, 8080);
	pod_port(b, "http", TCP, 9090);
	pod_port(c, "http", TCP, 7070);

	/* Selector peer: the port the destination pods give the name. */
	np = np_add("x", "out", sel("app=cli"), EG);
	r = egress(np);
	peer(r, sel("app=srv"), NULL);
	port_named(r, TCP, "http");
	compile();
	assert_true(allowed("10.0.0.9", "10.0.0.1", TCP, 8080));
	assert_false(allowed("10.0.0.9", "10.0.0.1", TCP, 9090));
	assert_false(allowed("10.0.0.9", "10.0.0.2", TCP, 9090));

	/* No peers: every pod that has the name, on its own number; no one else. */
	r->npeers = 0;
	compile();
	assert_true(allowed("10.0.0.9", "10.0.0.1", TCP, 8080));
	assert_true(allowed("10.0.0.9", "10.0.0.2", TCP, 9090));
	assert_false(allowed("10.0.0.9", "10.0.0.2", TCP, 8080));
	assert_false(allowed("10.0.0.9", OUTSIDE, TCP, 8080));

	/* ipBlock peer: pods inside the block (and not excepted), as /32 groups. */
	r->npeers = 0;
	peer_block(r, "10.0.0.0/8", "10.0.0.2/32", NULL);
	compile();
	assert_true(allowed("10.0.0.9", "10.0.0.1", TCP, 8080));
	assert_false(allowed("10.0.0.9", "10.0.0.1", TCP, 7070));
	assert_false(allowed("10.0.0.9", "10.0.0.2", TCP, 9090)); /* excepted */
	assert_true(allowed("10.0.0.9", "10.9.0.3", TCP, 7070));
	assert_false(allowed("10.0.0.9", "10.9.0.4", TCP, 7070)); /* no pod there */
}

/* ---- several policies -------------------------------------------------- */

static void several_policies_union(void **state)
{
	struct k8s_netpol *a, *b;
	struct k8s_np_rule *r;
	const struct pol_entry *hit;

	(void)state;
	cast();
	/* "b" and "a" both allow web on 5432; "a" sorts first and is credited. */
	b = np_add("prod", "b", sel("app=db"), IN);
	peer(ingress(b), sel("app=other"), NULL);
	r = ingress(b);
	peer(r, sel("app=web"), NULL);
	port(r, TCP, 5432, 0);
	a = np_add("prod", "a", sel("app=db"), IN);
	port(ingress(a), UDP, 1, 0); /* rule 0 of "a": unrelated */
	r = ingress(a);
	peer(r, sel("app=web"), NULL);
	port(r, TCP, 5432, 0);
	port(r, TCP, 22, 0);
	compile();
	assert_true(allowed(OTHER, DB, TCP, 1)); /* from b */
	assert_true(allowed(WEB, DB, TCP, 22)); /* from a */
	assert_true(allowed(DEVWEB, DB, UDP, 1)); /* from a, rule 0 */
	assert_false(allowed(DEVWEB, DB, TCP, 5432));
	hit = ingress_hit(WEB, DB, TCP, 5432);
	assert_int_equal(hit->val.policy_id, policy_id("prod", "a"));
	assert_int_equal(hit->val.rule, 1);
	hit = ingress_hit(OTHER, DB, TCP, 1);
	assert_int_equal(hit->val.policy_id, policy_id("prod", "b"));
	assert_int_equal(hit->val.rule, 0);
	/* Entries are unique and sorted. */
	for (size_t i = 1; i < ep(DB)->nentries; i++)
		assert_true(memcmp(&ep(DB)->entries[i - 1].key, &ep(DB)->entries[i].key,
				   sizeof(struct xcni_policy_key)) < 0);
}

/* The policies that select a pod, per direction, by name: what a drop by
 * default deny names. Past XCNI_POLSEL_IDS only the count grows. */
static void isolating_policies(void **state)
{
	const struct xcni_polsel *s;
	char name[16];

	(void)state;
	cast();
	np_add("prod", "z-deny-in", sel(""), IN);
	np_add("prod", "a-web", sel("app=web"), IN | EG);
	np_add("prod", "m-db", sel("app=db"), EG);
	np_add("dev", "deny-all", sel(""), IN | EG); /* another namespace */
	compile();
	s = &ep(WEB)->sel;
	assert_int_equal(s->n[XCNI_DIR_TO_POD], 2);
	assert_int_equal(s->ids[XCNI_DIR_TO_POD][0], policy_id("prod", "a-web"));
	assert_int_equal(s->ids[XCNI_DIR_TO_POD][1], policy_id("prod", "z-deny-in"));
	assert_int_equal(s->ids[XCNI_DIR_TO_POD][2], 0);
	assert_int_equal(s->n[XCNI_DIR_FROM_POD], 1);
	assert_int_equal(s->ids[XCNI_DIR_FROM_POD][0], policy_id("prod", "a-web"));
	s = &ep(DB)->sel;
	assert_int_equal(s->n[XCNI_DIR_TO_POD], 1);
	assert_int_equal(s->ids[XCNI_DIR_TO_POD][0], policy_id("prod", "z-deny-in"));
	assert_int_equal(s->n[XCNI_DIR_FROM_POD], 1);
	assert_int_equal(s->ids[XCNI_DIR_FROM_POD][0], policy_id("prod", "m-db"));
	assert_int_equal(ep(DEVWEB)->sel.ids[XCNI_DIR_FROM_POD][0], policy_id("dev", "deny-all"));
	for (int i = 0; i < XCNI_POLSEL_IDS + 2; i++) {
		snprintf(name, sizeof(name), "n%02d", i);
		np_add("prod", tstr(name), sel("app=db"), IN);
	}
	compile();
	s = &ep(DB)->sel;
	assert_int_equal(s->n[XCNI_DIR_TO_POD], XCNI_POLSEL_IDS + 3);
	assert_int_equal(s->ids[XCNI_DIR_TO_POD][0], policy_id("prod", "n00"));
	assert_int_equal(s->ids[XCNI_DIR_TO_POD][XCNI_POLSEL_IDS - 1], policy_id("prod", "n07"));
}

/* ---- an address and the pods that claim it ----------------------------- */

/*
 * Issue 37: prod/other is being deleted (Terminating: its sandbox gone, its
 * object still listed) and host-local on its node gave 10.244.0.12 to
 * dev/echo. The live pod of the same node owns the address outright: its
 * identity in the ipcache, its policy, not closed; the deleting one named
 * as having yielded. Only that: on another node, both deleting, or a
 * deleting pod with no node, the address is contested (closed) as before.
 */
static void deleting_pod_yields_on_its_node(void **state)
{
	struct k8s_pod *old, *echo;
	struct k8s_netpol *np;

	(void)state;
	cast();
	np = np_add("prod", "db-from-echo", sel("app=db"), IN);
	peer(ingress(np), sel("app=echo"), sel(""));
	old = NULL; /* cast()'s prod/other is the old pod */
	for (size_t i = 0; i < nobjs[K8S_POD]; i++)
		if (!strcmp(objs[K8S_POD][i]->pod.meta.name, "other"))
			old = &objs[K8S_POD][i]->pod;
	assert_non_null(old);
	compile();
	assert_false(allowed(OTHER, DB, TCP, 80)); /* app=other: not let in */
	/* Deleted: Running still (its containers stopping), created later than
	 * the new one, which is Pending: the contest's rule would pick it. */
	old->deleting = true;
	old->phase = K8S_POD_RUNNING;
	old->created = 2000;
	echo = pod_add("dev", "echo", "n1", OTHER, "app=echo");
	echo->phase = K8S_POD_PENDING;
	echo->created = 1000;
	compile();
	assert_int_equal(R.ncontested, 0);
	assert_int_equal(R.nyielded, 1);
	assert_int_equal(R.yielded[0].ip, ip4(OTHER));
	assert_string_equal(R.yielded[0].from.ns, "prod");
	assert_string_equal(R.yielded[0].from.name, "other");
	assert_string_equal(R.yielded[0].from.node, "n1");
	assert_string_equal(R.yielded[0].to.ns, "dev");
	assert_string_equal(R.yielded[0].to.name, "echo");
	assert_false(ep(OTHER)->state.isolated & XCNI_POLEP_CONTESTED);
	assert_int_not_equal(pod_identity(&R, OTHER), XCNI_ID_UNMANAGED);
	assert_true(allowed(OTHER, DB, TCP, 80)); /* judged as echo */
	for (size_t i = 0; i < R.npodnames; i++)
		if (R.podnames[i].ip == ip4(OTHER))
			assert_string_equal(R.podnames[i].name.name, "echo");
	/* The old pod on another node: contested, closed, both named. */
	old->node_name = tstr("n2");
	compile();
	assert_int_equal(R.nyielded, 0);
	assert_int_equal(R.ncontested, 2);
	assert_int_equal(pod_identity(&R, OTHER), XCNI_ID_UNMANAGED);
	assert_false(allowed(OTHER, DB, TCP, 80));
	/* With no node (nothing says which host-local gave it). */
	old->node_name = NULL;
	compile();
	assert_int_equal(R.nyielded, 0);
	assert_int_equal(R.ncontested, 2);
	old->node_name = tstr("");
	echo->node_name = tstr("");
	compile();
	assert_int_equal(R.nyielded, 0);
	assert_int_equal(R.ncontested, 2);
	/* Both being deleted, on one node: neither is the live one. */
	old->node_name = tstr("n1");
	echo->node_name = tstr("n1");
	echo->deleting = true;
	compile();
	assert_int_equal(R.nyielded, 0);
	assert_int_equal(R.ncontested, 2);
	assert_false(allowed(OTHER, DB, TCP, 80));
	/* Two live ones and a deleting one, all of n1: it yields, they contest. */
	echo->deleting = false;
	pod_add("dev", "echo2", "n1", OTHER, "app=echo");
	compile();
	assert_int_equal(R.nyielded, 1);
	assert_string_equal(R.yielded[0].from.name, "other");
	assert_int_equal(R.ncontested, 2);
	for (size_t i = 0; i < R.ncontested; i++)
		assert_string_not_equal(R.contested[i].name.name, "other");
	assert_int_equal(pod_identity(&R, OTHER), XCNI_ID_UNMANAGED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(unselected_pod_not_isolated),
		T(policy_types),
		T(empty_ingress_denies_all),
		T(empty_rule_allows_all),
		T(numeric_port),
		T(protocols),
		T(port_without_protocol_is_tcp),
		T(port_ranges),
		T(named_port_ingress),
		T(named_port_egress),
		T(several_policies_union),
		T(isolating_policies),
		T(deleting_pod_yields_on_its_node),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
