// SPDX-License-Identifier: Apache-2.0
/*
 * One waited-for request to the API server (k8sreq.h), and the TLS and
 * credentials setup that k8sapi.c's watcher shares.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cluster/k8sreq.h"
#include "lib/system/util.h"

#define K8S_REQ_MAX (64u << 20)

static void set_blob(CURL *e, CURLoption opt, const char *data, size_t len)
{
	struct curl_blob b = { (void *)data, len, CURL_BLOB_COPY };

	curl_easy_setopt(e, opt, &b);
}

static void wipe(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

int k8s_conf_curl(const struct k8s_api_conf *c, CURL *e, struct curl_slist **hdrs)
{
	struct curl_slist *l = NULL, *n;
	char *token = NULL, *hdr = NULL;
	int ret;

	*hdrs = NULL;
	if (c->token_file) {
		ret = k8s_read_token(c->token_file, &token);
		if (ret)
			return ret;
	}
	if (c->ca_data)
		set_blob(e, CURLOPT_CAINFO_BLOB, c->ca_data, c->ca_len);
	else if (c->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	if (c->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->cert_data)
		set_blob(e, CURLOPT_SSLCERT_BLOB, c->cert_data, c->cert_len);
	else if (c->cert_file)
		curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
	if (c->key_data)
		set_blob(e, CURLOPT_SSLKEY_BLOB, c->key_data, c->key_len);
	else if (c->key_file)
		curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file);

	/*
	 * client-go's: JSON from the API server, and whatever a proxied
	 * endpoint makes (the kubelet's run endpoint declares no type and
	 * answers 406 to application/json alone).
	 */
	l = curl_slist_append(NULL, "Accept: application/json, */*");
	if (!l)
		goto err_nomem;
	if (c->token || token) {
		if (asprintf(&hdr, "Authorization: Bearer %s", token ? token : c->token) < 0) {
			hdr = NULL;
			goto err_nomem;
		}
		n = curl_slist_append(l, hdr);
		/* The header held a secret. */
		wipe(hdr);
		if (!n)
			goto err_nomem;
		l = n;
	}
	wipe(token);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, l);
	*hdrs = l;
	return 0;

err_nomem:
	wipe(token);
	curl_slist_free_all(l);
	return -ENOMEM;
}

size_t k8s_body_write(char *p, size_t size, size_t nmemb, void *body)
{
	struct k8s_body *b = body;
	size_t n = size * nmemb;

	if (b->len + n > b->max) {
		b->over = true;
		return 0;
	}
	return k8s_body_add(&b->buf, &b->len, &b->cap, p, n) ? 0 : n;
}

int k8s_body_add(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
	if (xcni_grow(buf, cap, *len + n, 1)) /* and its NUL */
		return -ENOMEM;
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

int k8s_request(const struct k8s_api_conf *c, const char *method, const char *path,
		json_t *body, long timeout_ms, struct k8s_resp *r)
{
	char errbuf[CURL_ERROR_SIZE] = "", *url = NULL, *payload = NULL;
	struct curl_slist *hdrs = NULL, *n;
	struct k8s_body a = { .max = K8S_REQ_MAX };
	CURLcode res;
	CURL *e;
	int ret;

	memset(r, 0, sizeof(*r));
	e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	ret = k8s_conf_curl(c, e, &hdrs);
	if (ret) {
		snprintf(r->err, sizeof(r->err), "%s",
			 ret == -ENOMEM ? "out of memory" : "cannot read the token file");
		goto out;
	}
	ret = -ENOMEM;
	if (asprintf(&url, "%s%s", c->server, path) < 0) {
		url = NULL;
		goto out;
	}
	if (body) {
		const char *ct = strcmp(method, "PATCH") ? "Content-Type: application/json"
							  : "Content-Type: application/merge-patch+json";

		payload = json_dumps(body, JSON_COMPACT);
		n = payload ? curl_slist_append(hdrs, ct) : NULL;
		if (!n)
			goto out;
		hdrs = n;
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, payload);
	}
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "GET"))
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, k8s_body_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "xcnictl");
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");

	res = curl_easy_perform(e);
	if (res != CURLE_OK && !(res == CURLE_WRITE_ERROR && a.over)) {
		snprintf(r->err, sizeof(r->err), "%s", errbuf[0] ? errbuf : curl_easy_strerror(res));
		ret = -EIO;
		goto out;
	}
	if (a.over) {
		snprintf(r->err, sizeof(r->err), "the answer is over %u MiB", K8S_REQ_MAX >> 20);
		ret = -EIO;
		goto out;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	if (a.buf)
		r->body = json_loadb(a.buf, a.len, 0, NULL);
	if (r->status >= 300) {
		json_t *m = r->body ? json_object_get(r->body, "message") : NULL;

		snprintf(r->err, sizeof(r->err), "HTTP %ld%s%s", r->status, json_is_string(m) ? ": " : "",
			 json_is_string(m) ? json_string_value(m) : "");
	}
	ret = 0;
out:
	free(a.buf);
	free(payload);
	free(url);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(e);
	return ret;
}

void k8s_resp_free(struct k8s_resp *r)
{
	json_decref(r->body);
	r->body = NULL;
}

char *k8s_escape(const char *s)
{
	char *q = curl_easy_escape(NULL, s, 0), *out;

	if (!q)
		return NULL;
	out = strdup(q);
	curl_free(q);
	return out;
}
