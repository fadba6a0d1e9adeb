/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 7 of the lab: Services. ClusterIPs, the Service objects (kept under
 * <labdir>/services: xcnid never reads them), their endpoints.
 */
#ifndef XCNI_LAB_SVC_H
#define XCNI_LAB_SVC_H

#include <netinet/in.h>
#include <stdio.h>

#include <jansson.h>

#include "lab/cluster.h"
#include "lab/serve.h"
#include "lab/state.h"
#include "lab/sys.h"
#include "lib/cluster/k8s.h"

/* The pods' addresses (node i: 10.244.i.0/24), kube-proxy's --cluster-cidr. */
#define LAB_CLUSTER_CIDR "10.244.0.0/16"
/* Services: ClusterIPs come from LAB_SVC_NET/LAB_SVC_PLEN (lab/state.h). */
#define LAB_DNS_IP_INDEX 10 /* 10.96.0.10: kept for the DNS Service, as kubeadm does */
#define LAB_DNS_IP "10.96.0.10"
/* IPv6 and dual stack labs: the pods' IPv6 (node i: fd00:10:244:<i>::/64) and Services'. */
#define LAB_CLUSTER_CIDR6 "fd00:10:244::/48"
#define LAB_DNS_IP6 "fd00:10:96::a" /* index LAB_DNS_IP_INDEX too */

/*
 * A Service's ClusterIPs, one per family, as the lab reads them itself from
 * spec.clusterIPs (and clusterIP): lib/k8s parses IPv4 ones only.
 */
struct lab_svc_ips {
	bool headless; /* None */
	bool has4, has6;
	uint32_t ip4; /* network order */
	struct in6_addr ip6;
	unsigned int order; /* LAB_FAM_V4 or LAB_FAM_V6: the family of clusterIP (the first) */
};
/* Those of the Service's (stored) object: 0, or -EINVAL for an address that is none. */
int lab_svc_ips_get(const json_t *raw, struct lab_svc_ips *out);
/* "10.96.0.1" or "fd00:10:96::1" of family fam (LAB_FAM_V4/V6); "" if it has none. */
const char *lab_svc_ip_str(const struct lab_svc_ips *ips, unsigned int fam, char *buf, size_t len);
int lab_svc_validate(struct lab *lab, const struct k8s_object *o, const char *src);
int lab_svc_apply(struct lab *lab, const struct k8s_object *o, bool *changed, FILE *say);
/*
 * The Service `lab matrix --via-service` probes pod p through (made or completed
 * here, of every family the lab has): its ClusterIPs in *ips.
 */
int lab_svc_for_pod(struct lab *lab, const struct lab_pod *p, const struct lab_port *port,
		    struct lab_svc_ips *ips, bool *changed);
/* 1 deleted, 0 none, -errno. */
int lab_svc_delete(struct lab *lab, const char *ns, const char *name);
/* The Service's ClusterIPs: 0, -ENOENT (no such Service), -ENXIO (headless: none), -errno. */
int lab_svc_lookup(struct lab *lab, const char *ns, const char *name, struct lab_svc_ips *ips);

/*
 * Every Service of the lab, sorted by namespace and name: the objects are
 * svc.c's (read once per command, kept up to date by apply and delete), valid
 * until the next apply or delete; lab_svc_list_free frees only the list.
 */
struct lab_svc_list {
	size_t n;
	struct k8s_object **v;
};
int lab_svc_list_load(struct lab *lab, struct lab_svc_list *l);
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
