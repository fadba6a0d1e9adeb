// SPDX-License-Identifier: Apache-2.0
/*
 * The incremental compiler (pol_incr_update) on random sequences of cluster
 * changes (pods created, relabelled, moved, readdressed, deleted; Nodes
 * joining, leaving, readdressed; NetworkPolicies, ClusterNetworkPolicies and
 * Namespaces written and removed), fed to a store whose journal drives it.
 * After every batch:
 * - the maps as the deltas left them (a model of the cluster-wide maps that
 *   only ever receives the deltas, or the whole result when the delta says
 *   "full", and the local pods' entries) are judged against an independent
 *   reference of the Kubernetes semantics (polref.h, written from the APIs'
 *   text, no table of the compiler's): which local pods have an entry,
 *   closed where their address is contested, and for each, both directions
 *   with every address of the view on ports drawn each time, read as the
 *   data plane reads them (polplane.h);
 * - the result must be the same compiler's from nothing (pol_compile, from
 *   the previous result's identities: identities, each local pod's entries,
 *   CIDRs, state and selecting policies, names, counts, the same error),
 *   and the model must hold exactly its ipcache, pod names, identities and
 *   policy names.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/policy/policy.h"
#include "lib/cluster/store.h"

#include "clustergen.h"
#include "polplane.h"
#include "polref.h"
#include "unit.h"

#define STEPS 120

/* ---- a model of the cluster-wide maps, fed only what the compiler says ---- */

struct rec {
	unsigned char k[8];
	unsigned char v[1024];
};

struct model {
	size_t n;
	size_t vsz;
	struct rec *r;
};

static struct rec *model_find(struct model *m, const void *k, size_t ksz)
{
	for (size_t i = 0; i < m->n; i++)
		if (!memcmp(m->r[i].k, k, ksz))
			return &m->r[i];
	return NULL;
}

static void model_put(struct model *m, const void *k, size_t ksz, const void *v)
{
	struct rec *r = model_find(m, k, ksz);

	if (!r) {
		m->r = realloc(m->r, (m->n + 1) * sizeof(*m->r));
		assert_non_null(m->r);
		r = &m->r[m->n++];
		memset(r, 0, sizeof(*r));
		memcpy(r->k, k, ksz);
	}
	memset(r->v, 0, sizeof(r->v));
	memcpy(r->v, v, m->vsz);
}

static void model_del(struct model *m, const void *k, size_t ksz)
{
	struct rec *r = model_find(m, k, ksz);

	assert_non_null(r); /* a delete of something the maps do not hold */
	*r = m->r[--m->n];
}

/* The history being run, named in a failure so it can be replayed alone. */
static unsigned run_seed, run_step;

static void model_equal(struct model *m, const void *recs, size_t n, size_t stride, size_t ksz,
			size_t voff, const char *what)
{
	if (m->n != n)
		fail_msg("seed %u step %u: %s: the deltas leave %zu entries, the whole compile "
			 "has %zu", run_seed, run_step, what, m->n, n);
	for (size_t i = 0; i < n; i++) {
		const unsigned char *w = (const unsigned char *)recs + i * stride;
		struct rec *r = model_find(m, w, ksz);

		if (!r || memcmp(r->v, w + voff, m->vsz)) {
			char a[INET_ADDRSTRLEN] = "";

			/* An address, or an ipcache key's (its prefix length first). */
			if (ksz == 4 || ksz == sizeof(struct xcni_ipcache_key))
				inet_ntop(AF_INET, w + ksz - 4, a, sizeof(a));
			fail_msg("seed %u step %u: %s: entry %zu (%s) differs from the whole "
				 "compile: %s", run_seed, run_step, what, i, a,
				 r ? "another value" : "missing");
		}
	}
}

static struct model ipc = { .vsz = sizeof(struct xcni_ipcache_val) };
static struct model pnm = { .vsz = sizeof(struct xcni_podname) };
static struct model idm = { .vsz = sizeof(struct xcni_idlabels) };
static struct model polm = { .vsz = sizeof(struct xcni_polname) };

static void model_whole(const struct pol_result *r)
{
	ipc.n = pnm.n = idm.n = polm.n = 0;
	for (size_t i = 0; i < r->nipcache; i++)
		model_put(&ipc, &r->ipcache[i].key, sizeof(r->ipcache[i].key), &r->ipcache[i].val);
	for (size_t i = 0; i < r->npodnames; i++)
		model_put(&pnm, &r->podnames[i].ip, 4, &r->podnames[i].name);
	for (size_t i = 0; i < r->nidentities; i++) {
		struct xcni_idlabels l = { "" };

		snprintf(l.labels, sizeof(l.labels), "%s", r->identities[i].canon);
		model_put(&idm, &r->identities[i].id, 4, &l);
	}
	for (size_t i = 0; i < r->npolicies; i++)
		model_put(&polm, &r->policies[i].id, 4, &r->policies[i].name);
}

static void model_delta(const struct pol_delta *d)
{
	for (size_t i = 0; i < d->nipc_put; i++)
		model_put(&ipc, &d->ipc_put[i].key, sizeof(d->ipc_put[i].key), &d->ipc_put[i].val);
	for (size_t i = 0; i < d->nid_put; i++) {
		struct xcni_idlabels l = { "" };

		snprintf(l.labels, sizeof(l.labels), "%s", d->id_put[i].canon);
		model_put(&idm, &d->id_put[i].id, 4, &l);
	}
	for (size_t i = 0; i < d->nid_del; i++)
		model_del(&idm, &d->id_del[i], 4);
	for (size_t i = 0; i < d->npol_put; i++)
		model_put(&polm, &d->pol_put[i].id, 4, &d->pol_put[i].name);
	for (size_t i = 0; i < d->npol_del; i++)
		model_del(&polm, &d->pol_del[i], 4);
	for (size_t i = 0; i < d->npn_put; i++)
		model_put(&pnm, &d->pn_put[i].ip, 4, &d->pn_put[i].name);
	for (size_t i = 0; i < d->npn_del; i++)
		model_del(&pnm, &d->pn_del[i], 4);
	for (size_t i = 0; i < d->nipc_del; i++)
		model_del(&ipc, &d->ipc_del[i], sizeof(d->ipc_del[i]));
}

/* ---- the comparison ---- */

static void result_equal(const struct pol_result *a, const struct pol_result *b)
{
	assert_int_equal(a->nidentities, b->nidentities);
	for (size_t i = 0; i < a->nidentities; i++) {
		assert_int_equal(a->identities[i].id, b->identities[i].id);
		assert_string_equal(a->identities[i].canon, b->identities[i].canon);
		assert_string_equal(a->identities[i].ns, b->identities[i].ns);
	}
	assert_int_equal(a->npolicies, b->npolicies);
	assert_memory_equal(a->policies, b->policies, a->npolicies * sizeof(*a->policies));
	assert_int_equal(a->nrulenames, b->nrulenames);
	if (a->nrulenames)
		assert_memory_equal(a->rulenames, b->rulenames,
				    a->nrulenames * sizeof(*a->rulenames));
	assert_int_equal(a->nipcache, b->nipcache);
	assert_int_equal(a->npodnames, b->npodnames);
	assert_int_equal(a->ncontested, b->ncontested);
	if (a->ncontested)
		assert_memory_equal(a->contested, b->contested,
				    a->ncontested * sizeof(*a->contested));
	assert_int_equal(a->nyielded, b->nyielded);
	if (a->nyielded)
		assert_memory_equal(a->yielded, b->yielded, a->nyielded * sizeof(*a->yielded));
	assert_int_equal(a->neps, b->neps);
	for (size_t i = 0; i < a->neps; i++) {
		const struct pol_ep *x = &a->eps[i], *y = &b->eps[i];

		assert_int_equal(x->ip, y->ip);
		assert_memory_equal(&x->state, &y->state, sizeof(x->state));
		assert_memory_equal(&x->sel, &y->sel, sizeof(x->sel));
		if (x->nentries != y->nentries || x->ncidrs != y->ncidrs ||
		    (x->nentries && memcmp(x->entries, y->entries, x->nentries * sizeof(*x->entries))))
			print_message("seed %u step %u: pod at %08x: entries not the whole compile's\n",
				      run_seed, run_step, x->ip);
		assert_int_equal(x->nentries, y->nentries);
		assert_int_equal(x->ncidrs, y->ncidrs);
		if (x->nentries)
			assert_memory_equal(x->entries, y->entries,
					    x->nentries * sizeof(*x->entries));
		if (x->ncidrs)
			assert_memory_equal(x->cidrs, y->cidrs, x->ncidrs * sizeof(*x->cidrs));
	}
}

/* ---- the compiled maps against the reference (polref.h) ---- */

/* Samples judged, and skipped (an address the node's and a gateway's at once). */
static size_t judged, judged_skipped, judged6;
/* Its own draws, so that the histories stay the ones the tests were tuned with;
 * the IPv6 samples' apart, so that the IPv4 ones stay as they were drawn. */
static unsigned judge_seed = 1, judge6_seed = 6;

static const struct {
	uint8_t proto;
	uint16_t port;
} judge_ports[] = { { IPPROTO_TCP, 80 },   { IPPROTO_TCP, 81 },	  { IPPROTO_TCP, 1000 },
		    { IPPROTO_TCP, 1031 }, { IPPROTO_TCP, 1032 }, { IPPROTO_TCP, 8000 },
		    { IPPROTO_TCP, 8001 }, { IPPROTO_TCP, 8002 }, { IPPROTO_TCP, 9090 },
		    { IPPROTO_UDP, 9090 }, { IPPROTO_UDP, 53 },	  { IPPROTO_ICMP, 0 } };

static const char *judge_kind(int kind)
{
	static const char *const k[] = { "world", "pod", "node", "this node", "closed" };

	return k[kind];
}

/* Does the reference give pod p (of this node) an entry, closed or not (*closed)? */
static bool judge_holds(const struct refc *x, const struct k8s_pod *p, bool *closed)
{
	const struct k8s_pod *v[16];
	size_t n;

	if (!ref_managed(p) || !ref_local(x, p) || !ref_key(x, p))
		return false;
	n = ref_claimants(x, ref_key(x, p), v, 16);
	*closed = n > 1;
	return n && v[0] == p;
}

/*
 * The result res with the ipcache (the maps') of the view c against the
 * reference: the local pods it gives
 * an entry (closed where their address is contested), and for each with an
 * IPv4, both directions with every address of the view (pods, Nodes, the
 * gateway, two outside) on three ports of judge_ports drawn each time.
 */
/* A sample's flow both ways, the maps' verdict (got) against the reference's. */
static void judge_flow(const struct refc *x, const struct k8s_pod *p, bool closed,
		       const struct rpeer *who, const char *peer, bool (*got)(int in, uint8_t pr,
		       uint16_t pt, const void *arg), const void *arg, unsigned *seed)
{
	for (int k = 0; k < 3; k++) {
		unsigned q = rnd(seed, sizeof(judge_ports) / sizeof(judge_ports[0]));
		uint8_t pr = judge_ports[q].proto;
		uint16_t pt = judge_ports[q].port;

		for (int in = 0; in < 2; in++) {
			bool want = ref_verdict(x, p, closed, in, who, pr, pt), is = got(in, pr, pt, arg);

			judged++;
			if (want == is)
				continue;
			fail_msg("seed %u step %u: pod %s/%s %s %s (%s) proto %u port %u: the maps %s, "
				 "the reference %s", run_seed, run_step, p->meta.ns, p->meta.name,
				 in ? "from" : "to", peer, judge_kind(who->kind), pr, pt,
				 is ? "allow" : "refuse", want ? "allows" : "refuses");
		}
	}
}

struct flow4 {
	const struct pol_result *r;
	uint32_t self, peer;
};

static bool got4(int in, uint8_t pr, uint16_t pt, const void *arg)
{
	const struct flow4 *f = arg;
	const struct pol_entry *hit;

	return side(f->r, f->self, in ? XCNI_DIR_TO_POD : XCNI_DIR_FROM_POD, f->peer, pr, pt, &hit);
}

struct flow6 {
	const struct pol_result *r;
	uint32_t self, id;
	const char *peer;
};

static bool got6(int in, uint8_t pr, uint16_t pt, const void *arg)
{
	const struct flow6 *f = arg;

	return side6(f->r, f->self, in ? XCNI_DIR_TO_POD : XCNI_DIR_FROM_POD, f->peer, f->id, pr,
		     pt);
}

/* p's IPv6 flows with every IPv6 of the view (and two outside): the ipcache6 v6 says who. */
static void judge6(const struct refc *x, const struct pol_result *r, const struct pol_v6 *v6,
		   const struct k8s_pod *p, bool closed)
{
	uint8_t a[NPODS + NNODES + 2][16] = { { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 } };
	size_t na = 2;
	const struct cluster *c = x->c;
	static const uint8_t none[16];

	inet_pton(AF_INET6, "fd00:1:3::7", a[1]); /* in an ipBlock's except */
	for (size_t i = 0; i < c->n[K8S_NODE]; i++)
		if (memcmp(c->objs[K8S_NODE][i]->node.internal_ip6, none, 16))
			memcpy(a[na++], c->objs[K8S_NODE][i]->node.internal_ip6, 16);
	for (size_t i = 0; i < c->n[K8S_POD]; i++)
		if (c->objs[K8S_POD][i]->pod.has_ip6)
			memcpy(a[na++], c->objs[K8S_POD][i]->pod.ip6, 16);
	for (size_t i = 0; i < na; i++) {
		char ip[INET6_ADDRSTRLEN];
		bool skip;
		const struct rpeer who = ref_who6(x, a[i], &skip);
		struct flow6 f = { r, ref_key(x, p), XCNI_ID_WORLD, ip };

		if (skip) {
			judged_skipped += 6;
			continue;
		}
		inet_ntop(AF_INET6, a[i], ip, sizeof(ip));
		for (size_t j = 0; j < v6->nipc; j++)
			if (!memcmp(v6->ipc[j].key.addr, a[i], 16))
				f.id = v6->ipc[j].val.identity;
		judged6 += 6;
		judge_flow(x, p, closed, &who, ip, got6, &f, &judge6_seed);
	}
}

static void judge(const struct pol_result *res, const struct pol_ipcache *ipcache, size_t nipcache,
		  const struct cluster *c, const struct pol_opts *o, const struct pol_v6 *v6)
{
	const struct refc x = { .c = c, .self = o->node_name, .gateway = o->gateway_ip };
	struct pol_result m = *res, *r = &m; /* the ipcache as the maps hold it */
	uint32_t addrs[NPODS + NNODES + 4];
	size_t na = 0, neps = 0;

	m.ipcache = (struct pol_ipcache *)ipcache;
	m.nipcache = nipcache;
	addrs[na++] = o->gateway_ip;
	addrs[na++] = htonl(0xc0000207); /* 192.0.2.7 */
	addrs[na++] = htonl(0x0a010311); /* 10.1.3.17: in an ipBlock's except */
	for (size_t i = 0; i < c->n[K8S_NODE]; i++)
		if (c->objs[K8S_NODE][i]->node.internal_ip)
			addrs[na++] = c->objs[K8S_NODE][i]->node.internal_ip;
	for (size_t i = 0; i < c->n[K8S_POD]; i++)
		if (c->objs[K8S_POD][i]->pod.ip)
			addrs[na++] = c->objs[K8S_POD][i]->pod.ip;
	for (size_t i = 0; i < c->n[K8S_POD]; i++) {
		const struct k8s_pod *p = &c->objs[K8S_POD][i]->pod;
		const struct pol_ep *ep;
		bool closed;

		if (!judge_holds(&x, p, &closed))
			continue;
		neps++;
		ep = pol_ep_find(r, ref_key(&x, p));
		if (!ep || !(ep->state.isolated & XCNI_POLEP_CONTESTED) != !closed)
			fail_msg("seed %u step %u: pod %s/%s: %s", run_seed, run_step, p->meta.ns,
				 p->meta.name, !ep ? "no entry" : closed ? "open, its address contested" :
									   "closed, its address its own");
		for (size_t a = 0; p->ip && a < na; a++) {
			bool skip;
			const struct rpeer who = ref_who(&x, addrs[a], &skip);
			const struct flow4 f = { r, p->ip, addrs[a] };
			char ip[INET_ADDRSTRLEN];

			if (skip) {
				judged_skipped += 6;
				continue;
			}
			inet_ntop(AF_INET, &addrs[a], ip, sizeof(ip));
			judge_flow(&x, p, closed, &who, ip, got4, &f, &judge_seed);
		}
		if (p->has_ip6 && v6)
			judge6(&x, r, v6, p, closed);
	}
	if (r->neps != neps)
		fail_msg("seed %u step %u: %zu local pods with an entry, the reference says %zu",
			 run_seed, run_step, r->neps, neps);
}

/* The reference must have judged many verdicts a step: the check is not idle. */
static void judged_print(size_t steps)
{
	print_message("%zu verdicts judged against the reference (%zu of IPv6 peers), %zu "
		      "skipped (an address both a node's and the gateway's, an IPv6 contested)\n",
		      judged, judged6, judged_skipped);
	assert_true(judged > steps * 50 && judged6 > steps * 20);
}

/* Forces identity collisions in some runs: numbers from a small range. */
static uint32_t tiny_hash(const char *s)
{
	uint32_t h = 0;

	for (; *s; s++)
		h = h * 31 + (unsigned char)*s;
	return h % 7;
}

/*
 * pol_v6_build (from the incremental compiler's index) against the IPv6 of
 * every managed pod of the view: one entry an address, with the identity the
 * compiler gave the pod, or closed (unmanaged) where two live pods claim it.
 */
/*
 * p's part in a contested address of r: 0 none, 1 its owner, 2 another
 * claimant; 3: being deleted, it yielded its address (pol_yield). 2 and 3
 * hold no address at all.
 */
static int contest_role(const struct pol_result *r, const struct k8s_pod *p)
{
	for (size_t i = 0; i < r->ncontested; i++)
		if (!strcmp(r->contested[i].name.ns, p->meta.ns) &&
		    !strcmp(r->contested[i].name.name, p->meta.name))
			return r->contested[i].owner ? 1 : 2;
	for (size_t i = 0; i < r->nyielded; i++)
		if (!strcmp(r->yielded[i].from.ns, p->meta.ns) &&
		    !strcmp(r->yielded[i].from.name, p->meta.name))
			return 3;
	return 0;
}

/* The rule, written again from the issue (37): q, being deleted, gives up
 * the address to p, live, of the same named node. */
static bool gives_way(const struct k8s_pod *q, const struct k8s_pod *p)
{
	return q->deleting && !p->deleting && q->node_name && *q->node_name && p->node_name &&
	       !strcmp(q->node_name, p->node_name);
}

/* Does a pod of the view hold an IPv6 in the v6 maps' model: managed, not
 * out of the IPv4 view, and not yielding its IPv6 to another there. */
static bool v6_holder(const struct pol_result *r, const struct cluster *c, size_t i)
{
	const struct k8s_pod *p = &c->objs[K8S_POD][i]->pod;

	if (p->host_network || k8s_pod_finished(p) || !p->has_ip6 || contest_role(r, p) >= 2)
		return false;
	for (size_t j = 0; j < c->n[K8S_POD]; j++) {
		const struct k8s_pod *q = &c->objs[K8S_POD][j]->pod;

		if (j != i && !q->host_network && !k8s_pod_finished(q) && q->has_ip6 &&
		    !memcmp(q->ip6, p->ip6, 16) && contest_role(r, q) < 2 && gives_way(p, q))
			return false;
	}
	return true;
}

static size_t v6_yield_steps, v6_at_node;

static void v6_equal(struct pol_incr *pi, const struct cluster *c, const struct pol_opts *o,
		     const struct pol_result *r)
{
	struct pol_v6 v;
	size_t ni = 0, nk = 0;

	assert_int_equal(pol_v6_build(pi, c, &v), 0);
	for (size_t i = 0; i < c->n[K8S_POD]; i++) {
		const struct k8s_pod *p = &c->objs[K8S_POD][i]->pod;
		bool seen = false, seen_local = false, found = false, twice = false;
		bool local = p->node_name && !strcmp(p->node_name, o->node_name);
		uint32_t id = pol_incr_pod_id(pi, p->meta.ns, p->meta.name);

		/* At a Node's IPv6 InternalIP: its ipcache6 entry is the node's (below). */
		for (size_t j = 0; j < c->n[K8S_NODE]; j++)
			seen |= !memcmp(c->objs[K8S_NODE][j]->node.internal_ip6, p->ip6, 16);
		v6_at_node += seen;

		/* A contested IPv4's other claimants, and pods that yielded an
		 * address, hold no address at all. */
		if (!v6_holder(r, c, i))
			continue;
		/* The first pod on an address has its ipcache6 entry, the first
		 * local one its key. */
		for (size_t j = 0; j < i; j++) {
			const struct k8s_pod *q = &c->objs[K8S_POD][j]->pod;

			if (!v6_holder(r, c, j) || memcmp(q->ip6, p->ip6, 16))
				continue;
			seen = true;
			seen_local |= q->node_name && !strcmp(q->node_name, o->node_name);
		}
		/* Claimed by another live pod, listed before or after: closed. */
		for (size_t j = 0; j < c->n[K8S_POD]; j++) {
			const struct k8s_pod *q = &c->objs[K8S_POD][j]->pod;

			twice |= j != i && v6_holder(r, c, j) && !memcmp(q->ip6, p->ip6, 16);
		}
		if (local && !seen_local)
			nk++;
		ni += !seen;
		for (size_t j = 0; !seen && j < v.nipc && !found; j++) {
			if (memcmp(v.ipc[j].key.addr, p->ip6, 16))
				continue;
			found = true;
			assert_int_equal(v.ipc[j].key.prefixlen, 128);
			assert_int_equal(v.ipc[j].val.identity, id && !contest_role(r, p) && !twice ?
									 id :
									 XCNI_ID_UNMANAGED);
			assert_int_equal(v.ipc[j].val.flags, XCNI_IPC_POD);
		}
		assert_true(found || seen);
		if (!local || seen_local)
			continue;
		found = false;
		for (size_t j = 0; j < v.nkeys && !found; j++)
			if (!memcmp(v.keys[j].addr.addr, p->ip6, 16)) {
				found = true;
				assert_int_equal(v.keys[j].key,
						 p->ip ? p->ip : pol_polkey6(p->ip6));
			}
		assert_true(found);
	}
	/* The Nodes' IPv6 InternalIPs (fd00:2::/64, apart from the pods'), each once. */
	for (size_t i = 0; i < c->n[K8S_NODE]; i++) {
		static const uint8_t none[16];
		const struct k8s_node *nd = &c->objs[K8S_NODE][i]->node;
		bool seen = false, found = false;

		if (!memcmp(nd->internal_ip6, none, 16))
			continue;
		for (size_t j = 0; j < i; j++)
			seen |= !memcmp(c->objs[K8S_NODE][j]->node.internal_ip6, nd->internal_ip6, 16);
		ni += !seen;
		for (size_t j = 0; j < v.nipc && !found; j++)
			found = !memcmp(v.ipc[j].key.addr, nd->internal_ip6, 16);
		assert_true(found);
	}
	assert_int_equal(v.nipc, ni);
	assert_int_equal(v.nkeys, nk);
	v6_yield_steps += v.nyielded > 0;
	pol_v6_free(&v);
}

/*
 * The IPv6 maps as the agent keeps them: built again only when the delta says
 * their input changed (v6_changed). Whatever else changed, they must be what
 * pol_v6_build gives now (Nodes' IPv6 InternalIPs included).
 */
static struct pol_v6 held6;
static size_t v6_skipped, v6_node_steps;

static void v6_follow(struct pol_incr *pi, const struct cluster *c, const struct pol_delta *d,
		      bool node_changed)
{
	struct pol_v6 now;

	assert_true(!d->full || d->v6_changed);
	if (d->v6_changed) {
		pol_v6_free(&held6);
		assert_int_equal(pol_v6_build(pi, c, &held6), 0);
		v6_node_steps += node_changed;
	} else {
		v6_skipped++;
	}
	assert_int_equal(pol_v6_build(pi, c, &now), 0);
	if (now.nipc != held6.nipc || now.nkeys != held6.nkeys ||
	    (now.nipc && memcmp(now.ipc, held6.ipc, now.nipc * sizeof(*now.ipc))) ||
	    (now.nkeys && memcmp(now.keys, held6.keys, now.nkeys * sizeof(*now.keys))))
		fail_msg("IPv6 maps: not rebuilt (v6_changed false) but their input changed: "
			 "ipcache6 %zu -> %zu entries, polkey6 %zu -> %zu", held6.nipc, now.nipc,
			 held6.nkeys, now.nkeys);
	pol_v6_free(&now);
}

/*
 * The allocation a result leaves (policy.h: struct identity), for the whole
 * compile of the next step: numbers are kept from one generation to the next,
 * so the reference is pol_compile from the previous reference's identities.
 */
struct idprev {
	size_t n;
	struct pol_idprev *v;
};

static int cmp_idprev(const void *a, const void *b)
{
	return strcmp(((const struct pol_idprev *)a)->labels,
		      ((const struct pol_idprev *)b)->labels);
}

static void idprev_free(struct idprev *p)
{
	for (size_t i = 0; i < p->n; i++)
		free((char *)p->v[i].labels);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static void idprev_of(struct idprev *p, const struct pol_result *r)
{
	idprev_free(p);
	p->v = calloc(r->nidentities + 1, sizeof(*p->v));
	assert_non_null(p->v);
	for (size_t i = 0; i < r->nidentities; i++) {
		struct xcni_idlabels l;

		pol_ident_label(r->identities[i].canon, l.labels);
		p->v[i].labels = strdup(l.labels);
		p->v[i].id = r->identities[i].id;
	}
	p->n = r->nidentities;
	qsort(p->v, p->n, sizeof(*p->v), cmp_idprev);
}

/* Steps with an address a pod being deleted yielded, and with one contested. */
static size_t yield_steps, contest_steps;
/* Steps with an address contested or yielded, followed as a delta. */
static size_t contest_deltas;
/* Steps whose identities born were added to local pods' policy as a delta. */
static size_t born_steps;
/* test_random_audit's: steps with audit or tiers, deltas right after one, and
 * steps with audit but no tiers followed as a delta. */
static size_t audit_steps, audit_delta_after, audit_deltas;
/* Steps where a Namespace changed: all, with ClusterNetworkPolicies, and
 * without them followed as a delta. */
static size_t ns_steps, ns_tiered_steps, ns_deltas;
/* Steps where a ClusterNetworkPolicy changed, those followed as a delta, and
 * their local pods: all, and compiled again. */
static size_t cnp_steps, cnp_deltas, cnp_eps, cnp_eps_compiled;
/* Steps where a Node changed (this node's among them) and those followed as a
 * delta; whole compiles neither a first list, a failure's nor the journal's
 * "all" asked for (issue 69: none is left), the last one's reason. */
static size_t node_steps, self_node_steps, node_deltas, fallbacks;
/* Delta steps' local pods compiled again, and their tiered directions with the last result
 * at hand: patched per peer, and compiled whole (the port intervals moved); patched in steps
 * with a ClusterNetworkPolicy's egress rule naming a port, and with a NetworkPolicy's. */
static size_t eps_compiled, dirs_patched, dirs_whole, dirs_recut, named_cnp_patched, named_np_patched;
/* Delta steps where only ClusterNetworkPolicies changed: those that patched a tiered direction,
 * its directions patched, of them with a changed rule's peers decided again. */
static size_t cnp_only_steps, cnp_only_patched, cnp_only_dirs, cnp_only_rules, dirs_chg;
/* Delta steps with tiers where NetworkPolicies changed and no ClusterNetworkPolicy (gen_np_edit):
 * their tiered directions patched, those with a changed rule's peers decided again. */
static size_t np_tier_steps, np_tier_dirs, np_tier_rules;

/* Does an egress rule of a ClusterNetworkPolicy (cnp) or of a NetworkPolicy name a port? */
static bool egress_named(const struct cluster *c, bool cnp)
{
	enum k8s_kind k = cnp ? K8S_CLUSTERNETPOL : K8S_NETWORKPOLICY;

	for (size_t i = 0; i < c->n[k]; i++) {
		const struct k8s_object *o = c->objs[k][i];
		size_t nr = cnp ? o->cnp.negress : o->np.negress;

		for (size_t j = 0; j < nr; j++) {
			size_t np = cnp ? o->cnp.egress[j].nprotos : o->np.egress[j].nports;

			for (size_t q = 0; q < np; q++)
				if (cnp ? !!o->cnp.egress[j].protos[q].port_name :
					  !!o->np.egress[j].ports[q].port_name)
					return true;
		}
	}
	return false;
}
/* Steps with tiers whose only change was a Node's, and those that compiled no pod. */
static size_t node_only_tiered, node_only_quiet, node_only_patched;
/* Delta steps where a NetworkPolicy changed: their local pods, and those a NetworkPolicy's
 * change reached (pol_delta.neps_np: compiled again for it; every one before). */
static size_t np_steps, np_eps, np_reached;

/* The NetworkPolicy steps' counts printed and zeroed: a change reaches the pods it selects. */
static void np_print(void)
{
	print_message("%zu delta steps with a NetworkPolicy changed: %zu of their %zu local pods "
		      "reached by it\n", np_steps, np_reached, np_eps);
	assert_true(np_steps > 0);
	assert_true(np_reached > 0);
	assert_true(np_reached * 2 < np_eps);
	np_steps = np_eps = np_reached = 0;
}
static const char *fallback_why;

static void run(unsigned seed, uint32_t (*hash)(const char *), size_t *resets, size_t *steps)
{
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	struct pol_opts o = { .node_name = "n0", .gateway_ip = htonl(0x0a010001), .hash = hash };
	bool maps_known = false, was_tiered = false;
	struct idprev prev = { 0 };

	assert_non_null(st);
	assert_non_null(pi);
	run_seed = seed;
	random_cluster(st, &seed);
	for (unsigned step = 0; step < STEPS; step++) {
		struct store_change *ch;
		const struct pol_result *r;
		const struct pol_delta *d;
		struct pol_result full = { 0 };
		struct k8s_error e1 = { "" }, e2 = { "" };
		struct cluster c;
		size_t nch;
		bool all, whole = !maps_known || !rnd(&seed, 10);
		size_t resets0 = pol_incr_resets(pi);
		int ret, want;

		bool node_changed = false, ns_changed = false, cnp_changed = false, self = false;
		bool np_changed = false, pods_changed = false;
		bool pods_etc = false;
		bool was_valid = step > 0 && maps_known;

		run_step = step;
		store_view(st, &c);
		store_journal_take(st, &ch, &nch, &all);
		for (size_t i = 0; i < nch; i++) {
			node_changed |= ch[i].kind == K8S_NODE;
			self |= ch[i].kind == K8S_NODE && !strcmp(ch[i].name, o.node_name);
			pods_etc |= ch[i].kind != K8S_NODE;
			ns_changed |= ch[i].kind == K8S_NAMESPACE;
			cnp_changed |= ch[i].kind == K8S_CLUSTERNETPOL;
			np_changed |= ch[i].kind == K8S_NETWORKPOLICY;
			pods_changed |= ch[i].kind == K8S_POD;
		}
		ret = pol_incr_update(pi, &c, &o, ch, nch, all, whole, &r, &d, &e1);
		store_changes_free(ch, nch);
		{
			struct pol_opts fo = o;

			fo.prev = prev.v;
			fo.nprev = prev.n;
			want = pol_compile(&c, &fo, &full, &e2);
		}
		assert_int_equal(ret, want);
		if (!want)
			idprev_of(&prev, &full);
		{
			bool tiered = c.n[K8S_CLUSTERNETPOL] > 0, audit = false;

			for (size_t i = 0; i < c.n[K8S_NAMESPACE]; i++)
				audit |= c.objs[K8S_NAMESPACE][i]->meta.audit;
			for (size_t i = 0; i < c.n[K8S_NETWORKPOLICY]; i++)
				audit |= c.objs[K8S_NETWORKPOLICY][i]->meta.audit;
			audit_deltas += !ret && audit && !tiered && !d->full;
			tiered |= audit;
			audit_steps += tiered;
			audit_delta_after += !ret && !tiered && was_tiered && !d->full;
			was_tiered = tiered;
		}
		if (ret) {
			assert_string_equal(e1.msg, e2.msg);
			maps_known = false; /* the writer refuses, the next sync is whole */
		} else {
			v6_equal(pi, &c, &o, r);
			v6_follow(pi, &c, d, node_changed);
			yield_steps += r->nyielded > 0;
			contest_steps += r->ncontested > 0;
			/* A whole result always says why (the agent logs it), a delta never. */
			assert_true(!d->why == !d->full);
			if (pol_incr_resets(pi) != resets0)
				assert_true(d->full && d->why);
			born_steps += !d->full && d->neps_born > 0;
			if (ns_changed && !all) {
				ns_steps++;
				ns_tiered_steps += c.n[K8S_CLUSTERNETPOL] > 0;
				ns_deltas += !d->full;
			}
			/* Every change kind is followed (issue 69): a whole compile
			 * only for a first list, after a failure, or the journal's "all". */
			if (pol_incr_resets(pi) != resets0 && !all && was_valid) {
				fallbacks++;
				fallback_why = d->why;
				fail_msg("seed %u step %u: compiled whole: %s", run_seed, run_step,
					 d->why);
			}
			contest_deltas += (r->ncontested || r->nyielded) && pol_incr_resets(pi) == resets0;
			eps_compiled += d->full ? 0 : d->neps_compiled;
			dirs_patched += d->full ? 0 : d->neps_patched[1];
			dirs_whole += d->full ? 0 : d->neps_patched[0];
			dirs_recut += d->full ? 0 : d->neps_patched[2];
			dirs_chg += d->full ? 0 : d->neps_patched[3];
			if (!d->full && egress_named(&c, true))
				named_cnp_patched += d->neps_patched[1];
			if (!d->full && c.n[K8S_CLUSTERNETPOL] && egress_named(&c, false))
				named_np_patched += d->neps_patched[1];
			if (node_changed && !all && !pods_etc && c.n[K8S_CLUSTERNETPOL]) {
				node_only_tiered++;
				node_only_quiet += !d->neps_compiled;
				node_only_patched += d->full ? 0 : d->neps_patched[1];
			}
			if (node_changed && !all) {
				node_steps++;
				self_node_steps += self;
				node_deltas += pol_incr_resets(pi) == resets0;
			}
			if (np_changed && !d->full) {
				np_steps++;
				np_eps += r->neps;
				np_reached += d->neps_np;
			}
			if (cnp_changed && !all && !d->full && !node_changed && !np_changed &&
			    !ns_changed && !pods_changed) {
				cnp_only_steps += d->neps_compiled > 0;
				cnp_only_patched += d->neps_patched[1] > 0;
				cnp_only_dirs += d->neps_patched[1];
				cnp_only_rules += d->neps_patched[3];
			}
			if (np_changed && !all && !d->full && !cnp_changed && c.n[K8S_CLUSTERNETPOL]) {
				np_tier_steps++;
				np_tier_dirs += d->neps_patched[1];
				np_tier_rules += d->neps_patched[3];
			}
			if (cnp_changed && !all) {
				cnp_steps++;
				cnp_deltas += pol_incr_resets(pi) == resets0;
				cnp_eps += pol_incr_resets(pi) == resets0 ? r->neps : 0;
				cnp_eps_compiled += pol_incr_resets(pi) == resets0 ? d->neps_compiled : 0;
			}
			if (d->full) {
				assert_true(whole || !maps_known || r->ipcache);
				model_whole(r);
			} else {
				assert_false(whole);
				model_delta(d);
			}
			maps_known = true;
			/* Judged before compared: the reference names a wrong verdict. */
			{
				struct pol_ipcache *v = calloc(ipc.n + 1, sizeof(*v));

				assert_non_null(v);
				for (size_t i = 0; i < ipc.n; i++) {
					memcpy(&v[i].key, ipc.r[i].k, sizeof(v[i].key));
					memcpy(&v[i].val, ipc.r[i].v, sizeof(v[i].val));
				}
				judge(r, v, ipc.n, &c, &o, &held6);
				free(v);
			}
			result_equal(r, &full);
			model_equal(&ipc, full.ipcache, full.nipcache, sizeof(*full.ipcache),
				    sizeof(full.ipcache[0].key), offsetof(struct pol_ipcache, val),
				    "ipcache");
			model_equal(&pnm, full.podnames, full.npodnames, sizeof(*full.podnames), 4,
				    offsetof(struct pol_podname, name), "podname");
			model_equal(&polm, full.policies, full.npolicies, sizeof(*full.policies),
				    4, offsetof(struct pol_name, name), "polname");
			assert_int_equal(idm.n, full.nidentities);
			for (size_t i = 0; i < full.nidentities; i++) {
				struct rec *rr = model_find(&idm, &full.identities[i].id, 4);

				assert_non_null(rr);
				assert_string_equal((const char *)rr->v, full.identities[i].canon);
			}
		}
		pol_result_free(&full);
		random_changes(st, &seed);
		(*steps)++;
	}
	*resets += pol_incr_resets(pi);
	idprev_free(&prev);
	pol_v6_free(&held6);
	pol_incr_free(pi);
	store_free(st);
}

static void test_random_sequences(void **state)
{
	size_t resets = 0, steps = 0;

	(void)state;
	v6_skipped = v6_node_steps = judged = judged_skipped = judged6 = 0;
	for (unsigned seed = 1; seed <= 40; seed++)
		run(seed, NULL, &resets, &steps);
	np_print();
	judged_print(steps);
	/* The comparison must mostly be of the incremental path, not the fallback. */
	print_message("%zu steps, %zu whole compiles; IPv6 maps kept in %zu, rebuilt for a "
		      "Node in %zu\n", steps, resets, v6_skipped, v6_node_steps);
	assert_true(resets * 3 < steps);
	/* Both sides of the IPv6 gate are taken. */
	assert_true(v6_skipped * 10 > steps);
	assert_true(v6_node_steps * 10 > steps);
}

/*
 * Identity births as deltas: without egress named ports, a new label set's
 * entries are added to the local pods that do not change otherwise, by
 * matching only the new identities against their policies' peers. The whole
 * compile checks each step's result; the path must actually be taken often.
 */
static void test_random_births(void **state)
{
	size_t resets = 0, steps = 0;

	(void)state;
	gen_plain_egress = true;
	born_steps = 0;
	for (unsigned seed = 200; seed <= 240; seed++)
		run(seed, NULL, &resets, &steps);
	gen_plain_egress = false;
	np_print();
	print_message("%zu steps, %zu whole compiles, %zu with births as deltas\n", steps, resets,
		      born_steps);
	assert_true(born_steps * 10 > steps);
	assert_true(resets * 3 < steps);
}

/*
 * Audit mode and tiers come and go: an audited NetworkPolicy beside enforced
 * ones, audited Namespaces, ClusterNetworkPolicies of both tiers. While a
 * ClusterNetworkPolicy is there the update compiles whole; audit alone is
 * followed as deltas, the pods it is laid over compiled again. Every step's
 * result must still be the whole compile's, and the steps after the last
 * ClusterNetworkPolicy leaves must pick the incremental path up from what the
 * whole compile left.
 */
static void test_random_audit(void **state)
{
	size_t resets = 0, steps = 0;

	(void)state;
	gen_audit = true;
	for (unsigned seed = 300; seed <= 330; seed++)
		run(seed, NULL, &resets, &steps);
	gen_audit = false;
	np_print();
	print_message("%zu steps, %zu whole compiles, %zu with audit or tiers, %zu deltas right "
		      "after one, %zu deltas with audit\n", steps, resets, audit_steps,
		      audit_delta_after, audit_deltas);
	/* Both sides taken: steps with audit or tiers, and deltas right after them;
	 * audit without tiers is followed as deltas (issue 41, item 5). */
	assert_true(audit_steps * 4 > steps);
	assert_true(audit_delta_after > 10);
	assert_true(audit_deltas * 10 > steps);
}

/*
 * Namespace labels in churn (issue 52, item 7): a Namespace written or
 * removed in a quarter of the changes, with its team label (selected by
 * namespaceSelectors) added, changed or removed and an env label nothing
 * selects on, on namespaces with and without pods, among pods and
 * NetworkPolicies changing. Every step's result and the maps fed only the
 * deltas must be the whole compile's, and the Namespace changes must be
 * followed as deltas (they were all whole compiles).
 */
static void test_random_namespaces(void **state)
{
	size_t resets = 0, steps = 0;

	(void)state;
	gen_ns_labels = true;
	ns_steps = ns_tiered_steps = ns_deltas = 0;
	for (unsigned seed = 500; seed <= 530; seed++)
		run(seed, NULL, &resets, &steps);
	gen_ns_labels = false;
	np_print();
	print_message("%zu steps, %zu whole compiles, %zu with a Namespace changed, %zu of them "
		      "deltas\n", steps, resets, ns_steps, ns_deltas);
	assert_true(ns_steps * 3 > steps);
	assert_true(ns_deltas * 10 > ns_steps * 8);
	assert_true(resets * 5 < steps);
}

/*
 * The same with audited Namespaces and NetworkPolicies and
 * ClusterNetworkPolicies (their subjects and peers select namespaces by the
 * team label) coming and going: with a ClusterNetworkPolicy the update is
 * whole, without one a Namespace's change (of labels or audit mode) is a
 * delta; both must be the whole compile's.
 */
static void test_random_namespaces_tiered(void **state)
{
	size_t resets = 0, steps = 0;

	(void)state;
	gen_ns_labels = gen_audit = true;
	ns_steps = ns_tiered_steps = ns_deltas = 0;
	for (unsigned seed = 600; seed <= 620; seed++)
		run(seed, NULL, &resets, &steps);
	gen_ns_labels = gen_audit = false;
	np_print();
	print_message("%zu steps, %zu whole compiles, %zu with a Namespace changed (%zu with "
		      "ClusterNetworkPolicies), %zu deltas\n", steps, resets, ns_steps,
		      ns_tiered_steps, ns_deltas);
	assert_true(ns_tiered_steps * 5 > ns_steps);
	assert_true(ns_deltas * 5 > ns_steps);
}

/*
 * ClusterNetworkPolicies in churn (issue 69): both tiers written and removed
 * in one change of five, subjects by namespace or pod, peers of every kind,
 * named rules and Pass rules (the rule names and Pass numbers a change
 * moves), among pods, Nodes, NetworkPolicies and Namespaces changing. Every
 * step's result and the maps fed only the deltas must be the whole
 * compile's; a ClusterNetworkPolicy's change must be followed without a
 * whole compile, compiling again only the local pods it reaches.
 */
static void test_random_cnp(void **state)
{
	size_t resets = 0, steps = 0;

	(void)state;
	gen_cnp = gen_ns_labels = true;
	cnp_steps = cnp_deltas = cnp_eps = cnp_eps_compiled = 0;
	eps_compiled = dirs_patched = dirs_whole = dirs_recut = named_cnp_patched = named_np_patched = 0;
	node_steps = self_node_steps = node_deltas = fallbacks = 0;
	node_only_tiered = node_only_quiet = node_only_patched = 0;
	fallback_why = NULL;
	judged = judged_skipped = judged6 = v6_at_node = 0;
	for (unsigned seed = 700; seed <= 740; seed++)
		run(seed, NULL, &resets, &steps);
	for (unsigned seed = 750; seed <= 760; seed++)
		run(seed, tiny_hash, &resets, &steps);
	gen_cnp_wide = true;
	for (unsigned seed = 741; seed <= 760; seed++)
		run(seed, seed > 749 ? tiny_hash : NULL, &resets, &steps);
	gen_cnp_wide = false;
	/* The tiers' rules naming ports (egress: per destination pod and its ports). */
	gen_cnp_named = true;
	for (unsigned seed = 800; seed <= 830; seed++)
		run(seed, seed > 825 ? tiny_hash : NULL, &resets, &steps);
	gen_cnp_named = false;
	/* With the cluster's life: contested and yielded addresses of both
	 * families among the tiers' changes (issue 69, step 3), named ports too. */
	gen_life = true;
	yield_steps = contest_steps = contest_deltas = 0;
	for (unsigned seed = 770; seed <= 790; seed++)
		run(seed, NULL, &resets, &steps);
	gen_cnp_named = true;
	for (unsigned seed = 831; seed <= 840; seed++)
		run(seed, NULL, &resets, &steps);
	gen_cnp_named = gen_life = false;
	/* A ClusterNetworkPolicy written again with one thing changed, half its writes: each kind
	 * a patch follows (a rule's peers, ports, action: its pods patched per peer, in the
	 * direction changed) and those compiled whole (subject, priority, tier, domainNames,
	 * networks), among the cluster's life, named ports and both families. */
	gen_cnp_edit = true;
	cnp_only_steps = cnp_only_patched = cnp_only_dirs = cnp_only_rules = dirs_chg = 0;
	for (unsigned seed = 900; seed <= 940; seed++)
		run(seed, seed > 935 ? tiny_hash : NULL, &resets, &steps);
	gen_cnp_named = gen_life = true;
	for (unsigned seed = 941; seed <= 950; seed++)
		run(seed, NULL, &resets, &steps);
	/* Patches reading no pod by address (only the moved addresses and the nodes'), among pods
	 * of both families coming, going and changing identity (each identity's pods, kept). Seed
	 * 967, step 46: ns2/p8 (http 8000) written on fd00:1::202, where ns1/p25 (http 8002) is, and
	 * a NetworkPolicy's egress to an ipBlock naming port http gives that /128 both ports: p25's
	 * identity, which no pod joined or left, is decided again at the new /128's 8000 (x->near). */
	gen_cnp_named = false;
	for (unsigned seed = 951; seed <= 970; seed++)
		run(seed, NULL, &resets, &steps);
	/* A NetworkPolicy written again with one thing changed, half its writes: its rules alone
	 * (a rule's peers or ports, one added or removed: the tiered pods it selects patched, the
	 * peers a changed rule selects decided again) or its podSelector (compiled whole). */
	gen_np_edit = true;
	np_tier_steps = np_tier_dirs = np_tier_rules = 0;
	for (unsigned seed = 971; seed <= 990; seed++)
		run(seed, seed > 985 ? tiny_hash : NULL, &resets, &steps);
	gen_np_edit = gen_cnp_edit = gen_life = false;
	print_message("%zu delta steps with tiers, NetworkPolicies changed and no ClusterNetworkPolicy: "
		      "%zu tiered directions patched, %zu with a changed rule's peers decided again\n",
		      np_tier_steps, np_tier_dirs, np_tier_rules);
	assert_true(np_tier_rules > 0);
	assert_true(np_tier_rules < np_tier_dirs);
	print_message("%zu delta steps with only ClusterNetworkPolicies changed compiled a pod, %zu "
		      "of them patched: %zu tiered directions, %zu with a changed rule's peers decided "
		      "again; %zu such directions in every delta step\n",
		      cnp_only_steps, cnp_only_patched, cnp_only_dirs, cnp_only_rules, dirs_chg);
	assert_true(cnp_only_patched > 0);
	assert_true(cnp_only_rules > 0);
	/* The direction a change left as it was is patched with nothing decided again. */
	assert_true(cnp_only_rules < cnp_only_dirs);
	gen_cnp = gen_ns_labels = false;
	np_print();
	judged_print(steps);
	/* Pods at node n2's IPv6 (clustergen's pod_put): the node's in both maps. */
	print_message("%zu times a pod's IPv6 a Node's\n", v6_at_node);
	assert_true(v6_at_node > 0);
	print_message("with the cluster's life: %zu steps with a contested address, %zu with a "
		      "yielded one, %zu deltas\n", contest_steps, yield_steps, contest_deltas);
	assert_true(contest_deltas * 10 > (yield_steps + contest_steps) * 5);
	print_message("%zu steps, %zu whole compiles, %zu with a ClusterNetworkPolicy changed, "
		      "%zu of them without a whole compile: %zu of %zu local pods compiled again\n",
		      steps, resets, cnp_steps, cnp_deltas, cnp_eps_compiled, cnp_eps);
	print_message("%zu with a Node changed (%zu this node's), %zu of them deltas; %zu whole "
		      "compiles no first list or journal asked for (%s)\n", node_steps,
		      self_node_steps, node_deltas, fallbacks, fallback_why ? fallback_why : "-");
	assert_true(cnp_steps * 4 > steps);
	assert_true(cnp_deltas * 10 > cnp_steps * 9);
	assert_true(resets * 10 < steps);
	assert_int_equal(fallbacks, 0);
	/* Step 5: a tiered pod reached by pods' changes only is patched. */
	print_message("%zu local pods compiled again in the deltas, %zu tiered directions of "
		      "them patched per peer (%zu with their port intervals moved), %zu compiled "
		      "whole\n", eps_compiled, dirs_patched, dirs_recut, dirs_whole);
	print_message("patched with an egress named port: %zu of ClusterNetworkPolicies, %zu of "
		      "NetworkPolicies\n", named_cnp_patched, named_np_patched);
	assert_true(dirs_patched > 0);
	/* Prefixes, egress named ports and moved port intervals patch too: none compiles whole. */
	assert_true(dirs_recut > 0);
	assert_int_equal(dirs_whole, 0);
	assert_true(named_cnp_patched > 0);
	assert_true(named_np_patched > 0);
	print_message("%zu steps with tiers and only a Node changed, %zu of them compiled no pod; "
		      "%zu tiered directions patched in them\n", node_only_tiered, node_only_quiet,
		      node_only_patched);
	/* A Node's address or labels patch the tiered pods, not compile them whole. */
	assert_true(node_only_patched > 0);
	/* A Node's heartbeat reaches no tiered pod; its address or labels do. */
	assert_true(node_only_quiet * 5 > node_only_tiered);
	assert_true(node_only_quiet < node_only_tiered);
	/* Node changes, this node's included, are deltas (issue 69, step 2). */
	assert_true(self_node_steps * 50 > steps);
	assert_true(node_deltas * 10 > node_steps * 9);
}

/*
 * The cluster's life (issue 37): pods being deleted and live ones on a few
 * addresses of two nodes, both families, so that a deleting pod yields its
 * address to a live one of its node (pol_yield) in many steps, and pods of
 * two nodes, or two live ones, contest one in many others. Every step's
 * result is the whole compile's, the IPv6 maps the model's.
 */
static int life_off(void **state)
{
	(void)state;
	gen_life = false; /* also when a run failed half way */
	return 0;
}

static void test_random_life(void **state)
{
	size_t resets = 0, steps = 0;

	(void)state;
	gen_life = true;
	yield_steps = contest_steps = v6_yield_steps = contest_deltas = 0;
	judged = judged_skipped = judged6 = 0;
	for (unsigned seed = 400; seed <= 430; seed++)
		run(seed, NULL, &resets, &steps);
	gen_life = false;
	np_print();
	judged_print(steps);
	print_message("%zu steps, %zu whole compiles, %zu with a yielded address (%zu IPv6), "
		      "%zu with a contested one; %zu with either followed as deltas\n", steps,
		      resets, yield_steps, v6_yield_steps, contest_steps, contest_deltas);
	/* Contested and yielded addresses are deltas (issue 69, step 3). */
	assert_true(contest_deltas * 10 > (yield_steps + contest_steps) * 5);
	assert_true(yield_steps * 6 > steps);
	assert_true(v6_yield_steps * 10 > steps);
	assert_true(contest_steps * 4 > steps);
}

/*
 * Hash collisions everywhere (7 numbers): every set keeps its number, new
 * ones probe past the last result's, and this is followed as deltas.
 */
static void test_random_collisions(void **state)
{
	size_t resets = 0, steps = 0;

	(void)state;
	for (unsigned seed = 100; seed <= 110; seed++)
		run(seed, tiny_hash, &resets, &steps);
	np_print();
	print_message("%zu steps, %zu whole compiles\n", steps, resets);
	assert_true(resets * 3 < steps);
}

/* The journal names what changed and says "everything" past its size. */
static void test_store_journal(void **state)
{
	struct store *st = store_new();
	struct store_change *ch;
	unsigned seed = 7;
	size_t n;
	bool all;

	(void)state;
	pod_put(st, &seed, 1);
	store_journal_take(st, &ch, &n, &all);
	assert_true(all); /* it was off */
	store_changes_free(ch, n);
	pod_put(st, &seed, 1);
	store_del(st, K8S_POD, "ns0", "p3"); /* nothing there: no change */
	node_put(st, &seed, 2);
	store_journal_take(st, &ch, &n, &all);
	assert_false(all);
	assert_int_equal(n, 2);
	assert_int_equal(ch[0].kind, K8S_POD);
	assert_string_equal(ch[0].ns, "ns1");
	assert_string_equal(ch[0].name, "p1");
	assert_int_equal(ch[1].kind, K8S_NODE);
	assert_null(ch[1].ns);
	store_changes_free(ch, n);
	store_journal_take(st, &ch, &n, &all);
	assert_false(all);
	assert_int_equal(n, 0);
	store_changes_free(ch, n);
	for (unsigned i = 0; i <= STORE_JOURNAL_MAX; i++)
		store_del(st, K8S_POD, "ns1", "p1") || (pod_put(st, &seed, 1), 0);
	store_journal_take(st, &ch, &n, &all);
	assert_true(all);
	assert_int_equal(n, 0);
	store_changes_free(ch, n);
	store_free(st);
}

static json_t *simple_pod(const char *name, const char *ip)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s, s:s}]}, s:{s:s}}",
			 "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
			 "ns0", "labels", "app", name, "spec", "nodeName", "n1", "containers", "name",
			 "c", "image", "i", "status", "podIP", ip);
}

/*
 * One update from the store's journal (node n0, hash when not NULL), checked
 * against the whole compile, from prev's allocation when given (then moved
 * on); the incremental result in *r when r is not NULL.
 */
static int update_with(struct store *st, struct pol_incr *pi, const struct pol_delta **d,
		       const struct pol_result **r, uint32_t (*hash)(const char *),
		       struct idprev *prev)
{
	struct pol_opts o = { .node_name = "n0", .hash = hash };
	struct pol_opts fo = o;
	struct store_change *ch;
	const struct pol_result *res;
	struct pol_result full = { 0 };
	struct k8s_error e = { "" };
	struct cluster c;
	size_t nch;
	bool all;
	int ret;

	run_seed = run_step = 0; /* no history: a failure names none */
	store_view(st, &c);
	store_journal_take(st, &ch, &nch, &all);
	ret = pol_incr_update(pi, &c, &o, ch, nch, all, false, &res, d, &e);
	store_changes_free(ch, nch);
	if (prev) {
		fo.prev = prev->v;
		fo.nprev = prev->n;
	}
	assert_int_equal(ret, pol_compile(&c, &fo, &full, &e));
	if (!ret) {
		/* The maps' ipcache: the whole result's here (no model of them). */
		judge(res, full.ipcache, full.nipcache, &c, &o, NULL);
		result_equal(res, &full);
		if (prev)
			idprev_of(prev, &full);
		if (r)
			*r = res;
	}
	pol_result_free(&full);
	return ret;
}

/* The whole compile of the store as it is (node n0), succeeding: its view in *c, its result in *full. */
static void whole(struct store *st, struct cluster *c, struct pol_result *full)
{
	struct pol_opts o = { .node_name = "n0" };
	struct k8s_error e = { "" };

	store_view(st, c);
	if (pol_compile(c, &o, full, &e))
		fail_msg("the whole compile: %s", e.msg);
}

static int update(struct store *st, struct pol_incr *pi, const struct pol_delta **d)
{
	return update_with(st, pi, d, NULL, NULL, NULL);
}

/*
 * A new pod takes the address of one deleted later in the same batch: no
 * clash at the end, so no whole compile. A clash that stays is no error: the
 * whole compile closes the address and names both pods (pol_contest).
 */
static void test_address_reused_in_one_batch(void **state)
{
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	const struct pol_delta *d;

	(void)state;
	put(st, simple_pod("a", "10.1.0.5"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_int_equal(pol_incr_resets(pi), 1);
	put(st, simple_pod("b", "10.1.0.5"));
	store_del(st, K8S_POD, "ns0", "a");
	assert_int_equal(update(st, pi, &d), 0);
	assert_int_equal(pol_incr_resets(pi), 1);
	assert_false(d->full);
	assert_null(d->why);
	assert_int_equal(d->nipc_put, 1); /* b's identity at the address */
	assert_int_equal(d->npn_put, 1);
	/* Two pods, one address, and one of them gone: settled from the
	 * address's claimants alone, as deltas (issue 69, step 3). */
	put(st, simple_pod("c", "10.1.0.5"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->nipc_put, 1); /* closed: unmanaged */
	store_del(st, K8S_POD, "ns0", "c");
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->nipc_put, 1); /* b's identity again */
	assert_int_equal(pol_incr_resets(pi), 1);
	pol_incr_free(pi);
	store_free(st);
}

static json_t *life_pod(const char *name, const char *node, const char *ip, const char *phase,
			const char *created)
{
	json_t *p = simple_pod(name, ip);

	json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(node));
	if (phase)
		json_object_set_new(json_object_get(p, "status"), "phase", json_string(phase));
	if (created)
		json_object_set_new(json_object_get(p, "metadata"), "creationTimestamp",
				    json_string(created));
	return p;
}

static const struct pol_ipcache *ipc_at(const struct pol_result *r, const char *ip)
{
	uint32_t a = inet_addr(ip);

	for (size_t i = 0; i < r->nipcache; i++)
		if (r->ipcache[i].key.prefixlen == 32 && r->ipcache[i].key.addr == a)
			return &r->ipcache[i];
	return NULL;
}

static const struct pol_ep *ep_at(const struct pol_result *r, const char *ip)
{
	for (size_t i = 0; i < r->neps; i++)
		if (r->eps[i].ip == inet_addr(ip))
			return &r->eps[i];
	return NULL;
}

/*
 * A Job's pod finishes (Succeeded: its podIP stays in the API) and IPAM gives
 * the address to a new pod: the new pod has it, with its identity, and the
 * compile goes on (it failed the whole cluster's policy before: "is also the
 * address of Pod"). Followed as a delta: the finished pod lets go of it.
 */
static void test_finished_pod_address_reused(void **state)
{
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	const struct pol_delta *d;
	const struct pol_result *r;
	struct pol_result full = { 0 };
	struct cluster c;

	(void)state;
	put(st, life_pod("job", "n0", "10.1.0.5", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("other", "n0", "10.1.0.6", "Running", "2026-11-26T00:00:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	/* It finishes: a delta, its address and identity gone. */
	put(st, life_pod("job", "n0", "10.1.0.5", "Succeeded", "2026-11-26T00:00:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->nipc_del, 1);
	/* Its address to a new pod, the finished one still listed. */
	put(st, life_pod("web", "n0", "10.1.0.5", "Pending", "2026-11-26T00:05:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 0);
	assert_int_equal(full.neps, 2);
	assert_int_equal(ipc_at(&full, "10.1.0.5")->val.identity,
			 pol_incr_pod_id(pi, "ns0", "web"));
	assert_int_not_equal(ipc_at(&full, "10.1.0.5")->val.identity, XCNI_ID_UNMANAGED);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "job"), 0); /* no identity */
	/* Failed (evicted) is finished too; one being deleted keeps its address. */
	pol_result_free(&full);
	put(st, life_pod("web", "n0", "10.1.0.5", "Failed", "2026-11-26T00:05:00Z"));
	{
		json_t *p = life_pod("job", "n0", "10.1.0.5", "Running", "2026-11-26T00:00:00Z");

		json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp",
				    json_string("2026-11-26T00:09:00Z"));
		put(st, p);
	}
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 0);
	r = &full;
	assert_non_null(ep_at(r, "10.1.0.5"));
	assert_false(ep_at(r, "10.1.0.5")->state.isolated & XCNI_POLEP_CONTESTED);
	pol_result_free(&full);
	pol_incr_free(pi);
	store_free(st);
}

/*
 * Two live pods on one address: the compile goes on, the address is closed
 * (ipcache: unmanaged; the local owner's polep closed, no entries) and both
 * are reported, the owner by the written rule: Running over Pending, then
 * the newer, then name order. Another pod's policy still compiles.
 */
static void test_contested_address(void **state)
{
	struct store *st = store_new();
	struct pol_result full = { 0 };
	struct cluster c;
	const struct pol_ep *ep;

	(void)state;
	put(st, life_pod("old", "n0", "10.1.0.5", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("new", "n1", "10.1.0.5", "Pending", "2026-11-26T00:05:00Z"));
	put(st, life_pod("bystander", "n0", "10.1.0.6", "Running", "2026-11-26T00:00:00Z"));
	put(st, json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{}, s:[s]}}", "apiVersion",
			  "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata", "name",
			  "deny", "namespace", "ns0", "spec", "podSelector", "policyTypes", "Ingress"));
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 2);
	assert_true(full.contested[0].owner); /* Running over Pending */
	assert_string_equal(full.contested[0].name.name, "old");
	assert_int_equal(full.contested[0].phase, K8S_POD_RUNNING);
	assert_false(full.contested[1].owner);
	assert_string_equal(full.contested[1].name.name, "new");
	assert_int_equal(full.contested[1].ip, inet_addr("10.1.0.5"));
	assert_int_equal(ipc_at(&full, "10.1.0.5")->val.identity, XCNI_ID_UNMANAGED);
	assert_int_equal(full.npodnames, 2); /* the owner's name only */
	ep = ep_at(&full, "10.1.0.5");
	assert_non_null(ep);
	assert_true(ep->state.isolated & XCNI_POLEP_CONTESTED);
	assert_true(ep->state.isolated & XCNI_POLEP_OVERFLOW);
	assert_int_equal(ep->nentries, 0);
	ep = ep_at(&full, "10.1.0.6");
	assert_non_null(ep);
	assert_true(ep->state.isolated & XCNI_ISOLATED(XCNI_DIR_TO_POD));
	assert_false(ep->state.isolated & XCNI_POLEP_OVERFLOW);
	pol_result_free(&full);
	/* Both Running: the newer owns it. */
	put(st, life_pod("new", "n1", "10.1.0.5", "Running", "2026-11-26T00:05:00Z"));
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 2);
	assert_string_equal(full.contested[0].name.name, "new");
	assert_true(full.contested[0].owner);
	/* The owner is on n1 now: n0 has no endpoint at the address. */
	assert_null(ep_at(&full, "10.1.0.5"));
	pol_result_free(&full);
	/* One finishes: the conflict is over. */
	put(st, life_pod("new", "n1", "10.1.0.5", "Succeeded", "2026-11-26T00:05:00Z"));
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 0);
	ep = ep_at(&full, "10.1.0.5");
	assert_non_null(ep);
	assert_false(ep->state.isolated & XCNI_POLEP_OVERFLOW);
	assert_int_not_equal(ipc_at(&full, "10.1.0.5")->val.identity, XCNI_ID_UNMANAGED);
	pol_result_free(&full);
	store_free(st);
}

/* A pod of node with addresses ip (either family) and ip2 (the other, or NULL). */
static json_t *pod46(const char *name, const char *node, const char *ip, const char *ip2)
{
	json_t *p = life_pod(name, node, ip, "Running", "2026-11-26T00:00:00Z");

	if (ip2)
		json_object_set_new(json_object_get(p, "status"), "podIPs",
				    json_pack("[{s:s}, {s:s}]", "ip", ip, "ip", ip2));
	return p;
}

/* The ipcache6 entry of ip in v (NULL: none). */
static const struct pol_ipc6 *ipc6_at(const struct pol_v6 *v, const char *ip)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET6, ip, a), 1);
	for (size_t i = 0; i < v->nipc; i++)
		if (!memcmp(v->ipc[i].key.addr, a, 16))
			return &v->ipc[i];
	return NULL;
}

/*
 * Two live pods on one IPv6 address (issue 41): resolved as an IPv4 is. An
 * IPv6-only cluster's two remote pods on fd00:1::5: the address closed in
 * the ipcache6 (unmanaged), a bystander untouched. A dual-stack pair whose
 * IPv6 alone collides (10.1.0.7 and 10.1.0.8 on fd00:1::9, one of them this
 * node's): fd00:1::9 closed, each IPv4 with its pod's identity, the local
 * pod's policy not closed. Before: whichever the sort kept named the
 * address, so one pod's traffic was judged by the other's identity. When one
 * goes, the other has its address back. Incremental == whole throughout.
 */
static void test_contested_address6(void **state)
{
	struct pol_opts o = { .node_name = "n0" };
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	const struct pol_delta *d;
	struct pol_result full = { 0 };
	struct cluster c;
	struct pol_v6 v;
	uint32_t ida, idb, idc, idd, ide;

	(void)state;
	put(st, pod46("a", "n1", "fd00:1::5", NULL));
	put(st, pod46("b", "n2", "fd00:1::5", NULL));
	put(st, pod46("c", "n1", "fd00:1::6", NULL));
	put(st, pod46("d", "n0", "10.1.0.7", "fd00:1::9"));
	put(st, pod46("e", "n1", "10.1.0.8", "fd00:1::9"));
	assert_int_equal(update(st, pi, &d), 0);
	ida = pol_incr_pod_id(pi, "ns0", "a");
	idb = pol_incr_pod_id(pi, "ns0", "b");
	idc = pol_incr_pod_id(pi, "ns0", "c");
	idd = pol_incr_pod_id(pi, "ns0", "d");
	ide = pol_incr_pod_id(pi, "ns0", "e");
	assert_true(ida && idb && idc && idd && ide);
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 0); /* no IPv4 is claimed twice */
	assert_int_equal(ipc_at(&full, "10.1.0.7")->val.identity, idd);
	assert_int_equal(ipc_at(&full, "10.1.0.8")->val.identity, ide);
	assert_non_null(ep_at(&full, "10.1.0.7"));
	assert_false(ep_at(&full, "10.1.0.7")->state.isolated & XCNI_POLEP_OVERFLOW);
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	print_message("fd00:1::5 identity %u (a %u, b %u), fd00:1::9 identity %u (d %u, e %u)\n",
		      ipc6_at(&v, "fd00:1::5")->val.identity, ida, idb,
		      ipc6_at(&v, "fd00:1::9")->val.identity, idd, ide);
	assert_int_equal(ipc6_at(&v, "fd00:1::5")->val.identity, XCNI_ID_UNMANAGED);
	assert_int_equal(ipc6_at(&v, "fd00:1::9")->val.identity, XCNI_ID_UNMANAGED);
	assert_int_equal(ipc6_at(&v, "fd00:1::6")->val.identity, idc);
	assert_int_equal(v.ncontested, 2);
	v6_equal(pi, &c, &o, &full);
	pol_v6_free(&v);
	pol_result_free(&full);
	/* b and e go: a and d have their IPv6 back. */
	store_del(st, K8S_POD, "ns0", "b");
	store_del(st, K8S_POD, "ns0", "e");
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->v6_changed);
	store_view(st, &c);
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(ipc6_at(&v, "fd00:1::5")->val.identity, ida);
	assert_int_equal(ipc6_at(&v, "fd00:1::9")->val.identity, idd);
	assert_int_equal(v.ncontested, 0);
	pol_v6_free(&v);
	pol_incr_free(pi);
	store_free(st);
}

/* The delta's ipcache entry for ip (NULL: none put). */
static const struct pol_ipcache *ipc_put_at(const struct pol_delta *d, const char *ip)
{
	for (size_t i = 0; i < d->nipc_put; i++)
		if (d->ipc_put[i].key.addr == inet_addr(ip))
			return &d->ipc_put[i];
	return NULL;
}

/*
 * Two live pods contest an address a Node then takes, in both families (the
 * random CNP histories as clang draws them reach it: seed 730): the Node
 * keeps it, as it keeps one pod's address, in the delta and in the whole
 * compile; when it goes the address is the pods' again, closed. Before: the
 * whole compile ranked one address's entries by identity number, and the
 * contested pods' XCNI_ID_UNMANAGED (3) numbers below XCNI_ID_REMOTE_NODE
 * (6), so it gave the Node's address to the pods where the delta gave it to
 * the Node; the IPv6 one went to whichever entry the sort listed first.
 */
static void test_contested_node_address(void **state)
{
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	const struct pol_delta *d;
	struct pol_result full = { 0 };
	struct cluster c;
	struct pol_v6 v;

	(void)state;
	put(st, pod46("a", "n0", "10.1.0.24", "fd00:2::18"));
	put(st, pod46("b", "n1", "10.1.0.24", "fd00:2::18"));
	assert_int_equal(update(st, pi, &d), 0);
	put(st, json_pack("{s:s, s:s, s:{s:s}, s:{s:[{s:s, s:s}, {s:s, s:s}]}}", "apiVersion",
			  "v1", "kind", "Node", "metadata", "name", "n3", "status", "addresses",
			  "type", "InternalIP", "address", "10.1.0.24", "type", "InternalIP",
			  "address", "fd00:2::18"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_non_null(ipc_put_at(d, "10.1.0.24"));
	assert_int_equal(ipc_put_at(d, "10.1.0.24")->val.identity, XCNI_ID_REMOTE_NODE);
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 2);
	assert_int_equal(ipc_at(&full, "10.1.0.24")->val.identity, XCNI_ID_REMOTE_NODE);
	assert_int_equal(ipc_at(&full, "10.1.0.24")->val.flags & XCNI_IPC_POD, 0);
	assert_int_equal(ipc_at(&full, "10.1.0.24")->val.tunnel_ip, inet_addr("10.1.0.24"));
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(ipc6_at(&v, "fd00:2::18")->val.identity, XCNI_ID_REMOTE_NODE);
	assert_int_equal(ipc6_at(&v, "fd00:2::18")->val.flags & XCNI_IPC_POD, 0);
	pol_v6_free(&v);
	pol_result_free(&full);
	/* The Node goes: the pods' address again, closed. */
	store_del(st, K8S_NODE, NULL, "n3");
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(ipc_put_at(d, "10.1.0.24")->val.identity, XCNI_ID_UNMANAGED);
	whole(st, &c, &full);
	assert_int_equal(ipc_at(&full, "10.1.0.24")->val.identity, XCNI_ID_UNMANAGED);
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(ipc6_at(&v, "fd00:2::18")->val.identity, XCNI_ID_UNMANAGED);
	pol_v6_free(&v);
	pol_result_free(&full);
	pol_incr_free(pi);
	store_free(st);
}

/* life_pod with metadata.deletionTimestamp: Terminating. */
static json_t *deleting_pod(const char *name, const char *node, const char *ip, const char *phase,
			    const char *created)
{
	json_t *p = life_pod(name, node, ip, phase, created);

	json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp",
			    json_string("2026-11-26T00:09:00Z"));
	return p;
}

static const struct pol_yield *yield_of(const struct pol_result *r, const char *from)
{
	for (size_t i = 0; i < r->nyielded; i++)
		if (!strcmp(r->yielded[i].from.name, from))
			return &r->yielded[i];
	return NULL;
}

/*
 * Issue 37, as the real cluster lived it: web/f1 is deleted (Terminating,
 * its sandbox gone) and host-local on its node gives 10.1.0.12 to a new pod
 * while f1's object is still listed. The new pod owns the address (its
 * identity, its name, its policy open), f1 yields (named); incremental ==
 * whole at every step (update), a pod of the yielded address changing is
 * compiled whole. Each family: a remote IPv6-only pair in the ipcache6; a
 * local IPv6-only pair under their policy key; but two local IPv6-only pods
 * whose addresses only end alike (one policy key, two addresses) and a pair
 * on two nodes still contest.
 */
static void test_deleting_pod_yields(void **state)
{
	struct pol_opts o = { .node_name = "n0" };
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	const struct pol_delta *d;
	struct pol_result full = { 0 };
	struct cluster c;
	struct pol_v6 v;
	const struct pol_yield *y;
	uint32_t k7, k8;
	uint8_t a7[16];

	(void)state;
	put(st, life_pod("f1", "n0", "10.1.0.12", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("bystander", "n0", "10.1.0.6", "Running", "2026-11-26T00:00:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	/* Deleted: it keeps the address while alone on it, as a delta. */
	put(st, deleting_pod("f1", "n0", "10.1.0.12", "Running", "2026-11-26T00:00:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "f1") != 0, 1);
	/* Its address given again on its node: the new one has it, f1 yields. */
	put(st, life_pod("echo", "n0", "10.1.0.12", "Pending", "2026-11-26T00:10:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full); /* two pods, one address: settled as a delta */
	whole(st, &c, &full);
	assert_int_equal(full.ncontested, 0);
	assert_int_equal(full.nyielded, 1);
	y = yield_of(&full, "f1");
	assert_non_null(y);
	assert_int_equal(y->ip, inet_addr("10.1.0.12"));
	assert_string_equal(y->to.name, "echo");
	assert_string_equal(y->from.node, "n0");
	assert_int_equal(ipc_at(&full, "10.1.0.12")->val.identity,
			 pol_incr_pod_id(pi, "ns0", "echo"));
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "f1"), 0); /* out of the view */
	assert_non_null(ep_at(&full, "10.1.0.12"));
	assert_false(ep_at(&full, "10.1.0.12")->state.isolated & XCNI_POLEP_CONTESTED);
	for (size_t i = 0; i < full.npodnames; i++)
		if (full.podnames[i].ip == inet_addr("10.1.0.12"))
			assert_string_equal(full.podnames[i].name.name, "echo");
	pol_result_free(&full);
	/* The live one changes: settled again as a delta, still its. */
	put(st, life_pod("echo", "n0", "10.1.0.12", "Running", "2026-11-26T00:10:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	/* The live one goes first (deleted before f1's finalizer is done): f1,
	 * alone again, has its address back, as a delta. */
	store_del(st, K8S_POD, "ns0", "echo");
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_not_equal(pol_incr_pod_id(pi, "ns0", "f1"), 0);
	put(st, life_pod("echo", "n0", "10.1.0.12", "Running", "2026-11-26T00:10:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	/* f1 gone at last: nothing yielded any more. */
	store_del(st, K8S_POD, "ns0", "f1");
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_resets(pi), 1);
	whole(st, &c, &full);
	assert_int_equal(full.nyielded, 0);
	assert_int_equal(full.ncontested, 0);
	pol_result_free(&full);
	/* The same on another node's pod: contested, closed, both named. */
	put(st, deleting_pod("f2", "n1", "10.1.0.12", "Running", "2026-11-26T00:00:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	whole(st, &c, &full);
	assert_int_equal(full.nyielded, 0);
	assert_int_equal(full.ncontested, 2);
	assert_int_equal(ipc_at(&full, "10.1.0.12")->val.identity, XCNI_ID_UNMANAGED);
	pol_result_free(&full);
	store_del(st, K8S_POD, "ns0", "f2");
	assert_int_equal(update(st, pi, &d), 0);

	/* IPv6 only, another node's pair: a yields to b on n1; c (n2) and d
	 * (n1) contest fd00:1::6. */
	put(st, deleting_pod("a", "n1", "fd00:1::5", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("b", "n1", "fd00:1::5", "Pending", "2026-11-26T00:10:00Z"));
	put(st, deleting_pod("c", "n2", "fd00:1::6", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("d", "n1", "fd00:1::6", "Running", "2026-11-26T00:10:00Z"));
	/* IPv6 only, this node's: e yields to f under their policy key; g and
	 * h end alike (one key) but are two addresses: contested. */
	put(st, deleting_pod("e", "n0", "fd00:1::7", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("f", "n0", "fd00:1::7", "Pending", "2026-11-26T00:10:00Z"));
	put(st, deleting_pod("g", "n0", "fd00:1::8", "Running", "2026-11-26T00:00:00Z"));
	put(st, life_pod("h", "n0", "fd00:3::8", "Running", "2026-11-26T00:10:00Z"));
	assert_int_equal(update(st, pi, &d), 0);
	whole(st, &c, &full);
	assert_int_equal(full.nyielded, 1);
	assert_string_equal(full.yielded[0].from.name, "e");
	assert_string_equal(full.yielded[0].to.name, "f");
	assert_int_equal(full.ncontested, 2);
	assert_true(!strcmp(full.contested[0].name.name, "g") ||
		    !strcmp(full.contested[0].name.name, "h"));
	assert_int_equal(inet_pton(AF_INET6, "fd00:1::7", a7), 1);
	k7 = pol_polkey6(a7);
	k8 = full.contested[0].ip;
	assert_int_equal(full.yielded[0].ip, k7);
	for (size_t i = 0; i < full.neps; i++) {
		if (full.eps[i].ip == k7)
			assert_false(full.eps[i].state.isolated & XCNI_POLEP_CONTESTED);
		if (full.eps[i].ip == k8)
			assert_true(full.eps[i].state.isolated & XCNI_POLEP_CONTESTED);
	}
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(ipc6_at(&v, "fd00:1::5")->val.identity, pol_incr_pod_id(pi, "ns0", "b"));
	assert_int_equal(ipc6_at(&v, "fd00:1::6")->val.identity, XCNI_ID_UNMANAGED);
	assert_int_equal(ipc6_at(&v, "fd00:1::7")->val.identity, pol_incr_pod_id(pi, "ns0", "f"));
	assert_int_equal(v.nyielded, 1); /* a; e is out of the view already */
	assert_int_equal(v.ncontested, 1);
	v6_equal(pi, &c, &o, &full);
	pol_v6_free(&v);
	pol_result_free(&full);
	/* b goes: a has fd00:1::5 back. */
	store_del(st, K8S_POD, "ns0", "b");
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->v6_changed);
	store_view(st, &c);
	assert_int_equal(pol_v6_build(pi, &c, &v), 0);
	assert_int_equal(ipc6_at(&v, "fd00:1::5")->val.identity, pol_incr_pod_id(pi, "ns0", "a"));
	assert_int_equal(v.nyielded, 0);
	pol_v6_free(&v);
	pol_incr_free(pi);
	store_free(st);
}

static json_t *lpod(const char *name, const char *node, const char *app, const char *tier,
		    const char *ip)
{
	json_t *labels = json_pack("{s:s}", "app", app);

	if (tier)
		json_object_set_new(labels, "tier", json_string(tier));
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:s, s:[{s:s, s:s}]}, s:{s:s}}",
			 "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
			 "ns0", "labels", labels, "spec", "nodeName", node, "containers", "name",
			 "c", "image", "i", "status", "podIP", ip);
}

/* Policy name: pods app=sel take ingress from pods app=from. */
static json_t *from_app(const char *name, const char *sel, const char *from)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:s}}, s:[{s:[{s:{s:{s:s}}}]}]}}",
			 "apiVersion", "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata",
			 "name", name, "namespace", "ns0", "spec", "podSelector", "matchLabels",
			 "app", sel, "ingress", "from", "podSelector", "matchLabels", "app", from);
}

/*
 * A birth looks only at local pods one of whose policies names the new
 * identity, by the policies it remembers selecting each pod: a local pod
 * relabelled into another policy must be looked at by that one afterwards.
 */
static void test_birth_after_relabel(void **state)
{
	const struct pol_delta *d;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();

	(void)state;
	put(st, from_app("pa", "a", "x"));
	put(st, from_app("pb", "b", "y"));
	put(st, lpod("l", "n0", "a", NULL, "10.1.0.10"));
	put(st, lpod("x", "n1", "x", NULL, "10.1.0.11"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->full);
	/* app=y born: pod l's policy (pa) does not name it. */
	put(st, lpod("y1", "n1", "y", NULL, "10.1.0.21"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_born, 1);
	/* l moves to pb, which names app=y. */
	put(st, lpod("l", "n0", "b", NULL, "10.1.0.10"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_int_equal(d->neps_compiled, 1);
	/* Another app=y label set born: l gains its entries through pb. */
	put(st, lpod("y2", "n1", "y", "t2", "10.1.0.22"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->nid_put, 1);
	assert_int_equal(d->neps_born, 1);
	pol_incr_free(pi);
	store_free(st);
}

static json_t *ns_obj(const char *name, const char *team, const char *env)
{
	json_t *labels = json_object();

	if (team)
		json_object_set_new(labels, "team", json_string(team));
	if (env)
		json_object_set_new(labels, "env", json_string(env));
	return json_pack("{s:s, s:s, s:{s:s, s:o}}", "apiVersion", "v1", "kind", "Namespace",
			 "metadata", "name", name, "labels", labels);
}

static json_t *ns_pod(const char *ns, const char *name, const char *node, const char *app,
		      const char *ip)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s, s:s}]}, s:{s:s}}",
			 "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
			 ns, "labels", "app", app, "spec", "nodeName", node, "containers", "name",
			 "c", "image", "i", "status", "podIP", ip);
}

/* Policy name in ns: pods app=sel take ingress from peer. */
static json_t *np_from(const char *ns, const char *name, const char *sel, json_t *peer)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:s}}, s:[{s:[o]}]}}", "apiVersion",
			 "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata", "name", name,
			 "namespace", ns, "spec", "podSelector", "matchLabels", "app", sel,
			 "ingress", "from", peer);
}

static bool ep_changed(const struct pol_result *r, const char *ip)
{
	const struct pol_ep *ep = ep_at(r, ip);

	assert_non_null(ep);
	return ep->changed;
}

/* ep's entries that name identity id. */
static size_t ep_entries_of(const struct pol_result *r, const char *ip, uint32_t id)
{
	const struct pol_ep *ep = ep_at(r, ip);
	size_t n = 0;

	assert_non_null(ep);
	for (size_t i = 0; i < ep->nentries; i++)
		n += ep->entries[i].key.peer == id;
	return n;
}

static int update_r(struct store *st, struct pol_incr *pi, const struct pol_delta **d,
		    const struct pol_result **r)
{
	return update_with(st, pi, d, r, NULL, NULL);
}

/*
 * One Namespace's label change works out again only what selects on it
 * (issue 52, item 7: it was a whole compile of the cluster on every node, so
 * a tenant toggling a label was a CPU denial of every agent). Namespace t1
 * (two pods here, one on n1) is selected by watch's policy (team=red);
 * other's policy selects pods only. A change of t1's labels relinks its 3
 * pods (nns_pods), compiles its 2 local pods again and gives or takes the
 * entries of watch's pod; other's pod is neither compiled nor given anything
 * (the counters and its entries' changed flag say so). A Namespace with no
 * pods, or one written with the same labels, costs nothing. Each step is
 * checked against the whole compile.
 */
static void test_ns_label_counts(void **state)
{
	const struct pol_delta *d;
	const struct pol_result *r;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();
	uint32_t t1c;

	(void)state;
	put(st, ns_obj("t1", "red", NULL));
	put(st, ns_obj("t2", "red", NULL)); /* no pods */
	put(st, ns_obj("watch", NULL, NULL));
	put(st, ns_obj("other", NULL, NULL));
	put(st, ns_pod("t1", "a", "n0", "a", "10.1.0.10"));
	put(st, ns_pod("t1", "b", "n0", "b", "10.1.0.11"));
	put(st, ns_pod("t1", "c", "n1", "c", "10.1.0.12"));
	put(st, ns_pod("watch", "w", "n0", "w", "10.1.0.30"));
	put(st, ns_pod("other", "o", "n0", "o", "10.1.0.40"));
	put(st, ns_pod("other", "z", "n1", "z", "10.1.0.41"));
	put(st, np_from("watch", "from-red", "w",
			json_pack("{s:{s:{s:s}}}", "namespaceSelector", "matchLabels", "team",
				  "red")));
	put(st, np_from("other", "plain", "o",
			json_pack("{s:{s:{s:s}}}", "podSelector", "matchLabels", "app", "z")));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_true(d->full);
	t1c = pol_incr_pod_id(pi, "t1", "c");
	assert_true(ep_entries_of(r, "10.1.0.30", t1c) > 0);

	/* t1 leaves team=red: watch's pod loses t1's entries. */
	put(st, ns_obj("t1", "blue", NULL));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_null(d->why);
	assert_int_equal(pol_incr_resets(pi), 1);
	assert_int_equal(d->nns_pods, 3);
	assert_int_equal(d->nid_put, 3);
	assert_int_equal(d->nid_del, 3);
	assert_int_equal(d->neps_compiled, 2); /* t1/a, t1/b */
	assert_int_equal(d->neps_born_hit, 0);
	assert_true(ep_changed(r, "10.1.0.30"));
	assert_int_equal(ep_entries_of(r, "10.1.0.30", pol_incr_pod_id(pi, "t1", "c")), 0);
	assert_false(ep_changed(r, "10.1.0.40"));

	/* Back into team=red: watch's pod gains them; other's is not looked at
	 * beyond its policies' peers. */
	put(st, ns_obj("t1", "red", NULL));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_resets(pi), 1);
	assert_int_equal(d->nns_pods, 3);
	assert_int_equal(d->neps_compiled, 2);
	assert_int_equal(d->neps_born_hit, 1); /* watch/w */
	assert_true(ep_changed(r, "10.1.0.30"));
	assert_true(ep_entries_of(r, "10.1.0.30", pol_incr_pod_id(pi, "t1", "c")) > 0);
	assert_false(ep_changed(r, "10.1.0.40"));

	/* A label nothing selects on: new identities all the same (the label is
	 * in them), the same pods touched, still no more. */
	put(st, ns_obj("t1", "red", "x"));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(d->nns_pods, 3);
	assert_int_equal(d->neps_compiled, 2);
	assert_int_equal(d->neps_born_hit, 1);
	assert_false(ep_changed(r, "10.1.0.40"));

	/* The same labels again, and a Namespace without pods: nothing. */
	put(st, json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}, s:{s:s}}}", "apiVersion", "v1", "kind",
			  "Namespace", "metadata", "name", "t1", "labels", "team", "red", "env",
			  "x", "annotations", "note", "touched"));
	put(st, ns_obj("t2", NULL, NULL));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(d->nns_pods, 0);
	assert_int_equal(d->neps_compiled, 0);
	assert_int_equal(d->nid_put + d->nid_del + d->nipc_put + d->nipc_del, 0);

	/* The Namespace removed (its pods keep the default labels), then back
	 * with a policy change of another namespace in the same batch. */
	store_del(st, K8S_NAMESPACE, NULL, "t1");
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(d->nns_pods, 3);
	assert_int_equal(ep_entries_of(r, "10.1.0.30", pol_incr_pod_id(pi, "t1", "c")), 0);
	put(st, ns_obj("t1", "red", NULL));
	put(st, np_from("other", "plain", "o",
			json_pack("{s:{s:{s:s}}}", "podSelector", "matchLabels", "app", "y")));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_resets(pi), 1);
	assert_true(ep_entries_of(r, "10.1.0.30", pol_incr_pod_id(pi, "t1", "c")) > 0);

	/* A ClusterNetworkPolicy (no Pass rule, no rule name) and a Namespace's
	 * change with it are deltas too: still the whole compile's result. */
	put(st, json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:i, s:{s:{s:{s:s}}}, s:[{s:s, s:[{s:{s:{s:s}}}]}]}}",
			  "apiVersion", "policy.networking.k8s.io/v1alpha2", "kind",
			  "ClusterNetworkPolicy", "metadata", "name", "deny-red", "spec", "tier",
			  "Admin", "priority", 1, "subject", "namespaces", "matchLabels", "team",
			  "blue", "ingress", "action", "Deny", "from", "namespaces", "matchLabels",
			  "team", "red"));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	put(st, ns_obj("other", "blue", NULL));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_resets(pi), 1);
	put(st, ns_obj("t1", "blue", NULL));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	pol_incr_free(pi);
	store_free(st);
}

/*
 * A NetworkPolicy's change compiles again the local pods it selected or selects, no other:
 * its rules and its isolation enter the entries of the pods it selects only. pa moves from
 * app=a to app=b, its peers change, it goes; l3 (app=c) is never compiled. Each step is
 * checked against the whole compile (l1 left behind keeps an isolation it lost otherwise).
 */
static void test_np_change_reaches_selected(void **state)
{
	const struct pol_delta *d;
	const struct pol_result *r;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();

	(void)state;
	put(st, from_app("pa", "a", "x"));
	put(st, lpod("l1", "n0", "a", NULL, "10.1.0.10"));
	put(st, lpod("l2", "n0", "b", NULL, "10.1.0.11"));
	put(st, lpod("l3", "n0", "c", NULL, "10.1.0.12"));
	put(st, lpod("x", "n1", "x", NULL, "10.1.0.20"));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_true(d->full);
	put(st, from_app("pa", "b", "x")); /* l1 before, l2 now */
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_np, 2);
	assert_int_equal(d->neps_compiled, 2);
	assert_false(ep_changed(r, "10.1.0.12"));
	put(st, from_app("pa", "b", "c")); /* its peers: l2 alone */
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_int_equal(d->neps_np, 1);
	assert_int_equal(d->neps_compiled, 1);
	store_del(st, K8S_NETWORKPOLICY, "ns0", "pa");
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_np, 1);
	assert_int_equal(d->neps_compiled, 1);
	assert_false(ep_changed(r, "10.1.0.12"));
	pol_incr_free(pi);
	store_free(st);
}

/* Pod name of ns0 on node, app=app, its container port "http" at port. */
static json_t *http_pod(const char *name, const char *node, const char *app, int port,
			const char *ip)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s, s:s, s:[{s:s, s:i}]}]},"
			 " s:{s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata", "name", name,
			 "namespace", "ns0", "labels", "app", app, "spec", "nodeName", node,
			 "containers", "name", "c", "image", "i", "ports", "name", "http",
			 "containerPort", port, "status", "podIP", ip);
}

/*
 * An egress rule naming a port gives a peer identity its pods' ports of that name: the local
 * pods it isolates are compiled again when a pod among its peers changes (its port, its
 * labels), not on another pod's change. pn: pods app=a reach app=x at "http".
 */
/* o written again with only a new annotation (a status write). */
static void put_beat(struct store *st, json_t *o)
{
	json_object_set_new(json_object_get(o, "metadata"), "annotations",
			    json_pack("{s:s}", "beat", "1"));
	put(st, o);
}

static void test_named_egress_reaches_peers(void **state)
{
	const struct pol_delta *d;
	const struct pol_result *r;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();

	(void)state;
	put(st, json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:s}}, s:[s], s:[{s:[{s:{s:{s:s}}}],"
			  " s:[{s:s}]}]}}", "apiVersion", "networking.k8s.io/v1", "kind",
			  "NetworkPolicy", "metadata", "name", "pn", "namespace", "ns0", "spec",
			  "podSelector", "matchLabels", "app", "a", "policyTypes", "Egress", "egress",
			  "to", "podSelector", "matchLabels", "app", "x", "ports", "port", "http"));
	put(st, http_pod("l1", "n0", "a", 8080, "10.1.0.10"));
	put(st, http_pod("x", "n1", "x", 8080, "10.1.0.20"));
	put(st, http_pod("y", "n1", "y", 8080, "10.1.0.21"));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_true(d->full);
	put(st, http_pod("y", "n1", "y", 8081, "10.1.0.21")); /* not a peer */
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_compiled, 0);
	put(st, http_pod("x", "n1", "x", 8081, "10.1.0.20")); /* a peer's port */
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_int_equal(d->neps_compiled, 1);
	assert_int_equal(d->neps_named, 1);
	assert_int_equal(d->npods_quiet, 0);
	/* The peer written again, its labels, ports and address as they were (a status write):
	 * no named rule reached, nothing compiled. */
	put_beat(st, http_pod("x", "n1", "x", 8081, "10.1.0.20"));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_int_equal(d->neps_named, 0);
	assert_int_equal(d->neps_compiled, 0);
	assert_int_equal(d->npods_quiet, 1);
	put(st, http_pod("y", "n1", "x", 8082, "10.1.0.21")); /* one more peer */
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_int_equal(d->neps_compiled, 1);
	pol_incr_free(pi);
	store_free(st);
}

static json_t *audited(json_t *o)
{
	json_object_set_new(json_object_get(o, "metadata"), "annotations",
			    json_pack("{s:s}", "xcni.io/policy-mode", "audit"));
	return o;
}

/*
 * Audit mode (issue 41, item 5): one audited Namespace or NetworkPolicy does
 * not make every change in the cluster a whole compile. The local pods an
 * audited policy isolates take the slower path (their entries name every
 * pod: compiled again on each change of pods, nodes or policies); the
 * others and the cluster-wide maps follow the change as before. update()
 * checks each result against the whole compile.
 */
static void test_audit_stays_incremental(void **state)
{
	const struct pol_delta *d;
	const struct pol_result *r;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();
	json_t *lock = from_app("lock", "a", "x");

	(void)state;
	put(st, audited(json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
				  "metadata", "name", "ns0")));
	json_incref(lock);
	put(st, lock);
	put(st, lpod("l1", "n0", "a", NULL, "10.1.0.10")); /* isolated by lock: audited */
	put(st, lpod("l2", "n0", "b", NULL, "10.1.0.11")); /* no policy: not audited */
	put(st, lpod("l3", "n0", "c", NULL, "10.1.0.12"));
	put(st, lpod("x", "n1", "x", NULL, "10.1.0.20"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->full);
	/* Its Namespace's audit mode alone changing compiles its three local pods, though each is
	 * written quietly (update() holds each result to the whole compile's); l1 written again,
	 * nothing a peer or its own compile reads changed (a status write), keeps its entries and
	 * stays audited (the next update compiles it). */
	for (int k = 0; k < 2; k++) {
		json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
				       "Namespace", "metadata", "name", "ns0");

		put(st, k ? audited(ns) : ns);
		assert_int_equal(update(st, pi, &d), 0);
		assert_int_equal(d->npods_quiet, 4); /* and x, on n1 */
		assert_int_equal(d->neps_compiled, 3);
	}
	put_beat(st, lpod("l1", "n0", "a", NULL, "10.1.0.10"));
	assert_int_equal(update_r(st, pi, &d, &r), 0);
	assert_int_equal(d->npods_quiet, 1);
	assert_int_equal(d->neps_compiled, 0);
	/* Its entry names the object now (the store freed the last: ASan reads it). */
	assert_string_equal(pol_ep_find(r, inet_addr("10.1.0.10"))->pod->meta.name, "l1");
	/* A pod elsewhere, of a new label set: a delta; only l1 compiled again. */
	put(st, lpod("y1", "n1", "y", NULL, "10.1.0.21"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_null(d->why);
	assert_int_equal(pol_incr_resets(pi), 1);
	assert_int_equal(d->neps_compiled, 1);
	/* Another pod of a known label set, then one readdressed: the same. */
	put(st, lpod("x2", "n1", "x", NULL, "10.1.0.22"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_compiled, 1);
	put(st, lpod("x2", "n1", "x", NULL, "10.1.0.23"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_compiled, 1);
	/* A local pod relabelled: it and l1; l3 keeps its entries. */
	put(st, lpod("l2", "n0", "b", "t", "10.1.0.11"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_compiled, 2);
	/* l2 into lock's selection: now audited too. */
	put(st, lpod("l2", "n0", "a", NULL, "10.1.0.11"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_int_equal(d->neps_compiled, 2);
	store_del(st, K8S_POD, "ns0", "y1");
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_compiled, 2);
	/* The Namespace enforcing again (its pods' audit mode: a delta, they are
	 * compiled again) and the NetworkPolicy audited by its own annotation:
	 * the same path. */
	put(st, json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			  "metadata", "name", "ns0"));
	put(st, audited(lock));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	put(st, lpod("y2", "n1", "y", "u", "10.1.0.24"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_resets(pi), 1);
	assert_int_equal(d->neps_compiled, 2); /* l1 and l2 */
	/* Nothing audited any more: nothing compiled again for a remote pod. */
	put(st, from_app("lock", "a", "x"));
	assert_int_equal(update(st, pi, &d), 0);
	put(st, lpod("y3", "n1", "x", NULL, "10.1.0.25"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_compiled, 0);
	pol_incr_free(pi);
	store_free(st);
}

/* One update followed as a delta, n tiered directions of it patched. */
static void update_patched(struct store *st, struct pol_incr *pi, size_t n)
{
	const struct pol_delta *d;

	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_int_equal(d->neps_patched[1], n);
}

/*
 * A tiered pod's egress accepts the nodes by its first rule and 10.1.0.0/24
 * by its third, so its pods go by address; pod q holds node n1's address,
 * whose key is n1's (the nodes go first: a Node's address is the node's in
 * every map). While q holds it n1 keeps its group and q's is made as from
 * nothing; when a pod comes or goes there both are decided again
 * (cnp_patch_init, pod_link, pod_unlink). A host prefix a rule names
 * (10.1.0.60/32, node n2's: n2 went first under it) is decided again always:
 * its rule's group is its own (kept_slot).
 */
static void test_prefix_patch_shared_address(void **state)
{
	const struct pol_delta *d;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();

	(void)state;
	put(st, json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"},"
			   "\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":"
			   "\"10.1.0.50\"}]}}", 0, NULL));
	put(st, json_loads("{\"apiVersion\":\"policy.networking.k8s.io/v1alpha2\",\"kind\":"
			   "\"ClusterNetworkPolicy\",\"metadata\":{\"name\":\"c\"},\"spec\":{\"tier\":"
			   "\"Admin\",\"priority\":1,\"subject\":{\"namespaces\":{}},\"egress\":["
			   "{\"action\":\"Accept\",\"to\":[{\"nodes\":{}}]},{\"action\":\"Accept\","
			   "\"to\":[{\"networks\":[\"10.1.0.60/32\"]}]},{\"action\":\"Accept\","
			   "\"to\":[{\"networks\":[\"10.1.0.0/24\"]}]}]}}", 0, NULL));
	put(st, json_loads("{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n2\"},"
			   "\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":"
			   "\"10.1.0.60\"}]}}", 0, NULL));
	put(st, lpod("l", "n0", "a", NULL, "10.1.0.10"));
	put(st, lpod("q", "n1", "b", NULL, "10.1.0.50"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->full);
	/* Another pod: l's egress patched, q still at n1's address (now). */
	put(st, lpod("r", "n1", "c", NULL, "10.1.0.30"));
	update_patched(st, pi, 1);
	/* q gone: n1 gives the key now (before); then back, then another pod. */
	store_del(st, K8S_POD, "ns0", "q");
	update_patched(st, pi, 1);
	put(st, lpod("q", "n1", "b", NULL, "10.1.0.50"));
	update_patched(st, pi, 1);
	put(st, lpod("r", "n1", "d", NULL, "10.1.0.31"));
	update_patched(st, pi, 1);
	pol_incr_free(pi);
	store_free(st);
}

/*
 * A tiered pod's egress denies 10.1.1.0/24, which holds both pods of identity
 * app=b: one region, so b goes by identity (one entry, no key of its pods:
 * ids_split), as a NetworkPolicy's 0.0.0.0/0 holding every pod of a cluster
 * does. Then, each a patch judged as from nothing: both moved out in one
 * update; one back in and the other gone; a pod joining b outside (b split:
 * its pods by address); the one inside gone (b in one region again).
 */
static void test_prefix_region_identity(void **state)
{
	const struct pol_delta *d;
	const struct pol_result *r;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();
	size_t keys = 0;

	(void)state;
	put(st, json_loads("{\"apiVersion\":\"policy.networking.k8s.io/v1alpha2\",\"kind\":"
			   "\"ClusterNetworkPolicy\",\"metadata\":{\"name\":\"c\"},\"spec\":{\"tier\":"
			   "\"Admin\",\"priority\":1,\"subject\":{\"namespaces\":{}},\"egress\":["
			   "{\"action\":\"Deny\",\"to\":[{\"networks\":[\"10.1.1.0/24\"]}]}]}}", 0,
			   NULL));
	put(st, lpod("l", "n0", "a", NULL, "10.1.0.10"));
	put(st, lpod("p", "n1", "b", NULL, "10.1.1.5"));
	put(st, lpod("q", "n1", "b", NULL, "10.1.1.6"));
	assert_int_equal(update_with(st, pi, &d, &r, NULL, NULL), 0);
	assert_true(d->full);
	for (size_t i = 0; i < pol_ep_find(r, htonl(0x0a01000a))->ncidrs; i++)
		keys += pol_ep_find(r, htonl(0x0a01000a))->cidrs[i].key.dir == XCNI_DIR_FROM_POD;
	assert_int_equal(keys, 1); /* the /24's alone */
	put(st, lpod("p", "n1", "b", NULL, "10.1.2.5"));
	put(st, lpod("q", "n1", "b", NULL, "10.1.2.6"));
	update_patched(st, pi, 1);
	put(st, lpod("p", "n1", "b", NULL, "10.1.1.7"));
	store_del(st, K8S_POD, "ns0", "q");
	update_patched(st, pi, 1);
	put(st, lpod("r", "n1", "b", NULL, "10.1.2.9"));
	update_patched(st, pi, 1);
	store_del(st, K8S_POD, "ns0", "p");
	update_patched(st, pi, 1);
	store_del(st, K8S_POD, "ns0", "r");
	update_patched(st, pi, 1);
	pol_incr_free(pi);
	store_free(st);
}

/*
 * Port intervals that move (h69ports): l's NetworkPolicy sends it to app=w's
 * port named http (an entry per identity: its pods' ports), the Admin tier
 * denies app=k on 8000-8100. w's http moving 8050 -> 8060 moves the tiered
 * egress's boundaries; k's decision is constant between them, so its entries
 * are old's read at the new ones and written again (8000-8059, 8060,
 * 8061-8100, not old's 8000-8049, 8050, 8051-8100), judged as from nothing.
 */
static void test_ports_moved_recut(void **state)
{
	const struct pol_delta *d;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();

	(void)state;
	put(st, json_loads("{\"apiVersion\":\"policy.networking.k8s.io/v1alpha2\",\"kind\":"
			   "\"ClusterNetworkPolicy\",\"metadata\":{\"name\":\"c\"},\"spec\":{\"tier\":"
			   "\"Admin\",\"priority\":1,\"subject\":{\"namespaces\":{}},\"egress\":["
			   "{\"action\":\"Deny\",\"to\":[{\"pods\":{\"namespaceSelector\":{},"
			   "\"podSelector\":{\"matchLabels\":{\"app\":\"k\"}}}}],\"protocols\":[{"
			   "\"tcp\":{\"destinationPort\":{\"range\":{\"start\":8000,\"end\":8100}}}}]}]}}",
			   0, NULL));
	put(st, json_loads("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
			   "\"metadata\":{\"name\":\"np\",\"namespace\":\"ns0\"},\"spec\":{"
			   "\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}},\"policyTypes\":["
			   "\"Egress\"],\"egress\":[{\"to\":[{\"podSelector\":{\"matchLabels\":{"
			   "\"app\":\"w\"}}}],\"ports\":[{\"port\":\"http\"}]}]}}", 0, NULL));
	put(st, lpod("l", "n0", "a", NULL, "10.1.0.10"));
	put(st, lpod("k", "n1", "k", NULL, "10.1.1.5"));
	put(st, http_pod("w", "n1", "w", 8050, "10.1.1.6"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->full);
	put(st, http_pod("w", "n1", "w", 8060, "10.1.1.6"));
	update_patched(st, pi, 1);
	assert_int_equal(d->neps_patched[2], 1);
	put(st, http_pod("w", "n1", "w", 8050, "10.1.1.6"));
	update_patched(st, pi, 1);
	pol_incr_free(pi);
	store_free(st);
}

/* What made a generation whole is said (xcnid's log), and a delta says nothing. */
static void test_whole_says_why(void **state)
{
	const struct pol_delta *d;
	struct pol_incr *pi = pol_incr_new();
	struct store *st = store_new();

	(void)state;
	put(st, simple_pod("w", "10.1.0.9"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_true(d->full);
	assert_string_equal(d->why, "first compile, or after a failure");
	/* A Namespace's labels: followed through its pods' identities (issue 52). */
	put(st, json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1", "kind", "Namespace",
			  "metadata", "name", "ns0", "labels", "team", "x"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_null(d->why);
	assert_int_equal(pol_incr_resets(pi), 1);
	put(st, simple_pod("b", "10.1.0.6"));
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_null(d->why);
	put(st, json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Node", "metadata",
			  "name", "n0"));
	/* This node's Node: its address and labels, followed (issue 69, step 2). */
	assert_int_equal(update(st, pi, &d), 0);
	assert_false(d->full);
	assert_null(d->why);
	assert_int_equal(pol_incr_resets(pi), 1);
	pol_incr_free(pi);
	store_free(st);
}

/* One update under aimed_hash, checked against the whole compile from the
 * previous allocation (*prev, then moved on). */
static int update_aimed(struct store *st, struct pol_incr *pi, const struct pol_delta **d,
			struct idprev *prev)
{
	return update_with(st, pi, d, NULL, aimed_hash, prev);
}

/*
 * A label set keeps its number while it exists, in the incremental compiler
 * too, and a collision is followed as a delta: the crafted set sorting first
 * takes the next number. A number freed in an update goes to no set born in
 * it; in the next it may. A new compiler seeded with the allocation (a
 * restarted agent reading xcni_identity) gives every set its old number.
 * Before: a collision compiled whole ("a new identity's number collides") and
 * the set sorting first took the victim's number.
 */
static void test_collision_keeps_the_holder(void **state)
{
	const uint32_t h = XCNI_ID_MIN_LABELS + 5000;
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new(), *pi2 = pol_incr_new();
	struct idprev prev = { 0 };
	const struct pol_delta *d;

	(void)state;
	put(st, lpod("v", "n0", "victim", NULL, "10.1.0.1"));
	put(st, from_app("db", "db", "victim"));
	put(st, lpod("db", "n0", "db", NULL, "10.1.0.9"));
	assert_int_equal(update_aimed(st, pi, &d, &prev), 0);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "v"), h);
	/* The tenant's set: a delta, the victim keeps h. */
	put(st, lpod("e1", "n1", "e1", NULL, "10.1.0.2"));
	assert_int_equal(update_aimed(st, pi, &d, &prev), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "v"), h);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "e1"), h + 1);
	/* The victim gone, another crafted set born in the same update: not h. */
	store_del(st, K8S_POD, "ns0", "v");
	put(st, lpod("e2", "n1", "e2", NULL, "10.1.0.3"));
	assert_int_equal(update_aimed(st, pi, &d, &prev), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "e2"), h + 2);
	assert_int_equal(d->nid_del, 1);
	assert_int_equal(d->id_del[0], h);
	/* The next update may give h again. */
	put(st, lpod("e3", "n1", "e3", NULL, "10.1.0.4"));
	assert_int_equal(update_aimed(st, pi, &d, &prev), 0);
	assert_false(d->full);
	assert_int_equal(pol_incr_pod_id(pi, "ns0", "e3"), h);
	/* A restart: seeded with the allocation, the first (whole) compile keeps
	 * every number, though e1 and e2 sort before e3, which holds the hash. */
	assert_int_equal(pol_incr_seed(pi2, prev.v, prev.n), 0);
	{
		struct pol_opts o = { .node_name = "n0", .hash = aimed_hash };
		const struct pol_result *r;
		struct cluster c;
		struct store_change *ch;
		size_t nch;
		bool all;

		store_view(st, &c);
		store_journal_take(st, &ch, &nch, &all);
		store_changes_free(ch, nch);
		assert_int_equal(pol_incr_update(pi2, &c, &o, NULL, 0, true, false, &r, &d, NULL),
				 0);
		assert_true(d->full);
	}
	assert_int_equal(pol_incr_pod_id(pi2, "ns0", "e1"), h + 1);
	assert_int_equal(pol_incr_pod_id(pi2, "ns0", "e2"), h + 2);
	assert_int_equal(pol_incr_pod_id(pi2, "ns0", "e3"), h);
	idprev_free(&prev);
	pol_incr_free(pi2);
	pol_incr_free(pi);
	store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_journal),
		cmocka_unit_test(test_address_reused_in_one_batch),
		cmocka_unit_test(test_finished_pod_address_reused),
		cmocka_unit_test(test_contested_address),
		cmocka_unit_test(test_contested_address6),
		cmocka_unit_test(test_contested_node_address),
		cmocka_unit_test(test_deleting_pod_yields),
		cmocka_unit_test_teardown(test_random_life, life_off),
		cmocka_unit_test(test_whole_says_why),
		cmocka_unit_test(test_prefix_patch_shared_address),
		cmocka_unit_test(test_prefix_region_identity),
		cmocka_unit_test(test_ports_moved_recut),
		cmocka_unit_test(test_birth_after_relabel),
		cmocka_unit_test(test_audit_stays_incremental),
		cmocka_unit_test(test_collision_keeps_the_holder),
		cmocka_unit_test(test_random_sequences),
		cmocka_unit_test(test_random_births),
		cmocka_unit_test(test_random_audit),
		cmocka_unit_test(test_random_collisions),
		cmocka_unit_test(test_ns_label_counts),
		cmocka_unit_test(test_np_change_reaches_selected),
		cmocka_unit_test(test_named_egress_reaches_peers),
		cmocka_unit_test(test_random_namespaces),
		cmocka_unit_test(test_random_namespaces_tiered),
		cmocka_unit_test_teardown(test_random_cnp, life_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
