/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API backend's body handling without curl: the fuzz targets include
 * user/lib/cluster/k8sapi.c and drive its write callback (on_data) the way curl does,
 * with the response status already known (on_data asks curl only when it is
 * not), so the bytes take the production path: buf_append, watch_lines,
 * watch_event, put_obj/del_obj into the store; list pages through list_page.
 */
#ifndef XCNI_K8SAPI_FUZZ_H
#define XCNI_K8SAPI_FUZZ_H

#include "fuzz.h"
#include "../../user/lib/cluster/k8sapi.c"

/*
 * A backend with one watcher of the kind the first byte names, the store
 * still staging (before every kind was listed) when the second byte is odd.
 * The next byte is the size of curl's chunks (0: all at once).
 */
struct fuzz_api {
	struct api a;
	struct watcher *w;
	size_t chunk;
};

static inline int fuzz_api_init(struct fuzz_api *f, enum wstate state, const uint8_t **data,
				size_t *size)
{
	if (*size < 3)
		return -1;
	memset(f, 0, sizeof(*f));
	f->a.conf.server = "https://fuzz.invalid:6443";
	f->a.b.store = store_new();
	f->a.nkinds = K8S_NR_KINDS;
	f->a.staging = (*data)[1] & 1 ? store_new() : NULL;
	f->w = &f->a.w[(*data)[0] % K8S_NR_KINDS];
	f->w->api = &f->a;
	f->w->kind = (enum k8s_kind)((*data)[0] % K8S_NR_KINDS);
	f->w->state = state;
	f->w->status = 200;
	f->chunk = (*data)[2];
	*data += 3;
	*size -= 3;
	return f->a.b.store ? 0 : -1;
}

/*
 * Feeds bytes as curl would, in chunks. An abort ends the transfer: done()
 * drops what was buffered and a new request starts from the same watcher.
 */
static inline void fuzz_api_feed(struct fuzz_api *f, const uint8_t *p, size_t n)
{
	while (n) {
		size_t c = f->chunk && f->chunk < n ? f->chunk : n;
		size_t r = on_data((char *)p, 1, c, f->w);

		FUZZ_ASSERT(r == c || r == 0);
		if (r == 0) {
			FUZZ_ASSERT(f->w->abort != AB_NONE);
			f->w->abort = AB_NONE;
			f->w->len = 0;
			if (f->w->state == W_LIST)
				return;
		}
		FUZZ_ASSERT(f->w->len <= f->w->cap);
		p += c;
		n -= c;
	}
}

/* Every object in the store has a name and the kind it is filed under. */
static inline void fuzz_api_check(struct store *st)
{
	struct cluster c;

	if (!st)
		return;
	store_view(st, &c);
	for (int k = 0; k < K8S_NR_KINDS; k++)
		for (size_t i = 0; i < c.n[k]; i++) {
			FUZZ_ASSERT(c.objs[k][i]->kind == (enum k8s_kind)k);
			FUZZ_ASSERT(c.objs[k][i]->meta.name && c.objs[k][i]->meta.name[0]);
		}
}

static inline void fuzz_api_free(struct fuzz_api *f)
{
	fuzz_api_check(f->a.b.store);
	fuzz_api_check(f->a.staging);
	list_reset(f->w);
	free(f->w->rv);
	free(f->w->buf);
	store_free(f->a.staging);
	store_free(f->a.b.store);
}

#endif
