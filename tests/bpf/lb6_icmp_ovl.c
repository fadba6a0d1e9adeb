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
 * Run after lb6.c (its endpoints, its policy opened, lb enabled programs).
 */
#include <arpa/inet.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "harness.h"

#define A6 "fd00:99::a"
#define R6M "fd00:98::3" /* a pod of n2 */
#define N2_6 "fd00:97::2" /* n2's own IPv6 address (a remote node) */
#define VIPT "fd00:96::21"
#define VIPU "fd00:96::22"
#define ICMP6 58
#define PTB 2 /* Packet Too Big */
#define UNREACH 1 /* code 4: port unreachable */

static void in6(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

/* The IPv6 pseudo-header's checksum over l4 (len bytes) of packet ip6. */
static uint16_t csum6(const uint8_t *ip6, uint8_t nh, const uint8_t *l4, size_t len)
{
	uint8_t tmp[40 + FRAME_MAX] = { 0 };

	assert_true(len <= FRAME_MAX);
	memcpy(tmp, ip6 + 8, 32);
	tmp[34] = (uint8_t)(len >> 8);
	tmp[35] = (uint8_t)len;
	tmp[39] = nh;
	memcpy(tmp + 40, l4, len);
	return csum(tmp, 40 + len);
}

/* An IPv6 header of payload plen into ip. */
static void ip6_hdr(uint8_t *ip, const char *src, const char *dst, uint8_t nh, uint8_t hop,
		    size_t plen)
{
	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[4] = (uint8_t)(plen >> 8);
	ip[5] = (uint8_t)plen;
	ip[6] = nh;
	ip[7] = hop;
	in6(src, ip + 8);
	in6(dst, ip + 24);
}

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

/* One packet through prog from dev: verdict ret, counted once under reason, output want. */
static void expect_out(int prog, int dev, const uint8_t *in, size_t len, int ret, int reason,
		       const uint8_t *want, size_t want_len)
{
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	struct bpf_test_run_opts o = {};
	uint8_t buf[FRAME_MAX], out[FRAME_MAX];
	__u32 idx = XCNI_METRIC_IDX(reason, prog_dir(prog));

	memcpy(buf, in, len);
	assert_int_equal(read_metrics(before), 0);
	assert_int_equal(run(prog, dev, buf, len, out, sizeof(out), 0, &o), 0);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(read_metrics(after), 0);
	for (__u32 i = 0; i < XCNI_NR_METRICS; i++)
		if (after[i].packets - before[i].packets != (i == idx))
			fail_msg("%s/%s counted %llu, want %s/%s (verdict %d)",
				 reason_name(i / XCNI_NR_DIRS), dir_name(i % XCNI_NR_DIRS),
				 (unsigned long long)(after[i].packets - before[i].packets),
				 reason_name(XCNI_REASON_IDX(reason)), dir_name(prog_dir(prog)),
				 o.retval);
	assert_int_equal((int)o.retval, ret);
	if (!want)
		return;
	assert_int_equal(o.data_size_out, want_len);
	for (size_t i = 0; i < want_len; i++)
		if (out[i] != want[i])
			fail_msg("output differs first at byte %zu: 0x%02x, want 0x%02x", i, out[i],
				 want[i]);
}

/* The agent's writes: R6M a pod of n2, N2_6 n2 itself; the two frontends, each one backend. */
static void icmp_ovl_setup(void **state)
{
	struct xcni_ipcache6_key k = { .prefixlen = 128 };
	struct xcni_ipcache_val v = { .identity = 0x3001, .tunnel_ip = ip4(N2),
				      .flags = XCNI_IPC_POD };
	static const struct {
		const char *vip;
		uint16_t port, bport;
		uint8_t proto;
		uint32_t id, be;
	} s[] = { { VIPT, 80, 8080, IPPROTO_TCP, 340, 3401 },
		  { VIPU, 53, 5353, IPPROTO_UDP, 341, 3402 } };

	(void)state;
	in6(R6M, k.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &k, &v, BPF_ANY), 0);
	v = (struct xcni_ipcache_val){ .identity = XCNI_ID_REMOTE_NODE, .tunnel_ip = ip4(N2) };
	in6(N2_6, k.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &k, &v, BPF_ANY), 0);
	for (size_t i = 0; i < ARRAY_SIZE(s); i++) {
		struct xcni_backend b = { .port = htons(s[i].bport), .family = XCNI_AF_INET6 };
		struct xcni_svc_key sk = { .port = htons(s[i].port), .family = XCNI_AF_INET6,
					   .proto = s[i].proto };
		struct xcni_svc sv = { .id = s[i].id, .count = 1, .rev_nat = (uint16_t)s[i].id };
		struct xcni_revnat rn = { .port = htons(s[i].port), .family = XCNI_AF_INET6 };
		struct xcni_svcslot_key slot = { .svc_id = s[i].id };
		uint16_t rid = (uint16_t)s[i].id;

		in6(R6M, b.addr);
		in6(s[i].vip, sk.addr);
		in6(s[i].vip, rn.addr);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_backend"), &s[i].be, &b, BPF_ANY), 0);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_svcslot"), &slot, &s[i].be, BPF_ANY), 0);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_revnat"), &rid, &rn, BPF_ANY), 0);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_svc"), &sk, &sv, BPF_ANY), 0);
	}
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
	expect_out(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, NULL, 0);
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
	expect_out(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
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

const struct CMUnitTest lb6_icmp_ovl_tests[] = {
	cmocka_unit_test(icmp_ovl_setup),
	cmocka_unit_test(lb6_icmp_ovl_ptb),
	cmocka_unit_test(lb6_icmp_ovl_unreach),
};
const size_t nr_lb6_icmp_ovl_tests = ARRAY_SIZE(lb6_icmp_ovl_tests);
