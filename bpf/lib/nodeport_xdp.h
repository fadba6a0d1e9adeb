/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The NodePort fast path at XDP (xcnid --nodeport-acceleration; issue 42):
 * xdp_underlay, after the prefilter, takes the packets from outside that
 * from_overlay's from_outside (from_outside6) would translate to a backend
 * on another node with SNAT, and does it at the driver, both families over
 * the IPv4 underlay (xdp_nodeport4, xdp_nodeport6; a backend's node behind
 * the IPv6 underlay is tc's): the same Service lookup and backend
 * choice (lb.h's lb_choose: Maglev or random, affinity, the ready and
 * terminating rules, externalTrafficPolicy through the EXT frontend), the
 * same SNAT port (np_snat_port), the same conntrack entries (ct_track,
 * lb_open, np_snat_open: the service entry keyed by the client's tuple, the
 * flow's own with the client kept), the same outer headers
 * (geneve_outer4_fill); then XDP_TX back out of the underlay. Only the
 * header writes are this hook's own (np_xdp_nat4: direct stores with the
 * kernel's incremental checksum arithmetic, so the bytes are tc's). The
 * replies come back as Geneve and are tc's (nodeport_reply), as they are
 * without acceleration: they find the entries whichever hook made them.
 *
 * Anything else goes on to tc untouched (XDP_PASS), which then does
 * exactly what it does without acceleration, and nothing of the fast path's
 * is left behind for it: every test that can send a packet on to tc comes
 * before the first write (the service entry, conntrack, the packet). Handed
 * on:
 *  - what is not plain IPv4 or IPv6 TCP or UDP in one Ethernet frame of
 *    exactly its length: VLAN tags, IP options, IPv6 extension headers,
 *    fragments (first or later: frag.h's bookkeeping is tc's), ICMP and
 *    ICMPv6 (errors about these flows are nodeport_icmp.h's), SCTP, Geneve
 *    (UDP to 6081: parse_outer's, from_underlay6's), padded or truncated
 *    frames, TTL or hop limit 1;
 *  - a source tc refuses (from_plain: a frontend at its port, this node;
 *    lb_choose: a pod, a node, a martian, a ClusterIP from outside): tc
 *    drops it with its event and counters;
 *  - no backend (tc answers with a RST or port unreachable), a backend on
 *    this node (below), no tunnel to the backend's node, --node-port-mode
 *    dsr (the Geneve option is tc's: nodeport_dsr), an encapsulated frame
 *    over the underlay's MTU (tc answers fragmentation-needed: np_too_big),
 *    no SNAT port (tc drops it), a tuple conntrack refuses (CT_INVALID), an
 *    underlay route that is not the ingress device or whose neighbour is
 *    not resolved (tc's bpf_redirect_neigh resolves it).
 *
 * A frontend whose every backend is on this node (XCNI_SVC_F_LOCAL_BE, set
 * by xcnid) goes on to tc right after its lookup: nothing is chosen or
 * written, so such a packet pays the fast path's parse and one lookup, not
 * the choice tc makes again (bench/README.md, "local backends"). A pick on
 * this node among backends on several nodes goes on to tc after the choice.
 *
 * A backend on this node goes on to tc (measured, bench/README.md "XDP
 * NodePort"): XDP_REDIRECT into the pod's host veth bypasses tc on that
 * veth and the redirect_peer the tc path uses, so the pod's ingress policy
 * (policy.h's track_and_judge, the policy revision, the verdict events)
 * would have to be judged here too, a second copy of the policy path at a
 * hook whose stack it does not fit beside the Service lookup; and a veth
 * redirect from XDP builds an skb on the pod side anyway, which is most of
 * what tc costs. tc delivers it with redirect_peer.
 *
 * A new flow's pick that the fast path hands on (a local backend, ...) is
 * not written: tc picks again. Maglev (the flow's hash) and affinity (the
 * entry the pick refreshed) give tc the same backend; a random pick would
 * not, so for a random, non-affinity Service with more than one backend to
 * choose from the pick's service entry is written (lb_open, the packet not
 * counted) and tc follows it (lb_flow_keeps): the backends' shares stay the
 * random pick's.
 *
 * Checksums are rewritten as full ones (the bytes are all XDP sees): a
 * packet a local process sent through a veth carries a partial checksum
 * (CHECKSUM_PARTIAL, finished by an offload later), which native XDP_TX
 * sends on as if full (the receiver drops it); docs/xcnid.8 says so, and
 * the lab's native run has the outside send full checksums, as a client on
 * a wire does.
 *
 * Which hook handled a frontend's packet: xcni_npaccel (XCNI_NPA_XDP4,
 * XCNI_NPA_XDP6, XCNI_NPA_TC), `xcnictl status`; which translated a flow:
 * the flow's entry has XCNI_CT_F_XDP once this hook opened it or took over
 * a flow tc opened (the flow records' service_path); the packets sent here are counted under
 * fwd-encap (from-overlay) as tc counts them, and in the backend node's
 * tunnel counters; no event is sent for them (tc's trace events are sampled).
 */
#ifndef XCNI_NODEPORT_XDP_H
#define XCNI_NODEPORT_XDP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "nodeport.h"

#ifndef AF_INET
#define AF_INET 2
#endif

/* The kernel's checksum arithmetic (csum_add, csum_replace4, csum_replace2),
 * so the fast path's checksums are bit for bit the tc helpers'. */
static __always_inline __u32 npx_csum_add(__u32 a, __u32 b)
{
	__u32 r = a + b;

	return r + (r < b);
}

static __always_inline __u16 npx_csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* csum_replace4: bpf_l3_csum_replace(4), and bpf_l4_csum_replace(4 or 2,
 * the 2-byte values zero-extended) on a packet without CHECKSUM_PARTIAL. */
static __always_inline void npx_replace4(__u16 *sum, __u32 from, __u32 to)
{
	__u32 t = npx_csum_add(~(__u32)*sum, ~from);

	*sum = npx_csum_fold(npx_csum_add(t, to));
}

static __always_inline __u16 npx_csum16_add(__u16 c, __u16 a)
{
	__u16 r = c + a;

	return r + (r < a);
}

/* csum_replace2: bpf_l3_csum_replace(2). */
static __always_inline void npx_replace2(__u16 *sum, __u16 from, __u16 to)
{
	*sum = ~npx_csum16_add(npx_csum16_add(~*sum, ~from), to);
}

/* An L4 checksum update as bpf_l4_csum_replace makes it (mangled: UDP's 0,
 * no checksum, stays 0, and a result of 0 is written 0xffff). */
static __always_inline void npx_l4_replace(__u16 *sum, __u32 from, __u32 to, int mangled)
{
	if (mangled && !*sum)
		return;
	npx_replace4(sum, from, to);
	if (mangled && !*sum)
		*sum = 0xffff;
}

/*
 * The translation of a packet to a remote backend, written at XDP as
 * lb_translate's and from_outside's lb_nat calls and ttl_decrement write it
 * at tc, in their order: destination (address, then port), source, TTL.
 */
static __always_inline void np_xdp_nat4(struct iphdr *ip, __u16 *l4sum, __be16 *ports,
					int udp, __u32 daddr, __u16 dport, __u32 saddr,
					__u16 sport)
{
	union {
		__u16 word;
		__u8 b[2];
	} old, new;

	if (ip->daddr != daddr) {
		npx_l4_replace(l4sum, ip->daddr, daddr, udp);
		npx_replace4(&ip->check, ip->daddr, daddr);
		ip->daddr = daddr;
	}
	if (ports[1] != dport) {
		npx_l4_replace(l4sum, ports[1], dport, udp);
		ports[1] = dport;
	}
	if (ip->saddr != saddr) {
		npx_l4_replace(l4sum, ip->saddr, saddr, udp);
		npx_replace4(&ip->check, ip->saddr, saddr);
		ip->saddr = saddr;
	}
	if (ports[0] != sport) {
		npx_l4_replace(l4sum, ports[0], sport, udp);
		ports[0] = sport;
	}
	old.b[0] = ip->ttl;
	old.b[1] = ip->protocol;
	new.word = old.word;
	new.b[0]--;
	ip->ttl = new.b[0];
	npx_replace2(&ip->check, old.word, new.word);
}

/* A frontend's packet counted (XCNI_NPA_*), len bytes; XDP_PASS when handed on. */
static __always_inline int npx_count(__u32 idx, __u32 len, int verdict)
{
	struct xcni_metric *m = bpf_map_lookup_elem(&xcni_npaccel, &idx);

	if (m) {
		m->packets++;
		m->bytes += len;
	}
	return verdict;
}

/*
 * IPv4 from outside at XDP: translated and sent (XDP_TX), or XDP_PASS with
 * nothing written. Global: a frame of its own beside the prefilter's.
 */
__attribute__((noinline)) int xdp_nodeport4(struct xdp_md *ctx)
{
	struct bpf_fib_lookup fib = {};
	const struct xcni_backend *be = NULL;
	const struct xcni_svc *svc = NULL;
	struct xcni_ipcache_val *sipc;
	struct xcni_svc_key k = { .family = XCNI_AF_INET };
	struct lb_state lb = {};
	struct encap_in in;
	struct outer_hdrs h;
	struct pkt p = {};
	struct cursor c;
	struct iphdr *ip;
	struct ethhdr *eth;
	__be16 *ports;
	__u16 *l4sum, nport = 0;
	__u32 len, tunnel, baddr, mtu = 0;
	int ct;
	__u8 ctf;

	if (!ctx)
		return XDP_PASS;
	c.pos = (void *)(long)ctx->data;
	c.end = (void *)(long)ctx->data_end;
	len = (__u32)((char *)c.end - (char *)c.pos);
	p.len = len;
	p.eth = cursor_take(&c, sizeof(struct ethhdr));
	if (!p.eth || p.eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = c.pos;
	if ((void *)(ip + 1) > c.end || ip->ihl != 5 || ip->frag_off & bpf_htons(0x3fff) ||
	    (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP) ||
	    bpf_ntohs(ip->tot_len) != len - ETH_HLEN || ip->ttl <= 1)
		return XDP_PASS;
	if (parse_ipv4(&c, &p) || !p.ip)
		return XDP_PASS;
	/* Geneve is parse_outer's, whatever its destination. */
	if (p.tuple.proto == IPPROTO_UDP && p.tuple.dport == bpf_htons(XCNI_GENEVE_PORT))
		return XDP_PASS;
	/* No frontend: the cheap miss, before anything else is looked up. */
	__builtin_memcpy(k.addr, &p.tuple.daddr, 4);
	k.port = p.tuple.dport;
	k.proto = p.tuple.proto;
	k.scope = XCNI_SCOPE_EXT;
	svc = bpf_map_lookup_elem(&xcni_svc, &k);
	if (!svc)
		return XDP_PASS;
	/* Every backend on this node: tc's, and nothing to choose here. */
	if (svc->flags & XCNI_SVC_F_LOCAL_BE)
		return npx_count(XCNI_NPA_TC, len, XDP_PASS);
	/* from_plain's rules: a frontend as source (a forged reply), this node. */
	sipc = ipcache_lookup(p.tuple.saddr);
	__builtin_memcpy(k.addr, &p.tuple.saddr, 4);
	k.port = p.tuple.sport;
	if (lb_src_frontend(&k, sipc) || (sipc && sipc->identity == XCNI_ID_HOST))
		return npx_count(XCNI_NPA_TC, len, XDP_PASS);
	/* from_outside's: the outside rules, the backend (the frontend is svc,
	 * the EXT entry lb_frontend_of would find again). */
	if (lb_choose(&p, 0, &lb, OUTSIDE, 1, &svc, &be) != 1 || !svc || !be)
		return npx_count(XCNI_NPA_TC, len, XDP_PASS);
	__builtin_memcpy(&baddr, be->addr, 4);
	tunnel = np_tunnel(baddr);
	if (bpf_map_lookup_elem(&xcni_endpoints, &baddr) || !tunnel || lb_dsr ||
	    bpf_check_mtu(ctx, 0, &mtu, XCNI_ENCAP_LEN, 0) != BPF_MTU_CHK_RET_SUCCESS)
		goto to_tc;
	/* The underlay's next hop towards the backend's node, out of this device. */
	fib.family = AF_INET;
	fib.l4_protocol = IPPROTO_UDP;
	fib.tot_len = len - ETH_HLEN + XCNI_ENCAP_LEN;
	fib.ipv4_src = node_ip;
	fib.ipv4_dst = tunnel;
	fib.ifindex = ctx->ingress_ifindex;
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT) !=
		    BPF_FIB_LKUP_RET_SUCCESS ||
	    fib.ifindex != ctx->ingress_ifindex)
		goto to_tc;
	/* The translated tuple, as lb_translate leaves it, then the SNAT's. */
	p.tuple.daddr = baddr;
	p.tuple.dport = be->port;
	p.rev_nat = svc->rev_nat;
	p.backend_id = lb.backend_id;
	if (np_snat_port(&lb, &p, &nport))
		goto to_tc;
	p.tuple.saddr = node_ip;
	p.tuple.sport = nport;
	ct = ct_track(NULL, pkt_flow(&p), XCNI_AF_INET, len, &ctf);
	if (ct == CT_INVALID)
		goto to_tc;
	/* Ours from here on: the entries tc would write, in its order. */
	lb_open(&lb, svc->rev_nat, len, 1);
	if (lb.svc_ct)
		lb.svc_ct->nat_port = nport;
	np_snat_open(&p, &lb, ct, len, XCNI_CT_F_XDP);
	/* A flow tc opened (its first packet waited for the neighbour, say)
	 * is this hook's from here: marked once (ctf: its entry's flags). */
	if (ct != CT_NEW && ct != CT_STALE && !(ctf & XCNI_CT_F_XDP)) {
		struct xcni_ct_entry *fe = bpf_map_lookup_elem(&xcni_ct, &p.tuple);

		if (fe)
			fe->flags |= XCNI_CT_F_XDP;
	}
	lb_follow(&lb, &p);
	/* The packet: translated, then the outer headers (encap_in from the
	 * translated packet, before the TTL, as nodeport_encap takes it). */
	ip = p.ip;
	if ((void *)(ip + 1) > c.end)
		return XDP_ABORTED;
	ports = (__be16 *)(ip + 1);
	if ((void *)(ports + 2) > c.end)
		return XDP_ABORTED;
	if (p.tuple.proto == IPPROTO_TCP) {
		struct tcphdr *t = (struct tcphdr *)ports;

		if ((void *)(t + 1) > c.end)
			return XDP_ABORTED;
		l4sum = (__u16 *)&t->check;
	} else {
		struct udphdr *u = (struct udphdr *)ports;

		if ((void *)(u + 1) > c.end)
			return XDP_ABORTED;
		l4sum = (__u16 *)&u->check;
	}
	np_xdp_nat4(ip, l4sum, ports, p.tuple.proto == IPPROTO_UDP, baddr, be->port, node_ip,
		    nport);
	/* encap_in_take reads the TTL-independent fields: the same as tc's. */
	encap_in_take(&p, &in);
	geneve_outer4_fill(&h, &in, node_ip, tunnel, vni);
	if (bpf_xdp_adjust_head(ctx, -(int)XCNI_ENCAP_LEN))
		return XDP_ABORTED;
	eth = (void *)(long)ctx->data;
	if ((void *)((char *)eth + ETH_HLEN + XCNI_ENCAP_LEN) > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	__builtin_memcpy(eth + 1, &h, XCNI_ENCAP_LEN);
	count(XCNI_FWD_ENCAP, XCNI_DIR_FROM_OVERLAY, len);
	tunnel_count(tunnel, len + XCNI_ENCAP_LEN, 0);
	return npx_count(XCNI_NPA_XDP4, len, XDP_TX);
to_tc:
	/* A random pick among several that tc would not make again: written
	 * for it to follow. */
	if (lb.translated && !lb.svc_ct &&
	    !(svc->flags & (XCNI_SVC_F_MAGLEV | XCNI_SVC_F_AFFINITY)) &&
	    (svc->count > 1 || (!svc->count && svc->count_term > 1)))
		lb_open(&lb, svc->rev_nat, len, 0);
	return npx_count(XCNI_NPA_TC, len, XDP_PASS);
}

/* An L4 checksum update by a difference (bpf_l4_csum_replace, size 0: IPv6's addresses). */
static __always_inline void npx_l4_diff(__u16 *sum, __u32 diff, int mangled)
{
	if (mangled && !*sum)
		return;
	*sum = npx_csum_fold(npx_csum_add(diff, ~(__u32)*sum));
	if (mangled && !*sum)
		*sum = 0xffff;
}

/*
 * One IPv6 address of the packet at a (16 bytes) to new, with the L4
 * checksum, as lb6_nat writes it. 0, or -1 when the difference fails.
 */
static __always_inline int np_xdp_addr6(__u8 *a, const __u8 *new, __u16 *l4sum, int udp)
{
	__s64 diff;

	if (in6_eq(a, new))
		return 0;
	diff = bpf_csum_diff((__be32 *)a, 16, (__be32 *)new, 16, 0);
	if (diff < 0)
		return -1;
	npx_l4_diff(l4sum, (__u32)diff, udp);
	__builtin_memcpy(a, new, 16);
	return 0;
}

_Static_assert(sizeof(struct outer_hdrs) <= sizeof(((struct np6_tmp *)0)->outer),
	       "np6_tmp holds the outer headers");

/*
 * IPv6 from outside at XDP, over the IPv4 underlay: xdp_nodeport4's rules for
 * from_outside6's path (lb6_choose, np6_snat_choose, the flow's entry and
 * xcni_snat6's client, Geneve with IPv6 inside). A backend's node behind the
 * IPv6 underlay, extension headers, ICMPv6: tc's. Global, as xdp_nodeport4.
 */
__attribute__((noinline)) int xdp_nodeport6(struct xdp_md *ctx)
{
	const struct xcni_backend *be = NULL;
	const struct xcni_svc *svc = NULL;
	struct xcni_ipcache_val *sipc, *dipc;
	struct xcni_svc_key k = { .family = XCNI_AF_INET6 };
	struct bpf_fib_lookup *fib;
	struct xcni_ct_entry *e;
	struct outer_hdrs *h;
	struct lb6_state *st;
	struct lb6_tmp *tmp;
	struct np6_tmp *t;
	struct encap_in *in;
	struct pkt6 p = {};
	struct xcni_ip6hdr *ip6;
	struct ethhdr *eth;
	const __u8 *self = NULL;
	__be16 *ports;
	__u16 *l4sum, nport = 0, dport;
	__u32 len, tunnel, mtu = 0, zero = 0, l4len;
	void *data, *end;
	int ct, udp;
	__u8 ctf, kept = 0;

	if (!ctx)
		return XDP_PASS;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	len = (__u32)((char *)end - (char *)data);
	eth = data;
	ip6 = (void *)(eth + 1);
	ports = (void *)(ip6 + 1);
	if ((void *)(ports + 2) > end || eth->h_proto != bpf_htons(ETH_P_IPV6) ||
	    (ip6->vtc >> 4) != 6 || ip6->hop_limit <= 1 ||
	    (ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_UDP) ||
	    bpf_ntohs(ip6->payload_len) != len - ETH_HLEN - sizeof(*ip6))
		return XDP_PASS;
	udp = ip6->nexthdr == IPPROTO_UDP;
	l4len = udp ? sizeof(struct udphdr) : sizeof(struct tcphdr);
	if ((void *)((char *)ports + l4len) > end)
		return XDP_PASS;
	/* Geneve on the IPv6 underlay is from_underlay6's. */
	if (udp && ports[1] == bpf_htons(XCNI_GENEVE_PORT))
		return XDP_PASS;
	/* The cheap miss: no frontend. */
	__builtin_memcpy(k.addr, ip6->daddr, 16);
	k.port = ports[1];
	k.proto = ip6->nexthdr;
	k.scope = XCNI_SCOPE_EXT;
	svc = bpf_map_lookup_elem(&xcni_svc, &k);
	if (!svc)
		return XDP_PASS;
	if (svc->flags & XCNI_SVC_F_LOCAL_BE)
		return npx_count(XCNI_NPA_TC, len, XDP_PASS);
	/* The flow as parse_ipv6 leaves it for a packet without extension headers. */
	p.len = len;
	p.family = XCNI_AF_INET6;
	p.hop_limit = ip6->hop_limit;
	p.l4_off = ETH_HLEN + sizeof(*ip6);
	__builtin_memcpy(p.tuple.saddr, ip6->saddr, 16);
	__builtin_memcpy(p.tuple.daddr, ip6->daddr, 16);
	p.tuple.proto = ip6->nexthdr;
	p.tuple.sport = ports[0];
	p.tuple.dport = ports[1];
	if (!udp)
		p.tcp_flags = ((__u8 *)ports)[13];
	/* from_plain6's rules: a frontend as source, this node. */
	sipc = ipcache6_exact(p.tuple.saddr);
	__builtin_memcpy(k.addr, p.tuple.saddr, 16);
	k.port = p.tuple.sport;
	if (lb_src_frontend(&k, sipc) || (sipc && sipc->identity == XCNI_ID_HOST))
		return npx_count(XCNI_NPA_TC, len, XDP_PASS);
	st = lb6_state_get();
	tmp = bpf_map_lookup_elem(&xcni_lb6_tmp, &zero);
	t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero);
	if (!st || !tmp || !t)
		return npx_count(XCNI_NPA_TC, len, XDP_PASS);
	/* Off the frame: xdp_underlay -> this -> ct_commit_call stays under 512 bytes. */
	fib = &t->fib;
	h = (struct outer_hdrs *)t->outer;
	in = &t->in;
	__builtin_memset(fib, 0, sizeof(*fib));
	if (lb6_choose(&p, 0, st, OUTSIDE, 1, tmp, &svc, &be, &kept) != 1 || !svc || !be)
		return npx_count(XCNI_NPA_TC, len, XDP_PASS);
	dipc = ipcache6_lookup(be->addr);
	tunnel = dipc ? tunnel_of(dipc, node_ip) : 0;
	if (bpf_map_lookup_elem(&xcni_endpoints6, be->addr) || !tunnel || tunnel == XCNI_TUN6 ||
	    lb_dsr || bpf_check_mtu(ctx, 0, &mtu, XCNI_ENCAP_LEN, 0) != BPF_MTU_CHK_RET_SUCCESS)
		goto to_tc;
	fib->family = AF_INET;
	fib->l4_protocol = IPPROTO_UDP;
	fib->tot_len = len - ETH_HLEN + XCNI_ENCAP_LEN;
	fib->ipv4_src = node_ip;
	fib->ipv4_dst = tunnel;
	fib->ifindex = ctx->ingress_ifindex;
	if (bpf_fib_lookup(ctx, fib, sizeof(*fib), BPF_FIB_LOOKUP_OUTPUT) !=
		    BPF_FIB_LKUP_RET_SUCCESS ||
	    fib->ifindex != ctx->ingress_ifindex)
		goto to_tc;
	/* lb6_translate's tuple, then nodeport6_snat's. */
	__builtin_memcpy(p.tuple.daddr, be->addr, 16);
	p.tuple.dport = dport = be->port;
	p.rev_nat = svc->rev_nat;
	p.backend_id = st->backend_id;
	if (np6_snat_choose(&p, &st->orig, t, &self, &nport) || !self)
		goto to_tc;
	__builtin_memcpy(p.tuple.saddr, self, 16);
	p.tuple.sport = nport;
	ct = ct_track(NULL, pkt_flow(&p), XCNI_AF_INET6, len, &ctf);
	if (ct == CT_INVALID)
		goto to_tc;
	/* Ours from here on: tc's entries in its order. */
	lb6_open(st, len, 1, kept, tmp);
	e = bpf_map_lookup_elem(&xcni_ct6, &st->orig);
	if (e)
		e->nat_port = nport;
	if (ct == CT_NEW || ct == CT_STALE) {
		ct_commit(pkt_flow(&p), XCNI_AF_INET6, ct, len, 0,
			  XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT | XCNI_CT_F_XDP);
		if (nodeport6_commit(&p))
			return XDP_ABORTED;
	} else if (!(ctf & XCNI_CT_F_XDP)) {
		/* A flow tc opened: this hook's from here (xdp_nodeport4). */
		e = bpf_map_lookup_elem(&xcni_ct6, &p.tuple);
		if (e)
			e->flags |= XCNI_CT_F_XDP;
	}
	lb6_follow(st, &p);
	/* The packet, read again (the helpers above may have spilled it). */
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	ip6 = (void *)(eth + 1);
	ports = (void *)(ip6 + 1);
	if ((void *)((char *)ports + sizeof(struct tcphdr)) > end && !udp)
		return XDP_ABORTED;
	if ((void *)((char *)ports + sizeof(struct udphdr)) > end)
		return XDP_ABORTED;
	l4sum = udp ? (__u16 *)&((struct udphdr *)ports)->check :
		      (__u16 *)&((struct tcphdr *)ports)->check;
	if ((void *)(l4sum + 1) > end)
		return XDP_ABORTED;
	/* lb6_nat's order: the destination and its port, then the source and its. */
	if (np_xdp_addr6(ip6->daddr, be->addr, l4sum, udp))
		return XDP_ABORTED;
	if (ports[1] != dport) {
		npx_l4_replace(l4sum, ports[1], dport, udp);
		ports[1] = dport;
	}
	if (np_xdp_addr6(ip6->saddr, self, l4sum, udp))
		return XDP_ABORTED;
	if (ports[0] != nport) {
		npx_l4_replace(l4sum, ports[0], nport, udp);
		ports[0] = nport;
	}
	/* encap_in_take6's, before the hop limit (nodeport6_encap's order). */
	in->inner_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	in->tos = (__u8)(ip6->vtc << 4 | ip6->flow[0] >> 4);
	in->sport = flow_sport6(&p.tuple);
	in->label = flow_label_of(flow_hash_of(in6_fold(p.tuple.saddr), in6_fold(p.tuple.daddr),
					       p.tuple.sport, p.tuple.dport, p.tuple.proto));
	in->inner_proto = bpf_htons(ETH_P_IPV6);
	__builtin_memcpy(in->macs, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(in->macs + ETH_ALEN, eth->h_source, ETH_ALEN);
	ip6->hop_limit--;
	geneve_outer4_fill(h, in, node_ip, tunnel, vni);
	if (bpf_xdp_adjust_head(ctx, -(int)XCNI_ENCAP_LEN))
		return XDP_ABORTED;
	eth = (void *)(long)ctx->data;
	if ((void *)((char *)eth + ETH_HLEN + XCNI_ENCAP_LEN) > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	__builtin_memcpy(eth + 1, h, XCNI_ENCAP_LEN);
	count(XCNI_FWD_ENCAP, XCNI_DIR_FROM_OVERLAY, len);
	tunnel_count(tunnel, len + XCNI_ENCAP_LEN, 0);
	return npx_count(XCNI_NPA_XDP6, len, XDP_TX);
to_tc:
	/* A random pick among several, written for tc to follow (xdp_nodeport4). */
	if (!kept && !(svc->flags & (XCNI_SVC_F_MAGLEV | XCNI_SVC_F_AFFINITY)) &&
	    (svc->count > 1 || (!svc->count && svc->count_term > 1)))
		lb6_open(st, len, 0, 0, tmp);
	return npx_count(XCNI_NPA_TC, len, XDP_PASS);
}

#endif
