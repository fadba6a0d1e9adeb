// SPDX-License-Identifier: Apache-2.0
/*
 * Neighbour discovery, both families: ARP from and to a pod, IPv6 neighbour
 * solicitations and advertisements (the gateway's answered in BPF, RFC 4861),
 * a pod sending router advertisements. The pods' IPv6 addresses are
 * parse.c's v6_setup's (prep).
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
#define LL_A "fe80::a"
#define GW6 "fe80::1"

static void in6(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

/* The ICMPv6 checksum (RFC 4443 2.3) over frame buf of len bytes, computed here. */
static uint16_t icmp6_csum(const uint8_t *buf, size_t len)
{
	uint8_t ph[40 + FRAME_MAX] = { 0 };
	size_t plen = len - 54;

	memcpy(ph, buf + 22, 32);
	ph[34] = plen >> 8;
	ph[35] = plen & 0xff;
	ph[39] = 58;
	memcpy(ph + 40, buf + 54, plen);
	ph[42] = ph[43] = 0;
	return csum(ph, 40 + plen);
}

/* IPv6 addresses as bytes, for the tails below. */
#define FE80(x) 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x
#define FD99A 0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa
#define FD99B 0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb
/* A Neighbor Solicitation's tail (after type, code, checksum): reserved, the
 * target, a source link-layer address option with mac. */
#define NS_TAIL(target, mac...) \
	.tail = (const uint8_t[]){ 0, 0, 0, 0, target, 1, 1, mac }, .tail_len = 4 + 16 + 8
#define MAC_A 2, 0, 0, 0, 0, 0xa
#define MAC_A_HOST 2, 0, 0, 0, 1, 0xa
#define MAC_EVIL 2, 0xba, 0xd, 0, 0, 1
/* A Neighbor Advertisement's (Override) for target. */
#define NA_TAIL(target) .tail = (const uint8_t[]){ 0x60, 0, 0, 0, target }, .tail_len = 4 + 16

/* The advertisements the gateway answers with, written by neigh_prep (their checksums). */
static uint8_t na_ll[86], na_a[86];

/* The gateway's advertisement to dst, written out byte by byte from RFC 4861 4.4. */
static void na_of(uint8_t na[86], const char *dst)
{
	uint16_t c;

	memset(na, 0, 86);
	memcpy(na, pods[DEV_A].mac, ETH_ALEN);
	memcpy(na + 6, pods[DEV_A].host_mac, ETH_ALEN);
	na[12] = 0x86, na[13] = 0xdd, na[14] = 0x60;
	na[19] = 32; /* payload: NA 24 + target link-layer option 8 */
	na[20] = 58, na[21] = 255;
	in6(GW6, na + 22);
	in6(dst, na + 38);
	na[54] = 136; /* Neighbor Advertisement, code 0 */
	na[58] = 0xe0; /* Router, Solicited, Override */
	in6(GW6, na + 62);
	na[78] = 2, na[79] = 1; /* target link-layer address, 8 bytes */
	memcpy(na + 80, pods[DEV_A].host_mac, ETH_ALEN);
	c = icmp6_csum(na, 86);
	memcpy(na + 56, &c, 2);
}

static int neigh_prep(void)
{
	na_of(na_ll, LL_A);
	na_of(na_a, A6);
	return v6_endpoints();
}

static const struct row neigh_rows[] = {
	/* ARP: a pod may claim its own address only. */
	{ "ARP from A's own IP: passed", .dev = DEV_A, ARP(IP_A, IP_GW), OK(PASS_ARP) },
	{ "ARP from A claiming B's IP: spoofed", .dev = DEV_A, ARP(IP_B, IP_GW),
	  SHOT(DROP_SPOOF_IP, EV_ZERO) },
	{ "ARP to_pod: passed", .prog = TO_POD, .dev = DEV_A, ARP(IP_GW, IP_A), OK(PASS_ARP) },

	/* IPv6: the gateway's solicitations answered here. */
	{ "NS for the gateway from A's link-local: answered", .dev = DEV_A,
	  ICMPV6(LL_A, "ff02::1:ff00:1", 135, 0), .ttl = 255, NS_TAIL(FE80(1), MAC_A),
	  REDIR(PASS_ARP), .want = na_ll, .want_len = sizeof(na_ll) },
	/* From the pod's own address, unicast (the reachability probe). */
	{ "NS for the gateway from A's own address, unicast: answered", .dev = DEV_A,
	  ICMPV6(A6, GW6, 135, 0), .ttl = 255, NS_TAIL(FE80(1), MAC_A), REDIR(PASS_ARP),
	  .want = na_a, .want_len = sizeof(na_a) },
	/* Hop limit not 255: not from the link (RFC 4861 7.1.1), not answered:
	 * dropped (tests/bpf/attack_nd.c has the other types). */
	{ "NS with hop limit 64: not from the link", .dev = DEV_A,
	  ICMPV6(LL_A, "ff02::1:ff00:1", 135, 0), .ttl = 64, NS_TAIL(FE80(1), MAC_A),
	  SHOT(DROP_BAD_ND, EV_FULL) },
	/* Soliciting another address: the host's to answer. */
	{ "NS for fe80::2: the host's", .dev = DEV_A, ICMPV6(LL_A, "ff02::1:ff00:2", 135, 0),
	  .ttl = 255, NS_TAIL(FE80(2), MAC_A), OK(PASS_ARP) },
	/* A solicitation whose link-layer option names another MAC. */
	{ "NS naming another MAC", .dev = DEV_A, ICMPV6(LL_A, "ff02::1:ff00:1", 135, 0),
	  .ttl = 255, NS_TAIL(FE80(1), MAC_EVIL), SHOT(DROP_SPOOF_MAC, EV_FULL) },
	/* An advertisement for B's address from A: a spoof (ARP's claim of B's IP). */
	{ "NA for B's address from A", .dev = DEV_A, ICMPV6(A6, GW6, 136, 0), .ttl = 255,
	  NA_TAIL(FD99B), SHOT(DROP_SPOOF_IP, EV_FULL) },
	/* ... for its own: passed. */
	{ "NA for its own", .dev = DEV_A, ICMPV6(A6, GW6, 136, 0), .ttl = 255, NA_TAIL(FD99A),
	  OK(PASS_ARP) },
	/* A pod is no router. */
	{ "a router advertisement from A", .dev = DEV_A, ICMPV6(LL_A, "ff02::1", 134, 0),
	  .ttl = 255, .tail = (const uint8_t[]){ 0, 0, 0, 1 }, .tail_len = 4,
	  SHOT(DROP_SPOOF_IP, EV_FULL) },
	/* The host solicits the pod: to_pod passes it (ARP to_pod's twin). */
	{ "the host's NS for A, in to_pod", .prog = TO_POD, .dev = DEV_A,
	  ICMPV6(GW6, "ff02::1:ff00:a", 135, 0), .ttl = 255, NS_TAIL(FD99A, MAC_A_HOST),
	  OK(PASS_ARP) },
};

const struct group neigh_group = { "neigh", ROWS(neigh_rows), .prep = neigh_prep };
