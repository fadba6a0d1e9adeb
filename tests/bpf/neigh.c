// SPDX-License-Identifier: Apache-2.0
/*
 * Neighbour discovery, IPv4: ARP from and to a pod.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/pkt_cls.h>

#include "harness.h"

static const struct row neigh_rows[] = {
	{ "ARP from A's own IP: passed", .dev = DEV_A, ARP(IP_A, IP_GW), OK(PASS_ARP) },
	{ "ARP from A claiming B's IP: spoofed", .dev = DEV_A, ARP(IP_B, IP_GW),
	  SHOT(DROP_SPOOF_IP, EV_ZERO) },
	{ "ARP to_pod: passed", .prog = TO_POD, .dev = DEV_A, ARP(IP_GW, IP_A), OK(PASS_ARP) },
};

const struct group neigh_group = { "neigh", ROWS(neigh_rows) };
