/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The ipcache: which identity (and node) an address belongs to. */
#ifndef XCNI_IPCACHE_H
#define XCNI_IPCACHE_H

#include <bpf/bpf_endian.h>

#include "maps.h"

static __always_inline struct xcni_ipcache_val *ipcache_lookup(__u32 addr)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = addr };

	return bpf_map_lookup_elem(&xcni_ipcache, &k);
}

static __always_inline __u32 ipcache_identity(__u32 addr)
{
	struct xcni_ipcache_val *v = ipcache_lookup(addr);

	return v ? v->identity : XCNI_ID_WORLD;
}

/* A label-set identity, or an address the ipcache names as a pod without labels. */
static __always_inline int identity_is_pod(__u32 id)
{
	return id == XCNI_ID_UNMANAGED || (id >= XCNI_ID_MIN_LABELS && id < XCNI_ID_CIDR_BASE);
}

/*
 * A source no host on the underlay may claim (RFC 1122 3.2.1.3, RFC 6890):
 * "this network" 0/8, loopback 127/8, link-local 169.254/16, multicast
 * 224/4, reserved 240/4 and the broadcast address (addr in network order).
 */
static __always_inline int martian4(__u32 addr)
{
	__u32 h = bpf_ntohl(addr);

	return (h >> 24) == 0 || (h >> 24) == 127 || (h >> 16) == 0xa9fe || (h >> 24) >= 224;
}

/*
 * A source a packet from outside the cluster may carry (sipc: its ipcache
 * entry): an address outside it. Never this node (its own address, the pod
 * gateway: host), another node, a pod (of any node, or an endpoint here the
 * ipcache does not name yet) or a martian: those arrive inside Geneve from
 * their node, or not at all (DESIGN.md, trust boundaries). from_overlay's
 * one test for a plain packet to a pod or a frontend, and for the client a
 * node names with DSR.
 */
static __always_inline int outside_client_ok(const struct xcni_ipcache_val *sipc,
					     const __u32 *saddr)
{
	if (martian4(*saddr))
		return 0;
	if (sipc && (sipc->tunnel_ip || (sipc->flags & (XCNI_IPC_POD | XCNI_IPC_TUN6)) ||
		     sipc->identity == XCNI_ID_HOST || sipc->identity == XCNI_ID_REMOTE_NODE ||
		     identity_is_pod(sipc->identity)))
		return 0;
	return !bpf_map_lookup_elem(&xcni_endpoints, saddr);
}

/*
 * A packet from the node's stack (to_pod, to_overlay) with a pod's source
 * (an endpoint here, or the ipcache's pod anywhere) but without
 * XCNI_MARK_TRUSTED: neither from_pod nor a decapsulating from_overlay
 * handed it over, so it came in some other way (plain on the underlay, a
 * second NIC) and only claims to be the pod: 1. Judged as that pod it would
 * pass its policy and seed conntrack for its replies.
 */
static __always_inline int pod_source_forged(const struct __sk_buff *skb, const __u32 *saddr)
{
	const struct xcni_ipcache_val *ipc;

	if (skb->mark & XCNI_MARK_TRUSTED)
		return 0;
	if (bpf_map_lookup_elem(&xcni_endpoints, saddr))
		return 1;
	ipc = ipcache_lookup(*saddr);
	return ipc && ((ipc->flags & XCNI_IPC_POD) || identity_is_pod(ipc->identity));
}

#endif
