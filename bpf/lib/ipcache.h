/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where an address is, both families: the endpoints of this node (by address,
 * by pod device), the ipcache (which identity, and which node, an address
 * belongs to), the node to tunnel to (tunnel_of, no_tunnel_reason), and the
 * rules for sources from outside (martian, outside_client_ok, forged pod
 * sources).
 */
#ifndef XCNI_IPCACHE_H
#define XCNI_IPCACHE_H

#include <bpf/bpf_endian.h>

#include "config.h"
#include "maps.h"
#include "parse.h"

/*
 * Written once for both families: fam is XCNI_AF_INET or XCNI_AF_INET6, a
 * constant at every call, so each inlined copy keeps its family's branch
 * alone; an address is a pointer to its bytes (an IPv4 __u32 or 16 bytes of
 * IPv6, network order).
 */

/* The ipcache entry of one address (the longest prefix holding it), or NULL. */
static __always_inline struct xcni_ipcache_val *ipcache_find(int fam, const void *addr)
{
	if (fam == XCNI_AF_INET) {
		struct xcni_ipcache_key k = { .prefixlen = 32, .addr = *(const __u32 *)addr };

		return bpf_map_lookup_elem(&xcni_ipcache, &k);
	} else {
		struct xcni_ipcache6_key k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, addr, 16);
		return bpf_map_lookup_elem(&xcni_ipcache6, &k);
	}
}

/* ---- identities and policy keys ---------------------------------------- */

/* An ipcache entry's identity; no entry, the world. */
static __always_inline __u32 ipc_identity(const struct xcni_ipcache_val *v)
{
	return v ? v->identity : XCNI_ID_WORLD;
}

/* The identity of an address: its ipcache entry's, else the world. */
static __always_inline __u32 identity_of(int fam, const void *addr)
{
	/* Only the node sends from a link-local address into a pod's link. */
	if (fam == XCNI_AF_INET6 && in6_linklocal(addr))
		return XCNI_ID_HOST;
	return ipc_identity(ipcache_find(fam, addr));
}

/* A label-set identity, or an address the ipcache names as a pod without labels. */
static __always_inline int identity_is_pod(__u32 id)
{
	return id == XCNI_ID_UNMANAGED || (id >= XCNI_ID_MIN_LABELS && id < XCNI_ID_CIDR_BASE);
}

/*
 * A source no host on the underlay may claim (RFC 1122 3.2.1.3, RFC 6890).
 * IPv4: "this network" 0/8, loopback 127/8, link-local 169.254/16,
 * multicast 224/4, reserved 240/4 and the broadcast address. IPv6: the
 * unspecified address, loopback, multicast ff00::/8, IPv4-mapped
 * ::ffff:0:0/96, link-local fe80::/10 (a host's own link, never a pod's or
 * a frontend's client).
 */
static __always_inline int martian(int fam, const void *addr)
{
	if (fam == XCNI_AF_INET) {
		__u32 h = bpf_ntohl(*(const __u32 *)addr);

		return (h >> 24) == 0 || (h >> 24) == 127 || (h >> 16) == 0xa9fe ||
		       (h >> 24) >= 224;
	} else {
		const __u8 *a = addr;
		const __u32 *w = addr;

		if (a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
			return 1;
		return !w[0] && !w[1] &&
		       ((!w[2] && (!w[3] || w[3] == bpf_htonl(1))) || w[2] == bpf_htonl(0xffff));
	}
}

/*
 * The node's Service (ClusterIP) ranges, rodata svc_cidr and svc_cidr6
 * (xcnid --service-cidr): from_pod hands a new flow to one to kube-proxy;
 * from outside the cluster no packet comes from one (src_frontend4/6,
 * lib/lb.h; xdp_underlay). Never, when the node has none (a 0 mask).
 */
static __always_inline int in_svc_cidr(int fam, const void *addr)
{
	if (fam == XCNI_AF_INET) {
		__u32 a = *(const __u32 *)addr;

		return svc_cidr_mask && (a & svc_cidr_mask) == svc_cidr;
	} else {
		const __u32 *x = addr;

		if (!(svc_mask6[0] | svc_mask6[1] | svc_mask6[2] | svc_mask6[3]))
			return 0;
		return (x[0] & svc_mask6[0]) == svc_cidr6[0] &&
		       (x[1] & svc_mask6[1]) == svc_cidr6[1] &&
		       (x[2] & svc_mask6[2]) == svc_cidr6[2] && (x[3] & svc_mask6[3]) == svc_cidr6[3];
	}
}

/* The family's endpoint map (xcni_endpoints, xcni_endpoints6). */
static __always_inline void *endpoints_map(int fam)
{
	return fam == XCNI_AF_INET ? (void *)&xcni_endpoints : (void *)&xcni_endpoints6;
}

/* outside_source_ok's ipcache part: sipc (a source's entry, NULL: none)
 * names this node, another node or a pod: 1. */
static __always_inline int outside_ipc_refused(const struct xcni_ipcache_val *sipc)
{
	return sipc && (sipc->tunnel_ip || (sipc->flags & (XCNI_IPC_POD | XCNI_IPC_TUN6)) ||
			sipc->identity == XCNI_ID_HOST || sipc->identity == XCNI_ID_REMOTE_NODE ||
			identity_is_pod(sipc->identity));
}

/*
 * outside_source_ok (below) where the source's ipcache entry was judged
 * earlier (ipc_refused: outside_ipc_refused's answer; from_plain's, for
 * from_outside: the source looked up once a packet).
 */
static __always_inline int outside_source_ok_ipc(int fam, int ipc_refused, const void *saddr)
{
	if (martian(fam, saddr) || ipc_refused)
		return 0;
	return !bpf_map_lookup_elem(endpoints_map(fam), saddr);
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
static __always_inline int outside_source_ok(int fam, const struct xcni_ipcache_val *sipc,
					     const void *saddr)
{
	/* Not outside_source_ok_ipc(fam, outside_ipc_refused(sipc), saddr):
	 * so written, the tests' order changed and ovl_decap6's code
	 * with it (docs/decisions/service-lookups-once.md). */
	if (martian(fam, saddr))
		return 0;
	if (outside_ipc_refused(sipc))
		return 0;
	return !bpf_map_lookup_elem(endpoints_map(fam), saddr);
}

/*
 * A packet from the node's stack (to_pod, to_overlay) with a pod's source
 * (an endpoint here, or the ipcache's pod anywhere) but without
 * XCNI_MARK_TRUSTED: neither from_pod nor a decapsulating from_overlay
 * handed it over, so it came in some other way (plain on the underlay, a
 * second NIC) and only claims to be the pod: 1. Judged as that pod it would
 * pass its policy and seed conntrack for its replies.
 */
static __always_inline int pod_source_forged(const struct __sk_buff *skb, int fam,
					     const void *saddr)
{
	const struct xcni_ipcache_val *ipc;

	if (skb->mark & XCNI_MARK_TRUSTED)
		return 0;
	if (bpf_map_lookup_elem(endpoints_map(fam), saddr))
		return 1;
	ipc = ipcache_find(fam, saddr);
	return ipc && ((ipc->flags & XCNI_IPC_POD) || identity_is_pod(ipc->identity));
}

/*
 * The endpoint behind the device the packet is on, in one lookup: the
 * device's entry (xcni_ifindex, xcni_ifindex6) holds the pod's address and a
 * copy of its endpoint; *addr: that address, in the map value, not copied.
 */
static __always_inline struct xcni_endpoint *endpoint_of_dev(int fam, __u32 ifindex,
							     const void **addr)
{
	char *d = bpf_map_lookup_elem(fam == XCNI_AF_INET ? (void *)&xcni_ifindex
							  : (void *)&xcni_ifindex6,
				      &ifindex);

	if (!d)
		return NULL;
	*addr = d;
	return (void *)(d + (fam == XCNI_AF_INET ? __builtin_offsetof(struct xcni_pod_dev, ep)
						 : __builtin_offsetof(struct xcni_pod_dev6, ep)));
}

/*
 * The single-family names lb.h, nodeport.h, nodeport_icmp.h, dsr.h and
 * nodeport_xdp.h still call (an IPv4 address by value): each is the body
 * above with its family, nothing of its own.
 */
#define ipcache4_lookup(a)                                                                    \
	({                                                                                    \
		__u32 ipc_a4_ = (a);                                                          \
		ipcache_find(XCNI_AF_INET, &ipc_a4_);                                         \
	})
#define ipcache6_lookup(a) ipcache_find(XCNI_AF_INET6, (a))
#define ipcache6_identity(a) identity_of(XCNI_AF_INET6, (a))

/* tunnel_of's answer for a node behind the IPv6 underlay: its address is the
 * ipcache entry's tunnel_ip6 (255.255.255.255 is no node's IPv4). */
#define XCNI_TUN6 0xffffffffu

static __always_inline int ul6_on(void)
{
	return !!(node_ip6[0] | node_ip6[1] | node_ip6[2] | node_ip6[3]);
}

/*
 * The tunnel endpoint of an ipcache entry as this node can reach it: the
 * node's underlay IPv4, XCNI_TUN6 for one behind the IPv6 underlay, 0 for
 * none (a local or non-pod address, or a node of the underlay family this
 * node has no address in).
 */
static __always_inline __u32 tunnel_of(const struct xcni_ipcache_val *v, __u32 ul_ip)
{
	if (v->flags & XCNI_IPC_TUN6)
		return ul6_on() ? XCNI_TUN6 : 0;
	return ul_ip ? v->tunnel_ip : 0;
}

/*
 * Why tunnel_of said 0 for a pod's entry v (NULL: none): its node is known
 * but only in an underlay family this node has no address in (an IPv4-only
 * node and an IPv6-only one: XCNI_DROP_TUNNEL_FAMILY, so the operator sees
 * why), else no node hosts it (any more).
 */
static __always_inline int no_tunnel_reason(const struct xcni_ipcache_val *v)
{
	return v && ((v->flags & XCNI_IPC_TUN6) || v->tunnel_ip) ? XCNI_DROP_TUNNEL_FAMILY :
								     XCNI_DROP_NO_TUNNEL;
}

#endif
