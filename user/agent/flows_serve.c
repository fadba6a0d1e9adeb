// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid's flow records served (flows.h): xcnictl flows over the Unix socket
 * (one request, one answer, then close; never waits on a client), and the
 * same queries over HTTPS with client certificates (--flows-listen).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/observe/flows.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "lib/system/unixsock.h"
#include "agent/flows.h"
#include "agent/flowd.h"
#include "agent/ipfix.h"
#include "agent/evfan.h"
#include "lib/system/http.h"
#include "lib/observe/agentstatus.h"
#include "lib/observe/flowsnet.h"
#include "lib/policy/nearmiss.h"
#include "lib/system/proto.h"

extern char **environ;

/* A PEM file of --flows-tls at most this long (a chain of a few certificates). */
#define FLOWD_PEM_MAX (256u << 10)

void flowd_render_ctx(const struct flowd *d, struct flow_render_ctx *rc, char *extra,
		      size_t len)
{
	rc->now_ns = xcni_mono_ns();
	rc->wall_off_ns = xcni_wall_off_ns(rc->now_ns);
	rc->node = d->node;
	rc->trailer_extra = NULL;
	if (extra) {
		snprintf(extra, len,
			 ",\"log_lines\":%llu,\"log_rotated_out\":%llu,\"log_errors\":%llu,"
			 "\"log_rotations\":%llu",
			 (unsigned long long)d->log_written, (unsigned long long)d->log_rotated_out,
			 (unsigned long long)d->log_errors, (unsigned long long)d->log_rotations);
		/* The log's shares: lines carried at a rotation (and whose most),
		 * lines the carried left no room for. */
		if (d->log_carried || d->log_refused) {
			const struct log_owner *most = NULL;
			size_t n = strlen(extra);

			hmap_each(&d->log_owners, sl)
				if (!most || ((const struct log_owner *)sl->v)->carried >
						     most->carried)
					most = sl->v;
			snprintf(extra + n, len - n,
				 ",\"log_carried\":%llu,\"log_carried_most\":{\"namespace\":\"%s\","
				 "\"carried\":%llu},\"log_refused\":%llu",
				 (unsigned long long)d->log_carried, most->ns,
				 (unsigned long long)most->carried, (unsigned long long)d->log_refused);
		}
		{
			size_t n = strlen(extra);

			snprintf(extra + n, len - n, ",\"monitor_subscribers\":%u,\"monitor_lost\":%llu",
				 evfan_subscribers(d->fan), (unsigned long long)evfan_lost(d->fan));
		}
		if (d->ipx) {
			const struct ipfix_stats *st = ipfix_stats(d->ipx);
			size_t n = strlen(extra);

			snprintf(extra + n, len - n,
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

void flowd_client_close(struct flowd *d, struct client *c)
{
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	flows_fbuf_free(&c->out);
	c->reqlen = c->off = 0;
}

/* The answer to a request (lines of name=value, NUL-ended) into out, as the socket sends it. */
static void answer_req(struct flowd *d, char *req, struct fbuf *out)
{
	struct flow_render_ctx rc;
	struct flow_filter ff;
	char err[300], extra[1024];
	int n;

	out->max = FLOWD_ANSWER_MAX;
	ff.nots = NULL;
	ff.nnots = 0;
	if (flow_filter_parse(&ff, req, err, sizeof(err))) {
		flows_fbuf_printf(out, "{\"error\":");
		/* err has no quotes or control characters worth more than this. */
		for (char *p = err; *p; p++)
			if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
				*p = '?';
		flows_fbuf_printf(out, "\"%s\"}\n", err);
	} else {
		flowd_render_ctx(d, &rc, extra, sizeof(extra));
		rc.mono = ff.time_mono;
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

static void client_answer(struct flowd *d, struct client *c)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = TAG_CLIENT + (uint64_t)(c - d->c) };

	c->req[c->reqlen] = '\0';
	answer_req(d, c->req, &c->out);
	if (c->out.err) {
		flowd_client_close(d, c);
		return;
	}
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* How long explain's run may take (it reads a few maps: milliseconds), and its answer at most. */
#define FLOWD_EXPLAIN_MS 3000
#define FLOWD_EXPLAIN_MAX (256u << 10)

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

/*
 * The one explain run in the background: its arguments, the child, what it
 * wrote so far, and when it ended (0: running). xcnictl's start and its map
 * reads cost ~240 ms on a loaded node: too long for the loop to wait on, so
 * the first ask starts it and answers 503, the next ones read its pipe
 * without waiting, and the one that finds it ended gets its record.
 */
static struct {
	char key[1200];
	pid_t pid; /* 0: none */
	int fd;    /* its stdout and stderr; -1 once read to the end */
	char *buf;
	size_t got;
	int64_t start_ms, done_ms;
	int status; /* wait status; -1: killed for taking longer than FLOWD_EXPLAIN_MS */
} ex_ = { .fd = -1 };

static int64_t now_ms(void)
{
	return (int64_t)(xcni_mono_ns() / 1000000);
}

static void ex_clear(void)
{
	if (ex_.fd >= 0)
		close(ex_.fd);
	if (ex_.pid && !ex_.done_ms) {
		kill(ex_.pid, SIGKILL);
		waitpid(ex_.pid, NULL, 0);
	}
	free(ex_.buf);
	memset(&ex_, 0, sizeof(ex_));
	ex_.fd = -1;
}

/* What the run wrote since, without waiting. */
static void ex_read(void)
{
	ssize_t n;

	while (ex_.fd >= 0 && ex_.got < FLOWD_EXPLAIN_MAX - 1) {
		n = read(ex_.fd, ex_.buf + ex_.got, FLOWD_EXPLAIN_MAX - 1 - ex_.got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			close(ex_.fd);
			ex_.fd = -1;
			break;
		}
		ex_.got += (size_t)n;
	}
	ex_.buf[ex_.got] = '\0';
}

/* Whether the run ended (reaped: the rest of its output read), or took too long. */
static void ex_poll(void)
{
	if (!ex_.pid || ex_.done_ms)
		return;
	ex_read();
	if (now_ms() - ex_.start_ms > FLOWD_EXPLAIN_MS) {
		kill(ex_.pid, SIGKILL);
		waitpid(ex_.pid, NULL, 0);
		ex_.status = -1;
		ex_.done_ms = now_ms();
	} else if (waitpid(ex_.pid, &ex_.status, WNOHANG) == ex_.pid) {
		ex_.done_ms = now_ms();
		ex_read(); /* what it wrote just before it ended */
	}
}

/* The xcnictl beside this xcnid started on argv's words, into ex_. 0 or -errno. */
static int ex_start(const char *key, char **argv)
{
	posix_spawn_file_actions_t fa;
	char **envp;
	size_t ne = 0;
	int p[2], err;

	while (environ[ne])
		ne++;
	/* Its near misses would ask this agent's status socket and list the
	 * cluster: XCNI_EXPLAIN_IN_AGENT says not to (explain.c); explain_put
	 * fills them in from this agent's store. */
	envp = calloc(ne + 2, sizeof(*envp));
	ex_.buf = malloc(FLOWD_EXPLAIN_MAX);
	if (!envp || !ex_.buf || pipe2(p, O_CLOEXEC)) {
		err = envp && ex_.buf ? -errno : -ENOMEM;
		free(envp);
		ex_clear();
		return err;
	}
	memcpy(envp, environ, ne * sizeof(*envp));
	envp[ne] = "XCNI_EXPLAIN_IN_AGENT=1";
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	err = -posix_spawn(&ex_.pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(p[1]);
	if (err) {
		close(p[0]);
		ex_.pid = 0;
		ex_clear();
		return err;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	ex_.fd = p[0];
	ex_.start_ms = now_ms();
	snprintf(ex_.key, sizeof(ex_.key), "%s", key);
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

/*
 * explain's record (one JSON line) into out, an isolated side's near misses
 * filled in from this agent's store: the child cannot read the cluster
 * (ex_start), and its text and *_near_misses say them as explain does where
 * it reads the cluster itself. The line as it came if it does not parse.
 */
static void explain_put(struct flowd *d, const char *rec, struct fbuf *out)
{
	static const char *const sides[] = { "egress", "ingress" };
	json_t *r = json_loads(rec, 0, NULL);
	const char *pn = json_string_value(json_object_get(r, "proto")) ?: "";
	char *doc = NULL;
	int proto = 1;

	while (proto < 256 && strcmp(proto_name((uint8_t)proto) ?: "", pn))
		proto++;
	if (proto == 256) /* explain writes a number for a protocol without a name */
		proto = atoi(pn) & 0xff;
	for (int i = 0; r && i < 2; i++) {
		/* egress: the source isolated it, towards dst; ingress: dst, from src */
		const char *self = json_string_value(json_object_get(r, i ? "dst" : "src"));
		const char *other = json_string_value(json_object_get(r, i ? "src" : "dst"));
		const char *os = other ? strchr(other, '/') : NULL, *text;
		char k[32], sns[256], ons[256], nm[1024];

		snprintf(k, sizeof(k), "%s_reason", sides[i]);
		if (!self || !strchr(self, '/') ||
		    strcmp(json_string_value(json_object_get(r, k)) ?: "", "isolated"))
			continue;
		snprintf(sns, sizeof(sns), "%.*s", (int)(strchr(self, '/') - self), self);
		if (os)
			snprintf(ons, sizeof(ons), "%.*s", (int)(os - other), other);
		if (flowd_near_misses(d, sns, strchr(self, '/') + 1, os ? ons : NULL,
				      os ? os + 1 : NULL, i, (uint8_t)proto,
				      (uint16_t)json_integer_value(json_object_get(r, "port")), nm,
				      sizeof(nm)) || !nm[0])
			continue;
		snprintf(k, sizeof(k), "%s_near_misses", sides[i]);
		json_object_set_new(r, k, json_string(nm));
		snprintf(k, sizeof(k), "%s_text", sides[i]);
		if ((text = json_string_value(json_object_get(r, k))))
			json_object_set_new(r, k, json_sprintf("%s; near miss: %s", text, nm));
	}
	if (r && (doc = json_dumps(r, JSON_COMPACT)))
		rec = doc;
	flows_fbuf_printf(out, "%s\n", rec);
	free(doc);
	json_decref(r);
}

/*
 * explain for this node's side: the xcnictl beside this xcnid run on these
 * maps (the same code explain runs locally), in the background (ex_): 503
 * until it ended, then its JSON record or its error line as the answer.
 */
static int answer_explain(struct flowd *d, const struct http_args *args, struct fbuf *out)
{
	static const char *const names[] = { "family", "sport", "src", "dst", "port" };
	const char *v[5];
	char exe[PATH_MAX], err[400], key[1200], *rec, *argv[16];
	int argc = 0, ret;
	ssize_t n;

	for (int i = 0; i < 5; i++) {
		v[i] = http_arg(args, names[i]);
		if ((i >= 2 || v[i]) && flows_explain_arg(names[i], v[i], err, sizeof(err))) {
			flows_fbuf_printf(out, "{\"error\":\"%s\"}\n", err);
			return -EINVAL;
		}
	}
	snprintf(key, sizeof(key), "%s|%s|%s|%s|%s", v[0] ?: "", v[1] ?: "", v[2], v[3], v[4]);
	ex_poll();
	/* A run nobody came back for: dropped after 10 s. */
	if (ex_.done_ms && (strcmp(ex_.key, key) ? now_ms() - ex_.done_ms > 10000 : false))
		ex_clear();
	if (ex_.pid && !ex_.done_ms) {
		flows_fbuf_printf(out, "{\"error\":\"node %s: explain %s, ask again\"}\n", d->node,
				  strcmp(ex_.key, key) ? "busy with another flow" : "running");
		return -EAGAIN;
	}
	if (ex_.pid && strcmp(ex_.key, key)) {
		flows_fbuf_printf(out, "{\"error\":\"node %s: explain busy, ask again\"}\n", d->node);
		return -EAGAIN;
	}
	if (!ex_.pid) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 8);
		if (n <= 0 || !memchr(exe, '/', (size_t)n))
			return -ENOENT;
		exe[n] = '\0';
		snprintf(strrchr(exe, '/') + 1, 8, "xcnictl");
		argv[argc++] = exe;
		argv[argc++] = "--pin-dir";
		argv[argc++] = d->pin_dir;
		argv[argc++] = "-o";
		argv[argc++] = "json";
		argv[argc++] = "explain";
		if (v[0]) {
			argv[argc++] = "--family";
			argv[argc++] = (char *)v[0];
		}
		if (v[1]) {
			argv[argc++] = "--sport";
			argv[argc++] = (char *)v[1];
		}
		for (int i = 2; i < 5; i++)
			argv[argc++] = (char *)v[i];
		argv[argc] = NULL;
		ret = ex_start(key, argv);
		if (ret) {
			flows_fbuf_printf(out, "{\"error\":\"node %s: cannot run %s: %s\"}\n", d->node,
					  exe, strerror(-ret));
			return ret;
		}
		flows_fbuf_printf(out, "{\"error\":\"node %s: explain started, ask again\"}\n",
				  d->node);
		return -EAGAIN;
	}
	/* Ended: the record's line (a warning may come first, stderr being the same pipe). */
	rec = ex_.buf[0] == '{' ? ex_.buf : strstr(ex_.buf, "\n{");
	rec = rec && rec != ex_.buf ? rec + 1 : rec;
	if (ex_.status == -1 || !WIFEXITED(ex_.status) || WEXITSTATUS(ex_.status) || !rec) {
		/* Its error said as one line, quotes and control characters blanked. */
		size_t l = strlen(ex_.buf);

		while (l && ex_.buf[l - 1] == '\n')
			ex_.buf[--l] = '\0';
		for (char *q = ex_.buf; *q; q++)
			if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20)
				*q = *q == '\n' ? ';' : '?';
		flows_fbuf_printf(out, "{\"error\":\"node %s: explain: %s\"}\n", d->node,
				  ex_.status == -1 ? "took too long" : ex_.buf);
		ret = ex_.status == -1 ? -ETIMEDOUT : -EINVAL;
	} else {
		rec[strcspn(rec, "\n")] = '\0';
		explain_put(d, rec, out);
		ret = 0;
	}
	ex_clear();
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
	/* Both read every namespace's policies: not a tenant's certificate. */
	if (scope) {
		flows_fbuf_printf(out, "{\"error\":\"request=%s reads every namespace: a client "
				       "certificate without OU asks it\"}\n",
				  strcmp(kind, FLOWS_REQ_EXPLAIN) ? FLOWS_REQ_POLSTATUS : FLOWS_REQ_EXPLAIN);
		return -EACCES;
	}
	if (!strcmp(kind, FLOWS_REQ_POLSTATUS))
		err = answer_polstatus(d, out);
	else if (!strcmp(kind, FLOWS_REQ_EXPLAIN))
		err = answer_explain(d, args, out);
	else {
		flows_fbuf_printf(out, "{\"error\":\"request=%.64s: %s or %s (none: flows)\"}\n",
				  kind, FLOWS_REQ_POLSTATUS, FLOWS_REQ_EXPLAIN);
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
	answer_req(d, req.p ? req.p : (char[]){ "" }, &out);
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
	if (fd >= 0)
		close(fd);
	return err;
}

/* --flows-listen: the HTTPS server, its route, in the agent's epoll set. 0 or -errno (said). */
int flowd_listen_tls(struct flowd *d, const struct flowd_opts *o)
{
	static const char *const files[] = { "tls.crt", "tls.key", "ca.crt" };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_TLS };
	struct http_tls t = { .name = FLOWS_TLS_NAME };
	int err;

	for (int i = 0; i < 3; i++)
		if ((err = read_pem(o->tls_dir, files[i], &d->pem[i])))
			return err;
	t.cert = d->pem[0];
	t.key = d->pem[1];
	t.ca = d->pem[2];
	err = http_open_tls(o->listen, &t, &d->tls);
	if (err) {
		pr_err("flows: --flows-listen %s (certificates from %s): cannot serve it\n", o->listen,
		       o->tls_dir);
		return err;
	}
	err = http_route(d->tls, FLOWS_HTTP_PATH, "application/x-ndjson", render_http, d);
	if (!err && epoll_ctl(d->epfd, EPOLL_CTL_ADD, http_fd(d->tls), &ev))
		err = -errno;
	return err;
}

void flowd_client_io(struct flowd *d, struct client *c)
{
	ssize_t n;

	if (!c->out.p) {
		n = read(c->fd, c->req + c->reqlen, FLOWD_REQ_MAX - c->reqlen);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			flowd_client_close(d, c);
			return;
		}
		c->reqlen += (size_t)n;
		if (n == 0 || c->reqlen == FLOWD_REQ_MAX) {
			if (n > 0) {
				/* Too long to be a request of xcnictl's. */
				flows_fbuf_printf(&c->out,
				                  "{\"error\":\"request longer than %d bytes\"}\n",
				                  FLOWD_REQ_MAX);
				struct epoll_event ev = { .events = EPOLLOUT,
							  .data.u64 = TAG_CLIENT +
								      (uint64_t)(c - d->c) };
				epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
				return;
			}
			client_answer(d, c);
		}
		return;
	}
	n = write(c->fd, c->out.p + c->off, c->out.len - c->off);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (c->off += (size_t)n) == c->out.len)
		flowd_client_close(d, c);
}

void flowd_on_listen(struct flowd *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd = accept4(d->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct client *c = NULL;

	if (fd < 0)
		return;
	for (int i = 0; i < FLOWD_CLIENTS; i++)
		if (d->c[i].fd < 0) {
			c = &d->c[i];
			break;
		}
	if (!c) {
		/* Busy: the client sees the connection closed and may try again. */
		close(fd);
		return;
	}
	c->fd = fd;
	c->reqlen = c->off = 0;
	c->since = time(NULL);
	ev.data.u64 = TAG_CLIENT + (uint64_t)(c - d->c);
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		c->fd = -1;
	}
}

int flowd_listen_unix(struct flowd *d)
{
	int fd = xcni_unix_listen(d->sock);

	if (fd < 0)
		return fd;
	d->lfd = fd;
	return 0;
}
