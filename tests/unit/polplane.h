/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy maps read as the data plane reads them (bpf/lib/policy.h,
 * policy_judge): the pod's entry, its node, a closed pod or peer, the peer's
 * identity in the ipcache, its ipBlock group, any peer. For polsim.h's tests
 * and test_polincr's random histories.
 */
#ifndef XCNI_TEST_POLPLANE_H
#define XCNI_TEST_POLPLANE_H

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../bpf/xcni_shared.h"
#include "../../user/lib/policy/policy.h"

/* lpm_match, ep_find, ipcache_identity, polcidr_group and the policy trie's
 * lookup are the library's (lib/policy/policy.h: pol_lpm_match, pol_ep_find,
 * pol_ipcache_identity, pol_cidr_group, pol_entry_lookup), the replay of
 * policy suggest's lookups. */

/* The same for an IPv6 peer address. */
static inline uint32_t polcidr_group6(const struct pol_ep *ep, int dir, const char *ip6)
{
	struct xcni_polcidr_key k = {
		.prefixlen = XCNI_POLCIDR_PREFIX_BASE + 128, .ep = ep->ip, .dir = dir, .v6 = 1
	};
	const struct pol_cidr *best = NULL;

	assert_int_equal(inet_pton(AF_INET6, ip6, k.addr6), 1);
	for (size_t i = 0; i < ep->ncidrs; i++)
		if (pol_lpm_match(&ep->cidrs[i].key, &k, ep->cidrs[i].key.prefixlen) &&
		    (!best || ep->cidrs[i].key.prefixlen > best->key.prefixlen))
			best = &ep->cidrs[i];
	return best ? best->group : 0;
}

/* What an entry found decides (bpf/lib/policy.h, policy_hit): an audited denial passes. */
static inline bool polv_passes(uint16_t flags)
{
	return !(flags & XCNI_POLV_DENY) || (flags & XCNI_POLV_AUDIT);
}

/* The pod's egress to its own node is judged (bpf/lib/policy.h, XCNI_POLEP_HOST_EGRESS):
 * then a pod closed is closed to its node too. */
static inline bool host_judged(const struct pol_ep *ep, int dir)
{
	return dir == XCNI_DIR_FROM_POD && (ep->state.isolated & XCNI_POLEP_HOST_EGRESS);
}

/*
 * policy_judge's steps before the lookups, in its order: 1 allowed, 0
 * refused, -1 the entries decide. No entry at all (no agent judges here):
 * allowed.
 */
static inline int judge_first(const struct pol_ep *ep, int dir, uint32_t peer_id)
{
	if (!ep || (peer_id == XCNI_ID_HOST && !host_judged(ep, dir)))
		return 1;
	if (ep->state.isolated & XCNI_POLEP_OVERFLOW)
		return 0;
	if (!(ep->state.isolated & XCNI_ISOLATED(dir)))
		return 1;
	return peer_id == XCNI_ID_UNMANAGED ? 0 : -1;
}

/* One side's verdict; *hit says which entry allowed it (NULL: default allow). */
static inline bool side(const struct pol_result *r, uint32_t self, int dir, uint32_t peer_ip,
			uint8_t proto, uint16_t dport, const struct pol_entry **hit)
{
	const struct pol_ep *ep = pol_ep_find(r, self);
	uint32_t peers[3];
	int first;

	*hit = NULL;
	peers[0] = pol_ipcache_identity(r, peer_ip);
	/* Its own node: as any peer where the tiers compiled its egress. */
	if ((first = judge_first(ep, dir, peers[0])) >= 0)
		return first;
	peers[1] = pol_cidr_group(ep, dir, peer_ip);
	peers[2] = XCNI_ID_ANY;
	for (int i = 0; i < 3; i++) {
		if (i == 1 && !peers[1])
			continue;
		*hit = pol_entry_lookup(ep, dir, peers[i], proto, dport);
		if (*hit)
			return polv_passes((*hit)->val.flags);
	}
	return false;
}

/*
 * One side's verdict on an IPv6 peer, as flow_judge gives it (IPv6): self is the
 * local pod's policy key, peer_id what the ipcache6 says of the peer (world
 * for an address outside the cluster), then its ipBlock group, then any.
 */
static inline bool side6(const struct pol_result *r, uint32_t self, int dir, const char *peer6,
			 uint32_t peer_id, uint8_t proto, uint16_t dport)
{
	const struct pol_ep *ep = pol_ep_find(r, self);
	uint32_t peers[3];
	int first = judge_first(ep, dir, peer_id);

	if (first >= 0)
		return first;
	peers[0] = peer_id;
	peers[1] = polcidr_group6(ep, dir, peer6);
	peers[2] = XCNI_ID_ANY;
	for (int i = 0; i < 3; i++) {
		if (i == 1 && !peers[1])
			continue;
		const struct pol_entry *e = pol_entry_lookup(ep, dir, peers[i], proto, dport);

		if (e)
			return polv_passes(e->val.flags);
	}
	return false;
}

#endif
