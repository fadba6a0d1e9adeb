// SPDX-License-Identifier: GPL-2.0
/*
 * Drops every frame, for bench/nodeport-xdp.sh's "ceiling" row: attached at
 * tc ingress (cls_bpf, direct action) of the generator's port on the
 * underlay bridge, it is the rate at which the generator alone can hand
 * frames on. Not generic XDP there: a packet socket's skb has less than
 * XDP_PACKET_HEADROOM in front, so generic XDP reallocates and copies every
 * frame first, and the "ceiling" came out below the prefilter's floor
 * behind it (1.11M against 1.47M pps in one round).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

__attribute__((section("tc"), used)) int tc_drop(struct __sk_buff *skb)
{
	(void)skb;
	return TC_ACT_SHOT;
}

char LICENSE[] __attribute__((section("license"), used)) = "GPL";
