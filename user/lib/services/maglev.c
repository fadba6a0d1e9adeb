// SPDX-License-Identifier: Apache-2.0
/*
 * Maglev's table population (NSDI 2016, section 3.4, pseudocode 1). Each
 * backend i has a permutation of the m entries, permutation[i][j] = (offset +
 * j * skip) mod m, from two hashes of its identity; the backends take turns
 * claiming the next entry of their permutation that is still free until the
 * table is full. So every backend gets floor(m/n) or ceil(m/n) entries, and
 * taking one backend away moves little more than its own entries.
 *
 * The permutation is computed as it is walked, not stored: n * m words for
 * 1000 backends and m = 65521 would be 262 MB.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/hash.h"
#include "lib/services/maglev.h"

/* FNV-1a (64-bit) from a given basis: two bases, two independent hashes. */
static uint64_t fnv1a64(const void *key, size_t len, uint64_t h)
{
	h = xcni_fnv64(h, key, len);
	/* murmur3's 64-bit finaliser: FNV's low bits mix poorly for short keys. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

void maglev_permutation(const void *key, size_t key_len, uint32_t m, uint32_t *offset,
			uint32_t *skip)
{
	*offset = (uint32_t)(fnv1a64(key, key_len, XCNI_FNV64_BASIS) % m);
	*skip = (uint32_t)(fnv1a64(key, key_len, 0x84222325cbf29ce4ULL) % (m - 1)) + 1;
}

int maglev_is_prime(uint32_t m)
{
	if (m < 2)
		return 0;
	for (uint32_t d = 2; (uint64_t)d * d <= m; d++)
		if (m % d == 0)
			return 0;
	return 1;
}

int maglev_build(const struct maglev_backend *be, size_t n, uint32_t m, uint32_t *table)
{
	uint32_t *offset, *skip, *next;
	int32_t *owner;
	size_t filled = 0;

	if (!maglev_is_prime(m) || n >= m)
		return -EINVAL;
	if (!n) {
		memset(table, 0, m * sizeof(*table));
		return 0;
	}
	offset = calloc(n, sizeof(*offset));
	skip = calloc(n, sizeof(*skip));
	next = calloc(n, sizeof(*next));
	owner = malloc(m * sizeof(*owner));
	if (!offset || !skip || !next || !owner) {
		free(owner);
		free(next);
		free(skip);
		free(offset);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		maglev_permutation(be[i].key, be[i].key_len, m, &offset[i], &skip[i]);
	memset(owner, 0xff, m * sizeof(*owner));
	for (;;) {
		for (size_t i = 0; i < n; i++) {
			uint32_t c;

			/* next[i] < m: a permutation visits every entry once (m prime). */
			do {
				c = (uint32_t)((offset[i] + (uint64_t)next[i] * skip[i]) % m);
				next[i]++;
			} while (owner[c] >= 0);
			owner[c] = (int32_t)i;
			if (++filled == m)
				goto done;
		}
	}
done:
	for (uint32_t c = 0; c < m; c++)
		table[c] = be[owner[c]].id;
	free(owner);
	free(next);
	free(skip);
	free(offset);
	return 0;
}
