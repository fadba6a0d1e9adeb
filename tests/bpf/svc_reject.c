// SPDX-License-Identifier: Apache-2.0
/*
 * A ClusterIP without backends, both families (svc_lib.c's tables; prep
 * svc_both_state): refused as kube-proxy's REJECT does, the answer built by
 * the program and sent back into the client: TCP a RST from the frontend,
 * UDP and SCTP an ICMP (ICMPv6) port unreachable from the frontend quoting
 * the packet; no conntrack entry left behind, the drop counted and its
 * event naming the Service.
 */
#include <arpa/inet.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "svc.h"

/* No backends: TCP gets a RST, UDP an ICMP port unreachable, back into the client. */
static void lb_no_backend(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_dev(DEV_A, IP_A, 40700, "10.96.1.3", 80, IPPROTO_TCP, TH_SYN);
	uint8_t *ip = want + ETH_HLEN, *l4 = ip + 20;
	size_t len;
	int found;

	(void)state;
	len = frame(&f, in);
	rst_want(&f, want);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want, ETH_HLEN + 40);
	assert_int_equal(env.ev[0].daddr, ip4("10.96.1.3"));
	/* The refusal names the Service it was for, and no backend. */
	assert_int_equal(env.ev[0].rev_nat, 3);
	assert_int_equal(env.ev[0].backend_id, 0);
	ct_get(ip4(IP_A), ip4("10.96.1.3"), 40700, 80, IPPROTO_TCP, &found);
	assert_false(found);

	/* A segment with ACK (its backend went away mid-flow): seq from its ACK, no ACK. */
	f.flags = TH_ACK;
	f.payload = 10;
	len = frame(&f, in);
	*(uint32_t *)(l4 + 4) = htonl(0x0a0b0c0d);
	*(uint32_t *)(l4 + 8) = 0;
	l4[13] = TH_RST;
	*(uint16_t *)(l4 + 16) = 0;
	*(uint16_t *)(l4 + 16) = l4_csum(*(uint32_t *)(ip + 12), *(uint32_t *)(ip + 16), IPPROTO_TCP,
					 l4, 20);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want, ETH_HLEN + 40);

	/* UDP: ICMP port unreachable from the frontend, quoting the IP header and 8 bytes. */
	f = from_dev(DEV_A, IP_A, 40701, "10.96.1.3", 53, IPPROTO_UDP, 0);
	f.payload = 5;
	len = frame(&f, in);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
	       unreach_want(in, want));
	ct_get(ip4(IP_A), ip4("10.96.1.3"), 40701, 53, IPPROTO_UDP, &found);
	assert_false(found);
}

/* No backend: SCTP gets ICMP port unreachable (kube-proxy's REJECT), no entry left. */
static void lb_sctp_no_backend(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_dev(DEV_A, IP_A, 36430, "10.96.2.3", 3868, IPPROTO_SCTP, SC_INIT);
	size_t len;
	int found;

	(void)state;
	f.payload = 16;
	len = frame(&f, in);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
	       unreach_want(in, want));
	assert_int_equal(env.ev[0].rev_nat, 22);
	ct_get(ip4(IP_A), ip4("10.96.2.3"), 36430, 3868, IPPROTO_SCTP, &found);
	assert_false(found);
}

/* No backend, TCP: the SYN becomes a RST|ACK from the frontend, back into the client. */
static void lb6_reject_tcp(void **state)
{
	struct g6 f = from6(DEV_A, A6, 40700, VIP3, 80, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX], want[FRAME_MAX], *ip = want + ETH_HLEN, *l4 = ip + 40;
	size_t len = frame6(&f, in);
	uint16_t c;
	int found;

	(void)state;
	memset(want, 0, sizeof(want));
	memcpy(want, pods[DEV_A].mac, ETH_ALEN);
	memcpy(want + ETH_ALEN, pods[DEV_A].host_mac, ETH_ALEN);
	want[12] = 0x86;
	want[13] = 0xdd;
	ip[0] = 0x60;
	ip[5] = 20;
	ip[6] = IPPROTO_TCP;
	ip[7] = 64;
	in6(VIP3, ip + 8);
	in6(A6, ip + 24);
	*(uint16_t *)l4 = htons(80);
	*(uint16_t *)(l4 + 2) = htons(40700);
	*(uint32_t *)(l4 + 8) = htonl(SEQ + 1); /* the SYN acknowledged */
	l4[12] = 5 << 4;
	l4[13] = T_RST | T_ACK;
	c = csum6(ip, IPPROTO_TCP, l4, 20);
	memcpy(l4 + 16, &c, 2);
	expect6(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
		ETH_HLEN + 60);
	ct6_get(A6, 40700, VIP3, 80, IPPROTO_TCP, &found);
	assert_false(found);
}

/* No backend, UDP: ICMPv6 port unreachable from the frontend, quoting the datagram. */
static void lb6_reject_udp(void **state)
{
	struct g6 f = from6(DEV_A, A6, 40701, VIP3, 53, IPPROTO_UDP, 0);
	uint8_t in[FRAME_MAX], want[FRAME_MAX], *ip = want + ETH_HLEN, *m = ip + 40;
	size_t len = frame6(&f, in);
	uint16_t c;

	(void)state;
	memset(want, 0, sizeof(want));
	memcpy(want, pods[DEV_A].mac, ETH_ALEN);
	memcpy(want + ETH_ALEN, pods[DEV_A].host_mac, ETH_ALEN);
	want[12] = 0x86;
	want[13] = 0xdd;
	ip[0] = 0x60;
	ip[5] = 56;
	ip[6] = 58;
	ip[7] = 64;
	in6(VIP3, ip + 8);
	in6(A6, ip + 24);
	m[0] = 1; /* destination unreachable */
	m[1] = 4; /* port unreachable */
	memcpy(m + 8, in + ETH_HLEN, 48);
	c = csum6(ip, 58, m, 56);
	memcpy(m + 2, &c, 2);
	expect6(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
		ETH_HLEN + 96);
}

/* No backend, SCTP: ICMPv6 port unreachable from the frontend, quoting the packet. */
static void lb6_reject_sctp(void **state)
{
	struct g6 f = from6(DEV_A, A6, 36421, VIPF, 3868, IPPROTO_SCTP, 0);
	uint8_t in[SCTP6_MAX], want[FRAME_MAX], *ip = want + ETH_HLEN, *m = ip + 40;
	size_t len = sframe6(&f, SC6_INIT, 16, 0, 0, in);
	uint16_t c;
	int found;

	(void)state;
	memset(want, 0, sizeof(want));
	memcpy(want, pods[DEV_A].mac, ETH_ALEN);
	memcpy(want + ETH_ALEN, pods[DEV_A].host_mac, ETH_ALEN);
	want[12] = 0x86;
	want[13] = 0xdd;
	ip[0] = 0x60;
	ip[5] = 56;
	ip[6] = 58;
	ip[7] = 64;
	in6(VIPF, ip + 8);
	in6(A6, ip + 24);
	m[0] = 1; /* destination unreachable */
	m[1] = 4; /* port unreachable */
	memcpy(m + 8, in + ETH_HLEN, 48);
	c = csum6(ip, 58, m, 56);
	memcpy(m + 2, &c, 2);
	expect6(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
		ETH_HLEN + 96);
	ct6_get(A6, 36421, VIPF, 3868, IPPROTO_SCTP, &found);
	assert_false(found);
}

static const struct CMUnitTest svc_reject_tests[] = {
	cmocka_unit_test(lb_no_backend),
	cmocka_unit_test(lb6_reject_tcp),
	cmocka_unit_test(lb6_reject_udp),
	cmocka_unit_test(lb_sctp_no_backend),
	cmocka_unit_test(lb6_reject_sctp),
};

const struct group svc_reject_group = { "svc_reject", TESTS(svc_reject_tests),
					.prep = svc_both_state };
