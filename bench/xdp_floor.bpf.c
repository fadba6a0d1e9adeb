// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor of an XDP NodePort hit on this machine (PKT_BENCH_XDP_OBJS;
 * issue 42): what a program that only parses the frame, looks its frontend
 * up (xcni_svc, the fast path's own map, pinned beside it) and sends it back
 * out Geneve-encapsulated costs. No source rules, no backend choice, no
 * conntrack, no SNAT, no FIB lookup: the outer headers come from rodata.
 * Not loaded by xcnid; pkt_bench runs it (PKT_BENCH_XDP_OBJS).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xcni_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XCNI_MAX_SVC);
	__type(key, struct xcni_svc_key);
	__type(value, struct xcni_svc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} xcni_svc SEC(".maps");

const volatile __u32 floor_src = 0, floor_dst = 0;

struct outer {
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	__u8 geneve[8];
} __attribute__((packed));

SEC("xdp")
int xdp_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__be16 *ports = (void *)(ip + 1);
	struct xcni_svc_key k = { .family = XCNI_AF_INET, .scope = XCNI_SCOPE_EXT };
	const struct xcni_svc *svc;
	struct outer *o;
	__u32 sum = 0, len = (__u32)(end - data);
	__u16 *w;

	if ((void *)(ports + 2) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5)
		return XDP_PASS;
	__builtin_memcpy(k.addr, &ip->daddr, 4);
	k.port = ports[1];
	k.proto = ip->protocol;
	svc = bpf_map_lookup_elem(&xcni_svc, &k);
	if (!svc)
		return XDP_PASS;
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(*o)))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	o = data;
	if ((void *)(o + 1) > end)
		return XDP_ABORTED;
	__builtin_memset(o, 0, sizeof(*o));
	o->eth.h_proto = bpf_htons(ETH_P_IP);
	o->eth.h_dest[5] = (__u8)svc->rev_nat;
	o->ip.version = 4;
	o->ip.ihl = 5;
	o->ip.ttl = 64;
	o->ip.protocol = IPPROTO_UDP;
	o->ip.tot_len = bpf_htons(len + sizeof(*o) - ETH_HLEN);
	o->ip.saddr = floor_src;
	o->ip.daddr = floor_dst;
	w = (__u16 *)((char *)o + ETH_HLEN);
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	o->ip.check = (__u16)~sum;
	o->udp.source = bpf_htons(49152 | (len & 0x3fff));
	o->udp.dest = bpf_htons(XCNI_GENEVE_PORT);
	o->udp.len = bpf_htons(len + sizeof(*o) - ETH_HLEN - sizeof(struct iphdr));
	o->geneve[2] = 0x65;
	o->geneve[3] = 0x58;
	o->geneve[6] = 42;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
