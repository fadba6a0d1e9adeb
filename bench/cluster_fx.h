// SPDX-License-Identifier: Apache-2.0
/*
 * The benchmarks that build a cluster in memory (ident_alloc, ns_label,
 * cnp_maps): put parses one object (JSON text) into the store, an object that
 * does not parse ending the run; step runs one incremental policy update over
 * what changed since the last and returns its time by clock (us), a failed
 * update ending the run.
 */
#ifndef BENCH_CLUSTER_FX_H
#define BENCH_CLUSTER_FX_H

#include <stdio.h>
#include <stdlib.h>
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

#endif
