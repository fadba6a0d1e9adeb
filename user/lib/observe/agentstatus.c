// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/observe/agentstatus.h"

int agent_status_sock_path(const char *pin_dir, char *buf, size_t len)
{
	size_t off;
	int n = snprintf(buf, len, "/run/xcni/status");

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	for (off = (size_t)n; *pin_dir && off + 1 < len; pin_dir++)
		buf[off++] = *pin_dir == '/' ? '-' : *pin_dir;
	if (*pin_dir || off + sizeof(".sock") > len)
		return -ENAMETOOLONG;
	memcpy(buf + off, ".sock", sizeof(".sock"));
	return 0;
}
