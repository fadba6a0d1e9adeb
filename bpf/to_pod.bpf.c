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
 * What to_pod does with a packet once its family's header is parsed, one body
 * for both families (p: the family's struct pkt or struct pkt6): a pod's
 * source that xcni did not hand the stack refused (before conntrack), then
 * conntrack and the pod's ingress policy, with the egress of a local source
 * pod whose flow came through the stack (track_and_judge), and a reply of a
 * flow from_pod translated to a backend the stack reaches given its frontend
 * back. The verdict's reason.
 */
static __always_inline int to_pod_flow(struct __sk_buff *skb, void *p, int fam,
				       const struct xcni_endpoint *ep, const void *ep_addr,
				       struct verdict *v)
{
	struct flow *f = fam == XCNI_AF_INET ? pkt_flow((struct pkt *)p)
					     : pkt_flow((struct pkt6 *)p);
	struct judge j = { .dst_ep = ep, .dst_addr = ep_addr, .flags = XCNI_CT_F_STACK,
			   .lookup = JUDGE_SRC_ID | JUDGE_DST_ID | JUDGE_SRC_EP };
	int reason, ct;
	__u8 ctf;

	if (fam == XCNI_AF_INET ? pod_source_forged(skb, &f->tuple.v4.saddr)
				: pod_source_forged6(skb, f->tuple.v6.saddr))
		return XCNI_DROP_OUTSIDE_SPOOF;
	reason = track_and_judge(skb, f, fam, f->len, &ct, &ctf, &j, v);
	if (reason)
		return reason;
	if (lb_enabled && ct == CT_REPLY && f->rev_nat) {
		lb_rev_nat(skb, f, fam, ctf);
	}
	return ct_answers(ct) ? XCNI_FWD_REPLY : XCNI_FWD_LOCAL;
}

/*
 * IPv6 from the host stack into a pod: neighbour discovery from a link-local
 * or unspecified source passes (the host solicits and answers for the link),
 * then to_pod_flow. Global: verified on its own.
 */
__attribute__((noinline)) int to_pod6(struct __sk_buff *skb)
{
	struct xcni_endpoint *ep;
	struct verdict v = {};
	struct pkt6 p = {};
	const __u8 *ep_ip6 = NULL;
	__u32 ep_id = 0;
	int reason;

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
	reason = to_pod_flow(skb, &p, XCNI_AF_INET6, ep, ep_ip6, &v);
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
	struct xcni_endpoint *ep;
	struct verdict v = {};
	struct pkt p = {};
	struct cursor c;
	__u32 ep_ip = 0, ep_id = 0;
	int reason;

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
	reason = to_pod_flow(skb, &p, XCNI_AF_INET, ep, &ep_ip, &v);
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
