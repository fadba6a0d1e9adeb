// SPDX-License-Identifier: Apache-2.0
/*
 * k8s_obj_path (user/lib/cluster/k8sobj.c): where the API server keeps the
 * objects xcnictl creates, and the refusals naming the field; the
 * connectivity test's own manifest (lab --manifest for a cluster) loaded
 * with the project's YAML loader as that command does.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../user/lib/cluster/k8s.h"
#include "../../user/lib/cluster/k8sobj.h"

static json_t *doc(const char *yaml)
{
	struct k8s_error err = {};
	json_t **docs = NULL, *d;
	size_t n = 0;

	assert_int_equal(k8s_load_stream(yaml, strlen(yaml), &docs, &n, &err), 0);
	assert_int_equal(n, 1);
	d = json_incref(docs[0]);
	k8s_docs_free(docs, n);
	return d;
}

static void path_is(const char *yaml, bool item, const char *want)
{
	char buf[256], err[256];
	json_t *d = doc(yaml);

	assert_int_equal(k8s_obj_path(d, item, buf, sizeof(buf), err, sizeof(err)), 0);
	assert_string_equal(buf, want);
	json_decref(d);
}

static void refused(const char *yaml, int want, const char *msg)
{
	char buf[256] = "", err[256];
	json_t *d = doc(yaml);

	assert_int_equal(k8s_obj_path(d, false, buf, sizeof(buf), err, sizeof(err)), want);
	if (!strstr(err, msg))
		fail_msg("error \"%s\" does not say \"%s\"", err, msg);
	json_decref(d);
}

static void test_paths(void **state)
{
	(void)state;
	path_is("{apiVersion: v1, kind: Namespace, metadata: {name: x}}", false, "/api/v1/namespaces");
	path_is("{apiVersion: v1, kind: Namespace, metadata: {name: x}}", true, "/api/v1/namespaces/x");
	path_is("{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: x}}", false,
		"/api/v1/namespaces/x/pods");
	path_is("{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: x}}", true,
		"/api/v1/namespaces/x/pods/p");
	/* kubectl without a context namespace: default. */
	path_is("{apiVersion: v1, kind: Service, metadata: {name: s}}", true,
		"/api/v1/namespaces/default/services/s");
	path_is("{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: g, namespace: x}}",
		false, "/apis/networking.k8s.io/v1/namespaces/x/networkpolicies");
	path_is("{apiVersion: discovery.k8s.io/v1beta1, kind: EndpointSlice, metadata: {name: e, namespace: x}}",
		true, "/apis/discovery.k8s.io/v1beta1/namespaces/x/endpointslices/e");
	path_is("{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: xcni, namespace: kube-system}}",
		true, "/apis/apps/v1/namespaces/kube-system/daemonsets/xcni");
	/* A name that is not one path segment is escaped, not a path of its own. */
	path_is("{apiVersion: v1, kind: Pod, metadata: {name: \"a/b c\", namespace: x}}", true,
		"/api/v1/namespaces/x/pods/a%2Fb%20c");
}

static void test_refused(void **state)
{
	(void)state;
	refused("{apiVersion: v1, metadata: {name: p}}", -EINVAL, "kind: required");
	refused("{kind: Pod, metadata: {name: p}}", -EINVAL, "Pod: apiVersion: required");
	refused("{apiVersion: v1, kind: Pod, metadata: {namespace: x}}", -EINVAL,
		"Pod: metadata.name: required");
	refused("{apiVersion: v1, kind: NetworkPolicy, metadata: {name: g}}", -EINVAL,
		"NetworkPolicy g: apiVersion: v1 does not serve NetworkPolicy (want networking.k8s.io/v1)");
	refused("{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}}", -ENOTSUP,
		"Widget w: kind Widget: not one xcnictl knows the API path of");
}

static void test_too_small(void **state)
{
	char buf[16], err[256];
	json_t *d = doc("{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: xxxxxxxx}}");

	(void)state;
	assert_int_equal(k8s_obj_path(d, true, buf, sizeof(buf), err, sizeof(err)), -ENOSPC);
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
