/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NetworkPolicies suggested from flow records (xcnictl policy suggest): the
 * recorded flows of one namespace's pods (xcnictl flows -o json, one record
 * a line), the cluster state they happened in, and out come the
 * NetworkPolicies that allow exactly the recorded allowed flows (label
 * selectors, named ports where the pods declare them, ipBlock /32 or /128
 * for what is no pod), as JSON documents kubectl apply takes; then the
 * replay: every recorded flow judged by the compiler (pol_compile) over the
 * cluster state with the namespace's NetworkPolicies replaced by the
 * suggestion, and the data plane's lookups on its output.
 *
 * Pure: no maps, no sockets; the unit tests (test_suggest) reach all of it.
 */
#ifndef XCNI_OBSERVE_SUGGEST_H
#define XCNI_OBSERVE_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/cluster/store.h"

/* One end of a recorded flow. */
struct sug_end {
	uint8_t addr[16]; /* IPv4: the first 4 bytes (network order), the rest 0 */
	char *ns, *pod; /* the pod, NULL when the end is none (world, host, a node) */
};

enum sug_verdict { SUG_ALLOWED, SUG_DENIED };

struct sug_flow {
	uint8_t family; /* 4 or 6 */
	uint8_t proto; /* IPPROTO_* */
	uint16_t port; /* destination port, host order; 0 for ICMP */
	struct sug_end src, dst;
	int verdict; /* enum sug_verdict: audit counts as allowed (it passed) */
};

/*
 * Flows, one per (source, destination, protocol, port): a denial anywhere
 * wins; aside: the records set aside, by their verdict (enum flow_verdict).
 */
struct sug_flows {
	size_t n, cap;
	struct sug_flow *v;
	size_t aside[8];
};

/*
 * One flow record (flows -o json's object) into fl, merged with the same flow
 * recorded before (another node's record of it: denied if either says so).
 * Every verdict flows writes is read: allowed and audit (it passed) allow,
 * denied denies; forwarded (judged on another node) and the fates past the
 * policy (refused, no-backend, timeout: no rule decided them) are set aside,
 * counted in fl->aside. 0 added or merged; 1 set aside; -EINVAL with err
 * naming the field; -ENOMEM.
 */
int suggest_flow_add(struct sug_flows *fl, const json_t *rec, char *err, size_t errlen);
void suggest_flows_free(struct sug_flows *fl);

/*
 * The smallest label selector that selects exactly the pods of namespace ns
 * whose labels equal want among that namespace's pods in c (the peer group):
 * the fewest of want's labels no other label set of the namespace has all of
 * (keys in order; none: {} when the group is the whole namespace); when every
 * subset is shared with a label set that has more (a pod with want's labels
 * and others), all of want's labels and DoesNotExist for those other keys.
 * *out: a metav1.LabelSelector object (matchLabels, matchExpressions). 0 or -ENOMEM.
 */
int suggest_selector(const struct cluster *c, const char *ns, const struct k8s_labels *want,
		 json_t **out);

/*
 * The NetworkPolicies of namespace ns for the flows fl in cluster c: a
 * default deny of both directions (suggest-default-deny), then one policy a
 * label set of the namespace's pods that had allowed flows (suggest-<name>),
 * with a rule a peer and its ports. audit: each annotated
 * xcni.io/policy-mode: audit. *out: a JSON array of NetworkPolicy objects.
 * A flow that NetworkPolicy cannot allow alone (ICMP: no ports) is left out
 * and counted in *nskipped. 0, -ENOENT (err: a flow's pod the cluster state
 * does not hold) or -ENOMEM.
 */
int suggest_build(const struct cluster *c, const char *ns, const struct sug_flows *fl, bool audit,
	      json_t **out, size_t *nskipped, char *err, size_t errlen);

/* A flow's fate in the replay. */
enum sug_fate {
	SUG_FATE_ALLOWED,
	SUG_FATE_DENIED,
	SUG_FATE_SKIPPED, /* not replayed: IPv6 (the simulator judges IPv4), or no end in ns */
};

/*
 * The replay: every flow of fl with an end in ns (a pod of ns by name) judged
 * over c with ns's NetworkPolicies replaced by the array policies (parsed as
 * the agents parse manifests: err names the object and field of one that
 * does not validate). fates: fl->n of them. 0, -EINVAL, -ENOMEM.
 */
int suggest_replay(const struct cluster *c, const char *ns, const json_t *policies,
	       const struct sug_flows *fl, enum sug_fate *fates, char *err, size_t errlen);

#endif
