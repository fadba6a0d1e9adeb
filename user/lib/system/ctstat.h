/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What became of conntrack entries (xcni_ctstat, bpf/xcni_shared.h): read by
 * the metrics page and xcnictl, added to by xcnid when it deletes entries
 * itself. LRU eviction is the one way out that no one counts: it is what
 * created - deleted - entries present leaves.
 */
#ifndef XCNI_CTSTAT_H
#define XCNI_CTSTAT_H

#include <stdint.h>

#include "xcni_shared.h"

/* Both slots summed over the CPUs into *out. 0 or -errno. */
int ctstat_read(int fd, struct xcni_ctstat *out);
/*
 * Adds n entries xcnid deleted to the user slot (CPU 0's value; the programs
 * never write that slot, and one xcnid at a time does). 0 or -errno.
 */
int ctstat_add_deleted(int fd, uint64_t n);
/* Evicted = created - deleted - present, never below 0. */
uint64_t ctstat_evicted(const struct xcni_ctstat *st, long entries);

#endif
