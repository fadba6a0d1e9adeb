// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl flows: the flow records xcnid keeps (xcnid --flows), asked for over
 * its Unix socket, with filters as hubble observe has them. The filters are
 * parsed here first (user/lib/observe/flows.c, so a bad one is refused before
 * anything is asked) and sent as they were given; xcnid parses them again
 * with the same code and answers the matching records as JSON lines and a
 * trailer with the cursor --follow passes back.
 *
 * Several nodes (--node all): a connection between two nodes is recorded by
 * both (the sender's forwarded it into the overlay, the receiver's judged
 * it); their records are merged into one, the deciding node's (a drop over
 * an audit over an allow over a forward), with every node's verdict, point
 * and counts beside it ("nodes"). --follow keeps each node's last record of a
 * connection so that a change on one node merges with what the other said.
 * Merged, --last N and --first N are the merged view's: every node is asked
 * for all its matching records (a node's last N may leave out its part of a
 * connection that another node changed last), and the cut is made after.
 *
 * Agents elsewhere (--agent ADDR, xcnid --flows-listen): the same request
 * over HTTPS with a client certificate (--tls DIR), each agent connected to
 * by its address under the name its certificate carries (FLOWS_TLS_NAME).
 */
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "ctl/ctl.h"
#include "lib/cluster/k8sagents.h"
#include "lib/observe/flows.h"
#include "lib/observe/flowsnet.h"
#include "lib/observe/vocab.h"

#define FLOWS_MAX_NODES 256
#define FLOWS_REQ_MAX 4096
#define FLOWS_TIMEOUT_S 10

struct target {
	char node[64]; /* "" outside a lab; an agent's ADDR:PORT until its records name it */
	char sock[108];
	/* --agent, --kubeconfig: HTTPS to the agent (flowsnet.h). */
	bool remote;
	struct flows_agent agent;
	uint64_t cursor;
	bool answered; /* this round */
	char err[200]; /* why it did not */
	/* --follow: it did not answer last time (said once, until it answers again). */
	bool down;
	bool listed; /* --follow on a cluster: in the last list of the agents */
};

struct fopts {
	bool wide; /* -o wide: every field in text; else what fits FLOWS_TEXT_COLS */
	bool json, follow, header_done, per_node, negate, has_last, has_first, mono;
	int wsrc, wdst; /* the default text's SOURCE and DESTINATION widths: the rows' widest */
	size_t cut; /* --last/--first N: kept after several nodes' records are together */
	const char *tls_dir; /* --agent: the client's tls.crt, tls.key and the CA's ca.crt */
	char req[FLOWS_REQ_MAX];
	size_t reqlen;
	/* Several nodes merged: each node's last record of a connection, by key
	 * then node, and the keys changed in this round, in the order they came. */
	json_t *cache, *changed;
	/* Several nodes, not merged (--per-node): the round's records, to be cut together. */
	json_t *rows;
	/* Merged: what each node is asked (flows_req_split), and the filters
	 * on the ends, verdict, reason and Service, checked on the merged record. */
	char node_req[FLOWS_REQ_MAX];
	struct flow_filter merged;
	bool has_merged;
};

/* --follow begins with the last this many records when neither --last nor --first is given. */
#define FLOWS_FOLLOW_LAST 20

/*
 * One filter: checked here with those before it, as xcnid will read the
 * request (a source given twice is refused here, not there), then sent.
 * 0 or -EINVAL (said).
 */
static int add_filter(struct fopts *fo, const char *opt, const char *val)
{
	struct flow_filter ff;
	char err[300], name[40], req[FLOWS_REQ_MAX + 64];
	int n, e;

	snprintf(name, sizeof(name), "%s%s", fo->negate ? "not." : "", opt);
	fo->negate = false;
	snprintf(req, sizeof(req), "%.*s%s=%s\n", (int)fo->reqlen, fo->req, name,
		 strchr(val, '\n') ? "" : val);
	e = flow_filter_parse(&ff, req, err, sizeof(err));
	if (e) {
		flow_filter_free(&ff);
		return pr_err_ret(-EINVAL, "%s\n", err);
	}
	if (ff.last || ff.first)
		fo->cut = (size_t)(ff.last ? ff.last : ff.first);
	flow_filter_free(&ff);
	if (!strcmp(name, "last"))
		fo->has_last = true;
	if (!strcmp(name, "first"))
		fo->has_first = true;
	if (strchr(val, '\n'))
		return pr_err_ret(-EINVAL, "--%s: a newline in the value\n", name);
	n = snprintf(fo->req + fo->reqlen, sizeof(fo->req) - fo->reqlen, "%s=%s\n", name, val);
	if (n < 0 || (size_t)n >= sizeof(fo->req) - fo->reqlen - 32)
		return pr_err_ret(-EINVAL, "--%s: the filters are too long together\n", name);
	fo->reqlen += (size_t)n;
	return 0;
}

void flows_peer_str(json_t *p, bool wide, char *buf, size_t len)
{
	const char *ns = json_string_value(json_object_get(p, "namespace"));
	const char *pod = json_string_value(json_object_get(p, "pod"));
	const char *kind = json_string_value(json_object_get(p, "kind"));
	const char *ip = json_string_value(json_object_get(p, "ip"));
	json_int_t port = json_integer_value(json_object_get(p, "port"));
	bool v6 = ip && strchr(ip, ':');
	char addr[80];

	snprintf(addr, sizeof(addr), "%s%s%s:%lld", v6 ? "[" : "", ip ? ip : "?", v6 ? "]" : "",
		 (long long)port);
	if (pod && !wide)
		snprintf(buf, len, "%s/%s:%lld", ns ? ns : "?", pod, (long long)port);
	else if (pod)
		snprintf(buf, len, "%s/%s %s", ns ? ns : "?", pod, addr);
	else if (wide)
		snprintf(buf, len, "%s %s", ns ? ns : (kind ? kind : "?"), addr);
	else
		snprintf(buf, len, "%s", addr);
}

/* A record's time field as text: RFC 3339 to the millisecond, or monotonic seconds. */
static void time_str(json_t *v, char *buf, size_t len)
{
	const char *t = json_string_value(v);

	if (t) {
		/* "2026-11-26T03:04:05.123456Z": the microseconds cut to milliseconds. */
		const char *dot = strchr(t, '.');

		if (dot && strlen(dot) == 8)
			snprintf(buf, len, "%.*sZ", (int)(dot + 4 - t), t);
		else
			snprintf(buf, len, "%s", t);
	} else if (json_is_number(v)) {
		snprintf(buf, len, "%.3f", json_number_value(v));
	} else {
		snprintf(buf, len, "-");
	}
}

/*
 * The default text's ends: NS/POD:PORT, else ADDRESS:PORT; a NodePort flow
 * SNATed on its way, who called (not the node that SNATed); a Service with
 * no backend, its NS/NAME, not its ClusterIP.
 */
static void narrow_ends(json_t *o, char *src, char *dst, size_t len)
{
	json_t *d = json_object_get(o, "destination");
	const char *svc = json_string_value(json_object_get(o, "service"));

	flows_peer_str(json_object_get(o, "source"), false, src, len);
	flows_peer_str(d, false, dst, len);
	if (json_is_string(json_object_get(o, "client")))
		snprintf(src, len, "%s", json_string_value(json_object_get(o, "client")));
	if (svc && !json_object_get(o, "backend") &&
	    flow_verdict_parse(json_string_value(json_object_get(o, "verdict")) ?: "") == FLOW_NO_BACKEND)
		snprintf(dst, len, "%s:%lld", svc,
			 (long long)json_integer_value(json_object_get(d, "port")));
}

/* SOURCE and DESTINATION as wide as the widest of rows (n of them): the columns stay in line. */
static void narrow_widths(struct fopts *fo, json_t **rows, size_t n)
{
	char src[400], dst[400];

	for (size_t i = 0; i < n && !fo->wide && !fo->json; i++) {
		narrow_ends(rows[i], src, dst, sizeof(src));
		if ((int)strlen(src) > fo->wsrc)
			fo->wsrc = (int)strlen(src);
		if ((int)strlen(dst) > fo->wdst)
			fo->wdst = (int)strlen(dst);
	}
}

/*
 * One record in the default text, as hubble observe reads: NODE, the time
 * of day, the ends by name, the verdict word and what decided it (by, the
 * -o wide text's without the nodes' parts and TCP flags), wrapped at
 * FLOWS_TEXT_COLS under its own column, never cut.
 */
static void print_narrow(struct fopts *fo, json_t *o, const char *when, char *by)
{
	char src[400], dst[400];
	const char *node = json_string_value(json_object_get(o, "node")) ?: "-";
	const char *t = strchr(when, 'T');
	int used, ind, ws = fo->wsrc > 19 ? fo->wsrc : 19, wd = fo->wdst > 19 ? fo->wdst : 19;
	size_t room, n;

	if (!fo->header_done) {
		printf("%-4s %-12s %-*s %-*s %-10s %s\n", "NODE", fo->follow ? "UPDATED" : "TIME",
		       ws, "SOURCE", wd, "DESTINATION", "VERDICT", "BY");
		fo->header_done = true;
	}
	narrow_ends(o, src, dst, sizeof(src));
	/* "2026-11-26T03:04:05.123Z": the time of day (--time mono: the seconds). */
	/* VERDICT as wide as the longest fate word (no-backend). */
	used = printf("%-4s %-12.12s %-*s %-*s %-10s ", node, t ? t + 1 : when, ws, src, wd, dst,
		      json_string_value(json_object_get(o, "verdict")) ?: "?");
	/* No policy decided, a Service translated: "- svc ..." in -o wide. */
	if (!strncmp(by, "- svc ", 6))
		memmove(by, by + 2, strlen(by + 2) + 1);
	/* Ends wider than the line leaves room for: BY on lines of its own, indented. */
	ind = used > 0 && (used + 40 <= FLOWS_TEXT_COLS || used + strlen(by) <= FLOWS_TEXT_COLS) ?
		      used : 4;
	room = FLOWS_TEXT_COLS - (size_t)ind;
	if (ind != used)
		printf("\n");
	/* Wrapped at a space before the room ends (a word longer than it: whole). */
	for (const char *p = by; *p; p += n + (p[n] == ' ')) {
		n = strlen(p);
		if (n > room) {
			const char *sp = memrchr(p, ' ', room);

			n = sp && sp > p ? (size_t)(sp - p) : strcspn(p, " ");
		}
		printf("%*s%.*s\n", p == by && ind == used ? 0 : ind, "", (int)n, p);
	}
	if (!*by)
		printf("\n");
}

/* One record as a line of columns. */
static void print_text(struct fopts *fo, json_t *o)
{
	json_t *flags;
	char src[400], dst[400], by[1200], when[48], fl[40] = "", verdict[48];
	const char *policy, *reason, *svc, *be, *iso, *prev, *point, *vword, *nm;
	int fate;
	size_t i;
	json_t *v;

	if (!fo->header_done && fo->wide) {
		printf("%-8s %-24s %-6s %-42s %-42s %-22s %-11s %-13s %s\n", "NODE",
		       fo->follow ? "UPDATED" : "TIME", "PROTO", "SOURCE", "DESTINATION",
		       "POINT VERDICT", "PKTS", "BYTES", "BY");
		fo->header_done = true;
	}
	flows_peer_str(json_object_get(o, "source"), true, src, sizeof(src));
	flows_peer_str(json_object_get(o, "destination"), true, dst, sizeof(dst));
	policy = json_string_value(json_object_get(o, "policy"));
	reason = json_string_value(json_object_get(o, "drop_reason"));
	svc = json_string_value(json_object_get(o, "service"));
	be = json_string_value(json_object_get(o, "backend"));
	iso = json_string_value(json_object_get(o, "isolated_by"));
	prev = json_string_value(json_object_get(o, "previous_verdict"));
	point = json_string_value(json_object_get(o, "observation_point"));
	vword = json_string_value(json_object_get(o, "verdict")) ?: "?";
	fate = flow_verdict_parse(vword);
	if (fate == FLOW_NO_BACKEND) {
		/* As Hubble says it: DROPPED (Service backend not found). */
		snprintf(by, sizeof(by), "Service backend not found (%s)", reason ?: "drop-no-backend");
	} else if (policy) {
		const char *rn = json_string_value(json_object_get(o, "rule_name"));
		const char *dom = json_string_value(json_object_get(o, "domain"));

		snprintf(by, sizeof(by), "%s %s rule %lld%s%s%s%s%s",
			 json_string_value(json_object_get(o, "policy_side")) ?: "", policy,
			 (long long)json_integer_value(json_object_get(o, "rule")), rn ? " \"" : "",
			 rn ? rn : "", rn ? "\"" : "", dom ? ": domain " : "", dom ? dom : "");
		if (reason)
			ctl_catf(by, sizeof(by), " (%s)", reason);
	} else if (reason)
		snprintf(by, sizeof(by), "%s", reason);
	else
		snprintf(by, sizeof(by), "-");
	/* Past the policy: the destination's RST, a closed port (never allowed),
	 * or its silence. */
	if (fate == FLOW_REFUSED || fate == FLOW_TIMEOUT) {
		bool none = !strcmp(by, "-");

		if (none)
			by[0] = '\0';
		ctl_catf(by, sizeof(by), "%s%s", none ? "" : "; ",
			 fate != FLOW_TIMEOUT ? "nothing listens: the destination answered RST" :
						    "nothing answered the SYN, no drop seen");
	}
	/* Nothing allows it: the policies that isolate the pod, as monitor and explain name them. */
	if (iso)
		ctl_catf(by, sizeof(by), "; isolated by %s", iso);
	/* The allow rules that nearly took it (explain's near misses, the record's):
	 * -o wide's line; the default text's lines of their own (below). */
	nm = json_string_value(json_object_get(o, "near_misses"));
	if (nm && fo->wide)
		ctl_catf(by, sizeof(by), "; near miss: %s", nm);
	if (prev) {
		const char *pp = json_string_value(json_object_get(o, "previous_policy"));

		ctl_catf(by, sizeof(by), "; was %s%s%s until a policy change", prev, pp ? " by " : "",
			 pp ? pp : "");
	}
	if (svc) {
		const char *sp = json_string_value(json_object_get(o, "service_path"));

		if (be || fate != FLOW_NO_BACKEND)
			ctl_catf(by, sizeof(by), " svc %s -> %s%s%s%s", svc, be ? be : "?",
				 sp ? " (" : "", sp ? sp : "", sp ? ")" : "");
		else
			ctl_catf(by, sizeof(by), " svc %s", svc);
	}
	if (json_is_string(json_object_get(o, "client")))
		ctl_catf(by, sizeof(by), " client %s (SNAT)", jstr(o, "client"));
	flags = json_object_get(o, "tcp_flags");
	json_array_foreach(flags, i, v)
		ctl_catf(fl, sizeof(fl), "%s%s", fl[0] ? "," : "", json_string_value(v));
	if (fo->wide)
		flows_nodes_cat(json_object_get(o, "nodes"), by, sizeof(by));
	time_str(json_object_get(o, fo->follow ? "updated" : "last_seen"), when, sizeof(when));
	if (!fo->wide) {
		print_narrow(fo, o, when, by);
		flow_near_miss_lines(stdout, nm, 5, FLOWS_TEXT_COLS);
		return;
	}
	snprintf(verdict, sizeof(verdict), "%s %s", point ? point : "-", vword);
	printf("%-8s %-24s %-6s %-42s %-42s %-22s %5lld/%-5lld %6lld/%-6lld %s%s%s%s\n",
	       json_string_value(json_object_get(o, "node")) ?: "-", when,
	       json_string_value(json_object_get(o, "protocol")) ?: "?", src, dst, verdict,
	       (long long)json_integer_value(json_object_get(o, "packets")),
	       (long long)json_integer_value(json_object_get(o, "reply_packets")),
	       (long long)json_integer_value(json_object_get(o, "bytes")),
	       (long long)json_integer_value(json_object_get(o, "reply_bytes")), by,
	       fl[0] ? " [" : "", fl, fl[0] ? "]" : "");
}

void flows_nodes_cat(json_t *nodes, char *buf, size_t len)
{
	size_t i;
	json_t *v;

	if (json_array_size(nodes) < 2)
		return;
	json_array_foreach(nodes, i, v)
		ctl_catf(buf, len, "%s%s %s %s %lld/%lld", i ? ", " : " {",
			 json_string_value(json_object_get(v, "node")) ?: "?",
			 json_string_value(json_object_get(v, "observation_point")) ?: "?",
			 json_string_value(json_object_get(v, "verdict")) ?: "?",
			 (long long)json_integer_value(json_object_get(v, "packets")),
			 (long long)json_integer_value(json_object_get(v, "reply_packets")));
	ctl_catf(buf, len, "}");
}

static void emit(struct fopts *fo, json_t *o)
{
	if (fo->json) {
		char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

		if (t)
			printf("%s\n", t);
		free(t);
	} else {
		print_text(fo, o);
	}
}

/* ---- several nodes: one record a connection ------------------------------------ */

/* One node's record into the cache; its key is among the round's changes. */
static int cache_add(struct fopts *fo, const char *node, json_t *o)
{
	char key[300];
	json_t *per;

	flows_conn_key(o, key, sizeof(key));
	per = json_object_get(fo->cache, key);
	if (!per) {
		per = json_object();
		if (!per || json_object_set_new(fo->cache, key, per))
			return -ENOMEM;
	}
	if (json_object_set(per, node, o) || json_object_set_new(fo->changed, key, json_true()))
		return -ENOMEM;
	return 0;
}

/*
 * By the time called key, the earliest first (qsort_r over json_t *):
 * "updated", least recently changed first, as one node answers (--follow);
 * "last_seen", the oldest last packet first, the order of the TIME column.
 */
static int by_time(const void *a, const void *b, void *key)
{
	json_t *x = json_object_get(*(json_t *const *)a, key);
	json_t *y = json_object_get(*(json_t *const *)b, key);

	return flows_json_later(x, y) ? 1 : flows_json_later(y, x) ? -1 : 0;
}

/*
 * Several nodes' records of a round (an array, taken): in the order of their
 * change, the last (--last) or first (--first) fo->cut of them in the first
 * round, printed.
 */
static void emit_rows(struct fopts *fo, json_t *rows, bool first)
{
	size_t n = json_array_size(rows), from = 0, to = n;
	json_t **v = n ? calloc(n, sizeof(*v)) : NULL;

	if (n && !v) {
		pr_err("flows: out of memory\n");
		json_decref(rows);
		return;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(rows, i);
	/* Stable enough: ties keep no order any node promised. */
	qsort_r(v, n, sizeof(*v), by_time, fo->follow ? "updated" : "last_seen");
	if (first && fo->cut && fo->cut < n) {
		if (fo->has_first)
			to = fo->cut;
		else
			from = n - fo->cut;
	}
	narrow_widths(fo, v + from, to - from);
	for (size_t i = from; i < to; i++)
		emit(fo, v[i]);
	free(v);
	json_decref(rows);
}

/* The round's changed connections, merged, in the order they changed. */
static void emit_changed(struct fopts *fo, bool first)
{
	json_t *rows = json_array(), *v;
	const char *key;

	json_object_foreach(fo->changed, key, v)
	{
		json_t *m = flows_merge_conn(json_object_get(fo->cache, key));

		if (m && rows && (!fo->has_merged || flows_json_match(&fo->merged, m)))
			json_array_append(rows, m);
		json_decref(m);
	}
	emit_rows(fo, rows, first);
	json_object_clear(fo->changed);
	/* Outside --follow nothing is asked again: nothing to keep. */
	if (!fo->follow)
		json_object_clear(fo->cache);
	fflush(stdout);
}

/*
 * The request for one node: the filters, less what is the merged view's
 * (the ends, verdict, reason, Service: checked once merged; --last/--first:
 * cut after the merge), and after the first round only what changed since.
 */
static size_t build_req(const struct fopts *fo, const struct target *t, bool first, char *req,
			size_t cap)
{
	size_t rl = 0;

	req[0] = '\0';
	for (const char *p = fo->cache ? fo->node_req : fo->req; *p;) {
		const char *e = strchr(p, '\n');
		size_t l = (size_t)(e - p) + 1;
		bool cut = !strncmp(p, "last=", 5) || !strncmp(p, "first=", 6);

		if ((first || !cut) && (!fo->cache || !cut))
			rl += (size_t)snprintf(req + rl, cap - rl, "%.*s", (int)l, p);
		p += l;
	}
	if (t->cursor)
		rl += (size_t)snprintf(req + rl, cap - rl, "after=%llu\n",
				       (unsigned long long)t->cursor);
	return rl;
}

/* The answer of an xcnid on its Unix socket, whole, into *out (NUL-ended). 0 or -errno (said). */
static int fetch_local(const struct target *t, const char *req, char **out, size_t *outlen)
{
	char why[600];
	int err = flows_local_get(t->sock, NULL, req, FLOWS_TIMEOUT_S, out, outlen, why,
				  sizeof(why));

	if (err == -ENOENT || err == -ECONNREFUSED)
		pr_err("flows%s%s: no xcnid answers on %s: %s (is it running, without --flows=false?)\n",
		       t->node[0] ? " --node " : "", t->node, t->sock, why);
	else if (err)
		pr_err("flows: %s: %s\n", t->sock, why);
	return err;
}

/* The answer of an agent over HTTPS (--agent, --kubeconfig). 0 or -errno (said). */
static int fetch_tls(const struct fopts *fo, struct target *t, const char *req,
		     char **out, size_t *outlen)
{
	char err[600];
	int e = flows_http_get(fo->tls_dir, &t->agent, NULL, req, FLOWS_TIMEOUT_S, out, outlen, err,
				sizeof(err));

	if (e) {
		if (!t->down)
			pr_err("flows: node %s (%s:%u): %s%s\n", t->node, t->agent.host, t->agent.port,
			       err, fo->follow ? " (said once until it answers again)" : "");
		snprintf(t->err, sizeof(t->err), "%.199s", err);
	}
	return e;
}

/*
 * One request to one xcnid: its records printed as they come (one node), or
 * kept for the round's merge or cut; the cursor taken from the trailer.
 * 0, or -errno (said).
 */
static int ask(struct fopts *fo, struct target *t, bool first)
{
	char req[FLOWS_REQ_MAX + 64], *buf = NULL, *line, *nl;
	size_t len = 0;
	int err;

	build_req(fo, t, first, req, sizeof(req));
	err = t->remote ? fetch_tls(fo, t, req, &buf, &len) : fetch_local(t, req, &buf, &len);
	if (err)
		return err;
	for (line = buf; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		if (!strncmp(line, "{\"error\":", 9)) {
			json_t *o = json_loads(line, 0, NULL);

			pr_err("flows%s%s: xcnid says: %s\n",
			       t->node[0] ? t->remote ? " --agent " : " --node " : "", t->node,
			       o ? json_string_value(json_object_get(o, "error")) : line);
			json_decref(o);
			err = -EINVAL;
			continue;
		}
		if (!strncmp(line, "{\"cursor\":", 10)) {
			uint64_t c = strtoull(line + 10, NULL, 10);

			/* Behind the one kept: a new xcnid (restarted) whose window began
			 * again; next time its records from the start, each once. */
			t->cursor = c < t->cursor ? 0 : c;
			if (xlog_max >= XLOG_INFO)
				fprintf(stderr, "%s%s%s\n", t->node, t->node[0] ? ": " : "", line);
			continue;
		}
		{
			json_t *o = json_loads(line, 0, NULL);
			/* An agent is known by its address until its records name it. */
			const char *node = t->remote ?
				json_string_value(json_object_get(o, "node")) ?: t->node : t->node;

			if (!o)
				continue;
			if (fo->cache) {
				if (cache_add(fo, node, o))
					err = -ENOMEM;
			} else if (fo->rows) {
				if (json_array_append(fo->rows, o))
					err = -ENOMEM;
			} else if (fo->json) {
				printf("%s\n", line);
			} else {
				print_text(fo, o);
			}
			json_decref(o);
		}
	}
	fflush(stdout);
	free(buf);
	return err;
}

/*
 * The nodes whose agents gave no records this round, named: on stderr, and
 * with --json as one line each on stdout ({"unanswered":{"node",
 * "address","error"}}), after the records.
 */
static void say_partial(const struct fopts *fo, const struct target *tg, size_t n,
			size_t answered)
{
	char names[1024] = "";
	size_t l = 0, missing = 0;

	for (size_t i = 0; i < n; i++) {
		if (tg[i].answered)
			continue;
		missing++;
		if (l < sizeof(names))
			l += (size_t)snprintf(names + l, sizeof(names) - l, "%s%s", l ? ", " : "",
					      tg[i].node);
		if (fo->json) {
			json_t *o = json_pack("{s:{s:s,s:s,s:s}}", "unanswered", "node", tg[i].node,
					      "address", tg[i].agent.host, "error",
					      tg[i].agent.why[0] ? tg[i].agent.why :
					      tg[i].err[0] ? tg[i].err : "no answer");
			char *t = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

			if (t)
				printf("%s\n", t);
			free(t);
			json_decref(o);
		}
	}
	fflush(stdout);
	if (!answered)
		pr_err("flows: no node answered (%s)\n", names);
	else
		pr_err("flows: %zu of %zu nodes answered; partial, without %s\n", answered,
		       answered + missing, names);
}

/* --follow on a cluster: the agents are listed again this often (rounds of ~1 s). */
#define FLOWS_RELIST_ROUNDS 5

/*
 * --follow on a cluster: the agents listed again through the API server, so
 * that a node that joins is asked, an agent pod that replaced another (a
 * restart, a rollout) is asked from the start of its window, and one that
 * went (its pod deleted or not running, its node gone) is named once and no
 * longer asked. A list that fails keeps the last (said once). The unasked
 * count into *nunasked.
 */
static void relist(const char *kubeconfig, struct target *tg, size_t *ntg, size_t *nunasked)
{
	static bool failed;
	struct flows_agent *fa;
	size_t n;
	char msg[600];

	if (flows_agents_cluster(kubeconfig, &fa, &n, msg, sizeof(msg))) {
		if (!failed)
			pr_err("flows: listing the agents again: %s (the last list kept)\n",
			       msg[0] ? msg : "no API server");
		failed = true;
		return;
	}
	failed = false;
	for (size_t i = 0; i < *ntg; i++)
		tg[i].listed = false;
	for (size_t j = 0; j < n; j++) {
		struct target *t = NULL;
		bool was_ok;

		for (size_t i = 0; i < *ntg && !t; i++)
			if (!strcmp(tg[i].node, fa[j].node))
				t = &tg[i];
		if (!t) {
			if (*ntg == FLOWS_MAX_NODES)
				continue;
			t = &tg[(*ntg)++];
			memset(t, 0, sizeof(*t));
			t->remote = true;
			t->agent = fa[j];
			t->listed = true;
			snprintf(t->node, sizeof(t->node), "%s", fa[j].node);
			if (fa[j].why[0])
				pr_err("flows: node %s joined: not asked: %s\n", t->node, fa[j].why);
			else
				pr_err("flows: node %s joined: agent pod %s (%s) asked from now on\n",
				       t->node, fa[j].pod, fa[j].host);
			continue;
		}
		t->listed = true;
		was_ok = !t->agent.why[0];
		if (!strcmp(t->agent.pod, fa[j].pod) && !strcmp(t->agent.host, fa[j].host) &&
		    !strcmp(t->agent.why, fa[j].why))
			continue;
		if (was_ok && fa[j].why[0])
			pr_err("flows: node %s: agent pod %s no longer asked: %s\n", t->node,
			       t->agent.pod, fa[j].why);
		else if (was_ok && strcmp(t->agent.pod, fa[j].pod))
			pr_err("flows: node %s: agent pod %s is gone, no longer asked; agent pod %s (%s) "
			       "asked from now on\n", t->node, t->agent.pod, fa[j].pod, fa[j].host);
		else if (!fa[j].why[0])
			pr_err("flows: node %s: agent pod %s (%s) asked from now on\n", t->node,
			       fa[j].pod, fa[j].host);
		/* Another pod: another xcnid, whose window and cursor begin anew. */
		if (strcmp(t->agent.pod, fa[j].pod)) {
			t->cursor = 0;
			t->down = false;
		}
		t->agent = fa[j];
	}
	for (size_t i = 0; i < *ntg; i++)
		if (tg[i].remote && !tg[i].listed && !tg[i].agent.why[0]) {
			pr_err("flows: node %s is no longer in the cluster (agent pod %s): no longer "
			       "asked\n", tg[i].node, tg[i].agent.pod);
			snprintf(tg[i].agent.why, sizeof(tg[i].agent.why), "no longer in the cluster");
		}
	*nunasked = 0;
	for (size_t i = 0; i < *ntg; i++)
		*nunasked += tg[i].agent.why[0] != '\0';
	free(fa);
}

/* flows' options: also what xcnictl's parser checks and completes (ctl.h). */
const struct pt_opt ctl_flows_opts[] = {
	CTL_WHERE_OPTS,
	{ "follow", 'f', false, 'f', 0, NULL, "the last 20, then each record as it changes" },
	{ "flows-socket", 0, true, 'S', 0, "PATH", "ask xcnid there (its --flows-socket)" },
	{ "from", 0, true, 1, 0, "X", "the source: pod:NS/NAME, ns:NS, label:SEL, ip:IP, ..." },
	{ "to", 0, true, 1, 0, "X", "the destination, as --from" },
	{ "verdict", 0, true, 1, 0, "V", "allowed, denied, refused, timeout, ... (the fates)" },
	{ "port", 0, true, 1, 0, "N", "either end's port" },
	{ "protocol", 0, true, 1, 0, "P", "tcp, udp, icmp, icmpv6, sctp or a number" },
	{ "service", 0, true, 1, 0, "NS/NAME[:PORT]", "flows translated for that Service" },
	{ "since", 0, true, 1, 0, "T", "seen since T: RFC 3339, or a duration before now (5m)" },
	{ "last", 0, true, 1, 0, "N", "only the last N that match" },
	/* Hubble's spellings (hubble observe), the same meaning. */
	{ "from-pod", 0, true, 1, 0, "[NS/]NAME", "the source pod (its name begins so)" },
	{ "to-pod", 0, true, 1, 0, "[NS/]NAME", "the destination pod" },
	{ "namespace", 'n', true, 'n', 0, "NS", "either end is a pod of NS" },
	{ "label", 0, true, 1, 0, "SELECTOR", "either end's labels match" },
	{ "from-port", 0, true, 1, 0, "N", "the source's port" },
	{ "to-port", 0, true, 1, 0, "N", "the destination's port" },
	{ "until", 0, true, 1, 0, "T", "seen until T" },
	{ "first", 0, true, 1, 0, "N", "only the first N that match" },
	{ "from-ip", 0, true, 1, 0, "IP", "--from ip:IP" },
	{ "to-ip", 0, true, 1, 0, "IP", "--to ip:IP" },
	{ "from-namespace", 0, true, 1, 0, "NS", "--from ns:NS" },
	{ "to-namespace", 0, true, 1, 0, "NS", "--to ns:NS" },
	{ "from-label", 0, true, 1, 0, "SELECTOR", "--from label:SELECTOR" },
	{ "to-label", 0, true, 1, 0, "SELECTOR", "--to label:SELECTOR" },
	{ "from-identity", 0, true, 1, 0, "ID", "--from identity:ID" },
	{ "to-identity", 0, true, 1, 0, "ID", "--to identity:ID" },
	/* The words of every view (lib/observe/vocab.h), either end. */
	{ "pod", 0, true, 1, 0, "POD", "either end is POD (NS/NAME, or its IP)" },
	{ "ip", 0, true, 1, 0, "IP[/LEN]", "either end is IP, or in the prefix" },
	{ "identity", 0, true, 1, 0, "ID", "either end has identity ID (or reserved:NAME)" },
	{ "reason", 0, true, 1, 0, "REASON", "dropped for REASON (drop-policy-ingress, ...)" },
	{ "not", 0, false, '!', 0, NULL, "the filter after it negated (repeatable)" },
	{ "print-node-name", 0, false, 'p', 0, NULL, "(Hubble's) the node is always printed" },
	{ "time", 0, true, 'T', 0, "rfc3339|mono", "how times are given (default rfc3339)" },
	{ "per-node", 0, false, 'M', 0, NULL, "each node's records, not merged" },
	{ "agent", 0, true, 'A', 0, "ADDR[:PORT]", "an xcnid elsewhere, over HTTPS (repeatable)" },
	{ "tls", 0, true, 'L', 0, "DIR", "the client certificate (XCNI_FLOWS_TLS)" },
	{ "kubeconfig", 0, true, 'K', 0, "FILE", "every agent of a cluster, merged" },
	{ "cluster", 0, false, 'C', 0, NULL, "the same with kubectl's kubeconfig" },
	{ "wide", 0, false, 'w', 0, NULL, "-o wide: every field in text" },
	{}
};

#define FLOWS_SYN "[--node NAME|all | --agent ADDR... | --kubeconfig FILE] flows [OPTIONS]"

/* One `xcnictl flows` run: what to ask, and the answers' state. */
struct flows_run {
	struct fopts fo;
	struct target *tg; /* FLOWS_MAX_NODES */
	size_t ntg, nagents, nunasked;
	const char *nodes[FLOWS_MAX_NODES]; /* --node, each a lab node or "all" */
	size_t nnodes;
	const char *pin_dir, *sock, *kubeconfig;
	bool cluster; /* --kubeconfig or --cluster: every agent of the cluster */
};

/* --agent ADDR: one more remote target. 0 or 2 (said). */
static int add_agent(struct flows_run *r, const char *arg)
{
	char msg[600];
	struct target *t = &r->tg[r->ntg];

	if (r->ntg == FLOWS_MAX_NODES)
		return pr_err_ret(2, "--agent: at most %d\n", FLOWS_MAX_NODES);
	if (flows_agent_parse(arg, &t->agent, msg, sizeof(msg)))
		return pr_err_ret(2, "%s\n", msg);
	t->remote = true;
	memcpy(t->node, t->agent.node, sizeof(t->node));
	r->ntg++;
	r->nagents++;
	return 0;
}

/* The command line into *r. -1: go on; else the exit code (0 after --help). */
static int flows_parse(int argc, char **argv, struct flows_run *r)
{
	struct fopts *fo = &r->fo;
	int opt, idx, words = 0;

	while ((opt = pt_getopt(argc, argv, ctl_flows_opts, false, &idx)) != -1) {
		switch (opt) {
		case 'P': r->pin_dir = optarg; break;
		case 'N':
			if (r->nnodes == FLOWS_MAX_NODES)
				return pr_err_ret(2, "--node: at most %d\n", FLOWS_MAX_NODES);
			r->nodes[r->nnodes++] = optarg;
			break;
		case 'j': fo->json = true; break;
		case 'v':
			if (xlog_max < XLOG_DEBUG)
				xlog_max++;
			break;
		case 'h': return pt_usage(stdout, FLOWS_SYN, ctl_flows_opts);
		case 'f': fo->follow = true; break;
		case 'S': r->sock = optarg; break;
		case 1:
			if (add_filter(fo, ctl_flows_opts[idx].name, optarg))
				return 2;
			break;
		case 'n':
			if (add_filter(fo, "namespace", optarg))
				return 2;
			break;
		case '!':
			if (fo->negate)
				return pr_err_ret(2, "--not --not: one --not before the filter it "
						  "negates\n");
			fo->negate = true;
			break;
		case 'p': break; /* the node is always said */
		case 'T':
			if (fo->negate)
				return pr_err_ret(2,
						  "--not --time: only a filter can be negated\n");
			if (add_filter(fo, "time", optarg))
				return 2;
			break;
		case 'M': fo->per_node = true; break;
		case 'A':
			if (add_agent(r, optarg))
				return 2;
			break;
		case 'L': fo->tls_dir = optarg; break;
		case 'K': r->kubeconfig = optarg; r->cluster = true; break;
		case 'C': r->cluster = true; break;
		case 'w': fo->wide = true; break;
		default: return pt_usage(stderr, FLOWS_SYN, ctl_flows_opts);
		}
	}
	for (int i = optind; i < argc; i++)
		if (strcmp(argv[i], "flows") || words++)
			return pr_err_ret(pt_usage(stderr, FLOWS_SYN, ctl_flows_opts),
					  "flows: unexpected argument %s\n", argv[i]);
	return -1;
}

/* The options together: one way to say which xcnid, the certificate where one is asked over the network. -1 or 2. */
static int flows_check(struct flows_run *r)
{
	struct fopts *fo = &r->fo;
	bool net = r->nagents || r->cluster;
	char msg[600];

	if (fo->negate)
		return pr_err_ret(2, "--not: a filter after it (--not --from-pod x/a)\n");
	if (fo->has_first && fo->has_last)
		return pr_err_ret(2, "--first and --last: give one\n");
	if (fo->has_first && fo->follow)
		return pr_err_ret(2, "--first and --follow: --follow begins with the last records "
				  "(--last N)\n");
	/* --follow begins with the last few, not the whole window. */
	if (fo->follow && !fo->has_last) {
		char n[16];

		snprintf(n, sizeof(n), "%d", FLOWS_FOLLOW_LAST);
		if (add_filter(fo, "last", n))
			return 2;
	}
	if (r->nnodes && r->sock)
		return pr_err_ret(2, "--node and --flows-socket both say which xcnid: give one\n");
	if (r->nagents && (r->nnodes || r->sock))
		return pr_err_ret(2, "--agent and --%s both say which xcnid: give one\n",
				  r->nnodes ? "node" : "flows-socket");
	if (r->cluster && (r->nagents || r->nnodes || r->sock))
		return pr_err_ret(2, "--%s and --%s both say which xcnid: give one\n",
				  r->kubeconfig ? "kubeconfig" : "cluster",
				  r->nagents ? "agent" : r->nnodes ? "node" : "flows-socket");
	if (net && !fo->tls_dir)
		fo->tls_dir = getenv("XCNI_FLOWS_TLS");
	if (net && (!fo->tls_dir || !*fo->tls_dir))
		return pr_err_ret(2, "--%s: give --tls DIR (or XCNI_FLOWS_TLS): a client "
				  "certificate and key the agents' CA signed (tls.crt, tls.key) "
				  "and that CA (ca.crt)\n",
				  r->nagents ? "agent" : r->kubeconfig ? "kubeconfig" : "cluster");
	if (fo->tls_dir && !net)
		return pr_err_ret(2, "--tls %s is --agent's and --kubeconfig's: give one of them "
				  "too\n", fo->tls_dir);
	if (net && flows_tls_check(fo->tls_dir, msg, sizeof(msg)))
		return pr_err_ret(2, "%s\n", msg);
	return -1;
}

/* Every agent of the cluster as a target (one not to be asked said, never skipped). -1, 1 or 2. */
static int flows_cluster_targets(struct flows_run *r)
{
	struct flows_agent *fa;
	char msg[600];
	size_t n;
	int err;

	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return pr_err_ret(1, "flows: cannot start libcurl\n");
	err = flows_agents_cluster(r->kubeconfig, &fa, &n, msg, sizeof(msg));
	curl_global_cleanup();
	if (err) {
		if (!msg[0]) /* the kubeconfig: said */
			return 2;
		return pr_err_ret(1, "flows --%s: %s\n", r->kubeconfig ? "kubeconfig" : "cluster",
				  msg);
	}
	if (!n) {
		pr_err("flows: no xcni agent pod in %s (label %s), and no node\n",
		       K8S_AGENTS_NAMESPACE, K8S_AGENTS_SELECTOR);
		free(fa);
		return 1;
	}
	for (size_t i = 0; i < n && r->ntg < FLOWS_MAX_NODES; i++) {
		struct target *t = &r->tg[r->ntg++];

		t->remote = true;
		t->agent = fa[i];
		snprintf(t->node, sizeof(t->node), "%s", fa[i].node);
		if (fa[i].why[0]) {
			/* Said, never skipped: the view is partial. */
			pr_err("flows: node %s: not asked: %s\n", fa[i].node, fa[i].why);
			r->nunasked++;
		}
	}
	if (n > FLOWS_MAX_NODES)
		pr_err("flows: %zu nodes, the first %d asked\n", n, FLOWS_MAX_NODES);
	free(fa);
	r->nagents = r->ntg;
	return -1;
}

/* The lab nodes of --node, or this node's socket, as targets. -1, 1 or 2. */
static int flows_local_targets(struct flows_run *r)
{
	static struct ctl_lab_node ln[FLOWS_MAX_NODES];
	struct target *tg = r->tg;
	int err;

	for (size_t i = 0; i < r->nnodes; i++) {
		size_t n;

		err = ctl_lab_nodes(r->nodes[i], ln, FLOWS_MAX_NODES, &n);
		if (err)
			return err == -EINVAL ? 2 : 1;
		for (size_t j = 0; j < n && r->ntg < FLOWS_MAX_NODES; j++) {
			snprintf(tg[r->ntg].node, sizeof(tg[r->ntg].node), "%.63s", ln[j].name);
			if (flows_sock_path(ln[j].pin, tg[r->ntg].sock, sizeof(tg[r->ntg].sock)))
				return pr_err_ret(2, "--node %s: pin dir %s makes a socket path "
						  "too long\n", ln[j].name, ln[j].pin);
			r->ntg++;
		}
	}
	if (r->nnodes || r->nagents)
		return -1;
	if (r->sock) {
		if (strlen(r->sock) >= sizeof(tg[0].sock))
			return pr_err_ret(2, "--flows-socket %s: too long for a Unix socket\n",
					  r->sock);
		snprintf(tg[0].sock, sizeof(tg[0].sock), "%s", r->sock);
	} else if (flows_sock_path(r->pin_dir, tg[0].sock, sizeof(tg[0].sock))) {
		return pr_err_ret(2, "--pin-dir %s: too long to make a socket path of\n",
				  r->pin_dir);
	}
	r->ntg = 1;
	return -1;
}

/*
 * Several nodes merged: the records cached by connection, the filters split
 * into the nodes' part and the part judged on the merged record (the ends,
 * verdict, reason, Service). 0 or 1.
 */
static int flows_merge_setup(struct fopts *fo)
{
	char mreq[FLOWS_REQ_MAX], e[300];

	fo->cache = json_object();
	fo->changed = json_object();
	flow_filter_init(&fo->merged);
	if (!fo->cache || !fo->changed) {
		json_decref(fo->cache);
		json_decref(fo->changed);
		fo->cache = fo->changed = NULL;
		return 1;
	}
	if (flows_req_split(fo->req, fo->node_req, sizeof(fo->node_req), mreq, sizeof(mreq)) ||
	    flow_filter_parse(&fo->merged, mreq, e, sizeof(e))) {
		pr_err("flows: the filters cannot be split for the merge\n");
		json_decref(fo->cache);
		json_decref(fo->changed);
		fo->cache = fo->changed = NULL;
		flow_filter_free(&fo->merged);
		return 1;
	}
	fo->has_merged = mreq[0] != '\0';
	return 0;
}

/*
 * One round: every target asked, what changed printed. 0; 1 when nothing
 * answered or a target refused (a lab node's socket: hard); 3 when the view
 * is partial (an agent not answering, or not asked: said).
 */
static int flows_round(struct flows_run *r, bool first)
{
	struct fopts *fo = &r->fo;
	size_t asked = 0, answered = 0;
	bool hard = false;
	int err = 0;

	/* Several nodes unmerged: each node's records, cut together. */
	/* Text: a round's rows together, for their widths and time order. */
	if (((r->ntg > 1 && fo->per_node) || (!fo->cache && !fo->json)) &&
	    !(fo->rows = json_array()))
		return -ENOMEM;
	for (size_t i = 0; i < r->ntg && !xcni_stop; i++) {
		struct target *t = &r->tg[i];
		int e;

		t->answered = false;
		t->err[0] = '\0';
		if (t->agent.why[0])
			continue; /* said once: no agent to ask */
		asked++;
		e = ask(fo, t, first);
		/* --follow: an agent that stops answering is said once, and when it
		 * answers again. */
		if (fo->follow && t->remote) {
			if (!e && t->down)
				pr_err("flows: node %s (%s:%u) answers again\n", t->node,
				       t->agent.host, t->agent.port);
			t->down = e != 0;
		}
		/* An agent that does not answer makes the view partial
		 * (said); a refusal, or a lab node's socket, fails it. */
		if (!e || (t->remote && e == -EIO))
			t->answered = !e;
		else
			hard = true;
		answered += !e;
		if (e && !err)
			err = e;
	}
	if (fo->cache)
		emit_changed(fo, first);
	if (fo->rows) {
		emit_rows(fo, fo->rows, first);
		fo->rows = NULL;
		fflush(stdout);
	}
	if (r->nagents && answered < asked + r->nunasked && first)
		say_partial(fo, r->tg, r->ntg, answered);
	if (err || r->nunasked)
		err = hard || !answered ? 1 : 3;
	return err;
}

int ctl_flows_main(int argc, char **argv)
{
	static struct target tg[FLOWS_MAX_NODES];
	struct flows_run r = { .tg = tg, .pin_dir = getenv("XCNI_PIN_DIR") };
	struct fopts *fo = &r.fo;
	unsigned int rounds = 0;
	int err;

	if (!r.pin_dir || !*r.pin_dir)
		r.pin_dir = XCNI_PIN_ROOT;
	if ((err = flows_parse(argc, argv, &r)) >= 0 || (err = flows_check(&r)) >= 0 ||
	    (r.cluster && (err = flows_cluster_targets(&r)) >= 0) ||
	    (err = flows_local_targets(&r)) >= 0)
		return err;
	signal(SIGPIPE, SIG_IGN);
	if (r.nagents && curl_global_init(CURL_GLOBAL_DEFAULT))
		return pr_err_ret(1, "flows: cannot start libcurl\n");
	if (r.ntg > 1 && !fo->per_node && flows_merge_setup(fo))
		return 1;
	if (fo->follow)
		xcni_stop_signals(NULL, true);
	for (bool first = true; !xcni_stop; first = false) {
		if (r.cluster && fo->follow && !first && ++rounds % FLOWS_RELIST_ROUNDS == 0) {
			relist(r.kubeconfig, tg, &r.ntg, &r.nunasked);
			r.nagents = r.ntg;
		}
		err = flows_round(&r, first);
		if (err < 0 || !fo->follow || (first && err == 1))
			break;
		err = 0;
		for (int ms = 0; ms < 1000 && !xcni_stop; ms += 100)
			poll(NULL, 0, 100);
	}
	json_decref(fo->cache);
	json_decref(fo->changed);
	if (fo->cache || fo->has_merged)
		flow_filter_free(&fo->merged);
	if (r.nagents)
		curl_global_cleanup();
	return err < 0 ? 1 : err;
}
