/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 3 of the lab: the cluster state xcnid watches (<labdir>/manifests, one
 * object per file, as the API server would store it) and its sync token.
 */
#ifndef XCNI_LAB_CLUSTER_H
#define XCNI_LAB_CLUSTER_H

#include <jansson.h>

#include "lab/state.h"
#include "lib/cluster/k8s.h"

/* What writing an object did, as kubectl says it. */
enum lab_wr { LAB_WR_UNCHANGED, LAB_WR_CREATED, LAB_WR_CONFIGURED };
extern const char *const lab_wr_word[];

/* Where an object of the cluster state is kept (ns NULL: cluster-scoped). */
void lab_object_file(const struct lab *lab, enum k8s_kind kind, const char *ns, const char *name,
		     char *out, size_t len);
/* Writes doc as the object's file, unless the file already holds exactly it. */
int lab_object_write(const char *path, json_t *doc, enum lab_wr *res);
/* The object as the API server would hold it: namespace filled in. */
json_t *lab_object_doc(const struct k8s_object *obj);
/* 1 if the file was there and is gone, 0 if there was none, -errno (said). */
int lab_object_unlink(const char *path);
/* Writes the next sync token (*gen) after a change's objects: 0 or -errno. */
int lab_gen_bump(const struct lab *lab, unsigned long long *gen);
/* The object kept at path (any kind the lab serves): 0, -ENOENT (no file;
 * not said), or -EINVAL (said: not JSON, or not such an object). */
int lab_object_load(const char *path, struct k8s_object **out);
/*
 * Every object kept as <labdir>/SUB/NAME.json, in name order, to fn (which
 * owns it; a non-zero return stops and is returned). 0 without SUB, or -errno.
 */
int lab_objects_each(const struct lab *lab, const char *sub,
		     int (*fn)(struct k8s_object *o, void *arg), void *arg);

#endif
