/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Parsing, both families. IPv4: a cursor over the packet that bounds-checks
 * every header it hands out (parse_ipv4, reparse4). IPv6: the fixed header and
 * the extension headers, walked with a bound (parse_ipv6), read with
 * bpf_skb_load_bytes (offsets that depend on the extension headers need no
 * pointer proofs); from_pod and to_pod hand IPv6 frames to from_pod6 /
 * to_pod6, global functions the verifier checks on their own. Fragments:
 * frag.h, which the parsers stage (it knows the packets' views, struct pkt
 * and struct pkt6, from flow.h, not this file: no include cycle).
 */
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
#include <stddef.h>

#include "../xcni_shared.h"
#include "flow.h"
#include "frag.h"
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

#define XCNI_TCP_FIN 0x01
#define XCNI_TCP_SYN 0x02
#define XCNI_TCP_RST 0x04
#define XCNI_TCP_ACK 0x10

/*
 * SCTP chunk types (RFC 9260 3.2) that open and close an association, read
 * by conntrack as the TCP flags they amount to, so one state machine (conntrack.h)
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

#define ICMP6_TIME_EXCEEDED 3

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
	p->family = XCNI_AF_INET;
	p->l3_len = hlen;
	p->tuple.saddr = ip->saddr;
	p->tuple.daddr = ip->daddr;
	p->tuple.proto = ip->protocol;
	if (ip->frag_off & bpf_htons(0x1fff)) /* an offset: not the first fragment */
		return frag_later(XCNI_AF_INET, pkt_flow(p), ip->id,
				  !(ip->frag_off & bpf_htons(0x2000)));

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
		frag_first(XCNI_AF_INET, pkt_flow(p), ip->id);
	return 0;
}

#define XCNI_NH_HOP 0
#define XCNI_NH_ROUTING 43
#define XCNI_NH_FRAGMENT 44
#define XCNI_NH_AH 51
#define XCNI_NH_DSTOPTS 60

#define XCNI_IPPROTO_ICMPV6 58

#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129

struct xcni_ip6hdr {
	__u8 vtc; /* version (4 bits), traffic class (high 4) */
	__u8 flow[3];
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline int nh_is_ext(__u8 nh)
{
	return nh == XCNI_NH_HOP || nh == XCNI_NH_ROUTING || nh == XCNI_NH_FRAGMENT ||
	       nh == XCNI_NH_AH || nh == XCNI_NH_DSTOPTS;
}

/*
 * The fixed header, at most XCNI_V6_MAX_EXT extension headers (hop-by-hop,
 * routing, fragment, destination options, AH), then the L4 header. 0 or the
 * drop reason. More extension headers than that: XCNI_DROP_EXTHDR (a chain
 * the verifier could not bound, and no stack sends one). Fragments as IPv4's:
 * the first (offset 0, M set) is parsed and leaves its L4 for the others.
 */
static __always_inline int parse_ipv6(struct __sk_buff *skb, struct pkt6 *p)
{
	struct xcni_ip6hdr ip;
	struct {
		__u8 nh;
		__u8 len;
		__be16 frag_off;
		__be32 id;
	} x;
	__u32 off = ETH_HLEN + sizeof(ip), plen, room, frag_id = 0;
	int frag = 0; /* 1: the first fragment, 2: a later one, 3: the last one */
	__u8 nh;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return XCNI_DROP_SHORT;
	if ((ip.vtc >> 4) != 6)
		return XCNI_DROP_BAD_IHL;
	p->family = XCNI_AF_INET6;
	__builtin_memcpy(p->tuple.saddr, ip.saddr, 16);
	__builtin_memcpy(p->tuple.daddr, ip.daddr, 16);
	p->hop_limit = ip.hop_limit;
	/* Payload length against what the packet holds (skb->len: not all of a
	 * large skb is linear). 0 with a payload: a jumbogram or BIG TCP, only
	 * plausible beyond 64K. */
	plen = bpf_ntohs(ip.payload_len);
	room = p->len - ETH_HLEN - sizeof(ip);
	if (plen > room || (!plen && room && room <= 0xffff))
		return XCNI_DROP_BAD_IHL;
	nh = ip.nexthdr;
#pragma unroll
	for (int i = 0; i < XCNI_V6_MAX_EXT; i++) {
		if (!nh_is_ext(nh) || frag >= 2)
			break;
		/* Every extension header is at least 8 bytes. */
		if (bpf_skb_load_bytes(skb, off, &x, sizeof(x)))
			return XCNI_DROP_EXTHDR;
		if (nh == XCNI_NH_FRAGMENT) {
			__u16 fo = bpf_ntohs(x.frag_off);

			frag_id = x.id;
			frag = fo & 0xfff8 ? (fo & 1 ? 2 : 3) : fo & 1 ? 1 : 0;
			off += 8;
		} else if (nh == XCNI_NH_AH) {
			off += ((__u32)x.len + 2) * 4;
		} else {
			off += ((__u32)x.len + 1) * 8;
		}
		nh = x.nh;
	}
	/* After a later fragment's header comes payload, whatever nh says. */
	if (frag < 2 && nh_is_ext(nh))
		return XCNI_DROP_EXTHDR;
	p->tuple.proto = nh;
	p->l4_off = off;
	if (frag >= 2)
		return frag_later(XCNI_AF_INET6, pkt_flow(p), frag_id, frag == 3);

	switch (nh) {
	case IPPROTO_TCP: {
		__u8 t[14];

		if (bpf_skb_load_bytes(skb, off, t, sizeof(t)))
			return XCNI_DROP_SHORT;
		__builtin_memcpy(&p->tuple.sport, t, 2);
		__builtin_memcpy(&p->tuple.dport, t + 2, 2);
		p->tcp_flags = t[13];
		break;
	}
	case IPPROTO_UDP:
	case IPPROTO_SCTP: {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)))
			return XCNI_DROP_SHORT;
		p->tuple.sport = ports[0];
		p->tuple.dport = ports[1];
		break;
	}
	case XCNI_IPPROTO_ICMPV6: {
		struct xcni_icmphdr i;

		if (bpf_skb_load_bytes(skb, off, &i, sizeof(i)))
			return XCNI_DROP_SHORT;
		p->icmp_type = i.type;
		if (i.type == ICMP6_ECHO_REQUEST || i.type == ICMP6_ECHO_REPLY) {
			p->is_echo = 1;
			p->tuple.sport = i.id;
			p->tuple.dport = i.id;
		}
		break;
	}
	default:
		break;
	}
	if (frag == 1)
		frag_first(XCNI_AF_INET6, pkt_flow(p), frag_id);
	return 0;
}

/* The Ethernet header at the frame's start (p->eth), the cursor c behind
 * it: 0, or XCNI_DROP_SHORT. */
static __always_inline int eth_start(struct __sk_buff *skb, struct cursor *c, struct pkt *p)
{
	cursor_init(c, skb);
	p->eth = cursor_take(c, sizeof(struct ethhdr));
	return p->eth ? 0 : XCNI_DROP_SHORT;
}

/* IPv4 behind the Ethernet header (eth_start's): parse_ipv4's answer, or
 * XCNI_DROP_NON_IP for anything else. */
static __always_inline int parse_eth_ipv4(struct cursor *c, struct pkt *p)
{
	return p->eth->h_proto == bpf_htons(ETH_P_IP) ? parse_ipv4(c, p) : XCNI_DROP_NON_IP;
}

/* After a rewrite: the headers again (every packet pointer went stale). */
static __always_inline int reparse4(struct __sk_buff *skb, struct cursor *c, struct pkt *p)
{
	return eth_start(skb, c, p) ?: parse_ipv4(c, p);
}

/*
 * The packet's headers into the family's view (fam a constant: p4, from
 * Ethernet on through the cursor c; p6, read by offsets). 0, or the drop
 * reason.
 */
static __always_inline int pkt_parse(struct __sk_buff *skb, int fam, struct cursor *c,
				     struct pkt *p4, struct pkt6 *p6)
{
	return fam == XCNI_AF_INET ? reparse4(skb, c, p4) : parse_ipv6(skb, p6);
}

#define IP_OFF ETH_HLEN
#define IPCSUM_OFF (IP_OFF + offsetof(struct iphdr, check))

#define IP_SADDR_OFF (IP_OFF + offsetof(struct iphdr, saddr))

#define IP6_SADDR_OFF (ETH_HLEN + offsetof(struct xcni_ip6hdr, saddr))

#define IP_DADDR_OFF (IP_OFF + offsetof(struct iphdr, daddr))

#define IP6_DADDR_OFF (ETH_HLEN + offsetof(struct xcni_ip6hdr, daddr))

/* ICMPv6 (RFC 4443) and neighbour discovery (RFC 4861) types. */
#define ICMP6_DST_UNREACH 1
#define ICMP6_PACKET_TOO_BIG 2

#define ICMP6_PARAM_PROB 4

#define ICMP6_MLD_QUERY 130
#define ND_ROUTER_SOLICIT 133
#define ND_ROUTER_ADVERT 134
#define ND_NEIGHBOR_SOLICIT 135
#define ND_NEIGHBOR_ADVERT 136
#define ND_REDIRECT 137
#define ICMP6_MLD2_REPORT 143
#define ND_OPT_SOURCE_LINKADDR 1
#define ND_OPT_TARGET_LINKADDR 2

#define IP6_HOPLIMIT_OFF (ETH_HLEN + offsetof(struct xcni_ip6hdr, hop_limit))

static __always_inline int in6_eq(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* fe80::1, the pods' gateway held by every host-side veth, without a
 * constant in .rodata. */
static __always_inline int in6_is_gw(const __u8 *a)
{
	const __u32 *x = (const __u32 *)a;

	return x[0] == bpf_htonl(0xfe800000) && x[1] == 0 && x[2] == 0 && x[3] == bpf_htonl(1);
}

static __always_inline void in6_set_gw(__u8 *a)
{
	__u32 *x = (__u32 *)a;

	x[0] = bpf_htonl(0xfe800000);
	x[1] = 0;
	x[2] = 0;
	x[3] = bpf_htonl(1);
}

/* fe80::/64: the link's own addresses, never routed. */
static __always_inline int in6_linklocal(const __u8 *a)
{
	const __u32 *x = (const __u32 *)a;

	return x[0] == bpf_htonl(0xfe800000) && x[1] == 0;
}

static __always_inline int in6_unspec(const __u8 *a)
{
	const __u32 *x = (const __u32 *)a;

	return (x[0] | x[1] | x[2] | x[3]) == 0;
}

#define ICMP6_PORT_UNREACH 4 /* code of ICMP6_DST_UNREACH */

#endif
