/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The NodePort plan (docs/decisions/nodeport-plan.md): what a packet from
 * outside to an external frontend becomes, decided over the maps and the
 * flow alone, nothing of the packet written: the frontend (the EXT entry),
 * the source rules, the backend (lb_flow_choose), the tunnel to the
 * backend's node (np_tunnel) and the underlay's next hop, the SNAT address
 * and port (np_snat_choose) or DSR (the client kept), conntrack and the
 * service entry. struct np_plan holds the result; an executor applies it
 * to the packet: nodeport_xdp.h's npx_apply (direct writes, XDP_TX).
 * from_outside (nodeport.h) makes the same decisions at tc with the skb
 * helpers in its own order (a backend on this node, the too-big answers and
 * the drops are tc's alone), over the same steps (nodeport_steps.h).
 *
 * A plan that cannot be applied by its hook says so before anything is
 * written (NP_PLAN_TC): every test that hands a packet on comes before the
 * first entry is opened, so tc then does exactly what it does alone. The
 * rules of what goes on to tc are nodeport_xdp.h's head comment.
 */
#ifndef XCNI_NODEPORT_PLAN_H
#define XCNI_NODEPORT_PLAN_H

#include "nodeport_steps.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/*
 * The node of a NodePort flow's backend daddr (the family's address), when
 * it is another node's pod that the overlay reaches, else 0: over the
 * underlay tunnel_of says (XCNI_TUN6: the IPv6 one, *dst6 the node's
 * address there, else NULL). IPv4's needs this node's IPv4 address, its
 * SNAT source (np4_tunnel); IPv6's encapsulation at tc looks *dst6 up
 * again in a frame of its own (nodeport6_encap_call, nodeport6_dsr_call);
 * the XDP fast path takes it from here.
 */
static __always_inline __u32 np_tunnel(int fam, const void *daddr, const __u8 **dst6)
{
	const struct xcni_ipcache_val *dipc;

	__u32 tunnel;

	if (fam == XCNI_AF_INET)
		return np4_tunnel(*(const __u32 *)daddr, dst6);
	*dst6 = NULL;
	dipc = ipcache_find(fam, daddr);
	tunnel = dipc && (dipc->flags & XCNI_IPC_POD) ? tunnel_of(dipc, node_ip) : 0;
	if (dipc && tunnel == XCNI_TUN6)
		*dst6 = dipc->tunnel_ip6;
	return tunnel;
}

/*
 * One packet's plan. The caller sets f (its parsed flow), len, st (IPv4:
 * its struct lb_state; IPv6's is lb6_state_get's, set by the plan) and,
 * for IPv4, fib, in and h on its stack (IPv6's are xcni_np6_tmp's, so that
 * xdp_underlay -> xdp_nodeport6 -> ct_commit_call stays under the
 * verifier's 512 bytes). The plan fills the rest: f becomes the translated
 * tuple (backend, SNAT source and port), orig the client's.
 */
struct np_plan {
	struct flow *f;
	void *st;
	struct lb6_tmp *tmp;
	struct np6_tmp *t;
	const void *orig;
	const struct xcni_svc *svc;
	const struct xcni_backend *be;
	struct xcni_ct_entry *se; /* the flow's service entry */
	struct bpf_fib_lookup *fib; /* the underlay's next hop: its MACs */
	struct encap_in *in;
	struct outer_hdrs *h;
	const __u8 *dst6; /* the backend's node over the IPv6 underlay, else NULL */
	__u32 tunnel, encap, len;
	__u16 nport; /* the SNAT port */
};

/* What np_plan says: not a frontend's (untouched, uncounted); tc's
 * (untouched, counted as handed on); a failure after the entries; apply. */
#define NP_PLAN_GO 0
#define NP_PLAN_NOT_OURS 1
#define NP_PLAN_TC 2
#define NP_PLAN_ABORT 3

/* A random pick among several: tc would not make it again (np_plan). */
static __always_inline int np_random_pick(const struct xcni_svc *svc)
{
	return !(svc->flags & (XCNI_SVC_F_MAGLEV | XCNI_SVC_F_AFFINITY)) &&
	       (svc->count > 1 || (!svc->count && svc->count_term > 1));
}

/*
 * The frontend, the source rules and the backend (p the family's parsed
 * packet, fam a constant). Geneve is the tc path's (parse_outer4,
 * from_underlay6), whatever its destination; no frontend is the cheap miss,
 * before anything else is looked up; a frontend whose every backend is on
 * this node (XCNI_SVC_F_LOCAL_BE) is tc's, nothing chosen.
 */
static __always_inline int np_plan_choose(void *p, int fam, struct np_plan *pl)
{
	struct xcni_svc_key k = { .family = fam, .scope = XCNI_SCOPE_EXT };
	struct flow *f = pl->f;
	struct xcni_ipcache_val *sipc;
	__u32 zero = 0, alen = fam == XCNI_AF_INET ? 4 : 16;
	__u8 proto = fam == XCNI_AF_INET ? f->tuple.v4.proto : f->tuple.v6.proto;

	if (proto == IPPROTO_UDP && *lb_dport(f, fam) == bpf_htons(XCNI_GENEVE_PORT))
		return NP_PLAN_NOT_OURS;
	__builtin_memcpy(k.addr, flow_daddr(f, fam), alen);
	k.port = *lb_dport(f, fam);
	k.proto = proto;
	pl->svc = bpf_map_lookup_elem(&xcni_svc, &k);
	if (!pl->svc)
		return NP_PLAN_NOT_OURS;
	if (pl->svc->flags & XCNI_SVC_F_LOCAL_BE)
		return NP_PLAN_TC;
	/* from_plain's rule: a frontend as source (a forged reply). Its
	 * ipcache entry only matters when the source is a frontend (a remote
	 * node's own address at a NodePort's number): looked up only then, as
	 * lb_src_frontend without one refuses any frontend. This node and the
	 * rest of the sources tc refuses are lb_flow_choose's (outside_source_ok,
	 * which looks the source up itself): one lookup of it a packet, not two. */
	__builtin_memcpy(k.addr, flow_saddr(f, fam), alen);
	k.port = *lb_sport(f, fam);
	if (lb_src_frontend(&k, NULL)) {
		sipc = fam == XCNI_AF_INET ? ipcache_lookup(f->tuple.v4.saddr) :
					     ipcache6_exact(f->tuple.v6.saddr);
		if (lb_src_frontend(&k, sipc))
			return NP_PLAN_TC;
	}
	if (fam == XCNI_AF_INET6) {
		pl->st = lb6_state_get();
		pl->tmp = bpf_map_lookup_elem(&xcni_lb6_tmp, &zero);
		pl->t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero);
		if (!pl->st || !pl->tmp || !pl->t)
			return NP_PLAN_TC;
		pl->fib = &pl->t->fib;
		pl->h = (struct outer_hdrs *)pl->t->outer;
		pl->in = &pl->t->in;
		__builtin_memset(pl->fib, 0, sizeof(*pl->fib));
	}
	/* from_outside's: the outside rules, the backend (the frontend is svc,
	 * the EXT entry lb_frontend_of would find again). */
	if (lb_flow_choose(p, fam, 0, pl->st, OUTSIDE, 1, pl->tmp, &pl->svc, &pl->be, &pl->se) !=
		    1 ||
	    !pl->svc || !pl->be)
		return NP_PLAN_TC;
	pl->orig = lb_st_orig(pl->st, fam);
	return NP_PLAN_GO;
}

/*
 * A pod of another node, the encapsulated frame within the device's MTU:
 * np_tunnel's node, as from_outside finds it (over either underlay, dst6
 * set for the IPv6 one), and the underlay's next hop towards it out of the
 * device the packet came in by (ctx's): the FIB lookup checks tot_len (the
 * encapsulated frame's) against the route's MTU, the device's unless the
 * route sets a lower one (BPF_FIB_LKUP_RET_FRAG_NEEDED: to tc, which
 * answers np_too_big or sends it as it would), so no bpf_check_mtu of the
 * device beside it. A neighbour not resolved is tc's (bpf_redirect_neigh).
 */
static __always_inline int np_plan_route(struct xdp_md *ctx, int fam, struct np_plan *pl)
{
	struct bpf_fib_lookup *fib = pl->fib;

	pl->tunnel = np_tunnel(fam, pl->be->addr, &pl->dst6);
	if (pl->dst6)
		pl->encap = lb_dsr ? XCNI_ENCAP6_DSR_LEN : XCNI_ENCAP6_LEN;
	else
		pl->encap = lb_dsr ? XCNI_ENCAP_DSR_LEN : XCNI_ENCAP_LEN;
	if (bpf_map_lookup_elem(fam == XCNI_AF_INET ? (void *)&xcni_endpoints :
						      (void *)&xcni_endpoints6, pl->be->addr) ||
	    !pl->tunnel || (pl->tunnel == XCNI_TUN6 && !pl->dst6))
		return NP_PLAN_TC;
	if (pl->dst6) {
		__u32 *sa = fib->ipv6_src;

		fib->family = AF_INET6;
		sa[0] = node_ip6[0];
		sa[1] = node_ip6[1];
		sa[2] = node_ip6[2];
		sa[3] = node_ip6[3];
		__builtin_memcpy(fib->ipv6_dst, pl->dst6, 16);
	} else {
		fib->family = AF_INET;
		fib->ipv4_src = node_ip;
		fib->ipv4_dst = pl->tunnel;
	}
	fib->l4_protocol = IPPROTO_UDP;
	fib->tot_len = pl->len - ETH_HLEN + pl->encap;
	fib->ifindex = ctx->ingress_ifindex;
	if (bpf_fib_lookup(ctx, fib, sizeof(*fib), BPF_FIB_LOOKUP_OUTPUT) !=
		    BPF_FIB_LKUP_RET_SUCCESS ||
	    fib->ifindex != ctx->ingress_ifindex)
		return NP_PLAN_TC;
	return NP_PLAN_GO;
}

/* What a step of the plan says when it refuses (xdp a constant): at XDP the
 * hand-on to tc, at tc its drop reason. */
#define NP_NO(xdp, reason) ((xdp) ? NP_PLAN_TC : (reason))

/*
 * SNAT to this node (np_snat_choose: the replies come back here), either
 * hook (xdp a constant), nothing written but the scratch t (IPv6's client
 * for np_snat_open): f, the flow translated to its backend, takes this
 * node's address and the port (the one the service entry se keeps, else a
 * new one); orig the client's tuple. DSR keeps the client: nothing to do.
 * NP_PLAN_GO or NP_NO's.
 */
static __always_inline int np_plan_snat(int xdp, int fam, struct flow *f, const void *orig,
					const struct xcni_ct_entry *se, struct np6_tmp *t)
{
	const void *self = NULL;
	__u32 self4;
	__u16 nport = 0;
	int r;

	if (lb_dsr)
		return NP_PLAN_GO;
	r = np_snat_choose(f, fam, orig, se, t, &self4, &self, &nport, xdp);
	if (r || !self)
		return NP_NO(xdp, r ?: XCNI_DROP_NO_TUNNEL);
	lb_addr_set(flow_saddr(f, fam), self, fam);
	*lb_sport(f, fam) = nport;
	return NP_PLAN_GO;
}

/*
 * Conntrack of the flow f (SNATed, or DSR's client kept; len bytes), then
 * the entries in tc's order, either hook (xdp a constant; skb tc's, NULL
 * at XDP): the service entry se takes the SNAT port and follows the flow's
 * state (lb_flow_follow's), a new flow's entry is opened (np_snat_open:
 * IPv4's client in it, IPv6's in xcni_snat6; DSR's without). At XDP the
 * service entry was deferred until here (lb_flow_open; pl: the plan, NULL
 * at tc) and the flow is marked the fast path's. NP_PLAN_GO, NP_PLAN_ABORT
 * (XDP: a failure after the entries), or NP_NO's.
 */
static __always_inline int np_plan_track(struct __sk_buff *skb, int xdp, int fam, struct flow *f,
					 const void *orig, struct xcni_ct_entry *se, __u32 len,
					 struct np_plan *pl)
{
	__u8 hook = xdp ? XCNI_CT_F_XDP : 0, ctf;
	struct xcni_ct_entry *e;
	int ct;

	ct = ct_track(skb, f, fam, len, &ctf);
	if (ct == CT_INVALID)
		return NP_NO(xdp, ct_invalid_reason(f));
	if (xdp)
		se = pl->se = lb_flow_open(pl->st, fam, se, pl->svc->rev_nat, len, 1, pl->tmp);
	if (se && !lb_dsr)
		se->nat_port = *lb_sport(f, fam);
	if (ct == CT_NEW || ct == CT_STALE) {
		/* DSR: this node sees the requests only. */
		if (lb_dsr)
			ct_commit(f, fam, ct, len, 0, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR | hook);
		else if (np_snat_open(f, fam, orig, ct, len, hook))
			return xdp ? NP_PLAN_ABORT : XCNI_DROP_NAT_NO_PORT;
	} else if (xdp && !(ctf & XCNI_CT_F_XDP)) {
		/* A flow tc opened (its first packet waited for the neighbour,
		 * say) is the fast path's from here: marked once (ctf: its
		 * entry's flags). */
		e = bpf_map_lookup_elem(ct_map(fam), &f->tuple);
		if (e)
			e->flags |= XCNI_CT_F_XDP;
	}
	if (se && f->ct_state)
		se->state = f->ct_state;
	return NP_PLAN_GO;
}

/*
 * tc's SNAT (from_outside, the backend on another node; p the family's
 * translated packet, st its state): the plan's (np_plan_snat), then
 * written (lb_rewrite, from the client's source, orig's, to the flow's). 0
 * or the drop reason; IPv4's packet pointers stale. Inline for IPv4, in
 * np6_snat_call's frame for IPv6 (from_outside6's chain at the verifier's
 * 512 bytes).
 */
static __always_inline int np_tc_snat(struct __sk_buff *skb, int fam, void *p, void *st)
{
	struct flow *f = lb_flow_of(p, fam);
	const union xcni_tuple *o = lb_st_orig(st, fam);
	struct np6_tmp *t = NULL;
	int reason;

	if (lb_dsr)
		return 0;
	if (fam == XCNI_AF_INET6 && !(t = bpf_map_lookup_elem(&xcni_np6_tmp, &np_zero)))
		return XCNI_DROP_NO_TUNNEL;
	reason = np_plan_snat(0, fam, f, o, lb_svc_entry(st, fam), t);
	if (reason)
		return reason;
	return lb_rewrite(skb, f, fam, LB_SADDR_OFF(fam),
			  fam == XCNI_AF_INET ? (const void *)&o->v4.saddr : (const void *)o->v6.saddr,
			  flow_saddr(f, fam), 0, fam == XCNI_AF_INET ? o->v4.sport : o->v6.sport,
			  *lb_sport(f, fam)) ?
		       XCNI_DROP_REDIRECT :
		       0;
}

__attribute__((noinline)) int np6_snat_call(struct __sk_buff *skb, struct pkt6 *p,
					    struct lb6_state *st)
{
	if (!skb || !p || !st)
		return XCNI_DROP_NO_TUNNEL;
	return np_tc_snat(skb, XCNI_AF_INET6, p, st);
}

/*
 * The plan of a parsed packet from outside (p4 or p6, the family's; fam a
 * constant), at XDP (ctx: the FIB lookup's). A new flow's pick handed on
 * to tc is not written: tc picks again, and Maglev (the flow's hash) and
 * affinity (the entry the pick refreshed) give it the same backend; a
 * random pick among several would not, so its service entry is written
 * (lb_flow_open, the packet not counted: tc counts it) and tc follows it
 * (lb_flow_keeps): the backends' shares stay the random pick's.
 */
static __always_inline int np_plan(struct xdp_md *ctx, int fam, struct pkt *p4, struct pkt6 *p6,
				   struct np_plan *pl)
{
	int r = np_plan_choose(fam == XCNI_AF_INET ? (void *)p4 : (void *)p6, fam, pl);

	if (r != NP_PLAN_GO)
		return r;
	r = np_plan_route(ctx, fam, pl);
	if (r == NP_PLAN_GO) {
		/* The translated destination, as lb_dnat leaves it at tc. */
		__builtin_memcpy(flow_daddr(pl->f, fam), pl->be->addr,
				 fam == XCNI_AF_INET ? 4 : 16);
		*lb_dport(pl->f, fam) = pl->be->port;
		pl->f->rev_nat = pl->svc->rev_nat;
		pl->f->backend_id = LB_ST(pl->st, fam, backend_id);
		r = np_plan_snat(1, fam, pl->f, pl->orig, pl->se, pl->t);
	}
	if (r == NP_PLAN_GO)
		r = np_plan_track(NULL, 1, fam, pl->f, pl->orig, pl->se, pl->len, pl);
	if (r == NP_PLAN_TC && np_random_pick(pl->svc) && !pl->se)
		lb_flow_open(pl->st, fam, NULL, pl->svc->rev_nat, pl->len, 0, pl->tmp);
	return r;
}

#endif
