/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The map writer's record sets, for polsync.c only: a map's contents as
 * sorted (key, value) records and the writes that make a map hold others.
 */
#ifndef XCNI_POLSYNC_KV_H
#define XCNI_POLSYNC_KV_H

#include <stdbool.h>
#include <stddef.h>

/* A map's contents as sorted (key, value) records. */
struct kvset {
	size_t n, ksz, vsz;
	unsigned char *d;
};

#define KV_REC(s, i) ((s)->d + (i) * ((s)->ksz + (s)->vsz))

enum { KV_UPSERT = 1, KV_DELETE = 2, KV_BOTH = 3, KV_DELFIRST = 4, KV_BORN = 8 };

/* 0 or -errno (polsync_kv_map_del says -ENOENT too); step names the xcni_inject point. */
int polsync_kv_map_put(int fd, const void *k, const void *v, const char *step);
int polsync_kv_map_del(int fd, const void *k, const char *step);

/* memcmp of the first polsync_kvset_cmp_len bytes: qsort/bsearch over records (no context). */
extern int polsync_kvset_cmp_len;
int polsync_kvset_cmp(const void *a, const void *b);

/* Reads every (key, value) of a map, sorted by key. */
int polsync_kvset_load(int fd, size_t ksz, size_t vsz, struct kvset *s);

/*
 * Makes the map hold want (n records of stride bytes: key at 0, value at
 * voff); phase: KV_UPSERT, KV_DELETE, KV_BOTH, with KV_DELFIRST the deletes
 * first. *changed counts the writes.
 */
int polsync_kvset_sync(int fd, struct kvset *cur, const void *want, size_t n, size_t stride,
                       size_t voff, int phase, const char *step, size_t *changed);

/* Which of n name records fit max, each namespace an equal part (keep[i]); how many do not. */
size_t polsync_kvset_names_fit(const void *recs, size_t n, size_t stride,
                               const char *(*ns_of)(const void *rec), size_t max, bool *keep);

/* How many keys a map holds (ksz <= 64). */
int polsync_kvset_count_keys(int fd, size_t ksz, size_t *n);

#endif
