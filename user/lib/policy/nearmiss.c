// SPDX-License-Identifier: Apache-2.0
/*
 * Selectors and near misses (nearmiss.h). The selection is the compiler's
 * (NetworkPolicy peers: a podSelector alone looks in the policy's own
 * namespace; a namespaceSelector in the namespaces it matches), worked out
 * again here over the view's pods, so a selector that selects nothing can be
 * told apart from one that selects others than the flow's peer, and why.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/policy/nearmiss.h"
#include "lib/system/clock.h"
#include "lib/system/editdist.h"
#include "lib/system/util.h"

void pol_nm_list_free(struct pol_nm_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].ids);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

size_t pol_nm_near(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d;
	const char *s, *l;
	size_t ls, ll;

	if (!strcmp(a, b))
		return 0;
	d = xcni_edit_distance(a, b);
	if (d == 1 || (d == 2 && la >= 6 && lb >= 6))
		return d;
	/* Words added: the shorter one is the longer's start or end at a separator. */
	s = la < lb ? a : b;
	l = la < lb ? b : a;
	ls = la < lb ? la : lb;
	ll = la < lb ? lb : la;
	if (ls >= 2 && ((!strncmp(l, s, ls) && strchr("-._/", l[ls])) ||
			(!strcmp(l + ll - ls, s) && strchr("-._/", l[ll - ls - 1]))))
		return ll - ls;
	return SIZE_MAX;
}

/* ---- the view ------------------------------------------------------------------ */

/* A pod the compiler gives an identity: an address of its own, not finished. */
static bool pod_counts(const struct k8s_pod *p)
{
	return !p->host_network && !k8s_pod_finished(p) && (p->ip || p->has_ip6);
}

/* One selector as the compiler reads it: pods of namespace own (ns_sel NULL)
 * or of the namespaces ns_sel matches, whose labels pod_sel matches (NULL: any). */
struct peer_sel {
	const char *own; /* NULL: every namespace (a CNP's subject without namespaces) */
	const struct k8s_selector *ns_sel, *pod_sel, *node_sel;
};

static bool sel_takes(const struct peer_sel *p, const char *ns, const struct k8s_labels *nsl,
		      const struct k8s_labels *pl)
{
	if (p->ns_sel ? !k8s_selector_matches(p->ns_sel, nsl) : p->own && strcmp(p->own, ns))
		return false;
	return !p->pod_sel || k8s_selector_matches(p->pod_sel, pl);
}

static bool sel_takes_pod(const struct cluster *c, const struct peer_sel *p, const struct k8s_pod *pod)
{
	return pod && sel_takes(p, pod->meta.ns, pol_ns_labels(c, pod->meta.ns), &pod->meta.labels);
}

/* ---- words ------------------------------------------------------------------------ */

/* "app=db,tier in (a,b),!x"; "{}" for a selector with no terms (everything). */
static void sel_words(const struct k8s_selector *s, char *buf, size_t len, size_t *o)
{
	const char *sep = "";

	if (!s->match_labels.n && !s->nexprs) {
		xcni_bufadd(buf, len, o, "{}");
		return;
	}
	for (size_t i = 0; i < s->match_labels.n; i++, sep = ",")
		xcni_bufadd(buf, len, o, "%s%s=%s", sep, s->match_labels.v[i].key, s->match_labels.v[i].value);
	for (size_t i = 0; i < s->nexprs; i++, sep = ",") {
		const struct k8s_sel_expr *e = &s->exprs[i];

		switch (e->op) {
		case K8S_SEL_EXISTS:
			xcni_bufadd(buf, len, o, "%s%s", sep, e->key);
			break;
		case K8S_SEL_DOES_NOT_EXIST:
			xcni_bufadd(buf, len, o, "%s!%s", sep, e->key);
			break;
		default:
			xcni_bufadd(buf, len, o, "%s%s %s (", sep, e->key, e->op == K8S_SEL_IN ? "in" : "notin");
			for (size_t j = 0; j < e->nvalues; j++)
				xcni_bufadd(buf, len, o, "%s%s", j ? "," : "", e->values[j]);
			xcni_bufadd(buf, len, o, ")");
		}
	}
}

static void peer_text(const struct peer_sel *p, bool cnp, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	if (p->node_sel) {
		xcni_bufadd(buf, len, &o, "nodes ");
		sel_words(p->node_sel, buf, len, &o);
		return;
	}
	if (cnp && !p->pod_sel) {
		xcni_bufadd(buf, len, &o, "namespaces ");
		sel_words(p->ns_sel, buf, len, &o);
		return;
	}
	if (p->ns_sel) {
		xcni_bufadd(buf, len, &o, "namespaceSelector ");
		sel_words(p->ns_sel, buf, len, &o);
	}
	if (p->pod_sel) {
		xcni_bufadd(buf, len, &o, "%spodSelector ", p->ns_sel ? ", " : "");
		sel_words(p->pod_sel, buf, len, &o);
	}
}

/* ---- the nearest label ------------------------------------------------------------- */

struct nearest {
	size_t dist; /* SIZE_MAX: none yet */
	const char *key, *value; /* value NULL: a key alone (an Exists term) */
	const char *want_key, *want_value; /* the term it stands in for */
};

/* Offers the label (k, v) for the term (wk, wv; wv NULL: Exists). */
static void near_try(struct nearest *b, const char *wk, const char *wv, const char *k, const char *v)
{
	size_t d;

	if (wv) {
		if (!strcmp(k, wk))
			d = pol_nm_near(wv, v);
		else if (!strcmp(v, wv))
			d = pol_nm_near(wk, k);
		else
			return;
	} else {
		d = pol_nm_near(wk, k);
		v = NULL;
	}
	if (!d || d == SIZE_MAX || d >= b->dist)
		return;
	*b = (struct nearest){ d, k, v, wk, wv };
}

/* Does any of the label sets hold (k, v) (v NULL: key k)? */
static bool any_has(const struct k8s_labels *const *ls, size_t n, const char *k, const char *v)
{
	for (size_t i = 0; i < n; i++) {
		const char *got = k8s_label_get(ls[i], k);

		if (got && (!v || !strcmp(got, v)))
			return true;
	}
	return false;
}

static size_t count_has(const struct k8s_labels *const *ls, size_t n, const char *k, const char *v)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		const char *got = k8s_label_get(ls[i], k);

		m += got && (!v || !strcmp(got, v));
	}
	return m;
}

/*
 * The label nearest a term of s that none of the sets ls holds: a key or a
 * value a slip away (pol_nm_near) among the labels they do have. "" when none.
 */
static void nearest_words(const struct k8s_selector *s, const struct k8s_labels *const *ls,
			  size_t n, const char *what, char *buf, size_t len)
{
	struct nearest b = { .dist = SIZE_MAX };
	size_t m;

	buf[0] = '\0';
	for (size_t t = 0; t < s->match_labels.n; t++) {
		const char *wk = s->match_labels.v[t].key, *wv = s->match_labels.v[t].value;

		if (any_has(ls, n, wk, wv))
			continue;
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < ls[i]->n; j++)
				near_try(&b, wk, wv, ls[i]->v[j].key, ls[i]->v[j].value);
	}
	for (size_t t = 0; t < s->nexprs; t++) {
		const struct k8s_sel_expr *e = &s->exprs[t];

		if (e->op == K8S_SEL_EXISTS && !any_has(ls, n, e->key, NULL)) {
			for (size_t i = 0; i < n; i++)
				for (size_t j = 0; j < ls[i]->n; j++)
					near_try(&b, e->key, NULL, ls[i]->v[j].key, NULL);
		} else if (e->op == K8S_SEL_IN) {
			for (size_t v = 0; v < e->nvalues; v++) {
				if (any_has(ls, n, e->key, e->values[v]))
					goto next; /* one value is there: the term is not the slip */
			}
			for (size_t v = 0; v < e->nvalues; v++)
				for (size_t i = 0; i < n; i++)
					for (size_t j = 0; j < ls[i]->n; j++)
						near_try(&b, e->key, e->values[v], ls[i]->v[j].key,
							 ls[i]->v[j].value);
		}
next:;
	}
	if (b.dist == SIZE_MAX)
		return;
	m = count_has(ls, n, b.key, b.value);
	if (b.value)
		snprintf(buf, len, "%s=%s has %zu", b.key, b.value, m);
	else
		snprintf(buf, len, "%s is on %zu %s%s", b.key, m, what, m == 1 ? "" : "s");
}

/*
 * Does s miss l by slips only: every term of s that l fails has a label of l
 * a slip away (pol_nm_near: a key or value typed wrong, words added), and at
 * least one fails? NotIn and DoesNotExist terms that fail are no slip.
 */
static bool sel_slips(const struct k8s_selector *s, const struct k8s_labels *l)
{
	size_t slips = 0;

	for (size_t t = 0; t < s->match_labels.n; t++) {
		const char *wk = s->match_labels.v[t].key, *wv = s->match_labels.v[t].value;
		const char *got = k8s_label_get(l, wk);
		struct nearest b = { .dist = SIZE_MAX };

		if (got && !strcmp(got, wv))
			continue;
		for (size_t j = 0; j < l->n; j++)
			near_try(&b, wk, wv, l->v[j].key, l->v[j].value);
		if (b.dist == SIZE_MAX)
			return false;
		slips++;
	}
	for (size_t t = 0; t < s->nexprs; t++) {
		const struct k8s_sel_expr *e = &s->exprs[t];
		struct k8s_selector one = { .nexprs = 1, .exprs = (struct k8s_sel_expr *)e };
		struct nearest b = { .dist = SIZE_MAX };

		if (k8s_selector_matches(&one, l))
			continue;
		for (size_t j = 0; j < l->n; j++) {
			if (e->op == K8S_SEL_EXISTS)
				near_try(&b, e->key, NULL, l->v[j].key, NULL);
			for (size_t v = 0; e->op == K8S_SEL_IN && v < e->nvalues; v++)
				near_try(&b, e->key, e->values[v], l->v[j].key, l->v[j].value);
		}
		if (b.dist == SIZE_MAX)
			return false;
		slips++;
	}
	return slips > 0;
}

/*
 * Is a peer that does not take the flow's other end a near miss, a denial
 * no rule intends (docs/flows.md "Near misses")? Only when it nearly names
 * other: its selectors miss other's labels (its namespace's) by slips
 * (sel_slips), or a podSelector alone, with terms, matches other in another
 * namespace (the namespaceSelector forgotten). A selector naming another app
 * (app=frontend, the peer app=db), a namespaceSelector far from the peer's,
 * a peer that is no pod: the denial the rule means, not named on the flow.
 */
static bool near_peer(const struct cluster *c, const struct peer_sel *p, const struct k8s_pod *other)
{
	const struct k8s_labels *nsl, *pl;
	bool ns_ok, pod_ok;

	if (!other)
		return false;
	nsl = pol_ns_labels(c, other->meta.ns);
	pl = &other->meta.labels;
	ns_ok = p->ns_sel ? k8s_selector_matches(p->ns_sel, nsl) : !p->own || !strcmp(p->own, other->meta.ns);
	pod_ok = !p->pod_sel || k8s_selector_matches(p->pod_sel, pl);
	if (ns_ok)
		return !pod_ok && sel_slips(p->pod_sel, pl);
	if (!pod_ok)
		return false;
	if (p->ns_sel)
		return sel_slips(p->ns_sel, nsl);
	return p->pod_sel && (p->pod_sel->match_labels.n || p->pod_sel->nexprs);
}

/* ---- one selector ----------------------------------------------------------------- */

/* Label sets into a growing array. */
struct lsets {
	size_t n, cap;
	const struct k8s_labels **v;
};

static int lsets_add(struct lsets *s, const struct k8s_labels *l)
{
	if (XCNI_GROW(s->v, s->n, s->cap))
		return -ENOMEM;
	s->v[s->n++] = l;
	return 0;
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* A nodes peer: how many nodes it selects, the nearest label when none. */
static int sel_nodes(const struct cluster *c, const struct peer_sel *p, struct pol_nm_sel *x)
{
	struct lsets nl = { 0 };
	char near[300];

	x->nodes = true;
	for (size_t i = 0; i < c->n[K8S_NODE]; i++)
		x->npods += k8s_selector_matches(p->node_sel, &c->objs[K8S_NODE][i]->meta.labels);
	if (x->npods)
		return 0;
	for (size_t i = 0; i < c->n[K8S_NODE]; i++)
		if (lsets_add(&nl, &c->objs[K8S_NODE][i]->meta.labels)) {
			free(nl.v);
			return -ENOMEM;
		}
	nearest_words(p->node_sel, nl.v, nl.n, "node", near, sizeof(near));
	snprintf(x->note, sizeof(x->note), "selects no node%s%s%s", near[0] ? " (" : "", near,
		 near[0] ? ")" : "");
	free(nl.v);
	return 0;
}

/*
 * What is wrong with x, into x->note: a namespaceSelector matching no
 * namespace (nsl: every namespace's labels), no pod selected (scope: the
 * labels of the pods it looks at; other_ns: pods of other namespaces its
 * podSelector matches), or (flow) pods selected but not other.
 */
static void sel_note(const struct cluster *c, const struct peer_sel *p, struct pol_nm_sel *x,
		     const struct k8s_pod *other, bool flow, const struct lsets *nsl,
		     const struct lsets *scope, size_t other_ns)
{
	char near[300];

	if (p->ns_sel && !x->nns) {
		nearest_words(p->ns_sel, nsl->v, nsl->n, "namespace", near, sizeof(near));
		snprintf(x->note, sizeof(x->note), "namespaceSelector matches no namespace%s%s%s",
			 near[0] ? " (" : "", near, near[0] ? ")" : "");
	} else if (!x->npods) {
		size_t o = 0;

		xcni_bufadd(x->note, sizeof(x->note), &o, "selects no pod");
		near[0] = '\0';
		if (p->pod_sel)
			nearest_words(p->pod_sel, scope->v, scope->n, "pod", near, sizeof(near));
		if (near[0])
			xcni_bufadd(x->note, sizeof(x->note), &o, " (%s)", near);
		else if (other_ns && !p->ns_sel)
			xcni_bufadd(x->note, sizeof(x->note), &o,
			    " (%zu %s of other namespaces %s: a podSelector alone looks in %s only)",
			    other_ns, plural(other_ns, "pod", "pods"), plural(other_ns, "matches", "match"),
			    p->own);
		else if (!scope->n && !p->ns_sel && p->own)
			xcni_bufadd(x->note, sizeof(x->note), &o, " (namespace %s has no pod)", p->own);
	} else if (flow && other && !sel_takes_pod(c, p, other)) {
		size_t o = 0;
		const struct k8s_labels *ol = &other->meta.labels;

		xcni_bufadd(x->note, sizeof(x->note), &o, "selects %zu %s, not %s/%s", x->npods,
		    plural(x->npods, "pod", "pods"), other->meta.ns, other->meta.name);
		if (!p->ns_sel && p->own && strcmp(p->own, other->meta.ns)) {
			xcni_bufadd(x->note, sizeof(x->note), &o,
			    " (it is in namespace %s; a podSelector alone looks in %s only)",
			    other->meta.ns, p->own);
		} else if (p->ns_sel &&
			   !k8s_selector_matches(p->ns_sel, pol_ns_labels(c, other->meta.ns))) {
			xcni_bufadd(x->note, sizeof(x->note), &o,
			    " (its namespace %s does not match the namespaceSelector)", other->meta.ns);
		} else if (p->pod_sel) {
			nearest_words(p->pod_sel, &ol, 1, "pod", near, sizeof(near));
			if (near[0]) {
				/* "app=backend has 1": the peer's own label */
				char *h = strstr(near, " has ");

				if (h)
					*h = '\0';
				xcni_bufadd(x->note, sizeof(x->note), &o, " (it has %s)", near);
			}
		}
	} else if (flow && !other) {
		snprintf(x->note, sizeof(x->note), "selects %zu %s; the peer is no pod", x->npods,
			 plural(x->npods, "pod", "pods"));
	}
}

/*
 * x's counts, identities, first pods and note. other: the flow's peer the
 * selector was meant to take (NULL: none; a near miss with no pod at the
 * other end), for the note.
 */
static int sel_fill(const struct cluster *c, const struct pol_result *r, const struct peer_sel *p,
		    struct pol_nm_sel *x, const struct k8s_pod *other, bool flow)
{
	struct lsets nsl = { 0 }, scope = { 0 };
	size_t other_ns = 0;
	int err = -ENOMEM;

	x->nns = SIZE_MAX;
	if (p->node_sel) {
		err = sel_nodes(c, p, x);
		goto out;
	}
	if (p->ns_sel) {
		x->nns = 0;
		for (size_t i = 0; i < c->n[K8S_NAMESPACE]; i++) {
			const struct k8s_labels *l = &c->objs[K8S_NAMESPACE][i]->meta.labels;

			if (lsets_add(&nsl, l))
				goto out;
			x->nns += k8s_selector_matches(p->ns_sel, l);
		}
	}
	for (size_t i = 0; i < c->n[K8S_POD]; i++) {
		const struct k8s_pod *pod = &c->objs[K8S_POD][i]->pod;
		const struct k8s_labels *l = pol_ns_labels(c, pod->meta.ns);
		bool in_scope;

		if (!pod_counts(pod))
			continue;
		in_scope = p->ns_sel ? k8s_selector_matches(p->ns_sel, l) :
				       !p->own || !strcmp(p->own, pod->meta.ns);
		if (in_scope && lsets_add(&scope, &pod->meta.labels))
			goto out;
		if (!in_scope && p->pod_sel && k8s_selector_matches(p->pod_sel, &pod->meta.labels))
			other_ns++;
		if (!sel_takes(p, pod->meta.ns, l, &pod->meta.labels))
			continue;
		if (x->nsel < NM_PODS_MAX)
			x->sel[x->nsel++] = pod;
		x->npods++;
	}
	for (size_t i = 0; r && i < r->nidentities; i++) {
		const struct identity *id = &r->identities[i];
		uint32_t *v;

		if (!id->ns || !sel_takes(p, id->ns, &id->ns_labels, &id->pod_labels))
			continue;
		v = realloc(x->ids, (x->nids + 1) * sizeof(*v));
		if (!v)
			goto out;
		x->ids = v;
		x->ids[x->nids++] = id->id;
	}
	err = 0;
	sel_note(c, p, x, other, flow, &nsl, &scope, other_ns);
out:
	free(nsl.v);
	free(scope.v);
	return err;
}

static int list_add(struct pol_nm_list *l, const struct pol_nm_sel *x)
{
	struct pol_nm_sel *v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	l->v[l->n++] = *x;
	return 0;
}

/* x with p's words and selection, appended to out. */
static int add_sel(const struct cluster *c, const struct pol_result *r, struct pol_nm_list *out,
		   struct pol_nm_sel *x, const struct peer_sel *p, const struct k8s_pod *other, bool flow)
{
	int err;

	peer_text(p, x->tier != NM_NP, x->text, sizeof(x->text));
	if ((err = sel_fill(c, r, p, x, other, flow)) || (err = list_add(out, x))) {
		free(x->ids);
		return err;
	}
	return 0;
}

/* ---- every selector ------------------------------------------------------------------- */

static const char *const cnp_actions[] = { [K8S_CNP_ACCEPT] = "allow", [K8S_CNP_DENY] = "deny",
					   [K8S_CNP_PASS] = "pass" };

static int np_selectors(const struct cluster *c, const struct pol_result *r,
			const struct k8s_netpol *np, struct pol_nm_list *out)
{
	struct pol_nm_sel base = { .tier = NM_NP, .ns = np->meta.ns, .name = np->meta.name,
			       .part = NM_SUBJECT, .rule = -1, .peer = -1 };
	struct peer_sel p = { .own = np->meta.ns, .pod_sel = &np->pod_sel };
	struct pol_nm_sel x0 = base;
	int err;

	if ((err = add_sel(c, r, out, &x0, &p, NULL, false)))
		return err;
	for (int d = 0; d < 2; d++) {
		const struct k8s_np_rule *rules = d ? np->egress : np->ingress;
		size_t nr = d ? np->negress : np->ningress;

		for (size_t i = 0; i < nr; i++)
			for (size_t j = 0; j < rules[i].npeers; j++) {
				const struct k8s_np_peer *pe = &rules[i].peers[j];
				struct pol_nm_sel x = base;

				if (pe->ipblock)
					continue;
				x.part = d ? NM_EGRESS : NM_INGRESS;
				x.rule = (int)i;
				x.peer = (int)j;
				x.action = "allow";
				p = (struct peer_sel){ .own = np->meta.ns, .ns_sel = pe->ns_sel,
						       .pod_sel = pe->pod_sel };
				if ((err = add_sel(c, r, out, &x, &p, NULL, false)))
					return err;
			}
	}
	return 0;
}

static struct peer_sel cnp_peer(const struct k8s_cnp_peer *pe)
{
	return (struct peer_sel){ .ns_sel = pe->ns_sel, .pod_sel = pe->pod_sel,
				  .node_sel = pe->node_sel };
}

static int cnp_selectors(const struct cluster *c, const struct pol_result *r,
			 const struct k8s_cnp *cp, struct pol_nm_list *out)
{
	struct pol_nm_sel base = { .tier = cp->tier == K8S_CNP_ADMIN ? NM_ADMIN : NM_BASELINE,
			       .name = cp->meta.name, .priority = cp->priority,
			       .part = NM_SUBJECT, .rule = -1, .peer = -1 };
	struct peer_sel p = { .ns_sel = cp->subj_ns, .pod_sel = cp->subj_pod };
	struct pol_nm_sel x = base;
	int err;

	/* A subject of pods: "pods namespaceSelector X, podSelector Y" (peer_text's NP words). */
	peer_text(&p, !cp->subj_pod, x.text, sizeof(x.text));
	if ((err = sel_fill(c, r, &p, &x, NULL, false)) || (err = list_add(out, &x))) {
		free(x.ids);
		return err;
	}
	for (int d = 0; d < 2; d++) {
		const struct k8s_cnp_rule *rules = d ? cp->egress : cp->ingress;
		size_t nr = d ? cp->negress : cp->ningress;

		for (size_t i = 0; i < nr; i++)
			for (size_t j = 0; j < rules[i].npeers; j++) {
				const struct k8s_cnp_peer *pe = &rules[i].peers[j];

				if (pe->unknown || (!pe->ns_sel && !pe->node_sel))
					continue; /* networks: no selector */
				x = base;
				x.part = d ? NM_EGRESS : NM_INGRESS;
				x.rule = (int)i;
				x.peer = (int)j;
				x.rule_name = rules[i].name;
				x.action = cnp_actions[rules[i].action];
				p = cnp_peer(pe);
				if ((err = add_sel(c, r, out, &x, &p, NULL, false)))
					return err;
			}
	}
	return 0;
}

int pol_nm_selectors(const struct cluster *c, const struct pol_result *r, struct pol_nm_list *out)
{
	const struct k8s_cnp **cnps = NULL;
	int err = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; !err && i < c->n[K8S_NETWORKPOLICY]; i++)
		err = np_selectors(c, r, &c->objs[K8S_NETWORKPOLICY][i]->np, out);
	if (!err)
		err = pol_cnps_sorted(c, &cnps);
	for (size_t i = 0; !err && i < c->n[K8S_CLUSTERNETPOL]; i++)
		err = cnp_selectors(c, r, cnps[i], out);
	free(cnps);
	if (err)
		pol_nm_list_free(out);
	return err;
}

/* ---- near misses -------------------------------------------------------------------- */

/* The container port named name of proto on pod (host order), 0 if none. */
static uint16_t named_port(const struct k8s_pod *pod, const char *name, uint8_t proto)
{
	for (size_t i = 0; pod && i < pod->nports; i++)
		if (pod->ports[i].name && !strcmp(pod->ports[i].name, name) &&
		    (!proto || pod->ports[i].proto == proto))
			return pod->ports[i].port;
	return 0;
}

static bool np_ports_take(const struct k8s_np_rule *rule, const struct k8s_pod *dst, uint8_t proto,
			  uint16_t port)
{
	if (!rule->nports)
		return true;
	for (size_t i = 0; i < rule->nports; i++) {
		const struct k8s_np_port *p = &rule->ports[i];
		uint16_t lo = p->port, hi = p->end_port ? p->end_port : p->port;

		if (p->proto != proto)
			continue;
		if (!p->has_port)
			return true;
		if (p->port_name)
			lo = hi = named_port(dst, p->port_name, proto);
		if (lo && port >= lo && port <= hi)
			return true;
	}
	return false;
}

static bool cnp_ports_take(const struct k8s_cnp_rule *rule, const struct k8s_pod *dst,
			   uint8_t proto, uint16_t port)
{
	if (!rule->nprotos)
		return true;
	for (size_t i = 0; i < rule->nprotos; i++) {
		const struct k8s_cnp_proto *p = &rule->protos[i];
		uint16_t lo = p->port, hi = p->end_port;

		if (p->port_name) {
			if ((lo = hi = named_port(dst, p->port_name, proto)) && port == lo)
				return true;
			continue;
		}
		if (p->proto != proto)
			continue;
		if (!lo || (port >= lo && port <= hi))
			return true;
	}
	return false;
}

int pol_nm_near_misses(const struct cluster *c, const struct pol_result *r, const struct k8s_pod *self,
		   const struct k8s_pod *other, enum nm_part dir, uint8_t proto, uint16_t port,
		   struct pol_nm_list *out)
{
	const struct k8s_labels *snl = pol_ns_labels(c, self->meta.ns);
	const struct k8s_pod *dst = dir == NM_INGRESS ? self : other;
	const struct k8s_cnp **cnps = NULL;
	int err = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; !err && i < c->n[K8S_NETWORKPOLICY]; i++) {
		const struct k8s_netpol *np = &c->objs[K8S_NETWORKPOLICY][i]->np;
		const struct k8s_np_rule *rules = dir == NM_INGRESS ? np->ingress : np->egress;
		size_t nr = dir == NM_INGRESS ? np->ningress : np->negress;

		if (strcmp(np->meta.ns, self->meta.ns) ||
		    !(dir == NM_INGRESS ? np->type_ingress : np->type_egress) ||
		    !k8s_selector_matches(&np->pod_sel, &self->meta.labels))
			continue;
		for (size_t ri = 0; !err && ri < nr; ri++) {
			if (proto && !np_ports_take(&rules[ri], dst, proto, port))
				continue;
			for (size_t j = 0; !err && j < rules[ri].npeers; j++) {
				const struct k8s_np_peer *pe = &rules[ri].peers[j];
				struct peer_sel p = { .own = np->meta.ns, .ns_sel = pe->ns_sel,
						      .pod_sel = pe->pod_sel };
				struct pol_nm_sel x = { .tier = NM_NP, .ns = np->meta.ns,
						    .name = np->meta.name, .part = dir,
						    .rule = (int)ri, .peer = (int)j, .action = "allow" };

				if (pe->ipblock || sel_takes_pod(c, &p, other) ||
				    (proto && !near_peer(c, &p, other)))
					continue;
				err = add_sel(c, r, out, &x, &p, other, proto);
			}
		}
	}
	if (!err)
		err = pol_cnps_sorted(c, &cnps);
	for (size_t i = 0; !err && i < c->n[K8S_CLUSTERNETPOL]; i++) {
		const struct k8s_cnp *cp = cnps[i];
		const struct k8s_cnp_rule *rules = dir == NM_INGRESS ? cp->ingress : cp->egress;
		size_t nr = dir == NM_INGRESS ? cp->ningress : cp->negress;

		if ((cp->subj_ns && !k8s_selector_matches(cp->subj_ns, snl)) ||
		    (cp->subj_pod && !k8s_selector_matches(cp->subj_pod, &self->meta.labels)))
			continue;
		for (size_t ri = 0; !err && ri < nr; ri++) {
			if (rules[ri].action != K8S_CNP_ACCEPT ||
			    (proto && !cnp_ports_take(&rules[ri], dst, proto, port)))
				continue;
			for (size_t j = 0; !err && j < rules[ri].npeers; j++) {
				const struct k8s_cnp_peer *pe = &rules[ri].peers[j];
				struct peer_sel p = cnp_peer(pe);
				struct pol_nm_sel x = {
					.tier = cp->tier == K8S_CNP_ADMIN ? NM_ADMIN : NM_BASELINE,
					.name = cp->meta.name, .priority = cp->priority, .part = dir,
					.rule = (int)ri, .peer = (int)j, .rule_name = rules[ri].name,
					.action = "allow"
				};

				if (pe->unknown || !pe->ns_sel || sel_takes_pod(c, &p, other) ||
				    (proto && !near_peer(c, &p, other)))
					continue; /* networks, nodes: no pod peer */
				err = add_sel(c, r, out, &x, &p, other, proto);
			}
		}
	}
	free(cnps);
	if (err)
		pol_nm_list_free(out);
	return err;
}

const char *pol_nm_policy_name(const struct pol_nm_sel *s, char *buf, size_t len)
{
	if (s->tier == NM_NP)
		snprintf(buf, len, "%s/%s", s->ns, s->name);
	else
		snprintf(buf, len, "%s %u %s", s->tier == NM_ADMIN ? "Admin" : "Baseline", s->priority,
			 s->name);
	return buf;
}

const char *pol_nm_sentence(const struct pol_nm_sel *s, char *buf, size_t len)
{
	char pn[400], rule[128] = "";
	size_t o = 0;

	pol_nm_policy_name(s, pn, sizeof(pn));
	if (s->part != NM_SUBJECT)
		snprintf(rule, sizeof(rule), " rule %d%s%s%s", s->rule, s->rule_name ? " \"" : "",
			 s->rule_name ? s->rule_name : "", s->rule_name ? "\"" : "");
	xcni_bufadd(buf, len, &o, "%s%s: %s %s", pn, rule,
	    s->part == NM_SUBJECT ? "applies to" : s->part == NM_INGRESS ? "from" : "to", s->text);
	if (s->note[0])
		xcni_bufadd(buf, len, &o, " \xe2\x80\x94 %s", s->note);
	else
		xcni_bufadd(buf, len, &o, " \xe2\x80\x94 selects %zu %s%s", s->npods,
		    s->nodes ? "node" : "pod", s->npods == 1 ? "" : "s");
	return buf;
}

size_t pol_nm_join(const struct pol_nm_list *l, bool empty_only, char *buf, size_t len)
{
	size_t o = 0, k = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		char one[1200];

		if (empty_only && l->v[i].npods)
			continue;
		xcni_bufadd(buf, len, &o, "%s%s", k++ ? "; " : "", pol_nm_sentence(&l->v[i], one, sizeof(one)));
	}
	return k;
}

enum nm_gate pol_nm_gate(struct pol_nm_budget *b, const char *key, uint64_t now_ns)
{
	if (!strcmp(key, b->key))
		return NM_KEPT;
	if (now_ns - b->window_ns >= 1000000000ull) {
		b->window_ns = now_ns;
		b->spent_ns = 0;
	}
	if (b->spent_ns < b->limit_ns)
		return NM_WALK;
	b->skipped++;
	return NM_SKIP;
}

int pol_nm_charge(struct pol_nm_budget *b, const char *key, uint64_t t0_ns, int err)
{
	b->spent_ns += xcni_mono_ns() - t0_ns;
	b->walks++;
	/* Out of memory: not kept, asked again next time. */
	snprintf(b->key, sizeof(b->key), "%s", err ? "" : key);
	return err ?: NM_KEPT;
}
