// SPDX-License-Identifier: Apache-2.0
/*
 * The incremental compiler's endpoints: after an update, the local pods whose
 * selecting policies, peers or identities changed are compiled again (the
 * others keep their entries), the entries of identities that died are
 * dropped, and those of identities born are merged into the endpoints that
 * name them as peers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/policy/policy_incr_int.h"

static bool id_dead(const struct pol_delta *d, uint32_t id)
{
	for (size_t i = 0; i < d->nid_del; i++)
		if (d->id_del[i] == id)
			return true;
	return false;
}

/*
 * Identities gone: a local pod's policy loses the entries naming them and
 * nothing else (entries are per peer identity; ports, CIDRs and isolation do
 * not depend on which others exist).
 */
static void eps_drop_dead(struct pol_incr *pi)
{
	const struct pol_delta *d = &pi->d;
	struct pol_result *r = &pi->r;

	for (size_t i = 0; i < r->neps; i++) {
		struct pol_ep *ep = &r->eps[i];
		size_t u = 0;

		for (size_t j = 0; j < ep->nentries; j++)
			if (!id_dead(d, ep->entries[j].key.peer))
				ep->entries[u++] = ep->entries[j];
		ep->changed |= u != ep->nentries;
		ep->nentries = u;
	}
}

/* ep's entries and add's (sorted, no key in both: their peers differ) as one. */
static int ep_merge(struct pol_ep *ep, const struct pol_ep *add)
{
	struct pol_entry *v = malloc((ep->nentries + add->nentries) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	ep->nentries = pol_merge(v, ep->entries, ep->nentries, add->entries, add->nentries, sizeof(*v),
				 pol_cmp_entry_key);
	free(ep->entries);
	ep->entries = v;
	return 0;
}

/*
 * Identities born (a label set new to the cluster): a local pod's policy
 * gains the entries naming them and nothing else, for the reason deaths only
 * take theirs away. Those entries come from the policy peers selecting a new
 * identity, so only the new ones are matched against the pod's policies:
 * pol_compile_ep over a result holding just them, with peers_only. Not for a pod
 * with an egress rule naming a port whose peers hold a new identity (its pods'
 * ports count): dirty already (pol_incr_np_named).
 * The pods to be compiled again anyway (dirty) are left to that.
 * At 100k pods most label events are a birth or a death, and compiling every
 * local pod against every identity for one cost 6-7 ms.
 */
static int eps_add_born(struct pol_incr *pi)
{
	const struct pol_delta *d = &pi->d;
	struct pol_result born = { 0 }, *r = &pi->r;
	struct pol_ctx x = { .o = &pi->o,
			 .hash = pi->o.hash ? pi->o.hash : pol_fnv1a,
			 .r = &born,
			 .nnps = pi->nnps,
			 .nps = pi->nps,
			 .np_id = pi->np_id,
			 .peers_only = true };
	struct epbuild eb = { 0 };
	int ret = -ENOMEM;

	born.identities = calloc(d->nid_put, sizeof(*born.identities));
	if (!born.identities)
		goto out;
	for (size_t i = 0; i < d->nid_put; i++) {
		const struct identity *id = pol_identity_find(r, d->id_put[i].id);

		if (id)
			born.identities[born.nidentities++] = *id; /* borrowed */
	}
	/* By number, as a result's are (the label index looks them up so). */
	qsort(born.identities, born.nidentities, sizeof(*born.identities), pol_cmp_id);
	if (pol_memo_init(&x) || pol_labix_build(&x))
		goto out;
	ret = 0;
	for (size_t i = 0; !ret && i < r->neps; i++) {
		struct pol_ep *ep = &r->eps[i], add = { 0 };
		const struct ipod *p;
		struct epsel *sel;
		bool hit = false;

		if (hmap_has(&pi->dirty, hu32(ep->ip), UKEY(ep->ip)))
			continue;
		p = hmap_get(&pi->ipx, hu32(ep->ip), UKEY(ep->ip));
		if (!p || !p->local) {
			ret = pol_incr_dirty_ep(pi, ep->ip); /* cannot be: a pod gone is dirty */
			continue;
		}
		/* A contested address's owner stays closed, with no entries
		 * (pol_ep_contest): was given the new identities' entries. */
		if (p->contested)
			continue;
		sel = hmap_get(&pi->epsel, hu32(ep->ip), UKEY(ep->ip));
		if (!sel && (!(sel = pol_pod_policies(&x, p->pod)) ||
			     hmap_put(&pi->epsel, hu32(ep->ip), UKEY(ep->ip), sel))) {
			free(sel);
			ret = -ENOMEM;
			break;
		}
		pi->d.neps_born++;
		/* No policy of the pod names a new identity: nothing to add. */
		for (size_t k = 0; k < sel->n && !hit; k++)
			hit = pol_np_peers_match_any(&x, pi->nps[sel->np[k]]);
		if (!hit)
			continue;
		pi->d.neps_born_hit++;
		ret = pol_compile_ep(&x, p->pod, p->id, &eb, &add, NULL);
		if (!ret && add.nentries) {
			ret = ep_merge(ep, &add);
			ep->changed = true;
		}
		pol_ep_set(&add, NULL, 0, NULL, 0);
	}
out:
	pol_epbuild_free(&eb);
	free(born.identities);
	x.nps = NULL; /* pi's */
	x.np_id = NULL;
	x.r = NULL;
	pol_ctx_free(&x);
	return ret;
}

/*
 * Can this update's changed pods move what an egress rule of np naming a port allows? Such a
 * rule gives an identity its pods' ports of that name and a pod in an ipBlock its own: only a
 * pod it selects (no peer: every pod), before or after, moves them; the identities such pods had
 * or have (pi->idmoved, those still held) and their addresses (pi->moved) say which. pi NULL:
 * does an egress rule of np name a port at all (then its pods' policy follows its peers' pods)?
 */
bool pol_incr_np_named(const struct pol_incr *pi, const struct k8s_netpol *np)
{
	for (size_t ri = 0; ri < np->negress; ri++) {
		const struct k8s_np_rule *r = &np->egress[ri];
		bool named = false;

		for (size_t k = 0; k < r->nports; k++)
			named |= r->ports[k].port_name != NULL;
		if (named && (!pi || !r->npeers))
			return true;
		for (size_t i = 0; named && i < r->npeers; i++) {
			const struct k8s_ipblock *b = r->peers[i].ipblock;

			for (size_t k = 0; b && k < pi->nmoved; k++)
				if (xcni_prefix_inside(&pi->moved[k], &b->cidr))
					return true;
			hmap_each(&pi->idmoved, s)
			{
				const struct identity *id = pol_identity_find(&pi->r, (uint32_t)s->k);

				if (!b && id && pol_np_peer_matches(&r->peers[i], np->meta.ns, id))
					return true;
			}
		}
	}
	return false;
}

/*
 * The local pods tiers or audit mode are laid over (ipod.audited): their entries name every
 * pod and node (cnp_apply), so any change of those compiles them again: from their last
 * entries (EP_PATCH), unless they are dirty already (the pod itself, a policy selecting it
 * changed: then whole). On a pod's change, also those a NetworkPolicy's egress rule naming a
 * port isolates, if the pod is among its peers (pol_incr_np_named). A pod written with nothing
 * a peer reads changed (pod_changed: a status write) reaches none of them.
 */
static int eps_dirty_audited(struct pol_incr *pi)
{
	const struct pol_result *r = &pi->r;
	const struct pol_ctx x = { .nps = pi->nps, .nnps = pi->nnps };
	/* A pod moved (pod_changed records its identities; a quiet write none), or a Node. */
	bool pods = pi->idmoved.n, named = pi->named_egress && pods;

	if ((!pi->audit_any && !pi->tiers && !named) || !(pods || pi->nodes_changed || pi->ids_changed))
		return 0;
	for (size_t i = 0; i < r->neps; i++) {
		uint32_t a = r->eps[i].ip;
		const struct ipod *p = hmap_get(&pi->ipx, hu32(a), UKEY(a));
		bool hit = p && p->audited;

		for (size_t k = p && named ? pol_np_next(&x, p->pod, false, 0) : x.nnps;
		     !hit && k < x.nnps; k = pol_np_next(&x, p->pod, false, k + 1))
			pi->d.neps_named += hit = pol_incr_np_named(pi, x.nps[k]);
		if (hit && !hmap_has(&pi->dirty, hu32(a), UKEY(a)) &&
		    hmap_put(&pi->dirty, hu32(a), UKEY(a), p->audited ? EP_PATCH : NULL))
			return -ENOMEM;
	}
	return 0;
}

/*
 * The books follow the identities born and gone before any pod is compiled:
 * which policies select a pod (moves with the pod or a policy selecting it: it
 * is dirty then), the entries of the dead and the born (the pods not compiled
 * again; from nothing there is none), the label index.
 */
static int eps_follow_ids(struct pol_incr *pi)
{
	struct pol_result *r = &pi->r;
	int ret;

	hmap_each(&pi->dirty, s)
		free(hmap_del(&pi->epsel, hu32((uint32_t)s->k), s->k));
	if (pi->d.nid_del)
		eps_drop_dead(pi);
	if (r->neps && pi->d.nid_put && (ret = eps_add_born(pi)))
		return ret;
	/* The label index follows the identities born and gone: hashing and
	 * sorting every identity's labels again after each was ~6% of the agent's
	 * CPU under churn at 100k pods. */
	if (pi->ids_changed && pi->labix &&
	    pol_labix_update(&pi->labix, &pi->nlabix, r, pi->d.id_del, pi->d.nid_del, pi->d.id_put,
			     pi->d.nid_put)) {
		free(pi->labix);
		pi->labix = NULL;
		pi->nlabix = 0;
	}
	return 0;
}

/* What the dirty pods' compile reads: the policies, the tiers' and audit mode's state (with the
 * tiers' numbers), the namespaces' labels, when named egress ports or a pod tiers or audit are
 * laid over need them the nodes, each identity's pods (kept across updates: pi->idpods) and
 * every pod (built on need: pol_ctx_pods), the peer memo, the label index. What an update
 * touches costs it, not every pod again (~60% of a ClusterNetworkPolicy change's compiling one
 * pod at 100,000 pods when rebuilt each time). */
static int ctx_for_dirty(struct pol_incr *pi, const struct cluster *c, struct pol_ctx *x)
{
	bool every_pod = pi->named_egress || pi->tiers;
	struct pol_result tmp = { 0 };

	x->nps = pi->nps;
	x->nnps = pi->nnps;
	if (pi->audit_any || pi->tiers) {
		/* Pods alike (a Deployment's replicas) laid over once. */
		if (cnp_ctx_init(x, c) || !(x->cnp_memo = cnp_memo_new()))
			return -ENOMEM;
		hmap_each(&pi->dirty, s)
		{
			const struct ipod *p = hmap_get(&pi->ipx, hu32((uint32_t)s->k), s->k);

			every_pod = every_pod || (p && p->local && cnp_audited(x, p->pod));
		}
	}
	/* The tiers' numbers and Pass rules' (x->cnp_id, pass_ref): pi's policies again. */
	if (pi->tiers) {
		x->r = &tmp;
		int ret = pol_build_policies(x);

		x->r = &pi->r;
		free(tmp.policies);
		free(tmp.rulenames);
		free(x->np_id);
		x->np_id = NULL;
		if (ret)
			return ret;
	}
	x->np_id = pi->np_id;
	x->npatched = pi->d.neps_patched;
	x->idmoved = &pi->idmoved;
	x->addrs = pi->moved, x->naddrs = pi->nmoved; /* the patch's index, built on need */
	x->reach = &pi->reach;
	x->nsl = &pi->nsl;
	if (every_pod) {
		x->src = pi, x->view = c, x->npods = pi->pods.n, x->nnodes = c->n[K8S_NODE];
		if (!(x->idp = calloc(pi->r.nidentities + 1, sizeof(*x->idp))))
			return -ENOMEM;
		for (size_t k = 0; k < pi->r.nidentities; k++)
			x->idp[k] = hmap_get(&pi->idpods, hu32(pi->r.identities[k].id),
					     UKEY(pi->r.identities[k].id));
	}
	if (pol_memo_init(x))
		return -ENOMEM;
	if (!pi->labix) {
		if (pol_labix_build(x))
			return -ENOMEM;
		pi->labix = x->labix;
		pi->nlabix = x->nlabix;
	}
	x->labix = pi->labix;
	x->nlabix = pi->nlabix;
	return 0;
}

/* The dirty local pods compiled again beside the others' entries kept: r->eps replaced whole,
 * or left as it was on an error. */
static int compile_dirty(struct pol_incr *pi, const struct pol_ctx *x, struct epbuild *eb)
{
	struct pol_result *r = &pi->r;
	struct pol_ep *v = calloc(r->neps + pi->dirty.n + 1, sizeof(*v));
	size_t n = 0;
	int ret = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < r->neps; i++)
		if (!hmap_has(&pi->dirty, hu32(r->eps[i].ip), UKEY(r->eps[i].ip)))
			v[n++] = r->eps[i];
	hmap_each(&pi->dirty, s)
	{
		uint32_t a = (uint32_t)s->k;
		const struct ipod *p = hmap_get(&pi->ipx, hu32(a), UKEY(a));
		const struct pol_ep *old = s->v == EP_PATCH ?
			bsearch(&a, r->eps, r->neps, sizeof(*r->eps), pol_cmp_ep) : NULL;

		if (!p || !p->local)
			continue;
		/* Closed still, nothing of its own changed (EP_PATCH): its last entry. */
		if (old && p->contested && (old->state.isolated & XCNI_POLEP_CONTESTED))
			v[n] = *old, v[n].pod = p->pod;
		else
			ret = pol_compile_ep(x, p->pod, p->id, eb, &v[n], old);
		((struct ipod *)p)->cnps = x->ncnps ? pol_cnp_mask(x, p->pod,
			&pol_nsl_find(x, p->pod->meta.ns)->labels) : 0;
		((struct ipod *)p)->audited = p->cnps || (pi->audit_any && cnp_audited(x, p->pod));
		if (!ret && p->contested)
			pol_ep_contest(&v[n]);
		v[n].changed = true;
		n++;
		pi->d.neps_compiled++;
		if (ret)
			break;
	}
	struct pol_ep *drop = ret ? v : r->eps; /* the compiled go: the new on an error, else the old */

	for (size_t i = 0; i < (ret ? n : r->neps); i++)
		if (hmap_has(&pi->dirty, hu32(drop[i].ip), UKEY(drop[i].ip)))
			pol_ep_set(&drop[i], NULL, 0, NULL, 0);
	free(drop);
	if (ret)
		return ret;
	if (n)
		qsort(v, n, sizeof(*v), pol_cmp_ep);
	r->eps = v;
	r->neps = n;
	return 0;
}

/* Compiles again the local pods that need it; the others keep their policy. */
int pol_incr_eps_resync(struct pol_incr *pi, const struct cluster *c)
{
	struct pol_ctx x = { .o = &pi->o,
			     .hash = pi->o.hash ? pi->o.hash : pol_fnv1a,
			     .r = &pi->r };
	struct epbuild eb = { 0 };
	int ret;

	/* Before births and deaths: an audited pod's are its whole compile's. */
	if (eps_dirty_audited(pi))
		return -ENOMEM;
	if ((ret = eps_follow_ids(pi)))
		return ret;
	if (!pi->dirty.n)
		return 0;
	ret = ctx_for_dirty(pi, c, &x) ?: compile_dirty(pi, &x, &eb);
	pol_epbuild_free(&eb);
	cnp_memo_free(x.cnp_memo);
	x.nps = NULL; /* pi's */
	x.np_id = NULL;
	x.labix = NULL;
	x.r = NULL;
	pol_ctx_free(&x);
	return ret;
}

