/* SPDX-License-Identifier: Apache-2.0 */
/* Manifest text -> JSON documents, for the manifest tests (test_k8s.c, test_k8s_svc.c). */
#ifndef XCNI_TEST_K8S_FX_H
#define XCNI_TEST_K8S_FX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../user/lib/cluster/k8s.h"

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

#endif
