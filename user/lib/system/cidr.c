// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/cidr.h"

/* "ADDR/LEN" of family af into addr (4 or 16 bytes) and len (at most max). */
static int cidr_parse(int af, const char *s, void *addr, uint8_t *len, unsigned int max)
{
	char buf[64], *slash, *end;
	unsigned long l;

	if (!s || snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	slash = strchr(buf, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	*slash = '\0';
	l = strtoul(slash + 1, &end, 10);
	if (inet_pton(af, buf, addr) != 1 || *end || slash[1] < '0' || slash[1] > '9' || l > max)
		return -EINVAL;
	*len = (uint8_t)l;
	return 0;
}

int xcni_cidr4_parse(const char *s, uint32_t *addr, uint8_t *len)
{
	struct in_addr a;
	int err = cidr_parse(AF_INET, s, &a, len, 32);

	if (!err)
		*addr = a.s_addr;
	return err;
}

int xcni_cidr6_parse(const char *s, struct in6_addr *addr, uint8_t *len)
{
	return cidr_parse(AF_INET6, s, addr, len, 128);
}

int xcni_cidr_parse(const char *s, unsigned int flags, int *family, uint8_t addr[16],
		    uint8_t *len)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	int af = s && strchr(s, ':') ? AF_INET6 : AF_INET;
	unsigned int max = af == AF_INET6 ? 128 : 32;
	int err;

	if (!s)
		return -EINVAL;
	memset(addr, 0, 16);
	if (!slash) {
		if (!(flags & XCNI_CIDR_BARE) || inet_pton(af, s, addr) != 1)
			return -EINVAL;
		*len = (uint8_t)max;
	} else {
		const char *l = slash + 1;

		/* 1-3 digits, no sign, no leading zero (strtoul alone would take " +08"). */
		if ((flags & XCNI_CIDR_STRICT) &&
		    (!*l || strspn(l, "0123456789") != strlen(l) || strlen(l) > 3 ||
		     (l[0] == '0' && l[1])))
			return -EINVAL;
		err = cidr_parse(af, s, addr, len, max);
		if (err)
			return err;
	}
	*family = af == AF_INET6 ? 6 : 4;
	if (flags & XCNI_CIDR_NET) {
		if (af == AF_INET6) {
			cidr6_mask(addr, *len);
		} else {
			uint32_t a;

			memcpy(&a, addr, 4);
			a &= htonl(xcni_prefix_mask(*len));
			memcpy(addr, &a, 4);
		}
	}
	return 0;
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
