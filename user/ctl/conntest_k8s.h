/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnictl connectivity test --kubeconfig: what conntest_k8s.c (the run, the
 * probes, the drops) and conntest_k8s_setup.c (the cluster found, the probe
 * namespace made, waited for and deleted) share. Not an interface.
 */
#ifndef XCNICTL_CONNTEST_K8S_H
#define XCNICTL_CONNTEST_K8S_H

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "lab/conntest.h"
#include "lib/cluster/k8s.h"
#include "lib/cluster/k8sreq.h"
#include "lib/system/clock.h"
#include "lib/observe/flowsnet.h"

#define CK_NS LAB_CONNTEST_NS
#define CK_DS_NS "kube-system"
#define CK_DS "xcni"
#define CK_AGENT_LABEL "app.kubernetes.io/name=xcni"
#define CK_AGENT_CONTAINER "xcnid"
#define CK_DNS_SVC "kube-dns"
#define CK_DOMAIN "cluster.local"
/* One API request (a probe's adds its own timeout). */
#define CK_REQ_MS 15000
/* After creating objects, a test that must connect is tried again for this long
 * (the agents learn the pods). */
#define CK_SETTLE_MS 10000
#define CK_POLL_MS 500
/* The namespace's removal is waited for at least this long (--ready-timeout if longer). */
#define CK_GONE_S 180
/* The agents whose flows are read, at most (beyond: the two test nodes' only). */
#define CK_MAX_AGENTS 32
/* One agent's flows request (its own timeout), seconds. */
#define CK_FLOWS_S 5
/* A blocked probe's drop record is waited for this long (the agent's ring-buffer reader). */
#define CK_FLOWS_WAIT_MS 3000
/*
 * A record is a test's when its first packet was seen at most this long
 * before the test's (last) attempt began: the agents' clocks and ours (NTP
 * keeps a cluster's within it), and never as far back as an earlier attempt
 * (CK_POLL_MS and a probe apart).
 */
#define CK_CLOCK_SLACK_MS 400
#define CK_KUBE_NAME "kubernetes.default.svc." CK_DOMAIN

enum { P_CLIENT, P_STRANGER, P_ECHO_SAME, P_ECHO_OTHER, P_GUARDED, P_N };
/* The probe pods' names (conntest_k8s_setup.c). */
extern const char *const ck_pod_names[P_N];

struct ck_node {
	char name[254];
	char ip[2][48]; /* InternalIP: [0] IPv4, [1] IPv6 */
	char agent[254]; /* its xcni pod, "" when it has none */
};

/* Where the drops of a test are read from. */
enum ck_judge { CK_BY_FLOWS, CK_BY_COUNTERS };

/* One node's drop counters: the drop-* rows of xcnictl metrics. */
struct ck_drops {
	json_t *rows[2]; /* [node]: {"REASON DIRECTION": packets} */
};

struct ck {
	const struct lab_ct_opts *o;
	struct k8s_api_conf conf;
	struct ck_node node[2];
	bool two;
	char image[512], pull[32];
	char pod_ip[P_N][2][48];
	char svc_ip[2][48], dns_ip[2][48];
	/* The kubernetes Service's ClusterIPs: what pod-to-dns must be answered. */
	char kube_ip[2][48];
	bool dns;
	/* The drops: from the flow records of every agent (flows[], over mTLS
	 * with tls), or, when that cannot be, each node's counters (why said). */
	enum ck_judge judge;
	char judge_why[1024];
	struct flows_agent flows[CK_MAX_AGENTS];
	size_t nflows;
	const char *tls;
	unsigned int nodeport, fams;
	/* Until then a test that must connect is tried again: the objects are
	 * new, the agents still learning them (0: all kept from a run before). */
	long long settle_until;
	bool made;
};

static inline int fam_idx(const char *addr)
{
	return strchr(addr, ':') ? 1 : 0;
}

/* conntest_k8s_setup.c: 0 or -errno, said. */
/* The two nodes, the probe pods' image. */
int ck_nodes(struct ck *k);
/* The agents, whose flows or counters judge the drops. */
int ck_agents(struct ck *k);
/* Service ns/name's ClusterIPs into ips[family] (its spec in *spec_out if set); the status. */
int ck_svc_ips(struct ck *k, const char *ns, const char *name, char ips[2][48],
	       json_t **spec_out);
/* The probe namespace: its status (404: none) or -EIO; *terminating if it is going. */
int ck_ns_get(struct ck *k, bool *terminating);
/* Until the probe namespace is gone or deadline (CLOCK_MONOTONIC ms) passes. */
int ck_ns_wait_gone(struct ck *k, long long deadline);
/* The probe namespace's objects created; *created if any was. */
int ck_deploy(struct ck *k, bool *created);
/* Until every probe pod is Ready and the Service has endpoints, or deadline. */
int ck_wait_ready(struct ck *k, long long deadline);
/* The pods deleted with grace 0, then the namespace, each waited for. */
int ck_cleanup(struct ck *k);

#endif
