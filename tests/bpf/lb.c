// SPDX-License-Identifier: Apache-2.0
/*
 * Services in BPF (bpf/lib/lb.h) through BPF_PROG_TEST_RUN: from_pod, to_pod
 * and from_overlay with lb_enabled, on the netns and maps of test_bpf.c (the
 * rows ran first: A is isolated in no direction, B's egress allows only A on
 * TCP 80 (policy 10 rule 0), R is a pod of node n2).
 *
 * Frames carry real L4 checksums, and what the programs must leave is built
 * from scratch with the translated fields and checksums computed in full: an
 * incremental update that is off by a bit fails byte for byte.
 *
 *   frontend              backends (id: address:port, state)            flags
 *   10.96.1.1:80/TCP      11: B:8080                                      -
 *   10.96.1.1:53/UDP      12: B:5353                                      -
 *   10.96.1.3:80/TCP      none                                            -
 *   10.96.1.3:53/UDP      none                                            -
 *   10.96.1.5:80/TCP      51: B:7001, 52: B:7002, 53: C:7003              affinity 10800 s
 *   10.96.1.6:80/TCP      the same three                                  random
 *   10.96.1.7:80/TCP      71-75: B:7101-7105                              Maglev
 *   10.96.1.8:80/TCP      81: B:7201 active; 82: C:7202, 83: C:7203 terminating
 *   10.96.1.9:80/TCP      91: A:8080 (hairpin)
 *   10.96.1.10:80/TCP     101: R:80 (node n2, through Geneve)
 *   10.96.1.11:53/UDP     111: C:53 (B's egress refuses it)
 *   10.96.1.12:80/TCP     121: A:80 (B's egress allows it: 10/0)
 *   10.96.1.13:443/TCP    131: 192.0.2.50:8443 (outside the pod network)
 *   NODE_IP:30080/TCP     11: B:8080 (NodePort, a local backend)
 *   NODE_IP:30081/TCP     101: R:80 (NodePort, a remote backend: SNAT + Geneve)
 *   NODE_IP:30083/TCP     11: B:8080                                      ETP Local
 *   NODE_IP:30084/TCP     EXT: none; INT: 101: R:80                       ETP Local
 *   NODE_IP:30085/TCP     none                                            -
 *   10.96.2.1:3868/SCTP   201: B:3868 (the same port: the CRC untouched)  -
 *   10.96.2.2:3868/SCTP   202: B:38680 (a new port: the CRC updated)      -
 *   10.96.2.3:3868/SCTP   none                                            -
 *   NODE_IP:30132/SCTP    201: B:3868 (NodePort, a local backend)         -
 *   NODE_IP:30133/SCTP    203: R:3868 (NodePort, a remote backend)        -
 *   N2:30080/TCP          11: B:8080 (another node's NodePort: a DSR option names it)
 *
 * The NodePort, DSR and external-traffic tests (the NODE_IP and N2 rows) are
 * in tests/bpf/lb_nodeport.c, run right after these; what both files share
 * (struct fr, frame(), expect() ...) is declared in tests/bpf/lb.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <endian.h>
#include <unistd.h>
#include <linux/pkt_cls.h>

#include "harness.h"
#include "../../user/lib/services/maglev.h"
#include "lb.h"


/*
 * CRC32c as RFC 9260 appendix A defines it, a bit at a time, written from
 * the definition (reflected Castagnoli polynomial, initial and final
 * complement): the reference every SCTP checksum here is computed with, and
 * the programs' incremental update held against.
 */
uint32_t crc32c_ref(const uint8_t *d, size_t n)
{
	uint32_t c = ~0u;

	for (size_t i = 0; i < n; i++) {
		c ^= d[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & -(c & 1));
	}
	return ~c;
}

/* The SCTP packet at l4 (len bytes), checksum field as 0: its CRC, as stored (little-endian). */
static uint32_t sctp_crc(const uint8_t *l4, size_t len)
{
	uint8_t tmp[4096];
	uint32_t c;

	assert_true(len <= sizeof(tmp));
	memcpy(tmp, l4, len);
	memset(tmp + 8, 0, 4);
	c = crc32c_ref(tmp, len);
	return htole32(c);
}

static uint16_t l4_csum(uint32_t s, uint32_t d, uint8_t proto, const uint8_t *l4, size_t len)
{
	uint8_t tmp[12 + 4096]; /* big frames too (tests/bpf/np_mtu.c) */

	assert_true(len <= 4096);
	memcpy(tmp, &s, 4);
	memcpy(tmp + 4, &d, 4);
	tmp[8] = 0;
	tmp[9] = proto;
	tmp[10] = (uint8_t)(len >> 8);
	tmp[11] = (uint8_t)len;
	memcpy(tmp + 12, l4, len);
	return csum(tmp, 12 + len);
}

/* Into buf, FRAME_MAX bytes or the frame's length if more. */
size_t frame(const struct fr *f, uint8_t *buf)
{
	uint8_t *ip = buf + ETH_HLEN, *l4 = ip + 20;
	size_t hdr = f->proto == IPPROTO_TCP ? 20 : f->proto == IPPROTO_SCTP ? 16 : 8;
	size_t l4len = hdr + (f->proto == IPPROTO_SCTP ? (f->payload + 3u) & ~3u : f->payload);

	memset(buf, 0, ETH_HLEN + 20 + l4len > FRAME_MAX ? ETH_HLEN + 20 + l4len : FRAME_MAX);
	memcpy(buf, f->dmac, ETH_ALEN);
	memcpy(buf + ETH_ALEN, f->smac, ETH_ALEN);
	*(uint16_t *)(buf + 12) = htons(ETH_P_IP);
	ip[0] = 0x45;
	*(uint16_t *)(ip + 2) = htons(20 + l4len);
	*(uint16_t *)(ip + 4) = htons(0x1234);
	*(uint16_t *)(ip + 6) = htons(0x4000);
	ip[8] = f->ttl ? f->ttl : 64;
	ip[9] = f->proto;
	memcpy(ip + 12, &f->saddr, 4);
	memcpy(ip + 16, &f->daddr, 4);
	*(uint16_t *)(ip + 10) = csum(ip, 20);
	*(uint16_t *)l4 = htons(f->sport);
	*(uint16_t *)(l4 + 2) = htons(f->dport);
	for (size_t i = 0; i < f->payload; i++)
		l4[hdr + i] = (uint8_t)(0xa0 + i);
	if (f->proto == IPPROTO_SCTP) {
		uint32_t c;

		/* An INIT carries tag 0 (RFC 9260 8.5.1); then the one chunk. */
		if (f->flags != SC_INIT)
			*(uint32_t *)(l4 + 4) = htonl(0x5c7b1e55);
		l4[12] = f->flags;
		*(uint16_t *)(l4 + 14) = htons(4 + f->payload);
		c = f->no_csum ? 0 : sctp_crc(l4, l4len) ^ f->crc_err;
		memcpy(l4 + 8, &c, 4);
	} else if (f->proto == IPPROTO_TCP) {
		*(uint32_t *)(l4 + 4) = htonl(TCP_SEQ);
		if (f->flags & TH_ACK)
			*(uint32_t *)(l4 + 8) = htonl(0x0a0b0c0d);
		l4[12] = 5 << 4;
		l4[13] = f->flags;
		*(uint16_t *)(l4 + 14) = htons(64240);
		*(uint16_t *)(l4 + 16) = l4_csum(f->saddr, f->daddr, IPPROTO_TCP, l4, l4len);
	} else {
		uint16_t c;

		*(uint16_t *)(l4 + 4) = htons(l4len);
		c = l4_csum(f->saddr, f->daddr, IPPROTO_UDP, l4, l4len);
		*(uint16_t *)(l4 + 6) = f->no_csum ? 0 : c ? c : 0xffff;
	}
	return ETH_HLEN + 20 + l4len;
}

/* From pod d's side (pod MAC -> gateway MAC), or into it (the other way). */
struct fr from_dev(int d, const char *src, uint16_t sp, const char *dst, uint16_t dp,
		   uint8_t proto, uint8_t flags)
{
	return (struct fr){ .smac = pods[d].mac, .dmac = pods[d].host_mac, .saddr = ip4(src),
			    .daddr = ip4(dst), .sport = sp, .dport = dp, .proto = proto,
			    .flags = flags };
}

/* The frame as delivered into pod d: its MACs, one hop less. */
struct fr into(struct fr f, int d)
{
	f.smac = pods[d].host_mac;
	f.dmac = pods[d].mac;
	f.ttl = 63;
	return f;
}

/* Frames of long SCTP packets (the CRC update at every length bit up to 2^11). */
#define BIG_MAX 2200

/* Runs in (from device dev's side) through prog; output into out (cap bytes). Returns the verdict. */
static int lb_send_n(int prog, int dev, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
		     size_t *out_len)
{
	uint8_t buf[BIG_MAX];
	struct bpf_test_run_opts o = {};

	assert_true(len <= sizeof(buf));
	memcpy(buf, in, len);
	assert_int_equal(run(prog, dev, buf, len, out, cap, 0, &o), 0);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	*out_len = o.data_size_out;
	return (int)o.retval;
}

static int lb_send(int prog, int dev, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	return lb_send_n(prog, dev, in, len, out, FRAME_MAX, out_len);
}

/* The last output expect() saw. */
static uint8_t last_out[BIG_MAX];
static size_t last_len;

/*
 * One packet: verdict ret, counted once under (reason, the program's
 * direction) and nowhere else, output exactly want (when given), an event for
 * a drop.
 */
void expect(int prog, int dev, const uint8_t *in, size_t len, int ret, int reason,
	    const uint8_t *want, size_t want_len)
{
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	uint8_t out[BIG_MAX];
	size_t out_len;
	__u32 idx = XCNI_METRIC_IDX(reason, prog_dir(prog));

	assert_int_equal(read_metrics(before), 0);
	env.nev = 0;
	assert_int_equal(lb_send_n(prog, dev, in, len, out, sizeof(out), &out_len), ret);
	memcpy(last_out, out, out_len);
	last_len = out_len;
	assert_int_equal(read_metrics(after), 0);
	for (__u32 i = 0; i < XCNI_NR_METRICS; i++) {
		uint64_t dp = after[i].packets - before[i].packets;

		if (dp != (uint64_t)(i == idx))
			fail_msg("%s/%s counted %" PRIu64 ", want %s/%s", reason_name(i / XCNI_NR_DIRS),
				 dir_name(i % XCNI_NR_DIRS), dp, reason_name(XCNI_REASON_IDX(reason)),
				 dir_name(prog_dir(prog)));
	}
	if (reason <= XCNI_DROP_NON_IP) {
		assert_int_equal(env.nev, 1);
		assert_int_equal(env.ev[0].type, XCNI_EV_DROP);
		assert_int_equal(env.ev[0].reason, reason);
	}
	if (!want)
		return;
	assert_int_equal(out_len, want_len);
	for (size_t i = 0; i < want_len; i++)
		if (out[i] != want[i])
			fail_msg("output differs first at byte %zu: 0x%02x, want 0x%02x", i, out[i],
				 want[i]);
}

/* The backend a translated TCP/UDP frame went to: its destination port. */
static uint16_t out_dport(const uint8_t *out)
{
	return ntohs(*(const uint16_t *)(out + ETH_HLEN + 20 + 2));
}


/* Map writers, as the agent will write them. */
int be_set(uint32_t id, const char *ip, uint16_t port, uint8_t state)
{
	struct xcni_backend b = { .port = htons(port), .family = XCNI_AF_INET, .state = state };
	uint32_t a = ip4(ip);

	memcpy(b.addr, &a, 4);
	return bpf_map_update_elem(map_fd("xcni_backend"), &id, &b, BPF_ANY) ? -errno : 0;
}

static struct xcni_svc_key fe_key(const char *vip, uint16_t port, uint8_t proto)
{
	struct xcni_svc_key k = { .port = htons(port), .family = XCNI_AF_INET, .proto = proto };
	uint32_t a = ip4(vip);

	memcpy(k.addr, &a, 4);
	return k;
}

/*
 * A frontend with backends ids[0..count) active and [count, count + term)
 * terminating, under version v: slots first, then the entry (and its
 * reverse-NAT entry), as the versioned writer does.
 */
static int svc_set_scope(const char *vip, uint16_t port, uint8_t proto, uint8_t scope,
			 uint32_t id, uint8_t v, uint8_t flags, uint32_t affinity_s,
			 const uint32_t *ids, uint16_t count, uint16_t term)
{
	struct xcni_svc_key k = fe_key(vip, port, proto);
	struct xcni_svc s = { .id = id, .count = count, .count_term = term, .rev_nat = (uint16_t)id,
			      .flags = flags, .version = v, .affinity_s = affinity_s };
	struct xcni_revnat rn = { .port = htons(port), .family = XCNI_AF_INET };
	uint16_t rid = (uint16_t)id;
	uint32_t a = ip4(vip);

	for (uint16_t i = 0; i < count + term; i++) {
		struct xcni_svcslot_key sk = { .svc_id = id, .slot = i, .version = v };

		if (bpf_map_update_elem(map_fd("xcni_svcslot"), &sk, &ids[i], BPF_ANY))
			return -errno;
		if (svcbe_put(id, ids[i]))
			return -errno;
	}
	memcpy(rn.addr, &a, 4);
	k.scope = scope;
	if (bpf_map_update_elem(map_fd("xcni_revnat"), &rid, &rn, BPF_ANY) ||
	    bpf_map_update_elem(map_fd("xcni_svc"), &k, &s, BPF_ANY))
		return -errno;
	return 0;
}

int svc_set(const char *vip, uint16_t port, uint8_t proto, uint32_t id, uint8_t v,
		   uint8_t flags, uint32_t affinity_s, const uint32_t *ids, uint16_t count,
		   uint16_t term)
{
	return svc_set_scope(vip, port, proto, XCNI_SCOPE_EXT, id, v, flags, affinity_s, ids, count,
			     term);
}

static int lb_setup(void **state)
{
	static const uint32_t s1[] = { 11 }, s1u[] = { 12 }, s5[] = { 51, 52, 53 },
			      s7[] = { 71, 72, 73, 74, 75 }, s8[] = { 81, 82, 83 }, s9[] = { 91 },
			      s10[] = { 101 }, s11[] = { 111 }, s12[] = { 121 }, s13[] = { 131 },
			      s20[] = { 201 }, s21[] = { 202 }, s24[] = { 203 };
	int err = 0;

	(void)state;
	err = err ?: be_set(11, IP_B, 8080, XCNI_BE_ACTIVE);
	err = err ?: be_set(12, IP_B, 5353, XCNI_BE_ACTIVE);
	err = err ?: be_set(51, IP_B, 7001, XCNI_BE_ACTIVE);
	err = err ?: be_set(52, IP_B, 7002, XCNI_BE_ACTIVE);
	err = err ?: be_set(53, IP_C, 7003, XCNI_BE_ACTIVE);
	for (uint32_t i = 0; i < 5; i++)
		err = err ?: be_set(71 + i, IP_B, (uint16_t)(7101 + i), XCNI_BE_ACTIVE);
	err = err ?: be_set(81, IP_B, 7201, XCNI_BE_ACTIVE);
	err = err ?: be_set(82, IP_C, 7202, XCNI_BE_TERMINATING);
	err = err ?: be_set(83, IP_C, 7203, XCNI_BE_TERMINATING);
	err = err ?: be_set(91, IP_A, 8080, XCNI_BE_ACTIVE);
	err = err ?: be_set(101, IP_R, 80, XCNI_BE_ACTIVE);
	err = err ?: be_set(111, IP_C, 53, XCNI_BE_ACTIVE);
	err = err ?: be_set(121, IP_A, 80, XCNI_BE_ACTIVE);
	err = err ?: be_set(131, "192.0.2.50", 8443, XCNI_BE_ACTIVE);
	err = err ?: svc_set("10.96.1.1", 80, IPPROTO_TCP, 1, 0, 0, 0, s1, 1, 0);
	err = err ?: svc_set("10.96.1.1", 53, IPPROTO_UDP, 2, 0, 0, 0, s1u, 1, 0);
	err = err ?: svc_set("10.96.1.3", 80, IPPROTO_TCP, 3, 0, 0, 0, NULL, 0, 0);
	err = err ?: svc_set("10.96.1.3", 53, IPPROTO_UDP, 4, 0, 0, 0, NULL, 0, 0);
	err = err ?: svc_set("10.96.1.5", 80, IPPROTO_TCP, 5, 0, XCNI_SVC_F_AFFINITY, 10800, s5, 3, 0);
	err = err ?: svc_set("10.96.1.6", 80, IPPROTO_TCP, 6, 0, 0, 0, s5, 3, 0);
	err = err ?: svc_set("10.96.1.7", 80, IPPROTO_TCP, 7, 0, XCNI_SVC_F_MAGLEV, 0, s7, 5, 0);
	err = err ?: svc_set("10.96.1.8", 80, IPPROTO_TCP, 8, 0, 0, 0, s8, 1, 2);
	err = err ?: svc_set("10.96.1.9", 80, IPPROTO_TCP, 9, 0, 0, 0, s9, 1, 0);
	err = err ?: svc_set("10.96.1.10", 80, IPPROTO_TCP, 10, 0, 0, 0, s10, 1, 0);
	err = err ?: svc_set("10.96.1.11", 53, IPPROTO_UDP, 11, 0, 0, 0, s11, 1, 0);
	err = err ?: svc_set("10.96.1.12", 80, IPPROTO_TCP, 12, 0, 0, 0, s12, 1, 0);
	err = err ?: svc_set("10.96.1.13", 443, IPPROTO_TCP, 13, 0, 0, 0, s13, 1, 0);
	/* NodePorts on this node's underlay address (ids 14-19). */
	err = err ?: svc_set(NODE_IP, 30080, IPPROTO_TCP, 14, 0, 0, 0, s1, 1, 0);
	err = err ?: svc_set(NODE_IP, 30081, IPPROTO_TCP, 15, 0, 0, 0, s10, 1, 0);
	err = err ?: svc_set(NODE_IP, 30083, IPPROTO_TCP, 16, 0,
			     XCNI_SVC_F_ETP_LOCAL | XCNI_SVC_F_TWO_SCOPES, 0, s1, 1, 0);
	err = err ?: svc_set(NODE_IP, 30084, IPPROTO_TCP, 17, 0,
			     XCNI_SVC_F_ETP_LOCAL | XCNI_SVC_F_TWO_SCOPES, 0, NULL, 0, 0);
	err = err ?: svc_set_scope(NODE_IP, 30084, IPPROTO_TCP, XCNI_SCOPE_INT, 18, 0, 0, 0, s10,
				   1, 0);
	err = err ?: svc_set(NODE_IP, 30085, IPPROTO_TCP, 19, 0, 0, 0, NULL, 0, 0);
	/* SCTP (ids 20-24). */
	err = err ?: be_set(201, IP_B, 3868, XCNI_BE_ACTIVE);
	err = err ?: be_set(202, IP_B, 38680, XCNI_BE_ACTIVE);
	err = err ?: be_set(203, IP_R, 3868, XCNI_BE_ACTIVE);
	err = err ?: svc_set("10.96.2.1", 3868, IPPROTO_SCTP, 20, 0, 0, 0, s20, 1, 0);
	err = err ?: svc_set("10.96.2.2", 3868, IPPROTO_SCTP, 21, 0, 0, 0, s21, 1, 0);
	err = err ?: svc_set("10.96.2.3", 3868, IPPROTO_SCTP, 22, 0, 0, 0, NULL, 0, 0);
	err = err ?: svc_set(NODE_IP, 30132, IPPROTO_SCTP, 23, 0, 0, 0, s20, 1, 0);
	err = err ?: svc_set(NODE_IP, 30133, IPPROTO_SCTP, 24, 0, 0, 0, s24, 1, 0);
	/* Node n2's NodePort, as every node has it (id 25): DSR requests from n2 name it. */
	err = err ?: svc_set(N2, 30080, IPPROTO_TCP, 25, 0, 0, 0, s1, 1, 0);
	return err;
}

struct xcni_ct_entry ct_get(uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint8_t proto,
			    int *found)
{
	struct xcni_ct_key k = { .saddr = s, .daddr = d, .sport = htons(sp), .dport = htons(dp),
				 .proto = proto };
	struct xcni_ct_entry e = {};

	*found = !bpf_map_lookup_elem(bpf_map__fd(env.from->maps.xcni_ct), &k, &e);
	return e;
}

/* ClusterIP TCP: DNAT to the one backend, then its reply gets the frontend back. */
static void lb_tcp(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_dev(DEV_A, IP_A, 40500, "10.96.1.1", 80, IPPROTO_TCP, TH_SYN), t;
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	len = frame(&f, in);
	t = into(f, DEV_B);
	t.daddr = ip4(IP_B);
	t.dport = 8080;
	wlen = frame(&t, want);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
	/* The service entry (the tuple as sent) names the backend; the flow's, rev_nat. */
	e = ct_get(ip4(IP_A), ip4("10.96.1.1"), 40500, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 11);
	assert_int_equal(e.rev_nat, 1);
	assert_int_equal(e.ep_id, pods[DEV_A].ep_id);
	e = ct_get(ip4(IP_A), ip4(IP_B), 40500, 8080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, 0);
	assert_int_equal(e.rev_nat, 1);
	assert_int_equal(e.backend_id, 11); /* for the events of its replies */
	assert_int_equal(e.state, XCNI_CT_NEW);

	/* B's SYN-ACK: from B's device, source rewritten to the frontend, into A. */
	f = from_dev(DEV_B, IP_B, 8080, IP_A, 40500, IPPROTO_TCP, TH_SYN | TH_ACK);
	len = frame(&f, in);
	t = into(f, DEV_A);
	t.saddr = ip4("10.96.1.1");
	t.sport = 80;
	wlen = frame(&t, want);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);

	/* A's ACK with 100 bytes: the same translation, and the service entry follows the flow. */
	f = from_dev(DEV_A, IP_A, 40500, "10.96.1.1", 80, IPPROTO_TCP, TH_ACK);
	f.payload = 100;
	len = frame(&f, in);
	t = into(f, DEV_B);
	t.daddr = ip4(IP_B);
	t.dport = 8080;
	wlen = frame(&t, want);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
	e = ct_get(ip4(IP_A), ip4("10.96.1.1"), 40500, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);
	assert_int_equal(e.pkts_orig, 2);
}

/* ClusterIP UDP, with a checksum and without one (which stays without). */
static void lb_udp(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f, t;
	size_t len, wlen;

	(void)state;
	for (int nocsum = 0; nocsum < 2; nocsum++) {
		uint16_t sport = (uint16_t)(40600 + nocsum);

		f = from_dev(DEV_A, IP_A, sport, "10.96.1.1", 53, IPPROTO_UDP, 0);
		f.payload = 33; /* odd: the checksum's last byte is padded */
		f.no_csum = nocsum;
		len = frame(&f, in);
		t = into(f, DEV_B);
		t.daddr = ip4(IP_B);
		t.dport = 5353;
		wlen = frame(&t, want);
		expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);

		f = from_dev(DEV_B, IP_B, 5353, IP_A, sport, IPPROTO_UDP, 0);
		f.payload = 20;
		f.no_csum = nocsum;
		len = frame(&f, in);
		t = into(f, DEV_A);
		t.saddr = ip4("10.96.1.1");
		t.sport = 53;
		wlen = frame(&t, want);
		expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
	}
}

/*
 * A UDP datagram to a ClusterIP in IPv4 fragments: the first is translated
 * whole (address, port, the checksum that covers the whole datagram); a later
 * one carries no L4 header, so only its destination address (and the IP
 * checksum) change: the bytes where ports would be are payload and stay. A
 * later fragment of a datagram whose first was never seen opens nothing.
 */
static void set_frag(uint8_t *buf, uint16_t frag_off, uint16_t id)
{
	uint8_t *ip = buf + ETH_HLEN;

	*(uint16_t *)(ip + 4) = htons(id);
	*(uint16_t *)(ip + 6) = htons(frag_off);
	*(uint16_t *)(ip + 10) = 0;
	*(uint16_t *)(ip + 10) = csum(ip, 20);
}

static void lb_frag(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f, t;
	size_t len, wlen;
	uint32_t b = ip4(IP_B);

	(void)state;
	f = from_dev(DEV_A, IP_A, 40700, "10.96.1.1", 53, IPPROTO_UDP, 0);
	f.payload = 40;
	len = frame(&f, in);
	set_frag(in, 0x2000, 0x5a01); /* MF, offset 0 */
	t = into(f, DEV_B);
	t.daddr = b;
	t.dport = 5353;
	wlen = frame(&t, want);
	set_frag(want, 0x2000, 0x5a01);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);

	/* The later fragment: the same bytes as a frame, offset 6 (48 bytes). */
	f.sport = 1111; /* payload that looks like ports */
	f.dport = 2222;
	len = frame(&f, in);
	set_frag(in, 6, 0x5a01);
	memcpy(want, in, len);
	memcpy(want, pods[DEV_B].mac, ETH_ALEN);
	memcpy(want + ETH_ALEN, pods[DEV_B].host_mac, ETH_ALEN);
	want[ETH_HLEN + 8] = 63;
	memcpy(want + ETH_HLEN + 16, &b, 4);
	set_frag(want, 6, 0x5a01);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, len);

	/* Another datagram's later fragment, its first never seen: dropped. */
	set_frag(in, 6, 0x5a02);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_SHOT, XCNI_DROP_FRAGMENT, NULL, 0);
}

/* The RST answering f (a SYN): from its destination back to its source, MACs swapped. */
void rst_want(const struct fr *f, uint8_t *want)
{
	uint8_t *ip = want + ETH_HLEN, *l4 = ip + 20;

	memset(want, 0, FRAME_MAX);
	memcpy(want, f->smac, ETH_ALEN);
	memcpy(want + ETH_ALEN, f->dmac, ETH_ALEN);
	*(uint16_t *)(want + 12) = htons(ETH_P_IP);
	ip[0] = 0x45;
	*(uint16_t *)(ip + 2) = htons(40);
	*(uint16_t *)(ip + 6) = htons(0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	*(uint32_t *)(ip + 12) = f->daddr;
	*(uint32_t *)(ip + 16) = f->saddr;
	*(uint16_t *)(ip + 10) = csum(ip, 20);
	*(uint16_t *)l4 = htons(f->dport);
	*(uint16_t *)(l4 + 2) = htons(f->sport);
	*(uint32_t *)(l4 + 8) = htonl(TCP_SEQ + 1); /* a SYN takes one sequence number */
	l4[12] = 5 << 4;
	l4[13] = TH_RST | TH_ACK;
	*(uint16_t *)(l4 + 16) = l4_csum(*(uint32_t *)(ip + 12), *(uint32_t *)(ip + 16), IPPROTO_TCP,
					 l4, 20);
}

/* The ICMP port unreachable from the frontend answering in: MACs and addresses
 * swapped, quoting its IP header and 8 bytes (kube-proxy's REJECT). Its length. */
static size_t unreach_want(const uint8_t *in, uint8_t *want)
{
	uint8_t *ip = want + ETH_HLEN, *l4 = ip + 20;

	memset(want, 0, FRAME_MAX);
	memcpy(want, in + ETH_ALEN, ETH_ALEN);
	memcpy(want + ETH_ALEN, in, ETH_ALEN);
	*(uint16_t *)(want + 12) = htons(ETH_P_IP);
	ip[0] = 0x45;
	*(uint16_t *)(ip + 2) = htons(56);
	*(uint16_t *)(ip + 6) = htons(0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_ICMP;
	memcpy(ip + 12, in + ETH_HLEN + 16, 4);
	memcpy(ip + 16, in + ETH_HLEN + 12, 4);
	*(uint16_t *)(ip + 10) = csum(ip, 20);
	l4[0] = 3;
	l4[1] = 3;
	memcpy(l4 + 8, in + ETH_HLEN, 28);
	*(uint16_t *)(l4 + 2) = csum(l4, 36);
	return ETH_HLEN + 56;
}

/* No backends: TCP gets a RST, UDP an ICMP port unreachable, back into the client. */
static void lb_no_backend(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_dev(DEV_A, IP_A, 40700, "10.96.1.3", 80, IPPROTO_TCP, TH_SYN);
	uint8_t *ip = want + ETH_HLEN, *l4 = ip + 20;
	size_t len;
	int found;

	(void)state;
	len = frame(&f, in);
	rst_want(&f, want);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want, ETH_HLEN + 40);
	assert_int_equal(env.ev[0].daddr, ip4("10.96.1.3"));
	/* The refusal names the Service it was for, and no backend. */
	assert_int_equal(env.ev[0].rev_nat, 3);
	assert_int_equal(env.ev[0].backend_id, 0);
	ct_get(ip4(IP_A), ip4("10.96.1.3"), 40700, 80, IPPROTO_TCP, &found);
	assert_false(found);

	/* A segment with ACK (its backend went away mid-flow): seq from its ACK, no ACK. */
	f.flags = TH_ACK;
	f.payload = 10;
	len = frame(&f, in);
	*(uint32_t *)(l4 + 4) = htonl(0x0a0b0c0d);
	*(uint32_t *)(l4 + 8) = 0;
	l4[13] = TH_RST;
	*(uint16_t *)(l4 + 16) = 0;
	*(uint16_t *)(l4 + 16) = l4_csum(*(uint32_t *)(ip + 12), *(uint32_t *)(ip + 16), IPPROTO_TCP,
					 l4, 20);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want, ETH_HLEN + 40);

	/* UDP: ICMP port unreachable from the frontend, quoting the IP header and 8 bytes. */
	f = from_dev(DEV_A, IP_A, 40701, "10.96.1.3", 53, IPPROTO_UDP, 0);
	f.payload = 5;
	len = frame(&f, in);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
	       unreach_want(in, want));
	ct_get(ip4(IP_A), ip4("10.96.1.3"), 40701, 53, IPPROTO_UDP, &found);
	assert_false(found);
}

/* Opens a TCP flow from pod dev (address src) to vip:80 from sport; the backend's port. */
static uint16_t open_flow(int dev, const char *src, const char *vip, uint16_t sport)
{
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	struct fr f = from_dev(dev, src, sport, vip, 80, IPPROTO_TCP, TH_SYN);
	size_t len = frame(&f, in), out_len;

	assert_int_equal(lb_send(FROM_POD_LB, dev, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(out_len, len);
	return out_dport(out);
}

/* An ICMP error frame: outer (as f, TTL 64 unless set), type/code, quoting the
 * first 28 bytes of the IP packet in quoted (a frame, from its IP header). */
size_t icmp_error(const struct fr *f, uint8_t type, uint8_t code, const uint8_t *quoted,
		  uint8_t *buf)
{
	uint8_t *ip = buf + ETH_HLEN, *icmp = ip + 20;

	memset(buf, 0, FRAME_MAX);
	memcpy(buf, f->dmac, ETH_ALEN);
	memcpy(buf + ETH_ALEN, f->smac, ETH_ALEN);
	*(uint16_t *)(buf + 12) = htons(ETH_P_IP);
	ip[0] = 0x45;
	*(uint16_t *)(ip + 2) = htons(20 + 8 + 28);
	*(uint16_t *)(ip + 4) = htons(0x4321);
	ip[8] = f->ttl ? f->ttl : 64;
	ip[9] = IPPROTO_ICMP;
	memcpy(ip + 12, &f->saddr, 4);
	memcpy(ip + 16, &f->daddr, 4);
	*(uint16_t *)(ip + 10) = csum(ip, 20);
	icmp[0] = type;
	icmp[1] = code;
	if (type == 3 && code == 4)
		*(uint16_t *)(icmp + 6) = htons(1400); /* next-hop MTU */
	memcpy(icmp + 8, quoted + ETH_HLEN, 28);
	*(uint16_t *)(icmp + 2) = csum(icmp, 36);
	return ETH_HLEN + 20 + 36;
}

/*
 * ICMP errors about translated flows reach the client as about its own
 * packet: C's port unreachable for A's UDP to 10.96.1.11:53, and from node n2, R's fragmentation-needed for A's TCP to
 * 10.96.1.10:80 (lb_remote's): the quote's destination the frontend again
 * (its checksum and the ICMP checksum computed in full here), the outer source
 * too when the backend sent it.
 */
static void lb_icmp_error(void **state)
{
	uint8_t q[FRAME_MAX], in[FRAME_MAX], want[FRAME_MAX], inner[FRAME_MAX], qw[FRAME_MAX];
	struct fr sent, err, t;
	struct xcni_ct_key tuple = { .saddr = ip4(IP_R), .daddr = ip4(IP_A), .proto = IPPROTO_ICMP };
	size_t len, wlen, ilen;

	(void)state;
	/* A's UDP to 10.96.1.11:53, whose backend is C:53 (B's egress would
	 * refuse B's error: B is isolated). */
	sent = from_dev(DEV_A, IP_A, 40800, "10.96.1.11", 53, IPPROTO_UDP, 0);
	sent.payload = 33;
	len = frame(&sent, in);
	assert_int_equal(lb_send(FROM_POD_LB, DEV_A, in, len, q, &wlen), TC_ACT_REDIRECT);
	/* What C got (translated, one hop on), and what A sent. */
	sent.ttl = 63;
	sent.daddr = ip4(IP_C);
	frame(&sent, q);
	sent.daddr = ip4("10.96.1.11");
	frame(&sent, qw);
	/* The quoted UDP checksum is C's view: the rewrite leaves it (nobody checks it). */
	memcpy(qw + ETH_HLEN + 20 + 6, q + ETH_HLEN + 20 + 6, 2);
	err = from_dev(DEV_C, IP_C, 0, IP_A, 0, IPPROTO_ICMP, 0);
	len = icmp_error(&err, 3, 3, q, in);
	t = into(err, DEV_A);
	t.saddr = ip4("10.96.1.11");
	wlen = icmp_error(&t, 3, 3, qw, want);
	/* It answers A's flow to C (ct_icmp_related): a reply, whatever C's policy. */
	expect(FROM_POD_LB, DEV_C, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);

	/* From a remote backend, through Geneve. */
	sent = from_dev(DEV_A, IP_A, 46000, IP_R, 80, IPPROTO_TCP, TH_ACK);
	sent.ttl = 63;
	frame(&sent, q);
	sent.daddr = ip4("10.96.1.10");
	frame(&sent, qw);
	memcpy(qw + ETH_HLEN + 20 + 6, q + ETH_HLEN + 20 + 6, 2);
	err = (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac,
			   .saddr = ip4(IP_R), .daddr = ip4(IP_A), .proto = IPPROTO_ICMP };
	ilen = icmp_error(&err, 3, 4, q, inner);
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	t = err;
	t.smac = pods[DEV_A].host_mac;
	t.dmac = pods[DEV_A].mac;
	t.saddr = ip4("10.96.1.10");
	wlen = icmp_error(&t, 3, 4, qw, want);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, want, wlen);
}

/* Random: flows spread; every packet of a flow goes where its first went. */
static void lb_random_sticky(void **state)
{
	uint16_t first[20];
	int used[3] = {};

	(void)state;
	for (int i = 0; i < 20; i++) {
		first[i] = open_flow(DEV_A, IP_A, "10.96.1.6", (uint16_t)(41000 + i));
		assert_true(first[i] >= 7001 && first[i] <= 7003);
		used[first[i] - 7001]++;
	}
	/* 20 flows over 3 backends at random: all on one has odds of 3^-19. */
	assert_true((used[0] > 0) + (used[1] > 0) + (used[2] > 0) >= 2);
	for (int rep = 0; rep < 5; rep++)
		for (int i = 0; i < 20; i++) {
			uint8_t in[FRAME_MAX], out[FRAME_MAX];
			struct fr f = from_dev(DEV_A, IP_A, (uint16_t)(41000 + i), "10.96.1.6", 80,
					       IPPROTO_TCP, TH_ACK);
			size_t len = frame(&f, in), out_len;

			assert_int_equal(lb_send(FROM_POD_LB, DEV_A, in, len, out, &out_len),
					 TC_ACT_REDIRECT);
			assert_int_equal(out_dport(out), first[i]);
		}
}

/* ClientIP affinity: one client, many source ports, one backend; a backend that
 * turned terminating while others are active is left for another. */
static void lb_affinity(void **state)
{
	static const uint32_t next[] = { 51, 53, 52 };
	struct xcni_affinity_key ak = { .svc_id = 5, .family = XCNI_AF_INET };
	struct xcni_affinity a;
	uint32_t ip = ip4(IP_A);
	uint16_t got = open_flow(DEV_A, IP_A, "10.96.1.5", 42000), other;
	uint32_t id;

	(void)state;
	for (int i = 1; i < 60; i++)
		assert_int_equal(open_flow(DEV_A, IP_A, "10.96.1.5", (uint16_t)(42000 + i)), got);
	memcpy(ak.client, &ip, 4);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_affinity"), &ak, &a), 0);
	id = got == 7001 ? 51 : got == 7002 ? 52 : 53;
	assert_int_equal(a.backend_id, id);

	/* The affine backend terminating, the two others active (a new version). */
	uint32_t slots[3];
	int k = 0;

	for (int i = 0; i < 3; i++)
		if (next[i] != id)
			slots[k++] = next[i];
	slots[2] = id;
	assert_int_equal(be_set(id, id == 53 ? IP_C : IP_B, got, XCNI_BE_TERMINATING), 0);
	assert_int_equal(svc_set("10.96.1.5", 80, IPPROTO_TCP, 5, 1, XCNI_SVC_F_AFFINITY, 10800, slots,
				 2, 1),
			 0);
	other = open_flow(DEV_A, IP_A, "10.96.1.5", 42100);
	assert_int_not_equal(other, got);
	for (int i = 1; i < 20; i++)
		assert_int_equal(open_flow(DEV_A, IP_A, "10.96.1.5", (uint16_t)(42100 + i)), other);
}

/* Maglev: the backend is table[hash(tuple) % M], the table from user/lib/services/maglev.c. */
static void lb_maglev(void **state)
{
	struct maglev_backend mb[5];
	struct xcni_backend b[5];
	uint32_t *table = calloc(XCNI_MAGLEV_M, sizeof(*table));
	uint32_t key = xcni_maglev_key(7, 0);
	int inner, used = 0, seen[5] = {};

	(void)state;
	assert_non_null(table);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_backend"), &(uint32_t){ 71u + i },
						     &b[i]),
				 0);
		mb[i] = (struct maglev_backend){ .key = &b[i], .key_len = offsetof(struct xcni_backend,
										     state),
						 .id = 71u + i };
	}
	assert_int_equal(maglev_build(mb, 5, XCNI_MAGLEV_M, table), 0);
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ut_maglev", 4, 4, XCNI_MAGLEV_M, NULL);
	assert_true(inner >= 0);
	for (uint32_t i = 0; i < XCNI_MAGLEV_M; i++)
		assert_int_equal(bpf_map_update_elem(inner, &i, &table[i], BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_maglev"), &key, &inner, BPF_ANY), 0);
	close(inner);
	for (int i = 0; i < 100; i++) {
		uint16_t sport = (uint16_t)(43000 + i * 7);
		uint32_t h = xcni_lb_hash(ip4(IP_A), ip4("10.96.1.7"), htons(sport), htons(80),
					  IPPROTO_TCP);
		uint32_t want = table[h % XCNI_MAGLEV_M];
		uint16_t got = open_flow(DEV_A, IP_A, "10.96.1.7", sport);

		assert_int_equal(got, 7101 + (want - 71));
		seen[want - 71]++;
	}
	for (int i = 0; i < 5; i++)
		used += seen[i] > 0;
	assert_true(used >= 4);
	free(table);
}

/* Terminating endpoints serve only when no active one is left; open flows drain. */
static void lb_terminating(void **state)
{
	static const uint32_t term[] = { 82, 83 };
	int seen[2] = {};
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	struct fr f;
	size_t len, out_len;

	(void)state;
	for (int i = 0; i < 30; i++)
		assert_int_equal(open_flow(DEV_A, IP_A, "10.96.1.8", (uint16_t)(44000 + i)), 7201);
	/* The active one is gone from the slots (a new version): the terminating ones serve. */
	assert_int_equal(svc_set("10.96.1.8", 80, IPPROTO_TCP, 8, 1, 0, 0, term, 0, 2), 0);
	for (int i = 0; i < 30; i++) {
		uint16_t p = open_flow(DEV_A, IP_A, "10.96.1.8", (uint16_t)(44100 + i));

		assert_true(p == 7202 || p == 7203);
		seen[p - 7202]++;
	}
	assert_true(seen[0] && seen[1]);
	/* A flow opened before keeps its backend while it exists. */
	f = from_dev(DEV_A, IP_A, 44000, "10.96.1.8", 80, IPPROTO_TCP, TH_ACK);
	len = frame(&f, in);
	assert_int_equal(lb_send(FROM_POD_LB, DEV_A, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(out_dport(out), 7201);
	/* None left at all: refused. */
	assert_int_equal(svc_set("10.96.1.8", 80, IPPROTO_TCP, 8, 0, 0, 0, NULL, 0, 0), 0);
	f = from_dev(DEV_A, IP_A, 44200, "10.96.1.8", 80, IPPROTO_TCP, TH_SYN);
	len = frame(&f, in);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, NULL, 0);
}

/* The pod at dev/ip sends a SYN to frontend vip:80 whose backend is itself at
 * bport: it must arrive back in the pod from the service loopback. */
static void hairpin_syn(int dev, const char *ip, uint16_t sport, const char *vip, uint16_t bport)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_dev(dev, ip, sport, vip, 80, IPPROTO_TCP, TH_SYN), t;
	size_t len = frame(&f, in), wlen;

	t = into(f, dev);
	t.saddr = ip4(LB_LOOPBACK);
	t.daddr = ip4(ip);
	t.dport = bport;
	wlen = frame(&t, want);
	expect(FROM_POD_LB, dev, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
}

/* Hairpin: A through its own Service reaches itself from the service loopback. */
static void lb_hairpin(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f, t;
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	hairpin_syn(DEV_A, IP_A, 45500, "10.96.1.9", 8080);
	e = ct_get(ip4(LB_LOOPBACK), ip4(IP_A), 45500, 8080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_HAIRPIN);
	assert_int_equal(e.rev_nat, 9);

	/* A answers the loopback address: back to A, from the frontend. */
	f = from_dev(DEV_A, IP_A, 8080, LB_LOOPBACK, 45500, IPPROTO_TCP, TH_SYN | TH_ACK);
	len = frame(&f, in);
	t = into(f, DEV_A);
	t.saddr = ip4("10.96.1.9");
	t.sport = 80;
	t.daddr = ip4(IP_A);
	wlen = frame(&t, want);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);
}

/*
 * Hairpin of an egress-isolated pod: B through 10.96.1.1 reaches itself (B:8080)
 * although its egress allows only A, as under kube-proxy, whose masquerade hands
 * the flow to the node: its egress is not asked, its ingress sees the node.
 */
static void lb_hairpin_isolated(void **state)
{
	(void)state;
	hairpin_syn(DEV_B, IP_B, 45600, "10.96.1.1", 8080);
}

/* A remote backend: DNAT, then Geneve to its node; its reply decapsulated and reverse-NATed. */
static void lb_remote(void **state)
{
	uint8_t in[FRAME_MAX], inner[FRAME_MAX], want[FRAME_MAX], tmp[FRAME_MAX];
	struct fr f = from_dev(DEV_A, IP_A, 46000, "10.96.1.10", 80, IPPROTO_TCP, TH_SYN), t;
	struct xcni_ct_key tuple = { .saddr = ip4(IP_A), .daddr = ip4(IP_R), .sport = htons(46000),
				     .dport = htons(80), .proto = IPPROTO_TCP };
	size_t len, ilen, wlen;

	(void)state;
	len = frame(&f, in);
	t = f; /* the inner frame keeps the pod's MACs; routed: TTL - 1 */
	t.ttl = 63;
	t.daddr = ip4(IP_R);
	ilen = frame(&t, inner);
	wlen = geneve_wrap(tuple, inner, ilen, in, NODE_IP, N2, VNI, 0, want);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_ENCAP, want, wlen);

	/* R's SYN-ACK through n2's Geneve. */
	f = (struct fr){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .saddr = ip4(IP_R),
			 .daddr = ip4(IP_A), .sport = 80, .dport = 46000, .proto = IPPROTO_TCP,
			 .flags = TH_SYN | TH_ACK };
	ilen = frame(&f, inner);
	tuple = (struct xcni_ct_key){ .saddr = ip4(IP_R), .daddr = ip4(IP_A), .sport = htons(80),
				      .dport = htons(46000), .proto = IPPROTO_TCP };
	len = geneve_wrap(tuple, inner, ilen, inner, N2, NODE_IP, VNI, 0, in);
	t = f;
	t.smac = pods[DEV_A].host_mac;
	t.dmac = pods[DEV_A].mac;
	t.saddr = ip4("10.96.1.10");
	wlen = frame(&t, tmp);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_REDIRECT, XCNI_FWD_DECAP, tmp, wlen);
	(void)want;
}

/* Policy is judged on the backend: B's egress allows A on TCP 80 only. */
static void lb_policy(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_dev(DEV_B, IP_B, 47000, "10.96.1.11", 53, IPPROTO_UDP, 0), t;
	size_t len, wlen;
	int found;

	(void)state;
	len = frame(&f, in);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_SHOT, XCNI_DROP_POLICY_EGRESS, NULL, 0);
	/* The event names the backend, the pod policy speaks about. */
	assert_int_equal(env.ev[0].daddr, ip4(IP_C));
	assert_int_equal(env.ev[0].dport, htons(53));
	/* And the Service (its rev-NAT index) and backend it was translated to. */
	assert_int_equal(env.ev[0].rev_nat, 11);
	assert_int_equal(env.ev[0].backend_id, 111);
	/* Refused: neither entry left behind. */
	ct_get(ip4(IP_B), ip4("10.96.1.11"), 47000, 53, IPPROTO_UDP, &found);
	assert_false(found);
	ct_get(ip4(IP_B), ip4(IP_C), 47000, 53, IPPROTO_UDP, &found);
	assert_false(found);

	f = from_dev(DEV_B, IP_B, 47001, "10.96.1.12", 80, IPPROTO_TCP, TH_SYN);
	len = frame(&f, in);
	t = into(f, DEV_A);
	t.daddr = ip4(IP_A);
	wlen = frame(&t, want);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
	assert_int_equal(env.nev, 1);
	assert_int_equal(env.ev[0].type, XCNI_EV_VERDICT);
	assert_int_equal(env.ev[0].policy_id, 10);
	assert_int_equal(env.ev[0].daddr, ip4(IP_A));
	assert_int_equal(env.ev[0].rev_nat, 12);
	assert_int_equal(env.ev[0].backend_id, 121);
}

/* A backend outside the pod network: DNATed to the stack; the reply, through the
 * stack into to_pod, gets the frontend back. */
static void lb_via_stack(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_dev(DEV_A, IP_A, 48000, "10.96.1.13", 443, IPPROTO_TCP, TH_SYN), t;
	size_t len, wlen;

	(void)state;
	len = frame(&f, in);
	t = f;
	t.daddr = ip4("192.0.2.50");
	t.dport = 8443;
	wlen = frame(&t, want);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_OK, XCNI_FWD_STACK, want, wlen);

	f = (struct fr){ .smac = pods[DEV_A].host_mac, .dmac = pods[DEV_A].mac,
			 .saddr = ip4("192.0.2.50"), .daddr = ip4(IP_A), .sport = 8443,
			 .dport = 48000, .proto = IPPROTO_TCP, .flags = TH_SYN | TH_ACK };
	len = frame(&f, in);
	t = f;
	t.saddr = ip4("10.96.1.13");
	t.sport = 443;
	wlen = frame(&t, want);
	expect(TO_POD_LB, DEV_A, in, len, TC_ACT_OK, XCNI_FWD_REPLY, want, wlen);
}

/* With the replacement off (xcnid without it) a ClusterIP flow is kube-proxy's, as
 * before; with it on, a port no frontend has is too. */
static void lb_off(void **state)
{
	uint8_t in[FRAME_MAX];
	struct fr f = from_dev(DEV_A, IP_A, 49000, "10.96.1.1", 80, IPPROTO_TCP, TH_SYN);
	struct xcni_ct_entry e;
	size_t len;
	int found;

	(void)state;
	len = frame(&f, in);
	expect(FROM_POD, DEV_A, in, len, TC_ACT_OK, XCNI_FWD_STACK, in, len);
	e = ct_get(ip4(IP_A), ip4("10.96.1.1"), 49000, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_STACK);
	assert_int_equal(e.rev_nat, 0);

	f.sport = 49001;
	f.dport = 81;
	len = frame(&f, in);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_OK, XCNI_FWD_STACK, in, len);
	e = ct_get(ip4(IP_A), ip4("10.96.1.1"), 49001, 81, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_STACK);
}

/* The stored CRC of the SCTP packet in frame buf (IPv4 without options). */
static uint32_t crc_of(const uint8_t *buf)
{
	uint32_t c;

	memcpy(&c, buf + ETH_HLEN + 20 + 8, 4);
	return c;
}

/* Pod A's SCTP packet from sport to vip:3868, one chunk of type chunk with payload bytes. */
static struct fr sctp_from_a(uint16_t sport, const char *vip, uint8_t chunk, uint16_t payload)
{
	struct fr f = from_dev(DEV_A, IP_A, sport, vip, 3868, IPPROTO_SCTP, chunk);

	f.payload = payload;
	return f;
}

/* f (from A) must reach B at B's address and port bport: the CRC (or its error) computed in full. */
static void sctp_to_b(const struct fr *f, uint16_t bport)
{
	static uint8_t in[BIG_MAX], want[BIG_MAX];
	struct fr t = into(*f, DEV_B);
	size_t len = frame(f, in);

	t.daddr = ip4(IP_B);
	t.dport = bport;
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, frame(&t, want));
}

/* B's reply from bport to A's sport must reach A from vip:3868. */
static void sctp_to_a(uint16_t bport, uint16_t sport, const char *vip, uint8_t chunk)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_dev(DEV_B, IP_B, bport, IP_A, sport, IPPROTO_SCTP, chunk), t;
	size_t len;

	f.payload = 20;
	len = frame(&f, in);
	t = into(f, DEV_A);
	t.saddr = ip4(vip);
	t.sport = 3868;
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, frame(&t, want));
}

/*
 * SCTP to a ClusterIP whose backend listens on the frontend's port: only
 * the destination address changes, and with it the IP checksum; the CRC has
 * no pseudo header, so the packet's stays as A computed it. The association
 * runs through conntrack as TCP does: INIT opens, INIT ACK establishes,
 * ABORT closes, an INIT after it opens again, an ABORT of nothing opens
 * nothing.
 */
static void lb_sctp(void **state)
{
	static const uint8_t check[] = "123456789";
	struct xcni_ct_entry e;
	uint32_t vip = ip4("10.96.2.1"), a = ip4(IP_A), b = ip4(IP_B);
	uint8_t in[FRAME_MAX];
	struct fr f;
	size_t len;
	int found;

	(void)state;
	/* The reference itself: CRC-32C's check value (RFC 3720 B.4's catalogue value). */
	assert_int_equal(crc32c_ref(check, 9), 0xe3069283);

	f = sctp_from_a(36412, "10.96.2.1", SC_INIT, 16);
	sctp_to_b(&f, 3868);
	/* The same port: the CRC is the one A sent, untouched. */
	len = frame(&f, in);
	assert_int_equal(crc_of(last_out), crc_of(in));
	e = ct_get(a, vip, 36412, 3868, IPPROTO_SCTP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 201);
	e = ct_get(a, b, 36412, 3868, IPPROTO_SCTP, &found);
	assert_true(found);
	assert_int_equal(e.rev_nat, 20);
	assert_int_equal(e.state, XCNI_CT_NEW);

	/* B's INIT ACK: the frontend back as its source. */
	sctp_to_a(3868, 36412, "10.96.2.1", SC_INIT_ACK);
	e = ct_get(a, b, 36412, 3868, IPPROTO_SCTP, &found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);

	/* COOKIE ECHO, then A's ABORT: the association and both entries closed. */
	f = sctp_from_a(36412, "10.96.2.1", SC_COOKIE_ECHO, 8);
	sctp_to_b(&f, 3868);
	f = sctp_from_a(36412, "10.96.2.1", SC_ABORT, 0);
	sctp_to_b(&f, 3868);
	e = ct_get(a, b, 36412, 3868, IPPROTO_SCTP, &found);
	assert_int_equal(e.state, XCNI_CT_CLOSED);
	e = ct_get(a, vip, 36412, 3868, IPPROTO_SCTP, &found);
	assert_int_equal(e.state, XCNI_CT_CLOSED);

	/* A new INIT on the closed tuple: a new association. */
	f = sctp_from_a(36412, "10.96.2.1", SC_INIT, 16);
	sctp_to_b(&f, 3868);
	e = ct_get(a, b, 36412, 3868, IPPROTO_SCTP, &found);
	assert_int_equal(e.state, XCNI_CT_NEW);

	/* An ABORT of no association opens none, and leaves no entry. */
	f = sctp_from_a(36413, "10.96.2.1", SC_ABORT, 0);
	len = frame(&f, in);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_SHOT, XCNI_DROP_CT_INVALID, NULL, 0);
	ct_get(a, vip, 36413, 3868, IPPROTO_SCTP, &found);
	assert_false(found);
	ct_get(a, b, 36413, 3868, IPPROTO_SCTP, &found);
	assert_false(found);
}

/* A pcap file of frames, for tshark (DLT_EN10MB). */
void pcap_write(const char *path, uint8_t *const *frames, const size_t *lens, int n)
{
	struct {
		uint32_t magic;
		uint16_t major, minor;
		int32_t zone;
		uint32_t sigfigs, snaplen, linktype;
	} gh = { 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1 };
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(&gh, sizeof(gh), 1, fp), 1);
	for (int i = 0; i < n; i++) {
		uint32_t rh[4] = { 1, (uint32_t)i, (uint32_t)lens[i], (uint32_t)lens[i] };

		assert_int_equal(fwrite(rh, sizeof(rh), 1, fp), 1);
		assert_int_equal(fwrite(frames[i], lens[i], 1, fp), 1);
	}
	assert_int_equal(fclose(fp), 0);
}

/* What tshark says of each frame's SCTP checksum (CRC 32c): "1" good, "0" bad, one a line. */
void tshark_sctp_status(const char *path, char *out, size_t cap)
{
	char cmd[256];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd),
		 "tshark -n -r %s -o 'sctp.checksum:CRC 32c' -T fields -e sctp.checksum.status "
		 "2>/dev/null",
		 path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	assert_int_equal(pclose(p), 0);
}

/*
 * SCTP to a ClusterIP whose backend listens on another port: the CRC is
 * updated for the port (sctp_nat_port) and must equal the reference CRC of
 * the translated packet, both ways, at lengths that set every bit of the
 * packet's length up to 2^11; a corrupted CRC stays corrupted by the same
 * error (nothing is "fixed"); a zero CRC (RFC 9653) stays zero. tshark,
 * given the programs' translated frames in a pcap, finds the CRC good where it must
 * be and bad where it was bad. Then B's port unreachable about the flow
 * reaches A quoting the frontend; a first fragment cannot get a new port.
 */
static void lb_sctp_port(void **state)
{
	static const uint16_t payloads[] = { 0, 4, 20, 52, 116, 244, 500, 1012, 1464, 2036 };
	static uint8_t in[BIG_MAX], want[BIG_MAX], keep[4][BIG_MAX];
	uint8_t q[FRAME_MAX], qw[FRAME_MAX];
	uint8_t *frames[4] = { keep[0], keep[1], keep[2], keep[3] };
	size_t len, wlen, lens[4];
	char path[] = "/tmp/xcni-sctp-XXXXXX", status[64];
	uint32_t vip = ip4("10.96.2.2");
	struct fr f, t, err;
	int fd, found;

	(void)state;
	f = sctp_from_a(36420, "10.96.2.2", SC_INIT, 16);
	sctp_to_b(&f, 38680);
	len = frame(&f, in);
	assert_int_not_equal(crc_of(last_out), crc_of(in));
	memcpy(keep[0], last_out, last_len);
	lens[0] = last_len;

	sctp_to_a(38680, 36420, "10.96.2.2", SC_INIT_ACK);
	memcpy(keep[1], last_out, last_len);
	lens[1] = last_len;

	/* DATA of every length: the update is right for each bit of it. */
	for (size_t i = 0; i < ARRAY_SIZE(payloads); i++) {
		f = sctp_from_a(36420, "10.96.2.2", SC_DATA, payloads[i]);
		sctp_to_b(&f, 38680);
		if (payloads[i] == 1464) {
			memcpy(keep[3], last_out, last_len);
			lens[3] = last_len;
		}
	}

	/* Corrupted on its way: the error goes through as it came. */
	f = sctp_from_a(36420, "10.96.2.2", SC_DATA, 100);
	f.crc_err = 0x00040001;
	sctp_to_b(&f, 38680);
	assert_int_not_equal(crc_of(last_out),
			     sctp_crc(last_out + ETH_HLEN + 20, last_len - ETH_HLEN - 20));
	memcpy(keep[2], last_out, last_len);
	lens[2] = last_len;

	/* No CRC (0, RFC 9653): none made up. */
	f.crc_err = 0;
	f.no_csum = true;
	sctp_to_b(&f, 38680);
	assert_int_equal(crc_of(last_out), 0);

	/* What the programs sent out, as tshark sees it: INIT, INIT ACK, the
	 * corrupted DATA, a DATA of 1464 bytes. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	pcap_write(path, frames, lens, 4);
	tshark_sctp_status(path, status, sizeof(status));
	unlink(path);
	assert_string_equal(status, "1\n1\n0\n1\n");

	/* B's port unreachable about it: A sees it about 10.96.2.2:3868, from there. */
	f = from_dev(DEV_A, IP_A, 36420, IP_B, 38680, IPPROTO_SCTP, SC_DATA);
	f.payload = 8;
	f.ttl = 63;
	frame(&f, q);
	f.daddr = vip;
	f.dport = 3868;
	frame(&f, qw);
	err = from_dev(DEV_B, IP_B, 0, IP_A, 0, IPPROTO_ICMP, 0);
	len = icmp_error(&err, 3, 3, q, in);
	t = into(err, DEV_A);
	t.saddr = vip;
	wlen = icmp_error(&t, 3, 3, qw, want);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);

	/* The first of IPv4 fragments: its CRC covers a length it does not tell.
	 * A new port cannot be given (dropped, no entry left); the same port can. */
	f = sctp_from_a(36422, "10.96.2.2", SC_DATA, 40);
	len = frame(&f, in);
	set_frag(in, 0x2000, 0x5c01);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_SHOT, XCNI_DROP_FRAGMENT, NULL, 0);
	ct_get(ip4(IP_A), vip, 36422, 3868, IPPROTO_SCTP, &found);
	assert_false(found);
	f = sctp_from_a(36422, "10.96.2.1", SC_DATA, 40);
	len = frame(&f, in);
	set_frag(in, 0x2000, 0x5c02);
	t = into(f, DEV_B);
	t.daddr = ip4(IP_B);
	wlen = frame(&t, want);
	set_frag(want, 0x2000, 0x5c02);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
}

/* No backend: SCTP gets ICMP port unreachable (kube-proxy's REJECT), no entry left. */
static void lb_sctp_no_backend(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_dev(DEV_A, IP_A, 36430, "10.96.2.3", 3868, IPPROTO_SCTP, SC_INIT);
	size_t len;
	int found;

	(void)state;
	f.payload = 16;
	len = frame(&f, in);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
	       unreach_want(in, want));
	assert_int_equal(env.ev[0].rev_nat, 22);
	ct_get(ip4(IP_A), ip4("10.96.2.3"), 36430, 3868, IPPROTO_SCTP, &found);
	assert_false(found);
}

static const struct CMUnitTest lb_tests[] = {
	cmocka_unit_test_prestate_setup_teardown(lb_tcp, lb_setup, NULL, NULL),
	cmocka_unit_test(lb_udp),
	cmocka_unit_test(lb_frag),
	cmocka_unit_test(lb_no_backend),
	cmocka_unit_test(lb_random_sticky),
	cmocka_unit_test(lb_affinity),
	cmocka_unit_test(lb_maglev),
	cmocka_unit_test(lb_terminating),
	cmocka_unit_test(lb_hairpin),
	cmocka_unit_test(lb_hairpin_isolated),
	cmocka_unit_test(lb_remote),
	cmocka_unit_test(lb_icmp_error),
	cmocka_unit_test(lb_policy),
	cmocka_unit_test(lb_via_stack),
	cmocka_unit_test(lb_sctp),
	cmocka_unit_test(lb_sctp_port),
	cmocka_unit_test(lb_sctp_no_backend),
	cmocka_unit_test(lb_off),
};
/* The IPv4 node and lb_setup's Services: what the groups on lb.c's frontends start from. */
int lb_state(void)
{
	return node4_state() ?: lb_setup(NULL);
}

const struct group lb_group = { "lb", TESTS(lb_tests), .prep = node4_state };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Program time of runs of in (repeat 1 each): the median of 9 rounds' averages
 * (the machine is shared; one slow round must not make the figure). fresh:
 * the flow's entries (keys) are deleted before every run, so each is new. */
static int bench_runs(int prog, const uint8_t *in, size_t len, const struct xcni_ct_key *keys,
		      int nkeys, int want, double *ns)
{
	enum { ROUNDS = 9, RUNS = 3000 };
	int cfd = bpf_map__fd(env.from->maps.xcni_ct), err;
	uint8_t buf[FRAME_MAX], out[FRAME_MAX];
	double avg[ROUNDS];

	for (int r = -1; r < ROUNDS; r++) { /* round -1 warms up */
		uint64_t total = 0;

		for (int i = 0; i < RUNS; i++) {
			struct bpf_test_run_opts o = {};

			for (int k = 0; k < nkeys; k++)
				bpf_map_delete_elem(cfd, &keys[k]);
			memcpy(buf, in, len);
			if ((err = run(prog, DEV_A, buf, len, out, sizeof(out), 1, &o)))
				return err;
			if ((int)o.retval != want)
				return -EPROTO;
			total += o.duration;
		}
		if (r >= 0)
			avg[r] = (double)total / RUNS;
	}
	qsort(avg, ROUNDS, sizeof(avg[0]), cmp_double);
	*ns = avg[ROUNDS / 2];
	return 0;
}

/*
 * One open flow's packet of another protocol to a ClusterIP with one backend
 * (B, port 8080, or the frontend's own port 80 too where it is SCTP): the
 * cost per protocol beside the UDP figures below.
 */
static int lb_bench_proto(uint8_t proto, uint8_t flags, const char *what)
{
	static const uint16_t bports[] = { 8080, 80 };
	uint8_t in[FRAME_MAX];
	size_t len;
	double ns;
	int err;

	for (size_t i = 0; i < (proto == IPPROTO_SCTP ? 2u : 1u); i++) {
		uint32_t id = 100000 + proto * 2u + (uint32_t)i, be = id;
		char vip[24];
		struct fr f;

		snprintf(vip, sizeof(vip), "10.98.%u.%zu", proto, i + 1);
		f = from_dev(DEV_A, IP_A, 7100, vip, 80, proto, flags);
		f.payload = 64;
		len = frame(&f, in);
		if ((err = be_set(be, IP_B, bports[i], XCNI_BE_ACTIVE)) ||
		    (err = svc_set(vip, 80, proto, id, 0, 0, 0, &be, 1, 0)) ||
		    (err = bench_runs(FROM_POD_LB, in, len, NULL, 0, TC_ACT_REDIRECT, &ns)))
			return err;
		printf("from_pod (lb on), %s to a ClusterIP (backend port %u), open flow: %.1f "
		       "ns/packet\n",
		       what, bports[i], ns);
	}
	return 0;
}

/*
 * The per-packet cost of translation with 10, 1000 and 10000 Services
 * programmed (one backend each): a UDP packet of an open flow from A to
 * the first Service (frontend lookup, service entry, DNAT, then the usual
 * path to B), a new flow's first packet (both entries made), and the same
 * packet sent to B directly for what translation adds.
 */
int lb_bench(void)
{
	static const int sizes[] = { 10, 1000, 10000 };
	struct fr f = from_dev(DEV_A, IP_A, 7000, "10.97.0.0", 80, IPPROTO_UDP, 0);
	struct fr d = from_dev(DEV_A, IP_A, 7001, IP_B, 8080, IPPROTO_UDP, 0);
	uint8_t in[FRAME_MAX], direct[FRAME_MAX];
	size_t len, dlen;
	struct xcni_ct_key keys[2] = {
		{ .saddr = ip4(IP_A), .daddr = ip4("10.97.0.0"), .sport = htons(7000),
		  .dport = htons(80), .proto = IPPROTO_UDP },
		{ .saddr = ip4(IP_A), .daddr = ip4(IP_B), .sport = htons(7000), .dport = htons(8080),
		  .proto = IPPROTO_UDP },
	};
	double open0 = 0, new0 = 0, ns, nns, dns;
	int have = 0, err;

	f.payload = d.payload = 64;
	len = frame(&f, in);
	dlen = frame(&d, direct);
	if ((err = bench_runs(FROM_POD_LB, direct, dlen, NULL, 0, TC_ACT_REDIRECT, &dns)))
		return err;
	printf("from_pod (lb on), UDP to the pod directly, open flow: %.1f ns/packet\n", dns);
	if ((err = lb_bench_proto(IPPROTO_TCP, TH_ACK, "TCP ACK")) ||
	    (err = lb_bench_proto(IPPROTO_SCTP, SC_DATA, "SCTP DATA")))
		return err;
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (; have < sizes[s]; have++) {
			char vip[24];
			uint32_t id = 1000 + (uint32_t)have, be = 10000 + (uint32_t)have;

			snprintf(vip, sizeof(vip), "10.97.%d.%d", have / 256, have % 256);
			if ((err = be_set(be, IP_B, 8080, XCNI_BE_ACTIVE)) ||
			    (err = svc_set(vip, 80, IPPROTO_UDP, id, 0, 0, 0, &be, 1, 0)))
				return err;
		}
		if ((err = bench_runs(FROM_POD_LB, in, len, NULL, 0, TC_ACT_REDIRECT, &ns)) ||
		    (err = bench_runs(FROM_POD_LB, in, len, keys, 2, TC_ACT_REDIRECT, &nns)))
			return err;
		if (!s) {
			open0 = ns;
			new0 = nns;
		}
		printf("from_pod (lb on), UDP to a ClusterIP, %5d Services: open flow %.1f ns/packet "
		       "(%.2fx the %d-Service cost, +%.1f ns over the pod directly), new flow %.1f ns "
		       "(%.2fx)\n",
		       sizes[s], ns, ns / open0, sizes[0], ns - dns, nns, nns / new0);
	}
	return 0;
}
