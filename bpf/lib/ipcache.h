/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The ipcache: which identity (and node) an address belongs to. */
#ifndef XCNI_IPCACHE_H
#define XCNI_IPCACHE_H

#include "maps.h"

static __always_inline struct xcni_ipcache_val *ipcache_lookup(__u32 addr)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = addr };

	return bpf_map_lookup_elem(&xcni_ipcache, &k);
}

static __always_inline __u32 ipcache_identity(__u32 addr)
{
	struct xcni_ipcache_val *v = ipcache_lookup(addr);

	return v ? v->identity : XCNI_ID_WORLD;
}

/* A label-set identity, or an address the ipcache names as a pod without labels. */
static __always_inline int identity_is_pod(__u32 id)
{
	return id == XCNI_ID_UNMANAGED || (id >= XCNI_ID_MIN_LABELS && id < XCNI_ID_CIDR_BASE);
}

#endif
