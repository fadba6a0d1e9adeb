/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The map writer's state, shared by polsync.c (an apply's order, cleanup),
 * polsync_pods.c (each pod's entries and flip), polsync_names.c (the
 * ipcache, identities and names) and polsync_room.c (what fits: each
 * namespace's share, the room left, and the namespaces closed when the
 * address maps cannot hold every pod's address).
 * Not an interface: polsync.h is.
 */
#ifndef XCNI_POLSYNC_INT_H
#define XCNI_POLSYNC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/policy/polsync.h"
#include "lib/system/mapw.h"

/* Namespaces closed for want of ipcache room, sorted, and the addresses left out. */
struct ns_closure {
	char **ns;
	size_t n, addrs;
};

struct ep_state {
	uint32_t ip;
	struct xcni_polep st;
	bool known; /* entries below are what the maps hold (false after a restart) */
	bool over; /* closed (XCNI_POLEP_OVERFLOW): its policy did not fit, no entries */
	bool done; /* taken over by the result being applied (the array stays sorted) */
	size_t n, nc;
	struct pol_entry *e;
	struct pol_cidr *c;
};

struct polsync {
	int fd_policy, fd_polrange, fd_polcidr, fd_polep, fd_ipcache, fd_identity, fd_polname,
		fd_podname, fd_polsel;
	size_t max_policy, max_polrange, max_polcidr, max_ipcache, max_identity, max_polname,
		max_podname, max_polsel, max_rulename;
	size_t n_policy, n_polrange, n_polcidr; /* entries in the maps */
	/* Entries the pods' policy wants past each map's size, its namespace's
	 * share aside (polsync_room_judge): what a growth must add. */
	size_t more[POLSYNC_NR_MAPS];
	size_t neps;
	struct ep_state *eps; /* sorted by ip */
	struct kvset ipcache, identity, polname, podname, polsel;
	/* IPv6: ipcache6 and polkey6 (-1 under programs without IPv6). */
	int fd_ipcache6, fd_polkey6;
	/* ClusterNetworkPolicies' rule names (-1 under programs without the
	 * map); synced with every whole apply only: deltas come only without
	 * ClusterNetworkPolicies, when there are none. */
	int fd_rulename;
	struct kvset rulename;
	struct kvset ipcache6, polkey6;
	/* Old versions to delete in polsync_cleanup. */
	size_t ndel, ndelc;
	struct pol_entry *del;
	struct pol_cidr *delc;
	bool scan; /* some old entries are not known in memory: sweep the maps */
	/* The next apply must diff whole (at open, after a failure). */
	bool need_full;
	/* ipcache, identity, polname, podname mirrors are not what the maps hold
	 * (changes went in as deltas): read the maps again before a whole diff. */
	bool mirror_stale;
	bool names_short; /* some names could not be written: the next apply is whole */
	bool v6_stale; /* an apply6 failed: ipcache6, polkey6 read again first */
	/* A namespace's share of each policy map, percent (100: none). */
	unsigned int share;
	/* The pods the last apply closed. */
	size_t nover;
	struct polsync_over *over;
	/* The namespaces closed because xcni_ipcache (c4, ipc_fit) or
	 * xcni_ipcache6 (c6, polsync_plan6) cannot hold every pod's address;
	 * while c4 closes any every apply is whole. */
	struct ns_closure c4, c6;
	size_t max_ipcache6, max_polkey6;
};

/*
 * Each wanted pod's state as the maps hold it (NULL: a pod new to them) and
 * whether its entries are those: looked up and compared once per apply, not
 * in each of its three passes (the compare was ~8% of the agent's CPU under
 * churn, for pods that mostly did not change).
 */
struct ep_memo {
	struct ep_state *cur;
	bool same;
	bool over; /* closed: its policy does not fit */
	bool share; /* ... for its namespace's share */
	bool ipcache; /* ... for its namespace's addresses (ipc_fit) */
	size_t need[POLSYNC_NR_MAPS]; /* entries its policy takes, per map */
};

/* Ranges live in the polrange trie; everything else in the policy hash. */
static inline bool pol_is_range(const struct xcni_policy_key *k)
{
	return k->prefixlen > XCNI_POLICY_PREFIX_ANY_PORT && k->prefixlen < XCNI_POLICY_PREFIX_FULL;
}

/* A pod's namespace, "" when it has none. */
static inline const char *pol_ep_ns(const struct pol_ep *w)
{
	return w->pod && w->pod->meta.ns ? w->pod->meta.ns : "";
}

/*
 * An address that changes owner (it held a pod identity, it is to hold
 * another) or goes is closed while the policies about its owners change:
 * XCNI_ID_UNMANAGED, which no policy names, before the pods' flips; its new
 * identity, or its delete, after them. Written in one order instead, a
 * failure between leaves it under its new owner and a pod's old policy, or
 * under its old owner and a pod's new one: open to flows neither generation
 * allows (test_failure_relabel_never_opens). The final values, for after.
 */
struct ipc_moves {
	size_t n;
	struct pol_ipcache *v;
};

/* An identity's labels as xcni_identity holds them, and its namespace. */
struct idl {
	__u32 id;
	struct xcni_idlabels l;
	const char *ns;
};

/* What one apply builds and frees: the identities' labels, the ipcache in its
 * write order (ipc_order), the moved addresses, the pods' new state. */
struct apply_bufs {
	struct idl *idl;
	struct pol_ipcache *early, *late, *now;
	size_t nearly, nlate;
	struct ipc_moves mv;
	struct ep_state *neps;
	size_t nneps;
};

/* polsync_pods.c: a pod's entries and its flip. */
/* The policy hash's key of a policy entry. */
struct xcni_polhash_key polsync_hash_key(const struct xcni_policy_key *k);
void polsync_ep_clear(struct ep_state *e);
/* cur's entries are w's (the kinds of entries too). */
bool polsync_ep_equal(const struct ep_state *cur, const struct pol_ep *want);
/* id among the n put or the ndel deleted identities (NULL: none). */
bool polsync_id_in(uint32_t id, const struct pol_idput *put, size_t nput, const uint32_t *del,
		   size_t ndel);
/* cur can become w in place: it differs only by peers born or gone in d. */
bool polsync_ep_in_place(const struct ep_state *cur, const struct pol_ep *w,
			 const struct pol_delta *d);
/* w's entries cur lacks added under cur's version (in place). */
int polsync_ep_add_in_place(struct polsync *ps, struct ep_state *cur, const struct pol_ep *w,
			    size_t *written);
/*
 * Each wanted pod of r written (same, closed, in place, or under its other
 * version and flipped to), then the pods gone; b->neps: their new state.
 */
int polsync_write_pods(struct polsync *ps, const struct pol_result *r, const struct pol_delta *d,
		       const struct ep_memo *m, bool delta, struct polsync_stats *st,
		       struct apply_bufs *b);

/* polsync_names.c: the ipcache, identities and names. */
/* The identities' labels as xcni_identity holds them (b->idl). */
int polsync_idl_build(const struct pol_result *r, struct apply_bufs *b);
/* Identities and names, whole: the ipcache's early part, every name map, the selectors. */
int polsync_names_whole(struct polsync *ps, const struct pol_result *r, struct polsync_stats *st,
			struct apply_bufs *b);
/* Identities and names, delta: what the compiler says changed; pods changed in place first. */
int polsync_names_delta(struct polsync *ps, const struct pol_result *r, const struct pol_delta *d,
			const struct ep_memo *m, struct polsync_stats *st, struct ipc_moves *mv);
/* One phase of a delta's writes (KV_UPSERT, KV_BORN, KV_DELETE). */
int polsync_delta_write(struct polsync *ps, const struct pol_delta *d, int phase,
			size_t *changed, size_t *missing, struct ipc_moves *mv);
/* The moved addresses' final values written, after the pods' flips. */
int polsync_ipc_moves_finish(struct polsync *ps, const struct ipc_moves *mv, size_t *changed);

/* polsync_room.c */
void polsync_ns_closure_clear(struct ns_closure *c);
bool polsync_ns_closure_has(const struct ns_closure *c, const char *ns);
/* Which pods go in and which are closed (fail closed per pod). */
int polsync_room_judge(struct polsync *ps, const struct pol_result *r, struct ep_memo *m,
		       bool *global);
/* xcni_ipcache past its size: the namespaces with most pod addresses closed. */
int polsync_ipc_fit(struct polsync *ps, const struct pol_result *r, bool delta,
		    struct pol_result *fit, struct pol_ipcache **own, char *msg, size_t msglen);

#endif
