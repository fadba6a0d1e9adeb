// SPDX-License-Identifier: Apache-2.0
/*
 * What every endpoint's compile reads: label sets and their canonical
 * strings, the namespaces' labels, identity numbers (a keyed hash, probed),
 * the pods of each identity, the policies' ids and names, node addresses as
 * ipcache entries, and which pod owns an address several claim. The compiler
 * (policy_incr.c) keeps them up to date.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/log.h"
#include "lib/system/cidr.h"
#include "lib/system/hmap.h"
#include "lib/system/tunnel.h"
#include "lib/policy/policy.h"
#include "lib/policy/policy_int.h"

/* ---- label sets ------------------------------------------------------ */

static int label_dup(struct k8s_labels *dst, const char *key, const char *value)
{
	struct k8s_label *l = &dst->v[dst->n++];

	l->key = strdup(key);
	l->value = strdup(value);
	return l->key && l->value ? 0 : -ENOMEM;
}

/* Deep copy of src, plus key=value in its sorted place if src lacks key. */
int pol_labels_copy(struct k8s_labels *dst, const struct k8s_labels *src, const char *key,
		       const char *value)
{
	bool add = key && !k8s_label_get(src, key);
	int ret = 0;

	dst->n = 0;
	dst->v = calloc(src->n + add + 1, sizeof(*dst->v));
	if (!dst->v)
		return -ENOMEM;
	for (size_t i = 0; !ret && i < src->n; i++) {
		if (add && strcmp(key, src->v[i].key) < 0) {
			ret = label_dup(dst, key, value);
			add = false;
		}
		if (!ret)
			ret = label_dup(dst, src->v[i].key, src->v[i].value);
	}
	if (!ret && add)
		ret = label_dup(dst, key, value);
	if (ret)
		k8s_labels_free(dst);
	return ret;
}

/* "k8s:a=1,k8s:b=2,ns:kubernetes.io/metadata.name=x" (see policy.h). */
static char *canon_put(char *s, const char *prefix, const char *k, const char *v, bool comma)
{
	size_t lp = strlen(prefix), lk = strlen(k), lv = strlen(v);

	if (comma)
		*s++ = ',';
	memcpy(s, prefix, lp);
	s += lp;
	memcpy(s, k, lk);
	s += lk;
	*s++ = '=';
	memcpy(s, v, lv);
	return s + lv;
}

/* Built with memcpy: this runs for every pod on every compile. */
char *pol_canon_string(const struct k8s_labels *pod, const struct k8s_labels *ns)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < pod->n; i++)
		len += strlen(pod->v[i].key) + strlen(pod->v[i].value) + 6;
	for (size_t i = 0; i < ns->n; i++)
		len += strlen(ns->v[i].key) + strlen(ns->v[i].value) + 5;
	p = s = malloc(len);
	if (!s)
		return NULL;
	for (size_t i = 0; i < pod->n; i++)
		p = canon_put(p, "k8s:", pod->v[i].key, pod->v[i].value, p != s);
	for (size_t i = 0; i < ns->n; i++)
		p = canon_put(p, "ns:", ns->v[i].key, ns->v[i].value, p != s);
	*p = '\0';
	return s;
}

/* First free number from h on, wrapping in [min, min + span). */
uint32_t pol_probe(struct pol_u32set *used, uint32_t h, uint32_t min, uint32_t span)
{
	uint32_t id = h;

	while (!pol_u32set_add(used, id))
		id = min + (id - min + 1) % span;
	return id;
}

/* ---- identity numbers ------------------------------------------------ */

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                              \
	do {                                                                  \
		v0 += v1, v1 = ROTL64(v1, 13), v1 ^= v0, v0 = ROTL64(v0, 32); \
		v2 += v3, v3 = ROTL64(v3, 16), v3 ^= v2;                      \
		v0 += v3, v3 = ROTL64(v3, 21), v3 ^= v0;                      \
		v2 += v1, v1 = ROTL64(v1, 17), v1 ^= v2, v2 = ROTL64(v2, 32); \
	} while (0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* SipHash-2-4 (Aumasson and Bernstein, 2012), as in the paper's reference. */
uint64_t pol_siphash(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data, *end = in + len - len % 8;
	uint64_t k0 = le64(key), k1 = le64(key + 8), b = (uint64_t)len << 56;
	uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;

	for (; in != end; in += 8) {
		uint64_t m = le64(in);

		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < len % 8; i++)
		b |= (uint64_t)in[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint32_t pol_ident_number(const struct pol_opts *o, const char *canon)
{
	uint64_t h = o->hash ? o->hash(canon) : pol_siphash(o->id_key, canon, strlen(canon));

	return XCNI_ID_MIN_LABELS + (uint32_t)(h % ID_SPAN);
}

void pol_ident_label(const char *canon, char *out)
{
	const size_t size = sizeof(((struct xcni_idlabels *)0)->labels);
	static const uint8_t key[16] = "xcni-idlabel-dg";
	size_t n = strlen(canon);

	memset(out, 0, size);
	if (n < size) {
		memcpy(out, canon, n);
		return;
	}
	/* A digest beside the cut: two long sets sharing their first bytes are
	 * told apart after a restart. */
	memcpy(out, canon, size - 18);
	snprintf(out + size - 18, 18, "#%016llx",
		 (unsigned long long)pol_siphash(key, canon, n));
}

uint32_t pol_idprev_find(const struct pol_opts *o, const char *canon)
{
	char lab[sizeof(((struct xcni_idlabels *)0)->labels)];
	struct pol_idprev k = { .labels = lab };
	const struct pol_idprev *p;

	if (!o->nprev)
		return 0;
	pol_ident_label(canon, lab);
	p = bsearch(&k, o->prev, o->nprev, sizeof(k), pol_cmp_idprev);
	return p && p->id >= XCNI_ID_MIN_LABELS && p->id < XCNI_ID_CIDR_BASE ? p->id : 0;
}

int pol_cmp_meta(const void *a, const void *b)
{
	const struct k8s_meta *x = *(const struct k8s_meta *const *)a;
	const struct k8s_meta *y = *(const struct k8s_meta *const *)b;
	int d = pol_cmp_str(x->ns, y->ns);

	return d ? d : pol_cmp_str(x->name, y->name);
}

const struct nslabels *pol_nsl_find(const struct pol_ctx *x, const char *name)
{
	return x->nsl && name ? hmap_get(x->nsl, hstr(name), (uintptr_t)name) : NULL;
}

bool pol_pod_local(const struct pol_opts *o, const struct k8s_pod *p)
{
	return !o->node_name || (p->node_name && !strcmp(p->node_name, o->node_name));
}

/* A pod of xcni's with an address and an identity: not the node's own
 * network, and not finished (k8s_pod_finished: its address may be another's). */
bool pol_pod_managed(const struct k8s_pod *p)
{
	return !p->host_network && !k8s_pod_finished(p);
}

uint32_t pol_polkey6(const uint8_t ip6[16])
{
	uint32_t k = (uint32_t)ip6[13] << 16 | (uint32_t)ip6[14] << 8 | ip6[15];

	/* 0 means "no pod" to the programs: 0.255.255.255 stands in (and
	 * collides, reported, only with an address ending in ff:ffff). */
	return htonl(k ? k : 0x00ffffff);
}

/*
 * The 32-bit address a pod's policy and ipcache entries are keyed by: its
 * IPv4, or for an IPv6-only pod of this node its policy key (pol_polkey6);
 * 0 for an IPv6-only pod elsewhere (its node keys it) and a pod with none.
 */
uint32_t pol_pod_addr(const struct k8s_pod *p, bool local)
{
	if (p->ip)
		return p->ip;
	return local && p->has_ip6 ? pol_polkey6(p->ip6) : 0;
}

/* ---- addresses claimed twice ------------------------------------------ */

/* A pod's address key, worked out once (pod_addr asks the node's name). */
struct addr_ix {
	uint32_t addr; /* host order: sorted numerically */
	uint32_t i; /* index in x->pods */
};

static int cmp_addr_ix(const void *a, const void *b)
{
	const struct addr_ix *x = a, *y = b;

	if (x->addr != y->addr)
		return (x->addr > y->addr) - (x->addr < y->addr);
	return (x->i > y->i) - (x->i < y->i);
}

/* A Running pod (or one whose phase nobody wrote: a manifest) over a Pending one. */
static int phase_rank(enum k8s_pod_phase ph)
{
	return ph == K8S_POD_RUNNING || ph == K8S_POD_PHASE_UNSET ? 2 : 1;
}

/*
 * The owner of a contested address, of pods[a] and pods[b] (a before b in
 * name order): Running over Pending, then the newer (creationTimestamp), then
 * the first by namespace and name. True when b wins. Every node decides the
 * same from the same view.
 */
static bool contest_beats(const struct k8s_pod *b, const struct k8s_pod *a)
{
	if (phase_rank(b->phase) != phase_rank(a->phase))
		return phase_rank(b->phase) > phase_rank(a->phase);
	return b->created > a->created;
}

/*
 * Does p, being deleted, yield an address it shares with live to live?
 * Only a pod being deleted to a live one (neither finished: pol_pod_managed
 * is asked first) of the same named node. Why that is safe to trust: on one
 * node the address comes from that node's host-local, which hands it out
 * again only after the old sandbox's CNI DEL; while the old pod still runs
 * out its grace period (deletionTimestamp is set when that starts) its
 * address is still leased, so no live pod of its node can honestly have it.
 * Both claims are then status.podIP written by that node's kubelet (the
 * Node authorizer lets a kubelet write its own node's pods' status only),
 * which holds the node's leases and data path anyway; whoever else may
 * write pods/status could already close any address. A tenant cannot take
 * an address with it: a claimant on another node, or with no node, still
 * contests (closed, named), so setting spec.nodeName elsewhere gains
 * nothing; hostNetwork and finished pods claim nothing; and only the pod
 * being deleted gives way, which is its owner's doing. Two live pods, or
 * two deleting ones, contest.
 */
bool pol_pod_yields(const struct k8s_pod *p, const struct k8s_pod *live)
{
	return p->deleting && !live->deleting && p->node_name && p->node_name[0] &&
	       live->node_name && !strcmp(p->node_name, live->node_name);
}

/* Same address, not just the same key: a polkey6 (pol_pod_addr) is only
 * the low 24 bits of an IPv6-only pod's address. */
static bool same_claim(const struct k8s_pod *a, const struct k8s_pod *b)
{
	if (a->ip || b->ip)
		return a->ip == b->ip;
	return a->has_ip6 && b->has_ip6 && !memcmp(a->ip6, b->ip6, 16);
}

/* The live pod v[0..n) has that p yields to (pol_pod_yields); NULL: none. */
static const struct k8s_pod *yields_to(const struct pol_ctx *x, const struct addr_ix *v, size_t n,
				       const struct k8s_pod *p)
{
	for (size_t k = 0; k < n; k++) {
		const struct k8s_pod *q = x->pods[v[k].i];

		if (q != p && same_claim(p, q) && pol_pod_yields(p, q))
			return q;
	}
	return NULL;
}

void pol_podname_set(struct xcni_podname *n, const struct k8s_pod *p)
{
	pol_copy_str(n->ns, sizeof(n->ns), p->meta.ns);
	pol_copy_str(n->name, sizeof(n->name), p->meta.name);
	pol_copy_str(n->node, sizeof(n->node), p->node_name);
}

/* The pods of one contested address into r->contested, the owner first. */
static int contest_report(struct pol_ctx *x, const struct addr_ix *v, size_t n, size_t own,
			  size_t *cap)
{
	struct pol_result *r = x->r;

	for (size_t j = 0; j < n; j++) {
		size_t k = j == 0 ? own : j <= own ? j - 1 : j; /* own, then the rest in order */
		const struct k8s_pod *q = x->pods[v[k].i];
		struct pol_contest *c;

		if (xcni_grow(&r->contested, cap, r->ncontested, sizeof(*r->contested)))
			return -ENOMEM;
		c = &r->contested[r->ncontested++];
		memset(c, 0, sizeof(*c));
		c->ip = htonl(v[k].addr);
		c->owner = k == own;
		c->phase = q->phase;
		pol_podname_set(&c->name, q);
	}
	return 0;
}

/*
 * The pods of one address v[0..n) (n > 1) that yield it (pol_yield) into
 * r->yielded, out of the view (drop); the others moved to the front in
 * their order, their count in *left.
 */
static int yield_sort(struct pol_ctx *x, struct addr_ix *v, size_t n, size_t *cap, bool *drop,
		      size_t *left)
{
	struct pol_result *r = x->r;
	size_t keep = 0;

	/* Who yields is decided on the whole group before any is moved. */
	for (size_t k = 0; k < n; k++) {
		const struct k8s_pod *p = x->pods[v[k].i], *to = yields_to(x, v, n, p);
		struct pol_yield *y;

		if (!to)
			continue;
		if (xcni_grow(&r->yielded, cap, r->nyielded, sizeof(*r->yielded)))
			return -ENOMEM;
		y = &r->yielded[r->nyielded++];
		*y = (struct pol_yield){ .ip = htonl(v[k].addr) };
		pol_podname_set(&y->from, p);
		pol_podname_set(&y->to, to);
		drop[v[k].i] = true;
	}
	for (size_t k = 0; k < n; k++)
		if (!drop[v[k].i])
			v[keep++] = v[k];
	*left = keep;
	return 0;
}

int pol_resolve_contested(struct pol_ctx *x)
{
	struct addr_ix *v;
	size_t n = 0, cap = 0, ycap = 0;
	bool *drop;
	int ret = -ENOMEM;

	v = calloc(x->npods ? x->npods : 1, sizeof(*v));
	drop = calloc(x->npods ? x->npods : 1, sizeof(*drop));
	if (!v || !drop)
		goto out;
	for (size_t i = 0; i < x->npods; i++) {
		const struct k8s_pod *p = x->pods[i];
		uint32_t a = pol_pod_managed(p) ? pol_pod_addr(p, pol_pod_local(x->o, p)) : 0;

		if (a)
			v[n++] = (struct addr_ix){ ntohl(a), (uint32_t)i };
	}
	qsort(v, n, sizeof(*v), cmp_addr_ix);
	for (size_t a = 0, b; a < n; a = b) {
		size_t own = 0, left;

		for (b = a + 1; b < n && v[b].addr == v[a].addr; b++)
			;
		if (b - a < 2)
			continue;
		ret = yield_sort(x, v + a, b - a, &ycap, drop, &left);
		if (ret)
			goto out;
		for (size_t k = 1; k < left; k++)
			if (contest_beats(x->pods[v[a + k].i], x->pods[v[a + own].i]))
				own = k;
		if (left > 1 && (ret = contest_report(x, v + a, left, own, &cap)))
			goto out;
	}
	ret = 0;
out:
	free(v);
	free(drop);
	return ret;
}

/* ---- namespaces and identities --------------------------------------- */

/* ---- policy ids and names -------------------------------------------- */

static int cmp_rulename(const void *a, const void *b)
{
	return memcmp(&((const struct pol_rulename *)a)->key, &((const struct pol_rulename *)b)->key,
		      sizeof(struct xcni_rulename_key));
}

/*
 * ClusterNetworkPolicies' rule names and Pass numbers (xcni_shared.h:
 * rulename): Pass rules numbered 1, 2, ... in evaluation order (tier,
 * priority, name, ingress then egress, rule order), 0 past
 * XCNI_POLV_PASS_MAX. The maps keep indexes; people read these.
 */
static int build_rulenames(struct pol_ctx *x)
{
	struct pol_result *r = x->r;
	size_t n = 0, cap = 0;
	unsigned pass = 0;

	x->pass_ref = calloc(x->ncnps + 1, sizeof(*x->pass_ref));
	if (!x->pass_ref)
		return -ENOMEM;
	for (size_t i = 0; i < x->ncnps; i++) {
		const struct k8s_cnp *p = x->cnps[i];

		x->pass_ref[i] = calloc(p->ningress + p->negress + 1, sizeof(**x->pass_ref));
		if (!x->pass_ref[i])
			return -ENOMEM;
		for (size_t k = 0; k < p->ningress + p->negress; k++) {
			bool eg = k >= p->ningress;
			const struct k8s_cnp_rule *ru = eg ? &p->egress[k - p->ningress] :
							     &p->ingress[k];
			struct xcni_rulename v = { .policy_id = x->cnp_id[i],
						   .rule = (uint16_t)(eg ? k - p->ningress : k),
						   .dir = eg ? XCNI_DIR_FROM_POD : XCNI_DIR_TO_POD,
						   .action = (uint8_t)ru->action };

			pol_copy_str(v.name, sizeof(v.name), ru->name);
			if (ru->action == K8S_CNP_PASS && pass < XCNI_POLV_PASS_MAX)
				x->pass_ref[i][k] = (uint16_t)++pass;
			for (int e = 0; e < 2; e++) {
				struct pol_rulename *rn;

				if (e ? !x->pass_ref[i][k] : !ru->name)
					continue;
				if (xcni_grow(&r->rulenames, &cap, n, sizeof(*r->rulenames)))
					return -ENOMEM;
				rn = &r->rulenames[n++];
				memset(rn, 0, sizeof(*rn));
				rn->key = e ? (struct xcni_rulename_key){ 0, x->pass_ref[i][k],
									  XCNI_RULENAME_PASS, 0 } :
					      (struct xcni_rulename_key){ v.policy_id, v.rule,
									  v.dir, 0 };
				rn->val = v;
			}
		}
	}
	r->nrulenames = n;
	if (n)
		qsort(r->rulenames, n, sizeof(*r->rulenames), cmp_rulename);
	return 0;
}

int pol_build_policies(struct pol_ctx *x)
{
	struct pol_result *r = x->r;
	struct pol_u32set used = { 0 };

	x->np_id = calloc(x->nnps ? x->nnps : 1, sizeof(*x->np_id));
	r->policies = calloc(x->nnps + x->ncnps + 1, sizeof(*r->policies));
	if (!x->np_id || !r->policies || pol_u32set_init(&used, x->nnps + x->ncnps)) {
		free(used.v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < x->nnps; i++) {
		const struct k8s_meta *m = &x->nps[i]->meta;
		uint32_t h = pol_policy_hash_raw(x->hash, m->ns, m->name);
		struct pol_name *pn = &r->policies[i];

		x->np_id[i] = pol_probe(&used, h, 1, POLICY_ID_SPAN);
		if (x->np_id[i] != h)
			pr_info("NetworkPolicy %s/%s: id %u taken, using %u\n", m->ns, m->name, h,
				x->np_id[i]);
		pn->id = x->np_id[i];
		pol_copy_str(pn->name.ns, sizeof(pn->name.ns), m->ns);
		pol_copy_str(pn->name.name, sizeof(pn->name.name), m->name);
	}
	/* ClusterNetworkPolicies are cluster-scoped: namespace "" (no NetworkPolicy has it). */
	for (size_t i = 0; i < x->ncnps; i++) {
		const struct k8s_meta *m = &x->cnps[i]->meta;
		uint32_t h = pol_policy_hash_raw(x->hash, "", m->name);
		struct pol_name *pn = &r->policies[x->nnps + i];

		x->cnp_id[i] = pol_probe(&used, h, 1, POLICY_ID_SPAN);
		pn->id = x->cnp_id[i];
		snprintf(pn->name.ns, sizeof(pn->name.ns), XCNI_POLNAME_CNP "%s %u",
			 x->cnps[i]->tier == K8S_CNP_ADMIN ? "Admin" : "Baseline", x->cnps[i]->priority);
		pol_copy_str(pn->name.name, sizeof(pn->name.name), m->name);
	}
	r->npolicies = x->nnps + x->ncnps;
	qsort(r->policies, r->npolicies, sizeof(*r->policies), pol_cmp_u32);
	free(used.v);
	return build_rulenames(x);
}

/* ---- ipcache and pod names ------------------------------------------- */

int pol_cmp_ipcache(const void *a, const void *b)
{
	return memcmp(&((const struct pol_ipcache *)a)->key, &((const struct pol_ipcache *)b)->key,
		      sizeof(struct xcni_ipcache_key));
}

/*
 * One address's entries, the one kept first: a node's or the gateway's before
 * a pod's (by kind, not number: a contested pod's XCNI_ID_UNMANAGED numbers
 * below XCNI_ID_REMOTE_NODE), then this node over another.
 */
int pol_cmp_ipcache_rank(const void *a, const void *b)
{
	const struct xcni_ipcache_val *x = &((const struct pol_ipcache *)a)->val;
	const struct xcni_ipcache_val *y = &((const struct pol_ipcache *)b)->val;
	int d = pol_cmp_ipcache(a, b);

	if (!d)
		d = (int)(x->flags & XCNI_IPC_POD) - (int)(y->flags & XCNI_IPC_POD);
	return d ? d : (x->identity > y->identity) - (x->identity < y->identity);
}

/* One more ipcache entry (its flags and tunnel 0) in r: 0 or -ENOMEM. */
static int ipcache_add(struct pol_result *r, size_t *cap, uint32_t addr, uint32_t identity)
{
	if (xcni_grow(&r->ipcache, cap, r->nipcache, sizeof(*r->ipcache)))
		return -ENOMEM;
	r->ipcache[r->nipcache++] =
		(struct pol_ipcache){ .key = { .prefixlen = 32, .addr = addr }, .val.identity = identity };
	return 0;
}

int pol_cmp_podname(const void *a, const void *b)
{
	return memcmp(&((const struct pol_podname *)a)->ip, &((const struct pol_podname *)b)->ip,
		      sizeof(uint32_t));
}

/*
 * When a pod claims a node's or the gateway's address (a misconfiguration)
 * the node keeps it: the data plane must not mistake the node for a pod.
 */
int pol_ipcache_node(struct pol_result *r, size_t *cap, const struct pol_opts *o,
		     const struct k8s_node *nd)
{
	bool self = nd && o->node_name && nd->meta.name && !strcmp(nd->meta.name, o->node_name);

	if (!nd) {
		if (o->gateway_ip && ipcache_add(r, cap, o->gateway_ip, XCNI_ID_HOST))
			return -ENOMEM;
		return o->node_ip ? ipcache_add(r, cap, o->node_ip, XCNI_ID_HOST) : 0;
	}
	if (!nd->internal_ip)
		return 0;
	if (ipcache_add(r, cap, nd->internal_ip, self ? XCNI_ID_HOST : XCNI_ID_REMOTE_NODE))
		return -ENOMEM;
	/* Another node's own address is reached through the overlay too, so
	 * its replies to pods come back the way the pods' traffic went. */
	if (!self)
		tunnel_set(&r->ipcache[r->nipcache - 1].val, nd->internal_ip, nd->internal_ip6,
			   o->underlay6);
	return 0;
}

