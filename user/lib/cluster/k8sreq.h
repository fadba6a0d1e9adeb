/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One request to the API server, waited for: what a command line tool needs
 * (xcnictl finding the agents' pods, creating and deleting the connectivity
 * test's objects), beside k8sapi.c's watcher that never blocks. The same
 * k8s_api_conf (kubeconfig or in-cluster) and the same TLS and credentials.
 */
#ifndef XCNI_K8SREQ_H
#define XCNI_K8SREQ_H

#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#include "lib/cluster/k8sapi.h"

/*
 * TLS (CA, insecure-skip-tls-verify, client certificate and key) and the
 * headers every request carries (Accept: JSON, then any type; the bearer token,
 * read again from token_file each time: it rotates) on a curl handle. *hdrs
 * is the caller's to curl_slist_free_all after the request. 0, -ENOMEM, or
 * k8s_read_token's error for token_file (nothing set then).
 */
int k8s_conf_curl(const struct k8s_api_conf *c, CURL *e, struct curl_slist **hdrs);

struct k8s_resp {
	long status;	/* HTTP status; 0: no HTTP answer (err says why) */
	json_t *body;	/* the answer as JSON, NULL when it was not JSON */
	char err[256];	/* transport error or the server's Status message */
};

/*
 * METHOD (GET, POST, PUT, PATCH, DELETE) on PATH ("/api/v1/namespaces/x/pods",
 * query included) with an optional JSON body (PATCH: a merge patch), waited
 * for at most timeout_ms. Returns 0 when an HTTP answer came (any status: the
 * caller judges r->status), -EIO when none did (r->err), -ENOMEM, or the
 * token file's error. An answer is read up to 64 MiB. r is the caller's to
 * k8s_resp_free.
 */
int k8s_request(const struct k8s_api_conf *c, const char *method, const char *path,
		json_t *body, long timeout_ms, struct k8s_resp *r);
void k8s_resp_free(struct k8s_resp *r);
/* n bytes at p onto the NUL-ended *buf (*len used, *cap held, from 16 KiB): 0 or -ENOMEM. */
int k8s_body_add(char **buf, size_t *len, size_t *cap, const char *p, size_t n);
/* An answer's body read whole up to max bytes (over: a write would have passed it). */
struct k8s_body {
	char *buf;
	size_t len, cap, max;
	bool over;
};
/* curl's CURLOPT_WRITEFUNCTION onto the struct k8s_body given as CURLOPT_WRITEDATA. */
size_t k8s_body_write(char *p, size_t size, size_t nmemb, void *body);

/* A path segment or query value escaped for a URL (the caller's to free). */
char *k8s_escape(const char *s);

#endif
