// SPDX-License-Identifier: Apache-2.0
/*
 * The cluster state xcnid watches: <labdir>/manifests, one object per file,
 * written the way the API server would store them, and the sync token
 * (manifests/.xcni-generation) written after every change, so an agent
 * applies a change as one batch and reports the generation it applied.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/cluster.h"
#include "lib/system/log.h"

#define GEN_FILE ".xcni-generation"

const char *const lab_wr_word[] = { "unchanged", "created", "configured" };

void lab_object_file(const struct lab *lab, enum k8s_kind kind, const char *ns, const char *name,
		     char *out, size_t len)
{
	static const char *const prefix[K8S_NR_ALL_KINDS] = {
		[K8S_NAMESPACE] = "namespace", [K8S_POD] = "pod", [K8S_NODE] = "node",
		[K8S_NETWORKPOLICY] = "networkpolicy", [K8S_SERVICE] = "service",
		[K8S_CLUSTERNETPOL] = "clusternetworkpolicy",
		[K8S_ENDPOINTSLICE] = "endpointslice",
	};

	if (ns)
		lab_path(lab, out, len, "manifests/%s.%s.%s.json", prefix[kind], ns, name);
	else
		lab_path(lab, out, len, "manifests/%s.%s.json", prefix[kind], name);
}

int lab_object_write(const char *path, json_t *doc, enum lab_wr *res)
{
	json_t *old = json_load_file(path, 0, NULL);
	int err = 0;

	if (old && json_equal(old, doc))
		*res = LAB_WR_UNCHANGED;
	else if (!(err = lab_write_json(path, doc)))
		*res = old ? LAB_WR_CONFIGURED : LAB_WR_CREATED;
	json_decref(old);
	return err;
}

json_t *lab_object_doc(const struct k8s_object *obj)
{
	json_t *doc = json_deep_copy(obj->raw), *meta;

	if (!doc)
		return NULL;
	meta = json_object_get(doc, "metadata");
	if (obj->meta.ns && json_is_object(meta))
		json_object_set_new(meta, "namespace", json_string(obj->meta.ns));
	return doc;
}

int lab_object_unlink(const char *path)
{
	if (!unlink(path))
		return 1;
	if (errno == ENOENT)
		return 0;
	return said(-errno, "lab: rm %s: %s\n", path, strerror(errno));
}

static unsigned long long gen_read(const struct lab *lab)
{
	unsigned long long g = 0;
	char path[PATH_MAX];
	FILE *f;

	lab_path(lab, path, sizeof(path), "manifests/" GEN_FILE);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &g) != 1)
			g = 0;
		fclose(f);
	}
	return g;
}

int lab_gen_bump(const struct lab *lab, unsigned long long *gen)
{
	char path[PATH_MAX], buf[32];

	*gen = gen_read(lab) + 1;
	lab_path(lab, path, sizeof(path), "manifests/" GEN_FILE);
	snprintf(buf, sizeof(buf), "%llu\n", *gen);
	/* Written after every object of this change, so the agent applies them as one batch. */
	return lab_write_atomic(path, buf, strlen(buf));
}

int lab_object_load(const char *path, struct k8s_object **out)
{
	struct k8s_error kerr;
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr);
	int err;

	if (!doc)
		return access(path, F_OK) ? -ENOENT : said(-EINVAL, "lab: %s: %s\n", path,
							   jerr.text);
	err = k8s_parse_lb(doc, out, &kerr);
	json_decref(doc);
	return err ? said(-EINVAL, "lab: %s: %s\n", path, kerr.msg) : 0;
}

static int json_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".json");
}

int lab_objects_each(const struct lab *lab, const char *sub,
		     int (*fn)(struct k8s_object *o, void *arg), void *arg)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	struct k8s_object *o;
	struct dirent **ents;
	int n, err = 0;

	lab_path(lab, dir, sizeof(dir), "%s", sub);
	n = scandir(dir, &ents, json_file, alphasort);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		free(ents[i]);
		/* One that cannot be read is said and left out. */
		if (!err && !lab_object_load(path, &o))
			err = fn(o, arg);
	}
	free(ents);
	return err;
}
