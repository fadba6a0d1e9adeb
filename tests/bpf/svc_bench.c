// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf --bench-lb: what translating a ClusterIP costs a packet, by
 * protocol and with 10, 1000 and 10000 Services programmed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "svc.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Program time of runs of in (repeat 1 each): the median of 9 rounds' averages
 * (the machine is shared; one slow round must not make the figure). fresh:
 * the flow's entries (keys) are deleted before every run, so each is new. */
static int bench_runs(int prog, const uint8_t *in, size_t len, const struct xcni_ct_key *keys,
		      int nkeys, int want, double *ns)
{
	enum { ROUNDS = 9, RUNS = 3000 };
	int cfd = bpf_map__fd(env.from->maps.xcni_ct), err;
	uint8_t buf[FRAME_MAX], out[FRAME_MAX];
	double avg[ROUNDS];

	for (int r = -1; r < ROUNDS; r++) { /* round -1 warms up */
		uint64_t total = 0;

		for (int i = 0; i < RUNS; i++) {
			struct bpf_test_run_opts o = {};

			for (int k = 0; k < nkeys; k++)
				bpf_map_delete_elem(cfd, &keys[k]);
			memcpy(buf, in, len);
			if ((err = run(prog, DEV_A, buf, len, out, sizeof(out), 1, &o)))
				return err;
			if ((int)o.retval != want)
				return -EPROTO;
			total += o.duration;
		}
		if (r >= 0)
			avg[r] = (double)total / RUNS;
	}
	qsort(avg, ROUNDS, sizeof(avg[0]), cmp_double);
	*ns = avg[ROUNDS / 2];
	return 0;
}

/*
 * One open flow's packet of another protocol to a ClusterIP with one backend
 * (B, port 8080, or the frontend's own port 80 too where it is SCTP): the
 * cost per protocol beside the UDP figures below.
 */
static int lb_bench_proto(uint8_t proto, uint8_t flags, const char *what)
{
	static const uint16_t bports[] = { 8080, 80 };
	uint8_t in[FRAME_MAX];
	size_t len;
	double ns;
	int err;

	for (size_t i = 0; i < (proto == IPPROTO_SCTP ? 2u : 1u); i++) {
		uint32_t id = 100000 + proto * 2u + (uint32_t)i, be = id;
		char vip[24];
		struct fr f;

		snprintf(vip, sizeof(vip), "10.98.%u.%zu", proto, i + 1);
		f = from_dev(DEV_A, IP_A, 7100, vip, 80, proto, flags);
		f.payload = 64;
		len = frame(&f, in);
		if ((err = be_set(be, IP_B, bports[i], XCNI_BE_ACTIVE)) ||
		    (err = svc_set(vip, 80, proto, id, 0, 0, 0, &be, 1, 0)) ||
		    (err = bench_runs(FROM_POD_LB, in, len, NULL, 0, TC_ACT_REDIRECT, &ns)))
			return err;
		printf("from_pod (lb on), %s to a ClusterIP (backend port %u), open flow: %.1f "
		       "ns/packet\n",
		       what, bports[i], ns);
	}
	return 0;
}

/*
 * The per-packet cost of translation with 10, 1000 and 10000 Services
 * programmed (one backend each): a UDP packet of an open flow from A to
 * the first Service (frontend lookup, service entry, DNAT, then the usual
 * path to B), a new flow's first packet (both entries made), and the same
 * packet sent to B directly for what translation adds.
 */
int lb_bench(void)
{
	static const int sizes[] = { 10, 1000, 10000 };
	struct fr f = from_dev(DEV_A, IP_A, 7000, "10.97.0.0", 80, IPPROTO_UDP, 0);
	struct fr d = from_dev(DEV_A, IP_A, 7001, IP_B, 8080, IPPROTO_UDP, 0);
	uint8_t in[FRAME_MAX], direct[FRAME_MAX];
	size_t len, dlen;
	struct xcni_ct_key keys[2] = {
		{ .saddr = ip4(IP_A), .daddr = ip4("10.97.0.0"), .sport = htons(7000),
		  .dport = htons(80), .proto = IPPROTO_UDP },
		{ .saddr = ip4(IP_A), .daddr = ip4(IP_B), .sport = htons(7000), .dport = htons(8080),
		  .proto = IPPROTO_UDP },
	};
	double open0 = 0, new0 = 0, ns, nns, dns;
	int have = 0, err;

	f.payload = d.payload = 64;
	len = frame(&f, in);
	dlen = frame(&d, direct);
	if ((err = bench_runs(FROM_POD_LB, direct, dlen, NULL, 0, TC_ACT_REDIRECT, &dns)))
		return err;
	printf("from_pod (lb on), UDP to the pod directly, open flow: %.1f ns/packet\n", dns);
	if ((err = lb_bench_proto(IPPROTO_TCP, TH_ACK, "TCP ACK")) ||
	    (err = lb_bench_proto(IPPROTO_SCTP, SC_DATA, "SCTP DATA")))
		return err;
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (; have < sizes[s]; have++) {
			char vip[24];
			uint32_t id = 1000 + (uint32_t)have, be = 10000 + (uint32_t)have;

			snprintf(vip, sizeof(vip), "10.97.%d.%d", have / 256, have % 256);
			if ((err = be_set(be, IP_B, 8080, XCNI_BE_ACTIVE)) ||
			    (err = svc_set(vip, 80, IPPROTO_UDP, id, 0, 0, 0, &be, 1, 0)))
				return err;
		}
		if ((err = bench_runs(FROM_POD_LB, in, len, NULL, 0, TC_ACT_REDIRECT, &ns)) ||
		    (err = bench_runs(FROM_POD_LB, in, len, keys, 2, TC_ACT_REDIRECT, &nns)))
			return err;
		if (!s) {
			open0 = ns;
			new0 = nns;
		}
		printf("from_pod (lb on), UDP to a ClusterIP, %5d Services: open flow %.1f ns/packet "
		       "(%.2fx the %d-Service cost, +%.1f ns over the pod directly), new flow %.1f ns "
		       "(%.2fx)\n",
		       sizes[s], ns, ns / open0, sizes[0], ns - dns, nns, nns / new0);
	}
	return 0;
}

