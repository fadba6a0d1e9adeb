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

/* One entry of xcni_extfe and its owner for room, the Service's namespace. */
struct extfe_rec {
	struct xcni_svc_key k;
	__u32 one;
	const char *ns; /* the cluster's string */
};

/*
 * The entries for the Services in c (keys scope XCNI_SCOPE_EXT, pad 0),
 * sorted by key and unique, in *out (free it; NULL
 * when there are none). Headless, unallocated and ExternalName Services
 * have no ClusterIP; a port of another protocol than TCP, UDP or SCTP is
 * skipped. An externalIP only with an allow-list in ext that holds it and
 * that svc_ext_refused does not refuse (ext, node): any tenant writes
 * externalIPs, and one naming an outside address (the upstream resolver at
 * 53) would have every node drop that address's packets. A load-balancer
 * IP only where svc_lb_refused does not refuse it (a node's address there
 * would drop that node's packets on every other). 0 or -ENOMEM.
 */
int extfe_build(const struct cluster *c, const struct svc_ext_rules *ext,
		const struct svc_node *node, struct extfe_rec **out, size_t *n);

struct extfe_stats {
	size_t written; /* keys added */
	size_t deleted; /* keys no Service names any more */
	size_t full; /* keys of the namespaces closed for room (not refused: said, counted) */
};

/*
 * Makes the map fd (max entries) hold want[0..n) through the room writer
 * (lib/system/mapw.h): what is not wanted deleted first, then, when want
 * does not fit, the namespace bringing the most entries closed (its
 * frontends are not refused as sources from outside: its own loss), the
 * rest written. 0 or -errno.
 */
int extfe_sync(int fd, size_t max, const struct extfe_rec *want, size_t n,
	       struct extfe_stats *st);

#endif
