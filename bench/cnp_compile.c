// SPDX-License-Identifier: Apache-2.0
/*
 * cnp_compile: the whole policy compile (pol_compile) of a generated cluster,
 * with and without ClusterNetworkPolicies (issue 28's first figure). 10
 * Nodes, 20 Namespaces, 1,000 pods (100 on n1, the node compiled for; two
 * port numbers under one container port name), 1,000 NetworkPolicies (one
 * ingress rule: a namespace selector and a port), N ClusterNetworkPolicies
 * alternating Admin (Accept/Pass/Deny on a TCP port) and Baseline (Deny),
 * each with an egress Deny to a /24.
 *
 *   cc -O2 -I user -o /tmp/cnp_compile bench/cnp_compile.c build/libxcni.a \
 *      $(pkg-config --libs jansson libbpf libmnl) -lyaml -lcurl -lz -lelf
 *   /tmp/cnp_compile 0; /tmp/cnp_compile 100
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <jansson.h>
#include "lib/cluster/store.h"
#include "lib/policy/policy.h"

static void put(struct store *st, const char *s)
{
	json_error_t je; json_t *j = json_loads(s, 0, &je); struct k8s_object *o = NULL; struct k8s_error e = {""};
	if (!j || k8s_parse(j, &o, &e)) { fprintf(stderr, "bad %s: %s\n", s, e.msg); exit(1); }
	json_decref(j); store_put(st, o);
}
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
int main(int argc, char **argv)
{
	int ncnp = argc > 1 ? atoi(argv[1]) : 100, nnp = 1000, npods = 1000;
	struct store *st = store_new(); char b[2048];
	for (int i = 0; i < 10; i++) { snprintf(b, sizeof b, "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n%d\",\"labels\":{\"zone\":\"z%d\"}},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.0.%d\"}]}}", i+1, i%3, i+1); put(st, b); }
	for (int i = 0; i < 20; i++) { snprintf(b, sizeof b, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"ns%d\",\"labels\":{\"team\":\"t%d\"}}}", i, i%4); put(st, b); }
	for (int i = 0; i < npods; i++) { snprintf(b, sizeof b, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p%d\",\"namespace\":\"ns%d\",\"labels\":{\"app\":\"a%d\"}},\"spec\":{\"nodeName\":\"n%d\",\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":\"http\",\"containerPort\":%d}]}]},\"status\":{\"podIP\":\"10.%d.%d.%d\"}}", i, i%20, i%10, i%10+1, 8080 + i%2, 244, i/250, i%250+1); put(st, b); }
	for (int i = 0; i < nnp; i++) { snprintf(b, sizeof b, "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"np%d\",\"namespace\":\"ns%d\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"a%d\"}},\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"t%d\"}}}],\"ports\":[{\"port\":%d}]}]}}", i, i%20, i%10, i%4, 80 + i%50); put(st, b); }
	for (int i = 0; i < ncnp; i++) { snprintf(b, sizeof b, "{\"apiVersion\":\"policy.networking.k8s.io/v1alpha2\",\"kind\":\"ClusterNetworkPolicy\",\"metadata\":{\"name\":\"c%d\"},\"spec\":{\"tier\":\"%s\",\"priority\":%d,\"subject\":{\"namespaces\":{\"matchLabels\":{\"team\":\"t%d\"}}},\"ingress\":[{\"action\":\"%s\",\"from\":[{\"namespaces\":{\"matchLabels\":{\"team\":\"t%d\"}}}],\"protocols\":[{\"tcp\":{\"destinationPort\":{\"number\":%d}}}]}],\"egress\":[{\"action\":\"Deny\",\"to\":[{\"networks\":[\"203.0.%d.0/24\"]}]}]}}", i, i%2?"Baseline":"Admin", i%50, i%4, i%2?"Deny":(i%3?"Accept":"Pass"), (i+1)%4, 80+i%60, i%200); put(st, b); }
	struct cluster c; store_view(st, &c);
	struct pol_opts o = { .node_name = "n1" }; struct pol_result r; struct k8s_error e;
	double t0 = now(); int ret = pol_compile(&c, &o, &r, &e); double t1 = now();
	size_t ne = 0, nc = 0; for (size_t i = 0; i < r.neps; i++) { ne += r.eps[i].nentries; nc += r.eps[i].ncidrs; }
	printf("cnps %d nps %d pods %d: compile %.1f ms ret %d, local eps %zu, entries %zu, polcidr %zu\n", ncnp, nnp, npods, t1-t0, ret, r.neps, ne, nc);
	return 0;
}
