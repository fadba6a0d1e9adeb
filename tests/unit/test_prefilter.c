// SPDX-License-Identifier: Apache-2.0
/*
 * The marks a deny-list prefix leaves in the /16 and /24 hashes in front of
 * the trie, against real BPF hash maps (root): every source a prefix covers
 * must find its network marked (or XDP would pass it), and taking prefixes
 * back must leave the hashes as they were. And the deny list's prefixes as
 * people write them, both families: what is taken, what is refused and why.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cmocka.h>

#include "lib/policy/prefilter.h"

static int fd16 = -1, fd24 = -1;

static int setup(void **state)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);

	(void)state;
	fd16 = bpf_map_create(BPF_MAP_TYPE_HASH, "ut_pf16", 4, 4, 65536, &o);
	fd24 = bpf_map_create(BPF_MAP_TYPE_HASH, "ut_pf24", 4, 4, 65536, &o);
	return fd16 < 0 || fd24 < 0 ? -errno : 0;
}

static int teardown(void **state)
{
	(void)state;
	close(fd16);
	close(fd24);
	return 0;
}

static struct xcni_prefilter_key pfx(const char *a, unsigned int len)
{
	struct xcni_prefilter_key k = { .prefixlen = len };

	inet_pton(AF_INET, a, &k.addr);
	return k;
}

static size_t count(int fd)
{
	__u32 k, next, *prev = NULL;
	size_t n = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* What the XDP program does first: is src's /16 or /24 marked? */
static int marked(const char *src)
{
	struct in_addr a;
	__u32 net, v;

	inet_pton(AF_INET, src, &a);
	net = a.s_addr & htonl(XCNI_PF16_MASK);
	if (bpf_map_lookup_elem(fd16, &net, &v) == 0)
		return 1;
	net = a.s_addr & htonl(XCNI_PF24_MASK);
	return bpf_map_lookup_elem(fd24, &net, &v) == 0;
}

static void test_marks_cover_every_source(void **state)
{
	struct xcni_prefilter_key p8 = pfx("10.0.0.0", 8), p20 = pfx("172.16.16.0", 20),
				  p28 = pfx("192.0.2.64", 28), p32 = pfx("198.51.100.7", 32);

	(void)state;
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p8, 1), 0);
	assert_int_equal(count(fd16), 256); /* a /8 is 256 /16s */
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p20, 1), 0);
	assert_int_equal(count(fd24), 16); /* a /20 is 16 /24s */
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p28, 1), 0);
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p32, 1), 0);
	assert_int_equal(count(fd24), 18);
	assert_true(marked("10.0.0.1"));
	assert_true(marked("10.255.255.255"));
	assert_true(marked("172.16.16.0"));
	assert_true(marked("172.16.31.255"));
	assert_false(marked("172.16.32.0"));
	assert_true(marked("192.0.2.70"));
	assert_true(marked("198.51.100.7"));
	assert_false(marked("11.0.0.1"));
	assert_false(marked("203.0.113.9"));
	/* A second prefix in the same /24: the mark stays until both are gone. */
	struct xcni_prefilter_key p32b = pfx("198.51.100.9", 32);

	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p32b, 1), 0);
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p32, -1), 0);
	assert_true(marked("198.51.100.9"));
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p32b, -1), 0);
	assert_false(marked("198.51.100.9"));
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p8, -1), 0);
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p20, -1), 0);
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p28, -1), 0);
	assert_int_equal(count(fd16), 0);
	assert_int_equal(count(fd24), 0);
}

static void test_bad_length_refused(void **state)
{
	struct xcni_prefilter_key p0 = pfx("0.0.0.0", 0), p33 = pfx("1.2.3.4", 33);

	(void)state;
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p0, 1), -EINVAL);
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p33, 1), -EINVAL);
	assert_int_equal(count(fd16) + count(fd24), 0);
}

/* What s parses to, refused or not. */
static struct xcni_prefix parsed(const char *s)
{
	struct xcni_prefix p;
	char why[192] = "";

	if (xcni_prefilter_parse(s, &p, why, sizeof(why)))
		fail_msg("%s: refused: %s", s, why);
	return p;
}

/* s parses; it prints back as want (family af, length len). */
static void parses(const char *s, int af, unsigned int len, const char *want)
{
	struct xcni_prefix p = parsed(s), q;
	char why[192] = "", buf[64];

	assert_int_equal(p.family, af == AF_INET6 ? 6 : 4);
	assert_int_equal(p.len, len);
	assert_string_equal(xcni_prefix_str(&p, buf, sizeof(buf)), want);
	/* What it prints parses to the same key. */
	assert_int_equal(xcni_prefilter_parse(buf, &q, why, sizeof(why)), 0);
	assert_memory_equal(&p, &q, sizeof(p));
}

/* s is refused, the reason holding frag. */
static void refused(const char *s, const char *frag)
{
	struct xcni_prefix p;
	char why[192] = "";

	assert_int_equal(xcni_prefilter_parse(s, &p, why, sizeof(why)), -EINVAL);
	if (!strstr(why, frag))
		fail_msg("%s: reason \"%s\" lacks \"%s\"", s, why, frag);
}

static void test_parse_ipv4(void **state)
{
	(void)state;
	parses("10.1.0.0/16", AF_INET, 16, "10.1.0.0/16");
	parses("192.168.7.7", AF_INET, 32, "192.168.7.7/32");
	parses("203.0.113.128/25", AF_INET, 25, "203.0.113.128/25");
	assert_int_equal(*(uint32_t *)parsed("10.1.2.0/24").addr, htonl(0x0a010200));
	refused("10.1.2.3/24", "host bits set: the /24 network is 10.1.2.0/24 (or give 10.1.2.3/32");
	refused("10.1.2.0/33", "bad prefix length \"33\" (1 to 32)");
	refused("10.1.2.0/", "bad prefix length");
	refused("10.1.2.0/-8", "bad prefix length");
	refused("10.1.2.0/+8", "bad prefix length");
	refused("10.1.2.0/ 8", "bad prefix length");
	refused("10.1.2.0/0008", "bad prefix length");
	refused("0.0.0.0/0", "a /0 would drop every packet");
	refused("foo", "not an IPv4 prefix");
	refused("10.1.2/24", "not an IPv4 prefix");
	refused("", "not an IPv4 prefix");
}

static void test_parse_ipv6(void **state)
{
	struct xcni_prefix p;

	(void)state;
	parses("2001:db8::/32", AF_INET6, 32, "2001:db8::/32");
	parses("2001:db8:1:2::7", AF_INET6, 128, "2001:db8:1:2::7/128");
	parses("2001:DB8:0:0::/64", AF_INET6, 64, "2001:db8::/64"); /* printed the short way */
	parses("fd00:10:244:2::/63", AF_INET6, 63, "fd00:10:244:2::/63");
	refused("fd00:10:244:1::/63", "host bits set: the /63 network is fd00:10:244::/63");
	parses("2001:db8::8000/113", AF_INET6, 113, "2001:db8::8000/113");
	parses("::ffff:192.0.2.0/120", AF_INET6, 120, "::ffff:192.0.2.0/120");
	p = parsed("2001:db8:ff00::/40");
	assert_int_equal(p.addr[0], 0x20);
	assert_int_equal(p.addr[4], 0xff);
	assert_int_equal(p.addr[5], 0);
	refused("2001:db8::1/64", "host bits set: the /64 network is 2001:db8::/64 (or give "
				  "2001:db8::1/128");
	/* A bit in the middle of a byte: /113 keeps the top bit of byte 14 only. */
	refused("2001:db8::4000/113", "host bits set: the /113 network is 2001:db8::/113");
	refused("2001:db8::/129", "bad prefix length \"129\" (1 to 128)");
	refused("2001:db8::/", "bad prefix length");
	refused("::/0", "a /0 would drop every packet");
	refused("2001:db8:::/48", "not an IPv6 prefix");
	refused("2001:db8::g/48", "not an IPv6 prefix");
	refused("[2001:db8::]/48", "not an IPv6 prefix");
	refused("2001:0db8:0000:0000:0000:0000:0000:0000:0000/48", "not an IPv6 prefix");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marks_cover_every_source),
		cmocka_unit_test(test_bad_length_refused),
		cmocka_unit_test(test_parse_ipv4),
		cmocka_unit_test(test_parse_ipv6),
	};

	return cmocka_run_group_tests_name("prefilter", tests, setup, teardown);
}
