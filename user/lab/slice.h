/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 8 of the lab: under kube-proxy none, the API server's Services and the
 * EndpointSlice controller's slices in the cluster state xcnid reads.
 */
#ifndef XCNI_LAB_SLICE_H
#define XCNI_LAB_SLICE_H

#include <stdbool.h>

#include "lab/cluster.h"
#include "lab/state.h"
#include "lab/svc.h"

/*
 * Every Service of the lab into manifests/service.NS.NAME.json, with the
 * EndpointSlices the controller would write for it from the running pods it
 * selects (manifests/endpointslice.NS.NAME-HASH.json); the objects of
 * Services and slices that are gone removed. *changed set if a file changed.
 */
int lab_slices_sync(struct lab *lab, bool *changed);

#endif
