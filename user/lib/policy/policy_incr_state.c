// SPDX-License-Identifier: Apache-2.0
/*
 * The incremental compiler's books that policy_incr.c and policy_incr_eps.c
 * both keep: the endpoints to compile again (dirty), an identity by its
 * number, a pod's "ns/name" key, a namespace's labels, an object of the view,
 * a pod's part in an address two pods claim, each identity's pods and the view's
 * pods for a compile that walks them all.
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
#include "lib/policy/policy_incr_int.h"

int pol_incr_dirty_ep(struct pol_incr *pi, uint32_t ip)
{
	return hmap_put(&pi->dirty, hu32(ip), UKEY(ip), NULL);
}

int pol_incr_ipod(const struct pol_incr *pi, const char *ns, const char *name, struct ipod **out)
{
	char *key = pol_incr_pod_key(ns, name);
	int ret = key ? 0 : -ENOMEM;

	*out = key ? hmap_get(&pi->pods, hstr(key), (uintptr_t)key) : NULL;
	free(key);
	return ret;
}

char *pol_incr_pod_key(const char *ns, const char *name)
{
	size_t ln = strlen(ns ? ns : ""), lm = strlen(name);
	char *k = malloc(ln + lm + 2);

	if (!k)
		return NULL;
	memcpy(k, ns ? ns : "", ln);
	k[ln] = '/';
	memcpy(k + ln + 1, name, lm + 1);
	return k;
}

/* The labels selectors see for namespace ns (a Namespace's, or the default). */
const struct nslabels *pol_incr_nsl(struct pol_incr *pi, const char *ns)
{
	const struct k8s_labels none = { 0 };
	uint64_t h = hstr(ns);
	struct nslabels *l = hmap_get(&pi->nsl, h, (uintptr_t)ns);

	if (l)
		return l;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->name = strdup(ns);
	if (!l->name || pol_labels_copy(&l->labels, &none, NS_NAME_LABEL, ns) ||
	    hmap_put(&pi->nsl, h, (uintptr_t)l->name, l)) {
		k8s_labels_free(&l->labels);
		free((char *)l->name);
		free(l);
		return NULL;
	}
	return l;
}

/* key (a k8s_meta: namespace, name) against an object of the view, sorted so. */
static int cmp_view_key(const void *key, const void *obj)
{
	const struct k8s_meta *k = key, *m = &(*(const struct k8s_object *const *)obj)->meta;
	int d = pol_cmp_str(k->ns, m->ns);

	return d ? d : pol_cmp_str(k->name, m->name);
}

const struct k8s_object *pol_incr_view_find(const struct cluster *c, enum k8s_kind k,
					    const char *ns, const char *name)
{
	const struct k8s_meta key = { .ns = (char *)ns, .name = (char *)name };
	struct k8s_object *const *o =
		c->n[k] ? bsearch(&key, c->objs[k], c->n[k], sizeof(*c->objs[k]), cmp_view_key) : NULL;

	return o ? *o : NULL;
}

static bool podname_is(const struct xcni_podname *n, const char *ns, const char *name)
{
	return !pol_cmp_str(n->ns, ns) && !pol_cmp_str(n->name, name);
}

uint32_t pol_incr_claim_of(const struct pol_incr *pi, const char *ns, const char *name, int *role)
{
	for (size_t i = 0; i < pi->r.ncontested; i++)
		if (podname_is(&pi->r.contested[i].name, ns, name)) {
			*role = pi->r.contested[i].owner ? 1 : 2;
			return pi->r.contested[i].ip;
		}
	for (size_t i = 0; i < pi->r.nyielded; i++)
		if (podname_is(&pi->r.yielded[i].from, ns, name)) {
			*role = 2;
			return pi->r.yielded[i].ip;
		}
	*role = 0;
	return 0;
}

bool pol_incr_holds_none(const struct pol_incr *pi, const char *ns, const char *name)
{
	int role;

	return pol_incr_claim_of(pi, ns, name, &role) && role == 2;
}

int pol_incr_idpods_set(struct pol_incr *pi, struct ipod *ip, bool del)
{
	struct pol_idpods *l = ip->id ? hmap_get(&pi->idpods, hu32(ip->id), UKEY(ip->id)) : NULL;

	if (del && ip->islot) {
		l->v[ip->islot - 1] = l->v[--l->n];
		l->v[ip->islot - 1].ip->islot = ip->islot;
		if (!l->n)
			free(l->v), free(hmap_del(&pi->idpods, hu32(ip->id), UKEY(ip->id)));
	}
	if (del || !ip->id || !(ip->pod->ip || ip->pod->has_ip6))
		return 0;
	if (!l && (!(l = calloc(1, sizeof(*l))) ||
		   hmap_put(&pi->idpods, hu32(ip->id), UKEY(ip->id), l))) {
		free(l);
		return -ENOMEM;
	}
	if (xcni_grow(&l->v, &l->cap, l->n, sizeof(*l->v)))
		return -ENOMEM;
	l->v[l->n++] = (struct pol_idpod){ ip->pod, ip };
	ip->islot = l->n;
	return 0;
}

/*
 * Every pod of the view, in its order, for a tiered direction's pods by address or egress named
 * ports, which walk them all: the pods the index holds, as the whole compile's view (a contested
 * address's other pods hold nothing: claims_settle left them out). Built on that need, not for
 * every update with a tiered pod to compile (most decide identities only: pol_ctx.idp).
 */
int pol_ctx_pods(const struct pol_ctx *cx)
{
	struct pol_ctx *x = (struct pol_ctx *)cx; /* const to a pod's compile, but for this index */
	size_t n = x->src && !x->pods ? x->view->n[K8S_POD] : 0;
	int ret = 0;

	if (!n)
		return 0;
	x->pods = calloc(n, sizeof(*x->pods));
	x->pod_id = calloc(n, sizeof(*x->pod_id));
	ret = x->pods && x->pod_id ? 0 : -ENOMEM;
	x->npods = 0;
	for (size_t i = 0; !ret && i < n; i++) {
		const struct k8s_pod *p = &x->view->objs[K8S_POD][i]->pod;
		struct ipod *ip;

		if (!(ret = pol_incr_ipod(x->src, p->meta.ns, p->meta.name, &ip)) && ip) {
			x->pods[x->npods] = p;
			x->pod_id[x->npods++] = ip->id;
		}
	}
	return ret;
}

bool cnp_any_audit(const struct cluster *c)
{
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < c->n[k ? K8S_NETWORKPOLICY : K8S_NAMESPACE]; i++)
			if (c->objs[k ? K8S_NETWORKPOLICY : K8S_NAMESPACE][i]->meta.audit)
				return true;
	return false;
}
