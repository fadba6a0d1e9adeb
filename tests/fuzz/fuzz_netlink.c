// SPDX-License-Identifier: Apache-2.0
/*
 * Netlink replies as the plugin and xcnid parse them: one datagram through
 * nl_replies (user/lib/system/nl.c, included for its static callbacks) with each of
 * the reply parsers: link get and dump, address lookups, route lookups and
 * walks (IPv4 and IPv6), neighbour lookups, and the error/done control messages (extended acks) they all share.
 * The first byte picks the parser; the rest is the datagram, in a buffer of
 * exactly its size.
 */
#include "fuzz.h"
#include "../../user/lib/system/nl.c"

FUZZ_LOG_ALL()

static int link_seen(const struct nl_link *l, void *arg)
{
	FUZZ_ASSERT(memchr(l->name, '\0', sizeof(l->name)));
	FUZZ_ASSERT(memchr(l->kind, '\0', sizeof(l->kind)));
	FUZZ_ASSERT(memchr(l->alias, '\0', sizeof(l->alias)));
	(*(int *)arg)++;
	return 0;
}

static int route_seen(const struct nl_route *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nl nl = { .portid = 0 };
	struct nl_link link;
	struct nl_route want = { .dst = 0x0100000a, .dst_len = 32, .oif = 2 };
	static const struct in6_addr pod6 = { .s6_addr = { 0xfd, [15] = 2 } };
	struct addr_find af = { .af = AF_INET, .ifindex = 2, .addr = { 10, 0, 0, 1 }, .plen = 32 };
	struct addr_find af6 = { .af = AF_INET6, .ifindex = 2, .addr = { 0xfd, [15] = 2 },
				 .plen = 128 };
	struct addr_find a1 = { .af = AF_INET, .ifindex = 2, .plen = -1 };
	struct route_find rf = { .af = AF_INET, .dst = &want.dst, .dst_len = 32, .oif = 2 };
	struct route_find rf6 = { .af = AF_INET6, .dst = &pod6, .gw = &pod6, .dst_len = 128 };
	struct neigh_find nf = { 2, &pod6, (const uint8_t *)"\2\0\0\0\0\1", 0 };
	int count = 0;
	struct link_dump_arg ld = { link_seen, &count, 0 };
	struct route_walk rw = { .af = AF_INET, .oif = 2, .cb = route_seen, .arg = &count };
	uint8_t *buf;
	int ret;

	if (size < 1)
		return 0;
	buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	errno = 0;
	/* seq 0: every sequence number is taken, as the fuzzer cannot guess ours. */
	/* % 10: the seeds written when there were 7 parsers keep theirs. */
	switch (data[0] % 10) {
	case 0: ret = nl_replies(&nl, buf, size - 1, 0, link_get_cb, &link); break;
	case 1: ret = nl_replies(&nl, buf, size - 1, 0, link_dump_cb, &ld); break;
	case 2: ret = nl_replies(&nl, buf, size - 1, 0, addr_cb, &af); break;
	case 3: ret = nl_replies(&nl, buf, size - 1, 0, addr_cb, &a1); break;
	case 4: ret = nl_replies(&nl, buf, size - 1, 0, route_cb, &rf); break;
	case 5: ret = nl_replies(&nl, buf, size - 1, 0, route_walk_cb, &rw); break;
	case 7: ret = nl_replies(&nl, buf, size - 1, 0, addr_cb, &af6); break;
	case 8: ret = nl_replies(&nl, buf, size - 1, 0, route_cb, &rf6); break;
	case 9: ret = nl_replies(&nl, buf, size - 1, 0, neigh_cb, &nf); break;
	default: ret = nl_replies(&nl, buf, size - 1, 0, NULL, NULL); break;
	}
	FUZZ_ASSERT(ret == MNL_CB_OK || ret == MNL_CB_STOP || ret == MNL_CB_ERROR);
	FUZZ_ASSERT(memchr(nl.errmsg, '\0', sizeof(nl.errmsg)));
	free(buf);
	return 0;
}
