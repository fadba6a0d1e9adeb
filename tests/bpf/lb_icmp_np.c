// SPDX-License-Identifier: Apache-2.0
/*
 * ICMP errors from outside about NodePort replies (bpf/lib/nodeport.h
 * lb_icmp_np_rev, from_overlay's from_outside_icmp), through BPF_PROG_TEST_RUN
 * on the maps tests/bpf/lb.c writes (prep lb_state): NODE_IP:30080/TCP -> B:8080
 * (a backend on this node), NODE_IP:30081/TCP -> R:80 (on node n2: SNAT to
 * this node, Geneve; or DSR), and here NODE_IP:30086/UDP -> B:5353.
 *
 * A router between this node and the client answers a reply the node sent
 * (NODE_IP:nodePort -> client) with an error: it must reach the backend
 * quoting the reply as the backend sent it. Every frame the programs must
 * leave is built from scratch with the translated fields and every checksum
 * computed in full, and compared byte for byte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "harness.h"

#define NP_CLIENT "203.0.113.21" /* outside the cluster (world) */
#define NP_ROUTER "203.0.113.1" /* a router on the way to it */
/* np_expect: no counter may move (every reason is a negative number). */
#define NP_UNCOUNTED 1
#define TH_SYN 0x02
#define TH_ACK 0x10

struct npf {
	const uint8_t *smac, *dmac;
	uint32_t saddr, daddr;
	uint16_t sport, dport; /* host order */
	uint8_t proto, flags, ttl;
};

static uint16_t l4_sum(uint32_t s, uint32_t d, uint8_t proto, const uint8_t *l4, size_t len)
{
	uint8_t tmp[12 + FRAME_MAX];

	memcpy(tmp, &s, 4);
	memcpy(tmp + 4, &d, 4);
	tmp[8] = 0;
	tmp[9] = proto;
	tmp[10] = (uint8_t)(len >> 8);
	tmp[11] = (uint8_t)len;
	memcpy(tmp + 12, l4, len);
	return csum(tmp, 12 + len);
}

/* Ethernet, IPv4 (no options), TCP (20 bytes) or UDP (8 bytes, 4 of payload), real checksums. */
static size_t np_frame(const struct npf *f, uint8_t *buf)
{
	uint8_t *ip = buf + ETH_HLEN, *l4 = ip + 20;
	size_t l4len = f->proto == IPPROTO_TCP ? 20 : 12;
	uint16_t c;

	memset(buf, 0, FRAME_MAX);
	memcpy(buf, f->dmac, ETH_ALEN);
	memcpy(buf + ETH_ALEN, f->smac, ETH_ALEN);
	*(uint16_t *)(buf + 12) = htons(ETH_P_IP);
	ip[0] = 0x45;
	*(uint16_t *)(ip + 2) = htons(20 + l4len);
	*(uint16_t *)(ip + 4) = htons(0x1234);
	*(uint16_t *)(ip + 6) = htons(0x4000);
	ip[8] = f->ttl ? f->ttl : 64;
	ip[9] = f->proto;
	memcpy(ip + 12, &f->saddr, 4);
	memcpy(ip + 16, &f->daddr, 4);
	*(uint16_t *)(ip + 10) = csum(ip, 20);
	*(uint16_t *)l4 = htons(f->sport);
	*(uint16_t *)(l4 + 2) = htons(f->dport);
	if (f->proto == IPPROTO_TCP) {
		*(uint32_t *)(l4 + 4) = htonl(0x01020304);
		if (f->flags & TH_ACK)
			*(uint32_t *)(l4 + 8) = htonl(0x0a0b0c0d);
		l4[12] = 5 << 4;
		l4[13] = f->flags;
		*(uint16_t *)(l4 + 14) = htons(64240);
		*(uint16_t *)(l4 + 16) = l4_sum(f->saddr, f->daddr, IPPROTO_TCP, l4, l4len);
	} else {
		*(uint16_t *)(l4 + 4) = htons(l4len);
		memcpy(l4 + 8, "ping", 4);
		c = l4_sum(f->saddr, f->daddr, IPPROTO_UDP, l4, l4len);
		*(uint16_t *)(l4 + 6) = c ? c : 0xffff;
	}
	return ETH_HLEN + 20 + l4len;
}

/*
 * An ICMP error (type 3 code 4, next-hop MTU 1400) with f's addresses, MACs
 * and TTL, quoting the first 28 bytes of the IP packet in frame quoted.
 * udp_check, when not 0: the quoted UDP checksum (the programs leave it).
 */
static size_t np_icmp_error(const struct npf *f, const uint8_t *quoted, uint16_t udp_check,
			    uint8_t *buf)
{
	uint8_t *ip = buf + ETH_HLEN, *icmp = ip + 20;

	memset(buf, 0, FRAME_MAX);
	memcpy(buf, f->dmac, ETH_ALEN);
	memcpy(buf + ETH_ALEN, f->smac, ETH_ALEN);
	*(uint16_t *)(buf + 12) = htons(ETH_P_IP);
	ip[0] = 0x45;
	*(uint16_t *)(ip + 2) = htons(20 + 8 + 28);
	*(uint16_t *)(ip + 4) = htons(0x4321);
	ip[8] = f->ttl ? f->ttl : 64;
	ip[9] = IPPROTO_ICMP;
	memcpy(ip + 12, &f->saddr, 4);
	memcpy(ip + 16, &f->daddr, 4);
	*(uint16_t *)(ip + 10) = csum(ip, 20);
	icmp[0] = 3; /* destination unreachable */
	icmp[1] = 4; /* fragmentation needed */
	*(uint16_t *)(icmp + 6) = htons(1400);
	memcpy(icmp + 8, quoted + ETH_HLEN, 28);
	if (udp_check)
		memcpy(icmp + 8 + 20 + 6, &udp_check, 2);
	*(uint16_t *)(icmp + 2) = csum(icmp, 36);
	return ETH_HLEN + 20 + 36;
}

static struct npf np_from_outside(uint16_t sp, uint16_t dp, uint8_t proto, uint8_t flags)
{
	return (struct npf){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			     .saddr = ip4(NP_CLIENT), .daddr = ip4(NODE_IP), .sport = sp, .dport = dp,
			     .proto = proto, .flags = flags };
}

/* The reply the node sent the client for a NodePort flow (the frame the router quotes). */
static struct npf np_reply(uint16_t np, uint16_t cport, uint8_t proto)
{
	return (struct npf){ .smac = pods[DEV_U].host_mac, .dmac = pods[DEV_U].mac,
			     .saddr = ip4(NODE_IP), .daddr = ip4(NP_CLIENT), .sport = np,
			     .dport = cport, .proto = proto, .flags = TH_SYN | TH_ACK, .ttl = 63 };
}

/* The router's error about frame q, to this node, on the underlay. */
static struct npf np_router(void)
{
	return (struct npf){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			     .saddr = ip4(NP_ROUTER), .daddr = ip4(NODE_IP) };
}

/*
 * One packet: verdict ret, counted once under (reason, the program's
 * direction) and nowhere else (reason NP_UNCOUNTED: nowhere), output exactly
 * want when given.
 */
static void np_expect(int prog, int dev, const uint8_t *in, size_t len, int ret, int reason,
		      const uint8_t *want, size_t want_len)
{
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	struct bpf_test_run_opts o = {};
	uint8_t buf[FRAME_MAX], out[FRAME_MAX];
	__u32 idx = reason == NP_UNCOUNTED ? XCNI_NR_METRICS : XCNI_METRIC_IDX(reason, prog_dir(prog));

	assert_true(len <= sizeof(buf));
	memcpy(buf, in, len);
	assert_int_equal(read_metrics(before), 0);
	assert_int_equal(run(prog, dev, buf, len, out, sizeof(out), 0, &o), 0);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(read_metrics(after), 0);
	for (__u32 i = 0; i < XCNI_NR_METRICS; i++) {
		uint64_t dp = after[i].packets - before[i].packets;

		if (dp != (uint64_t)(i == idx))
			fail_msg("%s/%s counted %" PRIu64, reason_name(i / XCNI_NR_DIRS),
				 dir_name(i % XCNI_NR_DIRS), dp);
	}
	assert_int_equal((int)o.retval, ret);
	if (!want)
		return;
	assert_int_equal(o.data_size_out, want_len);
	for (size_t i = 0; i < want_len; i++)
		if (out[i] != want[i])
			fail_msg("output differs first at byte %zu: 0x%02x, want 0x%02x", i, out[i],
				 want[i]);
}

static int np_ct_get(uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint8_t proto,
		     struct xcni_ct_entry *e)
{
	struct xcni_ct_key k = { .saddr = s, .daddr = d, .sport = htons(sp), .dport = htons(dp),
				 .proto = proto };

	return bpf_map_lookup_elem(map_fd("xcni_ct"), &k, e) ? -errno : 0;
}

/* NODE_IP:30086/UDP -> B:5353 (backend 12, lb.c's), frontend id 40. */
static int np_udp_setup(void **state)
{
	struct xcni_svc_key k = { .port = htons(30086), .family = XCNI_AF_INET,
				  .proto = IPPROTO_UDP, .scope = XCNI_SCOPE_EXT };
	struct xcni_svc s = { .id = 40, .count = 1, .rev_nat = 40 };
	struct xcni_revnat rn = { .port = htons(30086), .family = XCNI_AF_INET };
	struct xcni_svcslot_key sk = { .svc_id = 40 };
	uint32_t a = ip4(NODE_IP), be = 12;
	uint16_t rid = 40;

	(void)state;
	memcpy(k.addr, &a, 4);
	memcpy(rn.addr, &a, 4);
	if (bpf_map_update_elem(map_fd("xcni_svcslot"), &sk, &be, BPF_ANY) ||
	    bpf_map_update_elem(map_fd("xcni_revnat"), &rid, &rn, BPF_ANY) ||
	    bpf_map_update_elem(map_fd("xcni_svc"), &k, &s, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * A backend on this node (TCP 30080 -> B:8080, the client's address kept):
 * the error goes into B, from the router still, quoting B:8080 -> client.
 * UDP (30086 -> B:5353) the same, its quoted checksum left as it was.
 */
static void np_icmp_local(void **state)
{
	uint8_t in[FRAME_MAX], q[FRAME_MAX], qw[FRAME_MAX], want[FRAME_MAX];
	struct npf f = np_from_outside(51000, 30080, IPPROTO_TCP, TH_SYN), r, e;
	struct xcni_ct_entry ce;
	uint16_t udp_check;
	size_t len, wlen;

	(void)state;
	len = np_frame(&f, in);
	np_expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, NULL, 0);
	assert_int_equal(np_ct_get(ip4(NP_CLIENT), ip4(IP_B), 51000, 8080, IPPROTO_TCP, &ce), 0);
	assert_int_equal(ce.flags, XCNI_CT_F_NODEPORT);

	r = np_reply(30080, 51000, IPPROTO_TCP);
	np_frame(&r, q);
	e = np_router();
	len = np_icmp_error(&e, q, 0, in);
	r.saddr = ip4(IP_B);
	r.sport = 8080;
	np_frame(&r, qw);
	e.daddr = ip4(IP_B);
	e.smac = pods[DEV_B].host_mac;
	e.dmac = pods[DEV_B].mac;
	e.ttl = 63;
	wlen = np_icmp_error(&e, qw, 0, want);
	np_expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);

	/* UDP. */
	f = np_from_outside(51002, 30086, IPPROTO_UDP, 0);
	len = np_frame(&f, in);
	np_expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, NULL, 0);
	r = np_reply(30086, 51002, IPPROTO_UDP);
	np_frame(&r, q);
	memcpy(&udp_check, q + ETH_HLEN + 20 + 6, 2);
	e = np_router();
	len = np_icmp_error(&e, q, 0, in);
	r.saddr = ip4(IP_B);
	r.sport = 5353;
	np_frame(&r, qw);
	e.daddr = ip4(IP_B);
	e.smac = pods[DEV_B].host_mac;
	e.dmac = pods[DEV_B].mac;
	e.ttl = 63;
	wlen = np_icmp_error(&e, qw, udp_check, want);
	np_expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
}

/*
 * A backend on n2 (TCP 30081 -> R:80, SNATed to NODE_IP:51001): the error
 * goes to R through Geneve, from this node, quoting R:80 -> NODE_IP:51001 as
 * R sent it.
 */
static void np_icmp_remote(void **state)
{
	uint8_t in[FRAME_MAX], q[FRAME_MAX], qw[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct npf f = np_from_outside(51001, 30081, IPPROTO_TCP, TH_SYN), r, e;
	struct xcni_ct_key tuple = { .saddr = ip4(NODE_IP), .daddr = ip4(IP_R),
				     .proto = IPPROTO_ICMP };
	struct xcni_ct_entry ce;
	size_t len, ilen, wlen;

	(void)state;
	len = np_frame(&f, in);
	np_expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, NULL, 0);
	assert_int_equal(np_ct_get(ip4(NP_CLIENT), ip4(NODE_IP), 51001, 30081, IPPROTO_TCP, &ce), 0);
	assert_int_equal(ce.nat_port, htons(51001));

	r = np_reply(30081, 51001, IPPROTO_TCP);
	np_frame(&r, q);
	e = np_router();
	len = np_icmp_error(&e, q, 0, in);
	r.saddr = ip4(IP_R);
	r.sport = 80;
	r.daddr = ip4(NODE_IP);
	r.dport = 51001;
	np_frame(&r, qw);
	e.saddr = ip4(NODE_IP);
	e.daddr = ip4(IP_R);
	e.ttl = 63;
	ilen = np_icmp_error(&e, qw, 0, inner);
	wlen = geneve_wrap(tuple, inner, ilen, in, NODE_IP, N2, VNI, 0, want);
	np_expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
}

/*
 * DSR (--node-port-mode dsr, TCP 30081 -> R:80 on n2, the client kept): n2
 * answered the client from NODE_IP:30081, so the router's error comes here.
 * It goes to R through Geneve, from this node (n2 takes inner sources of
 * this node only), quoting R:80 -> client as R sent it.
 */
static void np_icmp_dsr(void **state)
{
	uint8_t in[FRAME_MAX], q[FRAME_MAX], qw[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct npf f = np_from_outside(51003, 30081, IPPROTO_TCP, TH_SYN), r, e;
	struct xcni_ct_key tuple = { .saddr = ip4(NODE_IP), .daddr = ip4(IP_R),
				     .proto = IPPROTO_ICMP };
	struct xcni_ct_entry ce;
	size_t len, ilen, wlen;

	(void)state;
	len = np_frame(&f, in);
	np_expect(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, NULL, 0);
	assert_int_equal(np_ct_get(ip4(NP_CLIENT), ip4(IP_R), 51003, 80, IPPROTO_TCP, &ce), 0);
	assert_int_equal(ce.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);

	r = np_reply(30081, 51003, IPPROTO_TCP);
	np_frame(&r, q);
	e = np_router();
	len = np_icmp_error(&e, q, 0, in);
	r.saddr = ip4(IP_R);
	r.sport = 80;
	np_frame(&r, qw);
	e.saddr = ip4(NODE_IP);
	e.daddr = ip4(IP_R);
	e.ttl = 63;
	ilen = np_icmp_error(&e, qw, 0, inner);
	wlen = geneve_wrap(tuple, inner, ilen, in, NODE_IP, N2, VNI, 0, want);
	np_expect(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
}

/*
 * Not about a NodePort reply: a flow this node never saw (another client
 * port), a quote from another address than the error is sent to, and any
 * error where Services are kube-proxy's: left to the stack, untouched,
 * counted nowhere.
 */
static void np_icmp_unknown(void **state)
{
	uint8_t in[FRAME_MAX], q[FRAME_MAX];
	struct npf r = np_reply(30080, 51999, IPPROTO_TCP), e = np_router();
	size_t len;

	(void)state;
	np_frame(&r, q);
	len = np_icmp_error(&e, q, 0, in);
	np_expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_OK, NP_UNCOUNTED, in, len);
	/* A quote from another address than the error's destination. */
	r = np_reply(30080, 51000, IPPROTO_TCP);
	r.saddr = ip4(N2);
	np_frame(&r, q);
	len = np_icmp_error(&e, q, 0, in);
	np_expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_OK, NP_UNCOUNTED, in, len);
	/* Where Services are kube-proxy's, the stack has it whatever it is. */
	r = np_reply(30080, 51000, IPPROTO_TCP);
	np_frame(&r, q);
	len = np_icmp_error(&e, q, 0, in);
	np_expect(FROM_OVERLAY, DEV_U, in, len, TC_ACT_OK, NP_UNCOUNTED, in, len);
}

static const struct CMUnitTest lb_icmp_np_tests[] = {
	cmocka_unit_test_setup(np_icmp_local, np_udp_setup),
	cmocka_unit_test(np_icmp_remote),
	cmocka_unit_test(np_icmp_dsr),
	cmocka_unit_test(np_icmp_unknown),
};
const struct group lb_icmp_np_group = { "lb_icmp_np", TESTS(lb_icmp_np_tests), .prep = lb_state };
