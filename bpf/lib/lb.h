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
#ifndef XCNI_LB_H
#define XCNI_LB_H

#include <stddef.h>

#include "ct.h"
#include "encap.h"
#include "l2.h"
#include "lb_pick.h"
#include "maps.h"
#include "parse.h"
#include "sctp.h"

/* What a translation did, for the rest of the program. */
struct lb_state {
	struct xcni_ct_entry *svc_ct; /* the service entry: its state follows the flow's */
	__u32 backend_id;
	__u8 ct_flags; /* XCNI_CT_F_HAIRPIN for the flow's entry, or 0 */
	__u8 translated;
	__u8 created; /* this packet made the service entry */
	__u8 svc_flags; /* the frontend's XCNI_SVC_F_* */
	struct xcni_ct_key orig; /* the tuple as the client sent it */
};

#define IP_SADDR_OFF (IP_OFF + offsetof(struct iphdr, saddr))
#define IP_DADDR_OFF (IP_OFF + offsetof(struct iphdr, daddr))

/*
 * Rewrites one address (at addr_off: IP_SADDR_OFF or IP_DADDR_OFF) and the
 * port beside it (port_off: 0 source, 2 destination, in the L4 header) with
 * incremental L3 and L4 checksum updates. A UDP checksum of 0 (none) stays 0.
 * SCTP: the CRC is updated for a new port only (sctp_nat_port; -2: a first
 * fragment, whose port cannot be rewritten).
 * Packet pointers are stale afterwards. 0 or -1.
 */
static __always_inline int lb_nat(struct __sk_buff *skb, const struct pkt *p, __u32 addr_off,
				  __u32 old_addr, __u32 new_addr, __u32 port_off, __u16 old_port,
				  __u16 new_port)
{
	__u32 l4 = ETH_HLEN + p->l3_len;
	__u32 csum_off = l4 + (p->tuple.proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
							      : offsetof(struct udphdr, check));
	__u64 mangled = p->tuple.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	/* A fragment after the first has no L4 header: its ports and checksum are
	 * in the first fragment, which was rewritten whole. SCTP's checksum
	 * covers no pseudo header: an address is the IP header's business alone,
	 * a port the CRC's (sctp.h). */
	if (p->frag_later || p->tuple.proto == IPPROTO_SCTP) {
		if (old_addr != new_addr &&
		    (bpf_l3_csum_replace(skb, IPCSUM_OFF, old_addr, new_addr, sizeof(new_addr)) ||
		     bpf_skb_store_bytes(skb, addr_off, &new_addr, sizeof(new_addr), 0)))
			return -1;
		if (p->frag_later || old_port == new_port)
			return 0;
		return sctp_nat_port(skb, l4, port_off, old_port, new_port);
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

/*
 * A packet to a frontend, from a pod (or from outside: outside LB_OUTSIDE, ep_id 0,
 * refused first when lb_outside_refused says so):
 * the flow's backend (the one it got before,
 * or a new pick), DNAT to it, and for hairpin SNAT to loopback_ip. Returns
 * 0 when the packet is for no frontend, 1 when it was translated (p->tuple
 * the translated tuple, p->rev_nat set, packet pointers stale: parse again;
 * told by the return value, which the verifier follows, not by st),
 * XCNI_DROP_NO_BACKEND when the service has none (nothing written yet), or
 * another drop reason (packet pointers stale).
 */
static __always_inline int lb_translate(struct __sk_buff *skb, struct pkt *p, __u32 ep_id,
					__u32 loopback_ip, struct lb_state *st, __u32 outside)
{
	const struct xcni_svc *svc = lb_frontend(&p->tuple, outside);
	const struct xcni_backend *be;
	struct xcni_affinity_key ak = { .family = XCNI_AF_INET };
	struct xcni_ct_entry *e, ne = {};
	__u64 now = bpf_ktime_get_ns();
	__u32 id = 0, baddr;
	int ret;

	if (!svc)
		return 0;
	st->svc_flags = svc->flags;
	/* From outside: judged before anything is written for it. */
	if (outside) {
		ret = lb_outside_refused(svc, outside_client_ok(ipcache_lookup(p->tuple.saddr),
								&p->tuple.saddr),
					 outside);
		if (ret) {
			p->rev_nat = svc->rev_nat; /* the drop's event names the Service */
			return ret;
		}
	}
	/* ClientIP affinity: the client is the packet's source. */
	__builtin_memcpy(ak.client, &p->tuple.saddr, 4);
	e = bpf_map_lookup_elem(&xcni_ct, &p->tuple);
	if (e && (e->flags & XCNI_CT_F_SVC) && ct_alive(e, now, p->tuple.proto) &&
	    !((p->tuple.proto == IPPROTO_TCP || p->tuple.proto == IPPROTO_SCTP) &&
	      e->state == XCNI_CT_CLOSED && (p->tcp_flags & XCNI_TCP_SYN)) &&
	    bpf_map_lookup_elem(&xcni_backend, &e->backend_id)) {
		/* The flow's backend, even terminating: open flows drain. */
		id = e->backend_id;
		e->last_ns = now;
		e->pkts_orig++;
		e->bytes_orig += p->len;
	} else if (p->frag_later) {
		/* A later fragment follows its first one's translation, never opens
		 * one: untranslated, it finds no flow in ct_track and is dropped. */
		return 0;
	} else {
		id = lb_select(svc, &p->tuple, &ak, now);
		if (!id) {
			p->rev_nat = svc->rev_nat; /* the refusal's event names the Service */
			return XCNI_DROP_NO_BACKEND;
		}
		ne.created_ns = now;
		ne.last_ns = now;
		ne.pkts_orig = 1;
		ne.bytes_orig = p->len;
		ne.ep_id = ep_id;
		ne.state = XCNI_CT_NEW;
		ne.flags = XCNI_CT_F_SVC;
		ne.backend_id = id;
		ne.rev_nat = svc->rev_nat;
		ct_insert(&p->tuple, &ne, 0);
		e = bpf_map_lookup_elem(&xcni_ct, &p->tuple);
		st->created = 1;
	}
	st->orig = p->tuple;
	be = bpf_map_lookup_elem(&xcni_backend, &id);
	if (!be || be->family != XCNI_AF_INET)
		return XCNI_DROP_NO_BACKEND;
	st->svc_ct = e;
	st->backend_id = id;
	st->translated = 1;
	__builtin_memcpy(&baddr, be->addr, 4);
	ret = lb_nat(skb, p, IP_DADDR_OFF, p->tuple.daddr, baddr, 2, p->tuple.dport, be->port);
	if (ret)
		return ret == -2 ? XCNI_DROP_FRAGMENT : XCNI_DROP_REDIRECT;
	/* Hairpin: the pod is its own backend. Never from outside: a client
	 * there with the backend's address is a forgery or a coincidence, not
	 * the backend, and keeps its source (lb6_translate's rule too). */
	if (!outside && baddr == p->tuple.saddr) {
		if (lb_nat(skb, p, IP_SADDR_OFF, p->tuple.saddr, loopback_ip, 0, 0, 0))
			return XCNI_DROP_REDIRECT;
		p->tuple.saddr = loopback_ip;
		st->ct_flags = XCNI_CT_F_HAIRPIN;
	}
	p->tuple.daddr = baddr;
	p->tuple.dport = be->port;
	p->rev_nat = svc->rev_nat;
	p->backend_id = id;
	return 1;
}

/* The translated packet was refused (policy, ...): a new flow leaves no entry behind. */
static __always_inline void lb_forget(const struct lb_state *st)
{
	if (st->created)
		ct_delete(&st->orig);
}

/* After ct_track on the translated tuple: the service entry lives as long as the flow. */
static __always_inline void lb_follow(const struct lb_state *st, const struct pkt *p)
{
	if (st->svc_ct && p->ct_state)
		st->svc_ct->state = p->ct_state;
}

/*
 * A reply of a translated flow (p->rev_nat from its conntrack entry): source
 * back to the frontend; for hairpin, destination back to the client (which
 * is the backend). 0, or -1 when the frontend is gone (the reply is passed
 * on untranslated; the client drops it). Packet pointers stale afterwards.
 */
static __always_inline int lb_rev_nat(struct __sk_buff *skb, struct pkt *p, __u8 ct_flags)
{
	const struct xcni_revnat *rn = bpf_map_lookup_elem(&xcni_revnat, &p->rev_nat);
	__u32 addr, client = p->tuple.saddr;

	if (!rn || rn->family != XCNI_AF_INET)
		return -1;
	__builtin_memcpy(&addr, rn->addr, 4);
	if (lb_nat(skb, p, IP_SADDR_OFF, p->tuple.saddr, addr, 0, p->tuple.sport, rn->port))
		return -1;
	if ((ct_flags & XCNI_CT_F_HAIRPIN) &&
	    lb_nat(skb, p, IP_DADDR_OFF, p->tuple.daddr, client, 2, 0, 0))
		return -1;
	p->tuple.saddr = addr;
	p->tuple.sport = rn->port;
	if (ct_flags & XCNI_CT_F_HAIRPIN)
		p->tuple.daddr = client;
	return 0;
}

/*
 * NodePort SNAT to a remote backend: the source port this node gives the
 * flow p (translated: client -> backend). The client's own port when no
 * other live flow holds node_ip:port -> backend:port, else one of a few
 * ports from the flow's hash in 32768-60999 (never the same for every
 * client that collides). 0, or -1 when all are taken.
 */
static __always_inline int lb_snat_port(const struct pkt *p, __u32 node_ip, __u16 *out)
{
	struct xcni_ct_key k = p->tuple;
	__u32 h = xcni_lb_hash(p->tuple.saddr, p->tuple.daddr, p->tuple.sport, p->tuple.dport,
			       p->tuple.proto);
	__u64 now = bpf_ktime_get_ns();

	k.saddr = node_ip;
	for (int i = 0; i < 4; i++) {
		const struct xcni_ct_entry *e;

		if (i)
			k.sport = bpf_htons(32768 + (h + i * 7919) % 28232);
		e = bpf_map_lookup_elem(&xcni_ct, &k);
		if (!e || !ct_alive(e, now, k.proto) ||
		    (e->nat_addr == p->tuple.saddr && e->nat_port == p->tuple.sport)) {
			*out = k.sport;
			return 0;
		}
	}
	return -1;
}

/*
 * The reply of a NodePort flow this node SNATed (XCNI_CT_F_SNAT; p: the
 * decapsulated reply, backend -> this node, p->rev_nat set by ct_track;
 * client:cport from the flow's entry): frontend -> client again. 0 or -1.
 * Packet pointers stale afterwards.
 */
static __always_inline int lb_snat_rev(struct __sk_buff *skb, struct pkt *p, __u32 client,
				       __u16 cport)
{
	if (lb_rev_nat(skb, p, 0) ||
	    lb_nat(skb, p, IP_DADDR_OFF, p->tuple.daddr, client, 2, p->tuple.dport, cport))
		return -1;
	p->tuple.daddr = client;
	p->tuple.dport = cport;
	return 0;
}

#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

/*
 * An ICMP error about a translated flow (port unreachable from a UDP
 * backend, fragmentation needed on the way, ...) quotes the packet as the
 * backend got it: the client's stack would match it to no socket. The quote
 * gets the frontend back as destination (its IP checksum, and the ICMP
 * checksum over all of it, updated; the quoted L4 checksum, which nobody
 * checks, is left; an SCTP quote's 8 bytes hold no checksum at all), and so does the outer source when the backend itself
 * sent the error. l3_len: the outer IPv4 header's length. 1 when rewritten,
 * else 0; packet pointers are stale after the call either way.
 *
 * A global function, verified once on its own: inlined into from_pod's
 * many paths it took the verifier past its million instructions. So it reads
 * the packet with bpf_skb_load_bytes, not through packet pointers.
 */
/* An ICMP error's header and the start of its quote (an IPv4 header without options). */
struct lb_icmp_quote {
	struct xcni_icmphdr icmp;
	struct iphdr in;
	__be16 ports[2];
};

/*
 * The ICMP error at icmp into q, and the tuple it quotes into k: 0 for an
 * error (unreachable, time exceeded, parameter problem) quoting TCP, UDP or
 * SCTP with the ports, else -1.
 */
static __always_inline int lb_icmp_quoted(struct __sk_buff *skb, __u32 icmp,
					  struct lb_icmp_quote *q, struct xcni_ct_key *k)
{
	if (bpf_skb_load_bytes(skb, icmp, q, sizeof(*q)))
		return -1;
	if ((q->icmp.type != ICMP_DEST_UNREACH && q->icmp.type != ICMP_TIME_EXCEEDED &&
	     q->icmp.type != ICMP_PARAMETERPROB) ||
	    q->in.ihl != 5 || (q->in.protocol != IPPROTO_TCP && q->in.protocol != IPPROTO_UDP &&
			       q->in.protocol != IPPROTO_SCTP))
		return -1;
	k->saddr = q->in.saddr;
	k->daddr = q->in.daddr;
	k->sport = q->ports[0];
	k->dport = q->ports[1];
	k->proto = q->in.protocol;
	return 0;
}

__attribute__((noinline)) int lb_icmp_rev_nat(struct __sk_buff *skb, __u32 l3_len)
{
	struct lb_icmp_quote q;
	struct xcni_ct_key k = {};
	const struct xcni_ct_entry *e;
	const struct xcni_revnat *rn;
	__u32 icmp = ETH_HLEN + l3_len, quote = icmp + sizeof(struct xcni_icmphdr);
	__u32 vip, saddr;
	__u16 new_csum;

	if (bpf_skb_load_bytes(skb, IP_SADDR_OFF, &saddr, 4) ||
	    lb_icmp_quoted(skb, icmp, &q, &k))
		return 0;
	e = bpf_map_lookup_elem(&xcni_ct, &k);
	if (!e || !e->rev_nat || (e->flags & XCNI_CT_F_HAIRPIN))
		return 0;
	rn = bpf_map_lookup_elem(&xcni_revnat, &e->rev_nat);
	if (!rn || rn->family != XCNI_AF_INET)
		return 0;
	__builtin_memcpy(&vip, rn->addr, 4);
	/* The quoted header's checksum first, then the ICMP checksum for every
	 * quoted byte that changed (no pseudo header in ICMP). */
	if (bpf_l3_csum_replace(skb, quote + offsetof(struct iphdr, check), q.in.daddr, vip, 4) ||
	    bpf_skb_store_bytes(skb, quote + offsetof(struct iphdr, daddr), &vip, 4, 0) ||
	    bpf_skb_store_bytes(skb, quote + sizeof(struct iphdr) + 2, &rn->port, 2, 0) ||
	    bpf_skb_load_bytes(skb, quote + offsetof(struct iphdr, check), &new_csum, 2) ||
	    bpf_l4_csum_replace(skb, icmp + 2, q.in.daddr, vip, 4) ||
	    bpf_l4_csum_replace(skb, icmp + 2, q.in.check, new_csum, 2) ||
	    bpf_l4_csum_replace(skb, icmp + 2, q.ports[1], rn->port, 2))
		return 1;
	/* Sent by the backend itself: from the frontend, as the client knows it. */
	if (saddr == q.in.daddr) {
		bpf_l3_csum_replace(skb, IPCSUM_OFF, saddr, vip, 4);
		bpf_skb_store_bytes(skb, IP_SADDR_OFF, &vip, 4, 0);
	}
	return 1;
}

/*
 * An ICMP error about a NodePort flow this node SNATed to a remote backend
 * (XCNI_CT_F_SNAT), decapsulated from the backend's node: it quotes the
 * packet as the backend got it (this node:nat port -> backend:port) and is
 * addressed to this node, whose stack knows no such flow. So the client
 * never learns, say, that its packets are too big (fragmentation needed
 * from the backend's side breaks its path MTU discovery). Translated back:
 * the quote becomes client:port -> frontend:port as the client sent it
 * (its IP checksum, and the ICMP checksum for every changed word), the
 * error goes to the client from the frontend (from the client's side the
 * path ends there). l3_len: the IPv4 header's length. 1 when rewritten (to
 * be sent out the underlay), 0 when it is no such error (nothing written),
 * -1 when a rewrite failed halfway (drop it).
 *
 * A global function, verified on its own, reading with bpf_skb_load_bytes
 * (as lb_icmp_rev_nat).
 */
__attribute__((noinline)) int lb_icmp_snat_rev(struct __sk_buff *skb, __u32 l3_len)
{
	struct lb_icmp_quote q;
	struct xcni_ct_key k = {};
	const struct xcni_ct_entry *e;
	const struct xcni_revnat *rn;
	__u32 icmp = ETH_HLEN + l3_len, quote = icmp + sizeof(struct xcni_icmphdr);
	__u32 csum_off = icmp + offsetof(struct xcni_icmphdr, checksum);
	__u32 qcheck = quote + offsetof(struct iphdr, check);
	__u32 vip, saddr, daddr, client;
	__u16 cport, new_check;

	if (!skb || l3_len < sizeof(struct iphdr) || l3_len > 60 ||
	    bpf_skb_load_bytes(skb, IP_SADDR_OFF, &saddr, 4) ||
	    bpf_skb_load_bytes(skb, IP_DADDR_OFF, &daddr, 4) ||
	    lb_icmp_quoted(skb, icmp, &q, &k) || q.in.saddr != daddr)
		return 0;
	e = bpf_map_lookup_elem(&xcni_ct, &k);
	if (!e || !(e->flags & XCNI_CT_F_SNAT))
		return 0;
	client = e->nat_addr;
	cport = e->nat_port;
	rn = bpf_map_lookup_elem(&xcni_revnat, &e->rev_nat);
	if (!rn || rn->family != XCNI_AF_INET)
		return 0;
	__builtin_memcpy(&vip, rn->addr, 4);
	/* The quote: source back to the client, destination to the frontend. */
	if (bpf_l3_csum_replace(skb, qcheck, q.in.saddr, client, 4) ||
	    bpf_l3_csum_replace(skb, qcheck, q.in.daddr, vip, 4) ||
	    bpf_skb_store_bytes(skb, quote + offsetof(struct iphdr, saddr), &client, 4, 0) ||
	    bpf_skb_store_bytes(skb, quote + offsetof(struct iphdr, daddr), &vip, 4, 0) ||
	    bpf_skb_store_bytes(skb, quote + sizeof(struct iphdr), &cport, 2, 0) ||
	    bpf_skb_store_bytes(skb, quote + sizeof(struct iphdr) + 2, &rn->port, 2, 0) ||
	    bpf_skb_load_bytes(skb, qcheck, &new_check, 2))
		return -1;
	/* ICMP's checksum has no pseudo header: the quote's words alone. */
	if (bpf_l4_csum_replace(skb, csum_off, q.in.saddr, client, 4) ||
	    bpf_l4_csum_replace(skb, csum_off, q.in.daddr, vip, 4) ||
	    bpf_l4_csum_replace(skb, csum_off, q.in.check, new_check, 2) ||
	    bpf_l4_csum_replace(skb, csum_off, q.ports[0], cport, 2) ||
	    bpf_l4_csum_replace(skb, csum_off, q.ports[1], rn->port, 2))
		return -1;
	/* The error itself: to the client, from the frontend. */
	if (bpf_l3_csum_replace(skb, IPCSUM_OFF, daddr, client, 4) ||
	    bpf_l3_csum_replace(skb, IPCSUM_OFF, saddr, vip, 4) ||
	    bpf_skb_store_bytes(skb, IP_DADDR_OFF, &client, 4, 0) ||
	    bpf_skb_store_bytes(skb, IP_SADDR_OFF, &vip, 4, 0))
		return -1;
	return 1;
}

/*
 * An ICMP error from outside about a reply this node sent for a NodePort (or
 * externalIP) flow: a router between this node and the client says
 * fragmentation needed, host unreachable, ... quoting frontend:port ->
 * client:port, a flow only the backend has a socket for. Translated for the
 * backend, as the backend sent the reply: the quote's source becomes the
 * backend's address and port; with a remote backend SNATed to this node
 * (the service entry's nat_port) its destination becomes this node and the
 * port it gave the flow, and the error comes from this node (from the
 * backend's side the path ends here, and the backend's node takes inner
 * sources of this node only); with a local backend the client stays, and
 * so does the error's source; a DSR flow (the backend's node answered the
 * client itself, from this node's frontend, so the error comes here) keeps
 * the client, and the error comes from this node, as with SNAT. The error
 * goes to the backend (the caller delivers it: into the pod, or through
 * Geneve). Checksums: the quote's IP header's, the error's IP header's, and
 * the ICMP checksum for every quoted word that changed (the quoted L4
 * checksum is left, as lb_icmp_rev_nat leaves it).
 * l3_len: the outer IPv4 header's length. 1 when rewritten, 0 when it is no
 * such error (nothing written), -1 when a rewrite failed halfway (drop it).
 *
 * Inlined into from_overlay's from_outside_icmp, a global function of its
 * own (a third frame would take the call chain past the stack's 512 bytes);
 * it reads with bpf_skb_load_bytes, as lb_icmp_rev_nat.
 */
static __always_inline int lb_icmp_np_rev(struct __sk_buff *skb, __u32 l3_len, __u32 self)
{
	struct lb_icmp_quote q;
	struct xcni_ct_key k = {}, sk, fk = {};
	const struct xcni_ct_entry *e, *fe;
	const struct xcni_backend *be;
	__u32 icmp = ETH_HLEN + l3_len, quote = icmp + sizeof(struct xcni_icmphdr);
	__u32 csum_off = icmp + offsetof(struct xcni_icmphdr, checksum);
	__u32 qcheck = quote + offsetof(struct iphdr, check);
	__u32 saddr, daddr, baddr, qdst, osrc;
	__u16 bport, qdport, new_check;

	if (!skb || l3_len < sizeof(struct iphdr) || l3_len > 60 ||
	    bpf_skb_load_bytes(skb, IP_SADDR_OFF, &saddr, 4) ||
	    bpf_skb_load_bytes(skb, IP_DADDR_OFF, &daddr, 4) ||
	    lb_icmp_quoted(skb, icmp, &q, &k) || q.in.saddr != daddr)
		return 0;
	/* The service entry: the flow as the client sent it, client -> frontend. */
	ct_reverse(&k, &sk);
	e = bpf_map_lookup_elem(&xcni_ct, &sk);
	if (!e || !(e->flags & XCNI_CT_F_SVC))
		return 0;
	be = bpf_map_lookup_elem(&xcni_backend, &e->backend_id);
	if (!be || be->family != XCNI_AF_INET)
		return 0;
	__builtin_memcpy(&baddr, be->addr, 4);
	bport = be->port;
	/* The flow's own entry, as the backend knows the flow. */
	fk.daddr = baddr;
	fk.dport = bport;
	fk.proto = k.proto;
	if (e->nat_port) {
		fk.saddr = self;
		fk.sport = e->nat_port;
	} else {
		fk.saddr = q.in.daddr;
		fk.sport = q.ports[1];
	}
	fe = bpf_map_lookup_elem(&xcni_ct, &fk);
	if (!fe || !(fe->flags & XCNI_CT_F_NODEPORT))
		return 0;
	if (e->nat_port && (!(fe->flags & XCNI_CT_F_SNAT) || fe->nat_addr != q.in.daddr ||
			    fe->nat_port != q.ports[1]))
		return 0;
	qdst = fk.saddr;
	qdport = fk.sport;
	/* From this node when it SNATed the flow, or sent it DSR to another node. */
	osrc = e->nat_port || (fe->flags & XCNI_CT_F_DSR) ? self : saddr;
	/* The quote: from the backend, to the client as the backend sees it. */
	if (bpf_l3_csum_replace(skb, qcheck, q.in.saddr, baddr, 4) ||
	    bpf_l3_csum_replace(skb, qcheck, q.in.daddr, qdst, 4) ||
	    bpf_skb_store_bytes(skb, quote + offsetof(struct iphdr, saddr), &baddr, 4, 0) ||
	    bpf_skb_store_bytes(skb, quote + offsetof(struct iphdr, daddr), &qdst, 4, 0) ||
	    bpf_skb_store_bytes(skb, quote + sizeof(struct iphdr), &bport, 2, 0) ||
	    bpf_skb_store_bytes(skb, quote + sizeof(struct iphdr) + 2, &qdport, 2, 0) ||
	    bpf_skb_load_bytes(skb, qcheck, &new_check, 2))
		return -1;
	/* ICMP's checksum has no pseudo header: the quote's words alone. */
	if (bpf_l4_csum_replace(skb, csum_off, q.in.saddr, baddr, 4) ||
	    bpf_l4_csum_replace(skb, csum_off, q.in.daddr, qdst, 4) ||
	    bpf_l4_csum_replace(skb, csum_off, q.in.check, new_check, 2) ||
	    bpf_l4_csum_replace(skb, csum_off, q.ports[0], bport, 2) ||
	    bpf_l4_csum_replace(skb, csum_off, q.ports[1], qdport, 2))
		return -1;
	/* The error itself: to the backend (from this node when it SNATed the flow). */
	if (bpf_l3_csum_replace(skb, IPCSUM_OFF, daddr, baddr, 4) ||
	    bpf_l3_csum_replace(skb, IPCSUM_OFF, saddr, osrc, 4) ||
	    bpf_skb_store_bytes(skb, IP_DADDR_OFF, &baddr, 4, 0) ||
	    bpf_skb_store_bytes(skb, IP_SADDR_OFF, &osrc, 4, 0))
		return -1;
	return 1;
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
 * An answer to the client's packet p (as the client sent it: p->tuple.daddr
 * is the frontend), written over it. mtu 0: the refusal of a connection to a
 * service without backends, a TCP RST (RFC 9293 3.10.7.1: seq from its ACK,
 * or an ACK of its sequence), or for other protocols ICMP port unreachable,
 * as kube-proxy's REJECT does. Else ICMP fragmentation needed with next-hop
 * MTU mtu (RFC 1191), whatever the protocol (lib/ptb.h). The ICMP errors
 * quote its IP header and 8 bytes (RFC 792). Source: the frontend. 0, or -1
 * (nothing usable was written: drop it).
 */
static __always_inline int lb_answer(struct __sk_buff *skb, const struct pkt *p, __u16 mtu)
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
		__u8 in_flags = p->tcp_flags;
		__u32 seg = bpf_ntohs(p->ip->tot_len) - p->l3_len - p->tcp->doff * 4;

		if (in_flags & XCNI_TCP_SYN)
			seg++;
		if (in_flags & XCNI_TCP_FIN)
			seg++;
		h.tcp.source = p->tuple.dport;
		h.tcp.dest = p->tuple.sport;
		h.tcp.doff = 5;
		h.tcp.rst = 1;
		if (in_flags & XCNI_TCP_ACK) {
			h.tcp.seq = p->tcp->ack_seq;
		} else {
			h.tcp.ack = 1;
			h.tcp.ack_seq = bpf_htonl(bpf_ntohl(p->tcp->seq) + seg);
		}
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

/* The refusal (lb_answer's RST or port unreachable). */
static __always_inline int lb_reject(struct __sk_buff *skb, const struct pkt *p)
{
	return lb_answer(skb, p, 0);
}

#endif
