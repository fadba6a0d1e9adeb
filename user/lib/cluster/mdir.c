// SPDX-License-Identifier: Apache-2.0
/*
 * The store's manifest-directory backend (store.h, manifest_dir_open): one
 * object per file or many, the directory watched with inotify, each batch of
 * changes applied to the store once the generation file says it is complete.
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

#include "lib/system/hmap.h"
#include "lib/system/log.h"
#include "lib/cluster/store.h"
#include "lib/system/util.h"

#define MDIR_NS(ns) ((ns) ? (ns) : "")

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
	char key[]; /* store_key */
};

struct mdir {
	struct cs_backend b;
	char *dir;
	int ifd;
	int wd;
	size_t nfiles, cap_files;
	struct mfile *files;
	/* This batch: names touched, generation file touched, events lost. */
	size_t npending, cap_pending;
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
	return e->kind == kind && !strcmp(MDIR_NS(e->ns), MDIR_NS(ns)) &&
	       !strcmp(e->name, name);
}

/* The value for the key, 0 when it has none. */
static size_t kidx_get(const struct hmap *x, enum k8s_kind kind, const char *ns, const char *name)
{
	char key[STORE_KEY_MAX];
	struct kidx_node *nd;
	uint64_t h;

	if (!x->n || store_key(key, kind, ns, name, &h))
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
	char key[STORE_KEY_MAX];
	struct kidx_node *nd = NULL;
	uint64_t h;

	if (store_key(key, kind, ns, name, &h))
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
				path, k8s_kind_name(v[i].kind), MDIR_NS(v[i].ns),
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
	if (!f && (XCNI_GROW(md->files, md->nfiles, md->cap_files) || !(fname = strdup(name)))) {
		ret = -ENOMEM;
		goto err_objs;
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
		if (XCNI_GROW(names, n, cap)) {
			ret = -ENOMEM;
			goto out;
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
	if (XCNI_GROW(md->pending, md->npending, md->cap_pending))
		return -ENOMEM;
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
	md->npending = md->cap_pending = 0;
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
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
				return pr_err_ret(-ENOENT, "%s: the directory was removed or "
						  "moved; keeping the last state\n", md->dir);
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
	xcni_close(&md->ifd);
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
