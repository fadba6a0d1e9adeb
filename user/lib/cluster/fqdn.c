// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xcni_shared.h"
#include "lib/cluster/fqdn.h"

static int label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int fqdn_normalise(const char *in, char *out, size_t cap, int *wild, const char **why)
{
	size_t n = in ? strlen(in) : 0, i, lab = 0, labels = 0, o = 0;
	const char *p = in;

	*why = NULL;
	*wild = 0;
	if (n && in[n - 1] == '.')
		n--;
	if (!n) {
		*why = "empty name";
		return -EINVAL;
	}
	if (n >= 2 && p[0] == '*' && p[1] == '.') {
		*wild = 1;
		if (cap < 3)
			return -ENOSPC;
		out[o++] = '*';
		out[o++] = '.';
		p += 2;
		n -= 2;
	}
	if (n > XCNI_FQDN_NAME_MAX - 1 - (*wild ? 2 : 0)) {
		*why = "name longer than 253 bytes";
		return -EINVAL;
	}
	if (o + n + 1 > cap)
		return -ENOSPC;
	for (i = 0; i <= n; i++) {
		char c = i < n ? p[i] : '.';

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (!lab) {
				*why = "empty label";
				return -EINVAL;
			}
			if (p[i - 1] == '-' || p[i - lab] == '-') {
				*why = "a label starts or ends with '-'";
				return -EINVAL;
			}
			labels++;
			lab = 0;
			if (i < n)
				out[o++] = c;
			continue;
		}
		if (c == '*') {
			*why = "'*' only as the whole first label ('*.')";
			return -EINVAL;
		}
		if (!label_char(c)) {
			*why = "a character not a letter, digit, '-' or '.'";
			return -EINVAL;
		}
		if (++lab > 63) {
			*why = "label longer than 63 bytes";
			return -EINVAL;
		}
		out[o++] = c;
	}
	if (labels < 2) {
		*why = "a single label (a domain needs at least two)";
		return -EINVAL;
	}
	out[o] = 0;
	return 0;
}

int fqdn_flat(const char *name, uint8_t out[256])
{
	size_t n = strlen(name), o = 0, start = 0;

	if (!n || n > XCNI_FQDN_NAME_MAX - 1)
		return -EINVAL;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && name[i] != '.')
			continue;
		if (i == start || i - start > 63 || o + 1 + (i - start) > XCNI_FQDN_NAME_MAX)
			return -EINVAL;
		out[o++] = (uint8_t)(i - start);
		memcpy(out + o, name + start, i - start);
		o += i - start;
		start = i + 1;
	}
	return (int)o;
}

void fqdn_unflat(const uint8_t *flat, size_t len, int wild, char *out, size_t cap)
{
	size_t o = (size_t)snprintf(out, cap, "%s", wild ? "*." : "");

	for (size_t i = 0; i < len && i < 256 && o + 1 < cap;) {
		size_t l = flat[i++];

		for (size_t j = 0; j < l && i < len && o + 1 < cap; j++)
			out[o++] = (char)flat[i++];
		if (i < len && o + 1 < cap)
			out[o++] = '.';
	}
	out[o < cap ? o : cap - 1] = '\0';
}

uint64_t fqdn_hash(const uint8_t *flat, size_t len)
{
	uint64_t h = XCNI_FQDN_HASH_INIT;

	while (len)
		h = xcni_fqdn_step(h, flat[--len]);
	return h;
}
