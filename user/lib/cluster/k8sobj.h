/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where an object of a manifest lives on the API server: what kubectl's REST
 * mapper answers for the kinds xcnictl creates (the connectivity test's
 * Namespace, Pods, Services, NetworkPolicy), for k8s_request.
 */
#ifndef XCNI_K8SOBJ_H
#define XCNI_K8SOBJ_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * The path of doc's collection ("/api/v1/namespaces/x/pods", to POST it
 * to), or with item its own ("/api/v1/namespaces/x/pods/p", to GET or
 * DELETE). A namespaced object without metadata.namespace is in "default",
 * as kubectl puts it without a context namespace. 0; -EINVAL (err names the
 * field: no apiVersion, kind or metadata.name, a kind whose apiVersion is
 * not the one it is served under) or -ENOTSUP (a kind not in the table);
 * -ENOSPC when buf is too small.
 */
int k8s_obj_path(const json_t *doc, bool item, char *buf, size_t len, char *err, size_t elen);

#endif
