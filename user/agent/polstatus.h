/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When each policy is in force on this node: for every
 * NetworkPolicy and ClusterNetworkPolicy the agent holds, the version (a
 * digest of its spec), the generation that brought it, when this agent first
 * compiled it and when a generation holding it was applied to the maps (or
 * that it is not yet: the generation failed). Written after each sync that
 * changed any of it to a file beside the status socket
 * (agent_status_policy_path), which `xcnictl policy status` reads per node;
 * the metrics page has the time from a change to its maps.
 */
#ifndef XCNID_POLSTATUS_H
#define XCNID_POLSTATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct store;
struct polsync;

/* The file for pin_dir (0 or -errno, logged). */
int polstatus_open(const char *pin_dir, const char *node);
/*
 * After a sync of generation gen (ok: applied to the maps), the store as it
 * was compiled; ps names the pods closed for room (NULL: none). started_ms is
 * when that sync began (wall clock): the first time this agent compiled a
 * version it had not seen.
 */
void polstatus_synced(struct store *st, const struct polsync *ps, uint64_t gen, bool ok,
		      int64_t started_ms);
/* xcni_policy_apply_seconds: a histogram of a change's time to this node's maps. */
void polstatus_metrics(FILE *f);
/*
 * An Event on each policy version this agent applies (not those it found at
 * its start): one per version, shared by every node's agent (named after
 * the policy and the version's digest), its message "enforced on N/M nodes"
 * with, once on all of the cluster's Nodes, the time from the change to the
 * last one. Posted by a thread of its own (the API server may be slow); a
 * queue of 256 versions, more dropped and counted. kubeconfig NULL:
 * in-cluster. 0 or -errno (logged: then no Events).
 */
int polstatus_events(const char *kubeconfig);
/* Removes the file; frees everything. */
void polstatus_close(void);

#endif
