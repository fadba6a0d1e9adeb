// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>

#include "prefilter.h"

static int mark_one(int fd, __u32 net, int delta)
{
	__u32 n = 0;

	if (bpf_map_lookup_elem(fd, &net, &n) && errno != ENOENT)
		return -errno;
	if (delta < 0 && n <= 1)
		return bpf_map_delete_elem(fd, &net) && errno != ENOENT ? -errno : 0;
	n = delta < 0 ? n - 1 : n + 1;
	return bpf_map_update_elem(fd, &net, &n, BPF_ANY) ? -errno : 0;
}

int xcni_prefilter_mark(int fd16, int fd24, const struct xcni_prefilter_key *k, int delta)
{
	__u32 len = k->prefixlen, base = ntohl(k->addr);
	unsigned int level = len < 16 ? 16 : 24, step = 1u << (32 - level);
	__u32 count = len < level ? 1u << (level - len) : 1;
	int fd = len < 16 ? fd16 : fd24, err = 0;
	__u32 i;

	if (len == 0 || len > 32)
		return -EINVAL;
	base &= level == 16 ? XCNI_PF16_MASK : XCNI_PF24_MASK;
	for (i = 0; i < count && !err; i++)
		err = mark_one(fd, htonl(base + i * step), delta);
	if (err && delta > 0) /* undo the marks made so far */
		while (i-- > 1)
			mark_one(fd, htonl(base + (i - 1) * step), -1);
	return err;
}
