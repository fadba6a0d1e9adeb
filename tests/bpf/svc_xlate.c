// SPDX-License-Identifier: Apache-2.0
/*
 * ClusterIP translation, both families (svc_lib.c's tables; prep
 * svc_both_state): TCP and UDP DNATed to the backend with every checksum
 * rebuilt, the replies given the frontend back, the ICMP errors about
 * translated flows made the client's, IPv4 fragments, hairpin (a pod
 * through its own Service), a backend on another node (Geneve), one outside
 * the pod network (through the stack), and the replacement off; the
 * single-packet checks are rows (svc_xlate_rows).
 *
 * Frames carry real L4 checksums, and what the programs must leave is built
 * from scratch with the translated fields and checksums computed in full: an
 * incremental update that is off by a bit fails byte for byte. The twins
 * (TWIN: NAME_v4, NAME_v6) are one body over struct fam.
 */
#include <arpa/inet.h>
#include <string.h>
#include <time.h>
#include <linux/pkt_cls.h>

#include "svc.h"

/* p (from A to the frontend) must reach B at B's port bport. */
static void to_b(const struct fam *fa, const struct pk *p, uint16_t bport)
{
	struct pk t = pk_into(*p, DEV_B);

	t.dst = fa->b;
	t.dport = bport;
	pk_expect(FROM_POD_LB, DEV_A, p, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, &t);
}

/* p (from B to A) must reach A from the frontend vip:port. */
static void to_a(const struct pk *p, const char *vip, uint16_t port)
{
	struct pk t = pk_into(*p, DEV_A);

	t.src = vip;
	t.sport = port;
	pk_expect(FROM_POD_LB, DEV_B, p, TC_ACT_REDIRECT, XCNI_FWD_REPLY, &t);
}

/* TCP: DNAT to the one backend, then its reply gets the frontend back. */
static void svc_tcp(void **state)
{
	const struct fam *fa = *state;
	struct pk p = pk_from(DEV_A, fa->a, 40500, fa->vip1, 80, IPPROTO_TCP, TH_SYN);
	struct xcni_ct_entry e;
	int found;

	to_b(fa, &p, 8080);
	svc_entries(fa->a, 40500, fa->vip1, 80, fa->b, 8080, IPPROTO_TCP, fa->be + 11, fa->svc + 1);

	/* B's SYN-ACK: from B's device, source rewritten to the frontend, into A. */
	p = pk_from(DEV_B, fa->b, 8080, fa->a, 40500, IPPROTO_TCP, TH_SYN | TH_ACK);
	to_a(&p, fa->vip1, 80);

	/* A's ACK with 100 bytes: the same translation, and the service entry follows the flow. */
	p = pk_from(DEV_A, fa->a, 40500, fa->vip1, 80, IPPROTO_TCP, TH_ACK);
	p.payload = 100;
	to_b(fa, &p, 8080);
	e = pk_ct(fa->a, 40500, fa->vip1, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);
	assert_int_equal(e.pkts_orig, 2);
}

/* UDP: the checksum updated for address and port, the reply's too; IPv4 also
 * without a checksum (which stays without). */
static void svc_udp(void **state)
{
	const struct fam *fa = *state;

	for (int nocsum = 0; nocsum < (fa->v6 ? 1 : 2); nocsum++) {
		uint16_t sport = (uint16_t)(40600 + nocsum);
		struct pk p = pk_from(DEV_A, fa->a, sport, fa->vip1, 53, IPPROTO_UDP, 0);

		p.payload = 33; /* odd: the checksum's last byte is padded */
		p.no_csum = nocsum;
		to_b(fa, &p, 5353);
		p = pk_from(DEV_B, fa->b, 5353, fa->a, sport, IPPROTO_UDP, 0);
		p.payload = 20;
		p.no_csum = nocsum;
		to_a(&p, fa->vip1, 53);
	}
}

/* An ICMPv6 port unreachable from g's source to its destination (its MACs,
 * hop limit) quoting 48 bytes of quote, the checksum computed in full: into buf, its length. */
static size_t icmp6_unreach(const struct g6 *g, const uint8_t *quote, uint8_t *buf)
{
	uint8_t *ip = buf + ETH_HLEN, *m = ip + 40;
	uint16_t c;

	memset(buf, 0, FRAME_MAX);
	memcpy(buf, g->dmac, ETH_ALEN);
	memcpy(buf + ETH_ALEN, g->smac, ETH_ALEN);
	*(uint16_t *)(buf + 12) = htons(ETH_P_IPV6);
	ip6_hdr(ip, g->src, g->dst, IPPROTO_ICMPV6, g->hop ? g->hop : 64, 8 + 48);
	m[0] = 1; /* destination unreachable */
	m[1] = 4; /* port unreachable */
	memcpy(m + 8, quote, 48);
	c = csum6(ip, IPPROTO_ICMPV6, m, 8 + 48);
	memcpy(m + 2, &c, 2);
	return ETH_HLEN + 40 + 8 + 48;
}

/*
 * An ICMPv6 port unreachable from the UDP backend about svc_udp_v6's flow
 * quotes client -> backend: the client gets it from the frontend, quoting
 * client -> frontend (ICMPv6 checksum computed here over all of it; the
 * quoted UDP checksum is the backend's view, left as it was).
 */
static void lb6_icmp_error(void **state)
{
	struct g6 q = from6(DEV_A, A6, 40600, B6, 5353, IPPROTO_UDP, 0);
	struct g6 err = from6(DEV_B, B6, 0, A6, 0, IPPROTO_ICMPV6, 0), t = into6(err, DEV_A);
	uint8_t qf[FRAME_MAX], in[FRAME_MAX], want[FRAME_MAX], *qw = qf + ETH_HLEN;
	size_t len, wlen;

	(void)state;
	assert_true(frame6(&q, qf) >= ETH_HLEN + 48);
	len = icmp6_unreach(&err, qw, in);
	/* What A must get: from the frontend, the quote to the frontend's port. */
	in6(VIP1, qw + 24);
	*(uint16_t *)(qw + 40 + 2) = htons(53);
	t.src = VIP1;
	wlen = icmp6_unreach(&t, qw, want);
	expect6(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
}

/*
 * A UDP datagram to a ClusterIP in IPv4 fragments: the first is translated
 * whole (address, port, the checksum that covers the whole datagram); a later
 * one carries no L4 header, so only its destination address (and the IP
 * checksum) change: the bytes where ports would be are payload and stay. A
 * later fragment of a datagram whose first was never seen opens nothing.
 */
static void lb_frag(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f, t;
	size_t len, wlen;
	uint32_t b = ip4(IP_B);

	(void)state;
	f = from_dev(DEV_A, IP_A, 40700, "10.96.1.1", 53, IPPROTO_UDP, 0);
	f.payload = 40;
	len = frame(&f, in);
	set_frag(in, 0x2000, 0x5a01); /* MF, offset 0 */
	t = into(f, DEV_B);
	t.daddr = b;
	t.dport = 5353;
	wlen = frame(&t, want);
	set_frag(want, 0x2000, 0x5a01);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);

	/* The later fragment: the same bytes as a frame, offset 6 (48 bytes). */
	f.sport = 1111; /* payload that looks like ports */
	f.dport = 2222;
	len = frame(&f, in);
	set_frag(in, 6, 0x5a01);
	memcpy(want, in, len);
	memcpy(want, pods[DEV_B].mac, ETH_ALEN);
	memcpy(want + ETH_ALEN, pods[DEV_B].host_mac, ETH_ALEN);
	want[ETH_HLEN + 8] = 63;
	memcpy(want + ETH_HLEN + 16, &b, 4);
	set_frag(want, 6, 0x5a01);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, len);

	/* Another datagram's later fragment, its first never seen: dropped. */
	set_frag(in, 6, 0x5a02);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_SHOT, XCNI_DROP_FRAGMENT, NULL, 0);
}

/* Hairpin: A through its own Service reaches itself from the service loopback
 * (its own address would be a martian); its reply goes back to it from the
 * frontend. */
static void svc_hairpin(void **state)
{
	const struct fam *fa = *state;
	struct pk p, t;
	struct xcni_ct_entry e;
	int found;

	hairpin_syn(DEV_A, fa->a, 45500, fa->vip9, 8080, fa->loop);
	e = pk_ct(fa->loop, 45500, fa->a, 8080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_HAIRPIN);
	assert_int_equal(e.rev_nat, fa->svc + 9);

	/* A answers the loopback address: back to A, from the frontend. */
	p = pk_from(DEV_A, fa->a, 8080, fa->loop, 45500, IPPROTO_TCP, TH_SYN | TH_ACK);
	t = pk_into(p, DEV_A);
	t.src = fa->vip9;
	t.sport = 80;
	t.dst = fa->a;
	pk_expect(FROM_POD_LB, DEV_A, &p, TC_ACT_REDIRECT, XCNI_FWD_REPLY, &t);
}

/* A live TCP flow s:sp -> d:dp (SYN seen) in conntrack, as a packet into d would leave it. */
static void ct_seed(const char *s, uint16_t sp, const char *d, uint16_t dp)
{
	struct xcni_ct_entry e = { .state = XCNI_CT_NEW, .pkts_orig = 1, .bytes_orig = 60 };
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	e.created_ns = e.last_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (strchr(s, ':')) {
		struct xcni_ct6_key k = { .sport = htons(sp), .dport = htons(dp),
					  .proto = IPPROTO_TCP };

		in6(s, k.saddr);
		in6(d, k.daddr);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_ct6"), &k, &e, BPF_ANY), 0);
	} else {
		struct xcni_ct_key k = { .saddr = ip4(s), .daddr = ip4(d), .sport = htons(sp),
					 .dport = htons(dp), .proto = IPPROTO_TCP };

		assert_int_equal(bpf_map_update_elem(map_fd("xcni_ct"), &k, &e, BPF_ANY), 0);
	}
}

/*
 * A pod's reply to a flow whose peer is a node at a NodePort's number (a
 * client on another node bound to it, 30080, or a SNAT that kept its
 * client's port) goes back untranslated, the tracked flow's reply. Before,
 * from_pod took it for a new flow to the Service: DNAT to a backend (here B
 * itself, hairpin), a service entry for it, the tracked flow never answered
 * (the NodePort stall of bench/np-stall.sh, seen from the backend's node).
 * A ClusterIP:port as the peer is no such flow (no node's client has that
 * address; only a forged packet from outside makes the entry: frontsrc.c):
 * B's SYN-ACK to it is a new flow to the Service, translated (to B itself)
 * and dropped as no flow's (drop-ct-invalid); the entry gets no reply.
 */
static void svc_reply_at_frontend(void **state)
{
	const struct fam *fa = *state;
	struct xcni_ct_entry e;
	int found;
	/* To another node: Geneve to it, where its flow came from. */
	struct {
		const char *peer;
		uint16_t port;
		int ret, reason;
		uint64_t replies;
	} cases[] = { { fa->vip1, 80, TC_ACT_SHOT, XCNI_DROP_CT_INVALID, 0 },
		      { N2, 30080, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, 1 } };

	for (size_t i = 0; i < (fa->v6 ? 1 : 2); i++) {
		struct pk p;

		ct_seed(cases[i].peer, cases[i].port, fa->b, 8080);
		p = pk_from(DEV_B, fa->b, 8080, cases[i].peer, cases[i].port, IPPROTO_TCP,
			    TH_SYN | TH_ACK);
		pk_expect(FROM_POD_LB, DEV_B, &p, cases[i].ret, cases[i].reason, NULL);
		(void)pk_ct(fa->b, 8080, cases[i].peer, cases[i].port, IPPROTO_TCP, &found);
		assert_false(found); /* no service entry: none made, or the refused flow's forgotten */
		e = pk_ct(cases[i].peer, cases[i].port, fa->b, 8080, IPPROTO_TCP, &found);
		assert_true(found);
		assert_int_equal(e.pkts_reply, cases[i].replies);
	}
}

/* A remote backend: DNAT, then Geneve to its node; its reply decapsulated and reverse-NATed. */
static void lb_remote(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct pk p = pk_from(DEV_A, IP_A, 46000, "10.96.1.10", 80, IPPROTO_TCP, TH_SYN), t = p;
	struct row r = { TCP(IP_A, 46000, IP_R, 80, 0) };
	size_t len = pk_frame(&p, in), ilen, wlen;

	(void)state;
	t.ttl = 63; /* the inner frame keeps the pod's MACs; routed: TTL - 1 */
	t.dst = IP_R;
	ilen = pk_frame(&t, inner);
	wlen = geneve_wrap(tuple_of(&r, false), inner, ilen, in, NODE_IP, N2, VNI, 0, want);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);

	/* R's SYN-ACK through n2's Geneve, into A from the frontend. */
	p = (struct pk){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .src = IP_R,
			 .dst = IP_A, .sport = 80, .dport = 46000, .proto = IPPROTO_TCP,
			 .flags = TH_SYN | TH_ACK };
	ilen = pk_frame(&p, inner);
	len = geneve_wrap(tuple_of(&r, true), inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	t = pk_into(p, DEV_A);
	t.ttl = 0;
	t.src = "10.96.1.10";
	wlen = pk_frame(&t, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
}

/*
 * ICMP errors about translated flows reach the client as about its own
 * packet: C's port unreachable for A's UDP to 10.96.1.11:53, and from node
 * n2, R's fragmentation-needed for A's TCP to 10.96.1.10:80 (lb_remote's):
 * the quote's destination the frontend again
 * (its checksum and the ICMP checksum computed in full here), the outer source
 * too when the backend sent it.
 */
static void lb_icmp_error(void **state)
{
	uint8_t q[FRAME_MAX], in[FRAME_MAX], want[FRAME_MAX], inner[FRAME_MAX], qw[FRAME_MAX];
	struct fr sent, err, t;
	struct xcni_ct_key tuple = { .saddr = ip4(IP_R), .daddr = ip4(IP_A), .proto = IPPROTO_ICMP };
	size_t len, wlen, ilen;

	(void)state;
	/* A's UDP to 10.96.1.11:53, whose backend is C:53 (B's egress would
	 * refuse B's error: B is isolated). */
	sent = from_dev(DEV_A, IP_A, 40800, "10.96.1.11", 53, IPPROTO_UDP, 0);
	sent.payload = 33;
	len = frame(&sent, in);
	assert_int_equal(lb_send(FROM_POD_LB, DEV_A, in, len, q, &wlen), TC_ACT_REDIRECT);
	/* What C got (translated, one hop on), and what A sent. */
	sent.ttl = 63;
	sent.daddr = ip4(IP_C);
	frame(&sent, q);
	sent.daddr = ip4("10.96.1.11");
	frame(&sent, qw);
	/* The quoted UDP checksum is C's view: the rewrite leaves it (nobody checks it). */
	memcpy(qw + ETH_HLEN + 20 + 6, q + ETH_HLEN + 20 + 6, 2);
	err = from_dev(DEV_C, IP_C, 0, IP_A, 0, IPPROTO_ICMP, 0);
	len = icmp_error(&err, 3, 3, q, in);
	t = into(err, DEV_A);
	t.saddr = ip4("10.96.1.11");
	wlen = icmp_error(&t, 3, 3, qw, want);
	/* It answers A's flow to C (ct_related): a reply, whatever C's policy. */
	expect(FROM_POD_LB, DEV_C, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
	/* The same error from B, off the flow's path (ct_related refuses it: a
	 * pod, and not the peer): judged as any packet B sends, and its quote
	 * left naming C, so it cannot land on A's flow to the Service. Given
	 * the frontend back after policy (from_pod4's order before the one
	 * body), it reached A as an error about 10.96.1.11:53. */
	err = from_dev(DEV_B, IP_B, 0, IP_A, 0, IPPROTO_ICMP, 0);
	len = icmp_error(&err, 3, 3, q, in);
	t = into(err, DEV_A);
	wlen = icmp_error(&t, 3, 3, q, want);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);

	/* From a remote backend, through Geneve. */
	sent = from_dev(DEV_A, IP_A, 46000, IP_R, 80, IPPROTO_TCP, TH_ACK);
	sent.ttl = 63;
	frame(&sent, q);
	sent.daddr = ip4("10.96.1.10");
	frame(&sent, qw);
	memcpy(qw + ETH_HLEN + 20 + 6, q + ETH_HLEN + 20 + 6, 2);
	err = (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			   .saddr = ip4(IP_R), .daddr = ip4(IP_A), .proto = IPPROTO_ICMP };
	ilen = icmp_error(&err, 3, 4, q, inner);
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	t = err;
	t.smac = pods[DEV_A].host_mac;
	t.dmac = pods[DEV_A].mac;
	t.saddr = ip4("10.96.1.10");
	wlen = icmp_error(&t, 3, 4, qw, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);

	/* R's port unreachable about A's flow to C (the first above), through
	 * Geneve: R is off that flow's path (a pod, not its peer), so the error
	 * is judged as any packet from R and its quote left naming C, as
	 * from_pod leaves B's. from_overlay4 gave it the frontend back before
	 * one body (5c84f00's reason: it would land on A's flow to the Service). */
	sent = from_dev(DEV_A, IP_A, 40800, IP_C, 53, IPPROTO_UDP, 0);
	sent.payload = 33;
	sent.ttl = 63;
	frame(&sent, q);
	err = (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			   .saddr = ip4(IP_R), .daddr = ip4(IP_A), .proto = IPPROTO_ICMP };
	ilen = icmp_error(&err, 3, 3, q, inner);
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	t = err;
	t.smac = pods[DEV_A].host_mac;
	t.dmac = pods[DEV_A].mac;
	wlen = icmp_error(&t, 3, 3, q, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
}

/*
 * Single packets as rows (harness.h's struct row, check_row), run before the
 * tests: a backend outside the pod network (DNATed and handed to the stack;
 * the reply, through the stack into to_pod, gets the frontend back), and the
 * replacement off (xcnid without it: a ClusterIP flow is kube-proxy's, as
 * before; with it on, a port no frontend has is too: the stack's, its entry
 * naming no Service).
 */
static const struct row svc_xlate_rows[] = {
	{ "svc_via_stack_v4", FROM_POD_LB, DEV_A, TCP(IP_A, 48000, "10.96.1.13", 443, TH_SYN),
	  NAT_DST("192.0.2.50", 8443), OK(FWD_STACK) },
	{ "svc_via_stack_reply_v4", TO_POD_LB, DEV_A,
	  TCP("192.0.2.50", 8443, IP_A, 48000, TH_SYN | TH_ACK), NAT_SRC("10.96.1.13", 443),
	  OK(FWD_REPLY) },
	{ "svc_via_stack_v6", FROM_POD_LB, DEV_A, TCP(A6, 48000, VIPD, 443, TH_SYN),
	  NAT_DST(OUT6, 8443), OK(FWD_STACK) },
	{ "svc_via_stack_reply_v6", TO_POD_LB, DEV_A, TCP(OUT6, 8443, A6, 48000, TH_SYN | TH_ACK),
	  NAT_SRC(VIPD, 443), OK(FWD_REPLY) },
	{ "svc_lb_off_v4", FROM_POD, DEV_A, TCP(IP_A, 49000, "10.96.1.1", 80, TH_SYN), OK(FWD_STACK),
	  .ct_stack = true, .ct_no_svc = true },
	{ "svc_no_frontend_v4", FROM_POD_LB, DEV_A, TCP(IP_A, 49001, "10.96.1.1", 81, TH_SYN),
	  OK(FWD_STACK), .ct_stack = true, .ct_no_svc = true },
};

static const struct CMUnitTest svc_xlate_tests[] = {
	TWIN(svc_tcp),
	TWIN(svc_reply_at_frontend),
	TWIN(svc_udp),
	cmocka_unit_test(lb6_icmp_error), /* about svc_udp_v6's flow */
	cmocka_unit_test(lb_frag),
	TWIN(svc_hairpin),
	cmocka_unit_test(lb_remote),
	cmocka_unit_test(lb_icmp_error), /* the second about lb_remote's flow */
};

const struct group svc_xlate_group = { "svc_xlate", ROWS(svc_xlate_rows), TESTS(svc_xlate_tests),
				       .prep = svc_both_state };
