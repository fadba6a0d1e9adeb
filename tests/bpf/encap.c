// SPDX-License-Identifier: Apache-2.0
/*
 * The overlay, IPv4 in Geneve over the IPv4 underlay: from_pod and
 * to_overlay encapsulating to node n2, from_overlay taking n2's packets
 * apart, policy judged on both sides. The rows run in order.
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

int overlay_setup(void)
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

static const struct row encap_rows[] = {
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
};

const struct group encap_group = { "encap", ROWS(encap_rows), .prep = policy4_state };
