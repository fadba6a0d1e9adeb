/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mirrored-map writer: a map's contents as sorted (key, value) records,
 * the writes that make a map hold others, and the room writer that judges
 * what fits per owner (policy, Services, DNS patterns).
 */
#ifndef XCNI_MAPW_H
#define XCNI_MAPW_H

#include <stdbool.h>
#include <stddef.h>

/* A map's contents as sorted (key, value) records. */
/* A map's records as a writer knows them; dropped: those its last room sync left out. */
struct kvset {
	size_t n, ksz, vsz, dropped;
	unsigned char *d;
};

#define KV_REC(s, i) ((s)->d + (i) * ((s)->ksz + (s)->vsz))

enum { KV_UPSERT = 1, KV_DELETE = 2, KV_BOTH = 3, KV_DELFIRST = 4, KV_BORN = 8 };

/* 0 or -errno (mapw_del says -ENOENT too); step names the xcni_inject point. */
int mapw_put(int fd, const void *k, const void *v, const char *step);
int mapw_del(int fd, const void *k, const char *step);

/*
 * n entries (keys and vals: arrays of ksz and vsz bytes) in as few system
 * calls as the kernel allows: BPF_MAP_UPDATE_BATCH (a system call costs more
 * than the update itself; 10k Services with 10 endpoints each are 220k
 * entries), one by one where batches are not supported. 0 or -errno; *done
 * (if not NULL) counts what was written either way.
 */
int mapw_put_many(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz, size_t n,
		  const char *step, size_t *done);

/* Deletes n keys, batched as above; keys that are not there are skipped. The number deleted. */
size_t mapw_del_many(int fd, const void *keys, size_t ksz, size_t n);

/* memcmp of the first mapw_cmp_len bytes: qsort/bsearch over records (no context). */
extern int mapw_cmp_len;
int mapw_cmp(const void *a, const void *b);

/* Reads every (key, value) of a map, sorted by key. */
int mapw_load(int fd, size_t ksz, size_t vsz, struct kvset *s);

/*
 * Makes the map hold want (n records of stride bytes: key at 0, value at
 * voff); phase: KV_UPSERT, KV_DELETE, KV_BOTH, with KV_DELFIRST the deletes
 * first. *changed counts the writes.
 */
int mapw_sync(int fd, struct kvset *cur, const void *want, size_t n, size_t stride,
                       size_t voff, int phase, const char *step, size_t *changed);

/*
 * The room writer, every mirrored map's (docs/decisions/room-writer.md).
 * Makes map fd (max entries) hold what fits of want: n records of stride
 * bytes, key at 0, value at voff, each of owner owner_of(rec). What is gone
 * is deleted before anything is written. When want does not fit max: by
 * default the owner bringing the most records is closed whole (ties: the
 * first by name), then the next, until the rest fits; with share, each owner
 * is cut to an equal part instead (water-filling). Either way what fits is
 * written, never nothing, and one owner's many records cost that owner
 * alone. Stateless: each call judges again, so room freed reopens an owner
 * by itself. cur: the caller's view of the map, made its content (NULL: the
 * map is read). kept (the caller's n bools, or NULL) says which records went
 * in; written, deleted, dropped (not kept) count. 0 or -errno (the map as
 * far as the writer got, cur unchanged: the next call finishes it).
 */
struct mapw_room {
	int fd;
	size_t ksz, vsz, max;
	const char *step; /* xcni_inject's */
	const char *(*owner_of)(const void *rec);
	bool share;
	struct kvset *cur;
	bool *kept;
	size_t written, deleted, dropped;
	/*
	 * The judgement over several rooms (mapw_room_fit, closing): nmaps of
	 * them, maxv[k] each, used[k] taken whatever is judged (a versioned
	 * writer's old versions until its cleanup; NULL: none); need_of(rec,
	 * need) the entries rec takes in each. Unset: one room of max, a
	 * record one entry. The owner closed is the one taking the largest part
	 * of the rooms that are over. by_record: its records go from the last
	 * (the caller's order), only those taking room that is over, as far as
	 * needed (a record whole or not at all: a pod's policy), not all.
	 */
	size_t nmaps;
	const size_t *maxv, *used;
	void (*need_of)(const void *rec, size_t *need);
	bool by_record;
	/*
	 * What runs and who may hold what (closing; docs/decisions/room-writer.md
	 * "One rule"): held(rec) true is never closed (a running pod's policy, a
	 * Service frontend unchanged); it counts where it stands. cap: percent
	 * of each room one owner may take (0: 100); its held records counted
	 * first, then the rest in order: those past it closed (by_record, else
	 * all its records not held), capped[i] (the caller's n bools, or NULL)
	 * set for them, before any owner is closed for the room.
	 */
	bool (*held)(const void *rec);
	unsigned cap;
	bool *capped;
};

#define MAPW_ROOMS 8 /* nmaps at most */

int mapw_room_sync(struct mapw_room *m, const void *want, size_t n, size_t stride, size_t voff);

/*
 * Its judgement alone, every room writer's (fd, ksz, vsz, step, cur unused):
 * keep[i], m->dropped. 0, -ENOMEM, or -ENOSPC: what is used alone is over
 * (every owner closed).
 */
int mapw_room_fit(struct mapw_room *m, const void *recs, size_t n, size_t stride, bool *keep);

/* Every key (ksz bytes) of map fd, collected before anything is deleted: *out (free it), *n. */
int mapw_keys(int fd, size_t ksz, unsigned char **out, size_t *n);

#endif
