// SPDX-License-Identifier: Apache-2.0
/*
 * The NetworkPolicy compiler against the networking.k8s.io/v1 semantics.
 *
 * Clusters are built in C (small constructors below), compiled, and judged
 * by a simulator that looks the output up the way the data plane does: the
 * peer's identity in the ipcache (LPM), then the policy trie (LPM, bit by
 * bit over the key's bytes) with that identity, the pod's ipBlock group
 * (LPM in polcidr) and XCNI_ID_ANY. So most tests read as "may a talk to b
 * on TCP 80" rather than as lists of keys.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../bpf/xcni_shared.h"
#include "../../user/lib/policy.h"

#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP
#define SCTP IPPROTO_SCTP
#define ICMP IPPROTO_ICMP
#define IN 1
#define EG 2
#define MAXN 64

/* ---- everything a test allocates, freed in teardown ------------------- */

static void **arena;
static size_t narena, caparena;

static void *tmem(size_t size)
{
	void *p = calloc(1, size ? size : 1);

	assert_non_null(p);
	if (narena == caparena) {
		caparena = caparena ? caparena * 2 : 256;
		arena = realloc(arena, caparena * sizeof(*arena));
		assert_non_null(arena);
	}
	arena[narena++] = p;
	return p;
}

static char *tstr(const char *s)
{
	char *p = tmem(strlen(s) + 1);

	return strcpy(p, s);
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* ---- object constructors ---------------------------------------------- */

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct k8s_label *)a)->key, ((const struct k8s_label *)b)->key);
}

/* "a=1,b=2" -> sorted labels; "" -> none. */
static struct k8s_labels labels(const char *spec)
{
	struct k8s_labels l = { 0 };
	char *s = tstr(spec), *tok, *save = NULL;

	l.v = tmem(16 * sizeof(*l.v));
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		assert_non_null(eq);
		*eq = '\0';
		l.v[l.n].key = tok;
		l.v[l.n++].value = eq + 1;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_label);
	return l;
}

static struct k8s_selector *sel(const char *match_labels)
{
	struct k8s_selector *s = tmem(sizeof(*s));

	s->match_labels = labels(match_labels);
	s->exprs = tmem(8 * sizeof(*s->exprs));
	return s;
}

/* values: "a,b" or NULL for Exists/DoesNotExist. */
static struct k8s_selector *expr(struct k8s_selector *s, const char *key, enum k8s_sel_op op,
				 const char *values)
{
	struct k8s_sel_expr *e = &s->exprs[s->nexprs++];
	char *save = NULL, *t;

	e->key = tstr(key);
	e->op = op;
	e->values = tmem(8 * sizeof(*e->values));
	if (values)
		for (t = strtok_r(tstr(values), ",", &save); t; t = strtok_r(NULL, ",", &save))
			e->values[e->nvalues++] = t;
	return s;
}

static struct k8s_object *objs[K8S_NR_KINDS][MAXN];
static size_t nobjs[K8S_NR_KINDS];

static struct k8s_object *obj(enum k8s_kind kind, const char *ns, const char *name,
			      const char *lbl)
{
	struct k8s_object *o = tmem(sizeof(*o));

	assert_true(nobjs[kind] < MAXN);
	o->kind = kind;
	o->meta.ns = ns ? tstr(ns) : NULL;
	o->meta.name = tstr(name);
	o->meta.labels = labels(lbl);
	objs[kind][nobjs[kind]++] = o;
	return o;
}

/* A Namespace as the API server returns it: with kubernetes.io/metadata.name. */
static void ns_add(const char *name, const char *lbl)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "kubernetes.io/metadata.name=%s%s%s", name, *lbl ? "," : "",
		 lbl);
	obj(K8S_NAMESPACE, NULL, name, buf);
}

static void node_add(const char *name, const char *ip)
{
	obj(K8S_NODE, NULL, name, "")->node.internal_ip = ip4(ip);
}

static struct k8s_pod *pod_add(const char *ns, const char *name, const char *node, const char *ip,
			       const char *lbl)
{
	struct k8s_pod *p = &obj(K8S_POD, ns, name, lbl)->pod;

	p->node_name = node ? tstr(node) : NULL;
	p->ip = ip ? ip4(ip) : 0;
	p->ports = tmem(8 * sizeof(*p->ports));
	return p;
}

static void pod_port(struct k8s_pod *p, const char *name, uint8_t proto, uint16_t port)
{
	struct k8s_container_port *cp = &p->ports[p->nports++];

	cp->name = name ? tstr(name) : NULL;
	cp->proto = proto;
	cp->port = port;
}

/* types: IN and/or EG, as spec.policyTypes after defaulting. */
static struct k8s_netpol *np_add(const char *ns, const char *name, struct k8s_selector *podsel,
				 int types)
{
	struct k8s_netpol *np = &obj(K8S_NETWORKPOLICY, ns, name, "")->np;

	np->pod_sel = *podsel;
	np->type_ingress = types & IN;
	np->type_egress = types & EG;
	np->ingress = tmem(8 * sizeof(*np->ingress));
	np->egress = tmem(8 * sizeof(*np->egress));
	return np;
}

static struct k8s_np_rule *rule_new(struct k8s_np_rule *r)
{
	r->peers = tmem(8 * sizeof(*r->peers));
	r->ports = tmem(8 * sizeof(*r->ports));
	return r;
}

static struct k8s_np_rule *ingress(struct k8s_netpol *np)
{
	return rule_new(&np->ingress[np->ningress++]);
}

static struct k8s_np_rule *egress(struct k8s_netpol *np)
{
	return rule_new(&np->egress[np->negress++]);
}

static void peer(struct k8s_np_rule *r, struct k8s_selector *podsel, struct k8s_selector *nssel)
{
	struct k8s_np_peer *p = &r->peers[r->npeers++];

	p->pod_sel = podsel;
	p->ns_sel = nssel;
}

/* "A.B.C.D/L" or an IPv6 "ADDR/L", host bits already zero. */
static struct k8s_cidr cidr(const char *s)
{
	char *c = tstr(s), *slash = strchr(c, '/');
	struct k8s_cidr k = { 0 };

	assert_non_null(slash);
	*slash = '\0';
	k.len = atoi(slash + 1);
	if (strchr(c, ':')) {
		k.v6 = true;
		assert_int_equal(inet_pton(AF_INET6, c, k.addr6), 1);
	} else {
		k.addr = ip4(c);
	}
	return k;
}

static void pod_ip6(struct k8s_pod *p, const char *ip6)
{
	assert_int_equal(inet_pton(AF_INET6, ip6, p->ip6), 1);
	p->has_ip6 = true;
}

/* ipBlock: cidr, then the excepts, NULL-terminated. */
static void peer_block(struct k8s_np_rule *r, const char *c, ...)
{
	struct k8s_ipblock *b = tmem(sizeof(*b));
	const char *e;
	va_list ap;

	b->cidr = cidr(c);
	b->except = tmem(8 * sizeof(*b->except));
	va_start(ap, c);
	while ((e = va_arg(ap, const char *)))
		b->except[b->nexcept++] = cidr(e);
	va_end(ap);
	r->peers[r->npeers++].ipblock = b;
}

static void port(struct k8s_np_rule *r, uint8_t proto, uint16_t port, uint16_t end)
{
	r->ports[r->nports++] = (struct k8s_np_port){
		.proto = proto, .has_port = true, .port = port, .end_port = end
	};
}

static void port_proto(struct k8s_np_rule *r, uint8_t proto)
{
	r->ports[r->nports++] = (struct k8s_np_port){ .proto = proto };
}

static void port_named(struct k8s_np_rule *r, uint8_t proto, const char *name)
{
	r->ports[r->nports++] = (struct k8s_np_port){
		.proto = proto, .has_port = true, .port_name = tstr(name)
	};
}

/* ---- compiling -------------------------------------------------------- */

static const struct k8s_object *views[K8S_NR_KINDS][MAXN];
static struct pol_result R, R2;
static struct k8s_error Err;

static int cmp_obj(const void *a, const void *b)
{
	const struct k8s_object *x = *(const struct k8s_object *const *)a;
	const struct k8s_object *y = *(const struct k8s_object *const *)b;
	int d = strcmp(x->meta.ns ? x->meta.ns : "", y->meta.ns ? y->meta.ns : "");

	return d ? d : strcmp(x->meta.name, y->meta.name);
}

static struct cluster view(void)
{
	struct cluster c = { 0 };

	for (int k = 0; k < K8S_NR_KINDS; k++) {
		memcpy(views[k], objs[k], nobjs[k] * sizeof(objs[k][0]));
		qsort(views[k], nobjs[k], sizeof(views[k][0]), cmp_obj);
		c.n[k] = nobjs[k];
		c.objs[k] = views[k];
	}
	return c;
}

static int compile_opts(struct pol_result *r, const struct pol_opts *o)
{
	struct cluster c = view();

	pol_result_free(r);
	return pol_compile(&c, o, r, &Err);
}

/* Every pod local: both ends of a flow are judged. */
static void compile(void)
{
	struct pol_opts o = { 0 };

	assert_int_equal(compile_opts(&R, &o), 0);
}

/* ---- the data plane, simulated ---------------------------------------- */

/* Does the stored LPM key match the lookup key over plen bits after prefixlen? */
static bool lpm_match(const void *stored, const void *lookup, unsigned plen)
{
	const uint8_t *a = (const uint8_t *)stored + 4, *b = (const uint8_t *)lookup + 4;
	unsigned bytes = plen / 8, bits = plen % 8;

	if (memcmp(a, b, bytes))
		return false;
	return !bits || !((a[bytes] ^ b[bytes]) & (0xff00 >> bits));
}

static const struct pol_ep *ep_find(const struct pol_result *r, uint32_t ip)
{
	for (size_t i = 0; i < r->neps; i++)
		if (r->eps[i].ip == ip)
			return &r->eps[i];
	return NULL;
}

static uint32_t ipcache_identity(const struct pol_result *r, uint32_t ip)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip };
	const struct pol_ipcache *best = NULL;

	for (size_t i = 0; i < r->nipcache; i++)
		if (lpm_match(&r->ipcache[i].key, &k, r->ipcache[i].key.prefixlen) &&
		    (!best || r->ipcache[i].key.prefixlen > best->key.prefixlen))
			best = &r->ipcache[i];
	return best ? best->val.identity : XCNI_ID_WORLD;
}

/* The pod's ipBlock group for ip in dir, or 0 if no prefix holds it. */
static uint32_t polcidr_group(const struct pol_ep *ep, int dir, uint32_t ip)
{
	struct xcni_polcidr_key k = {
		.prefixlen = XCNI_POLCIDR_PREFIX_BASE + 32, .ep = ep->ip, .dir = dir, .addr = ip
	};
	const struct pol_cidr *best = NULL;

	for (size_t i = 0; i < ep->ncidrs; i++)
		if (lpm_match(&ep->cidrs[i].key, &k, ep->cidrs[i].key.prefixlen) &&
		    (!best || ep->cidrs[i].key.prefixlen > best->key.prefixlen))
			best = &ep->cidrs[i];
	return best ? best->group : 0;
}

/* The same for an IPv6 peer address. */
static uint32_t polcidr_group6(const struct pol_ep *ep, int dir, const char *ip6)
{
	struct xcni_polcidr_key k = {
		.prefixlen = XCNI_POLCIDR_PREFIX_BASE + 128, .ep = ep->ip, .dir = dir, .v6 = 1
	};
	const struct pol_cidr *best = NULL;

	assert_int_equal(inet_pton(AF_INET6, ip6, k.addr6), 1);
	for (size_t i = 0; i < ep->ncidrs; i++)
		if (lpm_match(&ep->cidrs[i].key, &k, ep->cidrs[i].key.prefixlen) &&
		    (!best || ep->cidrs[i].key.prefixlen > best->key.prefixlen))
			best = &ep->cidrs[i];
	return best ? best->group : 0;
}

static const struct pol_entry *policy_lookup(const struct pol_ep *ep, int dir, uint32_t peer,
					     uint8_t proto, uint16_t dport)
{
	struct xcni_policy_key k = { .prefixlen = 128, .ep = ep->ip, .peer = peer, .dir = dir,
				     .proto = proto, .port = htons(dport) };
	const struct pol_entry *best = NULL;

	for (size_t i = 0; i < ep->nentries; i++)
		if (lpm_match(&ep->entries[i].key, &k, ep->entries[i].key.prefixlen) &&
		    (!best || ep->entries[i].key.prefixlen > best->key.prefixlen))
			best = &ep->entries[i];
	return best;
}

/* One side's verdict; *hit says which entry allowed it (NULL: default allow). */
static bool side(const struct pol_result *r, uint32_t self, int dir, uint32_t peer_ip,
		 uint8_t proto, uint16_t dport, const struct pol_entry **hit)
{
	const struct pol_ep *ep = ep_find(r, self);
	uint32_t peers[3];

	*hit = NULL;
	if (!ep || !(ep->state.isolated & XCNI_ISOLATED(dir)))
		return true;
	peers[0] = ipcache_identity(r, peer_ip);
	if (peers[0] == XCNI_ID_HOST)
		return true;
	peers[1] = polcidr_group(ep, dir, peer_ip);
	peers[2] = XCNI_ID_ANY;
	for (int i = 0; i < 3; i++) {
		if (i == 1 && !peers[1])
			continue;
		*hit = policy_lookup(ep, dir, peers[i], proto, dport);
		if (*hit)
			return true;
	}
	return false;
}

/*
 * One side's verdict on an IPv6 peer, as flow_judge6 gives it: self is the
 * local pod's policy key, peer_id what the ipcache6 says of the peer (world
 * for an address outside the cluster), then its ipBlock group, then any.
 */
static bool side6(const struct pol_result *r, uint32_t self, int dir, const char *peer6,
		  uint32_t peer_id, uint8_t proto, uint16_t dport)
{
	const struct pol_ep *ep = ep_find(r, self);
	uint32_t peers[3];

	if (!ep || !(ep->state.isolated & XCNI_ISOLATED(dir)))
		return true;
	if (peer_id == XCNI_ID_HOST)
		return true;
	peers[0] = peer_id;
	peers[1] = polcidr_group6(ep, dir, peer6);
	peers[2] = XCNI_ID_ANY;
	for (int i = 0; i < 3; i++) {
		if (i == 1 && !peers[1])
			continue;
		if (policy_lookup(ep, dir, peers[i], proto, dport))
			return true;
	}
	return false;
}

/* May src open a flow to dst:port? Egress of src and ingress of dst, where local. */
static bool allowed_r(const struct pol_result *r, const char *src, const char *dst, uint8_t proto,
		      uint16_t dport)
{
	const struct pol_entry *hit;

	return side(r, ip4(src), XCNI_DIR_FROM_POD, ip4(dst), proto, dport, &hit) &&
	       side(r, ip4(dst), XCNI_DIR_TO_POD, ip4(src), proto, dport, &hit);
}

static bool allowed(const char *src, const char *dst, uint8_t proto, uint16_t dport)
{
	return allowed_r(&R, src, dst, proto, dport);
}

/* The entry that let src in to dst (ingress side only). */
static const struct pol_entry *ingress_hit(const char *src, const char *dst, uint8_t proto,
					   uint16_t dport)
{
	const struct pol_entry *hit;

	assert_true(side(&R, ip4(dst), XCNI_DIR_TO_POD, ip4(src), proto, dport, &hit));
	return hit;
}

static const struct pol_ep *ep(const char *ip)
{
	const struct pol_ep *e = ep_find(&R, ip4(ip));

	assert_non_null(e);
	return e;
}

static uint32_t policy_id(const char *ns, const char *name)
{
	for (size_t i = 0; i < R.npolicies; i++)
		if (!strcmp(R.policies[i].name.ns, ns) && !strcmp(R.policies[i].name.name, name))
			return R.policies[i].id;
	fail_msg("no policy %s/%s", ns, name);
	return 0;
}

static uint32_t pod_identity(const struct pol_result *r, const char *ip)
{
	return ipcache_identity(r, ip4(ip));
}

static size_t count_entries(const struct pol_ep *e, int dir, unsigned plen)
{
	size_t n = 0;

	for (size_t i = 0; i < e->nentries; i++)
		n += e->entries[i].key.dir == dir && e->entries[i].key.prefixlen == plen;
	return n;
}

static int setup(void **state)
{
	(void)state;
	memset(nobjs, 0, sizeof(nobjs));
	memset(&R, 0, sizeof(R));
	memset(&R2, 0, sizeof(R2));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pol_result_free(&R);
	pol_result_free(&R2);
	for (size_t i = 0; i < narena; i++)
		free(arena[i]);
	narena = 0;
	return 0;
}

/* The usual cast: namespaces prod (team=a) and dev (team=b), web/db/other pods. */
static void cast(void)
{
	ns_add("prod", "team=a");
	ns_add("dev", "team=b");
	pod_add("prod", "web", "n1", "10.244.0.10", "app=web");
	pod_add("prod", "db", "n1", "10.244.0.11", "app=db");
	pod_add("prod", "other", "n1", "10.244.0.12", "app=other");
	pod_add("dev", "web", "n1", "10.244.0.20", "app=web");
	pod_add("dev", "client", "n1", "10.244.0.21", "app=client");
}

#define WEB "10.244.0.10"
#define DB "10.244.0.11"
#define OTHER "10.244.0.12"
#define DEVWEB "10.244.0.20"
#define DEVCLIENT "10.244.0.21"
#define OUTSIDE "192.0.2.1"

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

/* ---- peers ------------------------------------------------------------- */

static void pod_selector_peer_own_namespace(void **state)
{
	(void)state;
	cast();
	peer(ingress(np_add("prod", "db-from-web", sel("app=db"), IN)), sel("app=web"), NULL);
	compile();
	assert_true(allowed(WEB, DB, TCP, 5432));
	assert_false(allowed(DEVWEB, DB, TCP, 5432)); /* app=web, but in dev */
	assert_false(allowed(OTHER, DB, TCP, 5432));
	assert_false(allowed(OUTSIDE, DB, TCP, 5432));
}

static void namespace_selector_only(void **state)
{
	(void)state;
	cast();
	peer(ingress(np_add("prod", "db-from-dev", sel("app=db"), IN)), NULL, sel("team=b"));
	compile();
	assert_true(allowed(DEVWEB, DB, TCP, 5432));
	assert_true(allowed(DEVCLIENT, DB, TCP, 5432));
	assert_false(allowed(WEB, DB, TCP, 5432));
	assert_false(allowed(OUTSIDE, DB, TCP, 5432));
}

static void pod_and_namespace_selectors_and_vs_or(void **state)
{
	struct k8s_np_rule *r;

	(void)state;
	cast();
	/* One peer with both: web pods of dev, nothing else. */
	peer(ingress(np_add("prod", "and", sel("app=db"), IN)), sel("app=web"), sel("team=b"));
	compile();
	assert_true(allowed(DEVWEB, DB, TCP, 1));
	assert_false(allowed(DEVCLIENT, DB, TCP, 1));
	assert_false(allowed(WEB, DB, TCP, 1));

	/* Two peers: web pods of prod, or anything in dev. */
	r = ingress(np_add("prod", "or", sel("app=other"), IN));
	peer(r, sel("app=web"), NULL);
	peer(r, NULL, sel("team=b"));
	compile();
	assert_true(allowed(DEVWEB, OTHER, TCP, 1));
	assert_true(allowed(DEVCLIENT, OTHER, TCP, 1));
	assert_true(allowed(WEB, OTHER, TCP, 1));
	assert_false(allowed(DB, OTHER, TCP, 1));
}

/*
 * An IPv6-only pod of this node is keyed by 0.<low 24 bits of its IPv6>:
 * its policy compiles under that key as a dual-stack pod's does under its
 * IPv4; one elsewhere has no key (its node keys it). pol_v6_build: every
 * pod's IPv6 with its identity, this node's with their keys.
 */
static void ipv6_only_pod_keyed(void **state)
{
	struct pol_opts o = { .node_name = "n1" };
	struct k8s_pod *v6, *r6, *a;
	const struct pol_result *r;
	const struct pol_delta *d;
	struct pol_incr *pi;
	struct pol_v6 v = { 0 };
	struct cluster c;

	(void)state;
	ns_add("x", "");
	v6 = pod_add("x", "v6", "n1", NULL, "app=v6");
	inet_pton(AF_INET6, "fd00:10::a:5", v6->ip6);
	v6->has_ip6 = true;
	a = pod_add("x", "a", "n1", "10.0.0.2", "app=a");
	inet_pton(AF_INET6, "fd00:10::2", a->ip6);
	a->has_ip6 = true;
	r6 = pod_add("x", "r6", "n2", NULL, "app=r6");
	inet_pton(AF_INET6, "fd00:20::a:5", r6->ip6); /* the same low bits, another node */
	r6->has_ip6 = true;
	peer(ingress(np_add("x", "in", sel("app=v6"), IN)), sel("app=a"), NULL);
	assert_int_equal(pol_polkey6(v6->ip6), ip4("0.10.0.5"));
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_non_null(ep_find(&R, ip4("0.10.0.5")));
	assert_int_equal(R.neps, 2); /* v6 and a: r6 is n2's */
	assert_true(ep_find(&R, ip4("0.10.0.5"))->state.isolated & XCNI_ISOLATED(XCNI_DIR_TO_POD));
	assert_true(allowed("10.0.0.2", "0.10.0.5", TCP, 80));

	pi = pol_incr_new();
	assert_non_null(pi);
	c = view();
	assert_int_equal(pol_incr_update(pi, &c, &o, NULL, 0, true, true, &r, &d, &Err), 0);
	assert_int_equal(r->neps, 2);
	assert_non_null(ep_find(r, ip4("0.10.0.5")));
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(v.nipc, 3);
	assert_int_equal(v.nkeys, 2);
	for (size_t i = 0; i < v.nipc; i++) {
		assert_int_equal(v.ipc[i].key.prefixlen, 128);
		assert_true(v.ipc[i].val.identity >= XCNI_ID_MIN_LABELS);
		assert_int_equal(v.ipc[i].val.flags, XCNI_IPC_POD);
	}
	/* Sorted by address: fd00:10::2 (a, its IPv4), fd00:10::a:5 (v6, its key). */
	assert_memory_equal(v.keys[0].addr.addr, a->ip6, 16);
	assert_int_equal(v.keys[0].key, ip4("10.0.0.2"));
	assert_memory_equal(v.keys[1].addr.addr, v6->ip6, 16);
	assert_int_equal(v.keys[1].key, ip4("0.10.0.5"));
	pol_v6_free(&v);
	pol_incr_free(pi);
}

/*
 * The IPv6 overlay's ipcache6: another node's pod behind that node's IPv4
 * InternalIP (the Geneve endpoint, and the only node that may send from it),
 * this node's pods with none; the Nodes' IPv6 InternalIPs as host (this
 * one) and remote-node (the others, behind their IPv4).
 */
static void ipv6_overlay_ipcache(void **state)
{
	struct pol_opts o = { .node_name = "n1" };
	struct k8s_object *n1, *n2;
	struct k8s_pod *l, *r;
	const struct pol_result *res;
	const struct pol_delta *d;
	struct pol_incr *pi;
	struct pol_v6 v = { 0 };
	struct cluster c;
	uint8_t a[16];
	int seen = 0;

	(void)state;
	ns_add("x", "");
	n1 = obj(K8S_NODE, NULL, "n1", "");
	n1->node.internal_ip = ip4("172.18.0.2");
	inet_pton(AF_INET6, "fc00:f853::2", n1->node.internal_ip6);
	n2 = obj(K8S_NODE, NULL, "n2", "");
	n2->node.internal_ip = ip4("172.18.0.3");
	inet_pton(AF_INET6, "fc00:f853::3", n2->node.internal_ip6);
	l = pod_add("x", "l", "n1", "10.0.1.2", "app=l");
	inet_pton(AF_INET6, "fd00:10:1::2", l->ip6);
	l->has_ip6 = true;
	r = pod_add("x", "r", "n2", "10.0.2.2", "app=r");
	inet_pton(AF_INET6, "fd00:10:2::2", r->ip6);
	r->has_ip6 = true;
	pi = pol_incr_new();
	assert_non_null(pi);
	c = view();
	assert_int_equal(pol_incr_update(pi, &c, &o, NULL, 0, true, true, &res, &d, &Err), 0);
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(v.nipc, 4);
	for (size_t i = 0; i < v.nipc; i++) {
		const struct xcni_ipcache_val *e = &v.ipc[i].val;

		if (inet_pton(AF_INET6, "fd00:10:1::2", a) && !memcmp(v.ipc[i].key.addr, a, 16)) {
			assert_int_equal(e->tunnel_ip, 0);
			assert_int_equal(e->flags, XCNI_IPC_POD);
			seen |= 1;
		} else if (inet_pton(AF_INET6, "fd00:10:2::2", a) &&
			   !memcmp(v.ipc[i].key.addr, a, 16)) {
			assert_int_equal(e->tunnel_ip, ip4("172.18.0.3"));
			assert_int_equal(e->flags, XCNI_IPC_POD);
			assert_true(e->identity >= XCNI_ID_MIN_LABELS);
			seen |= 2;
		} else if (inet_pton(AF_INET6, "fc00:f853::2", a) &&
			   !memcmp(v.ipc[i].key.addr, a, 16)) {
			assert_int_equal(e->identity, XCNI_ID_HOST);
			assert_int_equal(e->tunnel_ip, 0);
			seen |= 4;
		} else {
			assert_true(inet_pton(AF_INET6, "fc00:f853::3", a) &&
				    !memcmp(v.ipc[i].key.addr, a, 16));
			assert_int_equal(e->identity, XCNI_ID_REMOTE_NODE);
			assert_int_equal(e->tunnel_ip, ip4("172.18.0.3"));
			assert_int_equal(e->flags, 0);
			seen |= 8;
		}
	}
	assert_int_equal(seen, 15);
	pol_v6_free(&v);
	pol_incr_free(pi);
}

static void match_expressions(void **state)
{
	(void)state;
	ns_add("x", "");
	pod_add("x", "target", NULL, "10.0.0.1", "app=target");
	pod_add("x", "a", NULL, "10.0.0.2", "tier=fe,env=prod");
	pod_add("x", "b", NULL, "10.0.0.3", "tier=be,env=dev");
	pod_add("x", "c", NULL, "10.0.0.4", "tier=cache");
	pod_add("x", "d", NULL, "10.0.0.5", "other=1");

	peer(ingress(np_add("x", "in", sel("app=target"), IN)),
	     expr(sel(""), "tier", K8S_SEL_IN, "fe,be"), NULL);
	compile();
	assert_true(allowed("10.0.0.2", "10.0.0.1", TCP, 80));
	assert_true(allowed("10.0.0.3", "10.0.0.1", TCP, 80));
	assert_false(allowed("10.0.0.4", "10.0.0.1", TCP, 80));
	assert_false(allowed("10.0.0.5", "10.0.0.1", TCP, 80)); /* key absent */

	/* NotIn: key absent or value not in the set. */
	objs[K8S_NETWORKPOLICY][0]->np.ingress[0].peers[0].pod_sel =
		expr(sel(""), "tier", K8S_SEL_NOT_IN, "fe,be");
	compile();
	assert_false(allowed("10.0.0.2", "10.0.0.1", TCP, 80));
	assert_false(allowed("10.0.0.3", "10.0.0.1", TCP, 80));
	assert_true(allowed("10.0.0.4", "10.0.0.1", TCP, 80));
	assert_true(allowed("10.0.0.5", "10.0.0.1", TCP, 80));

	objs[K8S_NETWORKPOLICY][0]->np.ingress[0].peers[0].pod_sel =
		expr(sel(""), "env", K8S_SEL_EXISTS, NULL);
	compile();
	assert_true(allowed("10.0.0.2", "10.0.0.1", TCP, 80));
	assert_true(allowed("10.0.0.3", "10.0.0.1", TCP, 80));
	assert_false(allowed("10.0.0.4", "10.0.0.1", TCP, 80));

	/* DoesNotExist and matchLabels together: AND of all terms. */
	objs[K8S_NETWORKPOLICY][0]->np.ingress[0].peers[0].pod_sel =
		expr(sel("tier=cache"), "env", K8S_SEL_DOES_NOT_EXIST, NULL);
	compile();
	assert_false(allowed("10.0.0.2", "10.0.0.1", TCP, 80));
	assert_true(allowed("10.0.0.4", "10.0.0.1", TCP, 80));
	assert_false(allowed("10.0.0.5", "10.0.0.1", TCP, 80));

	/* Expressions in spec.podSelector select the pods the policy applies to. */
	objs[K8S_NETWORKPOLICY][0]->np.pod_sel = *expr(sel(""), "tier", K8S_SEL_IN, "fe");
	compile();
	assert_int_equal(ep("10.0.0.2")->state.isolated, XCNI_ISOLATED(XCNI_DIR_TO_POD));
	assert_int_equal(ep("10.0.0.1")->state.isolated, 0);
}

static void empty_selectors(void **state)
{
	(void)state;
	cast();
	/* podSelector: {} = every pod of the policy's namespace. */
	peer(ingress(np_add("prod", "same-ns", sel("app=db"), IN)), sel(""), NULL);
	compile();
	assert_true(allowed(WEB, DB, TCP, 1));
	assert_true(allowed(OTHER, DB, TCP, 1));
	assert_false(allowed(DEVWEB, DB, TCP, 1));
	assert_false(allowed(OUTSIDE, DB, TCP, 1));

	/* namespaceSelector: {} = every pod of every namespace, but not the world. */
	objs[K8S_NETWORKPOLICY][0]->np.ingress[0].peers[0] =
		(struct k8s_np_peer){ .ns_sel = sel("") };
	compile();
	assert_true(allowed(WEB, DB, TCP, 1));
	assert_true(allowed(DEVCLIENT, DB, TCP, 1));
	assert_false(allowed(OUTSIDE, DB, TCP, 1));
}

static void namespace_without_object(void **state)
{
	(void)state;
	/* No Namespace objects: selectors still see kubernetes.io/metadata.name. */
	pod_add("a", "srv", NULL, "10.0.0.1", "app=srv");
	pod_add("b", "cli", NULL, "10.0.0.2", "app=cli");
	pod_add("c", "cli", NULL, "10.0.0.3", "app=cli");
	peer(ingress(np_add("a", "p", sel("app=srv"), IN)), NULL,
	     sel("kubernetes.io/metadata.name=b"));
	compile();
	assert_true(allowed("10.0.0.2", "10.0.0.1", TCP, 1));
	assert_false(allowed("10.0.0.3", "10.0.0.1", TCP, 1));
	for (size_t i = 0; i < R.nidentities; i++)
		if (!strcmp(R.identities[i].ns, "b"))
			assert_string_equal(R.identities[i].canon,
					    "k8s:app=cli,ns:kubernetes.io/metadata.name=b");

	/* A Namespace made by hand without the label gets it, in its sorted place. */
	obj(K8S_NAMESPACE, NULL, "d", "a=1,z=2");
	pod_add("d", "cli", NULL, "10.0.0.4", "app=cli");
	compile();
	for (size_t i = 0; i < R.nidentities; i++)
		if (!strcmp(R.identities[i].ns, "d"))
			assert_string_equal(
				R.identities[i].canon,
				"k8s:app=cli,ns:a=1,ns:kubernetes.io/metadata.name=d,ns:z=2");
	assert_false(allowed("10.0.0.4", "10.0.0.1", TCP, 1));
	objs[K8S_NETWORKPOLICY][0]->np.ingress[0].peers[0].ns_sel =
		sel("kubernetes.io/metadata.name=d");
	compile();
	assert_true(allowed("10.0.0.4", "10.0.0.1", TCP, 1));
}

static void ipblock_except(void **state)
{
	const struct pol_ep *e;
	struct k8s_np_rule *r;
	uint32_t g8, g16;

	(void)state;
	ns_add("x", "");
	pod_add("x", "db", NULL, "10.244.0.5", "app=db");
	peer_block(ingress(np_add("x", "blocks", sel("app=db"), IN)), "10.0.0.0/8", "10.1.0.0/16",
		   NULL);
	compile();
	e = ep("10.244.0.5");
	/* Two prefixes, in address order: the cidr, and the except that hides part of it. */
	assert_int_equal(e->ncidrs, 2);
	assert_int_equal(e->cidrs[0].key.prefixlen, XCNI_POLCIDR_PREFIX_BASE + 8);
	assert_int_equal(e->cidrs[0].key.addr, ip4("10.0.0.0"));
	assert_int_equal(e->cidrs[0].key.dir, XCNI_DIR_TO_POD);
	assert_int_equal(e->cidrs[0].key.ep, ip4("10.244.0.5"));
	assert_int_equal(e->cidrs[1].key.prefixlen, XCNI_POLCIDR_PREFIX_BASE + 16);
	assert_int_equal(e->cidrs[1].key.addr, ip4("10.1.0.0"));
	g8 = e->cidrs[0].group;
	g16 = e->cidrs[1].group;
	assert_int_equal(g8, XCNI_ID_CIDR_BASE);
	assert_int_equal(g16, XCNI_ID_CIDR_BASE + 1);
	/* The except's group allows nothing: only the /8's group has an entry. */
	assert_int_equal(e->nentries, 1);
	assert_int_equal(e->entries[0].key.peer, g8);
	assert_int_equal(polcidr_group(e, XCNI_DIR_TO_POD, ip4("10.1.2.3")), g16);
	assert_int_equal(polcidr_group(e, XCNI_DIR_TO_POD, ip4("10.2.0.1")), g8);
	assert_int_equal(polcidr_group(e, XCNI_DIR_TO_POD, ip4("11.0.0.1")), 0);
	assert_false(allowed("10.1.2.3", "10.244.0.5", TCP, 80));
	assert_true(allowed("10.2.0.1", "10.244.0.5", TCP, 80));
	assert_false(allowed("11.0.0.1", "10.244.0.5", TCP, 80));

	/* A second rule whose cidr is the except: that rule lets 10.1.2.3 in. */
	r = ingress(&objs[K8S_NETWORKPOLICY][0]->np);
	peer_block(r, "10.1.0.0/16", NULL);
	port(r, TCP, 443, 0);
	compile();
	assert_true(allowed("10.1.2.3", "10.244.0.5", TCP, 443));
	assert_false(allowed("10.1.2.3", "10.244.0.5", TCP, 80));
	assert_true(allowed("10.2.0.1", "10.244.0.5", TCP, 80));
	assert_int_equal(ingress_hit("10.1.2.3", "10.244.0.5", TCP, 443)->val.rule, 1);
	assert_int_equal(ingress_hit("10.2.0.1", "10.244.0.5", TCP, 80)->val.rule, 0);

	/* ipBlock matches pod addresses too, whatever their identity. */
	pod_add("x", "in-block", NULL, "10.3.0.7", "app=anything");
	pod_add("x", "excepted", NULL, "10.1.0.9", "app=anything");
	compile();
	assert_true(allowed("10.3.0.7", "10.244.0.5", TCP, 80));
	assert_false(allowed("10.1.0.9", "10.244.0.5", TCP, 80));
	assert_true(allowed("10.1.0.9", "10.244.0.5", TCP, 443));
}

static void ipblock_egress_nested(void **state)
{
	struct k8s_netpol *np;
	struct k8s_np_rule *r;

	(void)state;
	ns_add("x", "");
	pod_add("x", "cli", NULL, "10.244.0.5", "app=cli");
	np = np_add("x", "out", sel("app=cli"), EG);
	/* 0.0.0.0/0 except 10.0.0.0/8 except-in-another-rule 10.9.0.0/16 (UDP only). */
	peer_block(egress(np), "0.0.0.0/0", "10.0.0.0/8", "192.168.0.0/16", NULL);
	r = egress(np);
	peer_block(r, "10.9.0.0/16", NULL);
	port_proto(r, UDP);
	compile();
	assert_true(allowed("10.244.0.5", "8.8.8.8", TCP, 443));
	assert_false(allowed("10.244.0.5", "10.2.3.4", TCP, 443));
	assert_false(allowed("10.244.0.5", "192.168.1.1", TCP, 443));
	assert_true(allowed("10.244.0.5", "10.9.1.1", UDP, 53));
	assert_false(allowed("10.244.0.5", "10.9.1.1", TCP, 53));
	assert_int_equal(ep("10.244.0.5")->ncidrs, 4);
}

/*
 * IPv6 ipBlock: prefixes of both families in one trie, told apart by v6;
 * IPv4 groups first, then IPv6 ones; an except carves its part out; a
 * block of one family never admits an address of the other.
 */
static void ipblock6_except(void **state)
{
	const struct pol_ep *e;
	uint32_t db;

	(void)state;
	ns_add("x", "");
	pod_ip6(pod_add("x", "db", NULL, "10.244.0.5", "app=db"), "fd00:10::5");
	peer_block(ingress(np_add("x", "blocks", sel("app=db"), IN)), "fd00:1::/32",
		   "fd00:1:2::/48", NULL);
	compile();
	db = ip4("10.244.0.5");
	e = ep("10.244.0.5");
	assert_int_equal(e->ncidrs, 2);
	assert_int_equal(e->cidrs[0].key.v6, 1);
	assert_int_equal(e->cidrs[0].key.prefixlen, XCNI_POLCIDR_PREFIX_BASE + 32);
	assert_int_equal(e->cidrs[1].key.prefixlen, XCNI_POLCIDR_PREFIX_BASE + 48);
	assert_int_equal(e->cidrs[0].group, XCNI_ID_CIDR_BASE);
	assert_int_equal(e->nentries, 1);
	assert_true(side6(&R, db, XCNI_DIR_TO_POD, "fd00:1:5::1", XCNI_ID_WORLD, TCP, 80));
	assert_false(side6(&R, db, XCNI_DIR_TO_POD, "fd00:1:2::1", XCNI_ID_WORLD, TCP, 80));
	assert_false(side6(&R, db, XCNI_DIR_TO_POD, "fd00:2::1", XCNI_ID_WORLD, TCP, 80));
	/* The IPv6 block admits no IPv4 peer, not even 0.0.0.0-ish ones. */
	assert_false(allowed("10.0.0.1", "10.244.0.5", TCP, 80));
	assert_false(allowed("0.0.0.1", "10.244.0.5", TCP, 80));
	assert_int_equal(polcidr_group(e, XCNI_DIR_TO_POD, ip4("253.0.0.1")), 0);

	/* Add IPv4 0.0.0.0/0 in another rule (UDP only): IPv4 groups come first. */
	struct k8s_np_rule *r = ingress(&objs[K8S_NETWORKPOLICY][0]->np);

	peer_block(r, "0.0.0.0/0", NULL);
	port_proto(r, UDP);
	compile();
	e = ep("10.244.0.5");
	assert_int_equal(e->ncidrs, 3);
	assert_int_equal(e->cidrs[0].key.v6, 0);
	assert_int_equal(e->cidrs[0].group, XCNI_ID_CIDR_BASE);
	assert_int_equal(e->cidrs[1].group, XCNI_ID_CIDR_BASE + 1);
	assert_true(allowed("192.0.2.1", "10.244.0.5", UDP, 53));
	assert_false(allowed("192.0.2.1", "10.244.0.5", TCP, 80));
	/* ...and leaves IPv6 alone: UDP from outside the IPv6 block stays out. */
	assert_false(side6(&R, db, XCNI_DIR_TO_POD, "2001:db8::1", XCNI_ID_WORLD, UDP, 53));
	assert_false(side6(&R, db, XCNI_DIR_TO_POD, "::", XCNI_ID_WORLD, UDP, 53));
	assert_false(side6(&R, db, XCNI_DIR_TO_POD, "fd00:1:2::1", XCNI_ID_WORLD, UDP, 53));
	assert_true(side6(&R, db, XCNI_DIR_TO_POD, "fd00:1:5::1", XCNI_ID_WORLD, TCP, 80));

	/* ::/0 on egress: every IPv6 destination, no IPv4 one. */
	peer_block(egress(np_add("x", "out6", sel("app=db"), EG)), "::/0", "fd00:1::/32", NULL);
	compile();
	assert_true(side6(&R, db, XCNI_DIR_FROM_POD, "2001:db8::1", XCNI_ID_WORLD, TCP, 443));
	assert_false(side6(&R, db, XCNI_DIR_FROM_POD, "fd00:1::9", XCNI_ID_WORLD, TCP, 443));
	assert_false(side(&R, db, XCNI_DIR_FROM_POD, ip4("192.0.2.1"), TCP, 443,
			  &(const struct pol_entry *){ NULL }));
}

/*
 * Egress named ports resolve on IPv6-only pods: a selector peer through the
 * pod's identity, an IPv6 ipBlock through a /128 of each pod inside it.
 */
static void named_port_egress_ipv6_only(void **state)
{
	struct k8s_pod *a, *b;
	struct k8s_netpol *np;
	struct k8s_np_rule *r;
	uint32_t cli, ida;

	(void)state;
	ns_add("x", "");
	a = pod_add("x", "a", NULL, NULL, "app=srv");
	pod_ip6(a, "fd00:10::1:1");
	b = pod_add("x", "b", NULL, NULL, "app=db");
	pod_ip6(b, "fd00:10::1:2");
	pod_ip6(pod_add("x", "cli", NULL, NULL, "app=cli"), "fd00:10::1:9");
	pod_port(a, "http", TCP, 8080);
	pod_port(b, "http", TCP, 9090);
	cli = pol_polkey6(objs[K8S_POD][2]->pod.ip6);

	np = np_add("x", "out", sel("app=cli"), EG);
	r = egress(np);
	peer(r, sel("app=srv"), NULL);
	port_named(r, TCP, "http");
	compile();
	ida = pod_identity(&R, "0.1.0.1"); /* a's policy key carries its identity */
	assert_true(ida >= XCNI_ID_MIN_LABELS);
	assert_true(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:1", ida, TCP, 8080));
	assert_false(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:1", ida, TCP, 9090));

	/* IPv6 ipBlock peer: the pods inside it, each on its own number. */
	r->npeers = 0;
	peer_block(r, "fd00:10::/64", "fd00:10::1:2/128", NULL);
	compile();
	assert_true(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:1", XCNI_ID_WORLD, TCP, 8080));
	assert_false(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:1", XCNI_ID_WORLD, TCP, 9090));
	assert_false(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:2", XCNI_ID_WORLD, TCP, 9090));
	assert_false(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:3", XCNI_ID_WORLD, TCP, 8080));
	/* An IPv4 ipBlock gives no IPv6-only pod its port. */
	r->npeers = 0;
	peer_block(r, "0.0.0.0/0", NULL);
	compile();
	assert_false(side6(&R, cli, XCNI_DIR_FROM_POD, "fd00:10::1:1", XCNI_ID_WORLD, TCP, 8080));
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
		if (!policy_lookup(e, XCNI_DIR_TO_POD, XCNI_ID_ANY, TCP, p))
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

/* ---- identities -------------------------------------------------------- */

static void identity_determinism(void **state)
{
	uint32_t web, devweb, web2;

	(void)state;
	cast();
	pod_add("prod", "web-2", "n2", "10.244.1.10", "app=web");
	pod_add("prod", "web-3", "n2", NULL, "app=web"); /* no IP yet: same identity */
	compile();
	web = pod_identity(&R, WEB);
	devweb = pod_identity(&R, DEVWEB);
	web2 = pod_identity(&R, "10.244.1.10");
	assert_int_equal(web, web2);
	assert_int_not_equal(web, devweb); /* namespace labels are part of it */
	assert_int_not_equal(web, pod_identity(&R, DB));
	assert_true(web >= XCNI_ID_MIN_LABELS && web < XCNI_ID_CIDR_BASE);
	assert_int_equal(R.nidentities, 5);
	for (size_t i = 0; i < R.nidentities; i++) {
		if (R.identities[i].id != web)
			continue;
		assert_string_equal(R.identities[i].canon,
				    "k8s:app=web,ns:kubernetes.io/metadata.name=prod,ns:team=a");
		assert_int_equal(R.identities[i].id, pol_identity_hash(R.identities[i].canon));
		assert_string_equal(R.identities[i].ns, "prod");
	}
	for (size_t i = 1; i < R.nidentities; i++)
		assert_true(R.identities[i - 1].id < R.identities[i].id);

	/* Another pod order, another cluster: the same numbers. */
	teardown(state);
	setup(state);
	pod_add("dev", "zz", NULL, "10.1.0.1", "app=web");
	pod_add("prod", "aa", NULL, "10.1.0.2", "app=web");
	ns_add("dev", "team=b");
	ns_add("prod", "team=a");
	compile();
	assert_int_equal(pod_identity(&R, "10.1.0.2"), web);
	assert_int_equal(pod_identity(&R, "10.1.0.1"), devweb);

	/* A namespace label change changes the identity. */
	objs[K8S_NAMESPACE][1]->meta.labels = labels("kubernetes.io/metadata.name=prod,team=c");
	compile();
	assert_int_not_equal(pod_identity(&R, "10.1.0.2"), web);
}

static uint32_t const_hash(const char *s)
{
	(void)s;
	return 7;
}

static void identity_collisions(void **state)
{
	struct pol_opts o = { .hash = const_hash };
	uint32_t ids[3];

	(void)state;
	ns_add("x", "");
	pod_add("x", "c", NULL, "10.0.0.3", "app=c");
	pod_add("x", "a", NULL, "10.0.0.1", "app=a");
	pod_add("x", "b", NULL, "10.0.0.2", "app=b");
	peer(ingress(np_add("x", "p", sel("app=a"), IN)), sel("app=b"), NULL);
	np_add("x", "q", sel("app=c"), IN);
	assert_int_equal(compile_opts(&R, &o), 0);
	/* Everything hashes to 256 + 7: taken in canonical-string order. */
	ids[0] = pod_identity(&R, "10.0.0.1");
	ids[1] = pod_identity(&R, "10.0.0.2");
	ids[2] = pod_identity(&R, "10.0.0.3");
	assert_int_equal(ids[0], XCNI_ID_MIN_LABELS + 7);
	assert_int_equal(ids[1], XCNI_ID_MIN_LABELS + 8);
	assert_int_equal(ids[2], XCNI_ID_MIN_LABELS + 9);
	/* Policy ids probe the same way, in (namespace, name) order. */
	assert_int_equal(R.npolicies, 2);
	assert_int_equal(policy_id("x", "p"), 8);
	assert_int_equal(policy_id("x", "q"), 9);
	/* Policy still tells them apart. */
	assert_true(allowed("10.0.0.2", "10.0.0.1", TCP, 1));
	assert_false(allowed("10.0.0.3", "10.0.0.1", TCP, 1));

	/* Removing the pod that sorts first moves the others, deterministically. */
	objs[K8S_POD][1] = objs[K8S_POD][2];
	nobjs[K8S_POD]--;
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_int_equal(pod_identity(&R, "10.0.0.2"), XCNI_ID_MIN_LABELS + 7);
	assert_int_equal(pod_identity(&R, "10.0.0.3"), XCNI_ID_MIN_LABELS + 8);
	assert_int_equal(pol_policy_hash("x", "p"), pol_policy_hash("x", "p"));
	assert_true(pol_policy_hash("x", "p") >= 1 && pol_policy_hash("x", "p") < (1u << 31));
}

/* ---- ipcache, names, endpoints ----------------------------------------- */

static const struct pol_ipcache *ipc(const struct pol_result *r, const char *c)
{
	struct k8s_cidr k = cidr(c);

	for (size_t i = 0; i < r->nipcache; i++)
		if (r->ipcache[i].key.addr == k.addr && r->ipcache[i].key.prefixlen == k.len)
			return &r->ipcache[i];
	fail_msg("no ipcache entry %s", c);
	return NULL;
}

static void ipcache_contents(void **state)
{
	struct pol_opts o = { .node_name = "n1", .node_ip = ip4("172.18.0.2"),
			      .gateway_ip = ip4("10.244.0.1") };
	struct k8s_pod *hostnet;

	(void)state;
	cast();
	node_add("n1", "172.18.0.2");
	node_add("n2", "172.18.0.3");
	pod_add("prod", "remote", "n2", "10.244.1.5", "app=web");
	pod_add("prod", "lost", "n9", "10.244.9.5", "app=web"); /* node unknown */
	pod_add("prod", "pending", "n2", NULL, "app=pending");
	hostnet = pod_add("kube-system", "proxy", "n1", "172.18.0.2", "app=proxy");
	hostnet->host_network = true;
	assert_int_equal(compile_opts(&R, &o), 0);

	assert_int_equal(ipc(&R, "0.0.0.0/0")->val.identity, XCNI_ID_WORLD);
	assert_int_equal(ipc(&R, "172.18.0.2/32")->val.identity, XCNI_ID_HOST);
	assert_int_equal(ipc(&R, "172.18.0.3/32")->val.identity, XCNI_ID_REMOTE_NODE);
	assert_int_equal(ipc(&R, "10.244.0.1/32")->val.identity, XCNI_ID_HOST);
	assert_int_equal(ipc(&R, WEB "/32")->val.tunnel_ip, 0);
	assert_int_equal(ipc(&R, WEB "/32")->val.identity, pod_identity(&R, "10.244.1.5"));
	assert_int_equal(ipc(&R, "10.244.1.5/32")->val.tunnel_ip, ip4("172.18.0.3"));
	assert_int_equal(ipc(&R, "10.244.9.5/32")->val.tunnel_ip, 0);
	/* 5 of the cast + remote + lost, 2 nodes, gateway, world; hostNetwork is the node. */
	assert_int_equal(R.nipcache, 7 + 2 + 1 + 1);
	for (size_t i = 1; i < R.nipcache; i++)
		assert_true(memcmp(&R.ipcache[i - 1].key, &R.ipcache[i].key,
				   sizeof(struct xcni_ipcache_key)) < 0);

	/* Identities: every non-hostNetwork pod, IP or not, any node. */
	assert_int_equal(R.nidentities, 6);
	/* Local endpoints only: the cast's five, on n1. */
	assert_int_equal(R.neps, 5);
	for (size_t i = 0; i < R.neps; i++) {
		assert_string_equal(R.eps[i].pod->node_name, "n1");
		assert_int_equal(R.eps[i].state.identity, pod_identity(&R, inet_ntoa(
			(struct in_addr){ .s_addr = R.eps[i].ip })));
		if (i)
			assert_true(ntohl(R.eps[i - 1].ip) < ntohl(R.eps[i].ip));
	}
	/* Names of every pod with an address, sorted. */
	assert_int_equal(R.npodnames, 7);
	assert_int_equal(R.podnames[0].ip, ip4(WEB));
	assert_string_equal(R.podnames[0].name.ns, "prod");
	assert_string_equal(R.podnames[0].name.name, "web");
	assert_string_equal(R.podnames[0].name.node, "n1");
	/* Traffic from the node itself gets through an isolated pod. */
	np_add("prod", "deny", sel(""), IN);
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_true(allowed("172.18.0.2", WEB, TCP, 8080));
	assert_false(allowed("172.18.0.3", WEB, TCP, 8080));
	assert_int_equal(R.npolicies, 1);
	assert_string_equal(R.policies[0].name.name, "deny");
}

static void duplicate_pod_ip(void **state)
{
	struct pol_opts o = { 0 };

	(void)state;
	cast();
	pod_add("prod", "twin", "n1", WEB, "app=twin");
	assert_int_equal(compile_opts(&R, &o), -EINVAL);
	assert_non_null(strstr(Err.msg, "10.244.0.10"));
	assert_int_equal(R.neps, 0);
}

/* ---- determinism and incrementality ------------------------------------ */

static void busy_cluster(void)
{
	struct k8s_netpol *np;
	struct k8s_np_rule *r;

	cast();
	np = np_add("prod", "db", sel("app=db"), IN | EG);
	r = ingress(np);
	peer(r, sel("app=web"), NULL);
	peer(r, NULL, sel("team=b"));
	peer_block(r, "192.0.2.0/24", "192.0.2.128/25", NULL);
	port(r, TCP, 5432, 0);
	port(r, TCP, 6000, 6010);
	r = egress(np);
	peer_block(r, "0.0.0.0/0", "10.0.0.0/8", NULL);
	np = np_add("prod", "web", sel("app=web"), IN);
	r = ingress(np);
	port(r, TCP, 80, 0);
	np = np_add("dev", "all", sel(""), EG);
	r = egress(np);
	peer(r, NULL, sel(""));
}

static void pol_result_equal(const struct pol_result *a, const struct pol_result *b)
{
	assert_int_equal(a->nidentities, b->nidentities);
	for (size_t i = 0; i < a->nidentities; i++) {
		assert_int_equal(a->identities[i].id, b->identities[i].id);
		assert_string_equal(a->identities[i].canon, b->identities[i].canon);
	}
	assert_int_equal(a->neps, b->neps);
	for (size_t i = 0; i < a->neps; i++) {
		assert_int_equal(a->eps[i].nentries, b->eps[i].nentries);
		assert_int_equal(a->eps[i].ncidrs, b->eps[i].ncidrs);
		assert_memory_equal(&a->eps[i].state, &b->eps[i].state, sizeof(a->eps[i].state));
		assert_memory_equal(a->eps[i].entries, b->eps[i].entries,
				    a->eps[i].nentries * sizeof(*a->eps[i].entries));
		assert_memory_equal(a->eps[i].cidrs, b->eps[i].cidrs,
				    a->eps[i].ncidrs * sizeof(*a->eps[i].cidrs));
	}
	assert_int_equal(a->nipcache, b->nipcache);
	assert_memory_equal(a->ipcache, b->ipcache, a->nipcache * sizeof(*a->ipcache));
	assert_int_equal(a->npolicies, b->npolicies);
	assert_memory_equal(a->policies, b->policies, a->npolicies * sizeof(*a->policies));
	assert_int_equal(a->npodnames, b->npodnames);
	assert_memory_equal(a->podnames, b->podnames, a->npodnames * sizeof(*a->podnames));
}

static void recompile_identical(void **state)
{
	struct pol_opts o = { 0 };

	(void)state;
	busy_cluster();
	assert_int_equal(compile_opts(&R, &o), 0);
	assert_true(ep(DB)->nentries > 5);
	assert_int_equal(compile_opts(&R2, &o), 0);
	pol_result_equal(&R, &R2);
	/* The same objects added in another order. */
	for (int k = 0; k < K8S_NR_KINDS; k++)
		for (size_t i = 0; i < nobjs[k] / 2; i++) {
			struct k8s_object *t = objs[k][i];

			objs[k][i] = objs[k][nobjs[k] - 1 - i];
			objs[k][nobjs[k] - 1 - i] = t;
		}
	assert_int_equal(compile_opts(&R2, &o), 0);
	pol_result_equal(&R, &R2);
}

static void change_touches_selected_only(void **state)
{
	struct pol_opts o = { 0 };
	struct k8s_np_rule *r;

	(void)state;
	busy_cluster();
	assert_int_equal(compile_opts(&R, &o), 0);
	/* One more port in prod/web: only prod's web pod changes. */
	r = &objs[K8S_NETWORKPOLICY][1]->np.ingress[0];
	port(r, TCP, 443, 0);
	assert_int_equal(compile_opts(&R2, &o), 0);
	assert_int_equal(R.neps, R2.neps);
	for (size_t i = 0; i < R.neps; i++) {
		bool same = R.eps[i].nentries == R2.eps[i].nentries &&
			    !memcmp(R.eps[i].entries, R2.eps[i].entries,
				    R.eps[i].nentries * sizeof(*R.eps[i].entries)) &&
			    R.eps[i].ncidrs == R2.eps[i].ncidrs &&
			    !memcmp(R.eps[i].cidrs, R2.eps[i].cidrs,
				    R.eps[i].ncidrs * sizeof(*R.eps[i].cidrs));

		assert_int_equal(same, R.eps[i].ip != ip4(WEB));
	}
	assert_memory_equal(R.ipcache, R2.ipcache, R.nipcache * sizeof(*R.ipcache));
	assert_true(allowed_r(&R2, OTHER, WEB, TCP, 443));
	assert_false(allowed_r(&R, OTHER, WEB, TCP, 443));
}

static void host_network_and_pending_pods(void **state)
{
	struct k8s_pod *h;

	(void)state;
	ns_add("x", "");
	h = pod_add("x", "hostnet", NULL, "172.18.0.2", "app=h");
	h->host_network = true;
	pod_add("x", "pending", NULL, NULL, "app=p");
	pod_add("x", "srv", NULL, "10.0.0.1", "app=srv");
	np_add("x", "deny", sel(""), IN | EG);
	compile();
	assert_int_equal(R.neps, 1); /* neither hostNetwork nor address-less pods */
	assert_int_equal(R.nidentities, 2); /* pending counts, hostnet does not */
	assert_int_equal(R.npodnames, 1);
}

/* The ipcache6 entry of address a in v (NULL when none). */
static const struct xcni_ipcache_val *ipc6_of(const struct pol_v6 *v, const char *a)
{
	uint8_t k[16];

	assert_int_equal(inet_pton(AF_INET6, a, k), 1);
	for (size_t i = 0; i < v->nipc; i++)
		if (!memcmp(v->ipc[i].key.addr, k, 16))
			return &v->ipc[i].val;
	fail_msg("no ipcache6 entry %s", a);
	return NULL;
}

static void tun6_is(const struct xcni_ipcache_val *e, const char *node6)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET6, node6, a), 1);
	assert_true(e->flags & XCNI_IPC_TUN6);
	assert_int_equal(e->tunnel_ip, 0);
	assert_memory_equal(e->tunnel_ip6, a, 16);
}

static void tun4_is(const struct xcni_ipcache_val *e, const char *node4)
{
	static const uint8_t none[16];

	assert_false(e->flags & XCNI_IPC_TUN6);
	assert_int_equal(e->tunnel_ip, node4 ? ip4(node4) : 0);
	assert_memory_equal(e->tunnel_ip6, none, 16);
}

/*
 * The IPv6 underlay (ABI 9): a Node with only an IPv6 InternalIP is reached
 * at it (XCNI_IPC_TUN6, for its pods' IPv4 and IPv6 and its own address); a
 * dual-stack Node at its IPv4 one, unless this node's underlay is IPv6
 * (o.underlay6), then at its IPv6 one. The full and the incremental
 * compiles agree; a Node that loses its IPv4 InternalIP moves its pods over.
 */
static void ipv6_underlay_ipcache(void **state)
{
	struct pol_opts o = { .node_name = "n1" };
	struct k8s_object *n1, *n2, *n3;
	struct k8s_pod *r2, *r3;
	const struct pol_result *res;
	const struct pol_delta *d;
	struct pol_incr *pi;
	struct pol_v6 v = { 0 };
	struct cluster c;

	(void)state;
	ns_add("x", "");
	n1 = obj(K8S_NODE, NULL, "n1", "");
	inet_pton(AF_INET6, "fc00:78::1", n1->node.internal_ip6);
	n2 = obj(K8S_NODE, NULL, "n2", "");
	inet_pton(AF_INET6, "fc00:78::2", n2->node.internal_ip6);
	n3 = obj(K8S_NODE, NULL, "n3", "");
	n3->node.internal_ip = ip4("172.18.0.3");
	inet_pton(AF_INET6, "fc00:78::3", n3->node.internal_ip6);
	r2 = pod_add("x", "r2", "n2", "10.0.2.2", "app=r");
	inet_pton(AF_INET6, "fd00:10:2::2", r2->ip6);
	r2->has_ip6 = true;
	r3 = pod_add("x", "r3", "n3", "10.0.3.2", "app=r");
	inet_pton(AF_INET6, "fd00:10:3::2", r3->ip6);
	r3->has_ip6 = true;

	for (int u6 = 0; u6 < 2; u6++) {
		o.underlay6 = u6;
		/* The whole compile. */
		assert_int_equal(compile_opts(&R, &o), 0);
		tun6_is(&ipc(&R, "10.0.2.2/32")->val, "fc00:78::2");
		assert_true(ipc(&R, "10.0.2.2/32")->val.flags & XCNI_IPC_POD);
		if (u6) {
			tun6_is(&ipc(&R, "10.0.3.2/32")->val, "fc00:78::3");
			tun6_is(&ipc(&R, "172.18.0.3/32")->val, "fc00:78::3");
		} else {
			tun4_is(&ipc(&R, "10.0.3.2/32")->val, "172.18.0.3");
			tun4_is(&ipc(&R, "172.18.0.3/32")->val, "172.18.0.3");
		}
		/* The incremental one, both families. */
		pi = pol_incr_new();
		assert_non_null(pi);
		c = view();
		assert_int_equal(pol_incr_update(pi, &c, &o, NULL, 0, true, true, &res, &d, &Err),
				 0);
		assert_int_equal(res->nipcache, R.nipcache);
		for (size_t i = 0; i < R.nipcache; i++)
			assert_memory_equal(&res->ipcache[i], &R.ipcache[i], sizeof(R.ipcache[i]));
		assert_int_equal(pol_v6_build(pi, &c, &v), 0);
		tun6_is(ipc6_of(&v, "fd00:10:2::2"), "fc00:78::2");
		tun6_is(ipc6_of(&v, "fc00:78::2"), "fc00:78::2");
		assert_int_equal(ipc6_of(&v, "fc00:78::2")->identity, XCNI_ID_REMOTE_NODE);
		tun4_is(ipc6_of(&v, "fc00:78::1"), NULL);
		assert_int_equal(ipc6_of(&v, "fc00:78::1")->identity, XCNI_ID_HOST);
		if (u6) {
			tun6_is(ipc6_of(&v, "fd00:10:3::2"), "fc00:78::3");
		} else {
			tun4_is(ipc6_of(&v, "fd00:10:3::2"), "172.18.0.3");
			tun4_is(ipc6_of(&v, "fc00:78::3"), "172.18.0.3");
		}
		pol_v6_free(&v);
		pol_incr_free(pi);
	}
	/* n3 left with its IPv6 InternalIP only: its pods follow, in the whole
	 * compile and in the incremental one told of the Node's change. */
	o.underlay6 = false;
	pi = pol_incr_new();
	assert_non_null(pi);
	c = view();
	assert_int_equal(pol_incr_update(pi, &c, &o, NULL, 0, true, true, &res, &d, &Err), 0);
	tun4_is(&ipc(res, "10.0.3.2/32")->val, "172.18.0.3");
	n3->node.internal_ip = 0;
	assert_int_equal(compile_opts(&R, &o), 0);
	tun6_is(&ipc(&R, "10.0.3.2/32")->val, "fc00:78::3");
	{
		struct store_change ch = { K8S_NODE, NULL, (char *)"n3" };

		c = view();
		assert_int_equal(pol_incr_update(pi, &c, &o, &ch, 1, false, true, &res, &d, &Err),
				 0);
	}
	tun6_is(&ipc(res, "10.0.3.2/32")->val, "fc00:78::3");
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	tun6_is(ipc6_of(&v, "fd00:10:3::2"), "fc00:78::3");
	pol_v6_free(&v);
	/* n2 renumbered, its IPv6 InternalIP alone changing: its pod follows. */
	inet_pton(AF_INET6, "fc00:78::22", n2->node.internal_ip6);
	{
		struct store_change ch = { K8S_NODE, NULL, (char *)"n2" };

		c = view();
		assert_int_equal(pol_incr_update(pi, &c, &o, &ch, 1, false, true, &res, &d, &Err),
				 0);
	}
	tun6_is(&ipc(res, "10.0.2.2/32")->val, "fc00:78::22");
	pol_incr_free(pi);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(unselected_pod_not_isolated),
		T(policy_types),
		T(empty_ingress_denies_all),
		T(empty_rule_allows_all),
		T(pod_selector_peer_own_namespace),
		T(namespace_selector_only),
		T(pod_and_namespace_selectors_and_vs_or),
		T(match_expressions),
		T(ipv6_only_pod_keyed),
		T(ipv6_overlay_ipcache),
		T(empty_selectors),
		T(namespace_without_object),
		T(ipblock_except),
		T(ipblock_egress_nested),
		T(ipblock6_except),
		T(named_port_egress_ipv6_only),
		T(numeric_port),
		T(protocols),
		T(port_without_protocol_is_tcp),
		T(port_ranges),
		T(named_port_ingress),
		T(named_port_egress),
		T(several_policies_union),
		T(isolating_policies),
		T(identity_determinism),
		T(identity_collisions),
		T(ipcache_contents),
		T(duplicate_pod_ip),
		T(recompile_identical),
		T(change_touches_selected_only),
		T(host_network_and_pending_pods),
		T(ipv6_underlay_ipcache),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
