// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl lab ui: one service map of every lab node's flows. xcnictl serves
 * the page xcnid --ui serves (the same bytes, agent/uipage.c) through the
 * agent's HTTP server (agent/http.c), and answers /api/graph itself: at each
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

#include <bpf/bpf.h>

#include "lib/observe/flowgraph.h"
#include "lib/observe/flows.h"
#include "lib/system/log.h"
#include "agent/http.h"
#include "agent/ui.h"
#include "lab/state.h"
#include "lab/ui.h"

#define UI_LISTEN_DEFAULT "127.0.0.1:9963"
#define UI_ASK_TIMEOUT_S 3
#define UI_ANSWER_MAX (256u << 20)
#define UI_REQ_MAX 4096

static volatile sig_atomic_t stop;
static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

static const char ui_help[] =
	"Usage: xcnictl lab ui [--listen HOST:PORT] [--http-allow-remote]\n\n"
	"Serves the service map of every lab node's flows at http://HOST:PORT/\n"
	"(default " UI_LISTEN_DEFAULT "): namespaces, pods and Services as nodes, flows as\n"
	"edges coloured by verdict with their counts, updated every 2 s; click an edge\n"
	"for its flows and the policies that decided them. The graph is at /api/graph\n"
	"(query arguments: xcnictl flows' filters, e.g. ?verdict=denied&since=5m).\n"
	"Flows are on in every agent unless lab up --agent-arg --flows=false. Runs until\n"
	"interrupted.\n\n"
	"  --listen HOST:PORT     where to serve (a loopback address unless...)\n"
	"  --http-allow-remote    ...this: whoever reaches it reads the cluster's flows\n";

/* One node's records: the answer to req on its flows socket, into *out (NUL-ended). */
static int ask(const char *sock, const char *req, size_t reqlen, char **out, size_t *outlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = UI_ASK_TIMEOUT_S };
	size_t len = 0, cap = 0;
	char *buf = NULL, *p;
	int fd, err = 0;
	ssize_t n;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, req, reqlen) != (ssize_t)reqlen || shutdown(fd, SHUT_WR)) {
		err = -errno;
		goto out;
	}
	for (;;) {
		if (cap - len < 65536) {
			if (cap >= UI_ANSWER_MAX) {
				err = -E2BIG;
				goto out;
			}
			p = realloc(buf, cap ? cap * 2 : 1 << 16);
			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			buf = p;
			cap = cap ? cap * 2 : 1 << 16;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (!len || buf[len - 1] != '\n')
		err = -EIO; /* cut short: xcnid busy or stopping */
out:
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void end_of(json_t *o, struct fg_end *e)
{
	*e = (struct fg_end){
		.kind = jstr(o, "kind"), .ns = jstr(o, "namespace"), .pod = jstr(o, "pod"),
		.labels = jstr(o, "labels"), .ip = jstr(o, "ip"), .port = (uint16_t)json_integer_value(json_object_get(o, "port")),
	};
}

struct node_maps {
	int polsel, polname, polkey6;
};

/* One record line of a node's answer into g. */
static int add_line(struct fgraph *g, const char *line, const struct node_maps *m)
{
	const char *v, *reason, *side;
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
	f.node = jstr(o, "node");
	f.family = jstr(o, "family");
	f.proto = jstr(o, "protocol");
	end_of(json_object_get(o, "source"), &f.src);
	end_of(json_object_get(o, "destination"), &f.dst);
	f.service = jstr(o, "service");
	v = jstr(o, "verdict");
	f.verdict = !v ? FLOW_ALLOWED : !strcmp(v, "denied") ? FLOW_DENIED :
		    !strcmp(v, "audit") ? FLOW_AUDIT : !strcmp(v, "forwarded") ? FLOW_FORWARDED :
		    FLOW_ALLOWED;
	f.point = jstr(o, "observation_point");
	f.side = side = jstr(o, "policy_side");
	f.policy = jstr(o, "policy");
	if (json_is_integer(json_object_get(o, "rule")))
		f.rule = (int)json_integer_value(json_object_get(o, "rule"));
	f.reason = reason = jstr(o, "drop_reason");
	f.pkts = (uint64_t)json_integer_value(json_object_get(o, "packets"));
	f.bytes = (uint64_t)json_integer_value(json_object_get(o, "bytes"));
	f.reply_pkts = (uint64_t)json_integer_value(json_object_get(o, "reply_packets"));
	f.reply_bytes = (uint64_t)json_integer_value(json_object_get(o, "reply_bytes"));
	if (json_is_string(json_object_get(o, "last_seen"))) {
		int64_t w;

		if (!flow_time_parse(jstr(o, "last_seen"), &w))
			f.last_seen = (double)w / 1e9;
	} else {
		f.last_seen = json_number_value(json_object_get(o, "last_seen"));
	}
	f.isolators = jstr(o, "isolated_by");
	if (f.verdict == FLOW_DENIED && !f.policy && !f.isolators && reason &&
	    (!strcmp(reason, "drop-policy-ingress") || !strcmp(reason, "drop-policy-egress"))) {
		bool in = !strcmp(reason, "drop-policy-ingress");

		if (fg_isolators(m->polsel, m->polname, m->polkey6, in ? f.dst.ip : f.src.ip, in,
				 iso, sizeof(iso)))
			f.isolators = iso;
	}
	err = fg_add(g, &f);
	json_decref(o);
	return err == -E2BIG ? 0 : err;
}

static int open_pinned(const char *pin, const char *name)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", pin, name);
	return bpf_obj_get(path);
}

static void json_list(struct fbuf *b, const char *name, char (*v)[64], size_t n)
{
	fbuf_printf(b, ",\"%s\":[", name);
	for (size_t i = 0; i < n; i++) {
		fbuf_printf(b, "%s", i ? "," : "");
		fg_json_str(b, v[i]);
	}
	fbuf_printf(b, "]");
}

static int render_graph(void *ctx, const struct http_args *a, char **body, size_t *len)
{
	static char names[LAB_MAX_NODES][64], unreachable[LAB_MAX_NODES][64];
	char req[UI_REQ_MAX], err[300];
	struct fbuf b = { .max = 64u << 20 }, extra = {};
	size_t rl = 0, nn = 0, nu = 0;
	struct flow_filter ff;
	struct fgraph *g = NULL;
	struct lab lab;
	int ret;

	(void)ctx;
	/* The filters checked here (a bad one is the browser's 400), then sent as given. */
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
	ret = lab_open(&lab, false);
	if (ret)
		return ret == -ENOENT ? -ENOENT : ret;
	ret = fg_new(&g);
	for (size_t i = 0; i < lab.nnodes && !ret; i++) {
		const struct lab_node *ln = &lab.nodes[i];
		struct node_maps m;
		char pin[PATH_MAX], sock[108], *ans = NULL, *line, *nl;
		size_t alen;

		if (ln->pin[0])
			snprintf(pin, sizeof(pin), "%s", ln->pin);
		else
			snprintf(pin, sizeof(pin), "%s/%s", LAB_PIN_ROOT, ln->name);
		if (flows_sock_path(pin, sock, sizeof(sock)) ||
		    ask(sock, req, rl, &ans, &alen)) {
			pr_debug("lab ui: node %s: no answer on its flows socket\n", ln->name);
			snprintf(unreachable[nu++], 64, "%.63s", ln->name);
			continue;
		}
		snprintf(names[nn++], 64, "%.63s", ln->name);
		m.polsel = open_pinned(pin, "xcni_polsel");
		m.polname = open_pinned(pin, "xcni_polname");
		m.polkey6 = open_pinned(pin, "xcni_polkey6");
		for (line = ans; *line && !ret; line = nl + 1) {
			nl = strchr(line, '\n');
			*nl = '\0';
			ret = add_line(g, line, &m);
			if (ret == -EINVAL) {
				pr_warn("lab ui: node %s: a line that is no JSON, skipped\n", ln->name);
				ret = 0;
			}
		}
		for (int *p = (int[]){ m.polsel, m.polname, m.polkey6, -2 }; *p != -2; p++)
			if (*p >= 0)
				close(*p);
		free(ans);
	}
	lab_close(&lab);
	if (!ret) {
		json_list(&extra, "node_names", names, nn);
		json_list(&extra, "unreachable", unreachable, nu);
		ret = extra.err ?: fg_render(g, extra.p, &b);
	}
	fg_free(g);
	fbuf_free(&extra);
	if (ret) {
		fbuf_free(&b);
		return ret;
	}
	*body = b.p;
	*len = b.len;
	return 0;
}

int lab_cmd_ui(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "http-allow-remote", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *addr = UI_LISTEN_DEFAULT;
	struct sigaction sa = { .sa_handler = on_sig };
	struct http *h = NULL;
	bool remote = false;
	struct lab lab;
	int opt, err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'l': addr = optarg; break;
		case 'R': remote = true; break;
		case 'h': fputs(ui_help, stdout); return 0;
		default: fputs(ui_help, stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lab ui: unexpected argument %s\n", argv[optind]);
		fputs(ui_help, stderr);
		return 2;
	}
	err = http_check_addr(addr, remote);
	if (err) {
		fprintf(stderr, "lab ui: --listen %s: %s\n", addr,
			err == -EPERM ? "not a loopback address: whoever reaches it reads the "
					"cluster's flows; give --http-allow-remote to mean that" :
					"HOST:PORT, e.g. 127.0.0.1:9963 or [::1]:9963");
		return 2;
	}
	err = lab_open(&lab, false);
	if (err) {
		if (err == -ENOENT)
			fprintf(stderr, "lab ui: no lab is up (xcnictl lab up starts one)\n");
		return 1;
	}
	lab_close(&lab);
	if (http_open(addr, remote, &h))
		return 1;
	if (http_route(h, "/", "text/html; charset=utf-8", ui_render_page, NULL) ||
	    http_route(h, "/api/graph", "application/json", render_graph, NULL)) {
		http_free(h);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("lab ui: serving http://%s/ (interrupt to stop)\n", addr);
	fflush(stdout);
	while (!stop) {
		struct pollfd p = { .fd = http_fd(h), .events = POLLIN };

		if (poll(&p, 1, -1) > 0 && p.revents)
			http_dispatch(h);
	}
	http_free(h);
	return 0;
}
