// SPDX-License-Identifier: Apache-2.0
/*
 * The attacker's ND/MLD and hairpin rows (issue 26 items 1 and 7), through
 * BPF_PROG_TEST_RUN, on tests/bpf/parse.c's IPv6 endpoints (the group's
 * prep, svc_state) and the frontends of their own written here:
 *
 *   xta  A 10.99.5.10  fd00:99::a   (policy key: its IPv4)
 *   xtb  B 10.99.5.11  fd00:99::b
 *   xtc  C 10.99.5.12  fd00:99::c   (no policy)
 *   [NODE6]:30180/TCP     3861: B:8080 (a NodePort, a local backend)
 *   NODE_IP:30180/TCP     461: B:8080
 *
 * ND/MLD-typed ICMPv6 (types 130-137, 143) is neighbour discovery only on
 * the link: to a link-local or multicast address, with ND's hop limit 255 or
 * MLD's 1. Anything else of those types is a packet like any other, under
 * conntrack and policy: A under egress deny-all must not reach B, nor the
 * world through the node, by calling its datagram a router solicitation;
 * and to_pod passes ND only from a link-local or unspecified source, so
 * ND-typed ICMPv6 from a pod or the world meets B's ingress policy.
 *
 * Hairpin: a pod reaching itself through a Service gets the loopback source.
 * A client from outside whose address is the backend's is a forgery or a
 * coincidence, never the backend itself: IPv4 and IPv6 both leave its source
 * as it is (the backend's policy judges it), and neither names the
 * hairpin flag in its flow.
 */
#include <arpa/inet.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "harness.h"
#include "lb.h"
#include "lb6.h"

#define ID_A 1000 /* parse.c's identities (v6_setup) */
#define ID_B 1001
#define ID_C 1002
#define B6 "fd00:99::b"
#define C6 "fd00:99::c"
#define LL_A "fe80::a"
#define GW6 "fe80::1"
#define WORLD6 "2001:db8::53"
#define LOOP6 "100::a9fe:2a01" /* the IPv6 hairpin source (bpf/lib/lb.h) */

enum { T_MLDQ = 130, T_MLD1 = 131, T_MLDDONE = 132, T_RS = 133, T_RA = 134, T_NS = 135,
       T_NA = 136, T_REDIR = 137, T_MLD2 = 143 };

struct nd_row {
	int prog, dev; /* FROM_POD (from the pod dev) or TO_POD (into it) */
	const char *src, *dst, *target; /* target: NS/NA's (default: dst) */
	uint8_t type, hop;
	int ret, reason;
};

/* Policy key k isolated in dirs (0: judged by nothing), identity id. */
static void pol(uint32_t k, uint32_t id, uint8_t dirs)
{
	struct xcni_polep v = { .identity = id, .isolated = dirs };

	if (dirs)
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_polep"), &k, &v, BPF_ANY), 0);
	else
		bpf_map_delete_elem(map_fd("xcni_polep"), &k);
	assert_int_equal(polrev_bump(), 0);
}

/* A egress deny-all, B ingress deny-all: nothing may pass from A to B. */
static void nd_deny(void **state)
{
	(void)state;
	pol(ip4(IP_A), ID_A, XCNI_ISOLATED(XCNI_DIR_FROM_POD));
	pol(ip4(IP_B), ID_B, XCNI_ISOLATED(XCNI_DIR_TO_POD));
	pol(ip4(IP_C), ID_C, 0);
}

static void nd_open(void **state)
{
	(void)state;
	pol(ip4(IP_A), ID_A, 0);
	pol(ip4(IP_B), ID_B, 0);
}

/*
 * One row: the message (reserved/flags word, a target, a link-layer address
 * option naming the sender's MAC: an NS or NA as a stack sends it, the same
 * bytes for the other types) through the row's program. Forwarded into B:
 * the frame as delivered (its MACs, one hop less); passed: untouched.
 */
static void nd_check(void **state)
{
	const struct nd_row *r = *state;
	const struct pod *pd = &pods[r->dev];
	bool from = r->prog == FROM_POD;
	uint8_t body[28] = { 0 }, in[FRAME_MAX], want[FRAME_MAX];
	struct g6 f = { .smac = from ? pd->mac : pd->host_mac, .dmac = from ? pd->host_mac : pd->mac,
			.src = r->src, .dst = r->dst, .proto = IPPROTO_ICMPV6, .type = r->type,
			.hop = r->hop, .payload = sizeof(body), .body = body };
	size_t len, wlen = 0;

	if (r->type == T_NA)
		body[0] = 0x20; /* override */
	in6(r->target ? r->target : r->dst, body + 4);
	body[20] = r->type == T_NA ? 2 : 1;
	body[21] = 1;
	memcpy(body + 22, f.smac, ETH_ALEN);
	len = frame6(&f, in);
	if (r->ret == TC_ACT_REDIRECT && r->reason == XCNI_FWD_LOCAL) {
		struct g6 t = into6(f, DEV_B);

		t.hop = r->hop - 1;
		wlen = frame6(&t, want);
	} else if (r->ret == TC_ACT_OK) {
		memcpy(want, in, len);
		wlen = len;
	}
	/* into a pod, the stack hands over what from_pod (or a decapsulation) let
	 * in: marked (a pod source without the mark is a forgery, attack_ul.c) */
	if (r->prog == TO_POD)
		expect6_mark = XCNI_MARK_TRUSTED;
	expect6(r->prog, r->dev, in, len, r->ret, r->reason, wlen ? want : NULL, wlen);
}

#define ROW(n, p, d, s, t, ty, h, ...)                                                          \
	{ .name = n, .test_func = nd_check,                                                      \
	  .initial_state = &(struct nd_row){ .prog = p, .dev = d, .src = s, .dst = t, .type = ty, \
					     .hop = h, __VA_ARGS__ } }
#define GOES(r) .ret = TC_ACT_REDIRECT, .reason = XCNI_##r
#define PASSES(r) .ret = TC_ACT_OK, .reason = XCNI_##r
#define DROPS(r) .ret = TC_ACT_SHOT, .reason = XCNI_##r
/* From A (egress deny-all) to B's global address; into B (ingress deny-all) from C
 * (judged by nothing), as the stack hands it over. */
#define A_TO_B(ty, h) ROW("nd: from_pod6 A->B type " #ty " (A egress deny-all)", FROM_POD, DEV_A, \
			  A6, B6, ty, h, DROPS(DROP_POLICY_EGRESS))
#define INTO_B(ty, h) ROW("nd: to_pod6 C->B type " #ty " (B ingress deny-all)", TO_POD, DEV_B, C6, \
			  B6, ty, h, DROPS(DROP_POLICY_INGRESS))

/* ---- hairpin (item 7) ------------------------------------------------------- */

static void hp_setup(void **state)
{
	(void)state;
	nd_open(NULL);
	ipc6_put(NODE6, XCNI_ID_HOST, NULL, 0);
	be6(3861, B6, 8080);
	svc6(NODE6, 30180, IPPROTO_TCP, 386, 0, (const uint32_t[]){ 3861 }, 1);
	assert_int_equal(be_set(461, IP_B, 8080, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NODE_IP, 30180, IPPROTO_TCP, 46, 0, 0, 0,
				 (const uint32_t[]){ 461 }, 1, 0), 0);
}

/* From outside with B's own address as source: a client claiming a pod from the
 * underlay is refused before any translation (item 2), so no hairpin and no
 * NodePort flow can come of it; lb6_translate's !outside guard (item 7) stays
 * for what the refusal lets through. */
static void hp_outside6(void **state)
{
	struct g6 f = outside6_to(B6, 50100, NODE6, 30180, IPPROTO_TCP, T_SYN);
	uint8_t in[FRAME_MAX];
	size_t len;
	int found;

	(void)state;
	len = frame6(&f, in);
	expect6(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_OUTSIDE_SPOOF, NULL, 0);
	ct6_get(B6, 50100, B6, 8080, IPPROTO_TCP, &found);
	assert_false(found);
	ct6_get(LOOP6, 50100, B6, 8080, IPPROTO_TCP, &found);
	assert_false(found);
}

/* The control: B itself through the same NodePort, from inside, is hairpinned. */
static void hp_inside6(void **state)
{
	struct g6 f = from6(DEV_B, B6, 50101, NODE6, 30180, IPPROTO_TCP, T_SYN), t;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	t = into6(f, DEV_B);
	t.src = LOOP6;
	t.dst = B6;
	t.dport = 8080;
	len = frame6(&f, in);
	wlen = frame6(&t, want);
	expect6(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
	e = ct6_get(LOOP6, 50101, B6, 8080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_HAIRPIN);
}

static void hp_outside4(void **state)
{
	struct fr f = { .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .saddr = ip4(IP_B),
			.daddr = ip4(NODE_IP), .sport = 50100, .dport = 30180,
			.proto = IPPROTO_TCP, .flags = TH_SYN };
	uint8_t in[FRAME_MAX];
	size_t len;
	int found;

	(void)state;
	len = frame(&f, in);
	expect(FROM_OVERLAY_LB, DEV_U, in, len, TC_ACT_SHOT, XCNI_DROP_OUTSIDE_SPOOF, NULL, 0);
	ct_get(ip4(IP_B), ip4(IP_B), 50100, 8080, IPPROTO_TCP, &found);
	assert_false(found);
}

static void hp_inside4(void **state)
{
	struct fr f = from_dev(DEV_B, IP_B, 50101, NODE_IP, 30180, IPPROTO_TCP, TH_SYN), t;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct xcni_ct_entry e;
	size_t len, wlen;
	int found;

	(void)state;
	t = into(f, DEV_B);
	t.saddr = ip4(LB_LOOPBACK);
	t.daddr = ip4(IP_B);
	t.dport = 8080;
	len = frame(&f, in);
	wlen = frame(&t, want);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
	e = ct_get(ip4(LB_LOOPBACK), ip4(IP_B), 50101, 8080, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.flags, XCNI_CT_F_HAIRPIN);
}

static const struct CMUnitTest attack_nd_tests[] = {
	cmocka_unit_test(nd_deny),
	/* ND/MLD types beyond the link: policy judges them, and refuses. */
	A_TO_B(T_MLDQ, 1), A_TO_B(T_MLD1, 1), A_TO_B(T_MLDDONE, 1), A_TO_B(T_MLD2, 1),
	A_TO_B(T_RS, 255), A_TO_B(T_RA, 255), A_TO_B(T_NS, 255), A_TO_B(T_NA, 255),
	A_TO_B(T_REDIR, 255),
	ROW("nd: from_pod6 A->world RS (the node would route it)", FROM_POD, DEV_A, A6, WORLD6,
	    T_RS, 255, DROPS(DROP_POLICY_EGRESS)),
	ROW("nd: from_pod6 link-local A->B RS (a link-local source stays on the link)", FROM_POD,
	    DEV_A, LL_A, B6, T_RS, 255, DROPS(DROP_SPOOF_IP)),
	ROW("nd: from_pod6 ::->B NS", FROM_POD, DEV_A, "::", B6, T_NS, 255, DROPS(DROP_SPOOF_IP)),
	INTO_B(T_MLDQ, 1), INTO_B(T_MLD1, 1), INTO_B(T_MLDDONE, 1), INTO_B(T_MLD2, 1),
	INTO_B(T_RS, 255), INTO_B(T_RA, 255), INTO_B(T_NS, 255), INTO_B(T_NA, 255),
	INTO_B(T_REDIR, 255),
	ROW("nd: to_pod6 world->B RA", TO_POD, DEV_B, WORLD6, B6, T_RA, 255,
	    DROPS(DROP_POLICY_INGRESS)),
	ROW("nd: to_pod6 world->ff02::1 RA (a global source is no neighbour)", TO_POD, DEV_B,
	    WORLD6, "ff02::1", T_RA, 255, DROPS(DROP_POLICY_INGRESS)),
	/* On the link, as a pod's kernel sends it: ND, whatever the policy. */
	ROW("nd: from_pod6 RS to ff02::2", FROM_POD, DEV_A, LL_A, "ff02::2", T_RS, 255,
	    PASSES(PASS_ARP)),
	ROW("nd: from_pod6 RS from :: to ff02::2", FROM_POD, DEV_A, "::", "ff02::2", T_RS, 255,
	    PASSES(PASS_ARP)),
	ROW("nd: from_pod6 NS for fe80::2 to its solicited-node group", FROM_POD, DEV_A, LL_A,
	    "ff02::1:ff00:2", T_NS, 255, .target = "fe80::2", PASSES(PASS_ARP)),
	ROW("nd: from_pod6 DAD NS from ::", FROM_POD, DEV_A, "::", "ff02::1:ff00:a", T_NS, 255,
	    .target = A6, PASSES(PASS_ARP)),
	ROW("nd: from_pod6 NS for the gateway, multicast: answered", FROM_POD, DEV_A, LL_A,
	    "ff02::1:ff00:1", T_NS, 255, .target = GW6, GOES(PASS_ARP)),
	ROW("nd: from_pod6 NS for the gateway, unicast from A6: answered", FROM_POD, DEV_A, A6,
	    GW6, T_NS, 255, .target = GW6, GOES(PASS_ARP)),
	ROW("nd: from_pod6 NA for A6 to the gateway", FROM_POD, DEV_A, A6, GW6, T_NA, 255,
	    .target = A6, PASSES(PASS_ARP)),
	ROW("nd: from_pod6 unsolicited NA to ff02::1", FROM_POD, DEV_A, LL_A, "ff02::1", T_NA, 255,
	    .target = A6, PASSES(PASS_ARP)),
	ROW("nd: from_pod6 MLDv2 report to ff02::16", FROM_POD, DEV_A, LL_A, "ff02::16", T_MLD2, 1,
	    PASSES(PASS_ARP)),
	ROW("nd: from_pod6 MLDv2 report from ::", FROM_POD, DEV_A, "::", "ff02::16", T_MLD2, 1,
	    PASSES(PASS_ARP)),
	ROW("nd: from_pod6 MLDv1 report to its group ff05::1:3", FROM_POD, DEV_A, LL_A,
	    "ff05::1:3", T_MLD1, 1, PASSES(PASS_ARP)),
	ROW("nd: from_pod6 MLD done to ff02::2", FROM_POD, DEV_A, LL_A, "ff02::2", T_MLDDONE, 1,
	    PASSES(PASS_ARP)),
	ROW("nd: from_pod6 RA to ff02::1 (a pod is no router)", FROM_POD, DEV_A, LL_A, "ff02::1",
	    T_RA, 255, DROPS(DROP_SPOOF_IP)),
	ROW("nd: from_pod6 redirect to ff02::1", FROM_POD, DEV_A, LL_A, "ff02::1", T_REDIR, 255,
	    DROPS(DROP_SPOOF_IP)),
	/* On the link with a hop limit no neighbour sends. */
	ROW("nd: from_pod6 RS hop 64", FROM_POD, DEV_A, LL_A, "ff02::2", T_RS, 64, DROPS(DROP_BAD_ND)),
	ROW("nd: from_pod6 NS for the gateway hop 254", FROM_POD, DEV_A, LL_A, "ff02::1:ff00:1", T_NS,
	    254, .target = GW6, DROPS(DROP_BAD_ND)),
	ROW("nd: from_pod6 NA to the gateway hop 64", FROM_POD, DEV_A, A6, GW6, T_NA, 64,
	    .target = A6, DROPS(DROP_BAD_ND)),
	ROW("nd: from_pod6 MLDv2 report hop 255", FROM_POD, DEV_A, LL_A, "ff02::16", T_MLD2, 255,
	    DROPS(DROP_BAD_ND)),
	ROW("nd: from_pod6 MLDv2 report hop 2", FROM_POD, DEV_A, LL_A, "ff02::16", T_MLD2, 2,
	    DROPS(DROP_BAD_ND)),
	/* The host's ND into a pod: from a link-local or unspecified source. */
	ROW("nd: to_pod6 host NS to B's solicited-node group", TO_POD, DEV_B, GW6, "ff02::1:ff00:b",
	    T_NS, 255, .target = B6, PASSES(PASS_ARP)),
	ROW("nd: to_pod6 host NS to B6 (unicast probe)", TO_POD, DEV_B, GW6, B6, T_NS, 255,
	    PASSES(PASS_ARP)),
	ROW("nd: to_pod6 host DAD NS from ::", TO_POD, DEV_B, "::", "ff02::1:ff00:1", T_NS, 255,
	    .target = GW6, PASSES(PASS_ARP)),
	ROW("nd: to_pod6 host MLDv2 report", TO_POD, DEV_B, "fe80::2", "ff02::16", T_MLD2, 1,
	    PASSES(PASS_ARP)),
	ROW("nd: to_pod6 host NS hop 64", TO_POD, DEV_B, GW6, B6, T_NS, 64, DROPS(DROP_BAD_ND)),
	ROW("nd: to_pod6 host MLDv2 report hop 255", TO_POD, DEV_B, "fe80::2", "ff02::16", T_MLD2,
	    255, DROPS(DROP_BAD_ND)),
	/* The control: with the policy open, the same datagram A->B arrives. */
	cmocka_unit_test(nd_open),
	ROW("nd: from_pod6 A->B RS, policy open: delivered", FROM_POD, DEV_A, A6, B6, T_RS, 255,
	    GOES(FWD_LOCAL)),
	ROW("nd: to_pod6 A->B RS, policy open: delivered", TO_POD, DEV_B, A6, B6, T_RS, 255,
	    PASSES(FWD_LOCAL)),
	cmocka_unit_test(hp_setup),
	cmocka_unit_test(hp_outside6),
	cmocka_unit_test(hp_inside6),
	cmocka_unit_test(hp_outside4),
	cmocka_unit_test(hp_inside4),
};
const struct group attack_nd_group = { "attack_nd", TESTS(attack_nd_tests), .prep = svc_state };
