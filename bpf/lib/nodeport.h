/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NodePorts, externalIPs and load-balancer IPs, both families: traffic from
 * outside (the underlay, not Geneve) to an external frontend, taken by
 * from_overlay. A backend on this node: DNAT only, into the pod. On another
 * node: SNAT to this node and Geneve to it over the underlay that reaches it
 * (an IPv4 flow too over the IPv6 one, to a node known there only, still
 * SNATed to node_ip: np4_tunnel; its replies come back here, undone by
 * nodeport4_reply), or DSR (the frontend in a Geneve option; the backend's
 * node answers the client itself). ICMP errors about these flows, Packet Too Big
 * for what would not fit the underlay encapsulated. The sections below say
 * each part's rules.
 *
 * The headers by concern: the rules and the plan, both hooks'
 * (nodeport_plan.h); tc's writes (nodeport_tc.h); XDP's (nodeport_xdp.h);
 * ICMP errors and path MTU (nodeport_icmp.h); DSR's option and record
 * (dsr.h). This file holds tc's paths (from_outside, nodeport4_reply).
 */
/*
 * IPv6's own (from_outside's steps are both families'): Geneve for node_ip6
 * passes from_overlay's entry before ovl_outside6 on an IPv6 underlay;
 * the client of a SNATed flow is kept in xcni_snat by the flow's tuple on
 * this node (the conntrack entry has 4 bytes for an address); the SNAT
 * source of an externalIP or load-balancer IP is this node's IPv6
 * InternalIP (nodeport6_self); the replies come back decapsulated by
 * ovl_decap6 whichever the outer family (the backend's node
 * tunnels replies to another node's address: encap.h remote6_check), where
 * nodeport6_reply_of and nodeport6_reply_nat undo both and send them out
 * the underlay; lb_rev_nat puts an external frontend back as their source.
 */
#ifndef XCNI_NODEPORT_H
#define XCNI_NODEPORT_H

#include "nodeport_icmp.h"

/* What from_outside returns for a packet that is not its: IPv4's the last
 * step (untouched, TC_ACT_OK), IPv6's hands on to the entry's next (UL_NEXT). */
#define OUTSIDE_NOT_OURS(fam) ((fam) == XCNI_AF_INET ? TC_ACT_OK : UL_NEXT)

/*
 * From outside to an external frontend (lb_enabled), either family (fam a
 * constant; p4 or p6 the family's view, zeroed, the other NULL; st its
 * translation state, zeroed: IPv4's on ovl_outside4's stack, IPv6's in the
 * per-CPU scratch; src: what from_plain found of the source,
 * LB_OUTSIDE_SRC and LB_OUTSIDE_SRC_REFUSED, else 0): translated and sent
 * to its backend, the reason counted and the TC verdict returned. Anything
 * else is not ours: untouched, uncounted (OUTSIDE_NOT_OURS). One order of
 * steps, every step that judges or drops taken by both families:
 *   1. the parse (not whole, or not the family: the stack's to judge), the
 *      plan's choice (np_plan_choose, the outside rules: OUTSIDE, the
 *      source's ipcache entry from_plain's when src says it judged it) and
 *      the DNAT written (np_tc_dnat; IPv6's both in np6_choose_call's frame);
 *   2. no backend: externalTrafficPolicy=Local's drop (no other node's
 *      backend may serve it), else refused at once (lb_reject), back out
 *      the way it came;
 *   3. the plan's route (np_plan_route): a backend here, the client kept,
 *      conntrack and the pod's ingress (track_and_judge), into the pod
 *      (np_into_pod); on another node the tunnel to it (np_tunnel), none a
 *      drop (drop-no-tunnel) before any too-big answer (4.);
 *   4. too big for the underlay once encapsulated: the client is told
 *      (np4_too_big, np6_too_big: the family's ICMP leaves);
 *   5. the plan's last steps (nodeport_plan.h, the XDP fast path's):
 *      --node-port-mode dsr keeps the client, else SNAT to this node
 *      (np_plan_snat; np_tc_snat writes it); conntrack (an invalid packet
 *      dropped), a new flow's entry (np_plan_track, np_snat_open: IPv4's
 *      client in the entry and in xcni_snat, IPv6's in xcni_snat);
 *   6. Geneve to the backend's node (nodeport_encap), DSR's with the
 *      frontend in an option.
 * Where the families differ a branch says so: IPv4's parse again after its
 * rewrites, the too-big leaves, the SNAT's client's place, IPv6's frames of
 * its own (np6_*_call, nodeport6_*_call: ovl_outside6's chain at 512 bytes).
 */
static __always_inline int from_outside(struct __sk_buff *skb, int fam, struct pkt *p4,
					struct pkt6 *p6, union lb_state st, __u32 src)
{
	struct flow *f = pkt_pair_flow(p4, p6, fam);
	struct np_plan pl = { .f = f, .st = st,
			      .src = src & (LB_OUTSIDE_SRC | LB_OUTSIDE_SRC_REFUSED) };
	struct verdict v = {};
	struct encap_in in;
	struct cursor c;
	int reason, verdict = TC_ACT_OK, ct;
	__u8 ctf;

	f->len = skb->len;
	if (pkt_parse(skb, fam, &c, p4, p6))
		return OUTSIDE_NOT_OURS(fam);
	/* XDP's choice, when it handed one (np_meta_read; IPv6's in np6_choose_call). */
	if (fam == XCNI_AF_INET)
		pl.meta = np_meta_read(skb);
	reason = fam == XCNI_AF_INET ?
			 np_plan_choose(0, fam, &pl) ?: np_tc_dnat(skb, fam, &pl, &c, p4) :
			 np6_choose_call(skb, p6, pl.src);
	if (reason == NP_PLAN_NOT_OURS)
		return OUTSIDE_NOT_OURS(fam);
	if (reason == XCNI_DROP_NO_BACKEND) {
		/* Local traffic policy: no other node's backend may serve it. */
		if (LB_ST(st, fam, svc_flags) & XCNI_SVC_F_ETP_LOCAL) {
			reason = XCNI_DROP_NO_LOCAL_BACKEND;
			goto out;
		}
		/* Refused at once, back out the way it came. */
		verdict = lb_reject(skb, p4, p6, fam) ? TC_ACT_SHOT : bpf_redirect(skb->ifindex, 0);
		goto out;
	}
	reason = reason ?: np_plan_route(NULL, 0, fam, &pl);
	if (pl.ep) {
		/* A backend here: the client's address kept, judged by the pod's
		 * ingress as any flow from outside (world, or its ipBlock). */
		struct judge j = { .dst_ep = pl.ep, .dst_addr = flow_daddr(f, fam),
				   .flags = XCNI_CT_F_NODEPORT,
				   .lookup = JUDGE_SRC_ID | JUDGE_DST_ID };

		reason = track_and_judge(skb, f, fam, skb->len, &ct, &ctf, &j, &v);
		if (reason)
			goto out;
		lb_flow_follow(st, fam, f, 0);
		reason = np_into_pod(skb, p4, p6, fam, pl.ep, &verdict);
		goto out;
	}
	if (reason)
		goto out;
	/* Too big for the underlay once encapsulated (the IPv6 underlay's 70
	 * bytes to a node behind it): the client is told. Most packets fit, and
	 * np_maybe_over says so without reading them again. */
	if (np_maybe_over(skb, pl.dst6 ? XCNI_ENCAP6_LEN : XCNI_ENCAP_LEN)) {
		verdict = fam == XCNI_AF_INET ?
				  np4_too_big(skb, &st.v4->orig,
					      pl.dst6 ? XCNI_ENCAP6_LEN : XCNI_ENCAP_LEN) :
				  np6_too_big(skb, p6, st.v6, pl.dst6 ? XCNI_ENCAP6_LEN : XCNI_ENCAP_LEN);
		if (verdict != NP_FITS) {
			reason = XCNI_DROP_TOO_BIG;
			goto out;
		}
		verdict = TC_ACT_OK;
		/* np4_too_big may rewrite the packet: IPv4's pointers stale. */
		reason = fam == XCNI_AF_INET ? reparse4(skb, &c, p4) : 0;
		if (reason)
			goto out;
	}
	/* The plan's last steps, the XDP fast path's (nodeport_plan.h): SNAT to
	 * this node, so the reply comes back here to be undone (DSR keeps the
	 * client), written (np_tc_snat: IPv6's in a frame of its own);
	 * conntrack and the entries (np_plan_track). */
	reason = fam == XCNI_AF_INET ? np_tc_snat(skb, fam, f, st, &c, p4) :
				       np6_snat_call(skb, p6, st.v6);
	if (!reason)
		reason = np_plan_track(skb, 0, fam, f, lb_st_orig(st, fam), lb_svc_entry(st, fam),
				       skb->len, NULL);
	if (reason)
		goto out;
	reason = fam == XCNI_AF_INET ? nodeport_encap(skb, p4, p6, fam, pl.tunnel, pl.dst6,
						      lb_st_orig(st, fam), &in, &verdict) :
				       nodeport6_encap_call(skb, p6, pl.tunnel, lb_dsr);
out:
	/* IPv6's encapsulations return the reason alone, from their frames. */
	if (reason == XCNI_FWD_ENCAP)
		verdict = TC_ACT_REDIRECT;
	if (reason_is_drop(reason))
		lb_flow_forget(st, fam);
	return finish_flow(skb, fam, reason, XCNI_DIR_FROM_OVERLAY, 0, f, verdict, &v);
}

/*
 * Geneve for this node from a backend's node: the reply of an IPv4 NodePort
 * flow this node SNATed (from_outside)? Then 0 is not returned: the reply is
 * decapsulated, frontend -> client again and sent out the underlay (the
 * reason, *verdict set). 0: not one, nothing touched. o: the outer headers
 * (from_overlay4, over the IPv4 underlay), or NULL for a packet already
 * decapsulated (overlay_decap_first, over the IPv6 underlay); len its bytes
 * as they arrived, for conntrack.
 */
static __always_inline int nodeport4_reply(struct __sk_buff *skb, struct pkt *p,
					  const struct outer *o, __u32 len, int *verdict)
{
	struct xcni_snat *sn;
	struct np6_tmp *t;
	__u32 client;
	__u16 cport;
	__u8 ctf;
	int ct;

	/* An error about such a flow, from the backend's side: to the client. */
	if (p->tuple.proto == IPPROTO_ICMP && !p->is_echo && !p->frag_later) {
		/* Decapsulated either way: not about such a flow, it goes to the
		 * stack as any such packet for the node does. */
		if (o && bpf_skb_adjust_room(skb, -(__s32)o->hdr_len, BPF_ADJ_ROOM_MAC,
					     XCNI_DECAP4_FLAGS))
			return XCNI_DROP_BAD_GENEVE;
		return nodeport_icmp(skb, XCNI_AF_INET, p->l3_len, verdict) ?: XCNI_FWD_DECAP_HOST;
	}
	/* The flow's record (xcni_snat, keyed as this node sent it): its
	 * client; its conntrack entry opened again if a flood pushed it out. */
	t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero_key);
	if (!t)
		return 0;
	__builtin_memset(&t->k, 0, sizeof(t->k));
	tuple_reverse(XCNI_AF_INET, &p->tuple, &t->k);
	sn = bpf_map_lookup_elem(&xcni_snat, &t->k);
	if (!sn)
		return 0;
	client = *(const __u32 *)sn->client;
	cport = sn->cport;
	ct = ct_track(skb, pkt_flow(p), XCNI_AF_INET, len, &ctf);
	if ((ct == CT_REPLY && !(ctf & XCNI_CT_F_SNAT)) ||
	    np_snat_reopen(pkt_flow(p), XCNI_AF_INET, sn, ct))
		return 0;
	np_snat_answered(skb, pkt_flow(p), XCNI_AF_INET, sn);
	if (o && bpf_skb_adjust_room(skb, -(__s32)o->hdr_len, BPF_ADJ_ROOM_MAC,
				     XCNI_DECAP4_FLAGS))
		return XCNI_DROP_BAD_GENEVE;
	if (lb4_snat_rev(skb, p, client, cport))
		return XCNI_DROP_REDIRECT;
	*verdict = bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_REPLY : XCNI_DROP_REDIRECT;
}

#endif
