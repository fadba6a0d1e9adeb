// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket-level load balancing: cgroup sock_addr programs on the cgroup xcnid
 * is given (--cgroup-root). A socket of a process in it that connects (TCP)
 * or sends (unconnected UDP) to a Service frontend is given a backend there
 * and then, chosen as the per-packet translation chooses
 * (lib/lb_pick.h): its packets carry the backend from the first one, so
 * from_pod finds no frontend to translate and judges policy on the backend
 * as for any pod-to-pod flow, and an established flow costs nothing per
 * packet. What was translated is recorded per socket (xcni_sock_rn) so the
 * application keeps seeing the frontend: as the peer (getpeername4) and as
 * the source of UDP replies (recvmsg4).
 *
 * Without backend the connect (or sendmsg) fails with ECONNREFUSED, as
 * kube-proxy's REJECT makes it fail, but without a packet sent; counted as
 * drop-no-backend (from-pod), like the per-packet path's refusals.
 *
 * Affinity (ClientIP) is keyed by the socket's network namespace, the
 * pod, which at connect time has no source address yet; Maglev hashes the
 * socket cookie for the same reason (a socket keeps its backend, sockets
 * spread). Per-packet translation keys both by the client's address.
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>

#include "lib/exit.h"
#include "lib/lb_pick.h"
#include "lib/maps.h"

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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
