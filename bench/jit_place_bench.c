// SPDX-License-Identifier: Apache-2.0
/*
 * jit_place_bench: does where the JIT puts a program change what it costs?
 * Loads COPIES copies of one from_overlay object (the same bytes: lb_enabled
 * 1, node_ip6 set, as ul6_plain_bench's second program), each verified and
 * JIT-compiled on its own so its images land at other addresses, then runs
 * ul6_plain_bench's packet (plain IPv6 UDP for the node on the IPv6
 * underlay: from_plain6, from_outside_icmp6, from_outside6) through every
 * copy in turn, ROUNDS times, with BPF_PROG_TEST_RUN. Prints per copy the
 * median ns/packet over the rounds and where its images start within a
 * 64-byte line (each subprogram's, in the kernel's order: jited_ksyms), so
 * a spread between copies is the cost of placement, the path being the same.
 * Build against a tree's skeleton and run as root, holding the test lock:
 *
 *   gcc -O2 -Ibuild/gen -o build/jit_place_bench bench/jit_place_bench.c -lbpf
 *   mkdir -p /sys/fs/bpf/jit-place-bench
 *   flock /tmp/xcni-test.lock build/jit_place_bench /sys/fs/bpf/jit-place-bench [COPIES] [ROUNDS]
 *   rm -rf /sys/fs/bpf/jit-place-bench
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

#define COPIES_MAX 16
#define ROUNDS_MAX 200

static struct from_overlay *load(const char *pin)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin);
	struct from_overlay *o = from_overlay__open_opts(&oo);
	struct in6_addr a;

	if (!o)
		return NULL;
	inet_pton(AF_INET6, "fd00:99::1", &a);
	memcpy((void *)o->rodata->node_ip6, &a, 16);
	o->rodata->vni = 1;
	o->rodata->lb_enabled = 1;
	if (from_overlay__load(o)) {
		from_overlay__destroy(o);
		return NULL;
	}
	return o;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Each image's start within its 64-byte line, as "o0 o1 ...". */
static void placement(int fd, char *out, size_t n)
{
	struct bpf_prog_info info = {};
	__u64 ksyms[64] = {};
	__u32 len = sizeof(info);
	size_t at = 0;

	info.nr_jited_ksyms = 64;
	info.jited_ksyms = (__u64)(unsigned long)ksyms;
	out[0] = 0;
	if (bpf_prog_get_info_by_fd(fd, &info, &len))
		return;
	for (__u32 i = 0; i < info.nr_jited_ksyms && i < 64 && at + 8 < n; i++)
		at += snprintf(out + at, n - at, "%s%llu", i ? " " : "",
			       (unsigned long long)(ksyms[i] % 64));
}

int main(int argc, char **argv)
{
	const char *pin = argc > 1 ? argv[1] : "/sys/fs/bpf/jit-place-bench";
	int copies = argc > 2 ? atoi(argv[2]) : 8, rounds = argc > 3 ? atoi(argv[3]) : 20;
	unsigned char pkt[14 + 40 + 8 + 64] = {};
	static double ns[COPIES_MAX][ROUNDS_MAX];
	struct from_overlay *p[COPIES_MAX];
	int n = 20000;

	if (copies < 1 || copies > COPIES_MAX || rounds < 1 || rounds > ROUNDS_MAX) {
		fprintf(stderr, "jit_place_bench: COPIES 1..%d, ROUNDS 1..%d\n", COPIES_MAX,
			ROUNDS_MAX);
		return 2;
	}
	for (int i = 0; i < copies; i++) {
		p[i] = load(pin);
		if (!p[i]) {
			fprintf(stderr, "jit_place_bench: load of copy %d: %s\n", i, strerror(errno));
			return 1;
		}
	}
	/* ul6_plain_bench's packet: fd00:99::2 -> fd00:99::1 (the node), UDP to 53 */
	pkt[12] = 0x86; pkt[13] = 0xdd;
	pkt[14] = 0x60;
	pkt[14 + 5] = 8 + 64;
	pkt[14 + 6] = 17; pkt[14 + 7] = 64;
	inet_pton(AF_INET6, "fd00:99::2", pkt + 14 + 8);
	inet_pton(AF_INET6, "fd00:99::1", pkt + 14 + 24);
	pkt[54] = 0x30; pkt[55] = 0x39; pkt[57] = 53; pkt[59] = 8 + 64;
	for (int r = -1; r < rounds; r++) {
		for (int i = 0; i < copies; i++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
				    .repeat = n);

			if (bpf_prog_test_run_opts(bpf_program__fd(p[i]->progs.from_overlay), &o)) {
				fprintf(stderr, "jit_place_bench: run: %s\n", strerror(errno));
				return 1;
			}
			if (o.retval != TC_ACT_OK) {
				fprintf(stderr, "jit_place_bench: verdict %u\n", o.retval);
				return 1;
			}
			if (r >= 0)
				ns[i][r] = o.duration;
		}
	}
	for (int i = 0; i < copies; i++) {
		char where[512];

		qsort(ns[i], rounds, sizeof(double), cmp);
		placement(bpf_program__fd(p[i]->progs.from_overlay), where, sizeof(where));
		printf("copy %d: %.1f ns/packet (median of %d; min %.1f, max %.1f); images at line offsets %s\n",
		       i, ns[i][rounds / 2], rounds, ns[i][0], ns[i][rounds - 1], where);
	}
	for (int i = copies - 1; i >= 0; i--)
		from_overlay__destroy(p[i]);
	return 0;
}
