// SPDX-License-Identifier: Apache-2.0
/*
 * The CNI_* environment as the plugin checks and uses it (need_env in
 * cni/plugin.c): CNI_CONTAINERID and CNI_IFNAME through their validators, the
 * host-side name and link alias made from them, and a link alias read back
 * from the kernel (GC trusts only aliases it can parse). CNI_ARGS is not
 * parsed by xcni: it goes to the IPAM plugin as it came. Fields are split at
 * NUL bytes: container ID, ifname, network name, an alias, two versions.
 */
#include <net/if.h>

#include "fuzz.h"
#include "../../cni/cni.h"

FUZZ_LOG_ALL()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cid = fuzz_field(&data, &size), *ifname = fuzz_field(&data, &size);
	char *net = fuzz_field(&data, &size), *alias = fuzz_field(&data, &size);
	char *v1 = fuzz_field(&data, &size), *v2 = fuzz_field(&data, &size);
	char host[IF_NAMESIZE], buf[256], pcid[256], pif[IF_NAMESIZE];

	if (!cid || !ifname || !net)
		goto out;
	if (xcni_valid_container_id(cid) && xcni_valid_ifname(ifname)) {
		xcni_host_ifname(cid, ifname, host);
		FUZZ_ASSERT(xcni_valid_ifname(host));
		FUZZ_ASSERT(xcni_ep_id(cid, ifname) != 0);
		/* An alias xcni writes reads back as what went in. */
		if (net[0] && xcni_link_alias(net, cid, ifname, buf, sizeof(buf)) == 0) {
			FUZZ_ASSERT(xcni_link_alias_parse(buf, net, pcid, sizeof(pcid), pif,
							  sizeof(pif)) == 0);
			FUZZ_ASSERT(!strcmp(pcid, cid) && !strcmp(pif, ifname));
		}
	}
	if (alias && xcni_link_alias_parse(alias, net, pcid, sizeof(pcid), pif, sizeof(pif)) == 0) {
		FUZZ_ASSERT(pcid[0] && pif[0] && !strchr(pif, ' '));
		FUZZ_ASSERT(strlen(pif) < IF_NAMESIZE);
	}
	if (v1 && v2) {
		int c = cni_version_cmp(v1, v2);

		FUZZ_ASSERT(c == -cni_version_cmp(v2, v1));
		if (cni_version_index(v1) >= 0)
			FUZZ_ASSERT(!strcmp(xcni_versions[cni_version_index(v1)], v1));
	}
out:
	free(cid);
	free(ifname);
	free(net);
	free(alias);
	free(v1);
	free(v2);
	return 0;
}
