// SPDX-License-Identifier: Apache-2.0
/* put: one object (JSON text) parsed and put into the store, the set-up of the
 * benchmarks that build a cluster in memory (ident_alloc, ns_label, cnp_maps);
 * an object that does not parse ends the run. */
#ifndef BENCH_STORE_PUT_H
#define BENCH_STORE_PUT_H

#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>
#include "lib/cluster/store.h"

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

#endif
