// SPDX-License-Identifier: Apache-2.0
/*
 * IPv6 through from_pod and to_pod (BPF_PROG_TEST_RUN), on the IPv4 node
 * the rows of conntrack.c to events.c leave (prep node4_state). Every test is
 * a table of rows (harness.h's struct row, IPv6 by its addresses, frames by
 * the harness's one builder) run in order by check_rows: the verdict, the one
 * (reason, direction) counter it bumps, the output bytes, the event, the
 * conntrack entry; policy changes are step rows.
 *
 *   xta  A 10.99.5.10  fd00:99::a   dual stack: its policy key is its IPv4
 *   xtb  B 10.99.5.11  fd00:99::b
 *   xtc  C 10.99.5.12  fd00:99::c
 *   xtx  X             fd00:99::d   IPv6 only: policy key 0.0.0.7 (polkey6)
 *   gateway fe80::1 on every host veth; ipcache6: A, B, C, X by identity
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/pkt_cls.h>

#include "harness.h"

#define ID_A 1000
#define ID_B 1001
#define ID_C 1002
#define ID_X 1003
#define A6 "fd00:99::a"
#define B6 "fd00:99::b"
#define C6 "fd00:99::c"
#define X6 "fd00:99::d"
#define LL_A "fe80::a"
#define GW6 "fe80::1"
#define WORLD6 "2001:db8::53"
#define KEY_X "0.0.0.7"
#define SVC6 "fd00:10:96::a" /* in from_pod's IPv6 Service range fd00:10:96::/108 */

static const uint8_t mac_evil[ETH_ALEN] = { 2, 0xba, 0xd, 0, 0, 1 };

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

/* An allow entry (exact port) of ep's policy version 0 in dir. */
static void allow6(uint32_t ep, uint8_t dir, uint32_t peer, uint8_t proto, uint16_t port,
		   uint32_t policy_id)
{
	struct xcni_polhash_key k = { .ep = ep, .peer = peer, .dir = dir, .proto = proto,
				      .port = htons(port) };
	struct xcni_policy_val v = { .policy_id = policy_id };

	assert_int_equal(bpf_map_update_elem(map_fd("xcni_policy"), &k, &v, BPF_ANY), 0);
}

static void isolate(uint32_t ep, uint32_t id, uint8_t isolated)
{
	struct xcni_polep v = { .identity = id, .isolated = isolated };

	assert_int_equal(bpf_map_update_elem(map_fd("xcni_polep"), &ep, &v, BPF_ANY), 0);
	assert_int_equal(polrev_bump(), 0);
}

static void open_up(uint32_t ep)
{
	bpf_map_delete_elem(map_fd("xcni_polep"), &ep);
	assert_int_equal(polrev_bump(), 0);
}

static void ipc6(const char *a, uint32_t id)
{
	struct xcni_ipcache6_key k = { .prefixlen = 128 };
	struct xcni_ipcache_val v = { .identity = id, .flags = XCNI_IPC_POD };

	in6(a, k.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &k, &v, BPF_ANY), 0);
}

void v6_setup(void **state)
{
	int efd = map_fd("xcni_endpoints6"), ifd = map_fd("xcni_ifindex6");
	static const uint32_t ids[NR_DEVS] = { ID_A, ID_B, ID_C, ID_X };
	struct xcni_in6 key;
	uint32_t kx = ip4(KEY_X);

	(void)state;
	for (int i = 0; i < NR_DEVS; i++) {
		struct xcni_endpoint ep = { .ifindex = env.ifindex[i], .ep_id = pod_ep6_id(i) };
		uint32_t ifindex = env.ifindex[i];

		if (!pods[i].ip6)
			continue;
		memcpy(ep.pod_mac, pods[i].mac, ETH_ALEN);
		memcpy(ep.host_mac, pods[i].host_mac, ETH_ALEN);
		in6(pods[i].ip6, key.addr);
		assert_int_equal(bpf_map_update_elem(efd, &key, &ep, BPF_NOEXIST), 0);
		assert_int_equal(bpf_map_update_elem(ifd, &ifindex, &key, BPF_NOEXIST), 0);
		ipc6(pods[i].ip6, ids[i]);
	}
	/* X is IPv6-only: its policy key is the agent's, from 0.0.0.0/8. */
	in6(X6, key.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_polkey6"), &key, &kx, BPF_NOEXIST), 0);
	open_up(ip4(IP_A));
	open_up(ip4(IP_B));
	open_up(kx);
}

/*
 * The row table (harness.h's struct row, IPv6 by its addresses): each row one
 * packet, its frame built by the harness, checked by check_row (verdict,
 * counter, output bytes, event, conntrack entry). A test runs its rows in
 * order: later ones answer earlier ones.
 */
static const struct row v6_tcp_rows[] = {
	{ "A->B SYN: a new flow", .dev = DEV_A, TCP(A6, 40000, B6, 80, TH_SYN), REDIR(FWD_LOCAL),
	  .ct = XCNI_CT_NEW },
	{ "B->A SYN+ACK: the reply establishes it", .dev = DEV_B, TCP(B6, 80, A6, 40000,
	  TH_SYN | TH_ACK), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	{ "A->B data", .dev = DEV_A, TCP(A6, 40000, B6, 80, TH_ACK | TH_PUSH), REDIR(FWD_LOCAL) },
	{ "B->A SYN+ACK of no flow: invalid, nothing left", .dev = DEV_B,
	  TCP(B6, 80, A6, 40001, TH_SYN | TH_ACK), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true },
	{ "A->B hop limit 1: the stack answers", .dev = DEV_A, TCP(A6, 40000, B6, 80, TH_SYN),
	  .ttl = 1, OK(FWD_STACK) },
};

static void v6_tcp_flow(void **state)
{
	(void)state;
	check_rows(v6_tcp_rows, ARRAY_SIZE(v6_tcp_rows));
}

static const struct row v6_udp_echo_rows[] = {
	{ "UDP A->B", .dev = DEV_A, UDP(A6, 5353, B6, 53), REDIR(FWD_LOCAL) },
	{ "UDP B->A: the reply", .dev = DEV_B, UDP(B6, 53, A6, 5353), REDIR(FWD_REPLY),
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	{ "echo request A->B", .dev = DEV_A, ICMPV6(A6, B6, 128, 7), REDIR(FWD_LOCAL),
	  .ct = XCNI_CT_NEW },
	{ "echo reply B->A", .dev = DEV_B, ICMPV6(B6, A6, 129, 7), REDIR(FWD_REPLY) },
	{ "echo reply of no request", .dev = DEV_B, ICMPV6(B6, A6, 129, 8),
	  SHOT(DROP_CT_INVALID, EV_FULL) },
	/* To the world through the stack, and the reply back through to_pod. */
	{ "UDP A->world: the stack's", .dev = DEV_A, UDP(A6, 40053, WORLD6, 53), OK(FWD_STACK) },
	{ "UDP world->A in to_pod: the reply", .prog = TO_POD, .dev = DEV_A,
	  UDP(WORLD6, 53, A6, 40053), OK(FWD_REPLY) },
};

static void v6_udp_echo(void **state)
{
	(void)state;
	check_rows(v6_udp_echo_rows, ARRAY_SIZE(v6_udp_echo_rows));
}

static const struct row v6_spoof_rows[] = {
	{ "A with B's address", .dev = DEV_A, UDP(B6, 1000, C6, 53), SHOT(DROP_SPOOF_IP, EV_FULL) },
	{ "A with another MAC", .dev = DEV_A, UDP(A6, 1000, B6, 53), .smac = mac_evil,
	  SHOT(DROP_SPOOF_MAC, EV_ZERO) },
	/* A link-local source speaks neighbour discovery and to the gateway only. */
	{ "link-local source to B", .dev = DEV_A, UDP(LL_A, 1000, B6, 53),
	  SHOT(DROP_SPOOF_IP, EV_FULL) },
	{ "link-local source, echo to the gateway", .dev = DEV_A, ICMPV6(LL_A, GW6, 128, 9),
	  OK(FWD_STACK) },
	/* ... tracked: the gateway's answer is a reply. */
	{ "the gateway's echo reply", .prog = TO_POD, .dev = DEV_A, ICMPV6(GW6, LL_A, 129, 9),
	  OK(FWD_REPLY) },
	{ "X with an address not its own", .dev = DEV_X, UDP("fd00:99::e", 1000, A6, 53),
	  SHOT(DROP_SPOOF_IP, EV_FULL) },
	/* A device without an IPv6 endpoint. */
	{ "a device without an IPv6 endpoint", .dev = DEV_U, UDP(A6, 1000, B6, 53),
	  SHOT(DROP_NO_ENDPOINT, EV_ZERO) },
};

static void v6_spoof(void **state)
{
	(void)state;
	check_rows(v6_spoof_rows, ARRAY_SIZE(v6_spoof_rows));
}

/* A Neighbor Solicitation from A for target, options: a source link-layer address. */
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

/* The advertisements the gateway answers with, written by v6_ndp (their checksums). */
static uint8_t na_ll[86], na_a[86];

static const struct row v6_ndp_rows[] = {
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
	/* An advertisement for B's address from A: a spoof. */
	{ "NA for B's address from A", .dev = DEV_A, ICMPV6(A6, GW6, 136, 0), .ttl = 255,
	  NA_TAIL(FD99B), SHOT(DROP_SPOOF_IP, EV_FULL) },
	/* ... for its own: passed. */
	{ "NA for its own", .dev = DEV_A, ICMPV6(A6, GW6, 136, 0), .ttl = 255, NA_TAIL(FD99A),
	  OK(PASS_ARP) },
	/* A pod is no router. */
	{ "a router advertisement from A", .dev = DEV_A, ICMPV6(LL_A, "ff02::1", 134, 0),
	  .ttl = 255, .tail = (const uint8_t[]){ 0, 0, 0, 1 }, .tail_len = 4,
	  SHOT(DROP_SPOOF_IP, EV_FULL) },
	/* The host solicits the pod: to_pod passes it. */
	{ "the host's NS for A, in to_pod", .prog = TO_POD, .dev = DEV_A,
	  ICMPV6(GW6, "ff02::1:ff00:a", 135, 0), .ttl = 255, NS_TAIL(FD99A, MAC_A_HOST),
	  OK(PASS_ARP) },
};

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

static void v6_ndp(void **state)
{
	(void)state;
	na_of(na_ll, LL_A);
	na_of(na_a, A6);
	check_rows(v6_ndp_rows, ARRAY_SIZE(v6_ndp_rows));
}

static const struct row v6_exthdr_rows[] = {
	/* Hop-by-hop, destination options, routing, then UDP: ports found. */
	{ "hop-by-hop, destination options, routing, UDP", .dev = DEV_A, UDP(A6, 6000, B6, 6001),
	  EXTHDRS(0, 60, 43), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	/* XCNI_V6_MAX_EXT headers: the most walked. */
	{ "XCNI_V6_MAX_EXT headers: walked", .dev = DEV_A, UDP(A6, 6002, B6, 6003),
	  EXTHDRS(60, 60, 60, 60, 60, 60), REDIR(FWD_LOCAL) },
	/* One more: dropped and counted. */
	{ "one more: dropped", .dev = DEV_A, UDP(A6, 6004, B6, 6005),
	  EXTHDRS(60, 60, 60, 60, 60, 60, 60), SHOT(DROP_EXTHDR, EV_ADDRS_ONLY), .no_ct = true },
	/* A chain cut short: a hop-by-hop header of 4 bytes. */
	{ "a chain cut short", .dev = DEV_A, .src = A6, .dst = B6, .proto = 0,
	  .tail = (const uint8_t[]){ 60, 0, 1, 0 }, .tail_len = 4, SHOT(DROP_EXTHDR, EV_ADDRS_ONLY) },
	/* Payload length beyond the packet. */
	{ "payload length beyond the packet", .dev = DEV_A, UDP(A6, 6006, B6, 6007), .tot_len = 9,
	  SHOT(DROP_BAD_IHL, EV_ADDRS_ONLY) },
};

static void v6_exthdr(void **state)
{
	_Static_assert(XCNI_V6_MAX_EXT == 6, "v6_exthdr_rows: EXT6 lists of 6 and 7 headers");
	(void)state;
	check_rows(v6_exthdr_rows, ARRAY_SIZE(v6_exthdr_rows));
}

/* A fragment header: offset in 8-byte units, more fragments, the datagram's id. */
#define FRAG6(off, more, id) EXTHDRS(IPPROTO_FRAGMENT), .frag = (off) << 3 | (more), .ipid = (id)

static const struct row v6_fragments_rows[] = {
	/* A later fragment whose first was never seen. */
	{ "a later fragment, no first", .dev = DEV_A, UDP(A6, 1, B6, 2), FRAG6(185, 0, 0x77),
	  SHOT(DROP_FRAGMENT, EV_ADDRS) },
	{ "a first fragment", .dev = DEV_A, UDP(A6, 7000, B6, 7001), FRAG6(0, 1, 0x78),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	/* Its bytes where ports would be say 1/2: payload, ports from the first. */
	{ "its later fragment", .dev = DEV_A, UDP(A6, 1, B6, 2), FRAG6(185, 0, 0x78),
	  REDIR(FWD_LOCAL) },
	/* Behind a destination options header, the first fragment's too. */
	{ "a first fragment behind destination options", .dev = DEV_A, UDP(A6, 7002, B6, 7003),
	  EXTHDRS(60, IPPROTO_FRAGMENT), .frag = 0 << 3 | 1, .ipid = 0x79, REDIR(FWD_LOCAL) },
	{ "its later fragment, behind destination options", .dev = DEV_A, UDP(A6, 9, B6, 9),
	  EXTHDRS(60, IPPROTO_FRAGMENT), .frag = 100 << 3, .ipid = 0x79, REDIR(FWD_LOCAL) },
	/* Another datagram's later fragment. */
	{ "another datagram's later fragment", .dev = DEV_A, UDP(A6, 7000, B6, 7001),
	  FRAG6(185, 0, 0x7a), SHOT(DROP_FRAGMENT, EV_ADDRS) },
};

static void v6_fragments(void **state)
{
	(void)state;
	check_rows(v6_fragments_rows, ARRAY_SIZE(v6_fragments_rows));
}

/* v6_policy's steps. */
static int a_ingress_b80(void)
{
	/* A isolated for ingress, version 0: B on TCP 80 (policy 77). The one
	 * rule, keyed by A's IPv4, judges both families. */
	allow6(ip4(IP_A), TO_POD, ID_B, IPPROTO_TCP, 80, 77);
	isolate(ip4(IP_A), ID_A, XCNI_ISOLATED(TO_POD));
	return 0;
}

static int a_open(void)
{
	open_up(ip4(IP_A));
	return 0;
}

static int x_ingress_a80(void)
{
	/* X, IPv6-only: its key from polkey6; A on TCP 80 only (policy 78). */
	allow6(ip4(KEY_X), TO_POD, ID_A, IPPROTO_TCP, 80, 78);
	isolate(ip4(KEY_X), ID_X, XCNI_ISOLATED(TO_POD));
	return 0;
}

static int x_both_isolated(void)
{
	isolate(ip4(KEY_X), ID_X, XCNI_ISOLATED(TO_POD) | XCNI_ISOLATED(FROM_POD));
	return 0;
}

static int x_open(void);

/*
 * An ICMPv6 error's tail (struct row: after type, code and checksum): MTU
 * 1280 (the Packet Too Big's; unused in the others), then its quote: A's
 * UDP from port sp to B's port dp, IPv6 header and UDP header.
 */
#define FD99(x) 0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x
#define ICMP6_QUOTE_AB(sp, dp)                                                            \
	(const uint8_t[]){ 0, 0, 0x05, 0, 0x60, 0, 0, 0, 0, 8, IPPROTO_UDP, 64, FD99(0xa), \
			   FD99(0xb), (sp) >> 8, (sp) & 0xff, (dp) >> 8, (dp) & 0xff, 0, 0, 0, 0 }
#define ICMP6_ERR(s, d, t, sp, dp) \
	ICMPV6(s, d, t, 0), .tail = ICMP6_QUOTE_AB(sp, dp), .tail_len = 4 + 40 + 8

static const struct row v6_policy_rows[] = {
	{ "A: ingress from B on TCP 80", .step = a_ingress_b80 },
	{ "B->A 80: allowed by 77", .dev = DEV_B, TCP(B6, 41000, A6, 80, TH_SYN), REDIR(FWD_LOCAL),
	  BY(77, 0, TO_POD) },
	{ "B->A 81: refused, nothing left", .dev = DEV_B, TCP(B6, 41000, A6, 81, TH_SYN),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	/* The same refusal over IPv4 (the same table). */
	{ "v4", .dev = DEV_B, TCP(IP_B, 41000, IP_A, 81, TH_SYN), SHOT(DROP_POLICY_INGRESS, EV_FULL),
	  .no_ct = true },
	{ "C->A 80: refused", .dev = DEV_C, TCP(C6, 41000, A6, 80, TH_SYN),
	  SHOT(DROP_POLICY_INGRESS, EV_FULL) },
	/* The world through the stack: judged as world. */
	{ "world->A 80 in to_pod: refused", .prog = TO_POD, .dev = DEV_A,
	  TCP(WORLD6, 41000, A6, 80, TH_SYN), SHOT(DROP_POLICY_INGRESS, EV_FULL) },
	/* The node (link-local) always may. */
	{ "the gateway->A 80 in to_pod", .prog = TO_POD, .dev = DEV_A,
	  TCP(GW6, 41001, A6, 80, TH_SYN), OK(FWD_LOCAL) },
	/* ICMPv6 errors: about a live flow A -> B, one passes as related;
	 * about none, it is judged (and refused) like any packet. */
	{ "UDP A->B 7", .dev = DEV_A, UDP(A6, 46101, B6, 7), REDIR(FWD_LOCAL) },
	{ "B->A Packet Too Big about it: related", .dev = DEV_B,
	  ICMP6_ERR(B6, A6, 2, 46101, 7), REDIR(FWD_REPLY) },
	{ "B->A unreachable about it: related", .dev = DEV_B, ICMP6_ERR(B6, A6, 1, 46101, 7),
	  REDIR(FWD_REPLY) },
	{ "B->A Packet Too Big about no flow: refused", .dev = DEV_B,
	  ICMP6_ERR(B6, A6, 2, 46101, 8), SHOT(DROP_POLICY_INGRESS, EV_FULL) },
	/* C is on no path of that flow. */
	{ "C->A Packet Too Big about A->B: refused", .dev = DEV_C,
	  ICMP6_ERR(C6, A6, 2, 46101, 7), SHOT(DROP_POLICY_INGRESS, EV_FULL) },
	{ "A open", .step = a_open },
	{ "X: ingress from A on TCP 80", .step = x_ingress_a80 },
	{ "A->X 80: allowed by 78", .dev = DEV_A, TCP(A6, 42000, X6, 80, TH_SYN), REDIR(FWD_LOCAL),
	  BY(78, 0, TO_POD) },
	{ "B->X 80: refused", .dev = DEV_B, TCP(B6, 42000, X6, 80, TH_SYN),
	  SHOT(DROP_POLICY_INGRESS, EV_FULL) },
	{ "X->A SYN+ACK: the reply", .dev = DEV_X, TCP(X6, 80, A6, 42000, TH_SYN | TH_ACK),
	  REDIR(FWD_REPLY) },
	/* X isolated for egress too, nothing allowed: its SYN to B refused. */
	{ "X isolated both ways", .step = x_both_isolated },
	{ "X->B 80: egress refuses", .dev = DEV_X, TCP(X6, 42001, B6, 80, TH_SYN),
	  SHOT(DROP_POLICY_EGRESS, EV_FULL) },
	{ "X open", .step = x_open },
};

static void v6_policy(void **state)
{
	(void)state;
	check_rows(v6_policy_rows, ARRAY_SIZE(v6_policy_rows));
}

/* An ipBlock prefix of ep's ingress (version 0): IPv6 (v6) or IPv4. */
static void cidr6(uint32_t ep, const char *addr, int len, uint32_t group, bool del)
{
	struct xcni_polcidr_key k = { .prefixlen = XCNI_POLCIDR_PREFIX_BASE + len, .ep = ep,
				      .dir = TO_POD };
	int fd = map_fd("xcni_polcidr");

	if (strchr(addr, ':')) {
		k.v6 = 1;
		in6(addr, k.addr6);
	} else {
		k.addr = ip4(addr);
	}
	if (del)
		assert_int_equal(bpf_map_delete_elem(fd, &k), 0);
	else
		assert_int_equal(bpf_map_update_elem(fd, &k, &group, BPF_NOEXIST), 0);
}

/*
 * ipBlock on the IPv6 path. A isolated for ingress, its prefixes:
 *   fd00:77::/32    G0 TCP 80 (policy 80)    fd00:77:1::/48 G1 (its except: nothing)
 *   ::/0            G2 TCP 8080 (policy 83)  0.0.0.0/0      G3 TCP 443 (policy 82)
 * An address of one family never falls in a prefix of the other, not even
 * the /0s: the trie keys carry the family.
 */
static const struct {
	const char *a;
	int len;
} ipblock_pfx[] = {
	{ "fd00:77::", 32 }, { "fd00:77:1::", 48 }, { "::", 0 }, { "0.0.0.0", 0 },
};

static int a_ipblocks(void)
{
	uint32_t ka = ip4(IP_A), g = XCNI_ID_CIDR_BASE;
	struct xcni_polep pe = { .identity = ID_A, .isolated = XCNI_ISOLATED(TO_POD) };

	for (size_t i = 0; i < ARRAY_SIZE(ipblock_pfx); i++)
		cidr6(ka, ipblock_pfx[i].a, ipblock_pfx[i].len, g + i, false);
	allow6(ka, TO_POD, g, IPPROTO_TCP, 80, 80);
	allow6(ka, TO_POD, g + 2, IPPROTO_TCP, 8080, 83);
	allow6(ka, TO_POD, g + 3, IPPROTO_TCP, 443, 82);
	pe.has[TO_POD & 1] = XCNI_HAS_CIDR;
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_polep"), &ka, &pe, BPF_ANY), 0);
	return polrev_bump();
}

static int a_ipblocks_gone(void)
{
	open_up(ip4(IP_A));
	for (size_t i = 0; i < ARRAY_SIZE(ipblock_pfx); i++)
		cidr6(ip4(IP_A), ipblock_pfx[i].a, ipblock_pfx[i].len, 0, true);
	return 0;
}

static const struct row v6_ipblock_rows[] = {
	{ "A: its ipBlocks", .step = a_ipblocks },
	{ "fd00:77:5::1->A 80: fd00:77::/32, policy 80", .prog = TO_POD, .dev = DEV_A,
	  TCP("fd00:77:5::1", 43000, A6, 80, TH_SYN), OK(FWD_LOCAL), BY(80, 0, TO_POD),
	  .ct = XCNI_CT_NEW, .ct_stack = true },
	/* In the except: the /48 hides the /32. */
	{ "fd00:77:1::5->A 80: in the except, refused", .prog = TO_POD, .dev = DEV_A,
	  TCP("fd00:77:1::5", 43001, A6, 80, TH_SYN), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "fd00:78::1->A 80: in no prefix of 80", .prog = TO_POD, .dev = DEV_A,
	  TCP("fd00:78::1", 43002, A6, 80, TH_SYN), SHOT(DROP_POLICY_INGRESS, EV_FULL) },
	/* A pod peer (B, by identity no rule names) inside ::/0 on 8080. */
	{ "B->A 8080: ::/0, policy 83", .dev = DEV_B, TCP(B6, 43003, A6, 8080, TH_SYN),
	  REDIR(FWD_LOCAL), BY(83, 0, TO_POD) },
	/* IPv4 0.0.0.0/0 on 443 leaves IPv6 alone. */
	{ "world6->A 443: 0.0.0.0/0 is IPv4's", .prog = TO_POD, .dev = DEV_A,
	  TCP(WORLD6, 43004, A6, 443, TH_SYN), SHOT(DROP_POLICY_INGRESS, EV_FULL) },
	/* ...and IPv6 ::/0 on 8080 leaves IPv4 alone; IPv4 0/0 on 443 admits it. */
	{ "v4 world->A 8080: ::/0 is IPv6's", .prog = TO_POD, .dev = DEV_A,
	  TCP("192.0.2.9", 43005, IP_A, 8080, TH_SYN), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "v4 world->A 443: 0.0.0.0/0", .prog = TO_POD, .dev = DEV_A,
	  TCP("192.0.2.9", 43006, IP_A, 443, TH_SYN), OK(FWD_LOCAL), .ct = XCNI_CT_NEW,
	  .ct_stack = true, BY(82, 0, TO_POD) },
	{ "A: ipBlocks gone", .step = a_ipblocks_gone },
};

static void v6_ipblock(void **state)
{
	(void)state;
	check_rows(v6_ipblock_rows, ARRAY_SIZE(v6_ipblock_rows));
}

/* The conntrack flags of a flow, or -1 when there is none. */
static int ct6_flags(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	struct xcni_ct6_key k = { .sport = htons(sp), .dport = htons(dp), .proto = proto };
	struct xcni_ct_entry e;

	in6(s, k.saddr);
	in6(d, k.daddr);
	if (bpf_map_lookup_elem(map_fd("xcni_ct6"), &k, &e))
		return -1;
	return e.flags;
}

/* v6_svc_cidr's steps: X isolated for egress (a new revision each time), B allowed, X open. */
static int x_egress_isolated(void)
{
	isolate(ip4(KEY_X), ID_X, XCNI_ISOLATED(FROM_POD));
	return 0;
}

static int x_egress_b80(void)
{
	allow6(ip4(KEY_X), FROM_POD, ID_B, IPPROTO_TCP, 80, 79);
	return 0;
}

static int x_open(void)
{
	open_up(ip4(KEY_X));
	return 0;
}

/*
 * Kube-proxy (ip6tables) and an IPv6 ClusterIP: X, isolated for egress with
 * nothing allowed, reaches a ClusterIP all the same; the flow goes to the
 * stack untouched (its DNAT picks the backend) and egress is judged on the
 * backend where the stack hands it to that pod's to_pod6.
 */
static const struct row v6_svc_cidr_rows[] = {
	{ "X egress isolated", .step = x_egress_isolated },
	{ "X->ClusterIP SYN: the stack's, tracked as such", .dev = DEV_X,
	  TCP(X6, 42100, SVC6, 80, TH_SYN), OK(FWD_STACK), .ct = XCNI_CT_NEW, .ct_stack = true },
	/* Outside the range: judged here, and refused. */
	{ "X->fd00:10:97::a SYN: egress refuses", .dev = DEV_X,
	  TCP(X6, 42100, "fd00:10:97::a", 80, TH_SYN), POLICY_DROP(DROP_POLICY_EGRESS) },
	/* A new policy revision: the flow stays the stack's, not judged on the ClusterIP. */
	{ "a new revision", .step = x_egress_isolated },
	{ "X->ClusterIP ACK", .dev = DEV_X, TCP(X6, 42100, SVC6, 80, TH_ACK), OK(FWD_STACK) },
	/* After the DNAT, at the backend B: X's egress refuses it... */
	{ "to_pod B, X->B via the stack: egress refuses", .prog = TO_POD, .dev = DEV_B, VIA_STACK,
	  TCP(X6, 42100, B6, 80, TH_SYN), SHOT(DROP_POLICY_EGRESS, EV_FULL) },
	/* ...until it allows B on TCP 80 (policy 79). */
	{ "X egress: B on TCP 80", .step = x_egress_b80 },
	{ "to_pod B, X->B via the stack: allowed by 79", .prog = TO_POD, .dev = DEV_B, VIA_STACK,
	  TCP(X6, 42101, B6, 80, TH_SYN), OK(FWD_LOCAL), BY(79, 0, FROM_POD) },
	{ "X open", .step = x_open },
};

static void v6_svc_cidr(void **state)
{
	(void)state;
	check_rows(v6_svc_cidr_rows, 2);
	/* The stack's and nothing else. */
	assert_int_equal(ct6_flags(X6, 42100, SVC6, 80, IPPROTO_TCP), XCNI_CT_F_STACK);
	check_rows(v6_svc_cidr_rows + 2, ARRAY_SIZE(v6_svc_cidr_rows) - 2);
}

static const struct CMUnitTest v6_tests[] = {
	cmocka_unit_test(v6_setup),
	cmocka_unit_test(v6_tcp_flow),
	cmocka_unit_test(v6_udp_echo),
	cmocka_unit_test(v6_spoof),
	cmocka_unit_test(v6_ndp),
	cmocka_unit_test(v6_exthdr),
	cmocka_unit_test(v6_fragments),
	cmocka_unit_test(v6_policy),
	cmocka_unit_test(v6_ipblock),
	cmocka_unit_test(v6_svc_cidr),
};
/* The IPv4 node and v6_setup's IPv6 endpoints: what the IPv6 groups start from. */
int v6_state(void)
{
	int err = node4_state();

	if (!err)
		v6_setup(NULL);
	return err;
}

const struct group v6_group = { "v6", TESTS(v6_tests), .prep = node4_state };

/* `test_bpf --bench`'s IPv6 row (issue 14): from_pod forwarding an
 * established-looking UDP flow A6 -> B6, as bench() does for IPv4, so the two
 * per-packet costs come from one run. Fills endpoints6 itself (the cmocka
 * groups don't run under --bench). */
int bench6(void)
{
	int efd = bpf_map__fd(env.from->maps.xcni_endpoints6);
	int ifd = bpf_map__fd(env.from->maps.xcni_ifindex6);
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	struct bpf_test_run_opts o = {};
	const struct row r = { .dev = DEV_A, UDP(A6, 7000, B6, 7001), .ttl = 255 };
	uint64_t ns = 0;
	size_t len;
	int err, n = 4000, repeat = 250;

	for (int i = DEV_A; i <= DEV_B; i++) {
		struct xcni_endpoint ep = { .ifindex = env.ifindex[i], .ep_id = pod_ep6_id(i) };
		struct xcni_in6 key;

		memcpy(ep.pod_mac, pods[i].mac, ETH_ALEN);
		/* bench()'s trick: B's host MAC is A's pod MAC, so from_pod's
		 * rewritten frame is again A's and the repeats keep forwarding. */
		memcpy(ep.host_mac, i == DEV_B ? pods[DEV_A].mac : pods[i].host_mac, ETH_ALEN);
		in6(pods[i].ip6, key.addr);
		/* from_pod6 checks the source against the veth's own address. */
		if (bpf_map_update_elem(efd, &key, &ep, BPF_ANY) ||
		    bpf_map_update_elem(ifd, &ep.ifindex, &key, BPF_ANY))
			return -errno;
	}
	len = build(&r, in);
	for (int i = 0; i < n; i++) {
		if ((err = run(FROM_POD, DEV_A, in, len, out, sizeof(out), repeat, &o)))
			return err;
		if (o.retval != TC_ACT_REDIRECT || out[ETH_HLEN + 7] != 255 - repeat) {
			fprintf(stderr, "from_pod6: verdict %u, hop limit %u (want %d, %d)\n",
				o.retval, out[ETH_HLEN + 7], TC_ACT_REDIRECT, 255 - repeat);
			return -EPROTO;
		}
		ns += o.duration;
	}
	printf("from_pod6 forwarded, %d x repeat=%d: %.1f ns/packet\n", n, repeat, (double)ns / n);
	return 0;
}
