/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lab's kube-proxy (kproxy.c): deleting a node's UDP conntrack entries
 * over ctnetlink (NFNL_SUBSYS_CTNETLINK), as kube-proxy does since it stopped
 * running the conntrack tool.
 */
#ifndef XCNI_LAB_CTFLUSH_H
#define XCNI_LAB_CTFLUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Which UDP entries to delete: those sent to dst (by address; or with
 * by_port, to any address on port dport: a NodePort) and, unless any_ep,
 * translated to ep (the reply's source: the endpoint the DNAT chose).
 * Addresses in network order, 4 bytes for AF_INET, 16 for AF_INET6.
 */
struct lab_ct_match {
	bool by_port;
	bool any_ep;
	uint16_t dport; /* host order */
	uint8_t dst[16];
	uint8_t ep[16];
};

/*
 * In the netns at path: every UDP entry of family (AF_INET or AF_INET6) that
 * one of m[0..n) matches, deleted. The number deleted, or -errno (said on
 * stderr).
 */
int lab_ct_udp_flush(const char *path, int family, const struct lab_ct_match *m, size_t n);

/* "ADDR" or "port/N" (a NodePort) into m's destination; 0 or -EINVAL. */
int lab_ct_match_key(struct lab_ct_match *m, int family, const char *key);

#endif
