// SPDX-License-Identifier: Apache-2.0
/*
 * IPv6 Services in BPF (bpf/lib/lb.h) through BPF_PROG_TEST_RUN: from_pod
 * and to_pod with lb_enabled, on tests/bpf/v6.c's IPv6 endpoints (prep v6_state)
 * (A fd00:99::a, B fd00:99::b, C fd00:99::c; policy opened again here).
 *
 * Frames carry real L4 checksums; what the programs must leave is built from
 * scratch with the translated fields and every checksum computed in full over
 * the IPv6 pseudo-header here, so an incremental update off by a bit fails
 * byte for byte.
 *
 *   frontend              backends (id: address:port)               flags
 *   [fd00:96::1]:80/TCP   3011: B:8080                              -
 *   [fd00:96::1]:53/UDP   3012: B:5353                              -
 *   [fd00:96::3]:80/TCP   none                                      -
 *   [fd00:96::3]:53/UDP   none                                      -
 *   [fd00:96::5]:80/TCP   3051-3053: B:7001, B:7002, C:7003         affinity
 *   [fd00:96::7]:80/TCP   3071-3075: B:7101-7105                    Maglev
 *   [fd00:96::9]:80/TCP   3091: A:8080 (hairpin)                    -
 *   [fd00:96::d]:443/TCP  3131: [2001:db8::50]:8443 (outside the pod network)
 *   [fd00:96::e]:3868/SCTP 3141: B:38680                           -
 *   [fd00:96::f]:3868/SCTP none                                     -
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
#define C6 "fd00:99::c"
#define VIP1 "fd00:96::1"
#define VIP3 "fd00:96::3"
#define VIP5 "fd00:96::5"
#define VIP7 "fd00:96::7"
#define VIP9 "fd00:96::9"
#define VIPD "fd00:96::d"
#define VIPE "fd00:96::e"
#define VIPF "fd00:96::f"
#define OUT6 "2001:db8::50"
#define LOOP6 "100::a9fe:2a01" /* the hairpin source */
#define KEY_X "0.0.0.7"
#define R6N "fd00:98::2" /* a pod of n2 */
#define CLIENT6B "2001:db8:1::8"
#define EXT6 "2001:db8:100::1" /* an externalIP */
#define EXT6B "2001:db8:100::2" /* an externalIP, externalTrafficPolicy Local */

void in6(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

uint16_t csum6(const uint8_t *ip6, uint8_t nh, const uint8_t *l4, size_t len)
{
	uint8_t tmp[40 + 4096] = { 0 }; /* big frames too (tests/bpf/np_mtu.c) */

	assert_true(len <= 4096);
	memcpy(tmp, ip6 + 8, 32);
	tmp[34] = (uint8_t)(len >> 8);
	tmp[35] = (uint8_t)len;
	tmp[39] = nh;
	memcpy(tmp + 40, l4, len);
	return csum(tmp, 40 + len);
}

void ip6_hdr(uint8_t *ip, const char *src, const char *dst, uint8_t nh, uint8_t hop, size_t plen)
{
	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[4] = (uint8_t)(plen >> 8);
	ip[5] = (uint8_t)plen;
	ip[6] = nh;
	ip[7] = hop;
	in6(src, ip + 8);
	in6(dst, ip + 24);
}

size_t frame6(const struct g6 *f, uint8_t *buf)
{
	uint8_t *ip = buf + ETH_HLEN, *l4 = ip + 40;
	size_t hdr = f->proto == IPPROTO_TCP ? 20 : f->proto == IPPROTO_ICMPV6 ? 4 : 8;
	size_t l4len = hdr + f->payload;
	uint16_t c;

	memset(buf, 0, FRAME_MAX);
	memcpy(buf, f->dmac, ETH_ALEN);
	memcpy(buf + ETH_ALEN, f->smac, ETH_ALEN);
	buf[12] = 0x86;
	buf[13] = 0xdd;
	ip6_hdr(ip, f->src, f->dst, f->proto, f->hop ? f->hop : 64, l4len);
	if (f->proto == IPPROTO_ICMPV6) {
		l4[0] = f->type;
	} else {
		*(uint16_t *)l4 = htons(f->sport);
		*(uint16_t *)(l4 + 2) = htons(f->dport);
	}
	if (f->proto == IPPROTO_TCP) {
		*(uint32_t *)(l4 + 4) = htonl(SEQ);
		if (f->flags & T_ACK)
			*(uint32_t *)(l4 + 8) = htonl(0x0a0b0c0d);
		l4[12] = 5 << 4;
		l4[13] = f->flags;
		*(uint16_t *)(l4 + 14) = htons(64240);
	} else if (f->proto == IPPROTO_UDP) {
		*(uint16_t *)(l4 + 4) = htons((uint16_t)l4len);
	}
	for (size_t i = 0; i < f->payload; i++)
		l4[hdr + i] = f->body ? f->body[i] : (uint8_t)(0xa0 + i);
	c = csum6(ip, f->proto, l4, l4len);
	if (f->proto == IPPROTO_UDP && !c)
		c = 0xffff;
	memcpy(l4 + (f->proto == IPPROTO_TCP ? 16 : f->proto == IPPROTO_ICMPV6 ? 2 : 6), &c, 2);
	return ETH_HLEN + 40 + l4len;
}

/* From pod d (pod MAC -> its gateway's). */
struct g6 from6(int d, const char *src, uint16_t sp, const char *dst, uint16_t dp, uint8_t proto,
		uint8_t flags)
{
	return (struct g6){ .smac = pods[d].mac, .dmac = pods[d].host_mac, .src = src, .dst = dst,
			    .sport = sp, .dport = dp, .proto = proto, .flags = flags,
			    .payload = proto == IPPROTO_UDP ? 12 : 0 };
}

/* As delivered into pod d: its MACs, one hop less. */
struct g6 into6(struct g6 f, int d)
{
	f.smac = pods[d].host_mac;
	f.dmac = pods[d].mac;
	f.hop = 63;
	return f;
}

static uint8_t last[FRAME_MAX];
static size_t last_len;

/* skb->mark of the next expect6 run (then cleared): XCNI_MARK_TRUSTED for a
 * packet the stack hands over after from_pod or a decapsulation let it in. */
uint32_t expect6_mark;

void expect6_fd(int fd, unsigned int dir, int dev, const uint8_t *in, size_t len, int ret,
		int reason, const uint8_t *want, size_t want_len)
{
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	struct __sk_buff ctx = { .ifindex = env.ifindex[dev], .mark = expect6_mark };
	__u32 idx = XCNI_METRIC_IDX(reason, dir);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = last, .data_size_out = sizeof(last), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	expect6_mark = 0;
	assert_true(len <= FRAME_MAX);
	assert_int_equal(read_metrics(before), 0);
	assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(read_metrics(after), 0);
	last_len = o.data_size_out;
	for (__u32 i = 0; i < XCNI_NR_METRICS; i++)
		if (after[i].packets - before[i].packets != (i == idx))
			fail_msg("%s/%s counted %llu, want %s/%s (verdict %d)",
				 reason_name(i / XCNI_NR_DIRS), dir_name(i % XCNI_NR_DIRS),
				 (unsigned long long)(after[i].packets - before[i].packets),
				 reason_name(XCNI_REASON_IDX(reason)), dir_name(dir), o.retval);
	assert_int_equal((int)o.retval, ret);
	if (!want)
		return;
	assert_int_equal(last_len, want_len);
	for (size_t i = 0; i < want_len; i++)
		if (last[i] != want[i])
			fail_msg("output differs first at byte %zu: 0x%02x, want 0x%02x", i, last[i],
				 want[i]);
}

void expect6(int prog, int dev, const uint8_t *in, size_t len, int ret, int reason,
	     const uint8_t *want, size_t want_len)
{
	expect6_fd(prog_fd(prog), prog_dir(prog), dev, in, len, ret, reason, want, want_len);
}

/* Sends f from pod d through from_pod (lb) and wants it delivered into pod to as t. */
static void pass6(int d, const struct g6 *f, int to, const struct g6 *t, int reason)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	size_t len = frame6(f, in), wlen = frame6(t, want);

	(void)to;
	expect6(FROM_POD_LB, d, in, len, TC_ACT_REDIRECT, reason, want, wlen);
}

/* The destination port a translated frame went to. */
static uint16_t out_dport6(void)
{
	return ntohs(*(const uint16_t *)(last + ETH_HLEN + 40 + 2));
}

/* Map writers, as the agent writes them. */
void be6(uint32_t id, const char *ip, uint16_t port)
{
	struct xcni_backend b = { .port = htons(port), .family = XCNI_AF_INET6 };

	in6(ip, b.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_backend"), &id, &b, BPF_ANY), 0);
}

void svc6(const char *vip, uint16_t port, uint8_t proto, uint32_t id, uint8_t flags,
	  const uint32_t *ids, uint16_t count)
{
	struct xcni_svc_key k = { .port = htons(port), .family = XCNI_AF_INET6, .proto = proto };
	struct xcni_svc s = { .id = id, .count = count, .rev_nat = (uint16_t)id, .flags = flags,
			      .affinity_s = 10800 };
	struct xcni_revnat rn = { .port = htons(port), .family = XCNI_AF_INET6 };
	uint16_t rid = (uint16_t)id;

	for (uint16_t i = 0; i < count; i++) {
		struct xcni_svcslot_key sk = { .svc_id = id, .slot = i };

		assert_int_equal(bpf_map_update_elem(map_fd("xcni_svcslot"), &sk, &ids[i], BPF_ANY),
				 0);
		assert_int_equal(svcbe_put(id, ids[i]), 0);
	}
	in6(vip, k.addr);
	in6(vip, rn.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_revnat"), &rid, &rn, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_svc"), &k, &s, BPF_ANY), 0);
}

struct xcni_ct_entry ct6_get(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto,
			     int *found)
{
	struct xcni_ct6_key k = { .sport = htons(sp), .dport = htons(dp), .proto = proto };
	struct xcni_ct_entry e = {};

	in6(s, k.saddr);
	in6(d, k.daddr);
	*found = !bpf_map_lookup_elem(map_fd("xcni_ct6"), &k, &e);
	return e;
}

static void open_up(uint32_t ep)
{
	bpf_map_delete_elem(map_fd("xcni_polep"), &ep);
	assert_int_equal(polrev_bump(), 0);
}

static void lb6_setup(void **state)
{
	static const uint32_t s1[] = { 3011 }, s1u[] = { 3012 }, s5[] = { 3051, 3052, 3053 },
			      s7[] = { 3071, 3072, 3073, 3074, 3075 }, s9[] = { 3091 };

	(void)state;
	open_up(ip4(IP_A));
	open_up(ip4(IP_B));
	open_up(ip4(IP_C));
	open_up(ip4(KEY_X));
	be6(3011, B6, 8080);
	be6(3012, B6, 5353);
	be6(3051, B6, 7001);
	be6(3052, B6, 7002);
	be6(3053, C6, 7003);
	for (uint32_t i = 0; i < 5; i++)
		be6(3071 + i, B6, (uint16_t)(7101 + i));
	be6(3091, A6, 8080);
	be6(3131, OUT6, 8443);
	svc6(VIP1, 80, IPPROTO_TCP, 301, 0, s1, 1);
	svc6(VIP1, 53, IPPROTO_UDP, 302, 0, s1u, 1);
	svc6(VIP3, 80, IPPROTO_TCP, 303, 0, NULL, 0);
	svc6(VIP3, 53, IPPROTO_UDP, 304, 0, NULL, 0);
	svc6(VIP5, 80, IPPROTO_TCP, 305, XCNI_SVC_F_AFFINITY, s5, 3);
	svc6(VIP7, 80, IPPROTO_TCP, 307, XCNI_SVC_F_MAGLEV, s7, 5);
	svc6(VIP9, 80, IPPROTO_TCP, 309, 0, s9, 1);
	svc6(VIPD, 443, IPPROTO_TCP, 313, 0, (const uint32_t[]){ 3131 }, 1);
	be6(3141, B6, 38680);
	svc6(VIPE, 3868, IPPROTO_SCTP, 314, 0, (const uint32_t[]){ 3141 }, 1);
	svc6(VIPF, 3868, IPPROTO_SCTP, 315, 0, NULL, 0);
}

/* TCP: DNAT to the backend (checksum over the new pseudo-header), reply from the frontend. */
static void lb6_tcp(void **state)
{
	struct g6 f = from6(DEV_A, A6, 40500, VIP1, 80, IPPROTO_TCP, T_SYN), t, r, rt;
	struct xcni_ct_entry e;
	int found;

	(void)state;
	t = into6(f, DEV_B);
	t.dst = B6;
	t.dport = 8080;
	pass6(DEV_A, &f, DEV_B, &t, XCNI_FWD_LOCAL);
	/* The service entry (the tuple as sent) names the backend; the flow's, rev_nat. */
	e = ct6_get(A6, 40500, VIP1, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 3011);
	assert_int_equal(e.rev_nat, 301);
	assert_int_equal(e.ep_id, pods[DEV_A].ep_id);
	e = ct6_get(A6, 40500, B6, 8080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, 0);
	assert_int_equal(e.rev_nat, 301);
	assert_int_equal(e.backend_id, 3011);
	/* The reply: from the frontend again. */
	r = from6(DEV_B, B6, 8080, A6, 40500, IPPROTO_TCP, T_SYN | T_ACK);
	rt = into6(r, DEV_A);
	rt.src = VIP1;
	rt.sport = 80;
	pass6(DEV_B, &r, DEV_A, &rt, XCNI_FWD_REPLY);
	/* The handshake's last ACK, with data: the same backend; the service entry follows. */
	f.flags = T_ACK;
	f.payload = 9;
	t = into6(f, DEV_B);
	t.dst = B6;
	t.dport = 8080;
	pass6(DEV_A, &f, DEV_B, &t, XCNI_FWD_LOCAL);
	e = ct6_get(A6, 40500, VIP1, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);
}

/* UDP: the checksum updated for address and port; the reply's too. */
static void lb6_udp(void **state)
{
	struct g6 f = from6(DEV_A, A6, 40600, VIP1, 53, IPPROTO_UDP, 0), t, r, rt;

	(void)state;
	t = into6(f, DEV_B);
	t.dst = B6;
	t.dport = 5353;
	pass6(DEV_A, &f, DEV_B, &t, XCNI_FWD_LOCAL);
	r = from6(DEV_B, B6, 5353, A6, 40600, IPPROTO_UDP, 0);
	rt = into6(r, DEV_A);
	rt.src = VIP1;
	rt.sport = 53;
	pass6(DEV_B, &r, DEV_A, &rt, XCNI_FWD_REPLY);
}

/*
 * An ICMPv6 port unreachable from the UDP backend about the flow above
 * quotes client -> backend: the client gets it from the frontend, quoting
 * client -> frontend (ICMPv6 checksum computed here over all of it).
 */
static void lb6_icmp_error(void **state)
{
	struct g6 q = from6(DEV_A, A6, 40600, B6, 5353, IPPROTO_UDP, 0);
	uint8_t qf[FRAME_MAX], in[FRAME_MAX], want[FRAME_MAX];
	size_t qlen = frame6(&q, qf), len, mlen = 8 + 48;
	uint16_t c;

	(void)state;
	/* The error as B sends it: B -> A, type 1 code 4, quoting 48 bytes. */
	memset(in, 0, sizeof(in));
	memcpy(in, pods[DEV_B].host_mac, ETH_ALEN);
	memcpy(in + ETH_ALEN, pods[DEV_B].mac, ETH_ALEN);
	in[12] = 0x86;
	in[13] = 0xdd;
	in[14] = 0x60;
	in[19] = (uint8_t)mlen;
	in[20] = 58;
	in[21] = 64;
	in6(B6, in + 22);
	in6(A6, in + 38);
	in[54] = 1;
	in[55] = 4;
	assert_true(qlen >= ETH_HLEN + 48);
	memcpy(in + 62, qf + ETH_HLEN, 48);
	c = csum6(in + ETH_HLEN, 58, in + 54, mlen);
	memcpy(in + 56, &c, 2);
	len = 54 + mlen;
	/* What A must get: from the frontend, the quote to the frontend's port. */
	memcpy(want, in, len);
	memcpy(want, pods[DEV_A].mac, ETH_ALEN);
	memcpy(want + ETH_ALEN, pods[DEV_A].host_mac, ETH_ALEN);
	want[21] = 63;
	in6(VIP1, want + 22);
	in6(VIP1, want + 62 + 24);
	want[62 + 40 + 2] = 0;
	want[62 + 40 + 3] = 53;
	want[56] = want[57] = 0;
	c = csum6(want + ETH_HLEN, 58, want + 54, mlen);
	memcpy(want + 56, &c, 2);
	expect6(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, len);
}

/* No backend, TCP: the SYN becomes a RST|ACK from the frontend, back into the client. */
static void lb6_reject_tcp(void **state)
{
	struct g6 f = from6(DEV_A, A6, 40700, VIP3, 80, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX], want[FRAME_MAX], *ip = want + ETH_HLEN, *l4 = ip + 40;
	size_t len = frame6(&f, in);
	uint16_t c;
	int found;

	(void)state;
	memset(want, 0, sizeof(want));
	memcpy(want, pods[DEV_A].mac, ETH_ALEN);
	memcpy(want + ETH_ALEN, pods[DEV_A].host_mac, ETH_ALEN);
	want[12] = 0x86;
	want[13] = 0xdd;
	ip[0] = 0x60;
	ip[5] = 20;
	ip[6] = IPPROTO_TCP;
	ip[7] = 64;
	in6(VIP3, ip + 8);
	in6(A6, ip + 24);
	*(uint16_t *)l4 = htons(80);
	*(uint16_t *)(l4 + 2) = htons(40700);
	*(uint32_t *)(l4 + 8) = htonl(SEQ + 1); /* the SYN acknowledged */
	l4[12] = 5 << 4;
	l4[13] = T_RST | T_ACK;
	c = csum6(ip, IPPROTO_TCP, l4, 20);
	memcpy(l4 + 16, &c, 2);
	expect6(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
		ETH_HLEN + 60);
	ct6_get(A6, 40700, VIP3, 80, IPPROTO_TCP, &found);
	assert_false(found);
}

/* No backend, UDP: ICMPv6 port unreachable from the frontend, quoting the datagram. */
static void lb6_reject_udp(void **state)
{
	struct g6 f = from6(DEV_A, A6, 40701, VIP3, 53, IPPROTO_UDP, 0);
	uint8_t in[FRAME_MAX], want[FRAME_MAX], *ip = want + ETH_HLEN, *m = ip + 40;
	size_t len = frame6(&f, in);
	uint16_t c;

	(void)state;
	memset(want, 0, sizeof(want));
	memcpy(want, pods[DEV_A].mac, ETH_ALEN);
	memcpy(want + ETH_ALEN, pods[DEV_A].host_mac, ETH_ALEN);
	want[12] = 0x86;
	want[13] = 0xdd;
	ip[0] = 0x60;
	ip[5] = 56;
	ip[6] = 58;
	ip[7] = 64;
	in6(VIP3, ip + 8);
	in6(A6, ip + 24);
	m[0] = 1; /* destination unreachable */
	m[1] = 4; /* port unreachable */
	memcpy(m + 8, in + ETH_HLEN, 48);
	c = csum6(ip, 58, m, 56);
	memcpy(m + 2, &c, 2);
	expect6(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
		ETH_HLEN + 96);
}

/* ---- SCTP ---------------------------------------------------------------- */

#define SCTP6_MAX 2200 /* frames up to an SCTP packet of 2052 bytes (length bit 2^11) */
#define SC6_DATA 0
#define SC6_INIT 1
#define SC6_INIT_ACK 2

/*
 * An SCTP frame of f (its proto ignored): common header (tag 0x11223344),
 * one chunk of type chunk with payload bytes (a multiple of 4), the CRC32c
 * computed here with the bit-at-a-time reference, then XORed with bad (a
 * corruption kept through the update); zero: a CRC of 0 (RFC 9653).
 */
static size_t sframe6(const struct g6 *f, uint8_t chunk, uint16_t payload, uint32_t bad, int zero,
		      uint8_t *buf)
{
	uint8_t *ip = buf + ETH_HLEN, *l4 = ip + 40;
	size_t l4len = 12 + 4 + payload;
	uint32_t c;

	assert_true(ETH_HLEN + 40 + l4len <= SCTP6_MAX && !(payload & 3));
	memset(buf, 0, ETH_HLEN + 40 + l4len);
	memcpy(buf, f->dmac, ETH_ALEN);
	memcpy(buf + ETH_ALEN, f->smac, ETH_ALEN);
	buf[12] = 0x86;
	buf[13] = 0xdd;
	ip[0] = 0x60;
	ip[4] = (uint8_t)(l4len >> 8);
	ip[5] = (uint8_t)l4len;
	ip[6] = IPPROTO_SCTP;
	ip[7] = f->hop ? f->hop : 64;
	in6(f->src, ip + 8);
	in6(f->dst, ip + 24);
	*(uint16_t *)l4 = htons(f->sport);
	*(uint16_t *)(l4 + 2) = htons(f->dport);
	*(uint32_t *)(l4 + 4) = htonl(0x11223344);
	l4[12] = chunk;
	*(uint16_t *)(l4 + 14) = htons((uint16_t)(4 + payload));
	for (size_t i = 0; i < payload; i++)
		l4[16 + i] = (uint8_t)(0x5a ^ i);
	c = zero ? 0 : htole32(crc32c_ref(l4, l4len)) ^ bad;
	memcpy(l4 + 8, &c, 4);
	return ETH_HLEN + 40 + l4len;
}

static uint32_t scrc6(const uint8_t *frame)
{
	uint32_t c;

	memcpy(&c, frame + ETH_HLEN + 40 + 8, 4);
	return c;
}

/* in through from_pod (lb) of pod d: redirected, and exactly want. */
static void spass6(int d, const uint8_t *in, size_t len, const uint8_t *want, size_t wlen,
		   uint8_t *out)
{
	uint8_t buf[SCTP6_MAX];
	struct bpf_test_run_opts o = {};

	memcpy(buf, in, len);
	assert_int_equal(run(FROM_POD_LB, d, buf, len, out, SCTP6_MAX, 0, &o), 0);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal((int)o.retval, TC_ACT_REDIRECT);
	assert_int_equal(o.data_size_out, wlen);
	for (size_t i = 0; i < wlen; i++)
		if (out[i] != want[i])
			fail_msg("SCTP output differs first at byte %zu: 0x%02x, want 0x%02x", i,
				 out[i], want[i]);
}

/*
 * SCTP over IPv6 to a frontend whose backend listens on another port: the
 * address changes alone (no pseudo-header), the CRC is updated for the port
 * and must equal the bit-at-a-time reference over the translated packet,
 * both ways, at lengths that set every bit of the SCTP packet's length from
 * 2^2 to 2^11. A corrupted CRC stays corrupted by the same error; a zero CRC
 * stays zero. tshark finds the CRCs of the programs' output good, and the
 * corrupted one bad.
 */
static void lb6_sctp(void **state)
{
	static const uint16_t payloads[] = { 0, 4, 20, 52, 116, 244, 500, 1012, 2036 };
	static uint8_t in[SCTP6_MAX], want[SCTP6_MAX], keep[3][SCTP6_MAX];
	uint8_t *frames[3] = { keep[0], keep[1], keep[2] };
	struct g6 f = from6(DEV_A, A6, 36420, VIPE, 3868, IPPROTO_SCTP, 0), t, r, rt;
	char path[] = "/tmp/xcni-sctp6-XXXXXX", status[64];
	size_t len, wlen, lens[3];
	struct xcni_ct_entry e;
	int fd, found;

	(void)state;
	t = into6(f, DEV_B);
	t.dst = B6;
	t.dport = 38680;
	len = sframe6(&f, SC6_INIT, 16, 0, 0, in);
	wlen = sframe6(&t, SC6_INIT, 16, 0, 0, want);
	spass6(DEV_A, in, len, want, wlen, keep[0]);
	lens[0] = wlen;
	assert_int_not_equal(scrc6(keep[0]), scrc6(in));
	e = ct6_get(A6, 36420, VIPE, 3868, IPPROTO_SCTP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 3141);
	e = ct6_get(A6, 36420, B6, 38680, IPPROTO_SCTP, &found);
	assert_true(found);
	assert_int_equal(e.rev_nat, 314);

	/* B's INIT ACK: from the frontend's address and port, its CRC updated. */
	r = from6(DEV_B, B6, 38680, A6, 36420, IPPROTO_SCTP, 0);
	rt = into6(r, DEV_A);
	rt.src = VIPE;
	rt.sport = 3868;
	len = sframe6(&r, SC6_INIT_ACK, 24, 0, 0, in);
	wlen = sframe6(&rt, SC6_INIT_ACK, 24, 0, 0, want);
	spass6(DEV_B, in, len, want, wlen, keep[1]);
	lens[1] = wlen;

	/* DATA of every length, both ways. */
	for (size_t i = 0; i < ARRAY_SIZE(payloads); i++) {
		len = sframe6(&f, SC6_DATA, payloads[i], 0, 0, in);
		wlen = sframe6(&t, SC6_DATA, payloads[i], 0, 0, want);
		spass6(DEV_A, in, len, want, wlen, keep[2]);
		len = sframe6(&r, SC6_DATA, payloads[i], 0, 0, in);
		wlen = sframe6(&rt, SC6_DATA, payloads[i], 0, 0, want);
		spass6(DEV_B, in, len, want, wlen, keep[2]);
	}
	/* Corrupted: the same error after the update (nothing made to pass). */
	len = sframe6(&f, SC6_DATA, 52, 0x00010000, 0, in);
	wlen = sframe6(&t, SC6_DATA, 52, 0x00010000, 0, want);
	spass6(DEV_A, in, len, want, wlen, keep[2]);
	lens[2] = wlen;
	/* A CRC of 0 stays 0. */
	len = sframe6(&f, SC6_DATA, 20, 0, 1, in);
	wlen = sframe6(&t, SC6_DATA, 20, 0, 1, want);
	spass6(DEV_A, in, len, want, wlen, want + SCTP6_MAX / 2);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	pcap_write(path, frames, lens, 3);
	tshark_sctp_status(path, status, sizeof(status));
	unlink(path);
	assert_string_equal(status, "1\n1\n0\n");
}

/* No backend, SCTP: ICMPv6 port unreachable from the frontend, quoting the packet. */
static void lb6_reject_sctp(void **state)
{
	struct g6 f = from6(DEV_A, A6, 36421, VIPF, 3868, IPPROTO_SCTP, 0);
	uint8_t in[SCTP6_MAX], want[FRAME_MAX], *ip = want + ETH_HLEN, *m = ip + 40;
	size_t len = sframe6(&f, SC6_INIT, 16, 0, 0, in);
	uint16_t c;
	int found;

	(void)state;
	memset(want, 0, sizeof(want));
	memcpy(want, pods[DEV_A].mac, ETH_ALEN);
	memcpy(want + ETH_ALEN, pods[DEV_A].host_mac, ETH_ALEN);
	want[12] = 0x86;
	want[13] = 0xdd;
	ip[0] = 0x60;
	ip[5] = 56;
	ip[6] = 58;
	ip[7] = 64;
	in6(VIPF, ip + 8);
	in6(A6, ip + 24);
	m[0] = 1; /* destination unreachable */
	m[1] = 4; /* port unreachable */
	memcpy(m + 8, in + ETH_HLEN, 48);
	c = csum6(ip, 58, m, 56);
	memcpy(m + 2, &c, 2);
	expect6(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
		ETH_HLEN + 96);
	ct6_get(A6, 36421, VIPF, 3868, IPPROTO_SCTP, &found);
	assert_false(found);
}

/* A new TCP flow from A to vip:80 with sport: the backend port it got. */
static uint16_t open6(const char *vip, uint16_t sport)
{
	struct g6 f = from6(DEV_A, A6, sport, vip, 80, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX];
	size_t len = frame6(&f, in);

	expect6(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, NULL, 0);
	return out_dport6();
}

/* ClientIP affinity: every flow of the client gets its first backend; the entry is IPv6's. */
static void lb6_affinity(void **state)
{
	struct xcni_affinity_key ak = { .svc_id = 305, .family = XCNI_AF_INET6 };
	struct xcni_affinity a;
	uint16_t first = open6(VIP5, 41000);

	(void)state;
	assert_true(first >= 7001 && first <= 7003);
	for (int i = 1; i < 20; i++)
		assert_int_equal(open6(VIP5, (uint16_t)(41000 + i)), first);
	in6(A6, ak.client);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_affinity"), &ak, &a), 0);
	assert_int_equal(a.backend_id, 3051u + (first - 7001));
}

/* Maglev: table[xcni_lb_hash6(tuple) % M], the table from user/lib/services/maglev.c. */
static void lb6_maglev(void **state)
{
	struct maglev_backend mb[5];
	struct xcni_backend b[5];
	uint32_t *table = calloc(XCNI_MAGLEV_M, sizeof(*table));
	uint32_t key = xcni_maglev_key(307, 0);
	uint8_t sa[16], da[16];
	int inner, used = 0, seen[5] = {};

	(void)state;
	assert_non_null(table);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_backend"),
						     &(uint32_t){ 3071u + i }, &b[i]),
				 0);
		mb[i] = (struct maglev_backend){ .key = &b[i],
						 .key_len = offsetof(struct xcni_backend, state),
						 .id = 3071u + i };
	}
	assert_int_equal(maglev_build(mb, 5, XCNI_MAGLEV_M, table), 0);
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ut_maglev6", 4, 4, XCNI_MAGLEV_M, NULL);
	assert_true(inner >= 0);
	for (uint32_t i = 0; i < XCNI_MAGLEV_M; i++)
		assert_int_equal(bpf_map_update_elem(inner, &i, &table[i], BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_maglev"), &key, &inner, BPF_ANY), 0);
	close(inner);
	in6(A6, sa);
	in6(VIP7, da);
	for (int i = 0; i < 100; i++) {
		uint16_t sport = (uint16_t)(43000 + i * 7);
		uint32_t h = xcni_lb_hash6((const __u32 *)sa, (const __u32 *)da, htons(sport),
					   htons(80), IPPROTO_TCP);
		uint32_t want = table[h % XCNI_MAGLEV_M];

		assert_int_equal(open6(VIP7, sport), 7101 + (want - 3071));
		seen[want - 3071]++;
	}
	for (int i = 0; i < 5; i++)
		used += seen[i] > 0;
	assert_true(used >= 4);
	free(table);
}

/*
 * Hairpin: A reaching itself through the Service gets the packet from the
 * loopback address (its own would be a martian); its reply goes back to it
 * from the frontend.
 */
static void lb6_hairpin(void **state)
{
	struct g6 f = from6(DEV_A, A6, 40800, VIP9, 80, IPPROTO_TCP, T_SYN), t, r, rt;
	struct xcni_ct_entry e;
	int found;

	(void)state;
	t = into6(f, DEV_A);
	t.src = LOOP6;
	t.dst = A6;
	t.dport = 8080;
	pass6(DEV_A, &f, DEV_A, &t, XCNI_FWD_LOCAL);
	e = ct6_get(LOOP6, 40800, A6, 8080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_HAIRPIN);
	r = from6(DEV_A, A6, 8080, LOOP6, 40800, IPPROTO_TCP, T_SYN | T_ACK);
	rt = into6(r, DEV_A);
	rt.src = VIP9;
	rt.sport = 80;
	rt.dst = A6;
	pass6(DEV_A, &r, DEV_A, &rt, XCNI_FWD_REPLY);
}

/*
 * A backend outside the pod network: from_pod6 translates and hands the
 * packet to the stack; the reply comes back through the stack, and to_pod6
 * puts the frontend back as its source.
 */
static void lb6_via_stack(void **state)
{
	struct g6 f = from6(DEV_A, A6, 40900, VIPD, 443, IPPROTO_TCP, T_SYN), t, r, rt;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	size_t len, wlen;

	(void)state;
	t = f;
	t.dst = OUT6;
	t.dport = 8443;
	len = frame6(&f, in);
	wlen = frame6(&t, want);
	expect6(FROM_POD_LB, DEV_A, in, len, TC_ACT_OK, XCNI_FWD_STACK, want, wlen);
	/* The reply, as the stack sends it into A. */
	r = (struct g6){ .smac = pods[DEV_A].host_mac, .dmac = pods[DEV_A].mac, .src = OUT6,
			 .dst = A6, .sport = 8443, .dport = 40900, .proto = IPPROTO_TCP,
			 .flags = T_SYN | T_ACK };
	rt = r;
	rt.src = VIPD;
	rt.sport = 443;
	len = frame6(&r, in);
	wlen = frame6(&rt, want);
	expect6(TO_POD_LB, DEV_A, in, len, TC_ACT_OK, XCNI_FWD_REPLY, want, wlen);
}

static const struct CMUnitTest lb6_tests[] = {
	cmocka_unit_test(lb6_setup),
	cmocka_unit_test(lb6_tcp),
	cmocka_unit_test(lb6_udp),
	cmocka_unit_test(lb6_icmp_error),
	cmocka_unit_test(lb6_reject_tcp),
	cmocka_unit_test(lb6_reject_udp),
	cmocka_unit_test(lb6_sctp),
	cmocka_unit_test(lb6_reject_sctp),
	cmocka_unit_test(lb6_affinity),
	cmocka_unit_test(lb6_maglev),
	cmocka_unit_test(lb6_hairpin),
	cmocka_unit_test(lb6_via_stack),
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

