// SPDX-License-Identifier: Apache-2.0
/* New connections per source address (srclimit.h). */
#include <string.h>
#include <sys/random.h>

#include "lib/system/hash.h"
#include "lib/system/srclimit.h"

void srclim_init(struct srclim *l, unsigned int per_s, unsigned int burst)
{
	memset(l, 0, sizeof(*l));
	if (getrandom(&l->key, sizeof(l->key), GRND_NONBLOCK) != sizeof(l->key))
		l->key = XCNI_FNV64_BASIS ^ (uint64_t)(uintptr_t)l;
	l->interval_ns = 1000000000ULL / (per_s ? per_s : SRCLIM_PER_S);
	/* A source may be burst - 1 intervals ahead of the clock: burst at once. */
	l->burst_ns = l->interval_ns * ((burst ? burst : SRCLIM_BURST) - 1);
}

/* One connection charged to *tat, if it is not too far ahead of now. */
static bool charge(struct srclim *l, uint64_t *tat, uint64_t now)
{
	uint64_t t = *tat > now ? *tat : now;

	if (t > now + l->burst_ns) {
		l->refused++;
		return false;
	}
	*tat = t + l->interval_ns;
	return true;
}

bool srclim_allow(struct srclim *l, const uint8_t addr[16], uint64_t now)
{
	size_t set = (size_t)(xcni_fnv64(l->key, addr, 16) % SRCLIM_SETS) * SRCLIM_WAYS;
	struct srclim_src *free = NULL;

	for (size_t i = set; i < set + SRCLIM_WAYS; i++) {
		struct srclim_src *s = &l->src[i];

		if (s->tat && !memcmp(s->addr, addr, 16))
			return charge(l, &s->tat, now);
		/* Caught up with the clock: what it holds is what a new source starts with. */
		if (!free && s->tat <= now)
			free = s;
	}
	if (free) {
		memcpy(free->addr, addr, 16);
		free->tat = now;
		return charge(l, &free->tat, now);
	}
	l->overflowed++;
	return charge(l, &l->overflow_tat, now);
}
