// SPDX-License-Identifier: GPL-2.0
/*
 * Drops every frame: bench/nodeport-xdp.sh attaches it (generic) to the
 * generator's port on the underlay bridge for the "ceiling" row, the rate at
 * which the generator alone can hand frames to the other CPU.
 */
#include <linux/bpf.h>

__attribute__((section("xdp"), used)) int xdp_drop(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_DROP;
}

char LICENSE[] __attribute__((section("license"), used)) = "GPL";
