/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcni_extfe: the Service frontends when kube-proxy translates the Services
 * (xcnid without --kube-proxy-replacement: no Service maps). Every
 * ClusterIP and load-balancer ingress IP (both families: what the cluster
 * allocated) and the externalIPs an allow-list vouches for, at each port
 * of its Service; the data plane only refuses them as sources
 * from the underlay (from_plain, drop-src-frontend), so nothing else in
 * BPF changes and socket LB, attached or not, translates nothing new.
 */
#ifndef XCNI_EXTFE_H
#define XCNI_EXTFE_H

#include <stddef.h>

#include "xcni_shared.h"
#include "lib/cluster/store.h"
#include "lib/services/svc.h"

/*
 * The keys for the Services in c (struct xcni_svc_key, scope
 * XCNI_SCOPE_EXT, pad 0), sorted and unique, in *out (free it; NULL
 * when there are none). Headless, unallocated and ExternalName Services
 * have no ClusterIP; a port of another protocol than TCP, UDP or SCTP is
 * skipped. An externalIP only with an allow-list in ext that holds it and
 * that svc_ext_refused does not refuse (ext, node): any tenant writes
 * externalIPs, and one naming an outside address (the upstream resolver at
 * 53) would have every node drop that address's packets. 0 or -ENOMEM.
 */
int extfe_build(const struct cluster *c, const struct svc_ext_rules *ext,
		const struct svc_node *node, struct xcni_svc_key **out, size_t *n);

struct extfe_stats {
	size_t written; /* keys added */
	size_t deleted; /* keys no Service names any more */
	size_t full; /* keys the map had no room for (not refused: said, counted) */
};

/*
 * Makes the map fd hold exactly want[0..n) (sorted, as extfe_build gives):
 * deletes what is not wanted first, then adds what is missing. A map that
 * is full takes what fits (st->full counts the rest; the next sync tries
 * again). 0, or -errno of a failure other than a full map.
 */
int extfe_sync(int fd, const struct xcni_svc_key *want, size_t n, struct extfe_stats *st);

#endif
