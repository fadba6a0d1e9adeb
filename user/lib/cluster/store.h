/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cluster state: the current Kubernetes objects, fed by a backend behind one
 * small interface (a manifest directory now, the API server's watch later),
 * and read by the policy compiler as a consistent, sorted view.
 */
#ifndef XCNI_STORE_H
#define XCNI_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/cluster/k8s.h"

/* A view of the store, each kind sorted by (namespace, name). Valid until
 * the next store_put/store_del. */
struct cluster {
	size_t n[K8S_NR_ALL_KINDS];
	const struct k8s_object *const *objs[K8S_NR_ALL_KINDS];
};

struct store;

struct store *store_new(void);
void store_free(struct store *st);
/*
 * Takes ownership of obj. Returns 1 if it added or changed an object (its
 * JSON differs from the one held), 0 if identical (obj freed), -errno.
 */
int store_put(struct store *st, struct k8s_object *obj);
/*
 * From now on objects keep no JSON tree (obj->raw NULL once put), only a
 * digest of it for the "identical" test: the tree is most of an object's
 * memory (about 10 KiB for a pod as the API server sends it). NetworkPolicies
 * and ClusterNetworkPolicies keep theirs (the agent's policy status).
 */
void store_drop_raw(struct store *st);
/*
 * Moves every object of src into dst (store_put without parsing again),
 * leaving src empty. Number of objects added or changed in dst, or -errno.
 */
int store_take(struct store *dst, struct store *src);
/* 1 if an object was removed, 0 if there was none. ns NULL for cluster-scoped kinds. */
int store_del(struct store *st, enum k8s_kind kind, const char *ns, const char *name);
const struct k8s_object *store_get(const struct store *st, enum k8s_kind kind, const char *ns,
				   const char *name);
void store_view(struct store *st, struct cluster *out);
/* Bumped by every change that store_put/store_del report. */
uint64_t store_version(const struct store *st);

/*
 * The journal: which objects changed, for a reader that follows changes
 * instead of reading everything again (the incremental policy compiler).
 * Off until store_journal_take is first called. An object changed twice is
 * named twice; past STORE_JOURNAL_MAX names (the initial list, a relist)
 * the journal says "everything" instead.
 */
#define STORE_JOURNAL_MAX 65536

/* Object names are at most 253 bytes, namespaces 63, file names NAME_MAX. */
#define STORE_KEY_MAX (2 * NAME_MAX + 16)
/*
 * An object's key, "kind/ns/name" (a namespace has no '/', so a key names one
 * object), and its hash: 0, or -ENAMETOOLONG past STORE_KEY_MAX.
 */
int store_key(char *buf, enum k8s_kind kind, const char *ns, const char *name, uint64_t *h);
struct store_change {
	enum k8s_kind kind;
	char *ns; /* NULL for cluster-scoped kinds */
	char *name;
};
/*
 * Hands over the changes since the last call (*out, *n; free with
 * store_changes_free) and turns the journal on. *all: more changed than the
 * journal holds (or it was off), read the whole view. 0 or -ENOMEM.
 */
int store_journal_take(struct store *st, struct store_change **out, size_t *n, bool *all);
void store_changes_free(struct store_change *v, size_t n);

/*
 * The churn bound: each namespace's changes spend from a token
 * bucket of burst changes filled at rate a second (rate 0: no bound, the
 * default); past it they wait, the last state of each object, and go in
 * together once interval_ms is over. A deferred change is no change yet
 * (store_put/store_del return 0). now: the clock in ms (NULL: monotonic).
 */
void store_churn_set(struct store *st, unsigned int burst, unsigned int rate,
		     unsigned int interval_ms, int64_t (*now)(void));
/*
 * Applies the waiting changes whose interval is over: number of objects
 * changed, or -errno. *next_ms (when not NULL): ms until the next is due, -1 none.
 */
int store_churn_release(struct store *st, int *next_ms);
/* True while some namespace's changes wait. */
bool store_churn_waits(const struct store *st);
/* Changes that had to wait, every namespace's, ever. */
uint64_t store_churn_deferred(const struct store *st);
struct store_churn {
	const char *ns; /* the store's, valid until the next change */
	uint64_t deferred; /* ever */
	size_t pending; /* objects waiting now */
};
/* The max namespaces that deferred most, most first: how many. */
size_t store_churn_top(const struct store *st, struct store_churn *out, size_t max);

struct json_t;
/* A source of cluster state. */
struct cs_backend;
struct cs_backend_ops {
	const char *name;
	/* Pollable fd: readable when dispatch has work. */
	int (*fd)(struct cs_backend *b);
	/* Applies pending changes to the store. Number of objects changed, or -errno. */
	int (*dispatch)(struct cs_backend *b);
	void (*free)(struct cs_backend *b);
	/* Optional: how the source is doing, for xcnictl status (a JSON object,
	 * the caller's reference); NULL: nothing to say. */
	struct json_t *(*status)(struct cs_backend *b);
};

struct cs_backend {
	const struct cs_backend_ops *ops;
	struct store *store;
	/* Sync token: the writer of the cluster state says "everything up to
	 * here"; xcnid reports it as applied once the maps hold it. */
	uint64_t sync_gen;
};

/*
 * The manifest-directory backend: every *.yaml, *.yml and *.json file in dir
 * (not hidden, not recursive), multi-document, what `kubectl apply -f` takes,
 * watched with inotify. A file that fails to parse or validate changes
 * nothing (its objects keep their last good state) and is logged with the
 * object and field. The file ".xcni-generation" holds the sync token (a
 * decimal number); it is read after the manifests of the same batch.
 * Loads the directory before returning.
 */
int manifest_dir_open(const char *dir, struct store *st, struct cs_backend **out);
/* MANIFEST_LB: Services and EndpointSlices too (xcnid replacing kube-proxy). */
#define MANIFEST_LB 1u
/* MANIFEST_SVC: Services, not EndpointSlices (xcnid beside kube-proxy). */
#define MANIFEST_SVC 2u
int manifest_dir_open_flags(const char *dir, struct store *st, unsigned int flags,
			    struct cs_backend **out);

#endif
