// SPDX-License-Identifier: Apache-2.0
/*
 * ident_alloc: what a new label set costs the agent (issue 41, item 3).
 * A cluster of 10 Nodes, 20 Namespaces, PODS pods in SETS label sets (n1 the
 * node compiled for) and NPS NetworkPolicies (200); then, one update each:
 *   born: a pod with a label set no pod has (an identity allocated),
 *   join: a pod joining an existing set (none allocated),
 * the difference per update being what the allocation and its consequences
 * (the label index, the new peers matched against local pods) cost; and, alone,
 * the number of a string (pol_ident_number: SipHash-2-4 keyed, against FNV-1a)
 * and the whole compile with and without the previous allocation.
 *
 *   cc -O2 -I user -o /tmp/ident_alloc bench/ident_alloc.c build/libxcni.a \
 *      $(pkg-config --libs jansson libbpf libmnl) -lyaml -lcurl -lz -lelf
 *   /tmp/ident_alloc [PODS [SETS [N [NPS]]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "lib/cluster/store.h"
#include "lib/policy/policy.h"
#include "cluster_fx.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void pod(struct store *st, const char *name, int ns, const char *app, int node, unsigned ip)
{
	char b[1024];

	snprintf(b, sizeof(b),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":"
		 "\"ns%d\",\"labels\":{\"app\":\"%s\",\"pod-template-hash\":\"7c9d8f\"}},\"spec\":"
		 "{\"nodeName\":\"n%d\",\"containers\":[{\"name\":\"c\"}]},\"status\":{\"podIP\":"
		 "\"10.%u.%u.%u\"}}",
		 name, ns, app, node, 16 + (ip >> 16), (ip >> 8) & 255, ip & 255);
	put(st, b);
}

static uint32_t fnv(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int main(int argc, char **argv)
{
	int npods = argc > 1 ? atoi(argv[1]) : 20000, nsets = argc > 2 ? atoi(argv[2]) : 600;
	int n = argc > 3 ? atoi(argv[3]) : 1000, nnp = argc > 4 ? atoi(argv[4]) : 200;
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	struct pol_opts o = { .node_name = "n1" }, of = { .node_name = "n1", .hash = fnv };
	const struct pol_delta *d;
	unsigned ip = 1;
	double born = 0, join = 0, t0, t1;
	char b[1024], name[64], app[64];
	volatile uint32_t sink = 0;

	for (int i = 0; i < 10; i++) {
		snprintf(b, sizeof(b),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n%d\"},"
			 "\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":"
			 "\"192.168.0.%d\"}]}}", i, i + 1);
		put(st, b);
	}
	for (int i = 0; i < 20; i++) {
		snprintf(b, sizeof(b),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
			 "\"ns%d\",\"labels\":{\"team\":\"t%d\"}}}", i, i % 4);
		put(st, b);
	}
	for (int i = 0; i < nnp; i++) {
		snprintf(b, sizeof(b),
			 "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
			 "\"metadata\":{\"name\":\"np%d\",\"namespace\":\"ns%d\"},\"spec\":{"
			 "\"podSelector\":{\"matchLabels\":{\"app\":\"a%d\"}},\"ingress\":[{\"from\":"
			 "[{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"t%d\"}},\"podSelector\":"
			 "{\"matchLabels\":{\"app\":\"a%d\"}}}],\"ports\":[{\"port\":%d}]}]}}",
			 i, i % 20, i % nsets, i % 4, (i * 7) % nsets, 80 + i % 50);
		put(st, b);
	}
	for (int i = 0; i < npods; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(app, sizeof(app), "a%d", i % nsets);
		pod(st, name, i % nsets % 20, app, i % 10, ip++);
	}
	t0 = now();
	step(st, pi, &o, &d, now);
	t1 = now();
	printf("%d pods, %d label sets, %d NetworkPolicies: first compile %.1f ms\n", npods, nsets, nnp, (t1 - t0) / 1e3);
	/* Alternating, so the machine's load falls on both alike. */
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "new%d", i);
		snprintf(app, sizeof(app), "new-%d", i);
		pod(st, name, i % 20, app, 2 + i % 8, ip++);
		born += step(st, pi, &o, &d, now);
		snprintf(name, sizeof(name), "join%d", i);
		snprintf(app, sizeof(app), "a%d", i % nsets);
		pod(st, name, i % nsets % 20, app, 2 + i % 8, ip++);
		join += step(st, pi, &o, &d, now);
	}
	printf("update with a new label set %.1f us, joining one %.1f us: %.1f us a new set "
	       "(%zu whole compiles)\n", born / n, join / n, (born - join) / n,
	       pol_incr_resets(pi) - 1);
	{
		const char *s = "k8s:app=frontend,k8s:pod-template-hash=7c9d8f,"
				"ns:kubernetes.io/metadata.name=shop,ns:team=t1";
		int m = 1000000;

		t0 = now();
		for (int i = 0; i < m; i++)
			sink += pol_ident_number(&o, s);
		t1 = now();
		printf("number of a %zu-byte string: SipHash-2-4 %.1f ns", strlen(s),
		       (t1 - t0) * 1e3 / m);
		t0 = now();
		for (int i = 0; i < m; i++)
			sink += pol_ident_number(&of, s);
		t1 = now();
		printf(", FNV-1a %.1f ns\n", (t1 - t0) * 1e3 / m);
	}
	{
		struct cluster c;
		struct pol_result r0, r1;
		struct k8s_error e;
		struct pol_idprev *prev;
		struct xcni_idlabels *lab;
		struct pol_opts op = o;
		double wo = 0, w = 0;

		store_view(st, &c);
		pol_compile(&c, &o, &r0, &e);
		prev = calloc(r0.nidentities + 1, sizeof(*prev));
		lab = calloc(r0.nidentities + 1, sizeof(*lab));
		for (size_t i = 0; i < r0.nidentities; i++) {
			pol_ident_label(r0.identities[i].canon, lab[i].labels);
			prev[i] = (struct pol_idprev){ lab[i].labels, r0.identities[i].id };
		}
		/* sorted as pol_compile wants: by labels */
		for (size_t i = 1; i < r0.nidentities; i++)
			for (size_t j = i; j > 0 && strcmp(prev[j - 1].labels, prev[j].labels) > 0; j--) {
				struct pol_idprev t = prev[j];

				prev[j] = prev[j - 1];
				prev[j - 1] = t;
			}
		op.prev = prev;
		op.nprev = r0.nidentities;
		for (int k = 0; k < 5; k++) {
			t0 = now();
			pol_compile(&c, &o, &r1, &e);
			t1 = now();
			wo += t1 - t0;
			pol_result_free(&r1);
			t0 = now();
			pol_compile(&c, &op, &r1, &e);
			t1 = now();
			w += t1 - t0;
			pol_result_free(&r1);
		}
		printf("whole compile, %zu identities: %.1f ms without the previous allocation, "
		       "%.1f ms with it (%.2f us a set)\n", r0.nidentities, wo / 5e3, w / 5e3,
		       (w - wo) / 5 / r0.nidentities);
		pol_result_free(&r0);
		free(prev);
		free(lab);
	}
	(void)sink;
	pol_incr_free(pi);
	store_free(st);
	return 0;
}
