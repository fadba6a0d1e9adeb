// SPDX-License-Identifier: Apache-2.0
/*
 * ICMP errors about NodePort and Service flows (bpf/lib/nodeport_icmp.h,
 * bpf/lib/lb.h), both families side by side, through BPF_PROG_TEST_RUN on
 * the frontends svc_lib.c's lb_setup and nodeport.c's np6_setup write (prep
 * svc_state) and those written here.
 *
 * From outside (from_overlay's ovl_icmp4/6, either family): a
 * router between this node and the client answers a reply the node sent
 * (the frontend -> client) with an error; it must reach the backend quoting
 * the reply as the backend sent it:
 *   NODE_IP:30080/TCP     B:8080 (this node)           lb_setup
 *   NODE_IP:30081/TCP     R:80 (on n2: SNAT, Geneve; or DSR)
 *   NODE_IP:30086/UDP     B:5353                       np_udp_setup
 *   [NODE6]:30180/TCP     3601: B6:8080 (this node)    PTB -> B from ROUTER6
 *   [NODE6]:30182/UDP     3602: B6:5354 (this node)    time exceeded -> B
 *   [NODE6]:30181/TCP     3603: R6N:80 (on n2)         PTB quoting R6N:80 ->
 *                                                      NODE6:nat port, from
 *                                                      NODE6, Geneve to n2
 *   the same, DSR                                      quoting R6N:80 -> client
 *   [NODE6]:30183/TCP     3604: RV6:80 (on nv, IPv6 underlay)  Geneve over IPv6
 * An error about no flow, one not addressed to the quote's source, and any
 * where Services are kube-proxy's are left to the stack untouched.
 *
 * Through Geneve (from_overlay6's lb6_icmp_rev_nat): pod A reaches a
 * ClusterIP whose backend R6M is on n2; an error about the flow comes back
 * from n2 quoting the packet as the backend got it (A -> R6M:backend port),
 * and must reach A quoting the frontend instead, from the frontend when the
 * backend itself sent it:
 *   [fd00:96::21]:80/TCP  3401: [R6M]:8080   PTB from n2's node address N2_6
 *   [fd00:96::22]:53/UDP  3402: [R6M]:5353   port unreachable from R6M itself
 * (The backend's own error about a SNATed NodePort flow is nodeport.c's.)
 *
 * Every frame the programs must leave is built from scratch with the
 * translated fields and every checksum computed in full (the quoted L4
 * checksum left as it was), and compared byte for byte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "lb.h"
#include "lb6.h"

#define NP_CLIENT "203.0.113.21" /* outside the cluster (world) */
#define NP_ROUTER "203.0.113.1" /* a router on the way to it */
/* np_expect: no counter may move (every reason is a negative number). */
#define NP_UNCOUNTED 1
#define B6 "fd00:99::b" /* parse.c's pod B (v6_setup) */
#define R6N "fd00:98::2" /* np6_setup's pod of n2 */
#define ROUTER6 "2001:db8:ff::1" /* a router between this node and the client */
#define NV "fc00:77::2" /* nodeport.c's node nv, behind the IPv6 underlay */
#define RV6 "fd00:95::2" /* its pod */
#define ICMP6 58
#define PTB 2 /* Packet Too Big */
#define TIME_EXCEEDED 3
#define R6M "fd00:98::3" /* a pod of n2 */
#define N2_6 "fd00:97::2" /* n2's own IPv6 address (a remote node) */
#define VIPT "fd00:96::21"
#define VIPU "fd00:96::22"
#define UNREACH 1 /* code 4: port unreachable */

/* ---- IPv4 frames, the check ---------------------------------------------- */

/* lb.h's fragmentation needed (next-hop MTU 1400) answering the quoted frame;
 * udp_check, when given, the quoted UDP checksum instead of the frame's. */
static size_t np_icmp_error(const struct fr *f, const uint8_t *quoted, uint16_t udp_check,
			    uint8_t *buf)
{
	size_t len = icmp_error(f, 3, 4, quoted, buf);
	uint8_t *icmp = buf + ETH_HLEN + 20;

	if (udp_check) {
		memcpy(icmp + 8 + 20 + 6, &udp_check, 2);
		memset(icmp + 2, 0, 2);
		*(uint16_t *)(icmp + 2) = csum(icmp, 36);
	}
	return len;
}

static struct fr np_from_outside(uint16_t sp, uint16_t dp, uint8_t proto, uint8_t flags)
{
	return (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			    .saddr = ip4(NP_CLIENT), .daddr = ip4(NODE_IP), .sport = sp,
			    .dport = dp, .proto = proto, .flags = flags,
			    .payload = proto == IPPROTO_UDP ? 4 : 0 };
}

/* The reply the node sent the client for a NodePort flow (the frame the router quotes). */
static struct fr np_reply(uint16_t np, uint16_t cport, uint8_t proto)
{
	return (struct fr){ .smac = pods[DEV_U].host_mac, .dmac = pods[DEV_U].mac,
			    .saddr = ip4(NODE_IP), .daddr = ip4(NP_CLIENT), .sport = np,
			    .dport = cport, .proto = proto, .flags = TH_SYN | TH_ACK, .ttl = 63,
			    .payload = proto == IPPROTO_UDP ? 4 : 0 };
}

/* The router's error about frame q, to this node, on the underlay. */
static struct fr np_router(void)
{
	return (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
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

/* ---- IPv6 frames --------------------------------------------------------- */

/* The ICMPv6 error type/code (word: its 4 bytes after the checksum) src -> dst quoting q,
 * hop limit hop, in an Ethernet frame smac -> dmac; its length. */
static size_t icmp6_err(uint8_t *frame, const uint8_t *smac, const uint8_t *dmac, const char *src,
			const char *dst, uint8_t hop, uint8_t type, uint8_t code, uint32_t word,
			const uint8_t *q, size_t qlen)
{
	uint8_t *ip = frame + ETH_HLEN, *l4 = ip + 40;
	uint16_t c;

	memset(frame, 0, FRAME_MAX);
	memcpy(frame, dmac, ETH_ALEN);
	memcpy(frame + ETH_ALEN, smac, ETH_ALEN);
	frame[12] = 0x86;
	frame[13] = 0xdd;
	ip6_hdr(ip, src, dst, ICMP6, hop, 8 + qlen);
	l4[0] = type;
	l4[1] = code;
	word = htonl(word);
	memcpy(l4 + 4, &word, 4);
	memcpy(l4 + 8, q, qlen);
	c = csum6(ip, ICMP6, l4, 8 + qlen);
	memcpy(l4 + 2, &c, 2);
	return ETH_HLEN + 40 + 8 + qlen;
}

/* The IPv6 packet (no Ethernet) src:sp -> dst:dp as frame6 builds it, into q: the quote. */
static size_t quote6(uint8_t *q, const char *src, uint16_t sp, const char *dst, uint16_t dp,
		     uint8_t proto, uint8_t flags)
{
	struct g6 g = { .smac = pods[DEV_U].host_mac, .dmac = pods[DEV_U].mac, .src = src,
			.dst = dst, .sport = sp, .dport = dp, .proto = proto, .flags = flags,
			.payload = proto == IPPROTO_UDP ? 12 : 0, .hop = 60 };
	uint8_t f[FRAME_MAX];
	size_t len = frame6(&g, f) - ETH_HLEN;

	memcpy(q, f + ETH_HLEN, len);
	return len;
}

/* The quote q as the backend sent it: src:sp -> dst:dp, its L4 checksum as it was. */
static void requote(uint8_t *q, const char *src, uint16_t sp, const char *dst, uint16_t dp)
{
	uint16_t v;

	in6(src, q + 8);
	in6(dst, q + 24);
	v = htons(sp);
	memcpy(q + 40, &v, 2);
	v = htons(dp);
	memcpy(q + 42, &v, 2);
}

/* The error from ROUTER6 to the frontend as it arrives on the underlay. */
static size_t from_router(uint8_t *in, uint8_t type, uint8_t code, uint32_t word, const char *to,
			  const uint8_t *q, size_t qlen)
{
	return icmp6_err(in, pods[DEV_U].mac, pods[DEV_U].host_mac, ROUTER6, to, 64, type, code,
			 word, q, qlen);
}

/* Not ours: passed untouched, uncounted (the stack's), by prog. */
static void untouched(int prog, uint8_t *in, size_t len)
{
	struct bpf_test_run_opts o = {};
	uint8_t out[FRAME_MAX];

	assert_int_equal(run(prog, DEV_U, in, len, out, sizeof(out), 0, &o), 0);
	assert_int_equal(o.retval, TC_ACT_OK);
	assert_int_equal(o.data_size_out, len);
	assert_memory_equal(out, in, len);
}

static void icmp6np_setup(void **state)
{
	(void)state;
	ipc6_put(NODE6, XCNI_ID_HOST, NULL, 0);
	ipc6_put(R6N, 0x3000, N2, XCNI_IPC_POD);
	be6(3601, B6, 8080);
	be6(3602, B6, 5354);
	be6(3603, R6N, 80);
	svc6(NODE6, 30180, IPPROTO_TCP, 360, 0, (const uint32_t[]){ 3601 }, 1);
	svc6(NODE6, 30182, IPPROTO_UDP, 361, 0, (const uint32_t[]){ 3602 }, 1);
	svc6(NODE6, 30181, IPPROTO_TCP, 362, 0, (const uint32_t[]){ 3603 }, 1);
}

/* ---- From outside, about a reply of a backend on this node --------------- */

/* NODE_IP:30086/UDP -> B:5353 (backend 12, lb_setup's), frontend id 40. */
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
 * A backend on this node (the client's address kept): the client's packet
 * (to fe, for B:bport) into B; the router's error about the reply from fe
 * goes into B, from the router still, quoting B:bport -> client; UDP's
 * quoted checksum left as it was.
 */
static void np_icmp_local4(uint8_t proto, uint16_t fe, uint16_t bport, uint16_t cport)
{
	uint8_t in[FRAME_MAX], q[FRAME_MAX], qw[FRAME_MAX], want[FRAME_MAX];
	struct fr f = np_from_outside(cport, fe, proto, proto == IPPROTO_TCP ? TH_SYN : 0), r, e;
	struct xcni_ct_entry ce;
	uint16_t udp_check = 0;
	size_t len, wlen;

	len = frame(&f, in);
	np_expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, NULL, 0);
	if (proto == IPPROTO_TCP) {
		assert_int_equal(np_ct_get(ip4(NP_CLIENT), ip4(IP_B), cport, bport, proto, &ce), 0);
		assert_int_equal(ce.flags, XCNI_CT_F_NODEPORT);
	}

	r = np_reply(fe, cport, proto);
	frame(&r, q);
	if (proto == IPPROTO_UDP)
		memcpy(&udp_check, q + ETH_HLEN + 20 + 6, 2);
	e = np_router();
	len = np_icmp_error(&e, q, 0, in);
	r.saddr = ip4(IP_B);
	r.sport = bport;
	frame(&r, qw);
	e.daddr = ip4(IP_B);
	e.smac = pods[DEV_B].host_mac;
	e.dmac = pods[DEV_B].mac;
	e.ttl = 63;
	wlen = np_icmp_error(&e, qw, udp_check, want);
	np_expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
}

/* TCP 30080 -> B:8080; UDP 30086 -> B:5353 (np_udp_setup). */
static void np_icmp_local(void **state)
{
	(void)state;
	np_icmp_local4(IPPROTO_TCP, 30080, 8080, 51000);
	np_icmp_local4(IPPROTO_UDP, 30086, 5353, 51002);
}

/*
 * A backend on this node (B6): the client's packet into B (DNAT only); for
 * TCP, B's SYN-ACK leaves from the NodePort. A router's error (type, its
 * word: PTB's MTU) about B's answer reaches B from the router, quoting
 * [B6]:bport -> client, one hop less.
 */
static void icmp6_np_local(uint8_t proto, uint16_t fe, uint16_t bport, uint16_t cport,
			   uint8_t type, uint32_t word)
{
	uint8_t flags = proto == IPPROTO_TCP ? T_SYN : 0;
	struct g6 f = outside6_to(CLIENT6, cport, NODE6, fe, proto, flags);
	uint8_t in[FRAME_MAX], want[FRAME_MAX], q[FRAME_MAX];
	size_t len, qlen, wlen;

	len = frame6(&f, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, NULL, 0);
	if (proto == IPPROTO_TCP) {
		struct g6 r = { .smac = pods[DEV_B].mac, .dmac = pods[DEV_B].host_mac, .src = B6,
				.dst = CLIENT6, .sport = bport, .dport = cport, .proto = proto,
				.flags = T_SYN | T_ACK };

		flags = T_SYN | T_ACK;
		len = frame6(&r, in);
		expect6(FROM_POD_LB, DEV_B, in, len, TC_ACT_OK, XCNI_FWD_REPLY, NULL, 0);
	}

	qlen = quote6(q, NODE6, fe, CLIENT6, cport, proto, flags);
	len = from_router(in, type, 0, word, NODE6, q, qlen);
	requote(q, B6, bport, CLIENT6, cport);
	wlen = icmp6_err(want, pods[DEV_B].host_mac, pods[DEV_B].mac, ROUTER6, B6, 63, type, 0,
			 word, q, qlen);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
}

/* TCP: Packet Too Big about B's SYN-ACK. */
static void lb6_icmp_np_local_tcp(void **state)
{
	(void)state;
	icmp6_np_local(IPPROTO_TCP, 30180, 8080, 51000, PTB, 1280);
}

/* UDP: time exceeded about B's answer. */
static void lb6_icmp_np_local_udp(void **state)
{
	(void)state;
	icmp6_np_local(IPPROTO_UDP, 30182, 5354, 51001, TIME_EXCEEDED, 0);
}

/* ---- From outside, about a reply of a backend on n2 ---------------------- */

/*
 * A backend on n2 (TCP 30081 -> R:80), the router's error about the reply
 * the client got from NODE_IP:30081. SNATed: the client's SYN went to R as
 * NODE_IP:port -> R:80 (the port the service entry keeps); the error goes
 * to R through Geneve, from this node, quoting R:80 -> NODE_IP:port as R
 * sent it. DSR (--node-port-mode dsr, the client kept): n2 answered the
 * client from NODE_IP:30081, so the router's error comes here; it goes to
 * R the same way (n2 takes inner sources of this node only), quoting
 * R:80 -> client as R sent it.
 */
static void np_icmp_to_r(int prog, uint16_t cport, bool dsr)
{
	uint8_t in[FRAME_MAX], q[FRAME_MAX], qw[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct fr f = np_from_outside(cport, 30081, IPPROTO_TCP, TH_SYN), r, e;
	struct xcni_ct_key tuple = { .saddr = ip4(NODE_IP), .daddr = ip4(IP_R),
				     .proto = IPPROTO_ICMP };
	struct xcni_ct_entry ce;
	size_t len, ilen, wlen;

	len = frame(&f, in);
	np_expect(prog, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, NULL, 0);
	if (dsr) {
		assert_int_equal(np_ct_get(ip4(NP_CLIENT), ip4(IP_R), cport, 80, IPPROTO_TCP, &ce),
				 0);
		assert_int_equal(ce.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	} else {
		assert_int_equal(
			np_ct_get(ip4(NP_CLIENT), ip4(NODE_IP), cport, 30081, IPPROTO_TCP, &ce), 0);
		assert_int_equal(ce.nat_port, htons(cport));
	}

	r = np_reply(30081, cport, IPPROTO_TCP);
	frame(&r, q);
	e = np_router();
	len = np_icmp_error(&e, q, 0, in);
	r.saddr = ip4(IP_R);
	r.sport = 80;
	if (!dsr) {
		r.daddr = ip4(NODE_IP);
		r.dport = cport;
	}
	frame(&r, qw);
	e.saddr = ip4(NODE_IP);
	e.daddr = ip4(IP_R);
	e.ttl = 63;
	ilen = np_icmp_error(&e, qw, 0, inner);
	wlen = geneve_wrap(tuple, inner, ilen, in, NODE_IP, N2, VNI, 0, want);
	np_expect(prog, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
}

static void np_icmp_remote(void **state)
{
	(void)state;
	np_icmp_to_r(FROM_OVERLAY_LB, 51001, false);
}

/*
 * A backend on another node, the router's error (Packet Too Big) about the
 * reply the client got from [NODE6]:fe, either underlay. SNATed: the
 * client's SYN went to the backend as NODE6:port -> backend:80 (the port
 * SNAT gave it, the service entry's: the client's own, free); the error goes
 * to the backend's node in Geneve, from NODE6 to the backend, quoting
 * [backend]:80 -> [NODE6]:port as the backend sent it. DSR
 * (--node-port-mode dsr): n2 answered the client itself, from this node's
 * NodePort, so the router's error comes here; the flow's entry (client ->
 * backend, XCNI_CT_F_DSR) names the backend: to it in Geneve, from NODE6
 * (n2 takes inner sources of this node only), quoting
 * [backend]:80 -> [client]:port as the backend sent it.
 */
struct icmp6_np_case {
	const char *node, *backend;
	uint16_t fe, cport;
	bool dsr, ul6; /* DSR, else SNAT; Geneve over IPv6, else over IPv4 */
};

static void icmp6_np_backend(int fd, const struct icmp6_np_case *c)
{
	struct g6 f = outside6_to(CLIENT6, c->cport, NODE6, c->fe, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX], want[FRAME_MAX], q[FRAME_MAX], inner[FRAME_MAX];
	struct xcni_ct6_key k = { .sport = htons(c->cport), .proto = IPPROTO_TCP };
	struct xcni_ct_entry e;
	size_t len, qlen, ilen, wlen;

	len = frame6(&f, in);
	expect6_fd(fd, XCNI_DIR_FROM_OVERLAY, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, NULL,
		   0);
	in6(CLIENT6, k.saddr);
	in6(c->dsr ? c->backend : NODE6, k.daddr);
	k.dport = htons(c->dsr ? 80 : c->fe);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_ct6"), &k, &e), 0);
	if (c->dsr)
		assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	else
		assert_int_equal(e.nat_port, htons(c->cport));

	qlen = quote6(q, NODE6, c->fe, CLIENT6, c->cport, IPPROTO_TCP, T_SYN | T_ACK);
	len = from_router(in, PTB, 0, 1280, NODE6, q, qlen);
	requote(q, c->backend, 80, c->dsr ? CLIENT6 : NODE6, c->cport);
	ilen = icmp6_err(inner, pods[DEV_U].mac, pods[DEV_U].host_mac, NODE6, c->backend, 63, PTB,
			 0, 1280, q, qlen);
	if (c->ul6)
		wlen = geneve_wrap_ul6(inner, ilen, NODE6, c->node,
				       geneve_hash6(NODE6, 0, c->backend, 0, ICMP6), VNI, want);
	else
		wlen = geneve_wrap6(inner, ilen, NODE_IP, c->node,
				    geneve_sport6(NODE6, 0, c->backend, 0, ICMP6), VNI, want);
	expect6_fd(fd, XCNI_DIR_FROM_OVERLAY, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want,
		   wlen);
}

/* [NODE6]:30181 -> R6N:80 on n2, SNATed, Geneve over the IPv4 underlay. */
static void lb6_icmp_np_remote(void **state)
{
	static const struct icmp6_np_case c = { N2, R6N, 30181, 51010, false, false };

	(void)state;
	icmp6_np_backend(prog_fd(FROM_OVERLAY_LB), &c);
}

static void np_icmp_dsr(void **state)
{
	(void)state;
	np_icmp_to_r(FROM_OVERLAY_DSR, 51003, true);
}

/* The same frontend, DSR. */
static void lb6_icmp_np_dsr(void **state)
{
	static const struct icmp6_np_case c = { N2, R6N, 30181, 51020, true, false };

	(void)state;
	icmp6_np_backend(prog_fd(FROM_OVERLAY_DSR), &c);
}

/*
 * Over the IPv6 underlay (a from_overlay with node_ip6 = NODE6, as
 * nodeport.c's): [NODE6]:30183 -> RV6:80 on nv, behind it; the error goes in
 * Geneve over IPv6 from NODE6 to NV (nodeport6_encap_call's tunnel_encap).
 */
static void lb6_icmp_np_ul6(void **state)
{
	static const struct icmp6_np_case c = { NV, RV6, 30183, 51030, false, true };
	struct from_overlay *fo = ul6_load(1);

	(void)state;
	assert_non_null(fo);
	assert_int_equal(ul6_node(NV, "nv", RV6, 0x3100), 0);
	be6(3604, RV6, 80);
	svc6(NODE6, 30183, IPPROTO_TCP, 363, 0, (const uint32_t[]){ 3604 }, 1);
	icmp6_np_backend(bpf_program__fd(fo->progs.from_overlay), &c);
	from_overlay__destroy(fo);
}

/* ---- Not ours ------------------------------------------------------------ */

/*
 * Not about a NodePort reply: a flow this node never saw (another client
 * port), a quote from another address than the error is sent to, and any
 * error where Services are kube-proxy's: left to the stack, untouched,
 * counted nowhere.
 */
static void np_icmp_unknown(void **state)
{
	uint8_t in[FRAME_MAX], q[FRAME_MAX];
	struct fr r = np_reply(30080, 51999, IPPROTO_TCP), e = np_router();
	size_t len;

	(void)state;
	frame(&r, q);
	len = np_icmp_error(&e, q, 0, in);
	np_expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_OK, NP_UNCOUNTED, in, len);
	/* A quote from another address than the error's destination. */
	r = np_reply(30080, 51000, IPPROTO_TCP);
	r.saddr = ip4(N2);
	frame(&r, q);
	len = np_icmp_error(&e, q, 0, in);
	np_expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_OK, NP_UNCOUNTED, in, len);
	/* Where Services are kube-proxy's, the stack has it whatever it is. */
	r = np_reply(30080, 51000, IPPROTO_TCP);
	frame(&r, q);
	len = np_icmp_error(&e, q, 0, in);
	np_expect(FROM_OVERLAY, DEV_U, in, len, TC_ACT_OK, NP_UNCOUNTED, in, len);
}

/*
 * Left alone: an error about no flow of this node's (a port no client used),
 * one quoting the local flow of lb6_icmp_np_local_tcp but not sent to the
 * quote's source (not about what this node sent), and, where Services are
 * kube-proxy's, one that would otherwise be rewritten.
 */
static void lb6_icmp_np_not_ours(void **state)
{
	uint8_t in[FRAME_MAX], q[FRAME_MAX];
	size_t len, qlen;

	(void)state;
	qlen = quote6(q, NODE6, 30181, CLIENT6, 59999, IPPROTO_TCP, T_SYN | T_ACK);
	len = from_router(in, PTB, 0, 1280, NODE6, q, qlen);
	untouched(FROM_OVERLAY_LB, in, len);

	qlen = quote6(q, NODE6, 30180, CLIENT6, 51000, IPPROTO_TCP, T_SYN | T_ACK);
	len = from_router(in, PTB, 0, 1280, "fc00:77::99", q, qlen);
	untouched(FROM_OVERLAY_LB, in, len);

	len = from_router(in, PTB, 0, 1280, NODE6, q, qlen);
	untouched(FROM_OVERLAY, in, len);
}

/* ---- Through Geneve, about a ClusterIP's flow ---------------------------- */

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
	struct g6 g = from6(DEV_A, A6, sp, vip, port, proto, proto == IPPROTO_TCP ? T_SYN : 0);
	uint8_t f[FRAME_MAX], q[FRAME_MAX], in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct6_key ck = { .sport = htons(sp), .dport = htons(bport), .proto = proto };
	struct xcni_ct_entry e;
	size_t len, qlen, ilen, wlen;
	uint16_t v;

	/* The request: from_pod's DNAT and Geneve to n2. */
	len = frame6(&g, in);
	expect6(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, NULL, 0);
	in6(A6, ck.saddr);
	in6(R6M, ck.daddr);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_ct6"), &ck, &e), 0);
	assert_int_not_equal(e.rev_nat, 0);

	/* The error as n2 sends it: quoting the packet as R6M got it (one hop less). */
	g.dst = R6M;
	g.dport = bport;
	g.hop = 63;
	qlen = frame6(&g, f) - ETH_HLEN;
	memcpy(q, f + ETH_HLEN, qlen);
	ilen = icmp6_err(inner, pods[DEV_U].mac, pods[DEV_U].host_mac, from, A6, 64, type, code,
			 word, q, qlen);
	len = geneve_wrap6(inner, ilen, N2, NODE_IP, geneve_sport6(from, 0, A6, 0, ICMP6), VNI, in);

	/* What A must get: the quote's destination and port the frontend's (its L4
	 * checksum as it was), the error from want_src, its checksum in full. */
	in6(vip, q + 24);
	v = htons(port);
	memcpy(q + 40 + 2, &v, 2);
	wlen = icmp6_err(want, pods[DEV_A].host_mac, pods[DEV_A].mac, want_src, A6, 64, type, code,
			 word, q, qlen);
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

/* ---- The group ----------------------------------------------------------- */

static const struct CMUnitTest nodeport_icmp_tests[] = {
	cmocka_unit_test_setup(np_icmp_local, np_udp_setup),
	cmocka_unit_test(icmp6np_setup),
	cmocka_unit_test(lb6_icmp_np_local_tcp),
	cmocka_unit_test(lb6_icmp_np_local_udp),
	cmocka_unit_test(np_icmp_remote),
	cmocka_unit_test(lb6_icmp_np_remote),
	cmocka_unit_test(np_icmp_dsr),
	cmocka_unit_test(lb6_icmp_np_dsr),
	cmocka_unit_test(lb6_icmp_np_ul6),
	cmocka_unit_test(np_icmp_unknown),
	cmocka_unit_test(lb6_icmp_np_not_ours),
	cmocka_unit_test(icmp_ovl_setup),
	cmocka_unit_test(lb6_icmp_ovl_ptb),
	cmocka_unit_test(lb6_icmp_ovl_unreach),
};
const struct group nodeport_icmp_group = { "nodeport_icmp", TESTS(nodeport_icmp_tests),
					    .prep = svc_state };
