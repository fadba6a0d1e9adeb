// SPDX-License-Identifier: Apache-2.0
/*
 * What the kernel's copy of a conntrack map costs the agent's walk (issue 38):
 * an LRU hash of xcni_ct's key and value sizes and XCNI_MAX_CT entries,
 * filled with N entries, read whole R times by bpf_map_lookup_batch in
 * batches of B (the walk's CT_BATCH: 512), timed by the thread's CPU clock
 * (user + system: what the agent is charged) and the wall clock. No program,
 * no netns: a map of its own, freed on exit. Root (BPF map creation).
 *
 *   gcc -O2 -std=gnu11 -Ibpf -o ct_copy bench/ct_copy.c -lbpf
 *   ./ct_copy [-n ENTRIES] [-b BATCH] [-r REPEATS]
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xcni_shared.h"

static uint64_t clk(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned long n = XCNI_MAX_CT, b = 512, reps = 5;
	struct xcni_ct_entry v = { .state = XCNI_CT_CLOSED };
	struct xcni_ct_key *keys;
	struct xcni_ct_entry *vals;
	int fd, c;

	while ((c = getopt(argc, argv, "n:b:r:")) != -1) {
		char *end;
		unsigned long x = strtoul(optarg, &end, 10);

		if (*end || !x) {
			fprintf(stderr, "ct_copy: -%c wants a positive number, not '%s'\n", c, optarg);
			return 2;
		}
		if (c == 'n' && x <= XCNI_MAX_CT)
			n = x;
		else if (c == 'b' && x <= 65536)
			b = x;
		else if (c == 'r' && x <= 1000)
			reps = x;
		else {
			fprintf(stderr, "ct_copy: -%c %lu out of range (-n <= %u, -b <= 65536, -r <= 1000)\n",
				c, x, XCNI_MAX_CT);
			return 2;
		}
	}
	fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "ct_copy", sizeof(struct xcni_ct_key),
			    sizeof(struct xcni_ct_entry), XCNI_MAX_CT, NULL);
	if (fd < 0) {
		fprintf(stderr, "ct_copy: creating the map: %s\n", strerror(errno));
		return 1;
	}
	keys = calloc(b, sizeof(*keys));
	vals = calloc(b, sizeof(*vals));
	if (!keys || !vals) {
		fprintf(stderr, "ct_copy: out of memory\n");
		return 1;
	}
	for (unsigned long i = 0; i < n; i++) {
		struct xcni_ct_key k = { .saddr = (uint32_t)i, .daddr = ~(uint32_t)i,
					 .sport = (uint16_t)i, .dport = 80, .proto = 6 };

		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			fprintf(stderr, "ct_copy: entry %lu: %s\n", i, strerror(errno));
			return 1;
		}
	}
	for (unsigned long r = 0; r < reps; r++) {
		uint64_t c0 = clk(CLOCK_THREAD_CPUTIME_ID), w0 = clk(CLOCK_MONOTONIC), got = 0;
		struct xcni_ct_key in, out;
		bool first = true;

		for (;;) {
			__u32 cnt = (__u32)b;
			int err;

			LIBBPF_OPTS(bpf_map_batch_opts, o);
			err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &cnt, &o);
			if (err && errno != ENOENT) {
				fprintf(stderr, "ct_copy: lookup_batch: %s\n", strerror(errno));
				return 1;
			}
			first = false;
			got += cnt;
			in = out;
			if (err)
				break;
		}
		uint64_t c1 = clk(CLOCK_THREAD_CPUTIME_ID), w1 = clk(CLOCK_MONOTONIC);

		printf("entries=%llu batch=%lu cpu_ms=%.1f ns_per_entry=%.0f wall_ms=%.1f\n",
		       (unsigned long long)got, b, (double)(c1 - c0) / 1e6,
		       got ? (double)(c1 - c0) / (double)got : 0.0, (double)(w1 - w0) / 1e6);
	}
	close(fd);
	return 0;
}
