// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl connectivity test --kubeconfig, the cluster's side (conntest_k8s.c
 * says how the run goes): the nodes, the image, the agents and the DNS
 * Service found; the probe namespace created object by object, waited for
 * Ready, and deleted, pods first with grace 0.
 */
#include <errno.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "ctl/conntest_k8s.h"
#include "lib/cluster/k8sagents.h"
#include "lib/cluster/k8sobj.h"

const char *const ck_pod_names[P_N] = { "client", "stranger", "echo-same", "echo-other",
					"guarded" };

/*
 * A request whose answer must be one of the statuses wanted (200 always):
 * the status, or -EIO said with what (the server's message, or why there
 * was no answer). r is the caller's to free when the status is returned.
 */
static int ck_req(struct ck *k, const char *method, const char *path, json_t *body, long ms,
		  const char *what, struct k8s_resp *r, int ok2, int ok3)
{
	int ret = k8s_request(&k->conf, method, path, body, ms, r);

	if (!ret && (r->status == 200 || r->status == 201 || r->status == 202 ||
		     r->status == ok2 || r->status == ok3))
		return (int)r->status;
	fprintf(stderr, "connectivity test: %s: %s %s: %s\n", what, method, path,
		ret && !r->err[0] ? strerror(-ret) : r->err);
	k8s_resp_free(r);
	return -EIO;
}

/* Whether o's status.conditions has TYPE True. */
static bool cond_true(const json_t *o, const char *type)
{
	const json_t *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(o, "status"), "conditions"), i, c)
		if (!strcmp(jstr(c, "type"), type))
			return !strcmp(jstr(c, "status"), "True");
	return false;
}

static bool node_usable(const json_t *n)
{
	const json_t *t, *spec = json_object_get(n, "spec");
	size_t i;

	if (json_is_true(json_object_get(spec, "unschedulable")) || !cond_true(n, "Ready"))
		return false;
	json_array_foreach(json_object_get(spec, "taints"), i, t)
		if (!strcmp(jstr(t, "effect"), "NoSchedule") || !strcmp(jstr(t, "effect"), "NoExecute"))
			return false;
	return true;
}

static void node_fill(struct ck_node *cn, const json_t *n)
{
	const json_t *a;
	size_t i;

	memset(cn, 0, sizeof(*cn));
	snprintf(cn->name, sizeof(cn->name), "%s", jstr(json_object_get(n, "metadata"), "name"));
	json_array_foreach(json_object_get(json_object_get(n, "status"), "addresses"), i, a) {
		const char *ip = jstr(a, "address");
		int f = fam_idx(ip);

		if (!strcmp(jstr(a, "type"), "InternalIP") && *ip && !cn->ip[f][0])
			snprintf(cn->ip[f], sizeof(cn->ip[f]), "%s", ip);
	}
}

int ck_nodes(struct ck *k)
{
	const struct lab_ct_opts *o = k->o;
	struct k8s_resp r;
	const json_t *items, *n;
	size_t i, found = 0;
	int ret = 0;

	if (ck_req(k, "GET", "/api/v1/nodes", NULL, CK_REQ_MS, "listing the nodes", &r, 0, 0) < 0)
		return -EIO;
	items = json_object_get(r.body, "items");
	if (o->nnodes) {
		for (size_t w = 0; w < o->nnodes; w++) {
			bool got = false;

			json_array_foreach(items, i, n) {
				if (strcmp(jstr(json_object_get(n, "metadata"), "name"), o->nodes[w]))
					continue;
				got = true;
				if (!cond_true(n, "Ready")) {
					ret = said(-EINVAL, "connectivity test: --node %s: the "
						   "node is not Ready\n", o->nodes[w]);
				}
				node_fill(&k->node[w], n);
			}
			if (!got) {
				ret = said(-EINVAL, "connectivity test: --node %s: the cluster has "
					   "no such node (kubectl get nodes)\n", o->nodes[w]);
			}
		}
		found = o->nnodes;
	} else {
		json_array_foreach(items, i, n)
			if (found < 2 && node_usable(n))
				node_fill(&k->node[found++], n);
		if (!found) {
			ret = said(-EINVAL, "connectivity test: the cluster has no Ready node "
				   "without a NoSchedule taint (--node NAME chooses one)\n");
		}
	}
	if (!ret && found == 1)
		k->node[1] = k->node[0];
	k->two = !ret && strcmp(k->node[0].name, k->node[1].name);
	k8s_resp_free(&r);
	return ret;
}

/* The xcni DaemonSet's image (unless --image), and its agent pod on each of our nodes. */
int ck_agents(struct ck *k)
{
	const json_t *c, *p, *cs;
	struct k8s_agent *ka = NULL;
	struct k8s_resp r;
	char err[400];
	size_t i, nka = 0;
	int st;

	st = ck_req(k, "GET", "/apis/apps/v1/namespaces/" CK_DS_NS "/daemonsets/" CK_DS, NULL,
		    CK_REQ_MS, "reading the xcni DaemonSet", &r, 404, 0);
	if (st < 0)
		return -EIO;
	if (st == 404) {
		k8s_resp_free(&r);
		if (!k->o->image_set)
			return said(-ENOENT, "connectivity test: no DaemonSet " CK_DS_NS "/" CK_DS
				    " (is xcni installed? --image IMAGE names the probe pods' "
				    "image without it)\n");
		fprintf(stderr, "connectivity test: no DaemonSet " CK_DS_NS "/" CK_DS
				": no node's drops are watched\n");
	} else {
		cs = json_object_get(json_object_get(json_object_get(json_object_get(r.body, "spec"),
								     "template"), "spec"),
				     "containers");
		p = json_array_get(cs, 0);
		json_array_foreach(cs, i, c)
			if (!strcmp(jstr(c, "name"), CK_AGENT_CONTAINER))
				p = c;
		if (!k->o->image_set) {
			if (!*jstr(p, "image")) {
				fprintf(stderr, "connectivity test: DaemonSet " CK_DS_NS "/" CK_DS
						": no container image (--image IMAGE)\n");
				k8s_resp_free(&r);
				return -EINVAL;
			}
			snprintf(k->image, sizeof(k->image), "%s", jstr(p, "image"));
			snprintf(k->pull, sizeof(k->pull), "%s", jstr(p, "imagePullPolicy"));
		}
		k8s_resp_free(&r);
	}
	if (k->o->image_set)
		snprintf(k->image, sizeof(k->image), "%s", k->o->image);
	/* The agents as xcnictl flows --kubeconfig finds them (one way to find them). */
	if (k8s_agents_list(&k->conf, NULL, NULL, CK_REQ_MS, &ka, &nka, err, sizeof(err)))
		return said(-EIO, "connectivity test: listing the xcni agents: %s\n", err);
	for (i = 0; i < nka; i++) {
		const struct k8s_agent *a = &ka[i];
		bool ours = false;

		for (int n = 0; n < 1 + k->two; n++)
			if (a->pod[0] && a->ready && !strcmp(a->node, k->node[n].name)) {
				snprintf(k->node[n].agent, sizeof(k->node[n].agent), "%s", a->pod);
				ours = true;
			}
		/* Every running agent's flows (a Service's backend, the DNS pod may be
		 * on a third node), the test nodes' first when there are too many. */
		if (!a->pod[0] || strcmp(a->phase, "Running") || !a->addr[0] ||
		    (k->nflows >= CK_MAX_AGENTS / 2 && !ours) || k->nflows == CK_MAX_AGENTS)
			continue;
		{
			struct flows_agent *fa = &k->flows[k->nflows++];
			bool v6 = strchr(a->addr, ':');

			memset(fa, 0, sizeof(*fa));
			snprintf(fa->node, sizeof(fa->node), "%.63s", a->node);
			snprintf(fa->host, sizeof(fa->host), "%s%.64s%s", v6 ? "[" : "", a->addr,
				 v6 ? "]" : "");
			fa->port = FLOWS_TLS_PORT;
		}
	}
	free(ka);
	for (int n = 0; n < 1 + k->two; n++)
		if (!k->node[n].agent[0])
			fprintf(stderr, "connectivity test: node %s: no Ready xcni agent pod (" CK_DS_NS
					", " CK_AGENT_LABEL "): its drops are not watched\n",
				k->node[n].name);
	return 0;
}

/* The ClusterIPs of Service ns/name into ips[family]; the status. */
int ck_svc_ips(struct ck *k, const char *ns, const char *name, char ips[2][48],
	       json_t **spec_out)
{
	const json_t *spec, *a;
	struct k8s_resp r;
	char path[256], what[128];
	size_t i;
	int st;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/%s", ns, name);
	snprintf(what, sizeof(what), "reading Service %s/%s", ns, name);
	st = ck_req(k, "GET", path, NULL, CK_REQ_MS, what, &r, 404, 0);
	if (st == 404)
		k8s_resp_free(&r);
	if (st != 200)
		return st;
	spec = json_object_get(r.body, "spec");
	memset(ips, 0, 2 * sizeof(ips[0]));
	json_array_foreach(json_object_get(spec, "clusterIPs"), i, a)
		if (json_is_string(a) && !ips[fam_idx(json_string_value(a))][0])
			snprintf(ips[fam_idx(json_string_value(a))], 48, "%s", json_string_value(a));
	/* 1.19 and older: clusterIP alone. */
	if (!ips[0][0] && !ips[1][0] && *jstr(spec, "clusterIP") &&
	    strcmp(jstr(spec, "clusterIP"), "None"))
		snprintf(ips[fam_idx(jstr(spec, "clusterIP"))], 48, "%s", jstr(spec, "clusterIP"));
	if (spec_out)
		*spec_out = json_incref((json_t *)spec);
	k8s_resp_free(&r);
	return st;
}

/* 404: none; 200: there (*terminating set); -EIO said. */
int ck_ns_get(struct ck *k, bool *terminating)
{
	struct k8s_resp r;
	int st = ck_req(k, "GET", "/api/v1/namespaces/" CK_NS, NULL, CK_REQ_MS,
			"reading namespace " CK_NS, &r, 404, 0);

	if (st == 200)
		*terminating = !strcmp(jstr(json_object_get(r.body, "status"), "phase"), "Terminating");
	if (st == 200 || st == 404)
		k8s_resp_free(&r);
	return st;
}

/* Waits until the namespace is gone: 0, -ETIMEDOUT (said), -EIO. */
int ck_ns_wait_gone(struct ck *k, long long deadline)
{
	bool term;
	int st;

	while ((st = ck_ns_get(k, &term)) == 200) {
		if (xcni_mono_ms() > deadline)
			return said(-ETIMEDOUT,
				    "connectivity test: namespace " CK_NS " still there "
					    "(kubectl get ns " CK_NS ")\n");
		usleep(200 * 1000);
	}
	return st == 404 ? 0 : -EIO;
}

/*
 * The manifest of --manifest as JSON documents, adjusted for a cluster: the
 * NodePort the API server's to choose (a fixed one may be taken), the
 * DaemonSet's pull policy on the probe pods.
 */
static int ck_docs(struct ck *k, json_t ***docs, size_t *ndocs)
{
	struct k8s_error err = {};
	char *text = lab_conntest_manifest(k->node[0].name, k->node[1].name, k->image);
	json_t *d, *p;
	size_t i, j;
	int ret;

	if (!text)
		return -ENOMEM;
	ret = k8s_load_stream(text, strlen(text), docs, ndocs, &err);
	free(text);
	if (ret)
		return said(ret, "connectivity test: the probe manifest: %s\n", err.msg);
	for (i = 0; i < *ndocs; i++) {
		const char *kind = jstr((d = (*docs)[i]), "kind");
		json_t *spec = json_object_get(d, "spec");

		if (!strcmp(kind, "Service"))
			json_array_foreach(json_object_get(spec, "ports"), j, p)
				json_object_del(p, "nodePort");
		if (!strcmp(kind, "Pod") && k->pull[0])
			json_array_foreach(json_object_get(spec, "containers"), j, p)
				json_object_set_new(p, "imagePullPolicy", json_string(k->pull));
		/* No token volume: the probes never call the API server, and a
		 * secret volume is one more thing the kubelet sets up at the start
		 * and must tear down before it lets the pod go. */
		if (!strcmp(kind, "Pod"))
			json_object_set_new(spec, "automountServiceAccountToken", json_false());
	}
	return 0;
}

/*
 * POST, once more every 500 ms for up to CK_REQ_MS while the API server says
 * the namespace's default ServiceAccount (or its token) is not there yet: the
 * controller-manager makes them just after the namespace, and the
 * ServiceAccount admission plugin refuses a pod before that (HTTP 403 or 500).
 */
static int ck_post(struct ck *k, const char *path, json_t *doc, const char *what,
		   struct k8s_resp *r)
{
	long long deadline = xcni_mono_ms() + CK_REQ_MS;

	for (;;) {
		const char *m;
		int ret = k8s_request(&k->conf, "POST", path, doc, CK_REQ_MS, r);

		if (ret) {
			fprintf(stderr, "connectivity test: %s: POST %s: %s\n", what, path,
				r->err[0] ? r->err : strerror(-ret));
			k8s_resp_free(r);
			return -EIO;
		}
		if (r->status == 200 || r->status == 201 || r->status == 202 || r->status == 409)
			return (int)r->status;
		m = json_string_value(json_object_get(r->body, "message"));
		if ((r->status != 403 && r->status != 500) || !m || !strstr(m, "service account") ||
		    xcni_mono_ms() > deadline || xcni_stop) {
			fprintf(stderr, "connectivity test: %s: POST %s: %s\n", what, path, r->err);
			k8s_resp_free(r);
			return -EIO;
		}
		k8s_resp_free(r);
		usleep(CK_POLL_MS * 1000);
	}
}

/* Creates every object of the probe namespace; one that exists (--keep) is reused. */
int ck_deploy(struct ck *k, bool *created)
{
	json_t **docs = NULL;
	size_t ndocs = 0, made = 0, kept = 0;
	int ret;

	ret = ck_docs(k, &docs, &ndocs);
	if (ret)
		return ret;
	for (size_t i = 0; i < ndocs && !xcni_stop; i++) {
		char path[512], err[256], what[300];
		struct k8s_resp r;
		int st;

		ret = k8s_obj_path(docs[i], false, path, sizeof(path), err, sizeof(err));
		if (ret) {
			fprintf(stderr, "connectivity test: the probe manifest: %s\n", err);
			break;
		}
		snprintf(what, sizeof(what), "creating %s %s/%s", jstr(docs[i], "kind"), CK_NS,
			 jstr(json_object_get(docs[i], "metadata"), "name"));
		st = ck_post(k, path, docs[i], what, &r);
		if (st < 0) {
			ret = -EIO;
			break;
		}
		/* The namespace is ours to delete once the server has it. */
		*created = true;
		st == 409 ? kept++ : made++;
		k->made |= st != 409;
		k8s_resp_free(&r);
	}
	k8s_docs_free(docs, ndocs);
	if (!ret && !xcni_stop)
		printf("connectivity test: %zu objects created, %zu kept from an earlier run\n", made,
		       kept);
	return xcni_stop ? -EINTR : ret;
}

/* Why pod p is not Ready: its phase and its containers' waiting reasons. */
static void pod_why(const json_t *p, char *buf, size_t len)
{
	const json_t *st = json_object_get(p, "status"), *c;
	size_t i, off;

	off = (size_t)snprintf(buf, len, "%s", *jstr(st, "phase") ? jstr(st, "phase") : "no status");
	json_array_foreach(json_object_get(st, "containerStatuses"), i, c) {
		const json_t *w = json_object_get(json_object_get(c, "state"), "waiting");

		if (w && off < len)
			off += (size_t)snprintf(buf + off, len - off, ", %s: %s%s%s", jstr(c, "name"),
						jstr(w, "reason"), *jstr(w, "message") ? ": " : "",
						jstr(w, "message"));
	}
}

int ck_wait_ready(struct ck *k, long long deadline)
{
	char path[256];
	bool ready[P_N] = {};
	json_t *last = NULL;

	for (;;) {
		struct k8s_resp r;
		const json_t *p, *a;
		size_t i, n = 0;

		if (ck_req(k, "GET", "/api/v1/namespaces/" CK_NS "/pods", NULL, CK_REQ_MS,
			   "listing the probe pods", &r, 0, 0) < 0)
			return -EIO;
		json_array_foreach(json_object_get(r.body, "items"), i, p) {
			const char *name = jstr(json_object_get(p, "metadata"), "name");

			for (int w = 0; w < P_N; w++) {
				if (strcmp(name, ck_pod_names[w]))
					continue;
				ready[w] = cond_true(p, "Ready");
				memset(k->pod_ip[w], 0, sizeof(k->pod_ip[w]));
				json_array_foreach(json_object_get(json_object_get(p, "status"), "podIPs"), n, a)
					snprintf(k->pod_ip[w][fam_idx(jstr(a, "ip"))], 48, "%s", jstr(a, "ip"));
			}
		}
		json_decref(last);
		last = json_incref(r.body);
		k8s_resp_free(&r);
		n = 0;
		for (int w = 0; w < P_N; w++)
			n += ready[w];
		if (n == P_N)
			break;
		if (xcni_stop || xcni_mono_ms() > deadline) {
			if (!xcni_stop)
				fprintf(stderr, "connectivity test: the probe pods not Ready within %d s "
						"(--ready-timeout):\n", k->o->ready_timeout_s);
			for (int w = 0; w < P_N && !xcni_stop; w++) {
				char why[512] = "not created";

				json_array_foreach(json_object_get(last, "items"), i, p)
					if (!strcmp(jstr(json_object_get(p, "metadata"), "name"),
						    ck_pod_names[w]))
						pod_why(p, why, sizeof(why));
				if (!ready[w])
					fprintf(stderr, "  pod %s/%s: %s\n", CK_NS, ck_pod_names[w], why);
			}
			json_decref(last);
			return xcni_stop ? -EINTR : -ETIMEDOUT;
		}
		usleep(CK_POLL_MS * 1000);
	}
	json_decref(last);
	for (int f = 0; f < 2; f++)
		if (k->pod_ip[P_CLIENT][f][0])
			k->fams |= f ? LAB_FAM_V6 : LAB_FAM_V4;
	/* The Services: their addresses, the NodePort, and echo's endpoints there. */
	{
		json_t *spec = NULL;
		char np_ips[2][48];

		if (ck_svc_ips(k, CK_NS, "echo", k->svc_ip, NULL) != 200 ||
		    ck_svc_ips(k, CK_NS, "echo-np", np_ips, &spec) != 200)
			return -EIO;
		k->nodeport = (unsigned int)json_integer_value(
			json_object_get(json_array_get(json_object_get(spec, "ports"), 0), "nodePort"));
		json_decref(spec);
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/" CK_NS "/endpoints/echo");
	for (;;) {
		struct k8s_resp r;
		const json_t *s;
		size_t i, n = 0;

		if (ck_req(k, "GET", path, NULL, CK_REQ_MS, "reading Endpoints " CK_NS "/echo", &r,
			   404, 0) < 0)
			return -EIO;
		json_array_foreach(json_object_get(r.body, "subsets"), i, s)
			n += json_array_size(json_object_get(s, "addresses"));
		k8s_resp_free(&r);
		if (n)
			return 0;
		if (xcni_stop)
			return -EINTR;
		if (xcni_mono_ms() > deadline)
			return said(-ETIMEDOUT, "connectivity test: Service " CK_NS "/echo has no "
				    "ready endpoint within %d s\n", k->o->ready_timeout_s);
		usleep(CK_POLL_MS * 1000);
	}
}

/*
 * The pods first, with grace period 0, waited for until the API server has
 * none, then the namespace, waited for until it is gone: 0, or -errno
 * (said). Why (kube-controller-manager 1.20, pkg/controller/namespace): the
 * namespace controller acts on a namespace event only 5 s after it
 * (namespaceDeletionGracePeriod: the floor, ~5 s here); a pass that finds
 * pods left with no grace time to wait for fails, and the namespace is
 * tried again after a doubling back-off of up to 60 s. Graceful pods (the
 * kubelet must stop them and confirm; slow under load) made it 20 s here and
 * up to 75 s under load; deleted with grace 0 the API server lets them go at
 * once and the first pass finds none. Their kubelets stop them afterwards.
 */
int ck_cleanup(struct ck *k)
{
	/* Pods that never started (an image that cannot be pulled) take longer to go. */
	long long t0 = xcni_mono_ms(),
		  deadline = t0 + (long long)(k->o->ready_timeout_s > CK_GONE_S ? k->o->ready_timeout_s :
						CK_GONE_S) * 1000, tp;
	struct k8s_resp r;
	int st;

	/* Grace 0: the pod objects go at once; their kubelets stop the containers
	 * and tear down their sandboxes afterwards, as for a forced delete. */
	st = ck_req(k, "DELETE", "/api/v1/namespaces/" CK_NS "/pods?gracePeriodSeconds=0", NULL,
		    CK_REQ_MS, "deleting the probe pods", &r, 403, 404);
	if (st == 200) {
		k8s_resp_free(&r);
		for (;;) {
			size_t n;

			if (ck_req(k, "GET", "/api/v1/namespaces/" CK_NS "/pods", NULL, CK_REQ_MS,
				   "listing the probe pods", &r, 0, 0) < 0)
				break;
			n = json_array_size(json_object_get(r.body, "items"));
			k8s_resp_free(&r);
			if (!n || xcni_mono_ms() > deadline)
				break;
			usleep(CK_POLL_MS * 1000);
		}
	} else if (st > 0) {
		/* Not allowed to delete a collection, or no namespace: its deletion does it. */
		k8s_resp_free(&r);
	}
	tp = xcni_mono_ms();
	st = ck_req(k, "DELETE", "/api/v1/namespaces/" CK_NS, NULL, CK_REQ_MS,
		    "deleting namespace " CK_NS, &r, 404, 409);
	if (st < 0)
		return st;
	k8s_resp_free(&r);
	st = ck_ns_wait_gone(k, deadline);
	if (!st)
		printf("connectivity test: namespace " CK_NS " deleted and gone (%.1f s: the pods "
		       "%.1f s, then the namespace %.1f s)\n", (double)(xcni_mono_ms() - t0) / 1000,
		       (double)(tp - t0) / 1000, (double)(xcni_mono_ms() - tp) / 1000);
	return st;
}
