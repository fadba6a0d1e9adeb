// SPDX-License-Identifier: Apache-2.0
/*
 * A manifest file as the manifest-directory backend reads it (file_parse in
 * user/lib/cluster/store.c): a YAML or JSON stream, every document through k8s_parse
 * into the store; Services through k8s_parse_all as the lab's kube-proxy reads
 * them. Then the store's view and the policy compiled from it, as xcnid does
 * for the node named by the first pod. And as xcnid --kube-proxy-replacement
 * reads it (k8s_parse_lb: Services and EndpointSlices too), into a second
 * store whose Services become svcsync's frontends (svc_build).
 */
#include "fuzz.h"
#include "lib/cluster/k8s.h"
#include "lib/policy/policy.h"
#include "lib/cluster/store.h"
#include "lib/services/svc.h"
#include "../unit/svc_fx.h"

FUZZ_LOG_ALL()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store *st = store_new();
	struct k8s_error err;
	struct k8s_object *obj;
	struct pol_opts po = { .gateway_ip = 0x0100000a };
	struct pol_result r = { 0 };
	struct cluster c;
	struct store *lbst = store_new();
	json_t **docs;
	size_t ndocs;
	char *node = NULL;

	if (!st || !lbst) {
		store_free(st);
		store_free(lbst);
		return 0;
	}
	if (k8s_load_stream((const char *)data, size, &docs, &ndocs, &err)) {
		FUZZ_ASSERT(err.msg[0]);
		store_free(st);
		store_free(lbst);
		return 0;
	}
	for (size_t i = 0; i < ndocs; i++) {
		if (k8s_parse_lb(docs[i], &obj, &err) == 0)
			FUZZ_ASSERT(store_put(lbst, obj) >= 0);
		else
			FUZZ_ASSERT(err.msg[0]);
		if (k8s_parse_all(docs[i], &obj, &err) == 0) {
			FUZZ_ASSERT(obj->meta.name && obj->meta.name[0]);
			k8s_free(obj);
		}
		if (k8s_parse(docs[i], &obj, &err) != 0) {
			FUZZ_ASSERT(err.msg[0]);
			continue;
		}
		FUZZ_ASSERT(obj->kind < K8S_NR_KINDS);
		if (obj->kind == K8S_POD && !po.node_name && obj->pod.node_name)
			po.node_name = node = strdup(obj->pod.node_name);
		FUZZ_ASSERT(store_put(st, obj) >= 0);
	}
	store_view(st, &c);
	for (int k = 0; k < K8S_NR_KINDS; k++)
		for (size_t i = 0; i < c.n[k]; i++)
			FUZZ_ASSERT(store_get(st, (enum k8s_kind)k, c.objs[k][i]->meta.ns,
					      c.objs[k][i]->meta.name) == c.objs[k][i]);
	if (pol_compile(&c, &po, &r, &err) == 0)
		pol_result_free(&r);
	store_view(lbst, &c);
	for (unsigned int flags = 0; flags <= SVC_BUILD_MAGLEV; flags += SVC_BUILD_MAGLEV) {
		struct svc_list l;
		size_t neps = 0;

		for (size_t i = 0; i < c.n[K8S_ENDPOINTSLICE]; i++)
			neps += c.objs[K8S_ENDPOINTSLICE][i]->eps.nendpoints;
		/* One node address in the range the fuzzer's inputs tend to use. */
		static const uint32_t addr = 0x0100000a; /* 10.0.0.1 */
		const struct svc_node sn = { .name = "n1", .naddrs = 1, .addrs = &addr };

		if (svc_build(&c, flags ? &sn : NULL, flags, &l))
			continue;
		for (size_t i = 0; i < l.n; i++) {
			FUZZ_ASSERT(l.specs[i].name && l.specs[i].nbe <= neps);
			for (size_t j = 0; j < i; j++) /* frontends unique, as svcsync wants */
				FUZZ_ASSERT(memcmp(&l.specs[i].key, &l.specs[j].key,
						   sizeof(l.specs[i].key)));
		}
		for (size_t i = 0; i < l.nerrs; i++)
			FUZZ_ASSERT(!strncmp(l.errs[i], "Service ", 8));
		svc_list_free(&l);
	}
	k8s_docs_free(docs, ndocs);
	store_free(st);
	store_free(lbst);
	free(node);
	return 0;
}
