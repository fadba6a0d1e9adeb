/* SPDX-License-Identifier: Apache-2.0 */
/*
 * New connections per source address, before anything else is done for them
 * (lib/system/http.c asks at accept, before a TLS handshake): each source may open
 * SRCLIM_BURST at once and SRCLIM_PER_S a second after that (a generic cell
 * rate: one "theoretical arrival time" per source).
 *
 * The table is bounded: SRCLIM_SETS sets of SRCLIM_WAYS sources, the set
 * chosen by a hash keyed at random when the table is made. A source whose
 * time has caught up with the clock is as good as absent and its place is
 * taken by the next new source; a new source that finds its set full of
 * sources still paying off their connections shares one bucket with the
 * other sources in that case (the overflow), so no source can push another's
 * account out, and the table never grows.
 */
#ifndef XCNID_SRCLIMIT_H
#define XCNID_SRCLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define SRCLIM_PER_S 16
#define SRCLIM_BURST 32
#define SRCLIM_WAYS 8
#define SRCLIM_SETS 128 /* 1024 sources at once: a node's pods with room to spare */

struct srclim {
	uint64_t key; /* the hash's basis: which set a source lands in is not guessable */
	uint64_t interval_ns, burst_ns;
	struct srclim_src {
		uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
		uint64_t tat; /* 0: free */
	} src[SRCLIM_SETS * SRCLIM_WAYS];
	uint64_t overflow_tat;
	uint64_t refused; /* connections refused in all */
	uint64_t overflowed; /* connections charged to the shared bucket */
};

/* A table allowing per_s a second and burst at once (0, 0: the defaults above). */
void srclim_init(struct srclim *l, unsigned int per_s, unsigned int burst);
/* Whether a new connection from addr (16 bytes) at now_ns may go on; a refusal is counted. */
bool srclim_allow(struct srclim *l, const uint8_t addr[16], uint64_t now_ns);

#endif
