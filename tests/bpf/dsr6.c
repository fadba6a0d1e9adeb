// SPDX-License-Identifier: Apache-2.0
/*
 * NodePort DSR for IPv6 frontends (bpf/lib/dsr6.h) through
 * BPF_PROG_TEST_RUN, run after tests/bpf/lb6.c on the IPv6 NodePorts its
 * np6_setup wrote:
 *   [NODE6]:30081/TCP -> R6N:80 (on n2), [NODE6]:30082/UDP -> R6N:5353
 * and here the frontend of another node's address, as every node holds it:
 *   [N2_6]:30085/TCP  -> B:8080 (this node), [N2_6]:30086/UDP -> B:5353
 *
 * Both ends of a DSR flow on one node's programs: from_overlay (lb_dsr) as
 * the node taking the request for R6N on n2; from_overlay and from_pod as n2
 * did for B: the option taken, the client kept, B's reply from N2_6's
 * NodePort. Then the same over an IPv6 underlay, on a from_overlay of this
 * file's with node_ip6 (UL_SELF) and the harness's maps:
 *   [NODE6]:30087/TCP -> R6V:80 (a pod of the node at UL_N, behind it)
 * Every frame the programs must leave is built from scratch here
 * (checksums computed in full over the IPv6 pseudo-header, the option byte
 * by byte as RFC 8926 3.5 lays it out) and compared byte for byte.
 */
#include <arpa/inet.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "harness.h"
#include "lb.h"

/* lb6.c's names for its np6_setup state. */
#define NODE6 "fc00:77::1" /* this node's IPv6 InternalIP */
#define R6N "fd00:98::2" /* a pod of n2 */
#define B6 "fd00:99::b"
/* Here. */
#define N2_6 "fc00:77::2" /* n2's IPv6 InternalIP: its NodePorts' frontends */
#define DCLIENT "2001:db8:2::9" /* outside the cluster: world */
#define DCLIENT2 "2001:db8:2::a"
/* The IPv6 underlay. */
#define UL_SELF "fc00:79::1" /* this node's underlay address (node_ip6) */
#define UL_N "fc00:79::2" /* another node's, in xcni_tunnel6 */
#define R6V "fd00:95::7" /* a pod of UL_N */
#define UL6 1000 /* dexpect: this file's from_overlay with node_ip6 */
#define T_SYN 0x02
#define T_ACK 0x10

static void a6(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

/* A frame: Ethernet, IPv6, TCP (20 bytes) or UDP (8 + 12 of payload), real checksums. */
struct d6 {
	const uint8_t *smac, *dmac;
	const char *src, *dst;
	uint16_t sport, dport; /* host order */
	uint8_t proto, flags, hop;
};

static size_t dframe(const struct d6 *f, uint8_t *buf)
{
	uint8_t *ip = buf + ETH_HLEN, *l4 = ip + 40, ph[40 + 64] = { 0 };
	size_t l4len = 20; /* TCP: the header alone; UDP: 8 + 12 */
	uint16_t c;

	memset(buf, 0, FRAME_MAX);
	memcpy(buf, f->dmac, ETH_ALEN);
	memcpy(buf + ETH_ALEN, f->smac, ETH_ALEN);
	buf[12] = 0x86;
	buf[13] = 0xdd;
	ip[0] = 0x60;
	ip[5] = (uint8_t)l4len;
	ip[6] = f->proto;
	ip[7] = f->hop ? f->hop : 64;
	a6(f->src, ip + 8);
	a6(f->dst, ip + 24);
	l4[0] = (uint8_t)(f->sport >> 8);
	l4[1] = (uint8_t)f->sport;
	l4[2] = (uint8_t)(f->dport >> 8);
	l4[3] = (uint8_t)f->dport;
	if (f->proto == IPPROTO_TCP) {
		l4[4] = 1; /* sequence 0x01020304 */
		l4[5] = 2;
		l4[6] = 3;
		l4[7] = 4;
		if (f->flags & T_ACK)
			l4[11] = 9;
		l4[12] = 5 << 4;
		l4[13] = f->flags;
		l4[14] = 0xfa; /* window 64240 */
		l4[15] = 0xf0;
	} else {
		l4[5] = (uint8_t)l4len;
		for (size_t i = 8; i < l4len; i++)
			l4[i] = (uint8_t)(0xa0 + i);
	}
	/* The pseudo-header: addresses, upper-layer length, next header. */
	memcpy(ph, ip + 8, 32);
	ph[35] = (uint8_t)l4len;
	ph[39] = f->proto;
	memcpy(ph + 40, l4, l4len);
	c = csum(ph, 40 + l4len);
	if (f->proto == IPPROTO_UDP && !c)
		c = 0xffff;
	memcpy(l4 + (f->proto == IPPROTO_TCP ? 16 : 6), &c, 2);
	return ETH_HLEN + 40 + l4len;
}

/* From outside on the underlay (the router's MAC -> this node's). */
static struct d6 outside(const char *src, uint16_t sp, const char *dst, uint16_t dp, uint8_t proto,
			 uint8_t flags)
{
	return (struct d6){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .src = src,
			    .dst = dst, .sport = sp, .dport = dp, .proto = proto, .flags = flags };
}

/*
 * Geneve from node src to dst around inner (Ethernet + IPv6) with the DSR
 * option for [fe]:fport/proto when fe is given: the header's option length 6
 * words and its C bit (a critical option is present), then class 0xfff0,
 * type 0x81 (critical), 5 words: family AF_INET6 (10), the protocol, the
 * port, the 16-byte address. family overrides 10 when not 0 (AF_INET: fe IPv4).
 */
static size_t dwrap(const uint8_t *inner, size_t ilen, const char *src, const char *dst,
		    uint16_t sport, const char *fe, uint16_t fport, uint8_t proto, uint8_t family,
		    uint8_t *out)
{
	uint8_t tmp[FRAME_MAX], *ip = out + ETH_HLEN, *udp = ip + 20, *g = udp + 8, *o = g + 8;
	size_t len = geneve_wrap6(inner, ilen, src, dst, sport, VNI, tmp);
	uint16_t v;

	if (!fe) {
		memcpy(out, tmp, len);
		return len;
	}
	assert_true(len + 24 <= FRAME_MAX);
	memset(out, 0, FRAME_MAX);
	memcpy(out, tmp, ETH_HLEN + 36);
	memcpy(out + ETH_HLEN + 36 + 24, tmp + ETH_HLEN + 36, len - ETH_HLEN - 36);
	v = htons((uint16_t)(len - ETH_HLEN + 24));
	memcpy(ip + 2, &v, 2);
	ip[10] = ip[11] = 0;
	v = csum(ip, 20);
	memcpy(ip + 10, &v, 2);
	v = htons((uint16_t)(len - ETH_HLEN - 20 + 24));
	memcpy(udp + 4, &v, 2);
	g[0] = 6; /* version 0, 6 option words */
	g[1] = 0x40; /* C */
	o[0] = 0xff; /* class 0xfff0 (experimental use) */
	o[1] = 0xf0;
	o[2] = 0x81; /* type 1, the critical bit set */
	o[3] = 5; /* reserved bits 0, then 5 words of data */
	o[4] = family ? family : 10;
	o[5] = proto;
	o[6] = (uint8_t)(fport >> 8);
	o[7] = (uint8_t)fport;
	if (family == XCNI_AF_INET) { /* an IPv4 frontend: 4 bytes, 12 of zeros */
		uint32_t a = ip4(fe);

		memcpy(o + 8, &a, 4);
	} else {
		a6(fe, o + 8);
	}
	return len + 24;
}

/* bpf/lib/encap.h's flow_hash_of from its definition, for IPv6 (the addresses folded). */
static uint32_t hash6(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	uint32_t a[4], b[4], x, y, h;

	a6(s, (uint8_t *)a);
	a6(d, (uint8_t *)b);
	x = a[0] ^ a[1] ^ a[2] ^ a[3];
	y = b[0] ^ b[1] ^ b[2] ^ b[3];
	h = x ^ ((y << 7) | (y >> 25)) ^ ((uint32_t)htons(sp) << 16 | htons(dp)) ^ proto;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/*
 * Geneve over IPv6 from src to dst around inner (Ethernet + IPv6), hash the
 * inner flow's: outer Ethernet (the inner's MACs, type IPv6), IPv6 (class 0,
 * flow label the hash's top 20 bits, payload length, UDP, hop limit 64), UDP
 * (49152 | the hash's low 14 bits, 6081, length, checksum 0), Geneve, with
 * the DSR option for [fe]:fport/proto (as dwrap) when fe is given.
 */
static size_t dwrap_ul6(const uint8_t *inner, size_t ilen, const char *src, const char *dst,
			uint32_t hash, const char *fe, uint16_t fport, uint8_t proto, uint8_t *out)
{
	uint8_t *ip = out + ETH_HLEN, *udp = ip + 40, *g = udp + 8, *o = g + 8;
	size_t opt = fe ? 24 : 0, plen = 16 + opt + ilen;
	uint32_t label = hash >> 12, vni = htonl(VNI << 8);
	uint16_t sport = 49152 | (hash & 0x3fff);

	assert_true(ETH_HLEN + 40 + plen <= FRAME_MAX);
	memset(out, 0, FRAME_MAX);
	memcpy(out, inner, 12);
	out[12] = 0x86;
	out[13] = 0xdd;
	ip[0] = 0x60;
	ip[1] = (uint8_t)(label >> 16);
	ip[2] = (uint8_t)(label >> 8);
	ip[3] = (uint8_t)label;
	ip[4] = (uint8_t)(plen >> 8);
	ip[5] = (uint8_t)plen;
	ip[6] = IPPROTO_UDP;
	ip[7] = 64;
	a6(src, ip + 8);
	a6(dst, ip + 24);
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = XCNI_GENEVE_PORT >> 8;
	udp[3] = XCNI_GENEVE_PORT & 0xff;
	udp[4] = (uint8_t)(plen >> 8);
	udp[5] = (uint8_t)plen;
	g[0] = (uint8_t)(opt / 4);
	g[1] = fe ? 0x40 : 0;
	g[2] = 0x65;
	g[3] = 0x58;
	memcpy(g + 4, &vni, 4);
	if (fe) {
		o[0] = 0xff;
		o[1] = 0xf0;
		o[2] = 0x81;
		o[3] = 5;
		o[4] = 10;
		o[5] = proto;
		o[6] = (uint8_t)(fport >> 8);
		o[7] = (uint8_t)fport;
		a6(fe, o + 8);
	}
	memcpy(g + 8 + opt, inner, ilen);
	return ETH_HLEN + 40 + plen;
}

static struct from_overlay *ul6;

/* One packet: verdict ret, counted once under reason (the program's direction), output want. */
static uint8_t last[FRAME_MAX];

static void dexpect(int prog, int dev, const uint8_t *in, size_t len, int ret, int reason,
		    const uint8_t *want, size_t wlen)
{
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	struct bpf_test_run_opts o = {};
	uint8_t buf[FRAME_MAX];
	__u32 idx = XCNI_METRIC_IDX(reason, prog_dir(prog));

	memcpy(buf, in, len);
	assert_int_equal(read_metrics(before), 0);
	if (prog == UL6) {
		struct __sk_buff ctx = { .ifindex = env.ifindex[dev] };

		idx = XCNI_METRIC_IDX(reason, XCNI_DIR_FROM_OVERLAY);
		o.sz = sizeof(o);
		o.data_in = buf;
		o.data_size_in = (__u32)len;
		o.data_out = last;
		o.data_size_out = sizeof(last);
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(ul6->progs.from_overlay), &o),
				 0);
	} else {
		assert_int_equal(run(prog, dev, buf, len, last, sizeof(last), 0, &o), 0);
	}
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(read_metrics(after), 0);
	for (__u32 i = 0; i < XCNI_NR_METRICS; i++)
		if (after[i].packets - before[i].packets != (i == idx))
			fail_msg("%s/%s counted %llu, want %s/%s (verdict %d)",
				 reason_name(i / XCNI_NR_DIRS), dir_name(i % XCNI_NR_DIRS),
				 (unsigned long long)(after[i].packets - before[i].packets),
				 reason_name(XCNI_REASON_IDX(reason)), dir_name(idx % XCNI_NR_DIRS),
				 o.retval);
	assert_int_equal((int)o.retval, ret);
	if (!want)
		return;
	assert_int_equal(o.data_size_out, wlen);
	for (size_t i = 0; i < wlen; i++)
		if (last[i] != want[i])
			fail_msg("output differs first at byte %zu: 0x%02x, want 0x%02x", i, last[i],
				 want[i]);
}

static struct xcni_ct_entry ct6_at(const char *s, uint16_t sp, const char *d, uint16_t dp,
				   uint8_t proto, int *found)
{
	struct xcni_ct6_key k = { .sport = htons(sp), .dport = htons(dp), .proto = proto };
	struct xcni_ct_entry e = {};

	a6(s, k.saddr);
	a6(d, k.daddr);
	*found = !bpf_map_lookup_elem(map_fd("xcni_ct6"), &k, &e);
	return e;
}

/* n2's NodePorts as this node's maps hold them (EXT scope, another node's address). */
static void dsr6_setup(void **state)
{
	static const uint32_t tcp_be = 3301, udp_be = 3302;
	struct xcni_backend b = { .family = XCNI_AF_INET6 };
	uint32_t id;

	(void)state;
	a6(B6, b.addr);
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

		a6(N2_6, k.addr);
		a6(N2_6, rn.addr);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_svcslot"), &sk,
						     id == 330 ? &tcp_be : &udp_be, BPF_ANY),
				 0);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_revnat"), &rid, &rn, BPF_ANY), 0);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_svc"), &k, &s, BPF_ANY), 0);
	}
}

/* What the node taking f (for [NODE6]:fport) sends n2: Geneve, the option, the client kept. */
static size_t front_want(const struct d6 *f, uint16_t bport, uint8_t *want)
{
	uint8_t inner[FRAME_MAX];
	struct d6 t = *f;
	size_t ilen;

	t.dst = R6N;
	t.dport = bport;
	t.hop = 63;
	ilen = dframe(&t, inner);
	return dwrap(inner, ilen, NODE_IP, N2, geneve_sport6(f->src, f->sport, R6N, bport, f->proto),
		     NODE6, f->dport, f->proto, 0, want);
}

/*
 * The node that takes the request (lb_dsr): DNAT to R6N on n2, no SNAT, Geneve
 * to n2 with [NODE6]:30081 in the option; the client's ACK the same. Its
 * entries: the service entry, and the flow's, marked NodePort and DSR (no
 * SNAT port, no xcni_snat6 entry). UDP likewise.
 */
static void dsr6_frontend(void **state)
{
	struct d6 f = outside(DCLIENT, 51000, NODE6, 30081, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct6_key sk = { .sport = htons(51000), .dport = htons(80), .proto = IPPROTO_TCP };
	uint8_t sn[20];
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	len = dframe(&f, in);
	wlen = front_want(&f, 80, want);
	assert_int_equal(wlen, len + XCNI_ENCAP_DSR_LEN);
	dexpect(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	e = ct6_at(DCLIENT, 51000, NODE6, 30081, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 3211);
	e = ct6_at(DCLIENT, 51000, R6N, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	assert_int_equal(e.nat_port, 0);
	a6(DCLIENT, sk.saddr);
	a6(R6N, sk.daddr);
	/* from_overlay's own map (pinned by name: the same for both of its programs here). */
	assert_int_not_equal(
		bpf_map_lookup_elem(bpf_map__fd(env.ovin_dsr->maps.xcni_snat6), &sk, sn), 0);

	f = outside(DCLIENT, 51000, NODE6, 30081, IPPROTO_TCP, T_ACK);
	len = dframe(&f, in);
	wlen = front_want(&f, 80, want);
	dexpect(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);

	f = outside(DCLIENT, 51001, NODE6, 30082, IPPROTO_UDP, 0);
	len = dframe(&f, in);
	wlen = front_want(&f, 5353, want);
	dexpect(FROM_OVERLAY_DSR, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	e = ct6_at(DCLIENT, 51001, R6N, 5353, IPPROTO_UDP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
}

/* n2's Geneve to this node around f (the client -> B), with the option for [N2_6]:fport or none. */
static size_t from_n2(const struct d6 *f, const char *fe, uint16_t fport, uint8_t family,
		      uint8_t *out)
{
	uint8_t inner[FRAME_MAX];
	size_t ilen = dframe(f, inner);

	return dwrap(inner, ilen, N2, NODE_IP,
		     geneve_sport6(f->src, f->sport, f->dst, f->dport, f->proto), fe, fport,
		     f->proto, family, out);
}

/* The client's packet to B as n2 sent it inside Geneve (n2's MACs, one hop less). */
static struct d6 client_to_b(const char *client, uint16_t sp, uint16_t dp, uint8_t proto,
			     uint8_t flags)
{
	struct d6 f = outside(client, sp, B6, dp, proto, flags);

	f.hop = 63;
	return f;
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
	struct d6 f = client_to_b(DCLIENT, 52000, 8080, IPPROTO_TCP, T_SYN), t, r;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	len = from_n2(&f, N2_6, 30085, 0, in);
	t = f;
	t.smac = pods[DEV_B].host_mac;
	t.dmac = pods[DEV_B].mac;
	wlen = dframe(&t, want);
	dexpect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	e = ct6_at(DCLIENT, 52000, B6, 8080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
	assert_int_equal(e.rev_nat, 330);
	assert_int_equal(e.nat_addr, ip4(N2));

	/* B's SYN-ACK: from n2's NodePort, out of this node's underlay. */
	r = (struct d6){ .smac = pods[DEV_B].mac, .dmac = pods[DEV_B].host_mac, .src = B6,
			 .dst = DCLIENT, .sport = 8080, .dport = 52000, .proto = IPPROTO_TCP,
			 .flags = T_SYN | T_ACK };
	len = dframe(&r, in);
	t = r;
	t.src = N2_6;
	t.sport = 30085;
	wlen = dframe(&t, want);
	dexpect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);

	/* The client's ACK without the option: the flow n2 opened. */
	f = client_to_b(DCLIENT, 52000, 8080, IPPROTO_TCP, T_ACK);
	len = from_n2(&f, NULL, 0, 0, in);
	t = f;
	t.smac = pods[DEV_B].host_mac;
	t.dmac = pods[DEV_B].mac;
	wlen = dframe(&t, want);
	dexpect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	e = ct6_at(DCLIENT, 52000, B6, 8080, IPPROTO_TCP, &found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);

	/* UDP: [N2_6]:30086 -> B:5353, the answer from the frontend (UDP checksum). */
	f = client_to_b(DCLIENT, 52001, 5353, IPPROTO_UDP, 0);
	len = from_n2(&f, N2_6, 30086, 0, in);
	t = f;
	t.smac = pods[DEV_B].host_mac;
	t.dmac = pods[DEV_B].mac;
	wlen = dframe(&t, want);
	dexpect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
	r = (struct d6){ .smac = pods[DEV_B].mac, .dmac = pods[DEV_B].host_mac, .src = B6,
			 .dst = DCLIENT, .sport = 5353, .dport = 52001, .proto = IPPROTO_UDP };
	len = dframe(&r, in);
	t = r;
	t.src = N2_6;
	t.sport = 30086;
	wlen = dframe(&t, want);
	dexpect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
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
	struct d6 f = client_to_b(DCLIENT2, 53000, 8080, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX];
	size_t len;
	int found;

	(void)state;
	len = from_n2(&f, NULL, 0, 0, in);
	dexpect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_INNER_SPOOF, NULL, 0);
	len = from_n2(&f, N2_6, 30099, 0, in);
	dexpect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, NULL, 0);
	/* N2:30080/TCP is a frontend here (lb.c's), but an IPv4 one. */
	len = from_n2(&f, N2, 30080, XCNI_AF_INET, in);
	dexpect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, NULL, 0);
	ct6_at(DCLIENT2, 53000, B6, 8080, IPPROTO_TCP, &found);
	assert_false(found);
	f.dst = R6N; /* not a pod of this node */
	len = from_n2(&f, N2_6, 30085, 0, in);
	dexpect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_UNKNOWN_DST, NULL, 0);
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
	memset(o, 0, 24);
	o[0] = 0xff;
	o[1] = 0xf0;
	o[2] = 0x81;
	o[3] = 5;
	o[4] = 10; /* AF_INET6 */
	o[5] = IPPROTO_TCP;
	o[6] = 30085 >> 8;
	o[7] = 30085 & 0xff;
	a6(N2_6, o + 8);
	dexpect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, NULL, 0);
	ct_get(f.saddr, f.daddr, 57000, 8080, IPPROTO_TCP, &found);
	assert_false(found);
}

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
	a6(UL_SELF, (uint8_t *)n6);
	ul6 = from_overlay__open_opts(&opts);
	assert_non_null(ul6);
	ul6->rodata->vni = VNI;
	ul6->rodata->lb_enabled = 1;
	ul6->rodata->lb_dsr = 1;
	memcpy((void *)ul6->rodata->node_ip6, n6, 16);
	assert_int_equal(from_overlay__load(ul6), 0);
	memset(zero, 0, sizeof(zero));
	a6(UL_N, tk.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_tunnel6"), &tk, &t, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_tunstat6"), &tk, zero, BPF_ANY), 0);
	a6(R6V, ik.addr);
	a6(UL_N, iv.tunnel_ip6);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &ik, &iv, BPF_ANY), 0);
	a6(R6V, b.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_backend"), &be, &b, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_svcslot"), &sk, &be, BPF_ANY), 0);
	a6(NODE6, k.addr);
	a6(NODE6, rn.addr);
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
	struct d6 f = outside(DCLIENT, 55000, NODE6, 30087, IPPROTO_TCP, T_SYN), t;
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, ilen, wlen;
	int found;

	(void)state;
	for (int ack = 0; ack < 2; ack++) {
		f.flags = ack ? T_ACK : T_SYN;
		len = dframe(&f, in);
		t = f;
		t.dst = R6V;
		t.dport = 80;
		t.hop = 63;
		ilen = dframe(&t, inner);
		wlen = dwrap_ul6(inner, ilen, UL_SELF, UL_N,
				 hash6(DCLIENT, 55000, R6V, 80, IPPROTO_TCP), NODE6, 30087,
				 IPPROTO_TCP, want);
		assert_int_equal(wlen, len + 94);
		dexpect(UL6, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);
	}
	e = ct6_at(DCLIENT, 55000, R6V, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
}

/*
 * The backend's node on the IPv6 underlay: UL_N sends DCLIENT2 -> B:8080 with
 * [N2_6]:30085 in the option; decapsulated into B, the client kept, the
 * entry's node UL_N folded to 4 bytes; the ACK without the option known by
 * it; B's answer from [N2_6]:30085 out of the underlay.
 */
static void dsr6_ul6_backend(void **state)
{
	struct d6 f = client_to_b(DCLIENT2, 56000, 8080, IPPROTO_TCP, T_SYN), t, r;
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, ilen, wlen;
	uint32_t w[4];
	int found;

	(void)state;
	for (int ack = 0; ack < 2; ack++) {
		f.flags = ack ? T_ACK : T_SYN;
		ilen = dframe(&f, inner);
		len = dwrap_ul6(inner, ilen, UL_N, UL_SELF,
				hash6(DCLIENT2, 56000, B6, 8080, IPPROTO_TCP), ack ? NULL : N2_6,
				30085, IPPROTO_TCP, in);
		t = f;
		t.smac = pods[DEV_B].host_mac;
		t.dmac = pods[DEV_B].mac;
		wlen = dframe(&t, want);
		dexpect(UL6, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
		if (ack)
			break;
		e = ct6_at(DCLIENT2, 56000, B6, 8080, IPPROTO_TCP, &found);
		assert_true(found);
		assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR);
		assert_int_equal(e.rev_nat, 330);
		a6(UL_N, (uint8_t *)w);
		assert_int_equal(e.nat_addr, w[0] ^ w[1] ^ w[2] ^ w[3]);
		r = (struct d6){ .smac = pods[DEV_B].mac, .dmac = pods[DEV_B].host_mac, .src = B6,
				 .dst = DCLIENT2, .sport = 8080, .dport = 56000,
				 .proto = IPPROTO_TCP, .flags = T_SYN | T_ACK };
		len = dframe(&r, in);
		t = r;
		t.src = N2_6;
		t.sport = 30085;
		wlen = dframe(&t, want);
		dexpect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
	}
}

static void dsr6_ul6_teardown(void **state)
{
	(void)state;
	from_overlay__destroy(ul6);
	ul6 = NULL;
}

const struct CMUnitTest dsr6_tests[] = {
	cmocka_unit_test(dsr6_setup),
	cmocka_unit_test(dsr6_frontend),
	cmocka_unit_test(dsr6_backend),
	cmocka_unit_test(dsr6_refused),
	cmocka_unit_test(dsr6_family_v4),
	cmocka_unit_test(dsr6_ul6_setup),
	cmocka_unit_test(dsr6_ul6_frontend),
	cmocka_unit_test(dsr6_ul6_backend),
	cmocka_unit_test(dsr6_ul6_teardown),
};
const size_t nr_dsr6_tests = ARRAY_SIZE(dsr6_tests);
