/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NetworkPolicy enforcement: identities from the ipcache, then the policy
 * maps xcnid compiled. Only new flows are looked up; conntrack lets the rest
 * of an allowed flow, and its replies, through (policy is stateful).
 */
#ifndef XCNI_POLICY_H
#define XCNI_POLICY_H

#include "config.h"
#include "conntrack.h"
#include "maps.h"
#include "parse.h"

/* What decided a flow, for events: filled as the checks run. */
struct verdict {
	__u32 src_id;
	__u32 dst_id;
	__u32 policy_id; /* 0: no policy allowed it */
	__u16 rule;
	__u8 pol_dir; /* the direction that decided last */
	/* bit 0: an isolated pod's policy was consulted; bits 1..: the deciding
	 * entry's XCNI_POLV_* (shifted by one), its audit bit kept from either side */
	__u8 enforced;
};

/*
 * The entries of one peer for this packet, most specific first: exact port,
 * port ranges, any port of the protocol, anything (tiered policy writes
 * denials under allows, so the order decides). Lookups the pod has no
 * entries of that kind for are skipped (has: XCNI_HAS_*).
 */
static __always_inline struct xcni_policy_val *peer_lookup(struct xcni_polhash_key *k,
							  __u32 peer, __u8 has)
{
	struct xcni_policy_val *hit;
	struct xcni_policy_key rk = {};
	__u8 proto = k->proto;
	__u16 port = k->port;

	k->peer = peer;
	hit = bpf_map_lookup_elem(&xcni_policy, k);
	if (!hit && port && (has & XCNI_HAS_RANGE)) {
		rk.prefixlen = XCNI_POLICY_PREFIX_FULL;
		rk.ep = k->ep;
		rk.peer = peer;
		rk.version = k->version;
		rk.dir = k->dir;
		rk.proto = proto;
		rk.port = port;
		hit = bpf_map_lookup_elem(&xcni_polrange, &rk);
	}
	if (!hit && port && (has & XCNI_HAS_ANY_PORT)) {
		k->port = 0;
		hit = bpf_map_lookup_elem(&xcni_policy, k);
		k->port = port;
	}
	if (!hit && (has & XCNI_HAS_ANY_PROTO)) {
		k->proto = 0;
		k->port = 0;
		hit = bpf_map_lookup_elem(&xcni_policy, k);
		k->proto = proto;
		k->port = port;
	}
	return hit;
}

/*
 * A local endpoint with no polep entry: not judged yet. Closed where an xcnid
 * enforcing policy runs (it writes one for every pod it knows, so only a pod
 * it has not seen yet lacks one); open where none does, as before.
 */
static __always_inline int policy_pending(void)
{
	const struct xcni_config *cfg = bpf_map_lookup_elem(&xcni_config, &map_zero);

	return cfg && (cfg->flags & XCNI_CFG_F_POLICY);
}

/*
 * One side's judgement (policy_judge: 1, 0 or a drop reason) as flow_judge
 * uses it: 0 when allowed, deny when no rule allows, the reason policy_judge
 * gave otherwise (an unjudged pod is pending only where an agent judges).
 */
static __always_inline int policy_verdict(int ok, int deny)
{
	return ok > 0 ? 0 : ok ? ok : deny;
}

/* An audited denial is named already (by the other side): the event reports it. */
#define VERDICT_AUDITED(v) ((v)->enforced & (XCNI_POLV_AUDIT << 1))

/* v names what decided in an isolated pod's direction dir: enforced (bit 0,
 * the entry's XCNI_POLV_* above it), the entry's policy and rule (1, 0, 0: no
 * rule allows, or none looked up yet). 0: refused, unless a rule then allows. */
static __always_inline int verdict_name(struct verdict *v, __u8 dir, __u8 enforced,
					__u32 policy_id, __u16 rule)
{
	v->enforced = enforced;
	v->pol_dir = dir;
	v->policy_id = policy_id;
	v->rule = rule;
	return 0;
}

/*
 * What the entry found decides (XCNI_POLV_*): 1 allowed (an audited denial
 * too: it passes, the verdict event names it), 0 denied by NetworkPolicy,
 * or the tier's drop reason. v names the entry, unless it allows and an
 * audited denial is named already.
 */
static __always_inline int policy_hit(const struct xcni_policy_val *hit, __u8 dir,
				      struct verdict *v)
{
	__u16 flags = hit->flags;
	int ret = 1;

	if ((flags & XCNI_POLV_DENY) && !(flags & XCNI_POLV_AUDIT))
		ret = XCNI_POLV_TIER(flags) == XCNI_TIER_ADMIN	  ? XCNI_DROP_POLICY_ADMIN :
		      XCNI_POLV_TIER(flags) == XCNI_TIER_BASELINE ? XCNI_DROP_POLICY_BASELINE :
								    0;
	if (ret == 1 && VERDICT_AUDITED(v))
		return 1;
	verdict_name(v, dir, 1 | (__u8)(flags << 1), hit->policy_id, hit->rule);
	return ret;
}

/*
 * Does the policy of local pod ep (its policy key: in direction dir, towards
 * or from peer) allow a new flow of proto to dport? 1 or 0; v records the
 * rule that allowed it. A pod whose policy is not in the maps: negative,
 * XCNI_DROP_POLICY_OVERFLOW (it did not fit: closed) or
 * XCNI_DROP_POLICY_PENDING (no polep entry: not judged yet, which the
 * caller turns into "allowed" where no agent judges; policy_pending). The
 * peer's address (addr, of the family fam) is looked up in the ipBlock groups.
 */
/* The polcidr key of a pod's (ep, its version) direction dir towards a peer address. */
static __always_inline void policy_ck(struct xcni_polcidr_key *ck, __u32 ep, __u8 version, __u8 dir,
				      int fam, const void *addr)
{
	ck->ep = ep;
	ck->version = version;
	ck->dir = dir;
	if (fam == XCNI_AF_INET6) {
		ck->prefixlen = XCNI_POLCIDR_PREFIX_BASE + 128;
		ck->v6 = 1;
		__builtin_memcpy(ck->addr6, addr, 16);
	} else {
		ck->prefixlen = XCNI_POLCIDR_PREFIX_BASE + 32;
		ck->addr = *(const __u32 *)addr;
	}
}

/*
 * domainNames: the group of an address that pod ep_id's own DNS answers
 * taught it and that has not expired (beyond XCNI_FQDN_GRACE_S), looked up
 * in polcidr (ck: the pod's egress key for the address; looked up as a copy
 * on the stack under the dir of the rule that named it); 0 when not learned.
 * A global function: verified once on its own, so the programs that judge
 * policy do not pay for it at every call site (where fqdn_enabled is 0 it is
 * never called). The copy: a global function's pointer argument is memory
 * (PTR_TO_MEM), which 6.1's verifier refuses as a map key ("R2 type=mem
 * expected=fp, ...", docs/decisions/kernel-matrix.md).
 */
__attribute__((noinline)) int fqdn_group(const struct xcni_polcidr_key *ck, __u32 ep_id)
{
	struct xcni_fqdn_key fk = { .ep_id = ep_id };
	struct xcni_polcidr_key k;
	struct xcni_fqdn_val *fv;
	__u32 ref, *group;

	if (!ck)
		return 0;
	k = *ck;
	if (k.v6) {
		fk.family = XCNI_AF_INET6;
		__builtin_memcpy(fk.addr, k.addr6, 16);
	} else {
		fk.family = XCNI_AF_INET;
		__builtin_memcpy(fk.addr, &k.addr, 4);
	}
	fv = bpf_map_lookup_elem(&xcni_fqdn, &fk);
	if (!fv)
		return 0;
	ref = fv->rule_ref;
	if (!ref || ref > XCNI_FQDN_RULES_MAX ||
	    bpf_ktime_get_ns() > fv->expires_ns + XCNI_FQDN_GRACE_S * 1000000000ULL)
		return 0;
	k.dir = (__u8)(XCNI_POLCIDR_DIR_FQDN + ref - 1);
	group = bpf_map_lookup_elem(&xcni_polcidr, &k);
	return group && *group < 0x80000000u ? (int)*group : 0;
}

static __always_inline int policy_judge(__u32 ep, __u8 dir, __u32 *peer, int fam, const void *addr,
					__u8 proto, __u16 dport, struct verdict *v, __u32 ep_id, int lazy)
{
	struct xcni_polep *pe = bpf_map_lookup_elem(&xcni_polep, &ep);
	struct xcni_polhash_key k = {};
	struct xcni_polcidr_key ck = {};
	struct xcni_policy_val *hit;
	__u32 *group, peer_id;
	__u8 has;

	/* Not isolated this way, nor closed (or not judged where no agent
	 * judges): allowed whoever the peer is, whose identity is not looked up
	 * (*peer 0: the ipcache's, looked up here when asked; an LPM walk a new
	 * flow of a pod without policy saves; lazy, a constant: only from_pod's
	 * callers, as the branch costs 6.1's verifier to_pod's +45%). */
	if (pe ? !(pe->isolated & (XCNI_POLEP_OVERFLOW | XCNI_ISOLATED(dir))) : !policy_pending())
		return 1;
	if (lazy && !*peer)
		*peer = identity_of(fam, addr);
	peer_id = *peer;
	/* The pod's own node may always reach it and be reached (kubelet probes),
	 * under any policy, and so before its policy is known or when it did not
	 * fit; but the pod's egress to it as its tiers say (XCNI_POLEP_HOST_EGRESS):
	 * the host identity has no entries, the node's addresses have groups. A
	 * pod so judged and then closed (overflow, contested) is closed to its
	 * node too: the close must not lift a tier's Deny of the node. */
	if (peer_id == XCNI_ID_HOST &&
	    (dir != XCNI_DIR_FROM_POD || !pe || !(pe->isolated & XCNI_POLEP_HOST_EGRESS)))
		return 1;
	if (!pe)
		return XCNI_DROP_POLICY_PENDING; /* an agent judges here (above) */
	if (pe->isolated & XCNI_POLEP_OVERFLOW) /* the drop names it */
		return pe->isolated & XCNI_POLEP_CONTESTED ? XCNI_DROP_ADDR_CONTESTED :
							     XCNI_DROP_POLICY_OVERFLOW;
	if (!(pe->isolated & XCNI_ISOLATED(dir)))
		return 1; /* no policy selects the pod in this direction */
	if (!VERDICT_AUDITED(v))
		verdict_name(v, dir, 1, 0, 0);
	/*
	 * A closed address (XCNI_ID_UNMANAGED: changing owner in an apply, or
	 * contested) is judged by no entry: not by any peer's, nor by an ipBlock
	 * group, which may stand beside a Deny of its owner's identity (an Admin
	 * Deny of one namespace over an allow of the rest). Refused, as nothing
	 * allowed it.
	 */
	if (peer_id == XCNI_ID_UNMANAGED)
		return verdict_name(v, dir, 1, 0, 0);
	has = pe->has[dir & 1];
	k.ep = ep;
	k.version = pe->version;
	k.dir = dir;
	k.proto = proto;
	/* Port 0 means "any" in the map; no port-carrying packet has port 0 to match it. */
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP)
		k.port = dport;
	/* An address outside the cluster the pod's DNS answers taught it: judged
	 * as learned through the rule that named its domain (lib/dns.h), by its
	 * group in place of the identity (world has no entries; the group has
	 * an entry for any protocol, so it decides). */
	if (fqdn_enabled && dir == XCNI_DIR_FROM_POD && peer_id == XCNI_ID_WORLD &&
	    (has & XCNI_HAS_FQDN)) {
		int g;

		policy_ck(&ck, ep, pe->version, dir, fam, addr);
		g = fqdn_group(&ck, ep_id);
		if (g > 0)
			peer_id = (__u32)g;
	}
	hit = peer_lookup(&k, peer_id, has);
	if (!hit && (has & XCNI_HAS_CIDR)) {
		policy_ck(&ck, ep, pe->version, dir, fam, addr);
		group = bpf_map_lookup_elem(&xcni_polcidr, &ck);
		if (group)
			hit = peer_lookup(&k, *group, has);
	}
	if (!hit)
		hit = peer_lookup(&k, XCNI_ID_ANY, has);
	if (!hit) /* isolated, nothing allows */
		return verdict_name(v, dir, 1, 0, 0);
	__sync_fetch_and_add(&hit->packets, 1);
	return policy_hit(hit, dir, v);
}

/* The ipcache's identity of the flow's source (dst: destination). */
static __always_inline __u32 flow_identity(const struct flow *f, int fam, int dst)
{
	return identity_of(fam, dst ? flow_daddr(f, fam) : flow_saddr(f, fam));
}

/*
 * A flow ct_track found new or stale (ct), judged where this program can, in
 * either family: the egress of local pod src_key (its policy key; 0: none
 * here) towards the destination, then the ingress of local pod dst_key (0:
 * none here) from the source; v->src_id and v->dst_id set by the caller
 * (lazy, from_pod's: 0 looked up when a side's policy asks, the event's
 * by the caller; else both filled before).
 * Peers by identity, then by address in the ipBlock prefixes of the
 * family. Both allow: the flow is stored or re-stamped (ct_commit with len,
 * ep_id and flags), 0. Else the drop reason, a stale flow forgotten
 * (ct_refuse).
 */
static __always_inline int flow_judge(const struct flow *f, int fam, int ct, __u32 src_key,
				      __u32 dst_key, struct verdict *v, __u32 len, __u32 ep_id,
				      __u8 flags, int lazy)
{
	int reason = 0;

	if (src_key)
		reason = policy_verdict(policy_judge(src_key, XCNI_DIR_FROM_POD, &v->dst_id, fam,
						     flow_daddr(f, fam), flow_proto(f, fam),
						     flow_dport(f, fam), v, ep_id, lazy),
					XCNI_DROP_POLICY_EGRESS);
	if (!reason && dst_key)
		reason = policy_verdict(policy_judge(dst_key, XCNI_DIR_TO_POD, &v->src_id, fam,
						     flow_saddr(f, fam), flow_proto(f, fam),
						     flow_dport(f, fam), v, 0, lazy),
					XCNI_DROP_POLICY_INGRESS);
	if (reason)
		ct_refuse(f, fam, ct);
	else
		ct_commit(f, fam, ct, len, ep_id, flags);
	return reason;
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

/* ---- the one track -> judge step ------------------------------------------ */

#define JUDGE_SRC_ID 1 /* v->src_id: the ipcache's identity of the source */
#define JUDGE_DST_ID 2 /* v->dst_id: the ipcache's identity of the destination */
#define JUDGE_SRC_EP 4 /* src_ep: the source's endpoint here, if any (its ep_id too) */
/* A flow the stack brought (XCNI_CT_F_STACK) is not judged here: it is where
 * the stack hands it back, on the tuple its NAT made (the caller sends it to
 * the stack, *ctf says so). */
#define JUDGE_STACK_LATER 8

/*
 * What a flow is judged with, when it is (track_and_judge): the local pods at
 * its ends (NULL: none here), each with the address its policy key comes from
 * (IPv4: the address itself; IPv6: polkey_of), the identities of its ends,
 * the ep_id and XCNI_CT_F_* its entry opens with, and what is looked up only
 * then (JUDGE_*): lookups a packet of a flow already judged never pays for.
 */
struct judge {
	const struct xcni_endpoint *src_ep, *dst_ep;
	const void *src_addr, *dst_addr;
	__u32 src_id, dst_id; /* into v when judged, unless looked up */
	__u32 ep_id;
	__s16 new_refused; /* a packet that may only follow a flow: the reason
			    * (an XCNI_DROP_*) it opens none (CT_NEW), before
			    * policy; 0: it may. 16 bits: the frames that hold
			    * a struct judge are near the verifier's 512 */
	__u8 flags;
	__u8 lookup;
};
_Static_assert(XCNI_DROP_BAD_GENEVE >= -32768, "a reason fits struct judge's new_refused");

/* The policy key of local pod ep at addr (0: no pod here). */
static __always_inline __u32 judge_key(const struct xcni_endpoint *ep, const void *addr, int fam)
{
	if (!ep)
		return 0;
	return fam == XCNI_AF_INET ? *(const __u32 *)addr : polkey_of(ep, addr);
}

/*
 * The step every packet of a flow takes through conntrack and policy, in one
 * order: ct_track (len bytes; *ct and *ctf its answer); a packet that can
 * open no flow dropped (CT_INVALID), and one j says may open none
 * (j->new_refused); a flow the stack brought left to the stack's hand-off
 * (JUDGE_STACK_LATER); a flow new or stale judged (flow_judge: the egress of
 * j's source pod, the ingress of its destination pod, the flow committed
 * with j->flags or a stale one refused), its inputs looked up as j says. 0
 * or the drop reason; v names what decided.
 */
static __always_inline int track_and_judge(struct __sk_buff *skb, struct flow *f, int fam,
					   __u32 len, int *ct, __u8 *ctf, struct judge *j,
					   struct verdict *v)
{
	*ct = ct_track(skb, f, fam, len, ctf);
	if (*ct == CT_INVALID)
		return ct_invalid_reason(f);
	if (*ct == CT_NEW && j->new_refused)
		return j->new_refused;
	if (!ct_judge_due(*ct) || ((j->lookup & JUDGE_STACK_LATER) && (*ctf & XCNI_CT_F_STACK)))
		return 0;
	v->src_id = j->lookup & JUDGE_SRC_ID ? flow_identity(f, fam, 0) : j->src_id;
	v->dst_id = j->lookup & JUDGE_DST_ID ? flow_identity(f, fam, 1) : j->dst_id;
	if (j->lookup & JUDGE_SRC_EP) {
		j->src_addr = fam == XCNI_AF_INET ? (const void *)&f->tuple.v4.saddr
						  : (const void *)f->tuple.v6.saddr;
		j->src_ep = bpf_map_lookup_elem(fam == XCNI_AF_INET ? (void *)&xcni_endpoints
								    : (void *)&xcni_endpoints6,
						j->src_addr);
		j->ep_id = j->src_ep ? j->src_ep->ep_id : 0;
	}
	return flow_judge(f, fam, *ct, judge_key(j->src_ep, j->src_addr, fam),
			  judge_key(j->dst_ep, j->dst_addr, fam), v, len, j->ep_id, j->flags, 0);
}

#endif
