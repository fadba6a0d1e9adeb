/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Geneve (RFC 8926) over IPv4/UDP in the programs themselves: no kernel
 * tunnel device. Encapsulation pushes outer IPv4 + UDP + Geneve + inner
 * Ethernet behind the existing Ethernet header (which becomes the outer one);
 * decapsulation takes them away again.
 */
#ifndef XCNI_ENCAP_H
#define XCNI_ENCAP_H

#include <linux/udp.h>

#include "l2.h"
#include "maps.h"
#include "parse.h"

#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#endif

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
	__u32 h = saddr ^ ((daddr << 7) | (daddr >> 25)) ^ ((__u32)sport << 16 | dport) ^ proto;

	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline __u16 flow_sport_of(__u32 saddr, __u32 daddr, __u16 sport, __u16 dport,
					   __u8 proto)
{
	return 49152 | (flow_hash_of(saddr, daddr, sport, dport, proto) & 0x3fff);
}

/*
 * The outer IPv6 flow label (IPv6 underlay, RFC 6438): the same hash's top
 * 20 bits, so a flow keeps one label and flows spread as they do by port.
 */
static __always_inline __u32 flow_label_of(__u32 h)
{
	return h >> 12;
}

static __always_inline __u16 flow_sport(const struct xcni_ct_key *t)
{
	return flow_sport_of(t->saddr, t->daddr, t->sport, t->dport, t->proto);
}

static __always_inline void encap_in_take(const struct pkt *p, struct encap_in *in)
{
	in->inner_len = bpf_ntohs(p->ip->tot_len);
	in->tos = p->ip->tos;
	__builtin_memcpy(in->macs, p->eth->h_dest, ETH_ALEN);
	__builtin_memcpy(in->macs + ETH_ALEN, p->eth->h_source, ETH_ALEN);
	in->sport = flow_sport(&p->tuple);
	in->label = flow_label_of(flow_hash_of(p->tuple.saddr, p->tuple.daddr, p->tuple.sport,
					       p->tuple.dport, p->tuple.proto));
	in->inner_proto = bpf_htons(ETH_P_IP);
}

#ifndef EALREADY
#define EALREADY 114
#endif

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
 * Encapsulates the packet for the node at tunnel_ip, its headers built in
 * *hp (a caller's frame). The outer UDP
 * source port is a hash of the inner flow, so ECMP spreads flows; the outer
 * UDP checksum is zero (allowed for IPv4, RFC 8926 section 3.3), so TSO
 * super-packets segment without a checksum to fill in per segment. 0, or
 * a drop reason. Packet pointers are stale afterwards.
 */
static __always_inline int geneve_encap_in(struct __sk_buff *skb, const struct encap_in *in,
					   __u32 node_ip, __u32 tunnel_ip, __u32 vni,
					   struct outer_hdrs *hp)
{
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |
		      BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH |
		      /* the inner L2 is the Ethernet header alone: GSO finds the
		       * inner IP header right behind it */
		      BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN);
	/* Lengths from the inner IP header: skb->len of a GSO packet is not one datagram. */
	__u16 inner_len = in->inner_len;

	__builtin_memset(hp, 0, sizeof(*hp));
	__builtin_memcpy(hp->inner_eth.h_dest, in->macs, ETH_ALEN);
	__builtin_memcpy(hp->inner_eth.h_source, in->macs + ETH_ALEN, ETH_ALEN);
	hp->inner_eth.h_proto = in->inner_proto;
	hp->ip.version = 4;
	hp->ip.ihl = 5;
	hp->ip.tos = in->tos;
	hp->ip.tot_len = bpf_htons(inner_len + XCNI_ENCAP_LEN);
	hp->ip.frag_off = bpf_htons(0x4000); /* DF: the pods' MTU leaves room */
	hp->ip.ttl = 64;
	hp->ip.protocol = IPPROTO_UDP;
	hp->ip.saddr = node_ip;
	hp->ip.daddr = tunnel_ip;
	hp->ip.check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)&hp->ip, sizeof(hp->ip), 0));
	hp->udp.source = bpf_htons(in->sport);
	hp->udp.dest = bpf_htons(XCNI_GENEVE_PORT);
	hp->udp.len = bpf_htons(inner_len + XCNI_ENCAP_LEN - sizeof(struct iphdr));
	hp->gnv.proto = bpf_htons(XCNI_GENEVE_PROTO_ETH);
	hp->gnv.vni_rsvd = bpf_htonl(vni << 8);

	if (encap_room(skb, XCNI_ENCAP_LEN, flags))
		return XCNI_DROP_ENCAP;
	if (bpf_skb_store_bytes(skb, ETH_HLEN, hp, XCNI_ENCAP_LEN, 0))
		return XCNI_DROP_ENCAP;
	/* An IPv6 inner packet: the outer Ethernet header (the one it came
	 * with) now carries IPv4 (adjust_room set skb->protocol already). */
	if (in->inner_proto != bpf_htons(ETH_P_IP)) {
		__be16 proto = bpf_htons(ETH_P_IP);

		if (bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_proto), &proto,
					sizeof(proto), 0))
			return XCNI_DROP_ENCAP;
	}
	geneve_mark(skb);
	return 0;
}

/* geneve_encap_in with the headers in the caller's frame (hp: one
 * callers share with the IPv6 underlay's, encap6.h's tunnel_encap). */
static __always_inline int geneve_encap(struct __sk_buff *skb, const struct encap_in *in,
					__u32 node_ip, __u32 tunnel_ip, __u32 vni)
{
	struct outer_hdrs h;

	return geneve_encap_in(skb, in, node_ip, tunnel_ip, vni, &h);
}

/* Counts a packet to or from a remote node. */
static __always_inline void tunnel_count(__u32 node_ip, __u32 len, int rx)
{
	struct xcni_tunstat *s = bpf_map_lookup_elem(&xcni_tunstat, &node_ip);

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

#endif
