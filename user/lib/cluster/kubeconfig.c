// SPDX-License-Identifier: Apache-2.0
/*
 * Where the Kubernetes API is and who we are to it: the in-cluster service
 * account (its token, CA and the KUBERNETES_SERVICE_* address) or a
 * kubeconfig file (its current context's cluster and user: a server URL, a CA,
 * a client certificate and key or a token, each as a path or as base64 data).
 * What the list/watch backend (k8sapi.c) reads before each request.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <jansson.h>

#include "lib/cluster/k8sapi.h"
#include "lib/system/log.h"
#include "lib/system/readall.h"
#include "lib/system/util.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define MAX_CONF_FILE (1u << 20)
static int read_small_file(const char *path, char **out, size_t *outlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = xcni_read_all(fd, MAX_CONF_FILE - 1, out, outlen);
	close(fd);
	return ret == -E2BIG ? -EFBIG : ret;
}

/*
 * The offset of the first character a bearer token cannot hold (a control
 * character: CR or LF would end the Authorization header and start one of
 * the token's choosing in every request), or -1 when there is none.
 */
static ssize_t token_bad_at(const char *t)
{
	for (const unsigned char *p = (const unsigned char *)t; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return (ssize_t)(p - (const unsigned char *)t);
	return -1;
}

/* A token file holds the token and maybe a newline; neither belongs in the header. */
int k8s_read_token(const char *path, char **out)
{
	char *t = NULL;
	size_t len = 0;
	int ret;

	ret = read_small_file(path, &t, &len);
	if (ret)
		return ret;
	while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' ' ||
		       t[len - 1] == '\t'))
		t[--len] = '\0';
	if (!len || strlen(t) != len || token_bad_at(t) >= 0) {
		explicit_bzero(t, len);
		free(t);
		return -EINVAL;
	}
	*out = t;
	return 0;
}

/* Standard base64 (what kubeconfig's *-data fields hold), GnuTLS's decoder; whitespace ignored. */
static int b64_decode(const char *s, char **out, size_t *outlen)
{
	gnutls_datum_t in = { .data = malloc(strlen(s) + 1) }, d = {};
	int err = -ENOMEM;

	if (!in.data)
		return -ENOMEM;
	for (; *s; s++)
		if (!strchr(" \n\r\t", *s))
			in.data[in.size++] = (unsigned char)*s;
	if (gnutls_base64_decode2(&in, &d) || !d.size) {
		err = -EINVAL;
		goto out;
	}
	if (!(*out = malloc(d.size + 1)))
		goto out;
	memcpy(*out, d.data, d.size);
	(*out)[d.size] = '\0';
	*outlen = d.size;
	err = 0;
out:
	if (d.data)
		explicit_bzero(d.data, d.size);
	gnutls_free(d.data);
	free(in.data);
	return err;
}

void k8s_api_conf_free(struct k8s_api_conf *c)
{
	char *v[] = { c->server, c->source, c->ca_file, c->ca_data, c->token,
		      c->token_file, c->cert_file, c->key_file, c->cert_data, c->key_data };

	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		free(v[i]);
	memset(c, 0, sizeof(*c));
}

int k8s_api_conf_in_cluster(struct k8s_api_conf *c)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	bool v6;
	int ret;

	memset(c, 0, sizeof(*c));
	if (!host || !*host || !port || !*port)
		return pr_err_ret(-ENOENT, "--k8s-api in-cluster: "
				  "KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set, so "
				  "this is not a pod; outside a cluster use --kubeconfig PATH\n");
	if (access(SA_DIR "/token", R_OK)) {
		ret = -errno;
		pr_err("--k8s-api in-cluster: cannot read %s/token (%s): mount the service "
		       "account token into xcnid's pod (automountServiceAccountToken: true)\n",
		       SA_DIR, strerror(-ret));
		return ret;
	}
	v6 = strchr(host, ':') != NULL;
	if (asprintf(&c->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) <
	    0) {
		c->server = NULL;
		goto err_nomem;
	}
	c->in_cluster = true;
	c->source = strdup("in-cluster");
	c->token_file = strdup(SA_DIR "/token");
	c->ca_file = strdup(SA_DIR "/ca.crt");
	if (!c->source || !c->token_file || !c->ca_file)
		goto err_nomem;
	return 0;

err_nomem:
	k8s_api_conf_free(c);
	return -ENOMEM;
}

/* The entry of list (contexts, clusters, users) called name: its `field` object. */
static json_t *find_named(json_t *doc, const char *list, const char *name, const char *field)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(doc, list), i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));

		if (n && !strcmp(n, name)) {
			json_t *v = json_object_get(e, field);

			return json_is_object(v) ? v : NULL;
		}
	}
	return NULL;
}

static const char *str_field(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : NULL;
}

/* token_bad_at for a JSON string, whose "\u0000" would end the C string early. */
static ssize_t json_token_bad_at(json_t *v)
{
	const char *t = json_string_value(v);
	size_t len = strlen(t);

	return len < json_string_length(v) ? (ssize_t)len : token_bad_at(t);
}

/* kubectl resolves a kubeconfig's relative paths against the file's directory. */
static char *resolve(const char *kubeconfig, const char *p)
{
	const char *slash = strrchr(kubeconfig, '/');
	char *out;

	if (p[0] == '/' || !slash)
		return strdup(p);
	if (asprintf(&out, "%.*s/%s", (int)(slash - kubeconfig), kubeconfig, p) < 0)
		return NULL;
	return out;
}

/* One of "<base>" (a path) or "<base>-data" (base64 PEM), into *file or *data. */
static int file_or_data(const char *kc, json_t *o, const char *where, const char *base,
			char **file, char **data, size_t *len)
{
	char key[64];
	const char *f = str_field(o, base), *d;
	int ret;

	snprintf(key, sizeof(key), "%s-data", base);
	d = str_field(o, key);
	if (f && d)
		return pr_err_ret(-EINVAL, "kubeconfig %s: %s has both %s and %s; keep one\n", kc,
				  where, base, key);
	if (d) {
		ret = b64_decode(d, data, len);
		if (ret == -EINVAL)
			pr_err("kubeconfig %s: %s.%s is not base64 (it holds the PEM file, "
			       "base64-encoded: base64 -w0 FILE)\n",
			       kc, where, key);
		return ret;
	}
	if (f) {
		*file = resolve(kc, f);
		if (!*file)
			return -ENOMEM;
		if (access(*file, R_OK)) {
			ret = -errno;
			pr_err("kubeconfig %s: %s.%s: cannot read %s: %s\n", kc, where, base, *file,
			       strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* The context's cluster: the server's https:// URL, its CA, insecure-skip-tls-verify. */
static int conf_cluster(const char *path, json_t *doc, json_t *ctx, const char *cur,
			struct k8s_api_conf *c)
{
	const char *cname, *server;
	json_t *cluster, *v;
	char where[320];
	int ret = -EINVAL;

	cname = str_field(ctx, "cluster");
	cluster = cname ? find_named(doc, "clusters", cname, "cluster") : NULL;
	if (!cluster)
		return pr_err_ret(ret, "kubeconfig %s: context \"%s\" names cluster \"%s\", which "
				  "is not among clusters[]\n", path, cur, cname ? cname : "");
	snprintf(where, sizeof(where), "clusters[%s].cluster", cname);
	server = str_field(cluster, "server");
	if (!server || strncmp(server, "https://", 8))
		return pr_err_ret(ret, "kubeconfig %s: %s.server is %s%s%s: xcnid needs the API "
				  "server's https:// URL\n", path, where, server ? "\"" : "",
				  server ? server : "missing", server ? "\"" : "");
	ret = -ENOMEM;
	c->server = strdup(server);
	c->source = strdup(path);
	if (!c->server || !c->source)
		return ret;
	/* "https://h:6443/" + "/api/v1/..." would be a different path on some proxies. */
	while (strlen(c->server) > 8 && c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = '\0';
	ret = file_or_data(path, cluster, where, "certificate-authority", &c->ca_file, &c->ca_data,
			   &c->ca_len);
	if (ret)
		return ret;
	v = json_object_get(cluster, "insecure-skip-tls-verify");
	c->insecure = json_is_true(v) ||
		      (json_is_string(v) && !strcmp(json_string_value(v), "true"));
	if (c->insecure)
		pr_warn("kubeconfig %s: %s.insecure-skip-tls-verify: the API server's certificate "
			"is not checked, so anyone on the path can feed xcnid a policy\n",
			path, where);
	return 0;
}

/* The context's user: a token (inline or a file), or a client certificate and key. */
static int conf_user(const char *path, json_t *doc, json_t *ctx, const char *cur,
		     struct k8s_api_conf *c)
{
	const char *uname;
	json_t *user = NULL;
	char where[320];
	int ret;

	uname = str_field(ctx, "user");
	if (uname) {
		user = find_named(doc, "users", uname, "user");
		if (!user) {
			pr_err("kubeconfig %s: context \"%s\" names user \"%s\", which is not among "
			       "users[]\n",
			       path, cur, uname);
			ret = -EINVAL;
			return ret;
		}
	}
	if (user) {
		const char *tok = str_field(user, "token"), *tf = str_field(user, "tokenFile");
		ssize_t bad = tok ? json_token_bad_at(json_object_get(user, "token")) : -1;

		snprintf(where, sizeof(where), "users[%s].user", uname);
		if (bad >= 0) {
			/* The token itself stays out of the log: it is a credential. */
			pr_err("kubeconfig %s: %s.token has a control character (CR, LF or another, "
			       "byte %zd of %zu): it would end the Authorization header; a token is "
			       "one line of printable characters\n",
			       path, where, bad, json_string_length(json_object_get(user, "token")));
			ret = -EINVAL;
			return ret;
		}
		ret = -ENOMEM;
		if (tok && !(c->token = strdup(tok)))
			return ret;
		if (!tok && tf && !(c->token_file = resolve(path, tf)))
			return ret;
		ret = file_or_data(path, user, where, "client-certificate", &c->cert_file,
				   &c->cert_data, &c->cert_len);
		if (!ret)
			ret = file_or_data(path, user, where, "client-key", &c->key_file,
					   &c->key_data, &c->key_len);
		if (ret)
			return ret;
		ret = -EINVAL;
		if (!(c->cert_file || c->cert_data) != !(c->key_file || c->key_data))
			return pr_err_ret(ret, "kubeconfig %s: %s has a client certificate without "
					  "its key, or a key without its certificate; give both "
					  "(client-certificate[-data] and client-key[-data])\n",
					  path, where);
		if (!c->token && !c->token_file && !c->cert_file && !c->cert_data &&
		    (json_object_get(user, "exec") || json_object_get(user, "auth-provider"))) {
			pr_err("kubeconfig %s: %s gets its credentials from %s, which xcnid does "
			       "not run; give it a token (kubectl create token SERVICEACCOUNT) or a "
			       "client certificate\n",
			       path, where,
			       json_object_get(user, "exec") ? "an exec plugin" : "an auth-provider");
			return ret;
		}
	}
	return 0;
}

int k8s_api_conf_kubeconfig(const char *path, struct k8s_api_conf *c)
{
	json_t **docs = NULL, *doc, *ctx;
	struct k8s_error err;
	const char *cur;
	size_t ndocs = 0;
	int ret;

	memset(c, 0, sizeof(*c));
	ret = k8s_load_file(path, &docs, &ndocs, &err);
	if (ret)
		return pr_err_ret(ret, "kubeconfig: %s\n", err.msg);
	ret = -EINVAL;
	if (ndocs != 1 || !json_is_object(docs[0])) {
		pr_err("kubeconfig %s: expected one YAML document (kind: Config)\n", path);
		goto out;
	}
	doc = docs[0];
	cur = str_field(doc, "current-context");
	if (!cur) {
		pr_err("kubeconfig %s: no current-context; pick one with `kubectl --kubeconfig %s "
		       "config use-context NAME`\n",
		       path, path);
		goto out;
	}
	ctx = find_named(doc, "contexts", cur, "context");
	if (!ctx) {
		pr_err("kubeconfig %s: current-context \"%s\" is not among contexts[]\n", path, cur);
		goto out;
	}
	ret = conf_cluster(path, doc, ctx, cur, c);
	if (ret)
		goto out;
	ret = conf_user(path, doc, ctx, cur, c);
	if (ret)
		goto out;
	ret = 0;
out:
	k8s_docs_free(docs, ndocs);
	if (ret)
		k8s_api_conf_free(c);
	return ret;
}

