// SPDX-License-Identifier: Apache-2.0
/*
 * What xcnid's count of the NodePort SNAT tuples each client holds costs
 * (user/agent/snat_held.c, every XCNI_SNAT_HELD_S on its own thread): maps
 * made as the programs have them (xcni_snat 131,072 full, xcni_snat_cl,
 * xcni_ct, xcni_ct6), CLIENTS clients, the walk timed ROUNDS times.
 *
 *   snat_held [CLIENTS [RECORDS]]    defaults 1024, 131072; as root
 *
 * Half the records are IPv4, half IPv6; one in four past its established
 * life with a live conntrack entry (the walk's extra lookup). Built by
 * bench/snat-held.sh.
 */
#include <bpf/bpf.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xcni_shared.h"
#include "agent/snat_held.h"
#include "lib/system/clock.h"

#define ROUNDS 5

int main(int argc, char **argv)
{
	unsigned int clients = argc > 1 ? (unsigned int)atoi(argv[1]) : 1024;
	unsigned int records = argc > 2 ? (unsigned int)atoi(argv[2]) : 131072;
	int snat = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "xcni_snat", sizeof(union xcni_tuple),
				  sizeof(struct xcni_snat), records, NULL);
	int cl = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "xcni_snat_cl",
				sizeof(struct xcni_snat_cl_key), sizeof(struct xcni_snat_cl), 65536,
				NULL);
	int ct = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "xcni_ct", sizeof(struct xcni_ct_key),
				sizeof(struct xcni_ct_entry), records, NULL);
	int ct6 = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "xcni_ct6", sizeof(struct xcni_ct6_key),
				 sizeof(struct xcni_ct_entry), records, NULL);
	uint64_t now = xcni_mono_ns(), best = UINT64_MAX, sum = 0, cpu;
	struct timespec c0, c1;
	struct snat_held *h;

	if (snat < 0 || cl < 0 || ct < 0 || ct6 < 0 || !clients) {
		fprintf(stderr, "snat_held: making the maps: %s (root?)\n", strerror(errno));
		return 1;
	}
	for (unsigned int c = 0; c < clients; c++) {
		struct xcni_snat_cl_key k = { .a = { htobe32(0xc6336400 + c), 0 },
					      .family = c & 1 ? XCNI_AF_INET6 : XCNI_AF_INET };
		struct xcni_snat_cl v = { .tokens = 256 };

		if (c & 1)
			k.a[1] = htobe32(c);
		bpf_map_update_elem(cl, &k, &v, BPF_ANY);
	}
	for (unsigned int i = 0; i < records; i++) {
		unsigned int c = i % clients;
		union xcni_tuple k = {};
		struct xcni_snat sn = { .cport = (__u16)i, .last_ns = now };
		struct xcni_ct_entry e = { .state = XCNI_CT_ESTABLISHED, .last_ns = now };

		*(__u32 *)sn.client = htobe32(0xc6336400 + c);
		if (i % 4 == 3)
			sn.last_ns = now - 2 * XCNI_CT_TCP_EST_NS;
		if (c & 1) {
			((__u32 *)sn.client)[1] = htobe32(c);
			k.v6.saddr[15] = 1;
			k.v6.sport = (__u16)i;
			k.v6.dport = (__u16)(i >> 16);
			k.v6.proto = IPPROTO_TCP;
			bpf_map_update_elem(ct6, &k, &e, BPF_ANY);
		} else {
			k.v4.saddr = 1;
			k.v4.sport = (__u16)i;
			k.v4.dport = (__u16)(i >> 16);
			k.v4.proto = IPPROTO_TCP;
			bpf_map_update_elem(ct, &k, &e, BPF_ANY);
		}
		bpf_map_update_elem(snat, &k, &sn, BPF_ANY);
	}
	if (snat_held_open(snat, cl, ct, ct6, &h))
		return 1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = xcni_mono_ns();
		long n = snat_held_count(h);
		uint64_t dt = xcni_mono_ns() - t0;

		if (n < 0) {
			fprintf(stderr, "snat_held: %s\n", strerror((int)-n));
			return 1;
		}
		best = dt < best ? dt : best;
		sum += dt;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	cpu = (uint64_t)(c1.tv_sec - c0.tv_sec) * 1000000000ull + (uint64_t)c1.tv_nsec -
	      (uint64_t)c0.tv_nsec;
	/* CPU time too: on a loaded machine the wall clock counts others' turns. */
	printf("snat_held: %u records of %u clients: a count %.1f ms best, %.1f ms mean, "
	       "%.1f ms CPU (of %d)\n",
	       records, clients, best / 1e6, sum / 1e6 / ROUNDS, cpu / 1e6 / ROUNDS, ROUNDS);
	snat_held_free(h);
	return 0;
}
