/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What svc.c (the whole build) and svc_incr.c (the same list kept up to date
 * by what changed) share: a Service's candidates and the steps that make them.
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
	uint32_t owner; /* svc_build: the index of its Service's struct svc_who */
	uint32_t slot; /* svc_build: its key's slot in the claims' hash table */
};

struct items {
	struct item *v;
	size_t n, cap;
};

/* FIELD_PEER: another node's NodePort frontend, for pods; when taken, left out unsaid. */
enum { FIELD_PORT, FIELD_NODEPORT, FIELD_EXTERNAL_IP, FIELD_LB_IP, FIELD_PEER };

/* A Service as its claims are ranked. */
struct svc_who {
	const char *ns, *name, *uid; /* uid NULL: unset */
	int64_t created; /* 0: unset */
};

void svc_items_free(struct items *v);
/*
 * Which claim on one frontend key keeps it: <0 when candidate ia (its
 * Service a's ai-th) goes before ib (b's bi-th). An address the cluster
 * allocated (ClusterIP, NodePort, load-balancer IP) before any externalIP;
 * between externalIPs the older Service (creationTimestamp, an unset one
 * last, then uid); else (namespace, name), then the candidate's order.
 */
int svc_claim_cmp(const struct svc_who *a, const struct item *ia, size_t ai,
		  const struct svc_who *b, const struct item *ib, size_t bi);
/* Candidate it of Service ns/name asks for a frontend candidate owner has: the words for it. */
char *svc_clash_msg(const struct item *it, const char *ns, const char *name,
		    const struct item *owner);
size_t svc_key_hash(const struct xcni_svc_key *k);
bool svc_has_frontends(const struct k8s_service *s);
int svc_build_one(const struct k8s_object *so, const struct k8s_object *const *slices,
		     size_t nslices, const struct svc_node *node, unsigned int flags,
		     struct items *v);

#endif
