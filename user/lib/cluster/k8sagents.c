// SPDX-License-Identifier: Apache-2.0
/*
 * The xcni agents of a cluster, from the API server (k8sagents.h): one list
 * of the DaemonSet's pods (paged), one of the nodes, waited for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cluster/k8sagents.h"
#include "lib/cluster/k8sreq.h"
#include "lib/system/log.h"
#include "lib/system/util.h"

int k8s_api_conf_kubectl(const char *kubeconfig, struct k8s_api_conf *c)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	char path[4096];

	if (kubeconfig && *kubeconfig)
		return k8s_api_conf_kubeconfig(kubeconfig, c);
	if (env && *env) {
		/* kubectl merges the list; its first file is the one read here. */
		size_t l = strcspn(env, ":");

		snprintf(path, sizeof(path), "%.*s", (int)l, env);
		return k8s_api_conf_kubeconfig(path, c);
	}
	if (home && *home) {
		snprintf(path, sizeof(path), "%s/.kube/config", home);
		if (!access(path, R_OK))
			return k8s_api_conf_kubeconfig(path, c);
	}
	if (!getenv("KUBERNETES_SERVICE_HOST"))
		return pr_err_ret(-ENOENT, "no kubeconfig: give --kubeconfig FILE (or KUBECONFIG, "
				  "or ~/.kube/config), or run in a pod with a service account\n");
	return k8s_api_conf_in_cluster(c);
}

/* Whether every k=v requirement of sel holds in labels (an object). */
static bool selects(const char *sel, json_t *labels)
{
	for (const char *p = sel; *p;) {
		size_t l = strcspn(p, ","), kl;
		const char *eq = memchr(p, '=', l), *v;
		char key[254];

		if (!eq)
			return false;
		kl = (size_t)(eq - p);
		snprintf(key, sizeof(key), "%.*s", (int)kl, p);
		v = json_string_value(json_object_get(labels, key));
		if (!v || strlen(v) != l - kl - 1 || strncmp(v, eq + 1, l - kl - 1))
			return false;
		p += l + (p[l] == ',');
	}
	return true;
}

static bool pod_ready(json_t *pod)
{
	json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions"), *cd;
	size_t i;

	json_array_foreach(conds, i, cd)
		if (!strcmp(jstr(cd, "type"), "Ready"))
			return !strcmp(jstr(cd, "status"), "True");
	return false;
}

/* A better agent for its node than another: ready, then running, then any. */
static int rank(const struct k8s_agent *a)
{
	return (a->ready ? 4 : 0) + (!strcmp(a->phase, "Running") ? 2 : 0) + (a->addr[0] ? 1 : 0);
}

struct list {
	struct k8s_agent *v;
	size_t n, cap;
};

static struct k8s_agent *by_node(struct list *l, const char *node)
{
	for (size_t i = 0; node[0] && i < l->n; i++)
		if (!strcmp(l->v[i].node, node))
			return &l->v[i];
	return NULL;
}

static int add(struct list *l, const struct k8s_agent *a)
{
	struct k8s_agent *have = by_node(l, a->node);

	if (have) {
		if (rank(a) > rank(have))
			*have = *a;
		return 0;
	}
	if (XCNI_GROW(l->v, l->n, l->cap))
		return -ENOMEM;
	l->v[l->n++] = *a;
	return 0;
}

/* GET path (paged: &limit, &continue), each item through fn. 0 or -errno (err said). */
static int list_all(const struct k8s_api_conf *c, const char *path, long timeout_ms,
		    int (*fn)(void *arg, json_t *item), void *arg, char *err, size_t errlen)
{
	char *cont = NULL, *url = NULL;
	int ret = 0;

	do {
		struct k8s_resp r;
		json_t *items, *it;
		const char *next;
		size_t i;

		free(url);
		if (asprintf(&url, "%s%slimit=500%s%s", path, strchr(path, '?') ? "&" : "?",
			     cont ? "&continue=" : "", cont ? cont : "") < 0) {
			url = NULL;
			ret = -ENOMEM;
			break;
		}
		free(cont);
		cont = NULL;
		ret = k8s_request(c, "GET", url, NULL, timeout_ms, &r);
		if (ret || r.status != 200) {
			snprintf(err, errlen, "GET %s from %s: %s", path, c->server,
				 r.err[0] ? r.err : "no answer");
			k8s_resp_free(&r);
			if (!ret)
				ret = r.status == 403 ? -EACCES : r.status == 404 ? -ENOENT : -EIO;
			break;
		}
		items = json_object_get(r.body, "items");
		if (!json_is_array(items)) {
			snprintf(err, errlen, "GET %s from %s: an answer without items", path, c->server);
			k8s_resp_free(&r);
			ret = -EPROTO;
			break;
		}
		json_array_foreach(items, i, it)
			if ((ret = fn(arg, it)))
				break;
		next = jstr(json_object_get(r.body, "metadata"), "continue");
		if (!ret && *next && !(cont = k8s_escape(next)))
			ret = -ENOMEM;
		k8s_resp_free(&r);
	} while (!ret && cont);
	free(cont);
	free(url);
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	return ret;
}

struct pods_arg {
	struct list *l;
	const char *ns, *sel;
};

static int on_pod(void *arg, json_t *pod)
{
	struct pods_arg *pa = arg;
	json_t *md = json_object_get(pod, "metadata"), *st = json_object_get(pod, "status");
	struct k8s_agent a = {};

	/* The server chose them; checked again (a server that ignores a selector). */
	if (strcmp(jstr(md, "namespace"), pa->ns) || !selects(pa->sel, json_object_get(md, "labels")))
		return 0;
	snprintf(a.node, sizeof(a.node), "%s", jstr(json_object_get(pod, "spec"), "nodeName"));
	snprintf(a.pod, sizeof(a.pod), "%s", jstr(md, "name"));
	snprintf(a.addr, sizeof(a.addr), "%s", *jstr(st, "hostIP") ? jstr(st, "hostIP") : jstr(st, "podIP"));
	snprintf(a.phase, sizeof(a.phase), "%s", json_object_get(md, "deletionTimestamp") &&
			  !json_is_null(json_object_get(md, "deletionTimestamp")) ? "Terminating" :
			  jstr(st, "phase"));
	a.ready = pod_ready(pod);
	return add(pa->l, &a);
}

static int on_node(void *arg, json_t *node)
{
	struct list *l = arg;
	json_t *addrs = json_object_get(json_object_get(node, "status"), "addresses"), *ad;
	struct k8s_agent a = {};
	size_t i;

	snprintf(a.node, sizeof(a.node), "%s", jstr(json_object_get(node, "metadata"), "name"));
	if (!a.node[0] || by_node(l, a.node))
		return 0;
	json_array_foreach(addrs, i, ad)
		if (!strcmp(jstr(ad, "type"), "InternalIP")) {
			snprintf(a.addr, sizeof(a.addr), "%s", jstr(ad, "address"));
			break;
		}
	return add(l, &a);
}

int k8s_agents_list(const struct k8s_api_conf *c, const char *ns, const char *selector,
		    long timeout_ms, struct k8s_agent **out, size_t *n, char *err, size_t errlen)
{
	struct list l = {};
	struct pods_arg pa = { &l, ns ? ns : K8S_AGENTS_NAMESPACE,
			       selector ? selector : K8S_AGENTS_SELECTOR };
	char *ens = k8s_escape(pa.ns), *esel = k8s_escape(pa.sel), *path = NULL, nerr[300];
	int ret;

	*out = NULL;
	*n = 0;
	err[0] = '\0';
	if (!ens || !esel || asprintf(&path, "/api/v1/namespaces/%s/pods?labelSelector=%s", ens,
				      esel) < 0) {
		free(ens);
		free(esel);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = list_all(c, path, timeout_ms, on_pod, &pa, err, errlen);
	/* The nodes without an agent: when they cannot be listed, the pods alone. */
	if (!ret && list_all(c, "/api/v1/nodes", timeout_ms, on_node, &l, nerr, sizeof(nerr)) ==
			    -ENOMEM)
		ret = -ENOMEM;
	free(path);
	free(ens);
	free(esel);
	if (ret) {
		free(l.v);
		return ret;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}
