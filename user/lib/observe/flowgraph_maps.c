// SPDX-License-Identifier: Apache-2.0
/*
 * The service map's one look at the maps (flowgraph.h): which policies isolate
 * a pod whose flow was dropped with "nothing allows", as xcnictl explain and
 * monitor name them, so a click on a denied edge names the policy even though
 * the drop itself carries no policy id.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include <bpf/bpf.h>

#include "xcni_shared.h"
#include "lib/observe/flowgraph.h"
#include "lib/policy/polsync.h"

unsigned int fg_isolators(int polsel_fd, int polname_fd, const struct polkey6_maps *k6,
			  const char *ip, bool ingress, char *buf, size_t len)
{
	__u8 dir = ingress ? XCNI_DIR_TO_POD : XCNI_DIR_FROM_POD;
	struct xcni_polsel s;
	unsigned char a6[16];
	char name[340];
	size_t off = 0;
	__u32 key = 0;
	unsigned int i, kept;

	buf[0] = '\0';
	if (inet_pton(AF_INET, ip, &key) != 1 &&
	    (inet_pton(AF_INET6, ip, a6) != 1 || !(key = polsync_key6(k6, a6))))
		return 0;
	if (polsel_fd < 0 || bpf_map_lookup_elem(polsel_fd, &key, &s) || !s.n[dir])
		return 0;
	kept = s.n[dir] < XCNI_POLSEL_IDS ? s.n[dir] : XCNI_POLSEL_IDS;
	for (i = 0; i < kept && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
					policy_name(polname_fd, s.ids[dir][i], name, sizeof(name)));
	return s.n[dir];
}
