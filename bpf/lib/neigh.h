/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Neighbours on a pod's link: ARP for the pod's gateway (IPv4) and neighbour
 * discovery (IPv6: solicitations for the gateway answered, the rest of ND and
 * MLD judged by where it comes from and goes).
 */
#ifndef XCNI_NEIGH_H
#define XCNI_NEIGH_H

#include "compat.h"
#include "encap.h"
#include "frag.h"
#include "l2.h"
#include "parse.h"
#include "policy.h"

/* ---- neighbour discovery ---------------------------------------------- */

/*
 * The link-layer address options of a Neighbor Solicitation or
 * Advertisement (after its 24 bytes) all name mac, if any is there: 1, else 0.
 */
static __always_inline int nd_opts_name(struct __sk_buff *skb, __u32 off, const __u8 *mac)
{
	struct {
		__u8 type;
		__u8 len;
		__u8 mac[6];
	} o;

#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (bpf_skb_load_bytes(skb, off, &o, sizeof(o)))
			return 1; /* no more options */
		if (!o.len)
			return 0; /* malformed: RFC 4861 says discard */
		if ((o.type == ND_OPT_SOURCE_LINKADDR || o.type == ND_OPT_TARGET_LINKADDR) &&
		    !mac_eq(o.mac, mac))
			return 0;
		off += (__u32)o.len * 8;
	}
	return 1;
}

/* A Neighbor Advertisement for fe80::1: the frame that answers a solicitation. */
struct nd_na {
	struct xcni_ip6hdr ip;
	__u8 type;
	__u8 code;
	__sum16 csum;
	__be32 flags;
	__u8 target[16];
	__u8 opt_type;
	__u8 opt_len;
	__u8 opt_mac[6];
};
#define ND_NA_ROUTER 0x80000000u
#define ND_NA_SOLICITED 0x40000000u
#define ND_NA_OVERRIDE 0x20000000u

/*
 * Turns the pod's solicitation for its gateway into the advertisement that
 * answers it (the host-side veth's MAC, router and solicited flags) and sends
 * it back into the pod. 0 or the drop reason; *verdict the redirect.
 */
static __always_inline int nd_answer_gw(struct __sk_buff *skb, const struct pkt6 *p,
					const struct xcni_endpoint *ep, int *verdict)
{
	struct nd_na na = {};
	__u8 macs[2 * ETH_ALEN];
	__be32 tail[2] = { bpf_htonl(sizeof(na) - sizeof(na.ip)), bpf_htonl(XCNI_IPPROTO_ICMPV6) };
	__s64 sum;

	na.ip.vtc = 0x60;
	na.ip.payload_len = bpf_htons(sizeof(na) - sizeof(na.ip));
	na.ip.nexthdr = XCNI_IPPROTO_ICMPV6;
	na.ip.hop_limit = 255;
	in6_set_gw(na.ip.saddr);
	__builtin_memcpy(na.ip.daddr, p->tuple.saddr, 16);
	na.type = ND_NEIGHBOR_ADVERT;
	na.flags = bpf_htonl(ND_NA_ROUTER | ND_NA_SOLICITED | ND_NA_OVERRIDE);
	in6_set_gw(na.target);
	na.opt_type = ND_OPT_TARGET_LINKADDR;
	na.opt_len = 1;
	__builtin_memcpy(na.opt_mac, ep->host_mac, ETH_ALEN);
	/* Checksum over the pseudo-header (addresses, length, next header) and the message. */
	sum = bpf_csum_diff(NULL, 0, (__be32 *)na.ip.saddr, 32, 0);
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, tail, sizeof(tail), sum);
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&na.type, sizeof(na) - sizeof(na.ip), sum);
	if (sum < 0)
		return XCNI_DROP_REDIRECT;
	na.csum = csum_fold((__u32)sum);
	__builtin_memcpy(macs, ep->pod_mac, ETH_ALEN);
	__builtin_memcpy(macs + ETH_ALEN, ep->host_mac, ETH_ALEN);
	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(na), 0) ||
	    bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &na, sizeof(na), 0))
		return XCNI_DROP_REDIRECT;
	*verdict = bpf_redirect_peer(skb->ifindex, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_PASS_ARP : XCNI_DROP_REDIRECT;
}

/*
 * ICMPv6 neighbour discovery and MLD from a pod, all for the host (the only
 * other end of its link): the caller hands over only what goes to a
 * link-local or multicast address (in6_on_link) with the hop limit of ND or
 * MLD (nd_hop_ok). A solicitation for fe80::1 is answered here; others
 * pass to the stack when they speak only for the pod: a solicitation's or
 * advertisement's link-layer options name the pod's MAC, an advertisement's
 * target is an address of the pod (its IPv6 or a link-local one). A pod is no
 * router: router advertisements and redirects are spoofs.
 */
static __always_inline int nd_from_pod(struct __sk_buff *skb, const struct pkt6 *p,
				       const struct xcni_endpoint *ep, const __u8 *ep_ip6,
				       int *verdict)
{
	__u8 target[16];
	__u8 t = p->icmp_type;

	if (t == ND_ROUTER_ADVERT || t == ND_REDIRECT)
		return XCNI_DROP_SPOOF_IP;
	if (t != ND_NEIGHBOR_SOLICIT && t != ND_NEIGHBOR_ADVERT)
		return XCNI_PASS_ARP; /* router solicitation, MLD */
	if (bpf_skb_load_bytes(skb, p->l4_off + 8, target, sizeof(target)))
		return XCNI_DROP_SHORT;
	if (!nd_opts_name(skb, p->l4_off + 24, ep->pod_mac))
		return XCNI_DROP_SPOOF_MAC;
	if (t == ND_NEIGHBOR_ADVERT)
		return in6_eq(target, ep_ip6) || in6_linklocal(target) ? XCNI_PASS_ARP :
									 XCNI_DROP_SPOOF_IP;
	/* Duplicate address detection (from ::) is the stack's; the hop limit
	 * (255) the caller checked. */
	if (in6_is_gw(target) && !in6_unspec(p->tuple.saddr))
		return nd_answer_gw(skb, p, ep, verdict);
	return XCNI_PASS_ARP;
}

/* Of an ND or MLD type (RFC 4861, RFC 2710, RFC 3810): 1, else 0. */
static __always_inline int icmp6_is_nd(const struct pkt6 *p)
{
	return p->tuple.proto == XCNI_IPPROTO_ICMPV6 && !p->frag_later &&
	       ((p->icmp_type >= ICMP6_MLD_QUERY && p->icmp_type <= ND_REDIRECT) ||
		p->icmp_type == ICMP6_MLD2_REPORT);
}

/*
 * fe80::/10 or ff00::/8: a destination the node never routes off the link
 * (link-local, or multicast, which it does not forward: no multicast
 * routing). ND and MLD go only there; MLDv1 reports go to the group itself,
 * of any scope.
 */
static __always_inline int in6_on_link(const __u8 *a)
{
	return a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

/*
 * The hop limit a neighbour sends an ND/MLD-typed packet with: ND 255
 * (RFC 4861 6.1, 7.1: one a router forwarded cannot have it), MLD 1 (RFC
 * 2710 3, RFC 3810 5: Linux's MLD socket sends with 1). 0, else
 * XCNI_DROP_BAD_ND.
 */
static __always_inline int nd_hop_ok(const struct pkt6 *p)
{
	__u8 want = p->icmp_type >= ND_ROUTER_SOLICIT && p->icmp_type <= ND_REDIRECT ? 255 : 1;

	return p->hop_limit == want ? 0 : XCNI_DROP_BAD_ND;
}

static __always_inline int handle_arp(struct cursor *c, __u32 ep_ip, const __u8 *ep_mac)
{
	struct xcni_arphdr *ah = cursor_take(c, sizeof(struct xcni_arphdr));
	struct arp_eth_ipv4 *body;

	if (!ah)
		return XCNI_DROP_SHORT;
	if (ah->ar_pro != bpf_htons(ETH_P_IP) || ah->ar_hln != ETH_ALEN || ah->ar_pln != 4)
		return XCNI_DROP_NON_IP;
	body = cursor_take(c, sizeof(*body));
	if (!body)
		return XCNI_DROP_SHORT;
	/* A pod may only speak for its own address (no ARP cache poisoning). */
	if (*(__u32 *)body->sip != ep_ip)
		return XCNI_DROP_SPOOF_IP;
	/* Nor point its address at another's MAC. */
	if (!mac_eq(body->sha, ep_mac))
		return XCNI_DROP_SPOOF_MAC;
	return XCNI_PASS_ARP;
}

#endif
