/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The underlay deny list: its prefixes as people write them, and the /16 and
 * /24 hashes in front of the IPv4 trie.
 */
#ifndef XCNI_PREFILTER_H
#define XCNI_PREFILTER_H

#include <stddef.h>

#include "xcni_shared.h"
#include "lib/system/cidr.h"

/*
 * "A.B.C.D/LEN" (LEN 1..32), "ADDR6/LEN" (LEN 1..128), or a bare address (its
 * /32 or /128) into p. Host bits are refused rather than cleared, and so is
 * /0 (it would drop the other nodes' Geneve too). 0, or -EINVAL with why
 * filled (what is wrong, without the argument itself).
 */
int xcni_prefilter_parse(const char *s, struct xcni_prefix *p, char *why, size_t len);

/*
 * Adds (delta 1) or takes back (delta -1) the marks prefix k puts in pf16 and
 * pf24. Add marks before the trie entry goes in, take them back after it is
 * gone, so the hashes never miss a prefix the trie holds. 0 or -errno (a full
 * hash: -ENOSPC, with what was marked undone).
 */
int xcni_prefilter_mark(int fd16, int fd24, const struct xcni_prefilter_key *k, int delta);

/*
 * One more generation for the XDP NodePort flow cache (fd: xcni_npgen,
 * bpf/lib/nodeport_cache.h): every entry made before is refused from the
 * next packet on. Its writers (xcnid after a generation, xcnictl after a
 * prefilter change: a hit skips the prefilter) write their maps first, so
 * a lost update between them still leaves every older entry refused.
 * 0 or -errno.
 */
int xcni_npgen_bump(int fd);

#endif
