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
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "lib/system/killpoint.h"
#include "lib/system/mapw.h"

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
	unsigned char key[512], next[512];
	size_t cap = 0;
	bool first = true;

	s->n = 0;
	s->ksz = ksz;
	s->vsz = vsz;
	s->d = NULL;
	while (bpf_map_get_next_key(fd, first ? NULL : key, next) == 0) {
		first = false;
		memcpy(key, next, ksz);
		if (s->n == cap) {
			unsigned char *d = realloc(s->d, (cap = cap ? cap * 2 : 64) * (ksz + vsz));

			if (!d)
				return -ENOMEM;
			s->d = d;
		}
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

static int kvbatch_flush(struct kvbatch *b)
{
	size_t done = 0;

	while (done < b->n && !kv_no_batch) {
		__u32 cnt = (__u32)(b->n - done);
		int ret = xcni_inject(b->step);

		if (ret)
			return ret;
		if (!bpf_map_update_batch(b->fd, b->k + done * b->ksz, b->v + done * b->vsz, &cnt,
					  NULL)) {
			done += cnt;
			continue;
		}
		ret = -errno;
		if (cnt || (ret != -EINVAL && ret != -EOPNOTSUPP && ret != -ENOTSUP && ret != -524))
			return ret; /* the polsync caller diffs whole next time */
		kv_no_batch = true; /* ENOTSUPP (524) and EINVAL: no batch ops here */
	}
	for (; done < b->n; done++) {
		int ret = mapw_put(b->fd, b->k + done * b->ksz, b->v + done * b->vsz,
		                             b->step);

		if (ret)
			return ret;
	}
	b->n = 0;
	return 0;
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

/*
 * The room writer (mapw.h; docs/decisions/room-writer.md). Which owners are
 * closed depends on want and max alone, never on what the map holds: the map
 * is made to hold exactly want less the closed owners, the deletes first, so
 * its old content never takes the room of the new, and room freed reopens an
 * owner at the next call with nothing remembered.
 */
int mapw_room_sync(struct mapw_room *m, const void *want, size_t n, size_t stride, size_t voff,
		   size_t ooff)
{
	size_t rec = m->ksz + m->vsz, left = n, keep = 0;
	size_t *cnt = calloc(m->nowner + 1, sizeof(*cnt));
	unsigned char *nd = malloc((n ? n : 1) * rec);
	struct kvset cur = { 0 };
	uint32_t o;
	int err = -ENOMEM;

	m->written = m->deleted = m->dropped = 0;
	if (!cnt || !nd)
		goto out;
	for (size_t i = 0; i < m->nowner; i++)
		m->closed[i] = false;
	for (size_t i = 0; i < n; i++) {
		memcpy(&o, (const unsigned char *)want + i * stride + ooff, sizeof(o));
		if (o >= m->nowner) {
			err = -EINVAL;
			goto out;
		}
		cnt[o]++;
	}
	/* The owner bringing the most closed, then the next, until the rest fits. */
	while (left > m->max) {
		size_t big = m->nowner;

		for (size_t i = 0; i < m->nowner; i++)
			if (!m->closed[i] && cnt[i] && (big == m->nowner || cnt[i] > cnt[big]))
				big = i;
		m->closed[big] = true;
		left -= cnt[big];
		m->dropped += cnt[big];
	}
	for (size_t i = 0; i < n; i++) {
		const unsigned char *w = (const unsigned char *)want + i * stride;

		memcpy(&o, w + ooff, sizeof(o));
		if (m->closed[o])
			continue;
		memcpy(nd + keep * rec, w, m->ksz);
		memcpy(nd + keep++ * rec + m->ksz, w + voff, m->vsz);
	}
	kv_sort(nd, keep, m->ksz, m->vsz);
	if (!(err = mapw_load(m->fd, m->ksz, m->vsz, &cur)))
		err = kv_merge(m->fd, &cur, nd, keep, KV_DELETE, m->step, &m->deleted) ?:
		      kv_merge(m->fd, &cur, nd, keep, KV_UPSERT, m->step, &m->written);
out:
	free(cnt);
	free(nd);
	free(cur.d);
	return err;
}

int mapw_count_keys(int fd, size_t ksz, size_t *n)
{
	unsigned char key[64], next[64];
	bool first = true;

	*n = 0;
	while (bpf_map_get_next_key(fd, first ? NULL : key, next) == 0) {
		first = false;
		memcpy(key, next, ksz);
		(*n)++;
	}
	return 0;
}
