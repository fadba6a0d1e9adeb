// SPDX-License-Identifier: Apache-2.0
/*
 * ns_label: what one Namespace's label change costs the agent's compile
 * (issue 52, item 7: it was a whole compile of the cluster on every node, so
 * a tenant toggling a label once a second was a CPU denial of every agent).
 * A cluster of NODES Nodes (n1 the node compiled for), NS Namespaces (team
 * label t0..t3), PODS pods spread over them (10 label sets a namespace) and
 * one NetworkPolicy a namespace (one in four: all its pods take ingress from
 * a team's namespaces; the others: the pods of one app from their own
 * namespace's pods only);
 * then N updates of each kind, alternating, one Namespace (ns0) each:
 *   selected:   team=t0 <-> team=t9 (t0 is selected by a quarter of the
 *               policies, t9 by none),
 *   unselected: env=a <-> env=b (no selector reads env),
 * and, for scale, the whole compile of the same view. Prints the mean and the
 * slowest update (the thread's CPU time, so the machine's other load does not
 * count), and what the last update worked out again.
 *
 *   make -j2 all
 *   cc -O2 -I user -o /tmp/ns_label bench/ns_label.c build/libxcni.a \
 *      $(pkg-config --libs jansson libbpf libmnl) -lyaml -lcurl -lz -lelf
 *   /tmp/ns_label [PODS [NS [NODES [N]]]]      (100000 1000 1000 20)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "lib/cluster/store.h"
#include "lib/policy/policy.h"
#include "cluster_fx.h"

static void ns(struct store *st, int i, const char *team, const char *env)
{
	char b[512];

	snprintf(b, sizeof(b),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"ns%d\","
		 "\"labels\":{\"team\":\"%s\",\"env\":\"%s\"}}}", i, team, env);
	put(st, b);
}

static void say(const char *what, double sum, double max, int n, const struct pol_delta *d)
{
	printf("%-10s %9.1f us mean %9.1f us max  [%s; %zu pods relinked, %zu local pods "
	       "compiled, %zu given new peers, %zu identities born, %zu gone]\n",
	       what, sum / n, max, d->full ? d->why : "delta", d->nns_pods, d->neps_compiled,
	       d->neps_born_hit, d->nid_put, d->nid_del);
}

int main(int argc, char **argv)
{
	int npods = argc > 1 ? atoi(argv[1]) : 100000, nns = argc > 2 ? atoi(argv[2]) : 1000;
	int nnodes = argc > 3 ? atoi(argv[3]) : 1000, n = argc > 4 ? atoi(argv[4]) : 20;
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	struct pol_opts o = { .node_name = "n1" };
	const struct pol_delta *d;
	struct pol_delta dsel = { 0 }, dun = { 0 };
	double sel = 0, un = 0, selmax = 0, unmax = 0, t0, t1;
	char b[1024];

	fx_nodes(st, nnodes);
	for (int i = 0; i < nns; i++) {
		char team[8];

		snprintf(team, sizeof(team), "t%d", i % 4);
		ns(st, i, team, "a");
	}
	for (int i = 0; i < nns; i++) {
		/* One in four from a team's namespaces, the others from their own. */
		if (i % 4) {
			fx_np_app(st, i);
			continue;
		}
		snprintf(b, sizeof(b),
			 "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
			 "\"metadata\":{\"name\":\"np\",\"namespace\":\"ns%d\"},\"spec\":{"
			 "\"podSelector\":{},\"ingress\":[{"
			 "\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"t%d\"}}}],"
			 "\"ports\":[{\"port\":%d}]}]}}", i, (i / 4) % 4, 80 + i % 50);
		put(st, b);
	}
	fx_pods(st, npods, nns, nnodes, ",\"pod-template-hash\":\"7c9d8f\"");
	t0 = fx_cpu_us();
	step(st, pi, &o, &d, fx_cpu_us);
	t1 = fx_cpu_us();
	printf("%d pods, %d Namespaces, %d Nodes, %d NetworkPolicies: first compile %.1f ms\n",
	       npods, nns, nnodes, nns, (t1 - t0) / 1e3);
	/* Alternating, so the machine's load falls on both alike. */
	for (int i = 0; i < n; i++) {
		double t;

		const char *team = i % 2 ? "t0" : "t9";

		ns(st, 0, team, i % 2 ? "b" : "a");
		t = step(st, pi, &o, &d, fx_cpu_us);
		sel += t;
		selmax = t > selmax ? t : selmax;
		dsel = *d;
		ns(st, 0, team, i % 2 ? "a" : "b");
		t = step(st, pi, &o, &d, fx_cpu_us);
		un += t;
		unmax = t > unmax ? t : unmax;
		dun = *d;
	}
	say("selected", sel, selmax, n, &dsel);
	say("unselected", un, unmax, n, &dun);
	printf("whole compiles in the %d updates: %zu\n", 2 * n, pol_incr_resets(pi) - 1);
	fx_whole(st, &o);
	pol_incr_free(pi);
	store_free(st);
	return 0;
}
