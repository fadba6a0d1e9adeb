// SPDX-License-Identifier: Apache-2.0
/*
 * The NodePort SNAT tuples each client holds (user/agent/snat_held.c),
 * counted from real BPF maps (root): a tuple counts while its conntrack
 * entry or its record's established life lasts, and a tuple no reply
 * answered stops counting after XCNI_CT_SNAT_NEW_NS, so unanswered SYNs a
 * spoofer sends from a client's address do not fill that client's held
 * (docs/decisions/snat-per-client.md). IPv6 clients count by their /56.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cmocka.h>

#include "xcni_shared.h"
#include "agent/snat_held.h"
#include "lib/system/clock.h"

#define S 1000000000ULL

static int snat_fd, cl_fd, ct_fd, ct6_fd;

static int map(const char *name, __u32 ksz, __u32 vsz)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, ksz, vsz, 64, NULL);

	assert_true(fd >= 0);
	return fd;
}

static int setup(void **state)
{
	(void)state;
	snat_fd = map("t_snat", sizeof(union xcni_tuple), sizeof(struct xcni_snat));
	cl_fd = map("t_snat_cl", sizeof(struct xcni_snat_cl_key), sizeof(struct xcni_snat_cl));
	ct_fd = map("t_ct", sizeof(struct xcni_ct_key), sizeof(struct xcni_ct_entry));
	ct6_fd = map("t_ct6", sizeof(struct xcni_ct6_key), sizeof(struct xcni_ct_entry));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(snat_fd);
	close(cl_fd);
	close(ct_fd);
	close(ct6_fd);
	return 0;
}

/* A client's budget, held set to a value the count must replace. */
static struct xcni_snat_cl_key client(const char *addr)
{
	struct xcni_snat_cl_key k = {};
	struct xcni_snat_cl v = { .tokens = 1, .held = 99 };
	__u8 a[16] = {};

	k.family = strchr(addr, ':') ? XCNI_AF_INET6 : XCNI_AF_INET;
	assert_int_equal(inet_pton(k.family == XCNI_AF_INET ? AF_INET : AF_INET6, addr, a), 1);
	memcpy(k.a, a, k.family == XCNI_AF_INET ? 4 : 8);
	k.a[1] = XCNI_V6_SITE_W1(k.a[1]);
	assert_int_equal(bpf_map_update_elem(cl_fd, &k, &v, BPF_ANY), 0);
	return k;
}

static __u32 held(const struct xcni_snat_cl_key *k)
{
	struct xcni_snat_cl v;

	assert_int_equal(bpf_map_lookup_elem(cl_fd, k, &v), 0);
	return v.held;
}

/*
 * One SNAT record: this node's port sport towards the backend, for client
 * addr; its record last answered age_ns ago, still waiting for its client
 * (ack, xcni_snat's) or not (0); with a conntrack entry in state (0: none,
 * pushed out) opened and last seen ct_age_ns ago.
 */
static void rec(const char *addr, __u16 sport, __u8 proto, uint64_t age_ns, __u8 state,
		uint64_t ct_age_ns, __u32 ack)
{
	uint64_t now = xcni_mono_ns();
	union xcni_tuple t = {};
	struct xcni_snat sn = { .cport = htons(40000), .ack = ack, .last_ns = now - age_ns };
	struct xcni_ct_entry e = { .state = state, .created_ns = now - ct_age_ns,
				   .last_ns = now - ct_age_ns };
	int v6 = strchr(addr, ':') != NULL;

	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, addr, sn.client), 1);
	if (v6) {
		inet_pton(AF_INET6, "fd00:10::1", t.v6.saddr);
		inet_pton(AF_INET6, "fd00:20::2", t.v6.daddr);
		t.v6.sport = htons(sport);
		t.v6.dport = htons(8080);
		t.v6.proto = proto;
	} else {
		t.v4.saddr = htonl(0x0a000001);
		t.v4.daddr = htonl(0x0a000102);
		t.v4.sport = htons(sport);
		t.v4.dport = htons(8080);
		t.v4.proto = proto;
	}
	assert_int_equal(bpf_map_update_elem(snat_fd, &t, &sn, BPF_ANY), 0);
	if (state)
		assert_int_equal(bpf_map_update_elem(v6 ? ct6_fd : ct_fd, &t, &e, BPF_ANY), 0);
}

static void counts_live_tuples_only(void **state)
{
	struct snat_held *h;
	struct xcni_snat_cl_key a, b;

	(void)state;
	/* The clock must be past the records' ages (a machine up for minutes). */
	if (xcni_mono_ns() < 120 * S)
		skip();
	a = client("198.51.100.7");
	b = client("2001:db8:1:200::5");
	/* a: established (counts), answered and pushed out of conntrack within
	 * UDP's life (counts), a young SYN (counts), a SYN no reply answered for
	 * 6 s (a spoofer's: does not), a UDP record 70 s past its answer and no
	 * entry (over: does not). */
	rec("198.51.100.7", 1001, 6, 0, XCNI_CT_ESTABLISHED, 0, 0);
	rec("198.51.100.7", 1002, 17, 10 * S, 0, 0, 0);
	rec("198.51.100.7", 1003, 6, 1 * S, XCNI_CT_NEW, 1 * S, 0);
	rec("198.51.100.7", 1004, 6, 6 * S, XCNI_CT_NEW, 6 * S, 0);
	rec("198.51.100.7", 1005, 17, 70 * S, 0, 0, 0);
	/* ... answered and still waiting for its client 1 s after it opened
	 * (counts), and 6 s after (a SYN-ACK to a spoofed address: does not). */
	rec("198.51.100.7", 1006, 6, 0, XCNI_CT_ESTABLISHED, 1 * S, XCNI_SNAT_WAIT);
	rec("198.51.100.7", 1007, 6, 0, XCNI_CT_ESTABLISHED, 6 * S, 0x01020305);
	/* b: two hosts of one /56 are one client; an unanswered SYN of it
	 * 6 s old does not count. */
	rec("2001:db8:1:200::5", 2001, 6, 0, XCNI_CT_ESTABLISHED, 0, 0);
	rec("2001:db8:1:2ff::9", 2002, 17, 1 * S, 0, 0, 0);
	rec("2001:db8:1:2ff::9", 2003, 6, 6 * S, XCNI_CT_NEW, 6 * S, 0);
	/* a client with records and no budget (evicted): nothing written */
	rec("203.0.113.9", 3001, 6, 0, XCNI_CT_ESTABLISHED, 0, 0);

	assert_int_equal(snat_held_open(snat_fd, cl_fd, ct_fd, ct6_fd, &h), 0);
	assert_int_equal(snat_held_count(h), 2);
	assert_int_equal(held(&a), 4);
	assert_int_equal(held(&b), 2);
	/* Unchanged counts are not written again. */
	assert_int_equal(snat_held_count(h), 0);
	snat_held_free(h);
}

/*
 * A tuple the SNAT opens while xcnid counts: its + 1 in held must survive the
 * write. Written as the count alone, it was lost and the client opened one
 * past its bound (lab-tenant-nat's "got 101" of 100).
 */
static void opened_during_count_kept(void **state)
{
	struct snat_held *h;
	struct xcni_snat_cl_key a;
	struct xcni_snat_cl v;

	(void)state;
	if (xcni_mono_ns() < 120 * S)
		skip();
	a = client("198.51.100.7");
	rec("198.51.100.7", 1001, 6, 0, XCNI_CT_ESTABLISHED, 0, 0);
	rec("198.51.100.7", 1002, 6, 0, XCNI_CT_ESTABLISHED, 0, 0);
	assert_int_equal(snat_held_open(snat_fd, cl_fd, ct_fd, ct6_fd, &h), 0);
	assert_int_equal(snat_held_count(h), 1);
	assert_int_equal(held(&a), 2);
	/* The SNAT opens a tuple after the clients were read and its record
	 * lands after the walk passed its place: its + 1 is kept (3, not 2). */
	assert_int_equal(snat_held_clients(h), 0);
	assert_int_equal(bpf_map_lookup_elem(cl_fd, &a, &v), 0);
	v.held++;
	assert_int_equal(bpf_map_update_elem(cl_fd, &a, &v, BPF_EXIST), 0);
	assert_true(snat_held_write(h) >= 0);
	assert_int_equal(held(&a), 3);
	rec("198.51.100.7", 1003, 6, 0, XCNI_CT_NEW, 0, XCNI_SNAT_WAIT);
	/* One opened after the clients were read whose record the walk finds
	 * counts once, by its + 1 (4, not 5). */
	assert_int_equal(snat_held_clients(h), 0);
	assert_int_equal(bpf_map_lookup_elem(cl_fd, &a, &v), 0);
	v.held++;
	assert_int_equal(bpf_map_update_elem(cl_fd, &a, &v, BPF_EXIST), 0);
	rec("198.51.100.7", 1004, 17, 0, XCNI_CT_NEW, 0, XCNI_SNAT_WAIT);
	assert_true(snat_held_write(h) >= 0);
	assert_int_equal(held(&a), 4);
	/* The next count finds the same four. */
	assert_int_equal(snat_held_count(h), 0);
	assert_int_equal(held(&a), 4);
	snat_held_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(counts_live_tuples_only, setup, teardown),
		cmocka_unit_test_setup_teardown(opened_during_count_kept, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
