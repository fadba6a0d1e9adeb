/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 2 of the lab: its state (struct lab: nodes, pods, what the lab made),
 * kept in <labdir>/lab.json. state.c alone reads and writes that file and
 * takes the lock; every other module gets the struct lab passed.
 */
#ifndef XCNI_LAB_STATE_H
#define XCNI_LAB_STATE_H

#include <jansson.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lab/serve.h"
#include "lab/sys.h"

/*
 * The Service ranges: ClusterIPs are allocated from them (svc.c) and every
 * node's xcnid is told them (--service-cidr, node.c). IPv4: xcnid's default,
 * kubeadm's and kind's; IPv6 for ipv6 and dual labs.
 */
#define LAB_SVC_NET "10.96.0.0"
#define LAB_SVC_PLEN 12
#define LAB_SVC_NET6 "fd00:10:96::"
#define LAB_SVC_PLEN6 108

#define LAB_DEFAULT_DIR "/run/xcni-lab"
#define LAB_PIN_ROOT "/sys/fs/bpf/xcni-lab"
#define LAB_MAX_NODES 200
/* lab up --agent-arg: how many, and how long each. */
#define LAB_MAX_AGENT_ARGS 16
#define LAB_AGENT_ARG_LEN 256
/*
 * A pod annotated with this runs, value "dnsmasq", the cluster's DNS server;
 * value "tell-peer", a listener answering "NS/POD ADDR" with the source
 * address it saw (what a NodePort backend sees of its client).
 */
#define LAB_DNS_ANNOTATION "lab.xcni.io/server"

/*
 * The lab's IP families (lab up --ip-family): which ones its pods, Services
 * and probes have. A bit mask: dual is both.
 */
enum lab_family {
	LAB_FAM_V4 = 1,
	LAB_FAM_V6 = 2,
	LAB_FAM_DUAL = LAB_FAM_V4 | LAB_FAM_V6,
};
/* "ipv4", "ipv6", "dual". */
const char *lab_family_word(unsigned int fam);
/* "ipv4"|"ipv6"|"dual" -> the mask; 0 for anything else. */
unsigned int lab_family_parse(const char *s);

#define LAB_ADDR6_LEN 46 /* INET6_ADDRSTRLEN */

struct lab_node {
	char name[16]; /* n<i> */
	char netns[32]; /* xcl-n<i> */
	char cidr[24]; /* 10.244.<i>.0/24 ("" in an IPv6-only lab) */
	char cidr6[64]; /* fd00:10:244:<i>::/64 (IPv6 and dual stack labs), else "" */
	char ip[16]; /* underlay address (InternalIP): 192.168.77.<i> */
	char pin[PATH_MAX];
	struct lab_proc xcnid;
	bool manifests; /* xcnid was started with --manifests (it reports applied_gen) */
	/*
	 * lab up --ipv6-only-nodes (dual stack): this node's underlay is IPv6
	 * alone, as an IPv6-only node's in a cluster that mixes them (ip only
	 * numbers it; lab_node_ul6only).
	 */
	bool ul6only;
	/* XCNI_LAB_UL_NIC's "NODE_DEV:SWITCH_DEV": this node's underlay is two
	 * real NICs of the lab's netns, not a veth (lab_underlay_join), or "". */
	char nic[2 * IF_NAMESIZE];
};

struct lab_pod {
	char *ns;
	char *name;
	char node[16];
	char netns[256];
	char cid[32]; /* CNI_CONTAINERID */
	char ip[16]; /* its IPv4 address ("" in an IPv6-only lab) */
	char ip6[LAB_ADDR6_LEN]; /* its IPv6 address (IPv6 and dual stack labs) */
	struct lab_proc server;
	bool dns; /* annotated LAB_DNS_ANNOTATION: its server is dnsmasq, not lab serve */
	bool tell; /* annotated LAB_DNS_ANNOTATION tell-peer: lab serve --tell-peer */
	/*
	 * spec.hostNetwork: the pod is its node's netns (netns is the node's, its
	 * addresses the node's): no netns of its own, no CNI, only its listener.
	 */
	bool host_network;
	/*
	 * Being deleted: its endpoints are terminating (ready false, serving) while
	 * the agents and kube-proxy catch up, before it stops. Within one delete,
	 * or (term_until set, kept) until its grace period ends.
	 */
	bool terminating;
	/* spec.terminationGracePeriodSeconds (the lab's default: 0, deleted at once). */
	unsigned int grace_s;
	/*
	 * lab delete of a pod with a grace period: the time (CLOCK_REALTIME, s) it
	 * ends; its listener serves until then. The first apply or delete after it
	 * removes the pod (lab delete --now at once). 0: not terminating.
	 */
	long long term_until;
	size_t nports;
	struct lab_port *ports;
};

struct lab_svc_index; /* svc.c's */

struct lab {
	char dir[PATH_MAX];
	bool created_dir; /* up made dir, so down removes it */
	bool underlay; /* up made netns xcl-ul, so down removes it */
	bool outside; /* up made netns xcl-out, so down removes it */
	/*
	 * up --kube-proxy none: every xcnid runs --kube-proxy-replacement and reads
	 * Services and EndpointSlices from the manifests; no iptables rule is made.
	 */
	bool kube_proxy_none;
	/* up --ip-family: enum lab_family (ipv4 for a lab.json from before the field). */
	unsigned int family;
	/*
	 * up --node-port-range (the API server's --service-node-port-range): where
	 * apply allocates nodePorts and what it accepts; the agents get it too.
	 */
	uint16_t np_min, np_max;
	bool np_dsr; /* lab up --node-port-mode dsr: every xcnid's --node-port-mode */
	/*
	 * lab up --ipv6-only-nodes: some nodes' underlay is IPv6 alone (their
	 * ul6only), the others keep both families and reach them over IPv6:
	 * every pod gets the IPv6 underlay's MTU, every dual node xcnid's
	 * --node-ip of both families.
	 */
	bool ul_mixed;
	/*
	 * lab up --tunnel-family ipv6 (dual stack): every node of both families
	 * is told both (--node-ip IPv4,IPv6) and xcnid's --tunnel-family ipv6, so
	 * Geneve between them is IPv6 and every pod gets the IPv6 underlay's MTU.
	 */
	bool tun6;
	/* lab up --agent-arg: given to every node's xcnid after the lab's own. */
	char agent_args[LAB_MAX_AGENT_ARGS][LAB_AGENT_ARG_LEN];
	size_t nagent_args;
	struct lab_proc outside_server; /* the listener in xcl-out */
	int lock_fd;
	size_t nnodes;
	struct lab_node *nodes;
	size_t npods;
	struct lab_pod *pods;
	/*
	 * The Services as svc.c read them: once per command, then kept up to date
	 * by it (NULL until first needed). svc.c owns it; lab_close frees it
	 * through svc_index_free, so this layer needs not know the Services.
	 */
	struct lab_svc_index *svc_index;
	void (*svc_index_free)(struct lab_svc_index *idx);
};

/* Where a lab's state lives: $XCNI_LAB_DIR, else LAB_DEFAULT_DIR. */
const char *lab_dir(void);
/*
 * A new lab in lab_dir(): the directory (made if
 * missing: lab->created_dir), its lock held. -EEXIST if a lab is up there
 * already; every failure said, and the lab closed.
 */
int lab_create(struct lab *lab);
/* Opens the lab's state: 0, -ENOENT if no lab is up (said), -errno. lock: take it. */
int lab_open(struct lab *lab, bool lock);
int lab_state_save(const struct lab *lab);
/* --agent-arg's list, as lab.json and lab status show it. */
json_t *lab_agent_args_json(const struct lab *lab);
void lab_close(struct lab *lab);

/* <labdir>/<fmt...> */
void lab_path(const struct lab *lab, char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
struct lab_node *lab_node_find(struct lab *lab, const char *name);
struct lab_pod *lab_pod_find(struct lab *lab, const char *ns, const char *name);
/* Looks up "NS/POD"; NULL (and says so) if the lab has no such pod. */
struct lab_pod *lab_pod_lookup(struct lab *lab, const char *nspod);
void lab_pod_clear(struct lab_pod *p);

#endif
