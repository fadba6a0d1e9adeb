// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * to_overlay: tc egress of the node's overlay device (xcni0), where the host
 * routes the other nodes' pod CIDRs: what the host itself sends to a remote
 * pod (kube-proxy's DNAT result, kubelet, hostNetwork pods) is encapsulated
 * here and leaves through the underlay, like pod traffic does.
 *
 * When the source is a pod of this node (its flow to a Service, DNATed to a
 * remote pod), its egress policy is judged here on the real destination, and
 * the flow is tracked as one the stack routed: its replies, arriving through
 * from_overlay, are handed to the stack to be un-NATed. A pod's source
 * without XCNI_MARK_TRUSTED (not from_pod's, not decapsulated) is dropped:
 * the pod's node would take it for the pod's own.
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
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/policy.h"

/* Both families' last step: the Geneve header on, counted, out the underlay. */
static __always_inline int encap_send(struct __sk_buff *skb, struct encap_in *in, __u32 tunnel,
				      const struct xcni_ipcache_val *dipc, int *verdict)
{
	int reason = tunnel_encap(skb, in, node_ip, tunnel,
				  tunnel == XCNI_TUN6 ? dipc->tunnel_ip6 : NULL, vni);

	if (reason)
		return reason;
	*verdict = bpf_redirect_neigh(underlay_ifindex, NULL, 0, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_ENCAP : XCNI_DROP_REDIRECT;
}

/*
 * What to_overlay does with a packet once its family's header is parsed, one
 * body for both families (p4 or p6: the family's view, the other NULL): the
 * node that hosts the destination (none, or none this node's underlay
 * reaches: dropped), a pod's source that xcni did not hand the stack refused
 * (its node would take it as that pod's), a local source pod's egress judged
 * on the real destination (track_and_judge: the flow came through the
 * stack), then Geneve to the node. The verdict's reason; *src the source
 * pod, if it is one of this node's; *verdict the redirect's.
 */
static __always_inline int to_overlay_flow(struct __sk_buff *skb, struct pkt *p4,
					   struct pkt6 *p6, int fam, struct xcni_endpoint **src,
					   struct verdict *v, int *verdict)
{
	struct flow *f = pkt_pair_flow(p4, p6, fam);
	struct xcni_ipcache_val *dipc;
	struct encap_in in;
	struct judge j;
	int reason, ct;
	__u8 ctf;

	dipc = ipcache_find(fam, flow_daddr(f, fam));
	/* Routed here, but no node hosts it (any more), or not in a family this
	 * node's underlay has. */
	if (!dipc || !tunnel_of(dipc, node_ip))
		return no_tunnel_reason(dipc);
	if (pod_source_forged(skb, fam, flow_saddr(f, fam)))
		return XCNI_DROP_OUTSIDE_SPOOF;
	*src = fam == XCNI_AF_INET ? bpf_map_lookup_elem(&xcni_endpoints, &f->tuple.v4.saddr)
				   : bpf_map_lookup_elem(&xcni_endpoints6, f->tuple.v6.saddr);
	if (*src) {
		j = (struct judge){ .src_ep = *src,
				    .src_addr = fam == XCNI_AF_INET
							? (const void *)&f->tuple.v4.saddr
							: (const void *)f->tuple.v6.saddr,
				    .dst_id = dipc->identity, .ep_id = (*src)->ep_id,
				    .flags = XCNI_CT_F_STACK, .lookup = JUDGE_SRC_ID };
		reason = track_and_judge(skb, f, fam, f->len, &ct, &ctf, &j, v);
		if (reason)
			return reason;
	}
	reason = encap_in_fill(skb, fam, p4, p6, &in);
	/* Too big for a Geneve header: nothing the stack could do again. */
	if (reason == XCNI_FWD_TOO_BIG)
		reason = XCNI_DROP_ENCAP;
	if (reason)
		return reason;
	return encap_send(skb, &in, tunnel_of(dipc, node_ip), dipc, verdict);
}

/*
 * A packet the host routed to a remote pod, either family (fam a constant;
 * p4 or p6 the family's view, the other NULL; xcnid routes every other Node's
 * podCIDRs here): IPv4 behind an Ethernet header (anything else dropped),
 * then to_overlay_flow over the family's ipcache and conntrack.
 */
static __always_inline int to_overlay_dev(struct __sk_buff *skb, int fam, struct pkt *p4,
					  struct pkt6 *p6)
{
	struct flow *f = pkt_pair_flow(p4, p6, fam);
	struct xcni_endpoint *src = NULL;
	struct verdict v = {};
	struct cursor c;
	int reason, verdict = TC_ACT_OK;

	f->len = skb->len;
	if (fam == XCNI_AF_INET)
		reason = eth_start(skb, &c, p4) ?: parse_eth_ipv4(&c, p4);
	else
		reason = parse_ipv6(skb, p6);
	if (!reason)
		reason = to_overlay_flow(skb, p4, p6, fam, &src, &v, &verdict);
	return finish_flow(skb, fam, reason, XCNI_DIR_TO_OVERLAY, src ? src->ep_id : 0, f, verdict,
			   &v);
}

SEC("tc")
int to_overlay(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct pkt6 p = {};

		return to_overlay_dev(skb, XCNI_AF_INET6, NULL, &p);
	} else {
		struct pkt p = {};

		return to_overlay_dev(skb, XCNI_AF_INET, &p, NULL);
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
