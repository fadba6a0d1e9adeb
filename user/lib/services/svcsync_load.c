// SPDX-License-Identifier: Apache-2.0
/*
 * The Service map writer's books read from the maps at open (svcsync.h): the
 * frontends, backends and xcni_svcbe as a previous agent left them, and the
 * entries no frontend names any more swept.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lib/system/bpfpin.h"
#include "lib/system/log.h"
#include "lib/system/mapw.h"
#include "lib/services/svcsync_int.h"
#include "lib/system/util.h"

static const struct be_ent *key_base;
static int key_idx_cmp(const void *a, const void *b)
{
	return memcmp(&key_base[*(const uint32_t *)a].b, &key_base[*(const uint32_t *)b].b,
		      BE_KEY_LEN);
}

/* The key index again, after backends were added or taken away. */
static int be_reindex(struct svcsync *ss)
{
	uint32_t *k = realloc(ss->by_key, (ss->nbe ? ss->nbe : 1) * sizeof(*k));

	if (!k)
		return -ENOMEM;
	ss->by_key = k;
	for (size_t i = 0; i < ss->nbe; i++)
		k[i] = (uint32_t)i;
	key_base = ss->be;
	qsort(k, ss->nbe, sizeof(*k), key_idx_cmp);
	return 0;
}

static int svcbe_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xcni_svcbe_key));
}

/* by_id[service id]: 1 + its index in fe, 0 for none (built by load). */
static const struct fe_ent *fe_of(const struct svcsync *ss, const uint32_t *by_id, uint32_t id)
{
	return id < SVC_IDS && by_id[id] ? &ss->fe[by_id[id] - 1] : NULL;
}

/* Does a live frontend name this key of its map (xcni_svcslot, _maglev, _revnat, _svcname)? */
static bool slot_live(const struct svcsync *ss, const uint32_t *by_id, const void *key)
{
	const struct xcni_svcslot_key *k = key;
	const struct fe_ent *f = fe_of(ss, by_id, k->svc_id);

	return f && k->version == f->v.version && k->slot < f->v.count + f->v.count_term;
}

static bool maglev_live(const struct svcsync *ss, const uint32_t *by_id, const void *key)
{
	const struct fe_ent *f;
	__u32 k;

	memcpy(&k, key, sizeof(k));
	f = fe_of(ss, by_id, k >> 1);
	return f && (f->v.flags & XCNI_SVC_F_MAGLEV) && k == xcni_maglev_key(f->v.id, f->v.version);
}

static bool revnat_live(const struct svcsync *ss, const uint32_t *by_id, const void *key)
{
	__u16 k;

	(void)by_id;
	memcpy(&k, key, sizeof(k));
	return svc_id_used(ss, k);
}

static bool name_live(const struct svcsync *ss, const uint32_t *by_id, const void *key)
{
	__u32 k;

	(void)by_id;
	memcpy(&k, key, sizeof(k));
	return k < SVC_IDS && svc_id_used(ss, k);
}

/*
 * xcni_svcbe as the live versions name it: written in full (maps from before
 * it start empty), and what no live version names (an update cut short)
 * swept away.
 */
static int svcbe_load(struct svcsync *ss)
{
	struct xcni_svcbe_key *want;
	unsigned char *keys = NULL;
	size_t cap = 0, n = 0, nk = 0, done, i;
	__u32 *one = NULL;
	int err;

	for (i = 0; i < ss->nfe; i++)
		cap += (size_t)ss->fe[i].v.count + ss->fe[i].v.count_term;
	want = calloc(cap ? cap : 1, sizeof(*want));
	one = malloc((cap ? cap : 1) * sizeof(*one));
	if (!want || !one) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < ss->nfe; i++)
		n += svcbe_keys(ss, ss->fe[i].v.id, ss->fe[i].ids,
				(size_t)ss->fe[i].v.count + ss->fe[i].v.count_term, want + n);
	for (i = 0; i < n; i++)
		one[i] = 1;
	qsort(want, n, sizeof(*want), svcbe_cmp);
	if ((err = mapw_keys(ss->fd_svcbe, sizeof(*want), &keys, &nk)))
		goto out;
	for (i = 0; i < nk; i++)
		if (!bsearch(keys + i * sizeof(*want), want, n, sizeof(*want), svcbe_cmp))
			bpf_map_delete_elem(ss->fd_svcbe, keys + i * sizeof(*want));
	err = mapw_put_many(ss->fd_svcbe, want, sizeof(*want), one, sizeof(*one), n, NULL, &done);
out:
	free(keys);
	free(want);
	free(one);
	return err;
}

/* The frontends the maps hold, each with its slots' backend ids and its name. */
static int load_frontends(struct svcsync *ss)
{
	unsigned char *keys = NULL;
	size_t n, i;
	int err;

	if ((err = mapw_keys(ss->fd_svc, sizeof(struct xcni_svc_key), &keys, &n)))
		return err;
	ss->fe = calloc(n ? n : 1, sizeof(*ss->fe));
	if (!ss->fe) {
		free(keys);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct fe_ent *f = &ss->fe[ss->nfe];

		memcpy(&f->key, keys + i * sizeof(struct xcni_svc_key), sizeof(f->key));
		if (bpf_map_lookup_elem(ss->fd_svc, &f->key, &f->v))
			continue;
		f->ids = calloc((size_t)f->v.count + f->v.count_term + 1, sizeof(*f->ids));
		if (!f->ids) {
			free(keys);
			return -ENOMEM;
		}
		for (uint32_t s = 0; s < (uint32_t)f->v.count + f->v.count_term; s++) {
			struct xcni_svcslot_key sk = { .svc_id = f->v.id, .slot = (__u16)s,
						       .version = f->v.version };

			bpf_map_lookup_elem(ss->fd_slot, &sk, &f->ids[s]);
		}
		if (f->v.id < SVC_IDS)
			svc_id_set(ss, f->v.id, true);
		/* Maps from before names: "" until the frontend is next renamed. */
		if (bpf_map_lookup_elem(ss->fd_name, &f->v.id, &f->who))
			memset(&f->who, 0, sizeof(f->who));
		ss->nfe++;
	}
	free(keys);
	qsort(ss->fe, ss->nfe, sizeof(*ss->fe), fe_cmp);
	return 0;
}

/* The keys of map fd (ksz bytes) that live does not keep: deleted; the kept counted in *kept. */
static int sweep(const struct svcsync *ss, const uint32_t *by_id, int fd, size_t ksz,
		 bool (*live)(const struct svcsync *, const uint32_t *, const void *), size_t *kept)
{
	unsigned char *keys = NULL;
	size_t n;
	int err = mapw_keys(fd, ksz, &keys, &n);

	for (size_t i = 0; !err && i < n; i++) {
		if (!live(ss, by_id, keys + i * ksz))
			bpf_map_delete_elem(fd, keys + i * ksz);
		else
			(*kept)++;
	}
	free(keys);
	return err;
}

/* Slots and tables of no live version, reverse-NAT entries and names of no frontend: deleted. */
static int sweep_orphans(struct svcsync *ss, const uint32_t *by_id)
{
	size_t names = 0;

	return sweep(ss, by_id, ss->fd_slot, sizeof(struct xcni_svcslot_key), slot_live,
		     &ss->n_slot) ?:
	       sweep(ss, by_id, ss->fd_maglev, sizeof(__u32), maglev_live, &ss->n_maglev) ?:
	       sweep(ss, by_id, ss->fd_revnat, sizeof(__u16), revnat_live, &ss->n_revnat) ?:
	       sweep(ss, by_id, ss->fd_name, sizeof(__u32), name_live, &names);
}

/* Backends, counted by the frontends naming them; the rest go. */
static int load_backends(struct svcsync *ss)
{
	unsigned char *keys = NULL;
	size_t n, i;
	int err;

	if ((err = mapw_keys(ss->fd_be, sizeof(__u32), &keys, &n)))
		return err;
	ss->be = calloc(n ? n : 1, sizeof(*ss->be));
	if (!ss->be) {
		free(keys);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct be_ent *b = &ss->be[ss->nbe];

		memcpy(&b->id, keys + i * sizeof(b->id), sizeof(b->id));
		if (!bpf_map_lookup_elem(ss->fd_be, &b->id, &b->b))
			ss->nbe++;
	}
	free(keys);
	qsort(ss->be, ss->nbe, sizeof(*ss->be), be_id_cmp);
	for (size_t f = 0; f < ss->nfe; f++)
		for (uint32_t s = 0; s < (uint32_t)ss->fe[f].v.count + ss->fe[f].v.count_term; s++) {
			struct be_ent *b = be_by_id(ss, ss->fe[f].ids[s]);

			if (b)
				b->refs++;
		}
	ss->next_be_id = 1;
	for (i = 0, n = 0; i < ss->nbe; i++) {
		if (!ss->be[i].refs) {
			bpf_map_delete_elem(ss->fd_be, &ss->be[i].id);
			continue;
		}
		if (ss->be[i].id >= ss->next_be_id)
			ss->next_be_id = ss->be[i].id + 1;
		ss->be[n++] = ss->be[i];
	}
	ss->nbe = n;
	return be_reindex(ss) ?: svcbe_load(ss);
}

/* What the maps hold, and the leftovers of an update cut short swept away. */
static int load(struct svcsync *ss)
{
	uint32_t *by_id = NULL;
	int err;

	if ((err = load_frontends(ss)))
		return err;
	by_id = calloc(SVC_IDS, sizeof(*by_id));
	if (!by_id)
		return -ENOMEM;
	for (size_t i = 0; i < ss->nfe; i++)
		if (ss->fe[i].v.id < SVC_IDS)
			by_id[ss->fe[i].v.id] = (uint32_t)i + 1;
	err = sweep_orphans(ss, by_id) ?: load_backends(ss);
	free(by_id);
	return err;
}

/* A map that may be missing: its fd, or -1. */
static int opt_fd(int fd)
{
	return fd < 0 ? -1 : fd;
}

int svcsync_open(const char *pin_dir, struct svcsync **out)
{
	struct svcsync *ss = calloc(1, sizeof(*ss));
	int err;

	if (!ss)
		return -ENOMEM;
	ss->fd_svc = ss->fd_slot = ss->fd_be = ss->fd_revnat = ss->fd_maglev = ss->fd_ct = ss->fd_ct6 =
		ss->fd_name = ss->fd_ctstat = ss->fd_svcbe = -1;
	ss->share = 100;
	if ((err = ss->fd_svc = xcni_map_open_pinned(pin_dir, "xcni_svc", &ss->max_svc)) < 0 ||
	    (err = ss->fd_slot = xcni_map_open_pinned(pin_dir, "xcni_svcslot", &ss->max_slot)) < 0 ||
	    (err = ss->fd_be = xcni_map_open_pinned(pin_dir, "xcni_backend", &ss->max_be)) < 0 ||
	    (err = ss->fd_revnat = xcni_map_open_pinned(pin_dir, "xcni_revnat", &ss->max_revnat)) < 0 ||
	    (err = ss->fd_maglev = xcni_map_open_pinned(pin_dir, "xcni_maglev", &ss->max_maglev)) < 0 ||
	    (err = ss->fd_name = xcni_map_open_pinned(pin_dir, "xcni_svcname", NULL)) < 0 ||
	    (err = ss->fd_svcbe = xcni_map_open_pinned(pin_dir, "xcni_svcbe", NULL)) < 0 ||
	    (err = load(ss))) {
		svcsync_free(ss);
		return err;
	}
	/* Conntrack is the data plane's: without it (a writer over Service maps
	 * alone) there is nothing to flush. */
	ss->fd_ct = opt_fd(xcni_map_open_pinned(pin_dir, "xcni_ct", NULL));
	ss->fd_ct6 = opt_fd(xcni_map_open_pinned(pin_dir, "xcni_ct6", NULL));
	ss->fd_ctstat = opt_fd(xcni_map_open_pinned(pin_dir, "xcni_ctstat", NULL));
	*out = ss;
	return 0;
}

void svcsync_free(struct svcsync *ss)
{
	if (!ss)
		return;
	const int fds[] = { ss->fd_svcbe,  ss->fd_name,   ss->fd_ct,     ss->fd_ct6, ss->fd_ctstat,
			    ss->fd_maglev, ss->fd_revnat, ss->fd_be,     ss->fd_slot, ss->fd_svc };
	void *v[] = { ss->fe, ss->be, ss->by_key, ss->gone, ss->svcbe_del, ss->closed, ss };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (size_t i = 0; i < ss->nfe; i++)
		free(ss->fe[i].ids);
	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		free(v[i]);
}
