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
#include "lib/dns.h"
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
 * To a pod on another node, either family (fam a constant; p4 or p6 the
 * family's view, the other NULL): routed (TTL, hop limit), encapsulated, out of
 * the underlay. Too big for the underlay once encapsulated (a pod MTU set
 * too high), or for a Geneve header (a BIG TCP packet, IPv4's tot_len 0 or
 * IPv6's payload length 0): the stack gets it and, routing it to the
 * overlay device, answers fragmentation-needed or Packet Too Big.
 * XCNI_FWD_ENCAP when it was sent (the redirect's verdict), or the reason.
 */
static __always_inline int to_remote_node(struct __sk_buff *skb, int fam, struct pkt *p4,
					  struct pkt6 *p6, __u32 tunnel)
{
	const struct xcni_ipcache_val *dipc = NULL;
	struct encap_in in;
	__u32 mtu = 0;
	int reason;

	/* The IPv6 underlay's endpoint is in the entry: looked up again here
	 * rather than kept in from_pod's (IPv4) or from_pod6's frame,
	 * which have no 8 bytes to spare. */
	if (tunnel == XCNI_TUN6) {
		dipc = ipcache_find(fam, flow_daddr(pkt_pair_flow(p4, p6, fam), fam));
		if (!dipc || !(dipc->flags & XCNI_IPC_TUN6))
			return XCNI_DROP_NO_TUNNEL;
	}
	if (bpf_check_mtu(skb, underlay_ifindex, &mtu, encap_len_of(tunnel), 0))
		return XCNI_FWD_TOO_BIG;
	reason = encap_in_fill(skb, fam, p4, p6, &in);
	if (reason)
		return reason;
	if (!in.inner_len)
		return XCNI_FWD_TOO_BIG;
	if (fam == XCNI_AF_INET) {
		ttl_decrement4(p4->ip);
	} else {
		p6->hop_limit--;
		if (bpf_skb_store_bytes(skb, IP6_HOPLIMIT_OFF, &p6->hop_limit, 1, 0))
			return XCNI_DROP_ENCAP;
	}
	reason = tunnel_encap(skb, &in, node_ip, tunnel, dipc ? dipc->tunnel_ip6 : NULL, vni);
	if (reason)
		return reason;
	return bpf_redirect_neigh(underlay_ifindex, NULL, 0, 0) == TC_ACT_REDIRECT ?
		       XCNI_FWD_ENCAP : XCNI_DROP_REDIRECT;
}

/*
 * to_remote_node for IPv6 in a frame of its own: its frame (the outer
 * headers) and ct_icmp_related's are never on the stack together, so
 * from_pod6 fits the verifier's 512 bytes. IPv4's is inlined
 * (from_pod's (IPv4) chain has no room for another frame).
 */
static __attribute__((noinline)) int to_remote_node_frame6(struct __sk_buff *skb,
							   struct pkt6 *p, __u32 tunnel)
{
	if (!skb || !p)
		return XCNI_DROP_ENCAP;
	return to_remote_node(skb, XCNI_AF_INET6, NULL, p, tunnel);
}

/*
 * A destination in the IPv4 Service range that names no pod: a ClusterIP,
 * whose backend kube-proxy's DNAT in the stack picks. A pod (or this node's
 * gateway) is never taken for one, even in a range overlapping the Service
 * range: its endpoint (dst), an ipcache entry of a pod (dipc), this node's pod
 * CIDR.
 */
static __always_inline int to_cluster_ip(const struct flow *f, int fam,
					 const struct xcni_endpoint *dst,
					 const struct xcni_ipcache_val *dipc)
{
	__u32 d = f->tuple.v4.daddr;

	if (dst || (dipc && (dipc->flags & XCNI_IPC_POD)))
		return 0;
	if (fam == XCNI_AF_INET6)
		return in_svc_cidr(fam, f->tuple.v6.daddr);
	return svc_cidr_mask && (d & svc_cidr_mask) == svc_cidr &&
	       (!pod_cidr_mask || (d & pod_cidr_mask) != pod_cidr);
}

/*
 * Where a pod's packet goes, decided before conntrack: the endpoint of a pod
 * of this node (*dst), else the ipcache's entry (*dipc) and the node that
 * hosts it (*tunnel). 0, or the drop reason of a packet refused for where it
 * goes, so it never refreshes, counts or advances (a FIN, an RST) the flow its
 * tuple names: an address of this node's pod CIDR with no pod (IPv4: the
 * range is in the programs), Geneve to a node (it would inject packets into
 * the overlay), a pod whose node is gone. IPv6 on the link (link-local: the
 * node's) has neither.
 */
static __always_inline int from_pod_where(struct pkt *p4, struct pkt6 *p6, int fam,
					  const struct xcni_endpoint **dst,
					  const struct xcni_ipcache_val **dipc, __u32 *tunnel)
{
	struct flow *f = pkt_pair_flow(p4, p6, fam);
	__u32 d = f->tuple.v4.daddr;

	if (fam == XCNI_AF_INET6) {
		if (in6_linklocal(f->tuple.v6.daddr))
			return 0;
		*dst = bpf_map_lookup_elem(&xcni_endpoints6, f->tuple.v6.daddr);
		if (!*dst && (*dipc = ipcache_find(fam, f->tuple.v6.daddr)))
			return remote6_check(p6, *dipc, node_ip, tunnel);
		return 0;
	}
	*dst = bpf_map_lookup_elem(&xcni_endpoints, &f->tuple.v4.daddr);
	if (*dst)
		return 0;
	if (pod_cidr_mask && (d & pod_cidr_mask) == pod_cidr && d != gateway_ip)
		return XCNI_DROP_UNKNOWN_DST;
	*dipc = ipcache_find(fam, &f->tuple.v4.daddr);
	if (!*dipc)
		return 0;
	if (f->tuple.v4.proto == IPPROTO_UDP && f->tuple.v4.dport == bpf_htons(XCNI_GENEVE_PORT) &&
	    ((*dipc)->identity == XCNI_ID_HOST || (*dipc)->identity == XCNI_ID_REMOTE_NODE))
		return XCNI_DROP_GENEVE_INJECT;
	*tunnel = tunnel_of(*dipc, node_ip);
	if (!*tunnel && ((*dipc)->flags & XCNI_IPC_POD))
		return no_tunnel_reason(*dipc);
	return 0;
}

/*
 * The flags the translation gave the flow's entry (XCNI_CT_F_HAIRPIN: a pod
 * reaching itself through a Service), from the family's translation state
 * lb (NULL for none).
 */
static __always_inline __u8 lb_hairpin(union lb_state lb, int fam)
{
	if (!lb_enabled || !lb.v4)
		return 0;
	return LB_ST(lb, fam, ct_flags);
}

/* A policy's verdict or a drop (its event) names both ends: one no policy
 * asked about (flow_judge looks a peer's up only then) looked up now, in a
 * frame of its own (from_pod's (IPv4) chain has no room for its key). */
static __attribute__((noinline)) void verdict_ids(const struct flow *f, int fam, struct verdict *v)
{
	v->src_id = v->src_id ?: flow_identity(f, fam, 0);
	v->dst_id = v->dst_id ?: flow_identity(f, fam, 1);
}

/*
 * What from_pod does with a packet once the pod is known (src, its address
 * ep_addr: IPv4 a __u32, IPv6 16 bytes) and its family's header parsed and
 * its source checked, one body and one order of steps for both families (p4
 * or p6: the family's view, the other NULL; c: IPv4's cursor, for a parse
 * again after a rewrite; lb: the family's translation state, NULL for none):
 *   1. Services in BPF: a frontend's packet gets its backend, so everything
 *      after sees the backend; none: refused at once, the packet turned into
 *      the answer and sent back into the pod;
 *   2. where it goes, refused before conntrack (from_pod_where);
 *   3. conntrack; a reply of a translated flow gets its frontend back;
 *   4. flows policy does not judge here: IPv6 on the link (the node's), a
 *      ClusterIP the stack translates (judged after its DNAT, in to_pod or
 *      to_overlay);
 *   5. policy on a new or stale flow: egress of the pod, ingress of a pod of
 *      this node;
 *   6. out, in this order: a flow the stack brought back through it; an ICMP
 *      error about a translated flow given its frontend back (CT_RELATED only:
 *      an error from a place on the flow's path); not to a pod: the stack;
 *      TTL or hop limit expiry: the stack, which answers; to another node's
 *      pod: Geneve; into a pod of this node past the stack.
 * The verdict's reason; *verdict what the hook returns when it forwards.
 */
static __always_inline int from_pod_flow(struct __sk_buff *skb, struct pkt *p4, struct pkt6 *p6,
					 int fam, struct cursor *c, const struct xcni_endpoint *src,
					 const void *ep_addr, __u32 ep_id, union lb_state lb,
					 struct verdict *v, int *verdict)
{
	struct flow *f = pkt_pair_flow(p4, p6, fam);
	const struct xcni_endpoint *dst = NULL;
	const struct xcni_ipcache_val *dipc = NULL;
	__u32 tunnel = 0;
	__u8 ctf;
	int reason = 0, ct;

	if (lb_enabled && lb.v4) {
		reason = lb_translate(skb, c, p4, p6, fam, ep_id, lb_loopback_ip, lb);
		if (reason == XCNI_DROP_NO_BACKEND)
			reason = lb_pod_no_backend(LB_ST(lb, fam, svc_flags));
		if (reason == XCNI_DROP_NO_BACKEND) {
			/* Refused at once, as kube-proxy's REJECT does: the packet
			 * becomes the answer and goes back into the client. */
			if (lb_reject(skb, p4, p6, fam))
				*verdict = TC_ACT_SHOT;
			else
				*verdict = bpf_redirect_peer(skb->ifindex, 0);
			return reason;
		}
		if (reason < 0)
			return reason;
	}
	reason = from_pod_where(p4, p6, fam, &dst, &dipc, &tunnel);
	if (reason)
		return reason;
	ct = ct_track(skb, f, fam, f->len, &ctf);
	if (ct == CT_INVALID)
		return ct_invalid_reason(f);
	if (lb_enabled && lb.v4)
		lb_flow_follow(lb, fam, f, 1);
	/* A reply of a translated flow whose client is local: the frontend
	 * back as its source (hairpin: the client, the pod itself, back as its
	 * destination). */
	if (lb_enabled && ct == CT_REPLY && f->rev_nat) {
		int err = lb_rev_nat(skb, f, fam, ctf);

		/* Even a rewrite cut short left IPv4's packet pointers stale. */
		if (fam == XCNI_AF_INET && (reason = reparse4(skb, c, p4)))
			return reason;
		if (!err && (ctf & XCNI_CT_F_HAIRPIN)) {
			dst = src;
			dipc = NULL;
			tunnel = 0;
		}
		/* A client outside (bpf/lib/nodeport.h): straight back out of
		 * this node's underlay. IPv4: every NodePort flow (the stack
		 * would take a reply from the node's own address arriving on a
		 * pod's device for a martian); IPv6: a DSR flow, from the other
		 * node's frontend (the stack routes the others). */
		if (!err && underlay_ifindex &&
		    (ctf & (fam == XCNI_AF_INET ? XCNI_CT_F_NODEPORT : XCNI_CT_F_DSR))) {
			*verdict = bpf_redirect_neigh(underlay_ifindex, NULL, 0, 0);
			return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_REPLY : XCNI_DROP_REDIRECT;
		}
	}
	/* IPv6 on the link (a link-local destination, the gateway): the node's,
	 * which a pod may always reach; tracked, so its answers find the flow. */
	if (fam == XCNI_AF_INET6 && in6_linklocal(f->tuple.v6.daddr)) {
		if (ct_judge_due(ct))
			ct_commit(f, fam, ct, f->len, ep_id, 0);
		return ct_answers(ct) ? XCNI_FWD_REPLY : XCNI_FWD_STACK;
	}
	/* A ClusterIP names no pod: kube-proxy's DNAT in the stack picks one,
	 * and egress is judged on it where the stack hands the flow back
	 * (to_pod, to_overlay). */
	if (ct == CT_NEW && to_cluster_ip(f, fam, dst, dipc)) {
		ct_commit(f, fam, CT_NEW, f->len, ep_id, XCNI_CT_F_STACK);
		return XCNI_FWD_STACK;
	}
	/* A flow to a Service took no decision here: it is judged after the DNAT. */
	if (ct == CT_STALE && (ctf & XCNI_CT_F_STACK)) {
		ct_commit(f, fam, ct, f->len, ep_id, 0);
		ct = CT_ORIG;
	}
	if (ct_judge_due(ct)) {
		/* Both ends must allow: egress here, ingress at a local
		 * destination (a remote one applies its own on arrival). */
		v->dst_id = dipc ? dipc->identity : 0;
		/* Hairpin: the pod reaches itself as kube-proxy would have it,
		 * from the node (allowed, as the node always is); kube-proxy's
		 * masquerade hands the flow to the node, so the pod's egress is
		 * not asked either (lab netpol via Service: the same truth
		 * tables). Read where used, not held: a value held across
		 * the lookups costs from_pod (IPv4) a slot of its frame. */
		if (lb_hairpin(lb, fam))
			v->src_id = XCNI_ID_HOST;
		reason = flow_judge(f, fam, ct, lb_hairpin(lb, fam) ? 0 : judge_key(src, ep_addr, fam),
				    judge_key(dst, fam == XCNI_AF_INET ? (const void *)&f->tuple.v4.daddr
								       : f->tuple.v6.daddr, fam),
				    v, f->len, ep_id, lb_hairpin(lb, fam), 1);
		if (v->enforced || reason) /* a drop's event names both ends too */
			verdict_ids(f, fam, v);
		if (reason)
			return reason;
	}
	/* A flow the stack brought (NAT) goes back through it, replies included. */
	if (ctf & XCNI_CT_F_STACK)
		return ct_answers(ct) ? XCNI_FWD_REPLY : XCNI_FWD_STACK;
	/* An ICMP error about a translated flow, on its way to the client. */
	if (lb_enabled && ct == CT_RELATED && (reason = lb_related_rev_nat(skb, f, fam, c, p4)))
		return reason;
	if (!dst && !tunnel)
		return ct_answers(ct) ? XCNI_FWD_REPLY : XCNI_FWD_STACK;
	/* TTL (hop limit) expiry is the stack's to answer (ICMP time exceeded). */
	if ((fam == XCNI_AF_INET ? p4->ip->ttl : f->hop_limit) <= 1)
		return XCNI_FWD_STACK;
	if (tunnel) {
		reason = fam == XCNI_AF_INET ? to_remote_node(skb, fam, p4, p6, tunnel)
					     : to_remote_node_frame6(skb, p6, tunnel);
		/* The verdict of the redirect, which only FWD_ENCAP is. */
		if (reason == XCNI_FWD_ENCAP)
			*verdict = TC_ACT_REDIRECT;
		return reason;
	}
	/* Routed as the host would: TTL down by one (IPv4's header checksum
	 * with it; IPv6 has none), the pod link's MACs. Known non-NULL here (no
	 * tunnel), but the verifier may lose the link between the two through
	 * the compiler's register choices. */
	if (!dst)
		return XCNI_DROP_REDIRECT;
	if (fam == XCNI_AF_INET) {
		if (l3_forward_rewrite4(skb, p4, dst))
			return XCNI_DROP_REDIRECT;
	} else {
		f->hop_limit--;
		if (bpf_skb_store_bytes(skb, IP6_HOPLIMIT_OFF, &f->hop_limit, 1, 0) ||
		    mac_rewrite(skb, dst))
			return XCNI_DROP_REDIRECT;
	}
	/* A DNS answer from a DNS pod of this node to its client here (lib/dns.h). */
	dns_learn_reply(skb, f, fam, ct, dst->ep_id);
	return redirect_local(dst, ct_answers(ct), verdict);
}

/*
 * from_pod, either family (fam a constant: the compiler keeps one family's
 * branch in each copy and the verifier sees no other), one order of steps:
 *   1. the Ethernet header, the endpoint behind the device, the pod's MAC;
 *   2. no VLAN tag (skb->vlan_tci, which the stack took off before tc):
 *      xcni has no VLANs to give it to, and answers nothing behind one;
 *   3. IPv4 only: ARP for the pod's own address (the sender rule is
 *      handle_arp's own), any other non-IP type refused;
 *   4. the header;
 *   5. the source rule: the pod's own address; IPv6 also a link-local
 *      source (or :: for DAD) for neighbour discovery and its gateway;
 *   6. IPv6 only: neighbour discovery on the link, answered (the gateway);
 *   7. from_pod_flow: Services, where it goes, conntrack, policy, out.
 * The family's state: IPv4's struct pkt (packet pointers) on the stack;
 * IPv6's struct pkt6 and either family's translation state in xcni_lb6_tmp
 * (lb6_tmp_get).
 */
static __always_inline int from_pod_fam(struct __sk_buff *skb, const int fam)
{
	struct xcni_endpoint *src;
	/* Each family's translation state in lb6_tmp (IPv4's st4: taken and
	 * zeroed here, nothing to forget; IPv6's st once its header passed),
	 * and IPv6's packet (p6, zeroed below): off the stack, and untracked. */
	struct lb6_tmp *t = lb6_tmp_get();
	union lb_state lb = { .v4 = NULL };
	struct verdict v = {};
	struct pkt p4 = {};
	struct pkt6 *p6 = NULL;
	struct flow *f;
	const struct ethhdr *eth;
	struct cursor c;
	const void *ep_addr = NULL;
	__u32 ep_ip = 0, ep_id = 0;
	int reason, verdict = TC_ACT_OK, nd;

	if (!t)
		return TC_ACT_SHOT;
	if (fam == XCNI_AF_INET6) {
		p6 = &t->p6;
		__builtin_memset(p6, 0, sizeof(*p6));
	} else if (lb_enabled) {
		__builtin_memset(&t->st4, 0, sizeof(t->st4));
		lb.v4 = &t->st4;
	}
	f = fam == XCNI_AF_INET ? pkt_flow(&p4) : pkt_flow(p6);
	f->len = skb->len;
	if (fam == XCNI_AF_INET) {
		reason = eth_start(skb, &c, &p4) ? XCNI_DROP_SHORT : 0;
		eth = p4.eth;
	} else {
		/* Read in place: no cursor (IPv6 is read by offsets). */
		eth = (const struct ethhdr *)(long)skb->data;
		reason = (const void *)(eth + 1) > (const void *)(long)skb->data_end ? XCNI_DROP_SHORT : 0;
	}
	if (reason)
		goto out;
	/* The pod and its address (IPv4's also kept by value) in one lookup. */
	src = endpoint_of_dev(fam, skb->ifindex, &ep_addr);
	if (!src) {
		reason = XCNI_DROP_NO_ENDPOINT;
		goto out;
	}
	if (fam == XCNI_AF_INET)
		ep_ip = *(const __u32 *)ep_addr;
	ep_id = src->ep_id;
	if (!mac_eq(eth->h_source, src->pod_mac)) {
		reason = XCNI_DROP_SPOOF_MAC;
		goto out;
	}
	if (skb->vlan_present) {
		reason = XCNI_DROP_NON_IP;
		goto out;
	}
	if (fam == XCNI_AF_INET) {
		if (p4.eth->h_proto == bpf_htons(ETH_P_ARP)) {
			reason = handle_arp(&c, ep_ip, src->pod_mac);
			goto out;
		}
		reason = parse_eth_ipv4(&c, &p4);
		if (reason)
			goto out;
		if (p4.tuple.saddr != ep_ip) {
			reason = XCNI_DROP_SPOOF_IP;
			goto out;
		}
	} else {
		reason = parse_ipv6(skb, p6);
		if (reason)
			goto out;
		/* ND and MLD are spoken on the link: of their types, only what
		 * goes to a link-local or multicast address is neighbour
		 * discovery. Anything else is a datagram like any other (the
		 * node would route it): the source rule, conntrack and policy
		 * judge it. */
		nd = icmp6_is_nd(p6) && in6_on_link(p6->tuple.daddr);
		if (!in6_eq(p6->tuple.saddr, ep_addr)) {
			/* Not the pod's address: a link-local one (or :: for
			 * DAD) may speak neighbour discovery, and reach the
			 * gateway; nothing else. */
			reason = XCNI_DROP_SPOOF_IP;
			if (!in6_linklocal(p6->tuple.saddr) && !in6_unspec(p6->tuple.saddr))
				goto out;
			if (!nd && (!in6_linklocal(p6->tuple.saddr) || !in6_is_gw(p6->tuple.daddr)))
				goto out;
		}
		if (nd) {
			/* With the hop limit a neighbour sends, else not from
			 * the link. */
			reason = nd_hop_ok(p6);
			if (!reason)
				reason = nd_from_pod(skb, p6, src, ep_addr, &verdict);
			goto out;
		}
		if (lb_enabled) {
			__builtin_memset(&t->st, 0, sizeof(t->st));
			lb.v6 = &t->st;
		}
	}
	reason = from_pod_flow(skb, &p4, p6, fam, &c, src, ep_addr, ep_id, lb, &v, &verdict);
out:
	if (lb_enabled && reason_is_drop(reason))
		lb_flow_forget(lb, fam);
	return finish_flow(skb, fam, reason, XCNI_DIR_FROM_POD, ep_id, f, verdict, &v);
}

/*
 * from_pod_fam's two programs, one per family: IPv4's (and ARP's, and
 * whatever else is refused) is from_pod itself, IPv6's from_pod6, reached by
 * a tail call through xcni_podcalls. Each is verified as a program of its
 * own: its own 1,000,000 instructions, and its family's frame the program's
 * first, where 6.1 counts 32 bytes for an entry's empty frame
 * (docs/decisions/kernel-matrix.md: from_pod refused there at 32 + 416 + 128).
 * The array is filled at load (.values); xcnid pins it beside prog_from_pod
 * (an array no pin or descriptor holds is emptied), not pinned by name: each
 * loaded object calls its own from_pod6, whatever else shares the pin dir.
 */
SEC("tc")
int from_pod6(struct __sk_buff *skb)
{
	return from_pod_fam(skb, XCNI_AF_INET6);
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__array(values, int(struct __sk_buff *));
} xcni_podcalls SEC(".maps") = {
	.values = { [0] = (void *)&from_pod6 },
};

/*
 * Every packet a pod sends. IPv6 by the skb's protocol, in from_pod6; the
 * rest (IPv4, ARP, whatever else is refused) as IPv4. A missed tail call
 * (the array emptied) drops.
 */
SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		bpf_tail_call_static(skb, &xcni_podcalls, 0);
		return TC_ACT_SHOT;
	}
	return from_pod_fam(skb, XCNI_AF_INET);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
