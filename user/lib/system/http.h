/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnid's HTTP server (the Prometheus metrics, the UI, the flows relay):
 * libmicrohttpd on a thread of its own (accepts, TLS handshakes, requests
 * read and judged, connections bounded), with a table of paths. A page is a
 * render function, and renders run on the agent's loop, through one fd: the
 * loop calls it after the request arrived (never serves an older page), and
 * renders are spaced so that they take at most a tenth of the agent's time.
 * Only GET and HEAD on a registered path are answered with a page; the rest
 * get a 4xx without a render. New connections from one source address past
 * SRCLIM_PER_S a second (lib/system/srclimit.h; loopback excepted) are closed at
 * accept, before any handshake, and counted (http_refused).
 *
 * Adding a page is one line, after http_open and before the loop:
 *
 *	http_route(h, "/flows", "application/json", flows_render, flows);
 *
 * with
 *
 *	static int flows_render(void *ctx, const struct http_args *a, char **body, size_t *len)
 *	{
 *		const char *ns = http_arg(a, "namespace"); // ?namespace=x, or NULL
 *		...
 *		*body = malloc'd text; *len = its length;
 *		return 0;
 *	}
 */
#ifndef XCNID_HTTP_H
#define XCNID_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct http;

/* The query string, decoded: ?a=1&b sends { "a", "1" }, { "b", "" }. */
struct http_arg {
	const char *key, *value;
};
struct http_args {
	size_t n;
	const struct http_arg *v;
	/* Over TLS: the verified client certificate's Organizational Unit (at most
	 * one is accepted), NULL without one: whom the answer is for. */
	const char *client_ou;
};

/* The value of key in the query, or NULL. */
const char *http_arg(const struct http_args *a, const char *key);

/*
 * Renders the page for a request with these arguments: *body (malloc'd, taken
 * over, may hold '\0's) and *len. Returns 0 (200), or -errno: -EINVAL a 400
 * (*body, if set, the message saying which argument is wrong), -ENOENT a 404,
 * -EAGAIN a 503 (*body, if set, saying why: not ready), anything else a 500.
 * Requests waiting at the same time for the same path and arguments share
 * one render. It runs on the agent's loop (the thread that calls
 * http_dispatch), never on the server's thread: it reads what the loop owns
 * without locks, and must not wait on anything.
 */
typedef int (*http_render_fn)(void *ctx, const struct http_args *args, char **body, size_t *len);

/*
 * addr "HOST:PORT": an IPv4 address, [IPv6], or ":PORT" (every address).
 * 0, -EINVAL if it is not one, -EPERM if it is not loopback and remote is
 * false: a page is served to whoever reaches the address, so leaving the
 * node needs the caller's explicit consent (xcnid's --http-allow-remote).
 */
int http_check_addr(const char *addr, bool remote);
/* Listens on addr (checked as above). 0 or -errno (logged). */
int http_open(const char *addr, bool remote, struct http **out);
/*
 * Listens on a Unix stream socket at path (mode 0600, its directory made
 * 0700, a stale socket replaced): whoever may open it is this host's root.
 * The caller unlinks path after http_free. 0 or -errno (logged).
 */
int http_open_unix(const char *path, struct http **out);
/* The socket under it: a listening Unix socket of type (SOCK_STREAM, SOCK_SEQPACKET) at
 * path, non-blocking, made as above. The fd or -errno. */
int xcni_unix_listen(const char *path, int type, int backlog);

/*
 * The same over TLS, on any address, with clients authenticated: each
 * request's client certificate must chain to ca and be meant for client
 * authentication (extended key usage clientAuth), else 403 and nothing
 * rendered (a render's -EACCES is a 403 with its body). cert (the server's, its chain), key and ca are PEM, NUL-ended;
 * name is the name the server's certificate carries (its clients dial by it),
 * answered to in Host beside the addresses http_open answers to.
 */
#define HTTP_TLS_NAME_MAX 64
struct http_tls {
	const char *cert, *key, *ca;
	const char *name;
};
int http_open_tls(const char *addr, const struct http_tls *tls, struct http **out);
/*
 * GET/HEAD path (exact; a query string does not change the match) answers
 * fn's page as content_type (e.g. "application/json"). 0, -EEXIST, -ENOSPC
 * (at most HTTP_MAX_ROUTES paths), -ENOMEM.
 */
#define HTTP_MAX_ROUTES 16
int http_route(struct http *h, const char *path, const char *content_type, http_render_fn fn,
	       void *ctx);
/*
 * One fd for the caller's poll(2) (POLLIN): readable whenever renders are
 * due. -1 for a NULL server (poll skips it).
 */
int http_fd(const struct http *h);
/* The renders due, done; never waits on a client or the server's thread. NULL: nothing. */
void http_dispatch(struct http *h);
/* Connections refused at accept by the per-source rate, since http_open (any thread). */
unsigned long long http_refused(const struct http *h);
void http_free(struct http *h);

#endif
