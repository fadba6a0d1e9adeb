// SPDX-License-Identifier: Apache-2.0
/*
 * The cluster-state store, and its manifest-directory backend.
 *
 * The store is a hash table keyed by (kind, namespace, name); the policy
 * compiler reads it through a per-kind array sorted by (namespace, name),
 * rebuilt only for the kinds that changed since the last view, so a quiet
 * cluster costs nothing per read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/system/clock.h"
#include "lib/system/hmap.h"
#include "lib/system/log.h"
#include "lib/cluster/store.h"

struct entry {
	uint64_t digest[2]; /* of the object's JSON, canonical; {0, 0}: none */
	struct k8s_object *obj;
	bool gone; /* in a namespace's deferred changes: a deletion (obj names it) */
	char key[]; /* key_of the object */
};

/* One namespace's churn budget (store_churn_set): a token bucket, and what waits. */
struct churn_acct {
	struct churn_acct *next;
	char *ns;
	uint64_t tokens_m; /* thousandths of a change */
	int64_t at_ms;	   /* when tokens_m was last filled */
	int64_t due_ms;	   /* pend: when it is applied */
	struct store *pend; /* its changes past the budget, one per object; NULL: none */
	uint64_t deferred; /* changes that went to pend, ever */
};

struct store {
	struct hmap m; /* key_of -> struct entry */
	uint64_t version;
	size_t nkind[K8S_NR_ALL_KINDS];
	bool stale[K8S_NR_ALL_KINDS]; /* view[kind] needs rebuilding */
	const struct k8s_object **view[K8S_NR_ALL_KINDS];
	size_t nview[K8S_NR_ALL_KINDS];
	bool drop_raw; /* keep a digest of each object's JSON, not the tree */
	/* The journal (store.h): on once taken; all = overflowed or never taken. */
	bool jon, jall;
	size_t jn, jcap;
	struct store_change *j;
	/* The churn bound (store_churn_set): off while rate is 0. */
	unsigned int burst, rate, interval_ms;
	int64_t (*now)(void);
	struct churn_acct *acct;
	uint64_t deferred; /* every namespace's */
};

static const char *ns_or_empty(const char *ns)
{
	return ns ? ns : "";
}

/* Object names are at most 253 bytes, namespaces 63, file names NAME_MAX. */
#define KEY_MAX (2 * NAME_MAX + 16)

/*
 * An object's key, "kind/ns/name" (a namespace has no '/', so a key names one
 * object), and its hash: 0, or -ENAMETOOLONG past KEY_MAX (no API object's).
 */
static int key_of(char *buf, enum k8s_kind kind, const char *ns, const char *name, uint64_t *h)
{
	int n = snprintf(buf, KEY_MAX, "%d/%s/%s", (int)kind, ns_or_empty(ns), name);

	if (n < 0 || n >= KEY_MAX)
		return -ENAMETOOLONG;
	*h = hstr(buf);
	return 0;
}

static struct entry *find(const struct store *st, enum k8s_kind kind, const char *ns,
			  const char *name)
{
	char key[KEY_MAX];
	uint64_t h;

	if (kind >= K8S_NR_ALL_KINDS || key_of(key, kind, ns, name, &h) || !st->m.n)
		return NULL;
	return hmap_get(&st->m, h, (uintptr_t)key);
}

/* obj's entry, made empty (*made) when it has none; NULL: no memory. */
static struct entry *find_or_make(struct store *st, const struct k8s_object *obj, bool *made)
{
	char key[KEY_MAX];
	struct entry *e;
	uint64_t h;

	*made = false;
	if (key_of(key, obj->kind, obj->meta.ns, obj->meta.name, &h))
		return NULL; /* store_put refused it */
	e = hmap_get(&st->m, h, (uintptr_t)key);
	if (e)
		return e;
	e = calloc(1, sizeof(*e) + strlen(key) + 1);
	if (!e)
		return NULL;
	strcpy(e->key, key);
	if (hmap_put(&st->m, h, (uintptr_t)e->key, e)) {
		free(e);
		return NULL;
	}
	*made = true;
	return e;
}

static void journal_clear(struct store *st);

struct store *store_new(void)
{
	struct store *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	if (hmap_init(&st->m, true, 64)) {
		free(st);
		return NULL;
	}
	return st;
}

/* Frees st's entries and their objects. */
static void store_clear(struct store *st)
{
	hmap_each(&st->m, sl) {
		struct entry *e = sl->v;

		k8s_free(e->obj);
		free(e);
	}
	hmap_clear(&st->m);
}

void store_free(struct store *st)
{
	if (!st)
		return;
	store_clear(st);
	hmap_free(&st->m);
	for (int k = 0; k < K8S_NR_ALL_KINDS; k++)
		free(st->view[k]);
	journal_clear(st);
	while (st->acct) {
		struct churn_acct *a = st->acct;

		st->acct = a->next;
		store_free(a->pend);
		free(a->ns);
		free(a);
	}
	free(st);
}

static int obj_cmp(const void *a, const void *b);

/*
 * Keeps a valid view sorted as objects come and go (a binary search and a
 * memmove), instead of marking it stale: rebuilding it meant sorting every
 * pod again on each pod event. op: +1 added, 0 replaced (old -> obj), -1 gone.
 * Marks the view stale when it cannot.
 */
static void view_update(struct store *st, const struct k8s_object *old,
			const struct k8s_object *obj, int op)
{
	enum k8s_kind k = obj->kind;
	const struct k8s_object **v = st->view[k];
	size_t lo = 0, hi = st->nview[k];

	if (!v)
		st->stale[k] = true; /* never built: store_view builds it */
	if (st->stale[k])
		return;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (obj_cmp(&v[mid], &obj) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (op == 0 || op < 0) {
		if (lo >= st->nview[k] || v[lo] != (op ? obj : old)) {
			st->stale[k] = true;
			return;
		}
		if (op == 0) {
			v[lo] = obj;
			return;
		}
		memmove(&v[lo], &v[lo + 1], (st->nview[k] - lo - 1) * sizeof(*v));
		st->nview[k]--;
		return;
	}
	/* +1 room: store_view keeps one more than the kind's objects. */
	v = realloc(v, (st->nview[k] + 2) * sizeof(*v));
	if (!v) {
		st->stale[k] = true;
		return;
	}
	memmove(&v[lo + 1], &v[lo], (st->nview[k] - lo) * sizeof(*v));
	v[lo] = obj;
	st->view[k] = v;
	st->nview[k]++;
}

static void journal_clear(struct store *st)
{
	store_changes_free(st->j, st->jn);
	st->j = NULL;
	st->jn = st->jcap = 0;
}

/* Names the object in the journal; on overflow or no memory, "everything". */
static void journal(struct store *st, const struct k8s_object *o)
{
	struct store_change *c;

	if (!st->jon || st->jall)
		return;
	if (st->jn == st->jcap) {
		size_t ncap = st->jcap ? st->jcap * 2 : 64;

		c = ncap <= STORE_JOURNAL_MAX ? realloc(st->j, ncap * sizeof(*c)) : NULL;
		if (!c)
			goto all;
		st->j = c;
		st->jcap = ncap;
	}
	c = &st->j[st->jn];
	c->kind = o->kind;
	c->ns = o->meta.ns ? strdup(o->meta.ns) : NULL;
	c->name = strdup(o->meta.name);
	if (!c->name || (o->meta.ns && !c->ns)) {
		free(c->ns);
		free(c->name);
		goto all;
	}
	st->jn++;
	return;
all:
	journal_clear(st);
	st->jall = true;
}

void store_changes_free(struct store_change *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].ns);
		free(v[i].name);
	}
	free(v);
}

int store_journal_take(struct store *st, struct store_change **out, size_t *n, bool *all)
{
	*all = !st->jon || st->jall;
	*out = st->j;
	*n = st->jn;
	st->j = NULL;
	st->jn = st->jcap = 0;
	st->jon = true;
	st->jall = false;
	return 0;
}

static void changed(struct store *st, enum k8s_kind kind)
{
	st->version++;
	st->stale[kind] = true;
}

/*
 * The policies keep their tree whatever drop_raw says: few, and the agent's
 * policy status digests their spec and reads their uid (agent/polstatus.c).
 */
static bool keeps_raw(const struct k8s_object *obj)
{
	return obj->kind == K8S_NETWORKPOLICY || obj->kind == K8S_CLUSTERNETPOL;
}

void store_drop_raw(struct store *st)
{
	st->drop_raw = true;
}

/*
 * A 128-bit digest of a JSON tree, walked in place: equal for documents
 * json_equal calls equal (an object's members are summed, so their order does
 * not count; an array's elements are chained in order), and a collision (an
 * update taken for no change) is a 2^-128 matter. It used to hash the tree
 * serialized with sorted keys, which cost a copy of every object and a sort
 * of every key list: at 100k pods, more of the first list than the parse.
 */
struct dg {
	uint64_t a, b;
};

static uint64_t dg_mix(uint64_t x) /* splitmix64's finalizer */
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static struct dg dg_bytes(unsigned tag, const void *p, size_t n)
{
	struct dg d = { 0xcbf29ce484222325ull ^ tag, 0x84222325cbf29ce4ull ^ ((uint64_t)tag << 32) };

	for (const unsigned char *c = p, *e = c + n; c < e; c++) {
		d.a = (d.a ^ *c) * 0x100000001b3ull;
		d.b = (d.b ^ *c) * 0x100000001b3ull;
	}
	d.a = dg_mix(d.a ^ n);
	d.b = dg_mix(d.b + n);
	return d;
}

/* x then y, in that order. */
static struct dg dg_chain(struct dg x, struct dg y)
{
	return (struct dg){ dg_mix(x.a * 31 + y.a), dg_mix((x.b ^ 0x9e3779b97f4a7c15ull) + y.b * 37) };
}

static struct dg dg_tree(json_t *v)
{
	struct dg d = { 0, 0 }, e;
	const char *key;
	json_t *m;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach(v, key, m) {
			e = dg_chain(dg_bytes('k', key, strlen(key)), dg_tree(m));
			d.a += e.a;
			d.b += e.b;
		}
		return dg_chain(dg_bytes('o', "", 0), d);
	case JSON_ARRAY:
		i = json_array_size(v);
		d = dg_bytes('a', &i, sizeof(i));
		json_array_foreach(v, i, m)
			d = dg_chain(d, dg_tree(m));
		return d;
	case JSON_STRING:
		return dg_bytes('s', json_string_value(v), json_string_length(v));
	case JSON_INTEGER: {
		json_int_t n = json_integer_value(v);

		return dg_bytes('i', &n, sizeof(n));
	}
	case JSON_REAL: {
		double x = json_real_value(v);

		return dg_bytes('r', &x, sizeof(x));
	}
	case JSON_TRUE:
		return dg_bytes('t', "", 0);
	case JSON_FALSE:
		return dg_bytes('f', "", 0);
	default:
		return dg_bytes('n', "", 0);
	}
}

static int json_digest(json_t *doc, uint64_t d[2])
{
	struct dg g = dg_tree(doc);

	/* {0, 0} means "no digest". */
	d[0] = g.a | !(g.a | g.b);
	d[1] = g.b;
	return 0;
}

/* store_put with the object's digest known (or {0, 0} when it has none). */
static int put_digest(struct store *st, struct k8s_object *obj, const uint64_t digest[2])
{
	bool made;
	struct entry *e = find_or_make(st, obj, &made);

	if (!e) {
		k8s_free(obj);
		return -ENOMEM;
	}
	/* Same JSON, same object: a rewritten file that did not change it is no change. */
	if (!made && (digest[0] | digest[1]) && e->digest[0] == digest[0] &&
	    e->digest[1] == digest[1]) {
		k8s_free(obj);
		return 0;
	}
	view_update(st, made ? NULL : e->obj, obj, made ? 1 : 0);
	journal(st, obj);
	k8s_free(e->obj);
	e->obj = obj;
	e->digest[0] = digest[0];
	e->digest[1] = digest[1];
	st->nkind[obj->kind] += made;
	st->version++;
	return 1;
}

static int churn_put(struct store *st, struct k8s_object *obj, const uint64_t digest[2]);
static int churn_del(struct store *st, enum k8s_kind kind, const char *ns, const char *name);
static int del_now(struct store *st, enum k8s_kind kind, const char *ns, const char *name);

int store_put(struct store *st, struct k8s_object *obj)
{
	uint64_t digest[2] = { 0, 0 }, h;
	char key[KEY_MAX];

	if (obj->kind >= K8S_NR_ALL_KINDS || !obj->meta.name ||
	    key_of(key, obj->kind, obj->meta.ns, obj->meta.name, &h)) {
		k8s_free(obj);
		return -EINVAL;
	}
	if (obj->raw && json_digest(obj->raw, digest)) {
		k8s_free(obj);
		return -ENOMEM;
	}
	if (st->drop_raw && !keeps_raw(obj)) {
		json_decref(obj->raw);
		obj->raw = NULL;
	}
	return churn_put(st, obj, digest);
}

int store_take(struct store *dst, struct store *src)
{
	int changes = 0, ret = 0;

	/* A list is the truth now: what waited is older, so it goes in first. */
	for (struct churn_acct *a = dst->acct; a; a = a->next)
		a->due_ms = 0;
	ret = store_churn_release(dst, NULL);
	ret = ret < 0 ? ret : 0;

	hmap_each(&src->m, sl) {
		struct entry *e = sl->v;

		if (ret >= 0) {
			if (dst->drop_raw && e->obj->raw && !keeps_raw(e->obj)) {
				json_decref(e->obj->raw);
				e->obj->raw = NULL;
			}
			ret = put_digest(dst, e->obj, e->digest);
			changes += ret > 0;
		} else {
			k8s_free(e->obj);
		}
		free(e);
	}
	hmap_clear(&src->m);
	if (src->jon) { /* its objects left without a word each */
		journal_clear(src);
		src->jall = true;
	}
	for (int k = 0; k < K8S_NR_ALL_KINDS; k++) {
		src->nkind[k] = 0;
		changed(src, (enum k8s_kind)k);
	}
	return ret < 0 ? ret : changes;
}

int store_del(struct store *st, enum k8s_kind kind, const char *ns, const char *name)
{
	return churn_del(st, kind, ns, name);
}

static int del_now(struct store *st, enum k8s_kind kind, const char *ns, const char *name)
{
	struct entry *e = find(st, kind, ns, name);

	if (!e)
		return 0;
	hmap_del(&st->m, hstr(e->key), (uintptr_t)e->key);
	view_update(st, NULL, e->obj, -1);
	journal(st, e->obj);
	k8s_free(e->obj);
	free(e);
	st->nkind[kind]--;
	st->version++;
	return 1;
}

const struct k8s_object *store_get(const struct store *st, enum k8s_kind kind, const char *ns,
				   const char *name)
{
	const struct entry *e = find(st, kind, ns, name);

	return e ? e->obj : NULL;
}

/*
 * The churn bound: every namespaced change spends a token of its
 * namespace's bucket (burst, rate a second). Past it, the change waits in
 * the namespace's own small store (the last state of each object, so a
 * loop on one object is one change) and all of them go in together when
 * interval_ms is over: the store stays true, late by at most the interval,
 * and one namespace's churn makes a change of the store at most about
 * rate a second plus once an interval, while another namespace's change
 * goes in at once. Cluster-scoped kinds are the cluster admin's: no bound.
 */
void store_churn_set(struct store *st, unsigned int burst, unsigned int rate,
		     unsigned int interval_ms, int64_t (*now)(void))
{
	st->burst = burst;
	st->rate = rate;
	st->interval_ms = interval_ms;
	st->now = now ? now : xcni_mono_ms;
}

/* ns's account, made when it has none (NULL: no memory). Moved to the front:
 * a churning namespace is found first. */
static struct churn_acct *acct_of(struct store *st, const char *ns)
{
	struct churn_acct **pa, *a;

	for (pa = &st->acct; (a = *pa); pa = &a->next)
		if (!strcmp(a->ns, ns)) {
			*pa = a->next;
			a->next = st->acct;
			st->acct = a;
			return a;
		}
	a = calloc(1, sizeof(*a));
	if (!a || !(a->ns = strdup(ns))) {
		free(a);
		return NULL;
	}
	a->tokens_m = (uint64_t)st->burst * 1000;
	a->at_ms = st->now();
	a->next = st->acct;
	st->acct = a;
	return a;
}

/*
 * The account a change of ns is charged to when it must wait (NULL: it goes
 * in now, a token spent). Without memory for an account the change goes in.
 */
static struct churn_acct *churn_charge(struct store *st, const char *ns)
{
	struct churn_acct *a;
	int64_t now;

	if (!st->rate || !ns || !(a = acct_of(st, ns)))
		return NULL;
	if (a->pend)
		return a; /* after what already waits, never before it */
	now = st->now();
	a->tokens_m += (uint64_t)(now - a->at_ms) * st->rate;
	if (a->tokens_m > (uint64_t)st->burst * 1000)
		a->tokens_m = (uint64_t)st->burst * 1000;
	a->at_ms = now;
	if (a->tokens_m >= 1000) {
		a->tokens_m -= 1000;
		return NULL;
	}
	a->pend = store_new();
	if (!a->pend)
		return NULL;
	a->due_ms = now + st->interval_ms;
	return a;
}

/* Puts obj in a's waiting store as its last state (a deletion when gone): 0 or -errno. */
static int pend_set(struct churn_acct *a, struct k8s_object *obj, const uint64_t digest[2],
		    bool gone)
{
	bool made;
	struct entry *e = find_or_make(a->pend, obj, &made);

	if (!e) {
		k8s_free(obj);
		return -ENOMEM;
	}
	k8s_free(e->obj);
	e->obj = obj;
	e->digest[0] = digest[0];
	e->digest[1] = digest[1];
	e->gone = gone;
	a->deferred++;
	return 0;
}

static int churn_put(struct store *st, struct k8s_object *obj, const uint64_t digest[2])
{
	const struct entry *e;
	struct churn_acct *a;

	/* The same object again costs nothing, as put_digest says it is no change. */
	if (st->rate && obj->meta.ns && (digest[0] | digest[1])) {
		e = find(st, obj->kind, obj->meta.ns, obj->meta.name);
		a = acct_of(st, obj->meta.ns);
		if (e && e->digest[0] == digest[0] && e->digest[1] == digest[1] && !(a && a->pend)) {
			k8s_free(obj);
			return 0;
		}
	}
	a = churn_charge(st, obj->meta.ns);
	if (!a)
		return put_digest(st, obj, digest);
	st->deferred++;
	return pend_set(a, obj, digest, false);
}

static int churn_del(struct store *st, enum k8s_kind kind, const char *ns, const char *name)
{
	static const uint64_t none[2];
	struct k8s_object *o;
	struct churn_acct *a;

	if (kind >= K8S_NR_ALL_KINDS)
		return 0;
	/* Deleting what is not there (and does not wait) is no change: nothing spent. */
	if (!st->rate || !ns || (!store_get(st, kind, ns, name) &&
				 !((a = acct_of(st, ns)) && a->pend)))
		return del_now(st, kind, ns, name);
	a = churn_charge(st, ns);
	if (!a)
		return del_now(st, kind, ns, name);
	o = calloc(1, sizeof(*o));
	if (!o || !(o->meta.ns = strdup(ns)) || !(o->meta.name = strdup(name))) {
		k8s_free(o);
		return -ENOMEM;
	}
	o->kind = kind;
	st->deferred++;
	return pend_set(a, o, none, true);
}

int store_churn_release(struct store *st, int *next_ms)
{
	int64_t now = st->now ? st->now() : 0, next = -1;
	int changes = 0, ret = 0;

	for (struct churn_acct *a = st->acct; a; a = a->next) {
		struct store *p = a->pend;

		if (!p)
			continue;
		if (a->due_ms > now) {
			next = next < 0 || a->due_ms - now < next ? a->due_ms - now : next;
			continue;
		}
		a->pend = NULL;
		hmap_each(&p->m, sl) {
			struct entry *e = sl->v;
			int r;

			if (e->gone) {
				r = del_now(st, e->obj->kind, e->obj->meta.ns, e->obj->meta.name);
				k8s_free(e->obj);
			} else {
				r = put_digest(st, e->obj, e->digest);
			}
			changes += r > 0;
			ret = r < 0 ? r : ret;
			free(e);
		}
		hmap_clear(&p->m);
		store_free(p);
	}
	if (next_ms)
		*next_ms = next > INT_MAX ? INT_MAX : (int)next;
	return ret < 0 ? ret : changes;
}

bool store_churn_waits(const struct store *st)
{
	for (const struct churn_acct *a = st->acct; a; a = a->next)
		if (a->pend)
			return true;
	return false;
}

uint64_t store_churn_deferred(const struct store *st)
{
	return st->deferred;
}

size_t store_churn_top(const struct store *st, struct store_churn *out, size_t max)
{
	size_t n = 0;

	for (const struct churn_acct *a = st->acct; a; a = a->next) {
		size_t i;

		if (!a->deferred)
			continue;
		/* Insertion into out, most deferred first; ties by name for a stable order. */
		for (i = n; i > 0 && (out[i - 1].deferred < a->deferred ||
				      (out[i - 1].deferred == a->deferred &&
				       strcmp(out[i - 1].ns, a->ns) > 0)); i--)
			if (i < max)
				out[i] = out[i - 1];
		if (i >= max)
			continue;
		out[i] = (struct store_churn){ a->ns, a->deferred, a->pend ? a->pend->m.n : 0 };
		n += n < max;
	}
	return n;
}

static int obj_cmp(const void *a, const void *b)
{
	const struct k8s_object *x = *(const struct k8s_object *const *)a;
	const struct k8s_object *y = *(const struct k8s_object *const *)b;
	int c = strcmp(ns_or_empty(x->meta.ns), ns_or_empty(y->meta.ns));

	return c ? c : strcmp(x->meta.name, y->meta.name);
}

void store_view(struct store *st, struct cluster *out)
{
	for (int k = 0; k < K8S_NR_ALL_KINDS; k++) {
		const struct k8s_object **v;
		size_t n = 0;

		if (!st->stale[k])
			continue;
		/* +1: a kind with no objects still gets a non-NULL array. */
		v = realloc(st->view[k], (st->nkind[k] + 1) * sizeof(*v));
		if (!v) {
			/* Keep the stale one rather than none; retried on the next view. */
			pr_err("store: out of memory building the %s view\n", k8s_kind_name(k));
			continue;
		}
		hmap_each(&st->m, sl)
			if (((struct entry *)sl->v)->obj->kind == (enum k8s_kind)k)
				v[n++] = ((struct entry *)sl->v)->obj;
		qsort(v, n, sizeof(*v), obj_cmp);
		st->view[k] = v;
		st->nview[k] = n;
		st->stale[k] = false;
	}
	for (int k = 0; k < K8S_NR_ALL_KINDS; k++) {
		out->n[k] = st->nview[k];
		out->objs[k] = (const struct k8s_object *const *)st->view[k];
	}
}

uint64_t store_version(const struct store *st)
{
	return st->version;
}

/* ---- manifest directory ---- */

#define GEN_FILE ".xcni-generation"

/* What one file defined, kept so that a rewrite or removal can undo it. */
struct mentry {
	enum k8s_kind kind;
	char *ns;
	char *name;
	json_t *raw;
};

struct mfile {
	char *name;
	size_t n;
	struct mentry *v;
	bool going; /* gone from the directory, to be removed later in this batch */
};

/*
 * (kind, namespace, name) -> a number: how many files define the object (the
 * directory's index), or where it is in a list (a file's own duplicates).
 * Finding another file that defines an object used to walk every object of
 * every file, for each object loaded or dropped: quadratic, 45% of xcnid's
 * CPU loading 10k Services and their slices in 20 files.
 */
struct kidx_node {
	size_t val;
	char key[]; /* key_of */
};

struct mdir {
	struct cs_backend b;
	char *dir;
	int ifd;
	int wd;
	size_t nfiles;
	struct mfile *files;
	/* This batch: names touched, generation file touched, events lost. */
	size_t npending;
	char **pending;
	bool gen_dirty;
	bool rescan;
	bool lb; /* Services and EndpointSlices read too (MANIFEST_LB) */
	bool svc; /* Services read too (MANIFEST_SVC) */
	/* How many files define each object: 0 means none, and a count of one
	 * is the file asking (a file's objects are unique in it). */
	struct hmap defs;
	/*
	 * File name -> its slot in files + 1, and the batch's names (pending) as a
	 * set: both were walked per file, quadratic in a directory of one file
	 * per object (the lab's 10k Services and their slices: 73% of xcnid's
	 * CPU in strcmp, 4-7 s per lab apply/delete).
	 */
	struct hmap fidx, pidx;
};

static int parse_obj(const struct mdir *md, json_t *doc, struct k8s_object **out,
		     struct k8s_error *err)
{
	return md->lb ? k8s_parse_lb(doc, out, err) :
	       md->svc ? k8s_parse_all(doc, out, err) :
			 k8s_parse(doc, out, err);
}

static bool is_manifest(const char *name)
{
	static const char *const exts[] = { ".yaml", ".yml", ".json" };
	size_t len = strlen(name);

	if (name[0] == '.')
		return false;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t el = strlen(exts[i]);

		if (len > el && !strcmp(name + len - el, exts[i]))
			return true;
	}
	return false;
}

static void mentries_free(struct mentry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].ns);
		free(v[i].name);
		json_decref(v[i].raw);
	}
	free(v);
}

static bool mentry_is(const struct mentry *e, enum k8s_kind kind, const char *ns, const char *name)
{
	return e->kind == kind && !strcmp(ns_or_empty(e->ns), ns_or_empty(ns)) &&
	       !strcmp(e->name, name);
}

/* The value for the key, 0 when it has none. */
static size_t kidx_get(const struct hmap *x, enum k8s_kind kind, const char *ns, const char *name)
{
	char key[KEY_MAX];
	struct kidx_node *nd;
	uint64_t h;

	if (!x->n || key_of(key, kind, ns, name, &h))
		return 0;
	nd = hmap_get(x, h, (uintptr_t)key);
	return nd ? nd->val : 0;
}

/*
 * Adds delta to the key's value (a node made at need, freed at 0). 0 or
 * -ENOMEM, which only an increase of an absent key can return (or
 * -ENAMETOOLONG, past any object's or file's key).
 */
static int kidx_add(struct hmap *x, enum k8s_kind kind, const char *ns, const char *name,
		    long delta)
{
	char key[KEY_MAX];
	struct kidx_node *nd = NULL;
	uint64_t h;

	if (key_of(key, kind, ns, name, &h))
		return -ENAMETOOLONG; /* no object or file name is so long */
	if (x->n)
		nd = hmap_get(x, h, (uintptr_t)key);
	if (!nd) {
		if (delta <= 0)
			return 0;
		if ((!x->s && hmap_init(x, true, 0)) || !(nd = malloc(sizeof(*nd) + strlen(key) + 1)))
			return -ENOMEM;
		strcpy(nd->key, key);
		nd->val = 0;
		if (hmap_put(x, h, (uintptr_t)nd->key, nd)) {
			free(nd);
			return -ENOMEM;
		}
	}
	nd->val += delta;
	if (!nd->val)
		free(hmap_del(x, h, (uintptr_t)key));
	return 0;
}

static void kidx_free(struct hmap *x)
{
	hmap_each(x, sl)
		free(sl->v);
	hmap_free(x);
}

/* A file's entries counted in (delta 1) or out (-1) of the directory's index. */
static int defs_count(struct mdir *md, const struct mentry *v, size_t n, long delta)
{
	for (size_t i = 0; i < n; i++) {
		int ret = kidx_add(&md->defs, v[i].kind, v[i].ns, v[i].name, delta);

		if (ret) {
			/* Only adding allocates: take back what this call added. */
			defs_count(md, v, i, -delta);
			return ret;
		}
	}
	return 0;
}

/* File names are keyed as K8S_NAMESPACE objects without a namespace: fidx and pidx hold nothing else. */
static struct mfile *file_find(struct mdir *md, const char *name)
{
	size_t at = kidx_get(&md->fidx, K8S_NAMESPACE, NULL, name);

	return at ? &md->files[at - 1] : NULL;
}

/*
 * Another file defining the object, or NULL; skip_going: not counting files
 * on their way out. mine: how many of the index's definitions of it are
 * self's (0 or 1): the files are walked only when there are others.
 */
static const struct mentry *defined_elsewhere(struct mdir *md, const struct mfile *self,
					      enum k8s_kind kind, const char *ns, const char *name,
					      bool skip_going, size_t mine, const char **file)
{
	if (kidx_get(&md->defs, kind, ns, name) <= mine)
		return NULL;
	for (size_t i = 0; i < md->nfiles; i++) {
		if (&md->files[i] == self || (skip_going && md->files[i].going))
			continue;
		for (size_t j = 0; j < md->files[i].n; j++) {
			if (mentry_is(&md->files[i].v[j], kind, ns, name)) {
				*file = md->files[i].name;
				return &md->files[i].v[j];
			}
		}
	}
	return NULL;
}

/*
 * self no longer defines e. If another file still does, its version comes
 * back (two files defining one object is a mistake, but deleting an object a
 * file still holds would be a worse one); else the object goes.
 */
static int undefine(struct mdir *md, const struct mfile *self, const struct mentry *e)
{
	const struct mentry *other;
	struct k8s_object *obj;
	struct k8s_error err;
	const char *file;
	int ret;

	/* self's old version of it is still counted */
	other = defined_elsewhere(md, self, e->kind, e->ns, e->name, false, 1, &file);
	if (!other)
		return store_del(md->b.store, e->kind, e->ns, e->name);
	ret = parse_obj(md, other->raw, &obj, &err);
	if (ret) {
		/* It parsed when its file was loaded; only memory can fail now. */
		pr_err("%s/%s: %s\n", md->dir, file, err.msg);
		return ret;
	}
	return store_put(md->b.store, obj);
}

static char *path_of(const struct mdir *md, const char *name)
{
	char *path;

	return asprintf(&path, "%s/%s", md->dir, name) < 0 ? NULL : path;
}

/* Forgets a file and what it defined. Objects changed, or -errno. */
static int file_remove(struct mdir *md, const char *name)
{
	struct mfile *f = file_find(md, name);
	int changes = 0, ret = 0;

	if (!f)
		return 0;
	pr_info("%s/%s: removed, dropping its %zu objects\n", md->dir, name, f->n);
	for (size_t i = 0; i < f->n && ret >= 0; i++) {
		ret = undefine(md, f, &f->v[i]);
		changes += ret > 0;
	}
	/* Forget it even on error: the file is gone either way. */
	defs_count(md, f->v, f->n, -1);
	mentries_free(f->v, f->n);
	/* The last file moves into f's slot (decreases only: they cannot fail). */
	kidx_add(&md->fidx, K8S_NAMESPACE, NULL, f->name, -(long)(f - md->files + 1));
	free(f->name);
	*f = md->files[--md->nfiles];
	if (f != &md->files[md->nfiles])
		kidx_add(&md->fidx, K8S_NAMESPACE, NULL, f->name,
			 (long)(f - md->files) - (long)md->nfiles);
	return ret < 0 ? ret : changes;
}

static void objs_free(struct k8s_object **objs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		k8s_free(objs[i]);
	free(objs);
}

/*
 * Parses every document of the file; all of them or none. 0 with the objects
 * (later duplicates replacing earlier ones, as `kubectl apply` would leave
 * them), -EINVAL (logged), or another -errno.
 */
static int file_parse(const struct mdir *md, const char *path, struct k8s_object ***out,
		      size_t *nout)
{
	struct k8s_object **objs = NULL, *obj;
	struct hmap seen = { 0 }; /* key -> its index in objs + 1 */
	struct k8s_error err;
	size_t ndocs, n = 0, at;
	json_t **docs;
	int ret;

	ret = k8s_load_file(path, &docs, &ndocs, &err);
	if (ret) {
		if (ret != -ENOENT)
			pr_err("%s\n", err.msg);
		return ret;
	}
	if (ndocs) {
		objs = calloc(ndocs, sizeof(*objs));
		if (!objs) {
			ret = -ENOMEM;
			goto err_docs;
		}
	}
	for (size_t i = 0; i < ndocs; i++) {
		ret = parse_obj(md, docs[i], &obj, &err);
		if (ret == -ENOTSUP) {
			pr_debug("%s: skipping %s\n", path, err.msg);
			continue;
		}
		if (ret) {
			pr_err("%s: %s; the file is ignored until fixed\n", path, err.msg);
			goto err_objs;
		}
		at = kidx_get(&seen, obj->kind, obj->meta.ns, obj->meta.name);
		if (at) {
			k8s_free(objs[at - 1]);
			objs[at - 1] = NULL;
			kidx_add(&seen, obj->kind, obj->meta.ns, obj->meta.name, -(long)at);
		}
		objs[n++] = obj;
		ret = kidx_add(&seen, obj->kind, obj->meta.ns, obj->meta.name, (long)n);
		if (ret)
			goto err_objs;
	}
	/* Close the gaps the duplicates left. */
	{
		size_t m = 0;

		for (size_t i = 0; i < n; i++)
			if (objs[i])
				objs[m++] = objs[i];
		n = m;
	}
	kidx_free(&seen);
	k8s_docs_free(docs, ndocs);
	*out = objs;
	*nout = n;
	return 0;

err_objs:
	kidx_free(&seen);
	objs_free(objs, n);
err_docs:
	k8s_docs_free(docs, ndocs);
	return ret;
}

/*
 * The entries of a file's n objects into v; what the file defined before (had,
 * f being the file reloaded) and defines now (has). A definition another file
 * holds too is said. 0 or -ENOMEM.
 */
static int entries_of(struct mdir *md, const struct mfile *f, const char *path,
		      struct k8s_object **objs, size_t n, struct mentry *v, struct hmap *had,
		      struct hmap *has)
{
	int ret;

	for (size_t i = 0; f && i < f->n; i++) {
		ret = kidx_add(had, f->v[i].kind, f->v[i].ns, f->v[i].name, 1);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < n; i++) {
		const char *other;

		v[i].kind = objs[i]->kind;
		v[i].name = strdup(objs[i]->meta.name);
		v[i].ns = objs[i]->meta.ns ? strdup(objs[i]->meta.ns) : NULL;
		v[i].raw = json_incref(objs[i]->raw);
		if (!v[i].name || (objs[i]->meta.ns && !v[i].ns))
			return -ENOMEM;
		if (f && f->n && kidx_add(has, v[i].kind, v[i].ns, v[i].name, 1))
			return -ENOMEM;
		/* A rename shows up as a new file before the old one goes: not a conflict. */
		if (defined_elsewhere(md, f, v[i].kind, v[i].ns, v[i].name, true,
				      kidx_get(had, v[i].kind, v[i].ns, v[i].name), &other))
			pr_warn("%s: %s %s%s%s is also defined in %s; the file loaded last wins\n",
				path, k8s_kind_name(v[i].kind), ns_or_empty(v[i].ns),
				v[i].ns ? "/" : "", v[i].name, other);
	}
	return 0;
}

/*
 * From here the file's new contents are what it defines: its objects put into
 * the store, what it no longer defines undefined, v its entries. *changes
 * counts the objects changed; 0 or the store's error.
 */
static int file_commit(struct mdir *md, struct mfile *f, struct k8s_object **objs, size_t n,
		       struct mentry *v, struct hmap *has, int *changes)
{
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		ret = store_put(md->b.store, objs[i]);
		objs[i] = NULL;
		if (ret < 0)
			break;
		*changes += ret;
	}
	for (size_t i = 0; i < f->n && ret >= 0; i++) {
		if (kidx_get(has, f->v[i].kind, f->v[i].ns, f->v[i].name))
			continue;
		ret = undefine(md, f, &f->v[i]);
		*changes += ret > 0;
	}
	defs_count(md, f->v, f->n, -1);
	mentries_free(f->v, f->n);
	f->v = v;
	f->n = n;
	return ret < 0 ? ret : 0;
}

/* (Re)loads one file. Objects changed, or -errno; a bad file is logged and changes nothing. */
static int file_load(struct mdir *md, const char *name)
{
	struct k8s_object **objs = NULL;
	struct mentry *v = NULL;
	/* A reload: what the file defined before, and defines now. */
	struct hmap had = { 0 }, has = { 0 };
	size_t n = 0, i;
	struct mfile *f;
	char *path, *fname = NULL;
	int ret, changes = 0;

	path = path_of(md, name);
	if (!path)
		return -ENOMEM;
	ret = file_parse(md, path, &objs, &n);
	if (ret == -ENOENT) {
		/* Gone between the event and now: its removal is the news. */
		free(path);
		return file_remove(md, name);
	}
	if (ret) {
		free(path);
		return ret == -ENOMEM ? ret : 0;
	}

	f = file_find(md, name);
	if (!f) {
		struct mfile *files = realloc(md->files, (md->nfiles + 1) * sizeof(*files));

		fname = strdup(name);
		if (!files || !fname) {
			if (files)
				md->files = files;
			ret = -ENOMEM;
			goto err_objs;
		}
		md->files = files;
	}
	v = calloc(n ?: 1, sizeof(*v));
	if (!v) {
		ret = -ENOMEM;
		goto err_objs;
	}
	ret = entries_of(md, f, path, objs, n, v, &had, &has);
	if (ret)
		goto err_v;
	/* Counted before anything changes (it can fail); the old entries after. */
	ret = defs_count(md, v, n, 1);
	if (ret)
		goto err_v;
	if (!f && kidx_add(&md->fidx, K8S_NAMESPACE, NULL, fname, (long)md->nfiles + 1)) {
		defs_count(md, v, n, -1);
		ret = -ENOMEM;
		goto err_v;
	}
	if (!f) {
		f = &md->files[md->nfiles++];
		f->name = fname;
		f->n = 0;
		f->v = NULL;
		f->going = false;
		fname = NULL;
	}

	ret = file_commit(md, f, objs, n, v, &has, &changes);
	pr_info("%s: %zu objects, %d changed\n", path, n, changes);
	for (i = 0; i < n; i++)
		k8s_free(objs[i]);
	free(objs);
	free(path);
	kidx_free(&had);
	kidx_free(&has);
	return ret < 0 ? ret : changes;

err_v:
	mentries_free(v, n);
err_objs:
	kidx_free(&had);
	kidx_free(&has);
	free(fname);
	objs_free(objs, n);
	free(path);
	return ret;
}

static void read_gen(struct mdir *md)
{
	char buf[32], *end, *path = path_of(md, GEN_FILE);
	unsigned long long gen;
	ssize_t n;
	int fd;

	if (!path)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* No token yet: whoever writes the manifests has not asked for one. */
		if (errno != ENOENT)
			pr_warn("%s: %s\n", path, strerror(errno));
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		pr_warn("%s: %s\n", path, strerror(errno));
	close(fd);
	if (n < 0)
		goto out;
	buf[n] = '\0';
	errno = 0;
	gen = strtoull(buf, &end, 10);
	while (*end == '\n' || *end == ' ' || *end == '\r' || *end == '\t')
		end++;
	if (end == buf || *end || errno || buf[0] == '-' || buf[0] == '+') {
		pr_warn("%s: \"%.*s\" is not a decimal generation; keeping %llu\n", path,
			(int)strcspn(buf, "\n"), buf, (unsigned long long)md->b.sync_gen);
		goto out;
	}
	if (gen != md->b.sync_gen)
		pr_debug("%s: generation %llu\n", path, gen);
	md->b.sync_gen = gen;
out:
	free(path);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads every manifest, forgets files that are gone, reads the token. */
static int scan(struct mdir *md)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int ret = 0, changes = 0;
	DIR *d;

	d = opendir(md->dir);
	if (!d) {
		ret = -errno;
		pr_err("%s: %s\n", md->dir, strerror(-ret));
		return ret;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!is_manifest(de->d_name))
			continue;
		/* Symlinks are followed (a ConfigMap mount is made of them); directories skipped. */
		if (fstatat(dirfd(d), de->d_name, &st, 0) || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			char **v = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*v));

			if (!v) {
				ret = -ENOMEM;
				goto out;
			}
			names = v;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			ret = -ENOMEM;
			goto out;
		}
		n++;
	}
	/* Sorted, so that which of two files defining one object wins does not vary. */
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < md->nfiles; i++)
		md->files[i].going =
			!bsearch(&md->files[i].name, names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		ret = file_load(md, names[i]);
		if (ret < 0)
			goto out;
		changes += ret;
	}
	for (size_t i = 0; i < md->nfiles;) {
		if (bsearch(&md->files[i].name, names, n, sizeof(*names), name_cmp)) {
			i++;
			continue;
		}
		/* file_remove() moves the last file into slot i. */
		ret = file_remove(md, md->files[i].name);
		if (ret < 0)
			goto out;
		changes += ret;
	}
	read_gen(md);
	ret = changes;
out:
	for (size_t i = 0; i < md->nfiles; i++)
		md->files[i].going = false;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return ret;
}

static int pending_add(struct mdir *md, const char *name)
{
	char **v;

	if (kidx_get(&md->pidx, K8S_NAMESPACE, NULL, name))
		return 0;
	/* Grown by doubling: a batch can name tens of thousands of files. */
	if (!(md->npending & (md->npending - 1))) {
		v = realloc(md->pending, (md->npending ? 2 * md->npending : 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		md->pending = v;
	}
	v = md->pending;
	v[md->npending] = strdup(name);
	if (!v[md->npending])
		return -ENOMEM;
	if (kidx_add(&md->pidx, K8S_NAMESPACE, NULL, name, 1)) {
		free(v[md->npending]);
		return -ENOMEM;
	}
	md->npending++;
	return 0;
}

static void pending_clear(struct mdir *md)
{
	for (size_t i = 0; i < md->npending; i++)
		free(md->pending[i]);
	free(md->pending);
	md->pending = NULL;
	md->npending = 0;
	kidx_free(&md->pidx);
}

/*
 * A file that was only created may still be being written (cp, shell
 * redirection): its IN_CLOSE_WRITE will come. Links are complete at birth.
 */
static bool created_complete(struct mdir *md, const char *name)
{
	struct stat st;
	char *path = path_of(md, name);
	bool ok;

	ok = path && !lstat(path, &st) && (S_ISLNK(st.st_mode) || st.st_nlink > 1);
	free(path);
	return ok;
}

/* Reads every queued event into the batch. 0, or -errno (-ENOENT: the directory went). */
static int drain(struct mdir *md)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t len;
	int ret;

	for (;;) {
		len = read(md->ifd, buf, sizeof(buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == EAGAIN)
			return 0;
		if (len < 0)
			return -errno;
		for (char *p = buf; p < buf + len; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				pr_warn("%s: inotify queue overflowed, rescanning\n", md->dir);
				md->rescan = true;
				continue;
			}
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
				pr_err("%s: the directory was removed or moved; keeping the last "
				       "state\n",
				       md->dir);
				return -ENOENT;
			}
			if (!ev->len)
				continue;
			/* Only once written: a created-then-written token would read as empty. */
			if (!strcmp(ev->name, GEN_FILE)) {
				md->gen_dirty |= !!(ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO));
				continue;
			}
			if (!is_manifest(ev->name) || (ev->mask & IN_ISDIR))
				continue;
			if (ev->mask == IN_CREATE && !created_complete(md, ev->name))
				continue;
			ret = pending_add(md, ev->name);
			if (ret)
				return ret;
		}
	}
}

/* Applies the batch: present files first, then the gone ones, so that a
 * rename a.yaml -> b.yaml moves the objects without deleting them first. */
static int apply(struct mdir *md)
{
	int ret = 0, changes = 0;
	bool gone;

	if (md->rescan) {
		md->rescan = false;
		md->gen_dirty = false;
		return scan(md);
	}
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < md->npending; i++) {
			char *path = path_of(md, md->pending[i]);
			struct mfile *f = file_find(md, md->pending[i]);
			struct stat st;

			if (!path) {
				ret = -ENOMEM;
				goto out;
			}
			gone = stat(path, &st) || !S_ISREG(st.st_mode);
			free(path);
			/* Pass 0 only marks what is leaving; 1 loads; 2 removes. */
			if (pass == 0) {
				if (f)
					f->going = gone;
				continue;
			}
			if (gone != (pass == 2))
				continue;
			ret = gone ? file_remove(md, md->pending[i])
				   : file_load(md, md->pending[i]);
			if (ret < 0)
				goto out;
			changes += ret;
		}
	}
	/* After the manifests: the token says "everything up to here is in the files". */
	if (md->gen_dirty) {
		md->gen_dirty = false;
		read_gen(md);
	}
	ret = changes;
out:
	for (size_t i = 0; i < md->nfiles; i++)
		md->files[i].going = false;
	return ret;
}

static int mdir_fd(struct cs_backend *b)
{
	return ((struct mdir *)b)->ifd;
}

static int mdir_dispatch(struct cs_backend *b)
{
	struct mdir *md = (struct mdir *)b;
	int ret;

	ret = drain(md);
	if (!ret)
		ret = apply(md);
	pending_clear(md);
	return ret;
}

static void mdir_free(struct cs_backend *b)
{
	struct mdir *md = (struct mdir *)b;

	if (!md)
		return;
	for (size_t i = 0; i < md->nfiles; i++) {
		mentries_free(md->files[i].v, md->files[i].n);
		free(md->files[i].name);
	}
	free(md->files);
	kidx_free(&md->defs);
	kidx_free(&md->fidx);
	kidx_free(&md->pidx);
	pending_clear(md);
	if (md->ifd >= 0)
		close(md->ifd);
	free(md->dir);
	free(md);
}

static const struct cs_backend_ops mdir_ops = {
	.name = "manifest-dir",
	.fd = mdir_fd,
	.dispatch = mdir_dispatch,
	.free = mdir_free,
};

int manifest_dir_open(const char *dir, struct store *st, struct cs_backend **out)
{
	return manifest_dir_open_flags(dir, st, 0, out);
}

int manifest_dir_open_flags(const char *dir, struct store *st, unsigned int flags,
			    struct cs_backend **out)
{
	/* IN_CREATE only for links; writers are expected to rename or close. */
	const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
			      IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
	struct mdir *md;
	int ret;

	md = calloc(1, sizeof(*md));
	if (!md)
		return -ENOMEM;
	md->b.ops = &mdir_ops;
	md->b.store = st;
	md->ifd = -1;
	md->lb = flags & MANIFEST_LB;
	md->svc = flags & MANIFEST_SVC;
	md->dir = strdup(dir);
	if (!md->dir) {
		ret = -ENOMEM;
		goto err_md;
	}
	md->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (md->ifd < 0) {
		ret = -errno;
		pr_err("inotify_init1: %s\n", strerror(-ret));
		goto err_md;
	}
	/* Watch before the first scan, so that nothing written meanwhile is missed. */
	md->wd = inotify_add_watch(md->ifd, dir, mask);
	if (md->wd < 0) {
		ret = -errno;
		pr_err("%s: cannot watch: %s\n", dir, strerror(-ret));
		goto err_md;
	}
	ret = scan(md);
	if (ret < 0)
		goto err_md;
	pr_info("%s: %zu files loaded, generation %llu\n", dir, md->nfiles,
		(unsigned long long)md->b.sync_gen);
	*out = &md->b;
	return 0;

err_md:
	mdir_free(&md->b);
	return ret;
}
