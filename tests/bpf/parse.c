// SPDX-License-Identifier: Apache-2.0
/*
 * What from_pod and to_pod make of a frame before any verdict, both
 * families: the pods' endpoints (IPv6's written here, v6_setup), spoofed
 * sources, parties with no endpoint, truncated and malformed headers, IPv6
 * extension headers. The rows run in order.
 *
 *   xta  A 10.99.5.10  fd00:99::a   dual stack: its policy key is its IPv4
 *   xtb  B 10.99.5.11  fd00:99::b
 *   xtc  C 10.99.5.12  fd00:99::c
 *   xtx  X             fd00:99::d   IPv6 only: policy key 0.0.0.7 (polkey6)
 *   xtu  U             no IPv6 endpoint
 *   gateway fe80::1 on every host veth; ipcache6: A, B, C, X by identity
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

#define ID_X 1003
#define A6 "fd00:99::a"
#define B6 "fd00:99::b"
#define C6 "fd00:99::c"
#define X6 "fd00:99::d"
#define LL_A "fe80::a"
#define GW6 "fe80::1"
#define KEY_X "0.0.0.7"

static const uint8_t mac_evil[ETH_ALEN] = { 2, 0xba, 0xd, 0, 0, 1 };

static void in6(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

static void open_up(uint32_t ep)
{
	bpf_map_delete_elem(map_fd("xcni_polep"), &ep);
	assert_int_equal(polrev_bump(), 0);
}

/* The pods' IPv6 endpoints, their identities in ipcache6, X's policy key;
 * A, B and X not isolated. */
void v6_setup(void **state)
{
	int efd = map_fd("xcni_endpoints6"), ifd = map_fd("xcni_ifindex6");
	static const uint32_t ids[NR_DEVS] = { ID_A, ID_B, ID_C, ID_X };
	struct xcni_in6 key;
	uint32_t kx = ip4(KEY_X);

	(void)state;
	for (int i = 0; i < NR_DEVS; i++) {
		struct xcni_endpoint ep = { .ifindex = env.ifindex[i], .ep_id = pod_ep6_id(i) };
		struct xcni_ipcache6_key k = { .prefixlen = 128 };
		struct xcni_ipcache_val v = { .identity = ids[i], .flags = XCNI_IPC_POD };
		uint32_t ifindex = env.ifindex[i];

		if (!pods[i].ip6)
			continue;
		memcpy(ep.pod_mac, pods[i].mac, ETH_ALEN);
		memcpy(ep.host_mac, pods[i].host_mac, ETH_ALEN);
		in6(pods[i].ip6, key.addr);
		assert_int_equal(bpf_map_update_elem(efd, &key, &ep, BPF_NOEXIST), 0);
		assert_int_equal(bpf_map_update_elem(ifd, &ifindex,
						     &(struct xcni_pod_dev6){ .addr = key, .ep = ep },
						     BPF_NOEXIST),
				 0);
		memcpy(k.addr, key.addr, 16);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &k, &v, BPF_ANY), 0);
	}
	/* X is IPv6-only: its policy key is the agent's, from 0.0.0.0/8. */
	in6(X6, key.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_polkey6"), &key, &kx, BPF_NOEXIST), 0);
	open_up(ip4(IP_A));
	open_up(ip4(IP_B));
	open_up(kx);
}

int v6_endpoints(void)
{
	v6_setup(NULL);
	return 0;
}

/* The IPv4 node and v6_setup's IPv6 endpoints: what the IPv6 groups start from. */
int v6_state(void)
{
	return node4_state() ?: v6_endpoints();
}

/* A pod sending with a sibling's address, or with a MAC not its own: the
 * same refusal in both families (a: the pod, b: its sibling, d: anywhere). */
#define SPOOF_ROWS(fam, a, b, d)                                                                   \
	{ fam "A with B's IP: spoofed", .dev = DEV_A, UDP(b, 1000, d, 53),                         \
	  SHOT(DROP_SPOOF_IP, EV_FULL) },                                                          \
	{ fam "A with a foreign MAC: spoofed", .dev = DEV_A, .smac = mac_evil,                     \
	  UDP(a, 1000, d, 53), SHOT(DROP_SPOOF_MAC, EV_ZERO) }

static const struct row parse_rows[] = {
	/* Anti-spoofing and unknown parties. */
	SPOOF_ROWS("", IP_A, IP_B, "8.8.8.8"),
	{ "A->unknown address in the pod CIDR", .dev = DEV_A, UDP(IP_A, 1000, "10.99.5.99", 53),
	  SHOT(DROP_UNKNOWN_DST, EV_FULL) },
	{ "device without endpoint", .dev = DEV_X, UDP(IP_A, 1000, IP_B, 53),
	  SHOT(DROP_NO_ENDPOINT, EV_ZERO) },
	{ "device without endpoint via to_pod", .prog = TO_POD, .dev = DEV_X,
	  UDP(IP_B, 1000, IP_A, 53), SHOT(DROP_NO_ENDPOINT, EV_ZERO) },
	/* Before X has its IPv6 endpoint. */
	{ "IPv6 from a device with no IPv6 endpoint", .dev = DEV_X, .eth = ETH_P_IPV6,
	  SHOT(DROP_NO_ENDPOINT, EV_ZERO) },
	{ "IPv6 via to_pod, no IPv6 endpoint", .prog = TO_POD, .dev = DEV_X, .eth = ETH_P_IPV6,
	  SHOT(DROP_NO_ENDPOINT, EV_ZERO) },

	{ "IPv6: the pods' endpoints", .step = v6_endpoints },
	SPOOF_ROWS("IPv6: ", A6, B6, C6),
	/* A link-local source speaks neighbour discovery and to the gateway only. */
	{ "IPv6: link-local source to B", .dev = DEV_A, UDP(LL_A, 1000, B6, 53),
	  SHOT(DROP_SPOOF_IP, EV_FULL) },
	{ "IPv6: link-local source, echo to the gateway", .dev = DEV_A, ICMPV6(LL_A, GW6, 128, 9),
	  OK(FWD_STACK) },
	/* ... tracked: the gateway's answer is a reply. */
	{ "IPv6: the gateway's echo reply", .prog = TO_POD, .dev = DEV_A, ICMPV6(GW6, LL_A, 129, 9),
	  OK(FWD_REPLY) },
	{ "IPv6: X with an address not its own", .dev = DEV_X, UDP("fd00:99::e", 1000, A6, 53),
	  SHOT(DROP_SPOOF_IP, EV_FULL) },
	{ "IPv6: a device without an IPv6 endpoint", .dev = DEV_U, UDP(A6, 1000, B6, 53),
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
	/* IPv6's twin of "tot_len claiming more than there is". */
	{ "IPv6: payload length beyond the packet", .dev = DEV_A, UDP(A6, 6006, B6, 6007),
	  .tot_len = 9, SHOT(DROP_BAD_IHL, EV_ADDRS_ONLY) },

	/* IPv6 extension headers: hop-by-hop, destination options, routing, then
	 * UDP: ports found. */
	{ "IPv6: hop-by-hop, destination options, routing, UDP", .dev = DEV_A,
	  UDP(A6, 6000, B6, 6001), EXTHDRS(0, 60, 43), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	/* XCNI_V6_MAX_EXT headers: the most walked (lists of 6 and 7 below). */
	{ "IPv6: XCNI_V6_MAX_EXT headers: walked", .dev = DEV_A, UDP(A6, 6002, B6, 6003),
	  EXTHDRS(60, 60, 60, 60, 60, 60), REDIR(FWD_LOCAL) },
	{ "IPv6: one more: dropped", .dev = DEV_A, UDP(A6, 6004, B6, 6005),
	  EXTHDRS(60, 60, 60, 60, 60, 60, 60), SHOT(DROP_EXTHDR, EV_ADDRS_ONLY), .no_ct = true },
	/* A chain cut short: a hop-by-hop header of 4 bytes. */
	{ "IPv6: a chain cut short", .dev = DEV_A, .src = A6, .dst = B6, .proto = 0,
	  .tail = (const uint8_t[]){ 60, 0, 1, 0 }, .tail_len = 4, SHOT(DROP_EXTHDR, EV_ADDRS_ONLY) },
};
_Static_assert(XCNI_V6_MAX_EXT == 6, "parse_rows: EXTHDRS lists of 6 and 7 headers");

const struct group parse_group = { "parse", ROWS(parse_rows) };
