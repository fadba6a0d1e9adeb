// SPDX-License-Identifier: Apache-2.0
/* Agents' flows over the network, the client side (flowsnet.h). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/system/util.h"
#include "lib/cluster/k8sagents.h"
#include "lib/cluster/k8sreq.h"
#include "lib/observe/flows.h"
#include "lib/observe/flowsnet.h"
#include "lib/observe/vocab.h"

/* An agent's answer at most (its own bound is 256 MiB). */
#define FLOWS_ANSWER_MAX (512u << 20)

int flows_agent_parse(const char *v, struct flows_agent *a, char *err, size_t errlen)
{
	const char *host = v, *port = NULL;
	unsigned long p = FLOWS_TLS_PORT;
	size_t hl;
	char *end;

	memset(a, 0, sizeof(*a));
	if (v[0] == '[') {
		const char *rb = strchr(v, ']');

		if (!rb || (rb[1] && rb[1] != ':'))
			goto bad;
		host = v + 1;
		hl = (size_t)(rb - host);
		port = rb[1] ? rb + 2 : NULL;
	} else if (strchr(v, ':') && strchr(v, ':') == strrchr(v, ':')) {
		hl = (size_t)(strchr(v, ':') - v);
		port = strchr(v, ':') + 1;
	} else {
		hl = strlen(v);
	}
	if (!hl || hl > 64 || strspn(host, "0123456789abcdefABCDEF:.-_"
				     "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ") < hl)
		goto bad;
	if (port) {
		errno = 0;
		p = strtoul(port, &end, 10);
		if (!*port || *end || errno || !p || p > 65535)
			goto bad;
	}
	a->port = (unsigned int)p;
	{
		bool v6 = memchr(host, ':', hl);

		snprintf(a->host, sizeof(a->host), "%s%.*s%s", v6 ? "[" : "", (int)hl, host,
			 v6 ? "]" : "");
		snprintf(a->node, sizeof(a->node), "%.56s:%lu", a->host, p);
	}
	return 0;
bad:
	snprintf(err, errlen, "--agent %s: ADDR, ADDR:PORT or [IPv6]:PORT (an address or a name; "
		 "port 1-65535, default %d)", v, FLOWS_TLS_PORT);
	return -EINVAL;
}

int flows_agents_cluster(const char *kubeconfig, struct flows_agent **out, size_t *n, char *err,
			 size_t errlen)
{
	struct k8s_api_conf conf = {};
	struct k8s_agent *ka = NULL;
	struct flows_agent *fa;
	size_t nk = 0;
	int ret;

	*out = NULL;
	*n = 0;
	ret = k8s_api_conf_kubectl(kubeconfig, &conf);
	if (ret) {
		err[0] = '\0'; /* said, naming the file or what is missing */
		return ret;
	}
	ret = k8s_agents_list(&conf, NULL, NULL, 10000, &ka, &nk, err, errlen);
	k8s_api_conf_free(&conf);
	if (ret)
		return ret;
	fa = calloc(nk ? nk : 1, sizeof(*fa));
	if (!fa) {
		free(ka);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < nk; i++) {
		const struct k8s_agent *k = &ka[i];
		struct flows_agent *a = &fa[i];
		bool v6 = strchr(k->addr, ':');

		snprintf(a->node, sizeof(a->node), "%.63s", k->node[0] ? k->node : k->pod);
		snprintf(a->host, sizeof(a->host), "%s%.64s%s", v6 ? "[" : "", k->addr, v6 ? "]" : "");
		a->port = FLOWS_TLS_PORT;
		snprintf(a->pod, sizeof(a->pod), "%.127s", k->pod);
		if (!k->pod[0])
			snprintf(a->why, sizeof(a->why), "no xcni agent pod on this node");
		else if (!k->node[0])
			snprintf(a->why, sizeof(a->why), "agent pod %.64s is not on a node yet", k->pod);
		else if (strcmp(k->phase, "Running"))
			snprintf(a->why, sizeof(a->why), "agent pod %.64s is %s", k->pod,
				 k->phase[0] ? k->phase : "in no phase");
		else if (!k->addr[0])
			snprintf(a->why, sizeof(a->why), "agent pod %.64s has no address", k->pod);
	}
	free(ka);
	*out = fa;
	*n = nk;
	return 0;
}

int flows_tls_check(const char *tls_dir, char *err, size_t errlen)
{
	for (const char *const *f = (const char *const[]){ "ca.crt", "tls.crt", "tls.key", NULL };
	     *f; f++) {
		char path[600];

		snprintf(path, sizeof(path), "%s/%s", tls_dir, *f);
		if (access(path, R_OK)) {
			int e = -errno;

			snprintf(err, errlen, "--tls %s: %s: %s", tls_dir, *f, strerror(-e));
			return e;
		}
	}
	return 0;
}

int flows_http_get(const char *tls_dir, const struct flows_agent *a, const char *path,
		   const char *req, long timeout_s, char **out, size_t *outlen, char *err,
		   size_t errlen)
{
	char tls[3][600], errbuf[CURL_ERROR_SIZE] = "", connect_to[160];
	bool local = a->sock[0];
	struct curl_slist *ct = NULL;
	/* The NUL k8s_body_add ends it with inside the bound too. */
	struct k8s_body b = { .max = FLOWS_ANSWER_MAX - 1 };
	char *url = NULL;
	size_t ul = 0, ucap;
	long status = 0;
	CURLcode res;
	CURL *e;
	int ret = 0;

	err[0] = '\0';
	path = path ? path : FLOWS_HTTP_PATH;
	if (local && access(a->sock, F_OK)) {
		/* No agent made it (rather than curl's "could not connect"). */
		snprintf(err, errlen, "%s", strerror(errno));
		return -errno;
	}
	e = curl_easy_init();
	ucap = 96 + strlen(path) + 3 * strlen(req);
	url = malloc(ucap);
	if (!local) {
		snprintf(connect_to, sizeof(connect_to), "%s:%u:%s:%u", FLOWS_TLS_NAME, a->port,
			 a->host, a->port);
		ct = curl_slist_append(NULL, connect_to);
	}
	if (!e || !url || (!local && !ct)) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	ul = local ? (size_t)snprintf(url, ucap, "http://localhost%s", path) :
		     (size_t)snprintf(url, ucap, "https://%s:%u%s", FLOWS_TLS_NAME, a->port, path);
	/* Each request line name=value is an argument, the value escaped. */
	for (const char *p = req; *p;) {
		const char *nl = strchr(p, '\n'), *eq = memchr(p, '=', (size_t)(nl - p));
		char *v = eq ? curl_easy_escape(e, eq + 1, (int)(nl - eq - 1)) : NULL;

		if (eq && v)
			ul += (size_t)snprintf(url + ul, ucap - ul, "%c%.*s=%s",
					       strchr(url, '?') ? '&' : '?', (int)(eq - p), p, v);
		curl_free(v);
		p = nl + 1;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	if (local) {
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, a->sock);
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	} else {
		snprintf(tls[0], sizeof(tls[0]), "%s/ca.crt", tls_dir);
		snprintf(tls[1], sizeof(tls[1]), "%s/tls.crt", tls_dir);
		snprintf(tls[2], sizeof(tls[2]), "%s/tls.key", tls_dir);
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, ct);
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
		curl_easy_setopt(e, CURLOPT_CAINFO, tls[0]);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(e, CURLOPT_SSLCERT, tls[1]);
		curl_easy_setopt(e, CURLOPT_SSLKEY, tls[2]);
		curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, timeout_s < 5 ? timeout_s : 5L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, k8s_body_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	res = curl_easy_perform(e);
	if (res != CURLE_OK) {
		snprintf(err, errlen, "%s%s%s",
			 b.over ? "the answer is too long" : errbuf[0] ? errbuf : curl_easy_strerror(res),
			 res == CURLE_PEER_FAILED_VERIFICATION || res == CURLE_SSL_CACERT_BADFILE ?
				 " (is --tls DIR's ca.crt the CA that signed the agents?)" :
			 res == CURLE_SSL_CERTPROBLEM ? " (--tls DIR's tls.crt and tls.key)" : "",
			 local ? "" :
			 res == CURLE_COULDNT_CONNECT || res == CURLE_OPERATION_TIMEDOUT ?
				 " (does its xcnid run with --flows-listen?)" : "");
		ret = local && res == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
		goto out;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (status == 400 && b.buf && !strncmp(b.buf, "{\"error\":", 9)) {
		/* A filter the agent refused: said as the socket says it. */
	} else if (status != 200) {
		char *nl = b.buf ? strchr(b.buf, '\n') : NULL;

		if (nl)
			*nl = '\0';
		snprintf(err, errlen, "HTTP %ld: %s", status, b.buf ? b.buf : "");
		ret = status == 403 ? -EACCES : -EIO;
		goto out;
	}
	if (!b.buf || b.buf[b.len - 1] != '\n') {
		snprintf(err, errlen, "an empty or cut answer");
		ret = -EIO;
		goto out;
	}
	*out = b.buf;
	*outlen = b.len;
	b.buf = NULL;
out:
	free(b.buf);
	free(url);
	curl_slist_free_all(ct);
	curl_easy_cleanup(e);
	return ret;
}

int flows_local_get(const char *sock, const char *path, const char *req, long timeout_s,
		    char **out, size_t *outlen, char *err, size_t errlen)
{
	struct flows_agent a = {};

	if (strlen(sock) >= sizeof(a.sock)) {
		snprintf(err, errlen, "%s", strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	snprintf(a.sock, sizeof(a.sock), "%s", sock);
	return flows_http_get(NULL, &a, path, req, timeout_s, out, outlen, err, errlen);
}

/* ---- requests other than flows -------------------------------------------- */

int flows_explain_arg(const char *name, const char *v, char *err, size_t errlen)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-";

	if (!v || !*v || *v == '-' || strlen(v) > 300 || strspn(v, ok) != strlen(v)) {
		snprintf(err, errlen, "explain's %s %.64s: a pod NAMESPACE/NAME, an address, "
			 "PORT/PROTO or a number (letters, digits and ._:/- only, no leading '-')",
			 name, v ? v : "");
		return -EINVAL;
	}
	return 0;
}

int flows_explain_req(const char *src, const char *dst, const char *pp, unsigned int family,
		      unsigned int sport, char *buf, size_t len, char *err, size_t errlen)
{
	int n;

	if (flows_explain_arg("src", src, err, errlen) || flows_explain_arg("dst", dst, err, errlen) ||
	    flows_explain_arg("port", pp, err, errlen))
		return -EINVAL;
	n = snprintf(buf, len, "%s=%s\nsrc=%s\ndst=%s\nport=%s\n", FLOWS_REQ_KIND,
		     FLOWS_REQ_EXPLAIN, src, dst, pp);
	if (n >= 0 && (size_t)n < len && family)
		n += snprintf(buf + n, len - (size_t)n, "family=%u\n", family);
	if (n >= 0 && (size_t)n < len && sport)
		n += snprintf(buf + n, len - (size_t)n, "sport=%u\n", sport);
	return n < 0 || (size_t)n >= len ? -E2BIG : 0;
}

int flows_ask_all(const char *kubeconfig, const char *tls_dir, const char *req, long timeout_s,
		  struct flows_agent **agents, json_t ***docs, size_t *n)
{
	char err[512], **raw;
	int ret;

	*docs = NULL;
	if ((ret = flows_tls_check(tls_dir, err, sizeof(err)))) {
		fprintf(stderr, "%s\n", err);
		return ret;
	}
	if ((ret = flows_agents_cluster(kubeconfig, agents, n, err, sizeof(err)))) {
		if (err[0])
			fprintf(stderr, "--kubeconfig %s: %s\n", kubeconfig ? kubeconfig : "", err);
		return ret;
	}
	raw = calloc(*n ? *n : 1, sizeof(*raw));
	*docs = calloc(*n ? *n : 1, sizeof(**docs));
	if (!raw || !*docs) {
		free(raw);
		free(*docs);
		*docs = NULL;
		free(*agents);
		*agents = NULL;
		return -ENOMEM;
	}
	/*
	 * Every agent asked in turn, again while one says 503 (no policy
	 * status yet), until timeout_s.
	 */
	for (long waited_ms = 0;; waited_ms += 100) {
		bool again = false;

		for (size_t i = 0; i < *n; i++) {
			struct flows_agent *a = &(*agents)[i];
			size_t len;

			if (a->why[0] || raw[i] ||
			    !flows_http_get(tls_dir, a, NULL, req, timeout_s, &raw[i], &len, err,
					     sizeof(err)))
				continue;
			if (!strncmp(err, "HTTP 503", 8) && waited_ms < timeout_s * 1000)
				again = true;
			else
				snprintf(a->why, sizeof(a->why), "%.150s", err);
		}
		if (!again)
			break;
		usleep(100 * 1000);
	}
	for (size_t i = 0; i < *n; i++) {
		struct flows_agent *a = &(*agents)[i];
		json_t *d = raw[i] ? json_loads(raw[i], 0, NULL) : NULL;
		const char *e = json_string_value(json_object_get(d, "error"));

		if (e || (!d && !a->why[0]))
			snprintf(a->why, sizeof(a->why), "%.150s", e ?: "an answer that is not JSON");
		(*docs)[i] = e ? NULL : d;
		if (e)
			json_decref(d);
		free(raw[i]);
	}
	free(raw);
	return 0;
}

/* The record (of agents' answers) whose side is decided there: its pod's own node's. */
static json_t *deciding(json_t *const *recs, size_t n, const char *side)
{
	char k[32];

	snprintf(k, sizeof(k), "%s_reason", side);
	for (size_t i = 0; i < n; i++)
		if (recs[i] && strcmp(json_string_value(json_object_get(recs[i], k)) ?: "remote",
				      "remote"))
			return recs[i];
	return NULL;
}

void *flows_explain_merge(void *const *records, size_t n)
{
	json_t *const *recs = (json_t *const *)records;
	json_t *eg = deciding(recs, n, "egress"), *in = deciding(recs, n, "ingress"), *m, *v;
	const char *ev, *iv, *vt, *key;
	char buf[300];

	for (size_t i = 0; !eg && i < n; i++)
		eg = recs[i];
	if (!eg || !(m = json_deep_copy(eg)))
		return NULL;
	/* The ingress side (its columns) from the destination's node. */
	json_object_foreach(in, key, v)
		if (!strncmp(key, "ingress", 7))
			json_object_set(m, key, v);
	ev = json_string_value(json_object_get(m, "egress"));
	iv = json_string_value(json_object_get(m, "ingress"));
	vt = json_string_value(json_object_get(m, "verdict_text")) ?: "";
	/* As explain_flow words it; drop-tunnel-family stays the source node's. */
	if (strstr(vt, "(drop-tunnel-family)"))
		snprintf(buf, sizeof(buf), "%s", vt);
	else if ((ev && !strcmp(ev, "deny")) || (iv && !strcmp(iv, "deny")))
		snprintf(buf, sizeof(buf), "denied: %s",
			 ev && iv && !strcmp(ev, "deny") && !strcmp(iv, "deny") ?
				 "by egress at the source and ingress at the destination" :
			 ev && !strcmp(ev, "deny") ? "by egress at the source" :
						     "by ingress at the destination");
	else if (!ev || !iv)
		snprintf(buf, sizeof(buf), "unknown: the %s side is decided on node %s, whose "
			 "agent did not answer", ev ? "ingress" : "egress",
			 json_string_value(json_object_get(m, ev ? "ingress_node" : "egress_node")) ?: "?");
	else
		snprintf(buf, sizeof(buf), "%s", !strcmp(json_string_value(json_object_get(
				m, "egress_reason")) ?: "", "self") ?
			 "allowed: a pod reaches itself" :
			 "allowed: both sides allow; the flow's replies pass via conntrack");
	json_object_set_new(m, "verdict_text", json_string(buf));
	*strchr(buf, ':') = '\0';
	json_object_set_new(m, "verdict", json_string(buf));
	return m;
}

/* ---- the merged view's filters ------------------------------------------------ */

/*
 * Whether a filter line ("name=value", negation stripped) is one each node
 * judges alike. Not the addresses: a NodePort flow's outside client is in
 * the SNATing node's part alone (the backend's node sees that node's
 * address), so --from-ip CLIENT is judged on the merged record.
 */
static bool node_judges(const char *name, size_t nl)
{
	static const char *const alike[] = { "protocol", "port", "from-port", "to-port", "since",
					     "until", "time", "last", "first", "after", NULL };

	for (const char *const *a = alike; *a; a++)
		if (strlen(*a) == nl && !strncmp(name, *a, nl))
			return true;
	return false;
}

int flows_req_split(const char *req, char *node_req, size_t ncap, char *merged_req, size_t mcap)
{
	size_t nl = 0, ml = 0;

	node_req[0] = merged_req[0] = '\0';
	for (const char *p = req; *p;) {
		size_t l = strcspn(p, "\n"), *len;
		char line[4200], *name = line, *eq, *buf;
		bool node;
		int n;

		snprintf(line, sizeof(line), "%.*s", (int)l, p);
		p += l + (p[l] == '\n');
		if (!l)
			continue;
		if (!strncmp(name, "not.", 4))
			name += 4;
		eq = strchr(name, '=');
		if (!eq)
			return -EINVAL;
		node = node_judges(name, (size_t)(eq - name));
		buf = node ? node_req : merged_req;
		len = node ? &nl : &ml;
		n = snprintf(buf + *len, (node ? ncap : mcap) - *len, "%s\n", line);
		if (n < 0 || (size_t)n >= (node ? ncap : mcap) - *len)
			return -E2BIG;
		*len += (size_t)n;
	}
	return 0;
}

/* An end of a JSON record into p (its strings borrowed from o), its address into addr. */
static void peer_from_json(json_t *o, struct flow_peer *p, uint8_t family, uint8_t *addr)
{
	const char *ip = json_string_value(json_object_get(o, "ip"));

	p->identity = (uint32_t)json_integer_value(json_object_get(o, "identity"));
	p->ns = json_string_value(json_object_get(o, "namespace"));
	p->pod = json_string_value(json_object_get(o, "pod"));
	p->labels = json_string_value(json_object_get(o, "labels"));
	if (ip)
		inet_pton(family == 6 ? AF_INET6 : AF_INET, ip, addr);
}

bool flows_json_match(const struct flow_filter *ff, void *json_rec)
{
	json_t *o = json_rec;
	const char *fam = json_string_value(json_object_get(o, "family"));
	const char *v = json_string_value(json_object_get(o, "verdict"));
	const char *reason = json_string_value(json_object_get(o, "drop_reason"));
	struct flow_rec r = { .seq = ff->after + 1, .verdict = FLOW_NR_VERDICTS };
	struct flow_filter only = *ff;

	r.key.family = fam && !strcmp(fam, "ipv6") ? 6 : 4;
	r.key.proto = 0;
	peer_from_json(json_object_get(o, "source"), &r.src, r.key.family, r.key.saddr);
	peer_from_json(json_object_get(o, "destination"), &r.dst, r.key.family, r.key.daddr);
	for (int i = 0; v && i < FLOW_NR_VERDICTS; i++)
		if (!strcmp(v, flow_verdict_name(i)))
			r.verdict = (uint8_t)i;
	if (reason && vocab_reason(reason, &r.reason, NULL, 0))
		r.reason = -1; /* a reason this build does not know: no --reason matches it */
	r.service = json_string_value(json_object_get(o, "service"));
	if (flow_client_parse(json_string_value(json_object_get(o, "client")), &r))
		r.client_family = 0;
	/* What each node judged is not judged again (the 5-tuple's, times). */
	only.proto = only.port = only.sport = only.dport = -1;
	only.since_ns = only.until_ago_ns = 0;
	only.since_wall_ns = only.until_wall_ns = 0;
	return flow_filter_match(&only, &r, 0, 0);
}

/* ---- several nodes' records of a connection, merged ------------------------- */

/* A connection's key: the 5-tuple in the direction of its first packet. */
void flows_conn_key(void *json_rec, char *buf, size_t len)
{
	json_t *o = json_rec, *s = json_object_get(o, "source"), *d = json_object_get(o, "destination");

	snprintf(buf, len, "%s|%s|%s|%lld|%s|%lld",
		 json_string_value(json_object_get(o, "family")) ?: "",
		 json_string_value(json_object_get(o, "protocol")) ?: "",
		 json_string_value(json_object_get(s, "ip")) ?: "",
		 (long long)json_integer_value(json_object_get(s, "port")),
		 json_string_value(json_object_get(d, "ip")) ?: "",
		 (long long)json_integer_value(json_object_get(d, "port")));
}

/*
 * Which record decides: a drop (denied, no-backend), then a refusal or a
 * timeout (the connection's fate past the policy: a node's RST outranks a
 * node's silence), an audit, an allow, a forward (not judged).
 */
static int verdict_rank(json_t *o)
{
	static const int sev[FLOW_NR_VERDICTS] = {
		[FLOW_DENIED] = 6, [FLOW_NO_BACKEND] = 6, [FLOW_DROPPED] = 6, [FLOW_REFUSED] = 5,
		[FLOW_TIMEOUT] = 4, [FLOW_AUDIT] = 3,	 [FLOW_ALLOWED] = 2,	 [FLOW_FORWARDED] = 1,
	};
	int v = flow_verdict_parse(json_string_value(json_object_get(o, "verdict")));

	return v < 0 ? 0 : sev[v];
}

bool flows_json_later(json_t *a, json_t *b)
{
	if (json_is_string(a) && json_is_string(b))
		return strcmp(json_string_value(a), json_string_value(b)) > 0;
	return json_number_value(a) > json_number_value(b);
}

/* A connection's records on every node (node -> record) as one. */
void *flows_merge_conn(void *per_node)
{
	json_t *per = per_node, *dec = NULL, *out, *nodes = json_array(), *r;
	const char *node, *decider = NULL;

	json_object_foreach(per, node, r)
	{
		int sv = verdict_rank(r);

		if (!dec || sv > verdict_rank(dec) ||
		    (sv == verdict_rank(dec) && json_is_null(json_object_get(dec, "policy")) &&
		     json_is_string(json_object_get(r, "policy")))) {
			dec = r;
			decider = node;
		}
	}
	out = json_deep_copy(dec);
	if (!out || !nodes) {
		json_decref(out);
		json_decref(nodes);
		return NULL;
	}
	json_object_foreach(per, node, r)
	{
		static const char *const keep[] = { "node", "verdict", "observation_point",
						    "entry_point", "packets", "bytes",
						    "reply_packets", "reply_bytes", "drops" };
		json_t *n = json_object();

		for (size_t i = 0; n && i < ARRAY_SIZE(keep); i++)
			json_object_set(n, keep[i], json_object_get(r, keep[i]));
		json_array_append_new(nodes, n);
		if (r == dec)
			continue;
		/* The ends as the node that knows them names them (a pod's own node). */
		for (const char *const *end = (const char *const[]){ "source", "destination", NULL };
		     *end; end++)
			if (json_is_null(json_object_get(json_object_get(out, *end), "pod")) &&
			    json_is_string(json_object_get(json_object_get(r, *end), "pod")))
				json_object_set(out, *end, json_object_get(r, *end));
		for (const char *const *k = (const char *const[]){ "service", "backend", "client", NULL }; *k;
		     k++)
			if (json_is_null(json_object_get(out, *k)))
				json_object_set(out, *k, json_object_get(r, *k));
		for (const char *const *k = (const char *const[]){ "last_seen", "updated", NULL }; *k;
		     k++)
			if (flows_json_later(json_object_get(r, *k), json_object_get(out, *k)))
				json_object_set(out, *k, json_object_get(r, *k));
	}
	json_object_set_new(out, "node", json_string(decider));
	json_object_set_new(out, "decided_by", json_string(decider));
	json_object_set_new(out, "nodes", nodes);
	return out;
}

