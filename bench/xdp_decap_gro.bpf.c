// SPDX-License-Identifier: Apache-2.0
/*
 * bench/xdp-decap-gro.sh's programs (issue 42, the overlay's throughput with
 * MTU-sized frames, as a NIC delivers them): a UDP tunnel (VXLAN-in-IPv4,
 * port 4789, the same 8-byte header as Geneve without options) terminated
 *  - xdp_decap: at XDP, before the veth's NAPI hands the frame to GRO, so GRO
 *    sees the inner TCP flow;
 *  - tc_decap: at tc ingress, after GRO, as xcni's from_overlay does today
 *    (GRO cannot merge UDP to a port no tunnel socket owns);
 *  - xdp_pass: nothing, for the legs that need a native program only.
 * A measurement harness, not a data path: no checks of who sent the frame.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#define OUTER (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr) + 8)

SEC("xdp")
int xdp_decap(struct xdp_md *ctx)
{
	void *d = (void *)(long)ctx->data, *e = (void *)(long)ctx->data_end;
	struct ethhdr *eth = d;
	struct iphdr *ip = d + sizeof(*eth);
	struct udphdr *uh = (void *)(ip + 1);

	if ((void *)(uh + 1) + 8 + sizeof(struct ethhdr) > e)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 || ip->protocol != 17 ||
	    uh->dest != bpf_htons(4789))
		return XDP_PASS;
	if (bpf_xdp_adjust_head(ctx, OUTER))
		return XDP_DROP;
	return XDP_PASS;
}

SEC("tc")
int tc_decap(struct __sk_buff *skb)
{
	void *d = (void *)(long)skb->data, *e = (void *)(long)skb->data_end;
	struct ethhdr *eth = d;
	struct iphdr *ip = d + sizeof(*eth);
	struct udphdr *uh = (void *)(ip + 1);

	if ((void *)(uh + 1) + 8 + sizeof(struct ethhdr) > e)
		return TC_ACT_OK;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 || ip->protocol != 17 ||
	    uh->dest != bpf_htons(4789))
		return TC_ACT_OK;
	/* drop outer IP+UDP+VXLAN+inner eth, keep the outer eth (same MACs here) */
	if (bpf_skb_adjust_room(skb, -(int)OUTER, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_DECAP_L3_IPV4))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}
char LICENSE[] SEC("license") = "GPL";
SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
