/* SPDX-License-Identifier: Apache-2.0 */
/* The agent following the cluster (agent/sync.c): cluster state compiled and written into the maps. */
#ifndef XCNID_SYNC_H
#define XCNID_SYNC_H

#include <signal.h>

struct agent_status;
struct flowd;
struct from_pod;
struct hooks;
struct http;
struct opts;

/*
 * Follows the cluster source of o (manifests, kubeconfig or in-cluster) until
 * *stop is set, answering hs, fd and sts and looking at hk's hooks between
 * syncs; 0 or -errno of the source.
 */
int watch_cluster(const struct opts *o, struct from_pod *fp, struct http *hs, struct flowd *fd,
		  struct hooks *hk, struct agent_status *sts, volatile sig_atomic_t *stop);

#endif
