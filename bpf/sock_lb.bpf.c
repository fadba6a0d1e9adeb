// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket-level load balancing: cgroup sock_addr programs on the cgroup xcnid
 * is given (--cgroup-root). A socket of a process in it that connects (TCP)
 * or sends (unconnected UDP) to a Service frontend is given a backend there
 * and then, chosen as the per-packet translation chooses
 * (lib/lb.h): its packets carry the backend from the first one, so
 * from_pod finds no frontend to translate and judges policy on the backend
 * as for any pod-to-pod flow, and an established flow costs nothing per
 * packet. What was translated is recorded per socket (xcni_sock_rn) so the
 * application keeps seeing the frontend: as the peer (getpeername4) and as
 * the source of UDP replies (recvmsg4).
 *
 * Without backend the connect (or sendmsg) fails with ECONNREFUSED, as
 * kube-proxy's REJECT makes it fail, but without a packet sent; counted as
 * drop-no-backend (from-pod), like the per-packet path's refusals; but
 * another node's NodePort under externalTrafficPolicy Local with none is
 * left to the per-packet path, which drops (sock_leave_to_packets).
 *
 * Affinity (ClientIP) is keyed by the socket's network namespace, the
 * pod, which at connect time has no source address yet; Maglev hashes the
 * socket cookie for the same reason (a socket keeps its backend, sockets
 * spread). Per-packet translation keys both by the client's address.
 *
 * IPv6 sockets (connect6, sendmsg6, recvmsg6, getpeername6) the same way,
 * their translations in xcni_sock_rn6 (16-byte addresses).
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>

#include "lib/exit.h"
#include "lib/lb.h"
#include "lib/maps.h"

/*
 * No backend for a socket at another node's NodePort under
 * externalTrafficPolicy Local: not refused here but left untranslated, so its
 * packets meet the per-packet translation, which drops them as that node
 * drops an outside client's (lb_pod_no_backend): the connect times out as
 * upstream's does, it is not refused.
 */
static __always_inline int sock_leave_to_packets(const struct xcni_svc *svc)
{
	return lb_pod_no_backend(svc->flags) == XCNI_DROP_NO_LOCAL_BACKEND;
}

/*
 * The destination in ctx, if it is a frontend, becomes a backend: 1 (go on:
 * translated or not a frontend), or 0 with ECONNREFUSED (no backend).
 */
static __always_inline int sock_translate(struct bpf_sock_addr *ctx)
{
	struct xcni_affinity_key ak = { .family = XCNI_AF_NETNS };
	const struct xcni_backend *be;
	const struct xcni_svc *svc;
	struct xcni_sock_rn_key rk = {};
	struct xcni_sock_rn rn = {};
	struct xcni_ct_key t = {};
	__u64 cookie, netns;
	__u32 id;

	t.proto = (__u8)ctx->protocol;
	t.daddr = ctx->user_ip4;
	t.dport = (__u16)ctx->user_port;
	svc = lb_frontend(&t, 0);
	if (!svc)
		return 1;
	cookie = bpf_get_socket_cookie(ctx);
	t.saddr = (__u32)cookie ^ (__u32)(cookie >> 32);
	netns = bpf_get_netns_cookie(ctx);
	__builtin_memcpy(ak.client, &netns, sizeof(netns));
	id = lb_select(svc, &t, &ak, bpf_ktime_get_ns());
	be = id ? bpf_map_lookup_elem(&xcni_backend, &id) : NULL;
	if (!be && sock_leave_to_packets(svc))
		return 1;
	if (!be || be->family != XCNI_AF_INET) {
		/* Counted with the per-packet refusals: no packet, so no bytes. */
		count(XCNI_DROP_NO_BACKEND, XCNI_DIR_FROM_POD, 0);
		bpf_set_retval(-ECONNREFUSED);
		return 0;
	}
	rk.cookie = cookie;
	__builtin_memcpy(&rk.addr, be->addr, 4);
	rk.port = be->port;
	rn.addr = t.daddr;
	rn.port = t.dport;
	rn.rev_nat = svc->rev_nat;
	/* Without its record the socket would see the backend: refuse instead. */
	if (bpf_map_update_elem(&xcni_sock_rn, &rk, &rn, BPF_ANY)) {
		bpf_set_retval(-ENOMEM);
		return 0;
	}
	ctx->user_ip4 = rk.addr;
	ctx->user_port = rk.port;
	return 1;
}

/* A backend the socket was given shown as its frontend again (if that is still one). */
static __always_inline void sock_rev_nat(struct bpf_sock_addr *ctx)
{
	struct xcni_sock_rn_key rk = {};
	const struct xcni_revnat *fe;
	struct xcni_sock_rn *rn;

	rk.cookie = bpf_get_socket_cookie(ctx);
	rk.addr = ctx->user_ip4;
	rk.port = (__u16)ctx->user_port;
	rn = bpf_map_lookup_elem(&xcni_sock_rn, &rk);
	if (!rn)
		return;
	fe = bpf_map_lookup_elem(&xcni_revnat, &rn->rev_nat);
	if (!fe || fe->family != XCNI_AF_INET || __builtin_memcmp(fe->addr, &rn->addr, 4) ||
	    fe->port != rn->port) {
		/* The frontend is gone (or its index reused): the backend is the truth. */
		bpf_map_delete_elem(&xcni_sock_rn, &rk);
		return;
	}
	ctx->user_ip4 = rn->addr;
	ctx->user_port = rn->port;
}

/*
 * TCP only. A connected UDP socket given a backend at connect keeps sending
 * to it after it is gone (a UDP client never reconnects by itself; only a
 * socket destroyed from outside would learn), so connected UDP is left to
 * the per-packet translation, which moves such a flow to a live backend
 * (its entries flushed when the backend leaves). lab-svc-e2e-kpr's UDP
 * server recreated under one client socket fails the other way.
 */
SEC("cgroup/connect4")
int sock4_connect(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 1;
	return sock_translate(ctx);
}

SEC("cgroup/sendmsg4")
int sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock_translate(ctx);
}

SEC("cgroup/recvmsg4")
int sock4_recvmsg(struct bpf_sock_addr *ctx)
{
	sock_rev_nat(ctx);
	return 1;
}

SEC("cgroup/getpeername4")
int sock4_getpeername(struct bpf_sock_addr *ctx)
{
	sock_rev_nat(ctx);
	return 1;
}

/* ---- IPv6: the same for IPv6 sockets, in xcni_sock_rn6 ---------- */

/* The IPv6 frontend of ctx's destination (a pod is inside: INT where two scopes), or NULL. */
static __always_inline const struct xcni_svc *sock6_frontend(const struct bpf_sock_addr *ctx,
							     __u8 proto, __u8 *addr)
{
	struct xcni_svc_key k = {};
	const struct xcni_svc *svc, *in;
	__u32 w[4];

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return NULL;
	/* user_ip6 is read a 32-bit word at a time (the context's rule). */
	w[0] = ctx->user_ip6[0];
	w[1] = ctx->user_ip6[1];
	w[2] = ctx->user_ip6[2];
	w[3] = ctx->user_ip6[3];
	__builtin_memcpy(addr, w, 16);
	__builtin_memcpy(k.addr, w, 16);
	k.port = (__u16)ctx->user_port;
	k.family = XCNI_AF_INET6;
	k.proto = proto;
	k.scope = XCNI_SCOPE_EXT;
	svc = bpf_map_lookup_elem(&xcni_svc, &k);
	if (!svc || !(svc->flags & XCNI_SVC_F_TWO_SCOPES))
		return svc;
	k.scope = XCNI_SCOPE_INT;
	in = bpf_map_lookup_elem(&xcni_svc, &k);
	return in ? in : svc;
}

static __always_inline void sock6_set_dst(struct bpf_sock_addr *ctx, const __u8 *addr, __u16 port)
{
	__u32 w[4];

	__builtin_memcpy(w, addr, 16);
	ctx->user_ip6[0] = w[0];
	ctx->user_ip6[1] = w[1];
	ctx->user_ip6[2] = w[2];
	ctx->user_ip6[3] = w[3];
	ctx->user_port = port;
}

/* sock_translate for an IPv6 destination: 1 go on, 0 with ECONNREFUSED (no backend). */
static __always_inline int sock6_translate(struct bpf_sock_addr *ctx)
{
	struct xcni_affinity_key ak = { .family = XCNI_AF_NETNS };
	struct xcni_sock_rn6_key rk = {};
	struct xcni_sock_rn6 rn = {};
	const struct xcni_backend *be;
	const struct xcni_svc *svc;
	__u32 src[4] = {}, dst[4];
	__u64 cookie, netns;
	__u8 proto = (__u8)ctx->protocol;
	__u32 id;

	svc = sock6_frontend(ctx, proto, (__u8 *)dst);
	if (!svc)
		return 1;
	cookie = bpf_get_socket_cookie(ctx);
	/* Maglev hashes the socket (it has no source address yet), as connect4 does. */
	src[0] = (__u32)cookie ^ (__u32)(cookie >> 32);
	netns = bpf_get_netns_cookie(ctx);
	__builtin_memcpy(ak.client, &netns, sizeof(netns));
	id = lb_select_h(svc, xcni_lb_hash(XCNI_AF_INET6, src, dst, 0, (__u16)ctx->user_port, proto),
			 &ak, bpf_ktime_get_ns());
	be = id ? bpf_map_lookup_elem(&xcni_backend, &id) : NULL;
	if (!be && sock_leave_to_packets(svc))
		return 1;
	if (!be || be->family != XCNI_AF_INET6) {
		count(XCNI_DROP_NO_BACKEND, XCNI_DIR_FROM_POD, 0);
		bpf_set_retval(-ECONNREFUSED);
		return 0;
	}
	rk.cookie = cookie;
	__builtin_memcpy(rk.addr, be->addr, 16);
	rk.port = be->port;
	__builtin_memcpy(rn.addr, dst, 16);
	rn.port = (__u16)ctx->user_port;
	rn.rev_nat = svc->rev_nat;
	if (bpf_map_update_elem(&xcni_sock_rn6, &rk, &rn, BPF_ANY)) {
		bpf_set_retval(-ENOMEM);
		return 0;
	}
	sock6_set_dst(ctx, rk.addr, rk.port);
	return 1;
}

/* 16 bytes compared a word at a time (a memcmp that long is a libc call). */
static __always_inline int addr6_eq(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* An IPv6 backend the socket was given shown as its frontend again (if still one). */
static __always_inline void sock6_rev_nat(struct bpf_sock_addr *ctx)
{
	struct xcni_sock_rn6_key rk = {};
	const struct xcni_revnat *fe;
	struct xcni_sock_rn6 *rn;
	__u32 w[4];

	rk.cookie = bpf_get_socket_cookie(ctx);
	w[0] = ctx->user_ip6[0];
	w[1] = ctx->user_ip6[1];
	w[2] = ctx->user_ip6[2];
	w[3] = ctx->user_ip6[3];
	__builtin_memcpy(rk.addr, w, 16);
	rk.port = (__u16)ctx->user_port;
	rn = bpf_map_lookup_elem(&xcni_sock_rn6, &rk);
	if (!rn)
		return;
	fe = bpf_map_lookup_elem(&xcni_revnat, &rn->rev_nat);
	if (!fe || fe->family != XCNI_AF_INET6 || !addr6_eq(fe->addr, rn->addr) ||
	    fe->port != rn->port) {
		bpf_map_delete_elem(&xcni_sock_rn6, &rk);
		return;
	}
	sock6_set_dst(ctx, rn->addr, rn->port);
}

/* TCP only, as connect4 (connected UDP is left to the per-packet path). */
SEC("cgroup/connect6")
int sock6_connect(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 1;
	return sock6_translate(ctx);
}

SEC("cgroup/sendmsg6")
int sock6_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock6_translate(ctx);
}

SEC("cgroup/recvmsg6")
int sock6_recvmsg(struct bpf_sock_addr *ctx)
{
	sock6_rev_nat(ctx);
	return 1;
}

SEC("cgroup/getpeername6")
int sock6_getpeername(struct bpf_sock_addr *ctx)
{
	sock6_rev_nat(ctx);
	return 1;
}

/* ---- sockops: which Service a translated TCP connection is for ------------- */

/*
 * A TCP socket connecting, its SYN about to leave (BPF_SOCK_OPS_TCP_CONNECT_CB:
 * the source port is chosen by now, unlike at connect4). If connect4/connect6
 * gave it a backend (its xcni_sock_rn[6] record), its tuple as conntrack keys
 * it is recorded with the Service for the flow records (xcni_sock_flow[6]);
 * any other connection removes what an earlier socket with the same tuple
 * left, so a direct connection never inherits a Service. Once per
 * connection, nothing per packet. remote_port is in network order in the
 * upper half (bpf_ntohl gives the port), local_port in host order.
 */
/* One whole 32-bit load of a sock_ops field: the context takes no other size,
 * and clang would narrow a port's half or merge two address words. */
#define CTX_U32(f) (*(volatile __u32 *)&(f))

SEC("sockops")
int sock_ops(struct bpf_sock_ops *skops)
{
	struct xcni_sock_flow v = {};
	__u16 dport, sport;
	__u32 family;
	__u64 cookie;

	if (CTX_U32(skops->op) != BPF_SOCK_OPS_TCP_CONNECT_CB)
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	dport = bpf_htons((__u16)bpf_ntohl(CTX_U32(skops->remote_port)));
	sport = bpf_htons((__u16)CTX_U32(skops->local_port));
	family = CTX_U32(skops->family);
	if (family == 2 /* AF_INET */) {
		struct xcni_sock_rn_key rk = {};
		struct xcni_ct_key k = {};
		const struct xcni_sock_rn *rn;

		rk.cookie = cookie;
		rk.addr = CTX_U32(skops->remote_ip4);
		rk.port = dport;
		k.saddr = CTX_U32(skops->local_ip4);
		k.daddr = rk.addr;
		k.sport = sport;
		k.dport = dport;
		k.proto = IPPROTO_TCP;
		rn = bpf_map_lookup_elem(&xcni_sock_rn, &rk);
		if (!rn) {
			bpf_map_delete_elem(&xcni_sock_flow, &k);
			return 1;
		}
		v.rev_nat = rn->rev_nat;
		bpf_map_update_elem(&xcni_sock_flow, &k, &v, BPF_ANY);
	} else if (family == 10 /* AF_INET6 */) {
		struct xcni_sock_rn6_key rk = {};
		struct xcni_ct6_key k = {};
		const struct xcni_sock_rn6 *rn;
		__u32 w[4];

		w[0] = CTX_U32(skops->remote_ip6[0]);
		w[1] = CTX_U32(skops->remote_ip6[1]);
		w[2] = CTX_U32(skops->remote_ip6[2]);
		w[3] = CTX_U32(skops->remote_ip6[3]);
		__builtin_memcpy(rk.addr, w, 16);
		__builtin_memcpy(k.daddr, w, 16);
		w[0] = CTX_U32(skops->local_ip6[0]);
		w[1] = CTX_U32(skops->local_ip6[1]);
		w[2] = CTX_U32(skops->local_ip6[2]);
		w[3] = CTX_U32(skops->local_ip6[3]);
		__builtin_memcpy(k.saddr, w, 16);
		rk.cookie = cookie;
		rk.port = dport;
		k.sport = sport;
		k.dport = dport;
		k.proto = IPPROTO_TCP;
		rn = bpf_map_lookup_elem(&xcni_sock_rn6, &rk);
		if (!rn) {
			bpf_map_delete_elem(&xcni_sock_flow6, &k);
			return 1;
		}
		v.rev_nat = rn->rev_nat;
		bpf_map_update_elem(&xcni_sock_flow6, &k, &v, BPF_ANY);
	}
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
