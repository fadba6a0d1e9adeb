// SPDX-License-Identifier: Apache-2.0
/*
 * The map writer against real BPF maps (root): what it writes, that a pod's
 * policy changes by version flip with the old version gone afterwards, that
 * unchanged pods are not touched, that a policy the maps cannot hold changes
 * nothing, and that a new writer over existing maps (xcnid restart) sweeps
 * entries of an unfinished update.
 *
 *   maps created like the data plane's, pinned under /sys/fs/bpf/xcni-ut-*
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cmocka.h>

#include "lib/polsync.h"

static char pin_dir[64];

struct mapdef {
	const char *name;
	enum bpf_map_type type;
	__u32 ksz, vsz, max, flags;
};

/* Small policy map, so "full" is reachable. */
#define POLICY_MAX 16

static const struct mapdef defs[] = {
	{ "xcni_policy", BPF_MAP_TYPE_HASH, sizeof(struct xcni_polhash_key),
	  sizeof(struct xcni_policy_val), POLICY_MAX, BPF_F_NO_PREALLOC },
	{ "xcni_polrange", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct xcni_policy_key),
	  sizeof(struct xcni_policy_val), 64, BPF_F_NO_PREALLOC },
	{ "xcni_polcidr", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct xcni_polcidr_key), sizeof(__u32), 64,
	  BPF_F_NO_PREALLOC },
	{ "xcni_polep", BPF_MAP_TYPE_HASH, 4, sizeof(struct xcni_polep), 64, 0 },
	{ "xcni_ipcache", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct xcni_ipcache_key),
	  sizeof(struct xcni_ipcache_val), 64, BPF_F_NO_PREALLOC },
	{ "xcni_identity", BPF_MAP_TYPE_HASH, 4, sizeof(struct xcni_idlabels), 64, 0 },
	{ "xcni_polname", BPF_MAP_TYPE_HASH, 4, sizeof(struct xcni_polname), 64, 0 },
	{ "xcni_podname", BPF_MAP_TYPE_HASH, 4, sizeof(struct xcni_podname), 64, 0 },
	{ "xcni_polsel", BPF_MAP_TYPE_HASH, 4, sizeof(struct xcni_polsel), 64, 0 },
};

static int fd_of(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
}

static int setup(void **state)
{
	(void)state;
	strcpy(pin_dir, "/sys/fs/bpf/xcni-ut-XXXXXX");
	if (!mkdtemp(pin_dir))
		return -errno;
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = defs[i].flags);
		char path[128];
		int fd = bpf_map_create(defs[i].type, defs[i].name, defs[i].ksz, defs[i].vsz,
					defs[i].max, &o);

		if (fd < 0)
			return -errno;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, defs[i].name);
		if (bpf_obj_pin(fd, path))
			return -errno;
		close(fd);
	}
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, defs[i].name);
		unlink(path);
	}
	rmdir(pin_dir);
	return 0;
}

static size_t count(const char *name, size_t ksz)
{
	unsigned char k[64], nk[64];
	int fd = fd_of(name), first = 1;
	size_t n = 0;

	while (bpf_map_get_next_key(fd, first ? NULL : k, nk) == 0) {
		memcpy(k, nk, ksz);
		first = 0;
		n++;
	}
	close(fd);
	return n;
}

static __u32 ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static struct pol_entry entry(const char *ep, __u32 peer, __u16 port, __u32 policy)
{
	struct pol_entry e = { .key = { .prefixlen = XCNI_POLICY_PREFIX_FULL, .ep = ip4(ep),
					.peer = peer, .dir = XCNI_DIR_TO_POD,
					.proto = IPPROTO_TCP, .port = htons(port) },
			       .val = { .policy_id = policy } };
	return e;
}

/* A result with pods a (10.0.0.1) and b (10.0.0.2), a isolated with na entries. */
struct fixture {
	struct pol_result r;
	struct pol_ep eps[2];
	struct pol_entry ea[POLICY_MAX + 1], eb[2];
	struct pol_ipcache ipc[3];
	struct identity ids[2];
	struct pol_name names[1];
};

static void fixture(struct fixture *f, size_t na, __u16 port)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < na; i++)
		f->ea[i] = entry("10.0.0.1", 300, (__u16)(port + i), 7);
	f->eb[0] = entry("10.0.0.2", 301, 53, 8);
	f->eps[0] = (struct pol_ep){ .ip = ip4("10.0.0.1"),
				     .state = { .identity = 300,
						.isolated = XCNI_ISOLATED(XCNI_DIR_TO_POD) },
				     .sel = { .n = { 0, 1 }, .ids = { {}, { 7 } } },
				     .nentries = na, .entries = f->ea };
	f->eps[1] = (struct pol_ep){ .ip = ip4("10.0.0.2"),
				     .state = { .identity = 301,
						.isolated = XCNI_ISOLATED(XCNI_DIR_TO_POD) },
				     .nentries = 1, .entries = f->eb };
	f->ipc[0] = (struct pol_ipcache){ { 0, 0 }, { XCNI_ID_WORLD, 0, 0 } };
	f->ipc[1] = (struct pol_ipcache){ { 32, ip4("10.0.0.1") }, { 300, 0, 0 } };
	f->ipc[2] = (struct pol_ipcache){ { 32, ip4("10.0.0.2") }, { 301, 0, 0 } };
	f->ids[0] = (struct identity){ .id = 300, .canon = "k8s:app=a,ns:kubernetes.io/metadata.name=x" };
	f->ids[1] = (struct identity){ .id = 301, .canon = "k8s:app=b,ns:kubernetes.io/metadata.name=x" };
	f->names[0].id = 7;
	strcpy(f->names[0].name.ns, "x");
	strcpy(f->names[0].name.name, "allow-a");
	f->r = (struct pol_result){ .nidentities = 2, .identities = f->ids, .neps = 2, .eps = f->eps,
				    .nipcache = 3, .ipcache = f->ipc, .npolicies = 1,
				    .policies = f->names };
}

static struct xcni_polep polep(const char *ip)
{
	struct xcni_polep pe = {};
	__u32 k = ip4(ip);
	int fd = fd_of("xcni_polep");

	if (bpf_map_lookup_elem(fd, &k, &pe))
		pe.isolated = 0xff; /* absent */
	close(fd);
	return pe;
}

/* Is there a live entry for ep on this TCP port? */
static int allowed(const char *ep, __u32 peer, __u16 port)
{
	struct xcni_polep pe = polep(ep);
	struct xcni_polhash_key k = { .ep = ip4(ep), .peer = peer, .version = pe.version,
				      .dir = XCNI_DIR_TO_POD, .proto = IPPROTO_TCP,
				      .port = htons(port) };
	struct xcni_policy_val v;
	int fd = fd_of("xcni_policy"), ok;

	ok = bpf_map_lookup_elem(fd, &k, &v) == 0;
	close(fd);
	return ok;
}

/* The policies isolating ip for ingress, as polsel holds them: n, or -1 if absent. */
static int polsel_in(const char *ip, __u32 *first)
{
	struct xcni_polsel s;
	__u32 k = ip4(ip);
	int fd = fd_of("xcni_polsel"), n = -1;

	if (bpf_map_lookup_elem(fd, &k, &s) == 0) {
		n = (int)s.n[XCNI_DIR_TO_POD];
		*first = s.ids[XCNI_DIR_TO_POD][0];
	}
	close(fd);
	return n;
}

static void test_apply_flip_cleanup(void **state)
{
	struct polsync *ps;
	struct polsync_stats st;
	struct fixture f;
	char msg[256];

	(void)state;
	assert_int_equal(polsync_open(pin_dir, &ps), 0);
	fixture(&f, 2, 80);
	assert_int_equal(polsync_apply(ps, &f.r, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(polsync_cleanup(ps, &st), 0);
	assert_int_equal(st.eps_changed, 2);
	assert_int_equal(st.entries_written, 3);
	assert_int_equal(count("xcni_policy", sizeof(struct xcni_polhash_key)), 3);
	assert_int_equal(count("xcni_ipcache", sizeof(struct xcni_ipcache_key)), 3);
	assert_int_equal(count("xcni_identity", 4), 2);
	assert_int_equal(polep("10.0.0.1").version, 0);
	assert_int_equal(polep("10.0.0.1").has[XCNI_DIR_TO_POD], 0); /* exact ports only */
	assert_true(allowed("10.0.0.1", 300, 80));
	assert_true(allowed("10.0.0.1", 300, 81));
	assert_false(allowed("10.0.0.1", 300, 82));
	/* The policies isolating each pod, for people. */
	__u32 first = 0;
	assert_int_equal(polsel_in("10.0.0.1", &first), 1);
	assert_int_equal(first, 7);
	assert_int_equal(polsel_in("10.0.0.2", &first), 0);

	/* Same input: nothing written at all. */
	assert_int_equal(polsync_apply(ps, &f.r, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(polsync_cleanup(ps, &st), 0);
	assert_int_equal(st.eps_changed + st.entries_written + st.entries_deleted + st.other_changed,
			 0);

	/* a's policy changes: only a is rewritten, under version 1, old one gone. */
	fixture(&f, 2, 90);
	assert_int_equal(polsync_apply(ps, &f.r, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.eps_changed, 1);
	assert_int_equal(st.entries_written, 2);
	assert_int_equal(polep("10.0.0.1").version, 1);
	assert_true(allowed("10.0.0.1", 300, 90));
	assert_false(allowed("10.0.0.1", 300, 80));
	/* Before cleanup the old version is still there (in flight packets may use it). */
	assert_int_equal(count("xcni_policy", sizeof(struct xcni_polhash_key)), 5);
	assert_int_equal(polsync_cleanup(ps, &st), 0);
	assert_int_equal(st.entries_deleted, 2);
	assert_int_equal(count("xcni_policy", sizeof(struct xcni_polhash_key)), 3);
	assert_int_equal(polep("10.0.0.2").version, 0);

	/* b leaves the node: its polep entry and its entries go. */
	f.r.neps = 1;
	f.r.nipcache = 2;
	assert_int_equal(polsync_apply(ps, &f.r, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(polsync_cleanup(ps, &st), 0);
	assert_int_equal(polep("10.0.0.2").isolated, 0xff);
	assert_int_equal(polsel_in("10.0.0.2", &first), -1);
	assert_int_equal(count("xcni_policy", sizeof(struct xcni_polhash_key)), 2);
	assert_int_equal(count("xcni_ipcache", sizeof(struct xcni_ipcache_key)), 2);
	polsync_free(ps);
}

static void test_map_full_changes_nothing(void **state)
{
	struct polsync *ps;
	struct polsync_stats st;
	struct fixture f;
	char msg[256];

	(void)state;
	assert_int_equal(polsync_open(pin_dir, &ps), 0);
	/* 2 live entries of a; a new version of 15 entries needs 15 more: 17 > 16. */
	fixture(&f, 15, 1000);
	f.r.neps = 1;
	f.r.nipcache = 2;
	assert_int_equal(polsync_apply(ps, &f.r, NULL, &st, msg, sizeof(msg)), -ENOSPC);
	assert_non_null(strstr(msg, "xcni_policy"));
	assert_non_null(strstr(msg, "nothing was applied"));
	assert_int_equal(count("xcni_policy", sizeof(struct xcni_polhash_key)), 2);
	assert_true(allowed("10.0.0.1", 300, 90));
	assert_false(allowed("10.0.0.1", 300, 1000));
	assert_int_equal(polep("10.0.0.1").version, 1);
	polsync_free(ps);
}

static void test_restart_sweeps_unfinished(void **state)
{
	struct polsync *ps;
	struct polsync_stats st;
	struct fixture f;
	struct pol_entry stray = entry("10.0.0.1", 999, 4444, 7);
	struct xcni_polhash_key sk = { .ep = stray.key.ep, .peer = 999, .version = 0,
				       .dir = XCNI_DIR_TO_POD, .proto = IPPROTO_TCP,
				       .port = htons(4444) };
	char msg[256];
	int fd = fd_of("xcni_policy");

	(void)state;
	/* A crash after writing version 0 of a but before the flip. */
	assert_int_equal(bpf_map_update_elem(fd, &sk, &stray.val, BPF_ANY), 0);
	close(fd);
	assert_int_equal(count("xcni_policy", sizeof(struct xcni_polhash_key)), 3);
	assert_int_equal(polsync_open(pin_dir, &ps), 0);
	assert_int_equal(count("xcni_policy", sizeof(struct xcni_polhash_key)), 2);
	/* The restarted writer does not know what the maps hold: it rewrites. */
	fixture(&f, 2, 90);
	f.r.neps = 1;
	f.r.nipcache = 2;
	assert_int_equal(polsync_apply(ps, &f.r, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(polep("10.0.0.1").version, 0);
	assert_int_equal(polsync_cleanup(ps, &st), 0);
	assert_int_equal(count("xcni_policy", sizeof(struct xcni_polhash_key)), 2);
	assert_true(allowed("10.0.0.1", 300, 90));
	assert_false(allowed("10.0.0.1", 999, 4444));
	polsync_free(ps);
}

/*
 * Pods across many /24s, so network-order and numeric order differ: a change
 * of one pod must leave every other pod's state alone (a bug once lost most
 * of them, which then accepted everything).
 */
static void test_many_pods_one_change(void **state)
{
	enum { N = 14 }; /* the policy map holds 16 */
	struct pol_ep eps[N];
	struct pol_entry ents[N];
	struct pol_result r = { .neps = N, .eps = eps };
	struct polsync *ps;
	struct polsync_stats st;
	char msg[256], ip[32];

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i % 3, i * 7 % 11, 200 - i * 13 % 97);
		ents[i] = entry(ip, 500 + i, 80, 9);
		eps[i] = (struct pol_ep){ .ip = ip4(ip),
					  .state = { .identity = 500 + i,
						     .isolated = XCNI_ISOLATED(XCNI_DIR_TO_POD) },
					  .nentries = 1, .entries = &ents[i] };
	}
	assert_int_equal(polsync_open(pin_dir, &ps), 0);
	assert_int_equal(polsync_apply(ps, &r, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(polsync_cleanup(ps, &st), 0);
	assert_int_equal(count("xcni_polep", 4), N);
	/* Pod 7's rule changes port. */
	ents[7].key.port = htons(8080);
	assert_int_equal(polsync_apply(ps, &r, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.eps_changed, 1);
	assert_int_equal(st.entries_written, 1);
	assert_int_equal(polsync_cleanup(ps, &st), 0);
	assert_int_equal(st.entries_deleted, 1);
	assert_int_equal(count("xcni_polep", 4), N);
	assert_int_equal(count("xcni_policy", sizeof(struct xcni_polhash_key)), N);
	/* The same again: nothing at all. */
	assert_int_equal(polsync_apply(ps, &r, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.eps_changed + st.entries_written, 0);
	polsync_free(ps);
	/* Leave the maps as the next test expects them: restart sees these pods. */
	r.neps = 0;
	assert_int_equal(polsync_open(pin_dir, &ps), 0);
	assert_int_equal(polsync_apply(ps, &r, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(polsync_cleanup(ps, &st), 0);
	assert_int_equal(count("xcni_polep", 4), 0);
	assert_int_equal(count("xcni_policy", sizeof(struct xcni_polhash_key)), 0);
	polsync_free(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_pods_one_change),
		cmocka_unit_test(test_apply_flip_cleanup),
		cmocka_unit_test(test_map_full_changes_nothing),
		cmocka_unit_test(test_restart_sweeps_unfinished),
	};

	return cmocka_run_group_tests_name("polsync", tests, setup, teardown);
}
