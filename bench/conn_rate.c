// SPDX-License-Identifier: Apache-2.0
/*
 * conn_rate: new TCP connections per second, for bench/policy.sh.
 *
 *   conn_rate server -b ADDR -p PORT [-s BYTES]     (ADDR: numeric IPv4 or IPv6)
 *       Accepts connections one after another. For each: reads BYTES (the
 *       request), writes BYTES back, waits for the peer's FIN, closes.
 *       Runs until killed.
 *
 *   conn_rate client -c ADDR -p PORT [-d SECONDS] [-w WARMUP_S] [-s BYTES]
 *                    [-t TIMEOUT_S]
 *       For WARMUP_S (not counted), then for SECONDS (counted): socket,
 *       connect, write BYTES, read BYTES, close; one connection at a time.
 *       Each connection is timed with CLOCK_MONOTONIC. Prints one line:
 *         conns=N secs=.. rate=.. p50_us=.. p99_us=.. max_us=..
 *       rate is counted connections / counted seconds. Any failed connect,
 *       short read or timeout (TIMEOUT_S per socket operation, default 5)
 *       ends the run with a non-zero exit, so a dropped SYN cannot hide as
 *       a slow connection.
 *
 * The client closes first, so TIME_WAIT sockets pile up on its side: the
 * caller widens net.ipv4.ip_local_port_range and sets tcp_tw_reuse in the
 * client's netns, or a long run fails with EADDRNOTAVAIL.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH "conn_rate"
#include "addr.h"

#define MAX_BYTES 4096
#define MAX_SAMPLES (64L * 1024 * 1024)

static void usage(void)
{
	fprintf(stderr,
		"usage: conn_rate server -b ADDR -p PORT [-s BYTES]\n"
		"       conn_rate client -c ADDR -p PORT [-d SECONDS] [-w WARMUP_S] [-s BYTES] "
		"[-t TIMEOUT_S]\n");
	exit(2);
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static int set_timeouts(int fd, int sec)
{
	struct timeval tv = { .tv_sec = sec };
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

/* All of len bytes, sending or receiving: 0, 1 on EOF, or -errno. */
static int xfer(int fd, char *buf, size_t len, int sending)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = sending ? send(fd, buf + off, len - off, MSG_NOSIGNAL)
			    : recv(fd, buf + off, len - off, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 1;
		off += (size_t)n;
	}
	return 0;
}

static int run_server(const struct sockaddr_storage *sa, socklen_t salen, size_t bytes)
{
	int one = 1, lfd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[MAX_BYTES];

	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		perror("conn_rate: socket");
		return 1;
	}
	if (bind(lfd, (const struct sockaddr *)sa, salen) < 0 || listen(lfd, 1024) < 0) {
		perror("conn_rate: bind/listen");
		return 1;
	}
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), r;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("conn_rate: accept");
			return 1;
		}
		/* A vanished client must not wedge the server. */
		r = set_timeouts(fd, 10);
		if (!r)
			r = xfer(fd, buf, bytes, 0);
		if (!r)
			r = xfer(fd, buf, bytes, 1);
		if (!r) /* the client closes first; its FIN is the EOF */
			r = xfer(fd, buf, 1, 0) == 1 ? 0 : -EPROTO;
		if (r < 0 && r != -ECONNRESET)
			fprintf(stderr, "conn_rate: serving a connection: %s\n", strerror(-r));
		close(fd);
	}
}

/* One connection: connect, request, response, close. 0 or -errno (what failed in *what). */
static int one_conn(const struct sockaddr_storage *sa, socklen_t salen, char *buf, size_t bytes, int timeout,
		    const char **what)
{
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	*what = "socket";
	if (fd < 0)
		return -errno;
	r = set_timeouts(fd, timeout);
	*what = "connect";
	if (!r && connect(fd, (const struct sockaddr *)sa, salen) < 0)
		r = -errno;
	if (!r) {
		*what = "request";
		r = xfer(fd, buf, bytes, 1);
	}
	if (!r) {
		*what = "response";
		r = xfer(fd, buf, bytes, 0);
		if (r == 1)
			r = -ECONNRESET;
	}
	close(fd);
	return r;
}

static int run_client(const struct sockaddr_storage *sa, socklen_t salen, long secs, long warmup, size_t bytes,
		      int timeout)
{
	unsigned long long *ns = NULL, t_start, t_end, t_warm;
	long n = 0, cap = 0;
	char buf[MAX_BYTES];
	const char *what;
	int r;

	memset(buf, 'x', sizeof(buf));
	alarm((unsigned)(warmup + secs + 2L * timeout + 5)); /* default action: terminate */
	t_warm = now_ns();
	t_start = t_warm + (unsigned long long)warmup * 1000000000ULL;
	t_end = t_start + (unsigned long long)secs * 1000000000ULL;
	for (long i = 0;; i++) {
		unsigned long long t0 = now_ns(), t1;

		if (t0 >= t_end)
			break;
		r = one_conn(sa, salen, buf, bytes, timeout, &what);
		t1 = now_ns();
		if (r) {
			fprintf(stderr, "conn_rate: connection %ld: %s: %s\n", i, what, strerror(-r));
			return 1;
		}
		if (t0 < t_start)
			continue;
		if (n == cap) {
			unsigned long long *v;

			if (cap >= MAX_SAMPLES) {
				fprintf(stderr, "conn_rate: more than %ld connections\n", MAX_SAMPLES);
				return 1;
			}
			v = realloc(ns, (size_t)(cap = cap ? 2 * cap : 65536) * sizeof(*v));
			if (!v) {
				perror("conn_rate: realloc");
				return 1;
			}
			ns = v;
		}
		ns[n++] = t1 - t0;
	}
	if (!n) {
		fprintf(stderr, "conn_rate: no connection completed in the measured time\n");
		return 1;
	}
	/* The last connection may end past t_end: divide by the time really taken. */
	{
		double took = (double)(now_ns() - t_start) / 1e9;

		qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
		printf("conns=%ld secs=%.3f rate=%.1f p50_us=%.2f p99_us=%.2f max_us=%.2f\n", n,
		       took, (double)n / took, pct(ns, n, 50) / 1e3, pct(ns, n, 99) / 1e3,
		       ns[n - 1] / 1e3);
	}
	free(ns);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	const char *addr = NULL;
	long port = 0, secs = 5, warmup = 1, bytes = 16, timeout = 5;
	int server, opt;

	server = bench_role(argc, argv);
	while ((opt = getopt(argc, argv, "b:c:p:d:w:s:t:")) != -1) {
		switch (opt) {
		case 'b':
		case 'c':
			addr = optarg;
			break;
		case 'p':
			port = parse_long(optarg, 1, 65535, "port");
			break;
		case 'd':
			secs = parse_long(optarg, 1, 3600, "duration");
			break;
		case 'w':
			warmup = parse_long(optarg, 0, 600, "warm-up");
			break;
		case 's':
			bytes = parse_long(optarg, 1, MAX_BYTES, "bytes");
			break;
		case 't':
			timeout = parse_long(optarg, 1, 600, "timeout");
			break;
		default:
			usage();
		}
	}
	salen = bench_addr(argc, addr, port, &sa);
	signal(SIGPIPE, SIG_IGN);
	return server ? run_server(&sa, salen, (size_t)bytes) : run_client(&sa, salen, secs, warmup,
								     (size_t)bytes, (int)timeout);
}
