// SPDX-License-Identifier: Apache-2.0
/*
 * What a new connection's record costs xcnid's window when it is full
 * (issue 38): libxcni's flows_get_owned + flows_ct_update, as the conntrack walk
 * calls them for an entry it has not seen, N times with N different TCP
 * tuples into a window of W records, so that every call makes a record and
 * evicts the one changed longest ago. Timed by the thread's CPU clock; no
 * map, no system call. Built against the tree's library:
 *
 *   gcc -O2 -std=gnu11 -Iuser -Ibpf -Ibuild/gen -o flows_rec bench/flows_rec.c build/libxcni.a
 *   ./flows_rec [-n RECORDS] [-w WINDOW] [-r REPEATS] [-o OWNERS]
 *
 * -o: the records charged to OWNERS namespaces in turn, as the agent
 * charges them (docs/decisions/flows-window-shares.md); without it no owner
 * (NULL), as before the window had shares.
 */
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "xcni_shared.h"
#include "lib/observe/flows.h"

static uint64_t cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned long n = 2000000, w = 16384, reps = 3, owners = 0;
	char (*ns)[16] = NULL;
	struct flows *f;
	int c;

	while ((c = getopt(argc, argv, "n:w:r:o:")) != -1) {
		char *end;
		unsigned long x = strtoul(optarg, &end, 10);

		if (*end || !x || (c == 'n' && x > 100000000) || (c == 'w' && x > FLOWS_WINDOW_MAX) ||
		    (c == 'r' && x > 100) || (c == 'o' && x > 100000) ||
		    (c != 'n' && c != 'w' && c != 'r' && c != 'o')) {
			fprintf(stderr,
				"flows_rec: -%c '%s': -n 1..1e8, -w 1..%u, -r 1..100, -o 1..100000\n", c,
				optarg ? optarg : "", (unsigned)FLOWS_WINDOW_MAX);
			return 2;
		}
		if (c == 'n')
			n = x;
		else if (c == 'w')
			w = x;
		else if (c == 'o')
			owners = x;
		else
			reps = x;
	}
	if (owners) {
		ns = calloc(owners, sizeof(*ns));
		if (!ns)
			return 1;
		for (unsigned long i = 0; i < owners; i++)
			snprintf(ns[i], sizeof(ns[i]), "ns-%lu", i);
	}
	if (flows_new(w, &f)) {
		fprintf(stderr, "flows_rec: flows_new(%lu) failed\n", w);
		return 1;
	}
	for (unsigned long r = 0; r < reps; r++) {
		uint64_t c0 = cpu_ns();

		for (unsigned long i = 0; i < n; i++) {
			/* 10.244.1.2:port -> 10.244.1.3:7107..7110, as bench/flows.sh's fill;
			 * the repeat in a byte of the address, so every key is new. */
			struct flow_key k = { .family = 4, .proto = IPPROTO_TCP,
					      .saddr = { 10, 244, 1, 2, (uint8_t)(r + 1), (uint8_t)(i >> 24) },
					      .daddr = { 10, 244, 1, 3 },
					      .sport = (uint16_t)(1024 + i % 64000),
					      .dport = (uint16_t)(7107 + (i / 64000) % 4) };
			uint64_t p[2] = { 5, 5 }, b[2] = { 300, 400 };
			bool created;
			struct flow_rec *rec = flows_get_owned(f, &k, ns ? ns[i % owners] : NULL,
							       &created);

			if (!rec) {
				fprintf(stderr, "flows_rec: out of memory\n");
				return 1;
			}
			flows_ct_update(f, rec, i + 1, i + 2, p, b, XCNI_CT_CLOSED, true, true);
		}
		uint64_t c1 = cpu_ns();

		printf("records=%lu window=%lu owners=%lu created=%llu evicted=%llu "
		       "ns_per_record=%.0f\n", n, w, owners,
		       (unsigned long long)flows_stats(f)->created,
		       (unsigned long long)flows_stats(f)->evicted, (double)(c1 - c0) / (double)n);
	}
	flows_free(f);
	free(ns);
	return 0;
}
