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
 * Without backend, a pod's TCP socket (one of a network namespace other
 * than the node's, host_netns) is left untranslated: its SYN meets from_pod's
 * per-packet translation, which refuses it as kube-proxy's REJECT does (a
 * RST: connect fails ECONNREFUSED all the same) and reports the drop with
 * the pod's 5-tuple, so the flow records name who was refused (verdict
 * no-backend; at connect time the socket has no source address to report).
 * Otherwise the connect (or sendmsg) fails at once with ECONNREFUSED,
 * without a packet sent, counted as drop-no-backend (from-pod): a socket of
 * the node's own namespace (no from_pod on its way), and UDP's sendmsg (an
 * unconnected socket hears no ICMP unreachable: a refusal left to packets
 * would be a timeout to it). Another node's NodePort under
 * externalTrafficPolicy Local with none is left to the per-packet path,
 * which drops (sock_leave_to_packets).
 *
 * Affinity (ClientIP) is keyed by the socket's network namespace, the
 * pod, which at connect time has no source address yet; Maglev hashes the
 * socket cookie for the same reason (a socket keeps its backend, sockets
 * spread). Per-packet translation keys both by the client's address.
 *
 * IPv6 sockets (connect6, sendmsg6, recvmsg6, getpeername6) the same way,
 * their translations in xcni_sock_rn6 (16-byte addresses).
 *
 * A record is charged to its socket's pod (its cgroup: sock_owner_id) and
 * removed as the socket is released (sock_release): one pod's sockets never
 * push out another's records, and the pods together leave the node a share
 * (docs/decisions/sock-lb-owner-bound.md).
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
 * The network namespace cookie of the node's own sockets (xcnid's, set at
 * load); 0: not known, every socket refused here as before.
 */
const volatile __u64 host_netns = 0;

/* A connecting (TCP) socket without backend that from_pod will refuse, reporting who it was. */
static __always_inline int sock_refused_by_packets(__u64 netns)
{
	return host_netns && netns != host_netns;
}

/*
 * Records a pod may hold in xcni_sock_rn and _rn6 together: the map's size /
 * XCNI_SOCK_OWN_SHARE; and all pods together (xcni_sock_own's entry
 * XCNI_SOCK_OWN_PODS): the map's size less its / XCNI_SOCK_NODE_SHARE, the
 * node's own sockets' share. Set by xcnid at load.
 */
const volatile __u32 sock_own_max = XCNI_MAX_SOCK_RN / XCNI_SOCK_OWN_SHARE;
const volatile __u32 sock_pods_max = XCNI_MAX_SOCK_RN - XCNI_MAX_SOCK_RN / XCNI_SOCK_NODE_SHARE;

/*
 * The hooked cgroup (--cgroup-root: its id) and the cgroups below it that
 * group pods rather than being one (the kubelet's kubepods, its QoS classes,
 * its own root), set by xcnid at load (socklb.c cg_tiers).
 */
const volatile __u64 cg_root = 0;
const volatile __u64 cg_tiers[XCNI_SOCK_TIERS] = {};

/*
 * The owner of the current process's records: the first cgroup below the
 * hooked one that is not a tier (a pod: kubepods-burstable-pod<uid>.slice;
 * a node's service: system.slice), or the hooked cgroup itself for a
 * process in it or in a tier. A process cannot leave its cgroup without
 * write access above it (not a pod's), and what it makes inside its pod is
 * below the owner: it cannot be two owners, however many cgroups or network
 * namespaces it makes. Its leaf cgroup when the walk finds no root.
 */
static __always_inline __u64 sock_owner_id(void)
{
	__u64 id, owner = 0;
	int lvl, j, tier;

	for (lvl = 0; lvl < XCNI_SOCK_CG_LEVELS; lvl++) {
		id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!id)
			break;
		if (!owner) {
			owner = id == cg_root ? id : 0;
			continue;
		}
		owner = id;
		tier = 0;
		for (j = 0; j < XCNI_SOCK_TIERS; j++)
			tier |= cg_tiers[j] == id;
		if (!tier)
			break;
	}
	return owner ?: bpf_get_current_cgroup_id();
}

/*
 * The family's leaves: where the kernel's context (struct bpf_sock_addr:
 * user_ip4, or user_ip6 read and written a 32-bit word at a time, the
 * context's rule) and the per-socket record (xcni_sock_rn, xcni_sock_rn6:
 * 4- or 16-byte addresses) differ. fam a constant: the compiler keeps one
 * side, so a connect4 program reads no user_ip6 (which the verifier refuses
 * it) and the reverse.
 */
static __always_inline void sock_dst(const struct bpf_sock_addr *ctx, int fam, __u32 w[4])
{
	if (fam == XCNI_AF_INET) {
		w[0] = ctx->user_ip4;
		return;
	}
	w[0] = ctx->user_ip6[0];
	w[1] = ctx->user_ip6[1];
	w[2] = ctx->user_ip6[2];
	w[3] = ctx->user_ip6[3];
}

static __always_inline void sock_set_dst(struct bpf_sock_addr *ctx, int fam, const void *addr,
					 __u16 port)
{
	__u32 w[4];

	if (fam == XCNI_AF_INET) {
		ctx->user_ip4 = *(const __u32 *)addr;
	} else {
		__builtin_memcpy(w, addr, 16);
		ctx->user_ip6[0] = w[0];
		ctx->user_ip6[1] = w[1];
		ctx->user_ip6[2] = w[2];
		ctx->user_ip6[3] = w[3];
	}
	ctx->user_port = port;
}

/* A socket's record, either family's (the key: the socket and the backend it
 * was given; the value, at one place for both: the frontend it asked for). */
struct sock_rn_any {
	union {
		struct xcni_sock_rn_key k4;
		struct xcni_sock_rn6_key k6;
	};
	union {
		struct xcni_sock_rn v4;
		struct xcni_sock_rn6 v6;
	};
};

#define sock_rn_map(fam) ((fam) == XCNI_AF_INET ? (void *)&xcni_sock_rn : (void *)&xcni_sock_rn6)

/* The key of socket cookie's record for the backend addr:port. */
static __always_inline void sock_rn_key(struct sock_rn_any *r, int fam, __u64 cookie,
					const void *addr, __u16 port)
{
	if (fam == XCNI_AF_INET) {
		r->k4.cookie = cookie;
		r->k4.addr = *(const __u32 *)addr;
		r->k4.port = port;
	} else {
		r->k6.cookie = cookie;
		__builtin_memcpy(r->k6.addr, addr, 16);
		r->k6.port = port;
	}
}

/* 16 bytes compared a word at a time (a memcmp that long is a libc call); 4 for IPv4. */
static __always_inline int sock_addr_eq(const void *a, const void *b, int fam)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	if (fam == XCNI_AF_INET)
		return x[0] == y[0];
	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* The record r written (either family's map): 0 or the map's error. */
static __always_inline long sock_rn_write(int fam, const struct sock_rn_any *r)
{
	return bpf_map_update_elem(sock_rn_map(fam), r, &r->v4, BPF_ANY);
}

/* The owner's count (xcni_sock_own), made at its first record; NULL if it cannot be. */
static __always_inline struct xcni_sock_own *sock_owner(__u64 owner)
{
	struct xcni_sock_own zero = {}, *o = bpf_map_lookup_elem(&xcni_sock_own, &owner);

	if (o)
		return o;
	bpf_map_update_elem(&xcni_sock_own, &owner, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&xcni_sock_own, &owner);
}

/*
 * The socket's record r (backend -> frontend) written and charged: to a
 * slot of the socket's storage, which sock_release reads to remove it, to
 * its owner (sock_owner_id), which may hold sock_own_max, and to the pods'
 * total, which may hold sock_pods_max: a socket of the node's own network
 * namespace has neither bound, it may use what the map holds, and the pods
 * leave it the map's / XCNI_SOCK_NODE_SHARE. A socket that has the record
 * already is not charged again (the record is written again). 0, or
 * -ENOSPC: past a bound, the socket's slots or the map's room, nothing
 * written (the owner's count of those goes up). A bound may be passed by one
 * record per CPU at once (a check, then an add).
 */
static __always_inline int sock_record(struct bpf_sock_addr *ctx, int fam, __u64 netns,
				       const struct sock_rn_any *r, const void *addr, __u16 port)
{
	struct xcni_sock_slots *ss;
	struct xcni_sock_slot *sl, *free = NULL;
	struct xcni_sock_own *o, *pods;
	__u64 owner;
	int i;

	ss = bpf_sk_storage_get(&xcni_sock_sk, ctx->sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!ss)
		return -ENOSPC;
#pragma unroll
	for (i = 0; i < XCNI_SOCK_SLOTS; i++) {
		sl = &ss->s[i];
		/* Charged already: written again (sock_rev_nat may have removed it,
		 * the frontend may be another now). */
		if (sl->family == fam && sl->port == port && sock_addr_eq(sl->addr, addr, fam))
			return sock_rn_write(fam, r) ? -ENOSPC : 0;
		if (!sl->family && !free)
			free = sl;
	}
	owner = sock_owner_id();
	o = sock_owner(owner);
	pods = netns != host_netns ? sock_owner(XCNI_SOCK_OWN_PODS) : NULL;
	if (!o || (netns != host_netns && !pods))
		return -ENOSPC;
	/* The node's own sockets are the node, not a tenant: no bound but the map's. */
	if (!free || (pods && (o->held >= sock_own_max || pods->held >= sock_pods_max)) ||
	    sock_rn_write(fam, r)) {
		__sync_fetch_and_add(&o->over, 1);
		return -ENOSPC;
	}
	__sync_fetch_and_add(&o->held, 1);
	if (pods)
		__sync_fetch_and_add(&pods->held, 1);
	ss->owner = owner;
	__builtin_memcpy(free->addr, addr, fam == XCNI_AF_INET ? 4 : 16);
	free->port = port;
	free->family = fam;
	return 0;
}

/*
 * The destination in ctx (a socket of family fam), if it is a frontend,
 * becomes a backend: 1 (go on: translated or not a frontend), or 0 with
 * ECONNREFUSED (no backend). One body for both families; the context and
 * the record are the family's (above). tcp (a constant): connect's TCP
 * socket, which from_pod refuses when it is a pod's; sendmsg's UDP is not.
 */
static __always_inline int sock_translate(struct bpf_sock_addr *ctx, int fam, int tcp)
{
	struct xcni_affinity_key ak = { .family = XCNI_AF_NETNS };
	struct xcni_svc_key k = { .family = fam };
	struct sock_rn_any r = {};
	const struct xcni_backend *be = NULL;
	const struct xcni_svc *svc;
	__u32 src[4] = {}, dst[4] = {};
	__u8 proto = (__u8)ctx->protocol;
	__u16 port = (__u16)ctx->user_port;
	__u64 cookie, netns;
	__u32 id;

	/* IPv6 sockets: TCP and UDP frontends only, as before (an explicit
	 * family branch: IPv4's take SCTP too, lb_frontend_of's rule). */
	if (fam == XCNI_AF_INET6 && proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 1;
	sock_dst(ctx, fam, dst);
	__builtin_memcpy(k.addr, dst, fam == XCNI_AF_INET ? 4 : 16);
	k.port = port;
	k.proto = proto;
	svc = lb_frontend_of(&k, 0);
	if (!svc)
		return 1;
	cookie = bpf_get_socket_cookie(ctx);
	/* Maglev hashes the socket (it has no source address yet). */
	src[0] = (__u32)cookie ^ (__u32)(cookie >> 32);
	netns = bpf_get_netns_cookie(ctx);
	__builtin_memcpy(ak.client, &netns, sizeof(netns));
	id = lb_select_h(svc, xcni_lb_hash(fam, src, dst, 0, port, proto), &ak, bpf_ktime_get_ns(),
			 &be);
	if (id && !be)
		be = bpf_map_lookup_elem(&xcni_backend, &id);
	if (!be && (sock_leave_to_packets(svc) || (tcp && sock_refused_by_packets(netns))))
		return 1;
	if (!be || be->family != fam) {
		/* Counted with the per-packet refusals: no packet, so no bytes. */
		count(XCNI_DROP_NO_BACKEND, XCNI_DIR_FROM_POD, 0);
		bpf_set_retval(-ECONNREFUSED);
		return 0;
	}
	sock_rn_key(&r, fam, cookie, be->addr, be->port);
	if (fam == XCNI_AF_INET) {
		r.v4.addr = dst[0];
		r.v4.port = port;
		r.v4.rev_nat = svc->rev_nat;
	} else {
		__builtin_memcpy(r.v6.addr, dst, 16);
		r.v6.port = port;
		r.v6.rev_nat = svc->rev_nat;
	}
	/*
	 * Without its record the socket would see the backend. A pod's socket
	 * past its bound is left to the per-packet translation, which answers
	 * it as it answers a process outside the cgroup (its conntrack entry
	 * shows it the frontend): nobody loses anything. The node's own socket
	 * has no such path: refused.
	 */
	if (sock_record(ctx, fam, netns, &r, be->addr, be->port)) {
		if (host_netns && netns != host_netns)
			return 1;
		bpf_set_retval(-ENOBUFS);
		return 0;
	}
	sock_set_dst(ctx, fam, be->addr, be->port);
	return 1;
}

/*
 * A backend the socket was given shown as its frontend again (if that is
 * still one; else the record goes: the backend is the truth). Either family.
 */
static __always_inline void sock_rev_nat(struct bpf_sock_addr *ctx, int fam)
{
	struct sock_rn_any r = {};
	const struct xcni_revnat *fe;
	const void *rn;
	__u32 dst[4];
	__u16 rn_port, rn_idx;

	sock_dst(ctx, fam, dst);
	sock_rn_key(&r, fam, bpf_get_socket_cookie(ctx), dst, (__u16)ctx->user_port);
	rn = bpf_map_lookup_elem(sock_rn_map(fam), &r);
	if (!rn)
		return;
	rn_port = fam == XCNI_AF_INET ? ((const struct xcni_sock_rn *)rn)->port :
					((const struct xcni_sock_rn6 *)rn)->port;
	rn_idx = fam == XCNI_AF_INET ? ((const struct xcni_sock_rn *)rn)->rev_nat :
				       ((const struct xcni_sock_rn6 *)rn)->rev_nat;
	fe = bpf_map_lookup_elem(&xcni_revnat, &rn_idx);
	/* The frontend is gone (or its index reused): the backend is the truth. */
	if (!fe || fe->family != fam || !sock_addr_eq(fe->addr, rn, fam) || fe->port != rn_port) {
		bpf_map_delete_elem(sock_rn_map(fam), &r);
		return;
	}
	sock_set_dst(ctx, fam, rn, rn_port);
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
	return sock_translate(ctx, XCNI_AF_INET, 1);
}

SEC("cgroup/sendmsg4")
int sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock_translate(ctx, XCNI_AF_INET, 0);
}

SEC("cgroup/recvmsg4")
int sock4_recvmsg(struct bpf_sock_addr *ctx)
{
	sock_rev_nat(ctx, XCNI_AF_INET);
	return 1;
}

SEC("cgroup/getpeername4")
int sock4_getpeername(struct bpf_sock_addr *ctx)
{
	sock_rev_nat(ctx, XCNI_AF_INET);
	return 1;
}

/* ---- IPv6 sockets: the same, their records in xcni_sock_rn6 ------------------ */

/* TCP only, as connect4 (connected UDP is left to the per-packet path). */
SEC("cgroup/connect6")
int sock6_connect(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 1;
	return sock_translate(ctx, XCNI_AF_INET6, 1);
}

SEC("cgroup/sendmsg6")
int sock6_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock_translate(ctx, XCNI_AF_INET6, 0);
}

SEC("cgroup/recvmsg6")
int sock6_recvmsg(struct bpf_sock_addr *ctx)
{
	sock_rev_nat(ctx, XCNI_AF_INET6);
	return 1;
}

SEC("cgroup/getpeername6")
int sock6_getpeername(struct bpf_sock_addr *ctx)
{
	sock_rev_nat(ctx, XCNI_AF_INET6);
	return 1;
}

/*
 * A socket released (closed by its last holder): its records go, and its
 * owner's count with them (and the pods' total, a pod's socket), so a record
 * lives exactly as long as its socket.
 */
/* n records given back to owner's count (evicted and made again meanwhile: not below 0). */
static __always_inline void sock_uncharge(__u64 owner, __u32 n)
{
	struct xcni_sock_own *o = bpf_map_lookup_elem(&xcni_sock_own, &owner);

	if (o)
		__sync_fetch_and_add(&o->held, o->held >= n ? -n : -o->held);
}

SEC("cgroup/sock_release")
int sock_release(struct bpf_sock *sk)
{
	struct xcni_sock_slots *ss = bpf_sk_storage_get(&xcni_sock_sk, sk, NULL, 0);
	struct sock_rn_any r;
	__u64 cookie;
	__u32 n = 0;
	int i;

	if (!ss)
		return 1;
	cookie = bpf_get_socket_cookie(sk);
#pragma unroll
	for (i = 0; i < XCNI_SOCK_SLOTS; i++) {
		const struct xcni_sock_slot *sl = &ss->s[i];

		if (!sl->family)
			continue;
		__builtin_memset(&r, 0, sizeof(r));
		sock_rn_key(&r, sl->family, cookie, sl->addr, sl->port);
		bpf_map_delete_elem(sock_rn_map(sl->family), &r);
		n++;
	}
	if (!n)
		return 1;
	sock_uncharge(ss->owner, n);
	if (bpf_get_netns_cookie(sk) != host_netns)
		sock_uncharge(XCNI_SOCK_OWN_PODS, n);
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
