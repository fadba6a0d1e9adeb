// SPDX-License-Identifier: Apache-2.0
/*
 * The underlay family a node reaches another in (tunnel_fam), for every
 * mix of this node's underlay addresses and the other's InternalIPs, and
 * that the ipcache's endpoint (tunnel_set, with underlay6 as xcnid sets
 * it: tunnel_underlay6) is the same family wherever there is one: a mixed
 * cluster of a dual node, an IPv4-only one and an IPv6-only one; and with
 * xcnid --tunnel-family ipv6 (prefer6), a cluster of dual nodes over IPv6.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/policy/policy.h"
#include "lib/system/tunnel.h"

static const uint8_t none6[16];

struct peer {
	const char *name;
	uint32_t ip4;
	uint8_t ip6[16];
};

static struct peer peer(const char *name, const char *a4, const char *a6)
{
	struct peer p = { .name = name };

	if (a4)
		assert_int_equal(inet_pton(AF_INET, a4, &p.ip4), 1);
	if (a6)
		assert_int_equal(inet_pton(AF_INET6, a6, p.ip6), 1);
	return p;
}

/* The ipcache entry's endpoint family for p as a node with have4/have6
 * (and --tunnel-family ipv6: prefer6) writes it. */
static int entry_fam_pref(const struct peer *p, bool have4, bool have6, bool prefer6)
{
	struct xcni_ipcache_val v = { .flags = XCNI_IPC_POD };

	tunnel_set(&v, p->ip4, p->ip6, tunnel_underlay6(have4, have6, prefer6));
	/* Both endpoints kept whichever is sent to: a node is accepted at
	 * either (a rolling change of --tunnel-family). */
	assert_int_equal(v.tunnel_ip, p->ip4);
	assert_memory_equal(v.tunnel_ip6, p->ip6, 16);
	assert_true(v.flags & XCNI_IPC_POD);
	if (v.flags & XCNI_IPC_TUN6)
		return 6;
	return v.tunnel_ip ? 4 : 0;
}

static int entry_fam(const struct peer *p, bool have4, bool have6)
{
	return entry_fam_pref(p, have4, have6, false);
}

/* A mix of this node's underlay addresses and the peer's InternalIPs, and
 * the family tunnel_fam must say (0: none in common). */
struct mix {
	bool have4, have6;
	bool p4, p6;
	int fam;
};

/* Every row's family with prefer6 as given, and, where a family reaches the
 * peer, the ipcache's endpoint in that family. */
static void check_mixes(const struct mix *t, size_t n, bool prefer6)
{
	for (size_t i = 0; i < n; i++) {
		struct peer p = peer("p", t[i].p4 ? "192.168.1.2" : NULL,
				     t[i].p6 ? "fc00::2" : NULL);
		int fam = tunnel_fam(p.ip4, p.ip6, t[i].have4, t[i].have6, prefer6);

		if (fam != t[i].fam)
			fail_msg("prefer6 %d, case %zu (node v4 %d v6 %d, peer v4 %d v6 %d): IPv%d, "
				 "expected %d", prefer6, i, t[i].have4, t[i].have6, t[i].p4, t[i].p6,
				 fam, t[i].fam);
		if (fam)
			assert_int_equal(entry_fam_pref(&p, t[i].have4, t[i].have6, prefer6), fam);
	}
}

/* Every (this node, other node) mix by default (auto). */
static void test_table(void **state)
{
	static const struct mix t[] = {
		/* IPv4-only node: as before ABI 9. */
		{ true, false, true, false, 4 },
		{ true, false, true, true, 4 },
		{ true, false, false, true, 0 },
		/* IPv6-only node: every peer at its IPv6 InternalIP. */
		{ false, true, true, true, 6 },
		{ false, true, false, true, 6 },
		{ false, true, true, false, 0 },
		/* Both: IPv4 where the peer has it (20 bytes less), else IPv6. */
		{ true, true, true, true, 4 },
		{ true, true, true, false, 4 },
		{ true, true, false, true, 6 },
		/* A peer with no InternalIP: nothing, whatever this node has. */
		{ true, true, false, false, 0 },
		{ true, false, false, false, 0 },
		{ false, true, false, false, 0 },
	};

	(void)state;
	check_mixes(t, sizeof(t) / sizeof(t[0]), false);
	/* No IPv6 array at all (a Node object without one). */
	assert_int_equal(tunnel_fam(0, NULL, true, true, false), 0);
	assert_int_equal(tunnel_fam(htonl(0xc0a80102), NULL, true, true, false), 4);
}

/*
 * The mixed cluster of the integration suite (v6mix-netns): A with both
 * underlay addresses, B IPv4-only, C IPv6-only. A reaches B in IPv4 and C in
 * IPv6, both reach A, and B and C have no family in common; the entries B
 * and C write for each other name the other's only address, which their
 * programs cannot use (drop-tunnel-family).
 */
static void test_mixed_cluster(void **state)
{
	struct peer a = peer("A", "192.168.97.1", "fc00:97::1");
	struct peer b = peer("B", "192.168.97.2", NULL);
	struct peer c = peer("C", NULL, "fc00:97::3");

	(void)state;
	assert_int_equal(tunnel_fam(b.ip4, b.ip6, true, true, false), 4);
	assert_int_equal(tunnel_fam(c.ip4, c.ip6, true, true, false), 6);
	assert_int_equal(tunnel_fam(a.ip4, a.ip6, true, false, false), 4);
	assert_int_equal(tunnel_fam(a.ip4, a.ip6, false, true, false), 6);
	assert_int_equal(tunnel_fam(c.ip4, c.ip6, true, false, false), 0);
	assert_int_equal(tunnel_fam(b.ip4, b.ip6, false, true, false), 0);
	/* A's entries: B's pods behind 192.168.97.2, C's behind fc00:97::3. */
	assert_int_equal(entry_fam(&b, true, true), 4);
	assert_int_equal(entry_fam(&c, true, true), 6);
	/* B's entry for C's pods is IPv6 (TUN6), C's for B's IPv4: each in the
	 * family the other node lacks, which is what the data plane reports. */
	assert_int_equal(entry_fam(&c, true, false), 6);
	assert_int_equal(entry_fam(&b, false, true), 4);
}

/*
 * --tunnel-family ipv6 (prefer6) for every mix: a node of both families
 * reaches every peer with an IPv6 InternalIP in IPv6, the others in IPv4;
 * on a node of one family the option changes nothing (xcnid refuses it
 * without IPv6; with IPv6 alone it is the rule already).
 */
static void test_prefer6(void **state)
{
	static const struct mix t[] = {
		/* Both: IPv6 wherever the peer has it. */
		{ true, true, true, true, 6 },
		{ true, true, false, true, 6 },
		{ true, true, true, false, 4 },
		{ true, true, false, false, 0 },
		/* IPv6 alone: as without the option. */
		{ false, true, true, true, 6 },
		{ false, true, false, true, 6 },
		{ false, true, true, false, 0 },
		/* IPv4 alone (refused by xcnid; the rule falls back to IPv4). */
		{ true, false, true, true, 4 },
		{ true, false, false, true, 0 },
	};

	(void)state;
	check_mixes(t, sizeof(t) / sizeof(t[0]), true);
	/* underlay6 as xcnid sets it: IPv6 alone, or both and asked. */
	assert_true(tunnel_underlay6(false, true, false));
	assert_true(tunnel_underlay6(true, true, true));
	assert_false(tunnel_underlay6(true, true, false));
	assert_false(tunnel_underlay6(true, false, true));
	assert_false(tunnel_underlay6(false, false, true));
}

/*
 * The lab's suite (lab-np46-dsr): three dual nodes with --tunnel-family ipv6
 * reach each other at fd00:77::N, and each writes the others' pods behind
 * that address (XCNI_IPC_TUN6), so what from_underlay6 and the inner source
 * check look up is what arrives; without the option, IPv4 as before.
 */
static void test_dual_cluster_ipv6(void **state)
{
	struct peer n2 = peer("n2", "192.168.77.2", "fd00:77::2");
	struct peer n3 = peer("n3", "192.168.77.3", "fd00:77::3");
	struct xcni_ipcache_val v = { .flags = XCNI_IPC_POD };

	(void)state;
	assert_int_equal(tunnel_fam(n2.ip4, n2.ip6, true, true, true), 6);
	assert_int_equal(tunnel_fam(n3.ip4, n3.ip6, true, true, true), 6);
	assert_int_equal(tunnel_fam(n2.ip4, n2.ip6, true, true, false), 4);
	tunnel_set(&v, n2.ip4, n2.ip6, tunnel_underlay6(true, true, true));
	assert_true(v.flags & XCNI_IPC_TUN6);
	assert_int_equal(v.tunnel_ip, n2.ip4);
	assert_memory_equal(v.tunnel_ip6, n2.ip6, 16);
	/* Back to auto: sent in IPv4 (the flag cleared), both endpoints kept,
	 * so n2's Geneve over either family is still n2's. */
	tunnel_set(&v, n2.ip4, n2.ip6, tunnel_underlay6(true, true, false));
	assert_false(v.flags & XCNI_IPC_TUN6);
	assert_true(v.flags & XCNI_IPC_POD);
	assert_int_equal(v.tunnel_ip, n2.ip4);
	assert_memory_equal(v.tunnel_ip6, n2.ip6, 16);
}

/*
 * A rolling change of --tunnel-family: n3 (auto) beside n1 (ipv6). Each
 * sends in its own family, and each entry the other writes names both its
 * addresses, so what arrives from either matches (from_overlay step 4).
 * A node of one family: the other endpoint stays zero (no sender matches
 * it); a peer without an IPv6 array: zero too.
 */
static void test_rolling_change(void **state)
{
	struct peer n1 = peer("n1", "192.168.77.1", "fd00:77::1");
	struct peer n3 = peer("n3", "192.168.77.3", "fd00:77::3");
	struct peer b = peer("B", "192.168.97.2", NULL);
	struct peer c = peer("C", NULL, "fc00:97::3");
	struct xcni_ipcache_val on1 = { 0 }, on3 = { 0 }, v = { 0 };

	(void)state;
	/* n1 (ipv6) writes n3's pods: sent to fd00:77::3, 192.168.77.3 kept. */
	tunnel_set(&on1, n3.ip4, n3.ip6, tunnel_underlay6(true, true, true));
	assert_true(on1.flags & XCNI_IPC_TUN6);
	assert_int_equal(on1.tunnel_ip, n3.ip4);
	assert_memory_equal(on1.tunnel_ip6, n3.ip6, 16);
	/* n3 (auto) writes n1's: sent to 192.168.77.1, fd00:77::1 kept. */
	tunnel_set(&on3, n1.ip4, n1.ip6, tunnel_underlay6(true, true, false));
	assert_false(on3.flags & XCNI_IPC_TUN6);
	assert_int_equal(on3.tunnel_ip, n1.ip4);
	assert_memory_equal(on3.tunnel_ip6, n1.ip6, 16);
	/* One family: the other endpoint zero, whatever this node prefers. */
	tunnel_set(&v, b.ip4, b.ip6, true);
	assert_false(v.flags & XCNI_IPC_TUN6);
	assert_int_equal(v.tunnel_ip, b.ip4);
	assert_memory_equal(v.tunnel_ip6, none6, 16);
	tunnel_set(&v, c.ip4, c.ip6, false);
	assert_true(v.flags & XCNI_IPC_TUN6);
	assert_int_equal(v.tunnel_ip, 0);
	assert_memory_equal(v.tunnel_ip6, c.ip6, 16);
	/* A stale endpoint of an earlier value is overwritten, not kept. */
	tunnel_set(&v, b.ip4, NULL, true);
	assert_int_equal(v.tunnel_ip, b.ip4);
	assert_memory_equal(v.tunnel_ip6, none6, 16);
	assert_false(v.flags & XCNI_IPC_TUN6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_mixed_cluster),
		cmocka_unit_test(test_prefer6),
		cmocka_unit_test(test_dual_cluster_ipv6),
		cmocka_unit_test(test_rolling_change),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
