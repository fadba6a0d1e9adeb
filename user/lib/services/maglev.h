/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
 * Software Network Load Balancer", NSDI 2016, section 3.4): a lookup table of
 * m entries (m prime) filled from each backend's permutation of the table.
 */
#ifndef XCNI_MAGLEV_H
#define XCNI_MAGLEV_H

#include <stddef.h>
#include <stdint.h>

/* A backend as Maglev sees it: its identity (hashed, so every node that
 * knows the same backends builds the same table) and the id the table holds. */
struct maglev_backend {
	const void *key;
	size_t key_len;
	uint32_t id;
};

/* The backend's permutation: offset in [0, m), skip in [1, m). */
void maglev_permutation(const void *key, size_t key_len, uint32_t m, uint32_t *offset,
			uint32_t *skip);

/*
 * Fills table[0..m) with backend ids. m must be a prime larger than n (the
 * paper's condition for every permutation to visit every entry). n == 0
 * fills zeros. 0, -EINVAL or -ENOMEM.
 */
int maglev_build(const struct maglev_backend *be, size_t n, uint32_t m, uint32_t *table);

/* 1 when m is prime. */
int maglev_is_prime(uint32_t m);

#endif
