// SPDX-License-Identifier: Apache-2.0
/*
 * The Kubernetes API backend: list, then watch, each kind xcnid reads, over
 * HTTPS with libcurl, the way client-go's reflector does it.
 *
 * Design: no thread. libcurl's multi_socket interface tells us which sockets
 * it waits on (on_socket) and when it next needs a call (on_timer); both go
 * into one epoll set together with a timerfd for curl's timeouts and one for
 * our reconnect backoff. The epoll fd is the backend's pollable fd: it is
 * readable whenever any of them is, so xcnid's poll loop wakes exactly when
 * there is work, and dispatch() drains it with epoll_wait(0) and
 * curl_multi_socket_action(). Everything, including writing the store, runs
 * in xcnid's thread, so nothing needs a lock, and no call here ever waits on
 * the network: a slow or dead API server only means no news.
 *
 * Per kind: LIST (paged with limit/continue) -> apply as the kind's whole
 * state (what the list lacks is deleted) -> WATCH from the list's
 * resourceVersion with bookmarks; a watch that ends is resumed from the last
 * resourceVersion seen; "410 Gone" (status or ERROR event) means our
 * resourceVersion was compacted away: list again. Failures back off
 * exponentially with jitter, capped, and never touch the store, so what is
 * programmed stays programmed.
 *
 * The store is first written when every kind has been listed once: until
 * then the lists go to a staging store, so that xcnid never computes policy
 * from Pods without their Namespaces or NetworkPolicies (which would open, or
 * close, what a previous agent programmed).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "lib/cluster/k8sapi.h"
#include "lib/cluster/k8sreq.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "lib/system/util.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define CONNECT_TIMEOUT_MS 5000
#define LIST_TIMEOUT_S 120
#define LIST_PAGE 500
/* client-go's reflector: a random watch length in [5, 10) minutes, so that
 * the agents of a cluster do not all reconnect at once after a restart. */
#define WATCH_MIN_S 300
#define MAX_BODY (512u << 20)
#define MAX_ERROR_BODY (64u << 10)
/* The same connection-level error is logged once a minute, not per kind and attempt. */
#define ERROR_REPEAT_MS 60000

/* ---- the backend ---- */

/* What an API server older than 1.21 serves EndpointSlices as (1.19, 1.20). */
static const struct k8s_kind_info slices_v1beta1 = {
	"EndpointSlice", "discovery.k8s.io/v1beta1", "/apis/discovery.k8s.io/v1beta1/endpointslices",
	"endpointslices.discovery.k8s.io", true
};

enum wstate { W_IDLE, W_LIST, W_WATCH };

/* Why a transfer was cut short from inside the write callback. */
enum wabort { AB_NONE, AB_RELIST, AB_REWATCH, AB_TOO_BIG, AB_NOMEM };

struct api;

struct watcher {
	struct api *api;
	enum k8s_kind kind;
	enum wstate state;
	CURL *easy;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	/* The body: a whole list page, or the watch stream's unfinished line. */
	char *buf;
	size_t len, cap;
	long status;
	enum wabort abort;
	char *rv; /* resourceVersion to watch from; NULL: list first */
	char *cont; /* continue token of the list being read */
	json_t *seen; /* keys of the objects its pages so far held (each page goes to
		       * the store as it comes: a 100k-pod list is never in memory whole) */
	size_t nlisted; /* objects in those pages */
	int list_changed; /* of them, new or changed in the store */
	char *list_rv;
	bool listed; /* has completed a list once */
	int64_t started_ms;
	unsigned long events; /* of the current watch */
	unsigned int fails; /* consecutive, for the backoff */
	long last_status; /* HTTP status of the last failed request (0: not HTTP) */
	const struct k8s_kind_info *ki; /* the path and version this server serves it at */
	int64_t retry_at; /* W_IDLE: when to start again */
};

enum { TAG_SOCK, TAG_CURL_TIMER, TAG_RETRY_TIMER };
#define TAG_FD(tag, fd) ((uint64_t)(tag) << 32 | (uint32_t)(fd)) /* an epoll event's data */

struct api {
	struct cs_backend b;
	struct k8s_api_conf conf;
	struct store *staging; /* until every kind is listed; then NULL */
	CURLM *multi;
	int epfd, curl_tfd, retry_tfd;
	int nkinds; /* K8S_NR_KINDS, K8S_NR_ALL_KINDS with K8S_API_LB, K8S_ENDPOINTSLICE
		     * (Services only) with K8S_API_SVC */
	struct watcher w[K8S_NR_ALL_KINDS];
	/* This dispatch: events and lists applied, store changes, a callback's -ENOMEM. */
	unsigned long applied;
	int changes;
	int err;
	char last_err[512];
	int64_t last_err_ms;
	int64_t open_ms; /* for the time the first list took */
	int64_t last_event_ms; /* when a dispatch last applied something (0: never) */
	char last_msg[1024]; /* the last problem as logged, for xcnictl status */
	int64_t last_msg_ms;
};

static struct store *cur_store(struct api *a)
{
	return a->staging ? a->staging : a->b.store;
}

static const struct k8s_kind_info *kind_of(const struct watcher *w)
{
	return w->ki ? w->ki : &k8s_kinds[w->kind];
}

static const char *kind_plural(const struct watcher *w)
{
	return kind_of(w)->plural;
}

static void arm(int tfd, int64_t ms)
{
	struct itimerspec its = { 0 };

	if (ms >= 0) {
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000;
		/* 0 would disarm it: "now" is the next loop iteration. */
		if (!ms)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(tfd, 0, &its, NULL);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct api *a = userp;
	struct epoll_event ev = { .data.u64 = TAG_FD(TAG_SOCK, s) };

	(void)easy;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		/* It may be closed already, which removed it: nothing to report. */
		epoll_ctl(a->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	if (!epoll_ctl(a->epfd, EPOLL_CTL_MOD, s, &ev))
		return 0;
	if (errno == ENOENT && !epoll_ctl(a->epfd, EPOLL_CTL_ADD, s, &ev))
		return 0;
	pr_warn("k8s api: cannot watch socket %d: %s\n", s, strerror(errno));
	return -1;
}

static int on_timer(CURLM *m, long ms, void *userp)
{
	struct api *a = userp;

	(void)m;
	arm(a->curl_tfd, ms);
	return 0;
}

/* Connection-level trouble is the same for every kind: say it once a minute. */
static void log_problem(struct api *a, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void log_problem(struct api *a, const char *key, const char *fmt, ...)
{
	char msg[1024];
	int64_t t = xcni_mono_ms();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(a->last_msg, sizeof(a->last_msg), "%s", msg);
	a->last_msg_ms = t;
	if (!strcmp(a->last_err, key) && t - a->last_err_ms < ERROR_REPEAT_MS) {
		pr_debug("%s\n", msg);
		return;
	}
	snprintf(a->last_err, sizeof(a->last_err), "%s", key);
	a->last_err_ms = t;
	pr_err("%s\n", msg);
}

/*
 * A request started after the last logged problem got a 200: the problem is
 * over. Say so once, and let the next one be logged at once. (A stream opened
 * before the problem proves nothing: it did not go through it.)
 */
static void recovered(struct watcher *w)
{
	struct api *a = w->api;

	if (!a->last_err[0] || w->started_ms <= a->last_err_ms)
		return;
	pr_info("k8s api: %s answers again\n", a->conf.server);
	a->last_err[0] = '\0';
}

/* Schedules the next attempt: at once, or after the backoff. Returns the delay. */
static int64_t schedule(struct watcher *w, bool backoff)
{
	int64_t d = 0;

	if (backoff) {
		unsigned int shift = w->fails < 10 ? w->fails : 10;

		d = (int64_t)BACKOFF_MIN_MS << shift;
		if (d > BACKOFF_MAX_MS)
			d = BACKOFF_MAX_MS;
		/* Jitter, so that the agents of a cluster do not come back in step. */
		d = d / 2 + random() % (d / 2 + 1);
		w->fails++;
	}
	w->retry_at = xcni_mono_ms() + d;
	return d;
}

static int buf_append(struct watcher *w, const char *p, size_t n)
{
	size_t limit = w->status == 200 ? MAX_BODY : MAX_ERROR_BODY;

	if (w->len + n > limit)
		return w->status == 200 ? -EFBIG : 0;
	return k8s_body_add(&w->buf, &w->len, &w->cap, p, n);
}

/* "ns/name" (or "name"), for sets and messages. */
static int obj_key(json_t *obj, enum k8s_kind kind, char *out, size_t sz, const char **ns,
		   const char **name)
{
	json_t *meta = json_object_get(obj, "metadata");

	*name = json_string_value(json_object_get(meta, "name"));
	*ns = NULL;
	if (k8s_kinds[kind].namespaced) {
		*ns = json_string_value(json_object_get(meta, "namespace"));
		if (!*ns || !**ns)
			*ns = "default";
	}
	if (!*name || !**name)
		return -EINVAL;
	snprintf(out, sz, "%s%s%s", *ns ? *ns : "", *ns ? "/" : "", *name);
	return 0;
}

/*
 * What the API server sends carries fields that change all the time and mean
 * nothing to policy (managedFields and resourceVersion on every write, pod
 * and node conditions on every heartbeat). The store sees a change as new
 * JSON, so they go: a status heartbeat must not recompile the cluster's policy.
 */
static void trim(json_t *obj)
{
	static const char *const meta_keys[] = { "managedFields", "resourceVersion", "generation" };
	static const char *const status_keys[] = { "conditions",	   "containerStatuses",
						    "initContainerStatuses", "ephemeralContainerStatuses",
						    "images",		   "volumesInUse",
						    "volumesAttached",	   "nodeInfo",
						    "allocatable",	   "capacity" };
	json_t *meta = json_object_get(obj, "metadata"), *status = json_object_get(obj, "status");

	for (size_t i = 0; i < sizeof(meta_keys) / sizeof(meta_keys[0]); i++)
		json_object_del(meta, meta_keys[i]);
	for (size_t i = 0; i < sizeof(status_keys) / sizeof(status_keys[0]); i++)
		json_object_del(status, status_keys[i]);
}

/* List items come without kind and apiVersion; watch objects have them, but be sure. */
static int set_type(json_t *obj, const struct watcher *w)
{
	if (!json_object_get(obj, "kind") &&
	    json_object_set_new(obj, "kind", json_string(k8s_kind_name(w->kind))))
		return -ENOMEM;
	if (!json_object_get(obj, "apiVersion") &&
	    json_object_set_new(obj, "apiVersion", json_string(kind_of(w)->api_version)))
		return -ENOMEM;
	return 0;
}

/* ADDED/MODIFIED/list item -> the store. 1 changed, 0 not (or invalid, logged), -errno. */
static int put_obj(struct watcher *w, json_t *obj)
{
	struct api *a = w->api;
	struct k8s_object *o;
	struct k8s_error err;
	int ret;

	ret = set_type(obj, w);
	if (ret)
		return ret;
	trim(obj);
	ret = a->nkinds == K8S_NR_ALL_KINDS ? k8s_parse_lb(obj, &o, &err) :
	      a->nkinds > K8S_NR_KINDS	    ? k8s_parse_all(obj, &o, &err) :
					      k8s_parse(obj, &o, &err);
	if (ret == -EINVAL || ret == -ENOTSUP) {
		/* As with a bad manifest: the object keeps its last good state. */
		pr_err("k8s api: %s; skipped, keeping its last good version\n", err.msg);
		return 0;
	}
	if (ret)
		return ret;
	ret = store_put(cur_store(a), o);
	if (ret > 0 && !a->staging)
		a->changes++;
	return ret;
}

static int del_obj(struct watcher *w, json_t *obj)
{
	struct api *a = w->api;
	const char *ns, *name;
	char key[512];
	int ret;

	if (obj_key(obj, w->kind, key, sizeof(key), &ns, &name)) {
		pr_warn("k8s api: a DELETED %s event without metadata.name; ignored\n",
			k8s_kind_name(w->kind));
		return 0;
	}
	ret = store_del(cur_store(a), w->kind, ns, name);
	if (ret > 0 && !a->staging)
		a->changes++;
	return ret;
}

static void set_rv(char **slot, json_t *obj)
{
	const char *rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	char *dup;

	if (!rv || !*rv)
		return;
	dup = strdup(rv);
	if (!dup)
		return; /* the older one is still valid to resume from */
	free(*slot);
	*slot = dup;
}

/* One line of the watch stream: one event. AB_NONE or why to stop the stream. */
static enum wabort watch_event(struct watcher *w, const char *line, size_t len)
{
	const char *type, *plural = kind_plural(w);
	json_error_t jerr;
	json_t *ev, *obj;
	enum wabort ab = AB_NONE;
	int ret = 0;

	ev = json_loadb(line, len, 0, &jerr);
	if (!ev) {
		/* Skipping it could skip an event: resume from the last one we understood. */
		pr_err("k8s api: watch %s: a line of the stream is not JSON (%s, column %d): "
		       "\"%.*s%s\"; watching again from resourceVersion %s\n",
		       plural, jerr.text, jerr.column, (int)(len > 80 ? 80 : len), line,
		       len > 80 ? "..." : "", w->rv ? w->rv : "?");
		return AB_REWATCH;
	}
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		pr_err("k8s api: watch %s: a line is not a watch event (no type or object): "
		       "\"%.*s%s\"; watching again from resourceVersion %s\n",
		       plural, (int)(len > 80 ? 80 : len), line, len > 80 ? "..." : "",
		       w->rv ? w->rv : "?");
		ab = AB_REWATCH;
		goto out;
	}
	if (!strcmp(type, "ERROR")) {
		/* obj is a metav1.Status. */
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		const char *msg = json_string_value(json_object_get(obj, "message"));

		if (code == 410) {
			pr_info("k8s api: watch %s: resourceVersion %s is gone (410: %s); listing "
				"again\n",
				plural, w->rv ? w->rv : "?", msg ? msg : "expired");
			ab = AB_RELIST;
		} else {
			pr_warn("k8s api: watch %s: the API server sent an error (%lld: %s); "
				"watching again\n",
				plural, (long long)code, msg ? msg : "no message");
			ab = AB_REWATCH;
		}
		goto out;
	}
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED"))
		ret = put_obj(w, obj);
	else if (!strcmp(type, "DELETED"))
		ret = del_obj(w, obj);
	else if (strcmp(type, "BOOKMARK"))
		pr_debug("k8s api: watch %s: event type %s ignored\n", plural, type);
	if (ret < 0) {
		w->api->err = ret;
		ab = AB_NOMEM;
		goto out;
	}
	/* Only now: an event we could not apply must come again after a reconnect. */
	set_rv(&w->rv, obj);
	if (strcmp(type, "BOOKMARK"))
		w->api->applied++;
	w->events++;
	w->fails = 0;
out:
	json_decref(ev);
	return ab;
}

/*
 * Every complete line in the buffer; the unfinished one stays for the next
 * chunk. The first `from` bytes are that unfinished line, already searched:
 * searching (and moving) it again on every chunk made a long line cost the
 * square of its length (a 2 MB event sent a byte at a time: a minute of CPU).
 */
static enum wabort watch_lines(struct watcher *w, size_t from)
{
	size_t start = 0;
	enum wabort ab = AB_NONE;

	while (ab == AB_NONE) {
		size_t at = start > from ? start : from;
		char *nl = memchr(w->buf + at, '\n', w->len - at);
		size_t l;

		if (!nl)
			break;
		l = (size_t)(nl - (w->buf + start));
		if (strspn(w->buf + start, " \t\r") < l)
			ab = watch_event(w, w->buf + start, l);
		start += l + 1;
	}
	if (start) {
		memmove(w->buf, w->buf + start, w->len - start);
		w->len -= start;
	}
	return ab;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct watcher *w = ud;
	size_t n = size * nmemb, had = w->len;
	int ret;

	if (!w->status) {
		curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->status);
		if (w->status == 200)
			recovered(w);
	}
	ret = buf_append(w, p, n);
	if (ret) {
		w->abort = ret == -ENOMEM ? AB_NOMEM : AB_TOO_BIG;
		return 0;
	}
	if (w->state == W_WATCH && w->status == 200) {
		w->abort = watch_lines(w, had);
		if (w->abort != AB_NONE)
			return 0;
	}
	return n;
}

static void detach(struct watcher *w)
{
	if (w->easy) {
		curl_multi_remove_handle(w->api->multi, w->easy);
		curl_easy_cleanup(w->easy);
		w->easy = NULL;
	}
	curl_slist_free_all(w->hdrs);
	w->hdrs = NULL;
	w->state = W_IDLE;
}

static void list_reset(struct watcher *w)
{
	free(w->cont);
	w->cont = NULL;
	free(w->list_rv);
	w->list_rv = NULL;
	json_decref(w->seen);
	w->seen = NULL;
	w->nlisted = 0;
	w->list_changed = 0;
}

/* TLS and credentials, for every request (k8sreq.c's, shared with xcnictl's requests). */
static int setup_auth(struct watcher *w, CURL *e)
{
	const struct k8s_api_conf *c = &w->api->conf;
	int ret = k8s_conf_curl(c, e, &w->hdrs);

	if (ret && ret != -ENOMEM)
		log_problem(w->api, "token-file", "k8s api: cannot read the token %s: %s; %s",
			    c->token_file,
			    ret == -EINVAL ? "it is empty or has a control character (CR, LF or another)"
					   : strerror(-ret),
			    c->in_cluster ? "is the service account token mounted?"
					  : "check tokenFile in the kubeconfig");
	return ret;
}

/* Starts the kind's next request: a list page if there is no resourceVersion, else a watch. */
static int start(struct watcher *w)
{
	struct api *a = w->api;
	const struct k8s_kind_info *ki = kind_of(w);
	bool list = !w->rv;
	char *url = NULL, *esc = NULL;
	long timeout;
	CURL *e;
	int ret;

	e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	if (list) {
		if (w->cont && !(esc = curl_easy_escape(e, w->cont, 0)))
			goto err_nomem;
		ret = asprintf(&url, "%s%s?limit=%d%s%s", a->conf.server, ki->path, LIST_PAGE,
			       esc ? "&continue=" : "", esc ? esc : "");
		timeout = LIST_TIMEOUT_S;
	} else {
		long secs = WATCH_MIN_S + random() % WATCH_MIN_S;

		if (!(esc = curl_easy_escape(e, w->rv, 0)))
			goto err_nomem;
		ret = asprintf(&url,
			       "%s%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s"
			       "&timeoutSeconds=%ld",
			       a->conf.server, ki->path, esc, secs);
		/* The server ends the watch after secs; this only catches one that does not. */
		timeout = secs + 60;
	}
	curl_free(esc);
	if (ret < 0) {
		url = NULL;
		goto err_nomem;
	}
	ret = setup_auth(w, e);
	if (ret)
		goto err_easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, w);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, w->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "xcnid");
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout);
	/* A server that vanished without closing (node died, netns gone) shows up
	 * here within a minute rather than when the watch would have timed out. */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	w->errbuf[0] = '\0';
	w->len = 0;
	w->status = 0;
	w->abort = AB_NONE;
	w->events = 0;
	w->started_ms = xcni_mono_ms();
	w->easy = e;
	w->state = list ? W_LIST : W_WATCH;
	if (curl_multi_add_handle(a->multi, e) != CURLM_OK) {
		w->easy = NULL;
		w->state = W_IDLE;
		ret = -ENOMEM;
		goto err_easy;
	}
	pr_debug("k8s api: %s %s\n", list ? "list" : "watch", url);
	free(url);
	return 0;

err_nomem:
	ret = -ENOMEM;
err_easy:
	curl_slist_free_all(w->hdrs);
	w->hdrs = NULL;
	curl_easy_cleanup(e);
	free(url);
	return ret;
}

/* The message of a metav1.Status body, if that is what came back. */
static const char *status_message(struct watcher *w, char *out, size_t sz)
{
	json_t *j = w->len ? json_loadb(w->buf, w->len, 0, NULL) : NULL;
	const char *m = json_string_value(json_object_get(j, "message"));

	snprintf(out, sz, "%s", m ? m : (w->len ? w->buf : "no body"));
	out[strcspn(out, "\r\n")] = '\0';
	json_decref(j);
	return out;
}

/*
 * Why the server's certificate was refused, from OpenSSL's verify result
 * (X509_V_ERR_*; libcurl hands the number over, so no link to OpenSSL).
 * errbuf is no help here: it keeps the transfer's first error, which can be
 * a pooled connection found reset before the new handshake failed.
 */
static const char *verify_reason(CURL *e)
{
	long v = 0;

	curl_easy_getinfo(e, CURLINFO_SSL_VERIFYRESULT, &v);
	switch (v) {
	case 2: /* UNABLE_TO_GET_ISSUER_CERT */
	case 20: /* UNABLE_TO_GET_ISSUER_CERT_LOCALLY */
	case 21: /* UNABLE_TO_VERIFY_LEAF_SIGNATURE */
		return "it is not signed by the CA xcnid trusts";
	case 18: /* DEPTH_ZERO_SELF_SIGNED_CERT */
	case 19: /* SELF_SIGNED_CERT_IN_CHAIN */
		return "it is self-signed, not by the CA xcnid trusts";
	case 9: /* CERT_NOT_YET_VALID */
		return "it is not valid yet (clock skew?)";
	case 10: /* CERT_HAS_EXPIRED */
		return "it has expired";
	case 62: /* HOSTNAME_MISMATCH */
	case 64: /* IP_ADDRESS_MISMATCH */
		return "it is not for the host or address in server";
	default:
		return NULL;
	}
}

/* A failed request: say what went wrong and what to do about it, then back off. */
static void failed(struct watcher *w, CURLcode res, long status)
{
	struct api *a = w->api;
	const struct k8s_api_conf *c = &a->conf;
	const char *what = w->state == W_LIST ? "list" : "watch", *plural = kind_plural(w);
	const char *detail = w->errbuf[0] ? w->errbuf : curl_easy_strerror(res);
	char body[256], key[64];
	int64_t d = schedule(w, true);
	double secs = (double)d / 1000;

	w->last_status = res == CURLE_OK ? status : 0;
	/* Per kind only where the answer is about the kind (403 names its resource). */
	snprintf(key, sizeof(key), "curl-%d-%ld-%s", (int)res, status,
		 res == CURLE_OK && status != 401 ? plural : "");
	if (res == CURLE_OK && status == 401) {
		log_problem(a, key,
			    "k8s api: %s: 401 Unauthorized (%s): the API server rejected xcnid's "
			    "credentials; the token is wrong or expired: %s; retrying in %.1f s",
			    c->server, status_message(w, body, sizeof(body)),
			    c->in_cluster ? "check the service account token is mounted and current"
					  : "check users[].user.token/tokenFile or the client "
					    "certificate in the kubeconfig",
			    secs);
	} else if (res == CURLE_OK && status == 403) {
		log_problem(a, key,
			    "k8s api: %s %s: 403 Forbidden (%s): grant xcnid's identity get, list "
			    "and watch on %s (a ClusterRole and ClusterRoleBinding); retrying in "
			    "%.1f s",
			    what, plural, status_message(w, body, sizeof(body)), plural, secs);
	} else if (res == CURLE_OK) {
		log_problem(a, key, "k8s api: %s %s: HTTP %ld from %s (%s); retrying in %.1f s",
			    what, plural, status, c->server, status_message(w, body, sizeof(body)),
			    secs);
	} else if (res == CURLE_PEER_FAILED_VERIFICATION) {
		const char *why = verify_reason(w->easy);

		if (why)
			detail = why;
		else if (!strstr(detail, "certificate"))
			detail = curl_easy_strerror(res);
		log_problem(a, key,
			    "k8s api: %s: TLS: cannot verify the API server's certificate (%s): "
			    "wrong CA? check %s%s; retrying in %.1f s",
			    c->server, detail,
			    c->in_cluster ? "the service account's ca.crt"
					  : "certificate-authority(-data) in ",
			    c->in_cluster ? "" : c->source, secs);
	} else if (res == CURLE_SSL_CACERT_BADFILE) {
		log_problem(a, key,
			    "k8s api: cannot load the CA certificate (%s): check "
			    "certificate-authority(-data) in %s; retrying in %.1f s",
			    detail, c->source, secs);
	} else if (res == CURLE_SSL_CERTPROBLEM) {
		log_problem(a, key,
			    "k8s api: cannot use the client certificate or key (%s): check "
			    "client-certificate(-data) and client-key(-data) in %s; retrying in "
			    "%.1f s",
			    detail, c->source, secs);
	} else if (res == CURLE_SSL_CONNECT_ERROR) {
		log_problem(a, key,
			    "k8s api: %s: TLS handshake failed (%s): is it an HTTPS API server, "
			    "and does it accept xcnid's client certificate? retrying in %.1f s",
			    c->server, detail, secs);
	} else if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST ||
		   res == CURLE_OPERATION_TIMEDOUT) {
		log_problem(a, key,
			    "k8s api: %s: %s (%s): is the API server up and reachable (%s)? the "
			    "maps keep their last state; retrying in %.1f s",
			    c->server,
			    res == CURLE_OPERATION_TIMEDOUT ? "timed out" : "cannot connect", detail,
			    c->in_cluster ? "KUBERNETES_SERVICE_HOST/PORT" : "server in the kubeconfig",
			    secs);
	} else {
		log_problem(a, key, "k8s api: %s %s: %s (%s); retrying in %.1f s", what, plural,
			    curl_easy_strerror(res), detail, secs);
	}
}

/* One list item: its key to w->seen, the object to the store. 0 or -errno. */
static int put_item(struct watcher *w, json_t *item)
{
	const char *ns, *name;
	char key[512];
	int ret;

	if (!w->seen && !(w->seen = json_object()))
		return -ENOMEM;
	if (!json_is_object(item))
		return 0;
	/* Invalid ones too: they keep their last good version, not disappear. */
	if (!obj_key(item, w->kind, key, sizeof(key), &ns, &name) &&
	    json_object_set_new(w->seen, key, json_true()))
		return -ENOMEM;
	ret = put_obj(w, item);
	if (ret < 0)
		return ret;
	w->list_changed += ret;
	w->nlisted++;
	return 0;
}

static size_t skip_ws(const char *b, size_t len, size_t pos)
{
	while (pos < len && (b[pos] == ' ' || b[pos] == '\t' || b[pos] == '\n' || b[pos] == '\r'))
		pos++;
	return pos;
}

/* The JSON value at b[*pos] (any type), *pos moved past it; NULL if there is none. */
static json_t *value_at(const char *b, size_t len, size_t *pos)
{
	json_error_t jerr;
	json_t *v;

	v = json_loadb(b + *pos, len - *pos, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
	if (v)
		*pos += (size_t)jerr.position;
	return v;
}

/*
 * One list page ({"metadata": {...}, "items": [...], ...}), read one item at
 * a time: jansson decodes each item alone (JSON_DISABLE_EOF_CHECK stops after
 * the value and says where), the item goes to the store (what a watch event
 * would do with it), its key to w->seen, and its tree is freed before the next
 * is decoded. A tree of the whole page (500 pods: thousands of small
 * allocations, megabytes) cost more in malloc and first-touch page faults
 * than the parse itself (perf over xcnid listing 100k pods: ~40% of its CPU
 * in malloc, free and clear_page); one item's tree is reused memory.
 * *meta: the page's metadata (NULL if none). 0; -EBADMSG: not a list (the
 * items before the fault are in the store, as earlier pages are: the list is
 * started again); -errno from the store.
 */
static int page_walk(struct watcher *w, json_t **meta)
{
	const char *b = w->buf;
	size_t len = w->len, pos;
	int ret;

	*meta = NULL;
	pos = skip_ws(b, len, 0);
	if (pos >= len || b[pos] != '{')
		return -EBADMSG;
	pos = skip_ws(b, len, pos + 1);
	if (pos < len && b[pos] == '}')
		goto end;
	for (;;) {
		json_t *k = pos < len && b[pos] == '"' ? value_at(b, len, &pos) : NULL;
		bool items, is_meta;

		if (!k)
			return -EBADMSG;
		items = !strcmp(json_string_value(k), "items");
		is_meta = !strcmp(json_string_value(k), "metadata");
		json_decref(k);
		pos = skip_ws(b, len, pos);
		if (pos >= len || b[pos] != ':')
			return -EBADMSG;
		pos = skip_ws(b, len, pos + 1);
		if (items && pos < len && b[pos] == '[') {
			pos = skip_ws(b, len, pos + 1);
			if (pos < len && b[pos] == ']')
				pos++;
			else
				for (;;) {
					json_t *item = value_at(b, len, &pos);

					if (!item)
						return -EBADMSG;
					ret = put_item(w, item);
					json_decref(item);
					if (ret)
						return ret;
					pos = skip_ws(b, len, pos);
					if (pos < len && b[pos] == ',') {
						pos = skip_ws(b, len, pos + 1);
						continue;
					}
					if (pos < len && b[pos] == ']') {
						pos++;
						break;
					}
					return -EBADMSG;
				}
		} else {
			/* Only metadata is kept (continue, resourceVersion): kind and
			 * apiVersion mean nothing here. */
			json_t *v = value_at(b, len, &pos);

			if (!v || (items && !json_is_null(v))) {
				json_decref(v);
				return -EBADMSG;
			}
			if (is_meta) {
				json_decref(*meta); /* a key given twice: the last, as jansson does */
				*meta = v;
			} else {
				json_decref(v);
			}
		}
		pos = skip_ws(b, len, pos);
		if (pos < len && b[pos] == ',') {
			pos = skip_ws(b, len, pos + 1);
			continue;
		}
		if (pos < len && b[pos] == '}')
			break;
		return -EBADMSG;
	}
end:
	pos = skip_ws(b, len, pos + 1);
	return pos == len ? 0 : -EBADMSG;
}

/*
 * A complete list (every page put): what the pages did not hold is gone. The
 * kind's whole state is then the list's. 0 or -errno.
 */
static int apply_list(struct watcher *w)
{
	struct api *a = w->api;
	struct store *st = cur_store(a);
	json_t *seen = w->seen;
	const struct k8s_object *const *objs;
	struct cluster cl;
	char key[512], **gone = NULL;
	size_t i, ngone = 0, n;
	int ret = 0, changed = w->list_changed, removed = 0;

	if (!seen && !(seen = w->seen = json_object()))
		return -ENOMEM;
	store_view(st, &cl);
	n = cl.n[w->kind];
	objs = cl.objs[w->kind];
	gone = calloc(n + 1, sizeof(*gone));
	if (!gone) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct k8s_meta *m = &objs[i]->meta;

		snprintf(key, sizeof(key), "%s%s%s", m->ns ? m->ns : "", m->ns ? "/" : "", m->name);
		if (json_object_get(seen, key))
			continue;
		gone[ngone] = strdup(key);
		if (!gone[ngone]) {
			ret = -ENOMEM;
			goto out;
		}
		ngone++;
	}
	/* After the view is done with: deleting invalidates it. */
	for (i = 0; i < ngone; i++) {
		char *slash = strchr(gone[i], '/');
		bool nsd = k8s_kinds[w->kind].namespaced;

		if (nsd && slash)
			*slash = '\0';
		ret = store_del(st, w->kind, nsd ? gone[i] : NULL, nsd && slash ? slash + 1 : gone[i]);
		removed += ret > 0;
		if (ret > 0 && !a->staging)
			a->changes++;
	}
	ret = 0;
	a->applied++;
	pr_info("k8s api: listed %zu %s at resourceVersion %s: %d changed, %d removed\n",
		w->nlisted, kind_plural(w), w->list_rv ? w->list_rv : "?", changed, removed);
out:
	for (i = 0; i < ngone; i++)
		free(gone[i]);
	free(gone);
	return ret;
}

/* A list page came back 200. */
static void list_page(struct watcher *w)
{
	const char *cont, *rv;
	json_t *meta;
	int ret;

	ret = page_walk(w, &meta);
	if (ret == -EBADMSG) {
		log_problem(w->api, "bad-list", "k8s api: list %s: the answer is not a %sList; "
			    "is %s an API server? retrying in %.1f s",
			    kind_plural(w), k8s_kind_name(w->kind), w->api->conf.server,
			    (double)schedule(w, true) / 1000);
		list_reset(w);
		goto out;
	}
	if (ret) {
		w->api->err = ret;
		goto nomem;
	}
	/* Every page is at the first page's resourceVersion. */
	rv = json_string_value(json_object_get(meta, "resourceVersion"));
	if (!w->list_rv && rv && !(w->list_rv = strdup(rv)))
		goto nomem;
	cont = json_string_value(json_object_get(meta, "continue"));
	free(w->cont);
	w->cont = NULL;
	if (cont && *cont) {
		if (!(w->cont = strdup(cont)))
			goto nomem;
		schedule(w, false);
		goto out;
	}
	ret = apply_list(w);
	if (ret) {
		w->api->err = ret;
		goto nomem;
	}
	/* An API server always gives one; without it, the next list is all we can do. */
	if (w->list_rv) {
		w->rv = w->list_rv;
		w->list_rv = NULL;
	}
	w->listed = true;
	w->fails = 0;
	list_reset(w);
	schedule(w, !w->rv);
	goto out;

nomem:
	pr_err("k8s api: list %s: out of memory; retrying\n", kind_plural(w));
	list_reset(w);
	schedule(w, true);
out:
	json_decref(meta);
}

/*
 * ClusterNetworkPolicy is a CRD (network-policy-api): a cluster without it
 * has none, which is what an empty list says (those the store had are
 * removed). Asked again with back-off, so installing it later is noticed.
 */
static void crd_missing(struct watcher *w)
{
	int ret;

	if (!w->listed)
		pr_info("k8s api: list %s: 404: the CustomResourceDefinition is not installed "
			"(network-policy-api config/crd); no ClusterNetworkPolicies until it is\n",
			kind_plural(w));
	list_reset(w);
	ret = apply_list(w);
	list_reset(w);
	if (ret) {
		w->api->err = ret;
		schedule(w, true);
		return;
	}
	free(w->rv);
	w->rv = NULL;
	w->listed = true;
	schedule(w, true);
}

static void relist(struct watcher *w)
{
	free(w->rv);
	w->rv = NULL;
	list_reset(w);
}

static void done(struct watcher *w, CURLcode res)
{
	enum wstate was = w->state;
	enum wabort ab = w->abort;
	bool healthy = w->events > 0 || xcni_mono_ms() - w->started_ms >= 1000;
	long status = 0;

	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
	if (was == W_LIST) {
		if (res == CURLE_OK && status == 200) {
			w->state = W_IDLE;
			list_page(w);
		} else if (res == CURLE_OK && status == 410 && w->cont) {
			/* The continue token outlived etcd's compaction: start the list over. */
			pr_info("k8s api: list %s: the continue token expired; listing again\n",
				kind_plural(w));
			list_reset(w);
			schedule(w, false);
		} else if (res == CURLE_OK && status == 404 && w->kind == K8S_CLUSTERNETPOL) {
			crd_missing(w);
		} else if (res == CURLE_OK && status == 404 && w->kind == K8S_ENDPOINTSLICE &&
			   kind_of(w) == &k8s_kinds[K8S_ENDPOINTSLICE]) {
			/* 1.19 and 1.20 serve them as v1beta1 only: the fields xcnid reads
			 * are the same (k8s_svc.c reads the node from either). */
			pr_info("k8s api: list %s: discovery.k8s.io/v1 is not served (404): "
				"using discovery.k8s.io/v1beta1\n", kind_plural(w));
			w->ki = &slices_v1beta1;
			list_reset(w);
			schedule(w, false);
		} else if (ab == AB_TOO_BIG || ab == AB_NOMEM) {
			pr_err("k8s api: list %s: %s; retrying\n", kind_plural(w),
			       ab == AB_TOO_BIG ? "the answer is larger than 512 MiB" : "out of memory");
			list_reset(w);
			schedule(w, true);
		} else {
			failed(w, res, status);
			list_reset(w);
		}
		goto out;
	}
	/* A watch. One the server accepted and kept open a while is no failure to back off from. */
	if (healthy && status == 200)
		w->fails = 0;
	if (ab == AB_RELIST || (res == CURLE_OK && status == 410)) {
		if (ab != AB_RELIST)
			pr_info("k8s api: watch %s: resourceVersion %s is gone (410); listing again\n",
				kind_plural(w), w->rv ? w->rv : "?");
		relist(w);
		schedule(w, !healthy);
	} else if (ab == AB_REWATCH || ab == AB_NOMEM || ab == AB_TOO_BIG) {
		if (ab == AB_TOO_BIG)
			pr_err("k8s api: watch %s: an event larger than 512 MiB; watching again\n",
			       kind_plural(w));
		schedule(w, true);
	} else if (status == 200 && res == CURLE_OK) {
		/* The server ended the watch (timeoutSeconds): resume where it stopped. */
		pr_debug("k8s api: watch %s ended after %lu events; resuming at %s\n",
			 kind_plural(w), w->events, w->rv);
		schedule(w, !healthy);
	} else if (status == 200) {
		/* Cut off mid-stream: a half-received event is dropped and comes again. */
		pr_warn("k8s api: watch %s: the connection to %s was lost (%s)%s; resuming at "
			"resourceVersion %s\n",
			kind_plural(w), w->api->conf.server,
			w->errbuf[0] ? w->errbuf : curl_easy_strerror(res),
			w->len ? " in the middle of an event" : "", w->rv);
		schedule(w, !healthy);
	} else {
		failed(w, res, status);
	}
out:
	w->len = 0;
	if (w->easy)
		detach(w);
	w->state = W_IDLE;
}

static void process_done(struct api *a)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(a->multi, &left))) {
		struct watcher *w = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&w);
		if (w)
			done(w, m->data.result);
	}
}

/* Starts every kind whose time has come; arms the retry timer for the next one. */
static void kick(struct api *a)
{
	int64_t t = xcni_mono_ms(), next = -1;

	for (int k = 0; k < a->nkinds; k++) {
		struct watcher *w = &a->w[k];

		if (w->state != W_IDLE)
			continue;
		if (w->retry_at <= t) {
			int ret = start(w);

			if (!ret)
				continue;
			if (ret == -ENOMEM)
				pr_err("k8s api: %s: out of memory starting a request; retrying\n",
				       kind_plural(w));
			schedule(w, true);
		}
		if (next < 0 || w->retry_at < next)
			next = w->retry_at;
	}
	arm(a->retry_tfd, next < 0 ? -1 : (next > t ? next - t : 0));
}

/* Every kind listed: the staged state becomes the store's, in one step. */
static int promote(struct api *a)
{
	struct cluster cl;
	int ret;

	for (int k = 0; k < a->nkinds; k++) {
		const struct watcher *w = &a->w[k];

		if (w->listed)
			continue;
		/*
		 * Services and EndpointSlices whose list has failed once, however
		 * (not served, 404; forbidden, 403; any other status; a transport
		 * error or an answer too big), do not hold policy back: their
		 * lists are asked for again, and a Service without its slices has
		 * no backend (refused), never a wrong one; beside kube-proxy they
		 * only feed the forged-source check. Policy's own kinds do hold
		 * it: pods without their NetworkPolicies would be opened.
		 */
		if ((k == K8S_SERVICE || k == K8S_ENDPOINTSLICE) && w->fails > 0)
			continue;
		return 0;
	}
	for (int k = 0; k < a->nkinds; k++) {
		const struct watcher *w = &a->w[k];

		if (w->listed)
			continue;
		if (w->last_status)
			pr_err("k8s api: %s cannot be listed (HTTP %ld): programming everything "
			       "else without them; asked again with back-off\n",
			       kind_plural(w), w->last_status);
		else
			pr_err("k8s api: %s cannot be listed (%s): programming everything else "
			       "without them; asked again with back-off\n",
			       kind_plural(w), w->errbuf[0] ? w->errbuf : "no HTTP answer");
	}
	store_view(a->staging, &cl);
	/* Moved, not parsed again: the staging store kept no JSON trees. */
	ret = store_take(a->b.store, a->staging);
	if (ret < 0)
		return ret;
	a->changes += ret;
	pr_info("k8s api: every kind listed (%zu namespaces, %zu pods, %zu nodes, %zu network "
		"policies) in %lld ms: following the API server\n",
		cl.n[K8S_NAMESPACE], cl.n[K8S_POD], cl.n[K8S_NODE], cl.n[K8S_NETWORKPOLICY],
		(long long)(xcni_mono_ms() - a->open_ms));
	if (a->nkinds == K8S_NR_ALL_KINDS)
		pr_info("k8s api: and %zu services, %zu endpoint slices\n", cl.n[K8S_SERVICE],
			cl.n[K8S_ENDPOINTSLICE]);
	else if (a->nkinds > K8S_NR_KINDS)
		pr_info("k8s api: and %zu services\n", cl.n[K8S_SERVICE]);
	store_free(a->staging);
	a->staging = NULL;
	a->applied++;
	return 0;
}

static int api_fd(struct cs_backend *b)
{
	return ((struct api *)b)->epfd;
}

static int api_dispatch(struct cs_backend *b)
{
	struct api *a = (struct api *)b;
	struct epoll_event ev[32];
	int n, running;

	a->applied = 0;
	a->changes = 0;
	a->err = 0;
	n = epoll_wait(a->epfd, ev, 32, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		int tag = (int)(ev[i].data.u64 >> 32), fd = (int)(uint32_t)ev[i].data.u64;
		uint64_t ticks;

		if (tag == TAG_CURL_TIMER || tag == TAG_RETRY_TIMER) {
			/* Reading clears it; EAGAIN when a re-arm already did. */
			if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				pr_debug("k8s api: timerfd: %s\n", strerror(errno));
			if (tag == TAG_CURL_TIMER)
				curl_multi_socket_action(a->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		} else {
			int flags = ((ev[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
				    ((ev[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
				    ((ev[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);

			curl_multi_socket_action(a->multi, fd, flags, &running);
		}
		process_done(a);
	}
	kick(a);
	if (a->staging && !a->err) {
		int ret = promote(a);

		if (ret)
			a->err = ret;
	}
	/* Bumped only with the whole state in the store: a token says "all up to here". */
	if (a->applied)
		a->last_event_ms = xcni_mono_ms();
	if (!a->staging && a->applied)
		a->b.sync_gen++;
	return a->err ? a->err : a->changes;
}

static void api_free(struct cs_backend *b)
{
	struct api *a = (struct api *)b;

	if (!a)
		return;
	for (int k = 0; k < a->nkinds; k++) {
		struct watcher *w = &a->w[k];

		if (w->easy)
			detach(w);
		list_reset(w);
		free(w->rv);
		free(w->buf);
	}
	if (a->multi)
		curl_multi_cleanup(a->multi);
	xcni_close(&a->epfd);
	xcni_close(&a->curl_tfd);
	xcni_close(&a->retry_tfd);
	store_free(a->staging);
	k8s_api_conf_free(&a->conf);
	free(a);
	curl_global_cleanup();
}

/*
 * For xcnictl status: every kind (listed, following a watch, the HTTP status
 * of its last failure), how many kinds the server does not serve, RBAC
 * forbids (404/403) or does not answer for (Services and EndpointSlices,
 * programmed without, see promote), the last event's age and the last error.
 */
static json_t *api_status(struct cs_backend *b)
{
	static const char *const states[] = { [W_IDLE] = "idle", [W_LIST] = "listing",
					      [W_WATCH] = "watching" };
	struct api *a = (struct api *)b;
	json_t *o, *kv = json_array();
	int64_t now = xcni_mono_ms();
	int unavailable = 0, unlisted = 0;

	if (!kv)
		return NULL;
	for (int k = 0; k < a->nkinds; k++) {
		const struct watcher *w = &a->w[k];
		bool gone = !w->listed && (w->last_status == 403 || w->last_status == 404 ||
					   ((k == K8S_SERVICE || k == K8S_ENDPOINTSLICE) &&
					    w->fails > 0));

		unavailable += gone;
		unlisted += !w->listed;
		json_array_append_new(kv, json_pack("{s:s,s:b,s:s,s:I,s:I,s:b}", "kind",
						    kind_plural(w), "listed", w->listed, "state",
						    states[w->state], "last_status",
						    (json_int_t)w->last_status, "fails",
						    (json_int_t)w->fails, "unavailable", gone));
	}
	o = json_pack("{s:s,s:b,s:o,s:i,s:i,s:o}", "server", a->conf.server ? a->conf.server : "",
		      "synced", !a->staging, "kinds", kv, "kinds_unlisted", unlisted,
		      "kinds_unavailable", unavailable, "last_event_age_s",
		      a->last_event_ms ? json_real((double)(now - a->last_event_ms) / 1000) :
					 json_null());
	if (o && a->last_msg[0])
		json_object_update_new(o, json_pack("{s:s,s:f}", "last_error", a->last_msg,
						    "last_error_age_s",
						    (double)(now - a->last_msg_ms) / 1000));
	return o;
}

static const struct cs_backend_ops api_ops = {
	.name = "k8s-api",
	.fd = api_fd,
	.dispatch = api_dispatch,
	.free = api_free,
	.status = api_status,
};

int k8s_api_open_flags(const char *kubeconfig, struct store *st, unsigned int flags,
		       struct cs_backend **out)
{
	struct timespec ts;
	struct api *a;
	int ret;

	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return pr_err_ret(-ENOMEM, "k8s api: libcurl failed to initialise\n");
	a = calloc(1, sizeof(*a));
	if (!a) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	a->b.ops = &api_ops;
	a->b.store = st;
	a->nkinds = flags & K8S_API_LB	  ? K8S_NR_ALL_KINDS :
		    flags & K8S_API_SVC ? K8S_ENDPOINTSLICE :
					  K8S_NR_KINDS;
	/* Objects are compared by digest; their trees (most of the memory) go. */
	store_drop_raw(st);
	a->epfd = a->curl_tfd = a->retry_tfd = -1;
	ret = kubeconfig ? k8s_api_conf_kubeconfig(kubeconfig, &a->conf)
			 : k8s_api_conf_in_cluster(&a->conf);
	if (ret)
		goto err_api;
	ret = -ENOMEM;
	a->open_ms = xcni_mono_ms();
	a->staging = store_new();
	a->multi = curl_multi_init();
	if (!a->staging || !a->multi)
		goto err_api;
	store_drop_raw(a->staging);
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->curl_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	a->retry_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (a->epfd < 0 || a->curl_tfd < 0 || a->retry_tfd < 0) {
		ret = -errno;
		pr_err("k8s api: epoll/timerfd: %s\n", strerror(-ret));
		goto err_api;
	}
	ret = xcni_epoll_add(a->epfd, a->curl_tfd, TAG_FD(TAG_CURL_TIMER, a->curl_tfd)) ?:
	      xcni_epoll_add(a->epfd, a->retry_tfd, TAG_FD(TAG_RETRY_TIMER, a->retry_tfd));
	if (ret) {
		pr_err("k8s api: epoll_ctl: %s\n", strerror(-ret));
		goto err_api;
	}
	curl_multi_setopt(a->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(a->multi, CURLMOPT_SOCKETDATA, a);
	curl_multi_setopt(a->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(a->multi, CURLMOPT_TIMERDATA, a);
	clock_gettime(CLOCK_REALTIME, &ts);
	srandom((unsigned int)(ts.tv_nsec ^ getpid()));
	for (int k = 0; k < a->nkinds; k++) {
		a->w[k].api = a;
		a->w[k].kind = (enum k8s_kind)k;
	}
	/* Adds the first lists; the connections start in the first dispatch. */
	kick(a);
	pr_info("k8s api: following %s (%s)\n", a->conf.server, a->conf.source);
	*out = &a->b;
	return 0;

err_api:
	api_free(&a->b);
	return ret;
}
