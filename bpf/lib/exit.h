/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one exit of every program: counts the packet under its reason and
 * direction, reports drops on the event ring, and turns the reason into the
 * hook's verdict.
 */
#ifndef XCNI_EXIT_H
#define XCNI_EXIT_H

#include "compat.h"
#include "frag.h"
#include "maps.h"
#include "parse.h"
#include "policy.h"

static __always_inline int reason_is_drop(int reason)
{
	return reason <= XCNI_DROP_NON_IP;
}

/*
 * A drop whose packet the program turned into an answer to its sender: a
 * connection refused for want of a backend (lb.h, lb.h: TCP RST, ICMP
 * unreachable), a packet too big for the underlay once encapsulated (nodeport_icmp.h:
 * ICMP fragmentation needed, Packet Too Big). Counted and reported as a
 * drop; the caller's verdict sends the answer.
 */
static __always_inline int reason_answered(int reason)
{
	return reason == XCNI_DROP_NO_BACKEND || reason == XCNI_DROP_TOO_BIG;
}

static __always_inline void count(int reason, __u8 dir, __u32 len)
{
	__u32 idx = XCNI_METRIC_IDX(reason, dir);
	struct xcni_metric *m = bpf_map_lookup_elem(&xcni_metrics, &idx);

	if (m) {
		m->packets++;
		m->bytes += len;
	}
}

#define XCNI_NSEC_PER_SEC 1000000000ULL

/*
 * A token bucket whose credit is time: an event costs 1e9 / rate ns of it,
 * the clock adds it back, up to one second's worth (a burst of rate events).
 */
static __always_inline int event_budget(struct xcni_evshare *b, __u32 rate)
{
	__u64 now, cost;

	now = bpf_ktime_get_ns();
	b->credit_ns += now - b->last_ns;
	if (b->credit_ns > XCNI_NSEC_PER_SEC)
		b->credit_ns = XCNI_NSEC_PER_SEC;
	b->last_ns = now;
	cost = XCNI_NSEC_PER_SEC / rate;
	if (b->credit_ns < cost)
		return 0;
	b->credit_ns -= cost;
	return 1;
}

/*
 * Whether an event about local endpoint ep_id (0: none, the node's share)
 * fits its share's budget on this CPU (xcni_evshare); rate > 0. Over budget
 * the event is lost and counted, never the packet: a flood of one pod's drops
 * costs the ring (and its reader) at most rate events per CPU per second, and
 * spends that pod's share only. A global function, verified once: inlined in
 * each report it cost the programs 3-7 % more verifier instructions.
 */
__attribute__((noinline)) int event_share(__u32 ep_id, __u32 rate)
{
	struct xcni_evshare *b, fresh = {};
	__u32 key = ep_id;

	if (!rate)
		return 1;
	b = bpf_map_lookup_elem(&xcni_evshare, &key);
	if (!b) {
		/* Zero credit at time 0: the first event tops it up to full.
		 * Another CPU may have made it first; either way it is there. */
		bpf_map_update_elem(&xcni_evshare, &key, &fresh, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&xcni_evshare, &key);
		if (!b)
			return 0;
	}
	if (event_budget(b, rate))
		return 1;
	b->lost++;
	return 0;
}

/*
 * An event about the packet's flow f (fam a constant): struct xcni_event for
 * IPv4, its addresses in it; struct xcni_event6 for IPv6, its addresses
 * after it. Room on the ring within its endpoint's share of the budget, else
 * lost (counted).
 * Written out field by field, in line: through a helper of its own (an
 * event_fill beside an event_reserve) the inlined reports cost the IPv4
 * programs ~50 instructions each more.
 */
static __always_inline void report(struct __sk_buff *skb, int fam, __u8 type, int reason,
				   __u8 dir, __u32 ep_id, const struct flow *f,
				   const struct verdict *v, const struct xcni_config *cfg)
{
	struct xcni_evrate *b = bpf_map_lookup_elem(&xcni_evrate, &map_zero);
	struct xcni_event *ev;

	if (!b)
		return;
	if (cfg && cfg->events_rate && !event_share(ep_id, cfg->events_rate)) {
		b->lost_rate++;
		return;
	}
	ev = bpf_ringbuf_reserve(&xcni_events,
				 fam == XCNI_AF_INET ? sizeof(struct xcni_event)
						     : sizeof(struct xcni_event6),
				 0);
	if (!ev) {
		b->lost_full++;
		return;
	}
	b->sent++;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->ep_id = ep_id;
	ev->ifindex = skb->ifindex;
	ev->reason = reason;
	ev->dir = dir;
	ev->type = type;
	ev->pol_dir = v->pol_dir;
	if (fam == XCNI_AF_INET) {
		ev->proto = f->tuple.v4.proto;
		ev->saddr = f->tuple.v4.saddr;
		ev->daddr = f->tuple.v4.daddr;
		ev->sport = f->tuple.v4.sport;
		ev->dport = f->tuple.v4.dport;
	} else {
		struct xcni_event6 *ev6 = (struct xcni_event6 *)ev;

		ev->proto = f->tuple.v6.proto;
		ev->saddr = 0;
		ev->daddr = 0;
		ev->sport = f->tuple.v6.sport;
		ev->dport = f->tuple.v6.dport;
		__builtin_memcpy(ev6->saddr6, f->tuple.v6.saddr, 16);
		__builtin_memcpy(ev6->daddr6, f->tuple.v6.daddr, 16);
	}
	/* The frame the event's headers are from: from_overlay's inner one once
	 * it parsed that (encap_len the outer bytes in front: what the sender's
	 * conntrack and this node's count for the flow), else as it arrived;
	 * count() keeps the arrived length for the node's counters. */
	ev->len = (f->len ? f->len : skb->len) - f->encap_len;
	ev->src_identity = v->src_id;
	ev->dst_identity = v->dst_id;
	ev->policy_id = v->policy_id;
	ev->rule = v->rule;
	ev->rev_nat = f->rev_nat;
	ev->backend_id = f->backend_id;
	ev->pol_flags = v->enforced >> 1;
	ev->tcp_flags = f->tcp_flags;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, 0);
}

/* One forwarded packet in n, n >= 1. */
static __always_inline int sampled(__u32 n)
{
	return n == 1 || bpf_get_prandom_u32() % n == 0;
}

/*
 * A packet from_pod or from_overlay hands to the node's stack (verdict
 * TC_ACT_OK, not a drop: a pod's, its source checked; a node's Geneve,
 * decapsulated, its inner source checked) gets XCNI_MARK_TRUSTED, by which
 * to_pod and to_overlay tell it from one with a pod's source that came in
 * some other way (pod_source_forged).
 */
static __always_inline void stack_mark(struct __sk_buff *skb, __u8 dir, int verdict)
{
	if ((dir == XCNI_DIR_FROM_POD || dir == XCNI_DIR_FROM_OVERLAY) && verdict == TC_ACT_OK)
		skb->mark |= XCNI_MARK_TRUSTED;
}

/*
 * verdict: what the hook returns when the reason is not a drop. v: the policy
 * decision on a new flow, if one was taken (reported as a verdict event when
 * an isolated pod's policy allowed it). Every other forwarded packet may be
 * traced: with traces off (the default) that costs one array lookup. f: the
 * packet's flow (fam a constant), len 0 for skb->len.
 */
static __always_inline int finish_flow(struct __sk_buff *skb, int fam, int reason, __u8 dir,
				       __u32 ep_id, const struct flow *f, int verdict,
				       const struct verdict *v)
{
	const struct xcni_config *cfg = bpf_map_lookup_elem(&xcni_config, &map_zero);

	/* Only a first fragment let through leaves its ports for the others,
	 * and only while its share has room; a last one frees its place. */
	if ((f->frag_first || f->frag_last) && !reason_is_drop(reason) &&
	    frag_commit(fam, f->frag_first, f->frag_last))
		reason = XCNI_DROP_FRAG_SHARE;
	count(reason, dir, f->len ? f->len : skb->len);
	if (reason_is_drop(reason)) {
		report(skb, fam, XCNI_EV_DROP, reason, dir, ep_id, f, v, cfg);
		return reason_answered(reason) ? verdict : TC_ACT_SHOT;
	}
	stack_mark(skb, dir, verdict);
	/* A verdict event already tells where the flow's first packet went. */
	if (v->enforced)
		report(skb, fam, XCNI_EV_VERDICT, reason, dir, ep_id, f, v, cfg);
	else if (cfg && cfg->trace_sample && sampled(cfg->trace_sample))
		report(skb, fam, XCNI_EV_TRACE, reason, dir, ep_id, f, v, cfg);
	return verdict;
}

#endif
