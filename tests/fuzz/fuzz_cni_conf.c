// SPDX-License-Identifier: Apache-2.0
/*
 * The network configuration on the plugin's stdin, as the runtime hands it
 * over: xcni_conf_parse, then what ADD/CHECK do with prevResult (the IPAM
 * result shape) and the result written back from it in the config's version.
 */
#include "fuzz.h"
#include "../../cni/cni.h"

FUZZ_LOG_ALL()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xcni_conf c;
	struct cni_err e = { 0 };
	struct xcni_ipam ipam;

	if (xcni_conf_parse((const char *)data, size, &c, &e) == 0) {
		FUZZ_ASSERT(cni_version_index(c.cni_version) >= 0);
		FUZZ_ASSERT(c.state_dir[0] == '/' && c.pin_dir[0] == '/');
		FUZZ_ASSERT(c.mtu >= 576 && c.mtu <= 65535);
		FUZZ_ASSERT(c.ipam_type[0] && !strchr(c.ipam_type, '/'));
		if (c.prev_result && xcni_ipam_parse(c.prev_result, &ipam, &e) == 0) {
			struct cni_attach a = { .host_if = "xc0123456789ab", .pod_if = "eth0",
						 .netns = "/var/run/netns/x", .mtu = c.mtu };
			json_t *res = xcni_result_build(c.cni_version, &a, &ipam);
			char *out = json_dumps(res, JSON_COMPACT);

			FUZZ_ASSERT(res && out);
			free(out);
			json_decref(res);
			xcni_ipam_free(&ipam);
		}
	} else {
		/* Every refusal says why, in a message that fits. */
		FUZZ_ASSERT(e.code != 0 && e.msg[0]);
		FUZZ_ASSERT(memchr(e.msg, '\0', sizeof(e.msg)));
	}
	xcni_conf_free(&c);
	return 0;
}
