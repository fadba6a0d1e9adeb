// SPDX-License-Identifier: Apache-2.0
/*
 * ICMPv6 errors about IPv6 ClusterIP flows whose backend is on another node
 * (from_overlay6's lb6_icmp_rev_nat): pod A (fd00:99::a, tests/bpf/v6.c's
 * endpoint, policy opened by lb6.c) reaches a frontend, from_pod translates
 * and sends it in Geneve to R6M on n2; an error about the flow comes back
 * from n2 quoting the packet as the backend got it (A -> R6M:backend port).
 * Decapsulated by from_overlay, it must reach A quoting the frontend
 * instead (address and port), from the frontend when the backend itself sent
 * it, the ICMPv6 checksum right (computed here in full over the
 * pseudo-header; the quoted L4 checksum is left as it was), byte for byte.
 *
 *   frontend                backend
 *   [fd00:96::21]:80/TCP    3401: [R6M]:8080   PTB from n2's node address N2_6
 *   [fd00:96::22]:53/UDP    3402: [R6M]:5353   port unreachable from R6M itself
 *
 * On lb6.c's state (prep lb6_state: its endpoints, its policy opened, lb
 * enabled programs).
 */
#include <arpa/inet.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "lb6.h"

#define R6M "fd00:98::3" /* a pod of n2 */
#define N2_6 "fd00:97::2" /* n2's own IPv6 address (a remote node) */
#define VIPT "fd00:96::21"
#define VIPU "fd00:96::22"
#define ICMP6 58
#define PTB 2 /* Packet Too Big */
#define UNREACH 1 /* code 4: port unreachable */

/* An IPv6 packet (no Ethernet) src:sp -> dst:dp, TCP SYN or UDP with 4 bytes, checksum in full. */
static size_t pkt6(uint8_t *ip, const char *src, uint16_t sp, const char *dst, uint16_t dp,
		   uint8_t proto, uint8_t hop)
{
	uint8_t *l4 = ip + 40;
	size_t l4len = proto == IPPROTO_TCP ? 20 : 12;
	uint16_t v;

	ip6_hdr(ip, src, dst, proto, hop, l4len);
	memset(l4, 0, l4len);
	v = htons(sp);
	memcpy(l4, &v, 2);
	v = htons(dp);
	memcpy(l4 + 2, &v, 2);
	if (proto == IPPROTO_TCP) {
		l4[7] = 1; /* seq 1 */
		l4[12] = 5 << 4;
		l4[13] = 0x02; /* SYN */
		l4[14] = 0xfa;
		l4[15] = 0xf0;
	} else {
		v = htons((uint16_t)l4len);
		memcpy(l4 + 4, &v, 2);
		memcpy(l4 + 8, "ping", 4);
	}
	v = csum6(ip, proto, l4, l4len);
	memcpy(l4 + (proto == IPPROTO_TCP ? 16 : 6), &v, 2);
	return 40 + l4len;
}

/* Ethernet smac -> dmac around the IPv6 packet ip (len bytes), into frame. */
static size_t eth6(uint8_t *frame, const uint8_t *smac, const uint8_t *dmac, const uint8_t *ip,
		   size_t len)
{
	memset(frame, 0, FRAME_MAX);
	memcpy(frame, dmac, ETH_ALEN);
	memcpy(frame + ETH_ALEN, smac, ETH_ALEN);
	frame[12] = 0x86;
	frame[13] = 0xdd;
	memcpy(frame + ETH_HLEN, ip, len);
	return ETH_HLEN + len;
}

/* The ICMPv6 error type/code (word: its 4 bytes after the checksum) src -> dst quoting q. */
static size_t icmp6_err(uint8_t *ip, const char *src, const char *dst, uint8_t type, uint8_t code,
			uint32_t word, const uint8_t *q, size_t qlen)
{
	uint8_t *l4 = ip + 40;
	uint16_t c;

	ip6_hdr(ip, src, dst, ICMP6, 64, 8 + qlen);
	l4[0] = type;
	l4[1] = code;
	l4[2] = l4[3] = 0;
	word = htonl(word);
	memcpy(l4 + 4, &word, 4);
	memcpy(l4 + 8, q, qlen);
	c = csum6(ip, ICMP6, l4, 8 + qlen);
	memcpy(l4 + 2, &c, 2);
	return 40 + 8 + qlen;
}

/* The agent's writes: R6M a pod of n2, N2_6 n2 itself; the two frontends, each one backend. */
static void icmp_ovl_setup(void **state)
{
	(void)state;
	ipc6_put(R6M, 0x3001, N2, XCNI_IPC_POD);
	ipc6_put(N2_6, XCNI_ID_REMOTE_NODE, N2, 0);
	be6(3401, R6M, 8080);
	be6(3402, R6M, 5353);
	svc6(VIPT, 80, IPPROTO_TCP, 340, 0, (const uint32_t[]){ 3401 }, 1);
	svc6(VIPU, 53, IPPROTO_UDP, 341, 0, (const uint32_t[]){ 3402 }, 1);
}

/*
 * A -> vip:port (sp), translated by from_pod to R6M:bport and sent to n2;
 * then the error from `from` (type/code/word) quoting that packet as R6M got
 * it, in Geneve from n2: into A from `want_src`, quoting vip:port.
 */
static void icmp_about(uint16_t sp, const char *vip, uint16_t port, uint16_t bport, uint8_t proto,
		       const char *from, uint8_t type, uint8_t code, uint32_t word,
		       const char *want_src)
{
	uint8_t ip[FRAME_MAX], q[FRAME_MAX], in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct6_key ck = { .sport = htons(sp), .dport = htons(bport), .proto = proto };
	struct xcni_ct_entry e;
	size_t len, qlen, ilen, wlen;
	uint16_t v;

	/* The request: from_pod's DNAT and Geneve to n2. */
	len = pkt6(ip, A6, sp, vip, port, proto, 64);
	len = eth6(in, pods[DEV_A].mac, pods[DEV_A].host_mac, ip, len);
	expect6(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, NULL, 0);
	in6(A6, ck.saddr);
	in6(R6M, ck.daddr);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_ct6"), &ck, &e), 0);
	assert_int_not_equal(e.rev_nat, 0);

	/* The error as n2 sends it: quoting the packet as R6M got it (one hop less). */
	qlen = pkt6(q, A6, sp, R6M, bport, proto, 63);
	ilen = icmp6_err(ip, from, A6, type, code, word, q, qlen);
	ilen = eth6(inner, pods[DEV_U].mac, pods[DEV_U].host_mac, ip, ilen);
	len = geneve_wrap6(inner, ilen, N2, NODE_IP, geneve_sport6(from, 0, A6, 0, ICMP6), VNI, in);

	/* What A must get: the quote's destination and port the frontend's (its L4
	 * checksum as it was), the error from want_src, its checksum in full. */
	in6(vip, q + 24);
	v = htons(port);
	memcpy(q + 40 + 2, &v, 2);
	wlen = icmp6_err(ip, want_src, A6, type, code, word, q, qlen);
	wlen = eth6(want, pods[DEV_A].host_mac, pods[DEV_A].mac, ip, wlen);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
}

/* Packet Too Big from n2's own address about a TCP flow: the source stays n2's. */
static void lb6_icmp_ovl_ptb(void **state)
{
	(void)state;
	icmp_about(40800, VIPT, 80, 8080, IPPROTO_TCP, N2_6, PTB, 0, 1280, N2_6);
}

/* Port unreachable from the backend itself about a UDP flow: from the frontend. */
static void lb6_icmp_ovl_unreach(void **state)
{
	(void)state;
	icmp_about(40801, VIPU, 53, 5353, IPPROTO_UDP, R6M, UNREACH, 4, 0, VIPU);
}

static const struct CMUnitTest lb6_icmp_ovl_tests[] = {
	cmocka_unit_test(icmp_ovl_setup),
	cmocka_unit_test(lb6_icmp_ovl_ptb),
	cmocka_unit_test(lb6_icmp_ovl_unreach),
};
const struct group lb6_icmp_ovl_group = { "lb6_icmp_ovl", TESTS(lb6_icmp_ovl_tests), .prep = lb6_state };
