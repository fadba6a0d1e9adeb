// SPDX-License-Identifier: Apache-2.0
/*
 * The overlay over an IPv6 underlay (Geneve over IPv6, ABI 9): a node whose underlay address is
 * NODE6 (node_ip6 set, no IPv4 underlay), its programs loaded here beside the
 * harness's on the same pinned maps, BPF_PROG_TEST_RUN. Runs on
 * encap.c's IPv6 overlay (v6ovl_state) and the endpoints parse.c's v6_setup gives (A with IP_A and A6).
 * Rows (their programs FROM_POD_UL6, FROM_OVERLAY_UL6(_LB), TO_OVERLAY_UL6;
 * a row whose .node is IPv6 arrives in Geneve over IPv6), every expected
 * outer byte from the harness's builder and the wrap written out here, the
 * flow hash (port and label) computed from its definition (bpf/lib/encap.h);
 * encapsulated frames read back by tshark.
 *
 *   N6   fc00:78::2   node n6, behind the IPv6 underlay (tunnel6)
 *   N7   fc00:78::3   node n7, likewise, no pods
 *   R6U  fd00:96::5   a pod of n6 (identity ID_R), ipcache6 TUN6 -> N6
 *   R4U  10.99.9.5    the same pod's IPv4 (dual stack), ipcache TUN6 -> N6
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pkt_cls.h>

#include "harness.h"

#define NODE6 UL6_NODE
#define N6 "fc00:78::2"
#define N7 "fc00:78::3"
#define NX "fc00:78::99" /* no node */
#define R6U "fd00:96::5"
#define R4U "10.99.9.5"
#define A6 "fd00:99::a"
#define SELF6 "fc00:77::1" /* encap.c's: this node's IPv6 InternalIP, host */

static struct from_pod *fp;
static struct from_overlay *fo, *fo_lb;
static struct to_overlay *to;

static void in6(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

/* bpf/lib/encap.h's flow_hash_of, from its definition (addresses and ports in network order). */
static uint32_t hash_of(uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint8_t proto)
{
	return xcni_fmix32(s ^ ((d << 7) | (d >> 25)) ^ ((uint32_t)sp << 16 | dp) ^ proto);
}

/* Declared in harness.h. */
uint32_t addr_word(const char *a)
{
	uint32_t w[4];

	if (!strchr(a, ':'))
		return ip4(a);
	in6(a, (uint8_t *)w);
	return w[0] ^ w[1] ^ w[2] ^ w[3];
}

/* The hash of a flow of either family (ports in host order here). */
static uint32_t flow_hash(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	return hash_of(addr_word(s), addr_word(d), htons(sp), htons(dp), proto);
}

/* The routed copy of a frame: IPv4 TTL - 1 (checksum again), IPv6 hop limit - 1. */
static void routed(uint8_t *buf)
{
	uint8_t *ip = buf + ETH_HLEN;
	uint16_t v;

	if (buf[12] == 0x86) {
		ip[7]--;
		return;
	}
	ip[8]--;
	ip[10] = ip[11] = 0;
	v = csum(ip, 20);
	memcpy(ip + 10, &v, 2);
}

/*
 * Geneve over IPv6 around an inner frame, as RFC 8926 and the node send it:
 * outer Ethernet (the inner's MACs, type IPv6), IPv6 (traffic class = the
 * inner TOS / class, flow label the hash's top 20 bits, payload length, UDP,
 * hop limit 64, src -> dst), UDP (source port 49152 | the hash's low 14 bits,
 * 6081, length, checksum 0), Geneve (no options, 0x6558, vni), the inner
 * frame, its Ethernet header included. optwords: 4-byte option words (zero
 * bytes; crit sets the header's C bit and makes the first option an unknown
 * critical one, type 0x80). Returns the length.
 */
size_t geneve_wrap_ul6_opt(const uint8_t *inner, size_t inner_len, const char *src,
			   const char *dst, uint32_t hash, uint32_t vni, unsigned int optwords,
			   bool crit, uint8_t *out)
{
	uint8_t *ip = out + ETH_HLEN, *udp = ip + 40, *g = udp + 8;
	size_t plen = 16 + optwords * 4 + inner_len;
	uint8_t tos = inner[12] == 0x86 ? (uint8_t)(inner[14] << 4 | inner[15] >> 4) : inner[15];
	uint32_t label = hash >> 12, a;
	uint16_t sport = 49152 | (hash & 0x3fff);

	memset(out, 0, ETH_HLEN + 40 + plen);
	memcpy(out, inner, 12);
	out[12] = 0x86;
	out[13] = 0xdd;
	ip[0] = 0x60 | tos >> 4;
	ip[1] = (uint8_t)(tos << 4 | (label >> 16));
	ip[2] = (uint8_t)(label >> 8);
	ip[3] = (uint8_t)label;
	ip[4] = (uint8_t)(plen >> 8);
	ip[5] = (uint8_t)plen;
	ip[6] = IPPROTO_UDP;
	ip[7] = 64;
	in6(src, ip + 8);
	in6(dst, ip + 24);
	udp[0] = sport >> 8;
	udp[1] = sport & 0xff;
	udp[2] = XCNI_GENEVE_PORT >> 8;
	udp[3] = XCNI_GENEVE_PORT & 0xff;
	udp[4] = (uint8_t)(plen >> 8);
	udp[5] = (uint8_t)plen;
	g[0] = (uint8_t)optwords;
	g[1] = crit ? XCNI_GENEVE_F_CRIT : 0;
	if (crit && optwords)
		g[8 + 2] = XCNI_GENEVE_OPT_CRIT;
	g[2] = 0x65;
	g[3] = 0x58;
	a = htonl(vni << 8);
	memcpy(g + 4, &a, 4);
	memcpy(g + 8 + optwords * 4, inner, inner_len);
	return ETH_HLEN + 40 + plen;
}

int ul6_prog_fd(int prog)
{
	switch (prog) {
	case FROM_POD_UL6:
		return fp ? bpf_program__fd(fp->progs.from_pod) : -1;
	case FROM_OVERLAY_UL6:
		return fo ? bpf_program__fd(fo->progs.from_overlay) : -1;
	case FROM_OVERLAY_UL6_LB:
		return fo_lb ? bpf_program__fd(fo_lb->progs.from_overlay) : -1;
	case TO_OVERLAY_UL6:
		return to ? bpf_program__fd(to->progs.to_overlay) : -1;
	}
	return -1;
}

struct want {
	int ret, reason;
	const uint8_t *out; /* NULL: not checked */
	size_t out_len;
	bool uncounted; /* not xcni's: no counter moves */
};

/* Frames past FRAME_MAX: run in through prog; the verdict, the one counter it bumps, the output. */
static void expect(int which, int dev, uint8_t *in, size_t len, const struct want *w,
		   uint8_t *outp, size_t *outlen)
{
	static uint8_t out[2048];
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	struct __sk_buff ctx = { .ifindex = env.ifindex[dev] };
	unsigned int dir = prog_dir(which);
	__u32 idx = XCNI_METRIC_IDX(w->reason, dir);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	assert_int_equal(read_metrics(before), 0);
	assert_int_equal(bpf_prog_test_run_opts(prog_fd(which), &o), 0);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(read_metrics(after), 0);
	for (__u32 i = 0; i < XCNI_NR_METRICS; i++)
		if (after[i].packets - before[i].packets != (!w->uncounted && i == idx))
			fail_msg("%s/%s counted %llu, want %s/%s (verdict %d)",
				 reason_name(i / XCNI_NR_DIRS), dir_name(i % XCNI_NR_DIRS),
				 (unsigned long long)(after[i].packets - before[i].packets),
				 w->uncounted ? "nothing" : reason_name(XCNI_REASON_IDX(w->reason)),
				 dir_name(dir), o.retval);
	if (!w->uncounted)
		assert_int_equal(after[idx].bytes - before[idx].bytes, len);
	assert_int_equal((int)o.retval, w->ret);
	if (w->out) {
		assert_int_equal(o.data_size_out, w->out_len);
		for (size_t i = 0; i < w->out_len; i++)
			if (out[i] != w->out[i])
				fail_msg("output differs first at byte %zu: 0x%02x, want 0x%02x", i,
					 out[i], w->out[i]);
	}
	if (outp) {
		memcpy(outp, out, o.data_size_out);
		*outlen = o.data_size_out;
	}
}

static void node6(const char *a, const char *name)
{
	struct xcni_tunnel t = { 0 };
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat zero[ncpu];
	struct xcni_in6 k;

	memset(zero, 0, sizeof(zero));
	snprintf(t.node, sizeof(t.node), "%s", name);
	in6(a, k.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_tunnel6"), &k, &t, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_tunstat6"), &k, zero, BPF_ANY), 0);
}

/* A TUN6 ipcache entry of either family: the address's node behind the IPv6 underlay. */
static void ipc_tun6(const char *a, uint32_t id, const char *node, uint32_t flags)
{
	struct xcni_ipcache_val v = { .identity = id, .flags = flags | XCNI_IPC_TUN6 };

	in6(node, v.tunnel_ip6);
	if (strchr(a, ':')) {
		struct xcni_ipcache6_key k = { .prefixlen = 128 };

		in6(a, k.addr);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &k, &v, BPF_ANY), 0);
	} else {
		struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(a) };

		assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &v, BPF_ANY), 0);
	}
}

static void tunstat6(const char *node, uint64_t *tx, uint64_t *rx)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat s[ncpu];
	struct xcni_in6 k;

	in6(node, k.addr);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_tunstat6"), &k, s), 0);
	*tx = *rx = 0;
	for (int i = 0; i < ncpu; i++) {
		*tx += s[i].tx_packets;
		*rx += s[i].rx_packets;
	}
}

static void underlay6_free(void)
{
	to_overlay__destroy(to);
	from_overlay__destroy(fo_lb);
	from_overlay__destroy(fo);
	from_pod__destroy(fp);
	to = NULL;
	fo = fo_lb = NULL;
	fp = NULL;
}

/* This node's programs with node_ip6 (and no IPv4 underlay), on the harness's
 * pinned maps (once: their maps are the harness's, env_reset empties them);
 * nodes n6 and n7, n6's pod R in both families. */
static int underlay6_prep(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.pin_dir);
	uint32_t n6[4];
	int err = v6ovl_state();

	if (err)
		return err;
	in6(NODE6, (uint8_t *)n6);
	if (!fp) {
		fp = from_pod__open_opts(&opts);
		if (!fp)
			return -errno;
		fp->rodata->pod_cidr = ip4("10.99.5.0");
		fp->rodata->pod_cidr_mask = htonl(0xffffff00);
		fp->rodata->gateway_ip = ip4(IP_GW);
		fp->rodata->underlay_ifindex = env.ifindex[DEV_U];
		fp->rodata->vni = VNI;
		memcpy((void *)fp->rodata->node_ip6, n6, 16);
		if ((err = from_pod__load(fp)))
			goto fail;
		fo = from_overlay__open_opts(&opts);
		if (!fo) {
			err = -errno;
			goto fail;
		}
		fo->rodata->vni = VNI;
		memcpy((void *)fo->rodata->node_ip6, n6, 16);
		UL_SVC_RANGES(fo->rodata);
		if ((err = from_overlay__load(fo)))
			goto fail;
		fo_lb = from_overlay__open_opts(&opts);
		if (!fo_lb) {
			err = -errno;
			goto fail;
		}
		fo_lb->rodata->vni = VNI;
		fo_lb->rodata->lb_enabled = 1;
		memcpy((void *)fo_lb->rodata->node_ip6, n6, 16);
		UL_SVC_RANGES(fo_lb->rodata);
		if ((err = from_overlay__load(fo_lb)))
			goto fail;
		to = to_overlay__open_opts(&opts);
		if (!to) {
			err = -errno;
			goto fail;
		}
		to->rodata->underlay_ifindex = env.ifindex[DEV_U];
		to->rodata->vni = VNI;
		memcpy((void *)to->rodata->node_ip6, n6, 16);
		if ((err = to_overlay__load(to)))
			goto fail;
	}
	node6(N6, "n6");
	node6(N7, "n7");
	ipc_tun6(R6U, ID_R, N6, XCNI_IPC_POD);
	ipc_tun6(R4U, ID_R, N6, XCNI_IPC_POD);
	ipc_tun6(N6, XCNI_ID_REMOTE_NODE, N6, 0);
	return polrev_bump();
fail:
	underlay6_free();
	return err;
}

/* underlay6's state and programs, for another group (decap_xdp.c's decap_xdp_ul6). */
int ul6_state(void)
{
	return underlay6_prep();
}

/* Writes one frame to a pcap and has tshark decode it into want's fields. */
static void tshark_is(const uint8_t *frame_, size_t len, const char *fields, const char *want)
{
	char path[] = "/tmp/xcni-v6ul-XXXXXX", cmd[768], got[512] = "";
	uint8_t *frames[1] = { (uint8_t *)frame_ };
	FILE *p;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	pcap_write(path, frames, &len, 1);
	snprintf(cmd, sizeof(cmd), "tshark -n -r %s -T fields -E separator=' ' %s 2>/dev/null",
		 path, fields);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(got, sizeof(got), p))
		got[0] = '\0';
	pclose(p);
	unlink(path);
	if (strcmp(got, want))
		fail_msg("tshark: %swant:   %s", got, want);
}

/* A pod's IPv6 and IPv4 to a pod of n6: the rows (every outer byte), the counter, tshark. */
static void underlay6_encap_tshark(void **state)
{
	/* DSCP EF, AF11: the outer traffic class. */
	static const struct row r6 = { "IPv6 A->R6U UDP: over the IPv6 underlay to n6",
				       .prog = FROM_POD_UL6, .dev = DEV_A, UDP(A6, 40100, R6U, 53),
				       .tclass = 0xb8, REDIR(FWD_ENCAP), .node = N6 },
			  r4 = { "IPv4 A->R4U SYN: over the IPv6 underlay to n6",
				 .prog = FROM_POD_UL6, .dev = DEV_A,
				 TCP(IP_A, 40101, R4U, 80, TH_SYN), .tclass = 0x28,
				 REDIR(FWD_ENCAP), .node = N6 };
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	uint64_t tx, rx, tx2;
	uint32_t h = flow_hash(A6, 40100, R6U, 53, IPPROTO_UDP);
	size_t wlen;
	char w[512];

	(void)state;
	tunstat6(N6, &tx, &rx);
	check_rows(&r6, 1);
	/* Outer IPv6, Geneve, inner IPv6 as tshark reads them (outer, then inner
	 * for the fields both have): the outer flow label the hash's, the
	 * inner's 0 (as sent); outer UDP checksum 0 (none, RFC 6936), the
	 * inner's as sent (0); hop limits 64 and 63 (routed). */
	wlen = row_want(&r6, in, want);
	snprintf(w, sizeof(w),
		 "%s,%s %s,%s 0x%06x,0x000000 %u,40100 6081,53 0x00002a 0x6558 0x0000,0x0000 "
		 "64,63\n",
		 NODE6, A6, N6, R6U, h >> 12, 49152 | (h & 0x3fff));
	tshark_is(want, wlen,
		  "-e ipv6.src -e ipv6.dst -e ipv6.flow -e udp.srcport -e udp.dstport "
		  "-e geneve.vni -e geneve.proto_type -e udp.checksum -e ipv6.hlim",
		  w);
	/* IPv4 inside IPv6: tshark checks the inner IPv4 checksum too. */
	check_rows(&r4, 1);
	wlen = row_want(&r4, in, want);
	snprintf(w, sizeof(w), "%s %s %s %s 1 6081 80 0x00002a\n", NODE6, N6, IP_A, R4U);
	tshark_is(want, wlen,
		  "-e ipv6.src -e ipv6.dst -e ip.src -e ip.dst -e ip.checksum.status "
		  "-e udp.dstport -e tcp.dstport -e geneve.vni -o ip.check_checksum:TRUE",
		  w);
	tunstat6(N6, &tx2, &rx);
	assert_int_equal(tx2, tx + 2);
}

/* Row r's frame grown to l3 bytes of IP (zero payload after its UDP header), into big. */
static size_t grown(const struct row *r, size_t l3, uint8_t *big)
{
	uint8_t in[FRAME_MAX];
	uint8_t *ip = big + ETH_HLEN;
	size_t hl = row_v6(r) ? 40 : 20, n = build(r, in);
	uint16_t v;

	memset(big, 0, ETH_HLEN + l3);
	memcpy(big, in, n);
	if (row_v6(r)) {
		ip[4] = (uint8_t)((l3 - 40) >> 8);
		ip[5] = (uint8_t)(l3 - 40);
	} else {
		ip[2] = (uint8_t)(l3 >> 8);
		ip[3] = (uint8_t)l3;
		ip[10] = ip[11] = 0;
		v = csum(ip, 20);
		memcpy(ip + 10, &v, 2);
	}
	ip[hl + 4] = (uint8_t)((l3 - hl) >> 8); /* UDP length */
	ip[hl + 5] = (uint8_t)(l3 - hl);
	return ETH_HLEN + l3;
}

/* The MTU for 70 bytes of Geneve over IPv6: frames past FRAME_MAX, the rows' headers. */
static void underlay6_mtu(void **state)
{
	static uint8_t big[ETH_HLEN + 1500], inner[ETH_HLEN + 1500], want[ETH_HLEN + 1600];
	static const struct row fit = { .prog = FROM_POD_UL6, .dev = DEV_A, UDP(A6, 40110, R6U, 53) },
				big6 = { .prog = FROM_POD_UL6, .dev = DEV_A, UDP(A6, 40111, R6U, 53) },
				big4 = { .prog = FROM_POD_UL6, .dev = DEV_A,
					 UDP(IP_A, 40112, R4U, 53) };
	size_t len, wlen;

	(void)state;
	/* 1430 bytes of IPv6 fit the underlay's 1500 once wrapped in 70... */
	len = grown(&fit, 1430, big);
	memcpy(inner, big, len);
	routed(inner);
	wlen = geneve_wrap_ul6_opt(inner, len, NODE6, N6, flow_hash(A6, 40110, R6U, 53, IPPROTO_UDP),
				   VNI, 0, false, want);
	assert_int_equal(wlen, ETH_HLEN + 1500);
	expect(FROM_POD_UL6, DEV_A, big, len,
	       &(struct want){ TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen, false }, NULL, NULL);
	/* ... 1431 do not: the stack's, untouched (it answers Packet Too Big
	 * from xcni0's MTU, underlay - 70). */
	len = grown(&big6, 1431, big);
	expect(FROM_POD_UL6, DEV_A, big, len,
	       &(struct want){ TC_ACT_OK, XCNI_FWD_TOO_BIG, big, len, false }, NULL, NULL);
	/* And for IPv4: 1431 bytes do not fit either. */
	len = grown(&big4, 1431, big);
	expect(FROM_POD_UL6, DEV_A, big, len,
	       &(struct want){ TC_ACT_OK, XCNI_FWD_TOO_BIG, big, len, false }, NULL, NULL);
}

/* Geneve over IPv6 for another address, and plain UDP to this one: not ours,
 * untouched, uncounted (the row's frame, its outer bytes changed). */
static void underlay6_not_ours(void **state)
{
	static const struct row r = { .prog = FROM_OVERLAY_UL6, .dev = DEV_U, .node = N6,
				      UDP(R6U, 44106, A6, 53) };
	uint8_t in[FRAME_MAX];
	size_t len = build(&r, in);

	(void)state;
	in6(N7, in + ETH_HLEN + 24);
	expect(FROM_OVERLAY_UL6, DEV_U, in, len, &(struct want){ TC_ACT_OK, 0, in, len, true },
	       NULL, NULL);
	in6(NODE6, in + ETH_HLEN + 24);
	in[ETH_HLEN + 40 + 3] = 53;
	expect(FROM_OVERLAY_UL6, DEV_U, in, len, &(struct want){ TC_ACT_OK, 0, in, len, true },
	       NULL, NULL);
}

/* n6's tunnel counters around the decapsulation rows. */
static uint64_t n6_tx, n6_rx;

static int n6_noted(void)
{
	tunstat6(N6, &n6_tx, &n6_rx);
	return 0;
}

static int n6_rx4_tx1(void)
{
	uint64_t tx, rx;

	tunstat6(N6, &tx, &rx);
	/* Two of the four are IPv4 inside, skipped on a kernel < 6.3 (test_run). */
	return rx == n6_rx + (kernel_decap_l3() ? 4 : 2) && tx == n6_tx + 1 ? 0 : -EPROTO;
}

#define FROM_N6(node_) .prog = FROM_OVERLAY_UL6, .dev = DEV_U, .node = node_
/* n6's pod R (r: its address of the family) to A (a), both inner families:
 * decapsulated into A; claimed by n7 instead, refused. */
#define R_TO_A_ROWS(fam, r, a, port)                                                               \
	{ fam "R->A SYN from n6: decapsulated into A (the inner Ethernet type)", FROM_N6(N6),      \
	  TCP(r, port, a, 80, TH_SYN), REDIR(FWD_DECAP) },                                         \
	{ fam "R from n7: n6's pod, not n7's to claim", FROM_N6(N7), UDP(r, port + 1000, a, 53),   \
	  SHOT(DROP_INNER_SPOOF, EV_FULL), .no_ct = true }

static const struct row underlay6_rows[] = {
	/* What is not encapsulated: a node of the other family. */
	{ "A->R (n2's, the IPv4 underlay): no IPv4 underlay address here to send from",
	  .prog = FROM_POD_UL6, .dev = DEV_A, UDP(IP_A, 40113, IP_R, 53),
	  SHOT(DROP_TUNNEL_FAMILY, EV_FULL) },
	{ "A6->R6U from a node of the IPv4 underlay: no IPv6 underlay address there",
	  .prog = FROM_POD_OV, .dev = DEV_A, UDP(A6, 40114, R6U, 53),
	  SHOT(DROP_TUNNEL_FAMILY, EV_FULL) },

	/* Decapsulation of both inner families into A, A's answers back; the node itself. */
	{ "n6's counters noted", .step = n6_noted },
	R_TO_A_ROWS("IPv6 ", R6U, A6, 43100),
	{ "IPv6 A->R6U SYN-ACK: the reply, back over the IPv6 underlay", .prog = FROM_POD_UL6,
	  .dev = DEV_A, TCP(A6, 80, R6U, 43100, TH_SYN | TH_ACK), REDIR(FWD_ENCAP), .node = N6,
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	R_TO_A_ROWS("IPv4 ", R4U, IP_A, 43101),
	{ "IPv4 R4U->A SYN from n6, Services in BPF, 8 bytes of options: the same",
	  .prog = FROM_OVERLAY_UL6_LB, .dev = DEV_U, .node = N6, .optwords = 2,
	  TCP(R4U, 43102, IP_A, 80, TH_SYN), REDIR(FWD_DECAP) },
	{ "IPv6 R6U->this node's IPv6: decapsulated for the stack", FROM_N6(N6),
	  UDP(R6U, 43103, SELF6, 53), OK(FWD_DECAP_HOST) },
	{ "n6 received 4, sent 1", .step = n6_rx4_tx1 },
	/* Dropped for an option before the decapsulation (overlay_decap_first,
	 * the inner packet unparsed): the event carries the inner frame's
	 * length, as from_overlay4's (row_ev_len). */
	{ "IPv6 R6U->A6 from n6, Services in BPF, an unknown critical option: dropped",
	  .prog = FROM_OVERLAY_UL6_LB, .dev = DEV_U, .node = N6, .optwords = 2, .gnv_crit = true,
	  UDP(R6U, 43106, A6, 53), SHOT(DROP_BAD_GENEVE, EV_ZERO), .no_ct = true },
	{ "IPv4 R4U->A from n6, Services in BPF, an unknown critical option: dropped",
	  .prog = FROM_OVERLAY_UL6_LB, .dev = DEV_U, .node = N6, .optwords = 2, .gnv_crit = true,
	  UDP(R4U, 43107, IP_A, 53), SHOT(DROP_BAD_GENEVE, EV_ZERO), .no_ct = true },
	/* What conntrack counts of a flow from another node: its inner frame,
	 * the outer headers gone, whichever the underlay and the inner family
	 * (as from_pod counts the replies: both directions at one layer): the
	 * same IPv4 flow's first packet from each underlay, each entry's bytes
	 * the decapsulated frame's. */
	{ "IPv4 R->A UDP from n2, the IPv4 underlay: conntrack counts the inner frame",
	  .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, UDP(IP_R, 43104, IP_A, 53),
	  REDIR(FWD_DECAP), .ct = XCNI_CT_NEW },
	{ "IPv4 R4U->A UDP from n6, the IPv6 underlay: the same, its outer IPv6 headers not counted",
	  FROM_N6(N6), UDP(R4U, 43105, IP_A, 53), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW },

	/* Who may send what over the IPv6 underlay. */
	{ "IPv4 R (n2's, the IPv4 underlay) from n6", FROM_N6(N6), UDP(IP_R, 44102, IP_A, 53),
	  SHOT(DROP_INNER_SPOOF, EV_FULL), .no_ct = true },
	{ "an outer source that is no node: refused, untouched", FROM_N6(NX),
	  UDP(R6U, 44103, A6, 53), SHOT(DROP_UNKNOWN_NODE, EV_OUTER), .no_ct = true },
	{ "another VNI: untouched", FROM_N6(N6), .vni = VNI + 1, UDP(R6U, 44104, A6, 53),
	  SHOT(DROP_BAD_GENEVE, EV_OUTER) },
	{ "a critical option (DSR's kind): not understood over this underlay", FROM_N6(N6),
	  .optwords = 2, .gnv_crit = true, UDP(R6U, 44105, A6, 53),
	  SHOT(DROP_BAD_GENEVE, EV_OUTER) },
	{ "a node of the IPv4 underlay takes no Geneve over IPv6: untouched, as before ABI 9",
	  .prog = FROM_OVERLAY, .dev = DEV_U, .node = N6, UDP(R6U, 44107, A6, 53),
	  .ret = TC_ACT_OK, .uncounted = true },

	/* The host's traffic to n6's pods, routed to xcni0: wrapped as it is. */
	{ "host->R6U via the overlay device: over the IPv6 underlay", .prog = TO_OVERLAY_UL6,
	  .dev = DEV_U, TCP(SELF6, 46100, R6U, 80, TH_SYN), REDIR(FWD_ENCAP), .node = N6 },
	{ "host->R4U via the overlay device: over the IPv6 underlay", .prog = TO_OVERLAY_UL6,
	  .dev = DEV_U, UDP(NODE_IP, 46101, R4U, 53), REDIR(FWD_ENCAP), .node = N6 },
};

static const struct CMUnitTest underlay6_tests[] = {
	cmocka_unit_test(underlay6_encap_tshark),
	cmocka_unit_test(underlay6_mtu),
	cmocka_unit_test(underlay6_not_ours),
};

const struct group underlay6_group = { "underlay6", ROWS(underlay6_rows), TESTS(underlay6_tests),
				       .prep = underlay6_prep, .free = underlay6_free };

/* The wrap without options and flow_hash for the NodePort files (harness.h). */
size_t geneve_wrap_ul6(const uint8_t *inner, size_t inner_len, const char *src, const char *dst,
		       uint32_t hash, uint32_t vni, uint8_t *out)
{
	return geneve_wrap_ul6_opt(inner, inner_len, src, dst, hash, vni, 0, false, out);
}

uint32_t geneve_hash6(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	return flow_hash(s, sp, d, dp, proto);
}
