/* SPDX-License-Identifier: Apache-2.0 */
/* IPv4 and IPv6 prefixes, one way for every tool. */
#ifndef XCNI_CIDR_H
#define XCNI_CIDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The netmask of a /len (0..32), in host order. */
static inline uint32_t xcni_prefix_mask(unsigned int len)
{
	return len ? ~0u << (32 - len) : 0;
}

/* Whether ip is in net/len (both network order; len 0..32, a larger one never). */
static inline int xcni_in_prefix4(uint32_t ip, uint32_t net, unsigned int len)
{
	return len <= 32 && !((ntohl(ip) ^ ntohl(net)) & xcni_prefix_mask(len));
}

/* Clears the host bits of a /len (0..128) IPv6 address in place. */
static inline void cidr6_mask(uint8_t *a, unsigned int len)
{
	for (unsigned int i = 0; i < 16; i++) {
		unsigned int keep = len >= (i + 1) * 8 ? 8 : len > i * 8 ? len - i * 8 : 0;

		a[i] &= (uint8_t)(0xff00u >> keep);
	}
}

/*
 * "A.B.C.D/LEN", LEN 0..32: the address as written (network order, host bits
 * kept: an interface address and its network are both CIDRs) and LEN.
 * 0 or -EINVAL.
 */
int xcni_cidr4_parse(const char *s, uint32_t *addr, uint8_t *len);
/* The same for IPv6: "ADDR/LEN", LEN 0..128. 0 or -EINVAL. */
int xcni_cidr6_parse(const char *s, struct in6_addr *addr, uint8_t *len);

/*
 * A prefix of either family, the one type every tool keeps prefixes in: IPv4
 * in addr[0..4) (network order) with the rest zero, IPv6 in all 16. Map keys
 * keep their own layouts and convert at the edge.
 */
struct xcni_prefix {
	uint8_t family; /* 4 or 6 */
	uint8_t len;
	uint8_t addr[16];
};

/* How xcni_prefix_parse reads. */
enum {
	XCNI_CIDR_BARE = 1 << 0,   /* an address alone is its host prefix (/32, /128) */
	XCNI_CIDR_STRICT = 1 << 1, /* LEN as the API server writes it: 1-3 digits, no leading 0 */
	XCNI_CIDR_NET = 1 << 2,    /* host bits cleared (the network) */
};

/* "ADDR/LEN" of either family (FLAGS: XCNI_CIDR_*) into p. 0 or -EINVAL. */
int xcni_prefix_parse(const char *s, unsigned int flags, struct xcni_prefix *p);
/* A host's prefix: ip (network order) when ip6 is NULL, else ip6's 16 bytes. */
struct xcni_prefix xcni_prefix_host(uint32_t ip, const uint8_t *ip6);
/* p cut to its first len bits (len <= p->len; p->len itself clears the host bits). */
void xcni_prefix_cut(struct xcni_prefix *p, unsigned int len);
/* Whether p is inside q: the same family, at least as long, q's network bits equal. */
bool xcni_prefix_inside(const struct xcni_prefix *p, const struct xcni_prefix *q);
/* IPv4 first, then by address, then the wider first (it covers the narrower). */
int xcni_prefix_cmp(const void *a, const void *b);
/* Host bits cleared, sorted (xcni_prefix_cmp), duplicates and those inside another
 * dropped (adjacent prefixes are not merged). Returns the new count. */
size_t xcni_prefix_normalize(struct xcni_prefix *p, size_t n);
/* p as "ADDR/LEN" in buf. */
const char *xcni_prefix_str(const struct xcni_prefix *p, char *buf, size_t size);

/* addr (4 bytes, network order, or 16 for af AF_INET6) and len as "ADDR/LEN" in buf. */
const char *xcni_cidr_str(int af, const void *addr, unsigned int len, char *buf, size_t size);
/* An IPv4 address in network order as text in buf (16 bytes: INET_ADDRSTRLEN). */
const char *xcni_ip4_str(uint32_t ip, char buf[16]);

#endif
