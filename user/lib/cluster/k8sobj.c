// SPDX-License-Identifier: Apache-2.0
/* Where a manifest's object lives on the API server (k8sobj.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cluster/k8sobj.h"
#include "lib/cluster/k8sreq.h"

/*
 * The kinds, each with its resource and the group/versions it is served
 * under; no guessing of plurals: a kind not here is refused by name.
 */
static const struct {
	const char *kind, *resource, *versions; /* space separated */
	bool namespaced;
} kinds[] = {
	{ "Namespace", "namespaces", "v1", false },
	{ "Node", "nodes", "v1", false },
	{ "Pod", "pods", "v1", true },
	{ "Service", "services", "v1", true },
	{ "Endpoints", "endpoints", "v1", true },
	{ "ConfigMap", "configmaps", "v1", true },
	{ "ServiceAccount", "serviceaccounts", "v1", true },
	{ "NetworkPolicy", "networkpolicies", "networking.k8s.io/v1", true },
	{ "DaemonSet", "daemonsets", "apps/v1", true },
	{ "Deployment", "deployments", "apps/v1", true },
	{ "Job", "jobs", "batch/v1", true },
	{ "EndpointSlice", "endpointslices", "discovery.k8s.io/v1 discovery.k8s.io/v1beta1", true },
};

static bool word_in(const char *w, const char *list)
{
	size_t n = strlen(w);

	for (const char *p = list; *p;) {
		size_t l = strcspn(p, " ");

		if (l == n && !strncmp(p, w, n))
			return true;
		p += l + (p[l] == ' ');
	}
	return false;
}

int k8s_obj_path(const json_t *doc, bool item, char *buf, size_t len, char *err, size_t elen)
{
	const char *api = json_string_value(json_object_get(doc, "apiVersion"));
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	const json_t *md = json_object_get(doc, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	char *ens = NULL, *ename = NULL;
	size_t i;
	int n, ret = 0;

	err[0] = '\0';
	if (!kind || !*kind) {
		snprintf(err, elen, "kind: required");
		return -EINVAL;
	}
	if (!api || !*api) {
		snprintf(err, elen, "%s: apiVersion: required", kind);
		return -EINVAL;
	}
	if (!name || !*name) {
		snprintf(err, elen, "%s: metadata.name: required", kind);
		return -EINVAL;
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].kind, kind))
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0])) {
		snprintf(err, elen, "%s %s: kind %s: not one xcnictl knows the API path of", kind, name,
			 kind);
		return -ENOTSUP;
	}
	if (!word_in(api, kinds[i].versions)) {
		snprintf(err, elen, "%s %s: apiVersion: %s does not serve %s (want %s)", kind, name, api,
			 kind, kinds[i].versions);
		return -EINVAL;
	}
	ename = k8s_escape(name);
	ens = k8s_escape(ns && *ns ? ns : "default");
	if (!ename || !ens) {
		ret = -ENOMEM;
		goto out;
	}
	n = snprintf(buf, len, "/%s/%s%s%s%s/%s%s%s", strchr(api, '/') ? "apis" : "api", api,
		     kinds[i].namespaced ? "/namespaces/" : "", kinds[i].namespaced ? ens : "", "",
		     kinds[i].resource, item ? "/" : "", item ? ename : "");
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, elen, "%s %s: its path is over %zu bytes", kind, name, len);
		ret = -ENOSPC;
	}
out:
	free(ename);
	free(ens);
	return ret;
}
