// SPDX-License-Identifier: Apache-2.0
/*
 * Prefixes as the CLI, the plugin (IPAM results) and xcnid read them:
 * xcni_cidr4_parse and xcni_cidr6_parse, and what they accept printed and
 * read back unchanged.
 * The xcnictl argument parsers are fuzz_ctl_args.c's.
 */
#include <arpa/inet.h>

#include "fuzz.h"
#include "lib/system/cidr.h"

FUZZ_LOG_ALL()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size), out[INET6_ADDRSTRLEN + 5];
	struct in6_addr a6, b6;
	uint32_t addr, addr2;
	uint8_t len, len2;
	enum xlog_format fmt;

	if (!s)
		return 0;
	if (xcni_cidr4_parse(s, &addr, &len) == 0) {
		FUZZ_ASSERT(len <= 32);
		FUZZ_ASSERT(inet_ntop(AF_INET, &addr, out, INET_ADDRSTRLEN));
		snprintf(out + strlen(out), 5, "/%u", len);
		FUZZ_ASSERT(xcni_cidr4_parse(out, &addr2, &len2) == 0);
		FUZZ_ASSERT(addr == addr2 && len == len2);
		(void)xcni_prefix_mask(len);
	}
	if (xcni_cidr6_parse(s, &a6, &len) == 0) {
		FUZZ_ASSERT(len <= 128);
		FUZZ_ASSERT(inet_ntop(AF_INET6, &a6, out, INET6_ADDRSTRLEN));
		snprintf(out + strlen(out), 5, "/%u", len);
		FUZZ_ASSERT(xcni_cidr6_parse(out, &b6, &len2) == 0);
		FUZZ_ASSERT(memcmp(&a6, &b6, sizeof(a6)) == 0 && len == len2);
		/* One string is never both families. */
		FUZZ_ASSERT(xcni_cidr4_parse(s, &addr, &len) != 0);
	}
	if (xlog_parse_format(s, &fmt) == 0)
		FUZZ_ASSERT(fmt == XLOG_TEXT || fmt == XLOG_JSON);
	free(s);
	return 0;
}
