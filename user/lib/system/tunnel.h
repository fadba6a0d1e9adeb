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
 * IPv6 one: when this node reaches nodes at their IPv6 InternalIP first
 * (underlay6: tunnel_underlay6) or the node has no IPv4 InternalIP (an
 * IPv6-only node); else its IPv4 one, as before ABI 9.
 */
static inline bool tunnel_v6(uint32_t ip4, const uint8_t ip6[16], bool underlay6)
{
	static const uint8_t none[16];

	return ip6 && memcmp(ip6, none, 16) && (underlay6 || !ip4);
}

/*
 * tunnel_v6's underlay6 for this node: have4/have6, it has an underlay
 * address of that family (--node-ip, or its underlay device's); prefer6,
 * xcnid --tunnel-family ipv6. True on the IPv6 underlay alone, and on a node
 * of both families told to prefer IPv6 (every node with an IPv6 InternalIP
 * then at that one); false on a node of both by default (auto: IPv4 to every
 * node that has it, 20 bytes less per packet) and without IPv6.
 */
static inline bool tunnel_underlay6(bool have4, bool have6, bool prefer6)
{
	return have6 && (!have4 || prefer6);
}

/*
 * The underlay family this node reaches another node in (have4, have6,
 * prefer6 as tunnel_underlay6 takes them; ip4/ip6, the other's InternalIPs,
 * zero: none): the family of the endpoint tunnel_v6 picks, so the tunnel
 * map and the ipcache never disagree; 0 where this node has no address of
 * that family (an IPv4-only node and an IPv6-only one): traffic between
 * their pods is dropped with drop-tunnel-family.
 */
static inline int tunnel_fam(uint32_t ip4, const uint8_t ip6[16], bool have4, bool have6,
			     bool prefer6)
{
	if (tunnel_v6(ip4, ip6, tunnel_underlay6(have4, have6, prefer6)))
		return have6 ? 6 : 0;
	return have4 && ip4 ? 4 : 0;
}

/*
 * A node's endpoints into v: tunnel_ip its IPv4 InternalIP, tunnel_ip6 its
 * IPv6 one (zero: none), both kept whichever this node sends to, since a
 * node is accepted as the sender of its pods' packets at either (a rolling
 * change of --tunnel-family: the other node may send in the family this one
 * does not); XCNI_IPC_TUN6, the send choice (tunnel_v6): set, Geneve goes to
 * tunnel_ip6, else to tunnel_ip.
 */
static inline void tunnel_set(struct xcni_ipcache_val *v, uint32_t ip4, const uint8_t ip6[16],
			      bool underlay6)
{
	static const uint8_t none[16];
	bool v6 = tunnel_v6(ip4, ip6, underlay6);

	v->tunnel_ip = ip4;
	v->flags = v6 ? v->flags | XCNI_IPC_TUN6 : v->flags & ~XCNI_IPC_TUN6;
	memcpy(v->tunnel_ip6, ip6 ? ip6 : none, 16);
}

#endif
