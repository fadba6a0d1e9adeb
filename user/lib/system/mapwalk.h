/* SPDX-License-Identifier: Apache-2.0 */
#ifndef XCNI_MAPWALK_H
#define XCNI_MAPWALK_H

#include <linux/bpf.h>
#include <stddef.h>

typedef void (*mapw_walk_fn)(void *ctx, const void *key, const void *val);
/*
 * Entries of a hash or LPM map (info its bpf_map_get_info_by_fd; ncpus for a
 * per-CPU one), in batches where the kernel has them: fn sees each, if given.
 * How many, or -errno when it cannot be read.
 */
long mapw_walk(int fd, const struct bpf_map_info *info, int ncpus, mapw_walk_fn fn, void *ctx);

#endif
