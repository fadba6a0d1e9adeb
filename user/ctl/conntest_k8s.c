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

#include "lib/system/clock.h"
#include "ctl/ctl.h"
#include "ctl/conntest_k8s.h"
#include "lab/conntest.h"
#include "lib/cluster/k8s.h"
#include "lib/cluster/k8sagents.h"
#include "lib/cluster/k8sobj.h"
#include "lib/cluster/k8sreq.h"
#include "lib/observe/flows.h"
#include "lib/observe/flowsnet.h"

/* ---- 1-3. what judges the drops (the cluster, namespace, Ready: conntest_k8s_setup.c) --- */

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
		if (flows_http_get(k->tls, fa, NULL, "last=1\n", CK_FLOWS_S, &out, &len, err, sizeof(err))) {
			snprintf(k->judge_why, sizeof(k->judge_why), "node %s's agent (%s:%u) serves no "
				 "flows: %.300s", k->node[n].name, fa->host, fa->port, err);
			return;
		}
		free(out);
	}
	k->judge = CK_BY_FLOWS;
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
	int res; /* 1 connected, 0 not, 2 connected to the wrong listener, -1 the probe failed */
	bool refused; /* not connected: a RST or an ICMP unreachable came back */
	char answer[1024];
};

/* A probe's fate in lab probe's words: denied when a policy drop was seen. */
static int ck_fate(const struct ck_result *r, bool policy)
{
	return r->res > 0 ? LAB_FATE_CONNECTED : policy ? LAB_FATE_DENIED :
	       r->refused ? LAB_FATE_REFUSED : LAB_FATE_TIMEOUT;
}

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
		int r = lab_probe_addr(to, port, k->o->timeout_ms, out->answer, sizeof(out->answer),
				       &out->refused);

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
	/* "blocked": an older probe's word for either of the two. */
	out->res = !strcmp(res, "connected") ? 1 :
		   !strcmp(res, "refused") || !strcmp(res, "timeout") || !strcmp(res, "blocked") ? 0 :
										       -1;
	out->refused = !strcmp(res, "refused");
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
	xcni_rfc3339_fmt((int64_t)since_ms * 1000000, 6, ts, sizeof(ts));
	snprintf(req, sizeof(req), "namespace=" CK_NS "\nsince=%s\n", ts);
	for (size_t i = 0; i < k->nflows; i++) {
		char *buf = NULL, *line, *nl, err[600];
		size_t len;

		if (flows_http_get(k->tls, &k->flows[i], NULL, req, CK_FLOWS_S, &buf, &len, err,
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
	if (xcni_rfc3339_parse(jstr(m, "first_seen"), &first) ||
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

/* The merged records, a line each: what happened to the connection, where, by what. */
static void ck_recs_print(json_t *recs)
{
	char src[200], dst[200];
	size_t r;
	json_t *m;

	json_array_foreach(recs, r, m) {
		const char *pol = jstr(m, "policy"), *reason = jstr(m, "drop_reason"),
			   *iso = jstr(m, "isolated_by"), *svc = jstr(m, "service"),
			   *dec = jstr(m, "decided_by");
		json_t *s = json_object_get(m, "source"), *d = json_object_get(m, "destination");
		char nodes[800] = "";

		/* A pod with its address, else the address. */
		flows_peer_str(s, *jstr(s, "pod"), src, sizeof(src));
		flows_peer_str(d, *jstr(d, "pod"), dst, sizeof(dst));
		printf("        flow:     %s %s -> %s %s%s%s at %s%s%s%s%s%s", jstr(m, "protocol"),
		       src, dst, jstr(m, "verdict"), *dec ? " by " : "", dec,
		       jstr(m, "observation_point"), *reason ? " (" : "", reason, *reason ? ")" : "",
		       *pol ? ", policy " : "", pol);
		if (*iso)
			printf(", isolated by %s", iso);
		if (*svc)
			printf(", svc %s -> %s", svc, jstr(m, "backend"));
		flows_nodes_cat(json_object_get(m, "nodes"), nodes, sizeof(nodes));
		printf("%s\n", nodes);
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
	long long deadline = xcni_mono_ms() + CK_FLOWS_WAIT_MS;

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
		if (!want_drop || fs->policy || xcni_mono_ms() > deadline || xcni_stop)
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
	for (size_t i = 0; i < lab_ct_ncases && !xcni_stop; i++) {
		const struct lab_ct_case *t = &lab_ct_cases[i];

		for (int f = 0; f < 2 && !xcni_stop; f++) {
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
				lab_ct_result(full, "", "skip", skip);
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
			t0 = xcni_mono_ms();
			settle = t->allow ? k->settle_until : 0;
			/* A test that must connect is tried until it does (the agents are
			 * still learning new pods); its drops are its last attempt's. */
			do {
				if (attempts++) {
					usleep(CK_POLL_MS * 1000);
					if (!flows)
						ck_drops_snap(k, &before);
				}
				at.start_wall_ms = xcni_wall_ns() / 1000000;
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
			} while (t->allow && r.res != 1 && r.res != 2 && xcni_mono_ms() < settle && !xcni_stop);
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
				       lab_fate_word(ck_fate(&r, policy)),
				       r.res > 0 && r.answer[0] ? " " : "",
				       r.res > 0 ? r.answer : "");
				if (attempts > 1)
					printf(" (attempt %d, %.1f s)", attempts,
					       (double)(xcni_mono_ms() - t0) / 1000);
				printf("\n");
				if (!t->allow)
					printf("        by %s\n", drops);
				if (k->o->verbose && flows)
					ck_recs_print(fs.recs);
				json_decref(fs.recs);
				lab_ct_result(full, what, "pass", lab_fate_word(ck_fate(&r, policy)));
				(*passed)++;
				continue;
			}
			(*failed)++;
			lab_ct_say_failed(t, full, what, r.res, r.answer, ck_fate(&r, policy), want,
					  flows ? "denied by policy (a flow record denied by drop-policy-*)" :
					  "denied by policy (a drop-policy-* drop counted)");
			if (attempts > 1)
				printf("        tried:    %d times over %.1f s\n", attempts,
				       (double)(xcni_mono_ms() - t0) / 1000);
			if (flows) {
				printf("        drops:    %s\n", nd ? drops :
				       "no flow record of the test denied (lost outside xcni's programs: "
				       "routing, the listener, the API server's path to the pod)");
				ck_recs_print(fs.recs);
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

int ctl_conntest_k8s(const struct lab_ct_opts *o, const char *kubeconfig)
{
	struct sigaction old[2];
	size_t passed = 0, failed = 0, skipped = 0;
	long long t0 = xcni_mono_ms(), t;
	bool created = false, removed = false, term;
	struct ck k = { .o = o };
	int ret = 2, st;

	if (lab_conntest_globs_check(o))
		return 2;
	/* The report and the errors in the order they happened, also into a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return said(2, "connectivity test: cannot start libcurl\n");
	if (kubeconfig ? k8s_api_conf_kubeconfig(kubeconfig, &k.conf) :
			 k8s_api_conf_in_cluster(&k.conf)) {
		curl_global_cleanup();
		return said(2, "connectivity test: %s: no API server to talk to\n",
			    kubeconfig ? kubeconfig : "in-cluster");
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

	xcni_stop_signals(old, true);
	/* A namespace being deleted (an earlier run's) goes first; one kept is reused. */
	st = ck_ns_get(&k, &term);
	if (st < 0)
		goto out_sig;
	if (st == 200 && term) {
		printf("connectivity test: namespace " CK_NS " is being deleted: waiting\n");
		if (ck_ns_wait_gone(&k, xcni_mono_ms() + (long long)o->ready_timeout_s * 1000))
			goto out_sig;
	}
	created = st == 200 && !term; /* a kept one: this run removes it */
	t = xcni_mono_ms();
	if (ck_deploy(&k, &created))
		goto out_clean;
	if (ck_wait_ready(&k, xcni_mono_ms() + (long long)o->ready_timeout_s * 1000))
		goto out_clean;
	k.settle_until = k.made ? xcni_mono_ms() + CK_SETTLE_MS : 0;
	printf("connectivity test: %d pods Ready, Service echo has endpoints (%.1f s); "
	       "families %s; NodePort %u; DNS %s\n", P_N, (double)(xcni_mono_ms() - t) / 1000,
	       k.fams == LAB_FAM_DUAL ? "IPv4 and IPv6" : k.fams == LAB_FAM_V6 ? "IPv6" : "IPv4",
	       k.nodeport, k.dns ? (k.dns_ip[0][0] ? k.dns_ip[0] : k.dns_ip[1]) :
	       "none (" CK_DS_NS "/" CK_DNS_SVC ")");
	if (!lab_conntest_count(o, k.fams)) {
		fprintf(stderr, "connectivity test: --test: no test of this cluster's families "
				"matches\n");
		goto out_clean;
	}
	ck_tests(&k, &passed, &failed, &skipped);
	ret = failed ? 1 : 0;
out_clean:
	if (xcni_stop) {
		ret = said(2, "connectivity test: interrupted: the tests stop here, the namespace "
				"goes\n");
	}
	/* Deleting is not interrupted: a second Ctrl-C is ignored until it is done. */
	xcni_stop = 0;
	if (created && !o->keep) {
		if (ck_cleanup(&k)) {
			ret = said(2, "connectivity test: removing namespace " CK_NS " failed\n");
		} else {
			removed = true;
		}
	}
	printf("%zu passed, %zu failed, %zu skipped (%.1f s); namespace " CK_NS " %s\n", passed,
	       failed, skipped, (double)(xcni_mono_ms() - t0) / 1000,
	       !created ? "not created" : o->keep ? "kept (--keep)" : removed ? "removed" :
	       "NOT removed");
out_sig:
	xcni_stop_signals(old, false);
out_conf:
	k8s_api_conf_free(&k.conf);
	curl_global_cleanup();
	return ret;
}
