// SPDX-License-Identifier: Apache-2.0
/*
 * NodePort and external traffic in BPF through BPF_PROG_TEST_RUN, on the
 * frontends tests/bpf/lb.c's lb_setup writes (prep lb_state) (the NODE_IP and
 * N2 rows of the table atop lb.c): from the underlay into a local backend or
 * (SNAT + Geneve) a remote one, the DSR option both ways, ICMP errors,
 * externalTrafficPolicy Local, SCTP NodePorts. Frames are built by lb.c's
 * frame() and held byte for byte against what is computed in full here.
 */
#include <arpa/inet.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "harness.h"
#include "lb.h"

#define CLIENT "203.0.113.9" /* outside the cluster: no ipcache entry (world) */
#define CLIENT2 "203.0.113.10"

/* From outside, on the underlay (the router's MAC -> the node's). */
static struct fr from_outside(const char *src, uint16_t sp, uint16_t dp, uint8_t flags)
{
	return (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			    .saddr = ip4(src), .daddr = ip4(NODE_IP), .sport = sp, .dport = dp,
			    .proto = IPPROTO_TCP, .flags = flags };
}

/*
 * NodePort, a backend on this node: DNAT only (the client's address kept),
 * into B; B's reply gets the NodePort back as source and leaves by the
 * underlay (redirect_neigh fills the MACs when it sends: unchanged here).
 */
static void lb_nodeport_local(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_outside(CLIENT, 50000, 30080, TH_SYN), t;
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	len = frame(&f, in);
	t = into(f, DEV_B);
	t.daddr = ip4(IP_B);
	t.dport = 8080;
	wlen = frame(&t, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
	e = ct_get(ip4(CLIENT), ip4(NODE_IP), 50000, 30080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 11);
	e = ct_get(ip4(CLIENT), ip4(IP_B), 50000, 8080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT);
	assert_int_equal(e.rev_nat, 14);

	f = from_dev(DEV_B, IP_B, 8080, CLIENT, 50000, IPPROTO_TCP, TH_SYN | TH_ACK);
	len = frame(&f, in);
	t = f;
	t.saddr = ip4(NODE_IP);
	t.sport = 30080;
	wlen = frame(&t, want);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);

	/* The same under externalTrafficPolicy=Local (EXT holds B only). */
	f = from_outside(CLIENT, 50002, 30083, TH_SYN);
	len = frame(&f, in);
	t = into(f, DEV_B);
	t.daddr = ip4(IP_B);
	t.dport = 8080;
	wlen = frame(&t, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
}

/* The SNATed, encapsulated frame from_outside sends for f to R:bport with source port sp. */
static size_t nodeport_remote_want_to(const struct fr *f, const uint8_t *in, uint16_t sp,
				      uint16_t bport, uint8_t *want)
{
	uint8_t inner[FRAME_MAX];
	struct fr t = *f;
	struct xcni_ct_key tuple = { .saddr = ip4(NODE_IP), .daddr = ip4(IP_R), .sport = htons(sp),
				     .dport = htons(bport), .proto = f->proto };
	size_t ilen;

	t.saddr = ip4(NODE_IP);
	t.sport = sp;
	t.daddr = ip4(IP_R);
	t.dport = bport;
	t.ttl = 63;
	ilen = frame(&t, inner);
	return geneve_wrap(tuple, inner, ilen, in, NODE_IP, N2, VNI, 0, want);
}

static size_t nodeport_remote_want(const struct fr *f, const uint8_t *in, uint16_t sp,
				   uint8_t *want)
{
	return nodeport_remote_want_to(f, in, sp, 80, want);
}

/*
 * NodePort, a backend on node n2: DNAT to R, SNAT to this node (the client's
 * port while free), Geneve to n2; R's reply through n2's Geneve is undone
 * (frontend -> client) and leaves by the underlay. A second client on the
 * same port gets another: the port from the flow's hash.
 */
static void lb_nodeport_remote(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_outside(CLIENT, 50001, 30081, TH_SYN), t;
	struct xcni_ct_key tuple;
	struct xcni_ct_entry e;
	size_t len, ilen, wlen;
	uint16_t sp2;
	int found;

	(void)state;
	len = frame(&f, in);
	wlen = nodeport_remote_want(&f, in, 50001, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	e = ct_get(ip4(CLIENT), ip4(NODE_IP), 50001, 30081, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 101);
	assert_int_equal(e.nat_port, htons(50001));
	e = ct_get(ip4(NODE_IP), ip4(IP_R), 50001, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT);
	assert_int_equal(e.rev_nat, 15);
	assert_int_equal(e.nat_addr, ip4(CLIENT));
	assert_int_equal(e.nat_port, htons(50001));

	/* R's SYN-ACK from n2: decapsulated, frontend -> client, out the underlay. */
	f = (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .saddr = ip4(IP_R),
			 .daddr = ip4(NODE_IP), .sport = 80, .dport = 50001, .proto = IPPROTO_TCP,
			 .flags = TH_SYN | TH_ACK };
	ilen = frame(&f, inner);
	tuple = (struct xcni_ct_key){ .saddr = ip4(IP_R), .daddr = ip4(NODE_IP), .sport = htons(80),
				      .dport = htons(50001), .proto = IPPROTO_TCP };
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	t = f;
	t.saddr = ip4(NODE_IP);
	t.sport = 30081;
	t.daddr = ip4(CLIENT);
	t.dport = 50001;
	wlen = frame(&t, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
	e = ct_get(ip4(NODE_IP), ip4(IP_R), 50001, 80, IPPROTO_TCP, &found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);

	/* The client's ACK: the same port again (from the service entry). */
	f = from_outside(CLIENT, 50001, 30081, TH_ACK);
	len = frame(&f, in);
	wlen = nodeport_remote_want(&f, in, 50001, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);

	/* Another client, the same source port: NODE_IP:50001 -> R:80 is taken. */
	f = from_outside(CLIENT2, 50001, 30081, TH_SYN);
	sp2 = (uint16_t)(32768 + (xcni_lb_hash(ip4(CLIENT2), ip4(IP_R), htons(50001), htons(80),
					       IPPROTO_TCP) + 7919) % 28232);
	len = frame(&f, in);
	wlen = nodeport_remote_want(&f, in, sp2, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
}

/* The DSR option for frontend addr:port (proto), byte by byte as RFC 8926 3.5 lays it out. */
static void dsr_opt_bytes(uint8_t o[24], const char *addr, uint16_t port, uint8_t proto)
{
	uint32_t a = ip4(addr);

	memset(o, 0, 24);
	o[0] = 0xff; /* option class 0xfff0 (experimental use) */
	o[1] = 0xf0;
	o[2] = 0x81; /* type 1, the critical bit set */
	o[3] = 5; /* reserved bits 0, then 5 words of data */
	o[4] = 2; /* family AF_INET */
	o[5] = proto;
	o[6] = port >> 8;
	o[7] = port & 0xff;
	memcpy(o + 8, &a, 4); /* the address; 12 bytes of zeros after it */
}

/* geneve_wrap with the DSR option for fe:fport: 6 option words, the header's C bit set. */
static size_t dsr_wrap(struct xcni_ct_key t, const uint8_t *inner, size_t ilen, const uint8_t *eth,
		       const char *src, const char *dst, const char *fe, uint16_t fport,
		       uint8_t *out)
{
	size_t len = geneve_wrap(t, inner, ilen, eth, src, dst, VNI, 6, out);
	uint8_t *g = out + ETH_HLEN + 20 + 8;

	g[1] = 0x40; /* C: a critical option is present */
	dsr_opt_bytes(g + 8, fe, fport, t.proto);
	return len;
}

/*
 * NodePort DSR, the node that takes the request: DNAT to R on n2 (the
 * client's address kept, no SNAT), Geneve to n2 with the frontend in the
 * option, every byte as written out here.
 */
static void lb_nodeport_dsr(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_outside(CLIENT, 50021, 30081, TH_SYN), t;
	struct xcni_ct_key tuple = { .saddr = ip4(CLIENT), .daddr = ip4(IP_R),
				     .sport = htons(50021), .dport = htons(80),
				     .proto = IPPROTO_TCP };
	struct xcni_ct_entry e;
	size_t len, ilen, wlen;
	int found;

	(void)state;
	len = frame(&f, in);
	t = f;
	t.daddr = ip4(IP_R);
	t.dport = 80;
	t.ttl = 63;
	ilen = frame(&t, inner);
	wlen = dsr_wrap(tuple, inner, ilen, in, NODE_IP, N2, NODE_IP, 30081, want);
	assert_int_equal(wlen, len + XCNI_ENCAP_DSR_LEN);
	expect(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	e = ct_get(ip4(CLIENT), ip4(NODE_IP), 50021, 30081, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 101);
	assert_int_equal(e.nat_port, 0); /* no SNAT port */
	e = ct_get(ip4(CLIENT), ip4(IP_R), 50021, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	assert_int_equal(e.rev_nat, 15);
	/* Nothing SNATed: no entry from this node to R. */
	ct_get(ip4(NODE_IP), ip4(IP_R), 50021, 80, IPPROTO_TCP, &found);
	assert_false(found);

	/* The client's ACK: the same again, option included. */
	f = from_outside(CLIENT, 50021, 30081, TH_ACK);
	len = frame(&f, in);
	t = f;
	t.daddr = ip4(IP_R);
	t.dport = 80;
	t.ttl = 63;
	ilen = frame(&t, inner);
	wlen = dsr_wrap(tuple, inner, ilen, in, NODE_IP, N2, NODE_IP, 30081, want);
	expect(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
}

/*
 * NodePort DSR, the backend's node: n2 sends CLIENT -> B:8080 with the option
 * naming N2:30080. The flow's entry records the frontend (its reverse-NAT
 * index here) and n2; B's reply leaves with N2:30080 as source, out the
 * underlay; a later packet without the option (one that did not fit) is
 * taken on the strength of that entry. Refused: an option naming a frontend
 * this node lacks, an outside source with no option and no flow, an inner
 * source that is a pod, an unknown critical option, and the option where
 * Services are not in BPF.
 */
static void lb_dsr_backend(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct fr f = { .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			.saddr = ip4(CLIENT), .daddr = ip4(IP_B), .sport = 50022, .dport = 8080,
			.proto = IPPROTO_TCP, .flags = TH_SYN, .ttl = 63 },
		  t;
	struct xcni_ct_key tuple = { .saddr = ip4(CLIENT), .daddr = ip4(IP_B),
				     .sport = htons(50022), .dport = htons(8080),
				     .proto = IPPROTO_TCP };
	struct xcni_ct_entry e;
	size_t len, ilen, wlen;
	int found;

	(void)state;
	ilen = frame(&f, inner);
	len = dsr_wrap(tuple, inner, ilen, inner, N2, NODE_IP, N2, 30080, in);
	t = into(f, DEV_B);
	wlen = frame(&t, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	e = ct_get(ip4(CLIENT), ip4(IP_B), 50022, 8080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	assert_int_equal(e.rev_nat, 25);
	assert_int_equal(e.nat_addr, ip4(N2));

	/* B's SYN-ACK: from the frontend, straight out the underlay. */
	f = from_dev(DEV_B, IP_B, 8080, CLIENT, 50022, IPPROTO_TCP, TH_SYN | TH_ACK);
	len = frame(&f, in);
	t = f;
	t.saddr = ip4(N2);
	t.sport = 30080;
	wlen = frame(&t, want);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
	e = ct_get(ip4(CLIENT), ip4(IP_B), 50022, 8080, IPPROTO_TCP, &found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);

	/* The client's ACK without the option: the flow n2 opened. */
	f = (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			 .saddr = ip4(CLIENT), .daddr = ip4(IP_B), .sport = 50022, .dport = 8080,
			 .proto = IPPROTO_TCP, .flags = TH_ACK, .ttl = 63 };
	ilen = frame(&f, inner);
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	t = into(f, DEV_B);
	wlen = frame(&t, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);

	/* No option, no such flow: n2 does not speak for the client. */
	f.sport = 50023;
	tuple.sport = htons(50023);
	ilen = frame(&f, inner);
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0);

	/* An option naming a frontend this node does not have. */
	f.flags = TH_SYN;
	ilen = frame(&f, inner);
	len = dsr_wrap(tuple, inner, ilen, inner, N2, NODE_IP, N2, 30099, in);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, NULL, 0);
	ct_get(ip4(CLIENT), ip4(IP_B), 50023, 8080, IPPROTO_TCP, &found);
	assert_false(found);

	/* Where Services are kube-proxy's, the option is an unknown critical one. */
	len = dsr_wrap(tuple, inner, ilen, inner, N2, NODE_IP, N2, 30080, in);
	expect(FROM_OVERLAY, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, NULL, 0);

	/* An unknown critical option (class 0x0101, type 0x81): dropped (RFC 8926 3.5). */
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 2, in);
	in[ETH_HLEN + 20 + 8 + 1] = 0x40;
	in[ETH_HLEN + 20 + 8 + 8 + 4 + 2] = 0x81;
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, NULL, 0);
	/* ... but the same non-critical with the C bit set is skipped (the client is still
	 * not n2's to speak for without our option). */
	in[ETH_HLEN + 20 + 8 + 8 + 4 + 2] = 0x01;
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0);

	/* A pod of this node as the inner source: a node never speaks for another's pods. */
	f.saddr = ip4(IP_A);
	tuple.saddr = ip4(IP_A);
	ilen = frame(&f, inner);
	len = dsr_wrap(tuple, inner, ilen, inner, N2, NODE_IP, N2, 30080, in);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0);
}

/*
 * An ICMP error about a NodePort flow SNATed to R (lb_nodeport_remote's:
 * CLIENT:50001 -> NODE_IP:30081, sent as NODE_IP:50001 -> R:80): R's
 * fragmentation-needed comes through n2's Geneve to this node, and leaves
 * by the underlay to the client, from the NodePort, quoting the packet as
 * the client sent it (its IP and the ICMP checksums computed in full here).
 * An error quoting a flow this node never SNATed goes to the stack as before.
 */
static void lb_nodeport_icmp(void **state)
{
	uint8_t q[FRAME_MAX], qw[FRAME_MAX], inner[FRAME_MAX], in[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_key tuple = { .saddr = ip4(IP_R), .daddr = ip4(NODE_IP),
				     .proto = IPPROTO_ICMP };
	struct fr sent = from_outside(CLIENT, 50001, 30081, TH_ACK), err, t;
	size_t len, ilen, wlen;

	(void)state;
	sent.ttl = 63;
	frame(&sent, qw);
	sent.saddr = ip4(NODE_IP);
	sent.daddr = ip4(IP_R);
	sent.dport = 80;
	frame(&sent, q);
	err = (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			   .saddr = ip4(IP_R), .daddr = ip4(NODE_IP), .proto = IPPROTO_ICMP };
	ilen = icmp_error(&err, 3, 4, q, inner);
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	t = err;
	t.saddr = ip4(NODE_IP);
	t.daddr = ip4(CLIENT);
	wlen = icmp_error(&t, 3, 4, qw, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);

	/* About a port this node did not SNAT: decapsulated for the stack, untouched. */
	sent.sport = 50999;
	frame(&sent, q);
	ilen = icmp_error(&err, 3, 4, q, inner);
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_OK, XCNI_FWD_DECAP_HOST, inner, ilen);
}

/*
 * externalTrafficPolicy=Local with no backend here: from outside, dropped
 * with its own reason (no SNAT to another node's), nothing left in
 * conntrack; a pod of this node reaching the same NodePort takes the INT
 * entry, every backend (R). No backend at all (policy Cluster): refused
 * back out the underlay (TCP RST).
 */
static void lb_nodeport_etp_local(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_outside(CLIENT, 50003, 30084, TH_SYN), t;
	struct xcni_ct_key tuple = { .saddr = ip4(IP_A), .daddr = ip4(IP_R), .sport = htons(50004),
				     .dport = htons(80), .proto = IPPROTO_TCP };
	size_t len, ilen, wlen;
	int found;

	(void)state;
	len = frame(&f, in);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_NO_LOCAL_BACKEND, NULL, 0);
	ct_get(ip4(CLIENT), ip4(NODE_IP), 50003, 30084, IPPROTO_TCP, &found);
	assert_false(found);

	f = from_dev(DEV_A, IP_A, 50004, NODE_IP, 30084, IPPROTO_TCP, TH_SYN);
	len = frame(&f, in);
	t = f;
	t.ttl = 63;
	t.daddr = ip4(IP_R);
	t.dport = 80;
	ilen = frame(&t, inner);
	wlen = geneve_wrap(tuple, inner, ilen, in, NODE_IP, N2, VNI, 0, want);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);

	f = from_outside(CLIENT, 50005, 30085, TH_SYN);
	len = frame(&f, in);
	rst_want(&f, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
	       ETH_HLEN + 40);
}

/*
 * SCTP NodePorts from the underlay: to B on this node (30132 -> 3868: DNAT
 * and a new port, the CRC updated) and B's INIT ACK back out; to R on n2
 * (DNAT, SNAT to this node, Geneve) and R's INIT ACK undone both ways.
 */
static void lb_sctp_nodeport(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_outside(CLIENT, 50100, 30132, SC_INIT), t;
	struct xcni_ct_key tuple = { .saddr = ip4(IP_R), .daddr = ip4(NODE_IP), .sport = htons(3868),
				     .dport = htons(50101), .proto = IPPROTO_SCTP };
	size_t len, ilen, wlen;

	(void)state;
	f.proto = IPPROTO_SCTP;
	f.payload = 16;
	len = frame(&f, in);
	t = into(f, DEV_B);
	t.daddr = ip4(IP_B);
	t.dport = 3868;
	wlen = frame(&t, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);

	f = from_dev(DEV_B, IP_B, 3868, CLIENT, 50100, IPPROTO_SCTP, SC_INIT_ACK);
	f.payload = 20;
	len = frame(&f, in);
	t = f;
	t.saddr = ip4(NODE_IP);
	t.sport = 30132;
	wlen = frame(&t, want);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);

	f = from_outside(CLIENT, 50101, 30133, SC_INIT);
	f.proto = IPPROTO_SCTP;
	f.payload = 16;
	len = frame(&f, in);
	wlen = nodeport_remote_want_to(&f, in, 50101, 3868, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);

	f = (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .saddr = ip4(IP_R),
			 .daddr = ip4(NODE_IP), .sport = 3868, .dport = 50101,
			 .proto = IPPROTO_SCTP, .flags = SC_INIT_ACK, .payload = 20 };
	ilen = frame(&f, inner);
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	t = f;
	t.saddr = ip4(NODE_IP);
	t.sport = 30133;
	t.daddr = ip4(CLIENT);
	wlen = frame(&t, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
}

static const struct CMUnitTest lb_nodeport_tests[] = {
	cmocka_unit_test(lb_nodeport_local),
	cmocka_unit_test(lb_nodeport_remote),
	cmocka_unit_test(lb_nodeport_dsr),
	cmocka_unit_test(lb_dsr_backend),
	cmocka_unit_test(lb_nodeport_icmp),
	cmocka_unit_test(lb_nodeport_etp_local),
	cmocka_unit_test(lb_sctp_nodeport),
};
const struct group lb_nodeport_group = { "lb_nodeport", TESTS(lb_nodeport_tests), .prep = lb_state };
