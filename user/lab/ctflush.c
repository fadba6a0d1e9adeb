// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl lab: a node's UDP conntrack entries deleted over ctnetlink, for the
 * lab's kube-proxy (kproxy.c). UDP has no end: a client keeps sending on an
 * entry DNATed to an endpoint that is gone until the entry is deleted. The
 * dump and the deletes are lib/ctnl.c's; this file says which entries.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/ctflush.h"
#include "lib/system/ctnl.h"

struct udp_pick {
	int family;
	const struct lab_ct_match *m;
	size_t n;
};

static bool udp_pick(const struct ctnl_flow *f, void *arg)
{
	const struct udp_pick *u = arg;
	size_t alen = u->family == AF_INET6 ? 16 : 4;

	if (f->proto != IPPROTO_UDP)
		return false;
	for (size_t i = 0; i < u->n; i++) {
		const struct lab_ct_match *m = &u->m[i];

		if (m->by_port ? ntohs(f->odport) != m->dport : memcmp(f->odst, m->dst, alen))
			continue;
		/* The DNAT's choice is where the reply comes from. */
		if (!m->any_ep && memcmp(f->rsrc, m->ep, alen))
			continue;
		return true;
	}
	return false;
}

int lab_ct_udp_flush(const char *path, int family, const struct lab_ct_match *m, size_t n)
{
	struct udp_pick u = { family, m, n };
	char err[256];
	int ret;

	if (!n)
		return 0;
	ret = ctnl_delete(path, family, udp_pick, &u, err, sizeof(err));
	if (ret < 0)
		fprintf(stderr, "lab: conntrack netlink: %s\n", err);
	return ret;
}

int lab_ct_match_key(struct lab_ct_match *m, int family, const char *key)
{
	char *end;
	unsigned long port;

	if (!strncmp(key, "port/", 5)) {
		port = strtoul(key + 5, &end, 10);
		if (*end || !port || port > 65535)
			return -EINVAL;
		m->by_port = true;
		m->dport = (uint16_t)port;
		return 0;
	}
	m->by_port = false;
	return inet_pton(family, key, m->dst) == 1 ? 0 : -EINVAL;
}
