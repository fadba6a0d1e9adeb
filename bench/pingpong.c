// SPDX-License-Identifier: Apache-2.0
/*
 * pingpong: 1-byte TCP request/response latency, for bench/pod-throughput.sh.
 *
 *   pingpong server -b ADDR -p PORT      (ADDR: numeric IPv4 or IPv6)
 *       Accepts connections one after another and echoes every byte back
 *       until the peer closes. Runs until killed.
 *
 *   pingpong client -c ADDR -p PORT [-n N] [-w WARMUP] [-t TIMEOUT_S]
 *       One connection (TCP_NODELAY on both ends), WARMUP uncounted round
 *       trips, then N counted ones: write 1 byte, read 1 byte. Each round
 *       trip is timed with CLOCK_MONOTONIC. Prints one line:
 *         n=N p50_us=.. p99_us=.. mean_us=.. min_us=.. max_us=..
 *       Percentiles are nearest-rank over the N round-trip times (full RTT,
 *       not RTT/2). Exits non-zero on any error or after TIMEOUT_S seconds
 *       in total (default 60).
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

#define BENCH "pingpong"
#include "addr.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: pingpong server -b ADDR -p PORT\n"
		"       pingpong client -c ADDR -p PORT [-n N] [-w WARMUP] [-t TIMEOUT_S]\n");
	exit(2);
}

static void set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		perror("pingpong: TCP_NODELAY");
		exit(1);
	}
}

static void set_rcvtimeo(int fd, int sec)
{
	struct timeval tv = { .tv_sec = sec };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		perror("pingpong: SO_RCVTIMEO");
		exit(1);
	}
}

/* One byte each way; returns 0 on success, 1 on EOF, -1 on error. */
static int xfer(int fd, char *c, int send_first)
{
	ssize_t n;

	for (int step = 0; step < 2; step++) {
		int sending = (step == 0) == send_first;

		do {
			n = sending ? send(fd, c, 1, MSG_NOSIGNAL) : recv(fd, c, 1, 0);
		} while (n < 0 && errno == EINTR);
		if (n == 0)
			return 1;
		if (n < 0)
			return -1;
	}
	return 0;
}

static int run_server(const struct sockaddr_storage *sa, socklen_t salen)
{
	int one = 1;
	int lfd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		perror("pingpong: socket");
		return 1;
	}
	if (bind(lfd, (const struct sockaddr *)sa, salen) < 0 || listen(lfd, 8) < 0) {
		perror("pingpong: bind/listen");
		return 1;
	}
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		char c;
		int r;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("pingpong: accept");
			return 1;
		}
		set_nodelay(fd);
		set_rcvtimeo(fd, 30); /* a vanished client can't wedge the server */
		while ((r = xfer(fd, &c, 0)) == 0)
			;
		if (r < 0 && errno != ECONNRESET)
			perror("pingpong: echo");
		close(fd);
	}
}

static int run_client(const struct sockaddr_storage *sa, socklen_t salen, long n, long warmup,
		      int timeout)
{
	unsigned long long *ns = calloc((size_t)n, sizeof(*ns));
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	double sum = 0;
	char c = 'x';

	if (!ns || fd < 0) {
		perror("pingpong: setup");
		return 1;
	}
	alarm((unsigned)timeout); /* default action: terminate */
	set_rcvtimeo(fd, timeout);
	set_nodelay(fd);
	if (connect(fd, (const struct sockaddr *)sa, salen) < 0) {
		perror("pingpong: connect");
		return 1;
	}
	for (long i = 0; i < warmup + n; i++) {
		struct timespec t0, t1;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = xfer(fd, &c, 1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (r != 0) {
			fprintf(stderr, "pingpong: round trip %ld: %s\n", i,
				r > 0 ? "server closed the connection" : strerror(errno));
			return 1;
		}
		if (i >= warmup) {
			unsigned long long d = (unsigned long long)(t1.tv_sec - t0.tv_sec) * 1000000000ULL +
					       (unsigned long long)t1.tv_nsec -
					       (unsigned long long)t0.tv_nsec;
			ns[i - warmup] = d;
			sum += (double)d;
		}
	}
	close(fd);
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	printf("n=%ld p50_us=%.2f p99_us=%.2f mean_us=%.2f min_us=%.2f max_us=%.2f\n", n,
	       pct(ns, n, 50) / 1e3, pct(ns, n, 99) / 1e3, sum / (double)n / 1e3, ns[0] / 1e3,
	       ns[n - 1] / 1e3);
	free(ns);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	const char *addr = NULL;
	long port = 0, n = 20000, warmup = 1000, timeout = 60;
	int server, opt;

	server = bench_role(argc, argv);
	while ((opt = getopt(argc, argv, "b:c:p:n:w:t:")) != -1) {
		switch (opt) {
		case 'b':
		case 'c':
			addr = optarg;
			break;
		case 'p':
			port = parse_long(optarg, 1, 65535, "port");
			break;
		case 'n':
			n = parse_long(optarg, 1, 10000000, "N");
			break;
		case 'w':
			warmup = parse_long(optarg, 0, 10000000, "warm-up");
			break;
		case 't':
			timeout = parse_long(optarg, 1, 3600, "timeout");
			break;
		default:
			usage();
		}
	}
	salen = bench_addr(argc, addr, port, &sa);
	signal(SIGPIPE, SIG_IGN);
	return server ? run_server(&sa, salen) : run_client(&sa, salen, n, warmup, (int)timeout);
}
