/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Services and EndpointSlices (the store's) turned into the Service map
 * writer's input (svcsync.h), per Service port:
 *  - its ClusterIP frontend (headless Services and Services whose ClusterIP
 *    is not allocated have none, nor ExternalName ones);
 *  - NodePort and LoadBalancer Services: a NodePort frontend on each of the
 *    node's addresses (struct svc_node) at spec.ports[].nodePort, and one
 *    on every other Node's (peers: this node's pods connecting to another
 *    node's NodePort are translated here, instead of sending the packet to
 *    a node whose stack has no kube-proxy to answer it: to every backend,
 *    as the ClusterIP would be, or under externalTrafficPolicy Local to
 *    that node's own, none being a drop as there); a nodePort
 *    outside the node's range, or one another Service has, is said (naming
 *    the object and field) and that frontend left out, nothing else;
 *  - a frontend per spec.externalIPs[] and per status.loadBalancer.ingress[].ip
 *    (LoadBalancer) at the Service port;
 * its backends from the EndpointSlices labelled
 * kubernetes.io/service-name with the Service's name in its namespace, as
 * kube-proxy reads them:
 *  - the slice port is the one named as the Service port ("" when unnamed), of
 *    its protocol; the EndpointSlice controller has resolved the targetPort
 *    (by number or by the pods' port name) into it. A hand-written slice
 *    (Service without selector) may name its port after a named targetPort
 *    instead: that is looked up second;
 *  - ready endpoints are active backends; not ready but serving and
 *    terminating ones are terminating backends, which the data plane uses only
 *    when no active one is left; the rest are not backends;
 *  - an address:port in several slices is one backend (ready wins);
 *  - sessionAffinity ClientIP: XCNI_SVC_F_AFFINITY with timeoutSeconds;
 *  - internalTrafficPolicy Local: the ClusterIP frontend gets only the
 *    endpoints whose nodeName is this node's (XCNI_SVC_F_ITP_LOCAL);
 *    externalTrafficPolicy Local: the external frontends' EXT entries get
 *    only those (XCNI_SVC_F_ETP_LOCAL; the data plane keeps the client's
 *    address and drops what finds none), and an INT twin with every backend
 *    serves this node's pods (XCNI_SVC_F_TWO_SCOPES), as kube-proxy sends
 *    pods' traffic to external frontends cluster-wide. The two flags are
 *    set only when the Service has endpoints somewhere: a frontend that
 *    then has none here drops (kube-proxy's DROP), one of a Service with
 *    none at all is refused (its REJECT), from pods and from outside.
 * Pure: no I/O, no state; the same cluster gives the same list.
 */
#ifndef XCNI_SVC_H
#define XCNI_SVC_H

#include "lib/cluster/store.h"
#include "lib/services/svcsync.h"

#define SVC_BUILD_MAGLEV 1u /* every frontend picks by Maglev table */

/*
 * The most frontends one Service may ask for on a node: spec.ports x its
 * addresses per port (ClusterIPs, externalIPs, load-balancer IPs, and for a
 * NodePort Service every node address), x2 under externalTrafficPolicy Local
 * (INT twins). A frontend takes a service id and ids are 16 bits (the
 * reverse-NAT index, xcni_revnat): no node holds more than 65535 frontends
 * whatever --map-max says, so a Service past this can never be programmed.
 * It is refused alone, named, before anything is sized from its counts: a
 * 500 kB object of 10^4 ports x 10^4 externalIPs asks for 10^8 frontends,
 * which sized the build's arrays (GBs) before. docs/decisions/service-room.md.
 */
#define SVC_FRONTENDS_BOUND 65535u

/* The NodePort range when the node gives none (the API server's default). */
#define SVC_NODEPORT_MIN 30000
#define SVC_NODEPORT_MAX 32767

struct svc_node;

/* A reserved address range and what a refusal names it as. */
struct svc_prefix {
	struct xcni_prefix p;
	uint8_t what; /* SVC_PFX_* */
};

enum { SVC_PFX_SERVICE, SVC_PFX_POD };

/*
 * What a Service's spec.externalIPs may name (any tenant with the edit role
 * writes them; the cluster allocated none of them). Refused, for that Service
 * alone and said: an address in a reserved range (the Service range, the pod
 * ranges: a ClusterIP, the cluster DNS, a pod), a node's address (struct
 * svc_node's addrs, peers and their IPv6 ones), one outside allow when it is
 * given (--external-ip-cidrs). One on a frontend another Service has as the
 * cluster allocated it (ClusterIP, NodePort, load-balancer IP) loses that
 * frontend; between two externalIPs the older Service keeps it.
 */
struct svc_ext_rules {
	size_t nreserved;
	const struct svc_prefix *reserved;
	size_t nallow; /* 0: no allow-list */
	const struct xcni_prefix *allow;
};

/*
 * Why externalIP addr (family XCNI_AF_*, network order) may not be one under
 * r (NULL: no rules) and node (NULL: no node addresses known): NULL if it may,
 * else the words ("is in the Service range 10.96.0.0/12"), in buf.
 */
const char *svc_ext_refused(const struct svc_ext_rules *r, const struct svc_node *node,
			    uint8_t family, const void *addr, char *buf, size_t len);

/*
 * Likewise for a load-balancer ingress IP (status.loadBalancer.ingress[].ip):
 * the reserved ranges and the node addresses, not r's allow-list (which
 * says where externalIPs may point). Whoever writes a Service's status (its
 * controller, anyone granted services/status) takes no node's address.
 */
const char *svc_lb_refused(const struct svc_ext_rules *r, const struct svc_node *node,
			   uint8_t family, const void *addr, char *buf, size_t len);

/* The node the frontends are built for. */
struct svc_node {
	const char *name; /* its Node name: endpoints with this nodeName are local */
	size_t naddrs;
	const uint32_t *addrs; /* NodePort frontends' addresses, network order */
	/*
	 * The other Nodes' addresses (InternalIP): NodePort frontends there too,
	 * every backend, for this node's pods reaching another node's NodePort.
	 */
	size_t npeers;
	const uint32_t *peers;
	/*
	 * The peers' Node names, one per address (NULL, or the array NULL: not
	 * known, and then every backend is behind that address). Under
	 * externalTrafficPolicy Local a peer's frontend holds that node's
	 * endpoints only: to that node a pod's connection is external.
	 */
	const char *const *peer_names;
	/* IPv6 likewise (a node's IPv6 InternalIP): IPv6 NodePort frontends, the
	 * Service's IPv6 backends behind them. 16 bytes each, network order. */
	size_t naddrs6, npeers6;
	const uint8_t (*addrs6)[16];
	const uint8_t (*peers6)[16];
	const char *const *peer_names6; /* as peer_names, for peers6 */
	uint16_t np_min, np_max; /* NodePort range; np_max 0: SVC_NODEPORT_MIN-MAX */
	const struct svc_ext_rules *ext; /* NULL: only the node addresses are refused */
};

/*
 * "MIN-MAX" (the API server's --service-node-port-range, e.g. 30000-32767):
 * 0 and the bounds, or -EINVAL (1 <= MIN <= MAX <= 65535, nothing else).
 */
int svc_nodeport_range_parse(const char *s, uint16_t *min, uint16_t *max);

/* The frontends Service s asks for on node (NULL: none of NodePort), SIZE_MAX when past size_t. */
size_t svc_frontends_of(const struct k8s_service *s, const struct svc_node *node);

/*
 * The incremental builder: the whole list of frontends, kept from one update to the
 * next and brought up to date by the objects that changed (the store's
 * journal), so one endpoint changing costs its Service, not the cluster.
 * Per Service it keeps its candidates (the frontends it asks for, its
 * problems); per frontend key the Services asking for it, in name order (the
 * first has it); per EndpointSlice the Service it names.
 * A changed Service or EndpointSlice rebuilds the Service(s) it names, and
 * the keys they asked for before or ask for now are settled again. Another
 * node (name, addresses, NodePort range) or options, the journal
 * overflowing, or an update that failed half way: everything is built again.
 */
struct svc_delta {
	/* put is every frontend (the whole list, sorted by Service (namespace,
	 * name), then port order): whatever the
	 * maps hold beyond it goes (svcsync_apply); else put and del are the
	 * change (svcsync_apply_delta). */
	bool full;
	size_t nput;
	struct svc_spec *put; /* frontends to be as given (new, changed or not) */
	size_t ndel;
	struct xcni_svc_key *del; /* frontends no Service has any more */
	/* The problems of the Services this update built or that ask for a
	 * frontend it touched; full: all of them, in the whole list's order. Each
	 * names the object and the field: a Service port no slice has a port for
	 * (the frontend is kept, without those slices' backends: its connections
	 * are refused, as upstream's are), a frontend another Service already has
	 * (the later one is left out), a nodePort outside the range (that frontend
	 * is left out). */
	size_t nerrs;
	char **errs;
	size_t nrebuilt; /* Services built this update */
};

struct svc_incr;

struct svc_incr *svc_incr_new(void);
void svc_incr_free(struct svc_incr *si);
/*
 * Brings the frontends up to the view c. ch/nch: the objects changed since
 * the previous call (store_journal_take); all: anything may have (first call,
 * journal overflow). whole: the delta is the whole list (full set). *d stays
 * valid until the next call. 0 or -ENOMEM; after an error (or
 * svc_incr_invalidate, when the maps did not take a delta) the next call
 * builds everything and answers full.
 */
int svc_incr_update(struct svc_incr *si, const struct cluster *c, const struct svc_node *node,
		    unsigned int flags, const struct store_change *ch, size_t nch, bool all,
		    bool whole, const struct svc_delta **d);
void svc_incr_invalidate(struct svc_incr *si);
/*
 * What the last update refused, in one walk (nothing after a failed one):
 * refused (NULL: none) called with the words of each externalIP refused
 * (svc_ext_refused, or a frontend another Service keeps), in the whole
 * list's order; bounded (NULL: none) with each Service refused whole for a size
 * bound (ports x addresses past SVC_FRONTENDS_BOUND: SVC_BOUND_FRONTENDS; a
 * port's endpoints past a frontend's: SVC_BOUND_BACKENDS): its namespace, the
 * bound's word ("frontends", "backends") and the words naming it. The count
 * of refused externalIPs.
 */
enum { SVC_BOUND_FRONTENDS = 1, SVC_BOUND_BACKENDS = 2 };
size_t svc_incr_refusals(const struct svc_incr *si, void (*refused)(void *ctx, const char *msg),
			 void (*bounded)(void *ctx, const char *ns, const char *reason,
					 const char *msg),
			 void *ctx);

#endif
