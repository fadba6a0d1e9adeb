// SPDX-License-Identifier: Apache-2.0
/*
 * The compiler's small tools, which call nothing else of it: the policies'
 * hash, errors, growing arrays, sorting what is not sorted yet, strings.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/log.h"
#include "lib/system/cidr.h"
#include "lib/policy/policy.h"
#include "lib/policy/policy_int.h"

uint32_t pol_fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

uint32_t pol_policy_hash_raw(uint32_t (*hash)(const char *), const char *ns, const char *name)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", ns ? ns : "", name ? name : "");
	return 1 + hash(buf) % POLICY_ID_SPAN;
}

uint32_t pol_policy_hash(const char *ns, const char *name)
{
	return pol_policy_hash_raw(pol_fnv1a, ns, name);
}

void pol_set_err(struct k8s_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void pol_sort_unless_sorted(void *base, size_t n, size_t sz,
			    int (*cmp)(const void *, const void *))
{
	for (size_t i = 1; i < n; i++) {
		if (cmp((char *)base + (i - 1) * sz, (char *)base + i * sz) > 0) {
			qsort(base, n, sz, cmp);
			return;
		}
	}
}

int pol_cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

void pol_copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	/* Not snprintf: three per pod on every compile showed in profiles. */
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
	return;
}
