/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Geneve decapsulated at XDP (xcnid --overlay-decap xdp;
 * docs/decisions/xdp-decap-gro.md). With native XDP the driver
 * hands what the program passes to GRO (napi_gro_receive): a frame whose
 * outer headers are gone here gives GRO the inner flow, which it merges
 * into 64 KB packets as a kernel tunnel socket's GRO handler would. At tc,
 * after GRO, every MTU-sized Geneve frame crosses the stack alone.
 *
 * xdp_overlay_decap takes only what from_overlay would take as Geneve from
 * a known node and can judge without the outer headers:
 *   - outer IPv4 (version 4, IHL 5, not a fragment) to node_ip, or, on the
 *     IPv6 underlay (ul6_on), outer IPv6 with UDP as its next header (no
 *     extension headers) to node_ip6;
 *   - UDP to 6081 from a node of the cluster (xcni_tunnel, xcni_tunnel6:
 *     parse_outer's, from_underlay6's test);
 *   - Geneve version 0, no options and no flags (DSR's option, OAM and
 *     anything critical stay at tc), Ethernet inside, this node's VNI;
 *   - IPv4 or IPv6 inside; IPv4 inside over the IPv4 underlay not to
 *     node_ip (from_overlay4's nodeport_reply reads the outer headers).
 * Then, before anything is changed, room for the record in the metadata
 * area (bpf_xdp_adjust_meta; if the driver has none, the frame goes on
 * untouched), the record (struct xcni_decap_meta: the cookie, the sending
 * node, the bytes taken off), the outer headers off (bpf_xdp_adjust_head,
 * which moves the metadata with the data), and the outer Ethernet header
 * written back in front of the inner packet with the inner family, as
 * from_overlay's geneve_decap leaves it: XDP_PASS. A failure after the
 * record is written drops the frame: no frame leaves here half done.
 * Everything else: XDP_DECAP_NONE, untouched, for tc as before.
 *
 * Only the agent turns it on (the .bss cookie, written after it attached
 * the program in native mode; zero: off): in generic mode GRO has already
 * run, and the skb may be a GSO packet of the tunnel type, which must keep
 * its outer headers.
 */
#ifndef XCNI_DECAP_XDP_H
#define XCNI_DECAP_XDP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "config.h"
#include "encap.h"
#include "ipcache.h"
#include "maps.h"
#include "parse.h"

/* The record's cookie (struct xcni_decap_meta), written by the agent once
 * the program runs native; zero: no decapsulation here. */
volatile __u32 decap_cookie_xdp[2];

#define XDP_DECAP_NONE (-1)

__attribute__((noinline)) int xdp_overlay_decap(struct xdp_md *ctx)
{
	struct xcni_decap_meta *m;
	struct geneve_hdr *g;
	struct ethhdr *eth, *in;
	struct udphdr *udp;
	void *data, *end, *l3;
	__u8 node6[16] = {}, mac[12];
	__u32 c0, c1, node = 0, hdr, outer6 = 0;
	__be16 proto;

	if (!ctx)
		return XDP_DECAP_NONE;
	c0 = decap_cookie_xdp[0];
	c1 = decap_cookie_xdp[1];
	if (!(c0 | c1))
		return XDP_DECAP_NONE;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	l3 = eth + 1;
	if (l3 > end)
		return XDP_DECAP_NONE;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl != 5 ||
		    ip->protocol != IPPROTO_UDP || !node_ip || ip->daddr != node_ip ||
		    (ip->frag_off & bpf_htons(0x3fff)) ||
		    !bpf_map_lookup_elem(&xcni_tunnel, &ip->saddr))
			return XDP_DECAP_NONE;
		node = ip->saddr;
		udp = (void *)(ip + 1);
		hdr = XCNI_ENCAP_LEN;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6) && ul6_on()) {
		struct xcni_ip6hdr *ip6 = l3;
		const __u32 *d;

		if ((void *)(ip6 + 1) > end || (ip6->vtc >> 4) != 6 || ip6->nexthdr != IPPROTO_UDP)
			return XDP_DECAP_NONE;
		d = (const __u32 *)ip6->daddr;
		if (d[0] != node_ip6[0] || d[1] != node_ip6[1] || d[2] != node_ip6[2] ||
		    d[3] != node_ip6[3] || !bpf_map_lookup_elem(&xcni_tunnel6, ip6->saddr))
			return XDP_DECAP_NONE;
		__builtin_memcpy(node6, ip6->saddr, 16);
		node = in6_fold(node6);
		outer6 = 1;
		udp = (void *)(ip6 + 1);
		hdr = XCNI_ENCAP6_LEN;
	} else {
		return XDP_DECAP_NONE;
	}
	g = (void *)(udp + 1);
	in = (void *)(g + 1);
	if ((void *)(in + 1) > end || udp->dest != bpf_htons(XCNI_GENEVE_PORT) ||
	    g->ver_optlen || g->flags || g->proto != bpf_htons(XCNI_GENEVE_PROTO_ETH) ||
	    (bpf_ntohl(g->vni_rsvd) >> 8) != vni)
		return XDP_DECAP_NONE;
	proto = in->h_proto;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iip = (void *)(in + 1);

		if ((void *)(iip + 1) > end || (!outer6 && iip->daddr == node_ip))
			return XDP_DECAP_NONE;
	} else if (proto != bpf_htons(ETH_P_IPV6)) {
		return XDP_DECAP_NONE;
	}
	__builtin_memcpy(mac, eth, sizeof(mac));
	/* Nothing changed yet: without a metadata area the frame goes on as it came. */
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return XDP_DECAP_NONE;
	m = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if ((void *)(m + 1) > data)
		return XDP_DROP;
	m->cookie[0] = c0;
	m->cookie[1] = c1;
	m->node = node;
	m->hdr_len = hdr;
	m->outer6 = outer6;
	m->inner6 = proto == bpf_htons(ETH_P_IPV6);
	__builtin_memcpy(m->node6, node6, 16);
	if (bpf_xdp_adjust_head(ctx, hdr))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(eth, mac, sizeof(mac));
	eth->h_proto = proto;
	return XDP_PASS;
}

#endif
