/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one exit of every program: counts the packet under its reason and
 * direction, reports drops on the event ring, and turns the reason into the
 * hook's verdict.
 */
#ifndef XCNI_EXIT_H
#define XCNI_EXIT_H

#include "maps.h"
#include "parse.h"
#include "policy.h"

static __always_inline int reason_is_drop(int reason)
{
	return reason <= XCNI_DROP_NON_IP;
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

static __always_inline void report(struct __sk_buff *skb, __u8 type, int reason, __u8 dir,
				   __u32 ep_id, const struct pkt *p, const struct verdict *v)
{
	struct xcni_event *ev = bpf_ringbuf_reserve(&xcni_events, sizeof(*ev), 0);

	if (!ev)
		return;
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
	ev->pad = 0;
	bpf_ringbuf_submit(ev, 0);
}

/*
 * verdict: what the hook returns when the reason is not a drop. v: the policy
 * decision on a new flow, if one was taken (reported as a verdict event when
 * an isolated pod's policy allowed it).
 */
static __always_inline int finish(struct __sk_buff *skb, int reason, __u8 dir, __u32 ep_id,
				  const struct pkt *p, int verdict, const struct verdict *v)
{
	count(reason, dir, p->len ? p->len : skb->len);
	if (reason_is_drop(reason)) {
		report(skb, XCNI_EV_DROP, reason, dir, ep_id, p, v);
		return TC_ACT_SHOT;
	}
	if (v->enforced)
		report(skb, XCNI_EV_VERDICT, reason, dir, ep_id, p, v);
	return verdict;
}

#endif
