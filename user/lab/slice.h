/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 8 of the lab: under kube-proxy none, the API server's Services and the
 * EndpointSlice controller's slices in the cluster state xcnid reads.
 */
#ifndef XCNI_LAB_SLICE_H
#define XCNI_LAB_SLICE_H

#include <stdbool.h>

#include "lab/cluster.h"
#include "lab/state.h"
#include "lab/svc.h"

/*
 * Every Service of the lab into manifests/service.NS.NAME.json, with the
 * EndpointSlices the controller would write for it from the running pods it
 * selects (manifests/endpointslice.NS.NAME-HASH.json); the objects of
 * Services and slices that are gone removed. *changed set if a file changed.
 */
int lab_slices_sync(struct lab *lab, bool *changed);

/*
 * EndpointSlices written by hand (lab apply; a Service without a selector has
 * no others), kept as <labdir>/slices/<ns>.<name>.json as the API server keeps
 * them: whether their Service exists or not. kube-proxy (kproxy.c) and, under
 * kube-proxy none, the agents (lab_slices_sync puts them in the cluster state)
 * take the endpoints of those labelled kubernetes.io/service-name.
 */
struct lab_slice_list {
	size_t n;
	struct k8s_object **v; /* owned */
};
int lab_slice_list_load(struct lab *lab, struct lab_slice_list *l);
void lab_slice_list_free(struct lab_slice_list *l);
/* What the lab refuses about a slice (its name taken by the controller's). */
int lab_slice_validate(struct lab *lab, const struct k8s_object *o, const char *src,
		       const char *verb);
int lab_slice_apply(struct lab *lab, const struct k8s_object *o, bool *changed);
/* 1 deleted, 0 none, -errno. */
int lab_slice_delete(struct lab *lab, const char *ns, const char *name);

/* One endpoint of a Service port, as kube-proxy reads it. */
struct lab_ep {
	char addr[46]; /* INET6_ADDRSTRLEN */
	uint16_t port;
	const char *node; /* nodeName ("" unknown): borrowed from the pod or slice */
	bool ready, serving, terminating;
};
/*
 * The endpoints of port sp of svc, of family fam (LAB_FAM_V4/V6): its selected
 * pods' (slice.c's controller) and those of the hand-written slices sl of its
 * name and addressType, where a slice port of sp's name and protocol gives the
 * number (a slice port no Service port names serves nothing, as kube-proxy
 * reads it). Once per address and port: ready if any slice says so.
 */
int lab_port_endpoints(const struct k8s_object *svc, const struct k8s_svc_port *sp,
		       unsigned int fam, const struct lab_ep_pod *pods, size_t npods,
		       const struct lab_slice_list *sl, struct lab_ep **out, size_t *n);

/*
 * lab get, every Service (its endpoints from its pods and from hand-written slices):
 * [{namespace, name, type, externalTrafficPolicy, clusterIP ("None": headless),
 *   clusterIPs, ipFamilies,
 *   ports: [{name, port, protocol, targetPort, nodePort (NodePort only)}],
 *   endpoints: ["IP:PORT/PROTO", "[IPv6]:PORT/PROTO"], addresses: [the selected pods' IPs]}]
 */
json_t *lab_svc_json(struct lab *lab);

#endif
