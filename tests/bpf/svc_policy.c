// SPDX-License-Identifier: Apache-2.0
/*
 * Policy on translated ClusterIP flows (IPv4, lb4_state: B's egress allows only
 * A on TCP 80, policy 10 rule 0; no IPv6 twin: lb6_setup opens the pods'
 * policy, one entry for both families): judged on the backend the flow was
 * translated to, the drop and verdict events naming Service and backend; a
 * pod's hairpin through its own Service passes whatever its egress says.
 */
#include <netinet/in.h>
#include <linux/pkt_cls.h>

#include "svc.h"

/*
 * Rows (check_row): policy is judged on the backend: B's egress allows A on TCP
 * 80 only, so its UDP through 10.96.1.11 (to C:53) is dropped, the event naming
 * the backend (the pod policy speaks about), the Service (its rev-NAT index)
 * and the backend it was translated to, neither entry left behind; its TCP
 * through 10.96.1.12 (to A:80) passes with a verdict event naming them. The
 * hairpin of the egress-isolated B: through 10.96.1.1 it reaches itself (B:8080)
 * from the loopback although its egress allows only A, as under kube-proxy,
 * whose masquerade hands the flow to the node: its egress is not asked, its
 * ingress sees the node.
 */
static const struct row svc_policy_rows[] = {
	{ "svc_policy_egress_drop_v4", FROM_POD_LB, DEV_B, UDP(IP_B, 47000, "10.96.1.11", 53),
	  NAT_DST(IP_C, 53), POLICY_DROP(DROP_POLICY_EGRESS), EV_SVC(11, 111) },
	{ "svc_policy_egress_allow_v4", FROM_POD_LB, DEV_B,
	  TCP(IP_B, 47001, "10.96.1.12", 80, TH_SYN), NAT_DST(IP_A, 80), REDIR(FWD_LOCAL),
	  BY(10, 0, FROM_POD), EV_SVC(12, 121) },
	{ "svc_hairpin_isolated_v4", FROM_POD_LB, DEV_B, TCP(IP_B, 45600, "10.96.1.1", 80, TH_SYN),
	  NAT_SRC(LB_LOOPBACK, 45600), NAT_DST(IP_B, 8080), REDIR(FWD_LOCAL) },
};

const struct group svc_policy_group = { "svc_policy", ROWS(svc_policy_rows), .prep = lb4_state };
