// SPDX-License-Identifier: Apache-2.0
/*
 * IPv4 fragments: the first opens the flow and leaves its ports, the later
 * ones follow it.
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

static const struct row frag_rows[] = {
	/* Fragments: the first opens the flow and leaves its ports; the later ones
	 * (their L4 bytes here claim other ports: they are payload) follow it. */
	{ "fragment: offset 8 with no first fragment seen: dropped", .dev = DEV_A, .frag = 1,
	  UDP(IP_A, 1, IP_B, 2), SHOT(DROP_FRAGMENT, EV_ADDRS) },
	{ "fragment: first (MF set) opens the flow", .dev = DEV_A, .frag = 0x2000, .ipid = 0x0f01,
	  UDP(IP_A, 1, IP_B, 2), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "fragment: a later one of the same datagram follows it (ports from the first)",
	  .dev = DEV_A, .frag = 0x2000 | 185, .ipid = 0x0f01, UDP(IP_A, 1, IP_B, 2),
	  REDIR(FWD_LOCAL) },
	{ "fragment: the last one, its bytes where ports would be say 7/8", .dev = DEV_A,
	  .frag = 370, .ipid = 0x0f01, UDP(IP_A, 7, IP_B, 8), REDIR(FWD_LOCAL), .no_ct = true },
	{ "fragment: a later one of another datagram (id): dropped", .dev = DEV_A, .frag = 185,
	  .ipid = 0x0f02, UDP(IP_A, 1, IP_B, 2), SHOT(DROP_FRAGMENT, EV_ADDRS) },
	{ "fragment: the reply's first fragment", .dev = DEV_B, .frag = 0x2000, .ipid = 0x0f03,
	  UDP(IP_B, 2, IP_A, 1), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	{ "fragment: the reply's later fragment passes as a reply", .dev = DEV_B, .frag = 185,
	  .ipid = 0x0f03, UDP(IP_B, 2, IP_A, 1), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED,
	  .ct_rev = true },
};

const struct group frag_group = { "frag", ROWS(frag_rows) };
