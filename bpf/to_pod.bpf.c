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
#include "lib/dns.h"
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
 * for both families (f: the packet's flow): a pod's
 * source that xcni did not hand the stack refused (before conntrack), then
 * conntrack and the pod's ingress policy, with the egress of a local source
 * pod whose flow came through the stack (track_and_judge), and a reply of a
 * flow from_pod translated to a backend the stack reaches given its frontend
 * back. The verdict's reason.
 */
static __always_inline int to_pod_flow(struct __sk_buff *skb, struct flow *f, int fam,
				       const struct xcni_endpoint *ep, const void *ep_addr,
				       struct verdict *v)
{
	struct judge j = { .dst_ep = ep, .dst_addr = ep_addr, .flags = XCNI_CT_F_STACK,
			   .lookup = JUDGE_SRC_ID | JUDGE_DST_ID | JUDGE_SRC_EP };
	int reason, ct;
	__u8 ctf;

	if (pod_source_forged(skb, fam, flow_saddr(f, fam)))
		return XCNI_DROP_OUTSIDE_SPOOF;
	reason = track_and_judge(skb, f, fam, f->len, &ct, &ctf, &j, v);
	if (reason)
		return reason;
	if (lb_enabled && ct == CT_REPLY && f->rev_nat) {
		lb_rev_nat(skb, f, fam, ctf);
	}
	/* A DNS answer to the pod's own question: read before it is delivered
	 * (lib/dns.h). After the translation back: the source the pod asked. */
	dns_learn_reply(skb, f, fam, ct, ep->ep_id);
	return ct_answers(ct) ? XCNI_FWD_REPLY : XCNI_FWD_LOCAL;
}

/*
 * A packet from the host stack into the pod behind this device, either
 * family (fam a constant; p4 or p6 the family's view, the other NULL): the
 * endpoint of the device, then IPv4's front (ARP passes, anything else not
 * IPv4 is dropped) or IPv6's (neighbour discovery and MLD from a link-local
 * or unspecified source, the host's own on this link, pass), then
 * to_pod_flow.
 */
static __always_inline int to_pod_dev(struct __sk_buff *skb, int fam, struct pkt *p4,
				      struct pkt6 *p6)
{
	struct flow *f = pkt_pair_flow(p4, p6, fam);
	struct xcni_endpoint *ep;
	const void *ep_addr = NULL;
	struct verdict v = {};
	struct cursor c;
	__u32 ep_id = 0;
	int reason;

	f->len = skb->len;
	if (fam == XCNI_AF_INET) {
		reason = eth_start(skb, &c, p4);
		if (reason)
			goto out;
	}
	ep = endpoint_of_dev(fam, skb->ifindex, &ep_addr);
	if (!ep) {
		reason = XCNI_DROP_NO_ENDPOINT;
		goto out;
	}
	ep_id = ep->ep_id;
	if (fam == XCNI_AF_INET) {
		if (p4->eth->h_proto == bpf_htons(ETH_P_ARP)) {
			reason = XCNI_PASS_ARP;
			goto out;
		}
		reason = parse_eth_ipv4(&c, p4);
	} else {
		reason = parse_ipv6(skb, p6);
	}
	if (reason)
		goto out;
	/* The host's neighbour discovery and MLD: from a link-local or
	 * unspecified source (the node's own on this link), with the hop limit
	 * a neighbour sends. ND/MLD types from any other source are datagrams
	 * (a pod's, the world's, routed here): conntrack and policy judge them. */
	if (fam == XCNI_AF_INET6 && icmp6_is_nd(p6) &&
	    (in6_linklocal(p6->tuple.saddr) || in6_unspec(p6->tuple.saddr))) {
		reason = nd_hop_ok(p6);
		if (!reason)
			reason = XCNI_PASS_ARP;
		goto out;
	}
	reason = to_pod_flow(skb, f, fam, ep, ep_addr, &v);
out:
	return finish_flow(skb, fam, reason, XCNI_DIR_TO_POD, ep_id, f, TC_ACT_OK, &v);
}

SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct pkt6 p = {};

		return to_pod_dev(skb, XCNI_AF_INET6, NULL, &p);
	} else {
		struct pkt p = {};

		return to_pod_dev(skb, XCNI_AF_INET, &p, NULL);
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
