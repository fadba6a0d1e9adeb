// SPDX-License-Identifier: Apache-2.0
/*
 * Which Service keeps each frontend key, and the whole list of frontends
 * kept up to date by what changed (svc.h). Each Service's candidates (svc.c) are kept
 * (struct sent), with the claims on each frontend key (struct kent) in
 * claim_cmp's order: the first keeps it. A change rebuilds only the Services
 * it names and settles only the keys their candidates claim, so one Service
 * changing among 10k costs one; the whole list is the same from nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/services/svc.h"
#include "lib/services/svc_int.h"
#include "lib/system/hmap.h"
#include "lib/system/util.h"

/* A Service, as its claims are ranked, and its candidates as the last update built them. */
struct sent {
	char *ns, *name, *uid; /* uid NULL: unset */
	int64_t created; /* creationTimestamp; 0: unset */
	struct items it;
	uint64_t mark; /* the update that listed it for its problems */
};

/* A Service's claim on a frontend key: its candidate it.v[i]. */
struct claim {
	struct sent *s;
	size_t i;
};

/* The claims on one frontend key (EXT scope; an INT twin goes with its EXT frontend). */
struct kent {
	struct xcni_svc_key key;
	struct claim *c; /* in claim_cmp's order: c[0] has it */
	size_t n, cap;
	bool out, out_int; /* what the writer was told: the frontend, its INT twin */
	uint64_t mark; /* the update that listed it as touched */
};

/* An EndpointSlice naming a Service (its kubernetes.io/service-name). */
struct slref {
	char *ns, *name, *svc;
};

struct svc_incr {
	bool valid;
	/* What the frontends were built for: a copy of the node (its rules in ext), the options. */
	struct svc_node node;
	struct svc_ext_rules ext;
	unsigned int flags;
	struct sent **svcs; /* by (namespace, name) */
	size_t nsvcs, capsvcs;
	struct slref **by_svc, **by_name; /* (ns, svc, name) and (ns, name) order */
	size_t nsl, capsl;
	struct hmap keys; /* the claims by frontend key (struct kent) */
	uint64_t gen;
	/* This update's delta, and what it allocated. */
	struct svc_delta d;
	size_t capput, capdel, caperr;
};

struct svc_incr *svc_incr_new(void)
{
	return calloc(1, sizeof(struct svc_incr));
}

static void delta_clear(struct svc_incr *si)
{
	for (size_t i = 0; i < si->d.nerrs; i++)
		free(si->d.errs[i]);
	si->d.nerrs = si->d.nput = si->d.ndel = 0;
	si->d.full = false;
}

static void sent_free(struct sent *s)
{
	if (!s)
		return;
	svc_items_free(&s->it);
	free(s->ns);
	free(s->name);
	free(s->uid);
	free(s);
}

static void slref_free(struct slref *r)
{
	if (!r)
		return;
	free(r->ns);
	free(r->name);
	free(r->svc);
	free(r);
}

static struct slref *slref_new(const char *ns, const char *name, const char *svc)
{
	struct slref *r = calloc(1, sizeof(*r));

	if (r && (r->ns = strdup(ns)) && (r->name = strdup(name)) && (r->svc = strdup(svc)))
		return r;
	slref_free(r);
	return NULL;
}

/* Everything built; the node and options kept. */
static void incr_clear(struct svc_incr *si)
{
	for (size_t i = 0; i < si->nsvcs; i++)
		sent_free(si->svcs[i]);
	si->nsvcs = 0;
	for (size_t i = 0; i < si->nsl; i++)
		slref_free(si->by_svc[i]);
	si->nsl = 0;
	hmap_each(&si->keys, sl) {
		free(((struct kent *)sl->v)->c);
		free(sl->v);
	}
	hmap_free(&si->keys);
	si->valid = false;
}

static void names_free(const char *const *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free((char *)v[i]);
	free((void *)v);
}

static void node_free(struct svc_node *n)
{
	free((char *)n->name);
	free((void *)n->addrs);
	free((void *)n->peers);
	free((void *)n->addrs6);
	free((void *)n->peers6);
	names_free(n->peer_names, n->npeers);
	names_free(n->peer_names6, n->npeers6);
	if (n->ext) {
		free((void *)n->ext->reserved);
		free((void *)n->ext->allow);
	}
	memset(n, 0, sizeof(*n));
}

void svc_incr_free(struct svc_incr *si)
{
	if (!si)
		return;
	incr_clear(si);
	delta_clear(si);
	free(si->svcs);
	free(si->by_svc);
	free(si->by_name);
	free(si->d.put);
	free(si->d.del);
	free(si->d.errs);
	node_free(&si->node);
	free(si);
}

void svc_incr_invalidate(struct svc_incr *si)
{
	si->valid = false;
}

static int cmp2(const char *a1, const char *a2, const char *b1, const char *b2)
{
	int c = strcmp(a1, b1);

	return c ? c : strcmp(a2, b2);
}

/*
 * Which claim on one frontend key keeps it: <0 when a goes before b. An
 * address the cluster allocated (ClusterIP, NodePort, load-balancer IP)
 * before any externalIP; between externalIPs the older Service
 * (creationTimestamp, an unset one last, then uid); else (namespace, name),
 * then the candidate's order.
 */
static int claim_cmp(const struct claim *ca, const struct claim *cb)
{
	const struct sent *a = ca->s, *b = cb->s;
	bool xa = a->it.v[ca->i].field == FIELD_EXTERNAL_IP;
	bool xb = b->it.v[cb->i].field == FIELD_EXTERNAL_IP;
	int c;

	if (xa != xb)
		return xa ? 1 : -1;
	if (xa && a != b) {
		/* The older Service keeps it: a tenant's newer claim takes nothing. */
		if (a->created != b->created) {
			if (!a->created || !b->created)
				return a->created ? -1 : 1;
			return a->created < b->created ? -1 : 1;
		}
		if (!a->uid != !b->uid)
			return a->uid ? -1 : 1;
		if (a->uid && (c = strcmp(a->uid, b->uid)))
			return c;
	}
	c = cmp2(a->ns, a->name, b->ns, b->name);
	if (c)
		return c;
	return ca->i < cb->i ? -1 : ca->i > cb->i;
}

/* What the sorted arrays are searched for: a Service, or a slice by Service or by name. */
struct skey {
	const struct svc_incr *si;
	const char *ns, *a, *b;
};

/* The first of n elements that is not below k (cmp: element i against k). */
static size_t lower_bound(size_t n, int (*cmp)(const struct skey *k, size_t i),
			  const struct skey *k)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp(k, mid) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int sent_at(const struct skey *k, size_t i)
{
	return cmp2(k->si->svcs[i]->ns, k->si->svcs[i]->name, k->ns, k->a);
}

/* Index of the first Service >= (ns, name) in si->svcs; *found if equal. */
static size_t sent_pos(const struct svc_incr *si, const char *ns, const char *name, bool *found)
{
	struct skey k = { si, ns, name, NULL };
	/* Everything built comes in order: past the last, without a search. */
	size_t i = si->nsvcs && sent_at(&k, si->nsvcs - 1) < 0 ?
			   si->nsvcs :
			   lower_bound(si->nsvcs, sent_at, &k);

	*found = i < si->nsvcs && !sent_at(&k, i);
	return i;
}

/* The object kind/ns/name in the view, or NULL. */
static const struct k8s_object *view_find(const struct cluster *c, enum k8s_kind kind,
					  const char *ns, const char *name)
{
	size_t lo = 0, hi = c->n[kind];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct k8s_object *o = c->objs[kind][mid];
		int r = cmp2(o->meta.ns ? o->meta.ns : "", o->meta.name, ns, name);

		if (!r)
			return o;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int slref_svc_cmp(const struct slref *a, const char *ns, const char *svc, const char *name)
{
	int c = cmp2(a->ns, a->svc, ns, svc);

	return c ? c : strcmp(a->name, name);
}

static int by_svc_at(const struct skey *k, size_t i)
{
	return slref_svc_cmp(k->si->by_svc[i], k->ns, k->a, k->b);
}

static int by_name_at(const struct skey *k, size_t i)
{
	return cmp2(k->si->by_name[i]->ns, k->si->by_name[i]->name, k->ns, k->a);
}

/* Index of the first slice >= (ns, svc, name) in by_svc. */
static size_t slref_svc_pos(const struct svc_incr *si, const char *ns, const char *svc,
			    const char *name)
{
	struct skey k = { si, ns, svc, name };

	return lower_bound(si->nsl, by_svc_at, &k);
}

/* Index of the first slice >= (ns, name) in by_name; *found if equal. */
static size_t slref_name_pos(const struct svc_incr *si, const char *ns, const char *name,
			     bool *found)
{
	struct skey k = { si, ns, name, NULL };
	size_t i = lower_bound(si->nsl, by_name_at, &k);

	*found = i < si->nsl && !by_name_at(&k, i);
	return i;
}

/* The entry of key k (one with claims, or NULL). */
static struct kent *kent_find(const struct svc_incr *si, const struct xcni_svc_key *k)
{
	return hmap_get(&si->keys, hmem(k, sizeof(*k)), (uintptr_t)k);
}

/* The candidate that keeps key k's frontend. */
static const struct item *kept_by(const struct kent *k)
{
	return &k->c[0].s->it.v[k->c[0].i];
}

/* The entry of key k, made if there is none. NULL on -ENOMEM. */
static struct kent *kent_get(struct svc_incr *si, const struct xcni_svc_key *k)
{
	struct kent *n;

	if (!si->keys.s) {
		if (hmap_init(&si->keys, false, 1024))
			return NULL;
		si->keys.klen = sizeof(*k);
	}
	if ((n = kent_find(si, k)))
		return n;
	if (!(n = calloc(1, sizeof(*n))))
		return NULL;
	n->key = *k;
	if (hmap_put(&si->keys, hmem(k, sizeof(*k)), (uintptr_t)&n->key, n)) {
		free(n);
		return NULL;
	}
	return n;
}

static int claim_add(struct kent *k, struct sent *s, size_t i)
{
	struct claim c = { s, i };
	size_t pos = k->n;

	if (XCNI_GROW(k->c, k->n, k->cap))
		return -ENOMEM;
	while (pos && claim_cmp(&k->c[pos - 1], &c) > 0)
		pos--;
	memmove(&k->c[pos + 1], &k->c[pos], (k->n - pos) * sizeof(c));
	k->c[pos] = c;
	k->n++;
	return 0;
}

static void claims_drop(struct kent *k, const struct sent *s)
{
	size_t o = 0;

	for (size_t i = 0; i < k->n; i++)
		if (k->c[i].s != s)
			k->c[o++] = k->c[i];
	k->n = o;
}

/* Touched keys of this update (each once), for the delta. */
struct touched {
	struct kent **v;
	size_t n, cap;
};

/* k into t (NULL: the whole list follows, nothing to list). */
static int touch(struct svc_incr *si, struct touched *t, struct kent *k)
{
	if (!t || k->mark == si->gen)
		return 0;
	if (XCNI_GROW(t->v, t->n, t->cap))
		return -ENOMEM;
	k->mark = si->gen;
	t->v[t->n++] = k;
	return 0;
}

/* Service s's EndpointSlices in the view, by name (*out: free it). */
static int slices_of(const struct svc_incr *si, const struct cluster *c, const char *ns,
		     const char *svc, const struct k8s_object ***out, size_t *n)
{
	size_t i = slref_svc_pos(si, ns, svc, ""), k = i;
	const struct k8s_object **v;

	*out = NULL;
	*n = 0;
	while (k < si->nsl && !cmp2(si->by_svc[k]->ns, si->by_svc[k]->svc, ns, svc))
		k++;
	if (k == i)
		return 0;
	if (!(v = calloc(k - i, sizeof(*v))))
		return -ENOMEM;
	for (; i < k; i++) {
		const struct k8s_object *o = view_find(c, K8S_ENDPOINTSLICE, ns, si->by_svc[i]->name);

		if (o)
			v[(*n)++] = o;
	}
	*out = v;
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

static bool mem_eq(const void *a, const void *b, size_t n)
{
	return !n || !memcmp(a, b, n);
}

/* The n names of a and b (NULL: none known) the same? */
static bool names_eq(const char *const *a, const char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!str_eq(a ? a[i] : NULL, b ? b[i] : NULL))
			return false;
	return true;
}

/* Frontends built for node a are those of node b? */
static bool node_eq(const struct svc_node *a, const struct svc_node *b)
{
	const struct svc_ext_rules *x = a->ext, *y = b->ext;

	return str_eq(a->name, b->name) && a->naddrs == b->naddrs && a->npeers == b->npeers &&
	       a->naddrs6 == b->naddrs6 && a->npeers6 == b->npeers6 &&
	       mem_eq(a->addrs, b->addrs, a->naddrs * 4) && mem_eq(a->peers, b->peers, a->npeers * 4) &&
	       mem_eq(a->addrs6, b->addrs6, a->naddrs6 * 16) &&
	       mem_eq(a->peers6, b->peers6, a->npeers6 * 16) &&
	       names_eq(a->peer_names, b->peer_names, a->npeers) &&
	       names_eq(a->peer_names6, b->peer_names6, a->npeers6) && a->np_min == b->np_min &&
	       a->np_max == b->np_max && !x == !y &&
	       (!x || (x->nreserved == y->nreserved && x->nallow == y->nallow &&
		       mem_eq(x->reserved, y->reserved, x->nreserved * sizeof(*x->reserved)) &&
		       mem_eq(x->allow, y->allow, x->nallow * sizeof(*x->allow))));
}

/* A copy of n bytes at p (NULL when n is 0); *nomem set when out of memory. */
static void *dup_mem(const void *p, size_t n, bool *nomem)
{
	void *q = n ? malloc(n) : NULL;

	if (q)
		memcpy(q, p, n);
	*nomem |= n && !q;
	return q;
}

static const char *const *dup_names(const char *const *v, size_t n, bool *nomem)
{
	char **w = v && n ? calloc(n, sizeof(*w)) : NULL;

	*nomem |= v && n && !w;
	for (size_t i = 0; w && i < n; i++)
		*nomem |= v[i] && !(w[i] = strdup(v[i]));
	return (const char *const *)w;
}

/* A copy of node in si (the one before freed); 0 or -ENOMEM (si as it was). */
static int node_keep(struct svc_incr *si, const struct svc_node *node)
{
	struct svc_node k = *node;
	struct svc_ext_rules ext = node->ext ? *node->ext : (struct svc_ext_rules){};
	bool nomem = false;

	k.name = node->name ? strdup(node->name) : NULL;
	nomem = node->name && !k.name;
	k.addrs = dup_mem(node->addrs, node->naddrs * 4, &nomem);
	k.peers = dup_mem(node->peers, node->npeers * 4, &nomem);
	k.addrs6 = dup_mem(node->addrs6, node->naddrs6 * 16, &nomem);
	k.peers6 = dup_mem(node->peers6, node->npeers6 * 16, &nomem);
	k.peer_names = dup_names(node->peer_names, node->npeers, &nomem);
	k.peer_names6 = dup_names(node->peer_names6, node->npeers6, &nomem);
	ext.reserved = dup_mem(ext.reserved, ext.nreserved * sizeof(*ext.reserved), &nomem);
	ext.allow = dup_mem(ext.allow, ext.nallow * sizeof(*ext.allow), &nomem);
	k.ext = &ext;
	if (nomem) {
		node_free(&k);
		return -ENOMEM;
	}
	node_free(&si->node);
	si->ext = ext;
	k.ext = node->ext ? &si->ext : NULL;
	si->node = k;
	return 0;
}

/*
 * Service ns/name built again (so: it in the view, NULL if gone; sl: its
 * EndpointSlices): its old claims dropped, its new candidates' claims made,
 * every key either touches in t (NULL: the whole list follows).
 */
static int rebuild(struct svc_incr *si, const char *ns, const char *name,
		   const struct k8s_object *so, const struct k8s_object *const *sl, size_t nsl,
		   struct touched *t)
{
	bool found;
	size_t pos = sent_pos(si, ns, name, &found);
	struct sent *s = found ? si->svcs[pos] : NULL;
	struct items v = {};
	struct item *fit;
	int err;

	si->d.nrebuilt++;
	if (so && (err = svc_build_one(so, sl, nsl, &si->node, si->flags, &v))) {
		svc_items_free(&v);
		return err;
	}
	/* Kept at its size: 10k Services each with room for 16 candidates is 60 MB. */
	if (v.n && v.n < v.cap && (fit = realloc(v.v, v.n * sizeof(*v.v)))) {
		v.v = fit;
		v.cap = v.n;
	}
	for (size_t i = 0; s && i < s->it.n; i++) {
		struct kent *k;

		if (s->it.v[i].err)
			continue;
		k = kent_find(si, &s->it.v[i].fe.key);
		claims_drop(k, s);
		if ((err = touch(si, t, k))) {
			svc_items_free(&v);
			return err;
		}
	}
	if (s)
		svc_items_free(&s->it);
	if (!v.n) {
		if (s) {
			memmove(&si->svcs[pos], &si->svcs[pos + 1], (si->nsvcs - pos - 1) * sizeof(s));
			si->nsvcs--;
			sent_free(s);
		}
		return 0;
	}
	if (!s) {
		if (XCNI_GROW(si->svcs, si->nsvcs, si->capsvcs) || !(s = calloc(1, sizeof(*s))) ||
		    !(s->ns = strdup(ns)) || !(s->name = strdup(name))) {
			sent_free(s);
			svc_items_free(&v);
			return -ENOMEM;
		}
		memmove(&si->svcs[pos + 1], &si->svcs[pos], (si->nsvcs - pos) * sizeof(s));
		si->svcs[pos] = s;
		si->nsvcs++;
	}
	s->it = v;
	free(s->uid);
	s->uid = so->svc.uid ? strdup(so->svc.uid) : NULL;
	if (so->svc.uid && !s->uid)
		return -ENOMEM; /* the caller starts over */
	s->created = so->svc.created;
	for (size_t i = 0; i < v.n; i++) {
		struct kent *k;

		if (v.v[i].err)
			continue;
		if (!(k = kent_get(si, &v.v[i].fe.key)) || claim_add(k, s, i) || touch(si, t, k))
			return -ENOMEM; /* the caller starts over */
	}
	return 0;
}

static int put_spec(struct svc_incr *si, const struct svc_spec *sp)
{
	if (xcni_grow(&si->d.put, &si->capput, si->d.nput, sizeof(*sp)))
		return -ENOMEM;
	si->d.put[si->d.nput++] = *sp;
	return 0;
}

static int del_key(struct svc_incr *si, const struct xcni_svc_key *k, uint8_t scope)
{
	if (xcni_grow(&si->d.del, &si->capdel, si->d.ndel, sizeof(*k)))
		return -ENOMEM;
	si->d.del[si->d.ndel] = *k;
	si->d.del[si->d.ndel++].scope = scope;
	return 0;
}

/* msg (owned; NULL: out of memory) into the delta's problems. */
static int put_err(struct svc_incr *si, char *msg)
{
	if (!msg || xcni_grow(&si->d.errs, &si->caperr, si->d.nerrs, sizeof(msg))) {
		free(msg);
		return -ENOMEM;
	}
	si->d.errs[si->d.nerrs++] = msg;
	return 0;
}

/*
 * Service s's problems, in the whole list's order and words: fn(ctx, it, msg) for
 * each, msg it->err or the words for a frontend another Service keeps (NULL:
 * out of memory); another node's NodePort taken is left out unsaid. fn's error
 * stops the walk.
 */
static int sent_problems(const struct svc_incr *si, const struct sent *s,
			 int (*fn)(void *ctx, const struct item *it, const char *msg), void *ctx)
{
	for (size_t i = 0; i < s->it.n; i++) {
		const struct item *it = &s->it.v[i];
		const struct item *owner = it->err ? NULL : kept_by(kent_find(si, &it->fe.key));
		char *m;
		int err;

		if (owner == it || (owner && it->field == FIELD_PEER))
			continue;
		m = owner ? svc_clash_msg(it, s->ns, s->name, owner) : NULL;
		err = fn(ctx, it, owner ? m : it->err);
		free(m);
		if (err)
			return err;
	}
	return 0;
}

static int problem_put(void *si, const struct item *it, const char *msg)
{
	(void)it;
	return put_err(si, msg ? strdup(msg) : NULL);
}

/* Every frontend and problem, in the whole list's order; the keys marked as told. */
static int whole(struct svc_incr *si)
{
	delta_clear(si);
	si->d.full = true;
	for (size_t j = 0; j < si->nsvcs; j++) {
		const struct sent *s = si->svcs[j];

		if (sent_problems(si, s, problem_put, si))
			return -ENOMEM;
		for (size_t i = 0; i < s->it.n; i++) {
			const struct item *it = &s->it.v[i];
			struct kent *k = it->err ? NULL : kent_find(si, &it->fe.key);

			if (!k || kept_by(k) != it)
				continue;
			k->out = true;
			k->out_int = it->twin.name;
			if (put_spec(si, &it->fe) || (it->twin.name && put_spec(si, &it->twin)))
				return -ENOMEM;
		}
	}
	return 0;
}

/* Room for cap slices in both indexes. 0 or -ENOMEM. */
static int slrefs_room(struct svc_incr *si, size_t cap)
{
	struct slref **a, **b;

	if (cap <= si->capsl)
		return 0;
	if (!(a = realloc(si->by_svc, cap * sizeof(*a))))
		return -ENOMEM;
	si->by_svc = a;
	if (!(b = realloc(si->by_name, cap * sizeof(*b))))
		return -ENOMEM;
	si->by_name = b;
	si->capsl = cap;
	return 0;
}

/* ns/service/name order: the slices that name a Service, next to each other. */
static int slice_cmp(const void *a, const void *b)
{
	const struct k8s_object *x = *(const struct k8s_object *const *)a;
	const struct k8s_object *y = *(const struct k8s_object *const *)b;
	int c = cmp2(x->meta.ns, x->eps.service, y->meta.ns, y->eps.service);

	return c ? c : strcmp(x->meta.name, y->meta.name);
}

static int slref_name_cmp(const void *a, const void *b)
{
	const struct slref *x = *(const struct slref *const *)a;
	const struct slref *y = *(const struct slref *const *)b;

	return cmp2(x->ns, x->name, y->ns, y->name);
}

/* Everything built again from the view (the first update, and any that cannot follow). */
static int reset(struct svc_incr *si, const struct cluster *c)
{
	const struct k8s_object **sl = NULL;
	size_t nsl = 0, j = 0;
	int err = 0;

	incr_clear(si);
	if (c->n[K8S_ENDPOINTSLICE] && !(sl = calloc(c->n[K8S_ENDPOINTSLICE], sizeof(*sl))))
		return -ENOMEM;
	for (size_t i = 0; i < c->n[K8S_ENDPOINTSLICE]; i++)
		if (c->objs[K8S_ENDPOINTSLICE][i]->eps.service)
			sl[nsl++] = c->objs[K8S_ENDPOINTSLICE][i];
	/* The view is sorted by (namespace, name) and qsort is not stable: keep it a total order. */
	if (nsl)
		qsort(sl, nsl, sizeof(*sl), slice_cmp);
	err = slrefs_room(si, nsl);
	for (size_t i = 0; i < nsl && !err; i++) {
		struct slref *r = slref_new(sl[i]->meta.ns, sl[i]->meta.name, sl[i]->eps.service);

		if (!r)
			err = -ENOMEM;
		else
			si->by_svc[si->nsl] = si->by_name[si->nsl] = r, si->nsl++;
	}
	if (!err && si->nsl)
		qsort(si->by_name, si->nsl, sizeof(*si->by_name), slref_name_cmp);
	/* Both lists in (namespace, name) order: walk the slices along. */
	for (size_t i = 0; i < c->n[K8S_SERVICE] && !err; i++) {
		const struct k8s_object *so = c->objs[K8S_SERVICE][i];
		size_t k;

		while (j < nsl && cmp2(sl[j]->meta.ns, sl[j]->eps.service, so->meta.ns, so->meta.name) < 0)
			j++;
		for (k = j; k < nsl && !cmp2(sl[k]->meta.ns, sl[k]->eps.service, so->meta.ns,
					     so->meta.name);
		     k++)
			;
		err = rebuild(si, so->meta.ns, so->meta.name, so, sl ? sl + j : NULL, k - j, NULL);
	}
	free(sl);
	return err ?: whole(si);
}

/* A Service to build again (ns and name copied). */
struct dirty {
	char **v; /* ns, name, ns, name, ... */
	size_t n, cap;
};

static int dirty_add(struct dirty *d, const char *ns, const char *name)
{
	char *a = strdup(ns), *b = strdup(name);

	if (!a || !b || xcni_grow(&d->v, &d->cap, d->n + 1, sizeof(char *))) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	d->v[d->n++] = a;
	d->v[d->n++] = b;
	return 0;
}

static int dirty_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return cmp2(x[0], x[1], y[0], y[1]);
}

/*
 * The slice index follows EndpointSlice ns/name: the Service it named and
 * the one it names now (either may be none) are built again.
 */
static int slice_changed(struct svc_incr *si, const struct cluster *c, const char *ns,
			 const char *name, struct dirty *d)
{
	const struct k8s_object *o = view_find(c, K8S_ENDPOINTSLICE, ns, name);
	bool found;
	size_t p = slref_name_pos(si, ns, name, &found), q;
	struct slref *r;
	int err;

	if (found) {
		r = si->by_name[p];
		if ((err = dirty_add(d, r->ns, r->svc)))
			return err;
		if (o && o->eps.service && !strcmp(o->eps.service, r->svc))
			return 0; /* the same Service: the index holds */
		q = slref_svc_pos(si, r->ns, r->svc, r->name);
		memmove(&si->by_name[p], &si->by_name[p + 1], (si->nsl - p - 1) * sizeof(r));
		memmove(&si->by_svc[q], &si->by_svc[q + 1], (si->nsl - q - 1) * sizeof(r));
		si->nsl--;
		slref_free(r);
	}
	if (!o || !o->eps.service)
		return 0;
	if (si->nsl == si->capsl && slrefs_room(si, si->capsl ? 2 * si->capsl : 64))
		return -ENOMEM;
	if (!(r = slref_new(ns, name, o->eps.service)))
		return -ENOMEM;
	p = slref_name_pos(si, ns, name, &found);
	q = slref_svc_pos(si, ns, r->svc, name);
	memmove(&si->by_name[p + 1], &si->by_name[p], (si->nsl - p) * sizeof(r));
	memmove(&si->by_svc[q + 1], &si->by_svc[q], (si->nsl - q) * sizeof(r));
	si->by_name[p] = si->by_svc[q] = r;
	si->nsl++;
	return dirty_add(d, ns, r->svc);
}

static int sent_ptr_cmp(const void *a, const void *b)
{
	const struct sent *x = *(const struct sent *const *)a, *y = *(const struct sent *const *)b;

	return cmp2(x->ns, x->name, y->ns, y->name);
}

/*
 * The delta of the keys touched: the frontend each has now (whoever has it)
 * put, the ones none has any more deleted; the problems of every Service
 * built again or claiming a touched key (one may have lost a frontend to
 * another).
 */
static int delta(struct svc_incr *si, const struct dirty *d, struct touched *t)
{
	struct sent **said = NULL;
	size_t nsaid = 0, cap = 0;
	int err = 0;

	for (size_t i = 0; i < d->n && !err; i += 2) {
		bool found;
		size_t p = sent_pos(si, d->v[i], d->v[i + 1], &found);
		struct sent *s = found ? si->svcs[p] : NULL;

		if (s && s->mark != si->gen) {
			s->mark = si->gen;
			if (!(err = xcni_grow(&said, &cap, nsaid, sizeof(s))))
				said[nsaid++] = s;
		}
	}
	for (size_t j = 0; j < t->n && !err; j++) {
		struct kent *k = t->v[j];
		const struct item *it = k->n ? kept_by(k) : NULL;
		bool was = k->out, was_int = k->out_int;

		for (size_t c = 0; c < k->n && !err; c++) {
			struct sent *s = k->c[c].s;

			if (s->mark == si->gen)
				continue;
			s->mark = si->gen;
			if (!(err = xcni_grow(&said, &cap, nsaid, sizeof(s))))
				said[nsaid++] = s;
		}
		k->out = it;
		k->out_int = it && it->twin.name;
		if (it && !err)
			err = put_spec(si, &it->fe) ?: it->twin.name ? put_spec(si, &it->twin) : 0;
		if (was && !k->out && !err)
			err = del_key(si, &k->key, XCNI_SCOPE_EXT);
		if (was_int && !k->out_int && !err)
			err = del_key(si, &k->key, XCNI_SCOPE_INT);
		if (k->n || err)
			continue;
		hmap_del(&si->keys, hmem(&k->key, sizeof(k->key)), (uintptr_t)&k->key);
		free(k->c);
		free(k);
		t->v[j] = NULL;
	}
	if (nsaid)
		qsort(said, nsaid, sizeof(*said), sent_ptr_cmp);
	for (size_t i = 0; i < nsaid && !err; i++)
		err = sent_problems(si, said[i], problem_put, si);
	free(said);
	return err;
}

int svc_incr_update(struct svc_incr *si, const struct cluster *c, const struct svc_node *node,
		    unsigned int flags, const struct store_change *ch, size_t nch, bool all,
		    bool whole_list, const struct svc_delta **d)
{
	static const struct svc_node none; /* no node builds as one with nothing */
	struct dirty dl = {};
	struct touched t = {};
	int err = 0;

	delta_clear(si);
	si->d.nrebuilt = 0;
	si->gen++;
	*d = &si->d;
	node = node ?: &none;
	/* Other addresses or options: every frontend may change. */
	if (flags != si->flags || !node_eq(node, &si->node)) {
		if ((err = node_keep(si, node)))
			goto out;
		si->flags = flags;
		all = true;
	}
	if (all || !si->valid) {
		err = reset(si, c);
		goto out;
	}
	for (size_t i = 0; i < nch && !err; i++) {
		if (ch[i].kind == K8S_SERVICE)
			err = dirty_add(&dl, ch[i].ns ? ch[i].ns : "", ch[i].name);
		else if (ch[i].kind == K8S_ENDPOINTSLICE)
			err = slice_changed(si, c, ch[i].ns ? ch[i].ns : "", ch[i].name, &dl);
	}
	if (dl.n > 2)
		qsort(dl.v, dl.n / 2, 2 * sizeof(*dl.v), dirty_cmp);
	for (size_t i = 0; i < dl.n && !err; i += 2) {
		const char *ns = dl.v[i], *name = dl.v[i + 1];
		const struct k8s_object *so = view_find(c, K8S_SERVICE, ns, name), **sl = NULL;
		size_t nsl = 0;

		if (i && !dirty_cmp(&dl.v[i - 2], &dl.v[i]))
			continue;
		if (so)
			err = slices_of(si, c, ns, name, &sl, &nsl);
		if (!err)
			err = rebuild(si, ns, name, so, sl, nsl, &t);
		free(sl);
	}
	/* The keys' states follow first; the whole list, when asked for, replaces the delta. */
	if (!err)
		err = delta(si, &dl, &t);
	if (!err && whole_list)
		err = whole(si);
out:
	for (size_t i = 0; i < dl.n; i++)
		free(dl.v[i]);
	free(dl.v);
	free(t.v);
	/* Half followed: the next update starts over. */
	si->valid = !err;
	return err;
}

/* What svc_incr_refusals walks with. */
struct refusals {
	void (*refused)(void *ctx, const char *msg);
	void (*bounded)(void *ctx, const char *ns, const char *reason, const char *msg);
	void *ctx;
	const char *ns;
	size_t n;
};

static int refusal(void *ctx, const struct item *it, const char *msg)
{
	struct refusals *r = ctx;
	bool ext = it->err ? it->refused : it->field == FIELD_EXTERNAL_IP;

	if (it->err && it->bound && r->bounded)
		r->bounded(r->ctx, r->ns, it->bound == SVC_BOUND_FRONTENDS ? "frontends" : "backends",
			   msg);
	if (ext && r->refused && msg)
		r->refused(r->ctx, msg);
	r->n += ext;
	return 0;
}

size_t svc_incr_refusals(const struct svc_incr *si, void (*refused)(void *ctx, const char *msg),
			 void (*bounded)(void *ctx, const char *ns, const char *reason,
					 const char *msg),
			 void *ctx)
{
	struct refusals r = { refused, bounded, ctx, NULL, 0 };

	for (size_t j = 0; si->valid && j < si->nsvcs; j++) {
		r.ns = si->svcs[j]->ns;
		sent_problems(si, si->svcs[j], refusal, &r);
	}
	return r.n;
}
