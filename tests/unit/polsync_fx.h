/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What test_polsync.c and test_polinject.c share: the policy maps created as
 * the data plane creates them, pinned under /sys/fs/bpf/xcni-ut-*, the
 * group setup and teardown, entries and fixtures, and a dump of every map
 * compared between two pin directories. Each test includes it once; a
 * helper one of them does not call is not an error.
 */
#ifndef XCNI_TEST_POLSYNC_FX_H
#define XCNI_TEST_POLSYNC_FX_H

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cmocka.h>

#include "lib/policy/polsync.h"
#include "lib/system/killpoint.h"
#include "lib/cluster/store.h"

#include "clustergen.h"
#include "unit.h"


#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

#define DIR_TEMPLATE "/sys/fs/bpf/xcni-ut-XXXXXX"

static char pin_dir[64];

/* Failure injection by the writer's steps (xcni_inject_hook): armed, the nth
 * step matching step ("*": every step) fails with -err, once; inject_passed:
 * the steps passed since the last arm. */
static const char *armed_step;
static unsigned armed_nth, inject_passed;
static int armed_err;

static int inject_armed(const char *step)
{
	inject_passed++;
	if (armed_step && armed_nth && (!strcmp(armed_step, "*") || !strcmp(armed_step, step)) &&
	    !--armed_nth)
		return -armed_err;
	return 0;
}

static void inject_arm(const char *step, unsigned nth, int err)
{
	armed_step = step;
	armed_nth = nth;
	armed_err = err;
	inject_passed = 0;
	xcni_inject_hook = inject_armed;
}

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
	{ "xcni_rulename", BPF_MAP_TYPE_HASH, sizeof(struct xcni_rulename_key),
	  sizeof(struct xcni_rulename), 64, BPF_F_NO_PREALLOC },
	{ "xcni_ipcache6", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct xcni_ipcache6_key),
	  sizeof(struct xcni_ipcache_val), 64, BPF_F_NO_PREALLOC },
	{ "xcni_polkey6", BPF_MAP_TYPE_HASH, sizeof(struct xcni_in6), sizeof(__u32), 64, 0 },
};

static int fd_of(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
}

/* The maps under dir, each defs[i].max * scale entries. */
static int maps_create(const char *dir, __u32 scale)
{
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = defs[i].flags);
		char path[128];
		int fd = bpf_map_create(defs[i].type, defs[i].name, defs[i].ksz, defs[i].vsz,
					defs[i].max * scale, &o);

		if (fd < 0)
			return -errno;
		snprintf(path, sizeof(path), "%s/%s", dir, defs[i].name);
		if (bpf_obj_pin(fd, path))
			return -errno;
		close(fd);
	}
	return 0;
}

static void maps_remove(const char *dir)
{
	char path[128];

	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, defs[i].name);
		unlink(path);
	}
	rmdir(dir);
}

static int setup(void **state)
{
	(void)state;
	strcpy(pin_dir, "/sys/fs/bpf/xcni-ut-XXXXXX");
	if (!mkdtemp(pin_dir))
		return -errno;
	return maps_create(pin_dir, 1);
}

static int teardown(void **state)
{
	(void)state;
	maps_remove(pin_dir);
	return 0;
}

static size_t count(const char *name, size_t ksz)
{
	int fd = fd_of(name);
	size_t n = map_keys(fd, ksz);

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
	struct pol_entry e;

	memset(&e, 0, sizeof(e));
	e.key = (struct xcni_policy_key){ .prefixlen = XCNI_POLICY_PREFIX_FULL, .ep = ip4(ep),
					  .peer = peer, .dir = XCNI_DIR_TO_POD,
					  .proto = IPPROTO_TCP, .port = htons(port) };
	e.val = (struct xcni_policy_val){ .policy_id = policy };
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
	f->ipc[0] = (struct pol_ipcache){ { 0, 0 }, { XCNI_ID_WORLD, 0, 0, { 0 } } };
	f->ipc[1] = (struct pol_ipcache){ { 32, ip4("10.0.0.1") }, { 300, 0, 0, { 0 } } };
	f->ipc[2] = (struct pol_ipcache){ { 32, ip4("10.0.0.2") }, { 301, 0, 0, { 0 } } };
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

static int cmp_pn(const void *a, const void *b)
{
	return memcmp(&((const struct pol_podname *)a)->ip, &((const struct pol_podname *)b)->ip, 4);
}

/* ---- incremental against whole, through real maps ---- */

struct dump {
	size_t n, rsz;
	unsigned char *d;
};

static int dump_cmp_len;
static int dump_cmp(const void *a, const void *b)
{
	return memcmp(a, b, dump_cmp_len);
}

/*
 * Every (key, value) of a map, sorted. Policy maps: only entries of the
 * version their pod uses, with the version and packet count zeroed (two
 * writers may sit on different versions of the same policy).
 */
static struct dump dump_map_live(const char *dir, const char *name, size_t ksz, size_t vsz,
				 bool skip_dead);

static struct dump dump_map(const char *dir, const char *name, size_t ksz, size_t vsz)
{
	return dump_map_live(dir, name, ksz, vsz, false);
}

/* dump_map; skip_dead: entries of versions no pod uses are left out, not refused. */
static struct dump dump_map_live(const char *dir, const char *name, size_t ksz, size_t vsz,
				 bool skip_dead)
{
	struct dump d = { .rsz = ksz + vsz };
	unsigned char k[1100], nk[1100];
	char path[128];
	int fd, pfd, first = 1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/xcni_polep", dir);
	pfd = bpf_obj_get(path);
	assert_true(fd >= 0 && pfd >= 0);
	while (bpf_map_get_next_key(fd, first ? NULL : k, nk) == 0) {
		unsigned char *rec;
		__u32 ep = 0;
		__u8 ver = 0;
		struct xcni_polep pe;

		first = 0;
		memcpy(k, nk, ksz);
		d.d = realloc(d.d, (d.n + 1) * d.rsz);
		assert_non_null(d.d);
		rec = d.d + d.n * d.rsz;
		memcpy(rec, k, ksz);
		assert_int_equal(bpf_map_lookup_elem(fd, k, rec + ksz), 0);
		if (!strcmp(name, "xcni_policy")) {
			struct xcni_polhash_key *h = (void *)rec;

			ep = h->ep, ver = h->version, h->version = 0;
			memset(rec + ksz + offsetof(struct xcni_policy_val, packets), 0, 8);
		} else if (!strcmp(name, "xcni_polrange")) {
			struct xcni_policy_key *pk = (void *)rec;

			ep = pk->ep, ver = pk->version, pk->version = 0;
			memset(rec + ksz + offsetof(struct xcni_policy_val, packets), 0, 8);
		} else if (!strcmp(name, "xcni_polcidr")) {
			struct xcni_polcidr_key *ck = (void *)rec;

			ep = ck->ep, ver = ck->version, ck->version = 0;
		} else if (!strcmp(name, "xcni_polep")) {
			((struct xcni_polep *)(rec + ksz))->version = 0;
			d.n++;
			continue;
		} else {
			d.n++;
			continue;
		}
		if (skip_dead && (bpf_map_lookup_elem(pfd, &ep, &pe) || pe.version != ver))
			continue;
		/* After cleanup no entry of an old version may be left. */
		assert_int_equal(bpf_map_lookup_elem(pfd, &ep, &pe), 0);
		assert_int_equal(pe.version, ver);
		d.n++;
	}
	close(fd);
	close(pfd);
	dump_cmp_len = (int)d.rsz;
	if (d.n)
		qsort(d.d, d.n, d.rsz, dump_cmp);
	return d;
}

static const char *maps_ctx = ""; /* what a failure says first */

static void maps_equal(const char *a, const char *b)
{
	static const struct {
		const char *name;
		size_t ksz, vsz;
	} m[] = {
		{ "xcni_ipcache", sizeof(struct xcni_ipcache_key), sizeof(struct xcni_ipcache_val) },
		{ "xcni_identity", 4, sizeof(struct xcni_idlabels) },
		{ "xcni_polname", 4, sizeof(struct xcni_polname) },
		{ "xcni_podname", 4, sizeof(struct xcni_podname) },
		{ "xcni_polsel", 4, sizeof(struct xcni_polsel) },
		{ "xcni_polep", 4, sizeof(struct xcni_polep) },
		{ "xcni_policy", sizeof(struct xcni_polhash_key), sizeof(struct xcni_policy_val) },
		{ "xcni_polrange", sizeof(struct xcni_policy_key), sizeof(struct xcni_policy_val) },
		{ "xcni_polcidr", sizeof(struct xcni_polcidr_key), 4 },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct dump x = dump_map(a, m[i].name, m[i].ksz, m[i].vsz);
		struct dump y = dump_map(b, m[i].name, m[i].ksz, m[i].vsz);

		if (x.n != y.n || (x.n && memcmp(x.d, y.d, x.n * x.rsz)))
			fail_msg("%s%s: the incremental writer's %zu entries differ from the whole "
				 "one's %zu", maps_ctx, m[i].name, x.n, y.n);
		free(x.d);
		free(y.d);
	}
}


#endif
