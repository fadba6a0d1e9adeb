// SPDX-License-Identifier: Apache-2.0
/*
 * ClusterNetworkPolicy tiers and audit mode, compiled into the same policy
 * entries the data plane already looks up (docs/architecture.md, "Tiers").
 *
 * For a local pod and direction that a ClusterNetworkPolicy selects (or
 * whose denials are audited), the decision per peer and port is worked out
 * here whole: Admin rules by (priority, name) and rule order, first match
 * wins, Accept and Deny final, Pass on to NetworkPolicy; then NetworkPolicy
 * as compiled for the pod (its entries read back as the data plane reads
 * them); then Baseline the same way; else allowed. The result replaces the
 * pod's entries of that direction: every peer address (pods, nodes) and
 * every prefix a rule names gets a polcidr entry to a group, one group per
 * distinct decision, and each group's decision is written with an entry for
 * every port interval that differs from its protocol's default, which
 * differs from "any protocol". The data plane takes the most specific entry
 * (exact, range, any port, any protocol), so one lookup chain decides, as
 * before, and never misses: denials are entries (XCNI_POLV_DENY).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/cidr.h"
#include "lib/system/hmap.h"
#include "lib/policy/policy_int.h"

struct vd {
	uint32_t policy_id;
	uint16_t rule;
	uint16_t flags;
};

struct atoms {
	size_t n[3]; /* TCP, UDP, SCTP: interval starts, sorted, the first 1 */
	uint16_t *lo[3];
};

static const uint8_t protos[3] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };

/* One peer as rules see it: a pod, a node, or an address region (prefix). */
struct peer {
	const struct k8s_pod *pod;
	const struct k8s_labels *ns_labels;
	const struct k8s_node *node;
	struct xcni_prefix addr;
	bool none; /* an address no prefix of the pod's covers: addr means nothing */
	uint32_t id; /* what the ipcache says: the NetworkPolicy compile's peer */
	/* 1 + the index (into cnpctx.rules) of the rule naming a domain that the
	 * pod's DNS answers taught this address through; 0: not learned */
	size_t fqdn;
};

struct cnpctx {
	const struct pol_ctx *x;
	const struct k8s_pod *pod;
	const struct k8s_labels *ns_labels;
	const struct pol_ep *ep;
	/* The NetworkPolicy entries without the audited policies, when some but
	 * not all of those isolating the pod here are audited; else NULL (ep's
	 * are the enforced ones, or np_audit says none is). */
	const struct pol_ep *ep_enf;
	uint8_t dir;
	uint8_t cidr_dir; /* polcidr keys' dir when not dir (XCNI_POLCIDR_DIR_FQDN + j); 0: dir */
	bool ns_audit; /* the pod's Namespace audits its NetworkPolicies (not the tiers) */
	bool np_audit; /* every NetworkPolicy isolating the pod here is in audit mode */
	size_t nrules; /* the rules selecting the pod in dir, in evaluation order */
	struct rref {
		size_t cnp;
		size_t rule;
	} *rules;
	struct atoms at;
	/* A patch's last result, and per group of it the group its peers are in now (+1; 0: none
	 * yet): a peer at an address no change reached keeps its group's decision (peer_out). */
	const struct pol_ep *old;
	size_t nkept;
	uint32_t *kept;
	bool recut; /* old's port intervals are not these: its identities' entries cut again (dir_ids) */
};

/* NetworkPolicy, read back from the compiled entries as the data plane reads them. */
static const struct pol_entry *np_lookup(const struct pol_ep *ep, uint8_t dir,
					 const struct peer *pr, uint8_t proto, uint16_t port)
{
	const struct pol_entry *e = pol_entry_lookup(ep, dir, pr->id, proto, port);
	const struct pol_cidr *c = e || pr->none ? NULL : pol_cidr_lookup(ep, dir, &pr->addr);

	if (e || (c && (e = pol_entry_lookup(ep, dir, c->group, proto, port))))
		return e;
	return pol_entry_lookup(ep, dir, XCNI_ID_ANY, proto, port);
}

/* ---- rules ---------------------------------------------------------- */

static const struct k8s_cnp_rule *rule_of(const struct cnpctx *cc, size_t i)
{
	const struct k8s_cnp *p = cc->x->cnps[cc->rules[i].cnp];

	return cc->dir == XCNI_DIR_TO_POD ? &p->ingress[cc->rules[i].rule] :
					    &p->egress[cc->rules[i].rule];
}

static bool peer_matches(const struct k8s_cnp_peer *p, const struct peer *pr, size_t ri)
{
	if (p->unknown) /* fails closed: through it, an Accept matches nothing */
		return false;
	/* domainNames: an address learned through this rule (lib/dns.h matched
	 * the pod's question to one of its names); no other address. */
	if (p->ndomains)
		return pr->fqdn == ri + 1;
	if (p->nnets) {
		/* Every prefix a rule names has its own polcidr entry, so an address
		 * that reaches "any peer" is in none of them (a /0 too: the address
		 * is of the other family). */
		if (pr->none)
			return false;
		for (size_t i = 0; i < p->nnets; i++)
			if (xcni_prefix_inside(&pr->addr, &p->nets[i]))
				return true;
		return false;
	}
	if (p->node_sel)
		return pr->node && k8s_selector_matches(p->node_sel, &pr->node->meta.labels);
	if (!pr->pod || !p->ns_sel || !k8s_selector_matches(p->ns_sel, pr->ns_labels))
		return false;
	return !p->pod_sel || k8s_selector_matches(p->pod_sel, &pr->pod->meta.labels);
}

static bool named_port(const struct k8s_pod *pod, const char *name, uint8_t proto, uint16_t port)
{
	for (size_t i = 0; pod && i < pod->nports; i++)
		if (pod->ports[i].name && !strcmp(pod->ports[i].name, name) &&
		    pod->ports[i].proto == proto && pod->ports[i].port == port)
			return true;
	return false;
}

static bool protos_match(const struct cnpctx *cc, const struct k8s_cnp_rule *r,
			 const struct peer *pr, uint8_t proto, uint16_t port)
{
	/* A named port is the destination's: the local pod's for ingress. */
	const struct k8s_pod *dst = cc->dir == XCNI_DIR_TO_POD ? cc->pod : pr->pod;

	if (!r->nprotos)
		return true;
	for (size_t i = 0; i < r->nprotos; i++) {
		const struct k8s_cnp_proto *p = &r->protos[i];

		if (p->port_name) {
			if (named_port(dst, p->port_name, proto, port))
				return true;
		} else if (p->proto == proto &&
			   (!p->port || (port >= p->port && port <= p->end_port))) {
			return true;
		}
	}
	return false;
}

/* A Deny or Pass with a peer of a kind xcni does not know is a Deny of everything. */
static bool fails_closed(const struct k8s_cnp_rule *r)
{
	if (r->action == K8S_CNP_ACCEPT)
		return false;
	for (size_t i = 0; i < r->npeers; i++)
		if (r->peers[i].unknown)
			return true;
	return false;
}

static bool rule_matches(const struct cnpctx *cc, size_t ri, const struct peer *pr, uint8_t proto,
			 uint16_t port)
{
	const struct k8s_cnp_rule *r = rule_of(cc, ri);
	bool peer = false;

	for (size_t i = 0; !peer && i < r->npeers; i++)
		peer = peer_matches(&r->peers[i], pr, ri);
	return peer && protos_match(cc, r, pr, proto, port);
}

/* Does a changed rule's peer, before or now, select identity id in cc's direction (x->reach;
 * XCNI_ID_REMOTE_NODE: a Node; XCNI_ID_ANY: some rule of it changed)? Then its decision is decided
 * again: one no such rule selects is decided by the same rules in the same order. */
static bool reached(const struct cnpctx *cc, uint32_t id)
{
	return cc->x->reach && hmap_has(cc->x->reach, hu32(id ^ cc->dir), POL_REACH(cc->dir, id));
}

/* The Pass number of the i-th rule of cc (0: not numbered). */
static uint16_t pass_of(const struct cnpctx *cc, size_t i)
{
	const struct k8s_cnp *p = cc->x->cnps[cc->rules[i].cnp];
	size_t k = cc->rules[i].rule + (cc->dir == XCNI_DIR_TO_POD ? 0 : p->ningress);

	return cc->x->pass_ref ? cc->x->pass_ref[cc->rules[i].cnp][k] : 0;
}

static uint16_t tier_flags(enum xcni_tier t)
{
	return (uint16_t)(t << XCNI_POLV_TIER_SHIFT);
}

/*
 * One evaluation of the tiers and NetworkPolicy for (peer, proto, port). With
 * enforced_only, the policies in audit mode are not there at all: that is
 * what the data plane does. Without it, they count as enforced: what would
 * happen if they were. A ClusterNetworkPolicy is in audit mode by its own
 * annotation only; the pod's Namespace's audits its NetworkPolicies, never
 * the tiers an administrator set over it (a tenant who may annotate its own
 * Namespace would otherwise turn an Admin Deny into counting).
 */
static struct vd evaluate(const struct cnpctx *cc, const struct peer *pr, uint8_t proto,
			  uint16_t port, bool enforced_only)
{
	const struct pol_ctx *x = cc->x;
	bool np_audit = cc->np_audit || cc->ns_audit;
	bool passed = false;
	uint16_t pass = 0; /* the first Pass on the way, for people (XCNI_POLV_PASS) */
	size_t i = 0;

	for (int tier = K8S_CNP_ADMIN; tier <= K8S_CNP_BASELINE; tier++) {
		for (; i < cc->nrules && x->cnps[cc->rules[i].cnp]->tier == (enum k8s_cnp_tier)tier;
		     i++) {
			const struct k8s_cnp_rule *r = rule_of(cc, i);
			const struct k8s_cnp *p = x->cnps[cc->rules[i].cnp];
			bool audit = p->meta.audit;
			struct vd v = { x->cnp_id[cc->rules[i].cnp], (uint16_t)cc->rules[i].rule,
					tier_flags(tier == K8S_CNP_ADMIN ? XCNI_TIER_ADMIN :
									   XCNI_TIER_BASELINE) };

			if (passed || (enforced_only && audit))
				continue;
			if (fails_closed(r)) {
				v.flags |= XCNI_POLV_DENY | (audit ? XCNI_POLV_AUDIT : 0);
				return v;
			}
			if (!rule_matches(cc, i, pr, proto, port))
				continue;
			if (r->action == K8S_CNP_PASS) {
				passed = true; /* the rest of the Admin tier is skipped */
				if (!pass)
					pass = pass_of(cc, i);
				continue;
			}
			if (r->action == K8S_CNP_DENY)
				v.flags |= XCNI_POLV_DENY | (audit ? XCNI_POLV_AUDIT : 0);
			v.flags |= (uint16_t)(pass << XCNI_POLV_PASS_SHIFT);
			return v;
		}
		passed = false;
		/* Isolated only by audited NetworkPolicies: enforced, nothing isolates it.
		 * Beside enforced ones, the audited ones' allows open nothing. */
		if (tier == K8S_CNP_ADMIN && (cc->ep->state.isolated & XCNI_ISOLATED(cc->dir)) &&
		    !(enforced_only && np_audit)) {
			/* NetworkPolicy never stops the pod's own node (XCNI_ID_HOST). */
			const struct pol_ep *nep = enforced_only && cc->ep_enf ? cc->ep_enf : cc->ep;
			const struct pol_entry *e = pr->id == XCNI_ID_HOST ? NULL :
						    np_lookup(nep, cc->dir, pr, proto, port);
			struct vd v = { 0, 0,
					(uint16_t)(tier_flags(XCNI_TIER_NP) |
						   pass << XCNI_POLV_PASS_SHIFT) };

			if (e) {
				v.policy_id = e->val.policy_id;
				v.rule = e->val.rule;
			} else if (pr->id != XCNI_ID_HOST) { /* the node: allowed, none decided */
				v.flags |= XCNI_POLV_DENY | (np_audit ? XCNI_POLV_AUDIT : 0);
			}
			return v;
		}
	}
	return (struct vd){ 0, 0,
			    (uint16_t)(tier_flags(XCNI_TIER_DEFAULT) | pass << XCNI_POLV_PASS_SHIFT) };
}

/*
 * The decision written for (peer, proto, port). A policy in audit mode never
 * changes what happens to a packet, neither by its denials nor by its Accept
 * and Pass rules: the verdict is the one without audited policies. Where that
 * allows but the audited policies would deny, the entry passes marked AUDIT
 * with the rule that would have denied it (what monitor, explain and flows
 * report).
 */
static struct vd decide(const struct cnpctx *cc, const struct peer *pr, uint8_t proto,
			uint16_t port)
{
	struct vd enforced = evaluate(cc, pr, proto, port, true), would;

	if (enforced.flags & XCNI_POLV_DENY)
		return enforced;
	if (!cc->ns_audit && !cc->np_audit && !cc->x->cnp_audit_any)
		return enforced;
	would = evaluate(cc, pr, proto, port, false);
	if (would.flags & XCNI_POLV_DENY) {
		would.flags |= XCNI_POLV_DENY | XCNI_POLV_AUDIT;
		return would;
	}
	return enforced;
}

/* ---- port intervals ----------------------------------------------------- */

static int atom_add(struct atoms *a, size_t *cap, int pi, uint32_t lo)
{
	if (lo < 1 || lo > 65535)
		return 0;
	if (xcni_grow(&a->lo[pi], &cap[pi], a->n[pi], sizeof(uint16_t)))
		return -ENOMEM;
	a->lo[pi][a->n[pi]++] = (uint16_t)lo;
	return 0;
}

/* [lo, hi] of proto, if one of protos: its two boundaries. */
static int atom_range(struct atoms *a, size_t *cap, uint8_t proto, uint32_t lo, uint32_t hi)
{
	const uint8_t *p = memchr(protos, proto, sizeof(protos));
	int pi = p ? (int)(p - protos) : -1;

	return pi < 0 ? 0 : atom_add(a, cap, pi, lo) ?: atom_add(a, cap, pi, hi + 1);
}

static int atom_named(struct atoms *a, size_t *cap, const struct k8s_pod *pod, const char *name)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < pod->nports; i++)
		if (pod->ports[i].name && !strcmp(pod->ports[i].name, name))
			ret = atom_range(a, cap, pod->ports[i].proto, pod->ports[i].port,
					 pod->ports[i].port);
	return ret;
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Where any rule's ports begin or end: between two, every decision is the same. */
static int build_atoms(struct cnpctx *cc)
{
	struct atoms *a = &cc->at;
	size_t cap[3] = { 0 };
	int ret = 0;

	for (int pi = 0; !ret && pi < 3; pi++)
		ret = atom_add(a, cap, pi, 1);
	for (size_t i = 0; !ret && i < cc->nrules; i++) {
		const struct k8s_cnp_rule *r = rule_of(cc, i);

		for (size_t j = 0; !ret && j < r->nprotos; j++) {
			const struct k8s_cnp_proto *p = &r->protos[j];

			if (!p->port_name) {
				if (p->port)
					ret = atom_range(a, cap, p->proto, p->port, p->end_port);
			} else if (cc->dir == XCNI_DIR_TO_POD) {
				ret = atom_named(a, cap, cc->pod, p->port_name);
			} else {
				ret = pol_ctx_pods(cc->x);
				for (size_t k = 0; !ret && k < cc->x->npods; k++)
					ret = atom_named(a, cap, cc->x->pods[k], p->port_name);
			}
		}
	}
	for (size_t i = 0; !ret && i < cc->ep->nentries; i++) {
		const struct xcni_policy_key *k = &cc->ep->entries[i].key;
		uint32_t lo = ntohs(k->port);

		if (k->dir != cc->dir || k->prefixlen <= POL_PREFIX_ANY_PORT)
			continue;
		ret = atom_range(a, cap, k->proto, lo,
				 lo + (1u << (POL_PREFIX_FULL - k->prefixlen)) - 1);
	}
	for (int pi = 0; !ret && pi < 3; pi++)
		a->n[pi] = pol_sort_dedup(a->lo[pi], a->n[pi], sizeof(uint16_t), cmp_u16, 0);
	return ret;
}

static uint32_t atom_hi(const struct atoms *a, int pi, size_t i)
{
	return i + 1 < a->n[pi] ? a->lo[pi][i + 1] - 1u : 65535u;
}

static size_t atoms_total(const struct atoms *a)
{
	return 1 + a->n[0] + a->n[1] + a->n[2];
}

/* The decision at (proto, port), or old's entries of the peer there (from: emit_group's of one
 * peer; a decision is constant between the boundaries relevant to it, old's and these alike). */
static struct vd decide_at(const struct cnpctx *cc, const struct peer *pr, const struct pol_ep *from,
			   uint8_t proto, uint16_t port)
{
	const struct pol_entry *e = from ? pol_entry_lookup(from, cc->dir, pr->id, proto, port) : NULL;

	return e ? (struct vd){ e->val.policy_id, e->val.rule, e->val.flags } :
		   decide(cc, pr, proto, port);
}

/* The decision for every protocol/interval: [0] any other protocol, then TCP's, UDP's, SCTP's. */
static void decide_all(const struct cnpctx *cc, const struct peer *pr, struct vd *out,
		       const struct pol_ep *from)
{
	size_t o = 0;

	/* Any protocol without ports (ICMP and the rest): port 0. */
	out[o++] = decide_at(cc, pr, from, IPPROTO_ICMP, 0);
	for (int pi = 0; pi < 3; pi++)
		for (size_t i = 0; i < cc->at.n[pi]; i++)
			out[o++] = decide_at(cc, pr, from, protos[pi], cc->at.lo[pi][i]);
}

/* ---- output ---------------------------------------------------------- */

struct out {
	size_t ngroups, capg;
	struct vd *groups; /* ngroups * atoms_total */
	size_t n, cap, e0; /* e[0, e0): old's kept, sorted (dir_ids) */
	struct pol_entry *e;
	size_t nc, capc;
	struct pol_cidr *c; /* c[p0, p1): the pods', in the keys' order (dir_pods) */
	size_t p0, p1;
};

static int out_entry(struct out *o, const struct cnpctx *cc, uint32_t peer, unsigned plen,
		     uint8_t proto, uint16_t port, const struct vd *v)
{
	struct portspec ps = { .proto = proto, .plen = (uint8_t)plen, .port = port };
	struct xcni_policy_val val = { .policy_id = v->policy_id, .rule = v->rule, .flags = v->flags };

	if (xcni_grow(&o->e, &o->cap, o->n, sizeof(*o->e)))
		return -ENOMEM;
	o->e[o->n++] = pol_entry_make(cc->ep->ip, cc->dir, peer, &ps, val);
	return 0;
}

static int out_range(struct out *o, const struct cnpctx *cc, uint32_t peer, uint8_t proto,
		     uint32_t lo, uint32_t hi, const struct vd *v)
{
	struct specs s = { 0 };
	int ret = pol_specs_add_range(&s, proto, lo, hi);

	for (size_t i = 0; !ret && i < s.n; i++)
		ret = out_entry(o, cc, peer, s.v[i].plen, proto, s.v[i].port, v);
	free(s.v);
	return ret;
}

static bool vd_eq(const struct vd *a, const struct vd *b)
{
	return a->policy_id == b->policy_id && a->rule == b->rule && a->flags == b->flags;
}

/* One group's decision as entries: any protocol, each protocol's commonest, the exceptions. */
static int emit_group(struct out *o, const struct cnpctx *cc, uint32_t peer, const struct vd *v)
{
	size_t off = 1;
	int ret = out_entry(o, cc, peer, POL_PREFIX_ANY_PROTO, 0, 0, &v[0]);

	for (int pi = 0; !ret && pi < 3; pi++) {
		const struct atoms *a = &cc->at;
		size_t best = 0;
		uint32_t best_w = 0;

		/* The default: the decision covering the most ports. */
		for (size_t i = 0; i < a->n[pi]; i++) {
			uint32_t w = 0;

			for (size_t j = 0; j < a->n[pi]; j++)
				if (vd_eq(&v[off + i], &v[off + j]))
					w += atom_hi(a, pi, j) - a->lo[pi][j] + 1;
			if (w > best_w)
				best_w = w, best = i;
		}
		if (!vd_eq(&v[off + best], &v[0]))
			ret = out_entry(o, cc, peer, POL_PREFIX_ANY_PORT, protos[pi], 0,
					&v[off + best]);
		for (size_t i = 0; !ret && i < a->n[pi]; i++) {
			if (vd_eq(&v[off + i], &v[off + best]))
				continue;
			ret = out_range(o, cc, peer, protos[pi], a->lo[pi][i], atom_hi(a, pi, i),
					&v[off + i]);
		}
		off += a->n[pi];
	}
	return ret;
}

/* The group with decision v: an existing one, or a new one with its entries. */
static int group_of(struct out *o, const struct cnpctx *cc, const struct vd *v, uint32_t *gid)
{
	size_t n = atoms_total(&cc->at);
	int ret;

	for (size_t g = 0; g < o->ngroups; g++)
		if (!memcmp(&o->groups[g * n], v, n * sizeof(*v))) {
			*gid = XCNI_ID_CIDR_BASE + (uint32_t)g;
			return 0;
		}
	while ((o->ngroups + 1) * n > o->capg)
		if (xcni_grow(&o->groups, &o->capg, o->capg, sizeof(*v)))
			return -ENOMEM;
	memcpy(&o->groups[o->ngroups * n], v, n * sizeof(*v));
	*gid = XCNI_ID_CIDR_BASE + (uint32_t)o->ngroups++;
	ret = emit_group(o, cc, *gid, v);
	return ret;
}

static int out_cidr(struct out *o, const struct cnpctx *cc, const struct xcni_prefix *a, uint32_t gid)
{
	/* Duplicates (a prefix equal to a node's or pod's address) go in splice: the first stays. */
	if (xcni_grow(&o->c, &o->capc, o->nc, sizeof(*o->c)))
		return -ENOMEM;
	o->c[o->nc++] = (struct pol_cidr){
		pol_cidr_key(cc->ep->ip, cc->cidr_dir ? cc->cidr_dir : cc->dir, a), gid };
	return 0;
}

/* Did a pod join or leave identity id in this update, or change (x->idmoved)? Its ports may
 * move its decision. Or has it a pod at an address the update moved (x->near)? */
static bool id_moved(const struct pol_ctx *x, uint32_t id)
{
	return !x->idmoved || hmap_has(x->idmoved, hu32(id), UKEY(id)) || pol_u32set_has(&x->near, id);
}

/* A NetworkPolicy's egress named port to an ipBlock gives each pod there a /32 of its ports
 * (x->pods built for it): another's pod moving to or from an address an identity's pod holds
 * moves that identity's region or its group's entries, read by its decision (np_lookup). So
 * such identities are decided again (x->near, once an update: the pods at x->moved's group 1). */
static int near_init(const struct pol_ctx *cx)
{
	struct pol_ctx *x = (struct pol_ctx *)cx; /* as cnp_patch_init */

	if (x->near.v || !x->pods || pol_u32set_init(&x->near, x->r->nidentities))
		return x->near.v || !x->pods ? 0 : -ENOMEM;
	for (size_t i = 0; i < 2 * x->npods; i++) {
		const struct k8s_pod *p = x->pods[i / 2];
		struct xcni_prefix a = xcni_prefix_host(i % 2 ? 0 : p->ip, i % 2 ? p->ip6 : NULL);
		struct pol_cidr k = { pol_cidr_key(0, 0, &a), 0 }, *c;

		if (x->pod_id[i / 2] && (i % 2 ? p->has_ip6 : !!p->ip) &&
		    (c = bsearch(&k, x->moved, x->nmoved, sizeof(k), pol_cmp_cidr_key)) && c->group == 1)
			pol_u32set_add(&x->near, x->pod_id[i / 2]);
	}
	return 0;
}

/* A patch's slot in cc->kept for a peer, or NULL: to be decided. A host prefix a rule
 * names shares its key with a node's or a pod's address, which went first (old's group is
 * theirs); an address or a pod's identity a change reached: decided again (cnp_patch_init). */
static uint32_t *kept_slot(const struct cnpctx *cc, const struct peer *pr)
{
	const struct xcni_prefix *a = &pr->addr;
	struct pol_cidr k = { pol_cidr_key(0, 0, a), 0 };
	const struct pol_cidr *c;

	if (!cc->x->moved || (pr->id == XCNI_ID_WORLD && a->len == (a->family == 6 ? 128 : 32)) ||
	    (pr->pod && (id_moved(cc->x, pr->id) || reached(cc, pr->id))) ||
	    (pr->node && reached(cc, XCNI_ID_REMOTE_NODE)) ||
	    ((c = bsearch(&k, cc->x->moved, cc->x->nmoved, sizeof(k), pol_cmp_cidr_key)) &&
	     (c->group == 1 || pr->pod)))
		return NULL;
	k.key = pol_cidr_key(cc->ep->ip, cc->cidr_dir ? cc->cidr_dir : cc->dir, a);
	c = bsearch(&k, cc->old->cidrs, cc->old->ncidrs, sizeof(k), pol_cmp_cidr_key);
	return c && c->group - XCNI_ID_CIDR_BASE < cc->nkept ?
		       &cc->kept[c->group - XCNI_ID_CIDR_BASE] : NULL;
}

/*
 * Pods' decisions, remembered: a pod's decision depends on its identity (its
 * labels and its namespace's), the longest prefix of the rules holding its
 * address (every prefix holding it is that one or an ancestor) and, for
 * egress named ports, its container ports. Open addressing on the first two.
 */
struct memo_ent {
	bool used;
	uint8_t family;
	uint32_t id;
	int region;
	const struct k8s_pod *pod;
	uint32_t gid;
};

struct memo {
	size_t cap;
	struct memo_ent *v;
	bool by_ports; /* egress named ports: pods' ports are part of the key */
	size_t npfx;
	struct xcni_prefix *pfx; /* the rules' prefixes, then NetworkPolicy's of dir */
};

static bool same_ports(const struct k8s_pod *a, const struct k8s_pod *b)
{
	if (a->nports != b->nports)
		return false;
	for (size_t i = 0; i < a->nports; i++)
		if (a->ports[i].port != b->ports[i].port || a->ports[i].proto != b->ports[i].proto ||
		    pol_cmp_str(a->ports[i].name, b->ports[i].name))
			return false;
	return true;
}

static int region_of(const struct memo *m, const struct xcni_prefix *a)
{
	int best = -1;

	for (size_t i = 0; i < m->npfx; i++)
		if (xcni_prefix_inside(a, &m->pfx[i]) &&
		    (best < 0 || m->pfx[i].len > m->pfx[best].len))
			best = (int)i;
	return best;
}

static struct memo_ent *memo_slot(struct memo *m, const struct peer *pr, int region)
{
	size_t h = ((size_t)pr->id * 2654435761u ^ (size_t)(region + 1) * 40503u ^ pr->addr.family) &
		   (m->cap - 1);

	for (;; h = (h + 1) & (m->cap - 1)) {
		struct memo_ent *e = &m->v[h];

		if (!e->used || (e->id == pr->id && e->region == region && e->family == pr->addr.family &&
				 (!m->by_ports || same_ports(e->pod, pr->pod))))
			return e;
	}
}

/* A peer's group (*gid): its pod's identity's and region's (m, pods only), else old's
 * (kept_slot), else decided. */
static int peer_gid(struct out *o, const struct cnpctx *cc, const struct peer *pr, struct vd *buf,
		    struct memo *m, uint32_t *gid)
{
	struct memo_ent *e = NULL;
	uint32_t *k;
	int ret = 0, region = 0;

	/* Sized for every pod, so made when a pod first goes by address. */
	if (m && !m->v && !(m->v = calloc(m->cap, sizeof(*m->v))))
		return -ENOMEM;
	if (m && (e = memo_slot(m, pr, region = region_of(m, &pr->addr)))->used)
		return *gid = e->gid, 0;
	if (e)
		*e = (struct memo_ent){ true, pr->addr.family, pr->id, region, pr->pod, 0 };
	if ((k = cc->old ? kept_slot(cc, pr) : NULL) && *k)
		*gid = *k; /* no change reached it: its old group's decision */
	else
		decide_all(cc, pr, buf, NULL), ret = group_of(o, cc, buf, gid);
	if (e)
		e->gid = *gid;
	if (k)
		*k = *gid;
	return ret;
}

static int peer_out(struct out *o, const struct cnpctx *cc, const struct peer *pr, struct vd *buf)
{
	uint32_t gid = 0;
	int ret = peer_gid(o, cc, pr, buf, NULL, &gid);

	return ret ? ret : out_cidr(o, cc, &pr->addr, gid);
}

/* The prefixes rules name (tiers' networks, NetworkPolicy's of dir) and whether pods' ports count. */
static int memo_init_dir(struct memo *m, const struct cnpctx *cc)
{
	size_t n = cc->ep->ncidrs;

	for (size_t i = 0; i < cc->nrules; i++)
		for (size_t j = 0; j < rule_of(cc, i)->npeers; j++)
			n += rule_of(cc, i)->peers[j].nnets;
	for (m->cap = 64; m->cap < 4 * cc->x->npods; m->cap *= 2)
		;
	if (!(m->pfx = calloc(n + 1, sizeof(*m->pfx))))
		return -ENOMEM;
	for (size_t i = 0; i < cc->nrules; i++) {
		const struct k8s_cnp_rule *r = rule_of(cc, i);

		for (size_t j = 0; j < r->nprotos; j++)
			m->by_ports |= r->protos[j].port_name && cc->dir == XCNI_DIR_FROM_POD;
		for (size_t j = 0; j < r->npeers; j++)
			for (size_t k = 0; k < r->peers[j].nnets; k++)
				m->pfx[m->npfx++] = r->peers[j].nets[k];
	}
	for (size_t i = 0; i < cc->ep->ncidrs; i++)
		if (cc->ep->cidrs[i].key.dir == cc->dir)
			m->pfx[m->npfx++] = pol_key_cidr(&cc->ep->cidrs[i].key);
	return 0;
}

static const struct k8s_labels *ns_labels_of(const struct pol_ctx *x, const char *ns)
{
	static const struct k8s_labels none;
	const struct nslabels *l = pol_nsl_find(x, ns);

	return l ? &l->labels : &none;
}

static int cmp_entry_peer(const void *a, const void *b)
{
	uint32_t p = ((const struct pol_entry *)a)->key.peer, q = ((const struct pol_entry *)b)->key.peer;

	return (p > q) - (p < q);
}

/* An identity's entries (not a group's, any peer's or a node's). */
static bool by_label_set(uint32_t peer)
{
	return peer >= XCNI_ID_MIN_LABELS && peer < XCNI_ID_CIDR_BASE;
}

/*
 * The identities whose pods' addresses lie in two regions (region_of: the longest rule prefix
 * holding one, or none): they go by address. A pod's decision reads only its identity and its
 * region, so an identity in one region goes by identity, decided there by any pod of it
 * (dir_ids): a prefix holding every pod (a NetworkPolicy's 0.0.0.0/0) costs a decision per
 * identity, not a polcidr key per pod of the cluster in every tiered pod. A patch looks only
 * at the identities a pod joined or left: another is split if held without an entry in old.
 */
static int ids_split(struct pol_u32set *split, const struct cnpctx *cc, const struct memo *m)
{
	const struct pol_ctx *x = cc->x;
	struct pol_u32set had = { 0 };
	int ret = pol_u32set_init(&had, cc->old ? cc->old->nentries : 0);

	for (size_t i = 0; !ret && cc->old && i < cc->old->nentries; i++)
		if (cc->old->entries[i].key.dir == cc->dir && by_label_set(cc->old->entries[i].key.peer))
			pol_u32set_add(&had, cc->old->entries[i].key.peer);
	for (size_t k = 0; !ret && k < x->r->nidentities; k++) {
		uint32_t id = x->r->identities[k].id;
		bool look = !cc->old || id_moved(x, id);
		bool two = !look && pol_id_npods(x, k) && !pol_u32set_has(&had, id);
		int first = -2;

		for (size_t j = 0; look && !two && j < pol_id_npods(x, k); j++) {
			const struct k8s_pod *p = x->idp[k]->v[j].pod;
			const struct xcni_prefix a[2] = { xcni_prefix_host(p->ip, NULL),
							  xcni_prefix_host(0, p->ip6) };

			for (int f = 0; f < 2; f++) {
				int r = (f ? p->has_ip6 : !!p->ip) ? region_of(m, &a[f]) : first;

				two |= first > -2 && r != first;
				first = r;
			}
		}
		if (two && !split->v)
			ret = pol_u32set_init(split, x->r->nidentities);
		if (!ret && two)
			pol_u32set_add(split, id);
	}
	free(had.v);
	return ret;
}

/* Per pod address (x->bykey's slots), 1 + its group in old where no change reached it, else 0:
 * old's keys of the direction and the view's merged, both sorted. */
static uint32_t *old_groups(const struct cnpctx *cc, size_t *miss)
{
	const struct pol_ctx *x = cc->x;
	uint32_t *g = calloc(2 * x->npods + 1, sizeof(*g));
	size_t i = 0, j = 0;

	*miss = x->nbykey;
	while (g && i < cc->old->ncidrs && j < x->nbykey) {
		struct xcni_polcidr_key k = x->bykey[j].key;
		int d;

		k.ep = cc->old->ip, k.dir = cc->dir;
		d = memcmp(&cc->old->cidrs[i].key, &k, sizeof(k));
		if (!d && !(x->bykey[j].group & 1) &&
		    cc->old->cidrs[i].group - XCNI_ID_CIDR_BASE < cc->nkept)
			g[x->bykey[j].group >> 1] = cc->old->cidrs[i].group - XCNI_ID_CIDR_BASE + 1, --*miss;
		i += d <= 0;
		j += d >= 0;
	}
	return g;
}

/* The pods that cannot go by identity (dir_ids; split: identities in two regions), each
 * address as itself: decided in the view's order (the groups are numbered so), or in a patch
 * old's group where no change reached the pod, and written in the keys' (x->bykey). */
static int dir_pods(struct cnpctx *cc, struct out *o, struct vd *buf, struct memo *m,
		    const struct pol_u32set *split)
{
	const struct pol_ctx *x = cc->x;
	size_t miss = 0;
	uint32_t *gid = calloc(2 * x->npods + 1, sizeof(*gid)), *og = cc->old ? old_groups(cc, &miss) : gid;
	int ret = gid && og ? 0 : -ENOMEM;

	/* A patch's memo: the pods old has no group for, and an old group's first (kept's). */
	for (m->cap = cc->old ? 64 : m->cap; cc->old && m->cap < 4 * (miss + cc->nkept); m->cap *= 2)
		;
	for (size_t i = 0; !ret && i < 2 * x->npods; i++) {
		const struct k8s_pod *p = x->pods[i / 2];
		struct peer pr = { .pod = p, .id = x->pod_id[i / 2] };
		/* A changed rule's peer: decided. */
		uint32_t *k = cc->old && og[i] && !reached(cc, pr.id) ? &cc->kept[og[i] - 1] : NULL;

		if (!pol_pod_managed(p) || !(i % 2 ? p->has_ip6 : !!p->ip) ||
		    (!m->by_ports && pr.id && !pol_u32set_has(split, pr.id)))
			continue;
		if (!k || !*k) {
			pr.ns_labels = ns_labels_of(x, p->meta.ns);
			pr.addr = xcni_prefix_host(i % 2 ? 0 : p->ip, i % 2 ? p->ip6 : NULL);
		}
		if (k && *k) {
			gid[i] = *k;
			continue;
		}
		ret = peer_gid(o, cc, &pr, buf, m, &gid[i]);
		if (k)
			*k = gid[i];
	}
	o->p0 = o->nc;
	for (size_t j = 0; !ret && j < x->nbykey; j++) {
		struct pol_cidr c = { x->bykey[j].key, gid[x->bykey[j].group >> 1] };

		c.key.ep = cc->ep->ip, c.key.dir = cc->dir;
		if (c.group && !(ret = xcni_grow(&o->c, &o->capc, o->nc, sizeof(*o->c))))
			o->c[o->nc++] = c;
	}
	o->p1 = o->nc;
	if (og != gid)
		free(og);
	free(gid);
	return ret;
}

/* The k-th identity as a peer: its first pod (the identity holds one at least). */
static struct peer id_peer(const struct pol_ctx *x, size_t k)
{
	const struct k8s_pod *p = x->idp[k]->v[0].pod;

	return (struct peer){ .pod = p, .id = x->r->identities[k].id,
			      .ns_labels = ns_labels_of(x, p->meta.ns),
			      .addr = xcni_prefix_host(p->ip, p->ip ? NULL : p->ip6) };
}

/*
 * The pods by identity, one group keyed by it for each identity held (split:
 * those whose pods' addresses lie in two regions, which go by address). From
 * nothing each is decided. A patch (old: the pod's last result, its rules
 * the same) keeps old's entries of the identities no pod joined or left
 * (their pods, so their regions, held or split, are as they were: old has
 * the entries of those held and not split; where the port intervals moved,
 * read at the new ones) and decides the rest: a pod that came, went or was
 * relabelled costs its identities' decisions at most, not every peer's. The
 * groups (nodes, gateway, domainNames) are made again, most from old's.
 */
static int dir_ids(struct cnpctx *cc, struct out *o, struct vd *buf,
		   const struct pol_u32set *split, const struct pol_ep *old)
{
	const struct pol_ctx *x = cc->x;
	struct out t = { 0 }, *to = cc->recut ? &t : o;
	int ret = 0;

	for (size_t i = 0; !ret && old && i < old->nentries; i++) {
		const struct pol_entry *e = &old->entries[i];

		if (e->key.dir != cc->dir || e->key.peer >= XCNI_ID_CIDR_BASE ||
		    (by_label_set(e->key.peer) && (id_moved(x, e->key.peer) || reached(cc, e->key.peer))))
			continue;
		if (!(ret = xcni_grow(&to->e, &to->cap, to->n, sizeof(*to->e))))
			to->e[to->n++] = *e;
	}
	o->e0 = o->n;
	/* The port intervals moved: each kept peer's entries read at the new ones, written again. */
	pol_sort_unless_sorted(t.e, t.n, sizeof(*t.e), cmp_entry_peer);
	for (size_t i = 0, j = 0; !ret && i < t.n; i = j) {
		struct pol_ep run = { .ip = cc->ep->ip, .entries = &t.e[i] };

		while (j < t.n && t.e[j].key.peer == t.e[i].key.peer)
			j++;
		run.nentries = j - i;
		decide_all(cc, &(struct peer){ .id = t.e[i].key.peer }, buf, &run);
		ret = emit_group(o, cc, t.e[i].key.peer, buf);
	}
	free(t.e);
	for (size_t k = 0; !ret && k < x->r->nidentities; k++) {
		uint32_t id = x->r->identities[k].id;
		struct peer pr;

		if (!pol_id_npods(x, k) || pol_u32set_has(split, id) ||
		    (old && !id_moved(x, id) && !reached(cc, id)))
			continue;
		pr = id_peer(x, k);
		decide_all(cc, &pr, buf, NULL);
		ret = emit_group(o, cc, id, buf);
	}
	return ret;
}

/* The nodes as peers (this one only for its pods' egress), and the pods' gateway. */
static int dir_nodes(struct cnpctx *cc, struct out *o, struct vd *buf)
{
	const struct pol_ctx *x = cc->x;
	struct peer pr = { .id = XCNI_ID_HOST, .addr = xcni_prefix_host(x->o->gateway_ip, NULL) };
	int ret = 0;

	for (size_t i = 0; !ret && i < x->nnodes; i++) {
		const struct k8s_node *nd = &x->view->objs[K8S_NODE][i]->node;
		static const uint8_t zero[16];
		bool self = x->o->node_name && !strcmp(nd->meta.name, x->o->node_name);
		struct peer np = { .node = nd, .id = self ? XCNI_ID_HOST : XCNI_ID_REMOTE_NODE };

		/* This node always reaches its pods (the data plane asks no policy);
		 * their egress to it is the tiers' (XCNI_POLEP_HOST_EGRESS). */
		if (self && cc->dir != XCNI_DIR_FROM_POD)
			continue;
		/* At its IPv4, then its IPv6 (zero: none). */
		for (int v6 = 0; !ret && v6 < 2; v6++) {
			np.addr = xcni_prefix_host(nd->internal_ip, v6 ? nd->internal_ip6 : NULL);
			if (v6 ? !!memcmp(nd->internal_ip6, zero, 16) : !!nd->internal_ip)
				ret = peer_out(o, cc, &np, buf);
		}
	}
	/* The pods' gateway: an address of this node's too, not one of its InternalIPs. */
	if (!ret && cc->dir == XCNI_DIR_FROM_POD && x->o->gateway_ip)
		ret = peer_out(o, cc, &pr, buf);
	return ret;
}

/* Every prefix a rule or the NetworkPolicy tier names, standing for the addresses it is the
 * longest of; fqdn: as learned through the rule numbered (dir_fqdn), 0: not. */
static int dir_prefixes(struct cnpctx *cc, struct out *o, struct vd *buf, const struct memo *m,
			size_t fqdn)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < m->npfx; i++) {
		struct peer pr = { .addr = m->pfx[i], .id = XCNI_ID_WORLD, .fqdn = fqdn };

		ret = peer_out(o, cc, &pr, buf);
	}
	return ret;
}

/*
 * domainNames (egress): for the j-th rule of the pod's naming a domain (the
 * Admin tier's, in order; lib/policy/fqdn_plan.c numbers them alike), every
 * region again as an address learned through it sees it: each prefix a rule
 * names (the longest holding the address decides, as for any address) and,
 * for an address in none, a /0 of each family; under polcidr dir
 * XCNI_POLCIDR_DIR_FQDN + j, each to its decision's group.
 */
static int dir_fqdn(struct cnpctx *cc, struct out *o, struct vd *buf, const struct memo *m)
{
	size_t j = 0;
	int ret = 0;

	for (size_t i = 0; !ret && i < cc->nrules && j < XCNI_FQDN_RULES_MAX; i++) {
		const struct k8s_cnp *p = cc->x->cnps[cc->rules[i].cnp];

		if (p->tier != K8S_CNP_ADMIN || !pol_cnp_names_domain(rule_of(cc, i)))
			continue;
		cc->cidr_dir = (uint8_t)(XCNI_POLCIDR_DIR_FQDN + j++);
		ret = dir_prefixes(cc, o, buf, m, i + 1);
		for (int v6 = 0; !ret && v6 < 2; v6++) {
			struct peer pr = { .none = true, .addr.family = v6 ? 6 : 4, .id = XCNI_ID_WORLD,
					   .fqdn = i + 1 };

			ret = peer_out(o, cc, &pr, buf);
		}
	}
	cc->cidr_dir = 0;
	return ret;
}

static int cnp_patch_init(const struct pol_ctx *cx, bool pods);

static int compile_dir(struct cnpctx *cc, struct out *o, const struct pol_ep *old)
{
	size_t n = atoms_total(&cc->at);
	struct vd *buf = calloc(n, sizeof(*buf));
	struct memo m = { 0 };
	struct pol_u32set split = { 0 };
	int ret = memo_init_dir(&m, cc);

	if (!buf)
		ret = -ENOMEM;
	/* Only the pods (identities, addresses, ports) and the Nodes can have moved (cnp_apply,
	 * eps_dirty_audited): patched, old's groups numbered again in the order from nothing
	 * numbers them (the nodes' first: a Node's address is the node's, as in the ipcache). */
	if (!ret && old) {
		cc->old = old;
		cc->nkept = old->nentries; /* a group has one at least */
		if (!(cc->kept = calloc(cc->nkept + 1, sizeof(*cc->kept))) || cnp_patch_init(cc->x, false) ||
		    near_init(cc->x))
			ret = -ENOMEM;
	}
	/*
	 * Pods by identity where that says all (the identity's pods in one region,
	 * no egress named port): identity entries, which the data plane looks up
	 * first. The rest by address, as themselves.
	 */
	if (!ret && !m.by_ports && m.npfx)
		ret = ids_split(&split, cc, &m);
	if (!ret && !m.by_ports)
		ret = dir_ids(cc, o, buf, &split, cc->old);
	/* Pods by address (an identity split, or egress named ports), a patch's too: old's group
	 * where no change reached it (old_groups), else decided once per identity and region. */
	if (!ret)
		ret = dir_nodes(cc, o, buf);
	if (!ret && (split.v || m.by_ports))
		ret = cnp_patch_init(cc->x, true) ?: dir_pods(cc, o, buf, &m, &split);
	if (!ret)
		ret = dir_prefixes(cc, o, buf, &m, 0);
	/* Whatever else: an address no prefix covers (a patch's: old's, but with pods by ports; no
	 * rule a patch follows matches such an address, pol_rules_reach). */
	if (!ret && (!cc->old || m.by_ports)) {
		decide_all(cc, &(struct peer){ .none = true, .id = XCNI_ID_WORLD }, buf, NULL);
		ret = emit_group(o, cc, XCNI_ID_ANY, buf);
	}
	if (!ret && cc->dir == XCNI_DIR_FROM_POD)
		ret = dir_fqdn(cc, o, buf, &m);
	free(cc->kept);
	free(buf);
	free(split.v);
	free(m.v);
	free(m.pfx);
	return ret;
}

struct seqcidr {
	struct pol_cidr c;
	size_t seq;
};

static int cmp_seqcidr(const void *a, const void *b)
{
	const struct seqcidr *x = a, *y = b;
	int d = memcmp(&x->c.key, &y->c.key, sizeof(x->c.key));

	return d ? d : (x->seq > y->seq) - (x->seq < y->seq);
}

/* o's prefixes without a key twice, sorted: the first given (a node's, a pod's, a rule's
 * prefix). The pods' come sorted (o->c[p0, p1)): the others are sorted and merged with them,
 * in place from the front (the pods' run moved to the end: a write never passes it). */
static int cidrs_unique(struct out *o)
{
	struct seqcidr *s = malloc((o->nc - (o->p1 - o->p0) + 1) * sizeof(*s));
	size_t n = 0, a = 0, b, u = 0;

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < o->nc; i++)
		if (i < o->p0 || i >= o->p1)
			s[n++] = (struct seqcidr){ o->c[i], i };
	qsort(s, n, sizeof(*s), cmp_seqcidr);
	if (o->p1 > o->p0)
		memmove(&o->c[n], &o->c[o->p0], (o->p1 - o->p0) * sizeof(*o->c));
	for (b = n; a < n || b < o->nc;) {
		bool pod = b < o->nc &&
			   (a == n || cmp_seqcidr(&s[a], &(struct seqcidr){ o->c[b], b - n + o->p0 }) > 0);
		const struct pol_cidr *q = pod ? &o->c[b++] : &s[a++].c;

		if (!u || pol_cmp_cidr_key(&o->c[u - 1], q))
			o->c[u++] = *q;
	}
	free(s);
	o->nc = u;
	return 0;
}

/* The pod's entries and prefixes of dir replaced by o's: sorted runs merged (o's entries kept
 * from old, o->e[0, e0), sorted; its others sorted here; ep's others; o's prefixes). */
static int splice(struct pol_ep *ep, uint8_t dir, struct out *o)
{
	struct pol_entry *e = malloc((ep->nentries + o->n + 1) * sizeof(*e));
	struct pol_cidr *c = malloc((ep->ncidrs + o->nc + 1) * sizeof(*c));
	size_t n = 0, nc = 0, m = o->n - o->e0;

	if (!e || !c || cidrs_unique(o)) {
		free(e);
		free(c);
		return -ENOMEM;
	}
	if (m)
		qsort(&o->e[o->e0], m, sizeof(*e), pol_cmp_entry_key);
	/* ep's others after o's room, merged in place from the front (a write never passes the
	 * run it reads): with o's kept ending where o's room does, then with o's others. */
	for (size_t i = 0; i < ep->nentries; i++)
		if (ep->entries[i].key.dir != dir)
			e[o->n + n++] = ep->entries[i];
	n = pol_merge(&e[m], &e[o->n], n, o->e, o->e0, sizeof(*e), pol_cmp_entry_key);
	n = pol_merge(e, &e[m], n, m ? &o->e[o->e0] : NULL, m, sizeof(*e), pol_cmp_entry_key);
	for (size_t i = 0; i < ep->ncidrs; i++)
		if (ep->cidrs[i].key.dir != dir)
			c[o->nc + nc++] = ep->cidrs[i];
	nc = pol_merge(c, &c[o->nc], nc, o->c, o->nc, sizeof(*c), pol_cmp_cidr_key);
	pol_ep_set(ep, e, n, c, nc);
	return 0;
}

bool pol_cnp_selects(const struct k8s_cnp *p, const struct k8s_pod *pod,
		     const struct k8s_labels *nsl)
{
	return (!p->subj_ns || k8s_selector_matches(p->subj_ns, nsl)) &&
	       (!p->subj_pod || k8s_selector_matches(p->subj_pod, &pod->meta.labels));
}

bool pol_cnp_names_domain(const struct k8s_cnp_rule *r)
{
	for (size_t i = 0; i < r->npeers; i++)
		if (r->peers[i].ndomains)
			return true;
	return false;
}

/* Rule i of o in direction d, where a patch follows it (1, 0: it cannot; none at i: 1): the peers it
 * selects in r put in reach. A NetworkPolicy's: pods by selectors only (an ipBlock moves the
 * regions; no peer is every one). A ClusterNetworkPolicy's: a Node peer every Node; not a Deny or
 * Pass failing closed (every peer), domainNames (learned addresses, numbered by the rules naming
 * one), networks (the regions), a named port (egress: every pod by address, not by identity). */
static int rule_reach(const struct k8s_object *o, uint8_t d, size_t i, const struct pol_result *r,
		      struct hmap *reach)
{
	bool in = d == XCNI_DIR_TO_POD, np = o->kind == K8S_NETWORKPOLICY;
	const struct k8s_np_rule *nr = !np || i >= (in ? o->np.ningress : o->np.negress) ? NULL :
				       in ? &o->np.ingress[i] : &o->np.egress[i];
	const struct k8s_cnp_rule *cr = np || i >= (in ? o->cnp.ningress : o->cnp.negress) ? NULL :
					in ? &o->cnp.ingress[i] : &o->cnp.egress[i];
	size_t n = nr ? nr->npeers : cr ? cr->npeers : 0;
	int ret = nr ? n > 0 : !cr || !fails_closed(cr);

	for (size_t j = 0; ret && cr && j < cr->nprotos; j++)
		ret = !cr->protos[j].port_name;
	if (ret && hmap_put(reach, hu32(d), POL_REACH(d, XCNI_ID_ANY), NULL))
		return -ENOMEM;
	for (size_t j = 0; ret == 1 && j < n; j++) {
		uint32_t node = cr && cr->peers[j].node_sel ? XCNI_ID_REMOTE_NODE : 0;

		ret = nr ? !nr->peers[j].ipblock : !cr->peers[j].ndomains && !cr->peers[j].nnets;
		ret = !ret ? 0 :
		      node && hmap_put(reach, hu32(node ^ d), POL_REACH(d, node), NULL) ? -ENOMEM : 1;
		for (size_t k = 0; ret == 1 && !node && k < r->nidentities; k++) {
			const struct identity *id = &r->identities[k];
			struct k8s_pod pod = { .meta.labels = id->pod_labels };

			if ((nr ? pol_np_peer_matches(&nr->peers[j], o->meta.ns, id) :
				  peer_matches(&cr->peers[j], &(struct peer){ .pod = &pod,
						.ns_labels = &id->ns_labels }, 0)) &&
			    hmap_put(reach, hu32(id->id ^ d), POL_REACH(d, id->id), NULL))
				ret = -ENOMEM;
		}
	}
	return ret;
}

int pol_rules_reach(json_t *was, const struct k8s_object *now, const struct pol_result *r,
		    struct hmap *reach, struct k8s_object **subj)
{
	struct k8s_object *o = NULL;
	struct k8s_error err;
	int ret = was ? k8s_parse(was, &o, &err) : 0;
	bool np = (o ? o : now)->kind == K8S_NETWORKPOLICY, place, sel, same = true;
	json_t *a = json_object_get(o ? was : NULL, "spec");
	json_t *b = json_object_get(now ? now->raw : NULL, "spec");

	if (ret)
		return ret == -ENOMEM ? ret : 0;
	sel = o && now && json_equal(json_object_get(a, np ? "podSelector" : "subject"),
				     json_object_get(b, np ? "podSelector" : "subject"));
	place = o && now && (np ? o->np.type_ingress == now->np.type_ingress &&
					  o->np.type_egress == now->np.type_egress :
				  o->cnp.tier == now->cnp.tier && o->cnp.priority == now->cnp.priority);
	/* A ClusterNetworkPolicy made, gone, moved or its subject changed: every rule, both sides. */
	ret = (!now || now->raw) && (!o || !now || o->meta.audit == now->meta.audit) &&
	      (!np || (sel && place));
	for (uint8_t d = 0; ret == 1 && d < XCNI_NR_POLICY_DIRS; d++) {
		json_t *ra = json_object_get(a, d == XCNI_DIR_TO_POD ? "ingress" : "egress");
		json_t *rb = json_object_get(b, d == XCNI_DIR_TO_POD ? "ingress" : "egress");

		same &= ra == rb || json_equal(ra, rb);
		for (size_t i = 0; ret == 1 && (i < json_array_size(ra) || i < json_array_size(rb)); i++)
			for (int w = 0; ret == 1 && w < 2 && (!sel || !place ||
					!json_equal(json_array_get(ra, i), json_array_get(rb, i))); w++)
				ret = !(w ? now : o) ? 1 : rule_reach(w ? now : o, d, i, r, reach);
	}
	/* The rules the same: only the pods entering or leaving the subject. */
	if (ret == 1 && place && !sel && same && !*subj)
		*subj = o, o = NULL, ret = 2;
	k8s_free(o);
	return ret;
}

static bool ns_audit(const struct pol_ctx *x, const char *ns)
{
	for (size_t i = 0; i < x->nnsaudit; i++)
		if (!strcmp(x->nsaudit[i], ns))
			return true;
	return false;
}

/* NetworkPolicies isolating pod (in: for ingress), and how many by their own annotation audited. */
static void np_isolating(const struct pol_ctx *x, const struct k8s_pod *pod, bool in, size_t *nisol,
			 size_t *naudit)
{
	*nisol = *naudit = 0;
	for (size_t i = pol_np_next(x, pod, in, 0); i < x->nnps; i = pol_np_next(x, pod, in, i + 1))
		(*nisol)++, *naudit += x->nps[i]->meta.audit;
}

bool cnp_audited(const struct pol_ctx *x, const struct k8s_pod *pod)
{
	bool ns = false;
	size_t nisol, naudit;

	if (!x->nnsaudit && !x->np_audit_any)
		return false;
	ns = ns_audit(x, pod->meta.ns);
	for (int in = 0; in < 2; in++) {
		np_isolating(x, pod, in, &nisol, &naudit);
		if (nisol && (naudit || ns))
			return true;
	}
	return false;
}

uint64_t pol_cnp_mask(const struct pol_ctx *x, const struct k8s_pod *pod,
		      const struct k8s_labels *nsl)
{
	uint64_t m = 0;

	for (size_t i = 0; i < x->ncnps; i++)
		m |= pol_cnp_selects(x->cnps[i], pod, nsl) ? POL_CNP_BIT(x->cnps[i]->meta.name) : 0;
	return m;
}

/* The port intervals, a digest: what a patch needs its old entries made with. */
static uint64_t atoms_digest(const struct atoms *a)
{
	uint64_t h = 1469598103934665603ull;

	for (int pi = 0; pi < 3; pi++)
		for (size_t i = 0; i <= a->n[pi]; i++)
			h = (h ^ (i < a->n[pi] ? a->lo[pi][i] : 0x10000u)) * 1099511628211ull;
	return h | 1;
}

/* The addresses a patch decides again (group 1): the changed Nodes' and pods' (x->addrs, before
 * and after) and any two of the nodes and the gateway share (old keeps the first's group only);
 * with pods (those a direction's pods by address read) for its pods only (2), one a node and a
 * pod or two pods share (the node's group is kept, a pod's made as from nothing), and every
 * pod's address in the keys' order (x->bykey), marked where a change reached it (that, or its
 * identity moved): dir_pods writes them so. Sorting every pod's key is the update's largest
 * cost where none goes by address (a ClusterNetworkPolicy's change patching a few pods): so
 * built once an update, on pods by address' need (compile_dir), the rest on a patch's. The ctx
 * is ctx_for_dirty's: const to a pod's compile, but for this index. */
static int cnp_patch_init(const struct pol_ctx *cx, bool pods)
{
	struct pol_ctx *x = (struct pol_ctx *)cx;
	size_t n = x->naddrs, m = 0, k = 0, np;
	struct xcni_prefix a = xcni_prefix_host(x->o->gateway_ip, NULL);
	struct seqcidr *v;

	if (x->bykey || !x->src || (x->moved && !pods))
		return 0; /* built, or no pod index (no tiers: nothing to patch) */
	if (pods && pol_ctx_pods(x))
		return -ENOMEM;
	np = pods ? x->npods : 0;
	free(x->moved);
	v = calloc(2 * n + 2 * x->nnodes + 2 * np + 2, sizeof(*v));
	x->moved = calloc(2 * n + 2 * x->nnodes + 2 * np + 2, sizeof(*x->moved));
	x->bykey = pods ? calloc(2 * np + 1, sizeof(*x->bykey)) : NULL;
	if (!v || !x->moved || (pods && !x->bykey)) {
		free(v);
		return -ENOMEM;
	}
	v[m++].c.key = pol_cidr_key(0, 0, &a);
	for (size_t i = 0; i < 2 * x->nnodes; i++) {
		const struct k8s_node *nd = &x->view->objs[K8S_NODE][i / 2]->node;

		a = xcni_prefix_host(i % 2 ? 0 : nd->internal_ip, i % 2 ? nd->internal_ip6 : NULL);
		v[m++].c.key = pol_cidr_key(0, 0, &a);
	}
	for (size_t i = 0; i < n; i++)
		v[m++].c = (struct pol_cidr){ pol_cidr_key(0, 0, &x->addrs[i]), 1 };
	for (size_t i = 0; i < 2 * np; i++) {
		const struct k8s_pod *p = x->pods[i / 2];

		a = xcni_prefix_host(i % 2 ? 0 : p->ip, i % 2 ? p->ip6 : NULL);
		if (pol_pod_managed(p) && (i % 2 ? p->has_ip6 : !!p->ip))
			v[m++] = (struct seqcidr){ { pol_cidr_key(0, 0, &a), 2 }, i + 1 };
	}
	qsort(v, m, sizeof(*v), cmp_seqcidr);
	for (size_t i = 0, j, nodes; i < m; i = j) {
		bool mv = false;

		for (j = i, nodes = 0; j < m && !pol_cmp_cidr_key(&v[i].c, &v[j].c); j++)
			nodes += !v[j].c.group, mv |= v[j].c.group == 1;
		if (j - i > 1 || mv)
			x->moved[k++] = (struct pol_cidr){ v[i].c.key, mv || nodes > 1 ? 1 : 2 };
		for (size_t l = i; l < j; l++)
			if (v[l].seq)
				x->bykey[x->nbykey++] = (struct pol_cidr){ v[l].c.key,
					(uint32_t)(v[l].seq - 1) << 1 | (j - i > 1 || mv ||
					id_moved(x, x->pod_id[(v[l].seq - 1) / 2])) };
	}
	x->nmoved = k;
	free(v);
	return 0;
}

int cnp_apply(const struct pol_ctx *x, const struct k8s_pod *pod, struct pol_ep *ep,
	      const struct pol_ep *old)
{
	struct out o[XCNI_NR_POLICY_DIRS] = { 0 };
	bool laid[XCNI_NR_POLICY_DIRS] = { false };
	int ret = 0;

	if (!x->ncnps && !x->nnsaudit && !x->np_audit_any)
		return 0;
	for (uint8_t dir = 0; !ret && dir < XCNI_NR_POLICY_DIRS; dir++) {
		struct cnpctx cc = { .x = x, .pod = pod, .ep = ep, .dir = dir };
		struct pol_ep enf = { 0 };
		size_t cap = 0, nisol, naudit;
		bool in = dir == XCNI_DIR_TO_POD;

		cc.ns_labels = ns_labels_of(x, pod->meta.ns);
		cc.ns_audit = ns_audit(x, pod->meta.ns);
		np_isolating(x, pod, in, &nisol, &naudit);
		cc.np_audit = nisol && nisol == naudit;
		for (size_t i = 0; !ret && i < x->ncnps; i++) {
			const struct k8s_cnp *p = x->cnps[i];
			size_t nr = in ? p->ningress : p->negress;

			if (!nr || !pol_cnp_selects(p, pod, cc.ns_labels))
				continue;
			for (size_t r = 0; !ret && r < nr; r++) {
				if (xcni_grow(&cc.rules, &cap, cc.nrules, sizeof(*cc.rules)))
					ret = -ENOMEM;
				else
					cc.rules[cc.nrules++] = (struct rref){ i, r }; /* sorted */
			}
		}
		/* An audited NetworkPolicy beside an enforced one: the decision is
		 * the enforced ones' alone (pol_compile_ep merged both's allows). */
		if (!ret && naudit && !cc.np_audit && !cc.ns_audit) {
			ret = pol_compile_np_enforced(x, pod, ep->state.identity, &enf);
			cc.ep_enf = &enf;
		}
		/* Nothing tiered, nothing audited here: NetworkPolicy's entries as they are. Both
		 * directions are decided on those alone, then spliced: a decision scans them
		 * (np_lookup), not a node's and identity's entries of the other direction. */
		if (!ret && (cc.nrules || (nisol && (naudit || cc.ns_audit)))) {
			ret = build_atoms(&cc);
			ep->atoms[dir] = ret ? 0 : atoms_digest(&cc.at);
			/* Patched where old was laid, its identities cut again where the port
			 * intervals moved (a port number came or went), else whole. */
			cc.recut = old && old->atoms[dir] && old->atoms[dir] != ep->atoms[dir];
			if (!ret && old && x->npatched)
				x->npatched[!!old->atoms[dir]]++, x->npatched[2] += cc.recut,
				x->npatched[3] += old->atoms[dir] && reached(&cc, XCNI_ID_ANY);
			if (!ret)
				ret = compile_dir(&cc, &o[dir], old && old->atoms[dir] ? old : NULL);
			laid[dir] = !ret;
		}
		for (int pi = 0; pi < 3; pi++)
			free(cc.at.lo[pi]);
		free(cc.rules);
		pol_ep_set(&enf, NULL, 0, NULL, 0);
	}
	for (uint8_t dir = 0; dir < XCNI_NR_POLICY_DIRS; dir++) {
		if (!ret && laid[dir] && !(ret = splice(ep, dir, &o[dir])))
			ep->state.isolated |= XCNI_ISOLATED(dir) |
					      (dir == XCNI_DIR_TO_POD ? 0 : XCNI_POLEP_HOST_EGRESS);
		free(o[dir].groups);
		free(o[dir].e);
		free(o[dir].c);
	}
	return ret;
}

static int cmp_cnp(const void *a, const void *b)
{
	const struct k8s_cnp *x = *(const struct k8s_cnp *const *)a;
	const struct k8s_cnp *y = *(const struct k8s_cnp *const *)b;

	if (x->tier != y->tier)
		return x->tier < y->tier ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return strcmp(x->meta.name, y->meta.name);
}

int pol_cnps_sorted(const struct cluster *c, const struct k8s_cnp ***out)
{
	size_t n = c->n[K8S_CLUSTERNETPOL];
	const struct k8s_cnp **v = calloc(n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = &c->objs[K8S_CLUSTERNETPOL][i]->cnp;
	/* Equal priorities in a tier: by name, so every node orders them alike. */
	qsort(v, n, sizeof(*v), cmp_cnp);
	*out = v;
	return 0;
}

int cnp_ctx_init(struct pol_ctx *x, const struct cluster *c)
{
	x->ncnps = c->n[K8S_CLUSTERNETPOL];
	x->cnp_id = calloc(x->ncnps + 1, sizeof(*x->cnp_id));
	x->nsaudit = calloc(c->n[K8S_NAMESPACE] + 1, sizeof(*x->nsaudit));
	if (pol_cnps_sorted(c, &x->cnps) || !x->cnp_id || !x->nsaudit)
		return -ENOMEM;
	for (size_t i = 0; i < x->ncnps; i++)
		x->cnp_audit_any |= x->cnps[i]->meta.audit;
	for (size_t i = 0; i < c->n[K8S_NAMESPACE]; i++)
		if (c->objs[K8S_NAMESPACE][i]->meta.audit)
			x->nsaudit[x->nnsaudit++] = c->objs[K8S_NAMESPACE][i]->meta.name;
	for (size_t i = 0; i < c->n[K8S_NETWORKPOLICY]; i++)
		x->np_audit_any |= c->objs[K8S_NETWORKPOLICY][i]->meta.audit;
	return 0;
}

/* ---- pods alike ---------------------------------------------------------- */

struct cnp_memo_ent {
	const struct k8s_pod *pod; /* the first pod alike: its ports */
	struct pol_ep ep; /* its identity, isolation, entries and prefixes */
};

struct cnp_memo {
	size_t n, cap;
	struct cnp_memo_ent *v;
};

struct cnp_memo *cnp_memo_new(void)
{
	return calloc(1, sizeof(struct cnp_memo));
}

void cnp_memo_free(struct cnp_memo *m)
{
	for (size_t i = 0; m && i < m->n; i++)
		pol_ep_set(&m->v[i].ep, NULL, 0, NULL, 0);
	free(m ? m->v : NULL);
	free(m);
}

static struct cnp_memo_ent *memo_find(const struct cnp_memo *m, const struct k8s_pod *pod,
				      uint32_t identity)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].ep.state.identity == identity && same_ports(m->v[i].pod, pod))
			return &m->v[i];
	return NULL;
}

/* dst's entries, prefixes and isolation src's, under dst's address (ep is one key field:
 * the order holds); out of memory, dst has none. */
static int ep_copy(struct pol_ep *dst, const struct pol_ep *src)
{
	pol_ep_set(dst, malloc((src->nentries + 1) * sizeof(*src->entries)), src->nentries,
		   malloc((src->ncidrs + 1) * sizeof(*src->cidrs)), src->ncidrs);
	if (!dst->entries || !dst->cidrs) {
		pol_ep_set(dst, NULL, 0, NULL, 0); /* none, not half */
		return -ENOMEM;
	}
	for (size_t i = 0; i < src->nentries; i++)
		dst->entries[i] = src->entries[i], dst->entries[i].key.ep = dst->ip;
	for (size_t i = 0; i < src->ncidrs; i++)
		dst->cidrs[i] = src->cidrs[i], dst->cidrs[i].key.ep = dst->ip;
	dst->state.isolated = src->state.isolated;
	memcpy(dst->atoms, src->atoms, sizeof(dst->atoms));
	return 0;
}

int cnp_memo_get(const struct pol_ctx *x, const struct k8s_pod *pod, struct pol_ep *ep, bool *hit)
{
	const struct cnp_memo_ent *m = memo_find(x->cnp_memo, pod, ep->state.identity);

	*hit = m && ep->state.identity;
	return *hit ? ep_copy(ep, &m->ep) : 0;
}

int cnp_memo_put(const struct pol_ctx *x, const struct k8s_pod *pod, const struct pol_ep *ep)
{
	struct cnp_memo *m = x->cnp_memo;

	if (!ep->state.identity || memo_find(m, pod, ep->state.identity))
		return 0;
	if (xcni_grow(&m->v, &m->cap, m->n, sizeof(*m->v)))
		return -ENOMEM;
	m->v[m->n] = (struct cnp_memo_ent){ .pod = pod, .ep = { .ip = ep->ip, .state = ep->state } };
	if (ep_copy(&m->v[m->n].ep, ep))
		return -ENOMEM;
	m->n++;
	return 0;
}
