// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl connectivity test --kubeconfig FILE | --in-cluster: the lab's table
 * (user/lab/conntest.c, the same names and expectations) run in a cluster,
 * through its API server alone (user/lib/cluster/k8sreq.h), as `cilium
 * connectivity test` does for kind:
 *
 *   1. the nodes (--node, else the first two Ready ones without a NoSchedule
 *      taint), the probe pods' image (--image, else the xcni DaemonSet's),
 *      the agents (k8s_agents_list, as xcnictl flows --kubeconfig finds
 *      them), the DNS Service and the kubernetes Service (what DNS answers);
 *   2. the probe namespace of `--manifest` (one text for both), read with the
 *      project's YAML loader and POSTed object by object; the NodePort left
 *      to the API server; a namespace kept by --keep is reused;
 *   3. the pods waited for Ready, the Service for its endpoints;
 *   4. each test: the probe, then the flow records of its connections (or
 *      the agents' drop counters before and after it);
 *   5. the pods deleted with grace 0, the Services and their endpoints,
 *      then the namespace, waited for until it is gone, also after a
 *      failure, SIGINT or SIGTERM.
 *
 * How a probe runs inside a pod: the kubelet's run endpoint through the API
 * server's node proxy, POST /api/v1/nodes/NODE/proxy/run/NS/POD/CONTAINER
 * ?cmd=..., which execs the command in the container (CRI ExecSync) and
 * answers its output in the HTTP response: one request, no streaming. The
 * command is `xcnictl connectivity probe` (the probe pods run the xcni image,
 * which has xcnictl), one JSON line. Measured against the alternatives
 * (docs/kind.md): the API server's pod proxy needs the API server to reach
 * pod addresses (kind's control plane is a node and can; tests/k8s's runs
 * in a netns of its own with no route to the pods, and xcni drops a pod
 * address coming from a host of the underlay that is not a node); one-shot
 * probe pods cost a pod start per probe (seconds); exec needs a websocket or
 * SPDY upgrade that Debian 12's libcurl does not speak. The run endpoint
 * needs RBAC `nodes/proxy` (create) for whoever runs the test.
 *
 * Drops, from the flow records of the run: every agent is asked over mTLS
 * (flowsnet.h, --tls DIR: the client certificate of the cluster-wide flows
 * view) for the records with an end in the probe namespace since the test's
 * last attempt began; a connection's records of several nodes are merged
 * (flows_merge_conn, as xcnictl flows --kubeconfig merges them); the test's
 * are those of its probe pod to the probed address and port (or, through a
 * Service, the backend). A denied one is a drop of the test, named with its
 * node, reason and isolating policy, and a failure prints every record of the
 * test: what explains it. Drops of other pods on the node do not count.
 * Without a client certificate, or when a test node's agent serves no flows,
 * the run says so and falls back to the counters: each node's agent pod runs
 * `xcnictl metrics --json` through the run endpoint before and after each
 * probe, and the drop-* rows that grew are the test's (the whole node's).
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

#include "ctl.h"
#include "lab/conntest.h"
#include "lib/cluster/k8s.h"
#include "lib/cluster/k8sagents.h"
#include "lib/cluster/k8sobj.h"
#include "lib/cluster/k8sreq.h"
#include "lib/observe/flows.h"
#include "lib/observe/flowsnet.h"

#define CK_NS LAB_CONNTEST_NS
#define CK_DS_NS "kube-system"
#define CK_DS "xcni"
#define CK_AGENT_LABEL "app.kubernetes.io/name=xcni"
#define CK_AGENT_CONTAINER "xcnid"
#define CK_DNS_SVC "kube-dns"
#define CK_DOMAIN "cluster.local"
/* One API request (a probe's adds its own timeout). */
#define CK_REQ_MS 15000
/* After creating objects, a test that must connect is tried again for this long (the agents learn the pods). */
#define CK_SETTLE_MS 10000
#define CK_POLL_MS 500
/* The namespace's removal is waited for at least this long (--ready-timeout if longer). */
#define CK_GONE_S 180
/* The agents whose flows are read, at most (beyond: the two test nodes' only). */
#define CK_MAX_AGENTS 32
/* One agent's flows request (its own timeout), seconds. */
#define CK_FLOWS_S 5
/* A blocked probe's drop record is waited for this long (the agent's ring-buffer reader). */
#define CK_FLOWS_WAIT_MS 3000
/*
 * A record is a test's when its first packet was seen at most this long
 * before the test's (last) attempt began: the agents' clocks and ours (NTP
 * keeps a cluster's within it), and never as far back as an earlier attempt
 * (CK_POLL_MS and a probe apart).
 */
#define CK_CLOCK_SLACK_MS 400
#define CK_KUBE_NAME "kubernetes.default.svc." CK_DOMAIN

enum { P_CLIENT, P_STRANGER, P_ECHO_SAME, P_ECHO_OTHER, P_GUARDED, P_N };
static const char *const ck_pod_names[P_N] = { "client", "stranger", "echo-same", "echo-other",
					       "guarded" };

struct ck_node {
	char name[254];
	char ip[2][48]; /* InternalIP: [0] IPv4, [1] IPv6 */
	char agent[254]; /* its xcni pod, "" when it has none */
};

/* Where the drops of a test are read from. */
enum ck_judge { CK_BY_FLOWS, CK_BY_COUNTERS };

/* One node's drop counters: the drop-* rows of xcnictl metrics. */
struct ck_drops {
	json_t *rows[2]; /* [node]: {"REASON DIRECTION": packets} */
};

struct ck {
	const struct lab_ct_opts *o;
	struct k8s_api_conf conf;
	struct ck_node node[2];
	bool two;
	char image[512], pull[32];
	char pod_ip[P_N][2][48];
	char svc_ip[2][48], dns_ip[2][48];
	/* The kubernetes Service's ClusterIPs: what pod-to-dns must be answered. */
	char kube_ip[2][48];
	bool dns;
	/* The drops: from the flow records of every agent (flows[], over mTLS
	 * with tls), or, when that cannot be, each node's counters (why said). */
	enum ck_judge judge;
	char judge_why[1024];
	struct flows_agent flows[CK_MAX_AGENTS];
	size_t nflows;
	const char *tls;
	unsigned int nodeport, fams;
	/* Until then a test that must connect is tried again: the objects are
	 * new, the agents still learning them (0: all kept from a run before). */
	long long settle_until;
	bool made;
};

static volatile sig_atomic_t ck_stop;

static void ck_on_signal(int sig)
{
	(void)sig;
	ck_stop = 1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fam_idx(const char *addr)
{
	return strchr(addr, ':') ? 1 : 0;
}

/*
 * A request whose answer must be one of the statuses wanted (200 always):
 * the status, or -EIO said with what (the server's message, or why there
 * was no answer). r is the caller's to free when the status is returned.
 */
static int ck_req(struct ck *k, const char *method, const char *path, json_t *body, long ms,
		  const char *what, struct k8s_resp *r, int ok2, int ok3)
{
	int ret = k8s_request(&k->conf, method, path, body, ms, r);

	if (ret) {
		fprintf(stderr, "connectivity test: %s: %s %s: %s\n", what, method, path,
			r->err[0] ? r->err : strerror(-ret));
		k8s_resp_free(r);
		return -EIO;
	}
	if (r->status == 200 || r->status == 201 || r->status == 202 || r->status == ok2 ||
	    r->status == ok3)
		return (int)r->status;
	fprintf(stderr, "connectivity test: %s: %s %s: %s\n", what, method, path, r->err);
	k8s_resp_free(r);
	return -EIO;
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
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

/* ---- 1. the cluster: nodes, image, agents, DNS -------------------------------------- */

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

static int ck_nodes(struct ck *k)
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
					fprintf(stderr, "connectivity test: --node %s: the node is not Ready\n",
						o->nodes[w]);
					ret = -EINVAL;
				}
				node_fill(&k->node[w], n);
			}
			if (!got) {
				fprintf(stderr, "connectivity test: --node %s: the cluster has no such node "
						"(kubectl get nodes)\n", o->nodes[w]);
				ret = -EINVAL;
			}
		}
		found = o->nnodes;
	} else {
		json_array_foreach(items, i, n)
			if (found < 2 && node_usable(n))
				node_fill(&k->node[found++], n);
		if (!found) {
			fprintf(stderr, "connectivity test: the cluster has no Ready node without a "
					"NoSchedule taint (--node NAME chooses one)\n");
			ret = -EINVAL;
		}
	}
	if (!ret && found == 1)
		k->node[1] = k->node[0];
	k->two = !ret && strcmp(k->node[0].name, k->node[1].name);
	k8s_resp_free(&r);
	return ret;
}

/* The xcni DaemonSet's image (unless --image), and its agent pod on each of our nodes. */
static int ck_agents(struct ck *k)
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
		if (!k->o->image_set) {
			fprintf(stderr, "connectivity test: no DaemonSet " CK_DS_NS "/" CK_DS
					" (is xcni installed? --image IMAGE names the probe pods' image "
					"without it)\n");
			return -ENOENT;
		}
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
	if (k8s_agents_list(&k->conf, NULL, NULL, CK_REQ_MS, &ka, &nka, err, sizeof(err))) {
		fprintf(stderr, "connectivity test: listing the xcni agents: %s\n", err);
		return -EIO;
	}
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

/*
 * How the drops are judged: from the flow records when a client certificate
 * is given and every test node's agent answers a flows request with it;
 * else from the counters, said (judge_why).
 */
static void ck_flows_setup(struct ck *k)
{
	char err[600];

	k->judge = CK_BY_COUNTERS;
	k->tls = k->o->tls_dir;
	if (!k->tls) {
		snprintf(k->judge_why, sizeof(k->judge_why), "no flows client certificate (--tls DIR "
			 "or XCNI_FLOWS_TLS; docs/kind.md, the cluster-wide flows view)");
		return;
	}
	if (flows_tls_check(k->tls, err, sizeof(err))) {
		snprintf(k->judge_why, sizeof(k->judge_why), "%s", err);
		return;
	}
	for (int n = 0; n < 1 + k->two; n++) {
		const struct flows_agent *fa = NULL;
		char *out = NULL;
		size_t len;

		for (size_t i = 0; i < k->nflows; i++)
			if (!strcmp(k->flows[i].node, k->node[n].name))
				fa = &k->flows[i];
		if (!fa) {
			snprintf(k->judge_why, sizeof(k->judge_why), "node %s has no running agent pod "
				 "with an address", k->node[n].name);
			return;
		}
		if (flows_https_get(k->tls, fa, "last=1\n", CK_FLOWS_S, &out, &len, err, sizeof(err))) {
			snprintf(k->judge_why, sizeof(k->judge_why), "node %s's agent (%s:%u) serves no "
				 "flows: %.300s", k->node[n].name, fa->host, fa->port, err);
			return;
		}
		free(out);
	}
	k->judge = CK_BY_FLOWS;
}

/* The ClusterIPs of Service ns/name into ips[family]; the status. */
static int ck_svc_ips(struct ck *k, const char *ns, const char *name, char ips[2][48],
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

/* ---- 2. the namespace ------------------------------------------------------------------ */

/* 404: none; 200: there (*terminating set); -EIO said. */
static int ck_ns_get(struct ck *k, bool *terminating)
{
	struct k8s_resp r;
	int st = ck_req(k, "GET", "/api/v1/namespaces/" CK_NS, NULL, CK_REQ_MS,
			"reading namespace " CK_NS, &r, 404, 0);

	if (st == 200) {
		*terminating = !strcmp(jstr(json_object_get(r.body, "status"), "phase"), "Terminating");
		k8s_resp_free(&r);
	} else if (st == 404) {
		k8s_resp_free(&r);
	}
	return st;
}

/* Waits until the namespace is gone: 0, -ETIMEDOUT (said), -EIO. */
static int ck_ns_wait_gone(struct ck *k, long long deadline)
{
	bool term;
	int st;

	while ((st = ck_ns_get(k, &term)) == 200) {
		if (now_ms() > deadline) {
			fprintf(stderr, "connectivity test: namespace " CK_NS " still there "
					"(kubectl get ns " CK_NS ")\n");
			return -ETIMEDOUT;
		}
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
	if (ret) {
		fprintf(stderr, "connectivity test: the probe manifest: %s\n", err.msg);
		return ret;
	}
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
	long long deadline = now_ms() + CK_REQ_MS;

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
		    now_ms() > deadline || ck_stop) {
			fprintf(stderr, "connectivity test: %s: POST %s: %s\n", what, path, r->err);
			k8s_resp_free(r);
			return -EIO;
		}
		k8s_resp_free(r);
		usleep(CK_POLL_MS * 1000);
	}
}

/* Creates every object of the probe namespace; one that exists (--keep) is reused. */
static int ck_deploy(struct ck *k, bool *created)
{
	json_t **docs = NULL;
	size_t ndocs = 0, made = 0, kept = 0;
	int ret;

	ret = ck_docs(k, &docs, &ndocs);
	if (ret)
		return ret;
	for (size_t i = 0; i < ndocs && !ck_stop; i++) {
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
	if (!ret && !ck_stop)
		printf("connectivity test: %zu objects created, %zu kept from an earlier run\n", made,
		       kept);
	return ck_stop ? -EINTR : ret;
}

/* ---- 3. Ready ----------------------------------------------------------------------------- */

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

static int ck_wait_ready(struct ck *k, long long deadline)
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
		if (ck_stop || now_ms() > deadline) {
			if (!ck_stop)
				fprintf(stderr, "connectivity test: the probe pods not Ready within %d s "
						"(--ready-timeout):\n", k->o->ready_timeout_s);
			for (int w = 0; w < P_N && !ck_stop; w++) {
				char why[512] = "not created";

				json_array_foreach(json_object_get(last, "items"), i, p)
					if (!strcmp(jstr(json_object_get(p, "metadata"), "name"),
						    ck_pod_names[w]))
						pod_why(p, why, sizeof(why));
				if (!ready[w])
					fprintf(stderr, "  pod %s/%s: %s\n", CK_NS, ck_pod_names[w], why);
			}
			json_decref(last);
			return ck_stop ? -EINTR : -ETIMEDOUT;
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
		if (ck_stop)
			return -EINTR;
		if (now_ms() > deadline) {
			fprintf(stderr, "connectivity test: Service " CK_NS "/echo has no ready endpoint "
					"within %d s\n", k->o->ready_timeout_s);
			return -ETIMEDOUT;
		}
		usleep(CK_POLL_MS * 1000);
	}
}

/* ---- 4. probes and drops --------------------------------------------------------------- */

/*
 * cmd in container ctr of pod ns/pod on node, through the kubelet's run
 * endpoint: its output as JSON (*out, the caller's), or -EIO with why in err.
 */
static int ck_run(struct ck *k, const char *node, const char *ns, const char *pod, const char *ctr,
		  const char *cmd, long ms, json_t **out, char *err, size_t elen)
{
	char *ecmd = k8s_escape(cmd), *path = NULL;
	struct k8s_resp r;
	int ret;

	*out = NULL;
	if (!ecmd || asprintf(&path, "/api/v1/nodes/%s/proxy/run/%s/%s/%s?cmd=%s", node, ns, pod,
			      ctr, ecmd) < 0) {
		free(ecmd);
		return -ENOMEM;
	}
	free(ecmd);
	ret = k8s_request(&k->conf, "POST", path, NULL, ms, &r);
	free(path);
	if (ret) {
		snprintf(err, elen, "%s", r.err[0] ? r.err : strerror(-ret));
		return -EIO;
	}
	if (r.status != 200 || !r.body) {
		snprintf(err, elen, "%s", r.status != 200 ? r.err : "its output is not JSON");
		k8s_resp_free(&r);
		return -EIO;
	}
	*out = json_incref(r.body);
	k8s_resp_free(&r);
	return 0;
}

/* Node n's drop-* counters now: {"REASON DIRECTION": packets}; NULL when not watched. */
static json_t *ck_drops_read(struct ck *k, int n)
{
	json_t *out = NULL, *rows, *row, *d;
	char err[256];
	size_t i;

	if (!k->node[n].agent[0])
		return NULL;
	if (ck_run(k, k->node[n].name, CK_DS_NS, k->node[n].agent, CK_AGENT_CONTAINER,
		   "xcnictl metrics --json", CK_REQ_MS, &out, err, sizeof(err))) {
		fprintf(stderr, "connectivity test: node %s: xcnictl metrics in pod %s/%s: %s (its "
				"drops are not watched)\n", k->node[n].name, CK_DS_NS, k->node[n].agent,
			err);
		k->node[n].agent[0] = '\0';
		return NULL;
	}
	rows = json_is_array(out) ? out : json_object_get(out, "metrics");
	d = json_object();
	json_array_foreach(rows, i, row) {
		char key[96];

		if (strncmp(jstr(row, "reason"), "drop-", 5))
			continue;
		snprintf(key, sizeof(key), "%s %s", jstr(row, "reason"), jstr(row, "direction"));
		json_object_set_new(d, key, json_integer(json_integer_value(json_object_get(row,
											  "packets"))));
	}
	json_decref(out);
	return d;
}

static void ck_drops_snap(struct ck *k, struct ck_drops *s)
{
	for (int n = 0; n < 2; n++) {
		json_decref(s->rows[n]);
		s->rows[n] = n && !k->two ? NULL : ck_drops_read(k, n);
	}
}

static void ck_drops_free(struct ck_drops *s)
{
	json_decref(s->rows[0]);
	json_decref(s->rows[1]);
	memset(s, 0, sizeof(*s));
}

/* What dropped between a and b: "n2 drop-policy-ingress to-pod x2, ..."; how many kinds. */
static size_t ck_drops_diff(struct ck *k, const struct ck_drops *a, const struct ck_drops *b,
			    char *buf, size_t len, bool *policy)
{
	size_t off = 0, kinds = 0;
	const char *key;
	json_t *v;

	buf[0] = '\0';
	*policy = false;
	for (int n = 0; n < 2; n++) {
		if (!a->rows[n] || !b->rows[n])
			continue;
		json_object_foreach(b->rows[n], key, v) {
			json_int_t d = json_integer_value(v) -
				       json_integer_value(json_object_get(a->rows[n], key));

			if (d <= 0)
				continue;
			kinds++;
			*policy |= !strncmp(key, "drop-policy", 11);
			if (off < len)
				off += (size_t)snprintf(buf + off, len - off, "%s%s %s x%lld",
							off ? ", " : "", k->node[n].name, key,
							(long long)d);
		}
	}
	return kinds;
}

struct ck_result {
	int res; /* 1 connected, 0 blocked, 2 connected to the wrong listener, -1 the probe failed */
	char answer[1024];
};

/* pod-to-dns's question: A (AAAA) for CK_KUBE_NAME, the family the kubernetes Service has
 * (the row's if both); the address it must be answered into want. */
static unsigned int ck_dns_question(const struct ck *k, int f, char *want, size_t len)
{
	int qf = k->kube_ip[f][0] ? f : !f;

	snprintf(want, len, "%s", k->kube_ip[qf]);
	return qf ? 28 : 1;
}

/* Whether the probe's DNS answer ("N A record(s): ADDR ...") holds want. */
static bool ck_dns_has(const char *answer, const char *want)
{
	const char *p = strchr(answer, ':');
	size_t l = strlen(want);

	for (p = p ? p + 1 : answer; (p = strstr(p, want)); p += l)
		if (p[-1] == ' ' && (!p[l] || p[l] == ' '))
			return true;
	return false;
}

/* One probe of test t: from its pod (or from here: the outside) to to:port. */
static void ck_probe(struct ck *k, const struct lab_ct_case *t, const char *to,
		     const struct lab_port *port, struct ck_result *out)
{
	char cmd[512], err[256];
	json_t *j;
	const char *res;

	memset(out, 0, sizeof(*out));
	if (t->from == CT_FROM_OUTSIDE) {
		int r = lab_probe_addr(to, port, k->o->timeout_ms, out->answer, sizeof(out->answer));

		out->res = r < 0 ? -1 : r;
		if (r < 0)
			snprintf(out->answer, sizeof(out->answer), "%s", strerror(-r));
		return;
	}
	if (t->to == CT_TO_DNS) {
		char want[48];
		unsigned int qt = ck_dns_question(k, fam_idx(to), want, sizeof(want));

		/* The name every cluster's DNS has; the question's type given only when
		 * it is not the server's family's (an older probe has no --qtype). */
		snprintf(cmd, sizeof(cmd), "xcnictl connectivity probe --to %s --dns " CK_KUBE_NAME
			 "%s --timeout-ms %d", to, (qt == 28) == (fam_idx(to) == 1) ? "" :
			 qt == 28 ? " --qtype AAAA" : " --qtype A", k->o->timeout_ms);
	} else {
		snprintf(cmd, sizeof(cmd), "xcnictl connectivity probe --to %s --port %u/%s "
			 "--timeout-ms %d", to, port->port, port->proto == IPPROTO_UDP ? "udp" : "tcp",
			 k->o->timeout_ms);
	}
	if (ck_run(k, k->node[0].name, CK_NS, ck_pod_names[t->from == CT_FROM_CLIENT ? P_CLIENT :
							      P_STRANGER], "c", cmd,
		   k->o->timeout_ms + CK_REQ_MS, &j, err, sizeof(err))) {
		out->res = -1;
		snprintf(out->answer, sizeof(out->answer), "running `%s` in the pod: %s", cmd, err);
		return;
	}
	res = jstr(j, "result");
	out->res = !strcmp(res, "connected") ? 1 : !strcmp(res, "blocked") ? 0 : -1;
	snprintf(out->answer, sizeof(out->answer), "%s", jstr(j, "answer"));
	json_decref(j);
}

/* The test's destination address and port, or why it is skipped. */
static const char *ck_dest(struct ck *k, const struct lab_ct_case *t, int f, char *to, size_t len,
			   struct lab_port *port)
{
	static char why[512];
	const char *fw = f ? "IPv6" : "IPv4", *ip = NULL;

	if ((t->needs & CT_NEED_2NODES) && !k->two)
		return "one node";
	if (*t->port)
		lab_port_spec(t->port, port);
	else
		*port = (struct lab_port){ .port = (uint16_t)k->nodeport, .proto = IPPROTO_TCP };
	switch (t->to) {
	case CT_TO_ECHO_SAME: ip = k->pod_ip[P_ECHO_SAME][f]; break;
	case CT_TO_ECHO_OTHER: ip = k->pod_ip[P_ECHO_OTHER][f]; break;
	case CT_TO_GUARDED: ip = k->pod_ip[P_GUARDED][f]; break;
	case CT_TO_SVC: ip = k->svc_ip[f]; break;
	case CT_TO_NODEPORT_A: ip = k->node[0].ip[f]; break;
	case CT_TO_NODEPORT_B: ip = k->node[1].ip[f]; break;
	case CT_TO_OUTSIDE: return "no outside: the lab's; a cluster's is not probed";
	case CT_TO_DNS:
		if (!k->dns)
			return "skipped: no DNS Service (" CK_DS_NS "/" CK_DNS_SVC ")";
		if (!k->kube_ip[0][0] && !k->kube_ip[1][0])
			return "the kubernetes Service (default/kubernetes) has no ClusterIP to ask for";
		ip = k->dns_ip[f];
		break;
	}
	if (!ip || !*ip) {
		snprintf(why, sizeof(why), "%s has no %s address",
			 t->to == CT_TO_NODEPORT_A ? k->node[0].name :
			 t->to == CT_TO_NODEPORT_B ? k->node[1].name :
			 t->to == CT_TO_SVC ? "Service echo" : t->to == CT_TO_DNS ? "the DNS Service" :
			 "the pod", fw);
		return why;
	}
	snprintf(to, len, "%s", ip);
	return NULL;
}

static const char *ck_to_word(const struct ck *k, enum lab_ct_to to)
{
	switch (to) {
	case CT_TO_ECHO_SAME: return "echo-same";
	case CT_TO_ECHO_OTHER: return "echo-other";
	case CT_TO_GUARDED: return "guarded";
	case CT_TO_SVC: return "Service echo";
	case CT_TO_NODEPORT_A: return k->node[0].name;
	case CT_TO_NODEPORT_B: return k->node[1].name;
	case CT_TO_DNS: return "DNS";
	default: return "outside";
	}
}

/* ---- 4b. the flow records of a test ------------------------------------------------- */

/* One test's attempt, what its records are recognised by. */
struct ck_attempt {
	const struct lab_ct_case *t;
	int f;
	const char *to;
	const struct lab_port *port;
	long long start_wall_ms; /* the last attempt's start, CLOCK_REALTIME */
};

/* What the flow records say of a test. */
struct ck_flowsum {
	json_t *recs; /* its connections' merged records (an array) */
	size_t drops; /* of them denied */
	bool policy; /* one denied by a policy (drop-policy-*) */
	char drops_txt[1024]; /* "n2 drop-policy-ingress (isolated by NS/NAME), ..." */
	char unanswered[512]; /* the agents that did not answer, and why */
};

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The records every agent changed since since_ms (wall clock) with an end in
 * the probe namespace, a connection's records of several nodes merged into
 * one (flows_merge_conn, as xcnictl flows --kubeconfig merges them): a new
 * array. The agents that did not answer are named in unanswered.
 */
static json_t *ck_flows_fetch(struct ck *k, long long since_ms, char *unanswered, size_t ulen)
{
	json_t *cache = json_object(), *out = json_array(), *per;
	char req[256], ts[48];
	const char *key;
	size_t ul = 0;

	unanswered[0] = '\0';
	if (!cache || !out) {
		json_decref(cache);
		json_decref(out);
		return NULL;
	}
	flow_time_fmt((int64_t)since_ms * 1000000, ts, sizeof(ts));
	snprintf(req, sizeof(req), "namespace=" CK_NS "\nsince=%s\n", ts);
	for (size_t i = 0; i < k->nflows; i++) {
		char *buf = NULL, *line, *nl, err[600];
		size_t len;

		if (flows_https_get(k->tls, &k->flows[i], req, CK_FLOWS_S, &buf, &len, err,
				    sizeof(err))) {
			if (ul < ulen)
				ul += (size_t)snprintf(unanswered + ul, ulen - ul, "%s%s: %.200s",
						       ul ? "; " : "", k->flows[i].node, err);
			continue;
		}
		for (line = buf; *line && (nl = strchr(line, '\n')); line = nl + 1) {
			char ck[300];
			json_t *o;
			const char *node;

			*nl = '\0';
			if (!strncmp(line, "{\"cursor\":", 10))
				continue;
			if (!strncmp(line, "{\"error\":", 9)) {
				if (ul < ulen)
					ul += (size_t)snprintf(unanswered + ul, ulen - ul, "%s%s: %.200s",
							       ul ? "; " : "", k->flows[i].node, line);
				continue;
			}
			if (!(o = json_loads(line, 0, NULL)))
				continue;
			node = json_string_value(json_object_get(o, "node"));
			flows_conn_key(o, ck, sizeof(ck));
			per = json_object_get(cache, ck);
			if (!per && (per = json_object()))
				json_object_set_new(cache, ck, per);
			if (per)
				json_object_set(per, node && *node ? node : k->flows[i].node, o);
			json_decref(o);
		}
		free(buf);
	}
	json_object_foreach(cache, key, per) {
		json_t *m = flows_merge_conn(per);

		if (m)
			json_array_append_new(out, m);
	}
	json_decref(cache);
	return out;
}

/* Whether Service string svc ("NS/NAME:PORT") is Service want ("NS/NAME"). */
static bool ck_svc_is(const char *svc, const char *want)
{
	size_t l = strlen(want);

	return !strncmp(svc, want, l) && (svc[l] == ':' || !svc[l]);
}

/*
 * Whether merged record m is one of attempt a's connections: its protocol,
 * its source (the probe pod's address; the outside's: any), its destination
 * (the probed address and port; for a Service or NodePort also the
 * translated one: the Service named, or echo-other's 8080 on the node that
 * only saw the backend), first seen since the attempt began.
 */
static bool ck_rec_ours(const struct ck *k, const struct ck_attempt *a, json_t *m)
{
	json_t *src = json_object_get(m, "source"), *dst = json_object_get(m, "destination");
	unsigned int dport = (unsigned int)json_integer_value(json_object_get(dst, "port"));
	const char *dip = jstr(dst, "ip"), *svc = jstr(m, "service"), *want = NULL;
	bool backend = false;
	int64_t first;

	if (strcasecmp(jstr(m, "protocol"), a->port->proto == IPPROTO_UDP ? "udp" : "tcp"))
		return false;
	if (flow_time_parse(jstr(m, "first_seen"), &first) ||
	    first / 1000000 < a->start_wall_ms - CK_CLOCK_SLACK_MS)
		return false;
	if (a->t->from != CT_FROM_OUTSIDE &&
	    strcmp(jstr(src, "ip"), k->pod_ip[a->t->from == CT_FROM_CLIENT ? P_CLIENT : P_STRANGER][a->f]))
		return false;
	if (!strcmp(dip, a->to) && dport == a->port->port)
		return true;
	switch (a->t->to) {
	case CT_TO_SVC: want = CK_NS "/echo"; backend = true; break;
	case CT_TO_NODEPORT_A:
	case CT_TO_NODEPORT_B: want = CK_NS "/echo-np"; backend = true; break;
	case CT_TO_DNS: want = CK_DS_NS "/" CK_DNS_SVC; break;
	default: return false;
	}
	if (ck_svc_is(svc, want))
		return true;
	return backend && !strcmp(dip, k->pod_ip[P_ECHO_OTHER][a->f]) && dport == 8080;
}

static void ck_peer(json_t *p, char *buf, size_t len)
{
	const char *ip = jstr(p, "ip"), *pod = jstr(p, "pod");
	long long port = (long long)json_integer_value(json_object_get(p, "port"));
	bool v6 = strchr(ip, ':');

	if (*pod)
		snprintf(buf, len, "%s/%s %s%s%s:%lld", jstr(p, "namespace"), pod, v6 ? "[" : "", ip,
			 v6 ? "]" : "", port);
	else
		snprintf(buf, len, "%s%s%s:%lld", v6 ? "[" : "", ip, v6 ? "]" : "", port);
}

/* A merged record as one line: what happened to the connection, where, by what. */
static void ck_rec_line(json_t *m, char *buf, size_t len)
{
	char src[200], dst[200];
	const char *pol = jstr(m, "policy"), *reason = jstr(m, "drop_reason"),
		   *iso = jstr(m, "isolated_by"), *svc = jstr(m, "service"), *dec = jstr(m, "decided_by");
	size_t off, i;
	json_t *n;

	ck_peer(json_object_get(m, "source"), src, sizeof(src));
	ck_peer(json_object_get(m, "destination"), dst, sizeof(dst));
	off = (size_t)snprintf(buf, len, "%s %s -> %s %s%s%s at %s%s%s%s%s%s", jstr(m, "protocol"),
			       src, dst, jstr(m, "verdict"), *dec ? " by " : "", dec,
			       jstr(m, "observation_point"), *reason ? " (" : "", reason,
			       *reason ? ")" : "", *pol ? ", policy " : "", pol);
	if (*iso && off < len)
		off += (size_t)snprintf(buf + off, len - off, ", isolated by %s", iso);
	if (*svc && off < len)
		off += (size_t)snprintf(buf + off, len - off, ", svc %s -> %s", svc, jstr(m, "backend"));
	if (json_array_size(json_object_get(m, "nodes")) > 1 && off < len) {
		off += (size_t)snprintf(buf + off, len - off, " {");
		json_array_foreach(json_object_get(m, "nodes"), i, n)
			if (off < len)
				off += (size_t)snprintf(buf + off, len - off, "%s%s %s %s %lld/%lld",
							i ? ", " : "", jstr(n, "node"),
							jstr(n, "observation_point"), jstr(n, "verdict"),
							(long long)json_integer_value(json_object_get(n, "packets")),
							(long long)json_integer_value(json_object_get(n, "reply_packets")));
		if (off < len)
			snprintf(buf + off, len - off, "}");
	}
}

/*
 * Attempt a's records: fetched until they hold a policy drop when want_drop
 * (the agent reads drops from its ring buffer: milliseconds, but not at
 * once), at most CK_FLOWS_WAIT_MS; else once.
 */
static void ck_flows_judge(struct ck *k, const struct ck_attempt *a, bool want_drop,
			   struct ck_flowsum *fs)
{
	long long deadline = now_ms() + CK_FLOWS_WAIT_MS;

	memset(fs, 0, sizeof(*fs));
	for (;;) {
		json_t *all = ck_flows_fetch(k, a->start_wall_ms - CK_CLOCK_SLACK_MS, fs->unanswered,
					     sizeof(fs->unanswered)), *m;
		size_t i, off = 0;

		json_decref(fs->recs);
		fs->recs = json_array();
		fs->drops = 0;
		fs->policy = false;
		fs->drops_txt[0] = '\0';
		json_array_foreach(all, i, m) {
			const char *reason = jstr(m, "drop_reason"), *iso = jstr(m, "isolated_by");

			if (!ck_rec_ours(k, a, m))
				continue;
			json_array_append(fs->recs, m);
			if (strcmp(jstr(m, "verdict"), "denied"))
				continue;
			fs->drops++;
			fs->policy |= !strncmp(reason, "drop-policy", 11);
			if (off < sizeof(fs->drops_txt))
				off += (size_t)snprintf(fs->drops_txt + off, sizeof(fs->drops_txt) - off,
							"%s%s %s%s%s%s", off ? ", " : "",
							*jstr(m, "decided_by") ? jstr(m, "decided_by") :
							jstr(m, "node"), *reason ? reason : "denied",
							*iso ? " (isolated by " : "", iso, *iso ? ")" : "");
		}
		json_decref(all);
		if (!want_drop || fs->policy || now_ms() > deadline || ck_stop)
			return;
		usleep(200 * 1000);
	}
}

/* Runs the table: counts into passed/failed/skipped. */
static void ck_tests(struct ck *k, size_t *passed, size_t *failed, size_t *skipped)
{
	struct ck_drops before = {}, after = {};
	bool flows = k->judge == CK_BY_FLOWS;

	if (!flows)
		ck_drops_snap(k, &before);
	for (size_t i = 0; i < lab_ct_ncases && !ck_stop; i++) {
		const struct lab_ct_case *t = &lab_ct_cases[i];

		for (int f = 0; f < 2 && !ck_stop; f++) {
			char full[96], to[64] = "", what[640], drops[1024], want[48] = "";
			struct lab_port port = {};
			struct ck_flowsum fs = {};
			struct ck_attempt at;
			struct ck_result r;
			const char *skip;
			long long t0, settle;
			int attempts = 0;
			size_t nd = 0;
			bool policy = false, ok;

			snprintf(full, sizeof(full), "%s/%s", t->name, f ? "ipv6" : "ipv4");
			if (!(k->fams & (f ? LAB_FAM_V6 : LAB_FAM_V4)) ||
			    !lab_conntest_selected(k->o, full))
				continue;
			skip = ck_dest(k, t, f, to, sizeof(to), &port);
			if (skip) {
				printf("  SKIP  %-40s (%s)\n", full, skip);
				(*skipped)++;
				continue;
			}
			if (t->to == CT_TO_DNS)
				ck_dns_question(k, f, want, sizeof(want));
			snprintf(what, sizeof(what), "%s -> %s%s%s:%u/%s (%s%s%s%s)",
				 t->from == CT_FROM_OUTSIDE ? "here" : lab_ct_from_word(t->from),
				 f ? "[" : "", to, f ? "]" : "", port.port,
				 port.proto == IPPROTO_UDP ? "udp" : "tcp", ck_to_word(k, t->to),
				 *want ? ": " CK_KUBE_NAME " " : "", *want ? "= " : "", want);
			at = (struct ck_attempt){ .t = t, .f = f, .to = to, .port = &port };
			t0 = now_ms();
			settle = t->allow ? k->settle_until : 0;
			/* A test that must connect is tried until it does (the agents are
			 * still learning new pods); its drops are its last attempt's. */
			do {
				if (attempts++) {
					usleep(CK_POLL_MS * 1000);
					if (!flows)
						ck_drops_snap(k, &before);
				}
				at.start_wall_ms = wall_ms();
				ck_probe(k, t, to, &port, &r);
				if (r.res == 1 && t->answer && strncmp(r.answer, t->answer, strlen(t->answer)))
					r.res = 2;
				if (r.res == 1 && *want && !ck_dns_has(r.answer, want))
					r.res = 2;
				if (flows)
					continue;
				ck_drops_snap(k, &after);
				nd = ck_drops_diff(k, &before, &after, drops, sizeof(drops), &policy);
				/* The next test's before is this one's after. */
				ck_drops_free(&before);
				before = after;
				after = (struct ck_drops){};
			} while (t->allow && r.res != 1 && r.res != 2 && now_ms() < settle && !ck_stop);
			if (flows) {
				/* A blocked probe's drop is waited for: the one that must be
				 * blocked, and the one that must connect (it explains why). */
				ck_flows_judge(k, &at, r.res == 0, &fs);
				nd = fs.drops;
				policy = fs.policy;
				snprintf(drops, sizeof(drops), "%s", fs.drops_txt);
			}
			ok = t->allow ? r.res == 1 && !nd : r.res == 0 && policy;
			if (ok) {
				printf("  PASS  %-40s %s: %s%s%s", full, what,
				       r.res > 0 ? "connected" : "blocked", r.res > 0 && r.answer[0] ? " " : "",
				       r.res > 0 ? r.answer : "");
				if (attempts > 1)
					printf(" (attempt %d, %.1f s)", attempts,
					       (double)(now_ms() - t0) / 1000);
				printf("\n");
				if (!t->allow)
					printf("        by %s\n", drops);
				if (k->o->verbose && flows)
					for (size_t j = 0; j < json_array_size(fs.recs); j++) {
						char line[1200];

						ck_rec_line(json_array_get(fs.recs, j), line, sizeof(line));
						printf("        flow:     %s\n", line);
					}
				json_decref(fs.recs);
				(*passed)++;
				continue;
			}
			(*failed)++;
			printf("  FAIL  %-40s %s\n", full, what);
			printf("        expected: %s\n", t->allow ?
			       (t->answer ? "connected, answered by the right listener, no drop" :
				*want ? "answered with the kubernetes Service's ClusterIP, no drop" :
					"connected, no drop") :
			       flows ? "blocked by policy (a flow record denied by drop-policy-*)" :
			       "blocked by policy (a drop-policy-* drop counted)");
			if (r.res == 2 && *want)
				printf("        got:      answered \"%s\" (want %s)\n", r.answer, want);
			else if (r.res == 2)
				printf("        got:      connected, but answered \"%s\" (want \"%s...\")\n",
				       r.answer, t->answer);
			else if (r.res == 1)
				printf("        got:      connected%s%s\n", r.answer[0] ? ": " : "", r.answer);
			else if (r.res < 0)
				printf("        got:      the probe failed: %s\n", r.answer);
			else
				printf("        got:      %s%s\n", r.answer[0] ? r.answer : "blocked",
				       r.answer[0] ? "" : " (no answer within the timeout)");
			if (attempts > 1)
				printf("        tried:    %d times over %.1f s\n", attempts,
				       (double)(now_ms() - t0) / 1000);
			if (flows) {
				printf("        drops:    %s\n", nd ? drops :
				       "no flow record of the test denied (lost outside xcni's programs: "
				       "routing, the listener, the API server's path to the pod)");
				for (size_t j = 0; j < json_array_size(fs.recs); j++) {
					char line[1200];

					ck_rec_line(json_array_get(fs.recs, j), line, sizeof(line));
					printf("        flow:     %s\n", line);
				}
				if (!json_array_size(fs.recs))
					printf("        flow:     no record of the test's connection%s\n",
					       fs.unanswered[0] ? "" : " on any agent");
				if (fs.unanswered[0])
					printf("        unanswered: %s\n", fs.unanswered);
				json_decref(fs.recs);
				continue;
			}
			printf("        drops:    %s\n", nd ? drops :
			       !k->node[0].agent[0] && (!k->two || !k->node[1].agent[0]) ?
			       "not watched (no agent pod answered)" :
			       "none counted by xcni (lost outside its programs: routing, the "
			       "listener, the API server's path to the pod)");
		}
	}
	ck_drops_free(&before);
	ck_drops_free(&after);
}

/* ---- 5. the run ---------------------------------------------------------------------------- */

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
static int ck_cleanup(struct ck *k)
{
	/* Pods that never started (an image that cannot be pulled) take longer to go. */
	long long t0 = now_ms(),
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
			if (!n || now_ms() > deadline)
				break;
			usleep(CK_POLL_MS * 1000);
		}
	} else if (st > 0) {
		/* Not allowed to delete a collection, or no namespace: its deletion does it. */
		k8s_resp_free(&r);
	}
	tp = now_ms();
	st = ck_req(k, "DELETE", "/api/v1/namespaces/" CK_NS, NULL, CK_REQ_MS,
		    "deleting namespace " CK_NS, &r, 404, 409);
	if (st < 0)
		return st;
	k8s_resp_free(&r);
	st = ck_ns_wait_gone(k, deadline);
	if (!st)
		printf("connectivity test: namespace " CK_NS " deleted and gone (%.1f s: the pods "
		       "%.1f s, then the namespace %.1f s)\n", (double)(now_ms() - t0) / 1000,
		       (double)(tp - t0) / 1000, (double)(now_ms() - tp) / 1000);
	return st;
}

int ctl_conntest_k8s(const struct lab_ct_opts *o, const char *kubeconfig)
{
	struct sigaction sa = { .sa_handler = ck_on_signal }, old_int, old_term;
	size_t passed = 0, failed = 0, skipped = 0, nrun = 0;
	long long t0 = now_ms(), t;
	bool created = false, removed = false, term;
	struct ck k = { .o = o };
	int ret = 2, st;

	if (lab_conntest_globs_check(o))
		return 2;
	/* The report and the errors in the order they happened, also into a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "connectivity test: cannot start libcurl\n");
		return 2;
	}
	if (kubeconfig ? k8s_api_conf_kubeconfig(kubeconfig, &k.conf) :
			 k8s_api_conf_in_cluster(&k.conf)) {
		curl_global_cleanup();
		fprintf(stderr, "connectivity test: %s: no API server to talk to\n",
			kubeconfig ? kubeconfig : "in-cluster");
		return 2;
	}
	if (ck_nodes(&k) || ck_agents(&k))
		goto out_conf;
	st = ck_svc_ips(&k, CK_DS_NS, CK_DNS_SVC, k.dns_ip, NULL);
	if (st < 0)
		goto out_conf;
	k.dns = st == 200 && (k.dns_ip[0][0] || k.dns_ip[1][0]);
	/* What pod-to-dns must be answered: the API server's own Service. */
	if (k.dns && ck_svc_ips(&k, "default", "kubernetes", k.kube_ip, NULL) < 0)
		goto out_conf;
	printf("connectivity test: %s, namespace " CK_NS " on %s%s%s, image %s\n", k.conf.server,
	       k.node[0].name, k.two ? " and " : "", k.two ? k.node[1].name : " (one node)", k.image);
	ck_flows_setup(&k);
	if (k.judge == CK_BY_FLOWS) {
		char names[512] = "";
		size_t l = 0;

		for (size_t i = 0; i < k.nflows && l < sizeof(names); i++)
			l += (size_t)snprintf(names + l, sizeof(names) - l, "%s%s", i ? ", " : "",
					      k.flows[i].node);
		printf("connectivity test: drops judged from the flow records of the run (agents of "
		       "%s, port %u, mTLS with %s)\n", names, FLOWS_TLS_PORT, k.tls);
	} else {
		printf("connectivity test: drops judged from each node's drop counters, not from flow "
		       "records: %s\n", k.judge_why);
	}

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	/* A namespace being deleted (an earlier run's) goes first; one kept is reused. */
	st = ck_ns_get(&k, &term);
	if (st < 0)
		goto out_sig;
	if (st == 200 && term) {
		printf("connectivity test: namespace " CK_NS " is being deleted: waiting\n");
		if (ck_ns_wait_gone(&k, now_ms() + (long long)o->ready_timeout_s * 1000))
			goto out_sig;
	}
	created = st == 200 && !term; /* a kept one: this run removes it */
	t = now_ms();
	if (ck_deploy(&k, &created))
		goto out_clean;
	if (ck_wait_ready(&k, now_ms() + (long long)o->ready_timeout_s * 1000))
		goto out_clean;
	k.settle_until = k.made ? now_ms() + CK_SETTLE_MS : 0;
	printf("connectivity test: %d pods Ready, Service echo has endpoints (%.1f s); "
	       "families %s; NodePort %u; DNS %s\n", P_N, (double)(now_ms() - t) / 1000,
	       k.fams == LAB_FAM_DUAL ? "IPv4 and IPv6" : k.fams == LAB_FAM_V6 ? "IPv6" : "IPv4",
	       k.nodeport, k.dns ? (k.dns_ip[0][0] ? k.dns_ip[0] : k.dns_ip[1]) :
	       "none (" CK_DS_NS "/" CK_DNS_SVC ")");
	for (size_t i = 0; i < lab_ct_ncases; i++)
		for (int f = 0; f < 2; f++) {
			char full[96];

			snprintf(full, sizeof(full), "%s/%s", lab_ct_cases[i].name, f ? "ipv6" : "ipv4");
			nrun += (k.fams & (f ? LAB_FAM_V6 : LAB_FAM_V4)) && lab_conntest_selected(o, full);
		}
	if (!nrun) {
		fprintf(stderr, "connectivity test: --test: no test of this cluster's families "
				"matches\n");
		goto out_clean;
	}
	ck_tests(&k, &passed, &failed, &skipped);
	ret = failed ? 1 : 0;
out_clean:
	if (ck_stop) {
		fprintf(stderr, "connectivity test: interrupted: the tests stop here, the namespace "
				"goes\n");
		ret = 2;
	}
	/* Deleting is not interrupted: a second Ctrl-C is ignored until it is done. */
	ck_stop = 0;
	if (created && !o->keep) {
		if (ck_cleanup(&k)) {
			fprintf(stderr, "connectivity test: removing namespace " CK_NS " failed\n");
			ret = 2;
		} else {
			removed = true;
		}
	}
	printf("%zu passed, %zu failed, %zu skipped (%.1f s); namespace " CK_NS " %s\n", passed,
	       failed, skipped, (double)(now_ms() - t0) / 1000,
	       !created ? "not created" : o->keep ? "kept (--keep)" : removed ? "removed" :
	       "NOT removed");
out_sig:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
out_conf:
	k8s_api_conf_free(&k.conf);
	curl_global_cleanup();
	return ret;
}
