// SPDX-License-Identifier: Apache-2.0
/*
 * IPv6 NodePorts and externalIPs in BPF through BPF_PROG_TEST_RUN, on
 * tests/bpf/v6.c's IPv6 endpoints and svc_lib.c's IPv6 ClusterIPs (lb6_setup;
 * the ClusterIP tests of both families are the svc_*.c files).
 *
 * IPv6 NodePorts (bpf/lib/nodeport.h: from_overlay from the underlay, the
 * client CLIENT6 outside), on this node's IPv6 address NODE6:
 *   [NODE6]:30080/TCP     3201: B:8080 (this node)                  -
 *   [NODE6]:30081/TCP     3211: R6N:80 (on n2, through Geneve)      -
 *   [NODE6]:30082/UDP     3221: R6N:5353 (on n2)                    -
 *   [NODE6]:30090/TCP     none here                                 ETP Local
 * and IPv6 externalIPs (not this node's address: SNATed to NODE6, which
 * xcnid writes into xcni_self6):
 *   [EXT6]:80/TCP         3231: R6N:80 (on n2)                      -
 *   [EXT6]:53/UDP         3241: R6N:5353 (on n2)                    -
 *   [EXT6B]:80/TCP        none here                                 ETP Local
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pkt_cls.h>

#include "lb6.h"
#include "../../user/lib/services/maglev.h"

#define B6 "fd00:99::b"
#define R6N "fd00:98::2" /* a pod of n2 */
#define CLIENT6B "2001:db8:1::8"
#define EXT6 "2001:db8:100::1" /* an externalIP */
#define EXT6B "2001:db8:100::2" /* an externalIP, externalTrafficPolicy Local */

/* ---- IPv6 NodePorts ---------------------------------------------------------- */

void ipc6_put(const char *a, uint32_t id, const char *tunnel, uint8_t flags)
{
	struct xcni_ipcache6_key k = { .prefixlen = 128 };
	struct xcni_ipcache_val v = { .identity = id, .tunnel_ip = tunnel ? ip4(tunnel) : 0,
				      .flags = flags };

	in6(a, k.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &k, &v, BPF_ANY), 0);
}

/* From the outside, on the underlay, to dst:dp. */
struct g6 outside6_to(const char *src, uint16_t sp, const char *dst, uint16_t dp, uint8_t proto,
		      uint8_t flags)
{
	return (struct g6){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .src = src,
			    .dst = dst, .sport = sp, .dport = dp, .proto = proto, .flags = flags,
			    .payload = proto == IPPROTO_UDP ? 12 : 0 };
}

/* From the outside, on the underlay, to NODE6:dp. */
static struct g6 outside6(const char *src, uint16_t sp, uint16_t dp, uint8_t proto, uint8_t flags)
{
	return outside6_to(src, sp, NODE6, dp, proto, flags);
}

static void np6_setup(void **state)
{
	(void)state;
	ipc6_put(NODE6, XCNI_ID_HOST, NULL, 0);
	ipc6_put(R6N, 0x3000, N2, XCNI_IPC_POD);
	be6(3201, B6, 8080);
	be6(3211, R6N, 80);
	be6(3221, R6N, 5353);
	svc6(NODE6, 30080, IPPROTO_TCP, 320, 0, (const uint32_t[]){ 3201 }, 1);
	svc6(NODE6, 30081, IPPROTO_TCP, 321, 0, (const uint32_t[]){ 3211 }, 1);
	svc6(NODE6, 30082, IPPROTO_UDP, 322, 0, (const uint32_t[]){ 3221 }, 1);
	svc6(NODE6, 30090, IPPROTO_TCP, 323, XCNI_SVC_F_ETP_LOCAL, NULL, 0);
	be6(3231, R6N, 80);
	be6(3241, R6N, 5353);
	svc6(EXT6, 80, IPPROTO_TCP, 324, 0, (const uint32_t[]){ 3231 }, 1);
	svc6(EXT6, 53, IPPROTO_UDP, 325, 0, (const uint32_t[]){ 3241 }, 1);
	svc6(EXT6B, 80, IPPROTO_TCP, 326, XCNI_SVC_F_ETP_LOCAL, NULL, 0);
}

/*
 * A backend on this node: DNAT only (the client's address kept), into B;
 * B's reply gets the NodePort back as its source and goes to the stack,
 * which routes it out the underlay. Externaltrafficpolicy Local with none
 * here: a drop of its own.
 */
static void lb6_nodeport_local(void **state)
{
	struct g6 f = outside6(CLIENT6, 50000, 30080, IPPROTO_TCP, T_SYN), t, r, rt;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	t = into6(f, DEV_B);
	t.dst = B6;
	t.dport = 8080;
	len = frame6(&f, in);
	wlen = frame6(&t, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
	e = ct6_get(CLIENT6, 50000, NODE6, 30080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 3201);
	e = ct6_get(CLIENT6, 50000, B6, 8080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT);
	assert_int_equal(e.rev_nat, 320);
	/* B's SYN-ACK: from the NodePort, to the stack (it leaves by the underlay). */
	r = from6(DEV_B, B6, 8080, CLIENT6, 50000, IPPROTO_TCP, T_SYN | T_ACK);
	rt = r;
	rt.src = NODE6;
	rt.sport = 30080;
	len = frame6(&r, in);
	wlen = frame6(&rt, want);
	expect6(FROM_POD_LB, DEV_B, in, len, TC_ACT_OK, XCNI_FWD_REPLY, want, wlen);

	/* externalTrafficPolicy Local, no backend on this node: dropped, counted so. */
	f = outside6(CLIENT6, 50001, 30090, IPPROTO_TCP, T_SYN);
	len = frame6(&f, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_NO_LOCAL_BACKEND, NULL, 0);
	/* Not a frontend (another port of the node): untouched, uncounted, the stack's. */
	f = outside6(CLIENT6, 50002, 22, IPPROTO_TCP, T_SYN);
	len = frame6(&f, in);
	{
		struct bpf_test_run_opts o = {};
		uint8_t out[FRAME_MAX];

		assert_int_equal(run(FROM_OVERLAY_LB, DEV_U, in, len, out, sizeof(out), 0, &o), 0);
		assert_int_equal(o.retval, TC_ACT_OK);
		assert_memory_equal(out, in, len);
	}
}

size_t frame6_as(const struct g6 *f, const char *src, uint16_t sp, const char *dst, uint16_t dp,
		 uint8_t *buf)
{
	struct g6 t = *f;

	t.src = src;
	t.sport = sp;
	t.dst = dst;
	t.dport = dp;
	return frame6(&t, buf);
}

void snat6_check(int fd, uint16_t sp, const char *backend, uint16_t bport, uint8_t proto,
		 const char *client, uint16_t cport)
{
	struct xcni_ct6_key k = { .sport = htons(sp), .dport = htons(bport), .proto = proto };
	struct xcni_snat6 sn;
	uint8_t c6[16];

	in6(NODE6, k.saddr);
	in6(backend, k.daddr);
	in6(client, c6);
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &sn), 0);
	assert_memory_equal(sn.client, c6, 16);
	assert_int_equal(sn.cport, htons(cport));
}

size_t np6_snat_inner(const struct g6 *f, uint16_t sp, const char *backend, uint16_t bport,
		      uint8_t *inner)
{
	struct g6 t = *f;

	t.hop = 63;
	return frame6_as(&t, NODE6, sp, backend, bport, inner);
}

/* The SNATed, encapsulated frame for f (from outside) to R6N:bport with source port sp. */
static size_t np6_remote_want(const struct g6 *f, uint16_t sp, uint16_t bport, uint8_t *want)
{
	uint8_t inner[FRAME_MAX];
	size_t ilen = np6_snat_inner(f, sp, R6N, bport, inner);

	return geneve_wrap6(inner, ilen, NODE_IP, N2, geneve_sport6(NODE6, sp, R6N, bport, f->proto), VNI, want);
}

/*
 * A backend on n2: DNAT to R6N, SNAT to NODE6 (the client's port while
 * free), Geneve over the IPv4 underlay to n2, the client kept in xcni_snat6;
 * R6N's reply through n2's Geneve is undone (frontend -> client) and leaves
 * by the underlay. A second client on the same port gets another (the
 * flow's hash), UDP likewise.
 */
static void lb6_nodeport_remote(void **state)
{
	struct g6 f = outside6(CLIENT6, 50010, 30081, IPPROTO_TCP, T_SYN), r;
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, ilen, wlen;
	uint16_t sp2;
	int found;

	(void)state;
	len = frame6(&f, in);
	wlen = np6_remote_want(&f, 50010, 80, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	e = ct6_get(CLIENT6, 50010, NODE6, 30081, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 3211);
	assert_int_equal(e.nat_port, htons(50010));
	e = ct6_get(NODE6, 50010, R6N, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT);
	assert_int_equal(e.rev_nat, 321);
	/* from_overlay's own map (pinned by name: one per node, as the others). */
	snat6_check(bpf_map__fd(env.ovin_lb->maps.xcni_snat6), 50010, R6N, 80, IPPROTO_TCP, CLIENT6,
		    50010);

	/* R6N's SYN-ACK from n2: decapsulated, frontend -> client, out the underlay. */
	r = (struct g6){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .src = R6N,
			 .dst = NODE6, .sport = 80, .dport = 50010, .proto = IPPROTO_TCP,
			 .flags = T_SYN | T_ACK };
	ilen = frame6(&r, inner);
	len = geneve_wrap6(inner, ilen, N2, NODE_IP, geneve_sport6(R6N, 80, NODE6, 50010, IPPROTO_TCP), VNI, in);
	wlen = frame6_as(&r, NODE6, 30081, CLIENT6, 50010, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
	e = ct6_get(NODE6, 50010, R6N, 80, IPPROTO_TCP, &found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);

	/* The client's ACK: the same port again (from the service entry). */
	f = outside6(CLIENT6, 50010, 30081, IPPROTO_TCP, T_ACK);
	len = frame6(&f, in);
	wlen = np6_remote_want(&f, 50010, 80, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);

	/* Another client, the same source port: NODE6:50010 -> R6N:80 is taken. */
	f = outside6(CLIENT6B, 50010, 30081, IPPROTO_TCP, T_SYN);
	{
		uint32_t a[4], b[4];

		in6(CLIENT6B, (uint8_t *)a);
		in6(R6N, (uint8_t *)b);
		sp2 = (uint16_t)(32768 + (xcni_lb_hash6(a, b, htons(50010), htons(80), IPPROTO_TCP) +
					  7919) % 28232);
	}
	len = frame6(&f, in);
	wlen = np6_remote_want(&f, sp2, 80, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);

	/* UDP: the checksum follows both rewrites; the answer comes back the same way. */
	f = outside6(CLIENT6, 50020, 30082, IPPROTO_UDP, 0);
	len = frame6(&f, in);
	wlen = np6_remote_want(&f, 50020, 5353, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	r = (struct g6){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .src = R6N,
			 .dst = NODE6, .sport = 5353, .dport = 50020, .proto = IPPROTO_UDP,
			 .payload = 12 };
	ilen = frame6(&r, inner);
	len = geneve_wrap6(inner, ilen, N2, NODE_IP, geneve_sport6(R6N, 5353, NODE6, 50020, IPPROTO_UDP), VNI,
		       in);
	wlen = frame6_as(&r, NODE6, 30082, CLIENT6, 50020, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
}

/*
 * An ICMPv6 port unreachable from R6N (through n2's Geneve) about the SNATed
 * UDP flow of lb6_nodeport_remote (quoting NODE6:50020 -> R6N:5353): the
 * client gets it from the frontend, quoting client -> frontend, out the
 * underlay (checksum computed here over all of it).
 */
static void np6_icmp_check(uint16_t cport, uint16_t bport, const char *fe, uint16_t fport)
{
	struct g6 q = { .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .src = NODE6,
			.dst = R6N, .sport = cport, .dport = bport, .proto = IPPROTO_UDP,
			.payload = 12, .hop = 63 };
	uint8_t qf[FRAME_MAX], inner[FRAME_MAX], in[FRAME_MAX], want[FRAME_MAX];
	size_t qlen = frame6(&q, qf), ilen, len, mlen = 8 + 48;
	uint16_t c, port;

	/* The error as R6N sends it: R6N -> NODE6, type 1 code 4, quoting 48 bytes. */
	memset(inner, 0, sizeof(inner));
	memcpy(inner, pods[DEV_U].mac, ETH_ALEN);
	memcpy(inner + ETH_ALEN, pods[DEV_U].host_mac, ETH_ALEN);
	inner[12] = 0x86;
	inner[13] = 0xdd;
	inner[14] = 0x60;
	inner[19] = (uint8_t)mlen;
	inner[20] = 58;
	inner[21] = 64;
	in6(R6N, inner + 22);
	in6(NODE6, inner + 38);
	inner[54] = 1;
	inner[55] = 4;
	assert_true(qlen >= ETH_HLEN + 48);
	memcpy(inner + 62, qf + ETH_HLEN, 48);
	c = csum6(inner + ETH_HLEN, 58, inner + 54, mlen);
	memcpy(inner + 56, &c, 2);
	ilen = 54 + mlen;
	/* ICMPv6 "ports" (type, code) for the outer hash, as flow_sport6 reads them. */
	len = geneve_wrap6(inner, ilen, N2, NODE_IP,
		       geneve_sport6(R6N, (uint16_t)(1 << 8 | 4), NODE6, 0, 58), VNI, in);
	/* What the client must get: from the frontend, the quote client -> frontend. */
	memcpy(want, inner, ilen);
	in6(fe, want + 22); /* the frontend's address (a NodePort's: this node's) */
	in6(CLIENT6, want + 38);
	in6(CLIENT6, want + 62 + 8);
	in6(fe, want + 62 + 24);
	port = htons(cport);
	memcpy(want + 62 + 40, &port, 2);
	port = htons(fport);
	memcpy(want + 62 + 42, &port, 2);
	memset(want + 56, 0, 2);
	c = csum6(want + ETH_HLEN, 58, want + 54, mlen);
	memcpy(want + 56, &c, 2);
	{
		struct bpf_test_run_opts o = {};
		uint8_t out[FRAME_MAX];
		__u32 idx = XCNI_METRIC_IDX(XCNI_FWD_REPLY, XCNI_DIR_FROM_OVERLAY);
		struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];

		assert_int_equal(read_metrics(before), 0);
		assert_int_equal(run(FROM_OVERLAY_LB, DEV_U, in, len, out, sizeof(out), 0, &o), 0);
		assert_true(ring_buffer__consume(env.rb) >= 0);
		assert_int_equal(read_metrics(after), 0);
		assert_int_equal(o.retval, TC_ACT_REDIRECT);
		assert_int_equal(after[idx].packets - before[idx].packets, 1);
		assert_int_equal(o.data_size_out, ilen);
		for (size_t i = 0; i < ilen; i++)
			if (out[i] != want[i])
				fail_msg("output differs first at byte %zu: 0x%02x, want 0x%02x", i,
					 out[i], want[i]);
	}
}

static void lb6_nodeport_icmp(void **state)
{
	(void)state;
	np6_icmp_check(50020, 5353, NODE6, 30082);
}

void self6_put_fd(int fd, const char *a)
{
	uint8_t a6[16] = { 0 };
	__u32 k = 0;

	if (a)
		in6(a, a6);
	assert_int_equal(bpf_map_update_elem(fd, &k, a6, BPF_ANY), 0);
}

static void self6_put(const char *a)
{
	self6_put_fd(bpf_map__fd(env.ovin_lb->maps.xcni_self6), a);
}

/*
 * IPv6 externalIPs with a backend on n2: without this node's IPv6 address in
 * xcni_self6 there is no SNAT source (drop-no-tunnel, nothing tracked); with
 * it, SNAT to NODE6 as a NodePort's, Geneve to n2, the client kept in
 * xcni_snat6; R6N's reply leaves from the externalIP (not NODE6) to the
 * client; UDP likewise, and R6N's port unreachable is made the client's,
 * from the externalIP, quoting client -> externalIP. externalTrafficPolicy
 * Local with no backend here: drop-no-local-backend.
 */
static void lb6_extip_remote(void **state)
{
	struct g6 f = outside6_to(CLIENT6, 50030, EXT6, 80, IPPROTO_TCP, T_SYN), r;
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, ilen, wlen;
	int found;

	(void)state;
	/* No IPv6 InternalIP known: no source the replies would come back to. */
	self6_put(NULL);
	len = frame6(&f, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_NO_TUNNEL, NULL, 0);
	ct6_get(NODE6, 50030, R6N, 80, IPPROTO_TCP, &found);
	assert_false(found);
	/* An address that is not the host's in the ipcache6: refused as well. */
	self6_put(CLIENT6B);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_NO_TUNNEL, NULL, 0);

	self6_put(NODE6);
	wlen = np6_remote_want(&f, 50030, 80, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	e = ct6_get(CLIENT6, 50030, EXT6, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 3231);
	assert_int_equal(e.nat_port, htons(50030));
	e = ct6_get(NODE6, 50030, R6N, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT);
	assert_int_equal(e.rev_nat, 324);

	/* R6N's SYN-ACK from n2: from the externalIP to the client, out the underlay. */
	r = (struct g6){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .src = R6N,
			 .dst = NODE6, .sport = 80, .dport = 50030, .proto = IPPROTO_TCP,
			 .flags = T_SYN | T_ACK };
	ilen = frame6(&r, inner);
	len = geneve_wrap6(inner, ilen, N2, NODE_IP, geneve_sport6(R6N, 80, NODE6, 50030, IPPROTO_TCP), VNI, in);
	wlen = frame6_as(&r, EXT6, 80, CLIENT6, 50030, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
	e = ct6_get(NODE6, 50030, R6N, 80, IPPROTO_TCP, &found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);

	/* UDP: there and back, then R6N's port unreachable to the client. */
	f = outside6_to(CLIENT6, 50031, EXT6, 53, IPPROTO_UDP, 0);
	len = frame6(&f, in);
	wlen = np6_remote_want(&f, 50031, 5353, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	r = (struct g6){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .src = R6N,
			 .dst = NODE6, .sport = 5353, .dport = 50031, .proto = IPPROTO_UDP,
			 .payload = 12 };
	ilen = frame6(&r, inner);
	len = geneve_wrap6(inner, ilen, N2, NODE_IP, geneve_sport6(R6N, 5353, NODE6, 50031, IPPROTO_UDP), VNI,
		       in);
	wlen = frame6_as(&r, EXT6, 53, CLIENT6, 50031, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
	np6_icmp_check(50031, 5353, EXT6, 53);

	/* externalTrafficPolicy Local, none here: no SNAT, a drop of its own. */
	f = outside6_to(CLIENT6, 50032, EXT6B, 80, IPPROTO_TCP, T_SYN);
	len = frame6(&f, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_NO_LOCAL_BACKEND, NULL, 0);
	ct6_get(NODE6, 50032, R6N, 80, IPPROTO_TCP, &found);
	assert_false(found);
}

/*
 * A ClusterIP whose backend is a pod of n2 (R6N): from_pod translates and
 * sends the SYN in Geneve; the SYN-ACK comes back decapsulated by
 * from_overlay and redirected into A with the frontend as its source
 * (from_overlay6's reverse NAT: to_pod, which would do it for a backend
 * reached through the stack, is passed by). Hop limit as sent, A's MACs.
 */
#define VIPR "fd00:96::11"
static void lb6_remote_reply(void **state)
{
	struct g6 f = from6(DEV_A, A6, 40700, VIPR, 80, IPPROTO_TCP, T_SYN), r, t;
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, ilen, wlen;
	int found;

	(void)state;
	ipc6_put(R6N, 0x3000, N2, XCNI_IPC_POD);
	be6(3301, R6N, 80);
	svc6(VIPR, 80, IPPROTO_TCP, 330, 0, (const uint32_t[]){ 3301 }, 1);
	len = frame6(&f, in);
	expect6(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, NULL, 0);
	e = ct6_get(A6, 40700, R6N, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.rev_nat, 330);

	r = (struct g6){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .src = R6N,
			 .dst = A6, .sport = 80, .dport = 40700, .proto = IPPROTO_TCP,
			 .flags = T_SYN | T_ACK };
	ilen = frame6(&r, inner);
	len = geneve_wrap6(inner, ilen, N2, NODE_IP, geneve_sport6(R6N, 80, A6, 40700, IPPROTO_TCP), VNI, in);
	t = r;
	t.smac = pods[DEV_A].host_mac;
	t.dmac = pods[DEV_A].mac;
	t.src = VIPR;
	t.sport = 80;
	wlen = frame6(&t, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
}

static const struct CMUnitTest lb6_tests[] = {
	cmocka_unit_test(np6_setup),
	cmocka_unit_test(lb6_nodeport_local),
	cmocka_unit_test(lb6_nodeport_remote),
	cmocka_unit_test(lb6_nodeport_icmp),
	cmocka_unit_test(lb6_extip_remote),
	cmocka_unit_test(lb6_remote_reply),
};
/* v6_state with lb6_setup's Services and np6_setup's NodePorts. */
int lb6_state(void)
{
	int err = v6_state();

	if (!err) {
		lb6_setup(NULL);
		np6_setup(NULL);
	}
	return err;
}

/* Both families' Services and NodePorts, in the order their groups write them. */
int svc_state(void)
{
	int err = lb_state();

	if (!err) {
		v6_setup(NULL);
		lb6_setup(NULL);
		np6_setup(NULL);
	}
	return err;
}

const struct group lb6_group = { "lb6", TESTS(lb6_tests), .prep = v6_state };

