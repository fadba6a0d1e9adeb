// SPDX-License-Identifier: Apache-2.0
/*
 * cnp_maps: issue 28's compile-and-program figures, as xcnid does them
 * (pol_incr_update, then polsync_apply and polsync_cleanup) into real BPF
 * maps created as the data plane's (sizes and flags of bpf/lib/maps.h),
 * pinned under a fresh /sys/fs/bpf/xcni-bench-* (removed at exit). The
 * cluster is bench/cnp_compile.c's: 10 Nodes, 20 Namespaces, 1,000 pods (100
 * on n1, the node compiled for), 1,000 NetworkPolicies and N
 * ClusterNetworkPolicies (Admin and Baseline alternating).
 *
 *   (a) from empty: the first update (whole) and its map writes;
 *   (b) one change: one ClusterNetworkPolicy edited (c2's port: its subject
 *       holds 50 of the 100 local pods), and one NetworkPolicy edited (np0's
 *       port: it selects 50 local pods), each ROUNDS times; the median and
 *       the spread of compile, write, total.
 *
 *   make && cc -O2 -I user -I bpf -o /tmp/cnp_maps bench/cnp_maps.c build/libxcni.a \
 *      $(pkg-config --libs jansson libbpf libmnl) -lyaml -lcurl -lz -lelf
 *   /tmp/cnp_maps 100 [ROUNDS] [unique]; /tmp/cnp_maps 0 [ROUNDS]     (root)
 *
 * unique: every pod gets a label of its own (id=pN), so no two pods share an
 * identity: the local pods' tiered decisions are compiled once each instead
 * of once per identity (the worst case for the compile).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <jansson.h>

#include "lib/policy/policy.h"
#include "lib/policy/polsync.h"
#include "lib/cluster/store.h"
#include "cluster_fx.h"

static struct store *st;
static char pin_dir[64];

struct mapdef {
	const char *name;
	enum bpf_map_type type;
	__u32 ksz, vsz, max, flags;
};

static const struct mapdef defs[] = {
	{ "xcni_policy", BPF_MAP_TYPE_HASH, sizeof(struct xcni_polhash_key),
	  sizeof(struct xcni_policy_val), XCNI_MAX_POLICY, BPF_F_NO_PREALLOC },
	{ "xcni_polrange", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct xcni_policy_key),
	  sizeof(struct xcni_policy_val), XCNI_MAX_POLRANGE, BPF_F_NO_PREALLOC },
	{ "xcni_polcidr", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct xcni_polcidr_key), sizeof(__u32),
	  XCNI_MAX_POLCIDR, BPF_F_NO_PREALLOC },
	{ "xcni_polep", BPF_MAP_TYPE_HASH, 4, sizeof(struct xcni_polep), XCNI_MAX_ENDPOINTS, BPF_F_NO_PREALLOC },
	{ "xcni_ipcache", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct xcni_ipcache_key),
	  sizeof(struct xcni_ipcache_val), XCNI_MAX_IPCACHE, BPF_F_NO_PREALLOC },
	{ "xcni_identity", BPF_MAP_TYPE_HASH, 4, sizeof(struct xcni_idlabels), XCNI_MAX_IDENTITIES,
	  BPF_F_NO_PREALLOC },
	{ "xcni_polname", BPF_MAP_TYPE_HASH, 4, sizeof(struct xcni_polname), XCNI_MAX_POLICIES,
	  BPF_F_NO_PREALLOC },
	{ "xcni_podname", BPF_MAP_TYPE_HASH, 4, sizeof(struct xcni_podname), XCNI_MAX_PODNAMES,
	  BPF_F_NO_PREALLOC },
	{ "xcni_polsel", BPF_MAP_TYPE_HASH, 4, sizeof(struct xcni_polsel), XCNI_MAX_ENDPOINTS, BPF_F_NO_PREALLOC },
	{ "xcni_rulename", BPF_MAP_TYPE_HASH, sizeof(struct xcni_rulename_key),
	  sizeof(struct xcni_rulename), XCNI_MAX_RULENAMES, BPF_F_NO_PREALLOC },
	{ "xcni_ipcache6", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct xcni_ipcache6_key),
	  sizeof(struct xcni_ipcache_val), XCNI_MAX_IPCACHE, BPF_F_NO_PREALLOC },
	{ "xcni_polkey6", BPF_MAP_TYPE_HASH, sizeof(struct xcni_in6), sizeof(__u32),
	  XCNI_MAX_ENDPOINTS, BPF_F_NO_PREALLOC },
};

static void maps_remove(void)
{
	char path[128];

	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, defs[i].name);
		unlink(path);
	}
	rmdir(pin_dir);
}

static int maps_create(void)
{
	strcpy(pin_dir, "/sys/fs/bpf/xcni-bench-XXXXXX");
	if (!mkdtemp(pin_dir))
		return -errno;
	atexit(maps_remove);
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = defs[i].flags);
		char path[128];
		int fd = bpf_map_create(defs[i].type, defs[i].name, defs[i].ksz, defs[i].vsz,
					defs[i].max, &o);

		if (fd < 0)
			return -errno;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, defs[i].name);
		if (bpf_obj_pin(fd, path)) {
			close(fd);
			return -errno;
		}
		close(fd);
	}
	return 0;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void np_put(int i, int port)
{
	char b[1024];

	snprintf(b, sizeof(b),
		 "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":"
		 "{\"name\":\"np%d\",\"namespace\":\"ns%d\"},\"spec\":{\"podSelector\":{\"matchLabels\":"
		 "{\"app\":\"a%d\"}},\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":"
		 "{\"team\":\"t%d\"}}}],\"ports\":[{\"port\":%d}]}]}}",
		 i, i % 20, i % 10, i % 4, port);
	put(st, b);
}

static void cnp_put(int i, int port)
{
	char b[2048];

	snprintf(b, sizeof(b),
		 "{\"apiVersion\":\"policy.networking.k8s.io/v1alpha2\",\"kind\":\"ClusterNetworkPolicy\","
		 "\"metadata\":{\"name\":\"c%d\"},\"spec\":{\"tier\":\"%s\",\"priority\":%d,\"subject\":"
		 "{\"namespaces\":{\"matchLabels\":{\"team\":\"t%d\"}}},\"ingress\":[{\"name\":\"r%d\","
		 "\"action\":\"%s\",\"from\":[{\"namespaces\":{\"matchLabels\":{\"team\":\"t%d\"}}}],"
		 "\"protocols\":[{\"tcp\":{\"destinationPort\":{\"number\":%d}}}]}],\"egress\":[{"
		 "\"action\":\"Deny\",\"to\":[{\"networks\":[\"203.0.%d.0/24\"]}]}]}}",
		 i, i % 2 ? "Baseline" : "Admin", i % 50, i % 4, i,
		 i % 2 ? "Deny" : (i % 3 ? "Accept" : "Pass"), (i + 1) % 4, port, i % 200);
	put(st, b);
}

struct pass {
	double compile, write, total;
	size_t written, compiled_eps;
	const char *why;
};

/* One generation as xcnid runs it: journal, incremental compile, writes, cleanup. */
static int generation(struct pol_incr *pi, struct polsync *ps, struct pass *out)
{
	const struct pol_opts o = { .node_name = "n1" };
	struct polsync_stats ss = { 0 };
	struct store_change *ch;
	const struct pol_result *r;
	const struct pol_delta *d;
	struct k8s_error e = { "" };
	struct cluster c;
	char msg[512] = "";
	size_t nch;
	bool all;
	double t0, t1, t2;
	int err;

	t0 = now_ms();
	store_view(st, &c);
	store_journal_take(st, &ch, &nch, &all);
	err = pol_incr_update(pi, &c, &o, ch, nch, all, polsync_needs_full(ps), &r, &d, &e);
	t1 = now_ms();
	if (!err)
		err = polsync_apply(ps, r, d, &ss, msg, sizeof(msg));
	if (!err)
		polsync_cleanup(ps, &ss);
	t2 = now_ms();
	store_changes_free(ch, nch);
	if (err) {
		fprintf(stderr, "generation: %s %s\n", e.msg, msg);
		return err;
	}
	*out = (struct pass){ t1 - t0, t2 - t1, t2 - t0, ss.entries_written, d->neps_compiled,
			      d->why };
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *what, double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	printf("  %-7s median %7.1f ms  min %7.1f  max %7.1f\n", what, v[n / 2], v[0], v[n - 1]);
}

int main(int argc, char **argv)
{
	int ncnp = argc > 1 ? atoi(argv[1]) : 100, rounds = argc > 2 ? atoi(argv[2]) : 9;
	bool unique = argc > 3 && !strcmp(argv[3], "unique");
	char idl[32] = "";
	struct pol_incr *pi = pol_incr_new();
	struct polsync *ps = NULL;
	struct pass p;
	char b[2048];
	int err;

	st = store_new();
	if ((err = maps_create()) || (err = polsync_open(pin_dir, &ps))) {
		fprintf(stderr, "maps under %s: %s\n", pin_dir, strerror(-err));
		return 1;
	}
	for (int i = 0; i < 10; i++) {
		snprintf(b, sizeof(b),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n%d\","
			 "\"labels\":{\"zone\":\"z%d\"}},\"status\":{\"addresses\":[{\"type\":"
			 "\"InternalIP\",\"address\":\"192.168.0.%d\"}]}}",
			 i + 1, i % 3, i + 1);
		put(st, b);
	}
	for (int i = 0; i < 20; i++) {
		snprintf(b, sizeof(b),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"ns%d\","
			 "\"labels\":{\"team\":\"t%d\"}}}",
			 i, i % 4);
		put(st, b);
	}
	for (int i = 0; i < 1000; i++) {
		if (unique)
			snprintf(idl, sizeof(idl), ",\"id\":\"p%d\"", i);
		snprintf(b, sizeof(b),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p%d\","
			 "\"namespace\":\"ns%d\",\"labels\":{\"app\":\"a%d\"%s}},\"spec\":{\"nodeName\":"
			 "\"n%d\",\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":\"http\","
			 "\"containerPort\":%d}]}]},\"status\":{\"podIP\":\"10.244.%d.%d\"}}",
			 i, i % 20, i % 10, idl, i % 10 + 1, 8080 + i % 2, i / 250, i % 250 + 1);
		put(st, b);
	}
	for (int i = 0; i < 1000; i++)
		np_put(i, 80 + i % 50);
	for (int i = 0; i < ncnp; i++)
		cnp_put(i, 80 + i % 60);

	if (generation(pi, ps, &p))
		return 1;
	printf("%d ClusterNetworkPolicies, 1000 NetworkPolicies, 1000 pods (100 local%s):\n", ncnp,
	       unique ? ", every pod its own identity" : "");
	printf("(a) from empty: compile %.1f ms + write %.1f ms = %.1f ms (%zu policy entries "
	       "written)\n",
	       p.compile, p.write, p.total, p.written);
	for (int kind = 0; kind < 2; kind++) {
		double c[64], w[64], t[64];
		size_t written = 0, eps = 0;
		int n = rounds < 64 ? rounds : 63;
		const char *why = NULL;

		if (kind == 0 && !ncnp)
			continue;
		for (int k = 0; k < n; k++) {
			/* the one policy's port, back and forth */
			if (kind == 0)
				cnp_put(2, k % 2 ? 80 + 2 % 60 : 1000 + k);
			else
				np_put(0, k % 2 ? 80 : 2000 + k);
			if (generation(pi, ps, &p))
				return 1;
			c[k] = p.compile;
			w[k] = p.write;
			t[k] = p.total;
			written += p.written;
			eps += p.compiled_eps;
			why = p.why;
		}
		printf("(b) one %s edited, %d rounds (%zu entries written a round, %zu pods "
		       "compiled again a round; %s):\n",
		       kind == 0 ? "ClusterNetworkPolicy" : "NetworkPolicy", n, written / n, eps / n,
		       why ? why : "a delta");
		report("compile", c, n);
		report("write", w, n);
		report("total", t, n);
	}
	polsync_free(ps);
	pol_incr_free(pi);
	store_free(st);
	return 0;
}
