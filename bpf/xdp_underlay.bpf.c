// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_underlay: XDP on the node's underlay device, the first look at every
 * packet: sources on the prefilter deny list (an LPM trie xcnictl fills) are
 * dropped before the stack sees them, counted per entry. Everything else,
 * Geneve included, goes on to tc (from_overlay): decapsulating here would
 * mean building the skb for the pod by hand, and tc has it already. The /16
 * and /24 hashes in front of the trie keep a miss cheap at 100k prefixes.
 * IPv6 sources are judged against their own trie (xcni_prefilter6), walked
 * directly: only the fixed header is read, the source is in it.
 * Up to two VLAN tags (802.1ad, 802.1Q) are looked through: the stack hands
 * tagged frames to VLAN devices on this one, and a tag must not carry a
 * deny-listed source past the list.
 * A source in the node's Service range (rodata svc_cidr, svc_cidr6: xcnid
 * --service-cidr) is dropped here too, counted drop-src-frontend: no packet
 * from the wire comes from a ClusterIP (a forged Service reply), and the
 * test is two compares. The rest of that rule needs the L4 header and the
 * Service maps (a frontend at its port, lib/lb.h's lb_src_frontend): tc's
 * from_plain, which also applies the range where XDP is off.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/compat.h"
#include "lib/config.h"
#include "lib/ipcache.h"
#include "lib/maps.h"

struct vlan_tag {
	__be16 tci;
	__be16 proto; /* what follows the tag */
};

/* Counted under reason (from-overlay), dropped. */
static __always_inline int drop_as(int reason, __u64 len)
{
	__u32 idx = XCNI_METRIC_IDX(reason, XCNI_DIR_FROM_OVERLAY);
	struct xcni_metric *m;

	m = bpf_map_lookup_elem(&xcni_metrics, &idx);
	if (m) {
		m->packets++;
		m->bytes += len;
	}
	return XDP_DROP;
}

/* A listed source: counted on its entry and under drop-prefilter, dropped. */
static __always_inline int drop(struct xcni_prefilter_val *hit, __u64 len)
{
	__sync_fetch_and_add(&hit->packets, 1);
	__sync_fetch_and_add(&hit->bytes, len);
	return drop_as(XCNI_DROP_PREFILTER, len);
}

static __always_inline int judge_ipv4(struct iphdr *ip, void *end, __u64 len)
{
	struct xcni_prefilter_key k = { .prefixlen = 32 };
	struct xcni_prefilter_val *hit;
	__u32 net;

	if ((void *)(ip + 1) > end)
		return XDP_PASS;
	if (in_svc_cidr4(ip->saddr))
		return drop_as(XCNI_DROP_SRC_FRONTEND, len);
	/* Two hash lookups say "no prefix can match" for most sources. */
	net = ip->saddr & bpf_htonl(XCNI_PF16_MASK);
	if (!bpf_map_lookup_elem(&xcni_pf16, &net)) {
		net = ip->saddr & bpf_htonl(XCNI_PF24_MASK);
		if (!bpf_map_lookup_elem(&xcni_pf24, &net))
			return XDP_PASS;
	}
	k.addr = ip->saddr;
	hit = bpf_map_lookup_elem(&xcni_prefilter, &k);
	return hit ? drop(hit, len) : XDP_PASS;
}

static __always_inline int judge_ipv6(struct ipv6hdr *ip6, void *end, __u64 len)
{
	struct xcni_prefilter6_key k = { .prefixlen = 128 };
	struct xcni_prefilter_val *hit;

	if ((void *)(ip6 + 1) > end)
		return XDP_PASS;
	if (in_svc_cidr6((const __u8 *)&ip6->saddr))
		return drop_as(XCNI_DROP_SRC_FRONTEND, len);
	__builtin_memcpy(k.addr, &ip6->saddr, sizeof(k.addr));
	hit = bpf_map_lookup_elem(&xcni_prefilter6, &k);
	return hit ? drop(hit, len) : XDP_PASS;
}

SEC("xdp")
int xdp_underlay(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	__u64 len = end - data;
	__be16 proto;

	if (l3 > end)
		return XDP_PASS;
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_tag *tag = l3;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(tag + 1) > end)
			return XDP_PASS;
		proto = tag->proto;
		l3 = tag + 1;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return judge_ipv4(l3, end, len);
	if (proto == bpf_htons(ETH_P_IPV6))
		return judge_ipv6(l3, end, len);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
