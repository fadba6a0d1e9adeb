/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What each selector of each policy selects now, and the near misses of a
 * flow a default deny dropped: the allow rules of the policies isolating the
 * pod whose port matched the flow but whose peer did not, each with what its
 * selector selects and the nearest label that exists (a key or value a typo
 * away, a namespaceSelector that matches no namespace). Read from the same
 * cluster view the compiler reads, with the compiler's identities beside it;
 * pure, as the compiler is.
 */
#ifndef XCNI_NEARMISS_H
#define XCNI_NEARMISS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/policy/policy.h"

enum nm_tier { NM_NP, NM_ADMIN, NM_BASELINE };
/* The policy's own selector (spec.podSelector, a CNP's subject), or a rule's peer. */
enum nm_part { NM_SUBJECT, NM_INGRESS, NM_EGRESS };

#define NM_PODS_MAX 8

/* One selector and what it selects now. */
struct pol_nm_sel {
	enum nm_tier tier;
	const char *ns; /* the NetworkPolicy's namespace; NULL: a ClusterNetworkPolicy */
	const char *name;
	uint32_t priority; /* a ClusterNetworkPolicy's */
	enum nm_part part;
	int rule, peer; /* -1 for NM_SUBJECT */
	const char *rule_name; /* a ClusterNetworkPolicy rule's name, or NULL */
	const char *action; /* "allow", "deny", "pass"; NULL for NM_SUBJECT */
	bool nodes; /* a nodes peer: npods counts nodes */
	char text[512]; /* "podSelector app=backend-api", "namespaceSelector team=a, podSelector {}" */
	size_t npods; /* pods (nodes) it selects now */
	/* Namespaces its namespaceSelector matches; SIZE_MAX: it has none (its own namespace). */
	size_t nns;
	size_t nids; /* identities of the compiler's result it selects, ascending */
	uint32_t *ids;
	size_t nsel; /* the first pods it selects (at most NM_PODS_MAX), as "ns/name" */
	const struct k8s_pod *sel[NM_PODS_MAX];
	/* "" or what is wrong with it: "selects no pod (app=backend has 2)",
	 * "matches no namespace (team=front has 1)", "selects 2 pods, not store/x (...)" */
	char note[512];
};

struct pol_nm_list {
	size_t n;
	struct pol_nm_sel *v;
};
void pol_nm_list_free(struct pol_nm_list *l);

/*
 * Every selector of every NetworkPolicy (by namespace, name) and
 * ClusterNetworkPolicy (Admin, then Baseline, by priority, name): the
 * subject, then each rule's peers (ipBlocks and networks are no selectors:
 * left out). r: the compiler's result for c, for the identities (NULL: none
 * listed). 0 or -ENOMEM.
 */
int pol_nm_selectors(const struct cluster *c, const struct pol_result *r, struct pol_nm_list *out);

/*
 * The near misses of a flow between self (the pod whose side isolated it)
 * and other (the pod at the other end; NULL: no pod) in direction dir
 * (NM_INGRESS: other -> self; NM_EGRESS: self -> other), proto/port (host
 * order; 0: none): the peers of the allow rules (NetworkPolicy rules,
 * ClusterNetworkPolicy Accept rules) of the policies selecting self in dir
 * whose ports take the flow but which do not select other. proto 0: any
 * flow (ports not looked at, other NULL): every peer of those rules, for the
 * ones that select nothing. 0 or -ENOMEM.
 */
int pol_nm_near_misses(const struct cluster *c, const struct pol_result *r, const struct k8s_pod *self,
		   const struct k8s_pod *other, enum nm_part dir, uint8_t proto, uint16_t port,
		   struct pol_nm_list *out);

/*
 * A drop record's near misses, bounded (the agent's, docs/security.md "Agent
 * queues and loops"): a walk costs ~12 ms at 10,000 pods, and every pod
 * that sends denied flows makes records, so what the walks may take of the
 * agent's loop is limited to limit_ns in each second of now_ns. The answer
 * for the last key is kept: a burst of one pair's flows walks once.
 */
struct pol_nm_budget {
	uint64_t limit_ns; /* walks' time a second; 0: none walked */
	uint64_t window_ns, spent_ns; /* the second counted (its start) and its walks' time */
	uint64_t walks, skipped; /* walks made; records left without (the bound reached) */
	char key[400], text[1024];
};
/*
 * The gate around one walk for key (the pair, direction, port and the
 * store's version, as the caller writes them): NM_KEPT, b->text holds key's
 * answer ("" for none); NM_WALK, the caller walks (its near misses joined
 * into b->text), then pol_nm_charge; NM_SKIP, the second's time is spent
 * (counted).
 */
enum nm_gate { NM_SKIP, NM_KEPT, NM_WALK };
enum nm_gate pol_nm_gate(struct pol_nm_budget *b, const char *key, uint64_t now_ns);
/* The walk the gate let through, begun at t0_ns and ended with err: its time
 * charged, key kept as b->text's unless err. NM_KEPT, or err. */
int pol_nm_charge(struct pol_nm_budget *b, const char *key, uint64_t t0_ns, int err);

/* "store/db-from-backend rule 0: from podSelector app=backend-api — selects no pod (app=backend
 * has 2)": one line, as explain and policy get print it. */
const char *pol_nm_sentence(const struct pol_nm_sel *s, char *buf, size_t len);
/*
 * l's sentences "; "-joined into buf ("" when none; cut at len): what explain,
 * policy get, a flow record and the UI name. empty_only: only the selectors
 * that select nothing (a drop's near misses with no flow to match: proto 0).
 * How many were joined.
 */
size_t pol_nm_join(const struct pol_nm_list *l, bool empty_only, char *buf, size_t len);
/* The policy as the sentence names it: "store/db-from-backend", "Admin 10 no-dev". */
const char *pol_nm_policy_name(const struct pol_nm_sel *s, char *buf, size_t len);

/*
 * Is b a slip of a (a label key or value typed wrong)? One edit (an
 * insertion, deletion, substitution or a swap of neighbours) in any word,
 * two in one of 6 characters or more; or one is the other with words added
 * at a '-', '.', '_' or '/' ("backend" and "backend-api"). 0: equal, the
 * distance (the added words' length for the second kind), or SIZE_MAX: not near.
 */
size_t pol_nm_near(const char *a, const char *b);

#endif
