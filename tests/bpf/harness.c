// SPDX-License-Identifier: Apache-2.0
/*
 * The packet tests' harness: the private netns and its veths, the programs
 * loaded with their maps pinned in a private dir (setup, teardown), the frame
 * builder and the row runner (check_row), the map helpers the groups share.
 * The cases live in the concern files; test_bpf.c lists them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "agent/probe.h"
#include "harness.h"


const struct pod pods[NR_DEVS] = {
	[DEV_A] = { "xta", IP_A, 101, { 2, 0, 0, 0, 0, 0xa }, { 2, 0, 0, 0, 1, 0xa }, "fd00:99::a" },
	[DEV_B] = { "xtb", IP_B, 102, { 2, 0, 0, 0, 0, 0xb }, { 2, 0, 0, 0, 1, 0xb }, "fd00:99::b" },
	[DEV_C] = { "xtc", IP_C, 103, { 2, 0, 0, 0, 0, 0xc }, { 2, 0, 0, 0, 1, 0xc }, "fd00:99::c" },
	[DEV_X] = { "xtx", NULL, 0, { 2, 0, 0, 0, 0, 0xe }, { 2, 0, 0, 0, 1, 0xe }, "fd00:99::d" },
	[DEV_U] = { "xtu", NULL, 0, { 2, 0, 0, 0, 2, 2 }, { 2, 0, 0, 0, 2, 1 } },
};

uint32_t pod_ep6_id(int dev)
{
	if (!pods[dev].ip6)
		return 0;
	return pods[dev].ep_id ? pods[dev].ep_id : 201 + (uint32_t)dev;
}

/* The endpoint id the row's events and new entries name for device dev. */
static uint32_t row_ep_id(const struct row *r, int dev)
{
	return row_v6(r) ? pod_ep6_id(dev) : pods[dev].ep_id;
}

unsigned int prog_dir(int prog)
{
	switch (prog) {
	case FROM_POD_OV:
	case FROM_POD_LB:
		return XCNI_DIR_FROM_POD;
	case TO_POD_LB:
		return XCNI_DIR_TO_POD;
	case FROM_OVERLAY_LB:
	case FROM_OVERLAY_DSR:
	case FROM_OVERLAY_PF:
	case XDP:
	case FROM_OVERLAY_UL6:
	case FROM_OVERLAY_UL6_LB:
		return XCNI_DIR_FROM_OVERLAY;
	case FROM_POD_UL6:
		return XCNI_DIR_FROM_POD;
	case TO_OVERLAY_UL6:
		return XCNI_DIR_TO_OVERLAY;
	}
	return prog;
}

struct env env;

uint32_t ip4(const char *s)
{
	struct in_addr a = {};

	if (s)
		inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

uint16_t csum(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += b[i] << 8 | b[i + 1];
	if (len & 1)
		s += b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons(~s & 0xffff);
}

static size_t l4_len(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 20;
	case IPPROTO_UDP:
		return 8 + 4;
	case IPPROTO_ICMP:
		return 8 + 4;
	case IPPROTO_SCTP:
		return 12 + 20; /* common header + INIT chunk */
	}
	return 0;
}

bool row_v6(const struct row *r)
{
	return r->src && strchr(r->src, ':');
}

static void addr6(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

static bool icmp6_echo(const struct row *r)
{
	return r->type == 128 || r->type == 129;
}

/* An ICMP error's quote starts right after its 8-byte header (RFC 792). IPv6
 * rows: TCP 20, UDP and ICMPv6 echo 8 (no payload); an ICMPv6 error 4, its
 * tail the rest (MTU, pointer or unused, then the quote). */
static size_t row_l4_len(const struct row *r)
{
	if (row_v6(r) && r->proto == IPPROTO_ICMPV6 && r->tail_len && !icmp6_echo(r))
		return 4;
	if (row_v6(r))
		return r->proto == IPPROTO_TCP				       ? 20
		       : r->proto == IPPROTO_UDP || r->proto == IPPROTO_ICMPV6 ? 8
									       : 0;
	if (r->proto == IPPROTO_ICMP && r->tail_len && r->type != ICMP_ECHO &&
	    r->type != ICMP_ECHOREPLY)
		return 8;
	return l4_len(r->proto);
}

/*
 * The row's L4 header at l4, either family: ports (an ICMP or ICMPv6 echo's id
 * in sport, an ICMPv6 echo's sequence 1), TCP's flags, UDP's length, an SCTP
 * INIT. Checksums are left 0: no program here checks one it does not rewrite.
 */
static void build_l4(const struct row *r, uint8_t *l4)
{
	if (r->proto == IPPROTO_ICMPV6 && !icmp6_echo(r)) {
		l4[0] = r->type;
		return;
	}
	if (r->proto == IPPROTO_ICMP || r->proto == IPPROTO_ICMPV6) {
		l4[0] = r->type;
		*(uint16_t *)(l4 + 4) = htons(r->sport);
		if (r->proto == IPPROTO_ICMPV6)
			l4[7] = 1;
		return;
	}
	*(uint16_t *)l4 = htons(r->sport);
	*(uint16_t *)(l4 + 2) = htons(r->dport);
	if (r->proto == IPPROTO_TCP) {
		l4[12] = 5 << 4;
		l4[13] = r->flags;
	} else if (r->proto == IPPROTO_UDP) {
		*(uint16_t *)(l4 + 4) = htons(row_l4_len(r));
	} else if (r->proto == IPPROTO_SCTP) {
		l4[12] = 1; /* INIT */
		*(uint16_t *)(l4 + 14) = htons(20);
	}
}

/* A row with l4csum (or a translation): its TCP or UDP checksum over the pseudo-header, in full. */
static void fill_l4csum(const struct row *r, uint8_t *buf, size_t len)
{
	bool v6 = row_v6(r);
	uint8_t *l3 = buf + ETH_HLEN, *l4 = l3 + (v6 ? 40 + 8u * r->n_ext6 : (l3[0] & 0xf) * 4u);
	uint8_t *at = l4 + (r->proto == IPPROTO_TCP ? 16 : 6), tmp[40 + FRAME_MAX] = { 0 };
	size_t n = (size_t)(buf + len - l4), ph = v6 ? 40 : 12;
	uint16_t c;

	if (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP)
		return;
	/* IPv4: addresses, 0, protocol, length; IPv6: addresses, length (32 bits), 0, next header. */
	memcpy(tmp, l3 + (v6 ? 8 : 12), v6 ? 32 : 8);
	tmp[v6 ? 34 : 10] = (uint8_t)(n >> 8);
	tmp[v6 ? 35 : 11] = (uint8_t)n;
	tmp[v6 ? 39 : 9] = r->proto;
	memset(at, 0, 2);
	memcpy(tmp + ph, l4, n);
	c = csum(tmp, ph + n);
	if (!c && r->proto == IPPROTO_UDP)
		c = 0xffff;
	memcpy(at, &c, 2);
}

/* Writes the row's frame, before any encapsulation or cut, into buf; returns its length. */
static size_t build_inner(const struct row *r, uint8_t buf[FRAME_MAX])
{
	const struct pod *pd = &pods[r->dev];
	struct ethhdr *eth = (struct ethhdr *)buf;
	uint8_t *l3 = buf + ETH_HLEN;
	uint16_t type = r->eth ? r->eth : ETH_P_IP;
	size_t len;

	memset(buf, 0, FRAME_MAX);
	bool from_pod = prog_dir(r->prog) == FROM_POD;

	memcpy(eth->h_source, r->smac ? r->smac : from_pod ? pd->mac : pd->host_mac, ETH_ALEN);
	memcpy(eth->h_dest, from_pod ? pd->host_mac : pd->mac, ETH_ALEN);
	eth->h_proto = htons(type);

	if (type == ETH_P_ARP) {
		static const uint8_t hdr[8] = { 0, 1, 8, 0, ETH_ALEN, 4, 0, 1 }; /* request */
		uint32_t sip = ip4(r->src), tip = ip4(r->dst);

		memcpy(l3, hdr, sizeof(hdr));
		if (r->arp_op)
			l3[7] = r->arp_op;
		memcpy(l3 + 8, r->arp_sha ? r->arp_sha : eth->h_source, ETH_ALEN);
		memcpy(l3 + 14, &sip, 4);
		memcpy(l3 + 24, &tip, 4);
		len = ETH_HLEN + 28;
	} else if (type == ETH_P_8021Q || type == ETH_P_8021AD) {
		/* A tag (VID 5), then the row's IPv4 packet behind it. */
		struct row in = *r;

		in.eth = ETH_P_IP;
		len = build_inner(&in, buf);
		memmove(l3 + 4, l3, len - ETH_HLEN);
		eth->h_proto = htons(type);
		l3[0] = 0;
		l3[1] = 5;
		l3[2] = 8;
		l3[3] = 0;
		len += 4;
	} else if (row_v6(r)) {
		/* IPv6, traffic class and flow label 0, the row's extension headers
		 * (EXTHDRS), its L4 header (TCP, UDP, ICMPv6; none for another protocol),
		 * its tail. tot_len: the payload length it claims instead. */
		size_t l4n = row_l4_len(r), ext = 8 * (size_t)r->n_ext6;
		uint8_t *h = l3 + 40;

		eth->h_proto = htons(ETH_P_IPV6);
		l3[0] = 0x60 | r->tclass >> 4;
		l3[1] = (uint8_t)(r->tclass << 4);
		*(uint16_t *)(l3 + 4) = htons(r->tot_len ? r->tot_len : ext + l4n + r->tail_len);
		l3[6] = r->n_ext6 ? r->ext6[0] : r->proto;
		l3[7] = r->ttl ? r->ttl : 64;
		addr6(r->src, l3 + 8);
		addr6(r->dst, l3 + 24);
		for (int i = 0; i < r->n_ext6; i++, h += 8) {
			h[0] = i + 1 < r->n_ext6 ? r->ext6[i + 1] : r->proto;
			if (r->ext6[i] == IPPROTO_FRAGMENT) {
				*(uint16_t *)(h + 2) = htons(r->frag);
				*(uint32_t *)(h + 4) = htonl(r->ipid);
			} else {
				h[2] = 1; /* PadN over the rest */
				h[3] = 4;
			}
		}
		if (l4n)
			build_l4(r, h);
		if (r->tail_len)
			memcpy(h + l4n, r->tail, r->tail_len);
		len = ETH_HLEN + 40 + ext + l4n + r->tail_len;
	} else if (type != ETH_P_IP) {
		l3[0] = 0x60; /* an IPv6 header, as far as anyone here looks */
		len = ETH_HLEN + 40;
	} else {
		struct iphdr *ip = (struct iphdr *)l3;
		uint8_t ihl = r->ihl ? r->ihl : 5;
		size_t hlen = ihl < 5 ? 20 : ihl * 4u;
		uint8_t *l4 = l3 + hlen;

		memset(l3 + 20, IPOPT_NOOP, hlen - 20);
		if (hlen > 20)
			l3[hlen - 1] = IPOPT_END;
		ip->version = r->ver ? r->ver : 4;
		ip->tos = r->tclass;
		ip->ihl = ihl;
		ip->tot_len = htons(r->tot_len ? r->tot_len : hlen + row_l4_len(r) + r->tail_len);
		ip->id = htons(r->ipid ? r->ipid : 0x1234);
		ip->frag_off = htons(r->frag);
		ip->ttl = r->ttl ? r->ttl : 64;
		ip->protocol = r->proto;
		ip->saddr = ip4(r->src);
		ip->daddr = ip4(r->dst);
		ip->check = csum(ip, hlen);
		build_l4(r, l4);
		len = ETH_HLEN + hlen + row_l4_len(r);
		if (r->tail_len) {
			memcpy(buf + len, r->tail, r->tail_len);
			len += r->tail_len;
		}
	}
	if (r->l4csum || r->nat_src || r->nat_dst)
		fill_l4csum(r, buf, len);
	return len;
}

/* The outer UDP source port from_pod gives a flow: bpf/lib/encap.h's flow_sport. */
uint16_t flow_sport(const struct xcni_ct_key *t)
{
	uint32_t h = t->saddr ^ ((t->daddr << 7) | (t->daddr >> 25)) ^
		     ((uint32_t)t->sport << 16 | t->dport) ^ t->proto;

	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return 49152 | (h & 0x3fff);
}

/* A row arriving in Geneve over the IPv6 underlay: from a node of IPv6 address. */
static bool row_outer6(const struct row *r)
{
	return !r->plain && r->node && strchr(r->node, ':') &&
	       prog_dir(r->prog) == XCNI_DIR_FROM_OVERLAY;
}

/* A row of the IPv6 underlay's node, or arriving over the IPv6 underlay. */
static bool row_ul6(const struct row *r)
{
	return r->prog == FROM_POD_UL6 || r->prog == FROM_OVERLAY_UL6 ||
	       r->prog == FROM_OVERLAY_UL6_LB || r->prog == TO_OVERLAY_UL6 || row_outer6(r);
}

/* The flow hash of a row of either family (the IPv6 underlay's label and port). */
static uint32_t row_hash(const struct row *r)
{
	uint16_t sp, dp;

	if (row_v6(r)) {
		struct xcni_ct6_key k = tuple6_of(r, false);

		sp = k.sport, dp = k.dport;
	} else {
		struct xcni_ct_key k = tuple_of(r, false);

		sp = k.sport, dp = k.dport;
	}
	return geneve_hash6(r->src, ntohs(sp), r->dst, ntohs(dp), r->proto);
}

/* The outer source port of an IPv6 row's flow over the IPv4 underlay (flow_sport6). */
static uint16_t row_sport6(const struct row *r)
{
	struct xcni_ct6_key k = tuple6_of(r, false);

	return geneve_sport6(r->src, ntohs(k.sport), r->dst, ntohs(k.dport), r->proto);
}


/*
 * Geneve around an inner frame (Ethernet + IPv4): outer Ethernet eth, outer
 * IPv4 src -> dst, UDP with the flow's source port, Geneve with vni and
 * optwords 4-byte option words, then the inner frame, its Ethernet header
 * included. Returns the length.
 */
size_t geneve_wrap(struct xcni_ct_key t, const uint8_t *inner, size_t inner_len,
		   const uint8_t eth[ETH_HLEN], const char *src, const char *dst, uint32_t vni,
		   unsigned int optwords, uint8_t out[FRAME_MAX])
{
	uint8_t *ip = out + ETH_HLEN, *udp = ip + 20, *g = udp + 8;
	uint16_t ip_len = ntohs(((const struct iphdr *)(inner + ETH_HLEN))->tot_len);
	size_t opt = optwords * 4, hdrs = 20 + 8 + 8 + opt;

	memset(out, 0, FRAME_MAX);
	memcpy(out, eth, ETH_HLEN);
	((struct ethhdr *)out)->h_proto = htons(ETH_P_IP);
	ip[0] = 0x45;
	*(uint16_t *)(ip + 2) = htons(ip_len + hdrs + ETH_HLEN);
	*(uint16_t *)(ip + 6) = htons(0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	*(uint32_t *)(ip + 12) = ip4(src);
	*(uint32_t *)(ip + 16) = ip4(dst);
	*(uint16_t *)(ip + 10) = csum(ip, 20);
	*(uint16_t *)udp = htons(flow_sport(&t));
	*(uint16_t *)(udp + 2) = htons(XCNI_GENEVE_PORT);
	*(uint16_t *)(udp + 4) = htons(ip_len + hdrs + ETH_HLEN - 20);
	g[0] = optwords;
	*(uint16_t *)(g + 2) = htons(XCNI_GENEVE_PROTO_ETH);
	*(uint32_t *)(g + 4) = htonl(vni << 8);
	for (size_t i = 0; i < opt; i += 4) { /* class 0x0101, type 1, one word each */
		g[8 + i] = 1;
		g[8 + i + 1] = 1;
		g[8 + i + 2] = 1;
	}
	memcpy(out + ETH_HLEN + hdrs, inner, inner_len);
	return ETH_HLEN + hdrs + inner_len;
}

/* Writes the row's frame into buf; returns its length. */
size_t build(const struct row *r, uint8_t buf[FRAME_MAX])
{
	uint8_t inner[FRAME_MAX];
	size_t len;

	if (row_outer6(r)) {
		len = build_inner(r, inner);
		len = geneve_wrap_ul6_opt(inner, len, r->node, UL6_NODE, row_hash(r),
					  r->vni ? r->vni : VNI, r->optwords, r->gnv_crit, buf);
	} else if ((r->prog != FROM_OVERLAY && r->prog != FROM_OVERLAY_PF) || r->plain) {
		len = build_inner(r, buf);
	} else if (row_v6(r)) {
		len = build_inner(r, inner);
		len = geneve_wrap6(inner, len, r->node, NODE_IP, row_sport6(r), r->vni ? r->vni : VNI,
				   buf);
	} else {
		len = build_inner(r, inner);
		len = geneve_wrap(tuple_of(r, false), inner, len, inner, r->node, NODE_IP, r->vni ? r->vni : VNI,
				  r->optwords, buf);
		if (r->gnv_claim) /* the option length the header claims */
			buf[ETH_HLEN + 20 + 8] = r->gnv_claim - 1;
	}
	return r->cut ? r->cut : len;
}

/* The row's 5-tuple as the programs key it (ports in network order). */
struct xcni_ct_key tuple_of(const struct row *r, bool rev)
{
	struct xcni_ct_key k = { .saddr = ip4(r->src), .daddr = ip4(r->dst), .proto = r->proto };

	if (r->proto != IPPROTO_ICMP) {
		k.sport = htons(r->sport);
		k.dport = htons(r->dport);
	} else if (r->type == ICMP_ECHO || r->type == ICMP_ECHOREPLY) {
		k.sport = k.dport = htons(r->sport);
	}
	if (rev) {
		k = (struct xcni_ct_key){ .saddr = k.daddr, .daddr = k.saddr, .sport = k.dport,
					  .dport = k.sport, .proto = k.proto };
	}
	return k;
}

int ct_put_established(const struct row *r)
{
	struct xcni_ct_key k = tuple_of(r, false);
	struct timespec ts;
	struct xcni_ct_entry e = { .state = XCNI_CT_ESTABLISHED, .ep_id = 102, .pkts_orig = 1 };

	clock_gettime(CLOCK_MONOTONIC, &ts);
	e.created_ns = e.last_ns = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	return bpf_map_update_elem(bpf_map__fd(env.from->maps.xcni_ct), &k, &e, BPF_ANY) ? -errno : 0;
}

struct xcni_ct6_key tuple6_of(const struct row *r, bool rev)
{
	struct xcni_ct6_key k = { .proto = r->proto };

	addr6(rev ? r->dst : r->src, k.saddr);
	addr6(rev ? r->src : r->dst, k.daddr);
	if (r->proto != IPPROTO_ICMPV6) {
		k.sport = htons(rev ? r->dport : r->sport);
		k.dport = htons(rev ? r->sport : r->dport);
	} else if (icmp6_echo(r)) { /* by its id */
		k.sport = k.dport = htons(r->sport);
	}
	return k;
}

const char *reason_name(int idx)
{
	static const char *const names[XCNI_NR_REASONS] = {
		"FWD_LOCAL", "FWD_STACK", "FWD_REPLY", "PASS_ARP", "FWD_ENCAP", "FWD_DECAP",
		"FWD_DECAP_HOST", "PASS_UNDERLAY", "FWD_TOO_BIG", "DROP_NON_IP", "DROP_SHORT",
		"DROP_BAD_IHL", "DROP_FRAGMENT", "DROP_SPOOF_IP", "DROP_SPOOF_MAC",
		"DROP_NO_ENDPOINT", "DROP_UNKNOWN_DST", "DROP_CT_INVALID", "DROP_REDIRECT",
		"DROP_POLICY_EGRESS", "DROP_POLICY_INGRESS", "DROP_UNKNOWN_NODE", "DROP_BAD_GENEVE",
		"DROP_INNER_SPOOF", "DROP_NO_TUNNEL", "DROP_GENEVE_INJECT", "DROP_PREFILTER",
		"DROP_ENCAP", "DROP_NO_BACKEND", "DROP_NO_LOCAL_BACKEND", "DROP_NAT_NO_PORT",
		"DROP_EXTHDR", "DROP_TUNNEL_FAMILY", "DROP_TOO_BIG", "DROP_BAD_ND",
		"DROP_OUTSIDE_SPOOF", "DROP_CLUSTERIP_OUTSIDE", "DROP_GENEVE_SOCKET",
		"DROP_DSR_NOT_BACKEND", "DROP_POLICY_PENDING", "DROP_POLICY_OVERFLOW",
		"DROP_POLICY_ADMIN", "DROP_POLICY_BASELINE", "DROP_ADDR_CONTESTED",
		"DROP_SRC_FRONTEND", "DROP_FRAG_SHARE", "DROP_NAT_CLIENT", "DROP_TAIL_CALL",
	};
	return idx >= 0 && idx < XCNI_NR_REASONS ? names[idx] : "?";
}

const char *dir_name(unsigned int d)
{
	static const char *const names[XCNI_NR_DIRS] = { "from_pod", "to_pod", "from_overlay",
							  "to_overlay" };
	return d < XCNI_NR_DIRS ? names[d] : "?";
}

/* Sums the per-CPU metrics: m[i] = { packets, bytes }. */
int read_metrics(struct xcni_metric m[XCNI_NR_METRICS])
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(env.from->maps.xcni_metrics);
	struct xcni_metric v[ncpu];

	for (__u32 i = 0; i < XCNI_NR_METRICS; i++) {
		if (bpf_map_lookup_elem(fd, &i, v))
			return -errno;
		m[i] = (struct xcni_metric){};
		for (int c = 0; c < ncpu; c++) {
			m[i].packets += v[c].packets;
			m[i].bytes += v[c].bytes;
		}
	}
	return 0;
}

void npx_run_counted(int fd, struct bpf_test_run_opts *o, __u32 idx, bool xdp_diff)
{
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	int diff = 0, err;

	assert_int_equal(read_metrics(before), 0);
	if (xdp_diff)
		diff = npx_before_fd(fd, o->data_in, o->data_size_in);
	err = bpf_prog_test_run_opts(fd, o);
	if (diff)
		npx_after(0, err, o);
	assert_int_equal(err, 0);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(read_metrics(after), 0);
	for (__u32 i = 0; i < XCNI_NR_METRICS; i++)
		if (after[i].packets - before[i].packets != (i == idx))
			fail_msg("%s/%s counted %llu, want %s/%s (verdict %d)",
				 reason_name(i / XCNI_NR_DIRS), dir_name(i % XCNI_NR_DIRS),
				 (unsigned long long)(after[i].packets - before[i].packets),
				 reason_name(idx / XCNI_NR_DIRS), dir_name(idx % XCNI_NR_DIRS), o->retval);
}

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	/* An IPv6 event: the IPv4 record (addresses 0) and the IPv6 addresses. */
	if (size == sizeof(struct xcni_event6))
		v6ovl_event(data);
	else if (size != sizeof(struct xcni_event))
		return -EINVAL;
	if (env.nev < (int)ARRAY_SIZE(env.ev6))
		memcpy(&env.ev6[env.nev], data, size);
	size = sizeof(struct xcni_event);
	if (env.nev < (int)ARRAY_SIZE(env.ev))
		memcpy(&env.ev[env.nev], data, size);
	env.nev++;
	return 0;
}

int prog_fd(int prog)
{
	switch (prog) {
	case FROM_POD: return bpf_program__fd(env.from->progs.from_pod);
	case TO_POD: return bpf_program__fd(env.to->progs.to_pod);
	case FROM_POD_OV: return bpf_program__fd(env.from_ov->progs.from_pod);
	case FROM_OVERLAY: return bpf_program__fd(env.ovin->progs.from_overlay);
	case TO_OVERLAY: return bpf_program__fd(env.ovout->progs.to_overlay);
	case XDP: return bpf_program__fd(env.xdp->progs.xdp_underlay);
	case FROM_OVERLAY_PF: return bpf_program__fd(env.ovin_pf->progs.from_overlay);
	case FROM_POD_LB: return bpf_program__fd(env.from_lb->progs.from_pod);
	case TO_POD_LB: return bpf_program__fd(env.to_lb->progs.to_pod);
	case FROM_OVERLAY_LB: return bpf_program__fd(env.ovin_lb->progs.from_overlay);
	case FROM_OVERLAY_DSR: return bpf_program__fd(env.ovin_dsr->progs.from_overlay);
	case FROM_POD_UL6:
	case FROM_OVERLAY_UL6:
	case FROM_OVERLAY_UL6_LB:
	case TO_OVERLAY_UL6: return ul6_prog_fd(prog);
	}
	return -1;
}

/* The frame is Geneve (to 6081) whose inner Ethernet type is the other family's. */
static bool geneve_across(const uint8_t *f, size_t len)
{
	bool outer6;
	size_t udp, in;

	if (!f || len < ETH_HLEN + 40)
		return false;
	outer6 = f[12] == 0x86 && f[13] == 0xdd;
	udp = ETH_HLEN + (outer6 ? 40 : 4u * (f[ETH_HLEN] & 0xf));
	if ((!outer6 && (f[12] != 0x08 || f[13])) ||
	    f[ETH_HLEN + (outer6 ? 6 : 9)] != IPPROTO_UDP || len < udp + 16 ||
	    (f[udp + 2] << 8 | f[udp + 3]) != XCNI_GENEVE_PORT)
		return false;
	in = udp + 16 + 4u * (f[udp + 8] & 0x3f);
	return len >= in + ETH_HLEN &&
	       (outer6 ? f[in + 12] == 0x08 && !f[in + 13] : f[in + 12] == 0x86 && f[in + 13] == 0xdd);
}

unsigned int test_run_skips;

bool kernel_decap_l3(void)
{
	static int has = -1;

	return has < 0 ? (has = xcnid_probe_decap_l3()) : has;
}

static bool across_skipped(const uint8_t *f, size_t len)
{
	if (!geneve_across(f, len) || kernel_decap_l3())
		return false;
	print_message("# skipped: Geneve between families needs adjust-room-decap-l3 "
		      "(Linux >= 6.3), which this kernel lacks (xcnid's probe)\n");
	test_run_skips++;
	return true;
}

bool row_across_skipped(const struct row *r)
{
	uint8_t in[FRAME_MAX];

	return across_skipped(in, build(r, in));
}

/*
 * XCNI_TEST_CT_OLD=1: a conntrack growth's take-over at every packet. Before
 * each run every entry of xcni_ct and xcni_ct6 is moved into an old table put
 * in the programs' slot (xcni_ctprev, xcni_ctprev6: agent/grow.c's
 * ctprev_set); after it the old table's entries go back, those the run left
 * in the table winning, and the slot is emptied. Every row must pass so: a
 * lookup that does not look in the slot (ct_find) misses the flow
 * (map-growth.md). A table of CT_OLD_MAX entries or more (a flood's) stays
 * where it is for that run. Batches: a run costs a few calls, not one an
 * entry (the rows timing token buckets stay within their moment).
 */
#define CT_OLD_MAX 4096

struct ct_old_buf {
	uint8_t k[CT_OLD_MAX * sizeof(struct xcni_ct6_key)];
	struct xcni_ct_entry v[CT_OLD_MAX];
};

/* Every entry of fd moved into b: how many, or -1 (more than CT_OLD_MAX: what
 * was taken put back). A kernel without batches fails the row: nothing moved
 * must not pass for moved. */
static int ct_old_drain(int fd, uint32_t ksz, struct ct_old_buf *b)
{
	uint32_t in = 0, out = 0, n = 0, c;
	bool first = true;
	int err;

	do {
		c = CT_OLD_MAX - n;
		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, b->k + n * ksz,
						      b->v + n, &c, NULL);
		n += err && errno != ENOENT ? 0 : c;
		in = out, first = false;
	} while (!err && n < CT_OLD_MAX);
	if (err && errno == ENOENT)
		return (int)n;
	if (err && errno != ENOSPC)
		fail_msg("XCNI_TEST_CT_OLD: conntrack not moved: %s", strerror(errno));
	bpf_map_update_batch(fd, b->k, b->v, &n, NULL);
	return -1;
}

static void ct_old_move(bool before)
{
	static const char *const name[2][2] = { { "xcni_ct", "xcni_ctprev" },
						{ "xcni_ct6", "xcni_ctprev6" } };
	static struct ct_old_buf olds, news;
	static int old[2] = { -1, -1 };
	static bool moved[2];
	uint32_t zero = 0;

	for (int i = 0; i < 2; i++) {
		uint32_t ksz = i ? sizeof(struct xcni_ct6_key) : sizeof(struct xcni_ct_key), n;
		int ct = map_fd(name[i][0]), slot = map_fd(name[i][1]), m;

		if (old[i] < 0)
			old[i] = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "ct_old", ksz,
						sizeof(struct xcni_ct_entry),
						2 * CT_OLD_MAX + 256 * libbpf_num_possible_cpus(), NULL);
		assert_true(old[i] >= 0);
		if (before) {
			moved[i] = (m = ct_old_drain(ct, ksz, &olds)) >= 0;
			if (!moved[i])
				continue;
			n = (uint32_t)m;
			assert_int_equal(n ? bpf_map_update_batch(old[i], olds.k, olds.v, &n, NULL) : 0, 0);
			assert_int_equal(bpf_map_update_elem(slot, &zero, &old[i], BPF_ANY), 0);
			continue;
		}
		if (!moved[i])
			continue;
		moved[i] = false;
		bpf_map_delete_elem(slot, &zero);
		/* The run's entries (written or brought back by it) over the old ones. */
		m = ct_old_drain(ct, ksz, &news);
		n = (uint32_t)ct_old_drain(old[i], ksz, &olds);
		assert_true((int)n >= 0);
		/* A run that flooded the table (m < 0: left in it) gets them one by one. */
		for (uint32_t k = 0; m < 0 && k < n; k++)
			bpf_map_update_elem(ct, olds.k + k * ksz, &olds.v[k], BPF_NOEXIST);
		if (m < 0)
			continue;
		assert_int_equal(n ? bpf_map_update_batch(ct, olds.k, olds.v, &n, NULL) : 0, 0);
		n = (uint32_t)m;
		assert_int_equal(n ? bpf_map_update_batch(ct, news.k, news.v, &n, NULL) : 0, 0);
	}
}

bool ct_old_on(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("XCNI_TEST_CT_OLD") && !strcmp(getenv("XCNI_TEST_CT_OLD"), "1");
	return on;
}

int test_run(int fd, struct bpf_test_run_opts *o)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int err;

	if (!bpf_prog_get_info_by_fd(fd, &info, &ilen) && info.type == BPF_PROG_TYPE_SCHED_CLS &&
	    across_skipped(o->data_in, o->data_size_in))
		skip();
	if (ct_old_on())
		ct_old_move(true);
	err = (bpf_prog_test_run_opts)(fd, o); /* the library's: the name in brackets */
	if (ct_old_on())
		ct_old_move(false);
	return err;
}

int run(int prog, int dev, uint8_t *in, size_t len, uint8_t *out, size_t out_len,
	       int repeat, struct bpf_test_run_opts *o)
{
	return run_mark(prog, dev, 0, in, len, out, out_len, repeat, o);
}

int run_mark(int prog, int dev, uint32_t mark, uint8_t *in, size_t len, uint8_t *out,
	     size_t out_len, int repeat, struct bpf_test_run_opts *o)
{
	struct __sk_buff ctx = { .ifindex = env.ifindex[dev], .mark = mark };
	int diff = npx_before(prog, in, len, repeat), err;

	o->sz = sizeof(*o);
	o->data_in = in;
	o->data_size_in = len;
	o->data_out = out;
	o->data_size_out = out_len;
	if (prog != XDP) { /* XDP takes no __sk_buff */
		o->ctx_in = &ctx;
		o->ctx_size_in = sizeof(ctx);
	}
	o->repeat = repeat;
	err = bpf_prog_test_run_opts(prog_fd(prog), o);
	if (diff)
		npx_after(prog, err, o);
	return err;
}

/* The row as its program translates it (NAT_SRC, NAT_DST), without them. */
static struct row nat_row(const struct row *r)
{
	struct row t = *r;

	if (r->nat_src) {
		t.src = r->nat_src;
		t.sport = r->nat_sport;
	}
	if (r->nat_dst) {
		t.dst = r->nat_dst;
		t.dport = r->nat_dport;
	}
	t.l4csum = r->l4csum || r->nat_src || r->nat_dst;
	t.nat_src = t.nat_dst = NULL;
	return t;
}

/* The pod whose IPv6 is the frame's destination (at l3), or NULL. */
static const struct pod *pod_of6(const uint8_t *l3)
{
	uint8_t a[16];

	for (int i = 0; i < NR_DEVS; i++) {
		if (!pods[i].ip6)
			continue;
		addr6(pods[i].ip6, a);
		if (!memcmp(a, l3 + 24, 16))
			return &pods[i];
	}
	return NULL;
}

/* The pod whose IPv4 is the frame's destination (at l3), or NULL. */
static const struct pod *pod_of4(const uint8_t *l3)
{
	for (int i = 0; i < NR_DEVS; i++)
		if (pods[i].ip && ip4(pods[i].ip) == ((const struct iphdr *)l3)->daddr)
			return &pods[i];
	return NULL;
}

/*
 * Geneve of an IPv6 row, or over the IPv6 underlay (either inner family):
 * encapsulated to the row's node (a pod's routed first: TTL or hop limit
 * - 1), over IPv4 from NODE_IP or over IPv6 from UL6_NODE; decapsulated into
 * the pod (its MACs, the inner Ethernet type) or for the stack (the outer
 * MACs stay); refused after from_overlay took it apart (the inner frame) or
 * before (an unknown node, bad Geneve: untouched); anything else untouched.
 */
static size_t expected_tunnel(const struct row *r, const uint8_t *in, size_t len, uint8_t *want)
{
	uint8_t inner[FRAME_MAX];
	const struct pod *dst;
	size_t n;

	switch (r->reason) {
	case XCNI_FWD_ENCAP:
		memcpy(inner, in, len);
		if (prog_dir(r->prog) == XCNI_DIR_FROM_POD && row_v6(r)) {
			inner[ETH_HLEN + 7]--;
		} else if (prog_dir(r->prog) == XCNI_DIR_FROM_POD) {
			struct iphdr *ip = (struct iphdr *)(inner + ETH_HLEN);

			ip->ttl--;
			ip->check = 0;
			ip->check = csum(ip, ip->ihl * 4);
		}
		if (row_ul6(r))
			return geneve_wrap_ul6_opt(inner, len, UL6_NODE, r->node, row_hash(r), VNI,
						   0, false, want);
		return geneve_wrap6(inner, len, NODE_IP, r->node, row_sport6(r), VNI, want);
	case XCNI_FWD_DECAP:
		n = build_inner(r, want);
		dst = row_v6(r) ? pod_of6(want + ETH_HLEN) : pod_of4(want + ETH_HLEN);
		assert_non_null(dst);
		memcpy(want, dst->mac, ETH_ALEN);
		memcpy(want + ETH_ALEN, dst->host_mac, ETH_ALEN);
		return n;
	case XCNI_FWD_DECAP_HOST:
		n = build_inner(r, want);
		memcpy(want, in, 2 * ETH_ALEN);
		return n;
	case XCNI_DROP_UNKNOWN_NODE:
	case XCNI_DROP_BAD_GENEVE:
	case XCNI_DROP_TAIL_CALL: /* its step's program missing: nothing taken off */
		return len;
	}
	return prog_dir(r->prog) == XCNI_DIR_FROM_OVERLAY ? build_inner(r, want) : len;
}

/* The bytes the row's program must leave: want; returns their length. */
static size_t expected(const struct row *r, const uint8_t *in, size_t len, uint8_t *want)
{
	uint8_t inner[FRAME_MAX], nat[FRAME_MAX];
	struct iphdr *ip = (struct iphdr *)(want + ETH_HLEN);
	const struct pod *dst = NULL;
	size_t n;

	if (r->want) {
		memcpy(want, r->want, r->want_len);
		return r->want_len;
	}
	if (r->nat_src || r->nat_dst) { /* the row's frame translated, then as below */
		struct row t = nat_row(r);

		assert_int_equal(build_inner(&t, nat), len);
		in = nat;
	}
	memcpy(want, in, len);
	if (row_ul6(r) || (row_v6(r) && (r->prog == FROM_OVERLAY || r->reason == XCNI_FWD_ENCAP)))
		return expected_tunnel(r, in, len, want);
	if (row_v6(r)) {
		/* Redirected: into the pod that has the destination, its MACs, hop
		 * limit - 1 (no header checksum). The IPv6 rows go no further yet. */
		uint8_t a[16];

		if (r->ret != TC_ACT_REDIRECT)
			return len;
		if (r->reason != XCNI_FWD_LOCAL && r->reason != XCNI_FWD_REPLY)
			fail_msg("an IPv6 row redirected as %s: not built here",
				 reason_name(XCNI_REASON_IDX(r->reason)));
		for (int i = 0; i < NR_DEVS; i++) {
			if (!pods[i].ip6)
				continue;
			addr6(pods[i].ip6, a);
			if (!memcmp(a, want + ETH_HLEN + 24, 16))
				dst = &pods[i];
		}
		assert_non_null(dst);
		memcpy(want, dst->mac, ETH_ALEN);
		memcpy(want + ETH_ALEN, dst->host_mac, ETH_ALEN);
		want[ETH_HLEN + 7]--;
		return len;
	}
	/* Geneve with IPv6 inside is taken apart before it is judged
	 * (from_overlay6): the inner frame, whatever the verdict. */
	if ((r->prog == FROM_OVERLAY || r->prog == FROM_OVERLAY_LB) && !r->plain &&
	    r->eth == ETH_P_IPV6)
		return build_inner(r, want);
	if (r->ret != TC_ACT_REDIRECT && r->reason != XCNI_FWD_DECAP_HOST)
		return len;
	switch (r->reason) {
	case XCNI_FWD_ENCAP:
		/* The inner packet as routed (TTL - 1 from a pod), then wrapped. */
		memcpy(inner, in, len);
		if (r->prog == FROM_POD_OV) {
			struct iphdr *iip = (struct iphdr *)(inner + ETH_HLEN);

			iip->ttl--;
			iip->check = 0;
			iip->check = csum(iip, iip->ihl * 4);
		}
		return geneve_wrap(tuple_of(r, false), inner, len, in, NODE_IP, r->node, VNI, 0, want);
	case XCNI_FWD_DECAP:
	case XCNI_FWD_DECAP_HOST:
		/* Outer Ethernet kept (or the pod's MACs), the inner IP packet. */
		n = build_inner(r, inner) - ETH_HLEN;
		memcpy(want + ETH_HLEN, inner + ETH_HLEN, n);
		for (int i = 0; r->reason == XCNI_FWD_DECAP && i < NR_DEVS; i++)
			if (pods[i].ip && ip4(pods[i].ip) == ip->daddr)
				dst = &pods[i];
		if (r->reason == XCNI_FWD_DECAP) {
			assert_non_null(dst);
			memcpy(want, dst->mac, ETH_ALEN);
			memcpy(want + ETH_ALEN, dst->host_mac, ETH_ALEN);
		}
		return ETH_HLEN + n;
	}
	/* Local delivery: the pod's MACs and TTL - 1. */
	for (int i = 0; i < NR_DEVS; i++)
		if (pods[i].ip && ip4(pods[i].ip) == ip->daddr)
			dst = &pods[i];
	assert_non_null(dst);
	memcpy(want, dst->mac, ETH_ALEN);
	memcpy(want + ETH_ALEN, dst->host_mac, ETH_ALEN);
	ip->ttl--;
	ip->check = 0;
	ip->check = csum(ip, ip->ihl * 4);
	return len;
}

/*
 * Event i's tuple against the row's, as much of it as what (EV_*) says was
 * parsed: IPv4 in the record itself; IPv6 in the record's addresses (0) and
 * the event's saddr6/daddr6, its protocol and ports in the record.
 */
static void check_ev_tuple(const struct row *r, int i, int what, bool addrs_only)
{
	const struct xcni_event *e = &env.ev[i];
	struct xcni_ct_key k = {};
	struct row t = nat_row(r); /* a translated flow's events name what it became */

	r = &t;

	if (what == EV_OUTER && row_outer6(r)) {
		/* Geneve over the IPv6 underlay: the outer tuple, IPv6. */
		struct xcni_ct6_key k6 = { .sport = htons(49152 | (row_hash(r) & 0x3fff)),
					   .dport = htons(XCNI_GENEVE_PORT), .proto = IPPROTO_UDP };

		addr6(r->node, k6.saddr);
		addr6(UL6_NODE, k6.daddr);
		assert_memory_equal(env.ev6[i].saddr6, k6.saddr, 16);
		assert_memory_equal(env.ev6[i].daddr6, k6.daddr, 16);
		k.proto = k6.proto;
		k.sport = k6.sport;
		k.dport = k6.dport;
	} else if (row_v6(r) && what == EV_OUTER) {
		/* IPv6 inside Geneve over IPv4: the outer tuple. */
		k = (struct xcni_ct_key){ .saddr = ip4(r->node), .daddr = ip4(NODE_IP),
					  .sport = htons(row_sport6(r)),
					  .dport = htons(XCNI_GENEVE_PORT), .proto = IPPROTO_UDP };
	} else if (row_v6(r)) {
		struct xcni_ct6_key k6 = {};

		if (what != EV_ZERO)
			k6 = tuple6_of(r, false);
		if (what == EV_ADDRS || what == EV_ADDRS_ONLY)
			k6.sport = k6.dport = 0;
		if (what == EV_ADDRS_ONLY)
			k6.proto = 0;
		assert_memory_equal(env.ev6[i].saddr6, k6.saddr, 16);
		assert_memory_equal(env.ev6[i].daddr6, k6.daddr, 16);
		k.proto = k6.proto;
		k.sport = k6.sport;
		k.dport = k6.dport;
	} else {
		if (what != EV_ZERO)
			k = tuple_of(r, false);
		if (what == EV_ADDRS)
			k.sport = k.dport = 0;
		if (what == EV_OUTER)
			k = (struct xcni_ct_key){ .saddr = ip4(r->node), .daddr = ip4(NODE_IP),
						  .sport = htons(flow_sport(&k)),
						  .dport = htons(XCNI_GENEVE_PORT),
						  .proto = IPPROTO_UDP };
	}
	assert_int_equal(e->saddr, k.saddr);
	assert_int_equal(e->daddr, k.daddr);
	if (addrs_only)
		return;
	assert_int_equal(e->proto, k.proto);
	assert_int_equal(e->sport, k.sport);
	assert_int_equal(e->dport, k.dport);
}

/* The row's conntrack entry (the opening direction's tuple, or the other way): 0 or -errno. */
static int row_ct(const struct row *r, bool rev, struct xcni_ct_entry *ce)
{
	if (row_v6(r)) {
		struct xcni_ct6_key k = tuple6_of(r, rev);

		return bpf_map_lookup_elem(map_fd("xcni_ct6"), &k, ce);
	}
	struct xcni_ct_key k = tuple_of(r, rev);

	return bpf_map_lookup_elem(bpf_map__fd(env.from->maps.xcni_ct), &k, ce);
}

void check_rows(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		void *state = (void *)&rows[i];

		/* cmocka names the test; the row that failed is the last one named here. */
		print_message("# row: %s\n", rows[i].name);
		check_row(&state);
	}
}

size_t row_ev_len(const struct row *r, size_t len, int what)
{
	uint8_t buf[FRAME_MAX];
	struct row t = *r;

	if (prog_dir(r->prog) != XCNI_DIR_FROM_OVERLAY || what == EV_OUTER)
		return len;
	t.cut = 0;
	return len - (build(&t, buf) - build_inner(r, buf));
}

void check_row(void **state)
{
	const struct row *r = *state;
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	uint8_t in[FRAME_MAX], out[FRAME_MAX], want[FRAME_MAX];
	size_t len = build(r, in);
	struct bpf_test_run_opts o = {};
	__u32 idx = XCNI_METRIC_IDX(r->reason, prog_dir(r->prog));
	static unsigned int prev_skips; /* test_run_skips as the row before began */
	bool after_skip = test_run_skips != prev_skips;

	prev_skips = test_run_skips;
	if (r->ct_rev && after_skip) {
		print_message("# skipped: the row before, which opened its flow, was skipped\n");
		test_run_skips++;
		skip();
	}
	if (r->step) {
		assert_int_equal(r->step(), 0);
		return;
	}
	assert_int_equal(read_metrics(before), 0);
	env.nev = 0;
	assert_int_equal(run_mark(r->prog, r->dev, r->mark, in, len, out, sizeof(out), 0, &o), r->err);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(read_metrics(after), 0);
	if (r->err) {
		assert_memory_equal(before, after, sizeof(before));
		assert_int_equal(env.nev, 0);
		return;
	}
	assert_int_equal(o.retval, r->ret);
	if (r->uncounted) {
		assert_memory_equal(before, after, sizeof(before));
		assert_int_equal(env.nev, 0);
		assert_int_equal(o.data_size_out, len);
		assert_memory_equal(out, in, len);
		return;
	}

	/* Exactly one packet of len bytes under (reason, dir), nothing else. */
	for (__u32 i = 0; i < XCNI_NR_METRICS; i++) {
		uint64_t dp = after[i].packets - before[i].packets;

		if (dp != (uint64_t)(i == idx))
			fail_msg("%s/%s counted %" PRIu64 ", want %s/%s", reason_name(i / XCNI_NR_DIRS),
				 dir_name(i % XCNI_NR_DIRS), dp,
				 reason_name(XCNI_REASON_IDX(r->reason)), dir_name(prog_dir(r->prog)));
	}
	assert_int_equal(after[idx].bytes - before[idx].bytes, len);

	/* Local delivery rewrites L2 and the TTL, the overlay adds or takes away
	 * Geneve; everything else leaves bytes be. */
	size_t want_len = expected(r, in, len, want);

	assert_int_equal(o.data_size_out, want_len);
	if (memcmp(out, want, want_len)) {
		for (size_t i = 0; i < want_len; i++)
			if (out[i] != want[i])
				fail_msg("output differs first at byte %zu: 0x%02x, want 0x%02x", i,
					 out[i], want[i]);
	}

	if (r->trace) {
		struct xcni_event *e = &env.ev[0];

		assert_int_equal(env.nev, 1);
		assert_int_equal(e->type, XCNI_EV_TRACE);
		assert_int_equal(e->reason, r->reason);
		assert_int_equal(e->dir, prog_dir(r->prog));
		assert_int_equal(e->ep_id, row_ep_id(r, r->dev));
		assert_int_equal(e->ifindex, env.ifindex[r->dev]);
		assert_int_equal(e->len, row_ev_len(r, len, EV_FULL));
		check_ev_tuple(r, 0, EV_FULL, false);
	} else if ((r->ret != TC_ACT_SHOT || r->no_ev) && !r->vev) {
		assert_int_equal(env.nev, 0);
	} else if (r->vev) {
		struct xcni_event *e = &env.ev[0];

		assert_int_equal(env.nev, 1);
		assert_int_equal(e->type, XCNI_EV_VERDICT);
		assert_int_equal(e->reason, r->reason);
		assert_int_equal(e->policy_id, r->policy_id);
		assert_int_equal(e->rule, r->rule);
		assert_int_equal(e->pol_dir, r->pol_dir);
		check_ev_tuple(r, 0, EV_FULL, true);
		if (r->flags_set)
			assert_int_equal(e->pol_flags, r->pol_flags);
	} else {
		struct xcni_event *e = &env.ev[0];

		assert_int_equal(env.nev, 1);
		assert_int_equal(e->type, XCNI_EV_DROP);
		assert_int_equal(e->reason, r->reason);
		assert_int_equal(e->dir, prog_dir(r->prog));
		assert_int_equal(e->ep_id, row_ep_id(r, r->ep_of ? r->ep_of - 1 : r->dev));
		assert_int_equal(e->ifindex, env.ifindex[r->dev]);
		assert_int_equal(e->len, row_ev_len(r, len, r->ev));
		check_ev_tuple(r, 0, r->ev, false);
		if (r->reason == XCNI_DROP_POLICY_INGRESS || r->reason == XCNI_DROP_POLICY_EGRESS) {
			/* "isolated, nothing allows", with both identities. */
			assert_int_equal(e->policy_id, 0);
			assert_int_equal(e->pol_dir, r->reason == XCNI_DROP_POLICY_INGRESS ? TO_POD
											  : FROM_POD);
			assert_int_not_equal(e->src_identity, 0);
			assert_int_not_equal(e->dst_identity, 0);
		} else if (r->reason == XCNI_DROP_POLICY_PENDING ||
			   r->reason == XCNI_DROP_POLICY_OVERFLOW) {
			/* No rule decided; the event names both ends all the same. */
			assert_int_not_equal(e->src_identity, 0);
			assert_int_not_equal(e->dst_identity, 0);
		}
		if (r->flags_set) {
			assert_int_equal(e->pol_flags, r->pol_flags);
			assert_int_equal(e->policy_id, r->policy_id);
			assert_int_equal(e->rule, r->rule);
			assert_int_equal(e->pol_dir, r->pol_dir);
		}
	}
	if (r->no_ct) {
		struct xcni_ct_entry ce;
		struct row t = nat_row(r);

		assert_int_not_equal(row_ct(r, false, &ce), 0);
		assert_int_not_equal(row_ct(&t, false, &ce), 0);
	}
	if (r->ev_rev_nat) {
		assert_int_equal(env.ev[0].rev_nat, r->ev_rev_nat);
		assert_int_equal(env.ev[0].backend_id, r->ev_backend);
	}

	if (r->ct || r->ct_stack) {
		struct xcni_ct_entry ce;
		uint32_t zero = 0, rev = 0;

		assert_int_equal(row_ct(r, r->ct_rev, &ce), 0);
		assert_int_equal(!!(ce.flags & XCNI_CT_F_STACK), r->ct_stack);
		/* A packet in the opening direction passed: judged under the revision now. */
		assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_polrev"), &zero, &rev), 0);
		if (!r->ct_rev)
			assert_int_equal(ce.policy_rev, rev);
	}
	if (r->ct_no_svc) {
		struct xcni_ct_entry ce;

		assert_int_equal(row_ct(r, r->ct_rev, &ce), 0);
		assert_int_equal(ce.flags & ~XCNI_CT_F_STACK, 0);
		assert_int_equal(ce.rev_nat, 0);
	}
	if (r->ct) {
		struct xcni_ct_entry ce;

		assert_int_equal(row_ct(r, r->ct_rev, &ce), 0);
		assert_int_equal(ce.state, r->ct);
		if (r->ct == XCNI_CT_NEW) {
			assert_int_equal(ce.ep_id, r->ep_of			  ? row_ep_id(r, r->ep_of - 1)
						   : prog_dir(r->prog) == FROM_POD ? row_ep_id(r, r->dev)
										     : 0);
			assert_int_equal(ce.pkts_orig, 1);
			/* A flow's bytes are its inner frame's: from another node,
			 * what is left once the outer headers are gone. */
			assert_int_equal(ce.bytes_orig, prog_dir(r->prog) == XCNI_DIR_FROM_OVERLAY &&
								want_len < len ?
							want_len :
							len);
		}
	}
}

int map_fd(const char *name)
{
	/* from_overlay's own maps (xcni_snat, ...) where from_pod has no such map. */
	struct bpf_map *m = bpf_object__find_map_by_name(env.from->obj, name);

	if (!m)
		m = bpf_object__find_map_by_name(env.ovin->obj, name);
	/* xdp_underlay's own (the flow cache's xcni_npc, xcni_npgen) */
	return bpf_map__fd(m ?: bpf_object__find_map_by_name(env.xdp->obj, name));
}

int cfg_get(struct xcni_config *cfg)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(map_fd("xcni_config"), &zero, cfg) ? -errno : 0;
}

int cfg_put(const struct xcni_config *cfg)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(map_fd("xcni_config"), &zero, cfg, BPF_EXIST) ? -errno : 0;
}

int svcbe_put(uint32_t svc_id, uint32_t backend_id)
{
	struct xcni_backend b;
	struct xcni_svcbe_key k = { .svc_id = svc_id };
	uint32_t one = 1;

	if (bpf_map_lookup_elem(map_fd("xcni_backend"), &backend_id, &b))
		return -errno;
	k.port = b.port;
	k.family = b.family;
	memcpy(k.addr, b.addr, sizeof(k.addr));
	return bpf_map_update_elem(map_fd("xcni_svcbe"), &k, &one, BPF_ANY) ? -errno : 0;
}


/* As xcnid does after every policy change: one more policy revision. */
int polrev_bump(void)
{
	uint32_t k = 0, rev = 0;
	int fd = map_fd("xcni_polrev");

	if (bpf_map_lookup_elem(fd, &k, &rev))
		return -errno;
	rev++;
	return bpf_map_update_elem(fd, &k, &rev, BPF_ANY) ? -errno : 0;
}

int env_teardown(void **state)
{
	(void)state;
	ring_buffer__free(env.rb);
	env.rb = NULL;
	if (env.from) {
		struct bpf_map *m;

		bpf_object__for_each_map(m, env.from->obj)
			if (bpf_map__is_pinned(m))
				bpf_map__unpin(m, NULL);
	}
	xdp_np_destroy();
	from_overlay__destroy(env.ovin_lb);
	from_overlay__destroy(env.ovin_dsr);
	from_overlay__destroy(env.ovin_pf);
	to_pod__destroy(env.to_lb);
	from_pod__destroy(env.from_lb);
	env.ovin_lb = NULL;
	env.ovin_dsr = NULL;
	env.ovin_pf = NULL;
	env.to_lb = NULL;
	env.from_lb = NULL;
	xdp_underlay__destroy(env.xdp);
	to_overlay__destroy(env.ovout);
	from_overlay__destroy(env.ovin);
	from_pod__destroy(env.from_ov);
	to_pod__destroy(env.to);
	from_pod__destroy(env.from);
	env.xdp = NULL;
	env.ovout = NULL;
	env.ovin = NULL;
	env.from_ov = NULL;
	env.to = NULL;
	env.from = NULL;
	/* Whatever was pinned there is ours: a program that failed to load after
	 * its maps were created and pinned leaves maps env.from does not have. */
	if (env.pin_dir[0]) {
		DIR *d = opendir(env.pin_dir);
		struct dirent *de;

		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		if (d)
			closedir(d);
		rmdir(env.pin_dir);
	}
	env.pin_dir[0] = '\0';
	return 0;
}

static int add_endpoints(void)
{
	int efd = bpf_map__fd(env.from->maps.xcni_endpoints);
	int ifd = bpf_map__fd(env.from->maps.xcni_ifindex);

	for (int i = 0; i < NR_DEVS; i++) {
		struct xcni_endpoint ep = { .ifindex = env.ifindex[i], .ep_id = pods[i].ep_id };
		uint32_t ip = ip4(pods[i].ip), ifindex = env.ifindex[i];

		if (!pods[i].ip)
			continue;
		memcpy(ep.pod_mac, pods[i].mac, ETH_ALEN);
		memcpy(ep.host_mac, pods[i].host_mac, ETH_ALEN);
		if (bpf_map_update_elem(efd, &ip, &ep, BPF_NOEXIST) ||
		    bpf_map_update_elem(ifd, &ifindex, &(struct xcni_pod_dev){ .addr = ip, .ep = ep },
					BPF_NOEXIST))
			return -errno;
	}
	return 0;
}

/* A private netns with the veths, both objects sharing maps in a private pin dir. */
int env_setup(void **state)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.pin_dir);
	char cmd[128];
	int err = -EINVAL;

	(void)state;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	for (int i = 0; i < NR_DEVS; i++) {
		snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name %s-p", pods[i].dev,
			 pods[i].dev);
		if (system(cmd) != 0 || !(env.ifindex[i] = if_nametoindex(pods[i].dev)))
			return -ENODEV;
	}
	strcpy(env.pin_dir, "/sys/fs/bpf/xcni-test-XXXXXX");
	if (!mkdtemp(env.pin_dir)) {
		env.pin_dir[0] = '\0';
		return -errno;
	}
	env.from = from_pod__open_opts(&opts);
	if (!env.from)
		goto fail;
	env.from->rodata->pod_cidr = ip4("10.99.5.0");
	env.from->rodata->pod_cidr_mask = htonl(0xffffff00);
	env.from->rodata->gateway_ip = ip4(IP_GW);
	env.from->rodata->svc_cidr = ip4("10.96.0.0");
	env.from->rodata->svc_cidr_mask = htonl(0xfff00000);
	/* fd00:10:96::/108 (policy.c's IPv6 ClusterIP rows). */
	env.from->rodata->svc_cidr6[0] = htonl(0xfd000010);
	env.from->rodata->svc_cidr6[1] = htonl(0x00960000);
	env.from->rodata->svc_mask6[0] = env.from->rodata->svc_mask6[1] = 0xffffffff;
	env.from->rodata->svc_mask6[2] = 0xffffffff;
	env.from->rodata->svc_mask6[3] = htonl(0xfff00000);
	/* Learned addresses judged (fqdn.c's verdict); only a pod whose egress
	 * has XCNI_HAS_FQDN looks, so every other group's rows are unchanged. */
	env.from->rodata->fqdn_enabled = 1;
	FRAG_KEY_SET(env.from->rodata);
	if ((err = from_pod__load(env.from)))
		goto fail;
	/* Loaded after from_pod, so they pick up the maps it pinned. */
	env.to = to_pod__open_opts(&opts);
	if (!env.to)
		goto fail;
	FRAG_KEY_SET(env.to->rodata);
	if ((err = to_pod__load(env.to)))
		goto fail;
	env.from_ov = from_pod__open_opts(&opts);
	if (!env.from_ov)
		goto fail;
	env.from_ov->rodata->pod_cidr = ip4("10.99.5.0");
	env.from_ov->rodata->pod_cidr_mask = htonl(0xffffff00);
	env.from_ov->rodata->gateway_ip = ip4(IP_GW);
	env.from_ov->rodata->svc_cidr = ip4("10.96.0.0");
	env.from_ov->rodata->svc_cidr_mask = htonl(0xfff00000);
	env.from_ov->rodata->node_ip = ip4(NODE_IP);
	env.from_ov->rodata->underlay_ifindex = env.ifindex[DEV_U];
	env.from_ov->rodata->vni = VNI;
	FRAG_KEY_SET(env.from_ov->rodata);
	if ((err = from_pod__load(env.from_ov)))
		goto fail;
	env.ovin = from_overlay__open_opts(&opts);
	if (!env.ovin)
		goto fail;
	env.ovin->rodata->node_ip = ip4(NODE_IP);
	env.ovin->rodata->vni = VNI;
	UL_SVC_RANGES(env.ovin->rodata);
	FRAG_KEY_SET(env.ovin->rodata);
	if ((err = from_overlay__load(env.ovin)))
		goto fail;
	env.ovin_pf = from_overlay__open_opts(&opts);
	if (!env.ovin_pf)
		goto fail;
	env.ovin_pf->rodata->node_ip = ip4(NODE_IP);
	env.ovin_pf->rodata->vni = VNI;
	UL_SVC_RANGES(env.ovin_pf->rodata);
	env.ovin_pf->rodata->tc_prefilter = 1;
	FRAG_KEY_SET(env.ovin_pf->rodata);
	if ((err = from_overlay__load(env.ovin_pf)))
		goto fail;
	env.ovout = to_overlay__open_opts(&opts);
	if (!env.ovout)
		goto fail;
	env.ovout->rodata->node_ip = ip4(NODE_IP);
	env.ovout->rodata->underlay_ifindex = env.ifindex[DEV_U];
	env.ovout->rodata->vni = VNI;
	FRAG_KEY_SET(env.ovout->rodata);
	if ((err = to_overlay__load(env.ovout)))
		goto fail;
	env.xdp = xdp_underlay__open_opts(&opts);
	if (!env.xdp)
		goto fail;
	UL_SVC_RANGES(env.xdp->rodata);
	if ((err = xdp_underlay__load(env.xdp)))
		goto fail;
	/* Services in BPF: the kube-proxy replacement on, with the overlay. */
	env.from_lb = from_pod__open_opts(&opts);
	if (!env.from_lb)
		goto fail;
	env.from_lb->rodata->pod_cidr = ip4("10.99.5.0");
	env.from_lb->rodata->pod_cidr_mask = htonl(0xffffff00);
	env.from_lb->rodata->gateway_ip = ip4(IP_GW);
	env.from_lb->rodata->svc_cidr = ip4("10.96.0.0");
	env.from_lb->rodata->svc_cidr_mask = htonl(0xfff00000);
	env.from_lb->rodata->node_ip = ip4(NODE_IP);
	env.from_lb->rodata->underlay_ifindex = env.ifindex[DEV_U];
	env.from_lb->rodata->vni = VNI;
	env.from_lb->rodata->lb_enabled = 1;
	env.from_lb->rodata->lb_loopback_ip = ip4(LB_LOOPBACK);
	FRAG_KEY_SET(env.from_lb->rodata);
	if ((err = from_pod__load(env.from_lb)))
		goto fail;
	env.to_lb = to_pod__open_opts(&opts);
	if (!env.to_lb)
		goto fail;
	env.to_lb->rodata->lb_enabled = 1;
	FRAG_KEY_SET(env.to_lb->rodata);
	if ((err = to_pod__load(env.to_lb)))
		goto fail;
	env.ovin_lb = from_overlay__open_opts(&opts);
	if (!env.ovin_lb)
		goto fail;
	env.ovin_lb->rodata->node_ip = ip4(NODE_IP);
	env.ovin_lb->rodata->vni = VNI;
	UL_SVC_RANGES(env.ovin_lb->rodata);
	env.ovin_lb->rodata->lb_enabled = 1;
	FRAG_KEY_SET(env.ovin_lb->rodata);
	if ((err = from_overlay__load(env.ovin_lb)))
		goto fail;
	env.ovin_dsr = from_overlay__open_opts(&opts);
	if (!env.ovin_dsr)
		goto fail;
	env.ovin_dsr->rodata->node_ip = ip4(NODE_IP);
	env.ovin_dsr->rodata->vni = VNI;
	UL_SVC_RANGES(env.ovin_dsr->rodata);
	env.ovin_dsr->rodata->lb_enabled = 1;
	env.ovin_dsr->rodata->lb_dsr = 1;
	FRAG_KEY_SET(env.ovin_dsr->rodata);
	if ((err = from_overlay__load(env.ovin_dsr)))
		goto fail;
	if ((err = xdp_np_load(&opts)))
		goto fail;
	if ((err = add_endpoints()))
		goto fail;
	env.rb = ring_buffer__new(bpf_map__fd(env.from->maps.xcni_events), on_event, NULL, NULL);
	if (!env.rb) {
		err = -errno;
		goto fail;
	}
	return 0;
fail:
	env_teardown(NULL);
	return err;
}

/*
 * The test run reruns one skb in place, rewrite included. So the rewrite
 * must hand the next run a packet that takes the same path: B's host MAC is
 * made A's MAC (the source MAC check passes again), and TTL 255 allows 254
 * forwarded runs before the TTL<=1 exit. Hence 4000 runs of 250 for the
 * forwarded figure; repeat=1000000 is printed beside it for what it is.
 */
int bench(void)
{
	struct row r = { .dev = DEV_A, UDP(IP_A, 7000, IP_B, 7001), .ttl = 255 };
	struct xcni_endpoint ep;
	uint32_t ip = ip4(IP_B);
	int fd = bpf_map__fd(env.from->maps.xcni_endpoints);
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	size_t len = build(&r, in);
	struct bpf_test_run_opts o = {};
	uint64_t ns = 0;
	int err, n = 4000, repeat = 250;

	if (bpf_map_lookup_elem(fd, &ip, &ep))
		return -errno;
	memcpy(ep.host_mac, pods[DEV_A].mac, ETH_ALEN);
	if (bpf_map_update_elem(fd, &ip, &ep, BPF_EXIST))
		return -errno;
	for (int i = 0; i < n; i++) {
		if ((err = run(FROM_POD, DEV_A, in, len, out, sizeof(out), repeat, &o)))
			return err;
		if (o.retval != TC_ACT_REDIRECT || out[ETH_HLEN + 8] != 255 - repeat)
			return -EPROTO;
		ns += o.duration;
	}
	printf("from_pod forwarded, %d x repeat=%d: %.1f ns/packet\n", n, repeat, (double)ns / n);
	if ((err = run(FROM_POD, DEV_A, in, len, out, sizeof(out), 1000000, &o)))
		return err;
	printf("from_pod repeat=1000000 (TTL<=1 exit after 254 runs): %u ns/packet\n", o.duration);
	return 0;
}

/* Empties a map (keys collected first: deleting restarts a trie walk). */
int map_clear(int fd, size_t ksz)
{
	size_t cap = 1024, n = 0;
	unsigned char *keys, k[64];
	int first = 1;

	if (ksz > sizeof(k))
		return -E2BIG;
	if (!(keys = malloc(cap * ksz)))
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, first ? NULL : k, keys + n * ksz) == 0) {
		memcpy(k, keys + n * ksz, ksz);
		first = 0;
		if (++n == cap) {
			unsigned char *nk = realloc(keys, (cap *= 2) * ksz);

			if (!nk) {
				free(keys);
				return -ENOMEM;
			}
			keys = nk;
		}
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, keys + i * ksz);
	free(keys);
	return 0;
}

/* Every map of obj back to what loading left: hashes and tries empty, arrays
 * zero (none has initial values); the programs and their rodata stay. */
static int obj_reset(struct bpf_object *obj)
{
	struct bpf_map *m;
	int ncpu = libbpf_num_possible_cpus();

	if (!obj)
		return 0;
	bpf_object__for_each_map(m, obj) {
		int fd = bpf_map__fd(m), err;

		if (bpf_map__is_internal(m))
			continue;
		switch (bpf_map__type(m)) {
		case BPF_MAP_TYPE_RINGBUF:
		case BPF_MAP_TYPE_PROG_ARRAY:
			continue;
		case BPF_MAP_TYPE_ARRAY:
		case BPF_MAP_TYPE_PERCPU_ARRAY: {
			size_t vsz = bpf_map__value_size(m);
			void *zero;

			if (bpf_map__type(m) == BPF_MAP_TYPE_PERCPU_ARRAY)
				vsz = ((vsz + 7) & ~(size_t)7) * ncpu;
			if (!(zero = calloc(1, vsz)))
				return -ENOMEM;
			for (uint32_t i = 0; i < bpf_map__max_entries(m); i++)
				if (bpf_map_update_elem(fd, &i, zero, BPF_ANY)) {
					free(zero);
					return -errno;
				}
			free(zero);
			continue;
		}
		default:
			if ((err = map_clear(fd, bpf_map__key_size(m))))
				return err;
		}
	}
	return 0;
}

/*
 * What a group starts from, without the 2 s of loading the programs again:
 * the events read and dropped, every map as env_setup left it. Nothing in
 * the tests changes the netns, so this is env_setup's state.
 */
int env_reset(void)
{
	struct bpf_object *objs[] = {
		env.from->obj, env.to->obj, env.from_ov->obj, env.ovin->obj, env.ovout->obj,
		env.xdp->obj, env.from_lb->obj, env.to_lb->obj, env.ovin_lb->obj, env.ovin_dsr->obj,
		env.xdp_np ? env.xdp_np->obj : NULL,
	};
	int err;

	if (ring_buffer__consume(env.rb) < 0)
		return -EIO;
	env.nev = 0;
	for (size_t i = 0; i < ARRAY_SIZE(objs); i++)
		if ((err = obj_reset(objs[i])))
			return err;
	return add_endpoints();
}

/* The groups of this run, in order, and the setup their first test had. */
static struct started {
	const struct group *g;
	CMFixtureFunction setup;
} *starts;
static size_t nstarts, next_start;

/*
 * The first test of every group runs this first: the maps as loading left
 * them (env_reset), then the group's prep. A group that
 * cannot get them cannot run: the run stops here.
 */
static int group_start(void **state)
{
	struct started *s = &starts[next_start++];
	int err;

	err = env.from ? env_reset() : env_setup(NULL);
	if (err || (s->g->prep && (err = s->g->prep()))) {
		fprintf(stderr, "group %s: setting up: %s\n", s->g->name, strerror(-err));
		env_teardown(NULL);
		exit(1);
	}
	return s->setup ? s->setup(state) : 0;
}

int run_groups(const struct group *const *groups, size_t ngroups, int argc, char **argv)
{
	const struct group *run[ngroups];
	struct CMUnitTest *made[ngroups], *all;
	size_t nmade[ngroups], nrun = 0, n = 0;
	int err = 1;

	if (argc > 1 && !strcmp(argv[1], "--list")) {
		for (size_t g = 0; g < ngroups; g++)
			printf("%s\n", groups[g]->name);
		return 0;
	}
	for (size_t g = 0; g < ngroups; g++) {
		bool want = argc < 2;

		for (int a = 1; a < argc; a++)
			want |= !strcmp(argv[a], groups[g]->name);
		if (want)
			run[nrun++] = groups[g];
	}
	for (int a = 1; a < argc; a++) {
		size_t g = 0;

		while (g < ngroups && strcmp(argv[a], groups[g]->name))
			g++;
		if (g == ngroups) {
			fprintf(stderr, "test_bpf: no group %s (test_bpf --list names them)\n", argv[a]);
			return 2;
		}
	}
	memset(made, 0, sizeof(made));
	memset(nmade, 0, sizeof(nmade));
	for (size_t g = 0; g < nrun; g++) {
		if (run[g]->make && (err = run[g]->make(&made[g], &nmade[g]))) {
			fprintf(stderr, "group %s: %s\n", run[g]->name, strerror(-err));
			err = 1;
			goto out;
		}
		n += run[g]->nrows + run[g]->ntests + nmade[g];
	}
	all = calloc(n ? n : 1, sizeof(*all));
	starts = calloc(nrun ? nrun : 1, sizeof(*starts));
	if (!all || !starts) {
		free(all);
		err = 1;
		goto out;
	}
	n = 0;
	for (size_t g = 0; g < nrun; g++) {
		size_t first = n;

		for (size_t i = 0; i < run[g]->nrows; i++)
			all[n++] = (struct CMUnitTest){ .name = run[g]->rows[i].name,
							.test_func = check_row,
							.initial_state = (void *)&run[g]->rows[i] };
		memcpy(all + n, run[g]->tests, run[g]->ntests * sizeof(*all));
		n += run[g]->ntests;
		memcpy(all + n, made[g], nmade[g] * sizeof(*all));
		n += nmade[g];
		if (n == first)
			continue;
		starts[nstarts++] = (struct started){ .g = run[g], .setup = all[first].setup_func };
		all[first].setup_func = group_start;
	}
	err = _cmocka_run_group_tests("bpf", all, n, NULL, env_teardown);
	free(all);
	free(starts);
out:
	for (size_t g = 0; g < nrun; g++)
		if (run[g]->free)
			run[g]->free();
	return err;
}

size_t row_want(const struct row *r, uint8_t in[FRAME_MAX], uint8_t want[FRAME_MAX])
{
	return expected(r, in, build(r, in), want);
}
