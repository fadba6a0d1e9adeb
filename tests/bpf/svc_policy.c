// SPDX-License-Identifier: Apache-2.0
/*
 * Policy on translated ClusterIP flows (IPv4, lb_state: B's egress allows only
 * A on TCP 80, policy 10 rule 0; no IPv6 twin: lb6_setup opens the pods'
 * policy, one entry for both families): judged on the backend the flow was
 * translated to, the drop and verdict events naming Service and backend; a
 * pod's hairpin through its own Service passes whatever its egress says.
 */
#include <arpa/inet.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "svc.h"

/* Policy is judged on the backend: B's egress allows A on TCP 80 only. */
static void lb_policy(void **state)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_dev(DEV_B, IP_B, 47000, "10.96.1.11", 53, IPPROTO_UDP, 0), t;
	size_t len, wlen;
	int found;

	(void)state;
	len = frame(&f, in);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_SHOT, XCNI_DROP_POLICY_EGRESS, NULL, 0);
	/* The event names the backend, the pod policy speaks about. */
	assert_int_equal(env.ev[0].daddr, ip4(IP_C));
	assert_int_equal(env.ev[0].dport, htons(53));
	/* And the Service (its rev-NAT index) and backend it was translated to. */
	assert_int_equal(env.ev[0].rev_nat, 11);
	assert_int_equal(env.ev[0].backend_id, 111);
	/* Refused: neither entry left behind. */
	ct_get(ip4(IP_B), ip4("10.96.1.11"), 47000, 53, IPPROTO_UDP, &found);
	assert_false(found);
	ct_get(ip4(IP_B), ip4(IP_C), 47000, 53, IPPROTO_UDP, &found);
	assert_false(found);

	f = from_dev(DEV_B, IP_B, 47001, "10.96.1.12", 80, IPPROTO_TCP, TH_SYN);
	len = frame(&f, in);
	t = into(f, DEV_A);
	t.daddr = ip4(IP_A);
	wlen = frame(&t, want);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
	assert_int_equal(env.nev, 1);
	assert_int_equal(env.ev[0].type, XCNI_EV_VERDICT);
	assert_int_equal(env.ev[0].policy_id, 10);
	assert_int_equal(env.ev[0].daddr, ip4(IP_A));
	assert_int_equal(env.ev[0].rev_nat, 12);
	assert_int_equal(env.ev[0].backend_id, 121);
}

/*
 * Hairpin of an egress-isolated pod: B through 10.96.1.1 reaches itself (B:8080)
 * although its egress allows only A, as under kube-proxy, whose masquerade hands
 * the flow to the node: its egress is not asked, its ingress sees the node.
 */
static void lb_hairpin_isolated(void **state)
{
	(void)state;
	hairpin_syn(DEV_B, IP_B, 45600, "10.96.1.1", 8080, LB_LOOPBACK);
}

static const struct CMUnitTest svc_policy_tests[] = {
	cmocka_unit_test(lb_policy),
	cmocka_unit_test(lb_hairpin_isolated),
};

const struct group svc_policy_group = { "svc_policy", TESTS(svc_policy_tests), .prep = lb_state };
