// SPDX-License-Identifier: Apache-2.0
/*
 * ul6_plain_bench: what from_overlay costs per packet on an IPv6 underlay
 * (node_ip6 set) for IPv6 that is not Geneve (a plain UDP packet for the
 * node's own stack), with Services in BPF off and on, through
 * BPF_PROG_TEST_RUN: the path the entry's dispatch (enum ul_kind) shortened.
 * Two copies of from_overlay (lb_enabled 0 and 1), their maps pinned under
 * the directory given (default /sys/fs/bpf/ul6-plain-bench; it must exist
 * and is left to the caller to remove), measured in alternating rounds.
 * Build against a tree's skeleton and run as root, holding the test lock:
 *
 *   gcc -O2 -Ibuild/gen -o build/ul6_plain_bench bench/ul6_plain_bench.c -lbpf
 *   mkdir -p /sys/fs/bpf/ul6-plain-bench
 *   flock /tmp/xcni-test.lock build/ul6_plain_bench /sys/fs/bpf/ul6-plain-bench
 *   rm -rf /sys/fs/bpf/ul6-plain-bench
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "from_overlay.skel.h"

static struct from_overlay *load(int lb, const char *pin)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin);
	struct from_overlay *o = from_overlay__open_opts(&oo);
	struct in6_addr a;

	if (!o)
		return NULL;
	inet_pton(AF_INET6, "fd00:99::1", &a);
	memcpy((void *)o->rodata->node_ip6, &a, 16);
	o->rodata->vni = 1;
	o->rodata->lb_enabled = lb;
	if (from_overlay__load(o)) {
		from_overlay__destroy(o);
		return NULL;
	}
	return o;
}

int main(int argc, char **argv)
{
	const char *pin = argc > 1 ? argv[1] : "/sys/fs/bpf/ul6-plain-bench";
	unsigned char pkt[14 + 40 + 8 + 64] = {};
	struct from_overlay *p[2];
	int rounds = 10, n = 20000;
	unsigned long long ns[2] = {0, 0};

	p[0] = load(0, pin);
	p[1] = load(1, pin);
	if (!p[0] || !p[1]) {
		fprintf(stderr, "load: %s\n", strerror(errno));
		return 1;
	}
	/* Ethernet, IPv6 fd00:99::2 -> fd00:99::1 (the node: not Geneve, port 53) */
	pkt[12] = 0x86; pkt[13] = 0xdd;
	pkt[14] = 0x60;
	pkt[14 + 4] = 0; pkt[14 + 5] = 8 + 64;
	pkt[14 + 6] = 17; pkt[14 + 7] = 64;
	inet_pton(AF_INET6, "fd00:99::2", pkt + 14 + 8);
	inet_pton(AF_INET6, "fd00:99::1", pkt + 14 + 24);
	pkt[54] = 0x30; pkt[55] = 0x39; pkt[56] = 0; pkt[57] = 53; pkt[59] = 8 + 64;
	for (int r = -1; r < rounds * 2; r++) {
		int k = r < 0 ? 0 : r % 2;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = n);

		if (bpf_prog_test_run_opts(bpf_program__fd(p[k]->progs.from_overlay), &o)) {
			fprintf(stderr, "run: %s\n", strerror(errno));
			return 1;
		}
		if (o.retval != TC_ACT_OK) {
			fprintf(stderr, "verdict %u\n", o.retval);
			return 1;
		}
		if (r >= 0)
			ns[k] += o.duration;
	}
	printf("from_overlay, plain IPv6 to the node on the IPv6 underlay: %.1f ns/packet; with Services in BPF: %.1f ns/packet\n",
	       (double)ns[0] / rounds, (double)ns[1] / rounds);
	from_overlay__destroy(p[1]);
	from_overlay__destroy(p[0]);
	return 0;
}
