// SPDX-License-Identifier: Apache-2.0
/*
 * ICMPv6 errors from outside about a reply this node sent for an IPv6
 * NodePort flow (from_overlay's from_outside_icmp6, bpf/lib/nodeport.h): a
 * router on the client's path (ROUTER6) sends Packet Too Big (or time
 * exceeded, ...) to the frontend, quoting [NODE6]:nodeport -> client. It
 * must reach the backend quoting the reply as the backend sent it, byte for
 * byte (the ICMPv6 checksum computed here in full over the pseudo-header;
 * the quoted L4 checksum left as it was):
 *
 *   frontend            backend
 *   [NODE6]:30180/TCP   3601: B6:8080 (this node)  PTB -> B from ROUTER6
 *   [NODE6]:30182/UDP   3602: B6:5354 (this node)  time exceeded -> B
 *   [NODE6]:30181/TCP   3603: R6N:80 (on n2)       PTB quoting R6N:80 ->
 *                                                  NODE6:nat port, from
 *                                                  NODE6, Geneve to n2
 *   the same, DSR                                  quoting R6N:80 -> client
 *   [NODE6]:30183/TCP   3604: RV6:80 (on nv, IPv6 underlay)  Geneve over IPv6
 *
 * An error about no flow, one not addressed to the quote's source, and any
 * where Services are kube-proxy's are left to the stack untouched.
 * On lb6.c's state (prep lb6_state: its endpoints, B's policy opened, NODE6
 * the host's).
 */
#include <arpa/inet.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "lb6.h"

#define B6 "fd00:99::b" /* lb6.c's pod B */
#define R6N "fd00:98::2" /* lb6.c's pod of n2 */
#define ROUTER6 "2001:db8:ff::1" /* a router between this node and the client */
#define NV "fc00:77::2" /* lb6_v6ul.c's node nv, behind the IPv6 underlay */
#define RV6 "fd00:95::2" /* its pod */
#define ICMP6 58
#define PTB 2 /* Packet Too Big */
#define TIME_EXCEEDED 3

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

/*
 * Local backend, TCP: the client's SYN into B (DNAT only), B's SYN-ACK leaves
 * from the NodePort; a router's Packet Too Big about that SYN-ACK reaches B
 * from the router, quoting [B6]:8080 -> client, one hop less.
 */
static void lb6_icmp_np_local_tcp(void **state)
{
	struct g6 f = outside6_to(CLIENT6, 51000, NODE6, 30180, IPPROTO_TCP, T_SYN);
	struct g6 r = { .smac = pods[DEV_B].mac, .dmac = pods[DEV_B].host_mac, .src = B6,
			.dst = CLIENT6, .sport = 8080, .dport = 51000, .proto = IPPROTO_TCP,
			.flags = T_SYN | T_ACK };
	uint8_t in[FRAME_MAX], want[FRAME_MAX], q[FRAME_MAX];
	size_t len, qlen, wlen;

	(void)state;
	len = frame6(&f, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, NULL, 0);
	len = frame6(&r, in);
	expect6(FROM_POD_LB, DEV_B, in, len, TC_ACT_OK, XCNI_FWD_REPLY, NULL, 0);

	qlen = quote6(q, NODE6, 30180, CLIENT6, 51000, IPPROTO_TCP, T_SYN | T_ACK);
	len = from_router(in, PTB, 0, 1280, NODE6, q, qlen);
	requote(q, B6, 8080, CLIENT6, 51000);
	wlen = icmp6_err(want, pods[DEV_B].host_mac, pods[DEV_B].mac, ROUTER6, B6, 63, PTB, 0, 1280,
			 q, qlen);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
}

/* Local backend, UDP: time exceeded about B's answer, into B likewise. */
static void lb6_icmp_np_local_udp(void **state)
{
	struct g6 f = outside6_to(CLIENT6, 51001, NODE6, 30182, IPPROTO_UDP, 0);
	uint8_t in[FRAME_MAX], want[FRAME_MAX], q[FRAME_MAX];
	size_t len, qlen, wlen;

	(void)state;
	len = frame6(&f, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, NULL, 0);

	qlen = quote6(q, NODE6, 30182, CLIENT6, 51001, IPPROTO_UDP, 0);
	len = from_router(in, TIME_EXCEEDED, 0, 0, NODE6, q, qlen);
	requote(q, B6, 5354, CLIENT6, 51001);
	wlen = icmp6_err(want, pods[DEV_B].host_mac, pods[DEV_B].mac, ROUTER6, B6, 63, TIME_EXCEEDED,
			 0, 0, q, qlen);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
}

/*
 * Remote backend, SNATed: the client's SYN goes to R6N on n2 as
 * NODE6:51010 -> R6N:80; a Packet Too Big about the reply (which left from
 * the NodePort) goes to n2 in Geneve over the IPv4 underlay, from NODE6 to
 * R6N, quoting [R6N]:80 -> [NODE6]:51010 as R6N sent it.
 */
static void lb6_icmp_np_remote(void **state)
{
	struct g6 f = outside6_to(CLIENT6, 51010, NODE6, 30181, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX], want[FRAME_MAX], q[FRAME_MAX], inner[FRAME_MAX];
	struct xcni_ct_entry e;
	struct xcni_ct6_key k = { .sport = htons(51010), .dport = htons(30181),
				  .proto = IPPROTO_TCP };
	size_t len, qlen, ilen, wlen;

	(void)state;
	len = frame6(&f, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, NULL, 0);
	/* The port SNAT gave it (the service entry's): the client's own, free. */
	in6(CLIENT6, k.saddr);
	in6(NODE6, k.daddr);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_ct6"), &k, &e), 0);
	assert_int_equal(e.nat_port, htons(51010));

	qlen = quote6(q, NODE6, 30181, CLIENT6, 51010, IPPROTO_TCP, T_SYN | T_ACK);
	len = from_router(in, PTB, 0, 1280, NODE6, q, qlen);
	requote(q, R6N, 80, NODE6, 51010);
	ilen = icmp6_err(inner, pods[DEV_U].mac, pods[DEV_U].host_mac, NODE6, R6N, 63, PTB, 0, 1280, q,
			 qlen);
	wlen = geneve_wrap6(inner, ilen, NODE_IP, N2, geneve_sport6(NODE6, 0, R6N, 0, ICMP6), VNI,
			    want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
}

/*
 * DSR (--node-port-mode dsr): n2 answered the client itself, from this
 * node's NodePort, so the router's error comes here; the flow's entry
 * (client -> R6N, XCNI_CT_F_DSR) names the backend: to R6N in Geneve, from
 * NODE6 (n2 takes inner sources of this node only), quoting
 * [R6N]:80 -> [client]:port as R6N sent it.
 */
static void lb6_icmp_np_dsr(void **state)
{
	struct g6 f = outside6_to(CLIENT6, 51020, NODE6, 30181, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX], want[FRAME_MAX], q[FRAME_MAX], inner[FRAME_MAX];
	struct xcni_ct6_key k = { .sport = htons(51020), .dport = htons(80), .proto = IPPROTO_TCP };
	struct xcni_ct_entry e;
	size_t len, qlen, ilen, wlen;

	(void)state;
	len = frame6(&f, in);
	expect6(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, NULL, 0);
	in6(CLIENT6, k.saddr);
	in6(R6N, k.daddr);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_ct6"), &k, &e), 0);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);

	qlen = quote6(q, NODE6, 30181, CLIENT6, 51020, IPPROTO_TCP, T_SYN | T_ACK);
	len = from_router(in, PTB, 0, 1280, NODE6, q, qlen);
	requote(q, R6N, 80, CLIENT6, 51020);
	ilen = icmp6_err(inner, pods[DEV_U].mac, pods[DEV_U].host_mac, NODE6, R6N, 63, PTB, 0, 1280, q,
			 qlen);
	wlen = geneve_wrap6(inner, ilen, NODE_IP, N2, geneve_sport6(NODE6, 0, R6N, 0, ICMP6), VNI,
			    want);
	expect6(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
}

/*
 * The same over the IPv6 underlay (a from_overlay with node_ip6 = NODE6, as
 * lb6_v6ul.c's): the backend RV6 on nv, behind it; the error goes in Geneve
 * over IPv6 from NODE6 to NV (nodeport6_encap's tunnel_encap), counted there.
 */
static void lb6_icmp_np_ul6(void **state)
{
	struct from_overlay *fo = ul6_load(1);
	int fd;
	struct g6 f = outside6_to(CLIENT6, 51030, NODE6, 30183, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX], want[FRAME_MAX], q[FRAME_MAX], inner[FRAME_MAX];
	size_t len, qlen, ilen, wlen;

	(void)state;
	assert_non_null(fo);
	fd = bpf_program__fd(fo->progs.from_overlay);
	assert_int_equal(ul6_node(NV, "nv", RV6, 0x3100), 0);
	be6(3604, RV6, 80);
	svc6(NODE6, 30183, IPPROTO_TCP, 363, 0, (const uint32_t[]){ 3604 }, 1);
	len = frame6(&f, in);
	expect6_fd(fd, XCNI_DIR_FROM_OVERLAY, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, NULL,
		   0);

	qlen = quote6(q, NODE6, 30183, CLIENT6, 51030, IPPROTO_TCP, T_SYN | T_ACK);
	len = from_router(in, PTB, 0, 1280, NODE6, q, qlen);
	requote(q, RV6, 80, NODE6, 51030);
	ilen = icmp6_err(inner, pods[DEV_U].mac, pods[DEV_U].host_mac, NODE6, RV6, 63, PTB, 0, 1280,
			 q, qlen);
	wlen = geneve_wrap_ul6(inner, ilen, NODE6, NV, geneve_hash6(NODE6, 0, RV6, 0, ICMP6), VNI,
			       want);
	expect6_fd(fd, XCNI_DIR_FROM_OVERLAY, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want,
		   wlen);
	from_overlay__destroy(fo);
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

static const struct CMUnitTest lb6_icmp_np_tests[] = {
	cmocka_unit_test(icmp6np_setup),
	cmocka_unit_test(lb6_icmp_np_local_tcp),
	cmocka_unit_test(lb6_icmp_np_local_udp),
	cmocka_unit_test(lb6_icmp_np_remote),
	cmocka_unit_test(lb6_icmp_np_dsr),
	cmocka_unit_test(lb6_icmp_np_ul6),
	cmocka_unit_test(lb6_icmp_np_not_ours),
};
const struct group lb6_icmp_np_group = { "lb6_icmp_np", TESTS(lb6_icmp_np_tests), .prep = lb6_state };
