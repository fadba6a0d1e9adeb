/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 4 of the lab: the underlay (netns xcl-ul: a bridge standing for the
 * switch, a veth to every node) and the outside (netns xcl-out, routed behind
 * it, with a listener telling every peer the address it saw).
 */
#ifndef XCNI_LAB_UNDERLAY_H
#define XCNI_LAB_UNDERLAY_H

#include "lab/serve.h"
#include "lab/state.h"
#include "lab/sys.h"

/*
 * The underlay: one switch (bridge br0 in netns xcl-ul), node i plugged in
 * through port ul-n<i>, seen in the node as ul0 with 192.168.77.<i>/24.
 */
#define LAB_UL_NETNS LAB_NETNS_PREFIX "ul"
#define LAB_UL_BRIDGE "br0"
#define LAB_UL_DEV "ul0"
#define LAB_UL_PREFIX "192.168.77."
#define LAB_UL_PLEN 24
#define LAB_UL_MTU 1500
/* The underlay's router: the nodes' default gateway, on the switch. */
#define LAB_UL_GW LAB_UL_PREFIX "254"
/*
 * The outside (the internet, for the cluster): netns xcl-out, linked to the
 * router in xcl-ul by a veth, ul-out 198.51.100.254/24 there and eth0
 * 198.51.100.1/24 here, routing back to the underlay only (never to a pod
 * CIDR: only masqueraded traffic gets answers). It runs a lab serve that
 * tells every peer the address it saw.
 */
#define LAB_OUT_NETNS LAB_NETNS_PREFIX "out"
#define LAB_OUT_DEV "eth0"
#define LAB_OUT_UL_DEV "ul-out"
#define LAB_OUT_IP "198.51.100.1"
#define LAB_OUT_GW "198.51.100.254"
#define LAB_OUT_PLEN 24
/*
 * Its second and third addresses (both families where it has the family):
 * the lab's DNS names outside hosts with them (lab/dns.h), so a policy by
 * DNS name has addresses to tell apart.
 */
#define LAB_OUT_IP_B "198.51.100.2"
#define LAB_OUT_IP_C "198.51.100.3"
#define LAB_OUT_IP6_B "2001:db8:100::2"
#define LAB_OUT_IP6_C "2001:db8:100::3"
#define LAB_OUT_PORTS { "80/tcp", "53/udp" }
/*
 * IPv6 on the underlay (ipv6 and dual stack labs): node i's ul0
 * fd00:77::<i>/64, the router fd00:77::254 on the switch and
 * 2001:db8:100::254/64 to the outside, the outside 2001:db8:100::1/64
 * (documentation prefix, as 198.51.100.0/24 is), routing back to fd00:77::/64
 * only. In dual stack it is the nodes' second InternalIP, beside the IPv4 one
 * that the Geneve underlay keeps; in an ipv6 lab (lab_ul_v6only) the underlay
 * has no IPv4 at all: the nodes' only InternalIP, xcnid's --node-ip, Geneve
 * over IPv6, the router and the outside of IPv6 alone. A dual stack lab
 * with --ipv6-only-nodes mixes both: those nodes are as an ipv6 lab's
 * (lab_node_ul6only), the others keep both families and reach them over IPv6.
 */
#define LAB_UL_PREFIX6 "fd00:77::"
#define LAB_UL_PLEN6 64
#define LAB_UL_GW6 LAB_UL_PREFIX6 "254"
#define LAB_OUT_IP6 "2001:db8:100::1"
#define LAB_OUT_GW6 "2001:db8:100::254"
#define LAB_OUT_PLEN6 64
/*
 * Static link-local addresses, the only ones on the underlay (nothing is
 * autoconfigured): the router's two links fe80::fe, node i's ul0 fe80::<i>,
 * the outside's eth0 fe80::1. A host forwarding a packet (a router; a node,
 * its pods' replies) has no address of the packet's to send a neighbour
 * solicitation from, and the kernel then sends it from the link's link-local
 * address, or not at all; so does every host probing a stale entry (no
 * packet queued) and the router probing of a route lookup (rt6_probe). The
 * outside had none: its gateway's entry, once stale, could not be probed and
 * turned FAILED; a route lookup a minute later made it INCOMPLETE with no
 * probe left, and the next SYN was dropped with it (a 1 s probe lost on 6.1
 * under emulation, where the suites' steps are minutes apart).
 */
#define LAB_UL_LL6 "fe80::fe"
#define LAB_OUT_LL6 "fe80::1"
#define LAB_UL_LL6_PREFIX "fe80::"
/* What the pods get: the underlay's MTU less Geneve's 50 bytes (the plugin caps it too). */
#define LAB_POD_MTU (LAB_UL_MTU - 50)
/* ... and over an IPv6 underlay (an ipv6 lab) its 70. */
#define LAB_POD_MTU6 (LAB_UL_MTU - 70)

/*
 * Whether the underlay is IPv6 alone (an ipv6 lab, as an IPv6-only cluster's
 * nodes have no IPv4 address). n->ip (192.168.77.<i>) then only numbers the
 * node: no link carries it, and lab_node_ip6 is its address.
 */
static inline bool lab_ul_v6only(const struct lab *lab)
{
	return lab->family == LAB_FAM_V6;
}
/*
 * Whether node n's underlay is IPv6 alone: every node's in an ipv6 lab, and
 * in a dual stack lab the nodes lab up --ipv6-only-nodes named (n->ul6only:
 * ul0 fd00:77::<i> alone, its only InternalIP and xcnid's --node-ip; the
 * other nodes keep both families and reach it in Geneve over IPv6).
 */
static inline bool lab_node_ul6only(const struct lab *lab, const struct lab_node *n)
{
	return lab_ul_v6only(lab) || n->ul6only;
}
/*
 * Whether some Geneve between the lab's nodes is IPv6 (an ipv6 lab,
 * --ipv6-only-nodes, --tunnel-family ipv6): every pod then gets
 * LAB_POD_MTU6, the IPv6 underlay's, as xcnid's pod_mtu says.
 */
static inline bool lab_ul_mtu6(const struct lab *lab)
{
	return lab_ul_v6only(lab) || lab->ul_mixed || lab->tun6;
}
/*
 * Node n's underlay address as the cluster sees it (its first InternalIP):
 * lab_node_ip6 where its underlay is IPv6 alone (lab_node_ul6only), n->ip
 * otherwise. Never NULL.
 */
const char *lab_node_addr(const struct lab *lab, const struct lab_node *n, char *buf, size_t len);
/* The outside's address the lab names: LAB_OUT_IP6 in an ipv6 lab, LAB_OUT_IP otherwise. */
static inline const char *lab_out_addr(const struct lab *lab)
{
	return lab_ul_v6only(lab) ? LAB_OUT_IP6 : LAB_OUT_IP;
}

/* Netns xcl-ul and its bridge; sets lab->underlay (and saves) once the netns exists. */
int lab_underlay_create(struct lab *lab);
/*
 * Plugs node n into the switch: ul-n<i> on the bridge, ul0 with n->ip in the
 * node (and its IPv6 address in an ipv6 or dual stack lab). xdp_peer: the
 * node's agent attaches native XDP to ul0, so ul-n<i> gets a native XDP
 * program of its own that passes everything (lab_ul_port_xdp_pass).
 */
int lab_underlay_join(const struct lab *lab, const struct lab_node *n, bool xdp_peer);
/*
 * With n->nic set ($XCNI_LAB_UL_NIC, node n1: NODE_DEV:SWITCH_DEV, two NICs of
 * the lab's netns on one wire, as a VM's virtio-net ones) lab_underlay_join
 * moves NODE_DEV into the node as ul0 and SWITCH_DEV into xcl-ul as ul-n1:
 * the node's XDP runs on a real driver. lab_underlay_nic_return moves them
 * back under their names (lab down; a no-op without n->nic). 0 or -errno (said).
 */
int lab_underlay_nic_return(const struct lab_node *n);
/* n->nic from $XCNI_LAB_UL_NIC, both devices there; 0 if unset, else 0 or -errno (said). */
int lab_underlay_nic_take(struct lab_node *n);
/*
 * Node n's IPv6 underlay address (LAB_UL_PREFIX6 and n->ip's last byte) in
 * buf (LAB_ADDR6_LEN), in an ipv6 or dual stack lab; "" otherwise. 0 or -EINVAL.
 */
int lab_node_ip6(const struct lab *lab, const struct lab_node *n, char *buf, size_t len);
/* Removes netns xcl-ul (its links go with it) if this lab made it. */
int lab_underlay_delete(struct lab *lab);
/* Netns xcl-out behind xcl-ul's router; sets lab->outside (and saves) once it exists. */
int lab_outside_create(struct lab *lab);
/* Starts the outside's listener (LAB_OUT_PORTS, telling peers what it saw) in xcl-out. */
int lab_outside_serve(struct lab *lab);
/* Stops the outside's listener and removes netns xcl-out if this lab made it. */
int lab_outside_delete(struct lab *lab);

#endif
