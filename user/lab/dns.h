/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 9 of the lab: the cluster's DNS. dnsmasq in the pod annotated
 * LAB_DNS_ANNOTATION, answering <svc>.<ns>.svc.cluster.local from the Services.
 */
#ifndef XCNI_LAB_DNS_H
#define XCNI_LAB_DNS_H

#include "lab/svc.h"
#include "lab/state.h"
#include "lab/sys.h"

#define LAB_DNS_DOMAIN "cluster.local"
/* The outside names it answers (dns.c): api, other, www (CNAME), short (TTL 5). */
#define LAB_DNS_OUTSIDE "example.test"

/* The DNS pod's server: dnsmasq answering <svc>.<ns>.svc.cluster.local from the Services. */
int lab_dns_start(struct lab *lab, struct lab_pod *pod);
/* The resolv.conf a pod of namespace ns gets (written if missing): 0 and its path, -errno. */
int lab_dns_resolv_conf(const struct lab *lab, const char *ns, char *out, size_t len);
/* After Services changed: the DNS server's records follow. */
int lab_dns_sync(struct lab *lab);
/* Whether the lab runs a DNS pod. */
bool lab_has_dns(const struct lab *lab);

#endif
