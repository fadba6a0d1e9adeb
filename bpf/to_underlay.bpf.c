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

/*
 * UDP to the Geneve port straight after the IP header (fam a constant: the
 * IPv4 header, unfragmented, or the fixed IPv6 one): dropped and counted
 * with its tuple; anything else TC_ACT_UNSPEC, untouched.
 */
static __always_inline int geneve_from_socket(struct __sk_buff *skb, int fam)
{
	struct verdict v = {};
	struct flow f;
	union {
		struct iphdr v4;
		struct xcni_ip6hdr v6;
	} ip;
	__be16 ports[2];

	/* Read rather than pointed at: a socket's headers need not be in the linear part. */
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip,
			       fam == XCNI_AF_INET ? sizeof(ip.v4) : sizeof(ip.v6)))
		return TC_ACT_UNSPEC;
	if (fam == XCNI_AF_INET ? ip.v4.protocol != IPPROTO_UDP || ip.v4.ihl < 5 ||
					  (ip.v4.frag_off & bpf_htons(0x1fff)) ||
					  udp_ports(skb, ETH_HLEN + ip.v4.ihl * 4, ports)
				: ip.v6.nexthdr != IPPROTO_UDP ||
					  udp_ports(skb, ETH_HLEN + sizeof(ip.v6), ports))
		return TC_ACT_UNSPEC;
	if (ports[1] != bpf_htons(XCNI_GENEVE_PORT))
		return TC_ACT_UNSPEC;
	__builtin_memset(&f, 0, sizeof(f));
	if (fam == XCNI_AF_INET) {
		f.tuple.v4.saddr = ip.v4.saddr;
		f.tuple.v4.daddr = ip.v4.daddr;
	} else {
		__builtin_memcpy(f.tuple.v6.saddr, ip.v6.saddr, 16);
		__builtin_memcpy(f.tuple.v6.daddr, ip.v6.daddr, 16);
	}
	f.len = skb->len;
	flow_set_l4(&f, fam, IPPROTO_UDP, ports[0], ports[1]);
	return finish_flow(skb, fam, XCNI_DROP_GENEVE_SOCKET, XCNI_DIR_TO_OVERLAY, 0, &f,
			   TC_ACT_SHOT, &v);
}

SEC("tc")
int to_underlay(struct __sk_buff *skb)
{
	/* The programs' own Geneve: one load and a test, before anything else. */
	if (skb->mark & XCNI_MARK_GENEVE)
		return TC_ACT_UNSPEC;
	if (skb->protocol == bpf_htons(ETH_P_IP))
		return geneve_from_socket(skb, XCNI_AF_INET);
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return geneve_from_socket(skb, XCNI_AF_INET6);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
