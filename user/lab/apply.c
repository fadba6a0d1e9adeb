// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl lab apply / delete: what kubectl, the API server and the kubelet do
 * between them, for Namespaces, Pods, NetworkPolicies, Services,
 * EndpointSlices and (the lab's own) Nodes. Everything given is
 * loaded and validated before anything changes; then pods are wired by the
 * real xcni binary and every object is written into the cluster-state
 * directory xcnid watches, followed by the sync token, and the command waits
 * until every node's agent reports the token applied.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lab/apply.h"
#include "lib/system/util.h"
#include "lib/system/cidr.h"
#include "lib/system/readall.h"

/* Everything one apply/delete was given, in input order: the objects, each with its file. */
struct batch {
	const char *verb;
	struct k8s_object **objs;
	const char **obj_src;
	size_t nobjs;
	char **srcs; /* owned file names */
	size_t nsrcs;
	int err; /* the first document that did not parse (every one said) */
};

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->nobjs; i++)
		k8s_free(b->objs[i]);
	for (size_t i = 0; i < b->nsrcs; i++)
		free(b->srcs[i]);
	free(b->objs);
	free(b->obj_src);
	free(b->srcs);
}

/* The documents of src parsed into b's objects (a bad one said, the rest read on), then freed. */
static int batch_add_docs(struct batch *b, const char *src, json_t **docs, size_t n)
{
	struct k8s_object **no = realloc(b->objs, (b->nobjs + n + 1) * sizeof(*no));
	struct k8s_error kerr;
	const char **ns;
	char **nsrc;
	int err = 0, r;

	if (no)
		b->objs = no;
	ns = realloc(b->obj_src, (b->nobjs + n + 1) * sizeof(*ns));
	if (ns)
		b->obj_src = ns;
	nsrc = realloc(b->srcs, (b->nsrcs + 1) * sizeof(*nsrc));
	if (nsrc)
		b->srcs = nsrc;
	if (!no || !ns || !nsrc || !(b->srcs[b->nsrcs] = strdup(src)))
		err = -ENOMEM;
	else
		src = b->srcs[b->nsrcs++];
	for (size_t i = 0; !err && i < n; i++) {
		/* Every kind the lab serves, hand-written EndpointSlices too; a delete
		 * reads what kubectl delete -f does: kind, name, namespace. */
		r = strcmp(b->verb, "delete") ? k8s_parse_lb(docs[i], &b->objs[b->nobjs], &kerr) :
						k8s_parse_ident(docs[i], &b->objs[b->nobjs], &kerr);
		if (!r)
			b->obj_src[b->nobjs++] = src;
		else if (said(r, "lab %s: %s: %s\n", b->verb, src, kerr.msg) && !b->err)
			b->err = r;
	}
	k8s_docs_free(docs, n);
	return err;
}

/* The manifests in buf (len bytes; src: their name in messages) into b. */
static int batch_add_text(struct batch *b, const char *src, const char *buf, size_t len)
{
	struct k8s_error kerr;
	json_t **docs;
	size_t n;
	int err = k8s_load_stream(buf, len, &docs, &n, &kerr);

	return err ? said(err, "lab: %s: %s\n", src, kerr.msg) : batch_add_docs(b, src, docs, n);
}

static int load_stdin(struct batch *b)
{
	char *buf;
	size_t len;
	int err = xcni_read_all(0, 0, &buf, &len);

	if (err)
		return said(err, "lab: reading stdin: %s\n", strerror(-err));
	err = batch_add_text(b, "<stdin>", buf, len);
	free(buf);
	return err;
}

static int load_file(struct batch *b, const char *path)
{
	struct k8s_error kerr;
	json_t **docs;
	size_t n;
	int err = k8s_load_file(path, &docs, &n, &kerr);

	return err ? said(err, "lab: %s: %s\n", path, kerr.msg) : batch_add_docs(b, path, docs, n);
}

/* What kubectl apply -f DIR takes: *.yaml, *.yml, *.json, not hidden. */
static int manifest_name(const struct dirent *d)
{
	const char *dot = strrchr(d->d_name, '.');

	return d->d_name[0] != '.' && dot &&
	       (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml") || !strcmp(dot, ".json"));
}

static int load_arg(struct batch *b, const char *arg)
{
	struct dirent **ents;
	char path[PATH_MAX];
	struct stat st;
	int n, err = 0;

	if (!strcmp(arg, "-"))
		return load_stdin(b);
	if (stat(arg, &st)) {
		err = -errno;
		return said(err, "lab: %s: %s\n", arg, strerror(-err));
	}
	if (!S_ISDIR(st.st_mode))
		return load_file(b, arg);
	n = scandir(arg, &ents, manifest_name, alphasort);
	if (n < 0) {
		err = -errno;
		return said(err, "lab: %s: %s\n", arg, strerror(-err));
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", arg, ents[i]->d_name);
		if (!err && (stat(path, &st) || S_ISREG(st.st_mode)))
			err = load_file(b, path);
		free(ents[i]);
	}
	free(ents);
	return err;
}

/* ---- pods -------------------------------------------------------------------- */

/* A pod's server: dnsmasq for the cluster's DNS pod, else the listener on its ports. */
static int pod_server_start(struct lab *lab, struct lab_pod *p)
{
	p->server = (struct lab_proc){};
	return p->dns ? lab_dns_start(lab, p) : lab_pod_serve(lab, p);
}

/* A new pod, as the kubelet and runtime start one: netns, CNI ADD, its processes. */
static int pod_create(struct lab *lab, const struct k8s_object *obj, struct lab_pod **out)
{
	struct lab_pod *p;
	int err;

	err = lab_pod_create(lab, obj, &p);
	if (err)
		return err;
	err = pod_server_start(lab, p);
	if (!err)
		err = lab_state_save(lab);
	if (err) {
		lab_pod_undo(lab, p);
		return err;
	}
	*out = p;
	return 0;
}

/*
 * spec.terminationGracePeriodSeconds: how long a deleted pod keeps serving
 * while terminating; -1 not a non-negative integer. Unset: 0 in the lab, not
 * upstream's 30 s: every delete would otherwise wait for it.
 */
static long long pod_grace_raw(const struct k8s_object *obj)
{
	json_t *v = json_object_get(json_object_get(obj->raw, "spec"),
				    "terminationGracePeriodSeconds");

	if (!v || json_is_null(v))
		return 0;
	return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
}

/* Bounded: a lab's grace period is an hour at most. */
#define LAB_GRACE_MAX 3600

static unsigned int pod_grace(const struct k8s_object *obj)
{
	long long g = pod_grace_raw(obj);

	return g < 0 ? 0 : g > LAB_GRACE_MAX ? LAB_GRACE_MAX : (unsigned int)g;
}

/*
 * The phase of pod ns/name's object in the cluster state when it is a
 * finished pod's (Succeeded, Failed: one the lab ran and ended, pod_finish),
 * else K8S_POD_PHASE_UNSET.
 */
static enum k8s_pod_phase finished_phase(const struct lab *lab, const char *ns, const char *name)
{
	char path[PATH_MAX];
	json_t *doc;
	const char *ph;
	enum k8s_pod_phase r = K8S_POD_PHASE_UNSET;

	lab_object_file(lab, K8S_POD, ns, name, path, sizeof(path));
	doc = json_load_file(path, 0, NULL);
	ph = json_string_value(json_object_get(json_object_get(doc, "status"), "phase"));
	if (ph && !strcmp(ph, "Succeeded"))
		r = K8S_POD_SUCCEEDED;
	else if (ph && !strcmp(ph, "Failed"))
		r = K8S_POD_FAILED;
	json_decref(doc);
	return r;
}

/*
 * status.phase Succeeded or Failed on a pod the lab runs: its containers
 * ended for good, as a Job's pod's do. The kubelet stops it (its listener,
 * CNI DEL: IPAM takes its addresses back, its netns goes) and the API server
 * keeps its object, in that phase and with the podIP(s) it had, until it is
 * deleted (lab delete), however long that takes: IPAM may meanwhile give its
 * address to a new pod. The lab runs it no more (lab get does not list it).
 */
static int pod_finish(struct lab *lab, const struct k8s_object *obj, struct lab_pod *p,
		      bool *changed)
{
	const char *phase = k8s_pod_phase_name(obj->pod.phase);
	enum lab_wr res;
	int err, werr;

	p->terminating = false; /* ended: nothing to drain */
	err = lab_pod_teardown(lab, p);
	werr = lab_pod_object_write(lab, obj, p, phase, &res);
	printf("pod %s/%s %s (%s, %s%s%s kept in its status; stopped, addresses released)\n",
	       p->ns, p->name, phase, p->node, p->ip, *p->ip && *p->ip6 ? ", " : "", p->ip6);
	lab_pod_remove(lab, p);
	*changed = true;
	err = err ? err : werr;
	werr = lab_state_save(lab);
	return err ? err : werr;
}

static int pod_apply(struct lab *lab, const struct k8s_object *obj, bool *changed)
{
	struct lab_pod *p = lab_pod_find(lab, obj->meta.ns, obj->meta.name);
	const char *what = "configured";
	struct lab_port *ports = NULL;
	size_t nports = 0;
	enum lab_wr res;
	int err;

	if (k8s_pod_finished(&obj->pod)) {
		if (p)
			return pod_finish(lab, obj, p, changed);
		/* lab_validate made sure: it finished before, in this phase. */
		printf("pod %s/%s unchanged (%s)\n", obj->meta.ns, obj->meta.name,
		       k8s_pod_phase_name(obj->pod.phase));
		return 0;
	}
	if (!p) {
		err = pod_create(lab, obj, &p);
		if (err)
			return err;
		what = "created";
	} else {
		err = lab_pod_ports(obj, &ports, &nports);
		if (err)
			return err;
		if (!lab_ports_equal(ports, nports, p->ports, p->nports)) {
			/* The containers changed: a new listener, same netns and IP. */
			lab_proc_stop(&p->server);
			free(p->ports);
			p->ports = ports;
			p->nports = nports;
			ports = NULL;
			err = pod_server_start(lab, p);
			if (!err)
				err = lab_state_save(lab);
			if (err)
				return err;
			*changed = true;
		}
		free(ports);
	}
	/* Validated (pod_grace): kept for the pod's delete. */
	if (pod_grace(obj) != p->grace_s) {
		p->grace_s = pod_grace(obj);
		err = lab_state_save(lab);
		if (err)
			return err;
	}
	err = lab_pod_object_write(lab, obj, p, "Running", &res);
	if (err)
		return err;
	if (res != LAB_WR_UNCHANGED)
		*changed = true;
	else if (strcmp(what, "created"))
		what = "unchanged";
	printf("pod %s/%s %s (%s, %s%s%s)\n", p->ns, p->name, what, p->node, p->ip,
	       *p->ip && *p->ip6 ? ", " : "", p->ip6);
	return 0;
}

/* ---- apply / delete ---------------------------------------------------------- */

static const char *kind_word(enum k8s_kind kind)
{
	return kind == K8S_NAMESPACE ? "namespace" : kind == K8S_POD ? "pod" :
	       kind == K8S_NODE ? "node" : kind == K8S_SERVICE ? "service" :
	       kind == K8S_CLUSTERNETPOL ? "clusternetworkpolicy" :
	       kind == K8S_ENDPOINTSLICE ? "endpointslice" : "networkpolicy";
}

/* A Node of the lab (lab_validate made sure): registered again, with the manifest's labels. */
static int node_apply(struct lab *lab, const struct k8s_object *o, bool *changed)
{
	const struct lab_node *n = lab_node_find(lab, o->meta.name);
	json_t *labels = json_object_get(json_object_get(o->raw, "metadata"), "labels");
	enum lab_wr res;
	int err;

	err = lab_node_object_put(lab, n, labels, &res);
	if (err)
		return err;
	*changed |= res != LAB_WR_UNCHANGED;
	printf("node %s %s\n", n->name, lab_wr_word[res]);
	return 0;
}

static int lab_apply_one(struct lab *lab, const struct k8s_object *o, bool *changed)
{
	char path[PATH_MAX];
	enum lab_wr res;
	json_t *doc;
	int err;

	if (o->kind == K8S_POD)
		return pod_apply(lab, o, changed);
	if (o->kind == K8S_NODE)
		return node_apply(lab, o, changed);
	if (o->kind == K8S_SERVICE)
		return lab_svc_apply(lab, o, changed, stdout);
	if (o->kind == K8S_ENDPOINTSLICE)
		return lab_slice_apply(lab, o, changed);
	/* Namespaces and policies are only state: the agents act on them. */
	doc = lab_object_doc(o);
	if (!doc)
		return -ENOMEM;
	lab_object_file(lab, o->kind, o->meta.ns, o->meta.name, path, sizeof(path));
	err = lab_object_write(path, doc, &res);
	json_decref(doc);
	if (err)
		return err;
	*changed |= res != LAB_WR_UNCHANGED;
	printf("%s %s%s%s %s\n", kind_word(o->kind), o->meta.ns ? o->meta.ns : "",
	       o->meta.ns ? "/" : "", o->meta.name, lab_wr_word[res]);
	return 0;
}

static int pod_delete(struct lab *lab, struct lab_pod *p, bool *changed)
{
	int err = lab_pod_teardown(lab, p);

	printf("pod %s/%s deleted\n", p->ns, p->name);
	lab_pod_remove(lab, p);
	*changed = true;
	return lab_state_save(lab) ?: err;
}

/*
 * A pod's delete with a grace period (grace, s: the pod's, or --grace-period):
 * the kubelet's graceful termination. The pod stays, its listener serving,
 * its endpoints ready false, serving and terminating (slice.c, kproxy.c),
 * until the grace period ends; the first apply or delete after that removes
 * it (pods_reap). 0: at once. Deleting it again changes nothing, unless with
 * a shorter grace period (--now: 0).
 */
static int pod_delete_graceful(struct lab *lab, struct lab_pod *p, long long grace, bool *changed)
{
	long long now = (long long)time(NULL);

	if (grace < 0)
		grace = p->grace_s;
	if (!grace)
		return pod_delete(lab, p, changed);
	if (p->term_until && p->term_until <= now + grace) {
		printf("pod %s/%s terminating (%llds left)\n", p->ns, p->name, p->term_until - now);
		return 0;
	}
	p->terminating = true;
	p->term_until = now + grace;
	*changed = true;
	printf("pod %s/%s terminating (grace period %llds)\n", p->ns, p->name, grace);
	return lab_state_save(lab);
}

/* Pods whose grace period ended: removed, as the kubelet ends them. */
static int pods_reap(struct lab *lab, bool *changed)
{
	long long now = (long long)time(NULL);
	int err = 0;

	for (size_t i = lab->npods; i-- > 0;)
		if (lab->pods[i].term_until && lab->pods[i].term_until <= now &&
		    pod_delete(lab, &lab->pods[i], changed))
			err = -EIO;
	return err;
}

/*
 * A namespace's objects of one kind that are only state: every
 * <kind>.<ns>.*.json of the cluster state (its policies; its finished pods,
 * which the lab runs no more).
 */
static int ns_objects_delete(struct lab *lab, const char *kind, const char *ns, bool *changed)
{
	char dir[PATH_MAX], path[PATH_MAX * 2], prefix[300];
	struct dirent *d;
	size_t plen;
	int err = 0;
	DIR *dh;

	lab_path(lab, dir, sizeof(dir), "manifests");
	snprintf(prefix, sizeof(prefix), "%s.%s.", kind, ns);
	plen = strlen(prefix);
	dh = opendir(dir);
	if (!dh)
		return -errno;
	while ((d = readdir(dh))) {
		size_t len = strlen(d->d_name);

		if (strncmp(d->d_name, prefix, plen) || len < plen + 6 ||
		    strcmp(d->d_name + len - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (lab_object_unlink(path) < 0) {
			err = -EIO;
			continue;
		}
		printf("%s %s/%.*s deleted\n", kind, ns, (int)(len - plen - 5), d->d_name + plen);
		*changed = true;
	}
	closedir(dh);
	return err;
}

/*
 * The objects of namespace ns among v (Services or hand-written slices,
 * called kind), each through del: the namespace is being deleted.
 */
static int ns_list_delete(struct lab *lab, const char *ns, const char *kind,
			  struct k8s_object *const *v, size_t n,
			  int (*del)(struct lab *lab, const char *ns, const char *name), bool *changed)
{
	int err = 0, r;

	for (size_t i = 0; !err && i < n; i++) {
		char name[256];

		if (strcmp(v[i]->meta.ns, ns))
			continue;
		/* A Service's delete frees the index's object: its name kept for the message. */
		snprintf(name, sizeof(name), "%s", v[i]->meta.name);
		r = del(lab, ns, name);
		if (r < 0)
			err = r;
		else if (r > 0) {
			*changed = true;
			printf("%s %s/%s deleted\n", kind, ns, name);
		}
	}
	return err;
}

/*
 * Pods a delete stops that a Service selects go terminating first, as the API
 * server marks them: their endpoints ready false (kube-proxy none: in the
 * EndpointSlices; iptables: out of the rules unless none is ready), and every
 * agent and node caught up, before their processes stop. So no new connection
 * goes to a pod that is about to vanish; open ones drain.
 */
static int pods_terminate(struct lab *lab, const struct batch *b)
{
	bool any = false;
	struct lab_svc_list l;
	int err;

	err = lab_svc_list_load(lab, &l);
	for (size_t i = 0; !err && l.n && i < b->nobjs; i++) {
		const struct k8s_object *o = b->objs[i];
		struct lab_pod *p = o->kind == K8S_POD ? lab_pod_find(lab, o->meta.ns, o->meta.name) : NULL;

		if (p && (p->ip[0] || p->ip6[0]))
			any = p->terminating = true;
	}
	lab_svc_list_free(&l);
	return err ? err : any ? lab_services_sync(lab, true) : 0;
}

static int lab_delete_one(struct lab *lab, const struct k8s_object *o, long long grace,
			   bool *changed)
{
	struct lab_slice_list sl = {};
	struct lab_svc_list vl = {};
	struct lab_pod *p;
	char path[PATH_MAX];
	bool did = false;
	int err = 0, r;

	if (o->kind != K8S_SERVICE && o->kind != K8S_ENDPOINTSLICE)
		lab_object_file(lab, o->kind, o->meta.ns, o->meta.name, path, sizeof(path));
	switch (o->kind) {
	case K8S_SERVICE:
		r = lab_svc_delete(lab, o->meta.ns, o->meta.name);
		break;
	case K8S_ENDPOINTSLICE:
		r = lab_slice_delete(lab, o->meta.ns, o->meta.name);
		break;
	case K8S_POD:
		p = lab_pod_find(lab, o->meta.ns, o->meta.name);
		if (p)
			return pod_delete_graceful(lab, p, grace, changed);
		r = lab_object_unlink(path);
		break;
	case K8S_NAMESPACE:
		/* Like the namespace controller: everything in it goes too. */
		for (size_t i = lab->npods; i-- > 0;)
			if (!strcmp(lab->pods[i].ns, o->meta.name) &&
			    pod_delete(lab, &lab->pods[i], &did))
				err = -EIO;
		if (ns_objects_delete(lab, "pod", o->meta.name, &did) ||
		    ns_objects_delete(lab, "networkpolicy", o->meta.name, &did) ||
		    lab_svc_list_load(lab, &vl) ||
		    ns_list_delete(lab, o->meta.name, "service", vl.v, vl.n, lab_svc_delete, &did) ||
		    lab_slice_list_load(lab, &sl) ||
		    ns_list_delete(lab, o->meta.name, "endpointslice", sl.v, sl.n, lab_slice_delete,
				   &did))
			err = -EIO;
		lab_svc_list_free(&vl);
		lab_slice_list_free(&sl);
		*changed |= did;
		r = lab_object_unlink(path);
		/* A namespace never applied, but its pods were: that is a delete too. */
		if (r == 0 && did)
			return err;
		break;
	default:
		r = lab_object_unlink(path);
		break;
	}
	if (r < 0)
		return r;
	if (r == 0) {
		/* Deleting what is not there reaches the wanted state: say so, do not fail. */
		return said(err, "lab delete: %s %s%s%s not found\n", kind_word(o->kind),
			    o->meta.ns ? o->meta.ns : "", o->meta.ns ? "/" : "", o->meta.name);
	}
	*changed = true;
	printf("%s %s%s%s deleted\n", kind_word(o->kind), o->meta.ns ? o->meta.ns : "",
	       o->meta.ns ? "/" : "", o->meta.name);
	return err;
}


/*
 * Nodes are the lab's own (lab up --nodes N makes them, with their netns and
 * agent): a manifest can only take a node's object out of the cluster state
 * and put it back. What the node owns (its pod CIDR, its address) cannot change.
 */
static int node_validate(struct lab *lab, const struct k8s_object *o, const char *src,
			 const char *verb)
{
	const struct lab_node *n = lab_node_find(lab, o->meta.name);
	char a[INET_ADDRSTRLEN], cidr[INET_ADDRSTRLEN + 4], a6[LAB_ADDR6_LEN], a6x[INET6_ADDRSTRLEN];
	struct in6_addr ip6;
	struct in_addr ip;

	if (!n)
		return said(-EINVAL,
			    "lab %s: %s: Node %s: not a lab node (n1..n%zu); the lab's nodes are "
				    "its own (lab up --nodes N)\n",
			    verb, src, o->meta.name, lab->nnodes);
	if (strcmp(verb, "apply"))
		return 0;
	if (o->node.pod_cidr_len) {
		xcni_cidr_str(AF_INET, &o->node.pod_cidr, o->node.pod_cidr_len, cidr, sizeof(cidr));
		if (strcmp(cidr, n->cidr))
			return said(-EINVAL,
				    "lab apply: %s: Node %s: spec.podCIDR: %s, but the node's pods "
					    "are in %s (it cannot change)\n",
				    src, n->name, cidr, n->cidr);
	}
	/* An ipv6 lab's node (or an --ipv6-only-nodes one) has no IPv4 underlay
	 * address (n->ip only numbers it). */
	if (o->node.internal_ip && lab_node_ul6only(lab, n)) {
		inet_ntop(AF_INET, &o->node.internal_ip, a, sizeof(a));
		return said(-EINVAL, "lab apply: %s: Node %s: status.addresses: InternalIP %s, but "
			    "the %s underlay is IPv6 alone (node address %s; it cannot change)\n",
			    src, n->name, a, lab_ul_v6only(lab) ? "lab's" : "node's",
			    lab_node_addr(lab, n, a6, sizeof(a6)));
	}
	if (!IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)o->node.internal_ip6) &&
	    (lab_node_ip6(lab, n, a6, sizeof(a6)) || inet_pton(AF_INET6, a6, &ip6) != 1 ||
	     memcmp(&ip6, o->node.internal_ip6, sizeof(ip6)))) {
		inet_ntop(AF_INET6, o->node.internal_ip6, a6x, sizeof(a6x));
		return said(-EINVAL, "lab apply: %s: Node %s: status.addresses: InternalIP %s, but "
			    "the node's IPv6 underlay address is %s (it cannot change)\n", src,
			    n->name, a6x, *a6 ? a6 : "none");
	}
	if (o->node.internal_ip && (inet_pton(AF_INET, n->ip, &ip) != 1 ||
				    ip.s_addr != o->node.internal_ip)) {
		inet_ntop(AF_INET, &o->node.internal_ip, a, sizeof(a));
		return said(-EINVAL, "lab apply: %s: Node %s: status.addresses: InternalIP %s, but "
			    "the node's underlay address is %s (it cannot change)\n", src, n->name,
			    a, n->ip);
	}
	return 0;
}

/* The namespaces the API server makes itself: there before any manifest names them. */
static bool ns_builtin(const char *ns)
{
	static const char *const builtin[] = { "default", "kube-system", "kube-public",
					       "kube-node-lease" };

	for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
		if (!strcmp(ns, builtin[i]))
			return true;
	return false;
}

/*
 * The API server refuses a namespaced object whose Namespace does not exist;
 * one applied in the same batch counts (apply writes Namespaces first, as
 * kubectl orders them).
 */
static bool ns_exists(struct lab *lab, const struct batch *b, const char *ns)
{
	char path[PATH_MAX];

	if (ns_builtin(ns))
		return true;
	for (size_t i = 0; i < b->nobjs; i++)
		if (b->objs[i]->kind == K8S_NAMESPACE && !strcmp(b->objs[i]->meta.name, ns))
			return true;
	lab_object_file(lab, K8S_NAMESPACE, NULL, ns, path, sizeof(path));
	return !access(path, F_OK);
}

/*
 * A finished pod (status.phase Succeeded or Failed) is one the lab ran:
 * applied so, it ends (pod_finish); applied so again, nothing changes. It
 * never runs again: a pod of that name is applied only after lab delete.
 */
static int pod_finished_validate(const struct lab *lab, const struct k8s_object *o,
				 const struct lab_pod *p, const char *src)
{
	enum k8s_pod_phase was = p ? K8S_POD_PHASE_UNSET : finished_phase(lab, o->meta.ns, o->meta.name);

	if (k8s_pod_finished(&o->pod) && !p && was != o->pod.phase) {
		if (was)
			fprintf(stderr, "lab apply: %s: Pod %s/%s: status.phase: %s, but it finished "
					"%s (a finished pod's phase does not change)\n",
				src, o->meta.ns, o->meta.name, k8s_pod_phase_name(o->pod.phase),
				k8s_pod_phase_name(was));
		else
			fprintf(stderr, "lab apply: %s: Pod %s/%s: status.phase: %s, but the lab runs "
					"no such pod (only a running pod can finish: apply it without "
					"status.phase first)\n",
				src, o->meta.ns, o->meta.name, k8s_pod_phase_name(o->pod.phase));
		return -EINVAL;
	}
	if (!k8s_pod_finished(&o->pod) && was)
		return said(-EINVAL,
			    "lab apply: %s: Pod %s/%s: it finished (%s) and does not run again: "
				    "lab delete it first\n",
			    src, o->meta.ns, o->meta.name, k8s_pod_phase_name(was));
	return 0;
}

/* What the API server would refuse about this lab, before anything changes. */
static int lab_validate(struct lab *lab, const struct batch *b, const char *verb)
{
	int err = 0;

	for (size_t i = 0; i < b->nobjs; i++) {
		const struct k8s_object *o = b->objs[i];
		const struct lab_pod *p;

		if (o->meta.ns && !strcmp(verb, "apply") && !ns_exists(lab, b, o->meta.ns)) {
			err = said(-EINVAL, "lab apply: %s: %s %s/%s: metadata.namespace: "
				   "namespace \"%s\" not found\n", b->obj_src[i],
				   k8s_kind_name(o->kind), o->meta.ns, o->meta.name, o->meta.ns);
		}
		if (o->kind == K8S_NODE && node_validate(lab, o, b->obj_src[i], verb))
			err = -EINVAL;
		if (o->kind == K8S_SERVICE && !strcmp(verb, "apply") &&
		    lab_svc_validate(lab, o, b->obj_src[i]))
			err = -EINVAL;
		if (o->kind == K8S_ENDPOINTSLICE && lab_slice_validate(lab, o, b->obj_src[i], verb))
			err = -EINVAL;
		if (o->kind != K8S_POD || strcmp(verb, "apply"))
			continue;
		if (pod_grace_raw(o) < 0 || pod_grace_raw(o) > LAB_GRACE_MAX) {
			err = said(-EINVAL, "lab apply: %s: Pod %s/%s: "
				   "spec.terminationGracePeriodSeconds: must be an integer from 0 "
				   "to %d (the lab's bound)\n", b->obj_src[i], o->meta.ns,
				   o->meta.name, LAB_GRACE_MAX);
		}
		if (o->pod.node_name && !lab_node_find(lab, o->pod.node_name)) {
			err = said(-EINVAL, "lab apply: %s: Pod %s/%s: spec.nodeName: %s is not a "
				   "lab node (n1..n%zu)\n", b->obj_src[i], o->meta.ns, o->meta.name,
				   o->pod.node_name, lab->nnodes);
		}
		p = lab_pod_find(lab, o->meta.ns, o->meta.name);
		if (pod_finished_validate(lab, o, p, b->obj_src[i]))
			err = -EINVAL;
		/* Unless its grace period ended: the reap before the apply removes it. */
		if (p && p->term_until && p->term_until > (long long)time(NULL)) {
			err = said(-EINVAL, "lab apply: %s: Pod %s/%s: is terminating (%llds left "
				   "of its grace period): lab delete --now, or wait\n",
				   b->obj_src[i], o->meta.ns, o->meta.name,
				   p->term_until - (long long)time(NULL));
		}
		if (p && p->host_network != o->pod.host_network) {
			err = said(-EINVAL, "lab apply: %s: Pod %s/%s: spec.hostNetwork: the pod "
				   "runs %s; the field is immutable (delete the pod first)\n",
				   b->obj_src[i], o->meta.ns, o->meta.name,
				   p->host_network ? "in its node's netns" :
				   "in a netns of its own");
		}
		if (p && o->pod.node_name && strcmp(p->node, o->pod.node_name)) {
			err = said(-EINVAL, "lab apply: %s: Pod %s/%s: spec.nodeName: the pod runs "
				   "on %s; the field is immutable (delete the pod first)\n",
				   b->obj_src[i], o->meta.ns, o->meta.name, p->node);
		}
	}
	return err;
}

/* lab apply's options, and lab delete's (--now, --grace-period too). */
const struct pt_opt lab_apply_opts[] = {
	{ "filename", 'f', true, 'f', 0, "FILE|DIR|-", "manifests (repeatable)" },
	{ "help", 'h', false, 'h', 0, NULL, "this text" },
	{}
};
const struct pt_opt lab_delete_opts[] = {
	{ "filename", 'f', true, 'f', 0, "FILE|DIR|-", "manifests (repeatable)" },
	{ "now", 0, false, 'n', 0, NULL, "no grace period (--grace-period 0)" },
	{ "grace-period", 0, true, 'g', 0, "SECONDS", "instead of the pod's" },
	{ "help", 'h', false, 'h', 0, NULL, "this text" },
	{}
};

/* -f FILE... into files, --now or --grace-period into *grace: -1 to go on, else the exit code. */
static int apply_parse(int argc, char **argv, bool apply, const char **files, size_t *nfiles,
		       long long *grace)
{
	const struct pt_opt *opts = apply ? lab_apply_opts : lab_delete_opts;
	const char *syn = apply ? "lab apply -f FILE|DIR|- [-f ...]" :
				  "lab delete -f FILE|DIR|- [-f ...] [--now | --grace-period S]";
	long v;
	int c;

	optind = 0;
	while ((c = pt_getopt(argc, argv, opts, false, NULL)) != -1) {
		switch (c) {
		case 'f': files[(*nfiles)++] = optarg; break;
		case 'n': *grace = 0; break;
		case 'g':
			if (lab_num(optarg, 0, LAB_GRACE_MAX, &v)) {
				fprintf(stderr, "lab delete: --grace-period %s: want 0 to %d seconds\n",
					optarg, LAB_GRACE_MAX);
				goto bad_usage;
			}
			*grace = v;
			break;
		case 'h': return pt_usage(stdout, syn, opts);
		default: goto bad_usage;
		}
	}
	if (*nfiles && optind >= argc)
		return -1;
bad_usage:
	return pt_usage(stderr, syn, opts);
}

/* The batch applied (or deleted) on the locked lab, kind by kind: 0, or 1 (said). */
static int apply_batch(struct lab *lab, const struct batch *b, bool apply, long long grace)
{
	/* Apply in this order, delete in the reverse one (a node is back before its pods). */
	static const enum k8s_kind order[] = { K8S_NODE, K8S_NAMESPACE, K8S_POD,
					       K8S_NETWORKPOLICY, K8S_CLUSTERNETPOL,
					       K8S_SERVICE, K8S_ENDPOINTSLICE };
	bool changed = false;
	int ret = 0;

	if (pods_reap(lab, &changed))
		ret = 1;
	if (!apply && pods_terminate(lab, b))
		ret = 1;
	for (size_t k = 0; k < ARRAY_SIZE(order); k++) {
		enum k8s_kind kind = order[apply ? k : ARRAY_SIZE(order) - 1 - k];

		for (size_t i = 0; i < b->nobjs; i++) {
			const struct k8s_object *o = b->objs[apply ? i : b->nobjs - 1 - i];

			if (o->kind != kind)
				continue;
			if (apply ? lab_apply_one(lab, o, &changed) :
				    lab_delete_one(lab, o, grace, &changed))
				ret = 1;
		}
	}
	/* kube-proxy follows Services and their endpoints (pods come and go, labels change). */
	if (lab_services_sync(lab, changed))
		ret = 1;
	return ret;
}

/*
 * b, loaded (err: a file could not be), validated and applied (or deleted) on
 * the locked lab, then freed: 0, or 1 (said; nothing changed on an error).
 */
static int batch_run(struct batch *b, int err, bool apply, long long grace)
{
	struct lab lab;
	int ret = 1;

	if (err || b->err)
		fprintf(stderr, "lab %s: nothing changed\n", b->verb);
	else if (!lab_open(&lab, true)) {
		if (lab_validate(&lab, b, b->verb))
			fprintf(stderr, "lab %s: nothing changed\n", b->verb);
		else
			ret = apply_batch(&lab, b, apply, grace);
		lab_close(&lab);
	}
	batch_free(b);
	return ret;
}

static int apply_or_delete(int argc, char **argv, bool apply)
{
	long long grace = -1; /* the pod's */
	struct batch b = { .verb = apply ? "apply" : "delete" };
	const char **files = calloc((size_t)argc + 1, sizeof(*files));
	size_t nfiles = 0;
	int ret, err = 0;

	if (!files)
		return 1;
	ret = apply_parse(argc, argv, apply, files, &nfiles, &grace);
	/* Load and validate everything before taking the lock: nothing changes on an error. */
	for (size_t i = 0; ret < 0 && i < nfiles; i++)
		if (load_arg(&b, files[i]))
			err = -EINVAL;
	if (ret < 0)
		ret = batch_run(&b, err, apply, grace);
	free(files);
	return ret;
}

int lab_apply_doc(const char *name, const char *doc, bool apply)
{
	struct batch b = { .verb = apply ? "apply" : "delete" };

	return batch_run(&b, batch_add_text(&b, name, doc, strlen(doc)), apply, 0);
}

int lab_cmd_apply(int argc, char **argv)
{
	return apply_or_delete(argc, argv, true);
}

int lab_cmd_delete(int argc, char **argv)
{
	return apply_or_delete(argc, argv, false);
}

int lab_services_sync(struct lab *lab, bool changed)
{
	int err = 0, r;

	/*
	 * The Services (and with kube-proxy none their slices) join the cluster
	 * state before the sync token, so every agent applies pods, policy and
	 * Services as one generation.
	 */
	err = lab_slices_sync(lab, &changed);
	if (!changed)
		return err;
	r = lab_sync(lab);
	err = err ? err : r;
	/* iptables: kube-proxy's rules once the agents have the pods (even if one lags). */
	if (!lab->kube_proxy_none) {
		r = lab_kube_proxy_sync(lab);
		err = err ? err : r;
	}
	r = lab_dns_sync(lab);
	return err ? err : r;
}
