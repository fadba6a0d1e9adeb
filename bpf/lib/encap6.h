/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 pods across nodes: Geneve (RFC 8926) with an IPv6 inner packet over
 * the IPv4 underlay. The outer headers are encap.h's; what differs is how
 * the inner packet is read (IPv6 header, the flow hash over the IPv6
 * 5-tuple) and the Ethernet type on either side of the tunnel.
 *
 * Kept out of ipv6.h (the one-node IPv6 data plane) so that the IPv4-only
 * programs' objects and the IPv6 one stay apart; from_pod, from_overlay and
 * to_overlay include it.
 */
#ifndef XCNI_ENCAP6_H
#define XCNI_ENCAP6_H

#include "encap.h"
#include "ipv6.h"

#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV6
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)
#endif

/* An IPv6 address as one word: its four words xored (memory order). */
static __always_inline __u32 in6_fold(const __u8 *a)
{
	const __u32 *x = (const __u32 *)a;

	return x[0] ^ x[1] ^ x[2] ^ x[3];
}

/*
 * The outer UDP source port of an IPv6 flow: flow_sport over the tuple with
 * each address folded to a word. The same on every node and every boot;
 * shared with userspace (tests) as written here.
 */
static __always_inline __u16 flow_sport6(const struct xcni_ct6_key *t)
{
	return flow_sport_of(in6_fold(t->saddr), in6_fold(t->daddr), t->sport, t->dport,
			     t->proto);
}

/* The ipcache6 entry of one address (the longest prefix holding it), or NULL. */
static __always_inline struct xcni_ipcache_val *ipcache6_lookup(const __u8 *addr)
{
	struct xcni_ipcache6_key k = { .prefixlen = 128 };

	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&xcni_ipcache6, &k);
}

/*
 * A pod's IPv6 packet to a remote address the ipcache6 knows (dipc): the
 * node that hosts it, into *tunnel (0: not a pod, the stack's). Another
 * node's own IPv6 address is reached through the overlay too, as IPv4's is
 * (its tunnel_ip; 0 without one: the stack's), so the replies to a flow it
 * opened to a pod (an IPv6 NodePort it SNATed) go back the way it came.
 * 0 or the drop reason: Geneve to a node (it would inject packets into the
 * overlay), a pod whose node is gone or with no overlay to reach it.
 */
static __always_inline int remote6_check(const struct pkt6 *p, const struct xcni_ipcache_val *dipc,
					 __u32 node_ip, __u32 *tunnel)
{
	if (p->tuple.proto == IPPROTO_UDP && p->tuple.dport == bpf_htons(XCNI_GENEVE_PORT) &&
	    (dipc->identity == XCNI_ID_HOST || dipc->identity == XCNI_ID_REMOTE_NODE))
		return XCNI_DROP_GENEVE_INJECT;
	if (!(dipc->flags & XCNI_IPC_POD)) {
		*tunnel = node_ip && dipc->identity == XCNI_ID_REMOTE_NODE ? dipc->tunnel_ip : 0;
		return 0;
	}
	*tunnel = node_ip ? dipc->tunnel_ip : 0;
	return *tunnel ? 0 : XCNI_DROP_NO_TUNNEL;
}

/*
 * encap_in for an IPv6 packet (Ethernet at 0, the fixed header at ETH_HLEN):
 * 0, XCNI_FWD_TOO_BIG for what no Geneve header can describe (a jumbogram
 * or BIG TCP packet: payload length 0; or one whose outer length would pass
 * 64K), or a drop reason.
 */
static __always_inline int encap_in_take6(struct __sk_buff *skb, const struct pkt6 *p,
					  struct encap_in *in)
{
	__u8 h[8]; /* version, class, flow label, payload length */
	__u32 plen;

	/* Straight into place: a small frame for the callers' sake. */
	if (bpf_skb_load_bytes(skb, 0, in->macs, 2 * ETH_ALEN) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, h, sizeof(h)))
		return XCNI_DROP_SHORT;
	plen = (__u32)h[4] << 8 | h[5];
	if (!plen || plen + sizeof(struct xcni_ip6hdr) + XCNI_ENCAP_LEN > 0xffff)
		return XCNI_FWD_TOO_BIG;
	in->inner_len = plen + sizeof(struct xcni_ip6hdr);
	in->tos = (__u8)(h[0] << 4 | h[1] >> 4);
	in->sport = flow_sport6(&p->tuple);
	in->inner_proto = bpf_htons(ETH_P_IPV6);
	return 0;
}

/*
 * Decapsulation of an IPv6 inner packet: the outer IPv4, UDP, Geneve and
 * inner Ethernet headers (hdr_len bytes after the outer Ethernet) go, the
 * outer Ethernet header stays and says IPv6. 0 or XCNI_DROP_BAD_GENEVE.
 */
static __always_inline int geneve_decap6(struct __sk_buff *skb, __u32 hdr_len)
{
	__be16 proto = bpf_htons(ETH_P_IPV6);

	if (bpf_skb_adjust_room(skb, -(__s32)hdr_len, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_DECAP_L3_IPV6) ||
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto), 0))
		return XCNI_DROP_BAD_GENEVE;
	return 0;
}

#endif
