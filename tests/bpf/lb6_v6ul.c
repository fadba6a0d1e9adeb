// SPDX-License-Identifier: Apache-2.0
/*
 * IPv6 NodePorts and externalIPs whose backend is on another node, the
 * underlay being IPv6 (bpf/lib/nodeport.h): this node's from_overlay with
 * Services in BPF and node_ip6 = NODE6 (no IPv4 underlay), loaded here on the
 * harness's pinned maps, on what tests/bpf/lb6.c writes (the group's prep,
 * lb6_state: NODE6 the host's in the ipcache6, its np6_setup). Every byte of what leaves is written out here:
 * the SNATed inner packet (checksums computed in full), the outer IPv6, UDP
 * and Geneve headers (v6ul.c's geneve_wrap_ul6, the flow hash from its
 * definition).
 *
 *   NV    fc00:77::2   node nv, behind the IPv6 underlay (tunnel6, tunstat6)
 *   RV6   fd00:95::2   a pod of nv, ipcache6 TUN6 -> NV
 *
 *   [NODE6]:30181/TCP  3401: RV6:80                 -
 *   [NODE6]:30182/UDP  3411: RV6:5353               -
 *   [NODE6]:30190/TCP  none here                    ETP Local
 *   [EXTV]:80/TCP      3421: RV6:80 (an externalIP)  -
 *
 * `test_bpf --bench` adds ul6_bench's rows: from_overlay decapsulating
 * Geneve over IPv6 for a pod here, without and with Services in BPF.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pkt_cls.h>

#include "lb6.h"

/* NODE6 (lb6.h): this node's IPv6 InternalIP, here its underlay address */
#define NV "fc00:77::2"
#define RV6 "fd00:95::2"
#define EXTV "2001:db8:100::9"
#define ID_RV 0x3100

static struct from_overlay *fo; /* lb_enabled, node_ip6 */

/* This node's from_overlay on the IPv6 underlay; lb: with Services in BPF. */
struct from_overlay *ul6_load(int lb)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.pin_dir);
	struct from_overlay *o = from_overlay__open_opts(&opts);
	uint32_t n6[4];

	if (!o)
		return NULL;
	if (inet_pton(AF_INET6, NODE6, n6) != 1)
		goto fail;
	o->rodata->vni = VNI;
	o->rodata->lb_enabled = (uint32_t)lb;
	memcpy((void *)o->rodata->node_ip6, n6, 16);
	if (from_overlay__load(o))
		goto fail;
	return o;
fail:
	from_overlay__destroy(o);
	return NULL;
}

/* Node a behind the IPv6 underlay (its tunnel and counters), its pod p (identity id). */
int ul6_node(const char *a, const char *name, const char *p, uint32_t id)
{
	struct xcni_tunnel t = { 0 };
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat zero[ncpu];
	struct xcni_ipcache_val v = { .identity = id, .flags = XCNI_IPC_POD | XCNI_IPC_TUN6 };
	struct xcni_ipcache6_key k = { .prefixlen = 128 };
	struct xcni_in6 n;

	memset(zero, 0, sizeof(zero));
	snprintf(t.node, sizeof(t.node), "%s", name);
	if (inet_pton(AF_INET6, a, n.addr) != 1 || inet_pton(AF_INET6, p, k.addr) != 1)
		return -EINVAL;
	memcpy(v.tunnel_ip6, n.addr, 16);
	if (bpf_map_update_elem(map_fd("xcni_tunnel6"), &n, &t, BPF_ANY) ||
	    bpf_map_update_elem(map_fd("xcni_tunstat6"), &n, zero, BPF_ANY) ||
	    bpf_map_update_elem(map_fd("xcni_ipcache6"), &k, &v, BPF_ANY))
		return -errno;
	/* The node's own address: a remote node, reached through its tunnel. */
	memcpy(k.addr, n.addr, 16);
	v.identity = XCNI_ID_REMOTE_NODE;
	v.flags = XCNI_IPC_TUN6;
	return bpf_map_update_elem(map_fd("xcni_ipcache6"), &k, &v, BPF_ANY) ? -errno : 0;
}

/* A frontend with one backend (bid: ip:bport) or none, as the agent writes it. */
static void fe6(const char *vip, uint16_t port, uint8_t proto, uint32_t id, uint8_t flags,
		uint32_t bid, const char *ip, uint16_t bport)
{
	if (bid)
		be6(bid, ip, bport);
	svc6(vip, port, proto, id, flags, &bid, bid ? 1 : 0);
}

static uint64_t tx_to(const char *node)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat s[ncpu];
	struct xcni_in6 k;
	uint64_t tx = 0;

	in6(node, k.addr);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_tunstat6"), &k, s), 0);
	for (int i = 0; i < ncpu; i++)
		tx += s[i].tx_packets;
	return tx;
}

/* One packet through this file's from_overlay on the underlay device (lb6.h's expect6). */
static void expect(const uint8_t *in, size_t len, int ret, int reason, const uint8_t *want,
		   size_t want_len)
{
	expect6_fd(bpf_program__fd(fo->progs.from_overlay), XCNI_DIR_FROM_OVERLAY, DEV_U, in, len,
		   ret, reason, want, want_len);
}

/*
 * What must leave for f (from outside) to RV6:bport: SNATed to NODE6:sp, one
 * hop less, in Geneve over IPv6 from NODE6 to NV (the outer label and port
 * the SNATed flow's hash, traffic class 0 as the inner's).
 */
static size_t remote_want(const struct g6 *f, uint16_t sp, uint16_t bport, uint8_t *want)
{
	uint8_t inner[FRAME_MAX];
	size_t ilen = np6_snat_inner(f, sp, RV6, bport, inner);

	return geneve_wrap_ul6(inner, ilen, NODE6, NV,
			       geneve_hash6(NODE6, sp, RV6, bport, f->proto), VNI, want);
}

/* RV6's answer (sport -> NODE6:dport) in nv's Geneve over IPv6; r: the inner frame. */
static size_t reply_in(struct g6 *r, uint16_t sport, uint16_t dport, uint8_t proto,
		       uint8_t flags, uint8_t *in)
{
	uint8_t inner[FRAME_MAX];
	size_t ilen;

	*r = outside6_to(RV6, sport, NODE6, dport, proto, flags);
	ilen = frame6(r, inner);
	return geneve_wrap_ul6(inner, ilen, NV, NODE6, geneve_hash6(RV6, sport, NODE6, dport, proto),
			       VNI, in);
}

static void lb6u_setup(void **state)
{
	(void)state;
	fo = ul6_load(1);
	assert_non_null(fo);
	assert_int_equal(ul6_node(NV, "nv", RV6, ID_RV), 0);
	fe6(NODE6, 30181, IPPROTO_TCP, 340, 0, 3401, RV6, 80);
	fe6(NODE6, 30182, IPPROTO_UDP, 341, 0, 3411, RV6, 5353);
	fe6(NODE6, 30190, IPPROTO_TCP, 343, XCNI_SVC_F_ETP_LOCAL, 0, NULL, 0);
	fe6(EXTV, 80, IPPROTO_TCP, 342, 0, 3421, RV6, 80);
	assert_int_equal(polrev_bump(), 0);
}

static void lb6u_teardown(void **state)
{
	(void)state;
	from_overlay__destroy(fo);
	fo = NULL;
}

/*
 * TCP to [NODE6]:30181, the backend RV6 on nv: DNAT, SNAT to NODE6 (the
 * client's port, free), Geneve over IPv6 to nv, counted towards it; RV6's
 * SYN-ACK in nv's Geneve over IPv6 is decapsulated, made the frontend's to
 * the client and sent out the underlay; the client's ACK goes the same way
 * as its SYN. UDP likewise.
 */
static void lb6u_nodeport_remote(void **state)
{
	struct g6 f = outside6_to(CLIENT6, 50110, NODE6, 30181, IPPROTO_TCP, T_SYN), r;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	uint64_t tx = tx_to(NV);
	size_t len, wlen;

	(void)state;
	len = frame6(&f, in);
	wlen = remote_want(&f, 50110, 80, want);
	expect(in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	assert_int_equal(tx_to(NV), tx + 1);
	snat6_check(bpf_map__fd(fo->maps.xcni_snat6), 50110, RV6, 80, IPPROTO_TCP, CLIENT6, 50110);

	len = reply_in(&r, 80, 50110, IPPROTO_TCP, T_SYN | T_ACK, in);
	wlen = frame6_as(&r, NODE6, 30181, CLIENT6, 50110, want);
	expect(in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);

	f = outside6_to(CLIENT6, 50110, NODE6, 30181, IPPROTO_TCP, T_ACK);
	len = frame6(&f, in);
	wlen = remote_want(&f, 50110, 80, want);
	expect(in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);

	f = outside6_to(CLIENT6, 50120, NODE6, 30182, IPPROTO_UDP, 0);
	len = frame6(&f, in);
	wlen = remote_want(&f, 50120, 5353, want);
	expect(in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	len = reply_in(&r, 5353, 50120, IPPROTO_UDP, 0, in);
	wlen = frame6_as(&r, NODE6, 30182, CLIENT6, 50120, want);
	expect(in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);

	/* externalTrafficPolicy Local, no backend here: still a drop of its own. */
	f = outside6_to(CLIENT6, 50121, NODE6, 30190, IPPROTO_TCP, T_SYN);
	len = frame6(&f, in);
	expect(in, len, TC_ACT_SHOT, XCNI_DROP_NO_LOCAL_BACKEND, NULL, 0);
}

/*
 * An externalIP with its backend on nv, xcni_self6 not written yet: the
 * SNAT source is the node's underlay address (node_ip6, the host's in the
 * ipcache6); RV6's reply leaves from the externalIP to the client. Written,
 * xcni_self6 is the source again (here the same address).
 */
static void lb6u_extip_remote(void **state)
{
	struct g6 f = outside6_to(CLIENT6, 50130, EXTV, 80, IPPROTO_TCP, T_SYN), r;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	size_t len, wlen;

	(void)state;
	self6_put_fd(bpf_map__fd(fo->maps.xcni_self6), NULL);
	len = frame6(&f, in);
	wlen = remote_want(&f, 50130, 80, want);
	expect(in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	len = reply_in(&r, 80, 50130, IPPROTO_TCP, T_SYN | T_ACK, in);
	wlen = frame6_as(&r, EXTV, 80, CLIENT6, 50130, want);
	expect(in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);

	/* A written address that is not the host's: refused, not node_ip6 instead. */
	self6_put_fd(bpf_map__fd(fo->maps.xcni_self6), CLIENT6);
	f = outside6_to(CLIENT6, 50131, EXTV, 80, IPPROTO_TCP, T_SYN);
	len = frame6(&f, in);
	expect(in, len, TC_ACT_SHOT, XCNI_DROP_NO_TUNNEL, NULL, 0);
	self6_put_fd(bpf_map__fd(fo->maps.xcni_self6), NODE6);
	wlen = remote_want(&f, 50131, 80, want);
	expect(in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
}

/*
 * Geneve for this node's underlay address is Geneve (the entry's
 * ul6_geneve), as on the IPv4 underlay, even with a frontend on its port
 * ([NODE6]:6081/UDP, which the API server's range would not give): RV6's
 * packet for A is decapsulated into A, not taken for the Service.
 */
static void lb6u_geneve_first(void **state)
{
	struct g6 r = { .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .src = RV6,
			.dst = A6, .sport = 7000, .dport = 7001, .proto = IPPROTO_UDP,
			.payload = 12 };
	struct xcni_svc_key k = { .port = htons(XCNI_GENEVE_PORT), .family = XCNI_AF_INET6,
				  .proto = IPPROTO_UDP };
	uint8_t inner[FRAME_MAX], in[FRAME_MAX];
	size_t ilen = frame6(&r, inner), len;

	(void)state;
	fe6(NODE6, XCNI_GENEVE_PORT, IPPROTO_UDP, 344, 0, 3441, RV6, 5353);
	len = geneve_wrap_ul6(inner, ilen, NV, NODE6,
			      geneve_hash6(RV6, 7000, A6, 7001, IPPROTO_UDP), VNI, in);
	expect(in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, NULL, 0);
	in6(NODE6, k.addr);
	assert_int_equal(bpf_map_delete_elem(map_fd("xcni_svc"), &k), 0);
}

static const struct CMUnitTest lb6_v6ul_tests[] = {
	cmocka_unit_test(lb6u_setup),
	cmocka_unit_test(lb6u_nodeport_remote),
	cmocka_unit_test(lb6u_extip_remote),
	cmocka_unit_test(lb6u_geneve_first),
	cmocka_unit_test(lb6u_teardown),
};
const struct group lb6_v6ul_group = { "lb6_v6ul", TESTS(lb6_v6ul_tests), .prep = lb6_state };

/*
 * --bench: from_overlay taking Geneve over IPv6 from nv (RV6:7000 -> A6:7001,
 * UDP, A's endpoint as bench6 left it) for a pod of this node, with Services
 * in BPF off and on, side by side from one run. Each run decapsulates its own
 * copy (repeat 1: a repeat would rerun the decapsulated skb).
 */
int ul6_bench(void)
{
	struct from_overlay *p[2] = { ul6_load(0), ul6_load(1) };
	struct g6 r = { .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .src = RV6,
			.dst = A6, .sport = 7000, .dport = 7001, .proto = IPPROTO_UDP,
			.payload = 12 };
	uint8_t inner[FRAME_MAX], in[FRAME_MAX], out[FRAME_MAX];
	struct __sk_buff ctx = { .ifindex = env.ifindex[DEV_U] };
	size_t ilen = frame6(&r, inner), len;
	uint64_t ns[2] = { 0, 0 };
	double per[2];
	int err = 0, n = 200000, rounds = 20;

	if (!p[0] || !p[1]) {
		err = -ENOENT;
		goto out;
	}
	if ((err = ul6_node(NV, "nv", RV6, ID_RV)))
		goto out;
	len = geneve_wrap_ul6(inner, ilen, NV, NODE6,
			      geneve_hash6(RV6, 7000, A6, 7001, IPPROTO_UDP), VNI, in);
	/* Warm up (conntrack's entry, caches), then measure in alternating
	 * rounds, so that a change of the machine's load falls on both. */
	for (int i = -1; i < rounds * 2; i++) {
		int k = i < 0 ? 0 : i % 2;

		for (int j = 0; j < (i < 0 ? n : n / rounds); j++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
				    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
				    .ctx_size_in = sizeof(ctx), .repeat = 1);

			if (bpf_prog_test_run_opts(bpf_program__fd(p[k]->progs.from_overlay), &o)) {
				err = -errno;
				goto out;
			}
			if (o.retval != TC_ACT_REDIRECT) {
				fprintf(stderr, "from_overlay (lb %d): verdict %u, want %d\n", k,
					o.retval, TC_ACT_REDIRECT);
				err = -EPROTO;
				goto out;
			}
			if (i >= 0)
				ns[k] += o.duration;
		}
	}
	per[0] = (double)ns[0] / n;
	per[1] = (double)ns[1] / n;
	printf("from_overlay, Geneve over IPv6 to a pod, %d runs each: %.1f ns/packet; with "
	       "Services in BPF: %.1f ns/packet (%.2fx)\n",
	       n, per[0], per[1], per[1] / per[0]);
out:
	from_overlay__destroy(p[1]);
	from_overlay__destroy(p[0]);
	return err;
}
