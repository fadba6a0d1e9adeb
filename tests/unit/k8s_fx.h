/* SPDX-License-Identifier: Apache-2.0 */
/* Manifest text -> JSON documents or a store, for the manifest and service tests. */
#ifndef XCNI_TEST_K8S_FX_H
#define XCNI_TEST_K8S_FX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../user/lib/cluster/k8s.h"
#include "../../user/lib/cluster/store.h"

static inline json_t **load(const char *yaml, size_t *n)
{
	struct k8s_error err;
	json_t **docs = NULL;

	if (k8s_load_stream(yaml, strlen(yaml), &docs, n, &err))
		fail_msg("load failed: %s", err.msg);
	return docs;
}

static inline json_t *load1(const char *yaml)
{
	size_t n;
	json_t **docs = load(yaml, &n), *doc;

	assert_int_equal(n, 1);
	doc = json_incref(docs[0]);
	k8s_docs_free(docs, n);
	return doc;
}

/* The one document of yaml parsed with parse (k8s_parse, k8s_parse_all). */
static inline int parse_with(int (*parse)(json_t *, struct k8s_object **, struct k8s_error *),
			     const char *yaml, struct k8s_object **obj, struct k8s_error *err)
{
	json_t *doc = load1(yaml);
	int ret = parse(doc, obj, err);

	json_decref(doc);
	return ret;
}

/* The one document of yaml, which must parse with parse. */
static inline struct k8s_object *
must_parse_with(int (*parse)(json_t *, struct k8s_object **, struct k8s_error *), const char *yaml)
{
	struct k8s_object *obj = NULL;
	struct k8s_error err;

	if (parse_with(parse, yaml, &obj, &err))
		fail_msg("parse failed: %s", err.msg);
	return obj;
}

/* A new store holding every document of YAML, each parsed with PARSE
 * (k8s_parse_all, k8s_parse_lb, ...). */
static inline struct store *store_of(const char *yaml,
				     int (*parse)(json_t *, struct k8s_object **, struct k8s_error *))
{
	struct store *st = store_new();
	struct k8s_error err;
	size_t n;
	json_t **docs;

	assert_non_null(st);
	docs = load(yaml, &n);
	for (size_t i = 0; i < n; i++) {
		struct k8s_object *o;

		if (parse(docs[i], &o, &err))
			fail_msg("%s", err.msg);
		assert_int_equal(store_put(st, o), 1);
	}
	k8s_docs_free(docs, n);
	return st;
}

#endif
