// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"

int xcni_cidr4_parse(const char *s, uint32_t *addr, uint8_t *len)
{
	char buf[32], *slash;
	unsigned int l;
	struct in_addr a;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1 || sscanf(slash + 1, "%u", &l) != 1 || l > 32)
		return -EINVAL;
	*addr = a.s_addr;
	*len = (uint8_t)l;
	return 0;
}
