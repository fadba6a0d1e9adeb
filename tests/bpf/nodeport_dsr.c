// SPDX-License-Identifier: Apache-2.0
/*
 * NodePort DSR (bpf/lib/nodeport.h, --node-port-mode dsr) through
 * BPF_PROG_TEST_RUN, both families side by side: the node taking the
 * request sends it to the backend's node in Geneve with the frontend in the
 * DSR option (RFC 8926 3.5: class 0xfff0, type 0x81), the client's address
 * kept; the backend's node takes the option, keeps the frontend in the flow's
 * entry, and the backend's reply leaves from the frontend, straight out the
 * underlay. Refused: options naming a frontend this node lacks, an outside
 * source with no option and no flow, an inner source that is a pod, unknown
 * critical options, the option where Services are not in BPF.
 *
 * On the frontends svc_lib.c's lb_setup and nodeport.c's np6_setup write
 * (prep svc_state):
 *   NODE_IP:30081/TCP -> R:80 (on n2), N2:30080/TCP -> B:8080 (n2's, here)
 *   [NODE6]:30081/TCP -> R6N:80 (on n2), [NODE6]:30082/UDP -> R6N:5353
 * and here (dsr6_setup) the frontend of another node's address, as every
 * node holds it:
 *   [N2_6]:30085/TCP  -> B:8080 (this node), [N2_6]:30086/UDP -> B:5353
 * Then the same over an IPv6 underlay, on a from_overlay of this file's with
 * node_ip6 (UL_SELF) and the harness's maps:
 *   [NODE6]:30087/TCP -> R6V:80 (a pod of the node at UL_N, behind it)
 * Every frame the programs must leave is built from scratch here
 * (checksums computed in full, the option byte by byte) and compared byte
 * for byte.
 */
#include <arpa/inet.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "nodeport.h"

/* Besides nodeport.h's and lb6.h's names: */
#define N2_6 "fc00:77::2" /* n2's IPv6 InternalIP: its NodePorts' frontends */
#define DCLIENT "2001:db8:2::9" /* outside the cluster: world */
#define DCLIENT2 "2001:db8:2::a"
/* The IPv6 underlay. */
#define UL_SELF "fc00:79::1" /* this node's underlay address (node_ip6) */
#define UL_N "fc00:79::2" /* another node's, in xcni_tunnel6 */
#define R6V "fd00:95::7" /* a pod of UL_N */

/* ---- The option, the Geneve around it ------------------------------------ */

/*
 * The DSR option for [fe]:fport/proto at o, as RFC 8926 3.5 lays it out:
 * class 0xfff0, type 0x81 (critical), 5 words: family (AF_INET6, 10, unless
 * family says AF_INET: fe IPv4, 4 bytes and 12 of zeros), the protocol, the
 * port, the 16-byte address.
 */
static void dsr_opt(uint8_t *o, const char *fe, uint16_t fport, uint8_t proto, uint8_t family)
{
	memset(o, 0, 24);
	o[0] = 0xff; /* class 0xfff0 (experimental use) */
	o[1] = 0xf0;
	o[2] = 0x81; /* type 1, the critical bit set */
	o[3] = 5; /* reserved bits 0, then 5 words of data */
	o[4] = family ? family : 10;
	o[5] = proto;
	o[6] = (uint8_t)(fport >> 8);
	o[7] = (uint8_t)fport;
	if (family == XCNI_AF_INET) {
		uint32_t a = ip4(fe);

		memcpy(o + 8, &a, 4);
	} else {
		in6(fe, o + 8);
	}
}

/* Adds n to the 16-bit big-endian field at p. */
static void be16_add(uint8_t *p, size_t n)
{
	uint16_t v = (uint16_t)((p[0] << 8 | p[1]) + n);

	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Declared in nodeport.h (decap_xdp.c's DSR rows use it too). */
size_t with_dsr_opt(uint8_t *pkt, size_t len, bool ip6, const char *fe, uint16_t fport,
		    uint8_t proto, uint8_t family)
{
	uint8_t *ip = pkt + ETH_HLEN, *udp = ip + (ip6 ? 40 : 20), *g = udp + 8, *o = g + 8;
	uint16_t v;

	if (!fe)
		return len;
	assert_true(len + 24 <= FRAME_MAX);
	memmove(o + 24, o, len - (size_t)(o - pkt));
	dsr_opt(o, fe, fport, proto, family);
	be16_add(udp + 4, 24);
	if (ip6) {
		be16_add(ip + 4, 24);
	} else {
		be16_add(ip + 2, 24);
		ip[10] = ip[11] = 0;
		v = csum(ip, 20);
		memcpy(ip + 10, &v, 2);
	}
	g[0] = 6; /* version 0, 6 option words */
	g[1] = 0x40; /* C */
	return len + 24;
}

/* geneve_wrap with the DSR option for the IPv4 frontend fe:fport (with_dsr_opt). */
static size_t dsr_wrap(struct xcni_ct_key t, const uint8_t *inner, size_t ilen, const uint8_t *eth,
		       const char *src, const char *dst, const char *fe, uint16_t fport,
		       uint8_t *out)
{
	size_t len = geneve_wrap(t, inner, ilen, eth, src, dst, VNI, 0, out);

	return with_dsr_opt(out, len, false, fe, fport, t.proto, XCNI_AF_INET);
}

/* Geneve from node src to dst around inner (Ethernet + IPv6), with_dsr_opt. */
static size_t dwrap(const uint8_t *inner, size_t ilen, const char *src, const char *dst,
		    uint16_t sport, const char *fe, uint16_t fport, uint8_t proto, uint8_t family,
		    uint8_t *out)
{
	size_t len = geneve_wrap6(inner, ilen, src, dst, sport, VNI, out);

	return with_dsr_opt(out, len, false, fe, fport, proto, family);
}

/*
 * Geneve over IPv6 from src to dst around inner (Ethernet + IPv6), hash the
 * inner flow's (geneve_wrap_ul6: the flow label and source port from it),
 * with_dsr_opt.
 */
static size_t dwrap_ul6(const uint8_t *inner, size_t ilen, const char *src, const char *dst,
			uint32_t hash, const char *fe, uint16_t fport, uint8_t proto, uint8_t *out)
{
	size_t len = geneve_wrap_ul6(inner, ilen, src, dst, hash, VNI, out);

	return with_dsr_opt(out, len, true, fe, fport, proto, 0);
}

static struct from_overlay *ul6;

/* expect6 through this file's from_overlay with node_ip6 (counted from-overlay). */
static void expect_ul6(const uint8_t *in, size_t len, int ret, int reason, const uint8_t *want,
		       size_t wlen)
{
	expect6_fd(bpf_program__fd(ul6->progs.from_overlay), XCNI_DIR_FROM_OVERLAY, DEV_U, in, len,
		   ret, reason, want, wlen);
}

/* n2's NodePorts as this node's maps hold them (EXT scope, another node's address). */
static void dsr6_setup(void **state)
{
	static const uint32_t tcp_be = 3301, udp_be = 3302;
	struct xcni_backend b = { .family = XCNI_AF_INET6 };
	uint32_t id;

	(void)state;
	in6(B6, b.addr);
	b.port = htons(8080);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_backend"), &tcp_be, &b, BPF_ANY), 0);
	b.port = htons(5353);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_backend"), &udp_be, &b, BPF_ANY), 0);
	for (id = 330; id <= 331; id++) {
		struct xcni_svc_key k = { .port = htons(id == 330 ? 30085 : 30086),
					  .family = XCNI_AF_INET6,
					  .proto = id == 330 ? IPPROTO_TCP : IPPROTO_UDP };
		struct xcni_svc s = { .id = id, .count = 1, .rev_nat = (uint16_t)id };
		struct xcni_revnat rn = { .port = k.port, .family = XCNI_AF_INET6 };
		struct xcni_svcslot_key sk = { .svc_id = id };
		uint16_t rid = (uint16_t)id;

		in6(N2_6, k.addr);
		in6(N2_6, rn.addr);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_svcslot"), &sk,
						     id == 330 ? &tcp_be : &udp_be, BPF_ANY),
				 0);
		assert_int_equal(svcbe_put(id, id == 330 ? tcp_be : udp_be), 0);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_revnat"), &rid, &rn, BPF_ANY), 0);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_svc"), &k, &s, BPF_ANY), 0);
	}
}

/* ---- The node taking the request ----------------------------------------- */

/* What the node taking f (from outside, for NODE_IP:30081) sends n2: to R:80, the option. */
static size_t front4_want(const struct fr *f, const uint8_t *in, uint8_t *want)
{
	uint8_t inner[FRAME_MAX];
	struct xcni_ct_key tuple;
	size_t ilen = np4_inner(f, 0, IP_R, 80, inner, &tuple);

	return dsr_wrap(tuple, inner, ilen, in, NODE_IP, N2, NODE_IP, 30081, want);
}

/*
 * NodePort DSR, the node that takes the request: DNAT to R on n2 (the
 * client's address kept, no SNAT), Geneve to n2 with the frontend in the
 * option, every byte as written out here.
 */
static void lb_nodeport_dsr(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_outside(CLIENT, 50021, 30081, TH_SYN);
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	len = frame(&f, in);
	wlen = front4_want(&f, in, want);
	assert_int_equal(wlen, len + XCNI_ENCAP_DSR_LEN);
	expect(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	e = flow_entry4(ip4(CLIENT), ip4(NODE_IP), 50021, 30081, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 101);
	assert_int_equal(e.nat_port, 0); /* no SNAT port */
	e = flow_entry4(ip4(CLIENT), ip4(IP_R), 50021, 80, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	assert_int_equal(e.rev_nat, 15);
	/* Nothing SNATed: no entry from this node to R. */
	ct_get(ip4(NODE_IP), ip4(IP_R), 50021, 80, IPPROTO_TCP, &found);
	assert_false(found);

	/* The client's ACK: the same again, option included. */
	f = from_outside(CLIENT, 50021, 30081, TH_ACK);
	len = frame(&f, in);
	wlen = front4_want(&f, in, want);
	expect(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
}

/* What the node taking f (for [NODE6]:fport) sends n2: Geneve, the option, the client kept. */
static size_t front_want(const struct g6 *f, uint16_t bport, uint8_t *want)
{
	uint8_t inner[FRAME_MAX];
	struct g6 t = *f;
	size_t ilen;

	t.dst = R6N;
	t.dport = bport;
	t.hop = 63;
	ilen = frame6(&t, inner);
	return dwrap(inner, ilen, NODE_IP, N2, geneve_sport6(f->src, f->sport, R6N, bport, f->proto),
		     NODE6, f->dport, f->proto, 0, want);
}

/*
 * The node that takes the request (lb_dsr): DNAT to R6N on n2, no SNAT, Geneve
 * to n2 with [NODE6]:30081 in the option; the client's ACK the same. Its
 * entries: the service entry, and the flow's, marked NodePort and DSR (no
 * SNAT port, no xcni_snat entry). UDP likewise.
 */
static void dsr6_frontend(void **state)
{
	struct g6 f = outside6_to(DCLIENT, 51000, NODE6, 30081, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct6_key sk = { .sport = htons(51000), .dport = htons(80), .proto = IPPROTO_TCP };
	uint8_t sn[20];
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	len = frame6(&f, in);
	wlen = front_want(&f, 80, want);
	assert_int_equal(wlen, len + XCNI_ENCAP_DSR_LEN);
	expect6(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	e = flow_entry6(DCLIENT, 51000, NODE6, 30081, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 3211);
	e = flow_entry6(DCLIENT, 51000, R6N, 80, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	assert_int_equal(e.nat_port, 0);
	in6(DCLIENT, sk.saddr);
	in6(R6N, sk.daddr);
	/* from_overlay's own map (pinned by name: the same for both of its programs here). */
	assert_int_not_equal(
		bpf_map_lookup_elem(bpf_map__fd(env.ovin_dsr->maps.xcni_snat), &sk, sn), 0);

	f = outside6_to(DCLIENT, 51000, NODE6, 30081, IPPROTO_TCP, T_ACK);
	len = frame6(&f, in);
	wlen = front_want(&f, 80, want);
	expect6(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);

	f = outside6_to(DCLIENT, 51001, NODE6, 30082, IPPROTO_UDP, 0);
	len = frame6(&f, in);
	wlen = front_want(&f, 5353, want);
	expect6(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	e = ct6_get(DCLIENT, 51001, R6N, 5353, IPPROTO_UDP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
}

/* ---- The backend's node -------------------------------------------------- */

/*
 * NodePort DSR, the backend's node: n2 sends CLIENT -> B:8080 with the option
 * naming N2:30080. The flow's entry records the frontend (its reverse-NAT
 * index here) and n2; B's reply leaves with N2:30080 as source, out the
 * underlay; a later packet without the option (one that did not fit) is
 * taken on the strength of that entry. Refused: an option naming a frontend
 * this node lacks, an outside source with no option and no flow, an inner
 * source that is a pod, an unknown critical option, and the option where
 * Services are not in BPF.
 */
static void lb_dsr_backend(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct fr f = { .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			.saddr = ip4(CLIENT), .daddr = ip4(IP_B), .sport = 50022, .dport = 8080,
			.proto = IPPROTO_TCP, .flags = TH_SYN, .ttl = 63 },
		  t;
	struct xcni_ct_key tuple = { .saddr = ip4(CLIENT), .daddr = ip4(IP_B),
				     .sport = htons(50022), .dport = htons(8080),
				     .proto = IPPROTO_TCP };
	struct xcni_ct_entry e;
	size_t len, ilen, wlen;
	int found;

	(void)state;
	ilen = frame(&f, inner);
	len = dsr_wrap(tuple, inner, ilen, inner, N2, NODE_IP, N2, 30080, in);
	t = into(f, DEV_B);
	wlen = frame(&t, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	e = flow_entry4(ip4(CLIENT), ip4(IP_B), 50022, 8080, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	assert_int_equal(e.rev_nat, 25);
	assert_int_equal(e.nat_addr, ip4(N2));

	/* B's SYN-ACK: from the frontend, straight out the underlay. */
	b_answers4(CLIENT, 50022, 8080, IPPROTO_TCP, TH_SYN | TH_ACK, N2, 30080);
	e = ct_get(ip4(CLIENT), ip4(IP_B), 50022, 8080, IPPROTO_TCP, &found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);

	/* The client's ACK without the option: the flow n2 opened. */
	f = (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			 .saddr = ip4(CLIENT), .daddr = ip4(IP_B), .sport = 50022, .dport = 8080,
			 .proto = IPPROTO_TCP, .flags = TH_ACK, .ttl = 63 };
	ilen = frame(&f, inner);
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	t = into(f, DEV_B);
	wlen = frame(&t, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);

	/* No option, no such flow: n2 does not speak for the client. */
	f.sport = 50023;
	tuple.sport = htons(50023);
	ilen = frame(&f, inner);
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0);

	/* An option naming a frontend this node does not have. */
	f.flags = TH_SYN;
	ilen = frame(&f, inner);
	len = dsr_wrap(tuple, inner, ilen, inner, N2, NODE_IP, N2, 30099, in);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, NULL, 0);
	ct_get(ip4(CLIENT), ip4(IP_B), 50023, 8080, IPPROTO_TCP, &found);
	assert_false(found);

	/* Where Services are kube-proxy's, the option is an unknown critical one. */
	len = dsr_wrap(tuple, inner, ilen, inner, N2, NODE_IP, N2, 30080, in);
	expect(FROM_OVERLAY, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, NULL, 0);

	/* An unknown critical option (class 0x0101, type 0x81): dropped (RFC 8926 3.5). */
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 2, in);
	in[ETH_HLEN + 20 + 8 + 1] = 0x40;
	in[ETH_HLEN + 20 + 8 + 8 + 4 + 2] = 0x81;
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, NULL, 0);
	/* ... but the same non-critical with the C bit set is skipped (the client is still
	 * not n2's to speak for without our option). */
	in[ETH_HLEN + 20 + 8 + 8 + 4 + 2] = 0x01;
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0);

	/* A pod of this node as the inner source: a node never speaks for another's pods. */
	f.saddr = ip4(IP_A);
	tuple.saddr = ip4(IP_A);
	ilen = frame(&f, inner);
	len = dsr_wrap(tuple, inner, ilen, inner, N2, NODE_IP, N2, 30080, in);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0);
}

/* n2's Geneve to this node around f (the client -> B), with the option for [N2_6]:fport or none. */
static size_t from_n2(const struct g6 *f, const char *fe, uint16_t fport, uint8_t family,
		      uint8_t *out)
{
	uint8_t inner[FRAME_MAX];
	size_t ilen = frame6(f, inner);

	return dwrap(inner, ilen, N2, NODE_IP,
		     geneve_sport6(f->src, f->sport, f->dst, f->dport, f->proto), fe, fport,
		     f->proto, family, out);
}

/* The client's packet to B as n2 sent it inside Geneve (n2's MACs, one hop less). */
static struct g6 client_to_b(const char *client, uint16_t sp, uint16_t dp, uint8_t proto,
			     uint8_t flags)
{
	struct g6 f = outside6_to(client, sp, B6, dp, proto, flags);

	f.hop = 63;
	return f;
}

/* f (the client -> B) as this node delivers it into B (its MACs), into want; its length. */
static size_t at_b(const struct g6 *f, uint8_t *want)
{
	struct g6 t = into6(*f, DEV_B);

	return frame6(&t, want);
}

/* Declared in nodeport.h (decap_xdp.c's and nodeport_ul46.c's DSR rows too). */
void b_answers(const char *client, uint16_t cport, uint16_t bport, uint8_t proto,
	       uint8_t flags, const char *fe, uint16_t fport)
{
	struct g6 r = from6(DEV_B, B6, bport, client, cport, proto, flags);
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	size_t len = frame6(&r, in), wlen = frame6_as(&r, fe, fport, client, cport, want);

	expect6(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
}

void b_answers4(const char *client, uint16_t cport, uint16_t bport, uint8_t proto, uint8_t flags,
		const char *fe, uint16_t fport)
{
	struct fr r = from_dev(DEV_B, IP_B, bport, client, cport, proto, flags), t = r;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	size_t len, wlen;

	r.payload = t.payload = proto == IPPROTO_UDP ? 12 : 0;
	len = frame(&r, in);
	t.saddr = ip4(fe);
	t.sport = fport;
	wlen = frame(&t, want);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
}

/*
 * The backend's node: n2 sends DCLIENT -> B:8080 with [N2_6]:30085 in the
 * option. Decapsulated, the client's address kept, into B (its MACs); the
 * flow's entry holds the frontend's index (330), NodePort and DSR, and n2's
 * address, so the client's next packets, sent without the option (too big
 * for it), are known. B's reply leaves from [N2_6]:30085 (TCP checksum over
 * the new pseudo-header), straight out of the underlay. UDP likewise.
 */
static void dsr6_backend(void **state)
{
	struct g6 f = client_to_b(DCLIENT, 52000, 8080, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	len = from_n2(&f, N2_6, 30085, 0, in);
	wlen = at_b(&f, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	e = flow_entry6(DCLIENT, 52000, B6, 8080, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	assert_int_equal(e.rev_nat, 330);
	assert_int_equal(e.nat_addr, ip4(N2));

	/* B's SYN-ACK: from n2's NodePort, out of this node's underlay. */
	b_answers(DCLIENT, 52000, 8080, IPPROTO_TCP, T_SYN | T_ACK, N2_6, 30085);

	/* The client's ACK without the option: the flow n2 opened. */
	f = client_to_b(DCLIENT, 52000, 8080, IPPROTO_TCP, T_ACK);
	len = from_n2(&f, NULL, 0, 0, in);
	wlen = at_b(&f, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	e = ct6_get(DCLIENT, 52000, B6, 8080, IPPROTO_TCP, &found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);

	/* UDP: [N2_6]:30086 -> B:5353, the answer from the frontend (UDP checksum). */
	f = client_to_b(DCLIENT, 52001, 5353, IPPROTO_UDP, 0);
	len = from_n2(&f, N2_6, 30086, 0, in);
	wlen = at_b(&f, want);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	b_answers(DCLIENT, 52001, 5353, IPPROTO_UDP, 0, N2_6, 30086);
}

/*
 * What n2 may not say: a client's packet without the option of no flow it
 * opened (the inner source is not n2's), an option naming a frontend this
 * node does not have, an option naming an IPv4 frontend (one this node has)
 * around IPv6, and
 * the option to a destination that is not a pod here. Dropped, no entry left.
 */
static void dsr6_refused(void **state)
{
	struct g6 f = client_to_b(DCLIENT2, 53000, 8080, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX];
	size_t len;
	int found;

	(void)state;
	len = from_n2(&f, NULL, 0, 0, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0);
	len = from_n2(&f, N2_6, 30099, 0, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, NULL, 0);
	/* N2:30080/TCP is a frontend here (lb_setup's), but an IPv4 one. */
	len = from_n2(&f, N2, 30080, XCNI_AF_INET, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, NULL, 0);
	ct6_get(DCLIENT2, 53000, B6, 8080, IPPROTO_TCP, &found);
	assert_false(found);
	f.dst = R6N; /* not a pod of this node */
	len = from_n2(&f, N2_6, 30085, 0, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_UNKNOWN_DST, NULL, 0);
}

/*
 * The other way round: an IPv4 packet (an outside client -> B:8080) whose
 * option names an IPv6 frontend this node has ([N2_6]:30085, family 10).
 * Its index would rewrite an IPv4 flow's replies to an IPv6 frontend:
 * refused (from_overlay4's dsr_opt_frontend takes AF_INET only), no entry.
 */
static void dsr6_family_v4(void **state)
{
	struct fr f = { .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			.saddr = ip4("203.0.113.77"), .daddr = ip4(IP_B), .sport = 57000,
			.dport = 8080, .proto = IPPROTO_TCP, .flags = T_SYN, .ttl = 63 };
	struct xcni_ct_key tuple = { .saddr = f.saddr, .daddr = f.daddr, .sport = htons(57000),
				     .dport = htons(8080), .proto = IPPROTO_TCP };
	uint8_t inner[FRAME_MAX], in[FRAME_MAX], *g = in + ETH_HLEN + 20 + 8, *o = g + 8;
	size_t ilen = frame(&f, inner), len;
	int found;

	(void)state;
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 6, in);
	g[1] = 0x40; /* C */
	dsr_opt(o, N2_6, 30085, IPPROTO_TCP, 0); /* AF_INET6 */
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, NULL, 0);
	ct_get(f.saddr, f.daddr, 57000, 8080, IPPROTO_TCP, &found);
	assert_false(found);
}

/* ---- The IPv6 underlay --------------------------------------------------- */

/* ---- over an IPv6 underlay ------------------------------------------------- */

/*
 * A from_overlay of a node on the IPv6 underlay (node_ip6 UL_SELF, no IPv4
 * one), Services in BPF and DSR; UL_N a node behind it (tunnel6), R6V its pod
 * and [NODE6]:30087/TCP a frontend here for R6V:80.
 */
static void dsr6_ul6_setup(void **state)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.pin_dir);
	struct xcni_ipcache6_key ik = { .prefixlen = 128 };
	struct xcni_ipcache_val iv = { .identity = 0x3001, .flags = XCNI_IPC_POD | XCNI_IPC_TUN6 };
	struct xcni_backend b = { .port = htons(80), .family = XCNI_AF_INET6 };
	struct xcni_svc_key k = { .port = htons(30087), .family = XCNI_AF_INET6,
				  .proto = IPPROTO_TCP };
	struct xcni_svc sv = { .id = 332, .count = 1, .rev_nat = 332 };
	struct xcni_revnat rn = { .port = htons(30087), .family = XCNI_AF_INET6 };
	struct xcni_svcslot_key sk = { .svc_id = 332 };
	struct xcni_tunnel t = { .node = "ul-n" };
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat zero[ncpu];
	struct xcni_in6 tk;
	uint32_t be = 3321, n6[4];
	uint16_t rid = 332;

	(void)state;
	in6(UL_SELF, (uint8_t *)n6);
	ul6 = from_overlay__open_opts(&opts);
	assert_non_null(ul6);
	ul6->rodata->vni = VNI;
	ul6->rodata->lb_enabled = 1;
	ul6->rodata->lb_dsr = 1;
	memcpy((void *)ul6->rodata->node_ip6, n6, 16);
	assert_int_equal(from_overlay__load(ul6), 0);
	/* The XDP fast path of such a node, compared with it on every frame (xdp_np.c). */
	assert_int_equal(npx_attach(bpf_program__fd(ul6->progs.from_overlay), UL_SELF, 1), 0);
	memset(zero, 0, sizeof(zero));
	in6(UL_N, tk.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_tunnel6"), &tk, &t, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_tunstat6"), &tk, zero, BPF_ANY), 0);
	in6(R6V, ik.addr);
	in6(UL_N, iv.tunnel_ip6);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &ik, &iv, BPF_ANY), 0);
	in6(R6V, b.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_backend"), &be, &b, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_svcslot"), &sk, &be, BPF_ANY), 0);
	assert_int_equal(svcbe_put(332, be), 0);
	in6(NODE6, k.addr);
	in6(NODE6, rn.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_revnat"), &rid, &rn, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_svc"), &k, &sv, BPF_ANY), 0);
}

/*
 * The node taking the request, on the IPv6 underlay: DNAT to R6V, the client
 * kept, Geneve over IPv6 to UL_N with the option (94 bytes of headers), the
 * flow's entry NodePort and DSR; the ACK the same.
 */
static void dsr6_ul6_frontend(void **state)
{
	struct g6 f = outside6_to(DCLIENT, 55000, NODE6, 30087, IPPROTO_TCP, T_SYN), t;
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	size_t len, ilen, wlen;
	unsigned long tx = npx_translated();

	(void)state;
	for (int ack = 0; ack < 2; ack++) {
		f.flags = ack ? T_ACK : T_SYN;
		len = frame6(&f, in);
		t = f;
		t.dst = R6V;
		t.dport = 80;
		t.hop = 63;
		ilen = frame6(&t, inner);
		wlen = dwrap_ul6(inner, ilen, UL_SELF, UL_N,
				 geneve_hash6(DCLIENT, 55000, R6V, 80, IPPROTO_TCP), NODE6, 30087,
				 IPPROTO_TCP, want);
		assert_int_equal(wlen, len + 94);
		expect_ul6(in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	}
	/* Both taken at XDP too, the option over the IPv6 underlay, as tc sent them. */
	assert_int_equal(npx_translated(), tx + 2);
	flow_entry6(DCLIENT, 55000, R6V, 80, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
}

/*
 * The backend's node on the IPv6 underlay: UL_N sends DCLIENT2 -> B:8080 with
 * [N2_6]:30085 in the option; decapsulated into B, the client kept, the
 * entry's node UL_N folded to 4 bytes; the ACK without the option known by
 * it; B's answer from [N2_6]:30085 out of the underlay.
 */
static void dsr6_ul6_backend(void **state)
{
	struct g6 f = client_to_b(DCLIENT2, 56000, 8080, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, ilen, wlen;
	uint32_t w[4];

	(void)state;
	for (int ack = 0; ack < 2; ack++) {
		f.flags = ack ? T_ACK : T_SYN;
		ilen = frame6(&f, inner);
		len = dwrap_ul6(inner, ilen, UL_N, UL_SELF,
				geneve_hash6(DCLIENT2, 56000, B6, 8080, IPPROTO_TCP), ack ? NULL : N2_6,
				30085, IPPROTO_TCP, in);
		wlen = at_b(&f, want);
		expect_ul6(in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
		if (ack)
			break;
		e = flow_entry6(DCLIENT2, 56000, B6, 8080, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
		assert_int_equal(e.rev_nat, 330);
		in6(UL_N, (uint8_t *)w);
		assert_int_equal(e.nat_addr, w[0] ^ w[1] ^ w[2] ^ w[3]);
		b_answers(DCLIENT2, 56000, 8080, IPPROTO_TCP, T_SYN | T_ACK, N2_6, 30085);
	}
}

static void dsr6_ul6_teardown(void **state)
{
	(void)state;
	npx_detach(bpf_program__fd(ul6->progs.from_overlay));
	from_overlay__destroy(ul6);
	ul6 = NULL;
}

/* ---- The group ----------------------------------------------------------- */

static const struct CMUnitTest nodeport_dsr_tests[] = {
	cmocka_unit_test(dsr6_setup),
	cmocka_unit_test(lb_nodeport_dsr),
	cmocka_unit_test(dsr6_frontend),
	cmocka_unit_test(lb_dsr_backend),
	cmocka_unit_test(dsr6_backend),
	cmocka_unit_test(dsr6_refused),
	cmocka_unit_test(dsr6_family_v4),
	cmocka_unit_test(dsr6_ul6_setup),
	cmocka_unit_test(dsr6_ul6_frontend),
	cmocka_unit_test(dsr6_ul6_backend),
	cmocka_unit_test(dsr6_ul6_teardown),
};

/* svc_state with dsr6_setup's DSR NodePorts: what attack_geneve.c starts from. */
int dsr6_state(void)
{
	int err = svc_state();

	if (!err)
		dsr6_setup(NULL);
	return err;
}

const struct group nodeport_dsr_group = { "nodeport_dsr", TESTS(nodeport_dsr_tests),
					   .prep = svc_state };
