// SPDX-License-Identifier: Apache-2.0
/*
 * Another agent's program, for the tests: a two-instruction classifier
 * ("r0 = TCX_NEXT / TC_ACT_UNSPEC; exit": it passes every packet on) named
 * foreign_first, put first on a device's tc hook the way a second CNI's
 * DaemonSet would.
 *
 *   foreign_hook tcx DEV ingress|egress PIN   TCX link, BPF_F_BEFORE (before all), pinned at PIN
 *   foreign_hook tc DEV ingress|egress        cls_bpf filter prio 1 handle 0xf0 on the clsact
 *                                             (newest first among one priority's filters)
 *
 * Removing it: rm PIN (the link goes with its last reference), or
 * `tc filter del dev DEV ingress prio 1 handle 0xf0 bpf`.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef BPF_F_BEFORE
#define BPF_F_BEFORE (1U << 3)
#endif

int main(int argc, char **argv)
{
	struct bpf_insn insns[] = {
		/* r0 = -1 (TCX_NEXT; TC_ACT_UNSPEC for tc: the next filter runs) */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int tcx, egress, ifindex, fd, lfd, err;

	if (argc < 4 || (strcmp(argv[1], "tcx") && strcmp(argv[1], "tc")) ||
	    (strcmp(argv[3], "ingress") && strcmp(argv[3], "egress")) ||
	    (!strcmp(argv[1], "tcx") && argc != 5)) {
		fprintf(stderr, "usage: foreign_hook tcx DEV ingress|egress PIN | tc DEV ingress|egress\n");
		return 2;
	}
	libbpf_set_print(NULL); /* an existing clsact is no error here */
	tcx = !strcmp(argv[1], "tcx");
	egress = !strcmp(argv[3], "egress");
	ifindex = (int)if_nametoindex(argv[2]);
	if (!ifindex) {
		fprintf(stderr, "foreign_hook: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	{
		LIBBPF_OPTS(bpf_prog_load_opts, po,
			    .expected_attach_type = tcx ? (egress ? BPF_TCX_EGRESS : BPF_TCX_INGRESS) : 0);

		fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "foreign_first", "GPL", insns, 2, &po);
	}
	if (fd < 0) {
		fprintf(stderr, "foreign_hook: loading: %s\n", strerror(errno));
		return 1;
	}
	if (tcx) {
		LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = BPF_F_BEFORE);

		lfd = bpf_link_create(fd, ifindex, egress ? BPF_TCX_EGRESS : BPF_TCX_INGRESS, &lo);
		err = lfd < 0 ? -errno : bpf_obj_pin(lfd, argv[4]) ? -errno : 0;
	} else {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
				    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = 0xf0, .priority = 1, .prog_fd = fd);

		err = bpf_tc_hook_create(&hook);
		err = err && err != -EEXIST ? err : bpf_tc_attach(&hook, &o);
	}
	if (err) {
		fprintf(stderr, "foreign_hook: attaching to %s %s: %s\n", argv[2], argv[3],
			strerror(-err));
		return 1;
	}
	return 0;
}
