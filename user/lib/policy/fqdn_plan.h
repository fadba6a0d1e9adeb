/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Egress by DNS name, the agent's half (docs/decisions/fqdn-in-bpf.md):
 * ClusterNetworkPolicy domainNames peers compiled into what bpf/lib/dns.h
 * reads (xcni_fqdn_pat: the patterns of each local pod; xcni_dns_srv: the
 * sources whose answers count), and the writer that makes the pinned maps
 * hold a plan, writing only what differs.
 */
#ifndef XCNI_FQDN_PLAN_H
#define XCNI_FQDN_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xcni_shared.h"
#include "lib/cluster/store.h"

struct pol_result;

/* The DNS Service whose frontends and endpoints are xcni_dns_srv's. */
#define FQDN_DNS_NS "kube-system"
#define FQDN_DNS_SVC "kube-dns"

struct fqdn_pat_entry {
	struct xcni_fqdn_pat_key k;
	struct xcni_fqdn_pat v;
	const char *ns; /* its pod's namespace (the cluster's string): its owner for room */
};

/* A rule that names a domain, by its rank in tier order (rule_ref - 1). */
struct fqdn_rule {
	const struct k8s_cnp *cnp;
	size_t rule; /* index into cnp->egress */
};

struct fqdn_plan {
	size_t npat; /* sorted by key (memcmp) */
	struct fqdn_pat_entry *pat;
	size_t nsrv; /* sorted (memcmp); empty when no policy names a domain */
	struct xcni_dns_srv_key *srv;
	size_t nrules; /* every Admin egress rule naming a domain, in tier order */
	struct fqdn_rule *rules;
	bool *kept; /* npat, fqdn_sync's: false for a closed namespace's (no room) */
};

/*
 * The ep_id of local pod (the endpoint the plugin attached: what dns.h keys
 * a pod's patterns by). 0 with *ep_id set, -ENOENT when it has none (yet:
 * its patterns come with the next plan), another -errno to stop.
 */
typedef int (*fqdn_ep_of)(void *arg, const struct k8s_pod *pod, uint32_t *ep_id);

/*
 * The plan for node_name's pods in c: for every pod of this node that an
 * Admin ClusterNetworkPolicy's subject selects, each name of its egress
 * rules' domainNames peers (EXACT: the name; WILD: "*."'s suffix), valued
 * with the rule's rank in tier order (prio: the first rule naming a pattern
 * wins, as the tiers' first match does) and rule_ref 1 + the rule's index
 * among the pod's rules naming a domain (the polcidr dir its learned
 * addresses are judged under: XCNI_POLCIDR_DIR_FQDN + index; at most
 * XCNI_FQDN_RULES_MAX rules a pod); and, when any
 * rule names a domain, the DNS Service's UDP frontends (ClusterIPs, both
 * families) and its endpoints (the pods its selector picks, both families,
 * at the target port). Each pattern names its rule as a verdict entry does
 * (policy_id from pr's policies, 0 without pr; rule: the egress index), for
 * flows and explain. 0, -ENOMEM, -E2BIG (more rules than prio holds), or
 * ep_of's error.
 */
int fqdn_plan_build(const struct cluster *c, const struct pol_result *pr, const char *node_name,
		    fqdn_ep_of ep_of, void *arg, struct fqdn_plan *out);
void fqdn_plan_free(struct fqdn_plan *p);

struct fqdn_sync_stats {
	size_t written; /* entries new or changed */
	size_t deleted; /* entries the plan no longer has (or a closed owner's) */
	size_t pat_closed, srv_closed; /* entries of closed owners, not written */
};

/*
 * Makes xcni_fqdn_pat (fd_pat, max_pat entries) and xcni_dns_srv (fd_srv,
 * max_srv) hold p, through the room writer (lib/system/mapw.h): what p lacks
 * deleted first (a pattern p keeps is never absent: its key stays), then
 * what fits written. When p's patterns do not fit, the namespace bringing
 * the most (pod, pattern) pairs is closed (p->kept false: its pods get no
 * pattern, so their names are refused, never another's pattern), then the
 * next, and every other namespace's written; the DNS servers past max_srv
 * are not read (st->srv_closed). Judged again at every call: room freed
 * reopens. 0, or -errno (msg) with the maps as far as the writer got (the
 * next sync writes them again).
 */
int fqdn_sync(int fd_pat, size_t max_pat, int fd_srv, size_t max_srv, struct fqdn_plan *p,
	      struct fqdn_sync_stats *st, char *msg, size_t msglen);

/* What pod ep_id learned for an address, as flows and explain name it. */
struct fqdn_why {
	int rule_ref; /* the polcidr dir: XCNI_POLCIDR_DIR_FQDN + rule_ref - 1 */
	uint32_t policy_id; /* the rule naming the pattern, as a verdict entry names it */
	uint16_t rule;
	int64_t left; /* seconds it still counts (expiry plus XCNI_FQDN_GRACE_S) */
	char name[300]; /* the pattern the pod's question matched, as the policy wrote it */
};

/*
 * Why pod ep_id may reach addr (family XCNI_AF_*: 4 or 16 bytes) by name: its
 * learned entry (xcni_fqdn, fd) while it counts, and the pattern it was
 * learned through (xcni_fqdn_pat, pat_fd) into *w. The entry's rule_ref (> 0)
 * or -ENOENT (not learned, no more, or its pattern gone). The verdict is the
 * programs' (bpf/lib/policy.h fqdn_group).
 */
int fqdn_learned(int fd, int pat_fd, uint32_t ep_id, uint8_t family, const void *addr,
		 struct fqdn_why *w);

/*
 * Whether the verdict entry that decided pod ep_id's egress to addr (policy_id,
 * rule: the event's or the lookup's) is the domainNames rule addr was learned
 * through: 1 (*w filled: name it), 0 (another rule decided: an earlier
 * Admin rule holding the address by network, or a later one where its ports
 * did not match), -ENOENT (not learned). One decision for flows and explain.
 */
int fqdn_decided(int fd, int pat_fd, uint32_t ep_id, uint8_t family, const void *addr,
		 uint32_t policy_id, uint16_t rule, struct fqdn_why *w);

#endif
