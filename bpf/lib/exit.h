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
 * The events' budget on this CPU, a token bucket whose credit is time: an
 * event costs 1e9 / rate ns of it, the clock adds it back, up to one second's
 * worth (a burst of rate events). rate 0: no limit. Over budget the event is
 * lost and counted, never the packet: a flood of drops costs the ring (and
 * its reader) at most rate events per CPU per second.
 */
static __always_inline int event_budget(struct xcni_evrate *b, __u32 rate)
{
	__u64 now, cost;

	if (!rate)
		return 1;
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
 * Room for one event of size bytes on the ring, within this CPU's budget;
 * NULL (counted) when there is none. The caller fills and submits it.
 * (The IPv6 programs' report6; report below does the same in line.)
 */
static __always_inline void *event_reserve(__u32 size, const struct xcni_config *cfg)
{
	__u32 zero = 0;
	struct xcni_evrate *b = bpf_map_lookup_elem(&xcni_evrate, &zero);
	void *ev;

	if (!b)
		return NULL;
	if (!event_budget(b, cfg ? cfg->events_rate : 0)) {
		b->lost_rate++;
		return NULL;
	}
	ev = bpf_ringbuf_reserve(&xcni_events, size, 0);
	if (!ev) {
		b->lost_full++;
		return NULL;
	}
	b->sent++;
	return ev;
}

/* The fields every event has, whatever the packet's family. */
static __always_inline void event_fill(struct xcni_event *ev, struct __sk_buff *skb, __u8 type,
				       int reason, __u8 dir, __u32 ep_id, const struct verdict *v,
				       __u32 len, __u8 proto, __u16 sport, __u16 dport)
{
	ev->ts_ns = bpf_ktime_get_ns();
	ev->ep_id = ep_id;
	ev->ifindex = skb->ifindex;
	ev->reason = reason;
	ev->dir = dir;
	ev->proto = proto;
	ev->type = type;
	ev->pol_dir = v->pol_dir;
	ev->sport = sport;
	ev->dport = dport;
	ev->len = len ? len : skb->len;
	ev->src_identity = v->src_id;
	ev->dst_identity = v->dst_id;
	ev->policy_id = v->policy_id;
	ev->rule = v->rule;
	ev->pol_flags = v->enforced >> 1;
	ev->pad0 = 0;
	ev->pad = 0;
}

/*
 * Written out field by field rather than through event_fill: the IPv4
 * programs keep the instructions they had (event_fill's version costs each
 * of the three inlined reports about 50 more).
 */
static __always_inline void report4(struct __sk_buff *skb, __u8 type, int reason, __u8 dir,
				   __u32 ep_id, const struct pkt *p, const struct verdict *v,
				   const struct xcni_config *cfg)
{
	__u32 zero = 0;
	struct xcni_evrate *b = bpf_map_lookup_elem(&xcni_evrate, &zero);
	struct xcni_event *ev;

	if (!b)
		return;
	if (!event_budget(b, cfg ? cfg->events_rate : 0)) {
		b->lost_rate++;
		return;
	}
	ev = bpf_ringbuf_reserve(&xcni_events, sizeof(*ev), 0);
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
	ev->proto = p->tuple.proto;
	ev->type = type;
	ev->pol_dir = v->pol_dir;
	ev->saddr = p->tuple.saddr;
	ev->daddr = p->tuple.daddr;
	ev->sport = p->tuple.sport;
	ev->dport = p->tuple.dport;
	ev->len = p->len ? p->len : skb->len;
	ev->src_identity = v->src_id;
	ev->dst_identity = v->dst_id;
	ev->policy_id = v->policy_id;
	ev->rule = v->rule;
	ev->rev_nat = p->rev_nat;
	ev->backend_id = p->backend_id;
	ev->pol_flags = v->enforced >> 1;
	ev->pad0 = 0;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, 0);
}

/* ---- the exit ----------------------------------------------------------- */

static __always_inline void report6(struct __sk_buff *skb, __u8 type, int reason, __u8 dir,
				    __u32 ep_id, const struct pkt6 *p, const struct verdict *v,
				    const struct xcni_config *cfg)
{
	struct xcni_event6 *ev = event_reserve(sizeof(*ev), cfg);

	if (!ev)
		return;
	event_fill(&ev->ev, skb, type, reason, dir, ep_id, v, p->len, p->tuple.proto,
		   p->tuple.sport, p->tuple.dport);
	ev->ev.saddr = 0;
	ev->ev.daddr = 0;
	ev->ev.rev_nat = p->rev_nat;
	ev->ev.backend_id = p->backend_id;
	__builtin_memcpy(ev->saddr6, p->tuple.saddr, 16);
	__builtin_memcpy(ev->daddr6, p->tuple.daddr, 16);
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
 * traced: with traces off (the default) that costs one array lookup.
 */
static __always_inline int finish(struct __sk_buff *skb, int reason, __u8 dir, __u32 ep_id,
				  const struct pkt *p, int verdict, const struct verdict *v)
{
	__u32 zero = 0;
	const struct xcni_config *cfg = bpf_map_lookup_elem(&xcni_config, &zero);

	/* Only a first fragment let through leaves its ports for the others,
	 * and only while its share has room; a last one frees its place. */
	if ((p->frag_first || p->frag_last) && !reason_is_drop(reason))
		reason = frag4_commit(p->frag_first, p->frag_last) ? XCNI_DROP_FRAG_SHARE : reason;
	count(reason, dir, p->len ? p->len : skb->len);
	if (reason_is_drop(reason)) {
		report4(skb, XCNI_EV_DROP, reason, dir, ep_id, p, v, cfg);
		return reason_answered(reason) ? verdict : TC_ACT_SHOT;
	}
	stack_mark(skb, dir, verdict);
	/* A verdict event already tells where the flow's first packet went. */
	if (v->enforced)
		report4(skb, XCNI_EV_VERDICT, reason, dir, ep_id, p, v, cfg);
	else if (cfg && cfg->trace_sample && sampled(cfg->trace_sample))
		report4(skb, XCNI_EV_TRACE, reason, dir, ep_id, p, v, cfg);
	return verdict;
}

/* finish() for IPv6 packets: the same counters, events of the IPv6 layout. */
static __always_inline int finish6(struct __sk_buff *skb, int reason, __u8 dir, __u32 ep_id,
				   const struct pkt6 *p, int verdict, const struct verdict *v)
{
	__u32 zero = 0;
	const struct xcni_config *cfg = bpf_map_lookup_elem(&xcni_config, &zero);

	if ((p->frag_first || p->frag_last) && !reason_is_drop(reason))
		reason = frag6_commit(p->frag_first, p->frag_last) ? XCNI_DROP_FRAG_SHARE : reason;
	count(reason, dir, p->len);
	if (reason_is_drop(reason)) {
		report6(skb, XCNI_EV_DROP, reason, dir, ep_id, p, v, cfg);
		return reason_answered(reason) ? verdict : TC_ACT_SHOT;
	}
	stack_mark(skb, dir, verdict);
	if (v->enforced)
		report6(skb, XCNI_EV_VERDICT, reason, dir, ep_id, p, v, cfg);
	else if (cfg && cfg->trace_sample && sampled(cfg->trace_sample))
		report6(skb, XCNI_EV_TRACE, reason, dir, ep_id, p, v, cfg);
	return verdict;
}

#endif
