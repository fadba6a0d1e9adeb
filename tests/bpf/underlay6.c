// SPDX-License-Identifier: Apache-2.0
/*
 * The overlay over an IPv6 underlay (Geneve over IPv6, ABI 9): a node whose underlay address is
 * NODE6 (node_ip6 set, no IPv4 underlay), its programs loaded here beside the
 * harness's on the same pinned maps, BPF_PROG_TEST_RUN. Runs on
 * encap.c's IPv6 overlay (v6ovl_state) and the endpoints parse.c's v6_setup gives (A with IP_A and A6).
 * Every expected outer byte is written out here, the flow hash (port and
 * label) computed from its definition (bpf/lib/encap.h), and an
 * encapsulated frame read back by tshark.
 *
 *   N6   fc00:78::2   node n6, behind the IPv6 underlay (tunnel6)
 *   N7   fc00:78::3   node n7, likewise, no pods
 *   R6U  fd00:96::5   a pod of n6 (identity ID_R), ipcache6 TUN6 -> N6
 *   R4U  10.99.9.5    the same pod's IPv4 (dual stack), ipcache TUN6 -> N6
 */
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pkt_cls.h>

#include "harness.h"

#define NODE6 "fc00:78::1"
#define N6 "fc00:78::2"
#define N7 "fc00:78::3"
#define NX "fc00:78::99" /* no node */
#define R6U "fd00:96::5"
#define R4U "10.99.9.5"
#define A6 "fd00:99::a"
#define SELF6 "fc00:77::1" /* encap.c's: this node's IPv6 InternalIP, host */
#define UL6_HDRS 70 /* outer IPv6, UDP, Geneve, inner Ethernet */

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
	uint32_t h = s ^ ((d << 7) | (d >> 25)) ^ ((uint32_t)sp << 16 | dp) ^ proto;

	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static uint32_t fold6(const char *a)
{
	uint32_t w[4];

	in6(a, (uint8_t *)w);
	return w[0] ^ w[1] ^ w[2] ^ w[3];
}

/* The hash of a flow of either family (ports in host order here). */
static uint32_t flow_hash(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	bool v6 = strchr(s, ':') != NULL;

	return hash_of(v6 ? fold6(s) : ip4(s), v6 ? fold6(d) : ip4(d), htons(sp), htons(dp), proto);
}

/* An Ethernet + IPv4 or IPv6 frame with a TCP or UDP header; tos: TOS or traffic class. */
struct fr {
	const uint8_t *dmac, *smac;
	const char *src, *dst;
	uint8_t proto, tos, flags;
	uint16_t sport, dport;
	size_t pad; /* payload bytes after the L4 header */
};

static size_t frame(const struct fr *f, uint8_t *buf)
{
	bool v6 = strchr(f->src, ':') != NULL;
	size_t l4 = (f->proto == IPPROTO_TCP ? 20 : 8) + f->pad, l3 = (v6 ? 40 : 20) + l4;
	uint8_t *ip = buf + ETH_HLEN, *t = ip + (v6 ? 40 : 20);

	memset(buf, 0, ETH_HLEN + l3);
	memcpy(buf, f->dmac, ETH_ALEN);
	memcpy(buf + ETH_ALEN, f->smac, ETH_ALEN);
	if (v6) {
		buf[12] = 0x86;
		buf[13] = 0xdd;
		ip[0] = 0x60 | f->tos >> 4;
		ip[1] = (uint8_t)(f->tos << 4);
		ip[4] = (uint8_t)(l4 >> 8);
		ip[5] = (uint8_t)l4;
		ip[6] = f->proto;
		ip[7] = 64;
		in6(f->src, ip + 8);
		in6(f->dst, ip + 24);
	} else {
		uint32_t a;
		uint16_t v;

		buf[12] = 0x08;
		ip[0] = 0x45;
		ip[1] = f->tos;
		ip[2] = (uint8_t)(l3 >> 8);
		ip[3] = (uint8_t)l3;
		ip[4] = 0x12;
		ip[5] = 0x34;
		ip[6] = 0x40;
		ip[8] = 64;
		ip[9] = f->proto;
		a = ip4(f->src);
		memcpy(ip + 12, &a, 4);
		a = ip4(f->dst);
		memcpy(ip + 16, &a, 4);
		v = csum(ip, 20);
		memcpy(ip + 10, &v, 2);
	}
	t[0] = f->sport >> 8;
	t[1] = f->sport & 0xff;
	t[2] = f->dport >> 8;
	t[3] = f->dport & 0xff;
	if (f->proto == IPPROTO_TCP) {
		t[12] = 5 << 4;
		t[13] = f->flags;
	} else {
		t[4] = (uint8_t)(l4 >> 8);
		t[5] = (uint8_t)l4;
	}
	return ETH_HLEN + l3;
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
 * bytes; crit sets the header's C bit). Returns the length.
 */
static size_t wrap_ul6(const uint8_t *inner, size_t inner_len, const char *src, const char *dst,
		       uint32_t hash, uint32_t vni, unsigned int optwords, bool crit, uint8_t *out)
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
	g[2] = 0x65;
	g[3] = 0x58;
	a = htonl(vni << 8);
	memcpy(g + 4, &a, 4);
	memcpy(g + 8 + optwords * 4, inner, inner_len);
	return ETH_HLEN + 40 + plen;
}

static int prog_of(int which)
{
	switch (which) {
	case FROM_POD:
		return bpf_program__fd(fp->progs.from_pod);
	case FROM_OVERLAY:
		return bpf_program__fd(fo->progs.from_overlay);
	case FROM_OVERLAY_LB:
		return bpf_program__fd(fo_lb->progs.from_overlay);
	case TO_OVERLAY:
		return bpf_program__fd(to->progs.to_overlay);
	case FROM_POD_OV: /* the harness's: a node of the IPv4 underlay */
		return bpf_program__fd(env.from_ov->progs.from_pod);
	}
	return bpf_program__fd(env.ovin->progs.from_overlay); /* FROM_OVERLAY_DSR: ditto */
}

struct want {
	int ret, reason;
	const uint8_t *out; /* NULL: not checked */
	size_t out_len;
	bool uncounted; /* not xcni's: no counter moves */
};

/* Runs in through one of this file's programs: the verdict, the one counter it bumps, the output. */
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
	assert_int_equal(bpf_prog_test_run_opts(prog_of(which), &o), 0);
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

/* This node's programs with node_ip6 (and no IPv4 underlay), on the harness's pinned maps. */
static void v6ul_setup(void **state)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.pin_dir);
	uint32_t n6[4];

	(void)state;
	in6(NODE6, (uint8_t *)n6);
	fp = from_pod__open_opts(&opts);
	assert_non_null(fp);
	fp->rodata->pod_cidr = ip4("10.99.5.0");
	fp->rodata->pod_cidr_mask = htonl(0xffffff00);
	fp->rodata->gateway_ip = ip4(IP_GW);
	fp->rodata->underlay_ifindex = env.ifindex[DEV_U];
	fp->rodata->vni = VNI;
	memcpy((void *)fp->rodata->node_ip6, n6, 16);
	assert_int_equal(from_pod__load(fp), 0);
	fo = from_overlay__open_opts(&opts);
	assert_non_null(fo);
	fo->rodata->vni = VNI;
	memcpy((void *)fo->rodata->node_ip6, n6, 16);
	assert_int_equal(from_overlay__load(fo), 0);
	fo_lb = from_overlay__open_opts(&opts);
	assert_non_null(fo_lb);
	fo_lb->rodata->vni = VNI;
	fo_lb->rodata->lb_enabled = 1;
	memcpy((void *)fo_lb->rodata->node_ip6, n6, 16);
	assert_int_equal(from_overlay__load(fo_lb), 0);
	to = to_overlay__open_opts(&opts);
	assert_non_null(to);
	to->rodata->underlay_ifindex = env.ifindex[DEV_U];
	to->rodata->vni = VNI;
	memcpy((void *)to->rodata->node_ip6, n6, 16);
	assert_int_equal(to_overlay__load(to), 0);
	node6(N6, "n6");
	node6(N7, "n7");
	ipc_tun6(R6U, ID_R, N6, XCNI_IPC_POD);
	ipc_tun6(R4U, ID_R, N6, XCNI_IPC_POD);
	ipc_tun6(N6, XCNI_ID_REMOTE_NODE, N6, 0);
	assert_int_equal(polrev_bump(), 0);
}

static void v6ul_teardown(void **state)
{
	(void)state;
	to_overlay__destroy(to);
	from_overlay__destroy(fo_lb);
	from_overlay__destroy(fo);
	from_pod__destroy(fp);
	to = NULL;
	fo = fo_lb = NULL;
	fp = NULL;
}

#define FROM_A(s, d, p)                                                                       \
	struct fr f = { .dmac = pods[DEV_A].host_mac, .smac = pods[DEV_A].mac, .src = s, .dst = d, \
			.proto = p }

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

/* A pod's IPv6 and IPv4 to a pod of n6: every outer byte, the counters, tshark. */
static void v6ul_encap(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX], out[2048];
	size_t len, wlen, olen;
	uint64_t tx, rx, tx2;
	char w[512];

	(void)state;
	tunstat6(N6, &tx, &rx);
	{
		FROM_A(A6, R6U, IPPROTO_UDP);
		f.sport = 40100;
		f.dport = 53;
		f.tos = 0xb8; /* DSCP EF: the outer traffic class */
		len = frame(&f, in);
		memcpy(inner, in, len);
		routed(inner);
		wlen = wrap_ul6(inner, len, NODE6, N6, flow_hash(A6, 40100, R6U, 53, IPPROTO_UDP),
				VNI, 0, false, want);
		expect(FROM_POD, DEV_A, in, len,
		       &(struct want){ TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen, false }, out,
		       &olen);
		/* Outer IPv6, Geneve, inner IPv6 as tshark reads them (outer, then inner
		 * for the fields both have): the outer flow label the hash's, the
		 * inner's 0 (as sent); outer UDP checksum 0 (none, RFC 6936), the
		 * inner's as sent (0); hop limits 64 and 63 (routed). */
		snprintf(w, sizeof(w),
			 "%s,%s %s,%s 0x%06x,0x000000 %u,40100 6081,53 0x00002a 0x6558 0x0000,0x0000 "
			 "64,63\n",
			 NODE6, A6, N6, R6U, flow_hash(A6, 40100, R6U, 53, IPPROTO_UDP) >> 12,
			 49152 | (flow_hash(A6, 40100, R6U, 53, IPPROTO_UDP) & 0x3fff));
		tshark_is(out, olen,
			  "-e ipv6.src -e ipv6.dst -e ipv6.flow -e udp.srcport -e udp.dstport "
			  "-e geneve.vni -e geneve.proto_type -e udp.checksum -e ipv6.hlim",
			  w);
	}
	{
		FROM_A(IP_A, R4U, IPPROTO_TCP);
		f.sport = 40101;
		f.dport = 80;
		f.flags = TH_SYN;
		f.tos = 0x28;
		len = frame(&f, in);
		memcpy(inner, in, len);
		routed(inner);
		wlen = wrap_ul6(inner, len, NODE6, N6,
				flow_hash(IP_A, 40101, R4U, 80, IPPROTO_TCP), VNI, 0, false, want);
		expect(FROM_POD, DEV_A, in, len,
		       &(struct want){ TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen, false }, out,
		       &olen);
		/* IPv4 inside IPv6: tshark checks the inner IPv4 checksum too. */
		snprintf(w, sizeof(w), "%s %s %s %s 1 6081 80 0x00002a\n", NODE6, N6, IP_A, R4U);
		tshark_is(out, olen,
			  "-e ipv6.src -e ipv6.dst -e ip.src -e ip.dst -e ip.checksum.status "
			  "-e udp.dstport -e tcp.dstport -e geneve.vni -o ip.check_checksum:TRUE",
			  w);
	}
	tunstat6(N6, &tx2, &rx);
	assert_int_equal(tx2, tx + 2);
}

/* What is not encapsulated: the MTU for 70 bytes, TTL 1, a node of the other family. */
static void v6ul_not_encap(void **state)
{
	static uint8_t big[ETH_HLEN + 1500], want[ETH_HLEN + 1600];
	uint8_t in[FRAME_MAX];
	size_t len;

	(void)state;
	{
		/* 1430 bytes of IPv6 fit the underlay's 1500 once wrapped in 70... */
		FROM_A(A6, R6U, IPPROTO_UDP);
		uint8_t inner[ETH_HLEN + 1500];
		size_t wlen;

		f.sport = 40110;
		f.dport = 53;
		f.pad = 1430 - 48;
		len = frame(&f, big);
		assert_int_equal(len, ETH_HLEN + 1430);
		memcpy(inner, big, len);
		routed(inner);
		wlen = wrap_ul6(inner, len, NODE6, N6, flow_hash(A6, 40110, R6U, 53, IPPROTO_UDP),
				VNI, 0, false, want);
		assert_int_equal(wlen, ETH_HLEN + 1500);
		expect(FROM_POD, DEV_A, big, len,
		       &(struct want){ TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen, false }, NULL,
		       NULL);
	}
	{
		/* ... 1431 do not: the stack's, untouched (it answers Packet Too Big
		 * from xcni0's MTU, underlay - 70). */
		FROM_A(A6, R6U, IPPROTO_UDP);

		f.sport = 40111;
		f.dport = 53;
		f.pad = 1431 - 48;
		len = frame(&f, big);
		expect(FROM_POD, DEV_A, big, len,
		       &(struct want){ TC_ACT_OK, XCNI_FWD_TOO_BIG, big, len, false }, NULL, NULL);
	}
	{
		/* And for IPv4: 1431 bytes do not fit either. */
		FROM_A(IP_A, R4U, IPPROTO_UDP);

		f.sport = 40112;
		f.dport = 53;
		f.pad = 1431 - 28;
		len = frame(&f, big);
		expect(FROM_POD, DEV_A, big, len,
		       &(struct want){ TC_ACT_OK, XCNI_FWD_TOO_BIG, big, len, false }, NULL, NULL);
	}
	{
		/* A pod of an IPv4-underlay node (n2, tunnel_ip): this node has no
		 * IPv4 underlay address to send from, and says so. */
		FROM_A(IP_A, IP_R, IPPROTO_UDP);

		f.sport = 40113;
		f.dport = 53;
		len = frame(&f, in);
		expect(FROM_POD, DEV_A, in, len,
		       &(struct want){ TC_ACT_SHOT, XCNI_DROP_TUNNEL_FAMILY, NULL, 0, false }, NULL,
		       NULL);
	}
	{
		/* The other way round: the IPv4-underlay node (the harness's from_pod)
		 * has no IPv6 underlay address for n6's pod. */
		FROM_A(A6, R6U, IPPROTO_UDP);

		f.sport = 40114;
		f.dport = 53;
		len = frame(&f, in);
		expect(FROM_POD_OV, DEV_A, in, len,
		       &(struct want){ TC_ACT_SHOT, XCNI_DROP_TUNNEL_FAMILY, NULL, 0, false }, NULL,
		       NULL);
	}
}

/* A frame as it leaves a pod of n6 and arrives here over the IPv6 underlay. */
static size_t from_n6(struct fr *f, const char *outer_src, unsigned int optwords, bool crit,
		      uint32_t vni, uint8_t *in, uint8_t *inner, size_t *inner_len)
{
	static const uint8_t n6_host[ETH_ALEN] = { 2, 0, 0, 0, 0x66, 1 },
			     n6_pod[ETH_ALEN] = { 2, 0, 0, 0, 0x66, 2 };

	f->dmac = n6_host;
	f->smac = n6_pod;
	*inner_len = frame(f, inner);
	return wrap_ul6(inner, *inner_len, outer_src, NODE6,
			flow_hash(f->src, f->sport, f->dst, f->dport, f->proto), vni, optwords, crit,
			in);
}

/* Decapsulation of both inner families into A, A's answers back; the node itself. */
static void v6ul_decap(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	size_t len, ilen, wlen;
	uint64_t tx, rx, tx2, rx2;

	(void)state;
	tunstat6(N6, &tx, &rx);
	{
		struct fr f = { .src = R6U, .dst = A6, .proto = IPPROTO_TCP, .sport = 43100,
				.dport = 80, .flags = TH_SYN };

		len = from_n6(&f, N6, 0, false, VNI, in, inner, &ilen);
		/* The inner frame on A's link: A's MACs, type IPv6, hop limit as sent. */
		memcpy(want, inner, ilen);
		memcpy(want, pods[DEV_A].mac, ETH_ALEN);
		memcpy(want + ETH_ALEN, pods[DEV_A].host_mac, ETH_ALEN);
		expect(FROM_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, ilen, false }, NULL,
		       NULL);
	}
	{
		/* A's answer: a reply, back over the IPv6 underlay to n6. */
		FROM_A(A6, R6U, IPPROTO_TCP);
		uint8_t rin[FRAME_MAX];

		f.sport = 80;
		f.dport = 43100;
		f.flags = TH_SYN | TH_ACK;
		len = frame(&f, rin);
		memcpy(inner, rin, len);
		routed(inner);
		wlen = wrap_ul6(inner, len, NODE6, N6, flow_hash(A6, 80, R6U, 43100, IPPROTO_TCP),
				VNI, 0, false, want);
		expect(FROM_POD, DEV_A, rin, len,
		       &(struct want){ TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen, false }, NULL,
		       NULL);
	}
	{
		/* IPv4 inside: the outer Ethernet type becomes IPv4 again. */
		struct fr f = { .src = R4U, .dst = IP_A, .proto = IPPROTO_TCP, .sport = 43101,
				.dport = 80, .flags = TH_SYN };

		len = from_n6(&f, N6, 0, false, VNI, in, inner, &ilen);
		memcpy(want, inner, ilen);
		memcpy(want, pods[DEV_A].mac, ETH_ALEN);
		memcpy(want + ETH_ALEN, pods[DEV_A].host_mac, ETH_ALEN);
		expect(FROM_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, ilen, false }, NULL,
		       NULL);
	}
	{
		/* With Services in BPF (from_overlay4_ul6's lb branch): the same. */
		struct fr f = { .src = R4U, .dst = IP_A, .proto = IPPROTO_TCP, .sport = 43102,
				.dport = 80, .flags = TH_SYN };

		len = from_n6(&f, N6, 2, false, VNI, in, inner, &ilen);
		memcpy(want, inner, ilen);
		memcpy(want, pods[DEV_A].mac, ETH_ALEN);
		memcpy(want + ETH_ALEN, pods[DEV_A].host_mac, ETH_ALEN);
		expect(FROM_OVERLAY_LB, DEV_U, in, len,
		       &(struct want){ TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, ilen, false }, NULL,
		       NULL);
	}
	{
		/* n6's pod to this node's own IPv6: decapsulated for the stack (the
		 * outer Ethernet header stays). */
		struct fr f = { .src = R6U, .dst = SELF6, .proto = IPPROTO_UDP, .sport = 43103,
				.dport = 53 };

		len = from_n6(&f, N6, 0, false, VNI, in, inner, &ilen);
		memcpy(want, inner, ilen);
		memcpy(want, in, 12);
		expect(FROM_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_OK, XCNI_FWD_DECAP_HOST, want, ilen, false }, NULL,
		       NULL);
	}
	tunstat6(N6, &tx2, &rx2);
	assert_int_equal(rx2, rx + 4);
	assert_int_equal(tx2, tx + 1);
}

/* Who may send what over the IPv6 underlay, and what is not Geneve for this node. */
static void v6ul_refused(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX];
	size_t len, ilen;

	(void)state;
	{
		/* n7 is a node, but R6U is n6's: n7 may not claim it. */
		struct fr f = { .src = R6U, .dst = A6, .proto = IPPROTO_UDP, .sport = 44100,
				.dport = 53 };

		len = from_n6(&f, N7, 0, false, VNI, in, inner, &ilen);
		expect(FROM_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0, false }, NULL,
		       NULL);
	}
	{
		/* Nor its IPv4. */
		struct fr f = { .src = R4U, .dst = IP_A, .proto = IPPROTO_UDP, .sport = 44101,
				.dport = 53 };

		len = from_n6(&f, N7, 0, false, VNI, in, inner, &ilen);
		expect(FROM_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0, false }, NULL,
		       NULL);
	}
	{
		/* A pod of the IPv4-underlay node n2 (tunnel_ip N2), over IPv6 from n6. */
		struct fr f = { .src = IP_R, .dst = IP_A, .proto = IPPROTO_UDP, .sport = 44102,
				.dport = 53 };

		len = from_n6(&f, N6, 0, false, VNI, in, inner, &ilen);
		expect(FROM_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0, false }, NULL,
		       NULL);
	}
	{
		/* An outer source that is no node: refused, untouched. */
		struct fr f = { .src = R6U, .dst = A6, .proto = IPPROTO_UDP, .sport = 44103,
				.dport = 53 };

		len = from_n6(&f, NX, 0, false, VNI, in, inner, &ilen);
		expect(FROM_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_SHOT, XCNI_DROP_UNKNOWN_NODE, in, len, false }, NULL,
		       NULL);
	}
	{
		/* Another VNI. */
		struct fr f = { .src = R6U, .dst = A6, .proto = IPPROTO_UDP, .sport = 44104,
				.dport = 53 };

		len = from_n6(&f, N6, 0, false, VNI + 1, in, inner, &ilen);
		expect(FROM_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, in, len, false }, NULL,
		       NULL);
	}
	{
		/* A critical option (DSR's kind): not understood over this underlay. */
		struct fr f = { .src = R6U, .dst = A6, .proto = IPPROTO_UDP, .sport = 44105,
				.dport = 53 };

		len = from_n6(&f, N6, 2, true, VNI, in, inner, &ilen);
		expect(FROM_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, in, len, false }, NULL,
		       NULL);
	}
	{
		/* Geneve for another address, and plain UDP to this one: not ours. */
		struct fr f = { .src = R6U, .dst = A6, .proto = IPPROTO_UDP, .sport = 44106,
				.dport = 53 };

		len = from_n6(&f, N6, 0, false, VNI, in, inner, &ilen);
		in6(N7, in + ETH_HLEN + 24);
		expect(FROM_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_OK, 0, in, len, true }, NULL, NULL);
		in6(NODE6, in + ETH_HLEN + 24);
		in[ETH_HLEN + 40 + 3] = 53;
		expect(FROM_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_OK, 0, in, len, true }, NULL, NULL);
	}
	{
		/* A node of the IPv4 underlay (the harness's from_overlay) takes no
		 * Geneve over IPv6: it passes, untouched, as before ABI 9. */
		struct fr f = { .src = R6U, .dst = A6, .proto = IPPROTO_UDP, .sport = 44107,
				.dport = 53 };

		len = from_n6(&f, N6, 0, false, VNI, in, inner, &ilen);
		expect(FROM_OVERLAY_DSR, DEV_U, in, len,
		       &(struct want){ TC_ACT_OK, 0, in, len, true }, NULL, NULL);
	}
}

/* The host's traffic to n6's pods, routed to xcni0: wrapped as it is. */
static void v6ul_to_overlay(void **state)
{
	static const uint8_t xmac[ETH_ALEN] = { 2, 0, 0, 0, 0x0e, 0x0e };
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	size_t len, wlen;

	(void)state;
	{
		struct fr f = { .dmac = xmac, .smac = xmac, .src = SELF6, .dst = R6U,
				.proto = IPPROTO_TCP, .sport = 46100, .dport = 80, .flags = TH_SYN };

		len = frame(&f, in);
		wlen = wrap_ul6(in, len, NODE6, N6, flow_hash(SELF6, 46100, R6U, 80, IPPROTO_TCP),
				VNI, 0, false, want);
		expect(TO_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen, false }, NULL,
		       NULL);
	}
	{
		struct fr f = { .dmac = xmac, .smac = xmac, .src = "192.168.77.1", .dst = R4U,
				.proto = IPPROTO_UDP, .sport = 46101, .dport = 53 };

		len = frame(&f, in);
		wlen = wrap_ul6(in, len, NODE6, N6,
				flow_hash("192.168.77.1", 46101, R4U, 53, IPPROTO_UDP), VNI, 0, false,
				want);
		expect(TO_OVERLAY, DEV_U, in, len,
		       &(struct want){ TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen, false }, NULL,
		       NULL);
	}
}

static const struct CMUnitTest v6ul_tests[] = {
	cmocka_unit_test(v6ul_setup),	   cmocka_unit_test(v6ul_encap),
	cmocka_unit_test(v6ul_not_encap),  cmocka_unit_test(v6ul_decap),
	cmocka_unit_test(v6ul_refused),	   cmocka_unit_test(v6ul_to_overlay),
	cmocka_unit_test(v6ul_teardown),
};
const struct group underlay6_group = { "underlay6", TESTS(v6ul_tests), .prep = v6ovl_state };

/* wrap_ul6 and flow_hash for tests/bpf/lb6_v6ul.c (harness.h). */
size_t geneve_wrap_ul6(const uint8_t *inner, size_t inner_len, const char *src, const char *dst,
		       uint32_t hash, uint32_t vni, uint8_t *out)
{
	return wrap_ul6(inner, inner_len, src, dst, hash, vni, 0, false, out);
}

uint32_t geneve_hash6(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	return flow_hash(s, sp, d, dp, proto);
}
