// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * to_pod: tc egress of every pod's host-side veth, i.e. what the host stack
 * sends into a pod (host processes, routed traffic, replies to the pod's own
 * flows). Pod-to-pod traffic on one node never passes here: from_pod hands it
 * to the peer directly. Conntrack sees host-opened flows here, so the pod's
 * replies are recognised on the way out; the pod's ingress policy decides on
 * new ones, by the source's identity from the ipcache.
 *
 * A pod of this node can be the source too: its flow to a Service, which
 * from_pod handed to the stack and kube-proxy's DNAT turned to this pod. That
 * pod's egress policy is judged here, on the real destination. Every flow that
 * enters here is marked: its replies go back through the stack, where
 * netfilter undoes the NAT.
 *
 * With lb_enabled, a reply of a flow from_pod translated to a backend outside
 * the pod network (a host-network pod, an external endpoint) comes back
 * through the stack, here: it gets the frontend back as its source.
 *
 * A pod's address as the source is taken only from a packet xcni handed the
 * stack itself (XCNI_MARK_TRUSTED: from_pod's, or a node's Geneve
 * decapsulated by from_overlay); any other claims it (pod_source_forged).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lib/compat.h"
#include "lib/config.h"
#include "lib/conntrack.h"
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
 * IPv6 from the host stack into a pod: neighbour discovery from a link-local
 * or unspecified source passes (the host solicits and answers for the link),
 * conntrack, and the pod's ingress policy
 * (with the egress of a local source pod whose flow came through the stack)
 * on new flows. Global: verified on its own.
 */
__attribute__((noinline)) int to_pod6(struct __sk_buff *skb)
{
	struct xcni_endpoint *ep, *src;
	struct verdict v = {};
	struct pkt6 p = {};
	const __u8 *ep_ip6 = NULL;
	__u32 ep_id = 0;
	int reason, ct;
	__u8 ctf;

	if (!skb)
		return TC_ACT_SHOT;
	p.len = skb->len;
	ep = endpoint6_of_dev(skb->ifindex, &ep_ip6);
	if (!ep) {
		reason = XCNI_DROP_NO_ENDPOINT;
		goto out;
	}
	ep_id = ep->ep_id;
	reason = parse_ipv6(skb, &p);
	if (reason)
		goto out;
	/* The host's neighbour discovery and MLD: from a link-local or
	 * unspecified source (the node's own on this link), with the hop limit
	 * a neighbour sends. ND/MLD types from any other source are datagrams
	 * (a pod's, the world's, routed here): conntrack and policy judge them. */
	if (icmp6_is_nd(&p) && (in6_linklocal(p.tuple.saddr) || in6_unspec(p.tuple.saddr))) {
		reason = nd_hop_ok(&p);
		if (!reason)
			reason = XCNI_PASS_ARP;
		goto out;
	}
	/* A pod's source that xcni did not hand the stack: before conntrack. */
	if (pod_source_forged6(skb, p.tuple.saddr)) {
		reason = XCNI_DROP_OUTSIDE_SPOOF;
		goto out;
	}
	ct = ct_track(skb, pkt_flow(&p), XCNI_AF_INET6, p.len, &ctf);
	if (ct == CT_INVALID) {
		reason = ct_invalid_reason(pkt_flow(&p));
		goto out;
	}
	if (ct_judge_due(ct)) {
		v.src_id = ipcache6_identity(p.tuple.saddr);
		v.dst_id = ipcache6_identity(p.tuple.daddr);
		src = bpf_map_lookup_elem(&xcni_endpoints6, p.tuple.saddr);
		reason = flow_judge(pkt_flow(&p), XCNI_AF_INET6, ct,
				    src ? polkey_of(src, p.tuple.saddr) : 0, polkey_of(ep, ep_ip6), &v,
				    p.len, src ? src->ep_id : 0, XCNI_CT_F_STACK);
		if (reason)
			goto out;
	}
	/* A reply of a flow from_pod6 translated to a backend the stack reaches. */
	if (lb_enabled && ct == CT_REPLY && p.rev_nat)
		lb6_rev_nat(skb, &p, ctf);
	reason = ct_answers(ct) ? XCNI_FWD_REPLY : XCNI_FWD_LOCAL;
out:
	return finish6(skb, reason, XCNI_DIR_TO_POD, ep_id, &p, TC_ACT_OK, &v);
}

/*
 * IPv4 (and ARP, and whatever else is dropped). A function of its own beside
 * to_pod6: the two frames never sit on the stack together, and each fits the
 * verifier's 512 bytes with its callees.
 */
__attribute__((noinline)) int to_pod4(struct __sk_buff *skb)
{
	struct xcni_endpoint *ep, *src;
	struct verdict v = {};
	struct pkt p = {};
	struct cursor c;
	__u32 ep_ip = 0, ep_id = 0;
	int reason, ct;
	__u8 ctf;

	p.len = skb->len;
	reason = pod_dev_start(skb, &c, &p, &ep, &ep_ip);
	if (reason)
		goto out;
	ep_id = ep->ep_id;
	if (p.eth->h_proto == bpf_htons(ETH_P_ARP)) {
		reason = XCNI_PASS_ARP;
		goto out;
	}
	if (p.eth->h_proto != bpf_htons(ETH_P_IP)) {
		reason = XCNI_DROP_NON_IP;
		goto out;
	}
	reason = parse_ipv4(&c, &p);
	if (reason)
		goto out;
	/* A pod's source that xcni did not hand the stack: before conntrack. */
	if (pod_source_forged(skb, &p.tuple.saddr)) {
		reason = XCNI_DROP_OUTSIDE_SPOOF;
		goto out;
	}
	ct = ct_track(skb, pkt_flow(&p), XCNI_AF_INET, skb->len, &ctf);
	if (ct == CT_INVALID) {
		reason = ct_invalid_reason(pkt_flow(&p));
		goto out;
	}
	if (ct_judge_due(ct)) {
		v.src_id = ipcache_identity(p.tuple.saddr);
		v.dst_id = ipcache_identity(p.tuple.daddr);
		src = bpf_map_lookup_elem(&xcni_endpoints, &p.tuple.saddr);
		reason = flow_judge(pkt_flow(&p), XCNI_AF_INET, ct, src ? p.tuple.saddr : 0, ep_ip, &v, skb->len,
				    src ? src->ep_id : 0, XCNI_CT_F_STACK);
		if (reason)
			goto out;
	}
	if (lb_enabled && ct == CT_REPLY && p.rev_nat)
		lb_rev_nat(skb, &p, ctf);
	reason = ct_answers(ct) ? XCNI_FWD_REPLY : XCNI_FWD_LOCAL;
out:
	return finish(skb, reason, XCNI_DIR_TO_POD, ep_id, &p, TC_ACT_OK, &v);
}

SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return to_pod6(skb);
	return to_pod4(skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
