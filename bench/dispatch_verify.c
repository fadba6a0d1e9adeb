// SPDX-License-Identifier: Apache-2.0
/*
 * dispatch_verify: what loading from_overlay costs, per program of the
 * object (the entry, and with the tail-call variant every step): the
 * instructions the verifier processed (bpf_prog_info.verified_insns), its
 * states and time (the BPF_LOG_STATS line), the xlated and JITed sizes, and
 * the wall time of the whole object's load; for the four settings the data
 * plane runs (Services in BPF off / on, IPv4 / IPv6 underlay). Built
 * against one tree's skeleton (bench/dispatch-ab.sh builds it against both):
 *
 *   gcc -O2 -Wall -I$TREE/build/gen -o dispatch_verify bench/dispatch_verify.c -lbpf
 *   ./dispatch_verify     (as root; pins nothing, its maps go with it)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "from_overlay.skel.h"

#define LOG_SIZE (1 << 20)

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* The figure after key in the verifier's stats line (-1: none). */
static long stat_of(const char *log, const char *key)
{
	const char *p = strstr(log, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static int one(int lb, int ul6)
{
	struct from_overlay *o = from_overlay__open();
	struct bpf_program *prog;
	struct bpf_map *m;
	long insns = 0, xl = 0, jit = 0, n = 0;
	char *logs[64] = {};
	double t0;
	int err = 1;

	if (!o)
		return 1;
	bpf_object__for_each_map(m, o->obj)
		bpf_map__set_pin_path(m, NULL);
	bpf_object__for_each_program(prog, o->obj) {
		if (n == 64)
			break;
		logs[n] = calloc(1, LOG_SIZE);
		if (!logs[n])
			goto out;
		bpf_program__set_log_buf(prog, logs[n], LOG_SIZE);
		bpf_program__set_log_level(prog, 4); /* BPF_LOG_STATS */
		n++;
	}
	o->rodata->node_ip = inet_addr("192.168.77.1");
	o->rodata->vni = 42;
	o->rodata->lb_enabled = (unsigned)lb;
	if (ul6)
		inet_pton(AF_INET6, "fc00:77::1", (void *)o->rodata->node_ip6);
	t0 = now_ms();
	if (from_overlay__load(o)) {
		fprintf(stderr, "dispatch_verify: load: %s\n", strerror(errno));
		goto out;
	}
	printf("Services %s, %s underlay: object loaded in %.1f ms\n", lb ? "on" : "off",
	       ul6 ? "IPv6" : "IPv4", now_ms() - t0);
	n = 0;
	bpf_object__for_each_program(prog, o->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_prog_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			goto out;
		printf("  %-16s verified %7u insns, %6ld states (peak %5ld), verifier %7ld us, "
		       "xlated %6u B, jited %6u B\n",
		       bpf_program__name(prog), info.verified_insns,
		       stat_of(logs[n], "total_states "), stat_of(logs[n], "peak_states "),
		       stat_of(logs[n], "verification time "), info.xlated_prog_len,
		       info.jited_prog_len);
		insns += info.verified_insns;
		xl += info.xlated_prog_len;
		jit += info.jited_prog_len;
		n++;
	}
	printf("  %-16s verified %7ld insns, xlated %ld B, jited %ld B\n", "all", insns, xl, jit);
	err = 0;
out:
	from_overlay__destroy(o);
	for (int i = 0; i < 64; i++)
		free(logs[i]);
	return err;
}

int main(void)
{
	for (int i = 0; i < 4; i++)
		if (one(i & 1, i >> 1))
			return 1;
	return 0;
}
