/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The whole Service list from nothing, for the tests, the fuzzer and the
 * benchmark (xcnid only follows with deltas): svc_incr_update over everything
 * on a new builder, its whole delta read as the list. The list's arrays are
 * that builder's, valid until svc_list_free.
 */
#ifndef XCNI_TEST_SVC_FX_H
#define XCNI_TEST_SVC_FX_H

#include <errno.h>
#include <string.h>

#include "../../user/lib/services/svc.h"

struct svc_list {
	size_t n;
	struct svc_spec *specs; /* sorted by Service (namespace, name), then port order */
	/* Problems in the input, each naming the object and the field (svc.h's
	 * svc_delta: errs). */
	size_t nerrs;
	char **errs;
	/* How many of errs refuse an externalIP (one of its frontends or all). */
	size_t nrefused;
	struct svc_incr *si; /* whose delta the arrays are */
};

/* 0, or -ENOMEM (out left empty). node NULL: no NodePort frontends, no local endpoints. */
static inline int svc_build(const struct cluster *c, const struct svc_node *node,
			    unsigned int flags, struct svc_list *out)
{
	const struct svc_delta *d;
	int err;

	memset(out, 0, sizeof(*out));
	if (!(out->si = svc_incr_new()))
		return -ENOMEM;
	if ((err = svc_incr_update(out->si, c, node, flags, NULL, 0, true, true, &d))) {
		svc_incr_free(out->si);
		out->si = NULL;
		return err;
	}
	out->n = d->nput;
	out->specs = d->put;
	out->nerrs = d->nerrs;
	out->errs = d->errs;
	out->nrefused = svc_incr_refusals(out->si, NULL, NULL, NULL);
	return 0;
}

static inline void svc_list_free(struct svc_list *l)
{
	svc_incr_free(l->si);
	memset(l, 0, sizeof(*l));
}

#endif
