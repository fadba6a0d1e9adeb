// SPDX-License-Identifier: Apache-2.0
/* The incremental compilers' hash map (hmap.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/hmap.h"

int hmap_init(struct hmap *m, bool str, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	m->s = calloc(cap, sizeof(*m->s));
	if (!m->s)
		return -ENOMEM;
	m->mask = cap - 1;
	m->n = 0;
	m->str = str;
	m->klen = 0;
	return 0;
}

static int hmap_grow(struct hmap *m)
{
	struct hmap n;

	if (hmap_init(&n, m->str, m->mask + 1))
		return -ENOMEM;
	n.klen = m->klen;
	for (size_t i = 0; i <= m->mask; i++)
		if (m->s[i].k)
			*hmap_slot(&n, m->s[i].h, m->s[i].k) = m->s[i];
	n.n = m->n;
	free(m->s);
	*m = n;
	return 0;
}

/* Sets k's value; a string k must live as long as its entry. */
int hmap_put(struct hmap *m, uint64_t h, uintptr_t k, void *v)
{
	struct hslot *s;

	if (2 * (m->n + 1) > m->mask + 1 && hmap_grow(m))
		return -ENOMEM;
	s = hmap_slot(m, h, k);
	if (!s->k)
		m->n++;
	s->h = h;
	s->k = k;
	s->v = v;
	return 0;
}

void *hmap_del(struct hmap *m, uint64_t h, uintptr_t k)
{
	struct hslot *s = hmap_slot(m, h, k);
	size_t i, j;
	void *v;

	if (!s->k)
		return NULL;
	v = s->v;
	i = (size_t)(s - m->s);
	for (j = i;;) {
		size_t home;

		j = (j + 1) & m->mask;
		if (!m->s[j].k)
			break;
		home = m->s[j].h & m->mask;
		/* j's entry can fill the hole at i unless its home lies in (i, j]. */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			m->s[i] = m->s[j];
			i = j;
		}
	}
	m->s[i].k = 0;
	m->n--;
	return v;
}

void hmap_clear(struct hmap *m)
{
	if (m->n)
		memset(m->s, 0, (m->mask + 1) * sizeof(*m->s));
	m->n = 0;
}

void hmap_free(struct hmap *m)
{
	free(m->s);
	memset(m, 0, sizeof(*m));
}
