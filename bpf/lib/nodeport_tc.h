/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tc's NodePort writes, both families (nodeport.h says the rules): what
 * from_outside and its ICMP errors (nodeport_icmp.h) do to the packet once
 * the plan (nodeport_plan.h) has decided: the SNAT written (np_tc_snat),
 * the hop limit, delivery into a pod on this node (np_into_pod), the
 * encapsulation to the backend's node (nodeport_encap, DSR's too), and
 * the replies' undoing (lb4_snat_rev, nodeport6_reply_nat). The skb
 * helpers' executor, as nodeport_xdp.h's npx_apply is XDP's.
 */
#ifndef XCNI_NODEPORT_TC_H
#define XCNI_NODEPORT_TC_H

#include "nodeport_plan.h"

/*
 * The reply of a NodePort flow this node SNATed (XCNI_CT_F_SNAT; p: the
 * decapsulated reply, backend -> this node, p->rev_nat set by ct_track;
 * client:cport from the flow's entry): frontend -> client again. 0 or -1.
 * Packet pointers stale afterwards.
 */
static __always_inline int lb4_snat_rev(struct __sk_buff *skb, struct pkt *p, __u32 client,
				       __u16 cport)
{
	if (lb_rev_nat(skb, pkt_flow(p), XCNI_AF_INET, 0) ||
	    lb4_nat(skb, pkt_flow(p), IP_DADDR_OFF, p->tuple.daddr, client, 2, p->tuple.dport, cport))
		return -1;
	p->tuple.daddr = client;
	p->tuple.dport = cport;
	return 0;
}

/*
 * The family's TTL or hop limit, as a router forwards (p4 or p6: the
 * family's view, the other NULL): np_hop_ok, more than 1 left; np_hop_down,
 * one less in the header (IPv4's checksum with it; IPv6 has none), 0 or -1.
 */
static __always_inline int np_hop_ok(const struct pkt *p4, const struct pkt6 *p6, int fam)
{
	return fam == XCNI_AF_INET ? p4->ip->ttl > 1 : p6->hop_limit > 1;
}

static __always_inline int np_hop_down(struct __sk_buff *skb, struct pkt *p4, struct pkt6 *p6,
				       int fam)
{
	if (fam == XCNI_AF_INET) {
		ttl_decrement4(p4->ip);
		return 0;
	}
	p6->hop_limit--;
	return bpf_skb_store_bytes(skb, IP6_HOPLIMIT_OFF, &p6->hop_limit, 1, 0) ? -1 : 0;
}

/*
 * Into a pod of this node, either family, routed as the host would: TTL or
 * hop limit down by one, the pod link's MACs, then into its netns. The
 * reason (XCNI_FWD_LOCAL), the verdict in *verdict. from_outside,
 * ovl_outside6 and ovl_icmp4/6 end so.
 */
static __always_inline int np_into_pod(struct __sk_buff *skb, struct pkt *p4, struct pkt6 *p6,
				       int fam, const struct xcni_endpoint *dst, int *verdict)
{
	if (!np_hop_ok(p4, p6, fam) || np_hop_down(skb, p4, p6, fam) || mac_rewrite(skb, dst))
		return XCNI_DROP_REDIRECT;
	*verdict = bpf_redirect_peer(dst->ifindex, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_LOCAL : XCNI_DROP_REDIRECT;
}

/*
 * What nodeport_encap does first, in one order: a hop left
 * (else dropped, nothing written), the encapsulation's view of the packet
 * (in; a packet the underlay cannot take whole is dropped here: the
 * too-big check came before, np4_too_big), then the TTL or hop limit down by
 * one. 0 or the drop reason.
 */
static __always_inline int np_encap_prep(struct __sk_buff *skb, struct pkt *p4, struct pkt6 *p6,
					 int fam, struct encap_in *in)
{
	int reason;

	if (!np_hop_ok(p4, p6, fam))
		return XCNI_DROP_ENCAP;
	reason = encap_in_fill(skb, fam, p4, p6, in);
	if (reason)
		return reason == XCNI_FWD_TOO_BIG ? XCNI_DROP_ENCAP : reason;
	if (!in->inner_len || np_hop_down(skb, p4, p6, fam))
		return XCNI_DROP_ENCAP;
	return 0;
}

/*
 * The packet (translated, tracked: np_plan_track; p4 or p6 the family's
 * view, the other NULL) to the backend's node, either family: TTL or hop limit
 * down by one, Geneve over the underlay that reaches the node (tunnel, as
 * tunnel_of says; dst6 its IPv6 underlay address for XCNI_TUN6, else NULL:
 * np_tunnel's or the ipcache's, either family's flows over either
 * underlay), out of it, counted. in: the encapsulation's view of the
 * packet (IPv6: np6_tmp's, off its frame). The reason (XCNI_FWD_ENCAP:
 * redirected, the verdict in *verdict).
 *
 * DSR (lb_dsr, fe not NULL: the tuple as the client sent it): the client's
 * address kept (DNAT only), the frontend in a Geneve option for the
 * backend's node, which judges the backend's ingress on the client and
 * sends its replies itself (the option naming the frontend of the flow's
 * family). The option rides on every packet that fits the underlay with
 * it; one that does not (a full-size segment: the pods' MTU leaves room
 * for the plain encapsulation only; any GSO packet, whose segments are
 * full-size where the flow's first packets were not) goes without, and the
 * backend's node knows its flow from an earlier one (dsr_flow_known).
 */
static __always_inline int nodeport_encap(struct __sk_buff *skb, struct pkt *p4, struct pkt6 *p6,
					  int fam, __u32 tunnel, const __u8 *dst6,
					  const union xcni_tuple *fe, struct encap_in *in,
					  int *verdict)
{
	__u32 mtu = 0, len = dst6 ? XCNI_ENCAP6_DSR_LEN : XCNI_ENCAP_DSR_LEN;
	int reason = np_encap_prep(skb, p4, p6, fam, in);

	if (reason)
		return reason;
	/* tunnel_encap chooses on the pointer: kept a pointer the compiler
	 * cannot replace by a test of tunnel, which the verifier would not
	 * link to it. */
	barrier_var(dst6);
	if (!lb_dsr || !fe || skb->gso_size || in->inner_len + len > 0xffff ||
	    bpf_check_mtu(skb, 0, &mtu, len, 0) != BPF_MTU_CHK_RET_SUCCESS)
		/* Without the option (tunnel_encap counts it). */
		reason = tunnel_encap(skb, in, node_ip, tunnel, dst6, vni);
	else if (dst6 && !(reason = geneve_encap_ul6_dsr(skb, in, fe, fam, dst6)))
		tunnel_count6(dst6, skb->len, 0);
	else if (!dst6 && !(reason = geneve_encap_dsr(skb, in, fe, fam, tunnel)))
		tunnel_count4(tunnel, skb->len, 0);
	if (reason)
		return reason;
	*verdict = bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_ENCAP : XCNI_DROP_REDIRECT;
}

/*
 * nodeport_encap for IPv6 in a frame of its own (global: ovl_outside6's and
 * ovl_icmp4/6's are at the verifier's limit), the backend's node from
 * the ipcache (tunnel_of: the IPv4 underlay to its tunnel_ip, the IPv6 one to
 * its tunnel_ip6, from node_ip6). tunnel: the caller's answer (np_tunnel),
 * which spares an IPv4 underlay's node the lookup; 0: none asked yet. dsr:
 * DSR's option (lb_dsr) for the flow ovl_outside6 translated (its client's
 * tuple in the scratch xcni_lb6_tmp's st, read as it is). The
 * reason (XCNI_FWD_ENCAP: redirected).
 */
__attribute__((noinline)) int nodeport6_encap_call(struct __sk_buff *skb, struct pkt6 *p,
						   __u32 tunnel, __u32 dsr)
{
	struct xcni_ipcache_val *dipc = NULL;
	struct lb6_tmp *lt = NULL;
	struct np6_tmp *t;
	int verdict;

	if (!skb || !p || !(t = bpf_map_lookup_elem(&xcni_np6_tmp, &map_zero)) ||
	    (dsr && !(lt = bpf_map_lookup_elem(&xcni_lb6_tmp, &map_zero))))
		return XCNI_DROP_ENCAP;
	if (!tunnel || tunnel == XCNI_TUN6) {
		dipc = ipcache6_lookup(p->tuple.daddr);
		tunnel = dipc ? tunnel_of(dipc, node_ip) : 0;
	}
	if (!tunnel)
		return XCNI_DROP_NO_TUNNEL;
	return nodeport_encap(skb, NULL, p, XCNI_AF_INET6, tunnel,
			      dipc && tunnel == XCNI_TUN6 ? dipc->tunnel_ip6 : NULL,
			      lt ? (const union xcni_tuple *)&lt->st.orig : NULL, &t->in, &verdict);
}

/*
 * Decapsulated IPv6 from a backend's node for this node's own address: the
 * reply of a NodePort flow this node SNATed? 1 (tracked as its reply,
 * p->rev_nat set), else 0 (nothing touched). Apart from nodeport6_reply_nat:
 * conntrack's frame and the rewrites' never sit under ovl_decap6 together.
 * Inline: with the IPv6 underlay's outer source in ovl_decap6's frame, a
 * call of its own put from_overlay -> ovl_decap6 -> this ->
 * ct_icmp_related at 528 bytes of stack, past the verifier's 512.
 */
static __always_inline int nodeport6_reply_of(struct __sk_buff *skb, struct pkt6 *p)
{
	struct xcni_ct6_key rk;
	struct xcni_snat *sn;
	__u8 ctf;
	int ct;

	if (!skb || !p)
		return 0;
	tuple_reverse(XCNI_AF_INET6, &p->tuple, &rk);
	sn = bpf_map_lookup_elem(&xcni_snat, &rk);
	if (!sn)
		return 0;
	ct = ct_track(skb, pkt_flow(p), XCNI_AF_INET6, p->len, &ctf);
	/* Its conntrack entry pushed out by a flood: opened again from the
	 * record (np_snat_reopen, as IPv4's nodeport4_reply). */
	if ((ct == CT_REPLY && !(ctf & XCNI_CT_F_SNAT)) ||
	    np_snat_reopen(pkt_flow(p), XCNI_AF_INET6, sn, ct))
		return 0;
	np_snat_answered(skb, pkt_flow(p), XCNI_AF_INET6, sn);
	return p->rev_nat != 0;
}

/*
 * Such a reply: the frontend back as its source, the client as its
 * destination, out by the underlay. The reason (XCNI_FWD_REPLY: redirected).
 */
__attribute__((noinline)) int nodeport6_reply_nat(struct __sk_buff *skb, struct pkt6 *p)
{
	const struct xcni_snat *sn;
	struct np6_tmp *t;
	__u16 port;

	/* The record's key in the scratch (this frame's room is the chain's). */
	if (!skb || !p || !(t = bpf_map_lookup_elem(&xcni_np6_tmp, &map_zero)))
		return XCNI_DROP_REDIRECT;
	tuple_reverse(XCNI_AF_INET6, &p->tuple, &t->k);
	sn = bpf_map_lookup_elem(&xcni_snat, &t->k);
	if (!sn)
		return XCNI_DROP_REDIRECT;
	port = p->tuple.dport;
	if (lb6_nat(skb, pkt_flow(p), IP6_DADDR_OFF, p->tuple.daddr, sn->client, 2, port,
		    sn->cport))
		return XCNI_DROP_REDIRECT;
	__builtin_memcpy(p->tuple.daddr, sn->client, 16);
	p->tuple.dport = sn->cport;
	if (lb_rev_nat(skb, pkt_flow(p), XCNI_AF_INET6, 0))
		return XCNI_DROP_REDIRECT;
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0) == TC_ACT_REDIRECT ? XCNI_FWD_REPLY :
										  XCNI_DROP_REDIRECT;
}

/*
 * tc's DNAT: np_plan_choose's (pl->orig's destination to pl->f's) written,
 * IPv4's headers parsed again into p4 through c (NULL: IPv6). 0 or the reason.
 */
static __always_inline int np_tc_dnat(struct __sk_buff *skb, int fam, struct np_plan *pl,
				      struct cursor *c, struct pkt *p4)
{
	const union xcni_tuple *o = pl->orig;
	int r = lb_rewrite(skb, pl->f, fam, LB_DADDR_OFF(fam),
			   fam == XCNI_AF_INET ? (const void *)&o->v4.daddr : (const void *)o->v6.daddr,
			   flow_daddr(pl->f, fam), 2, fam == XCNI_AF_INET ? o->v4.dport : o->v6.dport,
			   *lb_dport(pl->f, fam));

	if (r)
		return r == -2 ? XCNI_DROP_FRAGMENT : XCNI_DROP_REDIRECT;
	return p4 ? reparse4(skb, c, p4) : 0;
}

/*
 * XDP's handed choice (struct xcni_np_meta) on skb, for np_plan_handed:
 * NP_META_OK | its svc_flags << 16 | its rev_nat, or 0 when data_meta does
 * not hold exactly the record with the agent's random key (np_meta_key; 0:
 * no handoff) and this generation (none, a decapsulation record, another
 * program's bytes, a generation that moved since XDP read its entry: the
 * full path). Only an XDP program writes skb metadata, and on the underlay
 * that is xdp_underlay; another one would have to guess the key, which no
 * packet carries off the node. What it lets tc skip is the choice alone:
 * conntrack, the pod's policy and the delivery are tc's as ever. A global
 * function: its frame beside ovl_outside4's, not in it.
 */
#define NP_META_OK (1U << 24)

__attribute__((noinline)) int np_meta_read(struct __sk_buff *skb)
{
	const struct xcni_np_meta *m;
	void *data;

	if (!skb || !np_meta_key)
		return 0;
	m = (const void *)(long)skb->data_meta;
	data = (void *)(long)skb->data;
	if ((const void *)(m + 1) > data || m->key != np_meta_key || m->gen != npc_gen())
		return 0;
	/* Exactly the record (from_overlay_xdp's two compares). */
	barrier_var(m);
	if ((const void *)(m + 1) < data)
		return 0;
	return (int)(NP_META_OK | (__u32)m->svc_flags << 16 | m->rev_nat);
}

/* IPv6's choice and DNAT in a frame of their own (global: ovl_outside6's
 * chain at the verifier's 512 bytes), as a pod's are lb6_translate_call's. */
__attribute__((noinline)) int np6_choose_call(struct __sk_buff *skb, struct pkt6 *p, __u32 src)
{
	struct np_plan pl = { .src = src };
	struct lb6_tmp *tmp = bpf_map_lookup_elem(&xcni_lb6_tmp, &map_zero);
	int r;

	if (!skb || !p || !tmp)
		return NP_PLAN_NOT_OURS;
	/* The flow in a map value (lb6_tmp's f): p is PTR_TO_MEM, no map key on 6.1. */
	tmp->f = *pkt_flow(p);
	pl.f = &tmp->f;
	pl.meta = np_meta_read(skb);
	r = np_plan_choose(0, XCNI_AF_INET6, &pl) ?:
		    np_tc_dnat(skb, XCNI_AF_INET6, &pl, NULL, NULL);
	*pkt_flow(p) = tmp->f;
	return r;
}

/*
 * tc's SNAT (from_outside, the backend on another node; f the translated
 * packet's flow, st its state): the plan's (np_plan_snat), then
 * written (lb_rewrite, from the client's source, orig's, to the flow's),
 * then IPv4's headers parsed again into p4 through c (not NULL: IPv4), the
 * rewrite having left their pointers stale. 0 or the drop reason. Inline
 * for IPv4, in np6_snat_call's frame for IPv6 (ovl_outside6's chain at the
 * verifier's 512 bytes).
 */
static __always_inline int np_tc_snat(struct __sk_buff *skb, int fam, struct flow *f,
				      union lb_state st, struct cursor *c, struct pkt *p4)
{
	const union xcni_tuple *o = lb_st_orig(st, fam);
	struct np6_tmp *t = NULL;
	int reason;

	if (lb_dsr)
		return 0;
	if (fam == XCNI_AF_INET6 && !(t = bpf_map_lookup_elem(&xcni_np6_tmp, &map_zero)))
		return XCNI_DROP_NO_TUNNEL;
	reason = np_plan_snat(0, fam, f, o, lb_svc_entry(st, fam), t);
	if (reason)
		return reason;
	if (lb_rewrite(skb, f, fam, LB_SADDR_OFF(fam),
		       fam == XCNI_AF_INET ? (const void *)&o->v4.saddr : (const void *)o->v6.saddr,
		       flow_saddr(f, fam), 0, fam == XCNI_AF_INET ? o->v4.sport : o->v6.sport,
		       *lb_sport(f, fam)))
		return XCNI_DROP_REDIRECT;
	return p4 ? reparse4(skb, c, p4) : 0;
}

/* st is ovl_outside6's, lb6_tmp's st: read here as that map
 * value, and the flow copied into lb6_tmp's f and back (p and st are
 * PTR_TO_MEM here, which 6.1's verifier refuses as map keys). */
__attribute__((noinline)) int np6_snat_call(struct __sk_buff *skb, struct pkt6 *p,
					    struct lb6_state *st)
{
	struct lb6_tmp *lt = bpf_map_lookup_elem(&xcni_lb6_tmp, &map_zero);
	int r;

	if (!skb || !p || !st || !lt)
		return XCNI_DROP_NO_TUNNEL;
	lt->f = *pkt_flow(p);
	r = np_tc_snat(skb, XCNI_AF_INET6, &lt->f, &lt->st, NULL, NULL);
	*pkt_flow(p) = lt->f;
	return r;
}

#endif
