/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What policy_incr.c (the incremental compiler's state and its index of the
 * cluster) and policy_incr_eps.c (the local pods' endpoints compiled again
 * when what they depend on changed) share.
 */
#ifndef XCNI_POLICY_INCR_INT_H
#define XCNI_POLICY_INCR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/policy/policy.h"
#include "lib/policy/policy_int.h"
#include "lib/system/hmap.h"

/* A node pods name (with or without its Node object). */
struct inode {
	char *name;
	uint32_t ip; /* the Node's InternalIP; 0 without one */
	uint8_t ip6[16]; /* its IPv6 InternalIP (the IPv6 underlay's endpoint); zero: none */
	bool exists; /* a Node object */
	uint64_t lab; /* its labels' digest (labels_digest) */
	size_t n, cap;
	struct ipod **pods;
};

struct ipod {
	char *key; /* "ns/name" */
	const struct k8s_pod *pod; /* the store's; replaced whenever the pod changes */
	uint32_t ip; /* a managed pod's address, 0 if none */
	uint8_t ip6[16]; /* its IPv6 while in pol_incr.v6: once gone, pol_incr.moved's */
	uint32_t id; /* 0: none (hostNetwork) */
	uint64_t ports; /* its container ports' digest (ipod_new) */
	bool local;
	/* A local pod whose entries cnp_apply lays tiers or audit mode over
	 * (cnps, cnp_audited): they name every pod and node, so it is compiled
	 * again whenever a pod or a node changes, or a policy reaching it. Set
	 * when its entries are compiled. */
	bool audited;
	uint64_t cnps; /* pol_cnp_mask: the ClusterNetworkPolicies selecting it */
	bool contested; /* owns an address another live pod claims (pol_contest) */
	struct inode *node;
	size_t nslot; /* index in node->pods */
	size_t islot; /* 1 + index in its identity's pol_idpods; 0: not there (no id, no address) */
};

/* What the last result said for one /32. */
struct ipent {
	bool ipc, pn;
	struct xcni_ipcache_val val;
	uint64_t pnd; /* digest of the podname */
};

struct nodeaddr {
	uint32_t ip;
	struct xcni_ipcache_val val;
};

struct pol_incr {
	bool valid;
	/* incr_reset's update: every object a change of the empty state */
	bool replay;
	size_t resets;
	const char *reset_why; /* the last whole compile's pol_delta.why */
	struct pol_opts o;
	char *node_name;
	struct pol_result r; /* ipcache, podnames: arrays only when asked for whole */
	size_t nipc, npn; /* /32 ipcache entries and pod names in the result */
	struct pol_delta d;
	size_t cap_ipc_put, cap_ipc_del, cap_id_put, cap_id_del, cap_pol_put, cap_pol_del,
		cap_pn_put, cap_pn_del;
	struct hmap pods; /* key -> ipod */
	struct hmap nodes; /* name -> inode */
	struct hmap ipx; /* address -> ipod (managed pods with an address) */
	struct hmap v6; /* key -> ipod: managed pods with an IPv6 (pol_v6_build) */
	struct hmap ents; /* address -> ipent */
	struct hmap canon; /* canonical labels -> identity number */
	struct hmap nsl; /* namespace -> struct nslabels (owned) */
	struct hmap idpods; /* identity -> struct pol_idpods (owned): a tiered compile's peers */
	size_t nnodeaddr; /* gateway, this node, every Node: they win over pods */
	struct nodeaddr *nodeaddr; /* sorted by ip */
	/* The allocation a whole compile starts from when the last result is not
	 * at hand (pol_incr_seed, or prev_keep before it fell back or failed). */
	size_t nprev;
	struct pol_idprev *prev;
	size_t nnps;
	const struct k8s_netpol **nps; /* sorted like the view */
	uint32_t *np_id;
	bool named_egress; /* some egress rule names a port: eps depend on its peers' pods */
	bool audit_any; /* a Namespace or NetworkPolicy in audit mode (cnp_any_audit) */
	bool tiers; /* some ClusterNetworkPolicy: the pods it selects are ipod.audited */
	bool cnp_audit_any; /* some ClusterNetworkPolicy in audit mode (pol_ctx's) */
	/* The rule names changed (a ClusterNetworkPolicy's): the writer diffs
	 * every map whole, as only a whole result carries them. */
	bool names_whole;
	/* A policy's "ns/name" ("/name": a ClusterNetworkPolicy) -> its document as last compiled
	 * (k8s_object.raw): the store frees the old object before the update; a change's patch
	 * reads its rules (pol_rules_reach). */
	json_t *docs;
	struct hmap reach; /* one update's: the peers its changed rules select (POL_REACH) */
	/* one update's: a ClusterNetworkPolicy whose subject alone changed, as it was */
	struct k8s_object *subj;
	/* The label index of r->identities (pol_labix_build), kept while they stay:
	 * built again for each local pod's compile it was most of that compile
	 * at 100k pods (500-700 identities). */
	size_t nlabix;
	struct labix *labix;
	/* Local pod address -> struct epsel: the policies selecting it, while the
	 * pod and they stay (a dirty pod drops it; sel_dirty renumbers the rest).
	 * A birth then compiles only the local pods one of whose policies has a
	 * peer matching a new identity, without matching every policy of their
	 * namespace against each local pod again (most of a birth at 100k pods). */
	struct hmap epsel;
	/* one update's work */
	struct hmap touched; /* addresses whose entries may change */
	struct hmap dirty; /* local pods' addresses to compile again */
	struct hmap idmoved; /* identities a pod joined or left (a changed pod's): decided again */
	bool ids_changed, pols_changed, nodes_changed;
	size_t nmoved, capmoved;
	struct xcni_prefix *moved; /* changed Nodes' and pods' addresses, before and after */
	size_t nclash, capclash;
	char **clash; /* keys of pods whose address was taken when they came */
};

/* A dirty pod's mark: compiled from its last entries, patched per changed peer (cnp_apply). */
#define EP_PATCH ((void *)1)

int pol_incr_dirty_ep(struct pol_incr *pi, uint32_t ip);
char *pol_incr_pod_key(const char *ns, const char *name);
/* *out: the pod ns/name as pi knows it, or NULL. 0 or -ENOMEM. */
int pol_incr_ipod(const struct pol_incr *pi, const char *ns, const char *name, struct ipod **out);
int pol_incr_eps_resync(struct pol_incr *pi, const struct cluster *c);
/* Does an egress rule of np naming a port (any: pi NULL) follow this update's changed pods? */
bool pol_incr_np_named(const struct pol_incr *pi, const struct k8s_netpol *np);

/* One more element val of the update's delta array arr: 0 or -ENOMEM. */
#define DPUSH(pi, arr, val)                                                                     \
	({                                                                                      \
		int _r = xcni_grow(&(pi)->d.arr, &(pi)->cap_##arr, (pi)->d.n##arr,               \
				  sizeof(*(pi)->d.arr));                                        \
		if (!_r)                                                                        \
			(pi)->d.arr[(pi)->d.n##arr++] = (val);                                  \
		_r;                                                                             \
	})

/* policy_incr_state.c: the address r's records give ns/name (0: none), its part in *role:
 * 1 owner of a contested one, 2 holding nothing (the owner's rival, or a pod
 * being deleted that yielded it); pol_incr_holds_none: role 2. */
uint32_t pol_incr_claim_of(const struct pol_incr *pi, const char *ns, const char *name, int *role);
bool pol_incr_holds_none(const struct pol_incr *pi, const char *ns, const char *name);
/* ip among its identity's pods (pol_ctx.idp) if it has an address, or (del) no longer. */
int pol_incr_idpods_set(struct pol_incr *pi, struct ipod *ip, bool del);
/* The labels selectors see for namespace ns; the view's object. */
const struct nslabels *pol_incr_nsl(struct pol_incr *pi, const char *ns);
const struct k8s_object *pol_incr_view_find(const struct cluster *c, enum k8s_kind k,
					    const char *ns, const char *name);
/* policy_incr_ident.c: identity births and deaths, the allocation kept. */
void pol_incr_prev_free(struct pol_incr *pi);
int pol_incr_prev_keep(struct pol_incr *pi);
int pol_incr_idents_born(struct pol_incr *pi, const struct cluster *c,
			 const struct store_change *ch, size_t nch, char **canons);
int pol_incr_idents_gc(struct pol_incr *pi);

#endif
