/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP for NodePorts, externalIPs and load-balancer IPs (nodeport.h), both
 * families:
 *  - path MTU for the flows nodeport.h sends encapsulated to a backend on
 *    another node: a client's packet that would not fit the underlay is
 *    answered with fragmentation needed or Packet Too Big (np4_too_big,
 *    np6_too_big; drop-too-big);
 *  - ICMP errors about a translated flow, carried across the translation:
 *    from outside about a reply this node sent, made the backend's
 *    (lb_icmp_np_rev; delivered by ovl_icmp4/6); from the backend's
 *    side about a flow this node SNATed, reversed to the client
 *    (nodeport_icmp: lb_icmp_snat_rev). Each one body for both families
 *    over flow.h's struct icmp_err, the quote read and written by the
 *    family's icmp_err_read and icmp_err_write.
 * The sections below say each part's rules.
 *
 * It uses the plan's rules (nodeport_plan.h: nodeport6_self, np4_tunnel)
 * and tc's writes (nodeport_tc.h: np_into_pod, nodeport_encap,
 * nodeport6_encap_call); nodeport.h's paths (from_outside,
 * nodeport4_reply) use it.
 */
#ifndef XCNI_NODEPORT_ICMP_H
#define XCNI_NODEPORT_ICMP_H

#include <stddef.h>

#include "compat.h"
#include "config.h"
#include "conntrack.h"
#include "encap.h"
#include "exit.h"
#include "ipcache.h"
#include "lb.h"
#include "maps.h"
#include "nodeport_tc.h"
#include "parse.h"

/*
 * Path MTU for traffic from outside to an external frontend (NodePort,
 * externalIP, load-balancer IP) whose backend is on another node: from_outside
 * (IPv4) and ovl_outside6 send it in Geneve, 50 bytes more over
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
 *    as the client sent it: the DNAT is undone first (lb4_nat back to the
 *    frontend), so the client's stack finds its socket. Built by lb.h's
 *    lb4_answer, the machinery of the refusal for want of a backend.
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

/* np4_too_big, np6_too_big: the packet fits (nothing touched), go on. */
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
 * The hot path's test before np4_too_big/np6_too_big (globals that read the
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
 * encap: the encapsulation's bytes (XCNI_ENCAP_LEN; XCNI_ENCAP6_LEN to a
 * node behind the IPv6 underlay). Global: its frame is not from_outside's.
 */
__attribute__((noinline)) int np4_too_big(struct __sk_buff *skb, const struct xcni_ct_key *orig,
					  __u32 encap)
{
	/* A second look at the caller's packet: a first fragment's ports, a
	 * last fragment's place, are the caller's parses' to stage (frag_first,
	 * frag_later), not this one's. */
	struct pkt p = { .frag_first = 2, .frag_last = 2 };
	struct cursor c;
	__u32 room = 0, csum_off;
	__u64 mangled;
	int l4;

	if (!skb || !orig || reparse4(skb, &c, &p))
		return NP_FITS;
	if (!np_over_mtu(skb, bpf_ntohs(p.ip->tot_len), encap, &room))
		return NP_FITS;
	/* Without DF (or a fragment, which has no business with DF): dropped. */
	if ((p.ip->frag_off & bpf_htons(0x7fff)) != bpf_htons(0x4000) || room < 68 ||
	    room > 0xffff)
		return TC_ACT_SHOT;
	/* The packet as the client sent it, for the quote: lb4_nat's rewrite but
	 * for SCTP's CRC (lb4_nat's call for it would take the call chain past
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
	    reparse4(skb, &c, &p))
		return TC_ACT_SHOT;
	if (lb4_answer(skb, &p, (__u16)room))
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

/*
 * IPv6 from outside (ovl_outside6), translated to a backend on another node
 * (DNAT only; st->orig: the tuple as the client sent it), before the SNAT or
 * DSR: NP_FITS, or the TC verdict for a packet too big (drop-too-big):
 * TC_ACT_REDIRECT with the Packet Too Big sent back out the underlay,
 * TC_ACT_SHOT without. encap: as np4_too_big's, by the underlay that reaches
 * the backend's node. Global: its frame is not ovl_outside6's.
 */
__attribute__((noinline)) int np6_too_big(struct __sk_buff *skb, struct pkt6 *p,
					  const struct lb6_state *st, __u32 encap)
{
	__u32 room = 0, len;
	int sctp;
	__be16 plen;

	if (!skb || !p || !st ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct xcni_ip6hdr, payload_len), &plen, 2))
		return NP_FITS;
	/* A jumbogram (payload length 0) is encap_in_take6's to refuse. */
	len = bpf_ntohs(plen);
	if (!len)
		return NP_FITS;
	len += sizeof(struct xcni_ip6hdr);
	if (!np_over_mtu(skb, len, encap, &room))
		return NP_FITS;
	if (len < PTB6_LEN || room < PTB6_LEN)
		return TC_ACT_SHOT;
	/* The packet as the client sent it, for the quote. SCTP: the address
	 * (lb6_nat, its port left as it is) and the port, its CRC left as
	 * np4_too_big leaves IPv4's (nobody checks a quote's CRC). */
	sctp = p->tuple.proto == IPPROTO_SCTP;
	if (lb6_nat(skb, pkt_flow(p), IP6_DADDR_OFF, p->tuple.daddr, st->orig.daddr, 2, p->tuple.dport,
		    sctp ? p->tuple.dport : st->orig.dport) ||
	    (sctp && !p->frag_later &&
	     bpf_skb_store_bytes(skb, p->l4_off + 2, &st->orig.dport, 2, 0)))
		return TC_ACT_SHOT;
	__builtin_memcpy(p->tuple.daddr, st->orig.daddr, 16);
	p->tuple.dport = st->orig.dport;
	if (np6_ptb(skb, p, room))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

_Static_assert(PTB6_QUOTE > 1024 && PTB6_QUOTE - 1024 <= 512 && !(PTB6_QUOTE % 4),
	       "the quote's checksum in three pieces");

/*
 * An ICMP or ICMPv6 error from outside about a reply this node sent for a
 * NodePort (or externalIP) flow: a router between this node and the client
 * says fragmentation needed or Packet Too Big, unreachable, time exceeded,
 * parameter problem, quoting frontend:port -> client:port, a flow only the
 * backend has a socket for. Without this the backend never learns that its
 * replies are too big for the client's path (IPv6 routers never fragment:
 * path MTU discovery is the only way, and large replies to a NodePort
 * client were black-holed).
 *
 * Translated for the backend, as the backend sent the reply (after the
 * NodePort cases nodeport.h lists):
 *  - a backend on this node (DNAT only; lb_rev_nat made its replies the
 *    frontend's): the quote's source becomes the backend's address and
 *    port, the client stays; the error goes to the backend from the router
 *    that sent it;
 *  - a backend on another node, SNATed (the service entry's nat_port; the
 *    client in the flow's entry for IPv4, in xcni_snat for IPv6:
 *    np_snat_client): the quote becomes backend:port -> this node:nat port,
 *    and the error comes from this node (from the backend's side the path
 *    ends here, and the backend's node takes inner sources of this node
 *    only);
 *  - DSR (nodeport.h): the backend's node answered the client from this
 *    node's frontend, so an error about that reply comes to the frontend,
 *    here, not to the backend's node; the flow's entry here (client ->
 *    backend, XCNI_CT_F_DSR) identifies it: the quote becomes backend:port
 *    -> client:port, and the error comes from this node, as with SNAT.
 * The caller delivers it: into the pod, or through Geneve to its node. The
 * checksums: icmp_err_write's. This node's address: IPv4's node_ip, IPv6's
 * the frontend's or its InternalIP (nodeport6_self).
 *
 * The error at icmp, either family (fam a constant): 1 when rewritten, 0
 * when it is no such error (nothing written), -1 when a rewrite failed
 * halfway (drop it). In lb_icmp_np_rev_call's frame, reading with
 * bpf_skb_load_bytes, not through packet pointers.
 */
static __always_inline int lb_icmp_np_rev(struct __sk_buff *skb, int fam, __u32 icmp)
{
	struct icmp_err *n, *o = icmp_err_pair(&n);
	const struct xcni_ct_entry *e, *fe;
	const struct xcni_backend *be;
	const void *self = NULL, *client;
	struct np6_tmp *t = NULL;
	__u32 zero = 0, self4 = node_ip;
	__u16 cport;

	/* About what this node sent: the error comes to the quote's source. */
	if (!o || icmp_err_read(skb, fam, icmp, o) ||
	    !lb_addr_eq(tuple_saddr(&o->quote, fam), icmp_err_dst(o, fam), fam))
		return 0;
	/* The service entry: the flow as the client sent it, client -> frontend. */
	*n = *o;
	lb_tuple_turn(&n->quote, fam);
	e = ct_find(fam, &n->quote);
	if (!e || !(e->flags & XCNI_CT_F_SVC))
		return 0;
	be = bpf_map_lookup_elem(&xcni_backend, &e->backend_id);
	if (!be || be->family != fam ||
	    (fam == XCNI_AF_INET6 && !(t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero))))
		return 0;
	/* The flow's own entry, as the backend knows the flow: from the client,
	 * or from this node's SNAT port. */
	if (e->nat_port) {
		self = fam == XCNI_AF_INET ? (const void *)&self4 : nodeport6_self(o->quote.v6.saddr, t);
		if (!self)
			return 0;
		lb_addr_put(tuple_saddr(&n->quote, fam), self, fam);
		tuple_sport(&n->quote, fam) = e->nat_port;
	}
	lb_addr_put(tuple_daddr(&n->quote, fam), be->addr, fam);
	tuple_dport(&n->quote, fam) = be->port;
	fe = ct_find(fam, &n->quote);
	if (!fe || !(fe->flags & XCNI_CT_F_NODEPORT))
		return 0;
	/* SNATed: the flow's client is the quote's. */
	if (e->nat_port && (!(fe->flags & XCNI_CT_F_SNAT) ||
			    np_snat_client(fam, fe, &n->quote, &client, &cport) ||
			    !lb_addr_eq(client, tuple_daddr(&o->quote, fam), fam) ||
			    cport != tuple_dport(&o->quote, fam)))
		return 0;
	if (!e->nat_port && (fe->flags & XCNI_CT_F_DSR)) {
		self = fam == XCNI_AF_INET ? (const void *)&self4 : nodeport6_self(o->quote.v6.saddr, t);
		if (!self)
			return 0;
	}
	/* The quote: from the backend, to the client as the backend sees it;
	 * the error to the backend, from this node when it SNATed the flow or
	 * the flow is DSR, else from the router that sent it. */
	lb_tuple_turn(&n->quote, fam);
	if (self)
		lb_addr_put(n->outer, self, fam);
	lb_addr_put(icmp_err_dst(n, fam), be->addr, fam);
	return icmp_err_write(skb, fam, icmp, o, n) ? -1 : 1;
}

/* lb_icmp_np_rev in a frame of its own (from_overlay's and ovl_icmp4/6's are under it). */
__attribute__((noinline)) int lb_icmp_np_rev_call(struct __sk_buff *skb, int fam, __u32 icmp)
{
	if (!skb)
		return 0;
	if (fam == XCNI_AF_INET)
		return lb_icmp_np_rev(skb, XCNI_AF_INET, icmp);
	return lb_icmp_np_rev(skb, XCNI_AF_INET6, icmp);
}

/*
 * From outside (lb_enabled), either family (fam: XCNI_AF_INET or
 * XCNI_AF_INET6, the hook's): an ICMP or ICMPv6 error about a reply this
 * node sent for a NodePort flow (the quote made the backend's:
 * lb_icmp_np_rev), for its backend: into the pod
 * when it is here (related to the flow the pod accepted: not judged again;
 * np_into_pod, the family's TTL or hop limit), else through
 * Geneve to its node (IPv4: nodeport_encap over the IPv4 underlay; IPv6:
 * nodeport6_encap_call over the underlay that reaches it, as the flow's requests
 * went). UL_NEXT for anything else, nothing touched (from_outside goes on
 * with it). IPv6: only an error right after the IPv6 header (routers add no
 * extension headers). The frame of a program of its own (from_overlay's
 * ovl_icmp4/6), only for what np_icmp_peek took for the family's ICMP.
 */
static __always_inline int np_outside_icmp(struct __sk_buff *skb, struct pkt *p4, struct pkt6 *p6,
					   int fam)
{
	struct flow *f = pkt_pair_flow(p4, p6, fam);
	struct xcni_endpoint *dst;
	struct verdict v = {};
	struct cursor c;
	__u32 tunnel;
	int reason, verdict = TC_ACT_OK, r;

	f->len = skb->len;
	/* IPv4: not a later fragment (IPv6 asked no such thing before: an
	 * explicit family branch, kept as it was). */
	if (pkt_parse(skb, fam, &c, p4, p6) ||
	    flow_proto(f, fam) != flow_icmp_proto(fam) || f->is_echo ||
	    (fam == XCNI_AF_INET && f->frag_later))
		return UL_NEXT;
	r = lb_icmp_np_rev_call(skb, fam, ETH_HLEN + (fam == XCNI_AF_INET ? f->l3_len :
								      sizeof(struct xcni_ip6hdr)));
	if (!r)
		return UL_NEXT;
	if (r < 0)
		reason = XCNI_DROP_REDIRECT;
	else
		reason = pkt_parse(skb, fam, &c, p4, p6);
	if (reason)
		goto out;
	if (fam == XCNI_AF_INET)
		dst = bpf_map_lookup_elem(&xcni_endpoints, &f->tuple.v4.daddr);
	else
		dst = bpf_map_lookup_elem(&xcni_endpoints6, f->tuple.v6.daddr);
	if (dst) {
		reason = np_into_pod(skb, p4, p6, fam, dst, &verdict);
		goto out;
	}
	if (fam == XCNI_AF_INET) {
		const __u8 *dst6;

		tunnel = np4_tunnel(f->tuple.v4.daddr, &dst6);
		if (tunnel) {
			struct encap_in in;

			reason = nodeport_encap(skb, p4, p6, fam, tunnel, dst6, NULL, &in,
						&verdict);
		} else {
			reason = XCNI_DROP_NO_TUNNEL;
		}
	} else {
		reason = nodeport6_encap_call(skb, p6, 0, 0);
		if (reason == XCNI_FWD_ENCAP)
			verdict = TC_ACT_REDIRECT;
	}
out:
	return finish_flow(skb, fam, reason, XCNI_DIR_FROM_OVERLAY, 0, pkt_pair_flow(p4, p6, fam),
			   verdict, &v);
}

/*
 * The family's ICMP (fam a constant), at a look: from_overlay's entry sends
 * only that to np_outside_icmp (ovl_icmp4/6), the rest from outside
 * straight to from_outside.
 */
static __always_inline int np_icmp_peek(struct __sk_buff *skb, int fam)
{
	__u8 proto = 0;

	return !bpf_skb_load_bytes(skb, fam == XCNI_AF_INET ?
						ETH_HLEN + offsetof(struct iphdr, protocol) :
						ETH_HLEN + offsetof(struct xcni_ip6hdr, nexthdr),
				   &proto, 1) &&
	       proto == flow_icmp_proto(fam);
}

/*
 * An ICMP or ICMPv6 error about a NodePort flow this node SNATed to a remote
 * backend (XCNI_CT_F_SNAT), decapsulated from the backend's node: port
 * unreachable from a UDP backend, fragmentation needed or Packet Too Big on
 * the way. It quotes the packet as the backend got it (this node:nat port
 * -> backend:port) and is addressed to this node, whose stack knows no such
 * flow: so the client would never learn, say, that its packets are too big
 * (its path MTU discovery broken). Made the client's: the quote becomes
 * client:port -> frontend:port as the client sent it (the client:
 * np_snat_client), the error goes to the client, from the frontend (IPv4:
 * from the client's side the path ends there; IPv6: when the backend itself
 * sent it, else from the router that did). The checksums: icmp_err_write's.
 * The error at icmp, either family (fam a constant): 1 when rewritten (to
 * be sent out the underlay), 0 when it is no such error (nothing written),
 * -1 when a rewrite failed halfway (drop it). In lb_icmp_snat_rev_call's
 * frame, verified on its own, reading with bpf_skb_load_bytes.
 */
static __always_inline int lb_icmp_snat_rev(struct __sk_buff *skb, int fam, __u32 icmp)
{
	struct icmp_err *n, *o = icmp_err_pair(&n);
	const struct xcni_ct_entry *e;
	const struct xcni_revnat *rn;
	const void *client;
	__u16 cport;

	/* To this node: the error comes to the quote's source. */
	if (!o || icmp_err_read(skb, fam, icmp, o) ||
	    !lb_addr_eq(tuple_saddr(&o->quote, fam), icmp_err_dst(o, fam), fam))
		return 0;
	e = ct_find(fam, &o->quote);
	if (!e || !(e->flags & XCNI_CT_F_SNAT) || !e->rev_nat ||
	    np_snat_client(fam, e, &o->quote, &client, &cport))
		return 0;
	rn = bpf_map_lookup_elem(&xcni_revnat, &e->rev_nat);
	if (!rn || rn->family != fam)
		return 0;
	*n = *o;
	lb_addr_put(tuple_saddr(&n->quote, fam), client, fam);
	lb_addr_put(tuple_daddr(&n->quote, fam), rn->addr, fam);
	tuple_sport(&n->quote, fam) = cport;
	tuple_dport(&n->quote, fam) = rn->port;
	lb_addr_put(icmp_err_dst(n, fam), client, fam);
	if (fam == XCNI_AF_INET ||
	    lb_addr_eq(o->outer, tuple_daddr(&o->quote, fam), fam))
		lb_addr_put(n->outer, rn->addr, fam);
	return icmp_err_write(skb, fam, icmp, o, n) ? -1 : 1;
}

/* lb_icmp_snat_rev in a frame of its own. */
__attribute__((noinline)) int lb_icmp_snat_rev_call(struct __sk_buff *skb, int fam, __u32 icmp)
{
	if (!skb)
		return 0;
	if (fam == XCNI_AF_INET)
		return lb_icmp_snat_rev(skb, XCNI_AF_INET, icmp);
	return lb_icmp_snat_rev(skb, XCNI_AF_INET6, icmp);
}

/*
 * An ICMP or ICMPv6 error for this node (decapsulated, from a backend's
 * node), either family: if it is about a NodePort flow this node SNATed,
 * made the client's (lb_icmp_snat_rev; off: IPv4's header length, the
 * ICMPv6 header's offset) and sent out the underlay. The reason
 * (XCNI_FWD_REPLY: redirected, *verdict set), or 0: not one, nothing touched.
 */
static __always_inline int nodeport_icmp(struct __sk_buff *skb, int fam, __u32 off, int *verdict)
{
	int r = lb_icmp_snat_rev_call(skb, fam, fam == XCNI_AF_INET ? ETH_HLEN + off : off);

	if (r < 0)
		return XCNI_DROP_REDIRECT;
	if (!r)
		return 0;
	*verdict = bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_REPLY : XCNI_DROP_REDIRECT;
}

#endif
