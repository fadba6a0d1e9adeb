/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The NodePort fast path at XDP (xcnid --nodeport-acceleration;
 * docs/decisions/xdp-nodeport-fast-path.md, nodeport-plan.md): the XDP
 * executor of the NodePort plan. xdp_underlay, after the prefilter, takes
 * the packets from outside that from_overlay's from_outside would translate
 * to a backend on another node, both families (xdp_nodeport, the family a
 * constant; its frames xdp_nodeport4 and xdp_nodeport6), over either
 * underlay, SNAT or DSR: nodeport_plan.h's np_plan decides (the Service
 * lookup and backend choice, the SNAT port or DSR, the conntrack entries,
 * tc's all), npx_apply writes (npx_rewrite4, npx_rewrite6: direct stores
 * with the kernel's incremental checksum arithmetic, so the bytes are tc's;
 * the outer headers, geneve_encap_dsr's and geneve_encap_ul6's bytes) and
 * sends it back out of the underlay (XDP_TX). The replies find the entries
 * whichever hook made them.
 *
 * Anything else goes on to tc untouched (XDP_PASS; np_plan's NP_PLAN_TC
 * comes before its first write), which then does exactly what it does
 * without acceleration:
 *  - what is not plain IPv4 or IPv6 TCP or UDP in one Ethernet frame of
 *    exactly its length (VLAN tags, IP options, IPv6 extension headers,
 *    fragments, ICMP, SCTP, padded or truncated frames, TTL or hop limit 1),
 *    Geneve (UDP to 6081);
 *  - a source tc refuses (a frontend at its port, this node, a pod, a node,
 *    a martian, a ClusterIP from outside): tc drops it with its counters;
 *  - no backend, no tunnel to the backend's node, an encapsulated frame over
 *    the underlay's MTU (tc answers np4_too_big), no SNAT port, a tuple
 *    conntrack refuses, an underlay route that is not the ingress device or
 *    whose neighbour is not resolved (tc's bpf_redirect_neigh resolves it);
 *  - a backend on this node: XDP_REDIRECT into the pod's host veth would
 *    bypass tc there, and the pod's ingress policy (track_and_judge) with
 *    it; a frontend whose every backend is here (XCNI_SVC_F_LOCAL_BE) right
 *    after its lookup, nothing chosen (the flow cache's lookup of it,
 *    nodeport_cache.h); a flow to a backend here once chosen is then
 *    handed on from its tc entry in the flow cache (NPX_PASS_LOCAL).
 *
 * Checksums are rewritten as full ones (the bytes are all XDP sees): a
 * packet a local process sent through a veth carries a partial checksum,
 * which native XDP_TX sends on as if full (docs/xcnid.8 says so).
 *
 * Which hook handled a frontend's packet: xcni_npaccel (XCNI_NPA_XDP4,
 * XCNI_NPA_XDP6, XCNI_NPA_TC), `xcnictl status`; a flow this hook opened or
 * took over has XCNI_CT_F_XDP in its entry (the flow records'
 * service_path); its packets are counted under fwd-encap (from-overlay) as
 * tc counts them, and in the tunnel counters; no event is sent for them.
 */
#ifndef XCNI_NODEPORT_XDP_H
#define XCNI_NODEPORT_XDP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "nodeport_plan.h"

/* The kernel's checksum arithmetic (csum_add, csum_replace4, csum_replace2;
 * csum_fold, encap.h's),
 * so the fast path's checksums are bit for bit the tc helpers'. */
static __always_inline __u32 npx_csum_add(__u32 a, __u32 b)
{
	__u32 r = a + b;

	return r + (r < b);
}

/* csum_replace4: bpf_l3_csum_replace(4), and bpf_l4_csum_replace(4 or 2,
 * the 2-byte values zero-extended) on a packet without CHECKSUM_PARTIAL. */
static __always_inline void npx_replace4(__u16 *sum, __u32 from, __u32 to)
{
	__u32 t = npx_csum_add(~(__u32)*sum, ~from);

	*sum = csum_fold(npx_csum_add(t, to));
}

static __always_inline __u16 npx_csum16_add(__u16 c, __u16 a)
{
	__u16 r = c + a;

	return r + (r < a);
}

/* csum_replace2: bpf_l3_csum_replace(2). */
static __always_inline void npx_replace2(__u16 *sum, __u16 from, __u16 to)
{
	*sum = ~npx_csum16_add(npx_csum16_add(~*sum, ~from), to);
}

/* An L4 checksum update as bpf_l4_csum_replace makes it (mangled: UDP's 0,
 * no checksum, stays 0, and a result of 0 is written 0xffff). */
static __always_inline void npx_l4_replace(__u16 *sum, __u32 from, __u32 to, int mangled)
{
	if (mangled && !*sum)
		return;
	npx_replace4(sum, from, to);
	if (mangled && !*sum)
		*sum = 0xffff;
}

/*
 * The translation of a packet to a remote backend, written at XDP as
 * from_outside's lb_nat calls (np_tc_dnat, np_tc_snat) and ttl_decrement4 write it
 * at tc, in their order: destination (address, then port), source, TTL.
 */
static __always_inline void np_xdp_nat4(struct iphdr *ip, __u16 *l4sum, __be16 *ports,
					int udp, __u32 daddr, __u16 dport, __u32 saddr,
					__u16 sport)
{
	union {
		__u16 word;
		__u8 b[2];
	} old, new;

	if (ip->daddr != daddr) {
		npx_l4_replace(l4sum, ip->daddr, daddr, udp);
		npx_replace4(&ip->check, ip->daddr, daddr);
		ip->daddr = daddr;
	}
	if (ports[1] != dport) {
		npx_l4_replace(l4sum, ports[1], dport, udp);
		ports[1] = dport;
	}
	if (ip->saddr != saddr) {
		npx_l4_replace(l4sum, ip->saddr, saddr, udp);
		npx_replace4(&ip->check, ip->saddr, saddr);
		ip->saddr = saddr;
	}
	if (ports[0] != sport) {
		npx_l4_replace(l4sum, ports[0], sport, udp);
		ports[0] = sport;
	}
	old.b[0] = ip->ttl;
	old.b[1] = ip->protocol;
	new.word = old.word;
	new.b[0]--;
	ip->ttl = new.b[0];
	npx_replace2(&ip->check, old.word, new.word);
}

/* An L4 checksum update by a difference (bpf_l4_csum_replace, size 0: IPv6's addresses). */
static __always_inline void npx_l4_diff(__u16 *sum, __u32 diff, int mangled)
{
	if (mangled && !*sum)
		return;
	*sum = csum_fold(npx_csum_add(diff, ~(__u32)*sum));
	if (mangled && !*sum)
		*sum = 0xffff;
}

/*
 * One IPv6 address of the packet at a (16 bytes) to new, with the L4
 * checksum, as lb6_nat writes it. The difference is bpf_csum_diff's sum
 * (~a's words, new's), added here: two helper calls fewer on the IPv6 hit.
 */
static __always_inline void np_xdp_addr6(__u8 *a, const __u8 *new, __u16 *l4sum, int udp)
{
	const __u32 *o = (const __u32 *)a, *n = (const __u32 *)new;
	__u32 diff = 0;

	if (in6_eq(a, new))
		return;
	for (int i = 0; i < 4; i++)
		diff = npx_csum_add(npx_csum_add(diff, ~o[i]), n[i]);
	npx_l4_diff(l4sum, diff, udp);
	__builtin_memcpy(a, new, 16);
}

/* A frontend's packet counted (XCNI_NPA_*), len bytes; XDP_PASS when handed on. */
static __always_inline int npx_count(__u32 idx, __u32 len, int verdict)
{
	struct xcni_metric *m = bpf_map_lookup_elem(&xcni_npaccel, &idx);

	if (m) {
		m->packets++;
		m->bytes += len;
	}
	return verdict;
}

/*
 * The IPv4 frame the fast path takes, read into p (parse_ipv4's view, its
 * packet pointers): plain TCP or UDP in one Ethernet frame of exactly its
 * length, no options, no fragment, TTL above 1. 0, or -1: handed on.
 */
static __always_inline int npx_parse4(struct xdp_md *ctx, struct pkt *p)
{
	struct iphdr *ip;
	struct cursor c;

	c.pos = (void *)(long)ctx->data;
	c.end = (void *)(long)ctx->data_end;
	p->len = (__u32)((char *)c.end - (char *)c.pos);
	p->eth = cursor_take(&c, sizeof(struct ethhdr));
	if (!p->eth || p->eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	ip = c.pos;
	if ((void *)(ip + 1) > c.end || ip->ihl != 5 || ip->frag_off & bpf_htons(0x3fff) ||
	    (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP) ||
	    bpf_ntohs(ip->tot_len) != p->len - ETH_HLEN || ip->ttl <= 1)
		return -1;
	return parse_ipv4(&c, p) || !p->ip ? -1 : 0;
}

/*
 * The IPv6 frame the fast path takes, into p as parse_ipv6 leaves a packet
 * without extension headers: TCP or UDP right after the fixed header, the
 * payload length the frame's, hop limit above 1. 0, or -1: handed on.
 */
static __always_inline int npx_parse6(struct xdp_md *ctx, struct pkt6 *p)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct xcni_ip6hdr *ip6 = (void *)(eth + 1);
	__be16 *ports = (void *)(ip6 + 1);
	__u32 len = (__u32)((char *)end - (char *)data);

	if ((void *)(ports + 2) > end || eth->h_proto != bpf_htons(ETH_P_IPV6) ||
	    (ip6->vtc >> 4) != 6 || ip6->hop_limit <= 1 ||
	    (ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_UDP) ||
	    bpf_ntohs(ip6->payload_len) != len - ETH_HLEN - sizeof(*ip6))
		return -1;
	/* The L4 header whole, each protocol's bound where it is read. */
	if (ip6->nexthdr == IPPROTO_TCP) {
		if ((void *)((struct tcphdr *)ports + 1) > end)
			return -1;
		p->tcp_flags = ((__u8 *)ports)[13];
	} else if ((void *)((struct udphdr *)ports + 1) > end) {
		return -1;
	}
	p->len = len;
	p->family = XCNI_AF_INET6;
	p->hop_limit = ip6->hop_limit;
	p->l4_off = ETH_HLEN + sizeof(*ip6);
	__builtin_memcpy(p->tuple.saddr, ip6->saddr, 16);
	__builtin_memcpy(p->tuple.daddr, ip6->daddr, 16);
	p->tuple.proto = ip6->nexthdr;
	p->tuple.sport = ports[0];
	p->tuple.dport = ports[1];
	return 0;
}

/*
 * The frame's L4 header, read again after the helpers (TCP or UDP, fam a
 * constant; the IPv4 header's length is 20, npx_parse4's rule): its ports
 * and checksum. 0, or -1 when it does not fit.
 */
static __always_inline int npx_l4(struct xdp_md *ctx, int fam, int udp, __be16 **ports,
				  __u16 **l4sum)
{
	void *end = (void *)(long)ctx->data_end;
	__be16 *pp = (void *)((char *)(long)ctx->data + ETH_HLEN +
			      (fam == XCNI_AF_INET ? sizeof(struct iphdr) :
						     sizeof(struct xcni_ip6hdr)));

	if (udp) {
		if ((void *)((struct udphdr *)pp + 1) > end)
			return -1;
		*l4sum = (__u16 *)&((struct udphdr *)pp)->check;
	} else {
		if ((void *)((struct tcphdr *)pp + 1) > end)
			return -1;
		*l4sum = (__u16 *)&((struct tcphdr *)pp)->check;
	}
	*ports = pp;
	return 0;
}

/*
 * IPv4's header rewrite, to daddr:dport from saddr:sport (the flow's
 * translated tuple; for DSR the source is the client's, left as it is),
 * and what the encapsulation takes of the result: np_xdp_nat4, then
 * encap_in_take (TTL-independent fields: tc reads them before its TTL; in
 * NULL: the rewrite alone). 0, or -1.
 */
static __always_inline int npx_rewrite4(struct xdp_md *ctx, struct pkt *p, struct encap_in *in)
{
	__be16 *ports;
	__u16 *l4sum;
	struct iphdr *ip;
	int udp = p->tuple.proto == IPPROTO_UDP;

	if (npx_l4(ctx, XCNI_AF_INET, udp, &ports, &l4sum))
		return -1;
	ip = p->ip;
	if ((void *)(ip + 1) > (void *)(long)ctx->data_end)
		return -1;
	np_xdp_nat4(ip, l4sum, ports, udp, p->tuple.daddr, p->tuple.dport, p->tuple.saddr,
		    p->tuple.sport);
	if (in) /* NULL: the flow cache's hit, its outer headers ready */
		encap_in_take(p, in);
	return 0;
}

/*
 * IPv6's: lb6_nat's order (the destination and its port, then the source
 * and its: p's translated tuple), what encap_in_take6 reads, then the hop
 * limit (nodeport6_encap's order); in NULL: the rewrite alone. 0, or -1.
 */
static __always_inline int npx_rewrite6(struct xdp_md *ctx, struct pkt6 *p, struct encap_in *in)
{
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = (void *)(long)ctx->data;
	struct xcni_ip6hdr *ip6 = (void *)(eth + 1);
	int udp = p->tuple.proto == IPPROTO_UDP;
	__be16 *ports;
	__u16 *l4sum;

	if (npx_l4(ctx, XCNI_AF_INET6, udp, &ports, &l4sum) || (void *)(ip6 + 1) > end)
		return -1;
	np_xdp_addr6(ip6->daddr, p->tuple.daddr, l4sum, udp);
	if (ports[1] != p->tuple.dport) {
		npx_l4_replace(l4sum, ports[1], p->tuple.dport, udp);
		ports[1] = p->tuple.dport;
	}
	np_xdp_addr6(ip6->saddr, p->tuple.saddr, l4sum, udp);
	if (ports[0] != p->tuple.sport) {
		npx_l4_replace(l4sum, ports[0], p->tuple.sport, udp);
		ports[0] = p->tuple.sport;
	}
	/* The flow cache's hit (in NULL) has its outer headers already. */
	if (!in)
		goto out;
	in->inner_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	in->tos = (__u8)(ip6->vtc << 4 | ip6->flow[0] >> 4);
	in->sport = flow_sport6(&p->tuple);
	in->label = flow_label_of(flow_hash_of(in6_fold(p->tuple.saddr), in6_fold(p->tuple.daddr),
					       p->tuple.sport, p->tuple.dport, p->tuple.proto));
	in->inner_proto = bpf_htons(ETH_P_IPV6);
	__builtin_memcpy(in->macs, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(in->macs + ETH_ALEN, eth->h_source, ETH_ALEN);
out:
	ip6->hop_limit--;
	return 0;
}

/*
 * --node-port-mode dsr's outer headers, written in place (the room made
 * already, eth the frame's start, bounds checked for XCNI_ENCAP_DSR_LEN):
 * dsr_outer4_fill's, the option for the frontend fe (the tuple as the
 * client sent it, family fam), the inner Ethernet (in->macs, the inner
 * family): the bytes nodeport_encap's geneve_encap_dsr writes at tc.
 */
static __always_inline void npx_dsr_outer(struct ethhdr *eth, const struct encap_in *in,
					  int fam, const void *fe, __u32 tunnel)
{
	struct outer_hdrs_dsr *h = (void *)(eth + 1);
	struct ethhdr *inner = (void *)(h + 1);

	dsr_outer4_fill(h, in, tunnel, (__u64)node_ip << 32 | vni);
	__builtin_memset(&h->opt, 0, sizeof(h->opt));
	dsr_opt_fill(&h->opt, fam, fe);
	__builtin_memcpy(inner->h_dest, in->macs, ETH_ALEN);
	__builtin_memcpy(inner->h_source, in->macs + ETH_ALEN, ETH_ALEN);
	inner->h_proto = in->inner_proto;
}

/*
 * Over the IPv6 underlay, to the node at dst6 (its ipcache entry's
 * tunnel_ip6), written in place as npx_dsr_outer (bounds checked for the
 * encapsulation's length): ul6_head_fill's 8 bytes, node_ip6, dst6, UDP
 * without a checksum, Geneve (with the DSR option under lb_dsr for the
 * frontend fe, the tuple as the client sent it, family fam), the inner
 * Ethernet (the inner family, in->inner_proto): geneve_encap_ul6's bytes at
 * tc, or geneve_encap_ul6_dsr's.
 */
static __always_inline void npx_ul6_outer(struct ethhdr *eth, const struct encap_in *in,
					  const __u8 *dst6, int fam, const void *fe)
{
	struct xcni_ip6hdr *o6 = (void *)(eth + 1);
	struct udphdr *udp = (void *)(o6 + 1);
	struct geneve_hdr *g = (void *)(udp + 1);
	struct xcni_geneve_dsr *opt = (void *)(g + 1);
	struct ethhdr *inner = lb_dsr ? (void *)(opt + 1) : (void *)opt;
	__u32 plen = (__u32)in->inner_len +
		     (lb_dsr ? XCNI_ENCAP6_DSR_LEN : XCNI_ENCAP6_LEN) - sizeof(*o6);
	__u32 *sa = (__u32 *)o6->saddr;

	ul6_head_fill((__u8 *)o6, in, plen);
	/* Word by word: node_ip6 is const volatile (nodeport6_self). */
	sa[0] = node_ip6[0];
	sa[1] = node_ip6[1];
	sa[2] = node_ip6[2];
	sa[3] = node_ip6[3];
	__builtin_memcpy(o6->daddr, dst6, 16);
	udp->check = 0;
	g->ver_optlen = 0;
	g->flags = 0;
	geneve_tail_fill(udp, g, inner, in, plen, vni);
	if (lb_dsr) {
		dsr_geneve_fill(g, vni);
		__builtin_memset(opt, 0, sizeof(*opt));
		dsr_opt_fill(opt, fam, fe);
	}
}

_Static_assert(sizeof(struct outer_hdrs) <= sizeof(((struct np6_tmp *)0)->outer),
	       "np6_tmp holds the outer headers");
_Static_assert(sizeof(struct outer_hdrs_dsr) + sizeof(struct ethhdr) == XCNI_ENCAP_DSR_LEN,
	       "DSR's outer headers then the inner Ethernet");

/*
 * The XDP executor: the plan pl applied to the packet (fam a constant, p4
 * or p6 the family's parse): translated (npx_rewrite4, npx_rewrite6: what
 * the encapsulation takes of it too), then the outer headers from the
 * translated packet, as tc takes them, the next hop's MACs, the counters,
 * XDP_TX. Bounds by the constant of each underlay (lb_dsr is the verifier's
 * constant too), not by pl->encap, whose value it would not keep.
 */
static __always_inline int npx_apply(struct xdp_md *ctx, int fam, struct pkt *p4,
				     struct pkt6 *p6, const struct np_plan *pl)
{
	struct ethhdr *eth;

	if (fam == XCNI_AF_INET ? npx_rewrite4(ctx, p4, pl->in) : npx_rewrite6(ctx, p6, pl->in))
		return XDP_ABORTED;
	if (!lb_dsr && !pl->dst6)
		geneve_outer4_fill(pl->h, pl->in, node_ip, pl->tunnel, vni);
	if (bpf_xdp_adjust_head(ctx, -(int)pl->encap))
		return XDP_ABORTED;
	eth = (void *)(long)ctx->data;
	if (pl->dst6) {
		if ((void *)((char *)eth + ETH_HLEN +
			     (lb_dsr ? XCNI_ENCAP6_DSR_LEN : XCNI_ENCAP6_LEN)) >
		    (void *)(long)ctx->data_end)
			return XDP_ABORTED;
		npx_ul6_outer(eth, pl->in, pl->dst6, fam, pl->orig);
		eth->h_proto = bpf_htons(ETH_P_IPV6);
	} else {
		if ((void *)((char *)eth + ETH_HLEN +
			     (lb_dsr ? XCNI_ENCAP_DSR_LEN : XCNI_ENCAP_LEN)) >
		    (void *)(long)ctx->data_end)
			return XDP_ABORTED;
		if (lb_dsr)
			npx_dsr_outer(eth, pl->in, fam, pl->orig, pl->tunnel);
		else
			__builtin_memcpy(eth + 1, pl->h, XCNI_ENCAP_LEN);
		eth->h_proto = bpf_htons(ETH_P_IP);
	}
	__builtin_memcpy(eth->h_dest, pl->fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, pl->fib->smac, ETH_ALEN);
	count(XCNI_FWD_ENCAP, XCNI_DIR_FROM_OVERLAY, pl->len);
	if (pl->dst6)
		tunnel_count6(pl->dst6, pl->len + pl->encap, 0);
	else
		tunnel_count4(pl->tunnel, pl->len + pl->encap, 0);
	return npx_count(fam == XCNI_AF_INET ? XCNI_NPA_XDP4 : XCNI_NPA_XDP6, pl->len, XDP_TX);
}

/* xdp_nodeport's XDP_PASS for a flow whose backend is on this node: its
 * caller notes it in the flow cache (nodeport_cache.h's tc entry). */
#define NPX_PASS_LOCAL 16

/*
 * From outside at XDP, either family (fam a constant): the parse, the plan
 * (nodeport_plan.h's np_plan: maps and flow only), then the executor
 * (npx_apply): translated and sent (XDP_TX), or XDP_PASS with nothing
 * written. IPv4's flow, translation state, FIB lookup and outer headers are
 * this frame's; IPv6's the plan takes from xcni_np6_tmp.
 */
static __always_inline int xdp_nodeport(struct xdp_md *ctx, int fam)
{
	struct bpf_fib_lookup fib4 = {};
	struct encap_in in4;
	struct outer_hdrs h4;
	struct lb4_state lb = {};
	struct pkt p4 = {};
	struct pkt6 p6 = {};
	struct np_plan pl = {};
	int r;

	if (!ctx)
		return XDP_PASS;
	if (fam == XCNI_AF_INET ? npx_parse4(ctx, &p4) : npx_parse6(ctx, &p6))
		return XDP_PASS;
	pl.f = fam == XCNI_AF_INET ? pkt_flow(&p4) : pkt_flow(&p6);
	pl.len = pl.f->len;
	if (fam == XCNI_AF_INET) {
		pl.st.v4 = &lb;
		pl.fib = &fib4;
		pl.in = &in4;
		pl.h = &h4;
	}
	r = np_plan(ctx, fam, &pl);
	if (r == NP_PLAN_GO)
		return npx_apply(ctx, fam, &p4, &p6, &pl);
	if (r == NP_PLAN_ABORT)
		return XDP_ABORTED;
	if (r != NP_PLAN_TC)
		return XDP_PASS;
	/* A backend on this node: XDP_PASS, the flow's cache entry to say so. */
	return npx_count(XCNI_NPA_TC, pl.len, pl.ep ? NPX_PASS_LOCAL : XDP_PASS);
}
/*
 * The two frames: IPv4's holds its flow, translation state, FIB lookup and
 * outer headers; IPv6's its flow alone. Global: each a frame of its own
 * beside the prefilter's.
 */
__attribute__((noinline)) int xdp_nodeport4(struct xdp_md *ctx)
{
	return xdp_nodeport(ctx, XCNI_AF_INET);
}

__attribute__((noinline)) int xdp_nodeport6(struct xdp_md *ctx)
{
	return xdp_nodeport(ctx, XCNI_AF_INET6);
}

#endif
