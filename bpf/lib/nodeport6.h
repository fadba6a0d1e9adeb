/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 NodePorts and externalIPs (issue 13 for issue 14's IPv6): from_overlay's
 * from_outside for an IPv6 packet from the underlay (not Geneve: the underlay
 * is IPv4) to an external IPv6 frontend, with Services in BPF (lb_enabled).
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
 *  - a backend on another node is not served over IPv6 yet (drop-no-tunnel):
 *    the SNAT to this node's IPv6 address needs the client's 16-byte address
 *    kept for the replies, which the conntrack entry has no room for.
 */
#ifndef XCNI_NODEPORT6_H
#define XCNI_NODEPORT6_H

#include "ipv6.h"
#include "l2.h"
#include "lb6.h"

/* from_outside6's answer for a packet that is not its own: the caller goes on with it. */
#define NODEPORT6_NOT_OURS (-2000)

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
	reason = lb6_translate(skb, &p, 0, st, 1);
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
	if (!dst) {
		reason = XCNI_DROP_NO_TUNNEL;
		goto out;
	}
	/* A backend here: the client's address kept, judged by the pod's
	 * ingress as any flow from outside (world, or its ipBlock). */
	ct = ct6_track(skb, &p, &ctf);
	if (ct == CT_INVALID) {
		reason = p.frag_later ? XCNI_DROP_FRAGMENT : XCNI_DROP_CT_INVALID;
		goto out;
	}
	if (ct == CT_NEW || ct == CT_STALE) {
		v.src_id = ipcache6_identity(p.tuple.saddr);
		v.dst_id = ipcache6_identity(p.tuple.daddr);
		reason = flow_judge6(&p, ct, 0, polkey_of(dst, p.tuple.daddr), &v, 0,
				     XCNI_CT_F_NODEPORT);
		if (reason)
			goto out;
	}
	lb6_follow(st, &p);
	/* Routed as the host would: hop limit down by one, the pod link's MACs. */
	if (p.hop_limit <= 1) {
		reason = XCNI_DROP_REDIRECT;
		goto out;
	}
	p.hop_limit--;
	if (bpf_skb_store_bytes(skb, IP6_HOPLIMIT_OFF, &p.hop_limit, 1, 0) ||
	    mac_rewrite(skb, dst)) {
		reason = XCNI_DROP_REDIRECT;
		goto out;
	}
	verdict = bpf_redirect_peer(dst->ifindex, 0);
	reason = verdict == TC_ACT_REDIRECT ? XCNI_FWD_LOCAL : XCNI_DROP_REDIRECT;
out:
	if (reason_is_drop(reason))
		lb6_forget(st);
	return finish6(skb, reason, XCNI_DIR_FROM_OVERLAY, 0, &p, verdict, &v);
}

#endif
