// SPDX-License-Identifier: Apache-2.0
/*
 * What from_pod and to_pod make of a frame before any verdict, IPv4: spoofed
 * sources, parties with no endpoint, truncated and malformed headers.
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

static const uint8_t mac_evil[ETH_ALEN] = { 2, 0xba, 0xd, 0, 0, 1 };

static const struct row parse_rows[] = {
	/* Anti-spoofing and unknown parties. */
	{ "A with B's IP: spoofed", .dev = DEV_A, UDP(IP_B, 1000, "8.8.8.8", 53),
	  SHOT(DROP_SPOOF_IP, EV_FULL) },
	{ "A with a foreign MAC: spoofed", .dev = DEV_A, .smac = mac_evil,
	  UDP(IP_A, 1000, "8.8.8.8", 53), SHOT(DROP_SPOOF_MAC, EV_ZERO) },
	{ "A->unknown address in the pod CIDR", .dev = DEV_A, UDP(IP_A, 1000, "10.99.5.99", 53),
	  SHOT(DROP_UNKNOWN_DST, EV_FULL) },
	{ "device without endpoint", .dev = DEV_X, UDP(IP_A, 1000, IP_B, 53),
	  SHOT(DROP_NO_ENDPOINT, EV_ZERO) },
	{ "device without endpoint via to_pod", .prog = TO_POD, .dev = DEV_X,
	  UDP(IP_B, 1000, IP_A, 53), SHOT(DROP_NO_ENDPOINT, EV_ZERO) },
	{ "IPv6 from a device with no IPv6 endpoint (tests/bpf/v6.c: the rest)", .dev = DEV_X,
	  .eth = ETH_P_IPV6, SHOT(DROP_NO_ENDPOINT, EV_ZERO) },
	{ "IPv6 via to_pod, no IPv6 endpoint", .prog = TO_POD, .dev = DEV_X, .eth = ETH_P_IPV6,
	  SHOT(DROP_NO_ENDPOINT, EV_ZERO) },

	/* Malformed. The test run refuses frames under ETH_HLEN, and IPv4 ones
	 * under ETH_HLEN + 20 (-EINVAL, kernel 6.18): a truncated Ethernet or IPv4
	 * header cannot reach the programs, so the shortest accepted frames stand in. */
	{ "10-byte frame: refused by the kernel", .dev = DEV_A, ARP(IP_A, IP_GW), .cut = 10,
	  .err = -EINVAL },
	{ "14-byte frame (shortest accepted): truncated ARP", .dev = DEV_A, ARP(IP_A, IP_GW),
	  .cut = ETH_HLEN, SHOT(DROP_SHORT, EV_ZERO) },
	{ "truncated ARP body", .dev = DEV_A, ARP(IP_A, IP_GW), .cut = ETH_HLEN + 12,
	  SHOT(DROP_SHORT, EV_ZERO) },
	{ "eth + 10 bytes of IPv4: refused by the kernel", .dev = DEV_A, UDP(IP_A, 1, IP_B, 2),
	  .cut = ETH_HLEN + 10, .err = -EINVAL },
	{ "eth + IPv4 header, no UDP header (shortest IPv4 accepted)", .dev = DEV_A,
	  UDP(IP_A, 1, IP_B, 2), .tot_len = 20, .cut = ETH_HLEN + 20, SHOT(DROP_SHORT, EV_ADDRS) },
	{ "eth + IPv4 header, no UDP header via to_pod", .prog = TO_POD, .dev = DEV_A,
	  UDP(IP_B, 1, IP_A, 2), .tot_len = 20, .cut = ETH_HLEN + 20, SHOT(DROP_SHORT, EV_ADDRS) },
	{ "truncated TCP header", .dev = DEV_A, TCP(IP_A, 1, IP_B, 2, TH_SYN), .tot_len = 30,
	  .cut = ETH_HLEN + 20 + 10, SHOT(DROP_SHORT, EV_ADDRS) },
	{ "truncated TCP header, tot_len claiming all of it", .dev = DEV_A,
	  TCP(IP_A, 1, IP_B, 2, TH_SYN), .cut = ETH_HLEN + 20 + 10, SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "IHL 4", .dev = DEV_A, .ihl = 4, UDP(IP_A, 1, IP_B, 2), SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "IHL 15, tot_len 20", .dev = DEV_A, .ihl = 15, .tot_len = 20, UDP(IP_A, 1, IP_B, 2),
	  SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "IHL 15, options cut short", .dev = DEV_A, .ihl = 15, UDP(IP_A, 1, IP_B, 2),
	  .cut = ETH_HLEN + 40, SHOT(DROP_SHORT, EV_ZERO) },
};

const struct group parse_group = { "parse", ROWS(parse_rows) };
