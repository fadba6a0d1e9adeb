// SPDX-License-Identifier: Apache-2.0
/*
 * bench/ipfix.sh's driver: xcnid's IPFIX exporter (user/agent/ipfix.c, the
 * same object xcnid links) fed RATE ended connections a second for SECONDS
 * seconds, each second's at once as xcnid's tick hands them over (ipfix_add
 * each, then ipfix_flush). The records are IPv4 UDP flows with known counts
 * (a tenth of them denied); it prints what it handed over and the CPU it used:
 *   records=N packets=N bytes=N rpackets=N rbytes=N denied=N messages=N
 *   errors=N cpu_s=F wall_s=F
 * Usage: ipfix_rate URL RATE SECONDS
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "agent/ipfix.h"

static double now_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct flow_render_ctx rc = { .node = "bench" };
	unsigned long long pk = 0, by = 0, rpk = 0, rby = 0, denied = 0, n = 0;
	struct timespec next;
	struct ipfix *x;
	struct rusage ru;
	long rate, secs;
	double t0;

	if (argc != 4 || (rate = atol(argv[2])) < 1 || (secs = atol(argv[3])) < 1) {
		fprintf(stderr, "usage: ipfix_rate URL RATE SECONDS\n");
		return 2;
	}
	if (ipfix_open(argv[1], &x))
		return 1;
	rc.wall_off_ns = (int64_t)(now_s(CLOCK_REALTIME) * 1e9) - (int64_t)(now_s(CLOCK_MONOTONIC) * 1e9);
	t0 = now_s(CLOCK_MONOTONIC);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long s = 0; s < secs; s++) {
		for (long i = 0; i < rate; i++, n++) {
			struct flow_rec r;
			uint32_t a = htonl(0x0a000000u | (uint32_t)(n / 60000) << 8 | 2);

			memset(&r, 0, sizeof(r));
			r.key.family = 4;
			r.key.proto = IPPROTO_UDP;
			r.key.sport = (uint16_t)(1024 + n % 60000);
			r.key.dport = 53;
			memcpy(r.key.saddr, &a, 4);
			a = htonl(0x0a600001u);
			memcpy(r.key.daddr, &a, 4);
			r.pkts[0] = 1 + n % 4;
			r.bytes[0] = r.pkts[0] * (60 + n % 100);
			r.first_ns = (uint64_t)(now_s(CLOCK_MONOTONIC) * 1e9) - 2000000;
			r.last_ns = r.first_ns + 1000000;
			r.src.ns = "bench";
			r.src.pod = "client";
			r.pol_dir = 0xff;
			r.rule = 0;
			if (n % 10 == 9) {
				r.verdict = FLOW_DENIED;
				r.reason = -120;
				r.drops = r.pkts[0];
				r.policy = "bench/deny";
				r.pol_dir = 1;
				denied++;
			} else {
				r.pkts[1] = r.pkts[0];
				r.bytes[1] = r.bytes[0];
			}
			if (!ipfix_add(x, &r, &rc, IPFIX_END_IDLE)) {
				fprintf(stderr, "ipfix_rate: a record refused\n");
				return 1;
			}
			pk += r.pkts[0];
			by += r.bytes[0];
			rpk += r.pkts[1];
			rby += r.bytes[1];
		}
		ipfix_flush(x);
		next.tv_sec++;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("records=%llu packets=%llu bytes=%llu rpackets=%llu rbytes=%llu denied=%llu "
	       "messages=%llu errors=%llu cpu_s=%.3f wall_s=%.3f\n",
	       n, pk, by, rpk, rby, denied, (unsigned long long)ipfix_stats(x)->messages,
	       (unsigned long long)ipfix_stats(x)->send_errors,
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
	       now_s(CLOCK_MONOTONIC) - t0);
	ipfix_free(x);
	return 0;
}
