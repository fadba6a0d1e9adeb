/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What explain_cmd.c (the command) and explain_svc.c (a flow to a Service:
 * the translation, then the policy per backend) share; the policy walk of a
 * flow between two ends is lib/observe/explain.h's. Internal to xcnictl explain.
 */
#ifndef XCNI_CTL_EXPLAIN_H
#define XCNI_CTL_EXPLAIN_H

#include "ctl/ctl.h"

/* explain_svc.c */
/* The translation and the verdict per backend; 1 when key0 is not a frontend. */
int explain_service(const struct ctl_ctx *c, const struct node_maps *sm, const struct node_maps *dm,
		    const struct svc_view *v, const struct flow *f0,
		    const struct xcni_svc_key *key0);

#endif
