// SPDX-License-Identifier: Apache-2.0
/*
 * Fragments, both families: the first opens the flow and leaves its ports,
 * the later ones follow it; a later one whose first was never seen, or of
 * another datagram, is dropped. IPv6's fragment header also behind other
 * extension headers. The pods' IPv6 addresses are parse.c's v6_setup's (prep).
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

#define A6 "fd00:99::a"
#define B6 "fd00:99::b"

/* An IPv4 fragment: offset in 8-byte units, more fragments, the datagram's id. */
#define FRAG4(off, more, id) .frag = (off) | (more) << 13, .ipid = (id)
/* An IPv6 fragment header: the same. */
#define FRAG6(off, more, id) EXTHDRS(IPPROTO_FRAGMENT), .frag = (off) << 3 | (more), .ipid = (id)

/*
 * The fragments of both families (fam, A and B, F: FRAG4 or FRAG6; the
 * datagrams' ids: none seen first, the flow's, another, the reply's): the first opens the flow and leaves its ports; the later ones (their
 * L4 bytes here claim other ports: they are payload) follow it.
 */
#define FRAG_ROWS(fam, a, b, F, id0, id, other, reply)                                             \
	{ fam "fragment: offset 8 with no first fragment seen: dropped", .dev = DEV_A,             \
	  UDP(a, 1, b, 2), F(1, 0, id0), SHOT(DROP_FRAGMENT, EV_ADDRS) },                          \
	{ fam "fragment: first (MF set) opens the flow", .dev = DEV_A, F(0, 1, id),                \
	  UDP(a, 1, b, 2), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },                                  \
	{ fam "fragment: a later one of the same datagram follows it (ports from the first)",      \
	  .dev = DEV_A, F(185, 1, id), UDP(a, 1, b, 2), REDIR(FWD_LOCAL) },                        \
	{ fam "fragment: the last one, its bytes where ports would be say 7/8", .dev = DEV_A,      \
	  F(370, 0, id), UDP(a, 7, b, 8), REDIR(FWD_LOCAL), .no_ct = true },                       \
	{ fam "fragment: a later one of another datagram (id): dropped", .dev = DEV_A,             \
	  F(185, 0, other), UDP(a, 1, b, 2), SHOT(DROP_FRAGMENT, EV_ADDRS) },                      \
	{ fam "fragment: the reply's first fragment", .dev = DEV_B, F(0, 1, reply),                \
	  UDP(b, 2, a, 1), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },          \
	{ fam "fragment: the reply's later fragment passes as a reply", .dev = DEV_B,              \
	  F(185, 0, reply), UDP(b, 2, a, 1), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED,          \
	  .ct_rev = true }

static const struct row frag_rows[] = {
	FRAG_ROWS("", IP_A, IP_B, FRAG4, 0, 0x0f01, 0x0f02, 0x0f03),
	FRAG_ROWS("IPv6: ", A6, B6, FRAG6, 0x77, 0x78, 0x7a, 0x7b),
	/* Behind a destination options header, the first fragment's too. */
	{ "IPv6: a first fragment behind destination options", .dev = DEV_A,
	  UDP(A6, 7002, B6, 7003), EXTHDRS(60, IPPROTO_FRAGMENT), .frag = 0 << 3 | 1, .ipid = 0x79,
	  REDIR(FWD_LOCAL) },
	{ "IPv6: its later fragment, behind destination options", .dev = DEV_A, UDP(A6, 9, B6, 9),
	  EXTHDRS(60, IPPROTO_FRAGMENT), .frag = 100 << 3, .ipid = 0x79, REDIR(FWD_LOCAL) },
};

const struct group frag_group = { "frag", ROWS(frag_rows), .prep = v6_endpoints };
