/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kinds k8s.c's dispatch hands to the files of their own: Service and
 * EndpointSlice (k8s_svc.c), NetworkPolicy (k8s_netpol.c). The helpers all
 * of them use are in k8s_json.h. Internal to libxcni; the interface is k8s.h.
 */
#ifndef XCNI_K8S_INT_H
#define XCNI_K8S_INT_H

#include <jansson.h>

#include "lib/cluster/k8s.h"
#include "lib/cluster/k8s_json.h"

/* ---- k8s_svc.c ---- */

int kj_parse_service(struct kj_ctx *c, json_t *doc, struct k8s_service *s);
void kj_service_free(struct k8s_service *s);
int kj_parse_epslice(struct kj_ctx *c, json_t *doc, struct k8s_epslice *s);
void kj_epslice_free(struct k8s_epslice *s);

/* ---- k8s_netpol.c ---- */

int kj_parse_netpol(struct kj_ctx *c, json_t *doc, struct k8s_netpol *np);
void kj_netpol_free(struct k8s_netpol *np);

/* ---- k8s_cnp.c ---- */

int kj_parse_cnp(struct kj_ctx *c, json_t *doc, struct k8s_cnp *p);
void kj_cnp_free(struct k8s_cnp *p);

#endif
