// SPDX-License-Identifier: Apache-2.0
/*
 * The map writer's record sets (polsync_kv.h): a map's contents read into
 * sorted (key, value) records, made to hold another set with the fewest
 * writes (batched where the kernel has batch updates), and the names for
 * people fitted per namespace. Every write and delete goes through
 * polsync_kv_map_put/polsync_kv_map_del, where a test can inject a failure.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "lib/system/killpoint.h"
#include "lib/policy/polsync_kv.h"

/*
 * Every write and delete the apply and the cleanup make goes through these,
 * so a failure can be injected before each (xcni_inject, one step name per
 * kind of write: "apply-ipcache", "apply-entry", "apply-flip", ...) and a
 * test can walk them all (test_polinject's test_failure_at_every_write).
 * 0 or -errno; polsync_kv_map_del says -ENOENT too, which most callers take as done.
 */
int polsync_kv_map_put(int fd, const void *k, const void *v, const char *step)
{
	return xcni_inject(step) ?: (bpf_map_update_elem(fd, k, v, BPF_ANY) ? -errno : 0);
}

int polsync_kv_map_del(int fd, const void *k, const char *step)
{
	return xcni_inject(step) ?: (bpf_map_delete_elem(fd, k) ? -errno : 0);
}

int polsync_kvset_cmp_len;
int polsync_kvset_cmp(const void *a, const void *b)
{
	return memcmp(a, b, polsync_kvset_cmp_len);
}

/* Reads every (key, value) of a map. */
int polsync_kvset_load(int fd, size_t ksz, size_t vsz, struct kvset *s)
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
	polsync_kvset_cmp_len = (int)ksz;
	if (s->n)
		qsort(s->d, s->n, ksz + vsz, polsync_kvset_cmp);
	return 0;
}

/* polsync_kvset_names_fit's qsort context (qsort has none). */
static const void *names_recs;
static size_t names_stride;
static const char *(*names_ns_of)(const void *rec);

static int names_cmp(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(names_ns_of((const char *)names_recs + i * names_stride),
		       names_ns_of((const char *)names_recs + j * names_stride));

	return c ? c : (i > j) - (i < j);
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
		int ret = polsync_kv_map_put(b->fd, b->k + done * b->ksz, b->v + done * b->vsz,
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

/*
 * Makes the map hold want (n records of stride bytes: key at 0, value at
 * voff), in two phases that may be run apart: KV_UPSERT writes what is new
 * or changed, KV_DELETE removes what is no longer wanted and records want
 * as the map's contents.
 */
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
			if ((err = polsync_kv_map_del(fd, c, step)) && err != -ENOENT)
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
int polsync_kvset_sync(int fd, struct kvset *cur, const void *want, size_t n, size_t stride,
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
	polsync_kvset_cmp_len = (int)ksz;
	/* The compiler hands most arrays over sorted: check before sorting. */
	for (i = 1; i < n; i++) {
		if (memcmp(nd + (i - 1) * (ksz + vsz), nd + i * (ksz + vsz), ksz) > 0) {
			qsort(nd, n, ksz + vsz, polsync_kvset_cmp);
			break;
		}
	}
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
 * The names for people (identity labels, policy and pod names) serve xcnictl
 * and the flow records, never the data plane: a map of them that cannot hold
 * the cluster's never refuses policy. What fits is written, each namespace
 * given an equal part of the map when some want more (water-filling: a
 * namespace under the share keeps all of its names, the rest split what is
 * left), so one namespace's many objects cost only its own names. keep[i]
 * says which of the n records (namespace ns_of(rec)) go in; returns how many
 * do not.
 */
size_t polsync_kvset_names_fit(const void *recs, size_t n, size_t stride,
                               const char *(*ns_of)(const void *rec), size_t max, bool *keep)
{
	size_t *ix, ngroups = 0, *start = NULL, lo = 0, hi = max, cap, left, dropped = 0;

	for (size_t i = 0; i < n; i++)
		keep[i] = true;
	if (n <= max)
		return 0;
	ix = malloc(n * sizeof(*ix));
	start = malloc((n + 1) * sizeof(*start));
	if (!ix || !start) {
		/* No memory to be fair: the first max. */
		for (size_t i = max; i < n; i++)
			keep[i] = false;
		free(ix);
		free(start);
		return n - max;
	}
	for (size_t i = 0; i < n; i++)
		ix[i] = i;
	/* By namespace, then record order (insertion sort would be quadratic). */
	names_recs = recs;
	names_stride = stride;
	names_ns_of = ns_of;
	qsort(ix, n, sizeof(*ix), names_cmp);
	for (size_t i = 0; i < n; i++)
		if (!i || strcmp(ns_of((const char *)recs + ix[i] * stride),
				 ns_of((const char *)recs + ix[i - 1] * stride)))
			start[ngroups++] = i;
	start[ngroups] = n;
	/* The largest part per namespace that fits: sum(min(size, cap)) <= max. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2, sum = 0;

		for (size_t g = 0; g < ngroups && sum <= max; g++) {
			size_t sz = start[g + 1] - start[g];

			sum += sz < mid ? sz : mid;
		}
		if (sum <= max)
			lo = mid;
		else
			hi = mid - 1;
	}
	cap = lo;
	left = max;
	for (size_t g = 0; g < ngroups; g++) {
		size_t sz = start[g + 1] - start[g];

		left -= sz < cap ? sz : cap;
	}
	for (size_t g = 0; g < ngroups; g++) {
		size_t sz = start[g + 1] - start[g], take = sz < cap ? sz : cap;

		/* What the parts leave over: one more to the namespaces cut, in order. */
		if (take < sz && left) {
			take++;
			left--;
		}
		for (size_t k = start[g] + take; k < start[g + 1]; k++) {
			keep[ix[k]] = false;
			dropped++;
		}
	}
	free(ix);
	free(start);
	return dropped;
}

int polsync_kvset_count_keys(int fd, size_t ksz, size_t *n)
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
