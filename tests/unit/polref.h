/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy tests' independent oracle: NetworkPolicy (networking.k8s.io/v1)
 * and ClusterNetworkPolicy (v1alpha2, Admin and Baseline tiers, audit mode)
 * evaluated from the objects of a cluster view as the APIs' text says, with
 * no table the compiler builds (no identity, no index, no memo): "may this
 * pod, in this direction, exchange proto/port with this address?". Who holds
 * an address is decided here too, from the rules written in policy.h (a
 * Node's address is the node's; pods being deleted yield to a live pod of
 * their node; two live claimants close it). test_cnp and test_polincr judge
 * the compiled maps against it (polplane.h reads them as the data plane does).
 */
#ifndef XCNI_TEST_POLREF_H
#define XCNI_TEST_POLREF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../user/lib/cluster/k8s.h"
#include "../../user/lib/policy/policy.h"

enum { REF_WORLD, REF_POD, REF_NODE, REF_HOST, REF_CLOSED };

/* An address and who holds it (kind REF_*): pod for REF_POD. */
struct rpeer {
	int kind;
	bool node; /* a Node's InternalIP */
	const struct k8s_pod *pod;
	struct xcni_prefix addr;
};

/* Every object of a view, and the node the compile is for (NULL: all local). */
struct refc {
	const struct cluster *c;
	const char *self;
	uint32_t gateway;
};

#define REF_N(x, k) ((x)->c->n[k])
#define REF_O(x, k, i) ((x)->c->objs[k][i])

static inline const struct k8s_object *ref_ns_obj(const struct refc *x, const char *ns)
{
	for (size_t i = 0; i < REF_N(x, K8S_NAMESPACE); i++)
		if (!strcmp(REF_O(x, K8S_NAMESPACE, i)->meta.name, ns))
			return REF_O(x, K8S_NAMESPACE, i);
	return NULL;
}

static inline int ref_cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct k8s_label *)a)->key, ((const struct k8s_label *)b)->key);
}

/* A namespace's labels as selectors see them: the API server always adds
 * kubernetes.io/metadata.name, and a namespace with no object has that alone. */
static inline bool ref_ns_selected(const struct refc *x, const struct k8s_selector *s,
				   const char *ns)
{
	const struct k8s_object *o = ref_ns_obj(x, ns);
	struct k8s_label v[32];
	struct k8s_labels l = { .v = v };

	for (size_t i = 0; o && i < o->meta.labels.n && l.n < 31; i++)
		if (strcmp(o->meta.labels.v[i].key, "kubernetes.io/metadata.name"))
			v[l.n++] = o->meta.labels.v[i];
	v[l.n++] = (struct k8s_label){ (char *)"kubernetes.io/metadata.name", (char *)ns };
	qsort(v, l.n, sizeof(*v), ref_cmp_label);
	return k8s_selector_matches(s, &l);
}

static inline bool ref_ns_audit(const struct refc *x, const char *ns)
{
	const struct k8s_object *o = ref_ns_obj(x, ns);

	return o && o->meta.audit;
}

static inline bool ref_in(const struct xcni_prefix *a, const struct xcni_prefix *c)
{
	if (a->family != c->family)
		return false;
	for (unsigned b = 0; b < c->len; b++)
		if ((a->addr[b / 8] ^ c->addr[b / 8]) & (0x80 >> (b % 8)))
			return false;
	return true;
}

static inline bool ref_labels_equal(const struct k8s_labels *a, const struct k8s_labels *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, b->v[i].key) || strcmp(a->v[i].value, b->v[i].value))
			return false;
	return true;
}

/* A pod with an address and policy of its own: not the node's network, not finished. */
static inline bool ref_managed(const struct k8s_pod *p)
{
	return !p->host_network && !k8s_pod_finished(p);
}

/* ---- who holds an address --------------------------------------------- */

/* policy.h, pol_yield: a pod being deleted gives its address to a live pod of its node. */
static inline bool ref_yields(const struct k8s_pod *p, const struct k8s_pod *live)
{
	return p->deleting && !live->deleting && p->node_name && *p->node_name && live->node_name &&
	       !strcmp(p->node_name, live->node_name);
}

static inline bool ref_local(const struct refc *x, const struct k8s_pod *p)
{
	return !x->self || (p->node_name && !strcmp(p->node_name, x->self));
}

/* The 32-bit key a pod's address is known by (policy.h: pol_pod_addr): its
 * IPv4, or for an IPv6-only pod of this node the low 24 bits of its IPv6. */
static inline uint32_t ref_key(const struct refc *x, const struct k8s_pod *p)
{
	uint32_t k;

	if (p->ip)
		return p->ip;
	if (!p->has_ip6 || !ref_local(x, p))
		return 0;
	k = (uint32_t)p->ip6[13] << 16 | (uint32_t)p->ip6[14] << 8 | p->ip6[15];
	return htonl(k ? k : 0x00ffffff);
}

static inline bool ref_same_claim(const struct k8s_pod *a, const struct k8s_pod *b)
{
	if (a->ip || b->ip)
		return a->ip == b->ip;
	return !memcmp(a->ip6, b->ip6, 16);
}

static inline int ref_phase_rank(const struct k8s_pod *p)
{
	return p->phase == K8S_POD_RUNNING || p->phase == K8S_POD_PHASE_UNSET ? 2 : 1;
}

/*
 * The pods claiming key k that keep their claim (managed, not yielding) into
 * v (up to max), their count returned; v[0] the owner when two or more stay:
 * Running over Pending, then the newer, then the first by namespace and name.
 */
static inline size_t ref_claimants(const struct refc *x, uint32_t k, const struct k8s_pod **v,
				   size_t max)
{
	size_t n = 0, kept = 0;

	for (size_t i = 0; k && i < REF_N(x, K8S_POD) && n < max; i++) {
		const struct k8s_pod *p = &REF_O(x, K8S_POD, i)->pod;

		if (ref_managed(p) && ref_key(x, p) == k)
			v[n++] = p;
	}
	for (size_t i = 0; i < n; i++) {
		bool yields = false;

		for (size_t j = 0; j < n && !yields; j++)
			yields = j != i && ref_same_claim(v[i], v[j]) && ref_yields(v[i], v[j]);
		if (!yields)
			v[kept++] = v[i];
	}
	for (size_t i = 1; i < kept; i++) {
		const struct k8s_pod *a = v[0], *b = v[i];
		int d = strcmp(a->meta.ns, b->meta.ns);

		d = d ? d : strcmp(a->meta.name, b->meta.name);
		if (ref_phase_rank(b) != ref_phase_rank(a) ?
			    ref_phase_rank(b) > ref_phase_rank(a) :
			    b->created != a->created ? b->created > a->created : d > 0)
			v[i] = a, v[0] = b;
	}
	return kept;
}

/* Does p hold an address: managed, and its own or its contest's owner (not yielded)? */
static inline bool ref_holds(const struct refc *x, const struct k8s_pod *p)
{
	const struct k8s_pod *v[16];
	uint32_t k = ref_key(x, p);

	if (!ref_managed(p) || (!p->ip && !p->has_ip6))
		return false;
	return !k || (ref_claimants(x, k, v, 16) && v[0] == p);
}

/* ---- the semantics ---------------------------------------------------- */

/*
 * A named port of the destination pod dst: its own (own), or, as a
 * NetworkPolicy's egress decides on the peer's label set and not on the
 * pod, that port of any pod of dst's set (its namespace and labels) that
 * holds an address.
 */
static inline bool ref_named(const struct refc *x, const struct k8s_pod *dst, bool own,
			     const char *name, uint8_t proto, uint16_t port)
{
	for (size_t i = 0; dst && i < REF_N(x, K8S_POD); i++) {
		const struct k8s_pod *p = &REF_O(x, K8S_POD, i)->pod;

		if (own ? p != dst :
			 !ref_holds(x, p) || strcmp(p->meta.ns, dst->meta.ns) ||
				 !ref_labels_equal(&p->meta.labels, &dst->meta.labels))
			continue;
		for (size_t k = 0; k < p->nports; k++)
			if (p->ports[k].name && !strcmp(p->ports[k].name, name) &&
			    p->ports[k].proto == proto && p->ports[k].port == port)
				return true;
	}
	return false;
}

/* "namespaces", "pods", "nodes", "networks", "domainNames": exactly one is set. A domain
 * name matches an address its pod's DNS answers taught (none here: judged by address alone). */
static inline bool ref_cnp_peer(const struct refc *x, const struct k8s_cnp_peer *p,
				const struct rpeer *q)
{
	if (p->ndomains)
		return false;
	if (p->unknown) /* "fail closed": an Accept through it matches no traffic */
		return false;
	if (p->nnets) {
		for (size_t i = 0; i < p->nnets; i++)
			if (ref_in(&q->addr, &p->nets[i]))
				return true;
		return false;
	}
	if (p->node_sel) { /* any Node with the address (two may tell one) */
		for (size_t i = 0; q->kind == REF_NODE || q->kind == REF_HOST; i++) {
			const struct k8s_node *n;

			if (i == REF_N(x, K8S_NODE))
				return false;
			n = &REF_O(x, K8S_NODE, i)->node;
			if ((q->addr.family == 6 ? !memcmp(n->internal_ip6, q->addr.addr, 16) :
						   !memcmp(&n->internal_ip, q->addr.addr, 4)) &&
			    k8s_selector_matches(p->node_sel, &n->meta.labels))
				return true;
		}
		return false;
	}
	if (q->kind != REF_POD || !ref_ns_selected(x, p->ns_sel, q->pod->meta.ns))
		return false;
	return !p->pod_sel || k8s_selector_matches(p->pod_sel, &q->pod->meta.labels);
}

/* protocols: none means all; a named port is the destination pod's. */
static inline bool ref_cnp_ports(const struct refc *x, const struct k8s_cnp_rule *r,
				 const struct k8s_pod *dst, uint8_t proto, uint16_t port)
{
	if (!r->nprotos)
		return true;
	for (size_t i = 0; i < r->nprotos; i++) {
		const struct k8s_cnp_proto *p = &r->protos[i];

		if (p->port_name ? ref_named(x, dst, true, p->port_name, proto, port) :
				   p->proto == proto &&
					   (!p->port || (port >= p->port && port <= p->end_port)))
			return true;
	}
	return false;
}

enum { R_NONE, R_ACCEPT, R_DENY, R_PASS };

static inline bool ref_cnp_selects(const struct refc *x, const struct k8s_cnp *p,
				   const struct k8s_pod *pod)
{
	return ref_ns_selected(x, p->subj_ns, pod->meta.ns) &&
	       (!p->subj_pod || k8s_selector_matches(p->subj_pod, &pod->meta.labels));
}

/* One tier: its policies selecting pod by priority (then name), rules in order, first match. */
static inline int ref_tier(const struct refc *x, enum k8s_cnp_tier tier, const struct k8s_pod *pod,
			   int in, const struct rpeer *peer, uint8_t proto, uint16_t port)
{
	const struct k8s_cnp *best_p = NULL;
	int best = R_NONE;

	for (size_t i = 0; i < REF_N(x, K8S_CLUSTERNETPOL); i++) {
		const struct k8s_cnp *p = &REF_O(x, K8S_CLUSTERNETPOL, i)->cnp;
		size_t n = in ? p->ningress : p->negress;
		const struct k8s_cnp_rule *rules = in ? p->ingress : p->egress;
		int got = R_NONE;

		/* In audit mode a policy decides nothing (it is only reported). */
		if (p->tier != tier || p->meta.audit || !ref_cnp_selects(x, p, pod))
			continue;
		for (size_t ri = 0; !got && ri < n; ri++) {
			bool m = false;

			/* "fail closed": a Deny or Pass with a peer of an unknown kind is "Deny all". */
			for (size_t j = 0; rules[ri].action != K8S_CNP_ACCEPT && j < rules[ri].npeers; j++)
				if (rules[ri].peers[j].unknown) {
					got = R_DENY;
					break;
				}
			if (got)
				break;
			for (size_t j = 0; !m && j < rules[ri].npeers; j++)
				m = ref_cnp_peer(x, &rules[ri].peers[j], peer);
			if (m && ref_cnp_ports(x, &rules[ri], in ? pod : peer->pod, proto, port))
				got = rules[ri].action == K8S_CNP_ACCEPT ? R_ACCEPT :
				      rules[ri].action == K8S_CNP_DENY	 ? R_DENY :
									   R_PASS;
		}
		if (!got)
			continue;
		if (!best_p || p->priority < best_p->priority ||
		    (p->priority == best_p->priority && strcmp(p->meta.name, best_p->meta.name) < 0))
			best_p = p, best = got;
	}
	return best;
}

static inline bool ref_np_selects(const struct k8s_netpol *np, const struct k8s_pod *pod, int in)
{
	return !strcmp(np->meta.ns, pod->meta.ns) && (in ? np->type_ingress : np->type_egress) &&
	       k8s_selector_matches(&np->pod_sel, &pod->meta.labels);
}

/*
 * Does rule r of np let pod exchange proto/port with peer through its peer
 * p (NULL: the rule names none, so any)? A named port is the pod's own in
 * ingress; in egress it is the destination's: through an ipBlock the pods'
 * at the address (only a pod names ports), else of the peer's label set.
 */
static inline bool ref_np_peer(const struct refc *x, const struct k8s_netpol *np,
			       const struct k8s_np_peer *p, const struct k8s_pod *pod, int in,
			       const struct rpeer *peer, const struct k8s_np_rule *r, uint8_t proto,
			       uint16_t port)
{
	bool pm = !p, portm = !r->nports;

	if (p && p->ipblock) {
		pm = ref_in(&peer->addr, &p->ipblock->cidr);
		for (size_t e = 0; pm && e < p->ipblock->nexcept; e++)
			pm = !ref_in(&peer->addr, &p->ipblock->except[e]);
	} else if (p && peer->kind == REF_POD) {
		pm = (p->ns_sel ? ref_ns_selected(x, p->ns_sel, peer->pod->meta.ns) :
				  !strcmp(peer->pod->meta.ns, np->meta.ns)) &&
		     (!p->pod_sel || k8s_selector_matches(p->pod_sel, &peer->pod->meta.labels));
	}
	for (size_t j = 0; pm && !portm && j < r->nports; j++) {
		const struct k8s_np_port *pp = &r->ports[j];

		if (!pp->port_name) {
			portm = pp->proto == proto &&
				(!pp->has_port || (pp->end_port ? port >= pp->port && port <= pp->end_port :
								  port == pp->port));
		} else if (pp->proto != proto) {
			continue;
		} else if (in) {
			portm = ref_named(x, pod, true, pp->port_name, proto, port);
		} else if (p && p->ipblock) {
			for (size_t i = 0; !portm && i < REF_N(x, K8S_POD); i++) {
				const struct k8s_pod *q = &REF_O(x, K8S_POD, i)->pod;

				portm = (peer->addr.family == 6 ? q->has_ip6 && !memcmp(q->ip6, peer->addr.addr, 16) :
						       !memcmp(&q->ip, peer->addr.addr, 4)) &&
					ref_holds(x, q) && ref_named(x, q, true, pp->port_name, proto, port);
			}
		} else {
			portm = peer->kind == REF_POD &&
				ref_named(x, peer->pod, false, pp->port_name, proto, port);
		}
	}
	return pm && portm;
}

/* NetworkPolicy: -1 no policy selects pod in dir, else 0/1 as the union of its rules says. */
static inline int ref_np(const struct refc *x, const struct k8s_pod *pod, int in,
			 const struct rpeer *peer, uint8_t proto, uint16_t port)
{
	int res = -1;

	for (size_t i = 0; i < REF_N(x, K8S_NETWORKPOLICY); i++) {
		const struct k8s_netpol *np = &REF_O(x, K8S_NETWORKPOLICY, i)->np;
		size_t n = in ? np->ningress : np->negress;
		const struct k8s_np_rule *rules = in ? np->ingress : np->egress;

		/* In audit mode (its own or its namespace's) a NetworkPolicy neither isolates nor allows. */
		if (np->meta.audit || ref_ns_audit(x, np->meta.ns) || !ref_np_selects(np, pod, in))
			continue;
		if (res < 0)
			res = 0;
		for (size_t ri = 0; ri < n; ri++)
			for (size_t j = 0; res < 1 && j < (rules[ri].npeers ? rules[ri].npeers : 1); j++)
				if (ref_np_peer(x, np, rules[ri].npeers ? &rules[ri].peers[j] : NULL, pod, in,
						peer, &rules[ri], proto, port))
					res = 1;
	}
	return res;
}

/*
 * Admin, then NetworkPolicy, then Baseline, else allowed. The pod's own
 * node (judged at all only where the tiers compiled the pod's egress, its
 * InternalIP and the gateway alike, a pod at its address or not): a
 * NetworkPolicy isolating the pod allows it whatever its rules and ipBlocks
 * say ("NetworkPolicy cannot stop it", xcni_shared.h: XCNI_POLEP_HOST_EGRESS):
 * Admin decides before, Baseline only where no NetworkPolicy selects the pod.
 */
static inline bool ref_side(const struct refc *x, const struct k8s_pod *pod, int in,
			    const struct rpeer *peer, uint8_t proto, uint16_t port)
{
	int a = ref_tier(x, K8S_CNP_ADMIN, pod, in, peer, proto, port), n;

	if (a == R_ACCEPT || a == R_DENY)
		return a == R_ACCEPT;
	n = ref_np(x, pod, in, peer, proto, port);
	if (n >= 0)
		return n || peer->kind == REF_HOST;
	return ref_tier(x, K8S_CNP_BASELINE, pod, in, peer, proto, port) != R_DENY;
}

/*
 * Who an IPv4 address a is, seen from this node: the node itself (its
 * InternalIP or the pods' gateway), another Node (a Node's address is the
 * node's, whatever pod claims it), the one pod that holds it, closed (two
 * hold it), or the world. *ambiguous: the node and gateway addresses say
 * different things of it (no reference rule; the sample is skipped).
 */
static inline struct rpeer ref_who(const struct refc *x, uint32_t a, bool *ambiguous)
{
	struct rpeer q = { .kind = REF_WORLD, .addr = xcni_prefix_host(a, NULL) };
	const struct k8s_pod *v[16];
	int node = 0; /* 1: the node itself, 2: another */
	size_t n;

	*ambiguous = false;
	if (x->gateway && a == x->gateway)
		node = 1;
	for (size_t i = 0; i < REF_N(x, K8S_NODE); i++) {
		const struct k8s_node *nd = &REF_O(x, K8S_NODE, i)->node;
		int k = x->self && !strcmp(nd->meta.name, x->self) ? 1 : 2;

		if (nd->internal_ip != a)
			continue;
		*ambiguous |= node && node != k;
		node = k;
		q.node = true;
	}
	if (node) {
		q.kind = node == 1 ? REF_HOST : REF_NODE;
		return q;
	}
	n = ref_claimants(x, a, v, 16);
	if (n == 1)
		q.kind = REF_POD, q.pod = v[0];
	else if (n > 1)
		q.kind = REF_CLOSED;
	return q;
}

/*
 * ref_who for an IPv6 address: a Node's (this node's the node itself; whatever
 * pod claims it, as for IPv4), the one pod that claims it and holds its own
 * key, or the world. *ambiguous: two claim it (the IPv6 maps' contests: not
 * judged here).
 */
static inline struct rpeer ref_who6(const struct refc *x, const uint8_t *a, bool *ambiguous)
{
	struct rpeer q = { .kind = REF_WORLD, .addr = { .family = 6, .len = 128 } };
	const struct k8s_pod *v[16];
	size_t n = 0;

	memcpy(q.addr.addr, a, 16);
	for (size_t i = 0; i < REF_N(x, K8S_NODE); i++) {
		const struct k8s_node *nd = &REF_O(x, K8S_NODE, i)->node;

		if (memcmp(nd->internal_ip6, a, 16))
			continue;
		n++;
		q.node = true;
		q.kind = x->self && !strcmp(nd->meta.name, x->self) ? REF_HOST : REF_NODE;
	}
	for (size_t i = 0; i < REF_N(x, K8S_POD); i++) {
		const struct k8s_pod *p = &REF_O(x, K8S_POD, i)->pod;

		if (q.node || !ref_managed(p) || !p->has_ip6 || memcmp(p->ip6, a, 16))
			continue;
		/* Its key contested or yielded: which entry it has is the IPv6 maps' rule. */
		if (n++ || ref_claimants(x, ref_key(x, p), v, 16) != 1 || v[0] != p)
			n++;
		q.kind = REF_POD, q.pod = p;
	}
	*ambiguous = n > 1;
	return q;
}

/* Does any policy, enforced or audited, select pod in this direction? */
static inline bool ref_isolated(const struct refc *x, const struct k8s_pod *pod, int in,
				bool *tiered)
{
	bool np = false, audit = ref_ns_audit(x, pod->meta.ns), cnp = false;

	for (size_t i = 0; i < REF_N(x, K8S_NETWORKPOLICY); i++) {
		const struct k8s_netpol *p = &REF_O(x, K8S_NETWORKPOLICY, i)->np;

		if (ref_np_selects(p, pod, in)) {
			np = true;
			audit |= p->meta.audit;
		}
	}
	for (size_t i = 0; i < REF_N(x, K8S_CLUSTERNETPOL); i++) {
		const struct k8s_cnp *p = &REF_O(x, K8S_CLUSTERNETPOL, i)->cnp;

		cnp |= (in ? p->ningress : p->negress) && ref_cnp_selects(x, p, pod);
	}
	/* The tiers (or audit, which the tiers' compile reports) judge its
	 * egress to its own node too (xcni_shared.h: XCNI_POLEP_HOST_EGRESS). */
	*tiered = cnp || (np && audit);
	return np || cnp;
}

/*
 * The verdict on a flow of the pod holding key self (closed: its address
 * contested) in direction in with q (ref_who): the node always reaches its
 * pods and they it, unless the tiers judge the pod's egress to it; a closed
 * pod and a closed peer are refused where any policy selects the pod.
 */
static inline bool ref_verdict(const struct refc *x, const struct k8s_pod *self, bool closed,
			       int in, const struct rpeer *q, uint8_t proto, uint16_t port)
{
	bool tiered, isolated = ref_isolated(x, self, in, &tiered);

	if (q->kind == REF_HOST && (in || !tiered))
		return true;
	if (closed)
		return false;
	if (!isolated)
		return true;
	if (q->kind == REF_CLOSED)
		return false;
	return ref_side(x, self, in, q, proto, port);
}

#endif
