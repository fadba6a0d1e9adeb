/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The map writer: puts a compiled policy (struct pol_result) into the pinned
 * maps, rewriting only what changed, each pod's policy switched in one map
 * update (write the other version, flip polep, then drop the old version).
 */
#ifndef XCNI_POLSYNC_H
#define XCNI_POLSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/policy/policy.h"

struct polsync;

struct polsync_stats {
	size_t eps_changed; /* pods whose policy was rewritten */
	size_t eps_in_place; /* of those, changed in place (new or gone peer identities only) */
	size_t entries_written; /* policy + polcidr entries written */
	size_t entries_deleted;
	size_t other_changed; /* ipcache, identity, name entries written or deleted */
	size_t eps_overflow; /* pods closed: their policy did not fit (polsync_overflows) */
	/* Names for people (identities' labels, policies', pods') the maps of
	 * names could not take: shown as numbers; policy applied all the same. */
	size_t names_missing;
	/* IPv6 pods xcni_polkey6 has no room for (polsync_apply6): pending, their
	 * traffic dropped until their namespace (over its part of the map;
	 * polkey6_ns: one, v's string) shrinks or the map grows; apply6 again. */
	size_t polkey6_waiting;
	const char *polkey6_ns;
	/* Some pod was closed only for want of room the old versions this apply
	 * replaced still take: apply again once polsync_cleanup has run. */
	bool retry;
};

/* The maps a pod's policy takes room in, for polsync_over.need. */
enum { POLSYNC_MAP_POLICY, POLSYNC_MAP_POLRANGE, POLSYNC_MAP_POLCIDR, POLSYNC_NR_MAPS };

/* A pod the last apply closed (XCNI_POLEP_OVERFLOW), and why. */
struct polsync_over {
	uint32_t ip; /* its policy key */
	const struct k8s_pod *pod; /* from the result applied (NULL in tests) */
	size_t need[POLSYNC_NR_MAPS]; /* entries its policy takes */
	bool share; /* over its namespace's share; else the maps were full */
	bool ipcache; /* its namespace closed: xcni_ipcache cannot hold every pod's address */
};

/* Opens the pinned maps under pin_dir and reads what they hold. */
int polsync_open(const char *pin_dir, struct polsync **out);
void polsync_free(struct polsync *ps);

/*
 * Makes the maps hold r. All or nothing where it matters: if the new entries
 * would not fit next to the old ones (map full), nothing is written and
 * -ENOSPC is returned with msg saying which map and how many entries.
 * Entries of the replaced versions are deleted by polsync_cleanup, which the
 * caller runs after it has reported the change as applied.
 * With a delta (d, not full) r must follow the result of the previous apply,
 * its pods whose entries differ marked changed: the others are not compared.
 */
int polsync_apply(struct polsync *ps, const struct pol_result *r, const struct pol_delta *d,
		  struct polsync_stats *st, char *msg, size_t msglen);
/*
 * d (from pol_incr_update, or NULL): with d->full false the cluster-wide maps
 * (ipcache, identity, polname, podname) get only d's writes, and r's ipcache
 * and podnames arrays may be empty; local pods' policy is diffed per pod as
 * always. A whole diff (d NULL or full) needs r whole. After opening and after
 * any failure the writer no longer knows what the maps hold:
 * polsync_needs_full says so, and the next apply must be whole.
 */
bool polsync_needs_full(const struct polsync *ps);
/*
 * The identities the maps held when the writer opened them (a restarted
 * agent's allocation, for pol_incr_seed): *out malloc'd, sorted by labels,
 * pointing into the writer (valid until its first apply). 0 or -ENOMEM.
 */
int polsync_identities(const struct polsync *ps, struct pol_idprev **out, size_t *n);
int polsync_cleanup(struct polsync *ps, struct polsync_stats *st);

/*
 * One namespace's share of each policy map (policy, polrange, polcidr), in
 * percent of its size, 1-100 (100: no share, the default). A pod whose policy
 * would take its namespace past its share is closed, whatever room is left.
 */
void polsync_set_ns_share(struct polsync *ps, unsigned int percent);
/*
 * The map writer's map i by name (NULL past the last) and *more, the entries
 * the last whole apply wanted in it past its size (policy: pods closed for
 * room; names: names left out), for a growth to add.
 */
const char *polsync_short(const struct polsync *ps, size_t i, size_t *more);
/* The pods the last apply closed, by policy key; valid until the next apply. */
const struct polsync_over *polsync_overflows(const struct polsync *ps, size_t *n);

/*
 * The namespaces the last apply (family 4) or polsync_plan6 (6) closed because
 * xcni_ipcache(6) cannot hold every pod's address (the most addresses first, until the rest fits; sorted by
 * name here): their addresses have no ipcache entry, this node's pods of them
 * are among polsync_overflows. *addrs: how many addresses were left out.
 */
const char *const *polsync_ipcache_closed(const struct polsync *ps, int family, size_t *n,
					  size_t *addrs);

/*
 * IPv6, before polsync_apply (whose closed pods it decides too): when
 * xcni_ipcache6 cannot hold every IPv6 address of v, the namespaces with the
 * most IPv6 pod addresses are closed alike (polsync_ipcache_closed(ps, 6)),
 * their addresses left out by polsync_apply6 and their pods here closed by
 * polsync_apply. 0, or -ENOSPC (msg) when nodes alone are too many.
 */
int polsync_plan6(struct polsync *ps, const struct pol_v6 *v, char *msg, size_t msglen);

/*
 * IPv6: makes xcni_ipcache6 and xcni_polkey6 hold v (pol_v6), writing what
 * changed (st->other_changed) and, when xcni_polkey6 is too small, what fits
 * (st->polkey6_waiting: the pods left pending). Skipped for maps the programs
 * do not have. 0 or -errno.
 */
int polsync_apply6(struct polsync *ps, const struct pol_v6 *v, struct polsync_stats *st);

/*
 * A policy id as the views name it, from xcni_polname (fd): "ns/name" for a
 * NetworkPolicy, "name [Admin 10]" for a ClusterNetworkPolicy, "policy#id"
 * when the name is not (yet) known.
 */
const char *policy_name(int fd, uint32_t id, char *buf, size_t len);
/*
 * The name of a ClusterNetworkPolicy's rule (policy id, dir, index) from
 * xcni_rulename (fd), or NULL (no name, no map, a NetworkPolicy's rule).
 */
const char *polsync_rule_name(int fd, uint32_t policy_id, uint8_t dir, uint16_t rule, char *buf,
                              size_t len);
/* The Pass rule numbered pass (XCNI_POLV_PASS): 0, or -ENOENT. */
int polsync_rule_pass(int fd, unsigned int pass, struct xcni_rulename *out);

/* The maps a local pod's IPv6 policy key is read from (polsync_key6); negative: absent. */
struct polkey6_maps {
	int endpoints6, ifindex, polkey6;
};
/*
 * The policy key a node's programs judge its local pod's IPv6 a under
 * (polkey_of in bpf/lib/policy.h): a dual-stack pod's IPv4, the one its
 * device maps to in xcni_ifindex (from the pod's start, before xcnid writes
 * it in xcni_polkey6 or while it waits for room there); else what xcnid wrote
 * in xcni_polkey6 (an IPv6-only pod's key). 0: no pod of this node.
 */
uint32_t polsync_key6(const struct polkey6_maps *k, const uint8_t a[16]);
/* k's maps under dir, each through open (quiet), or as pinned when open is NULL. */
void polsync_key6_open(struct polkey6_maps *k, const char *dir,
		       int (*open)(const char *dir, const char *name, bool quiet));
void polsync_key6_close(struct polkey6_maps *k);

#endif
