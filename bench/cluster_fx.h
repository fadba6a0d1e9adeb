// SPDX-License-Identifier: Apache-2.0
/*
 * The benchmarks that build a cluster in memory (ident_alloc, ns_label,
 * cnp_maps): put parses one object (JSON text) into the store, an object that
 * does not parse ending the run; step runs one incremental policy update over
 * what changed since the last and returns its time by clock (us), a failed
 * update ending the run. ns_label and cnp_change share their cluster: fx_nodes,
 * fx_pods, and the whole compile of it timed at the end (fx_whole).
 */
#ifndef BENCH_CLUSTER_FX_H
#define BENCH_CLUSTER_FX_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <jansson.h>
#include "lib/cluster/store.h"
#include "lib/policy/policy.h"

static void put(struct store *st, const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	struct k8s_object *o = NULL;
	struct k8s_error e = { "" };

	if (!j || k8s_parse(j, &o, &e)) {
		fprintf(stderr, "bad %s: %s\n", s, e.msg);
		exit(1);
	}
	json_decref(j);
	store_put(st, o);
}

static inline double step(struct store *st, struct pol_incr *pi, const struct pol_opts *o,
			  const struct pol_delta **d, double (*clock)(void))
{
	struct store_change *ch;
	const struct pol_result *r;
	struct k8s_error e = { "" };
	struct cluster c;
	size_t nch;
	bool all;
	double t0, t1;

	store_view(st, &c);
	store_journal_take(st, &ch, &nch, &all);
	t0 = clock();
	if (pol_incr_update(pi, &c, o, ch, nch, all, false, &r, d, &e)) {
		fprintf(stderr, "update: %s\n", e.msg);
		exit(1);
	}
	t1 = clock();
	store_changes_free(ch, nch);
	return t1 - t0;
}

/* The thread's CPU time (us): other work on the machine does not count. */
static inline double fx_cpu_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* Nodes n0..n<n-1>, InternalIPs 192.168.0.1 on. */
static inline void fx_nodes(struct store *st, int n)
{
	char b[512];

	for (int i = 0; i < n; i++) {
		snprintf(b, sizeof(b),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n%d\"},"
			 "\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":"
			 "\"192.168.%d.%d\"}]}}", i, i / 250, 1 + i % 250);
		put(st, b);
	}
}

/* Pods p0..: p<i> in ns<i % nns> on a node of nnodes, labelled app=a<(i / nns) % 10>
 * and what more says (",\"k\":\"v\"" pairs), addresses 10.16.0.1 on. */
static inline void fx_pods(struct store *st, int npods, int nns, int nnodes, const char *more)
{
	char b[1024];

	for (int i = 0; i < npods; i++) {
		unsigned ip = (unsigned)i + 1;

		snprintf(b, sizeof(b),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p%d\","
			 "\"namespace\":\"ns%d\",\"labels\":{\"app\":\"a%d\"%s}},\"spec\":{"
			 "\"nodeName\":\"n%d\",\"containers\":[{\"name\":\"c\"}]},\"status\":{"
			 "\"podIP\":\"10.%u.%u.%u\"}}", i, i % nns, (i / nns) % 10, more,
			 (i + i / nns) % nnodes, 16 + (ip >> 16), (ip >> 8) & 255, ip & 255);
		put(st, b);
	}
}

/* NetworkPolicy np in ns<i>: pods app=a<i % 10> take TCP 80 + i % 50 from their namespace. */
static inline void fx_np_app(struct store *st, int i)
{
	char b[1024];

	snprintf(b, sizeof(b),
		 "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
		 "\"metadata\":{\"name\":\"np\",\"namespace\":\"ns%d\"},\"spec\":{"
		 "\"podSelector\":{\"matchLabels\":{\"app\":\"a%d\"}},\"ingress\":[{"
		 "\"from\":[{\"podSelector\":{}}],\"ports\":[{\"port\":%d}]}]}}",
		 i, i % 10, 80 + i % 50);
	put(st, b);
}

/* The whole compile of the store's view, its CPU time printed. */
static inline void fx_whole(struct store *st, const struct pol_opts *o)
{
	struct cluster c;
	struct pol_result r;
	struct k8s_error e;
	double t0;

	store_view(st, &c);
	t0 = fx_cpu_us();
	pol_compile(&c, o, &r, &e);
	printf("whole compile of the view: %.1f ms, %zu identities, %zu local pods\n",
	       (fx_cpu_us() - t0) / 1e3, r.nidentities, r.neps);
	pol_result_free(&r);
}

#endif
