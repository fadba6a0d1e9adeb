/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The underlay prefilter: sources on the deny lists (xcni_prefilter,
 * xcni_prefilter6: LPM tries xcnictl fills, the IPv4 one fronted by the /16
 * and /24 hashes that keep a miss cheap at 100k prefixes) and sources in the
 * node's Service range (rodata svc_cidr, svc_cidr6: no packet from the wire
 * comes from a ClusterIP) are dropped, counted on their entry and under
 * drop-prefilter or drop-src-frontend (from-overlay). Read from the frame's
 * first bytes only, through at most two VLAN tags (802.1ad, 802.1Q: a tag
 * must not carry a deny-listed source past the list). One judge for both
 * hooks: xdp_underlay at XDP, and from_overlay's entry at tc where the
 * node runs the prefilter there (--xdp-mode tc: rodata tc_prefilter), as on
 * a veth underlay, where XDP costs a copy of every GSO packet (generic) or
 * the peer's segmentation (native); see docs/decisions/prefilter-at-tc.md.
 */
#ifndef XCNI_PREFILTER_H
#define XCNI_PREFILTER_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "config.h"
#include "ipcache.h"
#include "maps.h"

struct pf_vlan_tag {
	__be16 tci;
	__be16 proto; /* what follows the tag */
};

/* Counted under reason (from-overlay): the caller drops. */
static __always_inline int pf_count(int reason, __u64 len)
{
	__u32 idx = XCNI_METRIC_IDX(reason, XCNI_DIR_FROM_OVERLAY);
	struct xcni_metric *m;

	m = bpf_map_lookup_elem(&xcni_metrics, &idx);
	if (m) {
		m->packets++;
		m->bytes += len;
	}
	return reason;
}

/* A listed source: counted on its entry and under drop-prefilter. */
static __always_inline int pf_hit(struct xcni_prefilter_val *hit, __u64 len)
{
	__sync_fetch_and_add(&hit->packets, 1);
	__sync_fetch_and_add(&hit->bytes, len);
	return pf_count(XCNI_DROP_PREFILTER, len);
}

/*
 * The IP header at l3 (family fam, a constant): its source in the Service
 * range, or on the family's deny list (IPv4's fronted by the /16 and /24
 * hashes), is counted and its reason returned; 0 for the rest.
 */
static __always_inline int pf_judge(int fam, const void *l3, const void *end, __u64 len)
{
	const struct iphdr *ip = l3;
	const struct ipv6hdr *ip6 = l3;
	struct xcni_prefilter_val *hit;

	if (l3 + (fam == XCNI_AF_INET ? sizeof(*ip) : sizeof(*ip6)) > end)
		return 0;
	if (in_svc_cidr(fam, fam == XCNI_AF_INET ? (const void *)&ip->saddr
						 : (const void *)&ip6->saddr))
		return pf_count(XCNI_DROP_SRC_FRONTEND, len);
	if (fam == XCNI_AF_INET) {
		struct xcni_prefilter_key k = { .prefixlen = 32 };
		/* Two hash lookups say "no prefix can match" for most sources. */
		__u32 net = ip->saddr & bpf_htonl(XCNI_PF16_MASK);

		if (!bpf_map_lookup_elem(&xcni_pf16, &net)) {
			net = ip->saddr & bpf_htonl(XCNI_PF24_MASK);
			if (!bpf_map_lookup_elem(&xcni_pf24, &net))
				return 0;
		}
		k.addr = ip->saddr;
		hit = bpf_map_lookup_elem(&xcni_prefilter, &k);
	} else {
		struct xcni_prefilter6_key k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, &ip6->saddr, sizeof(k.addr));
		hit = bpf_map_lookup_elem(&xcni_prefilter6, &k);
	}
	return hit ? pf_hit(hit, len) : 0;
}

/*
 * The frame from data to end (its first buffer; len bytes in all, what the
 * counters add): 0 when it goes on, else the drop reason it was counted
 * under. A frame cut short, or neither IPv4 nor IPv6, goes on: a prefilter,
 * not the judge.
 */
static __always_inline int prefilter_frame(const void *data, const void *end, __u64 len)
{
	const struct ethhdr *eth = data;
	const void *l3 = eth + 1;
	__be16 proto;

	if (l3 > end)
		return 0;
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		const struct pf_vlan_tag *tag = l3;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((const void *)(tag + 1) > end)
			return 0;
		proto = tag->proto;
		l3 = tag + 1;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return pf_judge(XCNI_AF_INET, l3, end, len);
	if (proto == bpf_htons(ETH_P_IPV6))
		return pf_judge(XCNI_AF_INET6, l3, end, len);
	return 0;
}

#endif
