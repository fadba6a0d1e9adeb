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
 *    (lb4_icmp_np_rev, lb6_icmp_np_rev; delivered by from_outside_icmp,
 *    either family); from the backend's side about a flow this node
 *    SNATed, reversed to the client (nodeport_icmp: lb4_icmp_snat_rev,
 *    lb6_icmp_snat_rev).
 * The sections below say each part's rules.
 *
 * It uses nodeport_steps.h's steps (nodeport6_self, np_into_pod,
 * np4_tunnel, nodeport_encap, nodeport6_encap_call); nodeport.h's paths
 * (from_outside, nodeport4_reply) use it.
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
#include "nodeport_steps.h"
#include "parse.h"

/*
 * Path MTU for traffic from outside to an external frontend (NodePort,
 * externalIP, load-balancer IP) whose backend is on another node: from_outside
 * (IPv4) and from_outside6 send it in Geneve, 50 bytes more over
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
 * IPv6 from outside (from_outside6), translated to a backend on another node
 * (DNAT only; st->orig: the tuple as the client sent it), before the SNAT or
 * DSR: NP_FITS, or the TC verdict for a packet too big (drop-too-big):
 * TC_ACT_REDIRECT with the Packet Too Big sent back out the underlay,
 * TC_ACT_SHOT without. The encapsulation's length from the underlay that
 * reaches the backend's node (tunnel_of); none: NP_FITS (from_outside asked
 * np_tunnel before and dropped such a flow). Global: its frame is not
 * from_outside6's.
 */
__attribute__((noinline)) int np6_too_big(struct __sk_buff *skb, struct pkt6 *p,
					  const struct lb6_state *st)
{
	const struct xcni_ipcache_val *dipc;
	__u32 tunnel, room = 0, len;
	int sctp;
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
 * An ICMP error from outside about a reply this node sent for a NodePort (or
 * externalIP) flow: a router between this node and the client says
 * fragmentation needed, host unreachable, ... quoting frontend:port ->
 * client:port, a flow only the backend has a socket for. Translated for the
 * backend, as the backend sent the reply: the quote's source becomes the
 * backend's address and port; with a remote backend SNATed to this node
 * (the service entry's nat_port) its destination becomes this node and the
 * port it gave the flow, and the error comes from this node (from the
 * backend's side the path ends here, and the backend's node takes inner
 * sources of this node only); with a local backend the client stays, and
 * so does the error's source; a DSR flow (the backend's node answered the
 * client itself, from this node's frontend, so the error comes here) keeps
 * the client, and the error comes from this node, as with SNAT. The error
 * goes to the backend (the caller delivers it: into the pod, or through
 * Geneve). Checksums: the quote's IP header's, the error's IP header's, and
 * the ICMP checksum for every quoted word that changed (the quoted L4
 * checksum is left, as lb4_icmp_rev_nat leaves it).
 * l3_len: the outer IPv4 header's length. 1 when rewritten, 0 when it is no
 * such error (nothing written), -1 when a rewrite failed halfway (drop it).
 *
 * Inlined into from_overlay's from_outside_icmp, a global function of its
 * own (a third frame would take the call chain past the stack's 512 bytes);
 * it reads with bpf_skb_load_bytes, as lb4_icmp_rev_nat.
 */
static __always_inline int lb4_icmp_np_rev(struct __sk_buff *skb, __u32 l3_len, __u32 self)
{
	struct lb_icmp_quote q;
	struct xcni_ct_key k = {}, sk, fk = {};
	const struct xcni_ct_entry *e, *fe;
	const struct xcni_backend *be;
	__u32 icmp = ETH_HLEN + l3_len, quote = icmp + sizeof(struct xcni_icmphdr);
	__u32 csum_off = icmp + offsetof(struct xcni_icmphdr, checksum);
	__u32 qcheck = quote + offsetof(struct iphdr, check);
	__u32 saddr, daddr, baddr, qdst, osrc;
	__u16 bport, qdport, new_check;

	if (!skb || l3_len < sizeof(struct iphdr) || l3_len > 60 ||
	    bpf_skb_load_bytes(skb, IP_SADDR_OFF, &saddr, 4) ||
	    bpf_skb_load_bytes(skb, IP_DADDR_OFF, &daddr, 4) ||
	    lb4_icmp_quoted(skb, icmp, &q, &k) || q.in.saddr != daddr)
		return 0;
	/* The service entry: the flow as the client sent it, client -> frontend. */
	ct_reverse(&k, &sk);
	e = bpf_map_lookup_elem(&xcni_ct, &sk);
	if (!e || !(e->flags & XCNI_CT_F_SVC))
		return 0;
	be = bpf_map_lookup_elem(&xcni_backend, &e->backend_id);
	if (!be || be->family != XCNI_AF_INET)
		return 0;
	__builtin_memcpy(&baddr, be->addr, 4);
	bport = be->port;
	/* The flow's own entry, as the backend knows the flow. */
	fk.daddr = baddr;
	fk.dport = bport;
	fk.proto = k.proto;
	if (e->nat_port) {
		fk.saddr = self;
		fk.sport = e->nat_port;
	} else {
		fk.saddr = q.in.daddr;
		fk.sport = q.ports[1];
	}
	fe = bpf_map_lookup_elem(&xcni_ct, &fk);
	if (!fe || !(fe->flags & XCNI_CT_F_NODEPORT))
		return 0;
	if (e->nat_port && (!(fe->flags & XCNI_CT_F_SNAT) || fe->nat_addr != q.in.daddr ||
			    fe->nat_port != q.ports[1]))
		return 0;
	qdst = fk.saddr;
	qdport = fk.sport;
	/* From this node when it SNATed the flow, or sent it DSR to another node. */
	osrc = e->nat_port || (fe->flags & XCNI_CT_F_DSR) ? self : saddr;
	/* The quote: from the backend, to the client as the backend sees it. */
	if (bpf_l3_csum_replace(skb, qcheck, q.in.saddr, baddr, 4) ||
	    bpf_l3_csum_replace(skb, qcheck, q.in.daddr, qdst, 4) ||
	    bpf_skb_store_bytes(skb, quote + offsetof(struct iphdr, saddr), &baddr, 4, 0) ||
	    bpf_skb_store_bytes(skb, quote + offsetof(struct iphdr, daddr), &qdst, 4, 0) ||
	    bpf_skb_store_bytes(skb, quote + sizeof(struct iphdr), &bport, 2, 0) ||
	    bpf_skb_store_bytes(skb, quote + sizeof(struct iphdr) + 2, &qdport, 2, 0) ||
	    bpf_skb_load_bytes(skb, qcheck, &new_check, 2))
		return -1;
	/* ICMP's checksum has no pseudo header: the quote's words alone. */
	if (bpf_l4_csum_replace(skb, csum_off, q.in.saddr, baddr, 4) ||
	    bpf_l4_csum_replace(skb, csum_off, q.in.daddr, qdst, 4) ||
	    bpf_l4_csum_replace(skb, csum_off, q.in.check, new_check, 2) ||
	    bpf_l4_csum_replace(skb, csum_off, q.ports[0], bport, 2) ||
	    bpf_l4_csum_replace(skb, csum_off, q.ports[1], qdport, 2))
		return -1;
	/* The error itself: to the backend (from this node when it SNATed the flow). */
	if (bpf_l3_csum_replace(skb, IPCSUM_OFF, daddr, baddr, 4) ||
	    bpf_l3_csum_replace(skb, IPCSUM_OFF, saddr, osrc, 4) ||
	    bpf_skb_store_bytes(skb, IP_DADDR_OFF, &baddr, 4, 0) ||
	    bpf_skb_store_bytes(skb, IP_SADDR_OFF, &osrc, 4, 0))
		return -1;
	return 1;
}

/*
 * ICMPv6 errors from outside about an IPv6 NodePort (or externalIP) flow's
 * reply (lb4_icmp_np_rev for IPv6): a router between this node and
 * the client sends Packet Too Big, destination unreachable, time exceeded
 * or parameter problem about a reply this node sent, quoting
 * [frontend]:port -> [client]:port, a flow only the backend has a socket
 * for. Without this the backend never learns that its replies are too big
 * for the client's path: IPv6 routers never fragment, so path MTU discovery
 * is the only way, and large replies to a NodePort client were black-holed.
 *
 * Translated for the backend, as the backend sent the reply (after the
 * IPv6 NodePort cases nodeport.h lists):
 *  - a backend on this node (DNAT only; lb_rev_nat made its replies the
 *    frontend's): the quote's source becomes the backend's address and port,
 *    the client stays; the error goes to the backend from the router that
 *    sent it;
 *  - a backend on another node, SNATed (the service entry's nat_port, the
 *    client in xcni_snat6 under the flow's tuple): the quote becomes
 *    [backend]:port -> [this node]:nat port, and the error comes from this
 *    node (from the backend's side the path ends here, and the backend's
 *    node takes inner sources of this node only);
 *  - DSR (nodeport.h): the backend's node answered the client from this
 *    node's frontend, so an error about that reply comes to the frontend,
 *    here, not to the backend's node; the flow's entry here (client ->
 *    backend, XCNI_CT_F_DSR) identifies it: the quote becomes [backend]:port
 *    -> [client]:port, and the error comes from this node, as with SNAT.
 * The caller delivers it: into the pod, or through Geneve to its node.
 *
 * Checksums: IPv6 has no header checksum; the ICMPv6 checksum follows the
 * quote's addresses and ports (plain) and the error's own addresses
 * (pseudo-header). The quoted L4 checksum is left, as lb4_icmp_np_rev and
 * lb6_icmp_snat_rev leave it: nobody checks a quote's.
 */

/*
 * The ICMPv6 error of an skb whose IPv6 header has no extension headers
 * (ICMPv6 right after it, the caller's check) about a reply this node sent
 * for an IPv6 NodePort flow: rewritten for the backend as above. 1 when
 * rewritten, 0 when it is no such error (nothing written), -1 when a rewrite
 * failed halfway (drop it). A global function with a frame of its own
 * (from_overlay's and from_outside_icmp's are under it); it reads with
 * bpf_skb_load_bytes, not through packet pointers.
 */
__attribute__((noinline)) int lb6_icmp_np_rev(struct __sk_buff *skb)
{
	struct xcni_ct6_key k = {}, fk = {};
	const struct xcni_ct_entry *e, *fe;
	const struct xcni_backend *be;
	const struct xcni_snat6 *sn;
	const __u8 *self = NULL;
	struct np6_tmp *t;
	__u32 icmp = ETH_HLEN + sizeof(struct xcni_ip6hdr), q = icmp + 8, csum_off = icmp + 2;
	__u32 zero = 0;
	/* Words: in6_eq and bpf_csum_diff read them 4 bytes at a time. */
	__u32 a[8], na[8], nq[8];
	__be16 ports[2], np[2];
	__s64 diff;

	/* The error's addresses, and the quote: [frontend]:port -> [client]:port. */
	if (icmp6_err_quote(skb, icmp, a, 32, &k, ports))
		return 0;
	/* About what this node sent: the error comes to the quote's source. */
	if (!in6_eq(k.saddr, (const __u8 *)(a + 4)))
		return 0;
	k.sport = ports[0];
	k.dport = ports[1];
	/* The service entry: the flow as the client sent it, client -> frontend. */
	ct6_reverse(&k, &fk);
	e = bpf_map_lookup_elem(&xcni_ct6, &fk);
	if (!e || !(e->flags & XCNI_CT_F_SVC))
		return 0;
	be = bpf_map_lookup_elem(&xcni_backend, &e->backend_id);
	if (!be || be->family != XCNI_AF_INET6 || !(t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero)))
		return 0;
	/* The flow's own entry, as the backend knows the flow. */
	__builtin_memset(&fk, 0, sizeof(fk));
	__builtin_memcpy(fk.daddr, be->addr, 16);
	fk.dport = be->port;
	fk.proto = k.proto;
	if (e->nat_port) {
		self = nodeport6_self(k.saddr, t);
		if (!self)
			return 0;
		__builtin_memcpy(fk.saddr, self, 16);
		fk.sport = e->nat_port;
	} else {
		__builtin_memcpy(fk.saddr, k.daddr, 16);
		fk.sport = k.dport;
	}
	fe = bpf_map_lookup_elem(&xcni_ct6, &fk);
	if (!fe || !(fe->flags & XCNI_CT_F_NODEPORT))
		return 0;
	if (e->nat_port) {
		/* SNATed: the flow's client is the quote's. */
		sn = bpf_map_lookup_elem(&xcni_snat6, &fk);
		if (!(fe->flags & XCNI_CT_F_SNAT) || !sn || !in6_eq(sn->client, k.daddr) ||
		    sn->cport != k.dport)
			return 0;
	} else if (fe->flags & XCNI_CT_F_DSR) {
		self = nodeport6_self(k.saddr, t);
		if (!self)
			return 0;
	}
	/* The quote: from the backend, to the client as the backend sees it. */
	__builtin_memcpy(nq, be->addr, 16);
	__builtin_memcpy(nq + 4, fk.saddr, 16);
	np[0] = fk.dport;
	np[1] = fk.sport;
	diff = bpf_csum_diff((__be32 *)k.saddr, 32, nq, 32, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, 0) ||
	    bpf_l4_csum_replace(skb, csum_off, ports[0], np[0], 2) ||
	    bpf_l4_csum_replace(skb, csum_off, ports[1], np[1], 2) ||
	    bpf_skb_store_bytes(skb, q + offsetof(struct xcni_ip6hdr, saddr), nq, 32, 0) ||
	    bpf_skb_store_bytes(skb, q + sizeof(struct xcni_ip6hdr), np, 4, 0))
		return -1;
	/* The error itself: to the backend, from this node when it SNATed the
	 * flow or the flow is DSR, else from the router that sent it. */
	__builtin_memcpy(na, self ? self : (const __u8 *)a, 16);
	__builtin_memcpy(na + 4, be->addr, 16);
	diff = bpf_csum_diff(a, 32, na, 32, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, BPF_F_PSEUDO_HDR) ||
	    bpf_skb_store_bytes(skb, IP6_SADDR_OFF, na, 32, 0))
		return -1;
	return 1;
}

/*
 * From outside (lb_enabled), either family (fam: XCNI_AF_INET or
 * XCNI_AF_INET6, the hook's): an ICMP or ICMPv6 error about a reply this
 * node sent for a NodePort flow (the quote made the backend's: the family's
 * leaf, lb4_icmp_np_rev or lb6_icmp_np_rev), for its backend: into the pod
 * when it is here (related to the flow the pod accepted: not judged again;
 * np_into_pod, the family's TTL or hop limit), else through
 * Geneve to its node (IPv4: nodeport_encap over the IPv4 underlay; IPv6:
 * nodeport6_encap_call over the underlay that reaches it, as the flow's requests
 * went). UL_NEXT for anything else, nothing touched (from_outside goes on
 * with it). IPv6: only an error right after the IPv6 header (routers add no
 * extension headers). A global function with a frame of its own (from_overlay's
 * is at the verifier's limit), verified once for both families.
 */
static __always_inline int np_outside_icmp(struct __sk_buff *skb, void *p, int fam)
{
	struct flow *f = fam == XCNI_AF_INET ? pkt_flow((struct pkt *)p)
					     : pkt_flow((struct pkt6 *)p);
	struct xcni_endpoint *dst;
	struct verdict v = {};
	struct cursor c;
	__u32 tunnel;
	__u8 proto = 0;
	int reason, verdict = TC_ACT_OK, r;

	/* The common case first and cheaply: not the family's ICMP. */
	if (bpf_skb_load_bytes(skb, fam == XCNI_AF_INET ?
					    ETH_HLEN + offsetof(struct iphdr, protocol) :
					    ETH_HLEN + offsetof(struct xcni_ip6hdr, nexthdr),
			       &proto, 1) ||
	    proto != flow_icmp_proto(fam))
		return UL_NEXT;
	f->len = skb->len;
	/* IPv4: not a later fragment (IPv6 asked no such thing before: an
	 * explicit family branch, kept as it was). */
	if ((fam == XCNI_AF_INET ? reparse4(skb, &c, p) : parse_ipv6(skb, p)) ||
	    flow_proto(f, fam) != flow_icmp_proto(fam) || f->is_echo ||
	    (fam == XCNI_AF_INET && f->frag_later))
		return UL_NEXT;
	r = fam == XCNI_AF_INET ? lb4_icmp_np_rev(skb, f->l3_len, node_ip) : lb6_icmp_np_rev(skb);
	if (!r)
		return UL_NEXT;
	if (r < 0)
		reason = XCNI_DROP_REDIRECT;
	else
		reason = fam == XCNI_AF_INET ? reparse4(skb, &c, p) : parse_ipv6(skb, p);
	if (reason)
		goto out;
	if (fam == XCNI_AF_INET)
		dst = bpf_map_lookup_elem(&xcni_endpoints, &f->tuple.v4.daddr);
	else
		dst = bpf_map_lookup_elem(&xcni_endpoints6, f->tuple.v6.daddr);
	if (dst) {
		reason = np_into_pod(skb, p, fam, dst, &verdict);
		goto out;
	}
	if (fam == XCNI_AF_INET) {
		const __u8 *dst6;

		tunnel = np4_tunnel(f->tuple.v4.daddr, &dst6);
		if (tunnel) {
			struct encap_in in;

			reason = nodeport_encap(skb, p, fam, tunnel, dst6, &in, &verdict);
		} else {
			reason = XCNI_DROP_NO_TUNNEL;
		}
	} else {
		reason = nodeport6_encap_call(skb, p, 0);
		if (reason == XCNI_FWD_ENCAP)
			verdict = TC_ACT_REDIRECT;
	}
out:
	if (fam == XCNI_AF_INET)
		return finish(skb, reason, XCNI_DIR_FROM_OVERLAY, 0, (struct pkt *)p, verdict, &v);
	return finish6(skb, reason, XCNI_DIR_FROM_OVERLAY, 0, (struct pkt6 *)p, verdict, &v);
}

/* np_outside_icmp in a frame of its own, the family's packet in it. */
__attribute__((noinline)) int from_outside_icmp(struct __sk_buff *skb, int fam)
{
	if (!skb)
		return UL_NEXT;
	if (fam == XCNI_AF_INET) {
		struct pkt p = {};

		return np_outside_icmp(skb, &p, XCNI_AF_INET);
	} else {
		struct pkt6 p = {};

		return np_outside_icmp(skb, &p, XCNI_AF_INET6);
	}
}

/*
 * An ICMP error about a NodePort flow this node SNATed to a remote backend
 * (XCNI_CT_F_SNAT), decapsulated from the backend's node: it quotes the
 * packet as the backend got it (this node:nat port -> backend:port) and is
 * addressed to this node, whose stack knows no such flow. So the client
 * never learns, say, that its packets are too big (fragmentation needed
 * from the backend's side breaks its path MTU discovery). Translated back:
 * the quote becomes client:port -> frontend:port as the client sent it
 * (its IP checksum, and the ICMP checksum for every changed word), the
 * error goes to the client from the frontend (from the client's side the
 * path ends there). l3_len: the IPv4 header's length. 1 when rewritten (to
 * be sent out the underlay), 0 when it is no such error (nothing written),
 * -1 when a rewrite failed halfway (drop it).
 *
 * A global function, verified on its own, reading with bpf_skb_load_bytes
 * (as lb4_icmp_rev_nat).
 */
__attribute__((noinline)) int lb4_icmp_snat_rev(struct __sk_buff *skb, __u32 l3_len)
{
	struct lb_icmp_quote q;
	struct xcni_ct_key k = {};
	const struct xcni_ct_entry *e;
	const struct xcni_revnat *rn;
	__u32 icmp = ETH_HLEN + l3_len, quote = icmp + sizeof(struct xcni_icmphdr);
	__u32 csum_off = icmp + offsetof(struct xcni_icmphdr, checksum);
	__u32 qcheck = quote + offsetof(struct iphdr, check);
	__u32 vip, saddr, daddr, client;
	__u16 cport, new_check;

	if (!skb || l3_len < sizeof(struct iphdr) || l3_len > 60 ||
	    bpf_skb_load_bytes(skb, IP_SADDR_OFF, &saddr, 4) ||
	    bpf_skb_load_bytes(skb, IP_DADDR_OFF, &daddr, 4) ||
	    lb4_icmp_quoted(skb, icmp, &q, &k) || q.in.saddr != daddr)
		return 0;
	e = bpf_map_lookup_elem(&xcni_ct, &k);
	if (!e || !(e->flags & XCNI_CT_F_SNAT))
		return 0;
	client = e->nat_addr;
	cport = e->nat_port;
	rn = bpf_map_lookup_elem(&xcni_revnat, &e->rev_nat);
	if (!rn || rn->family != XCNI_AF_INET)
		return 0;
	__builtin_memcpy(&vip, rn->addr, 4);
	/* The quote: source back to the client, destination to the frontend. */
	if (bpf_l3_csum_replace(skb, qcheck, q.in.saddr, client, 4) ||
	    bpf_l3_csum_replace(skb, qcheck, q.in.daddr, vip, 4) ||
	    bpf_skb_store_bytes(skb, quote + offsetof(struct iphdr, saddr), &client, 4, 0) ||
	    bpf_skb_store_bytes(skb, quote + offsetof(struct iphdr, daddr), &vip, 4, 0) ||
	    bpf_skb_store_bytes(skb, quote + sizeof(struct iphdr), &cport, 2, 0) ||
	    bpf_skb_store_bytes(skb, quote + sizeof(struct iphdr) + 2, &rn->port, 2, 0) ||
	    bpf_skb_load_bytes(skb, qcheck, &new_check, 2))
		return -1;
	/* ICMP's checksum has no pseudo header: the quote's words alone. */
	if (bpf_l4_csum_replace(skb, csum_off, q.in.saddr, client, 4) ||
	    bpf_l4_csum_replace(skb, csum_off, q.in.daddr, vip, 4) ||
	    bpf_l4_csum_replace(skb, csum_off, q.in.check, new_check, 2) ||
	    bpf_l4_csum_replace(skb, csum_off, q.ports[0], cport, 2) ||
	    bpf_l4_csum_replace(skb, csum_off, q.ports[1], rn->port, 2))
		return -1;
	/* The error itself: to the client, from the frontend. */
	if (bpf_l3_csum_replace(skb, IPCSUM_OFF, daddr, client, 4) ||
	    bpf_l3_csum_replace(skb, IPCSUM_OFF, saddr, vip, 4) ||
	    bpf_skb_store_bytes(skb, IP_DADDR_OFF, &client, 4, 0) ||
	    bpf_skb_store_bytes(skb, IP_SADDR_OFF, &vip, 4, 0))
		return -1;
	return 1;
}

/*
 * An ICMPv6 error for this node's own address (decapsulated, from a backend's
 * node) quoting a NodePort flow nodeport6_snat SNATed (this node's
 * address:port -> the backend, in xcni_snat6): port unreachable from a UDP
 * backend, Packet Too Big on the way. Made the client's: the quote's source
 * back to the client, its destination to the frontend; the error to the
 * client, from the frontend when the backend itself sent it. The ICMPv6
 * checksum follows the quote (plain) and the outer addresses (pseudo-header);
 * the quoted L4 checksum, which nobody checks, is left. lb4_icmp_snat_rev's
 * IPv6 twin (the quote's parse and rewrite are the family's): 1 when
 * rewritten, 0 when not one (nothing touched), -1 when a rewrite failed.
 */
__attribute__((noinline)) int lb6_icmp_snat_rev(struct __sk_buff *skb, __u32 icmp)
{
	struct xcni_ct6_key k = {};
	const struct xcni_snat6 *sn;
	const struct xcni_ct_entry *e;
	const struct xcni_revnat *rn;
	__u32 q = icmp + 8, csum_off = icmp + 2;
	__u8 saddr[16], nq[32];
	__be16 ports[2];
	__s64 diff;

	if (icmp6_err_quote(skb, icmp, saddr, 16, &k, ports))
		return 0;
	k.sport = ports[0];
	k.dport = ports[1];
	sn = bpf_map_lookup_elem(&xcni_snat6, &k);
	e = bpf_map_lookup_elem(&xcni_ct6, &k);
	if (!sn || !e || !(e->flags & XCNI_CT_F_SNAT) || !e->rev_nat)
		return 0;
	rn = bpf_map_lookup_elem(&xcni_revnat, &e->rev_nat);
	if (!rn || rn->family != XCNI_AF_INET6)
		return 0;
	/* The quote: [this node, backend] -> [client, frontend], then the ports. */
	__builtin_memcpy(nq, sn->client, 16);
	__builtin_memcpy(nq + 16, rn->addr, 16);
	diff = bpf_csum_diff((__be32 *)k.saddr, 32, (__be32 *)nq, 32, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, 0) ||
	    bpf_l4_csum_replace(skb, csum_off, ports[0], sn->cport, sizeof(sn->cport)) ||
	    bpf_l4_csum_replace(skb, csum_off, ports[1], rn->port, sizeof(rn->port)) ||
	    bpf_skb_store_bytes(skb, q + offsetof(struct xcni_ip6hdr, saddr), nq, 32, 0) ||
	    bpf_skb_store_bytes(skb, q + sizeof(struct xcni_ip6hdr), &sn->cport, 2, 0) ||
	    bpf_skb_store_bytes(skb, q + sizeof(struct xcni_ip6hdr) + 2, &rn->port, 2, 0))
		return -1;
	/* To the client (the error came to this node's address, the quote's source). */
	diff = bpf_csum_diff((__be32 *)k.saddr, 16, (__be32 *)sn->client, 16, 0);
	if (diff < 0 ||
	    bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, BPF_F_PSEUDO_HDR) ||
	    bpf_skb_store_bytes(skb, IP6_DADDR_OFF, sn->client, 16, 0))
		return -1;
	/* Sent by the backend itself: from the frontend, as the client knows it. */
	if (in6_eq(saddr, k.daddr)) {
		diff = bpf_csum_diff((__be32 *)saddr, 16, (__be32 *)rn->addr, 16, 0);
		if (diff < 0 ||
		    bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, BPF_F_PSEUDO_HDR) ||
		    bpf_skb_store_bytes(skb, IP6_SADDR_OFF, rn->addr, 16, 0))
			return -1;
	}
	return 1;
}

/*
 * An ICMP or ICMPv6 error for this node (decapsulated, from a backend's
 * node), either family: if it is about a NodePort flow this node SNATed,
 * made the client's (the family's quote leaf: lb4_icmp_snat_rev, the IPv4
 * header's length at off; lb6_icmp_snat_rev, the ICMPv6 header at off) and
 * sent out the underlay. The reason (XCNI_FWD_REPLY: redirected, *verdict
 * set), or 0: not one, nothing touched.
 */
static __always_inline int nodeport_icmp(struct __sk_buff *skb, int fam, __u32 off, int *verdict)
{
	int r = fam == XCNI_AF_INET ? lb4_icmp_snat_rev(skb, off) : lb6_icmp_snat_rev(skb, off);

	if (r < 0)
		return XCNI_DROP_REDIRECT;
	if (!r)
		return 0;
	*verdict = bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_REPLY : XCNI_DROP_REDIRECT;
}

#endif
