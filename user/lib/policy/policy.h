/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identities and the NetworkPolicy compiler: cluster state in, the exact
 * contents of the BPF maps out (ipcache, polep, policy, polcidr, names).
 * Pure: no maps, no syscalls, so every semantic rule has a unit test.
 */
#ifndef XCNI_POLICY_H
#define XCNI_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "xcni_shared.h"
#include "lib/cluster/store.h"

/*
 * One identity per label set: the pod's labels as "k8s:<key>=<value>" and its
 * namespace's labels (kubernetes.io/metadata.name always among them) as
 * "ns:<key>=<value>", each group sorted by key, pod labels first, joined by
 * ','. A label set keeps its number for as long as it exists (DESIGN.md: "A
 * number keeps its meaning"); numbers are node-local (the ipcache maps a
 * source address to one; nothing on the wire carries it), so they are
 * allocated per node:
 *  - a set the previous allocation names (the last result, or xcni_identity
 *    as a restarted agent finds it: pol_opts.prev) keeps that number;
 *  - a new set takes a keyed hash of its canonical string (SipHash-2-4 under
 *    pol_opts.id_key) in [XCNI_ID_MIN_LABELS, XCNI_ID_CIDR_BASE), or the next
 *    number up that is free; new sets of one generation in their strings'
 *    sorted order;
 *  - a number the previous allocation held is not given to a new set in the
 *    next generation (quarantine): the writer removes the old owner's
 *    addresses and entries in one generation, the new owner appears in a
 *    later one.
 * So a colliding label set, crafted or not, only ever moves itself.
 */
struct identity {
	uint32_t id;
	size_t npods; /* pods with it (the incremental compiler's count) */
	char *canon;
	const char *ns; /* namespace name */
	struct k8s_labels pod_labels; /* copies */
	struct k8s_labels ns_labels;
};

/*
 * Prefix lengths of policy keys, counted as the LPM trie counts them: bits of
 * the key after prefixlen, from ep on. Derived from the layout, because
 * XCNI_POLICY_PREFIX_* in xcni_shared.h (88/104/120) are 8 bits too long for
 * it: 88 would match the protocol byte, 104 the port's high byte.
 */
#define POL_KEY_BITS(field) \
	((unsigned)(offsetof(struct xcni_policy_key, field) - offsetof(struct xcni_policy_key, ep)) * 8)
#define POL_PREFIX_ANY_PROTO POL_KEY_BITS(proto) /* 80: any protocol, any port */
#define POL_PREFIX_ANY_PORT POL_KEY_BITS(port) /* 96: any port of proto; 96 + k: port range */
#define POL_PREFIX_FULL (POL_PREFIX_ANY_PORT + 16) /* 112: one port */

struct pol_entry {
	struct xcni_policy_key key; /* version 0: the writer sets it */
	struct xcni_policy_val val; /* packets 0 */
};

struct pol_cidr {
	struct xcni_polcidr_key key; /* version 0 */
	__u32 group;
};

/*
 * One local pod's compiled policy. Arrays sorted by key (memcmp), no duplicates.
 * ipBlock groups are XCNI_ID_CIDR_BASE + the prefix's index among this pod's
 * prefixes of that direction (IPv4 first, then by address, then length), so they only
 * move when this pod's own ipBlock rules change.
 */
struct pol_ep {
	uint32_t ip; /* network order */
	const struct k8s_pod *pod;
	struct xcni_polep state; /* identity, isolated bits; version 0 */
	struct xcni_polsel sel; /* the policies that isolate it, by name */
	uint64_t npbits; /* their name bits (POL_NP_BIT): what a NetworkPolicy's change reaches */
	size_t nentries;
	struct pol_entry *entries;
	size_t ncidrs;
	struct pol_cidr *cidrs;
	/* cnp_apply's port intervals per dir, a digest (0: no tiers or audit laid
	 * over): where they moved, a per-peer patch cuts old's entries again. */
	uint64_t atoms[2];
	/* The incremental compiler's: entries or CIDRs may differ from its previous
	 * update's (compiled, given or denied peers). Unset, a writer that applied
	 * that update need not compare them; a full delta says nothing of it. */
	bool changed;
};

struct pol_ipcache {
	struct xcni_ipcache_key key;
	struct xcni_ipcache_val val;
};

struct pol_name {
	uint32_t id;
	struct xcni_polname name;
};

struct pol_podname {
	uint32_t ip;
	struct xcni_podname name;
};

/* A ClusterNetworkPolicy rule's name or a Pass number (xcni_shared.h: rulename). */
struct pol_rulename {
	struct xcni_rulename_key key;
	struct xcni_rulename val;
};

/*
 * One pod of an address two or more live pods claim (an IPAM bug, a stale
 * API cache, a node restarted without its leases). The owner (rule:
 * pol_contest_owner) keeps the address's name; the address is closed (the
 * ipcache names it XCNI_ID_UNMANAGED, the local owner's polep
 * XCNI_POLEP_CONTESTED) until one is gone; the others hold nothing.
 */
struct pol_contest {
	uint32_t ip; /* network order: pod_addr's key */
	bool owner;
	enum k8s_pod_phase phase;
	struct xcni_podname name;
};

/*
 * A pod being deleted (metadata.deletionTimestamp) that yielded its address
 * to a live pod of its own node instead of contesting it: host-local on one
 * node hands an address out again only after the old sandbox's CNI DEL, so
 * the old pod's object still listed (Terminating: a finalizer, the kubelet
 * not done yet) is a record of the past, not a claim. The live pod owns the
 * address as if the old one were gone; the old one holds nothing
 * (pol_resolve_contested). A claimant on another node, a second live one,
 * or a deleting pod with no node still contests as before.
 */
struct pol_yield {
	uint32_t ip; /* network order: pod_addr's key */
	struct xcni_podname from; /* the pod being deleted */
	struct xcni_podname to; /* the live pod of its node that has the address */
};

struct pol_result {
	size_t nidentities; /* sorted by id */
	struct identity *identities;
	size_t neps; /* sorted by ip */
	struct pol_ep *eps;
	size_t nipcache; /* sorted by key (memcmp) */
	struct pol_ipcache *ipcache;
	size_t npolicies; /* sorted by id */
	struct pol_name *policies;
	size_t npodnames; /* sorted by ip */
	struct pol_podname *podnames;
	/* sorted by key (memcmp); only ClusterNetworkPolicies have any, and
	 * an update that changes them is full (pol_delta.full). */
	size_t nrulenames;
	struct pol_rulename *rulenames;
	size_t ncontested; /* by ip, the owner first */
	struct pol_contest *contested;
	size_t nyielded; /* by ip */
	struct pol_yield *yielded;
};

/* A number a label set held: labels as xcni_identity holds them (pol_ident_label). */
struct pol_idprev {
	const char *labels;
	uint32_t id;
};

/* qsort and bsearch comparators (policy_util.c): pol_idprev by labels, uint32_t, char *. */
int pol_cmp_idprev(const void *a, const void *b);
int pol_cmp_u32(const void *a, const void *b);
int pol_cmp_strp(const void *a, const void *b);

struct pol_opts {
	const char *node_name; /* pods with spec.nodeName == this are local */
	uint32_t node_ip; /* this node's InternalIP (network order) or 0 */
	uint32_t gateway_ip; /* the pods' gateway on this node: host identity */
	/* Other nodes are reached at their IPv6 InternalIP wherever they have one
	 * (tunnel_underlay6, as the overlay's tunnel map): this node's underlay is
	 * IPv6 only (xcnid --node-ip with an IPv6 address only, or an underlay
	 * with no IPv4), or it has both and xcnid --tunnel-family ipv6. False on
	 * a node with both by default: IPv4 where the other node has it, IPv6 to
	 * IPv6-only nodes. */
	bool underlay6;
	/* IPv6 (pods' and Nodes' IPv6 addresses) to the IPv6 InternalIP
	 * wherever the other node has one, IPv4 as underlay6 says: a node of
	 * both families on a kernel without Geneve between families (xcnid's
	 * probe adjust-room-decap-l3), each family over its own underlay. */
	bool same_fam;
	/*
	 * The 32-bit hash behind identity numbers (of the canonical label
	 * string) and policy ids (of "ns/name"); NULL = FNV-1a. Tests set it to
	 * force collisions.
	 */
	uint32_t (*hash)(const char *s);
	/* The key of the identity hash (SipHash-2-4); all zero: the built-in
	 * default (xcnid --identity-key-file). Nodes with one key mostly agree
	 * on numbers; a tenant who does not know it cannot aim a collision. */
	uint8_t id_key[16];
	/* The allocation to keep (pol_compile; the incremental compiler keeps its
	 * own and takes one only through pol_incr_seed): sorted by labels. */
	const struct pol_idprev *prev;
	size_t nprev;
};

/*
 * Compiles the cluster view: the incremental compiler from nothing
 * (pol_incr_update with everything changed), its result taken. The result
 * refers into c (pods, namespace names), so c must stay valid while it is
 * used. 0 or -errno (-ENOMEM, err set); two pods with one IP are contested
 * (struct pol_contest), not an error.
 */
int pol_compile(const struct cluster *c, const struct pol_opts *o, struct pol_result *out,
		struct k8s_error *err);
void pol_result_free(struct pol_result *r);
/*
 * The output looked up as bpf/lib/policy.h looks a new flow up
 * (lib/observe/suggest_sim.c, policy_util.c; the unit tests' simulator,
 * tests/unit/polsim.h, uses the same): a stored LPM key against a looked-up one over plen bits
 * after prefixlen, a pod by address, an address's identity (ipcache, longest
 * prefix; world when none), a pod's ipBlock group for an IPv4 peer (0: none);
 * the pod's longest prefix (polcidr) holding a, its longest entry (exact
 * port, range, any port, any protocol) for peer. The tiers' compile reads
 * NetworkPolicy's entries back through the last two (policy_cnp.c).
 */
/* A ClusterNetworkPolicy's subject holds pod (its namespace's labels nsl);
 * a rule names a domain (domainNames): policy_cnp.c's, fqdn_plan.c's. */
bool pol_cnp_selects(const struct k8s_cnp *p, const struct k8s_pod *pod,
		     const struct k8s_labels *nsl);
bool pol_cnp_names_domain(const struct k8s_cnp_rule *r);
/* The view's ClusterNetworkPolicies in evaluation order: Admin, Baseline, each by priority, name. */
int pol_cnps_sorted(const struct cluster *c, const struct k8s_cnp ***out);
bool pol_lpm_match(const void *stored, const void *lookup, unsigned int plen);
const struct pol_ep *pol_ep_find(const struct pol_result *r, uint32_t ip);
uint32_t pol_ipcache_identity(const struct pol_result *r, uint32_t ip);
uint32_t pol_cidr_group(const struct pol_ep *ep, int dir, uint32_t ip);
const struct pol_cidr *pol_cidr_lookup(const struct pol_ep *ep, int dir, const struct xcni_prefix *a);
const struct pol_entry *pol_entry_lookup(const struct pol_ep *ep, int dir, uint32_t peer,
					 uint8_t proto, uint16_t port);

/*
 * The incremental compiler: the same result as pol_compile, reached from the
 * previous one and the objects that changed (store_journal_take), so a change
 * costs what it touches, not the cluster. It keeps per pod its address,
 * identity and node; per identity its pod count; per address what the last
 * result said. A local pod's policy is compiled again only when the pod, the
 * identities (their set) or a NetworkPolicy that selected or selects it
 * changed; a Namespace's labels are followed through its pods' identities
 * (they die and are born again), so only its pods and the peers selecting it
 * before or after are worked out again. Only the journal overflowing, new
 * options or a failure make it compile everything again, from nothing with
 * the last result's identities (struct identity): the same code with every
 * object a change, which is what pol_compile is.
 */
struct pol_idput {
	uint32_t id;
	const char *canon; /* valid until the next update */
};

/* What changed in the cluster-wide maps since the previous result. */
struct pol_delta {
	/* Everything may have changed: diff the whole result (its arrays are set). */
	bool full;
	/* Why full, or why the whole compile ran (static text); NULL: a delta. */
	const char *why;
	size_t nipc_put, nipc_del;
	struct pol_ipcache *ipc_put;
	struct xcni_ipcache_key *ipc_del;
	size_t nid_put, nid_del;
	struct pol_idput *id_put;
	uint32_t *id_del;
	size_t npol_put, npol_del;
	struct pol_name *pol_put;
	uint32_t *pol_del;
	size_t npn_put, npn_del;
	struct pol_podname *pn_put;
	uint32_t *pn_del;
	size_t neps_compiled; /* local pods whose policy was compiled again */
	size_t neps_np; /* of those, a NetworkPolicy's change reached (it selected or selects them) */
	/* of those tiered, last at hand: whole, patched, of which recut, of which a changed
	 * ClusterNetworkPolicy rule's peers were decided again (the other directions: none) */
	size_t neps_patched[4];
	size_t neps_named; /* of those, a NetworkPolicy's egress named port reached (its peers moved) */
	size_t npods_quiet; /* pods written with nothing a peer reads changed (pod_changed) */
	/* Local pods given the entries of identities born in this update (their
	 * peers matched against the new identities only, not compiled again). */
	size_t neps_born;
	/* Of those, the ones a policy of which has a peer matching a new
	 * identity: compiled for those peers only. */
	size_t neps_born_hit;
	/* Pods whose identity was worked out again because their Namespace's
	 * labels or audit mode changed (ns_changed). */
	size_t nns_pods;
	/* pol_v6_build's input (the pods with an IPv6, their identities and
	 * nodes, the Nodes) may have changed: false lets the caller keep the IPv6
	 * maps as they are. Always true with full. */
	bool v6_changed;
};

struct pol_incr;

struct pol_incr *pol_incr_new(void);
void pol_incr_free(struct pol_incr *pi);
/*
 * Brings the result up to the view c. ch: the objects changed since the
 * previous call; all: anything may have changed (first call, journal
 * overflow). whole: the caller needs the whole result (the ipcache and
 * podnames arrays, which are otherwise left empty; their counts are always
 * set), e.g. to diff every map after a failed write. *r and *d stay valid
 * until the next call. On error (as pol_compile's) the next call compiles
 * everything again.
 */
int pol_incr_update(struct pol_incr *pi, const struct cluster *c, const struct pol_opts *o,
		    const struct store_change *ch, size_t nch, bool all, bool whole,
		    const struct pol_result **r, const struct pol_delta **d, struct k8s_error *err);
/* The identity pod ns/name has in the last result; 0 if none (hostNetwork, unknown). */
uint32_t pol_incr_pod_id(const struct pol_incr *pi, const char *ns, const char *name);
/*
 * The policy key of an IPv6-only pod of this node (xcni_shared.h: polkey6):
 * 0.0.0.0/8 from the address's low 24 bits, which no pod IPv4 can be. Its
 * policy entries, polep and a podname entry are under it, as a dual-stack
 * pod's are under its IPv4; two such pods of one node whose addresses end
 * alike are refused like two pods with one address.
 */
uint32_t pol_polkey6(const uint8_t ip6[16]);
/*
 * IPv6 beside the result: every pod's IPv6 in the ipcache6 under its
 * identity (tunnel_ip: its node's InternalIP for another node's pod, 0 for
 * this node's), every Node's IPv6 InternalIP (this node: host, others:
 * remote-node with their IPv4 InternalIP as tunnel_ip), and this node's pods' IPv6
 * -> policy key (their IPv4, or pol_polkey6). Sorted by key, one entry per
 * address: one two live pods claim is closed (XCNI_ID_UNMANAGED, counted in
 * ncontested), as a contested IPv4, their other family untouched; a pod
 * being deleted yields it to a live pod of its node (pol_yield, nyielded). Built from the view c
 * and pi's last result; pol_v6_free releases it.
 */
struct pol_ipc6 {
	struct xcni_ipcache6_key key;
	struct xcni_ipcache_val val;
	const char *ns; /* the pod's namespace (polsync_plan6); NULL for a node */
};
struct pol_key6 {
	struct xcni_in6 addr;
	__u32 key;
	const char *ns; /* the pod's namespace: its owner in xcni_polkey6's room */
};
struct pol_v6 {
	size_t nipc, nkeys;
	size_t ncontested; /* IPv6 addresses two live pods claim: closed (unmanaged) */
	/* Pods being deleted that yielded their IPv6 to a live pod of their
	 * node (pol_yield): in no entry. */
	size_t nyielded;
	struct pol_ipc6 *ipc;
	struct pol_key6 *keys;
};
int pol_v6_build(const struct pol_incr *pi, const struct cluster *c, struct pol_v6 *out);
void pol_v6_free(struct pol_v6 *v);
/* Compiles that started from scratch (the first, and every fallback). */
size_t pol_incr_resets(const struct pol_incr *pi);
/* Why the last whole compile ran (pol_delta.why's static text); NULL: none yet. */
const char *pol_incr_reset_why(const struct pol_incr *pi);

/* The id NetworkPolicy ns/name gets: a hash in [1, 1 << 31), probed like identities. */
uint32_t pol_policy_hash(const char *ns, const char *name);
/* Namespace ns's labels in c (its Namespaces sorted by name, as store_view
 * gives them); none when c has no such Namespace. */
const struct k8s_labels *pol_ns_labels(const struct cluster *c, const char *ns);
/* The identity a canonical label string gets when nothing collides with it,
 * under o's key (a zeroed o: the default key; o->hash when set, as tests
 * force collisions). */
uint32_t pol_ident_number(const struct pol_opts *o, const char *canon);
/* SipHash-2-4 of len bytes under a 16-byte key (policy_ident.c). */
uint64_t pol_siphash(const uint8_t key[16], const void *data, size_t len);
/*
 * canon as xcni_identity holds it (out: sizeof(struct xcni_idlabels), zero
 * padded): itself when it fits; else its first bytes, '#' and 16 hex digits
 * of its hash, so a restarted agent tells long sets apart (pol_opts.prev).
 */
void pol_ident_label(const char *canon, char *out);
/* The previous allocation for the first compile (xcnid: read from xcni_identity
 * at start); copied. 0 or -ENOMEM. */
int pol_incr_seed(struct pol_incr *pi, const struct pol_idprev *prev, size_t n);

#endif
