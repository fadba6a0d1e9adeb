/* SPDX-License-Identifier: Apache-2.0 */
/* xcnictl lab: a cluster made of network namespaces on one machine. */
#ifndef XCNI_LAB_H
#define XCNI_LAB_H

/* argv[0] is "lab"; returns the process exit code (0 ok, 1 failed/blocked, 2 usage or error). */
int lab_main(int argc, char **argv);

/*
 * ---- Internal to the files of user/lab ------------------------------------------------
 *
 * lab.c       the command table, lab state (lab.json), up, down, get
 * sys.c       namespaces, processes, the CNI exec protocol, files
 * apply.c     apply / delete of manifests, the sync token
 * probe.c     the pods' listener (lab serve), probe, matrix, exec
 * underlay.c the underlay: netns xcl-ul with a bridge, a veth to every node;
 *             the outside: netns xcl-out routed behind it
 *
 * Everything returns 0 or -errno and has already said what went wrong on
 * stderr, so callers only unwind.
 */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#define LAB_DEFAULT_DIR "/run/xcni-lab"
#define LAB_PIN_ROOT "/sys/fs/bpf/xcni-lab"
#define LAB_NETNS_PREFIX "xcl-"
#define LAB_MAX_NODES 200
#define LAB_SYNC_TIMEOUT_MS 20000
/* The pods' addresses (node i: 10.244.i.0/24), kube-proxy's --cluster-cidr. */
#define LAB_CLUSTER_CIDR "10.244.0.0/16"
/* Services: ClusterIPs come from here (xcnid's default --service-cidr, kubeadm's and kind's). */
#define LAB_SVC_NET "10.96.0.0"
#define LAB_SVC_PLEN 12
#define LAB_DNS_IP_INDEX 10 /* 10.96.0.10: kept for the DNS Service, as kubeadm does */
#define LAB_DNS_IP "10.96.0.10"
#define LAB_DNS_DOMAIN "cluster.local"
/* A pod annotated with this (value "dnsmasq") runs the cluster's DNS server. */
#define LAB_DNS_ANNOTATION "lab.xcni.io/server"

/*
 * The underlay: one switch (bridge br0 in netns xcl-ul), node i plugged in
 * through port ul-n<i>, seen in the node as ul0 with 192.168.77.<i>/24.
 */
#define LAB_UL_NETNS LAB_NETNS_PREFIX "ul"
#define LAB_UL_BRIDGE "br0"
#define LAB_UL_DEV "ul0"
#define LAB_UL_PREFIX "192.168.77."
#define LAB_UL_PLEN 24
#define LAB_UL_MTU 1500
/* The underlay's router: the nodes' default gateway, on the switch. */
#define LAB_UL_GW LAB_UL_PREFIX "254"
/*
 * The outside (the internet, for the cluster): netns xcl-out, linked to the
 * router in xcl-ul by a veth, ul-out 198.51.100.254/24 there and eth0
 * 198.51.100.1/24 here, routing back to the underlay only (never to a pod
 * CIDR: only masqueraded traffic gets answers). It runs a lab serve that
 * tells every peer the address it saw.
 */
#define LAB_OUT_NETNS LAB_NETNS_PREFIX "out"
#define LAB_OUT_DEV "eth0"
#define LAB_OUT_UL_DEV "ul-out"
#define LAB_OUT_IP "198.51.100.1"
#define LAB_OUT_GW "198.51.100.254"
#define LAB_OUT_PLEN 24
#define LAB_OUT_PORTS { "80/tcp", "53/udp" }
/* What the pods get: the underlay's MTU less Geneve's 50 bytes (the plugin caps it too). */
#define LAB_POD_MTU (LAB_UL_MTU - 50)
/* The XDP mode xcnid attaches its prefilter in ($XCNI_LAB_XDP): native XDP on a
 * veth turns every TSO packet into MTU-sized ones (3 instead of 11 Gbit/s). */
#define LAB_XDP_DEFAULT "generic"

/* A process the lab started, named by PID and start time so a recycled PID is never hit. */
struct lab_proc {
	pid_t pid; /* 0: none */
	unsigned long long start; /* /proc/PID/stat starttime */
};

struct lab_node {
	char name[16]; /* n<i> */
	char netns[32]; /* xcl-n<i> */
	char cidr[24]; /* 10.244.<i>.0/24 */
	char ip[16]; /* underlay address (InternalIP): 192.168.77.<i> */
	char pin[PATH_MAX];
	struct lab_proc xcnid;
	bool manifests; /* xcnid was started with --manifests (it reports applied_gen) */
};

struct lab_port {
	uint16_t port;
	uint8_t proto; /* IPPROTO_TCP, IPPROTO_UDP (SCTP is never served) */
};

struct lab_pod {
	char *ns;
	char *name;
	char node[16];
	char netns[256];
	char cid[32]; /* CNI_CONTAINERID */
	char ip[16];
	struct lab_proc server;
	bool dns; /* annotated LAB_DNS_ANNOTATION: its server is dnsmasq, not lab serve */
	size_t nports;
	struct lab_port *ports;
};

struct lab {
	char dir[PATH_MAX];
	bool created_dir; /* up made dir, so down removes it */
	bool underlay; /* up made netns xcl-ul, so down removes it */
	bool outside; /* up made netns xcl-out, so down removes it */
	struct lab_proc outside_server; /* the listener in xcl-out */
	int lock_fd;
	size_t nnodes;
	struct lab_node *nodes;
	size_t npods;
	struct lab_pod *pods;
};

/* lab.c */
int lab_state_save(const struct lab *lab);
struct lab_node *lab_node_find(struct lab *lab, const char *name);
struct lab_pod *lab_pod_find(struct lab *lab, const char *ns, const char *name);
/* Looks up "NS/POD"; NULL (and says so) if the lab has no such pod. */
struct lab_pod *lab_pod_lookup(struct lab *lab, const char *nspod);
void lab_pod_clear(struct lab_pod *p);
/* Opens the lab's state: 0, -ENOENT if no lab is up (said), -errno. lock: take it. */
int lab_open(struct lab *lab, bool lock);
void lab_close(struct lab *lab);
void lab_path(const struct lab *lab, char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* lab_sys.c */
void lab_netns_path(const char *name, char *out, size_t len);
int lab_netns_create(const char *name);
int lab_netns_delete(const char *name);
/* The binary `name` from $env, else next to /proc/self/exe. */
int lab_find_bin(const char *name, const char *env, char *out, size_t len);
/*
 * Starts argv as a daemon in its own session, inside netns (a path, or NULL),
 * stdout and stderr appended to log, keep_fd (if >= 0) passed as fd 3.
 */
int lab_spawn_daemon(const char *netns, char *const argv[], const char *log, int keep_fd,
		     struct lab_proc *out);
bool lab_proc_alive(const struct lab_proc *p);
/* SIGTERM, then SIGKILL after a grace period; fine if it is already gone. */
void lab_proc_stop(struct lab_proc *p);
/* CNI ADD/DEL of pod through xcni in its node's netns. ADD fills pod->ip. */
int lab_cni(struct lab *lab, struct lab_pod *pod, const char *cmd);
int lab_write_atomic(const char *path, const char *data, size_t len);
int lab_write_json(const char *path, json_t *doc);
int lab_rm_tree(const char *path);
/*
 * Runs argv (found in PATH) inside the netns at path netns (NULL: this one), in on
 * its stdin (NULL: none), its stdout in *out (NULL: discarded), its stderr to
 * ours. 0 if it exited 0, -EIO if it failed, -errno.
 */
int lab_run(const char *netns, char *const argv[], const char *in, char **out);
unsigned long long lab_starttime(pid_t pid);

/* lab_apply.c */
int lab_cmd_apply(int argc, char **argv);
int lab_cmd_delete(int argc, char **argv);
/* Bumps the sync token and waits for every node's agent to report it applied. */
int lab_sync(struct lab *lab);
int lab_write_node_object(struct lab *lab, const struct lab_node *n);
/* Whether the node's Node object is in the cluster state (lab delete -f takes it out). */
bool lab_node_registered(const struct lab *lab, const struct lab_node *n);
/* How the node's xcnid attached its XDP prefilter: "native", "generic", "off" or "unknown". */
const char *lab_node_xdp(const struct lab_node *n);
int lab_pod_teardown(struct lab *lab, struct lab_pod *pod);

/* lab_svc.c: Services, and kube-proxy (iptables mode) on every node */
const char *lab_proto_word(uint8_t proto);
void lab_svc_file(const struct lab *lab, const char *ns, const char *name, char *out, size_t len);
struct k8s_object;
int lab_svc_validate(struct lab *lab, const struct k8s_object *o, const char *src);
int lab_svc_apply(struct lab *lab, const struct k8s_object *o, bool *changed, FILE *say);
/* The Service `lab matrix --via-service` probes pod p through (made or completed here). */
int lab_svc_for_pod(struct lab *lab, const struct lab_pod *p, const struct lab_port *port,
		    uint32_t *ip, bool *changed);
/* 1 deleted, 0 none, -errno. */
int lab_svc_delete(struct lab *lab, const char *ns, const char *name);
int lab_svc_delete_ns(struct lab *lab, const char *ns, bool *changed);
/* The Service's ClusterIP: 0, -ENOENT (no such Service), -errno. */
int lab_svc_lookup(struct lab *lab, const char *ns, const char *name, uint32_t *ip);
int lab_kube_proxy_sync(struct lab *lab);
/* The DNS pod's server: dnsmasq answering <svc>.<ns>.svc.cluster.local from the Services. */
int lab_dns_start(struct lab *lab, struct lab_pod *pod);
/* The resolv.conf a pod of namespace ns gets (written if missing): 0 and its path, -errno. */
int lab_dns_resolv_conf(const struct lab *lab, const char *ns, char *out, size_t len);
/* After Services changed: the DNS server's records follow. */
int lab_dns_sync(struct lab *lab);
/* Whether the lab runs a DNS pod. */
bool lab_has_dns(const struct lab *lab);
/* [{namespace, name, clusterIP, ports: [{name, port, protocol, targetPort}], endpoints: ["IP:PORT/PROTO"]}] */
json_t *lab_svc_json(struct lab *lab);
/* lab_apply.c: where an object of the cluster state is kept. */
void lab_object_file(const struct lab *lab, int kind, const char *ns, const char *name, char *out,
		     size_t len);

/* lab_probe.c */
int lab_cmd_serve(int argc, char **argv);
int lab_cmd_probe(int argc, char **argv);
int lab_cmd_matrix(int argc, char **argv);
int lab_cmd_exec(int argc, char **argv);
/* Starts pod's listener in its netns (if it has ports to serve) and waits until it listens. */
int lab_server_start(struct lab *lab, struct lab_pod *pod);
/* Starts the outside's listener (LAB_OUT_PORTS, telling peers what it saw) in xcl-out. */
int lab_outside_serve(struct lab *lab);

/* lab_underlay.c */
/* Netns xcl-ul and its bridge; sets lab->underlay (and saves) once the netns exists. */
int lab_underlay_create(struct lab *lab);
/* Plugs node n into the switch: ul-n<i> on the bridge, ul0 with n->ip in the node. */
int lab_underlay_join(const struct lab_node *n);
/* Removes netns xcl-ul (its links go with it) if this lab made it. */
int lab_underlay_delete(struct lab *lab);
/* Netns xcl-out behind xcl-ul's router; sets lab->outside (and saves) once it exists. */
int lab_outside_create(struct lab *lab);
/* Stops the outside's listener and removes netns xcl-out if this lab made it. */
int lab_outside_delete(struct lab *lab);

#endif
