/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMPv6 errors from outside about an IPv6 NodePort (or externalIP) flow's
 * reply (issue 13's lb_icmp_np_rev for IPv6): a router between this node and
 * the client sends Packet Too Big, destination unreachable, time exceeded
 * or parameter problem about a reply this node sent, quoting
 * [frontend]:port -> [client]:port, a flow only the backend has a socket
 * for. Without this the backend never learns that its replies are too big
 * for the client's path: IPv6 routers never fragment, so path MTU discovery
 * is the only way, and large replies to a NodePort client were black-holed.
 *
 * Translated for the backend, as the backend sent the reply (after the
 * nodeport6.h cases):
 *  - a backend on this node (DNAT only; lb6_rev_nat made its replies the
 *    frontend's): the quote's source becomes the backend's address and port,
 *    the client stays; the error goes to the backend from the router that
 *    sent it;
 *  - a backend on another node, SNATed (the service entry's nat_port, the
 *    client in xcni_snat6 under the flow's tuple): the quote becomes
 *    [backend]:port -> [this node]:nat port, and the error comes from this
 *    node (from the backend's side the path ends here, and the backend's
 *    node takes inner sources of this node only);
 *  - DSR (lib/dsr6.h): the backend's node answered the client from this
 *    node's frontend, so an error about that reply comes to the frontend,
 *    here, not to the backend's node; the flow's entry here (client ->
 *    backend, XCNI_CT_F_DSR) identifies it: the quote becomes [backend]:port
 *    -> [client]:port, and the error comes from this node, as with SNAT.
 * The caller delivers it: into the pod, or through Geneve to its node.
 *
 * Checksums: IPv6 has no header checksum; the ICMPv6 checksum follows the
 * quote's addresses and ports (plain) and the error's own addresses
 * (pseudo-header). The quoted L4 checksum is left, as lb_icmp_np_rev and
 * nodeport6_icmp leave it: nobody checks a quote's.
 *
 * Needs lib/nodeport6.h (xcni_snat6, nodeport6_self) before it.
 */
#ifndef XCNI_ICMP6NP_H
#define XCNI_ICMP6NP_H

#include "ipv6.h"
#include "lb6.h"
#include "nodeport6.h"

/*
 * The ICMPv6 error of an skb whose IPv6 header has no extension headers
 * (ICMPv6 right after it, the caller's check) about a reply this node sent
 * for an IPv6 NodePort flow: rewritten for the backend as above. 1 when
 * rewritten, 0 when it is no such error (nothing written), -1 when a rewrite
 * failed halfway (drop it). A global function with a frame of its own
 * (from_overlay's and from_outside_icmp6's are under it); it reads with
 * bpf_skb_load_bytes, not through packet pointers.
 */
__attribute__((noinline)) int lb6_icmp_np_rev(struct __sk_buff *skb)
{
	struct xcni_ct6_key k = {}, fk = {};
	const struct xcni_ct_entry *e, *fe;
	const struct xcni_backend *be;
	const struct xcni_snat6 *sn;
	const __u8 *self = NULL;
	struct np6_tmp *t;
	__u32 icmp = ETH_HLEN + sizeof(struct xcni_ip6hdr), q = icmp + 8, csum_off = icmp + 2;
	__u32 zero = 0;
	/* Words: in6_eq and bpf_csum_diff read them 4 bytes at a time. */
	__u32 a[8], na[8], nq[8];
	__be16 ports[2], np[2];
	__s64 diff;

	/* The error's addresses, and the quote: [frontend]:port -> [client]:port. */
	if (icmp6_err_quote(skb, icmp, a, 32, &k, ports))
		return 0;
	/* About what this node sent: the error comes to the quote's source. */
	if (!in6_eq(k.saddr, (const __u8 *)(a + 4)))
		return 0;
	k.sport = ports[0];
	k.dport = ports[1];
	/* The service entry: the flow as the client sent it, client -> frontend. */
	ct6_reverse(&k, &fk);
	e = bpf_map_lookup_elem(&xcni_ct6, &fk);
	if (!e || !(e->flags & XCNI_CT_F_SVC))
		return 0;
	be = bpf_map_lookup_elem(&xcni_backend, &e->backend_id);
	if (!be || be->family != XCNI_AF_INET6 || !(t = bpf_map_lookup_elem(&xcni_np6_tmp, &zero)))
		return 0;
	/* The flow's own entry, as the backend knows the flow. */
	__builtin_memset(&fk, 0, sizeof(fk));
	__builtin_memcpy(fk.daddr, be->addr, 16);
	fk.dport = be->port;
	fk.proto = k.proto;
	if (e->nat_port) {
		self = nodeport6_self(k.saddr, t);
		if (!self)
			return 0;
		__builtin_memcpy(fk.saddr, self, 16);
		fk.sport = e->nat_port;
	} else {
		__builtin_memcpy(fk.saddr, k.daddr, 16);
		fk.sport = k.dport;
	}
	fe = bpf_map_lookup_elem(&xcni_ct6, &fk);
	if (!fe || !(fe->flags & XCNI_CT_F_NODEPORT))
		return 0;
	if (e->nat_port) {
		/* SNATed: the flow's client is the quote's. */
		sn = bpf_map_lookup_elem(&xcni_snat6, &fk);
		if (!(fe->flags & XCNI_CT_F_SNAT) || !sn || !in6_eq(sn->client, k.daddr) ||
		    sn->cport != k.dport)
			return 0;
	} else if (fe->flags & XCNI_CT_F_DSR) {
		self = nodeport6_self(k.saddr, t);
		if (!self)
			return 0;
	}
	/* The quote: from the backend, to the client as the backend sees it. */
	__builtin_memcpy(nq, be->addr, 16);
	__builtin_memcpy(nq + 4, fk.saddr, 16);
	np[0] = fk.dport;
	np[1] = fk.sport;
	diff = bpf_csum_diff((__be32 *)k.saddr, 32, nq, 32, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, 0) ||
	    bpf_l4_csum_replace(skb, csum_off, ports[0], np[0], 2) ||
	    bpf_l4_csum_replace(skb, csum_off, ports[1], np[1], 2) ||
	    bpf_skb_store_bytes(skb, q + offsetof(struct xcni_ip6hdr, saddr), nq, 32, 0) ||
	    bpf_skb_store_bytes(skb, q + sizeof(struct xcni_ip6hdr), np, 4, 0))
		return -1;
	/* The error itself: to the backend, from this node when it SNATed the
	 * flow or the flow is DSR, else from the router that sent it. */
	__builtin_memcpy(na, self ? self : (const __u8 *)a, 16);
	__builtin_memcpy(na + 4, be->addr, 16);
	diff = bpf_csum_diff(a, 32, na, 32, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, BPF_F_PSEUDO_HDR) ||
	    bpf_skb_store_bytes(skb, IP6_SADDR_OFF, na, 32, 0))
		return -1;
	return 1;
}

#endif
