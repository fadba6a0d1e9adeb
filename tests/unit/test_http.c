// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid's HTTP server (user/lib/system/http.c): the address rule (loopback unless
 * allowed), query arguments, and the server itself on real sockets in a
 * private network namespace (needs root), driven by a poll loop as the agent
 * drives it while client threads send requests: renders come after their
 * request, waiting requests share one, renders take at most a tenth of the
 * loop's time however hard clients press, and refused requests render nothing.
 * The per-source limit at accept (user/lib/system/srclimit.c): a source's burst,
 * its rate, other sources untouched, a bounded table whose places no new
 * source takes from an active one; and on the server, a non-loopback source's
 * connections past its burst closed before anything is read, and counted.
 * The loop's registration (xcni_epoll_add) asks for reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../user/lib/system/clock.h"
#include "../../user/lib/system/http.h"
#include "../../user/lib/system/srclimit.h"

#define PORT 18962
#define RENDER_MS 20

static void test_check_addr(void **state)
{
	static const struct {
		const char *addr;
		int local, remote; /* http_check_addr without and with consent */
	} rows[] = {
		{ "127.0.0.1:9962", 0, 0 },
		{ "127.3.4.5:1", 0, 0 },
		{ "[::1]:9962", 0, 0 },
		{ "0.0.0.0:9962", -EPERM, 0 },
		{ ":9962", -EPERM, 0 },
		{ "[::]:9962", -EPERM, 0 },
		{ "10.0.0.1:80", -EPERM, 0 },
		{ "[fd00::1]:80", -EPERM, 0 },
		{ "[::ffff:127.0.0.1]:80", -EPERM, 0 }, /* mapped: not the v6 loopback */
		{ "localhost", -EINVAL, -EINVAL },
		{ "localhost:80", -EINVAL, -EINVAL },
		{ "1.2.3.4", -EINVAL, -EINVAL },
		{ "1.2.3.4:0", -EINVAL, -EINVAL },
		{ "1.2.3.4:65536", -EINVAL, -EINVAL },
		{ "1.2.3.4:80x", -EINVAL, -EINVAL },
		{ "::1:9962", -EINVAL, -EINVAL },
		{ "[::1]9962", -EINVAL, -EINVAL },
		{ "[::1]:", -EINVAL, -EINVAL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int l = http_check_addr(rows[i].addr, false), r = http_check_addr(rows[i].addr, true);

		if (l != rows[i].local || r != rows[i].remote)
			fail_msg("%s: %d/%d, want %d/%d", rows[i].addr, l, r, rows[i].local,
				 rows[i].remote);
	}
}

static void test_arg(void **state)
{
	const struct http_arg v[] = { { "a", "1" }, { "b", "" } };
	const struct http_args a = { .n = 2, .v = v };

	(void)state;
	assert_string_equal(http_arg(&a, "a"), "1");
	assert_string_equal(http_arg(&a, "b"), "");
	assert_null(http_arg(&a, "c"));
}

/* ---- the server --------------------------------------------------------- */

static atomic_uint renders; /* started renders: the page says which one it is */
static atomic_ullong render_ns; /* their time in all */
static atomic_int clients_left;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A page that costs RENDER_MS of the loop's time, numbered. */
static int slow_render(void *ctx, const struct http_args *a, char **body, size_t *len)
{
	unsigned int n = ++renders;
	uint64_t t0 = now_ns();
	const char *x = http_arg(a, "x");

	(void)ctx;
	while (now_ns() - t0 < RENDER_MS * 1000000ULL)
		;
	render_ns += now_ns() - t0;
	if (x && !strcmp(x, "bad")) {
		*body = strdup("x: bad\n");
		*len = strlen(*body);
		return -EINVAL;
	}
	if (asprintf(body, "%u %s\n", n, x ? x : "-") < 0)
		return -ENOMEM;
	*len = strlen(*body);
	return 0;
}

/* One request on its own connection to sa: the status, the body in out. */
static int request_to(const struct sockaddr *sa, socklen_t sl, const char *req, char *out,
		      size_t outlen)
{
	struct timeval tv = { .tv_sec = 10 }; /* a guard: test_busy waits 5.5 s */
	char buf[4096], *body;
	size_t n = 0;
	ssize_t r;
	int fd = socket(sa->sa_family, SOCK_STREAM, 0), status = -1;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, sa, sl) || send(fd, req, strlen(req), 0) < 0)
		goto out;
	/* HTTP/1.0 answers say 1.0 */
	if (!strncmp(req + strcspn(req, "\r") - 8, "HTTP/1.0", 8))
		shutdown(fd, SHUT_WR);
	while (n < sizeof(buf) - 1 && (r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
	body = strstr(buf, "\r\n\r\n");
	snprintf(out, outlen, "%s", body ? body + 4 : "");
out:
	close(fd);
	return status;
}

/* One request to 127.0.0.1:PORT. */
static int request(const char *req, char *out, size_t outlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return request_to((struct sockaddr *)&sa, sizeof(sa), req, out, outlen);
}

struct client {
	pthread_t t;
	const char *req;
	uint64_t until_ns; /* 0: one request */
	int status, stale, count;
	uint64_t max_ns; /* the slowest request's time */
	char body[256];
};

/* Requests in a row; a page numbered no later than the renders begun before it was sent is stale. */
static void *client_run(void *arg)
{
	struct client *c = arg;

	do {
		unsigned int before = renders;
		unsigned int n = 0;
		uint64_t t0 = now_ns();

		c->status = request(c->req, c->body, sizeof(c->body));
		if (now_ns() - t0 > c->max_ns)
			c->max_ns = now_ns() - t0;
		if (c->status == 200 && c->body[0] && (sscanf(c->body, "%u", &n) != 1 || n <= before))
			c->stale++;
		c->count++;
	} while (c->until_ns && now_ns() < c->until_ns && c->status == 200);
	clients_left--;
	return NULL;
}

/* The agent's side: poll the one fd, dispatch, until the clients are done. */
static void serve(struct http *h, struct client *cs, int n)
{
	clients_left = n;
	for (int i = 0; i < n; i++)
		pthread_create(&cs[i].t, NULL, client_run, &cs[i]);
	while (clients_left > 0) {
		struct pollfd p = { .fd = http_fd(h), .events = POLLIN };

		if (poll(&p, 1, 100) > 0)
			http_dispatch(h);
	}
	for (int i = 0; i < n; i++)
		pthread_join(cs[i].t, NULL);
}

static int setup_server(void **state)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	struct http *h = NULL;
	int fd;

	if (unshare(CLONE_NEWNET) < 0)
		fail_msg("unshare(CLONE_NEWNET): %s (needs root)", strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ifr.ifr_flags = IFF_UP;
	if (fd < 0 || ioctl(fd, SIOCSIFFLAGS, &ifr))
		fail_msg("lo up: %s", strerror(errno));
	close(fd);
	assert_int_equal(http_open("127.0.0.1:18962", false, &h), 0);
	assert_int_equal(http_route(h, "/p", "text/plain", slow_render, NULL), 0);
	assert_int_equal(http_route(h, "/p", "text/plain", slow_render, NULL), -EEXIST);
	*state = h;
	return 0;
}

static int teardown_server(void **state)
{
	http_free(*state);
	return 0;
}

static void test_refused(void **state)
{
	struct client cs[4] = {
		{ .req = "GET /q HTTP/1.1\r\nHost: 127.0.0.1:18962\r\n\r\n" },
		{ .req = "POST /p HTTP/1.1\r\nHost: 127.0.0.1:18962\r\nContent-Length: 0\r\n\r\n" },
		{ .req = "GET /p HTTP/1.1\r\nHost: 127.0.0.1:18962\r\nContent-Length: 2\r\n\r\nab" },
		{ .req = "GET /p?x=bad HTTP/1.1\r\nHost: 127.0.0.1:18962\r\n\r\n" },
	};
	unsigned int r0 = renders;

	serve(*state, cs, 4);
	assert_int_equal(cs[0].status, 404);
	assert_int_equal(cs[1].status, 405);
	assert_int_equal(cs[2].status, 413);
	/* Only the known path with a GET renders: its -EINVAL is a 400 with its message. */
	assert_int_equal(cs[3].status, 400);
	assert_string_equal(cs[3].body, "x: bad\n");
	assert_int_equal(renders - r0, 1);
}

static void test_shared(void **state)
{
	struct client cs[8];
	unsigned int r0;

	/* One render first, so that the next is not allowed for 9 x RENDER_MS. */
	memset(cs, 0, sizeof(cs));
	cs[0].req = "GET /p HTTP/1.1\r\nHost: 127.0.0.1:18962\r\n\r\n";
	serve(*state, cs, 1);
	assert_int_equal(cs[0].status, 200);
	r0 = renders;
	for (int i = 0; i < 8; i++) {
		memset(&cs[i], 0, sizeof(cs[i]));
		cs[i].req = i < 6 ? "GET /p?x=1 HTTP/1.1\r\nHost: 127.0.0.1:18962\r\n\r\n" :
				    "HEAD /p?x=2 HTTP/1.1\r\nHost: 127.0.0.1:18962\r\n\r\n";
	}
	serve(*state, cs, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(cs[i].status, 200);
		assert_int_equal(cs[i].stale, 0);
		if (i < 6)
			assert_non_null(strstr(cs[i].body, " 1\n"));
		else
			assert_string_equal(cs[i].body, ""); /* HEAD: no body */
	}
	/* Six waiting with x=1 share a render, two with x=2 another (and one may not have waited). */
	if (renders - r0 > 3)
		fail_msg("%u renders for 8 requests of 2 kinds", renders - r0);
}

static void test_duty(void **state)
{
	struct client cs[4];
	uint64_t t0 = now_ns(), wall, busy0 = render_ns;
	unsigned int r0 = renders;
	int answered = 0;

	memset(cs, 0, sizeof(cs));
	for (int i = 0; i < 4; i++) {
		cs[i].req = "GET /p HTTP/1.1\r\nHost: 127.0.0.1:18962\r\n\r\n";
		cs[i].until_ns = t0 + 1500000000ULL;
	}
	serve(*state, cs, 4);
	wall = now_ns() - t0;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(cs[i].status, 200);
		assert_int_equal(cs[i].stale, 0);
		answered += cs[i].count;
	}
	print_message("duty: %d requests answered, %u renders, %.1f%% of %.2f s rendering\n",
		      answered, renders - r0, 100.0 * (double)(render_ns - busy0) / (double)wall,
		      (double)wall / 1e9);
	/* A tenth of the time, and a render's slack: its first one costs before spacing. */
	if ((render_ns - busy0) > wall / 10 + RENDER_MS * 1000000ULL * 2)
		fail_msg("renders took %.1f%% of the loop", 100.0 * (double)(render_ns - busy0) / (double)wall);
	assert_true(answered > (int)(renders - r0));
}

/* Host names this server, or the request is refused (421) without a render. */
static void test_host(void **state)
{
	static const struct {
		const char *host; /* the header's value; NULL: no header */
		const char *version;
		int status;
	} rows[] = {
		{ "127.0.0.1:18962", "1.1", 200 },
		{ "127.0.0.1", "1.1", 200 },
		{ "localhost:18962", "1.1", 200 },
		{ "LocalHost", "1.1", 200 },
		{ "localhost.:8080", "1.1", 200 }, /* a port-forward's own port */
		{ "[::1]:18962", "1.1", 200 },
		{ "[::1]", "1.1", 200 },
		{ "evil.example", "1.1", 421 },
		{ "evil.example:18962", "1.1", 421 },
		{ "localhost.evil.example", "1.1", 421 },
		{ "127.0.0.1.nip.io:18962", "1.1", 421 },
		{ "127.0.0.2:18962", "1.1", 421 }, /* loopback, but not this server's address */
		{ "10.0.0.1", "1.1", 421 },
		{ "[::2]:18962", "1.1", 421 },
		{ "::1", "1.1", 421 }, /* IPv6 without brackets */
		{ "[::1", "1.1", 421 },
		{ "127.0.0.1:", "1.1", 421 },
		{ "127.0.0.1:80x", "1.1", 421 },
		{ "127.0.0.1:123456", "1.1", 421 },
		{ "", "1.1", 421 },
		{ NULL, "1.0", 200 }, /* HTTP/1.0 without Host: from loopback, answered */
		{ NULL, "1.1", 400 },
	};
	unsigned int r0 = renders, want = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct client c = {};
		char req[256];

		if (rows[i].host)
			snprintf(req, sizeof(req), "GET /p HTTP/%s\r\nHost: %s\r\n\r\n", rows[i].version,
				 rows[i].host);
		else
			snprintf(req, sizeof(req), "GET /p HTTP/%s\r\n\r\n", rows[i].version);
		c.req = req;
		serve(*state, &c, 1);
		if (c.status != rows[i].status)
			fail_msg("Host %s (HTTP/%s): %d, want %d", rows[i].host ?: "(none)",
				 rows[i].version, c.status, rows[i].status);
		if (c.status == 421 && !strstr(c.body, "misdirected request: the Host header names another server; this one answers to 127.0.0.1:18962, localhost"))
			fail_msg("Host %s: the 421 does not say why: %s", rows[i].host, c.body);
		want += c.status == 200;
	}
	/* Refused requests rendered nothing. */
	assert_int_equal(renders - r0, want);
}

/* On a wildcard address (allowed remote) any address literal is a name of it; no DNS name is. */
/* The reply on FD while H serves, until the peer closes or 3 s have passed;
 * closes FD. Its HTTP status, -1 when none; *len its length. */
static int reply_status(struct http *h, int fd, ssize_t *len)
{
	char buf[512];
	uint64_t t0 = now_ns();
	ssize_t n = 0, r;
	int status = -1;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (now_ns() - t0 < 3000000000ULL) {
		struct pollfd p[2] = { { .fd = http_fd(h), .events = POLLIN },
				       { .fd = fd, .events = POLLIN } };

		poll(p, 2, 50);
		if (p[0].revents)
			http_dispatch(h);
		if (p[1].revents) {
			r = recv(fd, buf + n, sizeof(buf) - 1 - (size_t)n, 0);
			if (r <= 0)
				break;
			n += r;
		}
	}
	close(fd);
	buf[n] = '\0';
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		status = -1;
	*len = n;
	return status;
}

static void test_host_any(void **state)
{
	static const struct {
		const char *host;
		int status;
	} rows[] = {
		{ "10.1.2.3:18963", 200 }, { "127.0.0.1:18963", 200 }, { "[fd00::1]:18963", 200 },
		{ "localhost", 200 },	   { "evil.example", 421 },	 { "node1.cluster.local:18963", 421 },
	};
	struct http *h = NULL;

	(void)state;
	assert_int_equal(http_open("0.0.0.0:18963", true, &h), 0);
	assert_int_equal(http_route(h, "/p", "text/plain", slow_render, NULL), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(18963) };
		char req[160];
		int fd = socket(AF_INET, SOCK_STREAM, 0), status;
		ssize_t n;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		snprintf(req, sizeof(req), "GET /p HTTP/1.1\r\nHost: %s\r\n\r\n", rows[i].host);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_true(send(fd, req, strlen(req), 0) > 0);
		status = reply_status(h, fd, &n);
		if (status != rows[i].status)
			fail_msg("0.0.0.0, Host %s: %d, want %d", rows[i].host, status, rows[i].status);
	}
	http_free(h);
}

/*
 * The agent busy for 5.5 s (a compile at 100k pods takes 7) while a request
 * waits in its socket: read first, then judged; answered, not closed for its
 * connection's age.
 */
static void test_busy(void **state)
{
	static const char req[] = "GET /p HTTP/1.1\r\nHost: 127.0.0.1:18962\r\n\r\n";
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct pollfd p = { .fd = http_fd(*state), .events = POLLIN };
	uint64_t t0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* The agent accepts it, then the request comes, then the agent is busy. */
	t0 = now_ns();
	while (now_ns() - t0 < 200000000ULL)
		if (poll(&p, 1, 20) > 0)
			http_dispatch(*state);
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	usleep(5500000);
	status = reply_status(*state, fd, &n);
	if (status != 200)
		fail_msg("a request that waited 5.5 s for a busy agent: %d (%zd bytes)", status, n);
}

/*
 * Another local process churning idle connections from many loopback
 * addresses (each a process may bind: per-address limits cannot single it
 * out) while a scraper on 127.0.0.1 asks for the page again and again: every
 * scrape is answered, none slower than a second.
 */
static atomic_int flood_stop, flood_open;
static atomic_ullong flood_made;

static void *flood_run(void *arg)
{
	enum { HOLD = 200 };
	int fds[HOLD], next = 0;

	(void)arg;
	for (int i = 0; i < HOLD; i++)
		fds[i] = -1;
	while (!flood_stop) {
		struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET,
									   .sin_port = htons(PORT) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		/* 127.0.0.2 ... 127.0.0.201, round and round */
		src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (uint32_t)(flood_made % HOLD));
		dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
		    (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) && errno != EINPROGRESS)) {
			if (fd >= 0)
				close(fd);
			usleep(100);
			continue;
		}
		if (fds[next] >= 0)
			close(fds[next]);
		fds[next] = fd;
		next = (next + 1) % HOLD;
		flood_made++;
		flood_open = flood_made < HOLD ? (int)flood_made : HOLD;
		usleep(50);
	}
	for (int i = 0; i < HOLD; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return NULL;
}

static void test_flood(void **state)
{
	struct client scraper = { .req = "GET /p HTTP/1.1\r\nHost: 127.0.0.1:18962\r\n\r\n" };
	pthread_t t;
	uint64_t t0;

	flood_stop = 0;
	flood_made = 0;
	pthread_create(&t, NULL, flood_run, NULL);
	t0 = now_ns();
	/* The flood holds its connections before the scraper starts. */
	while (flood_open < 100 && now_ns() - t0 < 2000000000ULL) {
		struct pollfd p = { .fd = http_fd(*state), .events = POLLIN };

		if (poll(&p, 1, 10) > 0)
			http_dispatch(*state);
	}
	scraper.until_ns = now_ns() + 3000000000ULL;
	serve(*state, &scraper, 1);
	flood_stop = 1;
	pthread_join(t, NULL);
	print_message("flood: %llu connections opened, scraper: %d requests, the slowest %.0f ms, last status %d\n",
		      (unsigned long long)flood_made, scraper.count, (double)scraper.max_ns / 1e6,
		      scraper.status);
	if (scraper.status != 200)
		fail_msg("scrape %d under the flood: status %d (connection closed under it)",
			 scraper.count, scraper.status);
	if (scraper.max_ns > 1000000000ULL)
		fail_msg("a scrape took %.0f ms under the flood", (double)scraper.max_ns / 1e6);
	assert_true(scraper.count >= 10);
	assert_true(flood_made > 1000);
}

/* ---- the per-source limit ------------------------------------------------ */

static void addr4(uint8_t a[16], uint32_t ip)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	ip = htonl(ip);
	memcpy(a + 12, &ip, 4);
}

static int allowed(struct srclim *l, const uint8_t a[16], uint64_t now, int n)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		ok += srclim_allow(l, a, now);
	return ok;
}

/* 32 at once, then 16 a second; another source is not charged for it. */
static void test_srclim_rate(void **state)
{
	static struct srclim l;
	uint8_t a[16], b[16];
	uint64_t t = 1000000000ULL;

	(void)state;
	srclim_init(&l, 0, 0);
	addr4(a, 0x0a000001);
	addr4(b, 0x0a000002);
	assert_int_equal(allowed(&l, a, t, 40), SRCLIM_BURST);
	assert_int_equal(l.refused, 40 - SRCLIM_BURST);
	assert_int_equal(allowed(&l, b, t, 1), 1);
	/* One interval (1/16 s) later, one more; a second later, 16 more. */
	assert_int_equal(allowed(&l, a, t + 1000000000ULL / SRCLIM_PER_S, 5), 1);
	assert_int_equal(allowed(&l, a, t + 1000000000ULL + 1000000000ULL / SRCLIM_PER_S, 40),
			 SRCLIM_PER_S);
	/* Idle long enough, the whole burst again. */
	assert_int_equal(allowed(&l, a, t + 10000000000ULL, 40), SRCLIM_BURST);
	/* A rate of one's own. */
	srclim_init(&l, 2, 3);
	assert_int_equal(allowed(&l, a, t, 10), 3);
	assert_int_equal(allowed(&l, a, t + 500000000ULL, 10), 1);
}

/*
 * The table is bounded and no new source takes the place of one still paying
 * off its connections: 100000 new sources at once (more than the table
 * holds) do not give a source that used its burst a fresh one; they overflow
 * into the shared bucket. Once their time has passed, their places are free.
 */
static void test_srclim_bounded(void **state)
{
	static struct srclim l;
	uint8_t a[16], x[16];
	uint64_t t = 1000000000ULL, over;

	(void)state;
	srclim_init(&l, 0, 0);
	addr4(a, 0x0a000001);
	assert_int_equal(allowed(&l, a, t, SRCLIM_BURST), SRCLIM_BURST);
	for (uint32_t i = 0; i < 100000; i++) {
		addr4(x, 0x0b000000 + i);
		srclim_allow(&l, x, t + 1);
	}
	over = l.overflowed;
	print_message("srclim: %llu of 100000 new sources overflowed (%d places), %llu refused\n",
		      (unsigned long long)over, SRCLIM_SETS * SRCLIM_WAYS,
		      (unsigned long long)l.refused);
	assert_true(over >= 100000 - SRCLIM_SETS * SRCLIM_WAYS);
	assert_int_equal(allowed(&l, a, t + 2, 1), 0); /* its account kept */
	/* A second later every one of them has caught up: places are free again. */
	addr4(x, 0x0c000001);
	assert_int_equal(allowed(&l, x, t + 1000000000ULL, 1), 1);
	assert_int_equal(l.overflowed, over);
}

/*
 * On the server: a source that is not loopback (10.77.0.1 on lo) opening 40
 * connections at once has its first SRCLIM_BURST accepted (the newest 8 held,
 * waiting for their requests) and the rest closed at accept, counted; a scraper on
 * 127.0.0.1 meanwhile is answered.
 */
static void test_srclim_server(void **state)
{
	struct client scraper = { .req = "GET /p HTTP/1.1\r\nHost: 127.0.0.1:18962\r\n\r\n" };
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET,
								   .sin_port = htons(PORT) };
	struct ifreq ifr = { .ifr_name = "lo:9" };
	unsigned long long r0 = http_refused(*state);
	int fds[40], closed = 0, s = socket(AF_INET, SOCK_DGRAM, 0);
	uint64_t t0;

	src.sin_addr.s_addr = htonl(0x0a4d0001);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(&ifr.ifr_addr, &src, sizeof(src));
	assert_int_equal(ioctl(s, SIOCSIFADDR, &ifr), 0);
	close(s);
	for (int i = 0; i < 40; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(bind(fds[i], (struct sockaddr *)&src, sizeof(src)), 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&dst, sizeof(dst)), 0);
	}
	/* The loop serves meanwhile: nothing of this reaches it. */
	t0 = now_ns();
	while (now_ns() - t0 < 300000000ULL) {
		struct pollfd p = { .fd = http_fd(*state), .events = POLLIN };

		if (poll(&p, 1, 10) > 0)
			http_dispatch(*state);
	}
	for (int i = 0; i < 40; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };

		closed += poll(&p, 1, 0) == 1;
		close(fds[i]);
	}
	print_message("srclim: 40 connections from 10.77.0.1, %d closed at accept, %llu counted\n",
		      closed, http_refused(*state) - r0);
	/* 8 past the burst (less what the rate gave back while they were accepted)
	 * refused; of those accepted, all but the newest HTTP_MAX_PER_IP (8) go too. */
	assert_true(http_refused(*state) - r0 >= 40 - SRCLIM_BURST - 2 &&
		    http_refused(*state) - r0 <= 40 - SRCLIM_BURST);
	assert_true(closed >= 40 - 8 - 2);
	serve(*state, &scraper, 1);
	assert_int_equal(scraper.status, 200);
}

/* Unix socket answers in a thread, while the test's thread is the agent's loop. */
struct unix_client {
	struct sockaddr_un sa;
	const char *req;
	int status;
	char body[64];
	atomic_int done;
};

static void *unix_client_run(void *arg)
{
	struct unix_client *u = arg;

	u->status = request_to((struct sockaddr *)&u->sa, sizeof(u->sa), u->req, u->body,
			       sizeof(u->body));
	u->done = 1;
	return NULL;
}

/*
 * http_open_unix: the socket made 0600 in a directory made 0700, a stale file
 * at the path replaced, a local client answered (Host localhost, or none
 * over HTTP/1.0), and a path too long refused.
 */
static void test_unix(void **state)
{
	char dir[] = "/tmp/xcni-test-http-XXXXXX", path[64], longp[200];
	struct unix_client u = { .sa = { .sun_family = AF_UNIX } };
	const char *reqs[] = { "GET /p?x=u HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
			       "GET /p?x=v HTTP/1.0\r\n\r\n" };
	struct http *h = NULL;
	struct stat st;
	pthread_t t;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/run/s.sock", dir);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(http_open_unix(longp, &h), -ENAMETOOLONG);
	/* A stale file where the socket goes: replaced. */
	snprintf(u.sa.sun_path, sizeof(u.sa.sun_path), "%s/run", dir);
	assert_int_equal(mkdir(u.sa.sun_path, 0755), 0);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(http_open_unix(path, &h), 0);
	assert_int_equal(http_route(h, "/p", "text/plain", slow_render, NULL), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(u.sa.sun_path, sizeof(u.sa.sun_path), "%s", path);
	for (size_t i = 0; i < 2; i++) {
		u.req = reqs[i];
		u.done = 0;
		pthread_create(&t, NULL, unix_client_run, &u);
		while (!u.done) {
			struct pollfd p = { .fd = http_fd(h), .events = POLLIN };

			if (poll(&p, 1, 100) > 0)
				http_dispatch(h);
		}
		pthread_join(t, NULL);
		assert_int_equal(u.status, 200);
		assert_non_null(strstr(u.body, i ? " v\n" : " u\n"));
	}
	http_free(h);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/run", dir);
	assert_int_equal(stat(path, &st), 0);
	rmdir(path);
	rmdir(dir);
}

/*
 * xcni_epoll_add (user/lib/system/clock.c), which this server's loop and the
 * agent's register their fds with, asks for reads: a pipe's read end is ready
 * once written, not before, and its write end never. Registered for writes,
 * the write end is ready at once and the read end never: a loop whose fds are
 * always writable (timerfds, eventfds) would spin instead of sleeping.
 */
static void test_epoll_reads(void **state)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), p[2];
	struct epoll_event ev[2];

	(void)state;
	assert_true(ep >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(xcni_epoll_add(ep, p[0], 7), 0);
	assert_int_equal(xcni_epoll_add(ep, p[1], 8), 0);
	assert_int_equal(epoll_wait(ep, ev, 2, 0), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(epoll_wait(ep, ev, 2, 0), 1);
	assert_true(ev[0].data.u64 == 7 && (ev[0].events & EPOLLIN));
	close(p[0]);
	close(p[1]);
	close(ep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epoll_reads),
		cmocka_unit_test(test_check_addr),
		cmocka_unit_test(test_arg),
		cmocka_unit_test(test_srclim_rate),
		cmocka_unit_test(test_srclim_bounded),
		cmocka_unit_test(test_unix),
	};
	const struct CMUnitTest server[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_shared),
		cmocka_unit_test(test_duty),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_host_any),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_srclim_server),
	};
	int fails = cmocka_run_group_tests(tests, NULL, NULL);

	return fails + cmocka_run_group_tests_name("server", server, setup_server, teardown_server);
}
