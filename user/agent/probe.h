/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the kernel xcnid runs on can do, asked of the kernel itself (libbpf's
 * probes, a program loaded and run once) rather than read from its version
 * string: distributions backport, and a version says nothing about a
 * feature switched off at build time.
 */
#ifndef XCNID_PROBE_H
#define XCNID_PROBE_H

#include <stdbool.h>

/* The oldest kernel with every feature xcni needs: callbacks' (5.13). */
#define XCNI_KERNEL_MIN "5.13"

struct probe_result {
	/* Optional features: off with a warning where missing. */
	bool sock_lb; /* cgroup getpeername hooks (5.8) and bpf_set_retval (5.18) */
	bool decap_l3; /* BPF_F_ADJ_ROOM_DECAP_L3_IPV4/6 (6.3): Geneve across families */
	bool loop; /* bpf_loop (5.17): the DNS reader of --fqdn-policy */
	const char *sock_lb_missing, *sock_lb_since;
};

/*
 * Probes every feature xcni needs; a missing required one is refused with a
 * message naming the kernel, the minimum and the feature (-ENOTSUP). Tests
 * stand in for an older kernel with XCNI_PROBE_FAIL=<feature name>.
 */
int xcnid_probe(struct probe_result *r);
/* adjust-room-decap-l3 alone (1 or 0): the packet tests skip what it decides. */
int xcnid_probe_decap_l3(void);

#endif
