/* Shared by the benchmark clients (conn_rate.c, pingpong.c). */
#ifndef XCNI_BENCH_ADDR_H
#define XCNI_BENCH_ADDR_H

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

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

#endif
