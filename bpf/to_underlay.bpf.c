// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * to_underlay: tc egress of the underlay device. xcni's Geneve is built by
 * the programs below the stack (from_pod, to_overlay, from_overlay's
 * NodePort and DSR paths), each marking what it built (XCNI_MARK_GENEVE,
 * encap.h's geneve_mark). UDP to the Geneve port leaving the node without
 * that mark came from a socket: a process on the node (a hostNetwork pod,
 * no privilege needed) building Geneve from the node's address, which the
 * other nodes would take as this node's data plane speaking for its pods
 * (or, with DSR, for any outside client). It is not: dropped and counted
 * (XCNI_DROP_GENEVE_SOCKET, under the to-overlay direction: the host
 * sending), over either underlay family.
 *
 * The socket is not the test: the host's own packets to remote pods are
 * encapsulated by to_overlay on xcni0 and still carry theirs. tc egress runs
 * for packets the programs redirect here too (bpf_redirect_neigh goes
 * through dev_queue_xmit), so the mark is what tells them apart.
 *
 * Everything else passes untouched and uncounted (TC_ACT_UNSPEC: a program
 * after this one, if any, still decides): what the receiver takes as
 * Geneve (from_overlay: UDP to 6081 straight after the IPv4 or the fixed
 * IPv6 header, not fragmented) is what is looked at; plain UDP to other
 * ports, TCP and the rest are the node's own business.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>

#include "lib/compat.h"
#include "lib/exit.h"
#include "lib/parse.h"
#include "lib/policy.h"

/* The UDP ports at off (network order): 0, or an error when the packet is shorter. */
static __always_inline int udp_ports(struct __sk_buff *skb, __u32 off, __be16 ports[2])
{
	return bpf_skb_load_bytes(skb, off, ports, 2 * sizeof(__be16));
}

static __always_inline int to_underlay4(struct __sk_buff *skb)
{
	struct verdict v = {};
	struct pkt p = {};
	struct iphdr ip;
	__be16 ports[2];

	/* Read rather than pointed at: a socket's headers need not be in the linear part. */
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP ||
	    ip.ihl < 5 || (ip.frag_off & bpf_htons(0x1fff)) ||
	    udp_ports(skb, ETH_HLEN + ip.ihl * 4, ports) || ports[1] != bpf_htons(XCNI_GENEVE_PORT))
		return TC_ACT_UNSPEC;
	p.len = skb->len;
	p.tuple.saddr = ip.saddr;
	p.tuple.daddr = ip.daddr;
	p.tuple.proto = IPPROTO_UDP;
	p.tuple.sport = ports[0];
	p.tuple.dport = ports[1];
	return finish(skb, XCNI_DROP_GENEVE_SOCKET, XCNI_DIR_TO_OVERLAY, 0, &p, TC_ACT_SHOT, &v);
}

static __always_inline int to_underlay6(struct __sk_buff *skb)
{
	struct xcni_ip6hdr ip6;
	struct verdict v = {};
	struct pkt6 p = {};
	__be16 ports[2];

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)) || ip6.nexthdr != IPPROTO_UDP ||
	    udp_ports(skb, ETH_HLEN + sizeof(ip6), ports) || ports[1] != bpf_htons(XCNI_GENEVE_PORT))
		return TC_ACT_UNSPEC;
	p.len = skb->len;
	__builtin_memcpy(p.tuple.saddr, ip6.saddr, 16);
	__builtin_memcpy(p.tuple.daddr, ip6.daddr, 16);
	p.tuple.proto = IPPROTO_UDP;
	p.tuple.sport = ports[0];
	p.tuple.dport = ports[1];
	return finish6(skb, XCNI_DROP_GENEVE_SOCKET, XCNI_DIR_TO_OVERLAY, 0, &p, TC_ACT_SHOT, &v);
}

SEC("tc")
int to_underlay(struct __sk_buff *skb)
{
	/* The programs' own Geneve: one load and a test, before anything else. */
	if (skb->mark & XCNI_MARK_GENEVE)
		return TC_ACT_UNSPEC;
	if (skb->protocol == bpf_htons(ETH_P_IP))
		return to_underlay4(skb);
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return to_underlay6(skb);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
