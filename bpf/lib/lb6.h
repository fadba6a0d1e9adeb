/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Services in BPF for IPv6 (issue 14): lb.h's per-packet translation for a
 * pod's IPv6 packet to an IPv6 frontend, with the same two conntrack entries
 * (here in xcni_ct6), the same backend choice (lb_pick.h: random, ClientIP
 * affinity, Maglev over xcni_lb_hash6), reverse NAT of replies, ICMPv6 errors
 * about a translated flow translated back, the refusal when a Service has no
 * backend (TCP RST, ICMPv6 port unreachable) and hairpin.
 *
 * IPv6 has no header checksum: an address rewrite changes only the L4
 * checksum, through its pseudo-header, by the difference over the 16 bytes
 * (bpf_csum_diff, then bpf_l4_csum_replace with the diff: size 0).
 *
 * Hairpin: the pod reaching itself gets its source rewritten to
 * XCNI_LB_LOOPBACK6 (100::a9fe:2a01, in the discard-only prefix 100::/64 of
 * RFC 6666: no real peer ever has it; its last word is IPv4's 169.254.42.1).
 *
 * TCP, UDP and SCTP frontends. SCTP's CRC32c has no pseudo-header: a new
 * address leaves it alone, a new port updates it (sctp_nat_port_len, the
 * SCTP packet's length from the IPv6 payload length). Global functions taking
 * the packet's struct pkt6 by pointer: each verified once, on its own, so
 * from_pod6's frame and path count hardly grow.
 */
#ifndef XCNI_LB6_H
#define XCNI_LB6_H

#include <stddef.h>

#include "ct.h"
#include "encap.h"
#include "ipv6.h"
#include "lb_pick.h"
#include "maps.h"
#include "parse.h"
#include "sctp.h"

#define IP6_SADDR_OFF (ETH_HLEN + offsetof(struct xcni_ip6hdr, saddr))
#define IP6_DADDR_OFF (ETH_HLEN + offsetof(struct xcni_ip6hdr, daddr))
#define ICMP6_PORT_UNREACH 4 /* code of ICMP6_DST_UNREACH */

/* This packet's translation state, zeroed; NULL only if the map failed (no translation). */
static __always_inline struct lb6_state *lb6_state_get(void)
{
	__u32 zero = 0;
	struct lb6_tmp *t = bpf_map_lookup_elem(&xcni_lb6_tmp, &zero);

	if (!t)
		return NULL;
	__builtin_memset(&t->st, 0, sizeof(t->st));
	return &t->st;
}

static __always_inline void in6_set_lb_loopback(__u8 *a)
{
	__u32 *x = (__u32 *)a;

	x[0] = bpf_htonl(0x01000000);
	x[1] = 0;
	x[2] = 0;
	x[3] = bpf_htonl(0xa9fe2a01);
}

/*
 * The frontend of t's destination (a pod is inside: INT where the two scopes
 * differ; outside: from the underlay, the EXT entry alone), or NULL.
 */
static __always_inline const struct xcni_svc *lb6_frontend(const struct xcni_ct6_key *t,
							   __u32 outside)
{
	struct xcni_svc_key k = {};
	const struct xcni_svc *svc, *in;

	if (t->proto != IPPROTO_TCP && t->proto != IPPROTO_UDP && t->proto != IPPROTO_SCTP)
		return NULL;
	__builtin_memcpy(k.addr, t->daddr, 16);
	k.port = t->dport;
	k.family = XCNI_AF_INET6;
	k.proto = t->proto;
	k.scope = XCNI_SCOPE_EXT;
	svc = bpf_map_lookup_elem(&xcni_svc, &k);
	if (!svc || outside || !(svc->flags & XCNI_SVC_F_TWO_SCOPES))
		return svc;
	k.scope = XCNI_SCOPE_INT;
	in = bpf_map_lookup_elem(&xcni_svc, &k);
	return in ? in : svc;
}

/*
 * One address (at addr_off) and the port beside it (port_off in the L4
 * header: 0 source, 2 destination) rewritten, the TCP/UDP checksum updated
 * for both (the address through the pseudo-header). A later fragment has no
 * L4 header: the address only. A UDP checksum of 0 stays 0. SCTP: the
 * address only (see lb6_sctp_port). 0 or -1.
 */
static __always_inline int lb6_nat(struct __sk_buff *skb, const struct pkt6 *p, __u32 addr_off,
				   const __u8 *old_addr, const __u8 *new_addr, __u32 port_off,
				   __u16 old_port, __u16 new_port)
{
	int l4 = !p->frag_later;
	__u32 csum_off = p->l4_off + (p->tuple.proto == IPPROTO_TCP ? 16 : 6);
	__u64 mangled = p->tuple.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__s64 diff;

	/* SCTP: no pseudo-header, the address alone; the port and its CRC are
	 * lb6_sctp_port's, called by the caller of lb6_translate or lb6_rev_nat:
	 * its frame below lb6_translate's would pass the verifier's 512 bytes. */
	if (p->tuple.proto == IPPROTO_SCTP)
		return !in6_eq(old_addr, new_addr) &&
				       bpf_skb_store_bytes(skb, addr_off, new_addr, 16, 0)
			       ? -1
			       : 0;
	if (!in6_eq(old_addr, new_addr)) {
		if (l4) {
			diff = bpf_csum_diff((__be32 *)old_addr, 16, (__be32 *)new_addr, 16, 0);
			if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff,
							    mangled | BPF_F_PSEUDO_HDR))
				return -1;
		}
		if (bpf_skb_store_bytes(skb, addr_off, new_addr, 16, 0))
			return -1;
	}
	if (!l4 || old_port == new_port)
		return 0;
	if (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, mangled | sizeof(new_port)) ||
	    bpf_skb_store_bytes(skb, p->l4_off + port_off, &new_port, sizeof(new_port), 0))
		return -1;
	return 0;
}

/*
 * The SCTP port at port_off (0 source, 2 destination) goes from the old to
 * the new (SCTP_PORTS(old, new)) with its CRC updated, after lb6_translate
 * (destination) or lb6_rev_nat (source) rewrote the address. The SCTP
 * packet's length: the IPv6 payload after the extension headers. Nothing for
 * another protocol, a later fragment (no common header) or the same port. 0;
 * -2 for a first fragment (the reassembled length unknown, nothing written:
 * drop-fragment, as IPv4's); -1 (drop it).
 */
__attribute__((noinline)) int lb6_sctp_port(struct __sk_buff *skb, const struct pkt6 *p,
					    __u32 port_off, __u32 ports)
{
	__be16 plen;
	__u32 len;

	if (!skb || !p)
		return -1;
	if (p->tuple.proto != IPPROTO_SCTP || p->frag_later || !((ports ^ (ports >> 16)) & 0xffff))
		return 0;
	if (p->frag_first)
		return -2;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct xcni_ip6hdr, payload_len), &plen, 2))
		return -1;
	len = bpf_ntohs(plen) + ETH_HLEN + sizeof(struct xcni_ip6hdr);
	if (len < p->l4_off)
		return -1;
	return sctp_nat_port_len(skb, p->l4_off, port_off, ports, len - p->l4_off);
}

/*
 * A pod's IPv6 packet to a frontend (outside: LB_OUTSIDE, a packet from the
 * underlay, judged first by lb_outside_refused): the flow's backend (the one it
 * got before, or a new pick), DNAT to it, and for hairpin SNAT to the
 * loopback address. 0: no frontend (nothing done); 1: translated (p->tuple
 * the translated tuple, p->rev_nat and backend_id set); XCNI_DROP_NO_BACKEND
 * (nothing written; st->rev_nat names the Service, st->svc_flags its flags);
 * another drop reason.
 */
__attribute__((noinline)) int lb6_translate(struct __sk_buff *skb, struct pkt6 *p, __u32 ep_id,
					    struct lb6_state *st, __u32 outside)
{
	struct xcni_affinity_key *ak;
	const struct xcni_backend *be;
	const struct xcni_svc *svc;
	struct xcni_ct_entry *e, *ne;
	__u64 now = bpf_ktime_get_ns();
	struct lb6_tmp *tmp;
	__u32 id = 0;
	__u8 lo[16];

	if (!skb || !p || !st)
		return 0;
	tmp = bpf_map_lookup_elem(&xcni_lb6_tmp, &id);
	if (!tmp)
		return 0;
	ne = &tmp->ne;
	svc = lb6_frontend(&p->tuple, outside);
	if (!svc)
		return 0;
	st->rev_nat = svc->rev_nat;
	st->svc_flags = svc->flags;
	/* From outside: judged before anything is written for it. */
	if (outside) {
		int r = lb_outside_refused(svc, outside6_client_ok(ipcache6_exact(p->tuple.saddr),
								   p->tuple.saddr),
					   outside);

		if (r) {
			p->rev_nat = svc->rev_nat;
			return r;
		}
	}
	e = bpf_map_lookup_elem(&xcni_ct6, &p->tuple);
	if (e && (e->flags & XCNI_CT_F_SVC) && ct_alive(e, now, p->tuple.proto) &&
	    !((p->tuple.proto == IPPROTO_TCP || p->tuple.proto == IPPROTO_SCTP) &&
	      e->state == XCNI_CT_CLOSED &&
	      (p->tcp_flags & XCNI_TCP_SYN)) &&
	    bpf_map_lookup_elem(&xcni_backend, &e->backend_id)) {
		/* The flow's backend, even terminating: open flows drain. */
		id = e->backend_id;
		e->last_ns = now;
		e->pkts_orig++;
		e->bytes_orig += p->len;
	} else if (p->frag_later) {
		/* Never opens a translation: untranslated, ct6_track drops it. */
		return 0;
	} else {
		/* ClientIP affinity: the client is the packet's source. */
		ak = &tmp->ak;
		__builtin_memset(ak, 0, sizeof(*ak));
		ak->family = XCNI_AF_INET6;
		__builtin_memcpy(ak->client, p->tuple.saddr, 16);
		id = lb_select_h(svc,
				 xcni_lb_hash6((const __u32 *)p->tuple.saddr,
					       (const __u32 *)p->tuple.daddr, p->tuple.sport,
					       p->tuple.dport, p->tuple.proto),
				 ak, now);
		if (!id)
			return XCNI_DROP_NO_BACKEND;
		__builtin_memset(ne, 0, sizeof(*ne));
		ne->created_ns = now;
		ne->last_ns = now;
		ne->pkts_orig = 1;
		ne->bytes_orig = p->len;
		ne->ep_id = ep_id;
		ne->state = XCNI_CT_NEW;
		ne->flags = XCNI_CT_F_SVC;
		ne->backend_id = id;
		ne->rev_nat = svc->rev_nat;
		ct_map_insert(&xcni_ct6, &p->tuple, ne, 0);
		st->created = 1;
	}
	st->orig = p->tuple;
	be = bpf_map_lookup_elem(&xcni_backend, &id);
	if (!be || be->family != XCNI_AF_INET6)
		return XCNI_DROP_NO_BACKEND;
	st->backend_id = id;
	st->translated = 1;
	if (lb6_nat(skb, p, IP6_DADDR_OFF, p->tuple.daddr, be->addr, 2, p->tuple.dport, be->port))
		return XCNI_DROP_REDIRECT;
	/* Hairpin: the pod is its own backend; never from outside (lb.h's rule). */
	if (!outside && in6_eq(be->addr, p->tuple.saddr)) {
		in6_set_lb_loopback(lo);
		if (lb6_nat(skb, p, IP6_SADDR_OFF, p->tuple.saddr, lo, 0, 0, 0))
			return XCNI_DROP_REDIRECT;
		__builtin_memcpy(p->tuple.saddr, lo, 16);
		st->ct_flags = XCNI_CT_F_HAIRPIN;
	}
	__builtin_memcpy(p->tuple.daddr, be->addr, 16);
	p->tuple.dport = be->port;
	p->rev_nat = svc->rev_nat;
	p->backend_id = id;
	return 1;
}

/* The translated packet was refused: a new flow leaves no service entry behind. */
static __always_inline void lb6_forget(const struct lb6_state *st)
{
	if (st && st->created)
		ct_map_delete(&xcni_ct6, &st->orig);
}

/* After ct6_track on the translated tuple: the service entry lives as long as the flow. */
static __always_inline void lb6_follow(const struct lb6_state *st, const struct pkt6 *p)
{
	struct xcni_ct_entry *e;

	if (!st || !st->translated || !p->ct_state)
		return;
	e = bpf_map_lookup_elem(&xcni_ct6, &st->orig);
	if (e && (e->flags & XCNI_CT_F_SVC))
		e->state = p->ct_state;
}

/*
 * A reply of a translated flow (p->rev_nat from its conntrack entry): source
 * back to the frontend; for hairpin, destination (the loopback address) back
 * to the client, which is the backend itself. 0, or -1 when the frontend is
 * gone or a rewrite failed (passed on as it is; the client drops it).
 */
__attribute__((noinline)) int lb6_rev_nat(struct __sk_buff *skb, struct pkt6 *p, __u32 ct_flags)
{
	const struct xcni_revnat *rn;
	__u16 idx;

	if (!skb || !p)
		return -1;
	idx = p->rev_nat;
	rn = bpf_map_lookup_elem(&xcni_revnat, &idx);
	if (!rn || rn->family != XCNI_AF_INET6)
		return -1;
	if ((ct_flags & XCNI_CT_F_HAIRPIN) &&
	    lb6_nat(skb, p, IP6_DADDR_OFF, p->tuple.daddr, p->tuple.saddr, 2, 0, 0))
		return -1;
	if (ct_flags & XCNI_CT_F_HAIRPIN)
		__builtin_memcpy(p->tuple.daddr, p->tuple.saddr, 16);
	if (lb6_nat(skb, p, IP6_SADDR_OFF, p->tuple.saddr, rn->addr, 0, p->tuple.sport, rn->port))
		return -1;
	__builtin_memcpy(p->tuple.saddr, rn->addr, 16);
	p->tuple.sport = rn->port;
	return 0;
}

/*
 * An ICMPv6 error (unreachable, Packet Too Big, time exceeded, parameter
 * problem) at icmp: the first outer_len bytes of its addresses (16: its
 * source; 32: both) into outer, the quoted flow's protocol (TCP, UDP or
 * SCTP), addresses and ports into k and ports. 0, or -1: not such an error.
 * The three readers of a quote (lb6_icmp_rev_nat, nodeport6_icmp,
 * lb6_icmp_np_rev) share it.
 */
static __always_inline int icmp6_err_quote(struct __sk_buff *skb, __u32 icmp, void *outer,
					   __u32 outer_len, struct xcni_ct6_key *k, __be16 ports[2])
{
	__u32 q = icmp + 8;
	__u8 type;

	if (!skb || bpf_skb_load_bytes(skb, icmp, &type, 1))
		return -1;
	if (type != ICMP6_DST_UNREACH && type != ICMP6_PACKET_TOO_BIG &&
	    type != ICMP6_TIME_EXCEEDED && type != ICMP6_PARAM_PROB)
		return -1;
	if (bpf_skb_load_bytes(skb, IP6_SADDR_OFF, outer, outer_len) ||
	    bpf_skb_load_bytes(skb, q + offsetof(struct xcni_ip6hdr, nexthdr), &k->proto, 1) ||
	    bpf_skb_load_bytes(skb, q + offsetof(struct xcni_ip6hdr, saddr), k->saddr, 32) ||
	    bpf_skb_load_bytes(skb, q + sizeof(struct xcni_ip6hdr), ports, 4))
		return -1;
	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP && k->proto != IPPROTO_SCTP)
		return -1;
	return 0;
}

/*
 * An ICMPv6 error about a translated flow (port unreachable from a UDP
 * backend, Packet Too Big on the way) quotes the packet as the backend got
 * it: the quote's destination and port become the frontend's again, and the
 * error's source too when the backend itself sent it. The ICMPv6 checksum
 * covers the quote (a plain difference) and the outer source (through the
 * pseudo-header); the quoted L4 checksum, which nobody checks, is left. The
 * quote must be a plain IPv6 header and the L4 ports (ct6_icmp_related's
 * rule). 1 when rewritten, else 0.
 */
__attribute__((noinline)) int lb6_icmp_rev_nat(struct __sk_buff *skb, __u32 icmp)
{
	struct xcni_ct6_key k = {};
	const struct xcni_ct_entry *e;
	const struct xcni_revnat *rn;
	__u32 q = icmp + 8, csum_off = icmp + 2;
	__u8 saddr[16];
	__be16 ports[2];
	__s64 diff;

	if (icmp6_err_quote(skb, icmp, saddr, 16, &k, ports))
		return 0;
	k.sport = ports[0];
	k.dport = ports[1];
	e = bpf_map_lookup_elem(&xcni_ct6, &k);
	if (!e || !e->rev_nat || (e->flags & XCNI_CT_F_HAIRPIN))
		return 0;
	rn = bpf_map_lookup_elem(&xcni_revnat, &e->rev_nat);
	if (!rn || rn->family != XCNI_AF_INET6)
		return 0;
	diff = bpf_csum_diff((__be32 *)k.daddr, 16, (__be32 *)rn->addr, 16, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, 0) ||
	    bpf_l4_csum_replace(skb, csum_off, ports[1], rn->port, sizeof(rn->port)) ||
	    bpf_skb_store_bytes(skb, q + offsetof(struct xcni_ip6hdr, daddr), rn->addr, 16, 0) ||
	    bpf_skb_store_bytes(skb, q + sizeof(struct xcni_ip6hdr) + 2, &rn->port, 2, 0))
		return 1;
	/* Sent by the backend itself: from the frontend, as the client knows it. */
	if (in6_eq(saddr, k.daddr)) {
		diff = bpf_csum_diff((__be32 *)saddr, 16, (__be32 *)rn->addr, 16, 0);
		if (diff >= 0 &&
		    !bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, BPF_F_PSEUDO_HDR))
			bpf_skb_store_bytes(skb, IP6_SADDR_OFF, rn->addr, 16, 0);
	}
	return 1;
}

/* The refusal's IPv6 packet: header, then a TCP RST or an ICMPv6 error quoting 48 bytes. */
struct lb6_refusal {
	struct xcni_ip6hdr ip;
	union {
		struct tcphdr tcp;
		struct {
			struct xcni_icmphdr icmp;
			__u8 quote[48]; /* the client's IPv6 header and 8 bytes */
		};
	};
};

/*
 * The refusal of a connection to an IPv6 Service without backends, written
 * over the client's packet (as lb_reject for IPv4): a TCP RST (seq from its
 * ACK, or an ACK of its sequence), else ICMPv6 port unreachable quoting its
 * IPv6 header and 8 bytes. From the frontend. 0, or -1 (drop it).
 */
__attribute__((noinline)) int lb6_reject(struct __sk_buff *skb, const struct pkt6 *p)
{
	struct lb6_refusal h = {};
	/* The client's TCP header is read into h's union past the 20 bytes the
	 * RST uses (never sent): off the 512-byte stack from_pod6 shares. */
	__u8 *t = h.quote + sizeof(struct tcphdr) - sizeof(struct xcni_icmphdr);
	__u8 macs[2 * ETH_ALEN];
	__be32 tail[2];
	__u32 len, l4len;
	__s64 sum;

	if (!skb || !p || bpf_skb_load_bytes(skb, ETH_ALEN, macs, ETH_ALEN) ||
	    bpf_skb_load_bytes(skb, 0, macs + ETH_ALEN, ETH_ALEN))
		return -1;
	h.ip.vtc = 0x60;
	h.ip.hop_limit = 64;
	__builtin_memcpy(h.ip.saddr, p->tuple.daddr, 16);
	__builtin_memcpy(h.ip.daddr, p->tuple.saddr, 16);
	if (p->tuple.proto == IPPROTO_TCP) {
		__be16 plen;
		__u32 seg, seq, ack;

		if (bpf_skb_load_bytes(skb, p->l4_off, t, sizeof(struct tcphdr)) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct xcni_ip6hdr, payload_len),
				       &plen, 2))
			return -1;
		/* The segment's length: the payload after the TCP header. */
		seg = bpf_ntohs(plen) + ETH_HLEN + sizeof(struct xcni_ip6hdr) - p->l4_off -
		      (t[12] >> 4) * 4;
		if (t[13] & XCNI_TCP_SYN)
			seg++;
		if (t[13] & XCNI_TCP_FIN)
			seg++;
		__builtin_memcpy(&seq, t + 4, 4);
		__builtin_memcpy(&ack, t + 8, 4);
		h.tcp.source = p->tuple.dport;
		h.tcp.dest = p->tuple.sport;
		h.tcp.doff = 5;
		h.tcp.rst = 1;
		if (t[13] & XCNI_TCP_ACK) {
			h.tcp.seq = ack;
		} else {
			h.tcp.ack = 1;
			h.tcp.ack_seq = bpf_htonl(bpf_ntohl(seq) + seg);
		}
		l4len = sizeof(struct tcphdr);
		h.ip.nexthdr = IPPROTO_TCP;
	} else {
		if (bpf_skb_load_bytes(skb, ETH_HLEN, h.quote, sizeof(h.quote)))
			return -1;
		h.icmp.type = ICMP6_DST_UNREACH;
		h.icmp.code = ICMP6_PORT_UNREACH;
		l4len = sizeof(struct xcni_icmphdr) + sizeof(h.quote);
		h.ip.nexthdr = XCNI_IPPROTO_ICMPV6;
	}
	h.ip.payload_len = bpf_htons(l4len);
	/* Pseudo-header (addresses, upper-layer length, next header), then the message. */
	tail[0] = bpf_htonl(l4len);
	tail[1] = bpf_htonl(h.ip.nexthdr);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)h.ip.saddr, 32, 0);
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, tail, sizeof(tail), sum);
	if (sum >= 0)
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&h.tcp, l4len, sum);
	if (sum < 0)
		return -1;
	if (h.ip.nexthdr == IPPROTO_TCP)
		h.tcp.check = csum_fold((__u32)sum);
	else
		h.icmp.checksum = csum_fold((__u32)sum);
	len = sizeof(struct xcni_ip6hdr) + l4len;
	if (bpf_skb_change_tail(skb, ETH_HLEN + len, 0) ||
	    bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &h, len, 0))
		return -1;
	return 0;
}

#endif
