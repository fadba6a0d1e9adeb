// SPDX-License-Identifier: Apache-2.0
/*
 * The underlay family a node reaches another in (tunnel_fam), for every
 * mix of this node's underlay addresses and the other's InternalIPs, and
 * that the ipcache's endpoint (tunnel_set, with underlay6 as xcnid sets
 * it) is the same family wherever there is one: a mixed cluster of a dual
 * node, an IPv4-only one and an IPv6-only one.
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

/* The ipcache entry's endpoint family for p as a node with have4/have6 writes it. */
static int entry_fam(const struct peer *p, bool have4, bool have6)
{
	struct xcni_ipcache_val v = { .flags = XCNI_IPC_POD };

	tunnel_set(&v, p->ip4, p->ip6, have6 && !have4);
	if (v.flags & XCNI_IPC_TUN6) {
		assert_int_equal(v.tunnel_ip, 0);
		assert_memory_equal(v.tunnel_ip6, p->ip6, 16);
		return 6;
	}
	assert_memory_equal(v.tunnel_ip6, none6, 16);
	return v.tunnel_ip ? 4 : 0;
}

/* Every (this node, other node) mix: the family, or 0 for none in common. */
static void test_table(void **state)
{
	static const struct {
		bool have4, have6;
		bool p4, p6;
		int fam;
	} t[] = {
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
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct peer p = peer("p", t[i].p4 ? "192.168.1.2" : NULL,
				     t[i].p6 ? "fc00::2" : NULL);
		int fam = tunnel_fam(p.ip4, p.ip6, t[i].have4, t[i].have6);

		if (fam != t[i].fam)
			fail_msg("case %zu (node v4 %d v6 %d, peer v4 %d v6 %d): IPv%d, expected %d",
				 i, t[i].have4, t[i].have6, t[i].p4, t[i].p6, fam, t[i].fam);
		/* Where a family reaches it, the ipcache's endpoint is in that family. */
		if (fam)
			assert_int_equal(entry_fam(&p, t[i].have4, t[i].have6), fam);
	}
	/* No IPv6 array at all (a Node object without one). */
	assert_int_equal(tunnel_fam(0, NULL, true, true), 0);
	assert_int_equal(tunnel_fam(htonl(0xc0a80102), NULL, true, true), 4);
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
	assert_int_equal(tunnel_fam(b.ip4, b.ip6, true, true), 4);
	assert_int_equal(tunnel_fam(c.ip4, c.ip6, true, true), 6);
	assert_int_equal(tunnel_fam(a.ip4, a.ip6, true, false), 4);
	assert_int_equal(tunnel_fam(a.ip4, a.ip6, false, true), 6);
	assert_int_equal(tunnel_fam(c.ip4, c.ip6, true, false), 0);
	assert_int_equal(tunnel_fam(b.ip4, b.ip6, false, true), 0);
	/* A's entries: B's pods behind 192.168.97.2, C's behind fc00:97::3. */
	assert_int_equal(entry_fam(&b, true, true), 4);
	assert_int_equal(entry_fam(&c, true, true), 6);
	/* B's entry for C's pods is IPv6 (TUN6), C's for B's IPv4: each in the
	 * family the other node lacks, which is what the data plane reports. */
	assert_int_equal(entry_fam(&c, true, false), 6);
	assert_int_equal(entry_fam(&b, false, true), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_mixed_cluster),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
