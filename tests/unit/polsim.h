// SPDX-License-Identifier: Apache-2.0
/*
 * The NetworkPolicy compiler's tests (test_policy, test_polpeers,
 * test_polmaps) against the networking.k8s.io/v1 semantics.
 *
 * Clusters are built in C (small constructors below), compiled, and judged
 * by a simulator that looks the output up the way the data plane does: the
 * peer's identity in the ipcache (LPM), then the policy trie (LPM, bit by
 * bit over the key's bytes) with that identity, the pod's ipBlock group
 * (LPM in polcidr) and XCNI_ID_ANY. So most tests read as "may a talk to b
 * on TCP 80" rather than as lists of keys.
 */
#ifndef XCNI_TEST_POLSIM_H
#define XCNI_TEST_POLSIM_H

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
#include "../../user/lib/policy/policy.h"
#include "polplane.h"

#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP
#define SCTP IPPROTO_SCTP
#define ICMP IPPROTO_ICMP
#define IN 1
#define EG 2
#ifndef MAXN
#define MAXN 64 /* objects of a kind; a test may ask for more */
#endif

/* ---- everything a test allocates, freed in teardown ------------------- */

static void **arena;
static size_t narena, caparena;

static inline void *tmem(size_t size)
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

static inline char *tstr(const char *s)
{
	char *p = tmem(strlen(s) + 1);

	return strcpy(p, s);
}

static inline uint32_t ip4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* ---- object constructors ---------------------------------------------- */

static inline int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct k8s_label *)a)->key, ((const struct k8s_label *)b)->key);
}

/* "a=1,b=2" -> sorted labels; "" -> none. */
static inline struct k8s_labels labels(const char *spec)
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

static inline struct k8s_selector *sel(const char *match_labels)
{
	struct k8s_selector *s = tmem(sizeof(*s));

	s->match_labels = labels(match_labels);
	s->exprs = tmem(8 * sizeof(*s->exprs));
	return s;
}

/* values: "a,b" or NULL for Exists/DoesNotExist. */
static inline struct k8s_selector *expr(struct k8s_selector *s, const char *key, enum k8s_sel_op op,
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

static inline struct k8s_object *obj(enum k8s_kind kind, const char *ns, const char *name,
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
static inline void ns_add(const char *name, const char *lbl)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "kubernetes.io/metadata.name=%s%s%s", name, *lbl ? "," : "",
		 lbl);
	obj(K8S_NAMESPACE, NULL, name, buf);
}

static inline void node_add(const char *name, const char *ip)
{
	obj(K8S_NODE, NULL, name, "")->node.internal_ip = ip4(ip);
}

/* A Node with an IPv6 InternalIP; ip: its IPv4 one (NULL: none). */
static inline struct k8s_object *node6_add(const char *name, const char *ip, const char *ip6)
{
	struct k8s_object *n = obj(K8S_NODE, NULL, name, "");

	n->node.internal_ip = ip ? ip4(ip) : 0;
	assert_int_equal(inet_pton(AF_INET6, ip6, n->node.internal_ip6), 1);
	return n;
}

static inline struct k8s_pod *pod_add(const char *ns, const char *name, const char *node,
				      const char *ip, const char *lbl)
{
	struct k8s_pod *p = &obj(K8S_POD, ns, name, lbl)->pod;

	p->node_name = node ? tstr(node) : NULL;
	p->ip = ip ? ip4(ip) : 0;
	p->ports = tmem(8 * sizeof(*p->ports));
	return p;
}

static inline void pod_port(struct k8s_pod *p, const char *name, uint8_t proto, uint16_t port)
{
	struct k8s_container_port *cp = &p->ports[p->nports++];

	cp->name = name ? tstr(name) : NULL;
	cp->proto = proto;
	cp->port = port;
}

/* types: IN and/or EG, as spec.policyTypes after defaulting. */
static inline struct k8s_netpol *np_add(const char *ns, const char *name,
					struct k8s_selector *podsel, int types)
{
	struct k8s_netpol *np = &obj(K8S_NETWORKPOLICY, ns, name, "")->np;

	np->pod_sel = *podsel;
	np->type_ingress = types & IN;
	np->type_egress = types & EG;
	np->ingress = tmem(8 * sizeof(*np->ingress));
	np->egress = tmem(8 * sizeof(*np->egress));
	return np;
}

static inline struct k8s_np_rule *rule_new(struct k8s_np_rule *r)
{
	r->peers = tmem(8 * sizeof(*r->peers));
	r->ports = tmem(8 * sizeof(*r->ports));
	return r;
}

static inline struct k8s_np_rule *ingress(struct k8s_netpol *np)
{
	return rule_new(&np->ingress[np->ningress++]);
}

static inline struct k8s_np_rule *egress(struct k8s_netpol *np)
{
	return rule_new(&np->egress[np->negress++]);
}

static inline void peer(struct k8s_np_rule *r, struct k8s_selector *podsel,
			struct k8s_selector *nssel)
{
	struct k8s_np_peer *p = &r->peers[r->npeers++];

	p->pod_sel = podsel;
	p->ns_sel = nssel;
}

/* "A.B.C.D/L" or an IPv6 "ADDR/L", host bits already zero. */
static inline struct xcni_prefix cidr(const char *s)
{
	char *c = tstr(s), *slash = strchr(c, '/');
	struct xcni_prefix k = { 0 };

	assert_non_null(slash);
	*slash = '\0';
	k.len = atoi(slash + 1);
	k.family = strchr(c, ':') ? 6 : 4;
	assert_int_equal(inet_pton(k.family == 6 ? AF_INET6 : AF_INET, c, k.addr), 1);
	return k;
}

static inline void pod_ip6(struct k8s_pod *p, const char *ip6)
{
	assert_int_equal(inet_pton(AF_INET6, ip6, p->ip6), 1);
	p->has_ip6 = true;
}

/* ipBlock: cidr, then the excepts, NULL-terminated. */
static inline void peer_block(struct k8s_np_rule *r, const char *c, ...)
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

static inline void port(struct k8s_np_rule *r, uint8_t proto, uint16_t port, uint16_t end)
{
	r->ports[r->nports++] = (struct k8s_np_port){
		.proto = proto, .has_port = true, .port = port, .end_port = end
	};
}

static inline void port_proto(struct k8s_np_rule *r, uint8_t proto)
{
	r->ports[r->nports++] = (struct k8s_np_port){ .proto = proto };
}

static inline void port_named(struct k8s_np_rule *r, uint8_t proto, const char *name)
{
	r->ports[r->nports++] = (struct k8s_np_port){
		.proto = proto, .has_port = true, .port_name = tstr(name)
	};
}

/* ---- compiling -------------------------------------------------------- */

static const struct k8s_object *views[K8S_NR_KINDS][MAXN];
static struct pol_result R, R2;
static struct k8s_error Err;

static inline int cmp_obj(const void *a, const void *b)
{
	const struct k8s_object *x = *(const struct k8s_object *const *)a;
	const struct k8s_object *y = *(const struct k8s_object *const *)b;
	int d = strcmp(x->meta.ns ? x->meta.ns : "", y->meta.ns ? y->meta.ns : "");

	return d ? d : strcmp(x->meta.name, y->meta.name);
}

static inline struct cluster view(void)
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

static inline int compile_opts(struct pol_result *r, const struct pol_opts *o)
{
	struct cluster c = view();

	pol_result_free(r);
	return pol_compile(&c, o, r, &Err);
}

/* Every pod local: both ends of a flow are judged. */
static inline void compile(void)
{
	struct pol_opts o = { 0 };

	assert_int_equal(compile_opts(&R, &o), 0);
}

/* The data plane, simulated: polplane.h. */

/* May src open a flow to dst:port? Egress of src and ingress of dst, where local. */
static inline bool allowed_r(const struct pol_result *r, const char *src, const char *dst,
			     uint8_t proto, uint16_t dport)
{
	const struct pol_entry *hit;

	return side(r, ip4(src), XCNI_DIR_FROM_POD, ip4(dst), proto, dport, &hit) &&
	       side(r, ip4(dst), XCNI_DIR_TO_POD, ip4(src), proto, dport, &hit);
}

static inline bool allowed(const char *src, const char *dst, uint8_t proto, uint16_t dport)
{
	return allowed_r(&R, src, dst, proto, dport);
}

/*
 * Whether each of srcs (NULL-terminated) may reach dst on proto/dport, a
 * character of want a source: '+' allowed, '-' not. REACH lists the sources
 * after want.
 */
static inline void reach_from(const char *dst, uint8_t proto, uint16_t dport, const char *want,
			      const char *const *srcs)
{
	size_t i = 0;

	for (; srcs[i]; i++) {
		if (!want[i])
			fail_msg("%s: more sources than \"%s\" has verdicts", srcs[i], want);
		if (allowed(srcs[i], dst, proto, dport) != (want[i] == '+'))
			fail_msg("%s -> %s proto %u port %u: %s, wanted %s", srcs[i], dst, proto, dport,
				 want[i] == '+' ? "denied" : "allowed", want[i] == '+' ? "allowed" : "denied");
	}
	if (want[i])
		fail_msg("\"%s\": more verdicts than sources", want);
}
#define REACH(dst, proto, dport, want, ...) \
	reach_from(dst, proto, dport, want, (const char *const[]){ __VA_ARGS__, NULL })

/* A new incremental compiler. */
static inline struct pol_incr *incr_new(void)
{
	struct pol_incr *pi = pol_incr_new();

	assert_non_null(pi);
	return pi;
}

/*
 * pi's update over the cluster as it is (its view in *c), succeeding: all of
 * it without changes, else told of the nch in ch; its result in *res.
 */
static inline void incr_update(struct pol_incr *pi, struct cluster *c, const struct pol_opts *o,
			       const struct store_change *ch, size_t nch,
			       const struct pol_result **res)
{
	const struct pol_delta *d;

	*c = view();
	assert_int_equal(pol_incr_update(pi, c, o, ch, nch, !nch, true, res, &d, &Err), 0);
}

/* The entry that let src in to dst (ingress side only). */
static inline const struct pol_entry *ingress_hit(const char *src, const char *dst, uint8_t proto,
						  uint16_t dport)
{
	const struct pol_entry *hit;

	assert_true(side(&R, ip4(dst), XCNI_DIR_TO_POD, ip4(src), proto, dport, &hit));
	return hit;
}

static inline const struct pol_ep *ep(const char *ip)
{
	const struct pol_ep *e = pol_ep_find(&R, ip4(ip));

	assert_non_null(e);
	return e;
}

static inline uint32_t policy_id(const char *ns, const char *name)
{
	for (size_t i = 0; i < R.npolicies; i++)
		if (!strcmp(R.policies[i].name.ns, ns) && !strcmp(R.policies[i].name.name, name))
			return R.policies[i].id;
	fail_msg("no policy %s/%s", ns, name);
	return 0;
}

static inline uint32_t pod_identity(const struct pol_result *r, const char *ip)
{
	return pol_ipcache_identity(r, ip4(ip));
}

static inline size_t count_entries(const struct pol_ep *e, int dir, unsigned plen)
{
	size_t n = 0;

	for (size_t i = 0; i < e->nentries; i++)
		n += e->entries[i].key.dir == dir && e->entries[i].key.prefixlen == plen;
	return n;
}

static inline int setup(void **state)
{
	(void)state;
	memset(nobjs, 0, sizeof(nobjs));
	memset(&R, 0, sizeof(R));
	memset(&R2, 0, sizeof(R2));
	return 0;
}

static inline int teardown(void **state)
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
static inline void cast(void)
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

#endif
