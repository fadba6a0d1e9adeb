/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Service map writer's books, shared by svcsync.c (apply, cleanup) and
 * svcsync_load.c (the books read from the maps at open), and its map helpers
 * (extfe.c's too). Not an interface: svcsync.h is.
 */
#ifndef XCNI_SVCSYNC_INT_H
#define XCNI_SVCSYNC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/services/svcsync.h"

#define BE_KEY_LEN offsetof(struct xcni_backend, state) /* address, port, family */
#define SVC_IDS 65536 /* service id = its rev_nat index: a __u16, 0 unused */

struct be_ent {
	struct xcni_backend b;
	uint32_t id;
	uint32_t refs; /* frontends whose live slots name it */
};

struct fe_ent {
	struct xcni_svc_key key;
	struct xcni_svc v; /* as in xcni_svc */
	struct xcni_svcname who; /* as in xcni_svcname under v.id */
	uint32_t *ids; /* v.count + v.count_term backend ids, as in the live slots */
	bool seen; /* in the list being applied (false between applies) */
	bool drop; /* named by the delta being applied as gone */
	/* The version this apply replaced, deleted by cleanup. */
	bool old_pending;
	uint8_t old_version;
	uint32_t old_n;
	bool old_maglev;
};

/* A frontend that is gone, its entries awaiting cleanup. */
struct gone {
	uint32_t id;
	uint8_t version;
	uint32_t n;
	bool maglev;
};

/* A UDP frontend's backend that left it: its flows go from conntrack (ct_flush). */
struct flush {
	uint16_t rev_nat; /* the frontend's */
	uint32_t be_id;
	struct xcni_backend b;
};

struct svcsync {
	int fd_svc, fd_slot, fd_be, fd_revnat, fd_maglev, fd_name;
	int fd_svcbe; /* xcni_svcbe */
	struct xcni_svcbe_key *svcbe_del; /* queued for cleanup */
	size_t nsvcbe_del;
	int fd_ct; /* xcni_ct, for flushing UDP flows of removed backends; -1: none pinned */
	int fd_ct6; /* xcni_ct6, the same for IPv6 backends; -1: none pinned */
	int fd_ctstat; /* xcni_ctstat, where those deletions are counted; -1: none pinned */
	size_t max_svc, max_slot, max_be, max_revnat, max_maglev;
	size_t n_slot, n_maglev, n_revnat; /* entries in those maps */
	size_t n_ids; /* service ids held (svc_used's bits), a room of its own: SVC_IDS - 1 */
	struct fe_ent *fe; /* sorted by key */
	size_t nfe;
	struct be_ent *be; /* sorted by id (ids are handed out in increasing order) */
	uint32_t *by_key; /* indexes into be, sorted by BE_KEY_LEN bytes */
	size_t nbe;
	struct gone *gone;
	size_t ngone;
	size_t unref; /* backends that lost their last reference since the last cleanup (at most) */
	uint32_t next_be_id;
	uint32_t svc_hint; /* the service id handed out last */
	unsigned int share; /* percent of each room a namespace may take (svcsync_set_ns_share) */
	struct svcsync_closed *closed; /* namespaces the last full apply closed for room */
	size_t nclosed;
	uint8_t svc_used[SVC_IDS / 8];
};

static inline int fe_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct fe_ent *)a)->key, &((const struct fe_ent *)b)->key,
		      sizeof(struct xcni_svc_key));
}

static inline int be_id_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct be_ent *)a)->id, y = ((const struct be_ent *)b)->id;

	return x < y ? -1 : x > y;
}

static inline struct be_ent *be_by_id(struct svcsync *ss, uint32_t id)
{
	struct be_ent probe = { .id = id };

	return bsearch(&probe, ss->be, ss->nbe, sizeof(*ss->be), be_id_cmp);
}

/* The xcni_svcbe key of service id naming backend b. */
static inline struct xcni_svcbe_key svcbe_key(uint32_t id, const struct xcni_backend *b)
{
	struct xcni_svcbe_key k = { .svc_id = id, .port = b->port, .family = b->family };

	memcpy(k.addr, b->addr, sizeof(k.addr));
	return k;
}

/* The xcni_svcbe keys of service id naming backends ids[0..n) (those known) into k: how many. */
static inline size_t svcbe_keys(struct svcsync *ss, uint32_t id, const uint32_t *ids, size_t n,
				struct xcni_svcbe_key *k)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		const struct be_ent *e = be_by_id(ss, ids[i]);

		if (e)
			k[m++] = svcbe_key(id, &e->b);
	}
	return m;
}

static inline bool svc_id_used(const struct svcsync *ss, uint32_t id)
{
	return ss->svc_used[id / 8] & (1u << (id % 8));
}

static inline void svc_id_set(struct svcsync *ss, uint32_t id, bool used)
{
	if (used != svc_id_used(ss, id))
		ss->n_ids += used ? 1 : (size_t)-1;
	if (used)
		ss->svc_used[id / 8] |= (uint8_t)(1u << (id % 8));
	else
		ss->svc_used[id / 8] &= (uint8_t)~(1u << (id % 8));
}

#endif
