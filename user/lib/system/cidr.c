// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/cidr.h"
#include "lib/system/util.h"

int xcni_prefix_parse(const char *s, unsigned int flags, struct xcni_prefix *p)
{
	char buf[64], *slash, *end;
	bool v6 = s && strchr(s, ':');
	unsigned long l = v6 ? 128 : 32;

	memset(p, 0, sizeof(*p));
	if (!s || snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	slash = strchr(buf, '/');
	if (slash) {
		*slash++ = '\0';
		l = strtoul(slash, &end, 10);
		/* Digits alone (strtoul would take " +08"); STRICT: 1-3, no leading zero. */
		if (*slash < '0' || *slash > '9' || *end || l > (v6 ? 128u : 32u) ||
		    ((flags & XCNI_CIDR_STRICT) && (end - slash > 3 || (*slash == '0' && end - slash > 1))))
			return -EINVAL;
	} else if (!(flags & XCNI_CIDR_BARE)) {
		return -EINVAL;
	}
	if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, p->addr) != 1)
		return -EINVAL;
	p->family = v6 ? 6 : 4;
	p->len = (uint8_t)l;
	if (flags & XCNI_CIDR_NET)
		xcni_prefix_cut(p, p->len);
	return 0;
}

int xcni_cidr4_parse(const char *s, uint32_t *addr, uint8_t *len)
{
	struct xcni_prefix p;

	if (xcni_prefix_parse(s, 0, &p) || p.family != 4)
		return -EINVAL;
	memcpy(addr, p.addr, 4);
	*len = p.len;
	return 0;
}

int xcni_cidr6_parse(const char *s, struct in6_addr *addr, uint8_t *len)
{
	struct xcni_prefix p;

	if (xcni_prefix_parse(s, 0, &p) || p.family != 6)
		return -EINVAL;
	memcpy(addr, p.addr, 16);
	*len = p.len;
	return 0;
}

struct xcni_prefix xcni_prefix_host(uint32_t ip, const uint8_t *ip6)
{
	struct xcni_prefix p = { .family = ip6 ? 6 : 4, .len = ip6 ? 128 : 32 };

	memcpy(p.addr, ip6 ?: (const uint8_t *)&ip, ip6 ? 16 : 4);
	return p;
}

void xcni_prefix_cut(struct xcni_prefix *p, unsigned int len)
{
	p->len = (uint8_t)len;
	cidr6_mask(p->addr, len);
}

bool xcni_prefix_inside(const struct xcni_prefix *p, const struct xcni_prefix *q)
{
	return p->family == q->family && p->len >= q->len && xcni_prefix_has(q->addr, q->len, p->addr);
}

int xcni_prefix_cmp(const void *a, const void *b)
{
	const struct xcni_prefix *x = a, *y = b;
	int d = x->family != y->family ? x->family - y->family : memcmp(x->addr, y->addr, 16);

	return d ? d : x->len - y->len;
}

size_t xcni_prefix_normalize(struct xcni_prefix *p, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++)
		xcni_prefix_cut(&p[i], p[i].len);
	if (n)
		qsort(p, n, sizeof(*p), xcni_prefix_cmp);
	/* Sorted by start, wider first: a prefix is covered iff the last kept one covers it. */
	for (size_t i = 0; i < n; i++)
		if (!out || !xcni_prefix_inside(&p[i], &p[out - 1]))
			p[out++] = p[i];
	return out;
}

const char *xcni_prefix_str(const struct xcni_prefix *p, char *buf, size_t size)
{
	return xcni_cidr_str(p->family == 6 ? AF_INET6 : AF_INET, p->addr, p->len, buf, size);
}

const char *xcni_ip4_str(uint32_t ip, char buf[16])
{
	return inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
}

const char *xcni_cidr_str(int af, const void *addr, unsigned int len, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	snprintf(buf, size, "%s/%u", inet_ntop(af, addr, a, sizeof(a)) ?: "?", len);
	return buf;
}
