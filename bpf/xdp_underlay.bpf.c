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
 * The judge is lib/prefilter.h's, shared with from_overlay, which runs it
 * itself where the node has the prefilter at tc (--xdp-mode tc).
 *
 * With Services in BPF and xcnid --nodeport-acceleration (rodata np_accel),
 * what the prefilter lets through then meets the NodePort fast path
 * (lib/nodeport_xdp.h): traffic from outside to a NodePort, externalIP or
 * load-balancer IP whose backend is on another node is translated, SNATed
 * (or, --node-port-mode dsr, given the DSR option), encapsulated and sent
 * back out here (XDP_TX), over the IPv4 underlay or, for IPv6 to a node
 * behind it, the IPv6 one; the rest goes on to tc untouched. A flow the
 * fast path sent a packet of is then answered from its per-CPU flow cache
 * entry (lib/nodeport_cache.h; docs/decisions/xdp-flow-cache.md), ahead of
 * the prefilter, whose changes bump the entries' generation. A global function of this program rather than a tail call: no
 * program array to keep in step, and its frame is its own (docs/decisions/xdp-nodeport-fast-path.md,
 * for the cost of a miss).
 *
 * With xcnid --overlay-decap xdp (native mode only), Geneve from a node of
 * the cluster is decapsulated here first (lib/decap_xdp.h), a record of
 * what its outer headers said left in the metadata area for from_overlay.
 */
#define XCNI_HOOK_XDP 1
/* The shared headers' tc-only helpers this program never calls. */
#pragma clang diagnostic ignored "-Wunused-function"

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lib/compat.h"
#include "lib/prefilter.h"
#include "lib/nodeport_cache.h"
#include "lib/decap_xdp.h"

/*
 * The prefilter in a frame of its own: its lookup keys in the entry's frame
 * would sit under the fast path's (xdp_nodeport6 -> ct_commit_call) and pass
 * the verifier's 512 bytes, as from_overlay's from_underlay_prefilter.
 */
__attribute__((noinline)) int xdp_prefilter(struct xdp_md *ctx)
{
	void *data, *end;

	if (!ctx)
		return 0;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	return prefilter_frame(data, end, end - data);
}

/* The full path's verdict ret: a frame sent fills the flow's cache entry, a
 * flow whose backend is here (NPX_PASS_LOCAL) gets a tc entry and passes. */
static __always_inline int xdp_np_full(struct xdp_md *ctx, int ret)
{
	if (ret == XDP_TX || ret == NPX_PASS_LOCAL)
		xdp_npc_fill(ctx, ret == NPX_PASS_LOCAL);
	return ret == NPX_PASS_LOCAL ? XDP_PASS : ret;
}

/* The flow cache's answer for the frame (lib/nodeport_cache.h: a verdict,
 * else NPC_*), *v6 set for IPv6: IPv6 on a node of either underlay (its
 * backends' nodes behind either), IPv4 on one of the IPv4 underlay. */
static __always_inline int xdp_npc(struct xdp_md *ctx, int *v6)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;

	if (!np_accel || !lb_enabled || data + ETH_HLEN > end)
		return NPC_ON;
	if (((struct ethhdr *)data)->h_proto == bpf_htons(ETH_P_IPV6)) {
		*v6 = 1;
		return node_ip || ul6_on() ? xdp_npc6(ctx) : NPC_ON;
	}
	return node_ip ? xdp_npc4(ctx) : NPC_ON;
}

SEC("xdp")
int xdp_underlay(struct xdp_md *ctx)
{
	int v6 = 0, ret = xdp_npc(ctx, &v6), full;

	/* A hit: an entry of the generation now, which every prefilter change
	 * bumps (xcnictl), so the prefilter would let it through. */
	if (ret >= 0)
		return ret;
	if (xdp_prefilter(ctx))
		return XDP_DROP;
	/* --overlay-decap xdp: Geneve from a node, its outer headers off here
	 * so that GRO merges the inner flow (lib/decap_xdp.h). */
	full = xdp_overlay_decap(ctx);
	if (full != XDP_DECAP_NONE)
		return full;
	if (ret == NPC_LOCAL)
		return npx_count(XCNI_NPA_TC, ctx->data_end - ctx->data, XDP_PASS);
	if (ret != NPC_MISS)
		return XDP_PASS;
	/* The full path, whose frame sent fills the flow's entry. */
	return xdp_np_full(ctx, v6 ? xdp_nodeport6(ctx) : xdp_nodeport4(ctx));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
