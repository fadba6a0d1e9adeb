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
/*
 * Entry key of the per-CPU map fd summed over its ncpus values, word by
 * word (a value of size bytes, all __u64): into sum. 0 or -errno.
 */
int mapw_percpu_sum(int fd, __u32 key, int ncpus, size_t size, void *sum);

#endif
