/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The steps of a NodePort, externalIP or load-balancer flow from outside
 * (nodeport.h says the rules), both families: the SNAT port and its reverse
 * (lb_snat_port, np_snat_choose), the hop limit, delivery
 * into a pod on this node (np_into_pod), the encapsulation to the backend's node
 * (nodeport_encap, nodeport_dsr), the replies' undoing for IPv6
 * (nodeport6_reply_nat) and DSR's record of a flow. Used by the paths of
 * nodeport.h and by nodeport_icmp.h's ICMP errors about these flows, which
 * nodeport.h's paths use in turn: one header under both, no cycle.
 */
#ifndef XCNI_NODEPORT_STEPS_H
#define XCNI_NODEPORT_STEPS_H

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

/* A key in .rodata: the SNAT's steps below keep no key of np6_tmp's on their
 * frames (from_outside6's chain is at the verifier's 512 bytes). */
static const __u32 np_zero = 0;

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
 * Or when no reply has confirmed the flow holding it (still XCNI_CT_NEW: a
 * UDP datagram, a SYN the backend has not answered) for XCNI_CT_SNAT_NEW_NS:
 * one outside client's unanswered datagrams, one per source port, held each
 * of a backend's 28,232 ports 60 s.
 */
static __always_inline int snat_port_free(const struct xcni_ct_entry *e, __u64 now, __u8 proto,
					  __u8 tcp_flags)
{
	return !e || !ct_alive(e, now, proto) ||
	       (e->state == XCNI_CT_NEW && now > e->last_ns &&
		now - e->last_ns > XCNI_CT_SNAT_NEW_NS) ||
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
 * The client of a flow this node SNATed (e its entry, k its tuple: this
 * node:port -> backend), into *addr (the family's bytes) and *port: IPv4
 * keeps it in the entry (nat_addr, nat_port); IPv6's does not fit there, and
 * is in xcni_snat6 by the SNATed tuple. 0, or -1: none.
 */
static __always_inline int np_snat_client(int fam, const struct xcni_ct_entry *e,
					  const union xcni_tuple *k, const void **addr,
					  __u16 *port)
{
	const struct xcni_snat6 *sn;

	if (fam == XCNI_AF_INET) {
		*addr = &e->nat_addr;
		*port = e->nat_port;
		return 0;
	}
	sn = bpf_map_lookup_elem(&xcni_snat6, &k->v6);
	if (!sn)
		return -1;
	*addr = sn->client;
	*port = sn->cport;
	return 0;
}

/*
 * How many ports np_snat_port_call tries for a new flow: the client's own, three
 * from the flow's hash (the same flow gets the same port), then the rest
 * from a random place in 32768-60999 on (a stride coprime with the range's
 * size: every port is one some flow may try). With each
 * client's share bounded (np_snat_budget), a range a fraction x full fails
 * a new flow x^32 of the time (the kernel's NAT tries up to 128); 4 tries
 * from the flow's hash failed x^4 and let a client that knew the hash fill
 * exactly those.
 */
#define NP_SNAT_TRIES 32
#define NP_SNAT_STRIDE 7919

/*
 * NodePort SNAT to a remote backend, either family (fam), in np6_tmp (the
 * caller's np_snat_port): k the flow's tuple from this node's address
 * (translated: self -> backend), fk that address as a frontend key (scope
 * EXT), sn the client's address and port. The port kept (network order,
 * keep: the one the flow's service entry names) while its tuple is still
 * the client's; else (| NP_SNAT_NEW) the client's own port when it may be
 * given (snat_port_ok) and no other live flow holds self:port -> backend:port
 * (snat_port_free), else one of NP_SNAT_TRIES - 1 others (above), the stale
 * entry that held it removed (ct_track then opens the flow anew). A TCP or
 * SCTP packet that opens nothing (opens 0: no SYN or INIT, a bare ACK) takes
 * no free port, only its client's own port that its own live flow holds
 * still: a new SNAT tuple is never opened as established from outside
 * (NP_SNAT_NOPEN). h: the flow's hash. NP_SNAT_NONE: all it tried are taken.
 * A global function: verified once, whatever calls it (its 32 tries would
 * be walked again at every call site of every path), both families in it.
 */
#define NP_SNAT_NEW 0x10000
#define NP_SNAT_STALE 0x20000 /* the caller removes the entry that held it (t->k) */
#define NP_SNAT_NONE (-1)
#define NP_SNAT_NOPEN (-2)

static __always_inline int np_snat_mine(const struct xcni_ct_entry *e, const struct np6_tmp *t,
					__u32 fam)
{
	const struct xcni_snat6 *sn;

	if (fam == XCNI_AF_INET)
		return e->nat_addr == *(const __u32 *)t->sn.client && e->nat_port == t->sn.cport;
	sn = bpf_map_lookup_elem(&xcni_snat6, &t->k);
	return sn && in6_eq(sn->client, t->sn.client) && sn->cport == t->sn.cport;
}

__attribute__((noinline)) int np_snat_port_call(__u32 keep)
{
	struct np6_tmp *t = bpf_map_lookup_elem(&xcni_np6_tmp, &np_zero);
	struct xcni_ct_entry *e;
	__u16 port;

	if (!t)
		return NP_SNAT_NONE;
	t->now = bpf_ktime_get_ns();
	t->start = bpf_get_prandom_u32();
	if (keep) {
		/* The service entry's port, while the tuple is still this client's. */
		if (t->fam == XCNI_AF_INET) {
			((struct xcni_ct_key *)&t->k)->sport = keep;
			e = bpf_map_lookup_elem(&xcni_ct, &t->k);
		} else {
			t->k.sport = keep;
			e = bpf_map_lookup_elem(&xcni_ct6, &t->k);
		}
		if (e && ct_alive(e, t->now, t->fk.proto) && np_snat_mine(e, t, t->fam))
			return keep & 0xffff;
	}
	/* One body, not unrolled: the verifier walks it once a try. */
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < NP_SNAT_TRIES; i++) {
		/* t's fields' addresses not kept across the loop on the frame:
		 * computed again each try, the frame holds nothing. */
		barrier_var(t);
		if (i >= t->tries)
			break;
		if (!i) {
			port = t->sn.cport;
		} else {
			if (!t->opens)
				return NP_SNAT_NOPEN;
			port = bpf_htons(NP_SNAT_PORT_MIN + ((i < 4 ? t->h : t->start) +
							    i * NP_SNAT_STRIDE) % NP_SNAT_PORTS);
		}
		t->fk.port = port;
		if (!snat_port_ok(&t->fk))
			continue;
		if (t->fam == XCNI_AF_INET) {
			((struct xcni_ct_key *)&t->k)->sport = port;
			e = bpf_map_lookup_elem(&xcni_ct, &t->k);
		} else {
			t->k.sport = port;
			e = bpf_map_lookup_elem(&xcni_ct6, &t->k);
		}
		if (t->opens && snat_port_free(e, t->now, t->fk.proto, XCNI_TCP_SYN))
			return t->fk.port | NP_SNAT_NEW | (e ? NP_SNAT_STALE : 0);
		if (e && ct_alive(e, t->now, t->fk.proto) && np_snat_mine(e, t, t->fam))
			return t->fk.port | NP_SNAT_NEW;
	}
	return t->opens ? NP_SNAT_NONE : NP_SNAT_NOPEN;
}

/*
 * np_snat_port_call's input into np6_tmp (the flow f: client -> backend,
 * translated; self: this node's address, the family's bytes) and its answer.
 */
static __always_inline int np_snat_port(const struct flow *f, int fam, const void *self,
					__u16 keep, int xdp)
{
	struct flow *fl = (struct flow *)f;
	__u8 proto = flow_proto(f, fam);
	/* SCTP's chunk flags are read for IPv4 only (parse.h): IPv6's lives as UDP. */
	int opens = !(proto == IPPROTO_TCP || (fam == XCNI_AF_INET && proto == IPPROTO_SCTP)) ||
		    (f->tcp_flags & XCNI_TCP_SYN);
	struct np6_tmp *t;
	__u32 zero = 0;
	int r;

	t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero);
	if (!t)
		return NP_SNAT_NONE;
	lb_tuple_copy((union xcni_tuple *)&t->k, &f->tuple, fam);
	lb_addr_set(fam == XCNI_AF_INET ? (void *)&((union xcni_tuple *)&t->k)->v4.saddr :
					  (void *)t->k.saddr,
		    self, fam);
	__builtin_memset(&t->fk, 0, sizeof(t->fk));
	lb_addr_set(t->fk.addr, self, fam);
	t->fk.family = fam;
	t->fk.proto = proto;
	t->fk.scope = XCNI_SCOPE_EXT;
	__builtin_memset(t->sn.client, 0, 16);
	lb_addr_set(t->sn.client, flow_saddr(f, fam), fam);
	t->sn.cport = *lb_sport(fl, fam);
	t->h = xcni_lb_hash(fam, lb_saddr(fl, fam), lb_daddr(fl, fam), *lb_sport(fl, fam),
			    *lb_dport(fl, fam), proto);
	t->fam = fam;
	t->opens = opens;
	/* The XDP fast path tries the ports the flow's hash names only, the
	 * same at either hook; the random ones are tc's (handed on). */
	t->tries = xdp ? 4 : NP_SNAT_TRIES;
	r = np_snat_port_call(keep);
	/* Off np_snat_port_call's frame (from_outside6's chain): the stale
	 * entry out, at tc (the fast path writes nothing before it may hand a
	 * packet on: it hands this one on). */
	if (r > 0 && (r & NP_SNAT_STALE)) {
		if (xdp)
			return NP_SNAT_NONE;
		ct_entry_remove(fam, &t->k);
	}
	return r;
}

/*
 * The budget of new SNAT tuples of the client at addr (the family's bytes:
 * an IPv4 address, an IPv6 address charged as its /64) into *ck, its
 * bucket's key; its bucket's tokens at now (a full bucket: none yet).
 */
static __always_inline __u32 np_snat_tokens(int fam, const void *addr, __u64 now,
					    struct xcni_snat_cl_key *ck, struct xcni_snat_cl **cl)
{
	const __u32 *a = addr;
	__u64 more;

	ck->a[0] = a[0];
	ck->a[1] = fam == XCNI_AF_INET ? 0 : a[1];
	ck->family = fam;
	ck->pad[0] = ck->pad[1] = ck->pad[2] = 0;
	*cl = bpf_map_lookup_elem(&xcni_snat_cl, ck);
	if (!*cl)
		return XCNI_SNAT_CL_BURST;
	if (now <= (*cl)->ts_ns)
		return (*cl)->tokens;
	more = (now - (*cl)->ts_ns) / (1000000000ULL / XCNI_SNAT_CL_RATE);
	return more >= XCNI_SNAT_CL_BURST - (*cl)->tokens ? XCNI_SNAT_CL_BURST :
							    (*cl)->tokens + (__u32)more;
}

/*
 * May the client at addr open one more SNAT tuple here (a token left)? Read
 * only: the XDP fast path asks before it may hand the packet on to tc.
 */
static __always_inline int np_snat_budget_ok(int fam, const void *addr, int xdp)
{
	struct np6_tmp *t = bpf_map_lookup_elem(&xcni_np6_tmp, &np_zero);
	struct xcni_snat_cl *cl;

	if (!t || np_snat_tokens(fam, addr, bpf_ktime_get_ns(), &t->ck, &cl))
		return 1;
	/* Counted where it is dropped (the fast path hands it on to tc). */
	if (cl && !xdp)
		__sync_fetch_and_add(&cl->refused, 1);
	return 0;
}

/*
 * ... and its token taken, the flow's SNAT tuple opened (np_snat_open). The
 * clock moves on by the whole tokens given back only, so none is lost to
 * rounding. Per-CPU races may let a few more through, never fewer.
 */
static __always_inline void np_snat_charge(int fam, const void *addr)
{
	__u64 now = bpf_ktime_get_ns(), per = 1000000000ULL / XCNI_SNAT_CL_RATE;
	struct np6_tmp *t = bpf_map_lookup_elem(&xcni_np6_tmp, &np_zero);
	struct xcni_snat_cl *cl;
	__u32 tok;

	if (!t)
		return;
	tok = np_snat_tokens(fam, addr, now, &t->ck, &cl);
	if (!cl) {
		/* The new bucket from np6_tmp's room too (off the frame). */
		t->ncl.ts_ns = now;
		t->ncl.tokens = XCNI_SNAT_CL_BURST - 1;
		t->ncl.refused = 0;
		bpf_map_update_elem(&xcni_snat_cl, &t->ck, &t->ncl, BPF_NOEXIST);
		return;
	}
	if (tok >= XCNI_SNAT_CL_BURST || now <= cl->ts_ns)
		cl->ts_ns = now;
	else
		cl->ts_ns += (__u64)(tok - cl->tokens) * per;
	cl->tokens = tok ? tok - 1 : 0;
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
 * The SNAT of a NodePort flow to a remote backend, either hook (the plan:
 * np_plan_snat: xdp), either family (fam a constant), nothing
 * written but the scratch np6_tmp (and, at tc, a stale entry of the port it
 * gives: np_snat_port): f the translated flow (client -> backend),
 * orig the client's tuple, e its service entry (the caller's lookup; NULL:
 * none yet); *selfp the SNAT source, this node's own address, so that the
 * replies come back here (IPv4: node_ip, in *self4; IPv6: the frontend's for
 * a NodePort, else its InternalIP: nodeport6_self), *nport its port (the one
 * the service entry holds, else lb_snat_port's); IPv6's client into t->sn
 * for np_snat_open. The backend's node is the caller's to have found
 * (from_outside's np_tunnel, xdp_nodeport's tunnel: a pod of another node,
 * the tunnel to it), not looked up again here. 0 or the drop reason.
 */
static __always_inline int np_snat_choose(const struct flow *f, int fam, const void *orig,
					  const struct xcni_ct_entry *e, struct np6_tmp *t,
					  __u32 *self4, const void **selfp, __u16 *nport, int xdp)
{
	const void *self = self4;

	if (fam == XCNI_AF_INET)
		*self4 = node_ip;
	else
		self = nodeport6_self(((const struct xcni_ct6_key *)orig)->daddr, t);
	if (!self)
		return XCNI_DROP_NO_TUNNEL;
	*nport = e ? e->nat_port : 0;
	/* The port the service entry keeps, as it is, unless no reply has come
	 * for XCNI_CT_SNAT_NEW_NS: then its tuple may have gone to another
	 * client (snat_port_free), looked at again. At tc the entry holds this
	 * packet's time already (lb_flow_keeps): no clock read a packet of a
	 * known flow (the XDP fast path counts it later, so reads the clock). */
	if (!*nport ||
	    (e->state == XCNI_CT_NEW &&
	     (xdp ? bpf_ktime_get_ns() : e->last_ns) - e->created_ns > XCNI_CT_SNAT_NEW_NS)) {
		const void *client = fam == XCNI_AF_INET ?
					     (const void *)&((const struct xcni_ct_key *)orig)->saddr :
					     (const void *)((const struct xcni_ct6_key *)orig)->saddr;
		int r;

		/* A new tuple: the client's budget first (its own flows are
		 * refused past it, nobody else's), then a port. */
		if (!*nport && !np_snat_budget_ok(fam, client, xdp))
			return XCNI_DROP_NAT_CLIENT;
		r = np_snat_port(f, fam, self, *nport, xdp);
		if (r < 0)
			return r == NP_SNAT_NOPEN ? XCNI_DROP_CT_INVALID : XCNI_DROP_NAT_NO_PORT;
		if (*nport && (r & NP_SNAT_NEW) && !np_snat_budget_ok(fam, client, xdp))
			return XCNI_DROP_NAT_CLIENT;
		*nport = (__u16)r;
	}
	if (fam == XCNI_AF_INET6) {
		__builtin_memcpy(t->sn.client, f->tuple.v6.saddr, 16);
		t->sn.cport = f->tuple.v6.sport;
	}
	*selfp = self;
	return 0;
}

/*
 * After ct_track (ct) of the SNATed flow f (this node -> backend), len bytes,
 * either hook, either family: a new flow's entry (hook: XCNI_CT_F_XDP from
 * the XDP fast path, 0 from tc), with the client kept for its replies: IPv4's
 * in the entry (orig's source), IPv6's (16 bytes) in xcni_snat6 (the scratch's,
 * np_snat_choose's). Nothing to judge here (no pod of this node on either
 * end): the backend's node judges its ingress, the source being this node.
 * 0, or -1 (IPv6: the client not kept).
 */
static __always_inline int np_snat_open(const struct flow *f, int fam, const void *orig, int ct,
					__u32 len, __u8 hook)
{
	struct xcni_ct_entry *e;
	struct np6_tmp *t;
	__u32 zero = 0;

	if (ct != CT_NEW && ct != CT_STALE)
		return 0;
	ct_commit(f, fam, ct, len, 0, XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT | hook);
	/* A new tuple is the client's (a stale one, judged again, is not new). */
	if (ct == CT_NEW)
		np_snat_charge(fam, fam == XCNI_AF_INET ?
					    (const void *)&((const struct xcni_ct_key *)orig)->saddr :
					    (const void *)((const struct xcni_ct6_key *)orig)->saddr);
	if (fam == XCNI_AF_INET6) {
		t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero);
		return t && !bpf_map_update_elem(&xcni_snat6, &f->tuple.v6, &t->sn, BPF_ANY) ? 0 :
											       -1;
	}
	e = bpf_map_lookup_elem(&xcni_ct, &f->tuple.v4);
	if (e) {
		e->nat_addr = ((const struct xcni_ct_key *)orig)->saddr;
		e->nat_port = ((const struct xcni_ct_key *)orig)->sport;
	}
	return 0;
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
 * dst6 its IPv6 underlay address for XCNI_TUN6, else NULL: np4_tunnel's or
 * the ipcache's), out of it, counted. in: the
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
	 * link to it. */
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
 * reply of a NodePort flow this node SNATed? 1 (tracked as its reply,
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
 * struct pkt or struct pkt6, tracked: np_plan_track): the client's
 * address kept (DNAT only), the frontend (orig, the tuple as the client
 * sent it) in a Geneve option for the backend's node, which judges the
 * backend's ingress on the client and sends its replies itself. Over the
 * underlay that reaches the node (tunnel; dst6 its IPv6 underlay address,
 * else NULL: np_tunnel's answer, either family's flows over either
 * underlay, the option naming the frontend of the flow's family). The option rides on
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
	barrier_var(dst6); /* chosen on the pointer: nodeport_encap's */
	if (skb->gso_size || in->inner_len + len > 0xffff ||
	    bpf_check_mtu(skb, 0, &mtu, len, 0) != BPF_MTU_CHK_RET_SUCCESS)
		/* Without the option (tunnel_encap counts it). */
		reason = tunnel_encap(skb, in, node_ip, tunnel, dst6, vni);
	else if (dst6 && !(reason = geneve_encap_ul6_dsr(skb, in, orig, fam, dst6)))
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
 * np6_snat_call's), to the backend's node through Geneve over
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
		/* The flag picks the family: a TUN6 node's tunnel_ip is set too. */
		tunnel = dipc->flags & XCNI_IPC_TUN6 ? 0 : dipc->tunnel_ip;
	}
	if (!dst6 && !tunnel)
		return XCNI_DROP_NO_TUNNEL;
	return nodeport_dsr(skb, p, XCNI_AF_INET6, (const union xcni_tuple *)&st->orig, tunnel,
			    dst6, &t->in, &verdict);
}

/*
 * dsr_flow_known's sender at the other underlay address of the node the
 * entry e names: a node of both families that sent the flow's first packet
 * from one InternalIP and sends the rest from the other (a rolling change
 * of --tunnel-family: it restarted with the other one). The sender (node
 * its IPv4 address and node6 NULL, or node6 and node that folded), a node of
 * the tunnel maps already, is the flow's when the ipcache's entry at that
 * address (a remote node at that very endpoint, as xcnid writes every
 * other node's InternalIPs: tunnel_set) names as its other endpoint the one
 * e keeps (IPv4, or IPv6 folded); e then keeps the sender's, so that the
 * flow's next packets are known at dsr_flow_known's first compare again.
 * Another node, of either family, names other endpoints: 0. Not inlined:
 * the callers' frames are at the verifier's limit, and few packets get here.
 */
static __attribute__((noinline)) int dsr_node_moved(struct xcni_ct_entry *e, __u32 node,
						    const __u8 *node6)
{
	const struct xcni_ipcache_val *n;
	__u32 other;

	if (!e)
		return 0;
	if (node6) {
		n = ipcache_find(XCNI_AF_INET6, node6);
		if (!n || n->identity != XCNI_ID_REMOTE_NODE || !in6_eq(n->tunnel_ip6, node6))
			return 0;
		other = n->tunnel_ip;
	} else {
		n = ipcache_find(XCNI_AF_INET, &node);
		if (!n || n->identity != XCNI_ID_REMOTE_NODE || n->tunnel_ip != node)
			return 0;
		other = in6_fold(n->tunnel_ip6);
	}
	if (!other || other != e->nat_addr)
		return 0;
	e->nat_addr = node;
	return 1;
}

/*
 * dsr_node_moved on a copy of node6 (outer6: the IPv6 underlay's sender)
 * made here, on the way there: the caller's node6 never has its address
 * taken, so the XDP path keeps the record's in registers as before.
 */
static __always_inline int dsr_node_moved_at(struct xcni_ct_entry *e, __u32 node,
					     const __u8 *node6, int outer6)
{
	__u8 a[16];

	if (!outer6)
		return dsr_node_moved(e, node, NULL);
	__builtin_memcpy(a, node6, 16);
	return dsr_node_moved(e, node, a);
}

/*
 * A packet of a DSR flow without the option (it did not fit): its entry
 * here, opened with the option, names the node that sent it (nat_addr: the
 * sending node's underlay IPv4, or its IPv6 folded, in6_fold), at this
 * address (node: IPv4; over the IPv6 underlay, outer6, node6's fold, node6
 * the address) or at its other one (dsr_node_moved).
 */
static __always_inline int dsr_flow_known(const struct flow *f, int fam, __u32 node,
					  const __u8 *node6, int outer6)
{
	struct xcni_ct_entry *e = bpf_map_lookup_elem(ct_map(fam), &f->tuple);

	return e && (e->flags & XCNI_CT_F_DSR) &&
	       (e->nat_addr == node || dsr_node_moved_at(e, node, node6, outer6)) &&
	       ct_alive(e, bpf_ktime_get_ns(),
			fam == XCNI_AF_INET ? f->tuple.v4.proto : ct6_life_proto(f->tuple.v6.proto));
}

/*
 * A DSR flow's new entry: the node that opened it, for dsr_flow_known.
 * node NULL (from_overlay4: IPv4 over the IPv4 underlay, still
 * encapsulated): the outer source, read again from the packet; else *node,
 * held by the caller (overlay_decap_first, either inner family): the
 * sending node's underlay IPv6 folded (in6_fold), or its IPv4 address for
 * a packet decapsulated at XDP over the IPv4 underlay.
 */
static __attribute__((noinline)) void dsr_record(struct __sk_buff *skb, const struct flow *f,
						 int fam, const __u32 *node)
{
	struct xcni_ct_entry *e = bpf_map_lookup_elem(ct_map(fam), &f->tuple);
	__u32 from;

	if (!e)
		return;
	if (node) {
		from = *node;
	} else if (bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct iphdr, saddr), &from,
				      sizeof(from))) {
		return;
	}
	e->nat_addr = from;
}

/*
 * The node of an IPv4 backend that is another node's pod (the overlay
 * reaches it), or 0: its IPv4 underlay address, or XCNI_TUN6 (tunnel_of: a
 * node behind the IPv6 underlay) with *dst6 its tunnel_ip6, else NULL. The
 * SNAT source is node_ip whichever the underlay: a node without an IPv4
 * address has none for it, 0 (drop-no-tunnel).
 */
static __always_inline __u32 np4_tunnel(__u32 daddr, const __u8 **dst6)
{
	const struct xcni_ipcache_val *dipc = ipcache_lookup(daddr);

	*dst6 = NULL;
	if (!dipc || !(dipc->flags & XCNI_IPC_POD) || !node_ip)
		return 0;
	/* tunnel_of's answer, dst6 set on the flag and ul6_on (not on the
	 * answer's value, which a tunnel_ip could share): an IPv4 underlay's
	 * node (node_ip6 zero) has its IPv6 branch left out by the verifier. */
	if (dipc->flags & XCNI_IPC_TUN6) {
		if (!ul6_on())
			return 0;
		*dst6 = dipc->tunnel_ip6;
		return XCNI_TUN6;
	}
	return dipc->tunnel_ip;
}

#endif
