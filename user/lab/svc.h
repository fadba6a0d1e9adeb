/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 7 of the lab: Services. ClusterIPs, the Service objects (kept under
 * <labdir>/services: xcnid never reads them), their endpoints.
 */
#ifndef XCNI_LAB_SVC_H
#define XCNI_LAB_SVC_H

#include <stdio.h>

#include <jansson.h>

#include "lab/cluster.h"
#include "lab/serve.h"
#include "lab/state.h"
#include "lab/sys.h"
#include "lib/k8s.h"

/* The pods' addresses (node i: 10.244.i.0/24), kube-proxy's --cluster-cidr. */
#define LAB_CLUSTER_CIDR "10.244.0.0/16"
/* Services: ClusterIPs come from here (xcnid's default --service-cidr, kubeadm's and kind's). */
#define LAB_SVC_NET "10.96.0.0"
#define LAB_SVC_PLEN 12
#define LAB_DNS_IP_INDEX 10 /* 10.96.0.10: kept for the DNS Service, as kubeadm does */
#define LAB_DNS_IP "10.96.0.10"

void lab_svc_file(const struct lab *lab, const char *ns, const char *name, char *out, size_t len);
int lab_svc_validate(struct lab *lab, const struct k8s_object *o, const char *src);
int lab_svc_apply(struct lab *lab, const struct k8s_object *o, bool *changed, FILE *say);
/* The Service `lab matrix --via-service` probes pod p through (made or completed here). */
int lab_svc_for_pod(struct lab *lab, const struct lab_pod *p, const struct lab_port *port,
		    uint32_t *ip, bool *changed);
/* 1 deleted, 0 none, -errno. */
int lab_svc_delete(struct lab *lab, const char *ns, const char *name);
int lab_svc_delete_ns(struct lab *lab, const char *ns, bool *changed);
/* The Service's ClusterIP: 0, -ENOENT (no such Service), -ENXIO (headless: none), -errno. */
int lab_svc_lookup(struct lab *lab, const char *ns, const char *name, uint32_t *ip);
/*
 * [{namespace, name, type, externalTrafficPolicy, clusterIP ("None": headless),
 *   ports: [{name, port, protocol, targetPort, nodePort (NodePort only)}],
 *   endpoints: ["IP:PORT/PROTO"], addresses: [the selected pods' IPs]}]
 */
json_t *lab_svc_json(struct lab *lab);

/* Every Service of the lab, sorted by namespace and name. */
struct lab_svc_list {
	size_t n;
	struct k8s_object **v;
};
int lab_svc_list_load(const struct lab *lab, struct lab_svc_list *l);
void lab_svc_list_free(struct lab_svc_list *l);

/* A running pod that may be an endpoint, with its object. */
struct lab_ep_pod {
	const struct lab_pod *pod;
	struct k8s_object *obj; /* its object: labels, containerPorts */
};
/* The running pods with their objects, sorted by IP (kube-proxy sorts endpoints too). */
int lab_ep_pods_load(struct lab *lab, struct lab_ep_pod **out, size_t *n);
void lab_ep_pods_free(struct lab_ep_pod *v, size_t n);
/* Does svc's selector take pod ep (same namespace, labels matching)? */
bool lab_svc_selects(const struct k8s_object *svc, const struct lab_ep_pod *ep);
/*
 * The port Service port sp of svc reaches on pod ep: 0 if the pod is no endpoint
 * of it (another namespace, the selector does not match, no such named port).
 */
uint16_t lab_endpoint_port(const struct k8s_object *svc, const struct k8s_svc_port *sp,
			   const struct lab_ep_pod *ep);

#endif
