/* SPDX-License-Identifier: Apache-2.0 */
/* The underlay deny list: the trie, and the /16 and /24 hashes in front of it. */
#ifndef XCNI_PREFILTER_H
#define XCNI_PREFILTER_H

#include "../../bpf/xcni_shared.h"

/*
 * Adds (delta 1) or takes back (delta -1) the marks prefix k puts in pf16 and
 * pf24. Add marks before the trie entry goes in, take them back after it is
 * gone, so the hashes never miss a prefix the trie holds. 0 or -errno (a full
 * hash: -ENOSPC, with what was marked undone).
 */
int xcni_prefilter_mark(int fd16, int fd24, const struct xcni_prefilter_key *k, int delta);

#endif
