// SPDX-License-Identifier: Apache-2.0
/*
 * cnp_change: what one ClusterNetworkPolicy change costs the agent's compile
 * (docs/decisions/policy-one-compiler.md). ns_label's cluster (NODES Nodes,
 * NS Namespaces, PODS pods, one NetworkPolicy a namespace), each Namespace
 * also labelled grp=g<i % 100> (ten namespaces a group), and NCNP
 * ClusterNetworkPolicies of both tiers, each selecting one group's
 * namespaces and denying or accepting another's; then N updates of each
 * kind, alternating:
 *   few: c0 (subject grp=g1: 10 namespaces) flips its ingress Deny <-> Accept,
 *   all: call (subject every namespace) flips the same way,
 *   subj: c0's subject widened by one group (10 Namespaces more) and back,
 *   new, del: cnew (subject grp=g3, 10 Namespaces) made and deleted,
 *   self, beat: this node's Node (n1) and another's (n5) written again with
 *   a new annotation (a status heartbeat), addresses and labels the same,
 *   node: n5 relabelled zone=z0 <-> z1 (a node peer every tiered pod decides),
 *   pod: p7 (not this node's) relabelled app=a0 <-> app=a1, both label sets
 *   its namespace's already (every local pod is tiered: call selects all),
 *   np: np2 (ns1, every pod of it taking TCP 80 from its namespace: 2 local pods of
 *   100 at 5,000 pods, 1 at 20,000) moved to port 81 and back,
 *   named: with cnamed (egress to every namespace's pods at their port named
 *   "http", every local pod its subject), p7's "http" moved 8080 <-> 8081, both
 *   numbers held by p8 and p9 (the port intervals stay),
 *   quiet: p7 written again with only a new annotation (a status write: nothing
 *   a peer reads changed),
 *   ns: Namespace ns5 relabelled (x=0 <-> 1: each of its pods a new identity),
 * and, for scale, the whole compile of the same view. Prints the mean and the
 * slowest update (thread CPU time) and what the last one worked out again.
 * CNP_CHANGE_KINDS (e.g. "few,np"): only those kinds, no whole compile at the end (a
 * callgrind run at 100,000 pods then stops where its figures do).
 * IPB 1: as scale_sim.py's cluster, every Namespace also has a NetworkPolicy isolating
 * all its pods for ingress (no rule: default deny) and egress (to 0.0.0.0/0 except
 * 10.0.0.0/8 on TCP 443: a prefix holding every pod's address), and every
 * ClusterNetworkPolicy an egress Deny to 192.0.2.0/24.
 *
 *   make -j2 all
 *   cc -O2 -I user -o /tmp/cnp_change bench/cnp_change.c build/libxcni.a \
 *      $(pkg-config --libs jansson libbpf libmnl) -lyaml -lcurl -lz -lelf
 *   /tmp/cnp_change [PODS [NS [NODES [NCNP [N [IPB]]]]]]  (100000 1000 1000 20 10 0)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "lib/cluster/store.h"
#include "lib/policy/policy.h"
#include "cluster_fx.h"

static int ipb;

static void cnp(struct store *st, const char *name, const char *subj, int prio, const char *act,
		int peer)
{
	char b[1024];

	snprintf(b, sizeof(b),
		 "{\"apiVersion\":\"policy.networking.k8s.io/v1alpha2\",\"kind\":"
		 "\"ClusterNetworkPolicy\",\"metadata\":{\"name\":\"%s\"},\"spec\":{\"tier\":"
		 "\"%s\",\"priority\":%d,\"subject\":{\"namespaces\":%s},\"ingress\":[{"
		 "\"action\":\"%s\",\"from\":[{\"namespaces\":{\"matchLabels\":{\"grp\":\"g%d\"}}}],"
		 "\"protocols\":[{\"tcp\":{\"destinationPort\":{\"number\":%d}}}]}]%s}}",
		 name, prio % 2 ? "Baseline" : "Admin", prio % 50, subj, act, peer, 80 + prio % 60,
		 ipb ? ",\"egress\":[{\"action\":\"Deny\",\"to\":[{\"networks\":[\"192.0.2.0/24\"]}]}]" : "");
	put(st, b);
}

/* Pod p<i> where fx_pods puts it, with a container port "http" at port (and annotation beat). */
static void pod_http(struct store *st, int i, int nns, int nnodes, int port, int beat)
{
	char b[1024];
	unsigned ip = (unsigned)i + 1;

	snprintf(b, sizeof(b),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p%d\","
		 "\"namespace\":\"ns%d\",\"labels\":{\"app\":\"a%d\"},\"annotations\":{\"beat\":"
		 "\"%d\"}},\"spec\":{"
		 "\"nodeName\":\"n%d\",\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":"
		 "\"http\",\"containerPort\":%d}]}]},\"status\":{\"podIP\":\"10.%u.%u.%u\"}}",
		 i, i % nns, (i / nns) % 10, beat, (i + i / nns) % nnodes, port, 16 + (ip >> 16),
		 (ip >> 8) & 255, ip & 255);
	put(st, b);
}

/* NetworkPolicy np2 in ns1: every pod of it takes TCP port from its namespace. */
static void np_every(struct store *st, int port)
{
	char b[512];

	snprintf(b, sizeof(b),
		 "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
		 "\"metadata\":{\"name\":\"np2\",\"namespace\":\"ns1\"},\"spec\":{"
		 "\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{}}],"
		 "\"ports\":[{\"port\":%d}]}]}}", port);
	put(st, b);
}

static const char *kinds;

/* Is update kind k run (CNP_CHANGE_KINDS unset: every kind)? */
static int want(const char *k)
{
	const char *p = kinds ? strstr(kinds, k) : "";

	return p && (!kinds || ((p == kinds || p[-1] == ',') && (!p[strlen(k)] || p[strlen(k)] == ',')));
}

static void say(const char *what, double sum, double max, int n, const struct pol_delta *d)
{
	printf("%-5s %10.1f us mean %10.1f us max  [%s; %zu local pods compiled, %zu patched]\n", what,
	       sum / n, max, d->full ? d->why : "delta", d->neps_compiled, d->neps_patched[1]);
}

int main(int argc, char **argv)
{
	int npods = argc > 1 ? atoi(argv[1]) : 100000, nns = argc > 2 ? atoi(argv[2]) : 1000;
	int nnodes = argc > 3 ? atoi(argv[3]) : 1000, ncnp = argc > 4 ? atoi(argv[4]) : 20;
	int n = argc > 5 ? atoi(argv[5]) : 10;
	struct store *st = store_new();
	struct pol_incr *pi = pol_incr_new();
	struct pol_opts o = { .node_name = "n1" };
	const struct pol_delta *d;
	struct pol_delta dfew = { 0 }, dall = { 0 };
	double few = 0, all = 0, fewmax = 0, allmax = 0, t0, t1;
	char b[1024], subj[128];

	ipb = argc > 6 ? atoi(argv[6]) : 0;
	kinds = getenv("CNP_CHANGE_KINDS");
	fx_nodes(st, nnodes);
	for (int i = 0; i < nns; i++) {
		snprintf(b, sizeof(b),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"ns%d\","
			 "\"labels\":{\"team\":\"t%d\",\"grp\":\"g%d\"}}}", i, i % 4, i % 100);
		put(st, b);
		fx_np_app(st, i);
		snprintf(b, sizeof(b),
			 "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
			 "\"metadata\":{\"name\":\"egress\",\"namespace\":\"ns%d\"},\"spec\":{"
			 "\"podSelector\":{},\"policyTypes\":[\"Ingress\",\"Egress\"],\"egress\":[{\"to\":[{"
			 "\"ipBlock\":{\"cidr\":\"0.0.0.0/0\",\"except\":[\"10.0.0.0/8\"]}}],"
			 "\"ports\":[{\"port\":443}]}]}}", i);
		if (ipb)
			put(st, b);
	}
	fx_pods(st, npods, nns, nnodes, "");
	for (int i = 0; i < ncnp; i++) {
		char name[16];

		snprintf(name, sizeof(name), "c%d", i);
		snprintf(subj, sizeof(subj), "{\"matchLabels\":{\"grp\":\"g%d\"}}", 1 + i * 5);
		cnp(st, name, subj, i, "Deny", 2 + i * 5);
	}
	cnp(st, "call", "{}", 49, "Deny", 3);
	t0 = fx_cpu_us();
	step(st, pi, &o, &d, fx_cpu_us);
	t1 = fx_cpu_us();
	printf("%d pods, %d Namespaces, %d Nodes, %d NetworkPolicies, %d "
	       "ClusterNetworkPolicies: first compile %.1f ms\n",
	       npods, nns, nnodes, nns * (1 + !!ipb), ncnp + 1, (t1 - t0) / 1e3);
	snprintf(subj, sizeof(subj), "{\"matchLabels\":{\"grp\":\"g1\"}}");
	for (int i = 0; i < n; i++) {
		const char *act = i % 2 ? "Deny" : "Accept";
		double t;

		if (want("few")) {
			cnp(st, "c0", subj, 0, act, 2);
			t = step(st, pi, &o, &d, fx_cpu_us);
			few += t;
			fewmax = t > fewmax ? t : fewmax;
			dfew = *d;
		}
		if (want("all")) {
			cnp(st, "call", "{}", 49, act, 3);
			t = step(st, pi, &o, &d, fx_cpu_us);
			all += t;
			allmax = t > allmax ? t : allmax;
			dall = *d;
		}
	}
	if (want("few"))
		say("few", few, fewmax, n, &dfew);
	if (want("all"))
		say("all", all, allmax, n, &dall);
	/* c0's subject widened by one group (In g1, g2: 10 Namespaces more) and back; cnew (subject
	 * grp=g3: 10 Namespaces) made, then deleted. */
	for (int k = 0; k < 3; k++) {
		const char *kn = k == 2 ? "del" : k ? "new" : "subj";
		double sum = 0, max = 0, t;

		for (int i = 0; want(kn) && i < 2 * n; i++) {
			if (k == 0)
				cnp(st, "c0", i % 2 ? subj : "{\"matchExpressions\":[{\"key\":\"grp\","
					"\"operator\":\"In\",\"values\":[\"g1\",\"g2\"]}]}", 0, "Deny", 2);
			else if (i % 2)
				store_del(st, K8S_CLUSTERNETPOL, NULL, "cnew");
			else
				cnp(st, "cnew", "{\"matchLabels\":{\"grp\":\"g3\"}}", 2, "Deny", 4);
			t = step(st, pi, &o, &d, fx_cpu_us);
			if (k == 0 || k == 1 + i % 2) {
				sum += t, max = t > max ? t : max;
				dfew = *d;
			}
		}
		if (want(kn))
			say(kn, sum, max, k ? n : 2 * n, &dfew);
	}
	/* A Node's status heartbeat: written again, its addresses and labels
	 * the same (this node's, n1, and another's, n5); then n5 relabelled. */
	for (int k = 0; k < 3; k++) {
		int nd = k ? 5 : 1;
		const char *kn = k == 2 ? "node" : k ? "beat" : "self";
		double sum = 0, max = 0;

		for (int i = 0; want(kn) && i < n; i++) {
			double t;

			snprintf(b, sizeof(b),
				 "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":"
				 "\"n%d\",\"annotations\":{\"beat\":\"%d\"}%s},\"status\":{\"addresses\":"
				 "[{\"type\":\"InternalIP\",\"address\":\"192.168.%d.%d\"}]}}", nd, i,
				 k < 2 ? "" : i % 2 ? ",\"labels\":{\"zone\":\"z1\"}" : ",\"labels\":{\"zone\":\"z0\"}",
				 nd / 250, 1 + nd % 250);
			put(st, b);
			t = step(st, pi, &o, &d, fx_cpu_us);
			sum += t;
			max = t > max ? t : max;
		}
		if (want(kn))
			say(kn, sum, max, n, d);
	}
	few = fewmax = 0;
	for (int i = 0; want("pod") && i < n; i++) {
		double t;

		snprintf(b, sizeof(b),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p7\","
			 "\"namespace\":\"ns%d\",\"labels\":{\"app\":\"a%d\"}},\"spec\":{"
			 "\"nodeName\":\"n%d\",\"containers\":[{\"name\":\"c\"}]},\"status\":{"
			 "\"podIP\":\"10.16.0.8\"}}", 7 % nns, 1 - i % 2 + (7 / nns) % 10,
			 (7 + 7 / nns) % nnodes);
		put(st, b);
		t = step(st, pi, &o, &d, fx_cpu_us);
		few += t;
		fewmax = t > fewmax ? t : fewmax;
	}
	if (want("pod"))
		say("pod", few, fewmax, n, d);
	np_every(st, 80);
	step(st, pi, &o, &d, fx_cpu_us);
	few = fewmax = 0;
	for (int i = 0; want("np") && i < n; i++) {
		double t;

		np_every(st, 81 - i % 2);
		t = step(st, pi, &o, &d, fx_cpu_us);
		few += t;
		fewmax = t > fewmax ? t : fewmax;
	}
	if (want("np"))
		say("np", few, fewmax, n, d);
	if (!want("named") && !want("quiet") && !want("ns"))
		goto out;
	put(st, "{\"apiVersion\":\"policy.networking.k8s.io/v1alpha2\",\"kind\":"
		"\"ClusterNetworkPolicy\",\"metadata\":{\"name\":\"cnamed\"},\"spec\":{\"tier\":"
		"\"Baseline\",\"priority\":1,\"subject\":{\"namespaces\":{}},\"egress\":[{"
		"\"action\":\"Deny\",\"to\":[{\"namespaces\":{}}],\"protocols\":[{"
		"\"destinationNamedPort\":\"http\"}]}]}}");
	pod_http(st, 8 % npods, nns, nnodes, 8080, 0);
	pod_http(st, 9 % npods, nns, nnodes, 8081, 0);
	step(st, pi, &o, &d, fx_cpu_us);
	few = fewmax = 0;
	for (int i = 0; i < n; i++) {
		double t;

		pod_http(st, 7 % npods, nns, nnodes, 8080 + (i + 1) % 2, 0);
		t = step(st, pi, &o, &d, fx_cpu_us);
		few += t;
		fewmax = t > fewmax ? t : fewmax;
	}
	say("named", few, fewmax, n, d);
	for (int k = 0; k < 2; k++) {
		few = fewmax = 0;
		for (int i = 0; i < n; i++) {
			double t;

			snprintf(b, sizeof(b),
				 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
				 "\"ns%d\",\"labels\":{\"team\":\"t%d\",\"grp\":\"g%d\",\"x\":\"%d\"}}}",
				 5 % nns, 5 % nns % 4, 5 % nns % 100, i % 2);
			if (k)
				put(st, b);
			else /* p7 holds the port the last "named" update gave it */
				pod_http(st, 7 % npods, nns, nnodes, 8080 + n % 2, i + 1);
			t = step(st, pi, &o, &d, fx_cpu_us);
			few += t;
			fewmax = t > fewmax ? t : fewmax;
		}
		say(k ? "ns" : "quiet", few, fewmax, n, d);
	}
	printf("whole compiles in the %d updates: %zu\n", 16 * n + 2, pol_incr_resets(pi) - 1);
	if (!kinds)
		fx_whole(st, &o);
out:
	pol_incr_free(pi);
	store_free(st);
	return 0;
}
