// SPDX-License-Identifier: Apache-2.0
/*
 * The hostile-packet matrix: what a pod, the host or another node can put on
 * the wire that nobody meant to send, through every program, each row with
 * its verdict and the one counter it bumps (check_row in harness.c), on the
 * maps svc_lib.c's lb_setup writes for the Services tests (prep lb4_state):
 *
 *   xta (A 10.99.5.10)  xtb (B .11)  xtc (C .12)   from_pod / to_pod
 *   xtx (no endpoint)                               to_overlay
 *   xtu underlay 192.168.77.1                       from_overlay, xdp_underlay
 *   n2 192.168.77.2 hosts R 10.99.6.5; n3 192.168.77.3 (added here) hosts R3 10.99.8.5
 *
 * Truncations are generated: every cut from 1 byte to the end of the L4
 * header, twice for IPv4 — once with tot_len claiming the whole packet (what
 * a cut packet carries: a length lie, BAD_IHL once the header is whole), once
 * with tot_len saying the truth (the parser's bounds checks: SHORT). The
 * kernel's test run refuses frames under 14 bytes, and IPv4 ones under 34
 * (-EINVAL): such frames cannot reach a tc program, and the rows say so.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "harness.h"

#define N3 "192.168.77.3"
#define IP_R3 "10.99.8.5" /* a pod on n3 */
#define ID_A 1000
#define ID_R3 2002
#define TH_ALL 0xff
#define TH_ECE 0x40
#define TH_CWR 0x80

static int n3_setup(void);
static int a_isolated_v1(void);
static int a_open(void);
static int quoted_flow_absent(void);
static int ctstat_mark(void);
static int ctstat_counted(void);
static int gen_quote_cuts(void);

/* An ICMP error's quote: the IPv4 header and first 8 bytes of a B->A UDP 7001->7002
 * datagram that never was. */
static uint8_t quote_ba[28];
/* ... of an A->B TCP 40000->80 segment: a flow of A and B, not of whoever sends it. */
static uint8_t quote_ab[28];

/* ... of live flows: A->B UDP 46101->7, A->8.8.8.8 UDP 46102->53, A->R UDP 46103->9. */
static uint8_t quote_ab_live[28], quote_aw_live[28], quote_ar_live[28];
/* ... of A->B UDP 46101->8: a port that flow never used. */
static uint8_t quote_ab_other[28];

#define QUOTE(q) .tail = q, .tail_len = sizeof(q)

static const struct row fixed[] = {
	/* Ethertypes a pod may not send: dropped and counted, never forwarded. */
	{ "from_pod: 802.1Q-tagged IPv4: dropped", .dev = DEV_A, .eth = ETH_P_8021Q,
	  UDP(IP_A, 46000, IP_B, 53), SHOT(DROP_NON_IP, EV_ZERO) },
	{ "from_pod: 802.1ad (QinQ) tagged IPv4: dropped", .dev = DEV_A, .eth = ETH_P_8021AD,
	  UDP(IP_A, 46000, IP_B, 53), SHOT(DROP_NON_IP, EV_ZERO) },
	{ "from_pod: LLDP (unknown ethertype): dropped", .dev = DEV_A, .eth = ETH_P_LLDP,
	  SHOT(DROP_NON_IP, EV_ZERO) },
	{ "from_pod: 802.3 length field as ethertype: dropped", .dev = DEV_A, .eth = 0x0040,
	  SHOT(DROP_NON_IP, EV_ZERO) },
	{ "to_pod: 802.1Q-tagged IPv4: dropped", .prog = TO_POD, .dev = DEV_A, .eth = ETH_P_8021Q,
	  UDP(IP_GW, 46000, IP_A, 53), SHOT(DROP_NON_IP, EV_ZERO) },
	{ "to_pod: 802.1ad: dropped", .prog = TO_POD, .dev = DEV_A, .eth = ETH_P_8021AD,
	  UDP(IP_GW, 46000, IP_A, 53), SHOT(DROP_NON_IP, EV_ZERO) },
	{ "to_overlay: IPv6 naming a hop-by-hop header it lacks: dropped", .prog = TO_OVERLAY,
	  .dev = DEV_X, .eth = ETH_P_IPV6, SHOT(DROP_EXTHDR, EV_ZERO) },
	{ "to_overlay: 802.1Q-tagged IPv4: dropped", .prog = TO_OVERLAY, .dev = DEV_X,
	  .eth = ETH_P_8021Q, UDP(NODE_IP, 46000, IP_R, 53), SHOT(DROP_NON_IP, EV_ZERO) },

	/* ARP: a pod speaks for its own address and MAC only. */
	{ "ARP reply from A for B's address: dropped", .dev = DEV_A, ARP(IP_B, IP_GW), .arp_op = 2,
	  SHOT(DROP_SPOOF_IP, EV_ZERO) },
	{ "gratuitous ARP request from A announcing B's address: dropped", .dev = DEV_A,
	  ARP(IP_B, IP_B), SHOT(DROP_SPOOF_IP, EV_ZERO) },
	{ "gratuitous ARP reply from A announcing B's address: dropped", .dev = DEV_A,
	  ARP(IP_B, IP_B), .arp_op = 2, SHOT(DROP_SPOOF_IP, EV_ZERO) },
	{ "gratuitous ARP from A announcing its own address: passed", .dev = DEV_A, ARP(IP_A, IP_A),
	  .arp_op = 2, OK(PASS_ARP) },
	{ "ARP reply from A for its address but B's MAC (frame from A's MAC): dropped",
	  .dev = DEV_A, ARP(IP_A, IP_GW), .arp_op = 2, .arp_sha = pods[DEV_B].mac,
	  SHOT(DROP_SPOOF_MAC, EV_ZERO) },
	{ "ARP from A in a frame with B's MAC: dropped", .dev = DEV_A, ARP(IP_A, IP_GW),
	  .smac = pods[DEV_B].mac, SHOT(DROP_SPOOF_MAC, EV_ZERO) },
	{ "ARP probe (sender 0.0.0.0, RFC 5227): not A's address, dropped", .dev = DEV_A,
	  ARP("0.0.0.0", IP_A), SHOT(DROP_SPOOF_IP, EV_ZERO) },

	/* IPv4 header lies. */
	{ "from_pod: tot_len 19, under the header: dropped", .dev = DEV_A, .tot_len = 19,
	  UDP(IP_A, 46001, IP_B, 53), SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "from_pod: tot_len 65535 on a 46-byte packet: dropped", .dev = DEV_A, .tot_len = 65535,
	  UDP(IP_A, 46001, IP_B, 53), SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "from_pod: tot_len one byte over the packet: dropped", .dev = DEV_A, .tot_len = 33,
	  UDP(IP_A, 46001, IP_B, 53), SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "from_pod: tot_len short of the frame (Ethernet padding): forwarded", .dev = DEV_A,
	  .tot_len = 28, UDP(IP_A, 46002, IP_B, 53), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "from_pod: version 6 behind the IPv4 ethertype: dropped", .dev = DEV_A, .ver = 6,
	  UDP(IP_A, 46001, IP_B, 53), SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "from_pod: IHL 15, 40 bytes of options, whole: ports after them, forwarded",
	  .dev = DEV_A, .ihl = 15, UDP(IP_A, 46003, IP_B, 53), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "to_pod: tot_len over the packet: dropped", .prog = TO_POD, .dev = DEV_A, .tot_len = 200,
	  UDP(IP_GW, 46004, IP_A, 53), SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "to_pod: IHL 3: dropped", .prog = TO_POD, .dev = DEV_A, .ihl = 3,
	  UDP(IP_GW, 46004, IP_A, 53), SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "to_overlay: tot_len over the packet: dropped", .prog = TO_OVERLAY, .dev = DEV_X,
	  .tot_len = 200, UDP(NODE_IP, 46005, IP_R, 53), SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "to_overlay: IHL 15, tot_len 20: dropped", .prog = TO_OVERLAY, .dev = DEV_X, .ihl = 15,
	  .tot_len = 20, UDP(NODE_IP, 46005, IP_R, 53), SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "from_overlay: inner tot_len over the packet: dropped", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, .tot_len = 200, UDP(IP_R, 46006, IP_A, 53),
	  SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "from_overlay: inner IHL 4: dropped", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  .ihl = 4, UDP(IP_R, 46006, IP_A, 53), SHOT(DROP_BAD_IHL, EV_ZERO) },
	{ "from_overlay: inner IHL 6 (options), whole: delivered", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, .ihl = 6, UDP(IP_R, 46007, IP_A, 53), REDIR(FWD_DECAP),
	  .ct = XCNI_CT_NEW },

	/* TCP flag sets: only a plain SYN (ECN's ECE/CWR allowed) opens a flow. */
	{ "from_pod: SYN+FIN of no flow: opens nothing", .dev = DEV_A,
	  TCP(IP_A, 46010, IP_B, 80, TH_SYN | TH_FIN), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true },
	{ "from_pod: SYN+RST of no flow: opens nothing", .dev = DEV_A,
	  TCP(IP_A, 46011, IP_B, 80, TH_SYN | TH_RST), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true },
	{ "from_pod: no flags (null scan): opens nothing", .dev = DEV_A,
	  TCP(IP_A, 46012, IP_B, 80, 0), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true },
	{ "from_pod: all flags (Xmas): opens nothing", .dev = DEV_A,
	  TCP(IP_A, 46013, IP_B, 80, TH_ALL), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true },
	{ "from_pod: FIN alone of no flow: opens nothing", .dev = DEV_A,
	  TCP(IP_A, 46014, IP_B, 80, TH_FIN), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true },
	{ "from_pod: SYN+ECE+CWR (ECN setup): a new flow", .dev = DEV_A,
	  TCP(IP_A, 46015, IP_B, 80, TH_SYN | TH_ECE | TH_CWR), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "to_pod: host SYN+FIN: opens nothing", .prog = TO_POD, .dev = DEV_A,
	  TCP(IP_GW, 46016, IP_A, 22, TH_SYN | TH_FIN), SHOT(DROP_CT_INVALID, EV_FULL),
	  .no_ct = true },
	{ "to_pod: Xmas from the world: opens nothing", .prog = TO_POD, .dev = DEV_A,
	  TCP("192.0.2.7", 46017, IP_A, 22, TH_ALL), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true },
	{ "from_overlay: SYN+FIN from R: opens nothing", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, TCP(IP_R, 46018, IP_A, 80, TH_SYN | TH_FIN), SHOT(DROP_CT_INVALID, EV_FULL),
	  .no_ct = true },
	{ "from_overlay: SYN+RST from R: opens nothing", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, TCP(IP_R, 46019, IP_A, 80, TH_SYN | TH_RST), SHOT(DROP_CT_INVALID, EV_FULL),
	  .no_ct = true },
	{ "to_overlay: A's SYN+FIN to R (after a Service's DNAT): opens nothing",
	  .prog = TO_OVERLAY, .dev = DEV_X, TCP(IP_A, 46020, IP_R, 80, TH_SYN | TH_FIN),
	  SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true, EP_OF(DEV_A), VIA_STACK },

	/* ICMP echo: a reply answers, it never opens. */
	{ "from_pod: echo reply nobody asked for: opens nothing", .dev = DEV_A,
	  ICMP(IP_A, IP_B, ICMP_ECHOREPLY, 4601), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true },
	{ "... so B's echo reply with that id is no reply either: opens nothing", .dev = DEV_B,
	  ICMP(IP_B, IP_A, ICMP_ECHOREPLY, 4601), SHOT(DROP_CT_INVALID, EV_FULL), .no_ct = true },

	/* ICMP errors are not flows: they store nothing, and one that answers no
	 * live flow of its destination is judged like any new packet from its
	 * source (nothing lets it past a policy as "related"). */
	{ "A->B unreachable quoting a B->A flow that never was: B admits A, delivered, nothing opened",
	  .dev = DEV_A, ICMP(IP_A, IP_B, ICMP_DEST_UNREACH, 0), QUOTE(quote_ba), REDIR(FWD_LOCAL),
	  .no_ct = true },
	{ "... neither the error nor the flow it quotes has an entry", .step = quoted_flow_absent },
	{ "policy: A isolated for ingress, only C on TCP 80 (11/0)", .step = a_isolated_v1 },
	{ "C->A unreachable quoting a flow that never was: A admits no ICMP, dropped", .dev = DEV_C,
	  ICMP(IP_C, IP_A, ICMP_DEST_UNREACH, 0), QUOTE(quote_ba), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "B->A the same: B's own egress (only A on TCP 80) stops it first", .dev = DEV_B,
	  ICMP(IP_B, IP_A, ICMP_DEST_UNREACH, 0), QUOTE(quote_ba), POLICY_DROP(DROP_POLICY_EGRESS) },
	{ "C->A time exceeded quoting A's flow with B (not C's): dropped", .dev = DEV_C,
	  ICMP(IP_C, IP_A, ICMP_TIME_EXCEEDED, 0), QUOTE(quote_ab), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "R->A unreachable via n2 quoting A's flow with B: dropped", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, ICMP(IP_R, IP_A, ICMP_DEST_UNREACH, 0), QUOTE(quote_ab),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "world->A frag-needed via to_pod quoting A's flow with B: dropped", .prog = TO_POD,
	  .dev = DEV_A, ICMP("192.0.2.7", IP_A, ICMP_DEST_UNREACH, 0), QUOTE(quote_ab),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	/* A TCP flow met mid-stream (its entry evicted by a full table, or
	 * expired) is judged as new: picked up when policy allows it, never
	 * passed when it does not. */
	{ "ctstat: counters now", .step = ctstat_mark },
	{ "B->A ACK mid-stream to TCP 80, A admits only C: judged, dropped", .dev = DEV_B,
	  TCP(IP_B, 46110, IP_A, 80, TH_ACK | TH_PUSH), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "C->A ACK mid-stream to TCP 80: judged, allowed (11/0), picked up", .dev = DEV_C,
	  TCP(IP_C, 46111, IP_A, 80, TH_ACK | TH_PUSH), REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED,
	  BY(11, 0, TO_POD) },
	{ "C->A ACK mid-stream to TCP 81: judged, dropped", .dev = DEV_C,
	  TCP(IP_C, 46112, IP_A, 81, TH_ACK), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "ctstat: the pickup and its entry counted, the refusals not", .step = ctstat_counted },
	{ "policy: A not isolated", .step = a_open },
	{ "... the errors left nothing behind", .step = quoted_flow_absent },

	/* ... but an error about a live flow, sent to the packet's sender from a
	 * place on the flow's path (the peer, a node, the outside for a flow with
	 * the outside), answers that flow: it passes as a reply would, so an
	 * isolated pod still learns of Packet Too Big and port unreachable. */
	{ "A->B UDP 46101->7: a live flow", .dev = DEV_A, UDP(IP_A, 46101, IP_B, 7),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
	{ "A->8.8.8.8 UDP 46102->53: a live flow with the outside", .dev = DEV_A,
	  UDP(IP_A, 46102, "8.8.8.8", 53), OK(FWD_STACK), .ct = XCNI_CT_NEW },
	{ "A->R UDP 46103->9: a live flow with a pod of n2", .prog = FROM_POD_OV, .dev = DEV_A,
	  UDP(IP_A, 46103, IP_R, 9), REDIR(FWD_ENCAP), .node = N2, .ct = XCNI_CT_NEW },
	{ "policy: A isolated for ingress again, only C on TCP 80", .step = a_isolated_v1 },
	{ "B->A port unreachable about A's datagram: related, past B's egress and A's ingress",
	  .dev = DEV_B, ICMP(IP_B, IP_A, ICMP_DEST_UNREACH, 3), QUOTE(quote_ab_live),
	  REDIR(FWD_REPLY), .no_ct = true },
	{ "B->A port unreachable about a port A never used: no flow, B's egress drops it",
	  .dev = DEV_B, ICMP(IP_B, IP_A, ICMP_DEST_UNREACH, 3), QUOTE(quote_ab_other),
	  POLICY_DROP(DROP_POLICY_EGRESS) },
	{ "C->A unreachable about A's live flow with B: C is not on its path, dropped",
	  .dev = DEV_C, ICMP(IP_C, IP_A, ICMP_DEST_UNREACH, 3), QUOTE(quote_ab_live),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "B->C unreachable about A's flow: not C's packet, judged: B's egress drops it", .dev = DEV_B,
	  ICMP(IP_B, IP_C, ICMP_DEST_UNREACH, 3), QUOTE(quote_ab_live),
	  POLICY_DROP(DROP_POLICY_EGRESS) },
	{ "world->A frag-needed via to_pod about A's flow with the outside: related",
	  .prog = TO_POD, .dev = DEV_A, ICMP("192.0.2.7", IP_A, ICMP_DEST_UNREACH, 4),
	  QUOTE(quote_aw_live), OK(FWD_REPLY), .no_ct = true },
	{ "node->A frag-needed via to_pod about A's flow with B: a node is on every path",
	  .prog = TO_POD, .dev = DEV_A, ICMP(IP_GW, IP_A, ICMP_DEST_UNREACH, 4),
	  QUOTE(quote_ab_live), OK(FWD_REPLY), .no_ct = true },
	{ "world->A frag-needed via to_pod about A's flow with B: the outside is not on it",
	  .prog = TO_POD, .dev = DEV_A, ICMP("192.0.2.7", IP_A, ICMP_DEST_UNREACH, 4),
	  QUOTE(quote_ab_live), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "R->A via n2 port unreachable about A's datagram to R: related, decapsulated",
	  .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, ICMP(IP_R, IP_A, ICMP_DEST_UNREACH, 3),
	  QUOTE(quote_ar_live), REDIR(FWD_DECAP), .no_ct = true },
	{ "R->A via n2 unreachable about A's flow with B: dropped", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, ICMP(IP_R, IP_A, ICMP_DEST_UNREACH, 3), QUOTE(quote_ab_live),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "policy: A not isolated", .step = a_open },

	/* Geneve from where it should not come, or carrying what it should not. */
	{ "overlay: node n3 hosts R3", .step = n3_setup },
	{ "Geneve from a pod's address (R), not a node's", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = IP_R, UDP(IP_R, 46030, IP_A, 53), SHOT(DROP_UNKNOWN_NODE, EV_OUTER), .no_ct = true },
	{ "Geneve from this node's own address", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = NODE_IP, UDP(IP_R, 46031, IP_A, 53), SHOT(DROP_UNKNOWN_NODE, EV_OUTER),
	  .no_ct = true },
	{ "n2 carrying n3's pod R3 as inner source", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  UDP(IP_R3, 46032, IP_A, 53), SHOT(DROP_INNER_SPOOF, EV_FULL), .no_ct = true },
	{ "n2 carrying n3's own address as inner source", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, UDP(N3, 46033, IP_A, 53), SHOT(DROP_INNER_SPOOF, EV_FULL), .no_ct = true },
	{ "n2 carrying a world address as inner source", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, UDP("8.8.8.8", 46034, IP_A, 53), SHOT(DROP_INNER_SPOOF, EV_FULL),
	  .no_ct = true },
	{ "n3 carrying its own pod R3: delivered", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N3,
	  UDP(IP_R3, 46035, IP_A, 53), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW },
	{ "Geneve claiming 63 option words (252 bytes) past the packet", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, .gnv_claim = 1 + 63, UDP(IP_R, 46036, IP_A, 53),
	  SHOT(DROP_BAD_GENEVE, EV_OUTER), .no_ct = true },
	{ "Geneve claiming 4 option words, carrying 2: inner Ethernet misread", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, .optwords = 2, .gnv_claim = 1 + 4, UDP(IP_R, 46037, IP_A, 53),
	  SHOT(DROP_BAD_GENEVE, EV_OUTER), .no_ct = true },
	{ "Geneve claiming 1 option word, carrying 2: inner Ethernet misread", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, .optwords = 2, .gnv_claim = 1 + 1, UDP(IP_R, 46038, IP_A, 53),
	  SHOT(DROP_BAD_GENEVE, EV_OUTER), .no_ct = true },
	{ "Geneve carrying IPv6 naming a hop-by-hop header it lacks: dropped",
	  .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, .eth = ETH_P_IPV6, .src = IP_R,
	  .dst = IP_A, SHOT(DROP_EXTHDR, EV_ZERO) },
	{ "Geneve carrying an 802.1Q-tagged frame", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  .eth = ETH_P_8021Q, UDP(IP_R, 46039, IP_A, 53), SHOT(DROP_BAD_GENEVE, EV_OUTER) },
	{ "Geneve in Geneve, R to this node's Geneve port: dropped", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, UDP(IP_R, 46040, NODE_IP, XCNI_GENEVE_PORT),
	  SHOT(DROP_GENEVE_INJECT, EV_FULL) },
	{ "Geneve in Geneve, n2 itself to this node's Geneve port: dropped", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, UDP(N2, 46041, NODE_IP, XCNI_GENEVE_PORT),
	  SHOT(DROP_GENEVE_INJECT, EV_FULL) },
	{ "Geneve in Geneve to pod A's UDP 6081: a pod's port like any, delivered",
	  .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  UDP(IP_R, 46042, IP_A, XCNI_GENEVE_PORT), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW },

	/* XDP: what the prefilter cannot read, it leaves to tc. */
	{ "XDP: deny-listed source with IP options: dropped", .prog = XDP, .dev = DEV_U,
	  .plain = true, .ihl = 6, UDP("203.0.113.5", 5000, NODE_IP, 53), .ret = XDP_DROP,
	  .reason = XCNI_DROP_PREFILTER },
	{ "XDP: deny-listed source behind an 802.1Q tag: dropped (tags looked through)", .prog = XDP,
	  .dev = DEV_U, .plain = true, .eth = ETH_P_8021Q, UDP("203.0.113.5", 5000, NODE_IP, 53),
	  .ret = XDP_DROP, .reason = XCNI_DROP_PREFILTER },
	{ "XDP: deny-listed source behind an 802.1ad tag: dropped", .prog = XDP,
	  .dev = DEV_U, .plain = true, .eth = ETH_P_8021AD, UDP("203.0.113.5", 5000, NODE_IP, 53),
	  .ret = XDP_DROP, .reason = XCNI_DROP_PREFILTER },
	{ "XDP: a source not on the list behind an 802.1Q tag: passed", .prog = XDP,
	  .dev = DEV_U, .plain = true, .eth = ETH_P_8021Q, UDP("203.0.114.5", 5000, NODE_IP, 53),
	  .ret = XDP_PASS, .uncounted = true },
};

/* A frame to cut: where its (inner) IPv4 header starts and ends, its L4 header's size. */
struct tmpl {
	const char *what;
	struct row r;
	size_t l3; /* offset of the (inner) IPv4 header; 0: ARP */
	size_t l4; /* L4 header bytes the program reads */
};

static const struct tmpl tmpls[] = {
	{ "from_pod TCP", { .dev = DEV_A, TCP(IP_A, 47000, IP_B, 80, TH_SYN) }, ETH_HLEN, 20 },
	{ "from_pod TCP, IHL 6", { .dev = DEV_A, .ihl = 6, TCP(IP_A, 47001, IP_B, 80, TH_SYN) },
	  ETH_HLEN, 20 },
	{ "from_pod UDP", { .dev = DEV_A, UDP(IP_A, 47002, IP_B, 53) }, ETH_HLEN, 8 },
	{ "from_pod ICMP echo", { .dev = DEV_A, ICMP(IP_A, IP_B, ICMP_ECHO, 4700) }, ETH_HLEN, 8 },
	{ "from_pod SCTP", { .dev = DEV_A, .src = IP_A, .sport = 47003, .dst = IP_B, .dport = 5000,
			     .proto = IPPROTO_SCTP }, ETH_HLEN, 12 },
	{ "from_pod ARP", { .dev = DEV_A, ARP(IP_A, IP_GW) }, 0, 0 },
	{ "to_pod TCP", { .prog = TO_POD, .dev = DEV_A, TCP("192.0.2.7", 47004, IP_A, 22, TH_SYN) },
	  ETH_HLEN, 20 },
	{ "to_pod UDP, IHL 6", { .prog = TO_POD, .dev = DEV_A, .ihl = 6,
				 UDP("192.0.2.7", 47005, IP_A, 53) }, ETH_HLEN, 8 },
	{ "to_pod ICMP", { .prog = TO_POD, .dev = DEV_A, ICMP(IP_GW, IP_A, ICMP_ECHO, 4701) },
	  ETH_HLEN, 8 },
	{ "to_pod SCTP", { .prog = TO_POD, .dev = DEV_A, .src = IP_GW, .sport = 47006, .dst = IP_A,
			   .dport = 5000, .proto = IPPROTO_SCTP }, ETH_HLEN, 12 },
	{ "to_overlay TCP", { .prog = TO_OVERLAY, .dev = DEV_X,
			      TCP(NODE_IP, 47007, IP_R, 80, TH_SYN) }, ETH_HLEN, 20 },
	{ "to_overlay UDP, IHL 6", { .prog = TO_OVERLAY, .dev = DEV_X, .ihl = 6,
				     UDP(NODE_IP, 47008, IP_R, 53) }, ETH_HLEN, 8 },
	{ "to_overlay ICMP", { .prog = TO_OVERLAY, .dev = DEV_X,
			       ICMP(NODE_IP, IP_R, ICMP_ECHO, 4702) }, ETH_HLEN, 8 },
	{ "to_overlay SCTP", { .prog = TO_OVERLAY, .dev = DEV_X, .src = NODE_IP, .sport = 47009,
			       .dst = IP_R, .dport = 5000, .proto = IPPROTO_SCTP }, ETH_HLEN, 12 },
	/* Outer Ethernet 14, IPv4 20, UDP 8, Geneve 8, options 8, inner Ethernet 14: 72. */
	{ "from_overlay TCP, 2 option words", { .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
						.optwords = 2, TCP(IP_R, 47010, IP_A, 80, TH_SYN) },
	  72, 20 },
	{ "from_overlay UDP, inner IHL 6", { .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
					     .optwords = 2, .ihl = 6, UDP(IP_R, 47011, IP_A, 53) },
	  72, 8 },
	{ "from_overlay ICMP", { .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, .optwords = 2,
				 ICMP(IP_R, IP_A, ICMP_ECHO, 4703) }, 72, 8 },
	{ "from_overlay SCTP", { .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, .optwords = 2,
				 .src = IP_R, .sport = 47012, .dst = IP_A, .dport = 5000,
				 .proto = IPPROTO_SCTP }, 72, 12 },
	{ "xdp_underlay UDP from a deny-listed source", { .prog = XDP, .dev = DEV_U, .plain = true,
							  UDP("203.0.113.5", 5000, NODE_IP, 53) },
	  ETH_HLEN, 8 },
};

static struct row *gen;
static struct CMUnitTest *tests;
static size_t ngen, cap;

static struct row *add(const struct row *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static struct row *add(const struct row *r, const char *fmt, ...)
{
	va_list ap;
	char *name;

	if (ngen == cap)
		return NULL;
	va_start(ap, fmt);
	if (vasprintf(&name, fmt, ap) < 0)
		name = NULL;
	va_end(ap);
	if (!name)
		return NULL;
	gen[ngen] = *r;
	gen[ngen].name = name;
	return &gen[ngen++];
}

static void expect(struct row *r, int ret, int reason, int ev)
{
	r->ret = ret;
	r->reason = reason;
	r->ev = ev;
}

/* Where a cut falls in a from_overlay frame with 2 option words. */
static const char *outer_part(size_t cut)
{
	return cut < 14 ? "outer Ethernet" : cut < 34 ? "outer IPv4" : cut < 42 ? "outer UDP" :
	       cut < 50 ? "Geneve" : cut < 58 ? "Geneve options" : "inner Ethernet";
}

/*
 * The cuts of one template. lie: tot_len claims the whole packet; else it says
 * what the cut left (only cuts past the IPv4 header: shorter ones are the lie rows').
 */
static int gen_cuts(const struct tmpl *t, bool lie)
{
	struct row base = t->r, *r;
	size_t ihl = t->r.ihl ? t->r.ihl * 4u : 20, hdr = t->l3 + ihl, end = hdr + t->l4;
	const char *fam = lie ? "tot_len the whole" : "tot_len the cut";
	bool ov = t->r.prog == FROM_OVERLAY, xdp = t->r.prog == XDP;

	if (!t->l3) { /* ARP: 8 bytes of header, 20 of body */
		for (size_t cut = 1; cut < ETH_HLEN + 28 && lie; cut++) {
			if (!(r = add(&base, "%s cut at %zu (in %s)", t->what, cut,
				      cut < 14 ? "Ethernet" : cut < 22 ? "ARP header" : "ARP body")))
				return -ENOMEM;
			r->cut = cut;
			if (cut < ETH_HLEN)
				r->err = -EINVAL;
			else
				expect(r, TC_ACT_SHOT, XCNI_DROP_SHORT, EV_ZERO);
		}
		return 0;
	}
	for (size_t cut = lie ? 1 : t->l3 + 20; cut <= end; cut++) {
		const char *part = cut < t->l3 ? (ov ? outer_part(cut) : "Ethernet") :
				   cut < t->l3 + 20 ? "IPv4" : cut < hdr ? "IPv4 options" :
				   cut < end ? "L4 header" : "payload";

		/* The whole header, honestly: a valid packet. A TCP frame (no
		 * payload) ends with its header: no cut there either. */
		if (cut == end && (!lie || t->r.proto == IPPROTO_TCP))
			continue;
		if (!(r = add(&base, "%s cut at %zu (in %s), %s", t->what, cut, part, fam)))
			return -ENOMEM;
		r->cut = cut;
		if (!lie)
			r->tot_len = cut - t->l3;
		if (cut < ETH_HLEN || (cut < ETH_HLEN + 20 && !xdp)) {
			r->err = -EINVAL; /* the kernel's test run: no tc program sees these */
		} else if (xdp) {
			/* Under an IPv4 header the source is unknown: left to tc (the stack
			 * drops a truncated header); from there the deny list decides. */
			if (cut < ETH_HLEN + 20) {
				r->ret = XDP_PASS;
				r->uncounted = true;
			} else {
				r->ret = XDP_DROP;
				r->reason = XCNI_DROP_PREFILTER;
			}
		} else if (ov && cut < 42) {
			r->ret = TC_ACT_OK; /* not a whole UDP header: not known as Geneve, not ours */
			r->uncounted = true;
		} else if (ov && cut < t->l3) {
			expect(r, TC_ACT_SHOT, XCNI_DROP_BAD_GENEVE, EV_OUTER);
		} else if (cut < t->l3 + 20) {
			expect(r, TC_ACT_SHOT, XCNI_DROP_SHORT, EV_ZERO);
		} else if (cut < hdr) {
			/* Options past the packet: SHORT; tot_len under the header: BAD_IHL. */
			expect(r, TC_ACT_SHOT, lie ? XCNI_DROP_SHORT : XCNI_DROP_BAD_IHL, EV_ZERO);
		} else {
			/* A whole IPv4 header claiming more than is there, or the truth
			 * about an L4 header cut short. */
			expect(r, TC_ACT_SHOT, lie ? XCNI_DROP_BAD_IHL : XCNI_DROP_SHORT,
			       lie ? EV_ZERO : EV_ADDRS);
		}
		if (r->ret == TC_ACT_SHOT)
			r->no_ct = true;
	}
	return 0;
}

/*
 * An ICMP error whose quote is cut short (tot_len honest), through from_pod
 * with Services on: lb4_icmp_rev_nat reads the quote for a translated flow and
 * must not read past it. A->B, neither isolated: delivered as it came.
 */
static int gen_quote_cuts(void)
{
	static const struct row base = { .prog = FROM_POD_LB, .dev = DEV_A,
					 ICMP(IP_A, IP_B, ICMP_DEST_UNREACH, 0), QUOTE(quote_ab),
					 .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_LOCAL,
					 .no_ct = true };
	struct row *r;

	for (uint8_t q = 0; q < sizeof(quote_ab); q++) {
		if (!(r = add(&base, "from_pod (lb) ICMP error, quote cut to %u bytes: delivered as is",
			      q)))
			return -ENOMEM;
		r->tail_len = q;
	}
	return 0;
}

static void quote(uint8_t q[28], const char *src, uint16_t sport, const char *dst,
		  uint16_t dport, uint8_t proto)
{
	struct iphdr *ip = (struct iphdr *)q;

	memset(q, 0, 28);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(1400);
	ip->ttl = 64;
	ip->protocol = proto;
	ip->saddr = ip4(src);
	ip->daddr = ip4(dst);
	ip->check = csum(ip, 20);
	*(uint16_t *)(q + 20) = htons(sport);
	*(uint16_t *)(q + 22) = htons(dport);
}

static int hostile_tests(struct CMUnitTest **out, size_t *n)
{
	int err;

	quote(quote_ba, IP_B, 7001, IP_A, 7002, IPPROTO_UDP);
	quote(quote_ab, IP_A, 40000, IP_B, 80, IPPROTO_TCP);
	quote(quote_ab_live, IP_A, 46101, IP_B, 7, IPPROTO_UDP);
	quote(quote_ab_other, IP_A, 46101, IP_B, 8, IPPROTO_UDP);
	quote(quote_aw_live, IP_A, 46102, "8.8.8.8", 53, IPPROTO_UDP);
	quote(quote_ar_live, IP_A, 46103, IP_R, 9, IPPROTO_UDP);
	cap = ARRAY_SIZE(fixed) + 4096;
	gen = calloc(cap, sizeof(*gen));
	tests = calloc(cap, sizeof(*tests));
	if (!gen || !tests)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		if (!add(&fixed[i], "%s", fixed[i].name))
			return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(tmpls); i++)
		if ((err = gen_cuts(&tmpls[i], true)) || (err = gen_cuts(&tmpls[i], false)))
			return err;
	/* The same programs with Services in BPF on: nothing of lb runs before
	 * the parse, so the same verdicts. */
	for (size_t i = 0; i < ARRAY_SIZE(tmpls); i++) {
		struct tmpl t = tmpls[i];
		char what[64];

		if (t.r.prog != FROM_POD && t.r.prog != TO_POD)
			continue;
		t.r.prog = t.r.prog == FROM_POD ? FROM_POD_LB : TO_POD_LB;
		snprintf(what, sizeof(what), "%s (lb)", t.what);
		t.what = what;
		if ((err = gen_cuts(&t, true)) || (err = gen_cuts(&t, false)))
			return err;
	}
	if ((err = gen_quote_cuts()))
		return err;
	for (size_t i = 0; i < ngen; i++)
		tests[i] = (struct CMUnitTest){ .name = gen[i].name, .test_func = check_row,
						.initial_state = &gen[i] };
	*out = tests;
	*n = ngen;
	return 0;
}

static void hostile_free(void)
{
	for (size_t i = 0; i < ngen; i++)
		free((char *)gen[i].name);
	free(gen);
	free(tests);
	gen = NULL;
	tests = NULL;
	ngen = 0;
}

static int n3_setup(void)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(IP_R3) };
	struct xcni_ipcache_val v = { .identity = ID_R3, .tunnel_ip = ip4(N3), .flags = XCNI_IPC_POD };
	struct xcni_tunnel t = { .pod_cidr = ip4("10.99.8.0"), .pod_cidr_len = 24, .node = "n3" };
	uint32_t n3 = ip4(N3);
	int fd = map_fd("xcni_ipcache");

	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	k.addr = n3;
	v = (struct xcni_ipcache_val){ .identity = XCNI_ID_REMOTE_NODE, .tunnel_ip = n3 };
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	return bpf_map_update_elem(map_fd("xcni_tunnel"), &n3, &t, BPF_ANY) ? -errno : 0;
}

/* Version 1 of A's ingress policy, left in the maps by the rows: only C on TCP 80. */
static int a_isolated_v1(void)
{
	struct xcni_polep v = { .identity = ID_A, .version = 1, .isolated = XCNI_ISOLATED(TO_POD) };
	uint32_t ip = ip4(IP_A);

	if (bpf_map_update_elem(map_fd("xcni_polep"), &ip, &v, BPF_ANY))
		return -errno;
	return polrev_bump();
}

static int a_open(void)
{
	uint32_t ip = ip4(IP_A);

	if (bpf_map_delete_elem(map_fd("xcni_polep"), &ip) && errno != ENOENT)
		return -errno;
	return polrev_bump();
}

/* xcni_ctstat's BPF slot, summed over the CPUs. */
static int ctstat_sum(uint64_t *created, uint64_t *pickups)
{
	int ncpu = libbpf_num_possible_cpus(), fd = map_fd("xcni_ctstat");
	struct xcni_ctstat v[ncpu];
	uint32_t k = XCNI_CTSTAT_BPF;

	if (fd < 0 || bpf_map_lookup_elem(fd, &k, v))
		return -errno;
	*created = *pickups = 0;
	for (int i = 0; i < ncpu; i++) {
		*created += v[i].created;
		*pickups += v[i].pickups;
	}
	return 0;
}

static uint64_t mark_created, mark_pickups;

static int ctstat_mark(void)
{
	return ctstat_sum(&mark_created, &mark_pickups);
}

/* Since the mark: one flow picked up (created and pickups +1), the refusals nothing. */
static int ctstat_counted(void)
{
	uint64_t created, pickups;
	int err = ctstat_sum(&created, &pickups);

	if (err)
		return err;
	return created == mark_created + 1 && pickups == mark_pickups + 1 ? 0 : -EINVAL;
}

/* No entry for the quoted flows, either way round: an error opens nothing. */
static int quoted_flow_absent(void)
{
	static const struct row q[] = {
		{ UDP(IP_B, 7001, IP_A, 7002) },
		{ TCP(IP_A, 40000, IP_B, 80, 0) },
	};
	int fd = bpf_map__fd(env.from->maps.xcni_ct);

	for (size_t i = 0; i < ARRAY_SIZE(q); i++) {
		struct xcni_ct_key k = tuple_of(&q[i], false), rk = tuple_of(&q[i], true);
		struct xcni_ct_entry e;

		/* A->B TCP 40000->80 was a flow of the first rows, closed: it may
		 * remain as it was, but nothing may have revived it. */
		if (!bpf_map_lookup_elem(fd, &k, &e) && e.state != XCNI_CT_CLOSED)
			return -EEXIST;
		if (!bpf_map_lookup_elem(fd, &rk, &e))
			return -EEXIST;
	}
	return 0;
}

const struct group hostile_group = { "hostile", .make = hostile_tests, .free = hostile_free, .prep = lb4_state };
