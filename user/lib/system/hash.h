/* SPDX-License-Identifier: Apache-2.0 */
#ifndef XCNI_HASH_H
#define XCNI_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* FNV-1a, 64 bit: where a hash starts, and what each byte is multiplied by. */
#define XCNI_FNV64_BASIS 0xcbf29ce484222325ULL
#define XCNI_FNV64_PRIME 0x100000001b3ULL

/* n bytes at p hashed into h (XCNI_FNV64_BASIS, or a basis of its own, to start). */
static inline uint64_t xcni_fnv64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * XCNI_FNV64_PRIME;
	return h;
}

/* The same over a string, its NUL left out. */
static inline uint64_t xcni_fnv64_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * XCNI_FNV64_PRIME;
	return h;
}

/* FNV-1a, 32 bit, where a hash is 32 bits (labels, shards, names of slices). */
#define XCNI_FNV32_BASIS 2166136261u

static inline uint32_t xcni_fnv32(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static inline uint32_t xcni_fnv32_str(uint32_t h, const char *s)
{
	return xcni_fnv32(h, s, strlen(s));
}

/*
 * FNV-1a, 64 bit, over "a/b": stable across runs and machines, which names
 * derived from it (host veths, the lab's container IDs) need.
 */
static inline uint64_t xcni_fnv1a64(const char *a, const char *b)
{
	return xcni_fnv64_str(xcni_fnv64(xcni_fnv64_str(XCNI_FNV64_BASIS, a), "/", 1), b);
}

#endif
