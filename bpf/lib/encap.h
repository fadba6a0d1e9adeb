/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Geneve (RFC 8926) over IPv4/UDP in the programs themselves: no kernel
 * tunnel device. Encapsulation pushes outer IPv4 + UDP + Geneve + inner
 * Ethernet behind the existing Ethernet header (which becomes the outer one);
 * decapsulation takes them away again.
 */
/*
 * IPv6 pods across nodes: Geneve (RFC 8926) with an IPv6 inner packet over
 * the IPv4 underlay (the outer headers are the IPv4 ones above; what differs is how
 * the inner packet is read: IPv6 header, the flow hash over the IPv6
 * 5-tuple, and the Ethernet type on either side of the tunnel), and either
 * inner family over the IPv6 underlay (geneve_encap_ul6: an outer IPv6
 * header from node_ip6 to the node's tunnel_ip6).
 */
#ifndef XCNI_ENCAP_H
#define XCNI_ENCAP_H

#include <linux/udp.h>

#include "compat.h"
#include "config.h"
#include "ipcache.h"
#include "maps.h"
#include "parse.h"

struct geneve_hdr {
	__u8 ver_optlen; /* version (2 bits), option length in 4-byte words (6) */
	__u8 flags; /* O, C, reserved */
	__be16 proto;
	__be32 vni_rsvd; /* VNI (24 bits), reserved (8) */
};

/* What encapsulation writes after the outer Ethernet header, in one store
 * of its first XCNI_ENCAP_LEN bytes (the struct has tail padding). */
struct outer_hdrs {
	struct iphdr ip;
	struct udphdr udp;
	struct geneve_hdr gnv;
	struct ethhdr inner_eth;
};

/*
 * What encapsulation over the IPv6 underlay writes after the outer Ethernet
 * header, but for the two addresses: the IPv6 header's first 8 bytes, then
 * UDP, Geneve and the inner Ethernet header. The addresses are stored from
 * where they are (this node's in .rodata, the peer's in its ipcache entry):
 * 32 bytes less in the frame of from_pod6's callee, which the verifier's
 * 512 bytes for the call chain would not give.
 */
struct outer6_hdrs {
	__u8 ip6_head[8]; /* version, class, label, payload length, next header, hop limit */
	struct udphdr udp;
	struct geneve_hdr gnv;
	struct ethhdr inner_eth;
};

_Static_assert(offsetof(struct outer_hdrs, inner_eth) + sizeof(struct ethhdr) == XCNI_ENCAP_LEN,
	       "encapsulation is 50 bytes");

static __always_inline __u16 csum_fold(__u32 csum)
{
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	return (__u16)~csum;
}

/*
 * The outer UDP source port: a hash of the inner flow (murmur3's finaliser
 * over the tuple), the same on every node and every boot, in 49152-65535.
 * Shared with userspace (tests) as written here.
 */
static __always_inline __u32 flow_hash_of(__u32 saddr, __u32 daddr, __u16 sport, __u16 dport,
					  __u8 proto)
{
	return xcni_fmix32(saddr ^ ((daddr << 7) | (daddr >> 25)) ^ ((__u32)sport << 16 | dport) ^
			   proto);
}

/*
 * The outer IPv6 flow label (IPv6 underlay, RFC 6438): the same hash's top
 * 20 bits, so a flow keeps one label and flows spread as they do by port.
 */
static __always_inline __u32 flow_label_of(__u32 h)
{
	return h >> 12;
}

/* An IPv6 address as one word: its four words xored (memory order). */
static __always_inline __u32 in6_fold(const __u8 *a)
{
	const __u32 *x = (const __u32 *)a;

	return x[0] ^ x[1] ^ x[2] ^ x[3];
}

/*
 * The inner flow's hash (flow_hash_of) over the family's key at t (struct
 * xcni_ct_key, struct xcni_ct6_key), an IPv6 address folded to a word.
 */
static __always_inline __u32 flow_tuple_hash(int fam, const void *t)
{
	if (fam == XCNI_AF_INET) {
		const struct xcni_ct_key *k = t;

		return flow_hash_of(k->saddr, k->daddr, k->sport, k->dport, k->proto);
	} else {
		const struct xcni_ct6_key *k = t;

		return flow_hash_of(in6_fold(k->saddr), in6_fold(k->daddr), k->sport, k->dport,
				    k->proto);
	}
}

/*
 * The outer UDP source port of a flow (t: its family's key), in 49152-65535.
 * The same on every node and every boot; shared with userspace (tests) as
 * written here.
 */
static __always_inline __u16 flow_sport(int fam, const void *t)
{
	return 49152 | (flow_tuple_hash(fam, t) & 0x3fff);
}

/*
 * What encapsulation needs of the inner packet (p4 or p6: the family's view,
 * the other NULL; Ethernet at 0): its length, TOS, MACs, and the flow's
 * outer source port and flow label. 0, XCNI_FWD_TOO_BIG for what no Geneve
 * header can describe (IPv6: a jumbogram or BIG TCP packet, payload length
 * 0; or one whose outer length would pass 64K), or a drop reason. IPv4's
 * headers are read through the parser's pointers, IPv6's loaded straight
 * into place (a small frame for the callers' sake).
 */
static __always_inline int encap_in_fill(struct __sk_buff *skb, int fam, const struct pkt *p4,
					 const struct pkt6 *p6, struct encap_in *in)
{
	const void *t;
	__u32 h;

	if (fam == XCNI_AF_INET) {
		in->inner_len = bpf_ntohs(p4->ip->tot_len);
		in->tos = p4->ip->tos;
		__builtin_memcpy(in->macs, p4->eth->h_dest, ETH_ALEN);
		__builtin_memcpy(in->macs + ETH_ALEN, p4->eth->h_source, ETH_ALEN);
		t = &p4->tuple;
	} else {
		__u8 hdr[8]; /* version, class, flow label, payload length */
		__u32 plen;

		if (bpf_skb_load_bytes(skb, 0, in->macs, 2 * ETH_ALEN) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN, hdr, sizeof(hdr)))
			return XCNI_DROP_SHORT;
		plen = (__u32)hdr[4] << 8 | hdr[5];
		if (!plen || plen + sizeof(struct xcni_ip6hdr) + XCNI_ENCAP_LEN > 0xffff)
			return XCNI_FWD_TOO_BIG;
		in->inner_len = plen + sizeof(struct xcni_ip6hdr);
		in->tos = (__u8)(hdr[0] << 4 | hdr[1] >> 4);
		t = &p6->tuple;
	}
	h = flow_tuple_hash(fam, t);
	in->sport = 49152 | (h & 0x3fff); /* flow_sport */
	in->label = flow_label_of(h);
	in->inner_proto = fam == XCNI_AF_INET ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6);
	return 0;
}

/* The single-family names nodeport.h and nodeport_xdp.h still call. */
#define flow_sport6(t) flow_sport(XCNI_AF_INET6, (t))
#define encap_in_take(p, in) ((void)encap_in_fill(NULL, XCNI_AF_INET, (p), NULL, (in)))

/*
 * Geneve these programs built: marked, so the underlay's egress (to_underlay)
 * tells it from UDP to 6081 a socket sent (XCNI_MARK_GENEVE). Every
 * encapsulation calls it once its headers are written.
 */
static __always_inline void geneve_mark(struct __sk_buff *skb)
{
	skb->mark |= XCNI_MARK_GENEVE;
}

/*
 * Makes room for len bytes of outer headers behind the Ethernet header.
 * An skb this node decapsulated into its stack (from_overlay, Geneve for the
 * node: kube-proxy's NodePort DNAT to a pod of a third node) still carries
 * the first hop's encapsulation mark: bpf_skb_adjust_room clears nothing on
 * decapsulation (this kernel has no DECAP_L4 flag), and refuses to
 * encapsulate such an skb again (EALREADY). Its inner header offsets, set by
 * the first encapsulation, are still right: neither the decapsulation (which
 * moved the Ethernet header, not the inner packet) nor the stack moved the
 * inner packet in its buffer, and this room has the first one's layout. So
 * the room is pushed without the encapsulation flags, which leave the mark
 * and those offsets as they are (the outer network header is reset).
 */
static __always_inline int encap_room(struct __sk_buff *skb, __u32 len, __u64 flags)
{
	int r = bpf_skb_adjust_room(skb, len, BPF_ADJ_ROOM_MAC, flags);

	if (r == -EALREADY)
		r = bpf_skb_adjust_room(skb, len, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO);
	return r;
}

/*
 * What follows the outer IP header, either underlay: UDP (udp_len long, its
 * source port the inner flow's hash, its checksum zero: see geneve_encap_in
 * and geneve_encap_ul6), the Geneve header with the VNI, the inner Ethernet
 * header. The caller zeroed them.
 */
static __always_inline void geneve_tail_fill(struct udphdr *udp, struct geneve_hdr *gnv,
					     struct ethhdr *inner_eth, const struct encap_in *in,
					     __u32 udp_len, __u32 vni_id)
{
	__builtin_memcpy(inner_eth->h_dest, in->macs, ETH_ALEN);
	__builtin_memcpy(inner_eth->h_source, in->macs + ETH_ALEN, ETH_ALEN);
	inner_eth->h_proto = in->inner_proto;
	udp->source = bpf_htons(in->sport);
	udp->dest = bpf_htons(XCNI_GENEVE_PORT);
	udp->len = bpf_htons(udp_len);
	gnv->proto = bpf_htons(XCNI_GENEVE_PROTO_ETH);
	gnv->vni_rsvd = bpf_htonl(vni_id << 8);
}

/*
 * After the room and the headers: the outer Ethernet header (the one the
 * packet came with) says the outer family (proto) when the inner packet is
 * of the other one (adjust_room set skb->protocol already), and the packet
 * gets the Geneve mark. 0 or XCNI_DROP_ENCAP.
 */
static __always_inline int geneve_outer_done(struct __sk_buff *skb, const struct encap_in *in,
					     __be16 proto)
{
	if (in->inner_proto != proto &&
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto), 0))
		return XCNI_DROP_ENCAP;
	geneve_mark(skb);
	return 0;
}

/*
 * The outer headers over the IPv4 underlay (from src_ip, this node's, to the
 * node at tunnel_ip) for the inner packet in, built in *hp: what either hook writes
 * behind the outer Ethernet header (geneve_encap_in at tc, the XDP fast path
 * of nodeport_xdp.h), so both send the same bytes.
 */
static __always_inline void geneve_outer4_fill(struct outer_hdrs *hp, const struct encap_in *in,
					       __u32 src_ip, __u32 tunnel_ip, __u32 vni_id)
{
	/* Lengths from the inner IP header: skb->len of a GSO packet is not one datagram. */
	__u16 inner_len = in->inner_len;

	__builtin_memset(hp, 0, sizeof(*hp));
	geneve_tail_fill(&hp->udp, &hp->gnv, &hp->inner_eth, in,
			 inner_len + XCNI_ENCAP_LEN - sizeof(struct iphdr), vni_id);
	hp->ip.version = 4;
	hp->ip.ihl = 5;
	hp->ip.tos = in->tos;
	hp->ip.tot_len = bpf_htons(inner_len + XCNI_ENCAP_LEN);
	hp->ip.frag_off = bpf_htons(0x4000); /* DF: the pods' MTU leaves room */
	hp->ip.ttl = 64;
	hp->ip.protocol = IPPROTO_UDP;
	hp->ip.saddr = src_ip;
	hp->ip.daddr = tunnel_ip;
	hp->ip.check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)&hp->ip, sizeof(hp->ip), 0));
}

/*
 * Encapsulates the packet for the node at tunnel_ip, its headers built in
 * *hp (a caller's frame). The outer UDP
 * source port is a hash of the inner flow, so ECMP spreads flows; the outer
 * UDP checksum is zero (allowed for IPv4, RFC 8926 section 3.3), so TSO
 * super-packets segment without a checksum to fill in per segment. 0, or
 * a drop reason. Packet pointers are stale afterwards.
 */
static __always_inline int geneve_encap_in(struct __sk_buff *skb, const struct encap_in *in,
					   __u32 src_ip, __u32 tunnel_ip, __u32 vni_id,
					   struct outer_hdrs *hp)
{
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |
		      BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH |
		      /* the inner L2 is the Ethernet header alone: GSO finds the
		       * inner IP header right behind it */
		      BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN);

	geneve_outer4_fill(hp, in, src_ip, tunnel_ip, vni_id);
	if (encap_room(skb, XCNI_ENCAP_LEN, flags))
		return XCNI_DROP_ENCAP;
	if (bpf_skb_store_bytes(skb, ETH_HLEN, hp, XCNI_ENCAP_LEN, 0))
		return XCNI_DROP_ENCAP;
	return geneve_outer_done(skb, in, bpf_htons(ETH_P_IP));
}

/* One packet of len bytes into a node's counters (s: NULL, none), either underlay. */
static __always_inline void tunstat_add(struct xcni_tunstat *s, __u32 len, int rx)
{
	if (!s)
		return;
	if (rx) {
		s->rx_packets++;
		s->rx_bytes += len;
	} else {
		s->tx_packets++;
		s->tx_bytes += len;
	}
}

/* Counts a packet to or from a remote node, at its underlay address node
 * (the family's: an IPv4 __u32, 16 bytes of IPv6). */
static __always_inline void tunnel_count_at(int fam, const void *node, __u32 len, int rx)
{
	if (fam == XCNI_AF_INET) {
		__u32 k = *(const __u32 *)node;

		tunstat_add(bpf_map_lookup_elem(&xcni_tunstat, &k), len, rx);
	} else {
		struct xcni_in6 k;

		__builtin_memcpy(k.addr, node, 16);
		tunstat_add(bpf_map_lookup_elem(&xcni_tunstat6, &k), len, rx);
	}
}

/* The single-family names nodeport.h and nodeport_xdp.h still call. */
#define tunnel_count4(ip4, len, rx)                                                            \
	({                                                                                    \
		__u32 tun_a4_ = (ip4);                                                        \
		tunnel_count_at(XCNI_AF_INET, &tun_a4_, (len), (rx));                         \
	})
#define tunnel_count6(node, len, rx) tunnel_count_at(XCNI_AF_INET6, (node), (len), (rx))

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
					 __u32 ul_ip, __u32 *tunnel)
{
	if (p->tuple.proto == IPPROTO_UDP && p->tuple.dport == bpf_htons(XCNI_GENEVE_PORT) &&
	    (dipc->identity == XCNI_ID_HOST || dipc->identity == XCNI_ID_REMOTE_NODE))
		return XCNI_DROP_GENEVE_INJECT;
	if (!(dipc->flags & XCNI_IPC_POD)) {
		*tunnel = dipc->identity == XCNI_ID_REMOTE_NODE ? tunnel_of(dipc, ul_ip) : 0;
		return 0;
	}
	*tunnel = tunnel_of(dipc, ul_ip);
	return *tunnel ? 0 : no_tunnel_reason(dipc);
}

/*
 * Decapsulation of an inner packet of the family fam (a constant) from the
 * outer family outer6 says: the outer IP, UDP, Geneve and inner Ethernet
 * headers (hdr_len bytes after the outer Ethernet) go, the outer Ethernet
 * header stays and says the inner family. 0 or XCNI_DROP_BAD_GENEVE. The
 * DECAP_L3 flag only across families: kernels < 6.3 answer it -EINVAL, and
 * IPv6 over IPv6 needs it no more than IPv4 over IPv4 (from_overlay4's
 * XCNI_DECAP4_FLAGS, after its parse in place): with it, 6.1 dropped IPv6
 * over the IPv6 underlay as drop-bad-geneve (kernel-matrix.md).
 */
static __always_inline int geneve_decap(struct __sk_buff *skb, int fam, __u32 hdr_len,
					__u32 outer6)
{
	__be16 proto = bpf_htons(fam == XCNI_AF_INET ? ETH_P_IP : ETH_P_IPV6);
	__u64 l3 = fam == XCNI_AF_INET ? BPF_F_ADJ_ROOM_DECAP_L3_IPV4 : BPF_F_ADJ_ROOM_DECAP_L3_IPV6;

	if (bpf_skb_adjust_room(skb, -(__s32)hdr_len, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO |
					((fam == XCNI_AF_INET6) == !!outer6 ? 0 : l3)) ||
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto), 0))
		return XCNI_DROP_BAD_GENEVE;
	return 0;
}

_Static_assert(sizeof(struct xcni_ip6hdr) + offsetof(struct outer6_hdrs, inner_eth) -
		       offsetof(struct outer6_hdrs, udp) + sizeof(struct ethhdr) ==
	       XCNI_ENCAP6_LEN, "encapsulation over IPv6 is 70 bytes");
#define OUTER6_TAIL_LEN (XCNI_ENCAP6_LEN - sizeof(struct xcni_ip6hdr))

/* The encapsulation's length towards a tunnel_of endpoint. */
static __always_inline __u32 encap_len_of(__u32 tunnel)
{
	return tunnel == XCNI_TUN6 ? XCNI_ENCAP6_LEN : XCNI_ENCAP_LEN;
}

/*
 * The outer IPv6 header's first 8 bytes over the IPv6 underlay (h: on the
 * stack at tc, in the packet at XDP): version, the inner TOS as its traffic
 * class, the inner flow's label, payload length plen, UDP, hop limit 64.
 * What every encapsulation over it writes (geneve_encap_ul6,
 * geneve_encap_ul6_dsr, the XDP fast path of nodeport_xdp.h).
 */
static __always_inline void ul6_head_fill(__u8 *h, const struct encap_in *in, __u32 plen)
{
	h[0] = 0x60 | in->tos >> 4;
	h[1] = (__u8)((in->tos & 0xf) << 4 | ((in->label >> 16) & 0xf));
	h[2] = (__u8)(in->label >> 8);
	h[3] = (__u8)in->label;
	h[4] = (__u8)(plen >> 8);
	h[5] = (__u8)plen;
	h[6] = IPPROTO_UDP;
	h[7] = 64; /* hop limit */
}

/*
 * Geneve over the IPv6 underlay to the node at dst6 (an ipcache entry's
 * tunnel_ip6), from node_ip6: geneve_encap_in's headers with an outer IPv6
 * header, its traffic class the inner TOS and its flow label the inner
 * flow's hash (RFC 6438), so ECMP spreads flows on the label or the port.
 *
 * The outer UDP checksum is zero, as RFC 8926 section 3.3 allows over IPv6
 * when RFC 6936's conditions (its section 5) hold, which they do here: the
 * tunnel carries whole Ethernet frames whose inner IPv4 header and
 * TCP/UDP/ICMP/ICMPv6 payloads carry checksums of their own; the packets are
 * never fragmented (the pods' MTU leaves room for this header, and IPv6
 * routers do not fragment); zero-checksum Geneve is only sent to and taken
 * from the cluster's nodes, on port 6081 alone; and the receiver
 * (from_overlay, not a UDP socket) takes only packets whose outer
 * destination is its own underlay address, whose outer source is a node of
 * the cluster (tunnel6), whose Geneve header names the cluster's VNI and
 * whose inner source belongs to that node (the inner-spoof check): a packet
 * an undetected error misaddressed is dropped and counted, not delivered.
 * Computing it instead is not possible for all packets: bpf_skb_adjust_room
 * marks a GSO super-packet SKB_GSO_UDP_TUNNEL (there is no flag for the
 * _CSUM kind), so segmentation would copy one checksum of the whole into
 * every segment,
 * wrong in all of them. 0 or a drop reason; packet pointers are stale.
 */
static __always_inline int geneve_encap_ul6(struct __sk_buff *skb, const struct encap_in *in,
					    const __u8 *dst6, __u32 vni_id, struct outer6_hdrs *hp)
{
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 |
		      BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH |
		      BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN);
	__u32 plen = (__u32)in->inner_len + XCNI_ENCAP6_LEN - sizeof(struct xcni_ip6hdr);

	/* No IPv6 payload length (nor UDP length) describes more. */
	if (plen > 0xffff)
		return XCNI_DROP_ENCAP;
	__builtin_memset(hp, 0, sizeof(*hp));
	geneve_tail_fill(&hp->udp, &hp->gnv, &hp->inner_eth, in, plen, vni_id);
	ul6_head_fill(hp->ip6_head, in, plen);

	if (encap_room(skb, XCNI_ENCAP6_LEN, flags))
		return XCNI_DROP_ENCAP;
	if (bpf_skb_store_bytes(skb, ETH_HLEN, hp->ip6_head, sizeof(hp->ip6_head), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + offsetof(struct xcni_ip6hdr, saddr),
				(const void *)node_ip6, 16, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + offsetof(struct xcni_ip6hdr, daddr), dst6, 16, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(struct xcni_ip6hdr), &hp->udp,
				OUTER6_TAIL_LEN, 0))
		return XCNI_DROP_ENCAP;
	return geneve_outer_done(skb, in, bpf_htons(ETH_P_IPV6));
}

/*
 * Geneve to a node, counted: over the IPv6 underlay to dst6 when it is set
 * (an ipcache entry's tunnel_ip6: tunnel_of said XCNI_TUN6), else over the
 * IPv4 one to tunnel. Chosen on the pointer, which the verifier follows
 * where it would lose a comparison of tunnel. 0 or a drop reason.
 */
static __always_inline int tunnel_encap(struct __sk_buff *skb, const struct encap_in *in,
					__u32 src_ip, __u32 tunnel, const __u8 *dst6, __u32 vni_id)
{
	/* One frame slot for either family's headers. */
	union {
		struct outer_hdrs h4;
		struct outer6_hdrs h6;
	} h;
	int r;

	/* Opaque to the compiler: else it tests the caller's tunnel == XCNI_TUN6
	 * again in place of the pointer, and 6.1's verifier, which does not
	 * carry tunnel != XCNI_TUN6 from the first test to the second, follows
	 * dst6 NULL into the IPv6 encapsulation ("R3 type=scalar", to_overlay
	 * v4, docs/decisions/kernel-matrix.md). */
	asm volatile("" : "+r"(dst6));
	if (dst6) {
		r = geneve_encap_ul6(skb, in, dst6, vni_id, &h.h6);
		if (!r)
			tunnel_count_at(XCNI_AF_INET6, dst6, skb->len, 0);
		return r;
	}
	r = geneve_encap_in(skb, in, src_ip, tunnel, vni_id, &h.h4);
	if (!r)
		tunnel_count_at(XCNI_AF_INET, &tunnel, skb->len, 0);
	return r;
}

/*
 * Decapsulating IPv4 from IPv4 leaves skb->protocol as it was: no
 * BPF_F_ADJ_ROOM_DECAP_L3_IPV4, which only kernels >= 6.3 take (older ones
 * answer -EINVAL) and which only changes anything across families
 * (geneve_decap does, for an inner packet of the other family).
 */
#define XCNI_DECAP4_FLAGS BPF_F_ADJ_ROOM_FIXED_GSO

/*
 * What from_overlay's steps answer. A step that decides the packet's fate
 * (counted) returns its TC verdict (TC_ACT_*, all below UL_NEXT); one that
 * does not hands the packet on with what it found, one of these, and for a
 * Geneve packet the outer headers' length (what decapsulation takes away) in
 * the low 16 bits: UL_STEP and UL_LEN take them apart (from_plain's UL_NEXT
 * carries there what it found of the source, for from_outside: UL_SRC,
 * from_overlay.bpf.c). In the return value,
 * not through memory: the entry's frame stays empty, and with it the three
 * frames (entry, a step, its callee) fit the verifier's 512 bytes.
 */
enum ul_step {
	UL_NEXT = 1 << 16, /* not this step's, untouched and uncounted: the next step's */
	UL_PLAIN = 2 << 16, /* IPv4 (or not IP), not Geneve for this node: from_plain's */
	UL_INNER6 = 3 << 16, /* Geneve over IPv4 from a known node, IPv6 inside */
	UL6_INNER4 = 4 << 16, /* Geneve over IPv6 (from_underlay6), IPv4 inside */
	UL6_INNER6 = 5 << 16, /* Geneve over IPv6 (from_underlay6), IPv6 inside */
};

#define UL_STEP(ret) ((ret) & ~0xffff)
#define UL_LEN(ret) ((__u32)(ret) & 0xffff)

/* Geneve options: at most 63 words; the verifier wants the skip bounded. */
#define GENEVE_OPT_MAX 252

struct outer {
	__u32 saddr;
	__u32 hdr_len; /* outer IPv4 + UDP + Geneve (with options) + inner Ethernet */
	__u32 inner6; /* the inner packet is IPv6 */
};

/*
 * Outer headers: 0 and o filled when the packet is Geneve for us,
 * XCNI_PASS_UNDERLAY when it is something else, or a drop reason.
 */
static __always_inline int parse_outer4(struct cursor *c, struct pkt *outer_pkt, struct outer *o)
{
	struct iphdr *ip;
	struct udphdr *udp;
	struct geneve_hdr *g;
	struct ethhdr *inner;
	__u32 optlen;

	outer_pkt->eth = cursor_take(c, sizeof(struct ethhdr));
	if (!outer_pkt->eth || outer_pkt->eth->h_proto != bpf_htons(ETH_P_IP))
		return XCNI_PASS_UNDERLAY;
	ip = cursor_take(c, sizeof(struct iphdr));
	if (!ip || ip->ihl != 5 || ip->protocol != IPPROTO_UDP || ip->daddr != node_ip ||
	    (ip->frag_off & bpf_htons(0x3fff)))
		return XCNI_PASS_UNDERLAY;
	udp = cursor_take(c, sizeof(struct udphdr));
	if (!udp || udp->dest != bpf_htons(XCNI_GENEVE_PORT))
		return XCNI_PASS_UNDERLAY;
	/* Ours from here on: account it to the packet's fate. */
	outer_pkt->tuple.saddr = ip->saddr;
	outer_pkt->tuple.daddr = ip->daddr;
	outer_pkt->tuple.proto = IPPROTO_UDP;
	outer_pkt->tuple.sport = udp->source;
	outer_pkt->tuple.dport = udp->dest;
	if (!bpf_map_lookup_elem(&xcni_tunnel, &ip->saddr))
		return XCNI_DROP_UNKNOWN_NODE;
	g = cursor_take(c, sizeof(struct geneve_hdr));
	if (!g || (g->ver_optlen >> 6) != 0 || g->proto != bpf_htons(XCNI_GENEVE_PROTO_ETH) ||
	    (bpf_ntohl(g->vni_rsvd) >> 8) != vni)
		return XCNI_DROP_BAD_GENEVE;
	optlen = (g->ver_optlen & 0x3f) * 4;
	if (optlen > GENEVE_OPT_MAX || (void *)((char *)c->pos + optlen) > c->end)
		return XCNI_DROP_BAD_GENEVE;
	c->pos = (char *)c->pos + optlen;
	inner = cursor_take(c, sizeof(struct ethhdr));
	if (!inner ||
	    (inner->h_proto != bpf_htons(ETH_P_IP) && inner->h_proto != bpf_htons(ETH_P_IPV6)))
		return XCNI_DROP_BAD_GENEVE;
	o->inner6 = inner->h_proto == bpf_htons(ETH_P_IPV6);
	o->saddr = ip->saddr;
	o->hdr_len = sizeof(struct iphdr) + sizeof(struct udphdr) + sizeof(struct geneve_hdr) +
		     optlen + sizeof(struct ethhdr);
	return 0;
}

#endif
