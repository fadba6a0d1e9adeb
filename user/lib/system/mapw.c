// SPDX-License-Identifier: Apache-2.0
/*
 * The map writer's record sets (mapw.h): a map's contents read into
 * sorted (key, value) records, made to hold another set with the fewest
 * writes (batched where the kernel has batch updates), and the room writer
 * (what fits per owner, deletes first). Every write and delete goes through
 * mapw_put/mapw_del, where a test can inject a failure.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "lib/system/killpoint.h"
#include "lib/system/mapw.h"
#include "lib/system/util.h"

/*
 * Every write and delete the apply and the cleanup make goes through these,
 * so a failure can be injected before each (xcni_inject, one step name per
 * kind of write: "apply-ipcache", "apply-entry", "apply-flip", ...) and a
 * test can walk them all (test_polinject's test_failure_at_every_write).
 * 0 or -errno; mapw_del says -ENOENT too, which most callers take as done.
 */
int mapw_put(int fd, const void *k, const void *v, const char *step)
{
	return xcni_inject(step) ?: (bpf_map_update_elem(fd, k, v, BPF_ANY) ? -errno : 0);
}

int mapw_del(int fd, const void *k, const char *step)
{
	return xcni_inject(step) ?: (bpf_map_delete_elem(fd, k) ? -errno : 0);
}

int mapw_cmp_len;
int mapw_cmp(const void *a, const void *b)
{
	return memcmp(a, b, mapw_cmp_len);
}

/* Reads every (key, value) of a map. */
int mapw_load(int fd, size_t ksz, size_t vsz, struct kvset *s)
{
	unsigned char key[512];
	size_t cap = 0;

	s->n = 0;
	s->ksz = ksz;
	s->vsz = vsz;
	s->d = NULL;
	/* The kernel reads a key before it writes the next: one buffer for both. */
	for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, key); prev = key) {
		if (xcni_grow(&s->d, &cap, s->n, ksz + vsz))
			return -ENOMEM;
		if (bpf_map_lookup_elem(fd, key, KV_REC(s, s->n) + ksz))
			continue; /* deleted under us */
		memcpy(KV_REC(s, s->n), key, ksz);
		s->n++;
	}
	mapw_cmp_len = (int)ksz;
	if (s->n)
		qsort(s->d, s->n, ksz + vsz, mapw_cmp);
	return 0;
}

/*
 * Upserts gathered for one BPF_MAP_UPDATE_BATCH: a whole fill (start, 100k
 * pods: 200k ipcache and podname entries) costs a few hundred syscalls, not
 * one per entry. A kernel without batch updates for the map type gets them one
 * by one. Order within a map does not matter: each key is written once.
 */
#define KV_BATCH 4096

struct kvbatch {
	int fd;
	const char *step; /* xcni_inject's, before each write */
	size_t ksz, vsz, n;
	unsigned char *k, *v;
};

static bool kv_no_batch; /* the kernel refused a batch once: one by one from then on */

/* See mapw.h. */
int mapw_put_many(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz, size_t n,
		  const char *step, size_t *done)
{
	const unsigned char *k = keys, *v = vals;
	size_t i = 0;
	int ret = 0;

	while (i < n && !kv_no_batch) {
		__u32 cnt = (__u32)(n - i > UINT32_MAX ? UINT32_MAX : n - i);

		if ((ret = xcni_inject(step)))
			goto out;
		if (!bpf_map_update_batch(fd, k + i * ksz, v + i * vsz, &cnt, NULL)) {
			i += cnt;
			continue;
		}
		ret = -errno;
		i += cnt;
		if (ret != -EINVAL && ret != -EOPNOTSUPP && ret != -ENOTSUP && ret != -524)
			goto out;
		/* ENOTSUPP (524) and EINVAL: no batch ops here; the rest one by one. */
		kv_no_batch = !cnt;
		break;
	}
	for (ret = 0; i < n; i++)
		if ((ret = mapw_put(fd, k + i * ksz, v + i * vsz, step)))
			break;
out:
	if (done)
		*done = i;
	return ret;
}

/* See mapw.h. */
size_t mapw_del_many(int fd, const void *keys, size_t ksz, size_t n)
{
	const unsigned char *k = keys;
	size_t i = 0, deleted = 0;

	while (i < n) {
		__u32 cnt = (__u32)(n - i > UINT32_MAX ? UINT32_MAX : n - i);
		bool ok = !bpf_map_delete_batch(fd, k + i * ksz, &cnt, NULL);

		/* A batch stops at its first failure: cnt were deleted before it. */
		i += cnt;
		deleted += cnt;
		if (ok)
			continue;
		if (errno == ENOENT) {
			i++;
			continue;
		}
		for (; i < n; i++)
			deleted += !bpf_map_delete_elem(fd, k + i * ksz);
	}
	return deleted;
}

static int kvbatch_flush(struct kvbatch *b)
{
	int ret = mapw_put_many(b->fd, b->k, b->ksz, b->v, b->vsz, b->n, b->step, NULL);

	b->n = 0;
	return ret; /* an error: the polsync caller diffs whole next time */
}

static int kvbatch_add(struct kvbatch *b, const unsigned char *k, const unsigned char *v)
{
	if (!b->k) {
		b->k = malloc(KV_BATCH * b->ksz);
		b->v = malloc(KV_BATCH * b->vsz);
		if (!b->k || !b->v)
			return -ENOMEM;
	}
	memcpy(b->k + b->n * b->ksz, k, b->ksz);
	memcpy(b->v + b->n * b->vsz, v, b->vsz);
	return ++b->n == KV_BATCH ? kvbatch_flush(b) : 0;
}

/* One merge of want (nd: n sorted records) against cur: the writes ops asks for. */
static int kv_merge(int fd, const struct kvset *cur, const unsigned char *nd, size_t n, int ops,
		    const char *step, size_t *changed)
{
	size_t ksz = cur->ksz, vsz = cur->vsz, i, j;
	struct kvbatch b = { .fd = fd, .step = step, .ksz = ksz, .vsz = vsz };
	int err = 0;

	for (i = 0, j = 0; i < n || j < cur->n;) {
		const unsigned char *w = i < n ? nd + i * (ksz + vsz) : NULL;
		const unsigned char *c = j < cur->n ? KV_REC(cur, j) : NULL;
		int cmp = !w ? 1 : !c ? -1 : memcmp(w, c, ksz);

		if ((ops & KV_UPSERT) && (cmp < 0 || (cmp == 0 && memcmp(w + ksz, c + ksz, vsz)))) {
			if ((err = kvbatch_add(&b, w, w + ksz)))
				goto out;
			(*changed)++;
		}
		if (cmp > 0 && (ops & KV_DELETE)) {
			if ((err = mapw_del(fd, c, step)) && err != -ENOENT)
				goto out;
			err = 0;
			(*changed)++;
		}
		if (cmp <= 0)
			i++;
		if (cmp >= 0)
			j++;
	}
	err = kvbatch_flush(&b);
out:
	free(b.k);
	free(b.v);
	return err;
}

/*
 * Makes the map hold want (n records of stride bytes: key at 0, value at
 * voff), in two phases that may be run apart: KV_UPSERT writes what is new
 * or changed, KV_DELETE removes what is no longer wanted and records want
 * as the map's contents. KV_DELFIRST (with both): the deletes before the
 * upserts, for a map whose old and new contents together may not fit.
 */
/* n packed records sorted by key (the compiler hands most over sorted: check first). */
static void kv_sort(unsigned char *nd, size_t n, size_t ksz, size_t vsz)
{
	mapw_cmp_len = (int)ksz;
	for (size_t i = 1; i < n; i++) {
		if (memcmp(nd + (i - 1) * (ksz + vsz), nd + i * (ksz + vsz), ksz) > 0) {
			qsort(nd, n, ksz + vsz, mapw_cmp);
			break;
		}
	}
}

int mapw_sync(int fd, struct kvset *cur, const void *want, size_t n, size_t stride,
                       size_t voff, int phase, const char *step, size_t *changed)
{
	size_t ksz = cur->ksz, vsz = cur->vsz, i;
	unsigned char *nd = n ? malloc(n * (ksz + vsz)) : NULL;
	int err = 0;

	if (n && !nd)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const unsigned char *w = (const unsigned char *)want + i * stride;

		memcpy(nd + i * (ksz + vsz), w, ksz);
		memcpy(nd + i * (ksz + vsz) + ksz, w + voff, vsz);
	}
	kv_sort(nd, n, ksz, vsz);
	if ((phase & KV_DELFIRST) && (phase & KV_BOTH) == KV_BOTH)
		err = kv_merge(fd, cur, nd, n, KV_DELETE, step, changed) ?:
		      kv_merge(fd, cur, nd, n, KV_UPSERT, step, changed);
	else
		err = kv_merge(fd, cur, nd, n, phase & KV_BOTH, step, changed);
	if (err || !(phase & KV_DELETE)) {
		/* cur still describes the map's old keys, for the delete phase. */
		free(nd);
		return err;
	}
	free(cur->d);
	cur->d = nd;
	cur->n = n;
	return 0;
}

/* mapw_room_fit's qsort context (qsort has none). */
static const void *fit_recs;
static size_t fit_stride;
static const struct mapw_room *fit_m;

#define FIT_REC(i) ((const char *)fit_recs + (i) * fit_stride)

/* A record's entries in each room: need_of's, or one in the one. */
static void fit_need(const struct mapw_room *m, const void *rec, size_t *need)
{
	memset(need, 0, MAPW_ROOMS * sizeof(*need));
	need[0] = !m->need_of;
	if (m->need_of)
		m->need_of(rec, need);
}

/* By owner, then record order. */
static int fit_cmp(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(fit_m->owner_of(FIT_REC(i)), fit_m->owner_of(FIT_REC(j)));

	return c ? c : (i > j) - (i < j);
}

/* Rooms over: used and added past max (bit k). */
static unsigned fit_over(const size_t *used, const size_t *add, const size_t *max, size_t nm)
{
	unsigned over = 0;

	for (size_t k = 0; k < nm; k++)
		over |= (unsigned)(used[k] + add[k] > max[k]) << k;
	return over;
}

static bool fit_held(const struct mapw_room *m, const void *rec)
{
	return m->held && m->held(rec);
}

/*
 * One owner's records ix[a, b) within its cap: its held ones counted first
 * (never closed), then the rest in order; by_record each that would take it
 * past is closed (the next still get their turn), else all but the held once
 * the whole is past.
 */
static void fit_cap(const struct mapw_room *m, const size_t *ix, size_t a, size_t b,
		    const size_t *max, size_t nm, bool *keep, size_t *add, size_t *dropped)
{
	size_t tot[MAPW_ROOMS] = { 0 }, need[MAPW_ROOMS];
	bool past = false;

	/* pass 0: the held; 1: the rest in order; 2 (whole, past): the rest closed */
	for (int pass = 0; pass < 3; pass++)
		for (size_t r = a; r < b; r++) {
			const void *rec = FIT_REC(ix[r]);
			bool fits = true;

			if (fit_held(m, rec) != !pass || (pass == 2 && (m->by_record || !past)))
				continue;
			fit_need(m, rec, need);
			for (size_t k = 0; k < nm; k++)
				fits = fits && (tot[k] + need[k]) * 100 <= max[k] * m->cap;
			past = past || !fits;
			if (pass == 0 || (pass == 1 && (fits || !m->by_record))) {
				for (size_t k = 0; k < nm; k++)
					tot[k] += need[k];
				continue;
			}
			keep[ix[r]] = false;
			if (m->capped)
				m->capped[ix[r]] = true;
			++*dropped;
			for (size_t k = 0; k < nm; k++)
				add[k] -= need[k];
		}
}

/*
 * The room writer's judgement alone (mapw.h), every room writer's: which of
 * the n records go in (keep[i]), m->dropped how many do not. Judged on
 * want, what stays used and the rooms alone, never on what the maps hold
 * of want. Closing: first each owner's cap (fit_cap); then the owner taking
 * the largest part of the rooms that are over (its entries over each room's
 * size, summed, its held ones too; one room: the most records; ties: the
 * first by name) is closed, whole or by_record from its last record as far
 * as needed, never a held record, then the next, until the rest fits.
 * Sharing (one room): the biggest owner's last record is cut, then the
 * biggest again (ties: the last by name), until the rest fits: each owner an
 * equal part, an owner under it keeps all, the first by name one more.
 */
int mapw_room_fit(struct mapw_room *m, const void *recs, size_t n, size_t stride, bool *keep)
{
	size_t nm = m->nmaps ? m->nmaps : 1, max[MAPW_ROOMS], used[MAPW_ROOMS] = { 0 };
	size_t add[MAPW_ROOMS] = { 0 }, need[MAPW_ROOMS], *ix, *start, *gneed;
	size_t ngroups = 0, dropped = 0;
	bool capping = false;
	unsigned over;
	int err = 0;

	m->dropped = 0;
	fit_recs = recs;
	fit_stride = stride;
	fit_m = m;
	for (size_t k = 0; k < nm; k++) {
		max[k] = m->maxv ? m->maxv[k] : m->max;
		used[k] = m->used ? m->used[k] : 0;
	}
	for (size_t i = 0; i < n; i++) {
		keep[i] = true;
		if (m->capped)
			m->capped[i] = false;
		fit_need(m, FIT_REC(i), need);
		for (size_t k = 0; k < nm; k++)
			add[k] += need[k];
	}
	/* every record together within one owner's cap: no owner is past it */
	for (size_t k = 0; !m->share && m->cap && m->cap < 100 && k < nm; k++)
		capping = capping || add[k] * 100 > max[k] * m->cap;
	if (!capping && !fit_over(used, add, max, nm))
		return 0;
	ix = malloc((n + 1) * sizeof(*ix));
	start = malloc((n + 1) * sizeof(*start));
	gneed = calloc((n + 1) * nm, sizeof(*gneed));
	for (size_t i = 0; ix && i < n; i++)
		ix[i] = i;
	if (!ix || !start || !gneed) {
		err = -ENOMEM;
		goto out;
	}
	qsort(ix, n, sizeof(*ix), fit_cmp); /* insertion sort would be quadratic */
	for (size_t i = 0; i < n; i++)
		if (!i || strcmp(m->owner_of(FIT_REC(ix[i])), m->owner_of(FIT_REC(ix[i - 1]))))
			start[ngroups++] = i;
	start[ngroups] = n;
	for (size_t g = 0; g < ngroups; g++) {
		if (capping)
			fit_cap(m, ix, start[g], start[g + 1], max, nm, keep, add, &dropped);
		for (size_t r = start[g]; r < start[g + 1]; r++) {
			fit_need(m, FIT_REC(ix[r]), need);
			for (size_t k = 0; keep[ix[r]] && k < nm; k++)
				gneed[g * nm + k] += need[k];
		}
	}
	while ((over = fit_over(used, add, max, nm))) {
		size_t big = ngroups;
		double best = 0;

		for (size_t g = 0; g < ngroups; g++) {
			double part = 0;

			for (size_t k = 0; k < nm; k++)
				if (over >> k & 1)
					part += (double)gneed[g * nm + k] / (double)(max[k] ? max[k] : 1);
			if (part > best || (m->share && part > 0 && part == best)) {
				best = part;
				big = g;
			}
		}
		if (big == ngroups) {
			err = -ENOSPC; /* what stays used (and held) is over alone */
			break;
		}
		if (m->share) {
			/* one room, a record one entry: the biggest owner's last kept record
			 * (ties: the last by name), then the biggest again */
			keep[ix[start[big] + --gneed[big]]] = false;
			dropped++;
			add[0]--;
			continue;
		}
		for (size_t r = start[big + 1]; r-- > start[big];) {
			bool helps = !m->by_record;

			if (!keep[ix[r]] || fit_held(m, FIT_REC(ix[r])))
				continue;
			fit_need(m, FIT_REC(ix[r]), need);
			over = fit_over(used, add, max, nm);
			for (size_t k = 0; k < nm; k++)
				helps = helps || (need[k] && (over >> k & 1));
			if (!helps)
				continue;
			keep[ix[r]] = false;
			dropped++;
			for (size_t k = 0; k < nm; k++)
				add[k] -= need[k];
		}
		memset(gneed + big * nm, 0, nm * sizeof(*gneed)); /* judged: never again */
	}
out:
	free(ix);
	free(start);
	free(gneed);
	m->dropped = dropped;
	return err;
}

/*
 * The room writer (mapw.h; docs/decisions/room-writer.md). Which records go
 * in depends on want and max alone, never on what the map holds: the map is
 * made to hold exactly want less what did not fit, the deletes first, so its
 * old content never takes the room of the new, and room freed reopens an
 * owner at the next call with nothing remembered.
 */
int mapw_room_sync(struct mapw_room *m, const void *want, size_t n, size_t stride, size_t voff)
{
	size_t rec = m->ksz + m->vsz, keep = 0;
	bool *kept = m->kept ? m->kept : malloc((n ? n : 1) * sizeof(*kept));
	unsigned char *nd = malloc((n ? n : 1) * rec);
	struct kvset own = { 0 }, *cur = m->cur ? m->cur : &own;
	int err = -ENOMEM;

	m->written = m->deleted = 0;
	if (!kept || !nd || (err = mapw_room_fit(m, want, n, stride, kept)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *w = (const unsigned char *)want + i * stride;

		if (!kept[i])
			continue;
		memcpy(nd + keep * rec, w, m->ksz);
		memcpy(nd + keep++ * rec + m->ksz, w + voff, m->vsz);
	}
	kv_sort(nd, keep, m->ksz, m->vsz);
	if ((err = m->cur ? 0 : mapw_load(m->fd, m->ksz, m->vsz, &own)) ||
	    (err = kv_merge(m->fd, cur, nd, keep, KV_DELETE, m->step, &m->deleted)) ||
	    (err = kv_merge(m->fd, cur, nd, keep, KV_UPSERT, m->step, &m->written)))
		goto out;
	/* cur (the caller's view) is the map's content now */
	free(cur->d);
	cur->d = nd;
	cur->n = keep;
	nd = NULL;
out:
	if (!m->kept)
		free(kept);
	free(nd);
	free(own.d);
	return err;
}

int mapw_keys(int fd, size_t ksz, unsigned char **out, size_t *n)
{
	unsigned char *keys = NULL;
	size_t cap = 0;

	for (*n = 0;; ++*n) {
		if (xcni_grow(&keys, &cap, *n, ksz)) {
			free(keys);
			return -ENOMEM;
		}
		if (bpf_map_get_next_key(fd, *n ? keys + (*n - 1) * ksz : NULL, keys + *n * ksz))
			break;
	}
	*out = keys;
	return 0;
}
