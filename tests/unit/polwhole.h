/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The test oracle of the incremental compiler's random histories
 * (test_polincr): the whole-cluster compiler the product had before its
 * first compile became pol_incr_update from an empty state
 * (docs/decisions/policy-one-compiler.md, step 4). It builds every table
 * from the view in one pass (identities by a table of distinct label sets,
 * the ipcache by sorting every pod's and node's entry, each local pod
 * compiled in name order), where the product indexes objects one change at
 * a time: the two walks share only the per-pod compile (pol_compile_ep),
 * the contested-address rule and the policies' numbers, so a delta path
 * that misses what a change reaches fails against it. Tests only.
 */
#ifndef XCNI_TEST_POLWHOLE_H
#define XCNI_TEST_POLWHOLE_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/policy/policy.h"
#include "lib/policy/policy_int.h"
#include "lib/system/log.h"
#include "lib/system/tunnel.h"

/* pw_owner[i]: x->pods[i] owns an address other live pods claim (closed). */
static bool *pw_owner;

/*
 * The view this compile sees: the claimants of an address two pods claim
 * that hold nothing (pol_resolve_contested's records: the owner's rivals, a
 * pod being deleted that yielded) out of x->pods, the owners marked.
 */
static int polwhole_contested(struct pol_ctx *x)
{
	const struct pol_result *r = x->r;
	size_t kept = 0;
	int ret = pol_resolve_contested(x);

	free(pw_owner);
	pw_owner = calloc(x->npods + 1, sizeof(*pw_owner));
	if (ret || !pw_owner)
		return ret ? ret : -ENOMEM;
	for (size_t i = 0; i < x->npods; i++) {
		const struct k8s_pod *p = x->pods[i];
		int role = 0; /* 1: owner, 2: holds nothing */

		for (size_t k = 0; k < r->ncontested; k++)
			if (!pol_cmp_str(r->contested[k].name.ns, p->meta.ns) &&
			    !pol_cmp_str(r->contested[k].name.name, p->meta.name))
				role = r->contested[k].owner ? 1 : 2;
		for (size_t k = 0; k < r->nyielded; k++)
			if (!pol_cmp_str(r->yielded[k].from.ns, p->meta.ns) &&
			    !pol_cmp_str(r->yielded[k].from.name, p->meta.name))
				role = 2;
		if (role == 2)
			continue;
		pw_owner[kept] = role == 1;
		x->pods[kept++] = p;
	}
	x->npods = kept;
	return 0;
}

static inline const struct k8s_node *node_find(const struct pol_ctx *x, const char *name)
{
	struct k8s_meta m = { .name = (char *)name };
	const struct k8s_meta *mp = &m;
	const struct k8s_node *const *n;

	if (!name)
		return NULL;
	n = bsearch(&mp, x->nodes, x->nnodes, sizeof(*x->nodes), pol_cmp_meta);
	return n ? *n : NULL;
}

struct podcanon {
	char *canon;
	size_t pod;
};

static int cmp_podcanon(const void *a, const void *b)
{
	const struct podcanon *x = a, *y = b;
	int d = strcmp(x->canon, y->canon);

	return d ? d : (x->pod > y->pod) - (x->pod < y->pod);
}

/*
 * One identity per distinct canonical label string (policy.h: struct
 * identity): the sets the previous allocation names keep their numbers, the
 * others hash and probe past every number it held, in their strings' sorted
 * order (the same on every node that starts from the same allocation).
 */
/*
 * The distinct label strings of the managed pods into pc[*npc] (each with its
 * first pod), and first[i]: pod i's string's first pod (SIZE_MAX: none).
 * Through a hash table: sorting one string per pod (100k pods, a few hundred
 * label sets) was most of a compile. 0 or -ENOMEM.
 */
static int distinct_label_sets(struct pol_ctx *x, struct podcanon *pc, size_t *npc,
			       size_t *first)
{
	size_t cap, *tab;

	for (cap = 16; cap < 2 * x->npods; cap *= 2)
		;
	tab = malloc(cap * sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	memset(tab, 0xff, cap * sizeof(*tab));
	for (size_t i = 0; i < x->npods; i++) {
		const struct k8s_pod *p = x->pods[i];
		char *canon;
		size_t h;

		first[i] = SIZE_MAX;
		if (!pol_pod_managed(p) || !p->meta.ns)
			continue;
		canon = pol_canon_string(&p->meta.labels, &pol_nsl_find(x, p->meta.ns)->labels);
		if (!canon) {
			free(tab);
			return -ENOMEM;
		}
		for (h = pol_fnv1a(canon) & (cap - 1); tab[h] != SIZE_MAX; h = (h + 1) & (cap - 1))
			if (!strcmp(pc[tab[h]].canon, canon))
				break;
		if (tab[h] != SIZE_MAX) {
			free(canon);
		} else {
			tab[h] = *npc;
			pc[*npc].canon = canon;
			pc[(*npc)++].pod = i; /* the first pod with it: labels are the same for all */
		}
		first[i] = pc[tab[h]].pod;
	}
	free(tab);
	return 0;
}

/*
 * Which numbers are taken before any new set is numbered: *kept, each set's
 * previous number (0: none; a set holding a number is never moved by a
 * newcomer; two sets on one stored label: the first keeps it), and in *used
 * those plus the rest of the previous numbers: their sets are gone, the
 * writer takes their addresses out in this generation; reused in a later one.
 */
static int numbers_taken(struct pol_ctx *x, const struct podcanon *pc, size_t npc,
			 uint32_t *kept, struct pol_u32set *used)
{
	if (pol_u32set_init(used, npc + x->o->nprev))
		return -ENOMEM;
	for (size_t i = 0; i < npc; i++) {
		kept[i] = pol_idprev_find(x->o, pc[i].canon);
		if (kept[i] && !pol_u32set_add(used, kept[i]))
			kept[i] = 0;
	}
	for (size_t i = 0; i < x->o->nprev; i++)
		if (x->o->prev[i].id >= XCNI_ID_MIN_LABELS && x->o->prev[i].id < XCNI_ID_CIDR_BASE)
			pol_u32set_add(used, x->o->prev[i].id);
	return 0;
}

static int polwhole_identities(struct pol_ctx *x)
{
	struct podcanon *pc = calloc(x->npods ? x->npods : 1, sizeof(*pc));
	/* pod -> the first pod with the same string */
	size_t *first = calloc(x->npods ? x->npods : 1, sizeof(*first));
	struct pol_result *r = x->r;
	struct pol_u32set used = { 0 };
	size_t npc = 0;
	uint32_t *kept = NULL; /* per distinct string: its previous number, 0 */
	int ret = -ENOMEM;

	if (!pc || !first || distinct_label_sets(x, pc, &npc, first))
		goto out;
	/* New sets numbered in sorted order of the distinct strings. */
	qsort(pc, npc, sizeof(*pc), cmp_podcanon);
	r->identities = calloc(npc ? npc : 1, sizeof(*r->identities));
	kept = calloc(npc ? npc : 1, sizeof(*kept));
	if (!r->identities || !kept || numbers_taken(x, pc, npc, kept, &used))
		goto out;
	for (size_t i = 0; i < npc; i++) {
		const struct k8s_pod *p = x->pods[pc[i].pod];
		struct identity *id = &r->identities[r->nidentities];
		uint32_t h;

		if (kept[i]) {
			id->id = kept[i];
		} else {
			h = pol_ident_number(x->o, pc[i].canon);
			id->id = pol_probe(&used, h, XCNI_ID_MIN_LABELS, ID_SPAN);
			if (id->id != h)
				pr_info("identity %s: hash %u taken, using %u\n", pc[i].canon, h,
					id->id);
		}
		id->canon = pc[i].canon;
		pc[i].canon = NULL;
		id->ns = p->meta.ns;
		r->nidentities++;
		ret = pol_labels_copy(&id->pod_labels, &p->meta.labels, NULL, NULL);
		if (!ret)
			ret = pol_labels_copy(&id->ns_labels, &pol_nsl_find(x, p->meta.ns)->labels,
					      NULL, NULL);
		if (ret)
			goto out;
		x->pod_id[pc[i].pod] = id->id;
	}
	/* Every pod: the identity of its string's first pod. */
	for (size_t i = 0; i < x->npods; i++)
		if (first[i] != SIZE_MAX)
			x->pod_id[i] = x->pod_id[first[i]];
	qsort(r->identities, r->nidentities, sizeof(*r->identities), pol_cmp_id);
	ret = 0;
out:
	free(used.v);
	free(kept);
	for (size_t i = 0; i < npc; i++)
		free(pc[i].canon);
	free(pc);
	free(first);
	return ret;
}

static int polwhole_ipcache(struct pol_ctx *x, struct k8s_error *err)
{
	const struct pol_opts *o = x->o;
	struct pol_result *r = x->r;
	size_t cap = 0, n = 0;

	r->podnames = calloc(x->npods ? x->npods : 1, sizeof(*r->podnames));
	if (!r->podnames)
		return -ENOMEM;
	for (size_t i = 0; i <= x->nnodes; i++)
		if (pol_ipcache_node(r, &cap, o, i ? x->nodes[i - 1] : NULL))
			return -ENOMEM;
	for (size_t i = 0; i < x->npods; i++) {
		const struct k8s_pod *p = x->pods[i];
		const struct k8s_node *nd = node_find(x, p->node_name);
		struct pol_podname *pn;
		uint32_t a = pol_pod_addr(p, pol_pod_local(x->o, p));

		if (!pol_pod_managed(p) || !a)
			continue;
		/* A contested address: no label set's policy may be judged on it. */
		if (pol_ipcache_add(r, &cap, a, 32,
				    pw_owner[i] ? XCNI_ID_UNMANAGED : x->pod_id[i], 0))
			return -ENOMEM;
		r->ipcache[r->nipcache - 1].val.flags = XCNI_IPC_POD;
		if (!pol_pod_local(x->o, p) && nd)
			tunnel_set(&r->ipcache[r->nipcache - 1].val, nd->internal_ip,
				       nd->internal_ip6, o->underlay6);
		pn = &r->podnames[r->npodnames++];
		pn->ip = a;
		pol_podname_set(&pn->name, p);
	}
	qsort(r->podnames, r->npodnames, sizeof(*r->podnames), pol_cmp_podname);
	for (size_t i = 1; i < r->npodnames; i++) {
		const struct xcni_podname *a = &r->podnames[i - 1].name, *b = &r->podnames[i].name;
		char ip[INET_ADDRSTRLEN];

		if (r->podnames[i].ip != r->podnames[i - 1].ip)
			continue;
		inet_ntop(AF_INET, &r->podnames[i].ip, ip, sizeof(ip));
		pol_set_err(err, "Pod %s/%s: status.podIP: %s is also the address of Pod %s/%s",
			    b->ns, b->name, ip, a->ns, a->name);
		return -EINVAL;
	}
	if (pol_ipcache_add(r, &cap, 0, 0, XCNI_ID_WORLD, 0))
		return -ENOMEM;
	/* A node's or the gateway's entry first (pol_cmp_ipcache_rank): it wins. */
	qsort(r->ipcache, r->nipcache, sizeof(*r->ipcache), pol_cmp_ipcache_rank);
	for (size_t i = 0; i < r->nipcache; i++) {
		if (n && !pol_cmp_ipcache(&r->ipcache[n - 1], &r->ipcache[i])) {
			char ip[INET_ADDRSTRLEN];

			if (!memcmp(&r->ipcache[n - 1].val, &r->ipcache[i].val,
				    sizeof(r->ipcache[i].val)))
				continue; /* the node's own address, told twice */
			inet_ntop(AF_INET, &r->ipcache[i].key.addr, ip, sizeof(ip));
			pr_warn("%s: a node or gateway address and a pod's: kept as identity %u\n",
				ip, r->ipcache[n - 1].val.identity);
			continue;
		}
		r->ipcache[n++] = r->ipcache[i];
	}
	r->nipcache = n;
	return 0;
}

static int polwhole_eps(struct pol_ctx *x)
{
	struct pol_result *r = x->r;
	struct epbuild eb = { 0 };
	int ret = 0;

	r->eps = calloc(x->npods ? x->npods : 1, sizeof(*r->eps));
	if (!r->eps)
		return -ENOMEM;
	/* Tiers: pods alike (a Deployment's replicas) compiled once. */
	if ((x->ncnps || x->nnsaudit || x->np_audit_any) && !(x->cnp_memo = cnp_memo_new()))
		return -ENOMEM;
	for (size_t i = 0; !ret && i < x->npods; i++) {
		const struct k8s_pod *p = x->pods[i];

		if (!pol_pod_managed(p) || !pol_pod_local(x->o, p) || !pol_pod_addr(p, true))
			continue;
		ret = pol_compile_ep(x, p, x->pod_id[i], &eb, &r->eps[r->neps++]);
		if (!ret && pw_owner[i])
			pol_ep_contest(&r->eps[r->neps - 1]);
	}
	qsort(r->eps, r->neps, sizeof(*r->eps), pol_cmp_ep);
	cnp_memo_free(x->cnp_memo);
	x->cnp_memo = NULL;
	pol_epbuild_free(&eb);
	return ret;
}

/* The whole compile (what pol_compile was): 0 or -errno, as pol_compile. */
static int polwhole_compile_ctx(const struct cluster *c, const struct pol_opts *o, struct pol_result *out,
			struct k8s_error *err, struct pol_ctx *x)
{
	int ret = -ENOMEM;

	memset(x, 0, sizeof(*x));
	x->o = o;
	x->hash = o->hash ? o->hash : pol_fnv1a;
	x->r = out;
	memset(out, 0, sizeof(*out));
	if (err)
		err->msg[0] = '\0';
	x->npods = c->n[K8S_POD];
	x->nnodes = c->n[K8S_NODE];
	x->nnps = c->n[K8S_NETWORKPOLICY];
	x->pods = calloc(x->npods ? x->npods : 1, sizeof(*x->pods));
	x->pod_id = calloc(x->npods ? x->npods : 1, sizeof(*x->pod_id));
	x->nodes = calloc(x->nnodes ? x->nnodes : 1, sizeof(*x->nodes));
	x->nps = calloc(x->nnps ? x->nnps : 1, sizeof(*x->nps));
	if (!x->pods || !x->pod_id || !x->nodes || !x->nps)
		goto out;
	for (size_t i = 0; i < x->npods; i++)
		x->pods[i] = &c->objs[K8S_POD][i]->pod;
	for (size_t i = 0; i < x->nnodes; i++)
		x->nodes[i] = &c->objs[K8S_NODE][i]->node;
	for (size_t i = 0; i < x->nnps; i++)
		x->nps[i] = &c->objs[K8S_NETWORKPOLICY][i]->np;
	/* The view is sorted already; checked (one pass), sorted only if not, so
	 * the output does not depend on whoever built the view. */
	pol_sort_unless_sorted(x->pods, x->npods, sizeof(*x->pods), pol_cmp_meta);
	pol_sort_unless_sorted(x->nodes, x->nnodes, sizeof(*x->nodes), pol_cmp_meta);
	pol_sort_unless_sorted(x->nps, x->nnps, sizeof(*x->nps), pol_cmp_meta);

	ret = polwhole_contested(x);
	if (!ret)
		ret = pol_build_nslabels(x, c);
	if (!ret)
		ret = cnp_ctx_init(x, c);
	if (!ret)
		ret = polwhole_identities(x);
	if (!ret)
		ret = pol_build_id_pods(x);
	if (!ret)
		ret = pol_build_policies(x);
	if (!ret)
		ret = polwhole_ipcache(x, err);
	if (!ret)
		ret = pol_memo_init(x);
	if (!ret)
		ret = pol_labix_build(x);
	if (!ret)
		ret = polwhole_eps(x);
out:
	if (ret) {
		if (ret == -ENOMEM)
			pol_set_err(err, "out of memory compiling policy");
		pol_result_free(out);
	}
	return ret;
}

static int polwhole_compile(const struct cluster *c, const struct pol_opts *o, struct pol_result *out,
		struct k8s_error *err)
{
	struct pol_ctx x;
	int ret = polwhole_compile_ctx(c, o, out, err, &x);

	pol_ctx_free(&x);
	free(pw_owner);
	pw_owner = NULL;
	return ret;
}

#endif
