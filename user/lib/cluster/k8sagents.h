/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The xcni agents of a cluster, as the API server lists them: the DaemonSet's
 * pods (kube-system, app.kubernetes.io/name=xcni), each with its node and
 * the address it is reached at (hostNetwork: the node's own), and the nodes
 * that have none. What xcnictl's cluster-wide commands dial (flows, ui,
 * connectivity test), over the API client of k8sreq.h.
 */
#ifndef XCNI_K8SAGENTS_H
#define XCNI_K8SAGENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/cluster/k8sapi.h"

#define K8S_AGENTS_NAMESPACE "kube-system"
#define K8S_AGENTS_SELECTOR "app.kubernetes.io/name=xcni"

struct k8s_agent {
	char node[254]; /* spec.nodeName ("" not scheduled); or the node's name */
	char pod[254]; /* metadata.name; "" a node with no agent pod */
	/* status.hostIP (the agent is hostNetwork: the node's address), else
	 * status.podIP; a node without an agent pod: its InternalIP. "" none yet. */
	char addr[64];
	char phase[16]; /* status.phase ("Running", "Pending", ...); "" no pod */
	bool ready; /* the pod's Ready condition is True */
};

/*
 * Where the API server is, as kubectl finds it: kubeconfig if given, else
 * the first file of $KUBECONFIG, else ~/.kube/config when it exists, else
 * the pod's service account (in-cluster). 0 or -errno (said on stderr,
 * naming the file or what is missing).
 */
int k8s_api_conf_kubectl(const char *kubeconfig, struct k8s_api_conf *c);

/*
 * The agents: the pods in ns (NULL: K8S_AGENTS_NAMESPACE) that selector (NULL:
 * K8S_AGENTS_SELECTOR, equality requirements "k=v,k2=v2") selects, by node
 * name; then the cluster's nodes that have no such pod (pod ""), when the
 * nodes can be listed (a client allowed pods only gets the pods). *out
 * (the caller's to free) holds *n of them. 0, or -errno with err naming
 * what failed (the API server's answer, or no answer).
 */
int k8s_agents_list(const struct k8s_api_conf *c, const char *ns, const char *selector,
		    long timeout_ms, struct k8s_agent **out, size_t *n, char *err, size_t errlen);

#endif
