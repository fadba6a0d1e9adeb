// SPDX-License-Identifier: Apache-2.0
/*
 * What a delegated IPAM plugin prints on stdout (cni_exec_finish hands the
 * parsed JSON to xcni_ipam_parse), then the ADD result built from it in every
 * version xcni writes.
 */
#include "fuzz.h"
#include "../../cni/cni.h"

FUZZ_LOG_ALL()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *res = json_loadb((const char *)data, size, 0, NULL);
	struct cni_err e = { 0 };
	struct xcni_ipam ipam;

	if (!res)
		return 0;
	if (xcni_ipam_parse(res, &ipam, &e) == 0) {
		struct cni_attach a = { .host_if = "xc0123456789ab", .pod_if = "eth0",
					 .netns = "/var/run/netns/x", .mtu = 1500 };

		FUZZ_ASSERT(ipam.has4 || ipam.has6);
		FUZZ_ASSERT(!ipam.has4 || (ipam.plen <= 32 && ipam.ip && ipam.ip != ipam.gw));
		FUZZ_ASSERT(!ipam.has6 || (ipam.plen6 <= 128 && !IN6_IS_ADDR_LINKLOCAL(&ipam.ip6)));
		/* A default route at least for each family the pod has, none of another. */
		FUZZ_ASSERT(json_array_size(ipam.routes) >= (size_t)(ipam.has4 + ipam.has6));
		for (size_t i = 0; i < json_array_size(ipam.routes); i++) {
			const char *dst = json_string_value(
				json_object_get(json_array_get(ipam.routes, i), "dst"));

			FUZZ_ASSERT(dst && (strchr(dst, ':') ? ipam.has6 : ipam.has4));
		}
		for (size_t i = 0; i < xcni_nversions; i++) {
			json_t *out = xcni_result_build(xcni_versions[i], &a, &ipam);
			char *s = json_dumps(out, JSON_COMPACT);

			FUZZ_ASSERT(out && s);
			free(s);
			json_decref(out);
		}
		xcni_ipam_free(&ipam);
	} else {
		FUZZ_ASSERT(e.code != 0 && e.msg[0]);
	}
	json_decref(res);
	return 0;
}
