/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maps grown online (docs/decisions/map-growth.md). The
 * running agent counts xcni_ct and xcni_ct6 every GROW_CHECK_MS; one past
 * --map-grow percent of its entries, or a map the agent writes that cannot
 * hold what a writer wants (grow_ask: the ipcache, the Service and policy maps), makes
 * it stop its loop and exec itself (grow_exec). The new image grows the map
 * before it loads (grow_prepare: a map twice the size or more, the entries
 * copied, the old one pinned under grow/ and the new one renamed over its
 * name), loads and takes over every attachment as any restart does, then
 * copies what the old map got meanwhile with BPF_NOEXIST and lets it go
 * (grow_finish).
 */
#ifndef XCNID_GROW_H
#define XCNID_GROW_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct map_max;
struct json_t;

#define GROW_PCT_DEFAULT 90 /* --map-grow: a map this full (percent) is doubled; 0: never */
#define GROW_CHECK_MS 2000

/*
 * The fill looked at when due (*at: CLOCK_MONOTONIC ms of the next look, 0 at
 * first); a map to double sets *stop (the loop ends, main calls grow_exec).
 * The poll timeout: timeout, or less until the next look.
 */
int grow_tick(const char *pin_dir, unsigned int pct, uint64_t *at, volatile sig_atomic_t *stop,
	      int timeout);
/*
 * A writer of the agent's wants more entries in map than it has room for:
 * it is grown at the next look, to the doubling that holds them, at most
 * its ceiling and once a GROW_GAP_MS; what does not fit meanwhile stays out.
 * buf: what its closure's log line says, "growing MAP to N entries" or,
 * growth off or at the ceiling, "raise --map-max"; NULL: a map not grown.
 */
const char *grow_ask(const char *map, size_t more, char *buf, size_t len);
/* A growth grow_tick asked for: this image replaced by a new one told to do it; else 0. -errno. */
int grow_exec(char **argv);
/* At start, before anything loads: each map the previous image asked for doubled and
 * pinned; pct: --map-grow (0: grow_ask asks nothing). */
int grow_prepare(const char *pin_dir, unsigned int pct);
/*
 * What each old map got since the copy written into the new one (never over
 * an entry it has): once loaded, before the take-over (so that only what the
 * old programs make in the take-over's moment is left), and again once
 * taken_over, when the old one is unpinned; the sizes asked (mm) kept for
 * the metric and status.
 */
int grow_finish(const char *pin_dir, const struct map_max *mm, int n, bool taken_over);
/* xcni_map_grown_total{map} (doublings past the size asked) onto f. */
void grow_prom(FILE *f);
/* [{map, from, to, last_ms}]: the maps grown past the size asked. */
struct json_t *grow_json(void);

#endif
