/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 on a pod's device: parsing (extension headers walked with a bound,
 * fragments), conntrack in xcni_ct6, identities from xcni_ipcache6, policy
 * under the pod's 32-bit policy key (xcni_shared.h: polkey6), neighbour
 * discovery, events with IPv6 addresses.
 *
 * The IPv4 path does not include any of this: from_pod and to_pod hand IPv6
 * frames to from_pod6 / to_pod6, global functions the verifier checks on
 * their own. Headers past the fixed one are read with bpf_skb_load_bytes
 * (offsets that depend on the extension headers need no pointer proofs).
 */
#ifndef XCNI_IPV6_H
#define XCNI_IPV6_H

#include <stddef.h>

#include "ct.h"
#include "encap.h"
#include "exit.h"
#include "l2.h"
#include "maps.h"
#include "parse.h"
#include "policy.h"

#ifndef ETH_P_IPV6
#define ETH_P_IPV6 0x86DD
#endif
#define XCNI_IPPROTO_ICMPV6 58
#define XCNI_NH_HOP 0
#define XCNI_NH_ROUTING 43
#define XCNI_NH_FRAGMENT 44
#define XCNI_NH_AH 51
#define XCNI_NH_DSTOPTS 60

/* ICMPv6 (RFC 4443) and neighbour discovery (RFC 4861) types. */
#define ICMP6_DST_UNREACH 1
#define ICMP6_PACKET_TOO_BIG 2
#define ICMP6_TIME_EXCEEDED 3
#define ICMP6_PARAM_PROB 4
#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129
#define ICMP6_MLD_QUERY 130
#define ICMP6_MLD_REPORT 131
#define ICMP6_MLD_DONE 132
#define ND_ROUTER_SOLICIT 133
#define ND_ROUTER_ADVERT 134
#define ND_NEIGHBOR_SOLICIT 135
#define ND_NEIGHBOR_ADVERT 136
#define ND_REDIRECT 137
#define ICMP6_MLD2_REPORT 143
#define ND_OPT_SOURCE_LINKADDR 1
#define ND_OPT_TARGET_LINKADDR 2

struct xcni_ip6hdr {
	__u8 vtc; /* version (4 bits), traffic class (high 4) */
	__u8 flow[3];
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

#define IP6_HOPLIMIT_OFF (ETH_HLEN + offsetof(struct xcni_ip6hdr, hop_limit))

/* The IPv6 packet as the programs see it. */
struct pkt6 {
	struct xcni_ct6_key tuple; /* ports in network order */
	__u32 len; /* skb->len on arrival */
	__u32 policy_rev; /* set by ct6_lookup */
	__u32 l4_off; /* the L4 header's offset in the frame */
	__u8 hop_limit;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 is_echo;
	__u8 frag_later; /* a fragment after the first: ports from xcni_frag6 */
	__u8 frag_first; /* the first of fragments (SCTP's CRC cannot follow a port change);
			  * its L4 staged for xcni_frag6 (frag6_first; 2: twice) */
	__u8 ct_state; /* as struct pkt's */
	__u16 rev_nat; /* a translated flow's xcni_revnat index (ct6_track, lb6_translate) */
	__u32 backend_id; /* and its backend (bpf/lib/lb6.h) */
};

static __always_inline int in6_eq(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* fe80::1, the pods' gateway (XCNI_GW6_INIT), without a constant in .rodata. */
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
	int frag = 0; /* 1: the first fragment, 2: a later one */
	__u8 nh;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return XCNI_DROP_SHORT;
	if ((ip.vtc >> 4) != 6)
		return XCNI_DROP_BAD_IHL;
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
		if (!nh_is_ext(nh) || frag == 2)
			break;
		/* Every extension header is at least 8 bytes. */
		if (bpf_skb_load_bytes(skb, off, &x, sizeof(x)))
			return XCNI_DROP_EXTHDR;
		if (nh == XCNI_NH_FRAGMENT) {
			__u16 fo = bpf_ntohs(x.frag_off);

			frag_id = x.id;
			frag = fo & 0xfff8 ? 2 : fo & 1 ? 1 : 0;
			off += 8;
		} else if (nh == XCNI_NH_AH) {
			off += ((__u32)x.len + 2) * 4;
		} else {
			off += ((__u32)x.len + 1) * 8;
		}
		nh = x.nh;
	}
	/* After a later fragment's header comes payload, whatever nh says. */
	if (frag != 2 && nh_is_ext(nh))
		return XCNI_DROP_EXTHDR;
	p->tuple.proto = nh;
	p->l4_off = off;
	if (frag == 2)
		return frag6_later(p, frag_id);

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
		frag6_first(p, frag_id);
	return 0;
}

/* ---- identities and policy keys ---------------------------------------- */

static __always_inline __u32 ipcache6_identity(const __u8 *addr)
{
	struct xcni_ipcache6_key k = { .prefixlen = 128 };
	struct xcni_ipcache_val *v;

	/* Only the node sends from a link-local address into a pod's link. */
	if (in6_linklocal(addr))
		return XCNI_ID_HOST;
	__builtin_memcpy(k.addr, addr, 16);
	v = bpf_map_lookup_elem(&xcni_ipcache6, &k);
	return v ? v->identity : XCNI_ID_WORLD;
}

/*
 * An IPv6 source no host on the underlay may claim: the unspecified address,
 * loopback, multicast ff00::/8, IPv4-mapped ::ffff:0:0/96, link-local
 * fe80::/10 (a host's own link, never a pod's or a frontend's client).
 */
static __always_inline int martian6(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	if (a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		return 1;
	return !w[0] && !w[1] &&
	       ((!w[2] && (!w[3] || w[3] == bpf_htonl(1))) || w[2] == bpf_htonl(0xffff));
}

/* outside_client_ok (ipcache.h) for an IPv6 source, sipc its ipcache6 entry. */
static __always_inline int outside6_client_ok(const struct xcni_ipcache_val *sipc,
					      const __u8 *saddr)
{
	if (martian6(saddr))
		return 0;
	if (sipc && (sipc->tunnel_ip || (sipc->flags & (XCNI_IPC_POD | XCNI_IPC_TUN6)) ||
		     sipc->identity == XCNI_ID_HOST || sipc->identity == XCNI_ID_REMOTE_NODE ||
		     identity_is_pod(sipc->identity)))
		return 0;
	return !bpf_map_lookup_elem(&xcni_endpoints6, saddr);
}

/* The ipcache6 entry of addr exactly (no link-local rule: ipcache6_identity's). */
static __always_inline struct xcni_ipcache_val *ipcache6_exact(const __u8 *addr)
{
	struct xcni_ipcache6_key k = { .prefixlen = 128 };

	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&xcni_ipcache6, &k);
}

/* pod_source_forged (ipcache.h) for an IPv6 source. */
static __always_inline int pod_source_forged6(const struct __sk_buff *skb, const __u8 *saddr)
{
	const struct xcni_ipcache_val *ipc;

	if (skb->mark & XCNI_MARK_TRUSTED)
		return 0;
	if (bpf_map_lookup_elem(&xcni_endpoints6, saddr))
		return 1;
	ipc = ipcache6_exact(saddr);
	return ipc && ((ipc->flags & XCNI_IPC_POD) || identity_is_pod(ipc->identity));
}

/*
 * The policy key of a local endpoint: the pod's IPv4 for a dual-stack pod
 * (what its device maps to in xcni_ifindex), else what xcnid wrote for its
 * IPv6 (polkey6). None yet: XCNI_POLKEY_NONE, which has no polep entry, so
 * the pod is pending like an IPv4 pod before xcnid wrote its polep entry.
 */
static __always_inline __u32 polkey_of(const struct xcni_endpoint *ep, const __u8 *addr)
{
	__u32 ifindex = ep->ifindex;
	__u32 *k = bpf_map_lookup_elem(&xcni_ifindex, &ifindex);

	if (k)
		return *k;
	k = bpf_map_lookup_elem(&xcni_polkey6, addr);
	return k ? *k : XCNI_POLKEY_NONE;
}

/* The endpoint behind the device, and its IPv6 (copied to addr). */
static __always_inline struct xcni_endpoint *endpoint6_of_dev(__u32 ifindex, __u8 *addr)
{
	struct xcni_in6 *a = bpf_map_lookup_elem(&xcni_ifindex6, &ifindex);

	if (!a)
		return NULL;
	__builtin_memcpy(addr, a->addr, 16);
	return bpf_map_lookup_elem(&xcni_endpoints6, a);
}

/* ---- conntrack ---------------------------------------------------------- */

static __always_inline void ct6_reverse(const struct xcni_ct6_key *k, struct xcni_ct6_key *r)
{
	__builtin_memcpy(r->saddr, k->daddr, 16);
	__builtin_memcpy(r->daddr, k->saddr, 16);
	r->sport = k->dport;
	r->dport = k->sport;
	r->proto = k->proto;
	r->pad[0] = r->pad[1] = r->pad[2] = 0;
}

/* xcni_ct_lifetime knows ICMP by its IPv4 number: ICMPv6 echo lives as long. */
static __always_inline __u8 ct6_life_proto(__u8 proto)
{
	return proto == XCNI_IPPROTO_ICMPV6 ? IPPROTO_ICMP : proto;
}

/*
 * An ICMPv6 error (unreachable, Packet Too Big, time exceeded, parameter
 * problem) about a live flow, sent to the quoted packet's source from a place
 * on the flow's path (ct_icmp_related's rule): 1, else 0. The quote must be a
 * plain IPv6 header followed by its L4 ports (no extension headers).
 * Global: verified once, its lookups out of the callers' paths.
 */
__attribute__((noinline)) int ct6_icmp_related(struct __sk_buff *skb, __u32 icmp)
{
	__u8 outer[32], type, l4[8];
	struct xcni_ct6_key k = {};
	struct xcni_ct_entry *e;
	__u64 now = bpf_ktime_get_ns();
	__u32 q = icmp + 8, from; /* the quote: after the error's 8-byte header */
	__u8 life, ver;

	/* Loaded piece by piece, straight into the key: a small frame, so the
	 * callers' frames and this one fit the verifier's stack together. */
	if (!skb || bpf_skb_load_bytes(skb, icmp, &type, 1))
		return 0;
	if (type != ICMP6_DST_UNREACH && type != ICMP6_PACKET_TOO_BIG &&
	    type != ICMP6_TIME_EXCEEDED && type != ICMP6_PARAM_PROB)
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct xcni_ip6hdr, saddr), outer, 32) ||
	    bpf_skb_load_bytes(skb, q, &ver, 1) ||
	    bpf_skb_load_bytes(skb, q + offsetof(struct xcni_ip6hdr, nexthdr), &k.proto, 1) ||
	    bpf_skb_load_bytes(skb, q + offsetof(struct xcni_ip6hdr, saddr), k.saddr, 32) ||
	    bpf_skb_load_bytes(skb, q + sizeof(struct xcni_ip6hdr), l4, sizeof(l4)))
		return 0;
	/* IPv6, and sent to the quoted packet's source. */
	if ((ver >> 4) != 6 || !in6_eq(k.saddr, outer + 16))
		return 0;
	if (k.proto == IPPROTO_TCP || k.proto == IPPROTO_UDP || k.proto == IPPROTO_SCTP) {
		__builtin_memcpy(&k.sport, l4, 2);
		__builtin_memcpy(&k.dport, l4 + 2, 2);
	} else if (k.proto == XCNI_IPPROTO_ICMPV6) {
		if (l4[0] != ICMP6_ECHO_REQUEST && l4[0] != ICMP6_ECHO_REPLY)
			return 0;
		__builtin_memcpy(&k.sport, l4 + 4, 2);
		k.dport = k.sport;
	} else {
		return 0;
	}
	/* From a place on the flow's path: the peer itself, a node, or (for a
	 * flow with the outside) the outside. */
	if (!in6_eq(outer, k.daddr)) {
		from = ipcache6_identity(outer);
		if (from != XCNI_ID_HOST && from != XCNI_ID_REMOTE_NODE &&
		    (identity_is_pod(from) || identity_is_pod(ipcache6_identity(k.daddr))))
			return 0;
	}
	life = ct6_life_proto(k.proto);
	e = bpf_map_lookup_elem(&xcni_ct6, &k);
	if (!e || !ct_alive(e, now, life)) {
		/* The other direction: swapped in place. */
		__builtin_memcpy(outer, k.saddr, 16);
		__builtin_memcpy(k.saddr, k.daddr, 16);
		__builtin_memcpy(k.daddr, outer, 16);
		__u16 t = k.sport;

		k.sport = k.dport;
		k.dport = t;
		e = bpf_map_lookup_elem(&xcni_ct6, &k);
		if (!e || !ct_alive(e, now, life))
			return 0;
	}
	return 1 + e->flags;
}

/*
 * ct_track for IPv6, with IPv4's rules (see ct_lookup): TCP states, UDP and
 * other protocols by timeout, ICMPv6 echo by id (a reply never opens a flow),
 * errors related to a live flow (CT_RELATED), a later fragment only
 * following a flow its first fragment opened under this policy revision.
 */
static __always_inline int ct6_track(struct __sk_buff *skb, struct pkt6 *p, __u8 *flags)
{
	struct xcni_ct6_key rev;
	struct xcni_ct_entry *e;
	__u64 now = bpf_ktime_get_ns();
	int tcp = p->tuple.proto == IPPROTO_TCP, ct = CT_NEW;
	__u8 life = ct6_life_proto(p->tuple.proto);

	*flags = 0;
	p->ct_state = 0;
	p->policy_rev = policy_rev_now();
	if (p->tuple.proto == XCNI_IPPROTO_ICMPV6 && !p->is_echo) {
		int rel = p->frag_later ? 0 : ct6_icmp_related(skb, p->l4_off);

		if (!rel)
			return p->frag_later ? CT_INVALID : CT_NEW;
		*flags = rel - 1;
		return CT_RELATED;
	}

	int echo_req = p->is_echo && p->icmp_type == ICMP6_ECHO_REQUEST;
	int echo_rep = p->is_echo && p->icmp_type == ICMP6_ECHO_REPLY;
	int fresh_syn = tcp && (p->tcp_flags & (XCNI_TCP_SYN | XCNI_TCP_ACK)) == XCNI_TCP_SYN;

	e = echo_rep ? NULL : bpf_map_lookup_elem(&xcni_ct6, &p->tuple);
	if (e && ct_alive(e, now, life) &&
	    !(tcp && e->state == XCNI_CT_CLOSED && (p->tcp_flags & XCNI_TCP_SYN)) &&
	    !(fresh_syn && e->state != XCNI_CT_NEW)) {
		*flags = e->flags;
		p->rev_nat = e->rev_nat;
		p->backend_id = e->backend_id;
		ct_account(e, now, p->len, tcp, p->tcp_flags, 0);
		p->ct_state = e->state;
		ct = e->policy_rev == p->policy_rev ? CT_ORIG : CT_STALE;
		goto out;
	}
	ct6_reverse(&p->tuple, &rev);
	e = echo_req ? NULL : bpf_map_lookup_elem(&xcni_ct6, &rev);
	if (e && ct_alive(e, now, life) && !ct_recheck(e, p->policy_rev)) {
		*flags = e->flags;
		p->rev_nat = e->rev_nat;
		p->backend_id = e->backend_id;
		ct_account(e, now, p->len, tcp, p->tcp_flags, 1);
		p->ct_state = e->state;
		return CT_REPLY;
	}
	/* A picked-up flow's entry after a policy change: gone, the packet
	 * judged its own way (ct.h). */
	if (e)
		ct_map_delete(&xcni_ct6, &rev);
	if (tcp) {
		__u8 f = p->tcp_flags & (XCNI_TCP_SYN | XCNI_TCP_ACK | XCNI_TCP_RST | XCNI_TCP_FIN);

		if (f == XCNI_TCP_ACK)
			p->ct_state = XCNI_CT_ESTABLISHED;
		else if (f != XCNI_TCP_SYN)
			return CT_INVALID;
	}
	if (echo_rep)
		return CT_INVALID;
out:
	if (p->frag_later && (ct == CT_NEW || ct == CT_STALE))
		return CT_INVALID;
	return ct;
}

/* Not inlined: its entry on the stack would sit in from_pod6's frame, which
 * with the Service hand-off and SCTP's port call passed the verifier's 512 bytes. */
static __attribute__((noinline)) void ct6_commit(const struct pkt6 *p, int ct, __u32 ep_id,
						 __u8 flags)
{
	struct xcni_ct_entry ne = {}, *e;
	__u64 now = bpf_ktime_get_ns();

	if (ct != CT_NEW) {
		e = bpf_map_lookup_elem(&xcni_ct6, &p->tuple);
		if (e)
			e->policy_rev = p->policy_rev;
		return;
	}
	if (p->tuple.proto == XCNI_IPPROTO_ICMPV6 && !p->is_echo)
		return;
	ne.created_ns = now;
	ne.last_ns = now;
	ne.pkts_orig = 1;
	ne.bytes_orig = p->len;
	ne.ep_id = ep_id;
	ne.state = p->ct_state ? p->ct_state : XCNI_CT_NEW;
	ne.flags = flags | ct_pickup(p->tuple.proto, p->ct_state, p->is_echo, flags, p->rev_nat);
	ne.policy_rev = p->policy_rev;
	ne.rev_nat = p->rev_nat;
	ne.backend_id = p->backend_id;
	ct_map_insert(&xcni_ct6, &p->tuple, &ne, p->ct_state != 0);
}

/*
 * flow_judge for IPv6: egress of local pod src_key, then ingress of local pod
 * dst_key (policy keys; 0: no such pod here). Peers by identity, then by
 * address in the IPv6 ipBlock prefixes.
 */
static __always_inline int flow_judge6(const struct pkt6 *p, int ct, __u32 src_key, __u32 dst_key,
				       struct verdict *v, __u32 ep_id, __u8 flags)
{
	int reason = 0;

	if (src_key)
		reason = policy_verdict(policy_judge(src_key, XCNI_DIR_FROM_POD, v->dst_id, 0,
						     p->tuple.daddr, p->tuple.proto,
						     p->tuple.dport, v),
					XCNI_DROP_POLICY_EGRESS);
	if (!reason && dst_key)
		reason = policy_verdict(policy_judge(dst_key, XCNI_DIR_TO_POD, v->src_id, 0,
						     p->tuple.saddr, p->tuple.proto,
						     p->tuple.dport, v),
					XCNI_DROP_POLICY_INGRESS);
	if (reason) {
		if (ct == CT_STALE)
			ct_map_delete(&xcni_ct6, &p->tuple);
		return reason;
	}
	ct6_commit(p, ct, ep_id, flags);
	return 0;
}

/* ---- neighbour discovery ---------------------------------------------- */

/*
 * The link-layer address options of a Neighbor Solicitation or
 * Advertisement (after its 24 bytes) all name mac, if any is there: 1, else 0.
 */
static __always_inline int nd_opts_name(struct __sk_buff *skb, __u32 off, const __u8 *mac)
{
	struct {
		__u8 type;
		__u8 len;
		__u8 mac[6];
	} o;

#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (bpf_skb_load_bytes(skb, off, &o, sizeof(o)))
			return 1; /* no more options */
		if (!o.len)
			return 0; /* malformed: RFC 4861 says discard */
		if ((o.type == ND_OPT_SOURCE_LINKADDR || o.type == ND_OPT_TARGET_LINKADDR) &&
		    !mac_eq(o.mac, mac))
			return 0;
		off += (__u32)o.len * 8;
	}
	return 1;
}

/* A Neighbor Advertisement for fe80::1: the frame that answers a solicitation. */
struct nd_na {
	struct xcni_ip6hdr ip;
	__u8 type;
	__u8 code;
	__sum16 csum;
	__be32 flags;
	__u8 target[16];
	__u8 opt_type;
	__u8 opt_len;
	__u8 opt_mac[6];
};
#define ND_NA_ROUTER 0x80000000u
#define ND_NA_SOLICITED 0x40000000u
#define ND_NA_OVERRIDE 0x20000000u

/*
 * Turns the pod's solicitation for its gateway into the advertisement that
 * answers it (the host-side veth's MAC, router and solicited flags) and sends
 * it back into the pod. 0 or the drop reason; *verdict the redirect.
 */
static __always_inline int nd_answer_gw(struct __sk_buff *skb, const struct pkt6 *p,
					const struct xcni_endpoint *ep, int *verdict)
{
	struct nd_na na = {};
	__u8 macs[2 * ETH_ALEN];
	__be32 tail[2] = { bpf_htonl(sizeof(na) - sizeof(na.ip)), bpf_htonl(XCNI_IPPROTO_ICMPV6) };
	__s64 sum;

	na.ip.vtc = 0x60;
	na.ip.payload_len = bpf_htons(sizeof(na) - sizeof(na.ip));
	na.ip.nexthdr = XCNI_IPPROTO_ICMPV6;
	na.ip.hop_limit = 255;
	in6_set_gw(na.ip.saddr);
	__builtin_memcpy(na.ip.daddr, p->tuple.saddr, 16);
	na.type = ND_NEIGHBOR_ADVERT;
	na.flags = bpf_htonl(ND_NA_ROUTER | ND_NA_SOLICITED | ND_NA_OVERRIDE);
	in6_set_gw(na.target);
	na.opt_type = ND_OPT_TARGET_LINKADDR;
	na.opt_len = 1;
	__builtin_memcpy(na.opt_mac, ep->host_mac, ETH_ALEN);
	/* Checksum over the pseudo-header (addresses, length, next header) and the message. */
	sum = bpf_csum_diff(NULL, 0, (__be32 *)na.ip.saddr, 32, 0);
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, tail, sizeof(tail), sum);
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&na.type, sizeof(na) - sizeof(na.ip), sum);
	if (sum < 0)
		return XCNI_DROP_REDIRECT;
	na.csum = csum_fold((__u32)sum);
	__builtin_memcpy(macs, ep->pod_mac, ETH_ALEN);
	__builtin_memcpy(macs + ETH_ALEN, ep->host_mac, ETH_ALEN);
	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(na), 0) ||
	    bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &na, sizeof(na), 0))
		return XCNI_DROP_REDIRECT;
	*verdict = bpf_redirect_peer(skb->ifindex, 0);
	return *verdict == TC_ACT_REDIRECT ? XCNI_PASS_ARP : XCNI_DROP_REDIRECT;
}

/*
 * ICMPv6 neighbour discovery and MLD from a pod, all for the host (the only
 * other end of its link): the caller hands over only what goes to a
 * link-local or multicast address (in6_on_link) with the hop limit of ND or
 * MLD (nd_hop_ok). A solicitation for fe80::1 is answered here; others
 * pass to the stack when they speak only for the pod: a solicitation's or
 * advertisement's link-layer options name the pod's MAC, an advertisement's
 * target is an address of the pod (its IPv6 or a link-local one). A pod is no
 * router: router advertisements and redirects are spoofs.
 */
static __always_inline int nd_from_pod(struct __sk_buff *skb, const struct pkt6 *p,
				       const struct xcni_endpoint *ep, const __u8 *ep_ip6,
				       int *verdict)
{
	__u8 target[16];
	__u8 t = p->icmp_type;

	if (t == ND_ROUTER_ADVERT || t == ND_REDIRECT)
		return XCNI_DROP_SPOOF_IP;
	if (t != ND_NEIGHBOR_SOLICIT && t != ND_NEIGHBOR_ADVERT)
		return XCNI_PASS_ARP; /* router solicitation, MLD */
	if (bpf_skb_load_bytes(skb, p->l4_off + 8, target, sizeof(target)))
		return XCNI_DROP_SHORT;
	if (!nd_opts_name(skb, p->l4_off + 24, ep->pod_mac))
		return XCNI_DROP_SPOOF_MAC;
	if (t == ND_NEIGHBOR_ADVERT)
		return in6_eq(target, ep_ip6) || in6_linklocal(target) ? XCNI_PASS_ARP :
									 XCNI_DROP_SPOOF_IP;
	/* Duplicate address detection (from ::) is the stack's; the hop limit
	 * (255) the caller checked. */
	if (in6_is_gw(target) && !in6_unspec(p->tuple.saddr))
		return nd_answer_gw(skb, p, ep, verdict);
	return XCNI_PASS_ARP;
}

/* Of an ND or MLD type (RFC 4861, RFC 2710, RFC 3810): 1, else 0. */
static __always_inline int icmp6_is_nd(const struct pkt6 *p)
{
	return p->tuple.proto == XCNI_IPPROTO_ICMPV6 && !p->frag_later &&
	       ((p->icmp_type >= ICMP6_MLD_QUERY && p->icmp_type <= ND_REDIRECT) ||
		p->icmp_type == ICMP6_MLD2_REPORT);
}

/*
 * fe80::/10 or ff00::/8: a destination the node never routes off the link
 * (link-local, or multicast, which it does not forward: no multicast
 * routing). ND and MLD go only there; MLDv1 reports go to the group itself,
 * of any scope.
 */
static __always_inline int in6_on_link(const __u8 *a)
{
	return a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

/*
 * The hop limit a neighbour sends an ND/MLD-typed packet with: ND 255
 * (RFC 4861 6.1, 7.1: one a router forwarded cannot have it), MLD 1 (RFC
 * 2710 3, RFC 3810 5: Linux's MLD socket sends with 1). 0, else
 * XCNI_DROP_BAD_ND.
 */
static __always_inline int nd_hop_ok(const struct pkt6 *p)
{
	__u8 want = p->icmp_type >= ND_ROUTER_SOLICIT && p->icmp_type <= ND_REDIRECT ? 255 : 1;

	return p->hop_limit == want ? 0 : XCNI_DROP_BAD_ND;
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

/* finish() for IPv6 packets: the same counters, events of the IPv6 layout. */
static __always_inline int finish6(struct __sk_buff *skb, int reason, __u8 dir, __u32 ep_id,
				   const struct pkt6 *p, int verdict, const struct verdict *v)
{
	__u32 zero = 0;
	const struct xcni_config *cfg = bpf_map_lookup_elem(&xcni_config, &zero);

	count(reason, dir, p->len);
	if (reason_is_drop(reason)) {
		report6(skb, XCNI_EV_DROP, reason, dir, ep_id, p, v, cfg);
		return reason_answered(reason) ? verdict : TC_ACT_SHOT;
	}
	stack_mark(skb, dir, verdict);
	if (p->frag_first)
		frag6_commit(p);
	if (v->enforced)
		report6(skb, XCNI_EV_VERDICT, reason, dir, ep_id, p, v, cfg);
	else if (cfg && cfg->trace_sample && sampled(cfg->trace_sample))
		report6(skb, XCNI_EV_TRACE, reason, dir, ep_id, p, v, cfg);
	return verdict;
}

#endif
