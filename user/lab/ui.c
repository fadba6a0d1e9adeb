// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl lab ui: one service map of every lab node's flows. xcnictl serves
 * the page xcnid --ui serves (the same bytes, lib/observe/fgpage.c) through the
 * HTTP server of lib/system/http.c, and answers /api/graph itself: at each
 * request it asks every node's xcnid for its flow records over the flows
 * socket (as xcnictl flows --node all does; flows are on by default), folds
 * them into one graph (lib/flowgraph.c: a cross-node connection, which both
 * ends' nodes record, is one flow, the dropping node's verdict winning) and
 * names the policies that isolate a pod from that pod's node's maps.
 *
 * Why here and not in one agent fetching its peers: xcnictl already reaches
 * every node's socket and pins from the host, where a browser is; an agent
 * would have to cross network namespaces it does not own.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>
#include <time.h>

#include <bpf/bpf.h>

#include "lib/observe/flowgraph.h"
#include "lib/observe/flows.h"
#include "lib/observe/flowsnet.h"
#include "lib/policy/polsync.h"
#include "lib/system/bpfpin.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "lib/system/print.h"
#include "lib/system/http.h"
#include "lab/fate.h"
#include "lab/state.h"
#include "lab/ui.h"
#include "lib/system/util.h"

#define UI_LISTEN_DEFAULT "127.0.0.1:9963"
#define UI_ASK_TIMEOUT_S 3
#define UI_REQ_MAX 4096

/* A member absent is NULL here, not util.h's jstr "": the graph tells "no service",
 * "no policy" from an empty one. */
static const char *jopt(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void end_from_json(json_t *o, struct fg_end *e)
{
	*e = (struct fg_end){
		.kind = jopt(o, "kind"), .ns = jopt(o, "namespace"), .pod = jopt(o, "pod"),
		.labels = jopt(o, "labels"), .ip = jopt(o, "ip"), .port = (uint16_t)json_integer_value(json_object_get(o, "port")),
	};
}

struct node_maps {
	int polsel, polname;
	struct polkey6_maps k6;
};

/* One record line of a node's answer into g. */
static int add_line(struct fgraph *g, const char *line, const struct node_maps *m)
{
	const char *reason, *side;
	struct fg_flow f = { .rule = -1 };
	char iso[800];
	json_t *o;
	int err;

	o = json_loads(line, 0, NULL);
	if (!o)
		return -EINVAL;
	if (json_object_get(o, "cursor") || json_object_get(o, "error")) {
		json_decref(o);
		return 0; /* the trailer, or an error (said by the caller's count) */
	}
	f.node = jopt(o, "node");
	f.family = jopt(o, "family");
	f.proto = jopt(o, "protocol");
	end_from_json(json_object_get(o, "source"), &f.src);
	end_from_json(json_object_get(o, "destination"), &f.dst);
	f.service = jopt(o, "service");
	f.client = jopt(o, "client");
	f.verdict = flow_verdict_parse(jopt(o, "verdict"));
	if (f.verdict < 0)
		f.verdict = FLOW_ALLOWED;
	f.point = jopt(o, "observation_point");
	f.side = side = jopt(o, "policy_side");
	f.policy = jopt(o, "policy");
	if (json_is_integer(json_object_get(o, "rule")))
		f.rule = (int)json_integer_value(json_object_get(o, "rule"));
	f.reason = reason = jopt(o, "drop_reason");
	f.pkts = (uint64_t)json_integer_value(json_object_get(o, "packets"));
	f.bytes = (uint64_t)json_integer_value(json_object_get(o, "bytes"));
	f.reply_pkts = (uint64_t)json_integer_value(json_object_get(o, "reply_packets"));
	f.reply_bytes = (uint64_t)json_integer_value(json_object_get(o, "reply_bytes"));
	if (json_is_string(json_object_get(o, "last_seen"))) {
		int64_t w;

		if (!xcni_rfc3339_parse(jopt(o, "last_seen"), &w))
			f.last_seen = (double)w / 1e9;
	} else {
		f.last_seen = json_number_value(json_object_get(o, "last_seen"));
	}
	f.isolators = jopt(o, "isolated_by");
	f.near_misses = jopt(o, "near_misses");
	if (f.verdict == FLOW_DENIED && !f.policy && !f.isolators && reason &&
	    (!strcmp(reason, "drop-policy-ingress") || !strcmp(reason, "drop-policy-egress"))) {
		bool in = !strcmp(reason, "drop-policy-ingress");

		if (fg_isolators(m->polsel, m->polname, &m->k6, in ? f.dst.ip : f.src.ip, in,
				 iso, sizeof(iso)))
			f.isolators = iso;
	}
	err = fg_add(g, &f);
	json_decref(o);
	return err == -E2BIG ? 0 : err;
}

static void json_list(struct fbuf *b, const char *name, char (*v)[64], size_t n)
{
	flows_fbuf_printf(b, ",\"%s\":[", name);
	for (size_t i = 0; i < n; i++) {
		flows_fbuf_printf(b, "%s", i ? "," : "");
		fg_json_str(b, v[i]);
	}
	flows_fbuf_printf(b, "]");
}

/*
 * Where the records come from: the lab's nodes (their flows sockets and
 * pins), or agents over HTTPS (xcnictl ui: --agent given, or found through
 * the API server with --kubeconfig/--cluster, listed again every
 * UI_RELIST_S).
 */
#define UI_RELIST_S 30
struct ui_src {
	bool remote, cluster;
	const char *tls_dir, *kubeconfig;
	struct flows_agent *agents;
	size_t nagents;
	time_t listed; /* when the API server was last asked (cluster) */
	char list_err[300]; /* its last error, "" none */
	char cmd[700]; /* the xcnictl flows arguments of the same view */
};

/* One node's answer: its records, and for a lab node its maps (isolators). */
struct ui_ans {
	char name[64];
	char *buf;
	struct node_maps m;
};

/* The agents, found again when the last list is UI_RELIST_S old (cluster). */
static void relist(struct ui_src *src)
{
	struct flows_agent *fa;
	time_t now = time(NULL);
	size_t n;

	if (!src->cluster || (src->listed && now - src->listed < UI_RELIST_S))
		return;
	src->listed = now;
	if (flows_agents_cluster(src->kubeconfig, &fa, &n, src->list_err, sizeof(src->list_err))) {
		if (!src->list_err[0])
			snprintf(src->list_err, sizeof(src->list_err), "the kubeconfig cannot be read");
		pr_warn("ui: the agents cannot be listed: %s (the last list kept)\n", src->list_err);
		return;
	}
	src->list_err[0] = '\0';
	free(src->agents);
	src->agents = fa;
	src->nagents = n;
}

/* Every node's answer to req into ans (the unreachable named). 0 or -errno. */
static int gather(struct ui_src *src, const char *req, struct ui_ans *ans, size_t max,
		  size_t *nans, char (*unreachable)[64], size_t *nu)
{
	struct lab lab;
	int ret;

	*nans = *nu = 0;
	if (src->remote) {
		relist(src);
		for (size_t i = 0; i < src->nagents && *nans < max; i++) {
			const struct flows_agent *a = &src->agents[i];
			char err[600];
			size_t alen;

			if (a->why[0] || flows_http_get(src->tls_dir, a, NULL, req, UI_ASK_TIMEOUT_S,
							&ans[*nans].buf, &alen, err, sizeof(err))) {
				pr_debug("ui: node %s: %s\n", a->node, a->why[0] ? a->why : err);
				snprintf(unreachable[(*nu)++], 64, "%.63s", a->node);
				continue;
			}
			snprintf(ans[*nans].name, sizeof(ans[*nans].name), "%s", a->node);
			ans[*nans].m = (struct node_maps){ -1, -1, { -1, -1, -1 } };
			(*nans)++;
		}
		return 0;
	}
	ret = lab_open(&lab, false);
	if (ret)
		return ret;
	for (size_t i = 0; i < lab.nnodes && *nans < max; i++) {
		const struct lab_node *ln = &lab.nodes[i];
		struct ui_ans *an = &ans[*nans];
		size_t alen;

		if (lab_node_flows(ln, req, UI_ASK_TIMEOUT_S, &an->buf, &alen)) {
			pr_debug("lab ui: node %s: no answer on its flows socket\n", ln->name);
			snprintf(unreachable[(*nu)++], 64, "%.63s", ln->name);
			continue;
		}
		snprintf(an->name, sizeof(an->name), "%.63s", ln->name);
		an->m.polsel = xcni_pin_get(ln->pin, "xcni_polsel");
		an->m.polname = xcni_pin_get(ln->pin, "xcni_polname");
		polsync_key6_open(&an->m.k6, ln->pin, NULL);
		(*nans)++;
	}
	lab_close(&lab);
	return 0;
}

/*
 * The connections whose merged record matches mf (the filters on the ends,
 * verdict, reason, Service: flows_req_split), as a JSON object of their
 * keys: every node's part of them goes into the graph, so a node that does
 * not name a remote end, or only forwarded it, keeps its part.
 */
static json_t *merged_keys(const struct flow_filter *mf, struct ui_ans *ans, size_t nans)
{
	json_t *cache = json_object(), *keep = json_object(), *per;
	const char *key;

	if (!cache || !keep)
		goto fail;
	for (size_t i = 0; i < nans; i++)
		for (const char *line = ans[i].buf; *line;) {
			size_t l = strcspn(line, "\n");
			json_t *o = json_loadb(line, l, 0, NULL), *pn;
			const char *node;
			char k[300];

			line += l + (line[l] == '\n');
			if (!o || !json_object_get(o, "source")) {
				json_decref(o);
				continue;
			}
			node = json_string_value(json_object_get(o, "node")) ?: ans[i].name;
			flows_conn_key(o, k, sizeof(k));
			pn = json_object_get(cache, k);
			if (!pn && (json_object_set_new(cache, k, pn = json_object()) || !pn)) {
				json_decref(o);
				goto fail;
			}
			json_object_set_new(pn, node, o);
		}
	json_object_foreach(cache, key, per)
	{
		json_t *m = flows_merge_conn(per);

		if (m && flows_json_match(mf, m))
			json_object_set_new(keep, key, json_true());
		json_decref(m);
	}
	json_decref(cache);
	return keep;
fail:
	json_decref(cache);
	json_decref(keep);
	return NULL;
}

/*
 * The filters of the query a checked here (a bad one is the browser's 400),
 * then split: what each node judges alone into nreq, the merged view's into
 * mf (*merged: there is one). 0, or -errno with the page's answer in body.
 */
static int ui_filters(const struct http_args *a, char *nreq, size_t nlen, struct flow_filter *mf,
		      bool *merged, char **body, size_t *len)
{
	char req[UI_REQ_MAX], mreq[UI_REQ_MAX], err[300];
	struct flow_filter ff;
	size_t rl = 0;

	req[0] = '\0';
	flow_filter_init(&ff);
	for (size_t i = 0; i < a->n; i++) {
		if (flow_filter_set(&ff, a->v[i].key, a->v[i].value, err, sizeof(err))) {
			flow_filter_free(&ff);
			*len = (size_t)asprintf(body, "%s\n", err);
			return *len == (size_t)-1 ? -ENOMEM : -EINVAL;
		}
		rl += (size_t)snprintf(req + rl, sizeof(req) - rl, "%s=%s\n", a->v[i].key,
				       a->v[i].value);
		if (rl >= sizeof(req)) {
			flow_filter_free(&ff);
			*len = (size_t)asprintf(body, "filters: longer than %d bytes\n", UI_REQ_MAX);
			return *len == (size_t)-1 ? -ENOMEM : -EINVAL;
		}
	}
	flow_filter_free(&ff);
	/* Each node is asked what it can judge alone; the rest is the merged view's. */
	if (flows_req_split(req, nreq, nlen, mreq, sizeof(mreq)) ||
	    flow_filter_parse(mf, mreq, err, sizeof(err))) {
		*len = (size_t)asprintf(body, "filters: cannot be split for the merge\n");
		return *len == (size_t)-1 ? -ENOMEM : -EINVAL;
	}
	*merged = mreq[0];
	return 0;
}

/*
 * Each node's records into g (keep: the merged view's connections, NULL every
 * one), its name into names; its answer and maps freed whatever ret says.
 * ret: the error so far, returned (or the first of adding).
 */
static int ui_add_answers(struct fgraph *g, struct ui_ans *ans, size_t nans, json_t *keep,
			  char (*names)[64], size_t *nn, int ret)
{
	for (size_t i = 0; i < nans; i++) {
		struct ui_ans *an = &ans[i];
		char *line, *nl;

		snprintf(names[(*nn)++], 64, "%.63s", an->name);
		for (line = an->buf; *line && !ret; line = nl + 1) {
			nl = strchr(line, '\n');
			*nl = '\0';
			if (keep) {
				json_t *o = json_loads(line, 0, NULL);
				char k[300];

				if (!o)
					continue;
				flows_conn_key(o, k, sizeof(k));
				json_decref(o);
				if (!json_object_get(keep, k))
					continue;
			}
			ret = add_line(g, line, &an->m);
			if (ret == -EINVAL) {
				pr_warn("ui: node %s: a line that is no JSON, skipped\n", an->name);
				ret = 0;
			}
		}
		xcni_close(&an->m.polsel);
		xcni_close(&an->m.polname);
		polsync_key6_close(&an->m.k6);
		free(an->buf);
		an->buf = NULL;
	}
	return ret;
}

/* The graph rendered into b, with the nodes, the unreachable, and the same view's command. */
static int ui_render(struct fgraph *g, const struct ui_src *src, char (*names)[64], size_t nn,
		     char (*unreachable)[64], size_t nu, struct fbuf *b)
{
	struct fbuf extra = {};
	int ret;

	json_list(&extra, "node_names", names, nn);
	json_list(&extra, "unreachable", unreachable, nu);
	/* The same view as a command line (the page shows it). */
	flows_fbuf_printf(&extra, ",\"flows_args\":");
	fg_json_str(&extra, src->cmd);
	if (src->list_err[0]) {
		flows_fbuf_printf(&extra, ",\"list_error\":");
		fg_json_str(&extra, src->list_err);
	}
	ret = extra.err ?: fg_render(g, extra.p, b);
	flows_fbuf_free(&extra);
	return ret;
}

static int render_graph(void *ctx, const struct http_args *a, char **body, size_t *len)
{
	static char names[LAB_MAX_NODES][64], unreachable[LAB_MAX_NODES][64];
	static struct ui_ans ans[LAB_MAX_NODES];
	struct ui_src *src = ctx;
	char nreq[UI_REQ_MAX];
	struct fbuf b = { .max = 64u << 20 };
	size_t nn = 0, nu = 0, nans = 0;
	struct flow_filter mf;
	struct fgraph *g = NULL;
	json_t *keep = NULL;
	bool merged = false;
	int ret;

	flow_filter_init(&mf);
	ret = ui_filters(a, nreq, sizeof(nreq), &mf, &merged, body, len);
	if (!ret)
		ret = gather(src, nreq, ans, LAB_MAX_NODES, &nans, unreachable, &nu);
	if (ret) {
		flow_filter_free(&mf);
		return ret;
	}
	if (merged && !(keep = merged_keys(&mf, ans, nans)))
		ret = -ENOMEM;
	flow_filter_free(&mf);
	if (!ret)
		ret = fg_new(&g);
	ret = ui_add_answers(g, ans, nans, keep, names, &nn, ret);
	json_decref(keep);
	if (!ret)
		ret = ui_render(g, src, names, nn, unreachable, nu, &b);
	fg_free(g);
	if (ret) {
		flows_fbuf_free(&b);
		return ret;
	}
	*body = b.p;
	*len = b.len;
	return 0;
}

/* Serves the page and /api/graph from src at addr until interrupted. 0, or 1 (said). */
static int serve(struct ui_src *src, const char *who, const char *addr, bool remote)
{
	struct http *h = NULL;

	if (http_open(addr, remote, &h))
		return 1;
	if (http_route(h, "/", "text/html; charset=utf-8", fg_render_page, NULL) ||
	    http_route(h, "/api/graph", "application/json", render_graph, src)) {
		http_free(h);
		return 1;
	}
	xcni_stop_signals(NULL, true);
	signal(SIGPIPE, SIG_IGN);
	printf("%s: serving http://%s/ (interrupt to stop)\n", who, addr);
	fflush(stdout);
	while (!xcni_stop) {
		struct pollfd p = { .fd = http_fd(h), .events = POLLIN };

		if (poll(&p, 1, -1) > 0 && p.revents)
			http_dispatch(h);
	}
	http_free(h);
	return 0;
}

static int check_listen(const char *who, const char *addr, bool remote)
{
	int err = http_check_addr(addr, remote);

	if (err)
		fprintf(stderr, "%s: --listen %s: %s\n", who, addr,
			err == -EPERM ? "not a loopback address: whoever reaches it reads the "
					"cluster's flows; give --http-allow-remote to mean that" :
					"HOST:PORT, e.g. 127.0.0.1:9963 or [::1]:9963");
	return err;
}

#define UI_LISTEN_OPTS                                                                       \
	{ "listen", 0, true, 'l', 0, "HOST:PORT", "where (default " UI_LISTEN_DEFAULT ")" }, \
		{ "http-allow-remote", 0, false, 'R', 0, NULL, "an address not loopback" },  \
		{ "help", 'h', false, 'h', 0, NULL, "this text" }
const struct pt_opt lab_ui_opts[] = { UI_LISTEN_OPTS, {} };

/* xcnictl ui's options (completion lists them too) */
const struct pt_opt ctl_ui_opts[] = {
	UI_LISTEN_OPTS,
	{ "kubeconfig", 0, true, 'K', 0, "FILE", "find the agents through this API server" },
	{ "cluster", 0, false, 'C', 0, NULL, "... through the one kubectl would ask" },
	{ "agent", 0, true, 'A', 0, "ADDR[:PORT]", "an agent (port 4244 unless given)" },
	{ "tls", 0, true, 'L', 0, "DIR", "the flows client certificate (XCNI_FLOWS_TLS)" },
	{}
};

/*
 * xcnictl ui's options into src (the agents given into given, *ngiven), checked
 * with the TLS directory and the address: -1 to go on, else the exit code (said).
 * given NULL: lab ui's, its address alone.
 */
static int ui_parse(int argc, char **argv, struct ui_src *src, struct flows_agent *given,
		    size_t *ngiven, const char **addr, bool *remote)
{
	const char *who = given ? "ui" : "lab ui", *syn = given ?
		"ui --kubeconfig FILE | --cluster | --agent ADDR... --tls DIR [OPTIONS]" :
		"lab ui [OPTIONS]";
	const struct pt_opt *opts = given ? ctl_ui_opts : lab_ui_opts;
	char msg[600];
	int opt;

	optind = 1;
	while ((opt = pt_getopt(argc, argv, opts, false, NULL)) != -1) {
		switch (opt) {
		case 'l': *addr = optarg; break;
		case 'R': *remote = true; break;
		case 'K': src->kubeconfig = optarg; src->cluster = true; break;
		case 'C': src->cluster = true; break;
		case 'L': src->tls_dir = optarg; break;
		case 'A':
			if (*ngiven == LAB_MAX_NODES)
				return said(2, "ui: --agent: at most %d\n", LAB_MAX_NODES);
			if (flows_agent_parse(optarg, &given[*ngiven], msg, sizeof(msg)))
				return said(2, "ui: %s\n", msg);
			(*ngiven)++;
			break;
		default: return pt_usage(opt == 'h' ? stdout : stderr, syn, opts);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument %s\n", who, argv[optind]);
		return pt_usage(stderr, syn, opts);
	}
	if (!given)
		return check_listen(who, *addr, *remote) ? 2 : -1;
	if (!!*ngiven + !!src->cluster != 1)
		return said(2, "ui: give the agents one way: --kubeconfig FILE, --cluster or "
			       "--agent ADDR (in a lab: xcnictl lab ui)\n");
	if (!src->tls_dir)
		src->tls_dir = getenv("XCNI_FLOWS_TLS");
	if (!src->tls_dir || !*src->tls_dir)
		return said(2, "ui: give --tls DIR (or XCNI_FLOWS_TLS): a client certificate and "
			    "key the agents' CA signed (tls.crt, tls.key) and that CA (ca.crt)\n");
	if (flows_tls_check(src->tls_dir, msg, sizeof(msg)))
		return said(2, "ui: %s\n", msg);
	return check_listen("ui", *addr, *remote) ? 2 : -1;
}

int lab_cmd_ui(int argc, char **argv)
{
	static struct ui_src src = { .cmd = "--node all" };
	const char *addr = UI_LISTEN_DEFAULT;
	bool remote = false;
	struct lab lab;
	int err = ui_parse(argc, argv, &src, NULL, NULL, &addr, &remote);

	if (err >= 0)
		return err;
	err = lab_open(&lab, false);
	if (err) {
		if (err == -ENOENT)
			fprintf(stderr, "lab ui: no lab is up (xcnictl lab up starts one)\n");
		return 1;
	}
	lab_close(&lab);
	return serve(&src, "lab ui", addr, remote);
}

/*
 * The agents: the API server's first list (a kubeconfig that cannot work is
 * said before serving), or those given; src->cmd the same view's arguments.
 * -1 to go on, else the exit code (said).
 */
static int ui_agents(struct ui_src *src, struct flows_agent *given, size_t ngiven)
{
	size_t cl = 0;

	if (!src->cluster) {
		src->agents = given;
		src->nagents = ngiven;
		for (size_t i = 0; i < ngiven; i++)
			xcni_bufadd(src->cmd, sizeof(src->cmd), &cl, "--agent %s ", given[i].node);
		xcni_bufadd(src->cmd, sizeof(src->cmd), &cl, "--tls %s", src->tls_dir);
		return -1;
	}
	relist(src);
	if (!src->agents) {
		if (src->list_err[0] && strcmp(src->list_err, "the kubeconfig cannot be read"))
			fprintf(stderr, "ui: %s\n", src->list_err);
		return !strcmp(src->list_err, "the kubeconfig cannot be read") ? 2 : 1;
	}
	for (size_t i = 0; i < src->nagents; i++)
		if (src->agents[i].why[0])
			fprintf(stderr, "ui: node %s: %s\n", src->agents[i].node, src->agents[i].why);
	snprintf(src->cmd, sizeof(src->cmd), "%s%s --tls %s",
		 src->kubeconfig ? "--kubeconfig " : "--cluster",
		 src->kubeconfig ? src->kubeconfig : "", src->tls_dir);
	return -1;
}

int ctl_ui_main(int argc, char **argv)
{
	static struct ui_src src = { .remote = true };
	static struct flows_agent given[LAB_MAX_NODES];
	const char *addr = UI_LISTEN_DEFAULT;
	bool remote = false;
	size_t ngiven = 0;
	int rc;

	rc = ui_parse(argc, argv, &src, given, &ngiven, &addr, &remote);
	if (rc >= 0)
		return rc;
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return said(1, "ui: cannot start libcurl\n");
	rc = ui_agents(&src, given, ngiven);
	if (rc >= 0) {
		curl_global_cleanup();
		return rc;
	}
	rc = serve(&src, "ui", addr, remote);
	if (src.cluster)
		free(src.agents);
	curl_global_cleanup();
	return rc;
}
