/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes objects as xcnid needs them: Namespace, Pod, Node and
 * networking.k8s.io/v1 NetworkPolicy, parsed from the JSON tree of a manifest
 * (YAML is turned into the same tree first) and validated the way the API
 * server would, with errors that name the object and the field.
 *
 * "Absent" and "empty" differ in NetworkPolicy, so optional selectors are
 * pointers (NULL = absent) and lists carry a `present` flag where it matters.
 */
#ifndef XCNI_K8S_H
#define XCNI_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/system/cidr.h"

enum k8s_kind {
	K8S_NAMESPACE,
	K8S_POD,
	K8S_NODE,
	K8S_NETWORKPOLICY,
	K8S_CLUSTERNETPOL, /* policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy */
	K8S_NR_KINDS, /* the kinds xcnid reads */
	/*
	 * Services and EndpointSlices are kube-proxy's business (the lab's, in the
	 * lab), xcnid's only when it replaces kube-proxy (--kube-proxy-replacement).
	 */
	K8S_SERVICE = K8S_NR_KINDS,
	K8S_ENDPOINTSLICE,
	K8S_NR_ALL_KINDS,
};

struct k8s_label {
	char *key;
	char *value;
};

/* Sorted by key, keys unique. */
struct k8s_labels {
	size_t n;
	struct k8s_label *v;
};

enum k8s_sel_op {
	K8S_SEL_IN,
	K8S_SEL_NOT_IN,
	K8S_SEL_EXISTS,
	K8S_SEL_DOES_NOT_EXIST,
};

struct k8s_sel_expr {
	char *key;
	enum k8s_sel_op op;
	size_t nvalues; /* In/NotIn: >= 1; Exists/DoesNotExist: 0 */
	char **values;
};

/* metav1.LabelSelector: the AND of all its terms; no terms selects everything. */
struct k8s_selector {
	struct k8s_labels match_labels;
	size_t nexprs;
	struct k8s_sel_expr *exprs;
};

struct k8s_meta {
	char *name;
	char *ns; /* NULL for cluster-scoped kinds (Namespace, Node, ClusterNetworkPolicy) */
	struct k8s_labels labels;
	/* annotation xcni.io/policy-mode: audit (K8S_POLICY_MODE_ANNOTATION) on a
	 * NetworkPolicy, ClusterNetworkPolicy or Namespace: its denials are counted
	 * and reported, never enforced. */
	bool audit;
};

#define K8S_POLICY_MODE_ANNOTATION "xcni.io/policy-mode"
/* EndpointSlices as 1.19 and 1.20 serve them; read as discovery.k8s.io/v1. */
#define K8S_ENDPOINTSLICE_V1BETA1 "discovery.k8s.io/v1beta1"


struct k8s_namespace {
	struct k8s_meta meta; /* labels include kubernetes.io/metadata.name */
};

struct k8s_container_port {
	char *name; /* NULL if unnamed */
	uint16_t port;
	uint8_t proto; /* IPPROTO_TCP (default), IPPROTO_UDP, IPPROTO_SCTP */
};

enum k8s_pod_phase {
	K8S_POD_PHASE_UNSET = 0, /* no status.phase (a manifest as written) */
	K8S_POD_PENDING,
	K8S_POD_RUNNING,
	K8S_POD_SUCCEEDED,
	K8S_POD_FAILED,
	K8S_POD_UNKNOWN, /* "Unknown", or a phase this build does not know */
};

struct k8s_pod {
	struct k8s_meta meta;
	char *node_name; /* spec.nodeName, NULL if unset */
	bool host_network;
	uint32_t ip; /* status.podIP(s): the IPv4, network order, 0 if none */
	bool has_ip6; /* status.podIP(s) has an IPv6 address */
	uint8_t ip6[16]; /* ... that one */
	size_t nports; /* every spec.containers[].ports[] entry */
	struct k8s_container_port *ports;
	enum k8s_pod_phase phase; /* status.phase */
	int64_t created; /* metadata.creationTimestamp, seconds since the epoch; 0 if unset */
	bool deleting; /* metadata.deletionTimestamp is set: it keeps its address until gone */
};

/*
 * A pod whose containers have all ended for good (Succeeded, Failed) keeps
 * status.podIP in the API until it is collected, which may take days, while
 * IPAM hands that address to a new pod: a finished pod holds no address and
 * no identity. A pod being deleted keeps both until it is gone.
 */
/* "Running", ...; "" when unset. */
const char *k8s_pod_phase_name(enum k8s_pod_phase p);

static inline bool k8s_pod_finished(const struct k8s_pod *p)
{
	return p->phase == K8S_POD_SUCCEEDED || p->phase == K8S_POD_FAILED;
}

struct k8s_node {
	struct k8s_meta meta;
	uint32_t internal_ip; /* status.addresses[type=InternalIP], network order */
	uint32_t pod_cidr; /* spec.podCIDR, network order */
	uint8_t pod_cidr_len;
	/* dual stack and IPv6-only: the first IPv6 ones (all zero: none) */
	uint8_t internal_ip6[16];
	uint8_t pod_cidr6[16]; /* of spec.podCIDR or podCIDRs, host bits zero */
	uint8_t pod_cidr6_len;
};

/* An IPv4 or (v6) IPv6 prefix; the other family's address is all zeros. */
struct k8s_ipblock {
	struct xcni_prefix cidr;
	size_t nexcept; /* each strictly inside cidr */
	struct xcni_prefix *except;
};

/* NetworkPolicyPeer: exactly ipBlock, or podSelector and/or namespaceSelector. */
struct k8s_np_peer {
	struct k8s_selector *pod_sel; /* NULL = absent */
	struct k8s_selector *ns_sel; /* NULL = absent */
	struct k8s_ipblock *ipblock; /* NULL = absent */
};

/* NetworkPolicyPort. */
struct k8s_np_port {
	uint8_t proto; /* IPPROTO_TCP when the manifest leaves it out */
	bool has_port; /* false: every port of proto */
	char *port_name; /* named port (resolved per pod), else NULL */
	uint16_t port; /* numeric port when port_name is NULL */
	uint16_t end_port; /* 0 = no range; else >= port (numeric only) */
};

/*
 * One ingress or egress rule. Peers and ports: an empty or absent list means
 * "all" (the API says the same for both), so no present flag is needed here.
 */
struct k8s_np_rule {
	size_t npeers; /* from (ingress) / to (egress) */
	struct k8s_np_peer *peers;
	size_t nports;
	struct k8s_np_port *ports;
};

/*
 * ClusterNetworkPolicy (network-policy-api v1alpha2). Peers and the subject
 * are kept as the selectors they are: namespaces: ns_sel only (pod_sel
 * NULL); pods: both; nodes: node_sel; networks: nets.
 */
enum k8s_cnp_tier { K8S_CNP_ADMIN, K8S_CNP_BASELINE };
enum k8s_cnp_action { K8S_CNP_ACCEPT, K8S_CNP_DENY, K8S_CNP_PASS };

struct k8s_cnp_peer {
	struct k8s_selector *ns_sel; /* namespaces, pods */
	struct k8s_selector *pod_sel; /* pods */
	struct k8s_selector *node_sel; /* nodes (egress) */
	size_t nnets; /* networks (egress): CIDRs of both families */
	struct xcni_prefix *nets;
	/* domainNames (egress): normalised (fqdn_normalise: lower case, no
	 * trailing dot, a wildcard's "*." kept), each once */
	size_t ndomains;
	char **domains;
	/* None of the kinds xcni knows is set (a newer CRD's peer): the rule fails
	 * closed, as the API says: an Accept matches nothing through it, a Deny or
	 * a Pass is a Deny of everything. */
	bool unknown;
};

/* One protocols[] entry: proto with a port or range (port 0: every port), or a named port. */
struct k8s_cnp_proto {
	uint8_t proto; /* IPPROTO_*; 0 with port_name (its protocol is the container port's) */
	char *port_name; /* destinationNamedPort, else NULL */
	uint16_t port, end_port; /* host order; end_port == port for one port; 0, 0: every port */
};

struct k8s_cnp_rule {
	char *name; /* NULL if unnamed */
	enum k8s_cnp_action action;
	size_t npeers; /* >= 1 */
	struct k8s_cnp_peer *peers;
	size_t nprotos; /* 0: every protocol and port */
	struct k8s_cnp_proto *protos;
};

struct k8s_cnp {
	struct k8s_meta meta;
	enum k8s_cnp_tier tier;
	uint32_t priority; /* 0..1000, lower first */
	struct k8s_selector *subj_ns; /* subject.namespaces or subject.pods.namespaceSelector */
	struct k8s_selector *subj_pod; /* subject.pods.podSelector; NULL: every pod */
	size_t ningress;
	struct k8s_cnp_rule *ingress;
	size_t negress;
	struct k8s_cnp_rule *egress;
};

struct k8s_netpol {
	struct k8s_meta meta;
	struct k8s_selector pod_sel; /* spec.podSelector (required; {} = all pods) */
	/* spec.policyTypes after defaulting: Ingress always, Egress if any egress rule. */
	bool type_ingress;
	bool type_egress;
	size_t ningress; /* no rules + type_ingress: nothing allowed in */
	struct k8s_np_rule *ingress;
	size_t negress;
	struct k8s_np_rule *egress;
};

/* One entry of a Service's spec.ports. */
struct k8s_svc_port {
	char *name; /* NULL if unnamed (only a Service's single port may be) */
	uint8_t proto;
	uint16_t port;
	char *target_name; /* a named targetPort (the pods' containerPort name), else NULL */
	uint16_t target_port; /* numeric targetPort, defaulting to port */
	uint16_t node_port; /* spec.ports[].nodePort (NodePort, LoadBalancer), 0 none */
};

/*
 * v1 Service: ClusterIP, NodePort and LoadBalancer (nodePorts, externalIPs,
 * load-balancer ingress IPs, both traffic policies) and ExternalName (the lab
 * serves ClusterIP and NodePort).
 */
struct k8s_service {
	struct k8s_meta meta;
	bool has_selector; /* no selector: endpoints are managed by hand (none in the lab) */
	struct k8s_labels selector; /* spec.selector: equality on every key */
	uint32_t cluster_ip; /* spec.clusterIP, network order; 0 unset (to be allocated) */
	bool headless; /* clusterIP: None */
	/* The IPv6 ClusterIP (spec.clusterIP of an IPv6-only Service, or the IPv6
	 * one of spec.clusterIPs of a dual-stack one); has_ip6 false: none. */
	bool has_ip6;
	uint8_t cluster_ip6[16];
	bool external_name; /* type ExternalName: no frontend */
	size_t nports;
	struct k8s_svc_port *ports;
	bool affinity_client_ip; /* sessionAffinity: ClientIP */
	uint32_t affinity_s; /* sessionAffinityConfig.clientIP.timeoutSeconds (default 10800) */
	bool node_ports; /* type NodePort or LoadBalancer: spec.ports[].nodePort is served */
	bool etp_local; /* externalTrafficPolicy: Local */
	bool itp_local; /* internalTrafficPolicy: Local */
	size_t nexternal_ips;
	uint32_t *external_ips; /* spec.externalIPs, network order: the IPv4 ones */
	size_t nexternal_ips6;
	uint8_t (*external_ips6)[16]; /* spec.externalIPs: the IPv6 ones */
	size_t nlb_ips;
	uint32_t *lb_ips; /* status.loadBalancer.ingress[].ip (type LoadBalancer), network order */
	size_t nlb_ips6;
	uint8_t (*lb_ips6)[16]; /* status.loadBalancer.ingress[].ip: the IPv6 ones */
	/* Each address's index in its list (spec.externalIPs[i],
	 * status.loadBalancer.ingress[i]), the families mixed there: what
	 * messages name. NULL (a Service built by hand): the family's own index. */
	size_t *external_ips_at, *external_ips6_at, *lb_ips_at, *lb_ips6_at;
	/* Which of two Services claiming one externalIP frontend is the older
	 * (it keeps it): metadata.creationTimestamp (seconds since the epoch, 0
	 * unset), then metadata.uid (NULL unset). */
	int64_t created;
	char *uid;
};

/* One entry of an EndpointSlice's ports. */
struct k8s_eps_port {
	char *name; /* "" when unnamed (matches a Service port without a name) */
	uint8_t proto;
	bool has_port; /* false: port unset (the slice's endpoints serve no port of this name) */
	uint16_t port;
};

/* One endpoint (addresses[0]: kube-proxy uses only the first). */
struct k8s_endpoint {
	uint32_t addr; /* network order (addressType IPv4) */
	uint8_t addr6[16]; /* addressType IPv6 */
	/* conditions as kube-proxy reads them: ready and serving nil = true, terminating nil = false */
	bool ready;
	bool serving;
	bool terminating;
	char *node_name; /* NULL if unset */
};

/* discovery.k8s.io/v1 EndpointSlice. */
struct k8s_epslice {
	struct k8s_meta meta;
	const char *service; /* the kubernetes.io/service-name label (in meta.labels), NULL if none */
	bool ipv4; /* addressType IPv4 */
	bool ipv6; /* addressType IPv6; FQDN slices are kept but have no endpoints here */
	size_t nendpoints;
	struct k8s_endpoint *endpoints;
	size_t nports;
	struct k8s_eps_port *ports;
};

struct k8s_object {
	enum k8s_kind kind;
	json_t *raw; /* the document it came from (a reference), for equality and re-writing */
	union {
		struct k8s_meta meta; /* first member of every kind below */
		struct k8s_namespace ns;
		struct k8s_pod pod;
		struct k8s_node node;
		struct k8s_netpol np;
		struct k8s_cnp cnp;
		struct k8s_service svc; /* only from k8s_parse_all / k8s_parse_lb */
		struct k8s_epslice eps; /* only from k8s_parse_lb */
	};
};

/* Room for "<Kind> <ns>/<name>: <field path>: <what is wrong>". */
struct k8s_error {
	char msg[512];
};

/*
 * Parses one object from its JSON tree. 0 and *out on success; -EINVAL with
 * err->msg naming the object and the field (e.g. "NetworkPolicy x/deny:
 * spec.ingress[0].from[1].ipBlock.except[0]: 10.2.0.0/16 is not inside
 * 10.1.0.0/16"); -ENOTSUP for a kind xcnid does not read (err says which).
 */
int k8s_parse(json_t *doc, struct k8s_object **out, struct k8s_error *err);
/* k8s_parse, Services of every type included (for the lab, which refuses the types it does not serve). */
int k8s_parse_all(json_t *doc, struct k8s_object **out, struct k8s_error *err);
/* k8s_parse, Services and EndpointSlices included (xcnid replacing kube-proxy). */
int k8s_parse_lb(json_t *doc, struct k8s_object **out, struct k8s_error *err);
/*
 * What kubectl delete -f reads of an object: kind, apiVersion and metadata
 * (name, namespace, labels) checked; spec and the rest neither required nor
 * read (the kind's own fields left zero).
 */
int k8s_parse_ident(json_t *doc, struct k8s_object **out, struct k8s_error *err);
void k8s_free(struct k8s_object *obj);
const char *k8s_kind_name(enum k8s_kind kind);

/* Each kind once: its name, the version and path the API serves it at, its
 * plural (for messages and RBAC hints), whether its objects have a namespace. */
struct k8s_kind_info {
	const char *name, *api_version, *path, *plural;
	bool namespaced;
};
extern const struct k8s_kind_info k8s_kinds[K8S_NR_ALL_KINDS];

/* Does the selector match these labels? */
bool k8s_selector_matches(const struct k8s_selector *sel, const struct k8s_labels *labels);
/* Frees the labels' strings and array; l is left empty. */
void k8s_labels_free(struct k8s_labels *l);
/* Two label sets sorted by key (as parsed, or pol_labels_copy) are the same. */
bool k8s_labels_equal(const struct k8s_labels *a, const struct k8s_labels *b);
/* The value of key, or NULL. */
const char *k8s_label_get(const struct k8s_labels *labels, const char *key);

/*
 * Every document of a YAML or JSON stream (multi-document, "---"), as JSON
 * trees. YAML 1.2 core schema for plain scalars (ints, bools, null), so
 * `port: 80` is a number and `port: "80"` a string, as kubectl reads them.
 * Empty documents are skipped. 0 on success; -EINVAL with err naming the
 * line and column.
 */
int k8s_load_stream(const char *buf, size_t len, json_t ***docs, size_t *ndocs,
		    struct k8s_error *err);
int k8s_load_file(const char *path, json_t ***docs, size_t *ndocs, struct k8s_error *err);
void k8s_docs_free(json_t **docs, size_t ndocs);

/*
 * A "List" document (kind: List, items: [...]) is flattened into its items by
 * k8s_load_*, as kubectl does.
 */

#endif
