// SPDX-License-Identifier: Apache-2.0
/*
 * The underlay's XDP prefilter (bpf/xdp_underlay.bpf.c) through
 * BPF_PROG_TEST_RUN, both families: frames with a source on the deny list
 * are dropped and counted on their entry and under drop-prefilter, others
 * pass untouched (byte for byte), with or without VLAN tags in front.
 *
 *   xcni_prefilter       203.0.113.0/24 (the rows)
 *   xcni_prefilter6      2001:db8:bad::/48, 2001:db8:bad:1::7/128 (the IPv6 tests)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>

#include "harness.h"

int prefilter_add(void)
{
	struct xcni_prefilter_key k = { .prefixlen = 24, .addr = ip4("203.0.113.0") };
	struct xcni_prefilter_val v = {};

	__u32 net = ip4("203.0.113.0"), one = 1;

	/* What xcnictl prefilter add writes: the /24's mark, then the trie entry. */
	if (bpf_map_update_elem(map_fd("xcni_pf24"), &net, &one, BPF_ANY))
		return -errno;
	return bpf_map_update_elem(map_fd("xcni_prefilter"), &k, &v, BPF_ANY) ? -errno : 0;
}

static int prefilter_counted(void)
{
	struct xcni_prefilter_key k = { .prefixlen = 24, .addr = ip4("203.0.113.0") };
	struct xcni_prefilter_val v;

	if (bpf_map_lookup_elem(map_fd("xcni_prefilter"), &k, &v))
		return -errno;
	return v.packets == 1 && v.bytes == ETH_HLEN + 20 + 12 ? 0 : -EPROTO;
}

/* After the XDP drop, from_overlay's two (the tagged frame 4 bytes longer). */
static int prefilter_counted3(void)
{
	struct xcni_prefilter_key k = { .prefixlen = 24, .addr = ip4("203.0.113.0") };
	struct xcni_prefilter_val v;

	if (bpf_map_lookup_elem(map_fd("xcni_prefilter"), &k, &v))
		return -errno;
	return v.packets == 3 && v.bytes == 3 * (ETH_HLEN + 20 + 12) + 4 ? 0 : -EPROTO;
}

static const struct row prefilter_rows[] = {
	/* XDP on the underlay: the prefilter. */
	{ "prefilter: deny 203.0.113.0/24", .step = prefilter_add },
	{ "XDP: source on the deny list: dropped", .prog = XDP, .dev = DEV_U, .plain = true,
	  UDP("203.0.113.5", 5000, NODE_IP, 53), .ret = XDP_DROP, .reason = XCNI_DROP_PREFILTER },
	{ "XDP: any other source passes", .prog = XDP, .dev = DEV_U, .plain = true,
	  UDP("198.51.100.1", 5000, NODE_IP, 53), .ret = XDP_PASS, .uncounted = true },
	{ "prefilter: the entry counted its drop", .step = prefilter_counted },
	/* The same judge in from_overlay, where the node runs it at tc (--xdp-mode tc). */
	{ "from_overlay (tc prefilter): source on the deny list: dropped, no event (as at XDP)",
	  .prog = FROM_OVERLAY_PF, .dev = DEV_U, .plain = true, UDP("203.0.113.5", 5000, NODE_IP, 53),
	  .ret = TC_ACT_SHOT, .reason = XCNI_DROP_PREFILTER, .no_ev = true },
	{ "from_overlay (tc prefilter): behind an 802.1Q tag: dropped", .prog = FROM_OVERLAY_PF,
	  .dev = DEV_U, .plain = true, .eth = ETH_P_8021Q, UDP("203.0.113.6", 5000, NODE_IP, 53),
	  .ret = TC_ACT_SHOT, .reason = XCNI_DROP_PREFILTER, .no_ev = true },
	{ "prefilter: the entry counted the two tc drops too", .step = prefilter_counted3 },
	{ "from_overlay (tc prefilter): any other source goes on (the stack's)",
	  .prog = FROM_OVERLAY_PF, .dev = DEV_U, .plain = true, UDP("198.51.100.1", 5000, NODE_IP, 53),
	  .ret = TC_ACT_OK, .uncounted = true },
};

/* IPv6. */
#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88a8

static const char *const denied[] = { "2001:db8:bad::/48", "2001:db8:bad:1::7/128" };

static struct xcni_prefilter6_key key6(const char *cidr)
{
	struct xcni_prefilter6_key k = {};
	char a[INET6_ADDRSTRLEN];
	const char *sl = strchr(cidr, '/');

	snprintf(a, sizeof(a), "%.*s", (int)(sl - cidr), cidr);
	assert_int_equal(inet_pton(AF_INET6, a, k.addr), 1);
	k.prefixlen = (uint32_t)atoi(sl + 1);
	return k;
}

static int pf6_fd(void)
{
	return bpf_map__fd(env.xdp->maps.xcni_prefilter6);
}

/* An Ethernet frame, ntags VLAN tags (802.1ad outside, 802.1Q inside), IPv6, UDP. */
static size_t frame6(const char *src, const char *dst, int ntags, uint8_t *f)
{
	static const uint8_t dmac[ETH_ALEN] = { 2, 0, 0, 0, 0, 0xaa },
			     smac[ETH_ALEN] = { 2, 0, 0, 0, 0, 0xbb };
	const uint16_t tpid[2] = { ntags == 2 ? ETH_P_8021AD_ : ETH_P_8021Q_, ETH_P_8021Q_ };
	struct ipv6hdr ip6 = { .version = 6, .payload_len = htons(8 + 4), .nexthdr = IPPROTO_UDP,
			       .hop_limit = 64 };
	uint16_t udp[4] = { htons(40000), htons(53), htons(8 + 4), 0 };
	size_t n = 0;

	memcpy(f, dmac, ETH_ALEN);
	memcpy(f + ETH_ALEN, smac, ETH_ALEN);
	n = 2 * ETH_ALEN;
	for (int i = 0; i < ntags; i++) {
		uint16_t t = htons(tpid[i]), tci = htons((uint16_t)(100 + i));

		memcpy(f + n, &t, 2);
		memcpy(f + n + 2, &tci, 2);
		n += 4;
	}
	f[n++] = 0x86;
	f[n++] = 0xdd;
	assert_int_equal(inet_pton(AF_INET6, src, &ip6.saddr), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, &ip6.daddr), 1);
	memcpy(f + n, &ip6, sizeof(ip6));
	n += sizeof(ip6);
	memcpy(f + n, udp, sizeof(udp));
	n += sizeof(udp);
	memcpy(f + n, "xcni", 4);
	return n + 4;
}

static struct xcni_prefilter_val entry(const char *cidr)
{
	struct xcni_prefilter6_key k = key6(cidr);
	struct xcni_prefilter_val v = {};

	assert_int_equal(bpf_map_lookup_elem(pf6_fd(), &k, &v), 0);
	return v;
}

static uint64_t prefilter_drops(void)
{
	struct xcni_metric m[XCNI_NR_METRICS];

	assert_int_equal(read_metrics(m), 0);
	return m[XCNI_METRIC_IDX(XCNI_DROP_PREFILTER, XCNI_DIR_FROM_OVERLAY)].packets;
}

/*
 * One frame from src with ntags tags, the verdict want; the frame must come
 * out as it went in, and the entry counted (cidr) must have counted exactly
 * this frame when dropped, nothing when passed.
 */
static void xdp6_case(const char *src, int ntags, int want, const char *cidr)
{
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	size_t len = frame6(src, "2001:db8:1::1", ntags, in);
	struct xcni_prefilter_val before[2], after[2];
	struct bpf_test_run_opts o = {};
	uint64_t m0 = prefilter_drops();

	for (size_t i = 0; i < ARRAY_SIZE(denied); i++)
		before[i] = entry(denied[i]);
	assert_int_equal(run(XDP, DEV_U, in, len, out, sizeof(out), 0, &o), 0);
	assert_int_equal(o.retval, want);
	assert_int_equal(o.data_size_out, len);
	assert_memory_equal(in, out, len);
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		bool hit = cidr && !strcmp(cidr, denied[i]);

		after[i] = entry(denied[i]);
		assert_int_equal(after[i].packets, before[i].packets + hit);
		assert_int_equal(after[i].bytes, before[i].bytes + (hit ? len : 0));
	}
	assert_int_equal(prefilter_drops(), m0 + (want == XDP_DROP));
}

static int xdp6_setup(void **state)
{
	struct xcni_prefilter_val v = {};

	(void)state;
	/* What xcnictl prefilter add writes for IPv6: the trie entry, nothing in front. */
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		struct xcni_prefilter6_key k = key6(denied[i]);

		if (bpf_map_update_elem(pf6_fd(), &k, &v, BPF_NOEXIST))
			return -errno;
	}
	return 0;
}

static void xdp6_listed_dropped(void **state)
{
	(void)state;
	xdp6_case("2001:db8:bad::5", 0, XDP_DROP, "2001:db8:bad::/48");
	xdp6_case("2001:db8:bad:ffff:ffff:ffff:ffff:ffff", 0, XDP_DROP, "2001:db8:bad::/48");
}

static void xdp6_longest_match_counted(void **state)
{
	(void)state;
	xdp6_case("2001:db8:bad:1::7", 0, XDP_DROP, "2001:db8:bad:1::7/128");
	xdp6_case("2001:db8:bad:1::8", 0, XDP_DROP, "2001:db8:bad::/48");
}

static void xdp6_unlisted_passed(void **state)
{
	(void)state;
	xdp6_case("2001:db8:bae::5", 0, XDP_PASS, NULL);
	xdp6_case("2001:db8:bac:ffff::1", 0, XDP_PASS, NULL);
	xdp6_case("fe80::1", 0, XDP_PASS, NULL);
}

static void xdp6_tagged(void **state)
{
	(void)state;
	xdp6_case("2001:db8:bad::9", 1, XDP_DROP, "2001:db8:bad::/48");
	xdp6_case("2001:db8:bad::9", 2, XDP_DROP, "2001:db8:bad::/48");
	xdp6_case("2001:db8:bae::9", 1, XDP_PASS, NULL);
	xdp6_case("2001:db8:bae::9", 2, XDP_PASS, NULL);
}

/* An IPv6 header cut short: not read, passed on to tc (which judges what it can). */
static void xdp6_short_passed(void **state)
{
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	size_t len = frame6("2001:db8:bad::5", "2001:db8:1::1", 1, in);
	struct bpf_test_run_opts o = {};
	uint64_t m0 = prefilter_drops();
	struct xcni_prefilter_val before = entry("2001:db8:bad::/48");

	(void)state;
	len = ETH_HLEN + 4 + sizeof(struct ipv6hdr) - 1;
	assert_int_equal(run(XDP, DEV_U, in, len, out, sizeof(out), 0, &o), 0);
	assert_int_equal(o.retval, XDP_PASS);
	assert_memory_equal(in, out, len);
	assert_int_equal(prefilter_drops(), m0);
	assert_int_equal(entry("2001:db8:bad::/48").packets, before.packets);
}

static int xdp6_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		struct xcni_prefilter6_key k = key6(denied[i]);

		bpf_map_delete_elem(pf6_fd(), &k);
	}
	return 0;
}

static const struct CMUnitTest xdp6_tests[] = {
	cmocka_unit_test_setup(xdp6_listed_dropped, xdp6_setup),
	cmocka_unit_test(xdp6_longest_match_counted),
	cmocka_unit_test(xdp6_unlisted_passed),
	cmocka_unit_test(xdp6_tagged),
	cmocka_unit_test_teardown(xdp6_short_passed, xdp6_teardown),
};
const struct group prefilter_group = { "prefilter", ROWS(prefilter_rows), TESTS(xdp6_tests) };
