// SPDX-License-Identifier: Apache-2.0
/*
 * ClusterNetworkPolicy's verdict entries in the data plane (issue 28),
 * through BPF_PROG_TEST_RUN, last of the groups (it leaves A, B and C's
 * policy as it wants it). The entries are what user/lib/policy/policy_cnp.c writes
 * for a tiered pod: every decision an entry, denials too (XCNI_POLV_DENY,
 * the tier in the flags), the most specific entry deciding. Under policy
 * version 7, a key space no other group uses:
 *
 *   A ingress (isolated), from B: TCP 80 NetworkPolicy 7/0, TCP 22 Admin
 *     301/0 Accept, TCP 5555 NetworkPolicy 7/3, anything else NetworkPolicy's
 *     "isolated, nothing allows" (policy 0)
 *   A ingress, from C: TCP 80 Admin 301/1 Deny (a NetworkPolicy allowed it),
 *     TCP 8080 passed by Admin 301/4, NetworkPolicy 7/2 allows, TCP 8081
 *     passed, nothing allows; TCP 9000-9003 Admin 301/2 Accept (a range)
 *     under TCP's any-port Admin 301/3 Deny; anything else 301/1 Deny
 *   A egress (no NetworkPolicy selects it), to C: UDP Baseline 302/0 Deny,
 *     anything else allowed by default (no tier decided)
 *   B egress, to A: TCP 5555 Admin 303/0 Deny in audit mode, else allowed
 *   A egress to its own node (XCNI_POLEP_HOST_EGRESS: its tiers judge it):
 *     the node's address (NODE_IP, host identity) in group G_NODE: TCP 10250
 *     Admin 304/0 Deny, anything else allowed; the gateway (host identity
 *     too, no group) as any peer; B (not flagged) reaches its node unjudged
 *   then closed addresses (issue 41): C's address unmanaged (changing owner,
 *     contested) while A's ingress allows any other peer: no entry judges it,
 *     not the any-peer allow beside the Admin Deny of C; A closed (overflow)
 *     with its egress to its node compiled by its tiers: closed to its node
 *     too, the node still reaching it
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "harness.h"

#define ID_A 1000 /* harness.h's identities for A, B, C */
#define ID_B 1001
#define ID_C 1002
#define V 7
#define TCP_P IPPROTO_TCP
#define ADM (XCNI_TIER_ADMIN << XCNI_POLV_TIER_SHIFT)
#define BASE (XCNI_TIER_BASELINE << XCNI_POLV_TIER_SHIFT)
#define DEF (XCNI_TIER_DEFAULT << XCNI_POLV_TIER_SHIFT)
#define DENYF XCNI_POLV_DENY
#define AUDITF XCNI_POLV_AUDIT

/* One verdict entry: bits 0 any protocol, 16 one port, 1..15 a range (polrange). */
static int put(const char *ep, uint8_t dir, uint32_t peer, uint8_t proto, uint16_t port, int bits,
	       uint32_t id, uint16_t rule, uint16_t flags)
{
	struct xcni_polhash_key hk = { .ep = ip4(ep), .peer = peer, .version = V, .dir = dir,
				       .proto = proto, .port = bits ? htons(port) : 0 };
	struct xcni_policy_key k = { .ep = ip4(ep), .peer = peer, .version = V, .dir = dir,
				     .proto = proto, .port = htons(port) };
	struct xcni_policy_val v = { .policy_id = id, .rule = rule, .flags = flags };

	k.prefixlen = proto ? XCNI_POLICY_PREFIX_ANY_PORT + bits : XCNI_POLICY_PREFIX_ANY_PROTO;
	if (bits && bits < 16)
		return bpf_map_update_elem(map_fd("xcni_polrange"), &k, &v, BPF_ANY) ? -errno : 0;
	return bpf_map_update_elem(map_fd("xcni_policy"), &hk, &v, BPF_ANY) ? -errno : 0;
}

static int polep(const char *ep, uint32_t id, uint8_t isolated, uint8_t has_in, uint8_t has_out)
{
	struct xcni_polep v = { .identity = id, .version = V, .isolated = isolated };
	uint32_t ip = ip4(ep);

	v.has[TO_POD] = has_in;
	v.has[FROM_POD] = has_out;
	return bpf_map_update_elem(map_fd("xcni_polep"), &ip, &v, BPF_ANY) ? -errno : 0;
}

#define G_NODE (XCNI_ID_CIDR_BASE + 70)

static int cidr_group(const char *ep, uint8_t dir, const char *addr, uint32_t group)
{
	struct xcni_polcidr_key k = { .prefixlen = XCNI_POLCIDR_PREFIX_BASE + 32, .ep = ip4(ep),
				      .version = V, .dir = dir, .addr = ip4(addr) };

	return bpf_map_update_elem(map_fd("xcni_polcidr"), &k, &group, BPF_ANY) ? -errno : 0;
}

static int ipc(const char *addr, uint32_t identity)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(addr) };
	struct xcni_ipcache_val v = { .identity = identity };

	return bpf_map_update_elem(map_fd("xcni_ipcache"), &k, &v, BPF_ANY) ? -errno : 0;
}

#define A_ISOLATED (XCNI_ISOLATED(TO_POD) | XCNI_ISOLATED(FROM_POD) | XCNI_POLEP_HOST_EGRESS)
#define A_HAS_IN (XCNI_HAS_RANGE | XCNI_HAS_ANY_PORT | XCNI_HAS_ANY_PROTO)
#define A_HAS_OUT (XCNI_HAS_ANY_PORT | XCNI_HAS_ANY_PROTO | XCNI_HAS_CIDR)

static void cnp_setup(void **state)
{
	const uint8_t in = TO_POD, out = FROM_POD;
	int err = 0;

	(void)state;
	err = err ?: ipc(IP_A, ID_A);
	err = err ?: ipc(IP_B, ID_B);
	err = err ?: ipc(IP_C, ID_C);
	/* A's ingress */
	err = err ?: put(IP_A, in, ID_B, TCP_P, 80, 16, 7, 0, 0);
	err = err ?: put(IP_A, in, ID_B, TCP_P, 22, 16, 301, 0, ADM);
	err = err ?: put(IP_A, in, ID_B, TCP_P, 5555, 16, 7, 3, 0);
	err = err ?: put(IP_A, in, ID_B, 0, 0, 0, 0, 0, DENYF);
	err = err ?: put(IP_A, in, ID_C, TCP_P, 80, 16, 301, 1, DENYF | ADM);
	err = err ?: put(IP_A, in, ID_C, TCP_P, 8080, 16, 7, 2, 0);
	err = err ?: put(IP_A, in, ID_C, TCP_P, 8081, 16, 0, 0, DENYF);
	err = err ?: put(IP_A, in, ID_C, TCP_P, 9000, 14, 301, 2, ADM);
	err = err ?: put(IP_A, in, ID_C, TCP_P, 0, 0, 301, 3, DENYF | ADM);
	err = err ?: put(IP_A, in, ID_C, 0, 0, 0, 301, 1, DENYF | ADM);
	/* A's egress: Baseline only */
	err = err ?: put(IP_A, out, ID_C, IPPROTO_UDP, 0, 0, 302, 0, DENYF | BASE);
	err = err ?: put(IP_A, out, ID_C, 0, 0, 0, 0, 0, DEF);
	err = err ?: put(IP_A, out, XCNI_ID_ANY, 0, 0, 0, 0, 0, DEF);
	/* A's egress to its node: by the node's address */
	err = err ?: ipc(NODE_IP, XCNI_ID_HOST);
	err = err ?: ipc(IP_GW, XCNI_ID_HOST);
	err = err ?: cidr_group(IP_A, out, NODE_IP, G_NODE);
	err = err ?: put(IP_A, out, G_NODE, TCP_P, 10250, 16, 304, 0, DENYF | ADM);
	err = err ?: put(IP_A, out, G_NODE, 0, 0, 0, 0, 0, DEF);
	/* B's egress: an audited Admin Deny */
	err = err ?: put(IP_B, out, ID_A, TCP_P, 5555, 16, 303, 0, DENYF | AUDITF | ADM);
	err = err ?: put(IP_B, out, XCNI_ID_ANY, 0, 0, 0, 0, 0, DEF);
	err = err ?: polep(IP_A, ID_A, A_ISOLATED, A_HAS_IN, A_HAS_OUT);
	err = err ?: polep(IP_B, ID_B, XCNI_ISOLATED(FROM_POD), 0, XCNI_HAS_ANY_PROTO);
	err = err ?: polep(IP_C, ID_C, 0, 0, 0);
	err = err ?: polrev_bump();
	assert_int_equal(err, 0);
}

/*
 * A closed address (issue 41): C's, as polsync closes an address changing
 * owner or the compiler a contested one (XCNI_ID_UNMANAGED), beside an allow
 * of any other peer on A's ingress (what policy_cnp.c writes for "Admin Deny
 * of one namespace, the rest allowed"). Then A closed itself (overflow) with
 * its egress to its node compiled by its tiers (XCNI_POLEP_HOST_EGRESS).
 */
static int closed_on(void)
{
	int err = ipc(IP_C, XCNI_ID_UNMANAGED);

	err = err ?: put(IP_A, TO_POD, XCNI_ID_ANY, 0, 0, 0, 0, 0, DEF);
	return err ?: polrev_bump();
}

static int closed_off(void)
{
	struct xcni_polhash_key hk = { .ep = ip4(IP_A), .peer = XCNI_ID_ANY, .version = V,
				       .dir = TO_POD };
	int err = ipc(IP_C, ID_C);

	if (!err && bpf_map_delete_elem(map_fd("xcni_policy"), &hk))
		err = -errno;
	return err ?: polrev_bump();
}

static int a_overflow(void)
{
	int err = polep(IP_A, ID_A, A_ISOLATED | XCNI_POLEP_OVERFLOW, 0, 0);

	return err ?: polrev_bump();
}

static int a_back(void)
{
	int err = polep(IP_A, ID_A, A_ISOLATED, A_HAS_IN, A_HAS_OUT);

	return err ?: polrev_bump();
}

static const struct row rows[] = {
	{ "cnp: B->A TCP 80: NetworkPolicy allows (no tier matched)", .dev = DEV_B,
	  TCP(IP_B, 28100, IP_A, 80, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW,
	  BY(7, 0, TO_POD), FLAGS(0) },
	{ "cnp: B->A TCP 22: Admin Accept", .dev = DEV_B, TCP(IP_B, 28101, IP_A, 22, TH_SYN),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, BY(301, 0, TO_POD), FLAGS(ADM) },
	{ "cnp: B->A TCP 81: isolated, nothing allows", .dev = DEV_B,
	  TCP(IP_B, 28102, IP_A, 81, TH_SYN), DENIED(DROP_POLICY_INGRESS, 0, 0, TO_POD, DENYF) },
	{ "cnp: C->A TCP 80: the Admin Deny beats the NetworkPolicy allow", .dev = DEV_C,
	  TCP(IP_C, 28103, IP_A, 80, TH_SYN), DENIED(DROP_POLICY_ADMIN, 301, 1, TO_POD, DENYF | ADM) },
	{ "cnp: C->A TCP 8080: passed, NetworkPolicy allows", .dev = DEV_C,
	  TCP(IP_C, 28104, IP_A, 8080, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW,
	  BY(7, 2, TO_POD), FLAGS(0) },
	{ "cnp: C->A TCP 8081: passed, NetworkPolicy isolates", .dev = DEV_C,
	  TCP(IP_C, 28105, IP_A, 8081, TH_SYN), DENIED(DROP_POLICY_INGRESS, 0, 0, TO_POD, DENYF) },
	{ "cnp: C->A TCP 9001: the range's Accept over TCP's any-port Deny", .dev = DEV_C,
	  TCP(IP_C, 28106, IP_A, 9001, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW,
	  BY(301, 2, TO_POD), FLAGS(ADM) },
	{ "cnp: C->A TCP 9004: past the range, TCP's any-port Deny", .dev = DEV_C,
	  TCP(IP_C, 28107, IP_A, 9004, TH_SYN), DENIED(DROP_POLICY_ADMIN, 301, 3, TO_POD, DENYF | ADM) },
	{ "cnp: C->A UDP 53: any protocol's Deny", .dev = DEV_C, UDP(IP_C, 28108, IP_A, 53),
	  DENIED(DROP_POLICY_ADMIN, 301, 1, TO_POD, DENYF | ADM) },
	{ "cnp: A->C UDP 53: the Baseline Deny (no NetworkPolicy selects A's egress)", .dev = DEV_A,
	  UDP(IP_A, 28109, IP_C, 53), DENIED(DROP_POLICY_BASELINE, 302, 0, FROM_POD, DENYF | BASE) },
	{ "cnp: A->C TCP 80: no tier decided: allowed", .dev = DEV_A,
	  TCP(IP_A, 28110, IP_C, 80, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW,
	  BY(0, 0, FROM_POD), FLAGS(DEF) },
	{ "cnp: B->A TCP 5555: B's audited Admin Deny passes, the event names it", .dev = DEV_B,
	  TCP(IP_B, 28111, IP_A, 5555, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW,
	  BY(303, 0, FROM_POD), FLAGS(DENYF | AUDITF | ADM) },
	{ "cnp: A->its node TCP 10250: its tiers deny the node's address", .dev = DEV_A,
	  TCP(IP_A, 28112, NODE_IP, 10250, TH_SYN),
	  DENIED(DROP_POLICY_ADMIN, 304, 0, FROM_POD, DENYF | ADM) },
	{ "cnp: A->its node TCP 22: the node's group allows", .dev = DEV_A,
	  TCP(IP_A, 28113, NODE_IP, 22, TH_SYN), OK(FWD_STACK), BY(0, 0, FROM_POD), FLAGS(DEF) },
	{ "cnp: A->the gateway TCP 10250: a host address no rule names: any peer's entry", .dev = DEV_A,
	  TCP(IP_A, 28114, IP_GW, 10250, TH_SYN), OK(FWD_STACK), BY(0, 0, FROM_POD), FLAGS(DEF) },
	{ "cnp: B->its node TCP 10250: B's tiers did not compile its egress: allowed", .dev = DEV_B,
	  TCP(IP_B, 28115, NODE_IP, 10250, TH_SYN), OK(FWD_STACK) },
	{ "cnp: C's address closed (unmanaged); A's ingress allows any other peer", .step = closed_on },
	{ "cnp: closed C->A UDP 53: no entry judges a closed address, not the any-peer allow beside "
	  "the Admin Deny of C", .dev = DEV_C, UDP(IP_C, 28116, IP_A, 53),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "cnp: closed C->A TCP 8080 (NetworkPolicy allowed C there): closed all the same",
	  .dev = DEV_C, TCP(IP_C, 28117, IP_A, 8080, TH_SYN), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "cnp: A->closed C TCP 80: A's egress, isolated by its tiers, refuses it too", .dev = DEV_A,
	  TCP(IP_A, 28118, IP_C, 80, TH_SYN), POLICY_DROP(DROP_POLICY_EGRESS) },
	{ "cnp: B->A TCP 80, B's address open: its entries as before", .dev = DEV_B,
	  TCP(IP_B, 28119, IP_A, 80, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW,
	  BY(7, 0, TO_POD), FLAGS(0) },
	{ "cnp: C's address open again", .step = closed_off },
	{ "cnp: A closed (overflow), its egress to its node compiled by its tiers", .step = a_overflow },
	{ "cnp: closed A->its node TCP 10250: the tiers' Deny of the node is not lifted by the close",
	  .dev = DEV_A, TCP(IP_A, 28120, NODE_IP, 10250, TH_SYN), POLICY_DROP(DROP_POLICY_OVERFLOW) },
	{ "cnp: closed A->the gateway TCP 53: closed", .dev = DEV_A,
	  UDP(IP_A, 28121, IP_GW, 53), POLICY_DROP(DROP_POLICY_OVERFLOW) },
	{ "cnp: host->closed A via to_pod: the node still reaches it (kubelet probes)",
	  .prog = TO_POD, .dev = DEV_A, TCP(IP_GW, 28122, IP_A, 8080, TH_SYN), OK(FWD_LOCAL),
	  .ct = XCNI_CT_NEW, .ct_stack = true },
	{ "cnp: B->its node TCP 10250 (B not flagged): allowed", .dev = DEV_B,
	  TCP(IP_B, 28123, NODE_IP, 10250, TH_SYN), OK(FWD_STACK) },
	{ "cnp: A open again", .step = a_back },
};

/* An audit counts: the entry's packets, as every verdict entry's. */
static void cnp_audit_counted(void **state)
{
	struct xcni_polhash_key hk = { .ep = ip4(IP_B), .peer = ID_A, .version = V, .dir = FROM_POD,
				       .proto = TCP_P, .port = htons(5555) };
	struct xcni_policy_val v;

	(void)state;
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_policy"), &hk, &v), 0);
	assert_true(v.packets >= 1);
}

static void cnp_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		void *s = (void *)&rows[i];

		print_message("  %s\n", rows[i].name);
		check_row(&s);
	}
}

static const struct CMUnitTest cnp_tests[] = {
	cmocka_unit_test(cnp_setup),
	cmocka_unit_test(cnp_rows),
	cmocka_unit_test(cnp_audit_counted),
};
const struct group cnp_group = { "cnp", TESTS(cnp_tests), .prep = node4_state };

/*
 * --bench-tiers (issue 28: per-packet cost unchanged within 5%): new flows
 * into A (each run one, its ct entry removed in between), A's ingress policy
 * as the compiler writes it without tiers (version 8: NetworkPolicy's
 * allow for B on TCP 80, nothing for C) and with them (version 9: B's
 * allow passed by an Admin Pass, an Admin Deny for C, every other peer
 * denied by entry: what policy_cnp.c writes), the polep flipped between
 * rounds. Two flows: B->A TCP 80 allowed, C->A TCP 80 denied. Rounds
 * alternate the two versions; per flow the median of the rounds and the ratio.
 */
static int bench_put(uint8_t ver, uint32_t peer, uint8_t proto, uint16_t port, int bits,
		     uint32_t id, uint16_t rule, uint16_t flags)
{
	struct xcni_polhash_key hk = { .ep = ip4(IP_A), .peer = peer, .version = ver, .dir = TO_POD,
				       .proto = proto, .port = bits ? htons(port) : 0 };
	struct xcni_policy_val v = { .policy_id = id, .rule = rule, .flags = flags };

	return bpf_map_update_elem(map_fd("xcni_policy"), &hk, &v, BPF_ANY) ? -errno : 0;
}

static int bench_polep(uint8_t ver, uint8_t has)
{
	struct xcni_polep v = { .identity = ID_A, .version = ver, .isolated = XCNI_ISOLATED(TO_POD) };
	uint32_t ip = ip4(IP_A);

	v.has[TO_POD] = has;
	return bpf_map_update_elem(map_fd("xcni_polep"), &ip, &v, BPF_ANY) ? -errno : 0;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int bench_tiers(void)
{
	enum { ROUNDS = 12, RUNS = 20000 };
	const uint16_t pass = 1 << XCNI_POLV_PASS_SHIFT;
	struct row flows[2] = {
		{ .dev = DEV_B, TCP(IP_B, 45100, IP_A, 80, TH_SYN) },
		{ .dev = DEV_C, TCP(IP_C, 45101, IP_A, 80, TH_SYN) },
	};
	const char *const fname[2] = { "B->A TCP 80, allowed", "C->A TCP 80, denied" };
	const int want[2] = { TC_ACT_REDIRECT, TC_ACT_SHOT };
	double per[2][2][ROUNDS]; /* [flow][tiers][round] */
	int cfd = bpf_map__fd(env.from->maps.xcni_ct);
	int err = 0;

	err = err ?: ipc(IP_A, ID_A);
	err = err ?: ipc(IP_B, ID_B);
	err = err ?: ipc(IP_C, ID_C);
	/* version 8: NetworkPolicy alone */
	err = err ?: bench_put(8, ID_B, TCP_P, 80, 16, 7, 0, 0);
	/* version 9: the same pod with tiers */
	err = err ?: bench_put(9, ID_B, TCP_P, 80, 16, 7, 0, pass);
	err = err ?: bench_put(9, ID_B, 0, 0, 0, 0, 0, DENYF | pass);
	err = err ?: bench_put(9, ID_C, TCP_P, 80, 16, 301, 1, DENYF | ADM);
	err = err ?: bench_put(9, ID_C, 0, 0, 0, 301, 1, DENYF | ADM);
	err = err ?: bench_put(9, XCNI_ID_ANY, 0, 0, 0, 0, 0, DENYF);
	if (err)
		return err;
	for (int round = 0; round < 2 * ROUNDS; round++) {
		int tiers = (round + round / 2) % 2; /* N T T N N T ...: neither always first */

		if ((err = tiers ? bench_polep(9, XCNI_HAS_ANY_PROTO) : bench_polep(8, 0)))
			return err;
		for (int f = 0; f < 2; f++) {
			struct xcni_ct_key ck = tuple_of(&flows[f], false);
			uint8_t in[FRAME_MAX], out[FRAME_MAX];
			size_t len = build(&flows[f], in);
			struct bpf_test_run_opts o = {};
			uint64_t ns = 0;

			for (int i = -RUNS / 4; i < RUNS; i++) {
				bpf_map_delete_elem(cfd, &ck);
				if ((err = run(FROM_POD, flows[f].dev, in, len, out, sizeof(out), 1, &o)))
					return err;
				if ((int)o.retval != want[f])
					return -EPROTO;
				if (i >= 0)
					ns += o.duration;
			}
			per[f][tiers][round / 2] = (double)ns / RUNS;
		}
	}
	printf("policy verdict of a new flow, %d rounds of %d runs a side, interleaved:\n", ROUNDS,
	       RUNS);
	for (int f = 0; f < 2; f++) {
		double m[2];

		for (int t = 0; t < 2; t++) {
			qsort(per[f][t], ROUNDS, sizeof(double), cmp_dbl);
			m[t] = (per[f][t][ROUNDS / 2 - 1] + per[f][t][ROUNDS / 2]) / 2;
		}
		printf("  %-22s without tiers %6.1f ns  with tiers %6.1f ns  ratio %.3f  "
		       "(rounds %.1f-%.1f / %.1f-%.1f)\n",
		       fname[f], m[0], m[1], m[1] / m[0], per[f][0][0], per[f][0][ROUNDS - 1],
		       per[f][1][0], per[f][1][ROUNDS - 1]);
	}
	return 0;
}
