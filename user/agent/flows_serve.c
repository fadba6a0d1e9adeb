// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid's flow records served (flows.h): one route, FLOWS_HTTP_PATH, over
 * HTTP on the Unix socket (xcnictl flows, the lab, status: the socket's mode
 * is the check) and over HTTPS with client certificates (--flows-listen).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/observe/flows.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "agent/flows.h"
#include "agent/flowd.h"
#include "agent/ipfix.h"
#include "agent/evfan.h"
#include "lib/system/http.h"
#include "lib/observe/agentstatus.h"
#include "lib/observe/flowsnet.h"
#include "lib/observe/explain.h"
#include "lib/system/util.h"

/* A PEM file of --flows-tls at most this long (a chain of a few certificates). */
#define FLOWD_PEM_MAX (256u << 10)

void flowd_render_ctx(const struct flowd *d, struct flow_render_ctx *rc, char *extra,
		      size_t len)
{
	rc->now_ns = xcni_mono_ns();
	rc->wall_off_ns = xcni_wall_off_ns(rc->now_ns);
	rc->node = d->node;
	rc->trailer_extra = NULL;
	rc->reader_ns = NULL;
	if (extra) {
		size_t n = 0;

		xcni_bufadd(extra, len, &n,
			    ",\"log_lines\":%llu,\"log_rotated_out\":%llu,\"log_errors\":%llu,"
			    "\"log_rotations\":%llu",
			    (unsigned long long)d->log_written, (unsigned long long)d->log_rotated_out,
			    (unsigned long long)d->log_errors, (unsigned long long)d->log_rotations);
		/* The log's shares: lines carried at a rotation (and whose most),
		 * lines the carried left no room for. */
		if (d->log_carried || d->log_refused) {
			const struct log_owner *most = NULL;

			hmap_each(&d->log_owners, sl)
				if (!most || ((const struct log_owner *)sl->v)->carried >
						     most->carried)
					most = sl->v;
			xcni_bufadd(extra, len, &n,
				    ",\"log_carried\":%llu,\"log_carried_most\":{\"namespace\":\"%s\","
				    "\"carried\":%llu},\"log_refused\":%llu",
				    (unsigned long long)d->log_carried, most->ns,
				    (unsigned long long)most->carried, (unsigned long long)d->log_refused);
		}
		xcni_bufadd(extra, len, &n, ",\"monitor_subscribers\":%u,\"monitor_lost\":%llu",
			    evfan_subscribers(d->fan), (unsigned long long)evfan_lost(d->fan));
		if (d->ipx) {
			const struct ipfix_stats *st = ipfix_stats(d->ipx);

			xcni_bufadd(extra, len, &n,
				    ",\"ipfix_records\":%llu,\"ipfix_messages\":%llu,"
				    "\"ipfix_errors\":%llu,\"ipfix_connects\":%llu,"
				    "\"ipfix_skipped\":%llu,\"ipfix_evicted_waiting\":%u,"
				    "\"ipfix_evicted_lost\":%llu",
				    (unsigned long long)st->records, (unsigned long long)st->messages,
				    (unsigned long long)st->send_errors, (unsigned long long)st->connects,
				    (unsigned long long)d->ipfix_skipped, d->nends,
				    (unsigned long long)d->ipfix_evicted_lost);
		}
		rc->trailer_extra = extra;
	}
}

/* {"error":"text"}: text's quotes, backslashes and control characters blanked ('?'), worth no more. */
static void answer_error(struct fbuf *out, char *text)
{
	for (char *p = text; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '?';
	flows_fbuf_printf(out, "{\"error\":\"%s\"}\n", text);
}

/* The answer to a request (lines of name=value, NUL-ended) into out, as the socket sends it. */
static void answer_req(struct flowd *d, char *req, const char *scope, struct fbuf *out)
{
	struct flow_render_ctx rc;
	struct flow_filter ff;
	char err[300], extra[1024];
	int n;

	out->max = FLOWD_ANSWER_MAX;
	ff.nots = NULL;
	ff.nnots = 0;
	if (flow_filter_parse(&ff, req, err, sizeof(err))) {
		answer_error(out, err);
	} else {
		flowd_render_ctx(d, &rc, extra, sizeof(extra));
		rc.mono = ff.time_mono;
		rc.reader_ns = scope;
		n = flows_render_json(d->fl, &ff, &rc, out);
		if (n == -E2BIG) {
			out->err = 0;
			flows_fbuf_printf(out,
			                  "{\"error\":\"answer cut at %u bytes: ask for less "
			                  "(--last, filters)\"}\n",
			                  FLOWD_ANSWER_MAX);
		}
	}
	flow_filter_free(&ff);
}

/* This agent's policy status file as it is (one JSON line). 0 or -errno (out says why). */
static int answer_polstatus(struct flowd *d, struct fbuf *out)
{
	char path[256], *doc = NULL;
	size_t len = 0;
	FILE *f;

	if (agent_status_policy_path(d->pin_dir, path, sizeof(path)) || !(f = fopen(path, "re"))) {
		flows_fbuf_printf(out, "{\"error\":\"node %s: no policy status yet (no sync "
				       "done)\"}\n", d->node);
		return -EAGAIN;
	}
	if (getdelim(&doc, &len, '\0', f) > 0)
		flows_fbuf_printf(out, "%s\n", doc);
	else
		flows_fbuf_printf(out, "{\"error\":\"node %s: policy status unreadable\"}\n", d->node);
	free(doc);
	fclose(f);
	return 0;
}

int flowd_near_misses(struct flowd *d, const char *self_ns, const char *self_pod,
		      const char *other_ns, const char *other_pod, bool in, uint8_t proto,
		      uint16_t port, char *buf, size_t len)
{
	const struct k8s_object *so, *oo = NULL;
	struct pol_nm_list l;
	struct cluster c;

	buf[0] = '\0';
	if (!d->st || !(so = store_get(d->st, K8S_POD, self_ns, self_pod)))
		return 0;
	if (other_ns && other_pod)
		oo = store_get(d->st, K8S_POD, other_ns, other_pod);
	store_view(d->st, &c);
	if (pol_nm_near_misses(&c, NULL, &so->pod, oo ? &oo->pod : NULL,
			       in ? NM_INGRESS : NM_EGRESS, proto, port, &l))
		return -ENOMEM;
	pol_nm_join(&l, false, buf, len);
	pol_nm_list_free(&l);
	return 0;
}

/* node_near_fn: from this agent's store, by the two ends' names, as its drop records name them. */
static void agent_near(void *arg, const struct node_maps *m, const struct flow_end *self,
		       const struct flow_end *other, enum nm_part dir, __u8 proto, __u16 port,
		       char *buf, size_t len)
{
	const char *ss = strchr(self->pod, '/'), *os = strchr(other->pod, '/');
	char sns[256], ons[256];

	(void)m;
	snprintf(sns, sizeof(sns), "%.*s", ss ? (int)(ss - self->pod) : 0, self->pod);
	snprintf(ons, sizeof(ons), "%.*s", os ? (int)(os - other->pod) : 0, other->pod);
	if (ss)
		flowd_near_misses(arg, sns, ss + 1, os ? ons : NULL, os ? os + 1 : NULL,
				  dir == NM_INGRESS, proto, port, buf, len);
}

/*
 * explain for this node's side, in the loop: the walk xcnictl explain makes
 * (lib/observe/explain.h), on this node's maps, an isolated side's near
 * misses from this agent's store; its record as one JSON line, or the error.
 * A few map lookups and walks of podname (O(pods)), and one near-miss walk a
 * side (~12 ms at 10,000 pods): no child, nothing waited on.
 */
static int answer_explain(struct flowd *d, const struct http_args *args, struct fbuf *out)
{
	static const char *const names[] = { "family", "sport", "src", "dst", "port" };
	const char *v[5], *verdict;
	char err[700], why[600] = "", *doc = NULL, *end;
	struct flow f = {};
	struct node_maps m;
	struct ptable *t;
	unsigned long sport;
	size_t len = 0;
	bool v6;
	FILE *mf;
	int ret;

	for (int i = 0; i < 5; i++) {
		v[i] = http_arg(args, names[i]);
		if ((i >= 2 || v[i]) && flows_explain_arg(names[i], v[i], err, sizeof(err))) {
			flows_fbuf_printf(out, "{\"error\":\"%s\"}\n", err);
			return -EINVAL;
		}
	}
	/* As xcnictl explain takes them; sport picks a Service's backend: none translated here. */
	if (v[0] && strcmp(v[0], "4") && strcmp(v[0], "6"))
		snprintf(why, sizeof(why), "--family %s: 4 or 6", v[0]);
	else if (v[1] && ((sport = strtoul(v[1], &end, 10)) < 1 || sport > 65535 || *end))
		snprintf(why, sizeof(why), "--sport %s: a port, 1 to 65535", v[1]);
	else if (explain_port_proto(v[4], &f.proto, &f.port))
		snprintf(why, sizeof(why), "PORT/PROTO \"%s\": " PORT_PROTO_WANT, v[4]);
	ret = why[0] ? -EINVAL : explain_maps_open(d->pin_dir, &m, NULL, why, sizeof(why));
	if (!ret) {
		m.near = agent_near;
		m.near_arg = d;
		/* IPv6 when asked, or when an end says so (an IPv6 address, a pod with no IPv4). */
		v6 = v[0] ? v[0][0] == '6' : explain_end_is_v6(&m, v[2]) || explain_end_is_v6(&m, v[3]);
		if (!(ret = explain_end_resolve(&m, NULL, v[2], v6, &f.src)) &&
		    !(ret = explain_end_resolve(&m, &m, v[3], v6, &f.dst)) &&
		    !(ret = explain_flow(&m, &m, &f, &t, &verdict))) {
			mf = open_memstream(&doc, &len);
			ret = mf ? pt_print(t, mf, true) : -errno;
			if (mf)
				fclose(mf);
			pt_free(t);
		}
		explain_maps_close(&m);
	}
	if (!ret)
		flows_fbuf_printf(out, "%s", doc);
	else {
		snprintf(err, sizeof(err), "node %s: explain: %s", d->node, why[0] ? why : strerror(-ret));
		answer_error(out, err);
	}
	free(doc);
	return ret;
}

/* request=KIND: one of the requests other than flows (flowsnet.h), or -ENOENT. */
static int answer_kind(struct flowd *d, const struct http_args *args, const char *scope,
		       struct fbuf *out)
{
	const char *kind = http_arg(args, FLOWS_REQ_KIND);
	int err;

	if (!kind)
		return -ENOENT;
	/* Each reads every namespace's policies or the node's whole state: not a tenant's certificate. */
	if (scope) {
		flows_fbuf_printf(out, "{\"error\":\"request=%.64s reads every namespace: a client "
				       "certificate without OU asks it\"}\n", kind);
		return -EACCES;
	}
	if (!strcmp(kind, FLOWS_REQ_POLSTATUS))
		err = answer_polstatus(d, out);
	else if (!strcmp(kind, FLOWS_REQ_EXPLAIN))
		err = answer_explain(d, args, out);
	else if (!strcmp(kind, FLOWS_REQ_STATUS)) {
		char *t = d->status ? d->status_text(d->status) : NULL;

		if (t)
			flows_fbuf_printf(out, "%s\n", t);
		else
			flows_fbuf_printf(out, "{\"error\":\"node %s: no agent status\"}\n", d->node);
		err = t ? 0 : -EAGAIN;
		free(t);
	} else {
		flows_fbuf_printf(out, "{\"error\":\"request=%.64s: %s, %s or %s (none: flows)\"}\n",
				  kind, FLOWS_REQ_POLSTATUS, FLOWS_REQ_EXPLAIN, FLOWS_REQ_STATUS);
		err = -EINVAL;
	}
	/* Errors are said in the answer: a 400 the client reads as the socket's; 503: ask again. */
	return err && err != -EACCES && err != -ENOMEM && err != -EAGAIN ? -EINVAL : err;
}

/*
 * GET FLOWS_HTTP_PATH?from=x%2Fa&last=5 over HTTPS (http.c has checked the
 * client's certificate): the query's arguments are the request's lines, and
 * the answer is the socket's.
 */
static int render_http(void *ctx, const struct http_args *args, char **body, size_t *len)
{
	struct flowd *d = ctx;
	struct fbuf req = { .max = FLOWD_REQ_MAX }, out = {};
	const char *scope = NULL, *ou = args->client_ou;
	int err = -EINVAL;

	/*
	 * Whom the certificate is for: no OU, every flow; OU namespace:NS, the
	 * flows with an end in NS (a tenant's), the filters ANDed with it.
	 */
	if (ou) {
		scope = ou + 10;
		if (strncmp(ou, "namespace:", 10) || !*scope || strlen(scope) > 63 ||
		    strspn(scope, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(scope)) {
			flows_fbuf_printf(
				&out, "{\"error\":\"this client certificate's OU grants no flows "
				      "(namespace:NS reads namespace NS's; none, every one)\"}\n");
			err = -EACCES;
			goto bad;
		}
	}
	err = answer_kind(d, args, scope, &out);
	if (err != -ENOENT) {
		if (err)
			goto bad;
		goto done;
	}
	err = -EINVAL;
	for (size_t i = 0; i < args->n; i++) {
		if (scope && !strcmp(args->v[i].key, "namespace") && strcmp(args->v[i].value, scope)) {
			flows_fbuf_printf(
				&out,
				"{\"error\":\"this client certificate reads namespace %s's "
				"flows only, not another's\"}\n",
				scope);
			err = -EACCES;
			goto bad;
		}
		if (strchr(args->v[i].key, '\n') || strchr(args->v[i].value, '\n') ||
		    strchr(args->v[i].key, '=')) {
			flows_fbuf_printf(&out,
			                  "{\"error\":\"argument %zu: a newline or '=' in it\"}\n",
			                  i + 1);
			goto bad;
		}
		flows_fbuf_printf(&req, "%s=%s\n", args->v[i].key, args->v[i].value);
	}
	/* Last: a namespace filter is the last one given. */
	if (scope)
		flows_fbuf_printf(&req, "namespace=%s\n", scope);
	if (req.err) {
		flows_fbuf_free(&req);
		flows_fbuf_printf(&out, "{\"error\":\"request longer than %d bytes\"}\n",
		                  FLOWD_REQ_MAX);
		goto bad;
	}
	answer_req(d, req.p ? req.p : (char[]){ "" }, scope, &out);
	flows_fbuf_free(&req);
done:
	if (out.err) {
		flows_fbuf_free(&out);
		return -ENOMEM;
	}
	if (!out.p)
		flows_fbuf_printf(&out, "%s", "");
	*body = out.p;
	*len = out.len;
	return 0;
bad:
	flows_fbuf_free(&req);
	if (out.err) {
		flows_fbuf_free(&out);
		return -ENOMEM;
	}
	*body = out.p;
	*len = out.len;
	return err;
}

/* A --flows-tls file into *out (NUL-ended). 0 or -errno (said, naming the file). */
static int read_pem(const char *dir, const char *name, char **out)
{
	char path[512];
	struct stat st;
	char *buf = NULL;
	ssize_t n = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto said;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		goto said;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > FLOWD_PEM_MAX) {
		pr_err("flows: --flows-tls %s: %s: not a PEM file of 1 to %u bytes\n", dir, name,
		       FLOWD_PEM_MAX);
		close(fd);
		return -EINVAL;
	}
	buf = calloc(1, (size_t)st.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		goto said;
	}
	for (off_t got = 0; got < st.st_size; got += n) {
		n = read(fd, buf + got, (size_t)(st.st_size - got));
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			goto said;
		}
	}
	if (!strstr(buf, "-----BEGIN ")) {
		pr_err("flows: --flows-tls %s: %s: no PEM block in it\n", dir, name);
		err = -EINVAL;
		goto out;
	}
	close(fd);
	*out = buf;
	return 0;
said:
	pr_err("flows: --flows-tls %s: %s: %s\n", dir, name, strerror(-err));
out:
	if (buf) {
		explicit_bzero(buf, (size_t)st.st_size);
		free(buf);
	}
	xcni_close(&fd);
	return err;
}

/* --flows-listen: the HTTPS server, its route, in the agent's epoll set. 0 or -errno (said). */
int flowd_listen_tls(struct flowd *d, const struct flowd_opts *o)
{
	static const char *const files[] = { "tls.crt", "tls.key", "ca.crt" };
	struct http_tls t = { .name = FLOWS_TLS_NAME };
	int err;

	for (int i = 0; i < 3; i++)
		if ((err = read_pem(o->tls_dir, files[i], &d->pem[i])))
			return err;
	t.cert = d->pem[0];
	t.key = d->pem[1];
	t.ca = d->pem[2];
	err = http_open_tls(o->listen, &t, &d->tls);
	if (err)
		return pr_err_ret(err, "flows: --flows-listen %s (certificates from %s): cannot "
				  "serve it\n", o->listen, o->tls_dir);
	err = http_route(d->tls, FLOWS_HTTP_PATH, "application/x-ndjson", render_http, d);
	return err ?: xcni_epoll_add(d->epfd, http_fd(d->tls), TAG_TLS);
}

int flowd_listen_unix(struct flowd *d)
{
	return http_open_unix(d->sock, &d->local) ?:
	       http_route(d->local, FLOWS_HTTP_PATH, "application/x-ndjson", render_http, d) ?:
	       xcni_epoll_add(d->epfd, http_fd(d->local), TAG_LOCAL);
}
