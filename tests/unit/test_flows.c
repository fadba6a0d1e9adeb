// SPDX-License-Identifier: Apache-2.0
/*
 * Flow records (user/lib/observe/flows.c): one record per connection in the direction
 * of its first packet, conntrack's counters each way merged into it (a new
 * entry for the same flow adds to what the old one counted), verdict and drop
 * events on the same record, the window's bound and what it pushed out; the
 * filters of xcnictl flows, bad ones refused naming the filter; the JSON.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "xcni_shared.h"
#include "lib/observe/flows.h"
#include "lib/observe/vocab.h"
#include "lib/system/clock.h"

#include "flows_fx.h"

/* A connection's two directions are one record; the reverse tuple is another flow. */
static void test_direction(void **state)
{
	struct flow_key k = key4("10.0.0.1", 40000, "10.0.0.2", 80, IPPROTO_TCP);
	struct flow_key rev = key4("10.0.0.2", 80, "10.0.0.1", 40000, IPPROTO_TCP);
	struct flow_key k6 = key6("fd00::1", 40000, "fd00::2", 80, IPPROTO_TCP);
	struct flows *f;
	struct flow_rec *r;

	(void)state;
	assert_int_equal(flows_new(16, &f), 0);
	r = ct(f, k, 1000, 2000, 3, 180, 2, 120, XCNI_CT_ESTABLISHED);
	assert_int_equal(r->pkts[0], 3);
	assert_int_equal(r->bytes[0], 180);
	assert_int_equal(r->pkts[1], 2);
	assert_int_equal(r->bytes[1], 120);
	assert_int_equal(r->tcp_flags, FLOW_TCP_SYN | FLOW_TCP_ACK);
	assert_ptr_equal(flows_find(f, &k), r);
	assert_null(flows_find(f, &rev));
	/* The same addresses in the other family are another flow. */
	memcpy(k6.saddr, k.saddr, 4);
	memset(k6.saddr + 4, 0, 12);
	memcpy(k6.daddr, k.daddr, 4);
	memset(k6.daddr + 4, 0, 12);
	assert_null(flows_find(f, &k6));
	assert_int_equal(flows_count(f), 1);
	flows_free(f);
}

/*
 * Merging: walks of one entry set the counts (never add them twice); a new
 * entry for the same tuple (created_ns differs) adds to what the old one had.
 * A walk that finds nothing new does not touch the record (--follow would
 * show it again).
 */
static void test_merge(void **state)
{
	struct flow_key k = key4("10.0.0.1", 5353, "10.0.0.9", 53, IPPROTO_UDP);
	uint64_t p[2] = { 5, 5 }, b[2] = { 500, 700 };
	struct flows *f;
	struct flow_rec *r;
	uint64_t seq;

	(void)state;
	assert_int_equal(flows_new(16, &f), 0);
	r = ct(f, k, 1000, 2000, 1, 100, 1, 140, XCNI_CT_ESTABLISHED);
	r = ct(f, k, 1000, 3000, 5, 500, 5, 700, XCNI_CT_ESTABLISHED);
	assert_int_equal(r->pkts[0], 5);
	assert_int_equal(r->bytes[1], 700);
	seq = r->seq;
	assert_false(flows_ct_update(f, r, 1000, 3000, p, b, XCNI_CT_ESTABLISHED, false, false));
	assert_int_equal(r->seq, seq);
	/* Evicted from conntrack and opened again: 2 more each way. */
	r = ct(f, k, 9000, 9500, 2, 200, 2, 280, XCNI_CT_ESTABLISHED);
	assert_int_equal(r->pkts[0], 7);
	assert_int_equal(r->bytes[0], 700);
	assert_int_equal(r->pkts[1], 7);
	assert_int_equal(r->bytes[1], 980);
	assert_int_equal(r->first_ns, 1000);
	assert_int_equal(r->last_ns, 9500);
	assert_int_equal(r->tcp_flags, 0); /* UDP has none */
	/* The verdict event of the same flow lands on the record. */
	flows_verdict(f, r, 1001, XCNI_DIR_TO_POD, 7, "x/allow-dns", 2, false);
	assert_int_equal(r->verdict, FLOW_ALLOWED);
	assert_string_equal(r->policy, "x/allow-dns");
	assert_int_equal(r->rule, 2);
	assert_int_equal(flows_count(f), 1);
	flows_free(f);
}

/* Denied flows: drop events count the packets a flow without an entry sent. */
static void test_drop(void **state)
{
	struct flow_key k = key4("10.0.0.1", 40001, "10.0.0.2", 81, IPPROTO_TCP);
	struct flows *f;
	struct flow_rec *r;
	bool created;

	(void)state;
	assert_int_equal(flows_new(16, &f), 0);
	r = flows_get_owned(f, &k, NULL, &created);
	assert_true(created);
	flows_drop(f, r, 5000, XCNI_DIR_TO_POD, XCNI_DROP_POLICY_INGRESS, 74);
	r = flows_get_owned(f, &k, NULL, &created);
	assert_false(created);
	flows_drop(f, r, 6000, XCNI_DIR_TO_POD, XCNI_DROP_POLICY_INGRESS, 74);
	assert_int_equal(r->verdict, FLOW_DENIED);
	assert_int_equal(r->reason, XCNI_DROP_POLICY_INGRESS);
	assert_int_equal(r->pkts[0], 2);
	assert_int_equal(r->bytes[0], 148);
	assert_int_equal(r->drops, 2);
	assert_int_equal(r->first_ns, 5000);
	assert_int_equal(r->last_ns, 6000);
	assert_int_equal(flows_stats(f)->events, 2);
	assert_null(r->policy);
	/* A tier's Deny names the policy and rule that denied. */
	flows_denied_by(f, r, 9, "admin-deny-dns", 3);
	assert_string_equal(r->policy, "admin-deny-dns");
	assert_int_equal(r->rule, 3);
	assert_int_equal(r->verdict, FLOW_DENIED);
	flows_free(f);
}

/* --verdict WORD: yes (unless NULL) matches, no0 and no1 (unless NULL) do not. */
static void verdict_picks(const char *word, const struct flow_rec *yes, const struct flow_rec *no0,
			  const struct flow_rec *no1)
{
	struct flow_filter ff;
	char err[256];

	flow_filter_init(&ff);
	assert_int_equal(flow_filter_set(&ff, "verdict", word, err, sizeof(err)), 0);
	if (yes)
		assert_true(flow_filter_match(&ff, yes, 0, 0));
	assert_false(flow_filter_match(&ff, no0, 0, 0));
	if (no1)
		assert_false(flow_filter_match(&ff, no1, 0, 0));
	flow_filter_free(&ff);
}

/*
 * One word per fate (issue 53 item 2): a SYN answered by the destination's
 * RST is refused, never allowed; a connection reset after its handshake is
 * not; a Service without endpoints (drop-no-backend) is no-backend, which
 * --verdict denied (dropped, any reason) still finds; a SYN nothing answered
 * for FLOW_TIMEOUT_NS is timeout, allowed again once answered; each word filters.
 */
static void test_fates(void **state)
{
	struct flow_key kr = key4("10.0.0.1", 40100, "10.0.0.2", 9999, IPPROTO_TCP);
	struct flow_key kx = key4("10.0.0.1", 40101, "10.0.0.2", 80, IPPROTO_TCP);
	struct flow_key kn = key4("10.0.0.1", 40102, "10.96.0.20", 80, IPPROTO_TCP);
	struct flow_key ku = key4("10.0.0.1", 40103, "10.0.0.2", 53, IPPROTO_UDP);
	struct flow_key kt = key4("10.0.0.1", 40104, "10.0.0.2", 81, IPPROTO_TCP);
	struct flows *f;
	struct flow_rec *r, *x, *n, *u, *t;
	bool created;

	(void)state;
	/* The classifier: SYN out, RST back, nothing else. */
	assert_true(flow_ct_refused(XCNI_CT_CLOSED, false, false, 1, 1));
	assert_false(flow_ct_refused(XCNI_CT_CLOSED, false, false, 3, 2)); /* reset after data */
	assert_false(flow_ct_refused(XCNI_CT_CLOSED, false, false, 2, 1)); /* SYN-ACK, client RST */
	assert_false(flow_ct_refused(XCNI_CT_CLOSED, true, true, 1, 1)); /* FINs */
	assert_false(flow_ct_refused(XCNI_CT_NEW, false, false, 1, 0)); /* nothing back yet */
	assert_false(flow_ct_refused(XCNI_CT_ESTABLISHED, false, false, 1, 1));
	assert_string_equal(flow_verdict_name(FLOW_REFUSED), "refused");
	assert_string_equal(flow_verdict_name(FLOW_NO_BACKEND), "no-backend");
	assert_true(flow_verdict_dropped(FLOW_NO_BACKEND));
	assert_true(flow_verdict_dropped(FLOW_DENIED));
	assert_false(flow_verdict_dropped(FLOW_REFUSED));

	assert_int_equal(flows_new(16, &f), 0);
	/* The closed port: allowed by policy (a verdict event), then the RST. */
	r = flows_get_owned(f, &kr, NULL, &created);
	flows_verdict(f, r, 900, 1, 7, "x/allow-all", 0, false);
	assert_int_equal(r->verdict, FLOW_ALLOWED);
	r = ct(f, kr, 1000, 1100, 1, 60, 1, 40, XCNI_CT_CLOSED);
	assert_int_equal(r->verdict, FLOW_REFUSED);
	assert_string_equal(r->policy, "x/allow-all"); /* what let it through is kept */
	assert_int_equal(r->tcp_flags & FLOW_TCP_RST, FLOW_TCP_RST);
	/* The same tuple connected again: its new entry passes. */
	r = ct(f, kr, 5000, 5100, 3, 180, 2, 120, XCNI_CT_ESTABLISHED);
	assert_int_equal(r->verdict, FLOW_ALLOWED);
	/* A connection reset after its handshake stays allowed. */
	x = ct(f, kx, 1000, 1200, 4, 300, 3, 200, XCNI_CT_CLOSED);
	assert_int_equal(x->verdict, FLOW_ALLOWED);
	/* UDP's entries carry no RST: never refused here. */
	u = ct(f, ku, 1000, 1200, 1, 60, 1, 60, XCNI_CT_CLOSED);
	assert_int_equal(u->verdict, FLOW_ALLOWED);
	/* A Service without endpoints: its drop event makes the record. */
	n = flows_get_owned(f, &kn, NULL, &created);
	assert_true(created);
	flows_drop(f, n, 2000, 0xff, XCNI_DROP_NO_BACKEND, 60);
	assert_int_equal(n->verdict, FLOW_NO_BACKEND);
	assert_int_equal(n->reason, XCNI_DROP_NO_BACKEND);
	assert_int_equal(n->pkts[0], 1);
	assert_int_equal(n->drops, 1);
	/* A drop keeps its verdict whatever conntrack says. */
	flows_ct_update(f, n, 2000, 2100, (uint64_t[2]){ 1, 1 }, (uint64_t[2]){ 60, 40 },
			XCNI_CT_CLOSED, false, false);
	assert_int_equal(n->verdict, FLOW_NO_BACKEND);
	/* Refused again for the filters below. */
	r = ct(f, kr, 9000, 9100, 1, 60, 1, 40, XCNI_CT_CLOSED);
	assert_int_equal(r->verdict, FLOW_REFUSED);
	/* A SYN nothing answered: allowed until FLOW_TIMEOUT_NS have passed, then timeout. */
	flows_set_now(f, 10000 + FLOW_TIMEOUT_NS - 1);
	t = ct(f, kt, 10000, 10000, 1, 60, 0, 0, XCNI_CT_NEW);
	assert_int_equal(t->verdict, FLOW_ALLOWED);
	flows_set_now(f, 10000 + FLOW_TIMEOUT_NS);
	t = ct(f, kt, 10000, 10000 + 1000000000ull, 2, 120, 0, 0, XCNI_CT_NEW);
	assert_int_equal(t->verdict, FLOW_TIMEOUT);
	/* The walk skips an entry nothing stamped since: the sweep times it out. */
	t->verdict = FLOW_ALLOWED;
	flows_ct_sweep(f, false, 10000 + FLOW_TIMEOUT_NS - 1);
	assert_int_equal(t->verdict, FLOW_ALLOWED);
	flows_ct_sweep(f, false, 10000 + FLOW_TIMEOUT_NS);
	assert_int_equal(t->verdict, FLOW_TIMEOUT);
	assert_string_equal(flow_verdict_name(FLOW_TIMEOUT), "timeout");
	assert_false(flow_verdict_dropped(FLOW_TIMEOUT));
	/* A drop keeps its verdict: an unanswered SYN that was denied is denied. */
	flows_set_now(f, 20000 + FLOW_TIMEOUT_NS);
	flows_ct_update(f, n, 2000, 2100, (uint64_t[2]){ 1, 0 }, (uint64_t[2]){ 60, 0 },
			XCNI_CT_NEW, false, false);
	assert_int_equal(n->verdict, FLOW_NO_BACKEND);

	/* --verdict: each word its own records; denied a policy's drop alone, Hubble's
	 * DROPPED any drop; allowed not the closed port. */
	verdict_picks("refused", r, x, n);
	verdict_picks("no-backend", n, r, NULL);
	verdict_picks("denied", NULL, n, r);
	verdict_picks("DROPPED", n, r, NULL);
	verdict_picks("allowed", x, r, t);
	verdict_picks("timeout", t, r, x);
	verdict_picks("FORWARDED", NULL, r, n);
	/* Answered at last (a retransmitted SYN's SYN-ACK): it passes again. */
	t = ct(f, kt, 10000, 20000, 3, 180, 1, 60, XCNI_CT_ESTABLISHED);
	assert_int_equal(t->verdict, FLOW_ALLOWED);
	flows_free(f);
}

/* Audit: a flow a policy in audit mode would deny passed; --verdict audit finds it, allowed does not. */
static void test_audit(void **state)
{
	struct flow_key k = key4("10.0.0.1", 40002, "10.0.0.2", 82, IPPROTO_TCP);
	struct flow_filter ff;
	char err[256];
	struct flows *f;
	struct flow_rec *r;
	bool created;

	(void)state;
	assert_int_equal(flows_new(16, &f), 0);
	r = flows_get_owned(f, &k, NULL, &created);
	flows_verdict(f, r, 1000, XCNI_DIR_TO_POD, 5, "x/deny-b", 1, true);
	assert_int_equal(r->verdict, FLOW_AUDIT);
	assert_string_equal(r->policy, "x/deny-b");
	flow_filter_init(&ff);
	assert_int_equal(flow_filter_set(&ff, "verdict", "audit", err, sizeof(err)), 0);
	assert_true(flow_filter_match(&ff, r, 3000, 0));
	flow_filter_init(&ff);
	assert_int_equal(flow_filter_set(&ff, "verdict", "allowed", err, sizeof(err)), 0);
	assert_false(flow_filter_match(&ff, r, 3000, 0));
	/* The same flow later allowed outright (the policy enforced no longer denies). */
	flows_verdict(f, r, 2000, XCNI_DIR_TO_POD, 6, "x/allow-b", 0, false);
	assert_int_equal(r->verdict, FLOW_ALLOWED);
	flows_free(f);
}

static unsigned int evicted_seen;
static uint16_t evicted_port;
static void on_evict(void *arg, const struct flow_rec *r)
{
	(void)arg;
	evicted_seen++;
	evicted_port = r->key.sport;
}

/* The window holds at most N; the least recently changed goes, and is counted. */
static void test_window(void **state)
{
	struct flows *f;
	struct flow_key k;

	(void)state;
	assert_int_equal(flows_new(4, &f), 0);
	flows_on_evict(f, on_evict, NULL);
	for (uint16_t p = 1; p <= 4; p++) {
		k = key4("10.0.0.1", p, "10.0.0.2", 80, IPPROTO_TCP);
		ct(f, k, p, p, 1, 60, 0, 0, XCNI_CT_NEW);
	}
	/* Flow 1 changes: flow 2 is now the oldest. */
	ct(f, key4("10.0.0.1", 1, "10.0.0.2", 80, IPPROTO_TCP), 1, 50, 2, 120, 0, 0, XCNI_CT_NEW);
	k = key4("10.0.0.1", 5, "10.0.0.2", 80, IPPROTO_TCP);
	ct(f, k, 5, 5, 1, 60, 0, 0, XCNI_CT_NEW);
	assert_int_equal(flows_count(f), 4);
	assert_int_equal(flows_stats(f)->evicted, 1);
	assert_int_equal(flows_stats(f)->created, 5);
	assert_int_equal(evicted_seen, 1);
	assert_int_equal(evicted_port, 2);
	k = key4("10.0.0.1", 2, "10.0.0.2", 80, IPPROTO_TCP);
	assert_null(flows_find(f, &k));
	k = key4("10.0.0.1", 1, "10.0.0.2", 80, IPPROTO_TCP);
	assert_non_null(flows_find(f, &k));
	/* 1000 more through a window of 4: never more than 4. */
	for (uint16_t p = 100; p < 1100; p++)
		ct(f, key4("10.0.0.3", p, "10.0.0.2", 80, IPPROTO_UDP), p, p, 1, 60, 0, 0,
		   XCNI_CT_NEW);
	assert_int_equal(flows_count(f), 4);
	assert_int_equal(flows_stats(f)->evicted, 1001);
	assert_int_equal(flows_new(0, &f), -EINVAL);
	flows_free(f);
}

/*
 * A peer named once serves many records (the agent names an address once a
 * tick): the records share its strings, which outlive the peer's own hold
 * and go with the last record that has them (ASan's run sees a string freed
 * while a record points at it, or one never freed).
 */
static void test_peer_share(void **state)
{
	struct flow_peer peer = {}, other = {};
	struct flow_rec *r[3];
	struct flows *f;
	const char *again = NULL;
	bool created;

	(void)state;
	assert_int_equal(flows_new(2, &f), 0);
	peer.identity = 4242;
	assert_int_equal(flows_set_str(f, &peer.ns, "team-a"), 0);
	assert_int_equal(flows_set_str(f, &peer.pod, "web-1"), 0);
	assert_int_equal(flows_set_str(f, &peer.labels, "app=web"), 0);
	for (int i = 0; i < 3; i++) {
		struct flow_key k = key4("10.0.0.1", (uint16_t)(100 + i), "10.0.0.2", 80,
					 IPPROTO_TCP);

		r[i] = flows_get_owned(f, &k, NULL, &created);
		assert_non_null(r[i]);
		assert_true(created);
		flows_peer_copy(f, &r[i]->src, &peer);
	}
	/* r[0] went out of the window (2) with its hold on the strings. */
	assert_int_equal(flows_stats(f)->evicted, 1);
	assert_ptr_equal(r[1]->src.ns, peer.ns);
	assert_ptr_equal(r[2]->src.labels, peer.labels);
	assert_int_equal(r[2]->src.identity, 4242);
	flows_peer_put(f, &peer);
	assert_null(peer.ns);
	assert_null(peer.pod);
	assert_int_equal(peer.identity, 0);
	assert_string_equal(r[1]->src.ns, "team-a");
	assert_string_equal(r[2]->src.pod, "web-1");
	/* Still interned: the same string is the same pointer. */
	assert_int_equal(flows_set_str(f, &again, "app=web"), 0);
	assert_ptr_equal(again, r[2]->src.labels);
	flows_set_str(f, &again, NULL);
	/* Copying another peer over a record's releases what it had. */
	assert_int_equal(flows_set_str(f, &other.ns, "team-b"), 0);
	flows_peer_copy(f, &r[2]->src, &other);
	assert_string_equal(r[2]->src.ns, "team-b");
	assert_null(r[2]->src.pod);
	assert_null(r[2]->src.labels);
	assert_int_equal(r[2]->src.identity, 0);
	assert_string_equal(r[1]->src.pod, "web-1");
	flows_peer_put(f, &other);
	flows_free(f);
}

/*
 * A record is active while its entry lives: ended by the entry's lifetime
 * (the state and last_ns the walk read), or by a walk that read every live
 * entry and not its; found again, active again. The window pushing an active
 * record out leaves the others' accounting whole.
 */
/* Walks of a small map every tick; of a big one, spaced to FLOWS_CT_WALK_RATE entries a second
 * and to a copy that takes 1/FLOWS_CT_WALK_SHARE of a CPU. */
static void test_ct_walk_due(void **state)
{
	const uint64_t s = 1000000000ULL, t0 = 50 * s;

	(void)state;
	/* Up to the rate: every tick, even one a little early. */
	assert_true(flows_ct_walk_due(t0, t0 + s, 1000, 0));
	assert_true(flows_ct_walk_due(t0, t0 + s - s / 20, FLOWS_CT_WALK_RATE, 0));
	/* 4x the rate: 4 s apart (a tenth early counts), not 3. */
	assert_false(flows_ct_walk_due(t0, t0 + s, 4 * FLOWS_CT_WALK_RATE, 0));
	assert_false(flows_ct_walk_due(t0, t0 + 3 * s, 4 * FLOWS_CT_WALK_RATE, 0));
	assert_true(flows_ct_walk_due(t0, t0 + 4 * s - s / 20, 4 * FLOWS_CT_WALK_RATE, 0));
	assert_true(flows_ct_walk_due(t0, t0 + 4 * s, 4 * FLOWS_CT_WALK_RATE, 0));
	/* 1.5x: 1.5 s, so every other tick. */
	assert_false(flows_ct_walk_due(t0, t0 + s, FLOWS_CT_WALK_RATE * 3 / 2, 0));
	assert_true(flows_ct_walk_due(t0, t0 + 2 * s, FLOWS_CT_WALK_RATE * 3 / 2, 0));
	/* A clock behind the last walk (never): due. */
	assert_true(flows_ct_walk_due(t0, t0 - s, 4 * FLOWS_CT_WALK_RATE, 0));
	/* Few entries, but their copy took 20 ms of CPU (a slow machine's
	 * 80k entries): 4 s apart, so copying takes 0.5% of a CPU. */
	const uint64_t ms = 1000000ULL;

	assert_true(flows_ct_walk_due(t0, t0 + s, 1000, 5 * ms));
	assert_false(flows_ct_walk_due(t0, t0 + s, 1000, 20 * ms));
	assert_false(flows_ct_walk_due(t0, t0 + 3 * s, 1000, 20 * ms));
	assert_true(flows_ct_walk_due(t0, t0 + 4 * s, 1000, 20 * ms));
	/* The larger of the two spacings: 4 s by the rate, 2 s by the CPU. */
	assert_false(flows_ct_walk_due(t0, t0 + 3 * s, 4 * FLOWS_CT_WALK_RATE, 10 * ms));
	assert_true(flows_ct_walk_due(t0, t0 + 4 * s, 4 * FLOWS_CT_WALK_RATE, 10 * ms));
	/* And 8 s by the CPU, 4 s by the rate. */
	assert_false(flows_ct_walk_due(t0, t0 + 7 * s, 4 * FLOWS_CT_WALK_RATE, 40 * ms));
	assert_true(flows_ct_walk_due(t0, t0 + 8 * s, 4 * FLOWS_CT_WALK_RATE, 40 * ms));
	/* However long the copy took, at most FLOWS_CT_WALK_MAX_S apart. */
	assert_false(flows_ct_walk_due(t0, t0 + (FLOWS_CT_WALK_MAX_S - 1) * s, 1000, 10 * s));
	assert_true(flows_ct_walk_due(t0, t0 + FLOWS_CT_WALK_MAX_S * s, 1000, 10 * s));
	assert_true(flows_ct_walk_due(t0, t0 + FLOWS_CT_WALK_MAX_S * s, 1000, UINT64_MAX / 2));
}

/* The window's last change: its records' highest seq (the cursor flows_render_json gives). */
static uint64_t last_seq(struct flows *f)
{
	uint64_t seq = 0;

	for (const struct flow_rec *r = flows_head(f); r; r = r->next)
		seq = r->seq > seq ? r->seq : seq;
	return seq;
}

/* The window's records in_ct (those a sweep looks at). */
static size_t ct_count(struct flows *f)
{
	size_t n = 0;

	for (const struct flow_rec *r = flows_head(f); r; r = r->next)
		n += r->in_ct;
	return n;
}

static void test_ct_sweep(void **state)
{
	const uint64_t s = 1000000000ULL;
	struct flow_key est = key4("10.0.0.1", 1, "10.0.0.2", 80, IPPROTO_TCP);
	struct flow_key closed = key4("10.0.0.1", 2, "10.0.0.2", 80, IPPROTO_TCP);
	struct flow_key udp = key4("10.0.0.1", 3, "10.0.0.2", 53, IPPROTO_UDP);
	struct flow_rec *re, *rc, *ru;
	struct flows *f;
	uint64_t seq;

	(void)state;
	assert_int_equal(flows_new(3, &f), 0);
	re = ct(f, est, 1 * s, 100 * s, 5, 500, 5, 500, XCNI_CT_ESTABLISHED);
	rc = ct(f, closed, 1 * s, 100 * s, 5, 500, 5, 500, XCNI_CT_CLOSED);
	ru = ct(f, udp, 1 * s, 100 * s, 1, 60, 0, 0, XCNI_CT_NEW);
	assert_true(re->in_ct && rc->in_ct && ru->in_ct);
	assert_int_equal(ct_count(f), 3);
	/* Within every lifetime: nothing ends, nothing is touched. */
	seq = last_seq(f);
	assert_int_equal(flows_ct_sweep(f, false, 105 * s), 0);
	assert_int_equal(last_seq(f), seq);
	/* A stamp after now (another CPU's clock) is fresh. */
	assert_int_equal(flows_ct_sweep(f, false, 99 * s), 0);
	/* The closed entry's 10 s pass: it ends, touched (the log sees it). */
	assert_int_equal(flows_ct_sweep(f, false, 100 * s + XCNI_CT_TCP_CLOSE_NS + 1), 1);
	assert_false(rc->in_ct);
	assert_true(rc->seq > seq);
	assert_true(re->in_ct && ru->in_ct);
	assert_int_equal(ct_count(f), 2);
	/* A walk that read all live entries and found only the UDP one's. */
	flows_ct_update(f, ru, 1 * s, 120 * s, (uint64_t[2]){ 2, 0 }, (uint64_t[2]){ 120, 0 },
			XCNI_CT_NEW, false, false);
	assert_int_equal(flows_ct_sweep(f, true, 120 * s), 1);
	assert_false(re->in_ct);
	assert_true(ru->in_ct);
	/* The next walk that reads all finds none: the UDP flow ends too. */
	assert_int_equal(flows_ct_sweep(f, true, 121 * s), 1);
	assert_false(ru->in_ct);
	assert_int_equal(ct_count(f), 0);
	/* Found again: active again; then the window pushes it out while active. */
	flows_ct_update(f, re, 1 * s, 130 * s, (uint64_t[2]){ 6, 5 }, (uint64_t[2]){ 560, 500 },
			XCNI_CT_ESTABLISHED, false, false);
	assert_true(re->in_ct);
	ct(f, closed, 1 * s, 130 * s, 5, 500, 5, 500, XCNI_CT_CLOSED);
	ct(f, udp, 1 * s, 130 * s, 3, 180, 0, 0, XCNI_CT_NEW);
	assert_int_equal(ct_count(f), 3);
	for (uint16_t p = 10; p < 13; p++)
		ct(f, key4("10.0.0.3", p, "10.0.0.2", 80, IPPROTO_TCP), 1 * s, 131 * s, 1, 60, 0,
		   0, XCNI_CT_NEW);
	assert_int_equal(flows_count(f), 3);
	assert_int_equal(ct_count(f), 3);
	/* The three left are the new ones, all active; past the SYN lifetime all end. */
	assert_int_equal(flows_ct_sweep(f, false, 131 * s + XCNI_CT_TCP_SYN_NS + 1), 3);
	assert_int_equal(ct_count(f), 0);
	for (struct flow_rec *r = flows_head(f); r; r = r->next)
		assert_false(r->in_ct);
	flows_free(f);
}

static int set(struct flow_filter *ff, const char *n, const char *v, char *err)
{
	return flow_filter_set(ff, n, v, err, 256);
}

static void test_filter_parse(void **state)
{
	struct flow_filter ff;
	char err[256];

	(void)state;
	flow_filter_init(&ff);
	ff.from.kind = FM_NONE;
	assert_int_equal(set(&ff, "from", "x/a", err), 0);
	assert_int_equal(ff.from.kind, FM_POD);
	assert_string_equal(ff.from.ns, "x");
	assert_string_equal(ff.from.name, "a");
	ff.to.kind = FM_NONE;
	assert_int_equal(set(&ff, "to", "10.1.0.0/16", err), 0);
	assert_int_equal(ff.to.kind, FM_CIDR);
	assert_int_equal(ff.to.cidr.len, 16);
	ff.to.kind = FM_NONE;
	assert_int_equal(set(&ff, "to", "fd00::/8", err), 0);
	assert_int_equal(ff.to.cidr.family, 6);
	ff.from.kind = FM_NONE;
	assert_int_equal(set(&ff, "from", "ns:kube-system", err), 0);
	assert_int_equal(ff.from.kind, FM_NS);
	ff.from.kind = FM_NONE;
	assert_int_equal(set(&ff, "from", "y", err), 0);
	assert_int_equal(ff.from.kind, FM_NS);
	ff.from.kind = FM_NONE;
	assert_int_equal(set(&ff, "from", "app=web,tier!=db,!canary,role", err), 0);
	assert_int_equal(ff.from.kind, FM_LABELS);
	assert_int_equal(ff.from.nsel, 4);
	assert_int_equal(ff.from.sel[1].op, '!');
	assert_int_equal(ff.from.sel[2].op, 'n');
	assert_int_equal(ff.from.sel[3].op, 'e');
	assert_int_equal(set(&ff, "verdict", "denied", err), 0);
	assert_int_equal(ff.verdict, FLOW_DENIED);
	assert_int_equal(set(&ff, "protocol", "UDP", err), 0);
	assert_int_equal(ff.proto, IPPROTO_UDP);
	assert_int_equal(set(&ff, "since", "5m", err), 0);
	assert_true(ff.since_ns == 300ULL * 1000000000ULL);
	assert_int_equal(set(&ff, "last", "20", err), 0);
	assert_int_equal(set(&ff, "service", "default/web:http", err), 0);

	/* Bad ones: refused, and the message names the filter and the value. */
	static const struct {
		const char *n, *v, *says;
	} bad[] = {
		{ "verdict", "maybe", "--verdict maybe" },
		{ "port", "0", "--port 0" },
		{ "port", "65536", "--port 65536" },
		{ "port", "http", "--port http" },
		{ "protocol", "tcpx", "--protocol tcpx" },
		{ "protocol", "256", "--protocol 256" },
		{ "from", "ip:10.0.0.300", "--from ip:10.0.0.300" },
		{ "to", "10.0.0.0/33", "--to 10.0.0.0/33: not" },
		{ "to", "pod:x", "--to pod:x: a pod is NAMESPACE/NAME" },
		{ "from", "x/a/b", "--from x/a/b" },
		{ "from", "", "--from : empty" },
		{ "from", "label:app=we b", "--from label:app=we b" },
		{ "from", "label:!app=web", "--from label:!app=web" },
		{ "service", "web", "--service web" },
		{ "since", "5 minutes", "--since 5 minutes" },
		{ "since", "-5m", "--since -5m" },
		{ "last", "0", "--last 0" },
		{ "last", "many", "--last many" },
		{ "colour", "red", "--colour: no such filter" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ff.from.kind = ff.to.kind = FM_NONE;
		if (set(&ff, bad[i].n, bad[i].v, err) != -EINVAL)
			fail_msg("%s %s: taken", bad[i].n, bad[i].v);
		if (!strstr(err, bad[i].says))
			fail_msg("%s %s: said \"%s\", wanted \"%s\"", bad[i].n, bad[i].v, err,
				 bad[i].says);
	}
	/* The request xcnictl sends: a bad line says which. */
	assert_int_equal(flow_filter_parse(&ff, "from=x/a\nverdict=allowed\n", err, 256), 0);
	assert_int_equal(ff.verdict, FLOW_ALLOWED);
	assert_int_equal(flow_filter_parse(&ff, "from=x/a\nport=x\n", err, 256), -EINVAL);
	assert_non_null(strstr(err, "--port x"));
	assert_int_equal(flow_filter_parse(&ff, "garbage\n", err, 256), -EINVAL);
	assert_non_null(strstr(err, "garbage"));
}

static int render_count(struct flows *f, const char *req, uint64_t now, struct fbuf *b)
{
	struct flow_render_ctx rc = { .now_ns = now, .node = "n1" };
	struct flow_filter ff;
	char err[256];

	int n;

	assert_int_equal(flow_filter_parse(&ff, req, err, sizeof(err)), 0);
	flows_fbuf_free(b);
	n = flows_render_json(f, &ff, &rc, b);
	flow_filter_free(&ff);
	return n;
}

/* req over f renders n records at now, the JSON holding want (NULL: anything). */
static void renders(struct flows *f, const char *req, uint64_t now, struct fbuf *b, int n,
		    const char *want)
{
	assert_int_equal(render_count(f, req, now, b), n);
	if (want && !strstr(b->p, want))
		fail_msg("%s: \"%s\" not in %s", req, want, b->p);
}

static struct flow_peer peer_at(uint8_t loc)
{
	return (struct flow_peer){ .identity = loc == FLOW_LOC_OUTSIDE ? XCNI_ID_WORLD : 300,
				   .loc = loc };
}

/*
 * Observation points: a node that sends a connection into the overlay says
 * forwarded at to-overlay, never allowed (an egress allow keeps forwarded);
 * the destination's node judges at to-pod; a policy change that cuts an
 * allowed flow leaves denied with what it was before.
 */
static void test_points(void **state)
{
	struct flow_peer local = peer_at(FLOW_LOC_LOCAL), remote = peer_at(FLOW_LOC_REMOTE),
			 world = peer_at(FLOW_LOC_OUTSIDE);
	uint64_t p[2] = { 3, 0 }, by[2] = { 300, 0 };
	struct fbuf b = {};
	struct flows *f;
	struct flow_rec *r;
	bool created;
	struct flow_key k = key4("10.0.1.1", 40001, "10.0.2.2", 81, IPPROTO_UDP);

	(void)state;
	assert_int_equal(flows_new(16, &f), 0);
	/* Source node: local pod -> a pod behind the overlay. */
	r = flows_get_owned(f, &k, NULL, &created);
	flows_set_ends(f, r, &local, &remote);
	assert_int_equal(r->verdict, FLOW_FORWARDED);
	assert_int_equal(flow_rec_entry(r), FLOW_PT_FROM_POD);
	assert_int_equal(flow_rec_point(r), FLOW_PT_TO_OVERLAY);
	flows_ct_update(f, r, 1000, 2000, p, by, XCNI_CT_ESTABLISHED, false, false);
	/* Its egress policy allowed it: still forwarded, the policy kept. */
	flows_verdict(f, r, 2000, 0, 7, "z/egress", 0, false);
	assert_int_equal(r->verdict, FLOW_FORWARDED);
	assert_string_equal(r->policy, "z/egress");
	renders(f, "verdict=forwarded\n", 3000, &b, 1, "\"verdict\":\"forwarded\",\"observation_point\":\"to-overlay\","
				    "\"entry_point\":\"from-pod\"");
	renders(f, "verdict=allowed\n", 3000, &b, 0, NULL);
	renders(f, "verdict=FORWARDED\n", 3000, &b, 1, NULL);
	renders(f, "verdict=DROPPED\n", 3000, &b, 0, NULL);
	/* An egress drop at the source: denied at from-pod. */
	k.sport = 40002;
	r = flows_get_owned(f, &k, NULL, &created);
	flows_set_ends(f, r, &local, &remote);
	flows_drop(f, r, 2500, 0, XCNI_DROP_POLICY_EGRESS, 60);
	assert_int_equal(r->verdict, FLOW_DENIED);
	assert_int_equal(flow_rec_point(r), FLOW_PT_FROM_POD);
	assert_int_equal(r->prev_verdict, 0); /* never passed: nothing was cut */
	/* Destination node: from the overlay to a local pod, dropped at to-pod. */
	k.sport = 40003;
	r = flows_get_owned(f, &k, NULL, &created);
	flows_set_ends(f, r, &remote, &local);
	assert_int_equal(r->verdict, FLOW_ALLOWED);
	assert_int_equal(flow_rec_entry(r), FLOW_PT_FROM_OVERLAY);
	assert_int_equal(flow_rec_point(r), FLOW_PT_TO_POD);
	flows_drop(f, r, 2600, 1, XCNI_DROP_POLICY_INGRESS, 60);
	flows_isolators(f, r, "x/deny-all, x/web");
	assert_int_equal(flow_rec_point(r), FLOW_PT_TO_POD);
	renders(f, "verdict=denied\nfrom-port=40003\n", 3000, &b, 1, "\"isolated_by\":\"x/deny-all, x/web\"");
	assert_non_null(strstr(b.p, "\"observation_point\":\"to-pod\",\"entry_point\":\"from-overlay\""));
	/* A flow allowed by a policy, then cut by a policy change. */
	k.sport = 40004;
	r = flows_get_owned(f, &k, NULL, &created);
	flows_set_ends(f, r, &remote, &local);
	flows_verdict(f, r, 1000, 1, 8, "x/web", 0, false);
	flows_ct_update(f, r, 1000, 2000, p, by, XCNI_CT_ESTABLISHED, false, false);
	assert_int_equal(r->verdict, FLOW_ALLOWED);
	flows_drop(f, r, 2700, 1, XCNI_DROP_POLICY_INGRESS, 60);
	assert_int_equal(r->verdict, FLOW_DENIED);
	assert_null(r->policy);
	renders(f, "from-port=40004\n", 3000, &b, 1, "\"previous_verdict\":\"allowed\",\"previous_policy\":\"x/web\"");
	/* To the world from a local pod: allowed at to-stack (nothing further judges). */
	k.sport = 40005;
	r = flows_get_owned(f, &k, NULL, &created);
	flows_set_ends(f, r, &local, &world);
	assert_int_equal(r->verdict, FLOW_ALLOWED);
	assert_int_equal(flow_rec_point(r), FLOW_PT_TO_STACK);
	/* From outside (a NodePort client) to a backend behind the overlay: forwarded. */
	k.sport = 40006;
	r = flows_get_owned(f, &k, NULL, &created);
	flows_set_ends(f, r, &world, &remote);
	assert_int_equal(r->verdict, FLOW_FORWARDED);
	assert_int_equal(flow_rec_entry(r), FLOW_PT_FROM_OUTSIDE);
	flows_fbuf_free(&b);
	flows_free(f);
}

/* Hubble's filter spellings: the same records as Hubble would pick. */
static void test_hubble_filters(void **state)
{
	uint64_t s = 1000000000ULL;
	struct flow_render_ctx rc = { .node = "n1" };
	struct flow_filter ff;
	struct fbuf b = {};
	struct flows *f;
	struct flow_rec *r;
	char err[256], t[48];
	int64_t w;

	(void)state;
	assert_int_equal(flows_new(64, &f), 0);
	named(f, key4("10.0.1.1", 40000, "10.0.1.2", 80, IPPROTO_TCP), "x", "api-1",
	      "k8s:app=web", "y", "db-0", 10 * s);
	named(f, key4("10.0.1.3", 40001, "10.0.1.1", 81, IPPROTO_TCP), "default", "api-2",
	      "k8s:app=cli", "x", "api-1", 20 * s);
	r = named(f, key4("10.0.1.4", 40002, "10.0.1.5", 53, IPPROTO_UDP), "z", "c", NULL, "z",
		  "d", 30 * s);
	flows_drop(f, r, 30 * s, 1, XCNI_DROP_POLICY_INGRESS, 60);
	renders(f, "from-pod=x/api\n", 40 * s, &b, 1, NULL);
	renders(f, "from-pod=api\n", 40 * s, &b, 1, NULL); /* namespace default */
	renders(f, "to-pod=x/api-1\n", 40 * s, &b, 1, NULL);
	renders(f, "namespace=x\n", 40 * s, &b, 2, NULL); /* either end */
	renders(f, "label=app=cli\n", 40 * s, &b, 1, NULL);
	renders(f, "from-port=40001\n", 40 * s, &b, 1, NULL);
	renders(f, "to-port=80\n", 40 * s, &b, 1, NULL);
	renders(f, "to-port=40000\n", 40 * s, &b, 0, NULL);
	renders(f, "verdict=DROPPED\n", 40 * s, &b, 1, NULL);
	renders(f, "verdict=FORWARDED\n", 40 * s, &b, 2, NULL);
	renders(f, "not.namespace=x\n", 40 * s, &b, 1, NULL);
	renders(f, "not.verdict=DROPPED\nnot.to-port=80\n", 40 * s, &b, 1, NULL);
	renders(f, "first=1\n", 40 * s, &b, 1, "api-1");
	renders(f, "until=15s\n", 40 * s, &b, 2, NULL); /* last seen 25 s+ ago */
	/* Absolute times: the records' wall clock is mono + wall_off (0 here: the epoch). */
	xcni_rfc3339_fmt(25 * s, 6, t, sizeof(t));
	assert_string_equal(t, "1970-01-01T00:00:25.000000Z");
	{
		char req[96];

		snprintf(req, sizeof(req), "since=%s\n", t);
		renders(f, req, 40 * s, &b, 1, NULL);
		snprintf(req, sizeof(req), "until=%s\n", t);
		renders(f, req, 40 * s, &b, 2, NULL);
	}
	assert_int_equal(xcni_rfc3339_parse("2026-11-26T03:04:05.5+01:00", &w), 0);
	assert_true(w == 1795658645LL * (int64_t)s + (int64_t)s / 2);
	/* The one writer's other widths (logs: 3, Events: 0), read back by the one reader. */
	xcni_rfc3339_fmt(w + 123456789, 3, t, sizeof(t));
	assert_string_equal(t, "2026-11-26T02:04:05.623Z");
	xcni_rfc3339_fmt(w, 0, t, sizeof(t));
	assert_string_equal(t, "2026-11-26T02:04:05Z");
	assert_int_equal(xcni_rfc3339_parse(t, &w), 0);
	assert_true(w == 1795658645LL * (int64_t)s);
	assert_int_equal(xcni_rfc3339_parse("2026-11-26 03:04:05", &w), -EINVAL);
	assert_int_equal(xcni_rfc3339_parse("1012-11-20T09:30:02Z", &w), -ERANGE);
	assert_int_equal(xcni_rfc3339_parse("2263-01-01T00:00:00Z", &w), -ERANGE);
	assert_int_equal(xcni_rfc3339_parse("1678-01-01T00:00:00Z", &w), 0);
	/* Times in the answer: RFC 3339 by default, monotonic seconds with time=mono. */
	renders(f, "from-port=40000\n", 40 * s, &b, 1, "\"last_seen\":\"1970-01-01T00:00:10.000000Z\"");
	assert_int_equal(flow_filter_parse(&ff, "from-port=40000\ntime=mono\n", err, sizeof(err)), 0);
	rc.now_ns = 40 * s;
	rc.mono = ff.time_mono;
	flows_fbuf_free(&b);
	assert_int_equal(flows_render_json(f, &ff, &rc, &b), 1);
	assert_non_null(strstr(b.p, "\"last_seen\":10.000000"));
	flow_filter_free(&ff);
	/* Bad ones, named. */
	flow_filter_init(&ff);
	assert_int_equal(flow_filter_set(&ff, "not.last", "3", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--not --last"));
	assert_int_equal(flow_filter_set(&ff, "verdict", "MAYBE", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--verdict MAYBE"));
	assert_int_equal(flow_filter_set(&ff, "since", "2026-13-40T00:00:00Z", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "--since"));
	assert_int_equal(flow_filter_set(&ff, "to-port", "0", err, sizeof(err)), -EINVAL);
	assert_int_equal(flow_filter_set(&ff, "first", "2", err, sizeof(err)), 0);
	assert_int_equal(flow_filter_set(&ff, "last", "2", err, sizeof(err)), -EINVAL);
	assert_int_equal(flow_filter_set(&ff, "from-pod", "a/b/c", err, sizeof(err)), -EINVAL);
	flow_filter_free(&ff);
	flows_fbuf_free(&b);
	flows_free(f);
}

static void test_filter_match(void **state)
{
	uint64_t s = 1000000000ULL;
	struct flows *f;
	struct flow_rec *r, *dr;
	struct fbuf b = {};
	char req[128];

	(void)state;
	assert_int_equal(flows_new(64, &f), 0);
	named(f, key4("10.0.1.1", 40000, "10.0.1.2", 80, IPPROTO_TCP), "x", "a",
	      "k8s:app=web,k8s:io.kubernetes.pod.namespace=x", "x", "b", 10 * s);
	r = named(f, key4("10.0.1.1", 40001, "10.0.2.3", 81, IPPROTO_TCP), "x", "a",
		  "k8s:app=web,k8s:io.kubernetes.pod.namespace=x", "y", "c", 20 * s);
	flows_drop(f, r, 20 * s, XCNI_DIR_TO_POD, XCNI_DROP_POLICY_INGRESS, 74);
	dr = r;
	named(f, key6("fd00::1:1", 5000, "fd00::2:3", 53, IPPROTO_UDP), "y", "c",
	      "k8s:app=db", "y", "d", 30 * s);
	r = named(f, key4("10.0.1.2", 1234, "8.8.8.8", 443, IPPROTO_TCP), "x", "b", NULL, NULL,
		  NULL, 40 * s);
	r->dst.identity = XCNI_ID_WORLD;
	flows_set_str(f, &r->service, "default/web:http");

	renders(f, "", 40 * s, &b, 4, NULL);
	renders(f, "from=x/a\n", 40 * s, &b, 2, NULL);
	renders(f, "from=x/a\nverdict=denied\n", 40 * s, &b, 1, "\"drop_reason\":\"drop-policy-ingress\"");
	renders(f, "to=y\n", 40 * s, &b, 2, NULL);
	renders(f, "to=ns:y\nprotocol=udp\n", 40 * s, &b, 1, NULL);
	renders(f, "from=app=web\n", 40 * s, &b, 2, NULL);
	renders(f, "from=label:app=web,!tier\n", 40 * s, &b, 2, NULL);
	renders(f, "from=label:app!=web\n", 40 * s, &b, 2, NULL);
	renders(f, "to=10.0.2.0/24\n", 40 * s, &b, 1, NULL);
	renders(f, "to=fd00::2:0/112\n", 40 * s, &b, 1, NULL);
	renders(f, "to=0.0.0.0/0\n", 40 * s, &b, 3, NULL);
	renders(f, "port=53\n", 40 * s, &b, 1, NULL);
	renders(f, "port=1234\n", 40 * s, &b, 1, NULL);
	renders(f, "service=default/web\n", 40 * s, &b, 1, NULL);
	renders(f, "service=default/web:http\n", 40 * s, &b, 1, NULL);
	renders(f, "service=default/web:grpc\n", 40 * s, &b, 0, NULL);
	renders(f, "service=default/we\n", 40 * s, &b, 0, NULL);
	renders(f, "since=15s\n", 40 * s, &b, 2, NULL);
	renders(f, "last=1\n", 40 * s, &b, 1, "8.8.8.8");
	assert_non_null(strstr(b.p, "\"kind\":\"world\""));
	renders(f, "last=2\nfrom=x/a\n", 40 * s, &b, 2, NULL);
	/* --follow's cursor: nothing after the last seq until something changes. */
	snprintf(req, sizeof(req), "after=%llu\n", (unsigned long long)last_seq(f));
	renders(f, req, 40 * s, &b, 0, NULL);
	snprintf(req, sizeof(req), "{\"cursor\":%llu,\"flows\":4,\"window\":64",
		 (unsigned long long)last_seq(f));
	assert_non_null(strstr(b.p, req));
	flows_touch(f, r);
	snprintf(req, sizeof(req), "after=%llu\n", (unsigned long long)last_seq(f) - 1);
	renders(f, req, 40 * s, &b, 1, NULL);
	/* The denied flow: no rule name, then a ClusterNetworkPolicy's named rule. */
	renders(f, "from=x/a\nverdict=denied\n", 40 * s, &b, 1, "\"rule\":null,\"rule_name\":null");
	/* A ClusterNetworkPolicy's named rule: its name beside the index. */
	flows_denied_by(f, dr, 9, "deny-y [Admin 10]", 0);
	flows_rule_name(f, dr, "no-y");
	renders(f, "from=x/a\nverdict=denied\n", 40 * s, &b, 1, "\"policy\":\"deny-y [Admin 10]\"");
	assert_non_null(strstr(b.p, "\"rule\":0,\"rule_name\":\"no-y\""));
	flows_rule_name(f, dr, NULL);
	renders(f, "from=x/a\nverdict=denied\n", 40 * s, &b, 1, "\"rule\":0,\"rule_name\":null");
	flows_fbuf_free(&b);
	flows_free(f);
}

/*
 * Issue 53 item 3: a NodePort flow this node SNATed names its outside client
 * (the record's source is this node's address and SNAT port): in the JSON,
 * and --from-ip / --ip find it by the client, --to-ip does not.
 */
static void test_client(void **state)
{
	uint64_t s = 1000000000ULL;
	struct fbuf b = {};
	struct flows *f;
	struct flow_rec *r;
	const uint8_t client[4] = { 198, 51, 100, 1 };

	(void)state;
	assert_int_equal(flows_new(64, &f), 0);
	r = named(f, key4("192.168.77.1", 32800, "10.0.2.3", 8080, IPPROTO_TCP), NULL, NULL, NULL,
		  "x", "b", 10 * s);
	named(f, key4("192.168.77.1", 32801, "10.0.2.3", 8080, IPPROTO_TCP), NULL, NULL, NULL, "x",
	      "b", 10 * s);
	r->client_family = 4;
	r->client_port = 40004;
	memcpy(r->client_addr, client, 4);
	renders(f, "from-ip=198.51.100.1\n", 20 * s, &b, 1, "\"client\":\"198.51.100.1:40004\"");
	renders(f, "ip=198.51.100.0/24\n", 20 * s, &b, 1, NULL);
	renders(f, "to-ip=198.51.100.1\n", 20 * s, &b, 0, NULL);
	renders(f, "from-ip=192.168.77.1\n", 20 * s, &b, 2, NULL);
	renders(f, "port=32801\n", 20 * s, &b, 1, "\"client\":null");
	flows_fbuf_free(&b);
	flows_free(f);
}

/*
 * The words of every view (lib/observe/vocab.h) in flows: --pod, --ip,
 * --namespace, --identity either end, --reason; Hubble's --from-ip/--to-ip,
 * --from-namespace, --from-label, --from-identity; --verdict's one set of
 * values (the old allow, deny); a source given twice refused.
 */
static void test_vocab(void **state)
{
	uint64_t s = 1000000000ULL;
	struct flow_filter ff;
	struct fbuf b = {};
	struct flows *f;
	struct flow_rec *r;
	char err[256];
	int v;

	(void)state;
	assert_int_equal(flows_new(64, &f), 0);
	r = named(f, key4("10.0.1.1", 40000, "10.0.1.2", 80, IPPROTO_TCP), "x", "a",
		  "k8s:app=web", "y", "b", 10 * s);
	r->src.identity = 300;
	r->dst.identity = 301;
	r = named(f, key4("10.0.1.3", 40001, "10.0.1.1", 81, IPPROTO_TCP), "z", "c", NULL, "x",
		  "a", 20 * s);
	r->src.identity = 302;
	r->dst.identity = 300;
	flows_drop(f, r, 20 * s, 1, XCNI_DROP_POLICY_INGRESS, 60);
	r = named(f, key4("10.0.1.2", 1234, "8.8.8.8", 443, IPPROTO_TCP), "y", "b", NULL, NULL,
		  NULL, 30 * s);
	r->src.identity = 301;
	r->dst.identity = XCNI_ID_WORLD;
	flows_drop(f, r, 30 * s, 0xff, XCNI_DROP_SPOOF_IP, 60);

	renders(f, "pod=x/a\n", 40 * s, &b, 2, NULL); /* either end */
	renders(f, "pod=x/ab\n", 40 * s, &b, 0, NULL);
	renders(f, "pod=10.0.1.2\n", 40 * s, &b, 2, NULL);
	renders(f, "ip=10.0.1.0/30\n", 40 * s, &b, 3, NULL);
	renders(f, "ip=8.8.8.8\n", 40 * s, &b, 1, NULL);
	renders(f, "identity=300\n", 40 * s, &b, 2, NULL);
	renders(f, "identity=reserved:world\n", 40 * s, &b, 1, NULL);
	renders(f, "namespace=y\n", 40 * s, &b, 2, NULL);
	renders(f, "reason=drop-policy-ingress\n", 40 * s, &b, 1, NULL);
	renders(f, "reason=drop-spoof-ip\n", 40 * s, &b, 1, NULL);
	renders(f, "verdict=deny\n", 40 * s, &b, 1, NULL); /* a policy's drop alone */
	renders(f, "verdict=dropped\n", 40 * s, &b, 1, "\"verdict\":\"dropped\"");
	renders(f, "verdict=DROPPED\n", 40 * s, &b, 2, NULL); /* Hubble's: any reason */
	renders(f, "verdict=allow\n", 40 * s, &b, 1, NULL);
	renders(f, "from-ip=10.0.1.3\n", 40 * s, &b, 1, NULL);
	renders(f, "to-ip=10.0.1.0/24\n", 40 * s, &b, 2, NULL);
	renders(f, "from-namespace=x\n", 40 * s, &b, 1, NULL);
	renders(f, "to-namespace=x\n", 40 * s, &b, 1, NULL);
	renders(f, "from-label=app=web\n", 40 * s, &b, 1, NULL);
	renders(f, "from-identity=302\n", 40 * s, &b, 1, NULL);
	renders(f, "to=identity:reserved:world\n", 40 * s, &b, 1, NULL);
	renders(f, "not.pod=x/a\n", 40 * s, &b, 1, NULL);

	/* --verdict: one set of values for flows and monitor (vocab.h). */
	assert_int_equal(vocab_verdict("DROPPED", &v, err, sizeof(err)), 0);
	assert_int_equal(v, FLOW_VERDICT_DROPS);
	assert_int_equal(vocab_verdict("dropped", &v, err, sizeof(err)), 0);
	assert_int_equal(v, FLOW_DROPPED);
	/* One table (issue 70 item 2): each drop reason's fate, and every word read back. */
	assert_int_equal(flow_drop_verdict(XCNI_DROP_POLICY_INGRESS), FLOW_DENIED);
	assert_int_equal(flow_drop_verdict(XCNI_DROP_NO_BACKEND), FLOW_NO_BACKEND);
	assert_int_equal(flow_drop_verdict(XCNI_DROP_NO_TUNNEL), FLOW_DROPPED);
	for (int i = 0; i < FLOW_NR_VERDICTS; i++) {
		assert_int_equal(flow_verdict_parse(flow_verdict_name(i)), i);
		assert_int_equal(vocab_verdict(flow_verdict_name(i), &v, err, sizeof(err)), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(vocab_verdict("deny", &v, err, sizeof(err)), 0);
	assert_int_equal(v, FLOW_DENIED);
	assert_int_equal(vocab_verdict("FORWARDED", &v, err, sizeof(err)), 0);
	assert_int_equal(v, FLOW_VERDICT_PASSED);
	assert_int_equal(vocab_verdict("forwarded", &v, err, sizeof(err)), 0);
	assert_int_equal(v, FLOW_FORWARDED);
	assert_int_equal(vocab_verdict("allow", &v, err, sizeof(err)), 0);
	assert_int_equal(v, FLOW_ALLOWED);
	assert_int_equal(vocab_verdict("AUDIT", &v, err, sizeof(err)), 0);
	assert_int_equal(v, FLOW_AUDIT);
	/* Every word has a meaning, and the table has the words the views take. */
	int found = 0;

	for (const struct vocab_word *w = vocab_words; w->name; w++) {
		assert_true(w->help && *w->help && w->cmds);
		found |= (strcmp(w->name, "pod") ? 0 : 1) |
			 (!strcmp(w->name, "namespace") && w->short_name == 'n' ? 2 : 0) |
			 (strcmp(w->name, "colour") ? 0 : 4);
	}
	assert_int_equal(found, 3); /* pod and namespace (-n), no colour */

	/* Bad ones, named with the value. */
	static const struct {
		const char *req, *says;
	} bad[] = {
		{ "pod=x\n", "--pod x: a pod is NAMESPACE/NAME or its IP" },
		{ "pod=10.0.0.0/8\n", "--pod 10.0.0.0/8: a pod is NAMESPACE/NAME or its IP (an address, not a prefix" },
		{ "ip=10.0.0.300\n", "--ip 10.0.0.300: not an IP address" },
		{ "identity=reserved:moon\n", "--identity reserved:moon: not an identity" },
		{ "reason=drop-moon\n", "--reason drop-moon: no such reason" },
		{ "namespace=a/b\n", "--namespace a/b: not a namespace name" },
		{ "from-ip=web\n", "--from-ip web: not an IP address or CIDR" },
		{ "to-identity=x\n", "--to-identity x: not an identity" },
		{ "from-label=a b\n", "--from-label a b: not a label selector" },
		{ "from-moon=x\n", "--from-moon: no such filter" },
		{ "from=x/a\nfrom-pod=x/b\n", "--from-pod x/b: the source is given twice" },
		{ "to-ip=10.0.0.1\nto=y\n", "--to y: the destination is given twice" },
		{ "verdict=maybe\n", "--verdict maybe: not allowed, forwarded, denied, audit" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (flow_filter_parse(&ff, bad[i].req, err, sizeof(err)) != -EINVAL)
			fail_msg("%s: taken", bad[i].req);
		flow_filter_free(&ff);
		if (!strstr(err, bad[i].says))
			fail_msg("%s: said \"%s\", wanted \"%s\"", bad[i].req, err, bad[i].says);
	}
	flows_fbuf_free(&b);
	flows_free(f);
}

/*
 * Isolation drops (xcnid's xcni_policy_isolation_drops_total): one series a
 * pod, side and isolating policy, named as the policy is (the flow records'
 * ", " is no part of a name); a drop counts under each policy and once under
 * the pod's own series (xcni_pod_isolation_drops_total); a table full counts
 * what it could not place apart.
 */
static void test_isodrops(void **state)
{
	const struct flows_isodrop *d;
	struct flows *f;
	size_t n;
	char pod[32];

	(void)state;
	assert_int_equal(flows_new(64, &f), 0);
	d = flows_isodrops(f, &n);
	assert_int_equal(n, 0);
	/* As flow records name the isolators (fg_isolators): ", " between them. */
	flows_isodrop(f, "x", "a", true, "x/allow-a-from-y-b, x/default-deny-ingress", 1);
	flows_isodrop(f, "x", "a", true, "x/allow-a-from-y-b,x/default-deny-ingress", 2);
	flows_isodrop(f, "x", "a", false, "x/egress", 1);
	flows_isodrop(f, "y", "b", true, NULL, 4);
	d = flows_isodrops(f, &n);
	assert_int_equal(n, 7);
	/* The pod's own series first: each drop once (3, not 6). */
	assert_true(d[0].pod_total && d[0].ingress && d[0].packets == 3);
	assert_string_equal(d[0].policy, "");
	assert_string_equal(d[1].policy, "x/allow-a-from-y-b");
	assert_true(!d[1].pod_total && d[1].ingress && d[1].packets == 3);
	/* No leading space: the real name, the same series either way. */
	assert_string_equal(d[2].policy, "x/default-deny-ingress");
	assert_true(d[2].packets == 3);
	assert_true(d[3].pod_total && !d[3].ingress && d[3].packets == 1);
	assert_true(!d[4].ingress && d[4].packets == 1 && !strcmp(d[4].policy, "x/egress"));
	assert_true(d[5].pod_total && !strcmp(d[5].ns, "y") && d[5].packets == 4);
	assert_true(!d[6].pod_total && !strcmp(d[6].ns, "y") && !strcmp(d[6].policy, "") &&
		    d[6].packets == 4);
	for (int i = 0; n < FLOWS_ISODROP_MAX - 1; i++) {
		snprintf(pod, sizeof(pod), "p%d", i);
		flows_isodrop(f, "z", pod, true, "z/deny", 1);
		d = flows_isodrops(f, &n);
	}
	assert_true(flows_isodrops_lost(f) == 0);
	flows_isodrop(f, "z", "last", true, "z/deny", 2); /* the pod's series fits, not the policy's */
	d = flows_isodrops(f, &n);
	assert_int_equal(n, FLOWS_ISODROP_MAX);
	assert_true(flows_isodrops_lost(f) == 2);
	flows_isodrop(f, "x", "a", true, "x/default-deny-ingress", 5); /* series it has */
	assert_true(d[0].packets == 8 && d[2].packets == 8);
	flows_free(f);
}

/*
 * xcni_flows_total: each flow once under its verdict and direction, when it
 * has settled (FLOWS_SETTLE_NS after its first packet), whatever its packets;
 * again under a new verdict a policy change gives it; a record evicted before
 * it settled counts as it was.
 */
static void test_verdict_counts(void **state)
{
	const uint64_t S = 1000000000ULL;
	struct flow_key ka = key4("10.0.0.1", 40000, "10.0.0.2", 80, IPPROTO_TCP);
	struct flow_key kd = key4("10.0.0.1", 40001, "10.0.0.3", 81, IPPROTO_UDP);
	const uint64_t(*c)[FLOWS_NR_DIRS];
	struct flow_rec *a, *d;
	struct flows *f;
	bool created;

	(void)state;
	assert_int_equal(flows_new(4, &f), 0);
	a = ct(f, ka, 1 * S, 1 * S, 1, 60, 1, 60, XCNI_CT_ESTABLISHED);
	flows_verdict(f, a, 1 * S, 1, 7, "x/web", 0, false);
	d = flows_get_owned(f, &kd, NULL, &created);
	for (int i = 0; i < 3; i++)
		flows_drop(f, d, 1 * S + i, 0, XCNI_DROP_POLICY_EGRESS, 100);
	c = flows_verdict_counts(f);
	flows_count_settled(f, 2 * S); /* not settled yet */
	assert_true(c[FLOW_ALLOWED][FLOWS_INGRESS] == 0 && c[FLOW_DENIED][FLOWS_EGRESS] == 0);
	flows_count_settled(f, 3 * S);
	assert_true(c[FLOW_ALLOWED][FLOWS_INGRESS] == 1);
	assert_true(c[FLOW_DENIED][FLOWS_EGRESS] == 1); /* three drops, one flow */
	/* More packets, more walks: the same flows, no more counts. */
	ct(f, ka, 1 * S, 4 * S, 9, 900, 9, 900, XCNI_CT_ESTABLISHED);
	flows_drop(f, d, 4 * S, 0, XCNI_DROP_POLICY_EGRESS, 100);
	flows_count_settled(f, 5 * S);
	assert_true(c[FLOW_ALLOWED][FLOWS_INGRESS] == 1 && c[FLOW_DENIED][FLOWS_EGRESS] == 1);
	/* A policy change cuts the allowed one: it counts under denied too. */
	flows_drop(f, a, 6 * S, 1, XCNI_DROP_POLICY_INGRESS, 60);
	flows_count_settled(f, 6 * S);
	assert_true(c[FLOW_DENIED][FLOWS_INGRESS] == 1 && c[FLOW_ALLOWED][FLOWS_INGRESS] == 1);
	/* No policy: into a pod of this node is ingress, into the overlay egress. */
	a->pol_dir = 0xff;
	a->dst.loc = FLOW_LOC_LOCAL;
	a->verdict = FLOW_FORWARDED;
	assert_int_equal(flow_rec_direction(a), FLOWS_INGRESS);
	a->dst.loc = FLOW_LOC_REMOTE;
	assert_int_equal(flow_rec_direction(a), FLOWS_EGRESS);
	a->dst.loc = FLOW_LOC_LOCAL;
	a->verdict = FLOW_DENIED;
	a->pol_dir = 1;
	/* Six new flows in a window of four, none settled: a and d go first
	 * (counted already), then two of the new ones, counted as they were;
	 * the last four wait to settle. */
	for (uint16_t p = 50000; p < 50006; p++) {
		struct flow_key k = key4("10.0.0.9", p, "10.0.0.2", 80, IPPROTO_TCP);
		struct flow_rec *r = ct(f, k, 10 * S, 10 * S, 1, 60, 1, 60, XCNI_CT_ESTABLISHED);

		flows_verdict(f, r, 10 * S, 1, 7, "x/web", 0, false);
	}
	assert_null(flows_find(f, &ka));
	assert_true(c[FLOW_ALLOWED][FLOWS_INGRESS] == 3);
	assert_true(c[FLOW_DENIED][FLOWS_EGRESS] == 1 && c[FLOW_DENIED][FLOWS_INGRESS] == 1);
	flows_count_settled(f, 12 * S);
	assert_true(c[FLOW_ALLOWED][FLOWS_INGRESS] == 7);
	assert_true(c[FLOW_FORWARDED][FLOWS_EGRESS] == 0 && c[FLOW_FORWARDED][FLOWS_INGRESS] == 0);
	flows_free(f);
}

/*
 * The window is shared by namespaces (issue 52 item 8): namespace a's pod
 * opens far more short flows than the window holds, and namespace b's one
 * record, the oldest of all, stays; a's own oldest go, each seen by
 * on_evict (what ends its IPFIX record and writes it to the flow log) and
 * none of b's. Named as the agent names them: no owner, then the ends.
 */
static unsigned int evicted_a, evicted_other;
static uint16_t evicted_last;
static void on_evict_ns(void *arg, const struct flow_rec *r)
{
	(void)arg;
	if (r->src.ns && !strcmp(r->src.ns, "a"))
		evicted_a++;
	else
		evicted_other++;
	evicted_last = r->key.sport;
}

static struct flow_rec *by_ends(struct flows *f, struct flow_key k, const struct flow_peer *src,
			      const struct flow_peer *dst)
{
	bool created;
	struct flow_rec *r = flows_get_owned(f, &k, NULL, &created);

	assert_non_null(r);
	if (created)
		flows_set_ends(f, r, src, dst);
	return r;
}

static void test_window_flood(void **state)
{
	struct flow_peer pa = { .identity = 300 }, pb = { .identity = 301 },
			 srv = { .identity = 302 };
	struct flow_key kb = key4("10.0.2.1", 5353, "10.0.3.1", 53, IPPROTO_UDP), k;
	struct flows *f;

	(void)state;
	evicted_a = evicted_other = 0;
	assert_int_equal(flows_new(8, &f), 0);
	flows_on_evict(f, on_evict_ns, NULL);
	assert_int_equal(flows_set_str(f, &pa.ns, "a"), 0);
	assert_int_equal(flows_set_str(f, &pb.ns, "b"), 0);
	assert_int_equal(flows_set_str(f, &srv.ns, "c"), 0);
	by_ends(f, kb, &pb, &srv);
	for (uint16_t p = 0; p < 100; p++)
		by_ends(f, key4("10.0.1.1", (uint16_t)(20000 + p), "10.0.3.1", 53, IPPROTO_UDP),
		      &pa, &srv);
	assert_int_equal(flows_count(f), 8);
	/* b's record is still there to read and export. */
	assert_non_null(flows_find(f, &kb));
	/* a's newest 7 are, its oldest 93 went, each through on_evict. */
	for (uint16_t p = 0; p < 100; p++) {
		k = key4("10.0.1.1", (uint16_t)(20000 + p), "10.0.3.1", 53, IPPROTO_UDP);
		if (p < 93)
			assert_null(flows_find(f, &k));
		else
			assert_non_null(flows_find(f, &k));
	}
	assert_int_equal(flows_stats(f)->evicted, 93);
	assert_int_equal(evicted_a, 93);
	assert_int_equal(evicted_other, 0);
	assert_int_equal(evicted_last, 20092);
	flows_peer_put(f, &pa);
	flows_peer_put(f, &pb);
	flows_peer_put(f, &srv);
	flows_free(f);
}

/*
 * Owners as the agent charges them (flows_get_owned, flows_owner_of): the
 * one holding the most records gives up room, the newcomer's own on a tie;
 * evictions counted per owner (xcni_flows_evicted_total) and the largest
 * named in the trailer (xcnictl status); an owner with nothing left and no
 * eviction goes, one with evictions stays for its count.
 */
struct owner_seen {
	char ns[16][16];
	size_t records[16];
	uint64_t evicted[16];
	int n;
};

static void owner_cb(void *arg, const char *ns, size_t records, uint64_t evicted)
{
	struct owner_seen *o = arg;

	assert_true(o->n < 16);
	snprintf(o->ns[o->n], sizeof(o->ns[0]), "%s", ns);
	o->records[o->n] = records;
	o->evicted[o->n++] = evicted;
}

static const struct owner_seen *owners_of(struct flows *f, struct owner_seen *o)
{
	memset(o, 0, sizeof(*o));
	flows_owners_each(f, owner_cb, o);
	return o;
}

/* ns's records now and evicted ever; -1: not listed. */
static long long owner_count(struct flows *f, const char *ns, bool evicted)
{
	struct owner_seen o;

	owners_of(f, &o);
	for (int i = 0; i < o.n; i++)
		if (!strcmp(o.ns[i], ns))
			return evicted ? (long long)o.evicted[i] : (long long)o.records[i];
	return -1;
}

static struct flow_rec *owned(struct flows *f, uint16_t sport, const char *ns)
{
	struct flow_key k = key4("10.0.1.1", sport, "10.0.3.1", 53, IPPROTO_UDP);
	bool created;
	struct flow_rec *r = flows_get_owned(f, &k, ns, &created);

	assert_non_null(r);
	assert_true(created);
	assert_string_equal(flows_rec_owner(r), ns);
	return r;
}

static void test_window_owners(void **state)
{
	struct flow_peer pod = {}, world = { .identity = XCNI_ID_WORLD }, other = {};
	struct flow_render_ctx rc = { .node = "n1" };
	struct flow_filter ff;
	struct fbuf b = {};
	struct flows *f;
	struct flow_key k;
	bool created;

	(void)state;
	/* Whose a flow is: its source's namespace, else its destination's, else none. */
	assert_int_equal(flows_new(8, &f), 0);
	assert_int_equal(flows_set_str(f, &pod.ns, "a"), 0);
	assert_int_equal(flows_set_str(f, &other.ns, "b"), 0);
	assert_string_equal(flows_owner_of(&pod, &other), "a");
	assert_string_equal(flows_owner_of(&world, &other), "b");
	assert_string_equal(flows_owner_of(&world, &world), "");
	/* a has 6, b 2: b's new records take a's oldest until they hold 4 each... */
	for (uint16_t p = 0; p < 6; p++)
		owned(f, (uint16_t)(100 + p), "a");
	owned(f, 200, "b");
	owned(f, 201, "b");
	assert_int_equal(flows_owners(f), 2);
	owned(f, 202, "b");
	owned(f, 203, "b");
	assert_int_equal(owner_count(f, "a", false), 4);
	assert_int_equal(owner_count(f, "b", false), 4);
	assert_int_equal(owner_count(f, "a", true), 2);
	k = key4("10.0.1.1", 101, "10.0.3.1", 53, IPPROTO_UDP);
	assert_null(flows_find(f, &k));
	/* ...then, on a tie, b's own oldest go. */
	owned(f, 204, "b");
	assert_int_equal(owner_count(f, "b", true), 1);
	k = key4("10.0.1.1", 200, "10.0.3.1", 53, IPPROTO_UDP);
	assert_null(flows_find(f, &k));
	assert_int_equal(owner_count(f, "a", false), 4);
	/* A record a changes is its newest: its oldest unchanged one goes next. */
	k = key4("10.0.1.1", 102, "10.0.3.1", 53, IPPROTO_UDP);
	flows_touch(f, flows_find(f, &k));
	owned(f, 206, "a"); /* a 4, b 4: a's own */
	k = key4("10.0.1.1", 103, "10.0.3.1", 53, IPPROTO_UDP);
	assert_null(flows_find(f, &k));
	k = key4("10.0.1.1", 102, "10.0.3.1", 53, IPPROTO_UDP);
	assert_non_null(flows_find(f, &k));
	assert_int_equal(owner_count(f, "a", true), 3);
	/* The trailer names whose records went most. */
	flow_filter_init(&ff);
	ff.last = 1;
	assert_true(flows_render_json(f, &ff, &rc, &b) >= 0);
	assert_non_null(strstr(b.p, "\"owners\":2"));
	assert_non_null(strstr(b.p, "\"evicted_most\":{\"namespace\":\"a\",\"evicted\":3}"));
	flows_fbuf_free(&b);
	flow_filter_free(&ff);
	/* A spoofed source's drop is charged apart, never to the namespace it
	 * names; its room came from a or b (4 each). */
	owned(f, 300, FLOWS_OWNER_SPOOFED);
	assert_int_equal(owner_count(f, FLOWS_OWNER_SPOOFED, false), 1);
	assert_int_equal(owner_count(f, "a", true) + owner_count(f, "b", true), 5);
	assert_int_equal(flows_owners(f), 3);
	/* Recharged when the ends are named after creation; never when given at creation. */
	k = key4("10.0.9.9", 1, "10.0.3.1", 53, IPPROTO_UDP);
	{
		struct flow_rec *r = flows_get_owned(f, &k, NULL, &created);

		assert_string_equal(flows_rec_owner(r), "");
		flows_set_ends(f, r, &world, &other);
		assert_string_equal(flows_rec_owner(r), "b");
		r = owned(f, 301, "c");
		flows_set_ends(f, r, &pod, &other); /* fixed: the ends no longer say */
		assert_string_equal(flows_rec_owner(r), "c");
	}
	/* An owner with nothing left: gone when it lost nothing, kept with its count. */
	assert_int_equal(owner_count(f, "", false), -1);
	assert_int_equal(owner_count(f, "c", false), 1);
	flows_peer_put(f, &pod);
	flows_peer_put(f, &other);
	flows_free(f);
	assert_int_equal(flows_new(1, &f), 0);
	owned(f, 1, "a");
	owned(f, 2, "b"); /* a's one goes: a holds none, and lost one */
	assert_int_equal(owner_count(f, "a", false), 0);
	assert_int_equal(owner_count(f, "a", true), 1);
	assert_int_equal(flows_owners(f), 1);
	flows_free(f);
}

/*
 * A record whose IPFIX end the collector cannot take yet is kept past the
 * window (flows_keep in on_evict): gone from it (not found, its room and its
 * owner's count freed) but whole, its strings with it, until released
 * (ASan's run sees a string freed under it, or a record never freed).
 */
static struct flow_rec *kept_rec;
static void on_evict_keep(void *arg, const struct flow_rec *r)
{
	(void)arg;
	kept_rec = (struct flow_rec *)r;
	flows_keep(kept_rec);
}

static void test_window_keep(void **state)
{
	struct flow_peer pa = {}, pb = {};
	struct flow_key ka = key4("10.0.1.1", 1, "10.0.3.1", 53, IPPROTO_UDP);
	struct flow_key kb = key4("10.0.2.1", 2, "10.0.3.1", 53, IPPROTO_UDP);
	struct flows *f;

	(void)state;
	kept_rec = NULL;
	assert_int_equal(flows_new(1, &f), 0);
	flows_on_evict(f, on_evict_keep, NULL);
	assert_int_equal(flows_set_str(f, &pa.ns, "team-a"), 0);
	assert_int_equal(flows_set_str(f, &pb.ns, "team-b"), 0);
	by_ends(f, ka, &pa, &pb);
	flows_peer_put(f, &pa); /* the record's hold on "team-a" is the last */
	by_ends(f, kb, &pb, &pb);
	assert_non_null(kept_rec);
	assert_null(flows_find(f, &ka));
	assert_int_equal(flows_count(f), 1);
	assert_int_equal(flows_owners(f), 1);
	assert_string_equal(kept_rec->src.ns, "team-a");
	assert_string_equal(flows_rec_owner(flows_find(f, &kb)), "team-b");
	flows_release(f, kept_rec);
	flows_peer_put(f, &pb);
	flows_free(f);
}

/* A bounded buffer stops and says so instead of growing. */
static void test_render_bound(void **state)
{
	struct flow_render_ctx rc = { .node = "n1" };
	struct flow_filter ff;
	struct flows *f;
	struct fbuf b = { .max = 1024 };

	(void)state;
	assert_int_equal(flows_new(64, &f), 0);
	for (uint16_t p = 1; p <= 20; p++)
		ct(f, key4("10.0.0.1", p, "10.0.0.2", 80, IPPROTO_TCP), p, p, 1, 60, 0, 0,
		   XCNI_CT_NEW);
	flow_filter_init(&ff);
	assert_int_equal(flows_render_json(f, &ff, &rc, &b), -E2BIG);
	assert_true(b.len < 1024);
	flows_fbuf_free(&b);
	flows_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direction),   cmocka_unit_test(test_merge),
		cmocka_unit_test(test_drop),	    cmocka_unit_test(test_window),
		cmocka_unit_test(test_fates),
		cmocka_unit_test(test_filter_parse), cmocka_unit_test(test_filter_match),
		cmocka_unit_test(test_client),
		cmocka_unit_test(test_render_bound), cmocka_unit_test(test_audit),
		cmocka_unit_test(test_ct_sweep),
		cmocka_unit_test(test_ct_walk_due),
		cmocka_unit_test(test_peer_share),
		cmocka_unit_test(test_points),
		cmocka_unit_test(test_hubble_filters),
		cmocka_unit_test(test_vocab),
		cmocka_unit_test(test_isodrops),
		cmocka_unit_test(test_verdict_counts),
		cmocka_unit_test(test_window_flood),
		cmocka_unit_test(test_window_owners),
		cmocka_unit_test(test_window_keep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
