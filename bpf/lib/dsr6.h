/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NodePort DSR for IPv6 frontends (xcnid --node-port-mode dsr), over the
 * IPv4 underlay or the IPv6 one (below): dsr.h's scheme for from_overlay's
 * IPv6 paths.
 *
 *  - the node that takes the request (from_outside6, lib/nodeport6.h) for a
 *    backend on another node keeps the client's address (DNAT only) and
 *    sends the packet through Geneve with the option of dsr.h (struct
 *    xcni_geneve_dsr, class 0xfff0, type 0x81, critical), family
 *    XCNI_AF_INET6: the option was laid out with 16 bytes of address and a
 *    family from the start, so the IPv6 frontend needs no option type of its
 *    own, and a receiver that knows the option knows both;
 *  - the backend's node (from_overlay6) takes the option before it
 *    decapsulates, looks the frontend up in its own Service maps (every node
 *    holds every other node's NodePort frontends, EXT scope) and keeps the
 *    frontend's reverse-NAT index in the flow's xcni_ct6 entry (rev_nat,
 *    XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR), the sending node's underlay IPv4 in
 *    its nat_addr. xcni_revnat holds 16-byte addresses, so the entry needs no
 *    room for the frontend itself: no new map, no layout change;
 *  - the backend's replies meet that entry in from_pod6: lb6_rev_nat puts the
 *    frontend back as their source (the TCP/UDP checksum through the
 *    pseudo-header; IPv6 has no header checksum), and a DSR flow's reply
 *    goes straight out of this node's underlay (redirect_neigh), to the client.
 *
 * A packet that does not fit the underlay with the option (or a GSO one)
 * goes without it; the backend's node knows its flow from the entry the
 * first packet opened (dsr6_flow_known).
 *
 * Over the IPv6 underlay (a backend's node behind it: XCNI_IPC_TUN6) the
 * same option rides Geneve under an outer IPv6 header (94 bytes of
 * encapsulation); the backend's node reads it after from_underlay6 let the
 * critical bit through for IPv6 inside, and keeps in nat_addr the sending
 * node's underlay IPv6 folded to 4 bytes (in6_fold: the check is that the
 * same node goes on speaking for the flow, and nat_addr has 4 bytes).
 */
#ifndef XCNI_DSR6_H
#define XCNI_DSR6_H

#include "config.h"
#include "dsr.h"
#include "encap.h"
#include "encap6.h"
#include "ipv6.h"
#include "lb6.h"

/* DSR's encapsulation over the IPv6 underlay: 70 + the option's 24 bytes. */
#define XCNI_ENCAP6_DSR_LEN (XCNI_ENCAP6_LEN + 24)

/* What it writes after the outer IPv6 header's addresses (see outer6_hdrs). */
struct outer6_hdrs_dsr {
	__u8 ip6_head[8];
	struct udphdr udp;
	struct geneve_hdr gnv;
	struct xcni_geneve_dsr opt;
	struct ethhdr inner_eth;
};

/* Stored from udp to the end of inner_eth (the struct's tail is padding). */
#define OUTER6_DSR_TAIL_LEN                                                                    \
	(offsetof(struct outer6_hdrs_dsr, inner_eth) + sizeof(struct ethhdr) -                 \
	 offsetof(struct outer6_hdrs_dsr, udp))

_Static_assert(sizeof(struct xcni_ip6hdr) + OUTER6_DSR_TAIL_LEN == XCNI_ENCAP6_DSR_LEN,
	       "DSR encapsulation over IPv6 is 94 bytes");

/*
 * geneve_encap_dsr for an IPv6 inner packet: the option names the IPv6
 * frontend fe (the tuple as the client sent it: its destination and port),
 * the inner Ethernet says IPv6, the outer IPv4. node_vni: this node's
 * address << 32 | VNI. 0 or a drop reason; packet pointers are stale.
 */
static __attribute__((noinline)) int geneve_encap_dsr6(struct __sk_buff *skb,
							const struct encap_in *in,
							const struct xcni_ct6_key *fe,
							__u32 tunnel_ip, __u64 node_vni)
{
	struct outer_hdrs_dsr h = {};

	dsr_opt_fill(&h.opt, XCNI_AF_INET6, fe->proto, fe->dport, fe->daddr, 16);
	return dsr_encap_ip4(skb, in, &h, tunnel_ip, node_vni, bpf_htons(ETH_P_IPV6));
}

/* nodeport6_dsr_track's answer: tracked, nodeport6_dsr sends it. */
#define DSR6_TRACKED 1

/*
 * geneve_encap_ul6 with the DSR option for the IPv6 frontend fe, to the node
 * at dst6 (its ipcache entry's tunnel_ip6), the Geneve header's option length
 * 6 words and its C bit. The outer Ethernet already says IPv6. 0 or a drop
 * reason; packet pointers are stale.
 */
static __attribute__((noinline)) int geneve_encap_ul6_dsr(struct __sk_buff *skb,
							   const struct encap_in *in,
							   const struct xcni_ct6_key *fe,
							   const __u8 *dst6)
{
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 |
		      BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH |
		      BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN);
	__u32 plen = (__u32)in->inner_len + XCNI_ENCAP6_DSR_LEN - sizeof(struct xcni_ip6hdr);
	struct outer6_hdrs_dsr h = {};

	if (plen > 0xffff)
		return XCNI_DROP_ENCAP;
	dsr_opt_fill(&h.opt, XCNI_AF_INET6, fe->proto, fe->dport, fe->daddr, 16);
	__builtin_memcpy(h.inner_eth.h_dest, in->macs, ETH_ALEN);
	__builtin_memcpy(h.inner_eth.h_source, in->macs + ETH_ALEN, ETH_ALEN);
	h.inner_eth.h_proto = bpf_htons(ETH_P_IPV6);
	h.ip6_head[0] = 0x60 | in->tos >> 4;
	h.ip6_head[1] = (__u8)((in->tos & 0xf) << 4 | ((in->label >> 16) & 0xf));
	h.ip6_head[2] = (__u8)(in->label >> 8);
	h.ip6_head[3] = (__u8)in->label;
	h.ip6_head[4] = (__u8)(plen >> 8);
	h.ip6_head[5] = (__u8)plen;
	h.ip6_head[6] = IPPROTO_UDP;
	h.ip6_head[7] = 64;
	h.udp.source = bpf_htons(in->sport);
	h.udp.dest = bpf_htons(XCNI_GENEVE_PORT);
	h.udp.len = bpf_htons(plen);
	dsr_geneve_fill(&h.gnv, vni);

	if (encap_room(skb, XCNI_ENCAP6_DSR_LEN, flags) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, h.ip6_head, sizeof(h.ip6_head), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + offsetof(struct xcni_ip6hdr, saddr),
				(const void *)node_ip6, 16, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + offsetof(struct xcni_ip6hdr, daddr), dst6, 16, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(struct xcni_ip6hdr), &h.udp,
				OUTER6_DSR_TAIL_LEN, 0))
		return XCNI_DROP_ENCAP;
	geneve_mark(skb);
	return 0;
}

/*
 * From outside (from_outside6, --node-port-mode dsr), translated to a
 * backend on another node (p: client -> backend): 0 when that node is not
 * reachable (no tunnel of either underlay: nothing touched, the caller
 * decides), else the
 * flow tracked here (DSR6_TRACKED) or a drop reason. This node sees the
 * requests only: its entry keeps the flow visible (ct list) and ends with
 * them; the backend's node judges its ingress. Apart from nodeport6_dsr,
 * both called from from_outside6: conntrack's frame (ct6_icmp_related
 * under it) and the encapsulation's are never on the stack together, which
 * the verifier's 512 bytes would not hold.
 */
__attribute__((noinline)) int nodeport6_dsr_track(struct __sk_buff *skb, struct pkt6 *p,
						  struct lb6_state *st)
{
	struct xcni_ipcache_val *dipc;
	int ct;
	__u8 ctf;

	if (!skb || !p || !st)
		return XCNI_DROP_ENCAP;
	dipc = ipcache6_lookup(p->tuple.daddr);
	if (!dipc || !(dipc->flags & XCNI_IPC_POD) ||
	    !((dipc->tunnel_ip && node_ip) || ((dipc->flags & XCNI_IPC_TUN6) && ul6_on())))
		return 0;
	ct = ct6_track(skb, p, &ctf);
	if (ct == CT_INVALID)
		return p->frag_later ? XCNI_DROP_FRAGMENT : XCNI_DROP_CT_INVALID;
	if (ct == CT_NEW || ct == CT_STALE)
		ct6_commit(p, ct, 0, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	lb6_follow(st, p);
	return DSR6_TRACKED;
}

/*
 * The tracked packet (nodeport6_dsr_track) to the backend's node through
 * Geneve over the underlay it is behind (IPv4, or IPv6: XCNI_IPC_TUN6), the
 * client's address kept, the frontend (st->orig) in the option when the
 * packet fits with it. The reason (XCNI_FWD_ENCAP: redirected).
 */
__attribute__((noinline)) int nodeport6_dsr(struct __sk_buff *skb, struct pkt6 *p,
					    struct lb6_state *st)
{
	struct xcni_ipcache_val *dipc;
	const __u8 *dst6 = NULL;
	struct encap_in in;
	__u32 tunnel, mtu = 0, len;
	int reason;

	if (!skb || !p || !st)
		return XCNI_DROP_ENCAP;
	dipc = ipcache6_lookup(p->tuple.daddr);
	if (!dipc)
		return XCNI_DROP_NO_TUNNEL;
	/* The IPv6 underlay's endpoint when the node is behind it (chosen on
	 * the pointer, as tunnel_encap does). */
	if ((dipc->flags & XCNI_IPC_TUN6) && ul6_on())
		dst6 = dipc->tunnel_ip6;
	tunnel = dipc->tunnel_ip;
	if (!dst6 && !tunnel)
		return XCNI_DROP_NO_TUNNEL;
	if (p->hop_limit <= 1)
		return XCNI_DROP_ENCAP;
	reason = encap_in_take6(skb, p, &in);
	if (reason)
		return reason == XCNI_FWD_TOO_BIG ? XCNI_DROP_ENCAP : reason;
	p->hop_limit--;
	if (bpf_skb_store_bytes(skb, IP6_HOPLIMIT_OFF, &p->hop_limit, 1, 0))
		return XCNI_DROP_ENCAP;
	/* A GSO packet goes without (its segments are full-size; the flow's
	 * first packets were not), as does one the option would make too big. */
	len = dst6 ? XCNI_ENCAP6_DSR_LEN : XCNI_ENCAP_DSR_LEN;
	if (skb->gso_size || in.inner_len + len > 0xffff ||
	    bpf_check_mtu(skb, 0, &mtu, len, 0) != BPF_MTU_CHK_RET_SUCCESS)
		/* Without the option (tunnel_encap counts it). */
		reason = tunnel_encap(skb, &in, node_ip, tunnel, dst6, vni);
	else if (dst6 && !(reason = geneve_encap_ul6_dsr(skb, &in, &st->orig, dst6)))
		tunnel_count6(dst6, skb->len, 0);
	else if (!dst6 && !(reason = geneve_encap_dsr6(skb, &in, &st->orig, tunnel,
						       (__u64)node_ip << 32 | vni)))
		tunnel_count(tunnel, skb->len, 0);
	if (reason)
		return reason;
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0) == TC_ACT_REDIRECT ? XCNI_FWD_ENCAP :
										  XCNI_DROP_REDIRECT;
}

/* A packet of a DSR flow without the option: its entry here names the node that opened it. */
static __always_inline int dsr6_flow_known(const struct xcni_ct6_key *t, __u32 node)
{
	const struct xcni_ct_entry *e = bpf_map_lookup_elem(&xcni_ct6, t);

	return e && (e->flags & XCNI_CT_F_DSR) && e->nat_addr == node &&
	       ct_alive(e, bpf_ktime_get_ns(), ct6_life_proto(t->proto));
}

/* A DSR flow's new entry: the node that opened it, for dsr6_flow_known. */
static __attribute__((noinline)) void dsr6_record(const struct xcni_ct6_key *t, __u32 node)
{
	struct xcni_ct_entry *e = bpf_map_lookup_elem(&xcni_ct6, t);

	if (e)
		e->nat_addr = node;
}

#endif
