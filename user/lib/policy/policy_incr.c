// SPDX-License-Identifier: Apache-2.0
/*
 * The policy compiler (policy.h, pol_incr_*, pol_compile): the last result
 * brought up to date from the objects that changed, so a change costs what it
 * touches, not the cluster; the whole compile is the same from nothing
 * (incr_reset).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/policy/policy.h"
#include "lib/policy/policy_int.h"
#include "lib/system/hmap.h"
#include "lib/system/log.h"
#include "lib/system/tunnel.h"
#include "lib/policy/policy_incr_int.h"

/* a and b exchanged. */
#define SWAP(a, b) ({ __typeof__(a) swap_ = (a); (a) = (b); (b) = swap_; })

/* ---- the incremental compiler (policy.h) ------------------------------ */

size_t pol_incr_resets(const struct pol_incr *pi)
{
	return pi->resets;
}

const char *pol_incr_reset_why(const struct pol_incr *pi)
{
	return pi->reset_why;
}

struct pol_incr *pol_incr_new(void)
{
	return calloc(1, sizeof(struct pol_incr));
}

/* No change and no count in d, its arrays kept (and why: said first). */
static void delta_zero(struct pol_delta *d)
{
	*d = (struct pol_delta){ .why = d->why, .ipc_put = d->ipc_put, .ipc_del = d->ipc_del,
				 .id_put = d->id_put, .id_del = d->id_del, .pol_put = d->pol_put,
				 .pol_del = d->pol_del, .pn_put = d->pn_put, .pn_del = d->pn_del };
}

/* Everything but the options and the delta's arrays. */
static void incr_clear(struct pol_incr *pi)
{
	struct hmap *maps[] = { &pi->pods, &pi->nodes, &pi->ipx, &pi->v6, &pi->ents, &pi->canon,
				&pi->nsl, &pi->idpods, &pi->touched, &pi->dirty, &pi->epsel,
				&pi->idmoved, &pi->reach };

	hmap_each(&pi->pods, s)
	{
		struct ipod *p = s->v;

		free(p->key);
		free(p);
	}
	hmap_each(&pi->nodes, s)
	{
		struct inode *n = s->v;

		free(n->name);
		free(n->pods);
		free(n);
	}
	for (int i = 0; i < 3; i++) /* the ipents, the epsels, the identities' pods */
		hmap_each(i == 2 ? &pi->idpods : i ? &pi->epsel : &pi->ents, s)
		{
			if (i == 2)
				free(((struct pol_idpods *)s->v)->v);
			free(s->v);
		}
	hmap_each(&pi->nsl, s)
	{
		struct nslabels *l = s->v;

		k8s_labels_free(&l->labels);
		free((char *)l->name);
		free(l);
	}
	void *v[] = { pi->nodeaddr, pi->nps, pi->np_id, pi->labix };

	for (size_t i = 0; i < ARRAY_SIZE(maps); i++)
		hmap_free(maps[i]);
	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		free(v[i]);
	pol_result_free(&pi->r);
	json_object_clear(pi->docs);
	pi->nodeaddr = NULL, pi->nps = NULL, pi->np_id = NULL, pi->labix = NULL;
	pi->nnodeaddr = pi->nnps = pi->nlabix = pi->nipc = pi->npn = 0;
	pi->valid = false;
}

static void clash_drop(struct pol_incr *pi);

void pol_incr_free(struct pol_incr *pi)
{
	if (!pi)
		return;
	struct pol_delta *d = &pi->d;
	void *v[] = { d->ipc_put, d->ipc_del, d->id_put, d->id_del, d->pol_put, d->pol_del,
		      d->pn_put, d->pn_del, pi->clash, pi->moved, pi->node_name, pi };

	incr_clear(pi);
	clash_drop(pi);
	k8s_free(pi->subj);
	pol_incr_prev_free(pi);
	json_decref(pi->docs);
	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		free(v[i]);
}

static struct inode *inode_get(struct pol_incr *pi, const char *name)
{
	uint64_t h = hstr(name);
	struct inode *n = hmap_get(&pi->nodes, h, (uintptr_t)name);

	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name)) || hmap_put(&pi->nodes, h, (uintptr_t)n->name, n)) {
		free(n ? n->name : NULL);
		free(n);
		return NULL;
	}
	return n;
}

/* A node no pod names and no Node object describes is forgotten. */
static void inode_gc(struct pol_incr *pi, struct inode *n)
{
	if (n->n || n->exists)
		return;
	hmap_del(&pi->nodes, hstr(n->name), (uintptr_t)n->name);
	free(n->name);
	free(n->pods);
	free(n);
}

static void inode_remove(struct pol_incr *pi, struct ipod *p)
{
	struct inode *n = p->node;

	if (!n)
		return;
	n->pods[p->nslot] = n->pods[--n->n];
	n->pods[p->nslot]->nslot = p->nslot;
	p->node = NULL;
	inode_gc(pi, n);
}

static int touch(struct pol_incr *pi, uint32_t ip)
{
	return hmap_put(&pi->touched, hu32(ip), UKEY(ip), NULL);
}

/* The node addresses, as pol_build_ipcache ranks them: the lowest identity wins. */
static int nodeaddr_build(const struct pol_incr *pi, const struct cluster *c, struct nodeaddr **out,
			  size_t *nout)
{
	struct pol_result tmp = { 0 };
	size_t cap = 0, n = 0;
	int ret = 0;

	for (size_t i = 0; !ret && i <= c->n[K8S_NODE]; i++)
		ret = pol_ipcache_node(&tmp, &cap, &pi->o, i ? &c->objs[K8S_NODE][i - 1]->node : NULL);
	if (!ret && tmp.nipcache)
		qsort(tmp.ipcache, tmp.nipcache, sizeof(*tmp.ipcache), pol_cmp_ipcache_rank);
	struct nodeaddr *v = ret ? NULL : calloc(tmp.nipcache ? tmp.nipcache : 1, sizeof(*v));

	for (size_t i = 0; v && i < tmp.nipcache; i++)
		if (!n || v[n - 1].ip != tmp.ipcache[i].key.addr)
			v[n++] = (struct nodeaddr){ tmp.ipcache[i].key.addr, tmp.ipcache[i].val };
	free(tmp.ipcache);
	*out = v;
	*nout = n;
	return v ? 0 : -ENOMEM;
}

static int cmp_nodeaddr(const void *a, const void *b)
{
	return memcmp(&((const struct nodeaddr *)a)->ip, &((const struct nodeaddr *)b)->ip,
		      sizeof(uint32_t));
}

static const struct nodeaddr *nodeaddr_find(const struct nodeaddr *v, size_t n, uint32_t ip)
{
	const struct nodeaddr k = { .ip = ip };

	return n ? bsearch(&k, v, n, sizeof(*v), cmp_nodeaddr) : NULL;
}

/* A managed pod with an IPv6 is one pol_v6_build lists. */
static int v6_add(struct pol_incr *pi, struct ipod *ip)
{
	if (!pol_pod_managed(ip->pod) || !ip->pod->has_ip6)
		return 0;
	pi->d.v6_changed = true;
	memcpy(ip->ip6, ip->pod->ip6, 16);
	return hmap_put(&pi->v6, hstr(ip->key), (uintptr_t)ip->key, ip);
}

/* The tiered pods' patch decides these addresses again (cnp_patch_init). */
static int moved_add(struct pol_incr *pi, uint32_t ip, const uint8_t *ip6)
{
	if (pi->replay) /* from nothing: nothing to patch */
		return 0;
	if (xcni_grow(&pi->moved, &pi->capmoved, pi->nmoved + 1, sizeof(*pi->moved)))
		return -ENOMEM;
	pi->moved[pi->nmoved++] = xcni_prefix_host(ip, NULL);
	pi->moved[pi->nmoved++] = xcni_prefix_host(0, ip6);
	return 0;
}

uint32_t pol_incr_pod_id(const struct pol_incr *pi, const char *ns, const char *name)
{
	struct ipod *ip;

	return pol_incr_ipod(pi, ns, name, &ip) || !ip ? 0 : ip->id;
}

static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static int cmp_ipc6(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xcni_ipcache6_key));
}

/* One address's entries, a Node's first (kept), as pol_cmp_ipcache_rank. */
static int cmp_ipc6_rank(const void *a, const void *b)
{
	const struct pol_ipc6 *x = a, *y = b;
	int d = cmp_ipc6(a, b);

	return d ? d : (int)(x->val.flags & XCNI_IPC_POD) - (int)(y->val.flags & XCNI_IPC_POD);
}

static int cmp_ipod_name(const void *a, const void *b)
{
	const struct k8s_pod *x = (*(const struct ipod *const *)a)->pod;
	const struct k8s_pod *y = (*(const struct ipod *const *)b)->pod;
	int d = pol_cmp_str(x->meta.ns, y->meta.ns);

	return d ? d : pol_cmp_str(x->meta.name, y->meta.name);
}

/* A pod with an IPv6 and its place in pol_v6_build's list. */
struct v6_at {
	const struct k8s_pod *pod;
	size_t i;
};

static int cmp_v6_at(const void *a, const void *b)
{
	const struct v6_at *x = a, *y = b;
	int d = memcmp(x->pod->ip6, y->pod->ip6, 16);

	return d ? d : (x->i > y->i) - (x->i < y->i);
}

/*
 * Which pods of v[0..m) yield their IPv6 to a live pod of their node
 * (pol_pod_yields, as an IPv4 is yielded): marked in out[].
 */
static int v6_yields(const struct ipod *const *v, size_t m, bool *out, size_t *nyielded)
{
	struct v6_at *w = calloc(m ? m : 1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < m; i++)
		w[i] = (struct v6_at){ v[i]->pod, i };
	qsort(w, m, sizeof(*w), cmp_v6_at);
	for (size_t a = 0, b; a < m; a = b) {
		for (b = a + 1; b < m && !memcmp(w[a].pod->ip6, w[b].pod->ip6, 16); b++)
			;
		for (size_t i = a; b - a > 1 && i < b; i++)
			for (size_t j = a; j < b && !out[w[i].i]; j++)
				if (j != i && pol_pod_yields(w[i].pod, w[j].pod)) {
					out[w[i].i] = true;
					++*nyielded;
				}
	}
	free(w);
	return 0;
}

/*
 * From the index of pods with an IPv6, not the view: a walk of every pod of
 * the cluster on each generation was most of the agent's CPU in churn at 100k
 * pods (one cache miss per pod), with no IPv6 among them. An address two
 * pods claim is closed whichever is listed first; of two local pods' keys on
 * one address (dual-stack: keyed by their device, not by polkey6) one is kept.
 */
int pol_v6_build(const struct pol_incr *pi, const struct cluster *c, struct pol_v6 *out)
{
	static const uint8_t none[16];
	size_t n = pi->v6.n, m = 0, nn = c->n[K8S_NODE];
	const struct ipod **v;
	bool *yield;

	memset(out, 0, sizeof(*out));
	out->ipc = calloc(n + nn ? n + nn : 1, sizeof(*out->ipc));
	out->keys = calloc(n ? n : 1, sizeof(*out->keys));
	v = calloc(n ? n : 1, sizeof(*v));
	yield = calloc(n ? n : 1, sizeof(*yield));
	hmap_each(&pi->v6, s)
		if (v && m < n)
			v[m++] = s->v;
	if (v)
		qsort(v, m, sizeof(*v), cmp_ipod_name);
	if (!out->ipc || !out->keys || !v || !yield || v6_yields(v, m, yield, &out->nyielded)) {
		free(v);
		free(yield);
		pol_v6_free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m; i++) {
		const struct ipod *ip = v[i];
		const struct k8s_pod *p = ip->pod;
		struct pol_ipc6 *e;

		/* Being deleted, its address a live pod's of its node: no
		 * entry, no key (the live pod's is the one kept). */
		if (yield[i])
			continue;
		e = &out->ipc[out->nipc++];

		e->key.prefixlen = 128;
		memcpy(e->key.addr, p->ip6, 16);
		e->val.identity = ip->id && !ip->contested ? ip->id : XCNI_ID_UNMANAGED;
		e->val.flags = XCNI_IPC_POD;
		e->ns = p->meta.ns;
		/* Another node's pod: reached through Geneve to that node's
		 * underlay IPv4, and only it may send from this address. */
		if (!ip->local && ip->node)
			tunnel_set(&e->val, ip->node->ip, ip->node->ip6,
				   pi->o.underlay6 || pi->o.same_fam);
		if (ip->local) {
			struct pol_key6 *k = &out->keys[out->nkeys++];

			memcpy(k->addr.addr, p->ip6, 16);
			k->key = pol_pod_addr(p, true);
			k->ns = p->meta.ns;
		}
	}
	free(v);
	free(yield);
	/*
	 * An IPv6 address two live pods claim (an IPv6-only cluster's IPAM bug, a
	 * dual-stack pair whose IPv4s differ): closed like a contested IPv4
	 * (XCNI_ID_UNMANAGED), whoever sorts first; the pods' IPv4 untouched. An
	 * IPv6-only pod of this node is contested by its policy key already.
	 */
	qsort(out->ipc, out->nipc, sizeof(*out->ipc), cmp_ipc6);
	for (size_t a = 0, b; a < out->nipc; a = b) {
		for (b = a + 1; b < out->nipc && !cmp_ipc6(&out->ipc[a], &out->ipc[b]); b++)
			;
		if (b - a < 2)
			continue;
		out->ncontested++;
		for (size_t i = a; i < b; i++)
			out->ipc[i].val.identity = XCNI_ID_UNMANAGED;
	}
	/* The Nodes' IPv6 InternalIPs, as the IPv4 ones: this node is the host,
	 * the others remote nodes behind their underlay IPv4. */
	for (size_t i = 0; i < nn; i++) {
		const struct k8s_node *nd = &c->objs[K8S_NODE][i]->node;
		bool self = pi->o.node_name && nd->meta.name &&
			    !strcmp(nd->meta.name, pi->o.node_name);
		struct pol_ipc6 *e;

		if (!memcmp(nd->internal_ip6, none, 16))
			continue;
		e = &out->ipc[out->nipc++];
		e->key.prefixlen = 128;
		memcpy(e->key.addr, nd->internal_ip6, 16);
		e->val.identity = self ? XCNI_ID_HOST : XCNI_ID_REMOTE_NODE;
		if (!self)
			tunnel_set(&e->val, nd->internal_ip, nd->internal_ip6,
				   pi->o.underlay6 || pi->o.same_fam);
	}
	/* One entry per address: a Node's over a pod's. */
	out->nipc = pol_sort_dedup(out->ipc, out->nipc, sizeof(*out->ipc), cmp_ipc6_rank,
				   sizeof(struct xcni_ipcache6_key));
	out->nkeys = pol_sort_dedup(out->keys, out->nkeys, sizeof(*out->keys), cmp16, 0);
	return 0;
}

void pol_v6_free(struct pol_v6 *v)
{
	free(v->ipc);
	free(v->keys);
	memset(v, 0, sizeof(*v));
}

static void podname_of(const struct ipod *p, struct pol_podname *pn)
{
	memset(pn, 0, sizeof(*pn)); /* whole bytes: they are digested and written */
	pn->ip = p->ip;
	pol_podname_set(&pn->name, p->pod);
}

static uint64_t podname_digest(const struct xcni_podname *n)
{
	return xcni_fnv64(XCNI_FNV64_BASIS, n, sizeof(*n));
}

/* p indexed by name (its other fields the caller's); NULL: out of memory. */
static struct ipod *ipod_new(struct pol_incr *pi, const struct k8s_pod *p)
{
	struct ipod *ip = calloc(1, sizeof(*ip));

	if (!ip || !(ip->key = pol_incr_pod_key(p->meta.ns, p->meta.name)) ||
	    hmap_put(&pi->pods, hstr(ip->key), (uintptr_t)ip->key, ip)) {
		free(ip ? ip->key : NULL);
		free(ip);
		return NULL;
	}
	ip->pod = p;
	ip->local = pol_pod_local(&pi->o, p);
	for (size_t i = 0; i < p->nports; i++) /* as peers' named ports read them, in any order */
		ip->ports += xcni_fnv64(xcni_fnv64_str(XCNI_FNV64_BASIS, p->ports[i].name ?: ""),
					&(uint32_t){ p->ports[i].port | (uint32_t)p->ports[i].proto << 16 }, 4);
	return ip;
}

/* ip listed on its node. 0 or -ENOMEM. */
static int ipod_on_node(struct pol_incr *pi, struct ipod *ip)
{
	struct inode *n = ip->pod->node_name ? inode_get(pi, ip->pod->node_name) : NULL;

	if (!ip->pod->node_name)
		return 0;
	if (!n || xcni_grow(&n->pods, &n->cap, n->n, sizeof(*n->pods)))
		return -ENOMEM;
	ip->node = n;
	ip->nslot = n->n;
	n->pods[n->n++] = ip;
	return 0;
}

static int incr_apply(struct pol_incr *pi, const struct cluster *c, const struct store_change *ch,
		      size_t nch);
static int incr_whole(struct pol_incr *pi);
static int nsl_set(struct pol_incr *pi, const struct cluster *c, const char *name);

/*
 * Everything from nothing: the first compile, --resync, a fallback. Every
 * object is a change of the empty state (incr_apply, as the whole Service
 * list is svc_incr from nothing; who owns an address two pods claim is settled as in
 * any update, claims_settle), once the Namespaces' labels are read (before
 * any label set is numbered). Numbers start from the allocation pi->prev
 * (pol_incr_idents_born).
 */
static int incr_reset(struct pol_incr *pi, const struct cluster *c, struct k8s_error *err)
{
	static const enum k8s_kind kinds[] = { K8S_POD, K8S_NODE, K8S_NETWORKPOLICY,
					       K8S_CLUSTERNETPOL };
	size_t n = 0, nch = 1, npods = c->n[K8S_POD];
	struct store_change *ch;
	int ret = -ENOMEM;

	incr_clear(pi);
	pi->resets++;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++)
		nch += c->n[kinds[k]];
	ch = calloc(nch, sizeof(*ch));
	if (!ch || hmap_init(&pi->pods, true, npods) ||
	    hmap_init(&pi->nodes, true, c->n[K8S_NODE]) || hmap_init(&pi->ipx, false, npods) ||
	    hmap_init(&pi->v6, true, 16) || hmap_init(&pi->ents, false, npods) ||
	    hmap_init(&pi->canon, true, 16) || hmap_init(&pi->nsl, true, c->n[K8S_NAMESPACE]) ||
	    hmap_init(&pi->idpods, false, 16) ||
	    hmap_init(&pi->touched, false, 16) || hmap_init(&pi->dirty, false, 16) ||
	    hmap_init(&pi->epsel, false, 16) || hmap_init(&pi->idmoved, false, 16) ||
	    hmap_init(&pi->reach, false, 16))
		goto out;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++)
		for (size_t i = 0; i < c->n[kinds[k]]; i++)
			ch[n++] = (struct store_change){ kinds[k], c->objs[kinds[k]][i]->meta.ns,
							 c->objs[kinds[k]][i]->meta.name };
	for (size_t i = 0; i < c->n[K8S_NAMESPACE]; i++)
		if (nsl_set(pi, c, c->objs[K8S_NAMESPACE][i]->meta.name) < 0)
			goto out;
	pi->audit_any = cnp_any_audit(c);
	pi->valid = pi->replay = true;
	ret = incr_apply(pi, c, ch, n);
	pi->replay = false;
	/* Every address was touched: each update would clear a table that size. */
	hmap_free(&pi->touched);
	if (!ret && hmap_init(&pi->touched, false, 16))
		ret = -ENOMEM;
	if (!ret)
		ret = incr_whole(pi);
out:
	free(ch);
	if (ret) {
		if (ret == -ENOMEM)
			pol_set_err(err, "out of memory compiling policy");
		incr_clear(pi);
		return ret;
	}
	/* The allocation is the result's now; kept (above) if it failed. */
	pol_incr_prev_free(pi);
	/* A full result: no delta. */
	delta_zero(&pi->d);
	for (size_t i = 0; i < pi->r.neps; i++)
		pi->r.eps[i].changed = false;
	pi->d.full = true;
	return 0;
}

/* ---- one update ---- */

static int pod_unlink(struct pol_incr *pi, struct ipod *p)
{
	bool v6 = hmap_del(&pi->v6, hstr(p->key), (uintptr_t)p->key);
	int ret = moved_add(pi, p->ip, v6 ? p->ip6 : NULL) ?:
		  hmap_put(&pi->idmoved, hu32(p->id), UKEY(p->id), pi);

	if (p->id) {
		struct identity *id = pol_identity_find(&pi->r, p->id);

		if (id)
			id->npods--;
	}
	if (p->ip && hmap_get(&pi->ipx, hu32(p->ip), UKEY(p->ip)) == p) {
		hmap_del(&pi->ipx, hu32(p->ip), UKEY(p->ip));
		touch(pi, p->ip);
		if (p->local)
			pol_incr_dirty_ep(pi, p->ip);
	}
	inode_remove(pi, p);
	pol_incr_idpods_set(pi, p, true);
	pi->d.v6_changed |= v6;
	hmap_del(&pi->pods, hstr(p->key), (uintptr_t)p->key);
	free(p->key);
	free(p);
	return ret;
}

static int ipx_add(struct pol_incr *pi, struct ipod *ip, uint32_t a)
{
	ip->ip = a;
	if (hmap_put(&pi->ipx, hu32(a), UKEY(a), ip) || touch(pi, a) ||
	    (ip->local && pol_incr_dirty_ep(pi, a)))
		return -ENOMEM;
	return 0;
}

static void clash_drop(struct pol_incr *pi)
{
	for (size_t i = 0; i < pi->nclash; i++)
		free(pi->clash[i]);
	pi->nclash = 0;
}

/* Pods of this batch that found their address taken: is it free now? */
static int clashes_settle(struct pol_incr *pi)
{
	int ret = 0;

	for (size_t i = 0; i < pi->nclash; i++) {
		struct ipod *ip = hmap_get(&pi->pods, hstr(pi->clash[i]), (uintptr_t)pi->clash[i]);

		uint32_t a = ip ? pol_pod_addr(ip->pod, ip->local) : 0;

		if (ret || !ip || ip->ip || !pol_pod_managed(ip->pod) || !a)
			continue; /* gone, or changed again and placed */
		/* claims_settle left one claimant placed per address: not reached. */
		ret = hmap_has(&pi->ipx, hu32(a), UKEY(a)) ? -EEXIST : ipx_add(pi, ip, a);
	}
	clash_drop(pi);
	return ret;
}

/* canon: p's canonical string (idents_born's, taken over) or NULL. */
static int pod_link(struct pol_incr *pi, const struct k8s_pod *p, char *canon)
{
	struct ipod *ip = ipod_new(pi, p);
	int ret = -ENOMEM, role;

	if (!ip) {
		free(canon);
		return -ENOMEM;
	}
	/* It owns an address other live pods claim (claims_settle): closed. */
	ip->contested = pol_incr_claim_of(pi, p->meta.ns, p->meta.name, &role) && role == 1;
	if (pol_pod_managed(p) && p->meta.ns) {
		const struct nslabels *l = canon ? NULL : pol_incr_nsl(pi, p->meta.ns);
		void *id;

		if (!canon && (!l || !(canon = pol_canon_string(&p->meta.labels, &l->labels))))
			return -ENOMEM;
		/* Every new set was numbered first (idents_born). */
		id = hmap_get(&pi->canon, hstr(canon), (uintptr_t)canon);
		free(canon);
		if (!id)
			return -EINVAL; /* idents_born numbers every one: not reached */
		ip->id = (uint32_t)(uintptr_t)id;
		pol_identity_find(&pi->r, ip->id)->npods++;
		if (pol_incr_idpods_set(pi, ip, false))
			return -ENOMEM;
		/* From nothing no pod has a last result to patch. */
		if (!pi->replay && hmap_put(&pi->idmoved, hu32(ip->id), UKEY(ip->id), pi))
			return -ENOMEM;
	} else {
		free(canon);
	}
	uint32_t a = pol_pod_addr(p, ip->local);

	if (v6_add(pi, ip) ||
	    (pol_pod_managed(p) && moved_add(pi, p->ip, p->has_ip6 ? p->ip6 : NULL)))
		return -ENOMEM;
	if (pol_pod_managed(p) && a) {
		/* Another pod has the address: maybe one deleted further on in this
		 * batch (a new pod reusing an old one's address); seen at the end. */
		if (hmap_has(&pi->ipx, hu32(a), UKEY(a))) {
			char *k = strdup(ip->key);

			if (!k ||
			    xcni_grow(&pi->clash, &pi->capclash, pi->nclash, sizeof(*pi->clash))) {
				free(k);
				return -ENOMEM;
			}
			pi->clash[pi->nclash++] = k;
		} else if ((ret = ipx_add(pi, ip, a))) {
			return ret;
		}
	}
	return ipod_on_node(pi, ip);
}

/* Is address a (network order) recorded as contested or yielded? */
static bool claim_recorded(const struct pol_incr *pi, uint32_t a)
{
	for (size_t i = 0; i < pi->r.ncontested; i++)
		if (pi->r.contested[i].ip == a)
			return true;
	for (size_t i = 0; i < pi->r.nyielded; i++)
		if (pi->r.yielded[i].ip == a)
			return true;
	return false;
}

/* The address a managed pod of the view claims (pol_pod_addr); 0: none. */
static uint32_t claim_now(const struct pol_incr *pi, const struct k8s_object *o)
{
	return o && pol_pod_managed(&o->pod) ? pol_pod_addr(&o->pod, pol_pod_local(&pi->o, &o->pod)) :
					       0;
}

/* The view's pod a record names. */
static const struct k8s_object *view_pod(const struct cluster *c, const struct xcni_podname *n)
{
	return pol_incr_view_find(c, K8S_POD, n->ns, n->name);
}

/* o (NULL: none) one of x's pods if it claims an address of hit. */
static int claimant_add(const struct pol_incr *pi, struct pol_ctx *x, size_t *cap,
			const struct hmap *hit, const struct k8s_object *o)
{
	uint32_t a = claim_now(pi, o);

	if (!a || !hmap_has(hit, hu32(a), UKEY(a)))
		return 0;
	if (xcni_grow(&x->pods, cap, x->npods, sizeof(*x->pods)))
		return -ENOMEM;
	x->pods[x->npods++] = &o->pod;
	return 0;
}

/* Records v[0..*n) of size sz (an address, network order, first) without
 * those whose address is in m, then add[0..na) (sorted the same) merged in
 * by address. 0 or -ENOMEM. */
static int claims_merge(void **v, size_t *n, size_t sz, const struct hmap *m, const void *add,
			size_t na)
{
	unsigned char *w = malloc((*n + na + 1) * sz), *o = *v;
	size_t k = 0, i = 0, j = 0;

	if (!w)
		return -ENOMEM;
	while (i < *n || j < na) {
		uint32_t x = 0, y = 0;

		if (i < *n) {
			memcpy(&x, o + i * sz, 4);
			if (hmap_has(m, hu32(x), UKEY(x))) {
				i++;
				continue;
			}
		}
		if (j < na)
			memcpy(&y, (const unsigned char *)add + j * sz, 4);
		if (i < *n && (j == na || ntohl(x) <= ntohl(y)))
			memcpy(w + k++ * sz, o + i++ * sz, sz);
		else
			memcpy(w + k++ * sz, (const unsigned char *)add + j++ * sz, sz);
	}
	free(*v);
	*v = w;
	*n = k;
	return 0;
}

/*
 * Who holds an address two or more live pods claim, settled again where this
 * update can change it: an address a changed pod claims or claimed that is
 * recorded (contested, yielded), held by another pod, or claimed by two
 * changed pods. pol_resolve_contested's one rule runs on those addresses'
 * claimants alone, its records replace theirs, and every claimant is
 * appended to *more as a change: placed again (the owner closed), or
 * unlinked and holding nothing (pol_incr_holds_none); from nothing
 * (incr_reset) that is every address two pods claim. ch may be *more's:
 * it is read before anything is appended.
 */
static int claims_settle(struct pol_incr *pi, const struct cluster *c,
			 const struct store_change *ch, size_t nch, struct store_change **more,
			 size_t *nmore, size_t *cap)
{
	struct hmap fresh = { 0 }, hit = { 0 }; /* address -> its changed claimant; to settle */
	struct pol_ctx x = { .o = &pi->o };
	struct pol_result tmp = { 0 };
	size_t capx = 0;
	int ret = hmap_init(&fresh, false, 16) || hmap_init(&hit, false, 16) ? -ENOMEM : 0;

	for (size_t i = 0; !ret && i < nch; i++) {
		const struct k8s_object *o, *prev;
		const struct ipod *holder;
		struct ipod *old;
		uint32_t oa, na;
		int role;

		if (ch[i].kind != K8S_POD)
			continue;
		if ((ret = pol_incr_ipod(pi, ch[i].ns, ch[i].name, &old)))
			break;
		o = pol_incr_view_find(c, K8S_POD, ch[i].ns, ch[i].name);
		oa = old ? old->ip : pol_incr_claim_of(pi, ch[i].ns, ch[i].name, &role);
		na = claim_now(pi, o);
		holder = na ? hmap_get(&pi->ipx, hu32(na), UKEY(na)) : NULL;
		prev = na ? hmap_get(&fresh, hu32(na), UKEY(na)) : NULL;
		if (oa && claim_recorded(pi, oa))
			ret = hmap_put(&hit, hu32(oa), UKEY(oa), NULL);
		if (!na || ret)
			continue;
		if (claim_recorded(pi, na) || (holder && holder != old) || (prev && prev != o))
			ret = hmap_put(&hit, hu32(na), UKEY(na), NULL);
		else
			ret = hmap_put(&fresh, hu32(na), UKEY(na), (void *)o);
	}
	hmap_free(&fresh);
	if (ret || !hit.n)
		goto out;
	/* Their claimants now: the changed pods', the holders', the recorded ones'. */
	for (size_t i = 0; !ret && i < nch; i++)
		if (ch[i].kind == K8S_POD)
			ret = claimant_add(pi, &x, &capx, &hit,
					   pol_incr_view_find(c, K8S_POD, ch[i].ns, ch[i].name));
	for (size_t i = 0; !ret && i < pi->r.ncontested; i++)
		ret = claimant_add(pi, &x, &capx, &hit, view_pod(c, &pi->r.contested[i].name));
	for (size_t i = 0; !ret && i < pi->r.nyielded; i++)
		ret = claimant_add(pi, &x, &capx, &hit, view_pod(c, &pi->r.yielded[i].from));
	hmap_each(&hit, s)
	{
		const struct ipod *h = hmap_get(&pi->ipx, hu32((uint32_t)s->k), s->k);
		struct xcni_podname nm = { 0 };
		const char *sl = h ? strchr(h->key, '/') : NULL;

		if (ret || !sl || (size_t)(sl - h->key) >= sizeof(nm.ns))
			continue;
		memcpy(nm.ns, h->key, (size_t)(sl - h->key));
		pol_copy_str(nm.name, sizeof(nm.name), sl + 1);
		ret = claimant_add(pi, &x, &capx, &hit, view_pod(c, &nm));
	}
	if (ret)
		goto out;
	x.npods = pol_sort_dedup(x.pods, x.npods, sizeof(*x.pods), pol_cmp_meta, 0); /* each once */
	for (size_t i = 0; !ret && i < x.npods; i++) {
		if (xcni_grow(more, cap, *nmore, sizeof(**more)))
			ret = -ENOMEM;
		else
			(*more)[(*nmore)++] = (struct store_change){ K8S_POD, x.pods[i]->meta.ns,
								     x.pods[i]->meta.name };
	}
	x.r = &tmp;
	if (!ret)
		ret = pol_resolve_contested(&x);
	if (!ret)
		ret = claims_merge((void **)&pi->r.contested, &pi->r.ncontested,
				   sizeof(*tmp.contested), &hit, tmp.contested, tmp.ncontested) ?:
		      claims_merge((void **)&pi->r.yielded, &pi->r.nyielded, sizeof(*tmp.yielded),
				   &hit, tmp.yielded, tmp.nyielded);
out:
	free(tmp.contested);
	free(tmp.yielded);
	x.r = NULL;
	pol_ctx_free(&x);
	hmap_free(&hit);
	return ret;
}

/*
 * A Namespace came, changed or went. Of the NetworkPolicy compile only
 * identities read its labels (each of its pods' label sets holds them, and
 * namespaceSelectors match identities), and only its local pods' own compile
 * reads its audit mode. So its pods are followed as if each had changed
 * (appended to *more, names borrowed from the view): their label sets are
 * born again under the new labels and the old ones die, which gives the
 * peers selecting the namespace after the change the new identities' entries
 * (eps_add_born) and takes the old ones' from those selecting it before
 * (eps_drop_dead); its local pods are compiled again. Nothing else is
 * (a whole compile here was a tenant's CPU denial of every agent).
 * A Namespace whose labels and audit mode stay costs a comparison.
 */
/* Namespace name's labels and audit mode as the view has them: 1 if they changed, 0, -ENOMEM. */
static int nsl_set(struct pol_incr *pi, const struct cluster *c, const char *name)
{
	const struct k8s_object *o = pol_incr_view_find(c, K8S_NAMESPACE, NULL, name);
	const struct k8s_labels none = { 0 };
	bool audit = o && o->meta.audit;
	struct k8s_labels now;
	struct nslabels *l;

	/* The name label always there (the API server sets it; a hand-made object may not). */
	if (pol_labels_copy(&now, o ? &o->meta.labels : &none, NS_NAME_LABEL, name))
		return -ENOMEM;
	l = (struct nslabels *)pol_incr_nsl(pi, name);
	if (!l) {
		k8s_labels_free(&now);
		return -ENOMEM;
	}
	if (l->audit == audit && k8s_labels_equal(&l->labels, &now)) {
		k8s_labels_free(&now);
		return 0;
	}
	/* In place: identities point at l->name. */
	k8s_labels_free(&l->labels);
	l->labels = now;
	l->audit = audit;
	return 1;
}

static int ns_changed(struct pol_incr *pi, const struct cluster *c, const char *name,
		      struct store_change **more, size_t *nmore, size_t *cap)
{
	int ret = nsl_set(pi, c, name);

	if (ret <= 0)
		return ret;
	for (size_t i = pol_ns_first((const void *const *)c->objs[K8S_POD], c->n[K8S_POD],
				     offsetof(struct k8s_object, meta), name);
	     i < c->n[K8S_POD] && !pol_cmp_str(c->objs[K8S_POD][i]->meta.ns, name); i++) {
		const struct k8s_meta *m = &c->objs[K8S_POD][i]->meta;
		struct ipod *p;

		/* Its local pods' own compile reads its audit mode: compiled, though written quietly. */
		if (pol_incr_ipod(pi, m->ns, m->name, &p) ||
		    (p && p->local && p->ip && pol_incr_dirty_ep(pi, p->ip)) ||
		    xcni_grow(more, cap, *nmore, sizeof(**more)))
			return -ENOMEM;
		(*more)[(*nmore)++] = (struct store_change){ K8S_POD, m->ns, m->name };
		pi->d.nns_pods++;
	}
	return 0;
}

/*
 * A pod written again is unlinked and linked. What another pod's policy reads of it (a peer's
 * decision, a named port's resolution) is its identity (labels, its Namespace's), addresses,
 * ports and whether it is closed: with none of those changed (a status heartbeat) it moved
 * nothing (pi->idmoved and pi->moved as they were before it; npods_quiet), so neither a named
 * rule (pol_incr_np_named) nor a tiered pod's patch decides it again. A local pod so written
 * keeps its entries too (its own compile reads no more of it, and its Namespace's audit mode
 * marks it in ns_changed), unless something of this update marked it before (its Namespace, its
 * earlier write in the batch) or it came to this node: its new index takes the last one's
 * tiers (cnps, audited), its entry the new object.
 */
static int pod_changed(struct pol_incr *pi, const struct cluster *c, const struct store_change *ch,
		       char *canon)
{
	const struct k8s_object *o = pol_incr_view_find(c, K8S_POD, ch->ns, ch->name);
	struct ipod *old, *now, was = { 0 };
	size_t nmoved = pi->nmoved;
	bool had = false, v6 = false, dirty = false;
	int ret = pol_incr_ipod(pi, ch->ns, ch->name, &old);

	if (!ret && old) {
		was = *old;
		had = hmap_has(&pi->idmoved, hu32(was.id), UKEY(was.id));
		dirty = hmap_has(&pi->dirty, hu32(was.ip), UKEY(was.ip));
		v6 = hmap_has(&pi->v6, hstr(was.key), (uintptr_t)was.key);
		ret = pod_unlink(pi, old);
	}
	/* Gone, or another pod holds what it claims (claims_settle). */
	if (ret || !o || pol_incr_holds_none(pi, ch->ns, ch->name)) {
		free(canon);
		return ret;
	}
	ret = pod_link(pi, &o->pod, canon) ?: pol_incr_ipod(pi, ch->ns, ch->name, &now);
	if (!ret && old && now && was.id == now->id && was.ip == now->ip && (now->ip || !o->pod.ip) &&
	    was.contested == now->contested && was.ports == now->ports &&
	    v6 == hmap_has(&pi->v6, hstr(now->key), (uintptr_t)now->key) &&
	    (!v6 || !memcmp(was.ip6, now->ip6, 16))) {
		pi->nmoved = nmoved;
		if (!had)
			hmap_del(&pi->idmoved, hu32(was.id), UKEY(was.id));
		pi->d.npods_quiet++;
		struct pol_ep *ep = was.local && now->local && !dirty && pi->r.neps ?
			bsearch(&now->ip, pi->r.eps, pi->r.neps, sizeof(*ep), pol_cmp_ep) : NULL;

		if (ep) {
			hmap_del(&pi->dirty, hu32(now->ip), UKEY(now->ip));
			now->cnps = was.cnps, now->audited = was.audited;
			ep->pod = now->pod;
		}
	}
	return ret;
}

/* A Node's labels as the tiers' node peers read them, in any order. */
static uint64_t labels_digest(const struct k8s_labels *l)
{
	uint64_t d = 0;

	for (size_t i = 0; i < l->n; i++)
		d += xcni_fnv64_str(xcni_fnv64(xcni_fnv64_str(XCNI_FNV64_BASIS, l->v[i].key), "=", 1),
				    l->v[i].value);
	return d;
}

/*
 * A Node reaches what policy reads of it: its InternalIPs (the ipcache, its
 * pods' tunnel endpoint, the IPv6 maps, the tiers' node and network peers)
 * and its labels (the tiers' node peers). A change of neither (its status's
 * heartbeat, conditions, annotations) reaches nothing.
 */
static int node_changed(struct pol_incr *pi, const struct cluster *c, const char *name)
{
	static const uint8_t none[16];
	const struct k8s_object *o = pol_incr_view_find(c, K8S_NODE, NULL, name);
	struct inode *n = inode_get(pi, name);
	const uint8_t *ip6 = o ? o->node.internal_ip6 : none;
	uint32_t ip = o ? o->node.internal_ip : 0;
	uint64_t lab = o ? labels_digest(&o->meta.labels) : 0;

	if (!n)
		return -ENOMEM;
	if (n->exists == (o != NULL) && n->ip == ip && !memcmp(ip6, n->ip6, 16) && n->lab == lab)
		return 0;
	pi->nodes_changed = true;
	pi->d.v6_changed = true;
	/* The tiered pods' patch decides its addresses, old and new, again. */
	if (moved_add(pi, n->ip, n->ip6) || moved_add(pi, ip, ip6))
		return -ENOMEM;
	n->exists = o != NULL;
	n->lab = lab;
	if (ip != n->ip || memcmp(ip6, n->ip6, 16)) {
		n->ip = ip;
		memcpy(n->ip6, ip6, 16);
		/* Its pods' tunnel endpoint. */
		for (size_t i = 0; i < n->n; i++)
			if (n->pods[i]->ip && touch(pi, n->pods[i]->ip))
				return -ENOMEM;
	}
	inode_gc(pi, n);
	return 0;
}

/* New node addresses: the ones that differ are touched. */
static int nodes_resync(struct pol_incr *pi, const struct cluster *c)
{
	struct nodeaddr *v;
	size_t n, i = 0, j = 0;

	if (nodeaddr_build(pi, c, &v, &n))
		return -ENOMEM;
	while (i < n || j < pi->nnodeaddr) {
		const struct nodeaddr *a = i < n ? &v[i] : NULL;
		const struct nodeaddr *b = j < pi->nnodeaddr ? &pi->nodeaddr[j] : NULL;
		int d = !a ? 1 : !b ? -1 : memcmp(&a->ip, &b->ip, sizeof(a->ip));

		if (d || memcmp(&a->val, &b->val, sizeof(a->val)))
			if (touch(pi, d <= 0 ? a->ip : b->ip)) {
				free(v);
				return -ENOMEM;
			}
		i += d <= 0, j += d >= 0;
	}
	free(pi->nodeaddr);
	pi->nodeaddr = v;
	pi->nnodeaddr = n;
	return 0;
}

/* What the result says for one touched address, against what it said before. */
static int ent_update(struct pol_incr *pi, uint32_t a)
{
	const struct nodeaddr *na = nodeaddr_find(pi->nodeaddr, pi->nnodeaddr, a);
	const struct ipod *p = hmap_get(&pi->ipx, hu32(a), UKEY(a));
	struct ipent *e = hmap_get(&pi->ents, hu32(a), UKEY(a));
	struct ipent want = { 0 };
	struct pol_podname pn;
	char ip[INET_ADDRSTRLEN];

	if (na) {
		want.ipc = true;
		want.val = na->val;
		if (p && (!e || !e->pn))
			pr_warn("%s: a node or gateway address and a pod's: kept as identity %u\n",
				inet_ntop(AF_INET, &a, ip, sizeof(ip)), na->val.identity);
	} else if (p) {
		want.ipc = true;
		want.val.identity = p->contested ? XCNI_ID_UNMANAGED : p->id;
		want.val.flags = XCNI_IPC_POD;
		if (!p->local && p->node)
			tunnel_set(&want.val, p->node->ip, p->node->ip6, pi->o.underlay6);
	}
	if (p) {
		podname_of(p, &pn);
		want.pn = true;
		want.pnd = podname_digest(&pn.name);
	}
	if (!e) {
		if (!want.ipc && !want.pn)
			return 0;
		e = calloc(1, sizeof(*e));
		if (!e || hmap_put(&pi->ents, hu32(a), UKEY(a), e)) {
			free(e);
			return -ENOMEM;
		}
	}
	if (want.ipc && (!e->ipc || memcmp(&e->val, &want.val, sizeof(want.val)))) {
		struct pol_ipcache pc = { .key = { .prefixlen = 32, .addr = a }, .val = want.val };

		if (DPUSH(pi, ipc_put, pc))
			return -ENOMEM;
	} else if (!want.ipc && e->ipc) {
		struct xcni_ipcache_key k = { .prefixlen = 32, .addr = a };

		if (DPUSH(pi, ipc_del, k))
			return -ENOMEM;
	}
	if (want.pn && (!e->pn || e->pnd != want.pnd)) {
		if (DPUSH(pi, pn_put, pn))
			return -ENOMEM;
	} else if (!want.pn && e->pn) {
		if (DPUSH(pi, pn_del, a))
			return -ENOMEM;
	}
	pi->nipc += (size_t)want.ipc - (size_t)e->ipc;
	pi->npn += (size_t)want.pn - (size_t)e->pn;
	if (!want.ipc && !want.pn) {
		free(hmap_del(&pi->ents, hu32(a), UKEY(a)));
		return 0;
	}
	*e = want;
	return 0;
}

/*
 * The local pods a policies' change reaches: with all, every one the tiers are laid over; those
 * the ClusterNetworkPolicies whose name bits are in cnps, or the NetworkPolicies whose bits are
 * in nps, selected before (ipod.cnps, pol_ep.npbits) or select now ([0]: every one changed, the
 * tiered pods patched per peer; [1]: those compiled whole, pol_changed). A NetworkPolicy's rules
 * and isolation enter the entries of the pods it selects only, so it reaches no other. A pod not
 * reached keeps the births' index of the policies selecting it (pi->epsel): the same policies,
 * each at its number's index now (was_id: the numbers by index before); a number gone reaches it.
 */
static int sel_dirty(struct pol_incr *pi, const struct cluster *c, const uint64_t *cnps,
		     const uint64_t *nps, bool all, const uint32_t *was_id)
{
	const struct pol_ctx x = { .nps = pi->nps, .nnps = pi->nnps };
	struct hmap at; /* a NetworkPolicy's number -> 1 + its index now */
	int ret = hmap_init(&at, false, pi->nnps + 1);

	for (size_t k = 0; !ret && k < pi->nnps; k++)
		ret = hmap_put(&at, hu32(pi->np_id[k]), UKEY(pi->np_id[k]), (void *)(k + 1));
	for (size_t i = 0; !ret && i < pi->r.neps; i++) {
		const struct pol_ep *ep = &pi->r.eps[i];
		const struct ipod *p = hmap_get(&pi->ipx, hu32(ep->ip), UKEY(ep->ip));
		bool hit = p && ((all && p->audited) || (p->cnps & cnps[1]));
		bool np = p && (ep->npbits & nps[1]);
		bool patch = p && ((p->cnps & cnps[0]) || (ep->npbits & nps[0]));
		const struct nslabels *l = NULL;
		struct epsel *sel;

		if (p && (cnps[0] || pi->subj) && !(l = pol_incr_nsl(pi, p->pod->meta.ns)) &&
		    (ret = -ENOMEM))
			break;
		for (size_t k = 0; l && !hit && k < c->n[K8S_CLUSTERNETPOL]; k++) {
			const struct k8s_cnp *cp = &c->objs[K8S_CLUSTERNETPOL][k]->cnp;

			patch |= (POL_CNP_BIT(cp->meta.name) & cnps[0]) &&
				 pol_cnp_selects(cp, p->pod, &l->labels);
			hit = patch && (POL_CNP_BIT(cp->meta.name) & cnps[1]);
		}
		/* A subject alone changed: a pod entering or leaving it. */
		if (l && !patch && pi->subj) {
			const struct k8s_object *now = pol_incr_view_find(
				c, K8S_CLUSTERNETPOL, pi->subj->meta.ns, pi->subj->meta.name);

			patch = !now || pol_cnp_selects(&pi->subj->cnp, p->pod, &l->labels) !=
						pol_cnp_selects(&now->cnp, p->pod, &l->labels);
		}
		for (int in = 0; p && nps[1] && !np && in < 2; in++)
			for (size_t k = pol_np_next(&x, p->pod, in, 0); !np && k < x.nnps;
			     k = pol_np_next(&x, p->pod, in, k + 1))
				np = POL_NP_BIT(x.nps[k]->meta.ns, x.nps[k]->meta.name) & nps[1];
		sel = !p || hit || np ? NULL : hmap_get(&pi->epsel, hu32(ep->ip), UKEY(ep->ip));
		for (size_t k = 0; sel && !np && k < sel->n; k++) {
			uintptr_t now = (uintptr_t)hmap_get(&at, hu32(was_id[sel->np[k]]),
							    UKEY(was_id[sel->np[k]]));

			np = !now;
			sel->np[k] = (uint32_t)(now - 1);
		}
		pi->d.neps_np += np || (ep->npbits & nps[0]);
		if (hit || np || (patch && (!p->audited || p->contested)))
			ret = pol_incr_dirty_ep(pi, ep->ip);
		else if (patch && !hmap_has(&pi->dirty, hu32(ep->ip), UKEY(ep->ip)))
			ret = hmap_put(&pi->dirty, hu32(ep->ip), UKEY(ep->ip), EP_PATCH);
	}
	hmap_free(&at);
	return ret;
}

/*
 * The policies' numbers and names again, NetworkPolicies' and
 * ClusterNetworkPolicies' (cnps, nps: the name bits of those changed, sel_dirty's). A changed
 * policy reaches the local pods it selected or selects, as does a NetworkPolicy
 * whose number moved (a collision: nps[1], whole); a ClusterNetworkPolicy whose number moved or
 * a Pass rule renumbered (the rule names changed) reaches every pod the tiers are
 * laid over, as does audit mode coming to or leaving the tiers.
 */
static int policies_resync(struct pol_incr *pi, const struct cluster *c, const uint64_t *cnps,
			   uint64_t *nps)
{
	struct pol_result tmp = { 0 };
	struct pol_ctx x = { .o = &pi->o,
			     .hash = pi->o.hash ? pi->o.hash : pol_fnv1a,
			     .r = &tmp };
	size_t i = 0, j = 0;
	bool moved = false;
	int ret;

	x.nnps = c->n[K8S_NETWORKPOLICY];
	x.nps = calloc(x.nnps ? x.nnps : 1, sizeof(*x.nps));
	ret = !x.nps || cnp_ctx_init(&x, c) ? -ENOMEM : 0;
	for (size_t k = 0; !ret && k < x.nnps; k++)
		x.nps[k] = &c->objs[K8S_NETWORKPOLICY][k]->np;
	pol_sort_unless_sorted(x.nps, ret ? 0 : x.nnps, sizeof(*x.nps), pol_cmp_meta);
	ret = ret ?: pol_build_policies(&x);
	while (!ret && (i < tmp.npolicies || j < pi->r.npolicies)) {
		const struct pol_name *a = i < tmp.npolicies ? &tmp.policies[i] : NULL;
		const struct pol_name *b = j < pi->r.npolicies ? &pi->r.policies[j] : NULL;
		int d = !a ? 1 : !b ? -1 : (a->id > b->id) - (a->id < b->id);
		bool put = d < 0 || (!d && memcmp(&a->name, &b->name, sizeof(a->name)));

		if (put)
			ret = DPUSH(pi, pol_put, *a);
		else if (d > 0)
			ret = DPUSH(pi, pol_del, b->id);
		/* The names put or deleted: the policy now (a), before (b). */
		for (int k = 0; (put || d > 0) && k < 2; k++) {
			const struct pol_name *n = k ? (d >= 0 ? b : NULL) : (d <= 0 ? a : NULL);

			if (n && !strncmp(n->name.ns, XCNI_POLNAME_CNP, strlen(XCNI_POLNAME_CNP)))
				moved |= !(POL_CNP_BIT(n->name.name) & cnps[0]);
			else if (n)
				nps[1] |= POL_NP_BIT(n->name.ns, n->name.name);
		}
		i += d <= 0, j += d >= 0;
	}
	/* Rule names changed: the maps diffed whole; a Pass number another rule's now (the entries
	 * carry it): every tiered pod. A policy made or gone numbering its own reaches its pods. */
	pi->names_whole = tmp.nrulenames != pi->r.nrulenames;
	for (size_t a = 0, b = 0; a < tmp.nrulenames && b < pi->r.nrulenames;) {
		const struct pol_rulename *u = &tmp.rulenames[a], *v = &pi->r.rulenames[b];
		int d = memcmp(&u->key, &v->key, sizeof(u->key));
		bool chg = d || memcmp(&u->val, &v->val, sizeof(u->val));

		pi->names_whole |= chg;
		moved |= chg && !d && !u->key.policy_id;
		a += d <= 0, b += d >= 0;
	}
	if (!ret) {
		moved |= x.cnp_audit_any != pi->cnp_audit_any;
		pi->cnp_audit_any = x.cnp_audit_any;
		pi->nnps = x.nnps, pi->r.npolicies = tmp.npolicies, pi->r.nrulenames = tmp.nrulenames;
		/* pi's new, x and tmp the old to free: x.np_id what pi->epsel's indexes name */
		SWAP(pi->nps, x.nps), SWAP(pi->np_id, x.np_id);
		SWAP(pi->r.policies, tmp.policies), SWAP(pi->r.rulenames, tmp.rulenames);
		pi->named_egress = false;
		for (size_t k = 0; k < pi->nnps; k++)
			pi->named_egress |= pol_incr_np_named(NULL, pi->nps[k]);
		ret = sel_dirty(pi, c, cnps, nps, moved, x.np_id);
	}
	free(tmp.policies);
	free(tmp.rulenames);
	pol_ctx_free(&x);
	return ret;
}

/*
 * A policy changed: where each change a patch follows (pol_rules_reach), the pods it selects
 * (bits[0], its name bit; its subject alone, one an update: those entering or leaving it,
 * pi->subj) are patched per peer, the peers a changed rule selects decided again (pi->reach);
 * else compiled whole (bits[1]). Its document is kept for its next change.
 */
static int pol_changed(struct pol_incr *pi, const struct cluster *c, const struct store_change *ch,
		       uint64_t *bits)
{
	const struct k8s_object *now = pol_incr_view_find(c, ch->kind, ch->ns, ch->name);
	char *key = pol_incr_pod_key(ch->ns, ch->name);
	json_t *was = key ? json_object_get(pi->docs, key) : NULL;
	/* From nothing (pi->replay) every pod is compiled whole: nothing to reach. */
	int ret = !key ? -ENOMEM : pi->replay || (!now && !was) ? 0 :
		  pol_rules_reach(was, now, &pi->r, &pi->reach, &pi->subj);
	uint64_t bit = ch->kind == K8S_CLUSTERNETPOL ? POL_CNP_BIT(ch->name) :
						       POL_NP_BIT(ch->ns, ch->name);

	bits[0] |= ret == 2 ? 0 : bit;
	bits[1] |= ret > 0 ? 0 : bit;
	if (ret >= 0 && !pi->docs && !(pi->docs = json_object()))
		ret = -ENOMEM;
	/* No document: an object made in code, its next change whole. */
	if (ret >= 0)
		ret = now && now->raw ? (json_object_set(pi->docs, key, now->raw) ? -ENOMEM : 0) :
					(json_object_del(pi->docs, key), 0);
	free(key);
	return ret;
}

/* 0 or -errno. */
static int incr_apply(struct pol_incr *pi, const struct cluster *c, const struct store_change *ch,
		      size_t nch)
{
	struct store_change *more = NULL; /* ch, then Namespaces' pods and claimants */
	size_t nmore = 0, capmore = 0;
	/* the name bits of the policies changed (POL_*_BIT), ClusterNetworkPolicies' and
	 * NetworkPolicies': all, those whose pods are compiled whole (not patched: pol_changed) */
	uint64_t cnps[2] = { 0 }, nps[2] = { 0 };
	char **canons;
	int ret = 0;

	hmap_clear(&pi->touched);
	hmap_clear(&pi->dirty);
	hmap_clear(&pi->idmoved);
	hmap_clear(&pi->reach);
	k8s_free(pi->subj);
	pi->subj = NULL;
	clash_drop(pi); /* of an update that started over half way */
	for (size_t i = 0; i < pi->r.neps; i++)
		pi->r.eps[i].changed = false;
	pi->ids_changed = false;
	pi->nmoved = 0;
	/* From nothing (incr_reset): the policies and node addresses are new too. */
	pi->pols_changed = pi->nodes_changed = pi->replay;
	pi->names_whole = false;
	/* A tiered or audited pod's entries depend on every pod's and node's
	 * address (policy_cnp.c): only the local pods they are laid over are
	 * compiled again on every change (ipod.audited, pol_incr_eps_resync), so
	 * a ClusterNetworkPolicy or one audited object does not make the whole
	 * cluster's changes whole compiles; a ClusterNetworkPolicy's own change
	 * compiles again the local pods it selected or selects (policies_resync). */
	pi->tiers = c->n[K8S_CLUSTERNETPOL] > 0;
	/* Audit is in a NetworkPolicy's or a Namespace's annotation: looked
	 * for again only when one of those changed; scanning every object on
	 * every pod event showed in the churn profile. */
	for (size_t i = 0; i < nch; i++)
		if (ch[i].kind == K8S_NETWORKPOLICY || ch[i].kind == K8S_NAMESPACE) {
			pi->audit_any = cnp_any_audit(c);
			break;
		}
	if (xcni_grow(&more, &capmore, nch, sizeof(*more)))
		return -ENOMEM;
	for (size_t i = 0; i < nch; i++)
		more[nmore++] = ch[i];
	/* A Namespace's pods follow it, before any label set is numbered. */
	for (size_t i = 0; !ret && i < nch; i++)
		if (ch[i].kind == K8S_NAMESPACE)
			ret = ns_changed(pi, c, ch[i].name, &more, &nmore, &capmore);
	/* Who holds an address two pods claim: settled before any is numbered. */
	if (!ret)
		ret = claims_settle(pi, c, more, nmore, &more, &nmore, &capmore);
	ch = more;
	nch = nmore;
	canons = ret ? NULL : calloc(nch ? nch : 1, sizeof(*canons));
	if (!canons) {
		free(more);
		return ret ? ret : -ENOMEM;
	}
	ret = pol_incr_idents_born(pi, c, ch, nch, canons);
	for (size_t i = 0; !ret && i < nch; i++) {
		switch (ch[i].kind) {
		case K8S_NODE:
			ret = node_changed(pi, c, ch[i].name);
			break;
		case K8S_NETWORKPOLICY:
		case K8S_CLUSTERNETPOL:
			ret = pol_changed(pi, c, &ch[i], ch[i].kind == K8S_CLUSTERNETPOL ? cnps : nps);
			break;
		case K8S_POD:
			ret = pod_changed(pi, c, &ch[i], canons[i]);
			canons[i] = NULL;
			break;
		default:
			break; /* Services, EndpointSlices: not policy's */
		}
	}
	for (size_t i = 0; i < nch; i++)
		free(canons[i]);
	free(canons);
	free(more);
	if (!ret)
		ret = clashes_settle(pi);
	if (!ret)
		ret = pol_incr_idents_gc(pi);
	if (!ret && pi->nodes_changed)
		ret = nodes_resync(pi, c);
	hmap_each(&pi->touched, s)
	{
		if (ret)
			break;
		ret = ent_update(pi, (uint32_t)s->k);
	}
	if (!ret && (pi->pols_changed || nps[0] || cnps[0] || pi->subj))
		ret = policies_resync(pi, c, cnps, nps);
	if (!ret)
		ret = pol_incr_eps_resync(pi, c);
	return ret;
}

/* The ipcache and podnames arrays, sorted, from the indexes. */
static int incr_whole(struct pol_incr *pi)
{
	struct pol_result *r = &pi->r;
	size_t n = 0, m = 0;

	r->ipcache = calloc(pi->nipc + 1, sizeof(*r->ipcache));
	r->podnames = calloc(pi->npn + 1, sizeof(*r->podnames));
	if (!r->ipcache || !r->podnames)
		return -ENOMEM;
	hmap_each(&pi->ents, s)
	{
		const struct ipent *e = s->v;

		if (e->ipc && n < pi->nipc) {
			r->ipcache[n].key.prefixlen = 32;
			r->ipcache[n].key.addr = (uint32_t)s->k;
			r->ipcache[n++].val = e->val;
		}
	}
	r->ipcache[n].key.prefixlen = 0;
	r->ipcache[n].key.addr = 0;
	r->ipcache[n++].val = (struct xcni_ipcache_val){ .identity = XCNI_ID_WORLD };
	qsort(r->ipcache, n, sizeof(*r->ipcache), pol_cmp_ipcache);
	r->nipcache = n;
	hmap_each(&pi->ipx, s)
		if (m < pi->npn)
			podname_of(s->v, &r->podnames[m++]);
	qsort(r->podnames, m, sizeof(*r->podnames), pol_cmp_podname);
	r->npodnames = m;
	return 0;
}

int pol_incr_update(struct pol_incr *pi, const struct cluster *c, const struct pol_opts *o,
		    const struct store_change *ch, size_t nch, bool all, bool whole,
		    const struct pol_result **r, const struct pol_delta **d, struct k8s_error *err)
{
	struct pol_delta *dl = &pi->d;
	int ret;

	if (err)
		err->msg[0] = '\0';
	dl->why = NULL;
	if (pol_cmp_str(o->node_name, pi->node_name) || o->node_ip != pi->o.node_ip ||
	    o->gateway_ip != pi->o.gateway_ip || o->hash != pi->o.hash ||
	    memcmp(o->id_key, pi->o.id_key, sizeof(o->id_key))) {
		char *nn = o->node_name ? strdup(o->node_name) : NULL;

		if (o->node_name && !nn)
			return -ENOMEM;
		free(pi->node_name);
		pi->node_name = nn;
		pi->o = *o;
		pi->o.node_name = nn;
		pi->o.prev = NULL; /* its own (pol_incr_seed, prev_keep) */
		pi->o.nprev = 0;
		all = true;
		if (pi->valid)
			dl->why = "this node's options changed";
	}
	free(pi->r.ipcache);
	free(pi->r.podnames);
	pi->r.ipcache = NULL;
	pi->r.podnames = NULL;
	delta_zero(dl);
	ret = pi->valid && !all ? incr_apply(pi, c, ch, nch) : 1;
	/* Not a delta: what follows starts from the last result's allocation. */
	if (ret && pi->valid) {
		int e = pol_incr_prev_keep(pi);

		ret = e ? e : ret;
	}
	if (ret == 1 && !dl->why)
		dl->why = !pi->valid ? "first compile, or after a failure" :
			  all	     ? "the store lost track of its changes: a new list, or the journal overflowed" :
				       "unknown";
	if (ret == 1) { /* incr_apply did not run: the counts are still 0 */
		pi->reset_why = dl->why;
		ret = incr_reset(pi, c, err);
	} else if (!ret && (whole || pi->names_whole)) {
		ret = incr_whole(pi);
		dl->full = true;
		dl->why = whole ? "the writer asked for every map whole" :
				  "ClusterNetworkPolicy rule names changed: the maps diffed whole";
	}
	if (ret && ret != -EINVAL && err && !err->msg[0])
		pol_set_err(err, "compiling policy: %s", strerror(-ret));
	if (ret)
		incr_clear(pi);
	else if (!dl->full) {
		pi->r.nipcache = pi->nipc + 1; /* and the world's 0.0.0.0/0 */
		pi->r.npodnames = pi->npn;
	}
	if (dl->full)
		dl->v6_changed = true;
	*r = &pi->r;
	*d = dl;
	return ret;
}

/* The Namespace or a pod of namespace ns in the view: its name, which outlives pi. */
static const char *view_ns_name(const struct cluster *c, const char *ns)
{
	const struct k8s_object *o = pol_incr_view_find(c, K8S_NAMESPACE, NULL, ns);
	size_t i = pol_ns_first((const void *const *)c->objs[K8S_POD], c->n[K8S_POD],
				offsetof(struct k8s_object, meta), ns);

	if (o)
		return o->meta.name;
	return i < c->n[K8S_POD] ? c->objs[K8S_POD][i]->meta.ns : ns;
}

/* The whole compile: the incremental compiler from nothing (incr_reset), its result taken. */
int pol_compile(const struct cluster *c, const struct pol_opts *o, struct pol_result *out,
		struct k8s_error *err)
{
	struct pol_incr *pi = pol_incr_new();
	const struct pol_result *r;
	const struct pol_delta *d;
	int ret = pi ? pol_incr_seed(pi, o->prev, o->nprev) : -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!ret)
		ret = pol_incr_update(pi, c, o, NULL, 0, true, true, &r, &d, err);
	else
		pol_set_err(err, "out of memory compiling policy");
	if (!ret) {
		*out = pi->r;
		memset(&pi->r, 0, sizeof(pi->r));
		for (size_t k = 0; k < out->nidentities; k++)
			out->identities[k].ns = view_ns_name(c, out->identities[k].ns);
	}
	pol_incr_free(pi);
	return ret;
}

