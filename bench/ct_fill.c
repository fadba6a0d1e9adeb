// SPDX-License-Identifier: Apache-2.0
/*
 * Fills an agent's pinned conntrack map (xcni_ct) with entries as the
 * programs write them, for bench/flowwalk.sh: what xcnid --flows' walk costs
 * with a big map and a full window, without making the connections.
 *
 *   ct_fill PIN_DIR fill LIVE DEAD   LIVE TCP entries closed now (they expire
 *                                    in XCNI_CT_TCP_CLOSE_NS), DEAD closed
 *                                    long ago (past their lifetime already)
 *   ct_fill PIN_DIR touch N SECS     every 100 ms, N established entries get
 *                                    a packet each way (last_ns, counters)
 *                                    and xcni_metrics counts them, as a
 *                                    trickle of traffic would
 *
 * Tuples: 10.244.1.2 -> 10.244.1.3, ports from 1024 on, the destination port
 * in 7000.. (live), 8000.. (dead), 9000.. (touched).
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xcni_shared.h"

#define FILL_BATCH 1024

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static struct xcni_ct_key key_of(unsigned int i, unsigned int port0)
{
	struct xcni_ct_key k = { .proto = IPPROTO_TCP };

	k.saddr = inet_addr("10.244.1.2");
	k.daddr = inet_addr("10.244.1.3");
	k.sport = htons((__u16)(1024 + i % 60000));
	k.dport = htons((__u16)(port0 + i / 60000));
	return k;
}

/* The packets that would have written them, as the programs' exits count them. */
static int count_packets(const char *pin_dir, __u64 n)
{
	__u32 idx = XCNI_METRIC_IDX(XCNI_FWD_LOCAL, XCNI_DIR_FROM_POD);
	int ncpu = libbpf_num_possible_cpus(), fd, err = 1;
	struct xcni_metric *m;
	char path[512];

	snprintf(path, sizeof(path), "%s/xcni_metrics", pin_dir);
	fd = bpf_obj_get(path);
	m = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*m)) : NULL;
	if (fd >= 0 && m && !bpf_map_lookup_elem(fd, &idx, m)) {
		m[0].packets += n;
		err = bpf_map_update_elem(fd, &idx, m, BPF_ANY) ? 1 : 0;
	}
	if (err)
		fprintf(stderr, "ct_fill: %s: %s\n", path, strerror(errno));
	free(m);
	if (fd >= 0)
		close(fd);
	return err;
}

/* n entries whose last packet was last_age ns ago, created created_age ago, in batches. */
static int put(const char *pin_dir, int fd, unsigned int n, unsigned int port0, __u8 state,
	       __u64 created_age, __u64 last_age)
{
	static struct xcni_ct_key keys[FILL_BATCH];
	static struct xcni_ct_entry vals[FILL_BATCH];

	for (unsigned int i = 0; i < n;) {
		__u32 c = n - i < FILL_BATCH ? n - i : FILL_BATCH;
		/* As a program does: stamped when written. */
		__u64 last = mono_ns() - last_age;

		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		for (__u32 j = 0; j < c; j++) {
			struct xcni_ct_entry *e = &vals[j];

			keys[j] = key_of(i + j, port0);
			memset(e, 0, sizeof(*e));
			e->state = state;
			e->pkts_orig = 6;
			e->bytes_orig = 400;
			e->pkts_reply = 4;
			e->bytes_reply = 300;
			e->ep_id = 1;
			e->fin_orig = e->fin_reply = state == XCNI_CT_CLOSED;
			e->last_ns = last;
			e->created_ns = last + last_age - created_age;
		}
		if (bpf_map_update_batch(fd, keys, vals, &c, &bo)) {
			fprintf(stderr, "ct_fill: update batch at %u: %s\n", i, strerror(errno));
			return 1;
		}
		i += c;
		/* Counted as they go, as the programs count each packet: the
		 * agent looks at what was written while it is written. */
		if (count_packets(pin_dir, 10ULL * c))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char path[512];
	int fd;

	if (argc != 5) {
		fprintf(stderr, "usage: ct_fill PIN_DIR fill LIVE DEAD | touch N SECS\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/xcni_ct", argv[1]);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "ct_fill: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!strcmp(argv[2], "fill")) {
		/* Ages when written: created 1 ms before the last packet. */
		__u64 dead = 2 * XCNI_CT_TCP_CLOSE_NS;

		return put(argv[1], fd, (unsigned int)atoi(argv[3]), 7000, XCNI_CT_CLOSED, 1000000,
			   0) ||
		       put(argv[1], fd, (unsigned int)atoi(argv[4]), 8000, XCNI_CT_CLOSED,
			   dead + 1000000, dead);
	}
	if (strcmp(argv[2], "touch"))
		return 2;
	{
		unsigned int n = (unsigned int)atoi(argv[3]), ticks = (unsigned int)atoi(argv[4]) * 10;
		__u64 created = mono_ns();

		for (unsigned int t = 1; t <= ticks; t++) {
			struct xcni_ct_entry e = { .state = XCNI_CT_ESTABLISHED, .ep_id = 1,
						   .created_ns = created, .last_ns = mono_ns(),
						   .pkts_orig = t, .bytes_orig = 100ULL * t,
						   .pkts_reply = t, .bytes_reply = 100ULL * t };

			for (unsigned int i = 0; i < n; i++) {
				struct xcni_ct_key k = key_of(i, 9000);

				bpf_map_update_elem(fd, &k, &e, BPF_ANY);
			}
			if (count_packets(argv[1], 2ULL * n))
				return 1;
			usleep(100000);
		}
	}
	return 0;
}
