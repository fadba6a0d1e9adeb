// SPDX-License-Identifier: Apache-2.0
/*
 * The cluster-state store (its manifest-directory backend: mdir.c).
 *
 * The store is a hash table keyed by (kind, namespace, name); the policy
 * compiler reads it through a per-kind array sorted by (namespace, name),
 * rebuilt only for the kinds that changed since the last view, so a quiet
 * cluster costs nothing per read.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/clock.h"
#include "lib/system/hmap.h"
#include "lib/system/log.h"
#include "lib/cluster/store.h"

struct entry {
	uint64_t digest[2]; /* of the object's JSON, canonical; {0, 0}: none */
	struct k8s_object *obj;
	bool gone; /* in a namespace's deferred changes: a deletion (obj names it) */
	char key[]; /* store_key of the object */
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
	struct hmap m; /* store_key -> struct entry */
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

/* No API object's key is past STORE_KEY_MAX. */
int store_key(char *buf, enum k8s_kind kind, const char *ns, const char *name, uint64_t *h)
{
	int n = snprintf(buf, STORE_KEY_MAX, "%d/%s/%s", (int)kind, ns_or_empty(ns), name);

	if (n < 0 || n >= STORE_KEY_MAX)
		return -ENAMETOOLONG;
	*h = hstr(buf);
	return 0;
}

static struct entry *find(const struct store *st, enum k8s_kind kind, const char *ns,
			  const char *name)
{
	char key[STORE_KEY_MAX];
	uint64_t h;

	if (kind >= K8S_NR_ALL_KINDS || store_key(key, kind, ns, name, &h) || !st->m.n)
		return NULL;
	return hmap_get(&st->m, h, (uintptr_t)key);
}

/* obj's entry, made empty (*made) when it has none; NULL: no memory. */
static struct entry *find_or_make(struct store *st, const struct k8s_object *obj, bool *made)
{
	char key[STORE_KEY_MAX];
	struct entry *e;
	uint64_t h;

	*made = false;
	if (store_key(key, obj->kind, obj->meta.ns, obj->meta.name, &h))
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
	char key[STORE_KEY_MAX];

	if (obj->kind >= K8S_NR_ALL_KINDS || !obj->meta.name ||
	    store_key(key, obj->kind, obj->meta.ns, obj->meta.name, &h)) {
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
