/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every lab node's drop counters (xcni_metrics), read before and after a
 * probe: what dropped during it names its fate (lab probe, lab matrix,
 * connectivity test). A policy drop does not answer the client, so a probe
 * that heard nothing is told "denied" from "timeout" only by these.
 */
#ifndef XCNI_LAB_DROPS_H
#define XCNI_LAB_DROPS_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "lab/state.h"

/* packets [node * XCNI_NR_METRICS + XCNI_METRIC_IDX(reason, dir)] (drops only). */
struct lab_drops {
	size_t nnodes;
	int *fd; /* [node]: its xcni_metrics, -1 if it has none */
	__u64 *pk;
};

/* Opens every node's counters (one that has none is not watched; said when who is given,
 * "who: node ..."): 0 or -ENOMEM. */
int lab_drops_open(struct lab *lab, struct lab_drops *d, const char *who);
void lab_drops_close(struct lab_drops *d);
/* The counters now, into out[nnodes * XCNI_NR_METRICS]: 0 or -errno. */
int lab_drops_read(const struct lab_drops *d, __u64 *out);
/* Waits (at most 1 s) until no node's counters move for 200 ms; prev: the last read. */
void lab_drops_settle(const struct lab_drops *d, __u64 *prev);

/*
 * What one node (node: its index, -1 any; another number none) dropped since
 * before[] (now in d->pk), and in words ("n2 drop-policy-ingress to-pod x2,
 * ...") into buf (len 0: none). Returns how many kinds.
 */
struct lab_drops_seen {
	bool policy; /* drop-policy-* */
	bool no_backend; /* drop-no-backend: a Service without endpoints */
};
size_t lab_drops_seen(const struct lab *lab, const struct lab_drops *d, const __u64 *before,
		      long node, struct lab_drops_seen *s, char *buf, size_t len);

#endif
