// SPDX-License-Identifier: Apache-2.0
/*
 * from_pod and to_pod through BPF_PROG_TEST_RUN, one table row per packet:
 * input frame, verdict, the one (reason, direction) counter it bumps, output
 * bytes, the drop event, the conntrack entry. Rows run in order, so the
 * conntrack rows build on each other. Needs root.
 *
 *   private netns            pods (xcni_endpoints / xcni_ifindex)
 *   xta <-> xta-p            A 10.99.5.10  ep 101
 *   xtb <-> xtb-p            B 10.99.5.11  ep 102
 *   xtc <-> xtc-p            C 10.99.5.12  ep 103
 *   xtx <-> xtx-p            no endpoint
 *   xtu <-> xtu-p            the underlay (from_overlay, xdp_underlay; MTU 1500)
 *   node: pod CIDR 10.99.5.0/24, gateway 10.99.5.1, underlay 192.168.77.1, VNI 42;
 *   remote node n2 192.168.77.2 hosts pod R 10.99.6.5;
 *   maps pinned under a private /sys/fs/bpf/xcni-test-* dir
 *
 * `test_bpf --bench` times from_pod's forwarding path instead.
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

#include "harness.h"

static const uint8_t mac_evil[ETH_ALEN] = { 2, 0xba, 0xd, 0, 0, 1 };

/* Identities of the pods, as xcnid would put them into the ipcache. */
#define ID_A 1000
#define ID_B 1001
#define ID_C 1002
static int policy_ingress_a(void);
static int policy_egress_b(void);
static int policy_a_v1(void);
static int policy_a_off(void);
static int overlay_setup(void);
static int ct_future_stamp(void);
static int ct_forget_c_a53(void);
static int ct_stale_established(void);
static int policy_a_from_r(void);
static int policy_b_nothing(void);
static int policy_b_back(void);
static int policy_a_v1_again(void);
static int policy_a_egress_nothing(void);
static int policy_pending_on(void);
static int policy_a_overflow(void);
static int policy_pending_off(void);
static int polrev_only(void);
static int prefilter_add(void);
static int prefilter_counted(void);
static int trace_every(void);
static int trace_off(void);
static int trace_sampled(void);
static int events_rate_limited(void);
static int events_ring_full(void);

static const struct row rows[] = {
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

	/* Anti-spoofing and unknown parties. */
	{ "A with B's IP: spoofed", .dev = DEV_A, UDP(IP_B, 1000, "8.8.8.8", 53),
	  SHOT(DROP_SPOOF_IP, EV_FULL) },
	{ "A with a foreign MAC: spoofed", .dev = DEV_A, .smac = mac_evil,
	  UDP(IP_A, 1000, "8.8.8.8", 53), SHOT(DROP_SPOOF_MAC, EV_ZERO) },
	{ "ARP from A's own IP: passed", .dev = DEV_A, ARP(IP_A, IP_GW), OK(PASS_ARP) },
	{ "ARP from A claiming B's IP: spoofed", .dev = DEV_A, ARP(IP_B, IP_GW),
	  SHOT(DROP_SPOOF_IP, EV_ZERO) },
	{ "ARP to_pod: passed", .prog = TO_POD, .dev = DEV_A, ARP(IP_GW, IP_A), OK(PASS_ARP) },
	{ "A->unknown address in the pod CIDR", .dev = DEV_A, UDP(IP_A, 1000, "10.99.5.99", 53),
	  SHOT(DROP_UNKNOWN_DST, EV_FULL) },
	{ "device without endpoint", .dev = DEV_X, UDP(IP_A, 1000, IP_B, 53),
	  SHOT(DROP_NO_ENDPOINT, EV_ZERO) },
	{ "device without endpoint via to_pod", .prog = TO_POD, .dev = DEV_X,
	  UDP(IP_B, 1000, IP_A, 53), SHOT(DROP_NO_ENDPOINT, EV_ZERO) },
	{ "IPv6 from a device with no IPv6 endpoint (tests/bpf/v6.c: the rest)", .dev = DEV_X,
	  .eth = ETH_P_IPV6, SHOT(DROP_NO_ENDPOINT, EV_ZERO) },
	{ "IPv6 via to_pod, no IPv6 endpoint", .prog = TO_POD, .dev = DEV_X, .eth = ETH_P_IPV6,
	  SHOT(DROP_NO_ENDPOINT, EV_ZERO) },

	/* Malformed. The test run refuses frames under ETH_HLEN, and IPv4 ones
	 * under ETH_HLEN + 20 (-EINVAL, kernel 6.18): a truncated Ethernet or IPv4
	 * header cannot reach the programs, so the shortest accepted frames stand in. */
	{ "10-byte frame: refused by the kernel", .dev = DEV_A, ARP(IP_A, IP_GW), .cut = 10,
	  .err = -EINVAL },
	{ "14-byte frame (shortest accepted): truncated ARP", .dev = DEV_A, ARP(IP_A, IP_GW),
	  .cut = ETH_HLEN, SHOT(DROP_SHORT, EV_ZERO) },
	{ "truncated ARP body", .dev = DEV_A, ARP(IP_A, IP_GW), .cut = ETH_HLEN + 12,
	  SHOT(DROP_SHORT, EV_ZERO) },
	{ "eth + 10 bytes of IPv4: refused by the kernel", .dev = DEV_A, UDP(IP_A, 1, IP_B, 2),
	  .cut = ETH_HLEN + 10, .err = -EINVAL },
	{ "eth + IPv4 header, no UDP header (shortest IPv4 accepted)", .dev = DEV_A,
	  UDP(IP_A, 1, IP_B, 2), .tot_len = 20, .cut = ETH_HLEN + 20, SHOT(DROP_SHORT, EV_ADDRS) },
	{ "eth + IPv4 header, no UDP header via to_pod", .prog = TO_POD, .dev = DEV_A,
	  UDP(IP_B, 1, IP_A, 2), .tot_len = 20, .cut = ETH_HLEN + 20, SHOT(DROP_SHORT, EV_ADDRS) },
	{ "truncated TCP header", .dev = DEV_A, TCP(IP_A, 1, IP_B, 2, TH_SYN), .tot_len = 30,
	  .cut = ETH_HLEN + 20 + 10, SHOT(DROP_SHORT, EV_ADDRS) },
	{ "truncated TCP header, tot_len claiming all of it", .dev = DEV_A,
	  TCP(IP_A, 1, IP_B, 2, TH_SYN), .cut = ETH_HLEN + 20 + 10, SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "IHL 4", .dev = DEV_A, .ihl = 4, UDP(IP_A, 1, IP_B, 2), SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "IHL 15, tot_len 20", .dev = DEV_A, .ihl = 15, .tot_len = 20, UDP(IP_A, 1, IP_B, 2),
	  SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "IHL 15, options cut short", .dev = DEV_A, .ihl = 15, UDP(IP_A, 1, IP_B, 2),
	  .cut = ETH_HLEN + 40, SHOT(DROP_SHORT, EV_ZERO) },
	/* Fragments: the first opens the flow and leaves its ports; the later ones
	 * (their L4 bytes here claim other ports: they are payload) follow it. */
	{ "fragment: offset 8 with no first fragment seen: dropped", .dev = DEV_A, .frag = 1,
	  UDP(IP_A, 1, IP_B, 2), SHOT(DROP_FRAGMENT, EV_ADDRS) },
	{ "fragment: first (MF set) opens the flow", .dev = DEV_A, .frag = 0x2000, .ipid = 0x0f01,
	  UDP(IP_A, 1, IP_B, 2), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "fragment: a later one of the same datagram follows it (ports from the first)",
	  .dev = DEV_A, .frag = 0x2000 | 185, .ipid = 0x0f01, UDP(IP_A, 1, IP_B, 2),
	  REDIR(FWD_LOCAL) },
	{ "fragment: the last one, its bytes where ports would be say 7/8", .dev = DEV_A,
	  .frag = 370, .ipid = 0x0f01, UDP(IP_A, 7, IP_B, 8), REDIR(FWD_LOCAL), .no_ct = true },
	{ "fragment: a later one of another datagram (id): dropped", .dev = DEV_A, .frag = 185,
	  .ipid = 0x0f02, UDP(IP_A, 1, IP_B, 2), SHOT(DROP_FRAGMENT, EV_ADDRS) },
	{ "fragment: the reply's first fragment", .dev = DEV_B, .frag = 0x2000, .ipid = 0x0f03,
	  UDP(IP_B, 2, IP_A, 1), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	{ "fragment: the reply's later fragment passes as a reply", .dev = DEV_B, .frag = 185,
	  .ipid = 0x0f03, UDP(IP_B, 2, IP_A, 1), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED,
	  .ct_rev = true },

	/* NetworkPolicy. A isolated for ingress: B on TCP 80 (policy 7 rule 0),
	 * anyone on UDP (7/1), C on TCP 8000-8003 (8/0), ipBlock 10.99.5.0/24
	 * except 10.99.5.12/32 on TCP 9000 (9/2), B on SCTP 5000 (8/1). */
	{ "policy: A isolated for ingress", .step = policy_ingress_a },
	{ "B->A TCP 80: allowed by 7/0, tracked", .dev = DEV_B, TCP(IP_B, 41000, IP_A, 80, TH_SYN),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, BY(7, 0, TO_POD) },
	{ "A->B SYN-ACK: reply passes, no decision", .dev = DEV_A,
	  TCP(IP_A, 80, IP_B, 41000, TH_SYN | TH_ACK), REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED,
	  .ct_rev = true },
	{ "B->A data: established, no decision", .dev = DEV_B, TCP(IP_B, 41000, IP_A, 80, TH_ACK),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED },
	{ "C->A TCP 80: nothing allows C", .dev = DEV_C, TCP(IP_C, 41001, IP_A, 80, TH_SYN),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
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
	{ "host->A via to_pod: the node may always reach its pods", .prog = TO_POD, .dev = DEV_A,
	  TCP(IP_GW, 41012, IP_A, 22, TH_SYN), OK(FWD_LOCAL), .ct = XCNI_CT_NEW, .ct_stack = true },
	{ "world->A TCP 80 via to_pod: only B may", .prog = TO_POD, .dev = DEV_A,
	  TCP("192.0.2.7", 41013, IP_A, 80, TH_SYN), POLICY_DROP(DROP_POLICY_INGRESS) },
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

	/* The overlay. Expected output bytes are built from the input: outer IPv4,
	 * UDP (source port the flow hash, checksum 0), Geneve, inner Ethernet. */
	{ "overlay: node n2 hosts R; a pod whose node is gone", .step = overlay_setup },
	{ "A->R SYN: encapsulated to n2", .prog = FROM_POD_OV, .dev = DEV_A,
	  TCP(IP_A, 42000, IP_R, 80, TH_SYN), REDIR(FWD_ENCAP), .node = N2, .ct = XCNI_CT_NEW },
	{ "A->R UDP: encapsulated", .prog = FROM_POD_OV, .dev = DEV_A, UDP(IP_A, 42001, IP_R, 53),
	  REDIR(FWD_ENCAP), .node = N2, .ct = XCNI_CT_NEW },
	{ "A->R echo: encapsulated", .prog = FROM_POD_OV, .dev = DEV_A,
	  ICMP(IP_A, IP_R, ICMP_ECHO, 77), REDIR(FWD_ENCAP), .node = N2, .ct = XCNI_CT_NEW },
	{ "A->n2 UDP 6081: a pod may not inject Geneve", .prog = FROM_POD_OV, .dev = DEV_A,
	  UDP(IP_A, 42002, N2, XCNI_GENEVE_PORT), SHOT(DROP_GENEVE_INJECT, EV_FULL) },
	{ "A->pod of a node that is gone: dropped, not black-holed", .prog = FROM_POD_OV,
	  .dev = DEV_A, UDP(IP_A, 42003, IP_GONE, 53), SHOT(DROP_NO_TUNNEL, EV_FULL) },
	{ "R->A SYN-ACK from n2: the reply, decapsulated into A", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, TCP(IP_R, 80, IP_A, 42000, TH_SYN | TH_ACK), REDIR(FWD_DECAP),
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	{ "R->A SYN from n2: a new flow, tracked here too", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, TCP(IP_R, 43000, IP_A, 8080, TH_SYN), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW },
	{ "A->R SYN-ACK: the reply goes back encapsulated", .prog = FROM_POD_OV, .dev = DEV_A,
	  TCP(IP_A, 8080, IP_R, 43000, TH_SYN | TH_ACK), REDIR(FWD_ENCAP), .node = N2,
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	{ "R->A from an unknown node", .prog = FROM_OVERLAY, .dev = DEV_U, .node = "192.168.77.9",
	  TCP(IP_R, 43001, IP_A, 80, TH_SYN), SHOT(DROP_UNKNOWN_NODE, EV_OUTER), .no_ct = true },
	{ "B's address inside n2's Geneve: not n2's to claim", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, TCP(IP_B, 43002, IP_A, 80, TH_SYN), SHOT(DROP_INNER_SPOOF, EV_FULL),
	  .no_ct = true },
	{ "Geneve with 8 bytes of options: skipped", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  .optwords = 2, UDP(IP_R, 43003, IP_A, 53), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW },
	{ "Geneve with another VNI", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, .vni = 7,
	  UDP(IP_R, 43004, IP_A, 53), SHOT(DROP_BAD_GENEVE, EV_OUTER) },
	{ "truncated Geneve header", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  UDP(IP_R, 43005, IP_A, 53), .cut = ETH_HLEN + 20 + 8 + 4, SHOT(DROP_BAD_GENEVE, EV_OUTER) },
	{ "Geneve for this node: decapsulated to its stack", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, UDP(IP_R, 43006, NODE_IP, 53), OK(FWD_DECAP_HOST) },
	{ "plain UDP on the underlay: not ours, untouched", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .plain = true, UDP(N2, 5000, NODE_IP, 53), .ret = TC_ACT_OK, .uncounted = true },
	{ "policy: A admits R on TCP 80 only (12/0)", .step = policy_a_from_r },
	{ "R->A TCP 80 from n2: allowed by 12/0", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  TCP(IP_R, 43007, IP_A, 80, TH_SYN), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW,
	  BY(12, 0, TO_POD) },
	{ "R->A UDP from n2: ingress policy, source identity from the ipcache", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, UDP(IP_R, 43008, IP_A, 54), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "policy: A's version 1 again: only C on TCP 80 (11/0)", .step = policy_a_v1_again },
	{ "R->A ACK from n2 on 43007: judged again, refused, forgotten", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, TCP(IP_R, 43007, IP_A, 80, TH_ACK),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "policy: A no longer isolated", .step = policy_a_off },
	{ "host->R via the overlay device: encapsulated", .prog = TO_OVERLAY, .dev = DEV_X,
	  TCP(NODE_IP, 44000, IP_R, 80, TH_SYN), REDIR(FWD_ENCAP), .node = N2 },
	{ "host->address no node hosts via the overlay device", .prog = TO_OVERLAY, .dev = DEV_X,
	  TCP(NODE_IP, 44001, "10.99.9.9", 80, TH_SYN), SHOT(DROP_NO_TUNNEL, EV_FULL) },
	{ "A->R via the overlay device (a Service DNATed to R): tracked as the stack's",
	  .prog = TO_OVERLAY, .dev = DEV_X, TCP(IP_A, 44002, IP_R, 80, TH_SYN), REDIR(FWD_ENCAP),
	  .node = N2, .ct = XCNI_CT_NEW, .ct_stack = true, EP_OF(DEV_A), VIA_STACK },
	{ "R->A SYN-ACK from n2: reply of the stack's flow, decapsulated to the stack",
	  .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  TCP(IP_R, 80, IP_A, 44002, TH_SYN | TH_ACK), OK(FWD_DECAP_HOST),
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true, .ct_stack = true },
	{ "B->R via the overlay device: B's egress (only A on TCP 80) is judged there",
	  .prog = TO_OVERLAY, .dev = DEV_X, UDP(IP_B, 44003, IP_R, 53),
	  POLICY_DROP(DROP_POLICY_EGRESS), EP_OF(DEV_B), VIA_STACK },
	{ "policy: A's egress allows nothing", .step = policy_a_egress_nothing },
	{ "A->R ACK via the overlay device on 44002: judged again, refused, forgotten",
	  .prog = TO_OVERLAY, .dev = DEV_X, TCP(IP_A, 44002, IP_R, 80, TH_ACK),
	  POLICY_DROP(DROP_POLICY_EGRESS), EP_OF(DEV_A), VIA_STACK },
	{ "policy: A not isolated again", .step = policy_a_off },

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
	{ "policy: no agent enforcing policy here, A has no polep entry", .step = policy_pending_off },
	{ "no agent: A->C UDP: open, as before", .dev = DEV_A, UDP(IP_A, 44107, IP_C, 53),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },

	/* XDP on the underlay: the prefilter. */
	{ "prefilter: deny 203.0.113.0/24", .step = prefilter_add },
	{ "XDP: source on the deny list: dropped", .prog = XDP, .dev = DEV_U, .plain = true,
	  UDP("203.0.113.5", 5000, NODE_IP, 53), .ret = XDP_DROP, .reason = XCNI_DROP_PREFILTER },
	{ "XDP: any other source passes", .prog = XDP, .dev = DEV_U, .plain = true,
	  UDP("198.51.100.1", 5000, NODE_IP, 53), .ret = XDP_PASS, .uncounted = true },
	{ "prefilter: the entry counted its drop", .step = prefilter_counted },

	/* Events: traces of forwarded packets (off so far: no row above saw one),
	 * the per-CPU budget on every event, and what was lost. */
	{ "events: trace every forwarded packet (trace-sample 1)", .step = trace_every },
	{ "A->C UDP: forwarded, traced as fwd-local from-pod", .dev = DEV_A,
	  UDP(IP_A, 45000, IP_C, 53), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, .trace = true },
	{ "C->A UDP: the reply, traced as fwd-reply", .dev = DEV_C, UDP(IP_C, 53, IP_A, 45000),
	  REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED, .ct_rev = true, .trace = true },
	{ "host->A via to_pod: traced to-pod", .prog = TO_POD, .dev = DEV_A,
	  TCP(IP_GW, 45001, IP_A, 22, TH_SYN), OK(FWD_LOCAL), .ct = XCNI_CT_NEW, .ct_stack = true,
	  .trace = true },
	{ "host->R via the overlay device: traced fwd-encap to-overlay", .prog = TO_OVERLAY,
	  .dev = DEV_X, TCP(NODE_IP, 45002, IP_R, 80, TH_SYN), REDIR(FWD_ENCAP), .node = N2,
	  .trace = true },
	{ "A->B FIN of no flow: a drop event only, no trace", .dev = DEV_A,
	  TCP(IP_A, 45003, IP_B, 80, TH_FIN | TH_ACK), SHOT(DROP_CT_INVALID, EV_FULL) },
	{ "events: traces off (trace-sample 0)", .step = trace_off },
	{ "A->C UDP: forwarded, no event", .dev = DEV_A, UDP(IP_A, 45000, IP_C, 53),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED },
	{ "events: trace-sample 4 traces about one in 4 of 400 packets", .step = trace_sampled },
	{ "events: 3 per CPU second: 10 drops, 3 events, 7 counted lost; refilled with time",
	  .step = events_rate_limited },
	{ "events: a full ring loses events, counted, never packets", .step = events_ring_full },
};

const struct pod pods[NR_DEVS] = {
	[DEV_A] = { "xta", IP_A, 101, { 2, 0, 0, 0, 0, 0xa }, { 2, 0, 0, 0, 1, 0xa } },
	[DEV_B] = { "xtb", IP_B, 102, { 2, 0, 0, 0, 0, 0xb }, { 2, 0, 0, 0, 1, 0xb } },
	[DEV_C] = { "xtc", IP_C, 103, { 2, 0, 0, 0, 0, 0xc }, { 2, 0, 0, 0, 1, 0xc } },
	[DEV_X] = { "xtx", NULL, 0, { 2, 0, 0, 0, 0, 0xe }, { 2, 0, 0, 0, 1, 0xe } },
	[DEV_U] = { "xtu", NULL, 0, { 2, 0, 0, 0, 2, 2 }, { 2, 0, 0, 0, 2, 1 } },
};

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
	case XDP:
		return XCNI_DIR_FROM_OVERLAY;
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

/* An ICMP error's quote starts right after its 8-byte header (RFC 792). */
static size_t row_l4_len(const struct row *r)
{
	if (r->proto == IPPROTO_ICMP && r->tail_len && r->type != ICMP_ECHO &&
	    r->type != ICMP_ECHOREPLY)
		return 8;
	return l4_len(r->proto);
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
		ip->ihl = ihl;
		ip->tot_len = htons(r->tot_len ? r->tot_len : hlen + row_l4_len(r) + r->tail_len);
		ip->id = htons(r->ipid ? r->ipid : 0x1234);
		ip->frag_off = htons(r->frag);
		ip->ttl = r->ttl ? r->ttl : 64;
		ip->protocol = r->proto;
		ip->saddr = ip4(r->src);
		ip->daddr = ip4(r->dst);
		ip->check = csum(ip, hlen);
		if (r->proto == IPPROTO_ICMP) {
			l4[0] = r->type;
			*(uint16_t *)(l4 + 4) = htons(r->sport);
		} else {
			*(uint16_t *)l4 = htons(r->sport);
			*(uint16_t *)(l4 + 2) = htons(r->dport);
		}
		if (r->proto == IPPROTO_TCP) {
			l4[12] = 5 << 4;
			l4[13] = r->flags;
		} else if (r->proto == IPPROTO_UDP) {
			*(uint16_t *)(l4 + 4) = htons(l4_len(r->proto));
		} else if (r->proto == IPPROTO_SCTP) {
			l4[12] = 1; /* INIT */
			*(uint16_t *)(l4 + 14) = htons(20);
		}
		len = ETH_HLEN + hlen + row_l4_len(r);
		if (r->tail_len) {
			memcpy(buf + len, r->tail, r->tail_len);
			len += r->tail_len;
		}
	}
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
static size_t build(const struct row *r, uint8_t buf[FRAME_MAX])
{
	uint8_t inner[FRAME_MAX];
	size_t len;

	if (r->prog != FROM_OVERLAY || r->plain) {
		len = build_inner(r, buf);
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
		"DROP_POLICY_ADMIN", "DROP_POLICY_BASELINE",
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

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	/* An IPv6 event: the IPv4 record (addresses 0) and the IPv6 addresses. */
	if (size == sizeof(struct xcni_event6)) {
		v6_event(data);
		v6ovl_event(data);
	}
	else if (size != sizeof(struct xcni_event))
		return -EINVAL;
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
	case FROM_POD_LB: return bpf_program__fd(env.from_lb->progs.from_pod);
	case TO_POD_LB: return bpf_program__fd(env.to_lb->progs.to_pod);
	case FROM_OVERLAY_LB: return bpf_program__fd(env.ovin_lb->progs.from_overlay);
	case FROM_OVERLAY_DSR: return bpf_program__fd(env.ovin_dsr->progs.from_overlay);
	}
	return -1;
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
	return bpf_prog_test_run_opts(prog_fd(prog), o);
}

/* The bytes the row's program must leave: want; returns their length. */
static size_t expected(const struct row *r, const uint8_t *in, size_t len, uint8_t *want)
{
	uint8_t inner[FRAME_MAX];
	struct iphdr *ip = (struct iphdr *)(want + ETH_HLEN);
	const struct pod *dst = NULL;
	size_t n;

	memcpy(want, in, len);
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

void check_row(void **state)
{
	const struct row *r = *state;
	const struct pod *pd = &pods[r->dev];
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	uint8_t in[FRAME_MAX], out[FRAME_MAX], want[FRAME_MAX];
	size_t len = build(r, in);
	struct bpf_test_run_opts o = {};
	__u32 idx = XCNI_METRIC_IDX(r->reason, prog_dir(r->prog));

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
		struct xcni_ct_key k = tuple_of(r, false);

		assert_int_equal(env.nev, 1);
		assert_int_equal(e->type, XCNI_EV_TRACE);
		assert_int_equal(e->reason, r->reason);
		assert_int_equal(e->dir, prog_dir(r->prog));
		assert_int_equal(e->ep_id, pd->ep_id);
		assert_int_equal(e->ifindex, env.ifindex[r->dev]);
		assert_int_equal(e->len, len);
		assert_int_equal(e->saddr, k.saddr);
		assert_int_equal(e->daddr, k.daddr);
		assert_int_equal(e->proto, k.proto);
		assert_int_equal(e->sport, k.sport);
		assert_int_equal(e->dport, k.dport);
	} else if (r->ret != TC_ACT_SHOT && !r->vev) {
		assert_int_equal(env.nev, 0);
	} else if (r->vev) {
		struct xcni_event *e = &env.ev[0];

		assert_int_equal(env.nev, 1);
		assert_int_equal(e->type, XCNI_EV_VERDICT);
		assert_int_equal(e->reason, r->reason);
		assert_int_equal(e->policy_id, r->policy_id);
		assert_int_equal(e->rule, r->rule);
		assert_int_equal(e->pol_dir, r->pol_dir);
		assert_int_equal(e->saddr, ip4(r->src));
		assert_int_equal(e->daddr, ip4(r->dst));
		if (r->flags_set)
			assert_int_equal(e->pol_flags, r->pol_flags);
	} else {
		struct xcni_event *e = &env.ev[0];
		struct xcni_ct_key k = {};

		assert_int_equal(env.nev, 1);
		assert_int_equal(e->type, XCNI_EV_DROP);
		assert_int_equal(e->reason, r->reason);
		assert_int_equal(e->dir, prog_dir(r->prog));
		assert_int_equal(e->ep_id, r->ep_of ? pods[r->ep_of - 1].ep_id : pd->ep_id);
		assert_int_equal(e->ifindex, env.ifindex[r->dev]);
		assert_int_equal(e->len, len);
		if (r->ev != EV_ZERO)
			k = tuple_of(r, false);
		if (r->ev == EV_ADDRS)
			k.sport = k.dport = 0;
		if (r->ev == EV_OUTER)
			k = (struct xcni_ct_key){ .saddr = ip4(r->node), .daddr = ip4(NODE_IP),
						  .sport = htons(flow_sport(&k)),
						  .dport = htons(XCNI_GENEVE_PORT),
						  .proto = IPPROTO_UDP };
		assert_int_equal(e->saddr, k.saddr);
		assert_int_equal(e->daddr, k.daddr);
		assert_int_equal(e->proto, k.proto);
		assert_int_equal(e->sport, k.sport);
		assert_int_equal(e->dport, k.dport);
		if (r->reason == XCNI_DROP_POLICY_INGRESS || r->reason == XCNI_DROP_POLICY_EGRESS) {
			/* "isolated, nothing allows", with both identities. */
			assert_int_equal(e->policy_id, 0);
			assert_int_equal(e->pol_dir, r->reason == XCNI_DROP_POLICY_INGRESS ? TO_POD
											  : FROM_POD);
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
		struct xcni_ct_key k = tuple_of(r, false);
		struct xcni_ct_entry ce;

		assert_int_not_equal(bpf_map_lookup_elem(bpf_map__fd(env.from->maps.xcni_ct), &k, &ce),
				     0);
	}

	if (r->ct || r->ct_stack) {
		struct xcni_ct_key k = tuple_of(r, r->ct_rev);
		struct xcni_ct_entry ce;
		uint32_t zero = 0, rev = 0;

		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(env.from->maps.xcni_ct), &k, &ce), 0);
		assert_int_equal(!!(ce.flags & XCNI_CT_F_STACK), r->ct_stack);
		/* A packet in the opening direction passed: judged under the revision now. */
		assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_polrev"), &zero, &rev), 0);
		if (!r->ct_rev)
			assert_int_equal(ce.policy_rev, rev);
	}
	if (r->ct) {
		struct xcni_ct_key k = tuple_of(r, r->ct_rev);
		struct xcni_ct_entry ce;

		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(env.from->maps.xcni_ct), &k, &ce), 0);
		assert_int_equal(ce.state, r->ct);
		if (r->ct == XCNI_CT_NEW) {
			assert_int_equal(ce.ep_id, r->ep_of			  ? pods[r->ep_of - 1].ep_id
						   : prog_dir(r->prog) == FROM_POD ? pd->ep_id
										     : 0);
			assert_int_equal(ce.pkts_orig, 1);
			assert_int_equal(ce.bytes_orig, len);
		}
	}
}

int map_fd(const char *name)
{
	return bpf_map__fd(bpf_object__find_map_by_name(env.from->obj, name));
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

/* One policy entry: ep's rule (dir) for peer, proto and a port prefix of k
 * bits, where the map writer would put it (ranges in polrange). */
static int allow(const char *ep, uint8_t version, uint8_t dir, uint32_t peer, uint8_t proto,
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

/* The pod's policy state; the policy changed: a new revision. */
static int set_polep(const char *ep, uint32_t identity, uint8_t version, uint8_t isolated,
		     uint8_t has)
{
	struct xcni_polep v = { .identity = identity, .version = version, .isolated = isolated };

	v.has[isolated & XCNI_ISOLATED(TO_POD) ? TO_POD : FROM_POD] = has;
	uint32_t ip = ip4(ep);

	if (bpf_map_update_elem(map_fd("xcni_polep"), &ip, &v, BPF_ANY))
		return -errno;
	return polrev_bump();
}

static int ipcache(const char *addr, int len, uint32_t identity)
{
	struct xcni_ipcache_key k = { .prefixlen = len, .addr = ip4(addr) };
	struct xcni_ipcache_val v = { .identity = identity };

	return bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &v, BPF_ANY) ? -errno : 0;
}

static int policy_ingress_a(void)
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

static int policy_egress_b(void)
{
	int err = allow(IP_B, 0, FROM_POD, ID_A, IPPROTO_TCP, 80, 16, 10, 0);

	return err ?: set_polep(IP_B, ID_B, 0, XCNI_ISOLATED(FROM_POD), 0);
}

static int policy_a_v1(void)
{
	int err = allow(IP_A, 1, TO_POD, ID_C, IPPROTO_TCP, 80, 16, 11, 0);

	return err ?: set_polep(IP_A, ID_A, 1, XCNI_ISOLATED(TO_POD), 0);
}

static int policy_a_off(void)
{
	uint32_t ip = ip4(IP_A);

	if (bpf_map_delete_elem(map_fd("xcni_polep"), &ip))
		return -errno;
	return polrev_bump();
}

static int ct_stale_established(void)
{
	struct row r = { .dev = DEV_B, TCP(IP_B, 41019, IP_C, 8080, TH_ACK) };
	struct xcni_ct_key k = tuple_of(&r, false);
	struct timespec ts;
	struct xcni_ct_entry e = { .state = XCNI_CT_ESTABLISHED, .ep_id = 102, .pkts_orig = 1 };

	clock_gettime(CLOCK_MONOTONIC, &ts);
	e.created_ns = e.last_ns = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	return bpf_map_update_elem(bpf_map__fd(env.from->maps.xcni_ct), &k, &e, BPF_ANY) ? -errno : 0;
}

/* The C->A UDP 53 flow's entry evicted (LRU) between two fragments. */
static int ct_forget_c_a53(void)
{
	struct row r = { .dev = DEV_C, UDP(IP_C, 41001, IP_A, 53) };
	struct xcni_ct_key k = tuple_of(&r, false);

	return bpf_map_delete_elem(bpf_map__fd(env.from->maps.xcni_ct), &k) ? -errno : 0;
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

static int overlay_setup(void)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(IP_R) };
	struct xcni_ipcache_val v = { .identity = ID_R, .tunnel_ip = ip4(N2), .flags = XCNI_IPC_POD };
	struct xcni_tunnel t = { .pod_cidr = ip4("10.99.6.0"), .pod_cidr_len = 24, .node = "n2" };
	struct xcni_tunstat zero[libbpf_num_possible_cpus()];
	uint32_t n2 = ip4(N2);
	int fd = map_fd("xcni_ipcache");

	memset(zero, 0, sizeof(zero));
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	k.addr = ip4(N2);
	v = (struct xcni_ipcache_val){ .identity = XCNI_ID_REMOTE_NODE, .tunnel_ip = ip4(N2) };
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	k.addr = ip4(IP_GONE);
	v = (struct xcni_ipcache_val){ .identity = ID_R + 1, .flags = XCNI_IPC_POD };
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	if (bpf_map_update_elem(map_fd("xcni_tunnel"), &n2, &t, BPF_ANY) ||
	    bpf_map_update_elem(map_fd("xcni_tunstat"), &n2, zero, BPF_ANY))
		return -errno;
	return 0;
}

static int policy_a_from_r(void)
{
	int err = allow(IP_A, 0, TO_POD, ID_R, IPPROTO_TCP, 80, 16, 12, 0);

	return err ?: set_polep(IP_A, ID_A, 0, XCNI_ISOLATED(TO_POD), 0);
}

static int policy_b_nothing(void)
{
	return set_polep(IP_B, ID_B, 1, XCNI_ISOLATED(FROM_POD), 0);
}

/* Back to a version whose entries are still in the maps. */
static int policy_b_back(void)
{
	return set_polep(IP_B, ID_B, 0, XCNI_ISOLATED(FROM_POD), 0);
}

static int policy_a_v1_again(void)
{
	return set_polep(IP_A, ID_A, 1, XCNI_ISOLATED(TO_POD), 0);
}

static int policy_a_egress_nothing(void)
{
	return set_polep(IP_A, ID_A, 0, XCNI_ISOLATED(FROM_POD), 0);
}

static int set_cfg_flags(uint32_t flags)
{
	struct xcni_config cfg;
	int fd = bpf_map__fd(env.from->maps.xcni_config);
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		return -errno;
	cfg.flags = flags;
	return bpf_map_update_elem(fd, &zero, &cfg, BPF_EXIST) ? -errno : 0;
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

static int prefilter_add(void)
{
	struct xcni_prefilter_key k = { .prefixlen = 24, .addr = ip4("203.0.113.0") };
	struct xcni_prefilter_val v = {};

	__u32 net = ip4("203.0.113.0"), one = 1;

	/* What xcnictl prefilter add writes: the /24's mark, then the trie entry. */
	if (bpf_map_update_elem(map_fd("xcni_pf24"), &net, &one, BPF_ANY))
		return -errno;
	return bpf_map_update_elem(map_fd("xcni_prefilter"), &k, &v, BPF_ANY) ? -errno : 0;
}

static int prefilter_counted(void)
{
	struct xcni_prefilter_key k = { .prefixlen = 24, .addr = ip4("203.0.113.0") };
	struct xcni_prefilter_val v;

	if (bpf_map_lookup_elem(map_fd("xcni_prefilter"), &k, &v))
		return -errno;
	return v.packets == 1 && v.bytes == ETH_HLEN + 20 + 12 ? 0 : -EPROTO;
}

static int teardown(void **state)
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
	from_overlay__destroy(env.ovin_lb);
	from_overlay__destroy(env.ovin_dsr);
	to_pod__destroy(env.to_lb);
	from_pod__destroy(env.from_lb);
	env.ovin_lb = NULL;
	env.ovin_dsr = NULL;
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
		    bpf_map_update_elem(ifd, &ifindex, &ip, BPF_NOEXIST))
			return -errno;
	}
	return 0;
}

/* What `xcnictl config set` writes: the event settings of the node config. */
static int set_events(uint32_t trace_sample, uint32_t events_rate)
{
	struct xcni_config cfg;
	int fd = bpf_map__fd(env.from->maps.xcni_config);
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		return -errno;
	cfg.trace_sample = trace_sample;
	cfg.events_rate = events_rate;
	return bpf_map_update_elem(fd, &zero, &cfg, BPF_EXIST) ? -errno : 0;
}

static int trace_every(void)
{
	return set_events(1, 0);
}

static int trace_off(void)
{
	return set_events(0, 0);
}

/* The event budgets and counters, summed over CPUs. */
static int evrate_sum(struct xcni_evrate *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_evrate v[ncpu];
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(env.from->maps.xcni_evrate), &zero, v))
		return -errno;
	*sum = (struct xcni_evrate){};
	for (int c = 0; c < ncpu; c++) {
		sum->sent += v[c].sent;
		sum->lost_rate += v[c].lost_rate;
		sum->lost_full += v[c].lost_full;
	}
	return 0;
}

/* Runs row r n times (repeat: in one test run), checking the verdict; events consumed. */
static int run_n(const struct row *r, int n, int repeat)
{
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	size_t len = build(r, in);

	for (int i = 0; i < n; i++) {
		struct bpf_test_run_opts o = {};
		int err = run(r->prog, r->dev, in, len, out, sizeof(out), repeat, &o);

		if (err)
			return err;
		if (!repeat && (int)o.retval != r->ret)
			return -EPROTO;
	}
	return ring_buffer__consume(env.rb) < 0 ? -EIO : 0;
}

static int trace_sampled(void)
{
	struct row r = { .dev = DEV_A, UDP(IP_A, 45000, IP_C, 53), .ret = TC_ACT_REDIRECT };
	int err = set_events(4, 0);

	env.nev = 0;
	err = err ?: run_n(&r, 400, 0);
	err = err ?: set_events(0, 0);
	if (err)
		return err;
	/* Binomial(400, 1/4): mean 100, sd 8.7; outside [40, 200] means no sampling. */
	if (env.nev < 40 || env.nev > 200) {
		fprintf(stderr, "%d traces of 400 packets at 1 in 4\n", env.nev);
		return -EPROTO;
	}
	return 0;
}

/*
 * The bucket is per CPU: the test stays on one CPU, whose bucket starts full
 * (all zeroed: the first event tops it up to a second's worth).
 */
static int events_rate_limited(void)
{
	struct row r = { .dev = DEV_A, .ihl = 4, UDP(IP_A, 1, IP_B, 2), .ret = TC_ACT_SHOT };
	int ncpu = libbpf_num_possible_cpus(), cpu = sched_getcpu(), err;
	struct xcni_evrate zeros[ncpu], sum;
	cpu_set_t old, one;
	uint32_t zero = 0;

	memset(zeros, 0, sizeof(zeros));
	if (cpu < 0 || sched_getaffinity(0, sizeof(old), &old))
		return -errno;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return -errno;
	err = bpf_map_update_elem(bpf_map__fd(env.from->maps.xcni_evrate), &zero, zeros, BPF_ANY)
		      ? -errno : 0;
	err = err ?: set_events(0, 3);
	env.nev = 0;
	err = err ?: run_n(&r, 10, 0);
	err = err ?: evrate_sum(&sum);
	if (!err && (env.nev != 3 || sum.sent != 3 || sum.lost_rate != 7 || sum.lost_full)) {
		fprintf(stderr, "%d events, sent %llu, lost %llu to the rate, %llu to the ring\n",
			env.nev, (unsigned long long)sum.sent, (unsigned long long)sum.lost_rate,
			(unsigned long long)sum.lost_full);
		err = -EPROTO;
	}
	/* 400 ms buys 1.2 events' worth of credit: one more passes, the next does not. */
	if (!err) {
		usleep(400000);
		env.nev = 0;
		err = run_n(&r, 2, 0) ?: evrate_sum(&sum);
		if (!err && (env.nev != 1 || sum.lost_rate != 8))
			err = -EPROTO;
	}
	set_events(0, 0);
	sched_setaffinity(0, sizeof(old), &old);
	return err;
}

/* 20000 events in one test run, none read meanwhile: more than the ring holds. */
static int events_ring_full(void)
{
	struct row r = { .dev = DEV_A, UDP(IP_A, 45000, IP_C, 53) };
	struct xcni_evrate before, after;
	int err = evrate_sum(&before) ?: set_events(1, 0);

	env.nev = 0;
	/* The rewrite in place makes the runs after the first spoofed-MAC drops:
	 * events all the same. */
	err = err ?: run_n(&r, 1, 20000);
	err = err ?: evrate_sum(&after);
	set_events(0, 0);
	if (err)
		return err;
	if (after.sent + after.lost_full - before.sent - before.lost_full != 20000 ||
	    after.lost_full == before.lost_full || (uint64_t)env.nev != after.sent - before.sent) {
		fprintf(stderr, "20000 events: %d read, sent %llu, lost to the ring %llu\n", env.nev,
			(unsigned long long)(after.sent - before.sent),
			(unsigned long long)(after.lost_full - before.lost_full));
		return -EPROTO;
	}
	return 0;
}

/* A private netns with the veths, both objects sharing maps in a private pin dir. */
static int setup(void **state)
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
	/* fd00:10:96::/108 (v6.c's v6_svc_cidr). */
	env.from->rodata->svc_cidr6[0] = htonl(0xfd000010);
	env.from->rodata->svc_cidr6[1] = htonl(0x00960000);
	env.from->rodata->svc_mask6[0] = env.from->rodata->svc_mask6[1] = 0xffffffff;
	env.from->rodata->svc_mask6[2] = 0xffffffff;
	env.from->rodata->svc_mask6[3] = htonl(0xfff00000);
	if ((err = from_pod__load(env.from)))
		goto fail;
	/* Loaded after from_pod, so they pick up the maps it pinned. */
	env.to = to_pod__open_opts(&opts);
	if (!env.to || (err = to_pod__load(env.to)))
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
	if ((err = from_pod__load(env.from_ov)))
		goto fail;
	env.ovin = from_overlay__open_opts(&opts);
	if (!env.ovin)
		goto fail;
	env.ovin->rodata->node_ip = ip4(NODE_IP);
	env.ovin->rodata->vni = VNI;
	if ((err = from_overlay__load(env.ovin)))
		goto fail;
	env.ovout = to_overlay__open_opts(&opts);
	if (!env.ovout)
		goto fail;
	env.ovout->rodata->node_ip = ip4(NODE_IP);
	env.ovout->rodata->underlay_ifindex = env.ifindex[DEV_U];
	env.ovout->rodata->vni = VNI;
	if ((err = to_overlay__load(env.ovout)))
		goto fail;
	env.xdp = xdp_underlay__open_opts(&opts);
	if (!env.xdp || (err = xdp_underlay__load(env.xdp)))
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
	if ((err = from_pod__load(env.from_lb)))
		goto fail;
	env.to_lb = to_pod__open_opts(&opts);
	if (!env.to_lb)
		goto fail;
	env.to_lb->rodata->lb_enabled = 1;
	if ((err = to_pod__load(env.to_lb)))
		goto fail;
	env.ovin_lb = from_overlay__open_opts(&opts);
	if (!env.ovin_lb)
		goto fail;
	env.ovin_lb->rodata->node_ip = ip4(NODE_IP);
	env.ovin_lb->rodata->vni = VNI;
	env.ovin_lb->rodata->lb_enabled = 1;
	if ((err = from_overlay__load(env.ovin_lb)))
		goto fail;
	env.ovin_dsr = from_overlay__open_opts(&opts);
	if (!env.ovin_dsr)
		goto fail;
	env.ovin_dsr->rodata->node_ip = ip4(NODE_IP);
	env.ovin_dsr->rodata->vni = VNI;
	env.ovin_dsr->rodata->lb_enabled = 1;
	env.ovin_dsr->rodata->lb_dsr = 1;
	if ((err = from_overlay__load(env.ovin_dsr)))
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
	teardown(NULL);
	return err;
}

/*
 * The test run reruns one skb in place, rewrite included. So the rewrite
 * must hand the next run a packet that takes the same path: B's host MAC is
 * made A's MAC (the source MAC check passes again), and TTL 255 allows 254
 * forwarded runs before the TTL<=1 exit. Hence 4000 runs of 250 for the
 * forwarded figure; repeat=1000000 is printed beside it for what it is.
 */
static int bench(void)
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
static int map_clear(int fd, size_t ksz)
{
	size_t cap = 1024, n = 0;
	unsigned char *keys = malloc(cap * ksz), k[64];
	int first = 1;

	if (!keys)
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

/*
 * The policy cost of a new flow: B opens TCP flows to A, whose ingress policy
 * holds `rules` entries (random peers and ports), the one that allows B's flow
 * reached last (the any-peer lookup, after the identity and CIDR misses).
 * Each run is a new flow (its ct entry is removed in between), so every run
 * pays the lookups and the ct insert.
 */
static int bench_policy(void)
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

int main(int argc, char **argv)
{
	int err;

	if (argc > 1 && !strcmp(argv[1], "--bench-policy")) {
		if ((err = setup(NULL)))
			fprintf(stderr, "setup: %s\n", strerror(-err));
		else if ((err = bench_policy()))
			fprintf(stderr, "bench: %s\n", strerror(-err));
		teardown(NULL);
		return err ? 1 : 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--bench")) {
		if ((err = setup(NULL)))
			fprintf(stderr, "setup: %s\n", strerror(-err));
		else if ((err = bench()) || (err = bench6()) || (err = ul6_bench()))
			fprintf(stderr, "bench: %s\n", strerror(-err));
		teardown(NULL);
		return err ? 1 : 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--bench-lb")) {
		if ((err = setup(NULL)))
			fprintf(stderr, "setup: %s\n", strerror(-err));
		else if ((err = lb_bench()))
			fprintf(stderr, "bench: %s\n", strerror(-err));
		teardown(NULL);
		return err ? 1 : 0;
	}
	/* The groups in the order they run: each builds on the maps the ones
	 * before it leave. A new file of tests adds one line here. */
	struct CMUnitTest *hostile;
	size_t nh;

	if ((err = hostile_tests(&hostile, &nh))) {
		fprintf(stderr, "hostile rows: %s\n", strerror(-err));
		hostile_free();
		return 1;
	}
	const struct {
		const struct CMUnitTest *tests;
		size_t n;
	} groups[] = {
		{ NULL, ARRAY_SIZE(rows) }, /* the rows (below): policy on A, B, R */
		{ lb_tests, nr_lb_tests }, /* Services in BPF, on the state the rows left */
		{ lb_nodeport_tests, nr_lb_nodeport_tests }, /* NodePort and DSR, on lb.c's frontends */
		{ lb_icmp_np_tests, nr_lb_icmp_np_tests }, /* NodePort replies' ICMP errors, on lb.c's */
		{ xdp6_tests, nr_xdp6_tests }, /* the IPv6 prefilter: its own trie */
		{ hostile, nh }, /* the hostile-packet matrix (tests/bpf/hostile.c) */
		{ v6_tests, nr_v6_tests }, /* IPv6 (tests/bpf/v6.c), on the rows' endpoints */
		{ v6ovl_tests, nr_v6ovl_tests }, /* IPv6 across nodes (tests/bpf/v6ovl.c) */
		{ v6ul_tests, nr_v6ul_tests }, /* the IPv6 underlay (tests/bpf/v6ul.c) */
		{ lb6_tests, nr_lb6_tests }, /* IPv6 Services in BPF, on v6.c's endpoints */
		{ lb6_v6ul_tests, nr_lb6_v6ul_tests }, /* IPv6 NodePorts over the IPv6 underlay */
		{ lb6_icmp_ovl_tests, nr_lb6_icmp_ovl_tests }, /* from_overlay6's ICMPv6 reverse NAT, after lb6.c */
		{ lb6_icmp_np_tests, nr_lb6_icmp_np_tests }, /* IPv6 NodePort replies' ICMPv6 errors, after lb6.c */
		{ dsr6_tests, nr_dsr6_tests }, /* IPv6 NodePort DSR, on lb6.c's NodePorts */
		{ np_mtu_tests, nr_np_mtu_tests }, /* NodePorts' path MTU, on lb.c's and lb6.c's */
		{ attack_nd_tests, nr_attack_nd_tests }, /* ND/MLD beyond the link, outside hairpin */
		{ attack_ul_tests, nr_attack_ul_tests }, /* the underlay attacker, on all of the above */
		{ attack_geneve_tests, nr_attack_geneve_tests }, /* Geneve from a node's process */
		{ attack_ct_tests, nr_attack_ct_tests }, /* conntrack and fragments attacked, both families */
		{ cnp_tests, nr_cnp_tests }, /* tiered verdict entries and audit (tests/bpf/cnp.c), last */
	};
	struct CMUnitTest *all;
	size_t n = 0;

	for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
		n += groups[g].n;
	if (!(all = calloc(n, sizeof(*all)))) {
		hostile_free();
		return 1;
	}
	n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		all[n++] = (struct CMUnitTest){ .name = rows[i].name, .test_func = check_row,
						.initial_state = (void *)&rows[i] };
	for (size_t g = 1; g < ARRAY_SIZE(groups); g++) {
		memcpy(all + n, groups[g].tests, groups[g].n * sizeof(*all));
		n += groups[g].n;
	}
	err = _cmocka_run_group_tests("bpf", all, n, setup, teardown);
	free(all);
	hostile_free();
	return err;
}
