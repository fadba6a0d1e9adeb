/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hash map for the incremental compilers: open addressing, linear probing,
 * deletion by shifting back (no tombstones). Keys are strings (compared with
 * strcmp; one must live as long as its entry), fixed-size bytes at a pointer
 * (klen set after hmap_init: memcmp, the same lifetime) or numbers (UKEY);
 * the caller hashes (hstr, hu32) and owns the values.
 */
#ifndef XCNI_HMAP_H
#define XCNI_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/system/hash.h"

struct hslot {
	uint64_t h;
	uintptr_t k; /* 0: free */
	void *v;
};

struct hmap {
	size_t mask, n;
	struct hslot *s;
	bool str; /* keys are strings (strcmp), else numbers (UKEY) */
	size_t klen; /* not 0: keys point at klen bytes (memcmp) */
};

/* A number as a key: never 0, so 0 can mean a free slot. */
#define UKEY(u) ((uintptr_t)(u) | ((uintptr_t)1 << 32))
_Static_assert(sizeof(uintptr_t) == 8, "UKEY needs 64-bit pointers");

#define hmap_each(m, sl) for (struct hslot *sl = (m)->s; (m)->s && sl <= &(m)->s[(m)->mask]; sl++) if (sl->k)

int hmap_init(struct hmap *m, bool str, size_t n);
int hmap_put(struct hmap *m, uint64_t h, uintptr_t k, void *v);
void *hmap_del(struct hmap *m, uint64_t h, uintptr_t k);
void hmap_clear(struct hmap *m);
void hmap_free(struct hmap *m);

static inline uint64_t hstr(const char *s)
{
	return xcni_fnv64_str(XCNI_FNV64_BASIS, s);
}

/*
 * A fixed-size key's hash (klen keys: a flow's 38 bytes, a frontend key): 8
 * bytes at a time, a multiply and a shift each, not byte by byte (a flows
 * walk hashes the key of every entry stamped since the last one).
 */
static inline uint64_t hmem(const void *k, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < len; i += 8) {
		uint64_t w = 0;

		memcpy(&w, (const unsigned char *)k + i, len - i < 8 ? len - i : 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return h ^ h >> 29;
}

/* Addresses are in network order: their low bits barely vary, so mix. */
static inline uint64_t hu32(uint32_t k)
{
	k ^= k >> 16;
	k *= 0x7feb352du;
	k ^= k >> 15;
	k *= 0x846ca68bu;
	k ^= k >> 16;
	return k;
}

static inline struct hslot *hmap_slot(const struct hmap *m, uint64_t h, uintptr_t k)
{
	for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
		struct hslot *s = &m->s[i];

		if (!s->k ||
		    (s->h == h && (m->klen  ? !memcmp((const void *)s->k, (const void *)k, m->klen) :
				   m->str ? !strcmp((const char *)s->k, (const char *)k) :
					    s->k == k)))
			return s;
	}
}

static inline void *hmap_get(const struct hmap *m, uint64_t h, uintptr_t k)
{
	const struct hslot *s = hmap_slot(m, h, k);

	return s->k ? s->v : NULL;
}

static inline bool hmap_has(const struct hmap *m, uint64_t h, uintptr_t k)
{
	return hmap_slot(m, h, k)->k != 0;
}

#endif
