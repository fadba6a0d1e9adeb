/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What one endpoint's compile (policy.c and below) and the compiler around
 * it (policy_incr*.c) share: the compile's working state and the helpers the
 * compiler calls. Internal to libxcni; the interface is policy.h.
 */
#ifndef XCNI_POLICY_INT_H
#define XCNI_POLICY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/policy/policy.h"
#include "lib/system/util.h"

#define NS_NAME_LABEL "kubernetes.io/metadata.name"
#define ID_SPAN ((uint32_t)XCNI_ID_CIDR_BASE - XCNI_ID_MIN_LABELS)
#define POLICY_ID_SPAN ((1u << 31) - 1)

/* ---- the compiler's working state ------------------------------------ */

struct nslabels {
	const char *name;
	struct k8s_labels labels; /* with kubernetes.io/metadata.name */
	/* The incremental compiler's: the Namespace audits its NetworkPolicies
	 * (xcni.io/policy-mode), so a change of only that is seen (ns_changed). */
	bool audit;
};

struct portspec {
	uint8_t proto;
	uint8_t plen;
	uint16_t port; /* host order */
};

struct specs {
	size_t n, cap;
	struct portspec *v;
};

/* One ipBlock (or a pod's /32 for an egress named port) with what it allows. */
struct cidr_rule {
	struct xcni_prefix cidr;
	size_t nexcept;
	const struct xcni_prefix *except;
	struct specs specs;
	uint32_t policy_id;
	uint16_t rule;
	uint32_t seq;
};

/* A policy entry before duplicates are removed: the lowest seq wins. */
struct cand {
	struct pol_entry e;
	uint32_t seq;
};

struct epbuild {
	uint32_t ip;
	uint8_t dir;
	size_t n, cap;
	struct cand *c;
	size_t ncr, capcr;
	struct cidr_rule *cr;
	size_t npc, cappc;
	struct pol_cidr *pc;
};

/* A set of uint32_t (never 0) sized at init for every key it will hold, so it
 * never fills up; add: false if k was in already. has: false before init. */
struct pol_u32set {
	size_t mask;
	uint32_t *v;
};

struct pol_ctx {
	const struct pol_opts *o;
	uint32_t (*hash)(const char *);
	size_t npods;
	const struct k8s_pod **pods;
	uint32_t *pod_id; /* identity of pods[i], 0 for hostNetwork pods */
	size_t nnodes; /* view's Nodes (sorted by name), for the tiers' node peers */
	/* The pods and ids above, built on a compile's first need (pol_ctx_pods) from src (the
	 * incremental compiler's index of view, NULL: none to build, no tiers); npods set before. */
	struct pol_incr *src;
	const struct cluster *view;
	size_t nnps;
	const struct k8s_netpol **nps; /* sorted by (namespace, name) */
	uint32_t *np_id;
	const struct hmap *nsl; /* namespace -> struct nslabels (pol_incr.nsl, kept) */
	struct pol_result *r;
	/* per identities[k], its pods with an address (pol_incr.idpods, kept across updates; NULL:
	 * none) */
	const struct pol_idpods **idp;
	/* Which identities each selector peer matches, worked out once per compile
	 * rather than once per selected pod (open addressing on the peer). */
	struct peer_memo *memo;
	size_t memo_cap, memo_n; /* slots, slots taken */
	/* Every (label, identity) pair, by label hash: a selector with matchLabels
	 * looks at the identities carrying its first label, not at all of them. */
	size_t nlabix;
	struct labix *labix;
	/* Only the entries naming r->identities through a selector peer: no
	 * "any peer" entries, no ipBlocks (the incremental compiler adding the
	 * identities born in an update to local pods' policy; it never asks when
	 * an egress rule names a port, whose entries depend on every pod). */
	bool peers_only;
	/* ClusterNetworkPolicies by (tier, priority, name), their policy ids
	 * (policy_cnp.c); the Namespaces in audit mode; whether a NetworkPolicy,
	 * a ClusterNetworkPolicy is. */
	size_t ncnps;
	const struct k8s_cnp **cnps;
	uint32_t *cnp_id;
	/* per ClusterNetworkPolicy, per rule (ingress, then egress): its Pass
	 * number (XCNI_POLV_PASS), 0 for other actions (pol_build_policies) */
	uint16_t **pass_ref;
	size_t nnsaudit;
	const char **nsaudit;
	bool np_audit_any;
	bool cnp_audit_any;
	/* Local pods' tiered results by identity and ports (cnp_memo_*), during
	 * the compile of an update's dirty pods (pol_incr_eps_resync); NULL elsewhere. */
	struct cnp_memo *cnp_memo;
	size_t *npatched; /* pol_delta.neps_patched (counts cnp_apply's directions), or NULL */
	/* The addresses the update moved (pol_incr.moved), and those a patch decides again
	 * (cnp_patch_init, on its first need), as pol_cidr_key(0, 0, a), sorted. */
	const struct xcni_prefix *addrs;
	size_t naddrs, nmoved;
	struct pol_cidr *moved;
	/* Every pod's address as such a key, sorted; group: (2 x its index + v6) << 1 | reached. */
	size_t nbykey;
	struct pol_cidr *bykey;
	const struct hmap *idmoved; /* the identities too (pol_incr's; NULL: every one) */
	/* And those with a pod at an address the update moved, where every pod's is read (near_init) */
	struct pol_u32set near;
	const struct hmap *reach; /* the peers a changed rule selects (pol_rules_reach; pol_incr's) */
};

/* The pods with an address of one identity, in no order (the incremental compiler's ipods). */
struct pol_idpods {
	size_t n, cap;
	struct pol_idpod {
		const struct k8s_pod *pod;
		struct ipod *ip;
	} *v;
};

static inline size_t pol_id_npods(const struct pol_ctx *x, size_t k)
{
	return x->idp && x->idp[k] ? x->idp[k]->n : 0;
}

struct hmap;
struct labix;
struct peer_memo;

/* ---- policy_cnp.c ---- */
/* x's ClusterNetworkPolicies and audit state from the view. 0 or -ENOMEM. */
int cnp_ctx_init(struct pol_ctx *x, const struct cluster *c);
/* 1 when a policy's document was and its object now (a ClusterNetworkPolicy's: either NULL, made
 * or gone) differ where a patch follows each changed rule (by index), the peers they select put in
 * reach (keys POL_REACH: in their direction, an identity of r; XCNI_ID_REMOTE_NODE: the Nodes;
 * XCNI_ID_ANY: a rule changed); every rule where a ClusterNetworkPolicy was made, gone, or its
 * subject, tier or priority changed. 2: its subject alone, was parsed in *subj (if NULL). 0: the pods it
 * selects compiled whole; -ENOMEM. */
int pol_rules_reach(json_t *was, const struct k8s_object *now, const struct pol_result *r,
		    struct hmap *reach, struct k8s_object **subj);
#define POL_REACH(dir, id) UKEY((uint64_t)(dir) << 33 | (id))
/* The tiers and audit mode laid over ep's NetworkPolicy entries (pol_compile_ep's last step);
 * old: the pod's last result, patched per changed peer where that is exact, or NULL. */
int cnp_apply(const struct pol_ctx *x, const struct k8s_pod *pod, struct pol_ep *ep,
	      const struct pol_ep *old);
/*
 * A tiered pod's entries depend on its identity (labels, namespace's labels:
 * which policies select it), its container ports (ingress named ports) and
 * its address only as the key's ep: pods alike share one compile. get fills
 * ep from an earlier pod alike (its keys moved to ep's address): true; put
 * remembers ep. 0 or -ENOMEM. new/free: pol_incr_eps_resync's.
 */
struct cnp_memo *cnp_memo_new(void);
void cnp_memo_free(struct cnp_memo *m);
int cnp_memo_get(const struct pol_ctx *x, const struct k8s_pod *pod, struct pol_ep *ep, bool *hit);
int cnp_memo_put(const struct pol_ctx *x, const struct k8s_pod *pod, const struct pol_ep *ep);
/* Does a Namespace or NetworkPolicy of c ask for audit mode? */
bool cnp_any_audit(const struct cluster *c);
/*
 * Does cnp_apply lay audit mode over pod's entries without any
 * ClusterNetworkPolicy (a NetworkPolicy isolating it is audited, by its own
 * annotation or its Namespace's)? Such entries name every pod and node.
 */
bool cnp_audited(const struct pol_ctx *x, const struct k8s_pod *pod);
/* A ClusterNetworkPolicy name's bit in pol_cnp_mask's set (a name hash, mod 64). */
#define POL_CNP_BIT(name) (1ull << (pol_fnv1a(name) & 63))
/* A NetworkPolicy's (pol_ep.npbits): of its namespace and name, as its number is hashed. */
#define POL_NP_BIT(ns, name) (1ull << (pol_policy_hash(ns, name) & 63))
/* The bits of the ClusterNetworkPolicies selecting pod (x->cnps; nsl: its namespace's
 * labels): the incremental compiler's record of which a change of one may reach. */
uint64_t pol_cnp_mask(const struct pol_ctx *x, const struct k8s_pod *pod,
		      const struct k8s_labels *nsl);

/* x->pods, x->pod_id and x->npods from x->src, once (no src: nothing). 0 or -ENOMEM. */
int pol_ctx_pods(const struct pol_ctx *x);
int pol_build_policies(struct pol_ctx *x);
/* First free number from h on (added to used), wrapping in [min, min + span). */
uint32_t pol_probe(struct pol_u32set *used, uint32_t h, uint32_t min, uint32_t span);
/* The number o's previous allocation gave canon; 0: none. */
uint32_t pol_idprev_find(const struct pol_opts *o, const char *canon);
char *pol_canon_string(const struct k8s_labels *pod, const struct k8s_labels *ns);
int pol_cmp_ep(const void *a, const void *b);
int pol_cmp_id(const void *a, const void *b);
int pol_cmp_ipcache(const void *a, const void *b);
int pol_cmp_ipcache_rank(const void *a, const void *b);
int pol_cmp_meta(const void *a, const void *b);
int pol_cmp_podname(const void *a, const void *b);
int pol_cmp_str(const char *a, const char *b);
/* The first of v[n] (sorted by namespace; each a struct k8s_meta at offset meta) in ns. */
size_t pol_ns_first(const void *const *v, size_t n, size_t meta, const char *ns);
int pol_compile_ep(const struct pol_ctx *x, const struct k8s_pod *pod, uint32_t identity,
		   struct epbuild *eb, struct pol_ep *ep, const struct pol_ep *old);
/*
 * pod's NetworkPolicy entries without the policies in audit mode (by their
 * own annotation; the namespace's is the caller's): what an audited policy
 * beside an enforced one must not open. ep is the caller's to free.
 */
int pol_compile_np_enforced(const struct pol_ctx *x, const struct k8s_pod *pod, uint32_t identity,
			    struct pol_ep *ep);
/* policy_np.c: pod's NetworkPolicy entries into ep (enforced_only: without audited policies). */
int pol_compile_np(const struct pol_ctx *x, const struct k8s_pod *pod, uint32_t identity,
		   struct epbuild *eb, struct pol_ep *ep, bool enforced_only);
void pol_copy_str(char *dst, size_t size, const char *src);
void pol_ctx_free(struct pol_ctx *x);
uint32_t pol_fnv1a(const char *s);
/* The host's addresses (gateway, node IP) as ipcache entries when nd is NULL,
 * else node nd's InternalIP (this node's: the host). 0 or -ENOMEM. */
int pol_ipcache_node(struct pol_result *r, size_t *cap, const struct pol_opts *o,
		     const struct k8s_node *nd);
int pol_labels_copy(struct k8s_labels *dst, const struct k8s_labels *src, const char *key,
		    const char *value);
int pol_labix_build(struct pol_ctx *x);
/* The policies that select one local pod (indexes into x->nps). */
struct epsel {
	size_t n;
	uint32_t np[];
};
/*
 * The policies selecting pod (its namespace's whose podSelector matches), one
 * allocation; NULL: out of memory.
 */
struct epsel *pol_pod_policies(const struct pol_ctx *x, const struct k8s_pod *pod);
/* Does a selector peer of a policy of namespace policy_ns select identity id? */
bool pol_np_peer_matches(const struct k8s_np_peer *peer, const char *policy_ns,
			 const struct identity *id);
/* Does a selector peer of np, in a direction np has, match an identity of x->r? */
bool pol_np_peers_match_any(const struct pol_ctx *x, const struct k8s_netpol *np);
/*
 * *ix (pol_labix_build's, *n pairs) brought from one identity set to the next:
 * without the pairs of the identities numbered del, with those of put (found
 * in r, the new set). One merge instead of hashing and sorting every
 * identity's labels again. 0 or -ENOMEM (*ix unchanged then).
 */
int pol_labix_update(struct labix **ix, size_t *n, const struct pol_result *r, const uint32_t *del,
		     size_t ndel, const struct pol_idput *put, size_t nput);
int pol_memo_init(struct pol_ctx *x);
void pol_memo_free(struct pol_ctx *x);
uint32_t pol_pod_addr(const struct k8s_pod *p, bool local);
bool pol_pod_managed(const struct k8s_pod *p);
void pol_set_err(struct k8s_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pol_sort_unless_sorted(void *base, size_t n, size_t sz,
			    int (*cmp)(const void *, const void *));
/* a[na] and b[nb] (each sorted by cmp) as one sorted run in dst, a's first of equals: na + nb.
 * dst may be a's array with a at dst + nb or later (a merge in place from the front). */
size_t pol_merge(void *dst, const void *a, size_t na, const void *b, size_t nb, size_t sz,
		 int (*cmp)(const void *, const void *));

/* policy_ident.c: what every endpoint's compile reads, built first. */
bool pol_pod_local(const struct pol_opts *o, const struct k8s_pod *p);
/* Namespace name's labels (x->nsl), or NULL. */
const struct nslabels *pol_nsl_find(const struct pol_ctx *x, const char *name);
/* Addresses two of x->pods claim: each claimant reported in x->r->contested
 * (the owner first), a pod being deleted that yields (pol_pod_yields) in
 * x->r->yielded. 0 or -ENOMEM. */
int pol_resolve_contested(struct pol_ctx *x);
/* A pod's name as xcni_podname holds it. */
void pol_podname_set(struct xcni_podname *n, const struct k8s_pod *p);
/* p (being deleted) yields the address it shares with live (pol_yield). */
bool pol_pod_yields(const struct k8s_pod *p, const struct k8s_pod *live);
void pol_ep_contest(struct pol_ep *ep);
/* ep's entries and prefixes: e[n] and c[nc] (taken; NULL, 0: none), the old ones freed. */
void pol_ep_set(struct pol_ep *ep, struct pol_entry *e, size_t n, struct pol_cidr *c, size_t nc);
/* policy_util.c: comparators for qsort and bsearch (pol_entry, pol_cidr by key). */
int pol_cmp_entry_key(const void *a, const void *b);
int pol_cmp_cidr_key(const void *a, const void *b);
/* Sorted by cmp, the first element of each run of equal ones kept: the new
 * count. Equal: as cmp says (keylen 0), or in the first keylen bytes (the
 * key; cmp orders the rest, which of a key's elements comes first). */
size_t pol_sort_dedup(void *arr, size_t n, size_t size, int (*cmp)(const void *, const void *),
		      size_t keylen);
/* The identity numbered id in r (sorted by number), or NULL. */
struct identity *pol_identity_find(const struct pol_result *r, uint32_t id);
int pol_u32set_init(struct pol_u32set *s, size_t n);
bool pol_u32set_has(const struct pol_u32set *s, uint32_t k);
bool pol_u32set_add(struct pol_u32set *s, uint32_t k);
/* A polcidr key's prefix, and the key of ep's prefix a in dir. */
struct xcni_prefix pol_key_cidr(const struct xcni_polcidr_key *k);
struct xcni_polcidr_key pol_cidr_key(uint32_t ep, uint8_t dir, const struct xcni_prefix *a);
/* Port s (proto, port, plen: POL_PREFIX_*) appended; [lo, hi] as the fewest
 * aligned power-of-two blocks, each one LPM entry whose prefix covers the
 * port's leading bits. 0 or -ENOMEM. */
int pol_specs_add(struct specs *s, uint8_t proto, uint16_t port, unsigned plen);
int pol_specs_add_range(struct specs *s, uint8_t proto, uint32_t lo, uint32_t hi);
/* ep's entry in dir for peer at port s deciding val (both compilers write them so). */
struct pol_entry pol_entry_make(uint32_t ep, uint8_t dir, uint32_t peer, const struct portspec *s,
				struct xcni_policy_val val);
/* policy_np.c: an epbuild's arrays freed. */
void pol_epbuild_free(struct epbuild *eb);
/* The next NetworkPolicy from x->nps[i] on (0: the pod's namespace's first)
 * that isolates pod for ingress (in) or egress; x->nnps if none. */
size_t pol_np_next(const struct pol_ctx *x, const struct k8s_pod *pod, bool in, size_t i);
/* policy.c: a policy's hash with the hash function given (ctx's, or pol_fnv1a). */
uint32_t pol_policy_hash_raw(uint32_t (*hash)(const char *), const char *ns, const char *name);

#endif
