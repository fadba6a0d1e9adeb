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
#define LAB_OUT_PORTS { "80/tcp", "53/udp" }
/* What the pods get: the underlay's MTU less Geneve's 50 bytes (the plugin caps it too). */
#define LAB_POD_MTU (LAB_UL_MTU - 50)

/* Netns xcl-ul and its bridge; sets lab->underlay (and saves) once the netns exists. */
int lab_underlay_create(struct lab *lab);
/* Plugs node n into the switch: ul-n<i> on the bridge, ul0 with n->ip in the node. */
int lab_underlay_join(const struct lab_node *n);
/* Removes netns xcl-ul (its links go with it) if this lab made it. */
int lab_underlay_delete(struct lab *lab);
/* Netns xcl-out behind xcl-ul's router; sets lab->outside (and saves) once it exists. */
int lab_outside_create(struct lab *lab);
/* Starts the outside's listener (LAB_OUT_PORTS, telling peers what it saw) in xcl-out. */
int lab_outside_serve(struct lab *lab);
/* Stops the outside's listener and removes netns xcl-out if this lab made it. */
int lab_outside_delete(struct lab *lab);

#endif
