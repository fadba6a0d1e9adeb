// SPDX-License-Identifier: Apache-2.0
/*
 * A process on a node sending Geneve (issue 26 item 6), through
 * BPF_PROG_TEST_RUN, on the frontends svc_lib.c and nodeport_dsr.c write
 * (prep dsr6_state):
 *   N2:30080/TCP      -> IP_B:8080 (svc_lib.c's: n2's NodePort, EXT scope here)
 *   [N2_6]:30085/TCP  -> B6:8080   (nodeport_dsr.c's dsr6_setup)
 *
 * What such a process can try, and what the node must refuse:
 *  - DSR Geneve from n2's address naming a frontend this node has, its
 *    inner destination a pod of this node that is no backend of it (or the
 *    backend's address on another port): the node would open a flow from
 *    any outside address the sender chose into that pod, and the pod's
 *    replies would leave for that address from the frontend: a reflector,
 *    and a way past ipBlock rules. Dropped, drop-dsr-not-backend, no entry.
 *    Controls: the frontend's real backend, delivered.
 *  - UDP to 6081 leaving the node from a socket (to_underlay, the underlay's
 *    egress): dropped, drop-geneve-socket, over either underlay family;
 *    Geneve the programs built (skb->mark XCNI_MARK_GENEVE, which every
 *    encapsulation sets, checked here on from_pod's, to_overlay's and
 *    from_overlay's) passes, as does other UDP, uncounted.
 */
#include <arpa/inet.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "lb.h"
#include "lb6.h"
#include "to_underlay.skel.h"

#define N2_6 "fc00:77::2" /* nodeport_dsr.c's: n2's IPv6 InternalIP, its NodePorts' frontends */
#define B6 "fd00:99::b"
#define EVIL4 "198.51.100.66" /* an outside address the sender names as the client */
#define EVIL6 "2001:db8:66::1"

/* The DSR option for frontend fe (4 or 16 bytes at a, family) :fport/proto, as RFC 8926 3.5 lays it out. */
static void dsr_opt(uint8_t *o, const void *a, uint8_t family, uint16_t fport, uint8_t proto)
{
	memset(o, 0, 24);
	o[0] = 0xff; /* class 0xfff0 */
	o[1] = 0xf0;
	o[2] = 0x81; /* type 1, critical */
	o[3] = 5; /* 5 words of data */
	o[4] = family;
	o[5] = proto;
	o[6] = (uint8_t)(fport >> 8);
	o[7] = (uint8_t)fport;
	memcpy(o + 8, a, family == XCNI_AF_INET ? 4 : 16);
}

/* n2's IPv4 DSR Geneve around f (the client -> a pod here), naming N2:fport. */
static size_t dsr4_from_n2(const struct fr *f, uint16_t fport, uint8_t *out)
{
	struct xcni_ct_key t = { .saddr = f->saddr, .daddr = f->daddr, .sport = htons(f->sport),
				 .dport = htons(f->dport), .proto = f->proto };
	uint8_t inner[FRAME_MAX], *g = out + ETH_HLEN + 20 + 8;
	size_t ilen = frame(f, inner), len;
	uint32_t fe = ip4(N2);

	len = geneve_wrap(t, inner, ilen, inner, N2, NODE_IP, VNI, 6, out);
	g[1] = 0x40; /* C: a critical option is present */
	dsr_opt(g + 8, &fe, XCNI_AF_INET, fport, f->proto);
	return len;
}

/* The client's packet as n2 sent it inside Geneve (one hop less). */
static struct fr client4(const char *client, uint16_t sp, const char *dst, uint16_t dp)
{
	return (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			    .saddr = ip4(client), .daddr = ip4(dst), .sport = sp, .dport = dp,
			    .proto = IPPROTO_TCP, .flags = TH_SYN, .ttl = 63 };
}

/*
 * IPv4: N2:30080's one backend is IP_B:8080. n2 (or a socket on it) names
 * that frontend for EVIL4 -> IP_C:8080 and EVIL4 -> IP_B:9999: refused,
 * nothing tracked. EVIL4 -> IP_B:8080 is what DSR is for: delivered.
 */
static void dsr4_not_backend(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f;
	size_t len, wlen;
	int found;

	(void)state;
	f = client4(EVIL4, 41001, IP_C, 8080);
	len = dsr4_from_n2(&f, 30080, in);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_DSR_NOT_BACKEND, NULL, 0);
	ct_get(ip4(EVIL4), ip4(IP_C), 41001, 8080, IPPROTO_TCP, &found);
	assert_false(found);

	f = client4(EVIL4, 41002, IP_B, 9999);
	len = dsr4_from_n2(&f, 30080, in);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_DSR_NOT_BACKEND, NULL, 0);
	ct_get(ip4(EVIL4), ip4(IP_B), 41002, 9999, IPPROTO_TCP, &found);
	assert_false(found);

	/* Control: the backend itself. */
	f = client4(EVIL4, 41003, IP_B, 8080);
	len = dsr4_from_n2(&f, 30080, in);
	{
		struct fr t = into(f, DEV_B);

		wlen = frame(&t, want);
	}
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	ct_get(ip4(EVIL4), ip4(IP_B), 41003, 8080, IPPROTO_TCP, &found);
	assert_true(found);
}

/* n2's Geneve (IPv4 underlay) around f (IPv6 inside), naming [N2_6]:fport. */
static size_t dsr6_from_n2(const struct g6 *f, uint16_t fport, uint8_t *out)
{
	uint8_t inner[FRAME_MAX], *ip, *udp, *g;
	size_t ilen = frame6(f, inner), len;
	uint8_t fe[16];
	uint16_t v;

	len = geneve_wrap6(inner, ilen, N2, NODE_IP,
			   geneve_sport6(f->src, f->sport, f->dst, f->dport, f->proto), VNI, out);
	assert_true(len + 24 <= FRAME_MAX);
	ip = out + ETH_HLEN;
	udp = ip + 20;
	g = udp + 8;
	memmove(g + 8 + 24, g + 8, len - (size_t)(g + 8 - out));
	in6(N2_6, fe);
	dsr_opt(g + 8, fe, XCNI_AF_INET6, fport, f->proto);
	g[0] = 6;
	g[1] = 0x40;
	v = (uint16_t)(ntohs(*(uint16_t *)(udp + 4)) + 24);
	*(uint16_t *)(udp + 4) = htons(v);
	v = (uint16_t)(ntohs(*(uint16_t *)(ip + 2)) + 24);
	*(uint16_t *)(ip + 2) = htons(v);
	ip[10] = ip[11] = 0;
	v = csum(ip, 20);
	memcpy(ip + 10, &v, 2);
	return len + 24;
}

static struct g6 client6(const char *dst, uint16_t sp, uint16_t dp)
{
	struct g6 f = outside6_to(EVIL6, sp, dst, dp, IPPROTO_TCP, T_SYN);

	f.hop = 63;
	return f;
}

/* IPv6: [N2_6]:30085's one backend is B6:8080; A6:8080 and B6:9999 are not. */
static void dsr6_not_backend(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct g6 f, t;
	size_t len, wlen;
	int found;

	(void)state;
	f = client6(A6, 42001, 8080);
	len = dsr6_from_n2(&f, 30085, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_DSR_NOT_BACKEND, NULL, 0);
	ct6_get(EVIL6, 42001, A6, 8080, IPPROTO_TCP, &found);
	assert_false(found);

	f = client6(B6, 42002, 9999);
	len = dsr6_from_n2(&f, 30085, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_DSR_NOT_BACKEND, NULL, 0);
	ct6_get(EVIL6, 42002, B6, 9999, IPPROTO_TCP, &found);
	assert_false(found);

	/* Control: the backend. */
	f = client6(B6, 42003, 8080);
	len = dsr6_from_n2(&f, 30085, in);
	t = into6(f, DEV_B);
	wlen = frame6(&t, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	ct6_get(EVIL6, 42003, B6, 8080, IPPROTO_TCP, &found);
	assert_true(found);
}

/* ---- Geneve from a socket, on the underlay's egress ----------------------------- */

static struct to_underlay *tu;

/* to_underlay on the harness's pinned maps. */
static void egress_setup(void **state)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.pin_dir);

	(void)state;
	tu = to_underlay__open_opts(&opts);
	assert_non_null(tu);
	assert_int_equal(to_underlay__load(tu), 0);
}

static void egress_teardown(void **state)
{
	(void)state;
	to_underlay__destroy(tu);
	tu = NULL;
	/* the drop events these rows raised: read, so the next group's rows see
	 * only their own */
	assert_true(ring_buffer__consume(env.rb) >= 0);
	env.nev = 0;
}

/*
 * One packet through fd from dev with skb->mark mark: the verdict; *mark_out
 * the mark it left; counted once under (reason, dir), or nowhere when
 * reason is 0.
 */
static int run_marked(int fd, int dev, const uint8_t *in, size_t len, uint32_t mark, int reason,
		    unsigned int dir, uint32_t *mark_out)
{
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	struct __sk_buff ctx = { .ifindex = env.ifindex[dev], .mark = mark }, out_ctx = {};
	static uint8_t out[2048];
	__u32 idx = reason ? XCNI_METRIC_IDX(reason, dir) : XCNI_NR_METRICS;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &out_ctx,
		    .ctx_size_out = sizeof(out_ctx));

	assert_int_equal(read_metrics(before), 0);
	assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
	assert_int_equal(read_metrics(after), 0);
	for (__u32 i = 0; i < XCNI_NR_METRICS; i++)
		if (after[i].packets - before[i].packets != (i == idx))
			fail_msg("%s/%s counted %llu, want %s", reason_name(i / XCNI_NR_DIRS),
				 dir_name(i % XCNI_NR_DIRS),
				 (unsigned long long)(after[i].packets - before[i].packets),
				 reason ? reason_name(XCNI_REASON_IDX(reason)) : "nothing");
	if (mark_out)
		*mark_out = out_ctx.mark;
	return (int)o.retval;
}

static int egress(const uint8_t *in, size_t len, uint32_t mark, int reason)
{
	return run_marked(bpf_program__fd(tu->progs.to_underlay), DEV_U, in, len, mark, reason,
			XCNI_DIR_TO_OVERLAY, NULL);
}

/* The node -> n2 UDP (or proto) datagram to dport, as a socket of the node sends it. */
static size_t ul4(uint8_t proto, uint16_t dport, uint8_t *buf)
{
	struct fr f = { .smac = pods[DEV_U].host_mac, .dmac = pods[DEV_U].mac,
			.saddr = ip4(NODE_IP), .daddr = ip4(N2), .sport = 50000, .dport = dport,
			.proto = proto, .flags = TH_SYN, .payload = 64 };

	return frame(&f, buf);
}

static size_t ul6(uint16_t dport, uint8_t *buf)
{
	struct g6 f = { .smac = pods[DEV_U].host_mac, .dmac = pods[DEV_U].mac,
			.src = "fc00:77::1", .dst = N2_6, .sport = 50000, .dport = dport,
			.proto = IPPROTO_UDP, .payload = 64 };

	return frame6(&f, buf);
}

/*
 * A socket's UDP to 6081 over either underlay family: dropped, counted
 * drop-geneve-socket (to-overlay: the host sending). With the mark the
 * programs' encapsulations set: passes (TC_ACT_UNSPEC, the next program's
 * say), uncounted. Other UDP, TCP to 6081, a later IPv4 fragment: passes.
 */
static void egress_socket_geneve(void **state)
{
	uint8_t in[FRAME_MAX];
	size_t len;

	(void)state;
	len = ul4(IPPROTO_UDP, XCNI_GENEVE_PORT, in);
	assert_int_equal(egress(in, len, 0, XCNI_DROP_GENEVE_SOCKET), TC_ACT_SHOT);
	/* Marks of others (kube-proxy's 0x4000) do not make it ours. */
	assert_int_equal(egress(in, len, 0x4000, XCNI_DROP_GENEVE_SOCKET), TC_ACT_SHOT);
	assert_int_equal(egress(in, len, XCNI_MARK_GENEVE, 0), TC_ACT_UNSPEC);
	assert_int_equal(egress(in, len, XCNI_MARK_GENEVE | 0x4000, 0), TC_ACT_UNSPEC);
	len = ul6(XCNI_GENEVE_PORT, in);
	assert_int_equal(egress(in, len, 0, XCNI_DROP_GENEVE_SOCKET), TC_ACT_SHOT);
	assert_int_equal(egress(in, len, XCNI_MARK_GENEVE, 0), TC_ACT_UNSPEC);

	/* What a hostNetwork process may still send. */
	len = ul4(IPPROTO_UDP, 9998, in);
	assert_int_equal(egress(in, len, 0, 0), TC_ACT_UNSPEC);
	len = ul4(IPPROTO_TCP, XCNI_GENEVE_PORT, in);
	assert_int_equal(egress(in, len, 0, 0), TC_ACT_UNSPEC);
	len = ul6(9998, in);
	assert_int_equal(egress(in, len, 0, 0), TC_ACT_UNSPEC);
	/* A later fragment: no UDP header, nothing a receiver takes as Geneve. */
	len = ul4(IPPROTO_UDP, XCNI_GENEVE_PORT, in);
	in[ETH_HLEN + 6] = 0x00;
	in[ETH_HLEN + 7] = 0x10;
	in[ETH_HLEN + 10] = in[ETH_HLEN + 11] = 0;
	{
		uint16_t c = csum(in + ETH_HLEN, 20);

		memcpy(in + ETH_HLEN + 10, &c, 2);
	}
	assert_int_equal(egress(in, len, 0, 0), TC_ACT_UNSPEC);
}

/*
 * Every path that builds Geneve marks it, and to_underlay then lets it go:
 * from_pod's (a pod to a remote pod), to_overlay's (the host to a remote
 * pod), from_overlay's NodePort to a remote backend (SNAT) and DSR's. A
 * decapsulated packet carries no mark.
 */
static void egress_marked_by_encap(void **state)
{
	uint8_t in[FRAME_MAX];
	struct fr f;
	uint32_t mark;
	size_t len;

	(void)state;
	f = from_dev(DEV_A, IP_A, 45001, IP_R, 53, IPPROTO_UDP, 0);
	len = frame(&f, in);
	assert_int_equal(run_marked(prog_fd(FROM_POD_OV), DEV_A, in, len, 0x4000, XCNI_FWD_ENCAP,
				  XCNI_DIR_FROM_POD, &mark),
			 TC_ACT_REDIRECT);
	assert_int_equal(mark, XCNI_MARK_GENEVE | 0x4000);

	f = (struct fr){ .smac = pods[DEV_U].host_mac, .dmac = pods[DEV_U].mac,
			 .saddr = ip4(NODE_IP), .daddr = ip4(IP_R), .sport = 45002, .dport = 53,
			 .proto = IPPROTO_UDP };
	len = frame(&f, in);
	assert_int_equal(run_marked(prog_fd(TO_OVERLAY), DEV_U, in, len, 0, XCNI_FWD_ENCAP,
				  XCNI_DIR_TO_OVERLAY, &mark),
			 TC_ACT_REDIRECT);
	assert_int_equal(mark, XCNI_MARK_GENEVE);

	/* A NodePort client of 30081 (R:80 on n2): SNAT + Geneve; with DSR: the option. */
	f = (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			 .saddr = ip4(EVIL4), .daddr = ip4(NODE_IP), .sport = 45003, .dport = 30081,
			 .proto = IPPROTO_TCP, .flags = TH_SYN };
	len = frame(&f, in);
	assert_int_equal(run_marked(prog_fd(FROM_OVERLAY_LB), DEV_U, in, len, 0, XCNI_FWD_ENCAP,
				  XCNI_DIR_FROM_OVERLAY, &mark),
			 TC_ACT_REDIRECT);
	assert_int_equal(mark, XCNI_MARK_GENEVE);
	f.sport = 45004;
	len = frame(&f, in);
	assert_int_equal(run_marked(prog_fd(FROM_OVERLAY_DSR), DEV_U, in, len, 0, XCNI_FWD_ENCAP,
				  XCNI_DIR_FROM_OVERLAY, &mark),
			 TC_ACT_REDIRECT);
	assert_int_equal(mark, XCNI_MARK_GENEVE);

	/* Decapsulated into B (dsr4_not_backend's control flow, again): no mark. */
	f = client4(EVIL4, 41003, IP_B, 8080);
	f.flags = TH_ACK;
	len = dsr4_from_n2(&f, 30080, in);
	assert_int_equal(run_marked(prog_fd(FROM_OVERLAY_LB), DEV_U, in, len, 0, XCNI_FWD_DECAP,
				  XCNI_DIR_FROM_OVERLAY, &mark),
			 TC_ACT_REDIRECT);
	assert_int_equal(mark, 0);
}

static const struct CMUnitTest attack_geneve_tests[] = {
	cmocka_unit_test(dsr4_not_backend),
	cmocka_unit_test(dsr6_not_backend),
	cmocka_unit_test(egress_setup),
	cmocka_unit_test(egress_socket_geneve),
	cmocka_unit_test(egress_marked_by_encap),
	cmocka_unit_test(egress_teardown),
};
const struct group attack_geneve_group = { "attack_geneve", TESTS(attack_geneve_tests), .prep = dsr6_state };
