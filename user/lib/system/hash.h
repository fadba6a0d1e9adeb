/* SPDX-License-Identifier: Apache-2.0 */
#ifndef XCNI_HASH_H
#define XCNI_HASH_H

#include <stdint.h>

/*
 * FNV-1a, 64 bit, over "a/b": stable across runs and machines, which names
 * derived from it (host veths, the lab's container IDs) need.
 */
static inline uint64_t xcni_fnv1a64(const char *a, const char *b)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const char *p = a; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	h = (h ^ '/') * 0x100000001b3ULL;
	for (const char *p = b; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	return h;
}

#endif
