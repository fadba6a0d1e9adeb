// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * from_pod: tc ingress of every pod's host-side veth, i.e. every packet a pod
 * sends. Anti-spoofing, conntrack, NetworkPolicy (egress of the source pod,
 * and ingress of the destination when it is a pod of this node), then
 * delivery: straight into a pod on this node (bpf_redirect_peer, no host
 * stack), or to the host stack.
 *
 * With lb_enabled, a packet to a Service frontend is translated first (DNAT
 * to its backend, bpf/lib/lb.h), so everything after it, policy included,
 * sees the backend; replies of translated flows get the frontend back here
 * when their client is a pod of this node.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lib/compat.h"
#include "lib/config.h"
#include "lib/conntrack.h"
#include "lib/encap.h"
#include "lib/exit.h"
#include "lib/frag.h"
#include "lib/ipcache.h"
#include "lib/l2.h"
#include "lib/lb.h"
#include "lib/maps.h"
#include "lib/neigh.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/sctp.h"

/*
 * To a pod on another node: routed (TTL), encapsulated, out of the underlay.
 * Too big for the underlay once encapsulated (a pod MTU set too high): the
 * stack gets it and, routing it to the overlay device, answers
 * fragmentation-needed.
 */
static __always_inline int to_remote_node(struct __sk_buff *skb, struct pkt *p, __u32 tunnel,
					  int *verdict)
{
	const struct xcni_ipcache_val *dipc = NULL;
	struct encap_in in;
	__u32 mtu = 0;
	int reason;

	/* The IPv6 underlay's endpoint is in the entry: looked up again here
	 * rather than kept in from_pod4's frame, which has no 8 bytes to spare. */
	if (tunnel == XCNI_TUN6) {
		dipc = ipcache_lookup(p->tuple.daddr);
		if (!dipc || !(dipc->flags & XCNI_IPC_TUN6))
			return XCNI_DROP_NO_TUNNEL;
	}

	if (bpf_check_mtu(skb, underlay_ifindex, &mtu, encap_len_of(tunnel), 0))
		return XCNI_FWD_TOO_BIG;
	encap_in_take(p, &in);
	/* A BIG TCP packet (tot_len 0) cannot be described by a Geneve header:
	 * the stack segments it on its way to xcni0. */
	if (!in.inner_len)
		return XCNI_FWD_TOO_BIG;
	if (ttl_decrement(skb, p))
		return XCNI_DROP_ENCAP;
	reason = tunnel_encap(skb, &in, node_ip, tunnel, dipc ? dipc->tunnel_ip6 : NULL, vni);
	if (reason)
		return reason;
	*verdict = bpf_redirect_neigh(underlay_ifindex, NULL, 0, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_ENCAP : XCNI_DROP_REDIRECT;
}

/*
 * IPv6 to a pod on another node: hop limit down by one, Geneve over the IPv4
 * underlay, out of it. Too big once encapsulated: the stack, routing it to
 * the overlay device, answers Packet Too Big (as to_remote_node). Not
 * inlined: its frame (the outer headers) and ct6_icmp_related's are never on
 * the stack together, so from_pod6 fits the verifier's 512 bytes.
 */
static __attribute__((noinline)) int to_remote_node6(struct __sk_buff *skb, struct pkt6 *p,
						     __u32 tunnel)
{
	const struct xcni_ipcache_val *dipc = NULL;
	struct encap_in in;
	__u32 mtu = 0;
	int reason;

	if (!skb || !p)
		return XCNI_DROP_ENCAP;
	/* As to_remote_node: the entry again, from_pod6's frame being full. */
	if (tunnel == XCNI_TUN6) {
		dipc = ipcache6_lookup(p->tuple.daddr);
		if (!dipc || !(dipc->flags & XCNI_IPC_TUN6))
			return XCNI_DROP_NO_TUNNEL;
	}
	if (bpf_check_mtu(skb, underlay_ifindex, &mtu, encap_len_of(tunnel), 0))
		return XCNI_FWD_TOO_BIG;
	reason = encap_in_take6(skb, p, &in);
	if (reason)
		return reason;
	p->hop_limit--;
	if (bpf_skb_store_bytes(skb, IP6_HOPLIMIT_OFF, &p->hop_limit, 1, 0))
		return XCNI_DROP_ENCAP;
	reason = tunnel_encap(skb, &in, node_ip, tunnel, dipc ? dipc->tunnel_ip6 : NULL, vni);
	if (reason)
		return reason;
	return bpf_redirect_neigh(underlay_ifindex, NULL, 0, 0) == TC_ACT_REDIRECT ?
		       XCNI_FWD_ENCAP : XCNI_DROP_REDIRECT;
}

/*
 * IPv6 from a pod. Anti-spoofing (the pod's IPv6, or a link-local source for
 * neighbour discovery and its gateway only; its MAC), neighbour discovery on
 * the link (the gateway answered here), conntrack, egress and, for a pod of
 * this node, ingress policy, then redirect to that pod, Geneve to the node of
 * a remote one (ipcache6 tunnel_ip), or the host stack. Global: verified on
 * its own, the IPv4 path does not carry it.
 */
__attribute__((noinline)) int from_pod6(struct __sk_buff *skb)
{
	struct xcni_endpoint *src, *dst;
	struct xcni_ipcache_val *dipc;
	struct lb6_state *lb = NULL;
	struct verdict v = {};
	struct pkt6 p = {};
	const struct ethhdr *eth;
	const __u8 *ep_ip6 = NULL;
	__u32 ep_id = 0, tunnel = 0;
	int reason, verdict = TC_ACT_OK, ct, nd;
	__u8 ctf;

	if (!skb)
		return TC_ACT_SHOT;
	p.len = skb->len;
	src = endpoint6_of_dev(skb->ifindex, &ep_ip6);
	if (!src) {
		reason = XCNI_DROP_NO_ENDPOINT;
		goto out;
	}
	ep_id = src->ep_id;
	/* Read in place: a copy would cost the frame 8 bytes, which lb6_translate
	 * needs below it (the verifier's 512 for the chain). */
	eth = (const struct ethhdr *)(long)skb->data;
	if ((const void *)(eth + 1) > (const void *)(long)skb->data_end) {
		reason = XCNI_DROP_SHORT;
		goto out;
	}
	if (!mac_eq(eth->h_source, src->pod_mac)) {
		reason = XCNI_DROP_SPOOF_MAC;
		goto out;
	}
	if (skb->vlan_present) {
		reason = XCNI_DROP_NON_IP;
		goto out;
	}
	reason = parse_ipv6(skb, &p);
	if (reason)
		goto out;
	/* ND and MLD are spoken on the link: of their types, only what goes to
	 * a link-local or multicast address is neighbour discovery. Anything
	 * else is a datagram like any other (the node would route it): the
	 * source rule, conntrack and policy below judge it. */
	nd = icmp6_is_nd(&p) && in6_on_link(p.tuple.daddr);
	if (!in6_eq(p.tuple.saddr, ep_ip6)) {
		/* Not the pod's address: a link-local one (or :: for DAD) may
		 * speak neighbour discovery, and reach the gateway; nothing else. */
		reason = XCNI_DROP_SPOOF_IP;
		if (!in6_linklocal(p.tuple.saddr) && !in6_unspec(p.tuple.saddr))
			goto out;
		if (!nd && (!in6_linklocal(p.tuple.saddr) || !in6_is_gw(p.tuple.daddr)))
			goto out;
	}
	if (nd) {
		/* With the hop limit a neighbour sends, else not from the link. */
		reason = nd_hop_ok(&p);
		if (!reason)
			reason = nd_from_pod(skb, &p, src, ep_ip6, &verdict);
		goto out;
	}
	/* Services in BPF (bpf/lib/lb.h): a frontend's packet gets its backend
	 * here, so conntrack and policy see the backend; no backend: refused at
	 * once, the packet turned into the answer and sent back into the pod. */
	if (lb_enabled && (lb = lb6_state_get())) {
		reason = lb6_translate(skb, &p, ep_id, lb, 0);
		if (reason == XCNI_DROP_NO_BACKEND) {
			p.rev_nat = lb->rev_nat;
			reason = lb_pod_no_backend(lb->svc_flags);
		}
		if (reason == XCNI_DROP_NO_BACKEND) {
			verdict = lb6_reject(skb, &p) ? TC_ACT_SHOT
						       : bpf_redirect_peer(skb->ifindex, 0);
			goto out;
		}
		if (reason < 0)
			goto out;
		reason = 0;
	}
	/* Refused packets must not touch conntrack (from_pod4's order): a packet
	 * dropped for where it goes (Geneve into the overlay, a pod whose node is
	 * gone) is dropped before ct6_track would refresh, count or advance
	 * (a FIN, an RST) the flow its tuple names. On the link: the node's. */
	dst = NULL;
	dipc = NULL;
	if (!in6_linklocal(p.tuple.daddr)) {
		dst = bpf_map_lookup_elem(&xcni_endpoints6, p.tuple.daddr);
		/* Remote: a pod on another node (the overlay's), or a node itself. */
		if (!dst && (dipc = ipcache6_lookup(p.tuple.daddr)) &&
		    (reason = remote6_check(&p, dipc, node_ip, &tunnel)))
			goto out;
	}
	ct = ct_track(skb, pkt_flow(&p), XCNI_AF_INET6, p.len, &ctf);
	if (ct == CT_INVALID) {
		reason = ct_invalid_reason(pkt_flow(&p));
		goto out;
	}
	if (lb_enabled) {
		lb6_follow(lb, &p);
		/* A reply of a translated flow: the frontend back as its source
		 * (hairpin: the pod back as its destination); an ICMPv6 error
		 * about one: its quote back to the frontend. */
		if (ct == CT_REPLY && p.rev_nat) {
			int err = lb6_rev_nat(skb, &p, ctf);

			/* Hairpin: the reply's destination is the pod itself. */
			if (!err && (ctf & XCNI_CT_F_HAIRPIN)) {
				dst = src;
				dipc = NULL;
				tunnel = 0;
			}
			if (!err && (ctf & XCNI_CT_F_DSR) && underlay_ifindex) {
				/* A DSR flow's client (bpf/lib/nodeport.h): straight out of
				 * this node's underlay, from the other node's frontend. */
				verdict = bpf_redirect_neigh(underlay_ifindex, NULL, 0, 0);
				reason = verdict == TC_ACT_REDIRECT ? XCNI_FWD_REPLY
								    : XCNI_DROP_REDIRECT;
				goto out;
			}
		} else if (ct == CT_RELATED && p.tuple.proto == XCNI_IPPROTO_ICMPV6)
			lb6_icmp_rev_nat(skb, p.l4_off);
	}
	/* On the link (a link-local destination, the gateway): the node's, which
	 * a pod may always reach; tracked, so its answers find the flow. */
	if (in6_linklocal(p.tuple.daddr)) {
		if (ct == CT_NEW || ct == CT_STALE)
			ct_commit(pkt_flow(&p), XCNI_AF_INET6, ct, p.len, ep_id, 0);
		reason = ct_answers(ct) ? XCNI_FWD_REPLY : XCNI_FWD_STACK;
		goto out;
	}
	if (ct == CT_NEW && !dst && !(dipc && (dipc->flags & XCNI_IPC_POD)) &&
	    in_svc_cidr6(p.tuple.daddr)) {
		/* An IPv6 ClusterIP names no pod: kube-proxy's DNAT (ip6tables) in
		 * the stack picks one, and egress is judged on it where the stack
		 * hands the flow back (to_pod6, to_overlay6), as from_pod4 does. */
		ct_commit(pkt_flow(&p), XCNI_AF_INET6, CT_NEW, p.len, ep_id, XCNI_CT_F_STACK);
		reason = XCNI_FWD_STACK;
		goto out;
	}
	/* A flow to a Service took no decision here: it is judged after the DNAT. */
	if (ct == CT_STALE && (ctf & XCNI_CT_F_STACK)) {
		ct_commit(pkt_flow(&p), XCNI_AF_INET6, ct, p.len, ep_id, 0);
		ct = CT_ORIG;
	}
	if (ct_judge_due(ct)) {
		v.src_id = ipcache6_identity(p.tuple.saddr);
		v.dst_id = dipc ? dipc->identity : ipcache6_identity(p.tuple.daddr);
		/* Hairpin: from the node, as kube-proxy's masquerade has it (lb.h). */
		__u8 hp = lb ? lb->ct_flags : 0;

		if (hp & XCNI_CT_F_HAIRPIN)
			v.src_id = XCNI_ID_HOST;
		reason = flow_judge(pkt_flow(&p), XCNI_AF_INET6, ct,
				    (hp & XCNI_CT_F_HAIRPIN) ? 0 : polkey_of(src, ep_ip6),
				    dst ? polkey_of(dst, p.tuple.daddr) : 0, &v, p.len, ep_id, hp);
		if (reason)
			goto out;
	}
	/* To a pod of another node (hop limit expiry: the stack answers). */
	if (tunnel && !(ctf & XCNI_CT_F_STACK)) {
		reason = p.hop_limit <= 1 ? XCNI_FWD_STACK : to_remote_node6(skb, &p, tunnel);
		/* The verdict of the redirect, which only FWD_ENCAP is. */
		if (reason == XCNI_FWD_ENCAP)
			verdict = TC_ACT_REDIRECT;
		goto out;
	}
	/* Not to a pod of this node, or a flow the stack brought: the stack's. */
	if (!dst || (ctf & XCNI_CT_F_STACK)) {
		reason = ct_answers(ct) ? XCNI_FWD_REPLY : XCNI_FWD_STACK;
		goto out;
	}
	/* Hop limit expiry is the stack's to answer (ICMPv6 time exceeded). */
	if (p.hop_limit <= 1) {
		reason = XCNI_FWD_STACK;
		goto out;
	}
	/* Routed as the host would: hop limit down by one (IPv6 has no header
	 * checksum), the pod link's MACs. */
	p.hop_limit--;
	if (bpf_skb_store_bytes(skb, IP6_HOPLIMIT_OFF, &p.hop_limit, 1, 0) ||
	    mac_rewrite(skb, dst)) {
		reason = XCNI_DROP_REDIRECT;
		goto out;
	}
	reason = redirect_local(dst, ct_answers(ct), &verdict);
out:
	if (lb_enabled && reason_is_drop(reason))
		lb6_forget(lb);
	return finish6(skb, reason, XCNI_DIR_FROM_POD, ep_id, &p, verdict, &v);
}

/*
 * IPv4 (and ARP, and whatever else is dropped). A function of its own beside
 * from_pod6: the two frames never sit on the stack together, and each fits the
 * verifier's 512 bytes with its callees.
 */
__attribute__((noinline)) int from_pod4(struct __sk_buff *skb)
{
	struct xcni_endpoint *src, *dst;
	struct xcni_ipcache_val *dipc;
	struct lb_state lb = {};
	struct verdict v = {};
	struct pkt p = {};
	struct cursor c;
	__u32 ep_ip = 0, ep_id = 0, tunnel = 0;
	int reason, verdict = TC_ACT_OK, ct;
	__u8 ctf;

	p.len = skb->len;
	reason = pod_dev_start(skb, &c, &p, &src, &ep_ip);
	if (reason)
		goto out;
	ep_id = src->ep_id;
	if (!mac_eq(p.eth->h_source, src->pod_mac)) {
		reason = XCNI_DROP_SPOOF_MAC;
		goto out;
	}
	if (p.eth->h_proto == bpf_htons(ETH_P_ARP)) {
		reason = handle_arp(&c, ep_ip, src->pod_mac);
		goto out;
	}
	/* A VLAN tag the stack took off before tc (skb->vlan_tci) hides behind
	 * an IPv4 ethertype: xcni has no VLANs to give it to. */
	if (p.eth->h_proto != bpf_htons(ETH_P_IP) || skb->vlan_present) {
		reason = XCNI_DROP_NON_IP;
		goto out;
	}
	reason = parse_ipv4(&c, &p);
	if (reason)
		goto out;
	if (p.tuple.saddr != ep_ip) {
		reason = XCNI_DROP_SPOOF_IP;
		goto out;
	}
	if (lb_enabled) {
		reason = lb_translate(skb, &p, ep_id, lb_loopback_ip, &lb, 0);
		if (reason == XCNI_DROP_NO_BACKEND)
			reason = lb_pod_no_backend(lb.svc_flags);
		if (reason == XCNI_DROP_NO_BACKEND) {
			/* Refused at once, as kube-proxy's REJECT does: the packet
			 * becomes the answer and goes back into the client. */
			if (!lb_reject(skb, &p))
				verdict = bpf_redirect_peer(skb->ifindex, 0);
			else
				verdict = TC_ACT_SHOT;
			goto out;
		}
		if (reason == 1)
			reason = reparse(skb, &c, &p);
		if (reason)
			goto out;
	}

	/* Refused packets must not leave conntrack entries behind. */
	dst = bpf_map_lookup_elem(&xcni_endpoints, &p.tuple.daddr);
	if (!dst && pod_cidr_mask && (p.tuple.daddr & pod_cidr_mask) == pod_cidr &&
	    p.tuple.daddr != gateway_ip) {
		reason = XCNI_DROP_UNKNOWN_DST;
		goto out;
	}
	/* A local destination needs no ipcache lookup unless policy asks (new flows). */
	dipc = dst ? NULL : ipcache_lookup(p.tuple.daddr);
	if (dipc) {
		/* Geneve to a node from a pod would inject packets into the overlay. */
		if (p.tuple.proto == IPPROTO_UDP && p.tuple.dport == bpf_htons(XCNI_GENEVE_PORT) &&
		    (dipc->identity == XCNI_ID_HOST || dipc->identity == XCNI_ID_REMOTE_NODE)) {
			reason = XCNI_DROP_GENEVE_INJECT;
			goto out;
		}
		tunnel = tunnel_of(dipc, node_ip);
		/* A pod whose node is gone: dropped, not sent into the void. */
		if (!tunnel && (dipc->flags & XCNI_IPC_POD)) {
			reason = no_tunnel_reason(dipc);
			goto out;
		}
	}
	ct = ct_track(skb, pkt_flow(&p), XCNI_AF_INET, skb->len, &ctf);
	if (ct == CT_INVALID) {
		reason = ct_invalid_reason(pkt_flow(&p));
		goto out;
	}
	if (lb_enabled) {
		lb_follow(&lb, &p);
		/* A reply of a translated flow whose client is local: the
		 * frontend back as its source (and for hairpin, the client as
		 * its destination: the pod itself). */
		if (ct == CT_REPLY && p.rev_nat) {
			int err = lb_rev_nat(skb, &p, ctf);

			/* Even a rewrite cut short left packet pointers stale. */
			reason = reparse(skb, &c, &p);
			if (reason)
				goto out;
			if (!err && (ctf & XCNI_CT_F_HAIRPIN)) {
				dst = src;
				tunnel = 0;
			}
			/* A NodePort flow's client is outside: back out the underlay
			 * (the stack would take the node's own address as source for
			 * a martian). */
			if (!err && (ctf & XCNI_CT_F_NODEPORT) && underlay_ifindex) {
				verdict = bpf_redirect_neigh(underlay_ifindex, NULL, 0, 0);
				reason = verdict == TC_ACT_REDIRECT ? XCNI_FWD_REPLY
								    : XCNI_DROP_REDIRECT;
				goto out;
			}
		}
	}
	if (ct == CT_NEW && svc_cidr_mask && (p.tuple.daddr & svc_cidr_mask) == svc_cidr && !dst &&
	    (!pod_cidr_mask || (p.tuple.daddr & pod_cidr_mask) != pod_cidr) &&
	    !(dipc && (dipc->flags & XCNI_IPC_POD))) {
		/* A ClusterIP names no pod: kube-proxy's DNAT in the stack picks
		 * one, and egress is judged on it where the stack hands the flow
		 * back (to_pod, to_overlay). A pod (or this node's gateway) is
		 * never taken for one, even in a range overlapping the Service range. */
		ct_commit(pkt_flow(&p), XCNI_AF_INET, CT_NEW, skb->len, ep_id, XCNI_CT_F_STACK);
		reason = XCNI_FWD_STACK;
		goto out;
	}
	/* A flow to a Service took no decision here: it is judged after the DNAT. */
	if (ct == CT_STALE && (ctf & XCNI_CT_F_STACK)) {
		ct_commit(pkt_flow(&p), XCNI_AF_INET, ct, skb->len, ep_id, 0);
		ct = CT_ORIG;
	}
	if (ct_judge_due(ct)) {
		/* Both ends must allow: egress here, ingress at a local destination
		 * (a remote one applies its own on arrival). */
		v.src_id = ipcache_identity(p.tuple.saddr);
		v.dst_id = dipc ? dipc->identity : ipcache_identity(p.tuple.daddr);
		/* Hairpin: the pod reaches itself as kube-proxy would have it,
		 * from the node (allowed, as the node always is); kube-proxy's
		 * masquerade hands the flow to the node, so the pod's egress is not
		 * asked either (lab netpol via Service: the same truth tables). */
		if (lb.ct_flags & XCNI_CT_F_HAIRPIN)
			v.src_id = XCNI_ID_HOST;
		reason = flow_judge(pkt_flow(&p), XCNI_AF_INET, ct,
				    (lb.ct_flags & XCNI_CT_F_HAIRPIN) ? 0 : ep_ip,
				    dst ? p.tuple.daddr : 0, &v, skb->len, ep_id, lb.ct_flags);
		if (reason)
			goto out;
	}
	/* A flow the stack brought (NAT) goes back through it, replies included. */
	if (ctf & XCNI_CT_F_STACK) {
		reason = ct_answers(ct) ? XCNI_FWD_REPLY : XCNI_FWD_STACK;
		goto out;
	}
	/* An ICMP error about a translated flow, on its way to the client. */
	if (lb_enabled && p.tuple.proto == IPPROTO_ICMP && !p.is_echo) {
		/* A call that may rewrite the packet: its pointers are stale either way. */
		lb_icmp_rev_nat(skb, p.l3_len);
		reason = reparse(skb, &c, &p);
		if (reason)
			goto out;
	}
	if (!dst && !tunnel) {
		reason = ct_answers(ct) ? XCNI_FWD_REPLY : XCNI_FWD_STACK;
		goto out;
	}
	/* TTL expiry is the stack's to answer (ICMP time exceeded). */
	if (p.ip->ttl <= 1) {
		reason = XCNI_FWD_STACK;
		goto out;
	}
	if (tunnel) {
		reason = to_remote_node(skb, &p, tunnel, &verdict);
		goto out;
	}
	/* Known non-NULL here (no tunnel), but the verifier may lose the link
	 * between the two through the compiler's register choices. */
	if (!dst || l3_forward_rewrite(skb, &p, dst)) {
		reason = XCNI_DROP_REDIRECT;
		goto out;
	}
	reason = redirect_local(dst, ct_answers(ct), &verdict);
out:
	if (lb_enabled && reason_is_drop(reason))
		lb_forget(&lb);
	return finish(skb, reason, XCNI_DIR_FROM_POD, ep_id, &p, verdict, &v);
}

SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return from_pod6(skb);
	return from_pod4(skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
