// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/system/cidr.h"
#include "lib/policy/prefilter.h"

/* Clears the host bits of a /len in the n bytes at a; true if any was set. */
static int clear_host(__u8 *a, unsigned int n, unsigned int len)
{
	int set = 0;

	for (unsigned int i = 0; i < n; i++) {
		unsigned int keep = len >= (i + 1) * 8 ? 8 : len > i * 8 ? len - i * 8 : 0;
		__u8 mask = (__u8)(0xff00u >> keep);

		set |= a[i] & ~mask;
		a[i] &= mask;
	}
	return set != 0;
}

/*
 * xcni_cidr_parse reads the prefix (an address alone is its host's; the
 * length as the API server writes it: 1-3 digits); the address alone is
 * read first to say which half is wrong.
 */
int xcni_prefilter_parse(const char *s, struct xcni_pf_prefix *p, char *why, size_t wlen)
{
	const char *sl = strchr(s, '/');
	size_t alen = sl ? (size_t)(sl - s) : strlen(s);
	int v6 = memchr(s, ':', alen) != NULL, family;
	unsigned int max = v6 ? 128 : 32;
	char addr[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN];
	uint8_t a[16], len;

	memset(p, 0, sizeof(*p));
	if (alen >= sizeof(addr) || (snprintf(addr, sizeof(addr), "%.*s", (int)alen, s),
				     xcni_cidr_parse(addr, XCNI_CIDR_BARE, &family, a, &len))) {
		snprintf(why, wlen, v6 ? "not an IPv6 prefix (ADDRESS/LEN)" :
					 "not an IPv4 prefix (A.B.C.D/LEN) nor an IPv6 one (ADDRESS/LEN)");
		return -EINVAL;
	}
	if (xcni_cidr_parse(s, XCNI_CIDR_BARE | XCNI_CIDR_STRICT, &family, a, &len)) {
		snprintf(why, wlen, "bad prefix length \"%s\" (1 to %u)", sl ? sl + 1 : "", max);
		return -EINVAL;
	}
	if (!len) {
		snprintf(why, wlen, "a /0 would drop every packet the underlay receives, the "
			 "other nodes' Geneve included; refused");
		return -EINVAL;
	}
	if (clear_host(a, max / 8, len)) {
		inet_ntop(v6 ? AF_INET6 : AF_INET, a, net, sizeof(net));
		snprintf(why, wlen, "host bits set: the /%u network is %s/%u (or give %s/%u for "
			 "the one address)", len, net, len, addr, max);
		return -EINVAL;
	}
	p->family = v6 ? AF_INET6 : AF_INET;
	if (v6) {
		p->k6.prefixlen = len;
		memcpy(p->k6.addr, a, 16);
	} else {
		p->k4.prefixlen = len;
		memcpy(&p->k4.addr, a, 4);
	}
	return 0;
}

const char *xcni_prefilter_str(const struct xcni_pf_prefix *p, char *buf, size_t len)
{
	if (p->family == AF_INET6)
		return xcni_cidr_str(AF_INET6, p->k6.addr, p->k6.prefixlen, buf, len);
	return xcni_cidr_str(AF_INET, &p->k4.addr, p->k4.prefixlen, buf, len);
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
