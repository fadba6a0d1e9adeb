// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor of a BPF redirect design on this host's veth (issue 71): what
 * xcni's same-node path is without conntrack, policy, flows or Services.
 * bench/pod-throughput.sh -R attaches it at TCX ingress of the host end of
 * ptp's pods ("redirect" setup): an IPv4 packet to an address in floor_ep
 * gets that pod's MACs and goes into it with bpf_redirect_peer, as from_pod
 * delivers; anything else (ARP, the gateway, IPv6) goes to the stack. No
 * source check, no TTL. Not loaded by xcnid.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct floor_ep {
	__u32 ifindex; /* the destination pod's host end: its peer gets the packet */
	__u8 pod_mac[6];
	__u8 host_mac[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32); /* the pod's IPv4, network order */
	__type(value, struct floor_ep);
} floor_ep SEC(".maps");

SEC("tc")
int redirect_floor(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	const struct floor_ep *ep;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	ep = bpf_map_lookup_elem(&floor_ep, &ip->daddr);
	if (!ep)
		return TC_ACT_OK;
	__builtin_memcpy(eth->h_dest, ep->pod_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, ep->host_mac, ETH_ALEN);
	return bpf_redirect_peer(ep->ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
