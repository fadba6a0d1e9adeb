/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What explain_cmd.c (the command) and explain_svc.c (a flow to a Service:
 * the translation, then the policy per backend) share; the policy walk of a
 * flow between two ends is lib/observe/explain.h's. Internal to xcnictl explain
 * (and service list/get, which read the Service maps through svc_view).
 */
#ifndef XCNI_CTL_EXPLAIN_H
#define XCNI_CTL_EXPLAIN_H

#include "ctl/ctl.h"

/* The Service maps of a node (explain: the source's, where the translation happens). */
struct svc_view {
	int svc, slot, be, maglev, name, affinity, ct, ct6; /* the last five: -1 when absent */
};

/* explain_svc.c */
/* -ENOENT quietly when the node has no Service maps at all. */
int svc_view_open(const struct ctl_ctx *c, const char *dir, struct svc_view *v);
void svc_view_close(struct svc_view *v);
/* The translation and the verdict per backend; 1 when key0 is not a frontend. */
int explain_service(const struct ctl_ctx *c, const struct node_maps *sm, const struct node_maps *dm,
		    const struct svc_view *v, const struct flow *f0,
		    const struct xcni_svc_key *key0);

#endif
