// SPDX-License-Identifier: Apache-2.0
/*
 * The overlay over the IPv4 underlay, both inner families: from_pod and
 * to_overlay encapsulating to node n2, from_overlay taking n2's packets
 * apart, policy judged on both sides. IPv4 inside: rows, run in order.
 * IPv6 inside (from_pod6's encapsulation, from_overlay6's decapsulation,
 * to_overlay6), on the pods' IPv6 addresses (parse.c's v6_setup): every
 * expected frame written out here byte by byte, the flow hash computed from
 * its definition (bpf/lib/encap.h), the encapsulated frame read back by
 * tshark. The IPv6 underlay: underlay6.c.
 *
 *   R    10.99.6.5    a pod on n2 (identity ID_R), tunnel N2
 *   GONE 10.99.7.9    a pod whose node is gone (no tunnel)
 *   R6   fd00:98::5   a pod on n2 (identity ID_R), tunnel N2
 *   R6B  fd00:98::6   another pod on n2 (identity ID_R6B), tunnel N2
 *   GONE fd00:97::9   a pod whose node is gone (no tunnel)
 *   N2_6 fc00:77::2   n2's IPv6 InternalIP: remote node, tunnel N2
 *   SELF fc00:77::1   this node's IPv6 InternalIP: host
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/pkt_cls.h>

#include "harness.h"

int overlay_setup(void)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(IP_R) };
	struct xcni_ipcache_val v = { .identity = ID_R, .tunnel_ip = ip4(N2), .flags = XCNI_IPC_POD };
	struct xcni_tunnel t = { .pod_cidr = ip4("10.99.6.0"), .pod_cidr_len = 24, .node = "n2" };
	struct xcni_tunstat zero[libbpf_num_possible_cpus()];
	uint32_t n2 = ip4(N2);
	int fd = map_fd("xcni_ipcache");

	memset(zero, 0, sizeof(zero));
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	k.addr = ip4(N2);
	v = (struct xcni_ipcache_val){ .identity = XCNI_ID_REMOTE_NODE, .tunnel_ip = ip4(N2) };
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	k.addr = ip4(IP_GONE);
	v = (struct xcni_ipcache_val){ .identity = ID_R + 1, .flags = XCNI_IPC_POD };
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	if (bpf_map_update_elem(map_fd("xcni_tunnel"), &n2, &t, BPF_ANY) ||
	    bpf_map_update_elem(map_fd("xcni_tunstat"), &n2, zero, BPF_ANY))
		return -errno;
	return 0;
}

static const struct row encap_rows[] = {
	/* The overlay. Expected output bytes are built from the input: outer IPv4,
	 * UDP (source port the flow hash, checksum 0), Geneve, inner Ethernet. */
	{ "overlay: node n2 hosts R; a pod whose node is gone", .step = overlay_setup },
	{ "A->R SYN: encapsulated to n2", .prog = FROM_POD_OV, .dev = DEV_A,
	  TCP(IP_A, 42000, IP_R, 80, TH_SYN), REDIR(FWD_ENCAP), .node = N2, .ct = XCNI_CT_NEW },
	{ "A->R UDP: encapsulated", .prog = FROM_POD_OV, .dev = DEV_A, UDP(IP_A, 42001, IP_R, 53),
	  REDIR(FWD_ENCAP), .node = N2, .ct = XCNI_CT_NEW },
	{ "A->R echo: encapsulated", .prog = FROM_POD_OV, .dev = DEV_A,
	  ICMP(IP_A, IP_R, ICMP_ECHO, 77), REDIR(FWD_ENCAP), .node = N2, .ct = XCNI_CT_NEW },
	{ "A->n2 UDP 6081: a pod may not inject Geneve", .prog = FROM_POD_OV, .dev = DEV_A,
	  UDP(IP_A, 42002, N2, XCNI_GENEVE_PORT), SHOT(DROP_GENEVE_INJECT, EV_FULL) },
	{ "A->pod of a node that is gone: dropped, not black-holed", .prog = FROM_POD_OV,
	  .dev = DEV_A, UDP(IP_A, 42003, IP_GONE, 53), SHOT(DROP_NO_TUNNEL, EV_FULL) },
	{ "R->A SYN-ACK from n2: the reply, decapsulated into A", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, TCP(IP_R, 80, IP_A, 42000, TH_SYN | TH_ACK), REDIR(FWD_DECAP),
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	{ "R->A SYN from n2: a new flow, tracked here too", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, TCP(IP_R, 43000, IP_A, 8080, TH_SYN), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW },
	{ "A->R SYN-ACK: the reply goes back encapsulated", .prog = FROM_POD_OV, .dev = DEV_A,
	  TCP(IP_A, 8080, IP_R, 43000, TH_SYN | TH_ACK), REDIR(FWD_ENCAP), .node = N2,
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	{ "R->A from an unknown node", .prog = FROM_OVERLAY, .dev = DEV_U, .node = "192.168.77.9",
	  TCP(IP_R, 43001, IP_A, 80, TH_SYN), SHOT(DROP_UNKNOWN_NODE, EV_OUTER), .no_ct = true },
	{ "B's address inside n2's Geneve: not n2's to claim", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, TCP(IP_B, 43002, IP_A, 80, TH_SYN), SHOT(DROP_INNER_SPOOF, EV_FULL),
	  .no_ct = true },
	{ "Geneve with 8 bytes of options: skipped", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  .optwords = 2, UDP(IP_R, 43003, IP_A, 53), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW },
	{ "Geneve with another VNI", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, .vni = 7,
	  UDP(IP_R, 43004, IP_A, 53), SHOT(DROP_BAD_GENEVE, EV_OUTER) },
	{ "truncated Geneve header", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  UDP(IP_R, 43005, IP_A, 53), .cut = ETH_HLEN + 20 + 8 + 4, SHOT(DROP_BAD_GENEVE, EV_OUTER) },
	{ "Geneve for this node: decapsulated to its stack", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, UDP(IP_R, 43006, NODE_IP, 53), OK(FWD_DECAP_HOST) },
	{ "plain UDP on the underlay: not ours, untouched", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .plain = true, UDP(N2, 5000, NODE_IP, 53), .ret = TC_ACT_OK, .uncounted = true },
	{ "policy: A admits R on TCP 80 only (12/0)", .step = policy_a_from_r },
	{ "R->A TCP 80 from n2: allowed by 12/0", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  TCP(IP_R, 43007, IP_A, 80, TH_SYN), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW,
	  BY(12, 0, TO_POD) },
	{ "R->A UDP from n2: ingress policy, source identity from the ipcache", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, UDP(IP_R, 43008, IP_A, 54), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "policy: A's version 1 again: only C on TCP 80 (11/0)", .step = policy_a_v1_again },
	{ "R->A ACK from n2 on 43007: judged again, refused, forgotten", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, TCP(IP_R, 43007, IP_A, 80, TH_ACK),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "policy: A no longer isolated", .step = policy_a_off },
	{ "host->R via the overlay device: encapsulated", .prog = TO_OVERLAY, .dev = DEV_X,
	  TCP(NODE_IP, 44000, IP_R, 80, TH_SYN), REDIR(FWD_ENCAP), .node = N2 },
	{ "host->address no node hosts via the overlay device", .prog = TO_OVERLAY, .dev = DEV_X,
	  TCP(NODE_IP, 44001, "10.99.9.9", 80, TH_SYN), SHOT(DROP_NO_TUNNEL, EV_FULL) },
	{ "A->R via the overlay device (a Service DNATed to R): tracked as the stack's",
	  .prog = TO_OVERLAY, .dev = DEV_X, TCP(IP_A, 44002, IP_R, 80, TH_SYN), REDIR(FWD_ENCAP),
	  .node = N2, .ct = XCNI_CT_NEW, .ct_stack = true, EP_OF(DEV_A), VIA_STACK },
	{ "R->A SYN-ACK from n2: reply of the stack's flow, decapsulated to the stack",
	  .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  TCP(IP_R, 80, IP_A, 44002, TH_SYN | TH_ACK), OK(FWD_DECAP_HOST),
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true, .ct_stack = true },
	{ "B->R via the overlay device: B's egress (only A on TCP 80) is judged there",
	  .prog = TO_OVERLAY, .dev = DEV_X, UDP(IP_B, 44003, IP_R, 53),
	  POLICY_DROP(DROP_POLICY_EGRESS), EP_OF(DEV_B), VIA_STACK },
	{ "policy: A's egress allows nothing", .step = policy_a_egress_nothing },
	{ "A->R ACK via the overlay device on 44002: judged again, refused, forgotten",
	  .prog = TO_OVERLAY, .dev = DEV_X, TCP(IP_A, 44002, IP_R, 80, TH_ACK),
	  POLICY_DROP(DROP_POLICY_EGRESS), EP_OF(DEV_A), VIA_STACK },
	{ "policy: A not isolated again", .step = policy_a_off },
};

#define A6 "fd00:99::a"
#define B6 "fd00:99::b"
#define R6 "fd00:98::5"
#define R6B "fd00:98::6"
#define GONE6 "fd00:97::9"
#define N2_6 "fc00:77::2"
#define SELF6 "fc00:77::1"
#define WORLD6 "2001:db8::53"
#define ID_R6B 2006
#define N3 "192.168.77.99" /* no node */
#define OV_HDRS (20 + 8 + 8 + ETH_HLEN) /* outer IPv4, UDP, Geneve, inner Ethernet */

static void in6(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

/* An Ethernet + IPv6 frame with a TCP, UDP or ICMPv6 echo header; tc: the traffic class. */
struct f6 {
	const uint8_t *dmac, *smac;
	const char *src, *dst;
	uint8_t proto, hop, tc, flags;
	uint16_t sport, dport;
};

static size_t frame6(const struct f6 *f, uint8_t *buf)
{
	size_t l4 = f->proto == IPPROTO_TCP ? 20 : 8;
	uint8_t *ip = buf + ETH_HLEN, *t = ip + 40;

	memset(buf, 0, FRAME_MAX);
	memcpy(buf, f->dmac, ETH_ALEN);
	memcpy(buf + ETH_ALEN, f->smac, ETH_ALEN);
	buf[12] = 0x86;
	buf[13] = 0xdd;
	ip[0] = 0x60 | f->tc >> 4;
	ip[1] = (uint8_t)(f->tc << 4) | 0x1; /* flow label 0x12345 */
	ip[2] = 0x23;
	ip[3] = 0x45;
	ip[5] = (uint8_t)l4;
	ip[6] = f->proto;
	ip[7] = f->hop ? f->hop : 64;
	in6(f->src, ip + 8);
	in6(f->dst, ip + 24);
	if (f->proto == 58) {
		t[0] = 128; /* echo request, id sport */
		t[4] = f->sport >> 8;
		t[5] = f->sport & 0xff;
	} else {
		t[0] = f->sport >> 8;
		t[1] = f->sport & 0xff;
		t[2] = f->dport >> 8;
		t[3] = f->dport & 0xff;
		if (f->proto == IPPROTO_TCP) {
			t[12] = 5 << 4;
			t[13] = f->flags;
		} else {
			t[5] = 8;
		}
	}
	return ETH_HLEN + 40 + l4;
}

/* bpf/lib/encap.h's flow_sport6, from its definition: addresses folded by xor. */
uint16_t geneve_sport6(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	uint32_t a[4], b[4];
	struct xcni_ct_key k = { .sport = htons(sp), .dport = htons(dp), .proto = proto };

	in6(s, (uint8_t *)a);
	in6(d, (uint8_t *)b);
	k.saddr = a[0] ^ a[1] ^ a[2] ^ a[3];
	k.daddr = b[0] ^ b[1] ^ b[2] ^ b[3];
	return flow_sport(&k);
}

/*
 * Geneve around an inner Ethernet + IPv6 frame, as RFC 8926 and the node
 * send it: outer Ethernet (the inner's MACs, type IPv4), IPv4 (TOS = the
 * inner traffic class, DF, TTL 64, UDP, checksum), UDP (source port sport,
 * 6081, length, checksum 0), Geneve (no options, protocol 0x6558, vni),
 * the inner frame. Returns the length.
 */
size_t geneve_wrap6(const uint8_t *inner, size_t inner_len, const char *src, const char *dst,
		    uint16_t sport, uint32_t vni, uint8_t *out)
{
	uint8_t *ip = out + ETH_HLEN, *udp = ip + 20, *g = udp + 8;
	size_t l3 = inner_len - ETH_HLEN; /* the inner IPv6 packet */
	uint16_t v;
	uint32_t a;

	memset(out, 0, FRAME_MAX);
	memcpy(out, inner, 12);
	out[12] = 0x08;
	out[13] = 0x00;
	ip[0] = 0x45;
	ip[1] = (uint8_t)(inner[14] << 4 | inner[15] >> 4);
	v = htons((uint16_t)(l3 + 50));
	memcpy(ip + 2, &v, 2);
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	a = ip4(src);
	memcpy(ip + 12, &a, 4);
	a = ip4(dst);
	memcpy(ip + 16, &a, 4);
	v = csum(ip, 20);
	memcpy(ip + 10, &v, 2);
	v = htons(sport);
	memcpy(udp, &v, 2);
	v = htons(XCNI_GENEVE_PORT);
	memcpy(udp + 2, &v, 2);
	v = htons((uint16_t)(l3 + 50 - 20));
	memcpy(udp + 4, &v, 2);
	g[2] = 0x65;
	g[3] = 0x58;
	a = htonl(vni << 8);
	memcpy(g + 4, &a, 4);
	memcpy(g + 8, inner, inner_len);
	return ETH_HLEN + 36 + inner_len;
}

struct want6 {
	int ret, reason, dir;
	const uint8_t *out; /* NULL: the output is not checked */
	size_t out_len;
	int nev; /* events the run must emit */
};

static struct xcni_event6 last6;
static int nev6;

/* Runs in through prog; the verdict, the one counter it bumps, the output, the events. */
static void expect6(int prog, int dev, uint8_t *in, size_t len, const struct want6 *w,
		    uint8_t *outp, size_t *outlen)
{
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	uint8_t out[FRAME_MAX];
	struct bpf_test_run_opts o = {};
	__u32 idx = XCNI_METRIC_IDX(w->reason, w->dir);
	int ev0 = env.nev;

	assert_int_equal(read_metrics(before), 0);
	assert_int_equal(run(prog, dev, in, len, out, sizeof(out), 0, &o), 0);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(read_metrics(after), 0);
	for (__u32 i = 0; i < XCNI_NR_METRICS; i++)
		if (after[i].packets - before[i].packets != (i == idx))
			fail_msg("%s/%s counted %llu, want %s/%s (verdict %d)",
				 reason_name(i / XCNI_NR_DIRS), dir_name(i % XCNI_NR_DIRS),
				 (unsigned long long)(after[i].packets - before[i].packets),
				 reason_name(XCNI_REASON_IDX(w->reason)), dir_name(w->dir),
				 o.retval);
	assert_int_equal(after[idx].bytes - before[idx].bytes, len);
	assert_int_equal((int)o.retval, w->ret);
	if (w->out) {
		assert_int_equal(o.data_size_out, w->out_len);
		for (size_t i = 0; i < w->out_len; i++)
			if (out[i] != w->out[i])
				fail_msg("output differs first at byte %zu: 0x%02x, want 0x%02x", i,
					 out[i], w->out[i]);
	}
	assert_int_equal(env.nev - ev0, w->nev);
	if (outp) {
		memcpy(outp, out, o.data_size_out);
		*outlen = o.data_size_out;
	}
}

static void ipc6(const char *a, uint32_t id, const char *tunnel, uint32_t flags)
{
	struct xcni_ipcache6_key k = { .prefixlen = 128 };
	struct xcni_ipcache_val v = { .identity = id, .tunnel_ip = tunnel ? ip4(tunnel) : 0,
				      .flags = flags };

	in6(a, k.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &k, &v, BPF_ANY), 0);
}

static int ct6_has(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	struct xcni_ct6_key k = { .sport = htons(sp), .dport = htons(dp), .proto = proto };
	struct xcni_ct_entry e;

	in6(s, k.saddr);
	in6(d, k.daddr);
	return bpf_map_lookup_elem(map_fd("xcni_ct6"), &k, &e) == 0;
}

static uint64_t tun_tx(void)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat s[ncpu];
	uint32_t n2 = ip4(N2);
	uint64_t tx = 0;

	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_tunstat"), &n2, s), 0);
	for (int i = 0; i < ncpu; i++)
		tx += s[i].tx_packets;
	return tx;
}

/* n2's IPv6 pods and addresses, this node's (the pods' own: v6_setup). */
static void v6ovl_setup(void **state)
{
	(void)state;
	ipc6(R6, ID_R, N2, XCNI_IPC_POD);
	ipc6(R6B, ID_R6B, N2, XCNI_IPC_POD);
	ipc6(GONE6, ID_R + 7, NULL, XCNI_IPC_POD);
	ipc6(N2_6, XCNI_ID_REMOTE_NODE, N2, 0);
	ipc6(SELF6, XCNI_ID_HOST, NULL, 0);
	assert_int_equal(polrev_bump(), 0);
}

#define FROM_A(s, d, p) \
	struct f6 f = { .dmac = pods[DEV_A].host_mac, .smac = pods[DEV_A].mac, .src = s, \
			.dst = d, .proto = p }

/* A frame as it leaves a pod of n2 and arrives here in Geneve (MACs: n2's pod link). */
static size_t from_n2(struct f6 *f, const char *outer_src, uint8_t *in, uint8_t *inner,
		      size_t *inner_len)
{
	static const uint8_t n2_host[ETH_ALEN] = { 2, 0, 0, 0, 0x22, 1 },
			     n2_pod[ETH_ALEN] = { 2, 0, 0, 0, 0x22, 2 };

	f->dmac = n2_host;
	f->smac = n2_pod;
	*inner_len = frame6(f, inner);
	return geneve_wrap6(inner, *inner_len, outer_src, NODE_IP,
		     geneve_sport6(f->src, f->sport, f->dst, f->dport, f->proto), VNI, in);
}

/* Encapsulation: every outer byte, the port hash, the hop limit, the counter, tshark. */
static void v6ovl_encap(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX], out[FRAME_MAX];
	char path[] = "/tmp/xcni-v6ovl-XXXXXX", cmd[512], got[512] = "";
	size_t len, wlen, olen;
	uint64_t tx = tun_tx();
	FILE *p;
	int fd;

	(void)state;
	FROM_A(A6, R6, IPPROTO_UDP);
	f.sport = 40000;
	f.dport = 53;
	f.tc = 0xb8; /* DSCP EF: carried to the outer TOS */
	len = frame6(&f, in);
	memcpy(inner, in, len);
	inner[ETH_HLEN + 7]--; /* routed: hop limit 63 */
	wlen = geneve_wrap6(inner, len, NODE_IP, N2, geneve_sport6(A6, 40000, R6, 53, IPPROTO_UDP), VNI, want);
	expect6(FROM_POD_OV, DEV_A, in, len,
		&(struct want6){ TC_ACT_REDIRECT, XCNI_FWD_ENCAP, XCNI_DIR_FROM_POD, want, wlen, 0 },
		out, &olen);
	assert_int_equal(tun_tx(), tx + 1);
	assert_true(ct6_has(A6, 40000, R6, 53, IPPROTO_UDP));

	/* What tshark makes of it: Geneve on 6081, IPv6 inside. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	{
		uint8_t *frames[1] = { out };
		struct {
			uint32_t magic;
			uint16_t major, minor;
			int32_t zone;
			uint32_t sigfigs, snaplen, linktype;
		} gh = { 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1 };
		uint32_t rh[4] = { 1, 0, (uint32_t)olen, (uint32_t)olen };
		FILE *fp = fopen(path, "wb");

		assert_non_null(fp);
		assert_int_equal(fwrite(&gh, sizeof(gh), 1, fp), 1);
		assert_int_equal(fwrite(rh, sizeof(rh), 1, fp), 1);
		assert_int_equal(fwrite(frames[0], olen, 1, fp), 1);
		assert_int_equal(fclose(fp), 0);
	}
	snprintf(cmd, sizeof(cmd),
		 "tshark -n -r %s -T fields -E separator=' ' -e ip.src -e ip.dst -e ip.dsfield "
		 "-e ip.checksum.status -e udp.srcport -e udp.dstport -e geneve.vni "
		 "-e geneve.proto_type -e ipv6.src -e ipv6.dst -e ipv6.hlim "
		 "-o ip.check_checksum:TRUE 2>/dev/null",
		 path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(got, sizeof(got), p));
	assert_int_equal(pclose(p), 0);
	unlink(path);
	/* Outer, then inner UDP ports; checksum status 1: good. */
	snprintf(cmd, sizeof(cmd), "%s %s 0xb8 1 %u,40000 6081,53 0x00002a 0x6558 %s %s 63\n",
		 NODE_IP, N2, geneve_sport6(A6, 40000, R6, 53, IPPROTO_UDP), A6, R6);
	if (strcmp(got, cmd))
		fail_msg("tshark: %swant:   %s", got, cmd);
}

/*
 * A pod's packet refused for where it goes leaves the conntrack entry its
 * tuple names as it was: dropped before ct6_track, which would count it and
 * keep the flow alive (from_pod4's order). pkts_orig and last_ns as put.
 */
static void ct6_untouched_by(const char *d, uint16_t dp, int reason)
{
	struct xcni_ct6_key k = { .sport = htons(40009), .dport = htons(dp),
				  .proto = IPPROTO_UDP };
	struct xcni_ct_entry e = { .pkts_orig = 7, .state = XCNI_CT_ESTABLISHED }, got;
	uint8_t in[FRAME_MAX];
	struct timespec ts;
	size_t len;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	e.created_ns = e.last_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec - 1000;
	in6(A6, k.saddr);
	in6(d, k.daddr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ct6"), &k, &e, BPF_ANY), 0);
	FROM_A(A6, d, IPPROTO_UDP);
	f.sport = 40009;
	f.dport = dp;
	len = frame6(&f, in);
	expect6(FROM_POD_OV, DEV_A, in, len,
		&(struct want6){ TC_ACT_SHOT, reason, XCNI_DIR_FROM_POD, NULL, 0, 1 }, NULL, NULL);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_ct6"), &k, &got), 0);
	assert_int_equal(got.pkts_orig, 7);
	assert_int_equal(got.last_ns, e.last_ns);
	assert_int_equal(bpf_map_delete_elem(map_fd("xcni_ct6"), &k), 0);
}

/* The paths that do not encapsulate. */
static void v6ovl_not_encap(void **state)
{
	uint8_t in[FRAME_MAX];
	size_t len;

	(void)state;
	{
		/* Hop limit 1: the stack answers time exceeded. */
		FROM_A(A6, R6, IPPROTO_UDP);
		f.sport = 40001;
		f.dport = 53;
		f.hop = 1;
		len = frame6(&f, in);
		expect6(FROM_POD_OV, DEV_A, in, len,
			&(struct want6){ TC_ACT_OK, XCNI_FWD_STACK, XCNI_DIR_FROM_POD, in, len, 0 },
			NULL, NULL);
	}
	{
		/* A pod whose node is gone: not sent into the void. */
		FROM_A(A6, GONE6, IPPROTO_UDP);
		f.sport = 40002;
		f.dport = 53;
		len = frame6(&f, in);
		expect6(FROM_POD_OV, DEV_A, in, len,
			&(struct want6){ TC_ACT_SHOT, XCNI_DROP_NO_TUNNEL, XCNI_DIR_FROM_POD, NULL,
					 0, 1 },
			NULL, NULL);
		assert_false(ct6_has(A6, 40002, GONE6, 53, IPPROTO_UDP));
	}
	{
		/* Geneve from a pod to a node's IPv6 would inject into the overlay. */
		FROM_A(A6, N2_6, IPPROTO_UDP);
		f.sport = 40003;
		f.dport = XCNI_GENEVE_PORT;
		len = frame6(&f, in);
		expect6(FROM_POD_OV, DEV_A, in, len,
			&(struct want6){ TC_ACT_SHOT, XCNI_DROP_GENEVE_INJECT, XCNI_DIR_FROM_POD,
					 NULL, 0, 1 },
			NULL, NULL);
	}
	/* Neither touches the flow its tuple names. */
	ct6_untouched_by(GONE6, 53, XCNI_DROP_NO_TUNNEL);
	ct6_untouched_by(N2_6, XCNI_GENEVE_PORT, XCNI_DROP_GENEVE_INJECT);
	{
		/* 1500 bytes of IPv6 do not fit the underlay's 1500 once wrapped: to
		 * the stack untouched, which routes it to xcni0 (MTU - 50) and answers
		 * Packet Too Big. */
		static uint8_t big[ETH_HLEN + 1500], bout[ETH_HLEN + 1600];
		struct bpf_test_run_opts o = {};
		struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
		__u32 idx = XCNI_METRIC_IDX(XCNI_FWD_TOO_BIG, XCNI_DIR_FROM_POD);
		FROM_A(A6, R6, IPPROTO_UDP);

		f.sport = 40005;
		f.dport = 53;
		frame6(&f, in);
		memcpy(big, in, ETH_HLEN + 48);
		big[ETH_HLEN + 4] = (1500 - 40) >> 8; /* payload length 1460 */
		big[ETH_HLEN + 5] = (1500 - 40) & 0xff;
		big[ETH_HLEN + 40 + 4] = (1500 - 40) >> 8; /* UDP length */
		big[ETH_HLEN + 40 + 5] = (1500 - 40) & 0xff;
		assert_int_equal(read_metrics(before), 0);
		assert_int_equal(run(FROM_POD_OV, DEV_A, big, sizeof(big), bout, sizeof(bout), 0, &o),
				 0);
		assert_true(ring_buffer__consume(env.rb) >= 0);
		assert_int_equal(read_metrics(after), 0);
		assert_int_equal(o.retval, TC_ACT_OK);
		assert_int_equal(after[idx].packets - before[idx].packets, 1);
		assert_int_equal(o.data_size_out, sizeof(big));
		assert_memory_equal(bout, big, sizeof(big));
	}
	{
		/* Another node's IPv6 address, another port: through the overlay
		 * too, as IPv4's, so its replies to a flow it opened to the pod (an
		 * IPv6 NodePort it SNATed) go back the way it came. */
		uint8_t inner[FRAME_MAX], want[FRAME_MAX];
		size_t wlen;
		FROM_A(A6, N2_6, IPPROTO_TCP);

		f.sport = 40004;
		f.dport = 22;
		f.flags = TH_SYN;
		len = frame6(&f, in);
		memcpy(inner, in, len);
		inner[ETH_HLEN + 7]--; /* routed: hop limit 63 */
		wlen = geneve_wrap6(inner, len, NODE_IP, N2, geneve_sport6(A6, 40004, N2_6, 22, IPPROTO_TCP), VNI,
			     want);
		expect6(FROM_POD_OV, DEV_A, in, len,
			&(struct want6){ TC_ACT_REDIRECT, XCNI_FWD_ENCAP, XCNI_DIR_FROM_POD, want, wlen,
					 0 },
			NULL, NULL);
	}
}

/* Decapsulation and delivery, the reply encapsulated back; the node itself. */
static void v6ovl_decap(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	size_t len, ilen;

	(void)state;
	{
		struct f6 f = { .src = R6, .dst = A6, .proto = IPPROTO_TCP, .sport = 43000,
				.dport = 80, .flags = TH_SYN };

		len = from_n2(&f, N2, in, inner, &ilen);
		/* The inner frame, on A's link: A's MACs, type IPv6, hop limit as sent. */
		memcpy(want, inner, ilen);
		memcpy(want, pods[DEV_A].mac, ETH_ALEN);
		memcpy(want + ETH_ALEN, pods[DEV_A].host_mac, ETH_ALEN);
		expect6(FROM_OVERLAY, DEV_U, in, len,
			&(struct want6){ TC_ACT_REDIRECT, XCNI_FWD_DECAP, XCNI_DIR_FROM_OVERLAY,
					 want, ilen, 0 },
			NULL, NULL);
		assert_true(ct6_has(R6, 43000, A6, 80, IPPROTO_TCP));
	}
	{
		/* A's answer: a reply, back in Geneve to n2. */
		FROM_A(A6, R6, IPPROTO_TCP);
		f.sport = 80;
		f.dport = 43000;
		f.flags = TH_SYN | TH_ACK;
		len = frame6(&f, in);
		memcpy(inner, in, len);
		inner[ETH_HLEN + 7]--;
		ilen = geneve_wrap6(inner, len, NODE_IP, N2, geneve_sport6(A6, 80, R6, 43000, IPPROTO_TCP), VNI,
			     want);
		expect6(FROM_POD_OV, DEV_A, in, len,
			&(struct want6){ TC_ACT_REDIRECT, XCNI_FWD_ENCAP, XCNI_DIR_FROM_POD, want,
					 ilen, 0 },
			NULL, NULL);
	}
	{
		/* ICMPv6 echo to the node itself: decapsulated for its stack. */
		struct f6 f = { .src = R6, .dst = SELF6, .proto = 58, .sport = 7 };

		len = from_n2(&f, N2, in, inner, &ilen);
		memcpy(want, inner, ilen);
		memcpy(want, in, 12); /* the outer Ethernet stays, as for IPv4 */
		expect6(FROM_OVERLAY, DEV_U, in, len,
			&(struct want6){ TC_ACT_OK, XCNI_FWD_DECAP_HOST, XCNI_DIR_FROM_OVERLAY, want,
					 ilen, 0 },
			NULL, NULL);
	}
	{
		/* n2 itself (its IPv6 InternalIP) speaks for itself. */
		struct f6 f = { .src = N2_6, .dst = A6, .proto = IPPROTO_UDP, .sport = 43001,
				.dport = 53 };

		len = from_n2(&f, N2, in, inner, &ilen);
		expect6(FROM_OVERLAY, DEV_U, in, len,
			&(struct want6){ TC_ACT_REDIRECT, XCNI_FWD_DECAP, XCNI_DIR_FROM_OVERLAY,
					 NULL, 0, 0 },
			NULL, NULL);
	}
}

/* Who may send what: the inner source must be the outer node's; the node must be known. */
static void v6ovl_spoof(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX];
	size_t len, ilen;

	(void)state;
	{
		/* B is a pod of this node: n2 may not claim it. */
		struct f6 f = { .src = B6, .dst = A6, .proto = IPPROTO_UDP, .sport = 44000,
				.dport = 53 };

		len = from_n2(&f, N2, in, inner, &ilen);
		expect6(FROM_OVERLAY, DEV_U, in, len,
			&(struct want6){ TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, XCNI_DIR_FROM_OVERLAY,
					 NULL, 0, 1 },
			NULL, NULL);
		assert_false(ct6_has(B6, 44000, A6, 53, IPPROTO_UDP));
	}
	{
		/* An address no node owns. */
		struct f6 f = { .src = WORLD6, .dst = A6, .proto = IPPROTO_UDP, .sport = 44001,
				.dport = 53 };

		len = from_n2(&f, N2, in, inner, &ilen);
		expect6(FROM_OVERLAY, DEV_U, in, len,
			&(struct want6){ TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, XCNI_DIR_FROM_OVERLAY,
					 NULL, 0, 1 },
			NULL, NULL);
	}
	{
		/* R6 itself, from an address that is no node: refused before the inner
		 * packet is looked at (untouched). */
		struct f6 f = { .src = R6, .dst = A6, .proto = IPPROTO_UDP, .sport = 44002,
				.dport = 53 };

		len = from_n2(&f, N3, in, inner, &ilen);
		expect6(FROM_OVERLAY, DEV_U, in, len,
			&(struct want6){ TC_ACT_SHOT, XCNI_DROP_UNKNOWN_NODE, XCNI_DIR_FROM_OVERLAY,
					 in, len, 1 },
			NULL, NULL);
		assert_false(ct6_has(R6, 44002, A6, 53, IPPROTO_UDP));
	}
	{
		/* To an address here that is no pod. */
		struct f6 f = { .src = R6, .dst = "fd00:99::77", .proto = IPPROTO_UDP,
				.sport = 44003, .dport = 53 };

		len = from_n2(&f, N2, in, inner, &ilen);
		expect6(FROM_OVERLAY, DEV_U, in, len,
			&(struct want6){ TC_ACT_SHOT, XCNI_DROP_UNKNOWN_DST, XCNI_DIR_FROM_OVERLAY,
					 NULL, 0, 1 },
			NULL, NULL);
	}
}

/* A's ingress: R (ID_R) on TCP 80 only; R6B of the same node refused. */
static void v6ovl_policy(void **state)
{
	struct xcni_polhash_key k = { .ep = ip4(IP_A), .peer = ID_R, .dir = XCNI_DIR_TO_POD,
				      .proto = IPPROTO_TCP, .port = htons(80) };
	struct xcni_policy_val pv = { .policy_id = 79 };
	struct xcni_polep ep = { .identity = ID_A, .isolated = XCNI_ISOLATED(XCNI_DIR_TO_POD) };
	uint32_t ka = ip4(IP_A);
	uint8_t in[FRAME_MAX], inner[FRAME_MAX];
	size_t len, ilen;

	(void)state;
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_policy"), &k, &pv, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_polep"), &ka, &ep, BPF_ANY), 0);
	assert_int_equal(polrev_bump(), 0);
	{
		struct f6 f = { .src = R6, .dst = A6, .proto = IPPROTO_TCP, .sport = 45000,
				.dport = 80, .flags = TH_SYN };

		len = from_n2(&f, N2, in, inner, &ilen);
		expect6(FROM_OVERLAY, DEV_U, in, len,
			&(struct want6){ TC_ACT_REDIRECT, XCNI_FWD_DECAP, XCNI_DIR_FROM_OVERLAY,
					 NULL, 0, 1 /* the verdict, naming policy 79 */ },
			NULL, NULL);
		assert_int_equal(last6.ev.type, XCNI_EV_VERDICT);
		assert_int_equal(last6.ev.policy_id, 79);
	}
	{
		struct f6 f = { .src = R6B, .dst = A6, .proto = IPPROTO_TCP, .sport = 45001,
				.dport = 80, .flags = TH_SYN };
		uint8_t a[16];

		len = from_n2(&f, N2, in, inner, &ilen);
		expect6(FROM_OVERLAY, DEV_U, in, len,
			&(struct want6){ TC_ACT_SHOT, XCNI_DROP_POLICY_INGRESS,
					 XCNI_DIR_FROM_OVERLAY, NULL, 0, 1 },
			NULL, NULL);
		assert_int_equal(last6.ev.type, XCNI_EV_DROP);
		in6(R6B, a);
		assert_memory_equal(last6.saddr6, a, 16);
		assert_false(ct6_has(R6B, 45001, A6, 80, IPPROTO_TCP));
	}
	bpf_map_delete_elem(map_fd("xcni_polep"), &ka);
	bpf_map_delete_elem(map_fd("xcni_policy"), &k);
	assert_int_equal(polrev_bump(), 0);
}

/* The host's IPv6 to a remote pod, routed to xcni0: encapsulated as it is. */
static void v6ovl_to_overlay(void **state)
{
	static const uint8_t xmac[ETH_ALEN] = { 2, 0, 0, 0, 0x0e, 0x0e };
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	size_t len, wlen;

	(void)state;
	{
		struct f6 f = { .dmac = xmac, .smac = xmac, .src = SELF6, .dst = R6,
				.proto = IPPROTO_TCP, .sport = 46000, .dport = 80, .flags = TH_SYN };

		len = frame6(&f, in);
		wlen = geneve_wrap6(in, len, NODE_IP, N2, geneve_sport6(SELF6, 46000, R6, 80, IPPROTO_TCP), VNI,
			     want);
		expect6(TO_OVERLAY, DEV_U, in, len,
			&(struct want6){ TC_ACT_REDIRECT, XCNI_FWD_ENCAP, XCNI_DIR_TO_OVERLAY, want,
					 wlen, 0 },
			NULL, NULL);
	}
	{
		/* Routed here, but no node hosts it. */
		struct f6 f = { .dmac = xmac, .smac = xmac, .src = SELF6, .dst = GONE6,
				.proto = IPPROTO_UDP, .sport = 46001, .dport = 53 };

		len = frame6(&f, in);
		expect6(TO_OVERLAY, DEV_U, in, len,
			&(struct want6){ TC_ACT_SHOT, XCNI_DROP_NO_TUNNEL, XCNI_DIR_TO_OVERLAY, NULL,
					 0, 1 },
			NULL, NULL);
	}
}

/* harness.c's on_event hands every IPv6 event here too; the last one is kept. */
void v6ovl_event(const void *data)
{
	memcpy(&last6, data, sizeof(last6));
	nev6++;
}

/* The pods' IPv6 endpoints (after the IPv4 rows: they open A and B), n2's IPv6. */
static void encap6_setup(void **state)
{
	v6_setup(state);
	v6ovl_setup(state);
}

static const struct CMUnitTest encap_tests[] = {
	cmocka_unit_test(encap6_setup),	  cmocka_unit_test(v6ovl_encap),
	cmocka_unit_test(v6ovl_not_encap), cmocka_unit_test(v6ovl_decap),
	cmocka_unit_test(v6ovl_spoof),	  cmocka_unit_test(v6ovl_policy),
	cmocka_unit_test(v6ovl_to_overlay),
};
/* v6_state with v6ovl_setup's IPv6 overlay (n2's pods, this node's SELF6). */
int v6ovl_state(void)
{
	int err = v6_state();

	if (!err)
		v6ovl_setup(NULL);
	return err;
}

const struct group encap_group = { "encap", ROWS(encap_rows), TESTS(encap_tests),
				     .prep = policy4_state };
