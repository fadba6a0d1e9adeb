// SPDX-License-Identifier: Apache-2.0
/*
 * ClusterNetworkPolicy (v1alpha2) tiers and audit mode: the parser's
 * refusals, the compiler's verdict entries read as the data plane reads them
 * (polsim.h), and a reference evaluator written from the API's text that the
 * compiled maps must agree with on every (pod, peer, port) of small random
 * clusters.
 */
#include "polsim.h"
#include "polref.h"

#include "../../user/lib/cluster/k8s.h"

#define ADMIN K8S_CNP_ADMIN
#define BASELINE K8S_CNP_BASELINE
#define ACCEPT K8S_CNP_ACCEPT
#define DENY K8S_CNP_DENY
#define PASS K8S_CNP_PASS

/* ---- constructors --------------------------------------------------------- */

static struct k8s_cnp *cnp_add(const char *name, enum k8s_cnp_tier tier, uint32_t prio,
			       struct k8s_selector *ns, struct k8s_selector *pod)
{
	struct k8s_cnp *p = &obj(K8S_CLUSTERNETPOL, NULL, name, "")->cnp;

	p->tier = tier;
	p->priority = prio;
	p->subj_ns = ns;
	p->subj_pod = pod;
	p->ingress = tmem(8 * sizeof(*p->ingress));
	p->egress = tmem(8 * sizeof(*p->egress));
	return p;
}

static struct k8s_cnp_rule *crule(struct k8s_cnp *p, int dir, enum k8s_cnp_action a)
{
	struct k8s_cnp_rule *r = dir == IN ? &p->ingress[p->ningress++] : &p->egress[p->negress++];

	r->action = a;
	r->peers = tmem(8 * sizeof(*r->peers));
	r->protos = tmem(8 * sizeof(*r->protos));
	return r;
}

static void cpeer_ns(struct k8s_cnp_rule *r, struct k8s_selector *ns)
{
	r->peers[r->npeers++].ns_sel = ns;
}

static void cpeer_pods(struct k8s_cnp_rule *r, struct k8s_selector *ns, struct k8s_selector *pod)
{
	r->peers[r->npeers].ns_sel = ns;
	r->peers[r->npeers++].pod_sel = pod;
}

static void cpeer_nodes(struct k8s_cnp_rule *r, struct k8s_selector *nodes)
{
	r->peers[r->npeers++].node_sel = nodes;
}

static void cpeer_net(struct k8s_cnp_rule *r, const char *c)
{
	struct k8s_cnp_peer *p = &r->peers[r->npeers++];

	p->nets = tmem(sizeof(*p->nets));
	p->nets[0] = cidr(c);
	p->nnets = 1;
}

static void cpeer_domain(struct k8s_cnp_rule *r, const char *name)
{
	struct k8s_cnp_peer *p = &r->peers[r->npeers++];

	p->domains = tmem(sizeof(*p->domains));
	p->domains[0] = tstr(name);
	p->ndomains = 1;
}

static void cproto(struct k8s_cnp_rule *r, uint8_t proto, uint16_t lo, uint16_t hi)
{
	r->protos[r->nprotos++] = (struct k8s_cnp_proto){ .proto = proto, .port = lo,
							  .end_port = hi };
}

static void cnamed(struct k8s_cnp_rule *r, const char *name)
{
	r->protos[r->nprotos++] = (struct k8s_cnp_proto){ .port_name = tstr(name) };
}

/* The reference, the API's text evaluated directly: polref.h. */

/* ---- deterministic cases -------------------------------------------------- */

static struct k8s_pod *pod_named(const char *ns, const char *name)
{
	for (size_t i = 0; i < nobjs[K8S_POD]; i++)
		if (!strcmp(objs[K8S_POD][i]->meta.ns, ns) && !strcmp(objs[K8S_POD][i]->meta.name, name))
			return &objs[K8S_POD][i]->pod;
	fail_msg("no pod %s/%s", ns, name);
	return NULL;
}

static const struct pol_entry *hit_in(const char *src, const char *dst, uint8_t proto,
				      uint16_t port)
{
	const struct pol_entry *hit;

	side(&R, ip4(dst), XCNI_DIR_TO_POD, ip4(src), proto, port, &hit);
	return hit;
}

/* An Admin Deny beats the NetworkPolicy that allows; the entry names the tier and rule. */
static void test_admin_deny_beats_np(void **state)
{
	struct k8s_cnp *p;
	struct k8s_np_rule *r;
	const struct pol_entry *h;

	(void)state;
	cast();
	r = ingress(np_add("prod", "allow-web", sel("app=web"), IN));
	peer(r, sel(""), sel(""));
	p = cnp_add("no-dev", ADMIN, 10, sel("team=a"), NULL);
	crule(p, IN, ACCEPT)->name = "keep-ssh";
	cproto(&p->ingress[0], TCP, 22, 22);
	cpeer_ns(&p->ingress[0], sel(""));
	cpeer_ns(crule(p, IN, DENY), sel("team=b"));
	compile();
	assert_false(allowed(DEVCLIENT, WEB, TCP, 80));
	h = hit_in(DEVCLIENT, WEB, TCP, 80);
	assert_non_null(h);
	assert_int_equal(h->val.policy_id, policy_id("cnp:Admin 10", "no-dev"));
	assert_int_equal(h->val.rule, 1);
	assert_int_equal(h->val.flags, XCNI_POLV_DENY | XCNI_TIER_ADMIN << XCNI_POLV_TIER_SHIFT);
	/* rule 0 comes first: SSH from dev is accepted by the Admin tier */
	assert_true(allowed(DEVCLIENT, WEB, TCP, 22));
	h = hit_in(DEVCLIENT, WEB, TCP, 22);
	assert_int_equal(h->val.rule, 0);
	assert_int_equal(h->val.flags, XCNI_TIER_ADMIN << XCNI_POLV_TIER_SHIFT);
	/* prod -> web: no Admin rule matches, the NetworkPolicy allows */
	assert_true(allowed(DB, WEB, TCP, 80));
	h = hit_in(DB, WEB, TCP, 80);
	assert_int_equal(h->val.policy_id, policy_id("prod", "allow-web"));
	assert_int_equal(h->val.flags, 0);
	/* prod/db has no NetworkPolicy and no Admin rule matching prod peers: open */
	REACH(DB, UDP, 53, "+-", WEB, DEVWEB);
	/* the dev namespace is no subject: untouched */
	assert_true(allowed(WEB, DEVWEB, TCP, 80));
}

/* Pass skips the rest of the Admin tier: NetworkPolicy decides, or Baseline. */
static void test_pass_falls_through(void **state)
{
	struct k8s_cnp *a, *b;
	struct k8s_np_rule *r;

	(void)state;
	cast();
	a = cnp_add("a-pass", ADMIN, 1, sel("team=a"), NULL);
	cpeer_ns(crule(a, IN, PASS), sel("team=b"));
	a->ingress[0].name = tstr("dev-to-np");
	b = cnp_add("b-deny", ADMIN, 2, sel("team=a"), NULL);
	cpeer_ns(crule(b, IN, DENY), sel(""));
	/* web: a NetworkPolicy allows dev's client only */
	r = ingress(np_add("prod", "web", sel("app=web"), IN));
	peer(r, sel("app=client"), sel("team=b"));
	compile();
	assert_true(allowed(DEVCLIENT, WEB, TCP, 80)); /* passed, NP allows */
	assert_false(allowed(DEVWEB, WEB, TCP, 80)); /* passed, NP isolates */
	assert_false(allowed(DB, WEB, TCP, 80)); /* not passed: b-deny */
	/* db has no NetworkPolicy: the Baseline tier, then open */
	assert_true(allowed(DEVWEB, DB, TCP, 80));
	b = cnp_add("base", BASELINE, 0, sel(""), NULL);
	cpeer_ns(crule(b, IN, DENY), sel("team=b"));
	compile();
	assert_false(allowed(DEVWEB, DB, TCP, 80));
	/* the entry names the Pass it went through (Pass number 1, a-pass's rule 0) */
	assert_int_equal(hit_in(DEVWEB, DB, TCP, 80)->val.flags,
			 XCNI_POLV_DENY | XCNI_TIER_BASELINE << XCNI_POLV_TIER_SHIFT |
				 1 << XCNI_POLV_PASS_SHIFT);
	assert_int_equal(XCNI_POLV_TIER(hit_in(DEVCLIENT, WEB, TCP, 80)->val.flags), XCNI_TIER_NP);
	assert_int_equal(XCNI_POLV_PASS(hit_in(DEVCLIENT, WEB, TCP, 80)->val.flags), 1);
	assert_int_equal(XCNI_POLV_PASS(hit_in(DB, WEB, TCP, 80)->val.flags), 0); /* b-deny */
	assert_true(allowed(DEVCLIENT, WEB, TCP, 80)); /* NetworkPolicy decided before Baseline */
	/* names for people: a-pass's rule by (policy, rule, dir), and Pass number 1 */
	assert_int_equal(R.nrulenames, 2);
	assert_int_equal(R.rulenames[0].key.policy_id, 0);
	assert_int_equal(R.rulenames[0].key.rule, 1);
	assert_int_equal(R.rulenames[0].key.dir, XCNI_RULENAME_PASS);
	assert_int_equal(R.rulenames[1].key.dir, XCNI_DIR_TO_POD);
	assert_int_equal(R.rulenames[1].key.rule, 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(R.rulenames[i].val.policy_id, R.rulenames[1].key.policy_id);
		assert_int_equal(R.rulenames[i].val.action, PASS);
		assert_string_equal(R.rulenames[i].val.name, "dev-to-np");
	}
	assert_int_not_equal(R.rulenames[1].key.policy_id, 0);
}

/* Baseline applies only where no NetworkPolicy selects the pod. */
static void test_baseline(void **state)
{
	struct k8s_cnp *b;
	struct k8s_np_rule *r;

	(void)state;
	cast();
	b = cnp_add("default-deny-cross", BASELINE, 500, sel(""), NULL);
	cpeer_ns(crule(b, IN, DENY), sel("team=b"));
	r = ingress(np_add("prod", "db", sel("app=db"), IN));
	peer(r, sel(""), sel("team=b"));
	compile();
	assert_false(allowed(DEVWEB, WEB, TCP, 80));
	assert_true(allowed(DEVWEB, DB, TCP, 80)); /* a NetworkPolicy selects db */
	assert_false(allowed(WEB, DB, TCP, 80)); /* ... and allows only dev */
	assert_true(allowed(WEB, OTHER, TCP, 80));
}

/* Lower priority first; equal priorities by name. */
static void test_priorities(void **state)
{
	struct k8s_cnp *p;

	(void)state;
	cast();
	p = cnp_add("z-accept", ADMIN, 5, sel("team=a"), NULL);
	cpeer_ns(crule(p, IN, ACCEPT), sel(""));
	p = cnp_add("deny", ADMIN, 7, sel("team=a"), NULL);
	cpeer_ns(crule(p, IN, DENY), sel(""));
	compile();
	assert_true(allowed(DEVWEB, WEB, TCP, 80));
	p->priority = 5; /* equal: "deny" sorts before "z-accept" */
	compile();
	assert_false(allowed(DEVWEB, WEB, TCP, 80));
	p->priority = 4;
	compile();
	assert_false(allowed(DEVWEB, WEB, TCP, 80));
}

/* Ports, ranges and named ports: the destination's name, per pod. */
static void test_ports(void **state)
{
	struct k8s_cnp *p;
	struct k8s_cnp_rule *r;

	(void)state;
	cast();
	pod_port(pod_named("prod", "web"), "http", TCP, 8080);
	pod_port(pod_named("prod", "db"), "http", TCP, 9090);
	p = cnp_add("ports", ADMIN, 1, sel(""), sel("app=client"));
	r = crule(p, EG, DENY);
	cpeer_ns(r, sel(""));
	cnamed(r, "http");
	r = crule(p, EG, DENY);
	cpeer_ns(r, sel(""));
	cproto(r, UDP, 1000, 2000);
	cproto(r, SCTP, 0, 0);
	compile();
	assert_false(allowed(DEVCLIENT, WEB, TCP, 8080));
	assert_true(allowed(DEVCLIENT, WEB, TCP, 9090)); /* db's http, not web's */
	assert_false(allowed(DEVCLIENT, DB, TCP, 9090));
	assert_true(allowed(DEVCLIENT, DB, UDP, 999));
	assert_false(allowed(DEVCLIENT, DB, UDP, 1000));
	assert_false(allowed(DEVCLIENT, DB, UDP, 1500));
	assert_false(allowed(DEVCLIENT, DB, UDP, 2000));
	assert_true(allowed(DEVCLIENT, DB, UDP, 2001));
	assert_false(allowed(DEVCLIENT, DB, SCTP, 7));
	assert_true(allowed(DEVCLIENT, DB, ICMP, 0));
	/* ingress: the subject's own named port */
	p = cnp_add("in", ADMIN, 0, sel(""), sel("app=db"));
	r = crule(p, IN, DENY);
	cpeer_ns(r, sel(""));
	cnamed(r, "http");
	compile();
	assert_false(allowed(WEB, DB, TCP, 9090));
	assert_true(allowed(WEB, DB, TCP, 8080));
}

/* networks: both families, pods' and nodes' addresses too; nodes by their labels. */
static void test_networks_nodes(void **state)
{
	struct k8s_cnp *p;
	struct k8s_cnp_rule *r;
	struct k8s_object *n2;
	uint32_t cl;

	(void)state;
	cast();
	pod_ip6(pod_named("prod", "db"), "fd00:10::11");
	node_add("n1", "192.168.0.1");
	n2 = node6_add("n2", "192.168.0.2", "fd00::2");
	n2->meta.labels = labels("zone=b");
	p = cnp_add("egress", ADMIN, 1, sel("team=b"), NULL);
	cpeer_net(crule(p, EG, DENY), "192.0.2.0/24");
	cpeer_net(crule(p, EG, DENY), "fd00:10::/64");
	cpeer_net(crule(p, EG, DENY), "10.244.0.10/32"); /* web's address */
	cpeer_nodes(crule(p, EG, DENY), sel("zone=b"));
	r = crule(p, EG, ACCEPT);
	cpeer_net(r, "0.0.0.0/0");
	cpeer_net(r, "::/0");
	r = crule(p, EG, DENY); /* never reached: everything matched above */
	cpeer_ns(r, sel(""));
	compile();
	cl = ip4(DEVCLIENT);
	assert_false(allowed(DEVCLIENT, OUTSIDE, TCP, 80));
	assert_true(allowed(DEVCLIENT, "198.51.100.1", TCP, 80));
	assert_false(allowed(DEVCLIENT, WEB, TCP, 80));
	assert_true(allowed(DEVCLIENT, DB, TCP, 80));
	assert_false(side6(&R, cl, XCNI_DIR_FROM_POD, "fd00:10::11", pod_identity(&R, DB), TCP, 80));
	assert_true(side6(&R, cl, XCNI_DIR_FROM_POD, "fd00:20::1", XCNI_ID_WORLD, TCP, 80));
	assert_false(side6(&R, cl, XCNI_DIR_FROM_POD, "fd00::2", XCNI_ID_REMOTE_NODE, TCP, 80));
	assert_false(allowed(DEVCLIENT, "192.168.0.2", TCP, 10250));
	assert_true(allowed(DEVCLIENT, "192.168.0.1", TCP, 10250));
}

/*
 * The pod's own node: its egress to it is the tiers' as much as to any other
 * node (a nodes peer selects it, a networks peer holds its address); its
 * ingress from it, and a NetworkPolicy's view of it, always allowed.
 */
static void test_own_node(void **state)
{
	struct pol_opts o = { .node_name = "n1", .node_ip = ip4("192.168.0.1"),
			      .gateway_ip = ip4("169.254.1.1") };
	struct k8s_cnp *p;
	struct k8s_cnp_rule *r;
	const struct pol_ep *ep;
	uint32_t cl;

	(void)state;
	cast();
	node6_add("n1", "192.168.0.1", "fd00::1")->meta.labels = labels("os=linux");
	node6_add("n2", "192.168.0.2", "fd00::2")->meta.labels = labels("os=linux");
	p = cnp_add("nodes", ADMIN, 1, sel("team=b"), NULL);
	r = crule(p, EG, ACCEPT);
	cpeer_nodes(r, sel("os=linux"));
	cproto(r, TCP, 10250, 10250);
	cpeer_nodes(crule(p, EG, DENY), sel("os=linux"));
	assert_int_equal(compile_opts(&R, &o), 0);
	cl = ip4(DEVCLIENT);
	ep = pol_ep_find(&R, cl);
	assert_non_null(ep);
	assert_true(ep->state.isolated & XCNI_POLEP_HOST_EGRESS);
	assert_true(allowed(DEVCLIENT, "192.168.0.1", TCP, 10250));
	assert_false(allowed(DEVCLIENT, "192.168.0.1", TCP, 22));
	assert_false(allowed(DEVCLIENT, "192.168.0.2", TCP, 22));
	assert_false(side6(&R, cl, XCNI_DIR_FROM_POD, "fd00::1", XCNI_ID_HOST, TCP, 22));
	assert_true(side6(&R, cl, XCNI_DIR_FROM_POD, "fd00::1", XCNI_ID_HOST, TCP, 10250));
	/* an address of the host no rule names: as before */
	assert_true(allowed(DEVCLIENT, "169.254.1.1", TCP, 22));
	/* the node reaches the pod whatever its egress says */
	assert_true(allowed("192.168.0.1", DEVCLIENT, TCP, 22));
	/* not a subject: nothing changes for it */
	assert_false(pol_ep_find(&R, ip4(WEB))->state.isolated & XCNI_POLEP_HOST_EGRESS);
	assert_true(allowed(WEB, "192.168.0.1", TCP, 22));
	/* a networks peer holds the node's address */
	p->egress[1].peers[0].node_sel = NULL;
	cpeer_net(&p->egress[1], "192.168.0.0/24");
	p->egress[1].peers[0] = p->egress[1].peers[1];
	p->egress[1].npeers = 1;
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_false(allowed(DEVCLIENT, "192.168.0.1", TCP, 22));
	assert_true(side6(&R, cl, XCNI_DIR_FROM_POD, "fd00::1", XCNI_ID_HOST, TCP, 22));
	/* Pass, then a NetworkPolicy isolating the egress: the own node stays
	 * allowed (NetworkPolicy never stops it), the other node is not */
	p->egress[1].action = K8S_CNP_PASS;
	np_add("dev", "lock", sel(""), EG);
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_true(allowed(DEVCLIENT, "192.168.0.1", TCP, 22));
	assert_false(allowed(DEVCLIENT, "192.168.0.2", TCP, 22));
	/* A pod at the node's address (a misconfiguration), refused where the node is
	 * not: the address stays the node's in the tiered groups as in the ipcache. */
	pod_add("dev", "squat", "n2", "192.168.0.1", "app=web");
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_true(allowed(DEVCLIENT, "192.168.0.1", TCP, 22));
	assert_false(allowed(DEVCLIENT, "192.168.0.2", TCP, 22));
}

/* Audit: the would-be denial passes, marked; the namespace annotation does it for all. */
static void test_audit(void **state)
{
	struct k8s_cnp *p;
	struct k8s_netpol *np;
	const struct pol_entry *h;

	(void)state;
	cast();
	p = cnp_add("no-dev", ADMIN, 1, sel("team=a"), NULL);
	cpeer_ns(crule(p, IN, DENY), sel("team=b"));
	p->meta.audit = true;
	np = np_add("dev", "lock", sel("app=web"), IN); /* isolates dev/web: nothing allowed */
	np->meta.audit = true;
	compile();
	assert_true(allowed(DEVCLIENT, WEB, TCP, 80));
	h = hit_in(DEVCLIENT, WEB, TCP, 80);
	assert_int_equal(h->val.flags, XCNI_POLV_DENY | XCNI_POLV_AUDIT |
					       XCNI_TIER_ADMIN << XCNI_POLV_TIER_SHIFT);
	assert_true(allowed(DEVCLIENT, DEVWEB, TCP, 80));
	assert_int_equal(hit_in(DEVCLIENT, DEVWEB, TCP, 80)->val.flags,
			 XCNI_POLV_DENY | XCNI_POLV_AUDIT);
	/* enforce again: both deny */
	p->meta.audit = false;
	np->meta.audit = false;
	compile();
	assert_false(allowed(DEVCLIENT, WEB, TCP, 80));
	assert_false(allowed(DEVCLIENT, DEVWEB, TCP, 80));
	/* the namespace's annotation audits its own NetworkPolicies' denials */
	objs[K8S_NAMESPACE][1]->meta.audit = true; /* dev */
	compile();
	assert_true(allowed(DEVCLIENT, DEVWEB, TCP, 80));
	assert_false(allowed(DEVCLIENT, WEB, TCP, 80)); /* prod is not audited */
}

/*
 * A Namespace's audit annotation is its own NetworkPolicies' only (issue 41,
 * item 5): a tenant who may annotate its Namespace does not turn the Admin
 * Deny (or the Baseline Deny) an administrator set over it into counting.
 * Tier audit comes from the ClusterNetworkPolicy's own annotation.
 */
static void test_audit_ns_scope(void **state)
{
	struct k8s_cnp *adm, *base;
	const struct pol_entry *h;

	(void)state;
	cast();
	adm = cnp_add("no-prod", ADMIN, 10, sel("team=b"), NULL); /* over dev */
	cpeer_pods(crule(adm, IN, DENY), sel("team=a"), sel("app=web"));
	base = cnp_add("base-no-prod", BASELINE, 10, sel("team=b"), NULL);
	cpeer_ns(crule(base, IN, DENY), sel("team=a"));
	np_add("dev", "lock", sel("app=web"), IN); /* isolates dev/web: nothing allowed */
	objs[K8S_NAMESPACE][1]->meta.audit = true; /* dev: the tenant's annotation */
	compile();
	/* the Admin Deny over dev drops, its entry not marked AUDIT */
	assert_false(allowed(WEB, DEVWEB, TCP, 80));
	h = hit_in(WEB, DEVWEB, TCP, 80);
	assert_non_null(h);
	assert_int_equal(h->val.policy_id, policy_id("cnp:Admin 10", "no-prod"));
	assert_int_equal(h->val.flags, XCNI_POLV_DENY | XCNI_TIER_ADMIN << XCNI_POLV_TIER_SHIFT);
	assert_false(allowed(WEB, DEVCLIENT, TCP, 80));
	/* the Baseline Deny too, where no enforced NetworkPolicy isolates */
	assert_false(allowed(DB, DEVCLIENT, TCP, 80));
	h = hit_in(DB, DEVCLIENT, TCP, 80);
	assert_non_null(h);
	assert_int_equal(h->val.flags,
			 XCNI_POLV_DENY | XCNI_TIER_BASELINE << XCNI_POLV_TIER_SHIFT);
	/* the namespace's own NetworkPolicy: audited, passes, reported */
	assert_true(allowed(DEVCLIENT, DEVWEB, TCP, 80));
	assert_int_equal(hit_in(DEVCLIENT, DEVWEB, TCP, 80)->val.flags,
			 XCNI_POLV_DENY | XCNI_POLV_AUDIT);
	/* the ClusterNetworkPolicies' own annotations still audit them */
	adm->meta.audit = true;
	base->meta.audit = true;
	compile();
	assert_true(allowed(WEB, DEVWEB, TCP, 80));
	assert_int_equal(hit_in(WEB, DEVWEB, TCP, 80)->val.flags,
			 XCNI_POLV_DENY | XCNI_POLV_AUDIT | XCNI_TIER_ADMIN << XCNI_POLV_TIER_SHIFT);
	assert_true(allowed(DB, DEVCLIENT, TCP, 80));
	assert_int_equal(hit_in(DB, DEVCLIENT, TCP, 80)->val.flags,
			 XCNI_POLV_DENY | XCNI_POLV_AUDIT |
				 XCNI_TIER_BASELINE << XCNI_POLV_TIER_SHIFT);
	/* the namespace enforcing again, the Admin one still audited: its NetworkPolicy drops */
	objs[K8S_NAMESPACE][1]->meta.audit = false;
	compile();
	assert_false(allowed(DEVCLIENT, DEVWEB, TCP, 80));
	assert_true(allowed(WEB, DEVCLIENT, TCP, 80));
}

/*
 * A policy in audit mode changes no packet's fate: its Deny does not end the
 * walk before an enforced Deny or an enforced NetworkPolicy's isolation, and
 * its Accept does not open what an enforced policy closes.
 */
static void test_audit_neutral(void **state)
{
	struct k8s_cnp *a, *b;
	const struct pol_entry *h;

	(void)state;
	cast();
	a = cnp_add("a-audit", ADMIN, 1, sel("team=a"), NULL);
	cpeer_ns(crule(a, IN, DENY), sel("team=b"));
	a->meta.audit = true;
	b = cnp_add("b-enforce", ADMIN, 2, sel("team=a"), NULL);
	cpeer_ns(crule(b, IN, DENY), sel("team=b"));
	compile();
	assert_false(allowed(DEVCLIENT, WEB, TCP, 80));
	h = hit_in(DEVCLIENT, WEB, TCP, 80);
	assert_int_equal(h->val.flags, XCNI_POLV_DENY | XCNI_TIER_ADMIN << XCNI_POLV_TIER_SHIFT);
	/* the audited Deny over an enforced NetworkPolicy that isolates web */
	b->ningress = 0;
	np_add("prod", "lock", sel("app=web"), IN);
	compile();
	assert_false(allowed(DEVCLIENT, WEB, TCP, 80));
	/* an audited Accept from everyone over the same isolation */
	a->ingress[0].action = ACCEPT;
	cpeer_ns(&a->ingress[0], sel(""));
	compile();
	assert_false(allowed(DEVCLIENT, WEB, TCP, 80));
	/* an audited Pass over an enforced Deny (the NetworkPolicy would then decide) */
	a->ingress[0].action = PASS;
	cpeer_ns(crule(b, IN, DENY), sel(""));
	compile();
	assert_false(allowed(DEVCLIENT, WEB, TCP, 80));
	/* and where the enforced policies allow, the audited Deny is reported, not applied */
	b->ningress = 0;
	a->ingress[0].action = DENY;
	ingress(np_add("prod", "open", sel("app=web"), IN)); /* admits everyone */
	compile();
	assert_true(allowed(DEVCLIENT, WEB, TCP, 80));
	assert_int_equal(hit_in(DEVCLIENT, WEB, TCP, 80)->val.flags,
			 XCNI_POLV_DENY | XCNI_POLV_AUDIT | XCNI_TIER_ADMIN << XCNI_POLV_TIER_SHIFT);
}

/*
 * An audited NetworkPolicy beside an enforced one that isolates the same pod:
 * the audited one's allows must not open anything (NetworkPolicy merges the
 * allows of every policy selecting a pod, audited or not, unless audit is
 * kept apart), with or without tiers, in both directions.
 */
static void test_audit_np_beside_enforced(void **state)
{
	struct k8s_netpol *lock, *open, *elock, *eopen;
	const struct pol_entry *h;

	(void)state;
	cast();
	lock = np_add("prod", "lock", sel("app=web"), IN); /* enforced: nothing allowed */
	open = np_add("prod", "open", sel("app=web"), IN); /* audited: everyone allowed */
	ingress(open);
	open->meta.audit = true;
	ingress(lock);
	peer(&lock->ingress[0], sel("app=db"), NULL); /* enforced: db only */
	elock = np_add("dev", "elock", sel("app=client"), EG);
	eopen = np_add("dev", "eopen", sel("app=client"), EG);
	egress(eopen); /* audited: anywhere */
	eopen->meta.audit = true;
	compile();
	REACH(WEB, TCP, 80, "+-", DB, DEVCLIENT);
	assert_false(allowed(OTHER, WEB, UDP, 53));
	h = hit_in(OTHER, WEB, TCP, 80);
	assert_non_null(h);
	assert_true(h->val.flags & XCNI_POLV_DENY);
	assert_false(h->val.flags & XCNI_POLV_AUDIT);
	assert_false(allowed(DEVCLIENT, DEVWEB, TCP, 80));
	assert_false(allowed(DEVCLIENT, OUTSIDE, TCP, 443));
	/* with a tier present the NetworkPolicy step is read back from the entries */
	cpeer_ns(crule(cnp_add("base", BASELINE, 5, sel(""), NULL), IN, ACCEPT), sel(""));
	compile();
	REACH(WEB, TCP, 80, "+-", DB, DEVCLIENT);
	assert_false(allowed(DEVCLIENT, DEVWEB, TCP, 80));
	/* the audited policy enforced: now it opens */
	open->meta.audit = false;
	eopen->meta.audit = false;
	compile();
	assert_true(allowed(DEVCLIENT, WEB, TCP, 80));
	assert_true(allowed(DEVCLIENT, DEVWEB, TCP, 80));
	(void)elock;
}

/*
 * The API's "fail closed" for a peer of a kind xcni does not know: an Accept
 * matches nothing through it, a Deny or a Pass denies everything. And a Pass
 * in the Baseline tier skips the rest of that tier (allowed by default).
 */
static void test_fail_closed(void **state)
{
	struct k8s_cnp *p, *q;
	struct k8s_cnp_rule *r;

	(void)state;
	cast();
	p = cnp_add("accept-b", ADMIN, 1, sel("team=a"), NULL);
	r = crule(p, IN, ACCEPT);
	cpeer_ns(r, sel("team=b"));
	r->peers[r->npeers++].unknown = true;
	q = cnp_add("deny-b", ADMIN, 2, sel("team=a"), NULL);
	cpeer_ns(crule(q, IN, DENY), sel("team=b"));
	compile();
	assert_true(allowed(DEVCLIENT, WEB, TCP, 80)); /* the Accept through its known peer */
	assert_true(allowed(OTHER, WEB, TCP, 80)); /* nothing else matched the unknown peer */
	/* A Deny with an unknown peer: everything, every port, whatever its other peers say. */
	r->action = DENY;
	compile();
	assert_false(allowed(OTHER, WEB, TCP, 80));
	assert_false(allowed(OTHER, WEB, UDP, 53));
	assert_false(allowed(DEVCLIENT, WEB, TCP, 443));
	/* A Pass with one: the same. */
	r->action = PASS;
	compile();
	assert_false(allowed(OTHER, WEB, TCP, 80));
	/* Baseline: Pass (priority 1) skips its Deny (priority 2): allowed. */
	p->ningress = 0;
	q->ningress = 0;
	p = cnp_add("base-pass", BASELINE, 1, sel("team=a"), NULL);
	cpeer_ns(crule(p, IN, PASS), sel(""));
	q = cnp_add("base-deny", BASELINE, 2, sel("team=a"), NULL);
	cpeer_ns(crule(q, IN, DENY), sel(""));
	compile();
	assert_true(allowed(DEVCLIENT, WEB, TCP, 80));
	p->ningress = 0;
	compile();
	assert_false(allowed(DEVCLIENT, WEB, TCP, 80));
}

/* Without ClusterNetworkPolicies the entries are NetworkPolicy's, untouched. */
static void test_no_tiers_unchanged(void **state)
{
	struct k8s_np_rule *r;
	size_t n;

	(void)state;
	cast();
	r = ingress(np_add("prod", "web", sel("app=web"), IN));
	peer(r, sel("app=client"), sel(""));
	port(r, TCP, 80, 0);
	compile();
	n = ep(WEB)->nentries;
	assert_int_equal(n, 1);
	assert_int_equal(ep(WEB)->entries[0].val.flags, 0);
	assert_int_equal(ep(DB)->state.isolated, 0);
}

/* ---- the parser ---------------------------------------------------------- */

/*
 * src's egress to outside address dst as policy_judge takes it when the
 * pod's DNS answers taught it dst through its j-th rule naming a domain
 * (j < 0: not learned): the group under polcidr dir XCNI_POLCIDR_DIR_FQDN +
 * j first, then as any address. *hit: the entry that decided.
 */
static bool learned(const char *src, const char *dst, int j, uint8_t proto, uint16_t port,
		    const struct pol_entry **hit)
{
	const struct pol_ep *ep = pol_ep_find(&R, ip4(src));
	uint32_t g = 0;

	assert_non_null(ep);
	*hit = NULL;
	if (j >= 0)
		g = pol_cidr_group(ep, XCNI_POLCIDR_DIR_FQDN + j, ip4(dst));
	if (g)
		*hit = pol_entry_lookup(ep, XCNI_DIR_FROM_POD, g, proto, port);
	if (*hit)
		return polv_passes((*hit)->val.flags);
	return side(&R, ip4(src), XCNI_DIR_FROM_POD, ip4(dst), proto, port, hit);
}

/*
 * domainNames: an address learned through a rule is judged by that rule
 * where its ports match, after the rules before it that hold the address by
 * network; not learned, by the other rules; Pass on to NetworkPolicy and
 * Baseline; the domain's rule never matches an address it did not teach.
 */
static void test_domains(void **state)
{
	struct k8s_cnp *p, *b;
	struct k8s_cnp_rule *r;
	const struct pol_entry *h;

	(void)state;
	cast();
	p = cnp_add("fq", ADMIN, 5, sel("team=b"), NULL);
	cpeer_net(crule(p, EG, DENY), "192.0.2.0/24"); /* 0: before the names */
	r = crule(p, EG, ACCEPT); /* 1, the pod's j 0: api, TCP 443 alone */
	cpeer_domain(r, "api.example.test");
	cproto(r, TCP, 443, 443);
	cpeer_domain(crule(p, EG, DENY), "bad.example.test"); /* 2, j 1 */
	cpeer_domain(crule(p, EG, PASS), "*.passed.test"); /* 3, j 2 */
	cpeer_net(crule(p, EG, DENY), "0.0.0.0/0"); /* 4: nothing else outside */
	b = cnp_add("base", BASELINE, 5, sel("team=b"), NULL);
	cpeer_net(crule(b, EG, DENY), "203.0.113.0/24");
	compile();
	/* learned through api: 443 accepted by rule 1, port 80 not its: rule 4 */
	assert_true(learned(DEVCLIENT, "198.51.100.7", 0, TCP, 443, &h));
	assert_int_equal(h->val.rule, 1);
	assert_int_equal(h->val.flags, XCNI_TIER_ADMIN << XCNI_POLV_TIER_SHIFT);
	assert_false(learned(DEVCLIENT, "198.51.100.7", 0, TCP, 80, &h));
	assert_int_equal(h->val.rule, 4);
	/* not learned: rule 4 */
	assert_false(learned(DEVCLIENT, "198.51.100.7", -1, TCP, 443, &h));
	assert_int_equal(h->val.rule, 4);
	/* learned, but in a network an earlier rule denies: rule 0 */
	assert_false(learned(DEVCLIENT, "192.0.2.9", 0, TCP, 443, &h));
	assert_int_equal(h->val.rule, 0);
	/* learned through bad: denied by rule 2 */
	assert_false(learned(DEVCLIENT, "198.51.100.8", 1, TCP, 443, &h));
	assert_int_equal(h->val.rule, 2);
	assert_int_equal(h->val.flags, XCNI_POLV_DENY | XCNI_TIER_ADMIN << XCNI_POLV_TIER_SHIFT);
	/* learned through the Pass: no NetworkPolicy, so Baseline, then allowed */
	assert_true(learned(DEVCLIENT, "198.51.100.9", 2, UDP, 53, &h));
	assert_false(learned(DEVCLIENT, "203.0.113.9", 2, UDP, 53, &h));
	/* (the Pass it went through numbered for people above the verdict's bits) */
	assert_int_equal(h->val.flags & ((1u << XCNI_POLV_PASS_SHIFT) - 1),
			 XCNI_POLV_DENY | XCNI_TIER_BASELINE << XCNI_POLV_TIER_SHIFT);
	assert_int_not_equal(XCNI_POLV_PASS(h->val.flags), 0);
	/* no dir past the pod's three; other pods have none */
	assert_int_equal(pol_cidr_group(pol_ep_find(&R, ip4(DEVCLIENT)), XCNI_POLCIDR_DIR_FQDN + 3,
					ip4("198.51.100.7")), 0);
	assert_int_equal(pol_cidr_group(pol_ep_find(&R, ip4(DEVCLIENT)), XCNI_POLCIDR_DIR_FQDN + 2,
					0x01020304), /* any IPv4 address: the /0 */
			 pol_cidr_group(pol_ep_find(&R, ip4(DEVCLIENT)), XCNI_POLCIDR_DIR_FQDN + 2,
					ip4("198.51.100.9")));
	/* a pod's address is no learned address: rule 1 does not accept it, rule 4 denies */
	assert_false(side(&R, ip4(DEVCLIENT), XCNI_DIR_FROM_POD, ip4(WEB), TCP, 443, &h));
	assert_int_equal(h->val.rule, 4);
}

static int parse_doc(const char *yaml, struct k8s_error *err)
{
	struct k8s_object *o = NULL;
	json_t **docs;
	size_t n;
	int ret = k8s_load_stream(yaml, strlen(yaml), &docs, &n, err);

	assert_int_equal(ret, 0);
	assert_int_equal(n, 1);
	ret = k8s_parse(docs[0], &o, err);
	k8s_free(o);
	k8s_docs_free(docs, n);
	return ret;
}

#define HEAD                                             \
	"apiVersion: policy.networking.k8s.io/v1alpha2\n" \
	"kind: ClusterNetworkPolicy\n"                    \
	"metadata: {name: c1}\n"

static void test_parse(void **state)
{
	static const struct {
		const char *spec, *err;
	} bad[] = {
		{ "spec: {tier: Top, priority: 1, subject: {namespaces: {}}}",
		  "ClusterNetworkPolicy c1: spec.tier: \"Top\" is not a tier (Admin, Baseline)" },
		{ "spec: {tier: Admin, priority: 1001, subject: {namespaces: {}}}",
		  "spec.priority: 1001 must be between 0 and 1000" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " egress: [{action: Deny, to: [{networks: [10.0.0.0/33]}]}]}",
		  "spec.egress[0].to[0].networks[0]: \"10.0.0.0/33\" is not a valid" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " egress: [{action: Deny, to: [{namespaces: {}}],"
		  " protocols: [{tcp: {destinationPort: {range: {start: http, end: 90}}}}]}]}",
		  "spec.egress[0].protocols[0].tcp.destinationPort.range.start: a named port cannot "
		  "be part of a range" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " egress: [{action: Accept, to: [{domainNames: [a.example, 'x.*.example']}]}]}",
		  "ClusterNetworkPolicy c1: spec.egress[0].to[0].domainNames[1]: \"x.*.example\" is not "
		  "a domain name or \"*.\" and one: '*' only as the whole first label" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " egress: [{action: Accept, to: [{domainNames: [a.example, A.Example.]}]}]}",
		  "spec.egress[0].to[0].domainNames[1]: \"A.Example.\" is domainNames[0] again" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " egress: [{action: Accept, to: [{domainNames: [localhost]}]}]}",
		  "spec.egress[0].to[0].domainNames[0]: \"localhost\" is not a domain name or \"*.\" "
		  "and one: a single label" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " egress: [{action: Accept, to: [{domainNames: ['a_b.example']}]}]}",
		  "spec.egress[0].to[0].domainNames[0]: \"a_b.example\" is not a domain name or \"*.\" "
		  "and one: a character not a letter" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " egress: [{action: Accept, to: [{domainNames: ['-a.example']}]}]}",
		  "domainNames[0]: \"-a.example\" is not a domain name or \"*.\" and one: a label "
		  "starts or ends with '-'" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " egress: [{action: Accept, to: [{domainNames: ['a..example']}]}]}",
		  "domainNames[0]: \"a..example\" is not a domain name or \"*.\" and one: empty label" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " egress: [{action: Accept, to: [{domainNames: []}]}]}",
		  "spec.egress[0].to[0].domainNames: must be a list of 1 to 25 domain names" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " egress: [{action: Accept, to: [{domainNames: [7]}]}]}",
		  "spec.egress[0].to[0].domainNames[0]: must be a string" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " ingress: [{action: Accept, from: [{domainNames: [a.example]}]}]}",
		  "spec.ingress[0].from[0].domainNames: only egress rules may have domainNames peers" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " ingress: [{action: Deny, from: [{networks: [10.0.0.0/8]}]}]}",
		  "spec.ingress[0].from[0].networks: only egress rules" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}, pods: "
		  "{namespaceSelector: {}, podSelector: {}}}}",
		  "spec.subject: exactly one of namespaces and pods" },
		{ "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
		  " ingress: [{action: Allow, from: [{namespaces: {}}]}]}",
		  "spec.ingress[0].action: \"Allow\" is not an action" },
		{ "spec: {tier: Admin, subject: {namespaces: {}}}", "spec.priority: required" },
		{ "metadata: {name: c1, annotations: {xcni.io/policy-mode: dry}}\n"
		  "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}}",
		  "metadata.annotations.xcni.io/policy-mode: \"dry\" is not a policy mode" },
	};
	struct k8s_error err;
	char buf[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!strncmp(bad[i].spec, "metadata", 8))
			snprintf(buf, sizeof(buf),
				 "apiVersion: policy.networking.k8s.io/v1alpha2\n"
				 "kind: ClusterNetworkPolicy\n%s\n",
				 bad[i].spec);
		else
			snprintf(buf, sizeof(buf), HEAD "%s\n", bad[i].spec);
		assert_int_equal(parse_doc(buf, &err), -EINVAL);
		if (!strstr(err.msg, bad[i].err))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err.msg, bad[i].err);
	}
	assert_int_equal(
		parse_doc(HEAD "spec:\n"
			       "  tier: Admin\n"
			       "  priority: 3\n"
			       "  subject: {pods: {namespaceSelector: {matchLabels: {a: b}}, "
			       "podSelector: {}}}\n"
			       "  ingress:\n"
			       "  - {name: r0, action: Accept, from: [{pods: {namespaceSelector: {}, "
			       "podSelector: {}}}], protocols: [{tcp: {destinationPort: {number: 80}}},"
			       " {udp: {destinationPort: {range: {start: 1, end: 9}}}},"
			       " {sctp: {destinationPort: {number: 9}}},"
			       " {destinationNamedPort: http}]}\n"
			       "  egress:\n"
			       "  - {action: Pass, to: [{nodes: {}}, {networks: [10.0.0.0/8, fd00::/8]}]}\n",
			  &err),
		0);
	/* A Pass in the Baseline tier is the API's (it skips the rest of the tier). */
	assert_int_equal(parse_doc(HEAD "spec: {tier: Baseline, priority: 1, subject: {namespaces: {}},"
					" ingress: [{action: Pass, from: [{namespaces: {}}]}]}\n",
				   &err),
			 0);
	/* domainNames peers are taken (xcnid --fqdn-policy judges them), any case, a trailing dot. */
	assert_int_equal(parse_doc(HEAD "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
					" egress: [{action: Accept, to: [{domainNames: [API.Example.TEST.,"
					" '*.s3.example.test']}]}, {action: Deny, to: [{domainNames:"
					" [x.example]}]}]}\n",
				   &err),
			 0);
	/* A peer of a kind this xcni does not know (a newer CRD's) is kept: it fails closed. */
	assert_int_equal(parse_doc(HEAD "spec: {tier: Admin, priority: 1, subject: {namespaces: {}},"
					" egress: [{action: Deny, to: [{futurePeer: {a: b}}]}]}\n",
				   &err),
			 0);
}

/* "spec: {...PRE (ITEM, n times) POST}" and what parsing it says. */
static int parse_repeated(const char *pre, const char *item, size_t n, const char *post,
			  struct k8s_error *err)
{
	char buf[16384];
	size_t o = (size_t)snprintf(buf, sizeof(buf), HEAD "spec: {tier: Admin, priority: 1, "
							   "subject: {namespaces: {}}, %s",
				    pre);

	for (size_t i = 0; i < n; i++) {
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", i ? ", " : "");
		/* item may number itself (%zu: 1, 2, ...): a set's items differ */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, item, i + 1);
#pragma GCC diagnostic pop
	}
	snprintf(buf + o, sizeof(buf) - o, "%s}\n", post);
	assert_true(strlen(buf) < sizeof(buf) - 1);
	return parse_doc(buf, err);
}

/*
 * The CRD's limits (apis/v1alpha2 clusternetworkpolicy_types.go): MaxItems 25
 * for rules, peers, protocols and networks; networks a set; tcp/udp/sctp
 * MinProperties=1; a range's start below its end; no named port towards
 * networks or nodes. The last allowed count parses, one more is refused,
 * naming the field.
 */
static void test_parse_limits(void **state)
{
	static const struct {
		const char *pre, *item, *post;
		const char *err;
	} lim[] = {
		{ "ingress: [", "{action: Deny, from: [{namespaces: {}}]}", "]",
		  "ClusterNetworkPolicy c1: spec.ingress: at most 25 rules" },
		{ "egress: [", "{action: Deny, to: [{namespaces: {}}]}", "]",
		  "spec.egress: at most 25 rules" },
		{ "ingress: [{action: Deny, from: [", "{namespaces: {}}", "]}]",
		  "spec.ingress[0].from: required: 1 to 25 peers" },
		{ "egress: [{action: Deny, to: [{namespaces: {}}], protocols: [",
		  "{tcp: {destinationPort: {number: 80}}}", "]}]",
		  "spec.egress[0].protocols: 1 to 25 protocols" },
		{ "egress: [{action: Deny, to: [{networks: [", "10.0.%zu.0/24", "]}]}]",
		  "spec.egress[0].to[0].networks: must be a list of 1 to 25 CIDRs" },
		{ "egress: [{action: Deny, to: [{namespaces: {}}], protocols: [",
		  "{tcp: {destinationPort: {range: {start: %zu, end: 1000}}}}", "]}]",
		  "spec.egress[0].protocols: 1 to 25 protocols" },
	};
	static const struct {
		const char *spec, *err;
	} bad[] = {
		{ "ingress: [{action: Deny, from: [{namespaces: {}}], protocols: []}]",
		  "spec.ingress[0].protocols: 1 to 25 protocols" },
		{ "ingress: [{action: Deny, from: [{namespaces: {}}], protocols: [{tcp: {}}]}]",
		  "spec.ingress[0].protocols[0].tcp.destinationPort: required (the CRD refuses an "
		  "empty tcp" },
		{ "ingress: [{action: Deny, from: [{namespaces: {}}], protocols: [{sctp: {}}]}]",
		  "spec.ingress[0].protocols[0].sctp.destinationPort: required" },
		{ "ingress: [{action: Deny, from: [{namespaces: {}}],"
		  " protocols: [{udp: {destinationPort: {range: {start: 80, end: 80}}}}]}]",
		  "spec.ingress[0].protocols[0].udp.destinationPort.range.end: 80 must be greater "
		  "than start (80); a single port is {number: N}" },
		{ "ingress: [{action: Deny, from: [{namespaces: {}}],"
		  " protocols: [{tcp: {destinationPort: {range: {start: 90, end: 80}}}}]}]",
		  "range.end: 80 must be greater than start (90)" },
		{ "ingress: [{action: Deny, from: [{namespaces: {}}],"
		  " protocols: [{tcp: {destinationPort: {number: 0}}}]}]",
		  "spec.ingress[0].protocols[0].tcp.destinationPort.number" },
		{ "egress: [{action: Deny, to: [{networks: [10.0.0.0/8, 10.0.0.0/8]}]}]",
		  "spec.egress[0].to[0].networks[1]: \"10.0.0.0/8\" is networks[0] again" },
		{ "egress: [{action: Deny, to: [{networks: "
		  "[\"0000:0000:0000:0000:0000:0000:0000:0000/0128\"]}]}]",
		  "spec.egress[0].to[0].networks[0]: must be at most 43 characters" },
		{ "egress: [{action: Accept, to: [{pods: {namespaceSelector: {}, podSelector: {}}},"
		  " {networks: [10.0.0.0/8]}], protocols: [{destinationNamedPort: http}]}]",
		  "spec.egress[0].protocols[0].destinationNamedPort: cannot be used with a networks "
		  "peer (to[1])" },
		{ "egress: [{action: Accept, to: [{nodes: {}}],"
		  " protocols: [{tcp: {destinationPort: {number: 1}}}, {destinationNamedPort: http}]}]",
		  "spec.egress[0].protocols[1].destinationNamedPort: cannot be used with a nodes" },
	};
	struct k8s_error err;
	char buf[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		if (parse_repeated(lim[i].pre, lim[i].item, 25, lim[i].post, &err))
			fail_msg("limit %zu: 25 refused: %s", i, err.msg);
		assert_int_equal(parse_repeated(lim[i].pre, lim[i].item, 26, lim[i].post, &err),
				 -EINVAL);
		if (!strstr(err.msg, lim[i].err))
			fail_msg("limit %zu: got \"%s\", want \"%s\"", i, err.msg, lim[i].err);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf),
			 HEAD "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, %s}\n",
			 bad[i].spec);
		if (parse_doc(buf, &err) != -EINVAL)
			fail_msg("case %zu: accepted", i);
		if (!strstr(err.msg, bad[i].err))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err.msg, bad[i].err);
	}
	/* named ports towards pods, ranges of two ports, distinct networks: fine */
	snprintf(buf, sizeof(buf),
		 HEAD "spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, egress: ["
		      "{action: Accept, to: [{pods: {namespaceSelector: {}, podSelector: {}}}],"
		      " protocols: [{destinationNamedPort: http},"
		      " {tcp: {destinationPort: {range: {start: 80, end: 81}}}}]},"
		      " {action: Deny, to: [{networks: [10.0.0.0/8, 10.0.0.0/16]}]}]}\n");
	assert_int_equal(parse_doc(buf, &err), 0);
}

/* ---- agreement on random clusters ---------------------------------------- */

static uint32_t rng;

static uint32_t rnd(uint32_t n)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 16) % n;
}

static struct k8s_selector *rnd_sel(const char *key, const char *const *vals, size_t nvals)
{
	char buf[64];

	if (!rnd(3))
		return sel("");
	snprintf(buf, sizeof(buf), "%s=%s", key, vals[rnd((uint32_t)nvals)]);
	return sel(buf);
}

static const char *const apps[] = { "web", "db", "cli" };
static const char *const teams[] = { "x", "y" };
static const char *const nets[] = { "10.244.0.0/16", "10.244.0.3/32", "203.0.113.0/24",
				    "0.0.0.0/0",     "fd00:10::/64",  "::/0",
				    "192.168.0.0/31" };

static void rnd_protos(struct k8s_cnp_rule *r)
{
	for (uint32_t n = rnd(3); n; n--) {
		switch (rnd(5)) {
		case 0:
			cproto(r, TCP, 80, 80);
			break;
		case 1:
			cproto(r, TCP, 79, 443);
			break;
		case 2:
			cproto(r, UDP, 0, 0);
			break;
		case 3:
			cnamed(r, "http");
			break;
		default:
			cproto(r, TCP, 0, 0);
			break;
		}
	}
}

static void rnd_cluster(void)
{
	char name[32], ip[32], ip6[64];

	ns_add("a", "team=x");
	ns_add("b", "team=y");
	ns_add("c", "team=x");
	objs[K8S_NAMESPACE][nobjs[K8S_NAMESPACE] - 1]->meta.audit = rnd(4) == 0;
	node_add("n1", "192.168.0.1");
	node6_add("n2", "192.168.0.2", "fd00::2")->meta.labels = labels("zone=b");
	for (int i = 0; i < 7; i++) {
		struct k8s_pod *p;
		char lbl[32];

		snprintf(name, sizeof(name), "p%d", i);
		snprintf(ip, sizeof(ip), "10.244.0.%d", i + 1);
		snprintf(lbl, sizeof(lbl), "app=%s", apps[rnd(3)]);
		p = pod_add(i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c", name, "n1", ip, lbl);
		if (rnd(2)) {
			snprintf(ip6, sizeof(ip6), "fd00:10::%d", i + 1);
			pod_ip6(p, ip6);
		}
		if (rnd(2))
			pod_port(p, "http", TCP, rnd(2) ? 80 : 8080);
	}
	for (uint32_t n = rnd(6) + 1; n; n--) {
		enum k8s_cnp_tier tier = rnd(2) ? ADMIN : BASELINE;
		struct k8s_cnp *p;

		snprintf(name, sizeof(name), "c%u", n);
		p = cnp_add(name, tier, rnd(3), rnd_sel("team", teams, 2),
			    rnd(2) ? rnd_sel("app", apps, 3) : NULL);
		p->meta.audit = rnd(4) == 0;
		for (int dir = IN; dir <= EG; dir++)
			for (uint32_t k = rnd(3); k; k--) {
				enum k8s_cnp_action a = rnd(3); /* Pass in both tiers */
				struct k8s_cnp_rule *r = crule(p, dir, a);

				for (uint32_t j = rnd(2) + 1; j; j--) {
					uint32_t kind = rnd(dir == EG ? 4 : 2);

					if (!rnd(16)) /* a newer CRD's peer: fails closed */
						r->peers[r->npeers++].unknown = true;
					else if (kind == 0)
						cpeer_ns(r, rnd_sel("team", teams, 2));
					else if (kind == 1)
						cpeer_pods(r, rnd_sel("team", teams, 2),
							   rnd_sel("app", apps, 3));
					else if (kind == 2)
						cpeer_nodes(r, rnd(2) ? sel("zone=b") : sel(""));
					else
						cpeer_net(r, nets[rnd(7)]);
				}
				rnd_protos(r);
			}
	}
	/* Up to two a namespace: an audited one beside an enforced one. */
	for (uint32_t n = rnd(5); n; n--) {
		struct k8s_netpol *np;

		snprintf(name, sizeof(name), "np%u", n);
		np = np_add(n % 2 ? "a" : "b", name, rnd_sel("app", apps, 3), rnd(2) ? IN : IN | EG);
		np->meta.audit = rnd(4) == 0;
		for (int dir = IN; dir <= EG; dir++)
			for (uint32_t k = rnd(3); k; k--) {
				struct k8s_np_rule *r = dir == IN ? ingress(np) : egress(np);

				if (rnd(3))
					peer(r, rnd_sel("app", apps, 3),
					     rnd(2) ? rnd_sel("team", teams, 2) : NULL);
				if (rnd(2))
					port(r, TCP, 80, rnd(2) ? 0 : 90);
			}
	}
}

static struct rpeer rp_pod(const struct k8s_pod *p, bool v6)
{
	struct rpeer r = { .kind = REF_POD, .pod = p };

	r.addr = xcni_prefix_host(p->ip, v6 ? p->ip6 : NULL);
	return r;
}

static const char *ip_str(uint32_t ip);

static void dump_sel(const char *what, const struct k8s_selector *s)
{
	if (!s)
		return;
	printf(" %s{", what);
	for (size_t i = 0; i < s->match_labels.n; i++)
		printf("%s=%s", s->match_labels.v[i].key, s->match_labels.v[i].value);
	printf("}");
}

/* What a failing seed was: printed beside the failure. */
static void dump(void)
{
	static const char *const act[] = { "Accept", "Deny", "Pass" };

	for (size_t i = 0; i < nobjs[K8S_POD]; i++) {
		const struct k8s_pod *p = &objs[K8S_POD][i]->pod;

		printf("pod %s/%s %s app=%s ports %zu v6 %d\n", p->meta.ns, p->meta.name,
		       ip_str(p->ip), p->meta.labels.v[0].value, p->nports, p->has_ip6);
	}
	for (size_t i = 0; i < nobjs[K8S_CLUSTERNETPOL]; i++) {
		const struct k8s_cnp *c = &objs[K8S_CLUSTERNETPOL][i]->cnp;

		printf("cnp %s tier %d prio %u", c->meta.name, c->tier, c->priority);
		dump_sel("subj-ns", c->subj_ns);
		dump_sel("subj-pod", c->subj_pod);
		printf("\n");
		for (int d = 0; d < 2; d++)
			for (size_t r = 0; r < (d ? c->negress : c->ningress); r++) {
				const struct k8s_cnp_rule *ru = d ? &c->egress[r] : &c->ingress[r];

				printf("  %s[%zu] %s", d ? "egress" : "ingress", r, act[ru->action]);
				for (size_t j = 0; j < ru->npeers; j++) {
					const struct k8s_cnp_peer *pp = &ru->peers[j];

					printf(" |");
					dump_sel("ns", pp->ns_sel);
					dump_sel("pod", pp->pod_sel);
					dump_sel("nodes", pp->node_sel);
					if (pp->nnets)
						printf(" net%s/%u", pp->nets[0].family == 6 ? "6" : ip_str(*(uint32_t *)pp->nets[0].addr), pp->nets[0].len);
				}
				for (size_t j = 0; j < ru->nprotos; j++)
					printf(" proto %u %u-%u %s", ru->protos[j].proto, ru->protos[j].port,
					       ru->protos[j].end_port,
					       ru->protos[j].port_name ? ru->protos[j].port_name : "");
				printf("\n");
			}
	}
	for (size_t i = 0; i < nobjs[K8S_NETWORKPOLICY]; i++) {
		const struct k8s_netpol *np = &objs[K8S_NETWORKPOLICY][i]->np;

		printf("np %s/%s in %d eg %d nin %zu neg %zu", np->meta.ns, np->meta.name,
		       np->type_ingress, np->type_egress, np->ningress, np->negress);
		dump_sel("sel", &np->pod_sel);
		printf("\n");
	}
}

static const char *ip_str(uint32_t ip)
{
	static char buf[4][32];
	static int k;

	k = (k + 1) % 4;
	return inet_ntop(AF_INET, &ip, buf[k], sizeof(buf[k]));
}

static void test_random_agree(void **state)
{
	static const struct {
		uint8_t proto;
		uint16_t port;
	} ports[] = { { TCP, 22 },  { TCP, 79 },  { TCP, 80 },	 { TCP, 81 },	{ TCP, 443 },
		      { TCP, 444 }, { TCP, 8080 }, { TCP, 65535 }, { UDP, 53 }, { UDP, 80 },
		      { SCTP, 80 }, { ICMP, 0 } };
	static const char *const outside[] = { "203.0.113.9", "198.51.100.1", "192.168.0.1",
					       "192.168.0.2" };
	size_t checks = 0;
	char s6[64], d6[64];
	struct cluster vc;
	const struct refc rx = { .c = &vc };

	for (uint32_t seed = 1; seed <= 300; seed++) {
		teardown(state);
		setup(state);
		rng = seed;
		rnd_cluster();
		compile();
		vc = view();
		for (size_t s = 0; s < nobjs[K8S_POD]; s++) {
			const struct k8s_pod *src = &objs[K8S_POD][s]->pod;

			for (size_t q = 0; q < sizeof(ports) / sizeof(ports[0]); q++) {
				uint8_t pr = ports[q].proto;
				uint16_t pt = ports[q].port;
				const struct pol_entry *hit;

				for (size_t d = 0; d < nobjs[K8S_POD]; d++) {
					const struct k8s_pod *dst = &objs[K8S_POD][d]->pod;
					struct rpeer rs = rp_pod(src, false), rd = rp_pod(dst, false);
					bool want = ref_side(&rx, src, 0, &rd, pr, pt) &&
						    ref_side(&rx, dst, 1, &rs, pr, pt);
					bool got = side(&R, src->ip, XCNI_DIR_FROM_POD, dst->ip, pr, pt,
							&hit) &&
						   side(&R, dst->ip, XCNI_DIR_TO_POD, src->ip, pr, pt,
							&hit);

					if (want != got) {
						dump();
						fail_msg("seed %u: %s/%s -> %s/%s proto %u port %u: want "
							 "%d got %d",
							 seed, src->meta.ns, src->meta.name, dst->meta.ns,
							 dst->meta.name, pr, pt, want, got);
}
					checks++;
					if (!src->has_ip6 || !dst->has_ip6)
						continue;
					rs = rp_pod(src, true);
					rd = rp_pod(dst, true);
					inet_ntop(AF_INET6, src->ip6, s6, sizeof(s6));
					inet_ntop(AF_INET6, dst->ip6, d6, sizeof(d6));
					want = ref_side(&rx, src, 0, &rd, pr, pt) &&
					       ref_side(&rx, dst, 1, &rs, pr, pt);
					got = side6(&R, src->ip, XCNI_DIR_FROM_POD, d6,
						    pod_identity(&R, ip_str(dst->ip)), pr, pt) &&
					      side6(&R, dst->ip, XCNI_DIR_TO_POD, s6,
						    pod_identity(&R, ip_str(src->ip)), pr, pt);
					if (want != got) {
						dump();
						fail_msg("seed %u: %s -> %s proto %u port %u: want %d "
							 "got %d",
							 seed, s6, d6, pr, pt, want, got);
}
					checks++;
				}
				for (size_t o = 0; o < sizeof(outside) / sizeof(outside[0]); o++) {
					uint32_t out = ip4(outside[o]);
					struct rpeer x = { .addr = xcni_prefix_host(out, NULL) };
					bool want, got;

					if (o >= 2) {
						for (size_t k = 0; k < nobjs[K8S_NODE]; k++)
							if (objs[K8S_NODE][k]->node.internal_ip == out)
								x.kind = REF_NODE;
					}
					want = ref_side(&rx, src, 0, &x, pr, pt);
					got = side(&R, src->ip, XCNI_DIR_FROM_POD, out, pr, pt, &hit);
					if (want != got) {
						dump();
						fail_msg("seed %u: %s/%s -> %s proto %u port %u: want %d "
							 "got %d",
							 seed, src->meta.ns, src->meta.name, outside[o], pr,
							 pt, want, got);
}
					checks++;
				}
			}
		}
	}
	assert_true(checks > 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_admin_deny_beats_np, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pass_falls_through, setup, teardown),
		cmocka_unit_test_setup_teardown(test_baseline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priorities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_networks_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_ns_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_neutral, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_np_beside_enforced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_tiers_unchanged, setup, teardown),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test_setup_teardown(test_random_agree, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
