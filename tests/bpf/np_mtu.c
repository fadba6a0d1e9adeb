// SPDX-License-Identifier: Apache-2.0
/*
 * Path MTU for NodePorts to a backend on another node (bpf/lib/nodeport_icmp.h), through
 * BPF_PROG_TEST_RUN on the underlay device (DEV_U, a veth of MTU 1500: the
 * MTU bpf_check_mtu reads), on the frontends svc_lib.c's lb_setup and nodeport.c's
 * np6_setup write (prep svc_state):
 *
 *   NODE_IP:30081/TCP     101: R:80 on n2 (IPv4 underlay: 50 bytes, 1450 fit)
 *   [NODE6]:30082/UDP     3221: R6N:5353 on n2 (IPv4 underlay: 50 bytes)
 * and one of its own over the IPv6 underlay (a from_overlay with node_ip6):
 *   [NODE6]:30282/UDP     3501: RW6:5353 on node nw behind it (70 bytes, 1430 fit)
 * and, on a node with NODE_IP on that underlay (nodeport_ul46.c's ul46_load):
 *   NODE_IP:30283/TCP     3511: RW4:80 on nw (70 bytes, 1430 fit)
 *
 * A packet that fits is encapsulated (byte for byte as nodeport.c's); one
 * byte more is answered, from the frontend, with ICMP fragmentation-needed
 * (IPv4 with DF) or ICMPv6 Packet Too Big, every byte of which (checksums in
 * full, the quote as the client sent its packet) is written out here; IPv4
 * without DF is dropped. All counted drop-too-big, and the flow leaves no
 * conntrack entry behind.
 */
#include <arpa/inet.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "nodeport.h"

#define NW "fc00:77::3"
#define RW6 "fd00:94::2"
#define RW4 "10.94.0.2" /* nw's pod's IPv4 */
#define BIG 2048

/* TCP from outside to NODE_IP:30081 (a remote backend), tot_len bytes, DF. */
static struct fr big4(uint16_t sp, uint16_t tot_len)
{
	return (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			    .saddr = ip4(CLIENT), .daddr = ip4(NODE_IP), .sport = sp,
			    .dport = 30081, .proto = IPPROTO_TCP, .flags = TH_SYN,
			    .payload = (uint16_t)(tot_len - 40) };
}

/* What leaves for f when it fits: SNATed to NODE_IP:sp (the client's port), to R:80, in Geneve. */
static size_t fits4_want(const struct fr *f, const uint8_t *in, uint8_t *want)
{
	uint8_t inner[BIG];
	struct xcni_ct_key tuple;
	size_t ilen = np4_inner(f, f->sport, IP_R, 80, inner, &tuple);

	return geneve_wrap(tuple, inner, ilen, in, NODE_IP, N2, VNI, 0, want);
}

/* ICMP fragmentation needed (next-hop MTU mtu) for the client's frame in,
 * from the address it was sent to (the NodePort's). */
size_t np_frag_needed_want(const uint8_t *in, uint16_t mtu, uint8_t *want)
{
	uint8_t *ip = want + ETH_HLEN, *icmp = ip + 20;
	uint32_t src, dst;

	memcpy(&src, in + ETH_HLEN + 16, 4);
	memcpy(&dst, in + ETH_HLEN + 12, 4);

	memset(want, 0, ETH_HLEN + 56);
	memcpy(want, in + ETH_ALEN, ETH_ALEN);
	memcpy(want + ETH_ALEN, in, ETH_ALEN);
	*(uint16_t *)(want + 12) = htons(ETH_P_IP);
	ip[0] = 0x45;
	*(uint16_t *)(ip + 2) = htons(56);
	*(uint16_t *)(ip + 6) = htons(0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_ICMP;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	*(uint16_t *)(ip + 10) = csum(ip, 20);
	icmp[0] = 3;
	icmp[1] = 4;
	*(uint16_t *)(icmp + 6) = htons(mtu);
	memcpy(icmp + 8, in + ETH_HLEN, 28); /* the IP header and 8 bytes, untranslated */
	*(uint16_t *)(icmp + 2) = csum(icmp, 36);
	return ETH_HLEN + 56;
}

static void no_flow4(uint16_t sp)
{
	int found;

	ct_get(ip4(CLIENT), ip4(NODE_IP), sp, 30081, IPPROTO_TCP, &found);
	assert_false(found);
	ct_get(ip4(NODE_IP), ip4(IP_R), sp, 80, IPPROTO_TCP, &found);
	assert_false(found);
}

/*
 * IPv4 over the IPv4 underlay: 1450 bytes fit (1500 with the 50 of Geneve);
 * 1451 with DF get fragmentation-needed, next-hop MTU 1450, quoting the
 * packet as the client sent it (to the NodePort, not R), under SNAT and DSR;
 * without DF dropped.
 */
static void np_mtu_ipv4(void **state)
{
	uint8_t in[BIG], want[BIG];
	struct fr f = big4(46101, 1450);
	size_t len, wlen;

	(void)state;
	len = frame(&f, in);
	wlen = fits4_want(&f, in, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	assert_int_equal(wlen, ETH_HLEN + 1500);

	f = big4(46102, 1451);
	len = frame(&f, in);
	wlen = np_frag_needed_want(in, 1450, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_DROP_TOO_BIG, want, wlen);
	no_flow4(46102);

	/* Under --node-port-mode dsr the same (a packet the option does not fit
	 * with goes without it: the plain encapsulation's room is the limit). */
	f = big4(46103, 1451);
	len = frame(&f, in);
	wlen = np_frag_needed_want(in, 1450, want);
	expect(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_DROP_TOO_BIG, want, wlen);
	no_flow4(46103);

	/* The same without DF: dropped, no answer. */
	f = big4(46102, 1451);
	len = frame(&f, in);
	*(uint16_t *)(in + ETH_HLEN + 6) = 0;
	*(uint16_t *)(in + ETH_HLEN + 10) = 0;
	*(uint16_t *)(in + ETH_HLEN + 10) = csum(in + ETH_HLEN, 20);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_TOO_BIG, NULL, 0);
	no_flow4(46102);
}

/* Declared in nodeport.h (nodeport_ul46.c's big frames too). */
size_t np_run_big(int fd, const uint8_t *in, size_t len, int ret, int reason, uint8_t *out,
		  bool xdp_diff)
{
	struct __sk_buff ctx = { .ifindex = env.ifindex[DEV_U] };
	uint8_t buf[BIG];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = BIG, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	assert_true(len <= BIG);
	memcpy(buf, in, len);
	npx_run_counted(fd, &o, XCNI_METRIC_IDX(reason, XCNI_DIR_FROM_OVERLAY), xdp_diff);
	assert_int_equal((int)o.retval, ret);
	return o.data_size_out;
}

static void same(const uint8_t *out, size_t olen, const uint8_t *want, size_t wlen)
{
	assert_int_equal(olen, wlen);
	for (size_t i = 0; i < wlen; i++)
		if (out[i] != want[i])
			fail_msg("output differs first at byte %zu: 0x%02x, want 0x%02x", i, out[i],
				 want[i]);
}

/* Packet Too Big (MTU mtu) for the client's frame in, from the frontend fe: 1280 bytes. */
size_t np_ptb_want(const uint8_t *in, const char *fe, const char *client, uint32_t mtu,
		       uint8_t *want)
{
	uint8_t *ip = want + ETH_HLEN, *icmp = ip + 40;
	uint16_t c;

	memset(want, 0, ETH_HLEN + 1280);
	memcpy(want, in + ETH_ALEN, ETH_ALEN);
	memcpy(want + ETH_ALEN, in, ETH_ALEN);
	want[12] = 0x86;
	want[13] = 0xdd;
	ip[0] = 0x60;
	*(uint16_t *)(ip + 4) = htons(1240);
	ip[6] = 58;
	ip[7] = 64;
	in6(fe, ip + 8);
	in6(client, ip + 24);
	icmp[0] = 2;
	*(uint32_t *)(icmp + 4) = htonl(mtu);
	memcpy(icmp + 8, in + ETH_HLEN, 1232); /* as much of it as fits, untranslated */
	c = csum6(ip, 58, icmp, 1240);
	memcpy(icmp + 2, &c, 2);
	return ETH_HLEN + 1280;
}

/* UDP from outside to fe:dp, len bytes of IPv6 packet. */
static struct g6 big6(uint16_t sp, uint16_t dp, uint16_t len)
{
	struct g6 f = outside6_to(CLIENT6, sp, NODE6, dp, IPPROTO_UDP, 0);

	f.payload = (uint16_t)(len - 48);
	return f;
}

/*
 * IPv6 over the IPv4 underlay (np6_setup's [NODE6]:30082/UDP, R6N on n2): 1450
 * bytes fit; 1451 get Packet Too Big, MTU 1450, quoting the first 1232 bytes
 * of the packet as the client sent it.
 */
static void np_mtu_ipv6(void **state)
{
	uint8_t in[BIG], inner[BIG], want[BIG], out[BIG];
	struct g6 f = big6(46201, 30082, 1450);
	size_t len, wlen, ilen, olen;
	int fd = prog_fd(FROM_OVERLAY_LB);

	(void)state;
	len = frame6(&f, in);
	ilen = np6_snat_inner(&f, 46201, R6N, 5353, inner);
	wlen = geneve_wrap6(inner, ilen, NODE_IP, N2,
			    geneve_sport6(NODE6, 46201, R6N, 5353, IPPROTO_UDP), VNI, want);
	olen = np_run_big(fd, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, out, false);
	same(out, olen, want, wlen);
	assert_int_equal(olen, ETH_HLEN + 1500);

	f = big6(46202, 30082, 1451);
	len = frame6(&f, in);
	wlen = np_ptb_want(in, NODE6, CLIENT6, 1450, want);
	olen = np_run_big(fd, in, len, TC_ACT_REDIRECT, XCNI_DROP_TOO_BIG, out, false);
	same(out, olen, want, wlen);
}

/*
 * IPv6 over the IPv6 underlay (70 bytes of Geneve): 1430 bytes fit, 1431 get
 * Packet Too Big with MTU 1430.
 */
static void np_mtu_ul6(void **state)
{
	struct xcni_ipcache_val v = { .identity = 0x3500, .flags = XCNI_IPC_POD | XCNI_IPC_TUN6 };
	struct xcni_ipcache6_key k = { .prefixlen = 128 };
	uint8_t in[BIG], want[BIG], out[BIG];
	struct from_overlay *o = ul6_load(1); /* nodeport.c's */
	struct g6 f = big6(46301, 30282, 1430);
	size_t len, wlen, olen;
	int fd;

	(void)state;
	assert_non_null(o);
	fd = bpf_program__fd(o->progs.from_overlay);
	in6(RW6, k.addr);
	in6(NW, v.tunnel_ip6);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &k, &v, BPF_ANY), 0);
	be6(3501, RW6, 5353);
	svc6(NODE6, 30282, IPPROTO_UDP, 350, 0, (const uint32_t[]){ 3501 }, 1);

	len = frame6(&f, in);
	olen = np_run_big(fd, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, out, false);
	assert_int_equal(olen, ETH_HLEN + 1500);
	assert_int_equal(out[ETH_HLEN] >> 4, 6); /* the outer header IPv6 */

	f = big6(46302, 30282, 1431);
	len = frame6(&f, in);
	wlen = np_ptb_want(in, NODE6, CLIENT6, 1430, want);
	olen = np_run_big(fd, in, len, TC_ACT_REDIRECT, XCNI_DROP_TOO_BIG, out, false);
	same(out, olen, want, wlen);
	from_overlay__destroy(o);
}

/*
 * IPv4 over the IPv6 underlay (a node with NODE_IP whose backend's node nw
 * is known by its IPv6 address only): 70 bytes of Geneve, not IPv4's 50, so
 * 1430 bytes fit and 1431 with DF get fragmentation-needed with next-hop
 * MTU 1430, the flow left untracked.
 */
static void np_mtu_ul46(void **state)
{
	struct xcni_ipcache_val v = { .identity = 0x3500, .flags = XCNI_IPC_POD | XCNI_IPC_TUN6 };
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(RW4) };
	uint8_t in[BIG], want[BIG], out[BIG];
	struct from_overlay *o = ul46_load(0); /* nodeport_ul46.c's */
	struct fr f = big4(46401, 1430);
	size_t len, wlen, olen;
	int found, fd;

	(void)state;
	assert_non_null(o);
	fd = bpf_program__fd(o->progs.from_overlay);
	in6(NW, v.tunnel_ip6);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &v, BPF_ANY), 0);
	assert_int_equal(be_set(3511, RW4, 80, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NODE_IP, 30283, IPPROTO_TCP, 351, 0, 0, 0,
				 (const uint32_t[]){ 3511 }, 1, 0), 0);

	f.dport = 30283;
	len = frame(&f, in);
	olen = np_run_big(fd, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, out, false);
	assert_int_equal(olen, ETH_HLEN + 1500);
	assert_int_equal(out[ETH_HLEN] >> 4, 6); /* the outer header IPv6 */
	assert_int_equal(out[ETH_HLEN + 40 + 8 + 8 + ETH_HLEN] >> 4, 4); /* IPv4 inside */

	f = big4(46402, 1431);
	f.dport = 30283;
	len = frame(&f, in);
	wlen = np_frag_needed_want(in, 1430, want);
	olen = np_run_big(fd, in, len, TC_ACT_REDIRECT, XCNI_DROP_TOO_BIG, out, false);
	same(out, olen, want, wlen);
	ct_get(ip4(NODE_IP), ip4(RW4), 46402, 80, IPPROTO_TCP, &found);
	assert_false(found);
	from_overlay__destroy(o);
}

static const struct CMUnitTest np_mtu_tests[] = {
	cmocka_unit_test(np_mtu_ipv4),
	cmocka_unit_test(np_mtu_ipv6),
	cmocka_unit_test(np_mtu_ul6),
	cmocka_unit_test(np_mtu_ul46),
};
const struct group np_mtu_group = { "np_mtu", TESTS(np_mtu_tests), .prep = svc_state };
