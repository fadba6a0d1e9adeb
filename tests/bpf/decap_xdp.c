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
 *
 * The group decap_xdp_np (on nodeport.c's np_state): NodePort traffic
 * meeting the decapsulating XDP program with the fast path on, the
 * backends' replies to SNATed flows and requests too big for the
 * encapsulation, each through XDP alone, tc alone and XDP live into tc,
 * what leaves the underlay device read back from a packet socket
 * (dxn_check).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <linux/pkt_cls.h>

#include "harness.h"
#include "nodeport.h"

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

/* The XDP program fd alone: its verdict, the bytes it left (metadata first),
 * their metadata's length. On the underlay device (the fast path's FIB
 * lookup starts from it). */
static int dx_xdp_once_fd(int fd, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
			  size_t *out_len, __u32 *metalen)
{
	struct xdp_md ci = { .data_end = (__u32)len,
			     .ingress_ifindex = (__u32)env.ifindex[DEV_U] }, co = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = (__u32)cap, .ctx_in = &ci,
		    .ctx_size_in = sizeof(ci), .ctx_out = &co, .ctx_size_out = sizeof(co));

	assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
	*out_len = o.data_size_out;
	*metalen = co.data;
	return (int)o.retval;
}

static int dx_xdp_once(const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len,
		       __u32 *metalen)
{
	return dx_xdp_once_fd(bpf_program__fd(dx_xdp->progs.xdp_underlay), in, len, out, cap,
			      out_len, metalen);
}

/* The XDP program fd live on the underlay device: what it passes reaches
 * the tc program attached there. */
static void dx_xdp_live_fd(int fd, const uint8_t *in, size_t len)
{
	struct xdp_md ci = { .data_end = (__u32)len, .ingress_ifindex = (__u32)env.ifindex[DEV_U] };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len, .ctx_in = &ci,
		    .ctx_size_in = sizeof(ci), .repeat = 1, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

	assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
}

static void dx_xdp_live(const uint8_t *in, size_t len)
{
	dx_xdp_live_fd(bpf_program__fd(dx_xdp->progs.xdp_underlay), in, len);
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

/* The metrics, and node's tunnel counters (IPv4 or IPv6 underlay, by its address). */
static void dx_read_at(struct dx_count *c, const char *node)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat s[ncpu];
	uint32_t n4 = 0;
	uint8_t n6[16];
	bool v6 = strchr(node, ':') != NULL;

	assert_int_equal(read_metrics(c->m), 0);
	memset(&c->t, 0, sizeof(c->t));
	if (v6)
		assert_int_equal(inet_pton(AF_INET6, node, n6), 1);
	else
		n4 = ip4(node);
	if (v6 ? bpf_map_lookup_elem(map_fd("xcni_tunstat6"), n6, s) :
		 bpf_map_lookup_elem(map_fd("xcni_tunstat"), &n4, s))
		return;
	for (int i = 0; i < ncpu; i++) {
		c->t.rx_packets += s[i].rx_packets;
		c->t.rx_bytes += s[i].rx_bytes;
	}
}

static void dx_read(struct dx_count *c)
{
	dx_read_at(c, dx_ul6 ? DX_N6 : N2);
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

/*
 * What the XDP program alone left of the frame in (verdict ret, out_len
 * bytes in out, metalen of metadata first): decap, Geneve from node with
 * IPv6 inside or not (inner6), the outer headers off and the record in
 * front; else the frame untouched, no metadata.
 */
static void dx_xdp_left(int ret, const uint8_t *in, size_t len, const uint8_t *out,
			size_t out_len, __u32 metalen, bool decap, const char *node, bool inner6)
{
	assert_int_equal(ret, XDP_PASS);
	if (!decap) {
		assert_int_equal(metalen, 0);
		assert_int_equal(out_len, len);
		assert_memory_equal(out, in, len);
	} else {
		const struct xcni_decap_meta *m = (const void *)out;
		bool outer6 = in[12] == 0x86 && in[13] == 0xdd;
		size_t hdr = outer6 ? XCNI_ENCAP6_LEN : XCNI_ENCAP_LEN;
		uint8_t n6[16] = {};
		__u32 n;

		assert_int_equal(metalen, sizeof(*m));
		assert_int_equal(out_len, sizeof(*m) + len - hdr);
		assert_memory_equal(m->cookie, dx_cookie, sizeof(dx_cookie));
		if (outer6) {
			assert_int_equal(inet_pton(AF_INET6, node, n6), 1);
			n = ((__u32 *)n6)[0] ^ ((__u32 *)n6)[1] ^ ((__u32 *)n6)[2] ^ ((__u32 *)n6)[3];
		} else {
			n = ip4(node);
		}
		assert_int_equal(m->node, n);
		assert_memory_equal(m->node6, n6, 16);
		assert_int_equal(m->hdr_len, hdr);
		assert_int_equal(m->outer6, outer6);
		assert_int_equal(m->inner6, inner6);
		/* The outer MACs, the inner family, the inner packet. */
		assert_memory_equal(out + sizeof(*m), in, 12);
		assert_memory_equal(out + sizeof(*m) + 12, in + ETH_HLEN + hdr - 2, 2);
		assert_memory_equal(out + sizeof(*m) + ETH_HLEN, in + ETH_HLEN + hdr,
				    len - ETH_HLEN - hdr);
	}
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
	dx_xdp_left(ret, in, len, out, out_len, metalen, d->decap, d->r.node, row_v6(&d->r));
	/* The differential: tc as today, then XDP live into tc, conntrack as
	 * before each. */
	assert_int_equal(map_clear(ct_fd, sizeof(struct xcni_ct_key)), 0);
	dx_read(&c0);
	dx_tc_once(in, len);
	dx_read(&c1);
	assert_int_equal(map_clear(ct_fd, sizeof(struct xcni_ct_key)), 0);
	assert_true(ring_buffer__consume(env.rb) >= 0); /* tc's events, if any */
	env.nev = 0;
	dx_xdp_live(in, len);
	dx_read(&c2);
	/* A drop after XDP took it apart: its event the inner frame's length, as tc's. */
	assert_true(ring_buffer__consume(env.rb) >= 0);
	if (d->decap && d->r.ret == TC_ACT_SHOT) {
		assert_int_equal(env.nev, 1);
		assert_int_equal(env.ev[0].len, row_ev_len(&d->r, len, EV_FULL));
	}
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
		if (!row_across_skipped(&dx_rows[i].r))
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
		if (!row_across_skipped(&rows[i].r))
			check_dx_row(&rows[i]);
	}
}

/* ---- NodePort flows meeting the decapsulating XDP program (decap_xdp_np) --- */

/*
 * A node with Services in BPF and --overlay-decap xdp: its from_overlay
 * (lb_enabled, the cookie) and its xdp_underlay (the cookie and the
 * NodePort fast path, np_accel, as xcnid loads both), on the shared maps.
 * dxn4: NODE_IP on the IPv4 underlay (n2, R, R6N as the harness and
 * nodeport.c's np6_setup have them); dxn46: NODE_IP and NODE6 on the IPv6
 * underlay (nodeport.c's lb46u_setup and lb6u_setup: nv behind it, its pod
 * RV6/RV4).
 *
 * The differential (dxn_check): the frame through the XDP program alone
 * (what it must leave of it, and conntrack untouched), then through tc
 * alone (an ordinary test run: the oracle, its verdict, reason and output
 * bytes against what is written out here), then, conntrack put back, XDP
 * live into tc on the underlay device, what leaves that device read from
 * a packet socket: the same reason, bytes, tunnel counters and conntrack,
 * and the same frame on the wire (from the Ethernet type on: the MACs are
 * the neighbour's after bpf_redirect_neigh).
 */
#define DXN_NV "fc00:77::2" /* nodeport.c's nv, behind the IPv6 underlay */
#define DXN_RV6 "fd00:95::2" /* its pod */
#define DXN_RV4 "10.95.0.2" /* and that pod's IPv4 */
#define DXN_BIG 2048
#define DXN_CMAC "02:00:00:00:63:01" /* the clients' next hop on the underlay */

struct dxn_node {
	struct from_overlay *tc;
	struct xdp_underlay *xdp;
};
static struct dxn_node dxn4, dxn46;
static int dxn_sock = -1;

static int dxn_load(struct dxn_node *n, bool ul6)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.pin_dir);
	int err;

	n->tc = from_overlay__open_opts(&opts);
	n->xdp = xdp_underlay__open_opts(&opts);
	if (!n->tc || !n->xdp)
		return -errno ?: -ENOMEM;
	n->tc->rodata->node_ip = n->xdp->rodata->node_ip = ip4(NODE_IP);
	if (ul6 && (inet_pton(AF_INET6, NODE6, (void *)n->tc->rodata->node_ip6) != 1 ||
		    inet_pton(AF_INET6, NODE6, (void *)n->xdp->rodata->node_ip6) != 1))
		return -EINVAL;
	n->tc->rodata->vni = n->xdp->rodata->vni = VNI;
	n->tc->rodata->lb_enabled = n->xdp->rodata->lb_enabled = 1;
	n->xdp->rodata->np_accel = 1;
	UL_SVC_RANGES(n->tc->rodata);
	UL_SVC_RANGES(n->xdp->rodata);
	memcpy((void *)n->tc->rodata->decap_cookie, dx_cookie, sizeof(dx_cookie));
	if ((err = from_overlay__load(n->tc)) || (err = xdp_underlay__load(n->xdp)))
		return err;
	memcpy((void *)n->xdp->bss->decap_cookie_xdp, dx_cookie, sizeof(dx_cookie));
	return 0;
}

static int dxn_sh(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -EIO;
}

/*
 * DSR frontends of other nodes, as every node holds them (dxn_dsr's
 * flows: lb_setup's N2:30080/TCP -> B:8080, index 25, besides): [NV]:30085/TCP
 * -> B6:8080 (330) and NV4:30187/TCP -> B:8080 (348); another node of
 * either underlay, DXD_N3 and DXD_NW.
 */
#define DXD_N3 "192.168.77.3" /* another node of the IPv4 underlay */
#define DXD_NW "fc00:77::3" /* and of the IPv6 one */
#define DXD_NV4 "192.168.79.2" /* nv's IPv4 InternalIP: its IPv4 NodePorts' frontends */

static int dxd_setup(void)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunnel t = { .node = "n3" };
	struct xcni_tunstat zero[ncpu];
	uint32_t n3 = ip4(DXD_N3);
	int err;

	memset(zero, 0, sizeof(zero));
	if (bpf_map_update_elem(map_fd("xcni_tunnel"), &n3, &t, BPF_ANY) ||
	    bpf_map_update_elem(map_fd("xcni_tunstat"), &n3, zero, BPF_ANY))
		return -errno;
	if ((err = ul6_node(DXD_NW, "nw", "fd00:95::3", 0x3101)))
		return err;
	be6(3301, B6, 8080);
	svc6(NV, 30085, IPPROTO_TCP, 330, 0, (const uint32_t[]){ 3301 }, 1);
	if (be_set(3481, IP_B, 8080, XCNI_BE_ACTIVE) ||
	    svc_set(DXD_NV4, 30187, IPPROTO_TCP, 348, 0, 0, 0, (const uint32_t[]){ 3481 }, 1, 0))
		return -EIO;
	return 0;
}

/*
 * The group's programs, the clients reachable out of the underlay device
 * (a route and a permanent neighbour each: bpf_redirect_neigh's), a packet
 * socket on it, the IPv6 underlay's address and nv's neighbour entry,
 * nv and its pod with their NodePorts (as nodeport.c's
 * lb6u_setup and lb46u_setup write them), the prefilter's deny entry
 * (node4_state's 203.0.113.0/24, CLIENT's) out of the way: the XDP program
 * judged here is the decapsulation and the fast path, not prefilter.c's.
 */
static int dxn_setup(void **state)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = env.ifindex[DEV_U] };
	struct xcni_ipcache_val v = { .identity = 0x3100, .flags = XCNI_IPC_POD | XCNI_IPC_TUN6 };
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(DXN_RV4) };
	int err;

	(void)state;
	if ((err = dxn_load(&dxn4, false)) || (err = dxn_load(&dxn46, true)))
		return err;
	/* The IPv6 underlay's address and nv's neighbour entry, as xdp_np_load
	 * made them: gone if a group took the device's MTU below IPv6's 1280
	 * (xdp_np.c's MTU rows), and the fast path's FIB lookup needs them. */
	if ((err = dxn_sh("ip -6 addr replace " NODE6 "/64 dev xtu nodad && "
			  "ip -6 neigh replace " DXN_NV " lladdr 02:77:00:00:00:02 dev xtu "
			  "nud permanent && "
			  "ip route replace " CLIENT "/32 dev xtu && "
			  "ip neigh replace " CLIENT " lladdr " DXN_CMAC " dev xtu nud permanent && "
			  "ip -6 route replace " CLIENT6 "/128 dev xtu && "
			  "ip -6 neigh replace " CLIENT6 " lladdr " DXN_CMAC " dev xtu nud permanent")))
		return err;
	map_clear(map_fd("xcni_prefilter"), sizeof(struct xcni_prefilter_key));
	map_clear(map_fd("xcni_pf24"), sizeof(__u32));
	if ((err = ul6_node(DXN_NV, "nv", DXN_RV6, 0x3100)))
		return err;
	in6(DXN_NV, v.tunnel_ip6);
	if (bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &v, BPF_ANY))
		return -errno;
	/* This node's IPv4 as xcnid writes it (host). */
	k.addr = ip4(NODE_IP);
	v = (struct xcni_ipcache_val){ .identity = XCNI_ID_HOST };
	if (bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &v, BPF_ANY))
		return -errno;
	if ((err = dxd_setup()))
		return err;
	be6(3401, DXN_RV6, 80);
	svc6(NODE6, 30181, IPPROTO_TCP, 340, 0, (const uint32_t[]){ 3401 }, 1);
	be6(3411, DXN_RV6, 5353);
	svc6(NODE6, 30182, IPPROTO_UDP, 341, 0, (const uint32_t[]){ 3411 }, 1);
	if (be_set(3461, DXN_RV4, 80, XCNI_BE_ACTIVE) ||
	    svc_set(NODE_IP, 30185, IPPROTO_TCP, 346, 0, 0, 0, (const uint32_t[]){ 3461 }, 1, 0))
		return -EIO;
	if ((err = polrev_bump()))
		return err;
	dxn_sock = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (dxn_sock < 0)
		return -errno;
	if (bind(dxn_sock, (struct sockaddr *)&sll, sizeof(sll)))
		return -errno;
	memset(&dx_hook, 0, sizeof(dx_hook));
	dx_hook.sz = sizeof(dx_hook);
	dx_hook.ifindex = env.ifindex[DEV_U];
	dx_hook.attach_point = BPF_TC_INGRESS;
	err = bpf_tc_hook_create(&dx_hook);
	return err == -EEXIST ? 0 : err;
}

static int dxn_teardown(void **state)
{
	(void)state;
	dx_hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	bpf_tc_hook_destroy(&dx_hook);
	if (dxn_sock >= 0)
		close(dxn_sock);
	dxn_sock = -1;
	dxn_sh("ip route del " CLIENT "/32 dev xtu; ip neigh del " CLIENT " dev xtu; "
	       "ip -6 route del " CLIENT6 "/128 dev xtu; ip -6 neigh del " CLIENT6 " dev xtu");
	xdp_underlay__destroy(dxn4.xdp);
	from_overlay__destroy(dxn4.tc);
	xdp_underlay__destroy(dxn46.xdp);
	from_overlay__destroy(dxn46.tc);
	memset(&dxn4, 0, sizeof(dxn4));
	memset(&dxn46, 0, sizeof(dxn46));
	return 0;
}

/* n's from_overlay on the underlay device's tc ingress, in place of any other. */
static void dxn_attach(const struct dxn_node *n)
{
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = 1, .priority = 1, .flags = BPF_TC_F_REPLACE,
		    .prog_fd = bpf_program__fd(n->tc->progs.from_overlay));

	assert_int_equal(bpf_tc_attach(&dx_hook, &o), 0);
}

/* n's from_overlay alone on in (the oracle): its verdict, its output in out. */
static int dxn_tc(const struct dxn_node *n, const uint8_t *in, size_t len, uint8_t *out,
		  size_t *out_len)
{
	struct __sk_buff ctx = { .ifindex = env.ifindex[DEV_U] };
	uint8_t buf[DXN_BIG];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = DXN_BIG, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	memcpy(buf, in, len);
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(n->tc->progs.from_overlay), &o), 0);
	*out_len = o.data_size_out;
	return (int)o.retval;
}

/* Whatever the packet socket holds, read and thrown away. */
static void dxn_drain(void)
{
	uint8_t buf[DXN_BIG];

	while (recv(dxn_sock, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/*
 * The first IP frame that left the underlay device since dxn_drain, within
 * 300 ms (neighbour discovery, MLD and IGMP aside): its length, 0 if none.
 */
static size_t dxn_sent(uint8_t *buf, size_t cap)
{
	struct pollfd p = { .fd = dxn_sock, .events = POLLIN };

	for (int tries = 0; tries < 30;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(dxn_sock, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);

		if (n < 0) {
			poll(&p, 1, 10);
			tries++;
			continue;
		}
		if (from.sll_pkttype != PACKET_OUTGOING || n < ETH_HLEN + 20)
			continue;
		if (buf[12] == 0x08 && buf[13] == 0x00 && buf[ETH_HLEN + 9] != 2 /* IGMP */)
			return (size_t)n;
		if (buf[12] == 0x86 && buf[13] == 0xdd &&
		    !(buf[ETH_HLEN + 6] == 58 && n > ETH_HLEN + 40 && buf[ETH_HLEN + 40] >= 130 &&
		      buf[ETH_HLEN + 40] <= 143) && buf[ETH_HLEN + 6] != 0 /* MLD's hop-by-hop */)
			return (size_t)n;
	}
	return 0;
}

struct dxn_row {
	const char *name;
	struct dxn_node *n;
	/* at XDP alone: taken apart (from node, IPv6 inside: inner6), else
	 * handed on untouched */
	bool decap, inner6;
	const char *node;
	int ret, reason; /* tc's (from-overlay) */
	/* what must leave the underlay device (tc's output), none if NULL;
	 * to_pod: tc's output into a pod (redirect_peer, which the live run
	 * cannot show here: the pods' peers share this netns), nothing out of
	 * the underlay */
	const uint8_t *want;
	size_t want_len;
	bool to_pod;
	/* the fast path sends it itself (XDP_TX): its frame and conntrack
	 * tc's, compared on the XDP program alone (on a veth XDP_TX needs an
	 * XDP program on the peer to be seen) */
	bool xdp_tx;
};

/* A row whose tc sends want out of the underlay (ret, reason). */
#define DXN_ROW(nm, nd, dc, i6, no, rt, rs, w, wl)                                                \
	(&(struct dxn_row){ .name = (nm), .n = (nd), .decap = (dc), .inner6 = (i6), .node = (no), \
			    .ret = (rt), .reason = (rs), .want = (w), .want_len = (wl) })

/* A row whose tc delivers want into a pod, counted fwd-decap. */
#define DXN_POD(nm, nd, dc, i6, no, w, wl)                                                        \
	(&(struct dxn_row){ .name = (nm), .n = (nd), .decap = (dc), .inner6 = (i6), .node = (no), \
			    .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_DECAP, .want = (w),         \
			    .want_len = (wl), .to_pod = true })

/* A row the fast path must send itself (XDP_TX), as tc would. */
#define DXN_TX(nm, nd) (&(struct dxn_row){ .name = (nm), .n = (nd), .xdp_tx = true })

/* The conntrack maps the differential puts back and compares (the first two: conntrack's). */
static const char *const dxn_maps[] = { "xcni_ct", "xcni_ct6", "xcni_snat" };
#define DXN_NMAPS ARRAY_SIZE(dxn_maps)

static void dxn_snap(struct msnap *s)
{
	for (size_t i = 0; i < DXN_NMAPS; i++)
		assert_int_equal(snap_take(&s[i], dxn_maps[i]), 0);
}

/* a and b the same (allow_svc: but a random pick's service entry, xdp_np.c's rule). */
static void dxn_same(const struct msnap *a, const struct msnap *b, int allow_svc,
		     const char *what, const char *row)
{
	char msg[160];

	for (size_t i = 0; i < DXN_NMAPS; i++)
		if (snap_same(&a[i], &b[i], dxn_maps[i], i < 2, allow_svc, msg, sizeof(msg)))
			fail_msg("%s: %s: %s", row, what, msg);
}

static void dxn_free(struct msnap *s)
{
	for (size_t i = 0; i < DXN_NMAPS; i++)
		snap_free(&s[i]);
}

/*
 * A frame the fast path took (XDP_TX, ret, its frame out): the same bytes
 * as tc's from the Ethernet type on (the outer MACs are the FIB's at XDP,
 * bpf_redirect_neigh's after tc) and the same conntrack, tc's run starting
 * from the maps as they were before (before).
 */
static void dxn_tx(const struct dxn_row *d, int ret, const uint8_t *out, size_t out_len,
		   struct msnap *before, const uint8_t *in, size_t len)
{
	struct msnap after_xdp[DXN_NMAPS], after_tc[DXN_NMAPS];
	uint8_t tc_out[DXN_BIG];
	size_t tc_len;
	int tc;

	if (ret != XDP_TX)
		fail_msg("%s: the fast path said %d, not XDP_TX", d->name, ret);
	dxn_snap(after_xdp);
	for (size_t i = 0; i < DXN_NMAPS; i++)
		assert_int_equal(snap_restore(&before[i]), 0);
	tc = dxn_tc(d->n, in, len, tc_out, &tc_len);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(tc, TC_ACT_REDIRECT);
	if (tc_len != out_len || memcmp(tc_out + 12, out + 12, out_len - 12))
		fail_msg("%s: XDP's frame (%zu bytes) is not tc's (%zu)", d->name, out_len, tc_len);
	dxn_snap(after_tc);
	dxn_same(after_xdp, after_tc, 0, "conntrack after XDP is not tc's", d->name);
	dxn_free(before);
	dxn_free(after_xdp);
	dxn_free(after_tc);
}

static void dxn_check(const struct dxn_row *d, const uint8_t *in, size_t len)
{
	uint8_t out[DXN_BIG + 64], tc_out[DXN_BIG], wire[DXN_BIG];
	struct msnap before[DXN_NMAPS], after_xdp[DXN_NMAPS], after_tc[DXN_NMAPS],
		after_live[DXN_NMAPS];
	const char *node = d->node ? d->node : N2;
	struct dx_count c0, c1, c2;
	__u64 b_tc = 0, b_xdp = 0;
	size_t out_len, tc_len, wire_len;
	__u32 metalen;
	int ret, i_tc, i_xdp;

	print_message("  %s\n", d->name);
	/* The XDP program alone: what it leaves of the frame, and nothing written. */
	dxn_snap(before);
	ret = dx_xdp_once_fd(bpf_program__fd(d->n->xdp->progs.xdp_underlay), in, len, out,
			     sizeof(out), &out_len, &metalen);
	if (d->xdp_tx) {
		dxn_tx(d, ret, out, out_len, before, in, len);
		return;
	}
	dx_xdp_left(ret, in, len, out, out_len, metalen, d->decap, node, d->inner6);
	dxn_snap(after_xdp);
	dxn_same(after_xdp, before, 1, "the XDP program alone wrote conntrack", d->name);
	/* tc alone: the oracle, against what is written out here. */
	dx_read_at(&c0, node);
	ret = dxn_tc(d->n, in, len, tc_out, &tc_len);
	dx_read_at(&c1, node);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(ret, d->ret);
	i_tc = dx_moved(&c0, &c1, &b_tc);
	if (i_tc != (int)XCNI_METRIC_IDX(d->reason, XCNI_DIR_FROM_OVERLAY))
		fail_msg("%s: tc counted %s, want %s", d->name,
			 i_tc < 0 ? "-" : reason_name(i_tc / XCNI_NR_DIRS),
			 reason_name(XCNI_REASON_IDX(d->reason)));
	if (d->want) {
		assert_int_equal(tc_len, d->want_len);
		for (size_t i = 0; i < tc_len; i++)
			if (tc_out[i] != d->want[i])
				fail_msg("%s: tc's output differs first at byte %zu: 0x%02x, want 0x%02x",
					 d->name, i, tc_out[i], d->want[i]);
	}
	dxn_snap(after_tc);
	/* XDP live into tc, on conntrack as before tc's run. */
	for (size_t i = 0; i < DXN_NMAPS; i++)
		assert_int_equal(snap_restore(&before[i]), 0);
	dxn_attach(d->n);
	dxn_drain();
	dx_xdp_live_fd(bpf_program__fd(d->n->xdp->progs.xdp_underlay), in, len);
	dx_read_at(&c2, node);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	wire_len = dxn_sent(wire, sizeof(wire));
	i_xdp = dx_moved(&c1, &c2, &b_xdp);
	if (i_tc != i_xdp || b_tc != b_xdp)
		fail_msg("%s: tc counted %s (%llu bytes), XDP then tc %s (%llu bytes)", d->name,
			 i_tc < 0 ? "-" : reason_name(i_tc / XCNI_NR_DIRS), (unsigned long long)b_tc,
			 i_xdp < 0 ? "-" : reason_name(i_xdp / XCNI_NR_DIRS),
			 (unsigned long long)b_xdp);
	assert_int_equal(c1.t.rx_packets - c0.t.rx_packets, c2.t.rx_packets - c1.t.rx_packets);
	assert_int_equal(c1.t.rx_bytes - c0.t.rx_bytes, c2.t.rx_bytes - c1.t.rx_bytes);
	if (!d->want || d->to_pod) {
		if (wire_len)
			fail_msg("%s: XDP then tc sent %zu bytes out of the underlay", d->name,
				 wire_len);
	} else {
		if (wire_len != tc_len)
			fail_msg("%s: XDP then tc sent %zu bytes out of the underlay, tc %zu", d->name,
				 wire_len, tc_len);
		for (size_t i = 12; i < tc_len; i++)
			if (wire[i] != tc_out[i])
				fail_msg("%s: on the wire after XDP, byte %zu: 0x%02x, tc's 0x%02x",
					 d->name, i, wire[i], tc_out[i]);
	}
	dxn_snap(after_live);
	dxn_same(after_tc, after_live, 0, "conntrack after XDP then tc is not tc's", d->name);
	dxn_free(before);
	dxn_free(after_xdp);
	dxn_free(after_tc);
	dxn_free(after_live);
}

/* The client's packet through n's from_overlay alone, for real (the flow opened). */
static void dxn_open(const struct dxn_node *n, const uint8_t *in, size_t len)
{
	uint8_t out[DXN_BIG];
	size_t out_len;

	assert_int_equal(dxn_tc(n, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_true(ring_buffer__consume(env.rb) >= 0);
}

/*
 * Geneve from sender to this node around inner (ilen bytes, the inner
 * family inner6) over n's underlay (dxn46: IPv6, else IPv4), no options,
 * its outer source port (and IPv6 flow label) the inner flow's
 * s:sp -> d:dp/proto, as the sender computes it. Its length.
 */
static size_t dxn_wrap(const struct dxn_node *n, bool inner6, const uint8_t *inner, size_t ilen,
		       const char *sender, const char *s, uint16_t sp, const char *d, uint16_t dp,
		       uint8_t proto, uint8_t *out)
{
	if (n == &dxn46)
		return geneve_wrap_ul6(inner, ilen, sender, NODE6, geneve_hash6(s, sp, d, dp, proto),
				       VNI, out);
	if (inner6)
		return geneve_wrap6(inner, ilen, sender, NODE_IP, geneve_sport6(s, sp, d, dp, proto),
				    VNI, out);
	return geneve_wrap((struct xcni_ct_key){ .saddr = ip4(s), .daddr = ip4(d), .sport = htons(sp),
						 .dport = htons(dp), .proto = proto },
			   inner, ilen, inner, sender, NODE_IP, VNI, 0, out);
}

/*
 * A NodePort flow this node SNATed, its client's port kept: CLIENT:cport
 * -> NODE_IP:fport, or CLIENT6 -> [NODE6]:fport (inner6), to be:bport on
 * sender, over n's underlay; decap: its backend's answer taken apart at
 * XDP (else left to tc untouched).
 */
struct dxr_case {
	const char *name;
	struct dxn_node *n;
	bool inner6, decap;
	const char *be, *sender;
	uint16_t cport, fport, bport;
	uint8_t proto;
};

static const struct dxr_case dxr_cases[] = {
	{ "IPv6 in IPv6: RV6's SYN-ACK to a SNATed [NODE6]:30181 flow", &dxn46, true, true,
	  DXN_RV6, DXN_NV, 52001, 30181, 80, IPPROTO_TCP },
	/* UDP: the checksum following. */
	{ "IPv6 in IPv6: RV6's UDP answer to a SNATed [NODE6]:30182 flow", &dxn46, true, true,
	  DXN_RV6, DXN_NV, 52002, 30182, 5353, IPPROTO_UDP },
	{ "IPv4 in IPv6: RV4's SYN-ACK to a SNATed NODE_IP:30185 flow", &dxn46, false, true,
	  DXN_RV4, DXN_NV, 52101, 30185, 80, IPPROTO_TCP },
	{ "IPv6 in IPv4: R6N's SYN-ACK to a SNATed [NODE6]:30081 flow", &dxn4, true, true, R6N, N2,
	  52301, 30081, 80, IPPROTO_TCP },
	{ "IPv4 in IPv4: R's SYN-ACK to a SNATed NODE_IP:30081 flow, left to tc untouched", &dxn4,
	  false, false, IP_R, N2, 52201, 30081, 80, IPPROTO_TCP },
};

/*
 * (a) The backend's answer to a SNATed NodePort flow, from its node in
 * Geneve (dxr_cases): IPv6 in IPv6 and IPv4 in IPv6 (nv's RV6 and RV4
 * answering through NODE6) and IPv6 in IPv4 (n2's R6N through NODE_IP)
 * are taken apart at XDP and made the frontend's again in tc, frontend ->
 * client out of the underlay, as tc alone does; IPv4 in IPv4 to NODE_IP is
 * left to tc untouched (from_overlay4's nodeport_reply reads the outer
 * headers). The client's request opens the flow through tc alone first.
 */
static void dxn_replies(void **state)
{
	uint8_t in[DXN_BIG], inner[DXN_BIG], want[DXN_BIG];
	size_t ilen, wlen;
	struct g6 f6, r6;
	struct fr f, r;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(dxr_cases); i++) {
		const struct dxr_case *c = &dxr_cases[i];
		uint8_t fl = c->proto == IPPROTO_TCP ? T_SYN : 0, rfl = fl ? T_SYN | T_ACK : 0;

		if (c->inner6) {
			f6 = outside6_to(CLIENT6, c->cport, NODE6, c->fport, c->proto, fl);
			dxn_open(c->n, in, frame6(&f6, in));
			r6 = outside6_to(c->be, c->bport, NODE6, c->cport, c->proto, rfl);
			ilen = frame6(&r6, inner);
			wlen = frame6_as(&r6, NODE6, c->fport, CLIENT6, c->cport, want);
		} else {
			/* from_outside's: TCP */
			f = from_outside(CLIENT, c->cport, c->fport, TH_SYN);
			dxn_open(c->n, in, frame(&f, in));
			r = (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
					 .saddr = ip4(c->be), .daddr = ip4(NODE_IP), .sport = c->bport,
					 .dport = c->cport, .proto = IPPROTO_TCP,
					 .flags = TH_SYN | TH_ACK };
			ilen = frame(&r, inner);
			r.saddr = ip4(NODE_IP);
			r.sport = c->fport;
			r.daddr = ip4(CLIENT);
			wlen = frame(&r, want);
		}
		dxn_check(DXN_ROW(c->name, c->n, c->decap, c->inner6, c->sender, TC_ACT_REDIRECT,
				  XCNI_FWD_REPLY, want, wlen),
			  in, dxn_wrap(c->n, c->inner6, inner, ilen, c->sender, c->be, c->bport,
				       c->inner6 ? NODE6 : NODE_IP, c->cport, c->proto, in));
	}
}

/* ---- A DSR flow at its backend's node, decapsulated at XDP ---------------- */

/*
 * A NodePort DSR flow client:cport -> B:8080 (B6 when inner6) that node
 * took at its frontend fe:fport (the option's family fe's) and sends this
 * node, the backend's, in Geneve over n's underlay (dsr_geneve, by node's
 * family): the first packet with the option, the rest without (dxn_dsr).
 */
struct dxd_case {
	const char *name;
	struct dxn_node *n; /* dxn4: the IPv4 underlay; dxn46: the IPv6 one */
	bool inner6; /* to B6, else to B (dsr_inner) */
	const char *node, *other; /* the sender; another node of the same underlay */
	const char *client;
	uint16_t cport;
	const char *fe; /* the option's family fe's */
	uint16_t fport;
	uint16_t rev_nat; /* fe:fport's index here */
};

static const struct dxd_case dxd_cases[] = {
	{ "IPv4 in IPv4", &dxn4, false, N2, DXD_N3, CLIENT, 50601, N2, 30080, 25 },
	{ "IPv6 in IPv4", &dxn4, true, N2, DXD_N3, CLIENT6, 50602, NV, 30085, 330 },
	{ "IPv6 in IPv6", &dxn46, true, NV, DXD_NW, CLIENT6, 50603, NV, 30085, 330 },
	{ "IPv4 in IPv6", &dxn46, false, NV, DXD_NW, CLIENT, 50604, DXD_NV4, 30187, 348 },
};

/* The client's packet in node's Geneve to this node (over c's underlay: its
 * nodes' family), with the option (opt) or without. */
static size_t dxd_geneve(const struct dxd_case *c, const char *node, uint8_t flags, bool opt,
			 uint8_t *out)
{
	return dsr_geneve(node, c->client, c->cport, c->inner6, flags, opt ? c->fe : NULL,
			  c->fport, out);
}

/* The flow's entry as the option left it: NodePort and DSR, the frontend's
 * index, the sender (its IPv6 address folded over the IPv6 underlay). */
static void dxd_entry(const struct dxd_case *c)
{
	struct xcni_ct_entry e = dsr_flow(c->client, c->cport, c->inner6);

	assert_int_equal(e.rev_nat, c->rev_nat);
	assert_int_equal(e.nat_addr, addr_word(c->node));
}

/*
 * The sender's frame in taken apart at XDP with a record whose cookie is
 * not from_overlay's (forged, or another agent's): from_overlay must take
 * it for the plain packet it looks like, exactly as tc alone takes those
 * bytes without a record (the same reason and bytes, conntrack alike),
 * never as Geneve of the DSR flow: not fwd-decap, nothing counted to the
 * sender's tunnel.
 */
static void dxd_forged(const struct dxd_case *c, const uint8_t *in, size_t len)
{
	struct msnap before[DXN_NMAPS], after_plain[DXN_NMAPS], after_live[DXN_NMAPS];
	int fd = bpf_program__fd(c->n->xdp->progs.xdp_underlay), i_plain, i_live, ret;
	uint8_t out[DXN_BIG + 64], plain_out[DXN_BIG];
	struct dx_count c0, c1, c2;
	__u64 b_plain = 0, b_live = 0;
	size_t out_len, plain_len;
	__u32 metalen;

	c->n->xdp->bss->decap_cookie_xdp[1] ^= 1;
	assert_int_equal(dx_xdp_once_fd(fd, in, len, out, sizeof(out), &out_len, &metalen),
			 XDP_PASS);
	assert_int_equal(metalen, sizeof(struct xcni_decap_meta));
	dxn_snap(before);
	dx_read_at(&c0, c->node);
	ret = dxn_tc(c->n, out + metalen, out_len - metalen, plain_out, &plain_len);
	dx_read_at(&c1, c->node);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	dxn_snap(after_plain);
	for (size_t i = 0; i < DXN_NMAPS; i++)
		assert_int_equal(snap_restore(&before[i]), 0);
	dxn_attach(c->n);
	dxn_drain();
	dx_xdp_live_fd(fd, in, len);
	dx_read_at(&c2, c->node);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	c->n->xdp->bss->decap_cookie_xdp[1] ^= 1;
	i_plain = dx_moved(&c0, &c1, &b_plain);
	i_live = dx_moved(&c1, &c2, &b_live);
	print_message("  %s: the ACK with a forged record: tc's verdict %d, %s, as those bytes "
		      "plain\n", c->name, ret,
		      i_live < 0 ? "uncounted" : reason_name(i_live / XCNI_NR_DIRS));
	if (i_plain != i_live || b_plain != b_live)
		fail_msg("%s: forged record: tc alone on the plain bytes counted %s (%llu bytes), "
			 "XDP then tc %s (%llu bytes)", c->name,
			 i_plain < 0 ? "-" : reason_name(i_plain / XCNI_NR_DIRS),
			 (unsigned long long)b_plain,
			 i_live < 0 ? "-" : reason_name(i_live / XCNI_NR_DIRS),
			 (unsigned long long)b_live);
	assert_int_not_equal(i_live, XCNI_METRIC_IDX(XCNI_FWD_DECAP, XCNI_DIR_FROM_OVERLAY));
	assert_int_equal(c2.t.rx_packets, c1.t.rx_packets);
	dxn_snap(after_live);
	dxn_same(after_plain, after_live, 0, "conntrack after a forged record is not tc's", c->name);
	dxn_free(before);
	dxn_free(after_plain);
	dxn_free(after_live);
}

/*
 * (c) The later packets of a NodePort DSR flow at the backend's node
 * (dxd_cases: IPv4 in IPv4, IPv6 in IPv4, IPv6 in IPv6, IPv4 in IPv6).
 * The first packet, with the option, is left to tc by the XDP program
 * (options stay at tc) and tc behind it records the flow as tc alone does
 * (the frontend's index, the sender); B's SYN-ACK leaves from the frontend
 * out of the underlay; the client's ACK without the option is taken apart
 * at XDP and delivered into B exactly as tc alone delivers it (reason,
 * bytes, tunnel counters, conntrack). Refused as tc refuses it: the same
 * ACK from another node of that underlay (drop-inner-spoof: not its
 * flow). Not trusted: the sender's ACK with a record of another cookie.
 */
static void dxn_dsr(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	char name[3][160];
	size_t len, wlen;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(dxd_cases); i++) {
		const struct dxd_case *c = &dxd_cases[i];

		snprintf(name[0], sizeof(name[0]), "%s: %s's SYN with the option: left to tc, "
			 "the flow recorded", c->name, c->node);
		snprintf(name[1], sizeof(name[1]), "%s: its ACK without the option: decapsulated "
			 "at XDP, into B as tc", c->name);
		snprintf(name[2], sizeof(name[2]), "%s: that ACK from %s, another node: "
			 "drop-inner-spoof", c->name, c->other);
		len = dxd_geneve(c, c->node, TH_SYN, true, in);
		wlen = dsr_inner(c->client, c->cport, c->inner6, TH_SYN, true, want);
		dxn_check(DXN_POD(name[0], c->n, false, c->inner6, c->node, want, wlen), in, len);
		dxd_entry(c);
		dsr_b_synack(c->client, c->cport, c->inner6, c->fe, c->fport);
		len = dxd_geneve(c, c->node, TH_ACK, false, in);
		wlen = dsr_inner(c->client, c->cport, c->inner6, TH_ACK, true, want);
		dxn_check(DXN_POD(name[1], c->n, true, c->inner6, c->node, want, wlen), in, len);
		dxd_entry(c);
		len = dxd_geneve(c, c->other, TH_ACK, false, in);
		dxn_check(DXN_ROW(name[2], c->n, true, c->inner6, c->other, TC_ACT_SHOT,
				  XCNI_DROP_INNER_SPOOF, NULL, 0), in, len);
		len = dxd_geneve(c, c->node, TH_ACK, false, in);
		dxd_forged(c, in, len);
	}
}

/*
 * (d) A DSR flow whose frontend's node changes --tunnel-family in the
 * middle of it (nodeport_ul46.c's lb46u_dsr_family_change, here on dxn46:
 * NODE_IP and NODE6, both underlays), with --overlay-decap xdp: the SYN
 * with the option from the node's InternalIP of one family, left to tc
 * (options stay at tc), the flow recorded with that address; the ACK
 * without the option from its other InternalIP over the other underlay,
 * taken apart at XDP and delivered into B exactly as tc alone delivers it
 * (the entry then naming the node by that address, as tc's). Refused as
 * tc refuses it: the same ACK from another node of both families at that
 * family (drop-inner-spoof). IPv4 and IPv6 inside, each way round.
 */
static void dxn_dsr_family(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	char name[3][160];
	size_t len, wlen;

	(void)state;
	dsr_fam_begin(372);
	for (size_t i = 0; i < ARRAY_SIZE(dsr_fams); i++) {
		const struct dsr_fam *c = &dsr_fams[i];
		const char *client = c->inner6 ? CLIENT6 : CLIENT;
		uint16_t cp = (uint16_t)(50611 + i);
		bool v6 = c->inner6;

		snprintf(name[0], sizeof(name[0]), "IPv%d inside: nm's SYN with the option from %s: "
			 "left to tc, the flow recorded", v6 ? 6 : 4, c->first);
		snprintf(name[1], sizeof(name[1]), "IPv%d inside: its ACK from %s (nm's other "
			 "family), no option: decapsulated at XDP, into B as tc", v6 ? 6 : 4, c->then);
		snprintf(name[2], sizeof(name[2]), "IPv%d inside: that ACK from %s, another node: "
			 "drop-inner-spoof", v6 ? 6 : 4, c->other);
		len = dsr_geneve(c->first, client, cp, v6, TH_SYN, c->fe, DSR_FPORT, in);
		wlen = dsr_inner(client, cp, v6, TH_SYN, true, want);
		dxn_check(DXN_POD(name[0], &dxn46, false, v6, c->first, want, wlen), in, len);
		assert_int_equal(dsr_flow(client, cp, v6).nat_addr, addr_word(c->first));
		dsr_b_synack(client, cp, v6, c->fe, DSR_FPORT);
		len = dsr_geneve(c->other, client, cp, v6, TH_ACK, NULL, 0, in);
		dxn_check(DXN_ROW(name[2], &dxn46, true, v6, c->other, TC_ACT_SHOT,
				  XCNI_DROP_INNER_SPOOF, NULL, 0), in, len);
		len = dsr_geneve(c->then, client, cp, v6, TH_ACK, NULL, 0, in);
		wlen = dsr_inner(client, cp, v6, TH_ACK, true, want);
		dxn_check(DXN_POD(name[1], &dxn46, true, v6, c->then, want, wlen), in, len);
		e = dsr_flow(client, cp, v6);
		assert_int_equal(e.rev_nat, v6 ? 373 : 372);
		assert_int_equal(e.nat_addr, addr_word(c->then));
	}
	dsr_fam_end();
}

/* TCP from CLIENT to NODE_IP:dp, tot_len bytes, DF. */
static size_t dxn_big4(uint16_t sp, uint16_t dp, uint16_t tot_len, uint8_t *in)
{
	struct fr f = from_outside(CLIENT, sp, dp, TH_SYN);

	f.payload = (uint16_t)(tot_len - 40);
	return frame(&f, in);
}

/* UDP from CLIENT6 to [NODE6]:dp, len bytes of IPv6 packet. */
static size_t dxn_big6(uint16_t sp, uint16_t dp, uint16_t len, uint8_t *in)
{
	struct g6 f = outside6_to(CLIENT6, sp, NODE6, dp, IPPROTO_UDP, 0);

	f.payload = (uint16_t)(len - 48);
	return frame6(&f, in);
}

/*
 * (b) Too big at XDP: a NodePort request whose Geneve would not fit the
 * underlay (one byte over: 1451 over the IPv4 underlay's 50 bytes, 1431
 * over the IPv6 one's 70; both families, both underlays) is handed on by
 * the fast path untouched (its FIB lookup's FRAG_NEEDED, nodeport_xdp.h),
 * nothing written, and gets from tc behind it the answer tc alone gives,
 * byte for byte on the wire: ICMP fragmentation needed (IPv4, DF) or Packet
 * Too Big from the frontend, quoting the packet as the client sent it,
 * counted drop-too-big, no flow left.
 */
static void dxn_too_big(void **state)
{
	uint8_t in[DXN_BIG], want[DXN_BIG];
	size_t len, wlen;

	(void)state;
	/* One byte less: it fits, and the fast path sends it as tc would. */
	len = dxn_big4(52411, 30081, 1450, in);
	dxn_check(DXN_TX("IPv4 1450 bytes to NODE_IP:30081: fits, XDP_TX as tc's", &dxn4), in, len);
	len = dxn_big6(52412, 30082, 1450, in);
	dxn_check(DXN_TX("IPv6 1450 bytes to [NODE6]:30082: fits, XDP_TX as tc's", &dxn4), in, len);
	len = dxn_big6(52413, 30182, 1430, in);
	dxn_check(DXN_TX("IPv6 1430 bytes to [NODE6]:30182 (IPv6 underlay): fits, XDP_TX as tc's",
			 &dxn46), in, len);
	len = dxn_big4(52414, 30185, 1430, in);
	dxn_check(DXN_TX("IPv4 1430 bytes to NODE_IP:30185 (IPv6 underlay): fits, XDP_TX as tc's",
			 &dxn46), in, len);
	/* One byte more. */
	len = dxn_big4(52401, 30081, 1451, in);
	wlen = np_frag_needed_want(in, 1450, want);
	dxn_check(DXN_ROW("IPv4 1451 bytes DF to NODE_IP:30081 (R on n2, IPv4 underlay): "
			  "fragmentation needed, MTU 1450", &dxn4, false, false, N2,
			  TC_ACT_REDIRECT, XCNI_DROP_TOO_BIG, want, wlen), in, len);
	len = dxn_big6(52402, 30082, 1451, in);
	wlen = np_ptb_want(in, NODE6, CLIENT6, 1450, want);
	dxn_check(DXN_ROW("IPv6 1451 bytes to [NODE6]:30082 (R6N on n2, IPv4 underlay): "
			  "Packet Too Big, MTU 1450", &dxn4, false, false, N2,
			  TC_ACT_REDIRECT, XCNI_DROP_TOO_BIG, want, wlen), in, len);
	len = dxn_big6(52403, 30182, 1431, in);
	wlen = np_ptb_want(in, NODE6, CLIENT6, 1430, want);
	dxn_check(DXN_ROW("IPv6 1431 bytes to [NODE6]:30182 (RV6 on nv, IPv6 underlay): "
			  "Packet Too Big, MTU 1430", &dxn46, false, false, DXN_NV,
			  TC_ACT_REDIRECT, XCNI_DROP_TOO_BIG, want, wlen), in, len);
	len = dxn_big4(52404, 30185, 1431, in);
	wlen = np_frag_needed_want(in, 1430, want);
	dxn_check(DXN_ROW("IPv4 1431 bytes DF to NODE_IP:30185 (RV4 on nv, IPv6 underlay): "
			  "fragmentation needed, MTU 1430", &dxn46, false, false, DXN_NV,
			  TC_ACT_REDIRECT, XCNI_DROP_TOO_BIG, want, wlen), in, len);
}

static const struct CMUnitTest decap_xdp_np_tests[] = {
	cmocka_unit_test_setup(dxn_replies, dxn_setup),
	cmocka_unit_test(dxn_dsr),
	cmocka_unit_test(dxn_dsr_family),
	cmocka_unit_test_teardown(dxn_too_big, dxn_teardown),
};

const struct group decap_xdp_np_group = { "decap_xdp_np", TESTS(decap_xdp_np_tests),
					  .prep = np_state };

static const struct CMUnitTest decap_xdp_ul6_tests[] = {
	cmocka_unit_test_setup_teardown(dx6_rows_each, dx6_setup, dx_teardown),
};

const struct group decap_xdp_ul6_group = { "decap_xdp_ul6", .tests = decap_xdp_ul6_tests,
					   .ntests = ARRAY_SIZE(decap_xdp_ul6_tests),
					   .prep = ul6_state };

const struct group decap_xdp_group = { "decap_xdp", .tests = decap_xdp_tests,
				       .ntests = ARRAY_SIZE(decap_xdp_tests),
				       .prep = v6ovl_state };
