/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel's conntrack table (nf_conntrack) over ctnetlink
 * (NFNL_SUBSYS_CTNETLINK): entries picked by a caller's test, deleted. Used by
 * xcnid's masquerade (flows that left before the rule, which the rule never
 * sees again) and the lab's kube-proxy (UDP flows DNATed to a gone endpoint).
 */
#ifndef XCNI_CTNL_H
#define XCNI_CTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One entry as the dump gave it. Addresses in network order, 4 bytes for AF_INET. */
struct ctnl_flow {
	int family;
	uint8_t proto;
	uint8_t osrc[16], odst[16]; /* original direction, as the first packet came */
	uint8_t rsrc[16], rdst[16]; /* reply direction: rsrc is where the flow really went */
	uint16_t osport, odport;    /* network order; 0 for protocols without ports */
	uint32_t status;            /* IPS_* (linux/netfilter/nf_conntrack_common.h) */
};

/* true: delete this entry. */
typedef bool (*ctnl_pick_fn)(const struct ctnl_flow *f, void *arg);

/*
 * Every entry of family (AF_INET or AF_INET6) that pick chooses, deleted, in
 * the netns at netns_path (NULL: the caller's own). The table is dumped first
 * and the chosen entries deleted after the dump is over (deleting while the
 * kernel walks the table could make it skip entries); an entry gone in
 * between (ENOENT) is what was wanted. Returns how many were deleted, or
 * -errno with what failed in err.
 */
int ctnl_delete(const char *netns_path, int family, ctnl_pick_fn pick, void *arg, char *err,
		size_t errlen);

#endif
