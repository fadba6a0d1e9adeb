// SPDX-License-Identifier: Apache-2.0
/*
 * The incremental compiler's books that policy_incr.c and policy_incr_eps.c
 * both keep: the endpoints to compile again (dirty), an identity by its
 * number, a pod's "ns/name" key, a namespace's labels, an object of the view
 * and a pod's part in an address two pods claim.
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
