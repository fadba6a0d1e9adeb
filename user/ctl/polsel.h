/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster's objects as the node's agent reads them (its status socket
 * names its source: the lab's manifest directory, a kubeconfig, in-cluster),
 * compiled once with the agent's identity numbers (xcni_identity), for
 * `policy selectors` and the near misses explain and policy get name
 * (lib/policy/nearmiss.h). Internal to xcnictl.
 */
#ifndef XCNI_CTL_POLSEL_H
#define XCNI_CTL_POLSEL_H

#include "ctl/ctl.h"
#include "lib/cluster/store.h"
#include "lib/policy/nearmiss.h"

struct ctl_cluster {
	struct store *st;
	struct cs_backend *b;
	struct cluster view;
	struct pol_result r; /* the identities; none when the compile failed */
	bool compiled;
	char source[PATH_MAX];
};

/* The objects of the agent of pin dir c->pin_dir: 0 or -errno (said unless quiet). */
int ctl_cluster_open(const struct ctl_ctx *c, bool quiet, struct ctl_cluster **out);
void ctl_cluster_close(struct ctl_cluster *cc);
/* The pod "ns/name" (or, name NULL or unknown, of IPv4 ip, network order), NULL if none. */
const struct k8s_pod *ctl_cluster_pod(const struct ctl_cluster *cc, const char *name, __u32 ip);
/*
 * The near misses of a flow other -> self (dir NM_INGRESS) or self -> other
 * (NM_EGRESS), proto/port host order; proto 0: any flow, and only the
 * selectors that select nothing. Each as pol_nm_sentence, "; "-joined into text
 * ("" when none), and as an array of objects into *json (NULL: not wanted).
 * Number of them, or -errno.
 */
int ctl_near_misses(const struct ctl_cluster *cc, const struct k8s_pod *self,
		    const struct k8s_pod *other, enum nm_part dir, __u8 proto, __u16 port,
		    char *text, size_t len, json_t **json);

/* xcnictl policy selectors (polsel.c). */
int cmd_policy_selectors(const struct ctl_ctx *c, char **argv);

#endif
