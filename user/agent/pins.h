/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's pinned state (agent/pins.c): the pin dir made ready and its
 * maps checked before anything is loaded, the programs pinned and taken over
 * in every link, --uninstall.
 */
#ifndef XCNID_PINS_H
#define XCNID_PINS_H

struct bpf_object;
struct map_max;
struct bpf_program;
struct opts;

#include <linux/types.h>

#include "lib/system/bpfpin.h" /* xcni_pin_get */

/* The pin directory and its links/ on a bpffs, and the ABI of what is pinned there ours. */
int pin_dirs_ready(const char *pin_dir);
/*
 * Refuses, with the map and field named, a pinned map of obj whose layout
 * differs from what this build expects (maps of names and fragment maps are
 * made again instead; one the agent sized, or of other flags alone, is kept
 * and its size and flags put in mm for the later objects); 0 or -errno.
 */
int check_pinned_layout(const char *pin_dir, struct bpf_object *obj, struct map_max *mm, int *n);
/* The per-node maps sized from this node's memory and pods, put first in mm (before --map-max's). */
int map_sizes_node(struct map_max *mm, int *n);
/* The node's memory (sysinfo's totalram, /proc/meminfo's MemTotal) in bytes, or 0. */
__u64 node_mem_total(void);
/* Names maps larger than this build makes are kept at start (maps grow in this image). */
void pins_keep_grown(bool on);
/* The new programs swapped into every attachment the plugin made (TCX links, tc filters). */
int take_over_attachments(const char *pin_dir, int from_fd, int to_fd);
/* --uninstall: links, pins and (unless told otherwise) the masquerade tables removed. */
int uninstall(const struct opts *o);

#endif
