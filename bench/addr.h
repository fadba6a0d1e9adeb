/* Shared by the benchmark clients (conn_rate.c, pingpong.c): each defines BENCH (its
 * name, for messages) before including this, and its own usage(), which exits 2. */
#ifndef XCNI_BENCH_ADDR_H
#define XCNI_BENCH_ADDR_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void usage(void);

static inline long parse_long(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, BENCH ": bad %s '%s' (%ld..%ld)\n", what, s, lo, hi);
		exit(2);
	}
	return v;
}

static inline int cmp_u64(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n-1]. */
static inline unsigned long long pct(const unsigned long long *v, long n, double p)
{
	long rank = (long)(p / 100.0 * (double)n + 0.999999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* argv[1]: 1 for server, 0 for client, else usage; getopt goes on from argv[2]. */
static inline int bench_role(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client")))
		usage();
	optind = 2;
	return !strcmp(argv[1], "server");
}

/* A numeric IPv4 or IPv6 address (no name lookups: the benchmarks pass pod
 * addresses) and a port into *ss; returns its length, 0 if addr is neither. */
static inline socklen_t parse_addr(const char *addr, long port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		return sizeof(*s6);
	}
	return 0;
}

/* After getopt: no words left, an address and a port, or usage; the address
 * parsed into *ss (its length), or exit 2 naming it. */
static inline socklen_t bench_addr(int argc, const char *addr, long port, struct sockaddr_storage *ss)
{
	socklen_t len;

	if (optind != argc || !addr || !port)
		usage();
	len = parse_addr(addr, port, ss);
	if (!len) {
		fprintf(stderr, BENCH ": bad address '%s' (an IPv4 or IPv6 address)\n", addr);
		exit(2);
	}
	return len;
}

#endif
