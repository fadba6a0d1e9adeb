/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fragments, both families: a first fragment's ports staged by the parser
 * (frag_first, frag6_first) and written at the program's exit only when the
 * packet was let through (frag_commit, frag6_commit); a later fragment, which
 * carries no ports, takes its flow's from that entry (frag_later,
 * frag6_later). parse.h calls the first two kinds.
 */
#ifndef XCNI_FRAG_H
#define XCNI_FRAG_H

#include "maps.h"
#include "parse.h"

/*
 * A later fragment takes the ports of its datagram's first fragment; one whose
 * first fragment was not seen (lost, reordered, or forged alone) is dropped.
 */
static __always_inline int frag_later(struct iphdr *ip, struct pkt *p)
{
	struct xcni_frag_key k = { .saddr = ip->saddr, .daddr = ip->daddr, .id = ip->id,
				   .proto = ip->protocol };
	const struct xcni_frag *f = bpf_map_lookup_elem(&xcni_frag, &k);

	if (!f)
		return XCNI_DROP_FRAGMENT;
	p->frag_later = 1;
	p->tuple.sport = f->sport;
	p->tuple.dport = f->dport;
	p->icmp_type = f->icmp_type;
	p->is_echo = f->is_echo;
	return 0;
}

/*
 * A later fragment takes its datagram's L4 from the first fragment (keyed by
 * addresses and the fragment id); one whose first was not seen is dropped.
 */
static __always_inline int frag6_later(struct pkt6 *p, __u32 id)
{
	struct xcni_frag6_key k = { .id = id };
	const struct xcni_frag6 *f;

	__builtin_memcpy(k.saddr, p->tuple.saddr, 16);
	__builtin_memcpy(k.daddr, p->tuple.daddr, 16);
	f = bpf_map_lookup_elem(&xcni_frag6, &k);
	if (!f)
		return XCNI_DROP_FRAGMENT;
	p->frag_later = 1;
	p->tuple.proto = f->proto;
	p->tuple.sport = f->sport;
	p->tuple.dport = f->dport;
	p->icmp_type = f->icmp_type;
	p->is_echo = f->is_echo;
	return 0;
}

/*
 * The first fragment of a datagram: its ports for the fragments that follow,
 * staged (as it arrived, and as parsed again after a rewrite: a translated
 * later fragment is parsed again too), recorded by frag_commit only once the
 * packet passed anti-spoofing and policy: a forged or refused first fragment
 * must not overwrite another source's entry.
 */
static __always_inline void frag_first(const struct iphdr *ip, struct pkt *p)
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

/* IPv4's frag_first: staged as it arrived, recorded by frag6_commit at the exit
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

/* At the exit of a first fragment let through: its staged ports recorded. */
static __always_inline void frag_commit(const struct pkt *p)
{
	__u32 zero = 0;
	struct xcni_fragstage *st = bpf_map_lookup_elem(&xcni_fragstage, &zero);

	if (!st)
		return;
	bpf_map_update_elem(&xcni_frag, &st->k[0], &st->f[0], BPF_ANY);
	if (p->frag_first > 1)
		bpf_map_update_elem(&xcni_frag, &st->k[1], &st->f[1], BPF_ANY);
}

static __always_inline void frag6_commit(const struct pkt6 *p)
{
	__u32 zero = 0;
	struct xcni_fragstage *st = bpf_map_lookup_elem(&xcni_fragstage, &zero);

	if (!st)
		return;
	bpf_map_update_elem(&xcni_frag6, &st->k6[0], &st->f6[0], BPF_ANY);
	if (p->frag_first > 1)
		bpf_map_update_elem(&xcni_frag6, &st->k6[1], &st->f6[1], BPF_ANY);
}

#endif
