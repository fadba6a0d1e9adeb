// SPDX-License-Identifier: Apache-2.0
/*
 * The NetworkPolicy compiler (networking.k8s.io/v1 semantics) for one
 * endpoint: ports and named ports, peers by labels (the label index and the
 * peer memo), ipBlocks and their excepts grouped into CIDR rules, and the
 * entries they make (pol_compile_np). The tiers laid over them are
 * policy_cnp.c's; the whole cluster's compile is policy.c's.
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
#include "lib/system/hash.h"
#include "lib/policy/policy.h"
#include "lib/policy/policy_int.h"

struct labix {
	uint32_t h; /* label_hash() */
	/* The identity's number, not its index: the incremental compiler keeps
	 * the index across updates, and a new identity moves the indexes. */
	uint32_t id;
};

struct peer_memo {
	const struct k8s_np_peer *peer; /* NULL: free slot */
	size_t n;
	size_t *ids; /* indices into r->identities */
};

/* ---- ports ------------------------------------------------------------ */

static int specs_add_port(struct specs *s, const struct k8s_np_port *p)
{
	if (!p->has_port)
		return pol_specs_add(s, p->proto, 0, POL_PREFIX_ANY_PORT);
	return pol_specs_add_range(s, p->proto, p->port, p->end_port > p->port ? p->end_port : p->port);
}

/* A named port means the pod's container port of that name and protocol. */
static int specs_add_named(struct specs *s, const struct k8s_pod *pod, const struct k8s_np_port *p)
{
	for (size_t i = 0; i < pod->nports; i++) {
		const struct k8s_container_port *cp = &pod->ports[i];
		int ret;

		if (!cp->name || strcmp(cp->name, p->port_name) || cp->proto != p->proto)
			continue;
		ret = pol_specs_add(s, p->proto, cp->port, POL_PREFIX_FULL);
		if (ret)
			return ret;
	}
	return 0;
}

/* Every named port of rule r, resolved against pod. */
static int specs_add_rule_named(struct specs *s, const struct k8s_pod *pod,
				const struct k8s_np_rule *r)
{
	for (size_t i = 0; i < r->nports; i++) {
		int ret;

		if (!r->ports[i].port_name)
			continue;
		ret = specs_add_named(s, pod, &r->ports[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- one endpoint ------------------------------------------------------ */

struct rule_ref {
	uint32_t policy_id;
	uint16_t rule;
	uint32_t seq;
};

static int emit(struct epbuild *eb, uint32_t peer, const struct specs *s, const struct rule_ref *rr)
{
	struct xcni_policy_val val = { .policy_id = rr->policy_id, .rule = rr->rule };

	for (size_t i = 0; i < s->n; i++) {
		if (xcni_grow(&eb->c, &eb->cap, eb->n, sizeof(*eb->c)))
			return -ENOMEM;
		eb->c[eb->n++] =
			(struct cand){ pol_entry_make(eb->ip, eb->dir, peer, &s->v[i], val), rr->seq };
	}
	return 0;
}

/*
 * Egress to a named port of the pods of identity k: the union of the ports
 * those pods give that name. Policy keys know identities, not pods, so two
 * pods with the same labels that number one name differently both accept
 * both numbers from this rule: an over-allow Cilium shares.
 */
static int emit_named_identity(const struct pol_ctx *x, struct epbuild *eb, size_t k,
			       const struct k8s_np_rule *r, const struct rule_ref *rr)
{
	struct specs s = { 0 };
	int ret = 0;

	for (size_t j = 0; !ret && j < pol_id_npods(x, k); j++)
		ret = specs_add_rule_named(&s, x->idp[k]->v[j].pod, r);
	if (!ret)
		ret = emit(eb, x->r->identities[k].id, &s, rr);
	free(s.v);
	return ret;
}

bool pol_np_peer_matches(const struct k8s_np_peer *peer, const char *policy_ns,
			 const struct identity *id)
{
	if (!peer->pod_sel && !peer->ns_sel)
		return false;
	/* A podSelector alone looks in the policy's own namespace only. */
	if (!peer->ns_sel && pol_cmp_str(id->ns, policy_ns))
		return false;
	if (peer->ns_sel && !k8s_selector_matches(peer->ns_sel, &id->ns_labels))
		return false;
	return !peer->pod_sel || k8s_selector_matches(peer->pod_sel, &id->pod_labels);
}

/* side: 'p' for a pod label, 'n' for a namespace label. */
static uint32_t label_hash(char side, const char *key, const char *value)
{
	uint32_t h = xcni_fnv32_str(xcni_fnv32(XCNI_FNV32_BASIS, &side, 1), key);

	return xcni_fnv32_str(xcni_fnv32(h, "=", 1), value);
}

static int cmp_labix(const void *a, const void *b)
{
	const struct labix *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Appends identity id's (label, identity) pairs to v at *n. */
static void labix_of(struct labix *v, size_t *n, const struct identity *id)
{
	for (size_t i = 0; i < id->pod_labels.n; i++)
		v[(*n)++] = (struct labix){
			label_hash('p', id->pod_labels.v[i].key, id->pod_labels.v[i].value), id->id };
	for (size_t i = 0; i < id->ns_labels.n; i++)
		v[(*n)++] = (struct labix){
			label_hash('n', id->ns_labels.v[i].key, id->ns_labels.v[i].value), id->id };
}

int pol_labix_build(struct pol_ctx *x)
{
	size_t n = 0;

	for (size_t k = 0; k < x->r->nidentities; k++)
		n += x->r->identities[k].pod_labels.n + x->r->identities[k].ns_labels.n;
	x->labix = malloc((n ? n : 1) * sizeof(*x->labix));
	if (!x->labix)
		return -ENOMEM;
	for (size_t k = 0; k < x->r->nidentities; k++)
		labix_of(x->labix, &x->nlabix, &x->r->identities[k]);
	qsort(x->labix, x->nlabix, sizeof(*x->labix), cmp_labix);
	return 0;
}

int pol_labix_update(struct labix **ix, size_t *n, const struct pol_result *r, const uint32_t *del,
		     size_t ndel, const struct pol_idput *put, size_t nput)
{
	size_t nadd = 0, cap = 0, i = 0, j = 0, u = 0;
	uint32_t *dead = NULL;
	struct labix *add = NULL, *v = NULL;
	int ret = -ENOMEM;

	for (size_t k = 0; k < nput; k++) {
		const struct identity *id = pol_identity_find(r, put[k].id);

		if (id)
			cap += id->pod_labels.n + id->ns_labels.n;
	}
	add = malloc((cap ? cap : 1) * sizeof(*add));
	dead = malloc((ndel ? ndel : 1) * sizeof(*dead));
	v = malloc((*n + cap ? *n + cap : 1) * sizeof(*v));
	if (!add || !dead || !v)
		goto out;
	for (size_t k = 0; k < nput; k++) {
		const struct identity *id = pol_identity_find(r, put[k].id);

		if (id)
			labix_of(add, &nadd, id);
	}
	qsort(add, nadd, sizeof(*add), cmp_labix);
	if (ndel) { /* del may be NULL with nothing in it: memcpy's arguments must not be */
		memcpy(dead, del, ndel * sizeof(*dead));
		qsort(dead, ndel, sizeof(*dead), pol_cmp_u32);
	}
	/* Both sorted: one merge, the dead left out. */
	while (i < *n || j < nadd) {
		bool old = j == nadd || (i < *n && cmp_labix(&(*ix)[i], &add[j]) < 0);
		const struct labix *e = old ? &(*ix)[i++] : &add[j++];

		if (old && ndel && bsearch(&e->id, dead, ndel, sizeof(*dead), pol_cmp_u32))
			continue;
		v[u++] = *e;
	}
	free(*ix);
	*ix = v;
	*n = u;
	v = NULL;
	ret = 0;
out:
	free(v);
	free(add);
	free(dead);
	return ret;
}

/*
 * The candidates for a peer: the identities with its first matchLabels label
 * (a superset of the matches; hash collisions only add candidates), or all.
 */
static void peer_candidates(const struct pol_ctx *x, const struct k8s_np_peer *peer,
			    const struct labix **first, size_t *n)
{
	const struct k8s_selector *sel = peer->pod_sel && peer->pod_sel->match_labels.n ?
						 peer->pod_sel :
						 peer->ns_sel;
	char side = sel == peer->pod_sel ? 'p' : 'n';
	size_t lo = 0, hi = x->nlabix;
	uint32_t h;

	*first = NULL;
	if (!sel || !sel->match_labels.n)
		return;
	h = label_hash(side, sel->match_labels.v[0].key, sel->match_labels.v[0].value);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (x->labix[mid].h < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = &x->labix[lo];
	for (*n = 0; lo + *n < x->nlabix && x->labix[lo + *n].h == h; (*n)++)
		;
}

static size_t memo_hash(const struct k8s_np_peer *peer)
{
	return ((uintptr_t)peer >> 4) * 0x9e3779b97f4a7c15ULL;
}

/* The memo twice as large, its entries moved over (the ids arrays stay theirs). */
static int memo_grow(struct pol_ctx *x)
{
	size_t cap = x->memo_cap * 2, mask = cap - 1;
	struct peer_memo *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < x->memo_cap; i++) {
		size_t h;

		if (!x->memo[i].peer)
			continue;
		for (h = memo_hash(x->memo[i].peer) & mask; v[h].peer; h = (h + 1) & mask)
			;
		v[h] = x->memo[i];
	}
	free(x->memo);
	x->memo = v;
	x->memo_cap = cap;
	return 0;
}

/*
 * The identities a selector peer of a policy in policy_ns matches (memoised).
 * The memo is a cache inside the const context: it grows as peers come (kept
 * at most half full), rather than being sized for every peer of every policy
 * up front: an incremental update looks at a few policies' peers, and
 * allocating and clearing a table for the 1000 policies' was a good part of a
 * birth's or one pod's compile at 100k pods. The returned entry is valid
 * until the next call.
 */
static const struct peer_memo *peer_ids(const struct pol_ctx *x, const struct k8s_np_peer *peer,
					const char *policy_ns)
{
	struct pol_ctx *mx = (struct pol_ctx *)x;
	size_t mask = x->memo_cap - 1, h = memo_hash(peer), ncand;
	const struct labix *cand;
	struct peer_memo *m;

	for (h &= mask;; h = (h + 1) & mask) {
		m = &x->memo[h];
		if (m->peer == peer)
			return m;
		if (!m->peer)
			break;
	}
	if (2 * (x->memo_n + 1) > x->memo_cap) {
		if (memo_grow(mx))
			return NULL;
		for (mask = x->memo_cap - 1, h = memo_hash(peer) & mask; x->memo[h].peer;
		     h = (h + 1) & mask)
			;
		m = &x->memo[h];
	}
	m->ids = malloc((x->r->nidentities ? x->r->nidentities : 1) * sizeof(*m->ids));
	if (!m->ids)
		return NULL;
	m->peer = peer;
	m->n = 0;
	mx->memo_n++;
	peer_candidates(x, peer, &cand, &ncand);
	if (cand) {
		/* In identity order (the numbers' order), as the full walk would give them. */
		for (size_t j = 0; j < ncand; j++) {
			const struct identity *id = pol_identity_find(x->r, cand[j].id);

			if (id && pol_np_peer_matches(peer, policy_ns, id))
				m->ids[m->n++] = (size_t)(id - x->r->identities);
		}
		return m;
	}
	for (size_t k = 0; k < x->r->nidentities; k++)
		if (pol_np_peer_matches(peer, policy_ns, &x->r->identities[k]))
			m->ids[m->n++] = k;
	return m;
}

int pol_memo_init(struct pol_ctx *x)
{
	/* A power of two; peer_ids doubles it when half full. */
	x->memo_cap = 16;
	x->memo_n = 0;
	x->memo = calloc(x->memo_cap, sizeof(*x->memo));
	return x->memo ? 0 : -ENOMEM;
}

void pol_memo_free(struct pol_ctx *x)
{
	for (size_t i = 0; x->memo && i < x->memo_cap; i++)
		free(x->memo[i].ids);
	free(x->memo);
	x->memo = NULL;
}

static bool cidr_rule_covers(const struct cidr_rule *cr, const struct xcni_prefix *p)
{
	if (!xcni_prefix_inside(p, &cr->cidr))
		return false;
	for (size_t i = 0; i < cr->nexcept; i++)
		if (xcni_prefix_inside(p, &cr->except[i]))
			return false;
	return true;
}

/* Takes s (moved into the rule, freed on failure). */
static int cidr_rule_add(struct epbuild *eb, struct xcni_prefix cidr, size_t nexcept,
			 const struct xcni_prefix *except, struct specs *s, const struct rule_ref *rr)
{
	struct cidr_rule *cr;

	if (xcni_grow(&eb->cr, &eb->capcr, eb->ncr, sizeof(*eb->cr))) {
		free(s->v);
		return -ENOMEM;
	}
	cr = &eb->cr[eb->ncr++];
	cr->cidr = cidr;
	cr->nexcept = nexcept;
	cr->except = except;
	cr->specs = *s;
	cr->policy_id = rr->policy_id;
	cr->rule = rr->rule;
	cr->seq = rr->seq;
	return 0;
}

static int ipblock_add(const struct pol_ctx *x, struct epbuild *eb, const struct k8s_ipblock *b,
		       const struct specs *fixed, bool named, const struct k8s_np_rule *r,
		       const struct rule_ref *rr)
{
	struct specs s = { 0 };
	int ret;

	if (fixed->n) {
		s.v = malloc(fixed->n * sizeof(*s.v));
		if (!s.v)
			return -ENOMEM;
		memcpy(s.v, fixed->v, fixed->n * sizeof(*s.v));
		s.n = s.cap = fixed->n;
	}
	ret = cidr_rule_add(eb, b->cidr, b->nexcept, b->except, &s, rr);
	if (ret || !named || (ret = pol_ctx_pods(x)))
		return ret;
	/*
	 * Egress to a named port of an ipBlock: only pods can name ports, so
	 * each pod inside the block that has the name gets its own /32 (/128
	 * for an IPv6 block) rule allowing its own numbers; these join the LPM
	 * prefixes below.
	 */
	for (size_t i = 0; i < x->npods; i++) {
		const struct k8s_pod *p = x->pods[i];
		struct xcni_prefix host = xcni_prefix_host(p->ip, b->cidr.family == 6 ? p->ip6 : NULL);
		struct cidr_rule block = {
			.cidr = b->cidr, .nexcept = b->nexcept, .except = b->except
		};

		if (!pol_pod_managed(p) || !(host.family == 6 ? p->has_ip6 : !!p->ip) ||
		    !cidr_rule_covers(&block, &host))
			continue;
		s = (struct specs){ 0 };
		ret = specs_add_rule_named(&s, p, r);
		if (ret || !s.n) {
			free(s.v);
			if (ret)
				return ret;
			continue;
		}
		ret = cidr_rule_add(eb, host, 0, NULL, &s, rr);
		if (ret)
			return ret;
	}
	return 0;
}

static int compile_rule(const struct pol_ctx *x, struct epbuild *eb, const struct k8s_pod *local,
			const struct k8s_netpol *np, const struct k8s_np_rule *r,
			const struct rule_ref *rr)
{
	struct specs fixed = { 0 }; /* the ports that do not depend on the peer */
	bool named = false; /* egress named ports: resolved per peer */
	int ret = 0;

	if (!r->nports)
		ret = pol_specs_add(&fixed, 0, 0, POL_PREFIX_ANY_PROTO);
	for (size_t i = 0; !ret && i < r->nports; i++) {
		const struct k8s_np_port *p = &r->ports[i];

		if (!p->port_name)
			ret = specs_add_port(&fixed, p);
		else if (eb->dir == XCNI_DIR_TO_POD)
			ret = specs_add_named(&fixed, local, p);
		else
			named = true;
	}
	if (ret)
		goto out;
	if (!r->npeers) {
		if (x->peers_only)
			goto out;
		ret = emit(eb, XCNI_ID_ANY, &fixed, rr);
		/* Any destination, named port: the pods that have the name. */
		for (size_t k = 0; !ret && named && k < x->r->nidentities; k++)
			ret = emit_named_identity(x, eb, k, r, rr);
		goto out;
	}
	for (size_t i = 0; !ret && i < r->npeers; i++) {
		const struct k8s_np_peer *peer = &r->peers[i];

		if (peer->ipblock) {
			if (x->peers_only)
				continue;
			ret = ipblock_add(x, eb, peer->ipblock, &fixed, named, r, rr);
			continue;
		}
		const struct peer_memo *m = peer_ids(x, peer, np->meta.ns);

		if (!m) {
			ret = -ENOMEM;
			break;
		}
		for (size_t j = 0; !ret && j < m->n; j++) {
			size_t k = m->ids[j];

			ret = emit(eb, x->r->identities[k].id, &fixed, rr);
			if (!ret && named)
				ret = emit_named_identity(x, eb, k, r, rr);
		}
	}
out:
	free(fixed.v);
	return ret;
}

/*
 * Rules' cidrs (or excepts) sorted, with the lengths present: the ones that
 * hold a prefix P are found by cutting P to each length present and looking
 * that up, not by trying every rule (a tenant's 33000 ipBlocks made that 10^9
 * tests and ~7-28 s of the agent's one thread).
 */
struct cidr_ref {
	struct xcni_prefix cidr;
	uint32_t rule; /* index in eb->cr */
};

struct cidr_index {
	struct cidr_ref *v;
	size_t n, cap;
	bool len4[33], len6[129];
};

static int cmp_cidr_ref(const void *a, const void *b)
{
	const struct cidr_ref *x = a, *y = b;
	int d = xcni_prefix_cmp(&x->cidr, &y->cidr);

	return d ? d : (x->rule > y->rule) - (x->rule < y->rule);
}

static int cidr_index_add(struct cidr_index *ix, const struct xcni_prefix *c, size_t rule)
{
	if (xcni_grow(&ix->v, &ix->cap, ix->n, sizeof(*ix->v)))
		return -ENOMEM;
	/* Parsed cidrs have their host bits cleared; cut again all the same. */
	ix->v[ix->n].cidr = *c;
	xcni_prefix_cut(&ix->v[ix->n].cidr, c->len);
	ix->v[ix->n++].rule = (uint32_t)rule;
	(c->family == 6 ? ix->len6 : ix->len4)[c->len] = true;
	return 0;
}

/* Calls fn(arg, rule) for each ref whose cidr holds p; stops at fn's error. */
static int cidr_index_holding(const struct cidr_index *ix, const struct xcni_prefix *p,
			      int (*fn)(void *arg, uint32_t rule), void *arg)
{
	const bool *lens = p->family == 6 ? ix->len6 : ix->len4;
	int ret = 0;

	for (unsigned int l = 0; !ret && l <= p->len; l++) {
		struct cidr_ref key;
		size_t lo = 0, hi = ix->n;

		if (!lens[l])
			continue;
		key.cidr = *p;
		xcni_prefix_cut(&key.cidr, l);
		key.rule = 0;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (cmp_cidr_ref(&ix->v[mid], &key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; !ret && lo < ix->n && !xcni_prefix_cmp(&ix->v[lo].cidr, &key.cidr); lo++)
			ret = fn(arg, ix->v[lo].rule);
	}
	return ret;
}

struct holders {
	uint32_t *rules, stamp, *excepted; /* excepted[rule] == stamp: an except holds P */
	size_t n, cap;
};

static int holder_add(void *arg, uint32_t rule)
{
	struct holders *h = arg;

	if (xcni_grow(&h->rules, &h->cap, h->n, sizeof(*h->rules)))
		return -ENOMEM;
	h->rules[h->n++] = rule;
	return 0;
}

static int holder_except(void *arg, uint32_t rule)
{
	struct holders *h = arg;

	h->excepted[rule] = h->stamp;
	return 0;
}

/*
 * ipBlocks of one direction as LPM prefixes. Every cidr and except becomes a
 * prefix P standing for exactly the rules whose cidr holds P and none of
 * whose excepts does; the longest prefix holding an address is then exactly
 * the set of rules that allow it (an except, being a longer prefix, hides
 * the shorter cidr it was cut from). A prefix whose set is empty still gets
 * a group: it is what hides. Each prefix's rules come from the indexes of
 * cidrs and excepts (cidr_index_holding), emitted in the rules' order.
 */
static int build_groups(struct epbuild *eb)
{
	struct cidr_index cidrs = { 0 }, excepts = { 0 };
	struct holders h = { 0 };
	struct xcni_prefix *pfx = NULL;
	size_t n = 0, cap = 0, u = 0;
	int ret = -ENOMEM;

	for (size_t i = 0; i < eb->ncr; i++) {
		const struct cidr_rule *cr = &eb->cr[i];

		for (size_t j = 0; j <= cr->nexcept; j++) {
			if (xcni_grow(&pfx, &cap, n, sizeof(*pfx)))
				goto out;
			pfx[n++] = j ? cr->except[j - 1] : cr->cidr;
			if (j ? cidr_index_add(&excepts, &cr->except[j - 1], i) :
				cidr_index_add(&cidrs, &cr->cidr, i))
				goto out;
		}
	}
	if (eb->ncr && !(h.excepted = calloc(eb->ncr, sizeof(*h.excepted))))
		goto out;
	/* Sorted, one ref for a rule's repeated cidr; each prefix once. */
	cidrs.n = pol_sort_dedup(cidrs.v, cidrs.n, sizeof(*cidrs.v), cmp_cidr_ref, 0);
	excepts.n = pol_sort_dedup(excepts.v, excepts.n, sizeof(*excepts.v), cmp_cidr_ref, 0);
	u = pol_sort_dedup(pfx, n, sizeof(*pfx), xcni_prefix_cmp, 0);
	ret = 0;
	for (size_t i = 0; !ret && i < u; i++) {
		uint32_t group = XCNI_ID_CIDR_BASE + i;

		if (xcni_grow(&eb->pc, &eb->cappc, eb->npc, sizeof(*eb->pc))) {
			ret = -ENOMEM;
			break;
		}
		eb->pc[eb->npc++] = (struct pol_cidr){ pol_cidr_key(eb->ip, eb->dir, &pfx[i]), group };
		h.n = 0;
		h.stamp = (uint32_t)i + 1;
		ret = cidr_index_holding(&excepts, &pfx[i], holder_except, &h);
		if (!ret)
			ret = cidr_index_holding(&cidrs, &pfx[i], holder_add, &h);
		if (!ret && h.n > 1)
			qsort(h.rules, h.n, sizeof(*h.rules), pol_cmp_u32);
		for (size_t j = 0; !ret && j < h.n; j++) {
			const struct cidr_rule *cr = &eb->cr[h.rules[j]];
			struct rule_ref rr = { cr->policy_id, cr->rule, cr->seq };

			if (h.excepted[h.rules[j]] != h.stamp)
				ret = emit(eb, group, &cr->specs, &rr);
		}
	}
out:
	free(pfx);
	free(cidrs.v);
	free(excepts.v);
	free(h.rules);
	free(h.excepted);
	return ret;
}

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int d = memcmp(&x->e.key, &y->e.key, sizeof(x->e.key));

	return d ? d : (x->seq > y->seq) - (x->seq < y->seq);
}

static void epbuild_reset_rules(struct epbuild *eb)
{
	for (size_t i = 0; i < eb->ncr; i++)
		free(eb->cr[i].specs.v);
	eb->ncr = 0;
}

void pol_epbuild_free(struct epbuild *eb)
{
	epbuild_reset_rules(eb);
	free(eb->c);
	free(eb->cr);
	free(eb->pc);
}

size_t pol_np_next(const struct pol_ctx *x, const struct k8s_pod *pod, bool in, size_t i)
{
	for (i = i ? i : pol_ns_first((const void *const *)x->nps, x->nnps, 0, pod->meta.ns);
	     i < x->nnps && !pol_cmp_str(x->nps[i]->meta.ns, pod->meta.ns); i++)
		if ((in ? x->nps[i]->type_ingress : x->nps[i]->type_egress) &&
		    k8s_selector_matches(&x->nps[i]->pod_sel, &pod->meta.labels))
			return i;
	return x->nnps;
}

struct epsel *pol_pod_policies(const struct pol_ctx *x, const struct k8s_pod *pod)
{
	struct epsel *e = calloc(1, sizeof(*e)), *w;

	for (size_t i = pol_ns_first((const void *const *)x->nps, x->nnps, 0, pod->meta.ns);
	     e && i < x->nnps && !pol_cmp_str(x->nps[i]->meta.ns, pod->meta.ns); i++) {
		if (!k8s_selector_matches(&x->nps[i]->pod_sel, &pod->meta.labels))
			continue;
		if (!(w = realloc(e, sizeof(*e) + (e->n + 1) * sizeof(*e->np))))
			free(e);
		if ((e = w))
			e->np[e->n++] = (uint32_t)i;
	}
	return e;
}

bool pol_np_peers_match_any(const struct pol_ctx *x, const struct k8s_netpol *np)
{
	for (int in = 0; in < 2; in++) {
		size_t nrules = in ? np->ningress : np->negress;
		const struct k8s_np_rule *rules = in ? np->ingress : np->egress;

		if (!(in ? np->type_ingress : np->type_egress))
			continue;
		for (size_t ri = 0; ri < nrules; ri++)
			for (size_t i = 0; i < rules[ri].npeers; i++) {
				const struct k8s_np_peer *peer = &rules[ri].peers[i];
				const struct peer_memo *m;

				if (peer->ipblock)
					continue;
				m = peer_ids(x, peer, np->meta.ns);
				if (!m || m->n)
					return true; /* out of memory: the caller compiles */
			}
	}
	return false;
}

/*
 * pod's NetworkPolicy entries, CIDRs, isolation and selecting policies. With
 * enforced_only, the policies in audit mode (their own annotation or their
 * namespace's) are left out: what the data plane may act on.
 */
int pol_compile_np(const struct pol_ctx *x, const struct k8s_pod *pod, uint32_t identity,
		   struct epbuild *eb, struct pol_ep *ep, bool enforced_only)
{
	uint32_t seq = 0;
	size_t u = 0;
	int ret = 0;

	/* Only pods of this node have policy compiled. */
	eb->ip = pol_pod_addr(pod, true);
	eb->n = eb->npc = 0;
	ep->ip = eb->ip;
	ep->pod = pod;
	ep->state.identity = identity;
	for (uint8_t dir = 0; !ret && dir < XCNI_NR_POLICY_DIRS; dir++) {
		eb->dir = dir;
		epbuild_reset_rules(eb);
		bool in = dir == XCNI_DIR_TO_POD;

		for (size_t i = pol_np_next(x, pod, in, 0); !ret && i < x->nnps;
		     i = pol_np_next(x, pod, in, i + 1)) {
			const struct k8s_netpol *np = x->nps[i];
			size_t nrules = in ? np->ningress : np->negress;
			const struct k8s_np_rule *rules = in ? np->ingress : np->egress;

			if (enforced_only && np->meta.audit)
				continue;
			ep->state.isolated |= XCNI_ISOLATED(dir);
			/* Policies come by name: the first ones are kept. */
			if (ep->sel.n[dir] < XCNI_POLSEL_IDS)
				ep->sel.ids[dir][ep->sel.n[dir]] = x->np_id[i];
			ep->sel.n[dir]++;
			ep->npbits |= POL_NP_BIT(np->meta.ns, np->meta.name);
			for (size_t ri = 0; !ret && ri < nrules; ri++) {
				struct rule_ref rr = { x->np_id[i], ri, seq++ };

				ret = compile_rule(x, eb, pod, np, &rules[ri], &rr);
			}
		}
		if (!ret && !x->peers_only)
			ret = build_groups(eb);
	}
	epbuild_reset_rules(eb);
	if (ret)
		return ret;
	/* Sorted by (key, seq): the first of equal keys is the first policy's, lowest rule. */
	u = pol_sort_dedup(eb->c, eb->n, sizeof(*eb->c), cmp_cand, sizeof(struct xcni_policy_key));
	ep->entries = calloc(u ? u : 1, sizeof(*ep->entries));
	ep->cidrs = calloc(eb->npc ? eb->npc : 1, sizeof(*ep->cidrs));
	if (!ep->entries || !ep->cidrs)
		return -ENOMEM;
	for (size_t i = 0; i < u; i++)
		ep->entries[i] = eb->c[i].e;
	ep->nentries = u;
	if (eb->npc) {
		qsort(eb->pc, eb->npc, sizeof(*eb->pc), pol_cmp_cidr_key);
		memcpy(ep->cidrs, eb->pc, eb->npc * sizeof(*eb->pc));
	}
	ep->ncidrs = eb->npc;
	return 0;
}

int pol_compile_np_enforced(const struct pol_ctx *x, const struct k8s_pod *pod, uint32_t identity,
			    struct pol_ep *ep)
{
	struct epbuild eb = { 0 };
	int ret = pol_compile_np(x, pod, identity, &eb, ep, true);

	pol_epbuild_free(&eb);
	return ret;
}
