// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl lab: with `lab up --kube-proxy none` the agents translate Services
 * themselves (xcnid --kube-proxy-replacement), from the Services and
 * EndpointSlices of the cluster state. This layer puts them there after
 * every change, as the API server and the EndpointSlice controller would:
 *
 *   manifests/service.NS.NAME.json         the Service with its ClusterIP
 *   manifests/endpointslice.NS.NAME-H.json one slice per set of resolved ports
 *
 * A slice holds the running pods the Service selects (one address each, a
 * slice of addressType IPv4 and one of IPv6 per port set as the lab's family has them,
 * ready and serving; a pod being deleted is first written not ready, serving
 * and terminating, and leaves its slice once it stopped), nodeName and a
 * targetRef to the pod;
 * its ports are the Service's, named as the Service names them ("" when
 * unnamed), each with the targetPort resolved on those pods (a named one
 * through their containerPorts). Pods that resolve the ports differently go
 * to different slices, as upstream groups them; a pod that lacks a named port
 * is in a slice without it. A Service selecting nothing gets one slice with
 * neither endpoints nor ports (upstream's placeholder), a headless one the
 * label service.kubernetes.io/headless, one without a selector none at all
 * (its slices are written by hand). H is a hash of the port set, so the same
 * pods give the same file and re-applying changes nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/slice.h"
#include "lib/proto.h"

/* What the sync wrote this time: every other service.* and endpointslice.* file goes. */
struct wanted {
	size_t n, cap;
	char **v;
};

static int wanted_add(struct wanted *w, const char *path)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		char **v = realloc(w->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n] = strdup(path);
	return w->v[w->n++] ? 0 : -ENOMEM;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* After wanted_sort: a search, not a scan per file (10k Services are 20k files). */
static bool wanted_has(const struct wanted *w, const char *path)
{
	return w->n && bsearch(&path, w->v, w->n, sizeof(*w->v), str_cmp);
}

static void wanted_sort(struct wanted *w)
{
	if (w->n)
		qsort(w->v, w->n, sizeof(*w->v), str_cmp);
}

static void wanted_free(struct wanted *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
}

/* Writes doc at path (unless it holds it already) and remembers the path. */
static int put(const char *path, json_t *doc, struct wanted *w, bool *changed)
{
	enum lab_wr res;
	int err;

	if (!doc)
		return -ENOMEM;
	err = lab_object_write(path, doc, &res);
	json_decref(doc);
	if (err)
		return err;
	*changed |= res != LAB_WR_UNCHANGED;
	return wanted_add(w, path);
}

/* One slice: the pods that resolve the Service's ports to the same numbers (0: not at all). */
struct group {
	uint16_t *port;
	json_t *endpoints;
};

static json_t *endpoint_json(const struct lab_ep_pod *ep, bool v6)
{
	const bool t = ep->pod->terminating;

	return json_pack("{s:[s],s:{s:b,s:b,s:b},s:s,s:{s:s,s:s,s:s}}", "addresses",
			 v6 ? ep->pod->ip6 : ep->pod->ip,
			 "conditions", "ready", !t, "serving", 1, "terminating", t, "nodeName",
			 ep->pod->node, "targetRef", "kind", "Pod", "namespace", ep->pod->ns, "name",
			 ep->pod->name);
}

static json_t *slice_json(const struct k8s_object *svc, const struct group *g, const char *name,
			  bool v6)
{
	const struct k8s_service *s = &svc->svc;
	json_t *doc, *ports = json_array(), *labels;

	for (size_t j = 0; ports && j < s->nports; j++)
		if (g->port[j] &&
		    json_array_append_new(ports, json_pack("{s:s,s:s,s:i}", "name",
							   s->ports[j].name ? s->ports[j].name : "",
							   "protocol", proto_k8s_name(s->ports[j].proto),
							   "port", g->port[j])))
			break;
	labels = json_pack("{s:s,s:s}", "kubernetes.io/service-name", svc->meta.name,
			   "endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io");
	if (labels && s->headless)
		json_object_set_new(labels, "service.kubernetes.io/headless", json_string(""));
	if (!ports || !labels) {
		json_decref(ports);
		json_decref(labels);
		return NULL;
	}
	doc = json_pack("{s:s,s:s,s:{s:s,s:s,s:o},s:s,s:O,s:o}", "apiVersion", "discovery.k8s.io/v1",
			"kind", "EndpointSlice", "metadata", "name", name, "namespace", svc->meta.ns,
			"labels", labels, "addressType", v6 ? "IPv6" : "IPv4", "endpoints", g->endpoints, "ports",
			ports);
	return doc;
}

/* The Service's slices of one family: its selected pods (of that family) grouped by resolved ports. */
static int slices_put(struct lab *lab, const struct k8s_object *svc, const struct lab_ep_pod *pods,
		      size_t npods, bool v6, struct wanted *w, bool *changed)
{
	const size_t np = svc->svc.nports;
	struct group *g = calloc(npods + 1, sizeof(*g));
	uint16_t *ports = calloc((npods + 1) * (np + 1), sizeof(*ports));
	char name[300], path[PATH_MAX];
	size_t ng = 0;
	int err = -ENOMEM;

	if (!g || !ports)
		goto out;
	for (size_t k = 0; k < npods; k++) {
		uint16_t *mine = ports + ng * (np + 1);
		size_t i;

		if (!lab_svc_selects(svc, &pods[k]) || !*(v6 ? pods[k].pod->ip6 : pods[k].pod->ip))
			continue;
		for (size_t j = 0; j < np; j++)
			mine[j] = lab_endpoint_port(svc, &svc->svc.ports[j], &pods[k]);
		for (i = 0; i < ng; i++)
			if (!memcmp(g[i].port, mine, np * sizeof(*mine)))
				break;
		if (i == ng) {
			g[ng].port = mine;
			g[ng].endpoints = json_array();
			if (!g[ng++].endpoints)
				goto out;
		}
		if (json_array_append_new(g[i].endpoints, endpoint_json(&pods[k], v6)))
			goto out;
	}
	if (!ng) {
		/* Upstream's placeholder: no endpoints, no ports. */
		g[0].port = ports;
		g[0].endpoints = json_array();
		if (!g[ng++].endpoints)
			goto out;
	}
	err = 0;
	for (size_t i = 0; !err && i < ng; i++) {
		uint32_t h = 0x811c9dc5;

		/* FNV-1a of the port set: a stable name for the same pods and ports. */
		for (size_t j = 0; j < np * sizeof(uint16_t); j++)
			h = (h ^ ((const uint8_t *)g[i].port)[j]) * 0x01000193;
		/* The IPv6 slice of the same ports beside the IPv4 one. */
		snprintf(name, sizeof(name), "%.250s-%s%08x", svc->meta.name, v6 ? "v6-" : "", h);
		lab_object_file(lab, K8S_ENDPOINTSLICE, svc->meta.ns, name, path, sizeof(path));
		err = put(path, slice_json(svc, &g[i], name, v6), w, changed);
	}
out:
	for (size_t i = 0; g && i < ng; i++)
		json_decref(g[i].endpoints);
	free(g);
	free(ports);
	return err;
}

static int lb_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && !strcmp(d->d_name + n - 5, ".json") &&
	       (!strncmp(d->d_name, "service.", 8) || !strncmp(d->d_name, "endpointslice.", 14));
}

/* The objects of Services and slices that are no more. */
static int sweep(struct lab *lab, const struct wanted *w, bool *changed)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	struct dirent **ents;
	int n, err = 0, r;

	lab_path(lab, dir, sizeof(dir), "manifests");
	n = scandir(dir, &ents, lb_file, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (!wanted_has(w, path)) {
			r = lab_object_unlink(path);
			if (r < 0)
				err = r;
			*changed |= r > 0;
		}
		free(ents[i]);
	}
	free(ents);
	return err;
}

int lab_slices_sync(struct lab *lab, bool *changed)
{
	struct lab_ep_pod *pods = NULL;
	struct wanted w = {};
	struct lab_svc_list l;
	char path[PATH_MAX];
	size_t npods = 0;
	int err;

	err = lab_svc_list_load(lab, &l);
	if (err)
		return err;
	err = lab_ep_pods_load(lab, &pods, &npods);
	for (size_t i = 0; !err && i < l.n; i++) {
		lab_object_file(lab, K8S_SERVICE, l.v[i]->meta.ns, l.v[i]->meta.name, path,
				sizeof(path));
		err = put(path, lab_object_doc(l.v[i]), &w, changed);
		/* A slice per family of the lab, as the EndpointSlice controller
		 * writes one per addressType (the IPv4 one as ever in an IPv4 lab). */
		if (!err && l.v[i]->svc.has_selector && (lab->family & LAB_FAM_V4))
			err = slices_put(lab, l.v[i], pods, npods, false, &w, changed);
		if (!err && l.v[i]->svc.has_selector && (lab->family & LAB_FAM_V6))
			err = slices_put(lab, l.v[i], pods, npods, true, &w, changed);
	}
	/* Nothing is removed after a failure: a half-written set is better than a lost one. */
	wanted_sort(&w);
	if (!err)
		err = sweep(lab, &w, changed);
	if (err)
		fprintf(stderr, "lab: writing Services and EndpointSlices for the agents: %s\n",
			strerror(-err));
	wanted_free(&w);
	lab_ep_pods_free(pods, npods);
	lab_svc_list_free(&l);
	return err;
}
