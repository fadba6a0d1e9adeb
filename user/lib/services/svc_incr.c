// SPDX-License-Identifier: Apache-2.0
/*
 * svc_incr: svc_build's list kept up to date by what changed. Each Service's
 * candidates are kept (struct sent), with the claims on each frontend key
 * (struct kent); a change rebuilds only the Services it names and settles only
 * the keys their candidates claim, so one Service changing among 10k costs one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/services/svc.h"
#include "lib/services/svc_int.h"
#include "lib/system/util.h"

/* A Service's candidates, as the last update built them. */
struct sent {
	char *ns, *name, *uid;
	struct svc_who who; /* its claims' rank: ns, name, uid above, creationTimestamp */
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
	struct kent *next;
	struct xcni_svc_key key;
	struct claim *c; /* by Service (namespace, name), then candidate: c[0] has it */
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
	/* What the frontends were built for. */
	char *node_name;
	uint32_t *addrs; /* the node's addresses, then its peers' (other Nodes' InternalIPs) */
	size_t naddrs, npeers;
	uint8_t (*addrs6)[16]; /* IPv6 likewise: the node's, then its peers' */
	size_t naddrs6, npeers6;
	/* The peers' names: npeers for addrs' peers, then npeers6 (NULL: not known). */
	char **pnames;
	uint16_t np_min, np_max;
	/* The externalIP rules (svc_ext_rules): the reserved ranges, then the allowed. */
	struct svc_prefix *ext;
	size_t nreserved, nallow;
	bool has_ext;
	struct svc_ext_rules rules;
	unsigned int flags;
	struct sent **svcs; /* by (namespace, name) */
	size_t nsvcs, capsvcs;
	struct slref **by_svc, **by_name; /* (ns, svc, name) and (ns, name) order */
	size_t nsl, capsl;
	struct kent **kb; /* buckets, a power of two */
	size_t nkb, nkeys;
	uint64_t gen;
	/* This update's delta, and what it allocated. */
	struct svc_delta d;
	size_t capput, capdel, caperr;
	size_t rebuilt;
};

struct svc_incr *svc_incr_new(void)
{
	return calloc(1, sizeof(struct svc_incr));
}

static void delta_clear(struct svc_incr *si)
{
	for (size_t i = 0; i < si->d.nerrs; i++)
		free(si->d.errs[i]);
	si->d.nerrs = si->d.nput = si->d.ndel = si->d.nrebuilt = 0;
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

/* Everything built; the node and options kept. */
static void incr_clear(struct svc_incr *si)
{
	for (size_t i = 0; i < si->nsvcs; i++)
		sent_free(si->svcs[i]);
	si->nsvcs = 0;
	for (size_t i = 0; i < si->nsl; i++)
		slref_free(si->by_svc[i]);
	si->nsl = 0;
	for (size_t b = 0; b < si->nkb; b++)
		for (struct kent *k = si->kb[b], *next; k; k = next) {
			next = k->next;
			free(k->c);
			free(k);
		}
	free(si->kb);
	si->kb = NULL;
	si->nkb = si->nkeys = 0;
	si->valid = false;
}

static void pnames_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
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
	free(si->node_name);
	free(si->addrs);
	free(si->addrs6);
	free(si->ext);
	pnames_free(si->pnames, si->npeers + si->npeers6);
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
	size_t i = lower_bound(si->nsvcs, sent_at, &k);

	*found = i < si->nsvcs && !sent_at(&k, i);
	return i;
}

static struct sent *sent_find(const struct svc_incr *si, const char *ns, const char *name)
{
	bool found;
	size_t i = sent_pos(si, ns, name, &found);

	return found ? si->svcs[i] : NULL;
}

/* Claims in svc_build's rank: the first keeps the key. */
static int claim_cmp(const struct claim *a, const struct claim *b)
{
	return svc_claim_cmp(&a->s->who, &a->s->it.v[a->i], a->i, &b->s->who, &b->s->it.v[b->i],
			     b->i);
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

static struct kent **kent_slot(const struct svc_incr *si, const struct xcni_svc_key *k)
{
	struct kent **e = &si->kb[svc_key_hash(k) & (si->nkb - 1)];

	for (; *e; e = &(*e)->next)
		if (!memcmp(&(*e)->key, k, sizeof(*k)))
			return e;
	return e;
}

/* The entry of key k, made if there is none. NULL on -ENOMEM. */
static struct kent *kent_get(struct svc_incr *si, const struct xcni_svc_key *k)
{
	struct kent **e, *n;

	if (si->nkeys + 1 > si->nkb) {
		size_t nb = si->nkb ? 2 * si->nkb : 1024;
		struct kent **b = calloc(nb, sizeof(*b));

		if (!b)
			return NULL;
		for (size_t i = 0; i < si->nkb; i++)
			for (struct kent *x = si->kb[i], *next; x; x = next) {
				next = x->next;
				x->next = b[svc_key_hash(&x->key) & (nb - 1)];
				b[svc_key_hash(&x->key) & (nb - 1)] = x;
			}
		free(si->kb);
		si->kb = b;
		si->nkb = nb;
	}
	e = kent_slot(si, k);
	if (*e)
		return *e;
	if (!(n = calloc(1, sizeof(*n))))
		return NULL;
	n->key = *k;
	*e = n;
	si->nkeys++;
	return n;
}

static int claim_add(struct kent *k, struct sent *s, size_t i)
{
	struct claim c = { s, i };
	size_t pos = k->n;

	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 1;
		struct claim *n = realloc(k->c, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		k->c = n;
		k->cap = cap;
	}
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

static int touch(struct svc_incr *si, struct touched *t, struct kent *k)
{
	if (k->mark == si->gen)
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

/* Are the n names of given (NULL: none known) those kept (n entries, NULL each unknown)? */
static bool pnames_eq(const char *const *given, char *const *kept, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *g = given ? given[i] : NULL;

		if (!g != !kept[i] || (g && strcmp(g, kept[i])))
			return false;
	}
	return true;
}

/* The node and options frontends are built for; false if they are not those of the last build. */
static bool same_node(const struct svc_incr *si, const struct svc_node *node, unsigned int flags)
{
	const char *name = node ? node->name : NULL;
	size_t naddrs = node ? node->naddrs : 0, npeers = node ? node->npeers : 0;

	if (flags != si->flags || !name != !si->node_name || (name && strcmp(name, si->node_name)) ||
	    naddrs != si->naddrs || (naddrs && memcmp(node->addrs, si->addrs, naddrs * 4)) ||
	    npeers != si->npeers ||
	    (npeers && memcmp(node->peers, si->addrs + naddrs, npeers * 4)))
		return false;
	naddrs = node ? node->naddrs6 : 0;
	npeers = node ? node->npeers6 : 0;
	if (naddrs != si->naddrs6 || npeers != si->npeers6 ||
	    (naddrs && memcmp(node->addrs6, si->addrs6, naddrs * 16)) ||
	    (npeers && memcmp(node->peers6, si->addrs6 + naddrs, npeers * 16)))
		return false;
	if (!(node && node->ext) != !si->has_ext ||
	    (node && node->ext &&
	     (node->ext->nreserved != si->nreserved || node->ext->nallow != si->nallow ||
	      (si->nreserved && memcmp(node->ext->reserved, si->ext,
				       si->nreserved * sizeof(*si->ext))) ||
	      (si->nallow && memcmp(node->ext->allow, si->ext + si->nreserved,
				    si->nallow * sizeof(*si->ext))))))
		return false;
	if (node && (!pnames_eq(node->peer_names, si->pnames, si->npeers) ||
		     !pnames_eq(node->peer_names6, si->pnames ? si->pnames + si->npeers : NULL,
			       si->npeers6)))
		return false;
	return (node ? node->np_min : 0) == si->np_min && (node ? node->np_max : 0) == si->np_max;
}

static int node_keep(struct svc_incr *si, const struct svc_node *node, unsigned int flags)
{
	size_t naddrs = node ? node->naddrs : 0, npeers = node ? node->npeers : 0;
	char *name = node && node->name ? strdup(node->name) : NULL;
	uint32_t *addrs = naddrs + npeers ? malloc((naddrs + npeers) * 4) : NULL;
	size_t n6 = node ? node->naddrs6 : 0, p6 = node ? node->npeers6 : 0;
	uint8_t(*addrs6)[16] = n6 + p6 ? malloc((n6 + p6) * 16) : NULL;
	char **pnames = npeers + p6 ? calloc(npeers + p6, sizeof(*pnames)) : NULL;
	bool nomem = (node && node->name && !name) || (naddrs + npeers && !addrs) ||
		     (n6 + p6 && !addrs6) || (npeers + p6 && !pnames);

	for (size_t i = 0; !nomem && i < npeers + p6; i++) {
		const char *g = i < npeers ? (node->peer_names ? node->peer_names[i] : NULL) :
					     (node->peer_names6 ? node->peer_names6[i - npeers] : NULL);

		if (g && !(pnames[i] = strdup(g)))
			nomem = true;
	}
	const struct svc_ext_rules *r = node ? node->ext : NULL;
	size_t nx = r ? r->nreserved + r->nallow : 0;
	struct svc_prefix *ext = nx ? malloc(nx * sizeof(*ext)) : NULL;

	if (nomem || (nx && !ext)) {
		free(name);
		free(addrs);
		free(addrs6);
		free(ext);
		pnames_free(pnames, npeers + p6);
		return -ENOMEM;
	}
	if (r && r->nreserved)
		memcpy(ext, r->reserved, r->nreserved * sizeof(*ext));
	if (r && r->nallow)
		memcpy(ext + r->nreserved, r->allow, r->nallow * sizeof(*ext));
	free(si->ext);
	si->ext = ext;
	si->has_ext = r;
	si->nreserved = r ? r->nreserved : 0;
	si->nallow = r ? r->nallow : 0;
	si->rules = (struct svc_ext_rules){ si->nreserved, ext, si->nallow,
					    ext ? ext + si->nreserved : NULL };
	pnames_free(si->pnames, si->npeers + si->npeers6);
	si->pnames = pnames;
	if (n6)
		memcpy(addrs6, node->addrs6, n6 * 16);
	if (p6)
		memcpy(addrs6 + n6, node->peers6, p6 * 16);
	free(si->addrs6);
	si->addrs6 = addrs6;
	si->naddrs6 = n6;
	si->npeers6 = p6;
	if (naddrs)
		memcpy(addrs, node->addrs, naddrs * 4);
	if (npeers)
		memcpy(addrs + naddrs, node->peers, npeers * 4);
	free(si->node_name);
	free(si->addrs);
	si->node_name = name;
	si->addrs = addrs;
	si->naddrs = naddrs;
	si->npeers = npeers;
	si->np_min = node ? node->np_min : 0;
	si->np_max = node ? node->np_max : 0;
	si->flags = flags;
	return 0;
}

/* The node as svc_build takes it, from what was kept (no node builds as one with nothing). */
static struct svc_node node_of(const struct svc_incr *si)
{
	const struct svc_ext_rules *ext = si->has_ext ? &si->rules : NULL;

	return (struct svc_node){ .name = si->node_name, .naddrs = si->naddrs, .addrs = si->addrs,
				  .npeers = si->npeers,
				  .peers = si->npeers ? si->addrs + si->naddrs : NULL,
				  .naddrs6 = si->naddrs6, .addrs6 = (const uint8_t(*)[16])si->addrs6,
				  .npeers6 = si->npeers6,
				  .peers6 = si->npeers6 ? (const uint8_t(*)[16])(si->addrs6 + si->naddrs6)
							: NULL,
				  .peer_names = (const char *const *)si->pnames,
				  .peer_names6 = si->pnames ? (const char *const *)si->pnames + si->npeers
							    : NULL,
				  .np_min = si->np_min, .np_max = si->np_max, .ext = ext };
}

static int slref_cmp(const void *a, const void *b)
{
	const struct slref *x = *(const struct slref *const *)a;
	const struct slref *y = *(const struct slref *const *)b;

	return slref_svc_cmp(x, y->ns, y->svc, y->name);
}

/*
 * Service ns/name built again from the view: its old claims dropped, its new
 * candidates' claims made, every key either touches in t.
 */
static int rebuild(struct svc_incr *si, const struct cluster *c, const char *ns, const char *name,
		   struct touched *t)
{
	const struct k8s_object *so = view_find(c, K8S_SERVICE, ns, name);
	const struct k8s_object **sl = NULL;
	struct svc_node node = node_of(si);
	bool found;
	size_t pos = sent_pos(si, ns, name, &found), nsl;
	struct sent *s = found ? si->svcs[pos] : NULL;
	struct items v = {};
	int err;

	si->rebuilt++;
	if (so && svc_has_frontends(&so->svc)) {
		if ((err = slices_of(si, c, ns, name, &sl, &nsl)))
			return err;
		err = svc_build_one(so, sl, nsl, &node, si->flags, &v);
		free(sl);
		if (err) {
			svc_items_free(&v);
			return err;
		}
	}
	if (s) {
		for (size_t i = 0; i < s->it.n; i++) {
			struct kent *k;

			if (s->it.v[i].err)
				continue;
			k = *kent_slot(si, &s->it.v[i].fe.key);
			claims_drop(k, s);
			if ((err = touch(si, t, k)))
				goto fail;
		}
		svc_items_free(&s->it);
	}
	if (!v.n) {
		if (s) {
			memmove(&si->svcs[pos], &si->svcs[pos + 1], (si->nsvcs - pos - 1) * sizeof(s));
			si->nsvcs--;
			sent_free(s);
		}
		return 0;
	}
	if (!s) {
		if (XCNI_GROW(si->svcs, si->nsvcs, si->capsvcs))
			goto nomem;
		if (!(s = calloc(1, sizeof(*s))) || !(s->ns = strdup(ns)) || !(s->name = strdup(name))) {
			sent_free(s);
			goto nomem;
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
	s->who = (struct svc_who){ s->ns, s->name, s->uid, so->svc.created };
	for (size_t i = 0; i < v.n; i++) {
		struct kent *k;

		if (v.v[i].err)
			continue;
		if (!(k = kent_get(si, &v.v[i].fe.key)) || claim_add(k, s, i) || touch(si, t, k))
			return -ENOMEM; /* the caller starts over */
	}
	return 0;
nomem:
	err = -ENOMEM;
fail:
	svc_items_free(&v);
	return err;
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

/* A copy of msg (or msg itself, owned) into the delta's problems. */
static int put_err(struct svc_incr *si, char *msg)
{
	if (!msg || xcni_grow(&si->d.errs, &si->caperr, si->d.nerrs, sizeof(msg))) {
		free(msg);
		return -ENOMEM;
	}
	si->d.errs[si->d.nerrs++] = msg;
	return 0;
}

/* Service s's problems into the delta, in svc_build's order and words. */
static int sent_errs(struct svc_incr *si, const struct sent *s)
{
	for (size_t i = 0; i < s->it.n; i++) {
		const struct item *it = &s->it.v[i];
		const struct kent *k;

		if (it->err) {
			if (put_err(si, strdup(it->err)))
				return -ENOMEM;
			continue;
		}
		k = *kent_slot(si, &it->fe.key);
		if ((k->c[0].s != s || k->c[0].i != i) && it->field != FIELD_PEER &&
		    put_err(si, svc_clash_msg(it, s->ns, s->name, &k->c[0].s->it.v[k->c[0].i])))
			return -ENOMEM;
	}
	return 0;
}

/* Every frontend and problem, in svc_build's order; the keys marked as told. */
static int whole(struct svc_incr *si)
{
	si->d.nput = si->d.ndel = 0;
	for (size_t i = 0; i < si->d.nerrs; i++)
		free(si->d.errs[i]);
	si->d.nerrs = 0;
	si->d.full = true;
	for (size_t j = 0; j < si->nsvcs; j++) {
		const struct sent *s = si->svcs[j];

		if (sent_errs(si, s))
			return -ENOMEM;
		for (size_t i = 0; i < s->it.n; i++) {
			const struct item *it = &s->it.v[i];
			struct kent *k;

			if (it->err)
				continue;
			k = *kent_slot(si, &it->fe.key);
			if (k->c[0].s != s || k->c[0].i != i)
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

/* Everything built again from the view (the first update, and any that cannot follow). */
static int reset(struct svc_incr *si, const struct cluster *c)
{
	size_t nsl = 0;
	struct touched t = {};
	int err = 0;

	incr_clear(si);
	for (size_t i = 0; i < c->n[K8S_ENDPOINTSLICE]; i++)
		nsl += !!c->objs[K8S_ENDPOINTSLICE][i]->eps.service;
	if (slrefs_room(si, nsl))
		return -ENOMEM;
	/* The view is in (namespace, name) order: by_name as it comes. */
	for (size_t i = 0; i < c->n[K8S_ENDPOINTSLICE]; i++) {
		const struct k8s_object *o = c->objs[K8S_ENDPOINTSLICE][i];
		struct slref *r;

		if (!o->eps.service)
			continue;
		if (!(r = calloc(1, sizeof(*r))) || !(r->ns = strdup(o->meta.ns)) ||
		    !(r->name = strdup(o->meta.name)) || !(r->svc = strdup(o->eps.service))) {
			slref_free(r);
			return -ENOMEM;
		}
		si->by_name[si->nsl] = si->by_svc[si->nsl] = r;
		si->nsl++;
	}
	if (si->nsl)
		qsort(si->by_svc, si->nsl, sizeof(*si->by_svc), slref_cmp);
	/* Services appended in order: rebuild's search lands at the end each time. */
	for (size_t i = 0; i < c->n[K8S_SERVICE] && !err; i++) {
		const struct k8s_object *so = c->objs[K8S_SERVICE][i];

		err = rebuild(si, c, so->meta.ns, so->meta.name, &t);
	}
	free(t.v);
	si->rebuilt = c->n[K8S_SERVICE];
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
	if (!(r = calloc(1, sizeof(*r))) || !(r->ns = strdup(ns)) || !(r->name = strdup(name)) ||
	    !(r->svc = strdup(o->eps.service))) {
		slref_free(r);
		return -ENOMEM;
	}
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
		struct sent *s = sent_find(si, d->v[i], d->v[i + 1]);

		if (s && s->mark != si->gen) {
			s->mark = si->gen;
			if (!(err = xcni_grow(&said, &cap, nsaid, sizeof(s))))
				said[nsaid++] = s;
		}
	}
	for (size_t j = 0; j < t->n && !err; j++) {
		struct kent *k = t->v[j], **slot;
		const struct item *it = k->n ? &k->c[0].s->it.v[k->c[0].i] : NULL;
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
		slot = kent_slot(si, &k->key);
		*slot = k->next;
		free(k->c);
		free(k);
		si->nkeys--;
		t->v[j] = NULL;
	}
	if (nsaid)
		qsort(said, nsaid, sizeof(*said), sent_ptr_cmp);
	for (size_t i = 0; i < nsaid && !err; i++)
		err = sent_errs(si, said[i]);
	free(said);
	return err;
}

int svc_incr_update(struct svc_incr *si, const struct cluster *c, const struct svc_node *node,
		    unsigned int flags, const struct store_change *ch, size_t nch, bool all,
		    bool whole_list, const struct svc_delta **d)
{
	struct dirty dl = {};
	struct touched t = {};
	int err = 0;

	delta_clear(si);
	si->rebuilt = 0;
	si->gen++;
	*d = &si->d;
	/* Other addresses or options: every frontend may change. */
	if (!same_node(si, node, flags)) {
		if ((err = node_keep(si, node, flags)))
			goto out;
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
		if (i && !dirty_cmp(&dl.v[i - 2], &dl.v[i]))
			continue;
		err = rebuild(si, c, dl.v[i], dl.v[i + 1], &t);
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
	si->d.nrebuilt = si->rebuilt;
	/* Half followed: the next update starts over. */
	si->valid = !err;
	return err;
}

size_t svc_incr_refusals(const struct svc_incr *si, void (*refused)(void *ctx, const char *msg),
			 void (*bounded)(void *ctx, const char *ns, const char *reason,
					 const char *msg),
			 void *ctx)
{
	size_t n = 0;

	for (size_t j = 0; si->valid && j < si->nsvcs; j++) {
		const struct sent *s = si->svcs[j];

		for (size_t i = 0; i < s->it.n; i++) {
			const struct item *it = &s->it.v[i];
			const struct kent *k;
			char *m;

			if (it->err) {
				if (it->bound && bounded)
					bounded(ctx, s->ns, it->bound == SVC_BOUND_FRONTENDS ?
								    "frontends" : "backends",
						it->err);
				if (it->refused && refused)
					refused(ctx, it->err);
				n += it->refused;
				continue;
			}
			if (it->field != FIELD_EXTERNAL_IP)
				continue;
			k = *kent_slot(si, &it->fe.key);
			if (k->c[0].s == s && k->c[0].i == i)
				continue;
			n++;
			if (refused &&
			    (m = svc_clash_msg(it, s->ns, s->name, &k->c[0].s->it.v[k->c[0].i]))) {
				refused(ctx, m);
				free(m);
			}
		}
	}
	return n;
}
