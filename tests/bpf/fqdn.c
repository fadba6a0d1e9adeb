// SPDX-License-Identifier: Apache-2.0
/*
 * Egress by DNS name, the answers' half (bpf/lib/dns.h): DNS answers on
 * their way into a pod, read by to_pod with fqdn_enabled set (a program of
 * this group's own, on the harness's pinned maps), and what they leave in
 * xcni_fqdn. Each answer is the reply of a query the pod sent first through
 * from_pod (a tracked flow): an answer the pod did not ask for is not read.
 * Hostile input: compression loops and pointers forward or out of bounds,
 * truncated records, names of 255 bytes and longer, 100 answers (the pod's
 * bound; another pod's entries untouched), classes other than IN, CNAMEs
 * off the chain or to a name no pattern names, answers from a source that
 * is not the DNS Service's, both families. Every answer is delivered
 * (TC_ACT_OK): the parser never decides a packet's fate.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <netinet/tcp.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>

#include "harness.h"
#include "fqdn.h"
#include "../../user/lib/cluster/fqdn.h"


static struct to_pod *tp;
static struct from_overlay *ov; /* from_overlay with fqdn_enabled, the harness's node */
uint16_t qport = QPORT; /* a new query's port: each answer its own flow */

static void fqdn_load(void **state)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.pin_dir);

	(void)state;
	tp = to_pod__open_opts(&opts);
	assert_non_null(tp);
	tp->rodata->fqdn_enabled = 1;
	tp->rodata->fqdn_ttl_min = 10;
	tp->rodata->fqdn_ttl_max = 3600;
	assert_int_equal(to_pod__load(tp), 0);
	ov = from_overlay__open_opts(&opts);
	assert_non_null(ov);
	ov->rodata->node_ip = ip4(NODE_IP);
	ov->rodata->vni = VNI;
	UL_SVC_RANGES(ov->rodata);
	ov->rodata->fqdn_enabled = 1;
	ov->rodata->fqdn_ttl_min = 10;
	ov->rodata->fqdn_ttl_max = 3600;
	assert_int_equal(from_overlay__load(ov), 0);
}

/* Outside any test (the group's free): no cmocka asserts here. */
static void fqdn_unload(void **state)
{
	(void)state;
	to_pod__destroy(tp);
	from_overlay__destroy(ov);
	tp = NULL;
	ov = NULL;
}

/* ---- the maps ------------------------------------------------------------ */

/* A map of lib/dns.h's (maps.h), by to_pod's handle. */
int fmap(const char *name)
{
	return bpf_map__fd(bpf_object__find_map_by_name(env.to->obj, name));
}

void srv_add(const char *addr, uint16_t port)
{
	struct xcni_dns_srv_key k = { .port = htons(port) };
	uint32_t one = 1;

	k.family = strchr(addr, ':') ? XCNI_AF_INET6 : XCNI_AF_INET;
	assert_int_equal(inet_pton(k.family == XCNI_AF_INET ? AF_INET : AF_INET6, addr, k.addr), 1);
	assert_int_equal(bpf_map_update_elem(fmap("xcni_dns_srv"), &k, &one, BPF_ANY), 0);
}

/* Pattern pat ("*.x.y" or "x.y") for pod ep, rule ref, prio. */
static void pat_add(uint32_t ep, const char *pat, uint32_t ref, uint16_t prio)
{
	struct xcni_fqdn_pat v = { .rule_ref = ref, .prio = prio };
	struct xcni_fqdn_pat_key k = { .ep_id = ep };
	char norm[300];
	const char *why;
	int wild, n;

	assert_int_equal(fqdn_normalise(pat, norm, sizeof(norm), &wild, &why), 0);
	n = fqdn_flat(norm + (wild ? 2 : 0), v.name);
	assert_true(n > 0);
	v.len = (uint8_t)n;
	k.kind = wild ? XCNI_FQDN_WILD : XCNI_FQDN_EXACT;
	k.hash = fqdn_hash(v.name, (size_t)n);
	assert_int_equal(bpf_map_update_elem(fmap("xcni_fqdn_pat"), &k, &v, BPF_ANY), 0);
}

/* The entry pod ep holds for addr, or NULL. */
struct xcni_fqdn_val *learned(uint32_t ep, const char *addr)
{
	static struct xcni_fqdn_val v;
	struct xcni_fqdn_key k = { .ep_id = ep };

	k.family = strchr(addr, ':') ? XCNI_AF_INET6 : XCNI_AF_INET;
	assert_int_equal(inet_pton(k.family == XCNI_AF_INET ? AF_INET : AF_INET6, addr, k.addr), 1);
	return bpf_map_lookup_elem(fmap("xcni_fqdn"), &k, &v) ? NULL : &v;
}

/* The entry names the pattern that matched: kind, and the hash of name (flat) as its key. */
static void pat_is(const struct xcni_fqdn_val *v, uint8_t kind, const char *name)
{
	uint8_t flat[256];
	int n = fqdn_flat(name, flat);

	assert_non_null(v);
	assert_true(n > 0);
	assert_int_equal(v->pat_kind, kind);
	assert_true(v->pat_hash == fqdn_hash(flat, (size_t)n));
}

static unsigned int nlearned(uint32_t ep)
{
	struct xcni_fqdn_key k, next, *prev = NULL;
	int fd = fmap("xcni_fqdn");
	unsigned int n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		n += next.ep_id == ep;
		k = next;
		prev = &k;
	}
	return n;
}

static uint64_t stat(int idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[ncpu], sum = 0;
	uint32_t k = (uint32_t)idx;

	assert_int_equal(bpf_map_lookup_elem(fmap("xcni_fqdn_stats"), &k, v), 0);
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

/* ---- DNS messages --------------------------------------------------------- */

void put8(struct msg *m, uint8_t v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = v;
}

static void put16(struct msg *m, uint16_t v)
{
	put8(m, (uint8_t)(v >> 8));
	put8(m, (uint8_t)v);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

/* A header: an answer (QR, RD, RA), qd questions, an answers. */
void hdr(struct msg *m, uint16_t qd, uint16_t an)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, 0x8180);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

/* A name in labels, its root's zero after (dot-separated, as written). */
void name(struct msg *m, const char *s)
{
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);

		put8(m, (uint8_t)l);
		for (size_t i = 0; i < l; i++)
			put8(m, (uint8_t)s[i]);
		s += l + (dot ? 1 : 0);
	}
	put8(m, 0);
}

void ptr(struct msg *m, uint16_t off)
{
	put16(m, 0xc000 | off);
}

void question(struct msg *m, const char *q, uint16_t type)
{
	name(m, q);
	put16(m, type);
	put16(m, 1);
}

/* A record after its owner: type, class, TTL, rdata. */
void rr(struct msg *m, uint16_t type, uint16_t class, uint32_t ttl, const void *rd,
	       uint16_t rdlen)
{
	put16(m, type);
	put16(m, class);
	put32(m, ttl);
	put16(m, rdlen);
	for (uint16_t i = 0; i < rdlen; i++)
		put8(m, ((const uint8_t *)rd)[i]);
}

static void rr_a(struct msg *m, uint32_t ttl, const char *a)
{
	uint8_t b[16];
	int v6 = strchr(a, ':') != NULL;

	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, a, b), 1);
	rr(m, v6 ? 28 : 1, 1, ttl, b, v6 ? 16 : 4);
}

/* A CNAME record to target, written in full. */
static void rr_cname(struct msg *m, uint32_t ttl, const char *target)
{
	struct msg t = { .n = 0 };

	name(&t, target);
	rr(m, 5, 1, ttl, t.b, (uint16_t)t.n);
}

/* ---- the packets ---------------------------------------------------------- */

/* An IPv4 frame's total length: its header and n bytes after; the checksum again. */
static void ip4_len(uint8_t *frame, size_t n)
{
	struct iphdr *ip = (struct iphdr *)(frame + ETH_HLEN);

	ip->tot_len = htons((uint16_t)(sizeof(*ip) + n));
	ip->check = 0;
	ip->check = csum(ip, sizeof(*ip));
}

/*
 * frame (len bytes, an answer into pod dev) delivered the way via says:
 * through to_pod (fqdn_enabled's, or the harness's when plain), from_pod's
 * local delivery from via's pod, or in Geneve from n2 through from_overlay.
 */
static void deliver(int dev, int via, bool plain, uint8_t *frame, size_t len)
{
	static uint8_t out[2400], gnv[FRAME_MAX];
	struct __sk_buff ctx = { .ifindex = env.ifindex[dev] };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	if (via == VIA_OVERLAY) {
		/* from n2 (NODE_IP's peer), decapsulated into the pod */
		struct xcni_ct_key t = {};

		o.data_size_in = (uint32_t)geneve_wrap(t, frame, len, frame, N2, NODE_IP, VNI, 0, gnv);
		o.data_in = gnv;
		ctx.ifindex = env.ifindex[DEV_U];
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(ov->progs.from_overlay), &o),
				 0);
		assert_int_equal(o.retval, TC_ACT_REDIRECT);
		return;
	}
	if (via >= 0) {
		/* from_pod's local delivery: the harness's, fqdn_enabled set */
		ctx.ifindex = env.ifindex[via];
		assert_int_equal(bpf_prog_test_run_opts(prog_fd(FROM_POD), &o), 0);
		assert_int_equal(o.retval, TC_ACT_REDIRECT);
		return;
	}
	assert_int_equal(bpf_prog_test_run_opts(plain ? prog_fd(TO_POD)
						      : bpf_program__fd(tp->progs.to_pod),
						&o),
			 0);
	assert_int_equal(o.retval, TC_ACT_OK);
}

/*
 * When set, ask_answer_via sends its answer as two IP fragments: the first
 * (MF, offset 0) the datagram's UDP header and FRAG1_L4 - 8 bytes of the real
 * message; the later one, at offset FRAG1_L4, bytes the forger chose: a UDP
 * header of its own (53 -> the query's port, its length) and *frag_forged,
 * the message it wants learned (issue 65: a DNS answer's middle is written
 * by whoever owns a name the pod resolves).
 */
const struct msg *frag_forged;
#define FRAG_ID 0x5353
static uint8_t frag2[FRAME_MAX];

/* buf (len bytes, a whole answer) cut to its first fragment; the later one into out. */
static size_t frag_split(uint8_t *buf, size_t len, bool v6, const struct msg *forged,
			 uint8_t *out)
{
	size_t l3 = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr), n;
	uint8_t *l4 = buf + ETH_HLEN + l3, *o4;
	uint16_t dport = ntohs(((struct udphdr *)l4)->dest);
	struct udphdr fake = { .source = htons(53), .dest = htons(dport),
			       .len = htons((uint16_t)(sizeof(fake) + forged->n)) };

	assert_true(len > ETH_HLEN + l3 + FRAG1_L4);
	if (v6) {
		/* a fragment header between the IPv6 header and UDP, in both */
		uint8_t fh[8] = { IPPROTO_UDP, 0, 0, 1, 0, 0, FRAG_ID >> 8, FRAG_ID & 0xff };

		memmove(l4 + 8, l4, FRAG1_L4);
		memcpy(l4, fh, sizeof(fh));
		((struct ipv6hdr *)(buf + ETH_HLEN))->nexthdr = IPPROTO_FRAGMENT;
		((struct ipv6hdr *)(buf + ETH_HLEN))->payload_len = htons(8 + FRAG1_L4);
		memcpy(out, buf, ETH_HLEN + l3 + 8);
		o4 = out + ETH_HLEN + l3;
		o4[2] = 0; /* offset FRAG1_L4 / 8 in 8-byte units, << 3; no MF */
		o4[3] = (uint8_t)(FRAG1_L4 / 8) << 3;
		o4 += 8;
		((struct ipv6hdr *)(out + ETH_HLEN))->payload_len =
			htons((uint16_t)(8 + sizeof(fake) + forged->n));
	} else {
		struct iphdr *ip = (struct iphdr *)(buf + ETH_HLEN), *ip2;

		ip->id = htons(FRAG_ID);
		ip->frag_off = htons(0x2000); /* MF */
		ip4_len(buf, FRAG1_L4);
		memcpy(out, buf, ETH_HLEN + l3);
		ip2 = (struct iphdr *)(out + ETH_HLEN);
		ip2->frag_off = htons(FRAG1_L4 / 8);
		ip4_len(out, sizeof(fake) + forged->n);
		o4 = out + ETH_HLEN + l3;
	}
	memcpy(o4, &fake, sizeof(fake));
	memcpy(o4 + sizeof(fake), forged->b, forged->n);
	n = (size_t)(o4 - out) + sizeof(fake) + forged->n;
	return n;
}

/*
 * The query of pod dev (from_pod, a new flow to dns:53 from a new port),
 * then the answer m from src:53 through to_pod (fqdn_enabled's, or the
 * harness's when plain): delivered. extra: the UDP length claims that many
 * bytes more than the datagram has.
 */
void ask_answer_via(int dev, int via, const char *dns, const char *src,
			   const struct msg *m, size_t extra, bool plain)
{
	int v6 = strchr(dns, ':') != NULL;
	const struct pod *pd = &pods[dev];
	struct row q = { .prog = via == VIA_OVERLAY ? FROM_POD_OV : FROM_POD, .dev = dev,
			 UDP(v6 ? pd->ip6 : pd->ip, qport, dns, 53) };
	static uint8_t buf[2300], out[2400];
	uint8_t qb[FRAME_MAX];
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct udphdr *udp;
	struct tcphdr *tcp;
	size_t len, l3, l4 = via == VIA_TCP ? sizeof(*tcp) + 2 : sizeof(*udp);
	struct __sk_buff ctx = { .ifindex = env.ifindex[dev] };
	LIBBPF_OPTS(bpf_test_run_opts, o);

	if (via == VIA_TCP) {
		q.proto = IPPROTO_TCP;
		q.flags = TH_SYN;
	}
	len = build(&q, qb);
	assert_int_equal(run(q.prog, dev, qb, len, out, sizeof(out), 1, &o), 0);
	assert_int_equal(o.retval, via == -1 || via == VIA_TCP ? TC_ACT_OK : TC_ACT_REDIRECT);
	o.data_in = buf;
	o.data_out = out;
	o.data_size_out = sizeof(out);
	o.ctx_in = &ctx;
	o.ctx_size_in = sizeof(ctx);

	/* Into the pod through to_pod, or out of pod via's device (from_pod) */
	memcpy(eth->h_dest, via < 0 ? pd->mac : pods[via].host_mac, ETH_ALEN);
	memcpy(eth->h_source, via < 0 ? pd->host_mac : pods[via].mac, ETH_ALEN);
	if (v6) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(eth + 1);

		eth->h_proto = htons(ETH_P_IPV6);
		memset(ip6, 0, sizeof(*ip6));
		ip6->version = 6;
		ip6->nexthdr = via == VIA_TCP ? IPPROTO_TCP : IPPROTO_UDP;
		ip6->hop_limit = 63;
		ip6->payload_len = htons((uint16_t)(l4 + m->n));
		assert_int_equal(inet_pton(AF_INET6, src, &ip6->saddr), 1);
		assert_int_equal(inet_pton(AF_INET6, pd->ip6, &ip6->daddr), 1);
		l3 = sizeof(*ip6);
	} else {
		struct iphdr *ip = (struct iphdr *)(eth + 1);

		eth->h_proto = htons(ETH_P_IP);
		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 63;
		ip->protocol = via == VIA_TCP ? IPPROTO_TCP : IPPROTO_UDP;
		ip->tot_len = htons((uint16_t)(sizeof(*ip) + l4 + m->n));
		ip->saddr = ip4(src);
		ip->daddr = ip4(pd->ip);
		ip->check = csum(ip, sizeof(*ip));
		l3 = sizeof(*ip);
	}
	udp = (struct udphdr *)(buf + ETH_HLEN + l3);
	tcp = (struct tcphdr *)udp;
	if (via == VIA_TCP) {
		/* DNS over TCP (RFC 1035 4.2.2): the message after its 2-byte length */
		memset(tcp, 0, sizeof(*tcp));
		tcp->source = htons(53);
		tcp->dest = htons(qport);
		tcp->doff = 5;
		tcp->syn = 1;
		tcp->ack = 1;
		tcp->ack_seq = htonl(1);
		ip4_len(buf, sizeof(*tcp));
		o.data_size_in = (uint32_t)(ETH_HLEN + l3 + sizeof(*tcp));
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(tp->progs.to_pod), &o), 0);
		assert_int_equal(o.retval, TC_ACT_OK);
		ip4_len(buf, l4 + m->n);
		tcp->syn = 0;
		tcp->psh = 1;
		tcp->seq = htonl(1);
		((uint8_t *)(tcp + 1))[0] = (uint8_t)(m->n >> 8);
		((uint8_t *)(tcp + 1))[1] = (uint8_t)m->n;
	} else {
		udp->source = htons(53);
		udp->dest = htons(qport);
		udp->len = htons((uint16_t)(sizeof(*udp) + m->n + extra));
		udp->check = 0;
	}
	memcpy((uint8_t *)udp + l4, m->b, m->n);
	len = ETH_HLEN + l3 + l4 + m->n;
	qport++;
	if (frag_forged) {
		/* the answer as two fragments, the later one's bytes the forger's */
		size_t n2 = frag_split(buf, len, v6, frag_forged, frag2);

		deliver(dev, via, plain, buf, ETH_HLEN + l3 + (v6 ? 8 : 0) + FRAG1_L4);
		deliver(dev, via, plain, frag2, n2);
		return;
	}
	deliver(dev, via, plain, buf, len);
}

static void ask_answer(int dev, const char *dns, const char *src, const struct msg *m,
		       size_t extra, bool plain)
{
	ask_answer_via(dev, -1, dns, src, m, extra, plain);
}

static void answer(const struct msg *m)
{
	ask_answer(DEV_A, DNS4, DNS4, m, 0, false);
}

/* api.example.test's answer: one A record, a pointer to the question. */
static void simple(struct msg *m, const char *q, const char *addr, uint32_t ttl)
{
	hdr(m, 1, 1);
	question(m, q, 1);
	ptr(m, 12);
	rr_a(m, ttl, addr);
}

void fqdn_state(void **state)
{
	(void)state;
	assert_int_equal(env_reset(), 0);
	assert_int_equal(v6_state(), 0);
	srv_add(DNS4, 53);
	srv_add(DNS4_EP, 53);
	srv_add(DNS6, 53);
	pat_add(EP_A, "api.example.test", 7, 10);
	pat_add(EP_A, "*.wild.test", 8, 20);
	pat_add(EP_B, "api.example.test", 9, 10);
}

/* ---- the tests ------------------------------------------------------------ */

/* An exact name: its address learned for the asking pod, with its TTL held
 * between the minimum and maximum; a name no pattern names: nothing. */
static void exact(void **state)
{
	struct msg m;
	struct xcni_fqdn_val *v;
	struct timespec ts;
	uint64_t now;

	fqdn_state(state);
	simple(&m, "api.example.test", "203.0.113.10", 30);
	answer(&m);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	v = learned(EP_A, "203.0.113.10");
	assert_non_null(v);
	assert_int_equal(v->rule_ref, 7);
	pat_is(v, XCNI_FQDN_EXACT, "api.example.test");
	assert_int_equal(v->ttl, 30);
	assert_true(v->expires_ns > now + 25000000000ULL && v->expires_ns <= now + 30000000000ULL);
	assert_null(learned(EP_B, "203.0.113.10")); /* B never asked */

	simple(&m, "other.example.test", "203.0.113.11", 30);
	answer(&m);
	assert_null(learned(EP_A, "203.0.113.11"));

	/* TTL 1 held for the minimum (10 s), a day's for the maximum (1 h) */
	simple(&m, "API.Example.TEST", "203.0.113.12", 1);
	answer(&m);
	v = learned(EP_A, "203.0.113.12");
	assert_non_null(v);
	assert_true(v->expires_ns > now + 9000000000ULL && v->expires_ns < now + 11000000000ULL);
	simple(&m, "api.example.test", "203.0.113.13", 86400);
	answer(&m);
	v = learned(EP_A, "203.0.113.13");
	assert_non_null(v);
	assert_true(v->expires_ns < now + 3601000000000ULL);
	/* the DNS pod itself (through the stack, no translation back) counts too */
	simple(&m, "api.example.test", "203.0.113.14", 30);
	ask_answer(DEV_A, DNS4_EP, DNS4_EP, &m, 0, false);
	assert_non_null(learned(EP_A, "203.0.113.14"));
}

/* A wildcard: one label or more before the suffix, never the suffix itself,
 * nor a name that only ends in its bytes. */
static void wildcard(void **state)
{
	struct msg m;

	fqdn_state(state);
	simple(&m, "x.wild.test", "198.18.0.1", 30);
	answer(&m);
	simple(&m, "a.b.wild.test", "198.18.0.2", 30);
	answer(&m);
	simple(&m, "wild.test", "198.18.0.3", 30);
	answer(&m);
	simple(&m, "xwild.test", "198.18.0.4", 30);
	answer(&m);
	simple(&m, "wild.test.evil", "198.18.0.5", 30);
	answer(&m);
	assert_non_null(learned(EP_A, "198.18.0.1"));
	assert_int_equal(learned(EP_A, "198.18.0.1")->rule_ref, 8);
	pat_is(learned(EP_A, "198.18.0.1"), XCNI_FQDN_WILD, "wild.test");
	pat_is(learned(EP_A, "198.18.0.2"), XCNI_FQDN_WILD, "wild.test");
	assert_non_null(learned(EP_A, "198.18.0.2"));
	assert_null(learned(EP_A, "198.18.0.3"));
	assert_null(learned(EP_A, "198.18.0.4"));
	assert_null(learned(EP_A, "198.18.0.5"));
	assert_int_equal(nlearned(EP_A), 2);
}

/* An answer from anywhere but the DNS Service's sources, an answer the pod
 * did not ask for, and any answer with fqdn off: nothing learned. */
static void not_dns(void **state)
{
	uint8_t buf[FRAME_MAX], out[FRAME_MAX];
	uint64_t ns = 0;
	struct msg m;

	fqdn_state(state);
	simple(&m, "api.example.test", "203.0.113.20", 30);
	ns = stat(XCNI_FQDN_ST_NOT_SERVER);
	ask_answer(DEV_A, NOT_DNS, NOT_DNS, &m, 0, false);
	assert_null(learned(EP_A, "203.0.113.20"));
	assert_int_equal(stat(XCNI_FQDN_ST_NOT_SERVER), ns + 1);

	/* fqdn_enabled 0 (the harness's to_pod): inert */
	ask_answer(DEV_A, DNS4, DNS4, &m, 0, true);
	assert_null(learned(EP_A, "203.0.113.20"));

	/* unasked: no query before it (the flow is new), nothing read */
	{
		struct row r = { .prog = TO_POD, .dev = DEV_A, UDP(DNS4, 53, IP_A, 999) };
		size_t len = build(&r, buf);
		uint64_t before = stat(XCNI_FQDN_ST_ANSWERS) + stat(XCNI_FQDN_ST_NOT_SERVER);
		struct __sk_buff ctx = { .ifindex = env.ifindex[DEV_A] };
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (uint32_t)len,
			    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx));

		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(tp->progs.to_pod), &o), 0);
		assert_int_equal(stat(XCNI_FQDN_ST_ANSWERS) + stat(XCNI_FQDN_ST_NOT_SERVER), before);
	}
	assert_int_equal(nlearned(EP_A), 0);
}

/* A CNAME chain: followed record by record from the question; a record off
 * the chain, a CNAME of a name the pod did not ask, are not learned; a
 * question no pattern names learns nothing even when it leads to one. */
static void cname(void **state)
{
	struct msg m;

	fqdn_state(state);
	hdr(&m, 1, 4);
	question(&m, "api.example.test", 1);
	ptr(&m, 12);
	rr_cname(&m, 30, "edge.cdn.test");
	name(&m, "evil.test"); /* off the chain */
	rr_a(&m, 30, "198.51.100.66");
	name(&m, "edge.cdn.test");
	rr_a(&m, 30, "198.51.100.7");
	name(&m, "edge.cdn.test");
	rr_a(&m, 30, "2001:db8::7");
	answer(&m);
	assert_non_null(learned(EP_A, "198.51.100.7"));
	assert_non_null(learned(EP_A, "2001:db8::7"));
	assert_null(learned(EP_A, "198.51.100.66"));

	hdr(&m, 1, 2);
	question(&m, "other.test", 1);
	ptr(&m, 12);
	rr_cname(&m, 30, "api.example.test");
	name(&m, "api.example.test");
	rr_a(&m, 30, "198.51.100.8");
	answer(&m);
	assert_null(learned(EP_A, "198.51.100.8"));
	assert_int_equal(nlearned(EP_A), 2);
}

/* Compression pointers that loop, point forward or past the end, reserved
 * label types: the walk stops, nothing from there learned, delivered. */
static void pointers(void **state)
{
	struct msg m;
	uint64_t g;

	fqdn_state(state);
	g = stat(XCNI_FQDN_ST_GIVEUP);
	/* question: a pointer to itself */
	hdr(&m, 1, 1);
	ptr(&m, 12);
	put16(&m, 1);
	put16(&m, 1);
	ptr(&m, 12);
	rr_a(&m, 30, "198.51.100.1");
	answer(&m);
	/* question: a label, then a pointer back to its own start */
	hdr(&m, 1, 1);
	put8(&m, 3);
	put8(&m, 'a');
	put8(&m, 'p');
	put8(&m, 'i');
	ptr(&m, 12);
	put16(&m, 1);
	put16(&m, 1);
	ptr(&m, 12);
	rr_a(&m, 30, "198.51.100.1");
	answer(&m);
	/* an owner whose two pointers point at each other */
	hdr(&m, 1, 1);
	question(&m, "api.example.test", 1);
	ptr(&m, (uint16_t)(m.n + 2));
	ptr(&m, (uint16_t)(m.n - 2));
	rr_a(&m, 30, "198.51.100.2");
	answer(&m);
	/* a pointer past the end */
	hdr(&m, 1, 1);
	question(&m, "api.example.test", 1);
	ptr(&m, 0x3fff);
	rr_a(&m, 30, "198.51.100.3");
	answer(&m);
	/* a label of a reserved type (0x40) */
	hdr(&m, 1, 1);
	question(&m, "api.example.test", 1);
	put8(&m, 0x41);
	put8(&m, 'x');
	put8(&m, 0);
	rr_a(&m, 30, "198.51.100.4");
	answer(&m);
	assert_int_equal(stat(XCNI_FQDN_ST_GIVEUP), g + 5);
	assert_int_equal(nlearned(EP_A), 0);
}

/* Records cut short: the records before stay learned, the walk stops. */
static void truncated(void **state)
{
	struct msg m;
	uint64_t g;

	fqdn_state(state);
	g = stat(XCNI_FQDN_ST_GIVEUP);
	hdr(&m, 1, 3);
	question(&m, "api.example.test", 1);
	ptr(&m, 12);
	rr_a(&m, 30, "198.51.100.20");
	ptr(&m, 12);
	rr_a(&m, 30, "198.51.100.21");
	ptr(&m, 12);
	rr_a(&m, 30, "198.51.100.22");
	/* the UDP length 3 bytes more than the datagram */
	ask_answer(DEV_A, DNS4, DNS4, &m, 3, false);
	assert_int_equal(nlearned(EP_A), 0); /* UDP claims more than the frame */
	assert_int_equal(stat(XCNI_FQDN_ST_GIVEUP), g + 1);
	/* an rdlength past the end: the third record */
	m.b[m.n - 5] = 0x40;
	answer(&m);
	assert_non_null(learned(EP_A, "198.51.100.20"));
	assert_non_null(learned(EP_A, "198.51.100.21"));
	assert_null(learned(EP_A, "198.51.100.22"));
	assert_int_equal(stat(XCNI_FQDN_ST_GIVEUP), g + 2);
	/* ancount 5 of 3 records: the three, then the end met */
	m.b[m.n - 5] = 4;
	m.b[7] = 5;
	answer(&m);
	assert_non_null(learned(EP_A, "198.51.100.22"));
	assert_int_equal(stat(XCNI_FQDN_ST_GIVEUP), g + 3);
}

/* The longest name (255 bytes on the wire, root included) matched; one
 * byte more refused. */
static void long_names(void **state)
{
	char n[300];
	struct msg m;
	size_t o = 0;

	fqdn_state(state);
	/* 3 labels of 63 + 1 of 61: 4 + 63*3 + 61 = 254 flat, 255 with the root */
	for (int l = 0; l < 4; l++) {
		for (int i = 0; i < (l < 3 ? 63 : 61); i++)
			n[o++] = (char)('a' + l);
		n[o++] = '.';
	}
	n[--o] = 0;
	assert_int_equal(strlen(n), 253);
	pat_add(EP_A, n, 11, 5);
	simple(&m, n, "198.51.100.30", 30);
	answer(&m);
	assert_non_null(learned(EP_A, "198.51.100.30"));
	/* one more byte in the first label (64: no label) and one more label */
	n[0] = 'z';
	memmove(n + 2, n, strlen(n) + 1);
	n[0] = 'q';
	n[1] = '.';
	simple(&m, n, "198.51.100.31", 30);
	answer(&m);
	assert_null(learned(EP_A, "198.51.100.31"));
}

/* 100 answers: the pod keeps its last XCNI_FQDN_PER_POD, its oldest gone;
 * another pod's entries untouched. */
static void hundred(void **state)
{
	struct msg m;
	char a[32];
	uint64_t ev;

	fqdn_state(state);
	simple(&m, "api.example.test", "192.0.2.200", 30);
	ask_answer(DEV_B, DNS4, DNS4, &m, 0, false);
	assert_non_null(learned(EP_B, "192.0.2.200"));
	ev = stat(XCNI_FQDN_ST_EVICTED);
	hdr(&m, 1, 100);
	question(&m, "api.example.test", 1);
	for (int i = 0; i < 100; i++) {
		snprintf(a, sizeof(a), "192.0.2.%d", i);
		ptr(&m, 12);
		rr_a(&m, 30, a);
	}
	answer(&m);
	assert_int_equal(nlearned(EP_A), XCNI_FQDN_PER_POD);
	assert_int_equal(stat(XCNI_FQDN_ST_EVICTED), ev + 100 - XCNI_FQDN_PER_POD);
	assert_null(learned(EP_A, "192.0.2.0"));
	assert_null(learned(EP_A, "192.0.2.35"));
	assert_non_null(learned(EP_A, "192.0.2.36"));
	assert_non_null(learned(EP_A, "192.0.2.99"));
	assert_non_null(learned(EP_B, "192.0.2.200"));
	assert_int_equal(nlearned(EP_B), 1);
}

/* Classes other than IN: a record skipped, a question refused. */
static void wrong_class(void **state)
{
	uint8_t b[4] = { 198, 51, 100, 40 };
	struct msg m;

	fqdn_state(state);
	hdr(&m, 1, 2);
	question(&m, "api.example.test", 1);
	ptr(&m, 12);
	rr(&m, 1, 3, 30, b, 4); /* CHAOS */
	ptr(&m, 12);
	rr_a(&m, 30, "198.51.100.41");
	answer(&m);
	assert_null(learned(EP_A, "198.51.100.40"));
	assert_non_null(learned(EP_A, "198.51.100.41"));

	hdr(&m, 1, 1);
	name(&m, "api.example.test");
	put16(&m, 1);
	put16(&m, 3); /* a CHAOS question */
	ptr(&m, 12);
	rr_a(&m, 30, "198.51.100.42");
	answer(&m);
	assert_null(learned(EP_A, "198.51.100.42"));
}

/* IPv6: an answer over IPv6 from the DNS Service's IPv6 address, both
 * record families learned for the pod; from a source not the DNS's, none. */
static void ipv6(void **state)
{
	struct msg m;

	fqdn_state(state);
	hdr(&m, 1, 2);
	question(&m, "api.example.test", 28);
	ptr(&m, 12);
	rr_a(&m, 30, "2001:db8::10");
	ptr(&m, 12);
	rr_a(&m, 30, "198.51.100.50");
	ask_answer(DEV_A, DNS6, DNS6, &m, 0, false);
	assert_non_null(learned(EP_A, "2001:db8::10"));
	assert_non_null(learned(EP_A, "198.51.100.50"));
	assert_int_equal(learned(EP_A, "2001:db8::10")->rule_ref, 7);

	hdr(&m, 1, 1);
	question(&m, "api.example.test", 28);
	ptr(&m, 12);
	rr_a(&m, 30, "2001:db8::11");
	ask_answer(DEV_A, NOT_DNS6, NOT_DNS6, &m, 0, false);
	assert_null(learned(EP_A, "2001:db8::11"));
}

/* ---- the verdict (lib/policy.h fqdn_group) -------------------------------- */

/*
 * A's egress as policy_cnp.c writes it for an Admin policy 501 of rules
 * "Accept verdict.example.test on TCP 443" (the pod's rule naming a domain
 * j = 0) then "Deny 0.0.0.0/0 and ::/0" (rule 4): any peer denied by rule 4;
 * under polcidr dir XCNI_POLCIDR_DIR_FQDN (j 0) a /0 of each family to
 * group G_API: TCP 443 accepted by rule 1, anything else rule 4's Deny.
 */
#define PV 5
#define G_API (XCNI_ID_CIDR_BASE + 1)
#define ADMF (XCNI_TIER_ADMIN << XCNI_POLV_TIER_SHIFT)
#define DENYF XCNI_POLV_DENY

static void vput(uint32_t peer, uint8_t proto, uint16_t port, uint16_t rule, uint16_t flags)
{
	struct xcni_polhash_key hk = { .ep = ip4(IP_A), .peer = peer, .version = PV,
				       .dir = FROM_POD, .proto = proto, .port = htons(port) };
	struct xcni_policy_val v = { .policy_id = 501, .rule = rule, .flags = flags };

	assert_int_equal(bpf_map_update_elem(map_fd("xcni_policy"), &hk, &v, BPF_ANY), 0);
}

static void vcidr(int v6, uint32_t group)
{
	struct xcni_polcidr_key k = { .prefixlen = XCNI_POLCIDR_PREFIX_BASE, .ep = ip4(IP_A),
				      .version = PV, .dir = XCNI_POLCIDR_DIR_FQDN, .v6 = (uint8_t)v6 };

	assert_int_equal(bpf_map_update_elem(map_fd("xcni_polcidr"), &k, &group, BPF_ANY), 0);
}

static void vpolep(uint8_t has_out)
{
	struct xcni_polep v = { .identity = 1000, .version = PV,
				.isolated = XCNI_ISOLATED(FROM_POD) };
	uint32_t ip = ip4(IP_A);

	v.has[FROM_POD] = has_out;
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_polep"), &ip, &v, BPF_ANY), 0);
	assert_int_equal(polrev_bump(), 0);
}

/* A's learned entry for addr expiring at now + delta seconds. */
static void expire_at(const char *addr, int delta)
{
	struct xcni_fqdn_key k = { .ep_id = EP_A, .family = XCNI_AF_INET };
	struct xcni_fqdn_val *v = learned(EP_A, addr);
	struct timespec ts;

	assert_non_null(v);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	v->expires_ns = (uint64_t)((int64_t)ts.tv_sec + delta) * 1000000000ULL;
	assert_int_equal(inet_pton(AF_INET, addr, k.addr), 1);
	assert_int_equal(bpf_map_update_elem(fmap("xcni_fqdn"), &k, v, BPF_ANY), 0);
}

static void vrow(const struct row *r)
{
	void *s = (void *)r;

	print_message("  %s\n", r->name);
	check_row(&s);
}

/*
 * An address A's own answer taught it through the rule that named the
 * domain: judged by that rule (its port; not its port: the rules after it);
 * an address not learned, one a non-DNS source answered, and one past its
 * expiry and the grace: the other rules; within the grace: still the rule.
 */
static void verdict(void **state)
{
	static const struct row rows[] = {
		{ "fqdn: A->learned TCP 443: accepted by the rule that named the domain",
		  .dev = DEV_A, TCP(IP_A, 29100, "198.51.100.7", 443, TH_SYN), OK(FWD_STACK),
		  BY(501, 1, FROM_POD), FLAGS(ADMF) },
		{ "fqdn: A->learned TCP 80: not the rule's port, the Deny after it",
		  .dev = DEV_A, TCP(IP_A, 29101, "198.51.100.7", 80, TH_SYN),
		  DENIED(DROP_POLICY_ADMIN, 501, 4, FROM_POD, DENYF | ADMF) },
		{ "fqdn: A->not learned TCP 443: the Deny", .dev = DEV_A,
		  TCP(IP_A, 29102, "198.51.100.8", 443, TH_SYN),
		  DENIED(DROP_POLICY_ADMIN, 501, 4, FROM_POD, DENYF | ADMF) },
		{ "fqdn: A->an address a non-DNS source answered, TCP 443: the Deny", .dev = DEV_A,
		  TCP(IP_A, 29103, "198.51.100.9", 443, TH_SYN),
		  DENIED(DROP_POLICY_ADMIN, 501, 4, FROM_POD, DENYF | ADMF) },
	};
	static const struct row grace = {
		"fqdn: A->learned TCP 443, expired 2 s ago (within the grace): accepted",
		.dev = DEV_A, TCP(IP_A, 29104, "198.51.100.7", 443, TH_SYN), OK(FWD_STACK),
		BY(501, 1, FROM_POD), FLAGS(ADMF)
	};
	static const struct row gone = {
		"fqdn: A->learned TCP 443, expired past the grace: the Deny", .dev = DEV_A,
		TCP(IP_A, 29105, "198.51.100.7", 443, TH_SYN),
		DENIED(DROP_POLICY_ADMIN, 501, 4, FROM_POD, DENYF | ADMF)
	};
	struct msg m;

	fqdn_state(state);
	pat_add(EP_A, "verdict.example.test", 1, 5);
	simple(&m, "verdict.example.test", "198.51.100.7", 60);
	answer(&m);
	assert_non_null(learned(EP_A, "198.51.100.7"));
	simple(&m, "verdict.example.test", "198.51.100.9", 60);
	ask_answer(DEV_A, NOT_DNS, NOT_DNS, &m, 0, false);
	assert_null(learned(EP_A, "198.51.100.9"));
	vput(XCNI_ID_ANY, 0, 0, 4, DENYF | ADMF);
	vput(G_API, IPPROTO_TCP, 443, 1, ADMF);
	vput(G_API, 0, 0, 4, DENYF | ADMF);
	vcidr(0, G_API);
	vcidr(1, G_API);
	vpolep(XCNI_HAS_FQDN | XCNI_HAS_ANY_PROTO);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		vrow(&rows[i]);
	expire_at("198.51.100.7", -2);
	vrow(&grace);
	expire_at("198.51.100.7", -(XCNI_FQDN_GRACE_S + 3));
	vrow(&gone);
}

/*
 * A DNS pod on the pod's own node: its answer goes out of its device
 * (from_pod) straight into the asking pod, past to_pod; read there. A pod
 * that is not the DNS Service's answering the same way teaches nothing.
 */
static void same_node(void **state)
{
	struct msg m;

	fqdn_state(state);
	srv_add(IP_B, 53);
	simple(&m, "api.example.test", "203.0.113.60", 30);
	ask_answer_via(DEV_A, DEV_B, IP_B, IP_B, &m, 0, false);
	assert_non_null(learned(EP_A, "203.0.113.60"));
	simple(&m, "api.example.test", "203.0.113.61", 30);
	ask_answer_via(DEV_A, DEV_C, IP_C, IP_C, &m, 0, false);
	assert_null(learned(EP_A, "203.0.113.61"));
}

/*
 * The answer over TCP (one segment: the 2-byte length, then a whole message
 * naming an allowed name) from the DNS Service: not read, the stated
 * fallback (docs/decisions/fqdn-in-bpf.md, "TCP"): nothing learned, nothing
 * counted, delivered.
 */
static void tcp_answer(void **state)
{
	uint64_t a, ns;
	struct msg m;

	fqdn_state(state);
	a = stat(XCNI_FQDN_ST_ANSWERS);
	ns = stat(XCNI_FQDN_ST_NOT_SERVER);
	simple(&m, "api.example.test", "203.0.113.70", 30);
	ask_answer_via(DEV_A, VIA_TCP, DNS4, DNS4, &m, 0, false);
	assert_null(learned(EP_A, "203.0.113.70"));
	assert_int_equal(nlearned(EP_A), 0);
	assert_int_equal(stat(XCNI_FQDN_ST_ANSWERS), a);
	assert_int_equal(stat(XCNI_FQDN_ST_NOT_SERVER), ns);
	/* the same answer over UDP is learned: the test's answer is one that counts */
	ask_answer(DEV_A, DNS4, DNS4, &m, 0, false);
	assert_non_null(learned(EP_A, "203.0.113.70"));
}

/*
 * The DNS pod on another node (R, on n2): its answer reaches A in Geneve and
 * is read by from_overlay before the decap's delivery. Another pod of n2 (not
 * the DNS Service's) answering A's query to it the same way teaches nothing;
 * nor does R's answer that A did not ask for.
 */
static void overlay(void **state)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4("10.99.6.6") };
	struct xcni_ipcache_val iv = { .identity = ID_R, .tunnel_ip = ip4(N2),
				       .flags = XCNI_IPC_POD };
	uint8_t buf[FRAME_MAX], gnv[FRAME_MAX], out[FRAME_MAX];
	struct row r = { .prog = FROM_OVERLAY, .dev = DEV_A, .plain = true, UDP(IP_R, 53, IP_A, 999) };
	struct xcni_ct_key t = {};
	struct __sk_buff ctx = { .ifindex = env.ifindex[DEV_U] };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_out = out, .data_size_out = sizeof(out),
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	uint64_t ns, a;
	struct msg m;

	fqdn_state(state);
	assert_int_equal(overlay_setup(), 0);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &iv, BPF_ANY), 0);
	srv_add(IP_R, 53);
	simple(&m, "api.example.test", "203.0.113.80", 30);
	ask_answer_via(DEV_A, VIA_OVERLAY, IP_R, IP_R, &m, 0, false);
	pat_is(learned(EP_A, "203.0.113.80"), XCNI_FQDN_EXACT, "api.example.test");

	ns = stat(XCNI_FQDN_ST_NOT_SERVER);
	simple(&m, "api.example.test", "203.0.113.81", 30);
	ask_answer_via(DEV_A, VIA_OVERLAY, "10.99.6.6", "10.99.6.6", &m, 0, false);
	assert_null(learned(EP_A, "203.0.113.81"));
	assert_int_equal(stat(XCNI_FQDN_ST_NOT_SERVER), ns + 1);

	/* unasked: R:53 to a port A sent nothing from (no flow), through the overlay */
	a = stat(XCNI_FQDN_ST_ANSWERS) + stat(XCNI_FQDN_ST_NOT_SERVER);
	r.tail = m.b;
	r.tail_len = (uint8_t)m.n;
	o.data_in = gnv;
	o.data_size_in = (uint32_t)geneve_wrap(t, buf, build(&r, buf), buf, N2, NODE_IP, VNI, 0, gnv);
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(ov->progs.from_overlay), &o), 0);
	assert_int_equal(stat(XCNI_FQDN_ST_ANSWERS) + stat(XCNI_FQDN_ST_NOT_SERVER), a);
	assert_int_equal(nlearned(EP_A), 1);
}

/*
 * A DNS answer's later IP fragment is never read as a message (issue 65
 * item 1): the bytes past an answer's first fragment are the middle of its
 * records, written by whoever owns a name the pod resolves, and a later
 * fragment carries its flow's ports (xcni_frag) as a reply would. Here that
 * middle is a UDP header and a whole answer for the pod's allowed name with
 * a forged address: never learned, on every path into the pod (to_pod,
 * from_pod's local delivery, from_overlay), both families on each; the fragments
 * still delivered and counted. The name's real address is then learned
 * from an unfragmented answer.
 */
static void fragments(void **state)
{
	static const struct {
		int via;
		const char *dns, *forged, *real;
	} paths[] = {
		{ -1, DNS4, "198.51.100.2", "203.0.113.90" },
		{ -1, DNS6, "2001:db8:bad::2", "2001:db8:90::1" },
		{ DEV_B, IP_B, "198.51.100.3", "203.0.113.91" },
		{ DEV_B, "fd00:99::b", "2001:db8:bad::3", "2001:db8:91::1" },
		{ VIA_OVERLAY, IP_R, "198.51.100.4", "203.0.113.92" },
		{ VIA_OVERLAY, "fd00:98::5", "2001:db8:bad::4", "2001:db8:92::1" },
	};
	struct xcni_ipcache6_key k6 = { .prefixlen = 128 };
	struct xcni_ipcache_val iv = { .identity = ID_R, .tunnel_ip = ip4(N2), .flags = XCNI_IPC_POD };
	struct msg m, forged;

	fqdn_state(state);
	for (size_t i = 2; i < sizeof(paths) / sizeof(paths[0]); i++)
		srv_add(paths[i].dns, 53);
	assert_int_equal(overlay_setup(), 0);
	/* R6, a pod of n2 (IPv6) answering over the overlay */
	assert_int_equal(inet_pton(AF_INET6, "fd00:98::5", k6.addr), 1);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &k6, &iv, BPF_ANY), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		uint64_t fr = stat(XCNI_FQDN_ST_FRAG);

		hdr(&m, 1, 8); /* a long answer: eight TXT records the forger wrote */
		question(&m, "api.example.test", 16);
		for (int r = 0; r < 8; r++) {
			ptr(&m, 12);
			rr(&m, 16, 1, 30, "forged-middle-of-the-answer-....", 32);
		}
		simple(&forged, "api.example.test", paths[i].forged, 86400);
		frag_forged = &forged;
		ask_answer_via(DEV_A, paths[i].via, paths[i].dns, paths[i].dns, &m, 0, false);
		frag_forged = NULL;
		assert_null(learned(EP_A, paths[i].forged));
		assert_int_equal(stat(XCNI_FQDN_ST_FRAG), fr + 2);

		simple(&m, "api.example.test", paths[i].real, 30);
		ask_answer_via(DEV_A, paths[i].via, paths[i].dns, paths[i].dns, &m, 0, false);
		assert_non_null(learned(EP_A, paths[i].real));
	}
}


static const struct CMUnitTest fqdn_tests[] = {
	cmocka_unit_test(exact),      cmocka_unit_test(wildcard), cmocka_unit_test(not_dns),
	cmocka_unit_test(cname),      cmocka_unit_test(pointers), cmocka_unit_test(truncated),
	cmocka_unit_test(long_names), cmocka_unit_test(hundred),  cmocka_unit_test(wrong_class),
	cmocka_unit_test(ipv6),       cmocka_unit_test(verdict),  cmocka_unit_test(same_node),
	cmocka_unit_test(tcp_answer), cmocka_unit_test(overlay),  cmocka_unit_test(fragments),
};

int fqdn_prep(void)
{
	fqdn_load(NULL);
	return 0;
}

void fqdn_free(void)
{
	fqdn_unload(NULL);
}

int fqdn_make(struct CMUnitTest **tests, size_t *n)
{
	*tests = NULL;
	*n = 0;
	return 0;
}

const struct group fqdn_group = { "fqdn", TESTS(fqdn_tests), .prep = fqdn_prep,
				  .make = fqdn_make, .free = fqdn_free };
