// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid's command line: its options, each checked alone and together, into
 * struct opts (and the overlay, masquerade and map sizes it points at). Bad
 * input is refused naming the option, before anything on the node changes.
 */
#ifndef XCNI_AGENT_XCNID_OPTS_H
#define XCNI_AGENT_XCNID_OPTS_H

#include <netinet/in.h>
#include <stdint.h>

#include <linux/types.h>

#include "agent/flows.h"
#include "agent/masq.h"
#include "agent/overlay.h"
#include "lib/services/svc.h"

#define XCNI_DEFAULT_SVC_CIDR "10.96.0.0/12"

/* How many --external-ip-cidrs ranges, both families together. */
#define XCNID_EXT_ALLOW_MAX 64

struct opts {
	const char *pin_dir;
	const char *node_name;
	__u32 gateway; /* the pods' (--pod-cidr is mq->pod, --pod-cidr6 mq->pod6) */
	struct xcni_prefix svc[2]; /* the ClusterIP ranges, IPv4 and IPv6 (host bits off); len 0: none */
	int once;
	const char *manifests; /* cluster state from a manifest directory */
	const char *kubeconfig; /* ... or from the API server, found through this file */
	int in_cluster; /* ... or through the pod's service account */
	struct overlay *ov; /* ov->underlay NULL: no overlay */
	const char *metrics_addr; /* NULL: no metrics endpoint */
	const char *ui_addr; /* --ui: NULL, no service map; else the same server as metrics */
	int http_remote; /* --http-allow-remote: a non-loopback metrics address is meant */
	__u32 trace_sample; /* trace one forwarded packet in N; 0: off */
	__u32 events_rate; /* events per CPU per second; 0: no limit */
	struct masq *mq; /* mq->on: masquerade pods' traffic leaving the cluster */
	int kpr; /* --kube-proxy-replacement: Services translated in BPF, their maps written here */
	unsigned int lb_flags; /* svc_incr_update's: SVC_BUILD_MAGLEV with --lb-algorithm maglev */
	const char *cgroup_root; /* --cgroup-root: socket-level load balancing on it */
	uint16_t np_min, np_max; /* --node-port-range; np_max 0: the API server's default */
	int np_dsr; /* --node-port-mode dsr: remote backends answer external clients directly */
	int fqdn; /* --fqdn-policy: fqdn_enabled in to_pod and from_pod (lib/dns.h) */
	int ext_cip; /* --external-clusterip: ClusterIPs served from outside the cluster too */
	unsigned int sync_delay_ms; /* --sync-delay: events gathered this long into one sync */
	/* --ns-churn-burst, --ns-churn-rate, --ns-churn-interval: store_churn_set's */
	unsigned int churn_burst, churn_rate, churn_interval_ms;
	int uninstall; /* --uninstall: remove what agents made on this node, then exit */
	unsigned int hook_check_s; /* --hook-check: seconds between looks at the hooks' order; 0 at start only */
	unsigned int map_grow_pct; /* --map-grow: conntrack this full (percent) is doubled; 0: never */
	unsigned int ns_share; /* --policy-ns-share: percent of each policy map one namespace may take */
	unsigned int svc_ns_share; /* --service-ns-share: the same of each Service map */
	uint8_t id_key[16]; /* --identity-key-file: the identity hash's key; zero: the default */
	struct flowd_opts flows; /* --flows...: window 0, off */
	/* --external-ip-cidrs: where a Service's spec.externalIPs may point (the
	 * allow-list of svc_ext_rules); next_allow 0: anywhere not refused. */
	size_t next_allow;
	struct xcni_prefix ext_allow[XCNID_EXT_ALLOW_MAX];
};

/* What --policy-ns-share and --service-ns-share are without the flags: one
 * namespace may take half of each policy and Service map, so a tenant never
 * leaves the others less than half. */
#define XCNID_NS_SHARE_DEFAULT 50

/* What --sync-delay is without the flag: none. At 100 events/s against 100k
 * pods 10 ms halves the syncs but not the CPU (docs/decisions/sync-delay-default.md): the
 * cost is per event, so the latency it adds buys nothing by default. */
#define XCNID_SYNC_DELAY_DEFAULT 0

/* What the --ns-churn-* flags are without them: a namespace may change 200 objects
 * at once and 50 a second (a Deployment of 50 pods rolling, each pod ~4 events,
 * in 4 s); past that its changes go in together once a second. */
#define XCNID_CHURN_BURST_DEFAULT 200
#define XCNID_CHURN_RATE_DEFAULT 50
#define XCNID_CHURN_INTERVAL_DEFAULT 1000

/* What the command line gave, and the storage opts points at. */
struct xcnid_cmdline {
	struct opts o;
	struct overlay ov;
	struct masq mq;
	struct map_max map_max[MAP_MAX_ALL];
	int masquerade; /* -1: the default (on with a pod CIDR), 0 --no-masquerade, 1 --masquerade */
	char host[64]; /* the node's name when --node-name is not given */
};

/*
 * Parses and checks argv into *cl. -1: go on (run the agent); otherwise the
 * status to exit with: 0 after --help, 2 for bad input (said on stderr).
 */
int xcnid_cmdline(int argc, char **argv, struct xcnid_cmdline *cl);

#endif
