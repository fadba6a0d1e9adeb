// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/observe/agentstatus.h"

/* /run/xcni/<what><pin dir, '/' as '-'><ext>. */
static int run_path(const char *what, const char *ext, const char *pin_dir, char *buf, size_t len)
{
	size_t off, el = strlen(ext) + 1;
	int n = snprintf(buf, len, "/run/xcni/%s", what);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	for (off = (size_t)n; *pin_dir && off + 1 < len; pin_dir++)
		buf[off++] = *pin_dir == '/' ? '-' : *pin_dir;
	if (*pin_dir || off + el > len)
		return -ENAMETOOLONG;
	memcpy(buf + off, ext, el);
	return 0;
}

int agent_status_sock_path(const char *pin_dir, char *buf, size_t len)
{
	return run_path("status", ".sock", pin_dir, buf, len);
}

int agent_status_policy_path(const char *pin_dir, char *buf, size_t len)
{
	return run_path("policy-status", ".json", pin_dir, buf, len);
}
