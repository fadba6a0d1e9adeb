/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Local delivery: the L2/L3 rewrite into a pod, TTL. */
#ifndef XCNI_L2_H
#define XCNI_L2_H

#include <stddef.h>

#include "compat.h"
#include "ipcache.h"
#include "maps.h"
#include "parse.h"

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	return ((const __u16 *)a)[0] == ((const __u16 *)b)[0] &&
	       ((const __u16 *)a)[1] == ((const __u16 *)b)[1] &&
	       ((const __u16 *)a)[2] == ((const __u16 *)b)[2];
}

/*
 * TTL down by one, header checksum fixed: what a router does, in place (the
 * kernel's ip_decrease_ttl: the TTL is the high byte of its checksum word).
 * ip is the packet's header, checked.
 */
static __always_inline void ttl_decrement4(struct iphdr *ip)
{
	__u32 check = ip->check + bpf_htons(0x0100);

	ip->check = (__u16)(check + (check >= 0xffff));
	ip->ttl--;
}

/* Destination MAC the pod's, source MAC the gateway's (adjacent: one store). */
static __always_inline int mac_rewrite(struct __sk_buff *skb, const struct xcni_endpoint *dst)
{
	__u8 macs[2 * ETH_ALEN];

	__builtin_memcpy(macs, dst->pod_mac, ETH_ALEN);
	__builtin_memcpy(macs + ETH_ALEN, dst->host_mac, ETH_ALEN);
	return bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), macs, sizeof(macs), 0) ?
		       -1 : 0;
}

/*
 * Routes the packet as the host would, without the host: TTL down by one,
 * MACs of the pod's link. Pointers into the packet are stale afterwards.
 */
static __always_inline int l3_forward_rewrite4(struct __sk_buff *skb, struct pkt *p,
					      const struct xcni_endpoint *dst)
{
	ttl_decrement4(p->ip);
	return mac_rewrite(skb, dst);
}

/*
 * Into the pod behind dst, past the host stack. The reason: a reply (ct
 * answers a flow) or a new local delivery, or the redirect failed.
 */
static __always_inline int redirect_local(const struct xcni_endpoint *dst, int answers,
					  int *verdict)
{
	*verdict = bpf_redirect_peer(dst->ifindex, 0);
	if (*verdict != TC_ACT_REDIRECT)
		return XCNI_DROP_REDIRECT;
	return answers ? XCNI_FWD_REPLY : XCNI_FWD_LOCAL;
}

#endif
