// SPDX-License-Identifier: Apache-2.0
/*
 * Conntrack through from_pod and to_pod, IPv4: a flow from its first packet
 * to its end, what opens one and what is invalid, the host stack's flows.
 * The rows run in order: each builds on the entries the ones before left.
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

static const struct row conntrack_rows[] = {
	/* Forwarding and conntrack: a TCP flow between A and B, start to end. */
	{ "A->B SYN: new flow, redirected to B, rewritten", .dev = DEV_A,
	  TCP(IP_A, 40000, IP_B, 80, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "B->A SYN-ACK: reply, redirected to A", .dev = DEV_B,
	  TCP(IP_B, 80, IP_A, 40000, TH_SYN | TH_ACK), REDIR(FWD_REPLY),
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	{ "A->B data: orig direction", .dev = DEV_A,
	  TCP(IP_A, 40000, IP_B, 80, TH_ACK | TH_PUSH), REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED },
	{ "A->B FIN: closing", .dev = DEV_A,
	  TCP(IP_A, 40000, IP_B, 80, TH_FIN | TH_ACK), REDIR(FWD_LOCAL), .ct = XCNI_CT_CLOSING },
	{ "B->A FIN: closed", .dev = DEV_B,
	  TCP(IP_B, 80, IP_A, 40000, TH_FIN | TH_ACK), REDIR(FWD_REPLY),
	  .ct = XCNI_CT_CLOSED, .ct_rev = true },
	{ "A->B SYN on the closed tuple: a new flow", .dev = DEV_A,
	  TCP(IP_A, 40000, IP_B, 80, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "B->A RST: closed", .dev = DEV_B, TCP(IP_B, 80, IP_A, 40000, TH_RST | TH_ACK),
	  REDIR(FWD_REPLY), .ct = XCNI_CT_CLOSED, .ct_rev = true },
	{ "ct: a flow stamped by another CPU after this one read the clock", .step = ct_future_stamp },
	{ "A->B data of that flow: alive, not 2^64 ns old", .dev = DEV_A,
	  TCP(IP_A, 40100, IP_B, 80, TH_ACK), REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED },
	{ "A->B ACK of no flow: met mid-stream (evicted, expired), judged, picked up established",
	  .dev = DEV_A, TCP(IP_A, 40001, IP_B, 80, TH_ACK), REDIR(FWD_LOCAL),
	  .ct = XCNI_CT_ESTABLISHED },
	{ "B->A SYN-ACK of no flow: invalid", .dev = DEV_B,
	  TCP(IP_B, 80, IP_A, 40002, TH_SYN | TH_ACK), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true },
	{ "A->B RST of no flow: invalid", .dev = DEV_A,
	  TCP(IP_A, 40003, IP_B, 80, TH_RST | TH_ACK), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true },
	{ "A->B UDP: new", .dev = DEV_A, UDP(IP_A, 5353, IP_B, 53), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "B->A UDP: reply", .dev = DEV_B, UDP(IP_B, 53, IP_A, 5353), REDIR(FWD_REPLY),
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	{ "A->B echo request: new", .dev = DEV_A, ICMP(IP_A, IP_B, ICMP_ECHO, 7), REDIR(FWD_LOCAL),
	  .ct = XCNI_CT_NEW },
	{ "B->A echo reply: reply", .dev = DEV_B, ICMP(IP_B, IP_A, ICMP_ECHOREPLY, 7), REDIR(FWD_REPLY),
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	{ "A->B SCTP INIT: tracked with ports", .dev = DEV_A,
	  .src = IP_A, .sport = 36412, .dst = IP_B, .dport = 5000, .proto = IPPROTO_SCTP,
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "A->B SYN with IP options (IHL 6): ports after them", .dev = DEV_A, .ihl = 6,
	  TCP(IP_A, 40002, IP_B, 443, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "A->B TTL 1: to the stack, not redirected", .dev = DEV_A, .ttl = 1,
	  UDP(IP_A, 5354, IP_B, 53), OK(FWD_STACK), .ct = XCNI_CT_NEW },

	/* The host stack. */
	{ "A->outside: to the stack", .dev = DEV_A, UDP(IP_A, 40053, "8.8.8.8", 53),
	  OK(FWD_STACK), .ct = XCNI_CT_NEW },
	{ "outside->A via to_pod: reply", .prog = TO_POD, .dev = DEV_A,
	  UDP("8.8.8.8", 53, IP_A, 40053), OK(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
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

const struct group conntrack_group = { "conntrack", ROWS(conntrack_rows) };
