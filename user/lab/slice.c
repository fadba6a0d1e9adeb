// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl lab: with `lab up --kube-proxy none` the agents translate Services
 * themselves (xcnid --kube-proxy-replacement), from the Services and
 * EndpointSlices of the cluster state. This layer puts them there after
 * every change, as the API server and the EndpointSlice controller would:
 *
 *   manifests/services-XX.json   a List: the Services whose namespace/name
 *                                hash to XX (LAB_SVC_SHARDS of them), each
 *                                with its ClusterIP and then its slices,
 *                                one per set of resolved ports (NAME-H)
 *
 * Beside the lab's kube-proxy (iptables) the agents get the Services alone,
 * without slices: xcnid there refuses their frontends as sources from outside
 * (xcni_extfe) and translates nothing.
 *
 * Shards, not a file per object: a file is an inode to make and an inotify
 * event and a load for every agent, and 10k Services with their slices as
 * 20k files cost 3 s of file creation alone on an ext4 state directory
 * without a journal; a change to one Service rewrites its shard (1/64 of them).
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
 *
 *   manifests/endpointslice.NS.NAME.json   a slice written by hand (lab apply),
 *                                          as it was applied
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/slice.h"
#include "lib/system/hmap.h"
#include "lib/system/proto.h"
#include "lib/system/util.h"

/* Files the Services of the agents are spread over (by a hash of namespace/name). */
#define LAB_SVC_SHARDS 64

/*
 * What the sync wrote this time, w (its paths, the keys, strdup'd): every
 * other services-*, service.* and endpointslice.* file goes. A search, not a
 * scan per file (10k Services are 20k files).
 */
static int wanted_add(struct hmap *w, const char *path)
{
	char *k;

	if (hmap_has(w, hstr(path), (uintptr_t)path))
		return 0;
	k = strdup(path);
	if (!k || hmap_put(w, hstr(k), (uintptr_t)k, k)) {
		free(k);
		return -ENOMEM;
	}
	return 0;
}

/* Writes doc at path (unless it holds it already) and remembers the path. */
static int put(const char *path, json_t *doc, struct hmap *w, bool *changed)
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

/* Appends doc (a reference taken) to items: 0 or -ENOMEM. */
static int item_add(json_t *items, json_t *doc)
{
	return doc && !json_array_append_new(items, doc) ? 0 : -ENOMEM;
}

/*
 * The Service's slices of one family, appended to items: its selected pods
 * (of that family) grouped by resolved ports.
 */
static int slices_put(const struct k8s_object *svc, const struct lab_ep_pod *pods, size_t npods,
		      bool v6, json_t *items)
{
	const size_t np = svc->svc.nports;
	struct group *g = calloc(npods + 1, sizeof(*g));
	uint16_t *ports = calloc((npods + 1) * (np + 1), sizeof(*ports));
	char name[300];
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
		/* FNV-1a of the port set: a stable name for the same pods and ports. */
		uint32_t h = xcni_fnv32(XCNI_FNV32_BASIS, g[i].port, np * sizeof(uint16_t));

		/* The IPv6 slice of the same ports beside the IPv4 one. */
		snprintf(name, sizeof(name), "%.250s-%s%08x", svc->meta.name, v6 ? "v6-" : "", h);
		err = item_add(items, slice_json(svc, &g[i], name, v6));
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
	       (!strncmp(d->d_name, "services-", 9) || !strncmp(d->d_name, "service.", 8) ||
		!strncmp(d->d_name, "endpointslice.", 14));
}

/* The objects of Services and slices that are no more. */
static int sweep(struct lab *lab, const struct hmap *w, bool *changed)
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
		if (!hmap_has(w, hstr(path), (uintptr_t)path)) {
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

/* The shard of Service ns/name: FNV-1a of "ns/name". */
static unsigned int svc_shard(const char *ns, const char *name)
{
	uint32_t h = xcni_fnv32(xcni_fnv32_str(XCNI_FNV32_BASIS, ns), "/", 1);

	return xcni_fnv32_str(h, name) % LAB_SVC_SHARDS;
}

int lab_slices_sync(struct lab *lab, bool *changed)
{
	json_t *shard[LAB_SVC_SHARDS] = { NULL };
	struct lab_slice_list hand = {};
	struct lab_ep_pod *pods = NULL;
	struct hmap w = {};
	struct lab_svc_list l;
	char path[PATH_MAX];
	size_t npods = 0;
	int err;

	const bool slices = lab->kube_proxy_none;

	err = hmap_init(&w, true, 0) ?: lab_svc_list_load(lab, &l);
	if (err) {
		hmap_free(&w);
		return err;
	}
	if (slices)
		err = lab_ep_pods_load(lab, &pods, &npods);
	for (size_t i = 0; !err && i < l.n; i++) {
		unsigned int k = svc_shard(l.v[i]->meta.ns, l.v[i]->meta.name);

		if (!shard[k] && !(shard[k] = json_array())) {
			err = -ENOMEM;
			break;
		}
		err = item_add(shard[k], lab_object_doc(l.v[i]));
		/* A slice per family of the lab, as the EndpointSlice controller
		 * writes one per addressType (the IPv4 one as ever in an IPv4 lab). */
		if (!err && slices && l.v[i]->svc.has_selector && (lab->family & LAB_FAM_V4))
			err = slices_put(l.v[i], pods, npods, false, shard[k]);
		if (!err && slices && l.v[i]->svc.has_selector && (lab->family & LAB_FAM_V6))
			err = slices_put(l.v[i], pods, npods, true, shard[k]);
	}
	for (unsigned int k = 0; !err && k < LAB_SVC_SHARDS; k++) {
		if (!shard[k])
			continue;
		lab_path(lab, path, sizeof(path), "manifests/services-%02x.json", k);
		err = put(path, json_pack("{s:s,s:s,s:O}", "apiVersion", "v1", "kind", "List",
					  "items", shard[k]),
			  &w, changed);
	}
	for (unsigned int k = 0; k < LAB_SVC_SHARDS; k++)
		json_decref(shard[k]);
	if (!err && slices)
		err = lab_slice_list_load(lab, &hand);
	for (size_t i = 0; !err && i < hand.n; i++) {
		lab_object_file(lab, K8S_ENDPOINTSLICE, hand.v[i]->meta.ns, hand.v[i]->meta.name,
				path, sizeof(path));
		err = put(path, lab_object_doc(hand.v[i]), &w, changed);
	}
	lab_slice_list_free(&hand);
	/* Nothing is removed after a failure: a half-written set is better than a lost one. */
	if (!err)
		err = sweep(lab, &w, changed);
	if (err)
		fprintf(stderr, "lab: writing Services and EndpointSlices for the agents: %s\n",
			strerror(-err));
	hmap_each(&w, sl)
		free(sl->v);
	hmap_free(&w);
	lab_ep_pods_free(pods, npods);
	lab_svc_list_free(&l);
	return err;
}

/* ---- slices written by hand --------------------------------------------------- */

static void hand_file(const struct lab *lab, const char *ns, const char *name, char *out, size_t len)
{
	lab_path(lab, out, len, "slices/%s.%s.json", ns, name);
}

void lab_slice_list_free(struct lab_slice_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		k8s_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* A hand-written slice into the list (an object of another kind left out). */
static int slice_take(struct k8s_object *o, void *arg)
{
	struct lab_slice_list *l = arg;
	struct k8s_object **v = NULL;
	bool slice = o->kind == K8S_ENDPOINTSLICE;

	if (slice && (v = realloc(l->v, (l->n + 2) * sizeof(*v)))) {
		l->v = v;
		l->v[l->n++] = o;
		return 0;
	}
	k8s_free(o);
	return slice ? -ENOMEM : 0;
}

int lab_slice_list_load(struct lab *lab, struct lab_slice_list *l)
{
	int err;

	*l = (struct lab_slice_list){};
	err = lab_objects_each(lab, "slices", slice_take, l);
	if (err)
		lab_slice_list_free(l);
	return err;
}

int lab_slice_validate(struct lab *lab, const struct k8s_object *o, const char *src,
		       const char *verb)
{
	char mine[PATH_MAX], theirs[PATH_MAX];

	if (strcmp(verb, "apply"))
		return 0;
	/* The controller's slices share the cluster state's names (NAME-HASH). */
	hand_file(lab, o->meta.ns, o->meta.name, mine, sizeof(mine));
	lab_object_file(lab, K8S_ENDPOINTSLICE, o->meta.ns, o->meta.name, theirs, sizeof(theirs));
	if (access(mine, F_OK) && !access(theirs, F_OK))
		return said(-EINVAL, "lab apply: %s: EndpointSlice %s/%s: metadata.name: taken by "
			    "a slice the EndpointSlice controller manages (of Service %s/%s)\n",
			    src, o->meta.ns, o->meta.name, o->meta.ns,
			    o->eps.service ? o->eps.service : "?");
	return 0;
}

int lab_slice_apply(struct lab *lab, const struct k8s_object *o, bool *changed)
{
	struct lab_svc_ips ips;
	const char *note = "";
	char path[PATH_MAX];
	enum lab_wr res;
	json_t *doc;
	int err;

	lab_path(lab, path, sizeof(path), "slices");
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	doc = lab_object_doc(o);
	if (!doc)
		return -ENOMEM;
	hand_file(lab, o->meta.ns, o->meta.name, path, sizeof(path));
	err = lab_object_write(path, doc, &res);
	json_decref(doc);
	if (err)
		return err;
	*changed |= res != LAB_WR_UNCHANGED;
	/* Kept, as the API server keeps it; said, as nothing will use it yet. */
	if (!o->eps.service)
		note = " (no kubernetes.io/service-name label: no Service uses it)";
	else if (lab_svc_lookup(lab, o->meta.ns, o->eps.service, &ips) == -ENOENT)
		note = " (its Service does not exist yet: kept for when it does)";
	printf("endpointslice %s/%s %s%s\n", o->meta.ns, o->meta.name, lab_wr_word[res], note);
	return 0;
}

int lab_slice_delete(struct lab *lab, const char *ns, const char *name)
{
	char path[PATH_MAX];

	hand_file(lab, ns, name, path, sizeof(path));
	return lab_object_unlink(path);
}

/* ---- a Service port's endpoints ------------------------------------------------- */

/* Appends (or merges: ready if either is) one endpoint into v. */
static void ep_add(struct lab_ep *v, size_t *n, const char *addr, uint16_t port, const char *node,
		   bool ready, bool serving, bool terminating)
{
	for (size_t i = 0; i < *n; i++) {
		if (v[i].port != port || strcmp(v[i].addr, addr))
			continue;
		if (ready && !v[i].ready) {
			v[i].ready = true;
			v[i].serving = serving;
			v[i].terminating = terminating;
			v[i].node = node;
		}
		return;
	}
	snprintf(v[*n].addr, sizeof(v[*n].addr), "%s", addr);
	v[*n].port = port;
	v[*n].node = node ? node : "";
	v[*n].ready = ready;
	v[*n].serving = serving;
	v[*n].terminating = terminating;
	(*n)++;
}

static int ep_cmp(const void *a, const void *b)
{
	const struct lab_ep *x = a, *y = b;
	int c = strcmp(x->addr, y->addr);

	return c ? c : (int)x->port - (int)y->port;
}

int lab_port_endpoints(const struct k8s_object *svc, const struct k8s_svc_port *sp,
		       unsigned int fam, const struct lab_ep_pod *pods, size_t npods,
		       const struct lab_slice_list *sl, struct lab_ep **out, size_t *n)
{
	const char *want = sp->name ? sp->name : "";
	const bool v6 = fam == LAB_FAM_V6;
	struct lab_ep *v;
	size_t room = npods;

	for (size_t i = 0; sl && i < sl->n; i++)
		room += sl->v[i]->eps.nendpoints;
	*out = NULL;
	*n = 0;
	v = calloc(room + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t k = 0; k < npods; k++) {
		const struct lab_pod *p = pods[k].pod;
		const char *a = v6 ? p->ip6 : p->ip;
		uint16_t tp = lab_endpoint_port(svc, sp, &pods[k]);

		/* The controller's conditions: a terminating pod still serves. */
		if (tp && *a)
			ep_add(v, n, a, tp, p->node, !p->terminating, true, p->terminating);
	}
	for (size_t i = 0; sl && i < sl->n; i++) {
		const struct k8s_epslice *es = &sl->v[i]->eps;
		const struct k8s_eps_port *ep = NULL;
		char a[INET6_ADDRSTRLEN];

		if (!es->service || strcmp(es->service, svc->meta.name) ||
		    strcmp(sl->v[i]->meta.ns, svc->meta.ns) || (v6 ? !es->ipv6 : !es->ipv4))
			continue;
		for (size_t j = 0; !ep && j < es->nports; j++)
			if (es->ports[j].proto == sp->proto && !strcmp(es->ports[j].name, want))
				ep = &es->ports[j];
		if (!ep || !ep->has_port)
			continue;
		for (size_t k = 0; k < es->nendpoints; k++) {
			const struct k8s_endpoint *e = &es->endpoints[k];

			inet_ntop(v6 ? AF_INET6 : AF_INET, v6 ? (const void *)e->addr6 : &e->addr, a,
				  sizeof(a));
			ep_add(v, n, a, ep->port, e->node_name, e->ready, e->serving, e->terminating);
		}
	}
	/* kube-proxy sorts them: the same rules for the same endpoints. */
	qsort(v, *n, sizeof(*v), ep_cmp);
	*out = v;
	return 0;
}

/* ---- lab get ------------------------------------------------------------------ */

/* Every Service with its ClusterIP, ports and endpoints, as JSON objects. */
json_t *lab_svc_json(struct lab *lab)
{
	char ip[INET6_ADDRSTRLEN], ep[96];
	struct lab_ep_pod *pods = NULL;
	json_t *arr = json_array();
	struct lab_slice_list sl = {};
	size_t npods = 0;
	struct lab_svc_list l;

	if (!arr || lab_svc_list_load(lab, &l))
		return arr;
	if (lab_ep_pods_load(lab, &pods, &npods) || lab_slice_list_load(lab, &sl)) {
		lab_ep_pods_free(pods, npods);
		lab_svc_list_free(&l);
		return arr;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct k8s_service *s = &l.v[i]->svc;
		json_t *ports = json_array(), *eps = json_array(), *addrs = json_array();
		json_t *cips = json_array(), *fams = json_array();
		struct lab_svc_ips ips = {};
		bool v4, v6;

		lab_svc_ips_get(l.v[i]->raw, &ips);
		/* clusterIPs in the Service's order; a headless one's families are the lab's. */
		for (unsigned int f = ips.order ?: LAB_FAM_V4, k = 0; k < 2;
		     k++, f = f == LAB_FAM_V4 ? LAB_FAM_V6 : LAB_FAM_V4) {
			if (!*lab_svc_ip_str(&ips, f, ip, sizeof(ip)))
				continue;
			json_array_append_new(cips, json_string(ip));
			json_array_append_new(fams, json_string(f == LAB_FAM_V4 ? "IPv4" : "IPv6"));
		}
		v4 = ips.headless ? lab->family & LAB_FAM_V4 : ips.has4;
		v6 = ips.headless ? lab->family & LAB_FAM_V6 : ips.has6;
		if (ips.headless)
			snprintf(ip, sizeof(ip), "None");
		else
			lab_svc_ip_str(&ips, ips.order, ip, sizeof(ip));
		/* The selected pods' addresses, ports or not: what DNS answers for a headless one. */
		for (size_t k = 0; k < npods; k++) {
			if (!lab_svc_selects(l.v[i], &pods[k]))
				continue;
			if (v4 && *pods[k].pod->ip)
				json_array_append_new(addrs, json_string(pods[k].pod->ip));
			if (v6 && *pods[k].pod->ip6)
				json_array_append_new(addrs, json_string(pods[k].pod->ip6));
		}
		for (size_t j = 0; j < s->nports; j++) {
			const struct k8s_svc_port *sp = &s->ports[j];
			char target[32];

			if (sp->target_name)
				snprintf(target, sizeof(target), "%s", sp->target_name);
			else
				snprintf(target, sizeof(target), "%u", sp->target_port);
			json_t *pj = json_pack("{s:s?,s:i,s:s,s:s}", "name", sp->name, "port", sp->port,
					       "protocol", proto_name(sp->proto), "targetPort",
					       target);

			if (pj && sp->node_port)
				json_object_set_new(pj, "nodePort", json_integer(sp->node_port));
			json_array_append_new(ports, pj);
			/* One endpoint per family the Service has (an EndpointSlice each):
			 * its pods' and those of slices written by hand, whatever their conditions. */
			for (unsigned int f = LAB_FAM_V4; f <= LAB_FAM_V6; f <<= 1) {
				struct lab_ep *e = NULL;
				size_t ne = 0;

				if (!(f == LAB_FAM_V4 ? v4 : v6) ||
				    lab_port_endpoints(l.v[i], sp, f, pods, npods, &sl, &e, &ne))
					continue;
				for (size_t k = 0; k < ne; k++) {
					snprintf(ep, sizeof(ep), f == LAB_FAM_V6 ? "[%s]:%u/%s" : "%s:%u/%s",
						 e[k].addr, e[k].port, proto_name(sp->proto));
					json_array_append_new(eps, json_string(ep));
				}
				free(e);
			}
		}
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o}",
						     "namespace", l.v[i]->meta.ns, "name",
						     l.v[i]->meta.name, "type",
						     s->node_ports ? "NodePort" : "ClusterIP",
						     "externalTrafficPolicy",
						     s->etp_local ? "Local" : "Cluster", "clusterIP", ip,
						     "clusterIPs", cips, "ipFamilies", fams, "ports",
						     ports, "endpoints", eps, "addresses", addrs));
	}
	lab_slice_list_free(&sl);
	lab_ep_pods_free(pods, npods);
	lab_svc_list_free(&l);
	return arr;
}
