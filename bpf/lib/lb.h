/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Services in BPF (kube-proxy replacement): a pod's packet to a frontend
 * (ClusterIP:port) gets a backend and is DNATed here; its flow's replies are
 * rewritten back to the frontend from the reverse-NAT index the flow's
 * conntrack entry keeps. Maps and layouts: xcni_shared.h.
 *
 * Two conntrack entries per translated flow, as Cilium keeps them:
 *  - the service entry (XCNI_CT_F_SVC), keyed by the tuple as the client sent
 *    it: which backend the flow got, so every later packet gets the same one
 *    (a backend that is gone is replaced);
 *  - the flow's own entry, keyed by the translated tuple, made by the usual
 *    ct_track/flow_judge (policy is judged on the backend), holding rev_nat:
 *    a reply finds it and learns the frontend to put back as its source.
 *
 * Hairpin: a pod that gets itself as backend would receive a packet from its
 * own address, which its stack drops as martian. Its source becomes the
 * service loopback address instead (Cilium's 169.254.42.1, kube-proxy
 * masquerades to the node), and the reply to that address is given the
 * client back as destination (XCNI_CT_F_HAIRPIN in the flow's entry).
 *
 * No backend: the packet is turned into the refusal in place (TCP RST, or
 * ICMP port unreachable for the rest) and sent back into the client, counted
 * as drop-no-backend.
 */
/*
 * Which Service a destination is, and which backend a new flow to it gets:
 * shared by the per-packet translation (tc) and the socket-level one
 * (sock_lb.bpf.c, cgroup connect/sendmsg), so both choose alike. Backends:
 * the Maglev table's entry for the flow's hash or a slot at random; the
 * active backends' slots, or the terminating ones' when no backend is
 * active; with ClientIP affinity, the client's earlier backend while it is
 * fresh and usable. No packet access here: any program type can use it.
 */
/*
 * Services in BPF for IPv6: the per-packet translation above for a
 * pod's IPv6 packet to an IPv6 frontend, with the same two conntrack entries
 * (here in xcni_ct6), the same backend choice (above: random, ClientIP
 * affinity, Maglev over xcni_lb_hash), reverse NAT of replies, ICMPv6 errors
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
 * address leaves it alone, a new port updates it inside lb6_nat (lb6_sctp_port,
 * the SCTP packet's length from the IPv6 payload length), as inside lb4_nat
 * for IPv4. Global functions taking
 * the packet's struct pkt6 by pointer: each verified once, on its own, so
 * from_pod6's frame and path count hardly grow.
 */
#ifndef XCNI_LB_H
#define XCNI_LB_H

#include <linux/in.h>
#include <stddef.h>

#include "../xcni_shared.h"
#include "compat.h"
#include "conntrack.h"
#include "encap.h"
#include "frag.h"
#include "ipcache.h"
#include "maps.h"
#include "parse.h"
#include "sctp.h"

#define XCNI_NSEC_PER_S 1000000000ULL

/*
 * lb_flow_choose's outside (either family): 0 for a pod's packet; from the
 * underlay LB_OUTSIDE, with LB_OUTSIDE_CIP when ClusterIPs are served there
 * too (xcnid --external-clusterip), and LB_OUTSIDE_SRC when the caller
 * has judged the source's ipcache entry already (from_plain, before
 * from_outside), LB_OUTSIDE_SRC_REFUSED its answer (outside_ipc_refused):
 * then lb_flow_choose looks the source up no more.
 */
#define LB_OUTSIDE 1u
#define LB_OUTSIDE_CIP 2u
#define LB_OUTSIDE_SRC 4u
#define LB_OUTSIDE_SRC_REFUSED 8u

/*
 * A packet for frontend svc from outside the cluster (outside, as above):
 * its client must be one (client_ok: outside_client_ok, outside6_client_ok;
 * a claimed pod, node or martian source is a forgery), and a ClusterIP is
 * the cluster's own unless xcnid says otherwise (Cilium's
 * bpf-lb-external-clusterip, off by default). 0 or the drop reason.
 */
static __always_inline int lb_outside_refused(const struct xcni_svc *svc, int client_ok,
					      __u32 outside)
{
	if (!client_ok)
		return XCNI_DROP_OUTSIDE_SPOOF;
	if ((svc->flags & XCNI_SVC_F_CLUSTERIP) && !(outside & LB_OUTSIDE_CIP))
		return XCNI_DROP_CLUSTERIP_OUTSIDE;
	return 0;
}

/*
 * A pod's new flow to a frontend (flags: its XCNI_SVC_F_*) found no backend:
 * XCNI_DROP_NO_BACKEND, refused at once as kube-proxy's REJECT; or, where a
 * Local traffic policy leaves none here of the endpoints the Service has
 * elsewhere (the compiler sets the flag only then), XCNI_DROP_NO_LOCAL_BACKEND,
 * dropped as kube-proxy DROPs: a ClusterIP under internalTrafficPolicy Local,
 * or another node's NodePort under externalTrafficPolicy Local (from a pod
 * the only frontend with XCNI_SVC_F_ETP_LOCAL: its own node's have an INT twin
 * without it), dropped as that node drops an outside client's packet
 * (user/lib/services/svc.c, add_peer_frontend).
 */
static __always_inline int lb_pod_no_backend(__u8 flags)
{
	return flags & (XCNI_SVC_F_ETP_LOCAL | XCNI_SVC_F_ITP_LOCAL) ? XCNI_DROP_NO_LOCAL_BACKEND :
									XCNI_DROP_NO_BACKEND;
}

/*
 * The frontend of k (its address, port, family and protocol filled in), or
 * NULL; one algorithm for both families. outside: the packet came from
 * outside the cluster (the underlay), which gets the EXT entry only; a pod
 * (and a socket of this node) gets the INT one where the two differ.
 */
static __always_inline const struct xcni_svc *lb_frontend_of(struct xcni_svc_key *k,
							     __u32 outside)
{
	const struct xcni_svc *svc, *in;

	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP && k->proto != IPPROTO_SCTP)
		return NULL;
	k->scope = XCNI_SCOPE_EXT;
	svc = bpf_map_lookup_elem(&xcni_svc, k);
	if (!svc || outside || !(svc->flags & XCNI_SVC_F_TWO_SCOPES))
		return svc;
	/* Traffic policies differ inside and outside: a pod is inside. */
	k->scope = XCNI_SCOPE_INT;
	in = bpf_map_lookup_elem(&xcni_svc, k);
	return in ? in : svc;
}

/* The frontend of t's destination (lb_frontend_of), or NULL; t the family's tuple. */
static __always_inline const struct xcni_svc *lb_frontend(const union xcni_tuple *t, int fam,
							  __u32 outside)
{
	struct xcni_svc_key k = { .family = fam };

	if (fam == XCNI_AF_INET) {
		k.port = t->v4.dport;
		k.proto = t->v4.proto;
		__builtin_memcpy(k.addr, &t->v4.daddr, 4);
	} else {
		k.port = t->v6.dport;
		k.proto = t->v6.proto;
		__builtin_memcpy(k.addr, t->v6.daddr, 16);
	}
	return lb_frontend_of(&k, outside);
}

/* A backend new flows may get: it exists, and is active unless none is. */
static __always_inline const struct xcni_backend *lb_usable(const struct xcni_svc *svc, __u32 id)
{
	const struct xcni_backend *be = bpf_map_lookup_elem(&xcni_backend, &id);

	if (!be || (be->state != XCNI_BE_ACTIVE && svc->count))
		return NULL;
	return be;
}

/*
 * A backend for a new flow: Maglev's entry for the flow's hash (xcni_lb_hash:
 * the family's tuple as the client sent it), or a slot at random. 0: none.
 */
static __always_inline __u32 lb_pick_h(const struct xcni_svc *svc, __u32 hash)
{
	struct xcni_svcslot_key sk = {};
	__u32 n = svc->count, base = 0, *id;

	if (!n) {
		n = svc->count_term;
		base = svc->count;
	}
	if (!n)
		return 0;
	if (svc->flags & XCNI_SVC_F_MAGLEV) {
		__u32 key = xcni_maglev_key(svc->id, svc->version), idx;
		void *table = bpf_map_lookup_elem(&xcni_maglev, &key);

		if (table) {
			idx = hash % XCNI_MAGLEV_M;
			id = bpf_map_lookup_elem(table, &idx);
			if (id && *id)
				return *id;
		}
		/* No table (yet): a slot at random rather than no backend. */
	}
	sk.svc_id = svc->id;
	sk.version = svc->version;
	sk.slot = base + bpf_get_prandom_u32() % n;
	id = bpf_map_lookup_elem(&xcni_svcslot, &sk);
	return id ? *id : 0;
}

/*
 * ClientIP affinity: the client's backend while it is fresh and usable, else
 * a new pick (hash: the flow's). ak: the client (family and address) filled
 * in by the caller. *bep: the client's backend when it is kept (lb_usable
 * looked it up), else left alone.
 */
static __always_inline __u32 lb_pick_affine(const struct xcni_svc *svc, __u32 hash,
					    struct xcni_affinity_key *ak, __u64 now,
					    const struct xcni_backend **bep)
{
	const struct xcni_backend *be;
	struct xcni_affinity *a, na = {};
	__u32 id;

	ak->svc_id = svc->id;
	a = bpf_map_lookup_elem(&xcni_affinity, ak);
	if (a && (now <= a->last_ns || now - a->last_ns <= svc->affinity_s * XCNI_NSEC_PER_S) &&
	    (be = lb_usable(svc, a->backend_id))) {
		a->last_ns = now;
		*bep = be;
		return a->backend_id;
	}
	id = lb_pick_h(svc, hash);
	if (id) {
		na.last_ns = now;
		na.backend_id = id;
		bpf_map_update_elem(&xcni_affinity, ak, &na, BPF_ANY);
	}
	return id;
}

/*
 * The backend id a new flow of hash to svc gets (affinity keyed by ak), 0:
 * none; *bep the backend when the choice looked it up already (an affinity
 * kept), else left alone: the caller looks it up.
 */
static __always_inline __u32 lb_select_h(const struct xcni_svc *svc, __u32 hash,
					 struct xcni_affinity_key *ak, __u64 now,
					 const struct xcni_backend **bep)
{
	return svc->flags & XCNI_SVC_F_AFFINITY ? lb_pick_affine(svc, hash, ak, now, bep) :
						  lb_pick_h(svc, hash);
}

/*
 * The service entry e (the flow's tuple as the client sent it, either
 * family's map) still names the flow's backend: a live XCNI_CT_F_SVC entry
 * whose backend exists (even terminating: open flows drain), unless a SYN
 * reopens a closed TCP or SCTP tuple. Then that backend is returned (and,
 * by lb_flow_keeps, the packet counted: len bytes at now), else NULL: the
 * one lookup of xcni_backend a kept flow's packet makes, lb_flow_choose
 * taking its address from it. One rule for lb_flow_choose in either family.
 */
static __always_inline const struct xcni_backend *
lb_flow_kept(const struct xcni_ct_entry *e, __u64 now, __u8 proto, __u8 tcp_flags)
{
	if (!e || !(e->flags & XCNI_CT_F_SVC) || !ct_alive(e, now, proto) ||
	    ((proto == IPPROTO_TCP || proto == IPPROTO_SCTP) && e->state == XCNI_CT_CLOSED &&
	     (tcp_flags & XCNI_TCP_SYN)))
		return NULL;
	return bpf_map_lookup_elem(&xcni_backend, &e->backend_id);
}

/* A packet of len bytes at now into the service entry e (lb_flow_keeps, lb_flow_open). */
static __always_inline void lb_flow_count(struct xcni_ct_entry *e, __u64 now, __u32 len)
{
	e->last_ns = now;
	e->pkts_orig++;
	e->bytes_orig += len;
}

static __always_inline const struct xcni_backend *
lb_flow_keeps(struct xcni_ct_entry *e, __u64 now, __u8 proto, __u8 tcp_flags, __u32 len)
{
	const struct xcni_backend *be = lb_flow_kept(e, now, proto, tcp_flags);

	if (be)
		lb_flow_count(e, now, len);
	return be;
}

/* What a translation did, for the rest of the program. */
/*
 * The family's translation state: struct lb4_state (IPv4, on the stack,
 * with a pointer to its service entry) or struct lb6_state (IPv6, in
 * xcni_lb6_tmp, which no pointer may be kept in). A transparent union: a
 * caller passes either pointer as it is, the callee names the family's
 * member (fam a constant); NULL (no state) tests alike through either.
 */
union lb_state {
	struct lb4_state *v4;
	struct lb6_state *v6;
} __attribute__((transparent_union));

/* This CPU's scratch (maps.h's struct lb6_tmp), NULL only if the map failed:
 * each caller zeroes the field it takes. */
static __always_inline struct lb6_tmp *lb6_tmp_get(void)
{
	return bpf_map_lookup_elem(&xcni_lb6_tmp, &map_zero);
}

/*
 * lb_rewrite's IPv4 leaf: rewrites one address (at addr_off: IP_SADDR_OFF or
 * IP_DADDR_OFF) and the port beside it (port_off: 0 source, 2 destination, in the L4 header) with
 * incremental L3 and L4 checksum updates. A UDP checksum of 0 (none) stays 0.
 * SCTP: the CRC is updated for a new port only (sctp4_nat_port; -2: a first
 * fragment, whose port cannot be rewritten). In a frame of its own (global:
 * verified once, its branches out of its callers' paths; from_pod's IPv4
 * rewrites it four times): the flow's IPv4 header length, protocol and
 * whether it is a later fragment, and the two offsets, packed in where
 * (lb4_nat), the two ports in ports (SCTP_PORTS).
 * Packet pointers are stale afterwards. 0 or -1.
 */
#define LB4_NAT_LATER (1u << 16)
#define LB4_NAT_DPORT (1u << 17)
#define LB4_NAT_DADDR (1u << 18)

__attribute__((noinline)) int lb4_nat_call(struct __sk_buff *skb, __u32 where, __u32 old_addr,
					   __u32 new_addr, __u32 ports)
{
	__u32 l4 = ETH_HLEN + (where & 0xff), port_off = where & LB4_NAT_DPORT ? 2 : 0;
	__u32 addr_off = where & LB4_NAT_DADDR ? IP_DADDR_OFF : IP_SADDR_OFF;
	__u8 proto = where >> 8;
	__u32 csum_off = l4 + (proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
						     : offsetof(struct udphdr, check));
	__u64 mangled = proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__u16 old_port = ports, new_port = ports >> 16;

	if (!skb)
		return -1;
	/* A fragment after the first has no L4 header: its ports and checksum are
	 * in the first fragment, which was rewritten whole. SCTP's checksum
	 * covers no pseudo header: an address is the IP header's business alone,
	 * a port the CRC's (sctp.h). */
	if ((where & LB4_NAT_LATER) || proto == IPPROTO_SCTP) {
		if (old_addr != new_addr &&
		    (bpf_l3_csum_replace(skb, IPCSUM_OFF, old_addr, new_addr, sizeof(new_addr)) ||
		     bpf_skb_store_bytes(skb, addr_off, &new_addr, sizeof(new_addr), 0)))
			return -1;
		if ((where & LB4_NAT_LATER) || old_port == new_port)
			return 0;
		return sctp4_nat_port(skb, l4, port_off, old_port, new_port);
	}
	if (old_addr != new_addr &&
	    (bpf_l4_csum_replace(skb, csum_off, old_addr, new_addr,
				 mangled | BPF_F_PSEUDO_HDR | sizeof(new_addr)) ||
	     bpf_l3_csum_replace(skb, IPCSUM_OFF, old_addr, new_addr, sizeof(new_addr)) ||
	     bpf_skb_store_bytes(skb, addr_off, &new_addr, sizeof(new_addr), 0)))
		return -1;
	if (old_port != new_port &&
	    (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, mangled | sizeof(new_port)) ||
	     bpf_skb_store_bytes(skb, l4 + port_off, &new_port, sizeof(new_port), 0)))
		return -1;
	return 0;
}

static __always_inline int lb4_nat(struct __sk_buff *skb, const struct flow *f, __u32 addr_off,
				   __u32 old_addr, __u32 new_addr, __u32 port_off, __u16 old_port,
				   __u16 new_port)
{
	return lb4_nat_call(skb,
			    f->l3_len | (__u32)f->tuple.v4.proto << 8 |
				    (f->frag_later ? LB4_NAT_LATER : 0) |
				    (port_off ? LB4_NAT_DPORT : 0) |
				    (addr_off == IP_DADDR_OFF ? LB4_NAT_DADDR : 0),
			    old_addr, new_addr, SCTP_PORTS(old_port, new_port));
}

/*
 * lb6_nat's SCTP port, as lb4_nat's is sctp4_nat_port: the port at port_off
 * (0 source, 2 destination) goes from the old to the new (SCTP_PORTS(old,
 * new)) with its CRC updated. The SCTP packet's length: the IPv6 payload
 * after the extension headers. Nothing for another protocol, a later
 * fragment (no common header) or the same port. 0; -2 for a first fragment
 * (the reassembled length unknown, nothing written: drop-fragment, as
 * IPv4's); -1 (drop it). Inline, not global as IPv4's: a frame of its own
 * below lb6_translate_call's would take from_pod6's chain past the
 * verifier's 512 bytes (from_pod6 368, now from_pod6 + lb6_translate_call 144 was 512).
 */
static __always_inline int lb6_sctp_port(struct __sk_buff *skb, const struct flow *f,
					 __u32 port_off, __u32 ports)
{
	__be16 plen;
	__u32 len;

	if (!skb || !f)
		return -1;
	if (f->tuple.v6.proto != IPPROTO_SCTP || f->frag_later ||
	    !((ports ^ (ports >> 16)) & 0xffff))
		return 0;
	if (f->frag_first)
		return -2;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct xcni_ip6hdr, payload_len), &plen, 2))
		return -1;
	len = bpf_ntohs(plen) + ETH_HLEN + sizeof(struct xcni_ip6hdr);
	if (len < f->l4_off)
		return -1;
	return sctp_nat_port_len(skb, f->l4_off, port_off, ports, len - f->l4_off);
}

/*
 * One address (at addr_off) and the port beside it (port_off in the L4
 * header: 0 source, 2 destination) rewritten, the TCP/UDP checksum updated
 * for both (the address through the pseudo-header). A later fragment has no
 * L4 header: the address only. A UDP checksum of 0 stays 0. SCTP: the CRC
 * is updated for a new port only (lb6_sctp_port; -2: a first fragment, whose
 * port cannot be rewritten), as lb4_nat does for IPv4. 0 or -1.
 */
static __always_inline int lb6_nat(struct __sk_buff *skb, const struct flow *f, __u32 addr_off,
				   const __u8 *old_addr, const __u8 *new_addr, __u32 port_off,
				   __u16 old_port, __u16 new_port)
{
	int l4 = !f->frag_later;
	__u32 csum_off = f->l4_off + (f->tuple.v6.proto == IPPROTO_TCP ? 16 : 6);
	__u64 mangled = f->tuple.v6.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__s64 diff;

	/* SCTP: no pseudo-header, the address alone; the port and its CRC are
	 * lb6_sctp_port's. */
	if (f->tuple.v6.proto == IPPROTO_SCTP) {
		if (!in6_eq(old_addr, new_addr) &&
		    bpf_skb_store_bytes(skb, addr_off, new_addr, 16, 0))
			return -1;
		return lb6_sctp_port(skb, f, port_off, SCTP_PORTS(old_port, new_port));
	}
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
	    bpf_skb_store_bytes(skb, f->l4_off + port_off, &new_port, sizeof(new_port), 0))
		return -1;
	return 0;
}

/*
 * Either family's address of the flow, and its ports (fam a constant: the
 * compiler keeps one side). What is written once below reads and writes the
 * tuple through these; the rewrite of the header itself is the family's leaf
 * (lb4_nat, lb6_nat).
 */
static __always_inline void *lb_saddr(struct flow *f, int fam)
{
	return fam == XCNI_AF_INET ? (void *)&f->tuple.v4.saddr : (void *)f->tuple.v6.saddr;
}

static __always_inline void *lb_daddr(struct flow *f, int fam)
{
	return fam == XCNI_AF_INET ? (void *)&f->tuple.v4.daddr : (void *)f->tuple.v6.daddr;
}

static __always_inline __u16 *lb_sport(struct flow *f, int fam)
{
	return fam == XCNI_AF_INET ? &f->tuple.v4.sport : &f->tuple.v6.sport;
}

static __always_inline __u16 *lb_dport(struct flow *f, int fam)
{
	return fam == XCNI_AF_INET ? &f->tuple.v4.dport : &f->tuple.v6.dport;
}

/* src's tuple into dst, the family's half. */
static __always_inline void lb_tuple_copy(union xcni_tuple *dst, const union xcni_tuple *src,
					  int fam)
{
	if (fam == XCNI_AF_INET)
		dst->v4 = src->v4;
	else
		dst->v6 = src->v6;
}

static __always_inline void lb_addr_set(void *dst, const void *src, int fam)
{
	if (fam == XCNI_AF_INET)
		*(__u32 *)dst = *(const __u32 *)src;
	else
		__builtin_memcpy(dst, src, 16);
}

/* lb_addr_set between 4-byte aligned places (map values, tuples): IPv6's
 * 16 bytes as four words, not byte by byte (a byte copy's 16 registers spill). */
static __always_inline void lb_addr_put(void *dst, const void *src, int fam)
{
	if (fam == XCNI_AF_INET)
		*(__u32 *)dst = *(const __u32 *)src;
	else
		__builtin_memcpy((__u32 *)dst, (const __u32 *)src, 16);
}

/* The header offsets of the family's source and destination address. */
#define LB_SADDR_OFF(fam) ((fam) == XCNI_AF_INET ? IP_SADDR_OFF : IP6_SADDR_OFF)
#define LB_DADDR_OFF(fam) ((fam) == XCNI_AF_INET ? IP_DADDR_OFF : IP6_DADDR_OFF)

/*
 * One address of flow f (at addr_off) from old_addr to new_addr and the port
 * beside it (port_off: 0 source, 2 destination) from old_port to new_port,
 * in the family's header and checksums: lb4_nat or lb6_nat. The addresses
 * are the family's (4 or 16 bytes). 0, -1, or -2 (SCTP first fragment).
 */
static __always_inline int lb_rewrite(struct __sk_buff *skb, const struct flow *f, int fam,
				      __u32 addr_off, const void *old_addr, const void *new_addr,
				      __u32 port_off, __u16 old_port, __u16 new_port)
{
	if (fam == XCNI_AF_INET)
		return lb4_nat(skb, f, addr_off, *(const __u32 *)old_addr,
			       *(const __u32 *)new_addr, port_off, old_port, new_port);
	return lb6_nat(skb, f, addr_off, old_addr, new_addr, port_off, old_port, new_port);
}

/*
 * A pod's packet to a frontend that is the reply of a flow this node tracks:
 * a node's own client bound to a NodePort's number (or a node's SNAT that
 * kept its client's port) opened a flow to the pod, and the pod answers it.
 * It goes back as it is. Translated, it would open a new flow to the
 * Service's backend and the tracked one would never see its reply (its node
 * took a backend's SYN-ACK to such a port for a new NodePort flow:
 * bench/np-stall.sh). Only that case: the frontend no ClusterIP and the
 * peer a node (lb_node_peer: host or remote-node in the ipcache), whose
 * flows into a pod come from this node's stack or inside that node's Geneve,
 * never plain from the underlay (from_plain). Any other frontend as a flow's
 * peer is a forged reply (a ClusterIP:53 "answer" from the underlay): taken
 * for a reply, the pod's next request from that port would leave
 * untranslated, to whoever routes the Service range. Only a new translation
 * asks, so a flow through the Service costs no more.
 */
static __always_inline int lb_node_peer(__u32 svc_flags, const struct xcni_ipcache_val *ipc)
{
	return !(svc_flags & XCNI_SVC_F_CLUSTERIP) && ipc &&
	       (ipc->identity == XCNI_ID_HOST || ipc->identity == XCNI_ID_REMOTE_NODE);
}

/* t the other way round, in place (twice: as it was). */
static __always_inline void lb_tuple_turn(union xcni_tuple *t, int fam)
{
	__u16 port;

	if (fam == XCNI_AF_INET) {
		__u32 a = t->v4.saddr;

		t->v4.saddr = t->v4.daddr;
		t->v4.daddr = a;
		port = t->v4.sport;
		t->v4.sport = t->v4.dport;
		t->v4.dport = port;
	} else {
		__u8 a[16];

		__builtin_memcpy(a, t->v6.saddr, 16);
		__builtin_memcpy(t->v6.saddr, t->v6.daddr, 16);
		__builtin_memcpy(t->v6.daddr, a, 16);
		port = t->v6.sport;
		t->v6.sport = t->v6.dport;
		t->v6.dport = port;
	}
}

/* Reversed in place and back: from_pod has no stack to spare. */
static __always_inline int lb_is_reply(union xcni_tuple *t, int fam, __u64 now)
{
	const struct xcni_ct_entry *e;

	lb_tuple_turn(t, fam);
	e = ct_find(fam, t);
	lb_tuple_turn(t, fam);
	return e && ct_alive(e, now, fam == XCNI_AF_INET ? t->v4.proto : t->v6.proto);
}

/*
 * lb_node_peer and lb_is_reply for a pod's packet t (the family's tuple) to
 * a frontend of flags svc_flags: 1 when it is the reply of a node's flow.
 * One body for both families; IPv4 calls it in lb4_node_reply_call's frame,
 * IPv6 inline (lb6_translate_call, a global function itself, has its own
 * frame: a global one here would make from_pod's deepest chain too deep).
 */
static __always_inline int lb_node_reply(union xcni_tuple *t, int fam, __u32 svc_flags,
					 __u64 now)
{
	return lb_node_peer(svc_flags, ipcache_find(fam, fam == XCNI_AF_INET ?
							       (const void *)&t->v4.daddr :
							       (const void *)t->v6.daddr)) &&
	       lb_is_reply(t, fam, now);
}

/*
 * IPv4's lb_node_reply, global: verified once, on its own, so from_pod's
 * paths through lb_translate do not multiply by its branches (inline, from_pod
 * with Services in BPF verified 650,632 instructions; so, 577,044, as before
 * the check). Looked up as a copy on the stack: a global function's pointer
 * argument is memory (PTR_TO_MEM), which 6.1's verifier refuses as a map key.
 */
__attribute__((noinline)) int lb4_node_reply_call(const struct xcni_ct_key *t, __u32 svc_flags)
{
	union xcni_tuple k;

	if (!t)
		return 0;
	k.v4 = *t;
	return lb_node_reply(&k, XCNI_AF_INET, svc_flags, bpf_ktime_get_ns());
}

/*
 * A packet from outside the cluster (plain on the underlay: from_plain,
 * from_plain6) whose source is a frontend of the Service maps, k that source
 * (address, port, family and protocol filled in), sipc its ipcache entry: 1
 * to refuse it (drop-src-frontend). A frontend is a destination; as a source
 * it is a forged reply, delivered to any pod its policy does not close, and
 * the conntrack entry it leaves would make the pod's next request from that
 * port its "reply". The Service range is refused whole before this, in any
 * Services mode (in_svc_cidr4/6); here, with Services in BPF, every frontend
 * at its port: ClusterIPs outside that range, externalIPs, load-balancer
 * IPs, this node's NodePorts. Not another node's NodePort: that node speaks
 * from its own address on the underlay (host to host, plain), and reaches
 * pods only inside its Geneve (from_plain refuses the rest).
 */
static __always_inline int lb_src_frontend(struct xcni_svc_key *k,
					   const struct xcni_ipcache_val *sipc)
{
	const struct xcni_svc *svc;

	if (!lb_enabled ||
	    (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP && k->proto != IPPROTO_SCTP))
		return 0;
	k->scope = XCNI_SCOPE_EXT;
	svc = bpf_map_lookup_elem(&xcni_svc, k);
	return svc && ((svc->flags & XCNI_SVC_F_CLUSTERIP) || !sipc ||
		       sipc->identity != XCNI_ID_REMOTE_NODE);
}

/*
 * lb_src_frontend without Services in BPF (kube-proxy translates them): k
 * a frontend of xcni_extfe, which xcnid fills from the Services (every
 * ClusterIP, externalIP and load-balancer IP at its ports): 1 to refuse it.
 * The kernel's conntrack is poisoned as xcni's would be. A remote node
 * keeps its own address (a load-balancer IP may be one): host to host.
 */
static __always_inline int kp_src_frontend(struct xcni_svc_key *k,
					   const struct xcni_ipcache_val *sipc)
{
	if (lb_enabled ||
	    (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP && k->proto != IPPROTO_SCTP))
		return 0;
	k->scope = XCNI_SCOPE_EXT;
	return bpf_map_lookup_elem(&xcni_extfe, k) &&
	       (!sipc || sipc->identity != XCNI_ID_REMOTE_NODE);
}

/* The family's translation state st (union lb_state): what both have
 * (LB_ST) and the tuple as the client sent it (lb_st_orig). */
#define LB_ST(st, fam, m) (*((fam) == XCNI_AF_INET ? &(st).v4->m : &(st).v6->m))

static __always_inline union xcni_tuple *lb_st_orig(union lb_state st, int fam)
{
	return fam == XCNI_AF_INET ? (union xcni_tuple *)&st.v4->orig :
				     (union xcni_tuple *)&st.v6->orig;
}

/*
 * The flow's service entry: IPv4's st holds it (lb_flow_choose, lb_flow_open
 * set it, but for from_pod's, in a map value: lb_svc_find), IPv6's is looked
 * up again by the client's tuple (a map value holds no pointer). NULL: none.
 */
static __always_inline struct xcni_ct_entry *lb_svc_find(union lb_state st, int fam)
{
	struct xcni_ct_entry *e = bpf_map_lookup_elem(ct_map(fam), lb_st_orig(st, fam));

	return e && (e->flags & XCNI_CT_F_SVC) ? e : NULL;
}

static __always_inline struct xcni_ct_entry *lb_svc_entry(union lb_state st, int fam)
{
	return fam == XCNI_AF_INET ? st.v4->svc_ct : lb_svc_find(st, fam);
}

/* A new service entry into ne: the flow to backend id of frontend rev_nat. */
static __always_inline void lb_svc_entry_fill(struct xcni_ct_entry *ne, __u64 now, __u64 pkts,
					      __u32 len, __u32 ep_id, __u32 id, __u16 rev_nat)
{
	__builtin_memset(ne, 0, sizeof(*ne));
	ne->created_ns = now;
	ne->last_ns = now;
	ne->pkts_orig = pkts;
	ne->bytes_orig = pkts ? len : 0;
	ne->ep_id = ep_id;
	ne->state = XCNI_CT_NEW;
	ne->flags = XCNI_CT_F_SVC;
	ne->backend_id = id;
	ne->rev_nat = rev_nat;
}

/*
 * The part of lb_translate that reads no packet, for any hook and either
 * family (f the packet's flow, st its translation state, fam a constant; tc's lb_translate, and both hooks'
 * np_plan_choose): the frontend of f's destination, the outside rules, the
 * flow's backend (the one its service entry names, or a new pick). 0: no
 * frontend (nothing written); 1: *bep and *svcp set, st filled but for the
 * header rewrite; XCNI_DROP_NO_BACKEND, or another drop reason (the flow's
 * rev_nat set for the event). A new flow's service entry is written here
 * (st's created; IPv4's svc_ct) unless defer (a constant): then the caller
 * writes it with lb_flow_open once it knows the packet is its own to
 * translate (created 0 until then; a flow found kept is not counted: IPv4's
 * svc_ct, and *sep, say so), so a packet the fast path hands on to tc
 * leaves nothing of its own behind. *sep (sep not NULL): the service
 * entry, kept or (IPv4, not deferred) written, else NULL: the one lookup
 * of it the XDP fast path makes. *svcp on entry: the frontend when the
 * caller has looked it up already (the XDP fast path, from outside: the EXT
 * entry, what lb_frontend_of finds), else NULL. tmp: the per-CPU scratch
 * (the affinity key and the new entry, off a 512-byte stack) of IPv6 and of
 * IPv4's lb_translate, whose state st is in it (IPv4's svc_ct then left
 * unset: a map value holds no pointer; lb_flow_follow finds the entry);
 * IPv4's other callers keep them, and st, on their stack (NULL).
 */
static __always_inline int lb_flow_choose(struct flow *f, int fam, __u32 ep_id, union lb_state st,
					  __u32 outside, int defer, struct lb6_tmp *tmp,
					  const struct xcni_svc **svcp,
					  const struct xcni_backend **bep,
					  struct xcni_ct_entry **sep)
{
	union xcni_tuple *t = &f->tuple;
	const struct xcni_svc *svc = *svcp ? *svcp : lb_frontend(t, fam, outside);
	__u8 proto = fam == XCNI_AF_INET ? t->v4.proto : t->v6.proto;
	struct xcni_affinity_key ak4, *ak;
	struct xcni_ct_entry ne4, *e;
	const struct xcni_backend *be;
	__u64 now = bpf_ktime_get_ns();
	__u32 id = 0;
	int ret;

	if (!svc)
		return 0;
	LB_ST(st, fam, svc_flags) = svc->flags;
	/* IPv6's state names the frontend for lb_flow_open (nodeport_xdp.h);
	 * IPv4's caller of lb_flow_open passes it. */
	if (fam == XCNI_AF_INET6)
		st.v6->rev_nat = svc->rev_nat;
	/* From outside: judged before anything is written for it (the
	 * source's ipcache entry the caller's when it has judged it). */
	if (outside) {
		ret = lb_outside_refused(
			svc,
			outside & LB_OUTSIDE_SRC ?
				outside_source_ok_ipc(fam, outside & LB_OUTSIDE_SRC_REFUSED,
						      lb_saddr(f, fam)) :
				outside_source_ok(fam, ipcache_find(fam, lb_saddr(f, fam)),
						  lb_saddr(f, fam)),
			outside);
		if (ret) {
			f->rev_nat = svc->rev_nat; /* the drop's event names the Service */
			return ret;
		}
	}
	e = ct_find(fam, t);
	be = defer ? lb_flow_kept(e, now, proto, f->tcp_flags) :
		     lb_flow_keeps(e, now, proto, f->tcp_flags, f->len);
	if (be) {
		/* Deferred: counted by lb_flow_open. */
		id = e->backend_id;
	} else if (f->frag_later) {
		/* A later fragment follows its first one's translation, never opens
		 * one: untranslated, it finds no flow in ct_track and is dropped. */
		return 0;
	} else if (!outside && (fam == XCNI_AF_INET ?
					lb4_node_reply_call(&t->v4, svc->flags) :
					lb_node_reply(t, fam, svc->flags, now))) {
		return 0;
	} else {
		/* ClientIP affinity: the client is the packet's source. */
		ak = tmp ? &tmp->ak : &ak4;
		__builtin_memset(ak, 0, sizeof(*ak));
		ak->family = fam;
		lb_addr_set(ak->client, lb_saddr(f, fam), fam);
		id = lb_select_h(svc,
				 xcni_lb_hash(fam, lb_saddr(f, fam), lb_daddr(f, fam),
					      *lb_sport(f, fam), *lb_dport(f, fam), proto),
				 ak, now, &be);
		if (!id) {
			f->rev_nat = svc->rev_nat; /* the refusal's event names the Service */
			return XCNI_DROP_NO_BACKEND;
		}
		e = NULL;
		if (!defer) {
			struct xcni_ct_entry *ne = tmp ? &tmp->ne : &ne4;

			lb_svc_entry_fill(ne, now, 1, f->len, ep_id, id, svc->rev_nat);
			ct_entry_add(fam, t, ne, 0);
			if (fam == XCNI_AF_INET && !tmp)
				e = bpf_map_lookup_elem(&xcni_ct, t);
			LB_ST(st, fam, created) = 1;
		}
	}
	lb_tuple_copy(lb_st_orig(st, fam), t, fam);
	/* A kept flow's backend is lb_flow_kept's, a kept affinity's
	 * lb_pick_affine's, a new pick's looked up here. */
	if (!be)
		be = bpf_map_lookup_elem(&xcni_backend, &id);
	if (!be || be->family != fam)
		return XCNI_DROP_NO_BACKEND;
	if (fam == XCNI_AF_INET && !tmp)
		st.v4->svc_ct = e;
	if (sep)
		*sep = e;
	LB_ST(st, fam, backend_id) = id;
	LB_ST(st, fam, translated) = 1;
	*svcp = svc;
	*bep = be;
	return 1;
}

/*
 * lb_flow_choose's deferred service entry (defer), either family: e, the one
 * lb_flow_choose found kept (*sep), and the packet counted into it; else
 * written now, for the flow st's orig to backend st's backend_id of
 * rev_nat, its first packet len bytes (st's created, IPv4's svc_ct set as
 * lb_flow_choose would have). pkts 0: the entry only, the packet not
 * counted (it goes on to tc, whose lb_translate counts it when it finds the
 * entry: the XDP fast path's hand-over of a random pick, nodeport_xdp.h).
 * tmp: IPv6's scratch (lb_flow_choose's). The entry (NULL: none).
 */
static __always_inline struct xcni_ct_entry *lb_flow_open(union lb_state st, int fam,
							  struct xcni_ct_entry *e,
							  __u16 rev_nat, __u32 len,
							  __u64 pkts, struct lb6_tmp *tmp)
{
	struct xcni_ct_entry ne4, *ne;
	__u64 now = bpf_ktime_get_ns();

	if (e) {
		if (pkts)
			lb_flow_count(e, now, len);
		return e;
	}
	ne = fam == XCNI_AF_INET ? &ne4 : &tmp->ne;
	lb_svc_entry_fill(ne, now, pkts, len, 0, LB_ST(st, fam, backend_id), rev_nat);
	ct_entry_add(fam, lb_st_orig(st, fam), ne, 0);
	e = bpf_map_lookup_elem(ct_map(fam), lb_st_orig(st, fam));
	if (fam == XCNI_AF_INET)
		st.v4->svc_ct = e;
	LB_ST(st, fam, created) = 1;
	return e;
}

static __always_inline void in6_set_lb_loopback(__u8 *a)
{
	__u32 *x = (__u32 *)a;

	x[0] = bpf_htonl(0x01000000);
	x[1] = 0;
	x[2] = 0;
	x[3] = bpf_htonl(0xa9fe2a01);
}

static __always_inline int lb_addr_eq(const void *a, const void *b, int fam)
{
	if (fam == XCNI_AF_INET)
		return *(const __u32 *)a == *(const __u32 *)b;
	return in6_eq(a, b);
}

/*
 * The rewrite of a pod's translation, either family, once the flow's
 * backend be (of frontend svc; backend_id its id) is chosen: DNAT to it,
 * and for hairpin (the pod is its own backend) SNAT to the service loopback
 * address (IPv4: loopback4, xcnid's; IPv6: XCNI_LB_LOOPBACK6), *ct_flags
 * XCNI_CT_F_HAIRPIN (from outside, nodeport_tc.h's np_tc_dnat: never
 * hairpin, a client with the backend's address is a forgery or a
 * coincidence, not the backend). f's tuple follows, its rev_nat and backend_id set. 1,
 * or a drop reason (packet pointers stale either way).
 */
static __always_inline int lb_dnat(struct __sk_buff *skb, struct flow *f, int fam,
				   const struct xcni_svc *svc, const struct xcni_backend *be,
				   const __u32 *backend_id, __u32 loopback4, __u8 *ct_flags)
{
	/* The backend's address read once, before the rewrites' helper calls
	 * (held in a register for IPv4: with be live across them instead,
	 * from_pod verified 28% more instructions). */
	union {
		__u32 v4;
		__u8 v6[16];
	} baddr, lo;
	int ret;

	lb_addr_set(&baddr, be->addr, fam);
	ret = lb_rewrite(skb, f, fam, LB_DADDR_OFF(fam), lb_daddr(f, fam), &baddr, 2,
			 *lb_dport(f, fam), be->port);
	if (ret)
		return ret == -2 ? XCNI_DROP_FRAGMENT : XCNI_DROP_REDIRECT;
	if (lb_addr_eq(&baddr, lb_saddr(f, fam), fam)) {
		if (fam == XCNI_AF_INET)
			lo.v4 = loopback4;
		else
			in6_set_lb_loopback(lo.v6);
		if (lb_rewrite(skb, f, fam, LB_SADDR_OFF(fam), lb_saddr(f, fam), &lo, 0, 0, 0))
			return XCNI_DROP_REDIRECT;
		lb_addr_set(lb_saddr(f, fam), &lo, fam);
		*ct_flags = XCNI_CT_F_HAIRPIN;
	}
	lb_addr_set(lb_daddr(f, fam), &baddr, fam);
	*lb_dport(f, fam) = be->port;
	f->rev_nat = svc->rev_nat;
	f->backend_id = *backend_id;
	return 1;
}

/*
 * lb_translate for IPv6 in a frame of its own (global: verified once, its
 * state and scratch in xcni_lb6_tmp, off the 512 bytes from_pod6 shares):
 * lb_flow_choose, then lb_dnat.
 */
__attribute__((noinline)) int lb6_translate_call(struct __sk_buff *skb, struct pkt6 *p,
						 __u32 ep_id, struct lb6_state *st)
{
	const struct xcni_backend *be = NULL;
	const struct xcni_svc *svc = NULL;
	struct lb6_tmp *tmp;
	int ret;

	if (!skb || !p || !st)
		return 0;
	tmp = lb6_tmp_get();
	if (!tmp)
		return 0;
	tmp->f = *pkt_flow(p);
	ret = lb_flow_choose(&tmp->f, XCNI_AF_INET6, ep_id, st, 0, 0, tmp, &svc, &be, NULL);
	if (ret == 1 && svc && be)
		ret = lb_dnat(skb, &tmp->f, XCNI_AF_INET6, svc, be, &st->backend_id, 0,
			      &st->ct_flags);
	*pkt_flow(p) = tmp->f;
	return ret;
}

/*
 * A pod's packet to a frontend, either family (p4 or p6 the family's view,
 * the other NULL, st its translation state; from outside:
 * np_plan_choose): the flow's backend (lb_flow_choose), DNAT to it, hairpin
 * SNAT to the loopback (IPv4 loopback_ip): lb_dnat. 0: no frontend; 1:
 * translated (the tuple the translated one, rev_nat and backend_id set;
 * IPv4's headers parsed again through c, a parse that fails its drop
 * reason: the return value, which the verifier follows, says so);
 * XCNI_DROP_NO_BACKEND (nothing written; the flow's rev_nat names the
 * Service, st's svc_flags its flags), or another drop reason (packet
 * pointers stale). IPv4 inline, its state in the per-CPU scratch (from_pod's
 * lb4 in lb6_tmp's st4) and so its scratch too; IPv6 in lb6_translate_call's
 * frame.
 */
static __always_inline int lb_translate(struct __sk_buff *skb, struct cursor *c, struct pkt *p4,
					struct pkt6 *p6, int fam, __u32 ep_id, __u32 loopback_ip,
					union lb_state st)
{
	const struct xcni_svc *svc = NULL;
	const struct xcni_backend *be = NULL;
	struct lb6_tmp *tmp;
	int ret;

	if (fam == XCNI_AF_INET6)
		return lb6_translate_call(skb, p6, ep_id, st.v6);
	tmp = lb6_tmp_get();
	if (!tmp)
		return 0;
	ret = lb_flow_choose(pkt_flow(p4), fam, ep_id, st, 0, 0, tmp, &svc, &be, NULL);
	if (ret != 1 || !svc || !be)
		return ret;
	ret = lb_dnat(skb, pkt_flow(p4), fam, svc, be, &st.v4->backend_id, loopback_ip,
		      &st.v4->ct_flags);
	return ret == 1 ? reparse4(skb, c, p4) ?: 1 : ret;
}

/*
 * The translated packet was refused (policy, ...): a new flow leaves no
 * service entry behind. st: the family's translation state (NULL: none).
 */
static __always_inline void lb_flow_forget(union lb_state st, int fam)
{
	if (st.v4 && LB_ST(st, fam, created))
		ct_entry_remove(fam, lb_st_orig(st, fam));
}

/*
 * After ct_track on the translated flow f: the service entry lives as long
 * as the flow (its state the flow's). find (a constant): the entry looked
 * up again, IPv4's st in a map value too (from_pod's), else st's.
 */
static __always_inline void lb_flow_follow(union lb_state st, int fam, const struct flow *f,
					   int find)
{
	struct xcni_ct_entry *e;

	if (!st.v4 || !LB_ST(st, fam, translated) || !f->ct_state)
		return;
	e = find ? lb_svc_find(st, fam) : lb_svc_entry(st, fam);
	if (e)
		e->state = f->ct_state;
}


/*
 * A reply of a translated flow (f->rev_nat from its conntrack entry): source
 * back to the frontend; for hairpin, destination (the loopback address) back
 * to the client, which is the backend itself, the reply's source. One body
 * for both families (fam a constant), the rewrites the family's (lb_rewrite).
 * 0, or -1 when the frontend is gone or a rewrite failed (passed on as it
 * is; the client drops it). IPv4's packet pointers are stale afterwards.
 */
static __always_inline int lb_rev_nat_flow(struct __sk_buff *skb, struct flow *f, int fam,
					   __u32 ct_flags)
{
	const struct xcni_revnat *rn;
	__u16 idx = f->rev_nat;

	rn = bpf_map_lookup_elem(&xcni_revnat, &idx);
	if (!rn || rn->family != fam)
		return -1;
	if (ct_flags & XCNI_CT_F_HAIRPIN) {
		if (lb_rewrite(skb, f, fam, LB_DADDR_OFF(fam), lb_daddr(f, fam), lb_saddr(f, fam),
			       2, 0, 0))
			return -1;
		lb_addr_set(lb_daddr(f, fam), lb_saddr(f, fam), fam);
	}
	if (lb_rewrite(skb, f, fam, LB_SADDR_OFF(fam), lb_saddr(f, fam), rn->addr, 0,
		       *lb_sport(f, fam), rn->port))
		return -1;
	lb_addr_set(lb_saddr(f, fam), rn->addr, fam);
	*lb_sport(f, fam) = rn->port;
	return 0;
}

/* IPv6's in a frame of its own (global: verified once), off the 512 bytes
 * of stack from_pod6 and ovl_decap6 share with their callees. */
__attribute__((noinline)) int lb6_rev_nat_call(struct __sk_buff *skb, struct flow *f,
					       __u32 ct_flags)
{
	if (!skb || !f)
		return -1;
	return lb_rev_nat_flow(skb, f, XCNI_AF_INET6, ct_flags);
}

/* lb_rev_nat_flow: inline for IPv4, in lb6_rev_nat_call's frame for IPv6. */
static __always_inline int lb_rev_nat(struct __sk_buff *skb, struct flow *f, int fam,
				      __u32 ct_flags)
{
	if (fam == XCNI_AF_INET)
		return lb_rev_nat_flow(skb, f, fam, ct_flags);
	return lb6_rev_nat_call(skb, f, ct_flags);
}

/*
 * The two struct icmp_err (flow.h) a reader of a quote needs, the error as
 * it came (returned) and as it goes (*n), in xcni_lb6_tmp: from_pod's
 * frames and their callees' are at the verifier's 512 bytes. NULL: none.
 */
static __always_inline struct icmp_err *icmp_err_pair(struct icmp_err **n)
{
	struct lb6_tmp *t = lb6_tmp_get();

	if (!t)
		return NULL;
	*n = &t->ie[1];
	return &t->ie[0];
}

/*
 * The error at icmp (fam a constant) into x: 0 for an error (unreachable,
 * Packet Too Big for IPv6, time exceeded, parameter problem) quoting TCP,
 * UDP or SCTP with the ports in a plain IPv4 or IPv6 header (ct_icmp_related's
 * rule), else -1. It reads with bpf_skb_load_bytes, not through packet
 * pointers: its callers are global functions that take no pointers.
 */
static __always_inline int icmp_err_read(struct __sk_buff *skb, int fam, __u32 icmp,
					 struct icmp_err *x)
{
	__u32 in = icmp + 8;
	struct iphdr ip;
	__u8 type, proto;

	__builtin_memset(x, 0, sizeof(*x));
	if (bpf_skb_load_bytes(skb, icmp, &type, 1))
		return -1;
	if (fam == XCNI_AF_INET) {
		if ((type != ICMP_DEST_UNREACH && type != ICMP_TIME_EXCEEDED &&
		     type != ICMP_PARAMETERPROB) ||
		    bpf_skb_load_bytes(skb, in, &ip, sizeof(ip)) || ip.ihl != 5 ||
		    bpf_skb_load_bytes(skb, in + sizeof(ip), &x->quote.v4.sport, 4) ||
		    bpf_skb_load_bytes(skb, IP_SADDR_OFF, x->outer, 8))
			return -1;
		x->quote.v4.saddr = ip.saddr;
		x->quote.v4.daddr = ip.daddr;
		x->quote.v4.proto = proto = ip.protocol;
		x->qcheck = ip.check;
	} else {
		if ((type != ICMP6_DST_UNREACH && type != ICMP6_PACKET_TOO_BIG &&
		     type != ICMP6_TIME_EXCEEDED && type != ICMP6_PARAM_PROB) ||
		    bpf_skb_load_bytes(skb, IP6_SADDR_OFF, x->outer, 32) ||
		    bpf_skb_load_bytes(skb, in + offsetof(struct xcni_ip6hdr, nexthdr), &proto, 1) ||
		    bpf_skb_load_bytes(skb, in + offsetof(struct xcni_ip6hdr, saddr),
				       x->quote.v6.saddr, 32) ||
		    bpf_skb_load_bytes(skb, in + sizeof(struct xcni_ip6hdr), &x->quote.v6.sport, 4))
			return -1;
		x->quote.v6.proto = proto;
	}
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ? 0 : -1;
}

/*
 * The error o (icmp_err_read's, at icmp) made n: the quote's addresses and
 * ports, the error's addresses, and the checksums over them (IPv4: the
 * quoted header's, ICMP's for every quoted word, no pseudo header, the
 * error's header's; IPv6: ICMPv6's for the quote, plain, and for the
 * error's addresses, through the pseudo-header). What is unchanged is
 * written as it was. The quoted L4 checksum, which nobody checks, is left
 * (an SCTP quote's 8 bytes hold none). 0, or -1 when a write failed.
 */
static __always_inline int icmp_err_write(struct __sk_buff *skb, int fam, __u32 icmp,
					  const struct icmp_err *o, const struct icmp_err *n)
{
	__u32 in = icmp + 8, csum_off = icmp + 2, check = in + offsetof(struct iphdr, check);
	const struct xcni_ct_key *o4 = &o->quote.v4, *n4 = &n->quote.v4;
	const __u32 *oo = (const __u32 *)o->outer, *no = (const __u32 *)n->outer;
	__sum16 new_check;
	__s64 diff;

	if (fam == XCNI_AF_INET) {
		if (bpf_l3_csum_replace(skb, check, o4->saddr, n4->saddr, 4) ||
		    bpf_l3_csum_replace(skb, check, o4->daddr, n4->daddr, 4) ||
		    bpf_skb_store_bytes(skb, in + offsetof(struct iphdr, saddr), &n4->saddr, 8, 0) ||
		    bpf_skb_store_bytes(skb, in + sizeof(struct iphdr), &n4->sport, 4, 0) ||
		    bpf_skb_load_bytes(skb, check, &new_check, 2) ||
		    bpf_l4_csum_replace(skb, csum_off, o4->saddr, n4->saddr, 4) ||
		    bpf_l4_csum_replace(skb, csum_off, o4->daddr, n4->daddr, 4) ||
		    bpf_l4_csum_replace(skb, csum_off, o->qcheck, new_check, 2) ||
		    bpf_l4_csum_replace(skb, csum_off, o4->sport, n4->sport, 2) ||
		    bpf_l4_csum_replace(skb, csum_off, o4->dport, n4->dport, 2) ||
		    bpf_l3_csum_replace(skb, IPCSUM_OFF, oo[0], no[0], 4) ||
		    bpf_l3_csum_replace(skb, IPCSUM_OFF, oo[1], no[1], 4) ||
		    bpf_skb_store_bytes(skb, IP_SADDR_OFF, no, 8, 0))
			return -1;
		return 0;
	}
	diff = bpf_csum_diff((__be32 *)o->quote.v6.saddr, 32, (__be32 *)n->quote.v6.saddr, 32, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, 0) ||
	    bpf_l4_csum_replace(skb, csum_off, o->quote.v6.sport, n->quote.v6.sport, 2) ||
	    bpf_l4_csum_replace(skb, csum_off, o->quote.v6.dport, n->quote.v6.dport, 2) ||
	    bpf_skb_store_bytes(skb, in + offsetof(struct xcni_ip6hdr, saddr), n->quote.v6.saddr,
				32, 0) ||
	    bpf_skb_store_bytes(skb, in + sizeof(struct xcni_ip6hdr), &n->quote.v6.sport, 4, 0))
		return -1;
	diff = bpf_csum_diff((__be32 *)oo, 32, (__be32 *)no, 32, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, BPF_F_PSEUDO_HDR) ||
	    bpf_skb_store_bytes(skb, IP6_SADDR_OFF, no, 32, 0))
		return -1;
	return 0;
}

/*
 * An ICMP or ICMPv6 error about a translated flow (port unreachable from a
 * UDP backend, fragmentation needed or Packet Too Big on the way, ...)
 * quotes the packet as the backend got it: the client's stack would match
 * it to no socket. The quote's destination and port become the frontend's
 * again, and the error's source too when the backend itself sent it (the
 * checksums: icmp_err_write). 1 when rewritten (or a rewrite failed
 * halfway), else 0; packet pointers are stale after the call either way.
 * One body for both families; its frames lb4_icmp_rev_nat (the IPv4
 * header's length) and lb6_icmp_rev_nat (the ICMPv6 header's offset) are
 * global, verified once on their own: inlined into from_pod's many paths
 * it took the verifier past its million instructions.
 */
static __always_inline int lb_icmp_rev_nat(struct __sk_buff *skb, int fam, __u32 icmp)
{
	struct icmp_err *n, *o = icmp_err_pair(&n);
	const struct xcni_ct_entry *e;
	const struct xcni_revnat *rn;

	if (!o || icmp_err_read(skb, fam, icmp, o))
		return 0;
	e = ct_find(fam, &o->quote);
	if (!e || !e->rev_nat || (e->flags & XCNI_CT_F_HAIRPIN))
		return 0;
	rn = bpf_map_lookup_elem(&xcni_revnat, &e->rev_nat);
	if (!rn || rn->family != fam)
		return 0;
	*n = *o;
	lb_addr_put(tuple_daddr(&n->quote, fam), rn->addr, fam);
	tuple_dport(&n->quote, fam) = rn->port;
	if (lb_addr_eq(o->outer, tuple_daddr(&o->quote, fam), fam))
		lb_addr_put(n->outer, rn->addr, fam);
	icmp_err_write(skb, fam, icmp, o, n);
	return 1;
}

__attribute__((noinline)) int lb4_icmp_rev_nat(struct __sk_buff *skb, __u32 l3_len)
{
	return lb_icmp_rev_nat(skb, XCNI_AF_INET, ETH_HLEN + l3_len);
}

__attribute__((noinline)) int lb6_icmp_rev_nat(struct __sk_buff *skb, __u32 icmp)
{
	return lb_icmp_rev_nat(skb, XCNI_AF_INET6, icmp);
}

/*
 * An error about a translated flow (CT_RELATED, f its flow; fam a constant)
 * given its frontend back, by the family's frame above. c and p4 not NULL
 * (IPv4): its headers parsed again here, the rewrite having left their
 * pointers stale either way; 0, or that parse's drop reason.
 */
static __always_inline int lb_related_rev_nat(struct __sk_buff *skb, const struct flow *f,
					      int fam, struct cursor *c, struct pkt *p4)
{
	if (fam == XCNI_AF_INET6) {
		lb6_icmp_rev_nat(skb, f->l4_off);
		return 0;
	}
	lb4_icmp_rev_nat(skb, f->l3_len);
	return p4 ? reparse4(skb, c, p4) : 0;
}

/* Pseudo header of a TCP segment of 20 bytes, for its checksum. */
struct lb_pseudo {
	__u32 saddr;
	__u32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

/*
 * The RST refusing a TCP segment (RFC 9293 3.10.7.1), either family: flags
 * its byte 13, seq and ack its sequence and acknowledgment numbers, seg the
 * bytes after its header; from dport back to sport. The sequence from its
 * ACK, or an ACK of its sequence (SYN and FIN count one each).
 */
static __always_inline void lb_rst_fill(struct tcphdr *rst, __u8 flags, __be32 seq, __be32 ack,
					__u32 seg, __be16 sport, __be16 dport)
{
	if (flags & XCNI_TCP_SYN)
		seg++;
	if (flags & XCNI_TCP_FIN)
		seg++;
	rst->source = dport;
	rst->dest = sport;
	rst->doff = 5;
	rst->rst = 1;
	if (flags & XCNI_TCP_ACK) {
		rst->seq = ack;
	} else {
		rst->ack = 1;
		rst->ack_seq = bpf_htonl(bpf_ntohl(seq) + seg);
	}
}

/*
 * An answer to the client's packet p (as the client sent it: p->tuple.daddr
 * is the frontend), written over it. mtu 0: the refusal of a connection to a
 * service without backends, a TCP RST (lb_rst_fill), or for other protocols ICMP port unreachable,
 * as kube-proxy's REJECT does. Else ICMP fragmentation needed with next-hop
 * MTU mtu (RFC 1191), whatever the protocol (lib/nodeport.h). The ICMP errors
 * quote its IP header and 8 bytes (RFC 792). Source: the frontend. 0, or -1
 * (nothing usable was written: drop it).
 */
static __always_inline int lb4_answer(struct __sk_buff *skb, const struct pkt *p, __u16 mtu)
{
	struct ethhdr eth = {};
	struct {
		struct iphdr ip;
		union {
			struct tcphdr tcp;
			struct {
				struct xcni_icmphdr icmp;
				__u8 quote[28]; /* the IP header (no options) + 8 bytes */
			};
		};
	} h = {};
	struct lb_pseudo ph = {};
	__u32 len, l4len, csum;
	int tcp = p->tuple.proto == IPPROTO_TCP && !mtu;

	__builtin_memcpy(eth.h_dest, p->eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth.h_source, p->eth->h_dest, ETH_ALEN);
	eth.h_proto = bpf_htons(ETH_P_IP);
	h.ip.version = 4;
	h.ip.ihl = 5;
	h.ip.frag_off = bpf_htons(0x4000);
	h.ip.ttl = 64;
	h.ip.saddr = p->tuple.daddr;
	h.ip.daddr = p->tuple.saddr;
	if (tcp && !p->tcp)
		return -1;
	if (tcp) {
		lb_rst_fill(&h.tcp, p->tcp_flags, p->tcp->seq, p->tcp->ack_seq,
			    bpf_ntohs(p->ip->tot_len) - p->l3_len - p->tcp->doff * 4, p->tuple.sport,
			    p->tuple.dport);
		l4len = sizeof(struct tcphdr);
		h.ip.protocol = IPPROTO_TCP;
	} else {
		if (p->l3_len != sizeof(struct iphdr) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN, h.quote, sizeof(h.quote)))
			return -1;
		h.icmp.type = 3; /* destination unreachable */
		h.icmp.code = mtu ? 4 : 3; /* fragmentation needed and DF set, port unreachable */
		h.icmp.seq = bpf_htons(mtu); /* the next-hop MTU (0: unused) */
		l4len = sizeof(struct xcni_icmphdr) + sizeof(h.quote);
		h.ip.protocol = IPPROTO_ICMP;
	}
	len = sizeof(struct iphdr) + l4len;
	h.ip.tot_len = bpf_htons(len);
	h.ip.check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)&h.ip, sizeof(h.ip), 0));
	if (tcp) {
		ph.saddr = h.ip.saddr;
		ph.daddr = h.ip.daddr;
		ph.proto = IPPROTO_TCP;
		ph.len = bpf_htons(sizeof(struct tcphdr));
		csum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
		csum = bpf_csum_diff(NULL, 0, (__be32 *)&h.tcp, sizeof(h.tcp), csum);
		h.tcp.check = csum_fold(csum);
	} else {
		csum = bpf_csum_diff(NULL, 0, (__be32 *)&h.icmp, l4len, 0);
		h.icmp.checksum = csum_fold(csum);
	}
	if (bpf_skb_change_tail(skb, ETH_HLEN + len, 0) ||
	    bpf_skb_store_bytes(skb, 0, &eth, ETH_HLEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &h, len, 0))
		return -1;
	return 0;
}

/* The refusal (lb4_answer's RST or port unreachable). */
static __always_inline int lb4_reject(struct __sk_buff *skb, const struct pkt *p)
{
	return lb4_answer(skb, p, 0);
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
 * over the client's packet (as lb4_reject for IPv4): a TCP RST (seq from its
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
		__be32 seq, ack;

		if (bpf_skb_load_bytes(skb, p->l4_off, t, sizeof(struct tcphdr)) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct xcni_ip6hdr, payload_len),
				       &plen, 2))
			return -1;
		__builtin_memcpy(&seq, t + 4, 4);
		__builtin_memcpy(&ack, t + 8, 4);
		/* The segment's length: the payload after the TCP header. */
		lb_rst_fill(&h.tcp, t[13], seq, ack,
			    bpf_ntohs(plen) + ETH_HLEN + sizeof(struct xcni_ip6hdr) - p->l4_off -
				    (t[12] >> 4) * 4,
			    p->tuple.sport, p->tuple.dport);
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

/*
 * The refusal of a connection to a Service without backends, either family
 * (fam a constant; p4 or p6 the family's view, the other NULL): the family's
 * leaf, lb4_reject or lb6_reject. 0, or -1 (drop it).
 */
static __always_inline int lb_reject(struct __sk_buff *skb, const struct pkt *p4,
				     const struct pkt6 *p6, int fam)
{
	return fam == XCNI_AF_INET ? lb4_reject(skb, p4) : lb6_reject(skb, p6);
}

#endif
