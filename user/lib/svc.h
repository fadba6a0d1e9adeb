/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Services and EndpointSlices (the store's) turned into the Service map
 * writer's input (svcsync.h): one frontend per ClusterIP:port/protocol of
 * every Service that has one (headless Services and Services whose ClusterIP
 * is not allocated have none, nor ExternalName ones; NodePort and LoadBalancer
 * Services get their ClusterIP frontends only, for now), its backends from the EndpointSlices labelled
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
 *  - sessionAffinity ClientIP: XCNI_SVC_F_AFFINITY with timeoutSeconds.
 * Pure: no I/O, no state; the same cluster gives the same list.
 */
#ifndef XCNI_SVC_H
#define XCNI_SVC_H

#include "store.h"
#include "svcsync.h"

#define SVC_BUILD_MAGLEV 1u /* every frontend picks by Maglev table */

struct svc_list {
	size_t n;
	struct svc_spec *specs; /* sorted by Service (namespace, name), then port order */
	/*
	 * Problems in the input, each naming the object and the field: a Service
	 * port no slice has a port for (the frontend is kept, without those
	 * slices' backends: its connections are refused, as upstream's are), a
	 * frontend another Service already has (the later one is left out).
	 */
	size_t nerrs;
	char **errs;
};

/* 0, or -ENOMEM (out left empty). */
int svc_build(const struct cluster *c, unsigned int flags, struct svc_list *out);
void svc_list_free(struct svc_list *l);

#endif
