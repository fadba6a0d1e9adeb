// SPDX-License-Identifier: Apache-2.0
/*
 * NetworkPolicy, both families: A isolated for ingress, B for egress,
 * versions flipped, revisions re-judging open flows, Services through the
 * stack, a pod not judged yet or whose policy did not fit; then IPv6 (the
 * pods' IPv6 addresses parse.c's v6_setup gives): one rule keyed by a
 * dual-stack pod's IPv4 judging both families, an IPv6-only pod's policy key
 * (polkey6), ICMPv6 errors as related, ipBlocks of both families side by
 * side, an IPv6 ClusterIP through the stack. The rows run in order.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/pkt_cls.h>

#include "harness.h"

#define ID_X 1003
#define A6 "fd00:99::a"
#define B6 "fd00:99::b"
#define C6 "fd00:99::c"
#define X6 "fd00:99::d"
#define GW6 "fe80::1"
#define WORLD6 "2001:db8::53"
#define KEY_X "0.0.0.7"
#define SVC6 "fd00:10:96::a" /* in from_pod's IPv6 Service range fd00:10:96::/108 */

static void in6(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

/* One policy entry: ep's rule (dir) for peer, proto and a port prefix of k
 * bits, where the map writer would put it (ranges in polrange). */
int allow(const char *ep, uint8_t version, uint8_t dir, uint32_t peer, uint8_t proto,
		 uint16_t port, int port_bits, uint32_t policy_id, uint16_t rule)
{
	struct xcni_polhash_key hk = { .ep = ip4(ep), .peer = peer, .version = version, .dir = dir,
				       .proto = proto, .port = port_bits ? htons(port) : 0 };
	struct xcni_policy_key k = { .ep = ip4(ep), .peer = peer, .version = version, .dir = dir,
				     .proto = proto, .port = htons(port) };
	struct xcni_policy_val v = { .policy_id = policy_id, .rule = rule };

	k.prefixlen = proto ? XCNI_POLICY_PREFIX_ANY_PORT + port_bits : XCNI_POLICY_PREFIX_ANY_PROTO;
	if (port_bits && port_bits < 16)
		return bpf_map_update_elem(map_fd("xcni_polrange"), &k, &v, BPF_NOEXIST) ? -errno : 0;
	return bpf_map_update_elem(map_fd("xcni_policy"), &hk, &v, BPF_NOEXIST) ? -errno : 0;
}

static int cidr_group(const char *ep, uint8_t version, uint8_t dir, const char *addr, int len,
		      uint32_t group)
{
	struct xcni_polcidr_key k = { .prefixlen = XCNI_POLCIDR_PREFIX_BASE + len, .ep = ip4(ep),
				      .version = version, .dir = dir, .addr = ip4(addr) };

	return bpf_map_update_elem(map_fd("xcni_polcidr"), &k, &group, BPF_NOEXIST) ? -errno : 0;
}

/* The pod's policy state; the policy changed: a new revision. */
int set_polep(const char *ep, uint32_t identity, uint8_t version, uint8_t isolated,
		     uint8_t has)
{
	struct xcni_polep v = { .identity = identity, .version = version, .isolated = isolated };

	v.has[isolated & XCNI_ISOLATED(TO_POD) ? TO_POD : FROM_POD] = has;
	uint32_t ip = ip4(ep);

	if (bpf_map_update_elem(map_fd("xcni_polep"), &ip, &v, BPF_ANY))
		return -errno;
	return polrev_bump();
}

int ipcache(const char *addr, int len, uint32_t identity)
{
	struct xcni_ipcache_key k = { .prefixlen = len, .addr = ip4(addr) };
	struct xcni_ipcache_val v = { .identity = identity };

	return bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &v, BPF_ANY) ? -errno : 0;
}

int policy_ingress_a(void)
{
	const uint8_t in = TO_POD;
	int err = 0;

	err = err ?: ipcache("0.0.0.0", 0, XCNI_ID_WORLD);
	err = err ?: ipcache(IP_GW, 32, XCNI_ID_HOST);
	err = err ?: ipcache(IP_A, 32, ID_A);
	err = err ?: ipcache(IP_B, 32, ID_B);
	err = err ?: ipcache(IP_C, 32, ID_C);
	err = err ?: allow(IP_A, 0, in, ID_B, IPPROTO_TCP, 80, 16, 7, 0);
	err = err ?: allow(IP_A, 0, in, XCNI_ID_ANY, IPPROTO_UDP, 0, 0, 7, 1);
	err = err ?: allow(IP_A, 0, in, ID_C, IPPROTO_TCP, 8000, 14, 8, 0); /* 8000-8003 */
	err = err ?: allow(IP_A, 0, in, ID_B, IPPROTO_SCTP, 5000, 16, 8, 1);
	err = err ?: cidr_group(IP_A, 0, in, "10.99.5.0", 24, XCNI_ID_CIDR_BASE + 1);
	err = err ?: cidr_group(IP_A, 0, in, IP_C, 32, XCNI_ID_CIDR_BASE + 2); /* the except */
	err = err ?: allow(IP_A, 0, in, XCNI_ID_CIDR_BASE + 1, IPPROTO_TCP, 9000, 16, 9, 2);
	return err ?: set_polep(IP_A, ID_A, 0, XCNI_ISOLATED(TO_POD),
				XCNI_HAS_CIDR | XCNI_HAS_RANGE | XCNI_HAS_ANY_PORT);
}

int policy_egress_b(void)
{
	int err = allow(IP_B, 0, FROM_POD, ID_A, IPPROTO_TCP, 80, 16, 10, 0);

	return err ?: set_polep(IP_B, ID_B, 0, XCNI_ISOLATED(FROM_POD), 0);
}

int policy_a_v1(void)
{
	int err = allow(IP_A, 1, TO_POD, ID_C, IPPROTO_TCP, 80, 16, 11, 0);

	return err ?: set_polep(IP_A, ID_A, 1, XCNI_ISOLATED(TO_POD), 0);
}

int policy_a_off(void)
{
	uint32_t ip = ip4(IP_A);

	if (bpf_map_delete_elem(map_fd("xcni_polep"), &ip))
		return -errno;
	return polrev_bump();
}

static int ct_stale_established(void)
{
	struct row r = { .dev = DEV_B, TCP(IP_B, 41019, IP_C, 8080, TH_ACK) };

	return ct_put_established(&r);
}

/* The C->A UDP 53 flow's entry evicted (LRU) between two fragments. */
static int ct_forget_c_a53(void)
{
	struct row r = { .dev = DEV_C, UDP(IP_C, 41001, IP_A, 53) };
	struct xcni_ct_key k = tuple_of(&r, false);

	return bpf_map_delete_elem(bpf_map__fd(env.from->maps.xcni_ct), &k) ? -errno : 0;
}

int policy_a_from_r(void)
{
	int err = allow(IP_A, 0, TO_POD, ID_R, IPPROTO_TCP, 80, 16, 12, 0);

	return err ?: set_polep(IP_A, ID_A, 0, XCNI_ISOLATED(TO_POD), 0);
}

static int policy_b_nothing(void)
{
	return set_polep(IP_B, ID_B, 1, XCNI_ISOLATED(FROM_POD), 0);
}

/* Back to a version whose entries are still in the maps. */
int policy_b_back(void)
{
	return set_polep(IP_B, ID_B, 0, XCNI_ISOLATED(FROM_POD), 0);
}

int policy_a_v1_again(void)
{
	return set_polep(IP_A, ID_A, 1, XCNI_ISOLATED(TO_POD), 0);
}

int policy_a_egress_nothing(void)
{
	return set_polep(IP_A, ID_A, 0, XCNI_ISOLATED(FROM_POD), 0);
}

static int set_cfg_flags(uint32_t flags)
{
	struct xcni_config cfg;
	int err = cfg_get(&cfg);

	if (err)
		return err;
	cfg.flags = flags;
	return cfg_put(&cfg);
}

/* xcnid following cluster state; A is a pod it has not seen yet. */
static int policy_pending_on(void)
{
	uint32_t ip = ip4(IP_A);

	if (bpf_map_delete_elem(map_fd("xcni_polep"), &ip) && errno != ENOENT)
		return -errno;
	return set_cfg_flags(XCNI_CFG_F_POLICY) ?: polrev_bump();
}

/* A's policy did not fit: xcnid closed it, no entries. */
static int policy_a_overflow(void)
{
	return set_polep(IP_A, ID_A, 0, XCNI_ISOLATED(TO_POD) | XCNI_POLEP_OVERFLOW, 0);
}

/*
 * Another live pod claims A's address (issue 41 item 1): xcnid closes it,
 * no entries, the CONTESTED bit beside OVERFLOW so its drops say why.
 */
static int policy_a_contested(void)
{
	return set_polep(IP_A, ID_A, 0,
			 XCNI_ISOLATED(TO_POD) | XCNI_POLEP_OVERFLOW | XCNI_POLEP_CONTESTED, 0);
}

static int policy_pending_off(void)
{
	uint32_t ip = ip4(IP_A);

	if (bpf_map_delete_elem(map_fd("xcni_polep"), &ip) && errno != ENOENT)
		return -errno;
	return set_cfg_flags(0) ?: polrev_bump();
}

static int polrev_only(void)
{
	return polrev_bump();
}

/*
 * The policy cost of a new flow: B opens TCP flows to A, whose ingress policy
 * holds `rules` entries (random peers and ports), the one that allows B's flow
 * reached last (the any-peer lookup, after the identity and CIDR misses).
 * Each run is a new flow (its ct entry is removed in between), so every run
 * pays the lookups and the ct insert.
 */
int bench_policy(void)
{
	static const int sizes[] = { 10, 1000, 10000, 100000 };
	struct row r = { .dev = DEV_B, TCP(IP_B, 45000, IP_A, 8080, TH_SYN) };
	struct xcni_ct_key ck = tuple_of(&r, false);
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	size_t len = build(&r, in);
	int pfd = map_fd("xcni_policy"), cfd = bpf_map__fd(env.from->maps.xcni_ct);
	double first = 0;
	int err, runs = 20000;

	if ((err = policy_ingress_a()))
		return err;
	srandom(42);
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		struct bpf_test_run_opts o = {};
		uint64_t ns = 0;
		double per;

		if ((err = map_clear(pfd, sizeof(struct xcni_polhash_key))))
			return err;
		for (int i = 0; i < sizes[s] - 1; i++) {
			uint32_t peer = XCNI_ID_MIN_LABELS + 10 + (uint32_t)(random() % 50000);
			uint16_t port = (uint16_t)(1 + random() % 8000);

			/* Both directions and several pods, as a node would hold them. */
			err = allow(i % 4 ? IP_C : IP_A, 0, i % 2 ? FROM_POD : TO_POD, peer,
				    IPPROTO_TCP, port, 16, 100 + i % 1000, 0);
			if (err && err != -EEXIST)
				return err;
		}
		if ((err = allow(IP_A, 0, TO_POD, XCNI_ID_ANY, IPPROTO_TCP, 8080, 16, 7, 3)))
			return err;
		/* Warm up (caches, the allocator), then measure. */
		for (int i = -runs / 4; i < runs; i++) {
			bpf_map_delete_elem(cfd, &ck);
			if ((err = run(FROM_POD, DEV_B, in, len, out, sizeof(out), 1, &o)))
				return err;
			if (o.retval != TC_ACT_REDIRECT)
				return -EPROTO;
			if (i >= 0)
				ns += o.duration;
		}
		per = (double)ns / runs;
		if (!s)
			first = per;
		printf("policy, new flow, %6d rules: %.1f ns/packet (%.2fx the %d-rule cost)\n",
		       sizes[s], per, per / first, sizes[0]);
	}
	return 0;
}

/*
 * What the policy rows leave: the identities, A's entries in both versions
 * but A not isolated, B isolated for egress (10/0, version 0). The groups
 * that judge policy on top of it start from here.
 */
int policy4_state(void)
{
	return policy_ingress_a() ?: policy_egress_b() ?: policy_a_v1() ?: policy_a_off();
}

/* An allow entry (exact port) of ep's policy version 0 in dir. */
static void allow6(uint32_t ep, uint8_t dir, uint32_t peer, uint8_t proto, uint16_t port,
		   uint32_t policy_id)
{
	struct xcni_polhash_key k = { .ep = ep, .peer = peer, .dir = dir, .proto = proto,
				      .port = htons(port) };
	struct xcni_policy_val v = { .policy_id = policy_id };

	assert_int_equal(bpf_map_update_elem(map_fd("xcni_policy"), &k, &v, BPF_ANY), 0);
}

static void isolate(uint32_t ep, uint32_t id, uint8_t isolated)
{
	struct xcni_polep v = { .identity = id, .isolated = isolated };

	assert_int_equal(bpf_map_update_elem(map_fd("xcni_polep"), &ep, &v, BPF_ANY), 0);
	assert_int_equal(polrev_bump(), 0);
}

static void open_up(uint32_t ep)
{
	bpf_map_delete_elem(map_fd("xcni_polep"), &ep);
	assert_int_equal(polrev_bump(), 0);
}

/* The steps of policy_rows' IPv6 rows ("IPv6: A: ingress from B on TCP 80" on). */
static int a_contested6(void)
{
	isolate(ip4(IP_A), ID_A, XCNI_ISOLATED(TO_POD) | XCNI_POLEP_OVERFLOW | XCNI_POLEP_CONTESTED);
	return 0;
}

static int a_ingress_b80(void)
{
	/* A isolated for ingress, version 0: B on TCP 80 (policy 77). The one
	 * rule, keyed by A's IPv4, judges both families. */
	allow6(ip4(IP_A), TO_POD, ID_B, IPPROTO_TCP, 80, 77);
	isolate(ip4(IP_A), ID_A, XCNI_ISOLATED(TO_POD));
	return 0;
}

static int a_open(void)
{
	open_up(ip4(IP_A));
	return 0;
}

static int x_ingress_a80(void)
{
	/* X, IPv6-only: its key from polkey6; A on TCP 80 only (policy 78). */
	allow6(ip4(KEY_X), TO_POD, ID_A, IPPROTO_TCP, 80, 78);
	isolate(ip4(KEY_X), ID_X, XCNI_ISOLATED(TO_POD));
	return 0;
}

static int x_both_isolated(void)
{
	isolate(ip4(KEY_X), ID_X, XCNI_ISOLATED(TO_POD) | XCNI_ISOLATED(FROM_POD));
	return 0;
}

/*
 * An ICMPv6 error's tail (struct row: after type, code and checksum): MTU
 * 1280 (the Packet Too Big's; unused in the others), then its quote: A's
 * UDP from port sp to B's port dp, IPv6 header and UDP header.
 */
#define FD99(x) 0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x
#define ICMP6_QUOTE_AB(sp, dp)                                                                     \
	(const uint8_t[]){ 0, 0, 0x05, 0, 0x60, 0, 0, 0, 0, 8, IPPROTO_UDP, 64, FD99(0xa),         \
			   FD99(0xb), (sp) >> 8, (sp) & 0xff, (dp) >> 8, (dp) & 0xff, 0, 0, 0, 0 }
#define ICMP6_ERR(s, d, t, sp, dp)                                                                 \
	ICMPV6(s, d, t, 0), .tail = ICMP6_QUOTE_AB(sp, dp), .tail_len = 4 + 40 + 8

/* An ipBlock prefix of ep's ingress (version 0): IPv6 (v6) or IPv4. */
static void cidr6(uint32_t ep, const char *addr, int len, uint32_t group, bool del)
{
	struct xcni_polcidr_key k = { .prefixlen = XCNI_POLCIDR_PREFIX_BASE + len, .ep = ep,
				      .dir = TO_POD };
	int fd = map_fd("xcni_polcidr");

	if (strchr(addr, ':')) {
		k.v6 = 1;
		in6(addr, k.addr6);
	} else {
		k.addr = ip4(addr);
	}
	if (del)
		assert_int_equal(bpf_map_delete_elem(fd, &k), 0);
	else
		assert_int_equal(bpf_map_update_elem(fd, &k, &group, BPF_NOEXIST), 0);
}

/*
 * ipBlock on the IPv6 path. A isolated for ingress, its prefixes:
 *   fd00:77::/32    G0 TCP 80 (policy 80)    fd00:77:1::/48 G1 (its except: nothing)
 *   ::/0            G2 TCP 8080 (policy 83)  0.0.0.0/0      G3 TCP 443 (policy 82)
 * An address of one family never falls in a prefix of the other, not even
 * the /0s: the trie keys carry the family.
 */
static const struct {
	const char *a;
	int len;
} ipblock_pfx[] = {
	{ "fd00:77::", 32 }, { "fd00:77:1::", 48 }, { "::", 0 }, { "0.0.0.0", 0 },
};

static int a_ipblocks(void)
{
	uint32_t ka = ip4(IP_A), g = XCNI_ID_CIDR_BASE;
	struct xcni_polep pe = { .identity = ID_A, .isolated = XCNI_ISOLATED(TO_POD) };

	for (size_t i = 0; i < ARRAY_SIZE(ipblock_pfx); i++)
		cidr6(ka, ipblock_pfx[i].a, ipblock_pfx[i].len, g + i, false);
	allow6(ka, TO_POD, g, IPPROTO_TCP, 80, 80);
	allow6(ka, TO_POD, g + 2, IPPROTO_TCP, 8080, 83);
	allow6(ka, TO_POD, g + 3, IPPROTO_TCP, 443, 82);
	pe.has[TO_POD & 1] = XCNI_HAS_CIDR;
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_polep"), &ka, &pe, BPF_ANY), 0);
	return polrev_bump();
}

static int a_ipblocks_gone(void)
{
	open_up(ip4(IP_A));
	for (size_t i = 0; i < ARRAY_SIZE(ipblock_pfx); i++)
		cidr6(ip4(IP_A), ipblock_pfx[i].a, ipblock_pfx[i].len, 0, true);
	return 0;
}


/* The conntrack flags of a flow, or -1 when there is none. */
static int ct6_flags(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	struct xcni_ct6_key k = { .sport = htons(sp), .dport = htons(dp), .proto = proto };
	struct xcni_ct_entry e;

	in6(s, k.saddr);
	in6(d, k.daddr);
	if (bpf_map_lookup_elem(map_fd("xcni_ct6"), &k, &e))
		return -1;
	return e.flags;
}

/* The IPv6 ClusterIP rows' steps ("IPv6: X egress isolated" on): X isolated for egress (a new
 * revision each time), B allowed, X open. */
static int x_egress_isolated(void)
{
	isolate(ip4(KEY_X), ID_X, XCNI_ISOLATED(FROM_POD));
	return 0;
}

static int x_egress_b80(void)
{
	allow6(ip4(KEY_X), FROM_POD, ID_B, IPPROTO_TCP, 80, 79);
	return 0;
}

static int x_open(void)
{
	open_up(ip4(KEY_X));
	return 0;
}

/* The X->ClusterIP flow's entry: the stack's and nothing else. */
static int x_svc_stack_only(void)
{
	return ct6_flags(X6, 42100, SVC6, 80, IPPROTO_TCP) == XCNI_CT_F_STACK ? 0 : -EPROTO;
}

/*
 * The verdicts both families share, written once (fam: the family, the
 * flow: its addresses): a peer a rule admits (policy id, rule 0), one none
 * admits, the world through the stack refused, the node always admitted.
 */
#define ALLOWED_ROW(fam, what, id, flow...)                                                        \
	{ fam what, .dev = DEV_B, flow, REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, BY(id, 0, TO_POD) }
#define REFUSED_ROW(fam, what, dev_, flow...)                                                      \
	{ fam what, .dev = dev_, flow, POLICY_DROP(DROP_POLICY_INGRESS) }
#define WORLD_REFUSED_ROW(fam, flow...)                                                            \
	{ fam "world->A TCP 80 via to_pod: refused", .prog = TO_POD, .dev = DEV_A, flow,           \
	  POLICY_DROP(DROP_POLICY_INGRESS) }
#define NODE_ADMITTED_ROW(fam, flow...)                                                            \
	{ fam "host->A via to_pod: the node may always reach its pods", .prog = TO_POD,            \
	  .dev = DEV_A, flow, OK(FWD_LOCAL), .ct = XCNI_CT_NEW, .ct_stack = true }

static const struct row policy_rows[] = {
	/* NetworkPolicy. A isolated for ingress: B on TCP 80 (policy 7 rule 0),
	 * anyone on UDP (7/1), C on TCP 8000-8003 (8/0), ipBlock 10.99.5.0/24
	 * except 10.99.5.12/32 on TCP 9000 (9/2), B on SCTP 5000 (8/1). */
	{ "policy: A isolated for ingress", .step = policy_ingress_a },
	ALLOWED_ROW("", "B->A TCP 80: allowed by 7/0, tracked", 7, TCP(IP_B, 41000, IP_A, 80, TH_SYN)),
	{ "A->B SYN-ACK: reply passes, no decision", .dev = DEV_A,
	  TCP(IP_A, 80, IP_B, 41000, TH_SYN | TH_ACK), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED,
	  .ct_rev = true },
	{ "B->A data: established, no decision", .dev = DEV_B, TCP(IP_B, 41000, IP_A, 80, TH_ACK),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED },
	REFUSED_ROW("", "C->A TCP 80: nothing allows C", DEV_C, TCP(IP_C, 41001, IP_A, 80, TH_SYN)),
	{ "C->A TCP 80 in fragments: the first is judged and refused", .dev = DEV_C,
	  .frag = 0x2000, .ipid = 0x0f04, TCP(IP_C, 41001, IP_A, 80, TH_SYN),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "C->A TCP 80 in fragments: a later one finds no ports (the refused first left none)",
	  .dev = DEV_C, .frag = 185, .ipid = 0x0f04, TCP(IP_C, 41001, IP_A, 80, TH_SYN),
	  SHOT(DROP_FRAGMENT, EV_ADDRS), .no_ct = true },
	{ "C->A UDP 53 in fragments: allowed by 7/1, the later one follows", .dev = DEV_C,
	  .frag = 0x2000, .ipid = 0x0f05, UDP(IP_C, 41001, IP_A, 53), REDIR(FWD_LOCAL),
	  .ct = XCNI_CT_NEW, BY(7, 1, TO_POD) },
	{ "... its later fragment: no decision, the flow's", .dev = DEV_C, .frag = 185,
	  .ipid = 0x0f05, UDP(IP_C, 41001, IP_A, 53), REDIR(FWD_LOCAL) },
	{ "the flow's entry evicted", .step = ct_forget_c_a53 },
	{ "... a later fragment then opens nothing, though policy would allow it", .dev = DEV_C,
	  .frag = 370, .ipid = 0x0f05, UDP(IP_C, 41001, IP_A, 53), SHOT(DROP_FRAGMENT, EV_FULL),
	  .no_ct = true },
	{ "C->A TCP 8000: range start", .dev = DEV_C, TCP(IP_C, 41002, IP_A, 8000, TH_SYN),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, BY(8, 0, TO_POD) },
	{ "C->A TCP 8003: range end", .dev = DEV_C, TCP(IP_C, 41003, IP_A, 8003, TH_SYN),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, BY(8, 0, TO_POD) },
	{ "C->A TCP 8004: past the range", .dev = DEV_C, TCP(IP_C, 41004, IP_A, 8004, TH_SYN),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "C->A TCP 7999: before the range", .dev = DEV_C, TCP(IP_C, 41005, IP_A, 7999, TH_SYN),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "C->A UDP 53: any peer, any UDP port", .dev = DEV_C, UDP(IP_C, 41006, IP_A, 53),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, BY(7, 1, TO_POD) },
	{ "B->A TCP 9000: inside the ipBlock", .dev = DEV_B, TCP(IP_B, 41007, IP_A, 9000, TH_SYN),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, BY(9, 2, TO_POD) },
	{ "C->A TCP 9000: in the ipBlock's except", .dev = DEV_C,
	  TCP(IP_C, 41008, IP_A, 9000, TH_SYN), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "B->A SCTP 5000: allowed by 8/1", .dev = DEV_B,
	  .src = IP_B, .sport = 41009, .dst = IP_A, .dport = 5000, .proto = IPPROTO_SCTP,
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, BY(8, 1, TO_POD) },
	{ "B->A SCTP 5001: SCTP rule is for 5000 only", .dev = DEV_B,
	  .src = IP_B, .sport = 41010, .dst = IP_A, .dport = 5001, .proto = IPPROTO_SCTP,
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "B->A TCP 5000: SCTP rule does not open TCP", .dev = DEV_B,
	  TCP(IP_B, 41011, IP_A, 5000, TH_SYN), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "B->A echo: no rule covers ICMP", .dev = DEV_B, ICMP(IP_B, IP_A, ICMP_ECHO, 41),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "A->B echo: A's egress is not isolated", .dev = DEV_A, ICMP(IP_A, IP_B, ICMP_ECHO, 42),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	NODE_ADMITTED_ROW("", TCP(IP_GW, 41012, IP_A, 22, TH_SYN)),
	WORLD_REFUSED_ROW("", TCP("192.0.2.7", 41013, IP_A, 80, TH_SYN)),
	{ "world->A UDP via to_pod: any peer on UDP", .prog = TO_POD, .dev = DEV_A,
	  UDP("192.0.2.7", 41014, IP_A, 53), OK(FWD_LOCAL), .ct = XCNI_CT_NEW, BY(7, 1, TO_POD),
	  .ct_stack = true },

	/* B isolated for egress as well: only to A on TCP 80 (policy 10 rule 0). */
	{ "policy: B isolated for egress", .step = policy_egress_b },
	{ "B->C UDP 53: B's egress allows nothing to C", .dev = DEV_B, UDP(IP_B, 41015, IP_C, 53),
	  POLICY_DROP(DROP_POLICY_EGRESS) },
	{ "B->outside: B's egress allows nothing to the world", .dev = DEV_B,
	  UDP(IP_B, 41016, "8.8.8.8", 53), POLICY_DROP(DROP_POLICY_EGRESS) },
	{ "B->A TCP 80: egress 10/0 and ingress 7/0 both allow", .dev = DEV_B,
	  TCP(IP_B, 41017, IP_A, 80, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, BY(7, 0, TO_POD) },
	{ "B->A UDP 53: ingress would, egress does not", .dev = DEV_B, UDP(IP_B, 41018, IP_A, 53),
	  POLICY_DROP(DROP_POLICY_EGRESS) },
	/* A SYN only asks: one on the reverse tuple of a flow opened to B is
	 * B's own new connection, judged (not a reply of that flow). */
	{ "C->B TCP 7100: B's ingress is not isolated", .dev = DEV_C,
	  TCP(IP_C, 41060, IP_B, 7100, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "B->C SYN on that flow's reverse tuple: B's own connection, B's egress refuses it",
	  .dev = DEV_B, TCP(IP_B, 7100, IP_C, 41060, TH_SYN), SHOT(DROP_POLICY_EGRESS, EV_FULL) },
	{ "ct: B->C TCP 8080 established before B's policy, its end never seen",
	  .step = ct_stale_established },
	{ "B->C SYN on that tuple: a new connection, judged by B's policy now", .dev = DEV_B,
	  TCP(IP_B, 41019, IP_C, 8080, TH_SYN), SHOT(DROP_POLICY_EGRESS, EV_FULL) },
	{ "B->C data of the old connection: judged again under B's policy, refused, forgotten",
	  .dev = DEV_B, TCP(IP_B, 41019, IP_C, 8080, TH_ACK), POLICY_DROP(DROP_POLICY_EGRESS) },
	/* Policy changes reach flows already open: a packet in a flow's opening
	 * direction that finds it judged under an older policy revision is
	 * judged again. Also the reused port: a client picking the port of an
	 * attempt whose SYN went unanswered (its entry still NEW) gets no pass
	 * from the old verdict once policy changed. */
	{ "B->A TCP 80 from 41040: allowed by 10/0 and 7/0, left unanswered", .dev = DEV_B,
	  TCP(IP_B, 41040, IP_A, 80, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, BY(7, 0, TO_POD) },
	{ "B->A SYN from 41040 again, policy unchanged: a retransmission, no new decision",
	  .dev = DEV_B, TCP(IP_B, 41040, IP_A, 80, TH_SYN), REDIR(FWD_LOCAL) },
	{ "policy: B's egress allows nothing now (its other version)", .step = policy_b_nothing },
	{ "B->A SYN from 41040 (the port picked anew): judged now, refused, forgotten",
	  .dev = DEV_B, TCP(IP_B, 41040, IP_A, 80, TH_SYN), POLICY_DROP(DROP_POLICY_EGRESS) },
	{ "B->A ACK of the flow opened from 41017: judged again, refused, forgotten", .dev = DEV_B,
	  TCP(IP_B, 41017, IP_A, 80, TH_ACK), POLICY_DROP(DROP_POLICY_EGRESS) },
	{ "A->B SYN-ACK for 41017: its flow is gone, invalid", .dev = DEV_A,
	  TCP(IP_A, 80, IP_B, 41017, TH_SYN | TH_ACK), SHOT(DROP_CT_INVALID, EV_FULL) },
	{ "policy: B's egress back to A on TCP 80 (10/0)", .step = policy_b_back },
	{ "B->A data of the flow from 41000: judged again, still allowed (7/0), kept", .dev = DEV_B,
	  TCP(IP_B, 41000, IP_A, 80, TH_ACK), REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED,
	  BY(7, 0, TO_POD) },
	{ "B->A data from 41000 again: judged under this revision already", .dev = DEV_B,
	  TCP(IP_B, 41000, IP_A, 80, TH_ACK), REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED },
	/* Services: B's flow to a ClusterIP goes to kube-proxy's DNAT in the stack; B's
	 * egress is judged where the stack hands it back, on the pod it picked. */
	{ "B->ClusterIP UDP 53: no pod named yet, to the stack", .dev = DEV_B,
	  UDP(IP_B, 41030, SVC_IP, 53), OK(FWD_STACK), .ct = XCNI_CT_NEW, .ct_stack = true },
	{ "policy: a change elsewhere (a new revision)", .step = polrev_only },
	{ "B->ClusterIP UDP 53 again: still the stack's, nothing to judge here", .dev = DEV_B,
	  UDP(IP_B, 41030, SVC_IP, 53), OK(FWD_STACK), .ct_stack = true },
	{ "B->C after DNAT, via to_pod: B's egress allows nothing to C", .prog = TO_POD,
	  .dev = DEV_C, UDP(IP_B, 41030, IP_C, 53), POLICY_DROP(DROP_POLICY_EGRESS), VIA_STACK },
	{ "B->A TCP 80 after DNAT, via to_pod: egress 10/0, ingress 7/0", .prog = TO_POD,
	  .dev = DEV_A, TCP(IP_B, 41031, IP_A, 80, TH_SYN), OK(FWD_LOCAL), .ct = XCNI_CT_NEW,
	  .ct_stack = true, EP_OF(DEV_B), BY(7, 0, TO_POD), VIA_STACK },
	{ "A->B SYN-ACK of that flow: back through the stack (un-DNAT), not past it",
	  .dev = DEV_A, TCP(IP_A, 80, IP_B, 41031, TH_SYN | TH_ACK), OK(FWD_REPLY),
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true, .ct_stack = true },
	{ "policy: B's egress allows nothing (its other version)", .step = policy_b_nothing },
	{ "B->A ACK after DNAT, via to_pod: judged again on the real pod, refused, forgotten",
	  .prog = TO_POD, .dev = DEV_A, TCP(IP_B, 41031, IP_A, 80, TH_ACK),
	  POLICY_DROP(DROP_POLICY_EGRESS), VIA_STACK },
	{ "policy: B's egress back to A on TCP 80 (10/0), again", .step = policy_b_back },
	{ "ClusterIP->B: the stack's un-DNATed reply, into B", .prog = TO_POD, .dev = DEV_B,
	  UDP(SVC_IP, 53, IP_B, 41030), OK(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED, .ct_rev = true,
	  .ct_stack = true },
	{ "B->gateway echo: the node is always reachable", .dev = DEV_B,
	  ICMP(IP_B, IP_GW, ICMP_ECHO, 43), OK(FWD_STACK), .ct = XCNI_CT_NEW },
	{ "A->B data of the flow B opened earlier: reply passes", .dev = DEV_A,
	  TCP(IP_A, 80, IP_B, 41000, TH_ACK), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED,
	  .ct_rev = true },

	/* A's policy replaced through the other version: now only C on TCP 80 (11/0). */
	{ "policy: A's new version, flipped in one update", .step = policy_a_v1 },
	{ "C->A TCP 80: allowed by the new version", .dev = DEV_C,
	  TCP(IP_C, 41019, IP_A, 80, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, BY(11, 0, TO_POD) },
	{ "C->A UDP 53: the old version's rule is gone", .dev = DEV_C, UDP(IP_C, 41020, IP_A, 53),
	  POLICY_DROP(DROP_POLICY_INGRESS) },

	/* No policy selects A any more. */
	{ "policy: A no longer isolated", .step = policy_a_off },
	{ "C->A TCP 7777: default allow, no decision", .dev = DEV_C,
	  TCP(IP_C, 41021, IP_A, 7777, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },

	/* Issue 26 item 4: a pod is never reachable before its policy is in place,
	 * nor when its policy did not fit the maps. */
	{ "policy: xcnid enforces policy here (config flag); A has no polep entry yet",
	  .step = policy_pending_on },
	{ "pending: A->C UDP, A not judged yet: dropped", .dev = DEV_A,
	  UDP(IP_A, 44100, IP_C, 53), POLICY_DROP(DROP_POLICY_PENDING) },
	{ "pending: B->A SYN 80 (B's egress allows it), A not judged yet: dropped", .dev = DEV_B,
	  TCP(IP_B, 44101, IP_A, 80, TH_SYN), POLICY_DROP(DROP_POLICY_PENDING) },
	{ "pending: R->A UDP from n2, A not judged yet: dropped", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, UDP(IP_R, 44102, IP_A, 53), POLICY_DROP(DROP_POLICY_PENDING) },
	{ "pending: host->A SYN via to_pod: the node reaches it (kubelet probes)", .prog = TO_POD,
	  .dev = DEV_A, TCP(IP_GW, 44103, IP_A, 8080, TH_SYN), OK(FWD_LOCAL), .ct = XCNI_CT_NEW,
	  .ct_stack = true },
	{ "policy: A's policy did not fit the maps (overflow)", .step = policy_a_overflow },
	{ "overflow: A->C UDP: dropped", .dev = DEV_A, UDP(IP_A, 44104, IP_C, 53),
	  POLICY_DROP(DROP_POLICY_OVERFLOW) },
	{ "overflow: B->A SYN 80 (B's egress allows it): dropped", .dev = DEV_B,
	  TCP(IP_B, 44105, IP_A, 80, TH_SYN), POLICY_DROP(DROP_POLICY_OVERFLOW) },
	{ "overflow: R->A UDP from n2: dropped", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  UDP(IP_R, 44106, IP_A, 53), POLICY_DROP(DROP_POLICY_OVERFLOW) },
	/* Issue 41 item 1: an address two live pods claim is closed both ways, named. */
	{ "policy: another live pod claims A's address (contested)", .step = policy_a_contested },
	{ "contested: A->C UDP: dropped as contested", .dev = DEV_A, UDP(IP_A, 44110, IP_C, 53),
	  POLICY_DROP(DROP_ADDR_CONTESTED) },
	{ "contested: B->A SYN 80 (B's egress allows it): dropped as contested", .dev = DEV_B,
	  TCP(IP_B, 44111, IP_A, 80, TH_SYN), POLICY_DROP(DROP_ADDR_CONTESTED) },
	{ "contested: R->A UDP from n2: dropped as contested", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, UDP(IP_R, 44112, IP_A, 53), POLICY_DROP(DROP_ADDR_CONTESTED) },
	{ "policy: no agent enforcing policy here, A has no polep entry", .step = policy_pending_off },
	{ "no agent: A->C UDP: open, as before", .dev = DEV_A, UDP(IP_A, 44107, IP_C, 53),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },

	/* IPv6: A, B and X open again (v6_setup's endpoints). */
	{ "IPv6: the pods' endpoints", .step = v6_endpoints },
	/* The contested address closes the pod in both families (one polep entry). */
	{ "IPv6: another live pod claims A's address (contested)", .step = a_contested6 },
	{ "IPv6: contested: A->B UDP: dropped as contested", .dev = DEV_A, UDP(A6, 44120, B6, 53),
	  POLICY_DROP(DROP_ADDR_CONTESTED) },
	{ "IPv6: contested: B->A SYN 80: dropped as contested", .dev = DEV_B,
	  TCP(B6, 44121, A6, 80, TH_SYN), POLICY_DROP(DROP_ADDR_CONTESTED) },
	{ "IPv6: A open", .step = a_open },
	{ "IPv6: A: ingress from B on TCP 80", .step = a_ingress_b80 },
	ALLOWED_ROW("IPv6: ", "B->A TCP 80: allowed by 77/0, tracked", 77,
		    TCP(B6, 41000, A6, 80, TH_SYN)),
	{ "IPv6: B->A 81: refused, nothing left", .dev = DEV_B, TCP(B6, 41000, A6, 81, TH_SYN),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	/* The same refusal over IPv4: the one rule judges both families. */
	{ "IPv4 beside it: B->A 81 refused", .dev = DEV_B, TCP(IP_B, 41000, IP_A, 81, TH_SYN), SHOT(DROP_POLICY_INGRESS, EV_FULL),
	  .no_ct = true },
	REFUSED_ROW("IPv6: ", "C->A TCP 80: nothing allows C", DEV_C, TCP(C6, 41000, A6, 80, TH_SYN)),
	/* The world through the stack: judged as world. */
	WORLD_REFUSED_ROW("IPv6: ", TCP(WORLD6, 41000, A6, 80, TH_SYN)),
	/* The node (link-local) always may. */
	NODE_ADMITTED_ROW("IPv6: ", TCP(GW6, 41001, A6, 80, TH_SYN)),
	/* ICMPv6 errors: about a live flow A -> B, one passes as related;
	 * about none, it is judged (and refused) like any packet. */
	{ "IPv6: UDP A->B 7", .dev = DEV_A, UDP(A6, 46101, B6, 7), REDIR(FWD_LOCAL) },
	{ "IPv6: B->A Packet Too Big about it: related", .dev = DEV_B,
	  ICMP6_ERR(B6, A6, 2, 46101, 7), REDIR(FWD_REPLY) },
	{ "IPv6: B->A unreachable about it: related", .dev = DEV_B, ICMP6_ERR(B6, A6, 1, 46101, 7),
	  REDIR(FWD_REPLY) },
	{ "IPv6: B->A Packet Too Big about no flow: refused", .dev = DEV_B,
	  ICMP6_ERR(B6, A6, 2, 46101, 8), SHOT(DROP_POLICY_INGRESS, EV_FULL) },
	/* C is on no path of that flow. */
	{ "IPv6: C->A Packet Too Big about A->B: refused", .dev = DEV_C,
	  ICMP6_ERR(C6, A6, 2, 46101, 7), SHOT(DROP_POLICY_INGRESS, EV_FULL) },
	{ "IPv6: A open", .step = a_open },
	{ "IPv6: X: ingress from A on TCP 80", .step = x_ingress_a80 },
	{ "IPv6: A->X 80: allowed by 78", .dev = DEV_A, TCP(A6, 42000, X6, 80, TH_SYN), REDIR(FWD_LOCAL),
	  BY(78, 0, TO_POD) },
	{ "IPv6: B->X 80: refused", .dev = DEV_B, TCP(B6, 42000, X6, 80, TH_SYN),
	  SHOT(DROP_POLICY_INGRESS, EV_FULL) },
	{ "IPv6: X->A SYN+ACK: the reply", .dev = DEV_X, TCP(X6, 80, A6, 42000, TH_SYN | TH_ACK),
	  REDIR(FWD_REPLY) },
	/* X isolated for egress too, nothing allowed: its SYN to B refused. */
	{ "IPv6: X isolated both ways", .step = x_both_isolated },
	{ "IPv6: X->B 80: egress refuses", .dev = DEV_X, TCP(X6, 42001, B6, 80, TH_SYN),
	  SHOT(DROP_POLICY_EGRESS, EV_FULL) },
	{ "IPv6: X open", .step = x_open },

	{ "IPv6: A: its ipBlocks", .step = a_ipblocks },
	{ "IPv6: fd00:77:5::1->A 80: fd00:77::/32, policy 80", .prog = TO_POD, .dev = DEV_A,
	  TCP("fd00:77:5::1", 43000, A6, 80, TH_SYN), OK(FWD_LOCAL), BY(80, 0, TO_POD),
	  .ct = XCNI_CT_NEW, .ct_stack = true },
	/* In the except: the /48 hides the /32. */
	{ "IPv6: fd00:77:1::5->A 80: in the except, refused", .prog = TO_POD, .dev = DEV_A,
	  TCP("fd00:77:1::5", 43001, A6, 80, TH_SYN), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "IPv6: fd00:78::1->A 80: in no prefix of 80", .prog = TO_POD, .dev = DEV_A,
	  TCP("fd00:78::1", 43002, A6, 80, TH_SYN), SHOT(DROP_POLICY_INGRESS, EV_FULL) },
	/* A pod peer (B, by identity no rule names) inside ::/0 on 8080. */
	{ "IPv6: B->A 8080: ::/0, policy 83", .dev = DEV_B, TCP(B6, 43003, A6, 8080, TH_SYN),
	  REDIR(FWD_LOCAL), BY(83, 0, TO_POD) },
	/* IPv4 0.0.0.0/0 on 443 leaves IPv6 alone. */
	{ "IPv6: world6->A 443: 0.0.0.0/0 is IPv4's", .prog = TO_POD, .dev = DEV_A,
	  TCP(WORLD6, 43004, A6, 443, TH_SYN), SHOT(DROP_POLICY_INGRESS, EV_FULL) },
	/* ...and IPv6 ::/0 on 8080 leaves IPv4 alone; IPv4 0/0 on 443 admits it. */
	{ "IPv6: v4 world->A 8080: ::/0 is IPv6's", .prog = TO_POD, .dev = DEV_A,
	  TCP("192.0.2.9", 43005, IP_A, 8080, TH_SYN), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "IPv6: v4 world->A 443: 0.0.0.0/0", .prog = TO_POD, .dev = DEV_A,
	  TCP("192.0.2.9", 43006, IP_A, 443, TH_SYN), OK(FWD_LOCAL), .ct = XCNI_CT_NEW,
	  .ct_stack = true, BY(82, 0, TO_POD) },
	{ "IPv6: A: ipBlocks gone", .step = a_ipblocks_gone },
	/* Kube-proxy (ip6tables) and an IPv6 ClusterIP: X, isolated for egress
	 * with nothing allowed, reaches a ClusterIP all the same; the flow goes to
	 * the stack untouched (its DNAT picks the backend) and egress is judged on
	 * the backend where the stack hands it to that pod's to_pod6. */
	{ "IPv6: X egress isolated", .step = x_egress_isolated },
	{ "IPv6: X->ClusterIP SYN: the stack's, tracked as such", .dev = DEV_X,
	  TCP(X6, 42100, SVC6, 80, TH_SYN), OK(FWD_STACK), .ct = XCNI_CT_NEW, .ct_stack = true },
	{ "IPv6: that flow is the stack's and nothing else", .step = x_svc_stack_only },
	/* Outside the range: judged here, and refused. */
	{ "IPv6: X->fd00:10:97::a SYN: egress refuses", .dev = DEV_X,
	  TCP(X6, 42100, "fd00:10:97::a", 80, TH_SYN), POLICY_DROP(DROP_POLICY_EGRESS) },
	/* A new policy revision: the flow stays the stack's, not judged on the ClusterIP. */
	{ "IPv6: a new revision", .step = x_egress_isolated },
	{ "IPv6: X->ClusterIP ACK", .dev = DEV_X, TCP(X6, 42100, SVC6, 80, TH_ACK), OK(FWD_STACK) },
	/* After the DNAT, at the backend B: X's egress refuses it... */
	{ "IPv6: to_pod B, X->B via the stack: egress refuses", .prog = TO_POD, .dev = DEV_B, VIA_STACK,
	  TCP(X6, 42100, B6, 80, TH_SYN), SHOT(DROP_POLICY_EGRESS, EV_FULL) },
	/* ...until it allows B on TCP 80 (policy 79). */
	{ "IPv6: X egress: B on TCP 80", .step = x_egress_b80 },
	{ "IPv6: to_pod B, X->B via the stack: allowed by 79", .prog = TO_POD, .dev = DEV_B, VIA_STACK,
	  TCP(X6, 42101, B6, 80, TH_SYN), OK(FWD_LOCAL), BY(79, 0, FROM_POD) },
	{ "IPv6: X open", .step = x_open },
};

const struct group policy_group = { "policy", ROWS(policy_rows), .prep = overlay_setup };
