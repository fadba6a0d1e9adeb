/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fragments, both families: a first fragment's ports staged by the parser
 * (frag_first, frag6_first) and written at the program's exit only when the
 * packet was let through (frag4_commit); a later fragment, which carries no
 * ports, takes its flow's from that entry (frag_later, frag6_later). parse.h
 * calls the first two kinds, and includes this file; this one knows the
 * packets' views from flow.h (no include cycle).
 *
 * The entries live in shares (struct xcni_frag_share): one per local
 * endpoint, one for the node, one for the outside, XCNI_FRAG_PER_EP datagrams
 * each. A datagram belongs to the local endpoint that sends it; else, from a
 * source outside the cluster (the ipcache names no pod, node or this host),
 * to the outside's share; else to the local endpoint it goes to, else to the
 * node (frag4_owner): whoever floods first fragments, from a pod, toward one,
 * or from the underlay, fills that share, and its first fragments beyond it
 * are refused (drop-frag-share); nothing of another share is ever evicted.
 */
#ifndef XCNI_FRAG_H
#define XCNI_FRAG_H

#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "flow.h"
#include "maps.h"

/* A source of the cluster (by its ipcache identity): a pod (labelled, or an
 * address closed), this host, another node. Anything else is outside. */
static __always_inline int frag_inside(const struct xcni_ipcache_val *v)
{
	return v && (v->identity == XCNI_ID_HOST || v->identity == XCNI_ID_REMOTE_NODE ||
		     v->identity == XCNI_ID_UNMANAGED ||
		     (v->identity >= XCNI_ID_MIN_LABELS && v->identity < XCNI_ID_CIDR_BASE));
}

/*
 * The share a datagram belongs to: the ep_id of the local endpoint that sends
 * it; XCNI_FRAG_OUTSIDE when its source is outside the cluster (an underlay
 * host's flood toward a pod or a NodePort fills that share, not the pod's nor
 * the node's); else the ep_id of the local endpoint it goes to; 0, the
 * node's, when neither end is local.
 */
static __always_inline __u32 frag4_owner(const __be32 *saddr, const __be32 *daddr)
{
	const struct xcni_endpoint *ep = bpf_map_lookup_elem(&xcni_endpoints, saddr);
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = *saddr };

	if (ep)
		return ep->ep_id;
	if (!frag_inside(bpf_map_lookup_elem(&xcni_ipcache, &k)))
		return XCNI_FRAG_OUTSIDE;
	ep = bpf_map_lookup_elem(&xcni_endpoints, daddr);
	return ep ? ep->ep_id : 0;
}

/* IPv6's; a link-local source is the node's (ipcache6_identity). */
static __always_inline __u32 frag6_owner(const __u8 *saddr, const __u8 *daddr)
{
	const struct xcni_endpoint *ep = bpf_map_lookup_elem(&xcni_endpoints6, saddr);
	struct xcni_ipcache6_key k = { .prefixlen = 128 };

	if (ep)
		return ep->ep_id;
	__builtin_memcpy(k.addr, saddr, 16);
	if (!(saddr[0] == 0xfe && (saddr[1] & 0xc0) == 0x80) &&
	    !frag_inside(bpf_map_lookup_elem(&xcni_ipcache6, &k)))
		return XCNI_FRAG_OUTSIDE;
	ep = bpf_map_lookup_elem(&xcni_endpoints6, daddr);
	return ep ? ep->ep_id : 0;
}

static __always_inline int frag4_key_eq(const struct xcni_frag_key *a, const struct xcni_frag_key *b)
{
	return a->saddr == b->saddr && a->daddr == b->daddr && a->id == b->id &&
	       a->proto == b->proto;
}

static __always_inline int frag6_key_eq(const struct xcni_frag6_key *a,
					const struct xcni_frag6_key *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*a) / 4); i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

/*
 * The place a first fragment takes in its share: its datagram's (a first
 * fragment seen again), else a free one (never used, or older than
 * XCNI_FRAG_LIFE_NS), else one whose datagram's last fragment passed (a later
 * fragment reordered after the last may still want it); -1: none, the share
 * is full. Three scans, each stopping at what it looks for: one pass keeping
 * three candidates gives the verifier a state for every combination of them.
 */
#define FRAG_PLACE(sh, key, eq, now)                                                             \
	({                                                                                       \
		int __p = -1;                                                                   \
		for (int __i = 0; __i < XCNI_FRAG_PER_EP; __i++)                                \
			if ((sh)->s[__i].ts_ns && eq(&(sh)->s[__i].k, key)) {                   \
				__p = __i;                                                      \
				break;                                                          \
			}                                                                       \
		for (int __i = 0; __p < 0 && __i < XCNI_FRAG_PER_EP; __i++) {                   \
			__u64 __ts = (sh)->s[__i].ts_ns;                                        \
			if (!__ts || (now) - __ts > XCNI_FRAG_LIFE_NS)                          \
				__p = __i;                                                      \
		}                                                                               \
		for (int __i = 0; __p < 0 && __i < XCNI_FRAG_PER_EP; __i++)                    \
			if ((sh)->s[__i].last)                                                  \
				__p = __i;                                                      \
		__p;                                                                            \
	})

/*
 * The pieces below that scan a share are global functions: the verifier
 * checks each once, on its own, rather than once for every path of the
 * program that reaches it. They take scalars and find what they work on in
 * xcni_fragstage, where frag_later and frag_first staged it.
 */
#define FRAG_STAGE()                                                                             \
	({                                                                                       \
		__u32 __zero = 0;                                                               \
		(struct xcni_fragstage *)bpf_map_lookup_elem(&xcni_fragstage, &__zero);        \
	})

/*
 * A later fragment (its key in st->lk): its datagram's first fragment's ports
 * from its share into st->lf; stage (1, 2: a last fragment, staged as which)
 * stages its place, freed at the exit once the fragment passed. 0, or -1
 * when the first fragment was not seen (lost, reordered, refused, or the
 * fragment is forged alone).
 */
__attribute__((noinline)) int frag4_find(__u32 stage)
{
	struct xcni_fragstage *st = FRAG_STAGE();
	struct xcni_frag_share *sh;

	if (!st)
		return -1;
	st->owner = frag4_owner(&st->lk.saddr, &st->lk.daddr);
	sh = bpf_map_lookup_elem(&xcni_frag, &st->owner);
	if (!sh)
		return -1;
	for (__u32 i = 0; i < XCNI_FRAG_PER_EP; i++) {
		struct xcni_frag_slot *s = &sh->s[i];

		if (!s->ts_ns || !frag4_key_eq(&s->k, &st->lk))
			continue;
		st->lf = s->f;
		if (stage == 1 || stage == 2) {
			__u32 k = (stage - 1) & 1;

			st->last_owner[k] = st->owner;
			st->last_idx[k] = i;
			st->last_ts[k] = s->ts_ns;
		}
		return 0;
	}
	return -1;
}

/* IPv6's (st->lk6, st->lf6). */
__attribute__((noinline)) int frag6_find(__u32 stage)
{
	struct xcni_fragstage *st = FRAG_STAGE();
	struct xcni_frag6_share *sh;

	if (!st)
		return -1;
	st->owner = frag6_owner(st->lk6.saddr, st->lk6.daddr);
	sh = bpf_map_lookup_elem(&xcni_frag6, &st->owner);
	if (!sh)
		return -1;
	for (__u32 i = 0; i < XCNI_FRAG_PER_EP; i++) {
		struct xcni_frag6_slot *s = &sh->s[i];

		if (!s->ts_ns || !frag6_key_eq(&s->k, &st->lk6))
			continue;
		st->lf6 = s->f;
		if (stage == 1 || stage == 2) {
			__u32 k = (stage - 1) & 1;

			st->last_owner[k] = st->owner;
			st->last_idx[k] = i;
			st->last_ts[k] = s->ts_ns;
		}
		return 0;
	}
	return -1;
}

/* The stage of a last fragment (frag4_find's): 1, 2 as it is parsed first or
 * again; 0, not staged (not the last, or staged twice already). */
static __always_inline __u32 frag_last_stage(int last, __u8 *frag_last)
{
	if (!last || *frag_last > 1)
		return 0;
	return ++*frag_last;
}

/*
 * A later fragment takes the ports of its datagram's first fragment; one whose
 * first fragment was not seen (lost, reordered, or forged alone) is dropped.
 */
static __always_inline int frag4_later(struct iphdr *ip, struct pkt *p)
{
	struct xcni_fragstage *st = FRAG_STAGE();
	__u8 before = p->frag_last;

	if (!st)
		return XCNI_DROP_FRAGMENT;
	st->lk = (struct xcni_frag_key){ .saddr = ip->saddr, .daddr = ip->daddr, .id = ip->id,
					 .proto = ip->protocol };
	if (frag4_find(frag_last_stage(!(ip->frag_off & bpf_htons(0x2000)), &p->frag_last))) {
		p->frag_last = before;
		return XCNI_DROP_FRAGMENT;
	}
	p->frag_later = 1;
	p->tuple.sport = st->lf.sport;
	p->tuple.dport = st->lf.dport;
	p->icmp_type = st->lf.icmp_type;
	p->is_echo = st->lf.is_echo;
	return 0;
}

/*
 * A later fragment takes its datagram's L4 from the first fragment (keyed by
 * addresses and the fragment id); one whose first was not seen is dropped.
 * last: no more fragments follow.
 */
static __always_inline int frag6_later(struct pkt6 *p, __u32 id, int last)
{
	struct xcni_fragstage *st = FRAG_STAGE();
	__u8 before = p->frag_last;

	if (!st)
		return XCNI_DROP_FRAGMENT;
	st->lk6.id = id;
	__builtin_memcpy(st->lk6.saddr, p->tuple.saddr, 16);
	__builtin_memcpy(st->lk6.daddr, p->tuple.daddr, 16);
	if (frag6_find(frag_last_stage(last, &p->frag_last))) {
		p->frag_last = before;
		return XCNI_DROP_FRAGMENT;
	}
	p->frag_later = 1;
	p->tuple.proto = st->lf6.proto;
	p->tuple.sport = st->lf6.sport;
	p->tuple.dport = st->lf6.dport;
	p->icmp_type = st->lf6.icmp_type;
	p->is_echo = st->lf6.is_echo;
	return 0;
}

/*
 * The first fragment of a datagram: its ports for the fragments that follow,
 * staged (as it arrived, and as parsed again after a rewrite: a translated
 * later fragment is parsed again too), recorded by frag4_commit only once the
 * packet passed anti-spoofing and policy: a forged or refused first fragment
 * must not overwrite another source's entry.
 */
static __always_inline void frag4_first(const struct iphdr *ip, struct pkt *p)
{
	__u32 zero = 0, i = p->frag_first;
	struct xcni_fragstage *st;

	if (i > 1)
		return; /* staged twice already */
	p->frag_first = i + 1;
	st = bpf_map_lookup_elem(&xcni_fragstage, &zero);
	if (!st)
		return;
	st->k[i] = (struct xcni_frag_key){ .saddr = ip->saddr, .daddr = ip->daddr, .id = ip->id,
					   .proto = ip->protocol };
	st->f[i] = (struct xcni_frag){ .sport = p->tuple.sport, .dport = p->tuple.dport,
				       .icmp_type = p->icmp_type, .is_echo = p->is_echo };
}

/* IPv4's frag4_first: staged as it arrived, recorded by frag4_commit at the exit
 * of a packet let through. */
static __always_inline void frag6_first(struct pkt6 *p, __u32 id)
{
	__u32 zero = 0, i = p->frag_first;
	struct xcni_fragstage *st;

	if (i > 1)
		return;
	p->frag_first = i + 1;
	st = bpf_map_lookup_elem(&xcni_fragstage, &zero);
	if (!st)
		return;
	st->k6[i].id = id;
	__builtin_memcpy(st->k6[i].saddr, p->tuple.saddr, 16);
	__builtin_memcpy(st->k6[i].daddr, p->tuple.daddr, 16);
	st->f6[i] = (struct xcni_frag6){ .sport = p->tuple.sport, .dport = p->tuple.dport,
					 .icmp_type = p->icmp_type, .is_echo = p->is_echo,
					 .proto = p->tuple.proto };
}

/* st->owner's share of map (xcni_frag or xcni_frag6), made from empty when it
 * has none yet; NULL when the map holds no more shares. */
#define FRAG_SHARE(map, st, empty)                                                               \
	({                                                                                       \
		void *__sh = bpf_map_lookup_elem(map, &(st)->owner);                            \
		if (!__sh) {                                                                    \
			bpf_map_update_elem(map, &(st)->owner, empty, BPF_NOEXIST);             \
			__sh = bpf_map_lookup_elem(map, &(st)->owner);                          \
		}                                                                               \
		__sh;                                                                           \
	})

/*
 * A first fragment's staged entry j (frag_first's) into its share. The place
 * is written with its time last, zeroed first: a later fragment on another
 * CPU meanwhile finds no entry rather than half of one. 0, or -1: the share
 * had no place (or there was no room for a new share).
 */
static __always_inline int frag_put(struct xcni_fragstage *st, __u32 j)
{
	struct xcni_frag_share *sh;
	struct xcni_frag_slot *s;
	int i;

	if (j > 1)
		return 0;
	st->owner = frag4_owner(&st->k[j].saddr, &st->k[j].daddr);
	sh = FRAG_SHARE(&xcni_frag, st, &st->empty);
	if (!sh)
		return -1;
	i = FRAG_PLACE(sh, &st->k[j], frag4_key_eq, st->now);
	if (i < 0 || i >= XCNI_FRAG_PER_EP)
		return -1;
	s = &sh->s[i];
	s->ts_ns = 0;
	s->k = st->k[j];
	s->f = st->f[j];
	s->last = 0;
	s->ts_ns = st->now;
	return 0;
}

static __always_inline int frag6_put(struct xcni_fragstage *st, __u32 j)
{
	struct xcni_frag6_share *sh;
	struct xcni_frag6_slot *s;
	int i;

	if (j > 1)
		return 0;
	st->owner = frag6_owner(st->k6[j].saddr, st->k6[j].daddr);
	sh = FRAG_SHARE(&xcni_frag6, st, &st->empty6);
	if (!sh)
		return -1;
	i = FRAG_PLACE(sh, &st->k6[j], frag6_key_eq, st->now);
	if (i < 0 || i >= XCNI_FRAG_PER_EP)
		return -1;
	s = &sh->s[i];
	s->ts_ns = 0;
	s->k = st->k6[j];
	s->f = st->f6[j];
	s->last = 0;
	s->ts_ns = st->now;
	return 0;
}

/*
 * At the exit of a packet let through (first, last: how many entries
 * frag_first and frag_later staged): a last fragment frees its datagram's
 * place, if no other datagram took it meanwhile; a first fragment takes one.
 * 0, or -1: a first fragment's share was full, the packet is to be refused
 * (drop-frag-share).
 */
__attribute__((noinline)) int frag4_commit(__u32 first, __u32 last)
{
	struct xcni_fragstage *st = FRAG_STAGE();
	int ret = 0;

	if (!st)
		return 0;
	st->now = bpf_ktime_get_ns();
	for (__u32 j = 0; j < 2 && j < last; j++) {
		struct xcni_frag_share *sh;
		__u32 idx = st->last_idx[j];

		st->owner = st->last_owner[j];
		sh = bpf_map_lookup_elem(&xcni_frag, &st->owner);
		if (sh && idx < XCNI_FRAG_PER_EP && sh->s[idx].ts_ns == st->last_ts[j])
			sh->s[idx].last = 1;
	}
	for (__u32 j = 0; j < 2 && j < first; j++)
		if (frag_put(st, j))
			ret = -1;
	return ret;
}

__attribute__((noinline)) int frag6_commit(__u32 first, __u32 last)
{
	struct xcni_fragstage *st = FRAG_STAGE();
	int ret = 0;

	if (!st)
		return 0;
	st->now = bpf_ktime_get_ns();
	for (__u32 j = 0; j < 2 && j < last; j++) {
		struct xcni_frag6_share *sh;
		__u32 idx = st->last_idx[j];

		st->owner = st->last_owner[j];
		sh = bpf_map_lookup_elem(&xcni_frag6, &st->owner);
		if (sh && idx < XCNI_FRAG_PER_EP && sh->s[idx].ts_ns == st->last_ts[j])
			sh->s[idx].last = 1;
	}
	for (__u32 j = 0; j < 2 && j < first; j++)
		if (frag6_put(st, j))
			ret = -1;
	return ret;
}

#endif
