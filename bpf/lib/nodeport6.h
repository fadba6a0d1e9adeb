/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 NodePorts and externalIPs (issue 13 for issue 14's IPv6): from_overlay's
 * from_outside for an IPv6 packet from the underlay (not Geneve: on an IPv6
 * underlay the entry sends Geneve for node_ip6 past it) to an external IPv6
 * frontend, with Services in BPF (lb_enabled).
 *
 *  - a backend on this node: DNAT only (lb6_translate, outside: the EXT entry),
 *    judged by the pod's ingress on the client's address as any flow from
 *    outside, and into the pod; its replies leave through from_pod6, which
 *    puts the frontend back as their source (lb6_rev_nat), to the stack and
 *    out the underlay;
 *  - externalTrafficPolicy=Local: the EXT entry holds this node's backends
 *    only, the client's address is kept, and none here is a drop of its own
 *    (drop-no-local-backend);
 *  - no backend at all: refused at once (TCP RST, ICMPv6 port unreachable,
 *    lb6_reject), back out the way it came;
 *  - a backend on another node (externalTrafficPolicy=Cluster; a NodePort's
 *    frontend is this node's own address): DNAT, and SNAT to that address at
 *    a port lb6_snat_port finds, then Geneve (IPv6 inside) to the backend's
 *    node over the underlay that reaches it (the IPv4 one, or the IPv6 one
 *    to its tunnel_ip6: tunnel_of), so the backend's replies come back here
 *    (its node tunnels replies to another node's address, encap6.h
 *    remote6_check), decapsulated by from_overlay6 whichever the outer
 *    family, where nodeport6_reply_of/_nat undo both and send them out the underlay
 *    (and nodeport6_icmp makes an ICMPv6 error about the flow the client's). The
 *    conntrack entry has 4 bytes for the client's address: the client of a
 *    SNATed flow is kept in xcni_snat6, keyed by the flow's tuple on this
 *    node. An externalIP or load-balancer IP (not this node's address) to a
 *    remote backend is SNATed likewise to this node's IPv6 InternalIP, which
 *    xcnid writes into xcni_self6 (on an IPv4 underlay no rodata holds it,
 *    and the Node object can come after the programs load; on an IPv6 one,
 *    until xcnid has written it, node_ip6 serves); the replies come
 *    back to it as a NodePort's do, and lb6_rev_nat puts the external
 *    frontend back as their source. None (IPv4 underlay): drop-no-tunnel.
 */
#ifndef XCNI_NODEPORT6_H
#define XCNI_NODEPORT6_H

#include "config.h"
#include "dsr6.h"
#include "encap.h"
#include "encap6.h"
#include "ipv6.h"
#include "l2.h"
#include "lb6.h"
#include "ptb.h"

/*
 * The SNAT source for a flow to frontend fe: fe itself when it is this node's
 * own address (a NodePort), else this node's IPv6 InternalIP (xcni_self6),
 * else, none written yet on an IPv6 underlay, the node's underlay address
 * (node_ip6, there from the load; the other nodes tunnel to it when it is
 * their view of this node's InternalIP, pol_tunnel_set), copied into t.
 * Either must be the host's in the ipcache6, for the replies come back there
 * (from_overlay6 takes decapsulated packets for the host only). NULL: none.
 */
static __always_inline const __u8 *nodeport6_self(const __u8 *fe, struct np6_tmp *t)
{
	const struct xcni_ipcache_val *ipc = ipcache6_lookup(fe);
	const struct xcni_self6 *s;
	__u32 zero = 0, *w = (__u32 *)t->ul6;

	if (ipc && ipc->identity == XCNI_ID_HOST)
		return fe;
	s = bpf_map_lookup_elem(&xcni_self6, &zero);
	if (s && (((const __u32 *)s->addr)[0] | ((const __u32 *)s->addr)[1] |
		  ((const __u32 *)s->addr)[2] | ((const __u32 *)s->addr)[3])) {
		ipc = ipcache6_lookup(s->addr);
		return ipc && ipc->identity == XCNI_ID_HOST ? s->addr : NULL;
	}
	if (!ul6_on())
		return NULL;
	/* Word by word: node_ip6 is const volatile, and a plain copy of it
	 * could be folded to its all-zero initializer. */
	w[0] = node_ip6[0];
	w[1] = node_ip6[1];
	w[2] = node_ip6[2];
	w[3] = node_ip6[3];
	ipc = ipcache6_lookup(t->ul6);
	return ipc && ipc->identity == XCNI_ID_HOST ? t->ul6 : NULL;
}

/*
 * The source port of the SNAT to self (this node's address) for flow p
 * (translated: client -> backend), as lb_snat_port: the client's own when no
 * other live flow holds self:port -> backend:port, else one of a few from
 * the flow's hash in 32768-60999. 0, or -1 when all are taken.
 */
static __always_inline int lb6_snat_port(const struct pkt6 *p, const __u8 *self,
					 struct xcni_ct6_key *k, __u16 *out)
{
	__u32 h = xcni_lb_hash6((const __u32 *)p->tuple.saddr, (const __u32 *)p->tuple.daddr,
				p->tuple.sport, p->tuple.dport, p->tuple.proto);
	__u64 now = bpf_ktime_get_ns();

	*k = p->tuple;
	__builtin_memcpy(k->saddr, self, 16);
	for (int i = 0; i < 4; i++) {
		const struct xcni_ct_entry *e;
		const struct xcni_snat6 *sn;

		if (i)
			k->sport = bpf_htons(32768 + (h + i * 7919) % 28232);
		e = bpf_map_lookup_elem(&xcni_ct6, k);
		sn = bpf_map_lookup_elem(&xcni_snat6, k);
		if (!e || !ct_alive(e, now, k->proto) ||
		    (sn && in6_eq(sn->client, p->tuple.saddr) && sn->cport == p->tuple.sport)) {
			*out = k->sport;
			return 0;
		}
	}
	return -1;
}

/*
 * A NodePort flow translated by from_outside6 (p: client -> backend), the
 * backend on another node: SNAT to this node's address (the frontend's),
 * p->tuple following; the client kept in the scratch for nodeport6_commit.
 * 0 or the drop reason. Conntrack is from_outside6's (its frame, not this one's).
 */
__attribute__((noinline)) int nodeport6_snat(struct __sk_buff *skb, struct pkt6 *p,
					     struct lb6_state *st)
{
	struct xcni_ipcache_val *dipc;
	struct xcni_ct_entry *e;
	struct np6_tmp *t;
	const __u8 *self;
	__u16 nport = 0, sport;
	__u32 zero = 0;

	if (!skb || !p || !st || !(t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero)))
		return XCNI_DROP_NO_TUNNEL;
	dipc = ipcache6_lookup(p->tuple.daddr);
	/* The replies must come back here: to this node's own address (the
	 * frontend's for a NodePort, else its InternalIP: the SNAT source). */
	self = nodeport6_self(st->orig.daddr, t);
	if (!dipc || !(dipc->flags & XCNI_IPC_POD) || !tunnel_of(dipc, node_ip) || !self)
		return XCNI_DROP_NO_TUNNEL;
	/* The port the flow got before (in its service entry), else a free one. */
	e = bpf_map_lookup_elem(&xcni_ct6, &st->orig);
	if (e)
		nport = e->nat_port;
	if (!nport && lb6_snat_port(p, self, &t->k, &nport))
		return XCNI_DROP_NAT_NO_PORT;
	if (e)
		e->nat_port = nport;
	__builtin_memcpy(t->sn.client, p->tuple.saddr, 16);
	t->sn.cport = sport = p->tuple.sport;
	if (lb6_nat(skb, p, IP6_SADDR_OFF, p->tuple.saddr, self, 0, sport, nport) ||
	    lb6_sctp_port(skb, p, 0, SCTP_PORTS(sport, nport)))
		return XCNI_DROP_REDIRECT;
	__builtin_memcpy(p->tuple.saddr, self, 16);
	p->tuple.sport = nport;
	return 0;
}

/* A new SNATed flow (its entry just committed): its client, for the replies. 0 or -1. */
static __always_inline int nodeport6_commit(const struct pkt6 *p)
{
	__u32 zero = 0;
	struct np6_tmp *t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero);

	return t && !bpf_map_update_elem(&xcni_snat6, &p->tuple, &t->sn, BPF_ANY) ? 0 : -1;
}

/*
 * The SNATed packet (tracked) to the backend's node: Geneve over the
 * underlay that reaches it (tunnel_of: the IPv4 one to its tunnel_ip, the
 * IPv6 one to its tunnel_ip6, from node_ip6), out of it, counted. The
 * reason (XCNI_FWD_ENCAP: redirected).
 */
__attribute__((noinline)) int nodeport6_encap(struct __sk_buff *skb, struct pkt6 *p)
{
	struct xcni_ipcache_val *dipc;
	struct np6_tmp *t;
	__u32 zero = 0, tunnel;
	int reason;

	if (!skb || !p || !(t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero)))
		return XCNI_DROP_ENCAP;
	dipc = ipcache6_lookup(p->tuple.daddr);
	tunnel = dipc ? tunnel_of(dipc, node_ip) : 0;
	if (!tunnel)
		return XCNI_DROP_NO_TUNNEL;
	if (p->hop_limit <= 1)
		return XCNI_DROP_ENCAP;
	reason = encap_in_take6(skb, p, &t->in);
	if (reason)
		return reason == XCNI_FWD_TOO_BIG ? XCNI_DROP_ENCAP : reason;
	p->hop_limit--;
	if (bpf_skb_store_bytes(skb, IP6_HOPLIMIT_OFF, &p->hop_limit, 1, 0))
		return XCNI_DROP_ENCAP;
	reason = tunnel_encap(skb, &t->in, node_ip, tunnel,
			      dipc && tunnel == XCNI_TUN6 ? dipc->tunnel_ip6 : NULL, vni);
	if (reason)
		return reason;
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0) == TC_ACT_REDIRECT ? XCNI_FWD_ENCAP :
										  XCNI_DROP_REDIRECT;
}

/*
 * Decapsulated IPv6 from a backend's node for this node's own address: the
 * reply of a NodePort flow nodeport6_remote SNATed? 1 (tracked as its reply,
 * p->rev_nat set), else 0 (nothing touched). Apart from nodeport6_reply_nat:
 * conntrack's frame and the rewrites' never sit under from_overlay6 together.
 * Inline: with the IPv6 underlay's outer source in from_overlay6's frame, a
 * call of its own put from_overlay -> from_overlay6 -> this ->
 * ct6_icmp_related at 528 bytes of stack, past the verifier's 512.
 */
static __always_inline int nodeport6_reply_of(struct __sk_buff *skb, struct pkt6 *p)
{
	struct xcni_ct6_key rk;
	__u8 ctf;

	if (!skb || !p)
		return 0;
	ct6_reverse(&p->tuple, &rk);
	if (!bpf_map_lookup_elem(&xcni_snat6, &rk))
		return 0;
	return ct6_track(skb, p, &ctf) == CT_REPLY && p->rev_nat;
}

/*
 * Such a reply: the frontend back as its source, the client as its
 * destination, out by the underlay. The reason (XCNI_FWD_REPLY: redirected).
 */
__attribute__((noinline)) int nodeport6_reply_nat(struct __sk_buff *skb, struct pkt6 *p)
{
	const struct xcni_snat6 *sn;
	struct xcni_ct6_key rk;
	__u16 port;

	if (!skb || !p)
		return XCNI_DROP_REDIRECT;
	ct6_reverse(&p->tuple, &rk);
	sn = bpf_map_lookup_elem(&xcni_snat6, &rk);
	if (!sn)
		return XCNI_DROP_REDIRECT;
	port = p->tuple.dport;
	if (lb6_nat(skb, p, IP6_DADDR_OFF, p->tuple.daddr, sn->client, 2, port, sn->cport) ||
	    lb6_sctp_port(skb, p, 2, SCTP_PORTS(port, sn->cport)))
		return XCNI_DROP_REDIRECT;
	__builtin_memcpy(p->tuple.daddr, sn->client, 16);
	p->tuple.dport = sn->cport;
	port = p->tuple.sport;
	if (lb6_rev_nat(skb, p, 0) || lb6_sctp_port(skb, p, 0, SCTP_PORTS(port, p->tuple.sport)))
		return XCNI_DROP_REDIRECT;
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0) == TC_ACT_REDIRECT ? XCNI_FWD_REPLY :
										  XCNI_DROP_REDIRECT;
}

/*
 * An ICMPv6 error for this node's own address (decapsulated, from a backend's
 * node) quoting a NodePort flow nodeport6_remote SNATed (this node's
 * address:port -> the backend, in xcni_snat6): port unreachable from a UDP
 * backend, Packet Too Big on the way. Made the client's: the quote's source
 * back to the client, its destination to the frontend; the error to the
 * client, from the frontend when the backend itself sent it. The ICMPv6
 * checksum follows the quote (plain) and the outer addresses (pseudo-header);
 * the quoted L4 checksum, which nobody checks, is left. Then out the underlay.
 * The reason (XCNI_FWD_REPLY: redirected), or 0: not one, nothing touched.
 */
__attribute__((noinline)) int nodeport6_icmp(struct __sk_buff *skb, __u32 icmp)
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
		return XCNI_DROP_REDIRECT;
	/* To the client (the error came to this node's address, the quote's source). */
	diff = bpf_csum_diff((__be32 *)k.saddr, 16, (__be32 *)sn->client, 16, 0);
	if (diff < 0 ||
	    bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, BPF_F_PSEUDO_HDR) ||
	    bpf_skb_store_bytes(skb, IP6_DADDR_OFF, sn->client, 16, 0))
		return XCNI_DROP_REDIRECT;
	/* Sent by the backend itself: from the frontend, as the client knows it. */
	if (in6_eq(saddr, k.daddr)) {
		diff = bpf_csum_diff((__be32 *)saddr, 16, (__be32 *)rn->addr, 16, 0);
		if (diff < 0 ||
		    bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, BPF_F_PSEUDO_HDR) ||
		    bpf_skb_store_bytes(skb, IP6_SADDR_OFF, rn->addr, 16, 0))
			return XCNI_DROP_REDIRECT;
	}
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0) == TC_ACT_REDIRECT ? XCNI_FWD_REPLY :
										  XCNI_DROP_REDIRECT;
}

/* from_outside6's answer for a packet that is not its own: the caller goes on with it. */
#define NODEPORT6_NOT_OURS (-2000)

/*
 * Into a pod of this node, routed as the host would: hop limit down by one,
 * the pod link's MACs, then into its netns. The reason (XCNI_FWD_LOCAL), the
 * verdict in *verdict. from_outside6 and from_outside_icmp6 end so.
 */
static __always_inline int np6_into_pod(struct __sk_buff *skb, struct pkt6 *p,
					const struct xcni_endpoint *dst, int *verdict)
{
	if (p->hop_limit <= 1)
		return XCNI_DROP_REDIRECT;
	p->hop_limit--;
	if (bpf_skb_store_bytes(skb, IP6_HOPLIMIT_OFF, &p->hop_limit, 1, 0) ||
	    mac_rewrite(skb, dst))
		return XCNI_DROP_REDIRECT;
	*verdict = bpf_redirect_peer(dst->ifindex, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_LOCAL : XCNI_DROP_REDIRECT;
}

/*
 * An IPv6 packet from the underlay: for an external frontend, translated and
 * delivered (its reason counted, the TC verdict returned); anything else
 * untouched and uncounted (NODEPORT6_NOT_OURS). Global: verified on its own,
 * beside from_overlay4 and from_overlay6.
 */
__attribute__((noinline)) int from_outside6(struct __sk_buff *skb)
{
	struct xcni_endpoint *dst;
	struct lb6_state *st;
	struct verdict v = {};
	struct pkt6 p = {};
	int reason, verdict = TC_ACT_OK, ct;
	__u8 ctf;

	if (!skb)
		return TC_ACT_SHOT;
	p.len = skb->len;
	/* Not whole, or not IPv6 at all: the stack's to judge. */
	if (parse_ipv6(skb, &p) || !(st = lb6_state_get()))
		return NODEPORT6_NOT_OURS;
	reason = lb6_translate(skb, &p, 0, st, OUTSIDE);
	if (!reason)
		return NODEPORT6_NOT_OURS;
	if (reason == XCNI_DROP_NO_BACKEND) {
		p.rev_nat = st->rev_nat;
		/* Local traffic policy: no other node's backend may serve it. */
		if (st->svc_flags & XCNI_SVC_F_ETP_LOCAL) {
			reason = XCNI_DROP_NO_LOCAL_BACKEND;
			goto out;
		}
		/* Refused at once, back out the way it came. */
		verdict = lb6_reject(skb, &p) ? TC_ACT_SHOT : bpf_redirect(skb->ifindex, 0);
		goto out;
	}
	if (reason < 0)
		goto out;
	/* SCTP: the port's CRC update, out of lb6_translate's frame. */
	reason = lb6_sctp_port(skb, &p, 2, SCTP_PORTS(st->orig.dport, p.tuple.dport));
	if (reason) {
		reason = reason == -2 ? XCNI_DROP_FRAGMENT : XCNI_DROP_REDIRECT;
		goto out;
	}
	dst = bpf_map_lookup_elem(&xcni_endpoints6, p.tuple.daddr);
	/* To another node, too big for the underlay once encapsulated: the
	 * client is told (lib/ptb.h). np_maybe_over with the larger encapsulation
	 * (70: the IPv6 underlay's) first: what fits with it fits either way and
	 * needs no ipcache lookup here; the global decides by the backend's
	 * node's underlay. */
	if (!dst && np_maybe_over(skb, XCNI_ENCAP6_LEN) &&
	    (verdict = np6_too_big(skb, &p, st)) != NP_FITS) {
		reason = XCNI_DROP_TOO_BIG;
		goto out;
	}
	verdict = TC_ACT_OK;
	/* --node-port-mode dsr, a backend on another node: the client kept, the
	 * frontend in a Geneve option (lib/dsr6.h; 0: no tunnel, left to SNAT's checks). */
	if (!dst && lb_dsr && (reason = nodeport6_dsr_track(skb, &p, st))) {
		if (reason == DSR6_TRACKED)
			reason = nodeport6_dsr(skb, &p, st);
		if (reason == XCNI_FWD_ENCAP)
			verdict = TC_ACT_REDIRECT;
		goto out;
	}
	/* A backend on another node: SNAT to this node first (nodeport6_snat). */
	if (!dst && (reason = nodeport6_snat(skb, &p, st)))
		goto out;
	ct = ct6_track(skb, &p, &ctf);
	if (ct == CT_INVALID) {
		reason = p.frag_later ? XCNI_DROP_FRAGMENT : XCNI_DROP_CT_INVALID;
		goto out;
	}
	if ((ct == CT_NEW || ct == CT_STALE) && !dst) {
		/* Nothing to judge here (no pod of this node on either end): the
		 * backend's node judges its ingress, the source being this node. */
		ct6_commit(&p, ct, 0, XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT);
		if (nodeport6_commit(&p)) {
			reason = XCNI_DROP_NAT_NO_PORT;
			goto out;
		}
	} else if (dst && ct_judge_due(ct)) {
		/* A backend here: the client's address kept, judged by the pod's
		 * ingress as any flow from outside (world, or its ipBlock). */
		v.src_id = ipcache6_identity(p.tuple.saddr);
		v.dst_id = ipcache6_identity(p.tuple.daddr);
		reason = flow_judge6(&p, ct, 0, polkey_of(dst, p.tuple.daddr), &v, 0,
				     XCNI_CT_F_NODEPORT);
		if (reason)
			goto out;
	}
	lb6_follow(st, &p);
	if (!dst) {
		reason = nodeport6_encap(skb, &p);
		if (reason == XCNI_FWD_ENCAP)
			verdict = TC_ACT_REDIRECT;
		goto out;
	}
	reason = np6_into_pod(skb, &p, dst, &verdict);
out:
	if (reason_is_drop(reason))
		lb6_forget(st);
	return finish6(skb, reason, XCNI_DIR_FROM_OVERLAY, 0, &p, verdict, &v);
}

#endif
