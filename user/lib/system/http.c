// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid's HTTP server: libmicrohttpd in its external epoll mode, driven by a
 * thread of its own; renders on the agent's loop.
 *
 * The agent's loop must keep applying cluster state, so no connection's work
 * runs there: the thread (serve) holds libmicrohttpd's epoll fd, a timerfd
 * (its timeouts, the deadlines below, the next render allowed) and an eventfd
 * (pages back from the loop) in one epoll set, and does the accepts, the TLS
 * handshakes, the reads and every bound below. A request that passed its
 * checks is suspended and handed to the loop (post_due: a list under h->mu,
 * an eventfd that is http_fd); the loop renders the batch (http_dispatch) and
 * hands it back; the thread resumes each with its page. Until it is back, a
 * suspended connection's route, arguments and page are the loop's; the
 * library never touches a suspended connection.
 *
 * Before anything else, at accept: a source address past SRCLIM_PER_S new
 * connections a second (lib/system/srclimit.h; loopback, the node's own processes,
 * excepted) is closed, counted in http_refused(): a handshake flood costs the
 * thread an accept and a close per connection, and the loop nothing.
 *
 * Names: a request is answered only when its Host header names this server:
 * the address it listens on, or localhost, 127.0.0.1, [::1] (any port: a
 * port-forward changes it); on a wildcard address (0.0.0.0, [::], allowed
 * remote), any IP address literal. Anything else, a DNS name above all, gets
 * 421 without a render: a page an operator's browser opened cannot point a
 * name of its own at this address and read the answers (DNS rebinding). A
 * request without Host (HTTP/1.0) is answered from a loopback peer only;
 * HTTP/1.1 without one is a 400, as the RFC says.
 *
 * Bounds: a request line and headers fit in HTTP_MEM bytes (more: 4xx from
 * the library); a request has no body (413). At most HTTP_MAX_CONNS
 * connections are held, and one address at most HTTP_MAX_PER_IP of them;
 * past either, the oldest connections that have not sent a request go (then
 * answered ones still being read); one whose request arrived and is being
 * answered never does. The bounds are applied after the library has read
 * what came in (not at accept), so a client that sends its request as it
 * connects, as a scraper does, is answered however fast another process
 * opens connections around it: every loopback address is a local process's
 * to bind, so per-address limits alone cannot tell a scraper from an
 * attacker on 127.0.0.2, 127.0.0.3, ... A connection has HTTP_IDLE_MS from
 * its accept to send its request, however slowly it trickles bytes, and
 * HTTP_CLIENT_MS from its request to take the answer; both are looked at
 * after the reads, so a request that arrived while the agent was busy is
 * read before its connection is judged. One request per connection
 * ("Connection: close"), which is how Prometheus scrapes anyway.
 *
 * Every answer is a page rendered after its request arrived: a counter that
 * another reader (xcnictl) saw is on the next page, never an older one.
 * Renders are spaced so that they take at most 1/HTTP_DUTY of the agent's time
 * (a page that cost 100 ms, a full conntrack table's walk, at most once every
 * HTTP_DUTY * 100 ms, at most HTTP_GAP_MAX_MS apart): a request in that gap
 * waits on the thread until the next batch is allowed, and the requests of a
 * batch that ask the same path and arguments share one render. A scrape
 * storm costs the agent no more than that share of its loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "lib/system/log.h"
#include "lib/system/clock.h"
#include "lib/system/http.h"
#include "lib/system/srclimit.h"
#include "lib/system/util.h"

/* Room for what another local process can open between a scraper's connect
 * and its request under a loaded CPU (the newest connections stay): 16 was
 * passed under make check's load (a scrape closed unanswered, 1 in 10). */
#define HTTP_MAX_CONNS 64
#define HTTP_MAX_PER_IP 8
/* The library's own cap: what the accepts between two looks may open before the
 * bounds above are applied; past it the library closes new connections itself. */
#define HTTP_MHD_CONNS 256
#define HTTP_BACKLOG 1024 /* the kernel caps it at net.core.somaxconn (4096) */
#define HTTP_MEM 8192 /* request line and headers; Prometheus sends ~300 bytes */
#define HTTP_IDLE_MS 1000 /* from accept, to send the request (a scraper sends it at once) */
#define HTTP_CLIENT_MS 5000 /* from the request, to read the answer */
#define HTTP_DUTY 10 /* renders take at most 1/HTTP_DUTY of the agent's time */
#define HTTP_GAP_MAX_MS 1000 /* the longest a request waits for a render to be allowed */
#define HTTP_MAX_ARGS 32

#define TEXT "text/plain; charset=utf-8"

struct route {
	char *path, *ctype;
	http_render_fn fn;
	void *ctx;
};

/* A rendered answer, shared by the requests that waited for it. */
struct page {
	unsigned int users;
	unsigned int status;
	struct MHD_Response *resp;
};

struct conn {
	struct conn *prev, *next;
	struct MHD_Connection *mc;
	int fd;
	struct sockaddr_storage peer;
	uint64_t accept_ns;
	uint64_t asked_ns; /* when its request arrived */
	bool killed; /* shut down by us: the library closes it on its next look */
	bool asked; /* its request arrived */
	bool answered; /* its answer is queued: what is left is the client's reading */
	bool waiting; /* suspended until a render is allowed */
	const struct route *route;
	struct page *page; /* rendered for it, to be queued when it is resumed */
	struct http_arg argv[HTTP_MAX_ARGS];
	struct http_args args; /* point into the library's request memory */
	char ou[HTTP_TLS_NAME_MAX * 2]; /* the client certificate's OU (TLS), "" none */
	bool args_over;
	/* Handed to the loop for its render (on h->due, then h->done): until it comes
	 * back, the loop reads route, args and ou and writes page; nothing else. */
	bool posted;
	struct conn *qnext;
};

struct http {
	struct MHD_Daemon *d;
	/* The server's thread: the library, every connection and its bounds. The
	 * loop that calls http_dispatch only renders (see the file's comment). */
	pthread_t thr;
	bool thr_on;
	int loop_efd; /* readable: renders are due (http_fd) */
	int thr_efd; /* readable: rendered pages came back, or stop */
	pthread_mutex_t mu; /* the fields below up to "thread's own" */
	struct conn *due, *done;
	bool stopping;
	uint64_t render_ns_total; /* the loop's time rendering, in all */
	/* thread's own: */
	bool inflight; /* a batch is with the loop */
	struct srclim rl; /* new connections per source, before the handshake */
	uint64_t refused; /* by rl: read with __atomic from any thread */
	struct sockaddr_storage addr; /* where it listens: the Host it answers to */
	char misdirected[160]; /* the 421's text, naming the names it answers to */
	int epfd, tfd;
	struct route routes[HTTP_MAX_ROUTES];
	size_t nroutes;
	/* TLS (http_open_tls): the name its certificate carries, also a Host it answers to;
	 * "" plain HTTP. A request's client certificate is verified before anything else. */
	char tls_name[HTTP_TLS_NAME_MAX];
	struct conn *conns; /* newest first */
	unsigned int nwaiting;
	uint64_t next_render_ns; /* under mu */
};

/* ---- addresses --------------------------------------------------------- */

static int parse_addr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h = s;
	unsigned long port;
	size_t hl;
	char *end;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port == 0 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (s[0] != '[' && inet_pton(AF_INET, hl ? host : "0.0.0.0", &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (s[0] == '[' && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return -EINVAL;
}

static bool loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_UNIX)
		return true; /* a Unix socket's peers are this host's processes */
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

int http_check_addr(const char *addr, bool remote)
{
	struct sockaddr_storage ss;
	int err = parse_addr(addr, &ss);

	if (err)
		return err;
	return remote || loopback(&ss) ? 0 : -EPERM;
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
	return false;
}

/* ---- names ------------------------------------------------------------- */

/*
 * The host of a Host header's value, its port (digits) cut: "[::1]:80" ->
 * "::1" (*v6 true), "localhost" -> "localhost". 0 or -EINVAL.
 */
static int host_part(const char *v, char *out, size_t len, bool *v6)
{
	const char *end, *port;

	*v6 = v[0] == '[';
	if (*v6) {
		end = strchr(++v, ']');
		if (!end)
			return -EINVAL;
		port = end + 1;
	} else {
		end = strchr(v, ':');
		if (!end)
			end = v + strlen(v);
		else if (strchr(end + 1, ':'))
			return -EINVAL; /* an IPv6 address without brackets */
		port = end;
	}
	if (*port && (*port != ':' || !port[1] || strlen(port + 1) > 5 ||
		      strspn(port + 1, "0123456789") != strlen(port + 1)))
		return -EINVAL;
	if (end == v || (size_t)(end - v) >= len)
		return -EINVAL;
	memcpy(out, v, (size_t)(end - v));
	out[end - v] = '\0';
	return 0;
}

static bool any_addr(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/*
 * Whether a request naming Host v is for this server: localhost, 127.0.0.1,
 * [::1] or the address it listens on, any port; on a wildcard address, any IP
 * literal (names are what rebinding needs; a scraper reaching a node by its
 * address sends that address).
 */
static bool host_ok(const struct http *h, const char *v)
{
	struct sockaddr_storage ss = {};
	char host[INET6_ADDRSTRLEN + 1];
	bool v6;

	if (host_part(v, host, sizeof(host), &v6))
		return false;
	if (!v6 && (!strcasecmp(host, "localhost") || !strcasecmp(host, "localhost.")))
		return true;
	/* Over TLS the client checked that name against the certificate: a
	 * rebinding page's name would not be on it. */
	if (!v6 && h->tls_name[0] && !strcasecmp(host, h->tls_name))
		return true;
	if (v6 && inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else if (!v6 && inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else
		return false;
	if (any_addr(&h->addr) || same_host(&ss, &h->addr))
		return true;
	if (ss.ss_family == AF_INET)
		return ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
}

/* ---- connections ------------------------------------------------------- */

/*
 * The library has no call to drop a connection from outside a request; a
 * shutdown makes the socket read EOF, and the library closes it on its next
 * look (a suspended one is never picked: it waits at most HTTP_GAP_MAX_MS).
 */
static void conn_kill(struct conn *c)
{
	if (c->killed)
		return;
	shutdown(c->fd, SHUT_RDWR);
	c->killed = true;
}

static void page_put(struct page *p)
{
	if (p && !--p->users) {
		MHD_destroy_response(p->resp); /* queued copies keep their own reference */
		free(p);
	}
}

/* May go for room: has not sent its request, or its answer is queued (a slow reader). */
static bool evictable(const struct conn *c)
{
	return !c->killed && !c->waiting && (!c->asked || c->answered);
}

/*
 * Past HTTP_MAX_PER_IP connections of one address, its oldest evictable ones
 * go; past HTTP_MAX_CONNS in all, the oldest that have not sent a request,
 * then the oldest slow readers. One being answered always stays.
 */
static void make_room(struct http *h)
{
	struct conn *live[HTTP_MHD_CONNS + 16];
	unsigned int per[HTTP_MHD_CONNS + 16];
	size_t n = 0;

	/* Newest first: an address's first HTTP_MAX_PER_IP are its newest. */
	for (struct conn *c = h->conns; c && n < sizeof(live) / sizeof(live[0]); c = c->next) {
		size_t i;

		if (c->killed)
			continue;
		for (i = 0; i < n && !same_host(&live[i]->peer, &c->peer); i++)
			;
		per[n] = i < n ? per[i] + 1 : 1;
		if (i < n)
			per[i] = per[n]; /* the address's count lives at its first (newest) entry */
		if (per[n] > HTTP_MAX_PER_IP && evictable(c)) {
			pr_debug("http: %u connections from one address, closing its oldest\n",
				 per[n]);
			conn_kill(c);
			if (i < n)
				per[i]--;
			continue;
		}
		live[n++] = c;
	}
	for (int pass = 0; pass < 2 && n > HTTP_MAX_CONNS; pass++)
		for (size_t i = n; i-- > 0 && n > HTTP_MAX_CONNS;) {
			struct conn *c = live[i];

			if (c->killed || !evictable(c) || (pass == 0 && c->asked))
				continue;
			pr_debug("http: %zu connections, closing the oldest %s\n", n,
				 pass ? "slow reader" : "without a request");
			conn_kill(c);
			n--;
		}
}

static void on_conn(void *cls, struct MHD_Connection *mc, void **socket_ctx,
		    enum MHD_ConnectionNotificationCode what)
{
	struct http *h = cls;
	struct conn *c = *socket_ctx;
	const union MHD_ConnectionInfo *fd, *peer;

	if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!c)
			return;
		if (c->prev)
			c->prev->next = c->next;
		else
			h->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		if (c->waiting)
			h->nwaiting--;
		page_put(c->page);
		free(c);
		*socket_ctx = NULL;
		return;
	}
	fd = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	peer = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	c = calloc(1, sizeof(*c));
	if (!c || !fd || !peer) {
		/* Without its record it could not be bounded: it goes at once. */
		if (fd)
			shutdown(fd->connect_fd, SHUT_RDWR);
		free(c);
		return;
	}
	c->mc = mc;
	c->fd = fd->connect_fd;
	memcpy(&c->peer, peer->client_addr,
	       peer->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	       peer->client_addr->sa_family == AF_UNIX	? sizeof(sa_family_t) :
							  sizeof(struct sockaddr_in));
	c->accept_ns = xcni_mono_ns();
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	*socket_ctx = c;
	/* Room is made once the library has read what came in (http_dispatch). */
}

/* ---- answers ----------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *mc, unsigned int status, const char *text,
			     const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, TEXT);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(mc, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* An answer without a page: what is left of c is the client's reading. */
static enum MHD_Result refuse(struct conn *c, unsigned int status, const char *text,
			      const char *allow)
{
	c->answered = true;
	return reply(c->mc, status, text, allow);
}

static bool same_args(const struct http_args *a, const struct http_args *b)
{
	if (a->n != b->n || !a->client_ou != !b->client_ou ||
	    (a->client_ou && strcmp(a->client_ou, b->client_ou)))
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, b->v[i].key) || strcmp(a->v[i].value, b->v[i].value))
			return false;
	return true;
}

/*
 * c's route rendered now (on the loop), for c and the requests after it in
 * the same batch that ask the same.
 */
static struct page *render(struct conn *c)
{
	const struct route *r = c->route;
	uint64_t t0 = xcni_mono_ns(), t1;
	struct page *p = calloc(1, sizeof(*p));
	char *body = NULL;
	size_t len = 0;
	int err;

	if (!p)
		return NULL;
	err = r->fn(r->ctx, &c->args, &body, &len);
	t1 = xcni_mono_ns();
	p->status = err == 0 ? MHD_HTTP_OK :
		    err == -EINVAL ? MHD_HTTP_BAD_REQUEST :
		    err == -ENOENT ? MHD_HTTP_NOT_FOUND :
		    err == -EACCES ? MHD_HTTP_FORBIDDEN :
		    err == -EAGAIN ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INTERNAL_SERVER_ERROR;
	if (err && !((err == -EINVAL || err == -EAGAIN || err == -EACCES) && body)) {
		free(body);
		body = NULL;
	}
	if (p->status == MHD_HTTP_INTERNAL_SERVER_ERROR)
		pr_warn("http: %s: cannot render the page: %s\n", r->path, strerror(-err));
	if (body)
		p->resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	else
		p->resp = MHD_create_response_from_buffer(
			err == -ENOENT ? 10 : err ? 15 : 0,
			(void *)(err == -ENOENT ? "not found\n" : err ? "cannot render\n" : ""),
			MHD_RESPMEM_PERSISTENT);
	if (!p->resp) {
		free(body);
		free(p);
		return NULL;
	}
	MHD_add_response_header(p->resp, MHD_HTTP_HEADER_CONTENT_TYPE, err ? TEXT : r->ctype);
	MHD_add_response_header(p->resp, MHD_HTTP_HEADER_CONNECTION, "close");
	pr_debug("http: %s rendered in %.1f ms, %zu bytes\n", r->path, (double)(t1 - t0) / 1e6, len);
	p->users = 1; /* the caller's */
	for (struct conn *w = c->qnext; w; w = w->qnext)
		if (!w->page && w->route == r && same_args(&w->args, &c->args)) {
			w->page = p;
			p->users++;
		}
	return p;
}

/* Queues c's page (taking it off c), or a 500 when there is none. */
static enum MHD_Result answer(struct conn *c)
{
	struct page *p = c->page;
	enum MHD_Result ret;

	c->answered = true;
	if (!p)
		return reply(c->mc, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render\n", NULL);
	c->page = NULL;
	ret = MHD_queue_response(c->mc, p->status, p->resp);
	page_put(p);
	return ret;
}

static void wake(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn("http: eventfd: %s\n", strerror(errno));
}

/*
 * The thread: the requests waiting for a render handed to the loop as one
 * batch, once a render is allowed and the last batch is back.
 */
static void post_due(struct http *h, uint64_t now)
{
	struct conn *batch = NULL, **tail = &batch;
	bool allowed;

	if (!h->nwaiting || h->inflight)
		return;
	pthread_mutex_lock(&h->mu);
	allowed = now >= h->next_render_ns;
	pthread_mutex_unlock(&h->mu);
	if (!allowed)
		return;
	/* Oldest first: a page shared is rendered for the first to ask. */
	for (struct conn *c = h->conns; c; c = c->next)
		if (c->waiting && !c->posted) {
			c->posted = true;
			c->qnext = batch;
			batch = c;
		}
	if (!batch)
		return;
	while (*tail)
		tail = &(*tail)->qnext;
	pthread_mutex_lock(&h->mu);
	*tail = h->due;
	h->due = batch;
	pthread_mutex_unlock(&h->mu);
	h->inflight = true;
	wake(h->loop_efd);
}

/* The thread: the batch the loop rendered, resumed with its pages (none: a 500). */
static void take_done(struct http *h)
{
	struct conn *c, *next;

	pthread_mutex_lock(&h->mu);
	c = h->done;
	h->done = NULL;
	pthread_mutex_unlock(&h->mu);
	if (c)
		h->inflight = false;
	for (; c; c = next) {
		next = c->qnext;
		c->qnext = NULL;
		c->posted = false;
		c->waiting = false;
		h->nwaiting--;
		MHD_resume_connection(c->mc);
	}
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct conn *c = cls;

	(void)kind;
	if (c->args.n == HTTP_MAX_ARGS) {
		c->args_over = true;
		return MHD_NO;
	}
	c->argv[c->args.n].key = key;
	c->argv[c->args.n].value = value ? value : "";
	c->args.n++;
	return MHD_YES;
}

static const struct route *find_route_locked(const struct http *h, const char *path)
{
	for (size_t i = 0; i < h->nroutes; i++)
		if (!strcmp(h->routes[i].path, path))
			return &h->routes[i];
	return NULL;
}

/* The thread looks routes up while the caller may still be adding some. */
static const struct route *find_route(struct http *h, const char *path)
{
	const struct route *r;

	pthread_mutex_lock(&h->mu);
	r = find_route_locked(h, path);
	pthread_mutex_unlock(&h->mu);
	return r;
}

/*
 * The verified client certificate's Organizational Unit into c->ou ("" none):
 * whom a render answers (flows: a namespace). Two OUs are refused: which one
 * counted would be a guess. false: refused.
 */
static bool client_ou(const struct http *h, gnutls_session_t s, struct conn *c)
{
	const gnutls_datum_t *der;
	gnutls_x509_crt_t crt;
	unsigned int n = 0;
	size_t sz = sizeof(c->ou);
	char more[8];
	size_t msz = sizeof(more);
	int err;

	c->ou[0] = '\0';
	der = gnutls_certificate_get_peers(s, &n);
	if (!der || !n || gnutls_x509_crt_init(&crt))
		return false;
	err = gnutls_x509_crt_import(crt, &der[0], GNUTLS_X509_FMT_DER);
	if (!err) {
		err = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, 0,
						    0, c->ou, &sz);
		if (err == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
			c->ou[0] = '\0';
			err = 0;
		} else if (!err && gnutls_x509_crt_get_dn_by_oid(
					   crt, GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, 1, 0, more,
					   &msz) != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
			pr_debug("http: %s: a client certificate with two OUs\n", h->tls_name);
			err = -1;
		}
	}
	gnutls_x509_crt_deinit(crt);
	if (err)
		c->ou[0] = '\0';
	return !err;
}

/*
 * Over TLS: whether the client sent a certificate chain that the CA given
 * (HTTPS_MEM_TRUST) signed, in its time, for client authentication (the
 * extended key usage clientAuth: a server's certificate, which every node
 * holds, is not a client's). The library asks for a certificate but lets a
 * handshake without one finish; it is refused here, before anything else.
 */
static bool client_ok(const struct http *h, struct conn *c)
{
	gnutls_typed_vdata_st vd = { .type = GNUTLS_DT_KEY_PURPOSE_OID,
				     .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT };
	const union MHD_ConnectionInfo *ci;
	unsigned int status = 0, n = 0;
	gnutls_session_t s;
	int err;

	ci = MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return false;
	s = (gnutls_session_t)ci->tls_session;
	if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509 ||
	    !gnutls_certificate_get_peers(s, &n) || !n) {
		pr_debug("http: %s: the client sent no certificate\n", h->tls_name);
		return false;
	}
	err = gnutls_certificate_verify_peers(s, &vd, 1, &status);
	if (err || status) {
		gnutls_datum_t why = {};

		if (!err && !gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
									   &why, 0)) {
			pr_debug("http: %s: the client's certificate: %s\n", h->tls_name, why.data);
			gnutls_free(why.data);
		}
		return false;
	}
	return client_ou(h, s, c);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **req_ctx)
{
	struct http *h = cls;
	struct conn *c = *req_ctx;
	const union MHD_ConnectionInfo *ci;
	const char *cl, *host;

	(void)upload;
	if (c) {
		if (*upload_len)
			return MHD_NO; /* a body after the answer was queued: not ours to read */
		return answer(c); /* resumed after its render */
	}
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	c = ci ? ci->socket_context : NULL;
	if (!c)
		return MHD_NO;
	*req_ctx = c;
	page_put(c->page);
	c->page = NULL;
	c->asked = true;
	c->asked_ns = xcni_mono_ns();
	pr_debug("http: %s %s\n", method, url);
	if (h->tls_name[0] && !client_ok(h, c)) {
		pr_info("http: %s: refused a client without a certificate the CA signed for clientAuth\n",
			h->tls_name);
		return refuse(c, MHD_HTTP_FORBIDDEN,
			      "forbidden: a client certificate signed by this server's CA, for "
			      "client authentication, is required\n", NULL);
	}
	host = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	if (!host && strcmp(version, MHD_HTTP_VERSION_1_0))
		return refuse(c, MHD_HTTP_BAD_REQUEST, "HTTP/1.1 needs a Host header\n", NULL);
	if (host ? !host_ok(h, host) : !loopback(&c->peer)) {
		pr_debug("http: Host %s: not this server's name\n", host ? host : "(none)");
		return refuse(c, MHD_HTTP_MISDIRECTED_REQUEST, h->misdirected, NULL);
	}
	c->route = find_route(h, url);
	if (!c->route)
		return refuse(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return refuse(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "GET, HEAD");
	cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if ((cl && strcmp(cl, "0")) ||
	    MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return refuse(c, MHD_HTTP_CONTENT_TOO_LARGE, "a GET has no body\n", NULL);
	c->args = (struct http_args){ .v = c->argv, .client_ou = c->ou[0] ? c->ou : NULL };
	MHD_get_connection_values(mc, MHD_GET_ARGUMENT_KIND, add_arg, c);
	if (c->args_over)
		return refuse(c, MHD_HTTP_BAD_REQUEST, "too many query arguments\n", NULL);
	/* Rendered on the loop (post_due, after this run), resumed when its page is back. */
	MHD_suspend_connection(mc);
	c->waiting = true;
	h->nwaiting++;
	return MHD_YES;
}

/* ---- the server's thread ----------------------------------------------- */

/* Connections past their time, whatever they are doing (a trickle resets no clock here). */
static uint64_t deadline(const struct conn *c)
{
	return c->asked ? c->asked_ns + HTTP_CLIENT_MS * 1000000ULL :
			  c->accept_ns + HTTP_IDLE_MS * 1000000ULL;
}

static void expire(struct http *h, uint64_t now)
{
	for (struct conn *c = h->conns; c; c = c->next)
		if (!c->killed && !c->waiting && now >= deadline(c)) {
			pr_debug("http: a client took over %d ms %s, closing it\n",
				 c->asked ? HTTP_CLIENT_MS : HTTP_IDLE_MS,
				 c->asked ? "to read its answer" : "to send its request");
			conn_kill(c);
		}
}

/* The timer at the soonest of: the library's timeout, a deadline, the next render allowed. */
static void arm(struct http *h)
{
	uint64_t now = xcni_mono_ns(), next = UINT64_MAX, rel;
	struct itimerspec its = {};
	MHD_UNSIGNED_LONG_LONG to;

	if (MHD_get_timeout(h->d, &to) == MHD_YES)
		next = now + (to < 3600000 ? (uint64_t)to : 3600000) * 1000000ULL;
	for (struct conn *c = h->conns; c; c = c->next)
		if (!c->killed && !c->waiting && deadline(c) < next)
			next = deadline(c);
	if (h->nwaiting && !h->inflight) {
		uint64_t r;

		pthread_mutex_lock(&h->mu);
		r = h->next_render_ns;
		pthread_mutex_unlock(&h->mu);
		if (r < next)
			next = r;
	}
	if (next != UINT64_MAX) {
		rel = next > now ? next - now : 1; /* 0 would disarm it */
		its.it_value.tv_sec = (time_t)(rel / 1000000000ULL);
		its.it_value.tv_nsec = (long)(rel % 1000000000ULL);
	}
	if (timerfd_settime(h->tfd, 0, &its, NULL))
		pr_warn("http: timerfd: %s\n", strerror(errno));
}

/* What is due on the thread: pages back, reads, bounds, the next batch. */
static void tick(struct http *h)
{
	uint64_t expirations;

	if (read(h->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		pr_debug("http: timerfd: %s\n", strerror(errno));
	take_done(h);
	MHD_run(h->d);
	/*
	 * After the reads: a request that came in while its connection was
	 * being accepted has arrived. What goes now the library closes on its
	 * next look.
	 */
	expire(h, xcni_mono_ns());
	make_room(h);
	post_due(h, xcni_mono_ns());
	arm(h);
}

static void *serve(void *arg)
{
	struct http *h = arg;
	struct epoll_event ev[4];
	uint64_t n;
	bool stopping = false;

	while (!stopping) {
		/* The first look unasked: the library puts its listening socket in its set then. */
		tick(h);
		while (epoll_wait(h->epfd, ev, 4, -1) < 0 && errno == EINTR)
			;
		if (read(h->thr_efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			pr_debug("http: eventfd: %s\n", strerror(errno));
		pthread_mutex_lock(&h->mu);
		stopping = h->stopping;
		pthread_mutex_unlock(&h->mu);
	}
	return NULL;
}

/*
 * The loop: the batch the thread handed over rendered (a page per path and
 * arguments), given back, and the next render allowed once the loop has had
 * HTTP_DUTY - 1 times the renders' time to itself (at most HTTP_GAP_MAX_MS).
 */
void http_dispatch(struct http *h)
{
	struct conn *batch, *last = NULL;
	uint64_t n, t0, gap;

	if (!h)
		return;
	if (read(h->loop_efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pr_debug("http: eventfd: %s\n", strerror(errno));
	pthread_mutex_lock(&h->mu);
	batch = h->due;
	h->due = NULL;
	pthread_mutex_unlock(&h->mu);
	if (!batch)
		return;
	t0 = xcni_mono_ns();
	for (struct conn *c = batch; c; c = c->qnext) {
		if (!c->page)
			c->page = render(c); /* NULL: a 500 when it is resumed */
		last = c;
	}
	gap = (xcni_mono_ns() - t0) * (HTTP_DUTY - 1);
	if (gap > HTTP_GAP_MAX_MS * 1000000ULL)
		gap = HTTP_GAP_MAX_MS * 1000000ULL;
	pthread_mutex_lock(&h->mu);
	h->render_ns_total += xcni_mono_ns() - t0;
	h->next_render_ns = xcni_mono_ns() + gap;
	last->qnext = h->done;
	h->done = batch;
	pthread_mutex_unlock(&h->mu);
	wake(h->thr_efd);
}

int http_fd(const struct http *h)
{
	return h ? h->loop_efd : -1;
}

unsigned long long http_refused(const struct http *h)
{
	return h ? __atomic_load_n(&h->refused, __ATOMIC_RELAXED) : 0;
}

/* ---- setup ------------------------------------------------------------- */

/* The library's last message on this thread: why a start failed. */
static __thread char last_log[256];

static void on_log(void *cls, const char *fmt, va_list ap)
{
	size_t n;

	(void)cls;
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	n = strlen(last_log);
	while (n && last_log[n - 1] == '\n')
		last_log[--n] = '\0';
	pr_debug("http: libmicrohttpd: %s\n", last_log);
}

int http_route(struct http *h, const char *path, const char *content_type, http_render_fn fn,
	       void *ctx)
{
	struct route *r;
	int err = 0;

	pthread_mutex_lock(&h->mu);
	if (find_route_locked(h, path)) {
		err = -EEXIST;
		goto out;
	}
	if (h->nroutes == HTTP_MAX_ROUTES) {
		err = -ENOSPC;
		goto out;
	}
	r = &h->routes[h->nroutes];
	r->path = strdup(path);
	r->ctype = strdup(content_type);
	if (!r->path || !r->ctype) {
		free(r->path);
		free(r->ctype);
		err = -ENOMEM;
		goto out;
	}
	r->fn = fn;
	r->ctx = ctx;
	h->nroutes++;
out:
	pthread_mutex_unlock(&h->mu);
	return err;
}

/*
 * At accept, before the library does anything for the connection (a TLS
 * handshake above all): a source past its rate is closed at once. Loopback
 * is the node's own processes, which share its CPUs anyway, and a scraper
 * there must not be refused for another local process's connections.
 */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct http *h = cls;
	struct sockaddr_storage ss = {};
	uint8_t a[16] = { [10] = 0xff, [11] = 0xff };

	if (len > sizeof(ss))
		return MHD_NO;
	memcpy(&ss, sa, len);
	if (loopback(&ss))
		return MHD_YES;
	if (ss.ss_family == AF_INET)
		memcpy(a + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else if (ss.ss_family == AF_INET6)
		memcpy(a, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	else
		return MHD_NO;
	if (srclim_allow(&h->rl, a, xcni_mono_ns()))
		return MHD_YES;
	if (__atomic_fetch_add(&h->refused, 1, __ATOMIC_RELAXED) % 1000 == 0) {
		char txt[INET6_ADDRSTRLEN] = "?";

		inet_ntop(AF_INET6, a, txt, sizeof(txt));
		pr_info("http: %s: %s opened more than %d connections a second; refused "
			"(%llu in all)\n", h->tls_name[0] ? h->tls_name : "metrics/ui", txt,
			SRCLIM_PER_S, (unsigned long long)http_refused(h));
	}
	return MHD_NO;
}

/*
 * A listening Unix socket at path (non-blocking, mode 0600), its directory
 * made (0700) when missing, a socket left there by an agent that did not
 * stop cleanly replaced. The fd or -errno.
 */
int xcni_unix_listen(const char *path, int type, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], *slash;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
	}
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    listen(fd, backlog)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* addr HOST:PORT, or with lfd >= 0 the Unix socket lfd listens on, named addr. */
static int start(const char *addr, int lfd, bool remote, const struct http_tls *tls,
		 struct http **out)
{
	struct sockaddr_storage ss = { .ss_family = AF_UNIX };
	/* The Unix socket is taken over by the server, closed with it. */
	struct MHD_OptionItem where[] = {
		lfd >= 0 ? (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, lfd, NULL } :
			   (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss },
		{ MHD_OPTION_END, 0, NULL },
	};
	const union MHD_DaemonInfo *di;
	struct http *h;
	int err;

	err = lfd >= 0 ? 0 : http_check_addr(addr, remote);
	if (err)
		return pr_err_ret(err, "http: %s: %s\n", addr,
				  err == -EPERM ? "not a loopback address (allow it explicitly)" :
				  "HOST:PORT with an IPv4 or [IPv6] address");
	if (lfd < 0)
		parse_addr(addr, &ss);
	h = calloc(1, sizeof(*h));
	if (!h) {
		xcni_close(&lfd);
		return -ENOMEM;
	}
	h->addr = ss;
	if (tls)
		snprintf(h->tls_name, sizeof(h->tls_name), "%s", tls->name);
	snprintf(h->misdirected, sizeof(h->misdirected),
		 "misdirected request: the Host header names another server; this one answers "
		 "to %s%s%s%s, localhost, 127.0.0.1 or [::1]\n", tls ? tls->name : "",
		 tls ? ", " : "", lfd < 0 && any_addr(&ss) ? "an IP address on " : "", addr);
	pthread_mutex_init(&h->mu, NULL);
	srclim_init(&h->rl, 0, 0);
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	h->loop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	h->thr_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->epfd < 0 || h->tfd < 0 || h->loop_efd < 0 || h->thr_efd < 0) {
		err = -errno;
		pr_err("http: epoll/timerfd/eventfd: %s\n", strerror(errno));
		goto fail;
	}
	last_log[0] = '\0';
	errno = 0;
	h->d = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
			(ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) | (tls ? MHD_USE_TLS : 0),
		lfd >= 0 ? 0 : ntohs(((struct sockaddr_in *)&ss)->sin_port), on_accept, h, on_request,
		h,
		MHD_OPTION_ARRAY, where,
		/* A restarted agent rebinds while its predecessor's connections sit in TIME_WAIT. */
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1U,
		/* Deep enough that a flood between two looks does not fill it: a
		 * scraper's SYN dropped there comes again only a second later. */
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)HTTP_BACKLOG,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MHD_CONNS,
		/* None of the library's own: it would close, before reading it, a
		 * request that came while the agent was busy; expire() keeps time. */
		MHD_OPTION_CONNECTION_TIMEOUT, 0U,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEM,
		MHD_OPTION_NOTIFY_CONNECTION, on_conn, h,
		MHD_OPTION_EXTERNAL_LOGGER, on_log, NULL,
		/* Last: without TLS the list ends at the first of these. */
		tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, tls ? tls->cert : NULL,
		MHD_OPTION_HTTPS_MEM_KEY, tls ? tls->key : NULL,
		/* The CA that signs clients: the library asks each for a certificate. */
		MHD_OPTION_HTTPS_MEM_TRUST, tls ? tls->ca : NULL,
		/* TLS 1.2 and 1.3 only. */
		MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
		MHD_OPTION_END);
	if (!h->d) {
		err = errno ? -errno : -EIO;
		pr_err("http: cannot listen on %s: %s\n", addr,
		       last_log[0] ? last_log : strerror(-err));
		goto fail;
	}
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di) {
		err = -EIO;
		goto fail;
	}
	if ((err = xcni_epoll_add(h->epfd, di->epoll_fd, 0) ?: xcni_epoll_add(h->epfd, h->tfd, 0) ?:
		   xcni_epoll_add(h->epfd, h->thr_efd, 0)))
		goto fail;
	err = -pthread_create(&h->thr, NULL, serve, h);
	if (err) {
		pr_err("http: cannot start the server's thread: %s\n", strerror(-err));
		goto fail;
	}
	h->thr_on = true;
	if (lfd >= 0)
		pr_debug("http: serving on %s\n", addr);
	else
		pr_info("http: serving http%s://%s/\n", tls ? "s" : "", addr);
	*out = h;
	return 0;
fail:
	if (lfd >= 0 && !h->d)
		close(lfd);
	http_free(h);
	return err;
}

int http_open(const char *addr, bool remote, struct http **out)
{
	return start(addr, -1, remote, NULL, out);
}

int http_open_unix(const char *path, struct http **out)
{
	int fd = xcni_unix_listen(path, SOCK_STREAM, HTTP_BACKLOG), err;

	if (fd < 0)
		return pr_err_ret(fd, "http: cannot listen on %s: %s\n", path, strerror(-fd));
	err = start(path, fd, false, NULL, out);
	if (err)
		unlink(path);
	return err;
}

int http_open_tls(const char *addr, const struct http_tls *tls, struct http **out)
{
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
		return pr_err_ret(-ENOTSUP,
				  "http: %s: this libmicrohttpd was built without TLS\n", addr);
	if (!tls->name[0] || strlen(tls->name) >= HTTP_TLS_NAME_MAX)
		return pr_err_ret(-EINVAL, "http: %s: the TLS name must be 1 to %d bytes\n", addr,
				  HTTP_TLS_NAME_MAX - 1);
	return start(addr, -1, true, tls, out);
}

void http_free(struct http *h)
{
	if (!h)
		return;
	if (h->thr_on) {
		pthread_mutex_lock(&h->mu);
		h->stopping = true;
		pthread_mutex_unlock(&h->mu);
		wake(h->thr_efd);
		pthread_join(h->thr, NULL);
	}
	/* The thread is gone: what it held is this thread's now. Pages handed
	 * back but not taken stay on their connections, freed as they close. */
	if (h->d) {
		/* The library closes suspended connections only once resumed. */
		for (struct conn *c = h->conns; c; c = c->next)
			if (c->waiting) {
				c->waiting = false;
				MHD_resume_connection(c->mc);
			}
		h->nwaiting = 0;
		MHD_stop_daemon(h->d);
	}
	xcni_close(&h->tfd);
	xcni_close(&h->epfd);
	xcni_close(&h->loop_efd);
	xcni_close(&h->thr_efd);
	pthread_mutex_destroy(&h->mu);
	for (size_t i = 0; i < h->nroutes; i++) {
		free(h->routes[i].path);
		free(h->routes[i].ctype);
	}
	free(h);
}

const char *http_arg(const struct http_args *a, const char *key)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->v[i].key, key))
			return a->v[i].value;
	return NULL;
}
