/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Domain names of ClusterNetworkPolicy's domainNames peers: normalised as
 * the API writes them, and in the flat form and hash bpf/lib/dns.h matches
 * answers by (xcni_shared.h's xcni_fqdn_step). Pure: no maps, no syscalls.
 */
#ifndef XCNI_FQDN_H
#define XCNI_FQDN_H

#include <stddef.h>
#include <stdint.h>

/*
 * in as the API allows it: a name of DNS labels (letters, digits, '-', not
 * at a label's ends; 1..63 bytes each, at least two labels), or '*.' and
 * such a name (a wildcard: one or more labels before it); one trailing dot
 * allowed. Into out (cap bytes, 254 are enough): lower-cased, no trailing
 * dot. *wild: 1 for a wildcard (out keeps its "*."). 0 or -EINVAL (what is
 * wrong in why, a static string), -ENOSPC.
 */
int fqdn_normalise(const char *in, char *out, size_t cap, int *wild, const char **why);

/*
 * A normalised name (a wildcard's suffix: what follows "*.") in the flat form
 * (length-prefixed labels, no root): its length, or -EINVAL.
 */
int fqdn_flat(const char *name, uint8_t out[256]);

/* A flat name of len bytes as text into out (cap bytes), "*." before it
 * when wild: a pattern as the policy wrote it. */
void fqdn_unflat(const uint8_t *flat, size_t len, int wild, char *out, size_t cap);

/* The hash of a flat name (or suffix) of len bytes, taken from its last
 * byte to its first, as bpf/lib/dns.h takes it. */
uint64_t fqdn_hash(const uint8_t *flat, size_t len);

#endif
