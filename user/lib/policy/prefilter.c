// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/system/cidr.h"
#include "lib/policy/prefilter.h"

/*
 * xcni_prefix_parse reads the prefix (an address alone is its host's; the
 * length as the API server writes it: 1-3 digits); the address alone is
 * read first to say which half is wrong.
 */
int xcni_prefilter_parse(const char *s, struct xcni_prefix *p, char *why, size_t wlen)
{
	const char *sl = strchr(s, '/');
	size_t alen = sl ? (size_t)(sl - s) : strlen(s);
	int v6 = memchr(s, ':', alen) != NULL;
	unsigned int max = v6 ? 128 : 32;
	char addr[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 4];
	struct xcni_prefix n;

	if (alen >= sizeof(addr) || (snprintf(addr, sizeof(addr), "%.*s", (int)alen, s),
				     xcni_prefix_parse(addr, XCNI_CIDR_BARE, p))) {
		snprintf(why, wlen, v6 ? "not an IPv6 prefix (ADDRESS/LEN)" :
					 "not an IPv4 prefix (A.B.C.D/LEN) nor an IPv6 one (ADDRESS/LEN)");
		return -EINVAL;
	}
	if (xcni_prefix_parse(s, XCNI_CIDR_BARE | XCNI_CIDR_STRICT, p)) {
		snprintf(why, wlen, "bad prefix length \"%s\" (1 to %u)", sl ? sl + 1 : "", max);
		return -EINVAL;
	}
	if (!p->len) {
		snprintf(why, wlen, "a /0 would drop every packet the underlay receives, the "
			 "other nodes' Geneve included; refused");
		return -EINVAL;
	}
	n = *p;
	xcni_prefix_cut(&n, n.len);
	if (memcmp(n.addr, p->addr, sizeof(n.addr))) {
		snprintf(why, wlen, "host bits set: the /%u network is %s (or give %s/%u for "
			 "the one address)", p->len, xcni_prefix_str(&n, net, sizeof(net)), addr, max);
		return -EINVAL;
	}
	return 0;
}

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

int xcni_npgen_bump(int fd)
{
	__u32 k = 0;
	__u64 gen = 0;

	if (bpf_map_lookup_elem(fd, &k, &gen))
		return -errno;
	gen++;
	return bpf_map_update_elem(fd, &k, &gen, BPF_ANY) ? -errno : 0;
}
