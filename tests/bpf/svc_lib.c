// SPDX-License-Identifier: Apache-2.0
/*
 * What the Services tests share (declared in lb.h, lb6.h and svc.h): both
 * families' frame builders with real L4 checksums (and the SCTP CRC's
 * bit-at-a-time reference), the one-packet checks, the map writers as the
 * agent writes them, and the Services the tables below describe (lb_setup,
 * lb6_setup). The ClusterIP tests are in svc_xlate.c (translation, replies,
 * ICMP errors, hairpin, remote and outside backends), svc_reject.c (no
 * backend), svc_backend.c (backend choice), svc_sctp.c (SCTP), svc_policy.c
 * (policy on translated flows); NodePorts in nodeport.c, nodeport_dsr.c,
 * nodeport_icmp.c and np_mtu.c.
 *
 * IPv4 (lb_setup; lb4_state: node4_state and these):
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
 * IPv6 (lb6_setup, on parse.c's endpoints (v6_setup) A fd00:99::a, B ::b, C ::c, policy
 * opened): the IPv4 table's ClusterIPs 10.96.1.N as fd00:96::N (hex), service
 * id 300 + N's id, backend id 3000 + the IPv4 one, the same ports:
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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <unistd.h>
#include <linux/pkt_cls.h>

#include "svc.h"

/* ---- IPv4 ---------------------------------------------------------------- */

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
uint32_t sctp_crc(const uint8_t *l4, size_t len)
{
	uint8_t tmp[4096];
	uint32_t c;

	assert_true(len <= sizeof(tmp));
	memcpy(tmp, l4, len);
	memset(tmp + 8, 0, 4);
	c = crc32c_ref(tmp, len);
	return htole32(c);
}

uint16_t l4_csum(uint32_t s, uint32_t d, uint8_t proto, const uint8_t *l4, size_t len)
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
			*(uint32_t *)(l4 + 8) = htonl(f->ack ? f->ack : TCP_SEQ + 1);
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

/* A program's output out (len bytes) is exactly want. */
static void same_bytes(const uint8_t *out, size_t len, const uint8_t *want, size_t want_len)
{
	size_t i = 0;

	assert_int_equal(len, want_len);
	while (i < want_len && out[i] == want[i])
		i++;
	if (i < want_len)
		fail_msg("output differs first at byte %zu: 0x%02x, want 0x%02x", i, out[i], want[i]);
}

/* Runs in (from device dev's side) through prog; output into out (cap bytes).
 * Returns the verdict. */
int lb_send_n(int prog, int dev, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
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

int lb_send(int prog, int dev, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	return lb_send_n(prog, dev, in, len, out, FRAME_MAX, out_len);
}

/* The last output expect() saw. */
uint8_t last_out[BIG_MAX];
size_t last_len;

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
	same_bytes(out, out_len, want, want_len);
}

/* The backend a translated TCP/UDP frame went to: its destination port. */
uint16_t out_dport(const uint8_t *out)
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

int lb_setup(void **state)
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

/* The IPv4 frame in buf made a fragment: offset and flags frag_off, IP id id. */
void set_frag(uint8_t *buf, uint16_t frag_off, uint16_t id)
{
	uint8_t *ip = buf + ETH_HLEN;

	*(uint16_t *)(ip + 4) = htons(id);
	*(uint16_t *)(ip + 6) = htons(frag_off);
	*(uint16_t *)(ip + 10) = 0;
	*(uint16_t *)(ip + 10) = csum(ip, 20);
}


/* The RST answering f (a SYN): from its destination back to its source, MACs swapped. */
void rst_want(const struct fr *f, uint8_t *want)
{
	uint8_t in[BIG_MAX];

	frame(f, in);
	rst_answer(in, want);
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

/* A pcap file of frames, for tshark (DLT_EN10MB). */
void pcap_write(const char *path, uint8_t *const *frames, const size_t *lens, int n)
{
	struct pcap_file_header {
		uint32_t magic;
		uint16_t major, minor;
		int32_t zone;
		uint32_t sigfigs, snaplen, linktype;
	} gh = { .magic = 0xa1b2c3d4, .major = 2, .minor = 4, .snaplen = 65535, .linktype = 1 };
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

void tshark_sctp_expect(uint8_t *const *frames, const size_t *lens, int n, const char *want)
{
	char path[] = "/tmp/xcni-sctp-XXXXXX", status[64];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	pcap_write(path, frames, lens, n);
	tshark_sctp_status(path, status, sizeof(status));
	unlink(path);
	assert_string_equal(status, want);
}

/* The IPv4 node and lb_setup's Services: what the groups on these frontends start from. */
int lb4_state(void)
{
	return node4_state() ?: lb_setup(NULL);
}

/* ---- IPv6 ---------------------------------------------------------------- */

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
			*(uint32_t *)(l4 + 8) = htonl(f->ack ? f->ack : SEQ + 1);
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
static size_t last6_len;

/* skb->mark of the next expect6 run (then cleared): XCNI_MARK_TRUSTED for a
 * packet the stack hands over after from_pod or a decapsulation let it in. */
uint32_t expect6_mark;

void expect6_fd(int fd, unsigned int dir, int dev, const uint8_t *in, size_t len, int ret,
		int reason, const uint8_t *want, size_t want_len)
{
	struct __sk_buff ctx = { .ifindex = env.ifindex[dev], .mark = expect6_mark };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = last, .data_size_out = sizeof(last), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	expect6_mark = 0;
	assert_true(len <= FRAME_MAX);
	/* The XDP fast path's run of the frame first, compared with this one (xdp_np.c). */
	npx_run_counted(fd, &o, XCNI_METRIC_IDX(reason, dir), true);
	last6_len = o.data_size_out;
	assert_int_equal((int)o.retval, ret);
	if (!want)
		return;
	same_bytes(last, last6_len, want, want_len);
}

void expect6(int prog, int dev, const uint8_t *in, size_t len, int ret, int reason,
	     const uint8_t *want, size_t want_len)
{
	expect6_fd(prog_fd(prog), prog_dir(prog), dev, in, len, ret, reason, want, want_len);
}

/* Sends f from pod d through from_pod (lb) and wants it delivered into pod to as t. */
void pass6(int d, const struct g6 *f, int to, const struct g6 *t, int reason)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	size_t len = frame6(f, in), wlen = frame6(t, want);

	(void)to;
	expect6(FROM_POD_LB, d, in, len, TC_ACT_REDIRECT, reason, want, wlen);
}

/* The destination port a translated frame went to. */
uint16_t out_dport6(void)
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

void lb6_setup(void **state)
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

/*
 * An SCTP frame of f (its proto ignored): common header (tag 0x11223344),
 * one chunk of type chunk with payload bytes (a multiple of 4), the CRC32c
 * computed here with the bit-at-a-time reference, then XORed with bad (a
 * corruption kept through the update); zero: a CRC of 0 (RFC 9653).
 */
size_t sframe6(const struct g6 *f, uint8_t chunk, uint16_t payload, uint32_t bad, int zero,
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

uint32_t scrc6(const uint8_t *frame)
{
	uint32_t c;

	memcpy(&c, frame + ETH_HLEN + 40 + 8, 4);
	return c;
}

/* in through from_pod (lb) of pod d: redirected, and exactly want. */
void spass6(int d, const uint8_t *in, size_t len, const uint8_t *want, size_t wlen,
		   uint8_t *out)
{
	uint8_t buf[SCTP6_MAX];
	struct bpf_test_run_opts o = {};

	memcpy(buf, in, len);
	assert_int_equal(run(FROM_POD_LB, d, buf, len, out, SCTP6_MAX, 0, &o), 0);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal((int)o.retval, TC_ACT_REDIRECT);
	same_bytes(out, o.data_size_out, want, wlen);
}

static int v6_services(void)
{
	v6_setup(NULL);
	lb6_setup(NULL);
	return 0;
}

/* lb4_state, then parse.c's IPv6 endpoints and lb6_setup's Services (which open
 * the pods' policy: it is one entry for both families). */
int svc_both_state(void)
{
	return lb4_state() ?: v6_services();
}

/* ---- both families ------------------------------------------------------- */

const struct fam fam4 = { "IPv4", false, IP_A, IP_B, IP_C, LB_LOOPBACK, "192.0.2.50",
			  "10.96.1.1", "10.96.1.3", "10.96.1.5", "10.96.1.7", "10.96.1.9",
			  "10.96.1.13", 0, 0, "10.96.2.3", 22 };
const struct fam fam6 = { "IPv6", true, A6, B6, C6, LOOP6, OUT6, VIP1, VIP3, VIP5, VIP7, VIP9,
			  VIPD, 300, 3000, VIPF, 315 };

bool pk_v6(const struct pk *p)
{
	return strchr(p->src, ':') != NULL;
}

size_t pk_frame(const struct pk *p, uint8_t *buf)
{
	if (pk_v6(p)) {
		struct g6 g = { .smac = p->smac, .dmac = p->dmac, .src = p->src, .dst = p->dst,
				.sport = p->sport, .dport = p->dport, .proto = p->proto,
				.flags = p->flags, .hop = p->ttl, .payload = p->payload };

		return frame6(&g, buf);
	}
	struct fr f = { .smac = p->smac, .dmac = p->dmac, .saddr = ip4(p->src),
			.daddr = ip4(p->dst), .sport = p->sport, .dport = p->dport,
			.proto = p->proto, .flags = p->flags, .ttl = p->ttl, .payload = p->payload,
			.no_csum = p->no_csum };

	return frame(&f, buf);
}

struct pk pk_from(int d, const char *src, uint16_t sp, const char *dst, uint16_t dp,
		  uint8_t proto, uint8_t flags)
{
	return (struct pk){ .smac = pods[d].mac, .dmac = pods[d].host_mac, .src = src, .dst = dst,
			    .sport = sp, .dport = dp, .proto = proto, .flags = flags };
}

struct pk pk_into(struct pk p, int d)
{
	p.smac = pods[d].host_mac;
	p.dmac = pods[d].mac;
	p.ttl = 63;
	return p;
}

void pk_expect(int prog, int dev, const struct pk *p, int ret, int reason, const struct pk *want)
{
	uint8_t in[FRAME_MAX], w[FRAME_MAX];
	size_t len = pk_frame(p, in), wlen = want ? pk_frame(want, w) : 0;

	if (pk_v6(p))
		expect6(prog, dev, in, len, ret, reason, want ? w : NULL, wlen);
	else
		expect(prog, dev, in, len, ret, reason, want ? w : NULL, wlen);
}

struct xcni_ct_entry pk_ct(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto,
			   int *found)
{
	if (strchr(s, ':'))
		return ct6_get(s, sp, d, dp, proto, found);
	return ct_get(ip4(s), ip4(d), sp, dp, proto, found);
}

uint16_t pk_out_dport(bool v6)
{
	return v6 ? out_dport6() : out_dport(last_out);
}

uint16_t pk_open(const struct fam *f, const char *vip, uint16_t sport)
{
	struct pk p = pk_from(DEV_A, f->a, sport, vip, 80, IPPROTO_TCP, TH_SYN);

	pk_expect(FROM_POD_LB, DEV_A, &p, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, NULL);
	return pk_out_dport(f->v6);
}

void hairpin_syn(int dev, const char *ip, uint16_t sport, const char *vip, uint16_t bport,
		 const char *loop)
{
	struct pk p = pk_from(dev, ip, sport, vip, 80, IPPROTO_TCP, TH_SYN), t = pk_into(p, dev);

	t.src = loop;
	t.dst = ip;
	t.dport = bport;
	pk_expect(FROM_POD_LB, dev, &p, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, &t);
}

void fam_expect(int prog, int dev, const uint8_t *in, size_t len, int ret, int reason,
		const uint8_t *want, size_t want_len)
{
	env.nev = 0;
	if (in[12] == 0x86)
		expect6(prog, dev, in, len, ret, reason, want, want_len);
	else
		expect(prog, dev, in, len, ret, reason, want, want_len);
}

/* The answer's Ethernet and IP headers: MACs and addresses of in swapped,
 * TTL or hop limit 64, IPv4 id 0 with DF; l4len bytes of protocol proto
 * follow. The IP header's length. */
static size_t answer_hdr(const uint8_t *in, uint8_t *want, uint8_t proto, size_t l4len)
{
	const uint8_t *iip = in + ETH_HLEN;
	uint8_t *ip = want + ETH_HLEN;

	memset(want, 0, FRAME_MAX);
	memcpy(want, in + ETH_ALEN, ETH_ALEN);
	memcpy(want + ETH_ALEN, in, ETH_ALEN);
	memcpy(want + 12, in + 12, 2);
	if (in[12] == 0x86) {
		ip[0] = 0x60;
		*(uint16_t *)(ip + 4) = htons((uint16_t)l4len);
		ip[6] = proto;
		ip[7] = 64;
		memcpy(ip + 8, iip + 24, 16);
		memcpy(ip + 24, iip + 8, 16);
		return 40;
	}
	ip[0] = 0x45;
	*(uint16_t *)(ip + 2) = htons((uint16_t)(20 + l4len));
	*(uint16_t *)(ip + 6) = htons(0x4000);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, iip + 16, 4);
	memcpy(ip + 16, iip + 12, 4);
	*(uint16_t *)(ip + 10) = csum(ip, 20);
	return 20;
}

/* The checksum of the L4 bytes at l4 (len) under the answer's IP header ip. */
static uint16_t answer_csum(const uint8_t *ip, uint8_t proto, const uint8_t *l4, size_t len)
{
	if (ip[0] == 0x60)
		return csum6(ip, proto, l4, len);
	return l4_csum(*(const uint32_t *)(ip + 12), *(const uint32_t *)(ip + 16), proto, l4, len);
}

size_t rst_answer(const uint8_t *in, uint8_t *want)
{
	size_t hl = answer_hdr(in, want, IPPROTO_TCP, 20);
	const uint8_t *il4 = in + ETH_HLEN + hl;
	uint8_t *ip = want + ETH_HLEN, *l4 = ip + hl;

	*(uint16_t *)l4 = *(const uint16_t *)(il4 + 2);
	*(uint16_t *)(l4 + 2) = *(const uint16_t *)il4;
	l4[12] = 5 << 4;
	if (il4[13] & TH_ACK) {
		memcpy(l4 + 4, il4 + 8, 4);
		l4[13] = TH_RST;
	} else {
		*(uint32_t *)(l4 + 8) = htonl(ntohl(*(const uint32_t *)(il4 + 4)) +
					      !!(il4[13] & TH_SYN));
		l4[13] = TH_RST | TH_ACK;
	}
	*(uint16_t *)(l4 + 16) = answer_csum(ip, IPPROTO_TCP, l4, 20);
	return ETH_HLEN + hl + 20;
}

size_t unreach_answer(const uint8_t *in, uint8_t *want)
{
	bool v6 = in[12] == 0x86;
	size_t q = v6 ? 48 : 28, hl = answer_hdr(in, want, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, 8 + q);
	uint8_t *ip = want + ETH_HLEN, *m = ip + hl;

	m[0] = v6 ? 1 : 3; /* destination unreachable */
	m[1] = v6 ? 4 : 3; /* port unreachable */
	memcpy(m + 8, in + ETH_HLEN, q);
	*(uint16_t *)(m + 2) = v6 ? csum6(ip, IPPROTO_ICMPV6, m, 8 + q) : csum(m, 8 + q);
	return ETH_HLEN + hl + 8 + q;
}

void ev_names(const char *dst, uint32_t rev_nat, uint32_t backend)
{
	assert_int_equal(env.nev, 1);
	assert_int_equal(env.ev[0].type, XCNI_EV_DROP);
	if (strchr(dst, ':')) {
		uint8_t a[16];

		in6(dst, a);
		assert_memory_equal(env.ev6[0].daddr6, a, 16);
	} else {
		assert_int_equal(env.ev[0].daddr, ip4(dst));
	}
	assert_int_equal(env.ev[0].rev_nat, rev_nat);
	assert_int_equal(env.ev[0].backend_id, backend);
}

void svc_entries(const char *s, uint16_t sp, const char *vip, uint16_t vp, const char *be,
		 uint16_t bp, uint8_t proto, uint32_t backend, uint32_t rev_nat)
{
	struct xcni_ct_entry e;
	int found;

	e = pk_ct(s, sp, vip, vp, proto, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, backend);
	assert_int_equal(e.rev_nat, rev_nat);
	assert_int_equal(e.ep_id, pods[DEV_A].ep_id);
	e = pk_ct(s, sp, be, bp, proto, &found);
	assert_true(found);
	assert_int_equal(e.flags, 0);
	assert_int_equal(e.rev_nat, rev_nat);
	assert_int_equal(e.backend_id, backend); /* for the events of its replies */
	assert_int_equal(e.state, XCNI_CT_NEW);
}

/* Both families' Services and NodePorts, in the order their groups write them. */
int svc_state(void)
{
	int err = lb4_state();

	if (!err) {
		v6_setup(NULL);
		lb6_setup(NULL);
		np6_setup(NULL);
	}
	return err;
}
