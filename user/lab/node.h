/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 5 of the lab: its nodes. Node i: netns xcl-n<i> on the underlay, pod
 * CIDRs 10.244.<i>.0/24 and/or fd00:10:244:<i>::/64 (lab up --ip-family), its
 * own xcnid; its Node object in the cluster state; lab_sync, the wait until
 * every agent applied a change.
 */
#ifndef XCNI_LAB_NODE_H
#define XCNI_LAB_NODE_H

#include <jansson.h>
#include <sys/types.h>

#include "lab/cluster.h"
#include "lab/state.h"
#include "lab/sys.h"
#include "lab/underlay.h"

/* An agent's wait for a generation: a dual stack agent in a VM under TCG on a
 * loaded host (scripts/kernels.sh) took past 20 s; a dead agent is seen at once. */
#define LAB_SYNC_TIMEOUT_MS 60000
/* Node i's pod CIDRs: LAB_POD_NET4 "<i>.0/24" and LAB_POD_NET6 "<i in hex>::/64". */
#define LAB_POD_NET4 "10.244."
#define LAB_POD_NET6 "fd00:10:244:"
/* The XDP mode xcnid attaches its prefilter in ($XCNI_LAB_XDP): native XDP on a
 * veth turns every TSO packet into MTU-sized ones (3 instead of 11 Gbit/s). */
#define LAB_XDP_DEFAULT "generic"
/* Under the cgroup2 mount: one cgroup per node, LAB_CGROUP_DIR/<node>. */
#define LAB_CGROUP_DIR "xcni-lab"

/*
 * Node i (appended to lab->nodes, which has room): its netns, its port on the
 * underlay, network config and agent (xdp: its --xdp-mode; manifests: it
 * watches the cluster state; ul6only: its underlay is IPv6 alone, lab up
 * --ipv6-only-nodes), recorded in lab.json as soon as each exists.
 */
int lab_node_start(struct lab *lab, unsigned int i, const char *xcnid, const char *xdp,
		   bool manifests, bool ul6only);
/*
 * Moves process pid (0: the caller) into the node's cgroup, where its xcnid's
 * socket load balancing sees it; nothing when the node has none (its agent
 * translates no Services). 0 or -errno (said).
 */
int lab_node_cgroup_enter(const struct lab_node *n, pid_t pid);
/* Waits until every agent pinned the programs xcni ADD attaches. */
int lab_nodes_wait_pinned(struct lab *lab);
/* Stops the node's agent, removes its pins, netns and files; goes on past failures (-EIO). */
int lab_node_remove(struct lab *lab, struct lab_node *n);

/* Writes the node's Node object as the kubelet registers it (labels: a manifest's, or NULL). */
int lab_node_object_put(struct lab *lab, const struct lab_node *n, json_t *labels,
			enum lab_wr *res);
int lab_write_node_object(struct lab *lab, const struct lab_node *n);
/* Whether the node's Node object is in the cluster state (lab delete -f takes it out). */
bool lab_node_registered(const struct lab *lab, const struct lab_node *n);
/* How the node's xcnid attached its XDP prefilter: "native", "generic", "off" or "unknown". */
const char *lab_node_xdp(const struct lab_node *n);
/* Bumps the sync token and waits for every node's agent to report it applied. */
int lab_sync(struct lab *lab);

#endif
