// SPDX-License-Identifier: Apache-2.0
/*
 * The incremental compiler's identities (policy_incr_int.h): the label sets an
 * update's pods bring, numbered as the whole compile numbers them from the last
 * result; the ones no pod has any more; and the allocation a whole compile
 * starts from when an update does not finish as a delta.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/policy/policy.h"
#include "lib/policy/policy_int.h"
#include "lib/system/hmap.h"
#include "lib/policy/policy_incr_int.h"

void pol_incr_prev_free(struct pol_incr *pi)
{
	for (size_t i = 0; i < pi->nprev; i++)
		free((char *)pi->prev[i].labels);
	free(pi->prev);
	pi->prev = NULL;
	pi->nprev = 0;
}

/* One more of the allocation a whole compile starts from; all of it dropped when out of memory. */
static int prev_push(struct pol_incr *pi, size_t *cap, const char *labels, uint32_t id)
{
	char *l;

	if (xcni_grow(&pi->prev, cap, pi->nprev, sizeof(*pi->prev)) || !(l = strdup(labels))) {
		pol_incr_prev_free(pi);
		return -ENOMEM;
	}
	pi->prev[pi->nprev++] = (struct pol_idprev){ l, id };
	return 0;
}

static void prev_sort(struct pol_incr *pi)
{
	if (pi->nprev)
		qsort(pi->prev, pi->nprev, sizeof(*pi->prev), pol_cmp_idprev);
}

int pol_incr_seed(struct pol_incr *pi, const struct pol_idprev *prev, size_t n)
{
	size_t cap = 0;

	pol_incr_prev_free(pi);
	for (size_t i = 0; i < n; i++)
		if (prev_push(pi, &cap, prev[i].labels, prev[i].id))
			return -ENOMEM;
	prev_sort(pi);
	return 0;
}

/*
 * The allocation of the last result, before an update that does not finish
 * as a delta: the whole compile that follows (now, or after a failure) starts
 * from it. The sets born in this update are left out: the whole compile
 * numbers them again, as it would have from the last result.
 */
int pol_incr_prev_keep(struct pol_incr *pi)
{
	const struct pol_result *r = &pi->r;
	char lab[sizeof(((struct xcni_idlabels *)0)->labels)];
	size_t cap = 0;

	pol_incr_prev_free(pi);
	for (size_t k = 0; k < r->nidentities; k++) {
		bool born = false;

		for (size_t i = 0; i < pi->d.nid_put && !born; i++)
			born = pi->d.id_put[i].id == r->identities[k].id;
		if (born)
			continue;
		pol_ident_label(r->identities[k].canon, lab);
		if (prev_push(pi, &cap, lab, r->identities[k].id))
			return -ENOMEM;
	}
	/* ... and the numbers that went in it: still in the maps until this
	 * generation is written, so not free for the next one either. */
	for (size_t i = 0; i < pi->d.nid_del; i++)
		if (prev_push(pi, &cap, "", pi->d.id_del[i]))
			return -ENOMEM;
	prev_sort(pi);
	return 0;
}

/* A label set no pod had, numbered h: a new identity (no pod counted yet), at
 * the end of r's (room made by the caller; sorted when the births are done). */
static int ident_add(struct pol_incr *pi, const char *canon, const struct k8s_pod *p,
		     const struct nslabels *l, uint32_t h)
{
	struct identity *id = &pi->r.identities[pi->r.nidentities];

	memset(id, 0, sizeof(*id));
	if (!(id->canon = strdup(canon)))
		return -ENOMEM;
	pi->r.nidentities++;
	id->id = h;
	id->ns = l->name;
	pi->ids_changed = true;
	return pol_labels_copy(&id->pod_labels, &p->meta.labels, NULL, NULL) ?:
	       pol_labels_copy(&id->ns_labels, &l->labels, NULL, NULL) ?:
	       hmap_put(&pi->canon, hstr(id->canon), (uintptr_t)id->canon, (void *)(uintptr_t)h) ?:
	       DPUSH(pi, id_put, ((struct pol_idput){ h, id->canon }));
}

struct born {
	char *canon;
	const struct k8s_pod *pod;
	const struct nslabels *l;
};

static int cmp_born(const void *a, const void *b)
{
	return strcmp(((const struct born *)a)->canon, ((const struct born *)b)->canon);
}

/*
 * The new sets b[0..nb) (distinct) numbered (policy.h: struct identity), as the whole
 * compile did: every number of the last result is taken (quarantine: gone
 * in this update or not); from nothing (incr_reset) the sets the allocation
 * pi->prev names keep their numbers first (of two on one stored label, the
 * first), then every number it held is taken too; the others, in sorted
 * order, each at its hash or the next number up that is free.
 */
static int idents_number(struct pol_incr *pi, struct born *b, size_t nb)
{
	struct pol_result *r = &pi->r;
	struct pol_opts o = pi->o;
	struct pol_u32set taken = { 0 };
	struct identity *v = realloc(r->identities, (r->nidentities + nb) * sizeof(*v));
	bool *kept = calloc(nb, sizeof(*kept));
	int ret = 0;

	if (v)
		r->identities = v;
	if (!v || !kept || pol_u32set_init(&taken, r->nidentities + nb + pi->nprev)) {
		free(kept);
		return -ENOMEM;
	}
	qsort(b, nb, sizeof(*b), cmp_born);
	for (size_t k = 0; k < r->nidentities; k++)
		pol_u32set_add(&taken, r->identities[k].id);
	o.prev = pi->replay ? pi->prev : NULL;
	o.nprev = pi->replay ? pi->nprev : 0;
	for (size_t i = 0; !ret && i < nb; i++) {
		uint32_t id = pol_idprev_find(&o, b[i].canon);

		if ((kept[i] = id && pol_u32set_add(&taken, id)))
			ret = ident_add(pi, b[i].canon, b[i].pod, b[i].l, id);
	}
	for (size_t i = 0; i < o.nprev; i++)
		if (o.prev[i].id >= XCNI_ID_MIN_LABELS && o.prev[i].id < XCNI_ID_CIDR_BASE)
			pol_u32set_add(&taken, o.prev[i].id);
	for (size_t i = 0; !ret && i < nb; i++) {
		if (kept[i])
			continue;
		ret = ident_add(pi, b[i].canon, b[i].pod, b[i].l,
				pol_probe(&taken, pol_ident_number(&pi->o, b[i].canon),
					  XCNI_ID_MIN_LABELS, ID_SPAN));
	}
	qsort(r->identities, r->nidentities, sizeof(*r->identities), pol_cmp_id);
	free(taken.v);
	free(kept);
	return ret;
}

/*
 * The label sets this update's pods bring that no identity has, numbered
 * before any pod is unlinked, so as the whole compile numbers them from the
 * last result (policy.h: struct identity): in sorted order, each at its hash
 * or the next number up that no identity of the last result (gone in this
 * update or not: quarantine) and no earlier newcomer has. canons[i]: the
 * canonical string of change i's pod (NULL: none), for pod_link.
 */
int pol_incr_idents_born(struct pol_incr *pi, const struct cluster *c,
		       const struct store_change *ch, size_t nch, char **canons)
{
	struct born *b = NULL;
	size_t nb = 0, cap = 0;
	struct hmap seen; /* the new sets of b: each once, however many pods have it */
	int ret = hmap_init(&seen, true, 16);

	for (size_t i = 0; !ret && i < nch; i++) {
		const struct k8s_object *o;
		const struct nslabels *l;
		const struct k8s_pod *p;

		if (ch[i].kind != K8S_POD || !(o = pol_incr_view_find(c, K8S_POD, ch[i].ns, ch[i].name)))
			continue;
		p = &o->pod;
		if (!pol_pod_managed(p) || !p->meta.ns || pol_incr_holds_none(pi, p->meta.ns, p->meta.name))
			continue;
		if (!(l = pol_incr_nsl(pi, p->meta.ns)) ||
		    !(canons[i] = pol_canon_string(&p->meta.labels, &l->labels))) {
			ret = -ENOMEM;
			break;
		}
		if (hmap_has(&pi->canon, hstr(canons[i]), (uintptr_t)canons[i]) ||
		    hmap_has(&seen, hstr(canons[i]), (uintptr_t)canons[i]))
			continue;
		if (xcni_grow(&b, &cap, nb, sizeof(*b)) ||
		    hmap_put(&seen, hstr(canons[i]), (uintptr_t)canons[i], NULL)) {
			ret = -ENOMEM;
			break;
		}
		b[nb++] = (struct born){ canons[i], p, l };
	}
	if (!ret && nb)
		ret = idents_number(pi, b, nb);
	hmap_free(&seen);
	free(b);
	return ret;
}

/* Identities no pod has any more. */
int pol_incr_idents_gc(struct pol_incr *pi)
{
	struct pol_result *r = &pi->r;
	size_t u = 0;

	for (size_t k = 0; k < r->nidentities; k++) {
		struct identity *id = &r->identities[k];
		bool fresh = false;

		if (id->npods) {
			r->identities[u++] = *id;
			continue;
		}
		/* Born and gone in this update: never in the maps. */
		for (size_t i = 0; i < pi->d.nid_put; i++) {
			if (pi->d.id_put[i].id == id->id) {
				pi->d.id_put[i] = pi->d.id_put[--pi->d.nid_put];
				fresh = true;
				break;
			}
		}
		if (!fresh && DPUSH(pi, id_del, id->id))
			return -ENOMEM;
		hmap_del(&pi->canon, hstr(id->canon), (uintptr_t)id->canon);
		free(id->canon);
		k8s_labels_free(&id->pod_labels);
		k8s_labels_free(&id->ns_labels);
		pi->ids_changed = true;
	}
	r->nidentities = u;
	return 0;
}
