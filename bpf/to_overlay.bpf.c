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
 * IPv6 the host routed to a remote pod (xcnid routes every other Node's
 * IPv6 podCIDR here): as to_overlay, ipcache6 and xcni_ct6. Global: the
 * IPv4 path does not carry its frame.
 */
__attribute__((noinline)) int to_overlay6(struct __sk_buff *skb)
{
	struct xcni_ipcache_val *dipc;
	struct xcni_endpoint *src = NULL;
	struct encap_in in;
	struct verdict v = {};
	struct pkt6 p = {};
	int reason, verdict = TC_ACT_OK, ct;
	__u8 ctf;

	if (!skb)
		return TC_ACT_SHOT;
	p.len = skb->len;
	reason = parse_ipv6(skb, &p);
	if (reason)
		goto out;
	dipc = ipcache6_lookup(p.tuple.daddr);
	if (!dipc || !tunnel_of(dipc, node_ip)) {
		reason = no_tunnel_reason(dipc);
		goto out;
	}
	/* A pod's source that xcni did not hand the stack: its node would take it as that pod's. */
	if (pod_source_forged6(skb, p.tuple.saddr)) {
		reason = XCNI_DROP_OUTSIDE_SPOOF;
		goto out;
	}
	src = bpf_map_lookup_elem(&xcni_endpoints6, p.tuple.saddr);
	if (src) {
		ct = ct_track(skb, pkt_flow(&p), XCNI_AF_INET6, p.len, &ctf);
		if (ct == CT_INVALID) {
			reason = ct_invalid_reason(pkt_flow(&p));
			goto out;
		}
		if (ct_judge_due(ct)) {
			v.src_id = ipcache6_identity(p.tuple.saddr);
			v.dst_id = dipc->identity;
			reason = flow_judge(pkt_flow(&p), XCNI_AF_INET6, ct,
					    polkey_of(src, p.tuple.saddr), 0, &v, p.len, src->ep_id,
					    XCNI_CT_F_STACK);
			if (reason)
				goto out;
		}
	}
	reason = encap_in_take6(skb, &p, &in);
	/* Too big for a Geneve header: nothing the stack could do again. */
	if (reason == XCNI_FWD_TOO_BIG)
		reason = XCNI_DROP_ENCAP;
	if (reason)
		goto out;
	reason = encap_send(skb, &in, tunnel_of(dipc, node_ip), dipc, &verdict);
out:
	return finish6(skb, reason, XCNI_DIR_TO_OVERLAY, src ? src->ep_id : 0, &p, verdict, &v);
}

/* IPv4 (and whatever else is dropped): global, beside to_overlay6 (see from_pod4). */
__attribute__((noinline)) int to_overlay4(struct __sk_buff *skb)
{
	struct xcni_ipcache_val *dipc;
	struct xcni_endpoint *src = NULL;
	struct encap_in in;
	struct verdict v = {};
	struct pkt p = {};
	struct cursor c;
	int reason, verdict = TC_ACT_OK, ct;
	__u8 ctf;

	if (!skb)
		return TC_ACT_SHOT;
	p.len = skb->len;
	cursor_init(&c, skb);
	p.eth = cursor_take(&c, sizeof(struct ethhdr));
	if (!p.eth) {
		reason = XCNI_DROP_SHORT;
		goto out;
	}
	if (p.eth->h_proto != bpf_htons(ETH_P_IP)) {
		reason = XCNI_DROP_NON_IP;
		goto out;
	}
	reason = parse_ipv4(&c, &p);
	if (reason)
		goto out;
	dipc = ipcache_lookup(p.tuple.daddr);
	if (!dipc || !tunnel_of(dipc, node_ip)) {
		/* Routed here, but no node hosts it (any more), or not in a family
		 * this node's underlay has. */
		reason = no_tunnel_reason(dipc);
		goto out;
	}
	/* A pod's source that xcni did not hand the stack: its node would take it as that pod's. */
	if (pod_source_forged(skb, &p.tuple.saddr)) {
		reason = XCNI_DROP_OUTSIDE_SPOOF;
		goto out;
	}
	src = bpf_map_lookup_elem(&xcni_endpoints, &p.tuple.saddr);
	if (src) {
		ct = ct_track(skb, pkt_flow(&p), XCNI_AF_INET, skb->len, &ctf);
		if (ct == CT_INVALID) {
			reason = ct_invalid_reason(pkt_flow(&p));
			goto out;
		}
		if (ct_judge_due(ct)) {
			v.src_id = ipcache_identity(p.tuple.saddr);
			v.dst_id = dipc->identity;
			reason = flow_judge(pkt_flow(&p), XCNI_AF_INET, ct, p.tuple.saddr, 0, &v, skb->len, src->ep_id,
					    XCNI_CT_F_STACK);
			if (reason)
				goto out;
		}
	}
	encap_in_take(&p, &in);
	reason = encap_send(skb, &in, tunnel_of(dipc, node_ip), dipc, &verdict);
out:
	return finish(skb, reason, XCNI_DIR_TO_OVERLAY, src ? src->ep_id : 0, &p, verdict, &v);
}

SEC("tc")
int to_overlay(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return to_overlay6(skb);
	return to_overlay4(skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
