// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * from_overlay: tc ingress of the node's underlay device. Geneve from a known
 * node is taken apart here: the outer source must be a node of the cluster,
 * the inner source an address of that node (nothing else on the wire is
 * trusted), then the destination pod's ingress policy decides on the source
 * identity the ipcache gives, and the packet goes straight into the pod.
 * Geneve for the node itself reaches its stack; other traffic passes.
 *
 * With lb_enabled, a reply from a remote backend to a flow this node's
 * from_pod translated gets the frontend back as its source once decapsulated.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lib/compat.h"
#include "lib/ct.h"
#include "lib/encap.h"
#include "lib/exit.h"
#include "lib/l2.h"
#include "lib/lb.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/policy.h"

/* Written by xcnid before load. Network byte order. */
const volatile __u32 node_ip = 0;
const volatile __u32 vni = 0;
/* Services in BPF (kube-proxy replacement). */
const volatile __u32 lb_enabled = 0;

/* Geneve options: at most 63 words; the verifier wants the skip bounded. */
#define GENEVE_OPT_MAX 252

struct outer {
	__u32 saddr;
	__u32 hdr_len; /* outer IPv4 + UDP + Geneve (with options) + inner Ethernet */
};

/*
 * Outer headers: 0 and o filled when the packet is Geneve for us,
 * XCNI_PASS_UNDERLAY when it is something else, or a drop reason.
 */
static __always_inline int parse_outer(struct cursor *c, struct pkt *outer_pkt, struct outer *o)
{
	struct iphdr *ip;
	struct udphdr *udp;
	struct geneve_hdr *g;
	struct ethhdr *inner;
	__u32 optlen;

	outer_pkt->eth = cursor_take(c, sizeof(struct ethhdr));
	if (!outer_pkt->eth || outer_pkt->eth->h_proto != bpf_htons(ETH_P_IP))
		return XCNI_PASS_UNDERLAY;
	ip = cursor_take(c, sizeof(struct iphdr));
	if (!ip || ip->ihl != 5 || ip->protocol != IPPROTO_UDP || ip->daddr != node_ip ||
	    (ip->frag_off & bpf_htons(0x3fff)))
		return XCNI_PASS_UNDERLAY;
	udp = cursor_take(c, sizeof(struct udphdr));
	if (!udp || udp->dest != bpf_htons(XCNI_GENEVE_PORT))
		return XCNI_PASS_UNDERLAY;
	/* Ours from here on: account it to the packet's fate. */
	outer_pkt->tuple.saddr = ip->saddr;
	outer_pkt->tuple.daddr = ip->daddr;
	outer_pkt->tuple.proto = IPPROTO_UDP;
	outer_pkt->tuple.sport = udp->source;
	outer_pkt->tuple.dport = udp->dest;
	if (!bpf_map_lookup_elem(&xcni_tunnel, &ip->saddr))
		return XCNI_DROP_UNKNOWN_NODE;
	g = cursor_take(c, sizeof(struct geneve_hdr));
	if (!g || (g->ver_optlen >> 6) != 0 || g->proto != bpf_htons(XCNI_GENEVE_PROTO_ETH) ||
	    (bpf_ntohl(g->vni_rsvd) >> 8) != vni)
		return XCNI_DROP_BAD_GENEVE;
	optlen = (g->ver_optlen & 0x3f) * 4;
	if (optlen > GENEVE_OPT_MAX || (void *)((char *)c->pos + optlen) > c->end)
		return XCNI_DROP_BAD_GENEVE;
	c->pos = (char *)c->pos + optlen;
	inner = cursor_take(c, sizeof(struct ethhdr));
	if (!inner || inner->h_proto != bpf_htons(ETH_P_IP))
		return XCNI_DROP_BAD_GENEVE;
	o->saddr = ip->saddr;
	o->hdr_len = sizeof(struct iphdr) + sizeof(struct udphdr) + sizeof(struct geneve_hdr) +
		     optlen + sizeof(struct ethhdr);
	return 0;
}

SEC("tc")
int from_overlay(struct __sk_buff *skb)
{
	struct xcni_endpoint *dst;
	struct xcni_ipcache_val *sipc;
	struct verdict v = {};
	struct pkt p = {}, op = {};
	struct outer o = {};
	struct cursor c;
	int reason, verdict = TC_ACT_OK, ct;
	__u8 ctf;

	p.len = op.len = skb->len;
	cursor_init(&c, skb);
	reason = parse_outer(&c, &op, &o);
	if (reason == XCNI_PASS_UNDERLAY)
		return TC_ACT_OK; /* not ours: neither counted nor touched */
	if (reason)
		goto out_outer;
	p.eth = op.eth;
	p.encap_len = o.hdr_len;
	reason = parse_ipv4(&c, &p);
	if (reason)
		goto out;
	/* A node speaks for its own pods and itself only. */
	sipc = ipcache_lookup(p.tuple.saddr);
	if (!sipc || sipc->tunnel_ip != o.saddr) {
		reason = XCNI_DROP_INNER_SPOOF;
		goto out;
	}
	tunnel_count(o.saddr, skb->len, 1);
	dst = bpf_map_lookup_elem(&xcni_endpoints, &p.tuple.daddr);
	if (!dst) {
		if (p.tuple.daddr != node_ip) {
			reason = XCNI_DROP_UNKNOWN_DST;
			goto out;
		}
		/* Geneve in Geneve for this node: from_pod refuses a pod's, and a
		 * node has no cause to nest; the stack must not unwrap it again. */
		if (p.tuple.proto == IPPROTO_UDP && p.tuple.dport == bpf_htons(XCNI_GENEVE_PORT)) {
			reason = XCNI_DROP_GENEVE_INJECT;
			goto out;
		}
		goto to_host;
	}
	ct = ct_track(skb, &p, skb->len, &ctf);
	if (ct == CT_INVALID) {
		reason = ct_invalid_reason(&p);
		goto out;
	}
	/* A reply to a flow the stack sent out (a Service's DNAT): the stack undoes it. */
	if (ctf & XCNI_CT_F_STACK)
		goto to_host;
	if (ct == CT_NEW || ct == CT_STALE) {
		v.src_id = sipc->identity;
		v.dst_id = ipcache_identity(p.tuple.daddr);
		/* The destination's conntrack must know the flow: its replies
		 * leave through from_pod, which lets replies pass. */
		reason = flow_judge(&p, ct, 0, p.tuple.daddr, &v, skb->len, 0, 0);
		if (reason)
			goto out;
	}
	if (bpf_skb_adjust_room(skb, -(__s32)o.hdr_len, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_DECAP_L3_IPV4) ||
	    mac_rewrite(skb, dst)) {
		reason = XCNI_DROP_BAD_GENEVE;
		goto out;
	}
	if (lb_enabled && ct == CT_REPLY && p.rev_nat)
		lb_rev_nat(skb, &p, ctf);
	/* An ICMP error about a flow this node translated, from a remote backend. */
	if (lb_enabled && p.tuple.proto == IPPROTO_ICMP && !p.is_echo)
		lb_icmp_rev_nat(skb, p.l3_len);
	verdict = bpf_redirect_peer(dst->ifindex, 0);
	reason = verdict == TC_ACT_REDIRECT ? XCNI_FWD_DECAP : XCNI_DROP_REDIRECT;
	goto out;
to_host:
	if (bpf_skb_adjust_room(skb, -(__s32)o.hdr_len, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_DECAP_L3_IPV4))
		reason = XCNI_DROP_BAD_GENEVE;
	else
		reason = XCNI_FWD_DECAP_HOST;
out:
	return finish(skb, reason, XCNI_DIR_FROM_OVERLAY, 0, &p, verdict, &v);
out_outer:
	return finish(skb, reason, XCNI_DIR_FROM_OVERLAY, 0, &op, verdict, &v);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
