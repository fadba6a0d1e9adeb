/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What svc.c (one Service's candidates) gives svc_incr.c (which Service keeps
 * each frontend key, kept up to date by what changed; the whole list from nothing).
 */
#ifndef XCNI_SVC_INT_H
#define XCNI_SVC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/services/svc.h"

/* One candidate of a Service: a problem of its own, or a frontend it asks for. */
struct item {
	char *err; /* set: a problem (no frontend) */
	struct svc_spec fe; /* else: the frontend (its name and backends owned) */
	struct svc_spec twin; /* its INT twin under externalTrafficPolicy Local (name NULL: none) */
	/* Where it comes from, for when another has it (said then, not kept as text:
	 * 10k Services, 10k strings nobody reads): FIELD_* and its index. */
	uint8_t field;
	uint16_t fidx;
	bool refused; /* err refuses an externalIP (svc_ext_refused) */
	/* err refuses the whole Service past a size bound: SVC_BOUND_* (0: not so) */
	uint8_t bound;
};

struct items {
	struct item *v;
	size_t n, cap;
};

/* FIELD_PEER: another node's NodePort frontend, for pods; when taken, left out unsaid. */
enum { FIELD_PORT, FIELD_NODEPORT, FIELD_EXTERNAL_IP, FIELD_LB_IP, FIELD_PEER };

void svc_items_free(struct items *v);
/* Candidate it of Service ns/name asks for a frontend candidate owner has: the words for it. */
char *svc_clash_msg(const struct item *it, const char *ns, const char *name,
		    const struct item *owner);
/* One Service's candidates (slices: its EndpointSlices by name), appended to v: none
 * for a Service without frontends (headless, ExternalName, no ClusterIP). */
int svc_build_one(const struct k8s_object *so, const struct k8s_object *const *slices,
		  size_t nslices, const struct svc_node *node, unsigned int flags,
		  struct items *v);

#endif
