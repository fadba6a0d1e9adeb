// SPDX-License-Identifier: Apache-2.0
/*
 * IPv4 NodePorts over the IPv6 underlay (bpf/lib/nodeport.h, np4_tunnel's
 * IPv6 answer) through BPF_PROG_TEST_RUN: a node with an IPv4 address
 * (NODE_IP) whose underlay is IPv6 (NODE6), and a backend's node nv known
 * there only. --node-port-mode snat: DNAT, SNAT to NODE_IP, Geneve over
 * IPv6 to nv, the replies and ICMP errors undone (overlay_decap_first's
 * IPv4-inside-IPv6 path). --node-port-mode dsr: DNAT only, Geneve over
 * IPv6 with the DSR option naming the IPv4 frontend (family AF_INET, 94
 * bytes of headers); on the backend's node the option read for IPv4 inside
 * IPv6, the flow's entry opened with nv's address folded, the backend's
 * reply from the frontend, and what nv may not say refused with the reasons
 * DSR's rows over the IPv4 underlay have (nodeport_dsr.c, attack_geneve.c).
 * Every frame through from_overlay also runs through the XDP fast path of
 * the same settings (npx_attach_dual, xdp_np.c's differential): the DSR
 * request leaves XDP byte for byte as tc sends it.
 *
 * On np_state's maps (nodeport.c), with lb46u_setup's (fo46: lb_enabled,
 * node_ip NODE_IP, node_ip6 NODE6; fo46d the same with lb_dsr):
 *   NV    fc00:77::2   node nv, behind the IPv6 underlay (ul6_node)
 *   RV4   10.95.0.2    nv's pod's IPv4, ipcache TUN6 -> NV
 *   RV4X  10.95.0.3    a pod whose node is not known (no tunnel)
 *   NODE_IP:30185/TCP  3461: RV4:80                 -
 *   NODE_IP:30186/TCP  3471: RV4X:80                -
 * and dsr46_setup's, for this node as the backend's node:
 *   NW    fc00:77::3   node nw, behind the IPv6 underlay too
 *   NV4:30187/TCP      3481: B:8080   (nv's IPv4 NodePort, as every node holds it)
 *   NV4:30188/UDP      3482: B:5353
 *
 *   client --IPv4--> this node (NODE_IP/NODE6) --Geneve/IPv6 + option--> nv (RV4)
 *   client <--IPv4 from NV4:30187-- this node (B) <--Geneve/IPv6 + option-- nv
 *
 * Frames carry real L4 checksums; what the programs must leave is built from
 * scratch (svc_lib.c's frame(), underlay6.c's geneve_wrap_ul6, the option
 * byte by byte by nodeport_dsr.c's with_dsr_opt) and compared byte for
 * byte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "nodeport.h"

#define RV4 "10.95.0.2" /* nv's pod's IPv4 */
#define RV4X "10.95.0.3" /* a pod of no known node */
#define NV4 "192.168.79.2" /* nv's IPv4 InternalIP: its NodePorts' frontends here */
#define NW "fc00:77::3" /* node nw, behind the IPv6 underlay */
#define RW6 "fd00:95::3" /* a pod of nw */
#define ID_RW 0x3101 /* RW6's identity */
#define ENCAP6_DSR 94 /* Geneve over IPv6 with the option: 70 + 24 */

#define RV4 "10.95.0.2" /* nv's pod's IPv4 */
#define RV4X "10.95.0.3" /* a pod of no known node */

static struct from_overlay *fo46, *fo46d; /* node_ip and node_ip6; fo46d with lb_dsr */
static struct xcni_ipcache_val node4_was; /* NODE_IP's ipcache entry before lb46u_setup */
static int node4_had;

static void lb46u_setup(void **state)
{
	struct xcni_ipcache_val v = { .identity = ID_RV, .flags = XCNI_IPC_POD | XCNI_IPC_TUN6 };
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(RV4) };

	(void)state;
	fo46 = ul46_load(0);
	fo46d = ul46_load(1);
	assert_non_null(fo46);
	assert_non_null(fo46d);
	/* The XDP fast path of such a node, compared with it on every frame (xdp_np.c). */
	assert_int_equal(npx_attach_dual(bpf_program__fd(fo46->progs.from_overlay), NODE6, 0), 0);
	assert_int_equal(npx_attach_dual(bpf_program__fd(fo46d->progs.from_overlay), NODE6, 1), 0);
	assert_int_equal(ul6_node(NV, "nv", RV6, ID_RV), 0);
	in6(NV, v.tunnel_ip6);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &v, BPF_ANY), 0);
	k.addr = ip4(RV4X);
	v.flags = XCNI_IPC_POD;
	memset(v.tunnel_ip6, 0, 16);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &v, BPF_ANY), 0);
	/* This node's IPv4 as xcnid writes it (host): what overlay_decap_first
	 * takes for this node's own address; the harness's entry given back
	 * at teardown. */
	k.addr = ip4(NODE_IP);
	node4_had = !bpf_map_lookup_elem(map_fd("xcni_ipcache"), &k, &node4_was);
	v = (struct xcni_ipcache_val){ .identity = XCNI_ID_HOST };
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &v, BPF_ANY), 0);
	assert_int_equal(be_set(3461, RV4, 80, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NODE_IP, 30185, IPPROTO_TCP, 346, 0, 0, 0,
				 (const uint32_t[]){ 3461 }, 1, 0), 0);
	assert_int_equal(be_set(3471, RV4X, 80, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NODE_IP, 30186, IPPROTO_TCP, 347, 0, 0, 0,
				 (const uint32_t[]){ 3471 }, 1, 0), 0);
	assert_int_equal(polrev_bump(), 0);
}

static void lb46u_teardown(void **state)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(NODE_IP) };

	(void)state;
	if (node4_had)
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &node4_was, BPF_ANY),
				 0);
	else
		assert_int_equal(bpf_map_delete_elem(map_fd("xcni_ipcache"), &k), 0);
	npx_detach(bpf_program__fd(fo46->progs.from_overlay));
	npx_detach(bpf_program__fd(fo46d->progs.from_overlay));
	from_overlay__destroy(fo46);
	from_overlay__destroy(fo46d);
	fo46 = fo46d = NULL;
}

/* One packet through o's from_overlay on the underlay device. */
static void ul46_expect(struct from_overlay *o, const uint8_t *in, size_t len, int ret,
			int reason, const uint8_t *want, size_t want_len)
{
	expect6_fd(bpf_program__fd(o->progs.from_overlay), XCNI_DIR_FROM_OVERLAY, DEV_U, in, len,
		   ret, reason, want, want_len);
}

/* What must leave for f (from outside) to RV4:80: SNATed to NODE_IP:sp, one
 * hop less, in Geneve over IPv6 to nv (the flow hash of the inner tuple). */
static size_t ul46_want(const struct fr *f, uint16_t sp, uint8_t *want)
{
	uint8_t inner[FRAME_MAX];
	size_t ilen = np4_inner(f, sp, RV4, 80, inner, NULL);

	return geneve_wrap_ul6(inner, ilen, NODE6, NV,
			       geneve_hash6(NODE_IP, sp, RV4, 80, f->proto), VNI, want);
}

/*
 * An IPv4 NodePort whose backend's node is behind the IPv6 underlay: DNAT
 * to RV4, SNAT to NODE_IP (the client's port), Geneve over IPv6 to nv
 * (counted towards it); RV4's SYN-ACK through nv's Geneve over IPv6 is
 * undone (frontend -> client) and leaves by the underlay, the flow
 * established; the client's ACK goes the same way as its SYN.
 */
static void lb46u_nodeport_remote(void **state)
{
	struct fr f = from_outside(CLIENT, 50201, 30185, TH_SYN), r, t;
	uint8_t in[FRAME_MAX], want[FRAME_MAX], inner[FRAME_MAX];
	uint64_t tx = tx_to(NV);
	struct xcni_ct_entry e;
	size_t len, wlen, ilen;
	int found;

	(void)state;
	len = frame(&f, in);
	wlen = ul46_want(&f, 50201, want);
	ul46_expect(fo46, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	assert_int_equal(tx_to(NV), tx + 1);
	e = flow_entry4(ip4(NODE_IP), ip4(RV4), 50201, 80, XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT);
	assert_int_equal(e.rev_nat, 346);
	assert_int_equal(e.nat_addr, ip4(CLIENT));
	assert_int_equal(e.nat_port, htons(50201));

	/* RV4's SYN-ACK from nv, over IPv6: decapsulated, frontend -> client. */
	r = (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			 .saddr = ip4(RV4), .daddr = ip4(NODE_IP), .sport = 80, .dport = 50201,
			 .proto = IPPROTO_TCP, .flags = TH_SYN | TH_ACK };
	ilen = frame(&r, inner);
	len = geneve_wrap_ul6(inner, ilen, NV, NODE6,
			      geneve_hash6(RV4, 80, NODE_IP, 50201, IPPROTO_TCP), VNI, in);
	t = r;
	t.saddr = ip4(NODE_IP);
	t.sport = 30185;
	t.daddr = ip4(CLIENT);
	t.dport = 50201;
	wlen = frame(&t, want);
	ul46_expect(fo46, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
	e = ct_get(ip4(NODE_IP), ip4(RV4), 50201, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);

	/* The client's ACK: the same port again. */
	f = from_outside(CLIENT, 50201, 30185, TH_ACK);
	len = frame(&f, in);
	wlen = ul46_want(&f, 50201, want);
	ul46_expect(fo46, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
}

/*
 * RV4's ICMP fragmentation-needed through nv's Geneve over IPv6 about the
 * SNATed flow of lb46u_nodeport_remote (quoting NODE_IP:50201 -> RV4:80):
 * the client gets it from the NodePort, quoting client -> frontend, out the
 * underlay. About a port this node did not SNAT: decapsulated for the stack.
 */
static void lb46u_nodeport_icmp(void **state)
{
	uint8_t inner[FRAME_MAX], in[FRAME_MAX], want[FRAME_MAX];
	uint32_t h = geneve_hash6(RV4, 0, NODE_IP, 0, IPPROTO_ICMP);
	size_t len, ilen, wlen;

	(void)state;
	ilen = np4_frag_err(RV4, 50201, 30185, inner, want, &wlen);
	len = geneve_wrap_ul6(inner, ilen, NV, NODE6, h, VNI, in);
	ul46_expect(fo46, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);

	ilen = np4_frag_err(RV4, 50999, 30185, inner, want, &wlen);
	len = geneve_wrap_ul6(inner, ilen, NV, NODE6, h, VNI, in);
	ul46_expect(fo46, in, len, TC_ACT_OK, XCNI_FWD_DECAP_HOST, inner, ilen);
}

/*
 * What has no tunnel stays drop-no-tunnel: a backend whose node is known by
 * no underlay address, under --node-port-mode snat and dsr alike; and a
 * node of the IPv6 underlay without an IPv4 address (fo: node_ip 0, no SNAT
 * source). (A backend's node behind the IPv6 underlay under dsr is
 * lb46u_dsr_frontend's: sent with the option.)
 */
static void lb46u_no_tunnel(void **state)
{
	struct fr f = from_outside(CLIENT, 50221, 30186, TH_SYN);
	struct from_overlay *o6 = ul6_load(1);
	uint8_t in[FRAME_MAX];
	size_t len;

	(void)state;
	assert_non_null(o6);
	len = frame(&f, in);
	ul46_expect(fo46, in, len, TC_ACT_SHOT, XCNI_DROP_NO_TUNNEL, NULL, 0);
	f = from_outside(CLIENT, 50222, 30186, TH_SYN);
	len = frame(&f, in);
	ul46_expect(fo46d, in, len, TC_ACT_SHOT, XCNI_DROP_NO_TUNNEL, NULL, 0);
	f = from_outside(CLIENT, 50223, 30185, TH_SYN);
	len = frame(&f, in);
	ul46_expect(o6, in, len, TC_ACT_SHOT, XCNI_DROP_NO_TUNNEL, NULL, 0);
	from_overlay__destroy(o6);
}

/* ---- DSR over the IPv6 underlay: the option, the Geneve around it -------------- */

/*
 * Geneve over IPv6 from src to dst around inner (Ethernet + IPv4), hash its
 * flow's (geneve_hash6), with the option for fe:fport (family fam) after
 * the Geneve header (nodeport_dsr.c's with_dsr_opt: 6 option words, the C
 * bit), or none when fe is NULL. Its length.
 */
static size_t wrap46(const uint8_t *inner, size_t ilen, const char *src, const char *dst,
		     uint32_t hash, uint8_t fam, const char *fe, uint16_t fport, uint8_t *out)
{
	size_t len = geneve_wrap_ul6(inner, ilen, src, dst, hash, VNI, out);

	return with_dsr_opt(out, len, true, fe, fport, inner[ETH_HLEN + 9], fam);
}

/* nv's IPv4 NodePorts, as this node's maps hold them (EXT scope), and a second
 * node nw behind the IPv6 underlay. */
static void dsr46_setup(void **state)
{
	(void)state;
	assert_int_equal(be_set(3481, IP_B, 8080, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NV4, 30187, IPPROTO_TCP, 348, 0, 0, 0,
				 (const uint32_t[]){ 3481 }, 1, 0), 0);
	assert_int_equal(be_set(3482, IP_B, 5353, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NV4, 30188, IPPROTO_UDP, 349, 0, 0, 0,
				 (const uint32_t[]){ 3482 }, 1, 0), 0);
	assert_int_equal(ul6_node(NW, "nw", RW6, ID_RW), 0);
	assert_int_equal(polrev_bump(), 0);
}

/* ---- DSR: the node that takes the request --------------------------------------- */

/* What fo46d sends nv for f (client -> NODE_IP:30185): DNAT to RV4:80 (the
 * client kept), one hop less, Geneve over IPv6 with NODE_IP:30185 in the option. */
static size_t dsr46_want(const struct fr *f, const char *client, uint8_t *want)
{
	uint8_t inner[FRAME_MAX];
	size_t ilen = np4_inner(f, 0, RV4, 80, inner, NULL);

	return wrap46(inner, ilen, NODE6, NV, geneve_hash6(client, f->sport, RV4, 80, f->proto),
		      XCNI_AF_INET, NODE_IP, f->dport, want);
}

/*
 * --node-port-mode dsr, the backend's node behind the IPv6 underlay: the
 * SYN and the ACK leave DNATed to RV4:80 from the client itself, in Geneve
 * over IPv6 to nv with the option (94 bytes more), counted towards nv; the
 * XDP fast path takes both and sends the same bytes. Conntrack: the service
 * entry and the flow's (NodePort, DSR, the frontend's index); nothing SNATed.
 */
static void lb46u_dsr_frontend(void **state)
{
	struct fr f = from_outside(CLIENT, 50231, 30185, TH_SYN);
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	unsigned long xdp = npx_translated();
	uint64_t tx = tx_to(NV);
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	for (int ack = 0; ack < 2; ack++) {
		f.flags = ack ? TH_ACK : TH_SYN;
		len = frame(&f, in);
		wlen = dsr46_want(&f, CLIENT, want);
		assert_int_equal(wlen, len + ENCAP6_DSR);
		ul46_expect(fo46d, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	}
	assert_int_equal(npx_translated(), xdp + 2);
	assert_int_equal(tx_to(NV), tx + 2);
	e = flow_entry4(ip4(CLIENT), ip4(NODE_IP), 50231, 30185, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 3461);
	assert_int_equal(e.nat_port, 0);
	e = flow_entry4(ip4(CLIENT), ip4(RV4), 50231, 80, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	assert_int_equal(e.rev_nat, 346);
	ct_get(ip4(NODE_IP), ip4(RV4), 50231, 80, IPPROTO_TCP, &found);
	assert_false(found);
}

#define BIG 2048 /* a full-size frame's buffers (FRAME_MAX is the rows') */

/*
 * in (len bytes, up to BIG) through o's from_overlay on the underlay
 * device, after the XDP differential's run of it (npx_before_fd, as
 * expect6_fd does for the rows' frames): verdict ret, counted once under
 * reason (from-overlay), the output exactly want.
 */
static void expect_big(struct from_overlay *o, const uint8_t *in, size_t len, int ret, int reason,
		       const uint8_t *want, size_t wlen)
{
	uint8_t out[BIG];

	assert_int_equal(np_run_big(bpf_program__fd(o->progs.from_overlay), in, len, ret, reason,
				    out, true),
			 wlen);
	for (size_t i = 0; i < wlen; i++)
		if (out[i] != want[i])
			fail_msg("output differs first at byte %zu: 0x%02x, want 0x%02x", i, out[i],
				 want[i]);
}

/*
 * A request that fits the IPv6 underlay with the plain encapsulation (70)
 * but not with the option (94): tc sends it without the option (nv knows
 * the flow from its first packet), the XDP fast path hands it on untouched
 * (its FIB lookup says fragmentation needed at the DSR length).
 */
static void lb46u_dsr_mtu(void **state)
{
	struct fr f = from_outside(CLIENT, 50232, 30185, TH_SYN);
	uint8_t in[BIG], inner[BIG], want[BIG];
	unsigned long xdp = npx_translated();
	size_t len, ilen, wlen;

	(void)state;
	f.payload = 1380; /* IPv4 1420 bytes: + 70 fits 1500, + 94 does not */
	len = frame(&f, in);
	assert_int_equal(len, ETH_HLEN + 1420);
	ilen = np4_inner(&f, 0, RV4, 80, inner, NULL);
	wlen = wrap46(inner, ilen, NODE6, NV, geneve_hash6(CLIENT, 50232, RV4, 80, IPPROTO_TCP),
		      XCNI_AF_INET, NULL, 0, want);
	assert_int_equal(wlen, len + 70);
	expect_big(fo46d, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	assert_int_equal(npx_translated(), xdp);
	flow_entry4(ip4(CLIENT), ip4(RV4), 50232, 80, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
}

/* ---- DSR: the backend's node ----------------------------------------------------- */

/* The client's packet to B as nv sent it inside Geneve (one hop less). */
static struct fr to_b(const char *client, uint16_t sp, const char *dst, uint16_t dp,
		      uint8_t proto, uint8_t flags)
{
	return (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			    .saddr = ip4(client), .daddr = ip4(dst), .sport = sp, .dport = dp,
			    .proto = proto, .flags = flags, .ttl = 63,
			    .payload = proto == IPPROTO_UDP ? 12 : 0 };
}

/* node's Geneve over IPv6 to this node around f, with the option for
 * fe:fport (family fam) or none (fe NULL). Its length. */
static size_t from_node(const char *node, const struct fr *f, const char *client,
			const char *dst, uint8_t fam, const char *fe, uint16_t fport, uint8_t *out)
{
	uint8_t inner[FRAME_MAX];
	size_t ilen = frame(f, inner);

	return wrap46(inner, ilen, node, NODE6,
		      geneve_hash6(client, f->sport, dst, f->dport, f->proto), fam, fe, fport, out);
}

/*
 * This node as the backend's (fo46: Services in BPF; the sending node's
 * mode is the sender's): nv sends CLIENT -> B:8080 over IPv6 with
 * NV4:30187 in the option. Decapsulated into B, the client kept; the flow's
 * entry NodePort and DSR with the frontend's index here (348) and nv's
 * address folded; B's SYN-ACK leaves from NV4:30187 straight out of the
 * underlay; the client's ACK without the option (one that did not fit) is
 * nv's flow. UDP to NV4:30188 likewise.
 */
static void lb46u_dsr_backend(void **state)
{
	struct fr f = to_b(CLIENT, 50241, IP_B, 8080, IPPROTO_TCP, TH_SYN), t;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	len = from_node(NV, &f, CLIENT, IP_B, XCNI_AF_INET, NV4, 30187, in);
	t = into(f, DEV_B);
	wlen = frame(&t, want);
	ul46_expect(fo46, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	e = flow_entry4(ip4(CLIENT), ip4(IP_B), 50241, 8080, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	assert_int_equal(e.rev_nat, 348);
	assert_int_equal(e.nat_addr, addr_word(NV));

	/* B's SYN-ACK: from nv's NodePort, straight out of this node's underlay. */
	b_answers4(CLIENT, 50241, 8080, IPPROTO_TCP, TH_SYN | TH_ACK, NV4, 30187);
	e = ct_get(ip4(CLIENT), ip4(IP_B), 50241, 8080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);

	/* The client's ACK without the option: the flow nv opened. */
	f.flags = TH_ACK;
	len = from_node(NV, &f, CLIENT, IP_B, XCNI_AF_INET, NULL, 0, in);
	t = into(f, DEV_B);
	wlen = frame(&t, want);
	ul46_expect(fo46, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);

	/* UDP: NV4:30188 -> B:5353, B's answer from the frontend (UDP checksum). */
	f = to_b(CLIENT, 50242, IP_B, 5353, IPPROTO_UDP, 0);
	len = from_node(NV, &f, CLIENT, IP_B, XCNI_AF_INET, NV4, 30188, in);
	t = into(f, DEV_B);
	wlen = frame(&t, want);
	ul46_expect(fo46, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	e = ct_get(ip4(CLIENT), ip4(IP_B), 50242, 5353, IPPROTO_UDP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	assert_int_equal(e.rev_nat, 349);
	b_answers4(CLIENT, 50242, 5353, IPPROTO_UDP, 0, NV4, 30188);
}

/* No conntrack entry for client:sp -> dst:dp (TCP): what a refused packet leaves. */
static void no_flow(const char *client, uint16_t sp, const char *dst, uint16_t dp)
{
	int found;

	ct_get(ip4(client), ip4(dst), sp, dp, IPPROTO_TCP, &found);
	assert_false(found);
}

/*
 * What a node may not say over the IPv6 underlay, refused with the reasons
 * DSR's rows over the IPv4 underlay have, nothing tracked:
 *  - an outside source without the option, of no flow nv opened, and nw
 *    continuing the flow nv opened (lb46u_dsr_backend's): drop-inner-spoof;
 *  - an option naming a frontend this node lacks, or an IPv6 frontend
 *    (one this node has) around IPv4, an unknown critical option:
 *    drop-bad-geneve (the same option with its critical bit clear is
 *    skipped: the client is still not nv's to speak for);
 *  - an option naming NV4:30187 for a pod that is not its backend (C), or
 *    B at another port: drop-dsr-not-backend;
 *  - the option to a destination that is no pod here (n2's R): drop-unknown-dst;
 *  - a spoofed inner source (a pod of this node, n2's pod, this node's own
 *    address) with the option: drop-inner-spoof;
 *  - the option from an outer source that is no node: drop-unknown-node;
 *  - the option where Services are kube-proxy's (a node of the IPv6
 *    underlay without Services in BPF): an unknown critical option,
 *    drop-bad-geneve.
 */
static void lb46u_dsr_refused(void **state)
{
	/* client:sp -> dst:dp (TCP, flags) in node's Geneve over IPv6, the
	 * option for fe:fport (family fam) or none (fe NULL); opt: the
	 * option's class made 0x0101, critical (1) or not (2); kp: to the node
	 * whose Services are kube-proxy's; gone: no flow left for it. */
	static const struct {
		const char *client;
		uint16_t sp;
		const char *dst;
		uint16_t dp;
		uint8_t flags;
		const char *node;
		uint8_t fam;
		const char *fe;
		uint16_t fport;
		uint8_t opt;
		bool kp, gone;
		int reason;
	} rows[] = {
		{ CLIENT2, 50251, IP_B, 8080, TH_SYN, NV, XCNI_AF_INET, NULL, 0,
		  .reason = XCNI_DROP_INNER_SPOOF },
		{ CLIENT, 50241, IP_B, 8080, TH_ACK, NW, XCNI_AF_INET, NULL, 0,
		  .reason = XCNI_DROP_INNER_SPOOF },
		{ CLIENT2, 50252, IP_B, 8080, TH_SYN, NV, XCNI_AF_INET, NV4, 30199,
		  .reason = XCNI_DROP_BAD_GENEVE },
		{ CLIENT2, 50252, IP_B, 8080, TH_SYN, NV, XCNI_AF_INET6, NODE6, 30080,
		  .reason = XCNI_DROP_BAD_GENEVE },
		{ CLIENT2, 50252, IP_B, 8080, TH_SYN, NV, XCNI_AF_INET, NV4, 30187, .opt = 1,
		  .reason = XCNI_DROP_BAD_GENEVE },
		{ CLIENT2, 50252, IP_B, 8080, TH_SYN, NV, XCNI_AF_INET, NV4, 30187, .opt = 2,
		  .gone = true, .reason = XCNI_DROP_INNER_SPOOF },
		{ CLIENT2, 50253, IP_C, 8080, TH_SYN, NV, XCNI_AF_INET, NV4, 30187, .gone = true,
		  .reason = XCNI_DROP_DSR_NOT_BACKEND },
		{ CLIENT2, 50254, IP_B, 9999, TH_SYN, NV, XCNI_AF_INET, NV4, 30187, .gone = true,
		  .reason = XCNI_DROP_DSR_NOT_BACKEND },
		{ CLIENT2, 50255, IP_R, 8080, TH_SYN, NV, XCNI_AF_INET, NV4, 30187,
		  .reason = XCNI_DROP_UNKNOWN_DST },
		{ IP_A, 50256, IP_B, 8080, TH_SYN, NV, XCNI_AF_INET, NV4, 30187, .gone = true,
		  .reason = XCNI_DROP_INNER_SPOOF },
		{ IP_R, 50257, IP_B, 8080, TH_SYN, NV, XCNI_AF_INET, NV4, 30187,
		  .reason = XCNI_DROP_INNER_SPOOF },
		{ NODE_IP, 50258, IP_B, 8080, TH_SYN, NV, XCNI_AF_INET, NV4, 30187,
		  .reason = XCNI_DROP_INNER_SPOOF },
		{ CLIENT2, 50259, IP_B, 8080, TH_SYN, "fc00:77::99", XCNI_AF_INET, NV4, 30187,
		  .reason = XCNI_DROP_UNKNOWN_NODE },
		{ CLIENT2, 50259, IP_B, 8080, TH_SYN, NV, XCNI_AF_INET, NV4, 30187, .kp = true,
		  .gone = true, .reason = XCNI_DROP_BAD_GENEVE },
	};
	struct from_overlay *kp = ul6_load(0);
	uint8_t in[FRAME_MAX], *opt = in + ETH_HLEN + 40 + 8 + 8;
	struct fr f;
	size_t len;

	(void)state;
	assert_non_null(kp);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		f = to_b(rows[i].client, rows[i].sp, rows[i].dst, rows[i].dp, IPPROTO_TCP,
			 rows[i].flags);
		len = from_node(rows[i].node, &f, rows[i].client, rows[i].dst, rows[i].fam,
				rows[i].fe, rows[i].fport, in);
		if (rows[i].opt) {
			opt[0] = opt[1] = 0x01; /* class 0x0101: not ours, still critical */
			if (rows[i].opt == 2)
				opt[2] = 0x01; /* the same, not critical: skipped */
		}
		ul46_expect(rows[i].kp ? kp : fo46, in, len, TC_ACT_SHOT, rows[i].reason, NULL, 0);
		if (rows[i].gone)
			no_flow(rows[i].client, rows[i].sp, rows[i].dst, rows[i].dp);
	}
	from_overlay__destroy(kp);
}

/* ---- Nodes of another --tunnel-family (a rolling change) ------------------ */

#define PM_T6 "10.95.0.5" /* nm's pod, entry XCNI_IPC_TUN6 (this node sends IPv6) */
#define PM_T4 "10.95.0.6" /* nm's pod, entry without it (this node sends IPv4) */

/* Node name in xcni_tunnel (ip4) or xcni_tunnel6 (ip6) at a, its counters zero. */
static void mix_node_as(const char *name, const char *a, int v6)
{
	struct xcni_tunnel t = { 0 };
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat zero[ncpu];
	uint8_t k[16];

	memset(zero, 0, sizeof(zero));
	snprintf(t.node, sizeof(t.node), "%s", name);
	if (v6)
		in6(a, k);
	else
		*(uint32_t *)k = ip4(a);
	assert_int_equal(bpf_map_update_elem(map_fd(v6 ? "xcni_tunnel6" : "xcni_tunnel"), k, &t,
					     BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd(v6 ? "xcni_tunstat6" : "xcni_tunstat"), k, zero,
					     BPF_ANY), 0);
}

/* Node nm there. */
static void mix_node(const char *a, int v6)
{
	mix_node_as("nm", a, v6);
}

static void mix_unnode(const char *a, int v6)
{
	uint8_t k[16];

	if (v6)
		in6(a, k);
	else
		*(uint32_t *)k = ip4(a);
	assert_int_equal(bpf_map_delete_elem(map_fd(v6 ? "xcni_tunnel6" : "xcni_tunnel"), k), 0);
	assert_int_equal(bpf_map_delete_elem(map_fd(v6 ? "xcni_tunstat6" : "xcni_tunstat"), k), 0);
}

/* nm's pod a as xcnid writes it: both endpoints (tunnel_set), flags the send choice. */
static void mix_pod(const char *a, uint32_t flags)
{
	struct xcni_ipcache_val v = { .identity = ID_RV, .flags = XCNI_IPC_POD | flags,
				      .tunnel_ip = ip4(NM4) };
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(a) };

	in6(NM6, v.tunnel_ip6);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &v, BPF_ANY), 0);
}

/* Geneve from node (IPv4 or IPv6 underlay) to this node (NODE_IP / NODE6)
 * around f (src -> B), no options. */
static size_t mix_from(const char *node, const struct fr *f, const char *src, uint8_t *out)
{
	uint8_t inner[FRAME_MAX];
	size_t ilen = frame(f, inner);
	struct xcni_ct_key t = { .saddr = f->saddr, .daddr = f->daddr, .sport = htons(f->sport),
				 .dport = htons(f->dport), .proto = f->proto };

	if (strchr(node, ':'))
		return geneve_wrap_ul6(inner, ilen, node, NODE6,
				       geneve_hash6(src, f->sport, IP_B, f->dport, f->proto), VNI,
				       out);
	return geneve_wrap(t, inner, ilen, inner, node, NODE_IP, VNI, 0, out);
}

/* One of nm's pods (src) to B:8080, from node: decapsulated into B, or
 * refused with reason (nothing tracked). */
static void mix_expect(const char *node, const char *src, uint16_t sp, int reason)
{
	struct fr f = to_b(src, sp, IP_B, 8080, IPPROTO_UDP, 0), t;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	size_t len = mix_from(node, &f, src, in), wlen;

	if (reason == XCNI_FWD_DECAP) {
		t = into(f, DEV_B);
		wlen = frame(&t, want);
		ul46_expect(fo46, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	} else {
		ul46_expect(fo46, in, len, TC_ACT_SHOT, reason, NULL, 0);
	}
}

/*
 * A rolling change of --tunnel-family: node nm (NM4, NM6, in both tunnel
 * maps as xcnid lists a node of both families on a node of both) sends in
 * the family its own setting picks, whatever this node sends it in. Its
 * pods' entries carry both endpoints; XCNI_IPC_TUN6 (this node's send
 * choice) does not decide what is accepted: PM_T6 (this node sends IPv6)
 * and PM_T4 (IPv4) both accepted from NM4 over IPv4 and from NM6 over IPv6.
 * Still refused: a non-node at either family (drop-unknown-node); nm
 * speaking for nv's pod (TUN6, tunnel_ip6 NV only) or for a pod whose entry
 * has no endpoint (RV4X), and nv speaking for nm's pod, n2 (IPv4) too:
 * drop-inner-spoof.
 */
static void lb46u_mixed_family(void **state)
{
	(void)state;
	mix_node(NM4, 0);
	mix_node(NM6, 1);
	mix_pod(PM_T6, XCNI_IPC_TUN6);
	mix_pod(PM_T4, 0);
	assert_int_equal(polrev_bump(), 0);

	mix_expect(NM4, PM_T6, 51001, XCNI_FWD_DECAP);
	mix_expect(NM6, PM_T6, 51002, XCNI_FWD_DECAP);
	mix_expect(NM6, PM_T4, 51003, XCNI_FWD_DECAP);
	mix_expect(NM4, PM_T4, 51004, XCNI_FWD_DECAP);

	mix_expect("192.168.79.99", PM_T6, 51011, XCNI_DROP_UNKNOWN_NODE);
	mix_expect("fc00:77::99", PM_T6, 51012, XCNI_DROP_UNKNOWN_NODE);
	mix_expect("192.168.79.99", PM_T4, 51013, XCNI_DROP_UNKNOWN_NODE);
	mix_expect("fc00:77::99", PM_T4, 51014, XCNI_DROP_UNKNOWN_NODE);

	mix_expect(NM6, RV4, 51021, XCNI_DROP_INNER_SPOOF);
	mix_expect(NM4, RV4, 51022, XCNI_DROP_INNER_SPOOF);
	mix_expect(NM6, RV4X, 51023, XCNI_DROP_INNER_SPOOF);
	mix_expect(NV, PM_T6, 51024, XCNI_DROP_INNER_SPOOF);
	mix_expect(NV, PM_T4, 51025, XCNI_DROP_INNER_SPOOF);
	mix_expect(N2, PM_T6, 51026, XCNI_DROP_INNER_SPOOF);
	mix_expect(N2, PM_T4, 51027, XCNI_DROP_INNER_SPOOF);

	mix_unnode(NM4, 0);
	mix_unnode(NM6, 1);
}

/* ---- A DSR flow whose frontend's node changes --tunnel-family ----------- */

#define NZ4 "192.168.79.6" /* node nz's IPv4 InternalIP */
#define NZ6 "fc00:77::6" /* its IPv6 InternalIP */

/* Declared in nodeport.h. */
const struct dsr_fam dsr_fams[4] = {
	{ false, NM4, NM6, NM4, NZ6 },
	{ false, NM6, NM4, NM4, NZ4 },
	{ true, NM4, NM6, NM6, NZ6 },
	{ true, NM6, NM4, NM6, NZ4 },
};

/* Declared in nodeport.h (decap_xdp.c's XDP rows of the same flows use it too). */
void dual_node(const char *name, const char *a4, const char *a6, uint16_t fport, uint32_t id)
{
	struct xcni_ipcache_val v = { .identity = XCNI_ID_REMOTE_NODE, .tunnel_ip = ip4(a4) };
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(a4) };
	struct xcni_ipcache6_key k6 = { .prefixlen = 128 };

	mix_node_as(name, a4, 0);
	mix_node_as(name, a6, 1);
	in6(a6, v.tunnel_ip6);
	in6(a6, k6.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &v, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &k6, &v, BPF_ANY), 0);
	if (!fport)
		return;
	assert_int_equal(be_set(id * 10 + 1, IP_B, 8080, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(a4, fport, IPPROTO_TCP, id, 0, 0, 0,
				 (const uint32_t[]){ id * 10 + 1 }, 1, 0), 0);
	be6((id + 1) * 10 + 1, B6, 8080);
	svc6(a6, fport, IPPROTO_TCP, id + 1, 0, (const uint32_t[]){ (id + 1) * 10 + 1 }, 1);
	assert_int_equal(polrev_bump(), 0);
}

void dual_unnode(const char *a4, const char *a6)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(a4) };
	struct xcni_ipcache6_key k6 = { .prefixlen = 128 };

	in6(a6, k6.addr);
	mix_unnode(a4, 0);
	mix_unnode(a6, 1);
	assert_int_equal(bpf_map_delete_elem(map_fd("xcni_ipcache"), &k), 0);
	assert_int_equal(bpf_map_delete_elem(map_fd("xcni_ipcache6"), &k6), 0);
}

void dsr_fam_begin(uint32_t id)
{
	dual_node("nm", NM4, NM6, DSR_FPORT, id);
	dual_node("nz", NZ4, NZ6, 0, 0);
}

void dsr_fam_end(void)
{
	dual_unnode(NM4, NM6);
	dual_unnode(NZ4, NZ6);
}

size_t dsr_inner(const char *client, uint16_t cport, bool inner6, uint8_t flags, bool at_b,
		 uint8_t *out)
{
	struct fr f;
	struct g6 f6;

	if (inner6) {
		f6 = outside6_to(client, cport, B6, 8080, IPPROTO_TCP, flags);
		f6.hop = 63;
		if (at_b)
			f6 = into6(f6, DEV_B);
		return frame6(&f6, out);
	}
	f = to_b(client, cport, IP_B, 8080, IPPROTO_TCP, flags);
	if (at_b)
		f = into(f, DEV_B);
	return frame(&f, out);
}

size_t dsr_geneve(const char *node, const char *client, uint16_t cport, bool inner6,
		  uint8_t flags, const char *fe, uint16_t fport, uint8_t *out)
{
	const char *be = inner6 ? B6 : IP_B;
	bool ul6 = strchr(node, ':') != NULL;
	uint8_t inner[FRAME_MAX];
	size_t ilen = dsr_inner(client, cport, inner6, flags, false, inner), len;

	if (ul6)
		len = geneve_wrap_ul6(inner, ilen, node, NODE6,
				      geneve_hash6(client, cport, be, 8080, IPPROTO_TCP), VNI, out);
	else if (inner6)
		len = geneve_wrap6(inner, ilen, node, NODE_IP,
				   geneve_sport6(client, cport, be, 8080, IPPROTO_TCP), VNI, out);
	else
		len = geneve_wrap((struct xcni_ct_key){ .saddr = ip4(client), .daddr = ip4(be),
							.sport = htons(cport), .dport = htons(8080),
							.proto = IPPROTO_TCP },
				  inner, ilen, inner, node, NODE_IP, VNI, 0, out);
	return with_dsr_opt(out, len, ul6, fe, fport, IPPROTO_TCP,
			    fe && !strchr(fe, ':') ? XCNI_AF_INET : 0);
}

struct xcni_ct_entry dsr_flow(const char *client, uint16_t cport, bool inner6)
{
	const uint8_t fl = XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR;

	return inner6 ? flow_entry6(client, cport, B6, 8080, fl) :
			flow_entry4(ip4(client), ip4(IP_B), cport, 8080, fl);
}

void dsr_b_synack(const char *client, uint16_t cport, bool inner6, const char *fe, uint16_t fport)
{
	if (inner6)
		b_answers(client, cport, 8080, IPPROTO_TCP, T_SYN | T_ACK, fe, fport);
	else
		b_answers4(client, cport, 8080, IPPROTO_TCP, TH_SYN | TH_ACK, fe, fport);
}

/*
 * A DSR flow whose frontend's node changes --tunnel-family in the middle of
 * it (a rolling change: xcnid restarted with --tunnel-family ipv6, or back
 * to ipv4). nm (NM4 and NM6, both in the tunnel maps and the ipcache as
 * xcnid writes a node of both families, dual_node) took the client at its
 * NodePort and sent the SYN with the option over one underlay, from its
 * InternalIP of that family; its later packets, without the option, come
 * over the other underlay from its other InternalIP. The same node: the
 * ACK is nm's flow, delivered into B as the SYN was, and the entry names
 * nm by the address it now sends from (the next packets need no more than
 * before). For IPv4 and IPv6 inside, IPv4 then IPv6 and IPv6 then IPv4.
 * Still refused, as before: that ACK from nz, another node of both
 * families, at the new family (drop-inner-spoof: not its flow, though the
 * ipcache knows it as well), before and after the change; and from a
 * non-node at the new family (drop-unknown-node).
 */
static void lb46u_dsr_family_change(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, wlen;

	(void)state;
	dsr_fam_begin(370);
	for (size_t i = 0; i < ARRAY_SIZE(dsr_fams); i++) {
		const struct dsr_fam *c = &dsr_fams[i];
		const char *client = c->inner6 ? CLIENT6 : CLIENT;
		const char *stranger = strchr(c->then, ':') ? "fc00:77::99" : "192.168.79.99";
		uint16_t cp = (uint16_t)(51101 + i);
		bool v6 = c->inner6;

		print_message("  %s inside, the SYN from %s, the rest from %s\n", v6 ? "IPv6" : "IPv4",
			      c->first, c->then);
		/* The SYN with the option: the flow recorded with first's address. */
		len = dsr_geneve(c->first, client, cp, v6, TH_SYN, c->fe, DSR_FPORT, in);
		wlen = dsr_inner(client, cp, v6, TH_SYN, true, want);
		ul46_expect(fo46, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
		e = dsr_flow(client, cp, v6);
		assert_int_equal(e.rev_nat, v6 ? 371 : 370);
		assert_int_equal(e.nat_addr, addr_word(c->first));
		dsr_b_synack(client, cp, v6, c->fe, DSR_FPORT);
		/* The ACK without the option, before nm's change: nz's and a
		 * stranger's refused. */
		len = dsr_geneve(c->other, client, cp, v6, TH_ACK, NULL, 0, in);
		ul46_expect(fo46, in, len, TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0);
		len = dsr_geneve(stranger, client, cp, v6, TH_ACK, NULL, 0, in);
		ul46_expect(fo46, in, len, TC_ACT_SHOT, XCNI_DROP_UNKNOWN_NODE, NULL, 0);
		/* nm's, from its other address: its flow. */
		len = dsr_geneve(c->then, client, cp, v6, TH_ACK, NULL, 0, in);
		wlen = dsr_inner(client, cp, v6, TH_ACK, true, want);
		ul46_expect(fo46, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
		e = dsr_flow(client, cp, v6);
		assert_int_equal(e.state, XCNI_CT_ESTABLISHED);
		assert_int_equal(e.rev_nat, v6 ? 371 : 370);
		assert_int_equal(e.nat_addr, addr_word(c->then));
		/* nz's after the change: still not its flow. */
		len = dsr_geneve(c->other, client, cp, v6, TH_ACK, NULL, 0, in);
		ul46_expect(fo46, in, len, TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0);
		/* And nm back at its first address (the change rolled back). */
		len = dsr_geneve(c->first, client, cp, v6, TH_ACK, NULL, 0, in);
		ul46_expect(fo46, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	}
	dsr_fam_end();
}

/* ---- The group ----------------------------------------------------------- */

static const struct CMUnitTest nodeport_ul46_tests[] = {
	cmocka_unit_test(lb46u_setup),
	cmocka_unit_test(lb46u_nodeport_remote),
	cmocka_unit_test(lb46u_nodeport_icmp),
	cmocka_unit_test(lb46u_no_tunnel),
	cmocka_unit_test(dsr46_setup),
	cmocka_unit_test(lb46u_dsr_frontend),
	cmocka_unit_test(lb46u_dsr_mtu),
	cmocka_unit_test(lb46u_dsr_backend),
	cmocka_unit_test(lb46u_dsr_refused),
	cmocka_unit_test(lb46u_mixed_family),
	cmocka_unit_test(lb46u_dsr_family_change),
	cmocka_unit_test(lb46u_teardown),
};
const struct group nodeport_ul46_group = { "nodeport_ul46", TESTS(nodeport_ul46_tests),
					    .prep = np_state };
