/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fragments, both families: a first fragment's ports staged by the parser
 * (frag_first) and written at the program's exit only when the packet was
 * let through (frag_commit); a later fragment, which carries no ports, takes
 * its flow's from that entry (frag_later). parse.h
 * calls the first two kinds, and includes this file; this one knows the
 * packets' views from flow.h (no include cycle).
 *
 * The entries live in shares (struct xcni_frag_share): one per local
 * endpoint, one for the node, XCNI_FRAG_OUTSIDE_SHARES for the outside,
 * XCNI_FRAG_PER_EP datagrams each. A datagram belongs to the local endpoint
 * that sends it; else, from a source outside the cluster (the ipcache names
 * no pod, node or this host), to the outside share its source hashes to
 * (xcni_frag_outside_share, keyed with the node's secret: the IPv4 address,
 * an IPv6 source's /56), where
 * that source holds at most XCNI_FRAG_PER_SRC places; else to the local
 * endpoint it goes to, else to the node (frag_owner): whoever floods first
 * fragments, from a pod, toward one, or from the underlay, fills that share
 * (an outside host, its half of its share), and its first fragments beyond it
 * are refused (drop-frag-share); nothing of another share is ever evicted.
 * An outside host so cannot refuse another's datagrams: another share, or
 * the other half of its own (docs/decisions/fragment-shares.md).
 */
#ifndef XCNI_FRAG_H
#define XCNI_FRAG_H

#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "config.h"
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
 * Written once for both families, fam a constant where inlined (an argument
 * of the global scans, which take either): the family's types differ (struct
 * xcni_frag_key, xcni_frag6_key; the slots and shares holding them), so what
 * reads them is a macro body (FRAG_PLACE, FRAG_SCAN, FRAG_PUT) expanded once
 * per family, and what does not, a function.
 */

/*
 * The share a datagram belongs to: the ep_id of the local endpoint that sends
 * it; its source's outside share (xcni_frag_outside_share) when its source is
 * outside the cluster (an underlay host's flood toward a pod or a NodePort
 * fills that one, not the pod's, the node's, nor most other hosts'; an IPv6
 * link-local source is the node's, as identity_of says); else the ep_id of
 * the local endpoint it goes to; 0, the node's, when neither end is local.
 */
static __always_inline __u32 frag_owner(int fam, const void *saddr, const void *daddr)
{
	void *eps = fam == XCNI_AF_INET ? (void *)&xcni_endpoints : (void *)&xcni_endpoints6;
	const struct xcni_endpoint *ep = bpf_map_lookup_elem(eps, saddr);
	const __u8 *s = saddr;

	if (ep)
		return ep->ep_id;
	if (fam == XCNI_AF_INET) {
		struct xcni_ipcache_key k = { .prefixlen = 32, .addr = *(const __be32 *)saddr };

		if (!frag_inside(bpf_map_lookup_elem(&xcni_ipcache, &k)))
			return xcni_frag_outside_share(XCNI_AF_INET, saddr, frag_key[0], frag_key[1]);
	} else if (!(s[0] == 0xfe && (s[1] & 0xc0) == 0x80)) {
		struct xcni_ipcache6_key k = { .prefixlen = 128 }, *kp = &k;

		/* Its address made here, not hoisted out of frag_commit's loop
		 * and spilled: 8 bytes of frame (72, where the chain from
		 * from_pod on 6.1 has 64). */
		barrier_var(kp);
		__builtin_memcpy(kp->addr, saddr, 16);
		if (!frag_inside(bpf_map_lookup_elem(&xcni_ipcache6, kp)))
			return xcni_frag_outside_share(XCNI_AF_INET6, saddr, frag_key[0],
						       frag_key[1]);
	}
	ep = bpf_map_lookup_elem(eps, daddr);
	return ep ? ep->ep_id : 0;
}

/* Two keys of the family equal, word by word (their padding is always zero). */
static __always_inline int frag_key_eq(int fam, const void *a, const void *b)
{
	const __u32 *x = a, *y = b;
	const int n = fam == XCNI_AF_INET ? sizeof(struct xcni_frag_key) / 4
					  : sizeof(struct xcni_frag6_key) / 4;

#pragma unroll
	for (int i = 0; i < n; i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

/*
 * The places of share sh that key's source (its IPv4 address, an IPv6
 * source's /56: the first word of the key and XCNI_V6_SITE_W1 of the second) holds, up to
 * XCNI_FRAG_PER_SRC: a datagram whose first fragment passed, younger than
 * XCNI_FRAG_LIFE_NS, whose last fragment did not.
 */
#define FRAG_SRC_HELD(fam, sh, key, now)                                                         \
	({                                                                                       \
		const __u32 *__x = (const __u32 *)(key);                                        \
		int __n = 0;                                                                    \
		for (int __i = 0; __i < XCNI_FRAG_PER_EP; __i++) {                              \
			const __u32 *__w = (const __u32 *)&(sh)->s[__i].k;                      \
			__u64 __ts = (sh)->s[__i].ts_ns;                                        \
			if (!__ts || (now) - __ts > XCNI_FRAG_LIFE_NS || (sh)->s[__i].last ||   \
			    __w[0] != __x[0] ||                                                 \
			    (fam == XCNI_AF_INET6 && XCNI_V6_SITE_W1(__w[1] ^ __x[1])))          \
				continue;                                                       \
			if (++__n >= XCNI_FRAG_PER_SRC)                                         \
				break;                                                          \
		}                                                                               \
		__n;                                                                            \
	})

/*
 * The place a first fragment takes in its share: its datagram's (a first
 * fragment seen again), else, unless cap (an outside share) and its source
 * holds XCNI_FRAG_PER_SRC places there already, a free one (never used, or
 * older than XCNI_FRAG_LIFE_NS), else one whose datagram's last fragment
 * passed (a later fragment reordered after the last may still want it); < 0:
 * none, the share (or the source's part of it) is full. Scans each stopping at
 * what it looks for: one pass keeping three candidates gives the verifier a
 * state for every combination of them.
 */
#define FRAG_PLACE(fam, sh, key, now, cap)                                                       \
	({                                                                                       \
		int __p = -1;                                                                   \
		for (int __i = 0; __i < XCNI_FRAG_PER_EP; __i++)                                \
			if ((sh)->s[__i].ts_ns && frag_key_eq(fam, &(sh)->s[__i].k, key)) {     \
				__p = __i;                                                      \
				break;                                                          \
			}                                                                       \
		if (__p < 0 && (cap) && frag_src_held(fam) >= XCNI_FRAG_PER_SRC)               \
			__p = -2;                                                               \
		for (int __i = 0; __p == -1 && __i < XCNI_FRAG_PER_EP; __i++) {                 \
			__u64 __ts = (sh)->s[__i].ts_ns;                                        \
			if (!__ts || (now) - __ts > XCNI_FRAG_LIFE_NS)                          \
				__p = __i;                                                      \
		}                                                                               \
		for (int __i = 0; __p == -1 && __i < XCNI_FRAG_PER_EP; __i++)                  \
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
 * FRAG_SRC_HELD for the first fragment being placed (st->lk or st->lk6 as fam
 * says) in st->owner's share, at st->now: a global function, verified once on
 * its own (its count, a precise scalar, in FRAG_PLACE's paths made the
 * verifier walk it for each of them).
 */
__attribute__((noinline)) int frag_src_held(__u32 fam)
{
	struct xcni_fragstage *st = FRAG_STAGE();

	if (!st)
		return 0;
	if (fam == XCNI_AF_INET) {
		struct xcni_frag_share *sh = bpf_map_lookup_elem(&xcni_frag, &st->owner);

		return sh ? FRAG_SRC_HELD(XCNI_AF_INET, sh, &st->lk, st->now) : 0;
	} else {
		struct xcni_frag6_share *sh = bpf_map_lookup_elem(&xcni_frag6, &st->owner);

		return sh ? FRAG_SRC_HELD(XCNI_AF_INET6, sh, &st->lk6, st->now) : 0;
	}
}

/*
 * A later fragment's datagram (its key lk) in st->owner's share sh: the first
 * fragment's L4 into lf; stage (1, 2: a last fragment, staged as which)
 * stages its place. 0, or -1 when it is not there.
 */
#define FRAG_SCAN(fam, sh, st, lk, lf, stage)                                                    \
	({                                                                                       \
		int __r = -1;                                                                   \
		for (__u32 __i = 0; (sh) && __i < XCNI_FRAG_PER_EP; __i++) {                    \
			if (!(sh)->s[__i].ts_ns || !frag_key_eq(fam, &(sh)->s[__i].k, &(lk)))   \
				continue;                                                       \
			(lf) = (sh)->s[__i].f;                                                  \
			if ((stage) == 1 || (stage) == 2) {                                     \
				__u32 __k = ((stage) - 1) & 1;                                  \
				(st)->last_owner[__k] = (st)->owner;                            \
				(st)->last_idx[__k] = __i;                                      \
				(st)->last_ts[__k] = (sh)->s[__i].ts_ns;                        \
			}                                                                       \
			__r = 0;                                                                \
			break;                                                                  \
		}                                                                               \
		__r;                                                                            \
	})

/*
 * A later fragment (its key in st->lk or st->lk6 as fam says): its
 * datagram's first fragment's L4 from its share into st->lf or st->lf6;
 * stage (1, 2: a last fragment, staged as which) stages its place, freed at
 * the exit once the fragment passed. 0, or -1 when the first fragment was
 * not seen (lost, reordered, refused, or the fragment is forged alone).
 */
__attribute__((noinline)) int frag_find(__u32 fam, __u32 stage)
{
	struct xcni_fragstage *st = FRAG_STAGE();

	if (!st)
		return -1;
	if (fam == XCNI_AF_INET) {
		struct xcni_frag_share *sh;

		st->owner = frag_owner(XCNI_AF_INET, &st->lk.saddr, &st->lk.daddr);
		sh = bpf_map_lookup_elem(&xcni_frag, &st->owner);
		return FRAG_SCAN(XCNI_AF_INET, sh, st, st->lk, st->lf, stage);
	} else {
		struct xcni_frag6_share *sh;

		st->owner = frag_owner(XCNI_AF_INET6, st->lk6.saddr, st->lk6.daddr);
		sh = bpf_map_lookup_elem(&xcni_frag6, &st->owner);
		return FRAG_SCAN(XCNI_AF_INET6, sh, st, st->lk6, st->lf6, stage);
	}
}

/* The stage of a last fragment (frag_find's): 1, 2 as it is parsed first or
 * again; 0, not staged (not the last, or staged twice already). */
static __always_inline __u32 frag_last_stage(int last, __u8 *frag_last)
{
	if (!last || *frag_last > 1)
		return 0;
	return ++*frag_last;
}

/*
 * A later fragment (f: its flow, addresses and protocol parsed; id its
 * fragment id, network order; last: no more fragments follow) takes its
 * datagram's L4 from the first fragment (keyed by addresses, id and, IPv4,
 * protocol); one whose first fragment was not seen (lost, reordered, or
 * forged alone) is dropped.
 */
static __always_inline int frag_later(int fam, struct flow *f, __u32 id, int last)
{
	struct xcni_fragstage *st = FRAG_STAGE();
	const struct xcni_frag *lf;
	__u8 before = f->frag_last;

	if (!st)
		return XCNI_DROP_FRAGMENT;
	if (fam == XCNI_AF_INET) {
		st->lk = (struct xcni_frag_key){ .saddr = f->tuple.v4.saddr,
						 .daddr = f->tuple.v4.daddr,
						 .id = (__be16)id,
						 .proto = f->tuple.v4.proto };
	} else {
		st->lk6.id = id;
		__builtin_memcpy(st->lk6.saddr, f->tuple.v6.saddr, 16);
		__builtin_memcpy(st->lk6.daddr, f->tuple.v6.daddr, 16);
	}
	if (frag_find(fam, frag_last_stage(last, &f->frag_last))) {
		f->frag_last = before;
		return XCNI_DROP_FRAGMENT;
	}
	f->frag_later = 1;
	/* The two values share their first fields (IPv6's adds the protocol). */
	lf = fam == XCNI_AF_INET ? &st->lf : (const struct xcni_frag *)&st->lf6;
	/* The ports alone in IPv4's key (its protocol, parsed, is in place:
	 * storing it again costs the programs 15-35% more verified insns). */
	if (fam == XCNI_AF_INET) {
		f->tuple.v4.sport = lf->sport;
		f->tuple.v4.dport = lf->dport;
	} else {
		f->tuple.v6.proto = st->lf6.proto;
		f->tuple.v6.sport = lf->sport;
		f->tuple.v6.dport = lf->dport;
	}
	f->icmp_type = lf->icmp_type;
	f->is_echo = lf->is_echo;
	return 0;
}

/*
 * The first fragment of a datagram (f: its flow, parsed; id its fragment id,
 * network order): its L4 for the fragments that follow, staged (as it
 * arrived, and as parsed again after a rewrite: a translated later fragment
 * is parsed again too), recorded by frag_commit only once the packet passed
 * anti-spoofing and policy: a forged or refused first fragment must not
 * overwrite another source's entry.
 */
static __always_inline void frag_first(int fam, struct flow *f, __u32 id)
{
	__u32 zero = 0, i = f->frag_first;
	struct xcni_fragstage *st;

	if (i > 1)
		return; /* staged twice already */
	f->frag_first = i + 1;
	st = bpf_map_lookup_elem(&xcni_fragstage, &zero);
	if (!st)
		return;
	if (fam == XCNI_AF_INET) {
		st->k[i] = (struct xcni_frag_key){ .saddr = f->tuple.v4.saddr,
						   .daddr = f->tuple.v4.daddr,
						   .id = (__be16)id,
						   .proto = f->tuple.v4.proto };
		st->f[i] = (struct xcni_frag){ .sport = f->tuple.v4.sport,
					       .dport = f->tuple.v4.dport,
					       .icmp_type = f->icmp_type,
					       .is_echo = f->is_echo };
	} else {
		st->k6[i].id = id;
		__builtin_memcpy(st->k6[i].saddr, f->tuple.v6.saddr, 16);
		__builtin_memcpy(st->k6[i].daddr, f->tuple.v6.daddr, 16);
		st->f6[i] = (struct xcni_frag6){ .sport = f->tuple.v6.sport,
						 .dport = f->tuple.v6.dport,
						 .icmp_type = f->icmp_type,
						 .is_echo = f->is_echo,
						 .proto = f->tuple.v6.proto };
	}
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
 * A first fragment's staged entry (key, value v: frag_first's) into its
 * owner's share sh of the family. The place is written with its time last,
 * zeroed first: a later fragment on another CPU meanwhile finds no entry
 * rather than half of one. 0, or -1: the share had no place (an outside
 * share: or its source held its XCNI_FRAG_PER_SRC; or there was no room for
 * a new share).
 */
#define FRAG_PUT(fam, sh, st, key, v)                                                           \
	({                                                                                      \
		int __slot = (sh) ? FRAG_PLACE(fam, sh, &(key), (st)->now,                      \
					       (st)->owner >= XCNI_FRAG_OUTSIDE_MIN)                 \
				  : -1;                                                         \
		if (__slot >= 0 && __slot < XCNI_FRAG_PER_EP) {                                 \
			(sh)->s[__slot].ts_ns = 0;                                              \
			(sh)->s[__slot].k = (key);                                              \
			(sh)->s[__slot].f = (v);                                                \
			(sh)->s[__slot].last = 0;                                               \
			(sh)->s[__slot].ts_ns = (st)->now;                                      \
		}                                                                               \
		__slot >= 0 && __slot < XCNI_FRAG_PER_EP ? 0 : -1;                              \
	})

/* A last fragment's staged place j (frag_find's) in the family's share sh:
 * marked free, if no other datagram took it meanwhile. */
#define FRAG_FREE(sh, st, j)                                                                     \
	({                                                                                       \
		__u32 __idx = (st)->last_idx[j];                                                \
		if ((sh) && __idx < XCNI_FRAG_PER_EP && (sh)->s[__idx].ts_ns == (st)->last_ts[j]) \
			(sh)->s[__idx].last = 1;                                                \
	})

/*
 * The staged first fragment j into its share: 0, or -1 (FRAG_PUT). Placed
 * from the stage's fixed fields (lk, lf: a later fragment's, done with by the
 * exit), whose offsets the scans read directly, and the stage's addresses
 * made after barrier_var, not hoisted out of frag_commit's loop: otherwise
 * the word pointers into k[j] and the fields' addresses were spilled, and
 * frag_commit's frame took 128 bytes (from_pod's (IPv4) chain 544 of the
 * verifier's 512), where it takes 64.
 */
static __always_inline int frag_put(int fam, struct xcni_fragstage *st, __u32 j)
{
	if (j > 1)
		return 0;
	barrier_var(st);
	if (fam == XCNI_AF_INET) {
		struct xcni_frag_share *sh;

		st->lk = st->k[j];
		st->lf = st->f[j];
		st->owner = frag_owner(XCNI_AF_INET, &st->lk.saddr, &st->lk.daddr);
		sh = FRAG_SHARE(&xcni_frag, st, &st->empty);
		return FRAG_PUT(XCNI_AF_INET, sh, st, st->lk, st->lf);
	} else {
		struct xcni_frag6_share *sh;

		st->lk6 = st->k6[j];
		st->lf6 = st->f6[j];
		st->owner = frag_owner(XCNI_AF_INET6, st->lk6.saddr, st->lk6.daddr);
		sh = FRAG_SHARE(&xcni_frag6, st, &st->empty6);
		return FRAG_PUT(XCNI_AF_INET6, sh, st, st->lk6, st->lf6);
	}
}

/*
 * At the exit of a packet let through (first, last: how many entries
 * frag_first and frag_later staged): a last fragment frees its datagram's
 * place, if no other datagram took it meanwhile; a first fragment takes one.
 * 0, or -1: a first fragment's share was full (an outside source's: or its
 * part of it), the packet is to be refused (drop-frag-share). fam a constant.
 */
static __always_inline int frag_commit_fam(int fam, __u32 first, __u32 last)
{
	struct xcni_fragstage *st = FRAG_STAGE();
	int ret = 0;

	if (!st)
		return 0;
	st->now = bpf_ktime_get_ns();
	for (__u32 j = 0; j < 2 && j < last; j++) {
		st->owner = st->last_owner[j];
		if (fam == XCNI_AF_INET) {
			struct xcni_frag_share *sh = bpf_map_lookup_elem(&xcni_frag, &st->owner);

			FRAG_FREE(sh, st, j);
		} else {
			struct xcni_frag6_share *sh = bpf_map_lookup_elem(&xcni_frag6, &st->owner);

			FRAG_FREE(sh, st, j);
		}
	}
	for (__u32 j = 0; j < 2 && j < first; j++)
		if (frag_put(fam, st, j))
			ret = -1;
	return ret;
}

/*
 * frag_commit_fam in one global for both families: verified once, its frame
 * beside the exit's (64 bytes: from_pod's (IPv4) chain, 416 of its own, has 96).
 * The family is taken once, each branch the family's copy: a fam tested at
 * every step lets the verifier walk IPv6's steps after IPv4's (+13,000
 * verified insns per program).
 */
__attribute__((noinline)) int frag_commit(__u32 fam, __u32 first, __u32 last)
{
	if (fam == XCNI_AF_INET)
		return frag_commit_fam(XCNI_AF_INET, first, last);
	return frag_commit_fam(XCNI_AF_INET6, first, last);
}

#endif
