// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_underlay: XDP on the node's underlay device, the first look at every
 * packet: sources on the prefilter deny list (an LPM trie xcnictl fills) are
 * dropped before the stack sees them, counted per entry. Everything else,
 * Geneve included, goes on to tc (from_overlay): decapsulating here would
 * mean building the skb for the pod by hand, and tc has it already. The /16
 * and /24 hashes in front of the trie keep a miss cheap at 100k prefixes.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/compat.h"
#include "lib/maps.h"

SEC("xdp")
int xdp_underlay(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct xcni_prefilter_key k = { .prefixlen = 32 };
	struct xcni_prefilter_val *hit;
	struct xcni_metric *m;
	__u32 idx = XCNI_METRIC_IDX(XCNI_DROP_PREFILTER, XCNI_DIR_FROM_OVERLAY);
	__u64 len = end - data;
	__u32 net;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	/* Two hash lookups say "no prefix can match" for most sources. */
	net = ip->saddr & bpf_htonl(XCNI_PF16_MASK);
	if (!bpf_map_lookup_elem(&xcni_pf16, &net)) {
		net = ip->saddr & bpf_htonl(XCNI_PF24_MASK);
		if (!bpf_map_lookup_elem(&xcni_pf24, &net))
			return XDP_PASS;
	}
	k.addr = ip->saddr;
	hit = bpf_map_lookup_elem(&xcni_prefilter, &k);
	if (!hit)
		return XDP_PASS;
	__sync_fetch_and_add(&hit->packets, 1);
	__sync_fetch_and_add(&hit->bytes, len);
	m = bpf_map_lookup_elem(&xcni_metrics, &idx);
	if (m) {
		m->packets++;
		m->bytes += len;
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
