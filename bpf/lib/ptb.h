/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Path MTU for traffic from outside to an external frontend (NodePort,
 * externalIP, load-balancer IP) whose backend is on another node: from_outside
 * (IPv4) and from_outside6 (nodeport6.h) send it in Geneve, 50 bytes more over
 * the IPv4 underlay, 70 over the IPv6 one. An outside client's packet may be
 * as big as the underlay's MTU; encapsulated it would be dropped, silently, by
 * the device (a veth drops frames over its MTU). So before the SNAT and the
 * encapsulation (the packet translated to the backend, DNAT only), a packet
 * that would not fit is answered as a router on the path would (RFC 1191,
 * RFC 8201), from the frontend, back out the underlay, and counted as
 * drop-too-big:
 *  - IPv4 with DF: ICMP fragmentation needed (type 3 code 4), its next-hop MTU
 *    the largest inner packet that fits (the underlay device's MTU less the
 *    encapsulation), quoting the IP header and 8 bytes (RFC 792) of the packet
 *    as the client sent it: the DNAT is undone first (lb_nat back to the
 *    frontend), so the client's stack finds its socket. Built by lb.h's
 *    lb_answer, the machinery of the refusal for want of a backend.
 *  - IPv4 without DF: dropped (no answer). A router would fragment it; a tc
 *    program cannot fragment, and fragments of the outer packet would not help:
 *    the receiving node's from_overlay takes no outer fragments (they go to its
 *    stack, which has no Geneve socket). RFC 1812 sends fragmentation-needed
 *    only for DF packets, so none is sent; the counter says what happened.
 *  - IPv6: ICMPv6 Packet Too Big (type 2, RFC 4443 3.2), MTU as above, quoting
 *    as much of the client's packet (DNAT undone) as fits in 1280 bytes.
 *    A packet under 1280 bytes, or an MTU left under 1280 (an underlay that
 *    cannot carry IPv6 in Geneve, RFC 8200 5), is dropped without an answer:
 *    a PMTU under 1280 is one no IPv6 node takes (RFC 8201 4).
 * GSO packets (merged on receive) pass: they are segmented on the way out, and
 * the flow's first packets were checked. The MTU is the underlay device's own
 * (bpf_check_mtu: the device the packet came in by and leaves by), which
 * xcnid also reads for xcni_config.underlay_mtu and the pods' MTU.
 */
#ifndef XCNI_PTB_H
#define XCNI_PTB_H

#include "config.h"
#include "encap.h"
#include "encap6.h"
#include "ipv6.h"
#include "lb.h"
#include "lb6.h"

/* np_too_big, np6_too_big: the packet fits (nothing touched), go on. */
#define NP_FITS (-1)

/* The IPv6 minimum link MTU (RFC 8200 5): a Packet Too Big is this long at most. */
#define PTB6_LEN 1280
#define PTB6_QUOTE (PTB6_LEN - sizeof(struct xcni_ip6hdr) - 8)

/*
 * An IP packet of l3_len bytes from the underlay, encapsulated with encap
 * bytes more: 1 when that passes the device's MTU (*room: the largest inner
 * packet that fits), else 0. GSO packets: 0.
 */
static __always_inline int np_over_mtu(struct __sk_buff *skb, __u32 l3_len, __u32 encap,
				       __u32 *room)
{
	/* In: the L3 length (the helper adds the device's header length); out: the MTU. */
	__u32 mtu = l3_len;

	if (skb->gso_size || !l3_len ||
	    bpf_check_mtu(skb, 0, &mtu, (__s32)encap, 0) != BPF_MTU_CHK_RET_FRAG_NEEDED)
		return 0;
	*room = mtu > encap ? mtu - encap : 0;
	return 1;
}

/*
 * The hot path's test before np_too_big/np6_too_big (globals that read the
 * packet again): could the packet not fit with encap bytes more? skb->len
 * less the Ethernet header bounds the L3 length from above, so 0 means it
 * fits and nothing else is read; 1 leaves the exact answer to the global.
 */
static __always_inline int np_maybe_over(struct __sk_buff *skb, __u32 encap)
{
	__u32 room;

	return skb->len > ETH_HLEN && np_over_mtu(skb, skb->len - ETH_HLEN, encap, &room);
}

/*
 * IPv4 from outside, translated to a backend on another node (DNAT only; orig:
 * the tuple as the client sent it), before from_outside's SNAT: NP_FITS, or the
 * TC verdict for a packet too big (drop-too-big): TC_ACT_REDIRECT with the
 * fragmentation-needed sent back out the underlay, TC_ACT_SHOT without.
 * Global: its frame is not from_outside's.
 */
__attribute__((noinline)) int np_too_big(struct __sk_buff *skb, const struct xcni_ct_key *orig)
{
	/* A second look at the caller's packet: a first fragment's ports are
	 * the caller's parses' to stage (frag_first), not this one's. */
	struct pkt p = { .frag_first = 2 };
	struct cursor c;
	__u32 room = 0, csum_off;
	__u64 mangled;
	int l4;

	if (!skb || !orig || reparse(skb, &c, &p))
		return NP_FITS;
	if (!np_over_mtu(skb, bpf_ntohs(p.ip->tot_len), XCNI_ENCAP_LEN, &room))
		return NP_FITS;
	/* Without DF (or a fragment, which has no business with DF): dropped. */
	if ((p.ip->frag_off & bpf_htons(0x7fff)) != bpf_htons(0x4000) || room < 68 ||
	    room > 0xffff)
		return TC_ACT_SHOT;
	/* The packet as the client sent it, for the quote: lb_nat's rewrite but
	 * for SCTP's CRC (lb_nat's call for it would take the call chain past
	 * the verifier's 512 bytes of stack), which the quote's 8 bytes do not
	 * reach. */
	csum_off = ETH_HLEN + p.l3_len +
		   (p.tuple.proto == IPPROTO_TCP ? offsetof(struct tcphdr, check) :
						   offsetof(struct udphdr, check));
	mangled = p.tuple.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	l4 = p.tuple.proto == IPPROTO_TCP || p.tuple.proto == IPPROTO_UDP;
	if ((l4 && (bpf_l4_csum_replace(skb, csum_off, p.tuple.daddr, orig->daddr,
					mangled | BPF_F_PSEUDO_HDR | sizeof(orig->daddr)) ||
		    bpf_l4_csum_replace(skb, csum_off, p.tuple.dport, orig->dport,
					mangled | sizeof(orig->dport)))) ||
	    bpf_l3_csum_replace(skb, IPCSUM_OFF, p.tuple.daddr, orig->daddr, sizeof(orig->daddr)) ||
	    bpf_skb_store_bytes(skb, IP_DADDR_OFF, &orig->daddr, sizeof(orig->daddr), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + p.l3_len + 2, &orig->dport, sizeof(orig->dport),
				0) ||
	    reparse(skb, &c, &p))
		return TC_ACT_SHOT;
	if (lb_answer(skb, &p, (__u16)room))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

/* The first 48 bytes of a Packet Too Big: IPv6 header, ICMPv6 header with the MTU. */
struct ptb6_hdr {
	struct xcni_ip6hdr ip;
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 mtu;
};

/*
 * The client's packet (as it sent it, Ethernet at 0) made its Packet Too Big
 * with MTU room, from p->tuple.daddr (the frontend) to p->tuple.saddr: 48
 * bytes of headers pushed in front of the packet, the packet cut to 1280
 * bytes, the checksum over all of it. 0 or -1.
 */
static __always_inline int np6_ptb(struct __sk_buff *skb, const struct pkt6 *p, __u32 room)
{
	struct ptb6_hdr h = {};
	__u8 macs[2 * ETH_ALEN];
	__be32 tail[2];
	void *data, *end;
	__s64 sum;

	if (bpf_skb_load_bytes(skb, ETH_ALEN, macs, ETH_ALEN) ||
	    bpf_skb_load_bytes(skb, 0, macs + ETH_ALEN, ETH_ALEN))
		return -1;
	h.ip.vtc = 0x60;
	h.ip.hop_limit = 64;
	h.ip.nexthdr = XCNI_IPPROTO_ICMPV6;
	h.ip.payload_len = bpf_htons(PTB6_LEN - sizeof(struct xcni_ip6hdr));
	__builtin_memcpy(h.ip.saddr, p->tuple.daddr, 16);
	__builtin_memcpy(h.ip.daddr, p->tuple.saddr, 16);
	h.type = ICMP6_PACKET_TOO_BIG;
	h.mtu = bpf_htonl(room);
	/* Room for the headers in front, the quote cut to what fits, all of it linear. */
	if (bpf_skb_adjust_room(skb, sizeof(h), BPF_ADJ_ROOM_MAC, 0) ||
	    bpf_skb_change_tail(skb, ETH_HLEN + PTB6_LEN, 0) ||
	    bpf_skb_pull_data(skb, ETH_HLEN + PTB6_LEN))
		return -1;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (data + ETH_HLEN + PTB6_LEN > end)
		return -1;
	/* Pseudo-header (addresses, upper-layer length, next header), the
	 * ICMPv6 header, then the quote in pieces bpf_csum_diff takes (512 bytes). */
	tail[0] = bpf_htonl(PTB6_LEN - sizeof(struct xcni_ip6hdr));
	tail[1] = bpf_htonl(XCNI_IPPROTO_ICMPV6);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)h.ip.saddr, 32, 0);
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, tail, sizeof(tail), sum);
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&h.type, 8, sum);
	data += ETH_HLEN + sizeof(h);
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, data, 512, sum);
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, data + 512, 512, sum);
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, data + 1024, PTB6_QUOTE - 1024, sum);
	if (sum < 0)
		return -1;
	h.checksum = csum_fold((__u32)sum);
	if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &h, sizeof(h), 0))
		return -1;
	return 0;
}

_Static_assert(PTB6_QUOTE > 1024 && PTB6_QUOTE - 1024 <= 512 && !(PTB6_QUOTE % 4),
	       "the quote's checksum in three pieces");

/*
 * IPv6 from outside (from_outside6), translated to a backend on another node
 * (DNAT only; st->orig: the tuple as the client sent it), before the SNAT or
 * DSR: NP_FITS, or the TC verdict for a packet too big (drop-too-big):
 * TC_ACT_REDIRECT with the Packet Too Big sent back out the underlay,
 * TC_ACT_SHOT without. The encapsulation's length from the underlay that
 * reaches the backend's node (tunnel_of); none: NP_FITS (the SNAT or DSR
 * says why). Global: its frame is not from_outside6's.
 */
__attribute__((noinline)) int np6_too_big(struct __sk_buff *skb, struct pkt6 *p,
					  const struct lb6_state *st)
{
	const struct xcni_ipcache_val *dipc;
	__u32 tunnel, room = 0, len;
	__be16 plen;

	if (!skb || !p || !st)
		return NP_FITS;
	dipc = ipcache6_lookup(p->tuple.daddr);
	tunnel = dipc && (dipc->flags & XCNI_IPC_POD) ? tunnel_of(dipc, node_ip) : 0;
	if (!tunnel ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct xcni_ip6hdr, payload_len), &plen, 2))
		return NP_FITS;
	/* A jumbogram (payload length 0) is encap_in_take6's to refuse. */
	len = bpf_ntohs(plen);
	if (!len)
		return NP_FITS;
	len += sizeof(struct xcni_ip6hdr);
	if (!np_over_mtu(skb, len, encap_len_of(tunnel), &room))
		return NP_FITS;
	if (len < PTB6_LEN || room < PTB6_LEN)
		return TC_ACT_SHOT;
	/* The packet as the client sent it, for the quote. SCTP: the address
	 * (lb6_nat) and the port, its CRC left (lb6_sctp_port's call would take
	 * the chain past the verifier's 512 bytes; nobody checks a quote's CRC). */
	if (lb6_nat(skb, p, IP6_DADDR_OFF, p->tuple.daddr, st->orig.daddr, 2, p->tuple.dport,
		    st->orig.dport) ||
	    (p->tuple.proto == IPPROTO_SCTP && !p->frag_later &&
	     bpf_skb_store_bytes(skb, p->l4_off + 2, &st->orig.dport, 2, 0)))
		return TC_ACT_SHOT;
	__builtin_memcpy(p->tuple.daddr, st->orig.daddr, 16);
	p->tuple.dport = st->orig.dport;
	if (np6_ptb(skb, p, room))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

#endif
