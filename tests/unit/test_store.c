// SPDX-License-Identifier: Apache-2.0
/*
 * The cluster-state store (put/del/identity/version/sorted view) and the
 * manifest-directory backend on a scratch directory, written the ways real
 * writers do: temp file + rename, cp-style rewrite, rm, and broken files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../user/lib/system/log.h"
#include "../../user/lib/cluster/store.h"
#include "unit.h"

static struct k8s_object *obj_of(const char *yaml)
{
	struct k8s_object *obj = NULL;
	struct k8s_error err;
	json_t **docs;
	size_t n;

	if (k8s_load_stream(yaml, strlen(yaml), &docs, &n, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(n, 1);
	if (k8s_parse(docs[0], &obj, &err))
		fail_msg("%s", err.msg);
	k8s_docs_free(docs, n);
	return obj;
}

static struct k8s_object *pod(const char *ns, const char *name, const char *ip)
{
	char y[256];

	snprintf(y, sizeof(y),
		 "{apiVersion: v1, kind: Pod, metadata: {name: %s, namespace: %s}, "
		 "status: {podIP: %s}}",
		 name, ns, ip);
	return obj_of(y);
}

/* ---- store ---- */

static void put_identical_changed_del(void **state)
{
	struct store *st = store_new();
	const struct k8s_object *got;

	(void)state;
	assert_non_null(st);
	assert_int_equal(store_version(st), 0);
	assert_int_equal(store_put(st, pod("a", "p", "10.0.0.1")), 1);
	assert_int_equal(store_version(st), 1);
	/* Same JSON: no change, no version bump. */
	assert_int_equal(store_put(st, pod("a", "p", "10.0.0.1")), 0);
	assert_int_equal(store_version(st), 1);
	/* Same key, other JSON: replaced. */
	assert_int_equal(store_put(st, pod("a", "p", "10.0.0.2")), 1);
	assert_int_equal(store_version(st), 2);
	got = store_get(st, K8S_POD, "a", "p");
	assert_non_null(got);
	assert_int_equal(got->pod.ip, htonl(0x0a000002));
	/* Namespace is part of the key. */
	assert_null(store_get(st, K8S_POD, "b", "p"));
	assert_int_equal(store_put(st, pod("b", "p", "10.0.0.3")), 1);
	assert_int_equal(store_del(st, K8S_POD, "a", "p"), 1);
	assert_int_equal(store_version(st), 4);
	assert_int_equal(store_del(st, K8S_POD, "a", "p"), 0);
	assert_int_equal(store_version(st), 4);
	assert_null(store_get(st, K8S_POD, "a", "p"));
	assert_non_null(store_get(st, K8S_POD, "b", "p"));

	/* Cluster-scoped: ns NULL. Kind is part of the key too. */
	assert_int_equal(
		store_put(st, obj_of("{apiVersion: v1, kind: Namespace, metadata: {name: p}}")), 1);
	assert_non_null(store_get(st, K8S_NAMESPACE, NULL, "p"));
	assert_null(store_get(st, K8S_NODE, NULL, "p"));
	assert_int_equal(store_del(st, K8S_NAMESPACE, NULL, "p"), 1);
	store_free(st);
}

/* ---- the churn bound (issue 52), on a clock the test moves ---- */

static int64_t fake_ms;

static int64_t fake_now(void)
{
	return fake_ms;
}

static uint32_t pod_ip(struct store *st, const char *ns, const char *name)
{
	const struct k8s_object *o = store_get(st, K8S_POD, ns, name);

	return o ? ntohl(o->pod.ip) : 0;
}

/*
 * A namespace past its bucket (burst 4, 2 a second, 1 s interval) waits,
 * the last state of each object, and goes in together once the interval is
 * over; another namespace's change goes in at once meanwhile, a
 * cluster-scoped one too; a deletion waits in order with the puts; the
 * bucket fills again with time; a list (store_take) puts what waited first.
 */
static void churn_bound_per_namespace(void **state)
{
	struct store *st = store_new(), *list = store_new();
	struct store_churn top[2];
	char name[16];
	uint64_t v;
	int next;

	(void)state;
	fake_ms = 1000;
	store_churn_set(st, 4, 2, 1000, fake_now);
	assert_int_equal(store_churn_release(st, &next), 0);
	assert_int_equal(next, -1);
	/* The burst goes in at once: 4 changes, 4 versions. */
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(store_put(st, pod("churn", name, "10.0.0.1")), 1);
	}
	assert_int_equal(store_version(st), 4);
	/* Identical is still free. */
	assert_int_equal(store_put(st, pod("churn", "p0", "10.0.0.1")), 0);
	/* The 5th waits: no change yet, the old state read. */
	assert_int_equal(store_put(st, pod("churn", "p0", "10.0.0.2")), 0);
	assert_int_equal(pod_ip(st, "churn", "p0"), 0x0a000001);
	/* One object changed 100 times waits as one; a deletion waits too. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(store_put(st, pod("churn", "loop", i % 2 ? "10.0.0.9" : "10.0.0.8")), 0);
	assert_int_equal(store_del(st, K8S_POD, "churn", "p1"), 0);
	assert_int_equal(pod_ip(st, "churn", "p1"), 0x0a000001);
	/* ... and it is put back after its deletion: the last word counts. */
	fake_ms += 300; /* tokens came back: still after what waits */
	assert_int_equal(store_del(st, K8S_POD, "churn", "p2"), 0);
	assert_int_equal(store_put(st, pod("churn", "p2", "10.0.0.7")), 0);
	assert_int_equal(store_version(st), 4);
	/* Another namespace, and a cluster-scoped kind: at once. */
	assert_int_equal(store_put(st, pod("calm", "q", "10.0.1.1")), 1);
	assert_int_equal(store_put(st, obj_of("{apiVersion: v1, kind: Namespace, metadata: {name: x}}")),
			 1);
	assert_int_equal(store_version(st), 6);
	assert_int_equal(pod_ip(st, "calm", "q"), 0x0a000101);
	assert_int_equal(store_churn_deferred(st), 104);
	assert_int_equal(store_churn_top(st, top, 2), 1);
	assert_string_equal(top[0].ns, "churn");
	assert_int_equal(top[0].deferred, 104);
	assert_int_equal(top[0].pending, 4); /* p0, loop, p1 (gone), p2 */
	assert_true(store_churn_waits(st));
	/* Not yet due: 700 ms left. */
	assert_int_equal(store_churn_release(st, &next), 0);
	assert_int_equal(next, 700);
	fake_ms += 700;
	v = store_version(st);
	assert_int_equal(store_churn_release(st, &next), 4);
	assert_int_equal(next, -1);
	assert_int_equal(store_version(st), v + 4);
	assert_int_equal(pod_ip(st, "churn", "p0"), 0x0a000002);
	assert_int_equal(pod_ip(st, "churn", "loop"), 0x0a000009);
	assert_null(store_get(st, K8S_POD, "churn", "p1"));
	assert_int_equal(pod_ip(st, "churn", "p2"), 0x0a000007);
	assert_int_equal(store_churn_top(st, top, 2), 1);
	assert_int_equal(top[0].pending, 0);
	assert_false(store_churn_waits(st));
	/* 1 s at 2 a second: 2 tokens back (less the 0.0 spent), so 2 go in, the 3rd waits. */
	assert_int_equal(store_put(st, pod("churn", "p3", "10.0.0.3")), 1);
	assert_int_equal(store_put(st, pod("churn", "p3", "10.0.0.4")), 1);
	assert_int_equal(store_put(st, pod("churn", "p3", "10.0.0.5")), 0);
	/* A list of the same object: what waited goes in first, the list's after. */
	assert_int_equal(store_put(list, pod("churn", "p3", "10.0.0.6")), 1);
	assert_true(store_take(st, list) >= 1);
	assert_int_equal(pod_ip(st, "churn", "p3"), 0x0a000006);
	assert_int_equal(store_churn_release(st, &next), 0);
	assert_int_equal(next, -1);
	/* Rate 0: no bound. */
	store_churn_set(st, 4, 0, 1000, fake_now);
	for (int i = 0; i < 50; i++)
		assert_int_equal(store_put(st, pod("churn", "loop", i % 2 ? "10.0.0.9" : "10.0.0.8")), 1);
	store_free(list);
	store_free(st);
}

/*
 * "Same JSON" is json_equal's sameness, read from a digest of the tree: the
 * order of an object's members does not count; everything else does (a value
 * moved to another key, an array's order, a type, a nested value).
 */
static void digest_is_json_equal(void **state)
{
	static const char *const same[] = {
		"{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: a, labels: {x: '1', y: '2'}}, "
		"spec: {containers: [{name: c, ports: [{containerPort: 80}, {containerPort: 81}]}]}}",
		"{kind: Pod, apiVersion: v1, metadata: {labels: {y: '2', x: '1'}, namespace: a, name: p}, "
		"spec: {containers: [{ports: [{containerPort: 80}, {containerPort: 81}], name: c}]}}",
	};
	static const char *const other[] = {
		/* the values of x and y swapped */
		"{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: a, labels: {x: '2', y: '1'}}, "
		"spec: {containers: [{name: c, ports: [{containerPort: 80}, {containerPort: 81}]}]}}",
		/* the ports in the other order */
		"{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: a, labels: {x: '1', y: '2'}}, "
		"spec: {containers: [{name: c, ports: [{containerPort: 81}, {containerPort: 80}]}]}}",
		/* one more member, deep down */
		"{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: a, labels: {x: '1', y: '2'}}, "
		"spec: {containers: [{name: c, ports: [{containerPort: 80}, {containerPort: 81, name: m}]}]}}",
		/* a key renamed, its value kept */
		"{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: a, labels: {x: '1', z: '2'}}, "
		"spec: {containers: [{name: c, ports: [{containerPort: 80}, {containerPort: 81}]}]}}",
	};
	struct store *st = store_new();

	(void)state;
	assert_non_null(st);
	assert_int_equal(store_put(st, obj_of(same[0])), 1);
	assert_int_equal(store_put(st, obj_of(same[1])), 0);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		/* Each a change from the first, and back again. */
		assert_int_equal(store_put(st, obj_of(other[i])), 1);
		assert_int_equal(store_put(st, obj_of(other[i])), 0);
		assert_int_equal(store_put(st, obj_of(same[i % 2])), 1);
	}
	/* A string where a number was (a field the parser does not read). */
	assert_int_equal(store_put(st, obj_of("{apiVersion: v1, kind: Pod, metadata: {name: p, "
					      "namespace: a}, status: {x: 80}}")), 1);
	assert_int_equal(store_put(st, obj_of("{apiVersion: v1, kind: Pod, metadata: {name: p, "
					      "namespace: a}, status: {x: '80'}}")), 1);
	assert_int_equal(store_put(st, obj_of("{apiVersion: v1, kind: Pod, metadata: {name: p, "
					      "namespace: a}, status: {x: 80.0}}")), 1);
	store_free(st);
}

static void view_sorted_and_cached(void **state)
{
	static const char *const want[][2] = {
		{ "a", "x" }, { "a", "y" }, { "b", "a" }, { "default", "w" }, { "default", "z" },
	};
	struct store *st = store_new();
	struct cluster c, c2;
	char name[32];

	(void)state;
	store_view(st, &c);
	for (int k = 0; k < K8S_NR_KINDS; k++)
		assert_int_equal(c.n[k], 0);
	assert_int_equal(store_put(st, pod("default", "z", "10.0.0.1")), 1);
	assert_int_equal(store_put(st, pod("b", "a", "10.0.0.2")), 1);
	assert_int_equal(store_put(st, pod("a", "y", "10.0.0.3")), 1);
	assert_int_equal(store_put(st, pod("default", "w", "10.0.0.4")), 1);
	assert_int_equal(store_put(st, pod("a", "x", "10.0.0.5")), 1);
	assert_int_equal(
		store_put(st, obj_of("{apiVersion: v1, kind: Node, metadata: {name: n2}}")), 1);
	assert_int_equal(
		store_put(st, obj_of("{apiVersion: v1, kind: Node, metadata: {name: n1}}")), 1);

	store_view(st, &c);
	assert_int_equal(c.n[K8S_POD], 5);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(c.objs[K8S_POD][i]->meta.ns, want[i][0]);
		assert_string_equal(c.objs[K8S_POD][i]->meta.name, want[i][1]);
	}
	assert_int_equal(c.n[K8S_NODE], 2);
	assert_string_equal(c.objs[K8S_NODE][0]->meta.name, "n1");
	assert_string_equal(c.objs[K8S_NODE][1]->meta.name, "n2");
	assert_int_equal(c.n[K8S_NETWORKPOLICY], 0);

	/* No change: the same arrays come back. */
	store_view(st, &c2);
	assert_ptr_equal(c2.objs[K8S_POD], c.objs[K8S_POD]);

	/* Many more, across table growth; the view follows. */
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "p%03d", 299 - i);
		assert_int_equal(store_put(st, pod("c", name, "10.0.1.1")), 1);
	}
	assert_int_equal(store_del(st, K8S_POD, "a", "y"), 1);
	store_view(st, &c);
	assert_int_equal(c.n[K8S_POD], 304);
	assert_string_equal(c.objs[K8S_POD][1]->meta.name, "a");
	assert_string_equal(c.objs[K8S_POD][2]->meta.name, "p000");
	assert_string_equal(c.objs[K8S_POD][301]->meta.name, "p299");
	for (size_t i = 1; i < c.n[K8S_POD]; i++) {
		const struct k8s_object *x = c.objs[K8S_POD][i - 1], *y = c.objs[K8S_POD][i];
		int cmp = strcmp(x->meta.ns, y->meta.ns);

		assert_true(cmp < 0 || (!cmp && strcmp(x->meta.name, y->meta.name) < 0));
	}
	store_free(st);
}

/* ---- manifest directory ---- */

struct fixture {
	char dir[64];
	struct store *st;
	struct cs_backend *b;
};

static void write_at(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* What writers are told to do: a hidden temp file, then rename. */
static void write_renamed(const char *dir, const char *name, const char *text)
{
	char tmp[256], path[256];

	write_at(dir, ".tmp-write", text);
	snprintf(tmp, sizeof(tmp), "%s/.tmp-write", dir);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(rename(tmp, path), 0);
}

static void rm_at(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
}

static int dispatch_cb(void *b)
{
	return ((struct cs_backend *)b)->ops->dispatch(b);
}

/* dispatch(), with what it logged. */
static int dispatch_logged(struct cs_backend *b, char *log, size_t sz)
{
	return stderr_of(dispatch_cb, b, log, sz);
}

static int dispatch(struct cs_backend *b)
{
	char log[4096];
	int ret = dispatch_logged(b, log, sizeof(log));

	if (log[0])
		print_message("dispatch logged: %s", log);
	return ret;
}

#define NS_A "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"
#define POD_A1                                                                            \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: a}\nstatus: {podIP: " \
	"10.0.0.1}\n"
#define POD_A2                                                                            \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p2, namespace: a}\nstatus: {podIP: " \
	"10.0.0.2}\n"
#define NP_A                                                                        \
	"{\"apiVersion\": \"networking.k8s.io/v1\", \"kind\": \"NetworkPolicy\",\n" \
	" \"metadata\": {\"name\": \"deny\", \"namespace\": \"a\"},\n"              \
	" \"spec\": {\"podSelector\": {}}}\n"
#define SVC "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: a}\n"

static int dir_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char sub[128];

	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/xcni-test-store-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	/* One multi-document file (with a kind xcnid skips), one JSON file, and things to ignore. */
	write_at(fx->dir, "a.yaml", NS_A "---\n" POD_A1 "---\n" SVC);
	write_at(fx->dir, "np.json", NP_A);
	write_at(fx->dir, ".hidden.yaml", POD_A2);
	write_at(fx->dir, "notes.txt", POD_A2);
	snprintf(sub, sizeof(sub), "%s/sub.yaml", fx->dir);
	if (mkdir(sub, 0755))
		return -1;
	write_at(sub, "p.yaml", POD_A2);
	write_at(fx->dir, ".xcni-generation", "7\n");
	fx->st = store_new();
	if (!fx->st || manifest_dir_open(fx->dir, fx->st, &fx->b))
		return -1;
	*state = fx;
	return 0;
}

static int dir_teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	fx->b->ops->free(fx->b);
	store_free(fx->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd))
		return -1;
	free(fx);
	return 0;
}

static void dir_initial_load(void **state)
{
	struct fixture *fx = *state;
	struct cluster c;

	assert_string_equal(fx->b->ops->name, "manifest-dir");
	assert_true(fx->b->ops->fd(fx->b) >= 0);
	store_view(fx->st, &c);
	assert_int_equal(c.n[K8S_NAMESPACE], 1);
	assert_int_equal(c.n[K8S_POD], 1);
	assert_int_equal(c.n[K8S_NETWORKPOLICY], 1);
	assert_int_equal(c.n[K8S_NODE], 0);
	assert_non_null(store_get(fx->st, K8S_POD, "a", "p1"));
	/* Hidden, wrong extension, subdirectory: none of them read. */
	assert_null(store_get(fx->st, K8S_POD, "a", "p2"));
	assert_int_equal(fx->b->sync_gen, 7);
	/* Nothing happened since: nothing to apply. */
	assert_int_equal(dispatch(fx->b), 0);
}

static void dir_add_by_rename(void **state)
{
	struct fixture *fx = *state;
	uint64_t v = store_version(fx->st);

	write_renamed(fx->dir, "b.yaml", POD_A2);
	assert_int_equal(dispatch(fx->b), 1);
	assert_non_null(store_get(fx->st, K8S_POD, "a", "p2"));
	assert_int_equal(store_version(fx->st), v + 1);
	/* The same content again: an event, but no change. */
	write_renamed(fx->dir, "b.yaml", POD_A2);
	assert_int_equal(dispatch(fx->b), 0);
}

static void dir_rewrite_drops_object(void **state)
{
	struct fixture *fx = *state;

	/* a.yaml loses its pod and changes nothing else. */
	write_renamed(fx->dir, "a.yaml", NS_A "---\n" SVC);
	assert_int_equal(dispatch(fx->b), 1);
	assert_null(store_get(fx->st, K8S_POD, "a", "p1"));
	assert_non_null(store_get(fx->st, K8S_NAMESPACE, NULL, "a"));
}

static void dir_rewrite_in_place(void **state)
{
	struct fixture *fx = *state;

	write_renamed(fx->dir, "b.yaml", POD_A2);
	assert_int_equal(dispatch(fx->b), 1);
	/* cp/editor style: truncate and write the file itself (IN_CLOSE_WRITE). Now p2 is in
	 * both files, the same: no change. */
	write_at(fx->dir, "a.yaml", NS_A "---\n" POD_A1 "---\n" POD_A2);
	assert_int_equal(dispatch(fx->b), 0);
	assert_non_null(store_get(fx->st, K8S_POD, "a", "p1"));
	/* Removing one of the two files that define p2 keeps it. */
	rm_at(fx->dir, "b.yaml");
	assert_int_equal(dispatch(fx->b), 0);
	assert_non_null(store_get(fx->st, K8S_POD, "a", "p2"));
	/* Dropping it from the other as well removes it. */
	write_at(fx->dir, "a.yaml", NS_A "---\n" POD_A1);
	assert_int_equal(dispatch(fx->b), 1);
	assert_null(store_get(fx->st, K8S_POD, "a", "p2"));
}

#define POD_A3(ip) \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p3, namespace: a}\nstatus: {podIP: " ip "}\n"

static uint32_t p3_ip(struct fixture *fx)
{
	const struct k8s_object *o = store_get(fx->st, K8S_POD, "a", "p3");

	return o ? ntohl(o->pod.ip) : 0;
}

/*
 * The directory's index of which files define what (store.c, kidx): the file
 * loaded last wins, the other file's version comes back when the winner drops
 * the object, a file's own duplicates keep the last, and an object goes only
 * with its last definition. Each step is what a walk over every file gave.
 */
static void dir_two_files_define_one_object(void **state)
{
	struct fixture *fx = *state;

	write_renamed(fx->dir, "b.yaml", POD_A3("10.0.0.31"));
	assert_int_equal(dispatch(fx->b), 1);
	assert_int_equal(p3_ip(fx), 0x0a00001f);
	/* c.yaml loaded later: its version wins. */
	write_renamed(fx->dir, "c.yaml", POD_A3("10.0.0.32"));
	assert_int_equal(dispatch(fx->b), 1);
	assert_int_equal(p3_ip(fx), 0x0a000020);
	/* c.yaml drops it: b.yaml's version is back. */
	write_renamed(fx->dir, "c.yaml", POD_A1);
	assert_int_equal(dispatch(fx->b), 1);
	assert_int_equal(p3_ip(fx), 0x0a00001f);
	/* c.yaml defines it again, twice in one file: the last one holds. */
	write_renamed(fx->dir, "c.yaml", POD_A3("10.0.0.33") "---\n" POD_A3("10.0.0.34"));
	assert_int_equal(dispatch(fx->b), 1);
	assert_int_equal(p3_ip(fx), 0x0a000022);
	/* c.yaml goes: b.yaml's version is back; then b.yaml goes: so does p3. */
	rm_at(fx->dir, "c.yaml");
	assert_int_equal(dispatch(fx->b), 1);
	assert_int_equal(p3_ip(fx), 0x0a00001f);
	rm_at(fx->dir, "b.yaml");
	assert_int_equal(dispatch(fx->b), 1);
	assert_null(store_get(fx->st, K8S_POD, "a", "p3"));
	/* And once no file defines it, a new file's object is no conflict. */
	write_renamed(fx->dir, "d.yaml", POD_A3("10.0.0.35"));
	assert_int_equal(dispatch(fx->b), 1);
	assert_int_equal(p3_ip(fx), 0x0a000023);
}

/*
 * A directory of one file per object, as the lab writes its Services: files
 * are found through an index (store.c, fidx) whose slots move when a file
 * goes. Files removed from the middle, rewritten and added back in batches of
 * every kind must leave each pod as its own file last said, and only them.
 */
#define MANY 300

static void many_write(struct fixture *fx, int i, int gen)
{
	char name[32], text[256];

	snprintf(name, sizeof(name), "m-%03d.yaml", i);
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Pod\nmetadata: {name: m%d, namespace: a}\n"
		 "status: {podIP: 10.%d.%d.%d}\n", i, gen, i / 256, i % 256);
	write_renamed(fx->dir, name, text);
}

static void many_check(struct fixture *fx, const int *gen)
{
	struct cluster c;
	char name[16];
	int live = 0;

	for (int i = 0; i < MANY; i++) {
		const struct k8s_object *o;

		snprintf(name, sizeof(name), "m%d", i);
		o = store_get(fx->st, K8S_POD, "a", name);
		if (!gen[i]) {
			assert_null(o);
			continue;
		}
		live++;
		assert_non_null(o);
		assert_int_equal(ntohl(o->pod.ip),
				 (10u << 24) | ((unsigned)gen[i] << 16) | (unsigned)i);
	}
	store_view(fx->st, &c);
	assert_int_equal(c.n[K8S_POD], live + 1); /* and a.yaml's p1 */
}

static void dir_many_files(void **state)
{
	struct fixture *fx = *state;
	int gen[MANY] = { 0 };
	char name[32];

	for (int i = 0; i < MANY; i++)
		many_write(fx, i, gen[i] = 1);
	assert_int_equal(dispatch(fx->b), MANY);
	many_check(fx, gen);
	/* One batch: every third file goes, every other one is rewritten. */
	for (int i = 0; i < MANY; i++) {
		if (i % 3 == 1) {
			snprintf(name, sizeof(name), "m-%03d.yaml", i);
			rm_at(fx->dir, name);
			gen[i] = 0;
		} else if (i % 2) {
			many_write(fx, i, gen[i] = 2);
		}
	}
	assert_true(dispatch(fx->b) > 0);
	many_check(fx, gen);
	/* Then, after the slots moved: each remaining file rewritten alone, the
	 * removed ones back, then the first half gone. */
	for (int i = 0; i < MANY; i++) {
		if (gen[i])
			many_write(fx, i, gen[i] = 3);
		assert_int_equal(dispatch(fx->b), gen[i] ? 1 : 0);
	}
	many_check(fx, gen);
	for (int i = 0; i < MANY; i++)
		if (!gen[i])
			many_write(fx, i, gen[i] = 4);
	assert_int_equal(dispatch(fx->b), MANY / 3);
	many_check(fx, gen);
	for (int i = 0; i < MANY / 2; i++) {
		snprintf(name, sizeof(name), "m-%03d.yaml", i);
		rm_at(fx->dir, name);
		gen[i] = 0;
	}
	assert_int_equal(dispatch(fx->b), MANY / 2);
	many_check(fx, gen);
}

static void dir_delete_file(void **state)
{
	struct fixture *fx = *state;
	struct cluster c;

	rm_at(fx->dir, "a.yaml");
	assert_int_equal(dispatch(fx->b), 2);
	assert_null(store_get(fx->st, K8S_NAMESPACE, NULL, "a"));
	assert_null(store_get(fx->st, K8S_POD, "a", "p1"));
	assert_non_null(store_get(fx->st, K8S_NETWORKPOLICY, "a", "deny"));
	store_view(fx->st, &c);
	assert_int_equal(c.n[K8S_NAMESPACE], 0);
	assert_int_equal(c.n[K8S_POD], 0);
	assert_int_equal(c.n[K8S_NETWORKPOLICY], 1);
}

static void dir_bad_file_keeps_previous(void **state)
{
	struct fixture *fx = *state;
	const struct k8s_object *np;
	char log[4096];

	/* Valid first document, invalid second: the whole file is refused. */
	write_renamed(fx->dir, "np.json",
		      "apiVersion: v1\nkind: Pod\nmetadata: {name: p9, namespace: a}\n---\n"
		      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		      "metadata: {name: deny, namespace: a}\nspec: {ingress: [{}]}\n");
	assert_int_equal(dispatch_logged(fx->b, log, sizeof(log)), 0);
	assert_non_null(strstr(log, "np.json"));
	assert_non_null(strstr(log, "/np.json: NetworkPolicy a/deny: spec.podSelector: required"));
	np = store_get(fx->st, K8S_NETWORKPOLICY, "a", "deny");
	assert_non_null(np);
	assert_int_equal(np->np.ningress, 0);
	assert_null(store_get(fx->st, K8S_POD, "a", "p9"));

	/* A syntax error: also logged with the file and the line. */
	write_renamed(fx->dir, "np.json", "{\"kind\": \"Pod\",\n \"metadata\": {\n");
	assert_int_equal(dispatch_logged(fx->b, log, sizeof(log)), 0);
	assert_non_null(strstr(log, "np.json: line 3"));
	assert_non_null(store_get(fx->st, K8S_NETWORKPOLICY, "a", "deny"));

	/* Fixed: it takes effect, and removing it later removes what it defined. */
	write_renamed(fx->dir, "np.json", NP_A);
	assert_int_equal(dispatch(fx->b), 0);
	rm_at(fx->dir, "np.json");
	assert_int_equal(dispatch(fx->b), 1);
	assert_null(store_get(fx->st, K8S_NETWORKPOLICY, "a", "deny"));
}

static void dir_bad_new_file_adds_nothing(void **state)
{
	struct fixture *fx = *state;
	char log[4096];

	write_renamed(fx->dir, "c.yml",
		      POD_A2 "---\napiVersion: v1\nkind: Pod\n"
			     "metadata: {name: q, namespace: a}\n"
			     "spec: {containers: [{ports: [{containerPort: 0}]}]}\n");
	assert_int_equal(dispatch_logged(fx->b, log, sizeof(log)), 0);
	assert_non_null(strstr(log, "c.yml"));
	assert_non_null(strstr(log, "Pod a/q: spec.containers[0].ports[0].containerPort"));
	assert_null(store_get(fx->st, K8S_POD, "a", "q"));
}

static void dir_generation(void **state)
{
	struct fixture *fx = *state;

	write_renamed(fx->dir, ".xcni-generation", "42\n");
	assert_int_equal(dispatch(fx->b), 0);
	assert_int_equal(fx->b->sync_gen, 42);
	/* With manifests in the same batch: both applied. */
	write_renamed(fx->dir, "n.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n");
	write_at(fx->dir, ".xcni-generation", "43");
	assert_int_equal(dispatch(fx->b), 1);
	assert_int_equal(fx->b->sync_gen, 43);
	assert_non_null(store_get(fx->st, K8S_NODE, NULL, "n1"));
	/* Garbage keeps the last good token. */
	write_renamed(fx->dir, ".xcni-generation", "soon\n");
	assert_int_equal(dispatch(fx->b), 0);
	assert_int_equal(fx->b->sync_gen, 43);
}

static void dir_rename_moves_objects(void **state)
{
	struct fixture *fx = *state;
	char from[256], to[256];

	snprintf(from, sizeof(from), "%s/a.yaml", fx->dir);
	snprintf(to, sizeof(to), "%s/moved.yaml", fx->dir);
	assert_int_equal(rename(from, to), 0);
	/* Same objects, another file: nothing changed. */
	assert_int_equal(dispatch(fx->b), 0);
	assert_non_null(store_get(fx->st, K8S_POD, "a", "p1"));
	/* And they now belong to the new name. */
	rm_at(fx->dir, "moved.yaml");
	assert_int_equal(dispatch(fx->b), 2);
	assert_null(store_get(fx->st, K8S_POD, "a", "p1"));
	/* Moved out of the directory (to a hidden name): gone. */
	snprintf(from, sizeof(from), "%s/np.json", fx->dir);
	snprintf(to, sizeof(to), "%s/.np.json.bak", fx->dir);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(dispatch(fx->b), 1);
	assert_null(store_get(fx->st, K8S_NETWORKPOLICY, "a", "deny"));
}

static void dir_unknown_kind_skipped(void **state)
{
	struct fixture *fx = *state;
	char log[4096];

	xlog_max = XLOG_DEBUG;
	write_renamed(fx->dir, "svc.yaml", SVC "---\n" POD_A2);
	assert_int_equal(dispatch_logged(fx->b, log, sizeof(log)), 1);
	xlog_max = XLOG_WARN;
	assert_non_null(strstr(log, "svc.yaml: skipping Service s: kind Service (v1) is not read"));
	assert_non_null(store_get(fx->st, K8S_POD, "a", "p2"));
}

#define EPS_S                                                                              \
	"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s-1, namespace: " \
	"a, labels: {kubernetes.io/service-name: s}}\naddressType: IPv4\n"                      \
	"endpoints: [{addresses: [10.0.0.1]}]\nports: [{port: 80}]\n"

/* With MANIFEST_LB (--kube-proxy-replacement) Services and EndpointSlices are held, next to the rest. */
static void dir_lb_holds_services(void **state)
{
	struct fixture *fx = *state;
	struct store *st = store_new();
	struct cs_backend *b;
	struct cluster c;

	write_renamed(fx->dir, "eps.yaml", EPS_S);
	write_renamed(fx->dir, "a.yaml", NS_A "---\n" POD_A1 "---\n" SVC "spec: {ports: [{port: 80}]}\n");
	assert_int_equal(dispatch(fx->b), 0); /* the default backend skips them */
	store_view(fx->st, &c);
	assert_int_equal(c.n[K8S_SERVICE], 0);
	assert_int_equal(c.n[K8S_ENDPOINTSLICE], 0);

	assert_non_null(st);
	assert_int_equal(manifest_dir_open_flags(fx->dir, st, MANIFEST_LB, &b), 0);
	store_view(st, &c);
	assert_int_equal(c.n[K8S_POD], 1);
	assert_int_equal(c.n[K8S_SERVICE], 1);
	assert_int_equal(c.n[K8S_ENDPOINTSLICE], 1);
	assert_string_equal(c.objs[K8S_ENDPOINTSLICE][0]->eps.service, "s");
	assert_non_null(store_get(st, K8S_SERVICE, "a", "s"));
	/* A slice going goes from the store; a Service rewritten is a change. */
	rm_at(fx->dir, "eps.yaml");
	assert_int_equal(dispatch(b), 1);
	assert_null(store_get(st, K8S_ENDPOINTSLICE, "a", "s-1"));
	/* A Service the API server would refuse: the file is ignored until fixed, as for any kind. */
	write_renamed(fx->dir, "a.yaml", NS_A "---\n" SVC);
	assert_int_equal(dispatch(b), 0);
	assert_non_null(store_get(st, K8S_SERVICE, "a", "s"));
	write_renamed(fx->dir, "a.yaml",
		      NS_A "---\n" POD_A1 "---\n" SVC "spec: {ports: [{port: 81}]}\n");
	assert_int_equal(dispatch(b), 1);
	assert_int_equal(store_get(st, K8S_SERVICE, "a", "s")->svc.ports[0].port, 81);
	b->ops->free(b);
	store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_identical_changed_del),
		cmocka_unit_test(digest_is_json_equal),
		cmocka_unit_test(churn_bound_per_namespace),
		cmocka_unit_test(view_sorted_and_cached),
		cmocka_unit_test_setup_teardown(dir_initial_load, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(dir_add_by_rename, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(dir_rewrite_drops_object, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(dir_rewrite_in_place, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(dir_two_files_define_one_object, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(dir_delete_file, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(dir_many_files, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(dir_bad_file_keeps_previous, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(dir_bad_new_file_adds_nothing, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(dir_generation, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(dir_rename_moves_objects, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(dir_unknown_kind_skipped, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(dir_lb_holds_services, dir_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
