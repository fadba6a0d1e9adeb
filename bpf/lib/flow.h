/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One flow, either family: what the parsers found in a packet (family,
 * protocol, addresses and ports as union xcni_tuple, ICMP type and echo,
 * fragment state, TCP flags, lengths and offsets) and what the lookups after
 * them found (conntrack state, policy revision, translation). Both parsers
 * fill it (parse.h: parse_ipv4 in struct pkt, parse_ipv6 in struct pkt6);
 * what is written once for both families takes a struct flow and the
 * family as a constant (XCNI_AF_INET, XCNI_AF_INET6), so the compiler keeps one
 * family's branch in each caller and the verifier sees no other.
 *
 * On the stack, in the packet's struct pkt / struct pkt6, not in a per-CPU
 * scratch map: the IPv4 view holds packet pointers, which a map value cannot,
 * a map value's bytes are unknown to the verifier where a stack slot keeps
 * what the parser stored, and a lookup a packet costs (docs/decisions/flow-on-stack.md).
 *
 * struct pkt and struct pkt6 (the parsers' views, here so that what reads
 * them, frag.h, needs no parse.h) hold its fields unnamed (FLOW_VIEW: the
 * fields, then the family's own key named tuple), so pkt_flow(p) is the
 * flow for what is written once, and p->tuple.saddr and the rest still read
 * as each family's code always has where a step is the family's own.
 */
#ifndef XCNI_FLOW_H
#define XCNI_FLOW_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <stddef.h>

#include "../xcni_shared.h"

/*
 * Everything but the tuple, which comes last: an IPv4 packet's frame holds
 * these and its 16-byte key (struct pkt), an IPv6 packet's these and its
 * 40-byte key (struct pkt6); struct flow is the two's common type, and what
 * is written once reads tuple.v4 only under XCNI_AF_INET. So an IPv4 frame does
 * not carry the room of an IPv6 key: from_pod's (IPv4) frame and its callees' sit
 * at the verifier's 512 bytes (docs/decisions/flow-on-stack.md).
 */
#define FLOW_FIELDS                                                                           \
	__u8 tcp_flags; /* TCP_FLAG_* bits of byte 13; SCTP (IPv4): its first chunk's meaning */ \
	__u8 icmp_type;                                                                       \
	__u8 is_echo; /* ICMP echo request or reply: tracked like a flow */                   \
	__u8 frag_last; /* the last fragment: its place staged to be freed; 2: twice */       \
	__u32 len; /* skb->len on arrival: counters report that, events less encap_len */    \
	__u32 policy_rev; /* set by ct_track: the policy revision the packet is judged under */ \
	__u8 frag_later; /* a fragment after the first: ports from xcni_frag, no L4 header */ \
	__u8 frag_first; /* the first of fragments: its ports staged for xcni_frag (frag.h);  \
			  * 2: parsed again after a rewrite, staged a second time */           \
	__u16 rev_nat; /* a translated flow's xcni_revnat index (ct_track, lb_translate) */   \
	__u32 backend_id; /* and its backend (xcni_backend): both for events */              \
	__u8 ct_state; /* set by ct_track: the state of the flow's entry, 0 for none; for     \
			* CT_NEW, ESTABLISHED: a TCP flow met mid-stream (its entry gone) */    \
	__u8 l3_len; /* IPv4 header length with options */                                    \
	__u16 encap_len; /* outer bytes between Ethernet and this IPv4 header (from_overlay) */ \
	__u16 l4_off; /* the L4 header's offset in the frame (IPv6) */                        \
	__u8 family; /* XCNI_AF_INET or XCNI_AF_INET6, set by the parser */                   \
	__u8 hop_limit; /* IPv6 */                                                            \
	__u8 ct_reuse; /* set by ct_track: the tuple's own entry is there, over (ct_open_entry) */ \
	__u8 flow_pad[3]; /* the tuple on an 8-byte boundary, as the verifier tracks values */

struct flow {
	FLOW_FIELDS
	union xcni_tuple tuple; /* ports in network order; the family's half */
};

/*
 * A parser's view (in struct pkt, struct pkt6): the flow's fields unnamed,
 * then its family's key as tuple, so each family's code reads p->tuple.saddr
 * as it always has; pkt_flow(p) is the same bytes as the struct flow that
 * what is written once takes (the first FLOW_FIELDS member is the start).
 */
#define FLOW_VIEW(key_type)                                                                   \
	struct {                                                                              \
		FLOW_FIELDS                                                                   \
		key_type tuple; /* ports in network order */                                  \
	}

#define pkt_flow(p) ((struct flow *)&(p)->tcp_flags)

/* A packet of either family as what is written once takes it: the typed
 * pair (p4 IPv4's struct pkt, p6 IPv6's struct pkt6, the other NULL; fam a
 * constant, so the compiler keeps one view), its flow. */
#define pkt_pair_flow(p4, p6, fam) ((fam) == XCNI_AF_INET ? pkt_flow(p4) : pkt_flow(p6))

/* The L4 header's offset in the frame as it is now (fam a constant): IPv4's
 * behind its outer headers still there (encap_len) and options. */
#define flow_l4_off(f, fam)                                                                   \
	((fam) == XCNI_AF_INET ? ETH_HLEN + (f)->encap_len + (f)->l3_len : (f)->l4_off)

/* A tuple's source and destination address, the family's bytes (fam a
 * constant: XCNI_AF_INET's __u32 or XCNI_AF_INET6's 16 bytes), and its ports
 * (lvalues); the flow's, of its tuple. */
#define tuple_saddr(t, fam)                                                                   \
	((fam) == XCNI_AF_INET ? (void *)&(t)->v4.saddr : (void *)(t)->v6.saddr)
#define tuple_daddr(t, fam)                                                                   \
	((fam) == XCNI_AF_INET ? (void *)&(t)->v4.daddr : (void *)(t)->v6.daddr)
#define tuple_sport(t, fam) (*((fam) == XCNI_AF_INET ? &(t)->v4.sport : &(t)->v6.sport))
#define tuple_dport(t, fam) (*((fam) == XCNI_AF_INET ? &(t)->v4.dport : &(t)->v6.dport))
#define flow_saddr(f, fam) tuple_saddr(&(f)->tuple, fam)
#define flow_daddr(f, fam) tuple_daddr(&(f)->tuple, fam)

/* The flow's protocol and ports (network order) set, in its family's key. */
static __always_inline void flow_set_l4(struct flow *f, int fam, __u8 proto, __be16 sport,
					__be16 dport)
{
	if (fam == XCNI_AF_INET) {
		f->tuple.v4.proto = proto;
		f->tuple.v4.sport = sport;
		f->tuple.v4.dport = dport;
	} else {
		f->tuple.v6.proto = proto;
		f->tuple.v6.sport = sport;
		f->tuple.v6.dport = dport;
	}
}

/*
 * An ICMP or ICMPv6 error about a flow, either family: the error's own
 * addresses (outer: its source, then its destination, 4 or 16 bytes each)
 * and the flow its quote holds (quote: addresses, ports, protocol; ct_map's
 * key), as lb.h's icmp_err_read finds them and icmp_err_write puts them back
 * changed. qcheck: IPv4's quoted header checksum, which ICMP's covers. The
 * readers of a quote (lb.h's lb_icmp_rev_nat, nodeport_icmp.h's
 * lb_icmp_snat_rev and lb_icmp_np_rev) are written once over it; only
 * those two are the family's.
 */
struct icmp_err {
	union xcni_tuple quote;
	__u8 outer[32];
	__sum16 qcheck;
	__u8 pad[2];
};

#define icmp_err_dst(x, fam) ((x)->outer + ((fam) == XCNI_AF_INET ? 4 : 16))

/* The packet as the programs see it: Ethernet, IPv4, its flow (flow.h). */
struct pkt {
	struct ethhdr *eth;
	struct iphdr *ip;
	struct tcphdr *tcp; /* set for TCP */
	FLOW_VIEW(struct xcni_ct_key);
};

/* The IPv6 packet as the programs see it: its flow, read by offsets (l4_off). */
struct pkt6 {
	FLOW_VIEW(struct xcni_ct6_key);
};

/* __builtin_offsetof: bpf_helpers.h's offsetof, when it comes first, is no
 * constant expression. */
_Static_assert(__builtin_offsetof(struct pkt, tuple) - __builtin_offsetof(struct pkt, tcp_flags) ==
			       __builtin_offsetof(struct flow, tuple) &&
		       __builtin_offsetof(struct pkt6, tuple) -
				       __builtin_offsetof(struct pkt6, tcp_flags) ==
			       __builtin_offsetof(struct flow, tuple) &&
		       sizeof(struct pkt6) - __builtin_offsetof(struct pkt6, tcp_flags) ==
			       sizeof(struct flow),
	       "a parser's view of its flow is the flow");

#endif
