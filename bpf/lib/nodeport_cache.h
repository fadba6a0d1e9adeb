/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The XDP NodePort flow cache (docs/decisions/xdp-flow-cache.md):
 * Katran's connection table on the one NodePort plan. The first packets of
 * a flow take the full path (np_plan, npx_apply: nodeport_xdp.h); once that
 * sent one out (XDP_TX), the frame it wrote is copied into the flow's
 * per-CPU entry (xcni_npc: the outer headers, the translated tuple). A later
 * packet of the flow is one lookup, the checks below, the inner rewrite
 * npx_apply makes (npx_rewrite4, npx_rewrite6: the same bytes), the headers
 * copied with their lengths set, the counters, XDP_TX.
 *
 * The full path, not the cache, whenever it could decide otherwise:
 *  - a TCP flag that moves conntrack's state (SYN, FIN, RST): never cached,
 *    never answered from the cache;
 *  - another generation (xcni_npgen: xcnid's applied Services, backends,
 *    nodes) or policy revision (xcni_polrev): the entry is refused;
 *  - the entry is older than XCNI_NPC_LIFE_NS: its packet takes the full
 *    path, which refreshes the conntrack and service entries (their
 *    lifetime, the flow's state; the hits since are added to their
 *    counters first), the FIB lookup (the next hop's MACs, the route's MTU)
 *    and the entry: conntrack is written once a second a flow, not per
 *    packet, and an entry gone or a neighbour moved is seen within a second;
 *  - a frame longer than the longest the full path sent for the flow (the
 *    MTU was checked for that one), another device, another TOS or inner
 *    MACs than the entry's headers were written for.
 * The cache runs before the prefilter (xdp_underlay): a hit skips it, as
 * its generation covers it (xcnictl prefilter add or del bumps xcni_npgen
 * after the lists' write: a source denied mid-flow is denied on its next
 * packet). Everything the cache does not answer meets the prefilter
 * (NPC_MISS, NPC_ON, NPC_LOCAL); the generation is read before it, so an
 * entry filled after a source was listed is refused. Geneve (UDP to 6081)
 * is never looked up, and a packet no frontend's pays one lookup
 * (np_frontend) before the prefilter.
 * A flow the full path handed on for its backend here gets a tc entry
 * (tc set, no headers): its later packets go on to tc without the plan,
 * under the same generation, lifetime and TCP flag rules, the frontend and
 * the generation in the metadata area (npc_meta, struct xcni_np_meta), so
 * that tc takes the flow's service entry and not its own choice.
 */
#ifndef XCNI_NODEPORT_CACHE_H
#define XCNI_NODEPORT_CACHE_H

#include "nodeport_xdp.h"

#define XCNI_NPC_LIFE_NS 1000000000ULL

/* npc_hit's answers that are not a verdict, each after the prefilter: the
 * full path (a miss), XDP_PASS (not the cache's), XDP_PASS counted as tc's
 * (a frontend whose backends are all here). */
#define NPC_MISS -1
#define NPC_ON -2
#define NPC_LOCAL -3

_Static_assert(ETH_HLEN + XCNI_ENCAP6_DSR_LEN <= XCNI_NPC_HDR, "xcni_npc holds the headers");

/* The outer headers' length behind the frame's Ethernet header (ul6: over
 * the IPv6 underlay), the constants npx_apply bounds by. */
static __always_inline __u32 npc_encap(int ul6)
{
	if (ul6)
		return lb_dsr ? XCNI_ENCAP6_DSR_LEN : XCNI_ENCAP6_LEN;
	return lb_dsr ? XCNI_ENCAP_DSR_LEN : XCNI_ENCAP_LEN;
}

/* The frame's first 14 + npc_encap(ul6) bytes from src to dst (either the
 * packet, bounds checked), a constant length in each branch. */
static __always_inline void npc_copy(void *dst, const void *src, int ul6)
{
	if (ul6 && lb_dsr)
		__builtin_memcpy(dst, src, ETH_HLEN + XCNI_ENCAP6_DSR_LEN);
	else if (ul6)
		__builtin_memcpy(dst, src, ETH_HLEN + XCNI_ENCAP6_LEN);
	else if (lb_dsr)
		__builtin_memcpy(dst, src, ETH_HLEN + XCNI_ENCAP_DSR_LEN);
	else
		__builtin_memcpy(dst, src, ETH_HLEN + XCNI_ENCAP_LEN);
}

/* The hits of entry e (key k, fam) into the flow's conntrack entry and its
 * service entry, before its refresh takes the full path. */
static __always_inline void npc_flush(int fam, const union xcni_tuple *k, struct xcni_npc *e)
{
	struct xcni_ct_entry *ct;

	if (!e->pkts)
		return;
	ct = ct_find(fam, &e->xlat);
	if (ct) {
		ct->pkts_orig += e->pkts;
		ct->bytes_orig += e->bytes;
	}
	ct = ct_find(fam, k);
	if (ct && (ct->flags & XCNI_CT_F_SVC)) {
		ct->pkts_orig += e->pkts;
		ct->bytes_orig += e->bytes;
	}
	e->pkts = 0;
	e->bytes = 0;
}

/* The frame's MACs (eth, bounds checked) are not those of the inner
 * Ethernet header the entry's headers end with (the full path's copy). */
static __always_inline int npc_macs_differ(const struct xcni_npc *e, const struct ethhdr *eth)
{
	const __u8 *m = e->hdr + npc_encap(e->ul6);
	__u32 a[3], b[3];

	__builtin_memcpy(a, m, sizeof(a));
	__builtin_memcpy(b, eth, sizeof(b));
	return (a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]);
}

/*
 * The frontend svc of a flow whose tc entry is current (gen), left in the
 * metadata area for tc (np_meta_read, np_plan_handed): tc then takes the
 * flow's service entry, not the frontend's lookup and the outside rules.
 * XDP_PASS either way (no room: the full path at tc).
 */
static __always_inline int npc_meta(struct xdp_md *ctx, const struct xcni_svc *svc, __u64 gen)
{
	struct xcni_np_meta *m;
	__u16 rev_nat = svc->rev_nat;
	__u8 flags = svc->flags;

	if (!np_meta_key || bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return XDP_PASS;
	m = (void *)(long)ctx->data_meta;
	if ((void *)(m + 1) > (void *)(long)ctx->data)
		return XDP_PASS;
	m->key = np_meta_key;
	m->rev_nat = rev_nat;
	m->svc_flags = flags;
	m->pad = 0;
	m->gen = gen;
	return XDP_PASS;
}

/*
 * A packet from outside (fam a constant) answered from the cache, before
 * the prefilter: XDP_TX, XDP_ABORTED, XDP_PASS (a flow the entry says is
 * tc's); else NPC_ON (not a frontend's), NPC_LOCAL (a frontend whose
 * backends are all here) or NPC_MISS, the full path's (the flow's tuple
 * and the generation noted in xcni_npc_tmp for npc_fill). Before any
 * lookup Geneve is handed on (its UDP port), and a source in the Service
 * range (the prefilter's rodata rule, for entries older than a reload);
 * then the frontend (np_frontend, the full path's first lookup): a packet
 * no frontend's pays the parse, that one lookup and the prefilter.
 */
static __always_inline int npc_hit(struct xdp_md *ctx, int fam)
{
	struct ethhdr *eth = (void *)(long)ctx->data;
	const struct xcni_svc *svc;
	union xcni_tuple k = {};
	struct pkt p4 = {};
	struct pkt6 p6 = {};
	struct npc_tmp *t;
	struct xcni_npc *e;
	__u32 zero = 0, len, encap, hlen, tot, inner;
	__u8 flags, proto, tos, flagged;
	__u64 now, gen;
	void *data;

	/* What the full path does not take it hands on as well. */
	if (fam == XCNI_AF_INET ? npx_parse4(ctx, &p4) : npx_parse6(ctx, &p6))
		return NPC_ON;
	if (fam == XCNI_AF_INET) {
		k.v4 = p4.tuple;
		flags = p4.tcp_flags;
		proto = p4.tuple.proto;
		len = p4.len;
		tos = p4.ip->tos;
	} else {
		struct xcni_ip6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > (void *)(long)ctx->data_end)
			return NPC_ON;
		k.v6 = p6.tuple;
		flags = p6.tcp_flags;
		proto = p6.tuple.proto;
		len = p6.len;
		tos = (__u8)(ip6->vtc << 4 | ip6->flow[0] >> 4);
	}
	if ((proto == IPPROTO_UDP && (fam == XCNI_AF_INET ? k.v4.dport : k.v6.dport) ==
					     bpf_htons(XCNI_GENEVE_PORT)) ||
	    in_svc_cidr(fam, fam == XCNI_AF_INET ? (const void *)&k.v4.saddr : k.v6.saddr))
		return NPC_ON;
	svc = fam == XCNI_AF_INET ? np_frontend(fam, &k.v4.daddr, k.v4.dport, proto) :
				    np_frontend(fam, k.v6.daddr, k.v6.dport, proto);
	if (!svc)
		return NPC_ON;
	if (svc->flags & XCNI_SVC_F_LOCAL_BE)
		return NPC_LOCAL;
	/* A TCP flag that moves conntrack's state: never answered, never noted. */
	flagged = proto == IPPROTO_TCP && flags & (XCNI_TCP_SYN | XCNI_TCP_FIN | XCNI_TCP_RST);
	e = flagged ? NULL : bpf_map_lookup_elem(&xcni_npc, &k);
	gen = npc_gen();
	if (!e || e->gen != gen || e->ifindex != ctx->ingress_ifindex ||
	    (now = bpf_ktime_get_ns()) - e->stamp > XCNI_NPC_LIFE_NS ||
	    (!e->tc && (len > e->len_ok || e->tos != tos || npc_macs_differ(e, eth)))) {
		/* The scratch only here: a hit takes no fill after it. */
		t = bpf_map_lookup_elem(&xcni_npc_tmp, &zero);
		if (e)
			npc_flush(fam, &k, e);
		if (t) {
			t->key = k;
			t->gen = gen;
			t->fam = fam;
			t->armed = !flagged;
		}
		return NPC_MISS;
	}
	/* A flow to a backend here: tc's, as the full path decided, the
	 * frontend handed to tc's choice (struct xcni_np_meta). */
	if (e->tc)
		return npx_count(XCNI_NPA_TC, len, npc_meta(ctx, svc, gen));
	/* The inner rewrite of the full path, to the entry's tuple (what it
	 * takes for the outer headers the entry has; the inner packet is the
	 * frame's whole after its Ethernet header: npx_parse4, npx_parse6). */
	if (fam == XCNI_AF_INET) {
		p4.tuple = e->xlat.v4;
		if (npx_rewrite4(ctx, &p4, NULL))
			return XDP_ABORTED;
	} else {
		p6.tuple = e->xlat.v6;
		if (npx_rewrite6(ctx, &p6, NULL))
			return XDP_ABORTED;
	}
	inner = len - ETH_HLEN;
	encap = npc_encap(e->ul6);
	if (bpf_xdp_adjust_head(ctx, -(int)encap))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	/* The headers, their lengths this packet's (the UDP checksum is 0). */
	if (e->ul6) {
		struct xcni_ip6hdr *o6 = data + ETH_HLEN;
		struct udphdr *udp = (void *)(o6 + 1);

		hlen = ETH_HLEN + (lb_dsr ? XCNI_ENCAP6_DSR_LEN : XCNI_ENCAP6_LEN);
		if (data + hlen > (void *)(long)ctx->data_end)
			return XDP_ABORTED;
		npc_copy(data, e->hdr, 1);
		o6->payload_len = bpf_htons(inner + encap - sizeof(*o6));
		udp->len = o6->payload_len;
		tunnel_count6(o6->daddr, len + encap, 0);
	} else {
		struct iphdr *o4 = data + ETH_HLEN;
		struct udphdr *udp = (void *)(o4 + 1);

		hlen = ETH_HLEN + (lb_dsr ? XCNI_ENCAP_DSR_LEN : XCNI_ENCAP_LEN);
		if (data + hlen > (void *)(long)ctx->data_end)
			return XDP_ABORTED;
		npc_copy(data, e->hdr, 0);
		tot = bpf_htons(inner + encap);
		npx_replace2(&o4->check, o4->tot_len, (__u16)tot);
		o4->tot_len = (__u16)tot;
		udp->len = bpf_htons(inner + encap - sizeof(*o4));
		tunnel_count4(o4->daddr, len + encap, 0);
	}
	e->pkts++;
	e->bytes += len;
	count(XCNI_FWD_ENCAP, XCNI_DIR_FROM_OVERLAY, len);
	npx_count(XCNI_NPA_CACHE, len, 0);
	return npx_count(fam == XCNI_AF_INET ? XCNI_NPA_XDP4 : XCNI_NPA_XDP6, len, XDP_TX);
}

/*
 * After the full path sent a packet the miss before it noted (XDP_TX): its
 * frame, as written, into the flow's entry, under the generation the miss
 * read (one changed since refuses it). local: the full path handed it on
 * for its backend here (NPX_PASS_LOCAL): a tc entry, nothing of the frame
 * kept; the flow's next packets pay the frontend's and the entry's lookups,
 * not the plan.
 */
static __always_inline void npc_fill(struct xdp_md *ctx, int local)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct npc_tmp *t;
	struct xcni_npc *v;
	__u32 zero = 0, hlen;
	void *in;

	t = bpf_map_lookup_elem(&xcni_npc_tmp, &zero);
	if (!t || !t->armed || data + ETH_HLEN > end)
		return;
	t->armed = 0;
	v = &t->v;
	__builtin_memset(v, 0, sizeof(*v) - sizeof(v->hdr));
	v->ul6 = ((struct ethhdr *)data)->h_proto == bpf_htons(ETH_P_IPV6);
	if (local) {
		v->tc = 1;
		goto out;
	}
	if (v->ul6) {
		hlen = ETH_HLEN + (lb_dsr ? XCNI_ENCAP6_DSR_LEN : XCNI_ENCAP6_LEN);
		if (data + hlen > end)
			return;
		npc_copy(v->hdr, data, 1);
	} else {
		hlen = ETH_HLEN + (lb_dsr ? XCNI_ENCAP_DSR_LEN : XCNI_ENCAP_LEN);
		if (data + hlen > end)
			return;
		npc_copy(v->hdr, data, 0);
	}
	in = data + hlen;
	if (t->fam == XCNI_AF_INET) {
		struct iphdr *ip = in;
		__be16 *ports = (void *)(ip + 1);

		if ((void *)(ports + 2) > end)
			return;
		v->xlat.v4.saddr = ip->saddr;
		v->xlat.v4.daddr = ip->daddr;
		v->xlat.v4.sport = ports[0];
		v->xlat.v4.dport = ports[1];
		v->xlat.v4.proto = ip->protocol;
		v->tos = ip->tos;
		v->inner_len = bpf_ntohs(ip->tot_len);
	} else {
		struct xcni_ip6hdr *ip6 = in;
		__be16 *ports = (void *)(ip6 + 1);

		if ((void *)(ports + 2) > end)
			return;
		__builtin_memcpy(v->xlat.v6.saddr, ip6->saddr, 16);
		__builtin_memcpy(v->xlat.v6.daddr, ip6->daddr, 16);
		v->xlat.v6.sport = ports[0];
		v->xlat.v6.dport = ports[1];
		v->xlat.v6.proto = ip6->nexthdr;
		v->tos = (__u8)(ip6->vtc << 4 | ip6->flow[0] >> 4);
		v->inner_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	}
	v->len_ok = (__u16)(end - data) - (hlen - ETH_HLEN);
out:
	v->gen = t->gen;
	v->stamp = bpf_ktime_get_ns();
	v->ifindex = ctx->ingress_ifindex;
	bpf_map_update_elem(&xcni_npc, &t->key, v, BPF_ANY);
}

/* Each in a frame of its own, beside xdp_nodeport's (xdp_underlay calls them
 * in turn): the hit of either family, and the fill. */
__attribute__((noinline)) int xdp_npc4(struct xdp_md *ctx)
{
	return ctx ? npc_hit(ctx, XCNI_AF_INET) : NPC_ON;
}

__attribute__((noinline)) int xdp_npc6(struct xdp_md *ctx)
{
	return ctx ? npc_hit(ctx, XCNI_AF_INET6) : NPC_ON;
}

__attribute__((noinline)) int xdp_npc_fill(struct xdp_md *ctx, int local)
{
	if (ctx)
		npc_fill(ctx, local);
	return 0;
}

#endif
