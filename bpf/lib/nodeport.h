/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NodePorts, externalIPs and load-balancer IPs, both families: traffic from
 * outside (the underlay, not Geneve) to an external frontend, taken by
 * from_overlay. A backend on this node: DNAT only, into the pod. On another
 * node: SNAT to this node and Geneve to it (its replies come back here and
 * are undone), or DSR (the frontend in a Geneve option; the backend's node
 * answers the client itself). ICMP errors about these flows, Packet Too Big
 * for what would not fit the underlay encapsulated. The sections below say
 * each part's rules.
 *
 * The ICMP half is nodeport_icmp.h's, both families: path MTU for what goes
 * encapsulated to another node's backend (np4_too_big, np6_too_big), and ICMP
 * errors about a translated flow carried across the translation (from
 * outside about a reply this node sent, to the backend: from_outside_icmp,
 * either family; from the backend's side about a flow this node SNATed,
 * to the client: nodeport_icmp). It uses helpers of this
 * file (nodeport6_self, np_into_pod, nodeport_encap, ...) and this file's
 * paths use it (from_outside, from_outside6, nodeport4_reply): it is included
 * between the two, before from_outside.
 */
/*
 * NodePort DSR through Geneve (xcnid --node-port-mode dsr). The node that
 * takes a request for an external frontend and sends it to a backend on
 * another node keeps the client's address (DNAT only) and tells the
 * backend's node the frontend in a Geneve option of our own class
 * (struct xcni_geneve_dsr). That node records the frontend with the flow's
 * conntrack entry (its own reverse-NAT index for it), so the backend's
 * replies get the frontend as source in its from_pod and leave by its own
 * underlay, straight to the client.
 */
/*
 * NodePort DSR for IPv6 frontends (xcnid --node-port-mode dsr), over the
 * IPv4 underlay or the IPv6 one (below): the IPv4 scheme above for from_overlay's
 * IPv6 paths.
 *
 *  - the node that takes the request (from_outside6) for a
 *    backend on another node keeps the client's address (DNAT only) and
 *    sends the packet through Geneve with the option above (struct
 *    xcni_geneve_dsr, class 0xfff0, type 0x81, critical), family
 *    XCNI_AF_INET6: the option was laid out with 16 bytes of address and a
 *    family from the start, so the IPv6 frontend needs no option type of its
 *    own, and a receiver that knows the option knows both;
 *  - the backend's node (overlay_decap_first) takes the option before it
 *    decapsulates, looks the frontend up in its own Service maps (every node
 *    holds every other node's NodePort frontends, EXT scope) and keeps the
 *    frontend's reverse-NAT index in the flow's xcni_ct6 entry (rev_nat,
 *    XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR), the sending node's underlay IPv4 in
 *    its nat_addr. xcni_revnat holds 16-byte addresses, so the entry needs no
 *    room for the frontend itself: no new map, no layout change;
 *  - the backend's replies meet that entry in from_pod6: lb_rev_nat puts the
 *    frontend back as their source (the TCP/UDP checksum through the
 *    pseudo-header; IPv6 has no header checksum), and a DSR flow's reply
 *    goes straight out of this node's underlay (redirect_neigh), to the client.
 *
 * A packet that does not fit the underlay with the option (or a GSO one)
 * goes without it; the backend's node knows its flow from the entry the
 * first packet opened (dsr_flow_known).
 *
 * Over the IPv6 underlay (a backend's node behind it: XCNI_IPC_TUN6) the
 * same option rides Geneve under an outer IPv6 header (94 bytes of
 * encapsulation); the backend's node reads it after from_underlay6 let the
 * critical bit through for IPv6 inside, and keeps in nat_addr the sending
 * node's underlay IPv6 folded to 4 bytes (in6_fold: the check is that the
 * same node goes on speaking for the flow, and nat_addr has 4 bytes).
 */
/*
 * IPv6 NodePorts and externalIPs: from_overlay's
 * from_outside for an IPv6 packet from the underlay (not Geneve: on an IPv6
 * underlay the entry sends Geneve for node_ip6 past it) to an external IPv6
 * frontend, with Services in BPF (lb_enabled).
 *
 *  - a backend on this node: DNAT only (lb_translate, outside: the EXT entry),
 *    judged by the pod's ingress on the client's address as any flow from
 *    outside, and into the pod; its replies leave through from_pod6, which
 *    puts the frontend back as their source (lb_rev_nat), to the stack and
 *    out the underlay;
 *  - externalTrafficPolicy=Local: the EXT entry holds this node's backends
 *    only, the client's address is kept, and none here is a drop of its own
 *    (drop-no-local-backend);
 *  - no backend at all: refused at once (TCP RST, ICMPv6 port unreachable,
 *    lb6_reject), back out the way it came;
 *  - a backend on another node (externalTrafficPolicy=Cluster; a NodePort's
 *    frontend is this node's own address): DNAT, and SNAT to that address at
 *    a port lb_snat_port finds, then Geneve (IPv6 inside) to the backend's
 *    node over the underlay that reaches it (the IPv4 one, or the IPv6 one
 *    to its tunnel_ip6: tunnel_of), so the backend's replies come back here
 *    (its node tunnels replies to another node's address, encap.h
 *    remote6_check), decapsulated by from_overlay_decap6 whichever the outer
 *    family, where nodeport6_reply_of/_nat undo both and send them out the underlay
 *    (and nodeport_icmp makes an ICMPv6 error about the flow the client's). The
 *    conntrack entry has 4 bytes for the client's address: the client of a
 *    SNATed flow is kept in xcni_snat6, keyed by the flow's tuple on this
 *    node. An externalIP or load-balancer IP (not this node's address) to a
 *    remote backend is SNATed likewise to this node's IPv6 InternalIP, which
 *    xcnid writes into xcni_self6 (on an IPv4 underlay no rodata holds it,
 *    and the Node object can come after the programs load; on an IPv6 one,
 *    until xcnid has written it, node_ip6 serves); the replies come
 *    back to it as a NodePort's do, and lb_rev_nat puts the external
 *    frontend back as their source. None (IPv4 underlay): drop-no-tunnel.
 */
#ifndef XCNI_NODEPORT_H
#define XCNI_NODEPORT_H

#include <stddef.h>

#include "compat.h"
#include "config.h"
#include "conntrack.h"
#include "dsr.h"
#include "encap.h"
#include "exit.h"
#include "frag.h"
#include "ipcache.h"
#include "l2.h"
#include "lb.h"
#include "maps.h"
#include "parse.h"
#include "policy.h"
#include "sctp.h"

/* The outside of a packet from the underlay (from_outside, from_outside6). */
#define OUTSIDE (external_clusterip ? LB_OUTSIDE | LB_OUTSIDE_CIP : LB_OUTSIDE)

/*
 * May a new flow take the SNAT tuple whose conntrack entry is e? When no live
 * flow holds it, or when the packet opens a connection (a SYN, SCTP's INIT)
 * and the TCP or SCTP flow holding it has closed (RST, or FIN both ways): as
 * conntrack reopens a closed tuple on a SYN, and as the kernel's NAT reuses a
 * closed tuple, so that a busy client's closed connections (alive for
 * XCNI_CT_TCP_CLOSE_NS) do not use up the port range. e's remaining packets
 * (a late ACK) then meet the new flow's mapping, as they would in the kernel.
 */
static __always_inline int snat_port_free(const struct xcni_ct_entry *e, __u64 now, __u8 proto,
					  __u8 tcp_flags)
{
	return !e || !ct_alive(e, now, proto) ||
	       ((proto == IPPROTO_TCP || proto == IPPROTO_SCTP) && e->state == XCNI_CT_CLOSED &&
		(tcp_flags & XCNI_TCP_SYN));
}

/*
 * The ports the SNAT to this node gives: 32768-60999, Linux's default
 * ephemeral range, above the NodePort range (30000-32767), as Cilium's SNAT
 * keeps above it.
 */
#define NP_SNAT_PORT_MIN 32768
#define NP_SNAT_PORTS 28232

/*
 * May the SNAT to this node give a flow the source port fk->port (fk: this
 * node's address, the flow's family and protocol, scope EXT)? Only from the
 * SNAT's range, and never a port at which this node's address is a frontend.
 * The backend answers to this node's address at that port, and its node
 * takes a packet to a node's address and NodePort for a Service flow of its
 * own (every node has the other nodes' NodePorts, for its pods): a client
 * whose port was a NodePort (1024-65535 on the underlay; 30070 in ab-rr)
 * had the backend's SYN-ACK translated into a hairpin flow to that
 * NodePort's backend on the backend's node, dropped there (drop-ct-invalid)
 * and the connection stalled; a hostile client could pick that port to
 * turn the backend's replies into another Service's flow from the backend.
 * A NodePort range set to overlap the SNAT's is kept out by the lookup.
 */
static __always_inline int snat_port_ok(const struct xcni_svc_key *fk)
{
	__u16 port = bpf_ntohs(fk->port);

	return port >= NP_SNAT_PORT_MIN && port < NP_SNAT_PORT_MIN + NP_SNAT_PORTS &&
	       !bpf_map_lookup_elem(&xcni_svc, fk);
}

/*
 * Does the SNAT tuple k's holder e (a live flow) belong to flow t's own
 * client (t: client -> backend)? Then the port is its again. IPv4 keeps the
 * client in the entry (nat_addr, nat_port); IPv6's does not fit there, and
 * is in xcni_snat6 by the SNATed tuple.
 */
static __always_inline int lb_snat_same_client(const struct xcni_ct_entry *e,
					       const union xcni_tuple *k,
					       const union xcni_tuple *t, int fam)
{
	const struct xcni_snat6 *sn;

	if (fam == XCNI_AF_INET)
		return e->nat_addr == t->v4.saddr && e->nat_port == t->v4.sport;
	sn = bpf_map_lookup_elem(&xcni_snat6, &k->v6);
	return sn && in6_eq(sn->client, t->v6.saddr) && sn->cport == t->v6.sport;
}

/*
 * NodePort SNAT to a remote backend, either family: the source port this
 * node gives the flow f (translated: client -> backend) from this node's
 * address self (the family's 4 or 16 bytes). The client's own port when it
 * may be given (snat_port_ok) and no other live flow holds self:port ->
 * backend:port (snat_port_free), else one of a few ports from the flow's
 * hash in 32768-60999 (never the same for every client that collides). k,
 * fk: IPv6's candidate tuple and frontend key, off its stack (np6_tmp);
 * IPv4's are on its stack (NULL). 0, or -1 when all are taken.
 */
static __always_inline int lb_snat_port(const struct flow *f, int fam, const void *self,
					union xcni_tuple *k, struct xcni_svc_key *fk, __u16 *out)
{
	struct flow *fl = (struct flow *)f;
	const union xcni_tuple *t = &f->tuple;
	__u8 proto = fam == XCNI_AF_INET ? t->v4.proto : t->v6.proto;
	__u32 h = xcni_lb_hash(fam, lb_saddr(fl, fam), lb_daddr(fl, fam), *lb_sport(fl, fam),
			       *lb_dport(fl, fam), proto);
	__u64 now = bpf_ktime_get_ns();
	struct xcni_ct_key k4;
	struct xcni_svc_key fk4;
	__u16 *sport;

	if (fam == XCNI_AF_INET) {
		k = (union xcni_tuple *)&k4;
		fk = &fk4;
	}
	lb_tuple_copy(k, t, fam);
	lb_addr_set(fam == XCNI_AF_INET ? (void *)&k->v4.saddr : (void *)k->v6.saddr, self, fam);
	sport = fam == XCNI_AF_INET ? &k->v4.sport : &k->v6.sport;
	__builtin_memset(fk, 0, sizeof(*fk));
	lb_addr_set(fk->addr, self, fam);
	fk->family = fam;
	fk->proto = proto;
	fk->scope = XCNI_SCOPE_EXT;
	for (int i = 0; i < 4; i++) {
		const struct xcni_ct_entry *e;

		if (i)
			*sport = bpf_htons(NP_SNAT_PORT_MIN + (h + i * 7919) % NP_SNAT_PORTS);
		fk->port = *sport;
		if (!snat_port_ok(fk))
			continue;
		e = bpf_map_lookup_elem(ct_map(fam), k);
		if (snat_port_free(e, now, proto, f->tcp_flags) ||
		    lb_snat_same_client(e, k, t, fam)) {
			*out = *sport;
			return 0;
		}
	}
	return -1;
}

/*
 * The reply of a NodePort flow this node SNATed (XCNI_CT_F_SNAT; p: the
 * decapsulated reply, backend -> this node, p->rev_nat set by ct_track;
 * client:cport from the flow's entry): frontend -> client again. 0 or -1.
 * Packet pointers stale afterwards.
 */
static __always_inline int lb4_snat_rev(struct __sk_buff *skb, struct pkt *p, __u32 client,
				       __u16 cport)
{
	if (lb_rev_nat(skb, pkt_flow(p), XCNI_AF_INET, 0) ||
	    lb4_nat(skb, pkt_flow(p), IP_DADDR_OFF, p->tuple.daddr, client, 2, p->tuple.dport, cport))
		return -1;
	p->tuple.daddr = client;
	p->tuple.dport = cport;
	return 0;
}

/*
 * The SNAT source for a flow to frontend fe: fe itself when it is this node's
 * own address (a NodePort), else this node's IPv6 InternalIP (xcni_self6),
 * else, none written yet on an IPv6 underlay, the node's underlay address
 * (node_ip6, there from the load; the other nodes tunnel to it when it is
 * their view of this node's InternalIP, pol_tunnel_set), copied into t.
 * Either must be the host's in the ipcache6, for the replies come back there
 * (from_overlay_decap6 takes decapsulated packets for the host only). NULL: none.
 */
static __always_inline const __u8 *nodeport6_self(const __u8 *fe, struct np6_tmp *t)
{
	const struct xcni_ipcache_val *ipc = ipcache6_lookup(fe);
	const struct xcni_self6 *s;
	__u32 zero = 0, *w = (__u32 *)t->ul6;

	if (ipc && ipc->identity == XCNI_ID_HOST)
		return fe;
	s = bpf_map_lookup_elem(&xcni_self6, &zero);
	if (s && (((const __u32 *)s->addr)[0] | ((const __u32 *)s->addr)[1] |
		  ((const __u32 *)s->addr)[2] | ((const __u32 *)s->addr)[3])) {
		ipc = ipcache6_lookup(s->addr);
		return ipc && ipc->identity == XCNI_ID_HOST ? s->addr : NULL;
	}
	if (!ul6_on())
		return NULL;
	/* Word by word: node_ip6 is const volatile, and a plain copy of it
	 * could be folded to its all-zero initializer. */
	w[0] = node_ip6[0];
	w[1] = node_ip6[1];
	w[2] = node_ip6[2];
	w[3] = node_ip6[3];
	ipc = ipcache6_lookup(t->ul6);
	return ipc && ipc->identity == XCNI_ID_HOST ? t->ul6 : NULL;
}

/*
 * The SNAT of an IPv6 NodePort flow to a remote backend, either hook
 * (nodeport6_snat at tc, nodeport_xdp.h at XDP), nothing written but the
 * scratch t: p the translated flow (client -> backend), orig the client's
 * tuple; *selfp the SNAT source (nodeport6_self), *nport its port (the one
 * the flow's service entry holds, else lb_snat_port's), t->sn the client
 * for nodeport6_commit. 0 or the drop reason.
 */
static __always_inline int np6_snat_choose(const struct pkt6 *p, const struct xcni_ct6_key *orig,
					   struct np6_tmp *t, const __u8 **selfp, __u16 *nport)
{
	struct xcni_ipcache_val *dipc = ipcache6_lookup(p->tuple.daddr);
	const struct xcni_ct_entry *e;
	/* The replies must come back here: to this node's own address (the
	 * frontend's for a NodePort, else its InternalIP: the SNAT source). */
	const __u8 *self = nodeport6_self(orig->daddr, t);

	if (!dipc || !(dipc->flags & XCNI_IPC_POD) || !tunnel_of(dipc, node_ip) || !self)
		return XCNI_DROP_NO_TUNNEL;
	/* The port the flow got before (in its service entry), else a free one. */
	e = bpf_map_lookup_elem(&xcni_ct6, orig);
	*nport = e ? e->nat_port : 0;
	if (!*nport && lb_snat_port(pkt_flow_const(p), XCNI_AF_INET6, self,
					 (union xcni_tuple *)&t->k, &t->fk, nport))
		return XCNI_DROP_NAT_NO_PORT;
	__builtin_memcpy(t->sn.client, p->tuple.saddr, 16);
	t->sn.cport = p->tuple.sport;
	*selfp = self;
	return 0;
}

/*
 * A NodePort flow translated by from_outside6 (p: client -> backend), the
 * backend on another node: SNAT to this node's address (the frontend's),
 * p->tuple following; the client kept in the scratch for nodeport6_commit.
 * 0 or the drop reason. Conntrack is from_outside6's (its frame, not this one's).
 */
__attribute__((noinline)) int nodeport6_snat(struct __sk_buff *skb, struct pkt6 *p,
					     struct lb6_state *st)
{
	struct xcni_ct_entry *e;
	struct np6_tmp *t;
	const __u8 *self = NULL;
	__u16 nport = 0, sport;
	__u32 zero = 0;
	int reason;

	if (!skb || !p || !st || !(t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero)))
		return XCNI_DROP_NO_TUNNEL;
	reason = np6_snat_choose(p, &st->orig, t, &self, &nport);
	if (reason || !self)
		return reason ?: XCNI_DROP_NO_TUNNEL;
	e = bpf_map_lookup_elem(&xcni_ct6, &st->orig);
	if (e)
		e->nat_port = nport;
	sport = p->tuple.sport;
	if (lb6_nat(skb, pkt_flow(p), IP6_SADDR_OFF, p->tuple.saddr, self, 0, sport, nport))
		return XCNI_DROP_REDIRECT;
	__builtin_memcpy(p->tuple.saddr, self, 16);
	p->tuple.sport = nport;
	return 0;
}

/* A new SNATed flow (its entry just committed): its client, for the replies. 0 or -1. */
static __always_inline int nodeport6_commit(const struct pkt6 *p)
{
	__u32 zero = 0;
	struct np6_tmp *t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero);

	return t && !bpf_map_update_elem(&xcni_snat6, &p->tuple, &t->sn, BPF_ANY) ? 0 : -1;
}

/*
 * The family's TTL or hop limit, as a router forwards (p: the family's
 * struct pkt or struct pkt6): np_hop_ok, more than 1 left; np_hop_down,
 * one less in the header (IPv4's checksum with it; IPv6 has none), 0 or -1.
 */
static __always_inline int np_hop_ok(const void *p, int fam)
{
	return fam == XCNI_AF_INET ? ((const struct pkt *)p)->ip->ttl > 1 :
				     ((const struct pkt6 *)p)->hop_limit > 1;
}

static __always_inline int np_hop_down(struct __sk_buff *skb, void *p, int fam)
{
	struct pkt6 *p6 = p;

	if (fam == XCNI_AF_INET)
		return ttl_decrement4(skb, p);
	p6->hop_limit--;
	return bpf_skb_store_bytes(skb, IP6_HOPLIMIT_OFF, &p6->hop_limit, 1, 0) ? -1 : 0;
}

/*
 * Into a pod of this node, either family, routed as the host would: TTL or
 * hop limit down by one, the pod link's MACs, then into its netns. The
 * reason (XCNI_FWD_LOCAL), the verdict in *verdict. from_outside,
 * from_outside6 and from_outside_icmp end so.
 */
static __always_inline int np_into_pod(struct __sk_buff *skb, void *p, int fam,
				       const struct xcni_endpoint *dst, int *verdict)
{
	if (!np_hop_ok(p, fam) || np_hop_down(skb, p, fam) || mac_rewrite(skb, dst))
		return XCNI_DROP_REDIRECT;
	*verdict = bpf_redirect_peer(dst->ifindex, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_LOCAL : XCNI_DROP_REDIRECT;
}

/*
 * What nodeport_encap and nodeport_dsr do first, in one order: a hop left
 * (else dropped, nothing written), the encapsulation's view of the packet
 * (in; a packet the underlay cannot take whole is dropped here: the
 * too-big check came before, np4_too_big), then the TTL or hop limit down by
 * one. 0 or the drop reason.
 */
static __always_inline int np_encap_prep(struct __sk_buff *skb, void *p, int fam,
					 struct encap_in *in)
{
	int reason;

	if (!np_hop_ok(p, fam))
		return XCNI_DROP_ENCAP;
	reason = encap_in_fill(skb, fam, p, in);
	if (reason)
		return reason == XCNI_FWD_TOO_BIG ? XCNI_DROP_ENCAP : reason;
	if (!in->inner_len || np_hop_down(skb, p, fam))
		return XCNI_DROP_ENCAP;
	return 0;
}

/*
 * The packet (translated, tracked; p the family's struct pkt or struct
 * pkt6) to the backend's node, either family: TTL or hop limit down by one,
 * Geneve over the underlay that reaches the node (tunnel, as tunnel_of says;
 * dst6 its IPv6 underlay address for XCNI_TUN6, else NULL: IPv4's NodePort
 * flows take the IPv4 underlay only, np4_tunnel), out of it, counted. in: the
 * encapsulation's view of the packet (IPv6: np6_tmp's, off its frame). The
 * reason (XCNI_FWD_ENCAP: redirected, the verdict in *verdict).
 */
static __always_inline int nodeport_encap(struct __sk_buff *skb, void *p, int fam, __u32 tunnel,
					  const __u8 *dst6, struct encap_in *in, int *verdict)
{
	int reason = np_encap_prep(skb, p, fam, in);

	if (reason)
		return reason;
	/* tunnel_encap chooses on the pointer: kept a pointer the compiler
	 * cannot replace by a test of tunnel, which the verifier would not
	 * link to it (IPv4's is NULL, its IPv6 branch left out). */
	if (fam == XCNI_AF_INET6)
		barrier_var(dst6);
	reason = tunnel_encap(skb, in, node_ip, tunnel, dst6, vni);
	if (reason)
		return reason;
	*verdict = bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_ENCAP : XCNI_DROP_REDIRECT;
}

/*
 * nodeport_encap for IPv6 in a frame of its own (global: from_outside6's and
 * from_outside_icmp's are at the verifier's limit), the backend's node from
 * the ipcache (tunnel_of: the IPv4 underlay to its tunnel_ip, the IPv6 one to
 * its tunnel_ip6, from node_ip6). tunnel: the caller's answer (np_tunnel),
 * which spares an IPv4 underlay's node the lookup; 0: none asked yet. The
 * reason (XCNI_FWD_ENCAP: redirected).
 */
__attribute__((noinline)) int nodeport6_encap_call(struct __sk_buff *skb, struct pkt6 *p,
						   __u32 tunnel)
{
	struct xcni_ipcache_val *dipc = NULL;
	struct np6_tmp *t;
	__u32 zero = 0;
	int verdict;

	if (!skb || !p || !(t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero)))
		return XCNI_DROP_ENCAP;
	if (!tunnel || tunnel == XCNI_TUN6) {
		dipc = ipcache6_lookup(p->tuple.daddr);
		tunnel = dipc ? tunnel_of(dipc, node_ip) : 0;
	}
	if (!tunnel)
		return XCNI_DROP_NO_TUNNEL;
	return nodeport_encap(skb, p, XCNI_AF_INET6, tunnel,
			      dipc && tunnel == XCNI_TUN6 ? dipc->tunnel_ip6 : NULL, &t->in,
			      &verdict);
}

/*
 * Decapsulated IPv6 from a backend's node for this node's own address: the
 * reply of a NodePort flow nodeport6_snat SNATed? 1 (tracked as its reply,
 * p->rev_nat set), else 0 (nothing touched). Apart from nodeport6_reply_nat:
 * conntrack's frame and the rewrites' never sit under from_overlay_decap6 together.
 * Inline: with the IPv6 underlay's outer source in from_overlay_decap6's frame, a
 * call of its own put from_overlay -> from_overlay_decap6 -> this ->
 * ct_icmp_related at 528 bytes of stack, past the verifier's 512.
 */
static __always_inline int nodeport6_reply_of(struct __sk_buff *skb, struct pkt6 *p)
{
	struct xcni_ct6_key rk;
	__u8 ctf;

	if (!skb || !p)
		return 0;
	ct6_reverse(&p->tuple, &rk);
	if (!bpf_map_lookup_elem(&xcni_snat6, &rk))
		return 0;
	return ct_track(skb, pkt_flow(p), XCNI_AF_INET6, p->len, &ctf) == CT_REPLY && p->rev_nat;
}

/*
 * Such a reply: the frontend back as its source, the client as its
 * destination, out by the underlay. The reason (XCNI_FWD_REPLY: redirected).
 */
__attribute__((noinline)) int nodeport6_reply_nat(struct __sk_buff *skb, struct pkt6 *p)
{
	const struct xcni_snat6 *sn;
	struct xcni_ct6_key rk;
	__u16 port;

	if (!skb || !p)
		return XCNI_DROP_REDIRECT;
	ct6_reverse(&p->tuple, &rk);
	sn = bpf_map_lookup_elem(&xcni_snat6, &rk);
	if (!sn)
		return XCNI_DROP_REDIRECT;
	port = p->tuple.dport;
	if (lb6_nat(skb, pkt_flow(p), IP6_DADDR_OFF, p->tuple.daddr, sn->client, 2, port,
		    sn->cport))
		return XCNI_DROP_REDIRECT;
	__builtin_memcpy(p->tuple.daddr, sn->client, 16);
	p->tuple.dport = sn->cport;
	if (lb_rev_nat(skb, pkt_flow(p), XCNI_AF_INET6, 0))
		return XCNI_DROP_REDIRECT;
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0) == TC_ACT_REDIRECT ? XCNI_FWD_REPLY :
										  XCNI_DROP_REDIRECT;
}

/*
 * DSR (lb_dsr), a backend on another node, either family (p the family's
 * struct pkt or struct pkt6, tracked: nodeport_dsr_track): the client's
 * address kept (DNAT only), the frontend (orig, the tuple as the client
 * sent it) in a Geneve option for the backend's node, which judges the
 * backend's ingress on the client and sends its replies itself. Over the
 * underlay that reaches the node (tunnel; dst6 its IPv6 underlay address,
 * else NULL: IPv4's flows take the IPv4 underlay only). The option rides on
 * every packet that fits the underlay with it; one that does not (a
 * full-size segment: the pods' MTU leaves room for the plain encapsulation
 * only; any GSO packet, whose segments are full-size where the flow's
 * first packets were not) goes without, and the backend's node knows its
 * flow from an earlier one (dsr_flow_known). in: the encapsulation's view
 * of the packet. The reason (XCNI_FWD_ENCAP: redirected, *verdict set).
 */
static __always_inline int nodeport_dsr(struct __sk_buff *skb, void *p, int fam,
					const union xcni_tuple *orig, __u32 tunnel,
					const __u8 *dst6, struct encap_in *in, int *verdict)
{
	__u32 mtu = 0, len = dst6 ? XCNI_ENCAP6_DSR_LEN : XCNI_ENCAP_DSR_LEN;
	int reason = np_encap_prep(skb, p, fam, in);

	if (reason)
		return reason;
	if (fam == XCNI_AF_INET6)
		barrier_var(dst6); /* chosen on the pointer: nodeport_encap's */
	if (skb->gso_size || in->inner_len + len > 0xffff ||
	    bpf_check_mtu(skb, 0, &mtu, len, 0) != BPF_MTU_CHK_RET_SUCCESS)
		/* Without the option (tunnel_encap counts it). */
		reason = tunnel_encap(skb, in, node_ip, tunnel, dst6, vni);
	else if (dst6 && !(reason = geneve_encap_ul6_dsr(skb, in, &orig->v6, dst6)))
		tunnel_count6(dst6, skb->len, 0);
	else if (!dst6 && !(reason = geneve_encap_dsr(skb, in, orig, fam, tunnel)))
		tunnel_count4(tunnel, skb->len, 0);
	if (reason)
		return reason;
	*verdict = bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_ENCAP : XCNI_DROP_REDIRECT;
}

/*
 * nodeport_dsr for IPv6 in a frame of its own (the tracked packet,
 * nodeport6_dsr_track_call's), to the backend's node through Geneve over
 * the underlay it is behind (IPv4, or IPv6: XCNI_IPC_TUN6). tunnel: the
 * caller's answer (np_tunnel), which spares an IPv4 underlay's node the
 * lookup; the IPv6 underlay's address is the ipcache entry's. The reason
 * (XCNI_FWD_ENCAP: redirected).
 */
__attribute__((noinline)) int nodeport6_dsr_call(struct __sk_buff *skb, struct pkt6 *p,
						 struct lb6_state *st, __u32 tunnel)
{
	struct xcni_ipcache_val *dipc;
	const __u8 *dst6 = NULL;
	struct np6_tmp *t;
	__u32 zero = 0;
	int verdict;

	if (!skb || !p || !st || !(t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero)))
		return XCNI_DROP_ENCAP;
	if (!tunnel || tunnel == XCNI_TUN6) {
		dipc = ipcache6_lookup(p->tuple.daddr);
		if (!dipc)
			return XCNI_DROP_NO_TUNNEL;
		if ((dipc->flags & XCNI_IPC_TUN6) && ul6_on())
			dst6 = dipc->tunnel_ip6;
		tunnel = dipc->tunnel_ip;
	}
	if (!dst6 && !tunnel)
		return XCNI_DROP_NO_TUNNEL;
	return nodeport_dsr(skb, p, XCNI_AF_INET6, (const union xcni_tuple *)&st->orig, tunnel,
			    dst6, &t->in, &verdict);
}

/*
 * A packet of a DSR flow without the option (it did not fit): its entry
 * here, opened with the option, names the node that sent it (nat_addr: the
 * sending node's underlay IPv4, or its IPv6 folded, in6_fold).
 */
static __always_inline int dsr_flow_known(const struct flow *f, int fam, __u32 node)
{
	const struct xcni_ct_entry *e = bpf_map_lookup_elem(ct_map(fam), &f->tuple);

	return e && (e->flags & XCNI_CT_F_DSR) && e->nat_addr == node &&
	       ct_alive(e, bpf_ktime_get_ns(),
			fam == XCNI_AF_INET ? f->tuple.v4.proto : ct6_life_proto(f->tuple.v6.proto));
}

/*
 * A DSR flow's new entry: the node that opened it, for dsr_flow_known. IPv4:
 * the outer source, read again from the packet (still encapsulated); IPv6:
 * *node, the sending node's address folded (held by the caller).
 */
static __attribute__((noinline)) void dsr_record(struct __sk_buff *skb, const struct flow *f,
						 int fam, const __u32 *node)
{
	struct xcni_ct_entry *e = bpf_map_lookup_elem(ct_map(fam), &f->tuple);
	__u32 from;

	if (!e)
		return;
	if (fam == XCNI_AF_INET) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct iphdr, saddr), &from,
				       sizeof(from)))
			return;
	} else {
		from = *node;
	}
	e->nat_addr = from;
}

/*
 * The SNAT to this node of a NodePort flow to a remote backend, either hook
 * (from_outside at tc, nodeport_xdp.h at XDP): the source port it gets (p:
 * client -> backend, lb its translation): the one its service entry holds,
 * else a free one (lb_snat_port). 0 or XCNI_DROP_NAT_NO_PORT.
 */
static __always_inline int np4_snat_port(const struct lb_state *lb, const struct pkt *p,
					__u16 *nport)
{
	__u32 self = node_ip;

	*nport = lb->svc_ct ? lb->svc_ct->nat_port : 0;
	if (!*nport && lb_snat_port(pkt_flow_const(p), XCNI_AF_INET, &self, NULL, NULL, nport))
		return XCNI_DROP_NAT_NO_PORT;
	return 0;
}

/*
 * After ct_track (ct) of the SNATed flow p (this node -> backend), len bytes:
 * a new flow's entry, with the client (lb->orig's source) kept for its
 * replies. Nothing to judge here (no pod of this node on either end): the
 * backend's node judges its ingress, the source being this node. hook:
 * XCNI_CT_F_XDP from the XDP fast path, 0 from tc.
 */
static __always_inline void np4_snat_open(const struct pkt *p, const struct lb_state *lb, int ct,
					 __u32 len, __u8 hook)
{
	struct xcni_ct_entry *e;

	if (ct != CT_NEW && ct != CT_STALE)
		return;
	ct_commit(pkt_flow_const(p), XCNI_AF_INET, ct, len, 0,
		  XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT | hook);
	e = bpf_map_lookup_elem(&xcni_ct, &p->tuple);
	if (e) {
		e->nat_addr = lb->orig.saddr;
		e->nat_port = lb->orig.sport;
	}
}

/* The node of a backend that is another node's pod (the overlay reaches it), or 0. */
static __always_inline __u32 np4_tunnel(__u32 daddr)
{
	const struct xcni_ipcache_val *dipc = ipcache_lookup(daddr);

	return dipc && (dipc->flags & XCNI_IPC_POD) && node_ip ? dipc->tunnel_ip : 0;
}

/*
 * Path MTU and ICMP errors for these flows (nodeport_icmp.h): after the
 * helpers above it uses, before the paths below that use it.
 */
#include "nodeport_icmp.h"

/*
 * The SNAT of an IPv4 NodePort flow to a remote backend at tc (p: client ->
 * backend, lb its translation): the source port (np4_snat_port), kept in the
 * flow's service entry, this node's address and that port written, p->tuple
 * following and the headers parsed again (c). 0 or the drop reason. IPv6's
 * is nodeport6_snat (a frame of its own, the client kept in the scratch).
 */
static __always_inline int nodeport4_snat(struct __sk_buff *skb, struct pkt *p,
					  struct lb_state *lb, struct cursor *c)
{
	__u16 nport = 0;
	int reason = np4_snat_port(lb, p, &nport);

	if (reason)
		return reason;
	if (lb->svc_ct)
		lb->svc_ct->nat_port = nport;
	if (lb4_nat(skb, pkt_flow(p), IP_SADDR_OFF, p->tuple.saddr, node_ip, 0, p->tuple.sport,
		    nport))
		return XCNI_DROP_REDIRECT;
	p->tuple.saddr = node_ip;
	p->tuple.sport = nport;
	return reparse4(skb, c, p);
}

/*
 * The node of a NodePort flow's backend daddr (the family's address), when
 * it is another node's pod that the overlay reaches, else 0: IPv4's over
 * the IPv4 underlay only (np4_tunnel: its flows are encapsulated with no
 * IPv6 destination, nodeport_encap's dst6 NULL); IPv6's over the underlay
 * tunnel_of says (XCNI_TUN6: the IPv6 one).
 */
static __always_inline __u32 np_tunnel(int fam, const void *daddr)
{
	const struct xcni_ipcache_val *dipc;

	if (fam == XCNI_AF_INET)
		return np4_tunnel(*(const __u32 *)daddr);
	dipc = ipcache_find(fam, daddr);
	return dipc && (dipc->flags & XCNI_IPC_POD) ? tunnel_of(dipc, node_ip) : 0;
}

/* What from_outside returns for a packet that is not its: IPv4's the last
 * step (untouched, TC_ACT_OK), IPv6's hands on to the entry's next (UL_NEXT). */
#define OUTSIDE_NOT_OURS(fam) ((fam) == XCNI_AF_INET ? TC_ACT_OK : UL_NEXT)

/*
 * From outside to an external frontend (lb_enabled), either family (fam a
 * constant; p the family's struct pkt or struct pkt6, zeroed; st its struct
 * lb_state, on from_outside4's stack, or struct lb6_state, the per-CPU
 * scratch lb6_state_get zeroed): translated and sent to its backend, the
 * reason counted and the TC verdict returned. Anything else is not ours:
 * untouched, uncounted (OUTSIDE_NOT_OURS). One order of steps, every step
 * that judges or drops taken by both families:
 *   1. the parse (not whole, or not the family: the stack's to judge) and
 *      the translation (lb_translate, the outside rules: OUTSIDE);
 *   2. no backend: externalTrafficPolicy=Local's drop (no other node's
 *      backend may serve it), else refused at once (lb_reject), back out
 *      the way it came;
 *   3. a backend here: the client's address kept, conntrack and the pod's
 *      ingress on it as any flow from outside (track_and_judge), into the
 *      pod (np_into_pod);
 *   4. a backend on another node: the tunnel to its node (np_tunnel), none
 *      a drop (drop-no-tunnel). IPv4's order, kept for both: before the
 *      too-big check, so no Packet Too Big or fragmentation-needed answers
 *      for a flow that goes nowhere (IPv6 asked in its SNAT and DSR steps,
 *      after 5., whose np6_too_big made the same test and took none as
 *      fitting). IPv6's SNAT source (nodeport6_self) is SNAT's alone, 7.;
 *   5. too big for the underlay once encapsulated: the client is told
 *      (np4_too_big, np6_too_big: the family's ICMP leaves);
 *   6. --node-port-mode dsr: conntrack (the client kept) and Geneve with
 *      the frontend in an option (nodeport_dsr_track, nodeport_dsr);
 *   7. else SNAT to this node (nodeport4_snat, nodeport6_snat: the family's
 *      rewrites), conntrack (an invalid packet dropped), a new flow's entry
 *      with its client (np4_snat_open, nodeport6_commit: the family's
 *      places for it), Geneve to the backend's node (nodeport_encap).
 * Where the families differ, a branch says so: the parse again after
 * IPv4's rewrites (struct pkt holds packet pointers), the too-big
 * leaves, the SNAT and its client's place, and what runs in a frame of its
 * own for IPv6 (nodeport6_*_call: from_outside6's chain at the verifier's
 * 512 bytes).
 */
static __always_inline int from_outside(struct __sk_buff *skb, int fam, void *p, void *st)
{
	struct flow *f = lb_flow_of(p, fam);
	const void *daddr = flow_daddr(f, fam);
	struct xcni_endpoint *dst;
	struct verdict v = {};
	struct encap_in in;
	struct judge j;
	struct cursor c;
	__u32 tunnel;
	int reason, verdict = TC_ACT_OK, ct;
	__u8 ctf;

	f->len = skb->len;
	if (pkt_parse(skb, fam, &c, p))
		return OUTSIDE_NOT_OURS(fam);
	reason = lb_translate(skb, p, fam, 0, 0, st, OUTSIDE);
	if (!reason)
		return OUTSIDE_NOT_OURS(fam);
	if (reason == XCNI_DROP_NO_BACKEND) {
		/* Local traffic policy: no other node's backend may serve it. */
		if (LB_ST(st, fam, svc_flags) & XCNI_SVC_F_ETP_LOCAL) {
			reason = XCNI_DROP_NO_LOCAL_BACKEND;
			goto out;
		}
		/* Refused at once, back out the way it came. */
		verdict = lb_reject(skb, p, fam) ? TC_ACT_SHOT : bpf_redirect(skb->ifindex, 0);
		goto out;
	}
	if (reason != 1)
		goto out;
	/* IPv4's packet pointers went stale with the DNAT. */
	reason = fam == XCNI_AF_INET ? reparse4(skb, &c, p) : 0;
	if (reason)
		goto out;
	dst = bpf_map_lookup_elem(endpoints_map(fam), daddr);
	if (dst) {
		/* A backend here: the client's address kept, judged by the pod's
		 * ingress as any flow from outside (world, or its ipBlock). */
		j = (struct judge){ .dst_ep = dst, .dst_addr = daddr,
				    .flags = XCNI_CT_F_NODEPORT,
				    .lookup = JUDGE_SRC_ID | JUDGE_DST_ID };
		reason = track_and_judge(skb, f, fam, skb->len, &ct, &ctf, &j, &v);
		if (reason)
			goto out;
		lb_flow_follow(st, fam, f);
		reason = np_into_pod(skb, p, fam, dst, &verdict);
		goto out;
	}
	/* A backend on another node (a pod: the overlay reaches it). */
	tunnel = np_tunnel(fam, daddr);
	if (!tunnel) {
		reason = XCNI_DROP_NO_TUNNEL;
		goto out;
	}
	/* Too big for the underlay once encapsulated: the client is told. Most
	 * packets fit, and np_maybe_over says so without reading them again
	 * (IPv6: with the larger encapsulation, the IPv6 underlay's 70; the
	 * global decides by the backend's node's underlay). */
	if (np_maybe_over(skb, fam == XCNI_AF_INET ? XCNI_ENCAP_LEN : XCNI_ENCAP6_LEN)) {
		verdict = fam == XCNI_AF_INET ? np4_too_big(skb, &((struct lb_state *)st)->orig) :
						np6_too_big(skb, p, st);
		if (verdict != NP_FITS) {
			reason = XCNI_DROP_TOO_BIG;
			goto out;
		}
		verdict = TC_ACT_OK;
		/* np4_too_big may rewrite the packet: IPv4's pointers stale. */
		reason = fam == XCNI_AF_INET ? reparse4(skb, &c, p) : 0;
		if (reason)
			goto out;
	}
	if (lb_dsr) {
		/* The client kept, the frontend in a Geneve option. IPv6's
		 * conntrack and encapsulation each in a frame of its own. */
		if (fam == XCNI_AF_INET)
			reason = nodeport_dsr_track(skb, f, fam, st, skb->len);
		else
			reason = nodeport6_dsr_track_call(skb, p, st);
		if (reason == DSR_TRACKED)
			reason = fam == XCNI_AF_INET ?
					 nodeport_dsr(skb, p, fam, lb_st_orig(st, fam), tunnel,
						      NULL, &in, &verdict) :
					 nodeport6_dsr_call(skb, p, st, tunnel);
		goto out;
	}
	/* SNAT to this node, so the reply comes back here to be undone. */
	reason = fam == XCNI_AF_INET ? nodeport4_snat(skb, p, st, &c) : nodeport6_snat(skb, p, st);
	if (reason)
		goto out;
	ct = ct_track(skb, f, fam, skb->len, &ctf);
	if (ct == CT_INVALID) {
		reason = ct_invalid_reason(f);
		goto out;
	}
	/* Nothing to judge here (no pod of this node on either end): the
	 * backend's node judges its ingress, the source being this node. A new
	 * flow's entry keeps its client: IPv4's in the entry, IPv6's (16 bytes)
	 * in xcni_snat6, whose failure drops the packet. */
	if (fam == XCNI_AF_INET) {
		np4_snat_open(p, st, ct, skb->len, 0);
	} else if (ct == CT_NEW || ct == CT_STALE) {
		ct_commit(f, fam, ct, skb->len, 0, XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT);
		if (nodeport6_commit(p)) {
			reason = XCNI_DROP_NAT_NO_PORT;
			goto out;
		}
	}
	lb_flow_follow(st, fam, f);
	reason = fam == XCNI_AF_INET ? nodeport_encap(skb, p, fam, tunnel, NULL, &in, &verdict) :
				       nodeport6_encap_call(skb, p, tunnel);
out:
	/* IPv6's encapsulations return the reason alone, from their frames. */
	if (reason == XCNI_FWD_ENCAP)
		verdict = TC_ACT_REDIRECT;
	if (reason_is_drop(reason))
		lb_flow_forget(st, fam);
	return finish_flow(skb, fam, reason, XCNI_DIR_FROM_OVERLAY, 0, f, verdict, &v);
}

/*
 * from_outside for each family in a global of its own, one line each, called
 * from from_overlay's entry as from_overlay4 is (their frames never add up):
 * IPv4's translation state on its stack, IPv6's in the per-CPU scratch
 * (xcni_lb6_tmp, lb6_state_get), where it has always been (a struct
 * lb6_state holds two 40-byte keys; from_outside6's chain under
 * nodeport6_snat is at the verifier's 512 bytes).
 */
__attribute__((noinline)) int from_outside4(struct __sk_buff *skb)
{
	struct lb_state lb = {};
	struct pkt p = {};

	return skb ? from_outside(skb, XCNI_AF_INET, &p, &lb) : TC_ACT_SHOT;
}

__attribute__((noinline)) int from_outside6(struct __sk_buff *skb)
{
	struct lb6_state *st;
	struct pkt6 p = {};

	if (!skb)
		return TC_ACT_SHOT;
	st = lb6_state_get();
	return st ? from_outside(skb, XCNI_AF_INET6, &p, st) : UL_NEXT;
}

/*
 * Geneve for this node from a backend's node: the reply of a NodePort flow
 * this node SNATed (from_outside)? Then 0 is not returned: the reply is
 * decapsulated, frontend -> client again and sent out the underlay (the
 * reason, *verdict set). 0: not one, nothing touched.
 */
static __always_inline int nodeport4_reply(struct __sk_buff *skb, struct pkt *p,
					  const struct outer *o, int *verdict)
{
	const struct xcni_ct_entry *e;
	struct xcni_ct_key rk;
	__u32 client;
	__u16 cport;
	__u8 ctf;

	/* An error about such a flow, from the backend's side: to the client. */
	if (p->tuple.proto == IPPROTO_ICMP && !p->is_echo && !p->frag_later) {
		/* Decapsulated either way: not about such a flow, it goes to the
		 * stack as any such packet for the node does. */
		if (bpf_skb_adjust_room(skb, -(__s32)o->hdr_len, BPF_ADJ_ROOM_MAC,
					XCNI_DECAP4_FLAGS))
			return XCNI_DROP_BAD_GENEVE;
		return nodeport_icmp(skb, XCNI_AF_INET, p->l3_len, verdict) ?: XCNI_FWD_DECAP_HOST;
	}
	ct_reverse(&p->tuple, &rk);
	e = bpf_map_lookup_elem(&xcni_ct, &rk);
	if (!e || !(e->flags & XCNI_CT_F_SNAT))
		return 0;
	client = e->nat_addr;
	cport = e->nat_port;
	if (ct_track(skb, pkt_flow(p), XCNI_AF_INET, skb->len, &ctf) != CT_REPLY)
		return 0;
	if (bpf_skb_adjust_room(skb, -(__s32)o->hdr_len, BPF_ADJ_ROOM_MAC,
				XCNI_DECAP4_FLAGS))
		return XCNI_DROP_BAD_GENEVE;
	if (lb4_snat_rev(skb, p, client, cport))
		return XCNI_DROP_REDIRECT;
	*verdict = bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_FWD_REPLY : XCNI_DROP_REDIRECT;
}

#endif
