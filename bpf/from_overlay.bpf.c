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
 * And traffic from outside (not Geneve) to an external frontend (NodePort,
 * externalIP, load-balancer IP) is translated here (from_outside): to a
 * backend on this node DNAT only, into the pod; to a backend on another node
 * DNAT and SNAT to this node's address, then Geneve to it, so its replies
 * come back through here (nodeport4_reply), where both are undone and the
 * reply leaves by the underlay. Replies of local backends leave through
 * from_pod. Under externalTrafficPolicy=Local the EXT frontend holds this
 * node's backends only: no SNAT, and none here is a drop of its own. IPv6
 * from outside: lib/nodeport.h.
 *
 * A host on the underlay reaches pods only as the outside world does
 * (DESIGN.md, trust boundaries): a plain packet to a pod, or to a frontend,
 * whose source claims this node, another node, a pod or a martian address
 * is dropped (drop-outside-spoof: from_plain, lb_flow_choose's
 * lb_outside_refused; outside_client_ok is the one test, DSR's too), and a
 * ClusterIP is not served from outside unless --external-clusterip
 * (drop-clusterip-outside). What this program decapsulates for the stack
 * carries XCNI_MARK_TRUSTED, as from_pod's does: to_pod and to_overlay take
 * a pod's source only with it.
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
#include "lib/nodeport.h"
#include "lib/nodeport_icmp.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/prefilter.h"
#include "lib/sctp.h"

/*
 * UL_NEXT with what from_plain found of the source (sipc: its ipcache
 * entry) in the low bits (UL_SRC takes them out), with Services in BPF
 * (nothing else reads them): lb.h's LB_OUTSIDE_SRC, and
 * LB_OUTSIDE_SRC_REFUSED when outside_source_ok would refuse the source
 * for its entry. from_outside then looks the source up no more (a packet
 * from outside to a frontend: one ipcache lookup of its source, not two).
 * A packet the entry hands on without them (from_plain did not get as far,
 * not IP) is looked up there as before.
 */
static __always_inline int ul_next_src(const struct xcni_ipcache_val *sipc)
{
	if (!lb_enabled)
		return UL_NEXT;
	return UL_NEXT | LB_OUTSIDE_SRC | (outside_ipc_refused(sipc) ? LB_OUTSIDE_SRC_REFUSED : 0);
}

#define UL_SRC(ret) ((__u32)(ret) & (LB_OUTSIDE_SRC | LB_OUTSIDE_SRC_REFUSED))

/*
 * A plain (not Geneve) packet from the underlay, either family, whatever
 * Services mode: dropped (drop-outside-spoof) when its source is this
 * node's own address (host: the node, its pod gateway; the wire never
 * brings them) or, to a pod (an endpoint here, the ipcache's pod of another
 * node), any source outside_source_ok refuses: pods and nodes reach pods
 * inside Geneve from their node, and nothing else may claim to be one.
 * Dropped (drop-src-frontend), whatever its destination, when its source is
 * a Service frontend: in the Service range, or a frontend at its port (with
 * Services in BPF lb_src_frontend; under kube-proxy kp_src_frontend, the
 * Services' xcni_extfe): a forged Service reply, which would seed conntrack
 * (xcni's, or the kernel's under kube-proxy) for the pod's next request to
 * the Service. UL_NEXT for the rest, untouched and uncounted (the stack's,
 * or from_outside's), with what was found of the source once it was looked
 * up (ul_next_src: from_outside judges it from that, not looking it up again).
 * fam a constant; p4 or p6 the family's view, the other NULL.
 */
static __always_inline int plain_judge(struct __sk_buff *skb, int fam, struct pkt *p4,
				       struct pkt6 *p6)
{
	struct flow *f = pkt_pair_flow(p4, p6, fam);
	struct xcni_ipcache_val *sipc, *dipc;
	struct xcni_svc_key k = { .family = fam };
	struct verdict v = {};
	struct cursor c;
	__u8 a[32]; /* source, destination: 4 bytes each (IPv4) or 16 */
	const __u8 *d = fam == XCNI_AF_INET ? a + 4 : a + 16;
	const __u32 *d6 = (const __u32 *)(a + 16);
	int reason = XCNI_DROP_SRC_FRONTEND;

	if (fam == XCNI_AF_INET ? bpf_skb_load_bytes(skb, IP_SADDR_OFF, a, 8)
				: bpf_skb_load_bytes(skb, IP6_SADDR_OFF, a, 32))
		return UL_NEXT;
	sipc = ipcache_find(fam, a);
	if (in_svc_cidr(fam, a))
		goto drop;
	/* The source port: the parse from_outside does again (a later
	 * fragment has none: its first one was judged). */
	f->len = skb->len;
	if (!pkt_parse(skb, fam, &c, p4, p6)) {
		if (fam == XCNI_AF_INET)
			__builtin_memcpy(k.addr, a, 4);
		else
			__builtin_memcpy(k.addr, a, 16);
		k.port = fam == XCNI_AF_INET ? f->tuple.v4.sport : f->tuple.v6.sport;
		k.proto = fam == XCNI_AF_INET ? f->tuple.v4.proto : f->tuple.v6.proto;
		if (lb_enabled ? lb_src_frontend(&k, sipc) : kp_src_frontend(&k, sipc))
			goto drop;
	}
	reason = XCNI_DROP_OUTSIDE_SPOOF;
	if (sipc && sipc->identity == XCNI_ID_HOST)
		goto drop;
	if (fam == XCNI_AF_INET ? *(const __u32 *)d == node_ip
				: d6[0] == node_ip6[0] && d6[1] == node_ip6[1] &&
					  d6[2] == node_ip6[2] && d6[3] == node_ip6[3])
		return ul_next_src(sipc);
	if (!bpf_map_lookup_elem(endpoints_map(fam), d)) {
		dipc = ipcache_find(fam, d);
		if (!dipc || !(dipc->flags & XCNI_IPC_POD))
			return ul_next_src(sipc);
	}
	if (outside_source_ok(fam, sipc, a))
		return ul_next_src(sipc);
drop:
	/* The tuple for the drop's event. */
	f->len = skb->len;
	pkt_parse(skb, fam, &c, p4, p6);
	return finish_flow(skb, fam, reason, XCNI_DIR_FROM_OVERLAY, 0, f, TC_ACT_OK, &v);
}

/*
 * plain_judge for a packet of either family (IPv6: link-local and ND to the
 * node itself pass; not IP: UL_NEXT). Global: a frame of its own.
 */
__attribute__((noinline)) int from_plain(struct __sk_buff *skb)
{
	if (!skb)
		return TC_ACT_SHOT;
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct pkt6 p = {};

		return plain_judge(skb, XCNI_AF_INET6, NULL, &p);
	}
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct pkt p = {};

		return plain_judge(skb, XCNI_AF_INET, &p, NULL);
	}
	return UL_NEXT;
}

/*
 * A packet from a pod of another node (or, with DSR, from an outside client
 * of a frontend) to a pod of this node (dst), decapsulated or about to be,
 * its inner source checked (src_id: its identity, the world for DSR's outside
 * client; dsr: what the Geneve option said, DSR_*; node: the
 * sending node as overlay_decap_first holds it, NULL from from_overlay4),
 * one body for both families (f: the packet's flow; len: the bytes
 * conntrack counts), in one order:
 *   1. a DSR option speaks for the client to a backend of its frontend only;
 *   2. conntrack and the pod's ingress policy (track_and_judge): a flow the
 *      option opens must name a frontend this node knows, whose index then
 *      rewrites the replies (from_pod's); a flow the stack sent out (a
 *      Service's DNAT) goes to the stack, which undoes it, unjudged here;
 *   3. the outer headers off (hdr_len bytes still in front of it: IPv4 over
 *      the IPv4 underlay; 0: taken off before the parse), the pod link's MACs;
 *   4. a reply of a flow from_pod translated to a backend on another node
 *      gets the frontend back as its source (as to_pod does for one on this
 *      node: the redirect passes to_pod by), an ICMP error about one
 *      (CT_RELATED only: from a place on the flow's path) its quote;
 *   5. into the pod, past the stack.
 * The verdict's reason; *verdict what the hook returns when it forwards.
 */
static __always_inline int overlay_into_pod(struct __sk_buff *skb, struct flow *f, int fam,
					    __u32 len, __u32 src_id,
					    const struct xcni_endpoint *dst, __u32 dsr, const __u32 *node,
					    __u32 hdr_len, struct verdict *v, int *verdict)
{
	const void *daddr = fam == XCNI_AF_INET ? (const void *)&f->tuple.v4.daddr
						: (const void *)f->tuple.v6.daddr;
	struct judge j = { .dst_ep = dst, .dst_addr = daddr,
			   .src_id = src_id,
			   .lookup = JUDGE_DST_ID | JUDGE_STACK_LATER };
	int reason, ct;
	__u32 m, fe;
	__u8 ctf;

	if ((dsr & (DSR_FLOW | DSR_FE)) == (DSR_FLOW | DSR_FE)) {
		reason = dsr_to_backend(dsr & 0xffff, fam, daddr, flow_dport(f, fam));
		if (reason)
			return reason;
	}
	/* Opened by the option alone (nodeport.h): a new flow's entry is a DSR
	 * flow's, its replies given the frontend; one of a
	 * frontend this node does not know opens nothing. ct_track keeps the
	 * index for a new flow only (an entry found brings its own). */
	/* Without a branch (m: every bit when DSR_FLOW): 6.1's verifier kept
	 * the two ways apart through conntrack and policy (kernel-matrix.md). */
	m = 0 - ((dsr & DSR_FLOW) >> 18);
	fe = 0 - ((dsr & DSR_FE) >> 16);
	barrier_var(m);
	barrier_var(fe);
	j.flags = m & (XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	j.new_refused = (__s16)(m & ~fe & (__u16)XCNI_DROP_BAD_GENEVE);
	f->rev_nat = (f->rev_nat & ~m) | (dsr & m & 0xffff);
	reason = track_and_judge(skb, f, fam, len, &ct, &ctf, &j, v);
	if (reason)
		return reason;
	if (ctf & XCNI_CT_F_STACK) {
		if (hdr_len && bpf_skb_adjust_room(skb, -(__s32)hdr_len, BPF_ADJ_ROOM_MAC,
						   XCNI_DECAP4_FLAGS))
			return XCNI_DROP_BAD_GENEVE;
		return XCNI_FWD_DECAP_HOST;
	}
	/* The flow the option opened, known to the sending node's later
	 * packets (dsr_flow_known; decapsulated first, either inner family:
	 * by the sending node's address as *node has it, read through a
	 * pointer: a value held across conntrack cost ovl_decap6 a
	 * slot of its frame, which nodeport6_reply_nat's chain does not have). */
	if (ct == CT_NEW && (j.flags & XCNI_CT_F_DSR))
		dsr_record(skb, f, fam, node);
	if ((hdr_len && bpf_skb_adjust_room(skb, -(__s32)hdr_len, BPF_ADJ_ROOM_MAC,
					    XCNI_DECAP4_FLAGS)) ||
	    mac_rewrite(skb, dst))
		return XCNI_DROP_BAD_GENEVE;
	if (lb_enabled && ct == CT_REPLY && f->rev_nat)
		lb_rev_nat(skb, f, fam, ctf);
	else if (lb_enabled && ct == CT_RELATED)
		lb_related_rev_nat(skb, f, fam, NULL, NULL);
	/* A DNS answer from a DNS pod of another node (lib/dns.h). */
	dns_learn_reply(skb, f, fam, ct, dst->ep_id);
	*verdict = bpf_redirect_peer(dst->ifindex, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_DECAP : XCNI_DROP_REDIRECT;
}

/*
 * from_overlay's steps that are programs of their own, reached by a tail
 * call through xcni_ovlcalls: each is verified with its own 1,000,000
 * instructions and holds only the global functions it calls. 6.1 verifies
 * every global function a program holds, reachable under the rodata or
 * not, in one 1,000,000: from_overlay as one program passed it in every
 * configuration, twice over with Services (docs/decisions/kernel-matrix.md).
 * What a step needs of the entry's findings rides in skb->cb (OVL_CB_*).
 */
enum ovl_call {
	OVL_DECAP6, /* Geneve, IPv6 inside, either underlay: ovl_decap6 */
	OVL_DECAP4, /* Geneve over the IPv6 underlay, IPv4 inside: ovl_decap4 */
	OVL_XDP6, /* decapsulated at XDP (--overlay-decap xdp), IPv6 inside */
	OVL_XDP4, /* the same, IPv4 inside */
	OVL_OUTSIDE4, /* IPv4 from outside, to a frontend (Services in BPF) */
	OVL_OUTSIDE6, /* IPv6 from outside, to a frontend (Services in BPF) */
	OVL_ICMP4, /* ICMP from outside: an error about a NodePort flow's reply? */
	OVL_ICMP6, /* the same, ICMPv6 */
	OVL_INTO6, /* IPv6 decapsulated, to a pod of this node: ovl_into6 */
	OVL_NR,
};

#define OVL_CB_LEN 0 /* the outer headers' length (UL_LEN) */
#define OVL_CB_OUTER6 1 /* ovl_decap6: the outer family IPv6 */
#define OVL_CB_SRC 0 /* ovl_outside4/6: what from_plain found of the source (UL_SRC) */
#define OVL_CB_ARRIVED 0 /* ovl_into6: the frame's length as it arrived */
#define OVL_CB_DSR 1 /* ovl_into6: overlay_decap_first's dsr */
#define OVL_CB_NODE 2 /* ovl_into6: the sending node (its address, IPv6's folded) */
#define OVL_CB_SRC_ID 3 /* ovl_into6: the inner source's identity (checked against node) */

int ovl_decap6(struct __sk_buff *skb);
int ovl_decap4(struct __sk_buff *skb);
int ovl_xdp6(struct __sk_buff *skb);
int ovl_xdp4(struct __sk_buff *skb);
int ovl_outside4(struct __sk_buff *skb);
int ovl_outside6(struct __sk_buff *skb);
int ovl_icmp4(struct __sk_buff *skb);
int ovl_icmp6(struct __sk_buff *skb);
int ovl_into6(struct __sk_buff *skb);

/*
 * Filled at load (.values), pinned by xcnid beside the attached
 * from_overlay (an array no pin or descriptor holds is emptied), not by
 * name: each loaded object calls its own steps (as xcni_podcalls).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, OVL_NR);
	__type(key, __u32);
	__type(value, __u32);
	__array(values, int(struct __sk_buff *));
} xcni_ovlcalls SEC(".maps") = {
	.values = {
		[OVL_DECAP6] = (void *)&ovl_decap6,
		[OVL_DECAP4] = (void *)&ovl_decap4,
		[OVL_XDP6] = (void *)&ovl_xdp6,
		[OVL_XDP4] = (void *)&ovl_xdp4,
		[OVL_OUTSIDE4] = (void *)&ovl_outside4,
		[OVL_OUTSIDE6] = (void *)&ovl_outside6,
		[OVL_ICMP4] = (void *)&ovl_icmp4,
		[OVL_ICMP6] = (void *)&ovl_icmp6,
		[OVL_INTO6] = (void *)&ovl_into6,
	},
};

/*
 * A step's tail call (slot a constant: a direct jump); when it is missed,
 * the array emptied, the packet is dropped and counted (drop-tail-call).
 */
#define ovl_call(skb, slot)                                                   \
	({                                                                    \
		bpf_tail_call_static(skb, &xcni_ovlcalls, slot);              \
		count(XCNI_DROP_TAIL_CALL, XCNI_DIR_FROM_OVERLAY, (skb)->len); \
		TC_ACT_SHOT;                                                  \
	})

/*
 * Geneve decapsulated before its inner packet is parsed, either family (fam
 * a constant; p4 or p6 the family's view, the other NULL): IPv6 inside over
 * either underlay, IPv4 inside over the IPv6 underlay (IPv4 over IPv4 is
 * from_overlay4's, parsed in place before its decapsulation). hdr_len bytes
 * of outer headers, IPv6 (from_underlay6) when outer6, else IPv4
 * (parse_outer4), checked. One order of steps:
 *   1. the sending node: the outer source;
 *   2. a critical option: DSR's (lib/nodeport.h), for a frontend of the
 *      inner family (IPv6 over either underlay; IPv4 over the IPv6 one:
 *      an IPv4 NodePort whose backend's node is known there only, IPv4
 *      over IPv4 being from_overlay4's), read before the decapsulation
 *      takes it away;
 *   3. decapsulated: whatever follows drops the packet or delivers it so;
 *   4. the inner source one of that node's (its ipcache entry's tunnel_ip6,
 *      or tunnel_ip over the IPv4 underlay: the address alone, not
 *      XCNI_IPC_TUN6, the family this node sends in; a zero one matches no
 *      sender), or, with DSR, an outside client
 *      of its frontends in a packet that names the frontend or of a flow it
 *      opened so (dsr_flow_known: the IPv6 underlay's sender by its address
 *      folded, either inner family);
 *   5. counted to the tunnel;
 *   6. to a pod of this node: overlay_into_pod (its ingress policy,
 *      conntrack, a translated flow's reply rewritten); to this node itself
 *      (not with DSR): never Geneve again; IPv6, an error about or a reply
 *      of a NodePort flow this node SNATed, to its client; else its stack;
 *      anything else dropped (drop-unknown-dst).
 * Where the two families' steps differ, a family branch says so: the parse,
 * and what this node's own address takes in 6.
 */
static __always_inline int overlay_decap_first(struct __sk_buff *skb, int fam, struct pkt *p4,
					       struct pkt6 *p6, __u32 hdr_len, __u32 outer6, int xdp)
{
	struct flow *f = pkt_pair_flow(p4, p6, fam);
	const void *saddr = flow_saddr(f, fam), *daddr = flow_daddr(f, fam);
	struct xcni_ipcache_val *sipc, *dipc;
	struct xcni_endpoint *dst;
	struct verdict v = {};
	struct cursor c;
	int reason, verdict = TC_ACT_OK;
	__u32 arrived, node = 0, dsr = 0;
	__u8 node6[16];

	arrived = skb->len;
	if (xdp) {
		/* Decapsulated at XDP (from_overlay_xdp checked the record):
		 * what the outer headers said, from the record; no options
		 * (lib/decap_xdp.h takes none), nothing left to take off. */
		const struct xcni_decap_meta *m = (const void *)(long)skb->data_meta;

		if ((const void *)(m + 1) > (const void *)(long)skb->data) {
			reason = XCNI_DROP_BAD_GENEVE;
			f->len = arrived;
			goto out;
		}
		outer6 = m->outer6;
		node = m->node;
		__builtin_memcpy(node6, m->node6, 16);
		arrived += m->hdr_len;
		f->len = arrived;
		goto decapsulated;
	}
	f->len = arrived;
	/* The outer source (parse_outer4 checked a 20-byte IPv4 header,
	 * from_underlay6 a 40-byte IPv6 one). */
	if (outer6 ? bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct xcni_ip6hdr, saddr), node6,
					16) :
		     bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct iphdr, saddr), &node, 4)) {
		reason = XCNI_DROP_SHORT;
		goto out;
	}
	/* The IPv6 underlay's sender is known by its address folded (nat_addr),
	 * whichever the inner family: IPv4 inside's only where step 4 reads it
	 * (a DSR flow's sender, the only reader of node for IPv4 over IPv6). */
	if (outer6 && fam == XCNI_AF_INET6)
		node = in6_fold(node6);
	/* IPv4 inside comes here over the IPv6 underlay only (outer6); its
	 * option is DSR's, read with Services in BPF only (without, from_underlay6
	 * let no critical option through). */
	if ((fam == XCNI_AF_INET6 || lb_enabled) &&
	    hdr_len > (outer6 ? XCNI_ENCAP6_LEN : XCNI_ENCAP_LEN)) {
		reason = dsr_opt_frontend(skb, hdr_len - (outer6 ? XCNI_ENCAP6_LEN : XCNI_ENCAP_LEN),
					  outer6 ? sizeof(struct xcni_ip6hdr) : sizeof(struct iphdr),
					  fam, &dsr);
		if (!reason && dsr && !lb_enabled)
			reason = XCNI_DROP_BAD_GENEVE;
		/* Dropped for its option, the outer headers checked: the event
		 * carries the inner frame's length, as from_overlay4's does
		 * (report; only here: a parse reads encap_len as an offset). */
		if (reason) {
			f->encap_len = hdr_len;
			goto out;
		}
	}
	reason = geneve_decap(skb, fam, hdr_len, outer6);
	if (reason)
		goto out;
decapsulated:
	if (fam == XCNI_AF_INET) {
		reason = reparse4(skb, &c, p4);
	} else {
		/* parse_ipv6 checks the payload length against the inner packet. */
		f->len = skb->len;
		reason = parse_ipv6(skb, p6);
		f->len = arrived;
	}
	if (reason)
		goto out;
	sipc = ipcache_find(fam, saddr);
	if (!sipc || (outer6 ? !in6_eq(sipc->tunnel_ip6, node6) : sipc->tunnel_ip != node)) {
		reason = XCNI_DROP_INNER_SPOOF;
		/* Either family over either underlay (IPv4 over the IPv4 one
		 * decapsulated at XDP only: from_overlay4's rule). */
		if (!lb_enabled || !outside_source_ok(fam, sipc, saddr))
			goto out;
		if (fam == XCNI_AF_INET && !xdp)
			node = in6_fold(node6);
		if (!dsr && !dsr_flow_known(f, fam, node, node6, outer6))
			goto out;
		dsr |= DSR_FLOW;
	}
	if (outer6)
		tunnel_count_at(XCNI_AF_INET6, node6, arrived, 1);
	else
		tunnel_count_at(XCNI_AF_INET, &node, arrived, 1);
	dst = bpf_map_lookup_elem(endpoints_map(fam), daddr);
	if (!dst) {
		dipc = ipcache_find(fam, daddr);
		/* DSR is for a backend pod of this node only. IPv4 over the
		 * IPv4 underlay is here only decapsulated at XDP, which leaves
		 * node_ip's to from_overlay4 (its nodeport_reply): the rest is
		 * from_overlay4's drop-unknown-dst. */
		if (!dipc || dipc->identity != XCNI_ID_HOST || (dsr & DSR_FLOW) ||
		    (fam == XCNI_AF_INET && !outer6)) {
			reason = XCNI_DROP_UNKNOWN_DST;
			goto out;
		}
		/* Geneve in Geneve for this node: see from_overlay4. */
		if (flow_proto(f, fam) == IPPROTO_UDP &&
		    flow_dport(f, fam) == bpf_htons(XCNI_GENEVE_PORT))
			reason = XCNI_DROP_GENEVE_INJECT;
		/* An error about an IPv6 NodePort flow this node SNATed, or its
		 * reply: to its client (0: neither). */
		else if (fam == XCNI_AF_INET6 && lb_enabled &&
			 flow_proto(f, fam) == XCNI_IPPROTO_ICMPV6 && !f->is_echo)
			reason = nodeport_icmp(skb, XCNI_AF_INET6, f->l4_off, &verdict);
		else if (fam == XCNI_AF_INET6 && lb_enabled && nodeport6_reply_of(skb, p6))
			reason = nodeport6_reply_nat(skb, p6);
		/* IPv4 over the IPv6 underlay: the reply of an IPv4 NodePort flow
		 * this node SNATed (from_outside, np4_tunnel's XCNI_TUN6), or an
		 * error about one, as from_overlay4's nodeport4_reply does over
		 * the IPv4 one (0: neither). */
		else if (fam == XCNI_AF_INET && lb_enabled)
			reason = nodeport4_reply(skb, p4, NULL, skb->len, &verdict);
		if (!reason)
			reason = XCNI_FWD_DECAP_HOST;
		if (reason == XCNI_FWD_REPLY)
			verdict = TC_ACT_REDIRECT;
		goto out;
	}
	/* Conntrack counts the inner frame, the outer headers gone (here
	 * decapsulated already): a flow's bytes as its pods send and receive
	 * them, the same both ways (from_pod counts the other so). The node's
	 * counters keep the frame as it arrived (f->len again after: IPv6's
	 * commit counts f->len, ct_commit). */
	if (fam == XCNI_AF_INET6) {
		/* IPv6's into the pod in a program of its own (ovl_into6): 6.1
		 * passed 1,000,000 instructions verifying it with the rest
		 * under Services. */
		skb->cb[OVL_CB_ARRIVED] = arrived;
		skb->cb[OVL_CB_DSR] = dsr;
		skb->cb[OVL_CB_NODE] = node;
		skb->cb[OVL_CB_SRC_ID] = ipc_identity(sipc);
		return ovl_call(skb, OVL_INTO6);
	}
	f->len = skb->len;
	reason = overlay_into_pod(skb, f, fam, f->len, ipc_identity(sipc), dst,
				  dsr, &node, 0, &v, &verdict);
	f->len = arrived;
out:
	/* The event's length (report): the inner frame once decapsulated, as
	 * the sender's record counts it (its drop on this node merged with
	 * that record: one byte count); before, the frame as it arrived. A
	 * reply sent on longer than it came keeps arrived. */
	if (skb->len < arrived)
		f->encap_len = arrived - skb->len;
	return finish_flow(skb, fam, reason, XCNI_DIR_FROM_OVERLAY, 0, f, verdict, &v);
}

/*
 * overlay_decap_first for each inner family, a program apiece (ovl_decap6's
 * frame 312 bytes, ovl_decap4's 320; IPv6's chain under it,
 * nodeport6_reply_nat and lb6_rev_nat_call, 192).
 */
SEC("tc")
int ovl_decap6(struct __sk_buff *skb)
{
	struct pkt6 p = {};

	return overlay_decap_first(skb, XCNI_AF_INET6, NULL, &p, skb->cb[OVL_CB_LEN],
				   skb->cb[OVL_CB_OUTER6], 0);
}

SEC("tc")
int ovl_decap4(struct __sk_buff *skb)
{
	struct pkt p = {};

	return overlay_decap_first(skb, XCNI_AF_INET, &p, NULL, skb->cb[OVL_CB_LEN], 1, 0);
}

/*
 * Geneve xdp_underlay decapsulated (--overlay-decap xdp, lib/decap_xdp.h):
 * overlay_decap_first from its step 3 on, what the outer headers said read
 * from the record, one program per inner family as above; without
 * --overlay-decap xdp (no cookie) never called, and so verified (6.18) short.
 */
SEC("tc")
int ovl_xdp6(struct __sk_buff *skb)
{
	struct pkt6 p = {};

	if (!(decap_cookie[0] | decap_cookie[1]))
		return TC_ACT_SHOT;
	return overlay_decap_first(skb, XCNI_AF_INET6, NULL, &p, 0, 0, 1);
}

SEC("tc")
int ovl_xdp4(struct __sk_buff *skb)
{
	struct pkt p = {};

	if (!(decap_cookie[0] | decap_cookie[1]))
		return TC_ACT_SHOT;
	return overlay_decap_first(skb, XCNI_AF_INET, &p, NULL, 0, 0, 1);
}

/*
 * IPv6 decapsulated (ovl_decap6, ovl_xdp6), from a sender checked, to a pod
 * of this node: overlay_into_pod, the inner packet parsed again (as it was
 * there: nothing changed it since), its source's entry and the pod's looked
 * up again; what overlay_decap_first found rides in skb->cb.
 */
SEC("tc")
int ovl_into6(struct __sk_buff *skb)
{
	struct pkt6 p = {};
	struct flow *f = pkt_flow(&p);
	__u32 arrived = skb->cb[OVL_CB_ARRIVED], node = skb->cb[OVL_CB_NODE];
	struct xcni_endpoint *dst;
	struct verdict v = {};
	int reason, verdict = TC_ACT_OK;

	f->len = skb->len;
	reason = parse_ipv6(skb, &p);
	if (!reason) {
		dst = bpf_map_lookup_elem(&xcni_endpoints6, f->tuple.v6.daddr);
		reason = dst ? overlay_into_pod(skb, f, XCNI_AF_INET6, f->len,
						skb->cb[OVL_CB_SRC_ID], dst, skb->cb[OVL_CB_DSR],
						&node, 0, &v, &verdict) :
			       XCNI_DROP_UNKNOWN_DST;
	}
	f->len = arrived;
	if (skb->len < arrived)
		f->encap_len = arrived - skb->len;
	return finish_flow(skb, XCNI_AF_INET6, reason, XCNI_DIR_FROM_OVERLAY, 0, f, verdict, &v);
}

/*
 * From outside to an external frontend (a NodePort, an externalIP), once
 * from_plain let the packet by (Services in BPF only). IPv6 that is not:
 * nothing else of this program's (Geneve over IPv6 is UL_GENEVE6's; an IPv6
 * packet from_overlay4 would only hand back to the plain steps), to the
 * stack. from_outside's frame is the program's own, not a global's under an
 * entry (6.1 counts an empty entry frame as 32 bytes). IPv4's translation
 * state on the stack, IPv6's in the per-CPU scratch (xcni_lb6_tmp's st: a
 * struct lb6_state holds two 40-byte keys).
 */
SEC("tc")
int ovl_outside4(struct __sk_buff *skb)
{
	struct lb4_state lb = {};
	struct pkt p = {};

	if (!lb_enabled)
		return TC_ACT_OK;
	return from_outside(skb, XCNI_AF_INET, &p, NULL, &lb, skb->cb[OVL_CB_SRC]);
}

SEC("tc")
int ovl_outside6(struct __sk_buff *skb)
{
	struct lb6_tmp *t;
	struct pkt6 p = {};
	int ret;

	if (!lb_enabled || !(t = lb6_tmp_get()))
		return TC_ACT_OK;
	__builtin_memset(&t->st, 0, sizeof(t->st));
	ret = from_outside(skb, XCNI_AF_INET6, NULL, &p, &t->st, skb->cb[OVL_CB_SRC]);
	return ret != UL_NEXT ? ret : TC_ACT_OK;
}

/*
 * The family's ICMP from outside (np_icmp_peek): an error about a reply to
 * a NodePort flow (np_outside_icmp), else from_outside's as any packet (an
 * echo to a NodePort: a second tail call).
 */
SEC("tc")
int ovl_icmp4(struct __sk_buff *skb)
{
	struct pkt p = {};
	int ret;

	if (!lb_enabled)
		return TC_ACT_OK;
	ret = np_outside_icmp(skb, &p, NULL, XCNI_AF_INET);
	if (ret != UL_NEXT)
		return ret;
	return ovl_call(skb, OVL_OUTSIDE4);
}

SEC("tc")
int ovl_icmp6(struct __sk_buff *skb)
{
	struct pkt6 p = {};
	int ret;

	if (!lb_enabled)
		return TC_ACT_OK;
	ret = np_outside_icmp(skb, NULL, &p, XCNI_AF_INET6);
	if (ret != UL_NEXT)
		return ret;
	return ovl_call(skb, OVL_OUTSIDE6);
}

/*
 * A packet xdp_underlay decapsulated: data_meta..data holds exactly a
 * struct xcni_decap_meta with this agent's cookie (decap_cookie, nonzero
 * only with --overlay-decap xdp). Then OVL_XDP4/6 by the record's inner
 * family (the entry's tail call); else UL_NEXT, the packet is what it looks like.
 *
 * Why a packet from outside cannot pass for one: skb metadata is written
 * by XDP programs only (a tc program can read it, not make it), the wire
 * brings none, and on this device the XDP program is xdp_underlay, which
 * writes the record only after every check of lib/decap_xdp.h, and drops
 * a frame it fails to finish once the record is written. Metadata some
 * other XDP program left on an skb that then crossed into this node (a
 * veth forwards the skb itself) would need the cookie: 64 random bits the
 * agent draws once (kept across its restarts in a pinned map no
 * program reads: user/agent/overlay.c's decap_cookie_pinned) and keeps in
 * this program's rodata and xdp_underlay's .bss, never on the wire. In generic mode and with
 * --xdp-mode tc/off the agent never writes xdp_underlay's cookie, and a
 * record with a stale or foreign cookie is not taken: the frame is then a
 * plain packet from a pod address, which from_plain drops
 * (drop-outside-spoof).
 */
__attribute__((noinline)) int from_overlay_xdp(struct __sk_buff *skb)
{
	const struct xcni_decap_meta *m;
	void *data;
	__u8 inner6;

	if (!skb)
		return TC_ACT_SHOT;
	m = (const void *)(long)skb->data_meta;
	data = (void *)(long)skb->data;
	if ((const void *)(m + 1) > data || m->cookie[0] != decap_cookie[0] ||
	    m->cookie[1] != decap_cookie[1])
		return UL_NEXT;
	inner6 = m->inner6;
	/* Exactly the record (apart, or the compiler makes one != of the two
	 * compares, which proves the verifier nothing). */
	barrier_var(m);
	if ((const void *)(m + 1) < data)
		return UL_NEXT;
	return inner6 ? OVL_XDP6 : OVL_XDP4;
}

/*
 * Geneve over the IPv4 underlay: IPv4 inside taken here; IPv6 inside, nothing
 * counted yet, handed on (UL_INNER6 and the outer headers' length) to
 * ovl_decap6; what is not Geneve for this node, untouched and uncounted,
 * to the plain steps (UL_PLAIN). Global: a frame of its own.
 */
__attribute__((noinline)) int from_overlay4(struct __sk_buff *skb)
{
	struct xcni_endpoint *dst;
	struct xcni_ipcache_val *sipc;
	struct verdict v = {};
	struct pkt p = {}, op = {};
	struct outer o = {};
	struct cursor c;
	int reason, verdict = TC_ACT_OK;
	__u32 dsr = 0;

	if (!skb)
		return TC_ACT_SHOT;
	p.len = op.len = skb->len;
	cursor_init(&c, skb);
	reason = parse_outer4(&c, &op, &o);
	if (reason == XCNI_PASS_UNDERLAY)
		/* not ours (unless forged, or for a Service): neither counted nor touched */
		return UL_PLAIN;
	if (reason)
		goto out_outer;
	if (o.inner6)
		return UL_INNER6 | (int)o.hdr_len;
	p.eth = op.eth;
	/* Also what p's events leave out of p.len: an event of the inner
	 * packet carries the inner frame's length (report), the node's
	 * counters the frame as it arrived; op's (the outer headers) that. */
	p.encap_len = o.hdr_len;
	reason = parse_ipv4(&c, &p);
	if (reason)
		goto out;
	/* Critical options must be understood (RFC 8926 3.5): ours, DSR, is
	 * understood with Services in BPF only. */
	if (o.hdr_len > XCNI_ENCAP_LEN) {
		reason = dsr_opt_frontend(skb, o.hdr_len - XCNI_ENCAP_LEN, sizeof(struct iphdr),
					  XCNI_AF_INET, &dsr);
		if (!reason && dsr && !lb_enabled)
			reason = XCNI_DROP_BAD_GENEVE;
		if (reason)
			goto out;
	}
	/* A node speaks for its own pods and itself only; and, with DSR, for
	 * an outside client of its frontends: in a packet that names the
	 * frontend, or of a flow it opened so. */
	sipc = ipcache_find(XCNI_AF_INET, &p.tuple.saddr);
	if (!sipc || sipc->tunnel_ip != o.saddr) {
		reason = XCNI_DROP_INNER_SPOOF;
		if (!lb_enabled || !outside_source_ok(XCNI_AF_INET, sipc, &p.tuple.saddr) ||
		    (!dsr && !dsr_flow_known(pkt_flow(&p), XCNI_AF_INET, o.saddr, NULL, 0)))
			goto out;
		dsr |= DSR_FLOW;
	}
	tunnel_count_at(XCNI_AF_INET, &o.saddr, skb->len, 1);
	dst = bpf_map_lookup_elem(&xcni_endpoints, &p.tuple.daddr);
	if (!dst) {
		/* DSR is for a backend pod of this node only. */
		if (p.tuple.daddr != node_ip || (dsr & DSR_FLOW)) {
			reason = XCNI_DROP_UNKNOWN_DST;
			goto out;
		}
		/* Geneve in Geneve for this node: from_pod refuses a pod's, and a
		 * node has no cause to nest; the stack must not unwrap it again. */
		if (p.tuple.proto == IPPROTO_UDP && p.tuple.dport == bpf_htons(XCNI_GENEVE_PORT)) {
			reason = XCNI_DROP_GENEVE_INJECT;
			goto out;
		}
		if (lb_enabled) {
			reason = nodeport4_reply(skb, &p, &o, skb->len - o.hdr_len, &verdict);
			if (reason)
				goto out;
		}
		goto to_host;
	}
	/* The destination's conntrack must know the flow: its replies leave
	 * through from_pod, which lets replies pass. */
	reason = overlay_into_pod(skb, pkt_flow(&p), XCNI_AF_INET, skb->len - o.hdr_len,
				  ipc_identity(sipc), dst, dsr, NULL, o.hdr_len, &v, &verdict);
	goto out;
to_host:
	if (bpf_skb_adjust_room(skb, -(__s32)o.hdr_len, BPF_ADJ_ROOM_MAC,
				XCNI_DECAP4_FLAGS))
		reason = XCNI_DROP_BAD_GENEVE;
	else
		reason = XCNI_FWD_DECAP_HOST;
out:
	return finish_flow(skb, XCNI_AF_INET, reason, XCNI_DIR_FROM_OVERLAY, 0, pkt_flow(&p), verdict,
			   &v);
out_outer:
	return finish_flow(skb, XCNI_AF_INET, reason, XCNI_DIR_FROM_OVERLAY, 0, pkt_flow(&op), verdict,
			   &v);
}

/*
 * Geneve over the IPv6 underlay: the outer IPv6 header for this node
 * (node_ip6), no extension headers (xcni sends none), UDP to 6081, from a
 * node of the cluster (tunnel6), the VNI, no critical option (but with
 * Services in BPF: DSR's, lib/nodeport.h, for either inner family, which
 * overlay_decap_first judges), an IPv4 or IPv6 inner Ethernet frame: then
 * UL6_INNER4/6 and the outer headers' length, nothing counted yet.
 * Anything else not Geneve for this node passes (TC_ACT_OK, untouched);
 * Geneve that fails a check is dropped and counted with the outer addresses.
 */
__attribute__((noinline)) int from_underlay6(struct __sk_buff *skb)
{
	struct xcni_ip6hdr *ip6;
	struct geneve_hdr *g;
	struct ethhdr *inner;
	struct udphdr *udp;
	struct verdict v = {};
	struct pkt6 op = {};
	struct cursor c;
	__u32 optlen, *d;
	int reason;

	if (!skb)
		return TC_ACT_SHOT;
	cursor_init(&c, skb);
	if (!cursor_take(&c, sizeof(struct ethhdr)))
		return TC_ACT_OK;
	ip6 = cursor_take(&c, sizeof(*ip6));
	if (!ip6 || (ip6->vtc >> 4) != 6 || ip6->nexthdr != IPPROTO_UDP)
		return TC_ACT_OK;
	d = (__u32 *)ip6->daddr;
	if (d[0] != node_ip6[0] || d[1] != node_ip6[1] || d[2] != node_ip6[2] ||
	    d[3] != node_ip6[3])
		return TC_ACT_OK;
	udp = cursor_take(&c, sizeof(*udp));
	if (!udp || udp->dest != bpf_htons(XCNI_GENEVE_PORT))
		return TC_ACT_OK;
	/* Ours from here on: account it to the packet's fate. */
	op.len = skb->len;
	__builtin_memcpy(op.tuple.saddr, ip6->saddr, 16);
	__builtin_memcpy(op.tuple.daddr, ip6->daddr, 16);
	op.tuple.proto = IPPROTO_UDP;
	op.tuple.sport = udp->source;
	op.tuple.dport = udp->dest;
	if (!bpf_map_lookup_elem(&xcni_tunnel6, ip6->saddr)) {
		reason = XCNI_DROP_UNKNOWN_NODE;
		goto out;
	}
	reason = XCNI_DROP_BAD_GENEVE;
	g = cursor_take(&c, sizeof(*g));
	if (!g || (g->ver_optlen >> 6) != 0 || g->proto != bpf_htons(XCNI_GENEVE_PROTO_ETH) ||
	    (bpf_ntohl(g->vni_rsvd) >> 8) != vni)
		goto out;
	optlen = (g->ver_optlen & 0x3f) * 4;
	if (optlen > GENEVE_OPT_MAX || (void *)((char *)c.pos + optlen) > c.end)
		goto out;
	c.pos = (char *)c.pos + optlen;
	inner = cursor_take(&c, sizeof(*inner));
	if (!inner)
		goto out;
	optlen += sizeof(*ip6) + sizeof(*udp) + sizeof(*g) + sizeof(*inner);
	/* A critical option: DSR's (lib/nodeport.h), for a frontend of either
	 * family, which overlay_decap_first reads and judges with Services in
	 * BPF; none else. */
	if ((g->flags & XCNI_GENEVE_F_CRIT) && !lb_enabled)
		goto out;
	if (inner->h_proto == bpf_htons(ETH_P_IPV6))
		return UL6_INNER6 | (int)optlen;
	if (inner->h_proto == bpf_htons(ETH_P_IP))
		return UL6_INNER4 | (int)optlen;
out:
	return finish_flow(skb, XCNI_AF_INET6, reason, XCNI_DIR_FROM_OVERLAY, 0, pkt_flow(&op),
			   TC_ACT_OK, &v);
}

/*
 * On the IPv6 underlay: UDP to port 6081 of this node's underlay address
 * (node_ip6), the fixed header's next header, in the linear part: Geneve,
 * for from_underlay6, never a frontend's, as on the IPv4 underlay (where
 * parse_outer4 takes it before from_outside can). It spares every tunnelled
 * packet ovl_outside6's parse and Service lookup. A packet this does not
 * see so (headers not linear, extension headers) is no Geneve from_underlay6
 * would take either (it asks the same and more).
 */
static __always_inline int ul6_geneve(const struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	const struct xcni_ip6hdr *ip6 = data + ETH_HLEN;
	const struct udphdr *udp = (const void *)(ip6 + 1);
	const __u32 *d;

	if ((const void *)(udp + 1) > end || ip6->nexthdr != IPPROTO_UDP ||
	    udp->dest != bpf_htons(XCNI_GENEVE_PORT))
		return 0;
	d = (const __u32 *)ip6->daddr;
	return d[0] == node_ip6[0] && d[1] == node_ip6[1] && d[2] == node_ip6[2] &&
	       d[3] == node_ip6[3];
}

/* What a packet from the underlay is, at first sight: where from_overlay starts with it. */
enum ul_kind {
	UL_IPV4, /* anything but IPv6: from_overlay4 (Geneve over IPv4, or plain) */
	UL_GENEVE6, /* Geneve over the IPv6 underlay for this node (ul6_geneve) */
	UL_IPV6, /* any other IPv6: a forged source, a frontend's, else the stack's */
};

static __always_inline enum ul_kind ul_kind_of(const struct __sk_buff *skb)
{
	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return UL_IPV4;
	return ul6_on() && ul6_geneve(skb) ? UL_GENEVE6 : UL_IPV6;
}

/*
 * --xdp-mode tc: the prefilter xdp_underlay would run, in a frame of its own
 * (its lookup keys off the entry's frame, under which from_overlay4's chain runs).
 */
__attribute__((noinline)) int from_underlay_prefilter(struct __sk_buff *skb)
{
	return prefilter_frame((void *)(long)skb->data, (void *)(long)skb->data_end, skb->len);
}

/*
 * Every step below is a global function with a frame of its own, called from
 * here one after the other (their frames never add up), or a program of its
 * own (ovl_call); each decides the packet (its TC verdict) or hands it on by
 * name (enum ul_step). Geneve over IPv4 with IPv4 inside, the common case,
 * takes no tail call.
 */
SEC("tc")
int from_overlay(struct __sk_buff *skb)
{
	int ret;

	/* --xdp-mode tc: the prefilter xdp_underlay would run, first. */
	if (tc_prefilter && from_underlay_prefilter(skb))
		return TC_ACT_SHOT;
	/* --overlay-decap xdp: Geneve xdp_underlay decapsulated. */
	if (decap_cookie[0] | decap_cookie[1]) {
		ret = from_overlay_xdp(skb);
		if (ret == OVL_XDP6)
			return ovl_call(skb, OVL_XDP6);
		if (ret == OVL_XDP4)
			return ovl_call(skb, OVL_XDP4);
	}
	switch (ul_kind_of(skb)) {
	case UL_GENEVE6:
		ret = from_underlay6(skb);
		break;
	case UL_IPV6:
		/* A forged source first, whatever it is for; then IPv6 from
		 * outside (ovl_outside6). Without Services from_plain's
		 * UL_NEXT is plain (ul_next_src). */
		ret = from_plain(skb);
		if (lb_enabled && UL_STEP(ret) == UL_NEXT) {
			skb->cb[OVL_CB_SRC] = UL_SRC(ret);
			if (np_icmp_peek(skb, XCNI_AF_INET6))
				return ovl_call(skb, OVL_ICMP6);
			return ovl_call(skb, OVL_OUTSIDE6);
		}
		/* Nothing else is this program's: Geneve over IPv6 is
		 * UL_GENEVE6's, and IPv6 is no Geneve over IPv4. */
		return ret != UL_NEXT ? ret : TC_ACT_OK;
	default:
		ret = from_overlay4(skb);
	}

	skb->cb[OVL_CB_LEN] = UL_LEN(ret);
	switch (UL_STEP(ret)) {
	case UL_INNER6:
		skb->cb[OVL_CB_OUTER6] = 0;
		return ovl_call(skb, OVL_DECAP6);
	case UL6_INNER6:
		skb->cb[OVL_CB_OUTER6] = 1;
		return ovl_call(skb, OVL_DECAP6);
	case UL6_INNER4:
		return ovl_call(skb, OVL_DECAP4);
	case UL_PLAIN:
		ret = from_plain(skb);
		if (!lb_enabled)
			return ret != UL_NEXT ? ret : TC_ACT_OK;
		if (UL_STEP(ret) != UL_NEXT)
			return ret;
		skb->cb[OVL_CB_SRC] = UL_SRC(ret);
		if (np_icmp_peek(skb, XCNI_AF_INET))
			return ovl_call(skb, OVL_ICMP4);
		return ovl_call(skb, OVL_OUTSIDE4);
	default:
		return ret;
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
