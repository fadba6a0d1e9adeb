// SPDX-License-Identifier: Apache-2.0
/*
 * Geneve decapsulated at XDP (xcnid --overlay-decap xdp; bpf/lib/decap_xdp.h,
 * from_overlay's from_overlay_xdp), over the IPv4 underlay, both inner
 * families.
 *
 * This kernel's BPF_PROG_TEST_RUN takes no metadata for a tc program (an
 * __sk_buff with data_meta set is refused, EINVAL), so from_overlay meets
 * the record the way it does on a node: xdp_underlay runs with
 * BPF_F_TEST_XDP_LIVE_FRAMES on the underlay device (ingress_ifindex), and
 * what it passes is built into an skb (its metadata kept) that enters the
 * stack there, through from_overlay attached at its tc ingress. Both are
 * this group's own instances (dx_xdp: the cookie in its .bss; dx_tc:
 * env.ovin's settings and the same cookie), on the shared maps.
 *
 * Per row (the differential): the encapsulated frame through dx_tc by an
 * ordinary test run (today's path), then, with conntrack put back as it
 * was, the same frame through the XDP program live, dx_tc taking what it
 * passes. Both must count the same reason in the same direction with the
 * same bytes, and the tunnel's receive counter must move the same. And the
 * XDP program alone (an ordinary XDP test run): the frames it must take
 * come out with the outer headers off and the record in front; the hostile
 * ones (an unknown node, another VNI, options, an outer fragment, cut
 * short, for this node's own address, decapsulation off) come out as they
 * went in, with no metadata.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <linux/pkt_cls.h>

#include "harness.h"

#define A6 "fd00:99::a"
#define B6 "fd00:99::b"
#define R6 "fd00:98::5"
#define SELF6 "fc00:77::1"
#define DX_N6 "fc00:78::2" /* underlay6.c's n6 */
#define R6U "fd00:96::5" /* its pod R, IPv6 */
#define R4U "10.99.9.5" /* and IPv4 */

static const __u32 dx_cookie[2] = { 0x1badb002, 0x5eed0042 };
static struct from_overlay *dx_tc;
static struct xdp_underlay *dx_xdp;
static struct bpf_tc_hook dx_hook;
/* The node is one of the IPv6 underlay (node_ip6 UL6_NODE, no node_ip):
 * the group decap_xdp_ul6, on underlay6.c's state. */
static bool dx_ul6;

static int dx_load(bool ul6)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.pin_dir);
	LIBBPF_OPTS(bpf_tc_opts, tco);
	uint8_t n6[16];
	int err;

	dx_ul6 = ul6;
	assert_int_equal(inet_pton(AF_INET6, UL6_NODE, n6), 1);
	dx_tc = from_overlay__open_opts(&opts);
	if (!dx_tc)
		return -errno;
	if (ul6)
		memcpy((void *)dx_tc->rodata->node_ip6, n6, 16);
	else
		dx_tc->rodata->node_ip = ip4(NODE_IP);
	dx_tc->rodata->vni = VNI;
	UL_SVC_RANGES(dx_tc->rodata);
	memcpy((void *)dx_tc->rodata->decap_cookie, dx_cookie, sizeof(dx_cookie));
	if ((err = from_overlay__load(dx_tc)))
		return err;
	dx_xdp = xdp_underlay__open_opts(&opts);
	if (!dx_xdp)
		return -errno;
	if (ul6)
		memcpy((void *)dx_xdp->rodata->node_ip6, n6, 16);
	else
		dx_xdp->rodata->node_ip = ip4(NODE_IP);
	dx_xdp->rodata->vni = VNI;
	UL_SVC_RANGES(dx_xdp->rodata);
	if ((err = xdp_underlay__load(dx_xdp)))
		return err;
	memcpy((void *)dx_xdp->bss->decap_cookie_xdp, dx_cookie, sizeof(dx_cookie));
	memset(&dx_hook, 0, sizeof(dx_hook));
	dx_hook.sz = sizeof(dx_hook);
	dx_hook.ifindex = env.ifindex[DEV_U];
	dx_hook.attach_point = BPF_TC_INGRESS;
	err = bpf_tc_hook_create(&dx_hook);
	if (err && err != -EEXIST)
		return err;
	tco.prog_fd = bpf_program__fd(dx_tc->progs.from_overlay);
	return bpf_tc_attach(&dx_hook, &tco);
}

static int dx_setup(void **state)
{
	(void)state;
	return dx_load(false);
}

static int dx6_setup(void **state)
{
	(void)state;
	return dx_load(true);
}

static int dx_teardown(void **state)
{
	(void)state;
	dx_hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	bpf_tc_hook_destroy(&dx_hook);
	xdp_underlay__destroy(dx_xdp);
	from_overlay__destroy(dx_tc);
	dx_xdp = NULL;
	dx_tc = NULL;
	return 0;
}

/* The XDP program alone: its verdict, the bytes it left (metadata first), their metadata's length. */
static int dx_xdp_once(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len,
		       __u32 *metalen)
{
	struct xdp_md ci = { .data_end = (__u32)len }, co = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = (__u32)cap, .ctx_in = &ci,
		    .ctx_size_in = sizeof(ci), .ctx_out = &co, .ctx_size_out = sizeof(co));

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(dx_xdp->progs.xdp_underlay), &o), 0);
	*out_len = o.data_size_out;
	*metalen = co.data;
	return (int)o.retval;
}

/* The XDP program live on the underlay device: what it passes reaches dx_tc. */
static void dx_xdp_live(const uint8_t *in, size_t len)
{
	struct xdp_md ci = { .data_end = (__u32)len, .ingress_ifindex = (__u32)env.ifindex[DEV_U] };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len, .ctx_in = &ci,
		    .ctx_size_in = sizeof(ci), .repeat = 1, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(dx_xdp->progs.xdp_underlay), &o), 0);
}

static void dx_tc_once(const uint8_t *in, size_t len)
{
	uint8_t out[FRAME_MAX + 128];
	struct __sk_buff ctx = { .ifindex = env.ifindex[DEV_U] };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(dx_tc->progs.from_overlay), &o), 0);
}

/* What a run counted: the metrics and n2's tunnel counters. */
struct dx_count {
	struct xcni_metric m[XCNI_NR_METRICS];
	struct xcni_tunstat t;
};

static void dx_read(struct dx_count *c)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat s[ncpu];
	uint32_t n2 = ip4(N2);
	uint8_t n6[16];

	assert_int_equal(read_metrics(c->m), 0);
	memset(&c->t, 0, sizeof(c->t));
	assert_int_equal(inet_pton(AF_INET6, DX_N6, n6), 1);
	if (dx_ul6 ? bpf_map_lookup_elem(map_fd("xcni_tunstat6"), n6, s) :
		     bpf_map_lookup_elem(map_fd("xcni_tunstat"), &n2, s))
		return;
	for (int i = 0; i < ncpu; i++) {
		c->t.rx_packets += s[i].rx_packets;
		c->t.rx_bytes += s[i].rx_bytes;
	}
}

/* The one metric a run moved (-1: none; -2: more than one), its bytes in *bytes. */
static int dx_moved(const struct dx_count *a, const struct dx_count *b, __u64 *bytes)
{
	int idx = -1;

	for (int i = 0; i < XCNI_NR_METRICS; i++) {
		if (b->m[i].packets == a->m[i].packets)
			continue;
		if (idx != -1)
			return -2;
		idx = i;
		*bytes = b->m[i].bytes - a->m[i].bytes;
	}
	return idx;
}

struct dx_row {
	struct row r;
	bool decap; /* taken apart at XDP */
	void (*mangle)(uint8_t *f, size_t *len); /* after build() */
};

/* The outer IPv4 header of a built frame made a first fragment (MF), its checksum redone. */
static void outer_mf(uint8_t *f, size_t *len)
{
	struct iphdr *ip = (struct iphdr *)(f + ETH_HLEN);

	(void)len;
	ip->frag_off = htons(0x2000);
	ip->check = 0;
	ip->check = csum(ip, sizeof(*ip));
}

/* The Geneve header's critical-options bit set (no option follows). */
static void geneve_crit(uint8_t *f, size_t *len)
{
	(void)len;
	f[ETH_HLEN + 20 + 8 + 1] |= XCNI_GENEVE_F_CRIT;
}

static void check_dx_row(const struct dx_row *d)
{
	uint8_t in[FRAME_MAX], out[FRAME_MAX + 64];
	size_t len = build(&d->r, in), out_len;
	struct dx_count c0, c1, c2;
	__u64 b_tc = 0, b_xdp = 0;
	__u32 metalen;
	int ct_fd = map_fd("xcni_ct"), ret, i_tc, i_xdp;

	if (d->mangle)
		d->mangle(in, &len);
	/* The XDP program alone. */
	ret = dx_xdp_once(in, len, out, sizeof(out), &out_len, &metalen);
	assert_int_equal(ret, XDP_PASS);
	if (!d->decap) {
		assert_int_equal(metalen, 0);
		assert_int_equal(out_len, len);
		assert_memory_equal(out, in, len);
	} else {
		const struct xcni_decap_meta *m = (const void *)out;
		size_t hdr = dx_ul6 ? XCNI_ENCAP6_LEN : XCNI_ENCAP_LEN;
		uint8_t n6[16] = {};
		__u32 node;

		assert_int_equal(metalen, sizeof(*m));
		assert_int_equal(out_len, sizeof(*m) + len - hdr);
		assert_memory_equal(m->cookie, dx_cookie, sizeof(dx_cookie));
		if (dx_ul6) {
			assert_int_equal(inet_pton(AF_INET6, d->r.node, n6), 1);
			node = ((__u32 *)n6)[0] ^ ((__u32 *)n6)[1] ^ ((__u32 *)n6)[2] ^
			       ((__u32 *)n6)[3];
		} else {
			node = ip4(d->r.node);
		}
		assert_int_equal(m->node, node);
		assert_memory_equal(m->node6, n6, 16);
		assert_int_equal(m->hdr_len, hdr);
		assert_int_equal(m->outer6, dx_ul6);
		assert_int_equal(m->inner6, row_v6(&d->r));
		/* The outer MACs, the inner family, the inner packet. */
		assert_memory_equal(out + sizeof(*m), in, 12);
		assert_memory_equal(out + sizeof(*m) + 12, in + ETH_HLEN + hdr - 2, 2);
		assert_memory_equal(out + sizeof(*m) + ETH_HLEN, in + ETH_HLEN + hdr,
				    len - ETH_HLEN - hdr);
	}
	/* The differential: tc as today, then XDP live into tc, conntrack as
	 * before each. */
	assert_int_equal(map_clear(ct_fd, sizeof(struct xcni_ct_key)), 0);
	dx_read(&c0);
	dx_tc_once(in, len);
	dx_read(&c1);
	assert_int_equal(map_clear(ct_fd, sizeof(struct xcni_ct_key)), 0);
	dx_xdp_live(in, len);
	dx_read(&c2);
	i_tc = dx_moved(&c0, &c1, &b_tc);
	i_xdp = dx_moved(&c1, &c2, &b_xdp);
	if (i_tc != i_xdp || b_tc != b_xdp)
		fail_msg("%s: tc counted %s/%s (%llu bytes), XDP then tc %s/%s (%llu bytes)",
			 d->r.name, i_tc < 0 ? "-" : reason_name(i_tc / XCNI_NR_DIRS),
			 i_tc < 0 ? "-" : dir_name(i_tc % XCNI_NR_DIRS), (unsigned long long)b_tc,
			 i_xdp < 0 ? "-" : reason_name(i_xdp / XCNI_NR_DIRS),
			 i_xdp < 0 ? "-" : dir_name(i_xdp % XCNI_NR_DIRS),
			 (unsigned long long)b_xdp);
	if (d->r.uncounted)
		assert_int_equal(i_tc, -1);
	else
		assert_int_equal(i_tc,
				 XCNI_METRIC_IDX(d->r.reason, XCNI_DIR_FROM_OVERLAY));
	assert_int_equal(c1.t.rx_packets - c0.t.rx_packets, c2.t.rx_packets - c1.t.rx_packets);
	assert_int_equal(c1.t.rx_bytes - c0.t.rx_bytes, c2.t.rx_bytes - c1.t.rx_bytes);
	assert_int_equal(map_clear(ct_fd, sizeof(struct xcni_ct_key)), 0);
}

#define N2R(what, flow...) { what, .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, flow }

static const struct dx_row dx_rows[] = {
	{ .r = N2R("R->A SYN", TCP(IP_R, 46000, IP_A, 80, TH_SYN), REDIR(FWD_DECAP)), .decap = true },
	{ .r = N2R("R->A UDP", UDP(IP_R, 46001, IP_A, 53), REDIR(FWD_DECAP)), .decap = true },
	{ .r = N2R("R->A echo", ICMP(IP_R, IP_A, ICMP_ECHO, 46), REDIR(FWD_DECAP)), .decap = true },
	{ .r = N2R("n2 itself to A", UDP(N2, 46002, IP_A, 53), REDIR(FWD_DECAP)), .decap = true },
	{ .r = N2R("B's address inside n2's Geneve", TCP(IP_B, 46003, IP_A, 80, TH_SYN),
	      SHOT(DROP_INNER_SPOOF, EV_FULL)), .decap = true },
	{ .r = N2R("R->an address here that is no pod", UDP(IP_R, 46004, "10.99.5.77", 53),
	      SHOT(DROP_UNKNOWN_DST, EV_FULL)), .decap = true },
	{ .r = N2R("Geneve in Geneve to a pod", UDP(IP_R, 46005, IP_A, XCNI_GENEVE_PORT),
	      REDIR(FWD_DECAP)), .decap = true },
	/* What XDP leaves to tc. */
	{ .r = N2R("R->this node (from_overlay4's nodeport_reply reads the outer headers)",
	      UDP(IP_R, 46010, NODE_IP, 53), OK(FWD_DECAP_HOST)), .decap = false },
	{ .r = { "an unknown node", .prog = FROM_OVERLAY, .dev = DEV_U, .node = "192.168.77.9",
	    TCP(IP_R, 46011, IP_A, 80, TH_SYN), SHOT(DROP_UNKNOWN_NODE, EV_OUTER) }, false },
	{ .r = N2R("another VNI", .vni = 7, UDP(IP_R, 46012, IP_A, 53),
	      SHOT(DROP_BAD_GENEVE, EV_OUTER)), .decap = false },
	{ .r = N2R("8 bytes of options", .optwords = 2, UDP(IP_R, 46013, IP_A, 53), REDIR(FWD_DECAP)),
	  .decap = false },
	{ .r = N2R("options claimed past the frame", .gnv_claim = 1 + 40, UDP(IP_R, 46014, IP_A, 53),
	      SHOT(DROP_BAD_GENEVE, EV_OUTER)), .decap = false },
	{ .r = N2R("the critical-options bit, no option", UDP(IP_R, 46015, IP_A, 53),
	      REDIR(FWD_DECAP)), .mangle = geneve_crit },
	{ .r = N2R("Geneve cut short", UDP(IP_R, 46016, IP_A, 53), .cut = ETH_HLEN + 20 + 8 + 4,
	      SHOT(DROP_BAD_GENEVE, EV_OUTER)), .decap = false },
	{ .r = N2R("an outer first fragment: not Geneve to tc", UDP(IP_R, 46017, IP_A, 53),
	      .ret = TC_ACT_OK, .uncounted = true), .mangle = outer_mf },
	/* IPv6 inside. */
	{ .r = N2R("IPv6: R->A UDP", UDP(R6, 46020, A6, 53), REDIR(FWD_DECAP)), .decap = true },
	{ .r = N2R("IPv6: R->A SYN", TCP(R6, 46021, A6, 80, TH_SYN), REDIR(FWD_DECAP)), .decap = true },
	{ .r = N2R("IPv6: B's address inside n2's Geneve", UDP(B6, 46022, A6, 53),
	      SHOT(DROP_INNER_SPOOF, EV_FULL)), .decap = true },
	{ .r = N2R("IPv6: R->this node: its stack", ICMPV6(R6, SELF6, 128, 46), OK(FWD_DECAP_HOST)),
	  .decap = true },
};

static void dx_rows_each(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(dx_rows); i++) {
		print_message("  %s\n", dx_rows[i].r.name);
		check_dx_row(&dx_rows[i]);
	}
}

/* The pod's ingress policy is judged on the decapsulated packet as on the encapsulated one. */
static void dx_policy(void **state)
{
	static const struct dx_row rows[] = {
		{ .r = N2R("policy: R->A TCP 80 allowed by 12/0", TCP(IP_R, 46030, IP_A, 80, TH_SYN),
		      REDIR(FWD_DECAP)), .decap = true },
		{ .r = N2R("policy: R->A UDP refused", UDP(IP_R, 46031, IP_A, 54),
		      SHOT(DROP_POLICY_INGRESS, EV_FULL)), .decap = true },
	};

	(void)state;
	/* policy_a_from_r's (node4_state wrote its allow entry, then took A's
	 * isolation away): A isolated again, its version 0. */
	assert_int_equal(set_polep(IP_A, ID_A, 0, XCNI_ISOLATED(TO_POD), 0), 0);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		print_message("  %s\n", rows[i].r.name);
		check_dx_row(&rows[i]);
	}
	assert_int_equal(policy_a_off(), 0);
}

/* Decapsulation off (no cookie in xdp_underlay): Geneve goes on untouched. */
static void dx_off(void **state)
{
	static const struct row r = N2R("R->A UDP", UDP(IP_R, 46040, IP_A, 53), REDIR(FWD_DECAP));
	uint8_t in[FRAME_MAX], out[FRAME_MAX + 64];
	size_t len = build(&r, in), out_len;
	__u32 metalen;

	(void)state;
	memset((void *)dx_xdp->bss->decap_cookie_xdp, 0, sizeof(dx_cookie));
	assert_int_equal(dx_xdp_once(in, len, out, sizeof(out), &out_len, &metalen), XDP_PASS);
	memcpy((void *)dx_xdp->bss->decap_cookie_xdp, dx_cookie, sizeof(dx_cookie));
	assert_int_equal(metalen, 0);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, in, len);
}

/*
 * A record whose cookie is not from_overlay's (another agent's, or metadata
 * some other XDP program left): the frame is taken for what it looks like,
 * a plain packet from a pod's address on the underlay, and dropped as a
 * forged source (drop-outside-spoof), never delivered.
 */
static void dx_foreign_cookie(void **state)
{
	static const struct row r = N2R("R->A UDP", UDP(IP_R, 46050, IP_A, 53), REDIR(FWD_DECAP));
	uint8_t in[FRAME_MAX];
	size_t len = build(&r, in);
	struct dx_count c0, c1;
	__u64 bytes = 0;

	(void)state;
	dx_xdp->bss->decap_cookie_xdp[1] ^= 1;
	dx_read(&c0);
	dx_xdp_live(in, len);
	dx_read(&c1);
	memcpy((void *)dx_xdp->bss->decap_cookie_xdp, dx_cookie, sizeof(dx_cookie));
	assert_int_equal(dx_moved(&c0, &c1, &bytes),
			 XCNI_METRIC_IDX(XCNI_DROP_OUTSIDE_SPOOF, XCNI_DIR_FROM_OVERLAY));
	assert_int_equal(c1.t.rx_packets, c0.t.rx_packets);
}

static const struct CMUnitTest decap_xdp_tests[] = {
	cmocka_unit_test_setup(dx_rows_each, dx_setup),
	cmocka_unit_test(dx_policy),
	cmocka_unit_test(dx_off),
	cmocka_unit_test_teardown(dx_foreign_cookie, dx_teardown),
};

#define N6R(what, flow...) { what, .prog = FROM_OVERLAY_UL6, .dev = DEV_U, .node = DX_N6, flow }

/* The same over the IPv6 underlay (underlay6.c's node, n6 and its pod R). */
static void dx6_rows_each(void **state)
{
	static const struct dx_row rows[] = {
		{ .r = N6R("IPv6 R->A SYN from n6", TCP(R6U, 47000, A6, 80, TH_SYN), REDIR(FWD_DECAP)),
		  .decap = true },
		{ .r = N6R("IPv4 R->A UDP from n6", UDP(R4U, 47001, IP_A, 53), REDIR(FWD_DECAP)),
		  .decap = true },
		{ .r = N6R("IPv4 R->A SYN from n6", TCP(R4U, 47002, IP_A, 80, TH_SYN),
			   REDIR(FWD_DECAP)), .decap = true },
		{ .r = N6R("IPv6 R->this node's IPv6: its stack", UDP(R6U, 47003, SELF6, 53),
			   OK(FWD_DECAP_HOST)), .decap = true },
		{ .r = N6R("IPv4 R (n2's, the IPv4 underlay) from n6", UDP(IP_R, 47004, IP_A, 53),
			   SHOT(DROP_INNER_SPOOF, EV_FULL)), .decap = true },
		{ .r = { "an outer source that is no node", .prog = FROM_OVERLAY_UL6, .dev = DEV_U,
			 .node = "fc00:78::99", UDP(R6U, 47005, A6, 53),
			 SHOT(DROP_UNKNOWN_NODE, EV_OUTER) } },
		{ .r = N6R("another VNI", .vni = VNI + 1, UDP(R6U, 47006, A6, 53),
			   SHOT(DROP_BAD_GENEVE, EV_OUTER)) },
		{ .r = N6R("a critical option", .optwords = 2, .gnv_crit = true,
			   UDP(R6U, 47007, A6, 53), SHOT(DROP_BAD_GENEVE, EV_OUTER)) },
		{ .r = N6R("8 bytes of options, IPv4 inside", .optwords = 2,
			   UDP(R4U, 47008, IP_A, 53), REDIR(FWD_DECAP)) },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		print_message("  %s\n", rows[i].r.name);
		check_dx_row(&rows[i]);
	}
}

static const struct CMUnitTest decap_xdp_ul6_tests[] = {
	cmocka_unit_test_setup_teardown(dx6_rows_each, dx6_setup, dx_teardown),
};

const struct group decap_xdp_ul6_group = { "decap_xdp_ul6", .tests = decap_xdp_ul6_tests,
					   .ntests = ARRAY_SIZE(decap_xdp_ul6_tests),
					   .prep = ul6_state };

const struct group decap_xdp_group = { "decap_xdp", .tests = decap_xdp_tests,
				       .ntests = ARRAY_SIZE(decap_xdp_tests),
				       .prep = v6ovl_state };
