// SPDX-License-Identifier: Apache-2.0
/*
 * What test_polincr and test_polincr_random share: a model of the cluster-wide
 * maps fed only the deltas, the judge (every local pod's verdicts against the
 * reference, polref.h, read as the data plane reads them), the result against
 * the whole compile's, the IPv6 maps against the model, the identities kept.
 */
#ifndef XCNI_TEST_POLINCR_FX_H
#define XCNI_TEST_POLINCR_FX_H

#pragma GCC diagnostic ignored "-Wunused-function"

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

#endif
