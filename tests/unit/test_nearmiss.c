// SPDX-License-Identifier: Apache-2.0
/*
 * Selectors and near misses (lib/policy/nearmiss.h) over the compiler's
 * view and result: what each selector selects (pods, identities), and for a
 * flow a default deny dropped the allow rules whose port took it but whose
 * peer did not, with the nearest label that exists: a value or a key a slip
 * away, a namespaceSelector matching no namespace, a ClusterNetworkPolicy's
 * rule, a podSelector looking in the wrong namespace.
 */
#define MAXN 1024
#include "polsim.h"

#include "../../user/lib/policy/nearmiss.h"
#include "../../user/lib/system/clock.h"
#include "../../user/lib/system/util.h"

/* The app of issue 53: frontend, two backends and a db in store; web elsewhere. */
static struct k8s_pod *FE, *BE0, *BE1, *DB0, *WEBFE, *NOPOD;

static void store_app(void)
{
	ns_add("store", "tier=shop");
	ns_add("web", "team=frontend");
	FE = pod_add("store", "frontend", "n1", "10.244.0.10", "app=frontend");
	BE0 = pod_add("store", "backend-0", "n1", "10.244.0.11", "app=backend");
	BE1 = pod_add("store", "backend-1", "n1", "10.244.0.12", "app=backend");
	DB0 = pod_add("store", "db-0", "n1", "10.244.0.13", "app=db");
	WEBFE = pod_add("web", "frontend", "n1", "10.244.0.20", "app=frontend");
	np_add("store", "default-deny", sel(""), IN | EG);
}

/* The db's allow rule from a podSelector, TCP 5432. */
static struct k8s_np_rule *db_rule(const char *from)
{
	struct k8s_np_rule *r = ingress(np_add("store", "db-from-backend", sel("app=db"), IN));

	peer(r, sel(from), NULL);
	port(r, TCP, 5432, 0);
	return r;
}

/* The user's case compiled: store_app with the db's rule from app=backend-api. */
static struct cluster backend_api(void)
{
	struct cluster c;

	store_app();
	db_rule("app=backend-api");
	c = view();
	compile();
	return c;
}

/* The near misses of other -> self, TCP port, each as its sentence, "\n"-joined. */
static const char *misses(const struct k8s_pod *self, const struct k8s_pod *other, uint16_t p)
{
	static char out[4096];
	struct cluster c = view();
	struct pol_nm_list l;
	size_t o = 0;

	compile();
	assert_int_equal(pol_nm_near_misses(&c, &R, self, other, NM_INGRESS, TCP, p, &l), 0);
	out[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		char s[1024];

		o += snprintf(out + o, sizeof(out) - o, "%s%s", i ? "\n" : "",
			      pol_nm_sentence(&l.v[i], s, sizeof(s)));
	}
	pol_nm_list_free(&l);
	return out;
}

static void near_words(void **state)
{
	(void)state;
	assert_int_equal(pol_nm_near("backend", "backend"), 0);
	assert_int_equal(pol_nm_near("backend", "backnd"), 1); /* deleted */
	assert_int_equal(pol_nm_near("backend", "bakcend"), 1); /* swapped */
	assert_int_equal(pol_nm_near("app", "ap"), 1);
	assert_int_equal(pol_nm_near("backend", "backenx"), 1);
	assert_int_equal(pol_nm_near("frontend", "frontnd1"), 2); /* two in a long word */
	assert_int_equal(pol_nm_near("backend-api", "backend"), 4); /* words added */
	assert_int_equal(pol_nm_near("backend", "api.backend"), 4);
	assert_int_equal(pol_nm_near("db", "xy"), SIZE_MAX);
	assert_int_equal(pol_nm_near("web", "db"), SIZE_MAX);
	assert_int_equal(pol_nm_near("backendapi", "backend"), SIZE_MAX); /* no separator */
	assert_int_equal(pol_nm_near("ab", "ba"), 1);
}

/* The user's case: a word added to the value; the rule, the selector and the near label. */
static void typo_value_words_added(void **state)
{
	(void)state;
	store_app();
	db_rule("app=backend-api");
	assert_string_equal(misses(DB0, BE0, 5432),
			    "store/db-from-backend rule 0: from podSelector app=backend-api \xe2\x80\x94 "
			    "selects no pod (app=backend has 2)");
	/* A port the rule does not take: no near miss, whatever the peer. */
	assert_string_equal(misses(DB0, BE0, 80), "");
	/* default-deny selects the frontend too, but has no rule: nothing near. */
	assert_string_equal(misses(FE, BE0, 5432), "");
}

/* Any flow (policy get: no peer, no port): every peer of the pod's allow rules. */
static void any_flow(void **state)
{
	struct cluster c;
	struct pol_nm_list l;
	char s[1024];

	(void)state;
	c = backend_api();
	assert_int_equal(pol_nm_near_misses(&c, &R, DB0, NULL, NM_INGRESS, 0, 0, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(pol_nm_sentence(&l.v[0], s, sizeof(s)),
			    "store/db-from-backend rule 0: from podSelector app=backend-api \xe2\x80\x94 "
			    "selects no pod (app=backend has 2)");
	pol_nm_list_free(&l);
	assert_int_equal(pol_nm_near_misses(&c, &R, DB0, NULL, NM_EGRESS, 0, 0, &l), 0);
	assert_int_equal(l.n, 0); /* default-deny isolates its egress, with no rule */
	pol_nm_list_free(&l);
}

/*
 * The db's rule from one podSelector (db_rule) and the sentence of PEER ->
 * db-0 on TCP 5432, one case a row (the test's name).
 */
struct db_case {
	const char *name, *from;
	struct k8s_pod **peer;
	const char *want;
};

static const struct db_case db_cases[] = {
	{ "typo_value_one_edit", "app=backnd", &BE1,
	  "store/db-from-backend rule 0: from podSelector app=backnd \xe2\x80\x94 "
	  "selects no pod (app=backend has 2)" },
	{ "typo_key", "ap=backend", &BE0,
	  "store/db-from-backend rule 0: from podSelector ap=backend \xe2\x80\x94 "
	  "selects no pod (app=backend has 2)" },
	/*
	 * The denials a rule intends (docs/flows.md "Near misses"): no near miss
	 * on the flow. A selector that selects nothing and names nothing like
	 * the peer (policy get and policy selectors still name it); another app
	 * of the namespace; a peer that is no pod.
	 */
	{ "intended_empty_not_near", "app=zzz", &BE0, "" },
	{ "intended_other_app", "app=backend", &FE, "" },
	{ "intended_no_pod_peer", "app=backend", &NOPOD, "" },
	/* Two terms, one a slip, the other a label the peer lacks: not near. */
	{ "intended_one_term_far", "app=backnd,tier=api", &BE0, "" },
	/* Every failing term a slip: near. */
	{ "typo_two_terms", "app=backnd,ap=backend", &BE0,
	  "store/db-from-backend rule 0: from podSelector ap=backend,app=backnd \xe2\x80\x94 "
	  "selects no pod (app=backend has 2)" },
	/* A podSelector alone looks in the policy's namespace: the peer in another one. */
	{ "pod_selector_other_namespace", "app=frontend", &WEBFE,
	  "store/db-from-backend rule 0: from podSelector app=frontend \xe2\x80\x94 "
	  "selects 1 pod, not web/frontend (it is in namespace web; a podSelector "
	  "alone looks in store only)" },
};

static void db_rule_sentence(void **state)
{
	const struct db_case *k = *state;

	store_app();
	db_rule(k->from);
	assert_string_equal(misses(DB0, *k->peer, 5432), k->want);
}

/* The selector selects a pod, just not this one: the peer's own label is the near one. */
static void selects_others(void **state)
{
	(void)state;
	store_app();
	pod_add("store", "api-0", "n1", "10.244.0.14", "app=backend-api");
	db_rule("app=backend-api");
	assert_string_equal(misses(DB0, BE0, 5432),
			    "store/db-from-backend rule 0: from podSelector app=backend-api \xe2\x80\x94 "
			    "selects 1 pod, not store/backend-0 (it has app=backend)");
	/* The one it selects is allowed: no near miss for it. */
	assert_string_equal(misses(DB0, &objs[K8S_POD][5]->pod, 5432), "");
}

/* Egress: the backend's rule to the db, on the db's named port, with a key typo. */
static void egress_named_port(void **state)
{
	struct cluster c;
	struct k8s_np_rule *r;
	struct pol_nm_list l;
	char s[1024];

	(void)state;
	store_app();
	pod_port(DB0, "pg", TCP, 5432);
	r = egress(np_add("store", "backend-to-db", sel("app=backend"), EG));
	peer(r, sel("ap=db"), NULL);
	port_named(r, TCP, "pg");
	c = view();
	compile();
	assert_int_equal(pol_nm_near_misses(&c, &R, BE0, DB0, NM_EGRESS, TCP, 5432, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(pol_nm_sentence(&l.v[0], s, sizeof(s)),
			    "store/backend-to-db rule 0: to podSelector ap=db \xe2\x80\x94 "
			    "selects no pod (app=db has 1)");
	pol_nm_list_free(&l);
	/* Another port: the named one is the db's 5432 only. */
	assert_int_equal(pol_nm_near_misses(&c, &R, BE0, DB0, NM_EGRESS, TCP, 5433, &l), 0);
	assert_int_equal(l.n, 0);
	pol_nm_list_free(&l);
}

static void namespace_selector_no_namespace(void **state)
{
	struct k8s_np_rule *r;

	(void)state;
	store_app();
	r = ingress(np_add("store", "db-from-web", sel("app=db"), IN));
	peer(r, sel("app=frontend"), sel("team=frontnd"));
	port(r, TCP, 5432, 0);
	assert_string_equal(misses(DB0, WEBFE, 5432),
			    "store/db-from-web rule 0: from namespaceSelector team=frontnd, podSelector "
			    "app=frontend \xe2\x80\x94 namespaceSelector matches no namespace "
			    "(team=frontend has 1)");
	/* The same labels in the policy's own namespace (tier=shop, far from
	 * team=frontnd): not what the rule names, intended. */
	assert_string_equal(misses(DB0, FE, 5432), "");
}

/* A ClusterNetworkPolicy's Accept rule, named; its Deny rules are no near misses. */
static void cnp_accept_rule(void **state)
{
	struct k8s_cnp *p;
	struct k8s_cnp_rule *r;

	(void)state;
	store_app();
	p = &obj(K8S_CLUSTERNETPOL, NULL, "store-db", "")->cnp;
	p->tier = K8S_CNP_ADMIN;
	p->priority = 10;
	p->subj_ns = sel("tier=shop");
	p->subj_pod = sel("app=db");
	p->ingress = tmem(4 * sizeof(*p->ingress));
	r = &p->ingress[p->ningress++];
	r->action = K8S_CNP_ACCEPT;
	r->name = tstr("from-backends");
	r->peers = tmem(4 * sizeof(*r->peers));
	r->peers[r->npeers].ns_sel = sel("tier=shop");
	r->peers[r->npeers++].pod_sel = sel("app=bakcend");
	r->protos = tmem(4 * sizeof(*r->protos));
	r->protos[r->nprotos++] = (struct k8s_cnp_proto){ .proto = TCP, .port = 5432, .end_port = 5432 };
	r = &p->ingress[p->ningress++];
	r->action = K8S_CNP_DENY;
	r->peers = tmem(4 * sizeof(*r->peers));
	r->peers[r->npeers++].ns_sel = sel("team=frontend");
	assert_string_equal(misses(DB0, BE0, 5432),
			    "Admin 10 store-db rule 0 \"from-backends\": from namespaceSelector "
			    "tier=shop, podSelector app=bakcend \xe2\x80\x94 selects no pod "
			    "(app=backend has 2)");
	assert_string_equal(misses(DB0, BE0, 5433), "");
	assert_string_equal(misses(BE1, BE0, 5432), ""); /* not its subject */
}

/* Every selector: what it selects now, its identities, the empty one noted. */
static void selectors_listed(void **state)
{
	struct cluster c;
	struct pol_nm_list l;
	char s[1024];

	(void)state;
	c = backend_api();
	assert_int_equal(pol_nm_selectors(&c, &R, &l), 0);
	/* default-deny's subject; db-from-backend's subject and its peer */
	assert_int_equal(l.n, 3);
	assert_string_equal(pol_nm_sentence(&l.v[0], s, sizeof(s)),
			    "store/db-from-backend: applies to podSelector app=db \xe2\x80\x94 selects 1 pod");
	assert_int_equal(l.v[0].nids, 1);
	assert_int_equal(l.v[0].ids[0], pol_ipcache_identity(&R, ip4("10.244.0.13")));
	assert_ptr_equal(l.v[0].sel[0], DB0);
	assert_string_equal(pol_nm_sentence(&l.v[1], s, sizeof(s)),
			    "store/db-from-backend rule 0: from podSelector app=backend-api \xe2\x80\x94 "
			    "selects no pod (app=backend has 2)");
	assert_int_equal(l.v[1].npods, 0);
	assert_int_equal(l.v[1].nids, 0);
	assert_int_equal(l.v[1].part, NM_INGRESS);
	assert_string_equal(pol_nm_sentence(&l.v[2], s, sizeof(s)),
			    "store/default-deny: applies to podSelector {} \xe2\x80\x94 selects 4 pods");
	/* backend-0 and -1 share one identity; frontend, db: one each */
	assert_int_equal(l.v[2].nids, 3);
	pol_nm_list_free(&l);
}

/*
 * The one line a flow record, explain and policy get carry (pol_nm_join):
 * the sentences "; "-joined in the list's order; empty_only keeps the
 * selectors that select nothing; a short buffer is cut, still a string.
 */
static void joined_line(void **state)
{
	struct cluster c;
	struct pol_nm_list l;
	char buf[2048], want[2048], s0[1024], s1[1024], small[16];
	struct k8s_np_rule *r;

	(void)state;
	store_app();
	r = db_rule("app=backend-api");
	/* selects a pod, not backend-0, whose label is a word short of it */
	pod_add("store", "api-0", "n1", "10.244.0.14", "app=backend-v2");
	peer(r, sel("app=backend-v2"), NULL);
	c = view();
	compile();
	assert_int_equal(pol_nm_near_misses(&c, &R, DB0, BE0, NM_INGRESS, TCP, 5432, &l), 0);
	assert_int_equal(l.n, 2);
	snprintf(want, sizeof(want), "%s; %s", pol_nm_sentence(&l.v[0], s0, sizeof(s0)),
		 pol_nm_sentence(&l.v[1], s1, sizeof(s1)));
	assert_int_equal(pol_nm_join(&l, false, buf, sizeof(buf)), 2);
	assert_string_equal(buf, want);
	assert_int_equal(pol_nm_join(&l, true, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "store/db-from-backend rule 0: from podSelector app=backend-api "
				 "\xe2\x80\x94 selects no pod (app=backend has 2)");
	assert_int_equal(pol_nm_join(&l, false, small, sizeof(small)), 2);
	assert_string_equal(small, "store/db-from-b");
	pol_nm_list_free(&l);
	/* Nothing near (a port the rule does not take): "" */
	assert_int_equal(pol_nm_near_misses(&c, &R, DB0, BE0, NM_INGRESS, TCP, 80, &l), 0);
	assert_int_equal(pol_nm_join(&l, false, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	pol_nm_list_free(&l);
}

/* The agent's use of the gate (user/agent/flows.c): 1 answered, 0 skipped, -errno. */
static int budgeted(struct pol_nm_budget *b, const char *key, uint64_t now, const struct cluster *c,
		    const struct k8s_pod *self, const struct k8s_pod *other)
{
	uint64_t t0 = xcni_mono_ns();
	struct pol_nm_list l;
	int r = pol_nm_gate(b, key, now), err;

	if (r == NM_WALK) {
		err = pol_nm_near_misses(c, NULL, self, other, NM_INGRESS, TCP, 5432, &l);
		if (!err) {
			pol_nm_join(&l, false, b->text, sizeof(b->text));
			pol_nm_list_free(&l);
		}
		r = pol_nm_charge(b, key, t0, err);
	}
	return r < 0 ? r : r == NM_KEPT;
}

/*
 * The agent's bound (pol_nm_gate): a pod that sends denied flows to 900
 * pods makes a record each, and each record a walk over the cluster. Past
 * the second's time no walk is made (the records go without, counted), a
 * repeat of the last key walks never, and the next second walks again.
 */
static void budget_bounds_walks(void **state)
{
	struct pol_nm_budget b = { .limit_ns = 2 * 1000 * 1000 };
	struct k8s_pod *peers[900];
	struct cluster c;
	char key[64];
	uint64_t now = 5ull * 1000000000, walks;
	int r;

	(void)state;
	store_app();
	db_rule("app=backend-api");
	for (size_t i = 0; i < ARRAY_SIZE(peers); i++) {
		char name[32], ip[32];

		snprintf(name, sizeof(name), "scan-%zu", i);
		snprintf(ip, sizeof(ip), "10.245.%zu.%zu", i / 250, i % 250 + 1);
		/* each near the rule (a word short), so each walk fills its selection */
		peers[i] = pod_add("store", tstr(name), "n1", ip, "app=backend");
	}
	c = view();
	compile();
	/* One walk: the rule and its near label named. */
	assert_int_equal(budgeted(&b, "k0", now, &c, DB0, BE0), 1);
	assert_int_equal(b.walks, 1);
	assert_non_null(strstr(b.text, "store/db-from-backend rule 0: from podSelector app=backend-api"));
	/* The same key: the answer kept, no walk. */
	assert_int_equal(budgeted(&b, "k0", now, &c, DB0, BE0), 1);
	assert_int_equal(b.walks, 1);
	/* The scan in one second: the walks stop once their time is spent. */
	for (size_t i = 0; i < ARRAY_SIZE(peers); i++) {
		snprintf(key, sizeof(key), "k%zu", i + 1);
		r = budgeted(&b, key, now, &c, DB0, peers[i]);
		assert_true(r == 0 || r == 1);
		if (!r) /* once spent, every other record of the second is skipped */
			assert_true(b.spent_ns >= b.limit_ns);
	}
	assert_true(b.skipped > 0);
	assert_int_equal(b.walks + b.skipped, 1 + ARRAY_SIZE(peers));
	walks = b.walks;
	/* The next second walks again. */
	assert_int_equal(budgeted(&b, "next", now + 1000000000, &c, DB0, BE1), 1);
	assert_int_equal(b.walks, walks + 1);
	/* limit 0: no walk at all. */
	b = (struct pol_nm_budget){ 0 };
	assert_int_equal(budgeted(&b, "k0", now, &c, DB0, BE0), 0);
	assert_int_equal(b.walks, 0);
	assert_int_equal(b.skipped, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(near_words),
		T(typo_value_words_added),
		T(any_flow),
		T(selects_others),
		T(egress_named_port),
		T(namespace_selector_no_namespace),
		T(cnp_accept_rule),
		T(selectors_listed),
		T(joined_line),
		T(budget_bounds_walks),
#undef T
	};
	struct CMUnitTest all[ARRAY_SIZE(tests) + ARRAY_SIZE(db_cases)];
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(tests); i++)
		all[n++] = tests[i];
	for (size_t i = 0; i < ARRAY_SIZE(db_cases); i++)
		all[n++] = (struct CMUnitTest){ db_cases[i].name, db_rule_sentence, setup, teardown,
						(void *)&db_cases[i] };
	return _cmocka_run_group_tests("tests", all, n, NULL, NULL);
}
