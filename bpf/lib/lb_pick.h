/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Which Service a destination is, and which backend a new flow to it gets:
 * shared by the per-packet translation (lb.h, tc) and the socket-level one
 * (sock_lb.bpf.c, cgroup connect/sendmsg), so both choose alike. Backends:
 * the Maglev table's entry for the flow's hash or a slot at random; the
 * active backends' slots, or the terminating ones' when no backend is
 * active; with ClientIP affinity, the client's earlier backend while it is
 * fresh and usable. No packet access here: any program type can use it.
 */
#ifndef XCNI_LB_PICK_H
#define XCNI_LB_PICK_H

#include <linux/in.h>

#include "config.h"
#include "maps.h"

#define XCNI_NSEC_PER_S 1000000000ULL

/*
 * lb_translate's and lb6_translate's outside: 0 for a pod's packet; from the
 * underlay LB_OUTSIDE, with LB_OUTSIDE_CIP when ClusterIPs are served there
 * too (xcnid --external-clusterip).
 */
#define LB_OUTSIDE 1u
#define LB_OUTSIDE_CIP 2u
/* The outside of a packet from the underlay (from_outside, from_outside6). */
#define OUTSIDE (external_clusterip ? LB_OUTSIDE | LB_OUTSIDE_CIP : LB_OUTSIDE)

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
 * The frontend of t's destination, or NULL. outside: the packet came from
 * outside the cluster (the underlay), which gets the EXT entry only; a pod
 * (and a socket of this node) gets the INT one where the two differ.
 */
static __always_inline const struct xcni_svc *lb_frontend(const struct xcni_ct_key *t,
							  int outside)
{
	struct xcni_svc_key k = {};
	const struct xcni_svc *svc, *in;

	if (t->proto != IPPROTO_TCP && t->proto != IPPROTO_UDP && t->proto != IPPROTO_SCTP)
		return NULL;
	__builtin_memcpy(k.addr, &t->daddr, 4);
	k.port = t->dport;
	k.family = XCNI_AF_INET;
	k.proto = t->proto;
	k.scope = XCNI_SCOPE_EXT;
	svc = bpf_map_lookup_elem(&xcni_svc, &k);
	if (!svc || outside || !(svc->flags & XCNI_SVC_F_TWO_SCOPES))
		return svc;
	/* Traffic policies differ inside and outside: a pod is inside. */
	k.scope = XCNI_SCOPE_INT;
	in = bpf_map_lookup_elem(&xcni_svc, &k);
	return in ? in : svc;
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
 * A backend for a new flow: Maglev's entry for the flow's hash (xcni_lb_hash,
 * xcni_lb_hash6: the family's tuple as the client sent it), or a slot at
 * random. 0: none.
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

static __always_inline __u32 lb_pick(const struct xcni_svc *svc, const struct xcni_ct_key *t)
{
	return lb_pick_h(svc, xcni_lb_hash(t->saddr, t->daddr, t->sport, t->dport, t->proto));
}

/*
 * ClientIP affinity: the client's backend while it is fresh and usable, else
 * a new pick (hash: the flow's). ak: the client (family and address) filled
 * in by the caller.
 */
static __always_inline __u32 lb_pick_affine(const struct xcni_svc *svc, __u32 hash,
					    struct xcni_affinity_key *ak, __u64 now)
{
	struct xcni_affinity *a, na = {};
	__u32 id;

	ak->svc_id = svc->id;
	a = bpf_map_lookup_elem(&xcni_affinity, ak);
	if (a && (now <= a->last_ns || now - a->last_ns <= svc->affinity_s * XCNI_NSEC_PER_S) &&
	    lb_usable(svc, a->backend_id)) {
		a->last_ns = now;
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

/* The backend id a new flow of hash to svc gets (affinity keyed by ak), 0: none. */
static __always_inline __u32 lb_select_h(const struct xcni_svc *svc, __u32 hash,
					 struct xcni_affinity_key *ak, __u64 now)
{
	return svc->flags & XCNI_SVC_F_AFFINITY ? lb_pick_affine(svc, hash, ak, now) :
						  lb_pick_h(svc, hash);
}

/* The backend id a new IPv4 flow t to svc gets (affinity keyed by ak), 0: none. */
static __always_inline __u32 lb_select(const struct xcni_svc *svc, const struct xcni_ct_key *t,
				       struct xcni_affinity_key *ak, __u64 now)
{
	return lb_select_h(svc, xcni_lb_hash(t->saddr, t->daddr, t->sport, t->dport, t->proto),
			   ak, now);
}

#endif
