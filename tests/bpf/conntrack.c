// SPDX-License-Identifier: Apache-2.0
/*
 * Conntrack through from_pod and to_pod, both families: a flow from its
 * first packet to its end, what opens one and what is invalid, the host
 * stack's flows; --bench's forwarding rows. The rows run in order: each
 * builds on the entries the ones before left. The flows both families share
 * are written once (*_ROWS, a family's addresses each); the pods' IPv6
 * addresses are parse.c's v6_setup's (prep).
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

#define A6 "fd00:99::a"
#define B6 "fd00:99::b"
#define WORLD6 "2001:db8::53"

static void in6(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

static int ct_future_stamp(void)
{
	struct row r = { .dev = DEV_A, TCP(IP_A, 40100, IP_B, 80, TH_ACK) };
	struct xcni_ct_key k = tuple_of(&r, false);
	struct timespec ts;
	struct xcni_ct_entry e = { .state = XCNI_CT_ESTABLISHED, .ep_id = 101, .pkts_orig = 1 };

	clock_gettime(CLOCK_MONOTONIC, &ts);
	e.created_ns = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	e.last_ns = e.created_ns + 1000000000ULL; /* a second ahead */
	return bpf_map_update_elem(bpf_map__fd(env.from->maps.xcni_ct), &k, &e, BPF_ANY) ? -errno : 0;
}

/*
 * A reused tuple (a port picked again while the old connection's entry
 * lives) must inherit nothing of that entry: ct_open_entry rewrites it in
 * place. The old one here is as hostile as an entry gets: CLOSED, another
 * owner, the stack's and a Service's (flags, rev_nat, backend, NodePort SNAT),
 * picked up, FINs seen both ways, counters, an old policy revision.
 */
#define REUSED_PORT 40200
static uint64_t created_before;

static uint64_t ct_created(void)
{
	uint32_t k = XCNI_CTSTAT_BPF;
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_ctstat st[ncpu];
	uint64_t n = 0;

	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_ctstat"), &k, st), 0);
	for (int c = 0; c < ncpu; c++)
		n += st[c].created;
	return n;
}

static int ct_reused_poison(void)
{
	struct row r = { .dev = DEV_A, TCP(IP_A, REUSED_PORT, IP_B, 80, TH_SYN) };
	struct xcni_ct_key k = tuple_of(&r, false);
	struct timespec ts;
	struct xcni_ct_entry e = {
		.state = XCNI_CT_CLOSED, .ep_id = 999, .pkts_orig = 100, .bytes_orig = 9000,
		.pkts_reply = 50, .bytes_reply = 7000, .fin_orig = 1, .fin_reply = 1,
		.flags = XCNI_CT_F_STACK | XCNI_CT_F_SVC | XCNI_CT_F_SNAT | XCNI_CT_F_PICKUP,
		.policy_rev = 0xdead, .backend_id = 9, .rev_nat = 7, .nat_port = 4242, .nat_addr = 1,
	};

	clock_gettime(CLOCK_MONOTONIC, &ts);
	e.created_ns = e.last_ns = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	created_before = ct_created();
	return bpf_map_update_elem(bpf_map__fd(env.from->maps.xcni_ct), &k, &e, BPF_ANY) ? -errno : 0;
}

/* After A's SYN (the row checks the owner, its first packet, the flags, the
 * revision, no rev_nat): the rest is the new flow's too, and the entry was
 * rewritten, not counted as created. */
static int ct_reused_clean(void)
{
	struct row r = { .dev = DEV_A, TCP(IP_A, REUSED_PORT, IP_B, 80, TH_SYN) };
	struct xcni_ct_key k = tuple_of(&r, false);
	struct xcni_ct_entry e;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(env.from->maps.xcni_ct), &k, &e), 0);
	assert_int_equal(e.pkts_reply, 0);
	assert_int_equal(e.bytes_reply, 0);
	assert_int_equal(e.fin_orig, 0);
	assert_int_equal(e.fin_reply, 0);
	assert_int_equal(e.backend_id, 0);
	assert_int_equal(e.nat_port, 0);
	assert_int_equal(e.nat_addr, 0);
	assert_int_equal(e.created_ns, e.last_ns);
	assert_int_equal(ct_created(), created_before);
	return 0;
}

/* B's flow the other way round on the tuple A's SYN opened (B->A, as if B
 * had opened it too): both directions have an entry. */
static int ct_both_ways(void)
{
	struct row r = { .dev = DEV_B, TCP(IP_B, 80, IP_A, 40302, TH_SYN | TH_ACK) };

	return ct_put_established(&r);
}

/* A TCP flow A -> B opened, answered, carried on; the same in both families. */
#define TCP_OPEN_ROWS(fam, a, b)                                                                   \
	{ fam "A->B SYN: new flow, redirected to B, rewritten", .dev = DEV_A,                      \
	  TCP(a, 40000, b, 80, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },                     \
	{ fam "B->A SYN-ACK: reply, redirected to A", .dev = DEV_B,                                \
	  TCP(b, 80, a, 40000, TH_SYN | TH_ACK), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED,      \
	  .ct_rev = true },                                                                        \
	{ fam "A->B data: orig direction", .dev = DEV_A, TCP(a, 40000, b, 80, TH_ACK | TH_PUSH),   \
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED }

/* A SYN-ACK no SYN opened: invalid, nothing left behind. */
#define SYNACK_INVALID_ROW(fam, a, b, port)                                                        \
	{ fam "B->A SYN-ACK of no flow: invalid", .dev = DEV_B,                                    \
	  TCP(b, 80, a, port, TH_SYN | TH_ACK), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true }

/* UDP and echo A -> B and their replies (p: ICMP or ICMPV6, with its echo types). */
#define UDP_ECHO_ROWS(fam, a, b, p, req, rep)                                                      \
	{ fam "A->B UDP: new", .dev = DEV_A, UDP(a, 5353, b, 53), REDIR(FWD_LOCAL),                \
	  .ct = XCNI_CT_NEW },                                                                     \
	{ fam "B->A UDP: reply", .dev = DEV_B, UDP(b, 53, a, 5353), REDIR(FWD_REPLY),              \
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },                                             \
	{ fam "A->B echo request: new", .dev = DEV_A, p(a, b, req, 7), REDIR(FWD_LOCAL),           \
	  .ct = XCNI_CT_NEW },                                                                     \
	{ fam "B->A echo reply: reply", .dev = DEV_B, p(b, a, rep, 7), REDIR(FWD_REPLY),           \
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true }

/* To the world through the stack, and the reply back through to_pod. */
#define WORLD_ROWS(fam, a, w)                                                                      \
	{ fam "A->outside: to the stack", .dev = DEV_A, UDP(a, 40053, w, 53), OK(FWD_STACK),       \
	  .ct = XCNI_CT_NEW },                                                                     \
	{ fam "outside->A via to_pod: reply", .prog = TO_POD, .dev = DEV_A, UDP(w, 53, a, 40053),  \
	  OK(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED, .ct_rev = true }

static const struct row conntrack_rows[] = {
	/* Forwarding and conntrack: a TCP flow between A and B, start to end. */
	TCP_OPEN_ROWS("", IP_A, IP_B),
	{ "A->B FIN: closing", .dev = DEV_A,
	  TCP(IP_A, 40000, IP_B, 80, TH_FIN | TH_ACK), REDIR(FWD_LOCAL), .ct = XCNI_CT_CLOSING },
	{ "B->A FIN: closed", .dev = DEV_B,
	  TCP(IP_B, 80, IP_A, 40000, TH_FIN | TH_ACK), REDIR(FWD_REPLY),
	  .ct = XCNI_CT_CLOSED, .ct_rev = true },
	{ "A->B SYN on the closed tuple: a new flow", .dev = DEV_A,
	  TCP(IP_A, 40000, IP_B, 80, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "ct: a reused tuple's old entry, CLOSED, every field another flow's", .step = ct_reused_poison },
	{ "A->B SYN on it: a new flow, the entry rewritten (owner, flags, rev_nat, revision)",
	  .dev = DEV_A, TCP(IP_A, REUSED_PORT, IP_B, 80, TH_SYN), REDIR(FWD_LOCAL),
	  .ct = XCNI_CT_NEW, .ct_no_svc = true },
	{ "ct: nothing of the old entry left, not counted as created", .step = ct_reused_clean },
	/* A SYN only asks: one crossing the peer's (simultaneous open) is its
	 * sender's own new flow, and a SYN+ACK answers the flow it answers. */
	{ "B->A SYN: B's flow", .dev = DEV_B, TCP(IP_B, 80, IP_A, 40301, TH_SYN), REDIR(FWD_LOCAL),
	  .ct = XCNI_CT_NEW },
	{ "A->B SYN crossing it: A's own new flow, not a reply of B's", .dev = DEV_A,
	  TCP(IP_A, 40301, IP_B, 80, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "B->A SYN-ACK of the simultaneous open: answers A's flow", .dev = DEV_B,
	  TCP(IP_B, 80, IP_A, 40301, TH_SYN | TH_ACK), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED,
	  .ct_rev = true },
	{ "A->B SYN: A's flow", .dev = DEV_A, TCP(IP_A, 40302, IP_B, 80, TH_SYN), REDIR(FWD_LOCAL),
	  .ct = XCNI_CT_NEW },
	{ "ct: B's entry the other way round too", .step = ct_both_ways },
	{ "B->A SYN-ACK with both directions' entries: the flow it answers wins", .dev = DEV_B,
	  TCP(IP_B, 80, IP_A, 40302, TH_SYN | TH_ACK), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED,
	  .ct_rev = true },
	/* Any other packet (not a SYN) from the lower port to the higher: the
	 * reverse first, which wins; from the higher: its own tuple first. */
	{ "B->A ACK from the lower port, both entries: A's flow answered", .dev = DEV_B,
	  TCP(IP_B, 80, IP_A, 40302, TH_ACK), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED,
	  .ct_rev = true },
	{ "A->B ACK from the higher port, both entries: A's own flow", .dev = DEV_A,
	  TCP(IP_A, 40302, IP_B, 80, TH_ACK), REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED },
	{ "A->B UDP from a lower port to a higher: new flow", .dev = DEV_A, UDP(IP_A, 1000, IP_B, 5000),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "A->B again: its own entry (the reverse, looked up first, has none)", .dev = DEV_A,
	  UDP(IP_A, 1000, IP_B, 5000), REDIR(FWD_LOCAL) },
	{ "B->A from the higher port: a reply after its own tuple's miss", .dev = DEV_B,
	  UDP(IP_B, 5000, IP_A, 1000), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	{ "B->A RST: closed", .dev = DEV_B, TCP(IP_B, 80, IP_A, 40000, TH_RST | TH_ACK),
	  REDIR(FWD_REPLY), .ct = XCNI_CT_CLOSED, .ct_rev = true },
	{ "ct: a flow stamped by another CPU after this one read the clock", .step = ct_future_stamp },
	{ "A->B data of that flow: alive, not 2^64 ns old", .dev = DEV_A,
	  TCP(IP_A, 40100, IP_B, 80, TH_ACK), REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED },
	{ "A->B ACK of no flow: met mid-stream (evicted, expired), judged, picked up established",
	  .dev = DEV_A, TCP(IP_A, 40001, IP_B, 80, TH_ACK), REDIR(FWD_LOCAL),
	  .ct = XCNI_CT_ESTABLISHED },
	SYNACK_INVALID_ROW("", IP_A, IP_B, 40002),
	{ "A->B RST of no flow: invalid", .dev = DEV_A,
	  TCP(IP_A, 40003, IP_B, 80, TH_RST | TH_ACK), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true },
	/* IPv6: the same flow; a SYN with hop limit 1 is the stack's to answer. */
	TCP_OPEN_ROWS("IPv6: ", A6, B6),
	SYNACK_INVALID_ROW("IPv6: ", A6, B6, 40001),
	{ "IPv6: A->B hop limit 1: the stack answers", .dev = DEV_A,
	  TCP(A6, 40000, B6, 80, TH_SYN), .ttl = 1, OK(FWD_STACK) },

	UDP_ECHO_ROWS("", IP_A, IP_B, ICMP, ICMP_ECHO, ICMP_ECHOREPLY),
	UDP_ECHO_ROWS("IPv6: ", A6, B6, ICMPV6, 128, 129),
	{ "IPv6: echo reply of no request", .dev = DEV_B, ICMPV6(B6, A6, 129, 8),
	  SHOT(DROP_CT_INVALID, EV_FULL) },
	{ "A->B SCTP INIT: tracked with ports", .dev = DEV_A,
	  .src = IP_A, .sport = 36412, .dst = IP_B, .dport = 5000, .proto = IPPROTO_SCTP,
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "A->B SYN with IP options (IHL 6): ports after them", .dev = DEV_A, .ihl = 6,
	  TCP(IP_A, 40002, IP_B, 443, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "A->B TTL 1: to the stack, not redirected", .dev = DEV_A, .ttl = 1,
	  UDP(IP_A, 5354, IP_B, 53), OK(FWD_STACK), .ct = XCNI_CT_NEW },

	/* The host stack. */
	WORLD_ROWS("", IP_A, "8.8.8.8"),
	WORLD_ROWS("IPv6: ", A6, WORLD6),
	{ "A->gateway echo: to the stack", .dev = DEV_A, ICMP(IP_A, IP_GW, ICMP_ECHO, 9), OK(FWD_STACK),
	  .ct = XCNI_CT_NEW },
	{ "host->C SYN via to_pod: new", .prog = TO_POD, .dev = DEV_C,
	  TCP(IP_GW, 50000, IP_C, 8080, TH_SYN), OK(FWD_LOCAL), .ct = XCNI_CT_NEW,
	  .ct_stack = true },
	{ "C->host SYN-ACK: reply", .dev = DEV_C, TCP(IP_C, 8080, IP_GW, 50000, TH_SYN | TH_ACK),
	  OK(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED, .ct_rev = true, .ct_stack = true },
	{ "host->C ACK of no flow via to_pod: picked up (the node may), through the stack",
	  .prog = TO_POD, .dev = DEV_C, TCP(IP_GW, 50001, IP_C, 8080, TH_ACK), OK(FWD_LOCAL),
	  .ct = XCNI_CT_ESTABLISHED, .ct_stack = true },
	{ "host->C FIN of no flow via to_pod: invalid", .prog = TO_POD, .dev = DEV_C,
	  TCP(IP_GW, 50002, IP_C, 8080, TH_FIN | TH_ACK), SHOT(DROP_CT_INVALID, EV_FULL) },
};

const struct group conntrack_group = { "conntrack", ROWS(conntrack_rows), .prep = v6_endpoints };

/* `test_bpf --bench`'s IPv6 row (issue 14): from_pod forwarding an
 * established-looking UDP flow A6 -> B6, as bench() does for IPv4, so the two
 * per-packet costs come from one run. Fills endpoints6 itself (the cmocka
 * groups don't run under --bench). */
int bench6(void)
{
	int efd = bpf_map__fd(env.from->maps.xcni_endpoints6);
	int ifd = bpf_map__fd(env.from->maps.xcni_ifindex6);
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	struct bpf_test_run_opts o = {};
	const struct row r = { .dev = DEV_A, UDP(A6, 7000, B6, 7001), .ttl = 255 };
	uint64_t ns = 0;
	size_t len;
	int err, n = 4000, repeat = 250;

	for (int i = DEV_A; i <= DEV_B; i++) {
		struct xcni_endpoint ep = { .ifindex = env.ifindex[i], .ep_id = pod_ep6_id(i) };
		struct xcni_in6 key;

		memcpy(ep.pod_mac, pods[i].mac, ETH_ALEN);
		/* bench()'s trick: B's host MAC is A's pod MAC, so from_pod's
		 * rewritten frame is again A's and the repeats keep forwarding. */
		memcpy(ep.host_mac, i == DEV_B ? pods[DEV_A].mac : pods[i].host_mac, ETH_ALEN);
		in6(pods[i].ip6, key.addr);
		/* from_pod6 checks the source against the veth's own address. */
		if (bpf_map_update_elem(efd, &key, &ep, BPF_ANY) ||
		    bpf_map_update_elem(ifd, &ep.ifindex,
					&(struct xcni_pod_dev6){ .addr = key, .ep = ep }, BPF_ANY))
			return -errno;
	}
	len = build(&r, in);
	for (int i = 0; i < n; i++) {
		if ((err = run(FROM_POD, DEV_A, in, len, out, sizeof(out), repeat, &o)))
			return err;
		if (o.retval != TC_ACT_REDIRECT || out[ETH_HLEN + 7] != 255 - repeat) {
			fprintf(stderr, "from_pod6: verdict %u, hop limit %u (want %d, %d)\n",
				o.retval, out[ETH_HLEN + 7], TC_ACT_REDIRECT, 255 - repeat);
			return -EPROTO;
		}
		ns += o.duration;
	}
	printf("from_pod6 forwarded, %d x repeat=%d: %.1f ns/packet\n", n, repeat, (double)ns / n);
	return 0;
}
