/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A cursor over the packet that bounds-checks every header it hands out. */
#ifndef XCNI_PARSE_H
#define XCNI_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../xcni_shared.h"
#include "compat.h"
#include "maps.h"

struct cursor {
	void *pos;
	void *end;
};

static __always_inline void cursor_init(struct cursor *c, struct __sk_buff *skb)
{
	c->pos = (void *)(long)skb->data;
	c->end = (void *)(long)skb->data_end;
}

/* Returns a pointer to the next len bytes and advances, or NULL if short. */
#define cursor_take(c, len)                                                  \
	({                                                                   \
		void *__p = (c)->pos;                                        \
		if ((void *)((char *)__p + (len)) > (c)->end)                \
			__p = NULL;                                          \
		else                                                         \
			(c)->pos = (char *)__p + (len);                      \
		__p;                                                         \
	})

/* The packet as the programs see it: Ethernet, IPv4, ports. */
struct pkt {
	struct ethhdr *eth;
	struct iphdr *ip;
	struct tcphdr *tcp; /* set for TCP */
	struct xcni_ct_key tuple; /* ports in network order */
	__u8 tcp_flags; /* TCP_FLAG_* bits of byte 13; for SCTP, its first chunk's meaning */
	__u8 icmp_type;
	__u8 is_echo; /* ICMP echo request or reply: tracked like a flow */
	__u32 len; /* skb->len on arrival: counters and events report that */
	__u32 policy_rev; /* set by ct_track: the policy revision the packet is judged under */
	__u8 frag_later; /* a fragment after the first: ports from xcni_frag, no L4 header */
	__u8 frag_first; /* the first of fragments: its ports staged for xcni_frag (frag_first);
			  * 2: parsed again after a rewrite, staged a second time */
	__u16 rev_nat; /* a translated flow's xcni_revnat index (ct_track, or lb_translate) */
	__u32 backend_id; /* and its backend (xcni_backend): both for events */
	__u8 ct_state; /* set by ct_track: the state of the flow's entry, 0 for none; for
			* CT_NEW, ESTABLISHED: a TCP flow met mid-stream (its entry gone) */
	__u8 l3_len; /* IPv4 header length with options */
	__u16 encap_len; /* bytes between the outer Ethernet and this IPv4 header (from_overlay) */
};

#define XCNI_TCP_FIN 0x01
#define XCNI_TCP_SYN 0x02
#define XCNI_TCP_RST 0x04
#define XCNI_TCP_ACK 0x10

/*
 * SCTP chunk types (RFC 9260 3.2) that open and close an association, read
 * by conntrack as the TCP flags they amount to, so one state machine (ct.h)
 * serves both: INIT opens (SYN), INIT ACK answers it (SYN+ACK), ABORT and
 * SHUTDOWN COMPLETE end it (RST), SHUTDOWN and SHUTDOWN ACK are the two
 * sides' FINs; any other chunk (DATA, SACK, HEARTBEAT, COOKIE ECHO, ...) is
 * an association's traffic (ACK), which picks up a flow whose entry is gone
 * as a TCP ACK does. Only the first chunk is read: INIT, INIT ACK and
 * SHUTDOWN COMPLETE are never bundled with others (RFC 9260 6.10); an ABORT
 * or SHUTDOWN behind other chunks leaves the entry to its timeout.
 */
#define SCTP_CID_INIT 1
#define SCTP_CID_INIT_ACK 2
#define SCTP_CID_ABORT 6
#define SCTP_CID_SHUTDOWN 7
#define SCTP_CID_SHUTDOWN_ACK 8
#define SCTP_CID_SHUTDOWN_COMPLETE 14

static __always_inline __u8 sctp_chunk_flags(__u8 type)
{
	switch (type) {
	case SCTP_CID_INIT:
		return XCNI_TCP_SYN;
	case SCTP_CID_INIT_ACK:
		return XCNI_TCP_SYN | XCNI_TCP_ACK;
	case SCTP_CID_ABORT:
	case SCTP_CID_SHUTDOWN_COMPLETE:
		return XCNI_TCP_RST;
	case SCTP_CID_SHUTDOWN:
	case SCTP_CID_SHUTDOWN_ACK:
		return XCNI_TCP_FIN | XCNI_TCP_ACK;
	}
	return XCNI_TCP_ACK;
}

/* ICMP echo (RFC 792); linux/icmp.h, like linux/if_arp.h, drags libc in. */
struct xcni_icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 seq;
};
#define XCNI_ICMP_ECHOREPLY 0
#define XCNI_ICMP_ECHO 8
/* Errors, which quote the packet that caused them (RFC 792). */
#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

/* ARP (RFC 826); linux/if_arp.h would drag libc into a BPF build. */
struct xcni_arphdr {
	__be16 ar_hrd;
	__be16 ar_pro;
	__u8 ar_hln;
	__u8 ar_pln;
	__be16 ar_op;
};

/* ARP for IPv4 over Ethernet, the part after the fixed header. */
struct arp_eth_ipv4 {
	__u8 sha[ETH_ALEN];
	__u8 sip[4];
	__u8 tha[ETH_ALEN];
	__u8 tip[4];
} __attribute__((packed));

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

/*
 * Parses IPv4 and its L4 header. 0 on success, else the drop reason.
 * IP options are skipped (the L4 header is found at ihl * 4). Fragments: the
 * first is parsed like any packet and its ports remembered; a later one has no
 * L4 header and gets them from there (p->frag_later), see frag_later().
 */
static __always_inline int parse_ipv4(struct cursor *c, struct pkt *p)
{
	struct iphdr *ip = cursor_take(c, sizeof(struct iphdr));
	__u32 hlen;

	if (!ip)
		return XCNI_DROP_SHORT;
	if (ip->ihl < 5 || ip->version != 4)
		return XCNI_DROP_BAD_IHL;
	hlen = ip->ihl * 4;
	/* IPv4 BIG TCP: a GSO packet over 64K carries tot_len 0 (the skb has the length). */
	if (bpf_ntohs(ip->tot_len) < hlen && !(ip->tot_len == 0 && p->len > 0xffff))
		return XCNI_DROP_BAD_IHL;
	if (hlen > sizeof(struct iphdr)) {
		/* Options: skip them with a bounded, verifier-friendly step. */
		__u32 opt = hlen - sizeof(struct iphdr);

		if (opt > 40 || (void *)((char *)c->pos + opt) > c->end)
			return XCNI_DROP_SHORT;
		c->pos = (char *)c->pos + opt;
	}
	/* A header claiming more than the packet holds (a truncated packet, or a
	 * lie): nothing after it can be trusted, and the stack behind us would
	 * drop it anyway. skb->len, not data_end: a large skb is not all linear. */
	if (bpf_ntohs(ip->tot_len) > p->len - ETH_HLEN - p->encap_len)
		return XCNI_DROP_BAD_IHL;
	p->ip = ip;
	p->l3_len = hlen;
	p->tuple.saddr = ip->saddr;
	p->tuple.daddr = ip->daddr;
	p->tuple.proto = ip->protocol;
	if (ip->frag_off & bpf_htons(0x1fff)) /* an offset: not the first fragment */
		return frag_later(ip, p);

	switch (ip->protocol) {
	case IPPROTO_TCP: {
		struct tcphdr *t = cursor_take(c, sizeof(struct tcphdr));

		if (!t)
			return XCNI_DROP_SHORT;
		p->tcp = t;
		p->tuple.sport = t->source;
		p->tuple.dport = t->dest;
		p->tcp_flags = ((__u8 *)t)[13];
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *u = cursor_take(c, sizeof(struct udphdr));

		if (!u)
			return XCNI_DROP_SHORT;
		p->tuple.sport = u->source;
		p->tuple.dport = u->dest;
		break;
	}
	case IPPROTO_ICMP: {
		struct xcni_icmphdr *i = cursor_take(c, sizeof(struct xcni_icmphdr));

		if (!i)
			return XCNI_DROP_SHORT;
		p->icmp_type = i->type;
		if (i->type == XCNI_ICMP_ECHO || i->type == XCNI_ICMP_ECHOREPLY) {
			/* Request and reply share the id: both ports carry it. */
			p->is_echo = 1;
			p->tuple.sport = i->id;
			p->tuple.dport = i->id;
		}
		break;
	}
	case IPPROTO_SCTP: {
		/* Common header: source port, destination port, tag, checksum. */
		__be16 *ports = cursor_take(c, 12);
		__u8 *chunk;

		if (!ports)
			return XCNI_DROP_SHORT;
		p->tuple.sport = ports[0];
		p->tuple.dport = ports[1];
		/* The first chunk's type, as the TCP flags it means to conntrack
		 * (none: a packet without chunks opens and closes nothing). */
		chunk = cursor_take(c, 4);
		if (chunk)
			p->tcp_flags = sctp_chunk_flags(chunk[0]);
		break;
	}
	default:
		/* Other protocols: tracked by addresses and protocol only. */
		break;
	}
	if (ip->frag_off & bpf_htons(0x2000)) /* MF at offset 0: the first fragment */
		frag_first(ip, p);
	return 0;
}

/* After a rewrite: the headers again (every packet pointer went stale). */
static __always_inline int reparse(struct __sk_buff *skb, struct cursor *c, struct pkt *p)
{
	cursor_init(c, skb);
	p->eth = cursor_take(c, sizeof(struct ethhdr));
	if (!p->eth)
		return XCNI_DROP_SHORT;
	return parse_ipv4(c, p);
}

#endif
