/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NodePort DSR (direct server return) in Geneve, both families and both
 * underlays: the DSR option (the frontend a client's packet was meant for),
 * its encapsulation to the backend's node (geneve_encap_dsr, _dsr6,
 * geneve_encap_ul6_dsr), reading it on the backend's node
 * (dsr_opt_frontend: only to a backend of the frontend it names,
 * drop-dsr-not-backend) and the flow it opens there (from_overlay's overlay_into_pod). The
 * NodePort paths that use it are in nodeport.h.
 *
 * The node that takes a request for an external frontend (from_outside, or
 * the XDP plan) and sends it to a backend on another node keeps the
 * client's address (DNAT only) and names the frontend in a Geneve option of
 * our own class (struct xcni_geneve_dsr: class 0xfff0, type 0x81, critical,
 * 16 bytes of address and a family, so one option serves both families and
 * both underlays: 94 bytes of encapsulation over the IPv6 one). The
 * backend's node (overlay_decap_first) looks the frontend up in its own
 * Service maps (every node holds every node's EXT frontends) and keeps its
 * reverse-NAT index in the flow's entry (rev_nat, XCNI_CT_F_NODEPORT |
 * XCNI_CT_F_DSR) and the sending node's underlay address in nat_addr (an
 * IPv6 one folded: in6_fold); the backend's replies meet that entry in
 * from_pod (lb_rev_nat: the frontend as source) and leave by that node's
 * underlay, straight to the client. A packet that does not fit with the
 * option (or a GSO one) goes without it: the backend's node knows its flow
 * from the entry the first packet opened (dsr_flow_known), whichever of its
 * addresses the sending node speaks from by then (dsr_node_moved: a rolling
 * change of --tunnel-family).
 */
#ifndef XCNI_DSR_H
#define XCNI_DSR_H

#include <stddef.h>

#include "compat.h"
#include "config.h"
#include "conntrack.h"
#include "encap.h"
#include "exit.h"
#include "frag.h"
#include "ipcache.h"
#include "l2.h"
#include "lb.h"
#include "maps.h"
#include "parse.h"
#include "policy.h"
#include "sctp.h"

/* Options walked in a header with its critical bit set: more is a drop (one
 * beyond them could be an unknown critical one). */
#define GENEVE_OPTS_WALK 8

/* What DSR encapsulation writes after the outer Ethernet header: these,
 * then the inner Ethernet header (two stores: the frame stays small). */
struct outer_hdrs_dsr {
	struct iphdr ip;
	struct udphdr udp;
	struct geneve_hdr gnv;
	struct xcni_geneve_dsr opt;
};

/* What it writes after the outer IPv6 header's addresses (see outer6_hdrs). */
struct outer6_hdrs_dsr {
	__u8 ip6_head[8];
	struct udphdr udp;
	struct geneve_hdr gnv;
	struct xcni_geneve_dsr opt;
	struct ethhdr inner_eth;
};

_Static_assert(sizeof(struct xcni_geneve_dsr) == 24, "the DSR option is 6 words");
_Static_assert(sizeof(struct outer_hdrs_dsr) + sizeof(struct ethhdr) == XCNI_ENCAP_DSR_LEN,
	       "DSR encapsulation is 74 bytes");

/* The DSR option for the frontend fe (the tuple as the client sent it,
 * family fam): family, protocol, port (network order) and its address, 4 or
 * 16 bytes of it (the rest stays zero). */
static __always_inline void dsr_opt_fill(struct xcni_geneve_dsr *o, int fam,
					 const union xcni_tuple *fe)
{
	o->opt_class = bpf_htons(XCNI_GENEVE_OPT_CLASS);
	o->type = XCNI_GENEVE_OPT_DSR;
	o->len = (sizeof(*o) - 4) / 4;
	o->family = fam;
	if (fam == XCNI_AF_INET) {
		o->proto = fe->v4.proto;
		o->port = fe->v4.dport;
		__builtin_memcpy(o->addr, &fe->v4.daddr, 4);
	} else {
		o->proto = fe->v6.proto;
		o->port = fe->v6.dport;
		__builtin_memcpy(o->addr, fe->v6.daddr, 16);
	}
}

/* The Geneve header in front of the DSR option: 6 words of options, the C bit. */
static __always_inline void dsr_geneve_fill(struct geneve_hdr *g, __u32 vni_id)
{
	g->ver_optlen = sizeof(struct xcni_geneve_dsr) / 4;
	g->flags = XCNI_GENEVE_F_CRIT;
	g->proto = bpf_htons(XCNI_GENEVE_PROTO_ETH);
	g->vni_rsvd = bpf_htonl(vni_id << 8);
}

/*
 * The outer IPv4, UDP and Geneve headers in front of h->opt (the caller's,
 * dsr_opt_fill), node_vni this node's address << 32 | VNI, then the inner
 * Ethernet (the packet's own addresses, type inner_proto, network order).
 * An IPv6 inner packet's outer Ethernet header, the one it came with, is
 * made to say IPv4. Inlined into the encapsulations of either family: their
 * frames stay their own.
 */
/*
 * The outer IPv4, UDP and Geneve headers of DSR encapsulation in *h (on the
 * stack at tc, in the packet at XDP: every field written, the option left
 * to the caller's dsr_opt_fill), from node_vni (this node's address << 32 |
 * VNI) to tunnel_ip: what either hook writes (dsr_encap_ip4 at tc, the XDP
 * fast path of nodeport_xdp.h), so both send the same bytes.
 */
static __always_inline void dsr_outer4_fill(struct outer_hdrs_dsr *h, const struct encap_in *in,
					    __u32 tunnel_ip, __u64 node_vni)
{
	__u16 inner_len = in->inner_len;

	h->ip.version = 4;
	h->ip.ihl = 5;
	h->ip.tos = in->tos;
	h->ip.tot_len = bpf_htons(inner_len + XCNI_ENCAP_DSR_LEN);
	h->ip.id = 0;
	h->ip.frag_off = bpf_htons(0x4000);
	h->ip.ttl = 64;
	h->ip.protocol = IPPROTO_UDP;
	h->ip.check = 0;
	h->ip.saddr = node_vni >> 32;
	h->ip.daddr = tunnel_ip;
	h->ip.check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)&h->ip, sizeof(h->ip), 0));
	h->udp.source = bpf_htons(in->sport);
	h->udp.dest = bpf_htons(XCNI_GENEVE_PORT);
	h->udp.len = bpf_htons(inner_len + XCNI_ENCAP_DSR_LEN - sizeof(struct iphdr));
	h->udp.check = 0;
	dsr_geneve_fill(&h->gnv, node_vni & 0xffffff);
}

static __always_inline int dsr_encap_ip4(struct __sk_buff *skb, const struct encap_in *in,
					 struct outer_hdrs_dsr *h, __u32 tunnel_ip, __u64 node_vni,
					 __be16 inner_proto)
{
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 |
		      BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH |
		      BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN);
	__be16 ip_proto = bpf_htons(ETH_P_IP);

	dsr_outer4_fill(h, in, tunnel_ip, node_vni);
	if (encap_room(skb, XCNI_ENCAP_DSR_LEN, flags) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, h, sizeof(*h), 0))
		return XCNI_DROP_ENCAP;
	/* The inner Ethernet: the packet's own addresses (in->macs, in order),
	 * in the option's room (stored already). */
	__builtin_memcpy(h->opt.addr, in->macs, 2 * ETH_ALEN);
	*(__be16 *)(h->opt.addr + 2 * ETH_ALEN) = inner_proto;
	if (bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(*h), h->opt.addr, sizeof(struct ethhdr), 0))
		return XCNI_DROP_ENCAP;
	if (inner_proto != ip_proto &&
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_proto), &ip_proto, sizeof(ip_proto), 0))
		return XCNI_DROP_ENCAP;
	geneve_mark(skb);
	return 0;
}

/*
 * geneve_encap_in with the DSR option for the frontend the client asked for (fe:
 * the flow's tuple as the client sent it, of family fam: its destination and
 * port), from this node's address (node_ip) in its VNI (vni) to tunnel_ip,
 * between the Geneve header and the inner Ethernet (the header's option
 * length 6 words, its critical bit set), the inner Ethernet saying the inner
 * family, the outer IPv4. 0 or
 * a drop reason; packet pointers are stale afterwards. A function of its
 * own: its frame sits on top of from_overlay's, which is near the
 * verifier's limit.
 */
static __attribute__((noinline)) int geneve_encap_dsr(struct __sk_buff *skb,
						       const struct encap_in *in,
						       const union xcni_tuple *fe, int fam,
						       __u32 tunnel_ip)
{
	struct outer_hdrs_dsr h = {};

	dsr_opt_fill(&h.opt, fam, fe);
	return dsr_encap_ip4(skb, in, &h, tunnel_ip, (__u64)node_ip << 32 | vni,
			     bpf_htons(fam == XCNI_AF_INET ? ETH_P_IP : ETH_P_IPV6));
}

/*
 * The options of a Geneve header whose critical bit is set (RFC 8926 3.4:
 * the bit says at least one option is critical), optlen bytes at off: ours
 * is read into *dsr (family 0 when absent). 0, or XCNI_DROP_BAD_GENEVE for an
 * unknown critical option (the RFC's MUST drop), a list that does not add up
 * to optlen, a malformed DSR option, or more options than are walked.
 */
static __always_inline int geneve_opts_read(struct __sk_buff *skb, __u32 off, __u32 optlen,
					    struct xcni_geneve_dsr *dsr)
{
	struct {
		__be16 cls;
		__u8 type;
		__u8 len;
	} h;
	__u32 pos = 0, dlen;

	dsr->family = 0;
	for (int i = 0; i < GENEVE_OPTS_WALK; i++) {
		if (pos >= optlen)
			return 0;
		if (pos + 4 > optlen || bpf_skb_load_bytes(skb, off + pos, &h, sizeof(h)))
			return XCNI_DROP_BAD_GENEVE;
		dlen = (h.len & 0x1f) * 4;
		if (pos + 4 + dlen > optlen)
			return XCNI_DROP_BAD_GENEVE;
		if (h.cls == bpf_htons(XCNI_GENEVE_OPT_CLASS) && h.type == XCNI_GENEVE_OPT_DSR) {
			if (dlen != sizeof(*dsr) - 4 ||
			    bpf_skb_load_bytes(skb, off + pos, dsr, sizeof(*dsr)) ||
			    (dsr->family != XCNI_AF_INET && dsr->family != XCNI_AF_INET6))
				return XCNI_DROP_BAD_GENEVE;
		} else if (h.type & XCNI_GENEVE_OPT_CRIT) {
			return XCNI_DROP_BAD_GENEVE;
		}
		pos += 4 + dlen;
	}
	return pos >= optlen ? 0 : XCNI_DROP_BAD_GENEVE;
}

/* The external frontend an option names, as this node's maps have it (EXT scope). */
static __always_inline const struct xcni_svc *dsr_frontend(const struct xcni_geneve_dsr *o)
{
	struct xcni_svc_key k = {};

	__builtin_memcpy(k.addr, o->addr, sizeof(k.addr));
	k.port = o->port;
	k.family = o->family;
	k.proto = o->proto;
	k.scope = XCNI_SCOPE_EXT;
	return bpf_map_lookup_elem(&xcni_svc, &k);
}

/* What from_overlay4 and overlay_decap_first learnt of DSR (one word: their frames are at the verifier's limit). */
#define DSR_FE (1u << 16) /* this node has the frontend; its rev_nat in the low 16 bits */
#define DSR_OPT (1u << 17) /* the packet carries the option */
#define DSR_FLOW (1u << 18) /* its source is an outside client the sending node speaks for */

/*
 * The options of a Geneve packet that has some (optlen bytes after the
 * Geneve header, outer_len the outer IP header's length: IPv4's, or IPv6's
 * over the IPv6 underlay), when its header says a critical one is present
 * (geneve_opts_read), read before the decapsulation takes them away: 0
 * (*dsr DSR_OPT, and DSR_FE | the frontend's reverse-NAT index when this
 * node has it; 0 without the option), or a drop reason: an unknown critical
 * option, a malformed list, or a DSR option naming a frontend of another
 * family than the inner packet's (family, XCNI_AF_*). For from_overlay4 and
 * overlay_decap_first both; a function of its own: the option and the key sit in
 * its frame, not in theirs.
 */
static __attribute__((noinline)) int dsr_opt_frontend(struct __sk_buff *skb, __u32 optlen,
						       __u32 outer_len, __u32 family, __u32 *dsr)
{
	__u32 off = ETH_HLEN + outer_len + sizeof(struct udphdr);
	struct xcni_geneve_dsr opt;
	const struct xcni_svc *svc;
	struct geneve_hdr g;
	int r;

	*dsr = 0;
	if (bpf_skb_load_bytes(skb, off, &g, sizeof(g)))
		return XCNI_DROP_BAD_GENEVE;
	if (!(g.flags & XCNI_GENEVE_F_CRIT))
		return 0;
	r = geneve_opts_read(skb, off + sizeof(g), optlen, &opt);
	if (r || !opt.family)
		return r;
	/* The other family's frontend: its index must not rewrite this flow's replies. */
	if (opt.family != family)
		return XCNI_DROP_BAD_GENEVE;
	*dsr = DSR_OPT;
	svc = dsr_frontend(&opt);
	if (svc)
		*dsr |= DSR_FE | svc->rev_nat;
	return 0;
}

/*
 * A flow a DSR option opens must go to a backend of the frontend it names
 * (svc_id: its index, the low 16 bits of *dsr with DSR_FE): else a node's
 * process could send Geneve from its node's address that opens a flow from
 * any outside address into any pod here, whose replies then leave from the
 * frontend (a reflector past ipBlock rules). One lookup in xcni_svcbe, the
 * backends by key; addr is the inner destination (4 or 16 bytes by family),
 * port in network order. 0 or XCNI_DROP_DSR_NOT_BACKEND. A function of its
 * own: the key sits in its frame, not in from_overlay4 and overlay_decap_first's.
 */
static __attribute__((noinline)) int dsr_to_backend(__u32 svc_id, __u32 family, const __u8 *addr,
						    __u32 port)
{
	struct xcni_svcbe_key k = {};

	k.svc_id = svc_id;
	k.port = (__u16)port;
	k.family = (__u8)family;
	if (family == XCNI_AF_INET6)
		__builtin_memcpy(k.addr, addr, 16);
	else
		__builtin_memcpy(k.addr, addr, 4);
	return bpf_map_lookup_elem(&xcni_svcbe, &k) ? 0 : XCNI_DROP_DSR_NOT_BACKEND;
}

/* DSR's encapsulation over the IPv6 underlay: 70 + the option's 24 bytes. */
#define XCNI_ENCAP6_DSR_LEN (XCNI_ENCAP6_LEN + 24)

/* Stored from udp to the end of inner_eth (the struct's tail is padding). */
#define OUTER6_DSR_TAIL_LEN                                                                    \
	(offsetof(struct outer6_hdrs_dsr, inner_eth) + sizeof(struct ethhdr) -                 \
	 offsetof(struct outer6_hdrs_dsr, udp))

_Static_assert(sizeof(struct xcni_ip6hdr) + OUTER6_DSR_TAIL_LEN == XCNI_ENCAP6_DSR_LEN,
	       "DSR encapsulation over IPv6 is 94 bytes");

/*
 * geneve_encap_ul6 with the DSR option for the frontend fe (the flow's tuple
 * as the client sent it, of family fam: its destination and port), to the
 * node at dst6 (its ipcache entry's tunnel_ip6), the Geneve header's option
 * length 6 words and its C bit, the inner Ethernet saying the inner family.
 * An IPv4 inner packet's outer Ethernet header is made to say IPv6
 * (geneve_outer_done), as geneve_encap_ul6 does for an IPv4 NodePort's
 * SNATed flow. 0 or a drop reason; packet pointers are stale.
 */
static __attribute__((noinline)) int geneve_encap_ul6_dsr(struct __sk_buff *skb,
							   const struct encap_in *in,
							   const union xcni_tuple *fe, int fam,
							   const __u8 *dst6)
{
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 |
		      BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH |
		      BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN);
	__u32 plen = (__u32)in->inner_len + XCNI_ENCAP6_DSR_LEN - sizeof(struct xcni_ip6hdr);
	struct outer6_hdrs_dsr h = {};

	if (plen > 0xffff)
		return XCNI_DROP_ENCAP;
	dsr_opt_fill(&h.opt, fam, fe);
	__builtin_memcpy(h.inner_eth.h_dest, in->macs, ETH_ALEN);
	__builtin_memcpy(h.inner_eth.h_source, in->macs + ETH_ALEN, ETH_ALEN);
	h.inner_eth.h_proto = in->inner_proto;
	ul6_head_fill(h.ip6_head, in, plen);
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
	return geneve_outer_done(skb, in, bpf_htons(ETH_P_IPV6));
}

/*
 * dsr_flow_known's sender at the other underlay address of the node the
 * entry e names: a node of both families that sent the flow's first packet
 * from one InternalIP and sends the rest from the other (a rolling change
 * of --tunnel-family: it restarted with the other one). The sender (node
 * its IPv4 address and node6 NULL, or node6 and node that folded), a node of
 * the tunnel maps already, is the flow's when the ipcache's entry at that
 * address (a remote node at that very endpoint, as xcnid writes every
 * other node's InternalIPs: tunnel_set) names as its other endpoint the one
 * e keeps (IPv4, or IPv6 folded); e then keeps the sender's, so that the
 * flow's next packets are known at dsr_flow_known's first compare again.
 * Another node, of either family, names other endpoints: 0. Not inlined:
 * the callers' frames are at the verifier's limit, and few packets get here.
 */
static __attribute__((noinline)) int dsr_node_moved(struct xcni_ct_entry *e, __u32 node,
						    const __u8 *node6)
{
	const struct xcni_ipcache_val *n;
	__u32 other;

	if (!e)
		return 0;
	if (node6) {
		n = ipcache_find(XCNI_AF_INET6, node6);
		if (!n || n->identity != XCNI_ID_REMOTE_NODE || !in6_eq(n->tunnel_ip6, node6))
			return 0;
		other = n->tunnel_ip;
	} else {
		n = ipcache_find(XCNI_AF_INET, &node);
		if (!n || n->identity != XCNI_ID_REMOTE_NODE || n->tunnel_ip != node)
			return 0;
		other = in6_fold(n->tunnel_ip6);
	}
	if (!other || other != e->nat_addr)
		return 0;
	e->nat_addr = node;
	return 1;
}

/*
 * dsr_node_moved on a copy of node6 (outer6: the IPv6 underlay's sender)
 * made here, on the way there: the caller's node6 never has its address
 * taken, so the XDP path keeps the record's in registers as before.
 */
static __always_inline int dsr_node_moved_at(struct xcni_ct_entry *e, __u32 node,
					     const __u8 *node6, int outer6)
{
	__u8 a[16];

	if (!outer6)
		return dsr_node_moved(e, node, NULL);
	__builtin_memcpy(a, node6, 16);
	return dsr_node_moved(e, node, a);
}

/*
 * A packet of a DSR flow without the option (it did not fit): its entry
 * here, opened with the option, names the node that sent it (nat_addr: the
 * sending node's underlay IPv4, or its IPv6 folded, in6_fold), at this
 * address (node: IPv4; over the IPv6 underlay, outer6, node6's fold, node6
 * the address) or at its other one (dsr_node_moved).
 */
static __always_inline int dsr_flow_known(const struct flow *f, int fam, __u32 node,
					  const __u8 *node6, int outer6)
{
	struct xcni_ct_entry *e = ct_find(fam, &f->tuple);

	return e && (e->flags & XCNI_CT_F_DSR) &&
	       (e->nat_addr == node || dsr_node_moved_at(e, node, node6, outer6)) &&
	       ct_alive(e, bpf_ktime_get_ns(),
			fam == XCNI_AF_INET ? f->tuple.v4.proto : ct6_life_proto(f->tuple.v6.proto));
}

/*
 * A DSR flow's new entry: the node that opened it, for dsr_flow_known.
 * node NULL (from_overlay4: IPv4 over the IPv4 underlay, still
 * encapsulated): the outer source, read again from the packet; else *node,
 * held by the caller (overlay_decap_first, either inner family): the
 * sending node's underlay IPv6 folded (in6_fold), or its IPv4 address for
 * a packet decapsulated at XDP over the IPv4 underlay.
 */
static __attribute__((noinline)) void dsr_record(struct __sk_buff *skb, const struct flow *f,
						 int fam, const __u32 *node)
{
	struct xcni_ct_entry *e = bpf_map_lookup_elem(ct_map(fam), &f->tuple);
	__u32 from;

	if (!e)
		return;
	if (node) {
		from = *node;
	} else if (bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct iphdr, saddr), &from,
				      sizeof(from))) {
		return;
	}
	e->nat_addr = from;
}

#endif
