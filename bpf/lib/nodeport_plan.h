/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The NodePort plan (docs/decisions/nodeport-plan.md): what a packet from
 * outside to an external frontend becomes, decided over the maps and the
 * flow alone, nothing of the packet written: the frontend (the EXT entry),
 * the source rules, the backend (lb_flow_choose), the tunnel to the
 * backend's node (np_tunnel) and the underlay's next hop, the SNAT address
 * and port (np_snat_choose) or DSR (the client kept), conntrack and the
 * service entry, and the rules under them (the SNAT's port range, its
 * ports and each client's budget, the SNAT source, the client's place).
 * struct np_plan holds the result; an executor applies it to the packet:
 * nodeport_xdp.h's npx_apply (direct writes, XDP_TX), or tc's from_outside
 * (nodeport.h): the same stages with its drop reasons where XDP hands on
 * (NP_NO), its writes between them (nodeport_tc.h; the DNAT before the
 * too-big answers, which quote the client's packet by undoing it).
 *
 * A plan that cannot be applied by its hook says so before anything is
 * written (NP_PLAN_TC): every test that hands a packet on comes before the
 * first entry is opened, so tc then does exactly what it does alone. The
 * rules of what goes on to tc are nodeport_xdp.h's head comment.
 */
#ifndef XCNI_NODEPORT_PLAN_H
#define XCNI_NODEPORT_PLAN_H

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

/* The outside of a packet from the underlay (from_outside, ovl_outside6). */
#define OUTSIDE (external_clusterip ? LB_OUTSIDE | LB_OUTSIDE_CIP : LB_OUTSIDE)

/* The generation and policy revision now: what a flow cache entry is made
 * under (nodeport_cache.h), and what tc checks XDP's handed choice against
 * (struct xcni_np_meta). */
static __always_inline __u64 npc_gen(void)
{
	__u64 *g = bpf_map_lookup_elem(&xcni_npgen, &map_zero);
	__u32 *rev = bpf_map_lookup_elem(&xcni_polrev, &map_zero);

	return (g ? *g : 0) << 32 ^ (rev ? *rev : 0);
}

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
 * is in xcni_snat by the SNATed tuple. 0, or -1: none.
 */
static __always_inline int np_snat_client(int fam, const struct xcni_ct_entry *e,
					  const union xcni_tuple *k, const void **addr,
					  __u16 *port)
{
	const struct xcni_snat *sn;

	if (fam == XCNI_AF_INET) {
		*addr = &e->nat_addr;
		*port = e->nat_port;
		return 0;
	}
	sn = bpf_map_lookup_elem(&xcni_snat, k);
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

/*
 * Is the SNAT record sn (the tuple's client, xcni_snat) alive at now: opened
 * or answered within its protocol's established life? It outlives the
 * tuple's conntrack entry, which a pod's flood may push out: while it lives,
 * the tuple is its client's (np_snat_free, np_snat_mine) and a reply that
 * finds no entry opens it again (np_snat_reopen).
 */
static __always_inline int np_snat_rec_live(const struct xcni_snat *sn, __u64 now, __u8 proto)
{
	return now <= sn->last_ns ||
	       now - sn->last_ns <= xcni_ct_lifetime(XCNI_CT_ESTABLISHED, proto);
}

/* The tuple t->k (its conntrack entry e, its record sn) is the client
 * t->sn's: its live flow, by its entry or, the entry pushed out, its record. */
static __always_inline int np_snat_mine(const struct xcni_ct_entry *e, const struct xcni_snat *sn,
					const struct np6_tmp *t)
{
	return sn && in6_eq(sn->client, t->sn.client) && sn->cport == t->sn.cport &&
	       (e ? ct_alive(e, t->now, t->fk.proto) : np_snat_rec_live(sn, t->now, t->fk.proto));
}

/* May a new flow (its client t->sn's) take the tuple t->k? By its entry's
 * rules (snat_port_free); with no entry, unless its record is another
 * client's and alive (a flood pushed that flow's entry out, not the flow).
 * A tuple answered and never confirmed 5 s on (xcni_snat_waited) is no
 * more than a spare: np_snat_port_call takes it only when none of its
 * tries found a free port. */
static __always_inline int np_snat_free(const struct xcni_ct_entry *e, const struct xcni_snat *sn,
					const struct np6_tmp *t)
{
	if (e)
		return snat_port_free(e, t->now, t->fk.proto, XCNI_TCP_SYN);
	return !sn || !np_snat_rec_live(sn, t->now, t->fk.proto) ||
	       (in6_eq(sn->client, t->sn.client) && sn->cport == t->sn.cport);
}

__attribute__((noinline)) int np_snat_port_call(__u32 keep)
{
	struct np6_tmp *t = bpf_map_lookup_elem(&xcni_np6_tmp, &map_zero);
	struct xcni_ct_entry *e;
	struct xcni_snat *sn;
	__u16 port;

	if (!t)
		return NP_SNAT_NONE;
	t->now = bpf_ktime_get_ns();
	t->start = bpf_get_prandom_u32();
	t->spare = 0;
	if (keep) {
		/* The service entry's port, while the tuple is still this client's. */
		if (t->fam == XCNI_AF_INET) {
			((struct xcni_ct_key *)&t->k)->sport = keep;
			e = ct_find(XCNI_AF_INET, &t->k);
		} else {
			t->k.sport = keep;
			e = ct_find(XCNI_AF_INET6, &t->k);
		}
		sn = bpf_map_lookup_elem(&xcni_snat, &t->k);
		if (np_snat_mine(e, sn, t))
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
			/* A packet that opens nothing looks for its own tuple
			 * only, among the ports its flow's hash names. */
			if (!t->opens && i >= 4)
				return NP_SNAT_NOPEN;
			port = bpf_htons(NP_SNAT_PORT_MIN + ((i < 4 ? t->h : t->start) +
							    i * NP_SNAT_STRIDE) % NP_SNAT_PORTS);
		}
		t->fk.port = port;
		if (!snat_port_ok(&t->fk))
			continue;
		if (t->fam == XCNI_AF_INET) {
			((struct xcni_ct_key *)&t->k)->sport = port;
			e = ct_find(XCNI_AF_INET, &t->k);
		} else {
			t->k.sport = port;
			e = ct_find(XCNI_AF_INET6, &t->k);
		}
		sn = bpf_map_lookup_elem(&xcni_snat, &t->k);
		if (t->opens && np_snat_free(e, sn, t))
			return t->fk.port | NP_SNAT_NEW | (e ? NP_SNAT_STALE : 0);
		if (np_snat_mine(e, sn, t))
			return t->fk.port | NP_SNAT_NEW;
		if (t->opens && !t->spare && e && xcni_snat_waited(e, sn, t->now))
			t->spare = t->fk.port;
	}
	if (!t->opens)
		return NP_SNAT_NOPEN;
	if (!t->spare)
		return NP_SNAT_NONE;
	/* No free port: the first waited tuple tried, its entry removed by
	 * the caller (t->k names it again). A flow its backend answers and
	 * its client never confirms (a UDP stream after one datagram) keeps
	 * its port until the ports run short, when spoofers' tuples go first. */
	t->fk.port = (__u16)t->spare;
	if (t->fam == XCNI_AF_INET)
		((struct xcni_ct_key *)&t->k)->sport = t->fk.port;
	else
		t->k.sport = t->fk.port;
	return t->fk.port | NP_SNAT_NEW | NP_SNAT_STALE;
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
	int r;

	t = bpf_map_lookup_elem(&xcni_np6_tmp, &map_zero);
	if (!t)
		return NP_SNAT_NONE;
	/* IPv4's key the record's too: its 24 bytes after the tuple zero. */
	__builtin_memset(&t->k, 0, sizeof(t->k));
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
	/* Off np_snat_port_call's frame (ovl_outside6's chain): the stale
	 * entry out, at tc (the fast path writes nothing before it may hand a
	 * packet on: it hands this one on). */
	if (r > 0 && (r & NP_SNAT_STALE)) {
		if (xdp)
			return NP_SNAT_NONE;
		ct_entry_remove(fam, &t->k);
	}
	return r;
}

/* The SNAT client budget's settings (config.h's snat_cl_*, 0: the defaults). */
static __always_inline __u32 np_cl_burst(void)
{
	return snat_cl_burst ? snat_cl_burst : XCNI_SNAT_CL_BURST;
}

static __always_inline __u32 np_cl_tok_ns(void)
{
	return snat_cl_tok_ns ? snat_cl_tok_ns : 1000000000ULL / XCNI_SNAT_CL_RATE;
}

static __always_inline __u32 np_cl_max(void)
{
	return snat_cl_max ? snat_cl_max : XCNI_SNAT_CL_MAX;
}

/*
 * The bucket at *ck (burst tokens, one back every tok_ns): its tokens at now
 * (a full bucket: none yet), its entry into *cl.
 */
static __always_inline __u32 np_bucket(const struct xcni_snat_cl_key *ck, __u32 burst,
				       __u64 tok_ns, __u64 now, struct xcni_snat_cl **cl)
{
	__u64 more;

	*cl = bpf_map_lookup_elem(&xcni_snat_cl, ck);
	if (!*cl)
		return burst;
	if (now <= (*cl)->ts_ns)
		return (*cl)->tokens;
	more = (now - (*cl)->ts_ns) / tok_ns;
	return more >= burst - (*cl)->tokens ? burst : (*cl)->tokens + (__u32)more;
}

/* The client at a (the family's bytes) as a key, into t->ck: an IPv4
 * address, an IPv6 address's /56 (XCNI_V6_SITE_W1). */
static __always_inline void np_snat_ck(int fam, const __u32 *a, struct np6_tmp *t)
{
	t->ck.a[0] = a[0];
	t->ck.a[1] = fam == XCNI_AF_INET ? 0 : XCNI_V6_SITE_W1(a[1]);
	t->ck.family = fam;
	t->ck.pad[0] = t->ck.pad[1] = t->ck.pad[2] = 0;
}

/*
 * The budget of new SNAT tuples of the client at addr (the family's bytes:
 * an IPv4 address, an IPv6 address charged as its /56: XCNI_V6_SITE_W1) into
 * t->ck, its bucket's key; its tokens at now. And the node's budget of new
 * tuples (t->nk, family 0: XCNI_SNAT_NEW_*) into *node, its entry into *ncl.
 */
static __always_inline __u32 np_snat_tokens(int fam, const void *addr, __u64 now,
					    struct np6_tmp *t, struct xcni_snat_cl **cl,
					    __u32 *node, struct xcni_snat_cl **ncl)
{
	const __u32 *a = addr;

	__builtin_memset(&t->nk, 0, sizeof(t->nk));
	*node = np_bucket(&t->nk, XCNI_SNAT_NEW_BURST, 1000000000ULL / XCNI_SNAT_NEW_RATE, now,
			  ncl);
	np_snat_ck(fam, a, t);
	return np_bucket(&t->ck, np_cl_burst(), np_cl_tok_ns(), now, cl);
}

/*
 * May the client at addr open one more SNAT tuple here? Fewer than
 * np_cl_max held, and a token of its own and one of the node's; or, a client
 * known (in xcni_snat_known: a TCP tuple of its own was confirmed,
 * np_snat_confirm), either. Its own bucket is
 * keyed by an address any spoofer writes: spent by spoofed datagrams, it
 * stops only unknown senders; the client known keeps opening from the node's
 * budget, which only a flood of the whole node spends (snat-per-client.md,
 * "Forged clients"). Read only: the XDP fast path asks before it may hand
 * the packet on to tc.
 */
static __always_inline int np_snat_budget_ok(int fam, const void *addr, int xdp)
{
	struct np6_tmp *t = bpf_map_lookup_elem(&xcni_np6_tmp, &map_zero);
	struct xcni_snat_cl *cl, *ncl;
	__u32 own, node;

	if (!t)
		return 1;
	own = np_snat_tokens(fam, addr, bpf_ktime_get_ns(), t, &cl, &node, &ncl);
	if ((!cl || cl->held < np_cl_max()) &&
	    ((own && node) ||
	     ((own || node) && bpf_map_lookup_elem(&xcni_snat_known, &t->ck))))
		return 1;
	/* Counted where it is dropped (the fast path hands it on to tc). */
	if (cl && !xdp)
		__sync_fetch_and_add(&cl->refused, 1);
	return 0;
}

/*
 * One token taken from the bucket cl (tok of them at now; NULL: none yet,
 * a new one written at t->ck's copy in key, burst - 1 left). The clock moves
 * on by the whole tokens given back only, so none is lost to rounding.
 * Per-CPU races may let a few more through, never fewer.
 */
static __always_inline void np_bucket_take(struct xcni_snat_cl *cl, __u32 tok, __u32 burst,
					   __u64 tok_ns, __u64 now,
					   const struct xcni_snat_cl_key *key, struct np6_tmp *t)
{
	if (!cl) {
		/* The new bucket from np6_tmp's room too (off the frame). */
		__builtin_memset(&t->ncl, 0, sizeof(t->ncl));
		t->ncl.ts_ns = now;
		t->ncl.tokens = burst - 1;
		t->ncl.held = 1;
		bpf_map_update_elem(&xcni_snat_cl, key, &t->ncl, BPF_NOEXIST);
		return;
	}
	if (tok >= burst || now <= cl->ts_ns)
		cl->ts_ns = now;
	else
		cl->ts_ns += (__u64)(tok - cl->tokens) * tok_ns;
	cl->tokens = tok - 1;
}

/*
 * ... and its tokens taken (np_snat_budget_ok's: its own if it has one, the
 * node's if there is one), the flow's SNAT tuple opened (np_snat_open).
 */
static __always_inline void np_snat_charge(int fam, const void *addr)
{
	__u64 now = bpf_ktime_get_ns();
	struct np6_tmp *t = bpf_map_lookup_elem(&xcni_np6_tmp, &map_zero);
	struct xcni_snat_cl *cl, *ncl;
	__u32 tok, node;

	if (!t)
		return;
	tok = np_snat_tokens(fam, addr, now, t, &cl, &node, &ncl);
	if (node)
		np_bucket_take(ncl, node, XCNI_SNAT_NEW_BURST, 1000000000ULL / XCNI_SNAT_NEW_RATE,
			       now, &t->nk, t);
	if (tok)
		np_bucket_take(cl, tok, np_cl_burst(), np_cl_tok_ns(), now, &t->ck, t);
	if (cl)
		cl->held++;
}

/*
 * The TCP header's word at byte off (4: the sequence, 8: the acknowledgement;
 * network order) of f's packet, either hook (xdp a constant): ctx the skb at
 * tc, the XDP frame (no IP options nor extension headers: the fast path's)
 * at XDP. 0 when it is not there.
 */
static __always_inline __u32 np_tcp_word(void *ctx, int xdp, const struct flow *f, int fam,
					 __u32 off)
{
	__u32 w = 0;

	if (xdp) {
		void *d = (void *)(long)((struct xdp_md *)ctx)->data;
		void *end = (void *)(long)((struct xdp_md *)ctx)->data_end;

		d += ETH_HLEN + off +
		     (fam == XCNI_AF_INET ? sizeof(struct iphdr) : sizeof(struct xcni_ip6hdr));
		if (d + 4 <= end)
			__builtin_memcpy(&w, d, 4);
	} else if (bpf_skb_load_bytes(ctx, flow_l4_off(f, fam) + off, &w, 4)) {
		return 0;
	}
	return w;
}

/*
 * A reply (f, at tc) of the SNATed flow whose record is sn: a SYN-ACK still
 * awaited by the record gives it its sequence + 1, the acknowledgement only
 * the client that received it sends (np_snat_confirm). A SYN-ACK again (the
 * client's ACK lost) writes the same.
 */
static __always_inline void np_snat_answered(struct __sk_buff *skb, const struct flow *f, int fam,
					     struct xcni_snat *sn)
{
	if (sn->ack && flow_proto(f, fam) == IPPROTO_TCP && (f->tcp_flags & XCNI_TCP_SYN))
		sn->ack = bpf_htonl(bpf_ntohl(np_tcp_word(skb, 0, f, fam, 4)) + 1);
}

/*
 * The client's packet of the SNATed flow f (this node -> backend; ctx its
 * hook's, xdp a constant) after the backend's reply (the service entry
 * still NEW, the flow's ESTABLISHED): does it confirm the tuple? TCP's when
 * it acknowledges the SYN-ACK's sequence + 1 (the record's ack), which a
 * blind spoofer does not know; UDP's by coming after the reply, which
 * proves nothing (no secret in the protocol). Confirmed, the record waits
 * no more (its port held the established life, not xcni_snat_waited's 5 s)
 * and, TCP only, its client at addr is known (np_snat_budget_ok): a UDP
 * datagram never makes a client known (snat-per-client.md, "Known by the
 * SYN-ACK's number"). 1: confirmed, 0: not (the service entry stays NEW).
 */
static __always_inline int np_snat_confirm(void *ctx, int xdp, int fam, const struct flow *f,
					   const void *addr)
{
	struct np6_tmp *t = bpf_map_lookup_elem(&xcni_np6_tmp, &map_zero);
	int tcp = flow_proto(f, fam) == IPPROTO_TCP;
	struct xcni_snat *sn;
	__u64 now;

	if (!t)
		return 1;
	__builtin_memset(&t->k, 0, sizeof(t->k));
	lb_tuple_copy((union xcni_tuple *)&t->k, &f->tuple, fam);
	sn = bpf_map_lookup_elem(&xcni_snat, &t->k);
	if (!sn)
		return 1;
	if (tcp && sn->ack && sn->ack != np_tcp_word(ctx, xdp, f, fam, 8))
		return 0;
	sn->ack = 0;
	if (!tcp)
		return 1;
	now = bpf_ktime_get_ns();
	np_snat_ck(fam, addr, t);
	bpf_map_update_elem(&xcni_snat_known, &t->ck, &now, BPF_ANY);
	return 1;
}

/*
 * The SNAT source for a flow to frontend fe: fe itself when it is this node's
 * own address (a NodePort), else this node's IPv6 InternalIP (xcni_self6),
 * else, none written yet on an IPv6 underlay, the node's underlay address
 * (node_ip6, there from the load; the other nodes tunnel to it when it is
 * their view of this node's InternalIP, pol_tunnel_set), copied into t.
 * Either must be the host's in the ipcache6, for the replies come back there
 * (ovl_decap6 takes decapsulated packets for the host only). NULL: none.
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
 * the service entry holds, else lb_snat_port's). The backend's node is the caller's to have found
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
	*selfp = self;
	return 0;
}

/*
 * After ct_track (ct) of the SNATed flow f (this node -> backend), len bytes,
 * either hook, either family: a new flow's entry (hook: XCNI_CT_F_XDP from
 * the XDP fast path, 0 from tc) and its record in xcni_snat (the client,
 * orig's source, for its replies, and the frontend: both families' in the
 * one map only the SNAT writes, out of a pod's conntrack flood's reach;
 * IPv4's client in the entry too, for ICMP errors and the flow views).
 * Nothing to judge here (no pod of this node on either end): the backend's
 * node judges its ingress, the source being this node. 0, or -1 (the
 * record not written).
 */
static __always_inline int np_snat_open(const struct flow *f, int fam, const void *orig, int ct,
					__u32 len, __u8 hook)
{
	const struct xcni_snat *old;
	struct xcni_ct_entry *e;
	struct np6_tmp *t;

	if (ct != CT_NEW && ct != CT_STALE)
		return 0;
	ct_commit(f, fam, ct, len, 0, XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT | hook);
	/* A new tuple is the client's (a stale one, judged again, is not new). */
	if (ct == CT_NEW)
		np_snat_charge(fam, tuple_saddr((const union xcni_tuple *)orig, fam));
	t = bpf_map_lookup_elem(&xcni_np6_tmp, &map_zero);
	if (!t)
		return -1;
	__builtin_memset(&t->sn, 0, sizeof(t->sn));
	/* A new tuple waits for its client; a stale one keeps what it had. */
	__builtin_memset(&t->k, 0, sizeof(t->k));
	lb_tuple_copy((union xcni_tuple *)&t->k, &f->tuple, fam);
	old = ct == CT_NEW ? NULL : bpf_map_lookup_elem(&xcni_snat, &t->k);
	t->sn.ack = ct == CT_NEW ? XCNI_SNAT_WAIT : old ? old->ack : 0;
	lb_addr_set(t->sn.client, tuple_saddr((const union xcni_tuple *)orig, fam), fam);
	t->sn.cport = tuple_sport((const union xcni_tuple *)orig, fam);
	t->sn.rev_nat = f->rev_nat;
	t->sn.last_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&xcni_snat, &t->k, &t->sn, BPF_ANY))
		return -1;
	if (fam == XCNI_AF_INET6)
		return 0;
	e = bpf_map_lookup_elem(&xcni_ct, &f->tuple.v4);
	if (e) {
		e->nat_addr = ((const struct xcni_ct_key *)orig)->saddr;
		e->nat_port = ((const struct xcni_ct_key *)orig)->sport;
	}
	return 0;
}

/*
 * A reply (f: backend -> this node's SNAT port, either family) of a flow
 * whose record sn lives (np_snat_rec_live) but whose conntrack entry is
 * gone (ct_track did not find it its reply: a pod's flood pushed it out of
 * the LRU): the entry opened again from the record, established (a reply
 * has come), as the SNAT opened it, the packet then its reply (f->rev_nat
 * the record's). The record stamped as answered now. 0, or -1: no such
 * record alive, the packet left as ct_track judged it.
 */
static __always_inline int np_snat_reopen(struct flow *f, int fam, struct xcni_snat *sn, int ct)
{
	struct np6_tmp *t = bpf_map_lookup_elem(&xcni_np6_tmp, &map_zero);
	__u64 now = bpf_ktime_get_ns();

	if (!t)
		return -1;
	if (ct != CT_REPLY) {
		if (!np_snat_rec_live(sn, now, flow_proto(f, fam)))
			return -1;
		/* Pushed out, not expired nor closed: an entry still there
		 * (a closed flow's) says what it says. */
		flow_reverse(f, fam, &t->k);
		if (bpf_map_lookup_elem(ct_map(fam), &t->k))
			return -1;
		__builtin_memset(&t->ce, 0, sizeof(t->ce));
		t->ce.created_ns = t->ce.last_ns = now;
		t->ce.pkts_reply = 1;
		t->ce.state = XCNI_CT_ESTABLISHED;
		t->ce.flags = XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT;
		t->ce.policy_rev = f->policy_rev;
		t->ce.rev_nat = sn->rev_nat;
		if (fam == XCNI_AF_INET) {
			t->ce.nat_addr = *(const __u32 *)sn->client;
			t->ce.nat_port = sn->cport;
		}
		ct_entry_add(fam, &t->k, &t->ce, 1);
		f->rev_nat = sn->rev_nat;
	}
	sn->last_ns = now;
	return 0;
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
	const struct xcni_ipcache_val *dipc = ipcache4_lookup(daddr);

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


#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/*
 * The node of a NodePort flow's backend daddr (the family's address), when
 * it is another node's pod that the overlay reaches, else 0: over the
 * underlay tunnel_of says (XCNI_TUN6: the IPv6 one, *dst6 the node's
 * address there, else NULL). IPv4's needs this node's IPv4 address, its
 * SNAT source (np4_tunnel); IPv6's encapsulation at tc looks *dst6 up
 * again in a frame of its own (nodeport6_encap_call);
 * the XDP fast path takes it from here.
 */
static __always_inline __u32 np_tunnel(int fam, const void *daddr, const __u8 **dst6)
{
	const struct xcni_ipcache_val *dipc;

	__u32 tunnel;

	if (fam == XCNI_AF_INET)
		return np4_tunnel(*(const __u32 *)daddr, dst6);
	*dst6 = NULL;
	dipc = ipcache_find(fam, daddr);
	tunnel = dipc && (dipc->flags & XCNI_IPC_POD) ? tunnel_of(dipc, node_ip) : 0;
	if (dipc && tunnel == XCNI_TUN6)
		*dst6 = dipc->tunnel_ip6;
	return tunnel;
}

/*
 * One packet's plan. The caller sets f (its parsed flow), len, src, IPv4's
 * st (its struct lb4_state) and XDP's IPv4 fib, in and h on its stack
 * (IPv6's are xcni_lb6_tmp's and xcni_np6_tmp's: xdp_nodeport6's chain at
 * the verifier's 512 bytes). The plan fills the rest: f becomes the
 * translated tuple (backend, SNAT source and port), orig the client's.
 */
struct np_plan {
	struct flow *f;
	union lb_state st;
	struct lb6_tmp *tmp;
	struct np6_tmp *t;
	const void *orig;
	const struct xcni_svc *svc;
	const struct xcni_backend *be;
	struct xcni_ct_entry *se; /* the flow's service entry */
	struct bpf_fib_lookup *fib; /* the underlay's next hop: its MACs */
	struct encap_in *in;
	struct outer_hdrs *h;
	const __u8 *dst6; /* the backend's node over the IPv6 underlay, else NULL */
	const struct xcni_endpoint *ep; /* a backend on this node (tc's) */
	__u32 tunnel, encap, len;
	__u32 src; /* tc: what from_plain found of the source (LB_OUTSIDE_SRC*) */
	__u32 meta; /* tc: XDP's handed choice (np_meta_read), 0: none */
	__u16 nport; /* the SNAT port */
};

/* What np_plan says: not a frontend's (untouched, uncounted); tc's
 * (untouched, counted as handed on); a failure after the entries; apply. */
#define NP_PLAN_GO 0
#define NP_PLAN_NOT_OURS 1
#define NP_PLAN_TC 2
#define NP_PLAN_ABORT 3

/* What a step of the plan says when it refuses (xdp a constant): at XDP the
 * hand-on to tc, at tc its drop reason. */
#define NP_NO(xdp, reason) ((xdp) ? NP_PLAN_TC : (reason))

/* A random pick among several: tc would not make it again (np_plan). */
static __always_inline int np_random_pick(const struct xcni_svc *svc)
{
	return !(svc->flags & (XCNI_SVC_F_MAGLEV | XCNI_SVC_F_AFFINITY)) &&
	       (svc->count > 1 || (!svc->count && svc->count_term > 1));
}

/*
 * The external frontend at daddr:dport (family fam, a constant; proto),
 * or NULL: the first lookup of XDP's plan and of its flow cache
 * (nodeport_cache.h's npc_hit), the one a packet no frontend's pays.
 */
static __always_inline const struct xcni_svc *np_frontend(int fam, const void *daddr,
							   __be16 dport, __u8 proto)
{
	struct xcni_svc_key k = { .family = fam, .scope = XCNI_SCOPE_EXT };

	__builtin_memcpy(k.addr, daddr, fam == XCNI_AF_INET ? 4 : 16);
	k.port = dport;
	k.proto = proto;
	return bpf_map_lookup_elem(&xcni_svc, &k);
}

/*
 * XDP's handed choice (pl->meta: np_meta_read's, tc only): the flow's
 * service entry, of the frontend XDP found (its rev_nat), still names its
 * backend (lb_flow_kept) under the generation XDP's flow cache entry was
 * made under; then st is filled as lb_flow_choose fills it for a kept flow
 * and the packet counted into the entry, the frontend's lookup and the
 * outside rules (judged when the flow's first packets took the full path,
 * in this generation) not made again. 0: anything else, nothing written,
 * lb_flow_choose's to decide.
 */
static __always_inline int np_plan_handed(int fam, struct np_plan *pl)
{
	struct flow *f = pl->f;
	struct xcni_ct_entry *e = bpf_map_lookup_elem(ct_map(fam), &f->tuple);
	const struct xcni_backend *be;
	__u64 now = bpf_ktime_get_ns();

	if (!e || e->rev_nat != (__u16)pl->meta)
		return 0;
	be = lb_flow_kept(e, now, flow_proto(f, fam), f->tcp_flags);
	if (!be || be->family != fam)
		return 0;
	lb_flow_count(e, now, f->len);
	LB_ST(pl->st, fam, svc_flags) = (__u8)(pl->meta >> 16);
	if (fam == XCNI_AF_INET)
		pl->st.v4->svc_ct = e;
	else
		pl->st.v6->rev_nat = e->rev_nat;
	LB_ST(pl->st, fam, backend_id) = e->backend_id;
	LB_ST(pl->st, fam, translated) = 1;
	lb_tuple_copy(lb_st_orig(pl->st, fam), &f->tuple, fam);
	pl->be = be;
	return 1;
}

/*
 * The frontend, the source rules and the backend, either hook (xdp and fam
 * constants, pl->f the parsed flow), then f translated to the backend. XDP
 * looks the frontend (EXT) up first, the cheap miss; Geneve, a frontend
 * whose backends are all here (XCNI_SVC_F_LOCAL_BE) and a forged reply
 * (from_plain's at tc) it hands on; its service entry is deferred
 * (lb_flow_open). tc's frontend is lb_flow_choose's (lb_frontend_of: the
 * lookup here put ovl_outside4's chain 32 bytes past the verifier's 512).
 */
static __always_inline int np_plan_choose(int xdp, int fam, struct np_plan *pl)
{
	struct xcni_svc_key k = { .family = fam, .scope = XCNI_SCOPE_EXT };
	struct flow *f = pl->f;
	__u32 zero = 0, alen = fam == XCNI_AF_INET ? 4 : 16;
	__u8 proto = fam == XCNI_AF_INET ? f->tuple.v4.proto : f->tuple.v6.proto;
	int r;

	if (xdp) {
		if (proto == IPPROTO_UDP && *lb_dport(f, fam) == bpf_htons(XCNI_GENEVE_PORT))
			return NP_PLAN_NOT_OURS;
		pl->svc = np_frontend(fam, flow_daddr(f, fam), *lb_dport(f, fam), proto);
		if (!pl->svc)
			return NP_PLAN_NOT_OURS;
		if (pl->svc->flags & XCNI_SVC_F_LOCAL_BE)
			return NP_PLAN_TC;
		/* from_plain's rule: a frontend as source (a forged reply), its
		 * ipcache entry looked up only then (a remote node's own address
		 * at a NodePort's number is no forgery). The rest of the sources
		 * tc refuses are lb_flow_choose's (outside_source_ok). */
		k.proto = proto;
		__builtin_memcpy(k.addr, flow_saddr(f, fam), alen);
		k.port = *lb_sport(f, fam);
		if (lb_src_frontend(&k, NULL) &&
		    lb_src_frontend(&k, ipcache_find(fam, flow_saddr(f, fam))))
			return NP_PLAN_TC;
	}
	if (fam == XCNI_AF_INET6) {
		pl->tmp = lb6_tmp_get();
		pl->t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero);
		if (!pl->tmp || !pl->t)
			return NP_NO(xdp, NP_PLAN_NOT_OURS);
		__builtin_memset(&pl->tmp->st, 0, sizeof(pl->tmp->st));
		pl->st.v6 = &pl->tmp->st;
		pl->fib = &pl->t->fib;
		pl->h = (struct outer_hdrs *)pl->t->outer;
		pl->in = &pl->t->in;
		__builtin_memset(pl->fib, 0, sizeof(*pl->fib));
	}
	/* At tc, XDP's choice when it handed one (np_plan_handed); else the
	 * outside rules, the backend (XDP's frontend is svc, the EXT entry
	 * lb_frontend_of would find again). */
	if (!xdp && pl->meta && np_plan_handed(fam, pl)) {
		f->rev_nat = (__u16)pl->meta;
	} else {
		r = lb_flow_choose(f, fam, 0, pl->st, OUTSIDE | pl->src, xdp, pl->tmp, &pl->svc,
				   &pl->be, &pl->se);
		if (r != 1 || !pl->svc || !pl->be)
			return NP_NO(xdp, r ?: NP_PLAN_NOT_OURS);
		f->rev_nat = pl->svc->rev_nat;
	}
	pl->orig = lb_st_orig(pl->st, fam);
	/* The translated destination, as lb_dnat leaves a pod's. */
	__builtin_memcpy(flow_daddr(f, fam), pl->be->addr, alen);
	*lb_dport(f, fam) = pl->be->port;
	f->backend_id = LB_ST(pl->st, fam, backend_id);
	return NP_PLAN_GO;
}

/*
 * Where the translated flow goes, either hook (xdp a constant; ctx XDP's,
 * NULL at tc): a backend on this node (pl->ep) is tc's (np_into_pod); a pod
 * of another node np_tunnel's node (dst6 set over the IPv6 underlay), none
 * a drop. At XDP the underlay's next hop out of the device the packet came
 * in by: the FIB lookup checks tot_len (the encapsulated frame's) against
 * the route's MTU (BPF_FIB_LKUP_RET_FRAG_NEEDED: to tc, which answers
 * np_too_big), so no bpf_check_mtu beside it; a neighbour not resolved is
 * tc's (bpf_redirect_neigh).
 */
static __always_inline int np_plan_route(struct xdp_md *ctx, int xdp, int fam, struct np_plan *pl)
{
	struct bpf_fib_lookup *fib = pl->fib;
	const void *daddr = flow_daddr(pl->f, fam);

	pl->ep = bpf_map_lookup_elem(endpoints_map(fam), daddr);
	if (pl->ep)
		return NP_NO(xdp, NP_PLAN_GO);
	pl->tunnel = np_tunnel(fam, daddr, &pl->dst6);
	if (!pl->tunnel || (pl->tunnel == XCNI_TUN6 && !pl->dst6))
		return NP_NO(xdp, XCNI_DROP_NO_TUNNEL);
	if (!xdp)
		return NP_PLAN_GO;
	if (pl->dst6) {
		__u32 *sa = fib->ipv6_src;

		pl->encap = lb_dsr ? XCNI_ENCAP6_DSR_LEN : XCNI_ENCAP6_LEN;
		fib->family = AF_INET6;
		sa[0] = node_ip6[0];
		sa[1] = node_ip6[1];
		sa[2] = node_ip6[2];
		sa[3] = node_ip6[3];
		__builtin_memcpy(fib->ipv6_dst, pl->dst6, 16);
	} else {
		pl->encap = lb_dsr ? XCNI_ENCAP_DSR_LEN : XCNI_ENCAP_LEN;
		fib->family = AF_INET;
		fib->ipv4_src = node_ip;
		fib->ipv4_dst = pl->tunnel;
	}
	fib->l4_protocol = IPPROTO_UDP;
	fib->tot_len = pl->len - ETH_HLEN + pl->encap;
	fib->ifindex = ctx->ingress_ifindex;
	if (bpf_fib_lookup(ctx, fib, sizeof(*fib), BPF_FIB_LOOKUP_OUTPUT) !=
		    BPF_FIB_LKUP_RET_SUCCESS ||
	    fib->ifindex != ctx->ingress_ifindex)
		return NP_PLAN_TC;
	return NP_PLAN_GO;
}

/*
 * SNAT to this node (np_snat_choose: the replies come back here), either
 * hook (xdp a constant), nothing written but the scratch t (IPv6's client
 * for np_snat_open): f, the flow translated to its backend, takes this
 * node's address and the port (the one the service entry se keeps, else a
 * new one); orig the client's tuple. DSR keeps the client: nothing to do.
 * NP_PLAN_GO or NP_NO's.
 */
static __always_inline int np_plan_snat(int xdp, int fam, struct flow *f, const void *orig,
					const struct xcni_ct_entry *se, struct np6_tmp *t)
{
	const void *self = NULL;
	__u32 self4;
	__u16 nport = 0;
	int r;

	if (lb_dsr)
		return NP_PLAN_GO;
	r = np_snat_choose(f, fam, orig, se, t, &self4, &self, &nport, xdp);
	if (r || !self)
		return NP_NO(xdp, r ?: XCNI_DROP_NO_TUNNEL);
	lb_addr_set(flow_saddr(f, fam), self, fam);
	*lb_sport(f, fam) = nport;
	return NP_PLAN_GO;
}

/*
 * Conntrack of the flow f (SNATed, or DSR's client kept; len bytes), then
 * the entries in tc's order, either hook (xdp a constant; skb tc's, NULL
 * at XDP): the service entry se takes the SNAT port and follows the flow's
 * state (lb_flow_follow's), a new flow's entry is opened (np_snat_open:
 * IPv4's client in it, IPv6's in xcni_snat; DSR's without). At XDP the
 * service entry was deferred until here (lb_flow_open; pl: the plan, NULL
 * at tc) and the flow is marked the fast path's. NP_PLAN_GO, NP_PLAN_ABORT
 * (XDP: a failure after the entries), or NP_NO's.
 */
static __always_inline int np_plan_track(void *ctx, int xdp, int fam, struct flow *f,
					 const void *orig, struct xcni_ct_entry *se, __u32 len,
					 struct np_plan *pl)
{
	__u8 hook = xdp ? XCNI_CT_F_XDP : 0, ctf;
	struct xcni_ct_entry *e;
	int ct;

	ct = ct_track(xdp ? NULL : ctx, f, fam, len, &ctf);
	if (ct == CT_INVALID)
		return NP_NO(xdp, ct_invalid_reason(f));
	if (xdp)
		se = pl->se = lb_flow_open(pl->st, fam, se, pl->svc->rev_nat, len, 1, pl->tmp);
	if (se && !lb_dsr)
		se->nat_port = *lb_sport(f, fam);
	if (ct == CT_NEW || ct == CT_STALE) {
		/* DSR: this node sees the requests only. */
		if (lb_dsr)
			ct_commit(f, fam, ct, len, 0, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR | hook);
		else if (np_snat_open(f, fam, orig, ct, len, hook))
			return xdp ? NP_PLAN_ABORT : XCNI_DROP_NAT_NO_PORT;
	} else if (xdp && !(ctf & XCNI_CT_F_XDP)) {
		/* A flow tc opened (its first packet waited for the neighbour,
		 * say) is the fast path's from here: marked once (ctf: its
		 * entry's flags). */
		e = bpf_map_lookup_elem(ct_map(fam), &f->tuple);
		if (e)
			e->flags |= XCNI_CT_F_XDP;
	}
	/* The service entry follows the flow once the client confirmed it. */
	if (se && !lb_dsr && se->state == XCNI_CT_NEW && f->ct_state == XCNI_CT_ESTABLISHED &&
	    (ct == CT_ORIG || ct == CT_STALE) &&
	    !np_snat_confirm(ctx, xdp, fam, f, tuple_saddr((const union xcni_tuple *)orig, fam)))
		return NP_PLAN_GO;
	if (se && f->ct_state)
		se->state = f->ct_state;
	return NP_PLAN_GO;
}

/*
 * The plan of a parsed packet from outside (pl->f its flow; fam a
 * constant), at XDP (ctx: the FIB lookup's). A new flow's pick handed on
 * to tc is not written: tc picks again, and Maglev (the flow's hash) and
 * affinity (the entry the pick refreshed) give it the same backend; a
 * random pick among several would not, so its service entry is written
 * (lb_flow_open, the packet not counted: tc counts it) and tc follows it
 * (lb_flow_keeps): the backends' shares stay the random pick's.
 */
static __always_inline int np_plan(struct xdp_md *ctx, int fam, struct np_plan *pl)
{
	int r = np_plan_choose(1, fam, pl);

	if (r != NP_PLAN_GO)
		return r;
	r = np_plan_route(ctx, 1, fam, pl);
	if (r == NP_PLAN_GO)
		r = np_plan_snat(1, fam, pl->f, pl->orig, pl->se, pl->t);
	if (r == NP_PLAN_GO)
		r = np_plan_track(ctx, 1, fam, pl->f, pl->orig, pl->se, pl->len, pl);
	if (r == NP_PLAN_TC && np_random_pick(pl->svc) && !pl->se)
		lb_flow_open(pl->st, fam, NULL, pl->svc->rev_nat, pl->len, 0, pl->tmp);
	return r;
}

#endif
