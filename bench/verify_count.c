// SPDX-License-Identifier: Apache-2.0
/*
 * verify_count: the instructions the verifier processed for every program
 * of the seven BPF objects (bpf_prog_info.verified_insns), with the
 * settings the data plane runs in: Services in BPF off and on, on the IPv4
 * underlay (node_ip, vni set) and on the IPv6 one (node_ip6 set too); a row
 * per program and setting. Maps are not
 * pinned (each object gets its own, gone with it); the settings are written
 * into each object's .rodata by name (BTF: tests/lib/bpf_objs.h, which
 * tests/attach/attach_modes.c shares). The objects are the ones a
 * tree's skeletons embed (make all there first):
 *
 *   gcc -O2 -Wall -I$TREE/build/gen -o verify_count bench/verify_count.c -lbpf
 *   ./verify_count      (as root)
 *
 * VERIFY_TC_PREFILTER=1: with tc_prefilter set (xcnid --xdp-mode tc).
 * VERIFY_DSR=1: with lb_dsr set (xcnid --node-port-mode dsr).
 * VERIFY_FQDN=1: with fqdn_enabled set (a policy names a domain: lib/dns.h).
 * VERIFY_DECAP=1: with decap_cookie set (xcnid --overlay-decap xdp: from_overlay
 * takes Geneve xdp_underlay decapsulated).
 * VERIFY_UL6_ONLY=1: the ul6=1 rows without node_ip (a node of the IPv6
 * underlay alone).
 * lb=1 sets np_accel too (xcnid --nodeport-acceleration: xdp_underlay's
 * NodePort fast path, lib/nodeport_xdp.h).
 * Prints "object program lb=0|1 ul6=0|1 insns"; a program that does not load fails
 * the run (exit 1) with the kernel's log tail on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "../tests/lib/bpf_objs.h"

static char log_buf[1 << 20];

static int one(const char *path, const void *elf, size_t elf_size, int lb, int ul6)
{
	const char *base = path;
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = path, .kernel_log_buf = log_buf,
		    .kernel_log_size = sizeof(log_buf), .kernel_log_level = 4);
	struct bpf_object *obj = bpf_object__open_mem(elf, elf_size, &oo);
	__u32 node6[4] = { htonl(0xfc000077), 0, 0, htonl(1) }; /* fc00:77::1 */
	__u32 cookie[2] = { 0x9e3779b9, 0x7f4a7c15 }; /* VERIFY_DECAP: --overlay-decap xdp */
	struct bpf_program *prog;
	struct bpf_map *m;
	int err;

	if (!obj) {
		fprintf(stderr, "verify_count: %s: %s\n", path, strerror(errno));
		return 1;
	}
	bpf_object__for_each_map(m, obj)
		bpf_map__set_pin_path(m, NULL);
	if (rodata_set_u32(obj, "node_ip",
			   ul6 && getenv("VERIFY_UL6_ONLY") ? 0 : inet_addr("192.168.77.1")) ||
	    rodata_set_u32(obj, "vni", 77) || rodata_set_u32(obj, "lb_enabled", (__u32)lb) ||
	    rodata_set_u32(obj, "np_accel", (__u32)lb) ||
	    (getenv("VERIFY_TC_PREFILTER") && rodata_set_u32(obj, "tc_prefilter", 1)) ||
	    (getenv("VERIFY_DSR") && rodata_set_u32(obj, "lb_dsr", 1)) ||
	    (getenv("VERIFY_FQDN") && rodata_set_u32(obj, "fqdn_enabled", 1)) ||
	    (getenv("VERIFY_DECAP") && rodata_set(obj, "decap_cookie", cookie, sizeof(cookie))) ||
	    (ul6 && rodata_set(obj, "node_ip6", node6, sizeof(node6)))) {
		fprintf(stderr, "verify_count: %s: a setting is not a __u32\n", path);
		bpf_object__close(obj);
		return 1;
	}
	log_buf[0] = 0;
	err = bpf_object__load(obj);
	if (err) {
		size_t n = strlen(log_buf);

		fprintf(stderr, "verify_count: %s (lb=%d): %s\n%s\n", path, lb, strerror(-err),
			n > 2000 ? log_buf + n - 2000 : log_buf);
		bpf_object__close(obj);
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_prog_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			continue;
		printf("%s %s lb=%d ul6=%d %u\n", base, bpf_program__name(prog), lb, ul6,
		       info.verified_insns);
		if (getenv("VERIFY_STACK")) {
			const char *sd = strstr(log_buf, "stack depth");

			if (sd)
				fprintf(stderr, "%s lb=%d %.*s\n", base, lb,
					(int)strcspn(sd, "\n"), sd);
		}
	}
	bpf_object__close(obj);
	return 0;
}

int main(void)
{
	int err = 0;

	for (size_t i = 0; i < XCNI_NR_BPF_OBJS; i++)
		for (int k = 0; k < 4; k++) {
			size_t size;
			const void *elf = xcni_bpf_objs[i].bytes(&size);

			err |= one(xcni_bpf_objs[i].name, elf, size, k & 1, k >> 1);
		}
	return err;
}
