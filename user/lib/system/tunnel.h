/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The overlay's tunnel endpoints: which underlay family this node reaches
 * another node in, and the endpoint an ipcache entry carries for it. Used by
 * the overlay (user/agent/overlay.c: the tunnel map) and by the policy
 * compiler (the ipcache entries of remote pods), so both say the same.
 */
#ifndef XCNI_TUNNEL_H
#define XCNI_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "xcni_shared.h"

/*
 * Is a node's tunnel endpoint (ip4, ip6 its InternalIPs; zero: none) its
 * IPv6 one: when this node's underlay is IPv6 or the node has no IPv4
 * InternalIP (an IPv6-only node); else its IPv4 one, as before ABI 9.
 */
static inline bool tunnel_v6(uint32_t ip4, const uint8_t ip6[16], bool underlay6)
{
	static const uint8_t none[16];

	return ip6 && memcmp(ip6, none, 16) && (underlay6 || !ip4);
}

/*
 * The underlay family this node reaches another node in: have4/have6, this
 * node has an underlay address of that family (--node-ip, or its underlay
 * device's); ip4/ip6, the other's InternalIPs (zero: none). 4 when both have
 * IPv4 (20 bytes less per packet, and what clusters did before ABI 9); else
 * 6 when both have IPv6; else 0: no family in common (an IPv4-only node and
 * an IPv6-only one), traffic between their pods is dropped with
 * drop-tunnel-family. tunnel_v6 with underlay6 = have6 && !have4 agrees
 * with it wherever this is not 0.
 */
static inline int tunnel_fam(uint32_t ip4, const uint8_t ip6[16], bool have4, bool have6)
{
	static const uint8_t none[16];

	if (have4 && ip4)
		return 4;
	if (have6 && ip6 && memcmp(ip6, none, 16))
		return 6;
	return 0;
}

/* That endpoint into v (XCNI_IPC_TUN6 for IPv6); the other endpoint field cleared. */
static inline void tunnel_set(struct xcni_ipcache_val *v, uint32_t ip4, const uint8_t ip6[16],
			      bool underlay6)
{
	static const uint8_t none[16];
	bool v6 = tunnel_v6(ip4, ip6, underlay6);

	v->tunnel_ip = v6 ? 0 : ip4;
	v->flags = v6 ? v->flags | XCNI_IPC_TUN6 : v->flags & ~XCNI_IPC_TUN6;
	memcpy(v->tunnel_ip6, v6 ? ip6 : none, 16);
}

#endif
