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

/* n entries whose last packet was last_age ns ago, created created_age ago. */
static int put(int fd, unsigned int n, unsigned int port0, __u8 state, __u64 created_age,
	       __u64 last_age)
{
	struct xcni_ct_entry e = { .state = state, .pkts_orig = 6, .bytes_orig = 400,
				   .pkts_reply = 4, .bytes_reply = 300, .ep_id = 1 };

	if (state == XCNI_CT_CLOSED)
		e.fin_orig = e.fin_reply = 1;
	for (unsigned int i = 0; i < n; i++) {
		struct xcni_ct_key k = key_of(i, port0);

		/* As a program does: stamped when written (the agent's walk
		 * takes an older stamp for an entry it has already read). */
		e.last_ns = mono_ns() - last_age;
		e.created_ns = e.last_ns + last_age - created_age;
		if (bpf_map_update_elem(fd, &k, &e, BPF_ANY)) {
			fprintf(stderr, "ct_fill: update %u: %s\n", i, strerror(errno));
			return 1;
		}
	}
	return 0;
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

		return put(fd, (unsigned int)atoi(argv[3]), 7000, XCNI_CT_CLOSED, 1000000, 0) ||
		       put(fd, (unsigned int)atoi(argv[4]), 8000, XCNI_CT_CLOSED, dead + 1000000,
			   dead) ||
		       count_packets(argv[1], 10ULL * (__u64)(atoi(argv[3]) + atoi(argv[4])));
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
