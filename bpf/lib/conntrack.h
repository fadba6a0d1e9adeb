/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking: one LRU entry per flow, keyed by the tuple of its first
 * packet. Enough TCP state to tell new from established and to expire closed
 * flows; UDP and ICMP echo by timeout. NetworkPolicy relies on ct_track() to
 * let replies of allowed flows pass.
 *
 * Policy is judged on a flow's first packet, and again whenever a packet in
 * the opening direction finds its entry judged under another policy revision
 * (xcni_polrev, bumped by xcnid after each change it applied): a
 * flow the new policy refuses is dropped there and forgotten, so a policy
 * change closes what it no longer allows, and a reused tuple (a port picked
 * again while an old attempt's entry lives) is never let through on an
 * older decision. Replies are not judged: they answer a flow that was,
 * except in a flow picked up (XCNI_CT_F_PICKUP): its first packet here may
 * have been a reply (the entry evicted or expired, which a pod can force by
 * filling the table), so the entry may hold it the wrong way round, and a
 * policy that revokes the real opening direction would never be applied to
 * it. After a policy change, such an entry no longer answers for anything:
 * a packet that finds it in the reply direction forgets it and is judged in
 * its own direction, as new (ct_recheck); one in the entry's direction is
 * CT_STALE, judged in that same direction. So, after a change, each side's
 * first packet is judged as if it opened the flow, whichever way round the
 * entry was picked up, and a revoked direction never lives on as "replies".
 */
#ifndef XCNI_CONNTRACK_H
#define XCNI_CONNTRACK_H

#include "frag.h"
#include "ipcache.h"
#include "maps.h"
#include "parse.h"

enum ct_dir {
	CT_NEW = 0, /* no live entry: the packet opens a flow */
	CT_ORIG = 1, /* same direction as the flow's first packet */
	CT_REPLY = 2,
	CT_INVALID = 3, /* TCP segment or echo reply that cannot open a flow */
	CT_STALE = 4, /* CT_ORIG, but judged under another policy revision: judge it
		       * again, then ct_commit() or ct_refuse() */
	CT_RELATED = 5, /* an ICMP error about a live flow, from a place on its path */
};

/* The packet answers a flow policy allowed: it is not judged again. */
static __always_inline int ct_answers(int ct)
{
	return ct == CT_REPLY || ct == CT_RELATED;
}

/* The policy revision now, kept in p by ct_track for ct_create and ct_commit. */
static __always_inline __u32 policy_rev_now(void)
{
	const __u32 *rev = bpf_map_lookup_elem(&xcni_polrev, &map_zero);

	return rev ? *rev : 0;
}

/*
 * Could the flow's first packet here have been a reply? A TCP or SCTP flow
 * opens with SYN (INIT), an ICMP echo with its request; a segment met
 * mid-stream (ct_state set by ct_track) and any other protocol do not say
 * which end opened the flow: picked up. A flow that was translated or that the
 * stack brought (flags, rev_nat) was met in its client's direction.
 */
static __always_inline __u8 ct_pickup(__u8 proto, __u8 ct_state, __u8 is_echo, __u8 flags,
				      __u16 rev_nat)
{
	if (flags || rev_nat)
		return 0;
	if (ct_state)
		return XCNI_CT_F_PICKUP;
	return proto == IPPROTO_TCP || proto == IPPROTO_SCTP || is_echo ? 0 : XCNI_CT_F_PICKUP;
}

/* A picked-up flow's entry judged under another policy revision than rev: it
 * answers for nothing any more; a packet in its reply direction forgets it
 * and opens the flow its own way (ct_lookup). */
static __always_inline __u8 ct_recheck(const struct xcni_ct_entry *e, __u32 rev)
{
	return (e->flags & XCNI_CT_F_PICKUP) && e->policy_rev != rev;
}

/* Must policy judge the packet's flow? New, or stale. */
static __always_inline int ct_judge_due(int ct)
{
	return ct == CT_NEW || ct == CT_STALE;
}

/*
 * Is the entry still alive at now? Another CPU may have stamped last_ns after
 * this one read the clock (a flow's two directions run on different CPUs), so
 * a stamp from the "future" counts as fresh rather than as 2^64 ns old.
 */
static __always_inline int ct_alive(const struct xcni_ct_entry *e, __u64 now, __u8 proto)
{
	__u64 last = e->last_ns;

	return now <= last || now - last <= xcni_ct_lifetime(e->state, proto);
}

/* This CPU's conntrack counters (per-CPU: no atomics needed); its key in .rodata (map_zero). */
static const __u32 ct_stat_key = XCNI_CTSTAT_BPF;
static __always_inline struct xcni_ctstat *ct_stat(void)
{
	return bpf_map_lookup_elem(&xcni_ctstat, &ct_stat_key);
}

/* The family's conntrack map (fam a constant: the compiler keeps one). */
#define ct_map(fam) ((fam) == XCNI_AF_INET ? (void *)&xcni_ct : (void *)&xcni_ct6)

/*
 * While the table grows, the old one (xcni_ctprev's slot; empty otherwise)
 * follows key k: CT_PREV_FIND copies its entry there in (1: it was there),
 * CT_PREV_PUT puts the table's there too, CT_PREV_DEL deletes it there.
 * IPv4's out of line (ct_prev4, global: verified once, not on every path of
 * its callers, and their code without it); IPv6's inline: its 40-byte key
 * would be copied onto the callee's stack (6.1 takes no argument's memory as
 * a map key), past from_pod6's 512 bytes (docs/decisions/map-growth.md).
 */
enum { CT_PREV_FIND, CT_PREV_PUT, CT_PREV_DEL };
static __always_inline int ct_prev_op(int fam, int op, const void *k)
{
	void *e, *prev = fam == XCNI_AF_INET ? bpf_map_lookup_elem(&xcni_ctprev, &map_zero) :
					      bpf_map_lookup_elem(&xcni_ctprev6, &map_zero);

	if (!prev || op == CT_PREV_DEL)
		return prev && !bpf_map_delete_elem(prev, k);
	e = bpf_map_lookup_elem(op == CT_PREV_FIND ? prev : ct_map(fam), k);
	return e && !bpf_map_update_elem(op == CT_PREV_FIND ? ct_map(fam) : prev, k, e,
					 op == CT_PREV_FIND ? BPF_NOEXIST : BPF_ANY);
}

/* IPv4's key by value: a pointer argument's memory counts as written by the call. */
__attribute__((noinline)) int ct_prev4(int op, __u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
	return ct_prev_op(XCNI_AF_INET, op, (__u32[4]){ w0, w1, w2, w3 });
}

#ifdef XCNI_HOOK_XDP /* on 6.1 xdp_underlay's deepest chain has no room for ct_prev4's frame */
#define ct_prev ct_prev_op
#else
#define ct_prev(fam, op, k) \
	((fam) == XCNI_AF_INET ? ct_prev4(op, ((const __u32 *)(k))[0], ((const __u32 *)(k))[1], \
					  ((const __u32 *)(k))[2], ((const __u32 *)(k))[3]) :   \
				 ct_prev_op(XCNI_AF_INET6, op, k))
#endif

/* Key k's entry; while the table grows, one the old programs made in the old
 * table since the copy is copied in first (the reply of a flow whose first
 * packet met them, before the take-over). */
static __always_inline struct xcni_ct_entry *ct_find(int fam, const void *k)
{
	struct xcni_ct_entry *e = bpf_map_lookup_elem(ct_map(fam), k);

	if (e || !ct_prev(fam, CT_PREV_FIND, k))
		return e;
	return bpf_map_lookup_elem(ct_map(fam), k);
}

/*
 * Every entry goes into the family's table through here (k: its key, struct
 * xcni_ct_key or xcni_ct6_key): a new key is counted as created (an existing
 * one, a reused tuple, is overwritten uncounted), so created - deleted -
 * entries present is what LRU eviction took.
 */
static __always_inline void ct_entry_add(int fam, const void *k, const struct xcni_ct_entry *e,
					 int pickup)
{
	struct xcni_ctstat *st;
	int fresh = !bpf_map_update_elem(ct_map(fam), k, e, BPF_NOEXIST);

	if (!fresh)
		bpf_map_update_elem(ct_map(fam), k, e, BPF_ANY);
	/* While the table grows, the old one gets it too (ct_find's other half). */
	ct_prev(fam, CT_PREV_PUT, k);
	st = fresh ? ct_stat() : NULL;
	if (st) {
		st->created++;
		st->pickups += pickup;
	}
}

/* ... and out through here (or LRU eviction), counted when it was there. */
static __always_inline void ct_entry_remove(int fam, const void *k)
{
	struct xcni_ctstat *st;

	ct_prev(fam, CT_PREV_DEL, k); /* gone from the old table too: ct_find would bring it back */
	if (bpf_map_delete_elem(ct_map(fam), k))
		return;
	st = ct_stat();
	if (st)
		st->deleted++;
}

/* The family's key k the other way round into r (addresses and ports swapped). */
static __always_inline void tuple_reverse(int fam, const void *k, void *r)
{
	if (fam == XCNI_AF_INET) {
		const struct xcni_ct_key *k4 = k;
		struct xcni_ct_key *r4 = r;

		r4->saddr = k4->daddr;
		r4->daddr = k4->saddr;
		r4->sport = k4->dport;
		r4->dport = k4->sport;
		r4->proto = k4->proto;
		r4->pad[0] = r4->pad[1] = r4->pad[2] = 0;
	} else {
		const struct xcni_ct6_key *k6 = k;
		struct xcni_ct6_key *r6 = r;

		__builtin_memcpy(r6->saddr, k6->daddr, 16);
		__builtin_memcpy(r6->daddr, k6->saddr, 16);
		r6->sport = k6->dport;
		r6->dport = k6->sport;
		r6->proto = k6->proto;
		r6->pad[0] = r6->pad[1] = r6->pad[2] = 0;
	}
}

/* ---- conntrack ---------------------------------------------------------- */

static __always_inline void ct_tcp_update(struct xcni_ct_entry *e, __u8 flags, int reply)
{
	if (flags & XCNI_TCP_RST) {
		e->state = XCNI_CT_CLOSED;
		return;
	}
	if (flags & XCNI_TCP_FIN) {
		if (reply)
			e->fin_reply = 1;
		else
			e->fin_orig = 1;
		e->state = e->fin_orig && e->fin_reply ? XCNI_CT_CLOSED : XCNI_CT_CLOSING;
		return;
	}
	if (reply && e->state == XCNI_CT_NEW)
		e->state = XCNI_CT_ESTABLISHED;
}

/*
 * A live entry the packet belongs to, in the flow's opening direction or
 * (reply) the other: stamped, counted, its state moved on. A reply of a flow
 * other than TCP makes it established.
 */
static __always_inline void ct_account(struct xcni_ct_entry *e, __u64 now, __u32 len, int tcp,
				       __u8 tcp_flags, int reply)
{
	e->last_ns = now;
	if (reply) {
		e->pkts_reply++;
		e->bytes_reply += len;
	} else {
		e->pkts_orig++;
		e->bytes_orig += len;
	}
	if (tcp)
		ct_tcp_update(e, tcp_flags, reply);
	else if (reply && e->state == XCNI_CT_NEW)
		e->state = XCNI_CT_ESTABLISHED;
}

/* What a CT_INVALID packet is dropped for. */
static __always_inline int ct_invalid_reason(const struct flow *f)
{
	return f->frag_later ? XCNI_DROP_FRAGMENT : XCNI_DROP_CT_INVALID;
}

/*
 * An ICMP error from the address from, about a flow whose peer (the end the
 * quoted packet went to) is peer, both of the family fam: from a place on
 * the flow's path, the peer itself, a node (the routers between pods are
 * nodes) or, for a flow with the outside, the outside. Not a pod speaking
 * for another's flow, nor anyone for a pod's flow but the pod or a node.
 */
static __always_inline int icmp_on_path(int fam, const void *from, const void *peer)
{
	__u32 id = identity_of(fam, from);

	return id == XCNI_ID_HOST || id == XCNI_ID_REMOTE_NODE ||
	       (!identity_is_pod(id) && !identity_is_pod(identity_of(fam, peer)));
}

/* xcni_ct_lifetime knows ICMP by its IPv4 number: ICMPv6 echo lives as long. */
static __always_inline __u8 ct6_life_proto(__u8 proto)
{
	return proto == XCNI_IPPROTO_ICMPV6 ? IPPROTO_ICMP : proto;
}

/*
 * An ICMP error answers the flow its quote names when that flow is alive, the
 * error goes to the quoted packet's sender, and it comes from a place on the
 * flow's path: the peer itself, a node (the routers between pods are nodes),
 * or, for a flow with the outside, the outside. Such an error passes as a
 * reply would (Packet Too Big, port unreachable reach an isolated pod); any
 * other error is judged like any packet, and stores nothing. So a pod cannot
 * slip errors past policy into flows it is not on the path of.
 *
 * One body for both families (fam a constant: ct_icmp_related, one global
 * for both, takes the family once and runs its copy; its lookups stay out
 * of the callers' paths); the quote's parse is the family's leaf, read with
 * bpf_skb_load_bytes straight into the key (a small frame: the callers'
 * chains and this one fit the verifier's 512 bytes together). IPv4: an error of its types (unreachable,
 * time exceeded, parameter problem) quoting a first fragment (later ones
 * carry no ports), options skipped, its ports or echo id, any other protocol
 * keyed without ports. IPv6: an error of its types (unreachable, Packet Too
 * Big, time exceeded, parameter problem) quoting a plain IPv6 header (no
 * extension headers) and its TCP, UDP or SCTP ports or its echo id; nothing
 * else.
 *
 * ip, icmp: the offsets of the error's IP header and of its ICMP header.
 * Returns 1 + the flow's XCNI_CT_F_* flags, or 0 when the error is not
 * related (a constant that costs no register: the frame's room).
 */
static __always_inline int ct_icmp_related_fam(struct __sk_buff *skb, int fam, __u32 ip,
					       __u32 icmp)
{
	/* The key; IPv4's quoted header read into the bytes its key leaves
	 * free (its 16 are the key). */
	union {
		union xcni_tuple t;
		struct {
			struct xcni_ct_key v4;
			struct iphdr in;
		} q4;
	} u = {};
	struct xcni_ct_entry *e;
	/* In turn: the error's addresses (IPv4's both; IPv6's destination,
	 * then its source), the quote's first 8 bytes of L4. The frame small:
	 * the callers' chains at the verifier's 512 bytes leave this 96. */
	union {
		__u8 a[16];
		__u32 a4[2];
	} o;
	__u32 q = icmp + 8; /* the quote: after the error's 8-byte header */
	__u8 proto, type;

	/* Its type into the key's first byte, which the quote's source then
	 * overwrites. */
	if (!skb || bpf_skb_load_bytes(skb, icmp, &u, 1))
		return 0;
	type = *(const __u8 *)&u;
	if (fam == XCNI_AF_INET) {
		if (type != ICMP_DEST_UNREACH && type != ICMP_TIME_EXCEEDED &&
		    type != ICMP_PARAMETERPROB)
			return 0;
		if (bpf_skb_load_bytes(skb, ip + offsetof(struct iphdr, saddr), o.a4, 8) ||
		    bpf_skb_load_bytes(skb, q, &u.q4.in, sizeof(u.q4.in)))
			return 0;
		/* IPv4, a first fragment (later ones carry no ports), sent to
		 * the quoted packet's source. */
		if (u.q4.in.version != 4 || u.q4.in.ihl < 5 || (u.q4.in.frag_off & bpf_htons(0x1fff)) ||
		    u.q4.in.saddr != o.a4[1])
			return 0;
		u.t.v4.saddr = u.q4.in.saddr;
		u.t.v4.daddr = u.q4.in.daddr;
		u.t.v4.proto = proto = u.q4.in.protocol;
		/* its L4 after its options */
		q += u.q4.in.ihl * 4;
	} else {
		if (type != ICMP6_DST_UNREACH && type != ICMP6_PACKET_TOO_BIG &&
		    type != ICMP6_TIME_EXCEEDED && type != ICMP6_PARAM_PROB)
			return 0;
		/* A plain IPv6 header, no extension headers: its version (read
		 * where its next header then goes), next header, addresses; sent
		 * to the quoted packet's source. */
		if (bpf_skb_load_bytes(skb, q, &u.t.v6.proto, 1) || (u.t.v6.proto >> 4) != 6 ||
		    bpf_skb_load_bytes(skb, q + offsetof(struct xcni_ip6hdr, nexthdr), &u.t.v6.proto,
				       1) ||
		    bpf_skb_load_bytes(skb, q + offsetof(struct xcni_ip6hdr, saddr), u.t.v6.saddr, 32) ||
		    bpf_skb_load_bytes(skb, ip + offsetof(struct xcni_ip6hdr, daddr), o.a, 16) ||
		    !in6_eq(u.t.v6.saddr, o.a) ||
		    bpf_skb_load_bytes(skb, ip + offsetof(struct xcni_ip6hdr, saddr), o.a, 16))
			return 0;
		proto = u.t.v6.proto;
		q += sizeof(struct xcni_ip6hdr);
	}
	/* From a place on the flow's path: the peer itself (the quote's
	 * destination), a node, or (for a flow with the outside) the outside. */
	if (fam == XCNI_AF_INET ? o.a4[0] != u.t.v4.daddr && !icmp_on_path(fam, o.a4, &u.t.v4.daddr)
				: !in6_eq(o.a, u.t.v6.daddr) && !icmp_on_path(fam, o.a, u.t.v6.daddr))
		return 0;
	if (bpf_skb_load_bytes(skb, q, o.a, 8))
		return 0;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
		__builtin_memcpy(fam == XCNI_AF_INET ? &u.t.v4.sport : &u.t.v6.sport, o.a, 4);
	} else if (proto == (fam == XCNI_AF_INET ? IPPROTO_ICMP : XCNI_IPPROTO_ICMPV6)) {
		/* Errors are not sent about errors; an echo is keyed by its id. */
		if (fam == XCNI_AF_INET ? o.a[0] != XCNI_ICMP_ECHO && o.a[0] != XCNI_ICMP_ECHOREPLY
					: o.a[0] != ICMP6_ECHO_REQUEST && o.a[0] != ICMP6_ECHO_REPLY)
			return 0;
		__builtin_memcpy(fam == XCNI_AF_INET ? &u.t.v4.sport : &u.t.v6.sport, o.a + 4, 2);
		__builtin_memcpy(fam == XCNI_AF_INET ? &u.t.v4.dport : &u.t.v6.dport, o.a + 4, 2);
	} else if (fam == XCNI_AF_INET6) {
		/* IPv6: nothing else (IPv4: the protocol's flow, no ports). */
		return 0;
	}
	if (fam == XCNI_AF_INET6)
		proto = ct6_life_proto(proto);
	e = ct_find(fam, &u.t);
	if (!e || !ct_alive(e, bpf_ktime_get_ns(), proto)) {
		/* The other direction: the key swapped in place (a second one
		 * would cost the callers' chains its bytes). */
		if (fam == XCNI_AF_INET) {
			__u32 a = u.t.v4.saddr;
			__u16 port = u.t.v4.sport;

			u.t.v4.saddr = u.t.v4.daddr;
			u.t.v4.daddr = a;
			u.t.v4.sport = u.t.v4.dport;
			u.t.v4.dport = port;
		} else {
			__u16 port = u.t.v6.sport;

			__builtin_memcpy(o.a, u.t.v6.saddr, 16);
			__builtin_memcpy(u.t.v6.saddr, u.t.v6.daddr, 16);
			__builtin_memcpy(u.t.v6.daddr, o.a, 16);
			u.t.v6.sport = u.t.v6.dport;
			u.t.v6.dport = port;
		}
		e = ct_find(fam, &u.t);
		if (!e || !ct_alive(e, bpf_ktime_get_ns(), proto))
			return 0;
	}
	return 1 + e->flags;
}

/*
 * ct_icmp_related_fam in one global for both families, verified once (88
 * bytes of frame: from_pod's (IPv4) chain, 416 of its own, has 96). The family
 * taken once, each branch the family's copy: a fam tested at every step let
 * the verifier walk one family's steps after the other's.
 */
__attribute__((noinline)) int ct_icmp_related(struct __sk_buff *skb, int fam, __u32 ip,
					      __u32 icmp)
{
	if (fam == XCNI_AF_INET)
		return ct_icmp_related_fam(skb, XCNI_AF_INET, ip, icmp);
	return ct_icmp_related_fam(skb, XCNI_AF_INET6, ip, icmp);
}

/* ---- one conntrack for both families, over struct flow (flow.h) ---------- */

static __always_inline __u8 flow_proto(const struct flow *f, int fam)
{
	return fam == XCNI_AF_INET ? f->tuple.v4.proto : f->tuple.v6.proto;
}

static __always_inline __u16 flow_dport(const struct flow *f, int fam)
{
	return fam == XCNI_AF_INET ? f->tuple.v4.dport : f->tuple.v6.dport;
}

/* The family's ICMP (errors, and echo, which is tracked as a flow). */
static __always_inline __u8 flow_icmp_proto(int fam)
{
	return fam == XCNI_AF_INET ? IPPROTO_ICMP : XCNI_IPPROTO_ICMPV6;
}

static __always_inline int flow_echo_request(const struct flow *f, int fam)
{
	return f->is_echo &&
	       f->icmp_type == (fam == XCNI_AF_INET ? XCNI_ICMP_ECHO : ICMP6_ECHO_REQUEST);
}

static __always_inline int flow_echo_reply(const struct flow *f, int fam)
{
	return f->is_echo &&
	       f->icmp_type == (fam == XCNI_AF_INET ? XCNI_ICMP_ECHOREPLY : ICMP6_ECHO_REPLY);
}

/* The tuple the other way round, into the family's key at r. */
static __always_inline void flow_reverse(const struct flow *f, int fam, void *r)
{
	tuple_reverse(fam, &f->tuple, r);
}

/*
 * An ICMP error about a live flow, from a place on its path (the rule at
 * ct_icmp_related): the flow's XCNI_CT_F_* flags, or -1 when it is not
 * related. The quote's parse is the family's leaf.
 */
static __always_inline int ct_related(struct __sk_buff *skb, const struct flow *f, int fam)
{
#ifdef XCNI_HOOK_XDP
	/* XDP (nodeport_xdp.h) tracks TCP and UDP only: ICMP errors are tc's. */
	(void)skb, (void)f, (void)fam;
	return -1;
#else
	int rel = ct_icmp_related(skb, fam, fam == XCNI_AF_INET ? ETH_HLEN + f->encap_len : ETH_HLEN,
				  flow_l4_off(f, fam));

	return rel ? rel - 1 : -1;
#endif
}

/*
 * Looks the packet up and accounts it to its flow (len bytes). Returns enum
 * ct_dir; for CT_NEW nothing is stored yet: the caller decides (policy) and
 * then calls ct_commit, so a refused packet leaves no entry behind; for
 * CT_STALE the caller decides again. *flags: the entry's XCNI_CT_F_* (0 for
 * a new flow). A fragment after the first (f->frag_later), which has no L4
 * header to judge, only follows a flow its first fragment opened under the
 * policy revision in force: what would open or re-judge a flow (CT_NEW,
 * CT_STALE) is CT_INVALID for it, dropped as drop-fragment. TCP by its
 * states, and SCTP by its chunks' meaning as TCP flags where the parser reads
 * them (parse_ipv4; IPv6 SCTP by timeout, as UDP); UDP and other protocols
 * by timeout; ICMP echo by id (a reply never opens a flow); errors related
 * to a live flow: CT_RELATED.
 */
static __always_inline int ct_track(struct __sk_buff *skb, struct flow *f, int fam, __u32 len,
				    __u8 *flags)
{
	struct xcni_ct_key rev4;
	struct xcni_ct6_key rev6;
	void *rev = fam == XCNI_AF_INET ? (void *)&rev4 : (void *)&rev6;
	struct xcni_ct_entry *e;
	__u64 now = bpf_ktime_get_ns();
	/* xcni_ct_lifetime knows ICMP by its IPv4 number: ICMPv6 echo lives as long. */
	__u8 life = fam == XCNI_AF_INET ? flow_proto(f, fam) : ct6_life_proto(flow_proto(f, fam));
	/* SCTP runs TCP's state machine on its chunks' flags where the parser
	 * reads them (parse_ipv4); IPv6 SCTP lives by timeout, as UDP. */
	int tcp = flow_proto(f, fam) == IPPROTO_TCP ||
		  (fam == XCNI_AF_INET && flow_proto(f, fam) == IPPROTO_SCTP);
	int ct, echo_req, echo_rep, fresh_syn;

	*flags = 0;
	f->ct_state = f->ct_reuse = 0;
	f->policy_rev = policy_rev_now();
	/* Errors and the like are not flows: at most they answer one. */
	if (flow_proto(f, fam) == flow_icmp_proto(fam) && !f->is_echo) {
		int rel = f->frag_later ? -1 : ct_related(skb, f, fam);

		if (rel < 0)
			return f->frag_later ? CT_INVALID : CT_NEW;
		*flags = rel;
		return CT_RELATED;
	}

	/* An echo reply only ever answers; an echo request only ever asks. */
	echo_req = flow_echo_request(f, fam);
	echo_rep = flow_echo_reply(f, fam);

	/* A SYN (without ACK) on a flow past its handshake opens a new connection
	 * on a reused tuple (the old one's end was never seen, or it closed): it is
	 * judged as new, so policy changed since then applies to it. A SYN on a
	 * flow still in its handshake is a retransmission. A SYN only asks, as an
	 * echo request: never looked up as a reply (a new connection's second
	 * miss); a SYN crossing the peer's (simultaneous open) is judged as its
	 * sender's own flow, and its SYN+ACK answers the peer's. */
	fresh_syn = tcp && (f->tcp_flags & (XCNI_TCP_SYN | XCNI_TCP_ACK)) == XCNI_TCP_SYN;

	/* The reverse first (a reply's one lookup, not a miss and a hit) for a
	 * packet that is likely a reply: a SYN+ACK, which answers a SYN, and
	 * any other but a SYN or an echo request sent from the lower port to
	 * the higher (a server's to its client's ephemeral port). That entry
	 * wins when both directions have one (a SYN+ACK's own only answers a
	 * simultaneous open, whose SYNs crossed). Not weaker: what passes as a
	 * reply of the reverse entry passes so whenever the sender's own
	 * direction has none, which the sender can always bring about (let it
	 * expire); and a flow is judged as before in the direction it opened. */
	flow_reverse(f, fam, rev);
	e = (tcp && (f->tcp_flags & (XCNI_TCP_SYN | XCNI_TCP_ACK)) == (XCNI_TCP_SYN | XCNI_TCP_ACK)) ||
		    (!fresh_syn && !echo_req &&
		     bpf_ntohs(tuple_sport(&f->tuple, fam)) < bpf_ntohs(tuple_dport(&f->tuple, fam)))
		    ? ct_find(fam, rev)
		    : NULL;
	if (!(e && ct_alive(e, now, life) && !ct_recheck(e, f->policy_rev))) {
		e = echo_rep ? NULL : ct_find(fam, &f->tuple);
		if (e && ct_alive(e, now, life) &&
		    !(tcp && e->state == XCNI_CT_CLOSED && (f->tcp_flags & XCNI_TCP_SYN)) &&
		    !(fresh_syn && e->state != XCNI_CT_NEW)) {
			*flags = e->flags;
			f->rev_nat = e->rev_nat;
			f->backend_id = e->backend_id;
			ct_account(e, now, len, tcp, f->tcp_flags, 0);
			f->ct_state = e->state;
			ct = e->policy_rev == f->policy_rev ? CT_ORIG : CT_STALE;
			goto out;
		}
		/* Its entry there but over: a new flow rewrites it (ct_open_entry). */
		f->ct_reuse = e != NULL;
		e = echo_req || fresh_syn ? NULL : ct_find(fam, rev);
	}
	if (e && ct_alive(e, now, life) && !ct_recheck(e, f->policy_rev)) {
		*flags = e->flags;
		f->rev_nat = e->rev_nat;
		f->backend_id = e->backend_id;
		ct_account(e, now, len, tcp, f->tcp_flags, 1);
		f->ct_state = e->state;
		return CT_REPLY;
	}
	/* A picked-up flow's entry after a policy change answers for nothing:
	 * gone, the packet judged its own way, as new (the head comment). */
	if (e)
		ct_entry_remove(fam, rev);
	ct = CT_NEW;
	/* A plain SYN opens a TCP flow: not with RST or FIN (SYN+FIN is a
	 * scanner's probe no stack sends). ECE/CWR (ECN setup), PSH, URG may
	 * ride along. A segment with ACK alone (data, window updates) is a flow
	 * met mid-stream: its entry was evicted (a full table) or expired. It is
	 * judged as new, as its first SYN was, and picked up if policy allows it
	 * (so pressure on conntrack never breaks what policy allows, and never
	 * passes what it does not). SYN+ACK, RST or FIN of no flow open nothing. */
	if (tcp) {
		__u8 fl = f->tcp_flags &
			   (XCNI_TCP_SYN | XCNI_TCP_ACK | XCNI_TCP_RST | XCNI_TCP_FIN);

		if (fl == XCNI_TCP_ACK)
			f->ct_state = XCNI_CT_ESTABLISHED;
		else if (fl != XCNI_TCP_SYN)
			return CT_INVALID;
	}
	/* An echo reply of no request answers nothing: it opens no flow either
	 * (one that did would let the peer's "replies" in past policy). */
	if (echo_rep)
		return CT_INVALID;
out:
	if (f->frag_later && (ct == CT_NEW || ct == CT_STALE))
		return CT_INVALID;
	return ct;
}

/*
 * A new flow's entry from its first packet f, nbytes long, stored: its
 * conntrack state, policy revision and translation as ct_track and the
 * Service translation left them; an ICMP error stores nothing.
 */
static __always_inline void ct_open_entry(const struct flow *f, int fam, __u32 nbytes, __u32 ep_id,
					  __u8 flags)
{
	struct xcni_ct_entry ne = {}, *old;
	__u64 now = bpf_ktime_get_ns();

	if (flow_proto(f, fam) == flow_icmp_proto(fam) && !f->is_echo)
		return;
	ne.created_ns = now;
	ne.last_ns = now;
	ne.pkts_orig = 1;
	ne.bytes_orig = nbytes;
	ne.ep_id = ep_id;
	/* A flow picked up mid-stream is past its handshake. */
	ne.state = f->ct_state ? f->ct_state : XCNI_CT_NEW;
	ne.flags = flags |
		   ct_pickup(flow_proto(f, fam), f->ct_state, f->is_echo, flags, f->rev_nat);
	ne.policy_rev = f->policy_rev;
	ne.rev_nat = f->rev_nat;
	ne.backend_id = f->backend_id;
	/* A reused tuple (a port picked again while its closed or expired entry
	 * lives): that entry rewritten where it is, every field the new flow's,
	 * rather than a BPF_NOEXIST insert that fails on it (an LRU insert takes
	 * a free node before it looks) and a BPF_ANY that replaces it: two LRU
	 * nodes taken and given back a connection. Looked up again (the tuple
	 * may have been translated since, the entry evicted): only a hint. While
	 * the table grows, the old table gets it too. */
	old = f->ct_reuse ? bpf_map_lookup_elem(ct_map(fam), &f->tuple) : NULL;
	if (old)
		*old = ne;
	else
		ct_entry_add(fam, &f->tuple, &ne, f->ct_state != 0);
	if (old)
		ct_prev(fam, CT_PREV_PUT, &f->tuple);
}

/* CT_NEW: store the flow policy allowed (nbytes: its first packet's length);
 * CT_STALE: it still allows it, under the revision ct_track read. */
static __always_inline void ct_commit_entry(const struct flow *f, int fam, int ct, __u32 nbytes,
					    __u32 ep_id, __u8 flags)
{
	struct xcni_ct_entry *e;

	if (ct == CT_NEW) {
		ct_open_entry(f, fam, nbytes, ep_id, flags);
		return;
	}
	e = bpf_map_lookup_elem(ct_map(fam), &f->tuple);
	if (e)
		e->policy_rev = f->policy_rev;
}

/* ct_commit_entry in a frame of its own, for the flow's length f->len: see ct_commit. */
static __attribute__((noinline)) void ct_commit_call(const struct flow *f, int fam, int ct,
						     __u32 ep_id, __u8 flags)
{
	ct_commit_entry(f, fam, ct, f->len, ep_id, flags);
}

/*
 * ct_commit_entry, where the verifier's 512 bytes of stack have room for it:
 * in the caller's frame for IPv4 (a call's frame on top of from_pod's (IPv4) would
 * pass them), in a frame of its own for IPv6 (in from_pod6's, with the
 * Service hand-off and SCTP's port call, it would pass them). The IPv6
 * callers count the flow's length on arrival (nbytes is f->len); the IPv4
 * ones the packet's now.
 */
static __always_inline void ct_commit(const struct flow *f, int fam, int ct, __u32 nbytes,
				      __u32 ep_id, __u8 flags)
{
	if (fam == XCNI_AF_INET)
		ct_commit_entry(f, fam, ct, nbytes, ep_id, flags);
	else
		ct_commit_call(f, fam, ct, ep_id, flags);
}

/* Policy refuses the packet: a CT_STALE flow is no longer allowed, and goes. */
static __always_inline void ct_refuse(const struct flow *f, int fam, int ct)
{
	if (ct == CT_STALE)
		ct_entry_remove(fam, &f->tuple);
}

#endif
